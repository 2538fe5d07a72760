"""Statistics over seeds against values worked out by hand (Agarwal et al. 2021's IQM and bootstrap CI)."""

from __future__ import annotations

import numpy as np
import pytest

from lab import stats


def test_iqm_is_the_mean_of_the_middle_half():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([0, 0, 1, 2, 3, 100, 100, 100]) == pytest.approx(26.5)  # mean of 1, 2, 3, 100
    assert stats.iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)  # order does not matter
    assert stats.iqm([10.0, 20.0, 30.0, 1000.0]) == pytest.approx(25.0)  # an outlier seed does not dominate


def test_spread_reports_median_iqm_and_an_interval_around_the_iqm():
    values = [30_000, 40_000, 55_000, 100_000, 300_000]
    s = stats.spread(values)
    assert (s.n, s.median) == (5, 55_000) and s.iqm == pytest.approx(65_000)  # mean of 40k, 55k, 100k
    assert s.ci_low <= s.iqm <= s.ci_high
    assert min(values) <= s.ci_low < s.ci_high <= max(values)
    assert s.text() == f"65,000 [{s.ci_low:,.0f}, {s.ci_high:,.0f}]"


def test_interval_narrows_with_more_seeds():
    rng = np.random.default_rng(3)
    few, many = rng.normal(50, 10, 5), rng.normal(50, 10, 200)
    narrow, wide = stats.spread(many), stats.spread(few)
    assert (narrow.ci_high - narrow.ci_low) < (wide.ci_high - wide.ci_low) / 2
    assert narrow.ci_low < 50 < narrow.ci_high


def test_interval_is_deterministic_given_a_seed():
    values = [3.0, 9.0, 1.0, 7.0, 4.0, 12.0]
    assert stats.spread(values, seed=5) == stats.spread(values, seed=5)
    intervals = {(s.ci_low, s.ci_high) for s in (stats.spread(values, resamples=100, seed=k) for k in range(5))}
    assert len(intervals) > 1  # the seed does drive the resampling


def test_all_equal_data_and_a_single_seed():
    s = stats.spread([7.0, 7.0, 7.0, 7.0])
    assert (s.median, s.iqm, s.ci_low, s.ci_high) == (7.0, 7.0, 7.0, 7.0)
    one = stats.spread([42.0])
    assert (one.iqm, one.ci_low, one.ci_high) == (42.0, None, None) and one.text() == "42"
    with pytest.raises(ValueError, match="no values"):
        stats.spread([])
    with pytest.raises(ValueError, match="finite"):
        stats.spread([1.0, float("nan")])


def test_stratified_bootstrap_resamples_within_each_task():
    # Task A's seeds are all 0 and task B's all 10: resampling within tasks keeps half of
    # the pooled values at each level, so the pooled IQM never moves. A pooled bootstrap
    # would mix the tasks and spread the interval.
    a, b = [0.0] * 4, [10.0] * 4
    assert stats.stratified_bootstrap_ci([a, b]) == pytest.approx((5.0, 5.0))
    low, high = stats.stratified_bootstrap_ci([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0]])
    assert low <= float(stats.iqm([1, 2, 3, 4, 10, 20, 30])) <= high
    assert stats.stratified_bootstrap_ci([[5.0]]) is None
    assert stats.stratified_bootstrap_ci([[1.0], [9.0]]) == (5.0, 5.0)  # one seed per task: nothing to resample


def test_unsolved_seeds_count_at_the_cap():
    assert stats.counted_at_cap([10.0, None, 30.0], cap=100.0) == [10.0, 100.0, 30.0]
    solve = stats.solve_statistics([20_000, None, 40_000, None], [50.0, None, 90.0, None], step_cap=100_000,
                                   seconds_cap=600.0)
    assert (solve.seeds, solve.solved) == (4, 2)
    assert solve.env_steps.median == 70_000 and solve.env_steps.iqm == pytest.approx(70_000)  # 40k and 100k
    assert solve.train_seconds.iqm == pytest.approx(345.0)  # mean of 90 and 600
    assert solve.to_dict()["env_steps"]["ci_high"] <= 100_000
    with pytest.raises(ValueError, match="one of each per seed"):
        stats.solve_statistics([1.0], [], 10, 10)


def test_bootstrap_band_follows_the_mean_and_skips_lone_points():
    curves = np.array([[0.0, 10.0, 20.0, np.nan],
                       [2.0, 12.0, 28.0, 40.0],
                       [1.0, 11.0, 24.0, np.nan]])
    mean, low, high = stats.bootstrap_band(curves)
    np.testing.assert_allclose(mean, [1.0, 11.0, 24.0, 40.0])
    assert np.all(low[:3] <= mean[:3]) and np.all(mean[:3] <= high[:3]) and np.all(high[:3] > low[:3])
    assert np.isnan(low[3]) and np.isnan(high[3])  # one seed left: no band
    flat_mean, flat_low, flat_high = stats.bootstrap_band(np.array([[5.0, 1.0], [5.0, 3.0]]))
    assert (flat_low[0], flat_high[0]) == (5.0, 5.0) and flat_low[1] >= 1.0 and flat_high[1] <= 3.0
    with pytest.raises(ValueError, match="2-D"):
        stats.bootstrap_band(np.zeros(3))
