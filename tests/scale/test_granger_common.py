"""The common-sample Granger scan (issue 13) against statsmodels on the same sample, and against the per-lag scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.stattools import grangercausalitytests

from volts.causality.granger import granger_scan
from volts.errors import DataError

TRAIN = ("2022-11-01", "2023-06-08")
SYMBOLS = ["TSLA", "AMZN", "META", "MU", "IBM"]


@pytest.fixture(scope="module")
def train_market(paper_market):
    return paper_market.slice(*TRAIN).select(SYMBOLS)


@pytest.mark.parametrize("series", ["close", "log_return"])
def test_common_sample_equals_statsmodels_on_that_sample(train_market, series):
    frame = train_market.close if series == "close" else train_market.log_returns()
    scan = granger_scan(frame, min_lag=2, max_lag=48, sample="common")
    top = max(scan.evaluated_lags)
    n = len(frame)
    assert n - top - 2 * top - 1 >= 10 and n - (top + 1) - 2 * (top + 1) - 1 < 10   # the df guard picks L
    for leader, follower in scan.pairs:
        data = frame[[follower, leader]].to_numpy()
        for l in (2, 3, 11, top):
            # statsmodels trims l rows from what it is given: start at row top - l so that its rows are top .. n-1
            f_ref, p_ref, df_ref, _ = grangercausalitytests(data[top - l:], [l])[l][0]["ssr_ftest"]
            assert scan.pvalues.loc[(leader, follower), l] == pytest.approx(p_ref, abs=1e-9, rel=0)
            assert scan.fstats.loc[(leader, follower), l] == pytest.approx(f_ref, rel=1e-8)
            assert scan.df_resid[l] == df_ref


def test_common_sample_at_the_largest_lag_is_the_per_lag_test(train_market):
    """At l = L both conventions use rows L .. n-1: the two algorithms must agree there (independent code)."""
    frame = train_market.log_returns()
    common = granger_scan(frame, min_lag=2, max_lag=48, sample="common")
    top = max(common.evaluated_lags)
    per_lag = granger_scan(frame, min_lag=top, max_lag=top)
    np.testing.assert_allclose(common.pvalues[top].to_numpy(), per_lag.pvalues[top].to_numpy(), atol=1e-10, rtol=0)


def test_common_sample_finds_a_planted_lag_and_rejects_bad_input():
    rng = np.random.default_rng(3)
    n = 151
    x = rng.normal(size=n)
    y = rng.normal(size=n)
    y[3:] += 0.7 * x[:-3]
    z = rng.normal(size=n)
    frame = pd.DataFrame({"X": x, "Y": y, "Z": z}, index=pd.bdate_range("2021-01-01", periods=n))
    scan = granger_scan(frame, min_lag=1, max_lag=10, sample="common")
    assert scan.pvalues.loc[("X", "Y"), 3] < 1e-10
    assert scan.pvalues.loc[("X", "Y"), 1] > 1e-3            # lag 1 alone does not reach x_{t-3}
    with pytest.raises(ValueError, match="sample"):
        granger_scan(frame, sample="pooled")
    frame["W"] = frame["X"]                                  # an exact copy: collinear leader lags
    with pytest.raises(DataError, match="collinear|exactly"):
        granger_scan(frame, min_lag=1, max_lag=5, sample="common")


def test_two_worker_dask_cluster_gives_the_same_scan():
    from volts.parallel import Executor

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(120, 12)), columns=[f"S{k}" for k in range(12)],
                         index=pd.bdate_range("2022-01-03", periods=120))
    here = granger_scan(frame, min_lag=2, max_lag=20, sample="common")
    with Executor(workers=2) as ex:
        there = granger_scan(frame, min_lag=2, max_lag=20, sample="common", executor=ex)
    pd.testing.assert_frame_equal(here.pvalues, there.pvalues, check_exact=True)
