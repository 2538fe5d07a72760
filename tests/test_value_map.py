"""The value map's grid: each cell is the state it says, and its value is the critic's for that state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lab import lander
from lab.agents.networks import Actor, TwinCritic
from lab.analysis.value_map import value_grid, value_map
from lab.config import NetworkConfig
from lab.policy import NoCriticError, Policy

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))


def test_each_grid_cell_is_the_observation_of_its_place_with_the_rest_of_the_state_fixed():
    grid = value_grid(columns=5, rows=3, x_m=(-4.0, 4.0), altitude_m=(1.0, 5.0), vx_ms=0.5, vy_ms=-2.0,
                      tilt_deg=10.0, spin_dps=-20.0)
    assert grid.shape == (3, 5)
    np.testing.assert_allclose(grid.x_m, [-4, -2, 0, 2, 4])
    np.testing.assert_allclose(grid.altitude_m, [1, 3, 5])
    obs = grid.observations().reshape(3, 5, lander.OBS_DIM)
    # row r is altitude r, column c is x c, in the env's own scaling (lab.lander)
    np.testing.assert_allclose(obs[2, 0, lander.X] * lander.X_M, -4.0, rtol=1e-6)
    np.testing.assert_allclose(obs[2, 0, lander.Y] * lander.Y_M, 5.0, rtol=1e-6)
    np.testing.assert_allclose(obs[:, 3, lander.X] * lander.X_M, 2.0, rtol=1e-6)
    np.testing.assert_allclose(obs[1, :, lander.Y] * lander.Y_M, 3.0, rtol=1e-6)
    np.testing.assert_allclose(obs[..., lander.VX] * lander.VX_MPS, 0.5, rtol=1e-6)
    np.testing.assert_allclose(obs[..., lander.VY] * lander.VY_MPS, -2.0, rtol=1e-6)
    np.testing.assert_allclose(obs[..., lander.ANGLE], math.radians(10.0), rtol=1e-6)
    np.testing.assert_allclose(obs[..., lander.SPIN] * lander.SPIN_RAD_S, math.radians(-20.0), rtol=1e-6)
    assert not obs[..., lander.RIGHT_LEG:].any()  # legs up: the lander is in the air
    assert "vy -2.0 m/s" in grid.describe()


def test_the_default_grid_covers_the_screen_from_just_above_the_pad_to_the_top():
    grid = value_grid()
    assert grid.x_m[0] == -lander.X_M and grid.x_m[-1] == lander.X_M
    assert grid.altitude_m[0] > 0 and grid.altitude_m[-1] == pytest.approx(lander.TOP_OF_VIEW_M)
    with pytest.raises(ValueError, match="at least 2 columns"):
        value_grid(columns=1)


def test_the_map_is_the_smaller_twins_value_of_the_actors_action_at_each_cell():
    torch.manual_seed(0)
    actor, critic = Actor(lander.OBS_DIM, lander.ACT_DIM, NET), TwinCritic(lander.OBS_DIM, lander.ACT_DIM, NET)
    policy = Policy.from_actor(actor, critic=critic)
    grid = value_grid(columns=7, rows=4)
    values = value_map(policy, grid)
    assert values.shape == (4, 7)
    obs = torch.from_numpy(grid.observations())
    with torch.no_grad():
        expected = critic(obs, actor(obs)).min(dim=0).values.numpy().reshape(4, 7)
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)
    cell = grid.observations()[1 * 7 + 5]  # row 1, column 5
    with torch.no_grad():
        one = critic(torch.from_numpy(cell)[None], actor(torch.from_numpy(cell)[None])).min().item()
    assert values[1, 5] == pytest.approx(one, abs=1e-5)


def test_a_policy_without_a_critic_has_no_map():
    policy = Policy.from_actor(Actor(lander.OBS_DIM, lander.ACT_DIM, NET))
    with pytest.raises(NoCriticError, match="no critic in this file"):
        value_map(policy, value_grid(columns=3, rows=3))
