"""A tqdm progress bar fed by a run's events, or by a population's (summed over its agents)."""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from typing import Any

from tqdm.auto import tqdm

from lab.events import EpisodeEnded, Evaluated, RunStateChanged
from lab.lander import SUCCESS_RETURN


class ProgressBar:
    """Shows env steps/s, episode, average raw return, success % and the most common outcome (last 100)."""

    def __init__(self, total_steps: int, initial: int = 0, refresh_episodes: int = 5,
                 success_threshold: float = SUCCESS_RETURN) -> None:
        self.bar = tqdm(total=total_steps, initial=initial, unit="step", dynamic_ncols=True, smoothing=0.05)
        self.refresh_episodes = refresh_episodes
        self.success_threshold = success_threshold
        self.returns: deque[float] = deque(maxlen=100)
        self.outcomes: deque[str] = deque(maxlen=100)
        self.best_eval: float | None = None
        self.episodes = 0

    def __call__(self, event: Any) -> None:
        if isinstance(event, EpisodeEnded):
            self.episodes = event.episode
            self.returns.append(event.raw_return)
            if event.analysis is not None:
                self.outcomes.append(str(event.analysis.outcome.value))
            self.bar.update(event.env_step - self.bar.n)
            if event.episode % self.refresh_episodes == 0:
                self._postfix()
        elif isinstance(event, Evaluated):
            self.best_eval = max(self.best_eval or event.mean_return, event.mean_return)
            self.bar.update(event.env_step - self.bar.n)
            self._postfix()
        elif isinstance(event, RunStateChanged) and event.state in ("finished", "stopped", "failed"):
            self.bar.update(event.env_step - self.bar.n)
            self._postfix()
            self.bar.close()

    def _postfix(self) -> None:
        successes = sum(r >= self.success_threshold for r in self.returns)
        postfix = {"ep": self.episodes,
                   "ret": f"{sum(self.returns) / len(self.returns):.0f}" if self.returns else "-",
                   "succ": f"{100 * successes / max(1, len(self.returns)):.0f}%"}
        if self.outcomes:
            postfix["mostly"] = Counter(self.outcomes).most_common(1)[0][0]
        if self.best_eval is not None:
            postfix["best_eval"] = f"{self.best_eval:.0f}"
        self.bar.set_postfix(postfix, refresh=False)


class PopulationProgress(ProgressBar):
    """lab.train.progress.ProgressBar fed AgentEvents: steps and episodes are totals over the agents."""

    def __init__(self, total_steps: int, agents: int, initial: int = 0) -> None:
        super().__init__(total_steps, initial=initial)
        self.agents = agents
        self.steps = [0] * agents
        self.episode_counts = [0] * agents

    def __call__(self, tagged: Any) -> None:
        event = getattr(tagged, "event", None)
        if event is None:
            return
        if isinstance(event, (EpisodeEnded, Evaluated, RunStateChanged)):
            self.steps[tagged.agent] = event.env_step
        if isinstance(event, EpisodeEnded):
            self.episode_counts[tagged.agent] = event.episode
            event = dataclasses.replace(event, episode=sum(self.episode_counts))
        if isinstance(event, RunStateChanged) and tagged.agent != self.agents - 1:
            return  # every agent announces the end; close the bar once, on the last
        super().__call__(dataclasses.replace(event, env_step=sum(self.steps)))
