"""``volts walkforward`` on intraday bars (``[data] timeframe`` other than ``D1``): re-selection at any cadence."""

from __future__ import annotations

from pathlib import Path

from volts.commands._common import parse_date
from volts.core.errors import UsageError

#: Options of ``volts walkforward`` that only the daily walk-forward has, with their values when not given.
DAILY_ONLY = {
    "--compare-screens": False,
    "--ablation": False,
    "--date-stability": 0,
    "--stability-runs": 0,
    "--hold": None,
    "--engine": "vectorised",
    "--strategy": "lead_lag_trend",
}


def run_intraday_walkforward(
    settings,
    *,
    start: str | None,
    end: str | None,
    every: str,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    force: bool,
    progress: bool,
    null_draws: int,
    null_seed: int,
    given: dict,
    console,
    err_console,
) -> None:
    """Run :func:`volts.evaluation.bar_walkforward.run_bar_walkforward` for the CLI and print its summary.

    Parameters
    ----------
    given : dict
        The daily-only options as the user gave them (keys of :data:`DAILY_ONLY`); any that differs from its
        default is refused.

    Raises
    ------
    UsageError
        ``--start`` or ``--end`` missing, or a daily-only option given.
    """
    from volts.core.limits import check_counts
    from volts.core.parallel import Executor
    from volts.evaluation.bar_walkforward import run_bar_walkforward

    tf = settings.data.timeframe
    bad = [k for k, default in DAILY_ONLY.items() if given.get(k, default) != default]
    if bad:
        raise UsageError(
            f"{', '.join(bad)}: not available for the intraday walk-forward ([data] timeframe = {tf!r}); it runs "
            f"the configured funnel with the lead-lag trend rule on the vectorised engine, and its random-pairs null "
            f"(--null-draws)"
        )
    d0, d1 = parse_date(start, "--start"), parse_date(end, "--end")
    if d0 is None or d1 is None:
        raise UsageError(f"the intraday walk-forward needs --start and --end (YYYY-MM-DD) on {tf} bars")
    check_counts(settings, workers=workers, null_draws=null_draws)
    with Executor(workers=workers, scheduler=scheduler, progress="auto" if progress else False) as ex:
        err_console.print(
            f"intraday walk-forward on {tf} bars ({settings.data.calendar}) {d0} .. {d1} every {every}: "
            f"selections run {ex.describe()}",
            markup=False,
        )
        result = run_bar_walkforward(
            settings,
            start=d0,
            end=d1,
            every=every,
            out=out,
            executor=ex,
            force=force,
            null_draws=null_draws,
            null_seed=null_seed,
        )
    m, st = result.metrics, result.stats
    console.print(
        f"{m['decisions']['total']} decisions ({m['cadence']}), {m['first_decision']} .. {m['last_decision']}: "
        f"{st['cached']} from the cache, {st['computed']} computed ({st['wall_seconds']:.1f} s)",
        markup=False,
    )
    s = m.get("strategy") or {}

    def f(x, spec="{:.2f}"):
        return "–" if x is None else spec.format(x)

    console.print(
        f"strategy: CAGR {f(s.get('cagr'), '{:.1%}')}, Sharpe {f(s.get('sharpe'))} [{f(s.get('sharpe_ci_low'))}, "
        f"{f(s.get('sharpe_ci_high'))}], max drawdown {f(s.get('max_drawdown'), '{:.1%}')} "
        f"({m['bars_per_year']:.6g} bars a year)",
        markup=False,
    )
    null = m.get("random_pairs_null")
    if null:
        console.print(
            f"random-pairs null ({null['draws']} draws): median Sharpe {f(null.get('median'))}, permutation p = "
            f"{f(null.get('p_value'), '{:.4f}')}",
            markup=False,
        )
    console.print(f"wrote {result.folder}/report.md", markup=False)
