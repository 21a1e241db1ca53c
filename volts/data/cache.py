"""A cache of parsed and validated bar files (Parquet via pyarrow), so that hundreds of CSV files load in about a
second after the first run.

Parsing a vendor CSV (text cleaning, date parsing, number parsing) is the slow part of loading. Three levels of
entries, each keyed so that a change of any input misses:

* **parsed bars** of one file (:meth:`BarCache.read`): keyed by the SHA-256 of the file's bytes (any edit of the
  file, even one keeping size and mtime, misses), the SHA-256 of the CSV layout settings (column mapping, date
  format, row order, separators) and a format version of the cache; holds exactly what
  :func:`volts.data.csv.read_csv_bars` returns;
* **validated bars** of one symbol (:meth:`BarCache.validated`): keyed in addition by the symbol and every
  validation input (policies, thresholds, calendar, window), holding the validated bars and the validation
  report, so a repeated selection of the same as-of date skips validation too;
* **a validated set** (:meth:`BarCache.read_set` / :meth:`BarCache.write_set`): every symbol one load asked for,
  in one file keyed by the sorted ``(symbol, file, SHA-256 of the file)`` list, the layout and the validation
  inputs, so a repeated load is one read instead of one per file (a load of 500 files: about 0.1 s of hashing
  plus one read). Any edited, added or removed file changes the key; the per-symbol entries then serve the files
  that did not change.

A file that fails to parse or to validate is never cached (the error is raised again, with the same message, on
every load; a validated set holds only the symbols that passed, and the others are read again). Every entry ends
with a SHA-256 checksum of its Parquet bytes (:data:`TRAILER`), checked on every read before a byte is parsed: an
entry that fails it (a flipped bit, a truncated file) or cannot be read is deleted and rebuilt from the CSV files,
with a warning naming the entry, so a damaged entry never yields other prices. Entries are written atomically
(temporary file then rename), so concurrent runs sharing a cache folder never read half a file. The cache folder is
never inside the repository by default (``[data] cache_dir``, e.g. ``~/.cache/volts``); deleting it is always safe.
A validated set duplicates its members' validated entries (one more copy of the windowed bars per load window).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from pathlib import Path

from typing import TYPE_CHECKING, Callable, Mapping, NamedTuple

import numpy as np
import pandas as pd

from volts.core.config import CsvLayout

if TYPE_CHECKING:  # pragma: no cover
    from volts.data.market import MarketData
    from volts.data.validate import ValidationReport

__all__ = ["BarCache", "ValidatedBars", "file_sha256"]

#: Bump when the layout of an entry changes; old entries are then ignored.
CACHE_VERSION = 2  # 2: the Parquet bytes are followed by a checksum trailer

#: An entry is ``parquet bytes + TRAILER + sha256(parquet bytes)`` (32 raw bytes).
TRAILER = b"VOLTSHA2"
_TAIL = len(TRAILER) + 32

log = logging.getLogger("volts.data")


class DamagedEntry(Exception):
    """A cache entry whose checksum or content does not hold (never leaves this module)."""


def _payload(entry: Path) -> memoryview | None:
    """The verified Parquet bytes of ``entry``, or None when it does not exist.

    Raises
    ------
    DamagedEntry
        No checksum trailer, or the SHA-256 of the bytes differs from the one stored.
    """
    try:
        data = entry.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _TAIL or data[-_TAIL:-32] != TRAILER:
        raise DamagedEntry("no checksum trailer: truncated or not written by this version")
    body = memoryview(data)[:-_TAIL]
    if hashlib.sha256(body).digest() != data[-32:]:
        raise DamagedEntry("its SHA-256 checksum does not match its bytes")
    return body


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ValidatedBars(NamedTuple):
    """One symbol's validated bars and validation report, as loading uses them (no pandas objects per symbol).

    Attributes
    ----------
    dates : numpy.ndarray of datetime64, shape (n,)
        Bar dates, ascending and unique (the validated one-symbol MarketData's index, same unit).
    values : dict of str to numpy.ndarray, shape (n,)
        ``open``, ``high``, ``low``, ``close`` (quote currency) and ``volume`` (shares), float64.
    report : ValidationReport or None
        What validation found for this symbol.
    first_row : pandas.Timestamp or None
        Date of the file's first row before validation (the ticker-reuse rule reads it); None for an empty file.
    """

    dates: np.ndarray
    values: dict
    report: "ValidationReport | None"
    first_row: "pd.Timestamp | None"

    @classmethod
    def from_market(cls, market: "MarketData", symbol: str, first_row=None) -> "ValidatedBars":
        """The bars of ``symbol`` in a validated ``market`` (as returned by ``validate_bars``)."""
        from volts.data.market import FIELDS

        return cls(
            market.dates.to_numpy(),
            {f: getattr(market, f)[symbol].to_numpy(dtype=float) for f in FIELDS},
            market.report,
            first_row,
        )


def _report_meta(report) -> dict | None:
    if report is None:
        return None
    return {
        "problems": [p.to_dict() for p in report.problems],
        "rows_read": dict(report.rows_read),
        "rows_dropped": dict(report.rows_dropped),
        "rows_filled": dict(report.rows_filled),
    }


def _report_from(meta: dict | None):
    from volts.data.validate import Problem, ValidationReport

    if meta is None:
        return None
    return ValidationReport(
        tuple(Problem(**p) for p in meta["problems"]), meta["rows_read"], meta["rows_dropped"], meta["rows_filled"]
    )


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
        Per-symbol counters of this instance (reported by the CLI / benchmarks); a symbol served from a
        validated set counts as a hit.
    set_hits, set_misses : int
        Validated-set lookups of this instance that were served / not served.
    """

    def __init__(self, folder: str | Path, layout: CsvLayout) -> None:
        self.folder = Path(folder).expanduser()
        blob = json.dumps(layout.model_dump(mode="json"), sort_keys=True).encode()
        self._layout_key = hashlib.sha256(blob).hexdigest()[:16]
        self.hits = 0
        self.misses = 0
        self.set_hits = 0
        self.set_misses = 0

    def _entry(self, digest: str) -> Path:
        return self.folder / f"v{CACHE_VERSION}-{self._layout_key}-{digest}.parquet"

    def _drop(self, entry: Path, exc: BaseException, source: str) -> None:
        """Delete a damaged entry and say so (it is rebuilt by the caller)."""
        reason = str(exc) if isinstance(exc, DamagedEntry) else f"unreadable: {type(exc).__name__}: {exc}"
        log.warning(f"{entry}: damaged bar-cache entry ({reason}); deleted, the bars are read again from {source}")
        try:
            entry.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:  # a read-only cache: the entry is rewritten over (atomic replace) or stays ignored
            log.debug(f"{entry}: cannot delete: {err}")

    def _table(self, entry: Path):
        """The verified pyarrow Table of ``entry``, or None when missing (raises DamagedEntry or a reader error)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        body = _payload(entry)
        return None if body is None else pq.read_table(pa.BufferReader(pa.py_buffer(body)))

    def read(
        self, path: str | Path, symbol: str, layout: CsvLayout, *, expect_sha256: str | None = None
    ) -> pd.DataFrame:
        """``read_csv_bars(path, symbol, layout)``, from the cache when the same bytes were parsed before.

        The file is read once: the bytes that are hashed for the key are the bytes parsed on a miss, so a file
        rewritten meanwhile can never leave another content under its key.

        Parameters
        ----------
        expect_sha256 : str, optional
            The SHA-256 the caller keyed its own work by (e.g. a validated entry, a week's data hash): a file
            whose bytes no longer match it raises instead of being read.

        Raises
        ------
        DataError
            Whatever :func:`volts.data.csv.read_csv_bars` raises (never cached), or ``file_changed`` when the
            bytes do not match ``expect_sha256``.
        """
        from volts.data.csv import _fail, read_csv_bars

        path = Path(path)
        if not path.is_file():
            return read_csv_bars(path, symbol, layout)  # raises the reader's message
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if expect_sha256 is not None and digest != expect_sha256:
            raise _fail(
                f"{path}: the file changed while it was being loaded (SHA-256 {expect_sha256[:12]}... when "
                f"listed, {digest[:12]}... when read; rule: a load reads one version of every file); "
                f"run again once the file is no longer being written",
                "file_changed",
            )
        entry = self._entry(digest)
        if entry.is_file():
            try:
                body = _payload(entry)
                if body is not None:
                    frame = pd.read_parquet(io.BytesIO(body), engine="pyarrow")
                    self.hits += 1
                    return frame
            except Exception as exc:  # a damaged entry is deleted and rebuilt  # noqa: BLE001
                self._drop(entry, exc, str(path))
        frame = read_csv_bars(path, symbol, layout, content=content)
        self.misses += 1
        self._write(entry, frame)
        return frame

    def _write(self, entry: Path, frame, meta: dict | None = None) -> None:
        """Write ``frame`` (a DataFrame, or a pyarrow Table) to ``entry`` atomically, ``meta`` (JSON) riding in the
        Parquet schema metadata under ``volts``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(fd)
        try:
            table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame)  # what to_parquet does
            if meta is not None:
                old = table.schema.metadata or {}
                table = table.replace_schema_metadata({**old, b"volts": json.dumps(meta).encode()})
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink)
            body = sink.getvalue().to_pybytes()
            with open(tmp, "wb") as fh:
                fh.write(body + TRAILER + hashlib.sha256(body).digest())
            os.replace(tmp, entry)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # --------------------------------------------------------------------------------- validated bars
    def validated(
        self,
        path: str | Path,
        symbol: str,
        layout: CsvLayout,
        params: dict,
        validate: Callable[[pd.DataFrame], "MarketData"],
        digest: str | None = None,
    ) -> ValidatedBars:
        """One symbol's validated bars, cached by file bytes, layout, symbol and validation ``params``.

        Parameters
        ----------
        path : str or Path
            The symbol's CSV file.
        symbol : str
        layout : CsvLayout
            The layout the file is parsed with.
        params : dict
            Every input of the validation besides the bars (policies, thresholds, calendar, window, file name).
        validate : callable
            ``validate(raw)`` is called on a miss with the parsed bars and must return a one-symbol MarketData.
        digest : str, optional
            The file's SHA-256 when the caller has it already (saves hashing the file twice).

        Returns
        -------
        ValidatedBars

        Raises
        ------
        DataError
            Whatever reading or ``validate`` raises (never cached).
        """
        path = Path(path)
        if not path.is_file():
            raw = self.read(path, symbol, layout)  # raises the reader's message
            return ValidatedBars.from_market(validate(raw), symbol, raw.index.min() if len(raw.index) else None)
        blob = json.dumps({"params": params, "symbol": symbol}, sort_keys=True, default=str).encode()
        key = f"{digest or file_sha256(path)}-{hashlib.sha256(blob).hexdigest()[:16]}"
        entry = self.folder / f"v{CACHE_VERSION}-{self._layout_key}-valid-{key}.parquet"
        if entry.is_file():
            try:
                from volts.data.market import FIELDS

                table = self._table(entry)
                if table is None:
                    raise FileNotFoundError(entry)
                meta = json.loads(table.schema.metadata[b"volts"])
                bars = ValidatedBars(
                    table.column("date").to_numpy(),
                    {f: table.column(f).to_numpy().astype(float, copy=False) for f in FIELDS},
                    _report_from(meta),
                    pd.Timestamp(meta["first_row"]) if meta.get("first_row") else None,
                )
                self.hits += 1
                return bars
            except FileNotFoundError:  # removed meanwhile (another run cleaning the cache): a plain miss
                pass
            except Exception as exc:  # a damaged entry is deleted and rebuilt  # noqa: BLE001
                self._drop(entry, exc, str(path))
        raw = self.read(path, symbol, layout, expect_sha256=key.split("-")[0])  # the bytes the key names
        first = raw.index.min() if len(raw.index) else None
        market = validate(raw)
        bars = ValidatedBars.from_market(market, symbol, first)
        meta = {
            "first_row": None if first is None else first.isoformat(),
            **(_report_meta(market.report) or {"problems": [], "rows_read": {}, "rows_dropped": {}, "rows_filled": {}}),
        }
        frame = pd.DataFrame(bars.values, index=pd.DatetimeIndex(bars.dates, name="date"))
        self._write(entry, frame, meta)
        return bars

    # -------------------------------------------------------------------------------- validated sets
    def set_key(self, items, params: dict) -> str:
        """Key of a validated set: SHA-256 over the sorted ``(symbol, file, file SHA-256)`` ``items``, the
        validation ``params`` (shared by every symbol), the layout and the format version."""
        blob = json.dumps(
            {
                "items": sorted([list(map(str, i)) for i in items]),
                "params": params,
                "version": CACHE_VERSION,
                "layout": self._layout_key,
            },
            sort_keys=True,
            default=str,
        ).encode()
        return hashlib.sha256(blob).hexdigest()

    def _set_entry(self, key: str) -> Path:
        return self.folder / f"v{CACHE_VERSION}-{self._layout_key}-set-{key}.parquet"

    def read_set(self, key: str) -> dict[str, ValidatedBars] | None:
        """The validated bars of every symbol stored under ``key`` (the symbols that passed validation when the
        set was written), or None on a miss or an unreadable entry (counted in ``set_misses``).

        The symbols served are counted as per-symbol ``hits``.
        """
        entry = self._set_entry(key)
        if entry.is_file():
            try:
                from volts.data.market import FIELDS

                table = self._table(entry)
                if table is None:
                    raise FileNotFoundError(entry)
                meta = json.loads(table.schema.metadata[b"volts"])
                if meta.get("key") != key:
                    raise ValueError("entry holds another key")
                symbols = meta["symbols"]
                bounds = np.cumsum([0] + meta["rows"])
                if len(symbols) != len(meta["rows"]) or bounds[-1] != table.num_rows:
                    raise ValueError("entry's row counts disagree with its table")
                dates = table.column("date").to_numpy()
                values = {f: table.column(f).to_numpy().astype(float, copy=False) for f in FIELDS}
                out = {}
                for i, sym in enumerate(symbols):
                    a, b = bounds[i], bounds[i + 1]
                    first = meta["first_rows"][i]
                    out[sym] = ValidatedBars(
                        dates[a:b],
                        {f: v[a:b] for f, v in values.items()},
                        _report_from(meta["reports"][i]),
                        pd.Timestamp(first) if first else None,
                    )
                self.set_hits += 1
                self.hits += len(out)
                return out
            except FileNotFoundError:  # removed meanwhile: a plain miss
                pass
            except Exception as exc:  # a damaged entry is deleted (and rewritten by the caller)  # noqa: BLE001
                self._drop(entry, exc, "the members' files")
        self.set_misses += 1
        return None

    def write_set(self, key: str, bars: Mapping[str, ValidatedBars]) -> None:
        """Store ``bars`` (symbol -> validated bars, in load order) under ``key``, atomically: one Parquet in long
        form (a row per symbol and date), the reports and first rows in its metadata."""
        import pyarrow as pa

        from volts.data.market import FIELDS

        symbols = list(bars)
        parts = [bars[s] for s in symbols]
        dates = np.concatenate([p.dates for p in parts]) if parts else np.array([], dtype="datetime64[us]")
        columns = {"date": pa.array(dates)}
        for f in FIELDS:
            columns[f] = pa.array(np.concatenate([p.values[f] for p in parts]) if parts else np.array([], float))
        meta = {
            "key": key,
            "symbols": symbols,
            "rows": [int(len(p.dates)) for p in parts],
            "first_rows": [None if p.first_row is None else pd.Timestamp(p.first_row).isoformat() for p in parts],
            "reports": [_report_meta(p.report) for p in parts],
        }
        self._write(self._set_entry(key), pa.table(columns), meta)
