"""MetaTrader5 credentials: login, password and server from the environment or a credentials file, never the config.

:func:`load_credentials` reads them; :class:`Secret` keeps the password out of every repr, log and artifact. A
credentials file inside a git work tree is refused unless git ignores it.
"""

from __future__ import annotations

import logging

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from volts.core.config import Mt5Settings
from volts.core.errors import ConfigError

log = logging.getLogger("volts.data.mt5")  # one logger for the MetaTrader5 source


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
            raise ConfigError(
                f"data.mt5.credentials_file: {path} lies inside the git work tree {tree}; keep "
                "credentials outside any repository (or use the environment variables "
                f"{settings.login_env}/{settings.password_env}/{settings.server_env})"
            )
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("credentials file %s is readable by other users; chmod 600 it", path)
        try:
            values.update(
                {k: v for k, v in _parse_credentials_file(path).items() if k in ("login", "password", "server")}
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"data.mt5.credentials_file: cannot read {path} ({type(exc).__name__})") from None
        sources.append(str(path))
    from_env = False
    for key, var in (
        ("login", settings.login_env),
        ("password", settings.password_env),
        ("server", settings.server_env),
    ):
        value = env.get(var)
        if value:
            values[key] = value
            from_env = True
    if from_env:
        sources.append("environment")
    if not values.get("login"):
        if values.get("password") or values.get("server"):
            raise ConfigError(
                f"MT5 password or server given without a login: set {settings.login_env} "
                "(or 'login' in the credentials file)"
            )
        return None
    try:
        login = int(str(values["login"]).strip())
    except ValueError:
        raise ConfigError(
            f"MT5 login (from {settings.login_env} or the credentials file) must be an integer account number"
        ) from None
    password = Secret(values["password"]) if values.get("password") else None
    server = Secret(values["server"]) if values.get("server") else None
    return Credentials(login=login, password=password, server=server, source=" + ".join(sources))


# --------------------------------------------------------------------------------------------- terminal
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
