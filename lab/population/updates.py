"""The learning half of a population step: pay every agent's update debt with batched updates.

An update carries the agents the learner's stacks hold; among them, only those that
still owe an update draw a batch and move (the mask). Learning-rate schedules are
applied per agent first, as lab.td3.TD3.apply_schedule does, and each agent hears
its UpdateMetrics every METRICS_EVERY of its own updates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from lab.events import UpdateMetrics
from lab.learner import METRICS_EVERY
from lab.population.events import Publish
from lab.population.learner import PopulationTD3, PopulationUpdate
from lab.population.members import Member
from lab.population.replay import StackedReplayBuffer


def schedule_factor(schedule: str, progress: float) -> float:
    """The learning-rate multiplier lab.td3.TD3.apply_schedule uses at progress in [0, 1]."""
    if schedule == "linear":
        return 1.0 - 0.9 * progress
    if schedule == "cosine":
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


class PopulationUpdates:
    """Turns the members' update debts into batched updates and their metrics into UpdateMetrics events."""

    def __init__(self, learner: PopulationTD3, buffer: StackedReplayBuffer, members: list[Member],
                 publish: Publish, seconds: Callable[[], float]) -> None:
        self.learner, self.buffer, self.members = learner, buffer, members
        self.publish, self.seconds = publish, seconds
        agents = len(members)
        self._sums = torch.zeros(3, agents)  # critic loss, mean Q, actor loss
        self._counts = np.zeros((2, agents), dtype=np.int64)  # updates, actor updates

    def learn(self) -> None:
        """Pay every debt the learner's agents owe; an update includes exactly the agents that still owe one."""
        learning = [self.members[k] for k in self.learner.active]
        debts = np.array([m.update_debt for m in learning])
        if not (debts >= 1.0).any():
            return
        self._apply_schedules(learning)
        agents = self.learner.active
        gammas = np.array([m.config.training.gamma for m in learning])
        batch_size = learning[0].config.training.batch_size
        while (debts >= 1.0).any():
            owing = debts >= 1.0
            debts[owing] -= 1.0
            batch = self.buffer.sample(batch_size, gammas, agents, owing)
            result = self.learner.update(batch, None if owing.all() else torch.from_numpy(owing))
            self._accumulate(result, agents, owing)
        for m, debt in zip(learning, debts):
            m.update_debt = float(debt)

    def _apply_schedules(self, learning: list[Member]) -> None:
        for m in learning:
            t = m.config.training
            if t.lr_schedule != "constant":
                factor = schedule_factor(t.lr_schedule, m.env_step / m.config.run.total_steps)
                self.learner.set("actor_lr", m.index, t.actor_lr * factor)
                self.learner.set("critic_lr", m.index, t.critic_lr * factor)

    def _accumulate(self, result: PopulationUpdate, agents: list[int], owing: np.ndarray) -> None:
        live = torch.from_numpy(owing)
        actor = torch.nan_to_num(result.actor_loss) * result.actor_updated
        self._sums[:, agents] += torch.stack([result.critic_loss * live, result.mean_q * live, actor])
        self._counts[0, agents] += owing
        self._counts[1, agents] += result.actor_updated.numpy()
        for row in np.flatnonzero(owing):
            m = self.members[agents[row]]
            m.updates += 1
            if self._counts[0, m.index] >= METRICS_EVERY:
                self._publish_metrics(m)

    def _publish_metrics(self, m: Member) -> None:
        k = m.index
        sums, (n, n_actor) = self._sums[:, k].tolist(), self._counts[:, k]
        values = m.live_values()
        self.publish(m, UpdateMetrics(
            env_step=m.env_step, updates=m.updates, critic_loss=sums[0] / n, mean_q=sums[1] / n,
            actor_loss=sums[2] / n_actor if n_actor else float("nan"),
            critic_grad_norm=float("nan"), actor_grad_norm=float("nan"),
            actor_lr=self.learner.get("actor_lr", k), critic_lr=self.learner.get("critic_lr", k),
            noise_scale=values["noise_scale"], per_beta=values["per_beta"],
            steps_per_second=m.env_step / max(self.seconds(), 1e-9)))
        self._sums[:, k] = 0.0
        self._counts[:, k] = 0
