"""Intraday bars of symbols with different histories on one time index: the union of their stamps, with a mask of the
bars each vendor file really has.

A market of 24-hour instruments rarely has one common history: coins list years apart, a feed stops for months
(``crypto_h1/XRPUSDT.csv`` has no bar from 2022-11-30 to 2023-07-14), and a 24/5 CFD (``BTCUSD`` of the same vendor)
has no weekend bars beside 24/7 coins. Cutting every symbol to the stamps all of them have
(:func:`volts.data.intraday_source.load_intraday_market`) then throws away months of everyone's bars. An
:class:`IntradayPanel` keeps every stamp any symbol has; where a symbol has no bar its last close is carried (open =
high = low = close, volume 0; before its first bar, its first open), and :attr:`IntradayPanel.real` says which bars
are the vendor's. The walk-forward then lets a decision use only the symbols that **cover** its windows
(:meth:`IntradayPanel.covering`: bars from the window's start, at most ``max_missing_share`` of the window's stamps
missing, no hole longer than ``max_gap``), on the stamps all of those have (:meth:`IntradayPanel.window_market`),
and reports every exclusion. Carried bars are never silently traded: the trading pass counts the fills that fall on
them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from volts.core.config import DataSettings
from volts.core.errors import DataError
from volts.data.market import FIELDS, MarketData

__all__ = ["IntradayPanel", "load_intraday_panel", "panel_from_bars"]


@dataclass(frozen=True, eq=False)
class IntradayPanel:
    """Bars of several symbols on the union of their stamps.

    Attributes
    ----------
    market : MarketData
        Every symbol on every stamp (tz-naive UTC bar open times); where ``real`` is False the bar is carried.
    real : pandas.DataFrame of bool, shape (n_stamps, n_symbols)
        True where the symbol's file has the bar.
    """

    market: MarketData
    real: pd.DataFrame

    @property
    def symbols(self) -> list[str]:
        return self.market.symbols

    def covering(
        self, start, end, *, symbols=None, max_missing_share: float = 0.05, max_gap: pd.Timedelta | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """The symbols whose own bars cover ``[start, end]``.

        A symbol covers the window when its first real bar in it comes within ``max_gap`` (default one day) of the
        window's first stamp, at most
        ``max_missing_share`` of the window's stamps lack its bar, and no run of its missing bars spans more than
        ``max_gap``.

        Returns
        -------
        covering : list of str
            In panel order.
        excluded : dict of str to str
            Symbol -> the reason (for the record of the decision).
        """
        idx = self.market.dates
        lo, hi = int(idx.searchsorted(pd.Timestamp(start), "left")), int(idx.searchsorted(pd.Timestamp(end), "right"))
        if hi <= lo:
            raise DataError(f"no bar between {start} and {end} in the panel ({idx[0]} .. {idx[-1]})")
        window = self.real.iloc[lo:hi]
        tolerance = max_gap if max_gap is not None else pd.Timedelta(days=1)
        ok, excluded = [], {}
        for sym in symbols if symbols is not None else self.symbols:
            col = window[sym].to_numpy()
            if not col.any():
                own = np.flatnonzero(self.real[sym].to_numpy())
                after = own[own >= hi]
                note = f" (its next bar is {idx[after[0]]})" if len(after) else ""
                excluded[sym] = f"no bar between {idx[lo]} and {idx[hi - 1]}{note}"
                continue
            first_in = idx[lo + int(col.argmax())]
            if first_in > idx[lo] + tolerance:  # listed later, or a hole over the window's start
                excluded[sym] = f"its first bar in the window is {first_in}, after the window start {idx[lo]}"
                continue
            share = 1.0 - float(col.mean())
            if share > max_missing_share:
                excluded[sym] = f"{share:.1%} of the window's {len(col)} stamps missing (limit {max_missing_share:.0%})"
                continue
            if max_gap is not None and not col.all():
                run = _longest_missing_run(idx[lo:hi], col)
                if run > max_gap:
                    excluded[sym] = f"a hole of {run} in its bars (limit {max_gap})"
                    continue
            ok.append(sym)
        return ok, excluded

    def window_market(self, symbols, start, end) -> MarketData:
        """``symbols`` on the stamps of ``[start, end]`` where every one of them has a real bar.

        Raises
        ------
        DataError
            No stamp of the window is common to all of them.
        """
        symbols = list(symbols)
        sub = self.market.select(symbols).slice(start, end)
        keep = self.real.loc[sub.dates, symbols].all(axis=1).to_numpy()
        if not keep.any():
            raise DataError(f"{', '.join(symbols)}: no bar stamp common to all of them between {start} and {end}")
        return MarketData(**{f: getattr(sub, f).loc[keep] for f in FIELDS}, report=self.market.report)

    def slice(self, start=None, end=None) -> "IntradayPanel":
        """The stamps with ``start <= stamp <= end`` (either may be None), market and mask alike."""
        market = self.market.slice(start, end)
        return IntradayPanel(market, self.real.loc[market.dates])

    def own_bars(self, symbol: str) -> pd.DataFrame:
        """The bars ``symbol``'s file has (columns open, high, low, close, volume), without the carried ones."""
        return self.market.bars(symbol)[self.real[symbol].to_numpy()]

    def carried(self, symbol: str, stamps) -> np.ndarray:
        """True where ``symbol``'s bar at each of ``stamps`` is carried (not in its file)."""
        return ~self.real[symbol].reindex(pd.DatetimeIndex(stamps)).fillna(False).to_numpy(bool)


def _longest_missing_run(stamps: pd.DatetimeIndex, present: np.ndarray) -> pd.Timedelta:
    """Longest time between two present bars across missing ones (0 when nothing is missing)."""
    pos = np.flatnonzero(present)
    if len(pos) < 2:
        return stamps[-1] - stamps[0]
    jumps = np.diff(pos) > 1
    if not jumps.any():
        return pd.Timedelta(0)
    t = stamps[pos].to_numpy()
    return pd.Timedelta(np.max(np.diff(t)[jumps]))


def load_intraday_panel(data: DataSettings, *, symbols=None, start=None, end=None) -> IntradayPanel:
    """Load every symbol's checked intraday bars onto the union of their stamps (see the module docstring).

    Parameters
    ----------
    data : DataSettings
        As for :func:`volts.data.intraday_source.load_intraday_market` (bar rules and ``gap_policy`` apply per
        file first: under ``carry`` the calendar's missing bars are already filled and count as real).
    symbols : sequence of str, optional
        Default ``data.universe``.
    start, end : date-like, optional
        Window (``end`` inclusive of its whole day).

    Returns
    -------
    IntradayPanel

    Raises
    ------
    DataError
        A file unreadable or breaking a bar rule (unless ``on_invalid = "drop"``), a gap under ``gap_policy =
        "error"``, or a symbol without a bar in the window.
    """
    from volts.data.intraday_source import load_intraday_market

    names = list(symbols) if symbols is not None else list(data.universe)
    per = {s: load_intraday_market(data, symbols=[s], start=start, end=end) for s in names}
    notes = tuple(p for m in per.values() if m.report is not None for p in m.report.problems)
    return panel_from_bars({s: m.bars(s) for s, m in per.items()}, notes=notes)


def panel_from_bars(bars: dict[str, pd.DataFrame], *, notes: tuple = ()) -> IntradayPanel:
    """An :class:`IntradayPanel` from each symbol's own bars (columns open, high, low, close, volume; index = UTC
    open stamps, ascending): the union of the stamps, every symbol's missing bars carried (see the module
    docstring), the real-bar mask, and a report with the carried counts (``rows_filled``) and ``notes``.

    Raises
    ------
    DataError
        A symbol without any bar.
    """
    from volts.data.validate import ValidationReport

    names = list(bars)
    empty = [s for s in names if len(bars[s]) == 0]
    if empty:
        raise DataError(f"{', '.join(empty)}: no bar to put on the panel")
    union = bars[names[0]].index
    for b in bars.values():
        union = union.union(b.index)
    frames: dict[str, dict[str, np.ndarray]] = {f: {} for f in FIELDS}
    real = {}
    for s, b in bars.items():
        has = union.isin(b.index)
        real[s] = has
        close = b["close"].reindex(union).ffill().fillna(float(b["open"].iloc[0]))
        for f in ("open", "high", "low", "close"):
            frames[f][s] = b[f].reindex(union).where(has, close).to_numpy(float)
        frames["volume"][s] = b["volume"].reindex(union).fillna(0.0).to_numpy(float)
    wide = {f: pd.DataFrame(frames[f], index=pd.DatetimeIndex(union, name="time"))[names] for f in FIELDS}
    rows = {s: len(b) for s, b in bars.items()}
    filled = {s: int((~real[s]).sum()) for s in names}
    report = ValidationReport(tuple(notes), rows, {s: 0 for s in names}, filled)
    return IntradayPanel(MarketData(**wide, report=report), pd.DataFrame(real, index=union)[names])
