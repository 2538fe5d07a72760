import dataclasses
import json

import pytest

from lab import lander
from lab.config import (
    SECTIONS,
    Config,
    ConfigError,
    EnvironmentConfig,
    NetworkConfig,
    TrainingConfig,
    bounds_of,
    network_bytes,
    parse_override,
    physical_memory,
    resolve_field,
)
from lab.presets import preset, preset_names


@pytest.mark.parametrize("field, value, fragment", [
    ("actor_lr", -1.0, "training.actor_lr=-1.0 is invalid: allowed a number in (0.0, 1.0]"),
    ("gamma", 1.0, "training.gamma=1.0"),
    ("batch_size", 0, "an integer in [1, 65536]"),
    ("policy_delay", 2.5, "training.policy_delay=2.5"),
    ("critic_loss", "l1", "one of mse, huber"),
    ("use_per", "yes", "true or false"),
])
def test_bad_values_name_the_field_the_value_and_the_range(field, value, fragment):
    with pytest.raises(ConfigError) as err:
        TrainingConfig(**{field: value})
    assert fragment in str(err.value)


def test_batch_size_may_not_exceed_buffer_size():
    with pytest.raises(ConfigError, match="batch_size=512 is invalid: allowed at most training.buffer_size=256"):
        TrainingConfig(batch_size=512, buffer_size=256)


def test_hidden_sizes_are_validated_and_frozen_as_tuples():
    net = NetworkConfig(actor_hidden=[512, 256, 128, 64])
    assert net.actor_hidden == (512, 256, 128, 64)
    with pytest.raises(ConfigError, match="network.critic_hidden"):
        NetworkConfig(critic_hidden=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.layer_norm = True  # type: ignore[misc]


def test_yaml_and_json_round_trip(tmp_path):
    config = preset("seed-doc")
    for name in ("c.yaml", "c.json"):
        path = config.save(tmp_path / name)
        assert Config.load(path) == config
    assert json.loads(config.to_json())["network"]["actor_hidden"] == [256, 128]


def test_dotted_and_bare_overrides_from_strings_and_code():
    config = Config().with_overrides(["training.actor_lr=3e-4", "run.total_steps=50000",
                                      "network.actor_hidden=[64, 64]", "env.reward_shaping=true"])
    assert config.training.actor_lr == 3e-4
    assert config.run.total_steps == 50000
    assert config.network.actor_hidden == (64, 64)
    assert config.env.reward_shaping is True
    assert Config().with_overrides(tau=0.01, sigma=0.5).noise.sigma == 0.5


def test_unknown_fields_and_sections_are_refused_with_the_allowed_names():
    with pytest.raises(ConfigError, match="unknown field 'actorlr' in section training"):
        resolve_field("training.actorlr")
    with pytest.raises(ConfigError, match="unknown config section 'train'"):
        resolve_field("train.actor_lr")
    with pytest.raises(ConfigError, match="unknown config field 'bogus'"):
        Config().with_overrides(bogus=1)
    with pytest.raises(ConfigError, match="unknown field"):
        Config.from_dict({"training": {"lr": 1}})


def test_override_needs_key_equals_value():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("training.actor_lr")
    assert parse_override("training.actor_lr=3e-4") == ("training.actor_lr", 3e-4)


def test_bad_config_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [1, 2")
    with pytest.raises(ConfigError, match="not valid"):
        Config.load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "missing.yaml")


def test_presets_are_valid_and_seed_doc_matches_the_original_design():
    for name in preset_names():
        assert isinstance(preset(name), Config)
    doc = preset("seed-doc")
    assert doc.network.actor_hidden == (256, 128) and doc.network.layer_norm
    t = doc.training
    assert (t.actor_lr, t.critic_lr, t.gamma, t.tau, t.batch_size, t.buffer_size) == (1e-3, 2e-3, 0.99, 0.005, 128,
                                                                                        16384)
    assert (t.learning_starts, t.policy_delay, t.use_per, t.per_alpha) == (512, 3, True, 0.6)
    assert (t.per_beta_start, t.per_beta_end, t.target_policy_noise, t.target_noise_clip, t.grad_clip) == (
        0.4, 1.0, 0.2, 0.5, 1.0)
    n = doc.noise
    assert (n.kind, n.sigma, n.theta, n.dt, n.scale_start, n.scale_end, n.scale_decay_episodes) == (
        "ou", 0.3, 0.2, 0.01, 1.0, 0.2, 300)
    assert doc.env.num_envs == 8 and t.warmup_episodes == 30
    with pytest.raises(ConfigError, match="unknown preset 'fastest'"):
        preset("fastest")


# ---- bounds live beside each field ---------------------------------------------------------------
def test_every_field_carries_its_bounds_and_validation_reads_them():
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            bounds = bounds_of(f"{section}.{f.name}")
            assert bounds is f.metadata["bounds"]
            default = getattr(cls(), f.name)
            assert (list(default) if isinstance(default, tuple) else default) in bounds, f.name
    lr = bounds_of("actor_lr")  # a bare name works too
    assert (lr.low, lr.high, lr.low_open, lr.high_open, lr.log) == (0.0, 1.0, True, False, True)
    assert bounds_of("training.batch_size").allowed() == "an integer in [1, 65536]"
    assert bounds_of("critic_loss").choices == ("mse", "huber")
    with pytest.raises(ConfigError, match=r"training.actor_lr=-1 is invalid: allowed a number in \(0.0, 1.0\]"):
        Config().with_overrides({"training.actor_lr": -1})


def test_changing_a_bound_in_the_metadata_changes_what_validation_allows(monkeypatch):
    field = next(f for f in dataclasses.fields(TrainingConfig) if f.name == "policy_delay")
    narrower = dataclasses.replace(field.metadata["bounds"], high=3)
    monkeypatch.setattr(field, "metadata", {"bounds": narrower})
    import lab.config

    lab.config._BOUNDED_FIELDS.clear()
    try:
        with pytest.raises(ConfigError, match=r"training.policy_delay=4 is invalid: allowed an integer in \[1, 3\]"):
            TrainingConfig(policy_delay=4)
    finally:
        monkeypatch.undo()
        lab.config._BOUNDED_FIELDS.clear()
    assert TrainingConfig(policy_delay=4).policy_delay == 4


def test_success_threshold_defaults_to_the_landers_solved_return():
    assert EnvironmentConfig().success_threshold == lander.SUCCESS_RETURN


# ---- limits ----------------------------------------------------------------------------------------
def test_networks_that_would_not_fit_in_memory_are_refused_with_the_estimate():
    with pytest.raises(ConfigError) as err:
        Config().with_overrides({"network.actor_hidden": [100000, 100000]})
    text = str(err.value)
    assert text.startswith("network.actor_hidden=[100000, 100000] is invalid: allowed networks that fit in memory")
    assert "10,001," in text and "parameters" in text and "GiB" in text  # about 1.0e10 parameters
    assert network_bytes(NetworkConfig(actor_hidden=[64, 64])) < 2**30 < physical_memory()
    with pytest.raises(ConfigError, match="network.critic_hidden"):
        NetworkConfig(critic_hidden=[4096] * 2000)  # deep rather than wide: caught all the same
    with pytest.raises(ConfigError, match=r"each an integer in \[1, 1000000\]"):
        NetworkConfig(actor_hidden=[0])


# ---- config files ------------------------------------------------------------------------------------
def test_a_config_path_that_is_a_folder_says_so(tmp_path):
    (tmp_path / "c.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"config file '.*c.yaml' is a folder, not a file"):
        Config.load(tmp_path / "c.yaml")


def test_a_config_file_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("training:\n  actor_lr: 0.001  # réglé\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"config file '.*latin1.yaml' is not UTF-8 text \(byte 0xe9"):
        Config.load(path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_an_empty_config_file_is_refused(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"config file '.*empty.yaml' is empty"):
        Config.load(path)


@pytest.mark.parametrize("name, text, key", [
    ("dup.yaml", "training:\n  actor_lr: 1.0e-3\n  actor_lr: 3.0e-4\n", "actor_lr"),
    ("dup_section.yaml", "run:\n  seed: 1\ntraining: {tau: 0.01}\nrun:\n  seed: 2\n", "run"),
    ("dup.json", '{"noise": {"sigma": 0.1, "sigma": 0.2}}', "sigma"),
])
def test_a_key_given_twice_is_refused_naming_the_key_and_the_file(tmp_path, name, text, key):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        Config.load(path)
    assert f"config file '{path}' gives key '{key}' twice" in str(err.value)


def test_a_valid_file_still_loads_with_the_strict_reader(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("training:\n  actor_lr: 3.0e-4\nnetwork:\n  actor_hidden: [64, 64]\n")
    config = Config.load(path)
    assert config.training.actor_lr == 3e-4 and config.network.actor_hidden == (64, 64)
    path.write_text("training:\n  gamma: 1.5\n")
    with pytest.raises(ConfigError, match=r"config file '.*ok.yaml': training.gamma=1.5 is invalid"):
        Config.load(path)
    path.write_text("just a sentence\n")
    with pytest.raises(ConfigError, match=r"config file '.*ok.yaml': a config must be a mapping of sections"):
        Config.load(path)
