"""CSV source: one file of daily bars per symbol in a directory.

The default layout reads Yahoo Finance files (``Date,Open,High,Low,Close,Adj Close,Volume``). Open, High, Low and
Close are used, never ``Adj Close``: the adjusted close is dividend-adjusted while the other prices are not, so
mixing it with them breaks the range-based volatility estimators (see ``../shared/data/README.md``). Any other
vendor layout is described by :class:`volts.core.config.CsvLayout`: column names, ``date_format`` (strptime),
``row_order`` (newest-first files), thousands separators and currency signs (``$12.34``, ``"1,234,567"``).

Window policy (decision): the whole file is read and parsed (an unparsable date or number anywhere is an
error, since a row that cannot be dated cannot be placed outside the window), row order is checked on the whole
file, then the bar rules act on ``[start, end]`` plus the one bar before ``start``. Bad bars outside that scope
are reported with action ``"flagged"`` in ``MarketData.report`` but do not block the run: an old bad print
should not stop an analysis of recent years.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from volts.core.config import CsvLayout
from volts.data.market import FIELDS, MarketData
from volts.data.validate import validate_bars
from volts.core.errors import DataError

#: Cell texts read as a missing value (then caught by the ``nan`` bar rule, not as an unparsable number).
MISSING_TOKENS = frozenset({"", "null", "nan", "na", "n/a", "#n/a", "none", "-", "--"})


def _fail(message: str, rule: str) -> DataError:
    exc = DataError(message)
    exc.rule = rule  # type: ignore[attr-defined]
    return exc


def symbol_file(directory: str | Path, symbol: str, layout: CsvLayout | None = None) -> Path:
    """Path of ``symbol``'s file in ``directory`` under ``layout.file_pattern``.

    Raises
    ------
    ConfigError
        ``symbol`` breaks the symbol rule of :mod:`volts.core.symbols` (e.g. ``../d/other/MU``): no path is built
        from it, so no file outside ``directory`` is read.
    """
    from volts.core.symbols import check_symbol

    layout = layout or CsvLayout()
    check_symbol(symbol, f"{directory}: symbol")
    return Path(directory) / layout.file_pattern.format(symbol=symbol)


def list_symbols(directory: str | Path, layout: CsvLayout | None = None) -> list[str]:
    """Symbols of the files in ``directory`` that match ``layout.file_pattern``, sorted.

    Raises
    ------
    DataError
        The directory does not exist, is not a directory, or holds no matching file.
    """
    layout = layout or CsvLayout()
    directory = Path(directory)
    if not directory.exists():
        raise _fail(f"{directory}: data directory not found", "path_not_found")
    if not directory.is_dir():
        raise _fail(
            f"{directory}: not a directory (expected a folder of {layout.file_pattern} files)", "not_a_directory"
        )
    pattern = layout.file_pattern
    if "{symbol}" not in pattern:
        raise _fail(f"data.csv.file_pattern '{pattern}' lacks the '{{symbol}}' placeholder", "bad_pattern")
    head, tail = pattern.split("{symbol}", 1)
    regex = re.compile(re.escape(head) + r"(.+)" + re.escape(tail) + r"\Z")
    symbols = sorted(m.group(1) for p in directory.iterdir() if p.is_file() and (m := regex.match(p.name)))
    if not symbols:
        raise _fail(f"{directory}: no files matching '{pattern}' (no CSV files)", "no_files")
    return symbols


def _grouping_rule(text: pd.Series, column: str, path: Path, dates: pd.Series, layout: CsvLayout) -> None:
    """Rule ``decimal_comma``: a thousands separator must separate groups of three digits. ``"38,69"`` under
    ``thousands = ","`` is a decimal comma, which removing the separator would read as 3869."""
    sep = layout.thousands
    if not sep:
        return
    mark = "\\." if layout.decimal == "." else ","
    has = text.str.contains(sep, regex=False).to_numpy()
    if not has.any():
        return
    good = re.compile(r"^[+-]?\d{1,3}(" + re.escape(sep) + r"\d{3})*(" + mark + r"\d*)?$")
    ok = text[has].str.match(good).to_numpy()
    if ok.all():
        return
    i = int(np.flatnonzero(has)[np.flatnonzero(~ok)[0]])
    when = dates.iloc[i]
    when = f", date {when:%Y-%m-%d}" if pd.notna(when) else ""
    raise _fail(
        f"{path}: {text.iloc[i]!r} in column '{column}', line {i + 2}{when}: the '{sep}' does not "
        f"separate groups of three digits (a decimal comma?); for such files set data.csv.decimal = ',' and "
        f"data.csv.thousands = '.' (or '')",
        "decimal_comma",
    )


def _numbers(raw: pd.Series, column: str, path: Path, dates: pd.Series, layout: CsvLayout) -> np.ndarray:
    text = raw.astype(str).str.strip()
    if layout.currency_symbols:
        text = text.str.replace("[" + re.escape(layout.currency_symbols) + "]", "", regex=True)
    text = text.str.strip()
    _grouping_rule(text, column, path, dates, layout)
    if layout.thousands:
        text = text.str.replace(layout.thousands, "", regex=False)
    if layout.decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    text = text.str.strip()
    missing = text.str.lower().isin(MISSING_TOKENS).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        when = dates.iloc[i]
        when = f", date {when:%Y-%m-%d}" if pd.notna(when) else ""
        raise _fail(
            f"{path}: unparsable number {raw.iloc[i]!r} in column '{column}', line {i + 2}{when} "
            f"({int(bad.sum())} such cell(s))",
            "bad_number",
        )
    return values


def _local_dates(raw_dates: pd.Series, layout: CsvLayout, path: Path, exc: Exception) -> pd.Series:
    """Dates whose rows carry different UTC offsets (pandas refuses them as one column): each is read on its own
    and keeps its local calendar date, as a column with one offset does. Anything else unreadable is
    ``bad_date``."""

    def one(text):
        try:
            ts = (
                pd.Timestamp(dt.datetime.strptime(text, layout.date_format))
                if layout.date_format
                else pd.Timestamp(text)
            )
        except (ValueError, TypeError):
            return pd.NaT
        return ts.tz_localize(None) if ts.tzinfo is not None else ts

    try:
        values = [one(t) for t in raw_dates]
    except Exception:  # pragma: no cover - defensive
        values = None
    if values is None:
        raise _fail(
            f"{path}: cannot read the '{layout.date}' column as dates ({type(exc).__name__}); set "
            f"data.csv.date_format to the file's strptime format",
            "bad_date",
        ) from None
    return pd.Series(pd.DatetimeIndex(values), index=raw_dates.index)


def read_csv_bars(
    path: str | Path, symbol: str, layout: CsvLayout = CsvLayout(), *, content: bytes | None = None
) -> pd.DataFrame:
    """Read one vendor CSV file into raw bars (not validated, file order kept apart from ``row_order``).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    symbol : str
        Symbol the file holds (for messages).
    layout : CsvLayout
        Column mapping and formats; the default reads Yahoo Finance files.
    content : bytes, optional
        The file's bytes, already read (the bar cache parses exactly the bytes it hashed); ``path`` then only
        names the file in messages.

    Returns
    -------
    pandas.DataFrame, shape (n_rows, 5)
        Columns open, high, low, close (quote currency, float) and volume (shares, float; 0 when the layout
        has no volume column), indexed by tz-naive dates normalised to midnight, named ``date``. Rows are in
        the file's order, reversed when ``layout.row_order == "descending"`` so that a valid file ascends.
        Missing cells (empty, ``null``, ``NaN``, ...) become NaN and are left to the validation rules.

    Raises
    ------
    DataError
        One line naming the file: file not found, empty file, missing column, unparsable date (with the raw
        text and its line), unparsable number (with the column, line and date).
    """
    path = Path(path)
    if content is None and not path.is_file():
        raise _fail(f"{path}: file not found for symbol {symbol}", "file_not_found")
    try:
        table = pd.read_csv(
            path if content is None else io.BytesIO(content),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise _fail(f"{path}: empty file (symbol {symbol})", "empty_file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(f"{path}: not a readable CSV file: {msg}", "bad_csv") from None
    table.columns = [str(c).strip() for c in table.columns]
    wanted = {"date": layout.date, "open": layout.open, "high": layout.high, "low": layout.low, "close": layout.close}
    if layout.volume is not None:
        wanted["volume"] = layout.volume
    absent = [col for col in wanted.values() if col not in table.columns]
    if absent:
        raise _fail(
            f"{path}: missing column {', '.join(repr(a) for a in absent)} (found: {', '.join(table.columns)})",
            "missing_column",
        )
    if len(table) == 0:
        raise _fail(f"{path}: empty file: header but no data rows (symbol {symbol})", "empty_file")

    raw_dates = table[layout.date].astype(str).str.strip()
    try:
        if layout.date_format:
            dates = pd.to_datetime(raw_dates, format=layout.date_format, errors="coerce")
        else:
            dates = pd.to_datetime(raw_dates, format="ISO8601", errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. mixed UTC offsets
        dates = _local_dates(raw_dates, layout, path, exc)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # keep the exchange's calendar date
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fmt = (
            f"data.csv.date_format = {layout.date_format!r}"
            if layout.date_format
            else "ISO 8601 (YYYY-MM-DD), as data.csv.date_format is unset"
        )
        raise _fail(
            f"{path}: unparsable date {table[layout.date].iloc[i]!r} on line {i + 2} "
            f"(expected {fmt}; {int(bad.sum())} such row(s)); set data.csv.date_format to the file's "
            f"strptime format, e.g. '%m/%d/%Y'",
            "bad_date",
        )
    dates = dates.dt.normalize()

    out = {}
    for name in ("open", "high", "low", "close"):
        out[name] = _numbers(table[wanted[name]], wanted[name], path, dates, layout)
    if layout.volume is not None:
        out["volume"] = _numbers(table[layout.volume], layout.volume, path, dates, layout)
    else:
        out["volume"] = np.zeros(len(table))
    frame = pd.DataFrame(out, index=pd.DatetimeIndex(dates.to_numpy(), name="date"))[list(FIELDS)]
    if layout.row_order == "descending":
        frame = frame.iloc[::-1]
    return frame


def load_csv_market(
    directory,
    symbols=None,
    start=None,
    end=None,
    layout: CsvLayout | None = None,
    on_invalid: str = "error",
    missing: str = "error",
    max_abs_return: float = 0.5,
    return_jump: str = "error",
    calendar: str | None = None,
    max_range_multiple: float | None = None,
) -> MarketData:
    """Load and validate the bars of several symbols from one directory of CSV files.

    Parameters
    ----------
    directory : str or Path
        Folder holding one file per symbol, named by ``layout.file_pattern`` (``{symbol}.csv``).
    symbols : sequence of str, optional
        Symbols to load, in this column order; None = every file matching the pattern, sorted.
    start, end : date-like, optional
        Window of bars to return, both inclusive (see the module docstring for what is validated).
    layout : CsvLayout, optional
        Column mapping and formats (default: Yahoo Finance).
    on_invalid, missing, max_abs_return, return_jump, calendar, max_range_multiple
        Validation policies, as in :func:`volts.data.validate.validate_bars` (``config: data.*``).

    Returns
    -------
    MarketData
        Aligned bars of ``[start, end]``; ``report`` holds what was dropped, filled or flagged.

    Raises
    ------
    DataError
        Directory not found or without CSV files, a symbol's file missing, any reader error of
        :func:`read_csv_bars`, a broken bar or calendar rule under the ``"error"`` policies, or a symbol with
        no rows in the window; always one line naming the file (and date and rule where they apply).
    """
    layout = layout or CsvLayout()
    directory = Path(directory)
    if symbols is None:
        symbols = list_symbols(directory, layout)
    else:
        if not directory.exists():
            raise _fail(f"{directory}: data directory not found", "path_not_found")
        if not directory.is_dir():
            raise _fail(f"{directory}: not a directory", "not_a_directory")
        symbols = list(symbols)
        if not symbols:
            raise DataError(f"{directory}: no symbols requested")
        dupes = sorted({s for s in symbols if symbols.count(s) > 1})
        if dupes:
            from volts.core.errors import UsageError

            raise UsageError(f"{', '.join(dupes)} requested more than once; list each symbol once")
    raw, sources = {}, {}
    for symbol in symbols:
        path = symbol_file(directory, symbol, layout)
        raw[symbol] = read_csv_bars(path, symbol, layout)
        sources[symbol] = str(path)
    return validate_bars(
        raw,
        sources=sources,
        start=start,
        end=end,
        on_invalid=on_invalid,
        missing=missing,
        max_abs_return=max_abs_return,
        return_jump=return_jump,
        calendar=calendar,
        max_range_multiple=max_range_multiple,
    )
