"""The book kernel shared by both engines: target positions per session and the cash and shares they imply.

:func:`_plan` lays out which pair is held on which session; :func:`_targets` computes each pair's target position
from the signal kernel (:mod:`volts.trading.signals`); :class:`_Book` fills orders at the next session's open
and keeps cash, shares, costs and the per-pair ledgers. The vectorised engine and the backtrader engine both
trade through it, which is why they agree to the cent.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from volts.core.errors import ConfigError, DataError
from volts.data.market import MarketData
from volts.trading.schedule import (
    CostModel,
    Holding,
    Rebalance,
)
from volts.trading.signals import _check_params, trend_signal

HAIRCUT = 1e-9  # fraction of a sleeve's cash left unspent by an opening order (floating-point safety)


# --------------------------------------------------------------------------------------------- planning
@dataclass
class _Plan:
    dates: pd.DatetimeIndex  # sessions s0 .. e (s0 = last session <= first asof)
    starts: list  # per period: index into dates of its first session (None if empty)
    rebalances: list  # the schedule, sorted
    lo: int  # index in the market of dates[0]


def _plan(market: MarketData, schedule: Sequence[Rebalance], end) -> _Plan:
    if not schedule:
        raise ConfigError("simulate_schedule needs at least one re-selection")
    rebs = sorted(schedule, key=lambda r: pd.Timestamp(r.asof))
    asofs = [r.asof for r in rebs]
    if len(set(asofs)) != len(asofs):
        raise ConfigError("two re-selections share an as-of date")
    mdates = market.dates
    end_ts = pd.Timestamp(end)
    e = int(mdates.searchsorted(end_ts, side="right")) - 1
    s0 = int(mdates.searchsorted(pd.Timestamp(asofs[0]), side="right")) - 1
    if s0 < 0:
        raise DataError(
            f"first as-of date {asofs[0]}: no session on or before it in the market data "
            f"(data start {mdates[0].date()}); load bars from before the first re-selection"
        )
    if e <= s0:
        raise DataError(
            f"end {end_ts.date()}: no session after the first as-of date {asofs[0]} "
            f"(data end {mdates[-1].date()}); choose a later end"
        )
    starts = []
    for a in asofs:
        i = int(mdates.searchsorted(pd.Timestamp(a), side="right"))  # first session after asof
        starts.append(i - s0 if i <= e else None)
    # a period whose first session equals the next period's is empty: the later re-selection takes over
    for k in range(len(starts) - 1):
        if starts[k] is not None and starts[k + 1] is not None and starts[k + 1] <= starts[k]:
            starts[k] = None
    return _Plan(dates=mdates[s0 : e + 1], starts=starts, rebalances=rebs, lo=s0)


def _labels(dates: pd.DatetimeIndex) -> list:
    """Labels of fills and periods: dates for daily bars (unchanged artifacts), full stamps for intraday bars (an
    index with a time of day other than midnight)."""
    if len(dates) and bool((dates != dates.normalize()).any()):
        return list(dates)
    return [d.date() for d in dates]


_SIGNALS: "weakref.WeakKeyDictionary[MarketData, dict]" = weakref.WeakKeyDictionary()


def _targets(market: MarketData, plan: _Plan, leader: str, lag: int, ma_window: int, mode: str) -> list:
    """Target sign per session of ``plan.dates``: :func:`volts.trading.signals.follower_positions` of the leader's whole
    close history in ``market``, computed once per market object and (leader, lag, ma_window, mode) and reused by
    later calls on the same market (null-model draws). The signal of a day reads only its own SMA window, so the
    slice equals what a shorter history would give."""
    _check_params(int(ma_window), mode, int(lag))
    per_market = _SIGNALS.setdefault(market, {})
    key = (leader, int(lag), int(ma_window), mode)
    close = market.close[leader]
    stamp = hash(close.to_numpy().tobytes())  # a frame changed in place is recomputed, never served stale
    hit = per_market.get(key)
    if hit is None or hit[0] != stamp:
        # the leader's signal does not depend on the lag: computed once per leader, then shifted by each lag
        # exactly as follower_positions shifts it (s_{d-lag}, 0 before the first bar)
        skey = ("signal", leader, int(ma_window), mode)
        sig = per_market.get(skey)
        if sig is None or sig[0] != stamp:
            sig = per_market[skey] = (
                stamp,
                trend_signal(close, ma_window=int(ma_window), mode=mode).to_numpy().tolist(),
            )
        values, shift = sig[1], int(lag)
        hit = per_market[key] = (stamp, [0] * min(shift, len(values)) + values[: max(0, len(values) - shift)])
    return hit[1][plan.lo : plan.lo + len(plan.dates)]


# --------------------------------------------------------------------------------------- the event loop
class _Book:
    """Sleeve accounting shared by both engines (the backtrader engine mirrors it to size its orders)."""

    def __init__(self, costs: CostModel, pool: float):
        self.costs = costs
        self.pool = float(pool)
        self.sleeves: dict[str, dict] = {}
        self.fills: list[dict] = []
        self.trades: list[dict] = []
        self.events: list[dict] = []
        self.funding: list[list[str]] = []  # per rebalance call: keys held without the cash to place an order

    def _fill(self, s: dict, date, role: str, shares: float, price: float) -> float:
        value = abs(shares) * price
        comm = self.costs.commission(value, abs(shares), s["follower"])
        self.fills.append(
            {
                "date": date,
                "pair": s["key"],
                "leader": s["leader"],
                "follower": s["follower"],
                "lag": s["lag"],
                "role": role,
                "side": "buy" if shares > 0 else "sell",
                "shares": shares,
                "price": price,
                "value": value,
                "commission": comm,
            }
        )
        return comm

    def close(self, s: dict, date, price: float, role: str = "close") -> float | None:
        """Close the sleeve's position; returns the signed shares traded (None when flat)."""
        n = s["shares"]
        if n == 0:
            return None
        comm = self._fill(s, date, role, -n, price)
        s["cash"] += n * price - comm
        t = s["open_trade"]
        t.update(exit_date=date, exit_price=price, commission=t["commission"] + comm, closed=True)
        t["pnl"] = (price - t["entry_price"]) * n - t["commission"]
        self.trades.append(t)
        s["open_trade"] = None
        s["shares"] = 0.0
        s["sign"] = 0
        return -n

    def open(self, s: dict, date, price: float, sign: int) -> float | None:
        """Open a position of sign ``sign`` with all the sleeve's cash; returns the signed shares (None if none)."""
        equity = s["cash"]
        budget = equity - self.costs.fixed
        if not (budget > 0) or not (price > 0):
            # a flat sleeve's cash cannot grow again: it stays flat until it leaves (one event, not one a day)
            if not s.get("bust"):
                self.events.append({"date": date, "pair": s["key"], "event": "no_affordable_shares", "cash": equity})
            s["bust"] = True
            return None
        n = self.costs.affordable(budget, price, s["follower"]) * (1.0 - HAIRCUT)
        shares = float(sign) * n
        comm = self._fill(s, date, "open", shares, price)
        s["cash"] -= shares * price + comm
        s["shares"] = shares
        s["sign"] = int(sign)
        s["open_trade"] = {
            "pair": s["key"],
            "leader": s["leader"],
            "follower": s["follower"],
            "lag": s["lag"],
            "side": "long" if sign > 0 else "short",
            "shares": n,
            "entry_date": date,
            "entry_price": price,
            "exit_date": None,
            "exit_price": float("nan"),
            "commission": comm,
            "pnl": float("nan"),
            "closed": False,
        }
        return shares

    def rebalance(self, holdings: Sequence[Holding], date, price_of: Callable[[dict], float]) -> list:
        """Apply a re-selection at a fill: close leavers into the pool, fund entrants; returns the fills made as
        (key, signed shares)."""
        made = []
        new = {h.key: h for h in holdings}
        for key in [k for k in self.sleeves if k not in new]:
            s = self.sleeves.pop(key)
            traded = self.close(s, date, price_of(s), role="leave")
            if traded is not None:
                made.append((key, traded))
            self.pool += s["cash"]
        entering = [h for h in holdings if h.key not in self.sleeves]
        share = self.pool / len(entering) if entering else 0.0
        for h in holdings:
            if h.key in self.sleeves:
                self.sleeves[h.key]["lag"] = int(h.lag)
                continue
            if not (share > 0):
                self.events.append({"date": date, "pair": h.key, "event": "unfunded_entry"})
            self.sleeves[h.key] = {
                "key": h.key,
                "leader": h.leader,
                "follower": h.follower,
                "lag": int(h.lag),
                "cash": share,
                "shares": 0.0,
                "sign": 0,
                "open_trade": None,
            }
        if entering:
            self.pool = 0.0
        self.funding.append(
            [k for k, s in self.sleeves.items() if s["shares"] == 0 and not (s["cash"] - self.costs.fixed > 0)]
        )
        return made

    def step(self, s: dict, target: int, date, price: float) -> list:
        """Move the sleeve to ``target``; returns the fills made as signed shares."""
        cur = s["sign"]
        if target == cur or (cur == 0 and s.get("bust")):
            return []
        made = []
        if cur != 0:
            made.append(self.close(s, date, price))
        if target != 0:
            opened = self.open(s, date, price, target)
            if opened is not None:
                made.append(opened)
        return made

    def value(self, close_of: Callable[[str], float]) -> float:
        return self.pool + sum(s["cash"] + s["shares"] * close_of(s["follower"]) for s in self.sleeves.values())

    def finish(self, date, close_of: Callable[[str], float]) -> None:
        for s in self.sleeves.values():
            t = s["open_trade"]
            if t is not None:
                price = close_of(s["follower"])
                t.update(
                    exit_date=date,
                    exit_price=price,
                    closed=False,
                    pnl=(price - t["entry_price"]) * s["shares"] - t["commission"],
                )
                self.trades.append(t)
                s["open_trade"] = None


def _period_table(
    plan: _Plan, equity: pd.Series, *, funding: Sequence | None = None, positions: pd.DataFrame | None = None
) -> pd.DataFrame:
    rows = []
    labels = _labels(plan.dates)
    eq = equity.to_numpy()
    live = [(k, st) for k, st in enumerate(plan.starts) if st is not None]
    # a position at a close: any pair's shares non-zero (positions are recorded after each close's fills)
    invested = (
        (positions.to_numpy(dtype="float64") != 0).any(axis=1)
        if positions is not None and positions.shape[1]
        else np.zeros(len(plan.dates), dtype=bool)
    )
    funding = list(funding) if funding is not None and len(funding) == len(live) else None
    prev: list = []
    prev_set: set = set()
    for j, (k, st) in enumerate(live):
        r = plan.rebalances[k]
        last = (live[j + 1][1] - 1) if j + 1 < len(live) else len(plan.dates) - 1
        keys = [h.key for h in r.pairs]
        keys_set = set(keys)  # membership by set: thousands of pairs a week in the S&P crash weeks
        v0, v1 = float(eq[st - 1]), float(eq[last])
        rows.append(
            {
                "asof": r.asof,
                "first_session": labels[st],
                "last_session": labels[last],
                "n_pairs": len(keys),
                "pairs": ";".join(f"{h.key}:{h.lag}" for h in r.pairs),
                "entered": ";".join(k2 for k2 in keys if k2 not in prev_set),
                "left": ";".join(k2 for k2 in prev if k2 not in keys_set),
                "kept": ";".join(k2 for k2 in keys if k2 in prev_set),
                "pnl": v1 - v0,
                "return": v1 / v0 - 1.0 if v0 > 0 else float("nan"),
            }
        )
        unfunded = [k2 for k2 in keys if k2 in set(funding[j])] if funding is not None else []
        rows[-1].update(
            unfunded=";".join(unfunded), n_unfunded=len(unfunded), in_cash=not bool(invested[st : last + 1].any())
        )
        prev, prev_set = keys, keys_set
    skipped = [plan.rebalances[k].asof for k, st in enumerate(plan.starts) if st is None]
    for a in skipped:
        rows.append(
            {
                "asof": a,
                "first_session": None,
                "last_session": None,
                "n_pairs": 0,
                "pairs": "",
                "entered": "",
                "left": "",
                "kept": "",
                "pnl": float("nan"),
                "return": float("nan"),
                "unfunded": "",
                "n_unfunded": 0,
                "in_cash": None,
            }
        )
    out = pd.DataFrame(rows)
    return out.sort_values("asof", kind="stable").reset_index(drop=True) if len(out) else out
