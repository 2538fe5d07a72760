"""The value overlay: its numbers are the critic's output for the shown state and action, in the HUD,
the watch and play windows and the notebook's episode viewer; a file without a critic says so."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pygame
import pytest
import torch

from lab.agents.networks import Actor, TwinCritic
from lab.config import NetworkConfig
from lab.lander import ACT_DIM, OBS_DIM
from lab.policy import NO_CRITIC, Policy, heuristic_policy
from lab.render.hud import ValueReadout, draw_hud, signed, surface_to_array, value_readout, value_rows
from lab.render.play import PlayWindow, keyboard_action
from lab.render.window import WatchWindow

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))


@pytest.fixture
def valued() -> Policy:
    """A policy with an actor and a twin critic (fresh weights: the overlay shows whatever they say)."""
    torch.manual_seed(3)
    return Policy.from_actor(Actor(OBS_DIM, ACT_DIM, NET), name="valued", critic=TwinCritic(OBS_DIM, ACT_DIM, NET))


@pytest.fixture
def no_critic() -> Policy:
    torch.manual_seed(3)
    return Policy.from_actor(Actor(OBS_DIM, ACT_DIM, NET), name="old file")


def critic_says(policy: Policy, obs: np.ndarray, action: np.ndarray) -> float:
    """The critic's own output, computed here without the Policy's helpers: min over the twins."""
    with torch.no_grad():
        q = policy.critic(torch.as_tensor(obs, dtype=torch.float32)[None],
                          torch.as_tensor(action, dtype=torch.float32)[None])
    return float(q.min())


def test_the_readout_is_the_critics_value_of_the_state_and_the_actors_commands(valued):
    obs = np.array([0.1, 0.8, -0.05, -0.3, 0.02, 0.0, 0.0, 0.0], dtype=np.float32)
    readout = value_readout(valued, obs)
    commands = valued(obs)
    assert (readout.main, readout.side) == pytest.approx(tuple(commands.tolist()))
    assert readout.q == pytest.approx(critic_says(valued, obs, commands), abs=1e-6)
    rows = dict(value_rows(readout))
    assert rows == {"Q(s,a)": signed(critic_says(valued, obs, commands), 1), "main cmd": signed(commands[0], 2),
                    "side cmd": signed(commands[1], 2)}
    other = np.array([1.0, -1.0], dtype=np.float32)  # another action's value, the actor's commands unchanged
    assert value_readout(valued, obs, other).q == pytest.approx(critic_says(valued, obs, other), abs=1e-6)
    assert value_readout(valued, obs, history=(1.0, 2.0)).history[:2] == (1.0, 2.0)


def test_without_a_critic_the_overlay_says_so_and_still_shows_the_commands(no_critic):
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    readout = value_readout(no_critic, obs)
    assert readout.q is None and readout.note == NO_CRITIC
    assert dict(value_rows(readout))["Q(s,a)"] == "—"
    assert readout.main == pytest.approx(float(no_critic(obs)[0]))


@pytest.mark.parametrize("size", [(600, 400), (300, 200)], ids=["window", "compact"])
def test_the_hud_draws_the_overlay_only_when_given_one(size):
    pygame.font.init()
    frame = np.full((size[1], size[0], 3), 40, dtype=np.uint8)
    obs, action = np.zeros(OBS_DIM), np.zeros(ACT_DIM)
    shots = {}
    for name, value in (("plain", None), ("q", ValueReadout(0.3, -0.6, 42.5, "", (40.0, 41.0, 42.5))),
                        ("note", ValueReadout(0.3, -0.6, None, NO_CRITIC))):
        surface = pygame.Surface(size)
        surface.blit(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), (0, 0))
        draw_hud(surface, obs, action, 5, 1.0, 1, value=value)
        shots[name] = surface_to_array(surface)
    assert not np.array_equal(shots["plain"], shots["q"])
    assert not np.array_equal(shots["q"], shots["note"])


def test_the_watch_window_shows_the_critics_value_of_the_state_on_screen(valued, tmp_path):
    window = WatchWindow(valued, seed=2, speed=2, throttle=False, gif_dir=tmp_path).open()
    try:
        for _ in range(5):
            assert window.tick()
        obs = window.flight.obs
        readout = window.readout
        commands = valued(obs)
        assert readout.q == pytest.approx(critic_says(valued, obs, commands), abs=1e-6)
        assert (readout.main, readout.side) == pytest.approx(tuple(commands.tolist()))
        assert len(readout.history) == 6 and readout.history[-1] == readout.q  # one per drawn frame
        with_value = surface_to_array(window.screen)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_v, mod=0, unicode="v", scancode=0))
        window.paused = True  # hold the scene still so only the overlay changes
        window.tick()
        assert not window.value_on and window.readout is None
        without = surface_to_array(window.screen)
        assert not np.array_equal(with_value[100:200, 420:600], without[100:200, 420:600])  # the panel went away
    finally:
        window.close()


def test_the_watch_window_says_no_critic_for_an_old_file(no_critic, tmp_path):
    window = WatchWindow(no_critic, seed=2, throttle=False, gif_dir=tmp_path).open()
    try:
        window.tick()
        assert window.readout.q is None and window.readout.note == NO_CRITIC
    finally:
        window.close()


def test_in_play_mode_the_agents_critic_values_your_keys(valued):
    window = PlayWindow(ghost=valued, seed=0, speed=2, throttle=False).open()
    try:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP, mod=0, unicode="", scancode=0))
        for _ in range(4):
            window.tick()
        obs = window.flight.obs
        keys = keyboard_action(window.held)
        assert keys[0] == 1.0
        assert window.readout.q == pytest.approx(critic_says(valued, obs, keys), abs=1e-6)
        assert window.readout.main == pytest.approx(float(valued(obs)[0]))  # what the agent would command
    finally:
        window.close()


def test_the_viewer_overlay_and_q_trace_are_the_critics_output_for_each_shown_frame(valued):
    from widgets.viewer import EpisodeViewer

    viewer = EpisodeViewer.from_policy(valued, episodes=1, seed=10_001, every=25)
    traj = viewer.episodes[0].trajectory
    values = viewer.values()
    steps = len(traj.actions)
    expected = [critic_says(valued, traj.observations[t], traj.actions[t]) for t in range(steps)]
    np.testing.assert_allclose(values.q, expected, rtol=1e-5, atol=1e-5)
    rep = viewer._replay(0)
    for k, readout in enumerate(viewer.readouts()):  # each frame's overlay: the state shown, the action taken there
        t = min(rep.steps[k], steps - 1)
        assert readout.q == pytest.approx(expected[t], abs=1e-5)
        assert (readout.main, readout.side) == pytest.approx(tuple(traj.actions[t].tolist()))
    trace = viewer.value_trace.figure
    q_line = next(d for d in trace.data if d.name.startswith("Q(s,a)"))
    np.testing.assert_allclose(q_line.y, expected, rtol=1e-5, atol=1e-5)
    viewer.slider.value = viewer.slider.max
    assert trace.layout.shapes[0].x0 == rep.steps[-1]  # the marker follows the frame shown
    rewards = np.asarray(traj.rewards, dtype=np.float64)
    assert values.discounted_return[-1] == pytest.approx(rewards[-1])
    assert values.discounted_return[0] == pytest.approx(sum(r * 0.99 ** i for i, r in enumerate(rewards)))


def test_the_viewer_says_no_critic_in_this_file_and_still_plays(no_critic):
    from widgets.viewer import EpisodeViewer

    viewer = EpisodeViewer.from_policy(no_critic, episodes=1, seed=10_001, every=50)
    assert viewer.values().q is None
    assert NO_CRITIC in viewer.value_trace.note.value
    assert all(r.q is None and r.note == NO_CRITIC for r in viewer.readouts())
    assert len(viewer.value_trace.figure.data) == 1  # the return that followed, alone


def test_a_viewer_without_a_policy_has_no_value_overlay():
    from lab.evaluation import evaluate
    from widgets.viewer import EpisodeViewer

    result = evaluate(heuristic_policy(), episodes=1, seed=10_000, keep_trajectories=True)
    viewer = EpisodeViewer.from_evaluation(result, every=50)
    assert viewer.value_trace is None and viewer.readouts() is None
