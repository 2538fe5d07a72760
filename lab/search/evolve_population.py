"""PBT's agents as one lab.Population: every agent trains at once, in one stacked update.

Generations, selection, mutation and lineage are lab.search.evolve's; this is the training,
through the Population's public API only. Each generation every agent trains
generation_steps // population env steps of its own (the file's generation_steps counts all
agents together) in one ``Population.fit(until_step=...)`` that pauses at the generation's end.
Exploit is ``Population.copy_agent`` (weights, targets, Adam state, noise state); explore is
``Population.update_hyperparameters`` for that agent. Replay: a buffer per agent by default
(classic PBT); ``shared_replay: true`` gives one buffer every agent stores into and samples from.

Resuming: ``save`` writes the population's checkpoint (with the replay buffers, so training goes
on as it would have); a generation ends at a checkpoint boundary (``run.checkpoint_every`` is one
generation), so the envs then start fresh episodes, as they do after a resume from that checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.config import Config
from lab.search.space import SearchSpec


@dataclass
class Slot:
    """One agent of the population: the slot's current agent id and its evolved values."""

    index: int
    id: int
    hyperparameters: dict[str, Any]


@dataclass
class ResumeState:
    """What a resumed evolve starts from: the committed checkpoint, the selection RNG, the slots, the next id."""

    checkpoint: Path
    rng: dict[str, Any]
    slots: list[Slot]
    next_id: int


class EvolvingPopulation:
    """The evolving agents: a lab.Population, the selection RNG and each slot's agent id and values."""

    def __init__(self, spec: SearchSpec, settings: dict[str, Any], resume: ResumeState | None = None) -> None:
        from lab.checkpoint import seed_everything
        from lab.train.population import Population

        self.spec, self.cfg = spec, spec.base
        n = settings["population"]
        self.per_agent = settings["generation_steps"] // n
        self.total_steps = settings["generations"] * self.per_agent
        self.rng = seed_everything(spec.seed)
        if resume is None:
            self.slots = [Slot(i, i, {p.name: p.sample(self.rng) for p in spec.parameters}) for i in range(n)]
            self.next_id = n
        else:
            self.rng.bit_generator.state = resume.rng
            self.slots, self.next_id = resume.slots, resume.next_id
        self.shared_replay = bool(settings["shared_replay"])
        self.population = Population(configs=[self.config_of(m) for m in self.slots], log_to_disk=False,
                                     name=spec.name, shared_replay=self.shared_replay,
                                     resume=None if resume is None else resume.checkpoint)

    def config_of(self, m: Slot) -> Config:
        """The slot's training config: its values, its seed, and evolve's budget and checkpoint rhythm."""
        return self.spec.config_for(m.hyperparameters).with_overrides({
            "run.total_steps": self.total_steps, "run.eval_every": 0, "run.checkpoint_every": self.per_agent,
            "run.save_replay": True, "run.seed": self.spec.seed + m.index})

    def elite_config(self, m: Slot) -> Config:
        """The config to train the slot's agent alone (elite/config.yaml): the file's, with its values."""
        return self.spec.config_for(m.hyperparameters)

    @property
    def env_step(self) -> int:
        """Env steps of all agents together."""
        return sum(m.env_step for m in self.population.members)

    def train_generation(self, generation: int) -> None:
        """Every agent trains up to this generation's end; a Ctrl-C or signal during it is raised again."""
        self.population.fit_or_raise(until_step=generation * self.per_agent)

    def evaluate(self) -> list[float]:
        """Every agent's mean return on the same fixed seeds."""
        from lab.evaluation import evaluate

        cfg = self.cfg
        return [float(evaluate(self.population.policy(m.index), episodes=cfg.run.eval_episodes,
                               seed=cfg.run.eval_seed, env_id=cfg.env.env_id,
                               success_threshold=cfg.env.success_threshold, analyze=False,
                               max_episode_steps=cfg.env.max_episode_steps).mean_return) for m in self.slots]

    def replace(self, offspring: list[Any]) -> list[int]:
        """Copy winners into losers, each winner read before it is itself replaced (as from snapshots); new ids."""
        parents = [self.slots[o.parent].id for o in offspring]
        for i in copy_order(offspring):
            o, m = offspring[i], self.slots[i]
            if o.parent == i:
                continue  # a survivor keeps its weights and its values
            self.population.copy_agent(o.parent, i)
            m.id, self.next_id = self.next_id, self.next_id + 1
            m.hyperparameters = dict(o.hyperparameters)
            self.population.update_hyperparameters(agent=i, **{p.key: m.hyperparameters[p.name]
                                                               for p in self.spec.parameters})
        return parents

    def policy(self, slot: int) -> Any:
        """A frozen copy of the slot's actor (lab.Policy)."""
        return self.population.policy(slot)

    def save(self, path: Path) -> Path:
        """The population's checkpoint: every agent's learner, optimizer, counters, random streams and replay."""
        return self.population.save_checkpoint(path)

    def close(self) -> None:
        self.population.close()


def copy_order(offspring: list[Any]) -> list[int]:
    """Slots in an order where none is overwritten before every slot copying from it has been.

    A winner is strictly fitter than the slot it replaces, so the copies form no cycle and the order exists.
    """
    pending, order = set(range(len(offspring))), []
    while pending:
        donors = {offspring[i].parent for i in pending if offspring[i].parent != i}
        ready = sorted(i for i in pending if i not in donors)
        if not ready:
            raise ValueError(f"the offspring's copies form a cycle: {[o.parent for o in offspring]}")
        order += ready
        pending -= set(ready)
    return order
