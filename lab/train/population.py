"""``lab.Population``: K TD3 agents trained at once by the one engine, one run folder each.

    >>> population = Population("fast", seeds=[0, 1, 2, 3, 4])
    >>> population.events.subscribe(print)   # AgentEvent(agent, seed, event) for every agent's event
    >>> population.fit()

Agent k is ``lab.Trainer``'s run with seed seeds[k] in everything the engine does; the
population folder holds population.pt (the resumable checkpoint of all K) and summary.json,
and each agent has an ordinary run folder, ``agent{k}_seed{s}/``.

Scripts: with run.overlap_collection the envs step in a worker process, which Python starts
by re-importing your script, so keep a script's code under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.config import Config
from lab.events import EventBus
from lab.policy import POPULATION_FILE, Policy
from lab.presets import as_config
from lab.train.engine import Engine, Layout
from lab.train.members import member_configs
from lab.train.run_folder import new_run_dir
from lab.train.slot import AgentSlot


class Population(Engine):
    """Train K independent TD3 agents at once: stacked weights, one batched update, one loop."""

    def __init__(self, config: Config | str | Path = "fast", seeds: Sequence[int] | None = None,
                 configs: Sequence[Config] | None = None, run_dir: str | Path | None = None,
                 name: str | None = None, resume: str | Path | None = None, log_to_disk: bool = True,
                 shared_replay: bool = False) -> None:
        """shared_replay: every agent stores into and samples from one buffer (PBT's option) instead of its own."""
        base = as_config(config if configs is None else configs[0])
        members = member_configs(base, seeds, configs)
        named = configs is None and isinstance(config, str) and "/" not in config and "." not in config
        label = name or (str(config) if named else "population")
        if run_dir is not None:
            folder = Path(run_dir)
        elif resume is not None:
            folder = Path(resume).parent
        else:
            folder = new_run_dir(members[0].run.out_dir, f"{label}-x{len(members)}")
        agent_dirs = tuple(folder / f"agent{k}_seed{c.run.seed}" for k, c in enumerate(members))
        super().__init__(members, Layout(folder, agent_dirs, folder / POPULATION_FILE, population=True), resume,
                         log_to_disk, shared_replay)
        self.name = label
        self.run_dir = folder

    events: EventBus = property(lambda self: self.agent_events,  # type: ignore[assignment]
                                doc="AgentEvent(agent, seed, event) for every agent's event.")
    members: list[AgentSlot] = property(lambda self: self.slots,  # type: ignore[assignment]
                                        doc="Each agent's slot: config, counters, state, run folder.")
    checkpoint_path = property(lambda self: self.layout.checkpoint)

    def policy(self, agent: int) -> Policy:
        """A frozen copy of one agent's actor."""
        return self.agent_policy(agent)

    def hyperparameters(self, agent: int = 0) -> dict[str, Any]:
        """One agent's live fields, by dotted name."""
        return super().hyperparameters(agent)

    def __enter__(self) -> Population:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
