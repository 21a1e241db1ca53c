"""The whole live book: every position volts holds follows the current selection, one run per broker account.

:func:`volts.live.orders.execute_targets` brings the positions of the pairs it is given to their targets. This module
decides *which* pairs a run handles and keeps runs apart:

* **The book is the selection** (:func:`execute_book`). The target of a run is the set of positions the current
  selection wants, computed by :func:`volts.live.orders.compute_targets` (the :mod:`volts.trading.signals` kernel of the
  backtest). A position carrying volts' magic number that belongs to a pair no longer selected is closed at the
  run, as the walk-forward closes a pair that leaves at the next open (:mod:`volts.trading.simulate`). An empty selection
  is a valid target: everything volts holds is closed.
* **Positions are attributed to pairs by their comment.** Every order carries a client id in MT5's ``comment``
  (:func:`client_id`, at most 31 characters): ``volts MU>QCOM 230814 o1`` = pair MU->QCOM, session 2023-08-14,
  opening leg 1 (``c``: a close, ``r``: a reduction). A position keeps the comment of the order that opened it,
  so each pair's positions are told apart even when two pairs trade one symbol (they are held side by side on a
  hedging account and sum there, as the simulator's sleeves sum). A name too long for the comment is replaced
  by ``#`` and 8 hex digits of its SHA-1, resolved through the journal's pairs. A position without a readable
  tag (planted by hand) belongs to the only pair that trades its symbol, if there is one.
* **One claim per account** (:func:`account_lock`). The lock is keyed by the broker account (login and server,
  read from the terminal's ``account_info``), not by the journal path, and lives in a per-user folder
  (``live.lock_dir``, default ``~/.cache/volts/locks``): two runs from two folders or two configs naming one
  account wait for each other. Under the lock the run reads the positions, the pending orders and the recent
  deals of each pair before sending (see :func:`volts.live.orders.execute_targets`).

Source: MetaTrader5 Python API (``positions_get``, ``orders_get``, ``history_deals_get``, ``account_info``; the
31-character comment); issue "The live book follows the selection" of the project.
"""

from __future__ import annotations

import logging
from typing import Any

from volts.live.accounts import (  # noqa: F401  (re-exported: this module's API before the split)
    _CID,
    COMMENT_MAX,
    TEST_KILL_ENV,
    AccountLock,
    Attribution,
    _hash_tag,
    account_identity,
    account_lock,
    client_id,
    comment_pair,
    comment_prefix,
    default_lock_dir,
    journal_pairs,
    kill_point,
    pair_tag,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- the book
def all_positions(term, magic: int) -> list[dict]:
    """Every open position with volts' magic number, on any symbol (``positions_get()``)."""
    ok_code = term.const("RES_S_OK")

    def check(result):
        if result is not None:
            return None
        return None if term.last_error()[0] == ok_code else "returned None"

    result = term.call("positions_get", check=check, what="positions_get()")
    return [
        {
            "ticket": int(p.ticket),
            "type": int(p.type),
            "volume": float(p.volume),
            "magic": int(p.magic),
            "symbol": str(p.symbol),
            "comment": str(p.comment),
        }
        for p in (result or ())
        if int(p.magic) == int(magic)
    ]


def departed_targets(
    targets: list,
    held: list[dict],
    attribution: Attribution,
    journal,
    *,
    asof,
    session,
    ma_window: int,
    mode: str,
    timeframe: str = "D1",
    calendar: str | None = None,
) -> tuple[list, list[dict]]:
    """Closing targets (target 0) for every pair volts holds that the selection no longer holds.

    Returns
    -------
    (targets, orphans)
        One :class:`volts.live.orders.Target` per departed pair (lag from its last journaled decision, else 1), and
        the positions that belong to no pair at all (reported, left open).
    """
    from volts.live.orders import Target

    selected = {t.pair for t in targets}
    out: dict[str, Any] = {}
    orphans = []
    for p in held:
        pair = attribution(p)
        if pair is None:
            orphans.append(p)
            continue
        if pair in selected or pair in out:
            continue
        leader, follower = pair.split("->", 1)
        plan = journal.last_plan(pair) if journal is not None else None
        lag = int((plan or {}).get("lag") or 1)
        out[pair] = Target(
            leader=leader,
            follower=follower,
            lag=lag,
            asof=asof,
            session=session,
            target=0,
            signal_date=None,
            leader_close=None,
            sma=None,
            ma_window=int(ma_window),
            mode=mode,
            timeframe=timeframe,
            calendar=calendar,
        )
    return list(out.values()), orphans


def execute_book(
    targets: list,
    terminal,
    journal,
    *,
    settings,
    asof,
    session,
    now=None,
    allow_stale: bool = False,
    ma_window: int = 20,
    mode: str = "long_short",
    selection_asof=None,
    timeframe: str = "D1",
    calendar: str | None = None,
) -> tuple[list, list[dict]]:
    """Bring the whole volts book on the account to the selection's targets.

    Parameters
    ----------
    targets : list of volts.live.orders.Target
        The selected pairs' targets (:func:`volts.live.orders.compute_targets`); may be empty (an empty selection).
    terminal : volts.data.mt5.Mt5Terminal or MetaTrader5-like API object
    journal : volts.live.orders.Journal
    settings : volts.core.config.Settings
        ``live`` (magic, sizing, lock), ``data.mt5`` (symbols), ``backtest.capital``.
    asof, session : datetime.date
        Last close used and the session the orders are for (used for the closing targets of departed pairs).
    now, allow_stale
        As :func:`volts.live.orders.execute_targets`.
    selection_asof : date or str, optional
        The selection's as-of date: with ``live.sizing = "sleeve"`` its first run records the re-selection (the
        pool funds the pairs that enter, :mod:`volts.live.sizing`).
    timeframe, calendar : str
        Bar size and calendar of the closing targets of departed pairs (intraday: ``asof`` and ``session`` are
        bar open times, see :mod:`volts.live.intraday`).

    Returns
    -------
    (executions, orphans)
        :class:`volts.live.orders.PairExecution` per pair (selected first, then departed), and the volts positions no
        pair could be attributed to (left open; the caller reports them).

    Raises
    ------
    BrokerError, DataError, UsageError
        As :func:`volts.live.orders.execute_targets`; the account lock held beyond ``live.lock_timeout_seconds``.
    """
    from volts.data.mt5 import as_terminal, broker_symbol
    from volts.live.orders import execute_targets

    live = settings.live
    mt5 = settings.data.mt5
    term = as_terminal(terminal, retries=mt5.retries, backoff_seconds=mt5.backoff_seconds)
    lock = account_lock(term, live, mt5)
    with lock:
        known = [t.pair for t in targets] + journal_pairs(journal)
        held = all_positions(term, live.magic)
        by_symbol: dict[str, list] = {}
        for t in targets:
            by_symbol.setdefault(broker_symbol(t.follower, mt5), []).append(t.pair)
        past: dict[str, list] = {}
        for pair in journal_pairs(journal):
            past.setdefault(broker_symbol(pair.split("->", 1)[1], mt5), []).append(pair)
        attribution = Attribution(known, by_symbol, past)
        leaving, orphans = departed_targets(
            targets,
            held,
            attribution,
            journal,
            asof=asof,
            session=session,
            ma_window=ma_window,
            mode=mode,
            timeframe=timeframe,
            calendar=calendar,
        )
        for p in orphans:
            log.warning(
                "position #%s on %s carries volts' magic number %s but names no pair (comment %r): left "
                "open; close it in the terminal if volts opened it",
                p["ticket"],
                p["symbol"],
                live.magic,
                p["comment"],
            )
        common = dict(
            magic=live.magic,
            volume_per_pair=live.volume_per_pair,
            capital=settings.backtest.capital,
            deviation=live.deviation_points,
            now=now,
            settings=mt5,
            allow_stale=allow_stale,
            lock_timeout=live.lock_timeout_seconds,
            lock=lock,
            attribution=attribution,
            cap_volume=live.cap_volume,
        )
        if getattr(live, "sizing", "fixed") != "sleeve":
            allt = list(targets) + leaving
            executions = execute_targets(allt, term, journal, **common) if allt else []
            return executions, orphans
        # sleeves (the walk-forward's capital rule): leavers close first, their cash returns to the pool, then
        # the re-selection funds the entrants and the selected pairs are sized from their sleeves
        from volts.live.sizing import rebuild

        closed = execute_targets(leaving, term, journal, **common) if leaving else []
        ledger = rebuild(settings, journal, term, attribution, magic=live.magic)
        if selection_asof is not None and ledger.last_asof != str(selection_asof):
            pairs = [t.pair for t in targets]
            journal.record(
                "decision",
                {
                    "action": "rebalance",
                    "asof": str(selection_asof),
                    "pairs": pairs,
                    "lags": {t.pair: int(t.lag) for t in targets},
                    "last_ticket": ledger.last_ticket,
                    "pool": ledger.pool,
                },
            )
            ledger.rebalance(str(selection_asof), pairs)
        executions = execute_targets(list(targets), term, journal, sizer=ledger.lots, **common) if targets else []
        executions = executions + closed
    return executions, orphans


__all__ = [
    "client_id",
    "comment_pair",
    "comment_prefix",
    "pair_tag",
    "Attribution",
    "AccountLock",
    "account_lock",
    "account_identity",
    "default_lock_dir",
    "all_positions",
    "departed_targets",
    "execute_book",
    "kill_point",
    "TEST_KILL_ENV",
]
