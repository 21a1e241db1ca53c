"""The weekly walk-forward on the synthetic demo market over three years, scored against the planted truth (issue 10).

The demo market (``volts.data.synthetic``) plants three lead-lag pairs with known lags among independent names.
This runs the walk-forward of ``examples/walkforward_demo.toml`` on it (the demo's settings; the anomaly window
shortened so that every window of the first as-of date fits in the generated history), weekly from 2021-01-04 to
2023-12-29 (the market's last business day), and prints:

* for each planted pair, the share of weeks that selected it with its planted lag, with any lag, and the lags it
  got;
* the share of weeks that selected every planted pair with its lag, and the number of other (false) ordered pairs
  selected per week;
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


def score_weeks(weeks: list[dict], planted: dict[tuple[str, str], int]) -> dict:
    """Score week records against planted pairs.

    Parameters
    ----------
    weeks : list of dict
        Walk-forward week records (``pairs``: dicts with ``leader``, ``follower``, ``lag``).
    planted : dict
        ``(leader, follower) -> lag`` of the planted pairs.

    Returns
    -------
    dict
        ``weeks``; ``per_pair``: ``"A->B" -> {"with_lag", "any_lag", "lags"}`` (shares of weeks, a Counter of the
        lags selected); ``all_with_lag`` (share of weeks selecting every planted pair with its lag); ``false_pairs``
        (Counter: number of non-planted pairs selected -> weeks); ``cash_weeks``.
    """
    n = len(weeks)
    per_pair = {f"{a}->{b}": {"with_lag": 0, "any_lag": 0, "lags": Counter()} for (a, b) in planted}
    all_with_lag = 0
    false_pairs: Counter = Counter()
    cash = 0
    for w in weeks:
        chosen = {(p["leader"], p["follower"]): int(p["lag"]) for p in w.get("pairs") or []}
        cash += not chosen
        hit_all = True
        for (a, b), lag in planted.items():
            rec = per_pair[f"{a}->{b}"]
            if (a, b) in chosen:
                rec["any_lag"] += 1
                rec["lags"][chosen[(a, b)]] += 1
                rec["with_lag"] += chosen[(a, b)] == lag
                hit_all &= chosen[(a, b)] == lag
            else:
                hit_all = False
        all_with_lag += hit_all
        false_pairs[sum(1 for k in chosen if k not in planted)] += 1
    for rec in per_pair.values():
        rec["with_lag"] /= n
        rec["any_lag"] /= n
    return {"weeks": n, "per_pair": per_pair, "all_with_lag": all_with_lag / n, "false_pairs": false_pairs,
            "cash_weeks": cash}


def main() -> None:
    from volts.config import load_settings
    from volts.data.synthetic import make_synthetic_market
    from volts.parallel import Executor
    from volts.walkforward import run_walkforward

    settings = load_settings(REPO / "examples" / "walkforward_demo.toml")
    truth = make_synthetic_market(seed=settings.data.synthetic_seed).truth
    planted = {(p.leader, p.follower): int(p.lag) for p in truth.pairs}
    workers = int(os.environ.get("VOLTS_BENCH_WORKERS", "0")) or None
    out_env = os.environ.get("VOLTS_BENCH_OUT")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(out_env) if out_env else Path(tmp)
        t0 = time.perf_counter()
        with Executor(workers=workers) as ex:
            res = run_walkforward(settings, start=START, end=END, out=out, executor=ex, report=bool(out_env))
        wall = time.perf_counter() - t0
    score = score_weeks(res.weeks, planted)
    m = res.metrics["strategy"]
    print(f"synthetic demo market, weekly {res.dates[0]} .. {res.dates[-1]}: {score['weeks']} re-selections, "
          f"{wall:.0f} s wall ({'in-process' if workers is None else f'{workers} Dask workers'})")
    print(f"planted pairs (lag): {', '.join(f'{a}->{b} ({lag})' for (a, b), lag in planted.items())}")
    for name, rec in score["per_pair"].items():
        lags = ", ".join(f"{lag}: {c}" for lag, c in sorted(rec["lags"].items()))
        print(f"  {name:<14} selected with its lag in {rec['with_lag']:.1%} of weeks, with any lag in "
              f"{rec['any_lag']:.1%} (lags chosen: {lags or 'none'})")
    print(f"  every planted pair with its lag in the same week: {score['all_with_lag']:.1%} of weeks")
    fp = ", ".join(f"{k} false: {v} weeks" for k, v in sorted(score["false_pairs"].items()))
    print(f"  non-planted pairs selected per week: {fp}; weeks in cash: {score['cash_weeks']}")
    excl = m["sharpe_ci_low"] > 0 or m["sharpe_ci_high"] < 0
    print(f"strategy: CAGR {m['cagr']:.2%}, Sharpe {m['sharpe']:.2f} [{m['sharpe_ci_low']:.2f}, "
          f"{m['sharpe_ci_high']:.2f}] (95 % stationary bootstrap) -> interval "
          f"{'excludes' if excl else 'contains'} 0; max drawdown {m['max_drawdown']:.1%}, trades {m['trades']}")


if __name__ == "__main__":
    main()
