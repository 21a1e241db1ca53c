"""The bar rules that need more than one row: range outliers, exchange sessions, future bars.

:func:`session_mask` marks the bars that fall on a session of the exchange calendar (``exchange_calendars``);
:func:`future_dates` the bars dated after today on the exchange's clock; :func:`rule_range_outlier` the bars
whose high-low range is far beyond the symbol's own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from volts.core.errors import UsageError


# ------------------------------------------------------------------------------- plausibility rules
def rule_non_finite(o, h, lo, c, v) -> np.ndarray:
    """Rows holding +/- infinity in any field (``non_finite``); NaN is the ``nan`` rule's."""
    with np.errstate(invalid="ignore"):
        return np.isinf(o) | np.isinf(h) | np.isinf(lo) | np.isinf(c) | np.isinf(v)


def rule_range_outlier(
    o, h, lo, c, *, multiple: float | None, max_abs_return: float, usable: np.ndarray, neighbours: int = 10
) -> np.ndarray:
    """Rows whose wick beyond the body is implausible (``range_outlier``).

    A wick is log(High / max(Open, Close)) above the body or log(min(Open, Close) / Low) below it. A row is
    flagged when a wick exceeds ``multiple`` times the median log(High / Low) of the ``neighbours`` usable bars
    on either side and the wick's simple size exceeds ``max_abs_return`` (so a busy but real day, whose wick is
    a few percent, never qualifies). ``usable`` marks rows with valid positive finite prices.
    """
    n = len(o)
    out = np.zeros(n, dtype=bool)
    if multiple is None or n < 3:
        return out
    idx = np.flatnonzero(usable)
    if len(idx) < 3:
        return out
    oo, hh, ll, cc = o[idx], h[idx], lo[idx], c[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        rng = np.log(hh / ll)
        top, bottom = np.maximum(oo, cc), np.minimum(oo, cc)
        wick = np.maximum(np.log(hh / top), np.log(bottom / ll))
        size = np.maximum(hh / top - 1.0, 1.0 - ll / bottom)
    if not (size > max_abs_return).any():  # no wick large enough to qualify: the medians cannot flag a row
        return out
    series = pd.Series(rng)
    before = series.shift(1).rolling(neighbours, min_periods=1).median()
    after = series[::-1].shift(1).rolling(neighbours, min_periods=1).median()[::-1]
    ref = pd.concat([before, after], axis=1).median(axis=1).to_numpy()
    with np.errstate(invalid="ignore"):
        bad = (wick > multiple * ref) & (size > max_abs_return) & np.isfinite(ref)
    out[idx[bad]] = True
    return out


_CALENDARS: dict[str, object] = {}


def session_mask(dates: pd.DatetimeIndex, calendar: str | None) -> np.ndarray:
    """True where a date is a session of ``calendar`` (exchange_calendars code) or outside its range.

    Raises
    ------
    UsageError
        ``calendar`` is not an exchange_calendars code.
    """
    ok = np.ones(len(dates), dtype=bool)
    if not calendar or calendar == "bars" or len(dates) == 0:  # "bars": sessions are what the data show
        return ok
    import exchange_calendars as xcals

    cal = _CALENDARS.get(calendar)
    if cal is None:
        try:
            cal = xcals.get_calendar(calendar, start="1970-01-02")
        except xcals.errors.InvalidCalendarName:
            raise UsageError(f"data.calendar {calendar!r} is not an exchange_calendars code (e.g. 'XNYS')") from None
        except Exception:  # a calendar without that much history
            cal = xcals.get_calendar(calendar)
        _CALENDARS[calendar] = cal
    first, last, sessions = _SESSIONS.get(calendar) or _SESSIONS.setdefault(calendar, _session_table(cal))
    valid = dates.notna()
    inside = np.asarray(valid & (dates >= first) & (dates <= last))
    # membership by binary search in the sorted session stamps (ns), built once per calendar: the same answer as
    # DatetimeIndex.isin, without rebuilding the ~14,000-session index for each of hundreds of files
    stamps = dates[inside].as_unit("ns").asi8
    at = np.searchsorted(sessions, stamps)
    ok[inside] = (at < len(sessions)) & (sessions[np.minimum(at, len(sessions) - 1)] == stamps)
    return ok


_SESSIONS: dict[str, tuple] = {}


def _session_table(cal) -> tuple[pd.Timestamp, pd.Timestamp, np.ndarray]:
    """(first session, last session, sorted int64 ns stamps of every session), tz-naive."""
    first, last = (
        pd.Timestamp(t).tz_localize(None) if pd.Timestamp(t).tz is not None else pd.Timestamp(t)
        for t in (cal.first_session, cal.last_session)
    )
    sessions = pd.DatetimeIndex(cal.sessions)
    if sessions.tz is not None:
        sessions = sessions.tz_localize(None)
    return first, last, np.sort(sessions.as_unit("ns").asi8)


#: Time zone whose calendar date is "today" for the ``future_date`` rule (the XNYS exchange's).
TODAY_ZONE = "America/New_York"


def exchange_today(now=None, zone: str = TODAY_ZONE) -> pd.Timestamp:
    """Today's date in the exchange's time zone (midnight, tz-naive); ``now`` (naive = UTC) is injectable."""
    value = now() if callable(now) else now
    stamp = pd.Timestamp.now(tz="UTC") if value is None else pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(zone).tz_localize(None).normalize()


def future_dates(dates: pd.DatetimeIndex, *, today=None) -> np.ndarray:
    """Rule ``future_date``: True where a bar is dated after ``today``.

    Parameters
    ----------
    dates : pandas.DatetimeIndex, shape (n,)
        Bar dates (tz-naive, midnight); NaT is never "future".
    today : date-like, optional
        Default :func:`exchange_today` (the system clock, New York date).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    day = exchange_today() if today is None else pd.Timestamp(today).normalize()
    return np.asarray(dates > day) & ~np.asarray(dates.isna())
