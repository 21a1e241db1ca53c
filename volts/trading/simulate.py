"""Trade a schedule of weekly selections: one stitched, daily, out-of-sample equity curve (issue 10).

A walk-forward re-selects pairs at a sequence of as-of dates. :func:`simulate_schedule` trades that sequence as one
portfolio, with two engines that implement the same rules:

* ``engine="vectorised"`` (default): the follower targets of every pair come at once, for every day, from
  :func:`volts.trading.signals.follower_positions`; a light loop of plain floats then books the fills and the daily value
  (no backtrader). Fast enough for hundreds of null-model draws over five years.
* ``engine="backtrader"``: the engine of record. One ``backtrader.Cerebro`` for the whole schedule; the strategy
  (:class:`SchedulePortfolio`) asks :func:`volts.trading.signals.next_session_target` at each close for the next session's
  target, from the leader closes known at that close, and the broker books the fills, commissions and the value.
  A test shows that both give the same daily equity to 1e-6 relative.

Timing (ARCHITECTURE.md, "Time semantics")
------------------------------------------
A bar is known after its close. The re-selection at ``asof`` saw bars up to ``asof``; its pairs trade from the
first session after ``asof`` ("a") up to the session before the first session after the next as-of date; the last
re-selection trades until ``end``. The follower position of a pair during session d is
``s_{d-lag}`` (:func:`volts.trading.signals.follower_positions`).

* ``execution="next_open"`` (default): every order for session d is decided at the close of d-1 and fills at the
  open of d. At a re-selection, the pairs that leave are closed at the open of "a", the pairs that enter open at
  the same open.
* ``execution="close"``: the orders for session d fill at the close of d-1, i.e. at the close the signal was read
  from (and, at a re-selection, at the as-of close the selection saw). Optimistic by construction: every output
  carries ``optimistic = True``.

Capital: sleeves
----------------
Each held pair (keyed by leader and follower) has a sleeve: its own cash and its follower shares; it never borrows
from another. The portfolio's value is the sum of the sleeves plus the unallocated cash ("pool").

* At the first re-selection the whole capital is the pool.
* At each re-selection, a pair that is selected again keeps its sleeve untouched: same shares, same cash, no order
  (a new lag, if the selection changed it, applies from the next session on). A pair that leaves is closed at the
  re-selection's fill (above) and its cash returns to the pool. The pool is then split equally among the pairs that
  enter; if none enters, it waits in cash until a later re-selection brings one.
* Hence the split is exactly equal whenever the whole set changes (in particular after a week in cash), and a
  continuing pair is never resized (resizing would be a trade, which the rule forbids). When the continuing
  pairs hold all the capital (nothing left, so the pool is empty), an entering pair gets a sleeve with no cash.
  It cannot trade, and it stays unfunded for as long as it is re-selected: a pool refilled later by leavers goes
  to the pairs that enter then, never to a sleeve already held. Such a pair is selected but holds nothing. The
  result says so: an ``unfunded_entry`` event per entry, and per period the pairs held without the cash to place
  an order (``unfunded``, ``n_unfunded`` of ``periods``; the same check also catches a sleeve whose cash fell
  below the fixed commission) and whether the portfolio held no position at any close of the period
  (``in_cash``). :func:`funding_summary` counts them (unfunded pair-weeks, weeks fully in cash).
* A week with no pair holds the whole portfolio in cash.

Sizing (fractional shares) and costs
------------------------------------
A sleeve trades only when its target sign differs from the sign it holds: it closes the position (one order) and,
for a non-zero target, opens a new one with all its equity (a second order). The new position is
``n = (E - fixed) / (P * (1 + rate)) * (1 - 1e-9)`` shares, fractional, where E is the sleeve's cash after the
close, P the fill price and ``fixed``/``rate`` the cost model (below); the 1e-9 keeps the cash of a long sleeve
non-negative through floating-point rounding. A short sale credits its proceeds to the sleeve's cash. Fractional
shares make the two engines agree exactly (no rounding rule to mirror) and are what a notional order at a broker
that offers fractional shares does; with a five- or six-figure sleeve, whole shares would change the value by
less than one share's price. No leverage: a long never costs more than the sleeve's cash.

Every order pays ``fixed + rate * |shares * P|``, with ``fixed = costs.commission`` (USD) and ``rate =
costs.commission_pct + (costs.slippage_bps + costs.half_spread_bps) / 1e4`` (a fraction per side); fills are at
the open (or close) itself and the costs are booked as cash. ``cost_bps`` replaces the whole cost model by a
proportional cost of ``cost_bps`` per side and no fixed commission: the 0/5/10/25 bps table, without re-running
the selection.

Benchmarks (same days, same starting capital, same cost model)
--------------------------------------------------------------
* ``followers_buy_and_hold``: the same sleeves and the same weekly changes as the strategy, each holding its
  follower long the whole time (same pool rule, same costs);
* ``universe_equal_weight``: the universe's symbols bought in equal parts at the first fill and held;
* ``spy``: SPY bought at the first fill and held, over the days SPY covers (NaN after its last bar).

Source: issue 10 of the project; METHOD.md §6-7 for the signal and the buy-and-hold rule.
"""

from __future__ import annotations

import datetime as dt
import math
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import pandas as pd

from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError
from volts.trading.signals import MODES, _check_params, next_session_target, trend_signal

__all__ = ["Holding", "Rebalance", "CostModel", "SimulationResult", "simulate_schedule", "cost_table", "load_spy",
           "spy_path", "funding_summary", "ENGINES", "EXECUTIONS", "BENCHMARKS", "HAIRCUT"]

ENGINES: tuple[str, ...] = ("vectorised", "backtrader")
EXECUTIONS: tuple[str, ...] = ("next_open", "close")
BENCHMARKS: tuple[str, ...] = ("followers_buy_and_hold", "universe_equal_weight", "spy")
HAIRCUT = 1e-9  # fraction of a sleeve's cash left unspent by an opening order (floating-point safety)
FILL_COLUMNS = ["date", "pair", "leader", "follower", "lag", "role", "side", "shares", "price", "value",
                "commission"]
TRADE_COLUMNS = ["pair", "leader", "follower", "lag", "side", "shares", "entry_date", "entry_price", "exit_date",
                 "exit_price", "commission", "pnl", "closed"]


# ------------------------------------------------------------------------------------------------ schedule
@dataclass(frozen=True)
class Holding:
    """One ordered pair held during one re-selection period.

    Attributes
    ----------
    leader, follower : str
        Symbols of the market data; the follower is traded on the leader's trend.
    lag : int
        tau >= 1, trading days (METHOD.md §5-6).
    """

    leader: str
    follower: str
    lag: int

    def __post_init__(self) -> None:
        if isinstance(self.lag, bool) or not isinstance(self.lag, (int, np.integer)) or self.lag < 1:
            raise ConfigError(f"{self.leader}->{self.follower}: lag must be an integer >= 1 (got {self.lag!r})")
        if self.leader == self.follower:
            raise ConfigError(f"{self.leader}->{self.follower}: leader and follower must differ")

    @property
    def key(self) -> str:
        """Sleeve key ``"LEADER->FOLLOWER"`` (the lag is not part of it: a re-selected pair keeps its sleeve)."""
        return f"{self.leader}->{self.follower}"


@dataclass(frozen=True)
class Rebalance:
    """One re-selection.

    Attributes
    ----------
    asof : datetime.date
        Last session whose bars the selection saw.
    pairs : tuple of Holding
        Pairs to hold until the next re-selection; empty = the period is held in cash.
    """

    asof: dt.date
    pairs: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "asof", pd.Timestamp(self.asof).date())
        object.__setattr__(self, "pairs", tuple(self.pairs))
        keys = [p.key for p in self.pairs]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"re-selection {self.asof}: a pair appears twice ({', '.join(keys)})")


@dataclass(frozen=True)
class CostModel:
    """Capital and the cost of one order: ``fixed + rate * |value|``.

    Attributes
    ----------
    capital : float
        Starting cash of the portfolio (USD).
    fixed : float
        USD per order.
    rate : float
        Fraction of the traded value per order (commission_pct + slippage + half-spread).
    """

    capital: float
    fixed: float
    rate: float

    @classmethod
    def from_settings(cls, settings, cost_bps: float | None = None) -> "CostModel":
        """The ``[costs]`` section; ``cost_bps`` replaces every cost by ``cost_bps`` bps per side, no fixed fee."""
        c = settings.costs
        if cost_bps is not None:
            if not (cost_bps >= 0) or not math.isfinite(cost_bps):
                raise ConfigError(f"cost_bps must be a finite number >= 0 (got {cost_bps!r})")
            return cls(capital=float(c.capital), fixed=0.0, rate=float(cost_bps) / 1e4)
        return cls(capital=float(c.capital), fixed=float(c.commission),
                   rate=float(c.commission_pct) + (float(c.slippage_bps) + float(c.half_spread_bps)) / 1e4)

    def commission(self, value: float) -> float:
        """Cost of an order of absolute value ``value`` (0 for an empty order)."""
        return self.fixed + self.rate * value if value > 0 else 0.0

    def to_dict(self) -> dict:
        return {"capital": self.capital, "fixed": self.fixed, "rate": self.rate, "rate_bps": self.rate * 1e4}


# ------------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Outcome of :func:`simulate_schedule`.

    Attributes
    ----------
    equity : pandas.Series, shape (n_days,)
        Portfolio value (USD) at each close, from the close of the first as-of session (the capital, before any
        trade) to ``end``; DatetimeIndex.
    trades : pandas.DataFrame
        One row per round trip: ``TRADE_COLUMNS`` (pnl net of both orders' costs; ``closed`` False for a position
        still open at the end, marked to market at the last close without an exit cost).
    fills : pandas.DataFrame
        One row per order: ``FILL_COLUMNS`` (shares signed, + buy; value = |shares| * price; commission = its cost).
    positions : pandas.DataFrame, shape (n_days, n_pairs)
        Signed follower shares per pair key held at each close, after that close's fills.
    turnover_value : pandas.Series, shape (n_days,)
        USD traded per day (sum of |shares| * price of the day's fills).
    benchmarks : dict of str -> pandas.Series
        Daily value of ``BENCHMARKS`` on the same index (SPY: NaN beyond its data; absent without SPY bars).
    periods : pandas.DataFrame
        One row per re-selection: asof, first/last session, pairs, entered, left, kept, pnl (USD) and return of the
        portfolio from the close before its first session to the close of its last (NaN for a period with no
        session); ``unfunded`` (";"-joined keys of the pairs held without the cash to place an order after the
        re-selection's fills), ``n_unfunded`` and ``in_cash`` (True when no position was held at any close of the
        period: no pair, every pair unfunded, or every signal flat). With ``execution="close"`` the re-selection's own fills happen at that first close, so their
        costs fall in the previous period's row.
    engine, execution, mode : str
    optimistic : bool
        True for ``execution="close"``.
    costs : CostModel
    events : tuple of dict
        ``no_affordable_shares`` (a sleeve whose cash no longer pays for an order; logged once, it stays flat),
        ``unfunded_entry`` (an entrant with an empty pool), ``spy_benchmark_omitted`` (SPY lacks a session of the
        span) and, backtrader only, ``broker_<status>`` (an order the broker refused; none is expected).
    """

    equity: pd.Series
    trades: pd.DataFrame
    fills: pd.DataFrame
    positions: pd.DataFrame
    turnover_value: pd.Series
    benchmarks: dict
    periods: pd.DataFrame
    engine: str
    execution: str
    mode: str
    optimistic: bool
    costs: CostModel
    events: tuple = field(default=(), repr=False)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """CSV-ready frames: ``equity`` (date, strategy, each benchmark), ``trades``, ``fills``, ``positions``,
        ``periods``. Every frame carries ``attrs`` execution / optimistic / engine.

        ``positions`` is long: one row (date, pair, shares) per pair and day with a non-zero holding, by date then
        in the order pairs first appeared. The wide table (a column per pair ever held) grows with days x pairs:
        15.9 MB, nearly all zeros, for 69 S&P weeks whose pairs number thousands.
        """
        eq = pd.DataFrame({"strategy": self.equity, **self.benchmarks})
        eq["turnover_value"] = self.turnover_value
        eq.index.name = "date"
        wide = self.positions
        if wide.shape[1]:
            values = wide.to_numpy(dtype="float64")
            day, col = np.nonzero(values)
            positions = pd.DataFrame({"date": wide.index[day], "pair": wide.columns[col].astype(str),
                                      "shares": values[day, col]})
        else:
            positions = pd.DataFrame({"date": pd.DatetimeIndex([]), "pair": pd.Series([], dtype=str),
                                      "shares": pd.Series([], dtype="float64")})
        out = {"equity": eq.reset_index(), "trades": self.trades.copy(), "fills": self.fills.copy(),
               "positions": positions, "periods": self.periods.copy()}
        for df in out.values():
            df.attrs.update(engine=self.engine, execution=self.execution, optimistic=self.optimistic)
            if self.optimistic:
                df["optimistic"] = True
        return out


# --------------------------------------------------------------------------------------------- planning
@dataclass
class _Plan:
    dates: pd.DatetimeIndex          # sessions s0 .. e (s0 = last session <= first asof)
    starts: list                     # per period: index into dates of its first session (None if empty)
    rebalances: list                 # the schedule, sorted
    lo: int                          # index in the market of dates[0]


def _plan(market: MarketData, schedule: Sequence[Rebalance], end) -> _Plan:
    if not schedule:
        raise ConfigError("simulate_schedule needs at least one re-selection")
    rebs = sorted(schedule, key=lambda r: r.asof)
    asofs = [r.asof for r in rebs]
    if len(set(asofs)) != len(asofs):
        raise ConfigError("two re-selections share an as-of date")
    mdates = market.dates
    end_ts = pd.Timestamp(end)
    e = int(mdates.searchsorted(end_ts, side="right")) - 1
    s0 = int(mdates.searchsorted(pd.Timestamp(asofs[0]), side="right")) - 1
    if s0 < 0:
        raise DataError(f"first as-of date {asofs[0]}: no session on or before it in the market data "
                        f"(data start {mdates[0].date()}); load bars from before the first re-selection")
    if e <= s0:
        raise DataError(f"end {end_ts.date()}: no session after the first as-of date {asofs[0]} "
                        f"(data end {mdates[-1].date()}); choose a later end")
    starts = []
    for a in asofs:
        i = int(mdates.searchsorted(pd.Timestamp(a), side="right"))  # first session after asof
        starts.append(i - s0 if i <= e else None)
    # a period whose first session equals the next period's is empty: the later re-selection takes over
    for k in range(len(starts) - 1):
        if starts[k] is not None and starts[k + 1] is not None and starts[k + 1] <= starts[k]:
            starts[k] = None
    return _Plan(dates=mdates[s0:e + 1], starts=starts, rebalances=rebs, lo=s0)


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
            sig = per_market[skey] = (stamp, trend_signal(close, ma_window=int(ma_window), mode=mode)
                                      .to_numpy().tolist())
        values, shift = sig[1], int(lag)
        hit = per_market[key] = (stamp, [0] * min(shift, len(values)) + values[:max(0, len(values) - shift)])
    return hit[1][plan.lo:plan.lo + len(plan.dates)]


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
        self.funding: list[list[str]] = []   # per rebalance call: keys held without the cash to place an order

    def _fill(self, s: dict, date, role: str, shares: float, price: float) -> float:
        value = abs(shares) * price
        comm = self.costs.commission(value)
        self.fills.append({"date": date, "pair": s["key"], "leader": s["leader"], "follower": s["follower"],
                           "lag": s["lag"], "role": role, "side": "buy" if shares > 0 else "sell",
                           "shares": shares, "price": price, "value": value, "commission": comm})
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
                self.events.append({"date": date, "pair": s["key"], "event": "no_affordable_shares",
                                    "cash": equity})
            s["bust"] = True
            return None
        n = budget / (price * (1.0 + self.costs.rate)) * (1.0 - HAIRCUT)
        shares = float(sign) * n
        comm = self._fill(s, date, "open", shares, price)
        s["cash"] -= shares * price + comm
        s["shares"] = shares
        s["sign"] = int(sign)
        s["open_trade"] = {"pair": s["key"], "leader": s["leader"], "follower": s["follower"], "lag": s["lag"],
                           "side": "long" if sign > 0 else "short", "shares": n, "entry_date": date,
                           "entry_price": price, "exit_date": None, "exit_price": float("nan"),
                           "commission": comm, "pnl": float("nan"), "closed": False}
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
            self.sleeves[h.key] = {"key": h.key, "leader": h.leader, "follower": h.follower, "lag": int(h.lag),
                                   "cash": share, "shares": 0.0, "sign": 0, "open_trade": None}
        if entering:
            self.pool = 0.0
        self.funding.append([k for k, s in self.sleeves.items()
                             if s["shares"] == 0 and not (s["cash"] - self.costs.fixed > 0)])
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
                t.update(exit_date=date, exit_price=price, closed=False,
                         pnl=(price - t["entry_price"]) * s["shares"] - t["commission"])
                self.trades.append(t)
                s["open_trade"] = None


def _run_vectorised(market: MarketData, plan: _Plan, costs: CostModel, *, execution: str,
                    targets_of: Callable[[Holding], list]) -> tuple[_Book, np.ndarray, dict]:
    """The event loop over sessions; returns the book, the equity per session and the positions per key."""
    n = len(plan.dates)
    opens = market.open.iloc[plan.lo:plan.lo + n]
    closes = market.close.iloc[plan.lo:plan.lo + n]
    symbols = {h.follower for r in plan.rebalances for h in r.pairs}
    op = {s: opens[s].tolist() for s in symbols}
    cl = {s: closes[s].tolist() for s in symbols}
    dates = [d.date() for d in plan.dates]
    book = _Book(costs, costs.capital)
    equity = np.empty(n)
    held: dict[str, np.ndarray] = {}
    by_start = {st: k for k, st in enumerate(plan.starts) if st is not None}
    holdings: tuple = ()
    active: list = []
    equity[0] = costs.capital
    for d in range(1, n):
        fill_i = d if execution == "next_open" else d - 1   # session whose open/close the fills of d use
        book_i = d if execution == "next_open" else d - 1   # close whose equity includes those fills
        prices = op if execution == "next_open" else cl
        if d in by_start:
            holdings = plan.rebalances[by_start[d]].pairs
            book.rebalance(holdings, dates[fill_i], lambda s: prices[s["follower"]][fill_i])
            active = [(book.sleeves[h.key], targets_of(h), prices[h.follower]) for h in holdings]
        for s, tg, pr in active:
            t = tg[d]
            if t != s["sign"]:
                book.step(s, t, dates[fill_i], pr[fill_i])
        equity[book_i] = book.value(lambda sym: cl[sym][book_i])
        for key, s in book.sleeves.items():
            arr = held.get(key)
            if arr is None:
                arr = held[key] = np.zeros(n)
            arr[book_i] = s["shares"]
    if execution == "close":
        equity[n - 1] = book.value(lambda sym: cl[sym][n - 1])
        for key, s in book.sleeves.items():
            held[key][n - 1] = s["shares"]
    book.finish(dates[n - 1], lambda sym: cl[sym][n - 1])
    return book, equity, held


# ------------------------------------------------------------------------------------------ backtrader
def _run_backtrader(market: MarketData, plan: _Plan, costs: CostModel, *, execution: str, ma_window: int,
                    mode: str) -> tuple[_Book, np.ndarray, dict]:
    import backtrader as bt

    from volts.trading.backtest import FixedPlusPercentCommission

    n = len(plan.dates)
    keys: dict[str, Holding] = {}
    for r in plan.rebalances:
        for h in r.pairs:
            keys.setdefault(h.key, h)
    if not keys:  # cash throughout: nothing for a broker to do
        return _Book(costs, costs.capital), np.full(n, costs.capital), {}
    leaders = sorted({h.leader for r in plan.rebalances for h in r.pairs})
    max_lag = max([h.lag for r in plan.rebalances for h in r.pairs], default=1)
    lo = max(0, plan.lo - (max_lag + ma_window + 1))
    hi = plan.lo + n

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=(execution == "next_open"), maxcpus=1)
    broker = cerebro.broker
    # The broker refuses any opening order while the account's cash is negative. The sleeve accounting forbids
    # leverage, but a sleeve that has lost everything pays the commission of its last (closing) order from the
    # portfolio, and all-in long sleeves leave only rounding-size cash: the account could dip below zero by that
    # commission and the broker would refuse an order the rules allow. A reserve equal to the capital is added to
    # the broker's cash and subtracted from every value read; a refusal that still happens is recorded as an event.
    reserve = float(costs.capital)
    broker.setcash(float(costs.capital) + reserve)
    broker.addcommissioninfo(FixedPlusPercentCommission(fixed=float(costs.fixed), pct=float(costs.rate)))
    broker.set_coc(execution == "close")
    broker.set_checksubmit(False)

    def feed(sym: str, name: str):
        df = market.bars(sym).iloc[lo:hi][["open", "high", "low", "close", "volume"]].astype(float)
        return bt.feeds.PandasData(dataname=df, name=name, openinterest=None)

    for sym in leaders:
        cerebro.adddata(feed(sym, "L:" + sym))
    for key, h in keys.items():  # one follower feed per sleeve: the broker position of a feed is one sleeve's
        cerebro.adddata(feed(h.follower, "F:" + key))
    starts = {plan.dates[st].date(): plan.rebalances[k].pairs for k, st in enumerate(plan.starts)
              if st is not None}
    cerebro.addstrategy(__getattr__("SchedulePortfolio"), starts=starts, first=plan.dates[0].date(), costs=costs,
                        execution=execution, ma_window=int(ma_window), mode=mode,
                        window=max_lag + int(ma_window), reserve=reserve)
    strat = cerebro.run(runonce=False, preload=True)[0]
    dates = [d.date() for d in plan.dates]
    equity = np.array([strat.equity_rec.get(d, np.nan) for d in dates])
    equity[0] = costs.capital if execution == "next_open" else equity[0]
    held = {k: np.array([v.get(d, 0.0) for d in dates]) for k, v in strat.held_rec.items()}
    book = strat.book
    last = len(plan.dates) - 1
    book.finish(dates[last], lambda sym: float(market.close[sym].iloc[plan.lo + last]))
    return book, equity, held


def _make_schedule_strategy():
    import backtrader as bt

    class _SchedulePortfolio(bt.Strategy):
        """backtrader strategy of :func:`simulate_schedule` (engine of record); see the module docstring.

        Feeds ``L:<leader>`` carry the leaders' bars (read at each close for the signal), feeds
        ``F:<LEADER->FOLLOWER>`` one follower per sleeve (orders). Orders for session d are sent in ``next_open``
        of d (cheat-on-open: they fill at that open; the targets were decided at the close of d-1) or, with
        ``execution="close"``, in ``next`` of d-1 (cheat-on-close: they fill at that close). The sleeve book
        (:class:`_Book`) sizes them; the broker books cash, commissions and value independently.
        """

        params = (("starts", None), ("first", None), ("costs", None), ("execution", "next_open"),
                  ("ma_window", 20), ("mode", "long_short"), ("window", 30), ("reserve", 0.0))

        def __init__(self) -> None:
            self.lead = {d._name[2:]: d for d in self.datas if d._name.startswith("L:")}
            self.foll = {d._name[2:]: d for d in self.datas if d._name.startswith("F:")}
            self.closes = {s: deque(maxlen=self.p.window) for s in self.lead}
            self.dates = {s: deque(maxlen=self.p.window) for s in self.lead}
            self.book = _Book(self.p.costs, self.p.costs.capital)
            self.holdings: tuple = ()
            self.pending: dict[str, int] = {}   # key -> target for the next session
            self.equity_rec: dict = {}
            self.held_rec: dict = {}
            self.started = False

        def _known(self, sym: str) -> pd.Series:
            return pd.Series(np.fromiter(self.closes[sym], dtype="float64"),
                             index=pd.DatetimeIndex(np.array(self.dates[sym], dtype="datetime64[D]")))

        def _act(self, day: dt.date, price_of: Callable[[str], float]) -> None:
            """Fills of the session that starts at this open (next_open) or after this close (close)."""
            if self.p.execution == "next_open":
                session = day
            else:
                session = self._next_session
            if session in self.p.starts:
                self.holdings = self.p.starts[session]
                self.started = True
                for key, traded in self.book.rebalance(self.holdings, day, lambda s: price_of(s["key"])):
                    self._order(key, traded)
            if not self.started:
                return
            for h in self.holdings:
                s = self.book.sleeves[h.key]
                target = self.pending.get(h.key, 0)
                for traded in self.book.step(s, target, day, price_of(h.key)):
                    self._order(h.key, traded)

        def _order(self, key: str, shares: float) -> None:
            data = self.foll[key]
            (self.buy if shares > 0 else self.sell)(data=data, size=abs(shares))

        def _decide(self, session_holdings) -> None:
            # targets for the next session, from the leader closes known at this close
            self.pending = {}
            for h in session_holdings:
                known = self._known(h.leader)
                self.pending[h.key] = int(next_session_target(known, lag=int(h.lag), ma_window=self.p.ma_window,
                                                              mode=self.p.mode))

        def notify_order(self, order) -> None:
            if order.status in (order.Margin, order.Rejected, order.Canceled):
                self.book.events.append({"date": self.datas[0].datetime.date(0), "pair": order.data._name[2:],
                                         "event": "broker_" + order.getstatusname().lower(),
                                         "size": float(order.size)})

        def _record(self, day: dt.date, value: float, price_ago: int) -> None:
            if day < self.p.first:
                return
            self.equity_rec[day] = value - self.p.reserve
            for key, s in self.book.sleeves.items():
                self.held_rec.setdefault(key, {})[day] = s["shares"]

        def next_open(self) -> None:
            if self.p.execution != "next_open":
                return
            day = self.datas[0].datetime.date(0)
            if day <= self.p.first:
                return
            self._act(day, lambda key: float(self.foll[key].open[0]))

        def prenext_open(self) -> None:
            self.next_open()

        def nextstart_open(self) -> None:
            self.next_open()

        def next(self) -> None:
            day = self.datas[0].datetime.date(0)
            for sym, d in self.lead.items():
                self.closes[sym].append(float(d.close[0]))
                self.dates[sym].append(day)
            if self.p.execution == "next_open":
                self._record(day, float(self.broker.getvalue()), 0)
            else:
                # yesterday's cheat-on-close fills were booked at the start of this bar: value them at yesterday's
                # close
                if len(self.datas[0]) > 1:
                    prev = self.datas[0].datetime.date(-1)
                    value = float(self.broker.getcash()) + sum(
                        float(self.getposition(d).size) * float(d.close[-1]) for d in self.foll.values())
                    self._record(prev, value, 1)
            # which holdings trade in the next session?
            nxt = self._session_after(day)
            if nxt is None:
                return
            hold = self.p.starts.get(nxt, self.holdings if self.started else None)
            if hold is None:
                return
            self._decide(hold)
            if self.p.execution == "close" and day >= self.p.first:
                self._next_session = nxt
                self._act(day, lambda key: float(self.foll[key].close[0]))

        def _session_after(self, day: dt.date):
            d = self.datas[0]
            if len(d) >= d.buflen():
                return None
            return d.datetime.date(1)

        def stop(self) -> None:
            if self.p.execution == "close":
                day = self.datas[0].datetime.date(0)
                self._record(day, float(self.broker.getvalue()), 0)

    return _SchedulePortfolio


class _LazyStrategy:
    cls = None


def __getattr__(name: str):  # SchedulePortfolio is built on first use (backtrader import is not free)
    if name == "SchedulePortfolio":
        if _LazyStrategy.cls is None:
            _LazyStrategy.cls = _make_schedule_strategy()
        return _LazyStrategy.cls
    raise AttributeError(name)


# ----------------------------------------------------------------------------------------------- SPY
def spy_path(settings, symbol: str = "SPY") -> Path:
    """Where the SPY benchmark's bars are read: ``[data] spy_file``, else ``<symbol>.csv`` in ``[data] dir``."""
    from volts.data.csv import symbol_file

    if settings.data.spy_file:
        return Path(settings.data.spy_file).expanduser()
    return Path(symbol_file(settings.data.dir, symbol, settings.data.csv))


def load_spy(settings, symbol: str = "SPY", *, start=None, end=None) -> pd.DataFrame | None:
    """SPY's daily bars from :func:`spy_path`, validated like every other series (None when the file is absent).

    The bars go through :func:`volts.data.validate.validate_bars` with the ``[data]`` policies (``on_invalid``,
    ``max_abs_return``, ``return_jump``, ``calendar``, ``max_range_multiple``) over ``[start, end]``: a close
    x1000 or a negative close stops the run with a data error naming the file, the date and the rule, or under
    ``on_invalid = "drop"`` the row is dropped and reported (``report`` in ``attrs``).

    Parameters
    ----------
    settings : Settings
    symbol : str, default "SPY"
    start, end : date-like, optional
        The span the benchmark covers (both inclusive); rows outside it are not checked (the window policy of
        :mod:`volts.data.validate`). None = the whole file.

    Returns
    -------
    pandas.DataFrame or None
        Columns open, high, low, close, volume; DatetimeIndex; ``attrs["report"]`` = the
        :class:`~volts.data.validate.ValidationReport`. An empty frame when the file has no row in the span.

    Raises
    ------
    DataError
        ``[data] spy_file`` is set but names no file (a configured benchmark is never dropped silently); the file
        cannot be read; a bar breaks a rule under ``on_invalid = "error"`` (or a ``return_jump`` under
        ``return_jump = "error"``).
    """
    from volts.data.csv import read_csv_bars
    from volts.data.validate import validate_bars

    path = spy_path(settings, symbol)
    if not path.is_file():
        if settings.data.spy_file:
            raise DataError(f"{path}: [data] spy_file names no file; fix the path or remove the key (the SPY "
                            f"benchmark is then read from SPY.csv in [data] dir, if there is one)")
        return None
    d = settings.data
    raw = read_csv_bars(path, symbol, d.csv)
    try:
        market = validate_bars({symbol: raw}, sources={symbol: str(path)}, start=start, end=end,
                               on_invalid=d.on_invalid, missing="error", max_abs_return=d.max_abs_return,
                               return_jump=d.return_jump, calendar=d.calendar or None,
                               max_range_multiple=d.max_range_multiple)
    except DataError as exc:
        if getattr(exc, "rule", None) == "no_rows_in_window":   # SPY's file ends before the span: no benchmark
            empty = pd.DataFrame(columns=["open", "high", "low", "close", "volume"], dtype=float,
                                 index=pd.DatetimeIndex([], name="date"))
            return empty
        raise DataError(f"SPY benchmark: {exc}") from None
    bars = market.bars(symbol)
    bars.attrs["report"] = market.report
    return bars


def _spy_findings(events: list, spy: pd.DataFrame | None) -> None:
    """Append an ``spy_bar_dropped`` / ``spy_bar_flagged`` event per row validation dropped or flagged in SPY."""
    report = spy.attrs.get("report") if spy is not None else None
    if report is None:
        return
    from volts.data.validate import OUTSIDE_NOTE

    for p in report.problems:
        if p.action in ("dropped", "flagged") and OUTSIDE_NOTE not in p.message:
            events.append({"date": p.date, "pair": "SPY", "event": f"spy_bar_{p.action}", "file": p.file,
                           "rule": p.rule, "reason": p.message})


def _hold_curve(opens: pd.DataFrame, closes: pd.DataFrame, first_fill: int, execution: str,
                costs: CostModel) -> pd.Series:
    """Equal parts of the capital in each column, bought at the first fill and held; value at each close."""
    n_sym = opens.shape[1]
    part = costs.capital / n_sym
    price = (opens.iloc[first_fill] if execution == "next_open" else closes.iloc[first_fill]).to_numpy(float)
    budget = part - costs.fixed
    shares = np.where(budget > 0, budget / (price * (1.0 + costs.rate)) * (1.0 - HAIRCUT), 0.0)
    spent = shares * price + np.where(shares > 0, costs.fixed + costs.rate * shares * price, 0.0)
    cash = costs.capital - spent.sum()
    values = closes.to_numpy(float) @ shares + cash
    out = pd.Series(values, index=closes.index)
    book_i = first_fill  # equity of the fill's close includes it
    out.iloc[:book_i] = costs.capital
    return out


# ---------------------------------------------------------------------------------------------- driver
def simulate_schedule(market: MarketData, schedule: Sequence[Rebalance], *, end, settings,
                      engine: Literal["vectorised", "backtrader"] = "vectorised", cost_bps: float | None = None,
                      universe: Sequence[str] | None = None, spy: pd.DataFrame | None | bool = None,
                      execution: str | None = None, mode: str | None = None,
                      benchmarks: bool = True) -> SimulationResult:
    """Trade a schedule of re-selections as one portfolio; daily equity, trades and benchmarks.

    Parameters
    ----------
    market : MarketData
        Bars of every leader, follower and universe symbol, from at least ``lag + ma_window`` sessions before the
        first as-of date (earlier sessions give flat targets) through ``end``.
    schedule : sequence of Rebalance
        The re-selections (sorted here by as-of date).
    end : date-like
        Last session traded (inclusive).
    settings : volts.core.config.Settings
        ``strategy`` (ma_window, mode, execution) and ``costs`` (capital, commission, commission_pct,
        slippage_bps, half_spread_bps).
    engine : {"vectorised", "backtrader"}, default "vectorised"
    cost_bps : float or None
        Replace every cost by ``cost_bps`` bps of value per side and no fixed commission.
    universe : sequence of str or None
        Symbols of the equal-weight benchmark; default ``settings.data.universe`` that the market holds.
    spy : DataFrame, None or False
        SPY's bars; None = :func:`load_spy` from ``settings.data.dir``; False = no SPY benchmark.
    execution, mode : str or None
        Override ``settings.strategy.execution`` / ``.mode``.
    benchmarks : bool, default True
        False skips the benchmarks (null-model draws).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError
        Empty schedule, duplicate as-of dates or pairs, unknown engine/execution/mode, bad cost_bps.
    DataError
        A symbol is missing from the market data, or no session lies between the first as-of date and ``end``.

    Notes
    -----
    Rules in the module docstring (timing, sleeves, sizing, costs, benchmarks). Source: issue 10; METHOD.md §6.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES} (got {engine!r})")
    execution = execution or settings.strategy.execution
    mode = mode or settings.strategy.mode
    if execution not in EXECUTIONS:
        raise ConfigError(f"execution must be one of {EXECUTIONS} (got {execution!r})")
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES} (got {mode!r})")
    ma_window = int(settings.strategy.ma_window)
    costs = CostModel.from_settings(settings, cost_bps)
    plan = _plan(market, schedule, end)
    needed = sorted({s for r in plan.rebalances for h in r.pairs for s in (h.leader, h.follower)})
    missing = [s for s in needed if s not in market.symbols]
    if missing:
        raise DataError(f"{', '.join(missing)}: symbol of the schedule not in the market data; load it or drop "
                        "the pair")

    if engine == "vectorised":
        local: dict = {}

        def targets_of(h: Holding) -> list:
            key = (h.leader, h.lag)
            if key not in local:  # once per (leader, lag) and call: a column lookup costs more than a week
                local[key] = _targets(market, plan, h.leader, h.lag, ma_window, mode)
            return local[key]
        book, equity, held = _run_vectorised(market, plan, costs, execution=execution, targets_of=targets_of)
    else:
        book, equity, held = _run_backtrader(market, plan, costs, execution=execution, ma_window=ma_window,
                                             mode=mode)
    index = plan.dates
    equity_s = pd.Series(equity, index=index, name="strategy")
    fills = pd.DataFrame.from_records(book.fills, columns=FILL_COLUMNS)
    trades = pd.DataFrame.from_records(book.trades, columns=TRADE_COLUMNS)
    for df, cols in ((fills, ["date"]), (trades, ["entry_date", "exit_date"])):
        for c in cols:
            df[c] = pd.to_datetime(df[c])
    if len(trades):
        trades = trades.sort_values(["entry_date", "pair"], kind="stable").reset_index(drop=True)
    positions = pd.DataFrame(held, index=index) if held else pd.DataFrame(index=index)
    turnover = fills.groupby("date")["value"].sum().reindex(index, fill_value=0.0) if len(fills) else \
        pd.Series(0.0, index=index)
    turnover.name = "turnover_value"

    bench: dict[str, pd.Series] = {}
    first_fill = next(st for st in plan.starts if st is not None) if any(
        st is not None for st in plan.starts) else None
    if benchmarks and first_fill is not None:
        fill_i = first_fill if execution == "next_open" else first_fill - 1
        # followers' buy-and-hold: the same sleeves and changes, every target +1
        ones = [1] * len(index)
        b_book, b_eq, _ = _run_vectorised(market, plan, costs, execution=execution, targets_of=lambda h: ones)
        bench["followers_buy_and_hold"] = pd.Series(b_eq, index=index)
        uni = [s for s in (universe if universe is not None else settings.data.universe) if s in market.symbols]
        if uni:
            sl = slice(plan.lo, plan.lo + len(index))
            bench["universe_equal_weight"] = _hold_curve(market.open[uni].iloc[sl], market.close[uni].iloc[sl],
                                                         fill_i, execution, costs)
        if spy is None:
            spy = load_spy(settings, start=index[0] - pd.Timedelta(days=10), end=index[-1])
            _spy_findings(book.events, spy)
            if spy is None:
                book.events.append({"date": None, "pair": "SPY", "event": "spy_benchmark_omitted",
                                    "reason": f"no SPY file at {spy_path(settings)}; set [data] spy_file to a CSV "
                                              f"of SPY's daily bars"})
        if spy is not None and spy is not False:
            o = spy["open"].reindex(index)
            c = spy["close"].reindex(index)
            covered = c.notna() & o.notna()
            last = int(np.flatnonzero(covered.to_numpy())[-1]) if covered.any() else -1
            if last > fill_i and covered.iloc[:last + 1].all():
                curve = _hold_curve(o.iloc[:last + 1].to_frame("SPY"), c.iloc[:last + 1].to_frame("SPY"),
                                    fill_i, execution, costs)
                bench["spy"] = curve.reindex(index)
            else:
                missing = index[:max(last, fill_i) + 1][~covered.iloc[:max(last, fill_i) + 1].to_numpy()]
                first_gap = missing[0].date() if len(missing) else None
                why = "SPY has no bar on a session of the span (first missing shown)"
                if first_gap is None and last == len(index) - 1:   # nothing to hold after the first fill
                    why = f"no session after the benchmark's first fill {index[fill_i].date()}"
                elif first_gap is None:   # every session up to its last bar is there: SPY ends too early
                    why = (f"SPY's bars end on {index[last].date()}, at or before the benchmark's first fill "
                           f"{index[fill_i].date()}" if last >= 0 else "SPY has no bar in the span")
                if first_gap is not None and any(e.get("event") == "spy_bar_dropped"
                                                 and e.get("date") == first_gap.isoformat() for e in book.events):
                    why += "; its row of that date was dropped under data.on_invalid = 'drop'"
                book.events.append({"date": first_gap, "pair": "SPY", "event": "spy_benchmark_omitted",
                                    "reason": why})
        for k in bench:
            bench[k].name = k

    periods = _period_table(plan, equity_s, funding=book.funding, positions=positions)
    optimistic = execution == "close"
    for obj in (trades, fills, positions, periods):
        obj.attrs.update(engine=engine, execution=execution, optimistic=optimistic)
    return SimulationResult(equity=equity_s, trades=trades, fills=fills, positions=positions,
                            turnover_value=turnover, benchmarks=bench, periods=periods, engine=engine,
                            execution=execution, mode=mode, optimistic=optimistic, costs=costs,
                            events=tuple(book.events))


def _period_table(plan: _Plan, equity: pd.Series, *, funding: Sequence | None = None,
                  positions: pd.DataFrame | None = None) -> pd.DataFrame:
    rows = []
    eq = equity.to_numpy()
    live = [(k, st) for k, st in enumerate(plan.starts) if st is not None]
    # a position at a close: any pair's shares non-zero (positions are recorded after each close's fills)
    invested = (positions.to_numpy(dtype="float64") != 0).any(axis=1) if positions is not None and \
        positions.shape[1] else np.zeros(len(plan.dates), dtype=bool)
    funding = list(funding) if funding is not None and len(funding) == len(live) else None
    prev: list = []
    prev_set: set = set()
    for j, (k, st) in enumerate(live):
        r = plan.rebalances[k]
        last = (live[j + 1][1] - 1) if j + 1 < len(live) else len(plan.dates) - 1
        keys = [h.key for h in r.pairs]
        keys_set = set(keys)   # membership by set: thousands of pairs a week in the S&P crash weeks
        v0, v1 = float(eq[st - 1]), float(eq[last])
        rows.append({"asof": r.asof, "first_session": plan.dates[st].date(), "last_session": plan.dates[last].date(),
                     "n_pairs": len(keys), "pairs": ";".join(f"{h.key}:{h.lag}" for h in r.pairs),
                     "entered": ";".join(k2 for k2 in keys if k2 not in prev_set),
                     "left": ";".join(k2 for k2 in prev if k2 not in keys_set),
                     "kept": ";".join(k2 for k2 in keys if k2 in prev_set),
                     "pnl": v1 - v0, "return": v1 / v0 - 1.0 if v0 > 0 else float("nan")})
        unfunded = [k2 for k2 in keys if k2 in set(funding[j])] if funding is not None else []
        rows[-1].update(unfunded=";".join(unfunded), n_unfunded=len(unfunded),
                        in_cash=not bool(invested[st:last + 1].any()))
        prev, prev_set = keys, keys_set
    skipped = [plan.rebalances[k].asof for k, st in enumerate(plan.starts) if st is None]
    for a in skipped:
        rows.append({"asof": a, "first_session": None, "last_session": None, "n_pairs": 0, "pairs": "",
                     "entered": "", "left": "", "kept": "", "pnl": float("nan"), "return": float("nan"),
                     "unfunded": "", "n_unfunded": 0, "in_cash": None})
    out = pd.DataFrame(rows)
    return out.sort_values("asof", kind="stable").reset_index(drop=True) if len(out) else out


def funding_summary(periods: pd.DataFrame) -> dict:
    """What the capital rule left unfunded: counts and the list, from :attr:`SimulationResult.periods`.

    Parameters
    ----------
    periods : pandas.DataFrame
        ``SimulationResult.periods`` (columns ``asof``, ``n_pairs``, ``unfunded``, ``n_unfunded``, ``in_cash``).

    Returns
    -------
    dict
        ``rule`` (one sentence), ``periods`` (re-selections traded), ``pair_weeks`` (pairs held summed over the
        periods), ``unfunded_pair_weeks`` (pairs held without the cash to place an order, summed over the periods:
        a pair unfunded for three weeks counts three times), ``unfunded_entries`` (of those, the weeks the pair
        entered),
        ``weeks_with_unfunded_pairs``, ``weeks_fully_in_cash`` (no position at any close of the period, for any
        reason), ``weeks_in_cash_with_pairs`` (of those, the ones whose selection had pairs), and ``unfunded``: one
        ``{"asof", "pairs", "unfunded"}`` per period with an unfunded pair (``pairs`` = pairs selected,
        ``unfunded`` = their keys). Rule in the module docstring ("Capital: sleeves").
    """
    live = periods[periods["first_session"].notna()] if len(periods) else periods
    if not len(live) or "n_unfunded" not in live:
        return {"rule": FUNDING_RULE, "periods": int(len(live)), "pair_weeks": 0, "unfunded_pair_weeks": 0,
                "unfunded_entries": 0,
                "weeks_with_unfunded_pairs": 0, "weeks_fully_in_cash": 0, "weeks_in_cash_with_pairs": 0,
                "unfunded": []}
    n_unf = live["n_unfunded"].astype(int)
    cash = live["in_cash"].astype(bool)
    entries = sum(len(set(str(u).split(";")) & set(str(e).split(";")) - {""})
                  for u, e in zip(live["unfunded"], live["entered"]))
    listed = [{"asof": pd.Timestamp(r["asof"]).date().isoformat(), "pairs": int(r["n_pairs"]),
               "unfunded": [k for k in str(r["unfunded"]).split(";") if k]}
              for _, r in live[n_unf > 0].iterrows()]
    return {"rule": FUNDING_RULE, "periods": int(len(live)), "pair_weeks": int(live["n_pairs"].sum()),
            "unfunded_pair_weeks": int(n_unf.sum()), "unfunded_entries": int(entries),
            "weeks_with_unfunded_pairs": int((n_unf > 0).sum()),
            "weeks_fully_in_cash": int(cash.sum()),
            "weeks_in_cash_with_pairs": int((cash & (live["n_pairs"] > 0)).sum()), "unfunded": listed}


#: The capital rule in one sentence (metrics.json, reports).
FUNDING_RULE = ("each pair has its own sleeve; a re-selected pair keeps its sleeve (never resized), a leaving pair's "
                "cash returns to a pool, and the pool is split equally among the pairs that enter; when the pairs "
                "kept hold all the capital, an entering pair gets no cash and stays unfunded while it is "
                "re-selected")


def cost_table(market: MarketData, schedule: Sequence[Rebalance], *, end, settings,
               bps: Sequence[float] = (0.0, 5.0, 10.0, 25.0), bootstrap_reps: int | None = None, seed: int = 0,
               **kwargs) -> pd.DataFrame:
    """The headline rows again at several proportional costs (issue 10's bps table), selection not re-run.

    Parameters
    ----------
    market, schedule, end, settings
        As :func:`simulate_schedule`.
    bps : sequence of float, default (0, 5, 10, 25)
        Cost per side in basis points; each level replaces every cost (no fixed commission).
    bootstrap_reps, seed
        As :func:`volts.trading.performance.performance_stats`.
    **kwargs
        Passed to :func:`simulate_schedule` (engine, universe, spy, execution, mode).

    Returns
    -------
    pandas.DataFrame
        :func:`volts.trading.performance.summary_table` of each level, stacked, with a ``cost_bps`` column; index
        ``curve``.
    """
    from volts.trading.performance import summary_table

    frames = []
    for level in bps:
        res = simulate_schedule(market, schedule, end=end, settings=settings, cost_bps=float(level), **kwargs)
        frames.append(summary_table(res, schedule, bootstrap_reps=bootstrap_reps, seed=seed,
                                    periods_per_year=int(settings.metrics.periods_per_year),
                                    risk_free=float(settings.metrics.risk_free)))
    return pd.concat(frames)
