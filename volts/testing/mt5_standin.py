"""A stand-in MetaTrader 5 terminal: the subset of the ``MetaTrader5`` Python API that volts uses, backed by CSV.

What it is for
--------------
MetaTrader 5 is Windows software; on Linux it is reached through ``mt5linux``, an RPyC client that evaluates code
strings such as ``mt5.copy_rates_range("TSLA", 16408, datetime.datetime(...), ...)`` in a Windows Python that
imported the ``MetaTrader5`` package. Neither runs in CI, so this module plays the terminal:

* :class:`StandInTerminal` exposes ``initialize``, ``login``, ``shutdown``, ``last_error``, ``version``,
  ``symbols_get``, ``symbols_total``, ``symbol_select``, ``symbol_info``, ``symbol_info_tick``,
  ``copy_rates_range``, ``positions_get``, ``positions_total``, ``order_send``, ``orders_get``,
  ``history_deals_get`` and ``account_info`` plus the constants volts needs
  (``TIMEFRAME_D1``, ``ORDER_TYPE_BUY``/``SELL``, ``TRADE_ACTION_DEAL``, ``TRADE_RETCODE_*``, ``ORDER_FILLING_*``,
  ``POSITION_TYPE_*``, ``RES_*``), with the values and result shapes of the real package: bars are a numpy
  structured array with MT5's dtype (:data:`RATES_DTYPE`); symbols, positions and order results are named tuples
  with MT5's field names (``SymbolInfo``, ``TradePosition``, ``OrderSendResult``, ``TradeRequest``).
* Bars come from a folder of Yahoo-layout CSV files (``Date,Open,High,Low,Close,Adj Close,Volume``), one per
  symbol. A D1 bar's ``time`` is midnight of its date on the broker server's clock, as seconds since the epoch
  (MT5 stores server time as if it were UTC). ``real_volume`` is the CSV volume; ``tick_volume`` is a smaller
  made-up count (volume // 100 + 1) so a reader can tell which one it used.
* The account is a hedging account: every fill without a ``position`` ticket opens a new position; a deal with
  ``position`` closes (part of) that position.
* :class:`Faults` injects failures: ``initialize`` failing, the connection dropping mid-call, ``None`` results with
  an error code, an in-progress (forming) bar, a missing symbol, missing bars, rejected orders, an order that is
  filled but whose reply is lost.
* :func:`serve_standin` serves a stand-in over RPyC on 127.0.0.1 (a free port, a background thread) so that
  ``mt5linux.MetaTrader5(host, port)`` talks to it through a real socket. Each connection gets a namespace whose
  ``import MetaTrader5`` resolves to the stand-in (and whose ``import sys`` gets a private dummy, so the client's
  ``sys.path.append('C:\\mt5libs')`` does not touch this process).

Users can dry-run the whole live path with ``python -m volts.testing.mt5_standin DIR --port 18812`` and
``[data.mt5] bridge = "mt5linux"`` in their config.

Source: the MetaTrader5 package documentation (as reproduced in ``mt5linux/metatrader5.py`` 1.0.11) for names,
values and shapes; behaviour beyond that (hedging account, fill prices at the last close) is a simplification.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from volts._compat import moved_names as _moved_names
from volts.testing.mt5_constants import (
    _NEEDS_INIT,
    _TIMEOUT,
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    ORDER_FILLING_RETURN,
    ORDER_TIME_GTC,
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    POSITION_TYPE_BUY,
    POSITION_TYPE_SELL,
    RATES_DTYPE,
    RES_E_AUTH_FAILED,
    RES_E_FAIL,
    RES_E_INTERNAL_FAIL_INIT,
    RES_E_INTERNAL_FAIL_TIMEOUT,
    RES_E_INVALID_PARAMS,
    RES_E_NOT_FOUND,
    RES_S_OK,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    TIMEFRAME_D1,
    TRADE_ACTION_DEAL,
    TRADE_RETCODE_CANCEL,
    TRADE_RETCODE_CONNECTION,
    TRADE_RETCODE_DONE,
    TRADE_RETCODE_DONE_PARTIAL,
    TRADE_RETCODE_ERROR,
    TRADE_RETCODE_INVALID,
    TRADE_RETCODE_INVALID_FILL,
    TRADE_RETCODE_INVALID_PRICE,
    TRADE_RETCODE_INVALID_VOLUME,
    TRADE_RETCODE_MARKET_CLOSED,
    TRADE_RETCODE_NO_MONEY,
    TRADE_RETCODE_PLACED,
    TRADE_RETCODE_POSITION_CLOSED,
    TRADE_RETCODE_PRICE_CHANGED,
    TRADE_RETCODE_REJECT,
    TRADE_RETCODE_REQUOTE,
    TRADE_RETCODE_TIMEOUT,
    TRADE_RETCODE_TRADE_DISABLED,
    SymbolInfo,
    SymbolTick,
    TradeDeal,
    TradeOrder,
    TradePosition,
)
from volts.testing.mt5_trading import StandInConnectionDropped, StandInTrading, _group_match, _to_epoch

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ faults
@dataclass
class _Plan:
    function: str
    kind: str
    remaining: int
    error: tuple[int, str]


@dataclass
class Faults:
    """Failures to inject into a :class:`StandInTerminal` (thread-safe; counters run down as faults fire).

    Kinds of call failure (``fail_next``): ``"drop"`` (the connection drops: ``ConnectionError`` in-process, a
    severed socket over RPyC, which the client sees as ``EOFError``), ``"eof"`` (``EOFError``), ``"none"`` (the
    call returns ``None`` and ``last_error()`` gives ``error``), ``"false"`` (a boolean call returns ``False``),
    ``"ipc"`` (the terminal loses its IPC session: this call and every later one return ``None`` with
    ``(-10003, "No IPC connection")`` until ``initialize`` is called again, as the real package does).
    Order faults: ``reject_orders``, ``lose_order_replies``, ``slow_orders`` (``order_send`` waits before
    filling, outside the terminal's lock, so other clients run meanwhile) and ``partial_fills``.
    """

    forming_bar: bool = False
    order_delay_seconds: float = 0.0
    _plans: list = field(default_factory=list, repr=False)
    _hidden_symbols: set = field(default_factory=set, repr=False)
    _hidden_bars: list = field(default_factory=list, repr=False)
    _rejects: list = field(default_factory=list, repr=False)
    _lost_replies: int = 0
    _partials: list = field(default_factory=list, repr=False)
    _kill_on_order: bool = False
    dead: bool = False
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def fail_next(self, n: int = 1, *, function: str = "*", kind: str = "drop",
                  error: tuple[int, str] = _TIMEOUT) -> "Faults":
        """Make the next ``n`` calls of ``function`` (``"*"`` = any call except ``last_error``) fail as ``kind``."""
        if kind not in ("drop", "eof", "none", "false", "ipc"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._plans.append(_Plan(function, kind, int(n), tuple(error)))
        return self

    def initialize_fails(self, n: int = 1, error: tuple[int, str] = (
            RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")) -> "Faults":
        """The next ``n`` ``initialize`` calls return False with ``error``."""
        return self.fail_next(n, function="initialize", kind="false", error=error)

    def hide_symbol(self, name: str) -> "Faults":
        """The broker does not offer ``name`` (absent from ``symbols_get``; ``symbol_info`` gives None)."""
        with self._lock:
            self._hidden_symbols.add(name)
        return self

    def hide_bars(self, name: str, start=None, end=None) -> "Faults":
        """Bars of broker symbol ``name`` dated in [start, end] are missing from ``copy_rates_range`` (a gap, or,
        with ``start=None``, a partial history)."""
        with self._lock:
            self._hidden_bars.append((name, None if start is None else pd.Timestamp(start),
                                      None if end is None else pd.Timestamp(end)))
        return self

    def reject_orders(self, n: int = 1, retcode: int = TRADE_RETCODE_REJECT,
                      comment: str = "Request rejected") -> "Faults":
        """The next ``n`` order requests are refused with ``retcode`` (nothing is filled)."""
        with self._lock:
            self._rejects.extend([(int(retcode), comment)] * int(n))
        return self

    def lose_order_replies(self, n: int = 1) -> "Faults":
        """The next ``n`` orders are filled, then the connection drops before the reply reaches the client."""
        with self._lock:
            self._lost_replies += int(n)
        return self

    def lose_ipc(self, *, function: str = "*", after: int = 0) -> "Faults":
        """The IPC session dies on the call of ``function`` after ``after`` calls of it (kind ``"ipc"``)."""
        with self._lock:
            if after:
                self._plans.append(_Plan(function, "pass", int(after), _NEEDS_INIT))
            self._plans.append(_Plan(function, "ipc", 1, _NEEDS_INIT))
        return self

    def kill_during_order_send(self) -> "Faults":
        """The terminal dies inside the next ``order_send``, after filling it: the reply never comes and every
        later call (``initialize`` included) fails as a dropped connection."""
        with self._lock:
            self._kill_on_order = True
        return self

    def slow_orders(self, seconds: float) -> "Faults":
        """Every ``order_send`` waits ``seconds`` before it fills (a busy broker), without blocking other calls."""
        self.order_delay_seconds = float(seconds)
        return self

    def partial_fills(self, n: int = 1, fraction: float = 0.5) -> "Faults":
        """The next ``n`` opening orders fill only ``fraction`` of their volume (rounded down to the volume step)
        and reply ``TRADE_RETCODE_DONE_PARTIAL`` (10010)."""
        with self._lock:
            self._partials.extend([float(fraction)] * int(n))
        return self

    # -- used by the terminal
    def _take_partial(self) -> float | None:
        with self._lock:
            return self._partials.pop(0) if self._partials else None

    def _take(self, function: str) -> _Plan | None:
        with self._lock:
            for plan in self._plans:
                if plan.remaining > 0 and plan.function in ("*", function):
                    if plan.function == "*" and function in ("last_error", "shutdown"):
                        continue
                    if plan.kind == "false" and function not in ("initialize", "login", "symbol_select"):
                        continue
                    if plan.kind == "ipc" and function == "initialize":
                        continue
                    plan.remaining -= 1
                    if plan.kind == "pass":  # a counter in front of a later fault: this call goes through
                        return None
                    return plan
        return None

    def _take_reject(self):
        with self._lock:
            return self._rejects.pop(0) if self._rejects else None

    def _take_lost_reply(self) -> bool:
        with self._lock:
            if self._lost_replies > 0:
                self._lost_replies -= 1
                return True
            return False

    def _is_hidden(self, name: str) -> bool:
        with self._lock:
            return name in self._hidden_symbols

    def _bar_mask(self, name: str, dates: pd.DatetimeIndex) -> np.ndarray:
        keep = np.ones(len(dates), dtype=bool)
        with self._lock:
            for sym, start, end in self._hidden_bars:
                if sym == name:
                    lo = dates >= start if start is not None else np.ones(len(dates), bool)
                    hi = dates <= end if end is not None else np.ones(len(dates), bool)
                    keep &= ~(lo & hi)
        return keep


class StandInTerminal(StandInTrading):
    """A MetaTrader 5 terminal played from CSV files (see the module docstring).

    Parameters
    ----------
    csv_dir : path
        Folder of Yahoo-layout CSV files, one per symbol (``<SYMBOL>.csv``).
    symbol_format : str
        Broker names of the symbols, e.g. ``"{symbol}.US"`` or ``"#{symbol}"``.
    until : date, optional
        The terminal's "today": no bar after it is served, and fills use its close. Default: the last CSV date.
    login, password, server : optional
        The account; when ``login`` is set, ``initialize``/``login`` with other credentials fail with
        ``RES_E_AUTH_FAILED``. The password is kept private and never logged.
    filling_mode : int
        Bit flags of allowed filling policies (1 = FOK, 2 = IOC); a request with another policy gets 10030.
    volume_min, volume_max, volume_step, contract_size : float
        Lot rules of every symbol (a stock CFD: 1 lot = 1 share by default).
    faults : Faults, optional
        Failures to inject.
    balance : float
        The account's starting balance (``account_info().balance``, USD).
    commission_fixed, commission_rate : float
        Commission of every deal: ``commission_fixed + commission_rate * volume * price * contract_size`` (USD),
        booked on the balance and in the deal's ``commission`` (negative, as MT5 reports it).
    fill_price : {"close", "next_open"}
        Market orders fill (and ``bid``/``ask`` quote) at the last close up to ``until``, or at the open of the
        session after ``until`` (a paper account whose orders are sent after the close fill at the next open).

    Attributes
    ----------
    orders_received : list of dict
        Every order request that reached the terminal (also the refused ones), in order.
    fills : list of dict
        Every executed deal.
    calls : collections.Counter
        Number of calls per function name.
    """

    TIMEFRAME_D1 = TIMEFRAME_D1
    TIMEFRAME_M1, TIMEFRAME_M5, TIMEFRAME_M15, TIMEFRAME_M30 = 1, 5, 15, 30
    TIMEFRAME_H1, TIMEFRAME_H4 = 16385, 16388
    ORDER_TYPE_BUY = ORDER_TYPE_BUY
    ORDER_TYPE_SELL = ORDER_TYPE_SELL
    TRADE_ACTION_DEAL = TRADE_ACTION_DEAL
    ORDER_FILLING_FOK = ORDER_FILLING_FOK
    ORDER_FILLING_IOC = ORDER_FILLING_IOC
    ORDER_FILLING_RETURN = ORDER_FILLING_RETURN
    ORDER_TIME_GTC = ORDER_TIME_GTC
    POSITION_TYPE_BUY = POSITION_TYPE_BUY
    POSITION_TYPE_SELL = POSITION_TYPE_SELL
    SYMBOL_FILLING_FOK = SYMBOL_FILLING_FOK
    SYMBOL_FILLING_IOC = SYMBOL_FILLING_IOC
    TRADE_RETCODE_REQUOTE = TRADE_RETCODE_REQUOTE
    TRADE_RETCODE_REJECT = TRADE_RETCODE_REJECT
    TRADE_RETCODE_CANCEL = TRADE_RETCODE_CANCEL
    TRADE_RETCODE_PLACED = TRADE_RETCODE_PLACED
    TRADE_RETCODE_DONE = TRADE_RETCODE_DONE
    TRADE_RETCODE_DONE_PARTIAL = TRADE_RETCODE_DONE_PARTIAL
    TRADE_RETCODE_ERROR = TRADE_RETCODE_ERROR
    TRADE_RETCODE_TIMEOUT = TRADE_RETCODE_TIMEOUT
    TRADE_RETCODE_INVALID = TRADE_RETCODE_INVALID
    TRADE_RETCODE_INVALID_VOLUME = TRADE_RETCODE_INVALID_VOLUME
    TRADE_RETCODE_INVALID_PRICE = TRADE_RETCODE_INVALID_PRICE
    TRADE_RETCODE_TRADE_DISABLED = TRADE_RETCODE_TRADE_DISABLED
    TRADE_RETCODE_MARKET_CLOSED = TRADE_RETCODE_MARKET_CLOSED
    TRADE_RETCODE_NO_MONEY = TRADE_RETCODE_NO_MONEY
    TRADE_RETCODE_PRICE_CHANGED = TRADE_RETCODE_PRICE_CHANGED
    TRADE_RETCODE_INVALID_FILL = TRADE_RETCODE_INVALID_FILL
    TRADE_RETCODE_CONNECTION = TRADE_RETCODE_CONNECTION
    TRADE_RETCODE_POSITION_CLOSED = TRADE_RETCODE_POSITION_CLOSED
    RES_S_OK = RES_S_OK
    RES_E_FAIL = RES_E_FAIL
    RES_E_INVALID_PARAMS = RES_E_INVALID_PARAMS
    RES_E_NOT_FOUND = RES_E_NOT_FOUND
    RES_E_AUTH_FAILED = RES_E_AUTH_FAILED
    RES_E_INTERNAL_FAIL_INIT = RES_E_INTERNAL_FAIL_INIT
    RES_E_INTERNAL_FAIL_TIMEOUT = RES_E_INTERNAL_FAIL_TIMEOUT

    __version__ = "5.0.45-standin"

    def __init__(self, csv_dir, *, symbol_format: str = "{symbol}", until=None, login: int | None = None,
                 password: str | None = None, server: str | None = None,
                 filling_mode: int = SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC, volume_min: float = 1.0,
                 volume_max: float = 10000.0, volume_step: float = 1.0, contract_size: float = 1.0,
                 faults: Faults | None = None, balance: float = 100000.0, commission_fixed: float = 0.0,
                 commission_rate: float = 0.0, fill_price: str = "close", intraday_timeframe: str | None = None,
                 server_utc_offset_hours: float = 0.0, now=None) -> None:
        self.csv_dir = Path(csv_dir)
        # intraday: csv_dir holds bars of this size (volts.data.intraday_csv layouts, UTC open times), served with
        # the server clock's offset; the bar holding ``now`` (UTC) is the last served, still forming
        self.intraday_timeframe = intraday_timeframe
        self.server_utc_offset_hours = float(server_utc_offset_hours)
        self.now = None if now is None else pd.Timestamp(now)
        if not self.csv_dir.is_dir():
            raise FileNotFoundError(f"{self.csv_dir}: CSV folder not found")
        self.symbol_format = symbol_format
        self.until = None if until is None else pd.Timestamp(until).normalize()
        self._account = (login, server)
        self.__password = password
        self.filling_mode = int(filling_mode)
        self.volume_min, self.volume_max, self.volume_step = float(volume_min), float(volume_max), float(volume_step)
        self.contract_size = float(contract_size)
        self.faults = faults if faults is not None else Faults()
        self.orders_received: list[dict] = []
        self.fills: list[dict] = []
        self.calls: collections.Counter = collections.Counter()
        self._positions: dict[int, TradePosition] = {}
        self._bars: dict[str, pd.DataFrame] = {}
        self._selected: set[str] = set()
        self._initialized = False
        self._error: tuple[int, str] = (RES_S_OK, "Success")
        self._next_ticket = 1000
        self._lock = threading.RLock()
        if fill_price not in ("close", "next_open"):
            raise ValueError(f"fill_price must be 'close' or 'next_open' (got {fill_price!r})")
        self.fill_price = fill_price
        self.commission_fixed, self.commission_rate = float(commission_fixed), float(commission_rate)
        self._balance = float(balance)
        self._deals: list[TradeDeal] = []
        self._orders: dict[int, TradeOrder] = {}
        names = sorted(p.stem for p in self.csv_dir.glob("*.csv"))
        self._broker_to_csv = {symbol_format.format(symbol=s): s for s in names}

    def __repr__(self) -> str:
        return f"StandInTerminal({str(self.csv_dir)!r}, symbols={len(self._broker_to_csv)})"

    # -------------------------------------------------------------------------------------- internals
    def _enter(self, function: str) -> _Plan | None:
        """Count the call and fire a planned fault (raising for drop/eof, returning the plan for none/false)."""
        self.calls[function] += 1
        if self.faults.dead:
            raise StandInConnectionDropped(f"stand-in: the terminal is gone ({function}())")
        plan = self.faults._take(function)
        if plan is None:
            return None
        log.debug("stand-in fault on %s: %s", function, plan.kind)
        if plan.kind == "drop":
            raise StandInConnectionDropped(f"stand-in: connection dropped during {function}()")
        if plan.kind == "eof":
            raise EOFError(f"stand-in: connection closed during {function}()")
        if plan.kind == "ipc":
            self._initialized = False
        self._error = plan.error
        return plan

    def _fail(self, error: tuple[int, str], value=None):
        self._error = error
        return value

    def _ok(self, value):
        self._error = (RES_S_OK, "Success")
        return value

    def _visible_symbols(self) -> list[str]:
        return [b for b in self._broker_to_csv if not self.faults._is_hidden(b)]

    def _frame(self, broker: str) -> pd.DataFrame:
        if self.intraday_timeframe is not None:   # intraday bars by UTC open time, up to the one holding `now`
            from volts.data.intraday_csv import read_intraday_csv

            if broker not in self._bars:
                self._bars[broker] = read_intraday_csv(self.csv_dir / f"{self._broker_to_csv[broker]}.csv",
                                                       broker).bars
            frame = self._bars[broker]
            return frame if self.now is None else frame.loc[frame.index <= self.now]
        if broker not in self._bars:
            path = self.csv_dir / f"{self._broker_to_csv[broker]}.csv"
            raw = pd.read_csv(path, dtype=str)  # numbers parsed by Python's float(): correctly rounded
            frame = pd.DataFrame({
                "open": raw["Open"].astype(float).to_numpy(), "high": raw["High"].astype(float).to_numpy(),
                "low": raw["Low"].astype(float).to_numpy(), "close": raw["Close"].astype(float).to_numpy(),
                "volume": raw["Volume"].astype(float).to_numpy().astype(np.uint64)},
                index=pd.DatetimeIndex(pd.to_datetime(raw["Date"]), name="date"))
            self._bars[broker] = frame
        frame = self._bars[broker]
        if self.until is not None:
            frame = frame.loc[:self.until]
        return frame

    def _complete(self, broker: str) -> pd.DataFrame:
        """Intraday bars that have closed by ``now`` (the bar in progress left out)."""
        from volts.data.timeframes import timeframe as tf_of

        frame = self._frame(broker)
        if self.now is None:
            return frame
        return frame.loc[frame.index + tf_of(self.intraday_timeframe).duration <= self.now]

    def _last_close(self, broker: str) -> float:
        if self.intraday_timeframe is not None and self.now is not None:  # the last close known at `now`
            return float(self._complete(broker)["close"].iloc[-1])
        return float(self._frame(broker)["close"].iloc[-1])

    def set_now(self, now) -> None:
        """Move the intraday terminal's clock (UTC; paper trading: one bar after another)."""
        with self._lock:
            ts = None if now is None else pd.Timestamp(now)
            self.now = ts.tz_convert("UTC").tz_localize(None) if ts is not None and ts.tzinfo else ts

    def _quote(self, broker: str) -> float:
        """The price a market order fills at now (see ``fill_price``)."""
        if self.fill_price == "next_open" and self.intraday_timeframe is not None and self.now is not None:
            self._frame(broker)
            frame = self._bars[broker]
            done = self._complete(broker)
            after = frame.loc[frame.index > done.index[-1]] if len(done) else frame
            if len(after):  # the open of the bar after the last complete one: the bar in progress, or the next
                return float(after["open"].iloc[0])
        if self.fill_price == "next_open" and self.until is not None:
            frame = self._bars.get(broker)
            if frame is None:
                self._frame(broker)
                frame = self._bars[broker]
            after = frame.loc[frame.index > self.until]
            if len(after):
                return float(after["open"].iloc[0])
        return self._last_close(broker)

    def _info(self, broker: str) -> SymbolInfo:
        price = self._quote(broker)
        return SymbolInfo(custom=False, select=broker in self._selected, visible=broker in self._selected,
                          digits=2, spread=0, trade_mode=4, trade_exemode=2, filling_mode=self.filling_mode,
                          bid=price, ask=price, last=price, point=0.01, trade_contract_size=self.contract_size,
                          volume_min=self.volume_min, volume_max=self.volume_max, volume_step=self.volume_step,
                          currency_base="USD", currency_profit="USD", description=f"{broker} (stand-in)",
                          path=f"Stocks\\{broker}", name=broker)

    def _server_time(self) -> int:
        day = self.until if self.until is not None else max(
            (self._frame(b).index[-1] for b in list(self._bars)), default=pd.Timestamp("2000-01-03"))
        return _to_epoch(day.to_pydatetime()) + 20 * 3600

    # -------------------------------------------------------------------------------------- session
    def initialize(self, path: str | None = None, *, login: int | None = None, password: str | None = None,
                   server: str | None = None, timeout: int | None = None, portable: bool = False) -> bool:
        """Connect to the terminal (and log in when ``login`` is given). False on failure, see ``last_error``."""
        with self._lock:
            if self._enter("initialize") is not None:
                self._initialized = False
                return False
            if login is not None and not self._check_account(login, password, server):
                return self._fail((RES_E_AUTH_FAILED, "Authorization failed"), False)
            self._initialized = True
            return self._ok(True)

    def login(self, login: int, password: str | None = None, server: str | None = None,
              timeout: int | None = None) -> bool:
        """Log in to a trading account."""
        with self._lock:
            if self._enter("login") is not None:
                return False
            if not self._initialized:
                return self._fail(_NEEDS_INIT, False)
            if not self._check_account(login, password, server):
                return self._fail((RES_E_AUTH_FAILED, "Authorization failed"), False)
            return self._ok(True)

    def _check_account(self, login, password, server) -> bool:
        want_login, want_server = self._account
        if want_login is None:
            return True
        return (int(login) == int(want_login) and password == self.__password
                and (want_server is None or server == want_server))

    def shutdown(self) -> None:
        """Disconnect from the terminal."""
        with self._lock:
            self.calls["shutdown"] += 1
            self._initialized = False
            self._ok(None)

    def last_error(self) -> tuple[int, str]:
        """(code, description) of the last call."""
        with self._lock:
            self.calls["last_error"] += 1
            return self._error

    def version(self):
        """(terminal version, build, build date)."""
        with self._lock:
            if self._enter("version") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            return self._ok((500, 4000, "01 Jan 2024"))

    # -------------------------------------------------------------------------------------- symbols
    def symbols_total(self):
        """Number of symbols the broker offers."""
        with self._lock:
            if self._enter("symbols_total") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            return self._ok(len(self._visible_symbols()))

    def symbols_get(self, group: str | None = None):
        """Symbols as a tuple of ``SymbolInfo``; ``group`` is MT5's filter (comma-separated ``*`` patterns,
        ``!`` excludes)."""
        with self._lock:
            if self._enter("symbols_get") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            names = self._visible_symbols()
            if group:
                names = [n for n in names if _group_match(n, group)]
            return self._ok(tuple(self._info(n) for n in names))

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        """Show/hide ``symbol`` in MarketWatch; False when the broker has no such symbol."""
        with self._lock:
            if self._enter("symbol_select") is not None:
                return False
            if not self._initialized:
                return self._fail(_NEEDS_INIT, False)
            if symbol not in self._visible_symbols():
                return self._fail((RES_E_NOT_FOUND, "Terminal: Not found"), False)
            (self._selected.add if enable else self._selected.discard)(symbol)
            return self._ok(True)

    def symbol_info(self, symbol: str):
        """``SymbolInfo`` of ``symbol`` or None."""
        with self._lock:
            if self._enter("symbol_info") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            if symbol not in self._visible_symbols():
                return self._fail((RES_E_NOT_FOUND, "Terminal: Not found"))
            return self._ok(self._info(symbol))

    def symbol_info_tick(self, symbol: str):
        """Last tick of ``symbol`` or None."""
        with self._lock:
            if self._enter("symbol_info_tick") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            if symbol not in self._visible_symbols():
                return self._fail((RES_E_NOT_FOUND, "Terminal: Not found"))
            price = self._last_close(symbol)
            t = self._server_time()
            return self._ok(SymbolTick(t, price, price, price, 0, t * 1000, 6, 0.0))

    # -------------------------------------------------------------------------------------- bars
    def copy_rates_range(self, symbol: str, timeframe: int, date_from, date_to):
        """Bars of ``symbol`` with ``date_from <= time <= date_to`` (server clock) as a structured array with
        :data:`RATES_DTYPE`; None on error. Only ``TIMEFRAME_D1`` is served."""
        with self._lock:
            if self._enter("copy_rates_range") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            if self.intraday_timeframe is not None:
                return self._intraday_rates(symbol, timeframe, date_from, date_to)
            if timeframe != TIMEFRAME_D1:
                return self._fail((RES_E_INVALID_PARAMS, "Invalid params: stand-in serves D1 only"))
            if symbol not in self._visible_symbols():
                return self._fail((RES_E_NOT_FOUND, "Terminal: Not found"))
            frame = self._frame(symbol)
            frame = frame.loc[self.faults._bar_mask(symbol, frame.index)]
            times = (frame.index.to_numpy("datetime64[s]").astype("int64"))
            lo, hi = _to_epoch(date_from), _to_epoch(date_to)
            keep = (times >= lo) & (times <= hi)
            frame, times = frame.loc[keep], times[keep]
            out = np.zeros(len(frame), dtype=RATES_DTYPE)
            out["time"] = times
            for col in ("open", "high", "low", "close"):
                out[col] = frame[col].to_numpy(float)
            out["real_volume"] = frame["volume"].to_numpy(np.uint64)
            out["tick_volume"] = frame["volume"].to_numpy(np.uint64) // 100 + 1
            out["spread"] = 1
            if self.faults.forming_bar and len(out) and self.until is not None and \
                    frame.index[-1] == self.until:
                bar = out[-1]  # the session of `until` is still trading: half-way values
                mid = (bar["open"] + bar["close"]) / 2.0
                bar["close"] = mid
                bar["high"] = max(bar["open"], mid, min(bar["high"], max(bar["open"], mid) * 1.001))
                bar["low"] = min(bar["open"], mid, max(bar["low"], min(bar["open"], mid) * 0.999))
                bar["real_volume"] = bar["real_volume"] // 2
                bar["tick_volume"] = bar["tick_volume"] // 2 + 1
                out[-1] = bar
            return self._ok(out)

    def _intraday_rates(self, symbol: str, timeframe: int, date_from, date_to):
        """Intraday bars (``intraday_timeframe``) on the server clock, up to the one holding ``now``."""
        from volts.data.timeframes import timeframe as tf_of

        tf = tf_of(self.intraday_timeframe)
        if timeframe != tf.mt5_value:
            return self._fail((RES_E_INVALID_PARAMS, f"Invalid params: stand-in serves {tf.name} only"))
        if symbol not in self._visible_symbols():
            return self._fail((RES_E_NOT_FOUND, "Terminal: Not found"))
        frame = self._frame(symbol)
        times = frame.index.to_numpy("datetime64[s]").astype("int64") + int(round(self.server_utc_offset_hours * 3600))
        keep = (times >= _to_epoch(date_from)) & (times <= _to_epoch(date_to))
        frame, times = frame.loc[keep], times[keep]
        out = np.zeros(len(frame), dtype=RATES_DTYPE)
        out["time"] = times
        for col in ("open", "high", "low", "close"):
            out[col] = frame[col].to_numpy(float)
        out["tick_volume"] = frame["volume"].to_numpy(np.uint64)   # vendor tick counts; no real volume
        out["spread"] = 1
        return self._ok(out)




# the server's names, importable from here as before (mt5_server imports this module, not the reverse)
__getattr__ = _moved_names(__name__, {"_make_service": "volts.testing.mt5_server", "_quiet_server_class": "volts.testing.mt5_server", "_Server": "volts.testing.mt5_server", "serve_standin": "volts.testing.mt5_server", "main": "volts.testing.mt5_server"})


if __name__ == "__main__":  # pragma: no cover  (python -m volts.testing.mt5_standin DIR --port N)
    from volts.testing.mt5_server import main

    raise SystemExit(main())
