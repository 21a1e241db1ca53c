"""The MetaTrader5 terminal behind one interface: the native package on Windows, mt5linux over RPyC elsewhere.

:class:`Mt5Terminal` wraps either with retries and back-off on transient faults, re-initialises on lost IPC, and
turns the terminal's error codes into :class:`volts.core.errors.BrokerError` messages;
:func:`resolve_symbols` maps volts symbols to the broker's names (suffixes, aliases).
"""

from __future__ import annotations

import logging

import datetime as dt
import difflib
import sys
import time
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from volts.core.config import Mt5Settings
from volts.core.errors import BrokerError, ConfigError
from volts.data.mt5_credentials import (
    Credentials,
    _first_line,
    load_credentials,
)

log = logging.getLogger("volts.data.mt5")  # one logger for the MetaTrader5 source

#: Connection-level failures worth a reconnect and a retry.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (EOFError, ConnectionError, TimeoutError, OSError)


# MT5 ``last_error`` codes after which retrying cannot help.
_FATAL_CODES = {
    -2: "invalid parameters",
    -5: "invalid terminal version",
    -6: "authorization failed",
    -7: "unsupported",
    -8: "auto-trading disabled",
}


# MT5 ``last_error`` codes that mean the IPC session with the terminal is gone: every later call fails the same
# way until ``initialize`` runs again, so a retry must re-initialise first (RES_E_INTERNAL_FAIL_SEND,
# RES_E_INTERNAL_FAIL_INIT "No IPC connection", RES_E_INTERNAL_FAIL_CONNECT).
_REINIT_CODES = {-10001: "IPC send failed", -10003: "no IPC connection", -10004: "IPC connect failed"}


# Values of the MetaTrader5 package, used when an API object lacks a constant.
DEFAULT_CONSTANTS: dict[str, int] = {
    "TIMEFRAME_D1": 16408,
    "ORDER_TYPE_BUY": 0,
    "ORDER_TYPE_SELL": 1,
    "TRADE_ACTION_DEAL": 1,
    "ORDER_FILLING_FOK": 0,
    "ORDER_FILLING_IOC": 1,
    "ORDER_FILLING_RETURN": 2,
    "ORDER_TIME_GTC": 0,
    "POSITION_TYPE_BUY": 0,
    "POSITION_TYPE_SELL": 1,
    "TRADE_RETCODE_PLACED": 10008,
    "TRADE_RETCODE_DONE": 10009,
    "RES_S_OK": 1,
}


INSTALL_NATIVE = (
    "pip install MetaTrader5 (Windows only, next to a running MetaTrader 5 terminal); on Linux set "
    'data.mt5.bridge = "mt5linux"'
)


INSTALL_MT5LINUX = (
    "pip install mt5linux==1.0.11 on this machine, and run its Windows-side server under Wine next "
    "to a running MetaTrader 5 terminal (wine mt5server.exe -p PORT, or python -m mt5linux -p PORT "
    "in a Windows Python that has MetaTrader5)"
)


class _Transient(Exception):
    """A failure worth retrying (carries the reason for the final message)."""


class Mt5Terminal:
    """A connection to a MetaTrader 5 terminal, with retries, backoff and reconnection.

    Parameters
    ----------
    connect : callable () -> API object
        Makes a fresh API object: the ``MetaTrader5`` module, an ``mt5linux.MetaTrader5(host, port)`` client,
        or a :class:`volts.testing.mt5_standin.StandInTerminal`. Called again after a dropped connection.
    credentials : Credentials, optional
        Passed to ``initialize``; None = the terminal's saved account.
    retries : int
        Extra attempts after a transient failure (``data.mt5.retries``).
    backoff_seconds : float
        First wait; attempt k (k >= 1) waits ``backoff_seconds * 2**(k-1)`` seconds.
    timeout_seconds : float
        ``initialize(timeout=...)`` in milliseconds.
    sleep : callable (seconds) -> None
        Waiting function (inject ``lambda s: None`` in tests).
    description : str
        How to name the terminal in messages (e.g. ``"mt5linux server 127.0.0.1:18812"``).
    on_close : callable (api) -> None, optional
        Releases an API object (closes the RPyC connection of an mt5linux client).
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        credentials: Credentials | None = None,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        description: str = "MetaTrader 5 terminal",
        on_close: Callable[[Any], None] | None = None,
    ) -> None:
        self._connect = connect
        self._credentials = credentials
        self.retries = int(retries)
        self.backoff_seconds = float(backoff_seconds)
        self.timeout_seconds = float(timeout_seconds)
        self._sleep = sleep if sleep is not None else time.sleep
        self.description = description
        self._on_close = on_close
        self._api: Any = None
        self._ready = False
        self._secrets = credentials.secrets() if credentials is not None else []

    def __repr__(self) -> str:
        return f"Mt5Terminal({self.description!r}, connected={self._ready})"

    # ---------------------------------------------------------------------------- construction
    @classmethod
    def from_api(cls, api: Any, **kwargs) -> "Mt5Terminal":
        """Wrap an API object that is already at hand (the ``MetaTrader5`` module, a stand-in); a reconnect
        re-runs ``initialize`` on the same object."""
        kwargs.setdefault("description", type(api).__name__ if not isinstance(api, type(sys)) else api.__name__)
        return cls(lambda: api, **kwargs)

    @classmethod
    def from_settings(
        cls,
        settings: Mt5Settings,
        *,
        credentials: Credentials | None | str = "load",
        sleep: Callable[[float], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> "Mt5Terminal":
        """The terminal described by ``data.mt5`` (bridge, host, port, retries, credentials).

        Raises
        ------
        ConfigError
            The bridge's package is not installed (the message says what to install) or the credentials are
            misconfigured.
        """
        if isinstance(credentials, str):
            credentials = load_credentials(settings, environ=environ)
        bridge = settings.bridge
        if bridge == "auto":
            bridge = "native" if sys.platform == "win32" else "mt5linux"
        common = dict(
            credentials=credentials,
            retries=settings.retries,
            backoff_seconds=settings.backoff_seconds,
            timeout_seconds=settings.timeout_seconds,
            sleep=sleep,
        )
        if bridge == "native":
            try:
                import MetaTrader5 as native  # type: ignore[import-not-found]
            except ImportError:
                raise ConfigError(
                    f'data.mt5.bridge = "native" needs the MetaTrader5 package, which is not '
                    f"installed: {INSTALL_NATIVE}"
                ) from None
            return cls(lambda: native, description="MetaTrader5 terminal (native)", **common)
        try:
            from mt5linux import MetaTrader5 as Mt5LinuxClient  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError(
                f'data.mt5.bridge = "mt5linux" needs the mt5linux package, which is not installed: {INSTALL_MT5LINUX}'
            ) from None
        host, port, timeout = settings.host, settings.port, settings.timeout_seconds

        def connect():
            return Mt5LinuxClient(host, port, timeout=timeout)

        return cls(connect, description=f"mt5linux server {host}:{port}", on_close=_close_mt5linux, **common)

    # ---------------------------------------------------------------------------- plumbing
    def scrub(self, text: str) -> str:
        """``text`` with every credential value replaced by ``***``."""
        for secret in self._secrets:
            if len(secret) >= 4:  # shorter texts would garble messages (and are not credible secrets)
                text = text.replace(secret, "***")
        return text

    def const(self, name: str) -> int:
        """An MT5 constant (``TIMEFRAME_D1``, ``TRADE_RETCODE_DONE``, ...) from the API, else the package value."""
        api = self._api
        if api is not None:
            value = getattr(api, name, None)
            if isinstance(value, (int, np.integer)):
                return int(value)
        return DEFAULT_CONSTANTS[name]

    def _reset(self) -> None:
        api, self._api, self._ready = self._api, None, False
        if api is None:
            return
        try:
            if self._on_close is not None:
                self._on_close(api)
            else:
                api.shutdown()
        except Exception:  # the connection is gone already
            pass

    def _error_text(self, api=None) -> str:
        api = api if api is not None else self._api
        try:
            code, text = api.last_error()
            return f"MT5 error {int(code)}: {text}"
        except Exception as exc:  # the terminal cannot even say why
            return f"last_error() unavailable ({type(exc).__name__})"

    def _error_code(self, api=None) -> int | None:
        try:
            return int((api if api is not None else self._api).last_error()[0])
        except Exception:
            return None

    def _ensure(self) -> Any:
        if self._ready:
            return self._api
        try:
            self._api = self._connect()
        except ImportError as exc:
            raise ConfigError(f"{self.description}: a package is missing ({_first_line(exc)})") from None
        except TRANSIENT_EXCEPTIONS as exc:
            self._api = None
            raise _Transient(
                f"cannot reach the {self.description} ({type(exc).__name__}: {_first_line(exc)})"
            ) from None
        kwargs: dict[str, Any] = {"timeout": int(self.timeout_seconds * 1000)}
        if self._credentials is not None:
            kwargs.update(self._credentials.initialize_kwargs())
        try:
            ok = self._api.initialize(**kwargs)
        except TRANSIENT_EXCEPTIONS as exc:
            self._reset()
            raise _Transient(f"initialize() lost the connection ({type(exc).__name__})") from None
        if not ok:
            code = self._error_code()
            reason = f"initialize() failed ({self._error_text()})"
            self._reset()
            if code in _FATAL_CODES:
                raise BrokerError(self.scrub(f"{self.description}: {reason}; not retried ({_FATAL_CODES[code]})"))
            raise _Transient(reason)
        self._ready = True
        log.info("connected to the %s", self.description)
        return self._api

    def _wait(self, attempt: int) -> None:
        if attempt > 0 and self.backoff_seconds > 0:
            self._sleep(self.backoff_seconds * 2 ** (attempt - 1))
        elif attempt > 0:
            self._sleep(0.0)

    def connect(self) -> "Mt5Terminal":
        """Open the connection and initialise the terminal now (retried).

        Raises
        ------
        BrokerError
            After ``retries`` failed attempts, with the last MT5 error code and text.
        """
        self.call("version", check=lambda r: None)
        return self

    def call(
        self, name: str, *args, check: Callable[[Any], str | None] | None = None, what: str | None = None, **kwargs
    ) -> Any:
        """Call ``api.name(*args, **kwargs)`` with retries.

        Parameters
        ----------
        name : str
            MetaTrader5 function name.
        check : callable (result) -> str or None, optional
            Returns a reason when the result is a (retryable) failure; default: ``None`` is a failure.
        what : str, optional
            How to name the call in the error message (default ``name(args)``).

        Returns
        -------
        The result of the call (an RPyC proxy for mt5linux).

        Raises
        ------
        BrokerError
            After ``retries + 1`` failed attempts (one line: the call, the attempts, the last reason with MT5's
            ``last_error()`` code and text), or at once on an unexpected exception or a fatal MT5 error.
        """
        label = what or f"{name}({', '.join(repr(a) for a in args)})"
        attempts = self.retries + 1
        reason = "not attempted"
        for attempt in range(attempts):
            self._wait(attempt)
            try:
                api = self._ensure()
                result = getattr(api, name)(*args, **kwargs)
                problem = (None if result is not None else "returned None") if check is None else check(result)
                if problem is None:
                    return result
                reason = f"{problem} ({self._error_text(api)})"
                if self._error_code(api) in _REINIT_CODES:  # the session is dead: re-initialise on the retry
                    reason += "; re-initialising the session"
                    self._reset()
            except _Transient as exc:
                reason = str(exc)
            except TRANSIENT_EXCEPTIONS as exc:
                reason = f"connection lost ({type(exc).__name__}: {_first_line(exc)})"
                self._reset()
            except BrokerError:
                raise
            except Exception as exc:
                raise BrokerError(
                    self.scrub(f"{self.description}: {label} raised {type(exc).__name__}: {_first_line(exc)}")
                ) from None
            log.info(
                "%s", self.scrub(f"{self.description}: {label} failed (attempt {attempt + 1}/{attempts}): {reason}")
            )
        raise BrokerError(self.scrub(f"{self.description}: {label} failed after {attempts} attempt(s): {reason}"))

    def call_once(self, name: str, *args, **kwargs) -> Any:
        """Call ``api.name`` exactly once, connecting first (with retries) if needed; no retry of the call itself.

        Used for ``order_send``, which must never be repeated blindly. A connection lost during the call raises
        :class:`ConnectionLost` (the outcome is unknown); the connection is reset for the next call.
        """
        self.call("version", check=lambda r: None, what="connect")
        try:
            result = getattr(self._api, name)(*args, **kwargs)
            if result is None and self._error_code() in _REINIT_CODES:
                text = self._error_text()
                self._reset()  # the next call re-initialises
                raise ConnectionLost(
                    self.scrub(
                        f"{self.description}: {name} returned None ({text}); the session "
                        "is re-initialised; outcome unknown"
                    )
                )
            return result
        except TRANSIENT_EXCEPTIONS as exc:
            self._reset()
            raise ConnectionLost(
                self.scrub(f"{self.description}: connection lost during {name} ({type(exc).__name__}); outcome unknown")
            ) from None
        except BrokerError:
            raise
        except Exception as exc:
            raise BrokerError(
                self.scrub(f"{self.description}: {name} raised {type(exc).__name__}: {_first_line(exc)}")
            ) from None

    def last_error(self) -> tuple[int, str]:
        """MT5's ``last_error()`` of the current connection, or ``(0, 'not connected')``."""
        if self._api is None:
            return (0, "not connected")
        try:
            code, text = self._api.last_error()
            return int(code), self.scrub(str(text))
        except Exception as exc:
            return (0, f"last_error() unavailable ({type(exc).__name__})")

    def close(self) -> None:
        """Shut the terminal connection down (idempotent)."""
        if self._api is not None and self._ready:
            log.info("disconnecting from the %s", self.description)
        self._reset()

    def __enter__(self) -> "Mt5Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ConnectionLost(BrokerError):
    """The connection dropped during a call whose effect cannot be known from the client (``order_send``)."""


def _close_mt5linux(api: Any) -> None:
    try:
        api.shutdown()
    except Exception:
        pass
    conn = getattr(api, "_MetaTrader5__conn", None)  # mt5linux keeps its RPyC connection name-mangled
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def as_terminal(terminal: Any, **kwargs) -> Mt5Terminal:
    """``terminal`` if it is an :class:`Mt5Terminal`, else an API object wrapped with :meth:`Mt5Terminal.from_api`."""
    return terminal if isinstance(terminal, Mt5Terminal) else Mt5Terminal.from_api(terminal, **kwargs)


# --------------------------------------------------------------------------------------------- symbols
def broker_symbol(symbol: str, settings: Mt5Settings) -> str:
    """The broker's name of a universe symbol: ``symbol_map[symbol]``, else prefix + symbol + suffix."""
    if symbol in settings.symbol_map:
        return settings.symbol_map[symbol]
    return f"{settings.symbol_prefix}{symbol}{settings.symbol_suffix}"


def _names(items) -> list[str]:
    return [str(item.name) for item in items]


def resolve_symbols(terminal: Mt5Terminal, symbols: Iterable[str], settings: Mt5Settings) -> dict[str, str]:
    """Map universe symbols to broker symbols and make sure the terminal offers and shows them.

    Each broker name (:func:`broker_symbol`) is checked with ``symbol_info`` and added to MarketWatch with
    ``symbol_select(name, True)``.

    Returns
    -------
    dict
        Universe symbol -> broker symbol, in the given order.

    Raises
    ------
    BrokerError
        A symbol the broker does not offer, naming it and the closest names from ``symbols_get`` (and how to
        map it); or a terminal failure after retries.
    """
    out: dict[str, str] = {}
    for sym in symbols:
        name = broker_symbol(sym, settings)
        info = terminal.call("symbol_info", name, check=lambda r: None)
        if info is None:
            listing = terminal.call(
                "symbols_get", group=f"*{sym}*", what=f"symbols_get(group='*{sym}*')", check=lambda r: None
            )
            candidates = sorted(set(_names(listing or ())))
            if name in candidates:  # the symbol exists: the None above was a glitch, retry it properly
                terminal.call("symbol_info", name)
            else:
                if not candidates:
                    everything = terminal.call("symbols_get", what="symbols_get()")
                    if name in _names(everything):  # the first calls failed (a lost session), not the symbol
                        terminal.call("symbol_info", name)
                        terminal.call("symbol_select", name, True, check=lambda ok: None if ok else "returned False")
                        out[sym] = name
                        continue
                    candidates = difflib.get_close_matches(name, _names(everything), n=5, cutoff=0.6)
                hint = (
                    f"; close candidates: {', '.join(candidates[:8])}"
                    if candidates
                    else "; no similar symbol on the terminal"
                )
                raise BrokerError(
                    f"{sym}: the broker has no symbol '{name}'{hint} (map it with "
                    f"data.mt5.symbol_map or symbol_prefix/symbol_suffix)"
                )
        terminal.call("symbol_select", name, True, check=lambda ok: None if ok else "returned False")
        out[sym] = name
    return out


# --------------------------------------------------------------------------------------------- time
def _parse_close(text: str) -> dt.time:
    try:
        hours, minutes = text.split(":")
        return dt.time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ConfigError(f"data.mt5.session_close_local: '{text}' is not HH:MM") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"data.mt5.exchange_timezone: unknown time zone '{name}'") from None


def _now_utc(now) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    value = now() if callable(now) else now
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise TypeError(f"now must be a datetime or a callable returning one (got {type(value).__name__})")
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
