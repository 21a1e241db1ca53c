"""PCMCI / ParCorr screen (METHOD.md §4b): equality with a direct tigramite call, a planted lagged system, and the
contemporaneous mode against an independent residual-correlation computation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from volts.selection.causality.pcmci import pcmci_screen
from volts.core.errors import DataError

TRAIN = ("2022-11-01", "2023-06-08")
MID = ["TSLA", "AMZN", "META", "MU", "QCOM", "INTC"]


@pytest.fixture(scope="module")
def mid_returns(paper_market):
    return paper_market.slice(*TRAIN).select(MID).log_returns()


def test_lagged_mode_equals_a_direct_tigramite_call(mid_returns):
    import tigramite.data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    res = pcmci_screen(mid_returns, tau_max=5, alpha=0.05, min_abs_partial_corr=0.15)
    direct = PCMCI(
        dataframe=pp.DataFrame(mid_returns.to_numpy(), var_names=MID), cond_ind_test=ParCorr(), verbosity=0
    ).run_pcmci(tau_min=1, tau_max=5, pc_alpha=0.05)
    assert res.val_matrix.shape == (6, 6, 6) and res.var_names == tuple(MID)
    np.testing.assert_allclose(res.val_matrix, direct["val_matrix"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.p_matrix, direct["p_matrix"], rtol=0, atol=1e-12)
    # the edge rule, recomputed from tigramite's matrices: strongest qualifying tau per ordered pair
    expected = {}
    for i, a in enumerate(MID):
        for j, b in enumerate(MID):
            if i == j:
                continue
            ok = [
                (abs(direct["val_matrix"][i, j, t]), t)
                for t in range(1, 6)
                if direct["p_matrix"][i, j, t] <= 0.05 and abs(direct["val_matrix"][i, j, t]) >= 0.15
            ]
            if ok:
                expected[(a, b)] = max(ok)[1]
    assert {(e.leader, e.follower): e.tau for e in res.edges} == expected
    for (a, b), tau in expected.items():
        e = res.edge(a, b)
        assert res.has_edge(a, b) and e.value == direct["val_matrix"][MID.index(a), MID.index(b), tau]
    json.dumps(res.to_dict())


def _planted(n=500, seed=11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b, c, d = (rng.normal(size=n) for _ in range(4))
    b[1:] += 0.6 * a[:-1]  # A -> B at tau = 1
    d[3:] += 0.6 * c[:-3]  # C -> D at tau = 3
    return pd.DataFrame({"A": a, "B": b, "C": c, "D": d}, index=pd.bdate_range("2020-01-01", periods=n))


def test_planted_lagged_links_are_found_and_independent_series_stay_unlinked():
    res = pcmci_screen(_planted(), tau_max=5, alpha=0.05, min_abs_partial_corr=0.15)
    ab, cd = res.edge("A", "B"), res.edge("C", "D")
    assert ab is not None and ab.tau == 1 and ab.value > 0.3 and ab.p < 1e-10
    assert cd is not None and cd.tau == 3 and cd.value > 0.3 and cd.p < 1e-10
    for x in "AB":
        for y in "CD":
            assert not res.has_edge(x, y) and not res.has_edge(y, x), (x, y)
    assert not res.has_edge("B", "A") and not res.has_edge("D", "C")


def _residual_partial_corr(frame: pd.DataFrame, a: str, b: str) -> tuple[float, float]:
    """Correlation of the OLS residuals of a and b on [1, all other columns], with its t-test p-value."""
    others = [c for c in frame.columns if c not in (a, b)]
    Z = np.column_stack([np.ones(len(frame)), frame[others].to_numpy()])
    ra = frame[a].to_numpy() - Z @ np.linalg.lstsq(Z, frame[a].to_numpy(), rcond=None)[0]
    rb = frame[b].to_numpy() - Z @ np.linalg.lstsq(Z, frame[b].to_numpy(), rcond=None)[0]
    r = float(np.corrcoef(ra, rb)[0, 1])
    dof = len(frame) - 2 - len(others)
    t = r * np.sqrt(dof / (1 - r * r))
    return r, float(2 * stats.t.sf(abs(t), dof))


def test_contemporaneous_mode_equals_residual_correlations(mid_returns):
    res = pcmci_screen(mid_returns, tau_max=5, alpha=0.05, min_abs_partial_corr=0.15, mode="contemporaneous")
    assert res.val_matrix.shape == (6, 6, 6)
    assert not res.val_matrix[:, :, 1:].any() and (res.p_matrix[:, :, 1:] == 1).all()
    expected_edges = set()
    for i, a in enumerate(MID):
        for j, b in enumerate(MID):
            if i == j:
                continue
            r, p = _residual_partial_corr(mid_returns, a, b)
            assert res.val_matrix[i, j, 0] == pytest.approx(r, abs=1e-10)
            assert res.p_matrix[i, j, 0] == pytest.approx(p, abs=1e-10, rel=1e-8)
            if p <= 0.05 and abs(r) >= 0.15:
                expected_edges.add((a, b))
    got = {(e.leader, e.follower) for e in res.edges}
    assert got == expected_edges and all(e.tau == 0 for e in res.edges)
    assert got == {(b, a) for a, b in got}  # symmetric: both directions
    json.dumps(res.to_dict())


def test_pcmci_figure_and_errors(tmp_path):
    from volts.reporting.figures.causality import plot_pcmci_graph

    res = pcmci_screen(_planted(n=200), tau_max=3)
    out = plot_pcmci_graph(res, tmp_path / "pcmci.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError):
        res.has_edge("A", "NOPE")
    with pytest.raises(DataError, match="too few"):  # (N + 1) tau_max + 3 = 28 rows needed
        pcmci_screen(_planted(n=27), tau_max=5)
    pcmci_screen(_planted(n=28), tau_max=5)
    frame = _planted(n=30)
    frame.iloc[3, 2] = np.nan
    with pytest.raises(DataError, match="C has a NaN"):
        pcmci_screen(frame)
    with pytest.raises(ValueError):
        pcmci_screen(_planted(n=100), mode="instant")


def test_edge_lookup_is_the_first_listed_edge_of_the_pair():
    """``edge`` answers from an index built once (a scan per lookup was quadratic on the S&P crash weeks): for every
    ordered pair of a screened system it returns what a scan of ``edges`` returns, the first edge when a pair is
    listed twice, None for a pair without an edge, and KeyError for a symbol that was not screened."""
    from dataclasses import replace

    from volts.selection.causality.pcmci import PcmciEdge

    res = pcmci_screen(_planted(n=200), tau_max=3)
    assert res.edges
    names = list(res.var_names)

    def scan(r, a, b):
        return next((e for e in r.edges if e.leader == a and e.follower == b), None)

    for a in names:
        for b in names:
            if a != b:
                assert res.edge(a, b) is scan(res, a, b)
    first = res.edges[0]
    twice = replace(
        res, edges=(first, PcmciEdge(first.leader, first.follower, first.tau + 1, 0.9, 0.0), *res.edges[1:])
    )
    assert twice.edge(first.leader, first.follower) is first
    missing = next((a, b) for a in names for b in names if a != b and scan(res, a, b) is None)
    assert res.edge(*missing) is None and not res.has_edge(*missing)
    with pytest.raises(KeyError, match="NOPE"):
        res.edge("NOPE", names[0])


def test_parcorr_statistic_is_scipys_pearsonr_bitwise():
    """PCMCI's ParCorr takes the correlation of the residuals with volts' ``_pearson_r`` instead of
    ``scipy.stats.pearsonr`` (the same arithmetic without ~1 ms of input handling per call): identical floats on
    random samples of many lengths and correlations, NaN on a constant side."""
    from volts.selection.causality.pcmci import _pearson_r

    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(3, 400))
        x = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)
        y = rng.uniform(-1, 1) * x + rng.normal(size=n)
        assert _pearson_r(x, y) == stats.pearsonr(x, y)[0]
    assert np.isnan(_pearson_r(np.ones(10), rng.normal(size=10)))


def test_parcorr_p_value_is_tigramites_bitwise():
    """The p-value of volts' ParCorr subclass is tigramite's ``ParCorr.get_analytic_significance`` (which calls
    ``scipy.stats.t.sf``), float for float, including its NaN and |r| = 1 edge cases."""
    from tigramite.independence_tests.parcorr import ParCorr

    from volts.selection.causality.pcmci import _parcorr

    ours, ref = _parcorr(), ParCorr()
    rng = np.random.default_rng(8)
    for _ in range(2000):
        r = float(rng.uniform(-1, 1)) ** int(rng.integers(1, 8))
        T, dim = int(rng.integers(5, 500)), int(rng.integers(2, 12))
        a, b = ours.get_analytic_significance(r, T, dim, None), ref.get_analytic_significance(r, T, dim, None)
        assert a == b or (np.isnan(a) and np.isnan(b)), (r, T, dim, a, b)
    assert ours.get_analytic_significance(1.0, 100, 3, None) == ref.get_analytic_significance(1.0, 100, 3, None) == 0
    assert np.isnan(ours.get_analytic_significance(0.3, 3, 3, None))


def _direct_tigramite(values: np.ndarray, tau_max: int, pc_alpha: float):
    import warnings

    import tigramite.data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pcmci = PCMCI(dataframe=pp.DataFrame(values), cond_ind_test=ParCorr(), verbosity=0)
        out = pcmci.run_pcmci(tau_min=1, tau_max=tau_max, pc_alpha=pc_alpha)
    return out["val_matrix"], out["p_matrix"]


@pytest.mark.slow
def test_native_pcmci_equals_tigramite_on_random_systems():
    """The native PCMCI (tigramite's algorithm and arithmetic without its per-test bookkeeping, the default engine)
    against tigramite's own PCMCI + ParCorr on random coupled systems: heavy-tailed noise, random chains of lagged
    links, 2..9 series, tau_max 1..5, rows from the minimum (N + 1) tau_max + 3 to 250, pc_alpha 0.01 / 0.05 /
    0.2. Every value and p-value of the MCI step must be the same float; since each MCI test conditions on the
    PC1 parent sets, a different path through PC1 would show too. Plus two corner cases of tigramite's test: a
    series that is exactly constant over some lagged rows (dropped from the conditions; a constant X or Y gives
    value 0, p = 1), and too few rows for the conditions (p = NaN: the link is removed in PC1)."""
    from volts.selection.causality.pcmci import _native_pcmci

    def same(a, b):
        return np.array_equal(a, b, equal_nan=True)

    rng = np.random.default_rng(20261130)
    for _ in range(14):
        N, tau = int(rng.integers(2, 10)), int(rng.integers(1, 6))
        n = int(rng.integers((N + 1) * tau + 3, 250))
        x = rng.standard_t(4, size=(n, N))
        for k in range(1, N):
            lag = int(rng.integers(1, tau + 1))
            x[lag:, k] += rng.uniform(-0.7, 0.7) * x[:-lag, k - 1]
        alpha = float(rng.choice([0.01, 0.05, 0.2]))
        val, p = _native_pcmci(x, tau, alpha)
        ref_val, ref_p = _direct_tigramite(x, tau, alpha)
        assert same(val, ref_val) and same(p, ref_p), (N, tau, n, alpha)
    # a series constant over its first 60 rows: its lags are constant over some test rows
    x = rng.normal(size=(120, 4))
    x[:60, 2] = 0.0
    x[1:, 3] += 0.5 * x[:-1, 0]
    for tau in (2, 5):
        val, p = _native_pcmci(x[50:], tau, 0.05)  # rows 0..9 of column 2 constant: not every lag is
        ref_val, ref_p = _direct_tigramite(x[50:], tau, 0.05)
        assert same(val, ref_val) and same(p, ref_p)
    # few rows: some conditioning sets leave no degrees of freedom
    x = rng.normal(size=(16, 3))
    val, p = _native_pcmci(x, 3, 0.5)
    ref_val, ref_p = _direct_tigramite(x, 3, 0.5)
    assert same(val, ref_val) and same(p, ref_p)


def test_both_engines_give_the_same_screen(mid_returns):
    """``engine="tigramite"`` (tigramite's PCMCI with volts' ParCorr subclass) and the default native engine give
    the same matrices, float for float, and the same edges on the reference window; an unknown engine is an
    error."""
    native = pcmci_screen(mid_returns, tau_max=5, alpha=0.05)
    ref = pcmci_screen(mid_returns, tau_max=5, alpha=0.05, engine="tigramite")
    assert np.array_equal(native.val_matrix, ref.val_matrix) and np.array_equal(native.p_matrix, ref.p_matrix)
    assert [(e.leader, e.follower, e.tau) for e in native.edges] == [(e.leader, e.follower, e.tau) for e in ref.edges]
    assert native.edges  # the window has edges to compare
    with pytest.raises(ValueError, match="engine"):
        pcmci_screen(mid_returns, engine="fast")
