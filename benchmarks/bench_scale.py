"""Scale benchmark (issue 13): a weekly selection over 500 synthetic names with 20 planted pairs.

Writes the market as 500 CSV files plus a membership file into a temporary folder, then runs ``volts select``
(a subprocess each time, so the peak resident memory is the run's own) twice with a parsed-bars cache: cold
(first run, cache filled) and warm. Prints the wall time and peak memory of each run, the load time, the
funnel, and the planted pairs recovered with their lags beside the false pairs, with the false-pair rate of the
Granger stage beside its nominal level.

Run: ``python -m benchmarks.bench_scale`` or ``python -m benchmarks scale``. Options by environment variable:
``VOLTS_BENCH_NAMES`` (default 500), ``VOLTS_BENCH_PAIRS`` (20), ``VOLTS_BENCH_SEED`` (0),
``VOLTS_BENCH_LAG_ORDER`` (``[granger] lag_order``: ``median_p``, the paper's l*, or ``per_pair``),
``VOLTS_BENCH_RUNS`` (2: cold and warm cache; 1: the cold run only, for the recovery figures).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ASOF = "2023-06-08"


def _config(folder: Path, lag_order: str = "median_p") -> Path:
    path = folder / "scale.toml"
    path.write_text(f"""
[data]
source = "csv"
dir = "{folder / "bars"}"
membership = "{folder / "membership.csv"}"
on_bad_symbol = "exclude"
calendar = ""                 # synthetic bars fall on business days, holidays included
cache_dir = "{folder / "cache"}"

[granger]
series = "log_return"
sample = "common"
lag_order = "{lag_order}"

[lag]
window = 1
""")
    return path


def _run(config: Path, out: Path) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MB of the child, stdout+stderr, CPU seconds of the child)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "volts",
            "select",
            "--config",
            str(config),
            "--asof",
            ASOF,
            "--out",
            str(out),
            "--force",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"volts select failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, max(peak, before) / 1024.0, proc.stdout + proc.stderr, cpu


def main() -> None:
    """Print the scale table (see the module docstring)."""
    from volts.data.synthetic import write_synthetic_csvs
    from volts.data.synthetic_large import make_large_synthetic_market, write_membership

    n_names = int(os.environ.get("VOLTS_BENCH_NAMES", 500))
    n_pairs = int(os.environ.get("VOLTS_BENCH_PAIRS", 20))
    seed = int(os.environ.get("VOLTS_BENCH_SEED", 0))
    lag_order = os.environ.get("VOLTS_BENCH_LAG_ORDER", "median_p")
    n_runs = int(os.environ.get("VOLTS_BENCH_RUNS", 2))
    with tempfile.TemporaryDirectory(prefix="volts-scale-") as tmp:
        folder = Path(tmp)
        market = make_large_synthetic_market(n_names, n_pairs, seed=seed)
        write_synthetic_csvs(market, folder / "bars")
        write_membership(market.data.symbols, folder / "membership.csv")
        config = _config(folder, lag_order)
        runs = {}
        for label in ("cold cache", "warm cache")[:n_runs]:
            runs[label] = _run(config, folder / "runs")
        sel = json.loads((folder / "runs" / ASOF / "selection.json").read_text())
    truth = {(p.leader, p.follower): p.lag for p in market.truth.pairs}
    found = {(p["leader"], p["follower"]): p["lag"] for p in sel["pairs"]}
    with_lag = sum(1 for k, lag in truth.items() if found.get(k) == lag)
    any_lag = sum(1 for k in truth if k in found)
    false = [k for k in found if k not in truth]
    cands = sel["candidates"]
    null_pairs = len(cands) * (len(cands) - 1) - sum(1 for k in truth if k[0] in cands and k[1] in cands)
    g_kept = {(t["leader"], t["follower"]) for t in sel["granger"]["pairs"]}
    g_false = len([k for k in g_kept if k not in truth])
    print(
        f"scale benchmark: {n_names} synthetic names, {n_pairs} planted pairs (lags 1-5), seed {seed}, "
        f"as of {ASOF}; {len(cands)} mid-regime candidates = {len(cands) * (len(cands) - 1)} ordered pairs; "
        f"[granger] lag_order = {lag_order}"
    )
    print(f"{'run':<12} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}")
    for label, (wall, peak, _, cpu) in runs.items():
        print(f"{label:<12} {wall:>8.1f} {cpu:>8.1f} {peak:>8.0f}")
    print(
        "(peak MB is the largest child so far: the warm row is max(cold, warm); CPU s is the child's user+sys,"
        " a fair figure when the machine is shared)"
    )
    last = list(runs)[-1]
    timings = [line for line in runs[last][2].splitlines() if line.startswith("[")]
    print(f"{last} run stages: " + " | ".join(timings))
    print("funnel: " + ", ".join(f"{f['stage']} {f['entered']}->{f['kept']}" for f in sel["funnel"]))
    if lag_order == "median_p":
        reach = sum(1 for lag in truth.values() if lag <= sel["granger"]["lag"])
        print(
            f"l* = {sel['granger']['lag']}: {reach} planted pairs have lag <= l* (a lag above l* is outside the "
            f"Granger regression at l*)"
        )
    else:
        orders = {(t["leader"], t["follower"]): t.get("lag") for t in sel["granger"]["pairs"]}
        g_planted = [(k, orders[k]) for k in truth if k in orders]
        print(
            f"per-pair orders: {len(g_planted)} of {n_pairs} planted pairs pass the Granger stage; their "
            f"order = planted lag for {sum(1 for k, o in g_planted if o == truth[k])} "
            f"(median-p l* would be {sel['granger']['lag']})"
        )
    g_planted_n = sum(1 for k in truth if k in g_kept)
    print(f"Granger stage keeps {g_planted_n} of {n_pairs} planted pairs")
    print(
        f"planted pairs recovered with their lag: {with_lag} of {n_pairs} (any lag: {any_lag}); "
        f"false final pairs: {len(false)} of {null_pairs} null ordered pairs "
        f"({len(false) / max(null_pairs, 1):.2e})"
    )
    print(
        f"Granger stage: {g_false} null pairs kept of {null_pairs} = {g_false / max(null_pairs, 1):.4f} "
        f"(nominal alpha {sel['settings']['granger']['alpha']}, "
        + (
            f"naive p at l* = {sel['granger']['lag']})"
            if lag_order == "median_p"
            else "per pair: min p over the orders, Bonferroni-corrected)"
        )
    )
    print(
        f"targets: {last} selection <= 30 s: {'met' if runs[last][0] <= 30 else 'MISSED'}; "
        f"peak <= 4096 MB: {'met' if max(r[1] for r in runs.values()) <= 4096 else 'MISSED'}; "
        f">= 18 of 20 with lag: {'met' if with_lag >= 18 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
