"""PBT on a batched lab.Population: every agent trains at once, in one stacked update.

Generations, selection, mutation, lineage and elite files are lab.search.evolve's; only
the training differs. Each generation every agent trains generation_steps // population
env steps of its own (the file's generation_steps counts all agents together, as on the
single-agent path) in one ``Population.fit(until_step=...)`` that pauses at the
generation's end. Exploit is ``Population.copy_agent`` (weights, targets, Adam state,
noise state); explore is ``Population.update_hyperparameters`` for that agent.

Replay: each agent keeps its own buffer by default (classic PBT); ``shared_replay: true``
makes every agent store into and sample from one buffer, as the single-agent path does.
batch_size cannot evolve here: a population's agents share one batch shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.config import Config, ConfigError
from lab.search.space import SearchSpec, SpecError

SHARED_BY_POPULATION = ("training.batch_size",)
"""Evolvable fields a population's agents must share, so they cannot evolve on one."""


def population_refusal(spec: SearchSpec) -> str | None:
    """Why the spec's config cannot train as a population (a setting lab.population refuses), or None."""
    from lab.train.members import member_configs

    try:
        member_configs(spec.base, seeds=[spec.seed])
    except ConfigError as exc:
        return str(exc)
    return None


def check_population_spec(spec: SearchSpec) -> None:
    """Refuse evolved parameters that a population's agents must share."""
    for p in spec.parameters:
        if p.key in SHARED_BY_POPULATION:
            raise SpecError(f"{spec.source}: parameter {p.name!r} ({p.key}) cannot evolve on a population: its "
                            "agents share one batch; drop it from parameters, or run evolve without --population")


@dataclass
class Slot:
    """One agent of the population: the slot's current agent id and its evolved values."""

    index: int
    id: int
    hyperparameters: dict[str, Any]


class BatchedPopulation:
    """lab.search.evolve.Population's interface over one batched lab.Population."""

    trained_as = "population"

    def __init__(self, spec: SearchSpec, settings: dict[str, Any]) -> None:
        from lab.checkpoint import seed_everything
        from lab.train.population import Population

        self.spec, self.cfg = spec, spec.base
        n = settings["population"]
        self.per_agent = settings["generation_steps"] // n
        self.rng = seed_everything(spec.seed)
        values = [{p.name: p.sample(self.rng) for p in spec.parameters} for _ in range(n)]
        budget = {"run.total_steps": settings["generations"] * self.per_agent, "run.eval_every": 0,
                  "run.checkpoint_every": 0, "run.save_replay": False}
        configs = [spec.config_for(v).with_overrides({**budget, "run.seed": spec.seed + i})
                   for i, v in enumerate(values)]
        self.shared_replay = bool(settings["shared_replay"])
        self.population = Population(configs=configs, log_to_disk=False, name=spec.name,
                                     shared_replay=self.shared_replay)
        self.obs_dim, self.act_dim = self.population.obs_dim, self.population.act_dim
        self.members = [Slot(i, i, v) for i, v in enumerate(values)]
        self.next_id = n
        self.generation = 0

    @property
    def env_step(self) -> int:
        """Env steps of all agents together."""
        return sum(m.env_step for m in self.population.members)

    def train_generation(self) -> None:
        """Every agent trains up to the next generation's end; a Ctrl-C or signal during it is raised again."""
        self.generation += 1
        self.population.fit(until_step=self.generation * self.per_agent)
        if self.population.interrupted is not None:
            raise self.population.interrupted

    def evaluate(self) -> list[float]:
        """Every agent's mean return on the same fixed seeds."""
        from lab.evaluation import evaluate

        cfg = self.cfg
        return [evaluate(self.population.policy(m.index), episodes=cfg.run.eval_episodes, seed=cfg.run.eval_seed,
                         env_id=cfg.env.env_id, success_threshold=cfg.env.success_threshold, analyze=False,
                         max_episode_steps=cfg.env.max_episode_steps).mean_return for m in self.members]

    def replace(self, offspring: list[Any]) -> list[int]:
        """Copy winners into losers, each winner read before it is itself replaced (as from snapshots); new ids."""
        parents = [self.members[o.parent].id for o in offspring]
        for i in copy_order(offspring):
            o, m = offspring[i], self.members[i]
            if o.parent != i:
                self.population.copy_agent(o.parent, i)
                m.id, self.next_id = self.next_id, self.next_id + 1
            m.hyperparameters = dict(o.hyperparameters)
            self.population.update_hyperparameters(agent=i, **{p.key: m.hyperparameters[p.name]
                                                               for p in self.spec.parameters})
        return parents

    def config_of(self, m: Slot) -> Config:
        return self.spec.config_for(m.hyperparameters)

    def elite_parts(self, m: Slot) -> tuple[Config, Any, dict[str, Any]]:
        """The config, actor and learner state elite/ saves for slot m."""
        actor, critic = self.population.learner.agent_modules(m.index)
        return self.config_of(m), actor, {"actor": actor.state_dict(), "critic": critic.state_dict()}

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
