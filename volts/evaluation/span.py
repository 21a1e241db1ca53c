"""The span a walk-forward runs: the requested weeks, checked against the data as ``volts select`` checks a date.

``volts select --asof D`` stops (exit 3) when the data do not cover one of D's windows (README "Window coverage",
:mod:`volts.data.coverage`), or, under ``data.window_coverage = "warn"``, runs on the bars there are and says so.
The walk-forward applies the same rule to every week it is asked for:

* The weeks are the requested ones: the last XNYS session of each week (every N-th week) of ``[start, end]``,
  counted on the exchange calendar, not on the dates the data happen to hold. A week the data lack, or whose
  anomaly, GMM or training window the data do not cover (a late listing trimmed by ``missing = "drop_dates"``, a
  gap, a ``--start`` before the data), stops the run naming the week, the window, the data's span and the
  symbols that limit it; under ``"warn"`` the week is left out and listed (summary, ``metrics.json``, report).
* ``--end`` after the data's last date (by more than ``data.coverage_gap_days``) stops the run naming that date;
  under ``"warn"`` the run is shortened to it and says so. The default end (no ``--end``: 2024-03-08) is cut to
  the data's last date, also said.

With a per-symbol universe (``[data] membership`` or ``on_bad_symbol = "exclude"``) each week loads its own
members and leaves out, with their reason, those that do not cover its windows; only the weeks themselves and
the end are checked here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from volts.core.errors import DataError

#: The end of a walk-forward when ``--end`` is not given (cut to the data's last date, reported).
DEFAULT_END = dt.date(2024, 3, 8)


@dataclass
class Span:
    """The weeks and the end a walk-forward runs, and what was left out.

    Attributes
    ----------
    dates : list of datetime.date
        Re-selection dates that run (each the data's last session of its week).
    end : datetime.date
        Last day traded.
    excluded_weeks : list of dict
        ``{"week", "reason"}`` for each requested week left out under ``window_coverage = "warn"``.
    notes : list of str
        Lines saying how the span differs from the request (a shortened end, weeks left out).
    """

    dates: list
    end: dt.date
    excluded_weeks: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_dict(self, start: dt.date, requested_end: dt.date | None) -> dict:
        """``metrics.json["span"]``: the requested and the run span, the weeks left out and the notes."""
        return {"requested": {"start": start.isoformat(),
                              "end": requested_end.isoformat() if requested_end else None},
                "run": {"first_asof": self.dates[0].isoformat() if self.dates else None,
                        "last_asof": self.dates[-1].isoformat() if self.dates else None, "end": self.end.isoformat()},
                "excluded_weeks": list(self.excluded_weeks), "notes": list(self.notes)}


def _xnys_sessions(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():  # exchange_calendars' own use of a pandas API deprecated in pandas 3
        warnings.filterwarnings("ignore", message=".*Series.values returning an ndarray.*")
        cal = xcals.get_calendar("XNYS", start=start - pd.Timedelta(days=10), end=end + pd.Timedelta(days=10))
        return cal.sessions_in_range(start - pd.Timedelta(days=7), end + pd.Timedelta(days=7)).tz_localize(None)


def _limiting(market) -> str:
    from volts.data.coverage import _limiting_symbols

    if market is None:
        return ""
    return _limiting_symbols(market)


def walkforward_span(settings, calendar: pd.DatetimeIndex, *, start: dt.date, end: dt.date | None, every: str,
                     market=None) -> Span:
    """The re-selection dates and the end of a walk-forward, checked against the data (module docstring).

    Parameters
    ----------
    settings : Settings
        ``data.window_coverage``, ``data.coverage_gap_days`` and the windows (shifted to each week).
    calendar : pandas.DatetimeIndex
        The data's trading dates (the loaded market's, or the membership calendar).
    start : datetime.date
    end : datetime.date or None
        None = the default end (:data:`DEFAULT_END`, cut to the data's last date).
    every : str
        ``"NW"``.
    market : MarketData, optional
        The loaded bars of a fixed universe: each week's windows are then checked against ``calendar`` too.
        None for a per-symbol universe (each week leaves out the members that do not cover its windows).

    Returns
    -------
    Span

    Raises
    ------
    DataError
        Under ``window_coverage = "error"``: ``end`` after the data's last date, or a requested week the data do
        not cover; the message names the week, the window, the data's span and the limiting symbols.
    """
    from volts.data.coverage import coverage_gaps
    from volts.evaluation.schedule import parse_every, rebalance_dates

    d = settings.data
    warn = d.window_coverage == "warn"
    gap = int(d.coverage_gap_days)
    first, last = calendar[0].date(), calendar[-1].date()
    span_text = f"data {first} .. {last}"
    notes: list[str] = []
    if end is None:
        end = DEFAULT_END
        if end > last:
            notes.append(f"no --end given: the run ends on the data's last date {last} (the default end is {end})")
            end = last
    elif end > last:
        if (end - last).days > gap:
            if not warn:
                raise DataError(f"--end {end} is after the data's last date {last} ({span_text}; rule: "
                                f"window_coverage). Choose --end on or before {last}, extend the data, or set "
                                f"data.window_coverage = 'warn' to run to {last} (the shortening is reported)")
            notes.append(f"--end {end} is after the data's last date {last}: the run ends on {last} "
                         f"(data.window_coverage = 'warn')")
        end = last
    if start > end:
        return Span([], end, [], notes)
    n = parse_every(every)
    sessions = _xnys_sessions(pd.Timestamp(start), pd.Timestamp(end))
    wanted = rebalance_dates(sessions, start, end, "1W")[::n]
    have = calendar[(calendar >= pd.Timestamp(start)) & (calendar <= pd.Timestamp(end))]
    have = have[have.isin(sessions)]   # a week's as-of date is its last XNYS session the data have
    by_week = pd.Series(have, index=have).groupby(have.to_period("W-SUN")).max()
    dates, excluded = [], []
    for week in wanted:
        period = pd.Timestamp(week).to_period("W-SUN")
        if period not in by_week.index:
            excluded.append({"week": week.isoformat(), "reason": f"no bar in the week ending {week} ({span_text})"})
            continue
        asof = by_week[period].date()
        if market is not None:
            w = settings.windows.shifted(asof)
            reasons = []
            for name, (a, b) in {"anomaly": (w.anomaly_start, w.anomaly_end), "GMM": (w.gmm_start, w.gmm_end),
                                 "training": (w.train_start, w.train_end)}.items():
                b = min(b, asof)
                why = coverage_gaps(calendar, a, b, gap)
                if why:
                    reasons.append(f"{name} window {a} .. {b} is not covered ({'; '.join(why)})")
            if reasons:
                excluded.append({"week": asof.isoformat(), "reason": "; ".join(reasons) + f" ({span_text})"})
                continue
        dates.append(asof)
    if excluded:
        tail = _limiting(market)
        if market is not None:
            syms = list(market.symbols)
            tail = f"; symbols {', '.join(syms[:5])}{' ...' if len(syms) > 5 else ''}{tail}"
        if not warn:
            e = excluded[0]
            more = f" (+{len(excluded) - 1} more week(s))" if len(excluded) > 1 else ""
            later = (f"; the first week the data cover is {dates[0]}" if dates and dates[0].isoformat() > e["week"]
                     else "")
            raise DataError(f"week as of {e['week']}: {e['reason']}{more}{tail}{later}. Choose a span inside the "
                            f"data, extend or fix the data, or set data.window_coverage = 'warn' to leave such weeks "
                            f"out (they are then listed)")
        for e in excluded:
            e["reason"] += tail
        notes.append(f"{len(excluded)} of {len(wanted)} requested week(s) left out because the data do not cover "
                     f"them (data.window_coverage = 'warn'; first {excluded[0]['week']}): "
                     f"{excluded[0]['reason']}")
    return Span(dates, end, excluded, notes)


def walkforward_data_quality(market, weeks, *, per_week: bool) -> dict:
    """What validation dropped, filled or flagged in the bars a walk-forward used (``metrics.json
    ["data_quality"]``, the summary's ``data:`` line).

    Parameters
    ----------
    market : MarketData
        The bars of the trading pass (for a fixed universe: every symbol's bars over the whole span).
    weeks : sequence of dict
        Week records; with a per-symbol universe each holds ``data_dropped`` (the rows its own load dropped).
    per_week : bool
        True for a per-symbol universe: the findings are the union over the weeks' loads (a row seen by several
        weeks counts once) and the trading pass's.

    Returns
    -------
    dict
        ``rows_dropped`` and ``rows_filled`` per symbol (non-zero only), ``findings`` (every dropped, filled or
        flagged finding inside the loaded windows, once).
    """
    from volts.data.validate import OUTSIDE_NOTE

    rep = market.report
    findings: dict[tuple, dict] = {}
    dropped: dict[str, int] = {}
    filled: dict[str, int] = {}
    if rep is not None:
        for p in rep.problems:
            if p.action != "error" and OUTSIDE_NOTE not in p.message:
                findings.setdefault((p.symbol, p.date, p.rule), p.to_dict())
        dropped = {k: int(v) for k, v in rep.rows_dropped.items() if v}
        filled = {k: int(v) for k, v in rep.rows_filled.items() if v}
    if per_week:
        for w in weeks:
            for f in w.get("data_dropped") or []:
                findings.setdefault((f["symbol"], f["date"], f["rule"]), dict(f))
        rows: dict[str, set] = {}
        for (sym, date, rule), f in findings.items():
            if f["action"] == "dropped" and rule != "missing_bar":   # a session removed for all is not a bad row
                rows.setdefault(sym, set()).add(date)
        for sym, dates in rows.items():
            dropped[sym] = max(dropped.get(sym, 0), len(dates))
    return {"rows_dropped": dropped, "rows_filled": filled,
            "findings": sorted(findings.values(), key=lambda f: (f["date"] or "", f["symbol"]))}
