"""Figures of stages 1-3: KNN anomaly scores and volatility regimes (METHOD.md §1-3)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from volts.reporting.figures import save_figure  # noqa: E402

__all__ = ["REGIME_COLOURS", "plot_anomalies", "plot_volatility_regimes"]

#: Colour of each regime in every figure.
REGIME_COLOURS = {"low": "tab:blue", "mid": "tab:green", "high": "tab:red"}

_LABELS = {
    "parkinson": "Parkinson",
    "garman_klass": "Garman-Klass",
    "rogers_satchell": "Rogers-Satchell",
    "yang_zhang": "Yang-Zhang",
    "close_to_close": "close-to-close",
}


def plot_anomalies(result, path) -> Path:
    """KNN anomaly score per day, the threshold line and the flagged days.

    Parameters
    ----------
    result : volts.selection.anomaly.AnomalyResult
        Output of :func:`volts.selection.anomaly.detect_anomalies`.
    path : str or pathlib.Path
        PNG file to write (its folder must exist).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    scores = result.scores
    fig, ax = plt.subplots(figsize=(11, 4.2))
    try:
        ax.plot(scores.index, scores.to_numpy(), lw=0.8, color="0.35", label="anomaly score")
        ax.axhline(
            result.threshold,
            color="tab:orange",
            ls="--",
            lw=1.2,
            label=f"threshold = mean + {result.z_threshold:g} std ({result.threshold:.2f})",
        )
        flagged = result.flagged_scores
        if len(flagged):
            ax.scatter(
                flagged.index,
                flagged.to_numpy(),
                color="tab:red",
                s=22,
                zorder=3,
                label=f"flagged days ({len(flagged)})",
            )
        ax.set_title(
            f"KNN anomaly score (k = {result.neighbors}, features: {', '.join(result.features)}, "
            f"{len(result.symbols)} stocks), {scores.index[0].date()} .. {scores.index[-1].date()}"
        )
        ax.set_ylabel("mean distance to k nearest days (z units)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        save_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _as_dict(vols, estimator: str) -> dict[str, pd.DataFrame]:
    if isinstance(vols, pd.DataFrame):
        return {estimator: vols}
    if isinstance(vols, Mapping):
        return dict(vols)
    raise TypeError(f"vols must be a DataFrame or a mapping of estimator name -> DataFrame, got {type(vols)!r}")


def plot_volatility_regimes(vols, clusters, path, *, estimator: str = "yang_zhang") -> Path:
    """Each stock's annualised volatility over the clustering window, coloured by its regime.

    One panel per estimator the clustering used (time series, with dashed lines at each component's centre for
    that estimator), plus a bar panel: each stock's mean volatility on the naming scale of the regimes (exp of the
    mean log-volatility averaged over the estimators), with the component means and the mid band (between the
    geometric midpoints of adjacent component means) marked.

    Parameters
    ----------
    vols : dict[str, pandas.DataFrame] or pandas.DataFrame
        Annualised volatility frames (dates x symbols), e.g. :func:`volts.selection.volatility.estimate_all`; a single
        frame is taken as the ``estimator`` one. Only dates within the clustering sample are drawn.
    clusters : volts.selection.regimes.VolatilityClusters
        Output of :func:`volts.selection.regimes.cluster_volatility`.
    path : str or pathlib.Path
        PNG file to write.
    estimator : str, default "yang_zhang"
        Name given to ``vols`` when it is a single frame.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    frames = _as_dict(vols, estimator)
    names = [e for e in clusters.estimators if e in frames] or list(frames)
    symbols = [s for s in clusters.symbols if all(s in frames[n].columns for n in names)]
    frames = {n: frames[n].loc[clusters.start : clusters.end, symbols] for n in names}
    regimes = clusters.regimes

    n_ts = len(names)
    ncols = 2 if n_ts + 1 > 2 else n_ts + 1
    nrows = int(np.ceil((n_ts + 1) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 3.6 * nrows), squeeze=False)
    try:
        flat = axes.ravel()
        for ax, name in zip(flat, names):
            f = frames[name]
            for sym in symbols:
                ax.plot(f.index, f[sym].to_numpy(), lw=0.8, alpha=0.8, color=REGIME_COLOURS[regimes[sym]])
            if name in clusters.component_means.columns:
                for reg in clusters.component_means.index:
                    ax.axhline(clusters.component_means.loc[reg, name], color=REGIME_COLOURS[reg], ls="--", lw=1)
            ax.set_title(f"{_LABELS.get(name, name)} ({clusters.window}-day window)", fontsize=10)
            ax.set_ylabel("annualised volatility")
            ax.grid(alpha=0.3)
            ax.tick_params(axis="x", labelsize=7)

        bar = flat[n_ts]
        logs = np.mean([np.log(frames[n].to_numpy()) for n in names], axis=0)  # (dates, symbols)
        level = pd.Series(np.exp(np.nanmean(logs, axis=0)), index=symbols)
        bar.bar(symbols, level.to_numpy(), color=[REGIME_COLOURS[regimes[s]] for s in symbols])
        if set(names) == set(clusters.estimators):
            cv = clusters.component_volatility  # same scale as the bars: the regimes' naming scale
        elif len(names) == 1 and names[0] in clusters.component_means.columns:
            cv = clusters.component_means[names[0]]
        else:
            cv = None
        if cv is not None:
            lo, hi = np.sqrt(cv["low"] * cv["mid"]), np.sqrt(cv["mid"] * cv["high"])
            bar.axhspan(min(lo, hi), max(lo, hi), color=REGIME_COLOURS["mid"], alpha=0.12)
            for edge in (lo, hi):
                bar.axhline(edge, color="black", ls="--", lw=1.1)
            for reg, value in cv.items():
                bar.axhline(value, color=REGIME_COLOURS[reg], ls=":", lw=1.4)
        scale = "geometric mean over estimators" if len(names) > 1 else _LABELS.get(names[0], names[0])
        marks = ";\ndotted: component means, dashed: mid band" if cv is not None else ""
        bar.set_title(f"mean volatility per stock ({scale}){marks}", fontsize=9)
        bar.set_ylabel("annualised volatility")
        bar.tick_params(axis="x", labelrotation=45, labelsize=8)
        bar.grid(alpha=0.3, axis="y")
        for ax in flat[n_ts + 1 :]:
            ax.set_visible(False)

        def members(r: str) -> str:
            m = list(clusters.members(r))
            shown = [x for x in m if x in symbols]
            if len(m) <= 12:
                return ", ".join(m) or "none"
            return f"{len(m)} stocks, {len(shown)} drawn"

        handles = [plt.Line2D([], [], color=c, lw=3, label=f"{r} ({members(r)})") for r, c in REGIME_COLOURS.items()]
        fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
        space = (
            "1-D mean log-volatility"
            if getattr(clusters, "features", "estimators") == "level"
            else f"{len(clusters.estimators)}-D log-volatility, {clusters.covariance_type} covariance"
        )
        fig.suptitle(
            f"Volatility regimes (GMM on {space}, {clusters.n_points} "
            f"stock-days), {clusters.start.date()} .. {clusters.end.date()}",
            fontsize=11,
        )
        save_figure(fig, path, dpi=110, layout={"rect": (0, 0.05, 1, 0.97)})
    finally:
        plt.close(fig)
    return path
