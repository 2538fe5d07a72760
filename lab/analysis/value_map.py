"""The value map: what a critic thinks each place in the sky is worth, for one fixed velocity and attitude.

A grid of lander positions (x, y) in metres, every other part of the state held fixed, is
turned into observations; the policy's actor picks its action at each, and its twin
critic's smaller estimate, Q(s, pi(s)), is the map's value there. Drawn at a few points
of a run, it shows the critic learning where the pad is. Pure: a policy and a grid in,
an array out; one forward pass for the whole grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab import lander
from lab.policy import Policy


@dataclass(frozen=True)
class ValueMapGrid:
    """Positions in metres (x right of the pad's centre, altitude above the pad) and the state held fixed."""

    x_m: np.ndarray
    altitude_m: np.ndarray
    vx_ms: float = 0.0
    vy_ms: float = -1.0
    tilt_deg: float = 0.0
    spin_dps: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns): one row per altitude, one column per x."""
        return len(self.altitude_m), len(self.x_m)

    def observations(self) -> np.ndarray:
        """(rows * columns, 8) observations, row-major: altitude changes by row, x by column; legs up."""
        ys, xs = np.meshgrid(self.altitude_m, self.x_m, indexing="ij")
        obs = np.zeros((xs.size, lander.OBS_DIM), dtype=np.float32)
        obs[:, lander.X] = xs.ravel() / lander.X_M
        obs[:, lander.Y] = ys.ravel() / lander.Y_M
        obs[:, lander.VX] = self.vx_ms / lander.VX_MPS
        obs[:, lander.VY] = self.vy_ms / lander.VY_MPS
        obs[:, lander.ANGLE] = math.radians(self.tilt_deg)
        obs[:, lander.SPIN] = math.radians(self.spin_dps) / lander.SPIN_RAD_S
        return obs

    def describe(self) -> str:
        """The fixed part of the state, in words, for a chart's title."""
        return (f"vx {self.vx_ms:+.1f} m/s, vy {self.vy_ms:+.1f} m/s, tilt {self.tilt_deg:+.0f}°, "
                f"spin {self.spin_dps:+.0f}°/s, legs up")


def value_grid(columns: int = 41, rows: int = 31, x_m: tuple[float, float] = (-lander.X_M, lander.X_M),
               altitude_m: tuple[float, float] = (0.5, lander.TOP_OF_VIEW_M), vx_ms: float = 0.0,
               vy_ms: float = -1.0, tilt_deg: float = 0.0, spin_dps: float = 0.0) -> ValueMapGrid:
    """An evenly spaced grid over the screen (the whole width, from just above the pad to the top), by default
    a lander sinking slowly at 1 m/s, upright and still."""
    if columns < 2 or rows < 2:
        raise ValueError(f"a value map needs at least 2 columns and 2 rows, got {columns} x {rows}")
    return ValueMapGrid(np.linspace(*x_m, columns), np.linspace(*altitude_m, rows), vx_ms, vy_ms, tilt_deg,
                        spin_dps)


def value_map(policy: Policy, grid: ValueMapGrid) -> np.ndarray:
    """Q(s, pi(s)) = min(Q1, Q2) at every grid point, shape ``grid.shape``; the policy needs a critic
    (``lab.policy.NoCriticError`` otherwise)."""
    obs = grid.observations()
    return np.asarray(policy.value(obs, policy(obs)), dtype=np.float64).reshape(grid.shape)
