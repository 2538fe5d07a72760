import numpy as np
import pytest

from lab.config import NoiseConfig
from lab.noise import PINK_TIMESCALES, GaussianNoise, OUNoise, PinkNoise, make_noise, noise_scale, reconfigured


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
    assert isinstance(make_noise(NoiseConfig(kind="pink"), 2, 2, rng), PinkNoise)


def test_pink_noise_has_the_configured_mean_and_std_from_the_first_step():
    noise = PinkNoise(400, 2, 0.1, 0.2, np.random.default_rng(4))
    samples = np.stack([noise.sample() for _ in range(300)])
    assert samples.std() == pytest.approx(0.2, rel=0.05)
    assert samples.mean() == pytest.approx(0.1, abs=0.02)


def test_pink_noise_spectrum_falls_as_one_over_frequency():
    steps = 4096
    noise = PinkNoise(64, 1, 0.0, 1.0, np.random.default_rng(5))
    xs = np.stack([noise.sample()[:, 0] for _ in range(steps)], axis=1)  # (env, time)
    power = (np.abs(np.fft.rfft(xs, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(steps)
    band = (freqs > 1 / PINK_TIMESCALES[-1]) & (freqs < 1 / (4 * PINK_TIMESCALES[0]))
    slope = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.2)  # white noise: 0; OU and brown noise: -2


def test_pink_noise_holds_an_action_longer_than_gaussian_noise():
    def lag_correlation(noise, lag: int = 25) -> float:
        xs = np.stack([noise.sample()[:, 0] for _ in range(400)])
        return float(np.corrcoef(xs[:-lag].ravel(), xs[lag:].ravel())[0, 1])

    rng = np.random.default_rng(6)
    assert lag_correlation(PinkNoise(64, 1, 0.0, 0.2, rng)) > 0.3
    assert abs(lag_correlation(GaussianNoise(64, 1, 0.0, 0.2, rng))) < 0.05


def test_pink_noise_runs_on_across_episodes():
    noise = PinkNoise(3, 2, 0.0, 0.5, np.random.default_rng(7))
    for _ in range(10):
        noise.sample()
    before = noise.state.copy()
    noise.reset(np.array([False, True, False]))
    noise.reset()
    assert np.array_equal(noise.state, before)


def test_reconfigured_keeps_the_process_for_its_kind_and_swaps_it_for_another_kind():
    rng = np.random.default_rng(8)
    ou = make_noise(NoiseConfig(kind="ou", sigma=0.3), 2, 2, rng)
    wider = NoiseConfig(kind="ou", sigma=0.6)
    assert reconfigured(ou, wider, 2, 2, rng) is ou and ou.config == wider
    pink = reconfigured(ou, NoiseConfig(kind="pink", sigma=0.2), 2, 2, rng)
    assert isinstance(pink, PinkNoise) and pink.sigma == 0.2 and pink.sample().shape == (2, 2)


def test_ground_scale_scales_only_the_rows_of_landers_with_a_leg_down():
    from lab.noise import quieted_on_ground

    obs = np.zeros((4, 8), np.float32)
    obs[1, 6] = obs[2, 7] = 1.0  # right leg down, left leg down; row 3 touches nothing
    obs[3, 6] = 0.4  # under the contact threshold: still airborne
    noise = np.full((4, 2), 0.5, np.float32)
    quiet = quieted_on_ground(noise, obs, NoiseConfig(ground_scale=0.2))
    assert quiet.dtype == np.float32
    np.testing.assert_allclose(quiet, [[0.5, 0.5], [0.1, 0.1], [0.1, 0.1], [0.5, 0.5]])
    assert quieted_on_ground(noise, obs, NoiseConfig()) is noise  # 1 (the default) leaves the draw untouched


def test_ground_scale_is_validated_with_its_range():
    from lab.config import ConfigError

    with pytest.raises(ConfigError, match=r"noise.ground_scale=-1 .*\[0.0, 10.0\]"):
        NoiseConfig(ground_scale=-1)
