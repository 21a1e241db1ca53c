"""Pair-batched statistics of the screens (volts.selection.screens.stats) against their references (dcor, scikit-learn,
pd.qcut), and the seed-004 Figure 1 experiment (LITERATURE.md A3) with the screens' Lévy-area convention.
The all-pairs matrices are tested in tests/test_leadlag_matrices.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.selection.leadlag import levy_area_matrix
from volts.selection.screens.pairwise import LevyAreaScreen
from volts.selection.screens.stats import (
    distance_correlation_batch,
    mutual_information_quartiles,
    pooled_quartile_buckets,
)


# ------------------------------------------------------------------------------------ 004 Fig. 1 (A3)
def _fig1_f(x):
    return 10.0 / (1.0 + np.exp(-x)) + 5.0 / (1.0 + np.exp(10.0 * x)) - 7.5


@pytest.mark.slow
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
        area = LevyAreaScreen().pair_scores(x.T, y.T)[0]  # the screen's own score, 5,000 runs at once
        right_returns += int((area > 0).sum())
        cx, cy = np.cumsum(zx, 1), np.cumsum(zy, 1)
        qx, qy = cx[:, :-1] - cx[:, :1], cy[:, :-1] - cy[:, :1]
        dx, dy = np.diff(cx, axis=1), np.diff(cy, axis=1)
        right_cum += int((0.5 * ((qx * dy).sum(1) - (qy * dx).sum(1)) > 0).sum())
    rate, rate_cum = right_returns / reps, right_cum / reps
    # the same number as the all-pairs Lévy area on one run's path
    path = np.vstack([np.zeros(2), np.column_stack([zx[0], zy[0]])])  # X_s = 0, then the z-scored returns
    one = levy_area_matrix(path)[0, 1]
    assert one == pytest.approx(area[0], rel=1e-10)
    assert 0.940 <= rate <= 0.946, rate
    assert rate_cum < 0.65, rate_cum


@pytest.mark.slow
def test_distance_correlation_equals_dcor():
    import dcor

    rng = np.random.default_rng(11)
    a = rng.standard_t(4, size=(6, 150))
    b = 0.3 * a**2 + rng.normal(size=(6, 150))
    b[5] = 1.0  # a constant sample: 0, as dcor
    ours = distance_correlation_batch(a, b, block=4)
    ref = [dcor.distance_correlation(a[k], b[k]) for k in range(6)]
    np.testing.assert_allclose(ours, ref, atol=1e-12, rtol=0)


def test_distance_correlation_is_in_unit_interval_and_one_for_an_exact_linear_relation():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(5, 200))
    c = distance_correlation_batch(x[:, None, :].repeat(5, 1), x[None, :, :].repeat(5, 0) ** 3)
    assert c.shape == (5, 5) and np.all((c >= 0) & (c <= 1 + 1e-12))
    assert distance_correlation_batch(x[0], 3.0 * x[0] - 2.0) == pytest.approx(1.0, abs=1e-9)


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
    a = np.r_[np.zeros(80), np.arange(20.0)]  # pd.qcut would raise on the repeated edges
    b = np.r_[np.zeros(70), np.arange(30.0)]
    assert np.isfinite(mutual_information_quartiles(a, b)) and mutual_information_quartiles(a, b) >= 0
