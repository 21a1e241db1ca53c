"""Performance statistics of a backtest run (METHOD.md §7; the paper's §2.4).

Every statistic is computed from a run's daily equity (its value at each close of the test window) and, for the
trade statistics, its list of round trips. The return statistics come from empyrical-reloaded (``import
empyrical``); this module fixes their inputs and conventions:

* **Daily returns** r_i = E_i / E_{i-1} - 1 (simple returns), with E_0 = the starting capital when it is given, so
  the first day's return is measured from the capital (n returns for n equity values).
* **Total return** = E_n / E_0 - 1. **Final equity** = E_n.
* **Sharpe ratio** (annualised) = mean(r - rf) / std(r - rf) * sqrt(P), sample standard deviation (ddof = 1),
  P = ``periods_per_year`` (252), rf = the per-day risk-free rate (1 + risk_free)^(1/P) - 1 (risk_free is an
  annual fraction, 0 by default). ``empyrical.sharpe_ratio``.
* **Sortino ratio** = mean(r - rf) * P / (DD * sqrt(P)), DD = sqrt(mean(min(r - rf, 0)^2)): the downside deviation
  with the full sample (every day, not only the losing days) in the denominator of the mean.
  ``empyrical.sortino_ratio``.
* **Maximum drawdown** = max over t of (peak_t - E_t) / peak_t, peak_t = max(E_0 .. E_t), reported as a positive
  fraction (0.0266 for 2.66 %). ``empyrical.max_drawdown`` (sign flipped).
* **Annualised return** = CAGR over P periods per year: (E_n / E_0)^(P / n) - 1, n = number of daily returns.
  ``empyrical.annual_return``. Over a 45-day window this extrapolates wildly; it is reported for Calmar only.
* **Calmar ratio** = annualised return / maximum drawdown. ``empyrical.calmar_ratio``.
* **Trades** = number of round trips. A position still open at the end of the window is marked to market at the
  last close (no exit commission) and counted as a round trip, as the paper's tables count its buy-and-hold as one
  trade. **Win rate** = round trips with net P&L (after commissions) > 0 / round trips.

A value that is undefined (no trade, zero volatility, no downside day, no drawdown, fewer than two returns) is
``None``, never NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd

from volts.core.artifacts import read_json
from volts.core.errors import ArtifactError, DataError

__all__ = ["PerformanceMetrics", "compute_metrics", "equity_returns", "trade_stats"]


def _finite_or_none(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class PerformanceMetrics:
    """Performance statistics of one run (a pair strategy, a benchmark or a portfolio).

    Attributes
    ----------
    name : str
        Run name, e.g. ``"MU->QCOM (tau 2)"``.
    trades : int
        Round trips (an open position at the end counts as one, marked to market).
    win_rate : float or None
        Fraction of round trips with net P&L > 0; None without trades.
    total_return, final_equity : float
        E_n / E_0 - 1 (fraction) and E_n (quote currency).
    sharpe, sortino : float or None
        Annualised (sqrt(252) by default), see the module docstring.
    max_drawdown : float or None
        Positive fraction.
    calmar : float or None
        annual_return / max_drawdown; None when there was no drawdown.
    annual_return : float or None
        CAGR over ``periods_per_year``.
    days : int
        Number of daily returns.
    """

    name: str
    trades: int
    win_rate: float | None
    total_return: float | None
    final_equity: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    calmar: float | None
    annual_return: float | None
    days: int

    def to_dict(self) -> dict:
        """JSON-ready dict (fractions, None for undefined values)."""
        return asdict(self)


def equity_returns(equity: pd.Series, *, capital: float | None = None) -> pd.Series:
    """Daily simple returns of an equity curve.

    Parameters
    ----------
    equity : pandas.Series, shape (n_days,)
        Value of the run at each close (quote currency), ascending dates.
    capital : float or None
        Starting value E_0 before the first day. None: the first equity value is the base and the result has
        n_days - 1 returns.

    Returns
    -------
    pandas.Series, shape (n_days,) or (n_days - 1,)
        r_i = E_i / E_{i-1} - 1, indexed by the date of E_i.

    Raises
    ------
    DataError
        Empty equity, a NaN, or a value <= 0 (returns undefined).
    """
    name = equity.name if equity.name is not None else "equity"
    if len(equity) == 0:
        raise DataError(f"{name}: empty equity curve; no day in the window")
    values = equity.to_numpy(dtype="float64")
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        when = equity.index[i]
        when = when.date() if isinstance(when, pd.Timestamp) else when
        raise DataError(f"{name}: equity on {when} is {values[i]!r}; returns need a positive equity")
    if capital is not None:
        if not (capital > 0):
            raise DataError(f"{name}: starting capital must be > 0 (got {capital!r})")
        base = np.concatenate([[float(capital)], values[:-1]])
        return pd.Series(values / base - 1.0, index=equity.index, name=name)
    return pd.Series(values[1:] / values[:-1] - 1.0, index=equity.index[1:], name=name)


def trade_stats(trades: pd.DataFrame | None) -> tuple[int, float | None]:
    """Number of round trips and win rate (net P&L > 0) of a trade list with a ``net_pnl`` column."""
    if trades is None or len(trades) == 0:
        return 0, None
    net = trades["net_pnl"].to_numpy(dtype="float64")
    return int(len(net)), float((net > 0).sum() / len(net))


def compute_metrics(
    equity: pd.Series,
    trades: pd.DataFrame | None = None,
    *,
    capital: float | None = None,
    name: str | None = None,
    risk_free: float = 0.0,
    periods_per_year: int = 252,
) -> PerformanceMetrics:
    """Performance statistics of one run from its daily equity and its round trips.

    Parameters
    ----------
    equity : pandas.Series, shape (n_days,)
        Value at each close of the test window (quote currency), ascending dates.
    trades : pandas.DataFrame or None
        Round trips with at least a ``net_pnl`` column (one row per round trip). None = no trades.
    capital : float or None
        Starting value E_0 (the value before the first day). None: the first equity value.
    name : str or None
        Run name (default: ``equity.name``).
    risk_free : float, default 0.0
        Annual risk-free rate (fraction); converted to a per-day rate (1 + rf)^(1/P) - 1.
    periods_per_year : int, default 252
        P, for annualisation.

    Returns
    -------
    PerformanceMetrics

    Raises
    ------
    DataError
        As :func:`equity_returns`.

    Notes
    -----
    Definitions in the module docstring (METHOD.md §7, the paper's §2.4); return statistics from empyrical.
    """
    name = name if name is not None else (str(equity.name) if equity.name is not None else "")
    r = equity_returns(equity.rename(name), capital=capital)
    base = float(capital) if capital is not None else float(equity.iloc[0])
    final = float(equity.iloc[-1])
    n_trades, win_rate = trade_stats(trades)
    arr = r.to_numpy(dtype="float64")
    rf = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
    if len(arr) >= 1:
        mdd = -float(empyrical.max_drawdown(arr))
        annual = _finite_or_none(empyrical.annual_return(arr, annualization=periods_per_year))
        calmar = _finite_or_none(empyrical.calmar_ratio(arr, annualization=periods_per_year))
        if mdd == 0.0:
            mdd = 0.0  # not -0.0
    else:
        mdd, annual, calmar = None, None, None
    sharpe = _finite_or_none(empyrical.sharpe_ratio(arr, risk_free=rf, annualization=periods_per_year))
    sortino = _finite_or_none(empyrical.sortino_ratio(arr, required_return=rf, annualization=periods_per_year))
    return PerformanceMetrics(
        name=name,
        trades=n_trades,
        win_rate=win_rate,
        total_return=final / base - 1.0,
        final_equity=final,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=_finite_or_none(mdd),
        calmar=calmar,
        annual_return=annual,
        days=int(len(arr)),
    )


# ------------------------------------------------------------------------------------- metrics.json
#: Top-level fields of a backtest's ``metrics.json``: ``BacktestResult.metrics_dict`` plus the provenance that
#: ``write_backtest_outputs`` adds. A field volts does not write is refused (a hand-edited or foreign file).
METRICS_FIELDS = frozenset(
    {
        "strategies",
        "benchmarks",
        "portfolio",
        "execution",
        "optimistic",
        "window",
        "params",
        "selection_asof",
        "config_sha256",
        "data_quality",
        "costs",
    }
)


def metrics_row_fields() -> frozenset[str]:
    """Fields of one row of ``metrics.json``: those of :class:`volts.trading.metrics.PerformanceMetrics` and the row's
    description (``BacktestResult._row``: kind, pair, leader/follower/lag, members, optimistic)."""
    import dataclasses

    return frozenset(f.name for f in dataclasses.fields(PerformanceMetrics)) | {
        "kind",
        "leader",
        "follower",
        "lag",
        "pair",
        "members",
        "optimistic",
    }


def read_metrics(path: str | Path) -> dict:
    """Read and check a ``metrics.json``: an object with only the fields volts writes (:data:`METRICS_FIELDS`),
    whose ``strategies``, ``benchmarks`` and ``portfolio`` (when present) are lists of objects with a ``name`` and
    only the fields of a metrics row (:func:`metrics_row_fields`).

    Raises
    ------
    ArtifactError
        Missing file, invalid JSON, a field volts does not write (named) or a malformed field (named).
    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object of metrics")
    foreign = sorted(set(data) - METRICS_FIELDS)
    if foreign:
        raise ArtifactError(
            f"{path}: unknown field {', '.join(repr(f) for f in foreign)} (volts writes only "
            f"{', '.join(sorted(METRICS_FIELDS))}); the file was edited or comes from elsewhere: "
            f"re-run volts backtest or volts run"
        )
    row_fields = metrics_row_fields()
    for key in ("strategies", "benchmarks", "portfolio"):
        rows = data.get(key, [])
        if not isinstance(rows, list):
            raise ArtifactError(f"{path}: '{key}' must be a list")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("name"), str):
                raise ArtifactError(f"{path}: {key}[{i}] must be an object with a 'name'")
            foreign = sorted(set(row) - row_fields)
            if foreign:
                raise ArtifactError(
                    f"{path}: {key}[{i}] has unknown field {', '.join(repr(f) for f in foreign)} "
                    f"(not written by volts); re-run volts backtest or volts run"
                )
            for field_name, value in row.items():
                if field_name in ("trades",) and value is not None and not isinstance(value, int):
                    raise ArtifactError(f"{path}: {key}[{i}].{field_name} must be an integer, got {value!r}")
                if (
                    field_name
                    in ("win_rate", "total_return", "final_equity", "sharpe", "sortino", "max_drawdown", "calmar")
                    and value is not None
                    and (isinstance(value, bool) or not isinstance(value, (int, float)))
                ):
                    raise ArtifactError(f"{path}: {key}[{i}].{field_name} must be a number, got {value!r}")
    if "window" in data and not isinstance(data["window"], dict):
        raise ArtifactError(f"{path}: 'window' must be an object with start and end")
    return data
