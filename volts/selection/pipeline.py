"""The staged pair-selection pipeline (METHOD.md §1-5) -> ``Selection``.

data -> KNN anomalies -> volatility -> GMM regimes (mid = candidates) -> the screen funnel (``[selection]
screens``, by default the paper's Granger scan -> PCMCI -> effective transfer entropy; see :mod:`volts.selection.screens`)
-> DTW-KNN lag. Each stage's result is kept on the ``Selection``; a pair that drops out records
the stage where it left. ``Selection.to_dict()`` is the ``selection.json`` artifact (ARCHITECTURE.md).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from volts import __version__
from volts.core.config import Settings, WindowSettings
from volts.core.errors import DataError
from volts.data.market import MarketData
from volts.selection.bar_windows import BarWindows, bar_windows

ProgressFn = Callable[[str, str], None]  # (stage, message)

#: Above this many candidates the full p-value tables go to Parquet beside selection.json (issue 13).
INLINE_TABLES_MAX_SYMBOLS = 30


@dataclass(frozen=True)
class FunnelStep:
    """How many ordered pairs entered and left one screening stage."""

    stage: str
    entered: int
    kept: int

    def to_dict(self) -> dict:
        return {"stage": self.stage, "entered": self.entered, "kept": self.kept, "dropped": self.entered - self.kept}


@dataclass(frozen=True)
class SelectedPair:
    """A final (leader, follower, lag) with every statistic that led to it."""

    leader: str
    follower: str
    lag: int
    granger_p: float | None
    granger_p_bh: float | None
    partial_corr: float | None
    partial_corr_tau: int | None
    ete: float | None
    ete_p: float | None
    knn_accuracy: float
    knn_accuracy_in_sample: float | None
    screens: dict[str, dict] = field(default_factory=dict)  # per screen of the funnel: score, p, lag

    @property
    def name(self) -> str:
        return f"{self.leader}->{self.follower}"

    def to_dict(self) -> dict:
        return {
            "leader": self.leader,
            "follower": self.follower,
            "lag": self.lag,
            "granger_p": self.granger_p,
            "granger_p_bh": self.granger_p_bh,
            "partial_corr": self.partial_corr,
            "partial_corr_tau": self.partial_corr_tau,
            "ete": self.ete,
            "ete_p": self.ete_p,
            "knn_accuracy": self.knn_accuracy,
            "knn_accuracy_in_sample": self.knn_accuracy_in_sample,
            "screens": {k: dict(v) for k, v in self.screens.items()},
        }


@dataclass(frozen=True)
class Selection:
    """Everything the selection run produced; ``to_dict()`` gives ``selection.json``."""

    asof: dt.date
    windows: WindowSettings
    universe: tuple[str, ...]
    settings: Settings
    data_sha256: str
    anomalies: Any
    clusters: Any
    candidates: tuple[str, ...]
    granger_scan: Any
    granger: Any
    pcmci: Any
    ete: Any
    lags: dict[str, Any]
    screens: dict[str, Any]
    pairs: tuple[SelectedPair, ...]
    funnel: tuple[FunnelStep, ...]
    dropped: dict[str, str]
    warnings: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)
    lead_lag_clusters: Any = None  # volts.selection.hermitian.LeadLagClusters with [clustering] method = "hermitian"
    stability: Any = None
    coverage: Any = None  # volts.data.universe.UniverseReport, or None (a list universe loaded as a whole)
    pair_cap: dict | None = None  # volts.selection.pair_cap.cap_pairs's record, when [selection] max_pairs is set
    bars_per_year: float | None = None  # intraday bars: the annualisation of the volatility estimators

    @property
    def large(self) -> bool:
        """True when the full tables go to Parquet beside ``selection.json`` (more than
        ``INLINE_TABLES_MAX_SYMBOLS`` candidates); see :meth:`write_tables`."""
        return len(self.candidates) > INLINE_TABLES_MAX_SYMBOLS

    def coverage_dict(self) -> dict:
        """``universe_coverage`` of ``selection.json``: "n of m members had usable data" and every exclusion."""
        if self.coverage is not None:
            return self.coverage.to_dict()
        n = len(self.universe)
        return {
            "asof": self.asof.isoformat(),
            "source": "list",
            "members": n,
            "usable": n,
            "coverage": f"universe as of {self.asof} (list): {n} of {n} members had usable data (100.0%)",
            "excluded_by_rule": {},
            "usable_symbols": list(self.universe),
            "excluded": [],
        }

    def write_tables(self, folder) -> dict[str, str]:
        """Write the full p-value tables as Parquet into ``folder`` when :attr:`large`; returns {name: file}.

        ``granger_pvalues.parquet``: one row per (leader, follower), one column per lag order (p-values), plus
        ``F_<l>`` columns; ``granger_tests.parquet``: every pair at l* (p, p_bh, F); ``pcmci_links.parquet``:
        every tested lagged link (leader, follower, tau, value, p).
        """
        from pathlib import Path

        import numpy as np

        if not self.large:
            return {}
        folder = Path(folder)
        out = {}
        if self.granger_scan is not None:
            scan = self.granger_scan
            table = scan.pvalues.copy()
            table.columns = [f"p_{c}" for c in table.columns]
            fs = scan.fstats.copy()
            fs.columns = [f"F_{c}" for c in fs.columns]
            pd.concat([table, fs], axis=1).reset_index().to_parquet(folder / "granger_pvalues.parquet", index=False)
            out["granger_pvalues"] = "granger_pvalues.parquet"
        if self.granger is not None:
            pd.DataFrame(self.granger.to_dict()["tests"]).to_parquet(folder / "granger_tests.parquet", index=False)
            out["granger_tests"] = "granger_tests.parquet"
        if self.pcmci is not None:
            names = list(self.pcmci.var_names)
            i, j, t = np.nonzero(self.pcmci.p_matrix < 1.0)
            pd.DataFrame(
                {
                    "leader": [names[a] for a in i],
                    "follower": [names[b] for b in j],
                    "tau": t,
                    "value": self.pcmci.val_matrix[i, j, t],
                    "p": self.pcmci.p_matrix[i, j, t],
                }
            ).to_parquet(folder / "pcmci_links.parquet", index=False)
            out["pcmci_links"] = "pcmci_links.parquet"
        return out

    def _windows_json(self) -> dict:
        w = self.windows
        if isinstance(w, BarWindows):
            return w.to_dict()
        return {
            "anomaly": {"start": w.anomaly_start, "end": w.anomaly_end},
            "gmm": {"start": w.gmm_start, "end": w.gmm_end},
            "train": {"start": w.train_start, "end": w.train_end},
            "test": {"start": w.test_start, "end": w.test_end},
        }

    def _bars_json(self) -> dict:
        """Bar size and calendar of an intraday selection, and each pair's lag in bars and time (absent on D1)."""
        if not isinstance(self.windows, BarWindows):
            return {}
        from volts.data.timeframes import timeframe

        tf = timeframe(self.settings.data.timeframe)
        return {
            "bars": {
                "timeframe": tf.name,
                "bar": tf.describe(1),
                "calendar": self.settings.data.calendar,
                "bars_per_year": self.bars_per_year,
                "lags": {p.name: tf.describe(p.lag) for p in self.pairs},
            }
        }

    def to_dict(self) -> dict:
        w = self.windows
        granger = None if self.granger is None else self.granger.to_dict()
        scan = None if self.granger_scan is None else (self.granger_scan.to_dict() if not self.large else None)
        pcmci = None if self.pcmci is None else self.pcmci.to_dict()
        screens = {name: res.to_dict() for name, res in self.screens.items()}
        if self.large:  # full tables live in Parquet beside selection.json (write_tables)
            if granger is not None:
                kept = {(t["leader"], t["follower"]) for t in granger["pairs"]}
                granger["tests"] = [t for t in granger["tests"] if (t["leader"], t["follower"]) in kept]
                granger["tests_file"] = "granger_tests.parquet"
            if self.granger_scan is not None:
                scan = self.granger_scan.to_dict(tests=False)
                scan["file"] = "granger_pvalues.parquet"
            if pcmci is not None:
                pcmci = {k: v for k, v in pcmci.items() if k not in ("val_matrix", "p_matrix")}
                pcmci["file"] = "pcmci_links.parquet"
            screens = {
                name: {k: v for k, v in d.items() if k not in ("details", "rows", "pairs")}
                if isinstance(d, dict)
                else d
                for name, d in screens.items()
            }
        return {
            "asof": self.asof.isoformat(),
            "windows": self._windows_json(),
            "train": {"start": w.train_start.isoformat(), "end": w.train_end.isoformat()},
            **self._bars_json(),
            "universe": list(self.universe),
            "data_source": self.settings.data.source,
            "anomalies": self.anomalies.to_dict()["anomalies"],
            "anomaly_detection": {k: v for k, v in self.anomalies.to_dict().items() if k != "anomalies"},
            "volatility_clusters": dict(self.clusters.regimes),
            "volatility_clustering": self.clusters.to_dict(),
            "candidates": list(self.candidates),
            "lead_lag_clustering": self.lead_lag_clusters.to_dict() if self.lead_lag_clusters is not None else None,
            "granger": granger,
            "granger_pvalues": scan,
            "pcmci": pcmci,
            "transfer_entropy": None if self.ete is None else self.ete.to_dict(),
            "screens": screens,
            "lag_selection": {name: choice.to_dict() for name, choice in self.lags.items()},
            "pairs": [p.to_dict() for p in self.pairs],
            "funnel": [s.to_dict() for s in self.funnel],
            "dropped": (
                dict(self.dropped)
                if not self.large
                # Granger drops: see granger_tests.parquet
                else {k: v for k, v in self.dropped.items() if v != "granger"}
            ),
            "warnings": list(self.warnings),
            **({"stability": self.stability} if self.stability is not None else {}),
            **({"pair_cap": self.pair_cap} if self.pair_cap is not None else {}),
            "settings": self.settings.model_dump(mode="json"),
            "volts_version": __version__,
            "config_sha256": self.settings.sha256(),
            "data_sha256": self.data_sha256,
            "universe_coverage": self.coverage_dict(),
        }

    def summary(self) -> str:
        """A few lines for the terminal: the funnel and the final pairs."""
        cov = self.coverage_dict()
        lines = [cov["coverage"]]
        quarantined = [e for e in cov["excluded"] if e.get("quarantined")]
        if quarantined:
            lines.append(
                f"  quarantined (bad files): {len(quarantined)}: "
                + "; ".join(f"{e['symbol']} {e['date'] or ''} {e['rule']}".replace("  ", " ") for e in quarantined[:10])
                + (" ..." if len(quarantined) > 10 else "")
            )
        shown = self.candidates if len(self.candidates) <= 30 else self.candidates[:30] + ("...",)
        lines.append(
            f"selection as of {self.asof}: candidates (mid volatility) = "
            f"{len(self.candidates)}: {', '.join(shown) or '-'}"
        )
        cl = self.clusters
        if getattr(cl, "n_iter", 0):
            lines.append(
                f"  regimes: GMM log-likelihood {cl.log_likelihood:.2f}, {cl.n_iter} EM iterations, "
                f"converged={cl.converged}; borderline: "
                + (", ".join(f"{s} (margin {cl.margins[s]:.3f})" for s in cl.borderline) or "none")
            )
        for step in self.funnel:
            lines.append(f"  {step.stage:<22} {step.entered:>4} in  {step.kept:>4} kept")
        if self.pairs:
            for p in self.pairs:
                if p.granger_p is not None and p.ete is not None and p.ete_p is not None:
                    lines.append(
                        f"  pair {p.name:<14} lag {p.lag}  granger p={p.granger_p:.2g}  ETE={p.ete:.3g} "
                        f"(p={p.ete_p:.2g})  k-NN OOS accuracy={p.knn_accuracy:.3f}"
                    )
                    continue
                stats = "  ".join(
                    f"{name} " + (f"p={v['p']:.2g}" if v.get("p") is not None else f"score={v['score']:.3g}")
                    for name, v in p.screens.items()
                )
                lines.append(f"  pair {p.name:<14} lag {p.lag}  {stats}  k-NN OOS accuracy={p.knn_accuracy:.3f}")
        else:
            lines.append("  no pair survived every stage")
        if self.stability is not None:
            st = self.stability
            lines.append(
                f"  stability over {st['runs']} bootstrap runs: "
                + (", ".join(f"{k} {v:.0%}" for k, v in st["selected"].items()) or "no final pair")
                + (
                    f"; dropped below threshold {st['threshold']:g}: {', '.join(st['dropped'])}"
                    if st.get("dropped")
                    else ""
                )
            )
        return "\n".join(lines)


def earliest_start(windows: WindowSettings) -> dt.date:
    """First date any selection stage reads (the earliest window start)."""
    return min(windows.anomaly_start, windows.gmm_start, windows.train_start)


def selection_view(market: MarketData, settings: Settings, windows: WindowSettings) -> MarketData:
    """The bars a selection as of ``windows.asof`` can see: the universe (every symbol of a synthetic market)
    from the earliest window start to the as-of date. Its ``sha256()`` is the selection's ``data_sha256``."""
    d = settings.data
    per_symbol = d.source == "synthetic" or d.membership or d.on_bad_symbol == "exclude"
    # point-in-time / quarantined universes: the market holds exactly the usable members (volts.data.universe)
    universe = tuple(market.symbols) if per_symbol else tuple(d.universe)
    return market.select(universe).slice(earliest_start(windows), windows.asof)


def _window(market: MarketData, start, end, what: str) -> MarketData:
    try:
        return market.slice(start, end)
    except DataError as exc:
        raise DataError(f"{what} window {start} .. {end}: {exc}") from None


#: Volatility-regime fits by (bars of the GMM window, every clustering argument), most recent last. A walk-forward
#: that compares screens re-runs the same weeks with the same clustering; the fit (hundreds of EM iterations at the
#: default tolerance) is then reused instead of repeated. A pure function of its key, so a hit returns the same
#: result; bounded, per process.
_CLUSTER_MEMO: dict[tuple, Any] = {}
_CLUSTER_MEMO_SIZE = 1024


def _cluster_volatility_memo(bars: MarketData, /, **kwargs) -> tuple[Any, bool]:
    """``(cluster_volatility(bars, **kwargs), hit)`` through :data:`_CLUSTER_MEMO`."""
    from volts.selection.regimes import cluster_volatility

    key = (bars.sha256(), repr(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key in _CLUSTER_MEMO:
        return _CLUSTER_MEMO[key], True
    result = cluster_volatility(bars, **kwargs)
    if len(_CLUSTER_MEMO) >= _CLUSTER_MEMO_SIZE:
        _CLUSTER_MEMO.pop(next(iter(_CLUSTER_MEMO)))
    _CLUSTER_MEMO[key] = result
    return result, False


def too_few_candidates(candidates) -> str:
    """The line that says why a date has no pair: fewer than two mid-volatility candidates for the screens."""
    return (
        f"volatility clustering left {len(candidates)} mid-volatility stock(s) ({', '.join(candidates) or 'none'}); "
        f"the causal screen needs at least two, so this date has no pair"
    )


def run_selection(
    market: MarketData,
    settings: Settings,
    *,
    asof: dt.date | None = None,
    progress: ProgressFn | None = None,
    coverage: Any = None,
    executor: Any = None,
    pairs_only: bool = False,
    windows: BarWindows | None = None,
) -> Selection:
    """Run stages 1-5 of METHOD.md on the windows of ``settings`` ending at ``asof``.

    Parameters
    ----------
    market : MarketData
        Bars of (at least) the universe, covering every window; bars after ``asof`` are never read.
    settings : Settings
        Validated settings; ``settings.windows`` are shifted so that they end at ``asof``.
    asof : datetime.date, optional
        The as-of date (default ``settings.windows.asof``).
    progress : callable, optional
        Called as ``progress(stage, message)`` when a stage starts and ends.
    coverage : volts.data.universe.UniverseReport, optional
        The universe of ``asof`` as loaded by :func:`volts.data.universe.load_universe` (point-in-time members
        or a quarantined list): its usable symbols are the universe, its report goes into ``selection.json``.
    executor : volts.core.parallel.Executor, optional
        Where the common-sample Granger scan runs its blocks of series (in-process when None; same result).
    pairs_only : bool
        Skip work whose result cannot change the candidates or pairs: the anomaly scores when
        ``anomaly.exclude`` is false (they then feed only the report), the lag stage's alignment diagnostics
        (``dtw_distance``, ``dtw_median_offset`` are NaN) and the reverse transfer entropy of pairs whose forward
        test failed. The returned Selection has ``anomalies = None`` and is
        meant for its candidates, funnel and pairs (stability runs and the walk-forward's weeks use it).
    windows : volts.selection.bar_windows.BarWindows, optional
        The windows ending at a decision bar, on the bar clock. Default on bars other than D1:
        :func:`volts.selection.bar_windows.bar_windows` at ``asof`` (a date = the last bar complete by the end of that
        day); on D1 the ``[windows]`` dates (a BarWindows on D1 bars, e.g. daily bars resampled from hours by the
        frequency study, puts them on the bar clock too). The volatility
        estimators are then annualised by the calendar's bars per year (:func:`volts.data.timeframes.bars_per_year`),
        and lags, the volatility window and the lag stage's sample window count bars.

    Returns
    -------
    Selection
        With fewer than two mid-volatility candidates the screens do not run: no pair, an empty funnel, the
        regimes kept and the reason as the first warning (:func:`too_few_candidates`).

    Raises
    ------
    DataError
        A window has no bars, a universe symbol is missing, or a stage meets degenerate input.

    Length: the method's stages in METHOD.md's order (anomalies, regimes, screens, lags), each headed by a
    comment; the stages hand each other several results, and reading the method top to bottom in one function is
    the point.
    """
    from volts.selection.anomaly import detect_anomalies
    from volts.selection.causality.entropy import ete_screen
    from volts.selection.causality.granger import granger_scan
    from volts.selection.causality.granger_select import select_granger_pairs
    from volts.selection.causality.pcmci import pcmci_screen
    from volts.selection.causality.stationarity import adf_check, stationarity_warning
    from volts.selection.lag import choose_lag

    say = progress or (lambda stage, msg: None)
    periods_per_year: float = settings.volatility.periods_per_year
    if settings.data.timeframe == "D1" and windows is None:  # the daily path: [windows] dates shifted to asof
        windows = settings.windows if asof is None else settings.windows.shifted(asof)
    else:  # intraday: every window ends at the decision bar, annualised by the calendar's bars per year
        from volts.data.timeframes import bars_per_year

        if windows is None:
            windows = bar_windows(settings, market.dates, settings.windows.asof if asof is None else asof)
        periods_per_year = bars_per_year(settings.data.timeframe, settings.data.calendar, index=market.dates)
    asof = windows.asof
    if coverage is not None:
        universe = tuple(coverage.usable)
    else:
        universe = tuple(settings.data.universe) if settings.data.source != "synthetic" else tuple(market.symbols)
    # nothing after asof is ever read; the data hash covers exactly the bars the stages can see
    market = selection_view(market, settings, windows)
    timings: dict[str, float] = {}
    warnings: list[str] = []

    def timed(stage: str, fn, *args, **kwargs):
        say(stage, "start")
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[stage] = time.perf_counter() - t0
        say(stage, f"done in {timings[stage]:.2f} s")
        return out

    # 1. anomalies -------------------------------------------------------------------------------------
    a = settings.anomaly
    anomalies = None
    if a.exclude or not pairs_only:
        anomalies = timed(
            "anomalies",
            detect_anomalies,
            _window(market, windows.anomaly_start, windows.anomaly_end, "anomaly"),
            neighbors=a.neighbors,
            z_threshold=a.z_threshold,
            features=a.features,
        )

    # 2-3. volatility regimes ---------------------------------------------------------------------------
    c, v = settings.clustering, settings.volatility
    exclude = list(anomalies.flagged) if a.exclude else None
    clusters, _ = timed(
        "volatility_clusters",
        _cluster_volatility_memo,
        _window(market, windows.gmm_start, windows.gmm_end, "GMM"),
        window=v.window,
        periods_per_year=periods_per_year,
        estimators=c.estimators,
        covariance_type=c.covariance_type,
        n_init=c.n_init,
        random_state=c.random_state,
        exclude_dates=exclude,
        features=c.features,
        tol=c.tol,
        max_iter=c.max_iter,
        borderline_margin=c.borderline_margin,
        em_acceleration=c.em_acceleration,
    )
    if not clusters.converged:
        warnings.append(
            f"volatility clustering: EM did not converge within {clusters.max_iter} iterations "
            f"(tol {clusters.tol:g}); raise clustering.max_iter"
        )
    if clusters.borderline:
        warnings.append(
            "volatility clustering: borderline regime assignment (margin < "
            f"{clusters.borderline_margin:g}) for "
            + ", ".join(f"{s} ({clusters.regimes[s]}, margin {clusters.margins[s]:.3f})" for s in clusters.borderline)
        )
    candidates = tuple(clusters.candidates)
    funnel: list[FunnelStep] = []
    dropped: dict[str, str] = {}
    ordered = [(x, y) for x in candidates for y in candidates if x != y]
    lead_lag_clusters = None
    if (
        c.method == "hermitian"
    ):  # seed 003: pairs from a leading to a lagging lead-lag cluster (volts.selection.hermitian)
        from volts.selection.hermitian import hermitian_candidates

        gmm_window = _window(market, windows.gmm_start, windows.gmm_end, "clustering")
        lead_lag_clusters, ordered = timed(
            "lead_lag_clusters", hermitian_candidates, gmm_window.log_returns(), settings
        )
        in_pairs = {sym for pair in ordered for sym in pair}
        candidates = tuple(sym for sym in universe if sym in in_pairs)
    train = _window(market, windows.train_start, windows.train_end, "training")
    returns = train.select(candidates).log_returns() if candidates else None

    if len(candidates) < 2:  # a result of the regimes, not bad data: no pair this date (the regime table stays)
        warnings.append(too_few_candidates(candidates))
        return Selection(
            asof=asof,
            windows=windows,
            universe=universe,
            settings=settings,
            data_sha256=market.sha256(),
            anomalies=anomalies,
            clusters=clusters,
            candidates=candidates,
            granger_scan=None,
            granger=None,
            pcmci=None,
            ete=None,
            lags={},
            screens={},
            pairs=(),
            funnel=(),
            dropped={},
            warnings=tuple(warnings),
            timings=timings,
            lead_lag_clusters=lead_lag_clusters,
            coverage=coverage,
            bars_per_year=None if not isinstance(windows, BarWindows) else periods_per_year,
        )

    # 4. the screen funnel ([selection] screens; Vol-TS: granger -> pcmci -> transfer_entropy) -------------
    from volts.selection.pair_cap import cap_pairs
    from volts.selection.screens import make_screen, run_funnel

    closes = train.select(candidates).close
    screens = [make_screen(name, settings) for name in settings.selection.screens]
    for screen in screens:  # the common-sample Granger scan can run its tasks on a cluster
        if screen.name == "granger" and executor is not None:
            screen.executor = executor
        if screen.name == "transfer_entropy" and pairs_only:  # a dropped pair's reverse ETE decides nothing
            screen.reverse_when_dropped = False
    outcome = run_funnel(screens, returns, ordered, prices=closes, timed=timed)
    warnings.extend(outcome.warnings)
    dropped.update(outcome.dropped)
    for name, res in outcome.results.items():
        funnel.append(FunnelStep(name, len(res.pairs), int(res.kept.sum())))
    after_ete = outcome.kept
    results = outcome.results
    pair_cap = None
    if settings.selection.max_pairs is not None:  # a market-wide shock must not split the capital over thousands
        after_ete, pair_cap = cap_pairs(after_ete, results, settings.selection.max_pairs)
        if pair_cap["capped"]:
            funnel.append(FunnelStep("pair cap", pair_cap["passed"], pair_cap["kept"]))
            dropped.update(dict.fromkeys(pair_cap["capped"], "pair cap"))
            warnings.append(
                f"{pair_cap['passed']} pairs passed the funnel; the pair cap kept the {pair_cap['kept']} strongest "
                f"([selection] max_pairs, by {pair_cap['score']})"
            )
    g_res, pc_res, te_res = (results.get(n) for n in ("granger", "pcmci", "transfer_entropy"))
    scan, granger = g_res.raw if g_res is not None and g_res.raw is not None else (None, None)
    pcmci = pc_res.raw if pc_res is not None else None
    ete = te_res.raw if te_res is not None else None

    # 5. lag choice -------------------------------------------------------------------------------------
    lg = settings.lag
    lags: dict[str, Any] = {}
    say("lag", "start")
    t0 = time.perf_counter()
    for x, y in after_ete:
        lags[f"{x}->{y}"] = choose_lag(
            train.close[x],
            train.close[y],
            min_lag=lg.min_lag,
            max_lag=lg.max_lag,
            window=lg.window,
            neighbors=lg.neighbors,
            cv_splits=lg.cv_splits,
            diagnostics=not pairs_only,
        )
    timings["lag"] = time.perf_counter() - t0
    say("lag", f"done in {timings['lag']:.2f} s")
    funnel.append(FunnelStep("lag", len(after_ete), len(after_ete)))

    pairs = []
    for x, y in after_ete:
        choice = lags[f"{x}->{y}"]
        g_row = g_res.row(x, y) if g_res is not None else None
        pc_row = pc_res.row(x, y) if pc_res is not None else None
        te_row = te_res.row(x, y) if te_res is not None else None
        pairs.append(
            SelectedPair(
                leader=x,
                follower=y,
                lag=int(choice.lag),
                granger_p=None if g_row is None else float(g_row["p"]),
                granger_p_bh=None if g_row is None else g_row.get("p_bh"),
                partial_corr=None if pc_row is None else pc_row["partial_corr"],
                partial_corr_tau=None if pc_row is None else pc_row["lag"],
                ete=None if te_row is None else float(te_row["score"]),
                ete_p=None if te_row is None else float(te_row["p"]),
                knn_accuracy=float(choice.knn_accuracy),
                knn_accuracy_in_sample=float(choice.accuracy_in_sample[choice.lag]),
                screens={name: {k: res.row(x, y)[k] for k in ("score", "p", "lag")} for name, res in results.items()},
            )
        )

    return Selection(
        asof=asof,
        windows=windows,
        universe=universe,
        settings=settings,
        data_sha256=market.sha256(),
        anomalies=anomalies,
        clusters=clusters,
        candidates=candidates,
        granger_scan=scan,
        granger=granger,
        pcmci=pcmci,
        ete=ete,
        lags=lags,
        screens=dict(results),
        pairs=tuple(pairs),
        funnel=tuple(funnel),
        dropped=dropped,
        warnings=tuple(warnings),
        timings=timings,
        lead_lag_clusters=lead_lag_clusters,
        coverage=coverage,
        pair_cap=pair_cap,
        bars_per_year=None if not isinstance(windows, BarWindows) else periods_per_year,
    )
