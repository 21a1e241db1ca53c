"""The backtrader engine of the schedule simulator (the engine of record; ``engine="backtrader"``).

One Cerebro runs the whole schedule with a strategy that asks :class:`volts.trading.book._Book` for its orders at
each close; it must match the vectorised engine to the cent (a test checks it).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Callable

import numpy as np
import pandas as pd

from volts.data.market import MarketData
from volts.trading.book import (
    _Book,
    _Plan,
)
from volts.trading.schedule import (
    CostModel,
    Holding,
)
from volts.trading.signals import next_session_target


# ------------------------------------------------------------------------------------------ backtrader
def _run_backtrader(
    market: MarketData, plan: _Plan, costs: CostModel, *, execution: str, ma_window: int, mode: str
) -> tuple[_Book, np.ndarray, dict]:
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
        if costs.has_spread:  # the follower's own half-spread (volts.trading.spreads)
            rate, unit = costs.terms(h.follower)
            broker.addcommissioninfo(
                FixedPlusPercentCommission(fixed=float(costs.fixed), pct=float(rate), per_unit=float(unit)),
                name="F:" + key,
            )
    starts = {plan.dates[st].date(): plan.rebalances[k].pairs for k, st in enumerate(plan.starts) if st is not None}
    cerebro.addstrategy(
        schedule_strategy_class(),
        starts=starts,
        first=plan.dates[0].date(),
        costs=costs,
        execution=execution,
        ma_window=int(ma_window),
        mode=mode,
        window=max_lag + int(ma_window),
        reserve=reserve,
    )
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
    """
    Length: it builds the backtrader strategy class, whose methods (next, notify_order, stop) must be defined
    together inside the factory so that backtrader is imported only on first use.
    """
    import backtrader as bt

    class _SchedulePortfolio(bt.Strategy):
        """backtrader strategy of :func:`simulate_schedule` (engine of record); see the module docstring.

        Feeds ``L:<leader>`` carry the leaders' bars (read at each close for the signal), feeds
        ``F:<LEADER->FOLLOWER>`` one follower per sleeve (orders). Orders for session d are sent in ``next_open``
        of d (cheat-on-open: they fill at that open; the targets were decided at the close of d-1) or, with
        ``execution="close"``, in ``next`` of d-1 (cheat-on-close: they fill at that close). The sleeve book
        (:class:`_Book`) sizes them; the broker books cash, commissions and value independently.
        """

        params = (
            ("starts", None),
            ("first", None),
            ("costs", None),
            ("execution", "next_open"),
            ("ma_window", 20),
            ("mode", "long_short"),
            ("window", 30),
            ("reserve", 0.0),
        )

        def __init__(self) -> None:
            self.lead = {d._name[2:]: d for d in self.datas if d._name.startswith("L:")}
            self.foll = {d._name[2:]: d for d in self.datas if d._name.startswith("F:")}
            self.closes = {s: deque(maxlen=self.p.window) for s in self.lead}
            self.dates = {s: deque(maxlen=self.p.window) for s in self.lead}
            self.book = _Book(self.p.costs, self.p.costs.capital)
            self.holdings: tuple = ()
            self.pending: dict[str, int] = {}  # key -> target for the next session
            self.equity_rec: dict = {}
            self.held_rec: dict = {}
            self.started = False

        def _known(self, sym: str) -> pd.Series:
            return pd.Series(
                np.fromiter(self.closes[sym], dtype="float64"),
                index=pd.DatetimeIndex(np.array(self.dates[sym], dtype="datetime64[D]")),
            )

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
                self.pending[h.key] = int(
                    next_session_target(known, lag=int(h.lag), ma_window=self.p.ma_window, mode=self.p.mode)
                )

        def notify_order(self, order) -> None:
            if order.status in (order.Margin, order.Rejected, order.Canceled):
                self.book.events.append(
                    {
                        "date": self.datas[0].datetime.date(0),
                        "pair": order.data._name[2:],
                        "event": "broker_" + order.getstatusname().lower(),
                        "size": float(order.size),
                    }
                )

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
                        float(self.getposition(d).size) * float(d.close[-1]) for d in self.foll.values()
                    )
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


def schedule_strategy_class():
    """The backtrader strategy class of the schedule (``SchedulePortfolio``), built on first use: importing
    backtrader is not free."""
    if _LazyStrategy.cls is None:
        _LazyStrategy.cls = _make_schedule_strategy()
    return _LazyStrategy.cls
