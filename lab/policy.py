"""A deterministic policy you can call on numpy observations.

``Policy`` is what watching, GIFs, evaluation and the notebooks use: it hides
torch, batching and devices behind ``policy(obs) -> action``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from lab.agents.networks import Actor, TwinCritic
from lab.config import NetworkConfig
from lab.lander import ACT_DIM, OBS_DIM

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PRETRAINED_POLICY = ASSETS / "pretrained_policy.pt"
PRETRAINED_CARD = ASSETS / "pretrained_card.json"


NO_CRITIC = "no critic in this file"
"""What the value overlays say for a policy whose file holds no critic (older files, the pretrained agent)."""


class NoCriticError(ValueError):
    """The policy has no critic, so it cannot say what a state and action are worth."""


class Policy:
    """Maps an observation of shape (8,) or (n, 8) to an action of shape (2,) or (n, 2).

    A policy made from a learned actor keeps a frozen copy of it (``actor``) and, when its
    file or learner had one, of the twin critic (``critic``), so it can also say what it
    values: ``q_values`` and ``value``.
    """

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], name: str = "policy",
                 metadata: dict[str, Any] | None = None) -> None:
        self._fn = fn
        self.name = name
        self.metadata = metadata or {}
        self.actor: Actor | None = None
        self.critic: TwinCritic | None = None

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = _observations(obs)
        single = obs.ndim == 1
        actions = self._fn(obs[None] if single else obs)
        return actions[0] if single else actions

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"

    @property
    def no_critic_reason(self) -> str | None:
        """None when the policy has a critic; else the sentence an overlay shows instead of Q."""
        if self.critic is not None:
            return None
        return NO_CRITIC if self.actor is not None else f"no critic: {self.name} is not a learned agent"

    def q_values(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Both critics' Q(s, a): shape (n, 2) for n states and actions, (2,) for one."""
        if self.critic is None:
            raise NoCriticError(f"{self.name}: {self.no_critic_reason}")
        obs = _observations(obs)
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape[-1:] != (ACT_DIM,) or actions.shape[:-1] != obs.shape[:-1]:
            raise ValueError(f"actions must have shape {(*obs.shape[:-1], ACT_DIM)} to match the observations "
                             f"{obs.shape}, got {actions.shape}")
        single = obs.ndim == 1
        with torch.inference_mode():
            q = self.critic(torch.from_numpy(np.atleast_2d(obs)), torch.from_numpy(np.atleast_2d(actions)))
        pairs = q.T.numpy()  # the critic answers (2, n)
        return pairs[0] if single else pairs

    def value(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """min(Q1, Q2): TD3's own pessimistic estimate of (s, a), the one its targets use; (n,) or ()."""
        return self.q_values(obs, actions).min(axis=-1)

    @classmethod
    def from_actor(cls, actor: Actor, name: str = "actor", metadata: dict[str, Any] | None = None,
                   critic: TwinCritic | None = None) -> Policy:
        """Wrap a live actor (and critic); both are copied to the CPU so training can keep updating the originals."""
        frozen = _frozen(actor)

        def act(obs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return frozen(torch.from_numpy(obs)).numpy()

        policy = cls(act, name=name, metadata=metadata)
        policy.actor = frozen
        policy.critic = None if critic is None else _frozen(critic)
        return policy


M = TypeVar("M", bound=torch.nn.Module)


def _frozen(module: M) -> M:
    import copy

    frozen = copy.deepcopy(module).to("cpu").eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


def _observations(obs: np.ndarray) -> np.ndarray:
    obs = np.asarray(obs, dtype=np.float32)
    if obs.shape[-1:] != (OBS_DIM,) or obs.ndim not in (1, 2):
        raise ValueError(f"policy input must have shape ({OBS_DIM},) or (n, {OBS_DIM}), got {obs.shape}")
    return obs


def heuristic_policy() -> Policy:
    """Gymnasium's hand-written lander controller (scores about 285), as a reference pilot."""
    from lab.lander.pilot import heuristic_actions

    return Policy(heuristic_actions, name="heuristic")


def random_policy(seed: int = 0) -> Policy:
    """Uniform random actions, the baseline every agent should beat."""
    rng = np.random.default_rng(seed)
    return Policy(lambda obs: rng.uniform(-1, 1, size=(len(obs), ACT_DIM)).astype(np.float32), name="random")


def load_policy(path: str | Path | None = None, device: str = "cpu", agent: int | None = None) -> Policy:
    """Load a policy file or a full checkpoint; with no path, the pretrained agent in assets/.

    A population checkpoint (population.pt, or its folder) holds K policies: ``agent`` picks one,
    and without it the error says how many there are, since guessing agent 0 would hide the choice.
    """
    from lab.checkpoint import CheckpointError, read_checkpoint_file

    path = Path(path) if path is not None else PRETRAINED_POLICY
    if path.is_dir() and (path / POPULATION_FILE).exists() and not (path / "checkpoint.pt").exists():
        path = path / POPULATION_FILE
    data = read_checkpoint_file(path)
    if data.get("kind") == "population":
        actor, meta = _population_actor(path, data, agent)
        return Policy.from_actor(actor, name=f"{path}#agent{agent}", metadata=meta,
                                 critic=_population_critic(data, actor, agent))
    if agent is not None:
        raise CheckpointError(f"--agent {agent} is only for population checkpoints (population.pt), but "
                              f"{str(path)!r} holds a single agent: drop --agent")
    actor = _build_actor(path, data)
    meta = {k: v for k, v in data.items() if k in ("env_step", "config", "kind")}
    return Policy.from_actor(actor, name=str(path), metadata=meta, critic=_build_critic(path, data, actor))


POPULATION_FILE = "population.pt"
"""What lab.Population writes: every agent's policy in one file."""


def _population_actor(path: Path, data: dict[str, Any], agent: int | None) -> tuple[Actor, dict[str, Any]]:
    """Agent ``agent``'s actor out of a population checkpoint's stacked weights."""
    from lab.agents.networks import StackedActor
    from lab.checkpoint import CheckpointError

    configs = data.get("configs")
    if not isinstance(configs, list) or not configs:
        raise CheckpointError(f"population checkpoint {str(path)!r} lists no agents")
    count = len(configs)
    seeds = [c.get("run", {}).get("seed") for c in configs]
    if agent is None or not 0 <= agent < count:
        what = "asks which agent" if agent is None else f"has no agent {agent}"
        raise CheckpointError(f"{str(path)!r} is a population of {count} agents (seeds "
                              f"{', '.join(map(str, seeds))}) and {what}: pick one with --agent K, K from 0 to "
                              f"{count - 1} (agent=K in Python)")
    net = NetworkConfig(**data["network"])
    stacked = StackedActor([Actor(OBS_DIM, ACT_DIM, net) for _ in range(count)])
    try:
        stacked.load_state_dict(data["actor"])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"population checkpoint {str(path)!r} does not fit its network: "
                              f"{str(exc).splitlines()[0]}") from None
    member = data.get("agents", data.get("members", [{}] * count))[agent]
    meta = {"kind": "population", "agent": agent, "seed": seeds[agent], "config": configs[agent],
            "env_step": member.get("env_step") if isinstance(member, dict) else None}
    return stacked.unstack(agent), meta


def _build_actor(path: Path, data: dict[str, Any]) -> Actor:
    """The file's actor network with its weights; a mismatch is a CheckpointError naming the layer."""
    import dataclasses

    from lab.checkpoint import CheckpointError

    network = data["network"]
    allowed = [f.name for f in dataclasses.fields(NetworkConfig)]
    if not isinstance(network, dict):
        raise CheckpointError(f"policy file {str(path)!r} has a network entry of type {type(network).__name__}, "
                              "expected a mapping")
    unknown = sorted(str(k) for k in network if k not in allowed)
    if unknown:
        raise CheckpointError(f"policy file {str(path)!r} has an unknown network setting {unknown[0]!r}: "
                              f"allowed are {', '.join(allowed)}")
    try:
        net = NetworkConfig(**network)
        actor = Actor(int(data.get("obs_dim", OBS_DIM)), int(data.get("act_dim", ACT_DIM)), net)
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
        raise CheckpointError(f"policy file {str(path)!r} has an invalid network: {exc}") from None
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "alloc" not in str(exc):
            raise
        raise CheckpointError(f"policy file {str(path)!r} asks for a network too large for this machine's memory "
                              f"(actor_hidden={list(net.actor_hidden)})") from None
    _load_weights(path, actor, data["actor"], "actor", list(net.actor_hidden))
    return actor


def _population_critic(data: dict[str, Any], actor: Actor, agent: int | None) -> TwinCritic | None:
    """Agent ``agent``'s twin critic out of a population checkpoint's stacked learner (older files have none)."""
    from lab.agents.networks import StackedTwinCritic

    learner = data.get("learner")
    if agent is None or not isinstance(learner, dict) or not isinstance(learner.get("critic"), dict):
        return None
    count = len(data["configs"])
    net = actor.network_config
    stacked = StackedTwinCritic([TwinCritic(actor.obs_dim, actor.act_dim, net) for _ in range(count)])
    try:
        stacked.load_state_dict(learner["critic"])
    except (RuntimeError, KeyError):
        return None  # an older population file's layout: the policy flies, without a value overlay
    return stacked.unstack(agent, actor.obs_dim, actor.act_dim, net)


def _build_critic(path: Path, data: dict[str, Any], actor: Actor) -> TwinCritic | None:
    """The file's twin critic, when it holds one: a policy file's "critic" entry, or a full checkpoint's learner."""
    from lab.checkpoint import CheckpointError

    weights = data.get("critic")
    if weights is None and data.get("kind") == "checkpoint" and isinstance(data.get("agent"), dict):
        weights = data["agent"].get("critic")  # a training checkpoint: TD3's critic, when it fits a TwinCritic
        if not _fits(TwinCritic(actor.obs_dim, actor.act_dim, actor.network_config), weights):
            return None
    if weights is None:
        return None
    net = actor.network_config
    critic = TwinCritic(actor.obs_dim, actor.act_dim, net)
    try:
        _load_weights(path, critic, weights, "critic", list(net.critic_hidden))
    except CheckpointError as exc:
        raise CheckpointError(str(exc).replace("does not fit its network", "has a critic that does not fit its "
                                               "network")) from None
    return critic


def _fits(module: torch.nn.Module, weights: Any) -> bool:
    expected = module.state_dict()
    return (isinstance(weights, dict) and set(weights) == set(expected)
            and all(isinstance(weights[k], torch.Tensor) and weights[k].shape == v.shape for k, v in expected.items()))


def _load_weights(path: Path, module: torch.nn.Module, weights: Any, what: str, hidden: list[int]) -> None:
    """Load a state dict into module; a mismatch is a CheckpointError naming the layer."""
    from lab.checkpoint import CheckpointError

    expected = module.state_dict()
    if not isinstance(weights, dict):
        raise CheckpointError(f"policy file {str(path)!r} has {what} weights of type {type(weights).__name__}, "
                              "expected a mapping of tensors")
    for name, tensor in expected.items():
        if name not in weights:
            raise CheckpointError(f"policy file {str(path)!r} does not fit its network: layer {name!r} is missing")
        got = weights[name]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(tensor.shape):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckpointError(f"policy file {str(path)!r} does not fit its network: layer {name!r} has shape "
                                  f"{shape}, the network {hidden} needs {tuple(tensor.shape)}")
    extra = sorted(str(k) for k in weights if k not in expected)
    if extra:
        raise CheckpointError(f"policy file {str(path)!r} does not fit its network: it has an extra layer "
                              f"{extra[0]!r}")
    module.load_state_dict(weights)


def as_policy(policy_or_path: Any) -> Policy:
    """Accept a Policy, any callable, a path, or None (the pretrained agent)."""
    if isinstance(policy_or_path, Policy):
        return policy_or_path
    if policy_or_path is None or isinstance(policy_or_path, (str, Path)):
        return load_policy(policy_or_path)
    if callable(policy_or_path):
        return Policy(lambda obs: np.asarray(policy_or_path(obs), dtype=np.float32), name="callable")
    raise TypeError(f"expected a Policy, a callable or a checkpoint path, got {type(policy_or_path).__name__}")
