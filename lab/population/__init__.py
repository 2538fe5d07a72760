"""Populations: K independent TD3 agents trained at once with stacked weights and batched updates."""

from lab.population.trainer import AgentEvent, Population

__all__ = ["AgentEvent", "Population"]
