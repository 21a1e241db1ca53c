"""Sleeve sizing on a live or paper account: the capital rule of the walk-forward (:mod:`volts.trading.simulate`).

``live.sizing = "sleeve"`` (and ``volts paper``) sizes positions as the walk-forward's trading pass does, so the
account holds what the backtest held:

* the capital (``costs.capital``) starts in a pool; at a re-selection the pairs that leave are closed and their
  cash returns to the pool, which is split equally among the pairs that enter; a pair selected again keeps its
  sleeve (cash and shares) untouched; a week without a pair holds cash;
* a sleeve opens a position with all its cash: ``n = (cash - fixed) / (P (1 + rate)) (1 - 1e-9)`` shares at the
  quoted price P (``fixed``, ``rate``: the ``[costs]`` model), rounded down to the broker's volume step, and holds
  that size while the side stays.

:class:`SleeveLedger` rebuilds each sleeve's cash from the account's own deals (``history_deals_get``: the broker's
volumes, prices and commissions, attributed to pairs by their order comment, :mod:`volts.live.book`) and the
re-selections recorded in the journal (``decision`` events with ``action = "rebalance"``, each holding the last
deal ticket booked before it), so a crash or a lost reply cannot make the ledger forget a fill.

Source: :mod:`volts.trading.simulate` (``_Book``: the sleeve rules, ``HAIRCUT``); MetaTrader5 ``history_deals_get``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

log = logging.getLogger(__name__)


@dataclass
class Sleeve:
    """Cash (USD) and signed follower shares of one pair."""

    cash: float = 0.0
    shares: float = 0.0


@dataclass
class SleeveLedger:
    """Sleeves of every pair volts holds on one account (see the module docstring).

    Attributes
    ----------
    capital : float
        Starting cash (``costs.capital``).
    fixed, rate : float
        Cost model of an order: ``fixed + rate * value`` (:class:`volts.trading.simulate.CostModel`).
    pool : float
        Unallocated cash.
    sleeves : dict of str -> Sleeve
    last_asof : str or None
        As-of date of the latest re-selection applied.
    """

    capital: float
    fixed: float = 0.0
    rate: float = 0.0
    pool: float = 0.0
    sleeves: dict = field(default_factory=dict)
    last_asof: str | None = None
    last_ticket: int = 0

    @classmethod
    def from_settings(cls, settings) -> "SleeveLedger":
        from volts.trading.simulate import CostModel

        c = CostModel.from_settings(settings)
        return cls(capital=c.capital, fixed=c.fixed, rate=c.rate, pool=c.capital)

    def commission(self, value: float) -> float:
        """Cost of an order of absolute value ``value`` under the cost model."""
        return self.fixed + self.rate * value if value > 0 else 0.0

    def book(self, pair: str, shares: float, price: float, commission: float | None) -> None:
        """Book a fill of signed ``shares`` at ``price`` (commission: the broker's, else the cost model's)."""
        s = self.sleeves.setdefault(pair, Sleeve())
        cost = self.commission(abs(shares) * price) if commission is None else float(commission)
        s.cash -= shares * price + cost
        s.shares = round(s.shares + shares, 10)

    def rebalance(self, asof: str, pairs: Iterable[str]) -> None:
        """Apply a re-selection: leavers' cash to the pool (their positions closed before), entrants funded."""
        pairs = list(pairs)
        for key in [k for k in self.sleeves if k not in pairs]:
            s = self.sleeves.pop(key)
            if abs(s.shares) > 1e-9:
                log.warning("%s: leaves the selection of %s still holding %g shares", key, asof, s.shares)
            self.pool += s.cash + 0.0
        entering = [p for p in pairs if p not in self.sleeves]
        share = self.pool / len(entering) if entering else 0.0
        for p in entering:
            self.sleeves[p] = Sleeve(cash=share)
        if entering:
            self.pool = 0.0
        self.last_asof = asof

    def lots(self, target, price: float, info: Any) -> float:
        """Lots to open for ``target`` (a :class:`volts.live.orders.Target`) at ``price``: all the sleeve's cash after
        closing its position of the other side (at the same price), rounded down to the volume step; 0 when the
        sleeve is unfunded or the size is below the broker's minimum."""
        from volts.trading.simulate import HAIRCUT

        s = self.sleeves.get(target.pair)
        if s is None or not (price > 0):
            return 0.0
        cash = s.cash
        if s.shares != 0 and (s.shares > 0) != (target.target > 0):
            cash += s.shares * price - self.commission(abs(s.shares) * price)
        elif s.shares != 0:
            return abs(s.shares)
        budget = cash - self.fixed
        if not budget > 0:
            return 0.0
        n = budget / (price * (1.0 + self.rate)) * (1.0 - HAIRCUT)
        step = float(getattr(info, "volume_step", 0) or 0) or 1e-8
        decimals = max(0, -int(math.floor(math.log10(step)))) + 2
        lots = round(math.floor(n / step + 1e-9) * step, decimals)
        vmin = float(getattr(info, "volume_min", 0) or 0)
        return lots if lots >= vmin else 0.0


def volts_deals(term, magic: int, attribution, *, until: dt.datetime | None = None) -> list[dict]:
    """The account's deals with volts' magic number, oldest first, with their pair (None if unattributed)."""
    until = until or dt.datetime.now() + dt.timedelta(days=3650)
    deals = (
        term.call(
            "history_deals_get", dt.datetime(2000, 1, 1), until, what="history_deals_get(all)", check=lambda r: None
        )
        or ()
    )
    buy = term.const("ORDER_TYPE_BUY")
    out = []
    for d in deals:
        if int(d.magic) != int(magic):
            continue
        pos = {"symbol": str(d.symbol), "comment": str(d.comment)}
        out.append(
            {
                "ticket": int(d.ticket),
                "pair": attribution(pos),
                "symbol": str(d.symbol),
                "shares": float(d.volume) if int(d.type) == buy else -float(d.volume),
                "price": float(d.price),
                "commission": -float(d.commission),
                "time": int(d.time),
                "comment": str(d.comment),
            }
        )
    return sorted(out, key=lambda x: x["ticket"])


def rebuild(settings, journal, term, attribution, *, magic: int) -> SleeveLedger:
    """The :class:`SleeveLedger` of the account: the journal's re-selections and the broker's deals, in order."""
    ledger = SleeveLedger.from_settings(settings)
    rebalances = [
        e["payload"]
        for e in journal.events(kind="decision")
        if e["pair"] is None and e["payload"].get("action") == "rebalance"
    ]
    deals = volts_deals(term, magic, attribution)
    i = 0
    for r in rebalances:
        while i < len(deals) and deals[i]["ticket"] <= int(r.get("last_ticket", 0)):
            _apply(ledger, deals[i])
            i += 1
        ledger.rebalance(r["asof"], r["pairs"])
    for d in deals[i:]:
        _apply(ledger, d)
    ledger.last_ticket = deals[-1]["ticket"] if deals else 0
    return ledger


def _apply(ledger: SleeveLedger, deal: dict) -> None:
    if deal["pair"] is None:
        log.warning(
            "deal #%s on %s names no pair (comment %r): not in any sleeve",
            deal["ticket"],
            deal["symbol"],
            deal["comment"],
        )
        return
    ledger.book(deal["pair"], deal["shares"], deal["price"], deal["commission"])


__all__ = ["Sleeve", "SleeveLedger", "volts_deals", "rebuild"]
