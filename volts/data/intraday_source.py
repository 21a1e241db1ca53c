"""Intraday CSV folders: ``volts data check`` and loading, when ``[data] timeframe`` is finer than ``D1``.

Each file is read by :func:`volts.data.intraday_csv.read_intraday_csv`, its rows checked by the bar rules, and its
missing bars judged against ``[data] calendar`` (:mod:`volts.data.intraday_calendar`). What is reported per file:
the detected layout and quirks, first and last bar, rows, gaps (runs of missing bars, bars missing, how many over
a weekend, the longest), bars off the calendar or off the bar grid, and the problems. Gaps follow
``[data] gap_policy``: ``error`` makes each gap a problem (exit 3); ``drop`` and ``carry`` make them notes saying
what was done. Bar-rule findings are problems unless ``data.on_invalid = "drop"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from volts.core.config import DataSettings
from volts.data.intraday_calendar import apply_gap_policy, check_intraday_bars, find_gaps, gap_text
from volts.data.market import FIELDS, MarketData
from volts.data.timeframes import timeframe
from volts.data.validate import Problem, ValidationReport, raise_problem
from volts.core.errors import DataError

__all__ = ["FileCheck", "check_intraday_folder", "load_intraday_market"]


@dataclass
class FileCheck:
    """What the check found in one file (one row of the table)."""

    symbol: str
    file: str
    layout: str = "-"
    quirks: list = field(default_factory=list)
    first: str | None = None
    last: str | None = None
    rows: int = 0
    gaps: int = 0
    missing_bars: int = 0
    weekend_gaps: int = 0
    longest: str = "-"
    off_calendar: int = 0
    off_grid: int = 0
    closed_days: int = 0
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _read_checked(data: DataSettings, path: Path, symbol: str, *, start=None, end=None):
    """Read, apply the bar rules, find gaps; returns (FileCheck, bars kept, gaps)."""
    from volts.data.intraday_csv import read_intraday_csv

    fc = FileCheck(symbol, str(path))
    try:
        read = read_intraday_csv(path, symbol, data.csv, timezone=data.timezone)
    except DataError as exc:
        fc.problems.append(
            Problem(symbol, str(path), None, getattr(exc, "rule", "unreadable"), str(exc).split(": ", 1)[-1], "error")
        )
        return fc, None, []
    fc.layout, fc.quirks = read.layout, list(read.quirks)
    return check_bars(data, read.bars, fc, start=start, end=end)


def check_bars(data: DataSettings, bars: pd.DataFrame, fc: FileCheck, *, start=None, end=None, today=None):
    """Bar rules, gaps and quirks of one symbol's intraday bars (from a file or a terminal).

    Parameters
    ----------
    data : DataSettings
        ``timeframe``, ``calendar``, ``gap_policy``, ``on_invalid``.
    bars : pandas.DataFrame
        Raw bars indexed by UTC open time.
    fc : FileCheck
        Filled in place (rows, span, gaps, problems, notes, quirks).
    start, end : date-like, optional
        Window kept (``end`` inclusive of its day).
    today : instant, optional
        "Now" for the future-bar rule (default the clock).

    Returns
    -------
    (fc, bars kept, gaps)
    """
    tf = timeframe(data.timeframe)
    symbol, path = fc.symbol, fc.file
    fc.rows = len(bars)
    if len(bars):
        fc.first, fc.last = f"{bars.index.min():%Y-%m-%d %H:%M}", f"{bars.index.max():%Y-%m-%d %H:%M}"
    found, bad = check_intraday_bars(bars, symbol, str(path), tf, today=today)
    drop = data.on_invalid == "drop"
    for p in found:
        if drop and p.rule != "future_date":
            fc.notes.append(
                Problem(
                    p.symbol, p.file, p.date, p.rule, p.message + " (dropped under data.on_invalid = 'drop')", "dropped"
                )
            )
        else:
            fc.problems.append(p)
    bars = bars[~bad]
    if start is not None:
        bars = bars[bars.index >= pd.Timestamp(start)]
    if end is not None:
        bars = bars[bars.index < pd.Timestamp(end) + pd.Timedelta(days=1)]
    gaps, info = find_gaps(bars.index, tf, data.calendar)
    fc.gaps, fc.missing_bars = len(gaps), sum(g.bars for g in gaps)
    fc.weekend_gaps = sum(g.spans_weekend for g in gaps)
    fc.off_calendar, fc.off_grid, fc.closed_days = info["off_calendar"], info["off_grid"], info["closed_days"]
    if gaps:
        g = max(gaps, key=lambda g: g.bars)
        fc.longest = tf.describe(g.bars)
    action = {"error": "error", "drop": "flagged", "carry": "filled"}[data.gap_policy]
    for g in gaps:
        item = Problem(symbol, str(path), f"{g.first:%Y-%m-%d %H:%M}", "gap", gap_text(g, tf, data.gap_policy), action)
        (fc.problems if action == "error" else fc.notes).append(item)
    if fc.off_grid:
        fc.quirks.append(
            f"{fc.off_grid} bar(s) off the {tf.name} grid (opening at another minute than "
            f"{info['phase']} past the bar boundary)"
        )
    if fc.off_calendar:
        fc.quirks.append(f"{fc.off_calendar} bar(s) outside the {data.calendar} calendar's sessions (kept)")
    if fc.closed_days:
        fc.quirks.append(f"{fc.closed_days} weekday(s) without any bar (closed days, not gaps)")
    if fc.weekend_gaps:
        fc.quirks.append(f"{fc.weekend_gaps} of {fc.gaps} gaps span a weekend (the vendor's feed pauses there)")
    return fc, bars, gaps


def check_intraday_folder(
    data: DataSettings, directory, *, symbols=None, start=None, end=None
) -> tuple[list[FileCheck], ValidationReport]:
    """Check every intraday file of a folder (``volts data check`` when ``data.timeframe`` is not D1).

    Parameters
    ----------
    data : DataSettings
        ``timeframe``, ``calendar``, ``timezone``, ``gap_policy``, ``on_invalid`` and the CSV layout.
    directory : str or Path
        Folder of ``data.csv.file_pattern`` files.
    symbols : sequence of str, optional
        Files to check (default: every matching file).
    start, end : date-like, optional
        Span whose gaps are judged (default: each file's whole span); bar rules act on every row.

    Returns
    -------
    checks : list of FileCheck
        One per file, in symbol order.
    report : ValidationReport
        Every problem (action ``"error"``) and note.

    Raises
    ------
    DataError
        The folder does not exist or holds no matching file.
    """
    from volts.data.csv import list_symbols, symbol_file

    folder = Path(directory)
    names = list_symbols(folder, data.csv) if symbols is None else list(symbols)
    checks = []
    for symbol in names:
        fc, _, _ = _read_checked(data, symbol_file(folder, symbol, data.csv), symbol, start=start, end=end)
        checks.append(fc)
    problems = tuple(p for fc in checks for p in fc.problems + fc.notes)
    return checks, ValidationReport(problems, {fc.symbol: fc.rows for fc in checks})


def load_intraday_market(data: DataSettings, *, directory=None, symbols=None, start=None, end=None) -> MarketData:
    """Load intraday bars of several symbols onto one time index.

    Each file is read and checked as in :func:`check_intraday_folder`; any problem raises. Gaps follow
    ``data.gap_policy`` (``carry`` inserts last-close bars, reported as ``filled``); the symbols are then cut to
    their common span and, where their bars still differ (a gap left out under ``drop``, a bar one symbol has
    outside the calendar), to the stamps every symbol has (reported as ``missing_bar`` notes with counts).

    Parameters
    ----------
    data : DataSettings
    directory : str or Path, optional
        Folder (default ``data.dir``).
    symbols : sequence of str, optional
        Default ``data.universe``.
    start, end : date-like, optional
        Window (``end`` inclusive of its whole day).

    Returns
    -------
    MarketData
        Index = tz-naive UTC open times; ``report`` holds every note.

    Raises
    ------
    DataError
        A file unreadable, a bar rule broken (unless ``on_invalid = "drop"``), a gap under ``gap_policy =
        "error"``, or no common bar left.
    """
    from volts.data.csv import symbol_file

    folder = Path(directory if directory is not None else data.dir)
    names = list(symbols) if symbols is not None else list(data.universe)
    checked = [_read_checked(data, symbol_file(folder, s, data.csv), s, start=start, end=end) for s in names]
    return assemble_intraday(data, checked, where=str(folder))


def assemble_intraday(data: DataSettings, checked: list, *, where: str) -> MarketData:
    """One :class:`MarketData` from checked symbols (``(FileCheck, bars, gaps)`` each, see :func:`check_bars`):
    raise on any problem, apply ``data.gap_policy``, cut to the common span and the common stamps (reported)."""
    tf = timeframe(data.timeframe)
    frames, notes, filled = {}, [], {}
    names = [fc.symbol for fc, _, _ in checked]
    folder = where
    for fc, bars, gaps in checked:
        symbol = fc.symbol
        if fc.problems:
            raise_problem(fc.problems[0], len(fc.problems) - 1)
        if bars is None or len(bars) == 0:
            raise DataError(f"{fc.file}: {symbol}: no bars in the window")
        before = len(bars)
        bars = apply_gap_policy(bars, gaps, tf, data.gap_policy, data.calendar)
        filled[symbol] = len(bars) - before
        frames[symbol] = bars
        notes.extend(fc.notes)
    lo = max(f.index[0] for f in frames.values())
    hi = min(f.index[-1] for f in frames.values())
    if lo > hi:
        raise DataError(f"{folder}: the symbols share no span ({lo:%Y-%m-%d %H:%M} > {hi:%Y-%m-%d %H:%M})")
    common = None
    for f in frames.values():
        idx = f.index[(f.index >= lo) & (f.index <= hi)]
        common = idx if common is None else common.intersection(idx)
    dropped = {}
    for s, f in frames.items():
        inside = f.loc[lo:hi]
        dropped[s] = int(len(inside) - len(common))
        if dropped[s]:
            notes.append(
                Problem(
                    s,
                    None,
                    None,
                    "missing_bar",
                    f"{dropped[s]} bar(s) left out because another symbol lacks them",
                    "dropped",
                )
            )
        frames[s] = inside.loc[common]
    if len(common) == 0:
        raise DataError(f"{folder}: no bar stamp common to {', '.join(names)}")
    wide = {
        f: pd.DataFrame({s: frames[s][f].to_numpy() for s in names}, index=pd.DatetimeIndex(common, name="time"))
        for f in FIELDS
    }
    report = ValidationReport(tuple(notes), {fc.symbol: fc.rows for fc, _, _ in checked}, dropped, filled)
    return MarketData(**wide, report=report)


def run_intraday_check(
    data: DataSettings, directory, *, start=None, end=None, console=None, max_lines: int = 50
) -> int:
    """Print the intraday check of a folder (table, quirks, gaps); return 0 when no problem is found.

    Raises
    ------
    DataError
        After printing, when any problem is found (a gap under ``gap_policy = "error"``, a broken bar rule, an
        unreadable file); or when the folder is unusable.
    """
    from rich.table import Table

    tf = timeframe(data.timeframe)
    checks, report = check_intraday_folder(data, directory, start=start, end=end)
    table = Table(
        title=f"volts data check: {directory} ({tf.name} bars, calendar {data.calendar}, "
        f"gap policy {data.gap_policy}; times UTC, gaps and missing in bars)",
        title_justify="left",
    )
    for col, justify in (
        ("symbol", "left"),
        ("layout", "left"),
        ("first", "left"),
        ("last", "left"),
        ("rows", "right"),
        ("gaps", "right"),
        ("missing", "right"),
        ("longest gap", "left"),
        ("problems", "right"),
        ("notes", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=col in ("symbol", "first", "last"))
    for fc in checks:
        n = len(fc.problems)
        table.add_row(
            fc.symbol,
            fc.layout,
            (fc.first or "-")[:10],
            (fc.last or "-")[:10],
            f"{fc.rows:,}",
            str(fc.gaps),
            f"{fc.missing_bars:,}",
            fc.longest,
            str(n) if n == 0 else f"[bold red]{n}[/]",
            str(len(fc.notes)),
        )
    console.print(table)
    for fc in checks:
        for q in fc.quirks:
            console.print(f"quirk: {fc.file}: {q}", markup=False, soft_wrap=True)
    notes = [p for p in report.problems if p.action != "error"]
    errors = report.errors
    for label, items in (("note", notes), ("problem", errors)):
        for p in items[:max_lines]:
            console.print(f"{label}: {p}", markup=False, soft_wrap=True)
        if len(items) > max_lines:
            console.print(f"{label}: ... and {len(items) - max_lines} more {label}s", markup=False)
    n_gaps = sum(fc.gaps for fc in checks)
    n_missing = sum(fc.missing_bars for fc in checks)
    bad = sum(1 for fc in checks if fc.problems)
    console.print(
        f"{len(checks)} file(s), {sum(fc.rows for fc in checks):,} bars read, {n_gaps} gap(s) "
        f"({n_missing:,} missing {tf.name} bars), {len(errors)} problem(s), {len(notes)} note(s)",
        markup=False,
        soft_wrap=True,
    )
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DataError(
            f"data check failed: {len(errors)} problem(s) in {bad} of {len(checks)} file(s); first: {errors[0]}{more}"
        )
    return 0
