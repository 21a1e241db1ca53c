"""Speed of the lead-lag matrices and of Hermitian RW clustering at S&P 500 size (issue 12's targets).

* all-pairs Levy area and lag-1 cross-correlation (Pearson ccf-lag1) of 500 names x 250 days (target <= 50 ms
  each), against a baseline measured in the same run: one 500 x 250 @ 250 x 500 matrix product;
* Hermitian RW clustering of 500 names, k = 10 (seed 003's k), on a ccf-lag1 matrix (target <= 2 s), for the
  default k-means starts (50) and the authors' 200, against the baseline of one dense 500 x 500 Hermitian ``eigh``.

Best of 5 repeats (3 for the clustering). The machine is shared: read the ratios, not the absolute times.
Run: ``python -m benchmarks hermitian``.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from volts import hermitian, leadlag

    rng = np.random.default_rng(0)
    y = rng.standard_normal((250, 500))
    base_mm = _best(lambda: y.T @ y, 5)
    t_levy = _best(lambda: leadlag.levy_area_matrix(leadlag.standardise(y)), 5)
    t_ccf = _best(lambda: leadlag.ccf_lag1_matrix(y), 5)
    print(f"500 x 250 matmul baseline      {base_mm * 1e3:8.1f} ms")
    print(f"Levy area, all pairs           {t_levy * 1e3:8.1f} ms  ({t_levy / base_mm:.1f}x baseline; target 50 ms)")
    print(f"ccf-lag1 (Pearson), all pairs  {t_ccf * 1e3:8.1f} ms  ({t_ccf / base_mm:.1f}x baseline; target 50 ms)")
    s = leadlag.ccf_lag1_matrix(y)
    h = 1j * s
    base_eig = _best(lambda: np.linalg.eigh(h), 3)
    print(f"500 x 500 Hermitian eigh       {base_eig * 1e3:8.1f} ms")
    for n_init in (50, 200):
        t = _best(lambda: hermitian.cluster_lead_lag(s, 10, n_init=n_init), 3)
        print(f"Hermitian RW clustering k=10, n_init={n_init:<3} {t:6.2f} s  ({t / base_eig:.1f}x eigh; target 2 s)")


if __name__ == "__main__":
    main()
