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


def data_quality(market) -> dict:
    """What validation dropped, filled or flagged-and-kept while loading ``market`` (for artifacts and summaries).

    Returns a dict with ``rows_read``, ``rows_dropped`` and ``rows_filled`` per symbol, and ``findings``: every
    problem with action dropped, filled or flagged (flagged findings outside the requested window are counted in
    ``outside_window`` and not listed: they concern rows no stage reads).
    """
    from volts.data.validate import OUTSIDE_NOTE

    rep = market.report
    if rep is None:
        return {"rows_read": {}, "rows_dropped": {}, "rows_filled": {}, "findings": [], "outside_window": 0}
    inside = [p for p in rep.problems if p.action != "error" and OUTSIDE_NOTE not in p.message]
    return {
        "rows_read": dict(rep.rows_read),
        "rows_dropped": {k: v for k, v in rep.rows_dropped.items() if v},
        "rows_filled": {k: v for k, v in rep.rows_filled.items() if v},
        "findings": [p.to_dict() for p in inside],
        "outside_window": sum(1 for p in rep.problems if p.action != "error" and OUTSIDE_NOTE in p.message),
    }


def data_quality_line(quality: dict) -> str:
    """One summary line for the terminal: rows dropped, bars filled and findings flagged but kept, by rule."""
    from collections import Counter

    def by_rule(action):
        c = Counter(f["rule"] for f in quality.get("findings", []) if f["action"] == action)
        return ", ".join(f"{rule} {n}" for rule, n in sorted(c.items()))

    dropped = sum(quality.get("rows_dropped", {}).values())
    filled = sum(quality.get("rows_filled", {}).values())
    flagged = sum(1 for f in quality.get("findings", []) if f["action"] == "flagged")
    parts = [
        f"{dropped} row(s) dropped" + (f" (findings: {by_rule('dropped')})" if dropped else ""),
        f"{filled} bar(s) filled" + (f" (findings: {by_rule('filled')})" if filled else ""),
        f"{flagged} finding(s) flagged and kept" + (f" ({by_rule('flagged')})" if flagged else ""),
    ]
    return "data: " + "; ".join(parts)
