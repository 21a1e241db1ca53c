"""The hayashi_yoshida screen on bars: its batched statistics equal the asynchronous estimator on the bar clock,
planted lags are found in bars, independent pairs are kept at most at the level, and the config builds it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from volts.core.config import Settings
from volts.core.errors import DataError
from volts.selection.hayashi_yoshida import hy_lead_lag
from volts.selection.screens import make_screen
from volts.selection.screens.hayashi_yoshida import HayashiYoshidaScreen


def _frame(values: np.ndarray) -> pd.DataFrame:
    idx = pd.bdate_range("2021-01-04", periods=values.shape[0])
    return pd.DataFrame(values, index=idx, columns=[f"S{k}" for k in range(values.shape[1])])


def _planted(n_pairs: int, T: int, lag: int, beta: float, seed: int):
    """Leader i.i.d. Student-t; follower_t = beta leader_{t-lag} + unit noise; disjoint pairs S0->S1, ..."""
    rng = np.random.default_rng(seed)
    cols = []
    for _ in range(n_pairs):
        x = rng.standard_t(5, size=T + lag)
        cols += [x[lag:], beta * x[:T] + rng.standard_t(5, size=T)]
    r = _frame(0.01 * np.column_stack(cols))
    names = list(r.columns)
    return r, [(names[2 * k], names[2 * k + 1]) for k in range(n_pairs)]


def test_batched_statistics_equal_the_asynchronous_estimator_on_the_bar_clock():
    r, pairs = _planted(n_pairs=6, T=120, lag=2, beta=0.5, seed=1)
    pairs = pairs + [(b, a) for a, b in pairs]  # both directions
    screen = HayashiYoshidaScreen(max_lag=4)
    res = screen.run(r, pairs)
    clock = np.arange(len(r) + 1, dtype=float)  # bar numbers: bar t spans (t - 1, t]
    thetas = np.arange(-4.0, 5.0)
    for k, (a, b) in enumerate(pairs):
        px = np.concatenate([[0.0], np.cumsum(r[a].to_numpy())])
        py = np.concatenate([[0.0], np.cumsum(r[b].to_numpy())])
        ref = hy_lead_lag(clock, px, clock, py, thetas)
        # two different summation orders of the same products (prefix differences vs a dot product): tolerance
        assert res.score[k] == pytest.approx(ref.llr, rel=1e-9)
        assert res.p[k] == pytest.approx(ref.p, rel=1e-9, abs=1e-300)
        assert res.extra["theta_hat"][k] == ref.theta_hat
        assert res.extra["rho_hat"][k] == pytest.approx(ref.rho_hat, rel=1e-9)


def test_planted_lag_found_in_bars_and_reverse_direction_dropped():
    r, pairs = _planted(n_pairs=10, T=250, lag=2, beta=0.6, seed=2)
    res = HayashiYoshidaScreen(max_lag=5).run(r, pairs)
    assert list(res.lag) == [2] * 10
    assert res.kept.all() and (res.score > 1).all()
    back = HayashiYoshidaScreen(max_lag=5).run(r, [(b, a) for a, b in pairs])
    assert not back.kept.any()
    np.testing.assert_allclose(back.score, 1.0 / res.score, rtol=1e-9)  # LLR of the swapped pair
    assert (back.extra["theta_hat"] == -2).all() and (back.lag == -1).all()


def test_independent_pairs_kept_at_most_at_the_level():
    rng = np.random.default_rng(3)
    r = _frame(0.01 * rng.standard_t(5, size=(250, 600)))
    names = list(r.columns)
    pairs = [(names[2 * k], names[2 * k + 1]) for k in range(300)]
    res = HayashiYoshidaScreen(max_lag=5, alpha=0.05).run(r, pairs)
    # the Bonferroni max|z| test is conservative: rejections (before the LLR > 1 condition) at most the level
    rejected = int(np.sum(res.p <= 0.05))
    assert rejected <= stats.binom.ppf(0.999, 300, 0.05), rejected
    assert res.kept.sum() <= rejected


def test_config_builds_it_and_bad_input_is_a_data_error():
    s = Settings().override(**{"selection.screens": ["hayashi_yoshida"], "screens.max_lag": 3})
    screen = make_screen("hayashi_yoshida", s)
    assert isinstance(screen, HayashiYoshidaScreen) and screen.max_lag == 3 and screen.params()["max_lag"] == 3
    r, pairs = _planted(n_pairs=1, T=12, lag=1, beta=0.5, seed=4)
    with pytest.raises(DataError, match="too few"):
        screen.run(r, pairs)
    with pytest.raises(ValueError, match="max_lag"):
        HayashiYoshidaScreen(max_lag=0)


def test_funnel_hands_the_lag_in_bars_to_the_next_screen():
    from volts.selection.screens import run_funnel

    r, pairs = _planted(n_pairs=3, T=250, lag=3, beta=0.6, seed=5)
    out = run_funnel([HayashiYoshidaScreen(max_lag=5)], r, pairs)
    assert out.kept == pairs and out.delays == {pair: 3 for pair in pairs}
    row = out.results["hayashi_yoshida"].row(*pairs[0])
    assert row["lag"] == 3 and row["theta_hat"] == 3.0 and row["score"] > 1


def test_demo_market_planted_pairs_kept_with_their_lags():
    from volts.data.synthetic import make_synthetic_market

    market = make_synthetic_market(seed=0)
    r = market.data.log_returns().loc["2022-06-01":"2023-06-01"].dropna()
    mids = ["MID1", "MID2", "MID3", "MID4", "MID5", "MID6"]
    pairs = [(a, b) for a in mids for b in mids if a != b]
    res = HayashiYoshidaScreen(max_lag=5).run(r, pairs)
    kept = {pair: int(res.lag[pairs.index(pair)]) for pair in res.kept_pairs}
    planted = {(p.leader, p.follower): p.lag for p in market.truth.pairs}
    assert {pair: kept.get(pair) for pair in planted} == planted
    # the test is per pair at level 5 % (no multiplicity correction across pairs): a few others may pass
    assert len(kept) - len(planted) <= stats.binom.ppf(0.999, len(pairs) - len(planted), 0.05)
