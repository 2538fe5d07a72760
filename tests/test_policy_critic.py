"""A policy file can carry the twin critic, and a Policy then says what it values: Q(s, a) and TD3's min."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lab.agents.networks import Actor, TwinCritic
from lab.checkpoint import CheckpointError, read_checkpoint_file, save_policy, write_checkpoint_file
from lab.config import NetworkConfig
from lab.lander import ACT_DIM, OBS_DIM
from lab.policy import NO_CRITIC, NoCriticError, Policy, heuristic_policy, load_policy

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(24, 24))


def networks(seed: int = 0) -> tuple[Actor, TwinCritic]:
    torch.manual_seed(seed)
    return Actor(OBS_DIM, ACT_DIM, NET), TwinCritic(OBS_DIM, ACT_DIM, NET)


def states(n: int, seed: int = 1) -> np.ndarray:
    obs = np.random.default_rng(seed).normal(size=(n, OBS_DIM)).astype(np.float32)
    obs[:, 6:] = obs[:, 6:] > 0
    return obs


def test_a_saved_critic_comes_back_and_its_values_are_the_critics_output(tmp_path):
    actor, critic = networks()
    path = save_policy(actor, tmp_path / "policy.pt", critic=critic)
    assert set(read_checkpoint_file(path)["critic"]) == set(critic.state_dict())

    policy = load_policy(path)
    assert isinstance(policy.critic, TwinCritic) and policy.no_critic_reason is None
    obs = states(5)
    actions = policy(obs)
    with torch.no_grad():
        expected = critic(torch.from_numpy(obs), actor(torch.from_numpy(obs))).numpy()  # (2, n)
    np.testing.assert_allclose(policy.q_values(obs, actions), expected.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(policy.value(obs, actions), expected.min(axis=0), rtol=1e-5, atol=1e-6)
    assert policy.q_values(obs[0], actions[0]).shape == (2,) and policy.value(obs[0], actions[0]).shape == ()
    assert float(policy.value(obs[0], actions[0])) == pytest.approx(float(expected[:, 0].min()), abs=1e-5)


def test_the_value_is_the_smaller_twin_even_where_the_twins_disagree(tmp_path):
    actor, critic = networks()
    with torch.no_grad():
        critic.biases[-1][1].add_(5.0)  # critic 2 now rates everything 5 points higher
    policy = Policy.from_actor(actor, critic=critic)
    obs = states(4)
    q = policy.q_values(obs, policy(obs))
    assert np.all(q[:, 1] > q[:, 0])
    np.testing.assert_array_equal(policy.value(obs, policy(obs)), q[:, 0])


def test_from_actor_copies_the_critic_so_training_can_go_on(tmp_path):
    actor, critic = networks()
    policy = Policy.from_actor(actor, critic=critic)
    obs = states(3)
    before = policy.value(obs, policy(obs))
    with torch.no_grad():
        for p in critic.parameters():
            p.add_(1.0)  # the learner keeps training its own critic
    np.testing.assert_array_equal(policy.value(obs, policy(obs)), before)
    assert not any(p.requires_grad for p in policy.critic.parameters())


def test_saving_a_policy_keeps_its_critic(tmp_path):
    actor, critic = networks()
    policy = Policy.from_actor(actor, critic=critic)
    again = load_policy(save_policy(policy, tmp_path / "copy.pt"))
    obs = states(3)
    np.testing.assert_allclose(again.value(obs, again(obs)), policy.value(obs, policy(obs)), rtol=1e-6)


def test_a_file_without_a_critic_loads_and_says_so_instead_of_failing(tmp_path):
    actor, _ = networks()
    policy = load_policy(save_policy(actor, tmp_path / "old.pt"))
    assert policy.critic is None and policy.no_critic_reason == NO_CRITIC == "no critic in this file"
    with pytest.raises(NoCriticError, match="no critic in this file"):
        policy.value(states(1), np.zeros((1, ACT_DIM)))
    assert "not a learned agent" in heuristic_policy().no_critic_reason


def test_a_critic_that_does_not_fit_the_network_is_refused_naming_the_layer(tmp_path):
    actor, _ = networks()
    wrong = TwinCritic(OBS_DIM, ACT_DIM, NetworkConfig(actor_hidden=(16, 16), critic_hidden=(8, 8)))
    path = save_policy(actor, tmp_path / "bad.pt", critic=wrong)
    with pytest.raises(CheckpointError, match=r"critic that does not fit .*weights\.0"):
        load_policy(path)
    data = read_checkpoint_file(path)
    data["critic"] = "not weights"
    write_checkpoint_file(tmp_path / "worse.pt", {k: v for k, v in data.items() if k != "file_checksum"})
    with pytest.raises(CheckpointError, match="critic weights of type str"):
        load_policy(tmp_path / "worse.pt")


def test_actions_that_do_not_match_the_states_are_refused():
    policy = Policy.from_actor(*networks()[:1], critic=networks()[1])
    with pytest.raises(ValueError, match="actions must have shape"):
        policy.q_values(states(3), np.zeros((2, ACT_DIM)))


def test_a_run_writes_its_critic_into_every_file_that_holds_its_policy(tiny_config, tmp_path):
    """policy.pt, best_policy.pt, checkpoint.pt and Trainer.policy all carry the learner's own twin critic."""
    from lab import Population, Trainer

    trainer = Trainer(tiny_config.with_overrides({"run.eval_every": 300}), run_dir=tmp_path / "run")
    try:
        trainer.fit()
        actor, critic = trainer.learner.agent_modules(0)
        obs = states(6)
        with torch.no_grad():
            live = critic(torch.from_numpy(obs), actor(torch.from_numpy(obs))).numpy()
        policies = [trainer.policy, load_policy(trainer.checkpoint_path), load_policy(trainer.policy_path)]
    finally:
        trainer.close()
    for policy in policies:
        np.testing.assert_allclose(policy.value(obs, policy(obs)), live.min(axis=0), rtol=1e-5, atol=1e-5)
    assert load_policy(tmp_path / "run" / "best_policy.pt").critic is not None
    with Population(tiny_config.with_overrides({"run.total_steps": 300}), seeds=[0, 1],
                    run_dir=tmp_path / "pop") as population:
        population.fit()
        obs_actions = population.policy(1)(obs)
        expected = population.policy(1).value(obs, obs_actions)
    from_file = load_policy(tmp_path / "pop" / "population.pt", agent=1)
    np.testing.assert_allclose(from_file.value(obs, obs_actions), expected, rtol=1e-5, atol=1e-5)
