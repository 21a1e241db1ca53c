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
from volts.data.market import FIELDS, MarketData
from volts.core.errors import BrokerError, ConfigError

log = logging.getLogger(__name__)

#: A first bar this many calendar days after the requested start is suspicious (see the module docstring).
PARTIAL_START_DAYS = 7
#: This many consecutive trading dates of the other symbols missing inside a symbol's span = partial history.
PARTIAL_GAP_BARS = 5
#: Calendar days fetched before ``start`` so that validation sees the bar before the window (return rule).
LOOKBACK_DAYS = 10

#: Connection-level failures worth a reconnect and a retry.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (EOFError, ConnectionError, TimeoutError, OSError)

# MT5 ``last_error`` codes after which retrying cannot help.
_FATAL_CODES = {-2: "invalid parameters", -5: "invalid terminal version", -6: "authorization failed",
                -7: "unsupported", -8: "auto-trading disabled"}

# MT5 ``last_error`` codes that mean the IPC session with the terminal is gone: every later call fails the same
# way until ``initialize`` runs again, so a retry must re-initialise first (RES_E_INTERNAL_FAIL_SEND,
# RES_E_INTERNAL_FAIL_INIT "No IPC connection", RES_E_INTERNAL_FAIL_CONNECT).
_REINIT_CODES = {-10001: "IPC send failed", -10003: "no IPC connection", -10004: "IPC connect failed"}

# Values of the MetaTrader5 package, used when an API object lacks a constant.
DEFAULT_CONSTANTS: dict[str, int] = {
    "TIMEFRAME_D1": 16408, "ORDER_TYPE_BUY": 0, "ORDER_TYPE_SELL": 1, "TRADE_ACTION_DEAL": 1,
    "ORDER_FILLING_FOK": 0, "ORDER_FILLING_IOC": 1, "ORDER_FILLING_RETURN": 2, "ORDER_TIME_GTC": 0,
    "POSITION_TYPE_BUY": 0, "POSITION_TYPE_SELL": 1, "TRADE_RETCODE_PLACED": 10008, "TRADE_RETCODE_DONE": 10009,
    "RES_S_OK": 1,
}
DEFAULT_CONSTANTS.update({"TIMEFRAME_M1": 1, "TIMEFRAME_M5": 5, "TIMEFRAME_M15": 15, "TIMEFRAME_M30": 30,
                          "TIMEFRAME_H1": 16385, "TIMEFRAME_H4": 16388})   # volts.data.timeframes

INSTALL_NATIVE = ("pip install MetaTrader5 (Windows only, next to a running MetaTrader 5 terminal); on Linux set "
                  "data.mt5.bridge = \"mt5linux\"")
INSTALL_MT5LINUX = ("pip install mt5linux==1.0.11 on this machine, and run its Windows-side server under Wine next "
                    "to a running MetaTrader 5 terminal (wine mt5server.exe -p PORT, or python -m mt5linux -p PORT "
                    "in a Windows Python that has MetaTrader5)")


# --------------------------------------------------------------------------------------------- credentials
class Secret:
    """A string that never shows itself: ``repr``/``str``/format give ``'********'``; ``reveal()`` gives the value.

    Pickling is refused so that a secret cannot leak into an artifact by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", str(value))

    def reveal(self) -> str:
        """The secret value (pass it to the terminal, nowhere else)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __setattr__(self, name, value):  # immutable
        raise AttributeError("Secret is read-only")

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled or serialised")


@dataclass(frozen=True, repr=False)
class Credentials:
    """Account credentials of an MT5 terminal.

    Attributes
    ----------
    login : int
        Account number.
    password : Secret or None
        None = the password saved in the terminal.
    server : Secret or None
        Trade server name; None = the terminal's saved one.
    source : str
        Where they came from (``"environment"``, the file path, or both), for messages.
    """

    login: int
    password: Secret | None = None
    server: Secret | None = None
    source: str = "environment"

    def __repr__(self) -> str:
        return f"Credentials(login=***, password=***, server=***, source={self.source!r})"

    __str__ = __repr__

    def initialize_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``MetaTrader5.initialize`` (values revealed: pass straight to the terminal)."""
        kw: dict[str, Any] = {"login": int(self.login)}
        if self.password is not None:
            kw["password"] = self.password.reveal()
        if self.server is not None:
            kw["server"] = self.server.reveal()
        return kw

    def secrets(self) -> list[str]:
        """The texts to scrub from any message (login, password, server)."""
        out = [str(self.login)]
        out += [s.reveal() for s in (self.password, self.server) if s is not None]
        return [s for s in out if s]


def _git_work_tree(path: Path) -> Path | None:
    for parent in [path.parent, *path.parent.parents]:
        if (parent / ".git").exists():
            return parent
    return None


def _parse_credentials_file(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
        flat = data.get("mt5", data) if isinstance(data.get("mt5"), dict) else data
        return {str(k).lower(): str(v) for k, v in flat.items() if not isinstance(v, dict)}
    except tomllib.TOMLDecodeError:
        pass
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        if "=" not in line:
            raise ConfigError(f"{path}: line {number} is not 'key = value' (credentials file)")
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip().lower()] = value
    return out


def load_credentials(settings: Mt5Settings, *, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Read the MT5 account credentials from the environment and/or ``settings.credentials_file``.

    Parameters
    ----------
    settings : Mt5Settings
        Names of the environment variables (``login_env``, ``password_env``, ``server_env``) and the optional
        ``credentials_file`` (TOML or ``key = value``; keys ``login``, ``password``, ``server``).
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    Credentials or None
        None when neither the environment nor a file gives a login (the terminal's saved account is used).

    Raises
    ------
    ConfigError
        The file is missing, unreadable, inside a git work tree, or malformed; the login is not an integer; a
        password or server is given without a login. Messages name variables and files, never values.
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    sources: list[str] = []
    if settings.credentials_file:
        path = Path(settings.credentials_file).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise ConfigError(f"data.mt5.credentials_file: {path} not found")
        tree = _git_work_tree(path.resolve())
        if tree is not None:
            raise ConfigError(f"data.mt5.credentials_file: {path} lies inside the git work tree {tree}; keep "
                              "credentials outside any repository (or use the environment variables "
                              f"{settings.login_env}/{settings.password_env}/{settings.server_env})")
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("credentials file %s is readable by other users; chmod 600 it", path)
        try:
            values.update({k: v for k, v in _parse_credentials_file(path).items()
                           if k in ("login", "password", "server")})
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"data.mt5.credentials_file: cannot read {path} ({type(exc).__name__})") from None
        sources.append(str(path))
    from_env = False
    for key, var in (("login", settings.login_env), ("password", settings.password_env),
                     ("server", settings.server_env)):
        value = env.get(var)
        if value:
            values[key] = value
            from_env = True
    if from_env:
        sources.append("environment")
    if not values.get("login"):
        if values.get("password") or values.get("server"):
            raise ConfigError(f"MT5 password or server given without a login: set {settings.login_env} "
                              "(or 'login' in the credentials file)")
        return None
    try:
        login = int(str(values["login"]).strip())
    except ValueError:
        raise ConfigError(f"MT5 login (from {settings.login_env} or the credentials file) must be an integer "
                          "account number") from None
    password = Secret(values["password"]) if values.get("password") else None
    server = Secret(values["server"]) if values.get("server") else None
    return Credentials(login=login, password=password, server=server, source=" + ".join(sources))


# --------------------------------------------------------------------------------------------- terminal
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


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

    def __init__(self, connect: Callable[[], Any], *, credentials: Credentials | None = None, retries: int = 3,
                 backoff_seconds: float = 1.0, timeout_seconds: float = 30.0,
                 sleep: Callable[[float], None] | None = None, description: str = "MetaTrader 5 terminal",
                 on_close: Callable[[Any], None] | None = None) -> None:
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
    def from_settings(cls, settings: Mt5Settings, *, credentials: Credentials | None | str = "load",
                      sleep: Callable[[float], None] | None = None,
                      environ: Mapping[str, str] | None = None) -> "Mt5Terminal":
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
        common = dict(credentials=credentials, retries=settings.retries, backoff_seconds=settings.backoff_seconds,
                      timeout_seconds=settings.timeout_seconds, sleep=sleep)
        if bridge == "native":
            try:
                import MetaTrader5 as native  # type: ignore[import-not-found]
            except ImportError:
                raise ConfigError(f"data.mt5.bridge = \"native\" needs the MetaTrader5 package, which is not "
                                  f"installed: {INSTALL_NATIVE}") from None
            return cls(lambda: native, description="MetaTrader5 terminal (native)", **common)
        try:
            from mt5linux import MetaTrader5 as Mt5LinuxClient  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError(f"data.mt5.bridge = \"mt5linux\" needs the mt5linux package, which is not "
                              f"installed: {INSTALL_MT5LINUX}") from None
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
            raise _Transient(f"cannot reach the {self.description} ({type(exc).__name__}: "
                             f"{_first_line(exc)})") from None
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
                raise BrokerError(self.scrub(f"{self.description}: {reason}; not retried "
                                             f"({_FATAL_CODES[code]})"))
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

    def call(self, name: str, *args, check: Callable[[Any], str | None] | None = None, what: str | None = None,
             **kwargs) -> Any:
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
                raise BrokerError(self.scrub(f"{self.description}: {label} raised {type(exc).__name__}: "
                                             f"{_first_line(exc)}")) from None
            log.info("%s", self.scrub(f"{self.description}: {label} failed (attempt {attempt + 1}/"
                                         f"{attempts}): {reason}"))
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
                raise ConnectionLost(self.scrub(f"{self.description}: {name} returned None ({text}); the session "
                                                "is re-initialised; outcome unknown"))
            return result
        except TRANSIENT_EXCEPTIONS as exc:
            self._reset()
            raise ConnectionLost(self.scrub(f"{self.description}: connection lost during {name} "
                                            f"({type(exc).__name__}); outcome unknown")) from None
        except BrokerError:
            raise
        except Exception as exc:
            raise BrokerError(self.scrub(f"{self.description}: {name} raised {type(exc).__name__}: "
                                         f"{_first_line(exc)}")) from None

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
            listing = terminal.call("symbols_get", group=f"*{sym}*", what=f"symbols_get(group='*{sym}*')",
                                    check=lambda r: None)
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
                hint = f"; close candidates: {', '.join(candidates[:8])}" if candidates else \
                    "; no similar symbol on the terminal"
                raise BrokerError(f"{sym}: the broker has no symbol '{name}'{hint} (map it with "
                                  f"data.mt5.symbol_map or symbol_prefix/symbol_suffix)")
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


def trading_dates(times: np.ndarray, *, server_utc_offset_hours: float = 0.0,
                  exchange_timezone: str = "America/New_York") -> pd.DatetimeIndex:
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


def session_closed(dates: pd.DatetimeIndex, *, now, exchange_timezone: str = "America/New_York",
                   session_close_local: str = "16:00") -> np.ndarray:
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


def rates_to_frame(rates: np.ndarray, *, server_utc_offset_hours: float = 0.0,
                   exchange_timezone: str = "America/New_York") -> tuple[pd.DataFrame, str]:
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
    index = trading_dates(rates["time"], server_utc_offset_hours=server_utc_offset_hours,
                          exchange_timezone=exchange_timezone)
    frame = pd.DataFrame({"open": rates["open"].astype("float64"), "high": rates["high"].astype("float64"),
                          "low": rates["low"].astype("float64"), "close": rates["close"].astype("float64"),
                          "volume": volume}, index=index)
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


def fetch_mt5_bars(terminal: Mt5Terminal, symbols: Mapping[str, str], *, start=None, end=None, now=None,
                   settings: Mt5Settings = Mt5Settings()) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
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
    """
    start_ts = pd.Timestamp(start).normalize() if start is not None else None
    end_ts = pd.Timestamp(end).normalize() if end is not None else None
    now_utc = _now_utc(now)
    offset = settings.server_utc_offset_hours
    first_day = (start_ts - pd.Timedelta(days=LOOKBACK_DAYS)).date() if start_ts is not None else dt.date(1990, 1, 1)
    server_today = (now_utc + dt.timedelta(hours=offset)).date()
    last_day = min(end_ts.date() + dt.timedelta(days=1), server_today + dt.timedelta(days=1)) \
        if end_ts is not None else server_today + dt.timedelta(days=1)
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
            days = trading_dates(np.asarray(rates)["time"], server_utc_offset_hours=offset,
                                 exchange_timezone=settings.exchange_timezone)
            inside = np.ones(len(days), dtype=bool)
            if start_ts is not None:
                inside &= np.asarray(days >= start_ts)
            if end_ts is not None:
                inside &= np.asarray(days <= end_ts)
            if not inside.any():
                return (f"returned no bars between {start_ts.date() if start_ts is not None else 'start'} and "
                        f"{end_ts.date() if end_ts is not None else 'now'} (bars {days[0].date()} .. "
                        f"{days[-1].date()})")
            return None

        rates = terminal.call("copy_rates_range", broker, timeframe, date_from, date_to, what=label, check=check)
        rates = np.asarray(rates)
        frame, vol_field = rates_to_frame(rates, server_utc_offset_hours=offset,
                                          exchange_timezone=settings.exchange_timezone)
        closed = session_closed(frame.index, now=now_utc, exchange_timezone=settings.exchange_timezone,
                                session_close_local=settings.session_close_local)
        if not closed.all():
            log.info("%s: dropped %d bar(s) of a session still in progress (%s)", sym, int((~closed).sum()),
                     ", ".join(str(d.date()) for d in frame.index[~closed]))
            frame = frame.loc[closed]
        if end_ts is not None:
            frame = frame.loc[frame.index <= end_ts]
        if len(frame) == 0:
            raise BrokerError(f"{sym} ({broker}): MT5 returned no closed bar between {first_day} and {last_day}")
        log.debug("%s (%s): %d bars %s..%s, volume = %s", sym, broker, len(frame), frame.index[0].date(),
                  frame.index[-1].date(), vol_field)
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
                return (f"history starts {own[0].date()}, but {start_ts.date()} was requested and other symbols "
                        f"have {len(earlier)} bar(s) in between")
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
            raise BrokerError(f"{sym} ({symbols[sym]}): partial history from MT5: {problem} (let the terminal "
                              "download the history: open the symbol's D1 chart, raise 'Max bars in chart')")
    sources = {sym: f"mt5:{broker}" for sym, broker in symbols.items()}
    return raw, sources


def load_mt5_market(data: DataSettings, *, symbols=None, start=None, end=None, terminal=None, now=None,
                    sleep: Callable[[float], None] | None = None,
                    environ: Mapping[str, str] | None = None) -> MarketData:
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
    term = Mt5Terminal.from_settings(settings, sleep=sleep, environ=environ) if own else \
        as_terminal(terminal, retries=settings.retries, backoff_seconds=settings.backoff_seconds,
                    timeout_seconds=settings.timeout_seconds, sleep=sleep)
    try:
        if data.timeframe != "D1":   # bars finer than a day: their own fetch and checks
            from volts.data.mt5_intraday import load_mt5_intraday

            return load_mt5_intraday(data, terminal=term, symbols=symbols, start=start, end=end, now=now)
        mapping = resolve_symbols(term, symbols, settings)
        raw, sources = fetch_mt5_bars(term, mapping, start=start, end=end, now=now, settings=settings)
    finally:
        if own:
            term.close()
    return validate_bars(raw, sources=sources, start=start, end=end, on_invalid=data.on_invalid,
                         missing=data.missing, max_abs_return=data.max_abs_return,
                         return_jump=data.return_jump, calendar=data.calendar or None,
                         max_range_multiple=data.max_range_multiple)


__all__ = ["Credentials", "Secret", "Mt5Terminal", "ConnectionLost", "load_credentials", "broker_symbol",
           "resolve_symbols", "trading_dates", "session_closed", "rates_to_frame", "fetch_mt5_bars",
           "load_mt5_market", "as_terminal", "INSTALL_NATIVE", "INSTALL_MT5LINUX"]
