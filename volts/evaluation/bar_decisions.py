"""The selections of an intraday walk-forward: one per decision bar, run in coarse tasks and cached as JSON.

Each decision (:mod:`volts.evaluation.bar_schedule`) runs :func:`volts.selection.pipeline.run_selection` on the
bars known at its decision bar, with the windows of :func:`volts.selection.bar_windows.bar_windows` (lengths from
``[intraday]``, all ending at the decision bar), and keeps a compact record: candidates, funnel, pairs with their
lags in bars. The record is written to ``<out>/decisions/<stamp>.json`` with three hashes:

* ``config_sha256``: :meth:`volts.core.config.Settings.selection_sha256` (every setting a selection can read);
* ``data_sha256``: :func:`bars_sha256` of exactly the bars the selection can see (its universe, first window bar
  .. decision bar), full time stamps included, so a change to a bar after the decision leaves it valid;
* ``record_sha256``: the record's own content, so an edited or truncated file is recomputed (with a warning).

Decisions are independent; they run through :class:`volts.core.parallel.Executor` in chunks of consecutive
decisions (one task per chunk, a few chunks per worker), since one selection on a small universe takes well under
a second and a task per decision would spend much of it on scheduling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from volts.core.artifacts import atomic_write_json, to_jsonable
from volts.core.config import Settings
from volts.core.errors import DataError
from volts.data.intraday_panel import IntradayPanel
from volts.data.market import FIELDS, MarketData
from volts.data.timeframes import timeframe

log = logging.getLogger(__name__)

DECISION_FORMAT = 1  # bump when the record's layout changes (old cache files are then recomputed)
HASH_FIELD = "record_sha256"


def bars_sha256(market: MarketData) -> str:
    """SHA-256 of bars with their full time stamps (symbols, int64 nanosecond stamps, every field as float64 LE).

    :meth:`MarketData.sha256` writes the index as dates, which on intraday bars would not tell two bars of one day
    apart; this hash does.
    """
    h = hashlib.sha256()
    h.update(",".join(market.symbols).encode())
    h.update(np.ascontiguousarray(market.dates.asi8.astype("<i8")).tobytes())
    for name in FIELDS:
        h.update(np.ascontiguousarray(getattr(market, name).to_numpy(dtype="<f8")).tobytes())
    return h.hexdigest()


def _record_hash(rec: dict) -> str:
    body = {k: v for k, v in rec.items() if k != HASH_FIELD}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(rec: dict) -> dict:
    """The record with its content hash (``record_sha256``)."""
    return {**rec, HASH_FIELD: _record_hash(rec)}


def _universe(market: MarketData, settings: Settings) -> list[str]:
    uni = [s for s in settings.data.universe if s in market.symbols]
    return uni if settings.data.source != "synthetic" and uni else list(market.symbols)


class PipelineSelector:
    """The selection of one decision: windows of :func:`volts.selection.bar_windows.bar_windows` and
    :func:`volts.selection.pipeline.run_selection` with ``pairs_only=True`` (the lean selection of the weekly
    walk-forward: the curtailed surrogate test, no alignment diagnostics).

    Tests substitute another object with the same two methods.
    """

    def window(self, settings: Settings, index: pd.DatetimeIndex, asof: pd.Timestamp) -> tuple[pd.Timestamp, Any]:
        """``(first bar the selection reads, windows)`` of the decision bar ``asof``.

        :func:`~volts.selection.bar_windows.bar_windows` takes a decision *time*: the decision bar's close. The
        anomaly window is read only when its flags exclude names (``anomaly.exclude``); otherwise the lean
        selection skips it, so its bars are neither sliced nor hashed.

        Raises
        ------
        DataError
            A window the data cannot hold (the data start too late for the first decision).
        """
        from volts.selection.bar_windows import bar_windows

        tf = timeframe(settings.data.timeframe)
        w = bar_windows(settings, index, pd.Timestamp(asof) + tf.duration)
        if w.asof != asof:  # the decision bar is a bar of the index, complete at its own close
            raise DataError(f"decision bar {asof}: not a bar of the data (the last complete bar is {w.asof})")
        starts = [w.gmm_start, w.train_start] + ([w.anomaly_start] if settings.anomaly.exclude else [])
        return min(starts), w

    def select(self, sub: MarketData, settings: Settings, asof: pd.Timestamp, windows: Any) -> dict:
        """``candidates``, ``funnel``, ``pairs``, ``dropped_by_stage``, ``warnings``, ``timings`` of one decision."""
        from volts.selection.pipeline import run_selection

        # the symbols that cover this decision's windows are its universe
        lean = settings.override(**{"entropy.stop_early": True, "data.universe": list(sub.symbols)})
        sel = run_selection(sub, lean, windows=windows, pairs_only=True)
        if len(sel.candidates) < 2:
            raise _TooFew(sel.warnings[-1] if sel.warnings else "fewer than two candidates")
        dropped: dict[str, int] = {}
        for stage in sel.dropped.values():
            dropped[stage] = dropped.get(stage, 0) + 1
        return {
            "candidates": list(sel.candidates),
            "funnel": [s.to_dict() for s in sel.funnel],
            "pairs": [p.to_dict() for p in sel.pairs],
            "dropped_by_stage": dropped,
            "warnings": list(sel.warnings),
            "timings": {k: float(v) for k, v in sel.timings.items()},
        }

    @staticmethod
    def windows_dict(windows: Any) -> dict:
        """ISO stamps of the windows (stored in the record)."""
        if hasattr(windows, "to_dict"):
            return windows.to_dict()
        names = ("anomaly_start", "anomaly_end", "gmm_start", "gmm_end", "train_start", "train_end")
        return {k: pd.Timestamp(getattr(windows, k)).isoformat() for k in names if hasattr(windows, k)}


class _TooFew(Exception):
    """Fewer than two candidates: the decision holds cash (a result, not an error)."""


def as_panel(market: MarketData | IntradayPanel) -> IntradayPanel:
    """``market`` as an :class:`~volts.data.intraday_panel.IntradayPanel` (a complete market: every bar real)."""
    if isinstance(market, IntradayPanel):
        return market
    return IntradayPanel(market, pd.DataFrame(True, index=market.dates, columns=market.symbols))


_NEXT_BAR = re.compile(r" \(its next bar is [^)]*\)$")


def decision_sub(
    panel: IntradayPanel, settings: Settings, asof: pd.Timestamp, selector
) -> tuple[MarketData | None, Any, list[str], dict[str, str]]:
    """What the selection of ``asof`` may read: ``(bars, windows, universe, excluded)``.

    The bars are those of the universe's symbols that cover the windows (:meth:`IntradayPanel.covering`: bars from
    the first window's start, at most 5 % of its stamps missing, no hole longer than ``data.coverage_gap_days``), on
    the stamps all of them have, from the first window bar to ``asof``; None when fewer than two symbols cover
    them. ``excluded`` gives each other symbol's reason (without the covering check's note on the symbol's next
    bar, which lies after ``asof``).
    """
    first, windows = selector.window(settings, panel.market.dates, asof)
    universe = _universe(panel.market, settings)
    gap = pd.Timedelta(days=settings.data.coverage_gap_days)
    symbols, excluded = panel.covering(first, asof, symbols=universe, max_gap=gap)
    excluded = {k: _NEXT_BAR.sub("", v) for k, v in excluded.items()}
    sub = panel.window_market(symbols, first, asof) if len(symbols) >= 2 else None
    return sub, windows, universe, excluded


def _data_sha(sub: MarketData | None, excluded: dict[str, str]) -> str:
    """Hash of what a decision saw: its bars (:func:`bars_sha256`) and the symbols left out with their reasons."""
    h = hashlib.sha256((bars_sha256(sub) if sub is not None else "no bars").encode())
    h.update(json.dumps(excluded, sort_keys=True).encode())
    return h.hexdigest()


def select_decision(market: MarketData | IntradayPanel, settings: Settings, asof, *, selector=None) -> dict:
    """Run the selection at the decision bar ``asof`` and return its JSON-able record.

    Parameters
    ----------
    market : MarketData or IntradayPanel
        Bars of the universe (those after ``asof`` are never read); a panel's symbols that do not cover the
        windows are left out (``excluded``).
    settings : Settings
        ``[intraday]`` window lengths, the selection stages.
    asof : date-like
        Open stamp of the decision bar.
    selector : object, optional
        Default :class:`PipelineSelector`.

    Returns
    -------
    dict
        ``format``, ``asof`` (ISO stamp), ``timeframe``, ``status`` (``"ok"`` or ``"no_selection"`` with
        ``error``: the decision holds cash), ``universe``, ``candidates``, ``funnel``, ``pairs`` (leader, follower,
        ``lag`` in bars, ``lag_text`` e.g. "3 bars (3 h)", and the statistics of the selected pair),
        ``dropped_by_stage``, ``warnings``, ``windows``, ``excluded`` (symbol -> reason it does not cover the
        windows), ``timings`` (wall seconds by stage), ``config_sha256``, ``data_sha256``.
    """
    selector = selector or PipelineSelector()
    asof = pd.Timestamp(asof)
    tf = timeframe(settings.data.timeframe)
    t0 = time.perf_counter()
    sub, windows, universe, excluded = decision_sub(as_panel(market), settings, asof, selector)
    record: dict[str, Any] = {
        "format": DECISION_FORMAT,
        "asof": asof.isoformat(),
        "timeframe": tf.name,
        "config_sha256": settings.selection_sha256(),
        "data_sha256": _data_sha(sub, excluded),
        "universe": universe,
        "excluded": excluded,
        "windows": selector.windows_dict(windows),
    }
    try:
        if sub is None:
            raise _TooFew(
                f"fewer than two symbols cover the windows ({len(universe) - len(excluded)} of {len(universe)})"
            )
        out = selector.select(sub, settings, asof, windows)
    except (DataError, _TooFew) as exc:  # too little input at this bar: the decision holds cash (a result)
        record.update(
            status="no_selection",
            error=str(exc),
            candidates=[],
            funnel=[],
            pairs=[],
            dropped_by_stage={},
            warnings=[],
            timings={"total": time.perf_counter() - t0},
        )
        return to_jsonable(record)
    for p in out["pairs"]:
        p["lag"] = int(p["lag"])
        p["lag_text"] = tf.describe(p["lag"])
    record.update(status="ok", error=None, **out)
    record["timings"] = {**out.get("timings", {}), "total": time.perf_counter() - t0}
    return to_jsonable(record)


def _chunk_task(chunk: tuple, *, panel: IntradayPanel, settings: Settings, selector) -> list[dict]:
    """Executor task: the decisions of one chunk, in order (top-level so that it pickles to Dask workers)."""
    return [select_decision(panel, settings, pd.Timestamp(a), selector=selector) for a in chunk]


def _cache_name(asof: pd.Timestamp) -> str:
    return asof.strftime("%Y-%m-%dT%H%M") + ".json"


def read_cached(path: Path, config_sha: str, data_sha: str, notes: list[str]) -> dict | None:
    """The cached record when its hashes match and its content hash holds; a file that is unreadable, malformed or
    edited gives None and a line in ``notes``."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        notes.append(
            f"{path}: recomputing this decision: the cached record is not readable JSON ({type(exc).__name__})"
        )
        return None
    if not isinstance(rec, dict):
        notes.append(f"{path}: recomputing this decision: the cached record is not a JSON object")
        return None
    if (
        rec.get("format") != DECISION_FORMAT
        or rec.get("config_sha256") != config_sha
        or rec.get("data_sha256") != data_sha
    ):
        return None  # other settings or other bars: a plain recompute
    if rec.get(HASH_FIELD) != _record_hash(rec) or not isinstance(rec.get("pairs"), list):
        notes.append(
            f"{path}: recomputing this decision: its content does not match its record_sha256 (edited or truncated)"
        )
        return None
    return rec


def chunk_size(n_todo: int, workers: int) -> int:
    """Decisions per task: about four tasks per worker (load balance against the per-task overhead), at most 64
    and at least 1."""
    if n_todo <= 0:
        return 1
    return max(1, min(64, math.ceil(n_todo / (4 * max(1, workers)))))


def run_decisions(
    market: MarketData | IntradayPanel,
    settings: Settings,
    asofs: Sequence[pd.Timestamp],
    *,
    cache_dir: Path,
    executor,
    force: bool = False,
    selector=None,
    on_decision: Callable[[dict], None] | None = None,
) -> tuple[list[dict], dict]:
    """Records of ``asofs`` from the cache or computed through ``executor`` (chunks of decisions per task); each
    new record is cached as its chunk returns.

    Parameters
    ----------
    market : MarketData or IntradayPanel
        Bars of the whole walk-forward (loaded once; sent once per worker on a cluster).
    settings : Settings
    asofs : sequence of pandas.Timestamp
        Decision bars, ascending.
    cache_dir : Path
        ``<out>/decisions``.
    executor : volts.core.parallel.Executor
    force : bool
        Recompute every decision.
    selector : object, optional
        Default :class:`PipelineSelector`.
    on_decision : callable, optional
        Called with each newly computed record.

    Returns
    -------
    records : list of dict
        One per decision (ascending), see :func:`select_decision`, sealed with ``record_sha256``.
    stats : dict
        ``cached``, ``computed``, ``chunks``, ``chunk_size``, ``wall_seconds``, ``hash_seconds``.
    """
    selector = selector or PipelineSelector()
    panel = as_panel(market)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cfg = settings.selection_sha256()
    records: dict[pd.Timestamp, dict] = {}
    notes: list[str] = []
    todo: list[pd.Timestamp] = []
    for a in asofs:
        a = pd.Timestamp(a)
        cached = None
        if not force:
            sub, _, _, excluded = decision_sub(panel, settings, a, selector)
            cached = read_cached(cache_dir / _cache_name(a), cfg, _data_sha(sub, excluded), notes)
        if cached is None:
            todo.append(a)
        else:
            records[a] = cached
    hash_seconds = time.perf_counter() - t0
    for note in notes:
        log.warning(note)
    workers = getattr(executor, "workers", None) or 1
    size = chunk_size(len(todo), workers)
    chunks = [tuple(x.isoformat() for x in todo[i : i + size]) for i in range(0, len(todo), size)]
    if chunks:
        executor.note(
            f"{len(todo)} decision(s) to compute in {len(chunks)} task(s) of up to {size}; "
            f"{len(asofs) - len(todo)} from the cache"
        )
    for _, recs in executor.map(
        _chunk_task,
        chunks,
        key=lambda c: c[0].replace(":", ""),
        label="decision chunks",
        panel=panel,
        settings=settings,
        selector=selector,
    ):
        for rec in recs:
            rec = seal(rec)
            a = pd.Timestamp(rec["asof"])
            atomic_write_json(cache_dir / _cache_name(a), rec)
            records[a] = rec
            if on_decision is not None:
                on_decision(rec)
    stats = {
        "cached": len(asofs) - len(todo),
        "computed": len(todo),
        "chunks": len(chunks),
        "chunk_size": size,
        "wall_seconds": time.perf_counter() - t0,
        "hash_seconds": hash_seconds,
    }
    return [records[pd.Timestamp(a)] for a in asofs], stats
