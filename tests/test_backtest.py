"""volts.trading.backtest: hand-checked small backtests, costs, cash control, errors and the paper's window."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from volts.trading.backtest import PairSpec, run_backtest, simulate_buy_and_hold, simulate_pair
from volts.data.market import MarketData
from volts.core.errors import DataError
from volts.trading.signals import follower_positions

# ------------------------------------------------------------------------------------- hand-checked market
# Leader closes: with ma_window = 2, s_t = +1 when L_t > L_{t-1} else -1:  s = [0, +, +, -, -, +, +, +, -, -]
LEADER_CLOSE = [10, 11, 12, 11, 10, 11, 12, 13, 12, 11]
# Follower (open, close); high = max + 1, low = min - 1
FOLLOWER_OC = [(50, 50), (50, 50), (50, 50), (50, 52), (54, 53), (51, 50), (49, 51), (52, 55), (56, 57), (55, 56)]
DATES = pd.bdate_range("2024-01-01", periods=10)


def hand_market() -> MarketData:
    lc = np.array(LEADER_CLOSE, dtype=float)
    fo = np.array([o for o, _ in FOLLOWER_OC], dtype=float)
    fc = np.array([c for _, c in FOLLOWER_OC], dtype=float)
    frames = {
        "open": pd.DataFrame({"LEAD": lc, "FOLL": fo}, index=DATES),
        "close": pd.DataFrame({"LEAD": lc, "FOLL": fc}, index=DATES),
        "high": pd.DataFrame({"LEAD": lc + 1, "FOLL": np.maximum(fo, fc) + 1}, index=DATES),
        "low": pd.DataFrame({"LEAD": lc - 1, "FOLL": np.minimum(fo, fc) - 1}, index=DATES),
    }
    return MarketData.from_frames(frames)


PAIR = PairSpec("LEAD", "FOLL", 1)


def _hand(execution):
    return run_backtest(
        hand_market(),
        [PAIR],
        start=DATES[3],
        end=DATES[9],
        capital=1000.0,
        commission=9.0,
        ma_window=2,
        execution=execution,
    )


def test_hand_checked_next_open():
    r = _hand("next_open")
    name = PAIR.name
    # Worked by hand (signal at the close of d, fill at the open of d+1, $9 per order, whole shares):
    # d2 close: target +1, n = floor((1000-9)/50) = 19; d3 open buy 19 @50 -> cash 41;     E3 = 41 + 19*52 = 1029
    # d3 close: target -1; d4 open sell 19 @54 (cash 1058), short n = floor((1029-9-9)/52) = 19 @54 -> cash 2075
    #                                                                                    E4 = 2075 - 19*53 = 1068
    #                                                                                    E5 = 2075 - 19*50 = 1125
    # d5 close: target +1; d6 open buy 19 @49 (cash 1135), long n = floor((1125-9-9)/50) = 22 @49 -> cash 48
    #                                                           E6 = 48 + 22*51 = 1170, E7 = 1258, E8 = 1302
    # d8 close: target -1; d9 open sell 22 @55 (cash 1249), short n = floor((1302-18)/57) = 22 @55 -> cash 2450
    #                                                                                    E9 = 2450 - 22*56 = 1218
    assert r.equity[name].tolist() == pytest.approx([1029, 1068, 1125, 1170, 1258, 1302, 1218], abs=1e-9)
    assert r.shares[name].tolist() == [19, -19, -19, 22, 22, 22, -22]
    assert r.positions[name].tolist() == [1, -1, -1, 1, 1, 1, -1]
    t = r.trades[r.trades["run"] == name].reset_index(drop=True)
    assert t["side"].tolist() == ["long", "short", "long", "short"]
    assert t["size"].tolist() == [19, 19, 22, 22]
    assert t["entry_price"].tolist() == pytest.approx([50, 54, 49, 55])
    assert t["exit_price"].tolist() == pytest.approx([54, 49, 55, 56])  # the last one marked at the close
    assert t["net_pnl"].tolist() == pytest.approx([76 - 18, 95 - 18, 132 - 18, -22 - 9])
    assert t["closed"].tolist() == [True, True, True, False]
    assert list(t["entry_date"]) == [DATES[3], DATES[4], DATES[6], DATES[9]]
    assert list(t["exit_date"]) == [DATES[4], DATES[6], DATES[9], DATES[9]]
    assert r.runs[name].fills["commission"].sum() == pytest.approx(7 * 9.0)
    m = r.metrics[name]
    assert m.trades == 4 and m.win_rate == pytest.approx(0.75)
    assert m.final_equity == pytest.approx(1218) and m.total_return == pytest.approx(0.218)
    # buy & hold: 19 shares at the d3 open of 50 (cash 41), marked at each close
    b = r.equity["FOLL buy & hold"].tolist()
    assert b == pytest.approx([41 + 19 * c for c in (52, 53, 50, 51, 55, 57, 56)])
    mb = r.metrics["FOLL buy & hold"]
    assert mb.trades == 1 and mb.win_rate == 1.0 and mb.final_equity == pytest.approx(1105)
    assert r.runs["FOLL buy & hold"].fills["commission"].sum() == pytest.approx(9.0)
    assert r.equity["portfolio"].tolist() == r.equity[name].tolist()
    assert not r.optimistic


def test_hand_checked_close_execution():
    r = _hand("close")
    name = PAIR.name
    # Fills at the decision close. d3 close: target -1, short 19 @52 (cash 1979);          E3 = 1979 - 988 = 991
    #                                                                                    E4 = 1979 - 19*53 = 972
    # d5 close: target +1; buy 19 @50 (cash 1020), long n = floor((1029-9-9)/50) = 20 @50 -> cash 11; E5 = 1011
    #                                                                              E6 = 11 + 20*51 = 1031, E7 = 1111
    # d8 close: target -1; sell 20 @57 (cash 1142), short n = floor((1151-18)/57) = 19 @57 -> cash 2216
    #                                                               E8 = 2216 - 19*57 = 1133, E9 = 2216 - 19*56 = 1152
    assert r.equity[name].tolist() == pytest.approx([991, 972, 1011, 1031, 1111, 1133, 1152], abs=1e-9)
    t = r.trades[r.trades["run"] == name]
    assert t["net_pnl"].tolist() == pytest.approx([38 - 18, 140 - 18, 19 - 9])
    assert r.runs[name].fills["commission"].sum() == pytest.approx(5 * 9.0)
    m = r.metrics[name]
    assert (m.trades, m.win_rate, m.final_equity) == (3, 1.0, pytest.approx(1152))
    # the position of the first day is flat (no fill before the window), then the same as follower_positions
    fp = follower_positions(hand_market().close["LEAD"], lag=1, ma_window=2).loc[r.positions.index]
    assert r.positions[name].iloc[0] == 0 and (r.positions[name].iloc[1:] == fp.iloc[1:]).all()
    assert r.optimistic and r.metrics_dict()["optimistic"] is True
    md = r.metrics_dict()
    assert all(row["optimistic"] for row in md["strategies"] + md["benchmarks"] + md["portfolio"])
    assert r.equity.attrs["optimistic"] and r.trades.attrs["optimistic"]


def test_slippage_and_percentage_commission_on_fills():
    m = hand_market()
    lead, foll = m.bars("LEAD"), m.bars("FOLL")
    run = simulate_pair(
        lead,
        foll,
        lag=1,
        start=DATES[3],
        end=DATES[9],
        capital=1000.0,
        commission=9.0,
        commission_pct=0.001,
        slippage_bps=50.0,
        ma_window=2,
    )
    f = run.fills.iloc[0]
    # first fill: buy at the d3 open 50 slipped up by 0.5 % (below the high of 53); n sized at the d2 close
    # 50 * 1.005 = 50.25 with commission 9 + 0.1 %: largest n with n*50.25*1.001 + 9 <= 1000 -> 19
    assert f["price"] == pytest.approx(50.25)
    assert f["size"] == 19 and f["commission"] == pytest.approx(9 + 0.001 * 19 * 50.25)
    sell = run.fills.iloc[1]  # closing sell at the d4 open 54 slipped down
    assert sell["price"] == pytest.approx(54 * 0.995) and sell["size"] == -19
    # accounting identity: capital + sum of net P&L of the round trips = final equity
    assert 1000 + run.trades["net_pnl"].sum() == pytest.approx(run.equity.iloc[-1], abs=1e-9)


def test_gap_up_fill_is_trimmed_to_the_cash():
    m = hand_market()
    foll = m.bars("FOLL").copy()
    foll.loc[DATES[3], ["open", "high"]] = [60.0, 61.0]  # gaps far above the decision close of 50
    run = simulate_pair(
        m.bars("LEAD"), foll, lag=1, start=DATES[3], end=DATES[9], capital=1000.0, commission=9.0, ma_window=2
    )
    assert run.orders.iloc[0]["size"] == 19
    assert run.fills.iloc[0]["size"] == math.floor((1000 - 9) / 60)  # 16 shares: what the cash covers
    assert run.equity.iloc[0] == pytest.approx(1000 - 16 * 60 - 9 + 16 * 52)
    assert [e["event"] for e in run.events].count("cancel_remainder") == 1


def test_one_day_window():
    m = hand_market()
    nxt = simulate_pair(m.bars("LEAD"), m.bars("FOLL"), lag=1, start=DATES[6], end=DATES[6], ma_window=2)
    # decided at the d5 close of 50 (s5 = +1): floor(991/50) = 19 shares, filled at the d6 open of 49
    assert nxt.shares.tolist() == [19] and nxt.equity.tolist() == pytest.approx([1000 - 9 + 19 * (51 - 49)])
    close = simulate_pair(
        m.bars("LEAD"), m.bars("FOLL"), lag=1, start=DATES[6], end=DATES[6], ma_window=2, execution="close"
    )
    assert close.shares.tolist() == [0] and len(close.fills) == 0 and close.equity.tolist() == [1000.0]


def test_buy_and_hold_by_itself():
    m = hand_market()
    run = simulate_buy_and_hold(m.bars("FOLL"), start=DATES[5], end=DATES[9], capital=500.0, commission=1.0)
    # buys at the open of the first day (51): floor((500-1)/51) = 9 shares, cash 500 - 459 - 1 = 40
    assert run.fills.iloc[0]["price"] == 51 and run.fills.iloc[0]["size"] == 9
    assert run.equity.tolist() == pytest.approx([40 + 9 * c for c in (50, 51, 55, 57, 56)])
    assert len(run.trades) == 1 and not run.trades["closed"].iloc[0]


def test_result_does_not_depend_on_extra_warmup(paper_market):
    pairs = [PairSpec("MU", "QCOM", 2)]
    a = run_backtest(paper_market, pairs, start="2023-06-08", end="2023-08-12")
    b = run_backtest(paper_market, pairs, start="2023-06-08", end="2023-08-12", warmup=120)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    pd.testing.assert_frame_equal(a.trades, b.trades)


def test_errors(paper_market):
    pairs = [PairSpec("MU", "QCOM", 2)]
    with pytest.raises(DataError, match="no bars between 2023-07-01 and 2023-07-02"):
        run_backtest(paper_market, pairs, start="2023-07-01", end="2023-07-02")  # a weekend
    with pytest.raises(DataError, match="XYZ"):
        run_backtest(paper_market, [PairSpec("XYZ", "QCOM", 2)], start="2023-06-08", end="2023-08-12")
    with pytest.raises(DataError, match="MU->QCOM: lag 2 with ma_window 20 needs 22 leader bars before 2019-01-15"):
        run_backtest(paper_market, pairs, start="2019-01-15", end="2019-03-01")
    with pytest.raises(ValueError, match="warmup"):
        run_backtest(paper_market, pairs, start="2023-06-08", end="2023-08-12", warmup=5)
    with pytest.raises(ValueError):
        PairSpec("MU", "QCOM", 0)
    with pytest.raises(ValueError):
        run_backtest(paper_market, pairs, start="2023-06-08", end="2023-08-12", execution="cheat")
    with pytest.raises(ValueError):
        run_backtest(paper_market, [], start="2023-06-08", end="2023-08-12")


# ------------------------------------------------------------------------------------------ paper's window
PAPER_PAIRS = [PairSpec("MU", "QCOM", 2), PairSpec("META", "TSLA", 1), PairSpec("TSLA", "AMZN", 5)]


@pytest.fixture(scope="module")
def paper_results(paper_market):
    return {
        ex: run_backtest(
            paper_market,
            PAPER_PAIRS,
            start="2023-06-08",
            end="2023-08-12",
            capital=1000.0,
            commission=9.0,
            execution=ex,
        )
        for ex in ("next_open", "close")
    }


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_paper_window_structure_and_invariants(paper_results, paper_market, execution, tmp_path):
    r = paper_results[execution]
    days = paper_market.dates[(paper_market.dates >= "2023-06-08") & (paper_market.dates <= "2023-08-12")]
    assert r.equity.index.equals(days)
    strat = [p.name for p in PAPER_PAIRS]
    bench = ["QCOM buy & hold", "TSLA buy & hold", "AMZN buy & hold"]
    assert list(r.equity.columns) == strat + bench + ["portfolio", "buy & hold portfolio"]
    assert not r.equity.isna().to_numpy().any()
    np.testing.assert_allclose(r.equity["portfolio"], r.equity[strat].sum(axis=1))
    np.testing.assert_allclose(r.equity["buy & hold portfolio"], r.equity[bench].sum(axis=1))
    for name in strat + bench:
        run = r.runs[name]
        # accounting identity and costs
        assert 1000 + run.trades["net_pnl"].sum() == pytest.approx(run.equity.iloc[-1], abs=1e-6)
        assert run.fills["commission"].sum() == pytest.approx(9.0 * len(run.fills))
        assert run.trades["commission"].sum() == pytest.approx(run.fills["commission"].sum())
        # every fill inside the window
        assert run.fills["date"].between(days[0], days[-1]).all()
        assert r.metrics[name].final_equity == pytest.approx(run.equity.iloc[-1])
    for name in bench:
        assert r.metrics[name].trades == 1
        assert r.runs[name].fills.iloc[0]["price"] == paper_market.open.loc[days[0], name.split()[0]]
    # the positions are those of volts.trading.signals (the first day is flat under close execution)
    for p in PAPER_PAIRS:
        fp = follower_positions(paper_market.close[p.leader], lag=p.lag).loc[days]
        got = r.positions[p.name]
        if execution == "next_open":
            assert (got == fp).all()
        else:
            assert got.iloc[0] == 0 and (got.iloc[1:] == fp.iloc[1:]).all()
    md = r.metrics_dict()
    json.dumps(md, allow_nan=False)
    json.dumps(r.to_dict(), allow_nan=False)
    assert md["execution"] == execution and md["optimistic"] == (execution == "close")
    assert md["window"]["first_day"] == "2023-06-08" and md["window"]["last_day"] == "2023-08-11"
    assert [row["name"] for row in md["strategies"]] == strat
    assert [row["name"] for row in md["benchmarks"]] == bench
    assert [row["name"] for row in md["portfolio"]] == ["portfolio", "buy & hold portfolio"]
    keys = {"name", "trades", "win_rate", "total_return", "final_equity", "sharpe", "sortino", "max_drawdown", "calmar"}
    for row in md["strategies"] + md["benchmarks"] + md["portfolio"]:
        assert keys <= set(row)
        assert 0.0 <= row["max_drawdown"] < 1.0
        assert row["win_rate"] is None or 0.0 <= row["win_rate"] <= 1.0
        assert row["total_return"] == pytest.approx(
            row["final_equity"] / (1000 * (3 if row["kind"] == "portfolio" else 1)) - 1
        )
    from volts.reporting.figures.backtest import plot_equity

    out = plot_equity(r, tmp_path / "equity.png")
    assert out.is_file() and out.stat().st_size > 10_000


def test_benchmarks_do_not_depend_on_execution(paper_results):
    a, b = paper_results["next_open"], paper_results["close"]
    cols = ["QCOM buy & hold", "TSLA buy & hold", "AMZN buy & hold", "buy & hold portfolio"]
    pd.testing.assert_frame_equal(a.equity[cols], b.equity[cols])
