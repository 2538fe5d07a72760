"""Which agents the batched update carries: a frozen or finished agent leaves every stack.

A stacked tensor's first dimension is the agent. Dropping an agent's rows from all of
them (weights, targets, Adam moments, per-agent settings) makes every later forward,
backward, optimizer step and soft update cost what a population of the remaining agents
costs. The dropped rows are parked, not lost: a checkpoint still holds all K agents in
their places, and an agent's settings can still be read and changed.

``keep`` replaces the tensors with new ones (a parameter by a new nn.Parameter: autograd
remembers a leaf's shape, so a parameter cannot change shape in place); whoever holds
them binds the new ones from ``tensors`` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class AgentSlots:
    """Named tensors of K agents, of which the stacks hold only the active ones, in agent order."""

    def __init__(self, tensors: dict[str, torch.Tensor], agents: int) -> None:
        for name, tensor in tensors.items():
            if tensor.shape[0] != agents:
                raise ValueError(f"{name} has {tensor.shape[0]} rows, expected one per agent ({agents})")
        self.tensors = tensors
        self.agents = agents
        self.active: list[int] = list(range(agents))
        self.parked: dict[int, dict[str, torch.Tensor]] = {}
        self._positions = {k: k for k in self.active}

    def position(self, agent: int) -> int | None:
        """Agent's row in the stacks, or None when it is parked."""
        return self._positions.get(agent)

    def full(self, name: str) -> torch.Tensor:
        """A new tensor with every agent's row of one named tensor, parked ones included, in agent order."""
        stacked = self.tensors[name].detach()
        if not self.parked:
            return stacked.clone()
        out = stacked.new_empty((self.agents, *stacked.shape[1:]))
        out[torch.tensor(self.active, dtype=torch.long, device=stacked.device)] = stacked
        for agent, rows in self.parked.items():
            out[agent] = rows[name]
        return out

    def keep(self, agents: Iterable[int]) -> None:
        """Make the stacks hold exactly these agents; the others are parked, parked ones come back."""
        keep = sorted(set(agents))
        if not keep or not all(0 <= k < self.agents for k in keep):
            raise ValueError(f"agents {keep} are invalid: allowed a non-empty subset of 0 to {self.agents - 1}")
        if keep == self.active:
            return
        full = {name: self.full(name) for name in self.tensors}
        index = torch.tensor(keep, dtype=torch.long)
        self.parked = {k: {name: rows[k].clone() for name, rows in full.items()}
                       for k in range(self.agents) if k not in keep}
        for name, tensor in self.tensors.items():
            rows = full[name].index_select(0, index.to(full[name].device))
            self.tensors[name] = nn.Parameter(rows, tensor.requires_grad) if isinstance(tensor, nn.Parameter) else rows
        self.active = keep
        self._positions = {k: i for i, k in enumerate(keep)}

    def read(self, name: str, agent: int) -> torch.Tensor:
        pos = self.position(agent)
        return self.parked[agent][name] if pos is None else self.tensors[name][pos]

    def write(self, name: str, agent: int, value: float) -> None:
        pos = self.position(agent)
        if pos is None:
            self.parked[agent][name].fill_(value)
        else:
            self.tensors[name][pos] = value

    def write_row(self, name: str, agent: int, row: torch.Tensor) -> None:
        """Replace one agent's whole row of a named tensor."""
        with torch.no_grad():
            pos = self.position(agent)
            (self.parked[agent][name] if pos is None else self.tensors[name][pos]).copy_(row)

    def copy(self, source: int, target: int) -> None:
        """Every named tensor's row of target becomes a copy of source's, parked or not."""
        with torch.no_grad():
            for name in self.tensors:
                row = self.read(name, source).detach().clone()
                pos = self.position(target)
                (self.parked[target][name] if pos is None else self.tensors[name][pos]).copy_(row)
