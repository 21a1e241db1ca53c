"""``report.md`` and ``cost_sweep.png`` of the intraday walk-forward (:mod:`volts.evaluation.bar_walkforward`).

Registered as the report writer ``"intraday_walkforward"`` (:data:`volts.core.registry.REPORT_WRITERS`), which the
walk-forward calls while its results folder is staged, so the report and the figure land with the other artifacts.
"""

from __future__ import annotations

from pathlib import Path

from volts.core.artifacts import atomic_write_text
from volts.core.registry import REPORT_WRITERS

__all__ = ["write_bar_report"]


def write_bar_report(staging: Path, *, metrics: dict) -> None:
    """Write ``report.md`` (headline, cost table, random-pairs null, lags, break-even cost) and the cost-sweep figure.

    Parameters
    ----------
    staging : Path
        The staged results folder.
    metrics : dict
        The walk-forward's ``metrics.json``.
    """
    from volts.evaluation.bar_walkforward import bar_report
    from volts.reporting.break_even import break_even_markdown
    from volts.reporting.figures.costs import cost_sweep_figure

    ppy = int(metrics.get("periods_per_year_used") or 252)
    fig = (
        "cost_sweep.png"
        if cost_sweep_figure(metrics.get("break_even") or {}, staging / "cost_sweep.png", periods_per_year=ppy)
        else None
    )
    lines = [bar_report(metrics).rstrip("\n"), ""]
    lines += break_even_markdown(metrics, fig)
    atomic_write_text(staging / "report.md", "\n".join(lines).rstrip("\n") + "\n")


REPORT_WRITERS.add("intraday_walkforward", write_bar_report)  # what run_bar_walkforward(report=True) calls
