"""Backtest harness: the selected pairs and their buy-and-hold benchmarks in backtrader (METHOD.md §6-7).

Every run gets its own ``backtrader.Cerebro`` and its own starting ``capital``: one per pair strategy
(:class:`volts.trading.strategies.LeadLagTrend` on the leader and follower feeds) and one per pair for the follower's
buy-and-hold benchmark (:class:`volts.trading.strategies.BuyAndHold`). The strategy portfolio is the sum of the pair strategies'
equity, the benchmark portfolio the sum of the buy-and-holds.

Window and warm-up
------------------
Only the bars dated in [start, end] are traded and recorded. The leader's SMA needs history before ``start``:
each pair's feeds also carry ``warmup`` bars before the first day of the window (default ``ma_window + lag``,
never fewer), which serve only to compute the signal. With ``execution="next_open"`` the first order is sent at
the close of the last warm-up bar and fills at the open of the first day of the window, so the strategy is in the
market from the same open as the benchmark; the last orders are sent at the close of the second-to-last day of
the window. With ``execution="close"`` the first order is sent (and filled) at the close of the first day and the
last at the close of the second-to-last day: the first day is spent in cash. No order is sent at the close of the
last day (it would fill after the window). A position open at the end is marked to market at the last close.

Costs
-----
A fixed commission per order (``commission``, $9 in the paper) plus an optional percentage of the traded value
(``commission_pct``), both in :class:`FixedPlusPercentCommission`; slippage of ``slippage_bps`` basis points
against the trader on every fill (backtrader's ``set_slippage_perc`` with ``slip_open=True``; a slipped price is
capped at the bar's high/low, backtrader's default).

Cash control
------------
The broker does not pre-check orders at submission (``checksubmit=False``); instead :class:`CashCappedFiller`
fills an opening buy with at most the whole shares the cash covers at the actual fill price (commission included).
The strategy sizes at the decision close (see ``volts.trading.strategies.lead_lag_trend``); when the next open gaps up the fill
is one or a few shares smaller and the remainder is cancelled. Cash never goes negative; there is no leverage.
Short sales credit their proceeds to the cash (backtrader's ``shortcash``), with no margin requirement.

``execution="close"`` fills at the close of the decision bar (broker cheat-on-close): optimistic by construction;
every output then carries ``optimistic: true``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import backtrader as bt
import numpy as np
import pandas as pd

from volts.core.errors import DataError
from volts.core.pairs import check_history
from volts.data.market import MarketData
from volts.trading.metrics import PerformanceMetrics, compute_metrics
from volts.trading.round_trips import TRADE_COLUMNS, round_trips  # noqa: F401  (re-exported)
from volts.trading.signals import MODES
from volts.trading.strategies.buy_and_hold import BuyAndHold  # submodules: works even if the editable install maps
from volts.trading.strategies.lead_lag_trend import LeadLagTrend, affordable_shares  # 'strategies' as a namespace

__all__ = ["PairSpec", "PairRun", "BacktestResult", "FixedPlusPercentCommission", "CashCappedFiller",
           "simulate_pair", "simulate_buy_and_hold", "run_backtest", "round_trips", "EXECUTIONS",
           "PORTFOLIO", "BENCHMARK_PORTFOLIO"]

EXECUTIONS: tuple[str, ...] = ("next_open", "close")
PORTFOLIO = "portfolio"
BENCHMARK_PORTFOLIO = "buy & hold portfolio"


@dataclass(frozen=True)
class PairSpec:
    """An ordered pair to trade: the leader's trend decides the follower's position ``lag`` sessions later.

    Attributes
    ----------
    leader, follower : str
        Symbols of the market data.
    lag : int
        tau >= 1 in trading days (METHOD.md §5-6).
    """

    leader: str
    follower: str
    lag: int

    def __post_init__(self) -> None:
        if isinstance(self.lag, bool) or not isinstance(self.lag, (int, np.integer)) or self.lag < 1:
            raise ValueError(f"{self.leader}->{self.follower}: lag must be an integer >= 1 (got {self.lag!r})")
        if self.leader == self.follower:
            raise ValueError(f"{self.leader}->{self.follower}: leader and follower must differ")

    @property
    def name(self) -> str:
        """Run name of the pair strategy, e.g. ``"MU->QCOM (tau 2)"``."""
        return f"{self.leader}->{self.follower} (tau {self.lag})"


class FixedPlusPercentCommission(bt.CommInfoBase):
    """Commission per order = ``fixed`` + ``pct`` * |size| * price (stock-like asset, no margin).

    Parameters (backtrader ``params``)
    ----------------------------------
    fixed : float
        Money per order execution (the paper: $9).
    pct : float
        Fraction of the traded value (0.001 = 0.1 %).
    per_unit : float
        Price units per share traded (half a bid-ask spread stated in pips or price, volts.trading.spreads).
    """

    params = (("fixed", 9.0), ("pct", 0.0), ("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED),
              ("percabs", True), ("per_unit", 0.0))

    def _getcommission(self, size, price, pseudoexec):
        if size == 0:
            return 0.0
        if self.p.per_unit:
            return float(self.p.fixed) + float(self.p.pct) * abs(size) * price + float(self.p.per_unit) * abs(size)
        return float(self.p.fixed) + float(self.p.pct) * abs(size) * price


class CashCappedFiller:
    """backtrader broker filler: an opening buy fills at most the whole shares the cash covers at the fill price.

    Orders tagged ``role="open"`` that buy are capped to ``affordable_shares(cash, fill price)``; every other order
    (closing orders, short sales) fills in full. What is not filled stays on the order and the strategy cancels it
    before the next bar.
    """

    def __init__(self, broker: bt.BrokerBase) -> None:
        self.broker = broker

    def __call__(self, order: bt.Order, price: float, ago: int) -> float:
        remaining = abs(order.executed.remsize)
        if order.info.get("role") != "open" or not order.isbuy():
            return remaining
        comminfo = self.broker.getcommissioninfo(order.data)
        return min(remaining, affordable_shares(float(self.broker.getcash()), float(price), comminfo))


@dataclass(frozen=True, eq=False)
class PairRun:
    """Records of one backtrader run (a pair strategy or a buy-and-hold).

    Attributes
    ----------
    name : str
        Run name.
    equity : pandas.Series, shape (n_days,)
        Value at each close of the window (quote currency).
    shares : pandas.Series of int, shape (n_days,)
        Signed shares of the traded symbol held during each day's session.
    targets : pandas.Series of int
        Target sign decided at each decision close (pair strategies only; empty for benchmarks).
    orders, fills : pandas.DataFrame
        Every order created (created, ref, role, side, size) and every execution (date, ref, role, size signed,
        price, commission).
    trades : pandas.DataFrame
        Round trips, columns ``TRADE_COLUMNS``.
    events : tuple of dict
        Cancelled remainders, unaffordable entries, broker refusals.
    analysis : dict
        ``get_analysis()`` of the analyzers that were asked for.
    capital : float
        Starting cash.
    """

    name: str
    equity: pd.Series
    shares: pd.Series
    targets: pd.Series
    orders: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    events: tuple
    analysis: dict
    capital: float


# --------------------------------------------------------------------------------------------------- helpers
def _feed(bars: pd.DataFrame, name: str) -> bt.feeds.PandasData:
    df = bars[["open", "high", "low", "close", "volume"]].astype(float).copy()
    df.index = pd.DatetimeIndex(df.index)
    return bt.feeds.PandasData(dataname=df, name=name, openinterest=None)


def _cerebro(*, capital: float, commission: float, commission_pct: float, slippage_bps: float,
             coc: bool = False, coo: bool = False) -> bt.Cerebro:
    if not (capital > 0):
        raise ValueError(f"capital must be > 0 (got {capital!r})")
    if commission < 0 or commission_pct < 0 or slippage_bps < 0:
        raise ValueError("commission, commission_pct and slippage_bps must be >= 0")
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=coo, maxcpus=1)
    broker = cerebro.broker
    broker.setcash(float(capital))
    broker.addcommissioninfo(FixedPlusPercentCommission(fixed=float(commission), pct=float(commission_pct)))
    if slippage_bps:
        broker.set_slippage_perc(slippage_bps / 1e4, slip_open=True, slip_limit=True, slip_match=True,
                                 slip_out=False)
    broker.set_coc(bool(coc))
    broker.set_checksubmit(False)
    broker.set_filler(CashCappedFiller(broker))
    return cerebro


def _to_date(x) -> dt.date:
    return pd.Timestamp(x).date()


def _window_dates(index: pd.DatetimeIndex, start, end, what: str) -> pd.DatetimeIndex:
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    if s > e:
        raise ValueError(f"start {s.date()} is after end {e.date()}")
    win = index[(index >= s) & (index <= e)]
    if len(win) == 0:
        span = f"{index[0].date()} .. {index[-1].date()}" if len(index) else "empty"
        raise DataError(f"{what}: no bars between {s.date()} and {e.date()} (data span {span})")
    return win


def _frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=columns)
    for c in columns:
        if c in ("created", "date") and len(df):
            df[c] = pd.to_datetime(df[c])
    return df


def _collect(strat, *, name: str, window: pd.DatetimeIndex, last_price: float, capital: float,
             analyzers: Mapping[str, Any] | None) -> PairRun:
    days = [d.date() for d in window]
    missing = [d for d in days if d not in strat.equity]
    if missing:  # pragma: no cover - a harness bug, not a data condition
        raise RuntimeError(f"{name}: no equity recorded for {missing[0]}")
    equity = pd.Series([strat.equity[d] for d in days], index=window, name=name, dtype="float64")
    shares = pd.Series([strat.held.get(d, 0) for d in days], index=window, name=name, dtype="int64")
    targets_src = getattr(strat, "targets", {})
    targets = pd.Series({pd.Timestamp(k): v for k, v in targets_src.items()}, dtype="int64", name=name)
    orders = _frame(strat.order_log, ["created", "ref", "role", "side", "size"])
    fills = _frame(strat.fills, ["date", "ref", "role", "size", "price", "commission"])
    trades = round_trips(fills, run=name, last_date=window[-1], last_price=last_price)
    analysis = {}
    for key in (analyzers or {}):
        analysis[key] = strat.analyzers.getbyname(key).get_analysis()
    return PairRun(name=name, equity=equity, shares=shares, targets=targets, orders=orders, fills=fills,
                   trades=trades, events=tuple(strat.events), analysis=analysis, capital=float(capital))


def _add_analyzers(cerebro: bt.Cerebro, analyzers: Mapping[str, Any] | None) -> None:
    for key, spec in (analyzers or {}).items():
        if isinstance(spec, tuple):
            cls, kwargs = spec
        else:
            cls, kwargs = spec, {}
        cerebro.addanalyzer(cls, _name=key, **kwargs)


# ----------------------------------------------------------------------------------------------- single runs
def simulate_pair(leader_bars: pd.DataFrame, follower_bars: pd.DataFrame, *, lag: int, start, end,
                  capital: float = 1000.0, commission: float = 9.0, commission_pct: float = 0.0,
                  slippage_bps: float = 0.0, ma_window: int = 20, mode: str = "long_short",
                  execution: str = "next_open", name: str | None = None,
                  target_fn: Callable[[pd.Series], int] | None = None,
                  analyzers: Mapping[str, Any] | None = None) -> PairRun:
    """Run :class:`volts.trading.strategies.LeadLagTrend` on one pair in its own cerebro.

    Parameters
    ----------
    leader_bars, follower_bars : pandas.DataFrame, shape (n_bars, 5)
        Columns open, high, low, close, volume on the same ascending ``DatetimeIndex``; they may start before
        ``start`` (warm-up bars, used only for the signal). Bars after ``end`` are ignored.
    lag : int
        tau >= 1.
    start, end : date-like
        Test window, both inclusive.
    capital, commission, commission_pct, slippage_bps
        Starting cash ($), fixed commission per order ($), percentage commission (fraction of traded value) and
        slippage (basis points).
    ma_window, mode
        Signal parameters (:func:`volts.trading.signals.trend_signal`).
    execution : {"next_open", "close"}
        Fill at the next open (default) or at the decision close (optimistic).
    name : str or None
        Run name (default ``"pair"``).
    target_fn : callable or None
        Replaces ``volts.trading.signals.next_session_target`` (tests only; see ``LeadLagTrend``).
    analyzers : mapping or None
        ``{name: AnalyzerClass}`` or ``{name: (AnalyzerClass, kwargs)}`` added to the cerebro; their analyses are
        returned in ``PairRun.analysis``.

    Returns
    -------
    PairRun

    Raises
    ------
    DataError
        No bar in the window, misaligned feeds, or (next_open) no bar before ``start`` to send the first order.
    ValueError
        Bad parameter values.
    """
    if execution not in EXECUTIONS:
        raise ValueError(f"execution must be one of {EXECUTIONS} (got {execution!r})")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 1:
        raise ValueError(f"lag must be an integer >= 1 (got {lag!r})")
    if not leader_bars.index.equals(follower_bars.index):
        raise DataError("leader and follower bars are not on the same dates")
    end_ts = pd.Timestamp(end)
    leader_bars = leader_bars.loc[:end_ts]
    follower_bars = follower_bars.loc[:end_ts]
    name = name or "pair"
    window = _window_dates(follower_bars.index, start, end, name)
    first = follower_bars.index.get_loc(window[0])
    last = follower_bars.index.get_loc(window[-1])
    if execution == "next_open":
        # decisions at the closes of the bars before each window day: the fills land on window days only
        if first == 0:
            raise DataError(f"{name}: no bar before {window[0].date()} at whose close the first order could be "
                            "sent (execution next_open needs at least one warm-up bar)")
        trade_from = follower_bars.index[first - 1].date()
        trade_until = follower_bars.index[last - 1].date()
    else:
        # decisions (and fills) at the closes of the window days but the last
        trade_from = window[0].date()
        trade_until = window[-2].date() if len(window) > 1 else dt.date.min
    cerebro = _cerebro(capital=capital, commission=commission, commission_pct=commission_pct,
                       slippage_bps=slippage_bps, coc=(execution == "close"))
    cerebro.adddata(_feed(leader_bars, "leader"))
    cerebro.adddata(_feed(follower_bars, "follower"))
    cerebro.addstrategy(LeadLagTrend, lag=int(lag), ma_window=int(ma_window), mode=mode, execution=execution,
                        trade_from=trade_from, trade_until=trade_until, record_from=window[0].date(),
                        target_fn=target_fn)
    _add_analyzers(cerebro, analyzers)
    strat = cerebro.run(runonce=False)[0]
    return _collect(strat, name=name, window=window, last_price=float(follower_bars["close"].iloc[-1]),
                    capital=capital, analyzers=analyzers)


def simulate_buy_and_hold(bars: pd.DataFrame, *, start, end, capital: float = 1000.0, commission: float = 9.0,
                          commission_pct: float = 0.0, slippage_bps: float = 0.0, name: str | None = None,
                          analyzers: Mapping[str, Any] | None = None) -> PairRun:
    """Run :class:`volts.trading.strategies.BuyAndHold` on one symbol in its own cerebro (``cheat_on_open=True``).

    Buys with all the cash at the open of the first day of [start, end] and holds to the end (marked to market
    at the last close). Parameters as :func:`simulate_pair`; ``bars`` may start before ``start``.

    Returns
    -------
    PairRun

    Raises
    ------
    DataError
        No bar in the window.
    """
    end_ts = pd.Timestamp(end)
    bars = bars.loc[:end_ts]
    name = name or "buy & hold"
    window = _window_dates(bars.index, start, end, name)
    bars = bars.loc[window[0]:]
    cerebro = _cerebro(capital=capital, commission=commission, commission_pct=commission_pct,
                       slippage_bps=slippage_bps, coo=True)
    cerebro.adddata(_feed(bars, "asset"))
    cerebro.addstrategy(BuyAndHold, buy_from=window[0].date(), record_from=window[0].date())
    _add_analyzers(cerebro, analyzers)
    strat = cerebro.run(runonce=False)[0]
    return _collect(strat, name=name, window=window, last_price=float(bars["close"].iloc[-1]), capital=capital,
                    analyzers=analyzers)


# ---------------------------------------------------------------------------------------------------- result
def _json_float(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _json_value(v):
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.date().isoformat() if isinstance(v, pd.Timestamp) else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _json_float(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Outcome of :func:`run_backtest`.

    Attributes
    ----------
    pairs : tuple of PairSpec
    start, end : datetime.date
        Requested window; ``equity.index`` holds the trading days actually in it.
    execution : {"next_open", "close"}
    optimistic : bool
        True for ``execution="close"`` (fills at the decision close).
    equity : pandas.DataFrame, shape (n_days, n_runs)
        Value at each close, columns = pair strategies (``PairSpec.name``), benchmarks (``"QCOM buy & hold"``),
        ``"portfolio"`` (sum of the pair strategies) and ``"buy & hold portfolio"`` (sum of the benchmarks).
    trades : pandas.DataFrame
        Round trips of every run (column ``run``), see :func:`round_trips`.
    positions : pandas.DataFrame of int, shape (n_days, n_pairs)
        Sign of the follower position held during each day's session, per pair strategy (parity with
        ``volts.trading.signals.follower_positions`` / the live ``volts signal``).
    shares : pandas.DataFrame of int, shape (n_days, n_pairs + n_benchmarks)
        Signed shares held during each session, per run.
    orders : pandas.DataFrame
        Every order created, with its run.
    metrics : dict of str -> PerformanceMetrics
        Per run name (strategies, benchmarks and both portfolios).
    strategy_names, benchmark_names, portfolio_names : tuple of str
        Run names by kind, in order.
    params : dict
        capital, commission, commission_pct, slippage_bps, ma_window, mode, warmup, risk_free, periods_per_year.
    runs : dict of str -> PairRun
        The raw records of every backtrader run.
    """

    pairs: tuple
    start: dt.date
    end: dt.date
    execution: str
    optimistic: bool
    equity: pd.DataFrame
    trades: pd.DataFrame
    positions: pd.DataFrame
    shares: pd.DataFrame
    orders: pd.DataFrame
    metrics: dict
    strategy_names: tuple
    benchmark_names: tuple
    portfolio_names: tuple
    params: dict
    runs: dict = field(repr=False)

    def _row(self, name: str) -> dict:
        row = self.metrics[name].to_dict()
        for k, v in list(row.items()):
            row[k] = _json_value(v)
        if name in self.strategy_names:
            p = self.pairs[self.strategy_names.index(name)]
            row.update(kind="strategy", leader=p.leader, follower=p.follower, lag=int(p.lag))
        elif name in self.benchmark_names:
            p = self.pairs[self.benchmark_names.index(name)]
            row.update(kind="benchmark", follower=p.follower, pair=p.name)
        else:
            members = self.strategy_names if name == PORTFOLIO else self.benchmark_names
            row.update(kind="portfolio", members=list(members))
        row["optimistic"] = bool(self.optimistic)  # the flag of the whole comparison, on every row
        return row

    def window(self) -> dict:
        """Requested window and the trading days in it (ISO dates)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "first_day": self.equity.index[0].date().isoformat(),
                "last_day": self.equity.index[-1].date().isoformat(), "days": int(len(self.equity))}

    def metrics_dict(self) -> dict:
        """Content of ``metrics.json``: ``strategies``, ``benchmarks``, ``portfolio`` rows (name, trades, win_rate,
        total_return, final_equity, sharpe, sortino, max_drawdown, calmar, ... as fractions, None where
        undefined), plus ``execution``, ``optimistic``, ``window`` and the cost/signal ``params``."""
        return {
            "strategies": [self._row(n) for n in self.strategy_names],
            "benchmarks": [self._row(n) for n in self.benchmark_names],
            "portfolio": [self._row(n) for n in self.portfolio_names],
            "execution": self.execution,
            "optimistic": bool(self.optimistic),
            "window": self.window(),
            "params": {k: _json_value(v) for k, v in self.params.items()},
        }

    def to_dict(self) -> dict:
        """Everything as JSON-ready plain Python: the metrics, the daily equity and positions, trades, orders."""
        out = self.metrics_dict()
        out["pairs"] = [{"leader": p.leader, "follower": p.follower, "lag": int(p.lag), "name": p.name}
                        for p in self.pairs]
        out["equity"] = {"dates": [d.date().isoformat() for d in self.equity.index],
                         **{c: [_json_float(v) for v in self.equity[c]] for c in self.equity.columns}}
        out["positions"] = {"dates": [d.date().isoformat() for d in self.positions.index],
                            **{c: [int(v) for v in self.positions[c]] for c in self.positions.columns}}
        out["trades"] = _records(self.trades)
        out["orders"] = _records(self.orders)
        return out

    def summary(self) -> pd.DataFrame:
        """One row per run: the paper's table columns (trades, win rate, total return, final equity, Sharpe,
        Sortino, max drawdown, Calmar), fractions."""
        names = list(self.strategy_names) + list(self.benchmark_names) + list(self.portfolio_names)
        cols = ["trades", "win_rate", "total_return", "final_equity", "sharpe", "sortino", "max_drawdown",
                "calmar"]
        return pd.DataFrame([[getattr(self.metrics[n], c) for c in cols] for n in names],
                            index=pd.Index(names, name="run"), columns=cols)

    def plot(self, path) -> str:
        """Equity and drawdown figure; returns the path.

        Deprecated (goes in volts 0.4): call :func:`volts.reporting.figures.backtest.plot_equity` ``(result,
        path)``; the trading layer does not import the reporting layer.
        """
        import importlib

        from volts._compat import warn_moved

        warn_moved("BacktestResult.plot", "volts.reporting.figures.backtest.plot_equity")
        return importlib.import_module("volts.reporting.figures.backtest").plot_equity(self, path)


# ------------------------------------------------------------------------------------------------ harness
def run_backtest(market: MarketData, pairs: Sequence[PairSpec], *, start, end, capital: float = 1000.0,
                 commission: float = 9.0, commission_pct: float = 0.0, slippage_bps: float = 0.0,
                 ma_window: int = 20, mode: str = "long_short", execution: str = "next_open",
                 warmup: int | None = None, risk_free: float = 0.0,
                 periods_per_year: int = 252) -> BacktestResult:
    """Backtest each pair's trend strategy and the follower's buy-and-hold over [start, end] (METHOD.md §6-7).

    Parameters
    ----------
    market : MarketData
        Daily bars of (at least) every leader and follower, starting early enough for the warm-up.
    pairs : sequence of PairSpec
        The pairs to trade (distinct).
    start, end : date-like
        Test window, both inclusive (paper: 2023-06-08 .. 2023-08-12).
    capital : float, default 1000.0
        Starting cash of every run ($; the paper's $1,000 per pair).
    commission : float, default 9.0
        Fixed commission per order ($).
    commission_pct : float, default 0.0
        Percentage commission, fraction of the traded value.
    slippage_bps : float, default 0.0
        Slippage against the trader on every fill, basis points.
    ma_window : int, default 20
        SMA length of the leader's trend signal.
    mode : {"long_short", "long_only"}, default "long_short"
    execution : {"next_open", "close"}, default "next_open"
        ``"close"`` is optimistic (fills at the decision close) and flags every output ``optimistic``.
    warmup : int or None
        Bars before ``start`` fed to each pair strategy for the SMA; default ``ma_window + lag`` (the minimum
        accepted). Results do not depend on it beyond that minimum.
    risk_free : float, default 0.0
        Annual risk-free rate for Sharpe/Sortino (fraction).
    periods_per_year : int, default 252

    Returns
    -------
    BacktestResult

    Raises
    ------
    DataError
        A symbol is missing, the window holds no bar, or there are fewer than the warm-up bars before ``start``.
    ValueError
        No pair, duplicate pairs, or bad parameter values.

    Notes
    -----
    Source: METHOD.md §6-7, the paper's §2.3-2.4 and §4.2. One backtrader Cerebro per run.
    """
    pairs = tuple(pairs)
    if not pairs:
        raise ValueError("run_backtest needs at least one pair")
    for p in pairs:
        if not isinstance(p, PairSpec):
            raise ValueError(f"pairs must be PairSpec instances (got {p!r})")
    if len({p.name for p in pairs}) != len(pairs):
        raise ValueError("duplicate pairs in run_backtest")
    if execution not in EXECUTIONS:
        raise ValueError(f"execution must be one of {EXECUTIONS} (got {execution!r})")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    if isinstance(ma_window, bool) or not isinstance(ma_window, (int, np.integer)) or ma_window < 1:
        raise ValueError(f"ma_window must be an integer >= 1 (got {ma_window!r})")
    symbols = list(dict.fromkeys(s for p in pairs for s in (p.leader, p.follower)))
    market = market.select(symbols)
    window = _window_dates(market.dates, start, end, "market data")
    first = market.dates.get_loc(window[0])
    start_d, end_d = _to_date(start), _to_date(end)
    costs = dict(capital=float(capital), commission=float(commission), commission_pct=float(commission_pct),
                 slippage_bps=float(slippage_bps))

    runs: dict[str, PairRun] = {}
    strategy_names, benchmark_names = [], []
    for p in pairs:
        need = int(ma_window) + int(p.lag)
        warm = need if warmup is None else int(warmup)
        if warm < need:
            raise ValueError(f"{p.name}: warmup {warm} is below ma_window + lag = {need} bars")
        # the same history check as `volts signal` (volts.core.pairs); the backtest asks one bar more
        check_history(f"{p.leader}->{p.follower}", lag=int(p.lag), ma_window=int(ma_window), have=first,
                      need=warm, when=f"before {window[0].date()}", data_start=market.dates[0].date())
        lo = first - warm
        leader = market.bars(p.leader).iloc[lo:]
        follower = market.bars(p.follower).iloc[lo:]
        runs[p.name] = simulate_pair(leader, follower, lag=int(p.lag), start=start, end=end, ma_window=ma_window,
                                     mode=mode, execution=execution, name=p.name, **costs)
        strategy_names.append(p.name)
        bname = f"{p.follower} buy & hold"
        if bname in benchmark_names:
            bname = f"{p.follower} buy & hold ({p.name})"
        runs[bname] = simulate_buy_and_hold(market.bars(p.follower), start=start, end=end, name=bname, **costs)
        benchmark_names.append(bname)

    equity = pd.DataFrame({n: runs[n].equity for n in strategy_names + benchmark_names}, index=window)
    equity[PORTFOLIO] = equity[strategy_names].sum(axis=1)
    equity[BENCHMARK_PORTFOLIO] = equity[benchmark_names].sum(axis=1)
    equity.index.name = "date"
    trades = pd.concat([runs[n].trades for n in strategy_names + benchmark_names], ignore_index=True)
    shares = pd.DataFrame({n: runs[n].shares for n in strategy_names + benchmark_names}, index=window)
    shares.index.name = "date"
    positions = np.sign(shares[strategy_names]).astype("int64")
    orders = pd.concat([runs[n].orders.assign(run=n) for n in strategy_names + benchmark_names],
                       ignore_index=True)

    metrics: dict[str, PerformanceMetrics] = {}
    mkw = dict(risk_free=risk_free, periods_per_year=periods_per_year)
    for n in strategy_names + benchmark_names:
        metrics[n] = compute_metrics(equity[n], runs[n].trades, capital=capital, name=n, **mkw)
    metrics[PORTFOLIO] = compute_metrics(
        equity[PORTFOLIO], trades[trades["run"].isin(strategy_names)], capital=capital * len(strategy_names),
        name=PORTFOLIO, **mkw)
    metrics[BENCHMARK_PORTFOLIO] = compute_metrics(
        equity[BENCHMARK_PORTFOLIO], trades[trades["run"].isin(benchmark_names)],
        capital=capital * len(benchmark_names), name=BENCHMARK_PORTFOLIO, **mkw)

    for frame in (equity, trades, positions, shares, orders):
        frame.attrs.update(execution=execution, optimistic=(execution == "close"))
    params = dict(costs, ma_window=int(ma_window), mode=mode, warmup=warmup, risk_free=float(risk_free),
                  periods_per_year=int(periods_per_year))
    return BacktestResult(
        pairs=pairs, start=start_d, end=end_d, execution=execution, optimistic=(execution == "close"),
        equity=equity, trades=trades, positions=positions, shares=shares, orders=orders, metrics=metrics,
        strategy_names=tuple(strategy_names), benchmark_names=tuple(benchmark_names),
        portfolio_names=(PORTFOLIO, BENCHMARK_PORTFOLIO), params=params, runs=runs)
