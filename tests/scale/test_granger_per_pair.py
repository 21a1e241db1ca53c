"""Per-pair Granger lag order (``[granger] lag_order = "per_pair"``, issue 13): min p over the orders, Bonferroni.

Checked against statsmodels on sampled pairs (independent code), for size on pure-null data (a property: the
share of null pairs kept must not exceed alpha beyond binomial noise) and on a planted lag beyond the median-p l*.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.tsa.stattools import grangercausalitytests

from volts.core.config import Settings
from volts.selection.causality.granger import granger_scan
from volts.selection.causality.granger_select import select_granger_pairs


def _market(n_names: int, n: int, planted: dict[tuple[int, int], int], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_names))
    for (a, b), lag in planted.items():
        x[lag:, b] += 0.7 * x[:-lag, a]
    return pd.DataFrame(x, columns=[f"S{k}" for k in range(n_names)], index=pd.bdate_range("2022-01-03", periods=n))


@pytest.mark.parametrize("sample", ["common", "per_lag"])
def test_per_pair_p_is_bonferroni_of_statsmodels_min_p(sample):
    frame = _market(6, 151, {(0, 1): 4, (2, 3): 1}, seed=11)
    scan = granger_scan(frame, min_lag=2, max_lag=20, sample=sample)
    sel = select_granger_pairs(scan, alpha=0.01, lag_order="per_pair")
    lags = list(scan.evaluated_lags)
    top = max(lags)
    tests = {(t.leader, t.follower): t for t in sel.tests}
    for leader, follower in [("S0", "S1"), ("S2", "S3"), ("S4", "S5"), ("S1", "S0")]:
        data = frame[[follower, leader]].to_numpy()
        ref = []
        for l in lags:  # statsmodels on the scan's sample of each order
            rows = data[top - l :] if sample == "common" else data
            ref.append(grangercausalitytests(rows, [l])[l][0]["ssr_ftest"])
        p_ref = np.array([r[1] for r in ref])
        k = int(np.argmin(p_ref))
        t = tests[(leader, follower)]
        assert t.lag == lags[k] and t.p_min == pytest.approx(p_ref[k], abs=1e-9, rel=1e-7)
        assert t.p == pytest.approx(min(1.0, len(lags) * p_ref[k]), abs=1e-9, rel=1e-7)
        assert t.f == pytest.approx(ref[k][0], rel=1e-8)
    assert tests[("S0", "S1")].lag == 4 and tests[("S0", "S1")].p < 1e-6  # the planted order


def test_per_pair_size_on_null_pairs_is_at_most_alpha():
    """40 independent names = 1560 null ordered pairs: the kept share must not exceed alpha (Bonferroni's bound)
    beyond a one-sided binomial 99.9 % margin; the paper's rule is at about alpha on the same data."""
    frame = _market(40, 151, {}, seed=5)
    scan = granger_scan(frame, min_lag=2, max_lag=46, sample="common")
    alpha = 0.05
    n_pairs = len(scan.pvalues)
    limit = stats.binom.ppf(0.999, n_pairs, alpha) / n_pairs
    per_pair = select_granger_pairs(scan, alpha=alpha, lag_order="per_pair")
    assert len(per_pair.pairs) / n_pairs <= limit
    median = select_granger_pairs(scan, alpha=alpha)
    assert len(median.pairs) / n_pairs <= limit


def test_per_pair_finds_a_lag_beyond_the_median_p_order_and_is_off_by_default():
    # 30 null names and one pair at lag 5: l* of the median rule lands below 5 and loses it
    frame = _market(30, 151, {(0, 1): 5}, seed=2)
    scan = granger_scan(frame, min_lag=2, max_lag=46, sample="common")
    median = select_granger_pairs(scan, alpha=0.01)
    per_pair = select_granger_pairs(scan, alpha=0.01, lag_order="per_pair")
    kept = {(t.leader, t.follower): t for t in per_pair.pairs}
    assert ("S0", "S1") in kept and kept[("S0", "S1")].lag == 5
    if median.lag < 5:
        assert ("S0", "S1") not in {(t.leader, t.follower) for t in median.pairs}
    assert Settings().granger.lag_order == "median_p"
    assert "lag" not in median.to_dict()["tests"][0] and "lag_order" not in median.to_dict()
    with pytest.raises(ValueError, match="lag_order"):
        select_granger_pairs(scan, lag_order="aic")
