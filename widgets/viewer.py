"""``EpisodeViewer``: pick a recorded episode, play it inline, read why it ended that way.

Episodes are stored as (seed, actions), not as video: LunarLander is deterministic
given its seed and actions, so the viewer re-flies the saved actions in an
``rgb_array`` env to get the frames, and checks the replay ends where the recording
did. The frames go to an ``ipywidgets.Image``; a ``Play`` control and a frame slider
drive it (linked in the browser, so playing needs one kernel round trip per frame
and no more). The analyzer's report sits beside the picture.

What the agent values: when the policy that flew the episodes has a critic, each frame's
HUD shows the critic's Q(s, a) for the shown state and the action taken there (TD3's
min of the twins) and the actor's two engine commands, and a chart under the picture
traces Q over the whole episode beside the discounted return that really followed, so
the value can be seen dropping before a crash. One critic pass per episode, off any
training thread; a policy file without a critic says so instead.
"""

from __future__ import annotations

import html
import io
import math
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from lab.events import Trajectory

CACHED_EPISODES = 3
"""Episodes whose frames stay in memory (a 1,000-step episode at every=2 and scale=0.5 is ~90 MB)."""


@dataclass
class RecordedEpisode:
    """One episode the viewer can replay."""

    seed: int
    trajectory: Trajectory
    ret: float
    report: Any = None
    """The analyzer's BehaviorReport, when known."""

    @property
    def outcome(self) -> str:
        return str(getattr(getattr(self.report, "outcome", None), "value", "—"))

    @property
    def label(self) -> str:
        return f"seed {self.seed} · return {self.ret:.1f} · {self.outcome} · {len(self.trajectory.actions)} steps"


@dataclass
class Replay:
    """Frames of a re-flown episode, and whether the replay matched the recording."""

    frames: list[np.ndarray]
    steps: list[int]
    matched: bool
    readouts: list[Any] | None = None
    """The value overlay drawn on each frame (``lab.render.hud.ValueReadout``), when there is one."""


@dataclass(frozen=True)
class EpisodeValues:
    """What a policy's critic makes of one recorded episode: Q(s_t, a_t) for every step taken."""

    q: np.ndarray | None
    """(T,) min(Q1, Q2) at each step's state and action; None without a critic."""
    twins: np.ndarray | None
    """(T, 2) both critics' estimates."""
    discounted_return: np.ndarray
    """(T,) the discounted sum of the rewards that really followed each step, what Q tries to predict."""
    gamma: float
    note: str = ""
    """Why there is no Q."""

    def readout(self, actions: np.ndarray, step: int) -> Any:
        """The overlay for the frame after ``step`` steps: that state, the action taken there (the last one at
        the end)."""
        from lab.render.hud import ValueReadout

        t = min(int(step), len(actions) - 1)
        main, side = (float(v) for v in actions[t])
        if self.q is None:
            return ValueReadout(main, side, None, self.note)
        return ValueReadout(main, side, float(self.q[t]), "", tuple(float(v) for v in self.q[: t + 1]))


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, backwards from the episode's end (0 after it)."""
    out = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + gamma * running
        out[t] = running
    return out


def episode_values(policy: Any, trajectory: Trajectory, gamma: float | None = None) -> EpisodeValues:
    """One critic pass over the episode: Q of every (state, action) it took, and the return that followed."""
    if gamma is None:
        gamma = float(((getattr(policy, "metadata", {}) or {}).get("config") or {}).get("training", {})
                      .get("gamma", 0.99))
    actions = np.asarray(trajectory.actions, dtype=np.float32)
    states = np.asarray(trajectory.observations, dtype=np.float32)[: len(actions)]
    following = discounted_returns(np.asarray(trajectory.rewards, dtype=np.float64), gamma)
    reason = getattr(policy, "no_critic_reason", "no critic")
    if reason is not None or len(actions) == 0:
        return EpisodeValues(None, None, following, gamma, str(reason or "no steps to value"))
    twins = np.asarray(policy.q_values(states, actions), dtype=np.float64)
    return EpisodeValues(twins.min(axis=1), twins, following, gamma)


def replay(episode: RecordedEpisode, every: int = 2, hud: bool = True, scale: float = 0.5,
           values: EpisodeValues | None = None) -> Replay:
    """Re-fly an episode's actions from its seed; keep every ``every``-th step (and the last) at ``scale``.

    With ``values`` (and the HUD on) each frame also shows what the agent values there.
    """
    from lab.render.episode import Flight
    from lab.render.gif import downscale

    flight = Flight(episode.seed, render=True)
    traj = episode.trajectory
    frames: list[np.ndarray] = []
    steps: list[int] = []
    readouts: list[Any] = []
    total = len(traj.actions)
    actions = np.asarray(traj.actions, dtype=np.float32)

    def keep(frame: np.ndarray) -> None:
        frame = downscale(frame, scale)  # first, so a long episode holds ~180 KB per frame, not 720 KB
        readout = values.readout(actions, flight.steps) if values is not None and total else None
        if hud:
            frame = _hud(frame, flight, episode, last=flight.steps == total, value=readout)
        frames.append(frame)
        steps.append(flight.steps)
        readouts.append(readout)

    try:
        keep(flight.frame())
        for t, action in enumerate(traj.actions):
            flight.step(action)
            frame = flight.frame()  # render every step: the env ages its flame particles in render()
            if (t + 1) % every == 0 or t + 1 == total or flight.done:
                keep(frame)
            if flight.done:
                break
        final = flight.observations[-1]
    finally:
        flight.close()
    matched = flight.steps == total and bool(np.allclose(final, traj.observations[-1], atol=1e-4))
    return Replay(frames, steps, matched, readouts if values is not None else None)


def _hud(frame: np.ndarray, flight: Any, episode: RecordedEpisode, last: bool, value: Any = None) -> np.ndarray:
    try:
        from lab.render.hud import hud_frame
    except ImportError:  # pragma: no cover - the HUD is a nicety
        return frame
    return hud_frame(frame, flight.obs, flight.last_action, flight.steps, flight.ret, 1, episode.report,
                     show_verdict=last, value=value)


def with_true_start(episode: RecordedEpisode) -> RecordedEpisode:
    """The episode with its first observation checked against a fresh reset from its seed.

    ``lab.evaluation`` (as of this writing) stores the final observation in row 0 of each
    evaluation trajectory, which misleads the analyzer (it sees the legs down at step 0). A
    reset is cheap and exact, so the viewer puts the true start back and re-analyzes; a
    correct trajectory passes through unchanged.
    """
    import gymnasium as gym

    from lab.render.episode import ENV_ID

    env = gym.make(ENV_ID)
    try:
        start = np.asarray(env.reset(seed=episode.seed)[0], dtype=np.float32)
    finally:
        env.close()
    traj = episode.trajectory
    if np.allclose(start, traj.observations[0], atol=1e-6):
        return episode
    fixed = Trajectory(np.concatenate([start[None], traj.observations[1:]]), traj.actions, traj.rewards,
                       traj.terminated, traj.truncated)
    report = episode.report
    if report is not None:
        from lab.lander.behavior import BehaviorAnalyzer

        report = BehaviorAnalyzer().analyze_trajectory(fixed)
    return RecordedEpisode(episode.seed, fixed, episode.ret, report)


def to_png(frame: np.ndarray) -> bytes:
    from PIL import Image

    image = Image.fromarray(np.asarray(frame, dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


class EpisodeViewer:
    """Inline playback of recorded episodes with the analyzer's report and GIF/window export.

    >>> EpisodeViewer.from_policy(load_policy(), episodes=3)      # fly and show
    >>> EpisodeViewer.from_run("runs/20250101-120000_fast")      # a run's last evaluation
    >>> panel.viewer()                                            # the live run's last evaluation
    """

    def __init__(self, episodes: Sequence[RecordedEpisode], policy: Any = None, fps: int = 25, every: int = 2,
                 scale: float = 0.5, hud: bool = True, title: str = "", values: bool = True) -> None:
        """values: show what the policy's critic makes of each frame (overlay and Q trace) when a policy is known."""
        if not episodes:
            raise ValueError("no episodes to show: evaluate first, or pass a run folder with eval_episodes.npz")
        self.episodes = [with_true_start(e) for e in episodes]
        self.policy = policy
        """The policy that flew these episodes, when known: 'Open in window' flies it again."""
        self.every, self.scale, self.hud = every, scale, hud
        self.fps = fps
        """Playback frames per second; 25 at every=2 is real time (the env runs at 50 steps/s)."""
        self.show_values = values and policy is not None
        self._values: dict[int, EpisodeValues] = {}
        self._replays: OrderedDict[int, Replay] = OrderedDict()
        self._png: dict[tuple[int, int], bytes] = {}
        self.index = 0
        self._build(title)
        self.show(0)

    # ---- constructors ----------------------------------------------------------------------
    @classmethod
    def from_evaluation(cls, result: Any, policy: Any = None, **kwargs: Any) -> EpisodeViewer:
        """Episodes of an ``EvaluationResult`` (evaluate(..., keep_trajectories=True))."""
        if not result.trajectories:
            raise ValueError("this evaluation kept no trajectories: evaluate with keep_trajectories=True")
        reports = list(result.reports) or [None] * len(result.trajectories)
        episodes = [RecordedEpisode(int(s), t, float(r), rep)
                    for s, t, r, rep in zip(result.seeds, result.trajectories, result.returns, reports)]
        return cls(episodes, policy=policy, **kwargs)

    @classmethod
    def from_policy(cls, policy: Any = None, episodes: int = 3, seed: int = 10_000, **kwargs: Any) -> EpisodeViewer:
        """Fly a policy (default: the pretrained agent) on fixed seeds, then show those episodes."""
        from lab.evaluation import evaluate
        from lab.policy import as_policy

        pi = as_policy(policy)
        result = evaluate(pi, episodes=episodes, seed=seed, keep_trajectories=True)
        kwargs.setdefault("title", f"{pi.name}: mean return {result.mean_return:.1f} over {episodes} episodes")
        return cls.from_evaluation(result, policy=pi, **kwargs)

    @classmethod
    def from_run(cls, run_dir: str | Path, **kwargs: Any) -> EpisodeViewer:
        """The last evaluation saved in a run folder (eval_episodes.npz)."""
        from lab.lander.behavior import BehaviorAnalyzer
        from lab.train.run_folder import load_trajectories

        run_dir = Path(run_dir)
        path = run_dir / "eval_episodes.npz"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the run has not finished an evaluation yet")
        analyzer = BehaviorAnalyzer()
        episodes = [RecordedEpisode(d["seed"], d["trajectory"], d["return"],
                                    analyzer.analyze_trajectory(d["trajectory"])) for d in load_trajectories(path)]
        policy = None
        policy_file = run_dir / "policy.pt"
        if policy_file.is_file():
            from lab.policy import load_policy

            policy = load_policy(policy_file)
        kwargs.setdefault("title", f"{run_dir.name}: last evaluation")
        return cls(episodes, policy=policy, **kwargs)

    # ---- widgets -----------------------------------------------------------------------------
    def _build(self, title: str) -> None:
        self.picker = w.Dropdown(options=[(e.label, i) for i, e in enumerate(self.episodes)], value=0,
                                 description="episode", layout=w.Layout(width="560px"))
        self.image = w.Image(format="png")
        self.play = w.Play(value=0, min=0, max=0, step=1, interval=max(10, round(1000 / self.fps)))
        self.slider = w.IntSlider(value=0, min=0, max=0, description="frame", continuous_update=True,
                                  layout=w.Layout(width=f"{max(300, round(600 * self.scale))}px"))
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.step_label = w.HTML()
        self.value_trace = ValueTrace(width=max(300, round(600 * self.scale))) if self.show_values else None
        self.report_box = w.HTML(layout=w.Layout(width="360px", margin="0 0 0 12px"))
        self.gif_button = w.Button(description="Export GIF", icon="file-image-o")
        self.window_button = w.Button(description="Open in window", icon="external-link")
        self.message = w.Output()
        self.picker.observe(lambda c: self.show(c["new"]), names="value")
        self.slider.observe(lambda c: self._show_frame(c["new"]), names="value")
        self.gif_button.on_click(lambda _: self._guard(self.export_gif))
        self.window_button.on_click(lambda _: self._guard(self.open_window))
        head = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox([
            *head, self.picker,
            w.HBox([w.VBox([self.image, w.HBox([self.play, self.slider]), self.step_label,
                            *([self.value_trace.widget] if self.value_trace is not None else [])]),
                    self.report_box]),
            w.HBox([self.gif_button, self.window_button]), self.message,
        ])
        self.widget.add_class("lander-lab-viewer")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- playback --------------------------------------------------------------------------
    def frames(self, index: int | None = None) -> list[np.ndarray]:
        """The replayed frames of an episode (computed once, then cached)."""
        return self._replay(self.index if index is None else index).frames

    def values(self, index: int | None = None) -> EpisodeValues | None:
        """What the policy's critic makes of an episode (computed once), or None when values are off."""
        index = self.index if index is None else index
        if not self.show_values:
            return None
        if index not in self._values:
            self._values[index] = episode_values(self.policy, self.episodes[index].trajectory)
        return self._values[index]

    def readouts(self, index: int | None = None) -> list[Any] | None:
        """The value overlay of each replayed frame of an episode, as drawn."""
        return self._replay(self.index if index is None else index).readouts

    def _replay(self, index: int) -> Replay:
        if index not in self._replays:
            self._replays[index] = replay(self.episodes[index], every=self.every, hud=self.hud, scale=self.scale,
                                          values=self.values(index))
            while len(self._replays) > CACHED_EPISODES:
                old, _ = self._replays.popitem(last=False)
                self._png = {k: v for k, v in self._png.items() if k[0] != old}
        self._replays.move_to_end(index)
        return self._replays[index]

    def show(self, index: int) -> None:
        """Switch to an episode: replay it, reset the slider, show its report."""
        self.index = int(index)
        if self.picker.value != self.index:
            self.picker.value = self.index
            return  # the picker's observer calls back here
        rep = self._replay(self.index)
        self.play.playing = False
        self.slider.value = 0
        self.play.max = self.slider.max = len(rep.frames) - 1
        if self.value_trace is not None:
            self.value_trace.show(self.values(self.index))
        self._show_frame(0)
        self.report_box.value = report_html(self.episodes[self.index], rep.matched)

    def _show_frame(self, k: int) -> None:
        rep = self._replay(self.index)
        k = min(max(0, int(k)), len(rep.frames) - 1)
        key = (self.index, k)
        if key not in self._png:
            self._png[key] = to_png(rep.frames[k])
        self.image.value = self._png[key]
        self.step_label.value = (f"<span style='font-family: monospace'>step {rep.steps[k]} / "
                                 f"{len(self.episodes[self.index].trajectory.actions)}</span>")
        if self.value_trace is not None:
            self.value_trace.mark(rep.steps[k])

    # ---- export ----------------------------------------------------------------------------
    def export_gif(self, path: str | Path | None = None, index: int | None = None) -> Path:
        """Write the episode as a looping GIF, exactly as replayed here; returns its path."""
        index = self.index if index is None else index
        episode = self.episodes[index]
        if path is None:
            path = Path(tempfile.gettempdir()) / "lander-lab" / f"episode-seed{episode.seed}.gif"
        caption = f"seed {episode.seed} · return {episode.ret:+.1f} · {episode.outcome.replace('_', ' ').lower()}"
        path = write_gif(self.frames(index), Path(path), fps=self.fps, caption=caption)
        with self.message:
            self.message.clear_output()
            print(f"GIF written to {path}")
        return path

    def open_window(self, index: int | None = None) -> Any:
        """Fly this episode's seed again in the pygame window, in its own process (inline GIF without a display)."""
        index = self.index if index is None else index
        if self.policy is None:
            raise RuntimeError("this viewer does not know the policy that flew these episodes; use Export GIF")
        from lab.render.launcher import watch

        with self.message:  # the launcher's sentence and inline GIF (headless) land beside the buttons
            self.message.clear_output()
            result = watch(self.policy, episodes=1, seed=self.episodes[index].seed)
            if not isinstance(result, Path):
                print(f"the window opened in its own process (pid {result.pid}); close it to stop")
        return result

    def _guard(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - shown beside the buttons
            with self.message:
                self.message.clear_output()
                print(f"⚠ {type(exc).__name__}: {exc}")


class ValueTrace:
    """Q over the episode, beside the discounted return that really followed; a line marks the frame shown."""

    def __init__(self, width: int = 300, height: int = 230) -> None:
        import plotly.graph_objects as go

        self.figure = go.FigureWidget(layout=go.Layout(
            width=width, height=height, margin={"l": 45, "r": 8, "t": 28, "b": 32}, template="plotly_white",
            title={"text": "what the critic expects", "font": {"size": 12}}, xaxis_title="step",
            legend={"orientation": "h", "y": -0.3, "font": {"size": 10}}, showlegend=True))
        self.note = w.HTML()
        self.widget = w.VBox([self.figure, self.note])
        self.step: int | None = None

    def show(self, values: EpisodeValues | None) -> None:
        """Draw one episode's trace; without a critic say why, and draw the return alone."""
        steps = np.arange(len(values.discounted_return)) if values is not None else np.zeros(0)
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.layout.shapes = ()
            if values is None:
                return
            if values.q is not None and values.twins is not None:
                for twin in (0, 1):
                    self.figure.add_scatter(x=steps, y=values.twins[:, twin], name=f"Q{twin + 1}", showlegend=False,
                                            line={"width": 1, "color": "#c8b6ff"}, hoverinfo="skip")
                self.figure.add_scatter(x=steps, y=values.q, name="Q(s,a) = min(Q1, Q2)",
                                        line={"width": 2, "color": "#8250df"})
            self.figure.add_scatter(x=steps, y=values.discounted_return,
                                    name=f"return that followed (γ={values.gamma:g})",
                                    line={"width": 1.5, "dash": "dot", "color": "#57606a"})
            self.figure.add_shape(type="line", xref="x", yref="paper", x0=0, x1=0, y0=0, y1=1,
                                  line={"color": "#cf222e", "width": 1})
        self.note.value = ("" if values is None or values.q is not None else
                           f"<span style='color:#57606a'>Q: {html.escape(values.note)}</span>")
        self.step = 0

    def mark(self, step: int) -> None:
        """Move the marker to the shown frame's step."""
        if self.step == step or not self.figure.layout.shapes:
            return
        self.step = step
        self.figure.layout.shapes[0].update(x0=step, x1=step)


def write_gif(frames: Sequence[np.ndarray], path: Path, fps: int = 25, caption: str = "") -> Path:
    """A looping GIF of these frames, made by the lab's GIF export (same palette, caption strip and hold)."""
    from lab.render.gif import add_caption, check_writable
    from lab.render.gif import write_gif as write_frames

    check_writable(path.parent)
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    if caption:
        frames = [add_caption(f, caption) for f in frames]
    return write_frames(frames, path, fps, caption)


def report_html(episode: RecordedEpisode, matched: bool = True) -> str:
    """The analyzer's verdict on one episode, as a small HTML card."""
    rep = episode.report
    color = "#1a7f37" if episode.outcome.startswith("LANDED") else "#cf222e"
    rows = [("return", f"{episode.ret:.1f}"), ("steps", str(len(episode.trajectory.actions))),
            ("seed", str(episode.seed))]
    if rep is not None:
        figures = [("touchdown speed", rep.touchdown_speed, "m/s"), ("impact speed", rep.impact_speed, "m/s"),
                   ("max tilt", None if rep.max_tilt is None else math.degrees(rep.max_tilt), "°"),
                   ("fuel used", rep.fuel_used, ""), ("time airborne", rep.time_airborne, "s"),
                   ("final x", rep.final_x, "m"), ("ended by", rep.ended_by, "")]
        for name, value, unit in figures:
            if value is None:
                continue
            rows.append((name, f"{value:.2f} {unit}".strip() if isinstance(value, float) else str(value)))
    table = "".join(f"<tr><td style='padding-right:10px'>{n}</td><td>{html.escape(v)}</td></tr>" for n, v in rows)
    behaviors = ""
    if rep is not None and rep.behaviors:
        items = "".join(f"<li>{html.escape(str(b.value).replace('_', ' ').lower())}</li>" for b in rep.behaviors)
        behaviors = f"<div><b>behaviors</b><ul style='margin:2px 0 0 0'>{items}</ul></div>"
    warning = "" if matched else ("<div style='color:#9a6700'>the replay drifted from the recording "
                                  "(a different env version?)</div>")
    return (f"<div class='lab-report' style='font-size: 13px'>"
            f"<div style='font-size: 15px; color:{color}'><b>{html.escape(episode.outcome)}</b></div>"
            f"<table>{table}</table>{behaviors}{warning}</div>")
