"""Hayashi-Yoshida lead-lag: the fast sums against a brute-force double sum, known answers on a common clock, and
the synthetic asynchronous market as the oracle (planted delays recovered, null pairs not called at 5 % FDR)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from volts.data.synthetic_async import simulate_async_market
from volts.core.errors import DataError
from volts.selection.hayashi_yoshida import (
    hy_contrast,
    hy_correlation,
    hy_covariance,
    hy_lead_lag,
    hy_lead_lag_matrix,
    hy_test,
    lead_lag_ratio,
    shift_grid,
)


def brute_contrast(s, x, t, y, thetas):
    """The definition, O(n m) per shift: every pair of increments whose half-open intervals intersect."""
    out = []
    for th in thetas:
        u = 0.0
        for i in range(1, len(s)):
            a, b = s[i - 1] + th, s[i] + th
            for j in range(1, len(t)):
                if max(a, t[j - 1]) < min(b, t[j]):  # (a, b] n (c, d] != 0
                    u += (x[i] - x[i - 1]) * (y[j] - y[j - 1])
        out.append(u)
    return np.array(out)


def random_path(rng, n, span, integer=False):
    if integer:  # many shared end points: exercises the half-open interval rule
        t = np.unique(rng.integers(0, span, size=n)).astype(float)
    else:
        t = np.sort(rng.uniform(0, span, size=n))
    return t, np.cumsum(rng.normal(size=t.size))


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_fast_contrast_equals_brute_force(seed, integer):
    rng = np.random.default_rng(seed)
    s, x = random_path(rng, 40, 100, integer)
    t, y = random_path(rng, 55, 100, integer)
    thetas = shift_grid(30, 1.0 if integer else 0.7)
    fast = hy_contrast(s, x, t, y, thetas)
    ref = brute_contrast(s, x, t, y, thetas)
    # same process, same data; the two sums add the same products in a different order (telescoped prefix
    # differences vs one product at a time), hence a relative tolerance rather than equality
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(ref)))
    assert np.any(ref != 0)


def test_synchronous_equals_realised_covariance_and_lagged_cross_covariance():
    rng = np.random.default_rng(1)
    n = 500
    clock = np.arange(n + 1, dtype=float) * 60.0  # one bar a minute
    x, y = np.cumsum(rng.normal(size=n + 1)), np.cumsum(rng.normal(size=n + 1))
    dx, dy = np.diff(x), np.diff(y)
    assert hy_covariance(clock, x, clock, y) == pytest.approx(float(dx @ dy), rel=1e-12)
    thetas = 60.0 * np.arange(-5, 6)
    u = hy_contrast(clock, x, clock, y, thetas)
    for k, th in zip(range(-5, 6), thetas):
        # the leader's move on bar i meets the follower's move on bar i + k (equal bars only touch at end points)
        ref = dx[: n - k] @ dy[k:] if k >= 0 else dx[-k:] @ dy[: n + k]
        assert u[list(thetas).index(th)] == pytest.approx(float(ref), rel=1e-12, abs=1e-12)
    rho = hy_correlation(clock, x, clock, y, [0.0])[0]
    assert rho == pytest.approx(float(dx @ dy / np.sqrt((dx @ dx) * (dy @ dy))), rel=1e-12)


def test_swap_reverses_the_grid_and_time_origin_does_not_matter():
    rng = np.random.default_rng(2)
    s, x = random_path(rng, 300, 1000)
    t, y = random_path(rng, 200, 1000)
    thetas = shift_grid(50, 2.5)
    u = hy_contrast(s, x, t, y, thetas)
    np.testing.assert_allclose(hy_contrast(t, y, s, x, thetas), u[::-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hy_contrast(s + 1e4, x, t + 1e4, y, thetas), u, rtol=1e-9, atol=1e-12)
    r = hy_lead_lag(s, x, t, y, thetas)
    assert hy_lead_lag(t, y, s, x, thetas).llr == pytest.approx(1.0 / r.llr, rel=1e-10)
    assert lead_lag_ratio(np.array([1.0, 0.0, 2.0]), np.array([-1.0, 0.0, 1.0])) == 4.0


def test_matrix_matches_the_pairwise_estimator():
    m = simulate_async_market(n_leaders=1, followers_per_leader=2, n_independent=1, duration=3_000, seed=3)
    thetas = shift_grid(40, 2.0)
    mat = hy_lead_lag_matrix(m.paths, thetas)
    names = list(mat["names"])
    for a in names:
        for b in names:
            if a == b:
                assert np.isnan(mat["llr"][names.index(a), names.index(b)])
                continue
            r = hy_lead_lag(*m.paths[a], *m.paths[b], thetas)
            i, j = names.index(a), names.index(b)
            assert mat["theta_hat"][i, j] == r.theta_hat
            assert mat["llr"][i, j] == pytest.approx(r.llr, rel=1e-10)
            assert mat["p"][i, j] == pytest.approx(r.p, rel=1e-10)
            assert mat["rho_hat"][i, j] == pytest.approx(r.rho_hat, rel=1e-10)


def test_bad_input_is_a_data_error():
    t = np.arange(5.0)
    with pytest.raises(DataError, match="increase strictly"):
        hy_contrast([0, 1, 1, 2], [0, 1, 2, 3], t, t, [0.0])
    with pytest.raises(DataError, match="NaN"):
        hy_contrast(t, [0, 1, np.nan, 2, 3], t, t, [0.0])
    with pytest.raises(DataError, match="timestamps but"):
        hy_contrast(t, t[:3], t, t, [0.0])
    with pytest.raises(DataError, match="at least 2"):
        hy_contrast([1.0], [1.0], t, t, [0.0])
    with pytest.raises(ValueError, match="symmetric"):
        hy_lead_lag_matrix([(t, t), (t, t)], [0.0, 1.0])


# ----------------------------------------------------------------------------------- the synthetic oracle
@pytest.mark.slow
def test_planted_delays_recovered_within_one_grid_step():
    step = 1.0
    thetas = shift_grid(90.0, step)
    hits, total = 0, 0
    for seed in (0, 1):
        m = simulate_async_market(n_leaders=4, followers_per_leader=3, n_independent=0, seed=seed)
        for (lead, fol), delay in m.planted.items():
            r = hy_lead_lag(*m.paths[lead], *m.paths[fol], thetas)
            hits += abs(r.theta_hat - delay) <= step
            total += 1
            assert r.llr > 1.0, f"{lead}->{fol}: LLR {r.llr} does not point to the leader"
    assert total == 24
    assert hits / total >= 0.90, f"{hits}/{total} planted delays recovered within {step} s"


def test_planted_delay_recovered_under_microstructure_noise():
    # noise with the size of about 10 s of efficient moves: the argmax still lands on the planted delay
    m = simulate_async_market(n_leaders=2, followers_per_leader=2, n_independent=0, noise=3e-4, seed=5)
    thetas = shift_grid(90.0, 2.0)
    errs = [abs(hy_lead_lag(*m.paths[a], *m.paths[b], thetas).theta_hat - d) for (a, b), d in m.planted.items()]
    assert sum(e <= 2.0 for e in errs) >= 3, errs


@pytest.mark.slow
def test_null_pairs_not_called_at_5pct_fdr_and_z_calibrated():
    """BH at 5 % over all ordered pairs of each market; the share of null (independent) pairs called stays <= 5 %
    over 8 seeds (960 null pairs), every planted pair is called (the test has power), and the per-shift
    statistic z(0) is close to N(0, 1) on null pairs (two-sided 5 % rejection between 2 % and 9 %, a band of
    about +-3 binomial standard errors for its 480 unordered null pairs, widened for the dependence between
    pairs sharing an asset)."""
    thetas = shift_grid(60.0, 2.0)
    called_null, n_null, z0 = 0, 0, []
    for seed in range(8):
        m = simulate_async_market(
            n_leaders=2, followers_per_leader=2, n_independent=6, rate=(0.02, 0.1), seed=100 + seed
        )
        mat = hy_lead_lag_matrix(m.paths, thetas)
        idx = {s: k for k, s in enumerate(mat["names"])}
        ordered = [(a, b) for a in idx for b in idx if a != b]
        p = np.array([mat["p"][idx[a], idx[b]] for a, b in ordered])
        reject = dict(zip(ordered, multipletests(p, alpha=0.05, method="fdr_bh")[0]))
        nulls = m.null_pairs()
        called_null += sum(reject[pair] for pair in nulls)
        n_null += len(nulls)
        assert all(reject[pair] for pair in m.planted), "a planted pair was not called"
        for a, b in nulls:
            if a < b:
                z0.append(hy_test(*m.paths[a], *m.paths[b], [0.0])[0][0])
    assert n_null == 960
    assert called_null / n_null <= 0.05, f"{called_null}/{n_null} null pairs called at 5 % FDR"
    share = np.mean(np.abs(z0) > 1.959964)
    assert 0.02 <= share <= 0.09, f"z(0) rejects {share:.3f} of {len(z0)} null pairs at two-sided 5 %"


def test_datetime_timestamps_are_seconds():
    rng = np.random.default_rng(6)
    s, x = random_path(rng, 200, 3600)
    t, y = random_path(rng, 150, 3600)
    origin = np.datetime64("2024-03-01T09:30:00", "ns")
    ts = origin + (s * 1e9).astype("timedelta64[ns]")
    tt = pd.DatetimeIndex(origin + (t * 1e9).astype("timedelta64[ns]")).tz_localize("UTC")
    thetas = shift_grid(30, 5.0)
    # the datetimes lose the sub-nanosecond part of s and t: a shifted boundary may move by < 1 ns, which changes
    # nothing unless two times fall within 1 ns of each other (none do here), hence exact-up-to-rounding
    np.testing.assert_allclose(
        hy_contrast(ts, x, tt, y, thetas), hy_contrast(s, x, t, y, thetas), rtol=1e-12, atol=1e-12
    )
