"""lab.lander states the env's facts once: check each against Gymnasium's source and a live env."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.box2d import lunar_lander as ll

from lab import lander
from lab.config import EnvironmentConfig
from lab.lander.thresholds import Thresholds


@pytest.fixture
def env():
    env = gym.make(lander.ENV_ID)
    env.reset(seed=0)
    yield env
    env.close()


def test_constants_are_the_envs(env) -> None:
    assert (lander.FPS, lander.SCALE, lander.VIEWPORT_W, lander.VIEWPORT_H) == (ll.FPS, ll.SCALE, ll.VIEWPORT_W,
                                                                                  ll.VIEWPORT_H)
    assert (lander.LEG_DOWN, lander.MAIN_ENGINE_POWER, lander.MAIN_ENGINE_Y_LOCATION) == (
        ll.LEG_DOWN, ll.MAIN_ENGINE_POWER, ll.MAIN_ENGINE_Y_LOCATION)
    assert env.observation_space.shape == (lander.OBS_DIM,) and env.action_space.shape == (lander.ACT_DIM,)
    u = env.unwrapped
    assert u.lander.mass + sum(leg.mass for leg in u.legs) == pytest.approx(lander.LANDER_MASS, rel=1e-4)
    assert -u.world.gravity[1] == pytest.approx(lander.GRAVITY)
    assert (u.helipad_x2 - u.helipad_x1) / 2 == pytest.approx(Thresholds().pad_half_width_m)


def test_observation_scaling_matches_the_bodies(env) -> None:
    u = env.unwrapped
    for _ in range(20):
        obs, *_ = env.step(np.array([0.3, 0.8], np.float32))
    body = u.lander
    assert obs[lander.X] * lander.X_M == pytest.approx(body.position.x - lander.W / 2, abs=1e-4)
    assert obs[lander.Y] * lander.Y_M == pytest.approx(
        body.position.y - u.helipad_y - lander.LEG_DOWN / lander.SCALE, abs=1e-4)
    assert obs[lander.VX] * lander.VX_MPS == pytest.approx(body.linearVelocity.x, abs=1e-4)
    assert obs[lander.VY] * lander.VY_MPS == pytest.approx(body.linearVelocity.y, abs=1e-4)
    assert obs[lander.ANGLE] == pytest.approx(body.angle, abs=1e-6)
    assert obs[lander.SPIN] * lander.SPIN_RAD_S == pytest.approx(body.angularVelocity, abs=1e-4)


def test_index_6_is_the_right_leg_and_index_7_the_left(env) -> None:
    u = env.unwrapped
    assert u.legs[0].position.x > u.lander.position.x > u.legs[1].position.x  # legs[0] is built at +x
    u.legs[0].ground_contact, u.legs[1].ground_contact = True, False  # what the contact detector sets
    obs, *_ = env.step(np.array([-1.0, 0.0], np.float32))
    right, left = lander.legs(obs)
    assert obs[lander.RIGHT_LEG] == 1.0 and right and not left
    batch = np.zeros((3, lander.OBS_DIM))
    batch[1, lander.LEFT_LEG] = 1.0
    assert lander.legs(batch)[1].tolist() == [False, True, False]


def test_engine_power_mapping_is_the_envs() -> None:
    assert lander.main_power(np.array([-1.0, 0.0, 1e-3, 0.5, 1.0, 3.0])) == pytest.approx(
        [0.0, 0.0, 0.5005, 0.75, 1.0, 1.0])
    assert lander.side_power(np.array([-1.0, -0.6, -0.5, 0.2, 0.5, 0.7, 2.0])) == pytest.approx(
        [-1.0, -0.6, 0.0, 0.0, 0.0, 0.7, 1.0])


def test_side_engine_sign_and_fuel_cost_are_the_envs(env) -> None:
    """action[1] > 0 pushes the lander right; the reward charges MAIN/SIDE_FUEL_COST per unit of power."""
    u = env.unwrapped
    vx = u.lander.linearVelocity.x
    env.step(np.array([-1.0, 1.0], np.float32))
    assert u.lander.linearVelocity.x > vx
    for action in ([0.5, 0.8], [-0.2, -0.6], [1.0, 0.3]):
        before = u.prev_shaping
        obs, reward, *_ = env.step(np.array(action, np.float32))
        shaping = (-100 * np.hypot(obs[0], obs[1]) - 100 * np.hypot(obs[2], obs[3]) - 100 * abs(obs[4])
                   + 10 * obs[6] + 10 * obs[7])  # the env's own potential
        fuel = (lander.MAIN_FUEL_COST * lander.main_power(action[0])
                + lander.SIDE_FUEL_COST * abs(lander.side_power(action[1])))
        assert reward == pytest.approx(shaping - before - fuel, abs=1e-3)


def test_success_threshold_comes_from_the_lander_facts() -> None:
    assert EnvironmentConfig().success_threshold == lander.SUCCESS_RETURN == 200.0
    assert ll.LunarLander.__doc__ and "200 points" in ll.LunarLander.__doc__
