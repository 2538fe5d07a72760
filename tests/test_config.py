import dataclasses
import json

import pytest

from lab.config import Config, ConfigError, NetworkConfig, TrainingConfig, parse_override, resolve_field
from lab.presets import preset, preset_names


@pytest.mark.parametrize("field, value, fragment", [
    ("actor_lr", -1.0, "training.actor_lr=-1.0 is invalid: allowed a number in (0.0, 1.0]"),
    ("gamma", 1.0, "training.gamma=1.0"),
    ("batch_size", 0, "an integer in [1, 65536]"),
    ("policy_delay", 2.5, "training.policy_delay=2.5"),
    ("critic_loss", "l1", "one of mse, huber"),
    ("precision", "float16", "one of float32, bfloat16"),
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
