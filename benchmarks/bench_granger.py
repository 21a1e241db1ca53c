"""Benchmark of the batched Granger scan (METHOD.md §4a) against a loop of statsmodels calls.

Synthetic close prices for 100 names x 151 trading days (the size of the paper's training window), lag orders
2 .. 48: time ``granger_scan`` over all 9,900 ordered pairs, time statsmodels' ``grangercausalitytests`` on a
random sample of pairs and extrapolate it to 9,900 pairs, and check that the sampled p-values agree.

Then the S&P-size case of issue 13: 200 names (39,800 ordered pairs) of log returns over 151 days, the
common-sample scan (``sample="common"``, one factorisation per unordered pair for both directions) beside the per-lag scan and the statsmodels
loop extrapolated, all measured in the same run (statsmodels called on the common sample, so that the
p-values can be compared).

Run: ``python -m benchmarks.bench_granger`` or ``python -m benchmarks granger``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

N_NAMES = 100
N_DAYS = 151
MIN_LAG, MAX_LAG = 2, 48
N_SAMPLE_PAIRS = 50
SEED = 0


def synthetic_closes(n_names: int = N_NAMES, n_days: int = N_DAYS, seed: int = SEED) -> pd.DataFrame:
    """Close prices from a one-factor model of daily log returns (market factor + idiosyncratic noise)."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.012, size=(n_days, 1))
    beta = rng.uniform(0.5, 1.5, size=(1, n_names))
    returns = market * beta + rng.normal(0.0, 0.018, size=(n_days, n_names))
    start = rng.uniform(20, 400, size=n_names)
    closes = start * np.exp(np.cumsum(returns, axis=0))
    return pd.DataFrame(
        closes, index=pd.bdate_range("2022-11-01", periods=n_days), columns=[f"S{k:03d}" for k in range(n_names)]
    )


def main() -> None:
    """Print a table: what, seconds, pairs, max |dp| (scan versus statsmodels on the sampled pairs)."""
    from statsmodels.tsa.stattools import grangercausalitytests

    from volts.selection.causality.granger import granger_scan

    closes = synthetic_closes()
    n_pairs = N_NAMES * (N_NAMES - 1)

    t0 = time.perf_counter()
    scan = granger_scan(closes, min_lag=MIN_LAG, max_lag=MAX_LAG)
    t_scan = time.perf_counter() - t0
    lags = list(scan.evaluated_lags)

    rng = np.random.default_rng(SEED + 1)
    sample = [scan.pairs[k] for k in rng.choice(len(scan.pairs), size=N_SAMPLE_PAIRS, replace=False)]
    max_dp = 0.0
    t0 = time.perf_counter()
    results = [grangercausalitytests(closes[[follower, leader]].to_numpy(), lags) for leader, follower in sample]
    t_loop = time.perf_counter() - t0
    for (leader, follower), res in zip(sample, results):
        ref = np.array([res[l][0]["ssr_ftest"][1] for l in lags])
        max_dp = max(max_dp, float(np.max(np.abs(scan.pvalues.loc[(leader, follower), lags].to_numpy() - ref))))
    per_pair = t_loop / N_SAMPLE_PAIRS

    print(
        f"granger scan: {N_NAMES} names x {N_DAYS} days, lag orders {lags[0]}..{lags[-1]} evaluated "
        f"(skipped {list(scan.skipped_lags)}: < {scan.min_df} residual df), {scan.n_tests} F-tests"
    )
    rows = [
        ("granger_scan (batched)", t_scan, n_pairs, max_dp),
        (f"statsmodels loop, {N_SAMPLE_PAIRS} sampled pairs", t_loop, N_SAMPLE_PAIRS, max_dp),
        ("statsmodels loop, extrapolated", per_pair * n_pairs, n_pairs, float("nan")),
    ]
    print(f"{'what':<40} {'seconds':>9} {'pairs':>7} {'max |dp|':>10}")
    for what, secs, pairs, dp in rows:
        dp_txt = "" if np.isnan(dp) else f"{dp:.1e}"
        print(f"{what:<40} {secs:>9.2f} {pairs:>7d} {dp_txt:>10}")
    print(
        f"statsmodels per pair (all {len(lags)} lag orders): {per_pair:.4f} s; "
        f"speed-up of the scan: {per_pair * n_pairs / t_scan:.0f}x; target scan <= 15 s: "
        f"{'met' if t_scan <= 15 else 'MISSED'}"
    )
    sp500_size()


def sp500_size(n_names: int = 200, n_sample: int = 20) -> None:
    """200 names of log returns, 151 days: common-sample scan, per-lag scan and statsmodels, one run."""
    from statsmodels.tsa.stattools import grangercausalitytests

    from volts.selection.causality.granger import granger_scan

    returns = np.log(synthetic_closes(n_names, N_DAYS)).diff().iloc[1:]
    n_pairs = n_names * (n_names - 1)
    t0, c0 = time.perf_counter(), time.process_time()
    common = granger_scan(returns, min_lag=MIN_LAG, max_lag=MAX_LAG, sample="common")
    t_common, c_common = time.perf_counter() - t0, time.process_time() - c0
    lags = list(common.evaluated_lags)
    top = lags[-1]
    t0, c0 = time.perf_counter(), time.process_time()
    granger_scan(returns.iloc[:, :50], min_lag=MIN_LAG, max_lag=MAX_LAG)
    t_per_lag50, c_per_lag50 = time.perf_counter() - t0, time.process_time() - c0
    t_per_lag = t_per_lag50 * n_pairs / (50 * 49)  # cost is proportional to the number of pairs
    c_per_lag = c_per_lag50 * n_pairs / (50 * 49)
    rng = np.random.default_rng(SEED + 2)
    sample = [common.pairs[k] for k in rng.choice(len(common.pairs), size=n_sample, replace=False)]
    t0, c0 = time.perf_counter(), time.process_time()
    max_dp = 0.0
    for leader, follower in sample:
        data = returns[[follower, leader]].to_numpy()
        for l in lags:
            p = grangercausalitytests(data[top - l :], [l])[l][0]["ssr_ftest"][1]
            max_dp = max(max_dp, abs(p - float(common.pvalues.loc[(leader, follower), l])))
    t_sm = (time.perf_counter() - t0) / n_sample * n_pairs
    c_sm = (time.process_time() - c0) / n_sample * n_pairs
    print(
        f"granger scan, S&P size: {n_names} names x {N_DAYS} days of closes -> {len(returns)} log returns, "
        f"lag orders {lags[0]}..{top}, {n_pairs} ordered pairs"
    )
    print(f"{'what':<72} {'wall s':>9} {'CPU s':>9} {'ratio':>8}")
    for what, secs, cpu in (
        ("granger_scan sample='common' (one Cholesky per unordered pair)", t_common, c_common),
        ("granger_scan sample='per_lag', extrapolated from 50 names", t_per_lag, c_per_lag),
        (f"statsmodels loop on the common sample, extrapolated from {n_sample} pairs", t_sm, c_sm),
    ):
        print(f"{what:<72} {secs:>9.2f} {cpu:>9.2f} {secs / t_common:>7.1f}x")
    print(
        f"max |dp| common scan vs statsmodels on the sampled pairs: {max_dp:.1e}; "
        f"target common scan <= 5 s: {'met' if t_common <= 5 else 'MISSED'} wall, "
        f"{'met' if c_common <= 5 else 'MISSED'} CPU (2 shared cores: wall is noisy, CPU is the fairer figure)"
    )


if __name__ == "__main__":
    main()
