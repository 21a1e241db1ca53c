"""volts.trading.metrics against an independent numpy computation and against backtrader's analyzers."""

from __future__ import annotations

import json
import math

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from volts.trading.backtest import simulate_pair
from volts.core.errors import DataError
from volts.trading.metrics import compute_metrics, equity_returns, trade_stats


def _equity(seed: int, n: int = 45, capital: float = 1000.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    values = capital * np.cumprod(1 + rng.normal(0.002, 0.015, n))
    return pd.Series(values, index=pd.bdate_range("2023-06-08", periods=n), name=f"run{seed}")


def numpy_metrics(values: np.ndarray, capital: float, rf_annual: float = 0.0, P: int = 252) -> dict:
    """The definitions of METHOD.md §7 written out with numpy (no empyrical)."""
    e = np.concatenate([[capital], values])
    r = e[1:] / e[:-1] - 1
    rf = (1 + rf_annual) ** (1 / P) - 1
    x = r - rf
    n = len(r)
    sharpe = x.mean() / x.std(ddof=1) * np.sqrt(P)
    downside = np.sqrt(np.mean(np.minimum(x, 0.0) ** 2))
    sortino = x.mean() * P / (downside * np.sqrt(P))
    peak = np.maximum.accumulate(e)
    mdd = np.max((peak - e) / peak)
    annual = (e[-1] / e[0]) ** (P / n) - 1
    return {
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "annual_return": annual,
        "calmar": annual / mdd,
        "total_return": e[-1] / e[0] - 1,
        "final_equity": e[-1],
    }


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("rf", [0.0, 0.04])
def test_metrics_match_numpy(seed, rf):
    eq = _equity(seed)
    m = compute_metrics(eq, capital=1000.0, risk_free=rf)
    ref = numpy_metrics(eq.to_numpy(), 1000.0, rf)
    for key, value in ref.items():
        assert getattr(m, key) == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert m.days == len(eq) and m.name == eq.name


def test_metrics_without_capital_use_first_value_as_base():
    eq = _equity(5)
    m = compute_metrics(eq)
    ref = numpy_metrics(eq.to_numpy()[1:], float(eq.iloc[0]))
    assert m.sharpe == pytest.approx(ref["sharpe"], rel=1e-9)
    assert m.max_drawdown == pytest.approx(ref["max_drawdown"], rel=1e-9)
    assert m.days == len(eq) - 1


def test_known_small_example():
    # capital 100 -> 110 -> 99 -> 108.9: returns +10 %, -10 %, +10 %; drawdown 10 % from the 110 peak
    eq = pd.Series([110.0, 99.0, 108.9], index=pd.bdate_range("2024-01-01", periods=3))
    m = compute_metrics(eq, capital=100.0)
    assert m.total_return == pytest.approx(0.089) and m.max_drawdown == pytest.approx(0.10)
    r = np.array([0.1, -0.1, 0.1])
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert m.sortino == pytest.approx(r.mean() * 252 / (math.sqrt(0.01 / 3) * math.sqrt(252)))


def test_undefined_values_are_none_not_nan():
    flat = pd.Series([1000.0] * 10, index=pd.bdate_range("2024-01-01", periods=10))
    m = compute_metrics(flat, capital=1000.0)
    assert (m.sharpe, m.sortino, m.calmar, m.win_rate, m.trades) == (None, None, None, None, 0)
    assert m.max_drawdown == 0.0 and m.total_return == 0.0
    rising = pd.Series(np.linspace(1010, 1100, 10), index=flat.index)
    m = compute_metrics(rising, capital=1000.0)
    assert m.sortino is None and m.calmar is None and m.sharpe is not None and m.max_drawdown == 0.0
    one = compute_metrics(flat.iloc[:1], capital=1000.0)
    assert one.sharpe is None and one.days == 1
    json.dumps(m.to_dict(), allow_nan=False)


def test_trade_stats():
    trades = pd.DataFrame({"net_pnl": [5.0, -1.0, 0.0, 12.0]})
    assert trade_stats(trades) == (4, 0.5)  # a zero net P&L is not a win
    assert trade_stats(None) == (0, None)
    assert trade_stats(trades.iloc[:0]) == (0, None)


@pytest.mark.parametrize("value", [np.nan, 0.0, -5.0])
def test_bad_equity_raises(value):
    eq = _equity(0)
    eq.iloc[7] = value
    with pytest.raises(DataError, match="run0: equity on 2023-06-19"):
        compute_metrics(eq, capital=1000.0)
    with pytest.raises(DataError, match="empty"):
        equity_returns(eq.iloc[:0])


# ------------------------------------------------------------------------------- backtrader's analyzers
ANALYZERS = {
    "dd": bt.analyzers.DrawDown,
    "ta": bt.analyzers.TradeAnalyzer,
    "tr": (bt.analyzers.TimeReturn, {"timeframe": bt.TimeFrame.Days}),
}


@pytest.mark.parametrize("leader,follower,lag", [("MU", "QCOM", 2), ("META", "TSLA", 1), ("TSLA", "AMZN", 5)])
def test_metrics_agree_with_backtrader_analyzers(paper_market, leader, follower, lag):
    bars = paper_market.slice("2023-04-01", "2023-12-31")
    run = simulate_pair(
        bars.bars(leader),
        bars.bars(follower),
        lag=lag,
        start="2023-06-08",
        end="2023-10-31",
        capital=1000.0,
        commission=9.0,
        execution="next_open",
        name=f"{leader}->{follower}",
        analyzers=ANALYZERS,
    )
    m = compute_metrics(run.equity, run.trades, capital=1000.0)
    # DrawDown: the peak includes the starting capital (the broker's value during the warm-up bars)
    assert m.max_drawdown * 100 == pytest.approx(run.analysis["dd"]["max"]["drawdown"], rel=1e-9)
    # TimeReturn: the same daily returns over the window (the first one measured from the capital)
    tr = pd.Series(run.analysis["tr"])
    tr.index = pd.DatetimeIndex(tr.index)
    np.testing.assert_allclose(
        equity_returns(run.equity, capital=1000.0).to_numpy(), tr.loc[run.equity.index].to_numpy(), rtol=0, atol=1e-12
    )
    # TradeAnalyzer: closed round trips, wins (pnlcomm >= 0 there, > 0 here: no trade nets exactly 0) and
    # net P&L; the position open at the end is "open" there and marked to market here
    ta = run.analysis["ta"]
    closed = run.trades[run.trades["closed"]]
    assert ta["total"]["closed"] == len(closed)
    assert ta["total"]["open"] == int((~run.trades["closed"]).sum())
    assert ta["won"]["total"] == int((closed["net_pnl"] > 0).sum())
    assert ta["pnl"]["net"]["total"] == pytest.approx(closed["net_pnl"].sum(), abs=1e-9)
    assert m.trades == len(run.trades)
