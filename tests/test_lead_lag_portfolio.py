"""The seed-004 lead-lag portfolio (volts.trading.strategies.lead_lag_portfolio): planted truth, look-ahead, eq. 7, table metrics.

Known answers: a synthetic market with 20 planted leaders (LITERATURE.md A9), the turnover identities and the
Table-1 metric formulas (A8), and a look-ahead perturbation: changing every price after day t must not change any
decision made at t or any return booked up to t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.trading.strategies.lead_lag_portfolio import (
    LeadLagPortfolioParams,
    lead_lag_portfolio,
    portfolio_stats,
    returns_from_prices,
)


def planted_market(n: int = 60, n_leaders: int = 12, days: int = 400, beta: float = 0.6, seed: int = 0):
    rng = np.random.default_rng(seed)
    r = 0.01 * rng.standard_normal((days, n))
    lead = r[:, :n_leaders].mean(axis=1)
    r[1:, n_leaders:] += beta * lead[:-1, None] * np.sqrt(n_leaders)  # followers echo the leaders a day later
    idx = pd.bdate_range("2020-01-01", periods=days)
    cols = [f"L{i}" for i in range(n_leaders)] + [f"F{i}" for i in range(n - n_leaders)]
    returns = pd.DataFrame(r, index=idx, columns=cols)
    market = pd.Series(0.002 * rng.standard_normal(days), index=idx)
    return returns, market


def test_planted_leaders_are_found_and_the_portfolio_earns():
    returns, market = planted_market()
    res = lead_lag_portfolio(returns, market, params=LeadLagPortfolioParams(execution="close"))
    chosen = [name for names in res.leaders.values() for name in names]
    precision = np.mean([c.startswith("L") for c in chosen])
    assert precision > 0.6  # chance: 12 of 60 names = 0.2 (each leader's own lag-1 link is weak, ~0.15)
    foll = [f for names in res.followers.values() for f in names]
    assert np.mean([f.startswith("L") for f in foll]) < 0.05  # chance 0.2
    stats = portfolio_stats(res.daily["gross"])
    assert stats["sharpe"] > 2
    assert res.daily["optimistic"].all()


def test_time_permuted_market_earns_nothing():
    returns, market = planted_market(seed=1)
    perm = np.random.default_rng(2).permutation(len(returns))
    shuffled = pd.DataFrame(returns.to_numpy()[perm], index=returns.index, columns=returns.columns)
    res = lead_lag_portfolio(shuffled, market, params=LeadLagPortfolioParams(execution="close"))
    g = res.daily["gross"]
    assert abs(g.mean()) < 2.5 * g.std() / np.sqrt(len(g))


def _prices(returns: pd.DataFrame, seed: int = 0):
    rng = np.random.default_rng(seed)
    close = 100 * (1 + returns.fillna(0)).cumprod()
    open_ = close.shift(1).fillna(100) * (1 + 0.002 * rng.standard_normal(close.shape))
    return close, open_


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_look_ahead_perturbation(execution):
    returns, market = planted_market(days=260, seed=3)
    close, open_ = _prices(returns)
    mclose = 100 * (1 + market).cumprod()
    mopen = mclose.shift(1).fillna(100)
    cut = returns.index[200]

    def run(c, o, mc, mo):
        cc, oo = returns_from_prices(c, open_=o)
        mcc, moo = returns_from_prices(mc.to_frame("SPY"), open_=mo.to_frame("SPY"))
        return lead_lag_portfolio(
            cc,
            mcc["SPY"],
            open_returns=oo,
            market_open_returns=moo["SPY"],
            params=LeadLagPortfolioParams(execution=execution),
        )

    base = run(close, open_, mclose, mopen)
    rng = np.random.default_rng(9)
    after = close.index > cut
    c2, o2 = close.copy(), open_.copy()
    c2.loc[after] *= np.exp(0.05 * rng.standard_normal(c2.loc[after].shape))
    o2.loc[after] *= np.exp(0.05 * rng.standard_normal(o2.loc[after].shape))
    mc2, mo2 = mclose.copy(), mopen.copy()
    mc2.loc[after] *= 1.1
    mo2.loc[after] *= 0.9
    pert = run(c2, o2, mc2, mo2)
    for day in base.followers:
        if day <= cut:
            assert pert.followers[day] == base.followers[day]
            assert pert.leaders[day] == base.leaders[day]
    known = base.daily.index <= cut
    pd.testing.assert_frame_equal(pert.daily.loc[known], base.daily.loc[known])
    assert not pert.daily.loc[~known, "gross"].equals(base.daily.loc[~known, "gross"])


def test_next_open_books_the_open_to_open_return_two_sessions_later():
    returns, market = planted_market(days=120, seed=4)
    close, open_ = _prices(returns)
    cc, oo = returns_from_prices(close, open_=open_)
    moo = pd.Series(0.0, index=returns.index)
    res = lead_lag_portfolio(
        cc,
        market * 0,
        open_returns=oo,
        market_open_returns=moo,
        params=LeadLagPortfolioParams(lookback=20, standardise_window=10),
    )
    row = res.daily.iloc[5]
    t = returns.index.get_loc(row["decision_date"])
    assert res.daily.index[5] == returns.index[t + 2]
    names = list(res.followers[row["decision_date"]])
    expected = row["signal"] * (open_.iloc[t + 2][names] / open_.iloc[t + 1][names] - 1).mean()
    assert row["gross"] == pytest.approx(expected, rel=1e-12)


def test_turnover_identities_of_eq7():
    # a sign flip with the same followers is 2; replacing a share q of followers with no flip is q
    idx = pd.bdate_range("2021-01-01", periods=160)
    rng = np.random.default_rng(5)
    returns = pd.DataFrame(0.01 * rng.standard_normal((160, 50)), index=idx, columns=[f"S{i}" for i in range(50)])
    market = pd.Series(0.0, index=idx)
    res = lead_lag_portfolio(returns, market, params=LeadLagPortfolioParams(execution="close"))
    d = res.daily
    dates = list(res.followers)
    assert len(dates) == len(d) > 50
    assert d["turnover"].iloc[0] == 1.0
    for k in range(1, len(dates)):
        prev, cur = set(res.followers[dates[k - 1]]), set(res.followers[dates[k]])
        flip = d["signal"].iloc[k] != d["signal"].iloc[k - 1]
        q = len(cur - prev) / len(cur)
        expected = 2.0 if flip else q
        assert d["turnover"].iloc[k] == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(res.net(5.0), d["gross"] - 5e-4 * d["turnover"])


def test_table_metric_formulas_match_seed004_table1():
    # Levy row of Table 1: 8.82 bps/day and 0.59% daily vol -> Sharpe 2.37, compound 24.88%
    r = pd.Series([8.82e-4 + 0.0059, 8.82e-4 - 0.0059] * 500)
    s = portfolio_stats(r, turnover=pd.Series(0.5, index=r.index))
    assert s["sharpe"] == pytest.approx(8.82 / 59 * np.sqrt(252), rel=2e-3)
    assert s["compound_return_pct"] == pytest.approx(24.88, abs=0.01)
    assert s["break_even_bps"] == pytest.approx(8.82 / 0.5)


def test_bad_settings_fail_clearly():
    with pytest.raises(ValueError, match="leaders and followers"):
        LeadLagPortfolioParams(leaders=0.7, followers=0.5)
    returns, market = planted_market(days=100)
    with pytest.raises(ValueError, match="next_open"):
        lead_lag_portfolio(returns, market)


def test_walkforward_adaptor_books_equity_from_capital_and_marks_close_optimistic():
    from types import SimpleNamespace

    from volts.trading.strategies.lead_lag_portfolio import portfolio_capital, walkforward_strategy
    from volts.core.config import Settings
    from volts.data.market import MarketData

    returns, market = planted_market(n=30, n_leaders=6, days=200, seed=6)
    returns["SPY"] = market
    close, open_ = _prices(returns)
    md = MarketData(
        open=open_,
        high=np.maximum(open_, close) * 1.01,
        low=np.minimum(open_, close) * 0.99,
        close=close,
        volume=close * 0 + 1e6,
    )
    sched = [SimpleNamespace(asof=returns.index[120].date())]
    for execution in ("next_open", "close"):
        settings = Settings().override(**{"strategy.execution": execution})
        run = walkforward_strategy(md, sched, end=returns.index[-1].date(), settings=settings, cost_bps=5.0)
        assert run.optimistic == (execution == "close")
        assert run.daily["decision_date"].iloc[0] >= returns.index[120]
        cap = portfolio_capital(settings)
        # 5 bps per side of the traded value; the book (followers + SPY) trades TVR x 2 x equity a session
        expected = cap * (1 + run.daily["gross"] - 2 * 5e-4 * run.daily["turnover"]).cumprod()
        np.testing.assert_allclose(run.equity.to_numpy(), expected.to_numpy())
        assert run.turnover_value.iloc[0] == pytest.approx(2 * cap * run.daily["turnover"].iloc[0])
        assert "spy" in run.benchmarks
        assert run.trades is None  # rebalanced daily: no round trips, not "0 trades"
        assert run.activity["days_in_cash"] == 0 and run.activity["weeks"] == 1


def test_walkforward_adaptor_pays_the_configured_commission_per_order():
    from types import SimpleNamespace

    from volts.trading.strategies.lead_lag_portfolio import walkforward_strategy
    from volts.core.config import Settings
    from volts.data.market import MarketData

    returns, market = planted_market(n=30, n_leaders=6, days=160, seed=7)
    returns["SPY"] = market
    close, open_ = _prices(returns)
    md = MarketData(
        open=open_,
        high=np.maximum(open_, close) * 1.01,
        low=np.minimum(open_, close) * 0.99,
        close=close,
        volume=close * 0 + 1e6,
    )
    settings = Settings().override(
        **{
            "costs.commission": 9.0,
            "costs.commission_pct": 0.0,
            "costs.slippage_bps": 0.0,
            "costs.half_spread_bps": 0.0,
        }
    )
    run = walkforward_strategy(
        md, [SimpleNamespace(asof=returns.index[110].date())], end=returns.index[-1].date(), settings=settings
    )
    d = run.daily
    assert d["orders"].iloc[0] == d["n_followers"].iloc[0] + 1  # from cash: every follower and SPY
    prev = run.equity.shift(1).fillna(settings.costs.capital)
    np.testing.assert_allclose(run.equity.to_numpy(), (prev * (1 + d["gross"]) - 9.0 * d["orders"]).to_numpy())


def test_portfolio_activity_says_why_the_book_is_flat():
    from volts.trading.strategies.lead_lag_portfolio import portfolio_activity

    returns, market = planted_market(n=30, n_leaders=6, days=140, seed=8)
    market.iloc[100:] = np.nan  # the financing leg has no data from day 100 on
    res = lead_lag_portfolio(returns, market, params=LeadLagPortfolioParams(execution="close"))
    activity, notes = portfolio_activity(res.daily, res.followers, [res.daily["decision_date"].iloc[0]])
    flat = int((res.daily.index >= returns.index[100]).sum())
    assert flat > 0 and activity["days_in_cash"] == flat
    assert activity["cash_reasons"] == {"no financing-leg (SPY) return for the booked session": flat}
    assert any("in cash on" in n and "SPY" in n for n in notes)
    small = lead_lag_portfolio(returns.iloc[:, :8], market, params=LeadLagPortfolioParams(execution="close"))
    assert (small.daily["signal"] == 0).all()
    assert small.daily["cash_reason"].str.contains("8 eligible names < min_names 10").all()


@pytest.mark.parametrize("spy_in_market", [True, False])
def test_walkforward_adaptor_trades_next_open_and_books_the_direct_result(tmp_path, spy_in_market):
    """Regression: the adaptor once built SPY's open-to-open returns from an 'open' and a 'close' column that
    pandas aligned by name, so every SPY return was NaN and next_open sat in cash on every day, silently."""
    from types import SimpleNamespace

    from volts.trading.strategies.lead_lag_portfolio import walkforward_strategy
    from volts.core.config import Settings
    from volts.data.market import MarketData

    returns, market = planted_market(n=30, n_leaders=6, days=200, seed=6)
    close, open_ = _prices(returns)
    mclose = 100 * (1 + market).cumprod()
    mopen = mclose.shift(1).fillna(100) * 1.001
    settings = Settings()
    if spy_in_market:
        close, open_ = close.assign(SPY=mclose), open_.assign(SPY=mopen)
    else:  # SPY read from data.dir, as with the ten reference names
        frame = pd.DataFrame(
            {
                "Date": close.index.strftime("%Y-%m-%d"),
                "Open": mopen,
                "High": mclose * 1.02,
                "Low": np.minimum(mopen, mclose) * 0.98,
                "Close": mclose,
                "Volume": 1e6,
            }
        )
        frame.to_csv(tmp_path / "SPY.csv", index=False)
        # validated like every series: these stand-in bars trade on business days, not XNYS sessions
        settings = settings.override(**{"data.dir": str(tmp_path), "data.calendar": None})
    md = MarketData(
        open=open_,
        high=np.maximum(open_, close) * 1.01,
        low=np.minimum(open_, close) * 0.99,
        close=close,
        volume=close * 0 + 1e6,
    )
    sched = [SimpleNamespace(asof=returns.index[120].date())]
    run = walkforward_strategy(md, sched, end=returns.index[-1].date(), settings=settings)
    assert (run.daily["signal"] != 0).all()  # 30 names, full history: never a reason for cash
    assert (run.turnover_value > 0).any()
    cc, oo = returns_from_prices(
        close.drop(columns="SPY", errors="ignore"), open_=open_.drop(columns="SPY", errors="ignore")
    )
    mcc, moo = returns_from_prices(mclose.to_frame("SPY"), open_=mopen.to_frame("SPY"))
    direct = lead_lag_portfolio(
        cc, mcc["SPY"], open_returns=oo, market_open_returns=moo["SPY"], start=returns.index[120], end=returns.index[-1]
    )
    np.testing.assert_allclose(run.daily["gross"].to_numpy(), direct.daily["gross"].to_numpy(), rtol=1e-12)


def test_returns_from_prices_refuses_frames_whose_columns_differ():
    idx = pd.bdate_range("2021-01-04", periods=5)
    bars = pd.DataFrame({"open": np.arange(5.0) + 10, "close": np.arange(5.0) + 10.5}, index=idx)
    with pytest.raises(ValueError, match="columns"):
        returns_from_prices(bars[["close"]], open_=bars[["open"]])


@pytest.mark.slow
def test_walkforward_metrics_row_and_report_use_the_portfolios_own_activity(tmp_path):
    """The comparison row once showed the unused weekly selection's "10 / 10 weeks in cash, 0 pairs" and
    "0 trades" for the portfolio; it must show what the portfolio held and say why it was ever flat."""
    from types import SimpleNamespace

    from volts.trading.strategies.lead_lag_portfolio import walkforward_strategy
    from volts.core.config import Settings
    from volts.data.market import MarketData
    from volts.evaluation.walkforward import comparison_row, summarise
    from volts.reporting.walkforward_report import comparison_markdown, verdict

    returns, market = planted_market(n=30, n_leaders=6, days=170, seed=11)
    close, open_ = _prices(returns)
    mclose = 100 * (1 + market).cumprod()
    mopen = mclose.shift(1).fillna(100)
    keep = slice(0, 150)  # SPY.csv ends 20 sessions before the market: the book must go flat and say so
    pd.DataFrame(
        {
            "Date": close.index.strftime("%Y-%m-%d"),
            "Open": mopen,
            "High": mclose * 1.02,
            "Low": np.minimum(mopen, mclose) * 0.98,
            "Close": mclose,
            "Volume": 1e6,
        }
    ).iloc[keep].to_csv(tmp_path / "SPY.csv", index=False)
    md = MarketData(
        open=open_,
        high=np.maximum(open_, close) * 1.01,
        low=np.minimum(open_, close) * 0.99,
        close=close,
        volume=close * 0 + 1e6,
    )
    # SPY.csv is validated like every series: these stand-in bars trade on business days, not XNYS sessions
    settings = Settings().override(**{"data.dir": str(tmp_path), "data.calendar": None})
    asofs = [returns.index[i].date() for i in (100, 105, 110, 115, 120, 125, 130, 135, 140, 145, 150, 155, 160)]
    sched = [SimpleNamespace(asof=d) for d in asofs]
    weeks = [{"asof": d.isoformat(), "pairs": [], "status": "ok"} for d in asofs]  # the selection kept nothing
    sim = walkforward_strategy(md, sched, end=returns.index[-1].date(), settings=settings)
    metrics = summarise(
        sim,
        weeks,
        settings=settings,
        market=md,
        schedule=sched,
        end=returns.index[-1].date(),
        strategy_fn=walkforward_strategy,
        engine="vectorised",
    )
    act = metrics["strategy_activity"]
    # next_open at t needs the SPY open of t+2 (SPY rows 0..149): decisions from 148 on are flat, so the weeks of
    # as-of 150, 155 and 160 hold cash; the week of 145 still has decisions 145-147 invested
    assert act["weeks"] == 13 and act["weeks_in_cash"] == 3
    assert not metrics["optimistic"] and verdict({**metrics, "optimistic": True})[0].startswith("OPTIMISTIC")
    assert metrics["strategy"]["trades"] is None and metrics["strategy"]["turnover"] > 0
    row = comparison_row("lead-lag-portfolio", metrics)
    assert row["weeks_in_cash"] == act["weeks_in_cash"] and row["distinct_pairs"] is None
    assert "financing-leg (SPY)" in row["note"]
    assert any("in cash on" in s for s in verdict(metrics))
    assert not any("The selection found no pair" in s for s in verdict(metrics))
    text = "\n".join(comparison_markdown(pd.DataFrame([row])))
    assert "financing-leg (SPY)" in text and f"{act['weeks_in_cash']} / 13" in text
