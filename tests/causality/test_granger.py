"""Batched Granger scan (METHOD.md §4a) against statsmodels, the l* / alpha / BH rules, the df guard, and a
planted lead-lag system."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.stattools import adfuller, grangercausalitytests

from volts.core.errors import DataError
from volts.selection.causality.granger import GrangerScan, granger_scan
from volts.selection.causality.granger_select import select_granger_pairs
from volts.selection.causality.stationarity import adf_check, stationarity_warning

TRAIN = ("2022-11-01", "2023-06-08")
SYMBOLS = ["TSLA", "AMZN", "META", "MU"]
CHECK_LAGS = [2, 3, 10, 30, 45]  # 2, 3, 10 take the R^m projection path, 30 and 45 the complement path


@pytest.fixture(scope="module")
def train_market(paper_market):
    return paper_market.slice(*TRAIN).select(SYMBOLS)


@pytest.mark.parametrize("series", ["close", "log_return"])
def test_pvalues_equal_statsmodels_on_reference_data(train_market, series):
    frame = train_market.close if series == "close" else train_market.log_returns()
    assert 145 <= len(frame) <= 155
    scan = granger_scan(frame, min_lag=2, max_lag=max(CHECK_LAGS))
    assert len(scan.pairs) == len(SYMBOLS) * (len(SYMBOLS) - 1)
    for leader, follower in scan.pairs:
        data = frame[[follower, leader]].to_numpy()  # statsmodels: does column 2 cause column 1?
        for l in CHECK_LAGS:
            f_ref, p_ref, df_ref, dfn_ref = grangercausalitytests(data, [l])[l][0]["ssr_ftest"]
            assert scan.pvalues.loc[(leader, follower), l] == pytest.approx(p_ref, abs=1e-9, rel=0)
            assert scan.fstats.loc[(leader, follower), l] == pytest.approx(f_ref, rel=1e-9)
            assert scan.df_resid[l] == df_ref and dfn_ref == l


def test_symbol_order_does_not_change_the_tests(train_market):
    frame = train_market.log_returns()
    a = granger_scan(frame, min_lag=2, max_lag=6)
    b = granger_scan(frame[SYMBOLS[::-1]], min_lag=2, max_lag=6)
    pd.testing.assert_frame_equal(a.pvalues, b.pvalues.loc[a.pvalues.index], rtol=1e-10, atol=1e-12)


def _hand_scan(table: dict[tuple[str, str], list[float]], lags: list[int], skipped=()) -> GrangerScan:
    index = pd.MultiIndex.from_tuples(list(table), names=["leader", "follower"])
    p = pd.DataFrame([table[k] for k in table], index=index, columns=pd.Index(lags, name="lag"))
    evaluated = [l for l in lags if l not in skipped]
    return GrangerScan(
        pvalues=p,
        fstats=p * 0 + 1.0,
        df_resid={l: 100 for l in evaluated},
        skipped_lags=tuple(skipped),
        n_obs=151,
        n_tests=len(table) * len(evaluated),
        symbols=("A", "B", "C"),
        min_df=10,
        start="x",
        end="y",
    )


def test_lag_rule_and_alpha_cut_on_a_hand_made_table():
    lags = [2, 3, 4, 5]
    # medians per lag: l=2 -> 0.30, l=3 -> 0.03, l=4 -> 0.03 (tie with 3), l=5 -> skipped (would be 0.0001)
    table = {
        ("A", "B"): [0.30, 0.001, 0.050, 1e-4],
        ("B", "A"): [0.20, 0.010, 0.010, 1e-4],  # exactly alpha at l* = 3: not kept (strict <)
        ("A", "C"): [0.90, 0.050, 0.500, 1e-4],
        ("C", "A"): [0.40, 0.009, 0.002, 1e-4],
        ("B", "C"): [0.30, 0.600, 0.700, 1e-4],
        ("C", "B"): [0.25, 0.800, 0.001, 1e-4],
    }
    scan = _hand_scan(table, lags, skipped=(5,))
    sel = select_granger_pairs(scan, alpha=0.01)
    medians = {l: float(np.median([v[i] for v in table.values()])) for i, l in enumerate(lags[:3])}
    assert medians[3] == medians[4] < medians[2]
    assert sel.lag == 3  # tie between 3 and 4 -> the smaller l; 5 was skipped
    assert dict(sel.median_p) == pytest.approx(medians)
    assert [(t.leader, t.follower) for t in sel.pairs] == [("A", "B"), ("C", "A")]
    assert [t.p for t in sel.pairs] == [0.001, 0.009]
    assert len(sel.tests) == len(table) and sel.n_tests == 6 * 3
    out = sel.to_dict()
    json.dumps(out)
    assert out["lag"] == 3 and {"leader", "follower", "p"} <= set(out["tests"][0])


def _bh_reference(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values written out directly: q_(i) = min_{j >= i} p_(j) m / j."""
    m = len(p)
    order = np.argsort(p)
    q_sorted = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(q_sorted[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def test_bh_adjustment_matches_an_independent_computation():
    rng = np.random.default_rng(7)
    names = list("ABCDE")
    pairs = [(a, b) for a in names for b in names if a != b]
    p = np.concatenate([rng.uniform(0, 1e-3, 5), rng.uniform(0, 1, len(pairs) - 5)])
    scan = _hand_scan({k: [v] for k, v in zip(pairs, p)}, [7])
    sel = select_granger_pairs(scan, alpha=0.05)
    np.testing.assert_allclose([t.p_bh for t in sel.tests], _bh_reference(p), rtol=1e-12)
    assert all(t.p_bh >= t.p for t in sel.tests)


def test_df_guard_skips_exactly_the_lags_without_enough_residual_df():
    rng = np.random.default_rng(1)
    n, min_df = 60, 10
    frame = pd.DataFrame(
        rng.normal(size=(n, 3)), columns=["X", "Y", "Z"], index=pd.bdate_range("2023-01-02", periods=n)
    )
    scan = granger_scan(frame, min_lag=2, max_lag=20, min_df=min_df)
    # unrestricted regression at lag l: n_obs = n - l rows, 2 l + 1 parameters
    expected_skipped = [l for l in range(2, 21) if (n - l) - (2 * l + 1) < min_df]
    assert expected_skipped and expected_skipped[0] > 2
    assert list(scan.skipped_lags) == expected_skipped
    assert list(scan.evaluated_lags) == [l for l in range(2, 21) if l not in expected_skipped]
    assert scan.pvalues[expected_skipped].isna().all().all()
    assert scan.pvalues[list(scan.evaluated_lags)].notna().all().all()
    assert scan.df_resid == {l: n - 3 * l - 1 for l in scan.evaluated_lags}
    assert scan.n_tests == 6 * len(scan.evaluated_lags)
    d = scan.to_dict()
    json.dumps(d)
    assert d["tests"][0]["p"][d["lags"].index(expected_skipped[0])] is None
    row = scan.pvalues.loc[(d["tests"][0]["leader"], d["tests"][0]["follower"])]
    assert [p for p in d["tests"][0]["p"] if p is not None] == [float(p) for p in row.dropna()]
    summary = scan.to_dict(tests=False)  # what a large selection keeps (the table goes to Parquet)
    assert "tests" not in summary and summary == {k: v for k, v in d.items() if k != "tests"}
    # the last evaluated lag agrees with statsmodels too (few residual df)
    l = scan.evaluated_lags[-1]
    ref = grangercausalitytests(frame[["Y", "X"]].to_numpy(), [l])[l][0]["ssr_ftest"][1]
    assert scan.pvalues.loc[("X", "Y"), l] == pytest.approx(ref, abs=1e-9)


def test_planted_lead_lag_is_found_and_nothing_else():
    rng = np.random.default_rng(2024)
    n = 300
    x = rng.normal(size=n)
    y = np.empty(n)
    y[:2] = rng.normal(size=2)
    y[2:] = 0.8 * x[:-2] + 0.6 * rng.normal(size=n - 2)  # X_t -> Y_{t+2}
    z = rng.normal(size=n)  # independent
    frame = pd.DataFrame({"X": x, "Y": y, "Z": z}, index=pd.bdate_range("2022-01-03", periods=n))
    scan = granger_scan(frame, min_lag=2, max_lag=6)
    assert (scan.pvalues.loc[("X", "Y")] < 1e-20).all()
    for pair in [("Y", "X"), ("X", "Z"), ("Z", "X"), ("Y", "Z"), ("Z", "Y")]:
        assert (scan.pvalues.loc[pair] > 1e-3).all(), pair
    sel = select_granger_pairs(scan, alpha=1e-3)
    assert [(t.leader, t.follower) for t in sel.pairs] == [("X", "Y")]


@pytest.mark.parametrize("case", ["one_symbol", "nan", "short", "constant", "duplicate"])
def test_degenerate_input_raises_data_error(case):
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2023-01-02", periods=40)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["A", "B", "C"], index=idx)
    kwargs = {}
    if case == "one_symbol":
        frame, match = frame[["A"]], "at least 2 symbols"
    elif case == "nan":
        frame.iloc[5, 1] = np.nan
        match = "B has a NaN.*2023-01-09"
    elif case == "short":
        kwargs, match = {"min_lag": 10}, "too few for lag order 10"
    elif case == "constant":
        frame["C"] = 3.0
        match = "C is constant"
    else:
        frame.columns = ["A", "B", "A"]
        match = "duplicate"
    with pytest.raises(DataError, match=match):
        granger_scan(frame, **kwargs)


def test_collinear_leader_raises_data_error():
    rng = np.random.default_rng(4)
    a = rng.normal(size=80)
    frame = pd.DataFrame({"A": a, "B": 2.0 * a + 1.0, "C": rng.normal(size=80)})
    with pytest.raises(DataError, match="collinear"):
        granger_scan(frame, min_lag=2, max_lag=3)


def test_adf_check_matches_statsmodels_and_warning_text(train_market):
    close = train_market.close
    p = adf_check(close)
    assert list(p) == SYMBOLS
    for s in SYMBOLS:
        assert p[s] == pytest.approx(adfuller(close[s].to_numpy(), autolag="AIC", result_object=False)[1], abs=1e-12)
    warn = stationarity_warning({"A": 0.6, "B": 0.01}, series="close", alpha=0.05)
    assert warn is not None and "A (p=0.600)" in warn and "B" not in warn.split("for ")[1].split(";")[0]
    assert "bias" in warn
    assert stationarity_warning({"A": 0.001, "B": 0.01}, series="close", alpha=0.05) is None
    note = stationarity_warning({"A": 0.5}, series="log_return")
    assert note is not None and "A (p=0.500)" in note and "levels" not in note


@pytest.mark.parametrize("kind", ["random_walk", "ar1", "gbm_prices", "i2_plus_noise"])
def test_adf_p_value_equals_statsmodels_adfuller_on_many_series(kind):
    """volts' ADF (one QR for the AIC lag search) gives ``adfuller(autolag="AIC")``'s p-value on series of every
    length from 12 to 400 days, stationary and not."""
    from volts.selection.causality.stationarity import _adf_pvalue

    rng = np.random.default_rng(["random_walk", "ar1", "gbm_prices", "i2_plus_noise"].index(kind))
    for _ in range(60):
        n = int(rng.integers(12, 400))
        e = rng.normal(size=n)
        if kind == "random_walk":
            x = 100 + np.cumsum(e)
        elif kind == "ar1":
            x = np.zeros(n)
            for t in range(1, n):
                x[t] = 0.7 * x[t - 1] + e[t]
        elif kind == "gbm_prices":
            x = 50 * np.exp(np.cumsum(0.02 * e))
        else:
            x = 0.01 * np.cumsum(np.cumsum(e)) + e
        assert _adf_pvalue(x) == pytest.approx(adfuller(x, autolag="AIC", result_object=False)[1], abs=1e-9), n
    with pytest.raises(ValueError, match="too short"):  # statsmodels' own rule and message, below 4 days
        _adf_pvalue(np.array([1.0, 3.0, 2.0]))


def test_granger_figure_is_written(tmp_path, train_market):
    from volts.reporting.figures.causality import plot_granger_pvalues

    scan = granger_scan(train_market.log_returns(), min_lag=2, max_lag=12)
    sel = select_granger_pairs(scan, alpha=0.01)
    out = plot_granger_pvalues(scan, sel, tmp_path / "granger.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError):
        plot_granger_pvalues(scan, sel, tmp_path / "x.png", pairs=[("TSLA", "NOPE")])


def test_select_on_bh_keeps_the_pairs_whose_adjusted_p_is_below_alpha():
    rng = np.random.default_rng(9)
    names = list("ABCDE")
    pairs = [(a, b) for a in names for b in names if a != b]
    p = np.concatenate([rng.uniform(0, 2e-3, 4), rng.uniform(0.003, 0.009, 4), rng.uniform(0, 1, len(pairs) - 8)])
    scan = _hand_scan({k: [v] for k, v in zip(pairs, p)}, [7])
    naive = select_granger_pairs(scan, alpha=0.01)
    bh = select_granger_pairs(scan, alpha=0.01, select_on="p_bh")
    q = _bh_reference(p)
    assert [(t.leader, t.follower) for t in bh.pairs] == [k for k, qi in zip(pairs, q) if qi < 0.01]
    assert set(t.leader + t.follower for t in bh.pairs) <= set(t.leader + t.follower for t in naive.pairs)
    assert len(bh.pairs) < len(naive.pairs)  # the planted 0.003..0.009 band passes naively, not after BH
    assert bh.to_dict()["select_on"] == "p_bh" and naive.to_dict()["select_on"] == "p"
    with pytest.raises(ValueError, match="select_on"):
        select_granger_pairs(scan, alpha=0.01, select_on="q")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["min_df_binds", "random_walk_levels", "constant_ish", "near_collinear"])
def test_per_lag_scan_equals_statsmodels_on_edge_cases(case):
    """Every ordered pair and lag order of the per-lag scan against ``grangercausalitytests`` on random universes:
    the df guard binding (40 rows), price levels, a near-constant series (a stale quote moving on 12 of 151 days
    by 1e-6) and nearly collinear leaders. Both of the scan's paths (projection in R^m for small l, complement
    coordinates for large l) are crossed in each case with enough rows."""
    rng = np.random.default_rng(["min_df_binds", "random_walk_levels", "constant_ish", "near_collinear"].index(case))
    n, N, max_lag = 151, 4, 48
    values = rng.normal(size=(n, N))
    if case == "min_df_binds":
        n = 40
        values = values[:n]
    elif case == "random_walk_levels":
        values = 100 + np.cumsum(values, axis=0)
    elif case == "constant_ish":
        steps = np.zeros(n)
        steps[rng.choice(n, size=12, replace=False)] = rng.normal(size=12) * 1e-6
        values[:, 3] = 3.0 + np.cumsum(steps)
    else:
        values[:, 1] = values[:, 0] + 1e-3 * rng.normal(size=n)
        max_lag = 20
    frame = pd.DataFrame(values, columns=[f"S{k}" for k in range(N)], index=pd.bdate_range("2022-01-03", periods=n))
    scan = granger_scan(frame, min_lag=1, max_lag=max_lag)
    if case == "min_df_binds":
        assert scan.evaluated_lags == tuple(range(1, 10))
    # statsmodels fits the raw columns with a pseudo-inverse, which loses digits on 3.0 + 1e-6 steps; the test is
    # invariant to an affine map of each series, so that case's reference gets the standardised series. The scan
    # also works on the raw columns (Householder QR of [lags | 1]; kept so that the reproduction's p-values stay
    # as they are): on that series it keeps about 6 digits, hence the wider tolerance there.
    ref = (frame - frame.mean()) / frame.std() if case == "constant_ish" else frame
    tol = {"near_collinear": 1e-7, "constant_ish": 1e-6}.get(case, 1e-9)
    for leader, follower in scan.pairs:
        data = ref[[follower, leader]].to_numpy()
        for l in scan.evaluated_lags:
            f_ref, p_ref, df_ref, _ = grangercausalitytests(data, [l])[l][0]["ssr_ftest"]
            assert scan.pvalues.loc[(leader, follower), l] == pytest.approx(p_ref, abs=tol, rel=0), (
                leader,
                follower,
                l,
            )
            assert scan.fstats.loc[(leader, follower), l] == pytest.approx(f_ref, rel=1e-6, abs=10 * tol)
            assert scan.df_resid[l] == df_ref
