import numpy as np
import pytest

from lab import lander
from lab.config import EnvironmentConfig
from lab.lander.shaping import shaping_bonus

CFG = EnvironmentConfig(shaping_time_penalty=0.05, shaping_ground_bonus=0.1, shaping_leg_bonus=0.1,
                        shaping_upright_bonus=0.05, shaping_landing_bonus=20.0)


def obs(y=0.1, vy=-0.2, angle=0.0, left=0.0, right=0.0):
    o = np.zeros((1, lander.OBS_DIM), dtype=np.float32)
    o[0, [lander.Y, lander.VY, lander.ANGLE, lander.LEFT_LEG, lander.RIGHT_LEG]] = y, vy, angle, left, right
    return o


def bonus(o, raw=0.0, terminated=False):
    return float(shaping_bonus(o, np.array([raw]), np.array([terminated]), CFG)[0])


def test_descending_near_the_ground_upright_on_both_legs_collects_every_bonus():
    assert bonus(obs(left=1, right=1)) == pytest.approx(-0.05 + 0.1 + 0.2 + 0.05)


def test_no_bonus_without_descending():
    assert bonus(obs(vy=0.1, left=1, right=1)) == pytest.approx(-0.05)
    assert bonus(obs(vy=-0.04)) == pytest.approx(-0.05)  # -0.05 is the descending threshold


def test_high_and_tilted_gets_only_the_time_penalty():
    assert bonus(obs(y=1.0, angle=0.5)) == pytest.approx(-0.05)


def test_one_leg_counts_once():
    assert bonus(obs(y=1.0, angle=0.5, left=1)) == pytest.approx(-0.05 + 0.1)
    assert bonus(obs(y=1.0, angle=0.5, right=1)) == pytest.approx(-0.05 + 0.1)


def test_terminal_landing_on_both_legs_gets_the_landing_bonus_but_a_crash_does_not():
    landed = bonus(obs(vy=0.0, left=1, right=1), raw=100.0, terminated=True)
    crashed = bonus(obs(vy=0.0, left=1, right=1), raw=-100.0, terminated=True)
    assert landed == pytest.approx(-0.05 + 20.0)
    assert crashed == pytest.approx(-0.05)
