"""Population-based training: N TD3 agents, one shared replay buffer, evolving hyperparameters.

Each generation the agents take turns at the controls, generation_steps env steps
in all, each learning from the shared buffer as it drives. Then every agent is
evaluated on the same fixed seeds, and its mean return is its fitness.
Selection is a tournament with elitism: the ``elite`` best survive untouched;
every other agent meets ``tournament_size`` rivals and, if one of them is
fitter, becomes a copy of it (weights and optimizer state) with mutated
hyperparameters, kept inside the search file's bounds.

The agents drive the Trainer's own Collector and learn through its Learner, so
n-step returns, prioritized replay and the noise schedule apply as configured.
With ``population=True`` (``lab evolve --population``) they train at once as one
batched lab.Population instead, each with its own replay buffer unless the file
says ``shared_replay: true`` (lab.search.evolve_population).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lab.config import field_info
from lab.io import atomic_write_json, atomic_write_text
from lab.search.space import Parameter, Range, SearchSpec, SpecError, format_params, load_spec

EVOLVE_KEYS = ("population", "generations", "generation_steps", "tournament_size", "elite", "perturb",
               "resample_probability", "shared_replay")
MUTABLE = tuple(field_info(name).key for name in ("actor_lr", "critic_lr", "batch_size", "sigma", "policy_delay"))
"""The live hyperparameters PBT evolves (a member's change is a live change between its turns)."""
DEFAULTS: dict[str, Any] = {"population": 4, "generations": 5, "generation_steps": 5000, "tournament_size": 2,
                            "elite": 1, "perturb": [0.8, 1.25], "resample_probability": 0.2, "shared_replay": None}
"""shared_replay None: the path's own way (one shared buffer alone, a buffer per agent on a population)."""
RESULTS_ROOT = Path("sweep_results")

Log = Callable[[str], None]


# ---- the search file ------------------------------------------------------------------------------
def load_evolve_spec(path: str | Path) -> SearchSpec:
    spec = load_spec(path, kind="evolve", extra_keys=EVOLVE_KEYS)
    check_evolve_spec(spec)
    return spec


def settings(spec: SearchSpec) -> dict[str, Any]:
    return {**DEFAULTS, **spec.extra}


def check_evolve_spec(spec: SearchSpec) -> None:
    """Population settings and mutable parameters, checked before any agent is built."""
    where, s = spec.source, settings(spec)
    n = s["population"]
    _int(where, "population", n, 2, 1000)
    _int(where, "generations", s["generations"], 1, 1_000_000)
    _int(where, "generation_steps", s["generation_steps"], n, 10**9)
    _int(where, "tournament_size", s["tournament_size"], 1, n - 1)
    _int(where, "elite", s["elite"], 0, n - 1)
    perturb = s["perturb"]
    if not (isinstance(perturb, list) and perturb and all(_positive(f) for f in perturb)):
        raise SpecError(f"{where}: perturb={perturb!r} is invalid: allowed a list of positive factors, "
                        "e.g. [0.8, 1.25]")
    if s["shared_replay"] not in (None, True, False):
        raise SpecError(f"{where}: shared_replay={s['shared_replay']!r} is invalid: allowed true or false")
    p = s["resample_probability"]
    if not (_number(p) and 0.0 <= p <= 1.0):
        raise SpecError(f"{where}: resample_probability={p!r} is invalid: allowed a number in [0, 1]")
    for param in spec.parameters:
        if param.key not in MUTABLE:
            raise SpecError(f"{where}: parameter {param.name!r} ({param.key}) cannot evolve: allowed "
                            f"{', '.join(MUTABLE)}")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive(v: Any) -> bool:
    return _number(v) and v > 0


def _int(where: str, name: str, value: Any, lo: int, hi: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi):
        raise SpecError(f"{where}: {name}={value!r} is invalid: allowed an integer in [{lo}, {hi}]")


# ---- selection and mutation (pure: numbers in, decisions out) ---------------------------------
@dataclass(frozen=True)
class Offspring:
    """What one slot holds next generation: a copy of ``parent`` (itself when it survived), with these values."""

    parent: int
    hyperparameters: dict[str, Any]
    mutations: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def next_generation(fitness: list[float], hyperparameters: list[dict[str, Any]], parameters: tuple[Parameter, ...],
                    rng: np.random.Generator, tournament_size: int = 2, elite: int = 1,
                    perturb: tuple[float, ...] = (0.8, 1.25), resample_probability: float = 0.2) -> list[Offspring]:
    """Tournament selection with elitism, then mutation of every replaced slot."""
    n = len(fitness)
    order = sorted(range(n), key=lambda i: -fitness[i])
    elites = set(order[:elite])
    out = []
    for i in range(n):
        if i in elites:
            out.append(Offspring(i, dict(hyperparameters[i])))
            continue
        rivals = rng.choice([j for j in range(n) if j != i], size=min(tournament_size, n - 1), replace=False)
        winner = max((int(j) for j in rivals), key=lambda j: fitness[j])
        if fitness[winner] <= fitness[i]:
            out.append(Offspring(i, dict(hyperparameters[i])))  # it beat its rivals: it survives as it is
            continue
        values, mutations = dict(hyperparameters[winner]), {}
        for p in parameters:
            old = values[p.name]
            values[p.name] = mutate(p, old, rng, perturb, resample_probability)
            if values[p.name] != old:
                mutations[p.name] = (old, values[p.name])
        out.append(Offspring(winner, values, mutations))
    return out


def mutate(p: Parameter, value: Any, rng: np.random.Generator, perturb: tuple[float, ...],
           resample_probability: float) -> Any:
    """Resample with resample_probability; else scale a number by a perturb factor and clip it to its bounds."""
    if rng.random() < resample_probability:
        return p.sample(rng)
    if isinstance(p.domain, Range):
        scaled = value * float(perturb[int(rng.integers(len(perturb)))])
        return p.domain.clip(float(f"{scaled:.4g}"))
    return value  # a choice changes only by resampling


# ---- the population ---------------------------------------------------------------------------------
@dataclass
class Member:
    """One agent in a slot: its learner (TD3 on the shared buffer), its own noise process and its values."""

    id: int
    learner: Any
    noise: Any
    hyperparameters: dict[str, Any]

    @property
    def agent(self) -> Any:
        return self.learner.agent


class Population:
    """The agents, the shared buffer and the Collector they take turns driving.

    The rollout and the update are the Trainer's own (``lab.collector``, ``lab.learner``), so
    n-step returns, prioritized replay and the noise schedule work here as they do there.
    A member's hyperparameters are its frozen Config, swapped in when it drives.
    """

    trained_as = "one after another"
    shared_replay = True

    def __init__(self, spec: SearchSpec) -> None:
        import torch

        from lab.checkpoint import seed_everything
        from lab.collector import Collector
        from lab.events import EventBus
        from lab.learner import make_buffer
        from lab.rollout.envs import episode_seeds

        self.spec, self.cfg = spec, spec.base
        self.settings = settings(spec)
        cfg = self.cfg
        torch.set_num_threads(cfg.run.torch_threads)
        self.rng = seed_everything(spec.seed)
        self.collector = Collector(cfg, self.rng)
        self.obs_dim, self.act_dim = self.collector.obs_dim, self.collector.act_dim
        self.buffer = make_buffer(cfg, self.obs_dim, self.act_dim, seed=spec.seed + 1)
        self.events = EventBus()
        """EpisodeEnded and UpdateMetrics of every member, as a Trainer publishes them."""
        self.env_step = self.episodes = 0
        self.total_steps = self.settings["generations"] * self.settings["generation_steps"]
        self.members = [self._new_member(i, {p.name: p.sample(self.rng) for p in spec.parameters})
                        for i in range(self.settings["population"])]
        self.next_id = len(self.members)
        self.collector.reset(episode_seeds(spec.seed, 0, cfg.env.num_envs))

    def _new_member(self, i: int, values: dict[str, Any]) -> Member:
        from lab.learner import Learner, make_agent
        from lab.rollout.noise import make_noise

        cfg = self.cfg
        agent = make_agent(cfg, self.obs_dim, self.act_dim)
        noise = make_noise(cfg.noise, cfg.env.num_envs, self.act_dim, self.rng)
        member = Member(i, Learner(agent, self.buffer, cfg), noise, values)
        self._configure(member)
        return member

    def _configure(self, m: Member) -> None:
        """A member's values are a config swap: its learner and its noise read them from now on."""
        from lab.rollout.noise import reconfigured

        config = self.config_of(m).with_overrides({"run.total_steps": self.total_steps})
        m.learner.set_config(config)
        m.agent.apply_schedule(self.env_step / self.total_steps)  # the optimizers' lr follows at once
        m.noise = reconfigured(m.noise, config.noise, config.env.num_envs, self.act_dim, self.rng)

    # ---- collecting and learning ------------------------------------------------------------------
    def drive(self, m: Member, steps: int) -> None:
        """m acts (with its noise) for ``steps`` real env steps, storing into the shared buffer and learning."""
        from lab.events import EpisodeEnded
        from lab.rollout.noise import noise_scale
        from lab.train.live import scheduled_per_beta

        config = m.learner.config
        t = config.training
        self.collector.noise = m.noise
        self.collector.set_config(config)
        m.noise.reset()
        target = self.env_step + steps
        while self.env_step < target:
            warming_up = self.env_step < t.learning_starts or self.episodes < t.warmup_episodes
            step = self.collector.step(None if warming_up else m.agent.explore,
                                       noise_scale(config.noise, self.episodes))
            m.learner.store(step.transitions)
            self.env_step += step.new_transitions
            for e in step.episodes:
                self.episodes += 1
                self.events.publish(EpisodeEnded(
                    env_step=self.env_step, episode=self.episodes, raw_return=e.raw_return,
                    shaped_return=e.shaped_return, length=e.trajectory.length,
                    success=e.raw_return >= config.env.success_threshold, env_index=e.env_index,
                    trajectory=e.trajectory))
            beta = scheduled_per_beta(config, {}, self.env_step)
            m.learner.learn(step.new_transitions, self.env_step, beta, self._publish_metrics)
            for e in step.episodes:  # an ensemble's turns; policy checkpoints' windows (and their owed updates)
                m.learner.episode_ended(e.env_index, e.raw_return, self.env_step, beta, self._publish_metrics)

    def _publish_metrics(self, metrics: dict[str, Any]) -> None:
        from lab.events import UpdateMetrics

        self.events.publish(UpdateMetrics(env_step=self.env_step, noise_scale=float("nan"),
                                          steps_per_second=float("nan"), **metrics))

    def train_generation(self) -> None:
        """The members take turns driving, generation_steps env steps in all."""
        for m in self.members:
            self.drive(m, self.settings["generation_steps"] // len(self.members))

    def evaluate(self) -> list[float]:
        """Every member's mean return on the same fixed seeds."""
        from lab.evaluation import evaluate
        from lab.policy import Policy

        cfg = self.cfg
        return [evaluate(Policy.from_actor(m.agent.actor), episodes=cfg.run.eval_episodes, seed=cfg.run.eval_seed,
                         env_id=cfg.env.env_id, success_threshold=cfg.env.success_threshold, analyze=False,
                         max_episode_steps=cfg.env.max_episode_steps).mean_return for m in self.members]

    def replace(self, offspring: list[Offspring]) -> list[int]:
        """Copy winners into losers (from snapshots, so a copied winner can itself be replaced); new ids."""
        snapshots = {o.parent: copy.deepcopy(self.members[o.parent].agent.state_dict())
                     for i, o in enumerate(offspring) if o.parent != i}
        parents = [self.members[o.parent].id for o in offspring]
        for i, o in enumerate(offspring):
            m = self.members[i]
            if o.parent != i:
                m.agent.load_state_dict(snapshots[o.parent])
                m.id, self.next_id = self.next_id, self.next_id + 1
                m.noise.reset()
            m.hyperparameters = dict(o.hyperparameters)
            self._configure(m)
        return parents

    def config_of(self, m: Member) -> Any:
        return self.spec.config_for(m.hyperparameters)

    def elite_parts(self, m: Member) -> tuple[Any, Any, dict[str, Any]]:
        """The config, actor and learner state elite/ saves for member m."""
        return self.config_of(m), m.agent.actor, copy.deepcopy(m.agent.state_dict())

    def close(self) -> None:
        self.collector.close()


# ---- the run ----------------------------------------------------------------------------------------
def default_folder(spec: SearchSpec) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS_ROOT / f"{stamp}_{spec.name}"


def make_population(spec: SearchSpec, batched: bool, log: Log = print) -> Any:
    """The agents: a batched lab.Population when asked for and the config allows it, else one after another."""
    from lab.search.evolve_population import BatchedPopulation, check_population_spec, population_refusal

    s = settings(spec)
    if batched:
        check_population_spec(spec)
        refusal = population_refusal(spec)
        if refusal is None:
            return BatchedPopulation(spec, {**s, "shared_replay": bool(s["shared_replay"])})
        log(f"evolve trains its agents one after another (not as a population): {refusal}")
    if s["shared_replay"] is False:
        raise SpecError(f"{spec.source}: shared_replay=false needs a population (--population): agents trained "
                        "one after another share one replay buffer")
    return Population(spec)


def run_evolve(spec: SearchSpec, folder: str | Path | None = None, log: Log = print,
               population: bool = False) -> dict[str, Any]:
    """Evolve for the configured generations; writes lineage.json and elite/ after every generation.

    population: train the agents at once as a batched lab.Population (lab.search.evolve_population).
    """
    folder = Path(folder) if folder is not None else default_folder(spec)
    s = settings(spec)
    pop = make_population(spec, population, log)
    agents = {m.id: {"parent": None, "born": 0, "slot": i, "hyperparameters": dict(m.hyperparameters)}
              for i, m in enumerate(pop.members)}
    lineage: dict[str, Any] = {"name": spec.name, "spec": spec.raw, "settings": s, "generations": [],
                               "agents": agents, "trained_as": pop.trained_as, "shared_replay": pop.shared_replay}
    started = time.perf_counter()
    try:
        for g in range(1, s["generations"] + 1):
            pop.train_generation()
            fitness = pop.evaluate()
            best = pop.members[int(np.argmax(fitness))]
            record = {"generation": g, "env_step": pop.env_step, "seconds": round(time.perf_counter() - started, 2),
                      "members": [{"slot": i, "agent": m.id, "fitness": fitness[i],
                                   "hyperparameters": dict(m.hyperparameters)} for i, m in enumerate(pop.members)],
                      "best": {"slot": int(np.argmax(fitness)), "agent": best.id, "fitness": max(fitness)},
                      "mean_fitness": float(np.mean(fitness))}
            lineage["elite"] = save_elite(pop, best, max(fitness), g, folder)
            log(f"generation {g}: best {max(fitness):.1f} (agent {best.id}: {format_params(best.hyperparameters)}), "
                f"mean {np.mean(fitness):.1f}, {pop.env_step} env steps")
            if g < s["generations"]:
                offspring = next_generation(fitness, [m.hyperparameters for m in pop.members], spec.parameters,
                                            pop.rng, s["tournament_size"], s["elite"], tuple(s["perturb"]),
                                            s["resample_probability"])
                record["next"] = _replace(pop, offspring, agents, g)
            lineage["generations"].append(record)
            atomic_write_json(folder / "lineage.json", lineage)
    finally:
        pop.close()
    log(f"elite policy: {lineage['elite']['policy']} (python -m lab watch {lineage['elite']['policy']})")
    return {"folder": str(folder), "elite": lineage["elite"], "generations": len(lineage["generations"])}


def _replace(pop: Any, offspring: list[Offspring], agents: dict[int, Any], generation: int) -> list[dict]:
    """Apply the offspring; record each new agent's parent in ``agents``; return what happened per slot."""
    parents = pop.replace(offspring)
    changes = []
    for i, (m, o) in enumerate(zip(pop.members, offspring)):
        copied = o.parent != i
        if copied:
            agents[m.id] = {"parent": parents[i], "born": generation, "slot": i,
                            "hyperparameters": dict(m.hyperparameters)}
        changes.append({"slot": i, "agent": m.id, "parent": parents[i] if copied else None,
                        "mutations": {k: list(v) for k, v in o.mutations.items()}})
    return changes


def save_elite(pop: Any, m: Any, fitness: float, generation: int, folder: Path) -> dict[str, Any]:
    """elite/policy.pt (watch, gif, eval), elite/agent.pt (with the full learner state) and elite/config.yaml."""
    from lab.checkpoint import save_policy, write_checkpoint_file

    elite_dir = folder / "elite"
    config, actor_module, agent_state = pop.elite_parts(m)
    meta = {"env_step": pop.env_step, "generation": generation, "fitness": float(fitness), "agent_id": m.id,
            "hyperparameters": dict(m.hyperparameters)}
    policy = save_policy(actor_module, elite_dir / "policy.pt", config.network, meta)
    actor = {k: v.detach().cpu().clone() for k, v in actor_module.state_dict().items()}
    agent = write_checkpoint_file(elite_dir / "agent.pt", {
        "kind": "policy", "network": config.to_dict()["network"], "actor": actor, "obs_dim": pop.obs_dim,
        "act_dim": pop.act_dim, "agent": agent_state, "config": config.to_dict(), **meta})
    atomic_write_text(elite_dir / "config.yaml", f"# PBT elite: agent {m.id}, generation {generation}, fitness "
                                                 f"{fitness:.2f}\n" + config.to_yaml())
    return {"policy": str(policy), "agent": str(agent), "config": str(elite_dir / "config.yaml"), **meta}
