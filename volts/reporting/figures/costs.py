"""The cost-sweep figure of a walk-forward: net Sharpe ratio and mean return against the cost per side."""

from __future__ import annotations

from pathlib import Path

from volts.reporting.figures import save_figure

__all__ = ["cost_sweep_figure"]

_LABELS = {
    "strategy": "strategy",
    "followers_buy_and_hold": "followers buy-and-hold",
    "universe_equal_weight": "universe equal weight",
    "spy": "SPY",
}


def cost_sweep_figure(break_even: dict, path: str | Path, *, periods_per_year: int = 252) -> bool:
    """Write the cost sweep of ``metrics.json["break_even"]`` to ``path`` (PNG); False when there is no sweep.

    Parameters
    ----------
    break_even : dict
        :func:`volts.evaluation.breakeven.break_even_section`: ``sweep`` (``bps``, ``curves`` per curve with
        ``sharpe`` and ``mean_daily``), ``strategy`` and ``differences`` (``bps_per_side``).
    path : str or pathlib.Path
        File to write.
    periods_per_year : int
        Annualises the mean daily return of the right panel (``mean x periods_per_year``).

    Returns
    -------
    bool
        True when the figure was written.

    Notes
    -----
    Left: annualised net Sharpe ratio of the strategy and each benchmark at each cost per side (bps of traded value,
    no fixed fee). Right: the annualised mean net return, which crosses zero at the break-even cost by definition;
    the strategy's break-even is marked on both panels by a vertical line, each difference's by a dotted one.
    """
    sweep = (break_even or {}).get("sweep") or {}
    bps = sweep.get("bps") or []
    curves = sweep.get("curves") or {}
    if len(bps) < 2 or not curves:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, cur in curves.items():
        lw = 1.8 if name == "strategy" else 1.0
        label = _LABELS.get(name, name)
        sharpe = [float("nan") if v is None else v for v in cur.get("sharpe") or []]
        mean = [float("nan") if v is None else v * periods_per_year for v in cur.get("mean_daily") or []]
        if len(sharpe) == len(bps):
            left.plot(bps, sharpe, marker="o", ms=3, lw=lw, label=label)
        if len(mean) == len(bps):
            right.plot(bps, [100 * m for m in mean], marker="o", ms=3, lw=lw, label=label)
    strat = (break_even.get("strategy") or {}).get("bps_per_side")
    for ax in (left, right):
        ax.axhline(0, color="k", lw=0.6)
        if strat is not None:
            ax.axvline(strat, color="C0", ls="--", lw=1.0, label=f"break-even {strat:.1f} bps")
        for name, d in (break_even.get("differences") or {}).items():
            if d.get("bps_per_side") is not None:
                ax.axvline(d["bps_per_side"], color="grey", ls=":", lw=0.9)
        ax.set_xlabel("cost per side (bps of traded value, no fixed fee)")
        ax.grid(alpha=0.3)
    left.set_ylabel("net Sharpe ratio (annualised)")
    right.set_ylabel("mean net return (% a year, arithmetic)")
    left.set_title("Net Sharpe ratio against cost")
    right.set_title("Mean net return: zero at the break-even cost")
    left.legend(fontsize=7, loc="best")
    diffs = [
        f"strategy - {_LABELS.get(k, k)}: {d['bps_per_side']:.1f} bps"
        for k, d in (break_even.get("differences") or {}).items()
        if d.get("bps_per_side") is not None
    ]
    if diffs:
        right.text(
            0.02, 0.02, "dotted: break-even of\n" + "\n".join(diffs), transform=right.transAxes, fontsize=7, va="bottom"
        )
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return True
