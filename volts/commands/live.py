"""``volts live report [--journal F]``: the account's positions, P&L and orders from an order journal (live or
paper), beside ``volts.trading.simulate`` on the same re-selections, every difference with its cause
(``volts.reporting.live_report.build_live_report``).

Exit codes: 0 success, 2 a missing or unreadable journal, 3 data errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from volts.cli import ConfigOpt, DataDirOpt, console, load_cli_settings

    live_app = typer.Typer(help="Live and paper accounts: reports from the order journal.", no_args_is_help=True)

    @live_app.command("report")
    def report(
        journal: Optional[Path] = typer.Option(None, "--journal", help="SQLite order journal (default: live.journal)."),
        out: Optional[Path] = typer.Option(
            None, "--out", help="Folder of live_report.md/.html (default: the journal's folder)."
        ),
        config: Optional[Path] = ConfigOpt,
        data_dir: Optional[Path] = DataDirOpt,
    ) -> None:
        """Write live_report.md/.html: positions, P&L, orders, slippage, differences from the simulator."""
        from volts.reporting.live_report import build_live_report

        settings = load_cli_settings(config, data_dir, None)
        result = build_live_report(journal or Path(settings.live.journal), settings, out=out)
        console.print(
            f"{len(result.orders)} order(s), {len(result.differences)} difference(s) from the simulator", markup=False
        )
        for _, d in result.differences.head(20).iterrows():
            console.print(f"- {d['session']} {d['pair']}: {d['cause']}", markup=False)
        console.print(f"wrote {result.markdown} and {result.html}", markup=False)

    app.add_typer(live_app, name="live")
