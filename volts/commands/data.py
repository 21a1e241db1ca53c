"""``volts data check [DIR]``: validate a data source and print one line per symbol.

What is checked (decisions, see ``volts.data.validate``):

* every file on its own calendar (files may start and end on different dates; SPY ends before the stocks in the
  reference data); ``--common-calendar`` also demands one calendar across symbols inside the span;
* row order and parsing on every row; bar and return rules on the **span**: by default from the earliest
  configured window start (``[windows]``) to the end of each file, which is what a run or a live signal reads.
  Findings before the span are listed as notes and do not fail the check (a genuine 50 % crash in 2000 is not
  a reason to stop an analysis of 2019-2023). ``--start/--end`` set the span, ``--all-dates`` checks every row.

Exit code 0 when no problem is found, 3 (``DataError``) otherwise, after printing the table and one line per
problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

MAX_LINES = 50  # problems/notes printed in full; the rest are counted


def _span_text(start, end) -> str:
    s = start.isoformat() if start is not None else "first row"
    e = end.isoformat() if end is not None else "last row"
    return f"{s} .. {e}"


def run_check(
    settings,
    directory: Optional[Path],
    *,
    start=None,
    end=None,
    all_dates: bool = False,
    common_calendar: bool = False,
    console=None,
) -> int:
    """Run the check, print the table and the findings; return 0 when clean.

    Raises
    ------
    DataError
        When any problem is found (after printing), or the path/directory is unusable.
    """
    from rich.table import Table

    from volts.data.sources import check_source
    from volts.core.errors import DataError, UsageError

    if all_dates and start is not None:
        raise UsageError("--all-dates and --start do not fit together")
    if settings.data.timeframe != "D1":  # intraday bars: their own reader, calendar and gap report
        from volts.data.intraday_source import run_intraday_check

        if directory is None and settings.data.source != "csv":
            raise UsageError(f"data check of {settings.data.timeframe} bars reads CSV folders; give the folder")
        return run_intraday_check(
            settings.data,
            directory if directory is not None else settings.data.dir,
            start=start,
            end=end,
            console=console,
        )
    if start is None and not all_dates:
        w = settings.windows
        start = min(w.anomaly_start, w.gmm_start, w.train_start, w.test_start)
    summary, report = check_source(settings.data, directory, start=start, end=end, common_calendar=common_calendar)

    source = (
        f"{directory}"
        if directory is not None
        else (settings.data.dir if settings.data.source == "csv" else settings.data.source)
    )
    table = Table(title=f"volts data check: {source}", title_justify="left")
    for col, justify in (
        ("symbol", "left"),
        ("first", "left"),
        ("last", "left"),
        ("rows", "right"),
        ("problems", "right"),
        ("notes", "right"),
    ):
        table.add_column(col, justify=justify)
    for row in summary.itertuples(index=False):
        problems = str(row.problems) if row.problems == 0 else f"[bold red]{row.problems}[/]"
        table.add_row(row.symbol, row.first or "-", row.last or "-", str(row.rows), problems, str(row.notes))
    console.print(table)

    errors = report.errors
    notes = [p for p in report.problems if p.action != "error"]
    n_sym = len(summary)
    bad_syms = int((summary["problems"] > 0).sum())
    calendar = "one common calendar" if common_calendar else "each file on its own calendar"
    line = (
        f"{n_sym} symbol{'s' if n_sym != 1 else ''}, {len(errors)} problem{'s' if len(errors) != 1 else ''}"
        f"{f' in {bad_syms} symbol(s)' if errors else ''}, {len(notes)} note{'s' if len(notes) != 1 else ''}"
        f" (span {_span_text(start, end)}; {calendar})"
    )
    for p in notes[:MAX_LINES]:
        console.print(f"note: {p}", markup=False, soft_wrap=True)
    if len(notes) > MAX_LINES:
        console.print(f"note: ... and {len(notes) - MAX_LINES} more notes", markup=False)
    for p in errors[:MAX_LINES]:
        console.print(f"problem: {p}", markup=False, soft_wrap=True)
    if len(errors) > MAX_LINES:
        console.print(f"problem: ... and {len(errors) - MAX_LINES} more problems", markup=False)
    console.print(line, markup=False, soft_wrap=True)
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DataError(
            f"data check failed: {len(errors)} problem(s) in {bad_syms} of {n_sym} symbol(s); first: {errors[0]}{more}"
        )
    return 0


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, console, load_cli_settings
    from volts.commands._common import parse_date

    data_app = typer.Typer(help="Inspect and validate market data.", no_args_is_help=True)

    @data_app.command("check")
    def check(
        directory: Optional[Path] = typer.Argument(None, help="Folder of CSV files (default: the configured source)."),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
        source: Optional[str] = typer.Option(None, "--source", help="csv | mt5 | synthetic"),
        start: Optional[str] = typer.Option(
            None, "--start", help="First date of the checked span (default: the earliest configured window start)."
        ),
        end: Optional[str] = typer.Option(
            None, "--end", help="Last date of the checked span (default: the end of each file)."
        ),
        all_dates: bool = typer.Option(False, "--all-dates", help="Check every row of every file."),
        common_calendar: bool = typer.Option(
            False, "--common-calendar", help="Also require one calendar across symbols in the span."
        ),
    ) -> None:
        """Validate a data source: table of symbols, first/last date, rows, problems (exit 3 if any)."""
        from volts.core.errors import UsageError

        if data_dir is not None:  # the same folder as the DIR argument, like every other command's --data-dir
            if directory is not None and Path(directory).resolve() != Path(data_dir).resolve():
                raise UsageError(f"give the folder once: DIR {directory} and --data-dir {data_dir} differ")
            directory = data_dir
        if source is not None and source not in ("csv", "mt5", "synthetic"):
            raise UsageError(f"--source: '{source}' is not one of csv, mt5, synthetic")
        if directory is not None and source not in (None, "csv"):
            raise UsageError(f"a directory argument reads CSV files; it does not fit --source {source}")
        settings = load_cli_settings(config, directory, source)
        s, e = parse_date(start, "--start"), parse_date(end, "--end")
        if s is not None and e is not None and s > e:
            raise UsageError(f"--start {s} is after --end {e}")
        run_check(
            settings, directory, start=s, end=e, all_dates=all_dates, common_calendar=common_calendar, console=console
        )

    @data_app.command("resample")
    def resample(
        directory: Optional[Path] = typer.Argument(None, help="Folder of intraday CSV files (default: data.dir)."),
        to: str = typer.Option(
            ..., "--to", help="Target bar size: M5 M15 M30 H1 H4 D1 (a multiple of data.timeframe)."
        ),
        out: Path = typer.Option(..., "--out", help="Folder for the resampled files (one per symbol)."),
        config: Optional[Path] = ConfigOpt,
        keep_partial: bool = typer.Option(
            False, "--keep-partial", help="Keep buckets with fewer bars than the calendar expects (dropped by default)."
        ),
    ) -> None:
        """Resample intraday bars to a coarser size on the calendar's session boundaries (volts.data.resample)."""
        from volts.data.resample import resample_folder
        from volts.core.errors import UsageError

        settings = load_cli_settings(config, directory, None)
        if settings.data.timeframe == "D1":
            raise UsageError("data.timeframe is D1: set it to the size of the source bars (e.g. H1) to resample")
        rows = resample_folder(
            settings.data,
            directory if directory is not None else settings.data.dir,
            to,
            out,
            partial="keep" if keep_partial else "drop",
        )
        for r in rows:
            console.print(
                f"{r['symbol']}: {r['rows_in']:,} {settings.data.timeframe} bars -> {r['rows_out']:,} "
                f"{to.upper()} bars ({r['partial_dropped']} partial bucket(s) "
                f"{'kept' if keep_partial else 'dropped'}, {r['bad_rows']} bad row(s) left out) -> "
                f"{r['file']}",
                markup=False,
                soft_wrap=True,
            )

    app.add_typer(data_app, name="data")
