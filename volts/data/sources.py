"""One entry point for every bar source (CSV, MetaTrader5, synthetic) and the checks behind ``volts data check``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from volts.core.config import DataSettings
from volts.data.market import MarketData
from volts.data.validate import Problem, ValidationReport, collect_problems
from volts.core.errors import DataError

SUMMARY_COLUMNS = ("symbol", "first", "last", "rows", "problems", "notes")


def load_market(data: DataSettings, *, symbols=None, start=None, end=None) -> MarketData:
    """Load validated bars from the source named by ``data.source``.

    Parameters
    ----------
    data : DataSettings
        The ``[data]`` settings: source, directory, universe, CSV layout, validation policies, MT5 settings.
    symbols : sequence of str, optional
        Symbols to load, in column order. None = ``data.universe`` for the csv and mt5 sources, every
        synthetic symbol for the synthetic source (the paper's universe does not exist there).
    start, end : date-like, optional
        Window, both inclusive.

    Returns
    -------
    MarketData
        Validated, aligned bars; ``report`` holds what validation dropped, filled or flagged.

    Raises
    ------
    DataError
        Whatever the source raises (missing files, bad bars, calendar gaps, an empty window).

    Notes
    -----
    ``synthetic`` uses seed ``data.synthetic_seed`` and its default span (2019-01-01 .. 2023-12-29), then
    slices.
    """
    if data.source == "csv" and data.timeframe != "D1":   # intraday bars: volts.data.intraday_source
        from volts.data.intraday_source import load_intraday_market

        return load_intraday_market(data, symbols=symbols, start=start, end=end)
    if data.source == "csv":
        from volts.data.csv import load_csv_market

        return load_csv_market(data.dir, symbols=list(symbols) if symbols is not None else list(data.universe),
                               start=start, end=end, layout=data.csv, on_invalid=data.on_invalid,
                               missing=data.missing, max_abs_return=data.max_abs_return,
                               return_jump=data.return_jump, calendar=data.calendar or None,
                               max_range_multiple=data.max_range_multiple)
    if data.source == "synthetic":
        from volts.data.synthetic import make_synthetic_market

        if data.timeframe != "D1":   # the intraday demo market (24/7, pairs planted in bars)
            from volts.data.synthetic_intraday import make_synthetic_intraday_market

            market = make_synthetic_intraday_market(seed=data.synthetic_seed, timeframe_name=data.timeframe).data
        else:
            market = make_synthetic_market(seed=data.synthetic_seed).data
        if symbols is not None:
            market = market.select(symbols)
        if start is not None or end is not None:
            market = market.slice(start, end)
        return market
    if data.source == "mt5":
        from volts.data.mt5 import load_mt5_market

        return load_mt5_market(data, symbols=list(symbols) if symbols is not None else list(data.universe),
                               start=start, end=end)
    raise DataError(f"data.source: unknown source {data.source!r} (expected csv, mt5 or synthetic)")


def _summary(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in SUMMARY_COLUMNS})
    return frame.astype({"rows": "int64", "problems": "int64", "notes": "int64"})


def _summarise(order: list[str], raw: dict[str, pd.DataFrame], report: ValidationReport) -> pd.DataFrame:
    by_symbol = report.by_symbol()
    rows = []
    for symbol in order:
        probs = by_symbol.get(symbol, ())
        frame = raw.get(symbol)
        dates = frame.index.dropna() if frame is not None else pd.DatetimeIndex([])
        rows.append({
            "symbol": symbol,
            "first": dates.min().strftime("%Y-%m-%d") if len(dates) else None,
            "last": dates.max().strftime("%Y-%m-%d") if len(dates) else None,
            "rows": int(len(frame)) if frame is not None else 0,
            "problems": sum(1 for p in probs if p.action == "error"),
            "notes": sum(1 for p in probs if p.action != "error"),
        })
    return _summary(rows)


def honour_on_invalid(report: ValidationReport, *, on_invalid: str = "drop",
                      return_jump: str = "error") -> ValidationReport:
    """The findings of a check as a load would treat them: under ``on_invalid = "drop"`` a bad row in the span is
    ``dropped`` (a note, not a problem) and a ``return_jump`` is ``flagged`` and kept, as it is under
    ``return_jump = "flag"``; file-level problems and calendar rules stay errors."""
    from volts.data.validate import DROPPABLE_RULES

    def relabel(p: Problem) -> Problem:
        if p.action != "error":
            return p
        if p.rule == "return_jump" and return_jump == "flag":
            return Problem(p.symbol, p.file, p.date, p.rule, p.message + " (kept under data.return_jump = 'flag')",
                           "flagged")
        if on_invalid != "drop":
            return p
        if p.rule in DROPPABLE_RULES:
            return Problem(p.symbol, p.file, p.date, p.rule, p.message + " (dropped under data.on_invalid = 'drop')",
                           "dropped")
        if p.rule == "return_jump":
            return Problem(p.symbol, p.file, p.date, p.rule, p.message + " (kept under data.on_invalid = 'drop')",
                           "flagged")
        return p

    problems = tuple(relabel(p) for p in report.problems)
    dropped = dict(report.rows_dropped)
    for symbol, _ in {(p.symbol, p.date) for p in problems if p.action == "dropped"}:
        dropped[symbol] = dropped.get(symbol, 0) + 1
    return ValidationReport(problems, dict(report.rows_read), dropped, dict(report.rows_filled))


def check_source(data: DataSettings, directory=None, *, symbols=None, start=None, end=None,
                 common_calendar: bool = False) -> tuple[pd.DataFrame, ValidationReport]:
    """Check a source against every rule without stopping at the first problem (``volts data check``).

    Parameters
    ----------
    data : DataSettings
        The ``[data]`` settings (source, layout, ``max_abs_return``).
    directory : str or Path, optional
        CSV folder to check instead of ``data.dir`` (implies the csv source).
    symbols : sequence of str, optional
        Symbols to check. None = every file matching the pattern (csv), every synthetic symbol, or
        ``data.universe`` (mt5).
    start, end : date-like, optional
        Span whose bars must be clean; findings outside it are reported as notes (action ``"flagged"``).
    common_calendar : bool
        Also require one calendar across symbols. Off by default: each file is checked on its own calendar.

    Returns
    -------
    summary : pandas.DataFrame
        One row per symbol with columns symbol, first, last (ISO dates of the whole file/series), rows (rows
        read), problems (findings that would stop a run), notes (findings outside the span, reported only).
    report : ValidationReport
        Every finding; a file that cannot be read at all (empty, missing column, unparsable date or number)
        appears as one ``error`` problem with the reader's rule.

    Raises
    ------
    DataError
        Only when there is nothing to check: the directory does not exist or holds no matching file.

    Notes
    -----
    For the mt5 source the bars come through ``load_mt5_market`` with the lenient policies
    (``on_invalid="drop"``, ``missing="drop_dates"``); every dropped row and every flagged return jump is
    reported back as an ``error`` problem. A failure of the terminal itself still raises.
    """
    source = "csv" if directory is not None else data.source
    raw: dict[str, pd.DataFrame] = {}
    failed: dict[str, Problem] = {}
    if source == "csv":
        from volts.data.csv import list_symbols, read_csv_bars, symbol_file

        folder = Path(directory if directory is not None else data.dir)
        if symbols is None:
            names = list_symbols(folder, data.csv)
        elif not folder.is_dir():
            list_symbols(folder, data.csv)  # raises the message for a missing path / not a directory
        else:
            names = list(symbols)
        sources = {}
        for symbol in names:
            path = symbol_file(folder, symbol, data.csv)
            sources[symbol] = str(path)
            try:
                raw[symbol] = read_csv_bars(path, symbol, data.csv)
            except DataError as exc:
                failed[symbol] = Problem(symbol, str(path), None, getattr(exc, "rule", "unreadable"),
                                         str(exc).split(": ", 1)[-1], "error")
        report = (collect_problems(raw, sources=sources, start=start, end=end,
                                   max_abs_return=data.max_abs_return, common_calendar=common_calendar,
                                   calendar=data.calendar or None, max_range_multiple=data.max_range_multiple)
                  if raw else ValidationReport())
    elif source == "synthetic":
        from volts.data.synthetic import make_synthetic_market

        market = make_synthetic_market(seed=data.synthetic_seed).data
        if symbols is not None:
            market = market.select(symbols)
        raw = {s: market.bars(s) for s in market.symbols}
        report = collect_problems(raw, sources={s: "synthetic" for s in raw}, start=start, end=end,
                                  max_abs_return=data.max_abs_return, common_calendar=common_calendar,
                                  max_range_multiple=data.max_range_multiple)  # business days, no calendar
    elif source == "mt5":
        lenient = data.model_copy(update={"on_invalid": "drop", "missing": "drop_dates"})
        market = load_market(lenient, symbols=symbols, start=start, end=end)
        raw = {s: market.bars(s) for s in market.symbols}
        found = market.report.problems if market.report is not None else ()
        strict = tuple(Problem(p.symbol, p.file, p.date, p.rule, p.message,
                               "error" if p.action == "dropped" or p.rule == "return_jump" else p.action)
                       for p in found)
        report = ValidationReport(strict, {s: len(market) for s in raw})
    else:
        raise DataError(f"data.source: unknown source {source!r} (expected csv, mt5 or synthetic)")
    order = names if source == "csv" else list(raw)
    if (data.on_invalid == "drop" or data.return_jump == "flag") and source != "mt5":
        report = honour_on_invalid(report, on_invalid=data.on_invalid, return_jump=data.return_jump)
    if failed:
        merged = ValidationReport(tuple(failed.values()), {s: 0 for s in failed}).merged(report)
        rank = {s: i for i, s in enumerate(order)}
        report = ValidationReport(
            tuple(sorted(merged.problems, key=lambda p: rank.get(p.symbol, len(rank)))),
            {s: merged.rows_read.get(s, 0) for s in order},
            {s: merged.rows_dropped.get(s, 0) for s in order}, {s: merged.rows_filled.get(s, 0) for s in order})
    return _summarise(order, raw, report), report
