"""volts.trading.performance: cross-checked against empyrical and numpy; bootstrap coverage on a planted Sharpe ratio."""

from __future__ import annotations

import datetime as dt
import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from volts.core.errors import DataError
from volts.trading.performance import (
    bootstrap_ci,
    difference_stats,
    drawdown_stats,
    performance_stats,
    schedule_stats,
    sharpe_ratio,
)
from volts.trading.simulate import Holding, Rebalance


def curve(r: np.ndarray, start: str = "2020-01-02", capital: float = 1000.0) -> pd.Series:
    idx = pd.bdate_range(start, periods=len(r) + 1)
    return pd.Series(capital * np.concatenate([[1.0], np.cumprod(1 + r)]), index=idx, name="x")


def test_matches_empyrical_and_numpy():
    r = np.random.default_rng(0).normal(0.0004, 0.012, 800)
    eq = curve(r)
    st = performance_stats(eq, bootstrap_reps=0, risk_free=0.02)
    rf = 1.02 ** (1 / 252) - 1
    assert st["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, risk_free=rf), rel=1e-10)
    assert st["sortino"] == pytest.approx(empyrical.sortino_ratio(r, required_return=rf), rel=1e-10)
    assert st["volatility"] == pytest.approx(empyrical.annual_volatility(r), rel=1e-10)
    assert st["cagr"] == pytest.approx(empyrical.annual_return(r), rel=1e-10)
    assert st["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(r), rel=1e-10)
    assert st["calmar"] == pytest.approx(empyrical.calmar_ratio(r), rel=1e-10)
    assert st["total_return"] == pytest.approx(np.prod(1 + r) - 1, rel=1e-10)
    assert st["hit_rate_days"] == pytest.approx((r > 0).mean())
    assert st["days"] == 800 and st["years"] == pytest.approx(800 / 252)


def test_drawdown_duration_by_hand():
    idx = pd.to_datetime(
        ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08", "2021-01-11", "2021-01-12", "2021-01-13"]
    )
    eq = pd.Series([100, 110, 99, 88, 105, 111, 100, 104.0], index=idx)
    dd = drawdown_stats(eq)
    assert dd["max_drawdown"] == pytest.approx(0.2)  # 110 -> 88
    assert dd["max_drawdown_start"] == idx[1] and dd["max_drawdown_trough"] == idx[3]
    # underwater from the close of Jan 5 (110) to the close of Jan 11 (111): 4 sessions, 6 calendar days;
    # the spell still open at the end (Jan 11 -> Jan 13) is 2 sessions
    assert dd["max_drawdown_duration_sessions"] == 4 and dd["max_drawdown_duration_days"] == 6


def test_turnover_trades_nan_tail_and_schedule():
    r = np.random.default_rng(1).normal(0, 0.01, 252)
    eq = curve(r)
    tv = pd.Series(0.0, index=eq.index)
    tv.iloc[1:] = 2000.0  # 2,000 USD a day for a year
    trades = pd.DataFrame({"pnl": [5.0, -1.0, 2.0, 0.0]})
    sched = [
        Rebalance(dt.date(2020, 1, 3), (Holding("A", "B", 1),)),
        Rebalance(dt.date(2020, 1, 10), (Holding("A", "B", 2), Holding("C", "D", 1))),
        Rebalance(dt.date(2020, 1, 17), ()),
        Rebalance(dt.date(2020, 1, 24), (Holding("C", "D", 1),)),
    ]
    st = performance_stats(eq, trades=trades, turnover_value=tv, bootstrap_reps=0, schedule=sched)
    assert st["turnover"] == pytest.approx(2000.0 * 252 / 1.0 / eq.mean())
    assert st["trades"] == 4 and st["hit_rate_trades"] == 0.5
    assert st["weeks_in_cash"] == 1 and st["distinct_pairs"] == 2
    assert st["average_pair_lifetime"] == pytest.approx((2 + 1 + 1) / 3)
    assert schedule_stats(sched)["pair_counts"] == {"A->B": 2, "C->D": 2}
    # a benchmark that ends early is measured over its own span
    short = eq.copy()
    short.iloc[100:] = np.nan
    st2 = performance_stats(short, bootstrap_reps=0)
    assert st2["days"] == 99 and st2["end"] == eq.index[99]
    holed = eq.copy()
    holed.iloc[50] = np.nan
    with pytest.raises(DataError, match="equity on"):
        performance_stats(holed, bootstrap_reps=0)


def test_bootstrap_interval_covers_the_true_sharpe_at_about_the_nominal_rate():
    mu, sigma, n = 0.0006, 0.01, 500
    true = mu / sigma * math.sqrt(252)
    rng = np.random.default_rng(2024)
    hits, trials = 0, 100
    for k in range(trials):
        r = rng.normal(mu, sigma, n)
        ci = bootstrap_ci(
            lambda x, idx: x[idx].mean(axis=1) / x[idx].std(axis=1, ddof=1) * math.sqrt(252), r, reps=200, seed=k
        )
        hits += ci["low"] <= true <= ci["high"]
    assert 0.86 <= hits / trials <= 0.99, hits / trials  # binomial sd of the rate at 0.95: 0.022


@pytest.mark.slow
def test_performance_ci_brackets_the_point_estimate_and_is_seeded():
    r = np.random.default_rng(3).normal(0.0005, 0.01, 500)
    eq = curve(r)
    a = performance_stats(eq, bootstrap_reps=400, seed=1)
    b = performance_stats(eq, bootstrap_reps=400, seed=1)
    assert a == b
    assert a["sharpe_ci_low"] < a["sharpe"] < a["sharpe_ci_high"] and a["bootstrap_block"] >= 1


@pytest.mark.slow
def test_difference_stats():
    rng = np.random.default_rng(5)
    rb = rng.normal(0.0003, 0.01, 600)
    rs = rb + rng.normal(0.0004, 0.002, 600)
    s, b = curve(rs).rename("s"), curve(rb).rename("b")
    b.iloc[400:] = np.nan  # e.g. SPY ends first: the common span only
    out = difference_stats(s, b, bootstrap_reps=400)
    d = rs[:399] - rb[:399]
    assert out["days"] == 399
    assert out["mean_daily"] == pytest.approx(d.mean(), rel=1e-9)
    assert out["sharpe"] == pytest.approx(empyrical.sharpe_ratio(d), rel=1e-9)
    assert out["tracking_error"] == pytest.approx(d.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert out["sharpe_ci_low"] < out["sharpe"] < out["sharpe_ci_high"]
    assert out["annual_mean_ci_low"] < out["annual_mean"] < out["annual_mean_ci_high"]
    assert out["sharpe_difference"] == pytest.approx(out["sharpe_strategy"] - out["sharpe_benchmark"])
    with pytest.raises(DataError):
        difference_stats(s.iloc[:2], b.iloc[:2])


def test_a_ruined_curve_is_measured_up_to_its_ruin_day_as_a_total_loss():
    """Equity at or below 0 (losses and commissions beyond the capital, as thousands of $9 orders on a $100,000
    account do) is ruin, not bad input: the statistics stop at the first such day, counted as a loss of everything,
    and say when. Independent answers: the same statistics of the curve cut by hand with that day set to 0."""
    r = np.random.default_rng(3).normal(0.0, 0.01, 300)
    eq = curve(r)
    ruined = eq.copy()
    ruined.iloc[120] = -1234.5  # marked below zero ...
    ruined.iloc[121:] = np.linspace(-1000, 50, 180)  # ... and what a simulation with credit marks afterwards
    st = performance_stats(ruined, bootstrap_reps=0)
    assert st["ruined"] == {"date": eq.index[120].date(), "equity": -1234.5, "sessions_lost": 180}
    assert st["total_return"] == -1.0 and st["cagr"] == -1.0 and st["max_drawdown"] == 1.0
    assert st["end"] == eq.index[120] and st["days"] == 120
    by_hand = eq.iloc[:121].copy()
    by_hand.iloc[-1] = 0.0
    rets = by_hand.to_numpy()[1:] / by_hand.to_numpy()[:-1] - 1.0
    assert rets[-1] == -1.0
    assert st["sharpe"] == pytest.approx(empyrical.sharpe_ratio(rets), rel=1e-12)
    assert st["volatility"] == pytest.approx(np.std(rets, ddof=1) * math.sqrt(252), rel=1e-12)
    assert st["max_drawdown_trough"] == eq.index[120]
    # exactly 0 is ruin too; a healthy curve has none
    zero = eq.copy()
    zero.iloc[200] = 0.0
    assert performance_stats(zero, bootstrap_reps=0)["ruined"]["sessions_lost"] == 100
    assert performance_stats(eq, bootstrap_reps=0)["ruined"] is None
    # a curve that starts at or below 0 is still an error (nothing to measure), and so is a gap
    bad = eq.copy()
    bad.iloc[0] = 0.0
    with pytest.raises(DataError, match="positive starting value"):
        performance_stats(bad, bootstrap_reps=0)
    # the comparison with a benchmark stops on the same day, the strategy's return that day -100 %
    bench = curve(np.random.default_rng(4).normal(0.0, 0.01, 300)).rename("b")
    diff = difference_stats(ruined.rename("s"), bench, bootstrap_reps=0)
    assert diff["ruined"] == {"date": eq.index[120].date(), "sessions_lost": 180, "which": ["strategy"]}
    rb = bench.to_numpy()[1:121] / bench.to_numpy()[:120] - 1.0
    assert diff["days"] == 120 and diff["mean_daily"] == pytest.approx((rets - rb).mean(), rel=1e-12)
    assert difference_stats(eq.rename("s"), bench, bootstrap_reps=0)["ruined"] is None
