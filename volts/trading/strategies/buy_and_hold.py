"""``BuyAndHold``: the benchmark — buy the follower at the first open of the test window, hold to the end.

METHOD.md §6 ("buy the follower at the first open of the test window"). The cerebro running it is built with
``cheat_on_open=True``: backtrader then calls ``next_open()`` once the bar's open is known and before the broker
matches orders, so a market order sent there fills at that same open. This is allowed for the benchmark (and only
for it) because the decision to buy uses no price at all; the open serves only to size the order: the largest
whole number of shares that the cash covers at the open (plus slippage) after the commission. It is an order for
"all the cash at the opening auction", which a broker can fill at the open.

The position is never sold: at the end of the window it is marked to market (``volts.trading.metrics`` counts it as one
round trip, as the paper's tables do). Records (``order_log``, ``fills``, ``held``, ``equity``) have the
same layout as :class:`volts.trading.strategies.LeadLagTrend`.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt

from volts.trading.strategies.lead_lag_trend import affordable_shares, record_fills


class BuyAndHold(bt.Strategy):
    """Buy-and-hold benchmark on ``datas[0]`` (the follower).

    Parameters (backtrader ``params``)
    ----------------------------------
    buy_from : datetime.date or None
        The order is sent at the first bar dated on or after this day (the first day of the test window);
        None = the first bar.
    record_from : datetime.date or None
        First date of the equity/position records.

    Notes
    -----
    Requires ``bt.Cerebro(cheat_on_open=True)``. The paper's §2.3: V_t = Q * P_t with Q bought at t = 0.
    """

    params = (("buy_from", None), ("record_from", None))

    def __init__(self) -> None:
        self.asset = self.datas[0]
        self._sent = False
        self.order_log: list[dict] = []
        self.fills: list[dict] = []
        self.held: dict[dt.date, int] = {}
        self.equity: dict[dt.date, float] = {}
        self.events: list[dict] = []

    def next_open(self) -> None:
        day = self.asset.datetime.date(0)
        if self._sent or (self.p.buy_from is not None and day < self.p.buy_from):
            return
        self._sent = True
        slip = float(getattr(self.broker.p, "slip_perc", 0.0) or 0.0)
        price = float(self.asset.open[0]) * (1.0 + slip)
        n = affordable_shares(float(self.broker.getcash()), price, self.broker.getcommissioninfo(self.asset))
        if n <= 0:
            self.events.append({"date": day, "event": "no_affordable_shares"})
            return
        order = self.buy(data=self.asset, size=n)
        order.addinfo(role="open")
        self.order_log.append({"created": day, "ref": order.ref, "role": "open", "side": "buy", "size": n})

    def prenext_open(self) -> None:
        # backtrader has not yet settled the minimum period on the very first bar and calls prenext_open there;
        # the buy must not wait for it
        self.next_open()

    def nextstart_open(self) -> None:
        self.next_open()

    def next(self) -> None:
        day = self.asset.datetime.date(0)
        if self.p.record_from is None or day >= self.p.record_from:
            self.held[day] = int(self.getposition(self.asset).size)
            self.equity[day] = float(self.broker.getvalue())

    def notify_order(self, order: bt.Order) -> None:
        record_fills(self, order)
