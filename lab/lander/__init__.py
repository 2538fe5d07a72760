"""Facts about Gymnasium's LunarLander that the lab leans on, stated once.

The analyzer, the HUD, the windows, reward shaping, the progress bar, evaluation and
the policy wrapper read these names instead of repeating numbers. The tests check
each constant against ``gymnasium/envs/box2d/lunar_lander.py`` and a live env.

How the env scales its observation
----------------------------------
The world is ``W = VIEWPORT_W / SCALE = 20`` m wide and ``H = VIEWPORT_H / SCALE = 13.33`` m
tall, stepped at ``FPS = 50`` (one step is 0.02 s). The helipad sits at height ``H / 4``,
spanning x = 8..12 m. Each step reports

=====  ==============================================  ==========================================
index  observation                                     physical value
=====  ==============================================  ==========================================
0      ``(pos.x - W/2) / (W/2)``                       ``x * X_M`` m right of the pad centre
1      ``(pos.y - (H/4 + LEG_DOWN/SCALE)) / (H/2)``    ``y * Y_M`` m above the height where the
                                                       body stands on the pad (0 = landed)
2      ``vel.x * (W/2) / FPS``                         ``vx * VX_MPS`` m/s (+ is rightwards)
3      ``vel.y * (H/2) / FPS``                         ``vy * VY_MPS`` m/s (+ is upwards)
4      ``body.angle``                                  radians, counter-clockwise positive, never
                                                       wrapped: + leans the top to the LEFT
5      ``20 * angularVelocity / FPS``                  ``obs * SPIN_RAD_S`` rad/s (+ counter-clockwise)
6      ``legs[0].ground_contact``                      the RIGHT leg (built at +x: ``i = -1`` in
                                                       ``x - i * LEG_AWAY``), although Gymnasium's
                                                       docs call it the left one
7      ``legs[1].ground_contact``                      the LEFT leg
=====  ==============================================  ==========================================

Engines (continuous actions, clipped to [-1, 1]): the main engine fires when
``action[0] > 0`` at ``(action[0] + 1) / 2``, i.e. 50..100 % power; the side engines fire
when ``|action[1]| > 0.5`` at ``|action[1]|`` power; ``action[1] > 0`` pushes the lander to
the right (+x) and turns it clockwise. The env charges 0.3 reward points per step of full main power and 0.03 per step
of full side power.
"""

from __future__ import annotations

import numpy as np

ENV_ID = "LunarLanderContinuous-v3"
OBS_DIM = 8
"""Length of the observation vector."""
ACT_DIM = 2
"""Length of the action vector: main engine, side engines."""
SUCCESS_RETURN = 200.0
"""The return at which Gymnasium calls an episode solved."""

# ---- observation indices -------------------------------------------------------------------
X, Y, VX, VY, ANGLE, SPIN = 0, 1, 2, 3, 4, 5
RIGHT_LEG = 6
"""Index of the right leg's contact flag (``legs[0]``, the leg built at +x)."""
LEFT_LEG = 7
"""Index of the left leg's contact flag (``legs[1]``)."""
CONTACT = 0.5
"""A leg flag above this means the leg touches the ground (the env reports 0.0 or 1.0)."""

# ---- the env's constants -------------------------------------------------------------------
FPS = 50
SCALE = 30.0
VIEWPORT_W, VIEWPORT_H = 600, 400
LEG_DOWN = 18
MAIN_ENGINE_POWER = 13.0
MAIN_ENGINE_Y_LOCATION = 4
GRAVITY = 10.0
"""m/s^2 downwards, the env's default."""
LANDER_MASS = 4.9589
"""kg: body (4.817) plus two legs (0.071 each), as Box2D computes them from the fixtures."""
MAIN_ENGINE_ON = 0.0
"""The main engine fires when action[0] is above this."""
SIDE_ENGINE_ON = 0.5
"""The side engines fire when |action[1]| is above this."""
ENGINES_OFF = (-1.0, 0.0)
"""The action that fires no engine."""
MAIN_FUEL_COST = 0.30
"""Reward points the env charges per step of full main-engine power."""
SIDE_FUEL_COST = 0.03
"""Reward points the env charges per step of full side-engine power."""
LANDING_REWARD = 100.0
"""What the env pays, once, when the lander comes to rest (a crash costs as much)."""

# ---- physical units per observation unit ----------------------------------------------------
W = VIEWPORT_W / SCALE
"""World width in metres (20)."""
H = VIEWPORT_H / SCALE
"""World height in metres (13.33)."""
DT = 1.0 / FPS
"""Seconds per env step."""
X_M = W / 2
"""Metres per observation unit of x."""
Y_M = H / 2
"""Metres per observation unit of y."""
VX_MPS = FPS / (W / 2)
"""m/s per observation unit of vx (5.0)."""
VY_MPS = FPS / (H / 2)
"""m/s per observation unit of vy (7.5)."""
SPIN_RAD_S = FPS / 20.0
"""rad/s per observation unit of angular velocity (2.5)."""
HOVER_THROTTLE = LANDER_MASS * GRAVITY / FPS / (MAIN_ENGINE_POWER * MAIN_ENGINE_Y_LOCATION / SCALE)
"""Main-engine power (0.5..1) whose impulse per step equals the lander's weight: about 0.57."""
TOP_OF_VIEW_M = H - (H / 4 + LEG_DOWN / SCALE)
"""Height of the viewport's top edge above the y origin (a lander standing on the pad), where the
lander starts: 9.4 m, observation y = 1.41."""


def legs(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) leg contact as booleans, for one observation or a batch (last axis)."""
    obs = np.asarray(obs)
    return obs[..., RIGHT_LEG] > CONTACT, obs[..., LEFT_LEG] > CONTACT


def main_power(action_main: np.ndarray | float) -> np.ndarray:
    """The main engine's power the env applies for action[0]: 0 when off, else 0.5..1."""
    a = np.clip(np.asarray(action_main, dtype=np.float64), -1.0, 1.0)
    return np.where(a > MAIN_ENGINE_ON, (a + 1.0) * 0.5, 0.0)


def side_power(action_side: np.ndarray | float) -> np.ndarray:
    """The side engines' signed power for action[1]: 0 when off, else +-0.5..1 (+ pushes the lander right)."""
    a = np.clip(np.asarray(action_side, dtype=np.float64), -1.0, 1.0)
    return np.where(np.abs(a) > SIDE_ENGINE_ON, a, 0.0)
