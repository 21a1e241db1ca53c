"""The walk-forward on intraday bars: re-selection at any cadence, traded at the next bar's open, with costs,
bootstrap intervals, the cost table and the random-pairs null.

Pipeline (``volts walkforward`` when ``[data] timeframe`` is not ``D1``)
-----------------------------------------------------------------------
1. The bars are loaded once, up to ``end``, on the union of the symbols' stamps
   (:func:`volts.data.intraday_panel.load_intraday_panel`: a coin listed later or a feed with a hole keeps the
   others' bars; its own missing bars are carried and marked).
2. Decision bars (:func:`volts.evaluation.bar_schedule.decision_bars`): every N bars, or the last complete bar of
   each ``30min`` / ``6H`` / ``1D`` / ``1W`` period (UTC-anchored) in ``[start, end]``.
3. One selection per decision (:mod:`volts.evaluation.bar_decisions`): windows in bars from ``[intraday]``, ending at
   the decision bar; chunks of decisions per executor task; each record cached under ``<out>/decisions/`` keyed by
   the selection settings and the bars it saw (a re-run computes only what changed).
4. The trading pass: :func:`volts.trading.simulate.simulate_schedule` with the decision stamps as as-of values: a
   decision's pairs trade from the open of the bar after its decision bar (the follower's position during bar d is
   the leader's trend signal of bar d - lag, in bars) until the next decision's first bar. Benchmarks: the
   followers' buy-and-hold and the universe's equal weight (no SPY: its sessions are not the bars' calendar).
5. Statistics: every figure of :func:`volts.evaluation.summary.summarise` (Sharpe with its stationary-bootstrap
   interval, CAGR, drawdown, the cost table at 0/5/10/25 bps, differences against the benchmarks) annualised with
   the calendar's bars per year (:func:`volts.data.timeframes.bars_per_year`; ``[metrics] periods_per_year`` is
   replaced for the run by that number rounded to an integer, both stated in ``metrics.json``), and the random-pairs
   null (:func:`volts.evaluation.nulls.random_pairs_null`: the same decisions, as many random ordered pairs of each
   decision's candidates as it selected, lags uniform on ``[lag] min_lag .. max_lag`` bars, permutation p-value).
6. Artifacts in ``<out>/results/`` (staged, moved into place complete): ``metrics.json``, ``equity.csv``,
   ``fills.csv``, ``decisions.csv``, ``report.md``, ``run.json``.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from volts.core.artifacts import atomic_write_csv, atomic_write_json, now_utc_iso, staged_run_dir
from volts.core.artifacts import to_jsonable
from volts.core.config import Settings
from volts.core.errors import UsageError
from volts.data.intraday_panel import IntradayPanel
from volts.data.market import MarketData
from volts.data.timeframes import bars_per_year, timeframe
from volts.evaluation.bar_decisions import as_panel, run_decisions
from volts.evaluation.bar_schedule import _span_bounds, decision_bars, parse_cadence

log = logging.getLogger(__name__)

__all__ = ["BarWalkForwardResult", "run_bar_walkforward", "bar_schedule", "bar_strategy", "run_bars_per_year"]


@dataclass
class BarWalkForwardResult:
    """What :func:`run_bar_walkforward` produced.

    Attributes
    ----------
    folder : Path
        ``<out>/results``.
    decisions : list of dict
        The decision records (:func:`volts.evaluation.bar_decisions.select_decision`).
    simulation : volts.trading.schedule.SimulationResult
        The strategy at the configured costs.
    metrics : dict
        ``metrics.json``.
    stats : dict
        Cached/computed counts and wall times (``run.json``).
    """

    folder: Path
    decisions: list
    simulation: Any
    metrics: dict
    stats: dict


def run_bars_per_year(settings: Settings, index: pd.DatetimeIndex) -> float:
    """Bars per year of the configured timeframe and calendar (``"bars"``: counted in ``index``)."""
    return float(bars_per_year(settings.data.timeframe, settings.data.calendar, index=index))


def bar_schedule(decisions: Sequence[dict]):
    """One :class:`volts.trading.simulate.Rebalance` per decision, its as-of the decision bar's stamp."""
    from volts.trading.simulate import Holding, Rebalance

    return [
        Rebalance(
            asof=pd.Timestamp(d["asof"]),
            pairs=tuple(Holding(leader=p["leader"], follower=p["follower"], lag=int(p["lag"])) for p in d["pairs"]),
        )
        for d in decisions
    ]


def bar_strategy(market, schedule, *, end, settings, engine="vectorised", cost_bps=None, universe=None):
    """The paper's trend rule over an intraday schedule: :func:`volts.trading.simulate.simulate_schedule` on every
    bar, the equal-weight benchmark over ``universe`` (default the market's symbols), no SPY benchmark."""
    from volts.trading.simulate import simulate_schedule

    if engine != "vectorised":
        raise UsageError("the intraday walk-forward trades with the vectorised engine only (--engine vectorised)")
    return simulate_schedule(
        market,
        schedule,
        end=end,
        settings=settings,
        engine="vectorised",
        cost_bps=cost_bps,
        universe=list(market.symbols) if universe is None else list(universe),
        spy=False,
    )


def _load_panel(settings: Settings, end_excl: pd.Timestamp) -> IntradayPanel:
    """The bars of the universe up to the span's end, on the union of their stamps
    (:func:`volts.data.intraday_panel.load_intraday_panel`): the windows of the first decision reach back before
    ``--start``, and each decision keeps the symbols that cover its own windows."""
    if settings.data.source == "synthetic":  # the seeded intraday demo market (24/7, planted pairs)
        from volts.data.synthetic_intraday import make_synthetic_intraday_market

        return as_panel(
            make_synthetic_intraday_market(
                seed=settings.data.synthetic_seed, timeframe_name=settings.data.timeframe
            ).data
        )
    if settings.data.source != "csv":
        raise UsageError(
            f"the intraday walk-forward reads intraday CSV bars ([data] source = 'csv'), not "
            f"{settings.data.source!r}: export the bars to CSV (one file per symbol) and point [data] dir at them"
        )
    from volts.data.intraday_panel import load_intraday_panel

    return load_intraday_panel(settings.data, end=(end_excl - pd.Timedelta(days=1)).date())


#: Public name of the panel loader (the frequency study loads its finest bars with it).
load_panel = _load_panel


def carried_fills(panel: IntradayPanel, fills: pd.DataFrame) -> dict:
    """Fills whose bar is carried for the follower (no bar in its file there: the price is its last close)."""
    if not len(fills):
        return {"fills": 0, "on_carried_bars": 0, "share": None, "pairs": {}}
    flags = np.zeros(len(fills), dtype=bool)
    for sym, rows in fills.groupby("follower").groups.items():
        pos = fills.index.get_indexer(rows)
        flags[pos] = panel.carried(str(sym), fills.loc[rows, "date"])
    by_pair = fills.loc[flags, "pair"].value_counts().sort_index()
    return {
        "fills": int(len(fills)),
        "on_carried_bars": int(flags.sum()),
        "share": float(flags.mean()),
        "pairs": {str(k): int(v) for k, v in by_pair.items()},
    }


def run_bar_walkforward(
    settings: Settings,
    *,
    start,
    end,
    every: str = "1D",
    out: Path,
    executor=None,
    force: bool = False,
    market: MarketData | IntradayPanel | None = None,
    null_draws: int = 0,
    null_seed: int = 0,
    selector=None,
    report: bool = True,
) -> BarWalkForwardResult:
    """Re-select at every decision bar out of sample, trade the schedule on every bar, and write the artifacts.

    Parameters
    ----------
    settings : Settings
        ``[data] timeframe`` (not ``D1``) and ``calendar``, ``[intraday]`` window lengths, the selection stages,
        ``[strategy]``, ``[costs]``.
    start, end : date-like
        Span of the decisions; ``end`` (a date covers its whole day) is also the last bar traded.
    every : str, default "1D"
        Cadence (:func:`volts.evaluation.bar_schedule.parse_cadence`): ``"24 bars"``, ``"6H"``, ``"1D"``, ``"1W"``.
    out : Path
        Folder: ``decisions/`` (cache), ``results/`` (artifacts).
    executor : volts.core.parallel.Executor, optional
        Where the selections (and the null draws) run; default in-process.
    force : bool
        Recompute every decision.
    market : MarketData or IntradayPanel, optional
        Bars to use (default: loaded through ``[data]`` as a panel on the union of the symbols' stamps); index =
        UTC open stamps. A decision uses the symbols that cover its windows, on the stamps they all have.
    null_draws : int
        Random-pairs draws (0 = no null).
    null_seed : int
        Seed of the first draw (draw d uses ``null_seed + d``).
    selector : object, optional
        The selection of one decision (default :class:`volts.evaluation.bar_decisions.PipelineSelector`).
    report : bool
        Write ``report.md``.

    Returns
    -------
    BarWalkForwardResult

    Raises
    ------
    UsageError
        A daily timeframe, a malformed cadence, no decision in the span, or nothing left to trade after the first.
    DataError
        The bars cannot be loaded.

    Notes
    -----
    Length: the run's steps in order (span, decisions, selections, trading pass, statistics, null, artifacts),
    each a short block that calls into its own module.
    """
    t_total = time.perf_counter()
    tf = timeframe(settings.data.timeframe)
    if tf.is_daily and market is None and selector is None:
        # D1 bars on the bar clock when given (daily bars resampled from hours by volts frequency): the decision
        # bars, selections on bar windows, trading pass and statistics all take them
        raise UsageError(
            "the walk-forward on bars needs [data] timeframe other than D1, or D1 bars passed as a market (volts "
            "frequency resamples them); daily bars from files run the daily walk-forward "
            "(volts.evaluation.walkforward.run_walkforward)"
        )
    cad = parse_cadence(every, tf)
    s, e_excl = _span_bounds(start, end)
    t0 = time.perf_counter()
    panel = _load_panel(settings, e_excl) if market is None else as_panel(market)
    market = panel.market
    load_seconds = time.perf_counter() - t0
    decisions = decision_bars(market.dates, tf, cad, start, end)
    if not decisions:
        raise UsageError(
            f"no complete {cad.text} period with bars between {s} and {end} (data "
            f"{market.dates[0]} .. {market.dates[-1]})"
        )
    closes = market.dates + tf.duration
    last_bar = market.dates[int(np.flatnonzero(closes <= e_excl)[-1])]
    if decisions[0].trade_from is None or decisions[0].trade_from > last_bar:
        raise UsageError(
            f"end {end}: no bar after the first decision bar {decisions[0].asof}, so nothing would "
            f"trade; choose a later --end"
        )
    bpy = run_bars_per_year(settings, market.dates)
    rsettings = settings.override(**{"metrics.periods_per_year": max(1, int(round(bpy)))})
    own = executor is None
    from volts.core.parallel import Executor

    ex = Executor() if own else executor
    try:
        if own:
            ex.__enter__()
        ex.note(
            f"{len(decisions)} decisions {cad.describe(tf)} on {tf.name} bars, {decisions[0].asof} .. "
            f"{decisions[-1].asof}"
        )
        records, stats = run_decisions(
            panel,
            settings,
            [d.asof for d in decisions],
            cache_dir=Path(out) / "decisions",
            executor=ex,
            force=force,
            selector=selector,
        )
        ex.stage("trading pass")
        t0 = time.perf_counter()
        schedule = bar_schedule(records)
        # the equal-weight benchmark holds the symbols with a bar of their own by the first decision (a panel
        # carries a later listing's first price backwards: holding it from the start would know it will list)
        listed = [x for x in market.symbols if bool(panel.real[x].loc[: decisions[0].asof].any())]
        strategy_fn = functools.partial(bar_strategy, universe=listed)
        sim = strategy_fn(market, schedule, end=last_bar, settings=rsettings)
        sim_seconds = time.perf_counter() - t0
        ex.stage("statistics, bootstrap intervals and cost table")
        t0 = time.perf_counter()
        from volts.evaluation.summary import summarise

        metrics = summarise(
            sim,
            records,
            settings=rsettings,
            market=market,
            schedule=schedule,
            end=last_bar,
            strategy_fn=strategy_fn,
            engine="vectorised",
        )
        stats_seconds = time.perf_counter() - t0
        null = None
        null_seconds = 0.0
        if null_draws:
            ex.stage("random-pairs null")
            t0 = time.perf_counter()
            from volts.evaluation.nulls import random_pairs_null

            sharpe = (metrics.get("strategy") or {}).get("sharpe")
            null = random_pairs_null(
                market,
                records,
                rsettings,
                end=last_bar,
                draws=int(null_draws),
                seed=int(null_seed),
                strategy_sharpe=float("nan") if sharpe is None else float(sharpe),
                executor=None if own else ex,
            )
            null_seconds = time.perf_counter() - t0
        ex.stage(None)
    finally:
        if own:
            ex.close()
    metrics = _bar_metrics(
        metrics,
        sim=sim,
        settings=settings,
        rsettings=rsettings,
        tf=tf,
        cad=cad,
        bpy=bpy,
        start=s,
        end=last_bar,
        decisions=decisions,
        records=records,
        market=market,
        null=null,
    )
    excluded: dict[str, int] = {}
    for r in records:
        for sym in r.get("excluded") or {}:
            excluded[sym] = excluded.get(sym, 0) + 1
    metrics["symbols_excluded"] = {  # decisions a symbol sat out because it did not cover the windows
        "rule": "a decision uses the symbols with bars from its first window's start, at most 5 % of the window's "
        "stamps missing and no hole over data.coverage_gap_days, on the stamps they all have",
        "decisions_by_symbol": dict(sorted(excluded.items())),
    }
    metrics["carried_fills"] = to_jsonable(carried_fills(panel, sim.fills))
    stats.update(
        load_seconds=load_seconds,
        simulate_seconds=sim_seconds,
        statistics_seconds=stats_seconds,
        null_seconds=null_seconds,
        executor=ex.describe(),
        decisions=len(records),
        mean_decision_seconds_by_stage=_mean_timings(records, stats),
    )
    folder = Path(out) / "results"
    _write_results(
        folder,
        sim=sim,
        metrics=metrics,
        table=decisions_table(records, decisions, sim, tf),
        null=null,
        stats=stats,
        t_total=t_total,
        report=report,
    )
    return BarWalkForwardResult(folder=folder, decisions=records, simulation=sim, metrics=metrics, stats=stats)


def _write_results(
    folder: Path, *, sim, metrics: dict, table: pd.DataFrame, null, stats: dict, t_total: float, report: bool
) -> None:
    """Write the artifacts into a staging folder and swap it into place as ``folder``."""
    with staged_run_dir(folder.parent, folder.name, force=True, latest=False) as staging:
        frames = sim.to_frames()
        atomic_write_csv(staging / "equity.csv", frames["equity"].rename(columns={"date": "time"}), index=False)
        atomic_write_csv(staging / "fills.csv", frames["fills"].rename(columns={"date": "time"}), index=False)
        atomic_write_csv(staging / "decisions.csv", table, index=False)
        atomic_write_json(staging / "metrics.json", metrics)
        if null is not None:
            atomic_write_json(staging / "nulls.json", to_jsonable(null.to_dict(with_sharpes=True)))
        stats["total_seconds"] = time.perf_counter() - t_total
        atomic_write_json(staging / "run.json", to_jsonable({"created": now_utc_iso(), **stats}))
        if report:  # report.md and cost_sweep.png (volts.reporting.bar_report)
            from volts.core.registry import REPORT_WRITERS

            REPORT_WRITERS["intraday_walkforward"](staging, metrics=metrics)


def _mean_timings(records: Sequence[dict], stats: dict) -> dict:
    computed = set(stats.get("computed_asofs") or [])
    by: dict[str, list[float]] = {}
    for r in records:
        if computed and r["asof"] not in computed:
            continue
        for k, v in (r.get("timings") or {}).items():
            by.setdefault(k, []).append(float(v))
    return {k: float(np.mean(v)) for k, v in by.items()}


def _lag_counts(records: Sequence[dict], tf) -> dict:
    counts: dict[int, int] = {}
    for r in records:
        for p in r["pairs"]:
            counts[int(p["lag"])] = counts.get(int(p["lag"]), 0) + 1
    return {tf.describe(k): v for k, v in sorted(counts.items())}


def _bar_metrics(
    metrics: dict,
    *,
    sim,
    settings: Settings,
    rsettings: Settings,
    tf,
    cad,
    bpy: float,
    start,
    end,
    decisions,
    records,
    market: MarketData,
    null,
) -> dict:
    """The run's provenance (bar size, calendar, bars per year, cadence, decisions, lags in time) in front of the
    statistics of :func:`volts.evaluation.summary.summarise`, and the null."""
    from volts.evaluation.bar_decisions import bars_sha256
    from volts.evaluation.nulls import headline_inference

    n_ok = sum(1 for r in records if r.get("status") == "ok")
    head = {
        "kind": "intraday walk-forward",
        "timeframe": tf.name,
        "bar": tf.describe(1),
        "calendar": settings.data.calendar,
        "bars_per_year": bpy,
        "periods_per_year_used": int(rsettings.metrics.periods_per_year),
        "annualisation": f"Sharpe, CAGR and volatility annualised with {bpy:.6g} {tf.name} bars a year "
        f"(calendar {settings.data.calendar}; rounded to {rsettings.metrics.periods_per_year})",
        "every": cad.text,
        "cadence": cad.describe(tf),
        "start": pd.Timestamp(start).isoformat(),
        "end": pd.Timestamp(end).isoformat(),
        "first_decision": decisions[0].asof.isoformat(),
        "last_decision": decisions[-1].asof.isoformat(),
        "decisions": {
            "total": len(records),
            "with_selection": n_ok,
            "with_pairs": sum(1 for r in records if r["pairs"]),
        },
        "execution": "decision at the close of the decision bar; orders fill at the open of the next bar",
        "lags": _lag_counts(records, tf),
        "benchmarks_note": "followers' buy-and-hold and the equal weight of the symbols with bars by the first "
        "decision; no SPY on intraday bars",
        "config_sha256": settings.sha256(),
        "selection_sha256": settings.selection_sha256(),
        "data_sha256": bars_sha256(market),
    }
    metrics = {**head, **metrics}
    metrics["decisions_summary"] = metrics.pop("weeks", None)
    metrics["sharpe_inference"] = headline_inference(sim.equity, rsettings, trial_sharpes=None)
    if null is not None:
        metrics["random_pairs_null"] = null.to_dict()
    return to_jsonable(metrics)


def decisions_table(records: Sequence[dict], decisions, sim, tf) -> pd.DataFrame:
    """``decisions.csv``: one row per decision: its bar, when it is known, where it trades from, status, candidates,
    pairs with lags in bars and time, and the P&L of the period it held (from the simulator's periods)."""
    per = sim.periods.copy() if isinstance(getattr(sim, "periods", None), pd.DataFrame) else pd.DataFrame()
    pnl = {}
    if len(per):
        for _, r in per.iterrows():
            pnl[pd.Timestamp(r["asof"])] = (
                r.get("pnl"),
                r.get("return"),
                r.get("first_session"),
                r.get("last_session"),
            )
    rows = []
    for rec, d in zip(records, decisions):
        p = pnl.get(pd.Timestamp(rec["asof"]), (None, None, None, None))
        rows.append(
            {
                "asof": rec["asof"],
                "known_at": d.known_at.isoformat(),
                "trade_from": None if d.trade_from is None else d.trade_from.isoformat(),
                "status": rec.get("status"),
                "candidates": len(rec.get("candidates") or []),
                "n_pairs": len(rec["pairs"]),
                "pairs": ";".join(f"{q['leader']}->{q['follower']}:{q['lag']}" for q in rec["pairs"]),
                "lags": ";".join(tf.describe(int(q["lag"])) for q in rec["pairs"]),
                "first_bar": p[2],
                "last_bar": p[3],
                "pnl": p[0],
                "return": p[1],
                "error": rec.get("error"),
            }
        )
    return pd.DataFrame(rows)


def _fmt(x, spec="{:.2f}") -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else spec.format(x)


def bar_report(metrics: dict) -> str:
    """``report.md``: bar size, calendar and cadence, the headline table (strategy and benchmarks: CAGR, Sharpe
    with its 95 % interval, maximum drawdown), the cost table, the random-pairs null and the lags in time."""
    lines = [
        "# Intraday walk-forward",
        "",
        f"Bars: {metrics['timeframe']} ({metrics['bar']}), calendar {metrics['calendar']}, "
        f"{metrics['bars_per_year']:.6g} bars a year. Re-selection {metrics['cadence']}: "
        f"{metrics['decisions']['total']} decisions from {metrics['first_decision']} to {metrics['last_decision']} "
        f"({metrics['decisions']['with_pairs']} with pairs); traded to {metrics['end']}.",
        "",
        f"Timing: {metrics['execution']}. {metrics['annualisation']}.",
        "",
        "| curve | CAGR | Sharpe | 95 % CI | max drawdown |",
        "|---|---:|---:|---:|---:|",
    ]

    def row(name, st):
        lo, hi = st.get("sharpe_ci_low"), st.get("sharpe_ci_high")
        ci = f"[{_fmt(lo)}, {_fmt(hi)}]" if lo is not None and hi is not None else "–"
        return (
            f"| {name} | {_fmt(st.get('cagr'), '{:.1%}')} | {_fmt(st.get('sharpe'))} | {ci} | "
            f"{_fmt(st.get('max_drawdown'), '{:.1%}')} |"
        )

    lines.append(row("strategy", metrics.get("strategy") or {}))
    for name, st in (metrics.get("benchmarks") or {}).items():
        lines.append(row(name.replace("_", " "), st))
    lines += [
        "",
        "Cost table (every cost replaced by a proportional cost per side):",
        "",
        "| bps per side | CAGR | Sharpe | 95 % CI |",
        "|---:|---:|---:|---:|",
    ]
    for r in metrics.get("cost_table") or []:
        lo, hi = r.get("sharpe_ci_low"), r.get("sharpe_ci_high")
        lines.append(
            f"| {r['bps_per_side']:g} | {_fmt(r.get('cagr'), '{:.1%}')} | {_fmt(r.get('sharpe'))} | "
            f"[{_fmt(lo)}, {_fmt(hi)}] |"
        )
    null = metrics.get("random_pairs_null")
    if null:
        lines += [
            "",
            f"Random-pairs null ({null['draws']} draws, lags {null['lag_range'][0]} .. "
            f"{null['lag_range'][1]} bars): median Sharpe {_fmt(null.get('median'))} "
            f"[{_fmt(null.get('q025'))}, {_fmt(null.get('q975'))}], permutation p = "
            f"{_fmt(null.get('p_value'), '{:.4f}')}; the draws' first-order break-even cost: median "
            f"{_fmt(null.get('break_even_median'), '{:.1f}')} bps per side.",
        ]
    if metrics.get("lags"):
        lines += ["", "Selected lags: " + ", ".join(f"{k}: {v}" for k, v in metrics["lags"].items()) + "."]
    return "\n".join(lines) + "\n"
