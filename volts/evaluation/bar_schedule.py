"""Decision bars of an intraday walk-forward: when the selection is re-run, on bars of any size.

``--every`` takes either a number of bars or a calendar period:

* ``"24 bars"`` / ``"24bars"``: every 24th bar of the data, counted from the first bar of the span; the decision
  bar is the N-th, 2N-th, ... bar (each decision closes a run of N bars the data has).
* ``"30min"``, ``"6H"``, ``"1D"``, ``"2D"``, ``"1W"``, ``"2W"``: periods of calendar time in UTC. Minutes and hours
  must divide a day; their periods, and days, are anchored at 00:00 UTC; weeks at Monday 00:00 UTC. ``"ND"`` and
  ``"NW"`` with N > 1 keep the 1st, (N+1)-th, (2N+1)-th ... day or week with a decision, counted from the first in
  the span (as the daily walk-forward's ``--every 2W``).

The **decision bar** of a period is its last *complete* bar in the data: the last bar whose open lies in the
period and whose close (open + bar duration) is at or before the period's end. A bar that straddles the period's
end belongs to the next decision. The selection of a decision sees the bars up to and including its decision bar,
which is known at its close; trading starts at the open of the next bar the data has (``trade_from``). A period
with no complete bar (a weekend of a 24/5 market, a vendor gap) has no decision. A period that ends after the span
(``end``, inclusive of its whole day, or the data's last close if earlier) is not complete and has none: without
a calendar a file that stops on a Friday evening cannot be told from one that stops mid-week, so the week whose
end (Monday 00:00 UTC) lies after the data's last bar is left out.

Note for 24/5 markets: FX trades from Sunday evening (UTC); with weeks anchored at Monday 00:00 UTC the Sunday
evening bars belong to the week that ends at that Monday, so a weekly decision is taken at the last complete bar
before Monday 00:00 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from volts.core.errors import UsageError
from volts.data.timeframes import Timeframe, timeframe

__all__ = ["Cadence", "Decision", "parse_cadence", "decision_bars"]

_DAY = pd.Timedelta(days=1)
_EPOCH = pd.Timestamp("1970-01-01")
_MONDAY = pd.Timestamp("1970-01-05")  # a Monday 00:00 UTC: week periods start on Mondays


@dataclass(frozen=True)
class Cadence:
    """A parsed ``--every``.

    Attributes
    ----------
    text : str
        As given.
    bars : int or None
        N for "every N bars".
    period : pandas.Timedelta or None
        Length of one base period (a divisor of a day, one day, or one week).
    keep_every : int
        Keep every k-th period with a decision (``"2D"``, ``"2W"``); 1 otherwise.
    """

    text: str
    bars: int | None = None
    period: pd.Timedelta | None = None
    keep_every: int = 1

    def describe(self, tf: Timeframe) -> str:
        """Human wording, e.g. ``"every 24 bars (1 d)"`` or ``"every 1D (periods from 00:00 UTC)"``."""
        if self.bars is not None:
            return f"every {tf.describe(self.bars)}"
        anchor = "Monday 00:00 UTC" if self.period == pd.Timedelta(weeks=1) else "00:00 UTC"
        return f"every {self.text.strip()} (periods anchored at {anchor})"


def parse_cadence(every: str, tf: str | Timeframe | None = None) -> Cadence:
    """Parse a re-selection cadence (see the module docstring).

    Parameters
    ----------
    every : str
        ``"N bars"``, ``"Nbars"``, ``"Nmin"``, ``"NH"``, ``"ND"``, ``"NW"`` (case-insensitive, N >= 1, N = 1 if
        omitted for D and W).
    tf : str or Timeframe, optional
        The bar size; a calendar period shorter than one bar is refused.

    Returns
    -------
    Cadence

    Raises
    ------
    UsageError
        Malformed text, N < 1, minutes/hours that do not divide a day, or a period shorter than one bar.
    """
    text = str(every)
    m = re.fullmatch(r"\s*(\d*)\s*(bars?|min|m|h|d|w)\s*", text, flags=re.IGNORECASE)
    if not m or (m.group(1) and int(m.group(1)) < 1):
        raise UsageError(
            f"--every {text!r}: expected a number of bars ('24 bars') or a period ('30min', '6H', '1D', '1W')"
        )
    n = int(m.group(1) or 1)
    unit = m.group(2).lower()
    if unit.startswith("bar"):
        if not m.group(1):
            raise UsageError(f"--every {text!r}: give the number of bars, e.g. '24 bars'")
        return Cadence(text=text, bars=n)
    if unit in ("min", "m", "h"):
        period = pd.Timedelta(minutes=n) if unit in ("min", "m") else pd.Timedelta(hours=n)
        if _DAY % period != pd.Timedelta(0):
            raise UsageError(
                f"--every {text!r}: a period in minutes or hours must divide a day (periods are anchored at "
                f"00:00 UTC), e.g. 1H, 2H, 3H, 4H, 6H, 8H or 12H; or use '{n} bars'"
            )
        cad = Cadence(text=text, period=period)
    elif unit == "d":
        cad = Cadence(text=text, period=_DAY, keep_every=n)
    else:
        cad = Cadence(text=text, period=pd.Timedelta(weeks=1), keep_every=n)
    if tf is not None and cad.period is not None and cad.period < timeframe(tf).duration:
        raise UsageError(
            f"--every {text!r} is shorter than one {timeframe(tf).name} bar: choose a period of at least "
            f"{timeframe(tf).describe(1).split('(')[1][:-1]} or a number of bars"
        )
    return cad


@dataclass(frozen=True)
class Decision:
    """One re-selection of an intraday walk-forward.

    Attributes
    ----------
    asof : pandas.Timestamp
        Open stamp of the decision bar (tz-naive UTC); the selection sees bars up to and including it.
    known_at : pandas.Timestamp
        Its close (``asof`` + bar duration): when the decision can be taken.
    trade_from : pandas.Timestamp or None
        Open stamp of the next bar in the data (where its orders fill); None when the data end at ``asof``.
    period_start, period_end : pandas.Timestamp
        The period it closes (``[start, end)``); for ``"N bars"`` the first bar's open and the decision bar's close.
    """

    asof: pd.Timestamp
    known_at: pd.Timestamp
    trade_from: pd.Timestamp | None
    period_start: pd.Timestamp
    period_end: pd.Timestamp

    def to_dict(self) -> dict:
        """JSON-ready (ISO stamps)."""
        return {
            "asof": self.asof.isoformat(),
            "known_at": self.known_at.isoformat(),
            "trade_from": None if self.trade_from is None else self.trade_from.isoformat(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
        }


def _span_bounds(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``start`` as given (a date = its 00:00) and the exclusive end: a date (or a midnight stamp) covers its
    whole day, a stamp with a time of day is that instant."""
    s = pd.Timestamp(start)
    e = pd.Timestamp(end)
    if s.tzinfo is not None or e.tzinfo is not None:
        s = s.tz_convert("UTC").tz_localize(None) if s.tzinfo is not None else s
        e = e.tz_convert("UTC").tz_localize(None) if e.tzinfo is not None else e
    e_excl = e + _DAY if e == e.normalize() else e
    if s >= e_excl:
        raise UsageError(f"--start {s} is not before --end {end}")
    return s, e_excl


def decision_bars(index: pd.DatetimeIndex, tf: str | Timeframe, every: str | Cadence, start, end) -> list[Decision]:
    """The decisions of a walk-forward over ``[start, end]`` (see the module docstring for the rules).

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Bar open stamps of the data (tz-naive UTC, ascending, unique), e.g. ``MarketData.dates``.
    tf : str or Timeframe
        Bar size of ``index``.
    every : str or Cadence
        Cadence (:func:`parse_cadence`).
    start, end : date-like
        Span; ``end`` as a date covers its whole day. Only bars with open >= ``start`` and close <= the span's
        end take part; the span is cut at the data's last close.

    Returns
    -------
    list of Decision
        Ascending by ``asof``.

    Raises
    ------
    UsageError
        A malformed cadence or ``start`` not before ``end``.
    """
    tf = timeframe(tf)
    cad = every if isinstance(every, Cadence) else parse_cadence(every, tf)
    if cad.period is not None and cad.period < tf.duration:
        parse_cadence(cad.text, tf)  # raises the message
    idx = pd.DatetimeIndex(index)
    if len(idx) == 0:
        return []
    s, e_excl = _span_bounds(start, end)
    dur = tf.duration
    closes = idx + dur
    e_excl = min(e_excl, closes[-1])
    inside = np.flatnonzero((idx >= s) & (closes <= e_excl))
    if not len(inside):
        return []

    def make(i: int, p0: pd.Timestamp, p1: pd.Timestamp) -> Decision:
        nxt = idx[i + 1] if i + 1 < len(idx) else None
        return Decision(asof=idx[i], known_at=idx[i] + dur, trade_from=nxt, period_start=p0, period_end=p1)

    if cad.bars is not None:
        n = cad.bars
        out = []
        for k in range(n - 1, len(inside), n):
            i = int(inside[k])
            out.append(make(i, idx[int(inside[k - n + 1])], closes[i]))
        return out
    period = cad.period
    assert period is not None
    anchor = _MONDAY if period == pd.Timedelta(weeks=1) else _EPOCH
    sub = idx[inside]
    # period of each bar: floor((open - anchor) / period); a bar is complete in it when its close <= period end
    pid = np.asarray((sub - anchor) // period, dtype="int64")
    pend = anchor + (pid + 1) * period
    ok = np.asarray(closes[inside] <= pend)
    last: dict[int, int] = {}
    for k in np.flatnonzero(ok):
        last[int(pid[k])] = int(inside[k])  # ascending: the last complete bar of each period wins
    out = []
    for p in sorted(last):
        p0, p1 = anchor + p * period, anchor + (p + 1) * period
        if p0 < s or p1 > e_excl:
            continue  # a period only partly inside the span (or the data) is not complete
        out.append(make(last[p], p0, p1))
    return out[:: cad.keep_every]
