"""What the A/B panel knows and does, with no widgets: ``CompareModel``.

Several agents train side by side in one ``lab.Population``; a change made in the panel
goes to the selected agent (or to all), so two settings can be compared live on the same
clock. Live settings reach the running population through
``Population.update_hyperparameters(agent, ...)``; settings that need a new run (network,
budget, seed) apply to every agent at the next Start, since a population shares its shapes.

Threads: population events arrive on the training thread and only update ``RunStatus``
objects and the watchers' buffers; ``poll`` (the kernel's thread) turns refused changes
and a failed run into errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lab.config import Config, ConfigError
from lab.presets import FIRST_RUN_PRESET
from lab.train.live import SCHEDULE_OVERRIDES, validate_changes
from lab.train.members import MAX_AGENTS, REQUIRED, member_configs
from lab.train.population import AgentEvent, Population
from widgets.run_model import RunModel, RunWatcher
from widgets.settings import LIVE_KEYS, as_config, config_value, live_resets, next_run_values, restart_fields
from widgets.status import RunStatus

COMPARE_READOUT: tuple[str, ...] = ("actor_lr", "critic_lr", "tau", "policy_delay", "sigma", "theta", "noise_scale",
                                    "reward_shaping")
"""The live settings the A/B readout lists per agent (the ones a population changes per agent)."""
POPULATION_DEFAULTS = dict(REQUIRED)
"""What a population requires (lab.train.members.REQUIRED); the panel switches these for the user."""


def agent_label(agent: int) -> str:
    """A, B, C ... Z, then #26, #27 ..."""
    return chr(ord("A") + agent) if agent < 26 else f"#{agent}"


def check_agents(agents: Any) -> int:
    if not isinstance(agents, int) or isinstance(agents, bool) or not 1 <= agents <= MAX_AGENTS:
        raise ConfigError(f"agents={agents!r} is invalid: allowed an integer from 1 to {MAX_AGENTS}")
    return agents


class CompareModel(RunModel):
    """The state behind one A/B panel: each agent's next-run config, the population, the selection."""

    def __init__(self, source: str | Path | Config = FIRST_RUN_PRESET, agents: int = 2,
                 run_dir: str | Path | None = None, name: str | None = None,
                 watchers: Iterable[RunWatcher] = ()) -> None:
        self.agents = check_agents(agents)
        base = as_config(source)
        RunModel.__init__(self, run_dir, watchers)
        switched = {k: v for k, v in POPULATION_DEFAULTS.items() if config_value(base, k) != v}
        if switched:
            base = base.with_overrides(switched)
            self.say("a population trains with " + ", ".join(f"{k}={v}" for k, v in switched.items()))
        self.base_config = base
        self.name = name or (source if isinstance(source, str) and "/" not in source else "compare")
        self.configs: list[Config] = self._seeded(base)
        """What the next run gives each agent: the base config, its seed, and every change made for it."""
        member_configs(base, configs=self.configs)  # refuse a config no population could train, now
        self.schedule_overrides: list[dict[str, float]] = [{} for _ in range(self.agents)]
        self.selected: int | None = None
        """The agent a change goes to; None for all of them."""
        self.population: Population | None = None
        self.statuses = [RunStatus() for _ in range(self.agents)]

    @property
    def run(self) -> Population | None:
        return self.population

    def _seeded(self, base: Config) -> list[Config]:
        return [base.with_overrides({"run.seed": base.run.seed + k}) for k in range(self.agents)]

    # ==== what a person sees ===================================================================
    @property
    def state(self) -> str:
        return "idle" if self.population is None else self.population.state

    def env_steps(self) -> list[int]:
        """Each agent's env step (0 before the first run)."""
        if self.population is None:
            return [0] * self.agents
        return [m.env_step for m in self.population.members]

    def values(self, agent: int) -> dict[str, Any]:
        """One agent's live settings: the population's now, or what the next run will give it."""
        self._check_agent(agent)
        if self.population is not None:
            now = self.population.hyperparameters(agent)
            return {name: now.get(name) for name in COMPARE_READOUT}
        return next_run_values(self.configs[agent], self.schedule_overrides[agent], COMPARE_READOUT)

    def readout(self) -> tuple[str, list[dict[str, Any]]]:
        head = "agents now use" if self.population is not None else "next run will use"
        return head, [self.values(k) for k in range(self.agents)]

    def restart_diff(self) -> list[str]:
        """Config fields that differ between the panel and the running population and need a new run."""
        if self.population is None:
            return []
        pending: list[str] = []
        for mine, member in zip(self.configs, self.population.members):
            pending += [key for key in restart_fields(mine, member.config) if key not in pending]
        return pending

    # ==== changing settings ====================================================================
    def select(self, agent: int | None) -> None:
        """Send the next changes to ``agent`` (None: to every agent)."""
        if agent is not None:
            self._check_agent(agent)
        self.selected = agent

    def config_for(self, agent: int | None = None) -> Config:
        """An agent's next-run config; the selected agent's (agent A's when all are selected) by default."""
        agent = self.selected if agent is None else agent
        return self.configs[0 if agent is None else agent]

    def apply(self, key: str, value: Any) -> None:
        """Change one setting for the selected agent (or all): live now, or at the next Start.

        Raises ConfigError (naming the field, the value and what is allowed) when the engine
        or the population refuses it; then nothing changes.
        """
        targets = list(range(self.agents)) if self.selected is None else [self.selected]
        if key in SCHEDULE_OVERRIDES:
            for k in targets:
                validate_changes(self.configs[k], {key: value})
            if self.population is not None:
                self.population.update_hyperparameters(agent=self.selected, **{key: value})
            for k in targets:
                self.schedule_overrides[k][key] = float(value)
            return
        if key not in LIVE_KEYS:
            self._apply_restart_setting(key, value)
            return
        changed = {k: self.configs[k].with_overrides({key: value}) for k in targets}
        if self.population is not None:
            self.population.update_hyperparameters(agent=self.selected, **{LIVE_KEYS[key]: value})
        for k, config in changed.items():
            self.configs[k] = config

    def _apply_restart_setting(self, key: str, value: Any) -> None:
        """A setting that needs a new run goes to every agent: a population shares its shapes and budget."""
        if key == "run.seed":
            configs = [c.with_overrides({key: int(value) + k}) for k, c in enumerate(self.configs)]
        else:
            configs = [c.with_overrides({key: value}) for c in self.configs]
        member_configs(configs[0], configs=configs)
        self.configs = configs
        if self.selected is not None:
            self.say(f"{key} applies to every agent at the next Start (a population shares it)")

    def reset_to_base(self) -> None:
        """Every agent back to the starting config; live values also go to the running population."""
        fresh = self._seeded(self.base_config)
        if self.population is not None:
            for k in range(self.agents):
                live = live_resets(self.population.hyperparameters(k), fresh[k], self.schedule_overrides[k])
                if live:
                    self.population.update_hyperparameters(agent=k, **live)
        self.configs = fresh
        self.schedule_overrides = [{} for _ in range(self.agents)]
        self.say("every agent back to the starting config")

    # ==== the run ==============================================================================
    def _starting(self, run: Population) -> str:
        return f"training {self.agents} agents in {run.run_dir}"

    def stop(self, wait: bool = False) -> None:
        """Stop every agent; the loop writes a checkpoint first. Does not block unless wait is true."""
        if self.running:
            assert self.population is not None
            self.population.stop(wait=wait)
            self.say("stopped" if wait else "stopping: a checkpoint is being written")

    def needs_new_run(self) -> bool:
        p = self.population
        if p is None:
            return True
        done = all(m.env_step >= m.config.run.total_steps for m in p.members)
        return p.state == "failed" or done or bool(self.restart_diff())

    def _make_run(self, run_dir: Path | None) -> Population:
        for status in self.statuses:
            status.reset()
        population = Population(configs=self.configs, run_dir=run_dir, name=self.name)
        for k, overrides in enumerate(self.schedule_overrides):
            if overrides:
                population.update_hyperparameters(agent=k, **overrides)
        self.population = population
        return population

    def _subscriptions(self, run: Population) -> list[Callable[[], None]]:
        return [run.events.subscribe(self._to_status, AgentEvent)]

    def _to_status(self, event: AgentEvent) -> None:
        self.statuses[event.agent](event.event)

    def poll(self) -> None:
        """Take in changes the training thread refused and a failed run (the kernel's thread)."""
        p = self.population
        if p is None:
            return
        self._take_bus_errors(p)
        if p.state == "failed" and p.error is not None and not any("training failed" in e for e in self._errors):
            self.error(f"training failed: {type(p.error).__name__}: {p.error}")

    def _check_agent(self, agent: Any) -> None:
        if not isinstance(agent, int) or isinstance(agent, bool) or not 0 <= agent < self.agents:
            raise ConfigError(f"agent={agent!r} is invalid: allowed 0 to {self.agents - 1} (or None for all)")
