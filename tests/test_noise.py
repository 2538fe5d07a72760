import numpy as np
import pytest

from lab.config import NoiseConfig
from lab.rollout.noise import GaussianNoise, OUNoise, make_noise, noise_scale, reconfigured


def test_ou_has_the_stationary_mean_and_variance():
    mu, sigma, theta, dt = 0.1, 0.3, 0.5, 0.1
    noise = OUNoise(64, 2, mu, sigma, theta, dt, np.random.default_rng(0))
    for _ in range(200):  # burn in: (1 - theta*dt)^200 is negligible
        noise.sample()
    samples = np.stack([noise.sample() for _ in range(2000)])
    decay = 1 - theta * dt
    stationary_var = sigma ** 2 * dt / (1 - decay ** 2)
    assert samples.mean() == pytest.approx(mu, abs=0.02)
    assert samples.var() == pytest.approx(stationary_var, rel=0.05)


def test_ou_is_autocorrelated_with_the_expected_lag_one_coefficient():
    noise = OUNoise(256, 1, 0.0, 0.3, 0.5, 0.1, np.random.default_rng(1))
    for _ in range(200):
        noise.sample()
    xs = np.stack([noise.sample()[:, 0] for _ in range(1000)])
    corr = np.corrcoef(xs[:-1].ravel(), xs[1:].ravel())[0, 1]
    assert corr == pytest.approx(1 - 0.5 * 0.1, abs=0.02)


def test_ou_resets_only_the_envs_asked():
    noise = OUNoise(3, 2, 0.0, 0.5, 0.2, 0.5, np.random.default_rng(2))
    for _ in range(10):
        noise.sample()
    before = noise.state.copy()
    noise.reset(np.array([False, True, False]))
    assert np.all(noise.state[1] == 0.0)
    assert np.array_equal(noise.state[[0, 2]], before[[0, 2]])


def test_gaussian_noise_statistics():
    noise = GaussianNoise(100, 2, 0.0, 0.2, np.random.default_rng(3))
    samples = np.stack([noise.sample() for _ in range(500)])
    assert samples.std() == pytest.approx(0.2, rel=0.03)
    assert abs(samples.mean()) < 0.01


def test_scale_schedule_decays_linearly_then_holds():
    cfg = NoiseConfig(scale_start=1.0, scale_end=0.2, scale_decay_episodes=300)
    assert noise_scale(cfg, 0) == pytest.approx(1.0)
    assert noise_scale(cfg, 150) == pytest.approx(0.6)
    assert noise_scale(cfg, 1000) == pytest.approx(0.2)
    assert noise_scale(NoiseConfig(scale_decay_episodes=0, scale_start=0.7), 50) == 0.7


def test_make_noise_picks_the_configured_kind():
    rng = np.random.default_rng(0)
    assert isinstance(make_noise(NoiseConfig(kind="ou"), 2, 2, rng), OUNoise)
    assert isinstance(make_noise(NoiseConfig(kind="gaussian"), 2, 2, rng), GaussianNoise)


def test_reconfigured_keeps_the_process_for_its_kind_and_swaps_it_for_another_kind():
    rng = np.random.default_rng(8)
    ou = make_noise(NoiseConfig(kind="ou", sigma=0.3), 2, 2, rng)
    wider = NoiseConfig(kind="ou", sigma=0.6)
    assert reconfigured(ou, wider, 2, 2, rng) is ou and ou.config == wider
    gaussian = reconfigured(ou, NoiseConfig(kind="gaussian", sigma=0.2), 2, 2, rng)
    assert isinstance(gaussian, GaussianNoise) and gaussian.sigma == 0.2 and gaussian.sample().shape == (2, 2)


def test_retired_noise_settings_are_refused_with_the_tag_that_has_them():
    from lab.config import Config, ConfigError

    with pytest.raises(ConfigError, match=r"noise.ground_scale=0.5 is no longer supported.*levers-2026-12"):
        Config().with_overrides({"noise.ground_scale": 0.5})
    assert Config().with_overrides({"noise.ground_scale": 1.0}) == Config()  # an old command line's inert value
    with pytest.raises(ConfigError, match=r"noise.kind='pink' is invalid: allowed one of ou, gaussian"):
        NoiseConfig(kind="pink")
