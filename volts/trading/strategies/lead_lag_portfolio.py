"""``lead_lag_portfolio``: the "global" lead-lag portfolio of seed 004 (Algorithm 1), leak-free, vectorised.

Cartea, Cucuringu & Jin (2024), Sect. 3-4 (seed 004; LITERATURE.md 004.1-004.6). At the close of every session t:

1. Eligible names: members of the universe on t (``universe`` mask) with a return on each of the last
   ``lookback`` sessions and on the ``standardise_window`` sessions before them (seed 004: no missing return in
   the previous 60 days).
2. Every eligible return is z-scored over the trailing ``standardise_window`` sessions ending on its own day
   (inclusive, sample std ddof = 1 -- the paper leaves both open); the scores use z-scores, the P&L raw returns.
3. The skew-symmetric lead-lag matrix of the last ``lookback`` z-scored days (default: the Levy area with the
   returns as the path started at 0, :func:`volts.selection.leadlag.levy_area_returns` -- the screen's convention; any
   metric of :func:`volts.selection.leadlag.lead_lag_matrix`)
   ranks the names by their row mean (S_ij > 0 <=> i leads j): the top ``leaders`` share are the leaders, the
   bottom ``followers`` share the followers (floor, at least one each).
4. The signal ``s_t = +1`` if the equal-weighted raw return of the leaders *on t* is >= 0, else -1.
5. Position from t on: ``s_t`` in the followers (equal weights, 1/n each), ``-s_t`` in SPY ("financed with SPY").

Every input of the decision at t is known at the close of t; nothing of t+1 enters (the leak-free reading of
Algorithm 1, LITERATURE.md 004.4 and C.9). Execution:

* ``"next_open"`` (default, volts' rule): the position is entered at the open of t+1 and held to the open of t+2;
  its return, open-to-open on dividend-adjusted opens, is booked on t+2 (the session whose open realises it).
* ``"close"`` (the paper's closing-auction convention, **optimistic**: it trades at the same close that produced
  the signal): close-to-close return of t+1, booked on t+1. Every output carries ``optimistic = True`` then.

Turnover and costs (seed 004 eq. 7): with the book ``d_t`` (followers s_t/n each, SPY -s_t),
``TVR_t = sum |d_t - d_{t-1}| / sum |d_{t-1}|`` (a sign flip gives 2, replacing a share q of followers gives q;
the first day from cash counts 1); net return = gross - c TVR with c = ``cost_bps`` / 1e4 per unit of TVR.
Break-even cost c* = mean gross / mean TVR.

A follower without a return on the booking day (no bar) contributes 0 that day (counted in ``missing``); it is
never dropped after the fact, which would look ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from volts.core.errors import ConfigError
from volts.core.registry import STRATEGIES
from volts.selection.leadlag import lead_lag_matrix, levy_area_returns

__all__ = ["LeadLagPortfolioParams", "LeadLagPortfolioResult", "lead_lag_portfolio", "portfolio_stats",
           "returns_from_prices"]


@dataclass(frozen=True)
class LeadLagPortfolioParams:
    """Settings of :func:`lead_lag_portfolio` (seed 004 defaults)."""

    lookback: int = 60
    standardise_window: int = 30
    leaders: float = 0.2
    followers: float = 0.2
    score: str = "levy_area"
    execution: Literal["next_open", "close"] = "next_open"
    cost_bps: float = 0.0
    min_names: int = 10

    def __post_init__(self) -> None:
        if self.lookback < 3 or self.standardise_window < 3:
            raise ValueError("lookback and standardise_window must be >= 3 sessions")
        if not (0 < self.leaders < 1 and 0 < self.followers < 1 and self.leaders + self.followers <= 1):
            raise ValueError("leaders and followers are shares in (0, 1) with leaders + followers <= 1")
        if self.execution not in ("next_open", "close"):
            raise ValueError(f"execution must be 'next_open' or 'close', got {self.execution!r}")
        if self.cost_bps < 0:
            raise ValueError("cost_bps must be >= 0")


@dataclass
class LeadLagPortfolioResult:
    """Daily output of :func:`lead_lag_portfolio`.

    Attributes
    ----------
    daily : pandas.DataFrame
        Indexed by booking date: ``decision_date``, ``signal`` (+1/-1; 0 = cash), ``gross``, ``turnover`` (TVR),
        ``net``, ``n_eligible``, ``n_followers``, ``missing`` (followers without a bar), ``cash_reason`` (why the
        book is flat that day; "" when invested), ``orders`` (book entries whose weight changes, SPY included),
        ``optimistic``. Simple returns per unit of capital (one leg's notional).
    followers, leaders : dict[pandas.Timestamp, tuple[str, ...]]
        By decision date.
    params : LeadLagPortfolioParams
    """

    daily: pd.DataFrame
    followers: dict = field(default_factory=dict)
    leaders: dict = field(default_factory=dict)
    params: LeadLagPortfolioParams = LeadLagPortfolioParams()

    @property
    def optimistic(self) -> bool:
        return self.params.execution == "close"

    def net(self, cost_bps: float) -> pd.Series:
        """Net daily returns at another cost (no recomputation of the decisions)."""
        return self.daily["gross"] - cost_bps / 1e4 * self.daily["turnover"]


def returns_from_prices(close: pd.DataFrame, adj_close: pd.DataFrame | None = None,
                        open_: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Close-to-close and open-to-open simple returns (dividend-adjusted when ``adj_close`` is given).

    ``oo[t] = O_adj[t+1] / O_adj[t] - 1`` is the return of a position entered at the open of t and left at the
    open of t+1, labelled t (its entry session). Adjusted open = open x adj_close / close of the same row.
    NaN where a bar is missing.

    Raises
    ------
    ValueError
        ``adj_close`` or ``open_`` has other columns or another index than ``close`` (pandas would align them by
        label and return NaN everywhere, e.g. an ``"open"`` column against a ``"close"`` column).
    """
    for name, other in (("adj_close", adj_close), ("open_", open_)):
        if other is not None and not (other.columns.equals(close.columns) and other.index.equals(close.index)):
            raise ValueError(f"returns_from_prices: {name} must have the same columns and index as close "
                             f"(got columns {list(other.columns)[:5]} vs {list(close.columns)[:5]}); "
                             f"name both frames' columns by symbol")
    adj = close if adj_close is None else adj_close
    cc = adj / adj.shift(1) - 1.0
    oo = None
    if open_ is not None:
        o = open_ * (adj / close)
        oo = o.shift(-1) / o - 1.0
    return cc, oo


def _standardised(returns: pd.DataFrame, window: int) -> pd.DataFrame:
    roll = returns.rolling(window, min_periods=window)
    sd = roll.std(ddof=1)
    return (returns - roll.mean()) / sd.where(sd > 0)


def lead_lag_portfolio(returns: pd.DataFrame, market: pd.Series, *, open_returns: pd.DataFrame | None = None,
                       market_open_returns: pd.Series | None = None, universe: pd.DataFrame | None = None,
                       params: LeadLagPortfolioParams = LeadLagPortfolioParams(),
                       start=None, end=None) -> LeadLagPortfolioResult:
    """Run the seed-004 global lead-lag portfolio (see the module docstring).

    Parameters
    ----------
    returns : pandas.DataFrame, shape (T, N)
        Close-to-close simple returns of the stocks (dividend-adjusted), NaN where a stock has no bar.
    market : pandas.Series, shape (T,)
        Close-to-close simple returns of the financing leg (SPY), same index.
    open_returns, market_open_returns : optional
        Open-to-open returns labelled by their entry session (:func:`returns_from_prices`); required for
        ``execution = "next_open"``.
    universe : pandas.DataFrame of bool, optional
        Point-in-time membership (same shape); default: every column on every day.
    params : LeadLagPortfolioParams
    start, end : date-like, optional
        First and last *decision* dates.

    Returns
    -------
    LeadLagPortfolioResult

    Raises
    ------
    ValueError
        Misaligned inputs, or ``next_open`` without open-to-open returns.
    """
    p = params
    if not returns.index.equals(market.index):
        raise ValueError("returns and market must share the same index of sessions")
    if p.execution == "next_open" and (open_returns is None or market_open_returns is None):
        raise ValueError("execution 'next_open' needs open_returns and market_open_returns "
                         "(see returns_from_prices); or use execution 'close' (optimistic)")
    z = _standardised(returns, p.standardise_window)
    valid = returns.notna() & z.notna()
    run = valid.astype(int).rolling(p.lookback, min_periods=p.lookback).sum().eq(p.lookback)
    if universe is not None:
        run &= universe.reindex(index=returns.index, columns=returns.columns).fillna(False).astype(bool)
    if p.execution == "close":
        book_ret, book_mkt, shift = returns, market, 1
    else:
        book_ret, book_mkt, shift = open_returns, market_open_returns, 1
    dates = returns.index
    zv, rv, bv, mv = z.to_numpy(), returns.to_numpy(), book_ret.to_numpy(), book_mkt.to_numpy()
    cols = np.asarray(returns.columns)
    lo = p.lookback + p.standardise_window - 1
    first = max(lo, dates.searchsorted(pd.Timestamp(start)) if start is not None else 0)
    last = len(dates) - 2 if end is None else min(len(dates) - 2, dates.searchsorted(pd.Timestamp(end), "right") - 1)
    rows, followers, leaders = [], {}, {}
    prev: dict[str, float] = {}
    for t in range(first, last + 1):
        elig = np.flatnonzero(run.iloc[t].to_numpy())
        book_t = t + shift  # the session whose return the position earns (its entry session for next_open)
        booked = dates[book_t] if p.execution == "close" else (dates[book_t + 1] if book_t + 1 < len(dates) else None)
        if booked is None:
            break
        row = {"date": booked, "decision_date": dates[t], "n_eligible": len(elig)}
        if len(elig) < p.min_names or not np.isfinite(mv[book_t]):
            d: dict[str, float] = {}
            reason = (f"{len(elig)} eligible names < min_names {p.min_names}" if len(elig) < p.min_names else
                      "no financing-leg (SPY) return for the booked session")
            row.update(signal=0, gross=0.0, n_followers=0, missing=0, cash_reason=reason)
        else:
            window = zv[t - p.lookback + 1:t + 1, elig]
            s = (levy_area_returns(window, standardised=True) if p.score == "levy_area"
                 else lead_lag_matrix(window, p.score))
            order = np.argsort(-s.mean(axis=1), kind="stable")
            n_l = max(1, int(np.floor(p.leaders * len(elig))))
            n_f = max(1, int(np.floor(p.followers * len(elig))))
            lead_idx, foll_idx = elig[order[:n_l]], elig[order[-n_f:]]
            sig = 1 if np.nanmean(rv[t, lead_idx]) >= 0 else -1
            fr = bv[book_t, foll_idx]
            missing = int(np.isnan(fr).sum())
            gross = sig * (np.nansum(fr) / n_f - mv[book_t])
            d = {str(c): sig / n_f for c in cols[foll_idx]}
            d["__market__"] = -float(sig)
            followers[dates[t]] = tuple(str(c) for c in cols[foll_idx])
            leaders[dates[t]] = tuple(str(c) for c in cols[lead_idx])
            row.update(signal=sig, gross=float(gross), n_followers=n_f, missing=missing, cash_reason="")
        keys = set(d) | set(prev)
        change = sum(abs(d.get(k, 0.0) - prev.get(k, 0.0)) for k in keys)
        row["orders"] = sum(1 for k in keys if d.get(k, 0.0) != prev.get(k, 0.0))
        base = sum(abs(v) for v in prev.values())
        row["turnover"] = change / base if base > 0 else (1.0 if d else 0.0)
        prev = d
        rows.append(row)
    daily = pd.DataFrame(rows).set_index("date") if rows else pd.DataFrame(
        columns=["decision_date", "n_eligible", "signal", "gross", "n_followers", "missing", "cash_reason",
                 "orders", "turnover"])
    daily["net"] = daily["gross"] - p.cost_bps / 1e4 * daily["turnover"]
    daily["optimistic"] = p.execution == "close"
    return LeadLagPortfolioResult(daily=daily, followers=followers, leaders=leaders, params=p)


def portfolio_stats(daily_returns: pd.Series, turnover: pd.Series | None = None,
                    periods_per_year: int = 252) -> dict:
    """Seed 004's table metrics (LITERATURE.md 004.6, checked there against its Table 1).

    ``return_bps`` = mean daily return x 1e4; ``daily_vol_pct``; ``sharpe`` = mean / std x sqrt(252) (no
    risk-free); ``compound_return_pct`` = (1 + mean)^252 - 1; ``max_drawdown_pct`` of the compounded equity;
    ``mean_turnover`` and ``break_even_bps`` = mean / mean TVR x 1e4 when ``turnover`` is given.
    """
    r = pd.Series(daily_returns, dtype=float).dropna()
    mean, sd = float(r.mean()), float(r.std(ddof=1))
    eq = (1 + r).cumprod()
    dd = float((1 - eq / eq.cummax()).max()) if len(eq) else float("nan")
    out = {"days": int(len(r)), "return_bps": mean * 1e4, "daily_vol_pct": sd * 100,
           "sharpe": mean / sd * np.sqrt(periods_per_year) if sd > 0 else float("nan"),
           "compound_return_pct": ((1 + mean) ** periods_per_year - 1) * 100, "max_drawdown_pct": dd * 100}
    if turnover is not None:
        tv = float(pd.Series(turnover, dtype=float).reindex(r.index).mean())
        out["mean_turnover"] = tv
        out["break_even_bps"] = mean / tv * 1e4 if tv > 0 else float("nan")
    return out


# ------------------------------------------------------------------------------ walk-forward adaptor
@dataclass
class PortfolioRun:
    """What ``volts walkforward --strategy lead_lag_portfolio`` reads (the attributes of a SimulationResult).

    ``equity``: daily USD, booked on the session that realises each return, after the walk-forward's costs
    (:func:`walkforward_strategy`); ``turnover_value``: USD traded per day = TVR x gross book of the previous day
    (2 x equity: followers + SPY); ``trades``: None -- the book is rebalanced every session, so there are no round
    trips to count (``daily`` holds the per-day record: signal, followers, turnover, orders, cash reason);
    ``benchmarks``: SPY buy-and-hold from the same capital; ``optimistic``: True with ``execution = "close"``;
    ``activity``: what the portfolio held (days and weeks in cash with their reasons, distinct followers), which
    the walk-forward reports in place of the weekly selection's counts (the portfolio does not use them);
    ``notes``: sentences for the report.
    """

    equity: pd.Series
    turnover_value: pd.Series
    trades: pd.DataFrame | None
    benchmarks: dict
    daily: pd.DataFrame
    optimistic: bool
    activity: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def to_frames(self) -> dict:
        daily = self.daily.copy()
        daily["optimistic"] = self.optimistic
        return {"equity": self.equity.rename("equity").to_frame().assign(optimistic=self.optimistic),
                "daily": daily}


def portfolio_activity(daily: pd.DataFrame, followers: dict, schedule_dates=()) -> tuple[dict, list[str]]:
    """Counts of what the portfolio held, and report sentences (nothing about a flat book stays silent).

    Parameters
    ----------
    daily : pandas.DataFrame
        :attr:`LeadLagPortfolioResult.daily`.
    followers : dict
        :attr:`LeadLagPortfolioResult.followers`.
    schedule_dates : sequence of date
        The walk-forward's re-selection dates: a "week" runs from one to the next (the last to the end).

    Returns
    -------
    activity : dict
        ``days``, ``days_in_cash``, ``cash_reasons`` (reason -> days), ``weeks``, ``weeks_in_cash`` (weeks with
        decision sessions but not one invested), ``distinct_followers``, ``sign_flips``, ``mean_tvr``, ``orders``.
    notes : list of str
    """
    n = len(daily)
    sig = daily["signal"].astype(int) if n else pd.Series(dtype=int)
    cash = sig == 0
    reasons = daily.loc[cash, "cash_reason"].value_counts().to_dict() if n else {}
    weeks, weeks_cash = 0, 0
    starts = sorted(pd.Timestamp(d) for d in schedule_dates)
    if n and starts:
        dec = pd.to_datetime(daily["decision_date"])
        for i, s0 in enumerate(starts):
            s1 = starts[i + 1] if i + 1 < len(starts) else None
            inside = (dec >= s0) & ((dec < s1) if s1 is not None else True)
            weeks += 1  # a week without a decision session in the span (the last as-of) is not "in cash"
            weeks_cash += int(bool(inside.any()) and not (inside & ~cash).any())
    flips = int((sig.shift(1) * sig == -1).sum()) if n else 0
    activity = {"kind": "daily lead-lag portfolio: followers against SPY, rebalanced every session",
                "days": n, "days_in_cash": int(cash.sum()), "cash_reasons": {str(k): int(v) for k, v in
                                                                            reasons.items()},
                "weeks": weeks, "weeks_in_cash": weeks_cash,
                "distinct_followers": len({f for v in followers.values() for f in v}),
                "sign_flips": flips, "mean_tvr": float(daily["turnover"].mean()) if n else None,
                "orders": int(daily["orders"].sum()) if n else 0}
    notes = [f"Lead-lag portfolio: invested on {n - int(cash.sum())} of {n} sessions "
             f"({activity['distinct_followers']} distinct followers, {flips} sign flips, mean daily turnover "
             f"{activity['mean_tvr'] if n else float('nan'):.2f}); it rebalances every session, so it has no round "
             f"trips to count and ignores the weekly pair selection."]
    if n == 0:
        notes.append("Lead-lag portfolio: no decision session in the span (it needs lookback + "
                     "standardise_window sessions of history before the first decision).")
    for reason, days in activity["cash_reasons"].items():
        notes.append(f"Lead-lag portfolio in cash on {days} of {n} sessions: {reason}.")
    return activity, notes


def _spy_bars(market, settings) -> pd.DataFrame:
    if "SPY" in market.symbols:
        return pd.DataFrame({"open": market.open["SPY"], "close": market.close["SPY"]})
    from volts.core.errors import DataError
    from volts.trading.simulate import load_spy, spy_path

    path = spy_path(settings)
    try:   # validated like every series (volts.trading.simulate.load_spy: the [data] bar rules and on_invalid)
        bars = load_spy(settings, start=market.dates[0], end=market.dates[-1])
    except (OSError, DataError) as exc:
        raise DataError(f"lead_lag_portfolio: the financing leg needs SPY bars; {exc} "
                        f"(put SPY.csv in data.dir, set [data] spy_file, or put SPY in the universe)") from None
    if bars is None:
        raise DataError(f"lead_lag_portfolio: the financing leg needs SPY bars; {path}: no such file (put SPY.csv "
                        f"in data.dir, set [data] spy_file, or put SPY in the universe)")
    return bars[["open", "close"]]


def portfolio_capital(settings) -> float:
    """Starting capital in USD: ``[costs] capital`` (the walk-forward's), else ``[backtest] capital``."""
    costs = getattr(settings, "costs", None)
    return float(getattr(costs, "capital", None) or settings.backtest.capital)


def walkforward_strategy(market, schedule, *, end, settings, engine: str = "vectorised",
                         cost_bps: float | None = None, params: LeadLagPortfolioParams | None = None):
    """Run the portfolio over the walk-forward's span: decisions from the first re-selection's as-of to ``end``.

    The weekly pair schedule is not used (the portfolio chooses its own followers every session); the same
    market, dates and costs are. Prices are the market's closes and opens (split-adjusted; not dividend-adjusted
    unless the source is). ``execution`` comes from ``settings.strategy.execution``. ``engine`` is accepted for
    the hook's signature (one implementation).

    Costs are the walk-forward's (:class:`volts.trading.simulate.CostModel`), in USD on the equity: every session the
    book trades ``TVR x 2 x equity`` USD (seed 004 eq. 7 with the SPY leg in the book) in ``orders`` orders, and
    pays ``fixed x orders + rate x traded``: the ``[costs]`` section by default, ``cost_bps`` per side of the
    traded value (no fixed fee) for the walk-forward's cost table. (Seed 004's own ``c x TVR`` charges c on half
    the traded value; ``daily["net"]`` of :func:`lead_lag_portfolio` keeps that convention.)

    Returns
    -------
    PortfolioRun
    """
    from volts.trading.simulate import CostModel

    # SPY on the market's sessions: a session without a SPY bar leaves the book flat with a stated reason
    # (daily["cash_reason"], activity, notes) instead of silently shortening or re-gridding the span
    spy = _spy_bars(market, settings).reindex(market.close.index)
    stocks = [c for c in market.close.columns if c != "SPY"]  # the financing leg is no candidate
    close, open_ = market.close[stocks], market.open[stocks]
    cc, oo = returns_from_prices(close, open_=open_)
    mcc, moo = returns_from_prices(spy[["close"]].rename(columns={"close": "SPY"}),
                                   open_=spy[["open"]].rename(columns={"open": "SPY"}))
    p = params or LeadLagPortfolioParams(execution=settings.strategy.execution)
    start = schedule[0].asof if schedule else None
    res = lead_lag_portfolio(cc, mcc["SPY"], open_returns=oo, market_open_returns=moo["SPY"], params=p,
                             start=start, end=end)
    costs = CostModel.from_settings(settings, cost_bps)
    if costs.has_spread:
        raise ConfigError(
            "[costs] spread / spread_by_symbol: the lead-lag portfolio books its costs on the traded value of the "
            "whole book, not per instrument; state the spread as [costs] half_spread_bps for this strategy"
        )
    gross = res.daily["gross"].to_numpy(dtype=float)
    tvr = res.daily["turnover"].to_numpy(dtype=float)
    orders = res.daily["orders"].to_numpy(dtype=float) if len(res.daily) else np.zeros(0)
    eq = np.empty(len(gross))
    traded = np.empty(len(gross))
    value = costs.capital
    for i in range(len(gross)):
        traded[i] = tvr[i] * 2.0 * value
        value = value * (1.0 + gross[i]) - costs.fixed * orders[i] - costs.rate * traded[i]
        eq[i] = value
    equity = pd.Series(eq, index=res.daily.index, dtype=float)
    turnover_value = pd.Series(traded, index=res.daily.index, dtype=float)
    spy_close = spy["close"].reindex(equity.index).ffill()
    bench = {"spy": costs.capital * spy_close / spy_close.iloc[0]} if len(equity) else {}
    activity, notes = portfolio_activity(res.daily, res.followers, [w.asof for w in schedule])
    return PortfolioRun(equity=equity, turnover_value=turnover_value, trades=None, benchmarks=bench,
                        daily=res.daily, optimistic=res.optimistic, activity=activity, notes=notes)


# ``volts walkforward --strategy lead_lag_portfolio``
STRATEGIES.add("lead_lag_portfolio", walkforward_strategy)
