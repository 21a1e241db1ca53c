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
    """Capital and the cost of one order: ``fixed + rate * |value|``, plus the symbol's half-spread.

    Attributes
    ----------
    capital : float
        Starting cash of the portfolio (USD).
    fixed : float
        USD per order.
    rate : float
        Fraction of the traded value per order (commission_pct + slippage + half-spread).
    spread, spread_unit, spread_by_symbol, pip_size_by_symbol
        ``[costs]`` spread keys (the tables as sorted ``(symbol, value)`` tuples). With a non-zero spread for a
        symbol, an order of ``q`` shares of it pays ``fixed + rate_s * |value| + unit_s * q``, where ``rate_s``
        adds the half-spread in bps (``spread_unit = "bps"``) and ``unit_s`` is the half-spread in price units
        (pips or price; :func:`volts.trading.spreads.half_spread_terms`). A symbol with no spread pays exactly
        ``fixed + rate * |value|``.
    pct, bps : float
        commission_pct and ``slippage_bps + half_spread_bps`` of the settings (``rate = pct + bps / 1e4``), kept
        so that a bps spread adds to them in the same float operations as ``half_spread_bps`` does.
    """

    capital: float
    fixed: float
    rate: float
    spread: float = 0.0
    spread_unit: str = "bps"
    spread_by_symbol: tuple = ()
    pip_size_by_symbol: tuple = ()
    pct: float = 0.0
    bps: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "_terms", {})  # symbol -> (rate, per unit), filled on first use

    @classmethod
    def from_settings(cls, settings, cost_bps: float | None = None) -> "CostModel":
        """The ``[costs]`` section; ``cost_bps`` replaces every cost (spreads included) by ``cost_bps`` bps per
        side, no fixed fee."""
        c = settings.costs
        if cost_bps is not None:
            if not (cost_bps >= 0) or not math.isfinite(cost_bps):
                raise ConfigError(f"cost_bps must be a finite number >= 0 (got {cost_bps!r})")
            return cls(capital=float(c.capital), fixed=0.0, rate=float(cost_bps) / 1e4)
        spread = float(getattr(c, "spread", 0.0))
        by_symbol = tuple(sorted((str(k), float(v)) for k, v in (getattr(c, "spread_by_symbol", None) or {}).items()))
        pips = tuple(sorted((str(k), float(v)) for k, v in (getattr(c, "pip_size_by_symbol", None) or {}).items()))
        pct, bps = float(c.commission_pct), float(c.slippage_bps) + float(c.half_spread_bps)
        if spread == 0.0 and not any(v for _, v in by_symbol):
            return cls(capital=float(c.capital), fixed=float(c.commission), rate=pct + bps / 1e4)
        return cls(
            capital=float(c.capital),
            fixed=float(c.commission),
            rate=pct + bps / 1e4,
            spread=spread,
            spread_unit=str(c.spread_unit),
            spread_by_symbol=by_symbol,
            pip_size_by_symbol=pips,
            pct=pct,
            bps=bps,
        )

    @property
    def has_spread(self) -> bool:
        """True when some symbol pays a spread on top of ``fixed + rate * value``."""
        return self.spread != 0.0 or any(v for _, v in self.spread_by_symbol)

    def terms(self, symbol: str | None) -> tuple[float, float]:
        """``(rate, price units per share)`` of an order in ``symbol``: ``(self.rate, 0.0)`` without a spread.

        Raises
        ------
        ConfigError
            A pip spread for a symbol without a pip size (:func:`volts.trading.spreads.half_spread_terms`).
        """
        if symbol is None or not self.has_spread:
            return self.rate, 0.0
        cache: dict = self._terms  # type: ignore[attr-defined]
        hit = cache.get(symbol)
        if hit is None:
            from volts.trading.spreads import half_spread_terms

            half_bps, unit = half_spread_terms(
                symbol,
                spread=self.spread,
                unit=self.spread_unit,
                spread_by_symbol=dict(self.spread_by_symbol),
                pip_size_by_symbol=dict(self.pip_size_by_symbol),
            )
            rate = self.pct + (self.bps + half_bps) / 1e4 if half_bps else self.rate
            hit = cache[symbol] = (rate, unit)
        return hit

    def check_symbols(self, symbols) -> None:
        """Refuse, before any work, a spread that cannot be priced for one of ``symbols`` (a pip spread for a
        symbol without a pip size): the :class:`ConfigError` of :meth:`terms`. Nothing to check without a spread."""
        if self.has_spread:
            for sym in symbols:
                self.terms(str(sym))

    def commission(self, value: float, shares: float = 0.0, symbol: str | None = None) -> float:
        """Cost of an order of absolute value ``value`` and ``shares`` shares (absolute) of ``symbol`` (0 for an
        empty order); without ``symbol`` or a spread: ``fixed + rate * value``."""
        if value <= 0:
            return 0.0
        rate, unit = self.terms(symbol)
        if rate == self.rate and unit == 0.0:
            return self.fixed + self.rate * value
        return self.fixed + rate * value + unit * abs(shares)

    def affordable(self, budget: float, price: float, symbol: str | None = None) -> float:
        """Shares whose price and cost use up ``budget`` exactly: ``budget / (price * (1 + rate) + unit)``."""
        rate, unit = self.terms(symbol)
        if rate == self.rate and unit == 0.0:
            return budget / (price * (1.0 + self.rate))
        return budget / (price * (1.0 + rate) + unit)

    def to_dict(self) -> dict:
        out = {"capital": self.capital, "fixed": self.fixed, "rate": self.rate, "rate_bps": self.rate * 1e4}
        if self.has_spread:
            out.update(
                spread=self.spread,
                spread_unit=self.spread_unit,
                spread_by_symbol=dict(self.spread_by_symbol),
                pip_size_by_symbol=dict(self.pip_size_by_symbol),
            )
        return out


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
