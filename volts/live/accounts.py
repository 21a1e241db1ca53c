"""Accounts: who owns a position, and one live run per account at a time.

volts marks its orders with a client id in the MT5 comment (``volts L>F YYMMDDo1``, :func:`client_id`), so a
position can be attributed to the pair that opened it (:class:`Attribution`); :class:`AccountLock` (one lock
file per login@server) keeps two runs from trading one account at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import signal
from pathlib import Path
from typing import Any, Iterable, Mapping

from volts.core.errors import BrokerError

log = logging.getLogger(__name__)

COMMENT_MAX = 31


_CID = re.compile(r"^volts (?P<tag>\S+)(?: (?P<day>\d{6}(?:\d{4})?)(?P<leg>[a-z]\d+))?$")


TEST_KILL_ENV = "VOLTS_TEST_KILL_AT"  # test hook: SIGKILL this process at a named step (see kill_point)


# ------------------------------------------------------------------------------------------- client ids
def _hash_tag(pair: str) -> str:
    return "#" + hashlib.sha1(pair.encode()).hexdigest()[:8]


def pair_tag(pair: str) -> str:
    """The pair's tag in an order comment: ``"MU>QCOM"``, or ``"#"`` + 8 hex digits of SHA-1 when the readable tag
    would not leave room for a session and a leg in 31 characters."""
    leader, follower = pair.split("->", 1)
    tag = f"{leader}>{follower}"
    return tag if len(f"volts {tag} 000000c99") <= COMMENT_MAX else _hash_tag(pair)


def client_id(pair: str, session: dt.date | str, leg: str) -> str:
    """Deterministic client id of one order: ``"volts <tag> <YYMMDD><leg>"`` (at most 31 characters, MT5's limit
    for ``comment``).

    Parameters
    ----------
    pair : str
        ``"LEADER->FOLLOWER"``.
    session : date, datetime or ISO string
        The session the order is for; on bars finer than a day, the open time of the bar (a datetime, written
        ``YYMMDDHHMM``: ``"volts MU>QCOM 2308140900o1"``).
    leg : str
        One letter (``o`` open, ``c`` close, ``r`` reduce) and an ordinal: ``"o1"``.
    """
    tag = pair_tag(pair)
    if isinstance(session, dt.datetime) or (isinstance(session, str) and len(session) > 10):
        day = dt.datetime.fromisoformat(str(session)).strftime("%y%m%d%H%M")
        if len(f"volts {tag} {day}c99") > COMMENT_MAX:  # room for the bar's time and a two-digit leg
            tag = _hash_tag(pair)
    else:
        day = dt.date.fromisoformat(str(session)).strftime("%y%m%d")
    out = f"volts {tag} {day}{leg}"
    if len(out) > COMMENT_MAX:  # a leg ordinal beyond 99: still unique per pair and session in 31 characters
        out = f"volts {_hash_tag(pair)} {day}{leg}"[:COMMENT_MAX]
    return out


def comment_prefix(pair: str, session: dt.date | str) -> str:
    """The part of :func:`client_id` shared by every order of ``pair`` for ``session``."""
    return client_id(pair, session, "o1")[:-2]


def comment_pair(comment: str, known: Iterable[str] = ()) -> str | None:
    """The pair ``"L->F"`` an order comment names (:func:`client_id`, or the older ``"volts L>F"``), or None.

    A hashed tag is resolved among ``known`` pairs (None when none matches)."""
    m = _CID.match(str(comment or ""))
    if not m:
        return None
    tag = m.group("tag")
    if tag.startswith("#"):
        return next((p for p in known if _hash_tag(p) == tag), None)
    if tag.count(">") != 1:
        return None
    leader, follower = tag.split(">")
    return f"{leader}->{follower}" if leader and follower else None


class Attribution:
    """Which pair a volts position belongs to.

    Parameters
    ----------
    known : iterable of str
        Pairs the journal and the selection name (resolve hashed tags).
    sole : mapping of str -> list of str
        Broker symbol -> the pairs of this run that trade it: an untagged position belongs to the only one.
    journal_sole : mapping of str -> list of str
        Broker symbol -> the journal's pairs that traded it (fallback for an untagged position of no current pair).
    """

    def __init__(
        self,
        known: Iterable[str],
        sole: Mapping[str, list] | None = None,
        journal_sole: Mapping[str, list] | None = None,
    ) -> None:
        self.known = list(dict.fromkeys(known))
        self.sole = dict(sole or {})
        self.journal_sole = dict(journal_sole or {})

    def __call__(self, position: Mapping[str, Any]) -> str | None:
        pair = comment_pair(position.get("comment", ""), self.known)
        if pair is not None:
            return pair
        for table in (self.sole, self.journal_sole):
            pairs = table.get(position.get("symbol"), [])
            if len(pairs) == 1:
                return pairs[0]
        return None


# ------------------------------------------------------------------------------------------- account lock
def default_lock_dir() -> Path:
    """Per-user folder of the account locks: ``$XDG_CACHE_HOME/volts/locks`` (``~/.cache/volts/locks``;
    ``%LOCALAPPDATA%\\volts\\locks`` on Windows)."""
    base = os.environ.get("LOCALAPPDATA") if os.name == "nt" else os.environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "volts" / "locks"


def account_identity(term, mt5_settings=None) -> str:
    """``"<login>@<server>"`` of the account the terminal is logged in to (``account_info``); without an
    account (``login`` 0), the configured login or, last, the terminal's address. Never the password."""
    info = term.call("account_info", check=lambda r: None, what="account_info()")
    login = int(getattr(info, "login", 0) or 0) if info is not None else 0
    server = str(getattr(info, "server", "") or "") if info is not None else ""
    if login:
        return f"{login}@{server}"
    if mt5_settings is not None:
        from volts.data.mt5 import load_credentials

        try:
            creds = load_credentials(mt5_settings)
        except Exception:  # an unreadable credentials file is reported where it is used
            creds = None
        if creds is not None and getattr(creds, "login", None):
            return f"{creds.login}@{getattr(creds, 'server', '') or ''}"
        return f"terminal {mt5_settings.host}:{mt5_settings.port}"
    return f"terminal {getattr(term, 'description', 'MT5')}"


class AccountLock:
    """An exclusive, re-entrant lock on one broker account across processes (``filelock``).

    Parameters
    ----------
    identity : str
        ``"login@server"`` (:func:`account_identity`).
    lock_dir : path, optional
        Folder of the lock files (default :func:`default_lock_dir`).
    timeout : float
        Seconds to wait for another run; then :class:`BrokerError` (nothing sent).
    """

    def __init__(self, identity: str, lock_dir=None, timeout: float = 60.0) -> None:
        from filelock import FileLock

        folder = Path(lock_dir).expanduser() if lock_dir else default_lock_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.identity = identity
        self.path = folder / f"account-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.lock"
        self.timeout = float(timeout)
        self._lock = FileLock(str(self.path), timeout=self.timeout)

    def __enter__(self) -> "AccountLock":
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise BrokerError(
                f"account {self.identity}: another volts run holds its lock {self.path} (still "
                f"executing orders after {self.timeout:g} s); nothing was sent. Wait for it to "
                "finish and run again (it reconciles with the positions), or raise "
                "live.lock_timeout_seconds"
            ) from None
        log.debug("account lock %s acquired", self.path)
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


def account_lock(term, live_settings=None, mt5_settings=None, timeout: float | None = None) -> AccountLock:
    """The :class:`AccountLock` of the account ``term`` trades (``live.lock_dir``, ``live.lock_timeout_seconds``)."""
    lock_dir = getattr(live_settings, "lock_dir", None) if live_settings is not None else None
    if timeout is None:
        timeout = getattr(live_settings, "lock_timeout_seconds", 60.0) if live_settings is not None else 60.0
    return AccountLock(account_identity(term, mt5_settings), lock_dir, timeout)


# ------------------------------------------------------------------------------------------- test hook
def kill_point(name: str) -> None:
    """Test hook: when the environment variable ``VOLTS_TEST_KILL_AT`` equals ``name``, the process kills itself
    with SIGKILL here (no cleanup, as a power cut or ``kill -9``). Points: ``after_positions_read``,
    ``after_order_send``, ``before_journal_write``."""
    if os.environ.get(TEST_KILL_ENV) == name:
        log.warning("test hook: SIGKILL at %s", name)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def journal_pairs(journal) -> list[str]:
    """Every pair the journal names (oldest first)."""
    rows = journal._db.execute("SELECT pair FROM events WHERE pair IS NOT NULL GROUP BY pair ORDER BY MIN(id)")
    return [r[0] for r in rows.fetchall()]
