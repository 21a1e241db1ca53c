"""The walk-forward's weekly selections: one selection per re-selection date, computed once and cached.

Each week runs the selection (:func:`volts.selection.pipeline.run_selection`) on the bars known at its
as-of date, on its own member list for point-in-time universes, and is stored under the hash of the settings a
selection reads and the hash of the bars it saw (:mod:`volts.evaluation.week_cache`), so a re-run or a change of
costs or strategy recomputes nothing. :func:`run_weeks` maps the weeks over the executor (in-process or Dask).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from volts.core.config import Settings
from volts.core.errors import DataError
from volts.data.market import MarketData
from volts.evaluation.schedule import (
    UniverseFn,
    _to_date,
)

log = logging.getLogger(__name__)


WEEK_FORMAT = 1  # bump when the week record's layout changes (old cache files are then recomputed)


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


def _no_selection(record: dict[str, Any], error: str, t0: float) -> dict[str, Any]:
    """A week without a selection (bad data, or fewer than two mid-volatility names): it holds cash."""
    record.update(
        status="no_selection",
        error=error,
        candidates=[],
        funnel=[],
        pairs=[],
        dropped_by_stage={},
        warnings=[],
        timings={"total": time.perf_counter() - t0},
    )
    return record


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
    record: dict[str, Any] = {
        "format": WEEK_FORMAT,
        "asof": asof.isoformat(),
        "config_sha256": settings.selection_sha256(),
        "data_sha256": sub.sha256(),
        "universe": list(universe),
    }
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
        return _no_selection(record, str(exc), t0)
    if len(sel.candidates) < 2:  # fewer than two mid-volatility names: the week holds cash (a result)
        return _no_selection(record, sel.warnings[-1], t0)
    if settings.stability.runs > 0:  # stability selection inside the week (R more selections; the ablation row)
        from volts.selection.stability import stability_selection, with_stability

        t1 = time.perf_counter()
        stab = stability_selection(sub, settings, asof=asof)
        sel = with_stability(sel, stab)
        sel.timings["stability"] = time.perf_counter() - t1
        st = sel.stability
        record["stability"] = {
            "runs": st["runs"],
            "threshold": st["threshold"],
            "block_length": st["block_length"],
            "seed": st["seed"],
            "selected": st["selected"],
            "dropped": st["dropped"],
            "failed_runs": int(sum(st["failed"].values())),
        }
    if sel.pair_cap is not None:  # how many pairs passed the funnel before the cap ([selection] max_pairs)
        record["pair_cap"] = {k: v for k, v in sel.pair_cap.items() if k != "capped"}
    dropped: dict[str, int] = {}
    for stage in sel.dropped.values():
        dropped[stage] = dropped.get(stage, 0) + 1
    record.update(
        status="ok",
        error=None,
        candidates=list(sel.candidates),
        funnel=[s.to_dict() for s in sel.funnel],
        pairs=[p.to_dict() for p in sel.pairs],
        dropped_by_stage=dropped,
        warnings=list(sel.warnings),
        timings={**{k: float(v) for k, v in sel.timings.items()}, "total": time.perf_counter() - t0},
    )
    from volts.core.artifacts import to_jsonable

    return to_jsonable(record)


def _flagged_notes(market: MarketData, sub: MarketData) -> list[dict]:
    """Validation findings kept as notes (action ``flagged``) on the symbols and dates a week's selection sees."""
    report = market.report
    if report is None:
        return []
    lo, hi = sub.dates[0].date().isoformat(), sub.dates[-1].date().isoformat()
    syms = set(sub.symbols)
    return [
        p.to_dict()
        for p in report.problems
        if p.action == "flagged" and p.symbol in syms and p.date is not None and lo <= p.date <= hi
    ]


def _select_week_task(
    asof: dt.date,
    *,
    market: MarketData | None,
    settings: Settings,
    universe_for_asof: UniverseFn | None = None,
    data_sha: Mapping[dt.date, str] | None = None,
) -> dict:
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
    sub, report = load_universe(
        settings.data,
        asof=asof,
        start=earliest_start(windows),
        end=asof,
        zero_range_run=settings.volatility.window,
        zero_range_since=windows.gmm_start,
        # one window per week: nothing keyed by the window is ever read again
        whole_set_entry=False,
        validated_entries=False,
    )
    load_seconds = time.perf_counter() - t0
    week_settings = settings.override(**{"data.universe": list(report.usable)})
    record = select_week(sub, week_settings, asof)
    record["timings"] = {"load_universe": load_seconds, **record["timings"]}
    record["bars_sha256"] = record["data_sha256"]
    if sub.report is not None:  # rows this week's load dropped (the run's summary counts each once)
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
    head = (
        file_sha256(d.membership)
        if d.membership
        else f"list:{','.join(d.universe)}" + (f":synthetic:{d.synthetic_seed}" if d.source == "synthetic" else "")
    )
    files: dict[str, str | None] = {}
    out: dict[dt.date, str] = {}
    for asof in dates:
        members = list(members_on(table, asof)) if table is not None else list(d.universe)
        for sym in members:
            if sym not in files:
                path = symbol_file(d.dir, sym, d.csv) if d.source == "csv" else None
                files[sym] = file_sha256(path) if path is not None and Path(path).is_file() else None
        blob = json.dumps(
            {"membership": head, "asof": asof.isoformat(), "files": {m: files[m] for m in members}}, sort_keys=True
        )
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


def _settings_for_week(settings: Settings, asof: dt.date, universe_for_asof: UniverseFn | None) -> Settings:
    if universe_for_asof is None:
        return settings
    return settings.override(**{"data.universe": list(universe_for_asof(asof))})


def _read_cached(
    path: Path,
    config_sha: str,
    data_sha: str,
    legacy_sha: str | Sequence[str] | None = None,
    *,
    notes: list[str] | None = None,
) -> dict | None:
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
            notes.append(
                f"{path}: recomputing this week: the cached record is not readable UTF-8 JSON ({type(exc).__name__})"
            )
        return None
    if (
        not isinstance(rec, dict)
        or rec.get("format") != WEEK_FORMAT
        or rec.get("config_sha256") not in (config_sha, *legacy)
        or rec.get("data_sha256") != data_sha
    ):
        return None
    problem, _ = verify_record(rec, path.stem)
    if problem is not None:
        if notes is not None:
            notes.append(f"{path}: recomputing this week: {problem}")
        return None
    return rec


def run_weeks(
    market: MarketData | None,
    settings: Settings,
    dates: Sequence[dt.date],
    *,
    cache_dir: Path,
    executor,
    force: bool = False,
    universe_for_asof: UniverseFn | None = None,
    on_week: Callable[[dict], None] | None = None,
) -> tuple[list[dict], dict]:
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
        cached = (
            None
            if force
            else _read_cached(path, cfg, data, legacy_sha=(s.legacy_week_sha256(), s.sha256()), notes=notes)
        )
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
        log.warning(
            f"{cache_dir}: {sealed} cached week record(s) had no content hash (written by an older volts): "
            f"their fields passed the checks, they are reused and now carry record_sha256"
        )
    for asof, rec in executor.map(
        _select_week_task,
        todo,
        key=lambda d: d.isoformat(),
        label="weeks",
        market=market,
        settings=settings,
        universe_for_asof=universe_for_asof,
        data_sha=data_sha,
    ):
        rec = seal(rec)
        atomic_write_json(cache_dir / f"{asof.isoformat()}.json", rec)
        records[asof] = rec
        if on_week is not None:
            on_week(rec)
    stats = {
        "cached": len(dates) - len(todo),
        "computed": len(todo),
        "computed_dates": [d.isoformat() for d in todo],
        "wall_seconds": time.perf_counter() - t0,
    }
    return [records[d] for d in dates], stats
