"""Trade a schedule of weekly selections: one stitched, daily, out-of-sample equity curve (issue 10).

A walk-forward re-selects pairs at a sequence of as-of dates. :func:`simulate_schedule` trades that sequence as one
portfolio, with two engines that implement the same rules:

* ``engine="vectorised"`` (default): the follower targets of every pair come at once, for every day, from
  :func:`volts.trading.signals.follower_positions`; a light loop of plain floats then books the fills and the daily value
  (no backtrader). Fast enough for hundreds of null-model draws over five years.
* ``engine="backtrader"``: the engine of record. One ``backtrader.Cerebro`` for the whole schedule; the strategy
  (:class:`SchedulePortfolio`) asks :func:`volts.trading.signals.next_session_target` at each close for the next session's
  target, from the leader closes known at that close, and the broker books the fills, commissions and the value.
  A test shows that both give the same daily equity to 1e-6 relative.

Timing (ARCHITECTURE.md, "Time semantics")
------------------------------------------
A bar is known after its close. The re-selection at ``asof`` saw bars up to ``asof``; its pairs trade from the
first session after ``asof`` ("a") up to the session before the first session after the next as-of date; the last
re-selection trades until ``end``. The follower position of a pair during session d is
``s_{d-lag}`` (:func:`volts.trading.signals.follower_positions`).

* ``execution="next_open"`` (default): every order for session d is decided at the close of d-1 and fills at the
  open of d. At a re-selection, the pairs that leave are closed at the open of "a", the pairs that enter open at
  the same open.
* ``execution="close"``: the orders for session d fill at the close of d-1, i.e. at the close the signal was read
  from (and, at a re-selection, at the as-of close the selection saw). Optimistic by construction: every output
  carries ``optimistic = True``.

Capital: sleeves
----------------
Each held pair (keyed by leader and follower) has a sleeve: its own cash and its follower shares; it never borrows
from another. The portfolio's value is the sum of the sleeves plus the unallocated cash ("pool").

* At the first re-selection the whole capital is the pool.
* At each re-selection, a pair that is selected again keeps its sleeve untouched: same shares, same cash, no order
  (a new lag, if the selection changed it, applies from the next session on). A pair that leaves is closed at the
  re-selection's fill (above) and its cash returns to the pool. The pool is then split equally among the pairs that
  enter; if none enters, it waits in cash until a later re-selection brings one.
* Hence the split is exactly equal whenever the whole set changes (in particular after a week in cash), and a
  continuing pair is never resized (resizing would be a trade, which the rule forbids). When the continuing
  pairs hold all the capital (nothing left, so the pool is empty), an entering pair gets a sleeve with no cash.
  It cannot trade, and it stays unfunded for as long as it is re-selected: a pool refilled later by leavers goes
  to the pairs that enter then, never to a sleeve already held. Such a pair is selected but holds nothing. The
  result says so: an ``unfunded_entry`` event per entry, and per period the pairs held without the cash to place
  an order (``unfunded``, ``n_unfunded`` of ``periods``; the same check also catches a sleeve whose cash fell
  below the fixed commission) and whether the portfolio held no position at any close of the period
  (``in_cash``). :func:`funding_summary` counts them (unfunded pair-weeks, weeks fully in cash).
* A week with no pair holds the whole portfolio in cash.

Sizing (fractional shares) and costs
------------------------------------
A sleeve trades only when its target sign differs from the sign it holds: it closes the position (one order) and,
for a non-zero target, opens a new one with all its equity (a second order). The new position is
``n = (E - fixed) / (P * (1 + rate)) * (1 - 1e-9)`` shares, fractional, where E is the sleeve's cash after the
close, P the fill price and ``fixed``/``rate`` the cost model (below); the 1e-9 keeps the cash of a long sleeve
non-negative through floating-point rounding. A short sale credits its proceeds to the sleeve's cash. Fractional
shares make the two engines agree exactly (no rounding rule to mirror) and are what a notional order at a broker
that offers fractional shares does; with a five- or six-figure sleeve, whole shares would change the value by
less than one share's price. No leverage: a long never costs more than the sleeve's cash.

Every order pays ``fixed + rate * |shares * P|``, with ``fixed = costs.commission`` (USD) and ``rate =
costs.commission_pct + (costs.slippage_bps + costs.half_spread_bps) / 1e4`` (a fraction per side); fills are at
the open (or close) itself and the costs are booked as cash. A bid-ask spread per instrument (``[costs] spread``,
``spread_by_symbol`` in bps, pips or price units; :mod:`volts.trading.spreads`) adds half the follower's spread
to each order: ``q * spread / 2`` price units for ``q`` shares (a bps spread adds ``spread / 2`` bps to ``rate``),
and the opening size becomes ``n = (E - fixed) / (P * (1 + rate) + spread / 2) * (1 - 1e-9)``. ``cost_bps``
replaces the whole cost model, spreads included, by a proportional cost of ``cost_bps`` per side and no fixed
commission: the 0/5/10/25 bps table, without re-running the selection.

Benchmarks (same days, same starting capital, same cost model)
--------------------------------------------------------------
* ``followers_buy_and_hold``: the same sleeves and the same weekly changes as the strategy, each holding its
  follower long the whole time (same pool rule, same costs);
* ``universe_equal_weight``: the universe's symbols bought in equal parts at the first fill and held;
* ``spy``: SPY bought at the first fill and held, over the days SPY covers (NaN after its last bar).

Source: issue 10 of the project; METHOD.md §6-7 for the signal and the buy-and-hold rule.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np
import pandas as pd

from volts.core.errors import ConfigError, DataError
from volts.core.registry import STRATEGIES
from volts.data.market import MarketData
from volts.trading.benchmarks import (  # noqa: F401  (re-exported: this module's API before the split)
    _hold_curve,
    _spy_findings,
    load_spy,
    spy_path,
)
from volts.trading.book import (  # noqa: F401  (re-exported: this module's API before the split)
    _SIGNALS,
    HAIRCUT,
    _labels,
    _Book,
    _period_table,
    _Plan,
    _plan,
    _targets,
)
from volts.trading.engine_backtrader import (  # noqa: F401  (re-exported: this module's API before the split)
    _LazyStrategy,
    _make_schedule_strategy,
    _run_backtrader,
    schedule_strategy_class,
)
from volts.trading.schedule import (  # noqa: F401  (re-exported: this module's API before the split)
    CostModel,
    Holding,
    Rebalance,
    SimulationResult,
)
from volts.trading.signals import MODES

__all__ = [
    "Holding",
    "Rebalance",
    "CostModel",
    "SimulationResult",
    "simulate_schedule",
    "cost_table",
    "load_spy",
    "spy_path",
    "funding_summary",
    "ENGINES",
    "EXECUTIONS",
    "BENCHMARKS",
    "HAIRCUT",
]

ENGINES: tuple[str, ...] = ("vectorised", "backtrader")
EXECUTIONS: tuple[str, ...] = ("next_open", "close")
BENCHMARKS: tuple[str, ...] = ("followers_buy_and_hold", "universe_equal_weight", "spy")
FILL_COLUMNS = ["date", "pair", "leader", "follower", "lag", "role", "side", "shares", "price", "value", "commission"]
TRADE_COLUMNS = [
    "pair",
    "leader",
    "follower",
    "lag",
    "side",
    "shares",
    "entry_date",
    "entry_price",
    "exit_date",
    "exit_price",
    "commission",
    "pnl",
    "closed",
]


def _run_vectorised(
    market: MarketData, plan: _Plan, costs: CostModel, *, execution: str, targets_of: Callable[[Holding], list]
) -> tuple[_Book, np.ndarray, dict]:
    """The event loop over sessions; returns the book, the equity per session and the positions per key."""
    n = len(plan.dates)
    opens = market.open.iloc[plan.lo : plan.lo + n]
    closes = market.close.iloc[plan.lo : plan.lo + n]
    symbols = {h.follower for r in plan.rebalances for h in r.pairs}
    op = {s: opens[s].tolist() for s in symbols}
    cl = {s: closes[s].tolist() for s in symbols}
    dates = _labels(plan.dates)  # dates on daily bars, full stamps on intraday bars
    book = _Book(costs, costs.capital)
    equity = np.empty(n)
    held: dict[str, np.ndarray] = {}
    by_start = {st: k for k, st in enumerate(plan.starts) if st is not None}
    holdings: tuple = ()
    active: list = []
    equity[0] = costs.capital
    for d in range(1, n):
        fill_i = d if execution == "next_open" else d - 1  # session whose open/close the fills of d use
        book_i = d if execution == "next_open" else d - 1  # close whose equity includes those fills
        prices = op if execution == "next_open" else cl
        if d in by_start:
            holdings = plan.rebalances[by_start[d]].pairs
            book.rebalance(holdings, dates[fill_i], lambda s: prices[s["follower"]][fill_i])
            active = [(book.sleeves[h.key], targets_of(h), prices[h.follower]) for h in holdings]
        for s, tg, pr in active:
            t = tg[d]
            if t != s["sign"]:
                book.step(s, t, dates[fill_i], pr[fill_i])
        equity[book_i] = book.value(lambda sym: cl[sym][book_i])
        for key, s in book.sleeves.items():
            arr = held.get(key)
            if arr is None:
                arr = held[key] = np.zeros(n)
            arr[book_i] = s["shares"]
    if execution == "close":
        equity[n - 1] = book.value(lambda sym: cl[sym][n - 1])
        for key, s in book.sleeves.items():
            held[key][n - 1] = s["shares"]
    book.finish(dates[n - 1], lambda sym: cl[sym][n - 1])
    return book, equity, held


def __getattr__(name: str):  # SchedulePortfolio is built on first use (backtrader import is not free)
    if name == "SchedulePortfolio":
        return schedule_strategy_class()
    raise AttributeError(name)


# ---------------------------------------------------------------------------------------------- driver
def simulate_schedule(
    market: MarketData,
    schedule: Sequence[Rebalance],
    *,
    end,
    settings,
    engine: Literal["vectorised", "backtrader"] = "vectorised",
    cost_bps: float | None = None,
    universe: Sequence[str] | None = None,
    spy: pd.DataFrame | None | bool = None,
    execution: str | None = None,
    mode: str | None = None,
    benchmarks: bool = True,
) -> SimulationResult:
    """Trade a schedule of re-selections as one portfolio; daily equity, trades and benchmarks.

    Parameters
    ----------
    market : MarketData
        Bars of every leader, follower and universe symbol, from at least ``lag + ma_window`` sessions before the
        first as-of date (earlier sessions give flat targets) through ``end``.
    schedule : sequence of Rebalance
        The re-selections (sorted here by as-of date).
    end : date-like
        Last session traded (inclusive).
    settings : volts.core.config.Settings
        ``strategy`` (ma_window, mode, execution) and ``costs`` (capital, commission, commission_pct,
        slippage_bps, half_spread_bps, the spread keys).
    engine : {"vectorised", "backtrader"}, default "vectorised"
    cost_bps : float or None
        Replace every cost by ``cost_bps`` bps of value per side and no fixed commission.
    universe : sequence of str or None
        Symbols of the equal-weight benchmark; default ``settings.data.universe`` that the market holds.
    spy : DataFrame, None or False
        SPY's bars; None = :func:`load_spy` from ``settings.data.dir``; False = no SPY benchmark.
    execution, mode : str or None
        Override ``settings.strategy.execution`` / ``.mode``.
    benchmarks : bool, default True
        False skips the benchmarks (null-model draws).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError
        Empty schedule, duplicate as-of dates or pairs, unknown engine/execution/mode, bad cost_bps, a pip
        spread for a follower without a pip size.
    DataError
        A symbol is missing from the market data, or no session lies between the first as-of date and ``end``.

    Notes
    -----
    Rules in the module docstring (timing, sleeves, sizing, costs, benchmarks). Source: issue 10; METHOD.md §6.

    Length: the trading pass in order (plan, targets, engine, benchmarks, SPY, per-period table), each a short
    block; the engines share everything before and after the book.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES} (got {engine!r})")
    execution = execution or settings.strategy.execution
    mode = mode or settings.strategy.mode
    if execution not in EXECUTIONS:
        raise ConfigError(f"execution must be one of {EXECUTIONS} (got {execution!r})")
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES} (got {mode!r})")
    ma_window = int(settings.strategy.ma_window)
    costs = CostModel.from_settings(settings, cost_bps)
    plan = _plan(market, schedule, end)
    needed = sorted({s for r in plan.rebalances for h in r.pairs for s in (h.leader, h.follower)})
    missing = [s for s in needed if s not in market.symbols]
    if missing:
        raise DataError(
            f"{', '.join(missing)}: symbol of the schedule not in the market data; load it or drop the pair"
        )
    if costs.has_spread:  # a pip spread for a symbol without a pip size: refused before any trade
        for sym in sorted({h.follower for r in plan.rebalances for h in r.pairs}):
            costs.terms(sym)

    if engine == "vectorised":
        local: dict = {}

        def targets_of(h: Holding) -> list:
            key = (h.leader, h.lag)
            if key not in local:  # once per (leader, lag) and call: a column lookup costs more than a week
                local[key] = _targets(market, plan, h.leader, h.lag, ma_window, mode)
            return local[key]

        book, equity, held = _run_vectorised(market, plan, costs, execution=execution, targets_of=targets_of)
    else:
        book, equity, held = _run_backtrader(market, plan, costs, execution=execution, ma_window=ma_window, mode=mode)
    index = plan.dates
    equity_s = pd.Series(equity, index=index, name="strategy")
    fills = pd.DataFrame.from_records(book.fills, columns=FILL_COLUMNS)
    trades = pd.DataFrame.from_records(book.trades, columns=TRADE_COLUMNS)
    for df, cols in ((fills, ["date"]), (trades, ["entry_date", "exit_date"])):
        for c in cols:
            df[c] = pd.to_datetime(df[c])
    if len(trades):
        trades = trades.sort_values(["entry_date", "pair"], kind="stable").reset_index(drop=True)
    positions = pd.DataFrame(held, index=index) if held else pd.DataFrame(index=index)
    turnover = (
        fills.groupby("date")["value"].sum().reindex(index, fill_value=0.0)
        if len(fills)
        else pd.Series(0.0, index=index)
    )
    turnover.name = "turnover_value"

    bench: dict[str, pd.Series] = {}
    first_fill = next(st for st in plan.starts if st is not None) if any(st is not None for st in plan.starts) else None
    if benchmarks and first_fill is not None:
        fill_i = first_fill if execution == "next_open" else first_fill - 1
        # followers' buy-and-hold: the same sleeves and changes, every target +1
        ones = [1] * len(index)
        b_book, b_eq, _ = _run_vectorised(market, plan, costs, execution=execution, targets_of=lambda h: ones)
        bench["followers_buy_and_hold"] = pd.Series(b_eq, index=index)
        uni = [s for s in (universe if universe is not None else settings.data.universe) if s in market.symbols]
        if uni:
            sl = slice(plan.lo, plan.lo + len(index))
            bench["universe_equal_weight"] = _hold_curve(
                market.open[uni].iloc[sl], market.close[uni].iloc[sl], fill_i, execution, costs
            )
        if spy is None:
            spy = load_spy(settings, start=index[0] - pd.Timedelta(days=10), end=index[-1])
            _spy_findings(book.events, spy)
            if spy is None:
                book.events.append(
                    {
                        "date": None,
                        "pair": "SPY",
                        "event": "spy_benchmark_omitted",
                        "reason": f"no SPY file at {spy_path(settings)}; set [data] spy_file to a CSV "
                        f"of SPY's daily bars",
                    }
                )
        if spy is not None and spy is not False:
            o = spy["open"].reindex(index)
            c = spy["close"].reindex(index)
            covered = c.notna() & o.notna()
            last = int(np.flatnonzero(covered.to_numpy())[-1]) if covered.any() else -1
            if last > fill_i and covered.iloc[: last + 1].all():
                curve = _hold_curve(
                    o.iloc[: last + 1].to_frame("SPY"), c.iloc[: last + 1].to_frame("SPY"), fill_i, execution, costs
                )
                bench["spy"] = curve.reindex(index)
            else:
                missing = index[: max(last, fill_i) + 1][~covered.iloc[: max(last, fill_i) + 1].to_numpy()]
                first_gap = missing[0].date() if len(missing) else None
                why = "SPY has no bar on a session of the span (first missing shown)"
                if first_gap is None and last == len(index) - 1:  # nothing to hold after the first fill
                    why = f"no session after the benchmark's first fill {index[fill_i].date()}"
                elif first_gap is None:  # every session up to its last bar is there: SPY ends too early
                    why = (
                        f"SPY's bars end on {index[last].date()}, at or before the benchmark's first fill "
                        f"{index[fill_i].date()}"
                        if last >= 0
                        else "SPY has no bar in the span"
                    )
                if first_gap is not None and any(
                    e.get("event") == "spy_bar_dropped" and e.get("date") == first_gap.isoformat() for e in book.events
                ):
                    why += "; its row of that date was dropped under data.on_invalid = 'drop'"
                book.events.append({"date": first_gap, "pair": "SPY", "event": "spy_benchmark_omitted", "reason": why})
        for k in bench:
            bench[k].name = k

    periods = _period_table(plan, equity_s, funding=book.funding, positions=positions)
    optimistic = execution == "close"
    for obj in (trades, fills, positions, periods):
        obj.attrs.update(engine=engine, execution=execution, optimistic=optimistic)
    return SimulationResult(
        equity=equity_s,
        trades=trades,
        fills=fills,
        positions=positions,
        turnover_value=turnover,
        benchmarks=bench,
        periods=periods,
        engine=engine,
        execution=execution,
        mode=mode,
        optimistic=optimistic,
        costs=costs,
        events=tuple(book.events),
    )


def funding_summary(periods: pd.DataFrame) -> dict:
    """What the capital rule left unfunded: counts and the list, from :attr:`SimulationResult.periods`.

    Parameters
    ----------
    periods : pandas.DataFrame
        ``SimulationResult.periods`` (columns ``asof``, ``n_pairs``, ``unfunded``, ``n_unfunded``, ``in_cash``).

    Returns
    -------
    dict
        ``rule`` (one sentence), ``periods`` (re-selections traded), ``pair_weeks`` (pairs held summed over the
        periods), ``unfunded_pair_weeks`` (pairs held without the cash to place an order, summed over the periods:
        a pair unfunded for three weeks counts three times), ``unfunded_entries`` (of those, the weeks the pair
        entered),
        ``weeks_with_unfunded_pairs``, ``weeks_fully_in_cash`` (no position at any close of the period, for any
        reason), ``weeks_in_cash_with_pairs`` (of those, the ones whose selection had pairs), and ``unfunded``: one
        ``{"asof", "pairs", "unfunded"}`` per period with an unfunded pair (``pairs`` = pairs selected,
        ``unfunded`` = their keys). Rule in the module docstring ("Capital: sleeves").
    """
    live = periods[periods["first_session"].notna()] if len(periods) else periods
    if not len(live) or "n_unfunded" not in live:
        return {
            "rule": FUNDING_RULE,
            "periods": int(len(live)),
            "pair_weeks": 0,
            "unfunded_pair_weeks": 0,
            "unfunded_entries": 0,
            "weeks_with_unfunded_pairs": 0,
            "weeks_fully_in_cash": 0,
            "weeks_in_cash_with_pairs": 0,
            "unfunded": [],
        }
    n_unf = live["n_unfunded"].astype(int)
    cash = live["in_cash"].astype(bool)
    entries = sum(
        len(set(str(u).split(";")) & set(str(e).split(";")) - {""}) for u, e in zip(live["unfunded"], live["entered"])
    )
    listed = [
        {
            "asof": pd.Timestamp(r["asof"]).date().isoformat(),
            "pairs": int(r["n_pairs"]),
            "unfunded": [k for k in str(r["unfunded"]).split(";") if k],
        }
        for _, r in live[n_unf > 0].iterrows()
    ]
    return {
        "rule": FUNDING_RULE,
        "periods": int(len(live)),
        "pair_weeks": int(live["n_pairs"].sum()),
        "unfunded_pair_weeks": int(n_unf.sum()),
        "unfunded_entries": int(entries),
        "weeks_with_unfunded_pairs": int((n_unf > 0).sum()),
        "weeks_fully_in_cash": int(cash.sum()),
        "weeks_in_cash_with_pairs": int((cash & (live["n_pairs"] > 0)).sum()),
        "unfunded": listed,
    }


#: The capital rule in one sentence (metrics.json, reports).
FUNDING_RULE = (
    "each pair has its own sleeve; a re-selected pair keeps its sleeve (never resized), a leaving pair's "
    "cash returns to a pool, and the pool is split equally among the pairs that enter; when the pairs "
    "kept hold all the capital, an entering pair gets no cash and stays unfunded while it is "
    "re-selected"
)


def cost_table(
    market: MarketData,
    schedule: Sequence[Rebalance],
    *,
    end,
    settings,
    bps: Sequence[float] = (0.0, 5.0, 10.0, 25.0),
    bootstrap_reps: int | None = None,
    seed: int = 0,
    **kwargs,
) -> pd.DataFrame:
    """The headline rows again at several proportional costs (issue 10's bps table), selection not re-run.

    Parameters
    ----------
    market, schedule, end, settings
        As :func:`simulate_schedule`.
    bps : sequence of float, default (0, 5, 10, 25)
        Cost per side in basis points; each level replaces every cost (no fixed commission).
    bootstrap_reps, seed
        As :func:`volts.trading.performance.performance_stats`.
    **kwargs
        Passed to :func:`simulate_schedule` (engine, universe, spy, execution, mode).

    Returns
    -------
    pandas.DataFrame
        :func:`volts.trading.performance.summary_table` of each level, stacked, with a ``cost_bps`` column; index
        ``curve``.
    """
    from volts.trading.performance import summary_table

    frames = []
    for level in bps:
        res = simulate_schedule(market, schedule, end=end, settings=settings, cost_bps=float(level), **kwargs)
        frames.append(
            summary_table(
                res,
                schedule,
                bootstrap_reps=bootstrap_reps,
                seed=seed,
                periods_per_year=int(settings.metrics.periods_per_year),
                risk_free=float(settings.metrics.risk_free),
            )
        )
    return pd.concat(frames)


@STRATEGIES.register("lead_lag_trend")
def walkforward_strategy(market, schedule, *, end, settings, engine="vectorised", cost_bps=None):
    """The paper's trend-following pair strategy over a walk-forward's weekly schedule
    (``volts walkforward --strategy lead_lag_trend``, the default): :func:`volts.trading.simulate.simulate_schedule`.

    The equal-weight benchmark holds every symbol the walk-forward loaded (the universe); for the synthetic source
    the configured universe names no synthetic symbol, and point-in-time runs hold the traded symbols with bars
    over the whole span. Synthetic bars get no SPY benchmark (no real SPY beside them).
    """
    universe = list(settings.data.universe) if settings.data.membership else list(market.symbols)
    return simulate_schedule(
        market,
        schedule,
        end=end,
        settings=settings,
        engine=engine,
        cost_bps=cost_bps,
        universe=universe,
        spy=False if settings.data.source == "synthetic" else None,
    )
