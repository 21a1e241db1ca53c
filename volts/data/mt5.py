"""MetaTrader 5 source: daily bars from a broker's MT5 terminal, and the connection the live path trades through.

Bridges
-------
* ``native`` (Windows): the ``MetaTrader5`` package (``pip install MetaTrader5``) talks to a terminal on the
  same machine.
* ``mt5linux`` (Linux): ``mt5linux.MetaTrader5(host, port)`` (``pip install mt5linux==1.0.11``) is an RPyC client
  of a Windows Python running under Wine (``wine mt5server.exe -p 18812`` from the mt5linux releases, or
  ``python -m mt5linux -p 18812`` in a Windows Python that has ``MetaTrader5``), next to a running terminal.
* ``auto`` picks ``native`` on Windows and ``mt5linux`` elsewhere. A missing package is a :class:`ConfigError`
  saying what to install, never a bare ``ImportError``.

Credentials
-----------
Login, password and server come from the environment variables named in :class:`volts.core.config.Mt5Settings`
(``VOLTS_MT5_LOGIN`` ... by default) or from ``data.mt5.credentials_file`` (TOML or ``key = value`` lines, keys
``login``, ``password``, ``server``; a file inside a git work tree is refused, a file others can read draws a
warning); the environment wins key by key. They are never read from ``config.toml``. The password is held in a
:class:`Secret` whose ``repr``/``str`` are masked, and every message volts builds from a terminal error is
scrubbed of the credentials before it is raised or logged. Without credentials the terminal's saved account is
used.

Bars and time (decisions)
-------------------------
* ``copy_rates_range(symbol, TIMEFRAME_D1, from, to)`` returns bars stamped with the broker server's clock
  (seconds since the epoch, server time written as if it were UTC); a D1 bar opens at the server's midnight.
  Requests are built on that clock (tz-aware UTC datetimes carrying the server-clock values, which is what the
  MT5 documentation prescribes).
* Trading date of a bar (decision): the exchange-local calendar date of the middle of the bar's server day,
  ``time - server_utc_offset_hours * 3600 + 12 h``, converted to ``exchange_timezone``. For a US exchange this is
  the server date for every server offset from UTC-12 to UTC+7, which covers the usual broker clocks (UTC,
  UTC+2/+3); a fixed offset cannot follow the server's DST switches, and the midday anchor is what keeps the
  dates right across them.
* The bar of a session still trading is dropped: a bar dated d is kept only once ``now`` (injectable) is past
  ``session_close_local`` on d in ``exchange_timezone``. No look-ahead: a bar dated t is known after the close
  of t.
* Volume (decision): ``real_volume`` when the symbol reports any non-zero real volume in the fetched window,
  else ``tick_volume`` for the whole window (CFD feeds usually carry ticks only). One series never mixes both.
* Empty arrays and ``None`` are failures, never an empty frame: they are retried, then raise
  :class:`BrokerError` with MT5's ``last_error()`` code and text. A partial history -- a symbol whose first bar
  is more than ``PARTIAL_START_DAYS`` calendar days after the requested start while another requested symbol
  has bars there, or a hole of ``PARTIAL_GAP_BARS`` or more consecutive trading dates of the other symbols
  inside its span -- is re-fetched (the terminal downloads history on demand) and then raises. Shorter holes are
  left to the ``data.missing`` policy of :func:`volts.data.validate.validate_bars`.

Retries
-------
Connection errors (``EOFError``, ``ConnectionError``, ``TimeoutError``, other ``OSError``), ``None`` results and
failed ``initialize`` calls are retried ``retries`` times with exponential backoff
(``backoff_seconds * 2**k``; ``sleep`` is injectable); a dropped connection is re-opened and re-initialised
before the next attempt, and so is a session whose ``last_error()`` says the IPC link is gone (-10001, -10003
"No IPC connection", -10004): the terminal answers every call that way until ``initialize`` runs again. ``order_send`` is never retried blindly (see ``volts.live.orders``).

Source: the MetaTrader5 Python API documentation (function names, arguments, result shapes, error codes), as
reproduced in ``mt5linux/metatrader5.py`` 1.0.11.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
import os
import stat
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from volts.core.config import DataSettings, Mt5Settings
from volts.core.errors import BrokerError, ConfigError
from volts.data.market import FIELDS, MarketData
from volts.data.mt5_credentials import (  # noqa: F401  (re-exported: this module's API before the split)
    Credentials,
    Secret,
    _first_line,
    _git_work_tree,
    _parse_credentials_file,
    load_credentials,
)
from volts.data.mt5_terminal import (  # noqa: F401  (re-exported: this module's API before the split)
    _FATAL_CODES,
    _REINIT_CODES,
    DEFAULT_CONSTANTS,
    INSTALL_MT5LINUX,
    INSTALL_NATIVE,
    TRANSIENT_EXCEPTIONS,
    ConnectionLost,
    Mt5Terminal,
    _close_mt5linux,
    _names,
    _now_utc,
    _parse_close,
    _Transient,
    _zone,
    as_terminal,
    broker_symbol,
    resolve_symbols,
)

log = logging.getLogger(__name__)

#: A first bar this many calendar days after the requested start is suspicious (see the module docstring).
PARTIAL_START_DAYS = 7
#: This many consecutive trading dates of the other symbols missing inside a symbol's span = partial history.
PARTIAL_GAP_BARS = 5
#: Calendar days fetched before ``start`` so that validation sees the bar before the window (return rule).
LOOKBACK_DAYS = 10


DEFAULT_CONSTANTS.update(
    {
        "TIMEFRAME_M1": 1,
        "TIMEFRAME_M5": 5,
        "TIMEFRAME_M15": 15,
        "TIMEFRAME_M30": 30,
        "TIMEFRAME_H1": 16385,
        "TIMEFRAME_H4": 16388,
    }
)  # volts.data.timeframes


def trading_dates(
    times: np.ndarray, *, server_utc_offset_hours: float = 0.0, exchange_timezone: str = "America/New_York"
) -> pd.DatetimeIndex:
    """Exchange trading dates of D1 bars stamped on the broker server's clock.

    Parameters
    ----------
    times : numpy.ndarray of int64, shape (n_bars,)
        MT5 bar times: seconds since the epoch on the server clock (the ``time`` field of ``copy_rates_*``).
    server_utc_offset_hours : float
        Server clock minus UTC, hours.
    exchange_timezone : str
        IANA zone of the exchange.

    Returns
    -------
    pandas.DatetimeIndex, shape (n_bars,)
        tz-naive dates: the exchange-local date of the middle of each bar's server day (module docstring).
    """
    utc_mid = np.asarray(times, dtype="int64") - int(round(server_utc_offset_hours * 3600)) + 12 * 3600
    stamps = pd.to_datetime(utc_mid, unit="s", utc=True).tz_convert(_zone(exchange_timezone))
    return pd.DatetimeIndex(stamps.tz_localize(None).normalize(), name="date")


def session_closed(
    dates: pd.DatetimeIndex, *, now, exchange_timezone: str = "America/New_York", session_close_local: str = "16:00"
) -> np.ndarray:
    """True where the session of a trading date has closed at ``now`` (bars of other dates are still forming).

    Parameters
    ----------
    dates : pandas.DatetimeIndex, shape (n,)
        Trading dates (tz-naive, exchange calendar).
    now : datetime or callable
        The current instant (naive = UTC).
    exchange_timezone, session_close_local : str
        Exchange zone and its regular close (``HH:MM`` local time).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    zone = _zone(exchange_timezone)
    close = _parse_close(session_close_local)
    now_utc = pd.Timestamp(_now_utc(now))
    closes = pd.DatetimeIndex([pd.Timestamp(dt.datetime.combine(d.date(), close), tz=zone) for d in dates])
    if len(closes) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(closes.tz_convert("UTC") <= now_utc)


def rates_to_frame(
    rates: np.ndarray, *, server_utc_offset_hours: float = 0.0, exchange_timezone: str = "America/New_York"
) -> tuple[pd.DataFrame, str]:
    """MT5 rates (structured array) -> raw bars with columns open, high, low, close, volume by trading date.

    Returns
    -------
    (frame, volume_field)
        ``frame`` shape (n_bars, 5), index = trading dates (server order kept); ``volume_field`` is
        ``"real_volume"`` or ``"tick_volume"`` (module docstring, "Volume").
    """
    names = rates.dtype.names or ()
    missing = [f for f in ("time", "open", "high", "low", "close", "tick_volume") if f not in names]
    if missing:
        raise BrokerError(f"MT5 rates lack field(s) {', '.join(missing)} (got {', '.join(names)})")
    real = rates["real_volume"].astype("float64") if "real_volume" in names else np.zeros(len(rates))
    use_real = bool(np.any(real > 0))
    volume = real if use_real else rates["tick_volume"].astype("float64")
    index = trading_dates(
        rates["time"], server_utc_offset_hours=server_utc_offset_hours, exchange_timezone=exchange_timezone
    )
    frame = pd.DataFrame(
        {
            "open": rates["open"].astype("float64"),
            "high": rates["high"].astype("float64"),
            "low": rates["low"].astype("float64"),
            "close": rates["close"].astype("float64"),
            "volume": volume,
        },
        index=index,
    )
    return frame[list(FIELDS)], ("real_volume" if use_real else "tick_volume")


# --------------------------------------------------------------------------------------------- bars
def _server_clock(day: dt.date, end_of_day: bool = False) -> dt.datetime:
    """Midnight (or 23:59:59) of ``day`` on the server clock, as the tz-aware UTC datetime MT5 expects."""
    t = dt.time(23, 59, 59) if end_of_day else dt.time(0, 0)
    return dt.datetime.combine(day, t, tzinfo=dt.timezone.utc)


def _longest_gap(own: pd.DatetimeIndex, calendar: pd.DatetimeIndex) -> tuple[int, pd.Timestamp | None]:
    """Longest run of consecutive ``calendar`` dates inside own's span that ``own`` lacks."""
    if len(own) == 0:
        return 0, None
    inside = calendar[(calendar >= own[0]) & (calendar <= own[-1])]
    absent = ~inside.isin(own)
    best, run, first, best_first = 0, 0, None, None
    for date, miss in zip(inside, absent):
        if miss:
            if run == 0:
                first = date
            run += 1
            if run > best:
                best, best_first = run, first
        else:
            run = 0
    return best, best_first


def fetch_mt5_bars(
    terminal: Mt5Terminal,
    symbols: Mapping[str, str],
    *,
    start=None,
    end=None,
    now=None,
    settings: Mt5Settings = Mt5Settings(),
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Fetch raw daily bars of several symbols (not validated).

    Parameters
    ----------
    terminal : Mt5Terminal
        Connected (or connectable) terminal.
    symbols : mapping
        Universe symbol -> broker symbol (:func:`resolve_symbols`).
    start, end : date-like, optional
        Trading-date window wanted (both inclusive); ``LOOKBACK_DAYS`` more calendar days are fetched before
        ``start`` (validation reads the bar before the window).
    now : datetime or callable, optional
        Current instant, for dropping the session still in progress (default: the system clock, UTC).
    settings : Mt5Settings
        Server offset, exchange zone and close, retries.

    Returns
    -------
    (raw, sources)
        ``raw``: universe symbol -> frame (open, high, low, close, volume) by trading date; ``sources``:
        universe symbol -> ``"mt5:<broker symbol>"`` for messages.

    Raises
    ------
    BrokerError
        ``None``/empty results after retries (with MT5's error code and text), or a partial history after
        re-fetching.

    Length: the terminal calls in the order the broker needs them (symbol, history window, retries, the bar in
    progress, the server offset), then the same validation as a CSV file; kept together so the handling of each
    terminal fault is visible.
    """
    start_ts = pd.Timestamp(start).normalize() if start is not None else None
    end_ts = pd.Timestamp(end).normalize() if end is not None else None
    now_utc = _now_utc(now)
    offset = settings.server_utc_offset_hours
    first_day = (start_ts - pd.Timedelta(days=LOOKBACK_DAYS)).date() if start_ts is not None else dt.date(1990, 1, 1)
    server_today = (now_utc + dt.timedelta(hours=offset)).date()
    last_day = (
        min(end_ts.date() + dt.timedelta(days=1), server_today + dt.timedelta(days=1))
        if end_ts is not None
        else server_today + dt.timedelta(days=1)
    )
    if last_day < first_day:
        raise BrokerError(f"nothing to fetch: the window ends ({last_day}) before it starts ({first_day})")
    date_from, date_to = _server_clock(first_day), _server_clock(last_day, end_of_day=True)
    timeframe = None

    def fetch(sym: str, broker: str) -> pd.DataFrame:
        nonlocal timeframe
        if timeframe is None:
            terminal.call("version", check=lambda r: None, what="connect")
            timeframe = terminal.const("TIMEFRAME_D1")
        label = f"copy_rates_range('{broker}', D1, {first_day}, {last_day})"

        def check(rates) -> str | None:
            if rates is None:
                return "returned None"
            if len(rates) == 0:
                return "returned no bars"
            days = trading_dates(
                np.asarray(rates)["time"], server_utc_offset_hours=offset, exchange_timezone=settings.exchange_timezone
            )
            inside = np.ones(len(days), dtype=bool)
            if start_ts is not None:
                inside &= np.asarray(days >= start_ts)
            if end_ts is not None:
                inside &= np.asarray(days <= end_ts)
            if not inside.any():
                return (
                    f"returned no bars between {start_ts.date() if start_ts is not None else 'start'} and "
                    f"{end_ts.date() if end_ts is not None else 'now'} (bars {days[0].date()} .. "
                    f"{days[-1].date()})"
                )
            return None

        rates = terminal.call("copy_rates_range", broker, timeframe, date_from, date_to, what=label, check=check)
        rates = np.asarray(rates)
        frame, vol_field = rates_to_frame(
            rates, server_utc_offset_hours=offset, exchange_timezone=settings.exchange_timezone
        )
        closed = session_closed(
            frame.index,
            now=now_utc,
            exchange_timezone=settings.exchange_timezone,
            session_close_local=settings.session_close_local,
        )
        if not closed.all():
            log.info(
                "%s: dropped %d bar(s) of a session still in progress (%s)",
                sym,
                int((~closed).sum()),
                ", ".join(str(d.date()) for d in frame.index[~closed]),
            )
            frame = frame.loc[closed]
        if end_ts is not None:
            frame = frame.loc[frame.index <= end_ts]
        if len(frame) == 0:
            raise BrokerError(f"{sym} ({broker}): MT5 returned no closed bar between {first_day} and {last_day}")
        log.debug(
            "%s (%s): %d bars %s..%s, volume = %s",
            sym,
            broker,
            len(frame),
            frame.index[0].date(),
            frame.index[-1].date(),
            vol_field,
        )
        return frame

    raw = {sym: fetch(sym, broker) for sym, broker in symbols.items()}

    def partial(sym: str) -> str | None:
        own = raw[sym].index
        others = [raw[o].index for o in raw if o != sym]
        if not others:
            return None
        calendar = others[0]
        for idx in others[1:]:
            calendar = calendar.union(idx)
        if start_ts is not None and own[0] > start_ts + pd.Timedelta(days=PARTIAL_START_DAYS):
            earlier = calendar[(calendar >= start_ts) & (calendar < own[0])]
            if len(earlier) > 0:
                return (
                    f"history starts {own[0].date()}, but {start_ts.date()} was requested and other symbols "
                    f"have {len(earlier)} bar(s) in between"
                )
        gap, first = _longest_gap(own, calendar)
        if gap >= PARTIAL_GAP_BARS:
            return f"{gap} consecutive bars missing from {first.date()} while other symbols have them"
        return None

    for sym in list(raw):
        problem = partial(sym)
        attempt = 0
        while problem is not None and attempt < terminal.retries:
            attempt += 1
            log.info("%s: partial history (%s); fetching again (%d/%d)", sym, problem, attempt, terminal.retries)
            terminal._wait(attempt)
            raw[sym] = fetch(sym, symbols[sym])
            problem = partial(sym)
        if problem is not None:
            raise BrokerError(
                f"{sym} ({symbols[sym]}): partial history from MT5: {problem} (let the terminal "
                "download the history: open the symbol's D1 chart, raise 'Max bars in chart')"
            )
    sources = {sym: f"mt5:{broker}" for sym, broker in symbols.items()}
    return raw, sources


def load_mt5_market(
    data: DataSettings,
    *,
    symbols=None,
    start=None,
    end=None,
    terminal=None,
    now=None,
    sleep: Callable[[float], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> MarketData:
    """Load and validate daily bars of several symbols from a MetaTrader 5 terminal.

    Parameters
    ----------
    data : DataSettings
        ``data.mt5`` describes the terminal; ``on_invalid``, ``missing`` and ``max_abs_return`` go to
        validation; ``universe`` is the default symbol list.
    symbols : sequence of str, optional
        Universe symbols (default ``data.universe``), mapped to broker names by :func:`resolve_symbols`.
    start, end : date-like, optional
        Trading-date window (both inclusive).
    terminal : Mt5Terminal or API object, optional
        An open terminal to use (left open); default: one built from ``data.mt5`` and closed at the end.
    now : datetime or callable, optional
        Current instant (UTC if naive) deciding which session is still in progress; default the system clock.
    sleep : callable, optional
        Backoff waiting function (tests inject a no-op).
    environ : mapping, optional
        Environment for the credentials (default ``os.environ``).

    Returns
    -------
    MarketData
        Bars of ``[start, end]`` on the exchange's trading dates, validated by
        :func:`volts.data.validate.validate_bars` (``report`` attached). Columns are the universe symbols.

    Raises
    ------
    ConfigError
        The bridge package is missing (the message says what to install), or credentials are misconfigured.
    BrokerError
        Terminal failures after retries (with MT5's error code and text), a missing symbol (with candidates),
        an empty or partial history.
    DataError
        A bar or calendar rule is broken (from validation).
    """
    from volts.data.validate import validate_bars

    settings = data.mt5
    symbols = list(data.universe if symbols is None else symbols)
    if not symbols:
        raise ConfigError("no symbols to load from MT5 (data.universe is empty)")
    own = terminal is None
    term = (
        Mt5Terminal.from_settings(settings, sleep=sleep, environ=environ)
        if own
        else as_terminal(
            terminal,
            retries=settings.retries,
            backoff_seconds=settings.backoff_seconds,
            timeout_seconds=settings.timeout_seconds,
            sleep=sleep,
        )
    )
    try:
        if data.timeframe != "D1":  # bars finer than a day: their own fetch and checks
            from volts.data.mt5_intraday import load_mt5_intraday

            return load_mt5_intraday(data, terminal=term, symbols=symbols, start=start, end=end, now=now)
        mapping = resolve_symbols(term, symbols, settings)
        raw, sources = fetch_mt5_bars(term, mapping, start=start, end=end, now=now, settings=settings)
    finally:
        if own:
            term.close()
    return validate_bars(
        raw,
        sources=sources,
        start=start,
        end=end,
        on_invalid=data.on_invalid,
        missing=data.missing,
        max_abs_return=data.max_abs_return,
        return_jump=data.return_jump,
        calendar=data.calendar or None,
        max_range_multiple=data.max_range_multiple,
    )


__all__ = [
    "Credentials",
    "Secret",
    "Mt5Terminal",
    "ConnectionLost",
    "load_credentials",
    "broker_symbol",
    "resolve_symbols",
    "trading_dates",
    "session_closed",
    "rates_to_frame",
    "fetch_mt5_bars",
    "load_mt5_market",
    "as_terminal",
    "INSTALL_NATIVE",
    "INSTALL_MT5LINUX",
]
