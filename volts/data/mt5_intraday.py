"""MetaTrader5 bars finer than D1 (``[data] timeframe`` = ``M1`` .. ``H4``).

Decisions (the daily path, :mod:`volts.data.mt5`, is unchanged):

* ``copy_rates_range(symbol, TIMEFRAME_<size>, from, to)`` with the terminal's constant for the bar size (the
  ``MetaTrader5`` package values when the API object lacks it, :data:`volts.data.timeframes.TIMEFRAMES`).
* Bar times are the broker server's clock written as if it were UTC; ``data.mt5.server_utc_offset_hours`` is
  subtracted, so bars are held by their **UTC open time**, like the intraday CSV files. Requests are built on the
  server clock the same way (window start and end in UTC plus the offset).
* **The bar in progress is dropped**: a bar is kept only when it has closed, ``open + bar size <= now`` (UTC,
  injectable). MT5 always returns the forming bar as the last one; its close is not yet a close.
* Volume: ``real_volume`` when any is non-zero in the window, else ``tick_volume`` (as the daily path).
* The bars then go through the same checks as intraday CSV files (:mod:`volts.data.intraday_source`): bar rules,
  gaps judged against ``data.calendar`` under ``data.gap_policy``, common stamps across symbols.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from volts.core.config import DataSettings
from volts.data.market import MarketData
from volts.data.timeframes import timeframe
from volts.core.errors import BrokerError, ConfigError

log = logging.getLogger(__name__)

__all__ = ["fetch_mt5_intraday", "load_mt5_intraday"]


def _server(ts: pd.Timestamp, offset_hours: float) -> dt.datetime:
    """A UTC instant as the tz-aware datetime carrying the server-clock values that MT5 expects."""
    return (ts + pd.Timedelta(hours=offset_hours)).to_pydatetime().replace(tzinfo=dt.timezone.utc)


def fetch_mt5_intraday(
    terminal, symbols: dict, data: DataSettings, *, start=None, end=None, now=None
) -> dict[str, pd.DataFrame]:
    """Raw closed bars of ``data.timeframe`` per symbol, indexed by UTC open time.

    Parameters
    ----------
    terminal : volts.data.mt5.Mt5Terminal
    symbols : dict
        Universe symbol -> broker symbol.
    data : DataSettings
        ``timeframe`` and ``mt5.server_utc_offset_hours``.
    start, end : date-like, optional
        UTC window (``end`` inclusive of its whole day); default: from 1990 to now.
    now : datetime or callable, optional
        Current instant (naive = UTC) deciding which bar is still forming.

    Returns
    -------
    dict of str to pandas.DataFrame
        Columns open, high, low, close, volume.

    Raises
    ------
    BrokerError
        ``None`` or an empty result after retries, or no closed bar in the window.
    """
    from volts.data.mt5_terminal import _now_utc

    tf = timeframe(data.timeframe)
    if tf.is_daily:
        raise ConfigError("fetch_mt5_intraday serves bars finer than D1; D1 goes through load_mt5_market")
    offset = data.mt5.server_utc_offset_hours
    now_utc = pd.Timestamp(_now_utc(now)).tz_convert("UTC").tz_localize(None)
    lo = pd.Timestamp(start).normalize() if start is not None else pd.Timestamp("1990-01-01")
    hi = (
        (pd.Timestamp(end).normalize() + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)) if end is not None else now_utc
    )
    hi = min(hi, now_utc)
    if hi < lo:
        raise BrokerError(f"nothing to fetch: the window ends ({hi}) before it starts ({lo})")
    terminal.call("version", check=lambda r: None, what="connect")
    const = terminal.const(tf.mt5_constant)
    raw = {}
    for sym, broker in symbols.items():
        label = f"copy_rates_range('{broker}', {tf.name}, {lo:%Y-%m-%d %H:%M}, {hi:%Y-%m-%d %H:%M} UTC)"

        def check(rates) -> str | None:
            if rates is None:
                return "returned None"
            if len(rates) == 0:
                return "returned no bars"
            return None

        rates = np.asarray(
            terminal.call(
                "copy_rates_range", broker, const, _server(lo, offset), _server(hi, offset), what=label, check=check
            )
        )
        names = rates.dtype.names or ()
        real = rates["real_volume"].astype("float64") if "real_volume" in names else np.zeros(len(rates))
        volume = real if np.any(real > 0) else rates["tick_volume"].astype("float64")
        utc = pd.to_datetime(np.asarray(rates["time"], dtype="int64") - int(round(offset * 3600)), unit="s")
        frame = pd.DataFrame(
            {
                "open": rates["open"].astype(float),
                "high": rates["high"].astype(float),
                "low": rates["low"].astype(float),
                "close": rates["close"].astype(float),
                "volume": volume,
            },
            index=pd.DatetimeIndex(utc, name="time"),
        )
        closed = np.asarray(frame.index + tf.duration <= now_utc)
        if not closed.all():
            log.info(
                "%s: dropped %d %s bar(s) still forming (%s)",
                sym,
                int((~closed).sum()),
                tf.name,
                ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in frame.index[~closed]),
            )
            frame = frame.loc[closed]
        if len(frame) == 0:
            raise BrokerError(f"{sym} ({broker}): MT5 returned no closed {tf.name} bar in {label}")
        raw[sym] = frame
    return raw


def load_mt5_intraday(data: DataSettings, *, terminal, symbols, start=None, end=None, now=None) -> MarketData:
    """Fetch intraday bars from an open terminal and check them as the intraday CSV files are.

    Returns
    -------
    MarketData
        Index = UTC open times of closed bars common to every symbol.

    Raises
    ------
    BrokerError
        From :func:`fetch_mt5_intraday`.
    DataError
        A broken bar rule, a gap under ``gap_policy = "error"`` (see :mod:`volts.data.intraday_source`).
    """
    from volts.data.intraday_source import FileCheck, assemble_intraday, check_bars
    from volts.data.mt5_terminal import resolve_symbols

    mapping = resolve_symbols(terminal, symbols, data.mt5)
    raw = fetch_mt5_intraday(terminal, mapping, data, start=start, end=end, now=now)
    checked = [check_bars(data, raw[s], FileCheck(s, f"mt5:{mapping[s]}"), start=start, end=end) for s in raw]
    return assemble_intraday(data, checked, where="mt5")
