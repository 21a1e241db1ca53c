"""Exchange sessions and holidays: the one place volts asks which dates an exchange trades.

Dates past the data (the session a live target is for, the first session after a selection's as-of date) and
"is this date a session" questions come from a kept exchange calendar, ``exchange_calendars`` (XNYS by default:
the New York Stock Exchange, holidays and early closes included), never from a Monday-to-Friday rule: the day
after Friday 2023-06-16 is Tuesday 2023-06-20 (Juneteenth), the day after Monday 2023-07-03 is Wednesday
2023-07-05 (Independence Day).

Dates in and out are tz-naive calendar dates (``datetime.date`` or midnight ``pandas.Timestamp``) on the
exchange's local calendar, as everywhere in volts. Instants (``now``) are UTC unless tz-aware.

Source: ``exchange_calendars`` (https://github.com/gerrymanoim/exchange_calendars), ``ExchangeCalendar.sessions``,
``schedule`` and ``is_session``.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from volts.core.errors import ConfigError

#: The calendar volts uses unless told otherwise (ISO 10383 MIC of the New York Stock Exchange).
DEFAULT_CALENDAR = "XNYS"
#: Span the cached calendar covers (exchange_calendars raises outside its bounds; we widen them once).
_FIRST = pd.Timestamp("1990-01-02")
_YEARS_AHEAD = 2

__all__ = [
    "DEFAULT_CALENDAR",
    "exchange_calendar",
    "sessions",
    "is_session",
    "next_session",
    "previous_session",
    "last_closed_session",
]


@lru_cache(maxsize=8)
def _calendar(name: str, last_year: int) -> Any:
    import warnings

    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():
            # exchange_calendars 4.13 reads Series.values of tz-aware columns, which pandas 3.1 deprecates
            # (Pandas4Warning, a DeprecationWarning); the calendar it builds is unaffected
            warnings.simplefilter("ignore", DeprecationWarning)
            return xcals.get_calendar(name, start=_FIRST, end=pd.Timestamp(f"{last_year}-12-31"))
    except xcals.errors.InvalidCalendarName:
        raise ConfigError(
            f"unknown exchange calendar '{name}' (an ISO 10383 MIC such as XNYS, XNAS, XLON; see "
            "exchange_calendars.get_calendar_names())"
        ) from None


def exchange_calendar(name: str = DEFAULT_CALENDAR) -> Any:
    """The ``exchange_calendars.ExchangeCalendar`` of ``name``, from 1990 to two years past today (cached).

    Raises
    ------
    ConfigError
        ``name`` is not a calendar exchange_calendars knows.
    """
    return _calendar(name, dt.date.today().year + _YEARS_AHEAD)


def _day(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def _bounds(cal: Any, day: pd.Timestamp, what: str) -> None:
    first, last = cal.first_session, cal.last_session
    if day < first or day > last:
        raise ConfigError(
            f"{what} {day.date()} is outside the exchange calendar {cal.name} ({first.date()} .. {last.date()})"
        )


def sessions(start, end, *, calendar: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """Sessions of the exchange between ``start`` and ``end`` (both inclusive).

    Parameters
    ----------
    start, end : date-like
        Calendar dates.
    calendar : str, default "XNYS"
        exchange_calendars name.

    Returns
    -------
    pandas.DatetimeIndex
        tz-naive dates of the sessions, ascending (empty when none).
    """
    cal = exchange_calendar(calendar)
    s, e = max(_day(start), cal.first_session), min(_day(end), cal.last_session)
    if s > e:
        return pd.DatetimeIndex([], name="date")
    out = cal.sessions_in_range(s, e)
    return pd.DatetimeIndex(out.tz_localize(None) if out.tz is not None else out, name="date")


def is_session(dates, *, calendar: str = DEFAULT_CALENDAR) -> np.ndarray:
    """Whether each date is a session of the exchange.

    Parameters
    ----------
    dates : sequence of date-like, shape (n,)

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        False for weekends, holidays and dates outside the calendar's span.
    """
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates) if not isinstance(dates, pd.DatetimeIndex) else dates))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    idx = idx.normalize()
    if len(idx) == 0:
        return np.zeros(0, dtype=bool)
    known = sessions(idx.min(), idx.max(), calendar=calendar)
    return np.asarray(idx.isin(known))


def next_session(date, *, calendar: str = DEFAULT_CALENDAR) -> dt.date:
    """The first session strictly after ``date`` (``date`` itself need not be a session).

    Raises
    ------
    ConfigError
        ``date`` is outside the calendar's span (1990 to two years ahead).
    """
    cal = exchange_calendar(calendar)
    day = _day(date)
    _bounds(cal, day, "date")
    later = sessions(day + pd.Timedelta(days=1), day + pd.Timedelta(days=15), calendar=calendar)
    if len(later) == 0:
        raise ConfigError(f"no {cal.name} session within 15 days after {day.date()}")
    return later[0].date()


def previous_session(date, *, calendar: str = DEFAULT_CALENDAR) -> dt.date:
    """The last session strictly before ``date``."""
    cal = exchange_calendar(calendar)
    day = _day(date)
    _bounds(cal, day, "date")
    earlier = sessions(day - pd.Timedelta(days=15), day - pd.Timedelta(days=1), calendar=calendar)
    if len(earlier) == 0:
        raise ConfigError(f"no {cal.name} session within 15 days before {day.date()}")
    return earlier[-1].date()


def last_closed_session(now=None, *, calendar: str = DEFAULT_CALENDAR) -> dt.date:
    """The latest session whose close (early closes included) is at or before ``now``.

    Parameters
    ----------
    now : datetime, pandas.Timestamp or callable returning one, optional
        The current instant (naive = UTC); default the system clock.

    Returns
    -------
    datetime.date
        E.g. Saturday 2024-03-09 -> Friday 2024-03-08; Monday 2024-03-11 at 15:00 New York time -> 2024-03-08,
        at 16:01 -> 2024-03-11.
    """
    value = now() if callable(now) else now
    stamp = pd.Timestamp.now(tz="UTC") if value is None else pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    cal = exchange_calendar(calendar)
    day = stamp.tz_localize(None).normalize()
    _bounds(cal, day, "today")
    window = cal.schedule.loc[_day(day - pd.Timedelta(days=15)) : _day(day + pd.Timedelta(days=1))]
    closes = window["close"]
    closes = closes.dt.tz_localize("UTC") if closes.dt.tz is None else closes.dt.tz_convert("UTC")
    done = window.index[np.asarray(closes <= stamp)]
    if len(done) == 0:
        raise ConfigError(f"no {cal.name} session closed within 15 days before {stamp}")
    last = done[-1]
    return (last.tz_localize(None) if last.tzinfo is not None else last).date()
