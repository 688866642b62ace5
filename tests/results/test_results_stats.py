"""fastdrop.results.stats: the t quantile against published values, summaries, timings."""

import math

import pytest

from fastdrop.results import stats

# two-sided 95% critical values of Student's t (any statistics table)
T975 = {1: 12.7062047, 2: 4.3026527, 3: 3.1824463, 4: 2.7764451, 5: 2.5705818,
        9: 2.2621572, 29: 2.0452296, 120: 1.9799304}


@pytest.mark.parametrize("df,want", sorted(T975.items()))
def test_t_quantile_matches_tables(df, want):
    assert stats.t_quantile(0.975, df) == pytest.approx(want, abs=2e-7)


def test_t_quantile_other_levels_and_symmetry():
    assert stats.t_quantile(0.995, 4) == pytest.approx(4.6040949, abs=2e-7)
    assert stats.t_quantile(0.95, 10) == pytest.approx(1.8124611, abs=2e-7)
    assert stats.t_quantile(0.025, 3) == pytest.approx(-T975[3], abs=2e-7)
    assert stats.t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)
    assert stats.t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-5)  # normal limit
    assert stats.t_cdf(stats.t_quantile(0.9, 2.5), 2.5) == pytest.approx(0.9, abs=1e-10)
    with pytest.raises(ValueError):
        stats.t_quantile(1.0, 3)


def test_summary_mean_sd_ci():
    s = stats.summary([0.6, 0.62, 0.64])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.62)
    assert s["sd"] == pytest.approx(0.02)
    assert s["ci"] == pytest.approx(T975[2] * 0.02 / math.sqrt(3), rel=1e-7)
    one = stats.summary([0.5, None])  # None (a failed or unreached run) is left out
    assert one == {"n": 1, "mean": 0.5, "sd": None, "ci": None}
    assert stats.summary([])["mean"] is None


def test_timing_median_and_spread():
    t = stats.timing([2.0, 1.0, 4.0])
    assert t["median"] == 2.0 and t["spread"] == pytest.approx(1.5) and t["n"] == 3
    assert stats.timing([])["median"] is None


def test_steps_to_target_first_evaluation_reaching_it():
    hist = [{"step": 100, "test_accuracy": 0.5, "time_s": 0.1},
            {"step": 200, "test_accuracy": None, "time_s": 0.2},
            {"step": 300, "test_accuracy": 0.61, "time_s": 0.3},
            {"step": 400, "test_accuracy": 0.7, "time_s": 0.4}]
    assert stats.steps_to_target(hist, 0.6) == (300, 0.3)
    assert stats.steps_to_target(hist, 0.9) is None
    assert stats.steps_to_target([], 0.1) is None
