"""What validation finds: one :class:`Problem` per rule broken, gathered in a :class:`ValidationReport`.

A problem names the file, symbol, date, rule and value and suggests the fix; the report holds what was dropped,
filled or flagged and travels with the bars (:attr:`volts.data.market.MarketData.report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from volts.core.errors import DataError, UsageError

Action = Literal["error", "dropped", "filled", "flagged"]


PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")


_OUTSIDE = "outside the requested window; not used"


#: Rules whose row ``on_invalid = "drop"`` removes.
DROPPABLE_RULES = frozenset(
    {
        "missing_date",
        "duplicate_date",
        "unsorted_date",
        "nan",
        "non_finite",
        "non_positive_price",
        "high_below_max_open_close",
        "low_above_min_open_close",
        "negative_volume",
        "range_outlier",
        "non_session_date",
    }
)


OUTSIDE_NOTE = _OUTSIDE  # marks a flagged finding on rows outside the window (public name)


# --------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Problem:
    """One finding of validation.

    Attributes
    ----------
    symbol : str
        Symbol of the bar (or file) concerned.
    file : str or None
        File or source the bar came from (None when the source is not a file).
    date : str or None
        ISO date (YYYY-MM-DD) of the bar, None for file-level findings.
    rule : str
        Name of the rule broken (see the module docstring).
    message : str
        Human explanation with the offending values.
    action : {"error", "dropped", "filled", "flagged"}
        What validation did: ``error`` stops the load (or, in :func:`collect_problems`, would stop it),
        ``dropped`` removed the row, ``filled`` inserted a bar, ``flagged`` kept going and only reports it.
    """

    symbol: str
    file: str | None
    date: str | None
    rule: str
    message: str
    action: Action

    def __str__(self) -> str:
        where = f"{self.file}: {self.symbol}" if self.file else self.symbol
        when = f" {self.date}" if self.date else ""
        return f"{where}{when}: {self.rule}: {self.message}"

    def to_dict(self) -> dict:
        """JSON-ready plain dict."""
        return {
            "symbol": self.symbol,
            "file": self.file,
            "date": self.date,
            "rule": self.rule,
            "message": self.message,
            "action": self.action,
        }


@dataclass(frozen=True)
class ValidationReport:
    """What validation found, dropped, filled or flagged.

    Attributes
    ----------
    problems : tuple of Problem
        Every finding, ordered by symbol (input order), then date.
    rows_read : dict of str to int
        Rows handed to validation per symbol (every row of the file).
    rows_dropped : dict of str to int
        Rows removed per symbol by a policy (``on_invalid="drop"`` or ``missing="drop_dates"``). Rows outside
        the requested window are cut, not dropped, and are not counted.
    rows_filled : dict of str to int
        Bars inserted per symbol by ``missing="forward_fill_close"``.
    """

    problems: tuple[Problem, ...] = ()
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_dropped: dict[str, int] = field(default_factory=dict)
    rows_filled: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem has action ``"error"`` (dropped, filled and flagged rows are reported only)."""
        return not any(p.action == "error" for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems with action ``"error"``."""
        return tuple(p for p in self.problems if p.action == "error")

    def by_symbol(self) -> dict[str, tuple[Problem, ...]]:
        """Problems grouped by symbol (every symbol of ``rows_read`` appears, possibly with no problem)."""
        out: dict[str, list[Problem]] = {s: [] for s in self.rows_read}
        for p in self.problems:
            out.setdefault(p.symbol, []).append(p)
        return {s: tuple(v) for s, v in out.items()}

    def count(self, action: str | None = None, symbol: str | None = None) -> int:
        """Number of problems, optionally restricted to one action and/or one symbol."""
        return sum(
            1
            for p in self.problems
            if (action is None or p.action == action) and (symbol is None or p.symbol == symbol)
        )

    def to_dict(self) -> dict:
        """JSON-ready plain dict: ok, the per-symbol counts and every problem."""
        return {
            "ok": self.ok,
            "rows_read": {k: int(v) for k, v in self.rows_read.items()},
            "rows_dropped": {k: int(v) for k, v in self.rows_dropped.items()},
            "rows_filled": {k: int(v) for k, v in self.rows_filled.items()},
            "problems": [p.to_dict() for p in self.problems],
        }

    def merged(self, other: "ValidationReport") -> "ValidationReport":
        """A report holding the problems and counts of both (counts of a symbol in both are added)."""

        def add(a, b):
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + v
            return out

        return ValidationReport(
            self.problems + other.problems,
            add(self.rows_read, other.rows_read),
            add(self.rows_dropped, other.rows_dropped),
            add(self.rows_filled, other.rows_filled),
        )


# --------------------------------------------------------------------------------------------- helpers
def _iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _ts(value, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise UsageError(f"{name}: '{value}' is not a date") from None
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def _fmt(x: float) -> str:
    if pd.isna(x):
        return "NaN"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.6g}"


def raise_problem(first: Problem, more: int = 0) -> None:
    """Raise :class:`DataError` whose one-line message is ``first`` (plus a count of further problems).

    The problem itself is attached to the exception as ``exc.problem``.
    """
    suffix = f" (+{more} more problem{'s' if more > 1 else ''})" if more else ""
    hint = ""
    if first.rule in DROPPABLE_RULES and "on_invalid" not in first.message and "data.csv" not in first.message:
        hint = "; fix the file or set data.on_invalid = 'drop' to drop such rows (they are then reported)"
    exc = DataError(f"{first}{hint}{suffix}")
    exc.problem = first  # type: ignore[attr-defined]
    exc.rule = first.rule  # type: ignore[attr-defined]
    raise exc
