"""A cache of parsed bar files (Parquet via pyarrow), so that hundreds of CSV files load in about a second.

Parsing a vendor CSV (text cleaning, date parsing, number parsing) is the slow part of loading; validation runs
afterwards on every load, so every bar rule still applies with the current settings. An entry is keyed by

* the SHA-256 of the file's bytes (any edit of the file, even one keeping size and mtime, misses the cache),
* the SHA-256 of the CSV layout settings (column mapping, date format, row order, separators), and
* a format version of the cache itself,

and holds exactly what :func:`volts.data.csv.read_csv_bars` returns. :meth:`BarCache.validated` adds a second
level: one symbol's *validated* bars and validation report, keyed in addition by every validation input
(policies, thresholds, calendar, window), so a repeated selection of the same as-of date skips validation too
(a new window or setting is a new key, validated afresh). A file that fails to parse is never cached
(the error is raised again, with the same message, on every load). Entries are written atomically (temporary file
then rename), so concurrent runs sharing a cache folder never read half a file. The cache folder is never inside
the repository by default (``[data] cache_dir``, e.g. ``~/.cache/volts``); deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from volts.config import CsvLayout

__all__ = ["BarCache", "file_sha256"]

#: Bump when the layout of an entry changes; old entries are then ignored.
CACHE_VERSION = 1


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class BarCache:
    """Parsed-bars cache in one folder (created on first write).

    Parameters
    ----------
    folder : str or Path
        Where entries live (``~`` is expanded).
    layout : CsvLayout
        The CSV layout the entries were parsed with (part of the key).

    Attributes
    ----------
    hits, misses : int
        Counters of this instance (reported by the CLI / benchmarks).
    """

    def __init__(self, folder: str | Path, layout: CsvLayout) -> None:
        self.folder = Path(folder).expanduser()
        blob = json.dumps(layout.model_dump(mode="json"), sort_keys=True).encode()
        self._layout_key = hashlib.sha256(blob).hexdigest()[:16]
        self.hits = 0
        self.misses = 0

    def _entry(self, digest: str) -> Path:
        return self.folder / f"v{CACHE_VERSION}-{self._layout_key}-{digest}.parquet"

    def read(self, path: str | Path, symbol: str, layout: CsvLayout) -> pd.DataFrame:
        """``read_csv_bars(path, symbol, layout)``, from the cache when the same bytes were parsed before.

        Raises
        ------
        DataError
            Whatever :func:`volts.data.csv.read_csv_bars` raises (never cached).
        """
        from volts.data.csv import read_csv_bars

        path = Path(path)
        if not path.is_file():
            return read_csv_bars(path, symbol, layout)  # raises the reader's message
        entry = self._entry(file_sha256(path))
        if entry.is_file():
            try:
                frame = pd.read_parquet(entry, engine="pyarrow")
                self.hits += 1
                return frame
            except Exception:  # a damaged entry is ignored and rewritten  # noqa: BLE001
                pass
        frame = read_csv_bars(path, symbol, layout)
        self.misses += 1
        self._write(entry, frame)
        return frame

    def _write(self, entry: Path, frame: pd.DataFrame, meta: dict | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(fd)
        try:
            if meta is not None:  # the validation report rides in the Parquet schema metadata
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame)
                old = table.schema.metadata or {}
                table = table.replace_schema_metadata({**old, b"volts": json.dumps(meta).encode()})
                pq.write_table(table, tmp)
            else:
                frame.to_parquet(tmp, engine="pyarrow")
            os.replace(tmp, entry)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def validated(self, path: str | Path, symbol: str, layout: CsvLayout, params: dict, validate):
        """``(market, first_row)``: one symbol's validated :class:`MarketData` and the date of its file's first
        row, cached by file bytes, layout and validation ``params``.

        ``params`` must hold every input of the validation besides the bars (policies, thresholds, calendar,
        window); ``validate(raw)`` is called on a miss with the parsed bars and must return a one-symbol
        MarketData. A validation failure (DataError) is never cached.
        """
        from volts.data.market import FIELDS, MarketData
        from volts.data.validate import Problem, ValidationReport

        path = Path(path)
        if not path.is_file():
            raw = self.read(path, symbol, layout)   # raises the reader's message
            return validate(raw), (raw.index.min() if len(raw.index) else None)
        blob = json.dumps({"params": params, "symbol": symbol}, sort_keys=True, default=str).encode()
        key = f"{file_sha256(path)}-{hashlib.sha256(blob).hexdigest()[:16]}"
        entry = self.folder / f"v{CACHE_VERSION}-{self._layout_key}-valid-{key}.parquet"
        if entry.is_file():
            try:
                import pyarrow.parquet as pq

                table = pq.read_table(entry)
                meta = json.loads(table.schema.metadata[b"volts"])
                frame = table.to_pandas()
                report = ValidationReport(tuple(Problem(**p) for p in meta["problems"]), meta["rows_read"],
                                          meta["rows_dropped"], meta["rows_filled"])
                self.hits += 1
                first = pd.Timestamp(meta["first_row"]) if meta.get("first_row") else None
                index = pd.DatetimeIndex(frame.index, name="date")
                values = {f: pd.DataFrame(frame[f].to_numpy(dtype=float)[:, None], index=index, columns=[symbol])
                          for f in FIELDS}
                return MarketData(**values, report=report), first
            except Exception:  # a damaged entry is ignored and rewritten  # noqa: BLE001
                pass
        raw = self.read(path, symbol, layout)
        first = raw.index.min() if len(raw.index) else None
        market = validate(raw)
        rep = market.report
        meta = {"first_row": None if first is None else first.isoformat(),
                "problems": [p.to_dict() for p in rep.problems] if rep else [],
                "rows_read": dict(rep.rows_read) if rep else {}, "rows_dropped": dict(rep.rows_dropped) if rep else {},
                "rows_filled": dict(rep.rows_filled) if rep else {}}
        frame = pd.DataFrame({f: getattr(market, f)[symbol] for f in FIELDS})
        self._write(entry, frame, meta)
        return market, first
