"""Spread costs per instrument (``[costs] spread``, ``spread_unit``, ``spread_by_symbol``, ``pip_size_by_symbol``).

* a hand-computed round trip: known prices, a 1-pip spread at pip size 0.0001, the exact cash;
* a spread in bps equals the same half-spread through ``half_spread_bps`` (exactly: same float operations);
* the FX pip rule (0.01 for a JPY quote, 0.0001 otherwise) and the table that overrides it;
* bad settings are ConfigErrors naming the key; the keys are left out of the settings' dump at their defaults.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings, parse_settings
from volts.core.errors import ConfigError
from volts.data.market import MarketData
from volts.trading.simulate import HAIRCUT, CostModel, Holding, Rebalance, simulate_schedule
from volts.trading.spreads import half_spread_terms, pip_size

FX = ["GBPUSD", "EURUSD", "USDJPY"]


def _fx_market(n: int = 30) -> MarketData:
    """GBPUSD rises every day (its trend is +1 once the SMA exists); EURUSD and USDJPY are ramps."""
    dates = pd.bdate_range("2022-01-03", periods=n)
    t = np.arange(n, dtype=float)
    close = {"GBPUSD": 1.30 + 0.001 * t, "EURUSD": 1.10 + 0.0002 * t, "USDJPY": 110.0 + 0.05 * t}
    open_ = {k: v - 0.0003 for k, v in close.items()}
    frames = dict(open=pd.DataFrame(open_, index=dates), close=pd.DataFrame(close, index=dates))
    frames["high"] = np.maximum(frames["open"], frames["close"]) + 0.001
    frames["low"] = np.minimum(frames["open"], frames["close"]) - 0.001
    frames["volume"] = frames["close"] * 0 + 1e4
    return MarketData(**frames)


def _settings(**over) -> Settings:
    base = {"data.universe": FX, "strategy.ma_window": 5, "strategy.mode": "long_only", "costs.capital": 10_000.0}
    base.update(over)
    return Settings().override(**base)


def _round_trip(s: Settings):
    """Hold GBPUSD->EURUSD for one period, then cash: one open and one close ("leave") of EURUSD."""
    m = _fx_market()
    d = m.dates
    sched = [Rebalance(d[10].date(), (Holding("GBPUSD", "EURUSD", 1),)), Rebalance(d[14].date(), ())]
    return m, simulate_schedule(m, sched, end=d[18], settings=s, spy=False, benchmarks=False)


def test_one_pip_round_trip_by_hand():
    s = _settings(**{"costs.commission": 2.0, "costs.spread_unit": "pips", "costs.spread": 1.0})
    m, res = _round_trip(s)
    d = m.dates
    p_in, p_out = m.open["EURUSD"].iloc[11], m.open["EURUSD"].iloc[15]
    half = 0.5 * 0.0001  # half of one pip of EURUSD, price units per unit traded
    n = (10_000.0 - 2.0) / (p_in + half) * (1 - HAIRCUT)  # rate 0: n * p + 2 + n * half = budget
    cash_in = 10_000.0 - n * p_in - (2.0 + n * half)
    cash_out = cash_in + n * p_out - (2.0 + n * half)
    assert res.fills["date"].tolist() == [d[11], d[15]]
    assert res.fills["role"].tolist() == ["open", "leave"]
    np.testing.assert_allclose(res.fills["commission"].to_numpy(), [2.0 + n * half] * 2, rtol=1e-12)
    # after the close everything is cash: the equity is the hand-computed cash, to rounding
    assert res.equity.iloc[-1] == pytest.approx(cash_out, rel=1e-12)
    assert res.trades["pnl"].iloc[0] == pytest.approx(cash_out - 10_000.0, rel=1e-9)
    # the spread paid is exactly n units x one pip over the round trip
    assert res.fills["commission"].sum() - 2 * 2.0 == pytest.approx(n * 0.0001, rel=1e-12)


def test_spread_in_price_units_per_symbol_and_backtrader_agrees():
    s = _settings(
        **{
            "costs.commission": 0.0,
            "costs.spread_unit": "price",
            "costs.spread": 1.0,  # every other symbol: a huge spread, not paid here
            "costs.spread_by_symbol": {"EURUSD": 0.0004},
        }
    )
    m, res = _round_trip(s)
    n = res.fills["shares"].iloc[0]
    np.testing.assert_allclose(res.fills["commission"].to_numpy(), [n * 0.0002] * 2, rtol=1e-12)
    m2 = _fx_market()
    d = m2.dates
    sched = [Rebalance(d[10].date(), (Holding("GBPUSD", "EURUSD", 1),)), Rebalance(d[14].date(), ())]
    bt = simulate_schedule(m2, sched, end=d[18], settings=s, spy=False, benchmarks=False, engine="backtrader")
    # two engines, same rules: the broker's float order differs, hence a relative tolerance
    np.testing.assert_allclose(bt.equity.to_numpy(), res.equity.to_numpy(), rtol=1e-9)


def test_spread_in_bps_equals_half_spread_bps():
    a = _settings(**{"costs.commission": 1.0, "costs.slippage_bps": 1.5, "costs.half_spread_bps": 3.0})
    b = _settings(**{"costs.commission": 1.0, "costs.slippage_bps": 1.5, "costs.spread": 6.0})
    _, ra = _round_trip(a)
    _, rb = _round_trip(b)
    assert ra.fills["commission"].sum() > 1.0 * len(ra.fills)  # the proportional part was paid
    pd.testing.assert_series_equal(ra.equity, rb.equity, check_exact=True)
    pd.testing.assert_frame_equal(ra.fills, rb.fills, check_exact=True)


def test_no_spread_is_the_old_cost_model():
    s = _settings(**{"costs.commission": 3.0, "costs.commission_pct": 0.0002})
    c = CostModel.from_settings(s)
    assert not c.has_spread and c.to_dict() == {"capital": 10_000.0, "fixed": 3.0, "rate": 0.0002, "rate_bps": 2.0}
    assert c.commission(5_000.0, 10.0, "EURUSD") == 3.0 + 0.0002 * 5_000.0
    # cost_bps (the cost table) replaces the spread too
    sp = CostModel.from_settings(_settings(**{"costs.spread": 10.0}), cost_bps=5.0)
    assert not sp.has_spread and sp.rate == 5.0 / 1e4


def test_pip_rule():
    assert pip_size("EURUSD") == 0.0001
    assert pip_size("USDJPY") == 0.01 and pip_size("eurjpy.m") == 0.01
    assert pip_size("GBPCHF") == 0.0001
    assert pip_size("XAUUSD") is None and pip_size("BTCUSD") is None and pip_size("USA500IDXUSD") is None
    assert pip_size("XAUUSD", {"XAUUSD": 0.1}) == 0.1
    assert pip_size("EURJPY", {"EURJPY": 0.001}) == 0.001  # the table wins over the rule
    assert half_spread_terms("EURJPY", spread=2.0, unit="pips") == (0.0, 0.01)
    assert half_spread_terms("EURJPY", spread=2.0, unit="bps") == (1.0, 0.0)
    assert half_spread_terms("EURJPY", spread=0.0, unit="pips", spread_by_symbol={"EURUSD": 1.0}) == (0.0, 0.0)


def test_pip_spread_without_pip_size_is_refused_naming_symbol_and_key():
    dates = pd.bdate_range("2022-01-03", periods=30)
    t = np.arange(30, dtype=float)
    close = pd.DataFrame({"GBPUSD": 1.3 + 0.001 * t, "XAUUSD": 1800 + t}, index=dates)
    m = MarketData(open=close * 0.999, close=close, high=close * 1.01, low=close * 0.98, volume=close * 0 + 1.0)
    s = _settings(**{"data.universe": ["GBPUSD", "XAUUSD"], "costs.spread_unit": "pips", "costs.spread": 1.0})
    with pytest.raises(ConfigError, match=r"XAUUSD.*pip_size_by_symbol"):
        simulate_schedule(
            m, [Rebalance(dates[10].date(), (Holding("GBPUSD", "XAUUSD", 1),))], end=dates[-1], settings=s, spy=False
        )
    ok = s.override(**{"costs.pip_size_by_symbol": {"XAUUSD": 0.1}})
    res = simulate_schedule(
        m, [Rebalance(dates[10].date(), (Holding("GBPUSD", "XAUUSD", 1),))], end=dates[-1], settings=ok, spy=False
    )
    n = res.fills["shares"].iloc[0]
    assert res.fills["commission"].iloc[0] == pytest.approx(9.0 + n * 0.05, rel=1e-12)


@pytest.mark.parametrize(
    "raw,key",
    [
        ({"costs": {"spread": -1.0}}, "costs.spread"),
        ({"costs": {"spread_unit": "points"}}, "costs.spread_unit"),
        ({"costs": {"spread_by_symbol": {"EURJPY": -2.0}}}, "costs.spread_by_symbol"),
        ({"costs": {"pip_size_by_symbol": {"EURJPY": 0.0}}}, "costs.pip_size_by_symbol"),
    ],
)
def test_bad_spread_settings_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_settings(raw)


def test_spread_keys_left_out_of_the_dump_at_defaults():
    base = Settings()
    assert not {"spread", "spread_unit", "spread_by_symbol", "pip_size_by_symbol"} & set(base.model_dump()["costs"])
    on = base.override(**{"costs.spread": 1.0, "costs.spread_unit": "pips"})
    dumped = on.model_dump()["costs"]
    assert dumped["spread"] == 1.0 and dumped["spread_unit"] == "pips" and "spread_by_symbol" not in dumped
    assert on.sha256() != base.sha256() and on.selection_sha256() == base.selection_sha256()


def test_cost_summary_splits_out_the_spread():
    from volts.evaluation.disclosure import cost_summary, costs_markdown

    s = _settings(**{"costs.commission": 2.0, "costs.spread_unit": "pips", "costs.spread": 1.0})
    _, res = _round_trip(s)
    c = cost_summary(res, s)
    n = res.fills["shares"].iloc[0]
    assert c["spread_paid"] == pytest.approx(n * 0.0001, rel=1e-9)
    assert c["commission_paid"] == pytest.approx(2 * 2.0, rel=1e-9)
    assert any("spread paid" in line for line in costs_markdown({"costs": c}))


def test_walkforward_refuses_an_unpriced_pip_spread_before_selecting(tmp_path):
    from pathlib import Path

    from volts.core.config import load_settings
    from volts.evaluation.walkforward import run_walkforward

    demo = Path(__file__).resolve().parents[1] / "examples" / "walkforward_demo.toml"
    s = load_settings(demo).override(**{"costs.spread_unit": "pips", "costs.spread": 1.0})
    with pytest.raises(ConfigError, match=r"LOW1.*pip_size_by_symbol"):  # synthetic symbols: no FX pip rule
        run_walkforward(s, start="2021-01-04", end="2021-02-26", out=tmp_path / "wf")
    weeks = tmp_path / "wf" / "weeks"
    assert not weeks.exists() or not any(weeks.iterdir())  # refused before any week was selected
