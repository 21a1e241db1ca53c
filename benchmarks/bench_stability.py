"""Benchmark of stability selection (issue 11): R repeated selections, wall time and the shares.

Two runs:

* the synthetic demo market (``examples/demo.toml``), R = 50: every planted pair should have a share >= 0.9 and
  no other ordered pair >= 0.2 (printed as met / MISSED, whatever comes out);
* the paper's ten names on the reference data (``config.toml``), R = 50, as ``volts select --stability 50`` runs
  it; target <= 60 s wall on the 2-core machine (printed as met / MISSED).

Also times one plain selection in the same run, so the wall time reads as a ratio (R runs / one selection).
Run: ``python -m benchmarks stability`` (env ``VOLTS_BENCH_RUNS``, ``VOLTS_BENCH_WORKERS`` change R and workers,
default 50 and 2). CPU timings on a shared machine are noisy.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _one(label: str, settings, market, runs: int, workers: int, truth=None) -> None:
    from volts.core.parallel import Executor
    from volts.selection.pipeline import run_selection
    from volts.selection.stability import stability_selection

    t0 = time.perf_counter()
    run_selection(market, settings)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    if workers > 1:
        with Executor(workers=workers) as ex:
            res = stability_selection(market, settings, runs=runs, executor=ex)
    else:
        res = stability_selection(market, settings, runs=runs)
    wall = time.perf_counter() - t0
    print(
        f"--- {label}: R = {runs}, workers = {workers}: {wall:.1f} s wall; one selection {t_one:.1f} s; "
        f"ratio {wall / t_one:.1f}x"
    )
    print(res.summary(limit=40))
    if truth is not None:
        planted = {(p.leader, p.follower) for p in truth.pairs}
        shares = {(p.leader, p.follower): p.share for p in res.pairs}
        low = {f"{a}->{b}": shares.get((a, b), 0.0) for a, b in planted if shares.get((a, b), 0.0) < 0.9}
        high = {f"{a}->{b}": s for (a, b), s in shares.items() if (a, b) not in planted and s >= 0.2}
        print(
            f"planted pairs >= 0.9: {'met' if not low else 'MISSED ' + str(low)}; "
            f"no other pair >= 0.2: {'met' if not high else 'MISSED ' + str(high)}"
        )
    else:
        print(f"target <= 60 s wall: {'met' if wall <= 60 else 'MISSED'}")


def main() -> None:
    from volts.core.config import load_settings
    from volts.data.sources import load_market
    from volts.data.synthetic import make_synthetic_market
    from volts.selection.pipeline import earliest_start

    runs = int(os.environ.get("VOLTS_BENCH_RUNS", "50"))
    workers = int(os.environ.get("VOLTS_BENCH_WORKERS", "2"))
    demo = load_settings(REPO / "examples" / "demo.toml")
    syn = make_synthetic_market(seed=demo.data.synthetic_seed)
    _one("synthetic demo market", demo, syn.data, runs, workers, truth=syn.truth)
    ten = load_settings(REPO / "config.toml")
    w = ten.windows
    market = load_market(ten.data, symbols=list(ten.data.universe), start=earliest_start(w), end=w.asof)
    _one("ten names, reference data", ten, market, runs, workers)


if __name__ == "__main__":
    main()
