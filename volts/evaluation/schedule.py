"""The walk-forward's calendar: re-selection dates and the trading schedule they imply.

A walk-forward re-selects on the last session of each period (``--every 1W``: each week's last exchange
session) and trades each selection from the next session's open until the next re-selection
(:func:`build_schedule`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from volts.core.errors import UsageError
from volts.data.market import MarketData

UniverseFn = Callable[[dt.date], Sequence[str]]


# --------------------------------------------------------------------------------------------- dates
def parse_every(every: str) -> int:
    """Number of weeks in an ``--every`` / ``--hold`` text: ``"1W"``, ``"2W"``, ``"W"`` (= 1).

    Raises
    ------
    UsageError
        Anything else (the message names the accepted form).
    """
    m = re.fullmatch(r"\s*(\d*)\s*[wW]\s*", str(every))
    if not m or (m.group(1) and int(m.group(1)) < 1):
        raise UsageError(f"--every/--hold: '{every}' is not a number of weeks (expected e.g. 1W or 2W)")
    return int(m.group(1) or 1)


def _to_date(x) -> dt.date:
    return pd.Timestamp(x).date()


def rebalance_dates(dates: MarketData | Iterable, start, end, every: str = "1W") -> list[dt.date]:
    """Re-selection dates: the last session of each week (or of every N-th week) in ``[start, end]``.

    Parameters
    ----------
    dates : MarketData or iterable of date-like
        The data's trading dates (a ``MarketData`` gives its ``dates``).
    start, end : date-like
        Both inclusive.
    every : str, default "1W"
        ``"NW"``: keep the 1st, (N+1)-th, (2N+1)-th ... week counted from the first week in range.

    Returns
    -------
    list of datetime.date
        Ascending. A week's date is its last XNYS session (``exchange_calendars``) that the data also has; a week
        whose last XNYS session lies after ``end`` is not complete and is left out; a week the data does not
        cover is left out.

    Raises
    ------
    UsageError
        ``start`` after ``end`` or a malformed ``every``.
    """
    import exchange_calendars as xcals

    n = parse_every(every)
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if start > end:
        raise UsageError(f"--start {start.date()} is after --end {end.date()}")
    idx = dates.dates if isinstance(dates, MarketData) else pd.DatetimeIndex(pd.to_datetime(list(dates)))
    idx = pd.DatetimeIndex(idx).normalize()
    import warnings

    with warnings.catch_warnings():  # exchange_calendars' own use of a pandas API deprecated in pandas 3
        warnings.filterwarnings("ignore", message=".*Series.values returning an ndarray.*")
        cal = xcals.get_calendar(
            "XNYS", start=min(start, idx.min()) - pd.Timedelta(days=10), end=max(end, idx.max()) + pd.Timedelta(days=10)
        )
    sessions = cal.sessions_in_range(start - pd.Timedelta(days=7), end + pd.Timedelta(days=7)).tz_localize(None)
    week = sessions.to_period("W-SUN")
    last_session = pd.Series(sessions, index=sessions).groupby(week).max()  # the exchange's last session per week
    have = pd.Series(1, index=idx[(idx >= start) & (idx <= end)])
    known = sessions[sessions.isin(have.index)]
    per_week = pd.Series(known, index=known).groupby(known.to_period("W-SUN")).max()
    out = [d for p, d in per_week.items() if last_session[p] <= end and d >= start]
    return [d.date() for d in out[::n]]


def build_schedule(weeks: Sequence[dict]):
    """The trading schedule: one :class:`volts.trading.simulate.Rebalance` per week (no pair = the week is in cash).

    A record of the intraday walk-forward (``timeframe`` other than ``"D1"``) keeps its decision bar's stamp."""
    from volts.trading.simulate import Holding, Rebalance

    return [
        Rebalance(
            asof=pd.Timestamp(w["asof"]) if w.get("timeframe", "D1") != "D1" else _to_date(w["asof"]),
            pairs=tuple(Holding(leader=p["leader"], follower=p["follower"], lag=int(p["lag"])) for p in w["pairs"]),
        )
        for w in weeks
    ]


def pair_name(p: Mapping[str, Any]) -> str:
    return f"{p['leader']}->{p['follower']}"
