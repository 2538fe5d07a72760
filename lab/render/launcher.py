"""``lab.watch()`` from a notebook: the pygame window runs in its own process.

A pygame window driven from inside a Jupyter kernel freezes (Gymnasium issues
543 and 720), so the kernel only starts ``python -m lab watch`` and returns at
once. Without a display it says so and shows the episode inline as a GIF.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.render.window import check_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def has_display(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """False when SDL is told to draw nowhere, or on Linux/BSD with neither X11 nor Wayland.

    The one display check: the watch launcher and the notebooks' setup line (``lab.notebook``) both ask it.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if environ.get("SDL_VIDEODRIVER", "").lower() in ("dummy", "offscreen"):
        return False
    if platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return True  # macOS and Windows always have a desktop


class WatchProcess:
    """The running window: poll it, wait for it, stop it, or read its log."""

    def __init__(self, popen: subprocess.Popen, command: list[str], log_path: Path) -> None:
        self.popen, self.command, self.log_path = popen, command, log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def stop(self, timeout: float = 5.0) -> int:
        """Close the window (SIGTERM, then SIGKILL if it does not go)."""
        if self.running:
            self.popen.terminate()
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait()

    def log(self) -> str:
        """What the window process printed (errors land here, not in the notebook)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited with {self.returncode}"
        return f"<WatchProcess pid={self.pid} {state}>"


def watch(policy_or_checkpoint: Any = None, episodes: int | None = None, seed: int | None = None,
          speed: float = 1.0, fps: float = 50, block: bool = False, window: bool | None = None) -> WatchProcess | Path:
    """Open the watch window in a separate process and return its handle at once (or wait, with block=True).

    ``policy_or_checkpoint``: None (the pretrained agent), a checkpoint path, 'heuristic',
    or a Policy made from a torch actor (saved to a temp policy file for the window).
    Without a display (or with window=False) it says so in one sentence, shows the
    episode inline as a GIF when running under IPython, and returns the GIF's path.
    """
    check_settings(episodes, speed, fps)
    if seed is None:  # the evaluation seeds, as `python -m lab watch` flies by default
        from lab.config import RunConfig

        seed = RunConfig().eval_seed
    if window is None:
        window = has_display()
    if not window:
        return _inline(policy_or_checkpoint, seed)
    target = _checkpoint_argument(policy_or_checkpoint)
    command = [sys.executable, "-m", "lab", "watch", *([target] if target else []), "--seed", str(int(seed)),
               "--speed", str(float(speed)), "--fps", str(float(fps))]
    if episodes is not None:
        command += ["--episodes", str(int(episodes))]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    log_path = Path(tempfile.mkdtemp(prefix="lander-watch-")) / "watch.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
    handle = WatchProcess(popen, command, log_path)
    if block:
        handle.wait()
    return handle


def _checkpoint_argument(policy: Any) -> str | None:
    """What to pass on the window's command line; a live Policy is saved to a temp policy file first."""
    from lab.render.episode import PILOT_NAMES

    if policy is None:
        from lab.policy import PRETRAINED_POLICY

        if not PRETRAINED_POLICY.exists():  # fail here, in the notebook, not silently in the window's process
            raise FileNotFoundError(f"the pretrained agent {str(PRETRAINED_POLICY)!r} is missing; pass a checkpoint, "
                                    "or 'heuristic' for Gymnasium's reference pilot")
        return None
    if isinstance(policy, (str, Path)):
        if str(policy).lower() in PILOT_NAMES:
            return str(policy).lower()
        if not Path(policy).exists():
            raise FileNotFoundError(f"checkpoint {str(policy)!r} does not exist")
        return str(Path(policy).resolve())
    name = str(getattr(policy, "name", ""))
    if name in PILOT_NAMES:
        return name
    if Path(name).is_file():
        return str(Path(name).resolve())  # loaded from a file: the window can load the same file
    if getattr(policy, "actor", None) is None:
        raise TypeError(f"cannot open {policy!r} in a window process: only checkpoints, 'heuristic', 'random' and "
                        "policies made from a torch actor can be passed to another process")
    from lab.checkpoint import save_policy

    path = Path(tempfile.mkdtemp(prefix="lander-watch-")) / "policy.pt"
    save_policy(policy, path)
    return str(path)


def _inline(policy: Any, seed: int) -> Path:
    """No window possible: say so once, then show the episode as an inline GIF."""
    from lab.render.gif import export_gif

    print("No display is available here, so instead of a window the episode is shown below as a GIF.")
    out = Path(tempfile.mkdtemp(prefix="lander-watch-")) / f"lander-seed{int(seed)}.gif"
    [path] = export_gif(policy, out, episodes=1, seed=seed)
    _show_inline(path)
    return path


def _show_inline(path: Path) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is not None:
        display(Image(filename=str(path)))
