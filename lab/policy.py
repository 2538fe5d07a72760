"""A deterministic policy you can call on numpy observations.

``Policy`` is what watching, GIFs, evaluation and the notebooks use: it hides
torch, batching and devices behind ``policy(obs) -> action``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.config import NetworkConfig
from lab.networks import Actor

OBS_DIM, ACT_DIM = 8, 2
ASSETS = Path(__file__).resolve().parent.parent / "assets"
PRETRAINED_POLICY = ASSETS / "pretrained_policy.pt"
PRETRAINED_CARD = ASSETS / "pretrained_card.json"


class Policy:
    """Maps an observation of shape (8,) or (n, 8) to an action of shape (2,) or (n, 2)."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], name: str = "policy",
                 metadata: dict[str, Any] | None = None) -> None:
        self._fn = fn
        self.name = name
        self.metadata = metadata or {}

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape[-1:] != (OBS_DIM,) or obs.ndim not in (1, 2):
            raise ValueError(f"policy input must have shape (8,) or (n, 8), got {obs.shape}")
        single = obs.ndim == 1
        actions = self._fn(obs[None] if single else obs)
        return actions[0] if single else actions

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"

    @classmethod
    def from_actor(cls, actor: Actor, name: str = "actor", metadata: dict[str, Any] | None = None) -> Policy:
        """Wrap a live actor; it is copied to the CPU so training can keep updating the original."""
        import copy

        frozen = copy.deepcopy(actor).to("cpu").eval()
        for p in frozen.parameters():
            p.requires_grad_(False)

        def act(obs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return frozen(torch.from_numpy(obs)).numpy()

        policy = cls(act, name=name, metadata=metadata)
        policy.actor = frozen  # type: ignore[attr-defined]
        return policy


def heuristic_policy() -> Policy:
    """Gymnasium's hand-written lander controller (scores about 285), as a reference pilot."""
    from gymnasium.envs.box2d.lunar_lander import heuristic

    class _Continuous:  # heuristic() only reads env.unwrapped.continuous
        continuous = True
        unwrapped: Any = None

    env = _Continuous()
    env.unwrapped = env

    def act(obs: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(heuristic(env, o), dtype=np.float32) for o in obs])

    return Policy(act, name="heuristic")


def random_policy(seed: int = 0) -> Policy:
    """Uniform random actions, the baseline every agent should beat."""
    rng = np.random.default_rng(seed)
    return Policy(lambda obs: rng.uniform(-1, 1, size=(len(obs), ACT_DIM)).astype(np.float32), name="random")


def load_policy(path: str | Path | None = None, device: str = "cpu") -> Policy:
    """Load a policy file or a full checkpoint; with no path, the pretrained agent in assets/."""
    from lab.checkpoint import read_checkpoint_file

    path = Path(path) if path is not None else PRETRAINED_POLICY
    data = read_checkpoint_file(path)
    net = NetworkConfig(**data["network"])
    actor = Actor(int(data.get("obs_dim", OBS_DIM)), int(data.get("act_dim", ACT_DIM)), net)
    actor.load_state_dict(data["actor"])
    meta = {k: v for k, v in data.items() if k in ("env_step", "config", "kind")}
    return Policy.from_actor(actor, name=str(path), metadata=meta)


def as_policy(policy_or_path: Any) -> Policy:
    """Accept a Policy, any callable, a path, or None (the pretrained agent)."""
    if isinstance(policy_or_path, Policy):
        return policy_or_path
    if policy_or_path is None or isinstance(policy_or_path, (str, Path)):
        return load_policy(policy_or_path)
    if callable(policy_or_path):
        return Policy(lambda obs: np.asarray(policy_or_path(obs), dtype=np.float32), name="callable")
    raise TypeError(f"expected a Policy, a callable or a checkpoint path, got {type(policy_or_path).__name__}")
