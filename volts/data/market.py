"""``MarketData``: the aligned daily bars of a universe.

One wide frame per field (open, high, low, close, volume), indexed by a tz-naive ``DatetimeIndex`` of trading
dates (the exchange's calendar date of the bar), columns = symbols, all on one calendar, no NaN. A bar dated t is
known after the close of t.

Instances are built by the sources through validation (``volts.data.validate``); the constructor re-checks the
structural invariants so that a hand-built instance cannot break them either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from volts.core.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from volts.data.problems import ValidationReport

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned daily OHLCV bars of a universe.

    Attributes
    ----------
    open, high, low, close, volume : pandas.DataFrame, shape (n_dates, n_symbols)
        Prices in the quote currency, volume in shares; index = trading dates (tz-naive, ascending, unique);
        columns = symbols, identical across fields.
    report : ValidationReport or None
        What validation found, dropped or filled while building this object.
    """

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    volume: pd.DataFrame
    report: "ValidationReport | None" = field(default=None, repr=False)

    def __post_init__(self) -> None:
        ref = self.close
        if not isinstance(ref.index, pd.DatetimeIndex):
            raise DataError("MarketData: index must be a DatetimeIndex of trading dates")
        if ref.index.tz is not None:
            raise DataError("MarketData: index must be tz-naive exchange dates")
        if not ref.index.is_monotonic_increasing or not ref.index.is_unique:
            raise DataError("MarketData: dates must be unique and ascending")
        for name in FIELDS:
            frame = getattr(self, name)
            if not frame.index.equals(ref.index) or list(frame.columns) != list(ref.columns):
                raise DataError(f"MarketData: field '{name}' is not aligned with 'close'")
            if frame.isna().to_numpy().any():
                raise DataError(f"MarketData: field '{name}' holds NaN after validation")

    # ------------------------------------------------------------------ views
    @property
    def symbols(self) -> list[str]:
        """Symbols (columns), in order."""
        return list(self.close.columns)

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Trading dates (index)."""
        return self.close.index

    def __len__(self) -> int:
        return len(self.close.index)

    def field(self, name: str) -> pd.DataFrame:
        """The wide frame of one field (``open``, ``high``, ``low``, ``close`` or ``volume``)."""
        if name not in FIELDS:
            raise KeyError(f"unknown field {name!r}; expected one of {FIELDS}")
        return getattr(self, name)

    def bars(self, symbol: str) -> pd.DataFrame:
        """One symbol's bars as a long frame with columns open, high, low, close, volume."""
        if symbol not in self.close.columns:
            raise DataError(f"{symbol}: symbol not in the market data ({', '.join(self.symbols)})")
        return pd.DataFrame({f: getattr(self, f)[symbol] for f in FIELDS})

    def _map(self, fn) -> "MarketData":
        return MarketData(**{f: fn(getattr(self, f)) for f in FIELDS}, report=self.report)

    def slice(self, start=None, end=None) -> "MarketData":
        """Bars with ``start <= date <= end`` (both inclusive, either may be None).

        Raises
        ------
        DataError
            When no bar falls in the window.
        """
        start_ts = pd.Timestamp(start) if start is not None else None
        end_ts = pd.Timestamp(end) if end is not None else None
        out = self._map(lambda df: df.loc[start_ts:end_ts])
        if len(out) == 0:
            raise DataError(
                f"no bars between {start_ts.date() if start_ts is not None else 'start'} and "
                f"{end_ts.date() if end_ts is not None else 'end'} "
                f"(data span {self.dates[0].date()} .. {self.dates[-1].date()})"
            )
        return out

    def select(self, symbols: Iterable[str]) -> "MarketData":
        """The same dates restricted to ``symbols`` (in that order).

        Raises
        ------
        DataError
            When a symbol is absent.
        """
        symbols = list(symbols)
        missing = [s for s in symbols if s not in self.close.columns]
        if missing:
            raise DataError(f"{', '.join(missing)}: symbol not in the market data ({', '.join(self.symbols)})")
        return self._map(lambda df: df[symbols])

    # ---------------------------------------------------------------- returns
    def log_returns(self, price: str = "close") -> pd.DataFrame:
        """Log returns ln(P_t / P_{t-1}), shape (n_dates - 1, n_symbols); the first date is dropped."""
        p = self.field(price)
        return np.log(p / p.shift(1)).iloc[1:]

    def simple_returns(self, price: str = "close") -> pd.DataFrame:
        """Simple returns P_t / P_{t-1} - 1, shape (n_dates - 1, n_symbols); the first date is dropped."""
        p = self.field(price)
        return (p / p.shift(1) - 1.0).iloc[1:]

    # ------------------------------------------------------------- provenance
    def sha256(self) -> str:
        """SHA-256 of the bars (dates, symbols and every field's values, float64 little-endian).

        Two sources giving the same bars give the same hash; it is written into artifacts as ``data_sha256``.
        Intraday stamps enter with their time of day (daily dates as ``YYYY-MM-DD``, as they always have).
        """
        h = hashlib.sha256()
        h.update(",".join(self.symbols).encode())
        intraday = bool((self.dates != self.dates.normalize()).any())  # daily bars hash as they always have
        h.update(self.dates.strftime("%Y-%m-%dT%H:%M:%S" if intraday else "%Y-%m-%d").str.cat(sep=",").encode())
        for name in FIELDS:
            h.update(np.ascontiguousarray(getattr(self, name).to_numpy(dtype="<f8")).tobytes())
        return h.hexdigest()

    def summary(self) -> pd.DataFrame:
        """One row per symbol: first, last, rows."""
        return pd.DataFrame(
            {
                "first": [self.dates[0].date()] * len(self.symbols),
                "last": [self.dates[-1].date()] * len(self.symbols),
                "rows": [len(self)] * len(self.symbols),
            },
            index=pd.Index(self.symbols, name="symbol"),
        )

    @classmethod
    def from_frames(cls, frames: dict[str, pd.DataFrame], report=None) -> "MarketData":
        """Build from wide frames keyed by field name (``volume`` defaults to zeros). No bar rules are checked:
        sources go through ``volts.data.validate`` instead."""
        close = frames["close"]
        vol = frames.get("volume")
        if vol is None:
            vol = pd.DataFrame(0.0, index=close.index, columns=close.columns)
        return cls(
            open=frames["open"].astype(float),
            high=frames["high"].astype(float),
            low=frames["low"].astype(float),
            close=close.astype(float),
            volume=vol.astype(float),
            report=report,
        )
