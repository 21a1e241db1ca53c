"""Stability selection: how often the pipeline picks each ordered pair under perturbation (Meinshausen & Bühlmann 2010).

One selection is a knife edge: a seed of the mixture or of the surrogates, or a handful of training days, can
decide a pair (issue 11). Stability selection repeats the whole selection R times, each time

* on a **moving-block bootstrap** of the training days (Künsch 1989): the bars from ``windows.train_start`` to the
  as-of date are rebuilt from blocks of ``block_length`` consecutive days drawn with replacement. Each day enters
  as its bar *relative to the previous close* (open, high, low and close divided by the previous close, for every
  symbol on the same day, so the cross-section and any lead-lag inside a block are kept), chained from the last
  close before the window; the rebuilt bars keep the original calendar. Bars before the training window are left
  as they are; the anomaly and mixture windows see the rebuilt days where they overlap it;
* with **fresh seeds for every random stage**: the mixture's ``clustering.random_state`` and the surrogates'
  ``entropy.seed`` are drawn from ``numpy.random.SeedSequence(seed).spawn(R)``; the other stages (Granger, PCMCI
  with ParCorr, DTW k-NN) are deterministic given their data.

For each ordered pair the table gives the share of the R runs that selected it, its modal lag among those runs
and that lag's share. A run in which the pipeline stops (e.g. fewer than two mid-volatility stocks) selects no
pair and is counted in ``failed`` with its message. ``threshold`` (off by default, the paper's reproduction has
none) keeps only the pairs of the ordinary selection whose share reaches it.

References
----------
Meinshausen, N. and Bühlmann, P. (2010). Stability selection. JRSS B 72(4), 417-473.
Künsch, H. R. (1989). The jackknife and the bootstrap for general stationary observations. Ann. Stat. 17(3).
"""

from __future__ import annotations

import dataclasses

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from volts.data.market import FIELDS, MarketData
from volts.core.errors import ConfigError, DataError

__all__ = [
    "PairStability",
    "PendingStability",
    "StabilityResult",
    "block_bootstrap_market",
    "stability_run",
    "stability_selection",
    "start_stability",
    "check_block_length",
]


def _block_indices(n: int, block_length: int, rng: np.random.Generator) -> np.ndarray:
    """Positions 0..n-1 of a moving-block bootstrap: blocks of ``block_length`` consecutive positions (start drawn
    uniformly from 0..n-block_length), concatenated and cut to n."""
    b = max(1, min(int(block_length), n))
    n_blocks = -(-n // b)
    starts = rng.integers(0, n - b + 1, size=n_blocks)
    return (starts[:, None] + np.arange(b)[None, :]).ravel()[:n]


def block_bootstrap_market(market: MarketData, start, *, block_length: int, rng: np.random.Generator) -> MarketData:
    """Rebuild the bars from ``start`` on by a moving-block bootstrap of whole days (see the module docstring).

    Parameters
    ----------
    market : MarketData
        Bars, with at least one bar before ``start`` (the chain's anchor close).
    start : date-like
        First date of the resampled span (the training window's start).
    block_length : int
        Consecutive days per block (>= 1).
    rng : numpy.random.Generator

    Returns
    -------
    MarketData
        Same dates and symbols; bars before ``start`` unchanged, bars from ``start`` rebuilt.

    Raises
    ------
    DataError
        No bar before ``start`` or fewer than two bars from it.
    """
    dates = market.dates
    first = int(dates.searchsorted(pd.Timestamp(start)))
    if first < 1:
        raise DataError(f"stability bootstrap: no bar before {pd.Timestamp(start).date()} to anchor the rebuilt prices")
    n = len(dates) - first
    if n < 2:
        raise DataError(f"stability bootstrap: {n} bar(s) from {pd.Timestamp(start).date()}; need at least two")
    close = market.close.to_numpy()
    prev = close[first - 1 : -1]  # previous close of every day in the span
    rel = {f: getattr(market, f).to_numpy()[first:] / prev for f in ("open", "high", "low", "close")}
    idx = _block_indices(n, block_length, rng)
    growth = np.cumprod(rel["close"][idx], axis=0)
    anchor = close[first - 1]
    new_close = anchor * growth
    new_prev = np.vstack([anchor[None, :], new_close[:-1]])
    frames = {}
    for f in FIELDS:
        frame = getattr(market, f).copy()
        if f == "volume":
            frame.iloc[first:] = frame.to_numpy()[first:][idx]
        elif f == "close":
            frame.iloc[first:] = new_close
        else:
            frame.iloc[first:] = new_prev * rel[f][idx]
        frames[f] = frame
    return MarketData(**frames)


@dataclass(frozen=True)
class PairStability:
    """Selection frequency of one ordered pair over R perturbed runs."""

    leader: str
    follower: str
    share: float
    count: int
    modal_lag: int
    modal_lag_share: float
    lags: dict[int, int]

    @property
    def name(self) -> str:
        return f"{self.leader}->{self.follower}"

    def to_dict(self) -> dict:
        return {
            "leader": self.leader,
            "follower": self.follower,
            "share": float(self.share),
            "count": int(self.count),
            "modal_lag": int(self.modal_lag),
            "modal_lag_share": float(self.modal_lag_share),
            "lags": {str(k): int(v) for k, v in sorted(self.lags.items())},
        }


@dataclass(frozen=True)
class StabilityResult:
    """Stability of the selection over ``runs`` perturbed repetitions.

    Attributes
    ----------
    runs : int
        R, repetitions.
    block_length : int
        Days per bootstrap block.
    seed : int
        Root of the ``SeedSequence`` of every run's bootstrap and stage seeds.
    threshold : float or None
        Share a pair of the ordinary selection must reach to be kept (None: off).
    pairs : tuple of PairStability
        Every ordered pair selected at least once, by decreasing share.
    failed : dict of str to int
        Runs in which the pipeline stopped, by message (they selected nothing).
    candidates : dict of str to float
        Share of runs in which each symbol was a mid-volatility candidate.
    warnings : tuple of str
        Settings that weaken the measurement (a block shorter than 3 x ``lag.max_lag``).
    """

    runs: int
    block_length: int
    seed: int
    threshold: float | None
    pairs: tuple[PairStability, ...]
    failed: dict[str, int]
    candidates: dict[str, float]
    warnings: tuple[str, ...] = ()

    def share(self, leader: str, follower: str) -> float:
        """Share of runs that selected leader -> follower (0 if never)."""
        for p in self.pairs:
            if p.leader == leader and p.follower == follower:
                return p.share
        return 0.0

    def to_dict(self) -> dict:
        return {
            "runs": int(self.runs),
            "block_length": int(self.block_length),
            "seed": int(self.seed),
            "threshold": self.threshold,
            "pairs": [p.to_dict() for p in self.pairs],
            "failed": dict(self.failed),
            "candidates": dict(self.candidates),
            "warnings": list(self.warnings),
        }

    def summary(self, limit: int = 12) -> str:
        lines = [
            f"stability over {self.runs} runs (moving-block bootstrap of the training days, block "
            f"{self.block_length}; fresh GMM and surrogate seeds):"
        ]
        if not self.pairs:
            lines.append("  no pair was selected in any run")
        for p in self.pairs[:limit]:
            lines.append(
                f"  {p.name:<14} selected in {p.share:6.1%} of runs; modal lag {p.modal_lag} "
                f"({p.modal_lag_share:.0%} of its selections)"
            )
        if len(self.pairs) > limit:
            lines.append(f"  ... {len(self.pairs) - limit} more in selection.json")
        if self.failed:
            lines.append(
                f"  {sum(self.failed.values())} run(s) stopped early: "
                + "; ".join(f"{k} (x{v})" for k, v in self.failed.items())
            )
        return "\n".join(lines)


def stability_run(task: tuple[int, int, int], *, market: MarketData, settings, asof: dt.date) -> dict:
    """One perturbed selection (top-level and picklable, for :class:`volts.core.parallel.Executor`).

    Parameters
    ----------
    task : (index, bootstrap_seed, stage_seed)
        Run number and the seeds of its bootstrap and of its random stages.
    market, settings, asof
        As :func:`volts.selection.pipeline.run_selection`.

    Returns
    -------
    dict
        ``{"index", "pairs": [[leader, follower, lag], ...], "candidates": [...], "error": str or None}``.
    """
    from volts.selection.pipeline import run_selection

    index, boot_seed, stage_seed = task
    windows = settings.windows.shifted(asof)
    rng = np.random.default_rng(boot_seed)
    st = settings.stability
    try:
        boot = block_bootstrap_market(
            market.slice(None, windows.asof), windows.train_start, block_length=st.block_length, rng=rng
        )
        stage_rng = np.random.default_rng(stage_seed)
        # entropy.stop_early: a run reports only its pairs, and the curtailed surrogate test takes the same keep
        # decisions as the full one (volts.selection.causality.entropy.ete_screen), so the shares are those of full tests
        s = settings.override(
            **{
                "clustering.random_state": int(stage_rng.integers(0, 2**31 - 1)),
                "entropy.seed": int(stage_rng.integers(0, 2**31 - 1)),
                "entropy.stop_early": True,
            }
        )
        sel = run_selection(boot, s, asof=asof, pairs_only=True)  # only the pairs and candidates are kept
    except DataError as exc:
        return {"index": index, "pairs": [], "candidates": [], "error": str(exc).split(";")[0][:160]}
    return {
        "index": index,
        "pairs": [[p.leader, p.follower, int(p.lag)] for p in sel.pairs],
        "candidates": list(sel.candidates),
        "error": None,
    }


def stability_selection(
    market: MarketData, settings, *, asof: dt.date | None = None, runs: int | None = None, executor=None
) -> StabilityResult:
    """Repeat the selection ``runs`` times under perturbation and tabulate how often each pair is chosen.

    Parameters
    ----------
    market : MarketData
        Bars covering every window (as for :func:`volts.selection.pipeline.run_selection`); nothing after ``asof`` is read.
    settings : Settings
        ``settings.stability`` gives the runs, block length, seed and threshold.
    asof : datetime.date, optional
        Default ``settings.windows.asof``.
    runs : int, optional
        R; overrides ``settings.stability.runs``.
    executor : volts.core.parallel.Executor, optional
        Where the runs execute (one task per run); default a plain loop in this process.

    Returns
    -------
    StabilityResult

    Raises
    ------
    ValueError
        ``runs`` < 1.
    """
    return start_stability(market, settings, asof=asof, runs=runs, executor=executor).result()


class PendingStability:
    """Stability repetitions started by :func:`start_stability`; :meth:`result` waits for them and tabulates."""

    def __init__(self, batch, settings, runs: int) -> None:
        self._batch, self._settings, self._runs = batch, settings, runs

    @property
    def running(self) -> bool:
        """True when the runs are already executing elsewhere (on a Dask cluster) while this process goes on."""
        return self._batch.remote

    def result(self) -> StabilityResult:
        """Wait for every run (or run them here, in-process) and return the :class:`StabilityResult`."""
        st = self._settings.stability
        results = [r for _, r in self._batch]
        result = summarise_runs(
            results, runs=self._runs, block_length=st.block_length, seed=st.seed, threshold=st.threshold
        )
        return dataclasses.replace(result, warnings=block_length_warnings(st.block_length, self._settings.lag.max_lag))

    def cancel(self) -> None:
        """Cancel runs still pending on a cluster (a no-op otherwise)."""
        self._batch.cancel()


def start_stability(
    market: MarketData, settings, *, asof: dt.date | None = None, runs: int | None = None, executor=None
) -> PendingStability:
    """Start the repetitions of :func:`stability_selection` and return at once; ``.result()`` collects them.

    On a Dask cluster the runs execute while the caller goes on (``volts select`` runs the plain selection and
    draws its figures meanwhile); in-process they run inside ``.result()``. Same arguments and result as
    :func:`stability_selection`.
    """
    st = settings.stability
    runs = int(st.runs if runs is None else runs)
    if runs < 1:
        raise ValueError(f"stability runs must be >= 1 (got {runs})")
    asof = settings.windows.asof if asof is None else asof
    check_block_length(market, settings, asof)
    children = np.random.SeedSequence(int(st.seed)).spawn(runs)
    tasks = []
    for i, child in enumerate(children):
        a, b = child.generate_state(2, dtype=np.uint32)
        tasks.append((i, int(a), int(b)))
    from volts.core.parallel import Executor

    executor = Executor() if executor is None else executor  # in-process: the runs happen in .result()
    batch = executor.submit(stability_run, tasks, label="stability runs", market=market, settings=settings, asof=asof)
    return PendingStability(batch, settings, runs)


def check_block_length(market: MarketData, settings, asof: dt.date) -> None:
    """Refuse a ``stability.block_length`` at or above the training length, before any run starts.

    A block as long as the training span (``windows.train_start`` .. ``asof``, in bars) can only redraw that
    span as itself: every run sees the same days, every selected pair gets a share of 1.0, and the table says
    nothing about stability.

    Raises
    ------
    ConfigError
        ``block_length`` >= the number of training bars (both named).
    """
    windows = settings.windows.shifted(asof)
    dates = market.slice(None, windows.asof).dates
    n = int(len(dates) - dates.searchsorted(pd.Timestamp(windows.train_start)))
    block = int(settings.stability.block_length)
    if block >= n:
        raise ConfigError(
            f"stability.block_length {block} is not below the training length ({n} bars from "
            f"{windows.train_start} to {windows.asof}): every bootstrap run would redraw the same "
            f"days and give every pair a share of 1.0; set stability.block_length below {n} "
            f"(the default 30, or about 3 x lag.max_lag)"
        )


def block_length_warnings(block_length: int, max_lag: int) -> tuple[str, ...]:
    """A warning when bootstrap blocks are shorter than 3 x the longest lag tested (empty tuple otherwise).

    A lag-L relation survives a moving-block bootstrap only where day t and day t - L fall in the same block, a
    share of about 1 - L / block: below 3 x L more than a third of the longest-lag relations are broken, and the
    stability shares of long-lag pairs come out too low (README, "Block length").
    """
    if block_length >= 3 * max_lag:
        return ()
    kept = max(0.0, 1.0 - max_lag / block_length)
    return (
        f"stability: block_length {block_length} < 3 x lag.max_lag ({3 * max_lag}); a lag-{max_lag} relation "
        f"survives the bootstrap on only about {kept:.0%} of days, so long-lag pairs look less stable than they "
        f"are (set stability.block_length >= {3 * max_lag})",
    )


def summarise_runs(
    results: list[dict], *, runs: int, block_length: int, seed: int, threshold: float | None
) -> StabilityResult:
    """Tabulate :func:`stability_run` outputs into a :class:`StabilityResult`."""
    lags: dict[tuple[str, str], Counter] = {}
    cand = Counter()
    failed = Counter()
    for r in results:
        if r["error"]:
            failed[r["error"]] += 1
        cand.update(r["candidates"])
        for leader, follower, lag in r["pairs"]:
            lags.setdefault((leader, follower), Counter())[int(lag)] += 1
    rows = []
    for (leader, follower), c in lags.items():
        count = sum(c.values())
        modal, modal_n = min(c.items(), key=lambda kv: (-kv[1], kv[0]))  # most frequent; ties: smaller lag
        rows.append(PairStability(leader, follower, count / runs, count, modal, modal_n / count, dict(c)))
    rows.sort(key=lambda p: (-p.share, p.leader, p.follower))
    return StabilityResult(
        runs=runs,
        block_length=int(block_length),
        seed=int(seed),
        threshold=threshold,
        pairs=tuple(rows),
        failed=dict(failed),
        candidates={s: n / runs for s, n in sorted(cand.items(), key=lambda kv: -kv[1])},
    )


def apply_threshold(pairs, stability: StabilityResult) -> tuple[list, list[str]]:
    """Pairs of the ordinary selection whose stability share reaches ``stability.threshold``.

    Returns the kept pairs and the names of the dropped ones (all pairs kept when the threshold is None).
    """
    if stability.threshold is None:
        return list(pairs), []
    kept, dropped = [], []
    for p in pairs:
        (kept if stability.share(p.leader, p.follower) >= stability.threshold else dropped).append(p)
    return kept, [p.name for p in dropped]


def stability_dict_for(selection_pairs, stability: StabilityResult) -> dict[str, Any]:
    """The ``stability`` object of selection.json: the table plus each final pair's share."""
    out = stability.to_dict()
    out["selected"] = {p.name: stability.share(p.leader, p.follower) for p in selection_pairs}
    return out


def with_stability(selection, stability: StabilityResult):
    """The selection with its ``stability`` table attached and, when a threshold is set, the final pairs below it
    removed (recorded in ``dropped`` as ``"stability"`` and as a funnel step)."""
    from volts.selection.pipeline import FunnelStep

    kept, dropped = apply_threshold(selection.pairs, stability)
    payload = stability_dict_for(selection.pairs, stability)
    payload["dropped"] = dropped
    funnel = selection.funnel
    reasons = dict(selection.dropped)
    if stability.threshold is not None:
        funnel = funnel + (FunnelStep("stability", len(selection.pairs), len(kept)),)
        for name in dropped:
            reasons[name] = "stability"
    return dataclasses.replace(
        selection,
        pairs=tuple(kept),
        funnel=funnel,
        dropped=reasons,
        stability=payload,
        warnings=tuple(selection.warnings) + tuple(stability.warnings),
    )
