"""Intraday CSV files of any common layout: bars stamped with a time of day, in a stated time zone.

Used when ``[data] timeframe`` is finer than ``D1`` (the daily reader, :mod:`volts.data.csv`, is unchanged). What
the reader detects, and reports in :class:`IntradayFile` (``volts data check`` prints it):

* the **separator**: tab, comma or semicolon, whichever splits the first line into the most fields
  (:class:`csv.Sniffer` is not used: it guesses wrong on lines of numbers with decimal points);
* a **header line** or none: the first line is data when its first field reads as a time stamp. Without a header
  the columns are taken by position: time, open, high, low, close and, when present, volume (the layout of
  MetaTrader5's and most vendors' exports without a header);
* with a header, the time column is ``data.csv.date`` or one of ``Time, Date, Datetime, Timestamp, Gmt time``
  (case-insensitive); MetaTrader5's export (``<DATE>`` and ``<TIME>`` in two columns, ``2023.09.11``) is read too;
  open/high/low/close/volume by ``data.csv`` names or their case-insensitive match (``<TICKVOL>`` for volume when
  ``<VOL>`` is all zero is not guessed: volume is whatever column is named so);
* **stamps** ISO 8601 with or without seconds (``2007-01-24 16:00``), MetaTrader5's ``2023.09.11 16:00``, or
  ``data.csv.date_format`` when set.

Stamps are read in ``[data] timezone`` (default UTC) and held as tz-naive **UTC** instants of the bar's **open**
(:mod:`volts.data.timeframes`). A local stamp that does not exist or is ambiguous at a daylight-saving change is
an error naming it (set the time zone the vendor actually writes, usually UTC or the broker's fixed offset).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from volts.core.config import CsvLayout
from volts.data.market import FIELDS
from volts.core.errors import DataError

__all__ = ["IntradayFile", "read_intraday_csv", "detect_layout"]

_SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon"}
_TIME_NAMES = ("time", "date", "datetime", "timestamp", "gmt time", "local time", "<date>")
_STAMP_FORMATS = ("%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S",
                  "%d.%m.%Y %H:%M")
_MISSING = frozenset({"", "null", "nan", "na", "n/a", "#n/a", "none", "-", "--"})


def _fail(message: str, rule: str) -> DataError:
    exc = DataError(message)
    exc.rule = rule  # type: ignore[attr-defined]
    return exc


@dataclass(frozen=True)
class IntradayFile:
    """One intraday file as read.

    Attributes
    ----------
    bars : pandas.DataFrame, shape (n_rows, 5)
        Columns open, high, low, close, volume (float; volume 0 when the file has none), indexed by tz-naive UTC
        open times named ``time``, in file order (not validated).
    separator : str
        ``"tab"``, ``"comma"`` or ``"semicolon"``.
    header : bool
        Whether the first line names the columns.
    columns : dict of str to str
        Field -> the file's column (``"#1"`` .. ``"#6"`` by position without a header).
    quirks : list of str
        What a reader of this file should know (no header, stamps without seconds, no volume column, ...).
    """

    bars: pd.DataFrame
    separator: str
    header: bool
    columns: dict
    quirks: list = field(default_factory=list)

    @property
    def layout(self) -> str:
        """One-line description, e.g. ``"tab, no header"``."""
        return f"{self.separator}, {'header' if self.header else 'no header'}"


def _looks_like_stamp(text: str) -> bool:
    text = text.strip().strip('"')
    return bool(re.match(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?", text)
                or re.match(r"^\d{1,2}[./]\d{1,2}[./]\d{4}", text))


def detect_layout(first_line: str) -> tuple[str, bool]:
    """Separator character and whether ``first_line`` is a header.

    Returns
    -------
    separator : str
        ``"\\t"``, ``","`` or ``";"``.
    header : bool
        False when the first field reads as a time stamp (the line is a bar).
    """
    counts = {sep: first_line.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=lambda s: (counts[s], s == "\t"))
    if counts[sep] == 0:
        sep = ","
    first = first_line.split(sep, 1)[0]
    return sep, not _looks_like_stamp(first)


def _match(columns: list[str], wanted: str | None, fallbacks: tuple[str, ...] = ()) -> str | None:
    lower = {c.strip().lower().strip("<>"): c for c in columns}
    for name in ((wanted,) if wanted else ()) + fallbacks:
        hit = lower.get(name.strip().lower().strip("<>"))
        if hit is not None:
            return hit
    return None


def _stamps(raw: pd.Series, layout: CsvLayout, path: Path, line0: int) -> pd.DatetimeIndex:
    text = raw.astype(str).str.strip().str.strip('"')
    if layout.date_format:
        out = pd.to_datetime(text, format=layout.date_format, errors="coerce")
    else:
        out = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if out.isna().any():
            for fmt in _STAMP_FORMATS:
                alt = pd.to_datetime(text, format=fmt, errors="coerce")
                if alt.notna().sum() > out.notna().sum():
                    out = alt
                if out.notna().all():
                    break
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = out.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(f"{path}: unparsable time stamp {raw.iloc[i]!r} on line {i + line0} ({int(bad.sum())} such "
                    f"row(s)); expected 'YYYY-MM-DD HH:MM[:SS]' or 'YYYY.MM.DD HH:MM'; set data.csv.date_format to "
                    f"the file's strptime format, e.g. '%d/%m/%Y %H:%M'", "bad_date")
    return pd.DatetimeIndex(out.to_numpy())


def _to_utc(stamps: pd.DatetimeIndex, timezone: str, path: Path) -> pd.DatetimeIndex:
    if timezone in ("UTC", "Etc/UTC", "GMT"):
        return stamps
    try:
        local = stamps.tz_localize(timezone, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo AmbiguousTimeError / NonExistentTimeError
        raise _fail(f"{path}: time stamp {str(exc).splitlines()[0]} cannot be placed in data.timezone "
                    f"{timezone!r} (a daylight-saving change); set data.timezone to the zone the file is written "
                    f"in (vendors and brokers usually write UTC or a fixed offset such as 'Etc/GMT-2')",
                    "bad_timezone") from None
    return local.tz_convert("UTC").tz_localize(None)


def _numbers(raw: pd.Series, column: str, path: Path, stamps: pd.DatetimeIndex, line0: int,
             layout: CsvLayout) -> np.ndarray:
    text = raw.astype(str).str.strip().str.strip('"')
    if layout.decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    missing = text.str.lower().isin(_MISSING).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(f"{path}: unparsable number {raw.iloc[i]!r} in column '{column}', line {i + line0}, "
                    f"bar {stamps[i]:%Y-%m-%d %H:%M} ({int(bad.sum())} such cell(s))", "bad_number")
    return values


def read_intraday_csv(path: str | Path, symbol: str, layout: CsvLayout | None = None, *, timezone: str = "UTC",
                      content: bytes | None = None) -> IntradayFile:
    """Read one intraday CSV file of any common layout (see the module docstring for what is detected).

    Parameters
    ----------
    path : str or Path
        The file.
    symbol : str
        Symbol it holds (for messages).
    layout : CsvLayout, optional
        Column names and formats (``data.csv``); names are matched case-insensitively, with the fallbacks above.
    timezone : str, default "UTC"
        IANA zone the stamps are written in (``data.timezone``).
    content : bytes, optional
        The file's bytes, already read.

    Returns
    -------
    IntradayFile
        Bars indexed by UTC open time (file order), with the detected layout and quirks.

    Raises
    ------
    DataError
        File not found or empty, a missing column, an unparsable stamp or number (with the line), a local stamp
        that the time zone makes ambiguous. Each names the file and carries ``rule``.
    """
    layout = layout or CsvLayout()
    path = Path(path)
    if content is None:
        if not path.is_file():
            raise _fail(f"{path}: file not found for symbol {symbol}", "file_not_found")
        content = path.read_bytes()
    text = content.decode("utf-8-sig", errors="replace")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise _fail(f"{path}: empty file (symbol {symbol})", "empty_file")
    sep, header = detect_layout(first_line)
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, dtype=str,
                            keep_default_na=False, na_filter=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise _fail(f"{path}: not a readable CSV file: {str(exc).strip().splitlines()[0]}", "bad_csv") from None
    quirks: list[str] = []
    if header:
        table.columns = [str(c).strip() for c in table.columns]
        cols = list(table.columns)
        date_col = _match(cols, layout.date, _TIME_NAMES)
        time_col = _match(cols, None, ("<time>",)) if date_col and date_col.strip().lower() == "<date>" else None
        names = {f: _match(cols, getattr(layout, f), (f,)) for f in ("open", "high", "low", "close")}
        vol = _match(cols, layout.volume, ("volume", "vol", "tickvol", "tick volume")) if layout.volume else None
        absent = [repr(getattr(layout, f)) for f, c in names.items() if c is None]
        if date_col is None:
            absent.insert(0, f"{layout.date!r} (or Time)")
        if absent:
            raise _fail(f"{path}: missing column {', '.join(absent)} (found: {', '.join(cols)}); set data.csv.* "
                        f"to the file's column names", "missing_column")
        line0 = 2
    else:
        n = table.shape[1]
        if n < 5:
            raise _fail(f"{path}: no header line and {n} column(s); a header-less file needs time, open, high, "
                        f"low, close[, volume] in that order", "missing_column")
        table.columns = [f"#{i + 1}" for i in range(n)]
        date_col, time_col = "#1", None
        names = {"open": "#2", "high": "#3", "low": "#4", "close": "#5"}
        vol = "#6" if n >= 6 else None
        quirks.append(f"no header line: columns read by position (time, open, high, low, close"
                      f"{', volume' if vol else ''})")
        line0 = 1
    if len(table) == 0:
        raise _fail(f"{path}: empty file: header but no data rows (symbol {symbol})", "empty_file")
    raw_time = table[date_col].astype(str)
    if time_col is not None:
        raw_time = raw_time.str.strip() + " " + table[time_col].astype(str).str.strip()
    stamps = _stamps(raw_time, layout, path, line0)
    if not raw_time.str.strip().str.contains(r"\d:\d\d:\d\d").any():
        quirks.append("time stamps without seconds")
    if (stamps == stamps.normalize()).all() and len(stamps) > 1:
        quirks.append("every stamp is at midnight: daily bars? (set data.timeframe = 'D1')")
    if timezone not in ("UTC", "Etc/UTC", "GMT"):
        quirks.append(f"stamps read in {timezone} and converted to UTC")
    stamps = _to_utc(stamps, timezone, path)
    out = {f: _numbers(table[c], c, path, stamps, line0, layout) for f, c in names.items()}
    if vol is not None:
        out["volume"] = _numbers(table[vol], vol, path, stamps, line0, layout)
    else:
        out["volume"] = np.zeros(len(table))
        quirks.append("no volume column (volume = 0)")
    bars = pd.DataFrame(out, index=pd.DatetimeIndex(stamps, name="time"))[list(FIELDS)]
    if layout.row_order == "descending":
        bars = bars.iloc[::-1]
    columns = {"time": date_col if time_col is None else f"{date_col} + {time_col}", **names}
    columns["volume"] = vol
    return IntradayFile(bars, _SEPARATORS[sep], header, columns, quirks)
