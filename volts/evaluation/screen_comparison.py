"""The issue-12 comparison in the walk-forward: the Vol-TS funnel, each single screen with a top-K rule,
Hermitian clustering and the seed-004 lead-lag portfolio, over the same weeks and at the same costs.

:func:`comparison_variants` builds the variants for :func:`volts.evaluation.walkforward.compare_variants` (which runs them
over the same re-selection dates, bars and cost settings and returns one table); :func:`run_screen_comparison`
runs that and renders the table in the walk-forward report. Only the stage being compared changes:

* ``vol-ts``: the configured funnel (default the paper's granger -> pcmci -> transfer_entropy);
* ``top<K>-<screen>``: ``[selection] screens = [screen]`` with ``rule = "top_k"``: each week keeps the screen's
  K best-scoring candidate pairs (everything before and after -- anomalies, volatility regimes, DTW lag choice,
  the lead-lag trend rule, sleeves and costs -- is the same);
* ``hermitian``: ``[clustering] method = "hermitian"`` (candidates are the pairs from a leading to a lagging
  lead-lag cluster), then the configured funnel;
* ``lead-lag-portfolio``: the seed-004 portfolio strategy (``volts/trading/strategies/lead_lag_portfolio.py``) in place of the
  pair trades.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

__all__ = ["comparison_variants", "run_screen_comparison"]


def comparison_variants(
    *, screens: Sequence[str] | None = None, top_k: int = 5, hermitian: bool = True, lead_lag_portfolio: bool = True
) -> list:
    """The walk-forward variants of the comparison (see the module docstring).

    Parameters
    ----------
    screens : sequence of str, optional
        Screens run alone with the top-K rule (default: every registered screen).
    top_k : int
        K of the top-K rule.
    hermitian, lead_lag_portfolio : bool
        Include those two variants.

    Returns
    -------
    list of volts.evaluation.walkforward.WalkForwardVariant
    """
    from volts.selection.screens import SCREENS
    from volts.evaluation.walkforward import WalkForwardVariant

    names = list(SCREENS) if screens is None else list(screens)
    unknown = [n for n in names if n not in SCREENS]
    if unknown:
        raise KeyError(f"unknown screen(s) {', '.join(unknown)}; valid: {', '.join(SCREENS)}")
    variants = [WalkForwardVariant(name="vol-ts")]
    for name in names:
        variants.append(
            WalkForwardVariant(
                name=f"top{top_k}-{name}",
                overrides={"selection.screens": [name], "selection.rule": "top_k", "selection.top_k": int(top_k)},
            )
        )
    if hermitian:
        variants.append(WalkForwardVariant(name="hermitian", overrides={"clustering.method": "hermitian"}))
    if lead_lag_portfolio:
        import volts.trading.strategies.lead_lag_portfolio  # noqa: F401  (registers the strategy with the walk-forward)

        variants.append(WalkForwardVariant(name="lead-lag-portfolio", strategy="lead_lag_portfolio"))
    return variants


def run_screen_comparison(
    settings,
    *,
    start,
    end,
    out: str | Path,
    every: str = "1W",
    executor=None,
    screens: Sequence[str] | None = None,
    top_k: int = 5,
    hermitian: bool = True,
    lead_lag_portfolio: bool = True,
    force: bool = False,
    engine: str = "vectorised",
):
    """Run the comparison and write the Vol-TS walk-forward with the comparison table in its report.

    Command line: ``volts walkforward --compare-screens [--top-k K]``. The report is
    ``<out>/results-vol-ts/report.html``; each variant's artifacts are in ``<out>/results-<variant>/``.

    Returns
    -------
    pandas.DataFrame
        :func:`volts.evaluation.walkforward.compare_variants`'s table (also ``<out>/comparison.csv``).
    """
    from volts.evaluation.walkforward import compare_variants, run_walkforward

    variants = comparison_variants(
        screens=screens, top_k=top_k, hermitian=hermitian, lead_lag_portfolio=lead_lag_portfolio
    )
    table = compare_variants(
        settings,
        variants,
        start=start,
        end=end,
        out=Path(out),
        every=every,
        executor=executor,
        force=force,
        engine=engine,
    )
    run_walkforward(
        settings,
        start=start,
        end=end,
        every=every,
        out=Path(out),
        executor=executor,
        variant=variants[0],
        comparison=table,
        engine=engine,
    )
    return table
