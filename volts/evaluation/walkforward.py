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

from volts.core.config import Settings
from volts.data.market import MarketData
from volts.core.errors import DataError, UsageError

log = logging.getLogger("volts.evaluation.walkforward")

PairPicker = Callable[[dict, np.random.Generator], Sequence[Mapping[str, Any]]]
UniverseFn = Callable[[dt.date], Sequence[str]]
WEEK_FORMAT = 1  # bump when the week record's layout changes (old cache files are then recomputed)


# --------------------------------------------------------------------------------------------- dates
def parse_every(every: str) -> int:
    """Number of weeks in an ``--every`` / ``--hold`` text: ``"1W"``, ``"2W"``, ``"W"`` (= 1).

    Raises
    ------
    UsageError
        Anything else (the message names the accepted form).
    """
    m = re.fullmatch(r"\s*(\d*)\s*[wW]\s*", str(every))
    if not m or (m.group(1) and int(m.group(1)) < 1):
        raise UsageError(f"--every/--hold: '{every}' is not a number of weeks (expected e.g. 1W or 2W)")
    return int(m.group(1) or 1)


def _to_date(x) -> dt.date:
    return pd.Timestamp(x).date()


def rebalance_dates(dates: MarketData | Iterable, start, end, every: str = "1W") -> list[dt.date]:
    """Re-selection dates: the last session of each week (or of every N-th week) in ``[start, end]``.

    Parameters
    ----------
    dates : MarketData or iterable of date-like
        The data's trading dates (a ``MarketData`` gives its ``dates``).
    start, end : date-like
        Both inclusive.
    every : str, default "1W"
        ``"NW"``: keep the 1st, (N+1)-th, (2N+1)-th ... week counted from the first week in range.

    Returns
    -------
    list of datetime.date
        Ascending. A week's date is its last XNYS session (``exchange_calendars``) that the data also has; a week
        whose last XNYS session lies after ``end`` is not complete and is left out; a week the data does not
        cover is left out.

    Raises
    ------
    UsageError
        ``start`` after ``end`` or a malformed ``every``.
    """
    import exchange_calendars as xcals

    n = parse_every(every)
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if start > end:
        raise UsageError(f"--start {start.date()} is after --end {end.date()}")
    idx = dates.dates if isinstance(dates, MarketData) else pd.DatetimeIndex(pd.to_datetime(list(dates)))
    idx = pd.DatetimeIndex(idx).normalize()
    import warnings

    with warnings.catch_warnings():  # exchange_calendars' own use of a pandas API deprecated in pandas 3
        warnings.filterwarnings("ignore", message=".*Series.values returning an ndarray.*")
        cal = xcals.get_calendar("XNYS", start=min(start, idx.min()) - pd.Timedelta(days=10),
                                 end=max(end, idx.max()) + pd.Timedelta(days=10))
    sessions = cal.sessions_in_range(start - pd.Timedelta(days=7), end + pd.Timedelta(days=7)).tz_localize(None)
    week = sessions.to_period("W-SUN")
    last_session = pd.Series(sessions, index=sessions).groupby(week).max()  # the exchange's last session per week
    have = pd.Series(1, index=idx[(idx >= start) & (idx <= end)])
    known = sessions[sessions.isin(have.index)]
    per_week = pd.Series(known, index=known).groupby(known.to_period("W-SUN")).max()
    out = [d for p, d in per_week.items() if last_session[p] <= end and d >= start]
    return [d.date() for d in out[::n]]


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


# ------------------------------------------------------------------------------------------- weeks
def _week_market(market: MarketData, settings: Settings, asof: dt.date) -> tuple[MarketData, tuple[str, ...]]:
    """The bars ``run_selection`` may read for ``asof`` (its universe, earliest window start .. asof)."""
    from volts.selection.pipeline import earliest_start

    windows = settings.windows.shifted(asof)
    universe = tuple(settings.data.universe) if settings.data.source != "synthetic" else tuple(market.symbols)
    return market.select(universe).slice(earliest_start(windows), asof), universe


def week_hashes(market: MarketData, settings: Settings, asof: dt.date) -> tuple[str, str]:
    """``(config_sha256, data_sha256)`` identifying one week's selection (the cache key besides the date).

    ``data_sha256`` hashes exactly the bars the selection of ``asof`` can see (``MarketData.sha256``), so a
    change to any bar after ``asof`` or before the first window leaves it unchanged.
    """
    sub, _ = _week_market(market, settings, asof)
    return settings.selection_sha256(), sub.sha256()


def select_week(market: MarketData, settings: Settings, asof: dt.date) -> dict:
    """Run the selection as of ``asof`` and return a compact, JSON-able record of the week.

    Parameters
    ----------
    market : MarketData
        Bars of every universe symbol (those after ``asof`` are never read).
    settings : Settings
        Validated settings (the windows are shifted to ``asof``; ``data.universe`` names the universe).
    asof : datetime.date
        Last session whose bars the selection sees.

    Returns
    -------
    dict
        ``asof``, ``status`` (``"ok"``, or ``"no_selection"`` when a stage met too little input, e.g. fewer than two
        mid-volatility stocks, with ``error`` = its message: the week then holds cash), ``universe``,
        ``candidates``, ``funnel`` (stage, entered, kept), ``pairs`` (leader, follower, lag and the statistics of
        :class:`volts.selection.pipeline.SelectedPair`), ``dropped_by_stage``, ``warnings``, ``stability`` (only when
        ``stability.runs`` > 0: R, threshold, each pair's share, the pairs dropped below the threshold; the
        selection then runs R more times, :mod:`volts.selection.stability`), ``flagged`` (validation
        notes on the bars the week sees, e.g. a kept ``return_jump``), ``timings`` (seconds by stage; wall time,
        so they vary between runs), ``windows``, ``config_sha256``, ``data_sha256``.

    Raises
    ------
    DataError
        Only for problems of the data itself (a universe symbol missing from ``market``).
    """
    from volts.selection.pipeline import run_selection

    asof = _to_date(asof)
    sub, universe = _week_market(market, settings, asof)
    record: dict[str, Any] = {"format": WEEK_FORMAT, "asof": asof.isoformat(),
                              "config_sha256": settings.selection_sha256(),
                              "data_sha256": sub.sha256(), "universe": list(universe)}
    windows = settings.windows.shifted(asof)
    record["windows"] = {k: getattr(windows, k).isoformat() for k in type(windows).model_fields}
    record["flagged"] = _flagged_notes(market, sub)
    t0 = time.perf_counter()
    # The record keeps the candidates, the funnel and the kept pairs, so the week runs the lean selection: no
    # anomaly scores unless they shape the GMM sample, no alignment diagnostics, and the curtailed surrogate test,
    # whose keep decisions are the full test's and whose kept pairs carry the full test's numbers
    # (volts.selection.causality.entropy.ete_screen). The record is the one of the full selection; the config hash is
    # that of ``settings`` as given.
    lean = settings.override(**{"entropy.stop_early": True})
    try:
        sel = run_selection(sub, lean, asof=asof, pairs_only=True)
    except DataError as exc:
        record.update(status="no_selection", error=str(exc), candidates=[], funnel=[], pairs=[],
                      dropped_by_stage={}, warnings=[], timings={"total": time.perf_counter() - t0})
        return record
    if len(sel.candidates) < 2:   # fewer than two mid-volatility names: the week holds cash (a result)
        record.update(status="no_selection", error=sel.warnings[-1], candidates=[], funnel=[], pairs=[],
                      dropped_by_stage={}, warnings=[], timings={"total": time.perf_counter() - t0})
        return record
    if settings.stability.runs > 0:  # stability selection inside the week (R more selections; the ablation row)
        from volts.selection.stability import stability_selection, with_stability

        t1 = time.perf_counter()
        stab = stability_selection(sub, settings, asof=asof)
        sel = with_stability(sel, stab)
        sel.timings["stability"] = time.perf_counter() - t1
        st = sel.stability
        record["stability"] = {"runs": st["runs"], "threshold": st["threshold"], "block_length": st["block_length"],
                               "seed": st["seed"], "selected": st["selected"], "dropped": st["dropped"],
                               "failed_runs": int(sum(st["failed"].values()))}
    dropped: dict[str, int] = {}
    for stage in sel.dropped.values():
        dropped[stage] = dropped.get(stage, 0) + 1
    record.update(
        status="ok", error=None, candidates=list(sel.candidates),
        funnel=[s.to_dict() for s in sel.funnel], pairs=[p.to_dict() for p in sel.pairs],
        dropped_by_stage=dropped, warnings=list(sel.warnings),
        timings={**{k: float(v) for k, v in sel.timings.items()}, "total": time.perf_counter() - t0})
    from volts.core.artifacts import to_jsonable

    return to_jsonable(record)


def _flagged_notes(market: MarketData, sub: MarketData) -> list[dict]:
    """Validation findings kept as notes (action ``flagged``) on the symbols and dates a week's selection sees."""
    report = market.report
    if report is None:
        return []
    lo, hi = sub.dates[0].date().isoformat(), sub.dates[-1].date().isoformat()
    syms = set(sub.symbols)
    return [p.to_dict() for p in report.problems
            if p.action == "flagged" and p.symbol in syms and p.date is not None and lo <= p.date <= hi]


def _select_week_task(asof: dt.date, *, market: MarketData | None, settings: Settings,
                      universe_for_asof: UniverseFn | None = None,
                      data_sha: Mapping[dt.date, str] | None = None) -> dict:
    """Executor task: one week (top-level so that it pickles to Dask workers)."""
    if market is None:  # point-in-time membership: the week loads its own members (on the worker)
        return select_week_members(settings, asof, data_sha256=(data_sha or {}).get(asof))
    if universe_for_asof is not None:
        universe = list(universe_for_asof(asof))
        settings = settings.override(**{"data.universe": universe})
    return select_week(market, settings, asof)


def select_week_members(settings: Settings, asof: dt.date, *, data_sha256: str | None = None) -> dict:
    """One week of a point-in-time walk-forward: load the members of ``asof``, then :func:`select_week`.

    Parameters
    ----------
    settings : Settings
        ``[data] membership`` names the membership file; ``on_bad_symbol``, ``cache_dir`` and the validation
        policies apply per symbol over the week's windows (earliest window start .. ``asof``).
    asof : datetime.date
    data_sha256 : str, optional
        The week's data hash as computed by :func:`membership_week_hashes` (stored in the record so the cache
        check can compare it without loading the bars); default the hash of the loaded bars.

    Returns
    -------
    dict
        The :func:`select_week` record plus ``universe_coverage`` (``UniverseReport.to_dict()``: members,
        usable, the coverage line, every exclusion with file, date and rule) and ``bars_sha256`` (the hash of the
        bars the selection saw). ``universe`` lists the usable members; ``config_sha256`` is the run's selection
        settings hash (:meth:`Settings.selection_sha256`; the per-week universe is data, not configuration); ``timings`` gains ``load_universe`` (seconds to
        read and validate the members; ``total`` stays the selection's).

    Raises
    ------
    DataError
        With ``on_bad_symbol = "error"``, the first bad member file; in any mode, fewer than two usable members.
    """
    from volts.data.universe import load_universe
    from volts.selection.pipeline import earliest_start

    asof = _to_date(asof)
    windows = settings.windows.shifted(asof)
    t0 = time.perf_counter()
    sub, report = load_universe(settings.data, asof=asof, start=earliest_start(windows), end=asof,
                                zero_range_run=settings.volatility.window, zero_range_since=windows.gmm_start,
                                # one window per week: nothing keyed by the window is ever read again
                                whole_set_entry=False, validated_entries=False)
    load_seconds = time.perf_counter() - t0
    week_settings = settings.override(**{"data.universe": list(report.usable)})
    record = select_week(sub, week_settings, asof)
    record["timings"] = {"load_universe": load_seconds, **record["timings"]}
    record["bars_sha256"] = record["data_sha256"]
    if sub.report is not None:   # rows this week's load dropped (the run's summary counts each once)
        record["data_dropped"] = [p.to_dict() for p in sub.report.problems if p.action == "dropped"]
    record["config_sha256"] = settings.selection_sha256()
    if data_sha256 is not None:
        record["data_sha256"] = data_sha256
    cov = report.to_dict()
    cov.pop("usable_symbols", None)  # the same list as the record's "universe"
    from volts.core.artifacts import to_jsonable

    record["universe_coverage"] = to_jsonable(cov)
    return record


def membership_week_hashes(settings: Settings, dates: Sequence[dt.date]) -> dict[dt.date, str]:
    """Data hash of each week of a point-in-time walk-forward, without loading any bars.

    The hash covers the membership file's bytes, the members of the as-of date and the SHA-256 of each member's
    file (or its absence). It is coarser than :meth:`MarketData.sha256` (any edit of a member's file, even after
    the as-of date, recomputes the week) but costs one read of each file per run, not a validation per week.
    Validation settings and windows are in the config hash and the as-of date in the cache's file name.
    """
    import json

    from volts.data.cache import file_sha256
    from volts.data.csv import symbol_file
    from volts.data.universe import members_on, read_membership

    d = settings.data
    # a list universe under on_bad_symbol = "exclude": the same members every week (the synthetic market: its seed)
    table = read_membership(d.membership) if d.membership else None
    head = file_sha256(d.membership) if d.membership else \
        f"list:{','.join(d.universe)}" + (f":synthetic:{d.synthetic_seed}" if d.source == "synthetic" else "")
    files: dict[str, str | None] = {}
    out: dict[dt.date, str] = {}
    for asof in dates:
        members = list(members_on(table, asof)) if table is not None else list(d.universe)
        for sym in members:
            if sym not in files:
                path = symbol_file(d.dir, sym, d.csv) if d.source == "csv" else None
                files[sym] = file_sha256(path) if path is not None and Path(path).is_file() else None
        blob = json.dumps({"membership": head, "asof": asof.isoformat(), "files": {m: files[m] for m in members}},
                          sort_keys=True)
        out[asof] = hashlib.sha256(blob.encode()).hexdigest()
    return out


def membership_calendar(settings: Settings, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Trading dates of a point-in-time walk-forward: the sessions the members of ``end`` have bars on.

    The majority calendar (:func:`volts.data.universe.load_universe`) of the members of ``end`` over
    ``start .. end``; used only to place the re-selection dates and to cap ``end`` at the data's last date.
    """
    from volts.data.universe import load_universe

    data = settings.data.model_copy(update={"on_bad_symbol": "exclude"})
    market, _ = load_universe(data, asof=end, start=start, end=end)
    return market.dates


def _week_spans(settings: Settings, weeks: Sequence[dict], dates: pd.DatetimeIndex,
                end: dt.date) -> dict[str, list[tuple[str, int, int]]]:
    """Per traded symbol, the ``(asof, first, last)`` session indices (into ``dates``) each week holding it reads.

    A pair of the week as of ``a`` is traded from the first session after ``a`` to the first session after the
    next as-of date (the exit fill at that open), or to ``end``. Its leader's trend signal reads the closes of the
    ``lag + ma_window`` sessions before, and the selection read the week's windows: a span starts at the earlier
    of the week's earliest window start and ``lag + ma_window + 1`` sessions before ``a``.
    """
    from volts.selection.pipeline import earliest_start

    ma = int(settings.strategy.ma_window)
    last = dates.searchsorted(pd.Timestamp(end), side="right") - 1
    raw: dict[str, list[tuple[str, int, int]]] = {}
    for k, w in enumerate(weeks):
        asof = _to_date(w["asof"])
        nxt = _to_date(weeks[k + 1]["asof"]) if k + 1 < len(weeks) else None
        at = int(dates.searchsorted(pd.Timestamp(asof), side="right")) - 1   # last session <= asof
        stop = last if nxt is None else min(last, int(dates.searchsorted(pd.Timestamp(nxt), side="right")))
        window = int(dates.searchsorted(pd.Timestamp(earliest_start(settings.windows.shifted(asof)))))
        for p in w["pairs"]:
            first = max(0, min(window, at - (int(p.get("lag", 1)) + ma + 1)))
            for sym in {p["leader"], p["follower"]}:
                raw.setdefault(sym, []).append((asof.isoformat(), first, max(first, stop)))
    return raw


def _merge_spans(parts: Sequence[tuple[str, int, int]], dates: pd.DatetimeIndex
                 ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Overlapping or adjacent ``(asof, first, last)`` spans merged into ``(first, last)`` session stamps."""
    merged: list[list[int]] = []
    for a, b in sorted((a, b) for _, a, b in parts):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(dates[a], dates[b]) for a, b in merged]


def trading_market(settings: Settings, weeks: Sequence[dict], *, end: dt.date,
                   drop_bad_weeks: bool = False) -> tuple[MarketData, dict]:
    """Bars of every traded symbol of a point-in-time walk-forward, on one calendar, for the trading pass.

    Every symbol of a selected pair is first read and validated from the earliest window start of the first week
    to ``end``. A symbol that fails there (listed later, delisted before ``end``, or a bad bar in a stretch it is
    not held) is read again over only the spans the trading pass reads it (:func:`_week_spans`: the weeks that
    hold it, their windows and the signal's warm-up), each span validated on its own. Outside those spans its bars
    are flat (open = high = low = close = the last real close, or the first real open before its first span;
    volume 0): never traded, and the symbol is left out of the equal-weight benchmark.

    Parameters
    ----------
    settings : Settings
    weeks : sequence of dict
        Week records: ``asof``, ``universe``, ``pairs`` (leader, follower, lag).
    end : datetime.date
        Last session traded.
    drop_bad_weeks : bool, default False
        False: a span that fails is an error (the headline cannot trade a symbol over a bad bar). True (the
        random-pairs null's market, :func:`candidates_market`): the weeks whose own span holds the failing date
        are dropped for that symbol and its other weeks validated again; ``info["dropped"]`` lists them.

    Returns
    -------
    (MarketData, dict)
        The market, and ``{"symbols", "padded": {symbol: first real session}, "filled": {symbol: {"spans":
        [[first, last], ...], "full_span_exclusion": {...}}}, "excluded": [...], "dropped": [{"symbol", "asof",
        "date", "rule", "message"}, ...]}``; ``padded`` and ``filled`` have the same keys (the symbols with flat
        bars somewhere).

    Raises
    ------
    DataError
        Without ``drop_bad_weeks``: a traded symbol whose bars fail validation, or miss a session, inside a span
        it is read in; the message names the symbol, its file, the date, the rule and the weeks that hold it.
    """
    from volts.data.universe import load_universe
    from volts.selection.pipeline import earliest_start

    first_held: dict[str, dt.date] = {}
    for w in weeks:
        for p in w["pairs"]:
            for sym in (p["leader"], p["follower"]):
                first_held.setdefault(sym, _to_date(w["asof"]))
    first = earliest_start(settings.windows.shifted(_to_date(weeks[0]["asof"])))
    data = settings.data.model_copy(update={"on_bad_symbol": "exclude"})
    anchor_syms = sorted({s for w in weeks[:1] for s in w["universe"]})[:20] or sorted(first_held)
    symbols = sorted(set(first_held) | set(anchor_syms))
    market, rep = load_universe(data, asof=end, start=first, end=end, symbols=symbols)
    frames = {f: getattr(market, f) for f in ("open", "high", "low", "close", "volume")}
    retry = [exc for exc in rep.excluded if exc.symbol in first_held]
    per_week = _week_spans(settings, weeks, market.dates, end) if retry else {}
    anchors = list(market.symbols[:2])   # valid over the whole calendar, so over every span: the load never
    padded: dict[str, str] = {}          # stops on the "two usable members" rule when the traded symbol fails
    filled: dict[str, dict] = {}
    dropped: list[dict] = []
    for exc in retry:
        sym = exc.symbol
        parts = list(per_week[sym])
        real = None
        while parts:
            spans = _merge_spans(parts, market.dates)
            real, failure = _read_spans(data, sym, spans, market, anchors, tuple(frames))
            if failure is None:
                break
            a, b, why, day = failure
            if not drop_bad_weeks:
                held = sorted({asof for asof, _, _ in parts})
                raise DataError(f"{sym}: held in {len(held)} week(s) ({held[0]} .. {held[-1]}); the trading pass "
                                f"reads its bars from {a.date()} to {b.date()}, where they fail: {why}. Fix or "
                                f"remove the bad rows, or re-select without {sym} (its weeks recompute when the "
                                f"file changes)")
            # the weeks whose own span holds the failing date (all of the failing span's when it has none)
            lo, hi = ((market.dates.searchsorted(day), market.dates.searchsorted(day)) if day is not None else
                      (market.dates.searchsorted(a), market.dates.searchsorted(b)))
            bad = [(asof, x, y) for asof, x, y in parts if x <= hi and y >= lo]
            if not bad:   # the date lies outside every week's span (cannot happen); drop the failing span's
                bad = [(asof, x, y) for asof, x, y in parts
                       if x <= market.dates.searchsorted(b) and y >= market.dates.searchsorted(a)] or parts
            dropped += [{"symbol": sym, "asof": asof, "date": day.date().isoformat() if day is not None else None,
                         "reason": why} for asof in sorted({asof for asof, _, _ in bad})]
            parts = [p for p in parts if p not in bad]
        if real is None:
            continue     # every week of the symbol dropped: it is not in the market
        have = real["close"].notna()
        price = real["close"].ffill().fillna(float(real["open"][have].iloc[0]))
        bars = pd.DataFrame(real)
        for f in ("open", "high", "low", "close"):
            bars.loc[~have, f] = price[~have]
        bars.loc[~have, "volume"] = 0.0
        for f in frames:
            frames[f] = pd.concat([frames[f], bars[f].rename(sym)], axis=1)
        padded[sym] = market.dates[have.to_numpy()][0].date().isoformat()
        filled[sym] = {"spans": [[a.date().isoformat(), b.date().isoformat()] for a, b in spans],
                       "full_span_exclusion": exc.to_dict()}
    out = MarketData.from_frames(frames, report=market.report)
    return out, {"symbols": sorted(first_held), "padded": padded, "filled": filled,
                 "excluded": [e.to_dict() for e in rep.excluded if e.symbol not in padded], "dropped": dropped}


def _read_spans(data, sym: str, spans, market: MarketData, anchors: list[str], fields: Sequence[str]):
    """``sym``'s validated ``fields`` over each of ``spans`` on ``market``'s calendar (NaN elsewhere), or the first
    failure ``(first, last, why, date or None)``."""
    from volts.data.universe import load_universe

    real = {f: pd.Series(np.nan, index=market.dates) for f in fields}
    for a, b in spans:
        one, rep1 = load_universe(data, asof=b.date(), start=a.date(), end=b.date(),
                                  symbols=[sym] + [s for s in anchors if s != sym])
        if sym not in one.symbols:
            exc = next((e for e in rep1.excluded if e.symbol == sym), None)
            day = pd.Timestamp(exc.date) if exc is not None and exc.date else None
            return None, (a, b, str(exc) if exc is not None else "no usable bars", day)
        bars = one.bars(sym)
        inside = market.dates[(market.dates >= a) & (market.dates <= b)]
        lacking = inside.difference(bars.index)
        if len(lacking):
            return None, (a, b, f"session {lacking[0].date()} missing (rule: missing_session; a traded symbol "
                                f"needs every session it is held and warmed up)", lacking[0])
        for f in fields:
            real[f].loc[inside] = bars[f].reindex(inside).to_numpy()
    return real, None


def candidates_market(settings: Settings, weeks: Sequence[dict], *, end: dt.date
                      ) -> tuple[MarketData, list[dict]]:
    """Bars of every mid-volatility candidate of the weeks that hold pairs, for the random-pairs null of a
    point-in-time walk-forward.

    :class:`RandomPairs` draws a week's pairs from its ``candidates`` (a week in cash stays in cash), with lags up
    to ``[lag] max_lag``. Each candidate is loaded as :func:`trading_market` loads a traded symbol, as if every
    candidate were held that week at the longest lag. A candidate whose bars fail inside a week's holding span
    (a bad bar after the as-of date, which the selection could not see) cannot be traded that week: it is
    dropped from that week's candidates for the null and listed.

    Returns
    -------
    (MarketData, list of dict)
        The market, and the dropped ``{"symbol", "asof", "date", "reason"}`` (see :func:`null_weeks`).
    """
    lag = int(settings.lag.max_lag)
    pseudo = [{"asof": w["asof"], "universe": w.get("universe") or [],
               "pairs": [{"leader": c, "follower": c, "lag": lag} for c in (w.get("candidates") or [])]
               if w.get("pairs") else []} for w in weeks]
    market, info = trading_market(settings, pseudo, end=end, drop_bad_weeks=True)
    return market, info["dropped"]


def null_weeks(weeks: Sequence[dict], dropped: Sequence[Mapping[str, Any]]) -> list[dict]:
    """``weeks`` with each dropped ``(symbol, asof)`` of :func:`candidates_market` removed from that week's
    ``candidates`` (the pool the random-pairs null draws from)."""
    gone: dict[str, set[str]] = {}
    for d in dropped:
        gone.setdefault(str(d["asof"]), set()).add(d["symbol"])
    out = []
    for w in weeks:
        bad = gone.get(str(w["asof"]))
        out.append({**w, "candidates": [c for c in w.get("candidates") or [] if c not in bad]} if bad else w)
    return out


def _settings_for_week(settings: Settings, asof: dt.date, universe_for_asof: UniverseFn | None) -> Settings:
    if universe_for_asof is None:
        return settings
    return settings.override(**{"data.universe": list(universe_for_asof(asof))})


def _read_cached(path: Path, config_sha: str, data_sha: str, legacy_sha: str | Sequence[str] | None = None,
                 *, notes: list[str] | None = None) -> dict | None:
    """The cached record of a week when its hashes match and it passes verification; ``legacy_sha`` (one hash or
    several) is also accepted as the config hash (a record written before weeks were keyed by
    :meth:`Settings.selection_sha256` carries the full settings hash, see :meth:`Settings.legacy_week_sha256`).

    A record whose hashes match but whose content hash or fields do not (:func:`volts.evaluation.week_cache.verify_record`),
    or a file that is not UTF-8 JSON, gives None and a line in ``notes`` naming the file and the reason."""
    import json

    from volts.evaluation.week_cache import verify_record

    legacy = (legacy_sha,) if isinstance(legacy_sha, str) else tuple(legacy_sha or ())
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        if notes is not None:
            notes.append(f"{path}: recomputing this week: the cached record is not readable UTF-8 JSON "
                         f"({type(exc).__name__})")
        return None
    if (not isinstance(rec, dict) or rec.get("format") != WEEK_FORMAT
            or rec.get("config_sha256") not in (config_sha, *legacy) or rec.get("data_sha256") != data_sha):
        return None
    problem, _ = verify_record(rec, path.stem)
    if problem is not None:
        if notes is not None:
            notes.append(f"{path}: recomputing this week: {problem}")
        return None
    return rec


def run_weeks(market: MarketData | None, settings: Settings, dates: Sequence[dt.date], *, cache_dir: Path,
              executor, force: bool = False, universe_for_asof: UniverseFn | None = None,
              on_week: Callable[[dict], None] | None = None) -> tuple[list[dict], dict]:
    """Selections for ``dates`` from the cache or computed through ``executor``; each new week is cached at once.

    With ``market=None`` the universe is point in time (``settings.data.membership``): every week loads its own
    members (:func:`select_week_members`, on the worker) and is keyed by :func:`membership_week_hashes`.

    Returns
    -------
    weeks : list of dict
        One record per date (ascending), see :func:`select_week`.
    stats : dict
        ``cached`` and ``computed`` counts, ``computed_dates``, ``wall_seconds`` of the selection pass.
    """
    from volts.core.artifacts import atomic_write_json
    from volts.evaluation.week_cache import HASH_FIELD, seal

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    records: dict[dt.date, dict] = {}
    notes: list[str] = []
    sealed = 0
    todo: list[dt.date] = []
    data_sha = membership_week_hashes(settings, dates) if market is None else None
    for asof in dates:
        if market is None:
            s = settings
            cfg, data = settings.selection_sha256(), data_sha[asof]
        else:
            s = _settings_for_week(settings, asof, universe_for_asof)
            cfg, data = week_hashes(market, s, asof)
        path = cache_dir / f"{asof.isoformat()}.json"
        cached = None if force else _read_cached(path, cfg, data, legacy_sha=(s.legacy_week_sha256(), s.sha256()),
                                                 notes=notes)
        if cached is None:
            todo.append(asof)
        else:
            if cached.get("config_sha256") != cfg or HASH_FIELD not in cached:
                # matched under the former key (every setting, costs included): re-keyed by the selection settings,
                # so that a run with other costs or another strategy reuses it too; a record from before the
                # content hash gets one (its fields passed the checks)
                sealed += HASH_FIELD not in cached
                cached = seal({**cached, "config_sha256": cfg})
                atomic_write_json(path, cached)
            records[asof] = cached
    for note in notes:
        log.warning(note)
    if sealed:
        log.warning(f"{cache_dir}: {sealed} cached week record(s) had no content hash (written by an older volts): "
                    f"their fields passed the checks, they are reused and now carry record_sha256")
    for asof, rec in executor.map(_select_week_task, todo, key=lambda d: d.isoformat(), label="weeks",
                                  market=market, settings=settings, universe_for_asof=universe_for_asof,
                                  data_sha=data_sha):
        rec = seal(rec)
        atomic_write_json(cache_dir / f"{asof.isoformat()}.json", rec)
        records[asof] = rec
        if on_week is not None:
            on_week(rec)
    stats = {"cached": len(dates) - len(todo), "computed": len(todo),
             "computed_dates": [d.isoformat() for d in todo], "wall_seconds": time.perf_counter() - t0}
    return [records[d] for d in dates], stats


# ----------------------------------------------------------------------------------------- pickers
def apply_pair_picker(weeks: Sequence[dict], picker: PairPicker | None, seed: int) -> list[dict]:
    """Weeks with their pairs replaced by ``picker(week, rng)``; ``rng`` is seeded by ``(seed, asof)``."""
    if picker is None:
        return list(weeks)
    out = []
    for w in weeks:
        digest = hashlib.sha256(f"{seed}:{w['asof']}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        pairs = [dict(p) for p in picker(w, rng)]
        for p in pairs:
            if not {"leader", "follower", "lag"} <= set(p):
                raise UsageError(f"pair picker returned {p!r} for {w['asof']}; each pair needs leader, follower "
                                 f"and lag")
        out.append({**w, "pairs": pairs, "picked_by": getattr(picker, "__name__", "picker")})
    return out


class RandomPairs:
    """Null-model pair picker: as many random ordered pairs among the week's candidates as the selection kept.

    Each call draws, without replacement, ``k = len(week["pairs"])`` ordered pairs (leader != follower) from the
    week's mid-volatility ``candidates`` (fewer when there are fewer ordered pairs), and for each a lag uniform on
    ``min_lag .. max_lag`` (both inclusive). A week the selection left in cash stays in cash.

    Parameters
    ----------
    min_lag, max_lag : int
        Lag range in sessions; :meth:`from_settings` reads ``[lag] min_lag`` / ``max_lag``, the range the DTW
        lag stage chooses from.

    Raises
    ------
    UsageError
        ``min_lag`` < 1 or ``min_lag`` > ``max_lag``.
    """

    __name__ = "random_pairs"

    def __init__(self, min_lag: int, max_lag: int) -> None:
        if int(min_lag) < 1 or int(min_lag) > int(max_lag):
            raise UsageError(f"random pairs: lag range {min_lag} .. {max_lag} is empty or below 1")
        self.min_lag, self.max_lag = int(min_lag), int(max_lag)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RandomPairs":
        """The picker with the configured lag range ``settings.lag.min_lag .. settings.lag.max_lag``."""
        return cls(settings.lag.min_lag, settings.lag.max_lag)

    def __call__(self, week: dict, rng: np.random.Generator) -> list[dict]:
        cands = list(week.get("candidates") or [])
        k = len(week.get("pairs") or [])
        ordered = [(a, b) for a in cands for b in cands if a != b]
        if k == 0 or not ordered:
            return []
        idx = rng.choice(len(ordered), size=min(k, len(ordered)), replace=False)
        return [{"leader": ordered[i][0], "follower": ordered[i][1],
                 "lag": int(rng.integers(self.min_lag, self.max_lag + 1))} for i in sorted(idx)]

    def __repr__(self) -> str:
        return f"RandomPairs(min_lag={self.min_lag}, max_lag={self.max_lag})"


def _default_lag_range() -> tuple[int, int]:
    from volts.core.config import LagSettings

    d = LagSettings()
    return d.min_lag, d.max_lag


#: :class:`RandomPairs` over the *default* lag range (``[lag]`` defaults); a walk-forward whose ``[lag]`` range
#: differs should use ``RandomPairs.from_settings(settings)`` (the ablation's null does).
random_pairs_picker = RandomPairs(*_default_lag_range())


# ---------------------------------------------------------------------------------------- strategies
#: name -> callable(market, schedule, *, end, settings, engine, cost_bps) -> SimulationResult-like object with
#: ``equity`` (daily pd.Series), ``trades``, ``turnover_value`` and ``benchmarks`` (dict name -> pd.Series).
STRATEGIES: dict[str, Callable[..., Any]] = {}


def register_strategy(name: str, fn: Callable[..., Any]) -> None:
    """Make ``fn`` available as ``--strategy name`` / ``WalkForwardVariant(strategy=name)``.

    ``fn(market, schedule, *, end, settings, engine, cost_bps)`` receives the weekly
    :class:`volts.trading.simulate.Rebalance` schedule and returns an object with the attributes of
    :class:`volts.trading.simulate.SimulationResult` that the report reads (``equity``, ``trades``, ``turnover_value``,
    ``benchmarks``).
    """
    STRATEGIES[name] = fn


def _lead_lag_trend(market, schedule, *, end, settings, engine="vectorised", cost_bps=None):
    from volts.trading.simulate import simulate_schedule

    # the equal-weight benchmark holds every symbol the walk-forward loaded (the universe; for the synthetic
    # source the configured universe names no synthetic symbol)
    # (point-in-time runs: the traded symbols with bars over the whole span, see trading_market)
    universe = list(settings.data.universe) if settings.data.membership else list(market.symbols)
    return simulate_schedule(market, schedule, end=end, settings=settings, engine=engine, cost_bps=cost_bps,
                             universe=universe,
                             spy=False if settings.data.source == "synthetic" else None)  # no real SPY beside
                                                                                          # synthetic bars


register_strategy("lead_lag_trend", _lead_lag_trend)


#: Modules that register further strategies when imported (loaded on first need: they import backtrader-free
#: but heavy code).
STRATEGY_MODULES = ("volts.trading.strategies.lead_lag_portfolio",)


def _load_strategy_modules() -> None:
    import importlib

    for module in STRATEGY_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def strategy_names() -> list[str]:
    """Sorted names of every registered strategy (``--strategy`` choices), plug-in modules included."""
    _load_strategy_modules()
    return sorted(STRATEGIES)


def _strategy(name: str) -> Callable[..., Any]:
    if name not in STRATEGIES:
        _load_strategy_modules()
    if name not in STRATEGIES:
        raise UsageError(f"--strategy: unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})")
    return STRATEGIES[name]


def build_schedule(weeks: Sequence[dict]):
    """The trading schedule: one :class:`volts.trading.simulate.Rebalance` per week (no pair = the week is in cash)."""
    from volts.trading.simulate import Holding, Rebalance

    return [Rebalance(asof=_to_date(w["asof"]),
                      pairs=tuple(Holding(leader=p["leader"], follower=p["follower"], lag=int(p["lag"]))
                                  for p in w["pairs"]))
            for w in weeks]


# ------------------------------------------------------------------------------------------ summaries
COST_TABLE_BPS = (0.0, 5.0, 10.0, 25.0)


def pair_name(p: Mapping[str, Any]) -> str:
    return f"{p['leader']}->{p['follower']}"


def weeks_summary(weeks: Sequence[dict]) -> dict:
    """Counts over the weeks: total, in cash, without a selection, distinct pairs, pick frequency and lifetime.

    A pair's lifetime is the length, in re-selections, of a run of consecutive re-selections that keep it
    (same leader and follower); ``avg_pair_lifetime_weeks`` averages over all such runs.
    """
    total = len(weeks)
    in_cash = sum(1 for w in weeks if not w["pairs"])
    no_sel = sum(1 for w in weeks if w.get("status") != "ok")
    picks: dict[str, int] = {}
    lags: dict[str, dict[int, int]] = {}
    runs: list[int] = []
    current: dict[str, int] = {}
    for w in weeks:
        names = {pair_name(p) for p in w["pairs"]}
        for p in w["pairs"]:
            n = pair_name(p)
            picks[n] = picks.get(n, 0) + 1
            lags.setdefault(n, {})
            lags[n][int(p["lag"])] = lags[n].get(int(p["lag"]), 0) + 1
        for n in list(current):
            if n not in names:
                runs.append(current.pop(n))
        for n in names:
            current[n] = current.get(n, 0) + 1
    runs.extend(current.values())
    order = sorted(picks, key=lambda n: (-picks[n], n))
    return {"weeks": total, "weeks_in_cash": in_cash, "weeks_without_selection": no_sel,
            "share_in_cash": in_cash / total if total else None, "distinct_pairs": len(picks),
            "avg_pair_lifetime_weeks": float(np.mean(runs)) if runs else None,
            "pick_frequency": {n: {"weeks": picks[n], "share": picks[n] / total,
                                   "lags": {str(k): v for k, v in sorted(lags[n].items())}} for n in order}}


def planted_recovery(weeks: Sequence[dict], planted: Sequence[Mapping[str, Any]]) -> dict:
    """How often the weekly selections recovered planted pairs (synthetic market with a known answer).

    Returns per planted pair the share of weeks it was selected and the share selected with its planted lag,
    the share of weeks whose selection is exactly the planted set with the planted lags, and the mean number of
    selected pairs per week that were not planted (false positives).
    """
    n = len(weeks)
    out_pairs = {}
    for p in planted:
        name = pair_name(p)
        hit = [q for w in weeks for q in w["pairs"] if pair_name(q) == name]
        out_pairs[name] = {"lag": int(p["lag"]), "share_selected": len(hit) / n if n else None,
                           "share_with_planted_lag": sum(1 for q in hit if int(q["lag"]) == int(p["lag"])) / n
                           if n else None}
    truth = {(pair_name(p), int(p["lag"])) for p in planted}
    names = {pair_name(p) for p in planted}
    exact = sum(1 for w in weeks if {(pair_name(q), int(q["lag"])) for q in w["pairs"]} == truth)
    false = [sum(1 for q in w["pairs"] if pair_name(q) not in names) for w in weeks]
    return {"pairs": out_pairs, "share_exact": exact / n if n else None,
            "false_pairs_per_week": float(np.mean(false)) if false else None}


def universe_summary(weeks: Sequence[dict], traded: Mapping[str, Any] | None = None) -> dict:
    """``metrics.json["universe"]`` of a point-in-time run: coverage per week and every quarantined file.

    Returns
    -------
    dict
        ``source``, ``per_week`` (asof, members, usable, coverage line, exclusions by rule), ``usable_min`` /
        ``usable_max`` / ``coverage_min`` (share of members with usable data, worst week), ``quarantined`` (each
        bad file once: symbol, rule, date, message, first and last week it was excluded), ``left_out`` (each
        member without a file or without the week's sessions, e.g. a late listing, once per rule: symbol, rule,
        the first week's message, weeks, first and last week), ``trading`` (the
        traded symbols, those padded before their listing, see :func:`trading_market`).
    """
    per_week, bad, out_of = [], {}, {}
    for w in weeks:
        cov = w.get("universe_coverage")
        if cov is None:
            continue
        per_week.append({"asof": w["asof"], "members": cov["members"], "usable": cov["usable"],
                         "coverage": cov["coverage"], "excluded_by_rule": cov["excluded_by_rule"]})
        for e in cov["excluded"]:
            if not e.get("quarantined"):   # no file, incomplete history (a late listing), ticker reuse
                left = out_of.setdefault((e["symbol"], e["rule"]), {"symbol": e["symbol"], "rule": e["rule"],
                                                                    "message": e["message"], "weeks": 0,
                                                                    "first_week": w["asof"]})
                left["weeks"] += 1
                left["last_week"] = w["asof"]
                continue
            key = (e["symbol"], e["rule"], e.get("date"))
            entry = bad.setdefault(key, {"symbol": e["symbol"], "rule": e["rule"], "date": e.get("date"),
                                         "file": e.get("file"), "message": e["message"], "first_week": w["asof"]})
            entry["last_week"] = w["asof"]
    shares = [r["usable"] / r["members"] for r in per_week if r["members"]]
    return {"source": weeks[0]["universe_coverage"]["source"] if per_week else None, "per_week": per_week,
            "usable_min": min((r["usable"] for r in per_week), default=None),
            "usable_max": max((r["usable"] for r in per_week), default=None),
            "coverage_min": min(shares) if shares else None,
            "quarantined": list(bad.values()), "left_out": list(out_of.values()),
            "trading": dict(traded) if traded else None}


def _value_at(equity: pd.Series, day: dt.date, before_start: float) -> float:
    ts = pd.Timestamp(day)
    if ts < equity.index[0]:
        return before_start
    return float(equity.loc[:ts].iloc[-1])


def weeks_table(weeks: Sequence[dict], equity: pd.Series | None, *, end: dt.date,
                capital: float | None = None) -> pd.DataFrame:
    """``weeks.csv``: one row per re-selection with the funnel counts, the pairs and the P&L of its holding period.

    ``pnl`` is the change of the stitched equity from the close of the as-of date to the close of the next as-of
    date (the last week: to ``end``), USD; ``return`` is that change over the equity at the as-of close.
    """
    stages: list[str] = []
    for w in weeks:
        for s in w["funnel"]:
            if s["stage"] not in stages:
                stages.append(s["stage"])
    rows = []
    for i, w in enumerate(weeks):
        row: dict[str, Any] = {"asof": w["asof"], "status": w.get("status"), "universe": len(w["universe"])}
        cov = w.get("universe_coverage")
        if cov is not None:  # point-in-time universe: members of the date, usable ones, the disclosure line
            row.update(members=cov["members"], usable=cov["usable"], coverage=cov["coverage"],
                       excluded=" ".join(f"{e['symbol']}:{e['rule']}" for e in cov["excluded"]))
        row.update(candidates=len(w["candidates"]), candidate_symbols=" ".join(w["candidates"]))
        funnel = {s["stage"]: s for s in w["funnel"]}
        for st in stages:
            row[f"{st}_in"] = funnel[st]["entered"] if st in funnel else 0
            row[f"{st}_kept"] = funnel[st]["kept"] if st in funnel else 0
        row["pairs"] = len(w["pairs"])
        row["pair_list"] = " ".join(f"{pair_name(p)}:{p['lag']}" for p in w["pairs"])
        row["pair_stats"] = " ".join(
            f"{pair_name(p)}(granger_p={_g(p.get('granger_p'))},ete={_g(p.get('ete'))},ete_p={_g(p.get('ete_p'))},"
            f"knn={_g(p.get('knn_accuracy'))})" for p in w["pairs"] if "granger_p" in p)
        if equity is not None and len(equity):
            start_val = capital if capital is not None else float(equity.iloc[0])
            a = _to_date(w["asof"])
            b = _to_date(weeks[i + 1]["asof"]) if i + 1 < len(weeks) else end
            v0, v1 = _value_at(equity, a, start_val), _value_at(equity, b, start_val)
            row["pnl"] = v1 - v0
            row["return"] = v1 / v0 - 1.0 if v0 else None
        row["flagged_notes"] = len(w.get("flagged") or [])
        row["warnings"] = len(w.get("warnings") or [])
        row["error"] = w.get("error") or ""
        rows.append(row)
    return pd.DataFrame(rows)


def _g(x) -> str:
    return "" if x is None else f"{float(x):.4g}"


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


def load_walkforward_market(settings: Settings, dates_start: dt.date, end: dt.date,
                            symbols: Sequence[str] | None = None) -> MarketData:
    """Bars for a whole walk-forward, loaded once: from the earliest window start of a week as of
    ``dates_start`` to ``end`` (the trading pass needs the bars after the last as-of date)."""
    from volts.data.sources import load_market
    from volts.selection.pipeline import earliest_start

    first = earliest_start(settings.windows.shifted(dates_start)) - dt.timedelta(days=10)
    if end is None:   # the default end (volts.evaluation.span.DEFAULT_END), cut to the data by the run
        from volts.evaluation.span import DEFAULT_END

        end = DEFAULT_END
    if symbols is None and settings.data.source != "synthetic":
        symbols = list(settings.data.universe)
    return load_market(settings.data, symbols=symbols, start=first, end=end)


def _stats(equity: pd.Series, *, trades=None, turnover_value=None, settings: Settings, seed: int = 0) -> dict:
    from volts.trading.performance import performance_stats

    return performance_stats(equity, trades=trades, turnover_value=turnover_value,
                              periods_per_year=settings.metrics.periods_per_year,
                              risk_free=settings.metrics.risk_free, seed=seed)


def _difference(strategy: pd.Series, bench: pd.Series, *, settings: Settings) -> dict:
    from volts.trading.performance import difference_stats

    common = strategy.index.intersection(bench.dropna().index)
    return difference_stats(strategy.loc[common], bench.loc[common],
                            periods_per_year=settings.metrics.periods_per_year)


def summarise(sim, weeks: Sequence[dict], *, settings: Settings, market: MarketData, schedule, end: dt.date,
              strategy_fn, engine: str) -> dict:
    """``metrics.json``: statistics of the strategy and every benchmark, the differences, the cost table and the
    week counts. Deterministic for the same inputs (bootstrap seed 0)."""
    out: dict[str, Any] = {}
    out["strategy"] = _stats(sim.equity, trades=sim.trades, turnover_value=sim.turnover_value, settings=settings)
    out["benchmarks"] = {}
    out["differences"] = {}
    for name, series in (sim.benchmarks or {}).items():
        s = series.dropna()
        if len(s) < 3:
            continue
        out["benchmarks"][name] = {"first": s.index[0].date().isoformat(), "last": s.index[-1].date().isoformat(),
                                   **_stats(s, settings=settings)}
        out["differences"][name] = _difference(sim.equity, s, settings=settings)
    table = []
    for bps in COST_TABLE_BPS:
        alt = strategy_fn(market, schedule, end=end, settings=settings, engine=engine, cost_bps=bps)
        st = _stats(alt.equity, trades=alt.trades, turnover_value=alt.turnover_value, settings=settings)
        row = {"bps_per_side": bps, **st, "benchmarks": {}}
        for name, series in (alt.benchmarks or {}).items():  # the benchmarks under the same costs
            b = series.dropna()
            if len(b) > 2:
                row["benchmarks"][name] = _stats(b, settings=settings)
        if "followers_buy_and_hold" in row["benchmarks"]:
            row["followers_buy_and_hold"] = row["benchmarks"]["followers_buy_and_hold"]
        table.append(row)
    out["cost_table"] = table
    out["weeks"] = weeks_summary(weeks)
    if getattr(sim, "activity", None):  # a strategy that ignores the weekly pairs reports what it held instead
        out["strategy_activity"] = dict(sim.activity)
    if getattr(sim, "notes", None):
        out["strategy_notes"] = list(sim.notes)
    omitted = [e for e in getattr(sim, "events", ()) or () if e.get("event") == "spy_benchmark_omitted"]
    if omitted:   # a benchmark the report would otherwise just not show
        e = omitted[0]
        out["benchmarks_omitted"] = {"spy": (e.get("reason") or "") + (f" (first missing session {e['date']})"
                                                                      if e.get("date") else "")}
    spy_rows = [e for e in getattr(sim, "events", ()) or () if e.get("event") in ("spy_bar_dropped",
                                                                                 "spy_bar_flagged")]
    if spy_rows:  # SPY's bars are validated like the universe's: what validation dropped or flagged there
        out["benchmark_data_quality"] = {"spy": [
            {"date": e["date"], "file": e.get("file"), "rule": e.get("rule"), "action": e["event"][8:],
             "message": e.get("reason")} for e in spy_rows]}
    out["optimistic"] = bool(getattr(sim, "optimistic", False))  # execution = "close": fills at the signal's close
    from volts.evaluation.disclosure import cost_summary
    from volts.trading.simulate import funding_summary

    if cost_summary(sim, settings) is not None:   # what the result rests on: capital, costs, gross vs net
        out["costs"] = cost_summary(sim, settings)
    if isinstance(getattr(sim, "periods", None), pd.DataFrame) and "n_unfunded" in sim.periods:
        out["funding"] = funding_summary(sim.periods)
    return out


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
    ablation : volts.evaluation.nulls.Ablation, optional
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
    from volts.core.artifacts import atomic_write_csv, atomic_write_json, now_utc_iso, staged_run_dir, to_jsonable
    from volts.core.parallel import Executor
    from volts.evaluation.span import DEFAULT_END, walkforward_data_quality, walkforward_span

    variant = variant or WalkForwardVariant()
    requested_end = None if end is None else _to_date(end)   # None: the default end, cut to the data's (reported)
    start, end = _to_date(start), requested_end or DEFAULT_END
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    wsettings = variant.settings_for(settings)
    strategy_fn = _strategy(variant.strategy)
    t_total = time.perf_counter()
    t0 = time.perf_counter()
    # a per-symbol universe (point-in-time members, or a list under on_bad_symbol = "exclude") loads each week's
    # members as `volts select` does, leaving out (and reporting) those that do not cover the week's windows
    point_in_time = (bool(wsettings.data.membership) or wsettings.data.on_bad_symbol == "exclude") \
        and market is None and universe_for_asof is None
    if point_in_time:  # each week loads its own members; the trading pass loads the traded symbols afterwards
        calendar = membership_calendar(wsettings, start, end)
    else:
        if market is None:
            market = load_walkforward_market(wsettings, start, end)
        calendar = market.dates
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
    out = Path(out)
    cache_dir = out / ("weeks" if not variant.overrides else f"weeks-{variant.name}")
    own = executor is None
    ex = Executor() if own else executor
    try:
        if own:
            ex.__enter__()
        weeks, stats = run_weeks(None if point_in_time else market, wsettings, dates, cache_dir=cache_dir,
                                 executor=ex, force=force, universe_for_asof=universe_for_asof, on_week=on_week)
    finally:
        if own:
            ex.close()
    weeks = apply_pair_picker(weeks, variant.pair_picker, variant.seed)
    traded_info = None
    if point_in_time:
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
    capital = getattr(getattr(sim, "costs", None), "capital", None)
    table = weeks_table(weeks, sim.equity, end=end, capital=capital)
    from volts.evaluation.disclosure import week_columns

    table = week_columns(table, sim, weeks, end=end)   # span of each row's P&L, its costs, unfunded pairs
    dstab = None
    if date_stability and not point_in_time:   # neighbours' selections read the same static market
        from volts.selection.date_stability import walkforward_date_stability

        dstab = walkforward_date_stability(market, wsettings, weeks, int(date_stability),
                                           executor=None if own else executor)
        table["date_stability"] = [" ".join(f"{n}:{v['share']:.2f}" for n, v in
                                            dstab["weeks"].get(str(w["asof"]), {}).items() if v["share"] is not None)
                                   for w in weeks]
    ex.stage("statistics and bootstrap intervals")
    t0 = time.perf_counter()
    metrics = summarise(sim, weeks, settings=wsettings, market=market, schedule=schedule, end=end,
                        strategy_fn=strategy_fn, engine=engine)
    stats_seconds = time.perf_counter() - t0
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
    ablation_files: dict[str, Any] = {}
    if ablation is not None:
        # point in time: the random pairs come from each week's candidates, most of them never traded by the
        # headline, so the null trades on a market of every candidate (validated over the spans it can be held)
        null_market, null_dropped = (candidates_market(wsettings, weeks, end=end) if point_in_time
                                     else (market, []))
        section, inference, ablation_files = ablation.evaluate(
            sim=sim, weeks=weeks, market=null_market, settings=wsettings, end=end, metrics=metrics,
            strategy=variant.strategy, engine=engine, executor=None if own else executor,
            dropped_candidates=null_dropped)
        metrics["ablation"] = section
        metrics["sharpe_inference"] = inference
    else:
        from volts.evaluation.nulls import headline_inference

        metrics["sharpe_inference"] = headline_inference(sim.equity, wsettings, trial_sharpes=None)
    metrics = to_jsonable(metrics)
    from volts.reporting.walkforward_report import verdict

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
    with staged_run_dir(out, name, force=True, latest=False) as staging:
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
            from volts.reporting.walkforward_report import write_walkforward_report

            write_walkforward_report(staging, metrics=metrics, equity=eq, table=table, weeks=weeks,
                                     comparison=comparison)
    ex.stage(None)
    folder = out / name
    stats["total_seconds"] = time.perf_counter() - t_total
    return WalkForwardResult(folder=folder, dates=dates, weeks=weeks, simulation=sim, metrics=metrics,
                             table=table, stats=stats)


def require_static_universe(settings: Settings, what: str, *, market=None, universe_for_asof=None) -> None:
    """Refuse a point-in-time membership run where ``what`` (a CLI option) supports only a fixed universe.

    ``--compare-screens`` loads one market for ``[data] universe`` and trades its variant rows on it. With
    ``[data] membership`` set, that list is not the universe the weeks would use (for ``examples/sp500.toml`` it
    is the built-in ten names), so the run would silently answer another question. (``--ablation`` handles a
    membership universe itself: :func:`volts.evaluation.nulls.run_ablation`.)

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


def comparison_row(name: str, metrics: dict) -> dict:
    """One row of a comparison table from a ``metrics.json``."""
    from volts.reporting.walkforward_report import ci, stat

    s = metrics["strategy"]
    lo, hi = ci(s, "sharpe")
    d = metrics.get("differences", {}).get("followers_buy_and_hold", {})
    dlo, dhi = ci(d, "annual_mean")
    w = metrics["weeks"]
    act = metrics.get("strategy_activity")  # e.g. the lead-lag portfolio: its own holdings, not the weekly pairs
    row = {"variant": name, "cagr": stat(s, "cagr"), "volatility": stat(s, "volatility"),
           "sharpe": stat(s, "sharpe"), "sharpe_ci_low": lo, "sharpe_ci_high": hi,
           "max_drawdown": stat(s, "max_drawdown"), "turnover": stat(s, "turnover"),
           "weeks_in_cash": act["weeks_in_cash"] if act else w["weeks_in_cash"],
           "weeks": act["weeks"] if act else w["weeks"],
           "distinct_pairs": None if act else w["distinct_pairs"],
           "diff_vs_followers_annual_mean": stat(d, "annual_mean"), "diff_ci_low": dlo, "diff_ci_high": dhi}
    if metrics.get("strategy_notes"):  # only then: callers merge this row into rows with their own "note"
        row["note"] = " ".join(metrics["strategy_notes"])
    if s.get("ruined"):  # equity at or below zero: the row's statistics stop there (volts.trading.performance.ruin_cut)
        row["ruined"] = str(s["ruined"].get("date") if isinstance(s["ruined"], dict) else s["ruined"])
    return row
