"""When each agent is evaluated, and what an evaluation records.

Every run.eval_every env steps of the agent's own, on the agent's evaluation seeds, with its
deterministic policy: the evaluation keeps the agent's best policy (best_policy.pt, only from
finite weights) and the step and training seconds at which it first solved the task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lab.checkpoint import save_policy
from lab.evaluation import EvaluationResult, evaluate
from lab.events import Evaluated
from lab.policy import Policy
from lab.train.slot import AgentSlot


def evaluation_due(m: AgentSlot) -> bool:
    """The agent crossed a multiple of its eval_every since its last evaluation."""
    every = m.config.run.eval_every
    return bool(every) and m.env_step > 0 and m.env_step // every > max(m.last_eval_step, 0) // every


def evaluate_agent(m: AgentSlot, policy: Policy, train_seconds: float, publish: Callable[[AgentSlot, Any], None],
                   episodes: int | None = None) -> EvaluationResult:
    """Evaluate one agent's policy now, record it and keep it as best_policy.pt when it is the best so far."""
    started = time.perf_counter()
    cfg = m.config
    result = evaluate(policy, episodes=episodes or cfg.run.eval_episodes, seed=cfg.run.eval_seed,
                      env_id=cfg.env.env_id, success_threshold=cfg.env.success_threshold,
                      analyze=cfg.run.analyze_episodes, keep_trajectories=m.logger is not None,
                      max_episode_steps=cfg.env.max_episode_steps)
    m.last_evaluation, m.last_eval_step = result, m.env_step
    if m.best_eval is None or result.mean_return > m.best_eval:
        m.best_eval = result.mean_return
        if m.logger:
            save_policy(policy, m.run_dir / "best_policy.pt", cfg.network,
                        {"env_step": m.env_step, "eval_mean": result.mean_return})
    if m.solved_at is None and result.mean_return >= cfg.env.success_threshold:
        m.solved_at = (m.env_step, train_seconds)
    publish(m, Evaluated(
        env_step=m.env_step, mean_return=result.mean_return, std_return=result.std_return,
        success_rate=result.success_rate, returns=tuple(result.returns), lengths=tuple(result.lengths),
        outcomes=result.outcomes, seconds=time.perf_counter() - started, train_seconds=train_seconds))
    if m.logger:
        m.logger.save_episodes(result)
    return result
