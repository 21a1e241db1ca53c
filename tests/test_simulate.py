"""volts.trading.simulate: the weekly pair portfolio.

* the vectorised engine gives backtrader's daily equity to 1e-6 relative (issue 10), on random schedules of more
  than 20 weeks under three configurations;
* hand-computed tiny cases (sizing, costs, a kept pair, an unfunded entrant, a week in cash);
* accounting identities (the round trips' P&L add up to the equity's change);
* no look-ahead: replacing every bar after a day t changes no fill and no equity value up to t;
* benchmarks computed by hand.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings
from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError
from volts.trading.signals import follower_positions
from volts.trading.simulate import HAIRCUT, Holding, Rebalance, simulate_schedule

SYMS = ["AAA", "BBB", "CCC", "DDD", "EEE"]


def make_market(n: int = 150, seed: int = 0, start: str = "2021-01-04") -> MarketData:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n)
    k = len(SYMS)
    close = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, k)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.008, (n, k)))
    frames = dict(
        open=open_,
        close=close,
        high=np.maximum(open_, close) * 1.01,
        low=np.minimum(open_, close) * 0.99,
        volume=np.full((n, k), 1e5),
    )
    return MarketData(**{f: pd.DataFrame(v, index=dates, columns=SYMS) for f, v in frames.items()})


def random_schedule(market: MarketData, rng: np.random.Generator, weeks: int = 22, first: int = 30) -> list:
    fridays = [d for d in market.dates[first:] if d.weekday() == 4][:weeks]
    out = []
    prev: list = []
    for d in fridays:
        pairs = [h for h in prev if rng.random() < 0.5]  # some pairs kept (their lag may change)
        pairs = [Holding(h.leader, h.follower, int(rng.integers(1, 4))) if rng.random() < 0.3 else h for h in pairs]
        for _ in range(int(rng.integers(0, 3))):
            lead, foll = rng.choice(SYMS, 2, replace=False)
            if all(h.key != f"{lead}->{foll}" for h in pairs):
                pairs.append(Holding(str(lead), str(foll), int(rng.integers(1, 4))))
        out.append(Rebalance(d.date(), tuple(pairs)))
        prev = pairs
    return out


def settings(**over) -> Settings:
    base = {"data.universe": SYMS, "strategy.ma_window": 10}
    base.update(over)
    return Settings().override(**base)


CONFIGS = [
    ("long_short next_open, no cost", dict(mode="long_short", execution="next_open"), {"costs.commission": 0.0}),
    (
        "long_only next_open, fixed + bps",
        dict(mode="long_only", execution="next_open"),
        {
            "costs.commission": 9.0,
            "costs.commission_pct": 0.0005,
            "costs.slippage_bps": 3.0,
            "costs.half_spread_bps": 2.0,
        },
    ),
    (
        "long_short close, fixed + bps",
        dict(mode="long_short", execution="close"),
        {"costs.commission": 5.0, "costs.slippage_bps": 10.0, "costs.capital": 20_000.0},
    ),
    (
        "long_short next_open, spread per symbol in price units",
        dict(mode="long_short", execution="next_open"),
        {
            "costs.commission": 1.0,
            "costs.slippage_bps": 1.0,
            "costs.spread_unit": "price",
            "costs.spread": 0.04,
            "costs.spread_by_symbol": {"AAA": 0.1, "CCC": 0.0},
        },
    ),
    (
        "long_only close, spread in bps per symbol",
        dict(mode="long_only", execution="close"),
        {"costs.commission": 0.0, "costs.spread": 6.0, "costs.spread_by_symbol": {"BBB": 20.0}},
    ),
]


@pytest.mark.parametrize("name,kw,over", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_vectorised_equals_backtrader(name, kw, over):
    market = make_market(seed=3)
    rng = np.random.default_rng(len(name))
    schedule = random_schedule(market, rng)
    assert len(schedule) >= 20 and sum(len(r.pairs) for r in schedule) >= 20
    s = settings(**over)
    end = market.dates[-1]
    vec = simulate_schedule(market, schedule, end=end, settings=s, spy=False, **kw)
    bt = simulate_schedule(
        market, schedule, end=end, settings=s, spy=False, engine="backtrader", benchmarks=False, **kw
    )
    assert len(vec.fills) >= 20  # the schedule did trade
    assert vec.equity.index.equals(bt.equity.index)
    np.testing.assert_allclose(vec.equity.to_numpy(), bt.equity.to_numpy(), rtol=1e-6, atol=0)
    pd.testing.assert_frame_equal(vec.positions, bt.positions, rtol=1e-9)
    assert len(vec.trades) == len(bt.trades)
    assert vec.optimistic == (kw["execution"] == "close")


def test_engines_agree_when_sleeves_go_bust():
    # Leader EEE zig-zags around its SMA, so both sleeves flip every session and pay $9 twice a day out of about
    # $100: a sleeve that opens with less than two commissions ends with negative cash after its closing order (the
    # portfolio pays), while the other sleeve opens all-in. backtrader's account-wide cash check must not refuse
    # that order, which the sleeve rules allow.
    m = _one_pair_market(60)
    zigzag = pd.Series(100 * (1 + 0.05 * (-1.0) ** np.arange(60)), index=m.dates)
    frames = {f: getattr(m, f).copy() for f in ("open", "high", "low", "close", "volume")}
    frames["close"]["EEE"] = zigzag
    frames["open"]["EEE"] = zigzag
    frames["high"]["EEE"] = zigzag * 1.01
    frames["low"]["EEE"] = zigzag * 0.99
    m = MarketData(**frames)
    sched = [Rebalance(m.dates[15].date(), (Holding("EEE", "BBB", 1), Holding("EEE", "CCC", 1)))]
    s = settings(**{"costs.capital": 200.0, "costs.commission": 9.0})
    vec = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, benchmarks=False)
    bt = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, benchmarks=False, engine="backtrader")
    assert any(e["event"] == "no_affordable_shares" for e in vec.events)
    assert not [e for e in bt.events if e["event"].startswith("broker_")]
    np.testing.assert_allclose(vec.equity.to_numpy(), bt.equity.to_numpy(), rtol=1e-6, atol=0)


def _one_pair_market(n: int = 40) -> MarketData:
    """Leader AAA rises every day (trend +1 once the SMA exists); the others are deterministic ramps."""
    dates = pd.bdate_range("2022-01-03", periods=n)
    t = np.arange(n, dtype=float)
    close = {
        "AAA": 100 + t,
        "BBB": 50 + 0.5 * np.sin(t),
        "CCC": 20 + 0.1 * t,
        "DDD": 30 - 0.05 * t,
        "EEE": 10 + 0.01 * t,
    }
    open_ = {k: v * 0.995 for k, v in close.items()}
    frames = dict(open=pd.DataFrame(open_, index=dates), close=pd.DataFrame(close, index=dates))
    frames["high"] = np.maximum(frames["open"], frames["close"]) * 1.01
    frames["low"] = np.minimum(frames["open"], frames["close"]) * 0.99
    frames["volume"] = frames["close"] * 0 + 1e4
    return MarketData(**frames)


def test_hand_computed_single_pair_next_open():
    m = _one_pair_market()
    asof = m.dates[15].date()  # SMA(10) defined: the target is +1 from the first session after asof
    s = settings(**{"costs.capital": 1000.0, "costs.commission": 9.0, "costs.slippage_bps": 10.0})
    res = simulate_schedule(m, [Rebalance(asof, (Holding("AAA", "BBB", 1),))], end=m.dates[20], settings=s, spy=False)
    o, c = m.open["BBB"], m.close["BBB"]
    p = o.iloc[16]
    n = (1000.0 - 9.0) / (p * 1.001) * (1 - HAIRCUT)
    cash = 1000.0 - n * p - (9.0 + 0.001 * n * p)
    expected = pd.Series([1000.0] + [cash + n * c.iloc[i] for i in range(16, 21)], index=m.dates[15:21])
    np.testing.assert_allclose(res.equity.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert len(res.fills) == 1 and res.fills["role"].iloc[0] == "open"
    assert res.fills["date"].iloc[0] == m.dates[16]
    assert res.fills["commission"].iloc[0] == pytest.approx(9.0 + 0.001 * n * p)
    tr = res.trades.iloc[0]
    assert not tr["closed"] and tr["pnl"] == pytest.approx(res.equity.iloc[-1] - 1000.0)
    assert res.turnover_value.sum() == pytest.approx(n * p)


def test_kept_pair_unfunded_entrant_and_cash_week():
    m = _one_pair_market()
    d = m.dates
    s = settings(**{"costs.capital": 1000.0, "costs.commission": 1.0})
    sched = [
        Rebalance(d[15].date(), (Holding("AAA", "BBB", 1),)),
        Rebalance(d[18].date(), (Holding("AAA", "BBB", 2), Holding("AAA", "CCC", 1))),  # kept + entrant
        Rebalance(d[22].date(), ()),
    ]  # a week in cash
    res = simulate_schedule(m, sched, end=d[26], settings=s, spy=False)
    f = res.fills
    # one open at d16, no fill for the kept pair at d19, the entrant has no cash, everything closed at d23
    assert f["date"].tolist() == [d[16], d[23]]
    assert f["role"].tolist() == ["open", "leave"]
    assert any(e["event"] == "unfunded_entry" and e["pair"] == "AAA->CCC" for e in res.events)
    after = res.equity.loc[d[23] :]
    assert (after == after.iloc[0]).all()  # cash: flat equity
    assert res.positions.loc[d[23] :].abs().to_numpy().sum() == 0
    assert res.trades["pnl"].sum() == pytest.approx(res.equity.iloc[-1] - 1000.0, rel=0, abs=1e-9)
    per = res.periods
    assert per["kept"].tolist() == ["", "AAA->BBB", ""]
    assert per["left"].iloc[2].split(";") == sorted(["AAA->BBB", "AAA->CCC"]) or set(
        per["left"].iloc[2].split(";")
    ) == {"AAA->BBB", "AAA->CCC"}


def test_pool_split_equally_after_full_turnover():
    m = _one_pair_market()
    d = m.dates
    s = settings(**{"costs.capital": 900.0, "costs.commission": 0.0})
    sched = [
        Rebalance(d[15].date(), (Holding("AAA", "BBB", 1),)),
        Rebalance(d[18].date(), (Holding("AAA", "CCC", 1), Holding("AAA", "DDD", 1), Holding("AAA", "EEE", 1))),
    ]
    res = simulate_schedule(m, sched, end=d[21], settings=s, spy=False)
    opens = res.fills[(res.fills["date"] == d[19]) & (res.fills["role"] == "open")]
    leave = res.fills[res.fills["role"] == "leave"].iloc[0]
    pool = res.equity.loc[d[18]] + leave["shares"] * (m.close["BBB"].loc[d[18]] - leave["price"])
    assert len(opens) == 3
    np.testing.assert_allclose(opens["value"].to_numpy(), pool / 3 * (1 - HAIRCUT), rtol=1e-12)


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_trades_add_up_to_the_equity(execution):
    m = make_market(seed=5)
    sched = random_schedule(m, np.random.default_rng(9))
    res = simulate_schedule(m, sched, end=m.dates[-1], settings=settings(), spy=False, execution=execution)
    assert res.trades["pnl"].sum() == pytest.approx(res.equity.iloc[-1] - res.costs.capital, abs=1e-6)
    assert res.fills["commission"].sum() > 0
    # positions come from volts.trading.signals: a held sign is always the day's target
    for h_key, col in res.positions.items():
        lead, _ = h_key.split("->")
        assert set(np.sign(col.unique())) <= {-1.0, 0.0, 1.0}


def test_positions_follow_volts_signals():
    m = make_market(seed=2)
    d = m.dates
    sched = [Rebalance(d[30].date(), (Holding("AAA", "BBB", 2),))]
    res = simulate_schedule(m, sched, end=d[-1], settings=settings(**{"costs.commission": 0.0}), spy=False)
    want = follower_positions(m.close["AAA"], lag=2, ma_window=10).loc[d[31] :]
    got = np.sign(res.positions["AAA->BBB"].loc[d[31] :]).astype(int)
    assert (got.to_numpy() == want.to_numpy()).all()


def test_positions_frame_is_long_and_pivots_back_to_the_daily_holdings():
    """``to_frames()["positions"]`` lists each non-zero holding once (date, pair, shares); pivoting it back gives
    the simulation's daily positions (zeros where a pair held nothing)."""
    m = make_market(seed=6)
    sched = random_schedule(m, np.random.default_rng(6))
    res = simulate_schedule(m, sched, end=m.dates[-1], settings=settings(**{"costs.commission": 0.0}), spy=False)
    wide = res.positions
    assert wide.shape[1] >= 2 and (wide == 0).to_numpy().any() and (wide != 0).to_numpy().any()
    long = res.to_frames()["positions"]
    assert list(long.columns) == ["date", "pair", "shares"] and (long["shares"] != 0).all()
    assert len(long) == int((wide != 0).to_numpy().sum()) and long["date"].is_monotonic_increasing
    back = long.pivot(index="date", columns="pair", values="shares").reindex(index=wide.index, columns=wide.columns)
    pd.testing.assert_frame_equal(back.fillna(0.0), wide.astype("float64"), check_names=False, check_freq=False)


def test_targets_share_the_leader_signal_across_lags_and_equal_follower_positions():
    """The vectorised engine computes a leader's trend signal once and shifts it per lag (the S&P schedules hold
    one leader at many lags): every lag, including lags beyond the history, equals follower_positions, in any order
    of calls, for both modes; bad parameters raise as follower_positions does."""
    from volts.trading.simulate import _plan, _targets

    m = make_market(n=60, seed=4)
    plan = _plan(m, [Rebalance(m.dates[20].date(), (Holding("AAA", "BBB", 1),))], m.dates[-1])
    for mode in ("long_short", "long_only"):
        for lag in (3, 1, 7, 59, 60, 75, 2):
            want = follower_positions(m.close["AAA"], lag=lag, ma_window=10, mode=mode).to_numpy()
            got = _targets(m, plan, "AAA", lag, 10, mode)
            assert got == want[plan.lo : plan.lo + len(plan.dates)].tolist(), (mode, lag)
    with pytest.raises(ValueError, match="lag"):
        _targets(m, plan, "AAA", 0, 10, "long_short")
    with pytest.raises(ValueError, match="mode"):
        _targets(m, plan, "AAA", 1, 10, "both")


def _perturb_after(m: MarketData, t: int, rng) -> MarketData:
    frames = {f: getattr(m, f).copy() for f in ("open", "high", "low", "close", "volume")}
    k = len(m) - t - 1
    shape = (k, len(m.symbols))
    c = rng.uniform(5, 400, shape)
    o = rng.uniform(5, 400, shape)
    frames["close"].iloc[t + 1 :] = c
    frames["open"].iloc[t + 1 :] = o
    frames["high"].iloc[t + 1 :] = np.maximum(o, c) * 1.02
    frames["low"].iloc[t + 1 :] = np.minimum(o, c) * 0.98
    return MarketData(**frames)


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_no_look_ahead(execution):
    m = make_market(seed=11)
    sched = random_schedule(m, np.random.default_rng(4))
    s = settings(**{"costs.slippage_bps": 5.0})
    base = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, execution=execution)
    changed = False
    for t in (45, 80, 120):
        run = simulate_schedule(
            _perturb_after(m, t, np.random.default_rng(t)),
            sched,
            end=m.dates[-1],
            settings=s,
            spy=False,
            execution=execution,
        )
        day = m.dates[t]
        pd.testing.assert_series_equal(run.equity.loc[:day], base.equity.loc[:day])
        pd.testing.assert_frame_equal(
            run.fills[run.fills["date"] <= day].reset_index(drop=True),
            base.fills[base.fills["date"] <= day].reset_index(drop=True),
        )
        for k, b in base.benchmarks.items():
            pd.testing.assert_series_equal(run.benchmarks[k].loc[:day], b.loc[:day])
        changed |= not run.equity.equals(base.equity)
    assert changed


def test_benchmarks_by_hand():
    m = make_market(seed=1)
    d = m.dates
    s = settings(**{"costs.commission": 0.0})
    spy = m.bars("EEE").iloc[:60]  # a stand-in SPY that ends early
    sched = [Rebalance(d[30].date(), (Holding("AAA", "BBB", 1), Holding("CCC", "DDD", 1)))]
    res = simulate_schedule(m, sched, end=d[-1], settings=s, spy=spy)
    cap = res.costs.capital
    fol = (m.close[["BBB", "DDD"]].loc[d[31] :] / m.open[["BBB", "DDD"]].loc[d[31]]).mean(axis=1) * cap
    np.testing.assert_allclose(res.benchmarks["followers_buy_and_hold"].loc[d[31] :], fol, rtol=1e-8)
    uni = (m.close[SYMS].loc[d[31] :] / m.open[SYMS].loc[d[31]]).mean(axis=1) * cap
    np.testing.assert_allclose(res.benchmarks["universe_equal_weight"].loc[d[31] :], uni, rtol=1e-8)
    spy_curve = res.benchmarks["spy"]
    assert spy_curve.loc[d[59] : d[59]].notna().all() and spy_curve.loc[d[60] :].isna().all()
    np.testing.assert_allclose(
        spy_curve.loc[d[31] : d[59]], m.close["EEE"].loc[d[31] : d[59]] / m.open["EEE"].loc[d[31]] * cap, rtol=1e-8
    )
    for b in res.benchmarks.values():
        assert b.iloc[0] == cap and b.index.equals(res.equity.index)


def test_cost_bps_override_and_optimistic_flag():
    m = make_market(seed=4)
    sched = random_schedule(m, np.random.default_rng(2))
    s = settings(**{"costs.commission": 9.0})
    r0 = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, cost_bps=0.0)
    r25 = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, cost_bps=25.0)
    assert (r0.fills["commission"] == 0).all()
    np.testing.assert_allclose(r25.fills["commission"], 0.0025 * r25.fills["value"], rtol=1e-12)
    assert r25.equity.iloc[-1] < r0.equity.iloc[-1]
    rc = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, execution="close")
    frames = rc.to_frames()
    assert rc.optimistic and frames["equity"]["optimistic"].all() and frames["trades"].attrs["optimistic"]
    assert "optimistic" not in r0.to_frames()["equity"]


def test_errors():
    m = make_market()
    s = settings()
    with pytest.raises(ConfigError):
        simulate_schedule(m, [], end=m.dates[-1], settings=s)
    with pytest.raises(ConfigError):
        Holding("AAA", "AAA", 1)
    with pytest.raises(ConfigError):
        Holding("AAA", "BBB", 0)
    with pytest.raises(DataError, match="ZZZ"):
        simulate_schedule(
            m, [Rebalance(m.dates[40].date(), (Holding("ZZZ", "AAA", 1),))], end=m.dates[-1], settings=s, spy=False
        )
    with pytest.raises(DataError, match="no session on or before"):
        simulate_schedule(m, [Rebalance(dt.date(2000, 1, 7), ())], end=m.dates[-1], settings=s, spy=False)
    with pytest.raises(ConfigError, match="engine"):
        simulate_schedule(m, [Rebalance(m.dates[40].date(), ())], end=m.dates[-1], settings=s, engine="x")


def test_cost_table_and_summary():
    from volts.trading.performance import performance_stats
    from volts.trading.simulate import cost_table

    m = make_market(seed=6)
    sched = random_schedule(m, np.random.default_rng(6))
    s = settings()
    spy = m.bars("EEE").iloc[:120]
    tab = cost_table(m, sched, end=m.dates[-1], settings=s, bps=(0.0, 10.0), bootstrap_reps=50, spy=spy)
    assert list(tab.index) == ["strategy", "followers_buy_and_hold", "universe_equal_weight", "spy"] * 2
    assert tab["cost_bps"].tolist() == [0.0] * 4 + [10.0] * 4
    strat = tab.loc["strategy"]
    assert strat["cagr"].iloc[1] < strat["cagr"].iloc[0]  # costs only take away
    assert strat["weeks_in_cash"].iloc[0] == sum(1 for r in sched if not r.pairs)
    direct = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=spy, cost_bps=10.0)
    assert strat["sharpe"].iloc[1] == pytest.approx(performance_stats(direct.equity, bootstrap_reps=0)["sharpe"])
    assert tab.loc["spy", "end"].iloc[0] == m.dates[119]
    assert "diff_sharpe" in tab.columns and tab.loc["strategy", "diff_sharpe"].isna().all()


def test_targets_cache_never_serves_stale_signals():
    m = make_market(seed=12)
    sched = [Rebalance(m.dates[30].date(), (Holding("AAA", "BBB", 1),))]
    s = settings(**{"costs.commission": 0.0})
    first = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, benchmarks=False)
    m.close.iloc[60:, 0] = m.close.iloc[60:, 0].to_numpy()[::-1]  # the leader's closes changed in place
    again = simulate_schedule(m, sched, end=m.dates[-1], settings=s, spy=False, benchmarks=False)
    want = follower_positions(m.close["AAA"], lag=1, ma_window=10).loc[m.dates[31] :]
    got = np.sign(again.positions["AAA->BBB"].loc[m.dates[31] :]).astype(int)
    assert (got.to_numpy() == want.to_numpy()).all()
    assert not first.positions.equals(again.positions)


def test_load_spy_reads_the_reference_file(ref_data_dir):
    from volts.trading.simulate import load_spy

    spy = load_spy(Settings().override(**{"data.dir": str(ref_data_dir)}))
    assert spy is not None and spy.index.is_monotonic_increasing
    assert spy.index[-1] == pd.Timestamp("2024-02-13")  # SPY ends before the other files (data README)
    assert load_spy(Settings().override(**{"data.dir": str(ref_data_dir)}), symbol="NOPE") is None


def test_spy_with_a_hole_is_omitted_and_said():
    m = make_market(seed=1)
    spy = m.bars("EEE").drop(m.dates[50])
    sched = [Rebalance(m.dates[30].date(), (Holding("AAA", "BBB", 1),))]
    res = simulate_schedule(m, sched, end=m.dates[-1], settings=settings(), spy=spy)
    assert "spy" not in res.benchmarks
    assert [e["date"] for e in res.events if e["event"] == "spy_benchmark_omitted"] == [m.dates[50].date()]


def test_spy_file_setting_reads_the_benchmark_from_its_path_and_an_absent_spy_is_an_event(tmp_path):
    """The S&P folder has no SPY.csv: the benchmark used to vanish without a word. ``[data] spy_file`` points at
    SPY's bars anywhere; without it and without SPY.csv in ``[data] dir`` the omission is an event (the walk-forward
    report prints it); a configured file that is not there is an error, never a silent omission."""
    m = make_market(seed=2)
    d = m.dates
    sched = [Rebalance(d[30].date(), (Holding("AAA", "BBB", 1),))]
    bars = m.bars("EEE").rename(columns=str.title)
    bars.index.name = "Date"
    bars.insert(4, "Adj Close", bars["Close"])
    bars.to_csv(tmp_path / "elsewhere.csv")
    empty = tmp_path / "bars"
    empty.mkdir()
    # SPY's bars are validated like every series: this stand-in trades on business days, not XNYS sessions
    s = settings(**{"costs.commission": 0.0, "data.dir": str(empty), "data.calendar": None})
    res = simulate_schedule(m, sched, end=d[-1], settings=s)
    assert "spy" not in res.benchmarks
    [event] = [e for e in res.events if e["event"] == "spy_benchmark_omitted"]
    assert str(empty / "SPY.csv") in event["reason"] and "[data] spy_file" in event["reason"]
    elsewhere = s.override(**{"data.spy_file": str(tmp_path / "elsewhere.csv")})
    res = simulate_schedule(m, sched, end=d[-1], settings=elsewhere)
    np.testing.assert_allclose(
        res.benchmarks["spy"].loc[d[31] :],
        m.close["EEE"].loc[d[31] :] / m.open["EEE"].loc[d[31]] * res.costs.capital,
        rtol=1e-8,
    )
    assert not [e for e in res.events if e["event"] == "spy_benchmark_omitted"]
    with pytest.raises(DataError, match="spy_file names no file"):
        simulate_schedule(m, sched, end=d[-1], settings=s.override(**{"data.spy_file": str(tmp_path / "no.csv")}))
    # the selection does not read it: weeks stay cached when it changes
    assert s.selection_sha256() == s.override(**{"data.spy_file": "x.csv"}).selection_sha256()
