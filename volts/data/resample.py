"""Resampling bars to a coarser bar size (H1 -> H4 -> D1), aligned to the calendar's session boundaries.

Aggregation (the usual OHLCV rules): open = the first bar's open, high = the highest high, low = the lowest low,
close = the last bar's close, volume = the sum (pandas ``Resampler.agg`` / ``GroupBy.agg``).

Bucket boundaries:

* ``24/7``, ``24/5`` and ``"bars"``: UTC midnight and multiples of the target size after it (H4 buckets open at
  00:00, 04:00, ... UTC; D1 buckets are UTC days, labelled by their date);
* an exchange code: the session's open and multiples of the target size after it, cut at the session's close
  (H4 buckets of XNYS open at 09:30 and 13:30 New York time; the second ends at the 16:00 close); a D1 bucket is
  the whole session, labelled by its date.

**Partial buckets are dropped** (decision): a bucket holding fewer source bars than the calendar expects in it (a
vendor gap, the first and last incomplete bucket of a file) would be a bar of another size; the count dropped is
returned so the caller reports it. A bucket in which the calendar expects no bar at all (the FX vendor's
Sunday-evening bar before a 24/5 week opens) counts as partial too. ``partial="keep"`` keeps them, and the result's ``bars`` and ``expected``
columns say which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from volts.data.intraday_calendar import _grid, calendar_kind, expected_mask, grid_phase
from volts.data.market import FIELDS
from volts.data.timeframes import Timeframe, timeframe
from volts.core.errors import UsageError

__all__ = ["resample_bars", "bucket_starts"]

_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def bucket_starts(stamps: pd.DatetimeIndex, to: Timeframe, calendar: str | None) -> pd.DatetimeIndex:
    """Open time of the ``to`` bucket each bar (by its open time, UTC) falls in.

    Returns
    -------
    pandas.DatetimeIndex, shape (n,)
        NaT for a bar outside every session of an exchange calendar.
    """
    kind = calendar_kind(calendar)
    if kind != "exchange":
        if to.is_daily:
            return stamps.normalize()
        return stamps.floor(to.duration)
    from volts.data.calendar import exchange_calendar

    sched = exchange_calendar(calendar).schedule
    opens = sched["open"].dt.tz_convert("UTC").dt.tz_localize(None)
    closes = sched["close"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    o = opens.to_numpy()
    s = stamps.to_numpy().astype(o.dtype)
    i = np.searchsorted(o, s, side="right") - 1
    inside = (i >= 0) & (s < closes[np.maximum(i, 0)])
    out = np.full(len(stamps), np.datetime64("NaT"), dtype=o.dtype)
    if to.is_daily:
        labels = sched.index.tz_localize(None) if sched.index.tz is not None else sched.index
        out[inside] = labels.to_numpy().astype(o.dtype)[i[inside]]
    else:
        start = o[i[inside]]
        step = np.timedelta64(int(to.duration.total_seconds()), "s").astype((s - s).dtype)
        out[inside] = start + ((s[inside] - start) // step) * step
    return pd.DatetimeIndex(out)


def resample_bars(
    bars: pd.DataFrame, source: str | Timeframe, to: str | Timeframe, calendar: str | None, *, partial: str = "drop"
) -> tuple[pd.DataFrame, int]:
    """Aggregate bars of size ``source`` into bars of size ``to``.

    Parameters
    ----------
    bars : pandas.DataFrame, shape (n, 5)
        Columns open, high, low, close, volume, indexed by tz-naive UTC open times (ascending, unique).
    source, to : str or Timeframe
        Bar sizes; ``to`` must be a whole multiple of ``source`` (H1 -> H4, H4 -> D1, ...).
    calendar : str or None
        ``"24/7"``, ``"24/5"``, ``"bars"`` or an exchange code (see the module docstring).
    partial : {"drop", "keep"}
        What happens to a bucket with fewer source bars than the calendar expects.

    Returns
    -------
    resampled : pandas.DataFrame
        Columns open, high, low, close, volume, bars (source bars in the bucket), expected (source bars the
        calendar expects in it), indexed by the bucket's open time (``D1``: its date), named ``time`` (``date``
        for D1).
    dropped : int
        Partial buckets dropped (0 under ``partial="keep"``).

    Raises
    ------
    UsageError
        ``to`` not coarser than ``source`` or not a multiple of it; an unknown ``partial``.
    """
    src, dst = timeframe(source), timeframe(to)
    if dst.minutes <= src.minutes or dst.minutes % src.minutes:
        raise UsageError(
            f"cannot resample {src.name} bars to {dst.name}: the target must be a whole multiple of "
            f"the source (e.g. H1 -> H4 -> D1)"
        )
    if partial not in ("drop", "keep"):
        raise UsageError(f"partial must be 'drop' or 'keep' (got {partial!r})")
    if len(bars) == 0:
        return bars.assign(bars=0, expected=0), 0
    key = bucket_starts(bars.index, dst, calendar)
    frame = bars[list(FIELDS)].assign(_key=key.to_numpy()).dropna(subset=["_key"])
    out = frame.groupby("_key", sort=True).agg(_AGG)
    out["bars"] = frame.groupby("_key").size()
    # the source bars the calendar expects in each bucket, on the source grid over whole UTC days of the data (so
    # that a file starting or ending inside a bucket leaves that bucket partial)
    grid = _grid(
        bars.index[0].normalize(),
        bars.index[-1].normalize() + pd.Timedelta(days=1) - src.duration,
        src,
        grid_phase(bars.index, src),
    )
    grid = grid[expected_mask(grid, src, calendar, present=bars.index)]
    exp_key = bucket_starts(grid, dst, calendar)
    expected = pd.Series(1, index=exp_key[exp_key.notna()]).groupby(level=0).size()
    out["expected"] = expected.reindex(out.index).fillna(0).astype(int)
    complete = (out["bars"] >= out["expected"]) & (out["expected"] > 0)  # a bucket off the calendar: partial
    dropped = 0
    if partial == "drop":
        dropped = int((~complete).sum())
        out = out[complete]
    out.index = pd.DatetimeIndex(out.index, name="date" if dst.is_daily else "time")
    return out[list(FIELDS) + ["bars", "expected"]], dropped


def resample_folder(data, directory, to: str, out_dir, *, symbols=None, partial: str = "drop") -> list[dict]:
    """Resample every intraday file of a folder and write one file per symbol (``volts data resample``).

    Each file is read as ``data.timeframe`` bars (:func:`volts.data.intraday_csv.read_intraday_csv`), rows breaking
    a bar rule are left out (counted), and the bars are aggregated to ``to`` on ``data.calendar``. Intraday results
    are written tab-separated with a ``Time Open High Low Close Volume`` header (UTC open times); ``D1`` results
    comma-separated with a ``Date,Open,High,Low,Close,Volume`` header, which the daily reader reads as it is.

    Parameters
    ----------
    data : DataSettings
        ``timeframe`` (the source size), ``calendar``, ``timezone`` and the CSV layout.
    directory : str or Path
        Source folder (never written to).
    to : str
        Target bar size.
    out_dir : str or Path
        Folder for the results (created); must differ from ``directory``.
    symbols : sequence of str, optional
        Default: every matching file.
    partial : {"drop", "keep"}

    Returns
    -------
    list of dict
        One per symbol: symbol, file, rows_in, bad_rows, rows_out, partial_dropped.

    Raises
    ------
    UsageError
        ``out_dir`` is the source folder; a bad target size.
    DataError
        A file cannot be read.
    """
    from pathlib import Path

    from volts.data.csv import list_symbols, symbol_file
    from volts.data.intraday_calendar import check_intraday_bars
    from volts.data.intraday_csv import read_intraday_csv

    src, dst = timeframe(data.timeframe), timeframe(to)
    folder, out = Path(directory), Path(out_dir)
    if out.resolve() == folder.resolve():
        raise UsageError(f"--out {out} is the source folder; resampled files go to a folder of their own")
    names = list_symbols(folder, data.csv) if symbols is None else list(symbols)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for symbol in names:
        path = symbol_file(folder, symbol, data.csv)
        read = read_intraday_csv(path, symbol, data.csv, timezone=data.timezone)
        _, bad = check_intraday_bars(read.bars, symbol, str(path), src)
        bars = read.bars[~bad]
        res, dropped = resample_bars(bars, src, dst, data.calendar, partial=partial)
        table = res[list(FIELDS)].rename(columns=str.capitalize)
        target = out / f"{symbol}.csv"
        if dst.is_daily:
            table.index = table.index.strftime("%Y-%m-%d")
            table.to_csv(target, index_label="Date")
        else:
            table.index = table.index.strftime("%Y-%m-%d %H:%M:%S")
            table.to_csv(target, sep="\t", index_label="Time")
        rows.append(
            {
                "symbol": symbol,
                "file": str(target),
                "rows_in": len(read.bars),
                "bad_rows": int(bad.sum()),
                "rows_out": len(res),
                "partial_dropped": dropped,
            }
        )
    return rows
