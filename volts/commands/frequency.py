"""``volts frequency --bars H1,H4,D1``: the lead-lag signal and the walk-forward's net value at several bar sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from volts.commands._common import parse_date
from volts.core.errors import UsageError


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, console, err_console, load_cli_settings

    @app.command("frequency")
    def frequency(
        bars: str = typer.Option(..., "--bars", help="Bar sizes, comma-separated MT5 names, e.g. H1,H4,D1."),
        start: Optional[str] = typer.Option(None, "--start", help="First day of the span, YYYY-MM-DD."),
        end: Optional[str] = typer.Option(None, "--end", help="Last day of the span, YYYY-MM-DD."),
        every: str = typer.Option("1W", "--every", help="Re-selection cadence of every walk-forward: 1W, 1D, 6H."),
        block: str = typer.Option(
            "90D", "--block", help="Block duration of the signal part (the same clock time at every bar size)."
        ),
        screens: Optional[str] = typer.Option(
            None,
            "--screens",
            help="Screens of the signal part, comma-separated (default: [selection] screens and hayashi_yoshida).",
        ),
        null_draws: int = typer.Option(0, "--null-draws", min=0, help="Random-pairs draws per walk-forward."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        out: Path = typer.Option(Path("runs/frequency"), "--out", help="Output folder."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Local Dask worker processes."),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="A running Dask scheduler's address."),
        force: bool = typer.Option(False, "--force", help="Recompute cached selections."),
    ) -> None:
        """Validated lead-lag links and the walk-forward's gross and net Sharpe ratio per bar size, all resampled
        from the finest bars: signal.csv, value.csv, report.md and frequency.png."""
        from volts.core.parallel import Executor
        from volts.evaluation.frequency_study import run_frequency_study

        settings = load_cli_settings(config, data_dir, None)
        if settings.data.timeframe == "D1":
            raise UsageError(
                "volts frequency resamples intraday bars: set [data] timeframe to the data's bar size "
                "(e.g. H1) and give coarser sizes with --bars"
            )
        d0, d1 = parse_date(start, "--start"), parse_date(end, "--end")
        if d0 is None or d1 is None:
            raise UsageError("volts frequency needs --start and --end (YYYY-MM-DD)")
        names = [b.strip() for b in bars.split(",") if b.strip()]
        chosen = [s.strip() for s in screens.split(",")] if screens else None
        with Executor(workers=workers, scheduler=scheduler, progress="auto") as ex:
            study = run_frequency_study(
                settings,
                bars=names,
                start=d0,
                end=d1,
                every=every,
                block=block,
                screens=chosen,
                out=out,
                executor=ex,
                force=force,
                null_draws=null_draws,
                progress=lambda text: err_console.print(text, markup=False),
            )
        console.print(study.signal.to_string(index=False), markup=False)
        console.print(study.value.to_string(index=False), markup=False)
        console.print(f"wrote {study.folder}/report.md", markup=False)
