"""Paper trading on bars finer than a day: one decision per completed bar against a stand-in terminal.

:func:`run_paper_intraday` replays a span of intraday history as a live account run by a job at every bar close
would live it:

1. the bars of the span are loaded and checked as ``volts signal`` loads them (:mod:`volts.data.intraday_source`,
   ``data.gap_policy``) and written, as checked, to ``<out>/bars/`` for the stand-in terminal, which serves them by
   UTC open time up to the bar holding its clock and fills market orders at the open of the bar after the last
   complete one (``--fill-price next_open``, the walk-forward's timing);
2. for every bar c of the span, the terminal's clock is moved to the close of c (``c + bar size``), the account's
   equity (marked at the close of c) and its positions are read, and then the targets for the next bar the
   calendar expects are computed from the closes up to c (:func:`volts.live.intraday.compute_intraday_targets`)
   for the latest selection that c may use, and sent through :func:`volts.live.book.execute_book` with
   ``live.sizing = "sleeve"``, journaled in the SQLite journal a live account keeps (the same idempotent orders,
   one set per (bar, pair));
3. ``paper_equity.csv`` (date = bar open time, equity, balance) and ``paper_positions.csv`` are written.

The selections come from ``selection.json`` files (``volts select``); a selection dated ``D`` (a day) is used from
the first bar opening after that day (it saw the whole day), one stamped with an instant ``T`` from the decision
bar opened at ``T`` on. Before the first usable selection the book is flat.

Source: :mod:`volts.live.paper` (the daily loop), :mod:`volts.live.intraday` (timing).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from volts.core.errors import UsageError
from volts.live.paper import PaperResult

__all__ = ["run_paper_intraday", "selection_start"]


def selection_start(asof) -> pd.Timestamp:
    """First decision bar (open time) that may use a selection as of ``asof``: the next day's midnight for a date,
    the instant itself for an instant."""
    text = str(asof)
    t = pd.Timestamp(text)
    t = t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t
    return t.normalize() + pd.Timedelta(days=1) if len(text) <= 10 else t


def _write_bars(market, folder: Path) -> None:
    """The checked bars, one tab-separated file per symbol (UTC open times), for the stand-in."""
    folder.mkdir(parents=True, exist_ok=True)
    for sym in market.symbols:
        frame = market.bars(sym).rename(columns=str.capitalize)
        frame.index = frame.index.strftime("%Y-%m-%d %H:%M:%S")
        frame.to_csv(folder / f"{sym}.csv", sep="\t", index_label="Time")


def run_paper_intraday(
    settings,
    *,
    selections: list,
    start,
    end,
    out: Path,
    force: bool = False,
    console=None,
) -> PaperResult:
    """Paper-trade intraday selections bar by bar on a stand-in terminal.

    Parameters
    ----------
    settings : volts.core.config.Settings
        ``data`` (CSV source, ``timeframe`` finer than D1, ``calendar``), ``strategy``, ``costs``, ``live.magic``.
    selections : list of path
        ``selection.json`` files (any order); each is used from :func:`selection_start` of its ``asof`` on.
    start, end : date-like
        First and last day of the decision bars.
    out : path
        Folder of ``journal.sqlite``, ``paper_equity.csv``, ``paper_positions.csv`` and ``bars/``.
    force : bool
        Replace an existing journal in ``out``.

    Returns
    -------
    PaperResult
        ``weeks`` holds the selections used (``asof``, ``pairs``, ``path``).

    Raises
    ------
    UsageError
        Bad dates, no selection, an existing journal without ``force``, a non-CSV source.
    ArtifactError, DataError, BrokerError
        From the selection files, the data or the stand-in.

    Length: the paper loop's bar in the order the live path runs it (clock, equity, selection, targets, orders,
    journal), with the same checks as ``volts signal``.
    """
    from volts.core.artifacts import check_selection_bar_size, read_selection
    from volts.data.intraday_source import load_intraday_market
    from volts.data.mt5 import Mt5Terminal
    from volts.data.timeframes import timeframe
    from volts.live.book import comment_pair, execute_book
    from volts.live.intraday import compute_intraday_targets, intraday_warmup_start, next_bar_open
    from volts.live.orders import Journal
    from volts.live.paper import _Control, standin_process

    tf = timeframe(settings.data.timeframe)
    cal = settings.data.calendar
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if start > end:
        raise UsageError(f"--start {start.date()} is after --end {end.date()}")
    if settings.data.source != "csv":
        raise UsageError(f"volts paper replays CSV bars (data.source is '{settings.data.source}')")
    if not selections:
        raise UsageError(
            f"volts paper on {tf.name} bars trades the selections of --selection FILE (volts select as of the "
            "instants you re-select at); give at least one"
        )
    sels = []
    for path in selections:
        sel = read_selection(Path(path))
        check_selection_bar_size(sel, tf.name, path)
        sels.append(
            {"asof": str(sel["asof"]), "pairs": sel["pairs"], "path": str(path), "from": selection_start(sel["asof"])}
        )
    sels.sort(key=lambda s: s["from"])
    settings = settings.override(**{"live.sizing": "sleeve"})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    journal_path = out / "journal.sqlite"
    if journal_path.exists():
        if not force:
            raise UsageError(
                f"{journal_path}: a paper journal exists; a paper account starts empty: use another --out or "
                "--force to replace it"
            )
        for f in out.glob("journal.sqlite*"):
            f.unlink()
    symbols = list(dict.fromkeys(x for s in sels for p in s["pairs"] for x in (p["leader"], p["follower"])))
    if not symbols:
        symbols = list(settings.data.universe)
    st = settings.strategy
    max_lag = max((int(p["lag"]) for s in sels for p in s["pairs"]), default=1)
    first = intraday_warmup_start(start, ma_window=st.ma_window, max_lag=max_lag, tf=tf, calendar=cal)
    market = load_intraday_market(settings.data, symbols=symbols, start=first, end=end.date())
    bars = [d for d in market.dates if start <= d < end + pd.Timedelta(days=1)]
    if not bars:
        raise UsageError(f"no {tf.name} bar between {start.date()} and {end.date()}")
    _write_bars(market, out / "bars")
    rows, held, used = [], [], {}
    known = list(dict.fromkeys(f"{p['leader']}->{p['follower']}" for s in sels for p in s["pairs"]))
    with standin_process(
        out / "bars", until=None, settings=settings, intraday_timeframe=tf.name, now=bars[0] + tf.duration
    ) as (host, port):
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
            for i, c in enumerate(bars):
                now = (c + tf.duration).to_pydatetime().replace(tzinfo=dt.timezone.utc)  # the close of bar c
                ctrl.conn.eval(f"mt5.set_now({str(c + tf.duration)!r})")
                equity, balance = ctrl.account()
                rows.append({"date": c, "equity": equity, "balance": balance})
                for sym, ptype, volume, comment, magic in ctrl.positions():
                    if int(magic) == settings.live.magic:
                        held.append(
                            {
                                "date": c,
                                "pair": comment_pair(comment, known) or "?",
                                "symbol": str(sym),
                                "shares": float(volume) if int(ptype) == 0 else -float(volume),
                            }
                        )
                if i == len(bars) - 1:
                    break
                usable = [s for s in sels if s["from"] <= c]
                sel = usable[-1] if usable else None
                pairs = sel["pairs"] if sel else []
                if sel is not None:
                    used.setdefault(sel["path"], sel)
                targets = (
                    compute_intraday_targets(
                        pairs, market, tf=tf, calendar=cal, asof=c, ma_window=st.ma_window, mode=st.mode
                    )
                    if pairs
                    else []
                )
                session = next_bar_open(c, tf, cal, present=market.dates)
                with Journal(journal_path, now=now) as journal:
                    execute_book(
                        targets,
                        term,
                        journal,
                        settings=psettings,
                        asof=c.to_pydatetime(),
                        session=session.to_pydatetime(),
                        now=now,
                        ma_window=st.ma_window,
                        mode=st.mode,
                        selection_asof=sel["asof"] if sel else None,
                        timeframe=tf.name,
                        calendar=cal,
                    )
                if console is not None and i % 100 == 0:
                    console.print(f"paper {c:%Y-%m-%d %H:%M}: equity {equity:,.2f}", markup=False)
        finally:
            term.close()
            ctrl.close()
    equity = pd.DataFrame(rows)
    positions = pd.DataFrame(held, columns=["date", "pair", "symbol", "shares"])
    equity.to_csv(out / "paper_equity.csv", index=False)
    positions.to_csv(out / "paper_positions.csv", index=False)
    weeks = [{"asof": s["asof"], "pairs": s["pairs"], "path": s["path"]} for s in used.values()]
    return PaperResult(equity=equity, positions=positions, weeks=weeks, journal=journal_path, folder=out)
