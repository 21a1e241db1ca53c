"""``volts data check [DIR]`` (placeholder until the data layer lands)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Inspect and validate market data.", no_args_is_help=True)

    @data_app.command("check")
    def check(directory: Optional[Path] = typer.Argument(None)) -> None:
        """Validate a data source."""
        raise typer.Exit(0)

    app.add_typer(data_app, name="data")
