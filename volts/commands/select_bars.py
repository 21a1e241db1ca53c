"""``volts select`` on bars other than D1: one selection at the decision bar, written with its bar size and calendar.

The daily command (:mod:`volts.commands.select`) shifts the ``[windows]`` dates; here every window ends at the
**decision bar** (the last bar complete by ``--asof``: the end of that day for a date, or the given time) and its
length comes from ``[intraday]`` (:mod:`volts.selection.bar_windows`). As in a walk-forward decision
(:func:`volts.evaluation.bar_decisions.decision_sub`), the selection uses the symbols whose own bars cover its
windows, on the stamps they all have; the others are listed with the reason (``symbols_excluded``). The run folder is named after ``--asof`` as
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


def _quality(market) -> dict:
    """What validation found in the files (:func:`volts.commands._common.data_quality`); the panel's carried bars
    are counted apart (``rows_carried_not_read``): the selection reads only stamps every chosen symbol has."""
    from volts.commands._common import data_quality

    q = data_quality(market)
    q["rows_carried_not_read"] = q.pop("rows_filled", {})
    q["rows_filled"] = {}
    return q


def _panel(settings, start, end_ts: pd.Timestamp):
    """The universe's bars from ``start`` to just before ``end_ts`` on the union of their stamps."""
    from volts.data.intraday_panel import load_intraday_panel
    from volts.data.sources import load_market
    from volts.evaluation.bar_decisions import as_panel

    end_day = (end_ts + pd.Timedelta(days=1)).date()
    if settings.data.source == "csv":
        panel = load_intraday_panel(settings.data, start=start, end=end_day)
    else:  # the synthetic intraday market, or MT5 bars aligned by the source
        symbols = None if settings.data.source == "synthetic" else list(settings.data.universe)
        panel = as_panel(load_market(settings.data, symbols=symbols, start=start, end=end_day))
    return panel.slice(None, end_ts - pd.Timedelta(microseconds=1))  # nothing after asof is read


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
    from volts.core.artifacts import RunFolder, atomic_write_json, now_utc_iso
    from volts.core.errors import DataError
    from volts.data.timeframes import timeframe
    from volts.evaluation.bar_decisions import PipelineSelector, decision_sub
    from volts.selection.bar_windows import decision_bar, lookback
    from volts.selection.pipeline import run_selection

    if stability_runs:
        raise UsageError(
            "volts select --stability: the stability repetitions run on daily bars only in this "
            "release; leave --stability out on intraday bars"
        )
    tf = timeframe(settings.data.timeframe)
    end_ts = pd.Timestamp(asof) + (pd.Timedelta(days=1) if not isinstance(asof, pd.Timestamp) else pd.Timedelta(0))
    start = (end_ts - lookback(settings)).date()
    with RunFolder(out, _folder_name(asof)) as rf:
        if rf.final.exists() and not force:
            raise UsageError(f"{rf.final} already exists; use --force to replace it, or --out for another folder")
        progress = StageProgress(console)
        progress("data", "start")
        panel = _panel(settings, start, end_ts)
        market = panel.market
        progress(
            "data",
            f"{len(market.symbols)} symbols, {len(market)} {tf.name} bar stamps ({market.dates[0]} .. {market.dates[-1]})",
        )
        # the decision bar, and the symbols whose own bars cover its windows (as a walk-forward decision does)
        stamp = decision_bar(market.dates, asof, tf, max_age=pd.Timedelta(days=settings.data.coverage_gap_days))
        sub, windows, universe, excluded = decision_sub(panel, settings, stamp, PipelineSelector())
        if sub is None:
            raise DataError(
                f"as of {stamp}: fewer than two of the {len(universe)} symbols cover the windows; "
                + "; ".join(f"{k}: {v}" for k, v in excluded.items())
            )
        progress("data", f"{len(sub.symbols)} of {len(universe)} symbols cover the windows")
        # the anomaly window reaches further back: the same symbols' bars from its start (its scores feed the
        # report unless anomaly.exclude; the stamps of the other windows are the decision's)
        sub = panel.window_market(list(sub.symbols), windows.anomaly_start, stamp)
        if windows.anomaly_start < sub.dates[0]:
            lengths = {
                **windows.lengths,
                "anomaly": f"{windows.lengths['anomaly']}, cut to the bars from {sub.dates[0]}",
            }
            windows = dataclasses.replace(windows, anomaly_start=sub.dates[0], lengths=lengths)
        selection = run_selection(
            sub, settings.override(**{"data.universe": list(sub.symbols)}), windows=windows, progress=progress
        )
        market = sub
        skipped = [
            f"{what} not run: daily bars only in this release"
            for what, n in (
                ("stability repetitions ([stability] runs)", settings.stability.runs),
                ("date stability ([selection] date_stability_sessions)", settings.selection.date_stability_sessions),
            )
            if n
        ]
        skipped += [f"{k} left out: {v}" for k, v in excluded.items()]
        selection = dataclasses.replace(selection, warnings=tuple(selection.warnings) + tuple(skipped))
        payload = selection.to_dict()
        payload["created"] = now_utc_iso()
        payload["data_quality"] = _quality(market)
        payload["symbols_excluded"] = excluded
        atomic_write_json(rf.staging / "selection.json", payload)
        (rf.staging / "report.md").write_text(selection_markdown(selection, payload), encoding="utf-8")
        rf.commit()
    return selection, rf.final, market


def select_command(settings, asof: str | None, *, out: Path, force: bool, stability: int | None, consoles) -> None:
    """The ``volts select`` command on intraday bars: run, then print the summary and the data findings to
    ``consoles = (stdout console, stderr console)``."""
    from volts.commands._common import data_quality_line

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
    for w in selection.warnings:
        err_console.print(f"warning: {w}", markup=False)
    console.print(data_quality_line(_quality(market)), markup=False)
    console.print(f"wrote {run_dir / 'selection.json'} and report.md", markup=False)
