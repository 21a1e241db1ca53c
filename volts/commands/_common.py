"""Helpers shared by the sub-commands: progress lines and date parsing."""

from __future__ import annotations

import datetime as dt
import time

from volts.core.errors import UsageError


def parse_date(text: str | None, option: str) -> dt.date | None:
    """ISO date from a command-line option, or None; a bad date is a usage error (exit 2)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: '{text}' is not a date (expected YYYY-MM-DD)") from None


class StageProgress:
    """Prints one line per stage start/end with its wall time (stderr), for long runs."""

    def __init__(self, console, prefix: str = "") -> None:
        self.console = console
        self.prefix = prefix
        self.t0 = time.perf_counter()

    def __call__(self, stage: str, message: str) -> None:
        if message == "start":
            self.console.print(f"{self.prefix}[{stage}] running ...", markup=False)
        else:
            self.console.print(f"{self.prefix}[{stage}] {message}", markup=False)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0
