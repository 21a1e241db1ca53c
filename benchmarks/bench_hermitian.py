"""Speed of the lead-lag matrices and of Hermitian RW clustering at S&P 500 size (issue 12's targets).

* all-pairs Levy area and lag-1 cross-correlation (Pearson ccf-lag1) of 500 names x 250 days (target <= 50 ms
  each), against baselines measured in the same run: one 500 x 250 @ 250 x 500 product of two different matrices
  (BLAS gemm: the floor of both, each is one such product) and ``y.T @ y`` (numpy runs it as syrk, half the work);
* Hermitian RW clustering of 500 names, k = 10 (seed 003's k), on a ccf-lag1 matrix (target <= 2 s), for the
  default k-means starts (50) and the authors' 200, against the baseline of one dense 500 x 500 Hermitian ``eigh``.

Best and median of 7 repeats (5 for the clustering), with the 1-minute load average before and after. The
machine is shared: read the ratios (best over best), not the absolute times. Run: ``python -m benchmarks hermitian``.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402


def _times(fn, repeats: int) -> tuple[float, float]:
    """Best and median wall time (s) of ``repeats`` calls."""
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t), float(np.median(t))


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # not available on this platform
        return "n/a"


def main() -> None:
    from volts.selection import hermitian
    from volts.selection import leadlag

    print(f"1-minute load average at start: {_load()}")
    rng = np.random.default_rng(0)
    y = rng.standard_normal((250, 500))
    x = rng.standard_normal((250, 500))
    syrk, syrk_med = _times(lambda: y.T @ y, 7)
    base, base_med = _times(lambda: y.T @ x, 7)
    print(f"y.T @ y (syrk) 500x250         best {syrk * 1e3:7.1f} ms  median {syrk_med * 1e3:7.1f} ms")
    print(f"y.T @ x (gemm) baseline        best {base * 1e3:7.1f} ms  median {base_med * 1e3:7.1f} ms")
    for label, fn in (
        ("Levy area, all pairs          ", lambda: leadlag.levy_area_returns(y)),
        ("ccf-lag1 (Pearson), all pairs ", lambda: leadlag.ccf_lag1_matrix(y)),
    ):
        best, med = _times(fn, 7)
        print(
            f"{label} best {best * 1e3:7.1f} ms  median {med * 1e3:7.1f} ms  ({best / base:.1f}x gemm, "
            f"{best / syrk:.1f}x syrk; target 50 ms)"
        )
    s = leadlag.ccf_lag1_matrix(y)
    h = 1j * s
    eig, eig_med = _times(lambda: np.linalg.eigh(h), 5)
    print(f"500 x 500 Hermitian eigh       best {eig * 1e3:7.1f} ms  median {eig_med * 1e3:7.1f} ms")
    for n_init in (50, 200):
        best, med = _times(lambda: hermitian.cluster_lead_lag(s, 10, n_init=n_init), 5)
        print(
            f"Hermitian RW clustering k=10, n_init={n_init:<3} best {best:5.2f} s  median {med:5.2f} s  "
            f"({best / eig:.1f}x eigh; target 2 s)"
        )
    print(f"1-minute load average at end: {_load()}")


if __name__ == "__main__":
    main()
