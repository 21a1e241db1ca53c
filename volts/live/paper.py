"""Paper trading: the weekly ``select`` and daily ``signal --execute`` cycle, day by day, against a stand-in terminal.

:func:`run_paper` replays a span of history as a live account would live it:

1. the weekly selections of the span come from the walk-forward's selection code and its week cache
   (:func:`volts.evaluation.walkforward.run_weeks`: the same records ``volts walkforward`` trades);
2. a stand-in MetaTrader 5 terminal (``python -m volts.testing.mt5_standin``) is started on a free loopback port,
   with the account's capital (``costs.capital``), the cost model's commission on every deal, and market orders
   filling at the open of the session after the terminal's "today" (orders sent after a close fill at the next
   open, as the walk-forward assumes);
3. for every session c of the span, the terminal's "today" is moved to c, the account's equity at the close of c
   and its positions are read, and then, as the daily cron job would, the targets for the next session are
   computed from the closes up to c (:func:`volts.live.orders.compute_targets`) for the latest selection dated on or
   before c and sent through :func:`volts.live.book.execute_book` with ``live.sizing = "sleeve"`` (the
   walk-forward's capital rule, :mod:`volts.live.sizing`), journaled in the same SQLite journal a live account
   keeps;
4. the terminal is stopped; ``paper_equity.csv`` (date, equity, balance) and ``paper_positions.csv`` (date, pair,
   symbol, shares: one row per non-zero broker position carrying volts' magic number, as the walk-forward's
   ``positions.csv``, plus the symbol held at the terminal) are written beside the journal.

Source: :mod:`volts.trading.simulate` (timing and sleeves), :mod:`volts.evaluation.walkforward` (weekly selections).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from volts.core.errors import BrokerError, UsageError

log = logging.getLogger(__name__)

VOLUME_STEP = 1e-6  # fractional shares, as the walk-forward trades them (its positions are floats)


@dataclass(frozen=True)
class PaperResult:
    """Outcome of :func:`run_paper`: daily ``equity`` (DataFrame date, equity, balance), ``positions`` (long:
    date, pair, symbol, shares), the ``weeks`` traded and the ``journal`` path."""

    equity: pd.DataFrame
    positions: pd.DataFrame
    weeks: list
    journal: Path
    folder: Path


@contextlib.contextmanager
def standin_process(
    csv_dir, *, until, settings, timeout: float = 60.0, intraday_timeframe: str | None = None, now=None
) -> Iterator[tuple[str, int]]:
    """Start ``python -m volts.testing.mt5_standin`` on a free loopback port; stop it on exit.

    ``intraday_timeframe`` and ``now``: serve intraday bars of that size up to the bar holding ``now`` (UTC).

    Yields
    ------
    (host, port)
    """
    from volts.trading.simulate import CostModel

    costs = CostModel.from_settings(settings)
    argv = [
        sys.executable,
        "-m",
        "volts.testing.mt5_standin",
        str(csv_dir),
        "--port",
        "0",
        "--until",
        str(until),
        "--fill-price",
        "next_open",
        "--balance",
        repr(costs.capital),
        "--commission-fixed",
        repr(costs.fixed),
        "--commission-rate",
        repr(costs.rate),
        "--volume-min",
        repr(VOLUME_STEP),
        "--volume-step",
        repr(VOLUME_STEP),
        "--volume-max",
        "1e12",
    ]
    if until is None:  # no "today": the intraday clock (--now) decides which bars are served
        k = argv.index("--until")
        del argv[k : k + 2]
    if intraday_timeframe is not None:
        argv += ["--intraday-timeframe", str(intraday_timeframe), "--now", str(pd.Timestamp(now))]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "stand-in MT5 terminal on " not in line:
            raise BrokerError(f"the stand-in terminal did not start (exit {proc.poll()}): {line.strip()!r}")
        host, port = line.split(" on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)
        yield host, int(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Control:
    """A second RPyC connection to the stand-in: moves its "today" and reads the account as the test harness."""

    def __init__(self, host: str, port: int) -> None:
        import rpyc

        self.conn = rpyc.classic.connect(host, port)
        self.conn.execute("import MetaTrader5 as mt5")

    def set_until(self, day) -> None:
        self.conn.eval(f"mt5.set_until({str(pd.Timestamp(day).date())!r})")

    def account(self) -> tuple[float, float]:
        import rpyc

        return rpyc.classic.obtain(self.conn.eval("(mt5._balance + mt5._floating(), mt5._balance)"))

    def positions(self) -> list[tuple]:
        import rpyc

        return rpyc.classic.obtain(
            self.conn.eval("[(p.symbol, p.type, p.volume, p.comment, p.magic) for p in mt5.positions]")
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def run_paper(
    settings,
    *,
    start,
    end,
    every: str = "1W",
    out: Path,
    weeks_dir: Path | None = None,
    force: bool = False,
    executor=None,
    console=None,
) -> PaperResult:
    """Paper-trade the weekly selections of ``start .. end`` day by day on a stand-in terminal.

    Parameters
    ----------
    settings : volts.core.config.Settings
        The config (``data`` of the CSV source, ``strategy``, ``costs``, ``live.magic``).
    start, end : date-like
        Span of the re-selection dates (as ``volts walkforward``); trading runs to ``end``.
    every : str
        Re-selection frequency (``1W``, ``2W``, ...).
    out : path
        Folder of ``journal.sqlite``, ``paper_equity.csv`` and ``paper_positions.csv``.
    weeks_dir : path, optional
        Week cache of the selections (default ``<out>/weeks``; ``runs/walkforward/weeks`` reuses a walk-forward's).
    force : bool
        Replace an existing journal in ``out`` (else refused: a paper account starts empty).

    Returns
    -------
    PaperResult

    Raises
    ------
    UsageError
        Bad dates, an existing journal without ``force``, a non-CSV data source.
    BrokerError, DataError
        From the stand-in or the data.

    Length: the paper loop's day in the order the live path runs it (weekly selection, daily signal, execution
    on the stand-in, journal, equity), with the same checks as the live commands.
    """
    from volts.core.parallel import Executor
    from volts.data.calendar import next_session
    from volts.data.mt5 import Mt5Terminal
    from volts.evaluation.walkforward import _to_date, load_walkforward_market, rebalance_dates, run_weeks
    from volts.live.book import comment_pair, execute_book
    from volts.live.orders import Journal, compute_targets

    start, end = _to_date(start), _to_date(end)
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    if settings.data.source != "csv":
        raise UsageError(f"volts paper replays CSV bars (data.source is '{settings.data.source}')")
    settings = settings.override(**{"data.return_jump": "flag", "live.sizing": "sleeve"})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    journal_path = out / "journal.sqlite"
    if journal_path.exists():
        if not force:
            raise UsageError(
                f"{journal_path}: a paper journal exists; a paper account starts empty: use another "
                "--out or --force to replace it"
            )
        for f in out.glob("journal.sqlite*"):
            f.unlink()
    market = load_walkforward_market(settings, start, end)
    end = min(end, market.dates[-1].date())
    dates = rebalance_dates(market.dates, start, end, every)
    if not dates:
        raise UsageError(f"no complete week with data between {start} and {end}")
    own = executor is None
    ex = Executor() if own else executor
    try:
        if own:
            ex.__enter__()
        weeks, _ = run_weeks(market, settings, dates, cache_dir=Path(weeks_dir or out / "weeks"), executor=ex)
    finally:
        if own:
            ex.close()
    known = list(dict.fromkeys(f"{p['leader']}->{p['follower']}" for w in weeks for p in w["pairs"]))
    sessions = [d.date() for d in market.dates if dates[0] <= d.date() <= end]
    st = settings.strategy
    rows, held = [], []
    with standin_process(settings.data.dir, until=sessions[0], settings=settings) as (host, port):
        psettings = settings.override(
            **{
                "data.mt5.bridge": "mt5linux",
                "data.mt5.host": host,
                "data.mt5.port": port,
                "data.mt5.backoff_seconds": 0.0,
                "data.mt5.retries": 2,
            }
        )
        ctrl = _Control(host, port)
        term = Mt5Terminal.from_settings(psettings.data.mt5)
        try:
            k = 0
            for i, c in enumerate(sessions):
                ctrl.set_until(c)
                equity, balance = ctrl.account()
                rows.append({"date": pd.Timestamp(c), "equity": equity, "balance": balance})
                for sym, ptype, volume, comment, magic in ctrl.positions():
                    if int(magic) != settings.live.magic:
                        continue
                    pair = comment_pair(comment, known) or "?"
                    held.append(
                        {
                            "date": pd.Timestamp(c),
                            "pair": pair,
                            "symbol": str(sym),
                            "shares": float(volume) if int(ptype) == 0 else -float(volume),
                        }
                    )
                if i == len(sessions) - 1:
                    break
                while k + 1 < len(weeks) and dt.date.fromisoformat(str(weeks[k + 1]["asof"])[:10]) <= c:
                    k += 1
                week = weeks[k]
                pairs = week["pairs"]
                targets = compute_targets(pairs, market, asof=c, ma_window=st.ma_window, mode=st.mode) if pairs else []
                now = dt.datetime.combine(c, dt.time(23, 0), tzinfo=dt.timezone.utc)
                with Journal(journal_path, now=now) as journal:
                    execute_book(
                        targets,
                        term,
                        journal,
                        settings=psettings,
                        asof=c,
                        session=next_session(c),
                        now=now,
                        ma_window=st.ma_window,
                        mode=st.mode,
                        selection_asof=str(week["asof"])[:10],
                    )
                if console is not None and (i % 20 == 0):
                    console.print(f"paper {c}: equity {equity:,.2f}", markup=False)
        finally:
            term.close()
            ctrl.close()
    equity = pd.DataFrame(rows)
    positions = pd.DataFrame(held, columns=["date", "pair", "symbol", "shares"])
    equity.to_csv(out / "paper_equity.csv", index=False)
    positions.to_csv(out / "paper_positions.csv", index=False)
    return PaperResult(equity=equity, positions=positions, weeks=weeks, journal=journal_path, folder=out)


__all__ = ["PaperResult", "run_paper", "standin_process", "VOLUME_STEP"]
