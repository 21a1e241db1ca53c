"""All-pairs lead-lag matrices (volts.screens.matrices): Lévy area against the double sum and esig's signature,
LITERATURE.md A2/A3/A5 checks, cross-correlation against pandas, MI against scikit-learn, dCor against dcor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.screens.matrices import (ccf_auc_matrix, ccf_lag1_matrix, ccf_matrix, levy_area_matrix,
                                    levy_area_of_path, mutual_information_quartiles, pooled_quartile_buckets,
                                    signature_matrix)


def _returns(T=250, N=6, seed=0) -> np.ndarray:
    return 0.01 * np.random.default_rng(seed).standard_t(5, size=(T, N))


def _levy_double_sum(points: np.ndarray) -> np.ndarray:
    """1/2 of the iterated integral difference, written out as a double sum over increments (independent form)."""
    d = np.diff(points, axis=0)
    n, N = d.shape
    out = np.zeros((N, N))
    for i in range(N):
        for j in range(N):
            s = 0.0
            for v in range(n):
                for u in range(v):                    # u < v: dX^i(u) dX^j(v) - dX^j(u) dX^i(v)
                    s += d[u, i] * d[v, j] - d[u, j] * d[v, i]
                s += 0.5 * (d[v, i] * d[v, j] - d[v, j] * d[v, i])   # the linear piece's own term (0)
            out[i, j] = 0.5 * s
    return out


def _esig_levy(points: np.ndarray) -> np.ndarray:
    """(S^{ij} - S^{ji}) / 2 from the level-2 signature of the reference library (esig, on its roughpy backend).

    esig 1.0's roughpy backend builds its stream indices with ``np.arange(0, 1, 1 / (n - 1))``, which for some n
    gives one index too many and raises; then the same roughpy call is made with exactly n - 1 indices.
    """
    esig = pytest.importorskip("esig")
    points = np.ascontiguousarray(points, dtype=float)
    n, N = points.shape
    try:
        sig = np.asarray(esig.stream2sig(points, 2))
    except ValueError:
        import roughpy as rp

        stream = rp.LieIncrementStream.from_increments(np.diff(points, axis=0), indices=np.arange(n - 1) / (n - 1),
                                                        ctx=rp.get_context(N, 2, rp.DPReal))
        sig = np.array(stream.signature(rp.RealInterval(0.0, 1.0)), copy=True)
    level2 = sig[1 + N:1 + N + N * N].reshape(N, N)
    return 0.5 * (level2 - level2.T)


# --------------------------------------------------------------------------------------------- Lévy area (A2)
def test_appendix_b_toy_path_gives_minus_one_half():
    path = np.array([[0.0, 0.5], [0.5, 2.0], [2.0, 2.5], [2.5, 3.5]])   # X2 leads X1 (004 App. B)
    a = levy_area_of_path(path)
    assert a[0, 1] == pytest.approx(-0.5, abs=1e-12) and a[1, 0] == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(a, _esig_levy(path), atol=1e-12)


def test_levy_area_of_path_equals_the_double_sum_and_esig():
    rng = np.random.default_rng(1)
    points = np.cumsum(rng.normal(size=(60, 5)), axis=0)
    a = levy_area_of_path(points)
    np.testing.assert_allclose(a, _levy_double_sum(points), atol=1e-10, rtol=0)
    np.testing.assert_allclose(a, _esig_levy(points), atol=1e-10, rtol=0)


def test_levy_area_matrix_is_the_signature_of_the_standardised_returns_path():
    r = _returns(T=250, N=7, seed=2)
    z = (r - r.mean(0)) / r.std(0, ddof=1)
    path = np.vstack([np.zeros(7), z])                    # X_s = 0, then the z-scored returns (004 App. B)
    a = levy_area_matrix(r)
    np.testing.assert_allclose(a, _esig_levy(path), atol=1e-10, rtol=0)
    np.testing.assert_allclose(a, _levy_double_sum(path), atol=1e-10, rtol=0)


def test_levy_area_invariants():
    r = _returns(N=5, seed=3)
    a = levy_area_matrix(r)
    np.testing.assert_allclose(a, -a.T, atol=0)           # skew-symmetric
    assert np.all(np.diag(a) == 0)
    points = np.cumsum(r, axis=0)
    shifted = points + np.array([3.0, -1.0, 0.0, 100.0, 7.5])   # constant added to each path
    np.testing.assert_allclose(levy_area_of_path(shifted), levy_area_of_path(points), atol=1e-10)
    frame = pd.DataFrame(r, columns=list("ABCDE"))
    out = levy_area_matrix(frame)
    assert list(out.index) == list("ABCDE") and np.allclose(out.to_numpy(), a)


def test_signature_matrix_matches_esig_on_the_normalised_cumulated_path():
    r = _returns(N=4, seed=4)
    path = np.cumsum(r, axis=0)
    path = path / path.std(axis=0, ddof=1)
    np.testing.assert_allclose(signature_matrix(r), 2.0 * _esig_levy(path), atol=1e-10, rtol=0)


def test_levy_area_finds_a_planted_lag_one_leader():
    rng = np.random.default_rng(5)
    x = rng.normal(size=501)
    y = 0.5 * x[:-1] + rng.normal(size=500)
    a = levy_area_matrix(np.column_stack([x[1:], y]))
    assert a[0, 1] > 0


# ------------------------------------------------------------------------------------ 004 Fig. 1 (A3)
def _fig1_f(x):
    return 10.0 / (1.0 + np.exp(-x)) + 5.0 / (1.0 + np.exp(10.0 * x)) - 7.5


def test_seed_004_figure_1_direction_rates():
    """x ~ N(0,1), follower f(x_{t-1}) without noise, T = 500, 50,000 runs (the paper's count). LITERATURE.md A3:
    Lévy area on the standardised returns path 94.0-94.6 % (paper 94.5 %); the cumulated path about 58 %."""
    rng = np.random.default_rng(2024)
    reps, T = 50_000, 500
    right_returns = right_cum = 0
    for start in range(0, reps, 5_000):
        x = rng.standard_normal((5_000, T + 1))
        y = _fig1_f(x[:, :-1])
        x = x[:, 1:]
        zx = (x - x.mean(1, keepdims=True)) / x.std(1, ddof=1, keepdims=True)
        zy = (y - y.mean(1, keepdims=True)) / y.std(1, ddof=1, keepdims=True)
        area = 0.5 * ((zx[:, :-1] * zy[:, 1:]).sum(1) - (zy[:, :-1] * zx[:, 1:]).sum(1))
        right_returns += int((area > 0).sum())
        cx, cy = np.cumsum(zx, 1), np.cumsum(zy, 1)
        qx, qy = cx[:, :-1] - cx[:, :1], cy[:, :-1] - cy[:, :1]
        dx, dy = np.diff(cx, axis=1), np.diff(cy, axis=1)
        right_cum += int((0.5 * ((qx * dy).sum(1) - (qy * dx).sum(1)) > 0).sum())
    rate, rate_cum = right_returns / reps, right_cum / reps
    # the same rule as levy_area_matrix on one run
    one = levy_area_matrix(np.column_stack([x[0], y[0]]))[0, 1]
    assert one == pytest.approx(area[0], rel=1e-10)
    assert 0.940 <= rate <= 0.946, rate
    assert rate_cum < 0.65, rate_cum


# ---------------------------------------------------------------------------------- cross-correlations (A5)
def test_ccf_matrix_equals_pandas_shift_and_corr():
    r = pd.DataFrame(_returns(N=4, seed=6), columns=list("ABCD"))
    for lag in (1, 3, -2):
        c = ccf_matrix(r, lag)
        for i in r.columns:
            for j in r.columns:
                ref = r[i].shift(lag).corr(r[j])          # the seed-003 code: d1.shift(lag), drop NaN, corr
                assert c.loc[i, j] == pytest.approx(ref, abs=1e-12)


def test_ccf_lag1_is_ccf1_minus_ccf_minus1_and_skew_symmetric():
    r = _returns(N=5, seed=7)
    s = ccf_lag1_matrix(r)
    np.testing.assert_allclose(s, ccf_matrix(r, 1) - ccf_matrix(r, -1), atol=1e-14)
    np.testing.assert_allclose(s, -s.T, atol=0)
    assert np.all(np.diag(s) == 0)


@pytest.mark.parametrize("method", ["pearson", "kendall", "distance", "mi"])
def test_ccf_auc_is_skew_symmetric_with_magnitudes_zero_or_at_least_one_half(method):
    r = _returns(T=120, N=5, seed=8)
    s = ccf_auc_matrix(r, max_lag=3, method=method)
    np.testing.assert_allclose(s, -s.T, atol=1e-15)
    mags = np.abs(s[~np.eye(5, dtype=bool)])
    assert np.all((mags == 0) | ((mags >= 0.5 - 1e-12) & (mags <= 1 + 1e-12)))


def test_distance_correlation_equals_dcor():
    import dcor

    from volts.screens.matrices import distance_correlation_batch

    rng = np.random.default_rng(11)
    a = rng.standard_t(4, size=(6, 150))
    b = 0.3 * a ** 2 + rng.normal(size=(6, 150))
    b[5] = 1.0                                              # a constant sample: 0, as dcor
    ours = distance_correlation_batch(a, b, block=4)
    ref = [dcor.distance_correlation(a[k], b[k]) for k in range(6)]
    np.testing.assert_allclose(ours, ref, atol=1e-12, rtol=0)


def test_distance_correlation_is_in_unit_interval_and_one_for_an_exact_linear_relation():
    from volts.screens.matrices import distance_correlation_batch

    rng = np.random.default_rng(9)
    x = rng.normal(size=200)
    r = np.column_stack([x, np.r_[0.0, 3.0 * x[:-1] - 2.0], rng.normal(size=200)])
    c = ccf_matrix(r, 1, "distance")
    assert np.all((c >= 0) & (c <= 1 + 1e-12))
    assert c[0, 1] == pytest.approx(1.0, abs=1e-9)       # column 1 is an exact linear function of column 0, lagged
    assert c[0, 2] == pytest.approx(float(distance_correlation_batch(r[:-1, 0], r[1:, 2])), abs=1e-12)


def test_mutual_information_matches_sklearn_on_pandas_qcut_buckets():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(2, 300))
    b = 0.6 * a + b
    pool = pd.qcut(np.concatenate([a, b]), 4, labels=False)
    ba, bb = pooled_quartile_buckets(a, b)
    assert np.array_equal(ba, pool[:300]) and np.array_equal(bb, pool[300:])
    mi = mutual_information_quartiles(a, b)
    assert mi == pytest.approx(mutual_info_score(pool[:300], pool[300:]), abs=1e-12)
    assert mi > 0
    batch = mutual_information_quartiles(np.stack([a, b]), np.stack([b, rng.normal(size=300)]))
    assert batch.shape == (2,) and batch[0] == pytest.approx(mi) and np.all(batch >= 0)


def test_mutual_information_survives_heavy_ties():
    a = np.r_[np.zeros(80), np.arange(20.0)]                 # pd.qcut would raise on the repeated edges
    b = np.r_[np.zeros(70), np.arange(30.0)]
    assert np.isfinite(mutual_information_quartiles(a, b)) and mutual_information_quartiles(a, b) >= 0
