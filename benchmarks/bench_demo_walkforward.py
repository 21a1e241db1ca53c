"""The weekly walk-forward on the synthetic demo market over three years, scored against the planted truth (issue 10).

The demo market (``volts.data.synthetic``) plants three lead-lag pairs with known lags among independent names.
This runs the walk-forward of ``examples/walkforward_demo.toml`` on it (the demo's settings; the anomaly window
shortened so that every window of the first as-of date fits in the generated history), weekly from 2021-01-04 to
2023-12-29 (the market's last business day), and prints:

* for each planted pair, the share of weeks that selected it with its planted lag, with any lag, and the lags it
  got;
* the share of weeks whose selection was exactly the planted pairs with their lags, and the mean number of other
  (false) ordered pairs selected per week (``volts.evaluation.walkforward.planted_recovery``, which the walk-forward of a
  synthetic source stores in ``metrics.json["planted"]``);
* the strategy's Sharpe ratio with its 95 % stationary-bootstrap interval, and whether the interval excludes 0.

The numbers are whatever the run measures; nothing here is tuned. Run: ``python -m benchmarks demo_walkforward``
(env ``VOLTS_BENCH_WORKERS`` = Dask workers, default in-process; ``VOLTS_BENCH_OUT`` = walk-forward folder, default
a temporary one, so a re-run with the same folder reuses the cached weeks).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END = dt.date(2021, 1, 4), dt.date(2023, 12, 29)


def main() -> None:
    from volts.core.config import load_settings
    from volts.core.parallel import Executor
    from volts.evaluation.walkforward import pair_name, run_walkforward

    settings = load_settings(REPO / "examples" / "walkforward_demo.toml")
    workers = int(os.environ.get("VOLTS_BENCH_WORKERS", "0")) or None
    out_env = os.environ.get("VOLTS_BENCH_OUT")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(out_env) if out_env else Path(tmp)
        t0 = time.perf_counter()
        with Executor(workers=workers) as ex:
            res = run_walkforward(settings, start=START, end=END, out=out, executor=ex, report=bool(out_env))
        wall = time.perf_counter() - t0
    # a synthetic source puts volts.evaluation.walkforward.planted_recovery into metrics.json["planted"]
    planted, weeks, m = res.metrics["planted"], res.metrics["weeks"], res.metrics["strategy"]
    print(
        f"synthetic demo market, weekly {res.dates[0]} .. {res.dates[-1]}: {len(res.weeks)} re-selections, "
        f"{wall:.0f} s wall ({'in-process' if workers is None else f'{workers} Dask workers'})"
    )
    for name, rec in planted["pairs"].items():
        lags = Counter(int(q["lag"]) for w in res.weeks for q in w["pairs"] if pair_name(q) == name)
        chosen = ", ".join(f"{lag}: {c}" for lag, c in sorted(lags.items()))
        print(
            f"  {name:<14} planted lag {rec['lag']}: selected with it in {rec['share_with_planted_lag']:.1%} of "
            f"weeks, with any lag in {rec['share_selected']:.1%} (lags chosen: {chosen or 'none'})"
        )
    print(
        f"  exactly the planted pairs with their lags: {planted['share_exact']:.1%} of weeks; non-planted pairs "
        f"per week: {planted['false_pairs_per_week']:.2f}; weeks in cash: {weeks['weeks_in_cash']}"
    )
    excl = m["sharpe_ci_low"] > 0 or m["sharpe_ci_high"] < 0
    print(
        f"strategy: CAGR {m['cagr']:.2%}, Sharpe {m['sharpe']:.2f} [{m['sharpe_ci_low']:.2f}, "
        f"{m['sharpe_ci_high']:.2f}] (95 % stationary bootstrap) -> interval "
        f"{'excludes' if excl else 'contains'} 0; max drawdown {m['max_drawdown']:.1%}, trades {m['trades']}"
    )


if __name__ == "__main__":
    main()
