"""Benchmark of the Hayashi-Yoshida lead-lag estimator: two series of 100,000 asynchronous observations, 200 shifts.

Target: <= 2 s on one core for the contrast over 200 shifts. Times, warm, best of ``REPEATS`` calls in this
process, wall clock and CPU time of this process (the CPU time is what one core spends; on a machine shared with
other jobs the wall time is longer by about the load):

* ``volts.selection.hayashi_yoshida.hy_contrast`` (the shifted HY covariance ``U(theta)`` at 200 shifts) and
  ``hy_lead_lag`` (adds the test's variance, the correlations, theta_hat and the lead-lag ratio);
* baseline measured in the same run: one ``numpy.sort`` of the 200,000 observation times of both series, so the
  figures can be read as ratios on a noisy machine;
* the definition's double loop over interval pairs (pure Python) on 400 x 400 observations at one shift, scaled
  to 100,000 x 100,000 x 200 by the number of interval pairs, to show what the prefix sums save.

Run: ``python -m benchmarks hayashi_yoshida`` (OPENBLAS_NUM_THREADS=1 is set).
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

N, SHIFTS, REPEATS, SMALL = 100_000, 200, 3, 400


def _best(fn, *args, repeats: int = REPEATS) -> tuple[float, float]:
    fn(*args)
    wall, cpu = np.inf, np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(*args)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def _double_loop(s, x, t, y, theta):
    u = 0.0
    for i in range(1, len(s)):
        a, b = s[i - 1] + theta, s[i] + theta
        for j in range(1, len(t)):
            if max(a, t[j - 1]) < min(b, t[j]):
                u += (x[i] - x[i - 1]) * (y[j] - y[j - 1])
    return u


def main() -> None:
    from volts.selection.hayashi_yoshida import hy_contrast, hy_lead_lag

    rng = np.random.default_rng(0)
    # Poisson observation times, 1 and 1.3 observations a second on average; Brownian log prices
    s = np.cumsum(rng.exponential(1.0, N))
    t = np.cumsum(rng.exponential(1.0 / 1.3, N))
    x = np.cumsum(1e-4 * rng.standard_normal(N))
    y = np.cumsum(1e-4 * rng.standard_normal(N))
    thetas = np.arange(-SHIFTS // 2, SHIFTS // 2, dtype=float)  # 200 shifts of 1 s
    both = np.concatenate([s, t])
    base_w, base_c = _best(np.sort, both, repeats=10)
    con_w, con_c = _best(hy_contrast, s, x, t, y, thetas)
    ll_w, ll_c = _best(hy_lead_lag, s, x, t, y, thetas)
    loop_w, _ = _best(_double_loop, s[:SMALL], x[:SMALL], t[:SMALL], y[:SMALL], 0.0, repeats=1)
    loop = loop_w * (N / SMALL) ** 2 * SHIFTS
    load = os.getloadavg()
    print(
        f"2 series x {N:,} asynchronous observations, {SHIFTS} shifts, warm, best of {REPEATS}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
        f"(shared machine: wall > CPU)"
    )
    print(f"  baseline numpy.sort of {2 * N:,} times   wall {1e3 * base_w:8.2f} ms  cpu {1e3 * base_c:8.2f} ms   1.00x")
    for label, w, c in (
        ("hy_contrast (U at 200 shifts)", con_w, con_c),
        ("hy_lead_lag (U, V, rho, LLR, p)", ll_w, ll_c),
    ):
        print(
            f"  {label:33s} wall {w:8.3f} s   cpu {c:8.3f} s   {c / base_c:6.0f}x baseline (cpu)   "
            f"{'OK' if c <= 2.0 else 'ABOVE'} the 2 s one-core target"
        )
    print(f"  definition's double loop, scaled      wall {loop:10.3g} s (timed on {SMALL} x {SMALL} at one shift)")


if __name__ == "__main__":
    main()
