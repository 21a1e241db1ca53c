"""``volts signal`` on bars finer than a day (``[data] timeframe`` = ``M1`` .. ``H4``).

The decision is taken at the close of the last complete bar (the bar in progress is dropped) and the positions
are for the next bar the calendar expects, filled at its open (:mod:`volts.live.intraday`). Before any order
(``--execute``): the bar in progress is never traded; every symbol's last complete bar must be the one the
calendar expects just before now (else stale: exit 3 unless ``--allow-stale``); the selection must be at most
``live.max_selection_age_bars`` bars old. A dry run prints both checks and writes ``<out>/<YYYY-MM-DDTHHMM>.json``.

Exit codes: 0 success, 2 usage/config/selection errors, 3 data errors, 4 broker errors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import pandas as pd
import typer


def run_intraday_signal(
    settings,
    selection_path: Path,
    *,
    asof,
    out: Path,
    execute: bool,
    confirm,
    journal_path: Optional[Path],
    console,
    terminal=None,
    now=None,
    sleep=None,
    allow_stale: bool = False,
):
    """:func:`volts.commands.signal.run_signal` for intraday bars (same arguments and return value).

    ``asof``: a date (the last bar opened that day), an instant (the open time of the decision bar, UTC), or
    None (the last complete bar).

    Length: the live decision in the order it must happen (selection, bars, freshness and age checks, targets,
    file, orders, journal), as in ``run_signal``, so that the order of the safety checks reads top to bottom.
    """
    from volts import __version__
    from volts.commands._signal_tables import _print_executions, _print_targets
    from volts.core.artifacts import now_utc_iso, read_selection
    from volts.core.errors import UsageError
    from volts.data.intraday_calendar import grid_phase
    from volts.data.timeframes import timeframe
    from volts.live.intraday import (
        check_fresh_bars,
        compute_intraday_targets,
        default_age_limit,
        expected_last_bar,
        intraday_warmup_start,
        next_bar_open,
        selection_age_bars,
        utc_naive,
    )
    from volts.live.intraday_feed import load_live_bars, write_intraday_signals
    from volts.live.orders import Journal

    selection = read_selection(selection_path)
    from volts.core.artifacts import check_selection_bar_size

    check_selection_bar_size(selection, settings.data.timeframe, selection_path)
    pairs = selection["pairs"]
    symbols = list(dict.fromkeys(s for p in pairs for s in (p["leader"], p["follower"])))
    max_lag = max((int(p["lag"]) for p in pairs), default=1)
    st = settings.strategy
    source = settings.data.source
    if source not in ("csv", "mt5"):
        raise UsageError(f"volts signal reads csv or mt5 data (data.source is '{source}')")
    tf = timeframe(settings.data.timeframe)
    cal = settings.data.calendar
    now_ts = utc_naive(now)

    term = terminal
    own_terminal = False
    try:
        market, live = None, None
        if source == "mt5" and pairs:
            from volts.data.mt5 import Mt5Terminal, as_terminal

            mt5 = settings.data.mt5
            if term is None:
                term = Mt5Terminal.from_settings(mt5, sleep=sleep)
                own_terminal = True
            else:
                term = as_terminal(term, retries=mt5.retries, backoff_seconds=mt5.backoff_seconds, sleep=sleep)
        if pairs:
            end_ref = pd.Timestamp(asof if asof is not None else now_ts)
            start = intraday_warmup_start(end_ref, ma_window=st.ma_window, max_lag=max_lag, tf=tf, calendar=cal)
            live = load_live_bars(settings, symbols, start=start, end=end_ref.date(), now=now_ts, terminal=term)
            for sym, t in live.in_progress.items():
                console.print(
                    f"{sym}: the {tf.name} bar opened at {t:%Y-%m-%d %H:%M} UTC is still in progress at "
                    f"{now_ts:%Y-%m-%d %H:%M} UTC: not used",
                    markup=False,
                )
            market = live.market
            targets = compute_intraday_targets(
                pairs, market, tf=tf, calendar=cal, asof=asof, ma_window=st.ma_window, mode=st.mode
            )
            decision = pd.Timestamp(targets[0].asof)
            session = pd.Timestamp(targets[0].session)
            _print_targets(targets, console, f"{source}, {tf.name} bars, calendar {cal}, times UTC")
            from volts.commands.select import data_quality, data_quality_line

            console.print(data_quality_line(data_quality(market)), markup=False)
        else:  # a valid target: hold nothing
            targets = []
            if asof is None:
                decision = expected_last_bar(now_ts, tf, cal)
            elif isinstance(asof, dt.datetime):
                decision = pd.Timestamp(asof)
            else:
                decision = expected_last_bar(pd.Timestamp(asof) + pd.Timedelta(days=1), tf, cal)
            if decision is None:
                raise UsageError(f"the {cal} calendar expects no {tf.name} bar before {now_ts:%Y-%m-%d %H:%M}")
            session = next_bar_open(decision, tf, cal)
            console.print(
                f"flat: the selection holds no pair (selection as of {selection.get('asof')}); target for the "
                f"{tf.name} bar opening {session:%Y-%m-%d %H:%M} UTC: no position",
                markup=False,
            )
        present = market.dates if market is not None else None
        # each symbol's own last complete bar (a symbol that lags is the one named); with --asof, the decision bar
        last = {s: (t if asof is None else min(t, decision)) for s, t in live.last.items()} if live is not None else {}
        fresh = check_fresh_bars(
            last,
            now=now_ts,
            tf=tf,
            calendar=cal,
            raise_=False,
            present=present,
            phase=grid_phase(present, tf) if present is not None else None,
        )
        console.print(fresh.line(), markup=False)
        limit = default_age_limit(settings.live, tf, cal, present)
        age = selection_age_bars(selection, decision, tf, cal, present=present, selection_path=selection_path)
        console.print(age.line(limit), markup=False)
        meta = {
            "source": source,
            "selection": str(selection_path),
            "selection_asof": selection.get("asof"),
            "selection_age_bars": age.bars,
            "volts_version": __version__,
            "config_sha256": settings.sha256(),
            "data_sha256": market.slice(end=decision).sha256() if market is not None else None,
            "created": now_utc_iso(),
        }
        path = write_intraday_signals(targets, out, asof=decision, session=session, tf=tf.name, calendar=cal, meta=meta)
        console.print(f"wrote {path}", markup=False)
        if not execute:
            console.print("dry run: no order sent (use --execute to route the targets to MT5)", markup=False)
            return targets, path, None

        fresh.check(allow_stale=allow_stale)
        age.check(limit, allow_stale=allow_stale)
        if not confirm(targets):
            console.print("not confirmed: no order sent", markup=False)
            raise typer.Exit(1)
        if term is None:
            from volts.data.mt5 import Mt5Terminal

            term = Mt5Terminal.from_settings(settings.data.mt5, sleep=sleep)
            own_terminal = True
        from volts.live.book import execute_book

        with Journal(journal_path or Path(settings.live.journal), now=now) as journal:
            console.print(f"journal {journal.path} (run {journal.run_id})", markup=False)
            executions, orphans = execute_book(
                targets,
                term,
                journal,
                settings=settings,
                asof=decision.to_pydatetime(),
                session=session.to_pydatetime(),
                now=now,
                allow_stale=allow_stale,
                ma_window=st.ma_window,
                mode=st.mode,
                selection_asof=selection.get("asof"),
                timeframe=tf.name,
                calendar=cal,
            )
        for p in orphans:
            console.print(
                f"warning: position #{p['ticket']} on {p['symbol']} has volts' magic number but names no "
                "pair: left open",
                markup=False,
            )
        if executions:
            _print_executions(executions, console)
        elif not targets:
            console.print("flat: volts holds no position on this account; nothing to send", markup=False)
        return targets, path, executions
    finally:
        if own_terminal and term is not None:
            term.close()
