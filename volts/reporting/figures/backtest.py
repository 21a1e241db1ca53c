"""Figure of stages 6-7: equity curves of the pair strategies, their buy-and-hold benchmarks and the portfolios,
with a drawdown panel (METHOD.md §6-7)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from volts.reporting.figures import save_figure  # noqa: E402

__all__ = ["plot_equity"]


def _drawdown(equity: pd.Series, capital: float) -> pd.Series:
    """(peak - value) / peak with the starting capital as the first peak, as a positive fraction."""
    peak = np.maximum.accumulate(np.concatenate([[capital], equity.to_numpy(dtype="float64")]))[1:]
    return pd.Series((peak - equity.to_numpy(dtype="float64")) / peak, index=equity.index)


def plot_equity(result, path) -> Path:
    """Equity per pair strategy vs its follower's buy-and-hold, the two portfolios, and their drawdowns.

    Top panel: each pair strategy (solid) and its buy-and-hold benchmark (dashed, same colour), in dollars.
    Middle panel: the strategy portfolio (sum of the pairs) and the buy-and-hold portfolio. Bottom panel:
    drawdown (%) of every run, measured from the running peak including the starting capital.

    Parameters
    ----------
    result : volts.trading.backtest.BacktestResult
        Output of :func:`volts.trading.backtest.run_backtest`.
    path : str or pathlib.Path
        PNG file to write (its folder must exist).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    eq = result.equity
    capital = float(result.params["capital"])
    n_pairs = len(result.strategy_names)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]})
    try:
        ax_pair, ax_port, ax_dd = axes
        for i, (s, b) in enumerate(zip(result.strategy_names, result.benchmark_names)):
            c = colours[i % len(colours)]
            ax_pair.plot(eq.index, eq[s], color=c, lw=1.4, label=s)
            ax_pair.plot(eq.index, eq[b], color=c, lw=1.0, ls="--", label=b)
            ax_dd.plot(eq.index, -100 * _drawdown(eq[s], capital), color=c, lw=1.0)
            ax_dd.plot(eq.index, -100 * _drawdown(eq[b], capital), color=c, lw=0.8, ls="--")
        ax_pair.axhline(capital, color="0.5", lw=0.7)
        ax_pair.set_ylabel("equity ($)")
        ax_pair.legend(fontsize=7, ncol=2, loc="upper left")
        flag = " — OPTIMISTIC (fills at the signal's close)" if result.optimistic else ""
        ax_pair.set_title(
            f"Pair strategies vs buy & hold, {eq.index[0].date()} .. {eq.index[-1].date()}, "
            f"execution {result.execution}{flag}"
        )
        port, bench = result.portfolio_names
        ax_port.plot(eq.index, eq[port], color="black", lw=1.5, label=port)
        ax_port.plot(eq.index, eq[bench], color="0.45", lw=1.2, ls="--", label=bench)
        ax_port.axhline(capital * n_pairs, color="0.5", lw=0.7)
        ax_port.set_ylabel("equity ($)")
        ax_port.legend(fontsize=8, loc="upper left")
        ax_dd.plot(eq.index, -100 * _drawdown(eq[port], capital * n_pairs), color="black", lw=1.5, label=port)
        ax_dd.plot(eq.index, -100 * _drawdown(eq[bench], capital * n_pairs), color="0.45", lw=1.2, ls="--", label=bench)
        ax_dd.set_ylabel("drawdown (%)")
        ax_dd.legend(fontsize=8, loc="lower left")
        for ax in axes:
            ax.grid(alpha=0.3)
        save_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)
    return path
