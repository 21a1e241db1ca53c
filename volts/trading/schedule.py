"""The weekly trading schedule and what a simulation of it returns.

A :class:`Rebalance` is one re-selection (its as-of date and the :class:`Holding` of each selected pair);
:class:`CostModel` holds capital, commission and slippage; :class:`SimulationResult` is the equity, trades,
fills, positions and benchmarks of a simulated schedule (:func:`volts.trading.simulate.simulate_schedule`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from volts.core.errors import ConfigError


# ------------------------------------------------------------------------------------------------ schedule
@dataclass(frozen=True)
class Holding:
    """One ordered pair held during one re-selection period.

    Attributes
    ----------
    leader, follower : str
        Symbols of the market data; the follower is traded on the leader's trend.
    lag : int
        tau >= 1, trading days (METHOD.md §5-6).
    """

    leader: str
    follower: str
    lag: int

    def __post_init__(self) -> None:
        if isinstance(self.lag, bool) or not isinstance(self.lag, (int, np.integer)) or self.lag < 1:
            raise ConfigError(f"{self.leader}->{self.follower}: lag must be an integer >= 1 (got {self.lag!r})")
        if self.leader == self.follower:
            raise ConfigError(f"{self.leader}->{self.follower}: leader and follower must differ")

    @property
    def key(self) -> str:
        """Sleeve key ``"LEADER->FOLLOWER"`` (the lag is not part of it: a re-selected pair keeps its sleeve)."""
        return f"{self.leader}->{self.follower}"


@dataclass(frozen=True)
class Rebalance:
    """One re-selection.

    Attributes
    ----------
    asof : datetime.date or pandas.Timestamp
        Last session whose bars the selection saw. A ``pandas.Timestamp`` stays one (intraday walk-forward: the
        open stamp of the decision bar); anything else becomes a date (the daily walk-forward).
    pairs : tuple of Holding
        Pairs to hold until the next re-selection; empty = the period is held in cash.
    """

    asof: dt.date | pd.Timestamp
    pairs: tuple = ()

    def __post_init__(self) -> None:
        if not isinstance(self.asof, pd.Timestamp):  # intraday decisions keep their bar stamp
            object.__setattr__(self, "asof", pd.Timestamp(self.asof).date())
        object.__setattr__(self, "pairs", tuple(self.pairs))
        keys = [p.key for p in self.pairs]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"re-selection {self.asof}: a pair appears twice ({', '.join(keys)})")


@dataclass(frozen=True)
class CostModel:
    """Capital and the cost of one order: ``fixed + rate * |value|``.

    Attributes
    ----------
    capital : float
        Starting cash of the portfolio (USD).
    fixed : float
        USD per order.
    rate : float
        Fraction of the traded value per order (commission_pct + slippage + half-spread).
    """

    capital: float
    fixed: float
    rate: float

    @classmethod
    def from_settings(cls, settings, cost_bps: float | None = None) -> "CostModel":
        """The ``[costs]`` section; ``cost_bps`` replaces every cost by ``cost_bps`` bps per side, no fixed fee."""
        c = settings.costs
        if cost_bps is not None:
            if not (cost_bps >= 0) or not math.isfinite(cost_bps):
                raise ConfigError(f"cost_bps must be a finite number >= 0 (got {cost_bps!r})")
            return cls(capital=float(c.capital), fixed=0.0, rate=float(cost_bps) / 1e4)
        return cls(
            capital=float(c.capital),
            fixed=float(c.commission),
            rate=float(c.commission_pct) + (float(c.slippage_bps) + float(c.half_spread_bps)) / 1e4,
        )

    def commission(self, value: float) -> float:
        """Cost of an order of absolute value ``value`` (0 for an empty order)."""
        return self.fixed + self.rate * value if value > 0 else 0.0

    def to_dict(self) -> dict:
        return {"capital": self.capital, "fixed": self.fixed, "rate": self.rate, "rate_bps": self.rate * 1e4}


# ------------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Outcome of :func:`simulate_schedule`.

    Attributes
    ----------
    equity : pandas.Series, shape (n_days,)
        Portfolio value (USD) at each close, from the close of the first as-of session (the capital, before any
        trade) to ``end``; DatetimeIndex.
    trades : pandas.DataFrame
        One row per round trip: ``TRADE_COLUMNS`` (pnl net of both orders' costs; ``closed`` False for a position
        still open at the end, marked to market at the last close without an exit cost).
    fills : pandas.DataFrame
        One row per order: ``FILL_COLUMNS`` (shares signed, + buy; value = |shares| * price; commission = its cost).
    positions : pandas.DataFrame, shape (n_days, n_pairs)
        Signed follower shares per pair key held at each close, after that close's fills.
    turnover_value : pandas.Series, shape (n_days,)
        USD traded per day (sum of |shares| * price of the day's fills).
    benchmarks : dict of str -> pandas.Series
        Daily value of ``BENCHMARKS`` on the same index (SPY: NaN beyond its data; absent without SPY bars).
    periods : pandas.DataFrame
        One row per re-selection: asof, first/last session, pairs, entered, left, kept, pnl (USD) and return of the
        portfolio from the close before its first session to the close of its last (NaN for a period with no
        session); ``unfunded`` (";"-joined keys of the pairs held without the cash to place an order after the
        re-selection's fills), ``n_unfunded`` and ``in_cash`` (True when no position was held at any close of the
        period: no pair, every pair unfunded, or every signal flat). With ``execution="close"`` the re-selection's own fills happen at that first close, so their
        costs fall in the previous period's row.
    engine, execution, mode : str
    optimistic : bool
        True for ``execution="close"``.
    costs : CostModel
    events : tuple of dict
        ``no_affordable_shares`` (a sleeve whose cash no longer pays for an order; logged once, it stays flat),
        ``unfunded_entry`` (an entrant with an empty pool), ``spy_benchmark_omitted`` (SPY lacks a session of the
        span) and, backtrader only, ``broker_<status>`` (an order the broker refused; none is expected).
    """

    equity: pd.Series
    trades: pd.DataFrame
    fills: pd.DataFrame
    positions: pd.DataFrame
    turnover_value: pd.Series
    benchmarks: dict
    periods: pd.DataFrame
    engine: str
    execution: str
    mode: str
    optimistic: bool
    costs: CostModel
    events: tuple = field(default=(), repr=False)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """CSV-ready frames: ``equity`` (date, strategy, each benchmark), ``trades``, ``fills``, ``positions``,
        ``periods``. Every frame carries ``attrs`` execution / optimistic / engine.

        ``positions`` is long: one row (date, pair, shares) per pair and day with a non-zero holding, by date then
        in the order pairs first appeared. The wide table (a column per pair ever held) grows with days x pairs:
        15.9 MB, nearly all zeros, for 69 S&P weeks whose pairs number thousands.
        """
        eq = pd.DataFrame({"strategy": self.equity, **self.benchmarks})
        eq["turnover_value"] = self.turnover_value
        eq.index.name = "date"
        wide = self.positions
        if wide.shape[1]:
            values = wide.to_numpy(dtype="float64")
            day, col = np.nonzero(values)
            positions = pd.DataFrame(
                {"date": wide.index[day], "pair": wide.columns[col].astype(str), "shares": values[day, col]}
            )
        else:
            positions = pd.DataFrame(
                {
                    "date": pd.DatetimeIndex([]),
                    "pair": pd.Series([], dtype=str),
                    "shares": pd.Series([], dtype="float64"),
                }
            )
        out = {
            "equity": eq.reset_index(),
            "trades": self.trades.copy(),
            "fills": self.fills.copy(),
            "positions": positions,
            "periods": self.periods.copy(),
        }
        for df in out.values():
            df.attrs.update(engine=self.engine, execution=self.execution, optimistic=self.optimistic)
            if self.optimistic:
                df["optimistic"] = True
        return out
