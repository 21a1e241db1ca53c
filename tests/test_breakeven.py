"""Break-even cost (volts.evaluation.breakeven).

* planted truth: a hand-built equity/turnover series whose net return at cost c is g - c tau by construction, so
  the break-even is mean(g) / mean(tau) in closed form; the root finder on the same series finds the same number;
* the simulator: at the reported break-even cost the simulator's mean daily net return is ~0;
* a strategy that loses before costs has no break-even ("none").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.evaluation.breakeven import (
    XTOL_BPS,
    break_even_root,
    break_even_section,
    linear_break_even,
    mean_daily_return,
)
from volts.trading.simulate import simulate_schedule

from tests.test_simulate import make_market, random_schedule, settings


def _planted(c_bps: float, n: int = 400, seed: int = 1):
    """Equity whose daily return is g_t - c tau_t, with g and tau drawn once (independent of c)."""
    rng = np.random.default_rng(seed)
    g = 0.0004 + rng.normal(0, 0.002, n)
    tau = rng.uniform(0.0, 0.4, n)
    r = g - c_bps / 1e4 * tau
    idx = pd.bdate_range("2020-01-01", periods=n + 1)
    eq = pd.Series(np.concatenate([[1e5], 1e5 * np.cumprod(1 + r)]), index=idx)
    traded = pd.Series(np.concatenate([[0.0], tau * eq.to_numpy()[:-1]]), index=idx)
    return eq, traded, g, tau


def test_linear_break_even_planted_closed_form():
    for c in (0.0, 3.0, 12.0):
        eq, traded, g, tau = _planted(c)
        paid = traded * c / 1e4
        truth = g.mean() / tau.mean() * 1e4
        got = linear_break_even(eq, traded, paid)
        # the identity g = r + K / E holds to rounding of the cumulative product
        assert got["bps_per_side"] == pytest.approx(truth, rel=1e-9)
        assert got["status"] == "root"


def test_root_finder_on_the_planted_series_equals_the_closed_form():
    _, _, g, tau = _planted(0.0)
    truth = g.mean() / tau.mean() * 1e4

    def mean_at(c: float) -> float:
        eq, *_ = _planted(c)
        return mean_daily_return(eq)

    got = break_even_root(mean_at, guess=1.0)  # a poor guess: the bracket search must still find it
    assert got["status"] == "root"
    assert got["bps_per_side"] == pytest.approx(truth, abs=2 * XTOL_BPS)


def test_negative_gross_mean_has_no_break_even():
    eq, traded, g, tau = _planted(0.0, seed=2)
    down = pd.Series(eq.iloc[0] * np.cumprod(np.r_[1.0, np.full(len(eq) - 1, 0.9999)]), index=eq.index)
    assert linear_break_even(down, traded)["status"] == "none"
    assert break_even_root(lambda c: -0.001 - c)["status"] == "none"
    assert break_even_root(lambda c: 1.0)["status"] == "above"


def test_simulator_mean_net_return_is_zero_at_the_break_even():
    m = make_market(seed=5)
    sched = random_schedule(m, np.random.default_rng(9))
    s = settings(**{"strategy.mode": "long_only"})
    end = m.dates[-1]

    def run(c):
        return simulate_schedule(m, sched, end=end, settings=s, spy=False, cost_bps=c)

    sec = break_even_section(run, settings=s)
    be = sec["strategy"]
    zero = run(0.0)
    if be["status"] == "none":  # this market's draw lost before costs: the definition says so
        assert mean_daily_return(zero.equity) <= 0
        pytest.skip("gross mean <= 0 on this draw")
    assert be["status"] == "root"
    c = be["bps_per_side"]
    tau = linear_break_even(zero.equity, zero.turnover_value)["turnover_mean_daily"]
    # |M(c*)| <= slope x tolerance of the root: the slope of M is about -mean(tau) per unit of cost (1e-4 bps
    # = 1e-8), times 10 for the sizes' second-order dependence on c
    assert abs(mean_daily_return(run(c).equity)) <= 10 * tau * XTOL_BPS / 1e4
    assert mean_daily_return(run(c * 0.9).equity) > 0 > mean_daily_return(run(c * 1.1).equity)
    # the first-order estimate from the zero-cost run is close to the root (sizes depend on c only weakly)
    assert be["first_estimate"] == pytest.approx(c, rel=0.05)
    # differences against each benchmark: the mean daily difference is ~0 at its own root
    for name, d in sec["differences"].items():
        if d["status"] == "root":
            r = run(d["bps_per_side"])
            x, y = r.equity, r.benchmarks[name]
            diff = np.mean(x.pct_change().dropna().to_numpy() - y.pct_change().dropna().to_numpy())
            assert abs(diff) <= 10 * tau * XTOL_BPS / 1e4
    assert sec["sweep"]["bps"][0] == 0.0 and len(sec["sweep"]["curves"]["strategy"]["sharpe"]) == len(
        sec["sweep"]["bps"]
    )


def test_null_break_even_quantiles_rank_none_lowest_and_skip_unknown():
    from volts.evaluation.nulls import break_even_quantiles

    q = break_even_quantiles(np.array([5.0, -np.inf, 1.0, np.nan, 3.0]))
    assert q["break_even_median"] in (1.0, 3.0) and q["break_even_q975"] == 5.0
    assert q["break_even_q025"] is None  # the lowest draw lost before costs: no break-even there
    assert q["break_even_none"] == 1 and q["break_even_unknown"] == 1
    all_none = break_even_quantiles(np.array([-np.inf, -np.inf, 2.0]))
    assert all_none["break_even_median"] is None


def test_report_section_and_cost_sweep_figure(tmp_path):
    from volts.reporting.break_even import break_even_markdown
    from volts.reporting.figures.costs import cost_sweep_figure

    be = {
        "strategy": {"bps_per_side": 12.5, "status": "root", "mean_at_zero": 0.0004, "first_estimate": 12.9},
        "differences": {"followers_buy_and_hold": {"bps_per_side": None, "status": "none", "mean_at_zero": -1e-4}},
        "sweep": {
            "bps": [0.0, 5.0, 25.0],
            "curves": {
                "strategy": {"mean_daily": [4e-4, 2.4e-4, -4e-4], "sharpe": [1.0, 0.6, -1.0]},
                "followers_buy_and_hold": {"mean_daily": [-1e-4, -1.1e-4, -1.5e-4], "sharpe": [-0.2, -0.25, None]},
            },
        },
    }
    md = "\n".join(break_even_markdown({"break_even": be}, "cost_sweep.png"))
    assert "12.50 bps" in md and "none (mean return <= 0 before costs)" in md and "cost_sweep.png" in md
    assert cost_sweep_figure(be, tmp_path / "cost_sweep.png")
    assert (tmp_path / "cost_sweep.png").stat().st_size > 0
    assert not cost_sweep_figure({}, tmp_path / "none.png")


def test_sweep_sharpe_is_the_metrics_sharpe():
    from volts.evaluation.breakeven import _annual_sharpe
    from volts.evaluation.nulls import annual_sharpe

    eq, *_ = _planted(2.0)
    s = settings(**{"metrics.risk_free": 0.02})
    assert _annual_sharpe(eq, s) == annual_sharpe(eq, s)  # same code, same inputs, one process


def test_ablation_table_shows_break_even_and_the_null_range():
    from volts.reporting.walkforward_report import ablation_markdown

    null = {
        "draws": 5,
        "seed": 0,
        "lag_range": [1, 5],
        "strategy_sharpe": 1.0,
        "at_or_above": 0,
        "p_value": 1 / 6,
        "percentile": 100.0,
        "median": 0.1,
        "q025": -0.5,
        "q975": 0.6,
        "break_even_median": 4.25,
        "break_even_q025": None,
        "break_even_q975": 9.0,
        "break_even_none": 2,
        "break_even_unknown": 0,
    }
    rows = [
        {
            "row": "full-funnel",
            "variant": "full funnel",
            "status": "run",
            "screens": "granger",
            "every": "1W",
            "cagr": 0.1,
            "sharpe": 1.0,
            "max_drawdown": 0.1,
            "turnover": 10.0,
            "break_even_bps": 12.0,
            "weeks_in_cash": 0,
            "weeks": 10,
            "distinct_pairs": 3,
        },
        {
            "row": "no-screen",
            "variant": "no screen",
            "status": "run",
            "screens": "",
            "every": "1W",
            "cagr": -0.1,
            "sharpe": -1.0,
            "max_drawdown": 0.2,
            "turnover": 10.0,
            "break_even_bps": None,
            "weeks_in_cash": 0,
            "weeks": 10,
            "distinct_pairs": 3,
        },
        {
            "row": "random-pairs",
            "variant": "random pairs",
            "status": "run",
            "every": "1W",
            "sharpe": 0.1,
            "sharpe_ci_low": -0.5,
            "sharpe_ci_high": 0.6,
            "percentile": 100.0,
            "p_value": 1 / 6,
            "break_even_bps": 4.25,
        },
    ]
    md = "\n".join(ablation_markdown({"ablation": {"rows": rows, "null": null}}))
    assert "| 12.0 |" in md and "| none |" in md and "4.2 (median)" in md
    assert "median 4.2, 2.5-97.5 % none .. 9.0; 2 draw(s) lose before costs" in md


def test_sweep_cagr_is_the_metrics_cagr():
    from volts.evaluation.breakeven import _cagr
    from volts.trading.performance import performance_stats

    eq, *_ = _planted(2.0)
    ref = performance_stats(eq, periods_per_year=252, bootstrap_reps=0)["cagr"]
    assert _cagr(eq, 252) == pytest.approx(ref, rel=1e-12)


def test_cost_table_gets_a_break_even_row():
    from volts.reporting.break_even import break_even_cost_row

    be = {
        "strategy": {"bps_per_side": 7.5, "status": "root"},
        "sweep": {
            "bps": [0.0, 5.0, 7.5, 10.0],
            "curves": {
                "strategy": {"cagr": [0.1, 0.03, -0.001, -0.03], "sharpe": [1.0, 0.3, 0.0, -0.3]},
                "followers_buy_and_hold": {"cagr": [0.2, 0.19, 0.185, 0.18], "sharpe": [1.1, 1.0, 0.99, 0.98]},
            },
        },
    }
    assert break_even_cost_row({"break_even": be}) == [
        "7.50 (break-even)",
        "-0.1 %",
        "0.00",
        "–",
        "–",
        "–",
        "18.5 %",
        "0.99",
    ]
    assert break_even_cost_row({"break_even": {"strategy": {"bps_per_side": None, "status": "none"}}}) is None
