"""Benchmark of the all-pairs lead-lag matrices (issue 12): Lévy area and lag-1 cross-correlation, 500 x 250.

Target (issue 12): all-pairs Lévy area and lag-1 cross-correlation of 500 names x 250 days in <= 50 ms each.
Times, warm, best of ``REPEATS`` calls in this process:

* ``volts.selection.leadlag.levy_area_returns`` (the z-scored returns path) (one matrix product, z-scoring included) and
  ``volts.selection.leadlag.ccf_lag1_matrix`` (Pearson);
* the baseline measured in the same run: ``numpy.corrcoef`` of the same 500 x 250 array (one correlation
  matrix), so the figures can be read as ratios on a noisy shared machine;
* the pair-by-pair double sum of the Lévy area on 50 names (1,225 pairs), scaled to 500 names by the pair count,
  to show what the matrix product saves.

Run: ``python -m benchmarks screens`` (OPENBLAS_NUM_THREADS=1 is set).
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

N, T, REPEATS = 500, 250, 20


def _best(fn, *args, repeats: int = REPEATS) -> float:
    fn(*args)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def _levy_double_sum(z: np.ndarray) -> np.ndarray:
    n = z.shape[1]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            a = 0.5 * float(np.dot(z[:-1, i], z[1:, j]) - np.dot(z[:-1, j], z[1:, i]))
            out[i, j], out[j, i] = a, -a
    return out


def main() -> None:
    from volts.selection.leadlag import ccf_lag1_matrix, levy_area_returns

    rng = np.random.default_rng(0)
    returns = 0.01 * rng.standard_t(4, size=(T, N))
    base = _best(np.corrcoef, returns.T)
    levy = _best(levy_area_returns, returns)  # seed 004: the z-scored returns path started at 0
    ccf = _best(ccf_lag1_matrix, returns)
    z = (returns - returns.mean(0)) / returns.std(0, ddof=1)
    small = 50
    loop = _best(_levy_double_sum, z[:, :small], repeats=3) * (N * (N - 1)) / (small * (small - 1))
    print(f"{N} names x {T} days, warm, best of {REPEATS} (CPU shared with other jobs: timings are noisy)")
    print(f"  baseline numpy.corrcoef        {1e3 * base:8.2f} ms   1.00x")
    print(
        f"  levy_area_returns              {1e3 * levy:8.2f} ms   {levy / base:5.2f}x baseline   "
        f"{'OK' if levy <= 0.05 else 'ABOVE'} the 50 ms target"
    )
    print(
        f"  ccf_lag1_matrix (Pearson)      {1e3 * ccf:8.2f} ms   {ccf / base:5.2f}x baseline   "
        f"{'OK' if ccf <= 0.05 else 'ABOVE'} the 50 ms target"
    )
    print(
        f"  Lévy double sum, pair by pair  {1e3 * loop:8.0f} ms   {loop / base:5.0f}x baseline "
        f"(50 names timed, scaled by pair count)"
    )


if __name__ == "__main__":
    main()
