"""One progress bar for a whole population: summed env steps, returns and outcomes over all agents."""

from __future__ import annotations

import dataclasses
from typing import Any

from lab.events import EpisodeEnded, Evaluated, RunStateChanged
from lab.progress import ProgressBar


class PopulationProgress(ProgressBar):
    """lab.progress.ProgressBar fed AgentEvents: steps and episodes are totals over the agents."""

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
