"""Figure of stage 5: DTW-KNN accuracy against the candidate lag (METHOD.md §5)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_lag_accuracy"]


def plot_lag_accuracy(choices: Mapping[str, "object"], path) -> Path:
    """Out-of-sample and in-sample k-NN accuracy against the candidate lag, one panel per pair, tau* marked.

    Parameters
    ----------
    choices : mapping of str to volts.lag.LagChoice
        Panel title (e.g. ``"MU->QCOM"``) -> result of :func:`volts.lag.choose_lag`.
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
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False, sharey=True)
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
            ax.set_title(f"{title}  (w = {c.window}, k = {c.neighbors}, n = {c.n_samples})", fontsize=9)
            ax.set_xticks(lags)
            ax.set_xlabel("lag tau (trading days)")
            ax.grid(alpha=0.3)
        for ax in axes[:, 0]:
            ax.set_ylabel("accuracy (follower direction)")
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        axes[0, 0].legend(loc="lower left", fontsize=7)
        first = next(iter(choices.values()))
        fig.suptitle(f"DTW-KNN lag selection, target days {first.start} .. {first.end}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
