"""The order journal: every decision, request and result of the live path, in SQLite.

One row per event, written before and after each order, so a run killed at any point can be reconciled by the
next (:class:`Journal`); a file lock keeps two processes from writing one journal at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

from volts.core.errors import BrokerError

log = logging.getLogger(__name__)

EVENT_KINDS = ("decision", "request", "result", "error")


# --------------------------------------------------------------------------------------------- journal
def _clock(now) -> Callable[[], dt.datetime]:
    if now is None:
        return lambda: dt.datetime.now(dt.timezone.utc)
    if callable(now):
        return now
    return lambda: now


def _iso(ts: dt.datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


class Journal:
    """Append-only SQLite journal of live trading events (WAL mode, one table).

    Table ``events``: ``id`` (autoincrement), ``ts`` (UTC ISO 8601), ``run_id``, ``kind`` (decision | request |
    result | error), ``session`` (ISO date or NULL), ``pair`` (``"L->F"`` or NULL), ``payload`` (JSON).
    Every :meth:`record` is its own committed transaction (``synchronous=FULL``), so an event written before a
    crash survives it.

    Parameters
    ----------
    path : path
        SQLite file (created with its folder if needed).
    run_id : str, optional
        Identifier of this run (default: a random 12-hex id).
    now : datetime or callable, optional
        Clock for ``ts`` (default: system UTC).
    """

    def __init__(self, path, *, run_id: str | None = None, now=None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._now = _clock(now)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS events ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, run_id TEXT NOT NULL,"
            " kind TEXT NOT NULL CHECK (kind IN ('decision','request','result','error')),"
            " session TEXT, pair TEXT, payload TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS events_key ON events (session, pair)")

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, run_id={self.run_id!r})"

    def record(
        self, kind: str, payload: Mapping[str, Any], *, pair: str | None = None, session: str | dt.date | None = None
    ) -> int:
        """Append one event and commit it; returns its id.

        Raises
        ------
        ValueError
            Unknown ``kind``.
        """
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown journal event kind {kind!r}; expected one of {EVENT_KINDS}")
        from volts.core.artifacts import to_jsonable

        text = json.dumps(to_jsonable(dict(payload)), sort_keys=True, allow_nan=False)
        session = session.isoformat() if isinstance(session, dt.date) else session
        cur = self._db.execute(
            "INSERT INTO events (ts, run_id, kind, session, pair, payload) VALUES (?,?,?,?,?,?)",
            (_iso(self._now()), self.run_id, kind, session, pair, text),
        )
        return int(cur.lastrowid)

    def events(
        self, *, session: str | dt.date | None = None, pair: str | None = None, kind: str | None = None
    ) -> list[dict]:
        """Events (oldest first) as dicts with the payload parsed, filtered by session, pair and kind."""
        where, args = [], []
        for col, value in (("session", session), ("pair", pair), ("kind", kind)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value.isoformat() if isinstance(value, dt.date) else value)
        sql = "SELECT id, ts, run_id, kind, session, pair, payload FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [
            {
                "id": r[0],
                "ts": r[1],
                "run_id": r[2],
                "kind": r[3],
                "session": r[4],
                "pair": r[5],
                "payload": json.loads(r[6]),
            }
            for r in rows
        ]

    def completed(self, session, pair: str) -> bool:
        """Whether the pair's target was reached for ``session`` by an earlier run."""
        return any(
            e["payload"].get("status") == "complete" for e in self.events(session=session, pair=pair, kind="result")
        )

    def pending(self, session, pair: str) -> list[dict]:
        """Order requests of (session, pair) that have no result yet (a crash or a lost reply)."""
        events = self.events(session=session, pair=pair)
        answered = {e["payload"].get("request_uid") for e in events if e["kind"] in ("result", "error")}
        return [e for e in events if e["kind"] == "request" and e["payload"].get("request_uid") not in answered]

    def last_plan(self, pair: str) -> dict | None:
        """The latest decision of ``pair`` (any session) that planned a position volume: its payload (with
        ``target``, ``volume``, ``session`` added), or None."""
        rows = self._db.execute(
            "SELECT session, payload FROM events WHERE pair = ? AND kind = 'decision' ORDER BY id DESC", (pair,)
        ).fetchall()
        for session, text in rows:
            payload = json.loads(text)
            if payload.get("volume") is not None and payload.get("action") != "skip":
                return {**payload, "session": session}
        return None

    def lock(self, timeout: float = 60.0):
        """An exclusive lock on this journal across processes (``filelock``, file ``<journal>.lock``).

        Use as a context manager around reading positions and sending orders: a second process waits up to
        ``timeout`` seconds, then gets a :class:`BrokerError` naming the lock file (nothing sent).
        """
        return _JournalLock(self.path, timeout)

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None  # type: ignore[assignment]

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _JournalLock:
    def __init__(self, path: Path, timeout: float) -> None:
        from filelock import FileLock

        self.path = Path(f"{path}.lock")
        self.timeout = float(timeout)
        self._lock = FileLock(str(self.path), timeout=self.timeout)

    def __enter__(self) -> "_JournalLock":
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise BrokerError(
                f"{self.path}: another volts run holds the journal lock (still executing orders "
                f"after {self.timeout:g} s); nothing was sent. Wait for it to finish and run again "
                "(it reconciles with the positions), or raise live.lock_timeout_seconds"
            ) from None
        log.debug("journal lock %s acquired", self.path)
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()
