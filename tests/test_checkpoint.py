import numpy as np
import pytest
import torch

from lab.checkpoint import CheckpointError, read_checkpoint_file
from lab.events import EpisodeEnded
from lab.policy import load_policy
from lab.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from lab.presets import preset

    config = preset("tiny").with_overrides({"run.analyze_episodes": False, "run.total_steps": 400,
                                            "run.eval_every": 0, "training.learning_starts": 100})
    trainer = Trainer(config, run_dir=tmp_path_factory.mktemp("trained") / "run")
    trainer.fit()
    yield trainer
    trainer.close()


def test_policy_file_round_trip_is_deterministic_for_single_and_batched_inputs(trained, tmp_path):
    path = trained.save_policy(tmp_path / "p.pt")
    policy = load_policy(path)
    obs = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_allclose(policy(obs), trained.policy(obs), rtol=1e-6)
    assert policy(obs[0]).shape == (2,)
    assert np.array_equal(policy(obs), policy(obs))
    with pytest.raises(ValueError, match=r"shape \(8,\) or \(n, 8\)"):
        policy(np.zeros(3))


def test_checkpoint_holds_everything_to_resume(trained):
    data = read_checkpoint_file(trained.checkpoint_path, kind="checkpoint")
    assert {"configs", "learner", "agents", "explorers", "network", "actor", "config"} <= set(data)
    assert {"actor_opt", "critic_opt", "actor_target", "critic_target", "generators"} <= set(data["learner"])
    assert data["agents"][0]["env_step"] == trained.env_step and data["format_version"] == 2


def test_a_run_folder_or_checkpoint_loads_as_a_policy(trained):
    assert load_policy(trained.run_dir)(np.zeros(8, np.float32)).shape == (2,)
    assert load_policy(trained.checkpoint_path)(np.zeros(8, np.float32)).shape == (2,)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated or corrupt"),
    (lambda p: p.write_bytes(b"not a checkpoint at all" * 10), "truncated or corrupt"),
    (lambda p: torch.save({"something": torch.zeros(1)}, p), "not written by Lander Lab"),
    (lambda p: torch.save({"format_version": 99, "actor": {}, "network": {}}, p), "format 99"),
    (lambda p: torch.save({"format_version": 1, "kind": "policy"}, p), "incompatible"),
])
def test_damaged_files_get_clear_errors(trained, tmp_path, damage, message):
    path = tmp_path / "damaged.pt"
    path.write_bytes(trained.checkpoint_path.read_bytes())
    damage(path)
    with pytest.raises(CheckpointError, match=message):
        load_policy(path)


def test_missing_file_and_wrong_kind(trained, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a policy file, expected a checkpoint"):
        read_checkpoint_file(trained.policy_path, kind="checkpoint")


def test_resuming_with_another_network_is_refused(trained, tmp_path):
    other = trained.config.with_overrides({"network.actor_hidden": [8]})
    with pytest.raises(CheckpointError, match=r"network.actor_hidden=\(8,\) differs from checkpoint .* which has "
                                              r"\(32, 32\): a resumed agent keeps its network.actor_hidden"):
        Trainer(other, run_dir=tmp_path / "other", resume=trained.checkpoint_path)
    assert not (tmp_path / "other").exists()  # refused before any folder was made


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "actor": Evil(), "network": {}}, path)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_policy(path)


def _run(config, run_dir, resume=None):
    trainer = Trainer(config, run_dir=run_dir, resume=resume)
    returns = []
    trainer.events.subscribe(lambda e: returns.append(round(e.raw_return, 6)), EpisodeEnded)
    trainer.fit()
    params = torch.cat([p.detach().flatten() for p in trainer.learner.critic.parameters()])
    trainer.close()
    return returns, params, trainer


@pytest.mark.parametrize("noise", ["ou", "gaussian"])
def test_resume_equals_an_uninterrupted_run(tiny_config, tmp_path, noise):
    config = tiny_config.with_overrides({"run.analyze_episodes": False, "run.checkpoint_every": 400,
                                         "run.save_replay": True, "run.total_steps": 800,
                                         "training.n_step": 2, "noise.kind": noise, "noise.touchdown_cut": 0.5})
    full_returns, full_params, full = _run(config, tmp_path / "full")
    half = config.with_overrides({"run.total_steps": 400})
    first_returns, _, first = _run(half, tmp_path / "first")
    rest_returns, rest_params, rest = _run(config, tmp_path / "rest", resume=first.checkpoint_path)
    assert first.env_step >= 400 and rest.env_step == full.env_step
    assert first_returns + rest_returns == full_returns
    assert torch.equal(rest_params, full_params)


def test_a_checkpoint_of_the_earlier_engine_still_flies_but_is_not_resumed(trained, tmp_path):
    old = tmp_path / "old.pt"
    data = read_checkpoint_file(trained.checkpoint_path)
    from lab.checkpoint import write_checkpoint_file

    write_checkpoint_file(old, {"kind": "checkpoint", "config": data["config"], "network": data["network"],
                                "actor": data["actor"], "agent": {}, "counters": {}})
    raw = torch.load(old, weights_only=True)
    raw["format_version"] = 1  # as the engine before this one wrote it (with no checksum, as some older ones did)
    del raw["file_checksum"]
    torch.save(raw, old)
    assert load_policy(old)(np.zeros(8, np.float32)).shape == (2,)
    with pytest.raises(CheckpointError, match=r"earlier version of the lab \(format 1\).*levers-2026-12"):
        Trainer(trained.config, run_dir=tmp_path / "again", resume=old)


def test_numpy_numbers_never_reach_a_saved_file(tiny_config, tmp_path):
    """A numpy float passes every range check but pickles as a numpy object, which weights_only loading refuses."""
    config = tiny_config.with_overrides({"run.analyze_episodes": False, "run.total_steps": 200,
                                         "training.actor_lr": np.float32(5e-4), "run.seed": np.int64(3)})
    assert type(config.training.actor_lr) is float and type(config.run.seed) is int
    trainer = Trainer(config, run_dir=tmp_path / "run")
    trainer.update_hyperparameters(critic_lr=np.logspace(-4, -3, 3)[1], sigma=np.float64(0.2))
    trainer.fit()
    trainer.close()
    data = read_checkpoint_file(tmp_path / "run" / "checkpoint.pt", kind="checkpoint")
    assert data["configs"][0]["training"]["critic_lr"] == pytest.approx(10 ** -3.5)
    longer = trainer.config.with_overrides({"run.total_steps": 300})
    resumed = Trainer(longer, resume=tmp_path / "run" / "checkpoint.pt")
    assert resumed.env_step == trainer.env_step >= 200
    resumed.close()
