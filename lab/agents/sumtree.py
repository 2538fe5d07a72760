"""A SumTree: priorities in the leaves, each parent the sum of its children.

Sampling proportional to priority is a walk from the root; every operation here
takes a whole batch of indices at once and loops over tree levels (about 20 for
a million leaves), never over transitions.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Binary tree in one flat float64 array; node i has children 2i and 2i+1, the root is 1."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"SumTree capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.depth = max(1, int(np.ceil(np.log2(capacity))))
        self.leaf_base = 1 << self.depth
        self.nodes = np.zeros(2 * self.leaf_base, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def leaves(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[self.leaf_base + np.asarray(indices)]

    def update(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaf priorities, then recompute each touched ancestor from its two children.

        Recomputing (rather than adding deltas) keeps the sums exact and makes
        duplicate indices harmless: the last leaf write wins, and a parent listed
        twice is written twice with the same sum, so no de-duplication is needed.
        """
        nodes = self.leaf_base + np.asarray(indices, dtype=np.int64)
        self.nodes[nodes] = priorities
        for _ in range(self.depth):
            nodes >>= 1
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index whose cumulative-priority interval contains each value in [0, total)."""
        values = np.array(values, dtype=np.float64)
        nodes = np.ones(len(values), dtype=np.int64)
        for _ in range(self.depth):
            left = self.nodes[2 * nodes]
            go_right = values >= left
            values -= left * go_right
            nodes = 2 * nodes + go_right
        leaves = nodes - self.leaf_base
        # Float round-off can walk past the last real leaf into zero-priority padding.
        return np.minimum(leaves, self.capacity - 1)

    def sample_stratified(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """One draw from each of batch_size equal slices of the total: lower variance than i.i.d."""
        bounds = np.linspace(0.0, self.total, batch_size + 1)
        values = rng.uniform(bounds[:-1], bounds[1:])
        return self.find(values)
