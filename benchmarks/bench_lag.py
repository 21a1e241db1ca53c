"""Benchmark of the DTW-KNN lag choice (METHOD.md §5): volts' numpy DTW vs tslearn's classifier.

Times one pair (MU -> QCOM, 2022-11-01 .. 2023-06-08, tau = 1..10, w = 5, k = 7, 5 time-ordered folds):

* in this process: volts' ``choose_lag`` (first call and warm) and the same computation with
  ``tslearn.neighbors.KNeighborsTimeSeriesClassifier(metric="dtw")`` (import, first call including numba's
  compilation, warm);
* in fresh interpreters: the wall time of a whole run of each, which is what every ``volts select`` pays.

Run: ``python -m benchmarks lag`` or ``.venv/bin/python benchmarks/bench_lag.py [DATA_DIR]``.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ohlcv"
LEADER, FOLLOWER, START, END = "MU", "QCOM", "2022-11-01", "2023-06-08"
WARM_REPEATS = 5


def _closes(data_dir: Path):
    from volts.data.csv import load_csv_market

    m = load_csv_market(data_dir, symbols=[LEADER, FOLLOWER], start="2019-01-01", end="2023-12-31")
    m = m.slice(START, END)
    return m.close[LEADER], m.close[FOLLOWER]


def tslearn_accuracies(leader_close, follower_close, *, max_lag=10, window=5, neighbors=7, cv_splits=5):
    """Out-of-sample and in-sample accuracy per lag computed with tslearn's DTW k-NN classifier."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tslearn.neighbors import KNeighborsTimeSeriesClassifier
    from volts.selection.lag import lag_samples, time_series_folds

    oos, ins = [], []
    for tau in range(1, max_lag + 1):
        s = lag_samples(leader_close, follower_close, tau=tau, window=window, max_lag=max_lag)
        accs = []
        for train, test in time_series_folds(len(s.y), cv_splits):
            clf = KNeighborsTimeSeriesClassifier(n_neighbors=neighbors, metric="dtw").fit(s.X[train], s.y[train])
            accs.append(np.mean(clf.predict(s.X[test]) == s.y[test]))
        oos.append(float(np.mean(accs)))
        clf = KNeighborsTimeSeriesClassifier(n_neighbors=neighbors, metric="dtw").fit(s.X, s.y)
        ins.append(float(np.mean(clf.predict(s.X) == s.y)))
    return oos, ins


def _fresh_process_seconds(code: str) -> float:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO, capture_output=True)
    return time.perf_counter() - t0


def main(data_dir: str | Path | None = None) -> None:
    """Print a table of timings (seconds) for one pair's lag choice."""
    data_dir = Path(data_dir or DEFAULT_DATA)
    lead, foll = _closes(data_dir)
    rows = []

    from volts.selection.lag import choose_lag

    t0 = time.perf_counter()
    ours = choose_lag(lead, foll)
    rows.append(("volts numpy DTW", "first call", time.perf_counter() - t0))
    t0 = time.perf_counter()
    for _ in range(WARM_REPEATS):
        choose_lag(lead, foll)
    rows.append(("volts numpy DTW", "warm call (mean)", (time.perf_counter() - t0) / WARM_REPEATS))

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tslearn.neighbors  # noqa: F401
    rows.append(("tslearn", "import", time.perf_counter() - t0))
    t0 = time.perf_counter()
    oos, ins = tslearn_accuracies(lead, foll)
    rows.append(("tslearn", "first call (numba compile)", time.perf_counter() - t0))
    t0 = time.perf_counter()
    for _ in range(WARM_REPEATS):
        tslearn_accuracies(lead, foll)
    rows.append(("tslearn", "warm call (mean)", (time.perf_counter() - t0) / WARM_REPEATS))

    load = (
        f"from benchmarks.bench_lag import _closes, DEFAULT_DATA; from pathlib import Path; "
        f"l, f = _closes(Path({str(data_dir)!r}))"
    )
    base = _fresh_process_seconds(load)
    rows.append(("fresh interpreter", "start + load the two CSVs", base))
    rows.append(
        (
            "fresh interpreter",
            "+ volts choose_lag",
            _fresh_process_seconds(load + "; from volts.selection.lag import choose_lag; choose_lag(l, f)"),
        )
    )
    rows.append(
        (
            "fresh interpreter",
            "+ tslearn lag choice",
            _fresh_process_seconds(
                load + "; from benchmarks.bench_lag import tslearn_accuracies; tslearn_accuracies(l, f)"
            ),
        )
    )

    same = np.allclose([ours.accuracy_oos[t] for t in ours.lags], oos, rtol=0, atol=1e-12) and np.allclose(
        [ours.accuracy_in_sample[t] for t in ours.lags], ins, rtol=0, atol=1e-12
    )
    print(
        f"DTW-KNN lag choice, {LEADER}->{FOLLOWER} {START}..{END}: {ours.n_samples} samples x "
        f"{len(ours.lags)} lags, k={ours.neighbors}, w={ours.window}, {ours.cv_splits} folds; "
        f"OPENBLAS_NUM_THREADS=1"
    )
    print(f"{'implementation':<20} {'what':<28} {'seconds':>9}")
    for impl, what, sec in rows:
        print(f"{impl:<20} {what:<28} {sec:>9.3f}")
    print(f"tau* = {ours.lag}; accuracies identical to tslearn: {same}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
