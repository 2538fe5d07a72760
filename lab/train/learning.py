"""The learning half of a step: pay every agent's update debt with batched TD3 updates, and watch them.

The update debt paces learning to collection: each new transition owes ``updates_per_step``
updates, paid in whole updates, once an agent has passed ``learning_starts`` and its buffer
holds a batch. An update carries the agents the learner's stacks hold; among them only those
that still owe one draw a batch and move (the mask). Each update samples (importance-weighted
under PER), runs TD3 and writes the new TD errors back as priorities. Losses and Q are checked
every update: an agent whose values turn NaN or infinite fails alone, before anything of it can
reach a saved file, and the others go on. Every METRICS_EVERY of its updates an agent hears its
UpdateMetrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from lab.agents.replay import ReplayBuffer, per_beta
from lab.agents.td3 import TD3, UpdateResult, lr_factor
from lab.events import UpdateMetrics
from lab.rollout.noise import noise_scale
from lab.train.slot import AgentSlot

METRICS_EVERY = 250
"""Updates between metric reports: often enough for charts, rare enough to cost nothing."""
LOSS_BLOWUP = 1e8
"""A critic loss above this means the values blew up (returns here are hundreds, squared errors at most ~1e5)."""

Publish = Callable[[AgentSlot, Any], None]


class Learning:
    """Turns the agents' update debts into batched updates, their metrics into events, their NaNs into failures."""

    def __init__(self, learner: TD3, buffer: ReplayBuffer, slots: Sequence[AgentSlot], publish: Publish,
                 seconds: Callable[[], float]) -> None:
        self.learner, self.buffer, self.slots = learner, buffer, slots
        self.publish, self.seconds = publish, seconds
        agents, device = len(slots), learner.device
        # Sums since each agent's last report stay on the learner's device: no sync per update.
        self._sums = torch.zeros(3, agents, dtype=torch.float64, device=device)  # critic loss, mean Q, actor loss
        self._actor_counts = torch.zeros(agents, dtype=torch.long, device=device)
        self._counts = np.zeros(agents, dtype=np.int64)  # updates since the last report
        self._norms = np.full((2, agents), np.nan)  # the last critic and actor gradient norms

    def ready(self, slot: AgentSlot) -> bool:
        t = slot.config.training
        return slot.env_step >= t.learning_starts and int(self.buffer.size[slot.index]) >= t.batch_size

    def owe(self, slot: AgentSlot, new_transitions: int) -> None:
        """The agent's new real transitions owe their updates (once it may learn)."""
        if self.ready(slot):
            slot.update_debt += slot.config.training.updates_per_step * new_transitions

    def pay(self) -> dict[int, str]:
        """Pay every debt the learner's agents owe; returns the agents that diverged, with why."""
        learning = [self.slots[k] for k in self.learner.active]
        debts = np.array([m.update_debt if self.ready(m) else 0.0 for m in learning])
        failed: dict[int, str] = {}
        if not (debts >= 1.0).any():
            return failed
        self._apply_schedules(learning)
        agents = self.learner.active
        rows_on_device = None if agents == list(range(len(self.slots))) else torch.tensor(agents,
                                                                                          device=self.learner.device)
        config = learning[0].config.training
        gammas = [m.config.training.gamma for m in learning]
        betas = [per_beta(m.config.training.per_beta_start, m.config.training.per_beta_end,
                          m.env_step / m.config.run.total_steps) for m in learning]
        while (debts >= 1.0).any():
            owing = debts >= 1.0
            debts[owing] -= 1.0
            want_norms = bool((self._counts[agents] + owing >= METRICS_EVERY).any())
            batch = self.buffer.sample(config.batch_size, gammas, agents, owing, betas)
            mask = None if owing.all() else torch.from_numpy(owing).to(self.learner.device)
            result = self.learner.update(batch, mask, want_norms)
            if not bool(torch.isfinite(result.critic_loss).all()):  # one check per update; NaN spreads into it
                for row, reason in self._diverged(result, owing).items():
                    failed[agents[row]] = reason
                    debts[row] = 0.0
                    self._publish_divergence(learning[row], result, row, betas[row])
            if self.buffer.prioritized:
                rows = [int(row) for row in np.flatnonzero(owing) if agents[row] not in failed]
                self.buffer.update_priorities([agents[r] for r in rows], batch.indices[rows],
                                              result.td_errors[rows].cpu().numpy(),
                                              [learning[r].config.training.per_alpha for r in rows],
                                              [learning[r].config.training.per_epsilon for r in rows])
            self._accumulate(result, agents, rows_on_device, owing, failed, betas)
        for m, debt in zip(learning, debts):
            m.update_debt = float(debt)
        return failed

    def _apply_schedules(self, learning: list[AgentSlot]) -> None:
        factors = {m.index: lr_factor(m.config.training.lr_schedule, m.env_step / m.config.run.total_steps)
                   for m in learning if m.config.training.lr_schedule != "constant"}
        if factors:
            self.learner.set_lr_factors(factors)

    def _diverged(self, result: UpdateResult, owing: np.ndarray) -> dict[int, str]:
        """Rows of this update whose loss or Q is not finite, with a one-line reason each."""
        values = {"critic loss": result.critic_loss, "Q": result.mean_q,
                  "actor loss": torch.where(result.actor_updated, result.actor_loss, 0.0)}
        finite = torch.stack([torch.isfinite(v) for v in values.values()]).all(dim=0).cpu().numpy()
        bad = np.flatnonzero(~finite & owing)
        reasons = {}
        for row in bad:
            k = self.learner.active[row]
            name = next(n for n, v in values.items() if not math.isfinite(float(v[row])))
            what = "NaN" if math.isnan(float(values[name][row])) else "infinite"
            reasons[int(row)] = f"{name} became {what} at update {self.slots[k].updates + 1}"
        return reasons

    def _accumulate(self, result: UpdateResult, agents: list[int], rows_on_device: torch.Tensor | None,
                    owing: np.ndarray, failed: dict[int, str], betas: list[float]) -> None:
        """Add one update to each agent's sums (rows_on_device None: the stacks hold every agent, in order)."""
        live = owing & np.array([k not in failed for k in agents]) if failed or not owing.all() else owing
        updated = result.actor_updated
        if live is not owing or not owing.all():
            live_t = torch.from_numpy(live).to(self.learner.device)
            updated = updated & live_t
            values = torch.stack([torch.where(live_t, result.critic_loss, 0.0), torch.where(live_t, result.mean_q, 0.0),
                                  torch.where(updated, result.actor_loss, 0.0)])
        else:
            values = torch.stack([result.critic_loss, result.mean_q, torch.where(updated, result.actor_loss, 0.0)])
        if rows_on_device is None:
            self._sums += values
            self._actor_counts += updated
        else:
            self._sums[:, rows_on_device] += values.double()
            self._actor_counts[rows_on_device] += updated.long()
        self._counts[agents] += live
        actor_live = live & result.actor_updated.cpu().numpy()  # an actor that did not step has no gradient
        for norms, which, rows in ((result.critic_grad_norm, 0, live), (result.actor_grad_norm, 1, actor_live)):
            if norms is not None:
                self._norms[which, agents] = np.where(rows, norms.cpu().numpy(), self._norms[which, agents])
        for row in np.flatnonzero(live):
            m = self.slots[agents[row]]
            m.updates += 1
            if self._counts[m.index] >= METRICS_EVERY:
                self._publish_metrics(m, betas[row])

    def _publish_divergence(self, m: AgentSlot, result: UpdateResult, row: int, beta: float) -> None:
        """The diverged update's values, the non-finite ones named, so updates.jsonl shows what went wrong."""
        values = {"critic_loss": float(result.critic_loss[row]), "mean_q": float(result.mean_q[row]),
                  "actor_loss": float(result.actor_loss[row])}
        bad = tuple(name for name, v in values.items() if not math.isfinite(v) and
                    (name != "actor_loss" or bool(result.actor_updated[row])))
        self.publish(m, UpdateMetrics(
            env_step=m.env_step, updates=m.updates + 1, critic_grad_norm=float("nan"), actor_grad_norm=float("nan"),
            actor_lr=self.learner.setting("actor_lr", m.index), critic_lr=self.learner.setting("critic_lr", m.index),
            noise_scale=noise_scale(m.config.noise, m.episodes), per_beta=beta,
            steps_per_second=m.env_step / max(self.seconds(), 1e-9), nonfinite=bad, **values))

    def _publish_metrics(self, m: AgentSlot, beta: float) -> None:
        k = m.index
        n, n_actor = int(self._counts[k]), int(self._actor_counts[k])
        sums = self._sums[:, k].tolist()
        critic, q = sums[0] / n, sums[1] / n
        actor = sums[2] / n_actor if n_actor else float("nan")
        if critic > LOSS_BLOWUP and not any("blew up" in w for w in m.warnings):
            m.warnings.append(f"critic loss reached {critic:.3g} at update {m.updates}: its values blew up, so its "
                              "policy is unlikely to be any good (try lower learning rates)")
        self.publish(m, UpdateMetrics(
            env_step=m.env_step, updates=m.updates, critic_loss=float(critic), mean_q=float(q), actor_loss=actor,
            critic_grad_norm=float(self._norms[0, k]), actor_grad_norm=float(self._norms[1, k]),
            actor_lr=self.learner.setting("actor_lr", k), critic_lr=self.learner.setting("critic_lr", k),
            noise_scale=noise_scale(m.config.noise, m.episodes), per_beta=beta,
            steps_per_second=m.env_step / max(self.seconds(), 1e-9)))
        self._sums[:, k] = 0.0
        self._actor_counts[k] = 0
        self._counts[k] = 0
