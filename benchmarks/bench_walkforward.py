"""Walk-forward selection pass: ~270 weekly selections 2019-01-04 .. 2024-03-08 (issue 10's speed targets).

* ten names (the paper's, paper settings): target <= 90 s wall for the whole walk-forward;
* 30 names (every reference file but SPY, ``granger.series = "log_return"``): target <= 4 min;
* speed-up of a local Dask cluster of 2 workers over 1 worker (same weeks, cache off, cluster start included);
* the mean per-week cost by stage (from each week's ``timings``).

Wall times on a shared 2-core machine are noisy: compare the ratios measured in one run, not absolute figures.
Environment: ``VOLTS_BENCH_WF_WEEKS=N`` runs N evenly spaced weeks and scales the wall time to all of them (default:
all weeks), ``VOLTS_BENCH_WF_SETS=10,30``
picks the universes, ``VOLTS_BENCH_WF_MODES=inprocess,1,2`` picks the executors (a number = Dask workers).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO.parent / "shared" / "data" / "ohlcv").resolve()
START, END = dt.date(2019, 1, 4), dt.date(2024, 3, 8)


def _settings(n: int):
    from volts.core.config import Settings

    s = Settings().override(**{"data.dir": str(DATA), "data.source": "csv", "data.return_jump": "flag"})
    if n == 30:
        from volts.data.csv import list_symbols

        universe = [x for x in list_symbols(DATA) if x != "SPY"]
        s = s.override(**{"data.universe": universe, "granger.series": "log_return"})
    return s


def main() -> None:
    from volts.core.parallel import Executor
    from volts.evaluation.walkforward import load_walkforward_market, rebalance_dates, run_weeks

    limit = int(os.environ.get("VOLTS_BENCH_WF_WEEKS", "0")) or None
    sets = [int(x) for x in os.environ.get("VOLTS_BENCH_WF_SETS", "10,30").split(",")]
    modes = os.environ.get("VOLTS_BENCH_WF_MODES", "inprocess,1,2").split(",")
    for n in sets:
        settings = _settings(n)
        t0 = time.perf_counter()
        market = load_walkforward_market(settings, START, END)
        load = time.perf_counter() - t0
        all_dates = rebalance_dates(market, START, END)
        # a limit takes evenly spaced weeks (the early weeks have fewer candidates: a prefix would flatter the cost)
        dates = all_dates if not limit or limit >= len(all_dates) else all_dates[:: len(all_dates) // limit][:limit]
        print(
            f"\n{n} names, {len(dates)} weeks {dates[0]} .. {dates[-1]}; bars loaded once in {load:.2f} s "
            f"({len(market)} sessions)"
        )
        walls: dict[str, float] = {}
        for mode in modes:
            workers = None if mode == "inprocess" else int(mode)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                with Executor(workers=workers) as ex:
                    started = time.perf_counter() - t0
                    weeks, _ = run_weeks(market, settings, dates, cache_dir=Path(tmp), executor=ex, force=True)
                walls[mode] = time.perf_counter() - t0
            label = "in-process" if workers is None else f"dask {workers} worker(s)"
            print(
                f"  {label:<20} selection pass {walls[mode]:8.1f} s wall (cluster start {started:.1f} s), "
                f"{walls[mode] / len(dates):.3f} s/week"
            )
            if mode == modes[0]:
                stages: dict[str, float] = {}
                for w in weeks:
                    for k, v in w["timings"].items():
                        stages[k] = stages.get(k, 0.0) + v
                total = stages.get("total", sum(stages.values()))
                print("  mean per-week cost by stage (in the task, wall):")
                for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
                    if k != "total":
                        print(f"    {k:<20} {v / len(dates):7.3f} s  {100 * v / total:5.1f} %")
                print(f"    {'total':<20} {total / len(dates):7.3f} s")
                no_sel = sum(1 for w in weeks if w["status"] != "ok")
                print(
                    f"  weeks without a selection: {no_sel}; weeks in cash: {sum(1 for w in weeks if not w['pairs'])}"
                )
        if "1" in walls and "2" in walls:
            print(f"  speed-up of 2 Dask workers over 1: {walls['1'] / walls['2']:.2f}x")
        target = 90 if n == 10 else 240
        best = min(walls.values())
        if len(dates) < len(all_dates):
            scaled = best * len(all_dates) / len(dates)
            print(
                f"  target <= {target} s for all {len(all_dates)} weeks: best {best:.1f} s for {len(dates)} evenly "
                f"spaced weeks, about {scaled:.0f} s scaled to all -> {'met' if scaled <= target else 'MISSED'} "
                f"(extrapolated)"
            )
        else:
            print(
                f"  target <= {target} s for the selection pass: best {best:.1f} s -> "
                f"{'met' if best <= target else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
