"""What a result rests on: pairs left without capital, weeks fully in cash, capital and costs, gross beside net.

Planted cases on the tiny markets of ``tests/test_simulate.py``: a pair that holds all the capital, then a pair
selected beside it (it gets no cash, and keeps none while it is re-selected, even after the pool refills).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.test_simulate import _one_pair_market, settings
from volts.evaluation.disclosure import (
    cost_summary,
    costs_markdown,
    funding_markdown,
    week_columns,
)
from volts.trading.simulate import Holding, Rebalance, funding_summary, simulate_schedule


def _planted(engine: str = "vectorised"):
    m = _one_pair_market()
    d = m.dates
    s = settings(**{"costs.capital": 1000.0, "costs.commission": 1.0})
    sched = [
        Rebalance(d[15].date(), (Holding("AAA", "BBB", 1),)),  # all the capital
        Rebalance(d[18].date(), (Holding("AAA", "BBB", 1), Holding("AAA", "CCC", 1))),  # CCC: no cash
        Rebalance(d[21].date(), (Holding("AAA", "CCC", 1), Holding("AAA", "DDD", 1))),  # BBB leaves: DDD
        Rebalance(d[24].date(), ()),
    ]  # a week in cash
    return m, s, sched, simulate_schedule(m, sched, end=d[27], settings=s, spy=False, engine=engine)


@pytest.mark.parametrize("engine", ["vectorised", "backtrader"])
def test_an_entrant_beside_pairs_holding_all_the_capital_is_counted_unfunded_every_week_it_is_held(engine):
    _, _, sched, res = _planted(engine)
    per = res.periods
    assert per["n_unfunded"].tolist() == [0, 1, 1, 0]
    assert per["unfunded"].tolist() == ["", "AAA->CCC", "AAA->CCC", ""]
    # the refilled pool (BBB's cash) went to the entrant DDD, never to the held CCC sleeve
    assert not any(f == "CCC" for f in res.fills["follower"])
    assert res.fills.loc[res.fills["follower"] == "DDD", "role"].iloc[0] == "open"
    assert per["in_cash"].tolist() == [False, False, False, True]
    f = funding_summary(per)
    assert (
        f["unfunded_pair_weeks"],
        f["unfunded_entries"],
        f["weeks_with_unfunded_pairs"],
        f["weeks_fully_in_cash"],
        f["weeks_in_cash_with_pairs"],
        f["pair_weeks"],
    ) == (2, 1, 2, 1, 0, 5)
    assert [u["asof"] for u in f["unfunded"]] == [str(r.asof) for r in sched[1:3]]
    assert f["unfunded"][0] == {"asof": str(sched[1].asof), "pairs": 2, "unfunded": ["AAA->CCC"]}
    md = "\n".join(funding_markdown({"funding": f}))
    assert "2 were unfunded" in md and "AAA->CCC" in md


def test_a_week_with_pairs_but_no_position_is_fully_in_cash():
    m, s, sched, _ = _planted()
    d = m.dates
    # CCC alone, unfunded: it was never given cash, so the week holds nothing
    sched2 = sched[:2] + [Rebalance(d[21].date(), (Holding("AAA", "CCC", 1),))]
    res2 = simulate_schedule(m, sched2, end=d[24], settings=s, spy=False)
    f = funding_summary(res2.periods)
    assert res2.periods["in_cash"].tolist() == [False, False, True]
    assert (f["weeks_fully_in_cash"], f["weeks_in_cash_with_pairs"], f["unfunded_pair_weeks"]) == (1, 1, 2)


def test_gross_pnl_is_net_plus_every_cost_and_the_split_adds_up():
    m, s, sched, res = _planted()
    c = cost_summary(res, s)
    assert c["orders"] == len(res.fills) > 0
    assert c["net_pnl"] == pytest.approx(res.equity.iloc[-1] - 1000.0, abs=1e-9)
    assert c["gross_pnl"] - c["net_pnl"] == pytest.approx(res.fills["commission"].sum(), abs=1e-9)
    # the commission part is the fixed fee per order plus commission_pct of value; the rest is slippage + spread
    rate_slip = (s.costs.slippage_bps + s.costs.half_spread_bps) / 1e4
    assert c["slippage_paid"] == pytest.approx(rate_slip * res.fills["value"].sum(), rel=1e-12)
    assert c["commission_paid"] == pytest.approx(
        1.0 * len(res.fills) + s.costs.commission_pct * res.fills["value"].sum(), rel=1e-9
    )
    # the same orders at zero cost: the cost-free run's P&L differs only through compounding of what was saved
    free = simulate_schedule(m, sched, end=m.dates[27], settings=s, spy=False, cost_bps=0.0)
    assert free.equity.iloc[-1] - 1000.0 == pytest.approx(c["gross_pnl"], rel=0.05)
    md = "\n".join(costs_markdown({"costs": c}))
    assert "P&L before costs (gross)" in md and "capital 1,000 USD" in md


def test_week_rows_say_whose_pnl_and_costs_they_hold():
    m, _, sched, res = _planted()
    weeks = [{"asof": r.asof} for r in sched]
    end = m.dates[27].date()
    eq = res.equity
    rows = []
    for i, r in enumerate(sched):
        b = sched[i + 1].asof if i + 1 < len(sched) else end
        rows.append(
            {"asof": r.asof, "pnl": float(eq.loc[: pd.Timestamp(b)].iloc[-1] - eq.loc[: pd.Timestamp(r.asof)].iloc[-1])}
        )
    t = week_columns(pd.DataFrame(rows), res, weeks, end=end)
    assert t["pnl_from"].tolist() == [str(r.asof) for r in sched]
    assert t["pairs_from"].iloc[0] == str(m.dates[16].date())  # the first session after the as-of date
    assert t["costs"].sum() == pytest.approx(res.fills["commission"].sum(), abs=1e-9)
    assert (t["gross_pnl"] - t["pnl"]).tolist() == pytest.approx(t["costs"].tolist())
    assert t["unfunded_pairs"].tolist() == [0, 1, 1, 0]
    assert t["unfunded_list"].tolist() == ["", "AAA->CCC", "AAA->CCC", ""]
    assert t["in_cash"].tolist() == [False, False, False, True]


@pytest.mark.slow
def test_volts_run_states_capital_costs_and_gross_beside_net(demo_market_run):
    import json

    rc, _, run = demo_market_run  # `volts run --config examples/demo.toml`, shared with test_cli_pipeline.py
    assert rc == 0
    m = json.loads((run / "metrics.json").read_text())
    c = m["costs"]
    assert c["capital"] == m["params"]["capital"] and c["commission_per_order"] == m["params"]["commission"]
    trades = pd.read_csv(run / "trades.csv")
    for row in c["rows"]:
        t = (
            trades[trades["run"] == row["name"]]
            if row["name"] in set(trades["run"])
            else trades[trades["run"].isin([r["name"] for r in m["strategies"]])]
        )
        assert row["gross_pnl"] == pytest.approx(t["gross_pnl"].sum(), abs=0.01)  # CSV-rounded values
        assert row["gross_pnl"] - row["commission_paid"] == pytest.approx(row["net_pnl"], abs=1e-6)
    # a single pair's net P&L is its equity's change (positions still open are marked at the last close)
    first = c["rows"][0]
    final = next(r["final_equity"] for r in m["strategies"] if r["name"] == first["name"])
    assert first["net_pnl"] == pytest.approx(final - c["capital"], abs=0.01)
    report = (run / "report.md").read_text()
    assert "P&L before commission (USD)" in report and f"Capital {c['capital']:,.0f} USD per pair" in report
