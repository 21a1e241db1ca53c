"""``volts select`` on bars other than D1: one selection at the decision bar, written with its bar size and calendar.

The daily command (:mod:`volts.commands.select`) shifts the ``[windows]`` dates; here every window ends at the
**decision bar** (the last bar complete by ``--asof``: the end of that day for a date, or the given time) and its
length comes from ``[intraday]`` (:mod:`volts.selection.bar_windows`). The run folder is named after ``--asof`` as
written (``2023-06-09``, or ``2023-06-09T1400`` for a time) and holds ``selection.json`` (with a ``bars`` section:
timeframe, calendar, bars per year and every lag in bars and time) and ``report.md``. Stability repetitions and
date stability are daily-only for now and are refused rather than ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd

from volts.core.errors import UsageError

__all__ = ["parse_asof", "run_select_bars", "select_command", "selection_markdown"]


def parse_asof(text: str | None, default: dt.date):
    """``--asof`` on intraday bars: a date (``YYYY-MM-DD``, decide at the end of that day) or a time
    (``YYYY-MM-DDTHH:MM``, UTC), returned as a ``datetime.date`` or ``pandas.Timestamp``.

    Raises
    ------
    UsageError
        Neither form (exit 2).
    """
    if text is None:
        return default
    text = text.strip()
    try:
        if len(text) <= 10:
            return dt.date.fromisoformat(text)
        ts = pd.Timestamp(text)
    except ValueError:
        raise UsageError(f"--asof: '{text}' is neither a date (YYYY-MM-DD) nor a UTC time (YYYY-MM-DDTHH:MM)") from None
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _folder_name(asof) -> str:
    if isinstance(asof, pd.Timestamp):
        return asof.strftime("%Y-%m-%dT%H%M")
    return asof.isoformat()


def selection_markdown(selection, payload: dict) -> str:
    """``report.md`` of an intraday selection: bar size, calendar, windows, the funnel and the pairs with their lags
    in bars and in time."""
    bars = payload["bars"]
    w = payload["windows"]
    lines = [
        f"# Selection at the {bars['timeframe']} bar of {w['decision_bar']} (UTC)",
        "",
        f"* Bar size: {bars['timeframe']} ({bars['bar']}); calendar: `{bars['calendar']}`, "
        f"{bars['bars_per_year']:,.0f} bars a year (volatility annualised with it).",
        f"* Decision at the close of the bar opened {w['decision_bar']} ({w['decision_time']} UTC); orders would fill "
        f"at the next bar's open.",
        *(
            f"* {name} window: {w[name]['start']} .. {w[name]['end']} ({w[name]['length']})"
            for name in ("anomaly", "gmm", "train")
        ),
        f"* Universe: {len(selection.universe)} symbols; mid-volatility candidates: "
        f"{', '.join(selection.candidates) or 'none'}.",
        "",
        "| stage | in | kept |",
        "|---|---:|---:|",
        *(f"| {s.stage} | {s.entered} | {s.kept} |" for s in selection.funnel),
        "",
    ]
    if selection.pairs:
        lines += ["| pair | lag |", "|---|---|"]
        lines += [f"| {p.name} | {bars['lags'][p.name]} |" for p in selection.pairs]
    else:
        lines.append("No pair survived every stage.")
    if selection.warnings:
        lines += ["", "Warnings:", *(f"* {x}" for x in selection.warnings)]
    return "\n".join(lines) + "\n"


def run_select_bars(settings, *, asof, out: Path, force: bool, console, stability_runs: int | None = None):
    """Load the bars, select at the decision bar of ``asof`` and write ``out/<asof>/`` atomically.

    Parameters
    ----------
    settings : volts.core.config.Settings
        ``data.timeframe`` other than D1; ``[intraday]`` window lengths.
    asof : datetime.date or pandas.Timestamp
        See :func:`parse_asof`.
    out : Path
        Parent folder of the run.
    force : bool
        Replace an existing run folder.
    console
        Where progress lines go.
    stability_runs : int, optional
        Must be None or 0: stability repetitions and date stability are daily-only, so the configured ones are
        not run here (``selection.json`` and the report say so).

    Returns
    -------
    (Selection, Path, MarketData)

    Raises
    ------
    UsageError
        ``--stability`` asked for, or the folder exists without ``--force``.
    DataError
        The bars do not cover the windows, or the last common bar is stale (:func:`volts.selection.bar_windows.
        decision_bar`).
    """
    from volts.commands._common import StageProgress
    from volts.commands._common import data_quality
    from volts.core.artifacts import RunFolder, atomic_write_json, now_utc_iso
    from volts.core.lengths import parse_length
    from volts.data.sources import load_market
    from volts.data.timeframes import timeframe
    from volts.selection.bar_windows import bar_windows
    from volts.selection.pipeline import run_selection

    if stability_runs:
        raise UsageError(
            "volts select --stability: the stability repetitions run on daily bars only in this "
            "release; leave --stability out on intraday bars"
        )
    tf = timeframe(settings.data.timeframe)
    iw = settings.intraday
    longest = pd.Timedelta(0)
    for text in (iw.anomaly_window, iw.gmm_window, iw.train_window):
        ln = parse_length(text)
        longest = max(longest, ln.duration if ln.duration is not None else ln.bars * tf.duration * 4)
    end_ts = pd.Timestamp(asof) + (pd.Timedelta(days=1) if not isinstance(asof, pd.Timestamp) else pd.Timedelta(0))
    start = (end_ts - longest - pd.Timedelta(days=8)).date()
    with RunFolder(out, _folder_name(asof)) as rf:
        if rf.final.exists() and not force:
            raise UsageError(f"{rf.final} already exists; use --force to replace it, or --out for another folder")
        progress = StageProgress(console)
        progress("data", "start")
        symbols = None if settings.data.source == "synthetic" else list(settings.data.universe)
        market = load_market(settings.data, symbols=symbols, start=start, end=(end_ts + pd.Timedelta(days=1)).date())
        market = market.slice(None, end_ts - pd.Timedelta(microseconds=1))  # nothing after asof is read
        progress(
            "data",
            f"{len(market.symbols)} symbols, {len(market)} {tf.name} bars ({market.dates[0]} .. {market.dates[-1]})",
        )
        windows = bar_windows(settings, market.dates, asof)
        selection = run_selection(market, settings, windows=windows, progress=progress)
        skipped = [
            f"{what} not run: daily bars only in this release"
            for what, n in (
                ("stability repetitions ([stability] runs)", settings.stability.runs),
                ("date stability ([selection] date_stability_sessions)", settings.selection.date_stability_sessions),
            )
            if n
        ]
        selection = dataclasses.replace(selection, warnings=tuple(selection.warnings) + tuple(skipped))
        payload = selection.to_dict()
        payload["created"] = now_utc_iso()
        payload["data_quality"] = data_quality(market)
        atomic_write_json(rf.staging / "selection.json", payload)
        (rf.staging / "report.md").write_text(selection_markdown(selection, payload), encoding="utf-8")
        rf.commit()
    return selection, rf.final, market


def select_command(settings, asof: str | None, *, out: Path, force: bool, stability: int | None, consoles) -> None:
    """The ``volts select`` command on intraday bars: run, then print the summary and the data findings to
    ``consoles = (stdout console, stderr console)``."""
    from volts.commands._common import data_quality, data_quality_line

    console, err_console = consoles
    selection, run_dir, market = run_select_bars(
        settings,
        asof=parse_asof(asof, settings.windows.asof),
        out=out,
        force=force,
        console=err_console,
        stability_runs=stability,
    )
    console.print(selection.summary(), markup=False)
    console.print(data_quality_line(data_quality(market)), markup=False)
    console.print(f"wrote {run_dir / 'selection.json'} and report.md", markup=False)
