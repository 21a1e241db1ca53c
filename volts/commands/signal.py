"""``volts signal --selection FILE``: target positions for the next session; orders only with ``--execute``.

Steps: read the selection (``volts.core.artifacts.read_selection``), load closed bars of its leaders and followers up
to ``--asof`` (default: the last available bar) from the CSV files or the MT5 terminal, compute each pair's
target through ``volts.trading.signals`` (``volts.live.orders.compute_targets``), print a table, write
``<out>/<DATE>.json`` atomically (DATE = the last close used). With ``--execute`` (after a confirmation, or
``--yes``; without a terminal on stdin and without ``--yes`` the command refuses with exit 2) the targets are
routed to the MT5 terminal of ``[data.mt5]`` through ``volts.live.book.execute_book`` (the whole book: pairs no
longer selected are closed), journaled in ``--journal`` (default ``live.journal``). A selection without a pair is
a valid target ("flat": everything volts holds is closed, exit 0). A selection older than
``live.max_selection_age_sessions`` is refused by --execute (exit 3) unless ``--allow-stale``. Data ending before
the exchange's last closed session are refused with --execute (exit 3) unless ``--allow-stale``; a pair whose
warm-up is short is refused (exit 3), never read as flat.

On bars finer than a day (``[data] timeframe``) the decision is taken at the close of the last complete bar and
targets the next bar the calendar expects, with the stale-bar and selection-age rules counted on the calendar's bar
grid (``volts.commands.signal_intraday``, ``volts.live.intraday``).

Exit codes: 0 success, 2 usage/config/selection errors, 3 data errors, 4 broker errors.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Optional

import typer

from volts.commands._signal_tables import _fmt, _print_executions, _print_targets  # noqa: F401  (moved)
from volts.core.pairs import warmup_start  # shared with `volts backtest`


def _csv_last_date(settings, symbols) -> dt.date:
    """The last date every needed CSV file has (the default as-of date of the csv source)."""
    from volts.data.csv import read_csv_bars, symbol_file

    last = []
    for sym in symbols:
        bars = read_csv_bars(symbol_file(settings.data.dir, sym, settings.data.csv), sym, settings.data.csv)
        last.append(bars.index.dropna().max().date())
    return min(last)


def run_signal(
    settings,
    selection_path: Path,
    *,
    asof: Optional[dt.date],
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
    """The command's work, callable from Python. ``confirm(targets) -> bool`` is asked before any order;
    stale data are refused before it (``allow_stale`` lets them through, see ``volts.live.orders.check_fresh``).

    Returns ``(targets, signals_path, executions)``; ``executions`` is None on a dry run.

    Length: the live decision in the order it must happen (selection age, bars, stale-bar and session checks,
    targets, orders, journal); kept in one place so that the order of the safety checks can be read top to
    bottom.
    """
    if settings.data.timeframe != "D1":  # bars finer than a day: the bar grid of the calendar
        from volts.commands.signal_intraday import run_intraday_signal

        return run_intraday_signal(
            settings,
            selection_path,
            asof=asof,
            out=out,
            execute=execute,
            confirm=confirm,
            journal_path=journal_path,
            console=console,
            terminal=terminal,
            now=now,
            sleep=sleep,
            allow_stale=allow_stale,
        )
    from volts import __version__
    from volts.core.artifacts import now_utc_iso, read_selection
    from volts.core.errors import UsageError
    from volts.live.orders import Journal, check_fresh, compute_targets, write_signals

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

    term = terminal
    own_terminal = False
    try:
        market = None
        if not pairs:  # a valid target: hold nothing
            from volts.data.calendar import last_closed_session

            if asof is None and source == "csv":  # as with pairs: the last date the universe's files have
                day = _csv_last_date(settings, list(selection.get("universe") or settings.data.universe))
            else:
                day = asof or last_closed_session(now)
            targets = []
            console.print(
                f"flat: the selection holds no pair (selection as of {selection.get('asof')}); "
                f"target for the session after {day}: no position",
                markup=False,
            )
        elif source == "mt5":
            from volts.data.mt5 import Mt5Terminal, _now_utc, load_mt5_market

            if term is None:
                term = Mt5Terminal.from_settings(settings.data.mt5, sleep=sleep)
                own_terminal = True
            end_ref = asof or _now_utc(now).date()
            start = warmup_start(end_ref, ma_window=st.ma_window, max_lag=max_lag)
            market = load_mt5_market(
                settings.data, symbols=symbols, start=start, end=asof, terminal=term, now=now, sleep=sleep
            )
        else:
            from volts.data.sources import load_market

            end_ref = asof or _csv_last_date(settings, symbols)
            start = warmup_start(end_ref, ma_window=st.ma_window, max_lag=max_lag)
            market = load_market(settings.data, symbols=symbols, start=start, end=end_ref)

        if market is not None:
            targets = compute_targets(pairs, market, asof=asof, ma_window=st.ma_window, mode=st.mode)
            day = targets[0].asof
            _print_targets(targets, console, source)
            from volts.commands.select import data_quality, data_quality_line

            console.print(data_quality_line(data_quality(market)), markup=False)
        from volts.live.checks import selection_age

        age = selection_age(selection, day, selection_path=selection_path)
        console.print(age.line(settings.live.max_selection_age_sessions), markup=False)
        meta = {
            "source": source,
            "selection": str(selection_path),
            "selection_asof": selection.get("asof"),
            "selection_age_sessions": age.sessions,
            "volts_version": __version__,
            "config_sha256": settings.sha256(),
            "data_sha256": market.sha256() if market is not None else None,
            "created": now_utc_iso(),
        }
        path = write_signals(targets, out, asof=day, meta=meta)
        console.print(f"wrote {path}", markup=False)
        if not execute:
            console.print("dry run: no order sent (use --execute to route the targets to MT5)", markup=False)
            return targets, path, None

        check_fresh(targets, now=now, allow_stale=allow_stale)
        age.check(settings.live.max_selection_age_sessions, allow_stale=allow_stale)
        if not confirm(targets):
            console.print("not confirmed: no order sent", markup=False)
            raise typer.Exit(1)
        if term is None:
            from volts.data.mt5 import Mt5Terminal

            term = Mt5Terminal.from_settings(settings.data.mt5, sleep=sleep)
            own_terminal = True
        from volts.live.orders import next_session
        from volts.live.book import execute_book

        with Journal(journal_path or Path(settings.live.journal), now=now) as journal:
            console.print(f"journal {journal.path} (run {journal.run_id})", markup=False)
            executions, orphans = execute_book(
                targets,
                term,
                journal,
                settings=settings,
                asof=day,
                session=next_session(day),
                now=now,
                allow_stale=allow_stale,
                ma_window=st.ma_window,
                mode=st.mode,
                selection_asof=selection.get("asof"),
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


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, console, load_cli_settings
    from volts.commands._common import parse_date

    @app.command("signal")
    def signal(
        selection: Path = typer.Option(..., "--selection", help="selection.json written by `volts select`."),
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 (default: data.source)."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        asof: Optional[str] = typer.Option(
            None,
            "--asof",
            help="Last close to use, YYYY-MM-DD (default: the last available bar); on intraday bars also "
            "YYYY-MM-DDTHH:MM, the open time (UTC) of the last bar to use.",
        ),
        out: Path = typer.Option(Path("signals"), "--out", help="Folder for <DATE>.json."),
        execute: bool = typer.Option(False, "--execute/--dry-run", help="Send orders to MT5 (default: dry run)."),
        yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation before --execute."),
        journal: Optional[Path] = typer.Option(
            None, "--journal", help="SQLite journal of orders (default: live.journal)."
        ),
        allow_stale: bool = typer.Option(
            False,
            "--allow-stale",
            help="With --execute: trade although the data "
            "end before the exchange's last closed session, or the selection is "
            "older than live.max_selection_age_sessions (intraday bars: the calendar's last complete bar, "
            "live.max_selection_age_bars) (default: refuse).",
        ),
    ) -> None:
        """Target positions for the next session from a selection; dry run unless --execute."""
        from volts.core.errors import UsageError

        if source is not None and source not in ("csv", "mt5"):
            raise UsageError(f"--source: '{source}' is not one of csv, mt5")
        if data_dir is not None and source == "mt5":
            raise UsageError("--data-dir reads CSV files; it does not fit --source mt5")
        if execute and not yes and not sys.stdin.isatty():
            raise UsageError("--execute sends real orders: confirm with --yes when stdin is not a terminal")
        settings = load_cli_settings(config, data_dir, source)
        if settings.data.timeframe == "D1":
            when = parse_date(asof, "--asof")
        else:
            from volts.live.intraday import parse_instant

            when = parse_instant(asof, "--asof")

        def confirm(targets) -> bool:
            if yes:
                return True
            return typer.confirm(
                f"bring volts' positions to the targets of {len(targets)} selected pair(s) on the "
                "MT5 terminal (closing those of pairs no longer selected) "
                f"({settings.data.mt5.host}:{settings.data.mt5.port})?",
                default=False,
            )

        run_signal(
            settings,
            selection,
            asof=when,
            out=out,
            execute=execute,
            confirm=confirm,
            journal_path=journal,
            console=console,
            allow_stale=allow_stale,
        )
