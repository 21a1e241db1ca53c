"""Figures of stage 4: Granger p-value scan (the paper's Figure 4) and the partial-correlation graph (Figure 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from volts.reporting.figures import save_figure  # noqa: E402

__all__ = ["plot_granger_pvalues", "plot_pcmci_graph"]

#: Smallest p-value drawn on the log axis (an exact 0 would fall off it).
_P_FLOOR = 1e-16


def plot_granger_pvalues(scan, selection, path, pairs: Iterable[tuple[str, str]] | None = None) -> Path:
    """Granger p-value against the lag order l for some pairs, with the alpha line and l* marked.

    Parameters
    ----------
    scan : volts.selection.causality.granger.GrangerScan
        Output of :func:`volts.selection.causality.granger.granger_scan`.
    selection : volts.selection.causality.granger.GrangerSelection
        Output of :func:`volts.selection.causality.granger.select_granger_pairs` on ``scan``.
    path : str or pathlib.Path
        PNG file to write (its folder must exist).
    pairs : iterable of (leader, follower), optional
        Pairs to draw. Default: the kept pairs, or the five pairs with the smallest p at l* when none is kept.
        The median p-value across all pairs (the curve l* minimises) is always drawn.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    KeyError
        A requested pair is not in the scan.
    """
    path = Path(path)
    lags = list(scan.evaluated_lags)
    if pairs is None:
        chosen = [(t.leader, t.follower) for t in selection.pairs]
        if not chosen:
            order = sorted(selection.tests, key=lambda t: t.p)[:5]
            chosen = [(t.leader, t.follower) for t in order]
    else:
        chosen = [tuple(p) for p in pairs]
    fig, ax = plt.subplots(figsize=(9, 5))
    for leader, follower in chosen:
        if (leader, follower) not in scan.pvalues.index:
            plt.close(fig)
            raise KeyError(f"{leader} -> {follower}: pair not in the Granger scan")
        p = scan.pvalues.loc[(leader, follower), lags].to_numpy(dtype=float)
        ax.plot(
            lags, np.maximum(p, _P_FLOOR), marker="o", markersize=3, linewidth=1.2, label=f"{leader} \u2192 {follower}"
        )
    ax.plot(
        lags,
        np.maximum(selection.median_p.loc[lags].to_numpy(dtype=float), _P_FLOOR),
        color="grey",
        linestyle="--",
        linewidth=1.5,
        label="median over all pairs",
    )
    ax.axhline(selection.alpha, color="black", linewidth=1, linestyle=":", label=f"\u03b1 = {selection.alpha:g}")
    ax.axvline(selection.lag, color="tab:red", linewidth=1, alpha=0.7, label=f"l* = {selection.lag}")
    for l in scan.skipped_lags:
        ax.axvspan(l - 0.5, l + 0.5, color="0.9", zorder=0)
    ax.set_yscale("log")
    ax.set_xlabel("lag order l (trading days)")
    ax.set_ylabel("Granger F-test p-value")
    ax.set_title(f"Granger causality p-value by lag order ({scan.start} .. {scan.end}, {scan.n_tests} tests)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", ncol=2)
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot_pcmci_graph(result, path) -> Path:
    """The partial-correlation graph: symbols on a circle, an arrow per edge coloured by its value.

    Parameters
    ----------
    result : volts.selection.causality.pcmci.PcmciResult
        Output of :func:`volts.selection.causality.pcmci.pcmci_screen`.
    path : str or pathlib.Path
        PNG file to write (its folder must exist).

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Each arrow is labelled with the partial correlation and its lag tau. Drawn with plain matplotlib (no
    networkx). Opposite edges between the same two symbols bend to opposite sides so both stay visible.
    """
    path = Path(path)
    names = list(result.var_names)
    n = len(names)
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    pos = {s: (np.cos(a), np.sin(a)) for s, a in zip(names, angles)}
    vmax = max([abs(e.value) for e in result.edges] + [result.min_abs_partial_corr, 0.1])
    norm = mcolors.TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax)
    cmap = plt.get_cmap("RdBu_r")
    fig, ax = plt.subplots(figsize=(7, 7))
    for s, (x, y) in pos.items():
        ax.scatter([x], [y], s=1600, color="white", edgecolor="black", linewidth=1.2, zorder=3)
        ax.text(x, y, s, ha="center", va="center", fontsize=9, zorder=4)
    for e in result.edges:
        (x0, y0), (x1, y1) = pos[e.leader], pos[e.follower]
        colour = cmap(norm(e.value))
        arrow = FancyArrowPatch(
            (x0, y0),
            (x1, y1),
            arrowstyle="-|>",
            mutation_scale=18,
            linewidth=2.2,
            color=colour,
            connectionstyle="arc3,rad=0.18",
            shrinkA=24,
            shrinkB=24,
            zorder=2,
        )
        ax.add_patch(arrow)
        # label near the bent arrow's middle: offset the chord midpoint to the arrow's side
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        dx, dy = x1 - x0, y1 - y0
        ox, oy = 0.18 * dy / 2 * 1.0, -0.18 * dx / 2 * 1.0
        ax.text(
            mx + ox,
            my + oy,
            f"{e.value:+.3f} (\u03c4={e.tau})",
            fontsize=8,
            ha="center",
            va="center",
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8),
            zorder=5,
        )
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, shrink=0.7, label="partial correlation")
    what = "PCMCI / ParCorr" if result.mode == "lagged" else "contemporaneous partial correlation"
    ax.set_title(
        f"{what}: p \u2264 {result.alpha:g}, |value| \u2265 {result.min_abs_partial_corr:g} "
        f"({result.start} .. {result.end})",
        fontsize=10,
    )
    if not result.edges:
        ax.text(0, 0, "no edge passes the rule", ha="center", va="center", fontsize=10, color="grey")
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
