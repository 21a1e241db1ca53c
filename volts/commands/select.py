"""``volts select --asof DATE``: stages 1-5 on the training windows ending at DATE -> ``runs/<DATE>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from volts.commands._common import StageProgress, parse_date


def run_select(settings, *, asof, out: Path, force: bool, console, figures: bool = True):
    """Load the bars, run the selection and write ``out/<asof>/selection.json`` plus figures, atomically.

    Returns ``(selection, run_dir, market)``; ``selection`` is None when the run folder exists and ``force`` is
    off (nothing is recomputed or overwritten).
    """
    from volts.artifacts import atomic_write_json, now_utc_iso, staged_run_dir
    from volts.data.sources import load_market
    from volts.selection import earliest_start, run_selection

    windows = settings.windows if asof is None else settings.windows.shifted(asof)
    run_dir = Path(out) / windows.asof.isoformat()
    if (run_dir / "selection.json").exists() and not force:
        console.print(f"{run_dir}/selection.json already exists; kept it (use --force to recompute)",
                      markup=False)
        return None, run_dir, None
    progress = StageProgress(console)
    progress("data", "start")
    symbols = None if settings.data.source == "synthetic" else list(settings.data.universe)
    market = load_market(settings.data, symbols=symbols, start=earliest_start(windows), end=windows.asof)
    progress("data", f"{len(market.symbols)} symbols, {len(market)} bars "
                     f"({market.dates[0].date()} .. {market.dates[-1].date()})")
    selection = run_selection(market, settings, asof=windows.asof, progress=progress)
    with staged_run_dir(out, windows.asof.isoformat(), force=force) as staging:
        payload = selection.to_dict()
        payload["created"] = now_utc_iso()
        atomic_write_json(staging / "selection.json", payload)
        if figures:
            from volts.report import write_selection_figures

            write_selection_figures(selection, market, staging)
    return selection, run_dir, market


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, OutOpt, console, err_console, load_cli_settings

    @app.command("select")
    def select(
        asof: Optional[str] = typer.Option(None, "--asof", help="As-of date YYYY-MM-DD (default: config's)."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 | synthetic"),
        out: Path = OutOpt,
        force: bool = typer.Option(False, "--force", help="Replace an existing run for the same date."),
    ) -> None:
        """Run stages 1-5 (anomalies, volatility regimes, causal screen, lag) and write selection.json."""
        settings = load_cli_settings(config, data_dir, source)
        selection, run_dir, _ = run_select(settings, asof=parse_date(asof, "--asof"), out=out, force=force,
                                           console=err_console)
        if selection is None:
            return
        for w in selection.warnings:
            err_console.print(f"warning: {w}", markup=False)
        console.print(selection.summary(), markup=False)
        console.print(f"wrote {run_dir / 'selection.json'}", markup=False)
