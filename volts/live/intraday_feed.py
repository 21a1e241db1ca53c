"""Bars and signal files of the live path on bars finer than a day (see :mod:`volts.live.intraday`).

* :func:`load_live_bars` reads the bars a decision needs from the CSV folder or the MT5 terminal, drops the bar in
  progress (a CSV export or a terminal often holds it), applies the intraday bar rules and gap policy
  (:mod:`volts.data.intraday_source`) and keeps each symbol's last complete bar, so that a stale symbol can be
  named (the market itself is cut to the stamps every symbol has).
* :func:`write_intraday_signals` writes ``<out>/<YYYY-MM-DDTHHMM>.json`` (the decision bar's open time, UTC)
  atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from volts.data.market import MarketData
from volts.data.timeframes import timeframe

__all__ = ["LiveBars", "load_live_bars", "write_intraday_signals", "signal_file_name"]


@dataclass(frozen=True)
class LiveBars:
    """What :func:`load_live_bars` returns.

    Attributes
    ----------
    market : MarketData
        Complete bars common to every symbol, indexed by UTC open time.
    last : dict of str to pandas.Timestamp
        Symbol -> open time of its own last complete bar (before the common-stamp cut).
    in_progress : dict of str to pandas.Timestamp
        Symbol -> open time of a bar in progress that was dropped (CSV source; MT5 drops it on fetch).
    """

    market: MarketData
    last: Mapping[str, pd.Timestamp]
    in_progress: Mapping[str, pd.Timestamp] = field(default_factory=dict)


def load_live_bars(settings, symbols, *, start=None, end=None, now=None, terminal=None) -> LiveBars:
    """Complete intraday bars of ``symbols`` from ``data.source`` (``csv`` or ``mt5``), as of ``now``.

    Parameters
    ----------
    settings : volts.core.config.Settings
        ``data`` (timeframe, calendar, timezone, gap policy, CSV layout, MT5 terminal).
    symbols : sequence of str
    start, end : date-like, optional
        Window (``end`` inclusive of its whole day).
    now : instant, optional
        The decision instant (default the clock): bars with ``open + bar size > now`` are in progress and dropped;
        a bar opening after ``now`` breaks the ``future_date`` rule.
    terminal : volts.data.mt5.Mt5Terminal, optional
        An open terminal (``mt5`` source).

    Returns
    -------
    LiveBars

    Raises
    ------
    DataError
        A file unreadable, a bar rule broken, a gap under ``gap_policy = "error"``, no common bar.
    BrokerError
        From the terminal.
    """
    from volts.data.intraday_source import FileCheck, assemble_intraday, check_bars
    from volts.live.intraday import complete_mask, utc_naive

    data = settings.data
    tf = timeframe(data.timeframe)
    now_ts = utc_naive(now)
    checked, in_progress = [], {}
    if data.source == "mt5":
        from volts.data.mt5_intraday import fetch_mt5_intraday
        from volts.data.mt5_terminal import resolve_symbols

        mapping = resolve_symbols(terminal, list(symbols), data.mt5)
        raw = fetch_mt5_intraday(terminal, mapping, data, start=start, end=end, now=now_ts)
        for s in raw:
            checked.append(
                check_bars(data, raw[s], FileCheck(s, f"mt5:{mapping[s]}"), start=start, end=end, today=now_ts)
            )
        where = "mt5"
    else:
        from volts.data.csv import symbol_file
        from volts.data.intraday_csv import read_intraday_csv

        folder = Path(data.dir)
        for s in symbols:
            path = symbol_file(folder, s, data.csv)
            read = read_intraday_csv(path, s, data.csv, timezone=data.timezone)
            bars = read.bars
            forming = ~complete_mask(bars.index, now_ts, tf) & (bars.index <= now_ts)
            if forming.any():
                in_progress[s] = bars.index[forming][-1]
                bars = bars[~forming]
            fc = FileCheck(s, str(path))
            fc.layout, fc.quirks = read.layout, list(read.quirks)
            checked.append(check_bars(data, bars, fc, start=start, end=end, today=now_ts))
        where = str(folder)
    last = {fc.symbol: kept.index.max() for fc, kept, _ in checked if kept is not None and len(kept)}
    market = assemble_intraday(data, checked, where=where)
    return LiveBars(market=market, last=last, in_progress=in_progress)


def signal_file_name(decision) -> str:
    """``YYYY-MM-DDTHHMM.json`` of a decision bar's open time (no colon: valid on every file system)."""
    return f"{pd.Timestamp(decision):%Y-%m-%dT%H%M}.json"


def write_intraday_signals(
    targets: list, out_dir, *, asof, session, tf: str, calendar: str | None, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write the targets of one decision bar to ``out_dir/<YYYY-MM-DDTHHMM>.json`` atomically.

    Parameters
    ----------
    targets : list of volts.live.targets.Target
        Intraday targets of the decision bar (may be empty: a flat book).
    out_dir : path
    asof, session : instant
        Open times (UTC) of the decision bar and of the bar the positions are for.
    tf : str
        Bar size.
    calendar : str or None
    meta : mapping, optional
        Provenance fields.

    Returns
    -------
    Path
        The file: ``{"asof", "session", "timeframe", "calendar", "targets": [...], **meta}``; instants as
        ``YYYY-MM-DDTHH:MM`` (UTC).
    """
    from volts.core.artifacts import atomic_write_json

    payload: dict[str, Any] = {
        "asof": f"{pd.Timestamp(asof):%Y-%m-%dT%H:%M}",
        "session": f"{pd.Timestamp(session):%Y-%m-%dT%H:%M}",
        "timeframe": timeframe(tf).name,
        "calendar": calendar,
        "targets": [t.to_dict() for t in targets],
    }
    if meta:
        payload.update(meta)
    return atomic_write_json(Path(out_dir) / signal_file_name(asof), payload)
