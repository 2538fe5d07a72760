"""What the training panel knows and does, with no widgets: ``PanelModel``, for K agents (K = 1 included).

The model drives one engine at a time: a ``lab.Trainer`` when K = 1, a ``lab.Population``
when K > 1, made from the next-run settings (``widgets.settings.AgentSettings``) or handed
in. It starts, pauses, stops and replaces it, follows its ``agent_events``, runs the jobs
that wait on the training loop (save, evaluate) in helper threads, records evaluation clips
and keeps the errors and messages a person should see. ``widgets.panel.TrainingPanel``
draws it; tests drive it directly with a real engine and no frontend.

Settings are named by their dotted config field (``noise.sigma``; a bare name works too).

Threads: engine events arrive on the training thread and only update ``RunStatus``
objects and deques; ``poll`` (called by the view on the kernel's thread) turns finished
jobs, refused live changes and failed agents into messages, errors and config corrections.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from lab.config import Config, ConfigError, live_fields
from lab.evaluation import EvaluationResult
from lab.events import HyperparametersRefused
from lab.io import atomic_write_text
from lab.presets import FIRST_RUN_PRESET, as_config, preset_names
from lab.render.clips import ClipSaved, attach_clip_recorders
from lab.train.engine import AgentEvent, Engine
from lab.train.members import check_agent_count
from lab.train.population import Population
from lab.train.slot import TRAINING
from lab.train.trainer import Trainer
from widgets.charts import agent_label
from widgets.kernel import watch_trainer
from widgets.settings import AgentSettings
from widgets.status import RunStatus

Run = Trainer | Population
"""The engine a panel drives: K = 1 is a Trainer, K > 1 a Population."""
READOUT: tuple[str, ...] = tuple(f.key for f in live_fields() if not f.name.startswith("shaping_"))
"""The live fields the readout lists (the shaping bonuses have their own tab)."""


class Watcher(Protocol):
    """Something that follows each engine the panel drives (the view's charts)."""

    def attach(self, engine: Any) -> Callable[[], None]: ...

    def reset(self) -> None: ...


class PanelModel:
    """The state behind one training panel: each agent's next-run config, the engine, jobs, messages."""

    def __init__(self, source: str | Path | Config | Run = FIRST_RUN_PRESET, agents: int | None = None,
                 run_dir: str | Path | None = None, name: str | None = None, clips: bool = True,
                 watchers: Iterable[Watcher] = ()) -> None:
        """source: a preset name, a Config, a config file, or a Trainer/Population to attach to (then agents is its
        K). clips: record a clip at each evaluation of the runs the panel starts."""
        given = None
        if isinstance(source, (Trainer, Population)):
            given = source
            if agents not in (None, given.agents):
                raise ConfigError(f"agents={agents!r} is invalid for a panel on {given.name}, which trains "
                                  f"{given.agents} agent(s): leave agents out")
            self.settings = AgentSettings([slot.config for slot in given.slots])
            self.name = name or given.name
        else:
            self.settings = AgentSettings.seeded(as_config(source), check_agent_count(1 if agents is None else agents))
            self.name = name or (source if isinstance(source, str) and source in preset_names() else "panel")
        self.agents = self.settings.agents
        self.clips = clips
        self.watchers = list(watchers)
        self.engine: Run | None = None
        self.selected: int | None = None
        """The agent a change goes to (K > 1); None for all of them."""
        self.statuses = [RunStatus() for _ in range(self.agents)]
        self.latest_clips: list[ClipSaved | None] = [None] * self.agents
        """Each agent's newest clip (path, caption); set on the training thread, read by the view."""
        self.stop_reason: str | None = None
        """Why the kernel stopped the run (an interrupt, a shutdown); the first reason wins."""
        self.paused = False
        self.busy: set[str] = set()
        self.last_job: tuple[str, Any] | None = None
        self._messages: deque[str] = deque(maxlen=3)
        self._errors: deque[str] = deque(maxlen=4)
        self._jobs: deque[tuple[str, Any, BaseException | None]] = deque()
        self._refused: deque[tuple[int, HyperparametersRefused]] = deque()
        self._reported: set[tuple[int, str]] = set()
        self._bus_errors_seen: dict[int, int] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._run_dir = Path(run_dir) if run_dir else None
        self._owns_engine = False
        if given is not None:
            self._attach(given)

    # ==== what a person sees ===================================================================
    @property
    def errors(self) -> list[str]:
        """Errors to show: refused values, failed actions, failed agents."""
        return list(self._errors)

    @property
    def messages(self) -> list[str]:
        return list(self._messages)

    def error(self, text: str) -> None:
        self._errors.append(text)

    def say(self, text: str) -> None:
        self._messages.append(text)

    def label(self, agent: int) -> str:
        """How the panel names an agent: "" for a single run, else A (seed 0), B (seed 1), ..."""
        return "" if self.agents == 1 else f"{agent_label(agent)} (seed {self.settings.configs[agent].run.seed})"

    def _who(self, agent: int) -> str:
        return "" if self.agents == 1 else f"agent {agent_label(agent)}: "

    @property
    def base_config(self) -> Config:
        return self.settings.base[0]

    @property
    def configs(self) -> list[Config]:
        """What the next run gives each agent."""
        return list(self.settings.configs)

    @property
    def config(self) -> Config:
        """The selected agent's next-run config (agent A's when all are selected)."""
        return self.settings.configs[self.selected or 0]

    def env_steps(self) -> list[int]:
        return [0] * self.agents if self.engine is None else [s.env_step for s in self.engine.slots]

    def readout(self) -> tuple[str, list[dict[str, Any]]]:
        """A heading and each agent's live settings: the engine's now, or what the next run will use."""
        if self.engine is not None:
            return "now uses", [self.engine.hyperparameters(k) for k in range(self.agents)]
        return "next run will use", [{key: c.get(key) for key in READOUT} for c in self.settings.configs]

    def restart_diff(self) -> list[str]:
        """Fields changed in the panel that only a new run applies."""
        return [] if self.engine is None else self.settings.restart_diff([s.config for s in self.engine.slots])

    # ==== changing settings ====================================================================
    def select(self, agent: int | None) -> None:
        """Send the next changes to one agent (None: to every agent)."""
        if agent is not None:
            self._check_agent(agent)
        self.selected = agent

    def apply(self, key: str, value: Any) -> None:
        """Change one setting for the selected agent (or all): live now when its field is live, else at the next
        Start. Raises ConfigError (naming the field, the value and what is allowed); then nothing changes."""
        change = self.settings.plan(key, value, self.selected)
        if change.live and self.engine is not None:
            self.engine.update_hyperparameters(agent=change.agent, **{change.key: value})
        self.settings.commit(change)
        if change.note:
            self.say(change.note)

    def reset_to_base(self) -> None:
        """Every agent back to its starting config; live values also go to the engine."""
        if self.engine is not None:
            engine = self.engine
            for agent, changes in self.settings.resets([engine.hyperparameters(k) for k in range(self.agents)]):
                engine.update_hyperparameters(agent=agent, **changes)
        self.settings.reset()
        self.say("controls reset to the starting config")

    def export_config(self, path: str | Path | None = None) -> Path:
        """Write the selected agent's next-run config (agent A's when all) as YAML, atomically; a stamped file in
        run.out_dir by default."""
        agent = self.selected or 0
        if path is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            who = "" if self.agents == 1 else f"-{agent_label(agent)}"
            path = Path(self.config.run.out_dir) / f"{self.name}{who}-config-{stamp}.yaml"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.settings.configs[agent].to_yaml())
        self.say(f"{self._who(agent)}config written to {path}")
        return path

    # ==== the engine ===========================================================================
    @property
    def running(self) -> bool:
        return self.engine is not None and self.engine.running

    def add_watcher(self, watcher: Watcher) -> None:
        """Follow this engine (if there is one) and every later one."""
        self.watchers.append(watcher)
        if self.engine is not None:
            self._unsubscribe.append(watcher.attach(self.engine))

    def needs_new_run(self) -> bool:
        """No engine yet, or it failed, every agent is done, or a restart-only setting changed."""
        e = self.engine
        if e is None or e.state == "failed":
            return True
        can_train = any(s.state == TRAINING and s.env_step < s.config.run.total_steps for s in e.slots)
        return not can_train or bool(self.restart_diff())

    def start(self) -> Run:
        """Train in the background; a new run when there is none, it ended, or a restart setting changed."""
        if self.engine is not None and self.engine.running:
            return self.engine
        if self.needs_new_run():
            self._replace_engine()
        engine = self.engine
        assert engine is not None
        self._errors.clear()
        self.stop_reason, self.paused = None, False
        engine.start()
        self.say(f"training in {engine.run_dir}" if self.agents == 1 else
                 f"training {self.agents} agents in {engine.run_dir}")
        return engine

    def pause(self) -> None:
        if self.engine is not None and self.engine.running:
            self.engine.pause()
            self.paused = True

    def resume(self) -> None:
        if self.engine is not None and self.engine.running:
            self.engine.resume()
            self.paused = False

    def toggle_pause(self) -> None:
        if self.running:
            (self.resume if self.paused else self.pause)()

    def stop(self, wait: bool = False, agent: int | None = None) -> Path | None:
        """Stop training (the loop writes a checkpoint first; no blocking unless wait), or, with agent, stop that
        agent alone while the others go on. Returns the checkpoint's path when wait is true and it exists."""
        engine = self.engine
        if engine is None:
            return None
        if agent is not None and self.agents > 1:
            self._check_agent(agent)
            engine.stop(agent=agent)
            self.say(f"{self._who(agent)}stopped; the others train on")
            return None
        if not engine.running:
            return None
        engine.stop(wait=wait)
        path: Path = engine.checkpoint_path
        self.say(f"stopped; checkpoint {path}" if wait else "stopping: a checkpoint is being written")
        return path if wait and path.exists() else None

    def close(self) -> None:
        """Stop training (with a checkpoint) and let go of the engine."""
        engine = self.engine
        if engine is not None:
            if engine.running:
                engine.stop(wait=True)
            self._detach()
            if self._owns_engine:
                engine.close()

    def require_engine(self, what: str) -> Run:
        if self.engine is None:
            raise RuntimeError(f"nothing to {what} yet: press Start first")
        return self.engine

    def _replace_engine(self) -> None:
        old, self.engine = self.engine, None  # a new engine that fails to build leaves none, not a closed one
        if old is not None:
            self._detach()
            if self._owns_engine:
                old.close()
        for watcher in self.watchers:
            watcher.reset()
        for status in self.statuses:
            status.reset()
        self.latest_clips = [None] * self.agents
        run_dir, self._run_dir = self._run_dir, None  # a second run gets its own folder
        configs = self.settings.configs
        engine: Run = Trainer(configs[0], run_dir=run_dir, name=self.name) if self.agents == 1 else \
            Population(configs=configs, run_dir=run_dir, name=self.name)
        self._owns_engine = True
        if self.clips:  # each agent's clips in its own run folder, as `lab train` keeps them
            attach_clip_recorders(engine)
        self._attach(engine)

    def _attach(self, engine: Run) -> None:
        self.engine = engine
        self._reported, self._bus_errors_seen = set(), {}
        for status in self.statuses:
            status.state = engine.state
        self._unsubscribe = [watcher.attach(engine) for watcher in self.watchers]
        self._unsubscribe.append(engine.agent_events.subscribe(self._on_event, AgentEvent))
        self._unsubscribe += [slot.events.subscribe(functools.partial(self._on_clip, slot.index), ClipSaved)
                              for slot in engine.slots]
        watch_trainer(engine, self._on_kernel_stop)

    def _detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_event(self, wrapped: AgentEvent) -> None:
        """On the training thread: O(1) bookkeeping only."""
        self.statuses[wrapped.agent](wrapped.event)
        if isinstance(wrapped.event, HyperparametersRefused):
            self._refused.append((wrapped.agent, wrapped.event))

    def _on_clip(self, agent: int, event: ClipSaved) -> None:
        self.latest_clips[agent] = event

    def _on_kernel_stop(self, reason: str, stopped: list[Any]) -> None:
        if any(e is self.engine for e in stopped):
            # the first reason wins: an interrupted panel.wait() may have stopped the run a moment earlier
            self.stop_reason = self.stop_reason or reason
            self.say(f"training stopped because {reason}; a checkpoint is being written")

    # ==== jobs that wait on the training loop, and what the training thread reported ==============
    def save_checkpoint(self) -> None:
        """Write a checkpoint between steps, from a helper thread; ``poll`` reports the path."""
        self.run_job("save", self.require_engine("save a checkpoint").save_checkpoint)

    def evaluate_now(self, episodes: int | None = None, agent: int | None = None) -> None:
        """Evaluate the selected agent (or the given one; every agent when none is) between steps, from a helper
        thread; ``poll`` reports each result."""
        engine = self.require_engine("evaluate")
        agent = self.selected if agent is None else self._check_agent(agent)
        agents = range(self.agents) if agent is None else [agent]
        # the engine's per-agent form (Trainer's own evaluate_now takes no agent)
        self.run_job("evaluate", lambda: [(k, Engine.evaluate_now(engine, k, episodes)) for k in agents])

    def run_job(self, kind: str, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in a helper thread so no button blocks the kernel; one job of a kind at a time."""
        if kind in self.busy:
            return
        self.busy.add(kind)
        self.say(f"{kind}: working…")

        def work() -> None:
            try:
                self._jobs.append((kind, fn(), None))
            except BaseException as exc:  # noqa: BLE001 - shown in the panel, not lost in the thread
                self._jobs.append((kind, None, exc))

        threading.Thread(target=work, name=f"lab-panel-{kind}", daemon=True).start()

    def poll(self) -> bool:
        """Take in finished jobs, refused live changes, failed agents and subscriber errors; True when a next-run
        config was put back on the engine's values (the view then re-syncs its controls)."""
        while self._jobs:
            kind, result, exc = self._jobs.popleft()
            self.busy.discard(kind)
            if exc is not None:
                self.error(f"{kind} failed: {type(exc).__name__}: {exc}")
            elif kind == "save":
                self.say(f"checkpoint saved to {result}")
            elif kind == "evaluate":
                for k, evaluation in result:
                    self.say(self._who(k) + evaluation_text(evaluation))
            self.last_job = (kind, result)
        for k, status in enumerate(self.statuses):
            if status.error and (k, status.error) not in self._reported:
                self._reported.add((k, status.error))
                self.error(f"{self._who(k)}training failed: {status.error}")
        self._take_bus_errors()
        return self._take_refusals()

    def _take_refusals(self) -> bool:
        """Show each refused live change once (K agents refuse one change K times), and follow the engine."""
        engine, corrected, shown = self.engine, False, set()
        while self._refused and engine is not None:
            k, event = self._refused.popleft()
            changes = ", ".join(f"{name}={value!r}" for name, value in event.changes.items())
            if (changes, event.reason) not in shown:
                shown.add((changes, event.reason))
                self.error(f"refused at step {event.env_step:,}: {changes}: {event.reason}")
            try:
                corrected |= bool(self.settings.follow(k, list(event.changes), engine.hyperparameters(k)))
            except ConfigError as exc:  # the next run's other settings no longer fit the engine's value
                self.error(str(exc))
        return corrected

    def _take_bus_errors(self) -> None:
        """Show what a subscriber of the engine's buses reported failing (a chart, a clip) since the last look."""
        if self.engine is None:
            return
        for i, bus in enumerate([self.engine.agent_events] + [s.events for s in self.engine.slots]):
            seen = self._bus_errors_seen.get(i, 0)
            for text in bus.errors[seen:]:
                self.error(text)
            self._bus_errors_seen[i] = len(bus.errors)

    def _check_agent(self, agent: Any) -> int:
        if not isinstance(agent, int) or isinstance(agent, bool) or not 0 <= agent < self.agents:
            raise ConfigError(f"agent={agent!r} is invalid: allowed 0 to {self.agents - 1} (or None for all)")
        return agent


def evaluation_text(result: EvaluationResult) -> str:
    mix = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items(), key=lambda kv: -kv[1]))
    return (f"evaluation: mean return {result.mean_return:.1f} ± {result.std_return:.1f}, "
            f"success {100 * result.success_rate:.0f}%" + (f" ({mix})" if mix else ""))

