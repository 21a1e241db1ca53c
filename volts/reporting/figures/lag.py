"""Figure of stage 5: DTW-KNN accuracy against the candidate lag (METHOD.md §5)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from volts.reporting.figures import save_figure  # noqa: E402

__all__ = ["plot_lag_accuracy"]


def plot_lag_accuracy(choices: Mapping[str, "object"], path) -> Path:
    """Out-of-sample and in-sample k-NN accuracy against the candidate lag, one panel per pair, tau* marked.

    Parameters
    ----------
    choices : mapping of str to volts.selection.lag.LagChoice
        Panel title (e.g. ``"MU->QCOM"``) -> result of :func:`volts.selection.lag.choose_lag`.
    path : str or pathlib.Path
        PNG file to write (its folder must exist).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        When ``choices`` is empty.
    """
    if not choices:
        raise ValueError("plot_lag_accuracy needs at least one lag choice")
    path = Path(path)
    n = len(choices)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    # one y range for every panel, set by hand: matplotlib's sharey makes every view-limit query walk all the
    # siblings, which on a 20-panel grid costs more than drawing the panels
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    try:
        for ax, (title, c) in zip(axes.ravel(), choices.items()):
            lags = np.asarray(c.lags)
            oos = np.array([c.accuracy_oos[t] for t in c.lags])
            std = np.array([c.accuracy_oos_std[t] for t in c.lags])
            ax.fill_between(lags, oos - std, oos + std, color="tab:blue", alpha=0.15, lw=0,
                            label="OOS ± 1 fold std")
            ax.plot(lags, oos, "o-", color="tab:blue", ms=4, label=f"out-of-sample ({c.cv_splits} folds)")
            ax.plot(lags, [c.accuracy_in_sample[t] for t in c.lags], "s--", color="tab:orange", ms=3.5, lw=1,
                    label="in-sample (self included)")
            ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
            ax.axvline(c.lag, color="tab:red", lw=1.2, ls="--")
            ax.annotate(f"tau* = {c.lag}\nOOS {c.knn_accuracy:.1%}", xy=(c.lag, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(4, -4), textcoords="offset points", va="top",
                        fontsize=8, color="tab:red")
            # y given: no automatic title placement (it measures the y axis of every panel again; nothing sits
            # above the panels, so the automatic place is this one)
            ax.set_title(f"{title}  (w = {c.window}, k = {c.neighbors}, n = {c.n_samples})", fontsize=9, y=1.0)
            ax.set_xticks(lags)
            ax.set_xlabel("lag tau (trading days)")
            ax.grid(alpha=0.3)
        used = axes.ravel()[:n]
        lo = min(ax.dataLim.y0 for ax in used)
        hi = max(ax.dataLim.y1 for ax in used)
        pad = plt.rcParams["axes.ymargin"] * (hi - lo)
        for ax in used:
            ax.set_ylim(lo - pad, hi + pad)
        for ax in axes[:, 1:].ravel():
            ax.tick_params(labelleft=False)
        for ax in axes[:, 0]:
            ax.set_ylabel("accuracy (follower direction)")
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        axes[0, 0].legend(loc="lower left", fontsize=7)
        first = next(iter(choices.values()))
        fig.suptitle(f"DTW-KNN lag selection, target days {first.start} .. {first.end}", fontsize=10,
                     y=1 - 0.12 / fig.get_figheight(), va="top")
        # fixed margins and gaps in inches (the panels' text has known sizes), so no tight_layout pass measuring
        # every tick label of every panel: left (y label), right (a tau* note at the last lag), top (suptitle and
        # titles), bottom (tick labels and x label), gaps between columns and between rows
        width, height = fig.get_size_inches()
        left, right, top, bottom, wgap, hgap = 0.75, 0.55, 0.8, 0.55, 0.35, 0.8
        panel_w = (width - left - right - (cols - 1) * wgap) / cols
        panel_h = (height - top - bottom - (rows - 1) * hgap) / rows
        fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                            top=1 - top / height, wspace=wgap / panel_w, hspace=hgap / panel_h)
        save_figure(fig, path, dpi=110, layout=None)
    finally:
        plt.close(fig)
    return path
