"""The ``volts`` command (typer).

Contract (ARCHITECTURE.md): every command reads ``config.toml`` (or ``--config FILE``), takes ``--data-dir DIR``
to read CSVs instead of the configured source, writes under ``--out DIR`` (default ``runs/``), prints a short
summary and exits 0 on success, 2 on a usage/config error, 3 on a data error, 4 on a broker error, with a
one-line message (a traceback only with ``--debug``).

Sub-commands live in ``volts.commands.*``; this module holds the app, the shared options and the error mapping.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from volts import __version__
from volts.errors import VoltsError

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="volts: volatility-regime, causal lead-lag pair trading (the Vol-TS method).")

def _version(value: bool) -> None:
    if value:
        console.print(f"volts {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """Global options; ``--debug`` is read by :func:`main` before the command runs."""


def load_cli_settings(config: Optional[Path], data_dir: Optional[Path] = None, source: Optional[str] = None):
    """Settings for a command: ``--config FILE`` or ``./config.toml`` if present, else built-in defaults; then
    ``--data-dir`` (CSV source in that folder) and ``--source`` override."""
    from volts.config import load_settings

    if config is None and Path("config.toml").is_file():
        config = Path("config.toml")
    settings = load_settings(config)
    overrides = {}
    if data_dir is not None:
        overrides["data.dir"] = str(Path(data_dir).resolve())
        overrides["data.source"] = "csv"
    if source is not None:
        overrides["data.source"] = source
    return settings.override(**overrides) if overrides else settings


ConfigOpt = typer.Option(None, "--config", "-c", help="Config file (default: ./config.toml, else built-in).")
DataDirOpt = typer.Option(None, "--data-dir", help="Read CSV files from DIR instead of the configured source.")
OutOpt = typer.Option(Path("runs"), "--out", help="Folder for run artifacts.")


def _configure_logging(debug: bool) -> None:
    """Library warnings (stale data, capped volumes, loose credential files) reach stderr as ``warning: ...``
    lines; transient retries are INFO and show only with ``--debug``."""
    import logging

    class StderrHandler(logging.Handler):
        _volts = True

        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(f"{record.levelname.lower()}: {self.format(record)}\n")
            except Exception:  # pragma: no cover - never let logging break a command
                self.handleError(record)

    root = logging.getLogger("volts")
    handler = next((h for h in root.handlers if getattr(h, "_volts", False)), None)
    if handler is None:
        handler = StderrHandler()
        root.addHandler(handler)
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    if debug:
        root.setLevel(logging.DEBUG)


def _register() -> None:
    from volts.commands import register

    register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``volts`` console script; returns the process exit code."""
    _register()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    _configure_logging(debug)
    try:
        app(args=argv, standalone_mode=False)
    except VoltsError as exc:
        if debug:
            raise
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted", markup=False)
        return 1
    except Exception as exc:  # click's usage errors (typer vendors click) and anything unexpected
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            if type(exc).__name__ != "NoArgsIsHelpError":  # the help text was already printed
                err_console.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
            return 2
        if debug:
            raise
        err_console.print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback)",
                          markup=False, soft_wrap=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
