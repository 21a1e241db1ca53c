"""Benchmarks of the trading pass: SPY and the buy-and-hold curves.

:func:`load_spy` reads and validates the SPY bars (the market benchmark), :func:`_hold_curve` gives the value of
an equal-weight buy-and-hold of a set of symbols after costs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from volts.core.errors import DataError
from volts.trading.book import (
    HAIRCUT,
)
from volts.trading.schedule import (
    CostModel,
)


# ----------------------------------------------------------------------------------------------- SPY
def spy_path(settings, symbol: str = "SPY") -> Path:
    """Where the SPY benchmark's bars are read: ``[data] spy_file``, else ``<symbol>.csv`` in ``[data] dir``."""
    from volts.data.csv import symbol_file

    if settings.data.spy_file:
        return Path(settings.data.spy_file).expanduser()
    return Path(symbol_file(settings.data.dir, symbol, settings.data.csv))


def load_spy(settings, symbol: str = "SPY", *, start=None, end=None) -> pd.DataFrame | None:
    """SPY's daily bars from :func:`spy_path`, validated like every other series (None when the file is absent).

    The bars go through :func:`volts.data.validate.validate_bars` with the ``[data]`` policies (``on_invalid``,
    ``max_abs_return``, ``return_jump``, ``calendar``, ``max_range_multiple``) over ``[start, end]``: a close
    x1000 or a negative close stops the run with a data error naming the file, the date and the rule, or under
    ``on_invalid = "drop"`` the row is dropped and reported (``report`` in ``attrs``).

    Parameters
    ----------
    settings : Settings
    symbol : str, default "SPY"
    start, end : date-like, optional
        The span the benchmark covers (both inclusive); rows outside it are not checked (the window policy of
        :mod:`volts.data.validate`). None = the whole file.

    Returns
    -------
    pandas.DataFrame or None
        Columns open, high, low, close, volume; DatetimeIndex; ``attrs["report"]`` = the
        :class:`~volts.data.validate.ValidationReport`. An empty frame when the file has no row in the span.

    Raises
    ------
    DataError
        ``[data] spy_file`` is set but names no file (a configured benchmark is never dropped silently); the file
        cannot be read; a bar breaks a rule under ``on_invalid = "error"`` (or a ``return_jump`` under
        ``return_jump = "error"``).
    """
    from volts.data.csv import read_csv_bars
    from volts.data.validate import validate_bars

    path = spy_path(settings, symbol)
    if not path.is_file():
        if settings.data.spy_file:
            raise DataError(
                f"{path}: [data] spy_file names no file; fix the path or remove the key (the SPY "
                f"benchmark is then read from SPY.csv in [data] dir, if there is one)"
            )
        return None
    d = settings.data
    raw = read_csv_bars(path, symbol, d.csv)
    try:
        market = validate_bars(
            {symbol: raw},
            sources={symbol: str(path)},
            start=start,
            end=end,
            on_invalid=d.on_invalid,
            missing="error",
            max_abs_return=d.max_abs_return,
            return_jump=d.return_jump,
            calendar=d.calendar or None,
            max_range_multiple=d.max_range_multiple,
        )
    except DataError as exc:
        if getattr(exc, "rule", None) == "no_rows_in_window":  # SPY's file ends before the span: no benchmark
            empty = pd.DataFrame(
                columns=["open", "high", "low", "close", "volume"], dtype=float, index=pd.DatetimeIndex([], name="date")
            )
            return empty
        raise DataError(f"SPY benchmark: {exc}") from None
    bars = market.bars(symbol)
    bars.attrs["report"] = market.report
    return bars


def _spy_findings(events: list, spy: pd.DataFrame | None) -> None:
    """Append an ``spy_bar_dropped`` / ``spy_bar_flagged`` event per row validation dropped or flagged in SPY."""
    report = spy.attrs.get("report") if spy is not None else None
    if report is None:
        return
    from volts.data.validate import OUTSIDE_NOTE

    for p in report.problems:
        if p.action in ("dropped", "flagged") and OUTSIDE_NOTE not in p.message:
            events.append(
                {
                    "date": p.date,
                    "pair": "SPY",
                    "event": f"spy_bar_{p.action}",
                    "file": p.file,
                    "rule": p.rule,
                    "reason": p.message,
                }
            )


def _hold_curve(
    opens: pd.DataFrame, closes: pd.DataFrame, first_fill: int, execution: str, costs: CostModel
) -> pd.Series:
    """Equal parts of the capital in each column, bought at the first fill and held; value at each close."""
    n_sym = opens.shape[1]
    part = costs.capital / n_sym
    price = (opens.iloc[first_fill] if execution == "next_open" else closes.iloc[first_fill]).to_numpy(float)
    budget = part - costs.fixed
    if costs.has_spread:  # each symbol's own half-spread (volts.trading.spreads)
        terms = [costs.terms(str(sym)) for sym in opens.columns]
        rate = np.array([t[0] for t in terms])
        unit = np.array([t[1] for t in terms])
        shares = np.where(budget > 0, budget / (price * (1.0 + rate) + unit) * (1.0 - HAIRCUT), 0.0)
        spent = shares * price + np.where(shares > 0, costs.fixed + rate * shares * price + unit * shares, 0.0)
    else:
        shares = np.where(budget > 0, budget / (price * (1.0 + costs.rate)) * (1.0 - HAIRCUT), 0.0)
        spent = shares * price + np.where(shares > 0, costs.fixed + costs.rate * shares * price, 0.0)
    cash = costs.capital - spent.sum()
    values = closes.to_numpy(float) @ shares + cash
    out = pd.Series(values, index=closes.index)
    book_i = first_fill  # equity of the fill's close includes it
    out.iloc[:book_i] = costs.capital
    return out
