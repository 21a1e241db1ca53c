"""``LeadLagTrend``: trade the follower of a pair on the leader's trend (METHOD.md §6).

One strategy instance per pair, with two data feeds: ``datas[0]`` = the leader, ``datas[1]`` = the follower (same
trading calendar). At each bar's ``next()`` (the close of day d) the strategy reads the leader closes known so far
(dates <= d), asks :func:`volts.trading.signals.next_session_target` for the position to hold in the next session, and
sends market orders to move the follower position there.

Execution
---------
* ``execution="next_open"`` (default): the broker fills the market orders at the open of the next bar (backtrader's
  default; no cheat-on-open, no cheat-on-close). The position held from the open of d+1 is s_{d+1-lag}.
* ``execution="close"``: the harness sets the broker's cheat-on-close (``set_coc(True)``), so the orders fill at
  the close of the decision bar d. That trades at a price that was only known at the instant of the decision:
  explicitly optimistic (see the "up up DOWN" note, seeds/002).

Sizing (all of the pair's equity, whole shares, compounding)
-------------------------------------------------------------
The position is sized only when it is opened (the sign of the target differs from the current sign); it is not
rebalanced daily, which would pay a commission on every bar. When opening, the target number of shares is the
largest whole n with ``n * P * (1 + slip) + commission(n) <= E``, where P is the decision close (the only price
known at the decision), ``slip`` the broker's slippage fraction and E the pair's equity at the close minus the
estimated cost (commission and slippage) of the order that first closes the current position. A next-open fill
can need more cash than that when the follower gaps up; the harness (``volts.trading.backtest``) then fills at the open
only the whole shares the cash covers (a broker "filler") and the remainder is cancelled: cash never goes
negative and there is no leverage. Short sales credit the cash (backtrader's ``shortcash``) and need no cap.

Flips
-----
Long -> short (or short -> long) is two orders in this sequence: one that closes the current position (a round
trip ends) and one that opens the new one (a new round trip starts). Each order pays the fixed commission.

Records
-------
``order_log`` (every order created: date, role, side, requested size), ``fills`` (every execution: date, role,
signed size, price, commission), ``held`` (date -> signed shares held during the session of that date, i.e.
after that day's fills at the open for next_open, after the previous close's fills for close) and ``equity``
(date -> value at that day's close, after every fill of that day). Records start at ``record_from``.

Cost per bar
------------
The default signal at the close of T reads only the closes of T+1-lag-(ma_window-1) .. T+1-lag, so the strategy
keeps a bounded window of the last ``lag + ma_window`` leader closes and hands only those to
:func:`volts.trading.signals.next_session_target`: the work of a bar does not grow with the length of the history (the
signal is the same, since it never depends on older closes). A custom ``target_fn`` still receives every close so
far.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from functools import partial
from typing import Any, Callable

import backtrader as bt
import numpy as np
import pandas as pd

from volts.trading.signals import next_session_target


def affordable_shares(cash: float, price: float, comminfo: Any) -> int:
    """Largest whole number of shares n with ``n * price + commission(n, price) <= cash``.

    Parameters
    ----------
    cash : float
        Money available (quote currency).
    price : float
        Price per share (> 0).
    comminfo : backtrader.CommInfoBase
        Gives ``getcommission(size, price)``, assumed non-decreasing in ``size``.

    Returns
    -------
    int
        n >= 0 (0 when not even one share plus its commission is affordable).
    """
    if not (price > 0) or not (cash > 0):
        return 0

    def cost(n: int) -> float:
        return n * price + comminfo.getcommission(n, price)

    lo, hi = 0, int(math.floor(cash / price))
    if hi > 0 and cost(hi) <= cash:
        return hi
    while hi - lo > 1:  # invariant: cost(lo) <= cash < cost(hi)  (cost(0) = 0)
        mid = (lo + hi) // 2
        if cost(mid) <= cash:
            lo = mid
        else:
            hi = mid
    return lo


class LeadLagTrend(bt.Strategy):
    """Trend-following pair strategy: trade the follower on the leader's SMA trend, ``lag`` sessions later.

    Parameters (backtrader ``params``)
    ----------------------------------
    lag : int
        tau >= 1 (METHOD.md §5-6).
    ma_window : int
        SMA length m of the leader's trend signal (default 20).
    mode : {"long_short", "long_only"}
        Below the SMA: short (-1) or flat (0).
    execution : {"next_open", "close"}
        Must match the broker: ``"close"`` requires ``broker.set_coc(True)``; it only changes when the equity of
        a day is read (after the fills at that close).
    trade_from, trade_until : datetime.date or None
        First and last bar (inclusive) at whose close orders may be sent. The harness sets them so that every
        fill falls inside the test window. None = no bound.
    record_from : datetime.date or None
        First date of the equity/position records (the first day of the test window).
    target_fn : callable or None
        ``f(leader_close: pd.Series) -> int`` giving the target sign for the next session from the closes known so
        far. None (default) = ``volts.trading.signals.next_session_target`` with ``lag``, ``ma_window``, ``mode``. Only
        tests plug in another signal (the "up up DOWN" reproduction); the order path is the same.

    Notes
    -----
    Source: METHOD.md §6; the paper's §2.3 "Trend Following".
    """

    params = (
        ("lag", 1),
        ("ma_window", 20),
        ("mode", "long_short"),
        ("execution", "next_open"),
        ("trade_from", None),
        ("trade_until", None),
        ("record_from", None),
        ("target_fn", None),
    )

    def __init__(self) -> None:
        if self.p.execution not in ("next_open", "close"):
            raise ValueError(f"execution must be 'next_open' or 'close' (got {self.p.execution!r})")
        if len(self.datas) < 2:
            raise ValueError("LeadLagTrend needs two data feeds: leader (datas[0]) and follower (datas[1])")
        self.leader = self.datas[0]
        self.follower = self.datas[1]
        if self.p.target_fn is None:
            self._target_fn: Callable[[pd.Series], int] = partial(
                next_session_target, lag=self.p.lag, ma_window=self.p.ma_window, mode=self.p.mode
            )
        else:
            self._target_fn = self.p.target_fn
        # Leader closes known so far. The default signal reads only the last ``lag + ma_window`` of them
        # (volts.trading.signals.next_session_target uses the closes of day T+1-lag and the ma_window - 1 before it), so a
        # bounded window keeps the cost of a bar constant however long the history is. A custom ``target_fn``
        # (tests) still sees every close so far.
        self._keep: int | None = (int(self.p.lag) + int(self.p.ma_window)) if self.p.target_fn is None else None
        self._dates: deque = deque(maxlen=self._keep)
        self._closes: deque = deque(maxlen=self._keep)
        self._seen = 0
        self.order_log: list[dict] = []
        self.fills: list[dict] = []
        self.held: dict[dt.date, int] = {}
        self.equity: dict[dt.date, float] = {}
        self.targets: dict[dt.date, int] = {}
        self.events: list[dict] = []  # cancelled remainders, margin calls

    # ----------------------------------------------------------------- helpers
    def _in_record(self, day: dt.date) -> bool:
        return self.p.record_from is None or day >= self.p.record_from

    def _may_trade(self, day: dt.date) -> bool:
        if self.p.trade_from is not None and day < self.p.trade_from:
            return False
        if self.p.trade_until is not None and day > self.p.trade_until:
            return False
        return True

    def _slip(self) -> float:
        return float(getattr(self.broker.p, "slip_perc", 0.0) or 0.0)

    def _cancel_stale_orders(self, day: dt.date) -> None:
        # every order is meant for the first session after its creation; what is left of it afterwards (a
        # remainder the cash did not cover) is cancelled
        for order in list(self.broker.get_orders_open()):
            if order.alive():
                self.events.append(
                    {
                        "date": day,
                        "event": "cancel_remainder",
                        "ref": order.ref,
                        "remaining": float(order.executed.remsize),
                    }
                )
                self.cancel(order)

    # ------------------------------------------------------------- backtrader
    def next(self) -> None:
        day = self.follower.datetime.date(0)
        self._cancel_stale_orders(day)
        size = int(self.getposition(self.follower).size)
        if self._in_record(day):
            self.held[day] = size
            if self.p.execution == "next_open":
                self.equity[day] = float(self.broker.getvalue())
        if self.p.execution == "close" and len(self.follower) > 1:
            prev = self.follower.datetime.date(-1)
            if self._in_record(prev):
                # yesterday's coc fills were booked by the broker at the start of today's bar; value them at
                # yesterday's close
                self.equity[prev] = float(self.broker.getcash()) + size * float(self.follower.close[-1])

        self._dates.append(self.leader.datetime.date(0))
        self._closes.append(float(self.leader.close[0]))
        self._seen += 1
        if self._seen != len(self.leader):  # every bar must pass through next(), none skipped
            raise RuntimeError(f"LeadLagTrend saw {self._seen} of {len(self.leader)} leader bars")
        if not self._may_trade(day):
            return
        known = pd.Series(
            np.fromiter(self._closes, dtype="float64", count=len(self._closes)),
            index=pd.DatetimeIndex(np.array(self._dates, dtype="datetime64[D]")),
            name=self.leader._name or None,
            copy=False,
        )
        target = int(self._target_fn(known))
        if target not in (-1, 0, 1):
            raise ValueError(f"target_fn returned {target!r}; expected -1, 0 or +1")
        self.targets[day] = target
        current = (size > 0) - (size < 0)
        if target == current:
            return
        price = float(self.follower.close[0])
        slip = self._slip()
        comminfo = self.broker.getcommissioninfo(self.follower)
        equity = float(self.broker.getvalue())
        if size != 0:
            close_cost = comminfo.getcommission(abs(size), price) + abs(size) * price * slip
            order = (self.sell if size > 0 else self.buy)(data=self.follower, size=abs(size))
            order.addinfo(role="close")
            self.order_log.append(
                {
                    "created": day,
                    "ref": order.ref,
                    "role": "close",
                    "side": "sell" if size > 0 else "buy",
                    "size": abs(size),
                }
            )
            equity -= close_cost
        if target != 0:
            n = affordable_shares(equity, price * (1.0 + slip), comminfo)
            if n > 0:
                order = (self.buy if target > 0 else self.sell)(data=self.follower, size=n)
                order.addinfo(role="open")
                self.order_log.append(
                    {
                        "created": day,
                        "ref": order.ref,
                        "role": "open",
                        "side": "buy" if target > 0 else "sell",
                        "size": n,
                    }
                )
            else:
                self.events.append({"date": day, "event": "no_affordable_shares", "equity": equity})

    def notify_order(self, order: bt.Order) -> None:
        record_fills(self, order)

    def stop(self) -> None:
        if self.p.execution == "close" and len(self.follower):
            last = self.follower.datetime.date(0)
            if self._in_record(last):
                self.equity[last] = float(self.broker.getvalue())


def record_fills(strategy: Any, order: bt.Order) -> None:
    """Append the new execution bits of ``order`` to ``strategy.fills`` (and broker refusals to ``events``)."""
    if order.status in (bt.Order.Partial, bt.Order.Completed, bt.Order.Canceled):
        role = order.info.get("role", "")
        for bit in order.executed.iterpending():
            strategy.fills.append(
                {
                    "date": bt.num2date(bit.dt).date(),
                    "ref": order.ref,
                    "role": role,
                    "size": float(bit.size),
                    "price": float(bit.price),
                    "commission": float(bit.closedcomm + bit.openedcomm),
                }
            )
    if order.status in (bt.Order.Margin, bt.Order.Rejected):
        strategy.events.append(
            {"date": strategy.datas[-1].datetime.date(0), "event": order.getstatusname(), "ref": order.ref}
        )
