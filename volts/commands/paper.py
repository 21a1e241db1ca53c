"""``volts paper --start D --end D [--every 1W]``: paper-trade the weekly selections day by day on a stand-in
MetaTrader 5 terminal (``volts.live.paper.run_paper``), keeping the journal a live account keeps. On bars finer
than a day, ``--selection FILE`` (repeatable) gives the selections and the loop decides at every completed bar
(``volts.live.paper_intraday.run_paper_intraday``).

Exit codes: 0 success, 2 usage/config errors, 3 data errors, 4 broker (stand-in) errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, console, load_cli_settings
    from volts.commands._common import parse_date

    @app.command("paper")
    def paper(
        start: str = typer.Option(..., "--start", help="First re-selection week, YYYY-MM-DD."),
        end: str = typer.Option(..., "--end", help="Last day traded, YYYY-MM-DD."),
        every: str = typer.Option("1W", "--every", help="Re-select every N weeks: 1W, 2W, ..."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        out: Path = typer.Option(Path("runs/paper"), "--out", help="Folder of the paper journal and CSV files."),
        weeks: Optional[Path] = typer.Option(
            None,
            "--weeks",
            help="Week cache of the selections (default <out>/weeks; runs/walkforward/weeks reuses a walk-forward's).",
        ),
        force: bool = typer.Option(False, "--force", help="Replace an existing paper journal in --out."),
        selection: Optional[list[Path]] = typer.Option(
            None,
            "--selection",
            help="Intraday bars: selection.json to trade (repeat for re-selections; each is used from its as-of on).",
        ),
    ) -> None:
        """Paper-trade the weekly select + daily signal --execute cycle on a stand-in terminal (intraday bars: one
        decision per completed bar on the --selection files)."""
        from volts.live.paper import run_paper
        from volts.evaluation.walkforward import parse_every

        settings = load_cli_settings(config, data_dir, None)
        if settings.data.timeframe != "D1":
            from volts.live.paper_intraday import run_paper_intraday

            result = run_paper_intraday(
                settings,
                selections=list(selection or []),
                start=parse_date(start, "--start"),
                end=parse_date(end, "--end"),
                out=out,
                force=force,
                console=console,
            )
        else:
            if selection:
                from volts.core.errors import UsageError

                raise UsageError("--selection is for intraday bars; on D1 volts paper re-selects every --every")
            parse_every(every)
            result = run_paper(
                settings,
                start=parse_date(start, "--start"),
                end=parse_date(end, "--end"),
                every=every,
                out=out,
                weeks_dir=weeks,
                force=force,
                console=console,
            )
        eq = result.equity
        console.print(
            f"paper account {eq['date'].iloc[0].date()} .. {eq['date'].iloc[-1].date()}: equity "
            f"{eq['equity'].iloc[0]:,.2f} -> {eq['equity'].iloc[-1]:,.2f}; "
            f"{sum(1 for w in result.weeks if not w['pairs'])} of {len(result.weeks)} "
            f"{'week' if settings.data.timeframe == 'D1' else 'selection'}(s) without a "
            f"pair",
            markup=False,
        )
        console.print(
            f"wrote {result.journal}, {result.folder / 'paper_equity.csv'}, {result.folder / 'paper_positions.csv'}",
            markup=False,
        )
