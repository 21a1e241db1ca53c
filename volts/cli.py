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
from volts.core.errors import VoltsError

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="volts: volatility-regime, causal lead-lag pair trading (the Vol-TS method).",
)


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


def load_cli_settings(
    config: Optional[Path], data_dir: Optional[Path] = None, source: Optional[str] = None, *, daily: str | None = None
):
    """Settings for a command: ``--config FILE`` or ``./config.toml`` if present, else built-in defaults; then
    ``--data-dir`` (CSV source in that folder) and ``--source`` override. ``daily="volts select"``: the command's
    stages need daily bars (:func:`volts.core.config.require_daily_bars`)."""
    from volts.core.config import load_settings, require_daily_bars

    if config is None and Path("config.toml").is_file():
        config = Path("config.toml")
    settings = load_settings(config)
    overrides = {}
    if data_dir is not None:
        overrides["data.dir"] = str(Path(data_dir).resolve())
        overrides["data.source"] = "csv"
    if source is not None:
        overrides["data.source"] = source
    settings = settings.override(**overrides) if overrides else settings
    if daily:
        require_daily_bars(settings, daily)
    return settings


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


def _split_debug(argv: list[str]) -> tuple[list[str], bool]:
    """Remove every ``--debug`` from ``argv`` (it is accepted anywhere: before or after the sub-command) and say
    whether one was there. Arguments after a ``--`` separator are left alone."""
    out, debug, literal = [], False, False
    for a in argv:
        if not literal and a == "--debug":
            debug = True
            continue
        if a == "--":
            literal = True
        out.append(a)
    return out, debug


def _print_traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``volts`` console script; returns the process exit code.

    Exit codes: 0 success, 1 a declined confirmation or an internal error (a bug: please report it), 2 usage or
    configuration error (also an unusable output path), 3 data error, 4 broker error, 130 interrupted (Ctrl-C).
    ``--debug`` (accepted anywhere on the command line) adds a traceback and keeps the exit code.
    """
    import click

    _register()
    argv, debug = _split_debug(list(argv if argv is not None else sys.argv[1:]))
    _configure_logging(debug)
    interrupted = "interrupted (Ctrl-C); a run folder is renamed into place only when complete"
    try:
        # outside standalone mode typer *returns* the code of a typer.Exit (a declined confirmation: 1) and of
        # Ctrl-C (130) instead of raising: both must reach the process exit status
        rv = app(args=argv, standalone_mode=False, prog_name="volts")
        if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
            if rv == 130:
                err_console.print(interrupted, markup=False)
            return rv
    except VoltsError as exc:
        if debug:
            _print_traceback()
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print(interrupted, markup=False)
        return 130
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt):
            err_console.print(interrupted, markup=False)
            return 130
        err_console.print("aborted", markup=False)
        return 1
    except Exception as exc:
        if isinstance(exc, click.exceptions.ClickException) or (
            hasattr(exc, "format_message") and hasattr(exc, "exit_code")
        ):  # usage errors (typer vendors click)
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `volts` or `volts data`: the help, then why
                _no_command(exc)
            else:
                err_console.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
            return 2
        mapped = _map_os_error(exc)
        if mapped is not None:
            if debug:
                _print_traceback()
            err_console.print(f"error: {mapped}", markup=False, soft_wrap=True)
            return mapped.exit_code
        if debug:
            _print_traceback()
        err_console.print(
            f"error: internal error {type(exc).__name__}: {exc} (a bug in volts; run with --debug "
            f"for a traceback and please report it)",
            markup=False,
            soft_wrap=True,
        )
        return 1
    return 0


def _no_command(exc) -> None:
    """A group called without its command (``volts``, ``volts data``): its help on stderr, then one error line
    saying a command is needed (exit 2, as a usage error)."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "volts"
    err_console.print(exc.format_message(), markup=False, soft_wrap=True)
    err_console.print(
        f"error: {path} needs a command (one of the commands above); '{path} COMMAND --help' describes one",
        markup=False,
        soft_wrap=True,
    )


def _map_os_error(exc: BaseException) -> VoltsError | None:
    """An ``OSError`` that escaped a command (full disk, permission, read-only file system) as a
    :class:`~volts.core.errors.ArtifactError` naming the path (exit 2); a SQLite error (the order journal: locked by
    another process, corrupt, not openable) likewise; None for anything else."""
    import sqlite3

    from volts.core.errors import ArtifactError

    if isinstance(exc, sqlite3.Error):
        return ArtifactError(
            f"order journal (--journal, default live.journal): {exc}: the SQLite file is locked by "
            f"another process, corrupt or cannot be opened; wait for the other volts, or move the "
            f"file aside and reconcile from the terminal's positions"
        )
    if not isinstance(exc, OSError):
        return None
    path = exc.filename or "an output file"
    reason = exc.strerror or str(exc)
    return ArtifactError(f"{path}: cannot write or read: {reason}; free space or choose another --out")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
