"""The PairScreen family (volts.selection.screens): p-values uniform on independent series (seeded KS checks), small on
planted pairs, scores equal to the all-pairs matrices, keep rules, the funnel's lag hand-over and the config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from volts.core.config import Settings, parse_settings
from volts.core.errors import ConfigError, DataError
from volts.selection.screens import SCREENS, make_screen, run_funnel
from volts.selection.screens.causal import GrangerScreen, PcmciScreen, TransferEntropyScreen
from volts.selection.leadlag import ccf_auc_matrix, ccf_lag1_matrix, cross_correlation, levy_area_matrix
from volts.selection.screens.base import register_screen
from volts.selection.screens.pairwise import (
    CcfAucScreen,
    CcfBestScreen,
    CcfLag1Screen,
    DistanceCorrelationScreen,
    LevyAreaScreen,
    MutualInformationScreen,
    PermutationScreen,
)

# the registry is the one list of screens: the tests read it
PERMUTATION_SCREENS = [cls for cls in SCREENS.values() if issubclass(cls, PermutationScreen)]


def _frame(values: np.ndarray, prefix: str = "S") -> pd.DataFrame:
    idx = pd.bdate_range("2021-01-04", periods=values.shape[0])
    return pd.DataFrame(values, index=idx, columns=[f"{prefix}{k}" for k in range(values.shape[1])])


def _independent(n_pairs: int, T: int, seed: int) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """2 n_pairs independent Student-t(5) series and disjoint pairs (S0 -> S1, S2 -> S3, ...)."""
    r = _frame(0.01 * np.random.default_rng(seed).standard_t(5, size=(T, 2 * n_pairs)))
    cols = list(r.columns)
    return r, [(cols[2 * k], cols[2 * k + 1]) for k in range(n_pairs)]


def _planted(n_pairs: int, T: int, seed: int, beta: float = 0.6, lag: int = 1):
    """Leader i.i.d. normal; follower_t = beta leader_{t-lag} + noise (unit variance); disjoint pairs."""
    rng = np.random.default_rng(seed)
    cols = []
    for _ in range(n_pairs):
        x = rng.normal(size=T + lag)
        y = beta * x[:T] + np.sqrt(1 - beta**2) * rng.normal(size=T)
        cols += [x[lag:], y]
    r = _frame(0.01 * np.column_stack(cols))
    names = list(r.columns)
    return r, [(names[2 * k], names[2 * k + 1]) for k in range(n_pairs)]


# ------------------------------------------------------------------------------------------ the registry
def test_every_registered_screen_is_built_from_the_settings_and_accepted_by_the_config():
    assert list(SCREENS)[:3] == ["granger", "pcmci", "transfer_entropy"]  # Vol-TS's funnel, the default
    assert {"levy_area", "distance_correlation", "ccf_lag1"} <= set(SCREENS)
    settings = Settings()
    for name, cls in SCREENS.items():
        screen = make_screen(name, settings)
        assert type(screen) is cls and screen.name == name and screen.rule == "test"
        s = parse_settings({"selection": {"screens": [name], "rules": {name: "top_k"}}})
        assert s.selection.screens == (name,) and make_screen(name, s).rule == "top_k"


def test_a_new_screen_is_one_decorated_class():
    """A screen defined anywhere with ``@register_screen`` is accepted by the config and built by make_screen,
    with no other list to edit; a second class cannot take a registered name."""
    from volts.selection.screens.base import SCREENS as registry

    before = dict(registry)
    try:

        @register_screen
        class MeanProductScreen(PermutationScreen):
            name = "mean_product_test_only"

            def pair_scores(self, x, y, ctx=None):
                fwd, rev = (x[:-1] * y[1:]).mean(axis=0), (y[:-1] * x[1:]).mean(axis=0)
                return fwd - rev, np.ones(x.shape[1], dtype=np.int64), {}

        s = parse_settings({"selection": {"screens": ["granger", "mean_product_test_only"]}})
        screen = make_screen("mean_product_test_only", s)
        assert isinstance(screen, MeanProductScreen) and screen.surrogates == s.screens.surrogates
        r, pairs = _planted(n_pairs=2, T=200, seed=5)
        assert screen.run(r, pairs).kept.all()  # a planted lag-1 leader
        with pytest.raises(ValueError, match="taken"):
            register_screen(type("Other", (PermutationScreen,), {"name": "mean_product_test_only"}))
        with pytest.raises(ValueError, match="own class attribute"):
            register_screen(type("Unnamed", (MeanProductScreen,), {}))
    finally:
        for name in set(registry) - set(before):
            registry.remove(name)
    with pytest.raises(ConfigError, match="unknown screen 'mean_product_test_only'"):
        parse_settings({"selection": {"screens": ["mean_product_test_only"]}})


# ------------------------------------------------------------------------ p-values under independence
@pytest.mark.slow
@pytest.mark.parametrize("cls", PERMUTATION_SCREENS, ids=lambda c: c.name)
def test_permutation_pvalues_are_uniform_on_independent_series(cls):
    n_pairs, T = (80, 150) if cls is DistanceCorrelationScreen else (150, 200)  # dCor is O(T^2) per pair
    r, pairs = _independent(n_pairs=n_pairs, T=T, seed=11)
    res = cls(surrogates=99, seed=3).run(r, pairs)
    ks = stats.kstest(res.p, "uniform")
    assert ks.pvalue > 0.01, (cls.name, ks)
    assert res.kept.sum() <= stats.binom.ppf(0.999, n_pairs, 0.05)  # kept at about the level alpha = 0.05


@pytest.mark.parametrize("cls", [CcfLag1Screen, LevyAreaScreen], ids=lambda c: c.name)
def test_shuffle_null_pvalues_are_uniform_too(cls):
    r, pairs = _independent(n_pairs=150, T=200, seed=12)
    res = cls(surrogates=99, seed=4, null="shuffle").run(r, pairs)
    assert stats.kstest(res.p, "uniform").pvalue > 0.01


def test_granger_pvalues_are_uniform_on_independent_returns():
    r, pairs = _independent(n_pairs=150, T=250, seed=13)
    res = GrangerScreen(series="log_return", min_lag=2, max_lag=2).run(r, pairs)
    assert res.lag.tolist() == [2] * 150
    assert stats.kstest(res.p, "uniform").pvalue > 0.01


def test_pcmci_pair_pvalues_are_uniform_on_independent_returns():
    r = _frame(0.01 * np.random.default_rng(14).standard_t(5, size=(400, 12)))
    pairs = [(a, b) for a in r.columns for b in r.columns if a != b]
    res = PcmciScreen(tau_max=3).run(r, pairs)
    assert stats.kstest(res.p, "uniform").pvalue > 0.01
    assert np.all(res.p >= res.extra["p_link"] - 1e-15)  # the Šidák p never undercuts the per-link p


def test_transfer_entropy_pvalues_are_uniform_on_independent_returns():
    r, pairs = _independent(n_pairs=150, T=250, seed=15)
    res = TransferEntropyScreen(surrogates=99).run(r, pairs)
    assert res.lag.tolist() == [1] * 150  # no earlier screen: lag 1
    assert stats.kstest(res.p, "uniform").pvalue > 0.01


# ------------------------------------------------------------------------------------ planted pairs
@pytest.mark.slow
@pytest.mark.parametrize("cls", PERMUTATION_SCREENS, ids=lambda c: c.name)
def test_permutation_pvalues_are_small_on_planted_pairs(cls):
    r, pairs = _planted(n_pairs=10, T=250, seed=21)
    res = cls(surrogates=99, seed=1).run(r, pairs)
    assert np.all(res.p <= 0.05) and np.all(res.score > 0) and res.kept.all(), res.to_frame()
    assert np.median(res.p) == 0.01  # the smallest p 99 surrogates can give
    reverse = cls(surrogates=99, seed=1).run(r, [(b, a) for a, b in pairs])
    assert np.all(reverse.score < 0) and not reverse.kept.any()


def test_ccf_best_finds_the_planted_delay():
    r, pairs = _planted(n_pairs=5, T=300, seed=22, lag=3)
    res = CcfBestScreen(max_lag=5, surrogates=49).run(r, pairs)
    assert res.lag.tolist() == [3] * 5 and res.kept.all()
    assert not CcfLag1Screen(surrogates=49).run(r, pairs).kept.any()  # lag 1 alone misses a delay of 3


def test_causal_screens_find_planted_pairs():
    r, pairs = _planted(n_pairs=4, T=250, seed=23)
    g = GrangerScreen(series="log_return", min_lag=1, max_lag=3).run(r, pairs)
    assert np.all(g.p < 1e-6) and g.kept.all()
    pc = PcmciScreen(tau_max=2).run(r, pairs)
    assert pc.kept.all() and pc.lag.tolist() == [1] * 4 and np.all(pc.p < 1e-6)
    te = TransferEntropyScreen(surrogates=99).run(r, pairs)
    assert np.all(te.p <= 0.02) and te.kept.all()


# --------------------------------------------------------------------------- scores = the matrices (A5)
def test_scores_equal_the_all_pairs_matrices():
    rng = np.random.default_rng(31)
    r = _frame(0.01 * rng.standard_t(5, size=(180, 5)))
    pairs = [(a, b) for a in r.columns for b in r.columns if a != b]
    v = r.to_numpy()
    z = (v - v.mean(0)) / v.std(0, ddof=1)
    names = {c: k for k, c in enumerate(r.columns)}

    def at(m):
        return lambda a, b: m[names[a], names[b]]

    levy = at(levy_area_matrix(np.vstack([np.zeros(v.shape[1]), z])))  # the screen's path: 0, then z-scores
    ccf1, auc = at(ccf_lag1_matrix(v)), at(ccf_auc_matrix(v, 4))
    dc, mi = cross_correlation(v, 1, "distance"), cross_correlation(v, 1, "mutual_information")
    kw = {"surrogates": 0}
    checks = [
        (LevyAreaScreen(**kw), levy),
        (CcfLag1Screen(**kw), ccf1),
        (CcfAucScreen(max_lag=4, **kw), auc),
        (DistanceCorrelationScreen(**kw), lambda a, b: at(dc)(a, b) - at(dc)(b, a)),
        (MutualInformationScreen(**kw), lambda a, b: at(mi)(a, b) - at(mi)(b, a)),
    ]
    for screen, ref in checks:
        res = screen.run(r, pairs)
        assert np.all(np.isnan(res.p)) and res.rule == "top_k"  # no test -> top-K rule
        np.testing.assert_allclose(res.score, [ref(a, b) for a, b in pairs], atol=1e-12, err_msg=screen.name)
    res = CcfAucScreen(max_lag=4, **kw).run(r, pairs)
    mags = np.abs(res.score)
    assert np.all((mags == 0) | (mags >= 0.5))
    mi_res = MutualInformationScreen(**kw).run(r, pairs)
    assert np.all(mi_res.extra["mi_forward"] >= 0)
    dc_res = DistanceCorrelationScreen(**kw).run(r, pairs)
    assert np.all((dc_res.extra["dcor_forward"] >= 0) & (dc_res.extra["dcor_forward"] <= 1))


def test_a_pairs_pvalue_does_not_depend_on_the_other_pairs():
    r, pairs = _independent(n_pairs=6, T=150, seed=32)
    full = LevyAreaScreen(surrogates=49, seed=7).run(r, pairs)
    alone = LevyAreaScreen(surrogates=49, seed=7).run(r, pairs[3:4])
    assert alone.p[0] == full.p[3] and alone.score[0] == full.score[3]


# ---------------------------------------------------------------------------------------- keep rules
def test_top_k_keeps_the_k_best_positive_scores():
    r, pairs = _planted(n_pairs=3, T=200, seed=41)
    both = pairs + [(b, a) for a, b in pairs]
    res = LevyAreaScreen(rule="top_k", top_k=2, surrogates=19).run(r, both)
    best = np.argsort(-res.score)[:2]
    assert set(np.flatnonzero(res.kept)) == set(best) and res.kept.sum() == 2 and res.top_k == 2
    res = LevyAreaScreen(rule="top_k", top_k=10, surrogates=0).run(r, both)
    assert res.kept.sum() == 3 and np.all(res.score[res.kept] > 0)  # negative scores are the other direction
    g = GrangerScreen(series="log_return", min_lag=1, max_lag=2, rule="top_k", top_k=1).run(r, both)
    assert g.kept.sum() == 1 and g.score[g.kept][0] == g.score.max()


def test_bad_input_is_named():
    r, pairs = _independent(n_pairs=2, T=100, seed=42)
    with pytest.raises(DataError, match="XYZ"):
        LevyAreaScreen().run(r, [("XYZ", "S1")])
    bad = r.copy()
    bad.iloc[10, 1] = np.nan
    with pytest.raises(DataError, match="S1 has a NaN"):
        LevyAreaScreen(surrogates=9).run(bad, pairs)
    with pytest.raises(ValueError, match="twice"):
        CcfLag1Screen().run(r, [pairs[0], pairs[0]])
    with pytest.raises(DataError, match="too few"):
        CcfBestScreen(max_lag=10).run(r.iloc[:20], pairs)


# ------------------------------------------------------------------------------------------ the funnel
def test_funnel_hands_delays_to_transfer_entropy():
    r, pairs = _planted(n_pairs=3, T=300, seed=51, lag=2)
    ccf, te = CcfBestScreen(max_lag=4, surrogates=49), TransferEntropyScreen(surrogates=49)
    out = run_funnel([ccf, te], r, pairs)
    assert out.results["transfer_entropy"].lag.tolist() == [2, 2, 2]  # ccf_best's delay
    g = GrangerScreen(series="log_return", min_lag=3, max_lag=3)
    out = run_funnel([g, te], r, pairs)
    assert out.results["granger"].lag.tolist() == [3, 3, 3]
    assert out.results["transfer_entropy"].lag.tolist() == [1, 1, 1]  # a lag order is not a delay
    r, pairs = _planted(n_pairs=3, T=300, seed=53, lag=1)  # the Lévy area sees lag 1 only
    noise = [(b, a) for a, b in pairs]
    out = run_funnel([LevyAreaScreen(surrogates=49), te], r, pairs + noise)
    assert out.results["transfer_entropy"].pairs == tuple(out.results["levy_area"].kept_pairs)
    assert all(out.dropped[f"{a}->{b}"] == "levy_area" for a, b in noise)
    with pytest.raises(ValueError, match="twice"):
        run_funnel([te, TransferEntropyScreen()], r, pairs)


def test_granger_later_in_the_funnel_screens_only_its_pairs():
    r, pairs = _planted(n_pairs=3, T=200, seed=52)
    everything = [(a, b) for a in r.columns for b in r.columns if a != b]
    full = GrangerScreen(series="log_return", min_lag=2, max_lag=4).run(r, everything)
    part = GrangerScreen(series="log_return", min_lag=2, max_lag=4).run(r, pairs)
    assert part.pairs == tuple(pairs)
    assert part.details["granger_pvalues"]["n_tests"] == 3 * 3
    for k, (a, b) in enumerate(pairs):  # the same F-tests: bivariate, other symbols do not matter
        scan = full.raw[0]
        assert part.raw[0].pvalues.loc[(a, b)].tolist() == pytest.approx(scan.pvalues.loc[(a, b)].tolist())


# --------------------------------------------------------------------------------------------- config
def test_selection_config_validates_names_duplicates_and_rules():
    s = parse_settings(
        {"selection": {"screens": ["levy_area", "transfer_entropy"], "rules": {"levy_area": "top_k"}, "top_k": 3}}
    )
    screen = make_screen("levy_area", s)
    assert screen.rule == "top_k" and screen.top_k == 3 and make_screen("transfer_entropy", s).rule == "test"
    with pytest.raises(ConfigError, match="selection.screens"):
        parse_settings({"selection": {"screens": ["granger", "levy"]}})
    with pytest.raises(ConfigError, match="more than once"):
        parse_settings({"selection": {"screens": ["granger", "granger"]}})
    # no screen at all is a valid funnel (the walk-forward ablation's baseline): every pair passes
    assert parse_settings({"selection": {"screens": []}}).selection.screens == ()
    out = run_funnel([], pd.DataFrame({"A": [0.1, 0.2], "B": [0.3, 0.1]}), [("A", "B"), ("B", "A")])
    assert out.kept == [("A", "B"), ("B", "A")] and not out.results and not out.dropped
    s = Settings().override(**{"selection.screens": ["ccf_auc"], "selection.rule": "top_k"})
    assert make_screen("ccf_auc", s).rule == "top_k"


def test_screen_result_row_finds_every_pair_by_an_index():
    """``ScreenResult.row`` looks pairs up in a dict built once (it searched the pair tuple linearly, O(pairs) a
    lookup): every pair's row is the row at its position, a duplicate resolves to its first occurrence, and an
    unscreened pair is a KeyError naming it."""
    from volts.selection.screens.base import ScreenResult

    names = [f"S{i}" for i in range(40)]
    pairs = tuple((a, b) for a in names for b in names if a != b) + (("S0", "S1"),)
    n = len(pairs)
    res = ScreenResult(
        screen="granger",
        pairs=pairs,
        score=np.arange(n, dtype=float),
        p=np.linspace(0, 1, n),
        lag=np.arange(n) % 5,
        kept=np.arange(n) % 2 == 0,
        rule="test",
        alpha=0.05,
        top_k=None,
        lag_kind="order",
        extra={"note": [f"row {i}" for i in range(n)]},
    )
    for i in range(0, n - 1, 97):
        a, b = pairs[i]
        assert res.row(a, b) == res.rows()[i] and res.row(a, b)["note"] == f"row {i}"
    assert res.row("S0", "S1")["note"] == "row 0"  # the duplicate at the end: first occurrence
    with pytest.raises(KeyError, match="S1->S1: not screened by granger"):
        res.row("S1", "S1")


# ------------------------------------------------------------------------------- one Lévy-area convention
def test_levy_area_screen_and_the_matrix_agree_on_the_same_data():
    """The screen and the all-pairs matrix behind the Hermitian candidates (``lead_lag_matrix(.., "levy_area")``)
    give the same area for every ordered pair: one function, one convention (z-scores with ddof 1, the path
    started at 0). Before, the matrix used ddof 0 and no zero point and ranked pairs differently."""
    from volts.selection.leadlag import lead_lag_matrix, levy_area_returns

    rng = np.random.default_rng(31)
    r = _frame(0.01 * rng.standard_t(4, size=(60, 7)))
    names = list(r.columns)
    pairs = [(a, b) for a in names for b in names if a != b]
    screen = LevyAreaScreen(surrogates=0).run(r, pairs)
    matrix = lead_lag_matrix(r.to_numpy(), "levy_area")
    want = np.array([matrix[names.index(a), names.index(b)] for a, b in pairs])
    # one process, one convention; a matrix product and an element-wise sum add in other orders: rounding only
    np.testing.assert_allclose(screen.score, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(levy_area_returns(r.to_numpy()), matrix, rtol=0, atol=0)
    # the independent definition: seed 004 eq. 5 on the path (0, z_0, .., z_{T-1}) of ddof-1 z-scores
    z = (r - r.mean()) / r.std(ddof=1)
    np.testing.assert_allclose(
        matrix, levy_area_matrix(np.vstack([np.zeros(len(names)), z.to_numpy()])), rtol=1e-12, atol=1e-14
    )
    # the orders agree too: the Hermitian candidates and the screen rank the same leaders
    assert (
        np.argsort(-matrix.mean(axis=1)).tolist()
        == np.argsort(
            -np.array([screen.score[[k for k, p in enumerate(pairs) if p[0] == a]].sum() for a in names])
        ).tolist()
    )


def test_the_portfolio_scores_its_z_scores_with_the_same_levy_area(monkeypatch):
    """The lead-lag portfolio ranks on ``levy_area_returns`` of its rolling z-scores (already standardised, seed
    004's preprocessing), so its followers are the bottom of that ranking and not of another convention."""
    import volts.trading.strategies.lead_lag_portfolio as llp
    from volts.selection.leadlag import levy_area_returns

    seen = []
    monkeypatch.setattr(llp, "levy_area_returns", lambda w, **kw: seen.append((w, kw)) or levy_area_returns(w, **kw))
    rng = np.random.default_rng(32)
    idx = pd.bdate_range("2021-01-04", periods=120)
    returns = pd.DataFrame(0.01 * rng.standard_normal((120, 10)), index=idx, columns=[f"N{k}" for k in range(10)])
    market = pd.Series(0.002 * rng.standard_normal(120), index=idx)
    params = llp.LeadLagPortfolioParams(execution="close")
    res = llp.lead_lag_portfolio(returns, market, params=params)
    assert seen and all(kw == {"standardised": True} for _, kw in seen)
    window, _ = seen[0]
    z = llp._standardised(returns, params.standardise_window).to_numpy()
    first = min(res.followers)
    pos = returns.index.get_loc(first)
    np.testing.assert_array_equal(window, z[pos - params.lookback + 1 : pos + 1])  # the same rows, as stored
    s = levy_area_returns(window, standardised=True)
    n_f = max(1, int(np.floor(params.followers * 10)))
    assert set(res.followers[first]) == {f"N{k}" for k in np.argsort(-s.mean(axis=1), kind="stable")[-n_f:]}


# --------------------------------------------------------------------------------- distance correlation
@pytest.mark.slow
def test_distance_correlation_screen_works_in_blocks_and_keeps_its_numbers(monkeypatch):
    """Blocks of pairs: the scores are dcor's and those of the former all-pairs-at-once computation; the
    distance matrices never hold more than ``block`` pairs, with or without the followers' cache."""
    import dcor

    import volts.selection.screens.stats as st

    r, pairs = _independent(n_pairs=9, T=40, seed=33)
    rp, _ = _planted(n_pairs=2, T=40, seed=34)
    r = pd.concat([r, rp.set_axis([f"P{k}" for k in range(4)], axis=1).set_axis(r.index)], axis=1)
    pairs += [("P0", "P1"), ("P2", "P3")]
    x = r[[a for a, _ in pairs]].to_numpy()
    y = r[[b for _, b in pairs]].to_numpy()
    ref = np.array(
        [
            dcor.distance_correlation(x[:-1, k], y[1:, k]) - dcor.distance_correlation(y[:-1, k], x[1:, k])
            for k in range(len(pairs))
        ]
    )
    # the former computation: every pair's matrices at once
    old = st._dcor_from_stats(
        st._distance_stats(np.ascontiguousarray(x[:-1].T)), st._distance_stats(np.ascontiguousarray(y[1:].T))
    ) - st._dcor_from_stats(
        st._distance_stats(np.ascontiguousarray(y[:-1].T)), st._distance_stats(np.ascontiguousarray(x[1:].T))
    )
    shapes = []
    real = st._distance_stats
    monkeypatch.setattr(st, "_distance_stats", lambda a: shapes.append(a.shape) or real(a))
    results = {}
    for block, cache in ((4, DistanceCorrelationScreen.cache_bytes), (4, 0), (32, 0)):
        screen = DistanceCorrelationScreen(surrogates=19, seed=2)
        screen.block, screen.cache_bytes = block, cache
        shapes.clear()
        results[block, cache] = res = screen.run(r, pairs)
        assert shapes and max(s[0] for s in shapes) <= block and {s[1] for s in shapes} == {39}
        # one process: a block or a cache changes no arithmetic of a pair; dcor is another code (rounding)
        np.testing.assert_allclose(res.score, old, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.score, ref, rtol=0, atol=1e-10)
    assert results[4, 0].kept[-2:].all()  # the planted pairs
    cached, uncached = results[4, DistanceCorrelationScreen.cache_bytes], results[4, 0]
    np.testing.assert_array_equal(cached.p, uncached.p)
    np.testing.assert_array_equal(cached.score, uncached.score)
    # the cache is refused above its budget, and holds blocks of at most `block` pairs below it
    screen = DistanceCorrelationScreen()
    screen.block, screen.cache_bytes = 4, 2 * len(pairs) * 39 * 39 * 8
    blocks = screen.prepare(y)
    assert [b[0][0].shape for b in blocks] == [(4, 39, 39), (4, 39, 39), (3, 39, 39)]
    screen.cache_bytes -= 1
    assert screen.prepare(y) is None
