"""The common-sample Granger scan (issue 13) against statsmodels on the same sample, and against the per-lag scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.stattools import grangercausalitytests

from volts.selection.causality.granger import granger_scan
from volts.core.errors import DataError

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
    assert n - top - 2 * top - 1 >= 10 and n - (top + 1) - 2 * (top + 1) - 1 < 10  # the df guard picks L
    for leader, follower in scan.pairs:
        data = frame[[follower, leader]].to_numpy()
        for l in (2, 3, 11, top):
            # statsmodels trims l rows from what it is given: start at row top - l so that its rows are top .. n-1
            f_ref, p_ref, df_ref, _ = grangercausalitytests(data[top - l :], [l])[l][0]["ssr_ftest"]
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
    assert scan.pvalues.loc[("X", "Y"), 1] > 1e-3  # lag 1 alone does not reach x_{t-3}
    with pytest.raises(ValueError, match="sample"):
        granger_scan(frame, sample="pooled")
    frame["W"] = frame["X"]  # an exact copy: collinear leader lags
    with pytest.raises(DataError, match="collinear|exactly"):
        granger_scan(frame, min_lag=1, max_lag=5, sample="common")


@pytest.mark.slow
def test_two_worker_dask_cluster_gives_the_same_scan():
    from volts.core.parallel import Executor

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        rng.normal(size=(120, 12)),
        columns=[f"S{k}" for k in range(12)],
        index=pd.bdate_range("2022-01-03", periods=120),
    )
    here = granger_scan(frame, min_lag=2, max_lag=20, sample="common")
    with Executor(workers=2) as ex:
        there = granger_scan(frame, min_lag=2, max_lag=20, sample="common", executor=ex)
    # Another process (a Dask worker) may load another BLAS kernel or thread count: the least-squares fits agree to
    # rounding, not bit for bit (1 of 132 p-values differed in its last bits on an AMD EPYC).
    pd.testing.assert_frame_equal(here.pvalues, there.pvalues, check_exact=False, rtol=1e-9, atol=1e-12)


def _statsmodels_common(frame: pd.DataFrame, leader: str, follower: str, l: int, top: int) -> tuple[float, float]:
    """statsmodels' ssr F-test of leader -> follower at lag order l on the common rows top .. n-1."""
    data = frame[[follower, leader]].to_numpy()
    f, p, _, _ = grangercausalitytests(data[top - l :], [l])[l][0]["ssr_ftest"]
    return f, p


def _edge_frame(case: str, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Random universes that stress the common-sample scan (see the test's cases)."""
    kwargs: dict = {"min_lag": 1, "max_lag": 48}
    if case == "min_df_binds":  # 40 rows: the df guard leaves lag orders 1 .. 9
        frame = pd.DataFrame(rng.normal(size=(40, 5)))
    elif case == "random_walk_levels":  # price levels, strongly autocorrelated columns
        frame = pd.DataFrame(100 + np.cumsum(rng.normal(size=(151, 6)), axis=0))
    elif case == "constant_ish":  # a stale quote: moves on 12 days out of 151, tiny scale
        steps = np.zeros(151)
        steps[rng.choice(151, size=12, replace=False)] = rng.normal(size=12) * 1e-6
        frame = pd.DataFrame(rng.normal(size=(151, 4)))
        frame[4] = 3.0 + np.cumsum(steps)
    elif case == "near_collinear":  # leader = follower + small noise (large but finite condition)
        x = rng.normal(size=151)
        frame = pd.DataFrame({0: x, 1: x + 1e-3 * rng.normal(size=151), 2: rng.normal(size=151)})
        kwargs = {"min_lag": 2, "max_lag": 20}
    else:  # "dependent_fits_given_other": X_t = Y_t + 0.5 X_{t-12} exactly
        y = rng.normal(size=151)
        x = y + rng.normal(size=151)
        for t in range(12, 151):
            x[t] = y[t] + 0.5 * x[t - 12]
        frame = pd.DataFrame({0: x, 1: y, 2: rng.normal(size=151)})
        kwargs = {"min_lag": 2, "max_lag": 12}
    frame.columns = [f"S{c}" for c in frame.columns]
    frame.index = pd.bdate_range("2022-01-03", periods=len(frame))
    return frame, kwargs


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["min_df_binds", "random_walk_levels", "constant_ish", "near_collinear", "dependent_fits_given_other"]
)
def test_common_sample_equals_statsmodels_on_edge_cases(case):
    """Every ordered pair and every evaluated lag order against statsmodels on the same rows, on universes that
    stress the one-factorisation-per-unordered-pair scan: the df guard binding, price levels, a near-constant
    series, nearly collinear leaders, and a dependent column fitted exactly by the design plus the *other*
    dependent column (X_t = Y_t + 0.5 X_{t-12}, scan up to 12: the joint factor's last pivot vanishes while both
    tests are well defined)."""
    rng = np.random.default_rng(
        ["min_df_binds", "random_walk_levels", "constant_ish", "near_collinear", "dependent_fits_given_other"].index(
            case
        )
        + 11
    )
    frame, kwargs = _edge_frame(case, rng)
    # The test is invariant to an affine map of each series (the constant is in both designs). statsmodels fits
    # the raw columns with a pseudo-inverse, which loses ~4 digits on 3.0 + 1e-6 steps (its p-value moves by
    # 3e-4 when the 3.0 is subtracted), so for that case it gets the standardised series.
    ref = (frame - frame.mean()) / frame.std() if case == "constant_ish" else frame
    # statsmodels' answer for (leader, follower, lag, top) does not depend on the column order of the scan: it is
    # computed once and both orders are held to it (the same reference numbers, half the statsmodels fits)
    refs: dict[tuple, tuple[float, float]] = {}
    for cols in (list(frame.columns), list(frame.columns)[::-1]):  # the series' order must not matter
        scan = granger_scan(frame[cols], sample="common", **kwargs)
        top = max(scan.evaluated_lags)
        if case == "min_df_binds":
            assert top == 9 and scan.skipped_lags == tuple(range(10, 49))
        tol = 1e-7 if case == "near_collinear" else 1e-9  # statsmodels itself is accurate to ~cond * eps there
        for leader, follower in scan.pairs:
            for l in scan.evaluated_lags:
                key = (leader, follower, l, top)
                if key not in refs:
                    refs[key] = _statsmodels_common(ref, leader, follower, l, top)
                f_ref, p_ref = refs[key]
                assert scan.pvalues.loc[(leader, follower), l] == pytest.approx(p_ref, abs=tol, rel=0), (
                    leader,
                    follower,
                    l,
                )
                assert scan.fstats.loc[(leader, follower), l] == pytest.approx(f_ref, rel=1e-6, abs=1e-9)


def test_common_sample_exact_fits_raise_data_error():
    rng = np.random.default_rng(21)
    y = rng.normal(size=120)
    x = np.r_[0.0, y[:-1]] * 2.0 + 1.0  # X_t = 2 Y_{t-1} + 1: X's lags are Y's lags shifted
    frame = pd.DataFrame({"X": x, "Y": y, "Z": rng.normal(size=120)})
    with pytest.raises(DataError, match="collinear"):
        granger_scan(frame, min_lag=2, max_lag=6, sample="common")
    frame = pd.DataFrame({"Y": y, "X": np.r_[0.0, y[:-1]], "Z": rng.normal(size=120)})
    frame.loc[0, "X"] = 5.0  # X_t = Y_{t-1} from t = 1: Y -> X fits exactly at l = 1
    with pytest.raises(DataError, match="fits exactly|collinear"):
        granger_scan(frame.iloc[1:], min_lag=1, max_lag=1, sample="common")


def test_common_sample_recomputes_the_second_direction_when_the_last_pivot_fails(monkeypatch):
    """LAPACK stops at the last pivot when dX_t is fitted exactly by the design and dY_t (rounding usually leaves
    a tiny positive pivot instead, as in the edge case above): force that report for some pairs and check that
    the Y -> X row is recomputed to the same tests."""
    import scipy.linalg.lapack as lapack

    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        rng.normal(size=(90, 5)), columns=[f"S{k}" for k in range(5)], index=pd.bdate_range("2022-01-03", periods=90)
    )
    expected = granger_scan(frame, min_lag=2, max_lag=12, sample="common")
    real = lapack.dpotrf
    calls = []

    def last_pivot_fails(a, **kwargs):
        c, info = real(a, **kwargs)
        calls.append(info)
        return c, (a.shape[0] if len(calls) % 3 == 1 else info)  # every third pair reports the last pivot

    monkeypatch.setattr(lapack, "dpotrf", last_pivot_fails)
    got = granger_scan(frame, min_lag=2, max_lag=12, sample="common")
    assert len(calls) == 10 and not any(calls)  # 10 unordered pairs, all factored
    pd.testing.assert_frame_equal(got.pvalues, expected.pvalues, rtol=1e-12, atol=1e-14)
