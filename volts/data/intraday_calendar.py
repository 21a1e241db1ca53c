"""Which intraday bars a market should have, and what the vendor's missing ones are.

``[data] calendar`` for bars finer than ``D1`` takes:

* ``"24/7"`` (crypto): every bar of every day; ``exchange_calendars``' calendar of that name;
* ``"24/5"`` (FX): every bar of Monday to Friday, UTC (``exchange_calendars``' ``24/5``: sessions from 00:00 to
  24:00 UTC). FX vendors open the week on Sunday evening (17:00 New York, 21:00-22:00 UTC): bars before Monday
  00:00 UTC are reported as ``off_calendar`` notes and kept;
* an exchange code (``"XNYS"``): the bars overlapping the exchange's sessions (``ExchangeCalendar.schedule``
  opens and closes, early closes included);
* ``"bars"``: sessions inferred from the data, for vendor CFD hours: the hours of the week (weekday and time of
  day, UTC) on which at least half of the weeks of the file have a bar, on the days that have any bar (a day
  without a single bar is a closed day, a holiday, not a gap).

The grid's phase comes from the data: the time of day modulo the bar size that most bars share (H4 bars opening
at 00:00, 04:00, ... UTC, or 01:00, 05:00, ... for a broker on UTC+1). A bar at another phase is ``off_grid``.

A **gap** is a run of consecutive expected bars that the file lacks, between two bars it has. Gaps are never
filled silently: each is reported with its length in bars and in time and with what ``[data] gap_policy`` did
(``error``: stop; ``drop``: leave the bars out; ``carry``: insert bars at the last close with zero range and zero
volume). Bar rules (order, duplicates, NaN, prices <= 0, High/Low against Open/Close, negative volume, stamps in
the future) are those of the daily data, applied to every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from volts.data.market import FIELDS
from volts.data.timeframes import Timeframe, timeframe
from volts.data.validate import Problem
from volts.core.errors import ConfigError

__all__ = [
    "Gap",
    "expected_mask",
    "grid_phase",
    "find_gaps",
    "apply_gap_policy",
    "check_intraday_bars",
    "CALENDAR_KINDS",
    "calendar_kind",
]

CALENDAR_KINDS = ("24/7", "24/5", "exchange", "bars")
#: Share of weeks that must have a bar at an hour of the week for ``"bars"`` to count it as a session hour.
BARS_SESSION_SHARE = 0.5


def calendar_kind(calendar: str | None) -> str:
    """``"24/7"``, ``"24/5"``, ``"bars"`` or ``"exchange"`` (an exchange_calendars code; None = XNYS).

    Raises
    ------
    ConfigError
        An exchange code exchange_calendars does not know.
    """
    if calendar in ("24/7", "24/5", "bars"):
        return calendar
    from volts.data.calendar import exchange_calendar

    exchange_calendar(calendar or "XNYS")  # raises ConfigError for an unknown code
    return "exchange"


@dataclass(frozen=True)
class Gap:
    """A run of expected bars a file lacks.

    Attributes
    ----------
    first, last : pandas.Timestamp
        Open times (UTC) of the first and last missing bar.
    bars : int
        Number of missing bars.
    after, before : pandas.Timestamp
        Open times of the bars the file has on either side.
    """

    first: pd.Timestamp
    last: pd.Timestamp
    bars: int
    after: pd.Timestamp
    before: pd.Timestamp

    @property
    def spans_weekend(self) -> bool:
        """True when a Saturday or Sunday (UTC) lies inside the gap."""
        days = pd.date_range(self.first.normalize(), self.last.normalize(), freq="D")
        return bool((days.day_of_week >= 5).any())


def _human(delta: pd.Timedelta) -> str:
    minutes = int(delta / pd.Timedelta(minutes=1))
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    parts = [f"{d} d"] if d else []
    if h:
        parts.append(f"{h} h")
    if m:
        parts.append(f"{m} min")
    return " ".join(parts) or "0 min"


def grid_phase(index: pd.DatetimeIndex, tf: Timeframe) -> int:
    """Minutes past midnight UTC, modulo the bar size, that most bars open at (0 for bars on the hour grid)."""
    if len(index) == 0:
        return 0
    minutes = np.asarray((index - index.normalize()) // pd.Timedelta(minutes=1)) % tf.minutes
    values, counts = np.unique(minutes, return_counts=True)
    return int(values[np.argmax(counts)])


def _grid(first: pd.Timestamp, last: pd.Timestamp, tf: Timeframe, phase: int) -> pd.DatetimeIndex:
    origin = first.normalize() + pd.Timedelta(minutes=phase)
    start = origin + ((first - origin) // tf.duration) * tf.duration
    return pd.date_range(start, last, freq=tf.duration)


def expected_mask(
    slots: pd.DatetimeIndex, tf: Timeframe, calendar: str | None, present: pd.DatetimeIndex | None = None
) -> np.ndarray:
    """Whether the market is open during each bar slot.

    Parameters
    ----------
    slots : pandas.DatetimeIndex, shape (n,)
        Bar open times (tz-naive UTC).
    tf : Timeframe
        Bar size.
    calendar : str or None
        See the module docstring.
    present : pandas.DatetimeIndex, optional
        The bars the file has; required for ``"bars"``.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    kind = calendar_kind(calendar)
    if kind == "24/7" or len(slots) == 0:
        return np.ones(len(slots), dtype=bool)
    if kind == "24/5":
        ends = slots + tf.duration - pd.Timedelta(seconds=1)
        return np.asarray((slots.day_of_week < 5) | (ends.day_of_week < 5))
    if kind == "bars":
        if present is None:
            raise ConfigError("calendar 'bars' infers sessions from the data: pass the bars present")
        return _bars_template(slots, tf, present)
    from volts.data.calendar import exchange_calendar

    sched = exchange_calendar(calendar or "XNYS").schedule
    opens = sched["open"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    closes = sched["close"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    s = slots.to_numpy().astype(opens.dtype)
    e = (slots + tf.duration).to_numpy().astype(opens.dtype)
    i = np.searchsorted(opens, e, side="left") - 1  # the last session opening before the bar ends
    ok = i >= 0
    out = np.zeros(len(slots), dtype=bool)
    out[ok] = closes[i[ok]] > s[ok]
    return out


def _bars_template(slots: pd.DatetimeIndex, tf: Timeframe, present: pd.DatetimeIndex) -> np.ndarray:
    def week_slot(idx):
        return np.asarray(idx.day_of_week) * 1440 + np.asarray(idx.hour) * 60 + np.asarray(idx.minute)

    weeks = max(1.0, (present[-1] - present[0]) / pd.Timedelta(days=7))
    values, counts = np.unique(week_slot(present), return_counts=True)
    session = set(values[counts >= BARS_SESSION_SHARE * weeks].tolist())
    in_template = np.isin(week_slot(slots), list(session))
    on_traded_day = np.asarray(slots.normalize().isin(present.normalize().unique()))
    return in_template & on_traded_day


def find_gaps(index: pd.DatetimeIndex, tf: str | Timeframe, calendar: str | None) -> tuple[list[Gap], dict]:
    """Runs of expected bars missing from ``index`` between its first and last bar.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Open times of the bars a file has (UTC, ascending, unique).
    tf : str or Timeframe
        Bar size.
    calendar : str or None
        See the module docstring.

    Returns
    -------
    gaps : list of Gap
        In time order.
    info : dict
        ``phase`` (minutes), ``expected`` (bars the calendar expects in the span), ``off_grid`` (bars at another
        phase), ``off_calendar`` (bars outside the calendar's sessions), ``closed_days`` (``"bars"`` only: weekdays
        inside the span without any bar).
    """
    tf = timeframe(tf)
    info = {"phase": 0, "expected": 0, "off_grid": 0, "off_calendar": 0, "closed_days": 0}
    if len(index) < 2:
        return [], info
    phase = grid_phase(index, tf)
    grid = _grid(index[0], index[-1], tf, phase)
    on_grid = np.asarray(index.isin(grid))
    expected = expected_mask(grid, tf, calendar, present=index)
    exp_slots = grid[expected]
    has = np.asarray(exp_slots.isin(index))
    info.update(
        phase=phase,
        expected=int(expected.sum()),
        off_grid=int((~on_grid).sum()),
        off_calendar=int((~np.asarray(index[on_grid].isin(exp_slots))).sum()),
    )
    if calendar == "bars":
        days = pd.date_range(index[0].normalize(), index[-1].normalize(), freq="D")
        weekdays = days[days.day_of_week < 5]
        info["closed_days"] = int((~weekdays.isin(index.normalize())).sum())
    gaps: list[Gap] = []
    missing = np.flatnonzero(~has)
    if len(missing) == 0:
        return gaps, info
    breaks = np.flatnonzero(np.diff(missing) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(missing) - 1]])
    for a, b in zip(starts, ends):
        i, j = missing[a], missing[b]
        first, last = exp_slots[i], exp_slots[j]
        k = int(index.searchsorted(first))
        after = index[k - 1] if k > 0 else first
        before = index[k] if k < len(index) else last
        gaps.append(Gap(first, last, int(j - i + 1), after, before))
    return gaps, info


def gap_text(gap: Gap, tf: Timeframe, policy: str) -> str:
    """One line describing a gap and what the policy did with it."""
    what = {
        "error": "fill the vendor's data, or set data.gap_policy = 'drop' (leave them out) or 'carry' "
        "(last close, zero range)",
        "drop": "left out (data.gap_policy = 'drop')",
        "carry": "carried at the last close with zero range (data.gap_policy = 'carry')",
    }[policy]
    weekend = ", over a weekend" if gap.spans_weekend else ""
    return (
        f"{gap.bars} missing {tf.name} bar{'s' if gap.bars != 1 else ''} ({_human(gap.bars * tf.duration)}"
        f"{weekend}) from {gap.first:%Y-%m-%d %H:%M} to {gap.last:%Y-%m-%d %H:%M} UTC; {what}"
    )


def apply_gap_policy(
    bars: pd.DataFrame, gaps: list[Gap], tf: Timeframe, policy: str, calendar: str | None = "24/7"
) -> pd.DataFrame:
    """The bars with ``gaps`` handled by ``policy``.

    ``"carry"`` inserts, at each missing open time, a bar with open = high = low = close = the last close before it
    and volume 0 (a bar in which nothing traded); ``"drop"`` and ``"error"`` return ``bars`` unchanged (the caller
    raises under ``"error"``).

    Parameters
    ----------
    bars : pandas.DataFrame
        Columns open, high, low, close, volume indexed by open time (ascending, unique).
    gaps : list of Gap
        From :func:`find_gaps` on ``bars.index``.
    tf : Timeframe
    policy : {"error", "drop", "carry"}
    calendar : str or None
        The calendar the gaps were found on (only its expected bars are inserted).

    Returns
    -------
    pandas.DataFrame
    """
    if policy != "carry" or not gaps:
        return bars
    calendar_slots = []
    for g in gaps:
        calendar_slots.append(pd.date_range(g.first, g.last, freq=tf.duration))
    fill = calendar_slots[0].append(calendar_slots[1:]) if len(calendar_slots) > 1 else calendar_slots[0]
    fill = fill[expected_mask(fill, tf, calendar, present=bars.index) & ~np.asarray(fill.isin(bars.index))]
    out = bars.reindex(bars.index.union(fill))
    last = out["close"].ffill()
    new = out["close"].isna()
    for f in ("open", "high", "low", "close"):
        out.loc[new, f] = last[new]
    out.loc[new, "volume"] = 0.0
    return out[list(FIELDS)]


def check_intraday_bars(
    bars: pd.DataFrame, symbol: str, file: str | None, tf: Timeframe, *, today=None
) -> tuple[list[Problem], np.ndarray]:
    """Row-order and bar rules for intraday bars (every row).

    Returns
    -------
    problems : list of Problem
        Action ``"error"`` each (the caller relabels under a lenient policy).
    bad : numpy.ndarray of bool, shape (n_rows,)
        Rows that broke a rule.
    """
    idx = bars.index
    problems: list[Problem] = []
    o, h, lo, c, v = (bars[f].to_numpy(dtype=float) for f in FIELDS)
    dup = np.asarray(idx.duplicated(keep="first"))
    vals = idx.asi8
    prev_max = np.concatenate([[np.iinfo(np.int64).min], np.maximum.accumulate(vals)[:-1]])
    unsorted = (vals <= prev_max) & ~dup
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if today is None else pd.Timestamp(today)
    future = np.asarray(idx > now)
    with np.errstate(invalid="ignore"):
        nan = np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c) | np.isnan(v)
        nonpos = ~nan & ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0))
        hi = ~nan & ~nonpos & (h < np.maximum(o, c))
        low = ~nan & ~nonpos & (lo > np.minimum(o, c))
        negv = ~nan & (v < 0)
    rules = (
        ("duplicate_date", dup, "stamp appears on an earlier row"),
        ("unsorted_date", unsorted, "stamp earlier than a previous row's; stamps must ascend"),
        ("future_date", future, "bar opens after now (UTC)"),
        ("nan", nan, "missing value"),
        ("non_positive_price", nonpos, "a price is <= 0"),
        ("high_below_max_open_close", hi, "High < max(Open, Close)"),
        ("low_above_min_open_close", low, "Low > min(Open, Close)"),
        ("negative_volume", negv, "volume < 0"),
    )
    bad = np.zeros(len(bars), dtype=bool)
    for rule, mask, text in rules:
        bad |= mask
        for i in np.flatnonzero(mask):
            problems.append(
                Problem(
                    symbol,
                    file,
                    f"{idx[i]:%Y-%m-%d %H:%M}",
                    rule,
                    f"{text} (row {i + 1}: O={o[i]:g} H={h[i]:g} L={lo[i]:g} C={c[i]:g} V={v[i]:g})",
                    "error",
                )
            )
    return problems, bad
