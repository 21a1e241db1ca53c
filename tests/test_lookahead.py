"""No look-ahead: replacing every bar after a day t by random bars changes no decision up to t.

For every strategy configuration (LeadLagTrend long_short / long_only x next_open / close, and BuyAndHold) the
orders created, fills, shares held, targets and equity through t must be identical; the same for the signal
functions of ``volts.trading.signals``. A deliberately leaky signal (it peeks at the next close) is caught by the same
check, so the check has teeth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.trading.backtest import simulate_buy_and_hold, simulate_pair
from volts.trading.signals import follower_positions, next_session_target, trend_signal

N = 90
START, END = 30, N - 1
T_INDICES = (31, 48, 70)
SEEDS = (0, 1)
DATES = pd.bdate_range("2021-03-01", periods=N)


def _bars(rng: np.random.Generator, n: int, start_price: float) -> pd.DataFrame:
    close = start_price * np.exp(np.cumsum(rng.normal(0, 0.025, n)))
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.integers(1_000, 10_000, n).astype(float),
        }
    )


def market(seed: int = 123) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    lead, foll = _bars(rng, N, 60.0), _bars(rng, N, 40.0)
    lead.index = foll.index = DATES
    return lead, foll


def perturb_after(bars: pd.DataFrame, t: int, rng: np.random.Generator) -> pd.DataFrame:
    """Same bars through index t; every later bar replaced by a random valid OHLC bar (prices 5 .. 400)."""
    out = bars.copy()
    k = len(bars) - t - 1
    close = rng.uniform(5, 400, k)
    open_ = rng.uniform(5, 400, k)
    out.iloc[t + 1 :, :4] = np.column_stack(
        [
            open_,
            np.maximum(open_, close) * (1 + rng.uniform(0, 0.05, k)),
            np.minimum(open_, close) * (1 - rng.uniform(0, 0.05, k)),
            close,
        ]
    )
    return out


CONFIGS = [
    ("trend long_short next_open", dict(mode="long_short", execution="next_open", lag=2)),
    ("trend long_only next_open", dict(mode="long_only", execution="next_open", lag=1)),
    ("trend long_short close", dict(mode="long_short", execution="close", lag=1)),
    ("trend long_only close", dict(mode="long_only", execution="close", lag=3)),
    ("buy and hold", None),
]
COSTS = dict(capital=1000.0, commission=9.0, commission_pct=0.0005, slippage_bps=5.0)


def run_config(cfg, lead: pd.DataFrame, foll: pd.DataFrame, target_fn=None):
    if cfg is None:
        return simulate_buy_and_hold(foll, start=DATES[START], end=DATES[END], **COSTS)
    return simulate_pair(
        lead, foll, start=DATES[START], end=DATES[END], ma_window=10, target_fn=target_fn, **cfg, **COSTS
    )


def records_through(run, t: int) -> dict:
    """Every decision and its consequence dated <= DATES[t]."""
    day = DATES[t]
    o, f = run.orders, run.fills
    return {
        "orders": [
            tuple(r) for r in o.loc[o["created"] <= day, ["created", "role", "side", "size"]].itertuples(index=False)
        ],
        "fills": [
            tuple(r)
            for r in f.loc[f["date"] <= day, ["date", "role", "size", "price", "commission"]].itertuples(index=False)
        ],
        "shares": run.shares.loc[:day].tolist(),
        "equity": run.equity.loc[:day].tolist(),
        "targets": run.targets.loc[:day].tolist(),
    }


def full_records(run) -> dict:
    return records_through(run, N - 1)


@pytest.fixture(scope="module")
def baselines():
    lead, foll = market()
    return lead, foll, {name: run_config(cfg, lead, foll) for name, cfg in CONFIGS}


@pytest.mark.parametrize("name,cfg", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_strategy_decisions_through_t_ignore_later_bars(baselines, name, cfg):
    lead, foll, base = baselines
    base_run = base[name]
    assert len(base_run.orders) >= 1 and len(base_run.fills) >= 1
    changed_later = False
    for seed in SEEDS:
        for t in T_INDICES:
            rng = np.random.default_rng(1000 * seed + t)
            run = run_config(cfg, perturb_after(lead, t, rng), perturb_after(foll, t, rng))
            assert records_through(run, t) == records_through(base_run, t), (name, seed, t)
            changed_later |= full_records(run) != full_records(base_run)
    assert changed_later  # the perturbation did reach the records after t


def test_a_leaky_signal_is_caught():
    lead, foll = market()

    def leaky(lead_bars):
        full = lead_bars["close"].to_numpy()

        def target(known: pd.Series) -> int:  # peeks at the next close
            n = len(known)
            return 0 if n >= len(full) else (1 if full[n] > full[n - 1] else -1)

        return target

    cfg = dict(mode="long_short", execution="next_open", lag=1)
    base = run_config(cfg, lead, foll, target_fn=leaky(lead))
    caught = 0
    for t in T_INDICES:
        rng = np.random.default_rng(t)
        pl = perturb_after(lead, t, rng)
        run = run_config(cfg, pl, perturb_after(foll, t, rng), target_fn=leaky(pl))
        caught += records_through(run, t) != records_through(base, t)
    assert caught >= 1


@pytest.mark.parametrize("mode", ["long_short", "long_only"])
@pytest.mark.parametrize("lag", [1, 2, 5])
def test_signal_functions_ignore_later_bars(mode, lag):
    lead, _ = market(7)
    close = lead["close"]
    base_signal = trend_signal(close, ma_window=10, mode=mode)
    base_pos = follower_positions(close, lag=lag, ma_window=10, mode=mode)
    for seed in SEEDS:
        for t in T_INDICES + (12, N - 2):
            pert = perturb_after(lead, t, np.random.default_rng(seed * 31 + t))["close"]
            s = trend_signal(pert, ma_window=10, mode=mode)
            assert s.iloc[: t + 1].equals(base_signal.iloc[: t + 1])
            pos = follower_positions(pert, lag=lag, ma_window=10, mode=mode)
            # the position of day d uses closes <= d - lag: unchanged through t + lag
            assert pos.iloc[: t + lag + 1].equals(base_pos.iloc[: t + lag + 1])
            # the live target computed at the close of t is what the backtest holds on day t + 1
            target = next_session_target(close.iloc[: t + 1], lag=lag, ma_window=10, mode=mode)
            assert target == pos.iloc[t + 1] == base_pos.iloc[t + 1]


@pytest.mark.parametrize("name,cfg", CONFIGS[:4], ids=[c[0] for c in CONFIGS[:4]])
def test_strategy_targets_equal_live_signal_path(baselines, name, cfg):
    lead, _, base = baselines
    targets = base[name].targets
    # one decision per close, from the last warm-up bar (next_open) or the first window bar (close) to END - 1
    first = START - 1 if cfg["execution"] == "next_open" else START
    assert list(targets.index) == list(DATES[first:END])
    for day, target in targets.items():
        known = lead["close"].loc[:day]
        assert target == next_session_target(known, lag=cfg["lag"], ma_window=10, mode=cfg["mode"])
