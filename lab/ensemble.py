"""An ensemble of learners that share one replay buffer and take turns to act (bootstrapped exploration).

Osband et al. 2016, "Deep Exploration via Bootstrapped DQN": K value learners trained on shared data, one of
them chosen to act for a whole episode, explore more deeply than noise added to one policy, because each
member is committed to its own guess for an episode at a time. Here a member is a whole learner of the
configured algorithm (its own actor, critics, targets and optimizers, and its own initialization; member 0
starts where a single run would). Every update trains every member on the same batch (the paper found
sharing all data works as well as bootstrap masks), so what one member's episodes discover, all learn from.

Members act in turn, one episode each, per env. The run deploys the member whose last ``window`` training
episodes have the best mean raw return (training data only: evaluation seeds never choose it), so a
member that loses its landing stops being the one deployed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lab.config import TrainingConfig
from lab.replay import Batch
from lab.td3 import TD3, UpdateResult


class Ensemble:
    """K learners behind the single learner's interface (act, explore, update, state_dict), plus episode turns."""

    def __init__(self, members: Sequence[TD3], num_envs: int, window: int) -> None:
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = list(members)
        self.acting = np.arange(num_envs) % len(self.members)
        """The member acting in each env."""
        self.next_turn = num_envs % len(self.members)
        self.recent: list[deque[float]] = [deque(maxlen=window) for _ in self.members]
        """Each member's last training returns (raw), newest last."""
        self.deployed = 0

    # ---- the single learner's interface: the deployed member answers --------------------
    @property
    def config(self) -> TrainingConfig:
        return self.members[0].config

    @config.setter
    def config(self, config: TrainingConfig) -> None:
        for member in self.members:
            member.config = config

    actor = property(lambda self: self.members[self.deployed].actor, doc="The deployed member's actor.")
    critic = property(lambda self: self.members[self.deployed].critic, doc="The deployed member's critics.")
    updates = property(lambda self: self.members[0].updates, doc="Updates taken (every member takes each one).")
    temperature = property(lambda self: self.members[self.deployed].temperature)

    def modules(self) -> list[torch.nn.Module]:
        """Every member's actor and critics, for the finite-weights check before a save."""
        return [module for m in self.members for module in (m.actor, m.critic)]

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.members[self.deployed].act(obs)

    def explore(self, obs: np.ndarray) -> np.ndarray:
        """Each env's row is answered by the member whose turn it is there."""
        if len(obs) != len(self.acting):
            raise ValueError(f"explore expects one row per env ({len(self.acting)}), got {len(obs)}")
        actions: np.ndarray | None = None
        for k in np.unique(self.acting):
            rows = self.acting == k
            answer = self.members[int(k)].explore(obs[rows])
            if actions is None:
                actions = np.empty((len(obs), answer.shape[-1]), dtype=answer.dtype)
            actions[rows] = answer
        assert actions is not None
        return actions

    def update(self, batch: Batch, want_metrics: bool = False) -> UpdateResult:
        """Every member learns from the batch; losses, Q and TD errors are the members' means."""
        results = [m.update(batch, want_metrics) for m in self.members]
        return UpdateResult(
            critic_loss=_mean([r.critic_loss for r in results]),
            actor_loss=None if results[0].actor_loss is None else _mean([r.actor_loss for r in results]),
            mean_q=_mean([r.mean_q for r in results]),
            td_errors=torch.stack([r.td_errors.abs() for r in results]).mean(dim=0),
            critic_grad_norm=_mean([r.critic_grad_norm for r in results]),
            actor_grad_norm=None if results[0].actor_grad_norm is None
            else _mean([r.actor_grad_norm for r in results]))

    def apply_schedule(self, progress: float) -> tuple[float, float]:
        """Every member's learning rates follow the schedule; they share one config, so one answer serves."""
        rates = [m.apply_schedule(progress) for m in self.members]
        return rates[0]

    # ---- turns and deployment --------------------------------------------------------------
    def episode_ended(self, env_index: int, raw_return: float) -> None:
        """Credit the return to the member that flew it, hand the env to the next member, re-pick the deployed."""
        self.recent[int(self.acting[env_index])].append(raw_return)
        self.acting[env_index] = self.next_turn
        self.next_turn = (self.next_turn + 1) % len(self.members)
        self.deployed = best_member(self.recent)

    # ---- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"members": [m.state_dict() for m in self.members], "acting": self.acting.tolist(),
                "next_turn": self.next_turn, "recent": [list(r) for r in self.recent], "deployed": self.deployed}

    def load_state_dict(self, data: dict[str, Any]) -> None:
        if len(data.get("members", ())) != len(self.members):
            raise ValueError(f"the state holds {len(data.get('members', ()))} ensemble members, "
                             f"this ensemble has {len(self.members)}")
        for member, state in zip(self.members, data["members"]):
            member.load_state_dict(state)
        self.acting = np.asarray(data["acting"], dtype=np.int64)
        self.next_turn = int(data["next_turn"])
        for recent, returns in zip(self.recent, data["recent"]):
            recent.clear()
            recent.extend(float(r) for r in returns)
        self.deployed = int(data["deployed"])


def best_member(recent: Sequence[deque[float]]) -> int:
    """The member with the best mean over a full window; members with part of one count only if none is full
    (early in a run); member 0 before any episode. Ties go to the lower index."""
    full = [k for k, r in enumerate(recent) if r.maxlen is not None and len(r) == r.maxlen]
    candidates = full or [k for k, r in enumerate(recent) if r]
    if not candidates:
        return 0
    return max(candidates, key=lambda k: (float(np.mean(recent[k])), -k))


def _mean(values: Sequence[Any]) -> torch.Tensor:
    return torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in values]).mean()
