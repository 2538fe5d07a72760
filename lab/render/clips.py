"""Evaluation clips: at each evaluation, one short GIF of the deterministic policy on a fixed seed.

A run's clips show how its agent learned ("5k steps: crashed ... 35k steps: landed
softly"). They are kept small (a few hundred KB per run): frames are downscaled,
only every few steps are kept, long episodes are thinned to ``max_frames`` and the
palette has 32 colours. Each clip is labelled with its step and the behavior
analyzer's outcome of the very episode it shows.

Layout in the run folder::

    clips/step_000005000.gif     one clip per evaluation, written atomically
    clips/index.json             step, outcome, return, length, frames and bytes of each clip

A clip is only ever read from inside its clips/ folder: an index entry naming another
folder, an absolute path, ``..`` or a link that leads out is refused and reported, so a
run folder from elsewhere cannot make ``gif --progression`` or ``report`` read other files.

``ClipRecorder`` is a trainer event subscriber, so the trainer needs no change;
``attach_clip_recorders(engine)`` wires one up per agent. Nothing records clips unless it is attached.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lab.events import Evaluated
from lab.io import quoted, shown
from lab.render.gif import add_caption, downscale, human, montage, read_gif, write_gif

log = logging.getLogger(__name__)

CLIPS_DIR = "clips"
INDEX = "index.json"
CLIP_SCALE = 1 / 3  # 600x400 -> 200x133
CLIP_EVERY = 4  # keep every 4th simulation step
CLIP_MAX_FRAMES = 80  # longer episodes keep fewer steps, so a 1000-step hover stays small
CLIP_FPS = 15.0
CLIP_COLORS = 32
MONTAGE_MAX_CLIPS = 9  # a 3x3 grid
MONTAGE_MAX_BYTES = 3_000_000
MONTAGE_COLORS = 64


class NoClips(ValueError):
    """A run folder without evaluation clips (a report simply has no montage then)."""


@dataclass(frozen=True)
class Clip:
    """One evaluation clip, as index.json lists it."""

    env_step: int
    file: str
    caption: str
    outcome: str | None
    """The analyzer's Outcome value (e.g. LANDED_SOFTLY), or None when the analyzer was unavailable."""
    episode_return: float
    length: int
    frames: int
    bytes: int
    seed: int


@dataclass(frozen=True)
class ClipSaved:
    """Published on the trainer's event bus after a clip is written (TensorBoard and the panel show it)."""

    env_step: int
    path: str
    caption: str
    outcome: str | None
    frames: np.ndarray
    """(T, H, W, 3) uint8, the frames as written."""
    fps: float


def steps_label(step: int) -> str:
    """5000 -> '5k', 1500 -> '1.5k', 1200000 -> '1.2M', 500 -> '500'."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if step >= size:
            return f"{step / size:.1f}".rstrip("0").rstrip(".") + suffix
    return str(step)


def clip_caption(env_step: int, outcome: str | None, episode_return: float) -> str:
    """'35k steps: landed softly', or the return when there is no outcome."""
    what = human(outcome) if outcome else f"return {episode_return:+.0f}"
    return f"{steps_label(env_step)} steps: {what}"


class ClipRecorder:
    """On each Evaluated event, fly the current policy once on ``seed`` and save the clip.

    ``policy_source`` is called at that moment (on the training thread, so reading the
    trainer's actor is safe). ``publish`` receives a ClipSaved event after each write.
    Existing clips in the folder (a resumed run) are kept and extended.
    """

    def __init__(self, clips_dir: str | Path, policy_source: Callable[[], Any], seed: int = 10_000,
                 env_id: str = "LunarLanderContinuous-v3", max_episode_steps: int = 0, every: int = CLIP_EVERY,
                 scale: float = CLIP_SCALE, max_frames: int = CLIP_MAX_FRAMES, fps: float = CLIP_FPS,
                 publish: Callable[[Any], None] | None = None) -> None:
        for name, value, low in (("every", every, 1), ("max_frames", max_frames, 2)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"ClipRecorder {name} must be an integer >= {low}, got {value!r}")
        if not 0.1 <= float(scale) <= 1.0:
            raise ValueError(f"ClipRecorder scale must be between 0.1 and 1.0, got {scale!r}")
        self.clips_dir = Path(clips_dir)
        self.policy_source = policy_source
        self.seed, self.env_id, self.max_episode_steps = int(seed), env_id, int(max_episode_steps)
        self.every, self.scale, self.max_frames, self.fps = every, float(scale), max_frames, float(fps)
        self.publish = publish
        self.clips: list[Clip] = load_clips(self.clips_dir) if self.clips_dir.is_dir() else []

    def __call__(self, event: Any) -> None:
        if isinstance(event, Evaluated):
            try:
                self.record(int(event.env_step))
            except OSError as exc:  # a clip is a nicety: a full disk or a read-only folder gets one line, not a trace
                where = f"{quoted(exc.filename)}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
                log.warning("the evaluation clip at step %s was not saved: %s", event.env_step, where)

    def record(self, env_step: int) -> Clip:
        """Fly, label, write the GIF and then the index (both atomically); return the clip."""
        frames, outcome, episode_return, length = self._fly(self.policy_source())
        caption = clip_caption(env_step, outcome, episode_return)
        frames = [add_caption(f, caption) for f in frames]
        path = write_gif(frames, self.clips_dir / clip_name(env_step), self.fps,
                         caption=f"{caption} · seed {self.seed} · return {episode_return:+.1f}", colors=CLIP_COLORS)
        clip = Clip(env_step=env_step, file=path.name, caption=caption, outcome=outcome,
                    episode_return=round(episode_return, 3), length=length, frames=len(frames),
                    bytes=path.stat().st_size, seed=self.seed)
        self.clips = sorted([c for c in self.clips if c.env_step != env_step] + [clip], key=lambda c: c.env_step)
        write_index(self.clips_dir, self.clips)
        if self.publish is not None:
            self.publish(ClipSaved(env_step=env_step, path=str(path), caption=caption, outcome=outcome,
                                   frames=np.stack(frames), fps=self.fps))
        return clip

    def _fly(self, policy: Any) -> tuple[list[np.ndarray], str | None, float, int]:
        from lab.render.episode import Flight, analyze, run_episode

        flight = Flight(self.seed, render=True, env_id=self.env_id, max_episode_steps=self.max_episode_steps)
        try:
            record = run_episode(policy, seed=self.seed, every=self.every, flight=flight,
                                 frame_fn=lambda frame, _: downscale(frame, self.scale))
        finally:
            flight.close()
        report = analyze(record)
        outcome = None if report is None else str(getattr(report.outcome, "value", report.outcome))
        return thin(record.frames, self.max_frames), outcome, record.ret, record.length

    @property
    def total_bytes(self) -> int:
        return sum(c.bytes for c in self.clips)


def attach_clip_recorders(engine: Any, **options: Any) -> list[ClipRecorder]:
    """Record a clip at each evaluation of every agent of a lab.Trainer or lab.Population, into the agent's own
    run folder (RUN/clips, or RUN/agentK_seedS/clips), on its evaluation seed.

    The clip flies the same env (id and time limit) as the evaluations; ClipSaved events go to the agent's own
    bus (and so, tagged, to the engine's). ``options`` are ClipRecorder's (every, scale, max_frames, fps).
    """
    recorders = []
    for slot in engine.slots:
        cfg = slot.config
        recorder = ClipRecorder(Path(slot.run_dir) / CLIPS_DIR, functools.partial(engine.agent_policy, slot.index),
                                seed=cfg.run.eval_seed, env_id=cfg.env.env_id,
                                max_episode_steps=cfg.env.max_episode_steps, publish=slot.events.publish, **options)
        slot.events.subscribe(recorder, Evaluated)
        recorders.append(recorder)
    return recorders


def thin(frames: list[np.ndarray], max_frames: int) -> list[np.ndarray]:
    """At most max_frames, evenly spaced, always keeping the first and the last (how it ended)."""
    if len(frames) <= max_frames:
        return list(frames)
    stride = math.ceil((len(frames) - 1) / (max_frames - 1))
    kept = frames[:-1:stride]
    return [*kept[:max_frames - 1], frames[-1]]


def clip_name(env_step: int) -> str:
    return f"step_{env_step:09d}.gif"


def write_index(clips_dir: Path, clips: list[Clip]) -> Path:
    from lab.io import atomic_write_json

    return atomic_write_json(clips_dir / INDEX, {"version": 1, "clips": [asdict(c) for c in clips]})


def load_clips(clips_dir: str | Path, on_refused: Callable[[str], None] | None = None) -> list[Clip]:
    """The clips in a folder, by step: index.json's entries, plus any GIF the index missed (a crash between writes).

    A clip whose GIF is gone is dropped; a damaged index is rebuilt from the GIFs' names and comments.
    A clip whose file would lie outside the folder is dropped too, and ``on_refused`` hears why.
    """
    clips_dir = Path(clips_dir)
    listed: dict[str, Clip] = {}
    refused: set[str] = set()
    try:
        data = json.loads((clips_dir / INDEX).read_text())
        for row in data.get("clips", []):
            clip = Clip(**{k: row[k] for k in Clip.__dataclass_fields__})
            listed[clip.file] = clip
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    clips: list[Clip] = []
    for name, clip in listed.items():
        try:
            if clip_path(clips_dir, name).is_file():
                clips.append(clip)
        except ValueError as exc:
            refused.add(name)
            if on_refused is not None:
                on_refused(f"{CLIPS_DIR}/{INDEX}: {exc}")
    for path in sorted(clips_dir.glob("step_*.gif")):
        if path.name in listed or path.name in refused or not path.stem[5:].isdigit():
            continue
        try:
            clips.append(_clip_from_gif(clip_path(clips_dir, path.name)))
        except ValueError as exc:
            if on_refused is not None:
                on_refused(f"{CLIPS_DIR}/: {exc}")
    return sorted(clips, key=lambda c: c.env_step)


def clip_path(clips_dir: Path, name: object) -> Path:
    """The clip file ``name`` inside clips_dir; a name or link that leads anywhere else is refused (ValueError)."""
    if (not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name or "\\" in name
            or "\0" in name):
        raise ValueError(f"clip path {name!r} refused: allowed a file name inside {CLIPS_DIR}/")
    path = clips_dir / name
    try:
        target, home = path.resolve(), clips_dir.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ValueError(f"clip path {name!r} refused: it cannot be resolved ({exc})") from exc
    if not target.is_relative_to(home):
        raise ValueError(f"clip path {name!r} refused: it is a link to {quoted(target)}, outside {CLIPS_DIR}/")
    return path


def _clip_from_gif(path: Path) -> Clip:
    from PIL import Image

    with Image.open(path) as image:
        comment = image.info.get("comment", b"")
        frames = getattr(image, "n_frames", 1)
    text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
    step = int(path.stem.split("_", 1)[1])
    return Clip(env_step=step, file=path.name, caption=text.split(" · ")[0] or f"{steps_label(step)} steps",
                outcome=None, episode_return=float("nan"), length=0, frames=frames, bytes=path.stat().st_size,
                seed=-1)


# ---- the progression montage ----------------------------------------------------------------------------
def run_clips(run_dir: str | Path, on_refused: Callable[[str], None] | None = None) -> list[Clip]:
    """A run's clips, or a clear error when the folder is not a run or holds none (NoClips).

    ``on_refused`` hears of each clip refused for lying outside the run's clips/ folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {quoted(run_dir)} does not exist")
    clips_dir = run_dir / CLIPS_DIR
    clips: list[Clip] = []
    if clips_dir.is_dir():
        if clips_dir.resolve().is_relative_to(run_dir.resolve()):
            clips = load_clips(clips_dir, on_refused)
        elif on_refused is not None:
            on_refused(f"{CLIPS_DIR}/ refused: it is a link to {quoted(clips_dir.resolve())}, outside the run folder")
    if not clips:
        raise NoClips(f"run folder {quoted(run_dir)} has no evaluation clips ({CLIPS_DIR}/step_*.gif); "
                      "they are recorded at each evaluation when clips are on (the default of "
                      "`python -m lab train`)")
    return clips


def pick(clips: list[Clip], count: int) -> list[Clip]:
    """count clips spread over training: the first, the last, each one whose outcome differs from the one before
    (where the story changes), then the clips farthest from those already picked."""
    n = len(clips)
    if n <= count:
        return list(clips)
    turns = [0, *(i for i in range(1, n) if clips[i].outcome != clips[i - 1].outcome), n - 1]
    turns = sorted(set(turns))
    if len(turns) > count:
        turns = [turns[i] for i in np.linspace(0, len(turns) - 1, num=count).round().astype(int)]
    chosen = set(turns)
    while len(chosen) < count:
        chosen.add(max((i for i in range(n) if i not in chosen), key=lambda i: min(abs(i - j) for j in chosen)))
    return [clips[i] for i in sorted(chosen)]


def write_progression(run_dir: str | Path, out: str | Path, max_clips: int = MONTAGE_MAX_CLIPS,
                      fps: float = CLIP_FPS, max_bytes: int = MONTAGE_MAX_BYTES,
                      on_refused: Callable[[str], None] | None = None) -> Path:
    """One GIF tiling up to max_clips clips from first to last evaluation, each captioned, under max_bytes.

    A montage over the limit is written again with fewer frames (each shown longer), until it fits.
    ``on_refused`` hears of clips refused for lying outside the run's clips/ folder.
    """
    if not isinstance(max_clips, int) or isinstance(max_clips, bool) or max_clips < 1:
        raise ValueError(f"max_clips must be an integer >= 1, got {max_clips!r}")
    out = Path(out)
    if out.suffix.lower() != ".gif":
        raise ValueError(f"--out {quoted(out)} must end with .gif (the progression montage is a GIF)")
    run_dir = Path(run_dir)
    chosen = pick(run_clips(run_dir, on_refused), max_clips)
    tiles = [read_gif(run_dir / CLIPS_DIR / c.file)[0] for c in chosen]
    title = f"{shown(run_dir.resolve().name)}: {chosen[0].caption.split(':')[0]} to {chosen[-1].caption.split(':')[0]}"
    frames = [add_caption(f, title) for f in montage(tiles)]
    comment = " ... ".join(c.caption for c in chosen)
    draft = out.with_name(f".{out.name}.draft.gif")  # an older montage stays until this one fits
    kept, stride = frames, 1
    try:
        while True:
            size = write_gif(kept, draft, fps / stride, caption=comment, colors=MONTAGE_COLORS).stat().st_size
            if size <= max_bytes or len(kept) <= 2:
                break
            stride = max(stride + 1, math.ceil(stride * size / max_bytes * 1.1))  # size is about linear in frames
            kept = [*frames[:-1:stride], frames[-1]]
        if size > max_bytes:
            raise ValueError(f"the montage of {str(run_dir)!r} is {size:,} bytes, over the {max_bytes:,}-byte "
                             f"limit even at {len(kept)} frames; use fewer clips (max_clips)")
        os.replace(draft, out)
    finally:
        draft.unlink(missing_ok=True)
    return out


_CAPTION = re.compile(r"\d+(\.\d+)?[kM]? steps")
"""How every clip caption, and so every progression montage's comment, begins: '35k steps: landed softly'."""


def check_montage_replaceable(path: str | Path) -> None:
    """Refuse to write a progression montage over a file that is not one (a report writes learning.gif)."""
    from PIL import Image, UnidentifiedImageError

    from lab.io import ForeignFileError

    path = Path(path)
    if not path.exists():
        return
    comment: object = b""
    try:
        with Image.open(path) as image:
            ours = image.format == "GIF"
            comment = image.info.get("comment", b"")
    except (OSError, UnidentifiedImageError, ValueError):
        ours = False
    text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
    if not (ours and _CAPTION.match(text)):
        raise ForeignFileError(f"{quoted(path)} exists and is not a progression montage the lab wrote: refusing "
                               "to replace it; choose another --out or move that file away")
