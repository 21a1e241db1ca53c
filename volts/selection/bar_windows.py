"""Selection windows on bars of any size, each ending at a decision bar.

On daily bars the ``[windows]`` section gives calendar dates and ``--asof`` shifts them. On intraday bars a selection
is taken at the close of a **decision bar** (stamped with its open time ``asof``, known at ``asof + duration``)
and every window ends at that bar; its length comes from ``[intraday]``: a duration (the bars whose stamps lie in
``(close - duration, close]``, so ``"30D"`` on H1 bars of a 24/7 market is 720 bars) or a number of bars (the
last N bars up to and including the decision bar). The test window of ``[windows]`` has no meaning here: a
selection's out-of-sample span is the walk-forward's next period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from volts.core.errors import DataError
from volts.core.lengths import parse_length
from volts.data.timeframes import Timeframe, timeframe

__all__ = ["BarWindows", "bar_windows", "decision_bar", "lookback", "window_start"]


@dataclass(frozen=True)
class BarWindows:
    """The windows of one selection on intraday bars (every bound a bar stamp, both ends inclusive).

    Attributes
    ----------
    asof : pandas.Timestamp
        Open stamp of the decision bar (tz-naive UTC); its close, ``asof + bar``, is the decision time.
    anomaly_start, gmm_start, train_start : pandas.Timestamp
        First bar of each window.
    anomaly_end, gmm_end, train_end : pandas.Timestamp
        Last bar of each window (= ``asof``).
    bar : pandas.Timedelta
        Length of one bar.
    lengths : dict
        The ``[intraday]`` lengths as written (``{"anomaly": "365D", ...}``).
    """

    asof: pd.Timestamp
    anomaly_start: pd.Timestamp
    anomaly_end: pd.Timestamp
    gmm_start: pd.Timestamp
    gmm_end: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    bar: pd.Timedelta
    lengths: dict

    @property
    def decision_time(self) -> pd.Timestamp:
        """When the decision bar closes (the selection's information set ends here)."""
        return self.asof + self.bar

    def to_dict(self) -> dict:
        """JSON form for ``selection.json``: each window's first and last bar and its length as configured."""
        return {
            name: {
                "start": getattr(self, f"{name}_start").isoformat(),
                "end": getattr(self, f"{name}_end").isoformat(),
                "length": self.lengths[name],
            }
            for name in ("anomaly", "gmm", "train")
        } | {"decision_bar": self.asof.isoformat(), "decision_time": self.decision_time.isoformat()}


def decision_bar(index: pd.DatetimeIndex, asof, tf: Timeframe, *, max_age: pd.Timedelta | None = None) -> pd.Timestamp:
    """The last bar of ``index`` complete at ``asof``: stamp + bar length <= ``asof``.

    ``asof`` may be a date (``datetime.date`` or ``"YYYY-MM-DD"``: complete by the end of that day, 24:00 UTC) or
    a timestamp (a decision time: ``datetime.datetime``, ``pandas.Timestamp`` or ``"YYYY-MM-DDTHH:MM"``).

    max_age : pandas.Timedelta, optional
        Refuse a decision bar that closed longer than this before ``asof`` (a feed that stopped, or a hole in
        one symbol that the common index inherited): the selection would silently be months old.

    Raises
    ------
    DataError
        No bar of the index is complete by then, or the last one closed more than ``max_age`` before ``asof``.
    """
    ts = pd.Timestamp(asof)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    a_date = (isinstance(asof, dt.date) and not isinstance(asof, dt.datetime)) or (
        isinstance(asof, str) and len(asof.strip()) <= 10
    )
    if a_date:
        ts = ts + pd.Timedelta(days=1)  # a date: the bars complete by the end of the day (24:00 UTC)
    pos = int(index.searchsorted(ts - tf.duration, side="right")) - 1
    if pos < 0:
        raise DataError(f"no {tf.name} bar is complete by {ts} (data start {index[0]})")
    if max_age is not None and ts - (index[pos] + tf.duration) > max_age:
        raise DataError(
            f"as of {ts}: the last {tf.name} bar the symbols have in common closed at "
            f"{index[pos] + tf.duration}, more than {max_age} earlier (a hole in one symbol's bars is a "
            f"hole in the common index); check `volts data check`, drop the symbol, or choose another date"
        )
    return index[pos]


def window_start(
    index: pd.DatetimeIndex, asof: pd.Timestamp, length: str, tf: Timeframe, what: str, *, clip: bool = False
) -> pd.Timestamp:
    """First bar of a window of ``length`` ending at the decision bar ``asof`` (an element of ``index``).

    ``clip=True`` starts a window the data cannot fill at the first bar instead of refusing it (used for the
    anomaly window when its scores only feed the report).

    Raises
    ------
    DataError
        The data start too late to hold the window (names the window, its length and the data's first bar).
    """
    ln = parse_length(length)
    end = int(index.get_loc(asof))
    if ln.bars is not None:
        first = end - ln.bars + 1
        if first < 0 and clip:
            return index[0]
        if first < 0:
            raise DataError(
                f"{what} window of {length} ending at the bar of {asof}: only {end + 1} bars from the "
                f"data start {index[0]}; load earlier data or shorten [intraday] {what}_window"
            )
        return index[first]
    close = asof + tf.duration
    earliest = close - ln.duration
    if index[0] > earliest + pd.Timedelta(days=7) and not clip:  # a week's tolerance: 24/5 starts on Mondays
        raise DataError(
            f"{what} window of {length} ending at the bar of {asof} starts at {earliest}, before the "
            f"data start {index[0]}; load earlier data or shorten [intraday] {what}_window"
        )
    return index[int(index.searchsorted(earliest, side="left"))]


def bar_windows(settings, index: pd.DatetimeIndex, asof) -> BarWindows:
    """The windows of a selection at the decision bar complete at ``asof``.

    Parameters
    ----------
    settings : volts.core.config.Settings
        ``data.timeframe`` (not D1) and the ``[intraday]`` lengths.
    index : pandas.DatetimeIndex
        The bars' open stamps (tz-naive UTC, ascending), e.g. ``MarketData.dates``.
    asof : date-like
        A decision time; the decision bar is the last bar complete by then (:func:`decision_bar`). A bar stamp
        of ``index`` given as a ``pandas.Timestamp`` is read as a decision time too, so pass the decision bar's
        close (``stamp + bar``) to decide at that bar.

    Returns
    -------
    BarWindows

    Raises
    ------
    DataError
        No complete bar by ``asof``, the last one closed more than ``data.coverage_gap_days`` before ``asof``, or
        a window starts before the data (the anomaly window is cut to the data instead while ``anomaly.exclude``
        is off, since its scores then only feed the report).
    """
    tf = timeframe(settings.data.timeframe)
    stamp = decision_bar(index, asof, tf, max_age=pd.Timedelta(days=settings.data.coverage_gap_days))
    iw = settings.intraday
    lengths = {"anomaly": iw.anomaly_window, "gmm": iw.gmm_window, "train": iw.train_window}
    # the anomaly scores decide nothing unless anomaly.exclude is on: then a short history only shortens them
    clip = {"anomaly": not settings.anomaly.exclude}
    starts = {k: window_start(index, stamp, v, tf, k, clip=clip.get(k, False)) for k, v in lengths.items()}
    return BarWindows(
        asof=stamp,
        anomaly_start=starts["anomaly"],
        anomaly_end=stamp,
        gmm_start=starts["gmm"],
        gmm_end=stamp,
        train_start=starts["train"],
        train_end=stamp,
        bar=tf.duration,
        lengths=lengths,
    )


def lookback(settings) -> pd.Timedelta:
    """How far before a decision bar its windows can reach: the longest ``[intraday]`` window (a number of bars
    counted at four bar lengths each, room for closed hours and gaps) plus eight days (a week's closure and the
    decision day). What a loader must read before the first decision."""
    tf = timeframe(settings.data.timeframe)
    iw = settings.intraday
    longest = pd.Timedelta(0)
    for text in (iw.anomaly_window, iw.gmm_window, iw.train_window):
        ln = parse_length(text)
        longest = max(longest, ln.duration if ln.duration is not None else ln.bars * tf.duration * 4)
    return longest + pd.Timedelta(days=8)
