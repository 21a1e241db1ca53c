"""Window coverage: does the loaded data span every window a command reads?

A window is *covered* when the aligned bars start no more than ``data.coverage_gap_days`` calendar days after
the window's start, end no more than that before its end (the as-of date for training windows), and have no
inner gap longer than that. Weekends and exchange holidays fit in the default of 7 days; a late listing, a
delisting, ``missing = "drop_dates"`` trimming the universe to its shortest file, or an ``--asof`` beyond the
data do not. What happens then is ``data.window_coverage``: ``"error"`` (the default) stops the command with a
data error (exit 3) naming the window, the span of the data and the fix; ``"warn"`` continues on the bars there
are and records a warning in the artifacts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

import pandas as pd

from volts.core.errors import DataError

log = logging.getLogger("volts.data")


def _limiting_symbols(market) -> str:
    """Symbols whose missing dates ``missing = "drop_dates"`` removed for everybody (most first), for messages."""
    rep = market.report
    if rep is None:
        return ""
    c = Counter(p.symbol for p in rep.problems if p.rule == "missing_bar" and p.action == "dropped")
    if not c:
        return ""
    top = ", ".join(f"{s} ({n} date(s))" for s, n in c.most_common(3))
    return f"; data.missing = 'drop_dates' removed every date some symbol lacks, mostly for {top}"


def coverage_gaps(dates: pd.DatetimeIndex, start: dt.date, end: dt.date, gap_days: int) -> list[str]:
    """Reasons why ``dates`` do not cover ``[start, end]`` (empty list = covered).

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Bar dates, ascending.
    start, end : datetime.date
        The window, both inclusive.
    gap_days : int
        Longest tolerated stretch without a bar, calendar days (weekends, holidays).
    """
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    inside = dates[(dates >= start_ts) & (dates <= end_ts)]
    if len(inside) == 0:
        span = f"{dates[0].date()} .. {dates[-1].date()}" if len(dates) else "no bars"
        return [f"no bar inside it (data {span})"]
    reasons = []
    if (inside[0] - start_ts).days > gap_days:
        reasons.append(f"bars start only on {inside[0].date()}")
    if (end_ts - inside[-1]).days > gap_days:
        reasons.append(f"bars end on {inside[-1].date()}")
    if len(inside) > 1:
        gaps = inside[1:] - inside[:-1]
        worst = int(gaps.argmax())
        if gaps[worst].days > gap_days:
            reasons.append(f"no bar from {inside[worst].date()} to {inside[worst + 1].date()}")
    return reasons


def check_coverage(
    market, data, windows: dict[str, tuple[dt.date, dt.date]], *, asof: dt.date | None = None
) -> list[str]:
    """Check that ``market`` covers each window; raise or warn as ``data.window_coverage`` says.

    Parameters
    ----------
    market : MarketData
        The loaded, aligned bars.
    data : DataSettings
        ``window_coverage`` ("error" | "warn") and ``coverage_gap_days``.
    windows : dict of str to (date, date)
        Name -> (start, end) of each window the command reads. Ends after ``asof`` are cut to ``asof``.
    asof : datetime.date, optional
        The as-of date of a selection (its windows end there).

    Returns
    -------
    list of str
        Warning lines (only under ``"warn"``), also logged.

    Raises
    ------
    DataError
        A window is not covered and ``data.window_coverage`` is ``"error"``.
    """
    problems = []
    for name, (start, end) in windows.items():
        if asof is not None and end > asof:
            end = asof
        reasons = coverage_gaps(market.dates, start, end, data.coverage_gap_days)
        if reasons:
            problems.append(
                f"{name} window {start} .. {end} is not covered by the data ({'; '.join(reasons)}; "
                f"symbols {', '.join(market.symbols[:5])}{' ...' if len(market.symbols) > 5 else ''})"
            )
    if not problems:
        return []
    tail = _limiting_symbols(market)
    if data.window_coverage == "error":
        more = f" (+{len(problems) - 1} more window(s))" if len(problems) > 1 else ""
        raise DataError(
            f"{problems[0]}{more}{tail}. Choose an --asof (or windows) inside the data, extend or fix "
            f"the data, or set data.window_coverage = 'warn' to run on the bars there are"
        )
    out = [p + tail for p in problems]
    for line in out:
        log.warning(line)
    return out
