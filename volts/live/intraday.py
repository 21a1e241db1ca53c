"""The live decision on bars finer than a day (``[data] timeframe`` = ``M1`` .. ``H4``).

Timing (decisions):

* A bar is stamped with its **open** time (UTC) and known at ``stamp + bar size`` (:mod:`volts.data.timeframes`).
  The decision uses the last **complete** bar, ``stamp + bar size <= now``; the bar in progress is dropped before
  anything else reads the data (:func:`complete_mask`), whether it comes from a CSV export or from MT5.
* The position is for the next bar the calendar expects after the decision bar (:func:`next_bar_open`): the next
  hour on a 24/7 market, Monday 00:00 UTC after Friday's last bar on a 24/5 market, the next session's first bar
  on an exchange calendar.
* **Freshness** (:func:`check_fresh_bars`): the last complete bar of every symbol must be the one the calendar
  expects just before ``now`` (:func:`expected_last_bar`): at 10:20 UTC on H1 in a 24/7 market, the 09:00 bar; on
  Saturday in a 24/5 market, Friday's last bar (a weekend is not a gap). An earlier bar is **stale**: refused by
  ``--execute`` (exit 3) unless ``--allow-stale``, with the symbol, the bar expected and the last bar seen. A bar
  that is not complete yet is always refused.
* **Selection age** (:func:`selection_age_bars`): counted in bars of the timeframe that the calendar expects after
  the selection's as-of instant up to the decision bar; over ``live.max_selection_age_bars`` (default: the bars of
  ``live.max_selection_age_sessions`` days of the calendar, :func:`default_age_limit`) ``--execute`` refuses.

The ``"bars"`` calendar (sessions inferred from the data) knows no holidays: a day after the data's last bar is
taken to trade on the hours of the week the data trade (:func:`expected_slots`), so after a holiday the check may
call fresh data stale; ``--allow-stale`` lets them through.

Daily bars (``D1``) keep their session rules (:mod:`volts.live.checks`, :func:`volts.live.orders.check_fresh`).

Source: METHOD.md §6 (no look-ahead: a bar is known after its close, fills at the next bar's open); the calendars
of :mod:`volts.data.intraday_calendar`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from volts.core.errors import DataError
from volts.data.market import MarketData
from volts.data.timeframes import Timeframe, timeframe

__all__ = [
    "utc_naive",
    "complete_mask",
    "expected_slots",
    "expected_last_bar",
    "next_bar_open",
    "bars_per_day",
    "default_age_limit",
    "BarFreshness",
    "check_fresh_bars",
    "SelectionAgeBars",
    "selection_age_bars",
    "compute_intraday_targets",
    "intraday_warmup_start",
    "parse_instant",
]

#: How far back :func:`expected_last_bar` looks for a bar the calendar expects (long exchange closures included).
SEARCH_DAYS = 21


def utc_naive(now=None) -> pd.Timestamp:
    """``now`` (datetime, Timestamp, callable returning one, or None = the system clock) as a naive UTC Timestamp."""
    if callable(now):
        now = now()
    if now is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None)
    ts = pd.Timestamp(now)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def parse_instant(text: str | None, option: str = "--asof") -> dt.date | pd.Timestamp | None:
    """A day (``YYYY-MM-DD``: a ``datetime.date``) or an instant (``YYYY-MM-DDTHH:MM``, UTC: a naive
    ``pandas.Timestamp``) from the command line, or None.

    Raises
    ------
    volts.core.errors.UsageError
        The text is neither (exit 2).
    """
    from volts.core.errors import UsageError

    if text is None:
        return None
    try:
        if len(text.strip()) == 10:
            return dt.date.fromisoformat(text.strip())
        return utc_naive(dt.datetime.fromisoformat(text.strip().replace(" ", "T")))
    except (ValueError, TypeError):
        raise UsageError(
            f"{option}: '{text}' is not a date or an instant (expected YYYY-MM-DD, or YYYY-MM-DDTHH:MM in UTC: "
            "the open time of the last bar to use)"
        ) from None


def complete_mask(index: pd.DatetimeIndex, now, tf: str | Timeframe) -> np.ndarray:
    """Bars that have closed by ``now``: ``open time + bar size <= now`` (the bar in progress is False).

    Parameters
    ----------
    index : pandas.DatetimeIndex, shape (n,)
        Bar open times, naive UTC.
    now : instant
        See :func:`utc_naive`.
    tf : str or Timeframe

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    tf = timeframe(tf)
    return np.asarray(index + tf.duration <= utc_naive(now))


def _phase_origin(tf: Timeframe, phase: int, day: pd.Timestamp) -> pd.Timestamp:
    return day.normalize() + pd.Timedelta(minutes=int(phase) % tf.minutes)


def _template_mask(slots: pd.DatetimeIndex, tf: Timeframe, present: pd.DatetimeIndex) -> np.ndarray:
    """``"bars"`` calendar: slots on an hour of the week that at least half of the data's weeks trade."""
    from volts.data.intraday_calendar import BARS_SESSION_SHARE

    def week_slot(idx):
        return np.asarray(idx.day_of_week) * 1440 + np.asarray(idx.hour) * 60 + np.asarray(idx.minute)

    weeks = max(1.0, (present[-1] - present[0]) / pd.Timedelta(days=7))
    values, counts = np.unique(week_slot(present), return_counts=True)
    session = values[counts >= BARS_SESSION_SHARE * weeks]
    return np.isin(week_slot(slots), session)


def expected_slots(
    slots: pd.DatetimeIndex, tf: str | Timeframe, calendar: str | None, present: pd.DatetimeIndex | None = None
) -> np.ndarray:
    """Whether the calendar expects a bar at each slot (open time, naive UTC).

    As :func:`volts.data.intraday_calendar.expected_mask`, except that on the ``"bars"`` calendar a slot after the
    last day of ``present`` is judged by the hours of the week alone (the data cannot say yet whether that day
    trades); without ``present`` the ``"bars"`` calendar expects every slot.

    Returns
    -------
    numpy.ndarray of bool, shape (len(slots),)
    """
    from volts.data.intraday_calendar import expected_mask

    tf = timeframe(tf)
    if calendar != "bars":
        return expected_mask(slots, tf, calendar)
    if present is None or len(present) < 2:
        return np.ones(len(slots), dtype=bool)
    out = expected_mask(slots, tf, calendar, present=present)
    later = np.asarray(slots.normalize() > present[-1].normalize())
    if later.any():
        out[later] = _template_mask(slots[later], tf, present)
    return out


def expected_last_bar(
    now, tf: str | Timeframe, calendar: str | None, *, phase: int = 0, present: pd.DatetimeIndex | None = None
) -> pd.Timestamp | None:
    """Open time of the last complete bar the calendar expects before ``now``.

    Parameters
    ----------
    now : instant
        See :func:`utc_naive`.
    tf : str or Timeframe
        Bar size.
    calendar : str or None
        ``"24/7"``, ``"24/5"``, an exchange code, or ``"bars"`` (see :func:`expected_slots`).
    phase : int
        Minutes past midnight UTC, modulo the bar size, at which bars open
        (:func:`volts.data.intraday_calendar.grid_phase`; 0 for bars on the hour grid).
    present : pandas.DatetimeIndex, optional
        The bars held (the ``"bars"`` calendar's sessions).

    Returns
    -------
    pandas.Timestamp or None
        None when the calendar expects no bar in the :data:`SEARCH_DAYS` days before ``now``.

    Examples
    --------
    At 10:20 UTC on H1 in a 24/7 market the last complete bar opened at 09:00; on Saturday noon in a 24/5 market,
    Friday 23:00.
    """
    tf = timeframe(tf)
    now = utc_naive(now)
    origin = _phase_origin(tf, phase, now)
    last_start = origin + ((now - tf.duration - origin) // tf.duration) * tf.duration
    periods = int(SEARCH_DAYS * 1440 // tf.minutes)
    slots = pd.date_range(end=last_start, periods=periods, freq=tf.duration)
    mask = expected_slots(slots, tf, calendar, present)
    hits = np.flatnonzero(mask)
    return slots[hits[-1]] if len(hits) else None


def next_bar_open(
    decision, tf: str | Timeframe, calendar: str | None, *, present: pd.DatetimeIndex | None = None
) -> pd.Timestamp:
    """Open time of the first bar the calendar expects after the bar opened at ``decision`` (the bar the position
    is for; its open is where the order fills). ``decision + bar size`` when the calendar expects none within
    :data:`SEARCH_DAYS` days."""
    tf = timeframe(tf)
    decision = pd.Timestamp(decision)
    periods = int(SEARCH_DAYS * 1440 // tf.minutes)
    slots = pd.date_range(decision + tf.duration, periods=periods, freq=tf.duration)
    hits = np.flatnonzero(expected_slots(slots, tf, calendar, present))
    return slots[hits[0]] if len(hits) else decision + tf.duration


def bars_per_day(tf: str | Timeframe, calendar: str | None, present: pd.DatetimeIndex | None = None) -> float:
    """Bars of ``tf`` in one trading day of ``calendar``: ``1440 / minutes`` on ``24/7`` and ``24/5``, the regular
    session's bars on an exchange (:func:`volts.data.timeframes.bars_per_year` / 252, rounded up: the bars
    touching a session, as the calendar counts them), and on ``"bars"`` the data's
    bars per day with any bar (a quarter of the day's bars when ``present`` is missing)."""
    from volts.data.timeframes import SESSIONS_PER_YEAR, bars_per_year

    tf = timeframe(tf)
    if calendar in ("24/7", "24/5"):
        return 1440 / tf.minutes
    if calendar == "bars":
        if present is None or len(present) < 2:
            return max(1.0, 1440 / tf.minutes / 4)
        return len(present) / max(1, present.normalize().nunique())
    return float(math.ceil(bars_per_year(tf, calendar) / SESSIONS_PER_YEAR - 1e-9))  # bars touching a session


def default_age_limit(live, tf: str | Timeframe, calendar: str | None, present=None) -> int:
    """``live.max_selection_age_bars``, or when unset the bars of ``live.max_selection_age_sessions`` trading days
    of the calendar (rounded up): 7 days of H1 bars on 24/7 = 168 bars."""
    limit = getattr(live, "max_selection_age_bars", None)
    if limit is not None:
        return int(limit)
    return int(math.ceil(live.max_selection_age_sessions * bars_per_day(tf, calendar, present) - 1e-9))


def intraday_warmup_start(end, *, ma_window: int, max_lag: int, tf: str | Timeframe, calendar: str | None) -> dt.date:
    """First date to load so that a decision at ``end`` has the ``ma_window + max_lag`` bars its SMA needs, with
    room for weekends and holidays (1.6 calendar days per trading day, plus 5 days)."""
    bars = int(ma_window) + int(max_lag) + 5
    days = bars / bars_per_day(tf, calendar) * 1.6 + 5
    return (pd.Timestamp(end).normalize() - pd.Timedelta(days=math.ceil(days))).date()


# ------------------------------------------------------------------------------------------------ freshness
@dataclass(frozen=True)
class BarFreshness:
    """How the last complete bar of each symbol compares with the bar the calendar expects before ``now``.

    Attributes
    ----------
    now : pandas.Timestamp
        The instant of the check (naive UTC).
    timeframe : str
    calendar : str or None
    expected : pandas.Timestamp or None
        Open time of the last complete bar the calendar expects (:func:`expected_last_bar`).
    last : dict of str to pandas.Timestamp
        Symbol -> open time of its last bar used.
    present : pandas.DatetimeIndex or None
        The bars held (the ``"bars"`` calendar's sessions).
    """

    now: pd.Timestamp
    timeframe: str
    calendar: str | None
    expected: pd.Timestamp | None
    last: Mapping[str, pd.Timestamp] = field(default_factory=dict)
    present: pd.DatetimeIndex | None = field(default=None, repr=False, compare=False)

    @property
    def unfinished(self) -> dict[str, pd.Timestamp]:
        """Symbols whose last bar has not closed by ``now`` (never tradable)."""
        dur = timeframe(self.timeframe).duration
        return {s: t for s, t in self.last.items() if t + dur > self.now}

    @property
    def stale(self) -> dict[str, pd.Timestamp]:
        """Symbols whose last bar is older than the expected one."""
        if self.expected is None:
            return {}
        return {s: t for s, t in self.last.items() if t < self.expected}

    def missing_bars(self, last: pd.Timestamp) -> int:
        """Bars the calendar expects after ``last`` up to the expected bar."""
        tf = timeframe(self.timeframe)
        if self.expected is None or last >= self.expected:
            return 0
        slots = pd.date_range(last + tf.duration, self.expected, freq=tf.duration)
        return int(expected_slots(slots, tf, self.calendar, self.present).sum())

    def line(self) -> str:
        """One line for the command's output."""
        tf = timeframe(self.timeframe)
        exp = "none" if self.expected is None else f"{self.expected:%Y-%m-%d %H:%M}"
        text = (
            f"{tf.name} bars, calendar {self.calendar}: at {self.now:%Y-%m-%d %H:%M} UTC the last complete bar "
            f"expected opened at {exp}"
        )
        stale = self.stale
        if stale:
            text += "; stale: " + ", ".join(f"{s} (last {t:%Y-%m-%d %H:%M})" for s, t in stale.items())
        return text

    def check(self, *, allow_stale: bool = False) -> None:
        """Refuse bars not complete yet (always) and stale bars (unless ``allow_stale``).

        Raises
        ------
        DataError
            Naming the symbol, the bar expected, the last bar seen and how many bars are missing.
        """
        tf = timeframe(self.timeframe)
        for sym, t in self.unfinished.items():
            raise DataError(
                f"{sym}: the {tf.name} bar opened at {t:%Y-%m-%d %H:%M} UTC closes at "
                f"{t + tf.duration:%Y-%m-%d %H:%M} UTC, after now ({self.now:%Y-%m-%d %H:%M} UTC): a bar in progress "
                "(or from the future) is never traded on; nothing sent"
            )
        stale = self.stale
        if stale and not allow_stale:
            sym, t = next(iter(stale.items()))
            more = f" (+{len(stale) - 1} more symbol(s))" if len(stale) > 1 else ""
            raise DataError(
                f"{sym}: stale {tf.name} bars: at {self.now:%Y-%m-%d %H:%M} UTC the {self.calendar} calendar expects "
                f"the bar opened at {self.expected:%Y-%m-%d %H:%M} UTC as the last complete one, but the last bar "
                f"seen opened at {t:%Y-%m-%d %H:%M} UTC ({self.missing_bars(t)} expected bar(s) missing){more}. "
                "Refresh the data (or pass --allow-stale to trade on them anyway); nothing sent"
            )


def check_fresh_bars(
    last: Mapping[str, Any],
    *,
    now,
    tf: str | Timeframe,
    calendar: str | None,
    phase: int | None = None,
    present: pd.DatetimeIndex | None = None,
    allow_stale: bool = False,
    raise_: bool = True,
) -> BarFreshness:
    """Check the last bar of each symbol against the calendar (see the module docstring).

    Parameters
    ----------
    last : mapping of str to instant
        Symbol -> open time of the last bar the decision uses.
    now : instant
        The decision instant.
    tf : str or Timeframe
    calendar : str or None
    phase : int, optional
        Bar grid phase in minutes; default the phase of the latest bar in ``last``.
    present : pandas.DatetimeIndex, optional
        The bars held (``"bars"`` calendar).
    allow_stale : bool
        Let stale bars through (a bar in progress never passes).
    raise_ : bool
        False: only return the :class:`BarFreshness` (dry runs report it).

    Raises
    ------
    DataError
        See :meth:`BarFreshness.check`.
    """
    tf = timeframe(tf)
    now = utc_naive(now)
    stamps = {str(s): pd.Timestamp(t) for s, t in last.items()}
    if phase is None:
        ref = max(stamps.values()) if stamps else now
        phase = int((ref - ref.normalize()) / pd.Timedelta(minutes=1)) % tf.minutes
    expected = expected_last_bar(now, tf, calendar, phase=phase, present=present)
    out = BarFreshness(now=now, timeframe=tf.name, calendar=calendar, expected=expected, last=stamps, present=present)
    if raise_:
        out.check(allow_stale=allow_stale)
    return out


# ------------------------------------------------------------------------------------------------ selection age
@dataclass(frozen=True)
class SelectionAgeBars:
    """Age of a selection at an intraday decision bar, in bars of the timeframe.

    Attributes
    ----------
    asof : str
        The selection's as-of (date or instant, as written in ``selection.json``).
    bar : pandas.Timestamp
        Open time of the decision bar.
    bars : int
        Bars the calendar expects after the selection's as-of up to and including the decision bar.
    timeframe : str
    path : str
    """

    asof: str
    bar: pd.Timestamp
    bars: int
    timeframe: str
    path: str = ""

    def line(self, limit: int) -> str:
        """One line for the command's output."""
        over = f", older than the limit of {limit} bars (live.max_selection_age_bars)" if self.bars > limit else ""
        return (
            f"selection as of {self.asof}: {timeframe(self.timeframe).describe(self.bars)} old at the bar "
            f"opened {self.bar:%Y-%m-%d %H:%M} UTC{over}"
        )

    def check(self, limit: int, *, allow_stale: bool = False) -> None:
        """Raise :class:`DataError` when the selection is older than ``limit`` bars (unless ``allow_stale``)."""
        if self.bars > limit and not allow_stale:
            raise DataError(
                f"{self.path}: the selection as of {self.asof} is {self.bars} {self.timeframe} bar(s) old at the bar "
                f"opened {self.bar:%Y-%m-%d %H:%M} UTC, over the limit of {limit} bars (live.max_selection_age_bars"
                "; by default live.max_selection_age_sessions days of bars); --execute refuses it. Run volts select "
                "again, or pass --allow-stale to trade it anyway; nothing sent"
            )


def selection_age_bars(
    selection: Mapping[str, Any],
    bar,
    tf: str | Timeframe,
    calendar: str | None,
    *,
    present: pd.DatetimeIndex | None = None,
    selection_path="",
) -> SelectionAgeBars:
    """The :class:`SelectionAgeBars` of ``selection`` at the decision bar opened at ``bar``.

    The selection's ``asof`` is an instant (its last bar's open time) or a date (it used the bars of that whole
    day): the bars counted open after it (after the date's end) and at or before ``bar``, on the calendar's grid.
    """
    tf = timeframe(tf)
    bar = pd.Timestamp(bar)
    text = str(selection["asof"])
    t0 = pd.Timestamp(text)
    t0 = t0.tz_convert("UTC").tz_localize(None) if t0.tzinfo is not None else t0
    first = t0.normalize() + pd.Timedelta(days=1) if len(text) <= 10 else t0 + pd.Timedelta(microseconds=1)
    if bar < first:
        n = 0
    else:
        phase = int((bar - bar.normalize()) / pd.Timedelta(minutes=1)) % tf.minutes
        origin = _phase_origin(tf, phase, first)
        start = origin + (-((origin - first) // tf.duration)) * tf.duration if first > origin else origin
        slots = pd.date_range(start, bar, freq=tf.duration)
        n = int(expected_slots(slots, tf, calendar, present).sum())
    return SelectionAgeBars(asof=text, bar=bar, bars=n, timeframe=tf.name, path=str(selection_path))


# ------------------------------------------------------------------------------------------------ targets
def compute_intraday_targets(
    selection_pairs: Iterable[Any],
    market: MarketData,
    *,
    tf: str | Timeframe,
    calendar: str | None,
    asof=None,
    ma_window: int = 20,
    mode: str = "long_short",
) -> list:
    """Target follower positions for the bar after the decision bar (intraday :func:`compute_targets`).

    Parameters
    ----------
    selection_pairs : iterable of dict or objects
        Pairs with ``leader``, ``follower`` and ``lag`` (lag in bars).
    market : MarketData
        Complete bars indexed by UTC open time (the bar in progress already dropped); only bars opened at or
        before ``asof`` are read (no look-ahead).
    tf : str or Timeframe
    calendar : str or None
    asof : instant or date, optional
        Open time of the decision bar; a date (midnight) = the last bar opened on that day; default the market's
        last bar.
    ma_window : int
    mode : {"long_short", "long_only"}

    Returns
    -------
    list of volts.live.targets.Target
        One per pair, in order; ``asof`` = decision bar, ``session`` = the next bar the calendar expects
        (:func:`next_bar_open`), ``signal_date`` = the leader bar ``lag - 1`` bars before the decision bar.

    Raises
    ------
    DataError
        A leader missing from the data, no bar at or before ``asof``, or a warm-up shorter than
        ``ma_window + lag - 1`` bars.
    UsageError
        A malformed pair (see :func:`volts.core.pairs.check_pair`).

    Notes
    -----
    The position is :func:`volts.trading.signals.next_session_target` on the leader's closes: s_{T+1-lag} counted
    in bars (METHOD.md §6), the kernel of the backtests.
    """
    from volts.live.targets import Target, pair_signal

    tf = timeframe(tf)
    dates = market.dates
    if asof is None:
        cut = dates[-1]
    else:
        cut = pd.Timestamp(asof)
        if not isinstance(asof, dt.datetime):  # a date: the last bar opened on that day
            cut = cut + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    known = dates[dates <= cut]
    if len(known) == 0:
        raise DataError(
            f"no complete {tf.name} bar at or before {cut:%Y-%m-%d %H:%M} UTC (data start {dates[0]:%Y-%m-%d %H:%M})"
        )
    last = known[-1]
    session = next_bar_open(last, tf, calendar, present=dates)
    out = []
    for k, pair in enumerate(selection_pairs):
        leader, follower, lag, target, stamp, leader_close, sma = pair_signal(
            market,
            pair,
            k,
            last,
            ma_window=ma_window,
            mode=mode,
            when=f"up to the {tf.name} bar of {last:%Y-%m-%d %H:%M} UTC",
        )
        signal_date = None if stamp is None else stamp.to_pydatetime()
        out.append(
            Target(
                leader=leader,
                follower=follower,
                lag=lag,
                asof=last.to_pydatetime(),
                session=session.to_pydatetime(),
                target=target,
                signal_date=signal_date,
                leader_close=leader_close,
                sma=sma,
                ma_window=int(ma_window),
                mode=mode,
                timeframe=tf.name,
                calendar=calendar,
            )
        )
    return out
