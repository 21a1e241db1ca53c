"""Walk-forward: the weekly selection re-run out of sample over years, traded, costed and summarised.

Pipeline (``volts walkforward``; ARCHITECTURE.md "Walk-forward")
---------------------------------------------------------------
1. Bars are loaded **once** for the whole span (earliest window start of the first week .. ``end``).
2. Re-selection dates (:mod:`volts.evaluation.span`): the last XNYS session (``exchange_calendars``) of each
   requested week, or of every N-th week, between ``start`` and ``end``, each checked against the data by the
   window-coverage rule ``volts select`` applies to a date: an uncovered week (or an ``end`` after the data) is a
   data error or, under ``data.window_coverage = "warn"``, left out (shortened) and reported.
3. For each date, :func:`select_week` runs :func:`volts.selection.pipeline.run_selection` on the bars up to that date with
   the windows shifted as ``--asof`` shifts them, and keeps a compact JSON record (no figures, no I/O beyond the
   cache file). Weeks are independent, so they run through :class:`volts.core.parallel.Executor` (in-process, a local
   Dask cluster or an existing scheduler), and each finished week is written to ``<out>/weeks/<asof>.json`` at
   once (atomically) with ``config_sha256`` (:meth:`volts.core.config.Settings.selection_sha256`: every setting a
   selection can read, so not the costs, the strategy or the statistics), ``data_sha256`` and ``record_sha256``
   (the record's own content, :mod:`volts.evaluation.week_cache`). A re-run reuses a week whose two hashes match and whose
   content and fields pass verification, and recomputes the others (an edited or malformed record with a line
   saying so); a killed run loses only the weeks in flight; a run that
   changes only the trading settings re-trades the cached weeks.
4. The trading pass (sequential, cheap) turns the weeks into a schedule of :class:`volts.trading.simulate.Rebalance` and
   simulates it; the artifacts (``weeks.csv``, ``equity.csv``, ``trades.csv``, ``metrics.json``, ``report.md``,
   ``report.html``) are staged and moved into ``<out>/results/`` in one rename, only once complete.

Hooks (for variants, null models and other universes; see :class:`WalkForwardVariant`)
---------------------------------------------------------------------------------------
* ``overrides``: dotted settings changes for a variant (``{"selection.screens": ["granger"]}``); the variant's
  weeks are cached separately (their config hash differs anyway).
* ``pair_picker(week, rng) -> list of {"leader", "follower", "lag"}``: replaces the selected pairs by others
  (e.g. random pairs among the week's candidates) for null models; ``rng`` is seeded per week from
  ``variant.seed`` and the as-of date, so results do not depend on the order weeks finish.
* ``universe_for_asof(asof) -> symbols``: the universe a week selects from (point-in-time membership).
* ``[data] membership`` (point-in-time universe, issue 13): each week loads the members of its as-of date itself
  (:func:`volts.data.universe.load_universe` over that week's windows, with ``[data] on_bad_symbol``), so the
  week's universe is the index of that date, never today's survivors; the week record keeps the coverage ("n of
  m members had usable data") and every exclusion, ``weeks.csv`` and the report show them. The trading pass then
  loads only the traded symbols (:func:`trading_market`). A list universe under ``[data] on_bad_symbol =
  "exclude"`` takes the same path, as ``volts select`` loads it.
* ``strategy``: a name registered with :func:`register_strategy`; the default ``"lead_lag_trend"`` is the paper's
  trend rule simulated by :func:`volts.trading.simulate.simulate_schedule`.

:func:`compare_variants` runs several variants over the same weeks and returns one table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from volts.core.artifacts import atomic_write_csv, atomic_write_json, now_utc_iso, staged_run_dir, to_jsonable
from volts.core.config import Settings
from volts.core.errors import DataError, UsageError
from volts.core.parallel import Executor
from volts.core.registry import REPORT_WRITERS, load_plugins
from volts.core.registry import STRATEGIES as _STRATEGY_REGISTRY
from volts.data.market import MarketData
from volts.evaluation.disclosure import week_columns
from volts.evaluation.nulls import headline_inference
from volts.evaluation.pickers import (  # noqa: F401  (re-exported: this module's API before the split)
    PairPicker,
    RandomPairs,
    _default_lag_range,
    apply_pair_picker,
    random_pairs_picker,
)
from volts.evaluation.schedule import (  # noqa: F401  (re-exported: this module's API before the split)
    UniverseFn,
    _to_date,
    build_schedule,
    pair_name,
    parse_every,
    rebalance_dates,
)
from volts.evaluation.span import DEFAULT_END, walkforward_data_quality, walkforward_span
from volts.evaluation.strategies import (  # noqa: F401  (re-exported: this module's API before the split)
    STRATEGIES,
    _strategy,
    register_strategy,
    strategy_names,
)
from volts.evaluation.summary import (  # noqa: F401  (re-exported: this module's API before the split)
    COST_TABLE_BPS,
    _difference,
    _g,
    _stats,
    _value_at,
    comparison_row,
    planted_recovery,
    summarise,
    universe_summary,
    weeks_summary,
    weeks_table,
)
from volts.evaluation.trading_market import (  # noqa: F401  (re-exported: this module's API before the split)
    _merge_spans,
    _read_spans,
    _week_spans,
    candidates_market,
    load_walkforward_market,
    null_weeks,
    trading_market,
)
from volts.evaluation.verdict import verdict
from volts.evaluation.weeks import (  # noqa: F401  (re-exported: this module's API before the split)
    WEEK_FORMAT,
    _flagged_notes,
    _read_cached,
    _select_week_task,
    _settings_for_week,
    _week_market,
    membership_calendar,
    membership_week_hashes,
    run_weeks,
    select_week,
    select_week_members,
    week_hashes,
)

log = logging.getLogger("volts.evaluation.walkforward")


# ---------------------------------------------------------------------------------------- variants
@dataclass(frozen=True)
class WalkForwardVariant:
    """One way of running the walk-forward (see the module docstring, "Hooks").

    Attributes
    ----------
    name : str
        Label in tables and the results folder's name (letters, digits, ``-``, ``_``, ``.``).
    overrides : mapping of str to value
        Dotted settings overrides applied before selecting, e.g. ``{"granger.series": "log_return"}``.
    pair_picker : callable, optional
        ``pair_picker(week, rng) -> pairs`` replacing the week's selected pairs (null models).
    seed : int
        Seed of the per-week generators handed to ``pair_picker``.
    strategy : str
        Name of a registered strategy (default the paper's lead-lag trend rule).
    """

    name: str = "strategy"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    pair_picker: PairPicker | None = None
    seed: int = 0
    strategy: str = "lead_lag_trend"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise UsageError(f"variant name {self.name!r}: use letters, digits, '-', '_' or '.'")

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` with this variant's overrides applied (validated)."""
        return settings.override(**dict(self.overrides)) if self.overrides else settings


# ------------------------------------------------------------------------------------------- result
@dataclass
class WalkForwardResult:
    """What :func:`run_walkforward` produced.

    Attributes
    ----------
    folder : Path
        The results folder (``<out>/results`` or ``<out>/results-<variant>``).
    dates : list of datetime.date
        Re-selection dates.
    weeks : list of dict
        The week records (after a variant's pair picker).
    simulation : object
        The strategy's ``SimulationResult`` at the configured costs.
    metrics : dict
        ``metrics.json``.
    table : pandas.DataFrame
        ``weeks.csv``.
    stats : dict
        Cached/computed week counts and wall times (``run.json``).
    """

    folder: Path
    dates: list
    weeks: list
    simulation: Any
    metrics: dict
    table: pd.DataFrame
    stats: dict


def run_walkforward(settings: Settings, *, start, end, every: str = "1W", out: Path, executor=None,
                    force: bool = False, variant: WalkForwardVariant | None = None,
                    market: MarketData | None = None, universe_for_asof: UniverseFn | None = None,
                    engine: str = "vectorised", report: bool = True,
                    comparison: pd.DataFrame | None = None,
                    on_week: Callable[[dict], None] | None = None, ablation: Any = None,
                    date_stability: int = 0) -> WalkForwardResult:
    """Re-select every week (or every N weeks) out of sample, trade the schedule and write the artifacts.

    Parameters
    ----------
    settings : Settings
        Validated settings (windows are shifted to each as-of date).
    start, end : date-like
        Span of the re-selection dates (both inclusive); trading runs to ``end``. ``end`` None = 2024-03-08 cut to
        the data's last date (reported). The requested weeks and ``end`` are checked against the data by the
        window-coverage rule of ``volts select`` (:mod:`volts.evaluation.span`): a week the data do not cover, or
        an ``end`` after the data, is a data error, or under ``data.window_coverage = "warn"`` a reported
        exclusion or shortening (``metrics.json["span"]``).
    every : str, default "1W"
        Re-selection frequency in weeks (``"1W"``, ``"2W"``, ...); a holding lasts until the next re-selection.
    out : Path
        Walk-forward folder: ``weeks/<asof>.json`` (cache), ``results/`` (artifacts), ``run.json``.
    executor : volts.core.parallel.Executor, optional
        Where the weeks run (default: in-process).
    force : bool
        Recompute every week even when a cached one has the same hashes.
    variant : WalkForwardVariant, optional
        Settings overrides, pair picker and strategy (default: the configured strategy, as selected).
    market : MarketData, optional
        Bars to use (default: loaded once through the configured source).
    universe_for_asof : callable, optional
        ``asof -> symbols`` (point-in-time universe); ``market`` must hold every symbol it can return.
    engine : {"vectorised", "backtrader"}
        Simulator of the trading pass (``volts.trading.simulate``); backtrader is the engine of record.
    report : bool
        Write ``report.md``/``report.html`` and their figures.
    comparison : pandas.DataFrame, optional
        A variant comparison (:func:`compare_variants`) to render in the report.
    on_week : callable, optional
        Called with each newly computed week record (after it is cached).
    ablation : volts.evaluation.ablation.Ablation, optional
        The other rows of the null/ablation table (run beforehand over the same weeks, :func:`volts.evaluation.nulls.
        run_ablation`); this run is the headline row: its random-pairs null and its deflated Sharpe ratio go into
        ``metrics.json`` (``ablation``, ``sharpe_inference``), ``ablation.csv``, ``nulls.json`` and the report.
    date_stability : int, default 0
        k > 0: for every week with pairs, the share of the k sessions before and after its as-of date whose own
        selection picks each pair (:func:`volts.selection.date_stability.walkforward_date_stability`: up to 2k more
        selections per week with pairs) in ``metrics.json``, ``weeks.csv`` and the report. Static universe only.

    Returns
    -------
    WalkForwardResult

    Notes
    -----
    ``metrics.json`` always holds ``sharpe_inference`` (:func:`volts.evaluation.sharpe.sharpe_inference` of the strategy's
    daily excess returns): the probabilistic Sharpe ratio and, with one trial (no ``ablation``), DSR = PSR(0).

    Raises
    ------
    UsageError
        Bad dates or frequency, no re-selection date in the span, an unknown strategy.
    DataError
        The data cannot be loaded or, under ``data.window_coverage = "error"``, do not cover a requested week's
        windows or the span up to ``end``.
    """
    variant = variant or WalkForwardVariant()
    requested_end = None if end is None else _to_date(end)   # None: the default end, cut to the data's (reported)
    start, end = _to_date(start), requested_end or DEFAULT_END
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    wsettings = variant.settings_for(settings)
    strategy_fn = _strategy(variant.strategy, settings)
    t_total = time.perf_counter()
    plan = _plan_span(wsettings, start=start, requested_end=requested_end, every=every, market=market,
                      universe_for_asof=universe_for_asof)
    end, dates, market = plan.span.end, plan.span.dates, plan.market
    out = Path(out)
    cache_dir = out / ("weeks" if not variant.overrides else f"weeks-{variant.name}")
    own = executor is None
    ex = Executor() if own else executor
    try:
        if own:
            ex.__enter__()
        weeks, stats = run_weeks(None if plan.point_in_time else market, wsettings, dates, cache_dir=cache_dir,
                                 executor=ex, force=force, universe_for_asof=universe_for_asof, on_week=on_week)
    finally:
        if own:
            ex.close()
    weeks = apply_pair_picker(weeks, variant.pair_picker, variant.seed)
    traded_info = None
    load_seconds = plan.load_seconds
    if plan.point_in_time:
        t0 = time.perf_counter()
        market, traded_info = trading_market(wsettings, weeks, end=end)
        full = [s for s in traded_info["symbols"] if s not in traded_info["padded"]]
        wsettings = wsettings.override(**{"data.universe": full or list(market.symbols)})
        load_seconds += time.perf_counter() - t0

    ex.stage("trading pass")
    t0 = time.perf_counter()
    schedule = build_schedule(weeks)
    sim = strategy_fn(market, schedule, end=end, settings=wsettings, engine=engine, cost_bps=None)
    sim_seconds = time.perf_counter() - t0
    table, dstab = _weeks_table(sim, weeks, market, wsettings, end=end, date_stability=date_stability,
                                point_in_time=plan.point_in_time, executor=None if own else executor)
    ex.stage("statistics and bootstrap intervals")
    t0 = time.perf_counter()
    metrics = summarise(sim, weeks, settings=wsettings, market=market, schedule=schedule, end=end,
                        strategy_fn=strategy_fn, engine=engine)
    stats_seconds = time.perf_counter() - t0
    metrics = _headline_metrics(metrics, settings=settings, wsettings=wsettings, variant=variant, engine=engine,
                                start=start, end=end, requested_end=requested_end, every=every, span=plan.span,
                                market=market, weeks=weeks, point_in_time=plan.point_in_time,
                                traded_info=traded_info, dstab=dstab)
    ablation_files: dict[str, Any] = {}
    if ablation is not None:
        # point in time: the random pairs come from each week's candidates, most of them never traded by the
        # headline, so the null trades on a market of every candidate (validated over the spans it can be held)
        null_market, null_dropped = (candidates_market(wsettings, weeks, end=end) if plan.point_in_time
                                     else (market, []))
        section, inference, ablation_files = ablation.evaluate(
            sim=sim, weeks=weeks, market=null_market, settings=wsettings, end=end, metrics=metrics,
            strategy=variant.strategy, engine=engine, executor=None if own else executor,
            dropped_candidates=null_dropped)
        metrics["ablation"] = section
        metrics["sharpe_inference"] = inference
    else:
        metrics["sharpe_inference"] = headline_inference(sim.equity, wsettings, trial_sharpes=None)
    metrics = to_jsonable(metrics)
    metrics["verdict"] = verdict(metrics)
    stage_seconds: dict[str, list[float]] = {}
    for w in weeks:
        for k, v in (w.get("timings") or {}).items():
            stage_seconds.setdefault(k, []).append(float(v))
    stats.update(load_seconds=load_seconds, simulate_seconds=sim_seconds, statistics_seconds=stats_seconds,
                 executor=ex.describe(), weeks=len(dates),
                 mean_week_seconds_by_stage={k: float(np.mean(v)) for k, v in stage_seconds.items()})
    name = "results" if variant.name == "strategy" else f"results-{variant.name}"
    ex.stage("report and artifacts" if report else "artifacts")
    _write_results(out / name, sim=sim, table=table, metrics=metrics, ablation_files=ablation_files, stats=stats,
                   t_total=t_total, report=report, weeks=weeks, comparison=comparison)
    ex.stage(None)
    stats["total_seconds"] = time.perf_counter() - t_total
    return WalkForwardResult(folder=out / name, dates=dates, weeks=weeks, simulation=sim, metrics=metrics,
                             table=table, stats=stats)


@dataclass(frozen=True)
class _SpanPlan:
    point_in_time: bool
    market: MarketData | None
    span: Any            # volts.evaluation.span.WalkForwardSpan
    load_seconds: float


def _plan_span(wsettings: Settings, *, start: dt.date, requested_end: dt.date | None, every: str,
               market: MarketData | None, universe_for_asof: UniverseFn | None) -> _SpanPlan:
    """Load the bars (or, point in time, the calendar) and check the requested weeks against them."""
    t0 = time.perf_counter()
    # a per-symbol universe (point-in-time members, or a list under on_bad_symbol = "exclude") loads each week's
    # members as `volts select` does, leaving out (and reporting) those that do not cover the week's windows
    point_in_time = (bool(wsettings.data.membership) or wsettings.data.on_bad_symbol == "exclude") \
        and market is None and universe_for_asof is None
    end = requested_end or DEFAULT_END
    if point_in_time:  # each week loads its own members; the trading pass loads the traded symbols afterwards
        calendar = membership_calendar(wsettings, start, end)
    else:
        if market is None:
            market = load_walkforward_market(wsettings, start, end)
        calendar = market.dates
        from volts.trading.schedule import CostModel   # a spread that cannot be priced (a pip spread for a symbol
        CostModel.from_settings(wsettings).check_symbols(market.symbols)   # without a pip size) stops it here
    load_seconds = time.perf_counter() - t0
    # the requested weeks and end, checked against the data by the window-coverage rule of `volts select`
    span = walkforward_span(wsettings, calendar, start=start, end=requested_end, every=every,
                            market=None if point_in_time else market)
    end, dates = span.end, span.dates
    for line in span.notes:
        log.warning(line)
    if not dates:
        raise UsageError(f"no complete week with data between {start} and {end} "
                         f"(data {calendar[0].date()} .. {calendar[-1].date()})")
    first_trade = int(calendar.searchsorted(pd.Timestamp(dates[0]), side="right"))   # first session after it
    if first_trade >= len(calendar) or calendar[first_trade].date() > end:
        # checked before any selection runs: nothing would trade, so computing the weeks would be wasted
        raise UsageError(f"end {end}: no session after the first re-selection {dates[0]} (data "
                         f"{calendar[0].date()} .. {calendar[-1].date()}), so nothing would trade; choose a "
                         f"later --end")
    return _SpanPlan(point_in_time=point_in_time, market=market, span=span, load_seconds=load_seconds)


def _weeks_table(sim, weeks: Sequence[dict], market: MarketData, wsettings: Settings, *, end: dt.date,
                 date_stability: int, point_in_time: bool, executor) -> tuple[pd.DataFrame, dict | None]:
    """``weeks.csv``: one row per re-selection, with the span of its P&L, its costs, unfunded pairs and (k > 0)
    the date stability of its pairs."""
    capital = getattr(getattr(sim, "costs", None), "capital", None)
    table = weeks_table(weeks, sim.equity, end=end, capital=capital)
    table = week_columns(table, sim, weeks, end=end)   # span of each row's P&L, its costs, unfunded pairs
    dstab = None
    if date_stability and not point_in_time:   # neighbours' selections read the same static market
        from volts.selection.date_stability import walkforward_date_stability

        dstab = walkforward_date_stability(market, wsettings, weeks, int(date_stability), executor=executor)
        table["date_stability"] = [" ".join(f"{n}:{v['share']:.2f}" for n, v in
                                            dstab["weeks"].get(str(w["asof"]), {}).items() if v["share"] is not None)
                                   for w in weeks]
    return table, dstab


def _headline_metrics(metrics: dict, *, settings: Settings, wsettings: Settings, variant: WalkForwardVariant,
                      engine: str, start: dt.date, end: dt.date, requested_end: dt.date | None, every: str, span,
                      market: MarketData, weeks: Sequence[dict], point_in_time: bool, traded_info, dstab) -> dict:
    """The run's provenance (span, data quality and policy, hashes) in front of its statistics, plus the universe,
    date stability and (synthetic data) the planted pairs' recovery."""
    dates = span.dates
    flagged = {}
    for w in weeks:
        for note in w.get("flagged") or []:
            flagged[(note["symbol"], note["date"], note["rule"])] = note
    metrics = {
        "variant": variant.name, "strategy_name": variant.strategy, "engine": engine,
        "start": (start if not any(e["week"] < dates[0].isoformat() for e in span.excluded_weeks)
                  else dates[0]).isoformat(), "end": end.isoformat(), "every": every,
        "span": span.to_dict(start, requested_end),
        "first_asof": dates[0].isoformat(), "last_asof": dates[-1].isoformat(),
        "data_quality": walkforward_data_quality(market, weeks, per_week=point_in_time),
        "data_policy": {"return_jump": wsettings.data.return_jump,
                        "max_abs_return": wsettings.data.max_abs_return,
                        "flagged_notes_seen_by_selections": list(flagged.values())},
        "config_sha256": (variant.settings_for(settings) if point_in_time else wsettings).sha256(),
        "data_sha256": market.sha256(),
        **metrics,
    }
    if point_in_time:
        metrics["universe"] = universe_summary(weeks, traded_info)
    if dstab is not None:
        metrics["date_stability"] = dstab
    if wsettings.data.source == "synthetic":
        from volts.data.synthetic import make_synthetic_market

        truth = make_synthetic_market(seed=wsettings.data.synthetic_seed).truth
        metrics["planted"] = planted_recovery(weeks, [p.to_dict() for p in truth.pairs])
    return metrics


def _write_results(folder: Path, *, sim, table: pd.DataFrame, metrics: dict, ablation_files: dict, stats: dict,
                   t_total: float, report: bool, weeks: Sequence[dict], comparison) -> None:
    """Write the run's artifacts into a staging folder and swap it into place as ``folder``."""
    with staged_run_dir(folder.parent, folder.name, force=True, latest=False) as staging:
        atomic_write_csv(staging / "weeks.csv", table, index=False)
        eq = pd.DataFrame({"strategy": sim.equity, **{k: v for k, v in (sim.benchmarks or {}).items()}})
        eq.index.name = "date"
        if hasattr(sim, "to_frames"):  # equity (+ turnover), trades, fills, positions, periods
            for fname, frame in sim.to_frames().items():
                atomic_write_csv(staging / f"{fname}.csv", frame, index=False)
        else:
            atomic_write_csv(staging / "equity.csv", eq)
            trades = sim.trades if sim.trades is not None else pd.DataFrame()
            atomic_write_csv(staging / "trades.csv", trades, index=False)
        atomic_write_json(staging / "metrics.json", metrics)
        for fname, obj in ablation_files.items():  # ablation.csv, nulls.json
            if isinstance(obj, pd.DataFrame):
                atomic_write_csv(staging / fname, obj, index=False)
            else:
                atomic_write_json(staging / fname, to_jsonable(obj))
        stats["total_seconds"] = time.perf_counter() - t_total
        atomic_write_json(staging / "run.json", {"created": now_utc_iso(), **stats})
        if report:
            REPORT_WRITERS["walkforward"](staging, metrics=metrics, equity=eq, table=table, weeks=weeks,
                                          comparison=comparison)


def require_static_universe(settings: Settings, what: str, *, market=None, universe_for_asof=None) -> None:
    """Refuse a point-in-time membership run where ``what`` (a CLI option) supports only a fixed universe.

    ``--compare-screens`` loads one market for ``[data] universe`` and trades its variant rows on it. With
    ``[data] membership`` set, that list is not the universe the weeks would use (for ``examples/sp500.toml`` it
    is the built-in ten names), so the run would silently answer another question. (``--ablation`` handles a
    membership universe itself: :func:`volts.evaluation.ablation.run_ablation`.)

    Raises
    ------
    UsageError
        ``settings.data.membership`` is set and neither ``market`` nor ``universe_for_asof`` was given.
    """
    if settings.data.membership and market is None and universe_for_asof is None:
        raise UsageError(f"{what} does not support a point-in-time universe yet ([data] membership = "
                         f"{settings.data.membership}): it would run on the fixed list [data] universe "
                         f"({len(settings.data.universe)} names) instead of each week's members. Run the plain "
                         f"walk-forward for the membership universe, or give {what} an explicit [data] universe "
                         f"and remove membership")


def compare_variants(settings: Settings, variants: Sequence[WalkForwardVariant], *, start, end, out: Path,
                     every: str = "1W", executor=None, market: MarketData | None = None,
                     engine: str = "vectorised", force: bool = False,
                     universe_for_asof: UniverseFn | None = None) -> pd.DataFrame:
    """Run several variants over the SAME re-selection dates and return one comparison table.

    Every variant sees the same bars (loaded once) and the same weeks; variants without settings overrides
    share the base selection cache, so a null model (pair picker) costs only its trading pass. The table is
    also written to ``<out>/comparison.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per variant: CAGR, annualised volatility, Sharpe with its 95 % CI, maximum drawdown, turnover,
        weeks in cash, distinct pairs, and the annualised mean difference of daily returns against the
        followers' buy-and-hold with its CI.
    """
    from volts.core.artifacts import atomic_write_csv

    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise UsageError(f"variant names must be distinct (got {names})")
    start, end = _to_date(start), None if end is None else _to_date(end)
    require_static_universe(settings, "--compare-screens", market=market, universe_for_asof=universe_for_asof)
    if market is None:
        base = [settings] + [v.settings_for(settings) for v in variants]
        symbols = sorted({s for st in base for s in st.data.universe}) if settings.data.source != "synthetic" \
            else None
        market = load_walkforward_market(settings, start, end, symbols=symbols)
    rows = []
    for i, v in enumerate(variants, 1):
        if executor is not None:
            executor.note(f"variant {i}/{len(variants)}: {v.name}")
        res = run_walkforward(settings, start=start, end=end, every=every, out=out, executor=executor,
                              force=force, variant=v, market=market, universe_for_asof=universe_for_asof,
                              engine=engine, report=False)
        rows.append(comparison_row(v.name, res.metrics))
    table = pd.DataFrame(rows)
    atomic_write_csv(Path(out) / "comparison.csv", table, index=False)
    return table


