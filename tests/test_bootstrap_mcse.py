"""Monte-Carlo error of the bootstrap intervals: the standard error of an interval end against a brute-force
estimate (the same bootstrap repeated with many seeds), the adaptive replication count, the resampling process
against arch's, and the "at the edge" wording of a verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from volts.trading.performance import (
    _stationary_indices,
    bootstrap_ci,
    bootstrap_replicates,
    difference_stats,
    performance_stats,
    quantile_mcse,
)
from volts.reporting.walkforward_report import at_the_edge, verdict


def _mean(x, idx):
    return x[idx].mean(axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("block", [1.0, 5.0])
def test_interval_end_standard_error_matches_the_spread_over_many_seeds(block):
    r = np.random.default_rng(7).standard_t(4, 250) * 0.01
    reps, seeds = 800, 300
    lows, highs, se_lo, se_hi = [], [], [], []
    for seed in range(seeds):
        ci = bootstrap_ci(_mean, r, reps=reps, seed=seed, block=block)
        lows.append(ci["low"]), highs.append(ci["high"])
        se_lo.append(ci["low_mcse"]), se_hi.append(ci["high_mcse"])
    # brute force: the spread of each end over independent bootstrap runs on the same data. Its own sampling
    # error with 300 seeds is about 1 / sqrt(2 * 299) = 4 %; the estimator's bias at B = 800 is a few % more
    for brute, est in ((np.std(lows, ddof=1), np.mean(se_lo)), (np.std(highs, ddof=1), np.mean(se_hi))):
        assert est == pytest.approx(brute, rel=0.2)


def test_quantile_standard_error_of_a_normal_sample_is_the_textbook_value():
    # sqrt(q (1 - q) / B) / phi(z_q) for standard normal draws: the density is known exactly
    from scipy.stats import norm

    v = np.random.default_rng(3).standard_normal(200_000)
    q = 0.025
    exact = math.sqrt(q * (1 - q) / len(v)) / norm.pdf(norm.ppf(q))
    assert quantile_mcse(v, q) == pytest.approx(exact, rel=0.1)


def test_replications_grow_until_the_target_is_met_or_the_cap():
    r = np.random.default_rng(11).normal(0.0005, 0.01, 300)
    loose = bootstrap_replicates([_mean], r, block=3.0, reps=500, seed=4)[0]
    target = loose["low_mcse"] / 4  # needs about 16 times the resamples
    tight = bootstrap_replicates([_mean], r, block=3.0, reps=500, seed=4, targets=[target])[0]
    assert tight["reps"] > 8 * 500 and tight["mcse_met"]
    assert max(tight["low_mcse"], tight["high_mcse"]) <= target
    # a target that needs more than the cap is out of reach: no draws beyond the first, and it says so
    capped = bootstrap_replicates([_mean], r, block=3.0, reps=500, seed=4, targets=[target], max_reps=4000)[0]
    assert capped["reps"] == 500 and capped["mcse_met"] is False
    assert (capped["low"], capped["high"], capped["low_mcse"]) == (loose["low"], loose["high"], loose["low_mcse"])
    # within the cap it grows, and the grown run extends the initial stream: its interval with the same count
    # is that of a plain run of that count
    grown = bootstrap_replicates([_mean], r, block=3.0, reps=500, seed=4, targets=[target], max_reps=100_000)[0]
    again = bootstrap_replicates([_mean], r, block=3.0, reps=grown["reps"], seed=4)[0]
    assert (again["low"], again["high"]) == (grown["low"], grown["high"])


def test_resampling_process_matches_arch_stationary_bootstrap():
    from arch.bootstrap import StationaryBootstrap

    n, block, reps = 60, 4.0, 3000
    ours = _stationary_indices(n, block, reps, np.random.default_rng(1))
    bs = StationaryBootstrap(block, np.arange(n), seed=np.random.default_rng(2))
    theirs = np.vstack([bs.update_indices() for _ in range(reps)])
    for idx in (ours, theirs):
        assert idx.min() >= 0 and idx.max() < n

    # share of days that continue their block (next index = previous + 1 mod n): 1 - 1/block, plus chance hits
    def cont(idx):
        return float(np.mean(idx[:, 1:] == (idx[:, :-1] + 1) % n))

    assert cont(ours) == pytest.approx(cont(theirs), abs=0.01)
    assert cont(ours) == pytest.approx(1 - 1 / block + 1 / block / n, abs=0.01)
    # every day equally likely at every position
    counts = np.bincount(ours.ravel(), minlength=n) / ours.size
    assert counts == pytest.approx(np.full(n, 1 / n), abs=0.003)


@pytest.mark.slow
def test_performance_and_difference_stats_report_the_error_of_every_end():
    days = pd.bdate_range("2020-01-01", periods=400)
    rng = np.random.default_rng(5)
    a = pd.Series(100 * np.cumprod(1 + rng.normal(0.0004, 0.005, 400)), index=days)
    b = pd.Series(100 * np.cumprod(1 + rng.normal(0.0002, 0.005, 400)), index=days)
    st = performance_stats(a)
    assert st["sharpe_ci_low_mcse"] <= 0.01 and st["sharpe_ci_high_mcse"] <= 0.01 and st["sharpe_ci_mcse_met"]
    d = difference_stats(a, b)
    for name, target in (("annual_mean", 0.001), ("sharpe", 0.01), ("sharpe_difference", 0.01)):
        assert d[f"{name}_ci_mcse_met"]
        assert max(d[f"{name}_ci_low_mcse"], d[f"{name}_ci_high_mcse"]) <= target


def _metrics(lo, hi, se_lo, se_hi, diff=None):
    m = {
        "first_asof": "2020-01-03",
        "end": "2021-01-01",
        "every": "1W",
        "strategy": {
            "sharpe": 0.5,
            "sharpe_ci_low": lo,
            "sharpe_ci_high": hi,
            "sharpe_ci_low_mcse": se_lo,
            "sharpe_ci_high_mcse": se_hi,
        },
    }
    if diff:
        m["differences"] = {"universe_equal_weight": diff}
    return m


def test_a_verdict_within_two_standard_errors_of_zero_is_at_the_edge():
    assert at_the_edge(0.015, 1.0, 0.01, 0.01) and not at_the_edge(0.025, 1.0, 0.01, 0.01)
    edge = " ".join(verdict(_metrics(0.015, 1.1, 0.01, 0.01)))
    assert "at the edge" in edge and "positive with 95 % confidence" not in edge
    clear = " ".join(verdict(_metrics(0.05, 1.1, 0.01, 0.01)))
    assert "positive with 95 % confidence" in clear and "at the edge" not in clear
    # the difference against a benchmark: -0.4 % a year with an error of 0.3 point is at the edge
    diff = {
        "annual_mean": -0.3,
        "annual_mean_ci_low": -0.66,
        "annual_mean_ci_high": -0.004,
        "annual_mean_ci_low_mcse": 0.003,
        "annual_mean_ci_high_mcse": 0.003,
    }
    text = " ".join(verdict(_metrics(-0.5, 1.1, 0.01, 0.01, diff)))
    assert "at the edge" in text and "negative with 95 % confidence" not in text
    diff.update(annual_mean_ci_high_mcse=0.001)
    text = " ".join(verdict(_metrics(-0.5, 1.1, 0.01, 0.01, diff)))
    assert "negative with 95 % confidence" in text and "at the edge" not in text


@pytest.mark.parametrize("n, reps, block", [(1, 3, 1.0), (257, 250, 7.5), (3000, 13, 40.0)])
def test_stationary_indices_in_row_chunks_equal_the_whole_batch_formula(n, reps, block):
    """The resamples are post-processed a few rows at a time; the values are those of the whole-batch formula
    from the same generator (daily intervals and artifacts unchanged)."""
    rng = np.random.default_rng(5)
    new = rng.random((reps, n)) < 1.0 / block
    new[:, 0] = True
    starts = rng.integers(0, n, size=(reps, n))
    pos = np.arange(n)
    last = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    expected = (np.take_along_axis(starts, last, axis=1) + (pos - last)) % n
    np.testing.assert_array_equal(_stationary_indices(n, block, reps, np.random.default_rng(5)), expected)
