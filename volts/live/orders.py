"""Live signals and order routing through a MetaTrader 5 terminal.

* :func:`compute_targets` turns a selection's pairs and the latest closed bars into the follower position for the
  next session, through :func:`volts.trading.signals.next_session_target` only (the function the backtest uses), so a live
  session and a backtest decide alike day by day.
* :func:`write_signals` writes ``<out>/<DATE>.json`` atomically.
* :class:`Journal` is an append-only SQLite log (WAL mode) of every decision, order request, result and error.
* :func:`execute_targets` reconciles each pair with the terminal's positions (filtered by the magic number) and
  sends the market orders that are still needed, recording each request *before* ``order_send`` and its result
  right after.

Safety rules of :func:`execute_targets` (decisions)
---------------------------------------------------
* Idempotent per (session, pair): a pair whose target was reached for a session is journaled as ``complete`` and
  skipped by any later run for that session; otherwise the terminal's positions decide what is still needed,
  so a run that crashed between ``order_send`` and journaling its result (a ``pending`` request) does not send
  the order again when the position is already there.
* ``order_send`` is never repeated blindly: after a lost connection or a ``None`` reply the positions are read
  again and the plan recomputed from them (at most ``retries`` times).
* A retcode other than ``TRADE_RETCODE_DONE`` (10009) or ``TRADE_RETCODE_PLACED`` (10008) is journaled, the
  remaining pairs are still processed, and a :class:`BrokerError` naming the first failure (code and comment) is
  raised at the end.
* A flip (long -> short or back) closes the open position(s) with opposite deals carrying their ``position``
  ticket, then opens the new one. Positions are told apart by pair through the client id in each order's comment
  (:mod:`volts.live.book`), so two pairs may share a follower.
* Volume in lots: ``volume_per_pair`` if given, else ``capital / (price * contract size)``, rounded down to the
  symbol's ``volume_step``, capped at ``volume_max``; below ``volume_min`` the pair is refused before any order
  of the run is sent.

* One run at a time: :func:`execute_targets` holds a lock from before it reads the positions until the last
  result is journaled, so a second ``volts signal --execute`` waits (``live.lock_timeout_seconds``) and then finds
  the pair complete, instead of reading "no position" and sending a second order. ``volts signal`` passes the
  account's lock (:func:`volts.live.book.account_lock`, keyed by login@server); called alone, the journal's
  (``<journal>.lock``). Before each order the pair's pending orders and deals of the session are read from the
  broker (:func:`_leg_id`).
* Volumes, not only signs, are reconciled: the wanted position is sign x volume; a partial fill (retcode 10010)
  leaves the pair unfinished for its session and the next run sends only the difference (the volume planned for
  the session is kept in the journal, so a price move between runs does not resize the position).
* Stale data are refused: a target whose last close is older than the exchange's last closed session (by the
  exchange calendar) is not executed unless ``allow_stale`` (``--allow-stale``); a last bar from a session that
  has not closed yet is always refused.
* An order whose reply never came (connection or terminal lost inside ``order_send``) has an unknown outcome:
  the message says so and names the journal file and the ``request`` row id holding it.

Sessions (decision): the session of a target is the exchange's next session after the last close used, from the
exchange calendar (:mod:`volts.data.calendar`, XNYS): the session after Monday 2023-07-03 is Wednesday 2023-07-05.

Source: METHOD.md §6 (timing), ARCHITECTURE.md "Time semantics"; MetaTrader5 Python API (``positions_get``,
``symbol_info``, ``order_send``, trade return codes).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sqlite3
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from volts.core.config import Mt5Settings
from volts.core.errors import BrokerError, DataError, UsageError
from volts.live.journal import (  # noqa: F401  (re-exported: this module's API before the split)
    EVENT_KINDS,
    Journal,
    _clock,
    _iso,
    _JournalLock,
)
from volts.live.targets import (  # noqa: F401  (re-exported: this module's API before the split)
    Target,
    _pair_fields,
    compute_targets,
    next_session,
    write_signals,
)

log = logging.getLogger(__name__)

COMMENT_MAX = 31  # MT5 order comments are at most 31 characters
SUCCESS_RETCODES = (10008, 10009)  # TRADE_RETCODE_PLACED, TRADE_RETCODE_DONE


# --------------------------------------------------------------------------------------------- execution
@dataclass(frozen=True)
class PairExecution:
    """What :func:`execute_targets` did for one pair.

    Attributes
    ----------
    pair, follower, broker_symbol : str
    session : datetime.date
    target : int
        Wanted position sign.
    before : int
        Position sign found on the terminal (magic-number positions only; 2 = long and short at once).
    action : str
        ``none`` (already there), ``open``, ``close``, ``flip``, ``adjust`` (right side, wrong volume: only the
        difference is traded), ``skip`` (completed earlier this session), ``partial`` (an order was filled in
        part; a later run sends the rest), ``failed``.
    orders : tuple of dict
        One per ``order_send``: step, request_uid, retcode, comment, deal, order, volume, price.
    message : str
        Failure message ("" on success).
    """

    pair: str
    follower: str
    broker_symbol: str
    session: dt.date
    target: int
    before: int
    action: str
    orders: tuple = field(default_factory=tuple)
    message: str = ""

    @property
    def ok(self) -> bool:
        """True unless the pair failed or was filled in part."""
        return self.action not in ("failed", "partial")

    def to_dict(self) -> dict:
        """JSON-ready plain dict."""
        return {"pair": self.pair, "follower": self.follower, "broker_symbol": self.broker_symbol,
                "session": self.session.isoformat(), "target": int(self.target), "before": int(self.before),
                "action": self.action, "orders": [dict(o) for o in self.orders], "message": self.message}


def order_comment(target: Target) -> str:
    """MT5 order comment naming the pair, at most 31 characters (``"volts MU>QCOM"``)."""
    return f"volts {target.leader}>{target.follower}"[:COMMENT_MAX]


def _filling(info: Any, term) -> int:
    mode = int(getattr(info, "filling_mode", 0) or 0)
    if mode & 1:
        return term.const("ORDER_FILLING_FOK")
    if mode & 2:
        return term.const("ORDER_FILLING_IOC")
    return term.const("ORDER_FILLING_RETURN")


def order_volume(*, price: float, volume_min: float, volume_max: float, volume_step: float,
                 contract_size: float = 1.0, volume_per_pair: float | None = None, capital: float = 1000.0,
                 label: str = "", cap_volume: bool = False) -> float:
    """Order size in lots: ``volume_per_pair``, else ``capital / (price * contract_size)``, rounded down to
    ``volume_step``; above ``volume_max`` it is refused, or capped at it with ``cap_volume`` (``live.cap_volume``).

    Raises
    ------
    BrokerError
        The size is below ``volume_min`` (or the price/lot rules are unusable).
    UsageError
        The size is above the broker's maximum lot and ``cap_volume`` is False (exit 2: a sizing setting to fix).
    """
    if not (price > 0 and volume_step > 0 and volume_min > 0 and volume_max >= volume_min):
        raise BrokerError(f"{label}: unusable lot rules or price (price {price}, min {volume_min}, max "
                          f"{volume_max}, step {volume_step})")
    raw = float(volume_per_pair) if volume_per_pair is not None else capital / (price * (contract_size or 1.0))
    decimals = max(0, -int(math.floor(math.log10(volume_step)))) + 2
    steps = math.floor(raw / volume_step + 1e-9)
    volume = round(steps * volume_step, decimals)
    if volume > volume_max and not cap_volume:
        how = "volume_per_pair" if volume_per_pair is not None else f"capital {capital:g} at price {price:g}"
        raise UsageError(f"{label}: {how} gives {volume:g} lots, above the broker's maximum {volume_max:g} lots per "
                         "order; nothing sent. Lower the size (live.volume_per_pair or backtest.capital), or set "
                         "live.cap_volume = true to trade the maximum instead")
    if volume > volume_max:
        log.warning("%s: %.6g lots capped at the broker's maximum %.6g", label, volume, volume_max)
        volume = round(math.floor(volume_max / volume_step + 1e-9) * volume_step, decimals)
    if volume < volume_min - 1e-12:
        how = "volume_per_pair" if volume_per_pair is not None else f"capital {capital:g} at price {price:g}"
        raise BrokerError(f"{label}: {how} gives {raw:.6g} lots, below the broker's minimum {volume_min:g} "
                          f"(step {volume_step:g})")
    return float(volume)


_INFO_FIELDS = ("name", "bid", "ask", "last", "volume_min", "volume_max", "volume_step", "trade_contract_size",
                "filling_mode")


def _symbol_info(term, broker: str) -> SimpleNamespace:
    """``symbol_info`` copied into a local object (an RPyC proxy would die with its connection)."""
    info = term.call("symbol_info", broker)
    return SimpleNamespace(**{f: getattr(info, f, None) for f in _INFO_FIELDS})


def _positions(term, broker: str, magic: int, attribution=None, pair: str | None = None) -> list[dict]:
    """Open positions of ``broker`` with volts' magic number; with ``attribution``, only those of ``pair``."""
    ok_code = term.const("RES_S_OK")

    def check(result):
        if result is not None:
            return None
        return None if term.last_error()[0] == ok_code else "returned None"

    result = term.call("positions_get", symbol=broker, check=check, what=f"positions_get(symbol='{broker}')")
    out = []
    for p in (result or ()):
        if int(p.magic) != int(magic):
            continue
        out.append({"ticket": int(p.ticket), "type": int(p.type), "volume": float(p.volume),
                    "magic": int(p.magic), "symbol": str(p.symbol), "comment": str(p.comment)})
    if attribution is not None:
        out = [p for p in out if attribution(p) == pair]
    return out


def _sign(positions: list[dict], term) -> int:
    buy = term.const("POSITION_TYPE_BUY")
    longs = any(p["type"] == buy for p in positions)
    shorts = any(p["type"] != buy for p in positions)
    if longs and shorts:
        return 2
    return 1 if longs else (-1 if shorts else 0)


def _result_dict(result: Any) -> dict:
    def get(name, cast, default):
        try:
            value = getattr(result, name)
            return cast(value)
        except Exception:
            return default
    return {"retcode": get("retcode", int, None), "comment": get("comment", str, ""), "deal": get("deal", int, 0),
            "order": get("order", int, 0), "volume": get("volume", float, 0.0), "price": get("price", float, 0.0),
            "request_id": get("request_id", int, 0), "retcode_external": get("retcode_external", int, 0)}


def check_fresh(targets: list[Target], *, now=None, allow_stale: bool = False, calendar: str = "XNYS") -> None:
    """Refuse to trade on stale data or on a bar whose session has not closed.

    Parameters
    ----------
    targets : list of Target
        Their ``asof`` is the last close used.
    now : datetime or callable, optional
        The current instant (naive = UTC); default the system clock.
    allow_stale : bool
        Trade targets whose last close is older than the exchange's last closed session (``--allow-stale``).
    calendar : str
        Exchange calendar (:mod:`volts.data.calendar`).

    Raises
    ------
    DataError
        The last close is older than the last closed session (unless ``allow_stale``), or later than it (a bar
        of a session still trading, or from the future: never allowed).

    Notes
    -----
    Targets on bars finer than a day (``Target.timeframe``) are checked against their own calendar's bar grid
    instead (:func:`volts.live.intraday.check_fresh_bars`: the bar in progress is never traded, a bar older than
    the last complete bar the calendar expects is stale).
    """
    from volts.data.calendar import last_closed_session

    if not targets:
        return
    intraday = next((t for t in targets if getattr(t, "timeframe", "D1") != "D1"), None)
    if intraday is not None:  # bars finer than a day: the bar grid of the calendar (volts.live.intraday)
        from volts.live.intraday import check_fresh_bars

        # the "bars" calendar's sessions come from the data: its staleness was judged by the caller, with them
        check_fresh_bars({t.pair: t.asof for t in targets}, now=now, tf=intraday.timeframe,
                         calendar=intraday.calendar, allow_stale=allow_stale or intraday.calendar == "bars")
        return
    closed = last_closed_session(now, calendar=calendar)
    asof = min(t.asof for t in targets)
    latest = max(t.asof for t in targets)
    if latest > closed:
        raise DataError(f"the data end on {latest}, but the last {calendar} session closed by now is {closed}: "
                        f"the bar of {latest} is not final (a session still trading, or a date in the future); "
                        "nothing sent")
    if asof < closed and not allow_stale:
        raise DataError(f"stale data: the last close used is {asof}, but {calendar} has closed {closed} since; "
                        f"orders 'for {targets[0].session}' would trade a past session's signal. Refresh the data "
                        "(or pass --allow-stale to trade on them anyway); nothing sent")
    if asof < closed:
        log.warning("stale data allowed: last close %s, last closed session %s", asof, closed)


def execute_targets(targets: list[Target], terminal, journal: Journal, *, magic: int = 20230608,
                    volume_per_pair: float | None = None, capital: float = 1000.0, deviation: int = 20, now=None,
                    settings: Mt5Settings | None = None, allow_stale: bool = False,
                    lock_timeout: float = 60.0, lock=None, attribution=None,
                    cap_volume: bool = False, sizer=None) -> list[PairExecution]:
    """Bring the terminal's positions to the targets with market orders, journaling every step.

    Parameters
    ----------
    targets : list of Target
        From :func:`compute_targets`.
    terminal : volts.data.mt5.Mt5Terminal or MetaTrader5-like API object
        Where to trade (an API object is wrapped with default retries).
    journal : Journal
        Event log; also the idempotency record and the lock between runs (see the module docstring).
    magic : int
        Magic number of volts' orders (``live.magic``); positions with another magic are ignored.
    volume_per_pair : float, optional
        Fixed lots per pair (``live.volume_per_pair``); None = ``capital / price``.
    capital : float
        Money per pair (``backtest.capital``), quote currency.
    deviation : int
        Maximal price deviation in points (``live.deviation_points``).
    now : datetime or callable, optional
        Clock for the staleness check and journal stamps (default system UTC).
    settings : Mt5Settings, optional
        Symbol mapping (``symbol_map``/prefix/suffix); default identity mapping.
    allow_stale : bool, default False
        Trade although the last close is older than the exchange's last closed session (:func:`check_fresh`).
    lock_timeout : float, default 60
        Seconds to wait for another run holding the journal's lock (``live.lock_timeout_seconds``).
    lock : context manager, optional
        The lock to hold instead of the journal's (:func:`volts.live.book.account_lock`: one per broker account).
    sizer : callable (Target, price, symbol info) -> lots, optional
        Sizes a new position instead of ``volume_per_pair``/``capital`` (:class:`volts.live.sizing.SleeveLedger`:
        the walk-forward's sleeves).
    cap_volume : bool, default False
        Cap a size above the broker's maximum lot at that maximum (``live.cap_volume``); else it is refused.
    attribution : callable (position dict) -> pair or None, optional
        Which pair a position belongs to (:class:`volts.live.book.Attribution`); default: by the order comment's
        pair tag, an untagged position belonging to the only target that trades its symbol.

    Returns
    -------
    list of PairExecution
        One per target, in order.

    Raises
    ------
    UsageError
        Two targets share a follower.
    DataError
        Stale or unfinished data (:func:`check_fresh`), before any terminal call.
    BrokerError
        A terminal failure after retries (raised at once, after journaling it; when an order's reply was lost
        the message says its outcome is unknown and names the journal file and row), the journal lock held by
        another run beyond ``lock_timeout``, or, after every pair was processed, the first rejected, partially
        filled or refused order.

    Length: the order of the steps is the safety argument (duplicate pairs, terminal, symbols, lock, positions,
    per-pair plan, journal before and after each order); it is kept in one function so that the order can be
    checked by reading it.
    """
    from volts.data.mt5 import TRANSIENT_EXCEPTIONS, as_terminal, resolve_symbols

    settings = settings or Mt5Settings()
    clock = _clock(now)
    from volts.live.accounts import Attribution, journal_pairs, kill_point

    followers = list(dict.fromkeys(t.follower for t in targets))
    pairs = [t.pair for t in targets]
    dupes = sorted({p for p in pairs if pairs.count(p) > 1})
    if dupes:
        raise UsageError(f"{', '.join(dupes)}: pair given twice")
    if not targets:
        return []
    check_fresh(targets, now=clock, allow_stale=allow_stale)
    term = as_terminal(terminal, retries=settings.retries, backoff_seconds=settings.backoff_seconds)
    mapping = resolve_symbols(term, followers, settings)
    if attribution is None:
        sole: dict[str, list] = {}
        for t in targets:
            sole.setdefault(mapping[t.follower], []).append(t.pair)
        attribution = Attribution(pairs + journal_pairs(journal), sole)

    with (lock if lock is not None else journal.lock(lock_timeout)):
        # lot sizes first: a refused size stops the run before any order is sent
        infos: dict[str, Any] = {}
        volumes: dict[str, float | None] = {}
        for t in targets:
            broker = mapping[t.follower]
            info = _symbol_info(term, broker)
            infos[t.follower] = info
            if t.target == 0:
                volumes[t.pair] = None
                continue
            price = float(info.ask if t.target > 0 else info.bid) or float(getattr(info, "last", 0.0) or 0.0)
            if sizer is not None:
                volumes[t.pair] = float(sizer(t, price, info))
                continue
            volumes[t.pair] = order_volume(
                price=price, volume_min=float(info.volume_min), volume_max=float(info.volume_max),
                volume_step=float(info.volume_step),
                contract_size=float(getattr(info, "trade_contract_size", 1.0) or 1),
                volume_per_pair=volume_per_pair, capital=capital, label=t.pair, cap_volume=cap_volume)

        reports: list[PairExecution] = []
        failures: list[str] = []
        for t in targets:
            broker = mapping[t.follower]
            key = {"session": t.session, "pair": t.pair}
            if journal.completed(t.session, t.pair):
                now_held = _positions(term, broker, magic, attribution, t.pair)
                if _sign(now_held, term) == t.target:
                    journal.record("decision", {"action": "skip", "target": t.target,
                                                "reason": "target already reached for this session"}, **key)
                    reports.append(PairExecution(t.pair, t.follower, broker, t.session, t.target, t.target,
                                                 "skip"))
                    continue
                note = (f"{t.pair}: the position volts completed for {t.session} (target {t.target:+d}) is not on "
                        f"the account any more: {broker} holds {_held(now_held, term):g} lots of volts' "
                        "(closed or changed outside volts); trading it back to the target")
                log.warning("%s", note)
                journal.record("decision", {"action": "external_change", "target": t.target, "message": note,
                                            "positions": now_held}, **key)
            pending = journal.pending(t.session, t.pair)
            positions = _positions(term, broker, magic, attribution, t.pair)
            kill_point("after_positions_read")
            before = _sign(positions, term)
            info = infos[t.follower]
            want = _wanted_volume(t, positions, term, journal, volumes[t.pair])
            steps = _plan(t, positions, term, want, info)
            action = _action(before, t.target, steps)
            journal.record("decision", {
                "action": action, "target": t.target, "before": before, "asof": t.asof, "lag": t.lag,
                "signal_date": t.signal_date, "leader_close": t.leader_close, "sma": t.sma,
                "broker_symbol": broker, "positions": positions, "volume": want,
                "held": _held(positions, term), "steps": [[k, v] for k, _, v in steps],
                "pending_requests": [p["payload"].get("request_uid") for p in pending]}, **key)
            for p in pending:  # the positions just read are the truth about what those requests did
                journal.record("result", {"status": "reconciled", "request_uid": p["payload"].get("request_uid"),
                                          "positions": positions}, **key)
            try:
                orders = _drive_pair(t, term, journal, broker, info, want, steps, magic=magic,
                                     deviation=deviation, key=key, attribution=attribution)
            except _Partial as exc:
                journal.record("result", {"status": "partial", "message": str(exc)}, **key)
                failures.append(str(exc))
                reports.append(PairExecution(t.pair, t.follower, broker, t.session, t.target, before, "partial",
                                             tuple(exc.orders), str(exc)))
                continue
            except _Rejected as exc:
                failures.append(str(exc))
                reports.append(PairExecution(t.pair, t.follower, broker, t.session, t.target, before, "failed",
                                             tuple(exc.orders), str(exc)))
                continue
            except BrokerError as exc:
                journal.record("error", {"message": str(exc), "stage": "execute"}, **key)
                raise
            except TRANSIENT_EXCEPTIONS as exc:  # a connection failure outside the retried calls
                message = term.scrub(f"{t.pair}: connection to the {term.description} failed while executing "
                                     f"({type(exc).__name__}); check the positions before running again "
                                     f"(journal {journal.path})")
                journal.record("error", {"message": message, "stage": "execute"}, **key)
                raise BrokerError(message) from None
            kill_point("before_journal_write")
            journal.record("result", {"status": "complete", "position": t.target, "volume": want,
                                      "orders": len(orders)}, **key)
            reports.append(PairExecution(t.pair, t.follower, broker, t.session, t.target, before, action,
                                         tuple(orders)))
    if failures:
        more = f" (+{len(failures) - 1} more pair(s) failed)" if len(failures) > 1 else ""
        raise BrokerError(failures[0] + more)
    return reports


class _Rejected(BrokerError):
    def __init__(self, message: str, orders: list[dict]) -> None:
        super().__init__(message)
        self.orders = orders


class _Partial(_Rejected):
    """An order filled in part (retcode 10010, or a smaller volume than asked)."""


def _held(positions: list[dict], term) -> float:
    """Net held volume in lots: long positive, short negative."""
    buy = term.const("POSITION_TYPE_BUY")
    return round(sum(p["volume"] if p["type"] == buy else -p["volume"] for p in positions), 8)


def _wanted_volume(t: Target, positions: list[dict], term, journal: Journal, fresh: float | None) -> float:
    """Lots the pair should hold (>= 0; the side is ``t.target``).

    The volume planned when the position was opened is kept while the side stays (as the backtest holds its
    shares): the latest journaled plan of the pair with the same side, if positions of that side are held
    (this also completes a partial fill of an earlier run). Without such a plan, a held position of the right
    side is kept as it is; otherwise the fresh size (``fresh``) is used.
    """
    if t.target == 0:
        return 0.0
    buy = term.const("POSITION_TYPE_BUY")
    side = [p for p in positions if (p["type"] == buy) == (t.target > 0)]
    if side:
        plan = journal.last_plan(t.pair)
        if plan is not None and int(plan.get("target", 0)) == t.target and plan.get("volume"):
            return float(plan["volume"])
        return round(sum(p["volume"] for p in side), 8)
    return float(fresh)


def _plan(t: Target, positions: list[dict], term, want: float, info: Any) -> list[tuple[str, dict | None, float]]:
    """Steps from the current positions to ``want`` lots on the target's side: ``(kind, position, lots)`` with
    kind ``close`` (a whole position of the wrong side), ``reduce`` (part of a position of the right side) or
    ``open`` (the missing lots)."""
    buy = term.const("POSITION_TYPE_BUY")
    step = float(getattr(info, "volume_step", 0) or 0) or 1e-8
    tol = step / 2
    decimals = max(0, -int(math.floor(math.log10(step)))) + 2
    wanted_type = None if t.target == 0 else (buy if t.target > 0 else term.const("POSITION_TYPE_SELL"))
    steps: list[tuple[str, dict | None, float]] = [("close", p, float(p["volume"])) for p in positions
                                                   if p["type"] != wanted_type]
    side = sorted((p for p in positions if p["type"] == wanted_type), key=lambda p: -p["volume"])
    held = sum(p["volume"] for p in side)
    if held < want - tol:
        lots = round(math.floor((want - held) / step + 1e-9) * step, decimals)
        vmin = float(getattr(info, "volume_min", 0) or 0)
        if lots >= vmin - 1e-12 and lots > 0:
            steps.append(("open", None, lots))
        else:
            log.warning("%s: %.6g lots missing, below the broker's minimum %.6g: left as it is", t.pair,
                        want - held, vmin)
    elif held > want + tol:
        excess = held - want
        for p in side:
            if excess <= tol:
                break
            lots = round(min(p["volume"], math.floor(excess / step + 1e-9) * step), decimals)
            if lots <= 0:
                break
            steps.append(("close" if lots >= p["volume"] - 1e-12 else "reduce", p, lots))
            excess -= lots
    return steps


def _action(before: int, target: int, steps) -> str:
    if not steps:
        return "none"
    if before == target:
        return "adjust"
    if before == 0:
        return "open"
    return "close" if target == 0 else "flip"


def _drive_pair(t: Target, term, journal: Journal, broker: str, info: Any, want: float,
                steps: list[tuple[str, dict | None, float]], *, magic: int, deviation: int,
                key: dict, attribution=None) -> list[dict]:
    """
    Length: one pair's legs, from plan to filled or given up, with the journal written before and after every
    request; the retry and partial-fill branches share the leg's state.
    """
    from volts.live.accounts import kill_point
    buy_type, sell_type = term.const("ORDER_TYPE_BUY"), term.const("ORDER_TYPE_SELL")
    filling = _filling(info, term)
    done: list[dict] = []
    lost = 0
    last_unknown: tuple[int, str] | None = None  # (journal row, request uid) of the latest unknown outcome
    while steps:
        step, pos, lots = steps[0]
        try:
            fresh = _symbol_info(term, broker)
        except BrokerError as exc:
            raise _unknown(exc, t, journal, last_unknown) from None
        if step in ("close", "reduce"):
            side = sell_type if pos["type"] == term.const("POSITION_TYPE_BUY") else buy_type
        else:
            side = buy_type if t.target > 0 else sell_type
        price = float(fresh.ask if side == buy_type else fresh.bid) or float(getattr(fresh, "last", 0.0) or 0.0)
        try:
            cid = _leg_id(term, t, broker, step)
        except _Rejected as exc:
            raise _Rejected(str(exc), done) from None
        except BrokerError as exc:
            raise _unknown(exc, t, journal, last_unknown) from None
        request: dict[str, Any] = {
            "action": int(term.const("TRADE_ACTION_DEAL")), "symbol": str(broker), "volume": float(lots),
            "type": int(side), "price": float(price), "deviation": int(deviation), "magic": int(magic),
            "comment": cid, "type_time": int(term.const("ORDER_TIME_GTC")),
            "type_filling": int(filling)}
        if step in ("close", "reduce"):
            request["position"] = int(pos["ticket"])
        uid = uuid.uuid4().hex
        row = journal.record("request", {"status": "pending", "step": step, "request_uid": uid,
                                         "request": request}, **key)
        outcome_unknown = None
        try:
            result = term.call_once("order_send", request)
            kill_point("after_order_send")
        except BrokerError as exc:
            from volts.data.mt5 import ConnectionLost

            if not isinstance(exc, ConnectionLost):
                journal.record("error", {"request_uid": uid, "message": str(exc)}, **key)
                raise
            outcome_unknown = str(exc)
            result = None
        if result is None:
            reason = outcome_unknown or f"order_send returned None ({term.last_error()})"
            journal.record("error", {"request_uid": uid, "message": reason, "outcome": "unknown",
                                     "request_row": row}, **key)
            last_unknown = (row, uid)
            lost += 1
            if lost > term.retries:
                raise BrokerError(f"{t.pair}: order_send for {broker} failed {lost} time(s): {reason}; the "
                                  f"outcome of the last {step} order ({lots:g} lots) is unknown: journal "
                                  f"{journal.path}, request row id {row} (request_uid {uid}); check the "
                                  "terminal's positions before running again")
            log.info("%s: %s; reading positions before deciding again", t.pair, reason)
            term._wait(lost)
            try:
                positions = _positions(term, broker, magic, attribution, t.pair)
            except BrokerError as exc:
                raise _unknown(exc, t, journal, last_unknown) from None
            steps = _plan(t, positions, term, want, info)
            continue
        res = _result_dict(result)
        partial = res["retcode"] == 10010 or (res["retcode"] in SUCCESS_RETCODES and step == "open"
                                              and 0 < res["volume"] < lots - 1e-9)
        ok = res["retcode"] in SUCCESS_RETCODES and not partial
        status = "partial" if partial else ("done" if ok else "rejected")
        try:
            journal.record("result", {"status": status, "step": step, "request_uid": uid, "requested": lots,
                                      **res}, **key)
        except (sqlite3.Error, OSError) as exc:
            from volts.core.errors import ArtifactError

            filled = (f"WAS FILLED: {res['volume'] or lots:g} lots at {res['price']:g}, deal {res['deal']}, order "
                      f"{res['order']}, retcode {res['retcode']}") if res["retcode"] in SUCCESS_RETCODES else \
                f"was answered with retcode {res['retcode']} ({res['comment']})"
            raise ArtifactError(f"{t.pair}: the {step} order for {broker} {filled}, but the journal {journal.path} "
                                f"could not record it ({type(exc).__name__}: {exc}). The account holds the result; "
                                "do not send it again by hand. Fix the journal (disk space, permissions), then run "
                                "volts signal --execute again: it reads the terminal's positions and deals and "
                                f"reconciles (the request is journal row {row}, request_uid {uid})") from None
        entry = {"step": step, "request_uid": uid, **res}
        done.append(entry)
        if partial:
            raise _Partial(f"{t.pair}: {step} order for {broker} filled {res['volume']:g} of {lots:g} lots "
                           f"(retcode {res['retcode']}, {res['comment']}); run again to send the remaining "
                           f"{lots - res['volume']:g}", done)
        if not ok:
            raise _Rejected(f"{t.pair}: {step} order for {broker} rejected by the broker: retcode {res['retcode']} "
                            f"({res['comment']})", done)
        log.info("%s: %s %s %.6g lots at %.6g: retcode %s", t.pair, step, broker, res["volume"] or lots,
                 res["price"], res["retcode"])
        steps = steps[1:]
    return done


def _leg_id(term, t: Target, broker: str, step: str) -> str:
    """The client id of the next order of ``t`` (:func:`volts.live.book.client_id`), read from the broker: no
    order is sent while one of the pair's orders for the session is pending (``orders_get``), and the leg's
    ordinal follows the pair's deals of the session already in the account's history (``history_deals_get``), so
    each order of a (pair, session) carries its own id, whichever run or machine sends it."""
    from volts.live.accounts import client_id, comment_prefix

    kind = {"open": "o", "close": "c", "reduce": "r"}[step]
    prefix = comment_prefix(t.pair, t.session)
    pending = term.call("orders_get", symbol=broker, what=f"orders_get(symbol='{broker}')",
                        check=lambda r: None) or ()
    mine = [o for o in pending if str(o.comment).startswith(prefix)]
    if mine:
        o = mine[0]
        raise _Rejected(f"{t.pair}: an order of this pair for {t.session} is pending at the broker (ticket "
                        f"{int(o.ticket)}, {float(o.volume_current):g} lots, comment '{o.comment}'); nothing sent. "
                        "Run again once it is filled or cancelled", [])
    day = dt.datetime.combine(t.session, dt.time())
    deals = term.call("history_deals_get", day - dt.timedelta(days=14), day + dt.timedelta(days=3),
                      what="history_deals_get(recent)", check=lambda r: None) or ()
    n = 1 + sum(1 for d in deals if str(d.comment).startswith(prefix + kind))
    return client_id(t.pair, t.session, f"{kind}{n}")


def _unknown(exc: BrokerError, t: Target, journal: Journal, last: tuple[int, str] | None) -> BrokerError:
    """The terminal failed for good after an order whose reply was lost: say the outcome is unknown and where
    the journal holds the request; otherwise the failure unchanged."""
    if last is None:
        return exc
    row, uid = last
    return BrokerError(f"{t.pair}: the terminal was lost while an order was in flight: its outcome is unknown. "
                       f"The request is in the journal {journal.path}, request row id {row} (request_uid {uid}); "
                       f"check the terminal's positions before running again (a new run reconciles with them). "
                       f"Last failure: {exc}")


__all__ = ["Target", "compute_targets", "next_session", "write_signals", "Journal", "PairExecution",
           "check_fresh", "execute_targets", "order_volume", "order_comment"]
