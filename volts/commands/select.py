"""``volts select --asof DATE``: stages 1-5 on the training windows ending at DATE -> ``runs/<DATE>/``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from volts.commands.select_bars import select_command
from volts.commands._common import StageProgress, data_quality, data_quality_line, parse_date  # noqa: F401 (re-exported)


def compare_existing(run_dir: Path, config_sha256: str, data_sha256: str) -> str | None:
    """Compare an existing run folder's ``selection.json`` with the settings and data of a new run.

    Returns None when both hashes are equal (the run is up to date), else a one-line description of what differs.
    """
    import json

    path = Path(run_dir) / "selection.json"
    if not path.is_file():
        return f"{run_dir} exists but holds no selection.json"
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{path} is not readable JSON"
    if not isinstance(old, dict):
        return f"{path} is not a selection"
    diffs = []
    if old.get("config_sha256") != config_sha256:
        diffs.append(f"config SHA-256 {str(old.get('config_sha256'))[:12]}… there, {config_sha256[:12]}… now")
    if old.get("data_sha256") != data_sha256:
        diffs.append(f"data SHA-256 {str(old.get('data_sha256'))[:12]}… there, {data_sha256[:12]}… now")
    return "; ".join(diffs) or None


def run_select(
    settings,
    *,
    asof,
    out: Path,
    force: bool,
    console,
    figures: bool = True,
    folder=None,
    stability_runs: int | None = None,
    executor=None,
):
    """Load the bars, run the selection and write ``out/<asof>/selection.json`` plus figures, atomically.

    Parameters
    ----------
    folder : volts.core.artifacts.RunFolder, optional
        An open run folder to write into (``volts run`` stages the whole run in one); None = open one here
        and commit it when the selection is written.
    stability_runs : int, optional
        R repetitions of :mod:`volts.selection.stability` (default ``settings.stability.runs``; 0 = off).
    executor : volts.core.parallel.Executor, optional
        Where the stability repetitions run (default: in this process).

    Returns ``(selection, run_dir, market)``; ``selection`` is None when the run folder exists with the same
    config and data hashes and ``force`` is off (nothing is recomputed or overwritten).

    Raises
    ------
    UsageError
        The run folder exists with a different config or data hash (or is not a run) and ``force`` is off, or
        another process is writing it.

    Length: the command's stages in the order they run (settings, bars, validation, selection, date stability,
    artifacts, report), each a few lines, sharing the run folder and the progress display; split, they would
    pass a dozen locals between helpers.
    """
    from volts.core.artifacts import RunFolder, atomic_write_json, now_utc_iso
    from volts.data.coverage import check_coverage
    from volts.data.sources import load_market
    from volts.core.errors import UsageError
    from volts.selection.pipeline import earliest_start, run_selection, selection_view

    from volts.core.config import require_daily_bars

    require_daily_bars(settings, "volts select")  # intraday bars: volts.commands.select_bars
    windows = settings.windows if asof is None else settings.windows.shifted(asof)
    name = windows.asof.isoformat()
    if folder is None:
        with RunFolder(out, name) as rf:
            selection, run_dir, market = run_select(
                settings,
                asof=asof,
                out=out,
                force=force,
                console=console,
                figures=figures,
                folder=rf,
                stability_runs=stability_runs,
                executor=executor,
            )
            if selection is not None:
                rf.commit()
            return selection, run_dir, market
    rf = folder
    progress = StageProgress(console)
    progress("data", "start")
    coverage = None
    d = settings.data
    if d.membership or d.on_bad_symbol == "exclude":  # per-symbol path: point-in-time members / quarantine
        from volts.data.universe import load_universe

        market, coverage = load_universe(
            d,
            asof=windows.asof,
            start=earliest_start(windows),
            end=windows.asof,
            zero_range_run=settings.volatility.window,
            zero_range_since=windows.gmm_start,
        )
        progress("data", coverage.coverage_line())
        for e in coverage.quarantined:
            console.print(f"excluded: {e}", markup=False)
    else:
        symbols = None if d.source == "synthetic" else list(d.universe)
        market = load_market(d, symbols=symbols, start=earliest_start(windows), end=windows.asof)
    progress(
        "data",
        f"{len(market.symbols)} symbols, {len(market)} bars ({market.dates[0].date()} .. {market.dates[-1].date()})",
    )
    warnings = check_coverage(
        market,
        settings.data,
        {
            "anomaly": (windows.anomaly_start, windows.anomaly_end),
            "GMM": (windows.gmm_start, windows.gmm_end),
            "training": (windows.train_start, windows.train_end),
        },
        asof=windows.asof,
    )
    if rf.final.exists() and not force:
        differs = compare_existing(rf.final, settings.sha256(), selection_view(market, settings, windows).sha256())
        if differs is None:
            console.print(
                f"{rf.final}/selection.json already exists; kept it (same config and data hashes; use "
                f"--force to recompute)",
                markup=False,
            )
            return None, rf.final, market
        raise UsageError(
            f"{rf.final} already exists and differs from this run ({differs}); use --force to "
            f"replace it, or --out for another folder"
        )
    runs = settings.stability.runs if stability_runs is None else int(stability_runs)
    pending, drawn = None, False
    if runs > 0:
        from volts.selection.stability import start_stability, with_stability

        t0 = time.perf_counter()
        # on a cluster the repetitions start now and run while this process makes the plain selection (and, when
        # no stability threshold can change its pairs, draws its figures); in-process they run after it
        pending = start_stability(market, settings, asof=windows.asof, runs=runs, executor=executor)
    try:
        selection = run_selection(
            market, settings, asof=windows.asof, progress=progress, coverage=coverage, executor=executor
        )
        if pending is not None:
            if figures and pending.running and settings.stability.threshold is None:
                from volts.reporting.run_report import write_selection_figures

                progress("figures", "start")
                t_fig = time.perf_counter()
                write_selection_figures(selection, market, rf.staging)
                progress("figures", f"done in {time.perf_counter() - t_fig:.1f} s")
                drawn = True
            if not pending.running:
                t0 = time.perf_counter()
            progress("stability", "start" if not pending.running else "waiting for the runs")
            result = pending.result()
            selection = with_stability(selection, result)
            selection.timings["stability"] = time.perf_counter() - t0
            progress(
                "stability",
                f"{runs} runs done in {selection.timings['stability']:.1f} s"
                + (" (alongside the selection)" if pending.running else ""),
            )
    finally:
        if pending is not None:
            pending.cancel()
    selection.write_tables(rf.staging)
    payload = selection.to_dict()
    payload["created"] = now_utc_iso()
    payload["data_quality"] = data_quality(market)
    stab = selection_date_stability(settings, windows.asof, selection, market, progress=progress, executor=executor)
    if stab is not None:
        payload["date_stability"] = stab
    if warnings:
        payload["warnings"] = list(payload.get("warnings", [])) + warnings
    atomic_write_json(rf.staging / "selection.json", payload)
    if figures and not drawn:
        from volts.reporting.run_report import write_selection_figures

        progress("figures", "start")
        t_fig = time.perf_counter()
        write_selection_figures(selection, market, rf.staging)
        progress("figures", f"done in {time.perf_counter() - t_fig:.1f} s")
    return selection, rf.final, market


def selection_date_stability(settings, asof, selection, market, *, progress=None, executor=None) -> dict | None:
    """``selection.json["date_stability"]``: :func:`volts.selection.date_stability.date_stability` of the selected pairs over
    ``[selection] date_stability_sessions`` sessions each side (None when 0 or no pair). The neighbours' bars are
    loaded for the selection's symbols; a data error while loading them is recorded (``error``), not raised: the
    selection itself stands."""
    from volts.data.sources import load_market
    from volts.selection.date_stability import date_stability, neighbour_span
    from volts.core.errors import DataError

    k = int(settings.selection.date_stability_sessions)
    if k <= 0 or not selection.pairs:
        return None
    t0 = time.perf_counter()
    if progress is not None:
        progress("date stability", f"start ({2 * k} neighbouring sessions)")
    start, end = neighbour_span(settings, asof, k)
    symbols = None if settings.data.source == "synthetic" else list(market.symbols)
    sub = settings if settings.data.source == "synthetic" else settings.override(**{"data.universe": symbols})
    try:
        bars = load_market(sub.data, symbols=symbols, start=start, end=end)
        out = date_stability(bars, sub, asof, selection.pairs, sessions=k, executor=executor)
    except DataError as exc:
        out = {"sessions": k, "error": f"not computed: {exc}", "pairs": {}}
    if progress is not None:  # wall time on the terminal only: selection.json is identical between re-runs
        progress("date stability", f"done in {time.perf_counter() - t0:.1f} s")
    return out


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, OutOpt, console, err_console, load_cli_settings

    @app.command("select")
    def select(
        asof: Optional[str] = typer.Option(None, "--asof", help="As-of date YYYY-MM-DD (default: config's)."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 | synthetic"),
        out: Path = OutOpt,
        force: bool = typer.Option(
            False,
            "--force",
            help="Replace an existing run for the same date, even one with another config or data hash.",
        ),
        stability: Optional[int] = typer.Option(
            None,
            "--stability",
            min=0,
            help="Repeat the selection R times (block bootstrap of the training days, fresh seeds) and report "
            "each pair's selection share; default [stability] runs (0 = off).",
        ),
        workers: Optional[int] = typer.Option(
            None,
            "--workers",
            min=1,
            help="Run the stability repetitions on a local Dask cluster of N "
            "worker processes (default: in this process); also the "
            "per-follower tasks of granger.sample = common.",
        ),
        scheduler: Optional[str] = typer.Option(
            None,
            "--scheduler",
            help="Use a running Dask scheduler, e.g. tcp://127.0.0.1:8786, instead of a local cluster.",
        ),
    ) -> None:
        """Run stages 1-5 (anomalies, volatility regimes, causal screen, lag) and write selection.json."""
        from volts.core.parallel import Executor

        settings = load_cli_settings(config, data_dir, source)
        if settings.data.timeframe != "D1":  # windows end at a decision bar (volts.commands.select_bars)
            return select_command(
                settings, asof, out=out, force=force, stability=stability, consoles=(console, err_console)
            )
        from volts.core.limits import check_counts

        check_counts(settings, workers=workers, stability_runs=stability, stability_option="--stability")

        with Executor(workers=workers, scheduler=scheduler, progress="auto") as executor:
            selection, run_dir, market = run_select(
                settings,
                asof=parse_date(asof, "--asof"),
                out=out,
                force=force,
                console=err_console,
                stability_runs=stability,
                executor=executor,
            )
        if selection is None:
            return
        for w in selection.warnings:
            err_console.print(f"warning: {w}", markup=False)
        console.print(selection.summary(), markup=False)
        from volts.core.artifacts import read_json

        stab = read_json(run_dir / "selection.json").get("date_stability") or {}
        for name, v in (stab.get("pairs") or {}).items():
            if v.get("share") is not None:
                console.print(
                    f"date stability {name}: selected on {len(v['dates'])} of "
                    f"{len(stab['neighbours'])} neighbouring sessions",
                    markup=False,
                )
        if selection.coverage is not None:
            q = selection.coverage.quarantined
            console.print(
                f"quarantined symbols: {len(q)}" + (f" ({', '.join(e.symbol for e in q)})" if q else ""), markup=False
            )
        console.print(data_quality_line(data_quality(market)), markup=False)
        console.print(f"wrote {run_dir / 'selection.json'}", markup=False)
