"""Stage 5: DTW + k-NN lag selection (volts.selection.lag, METHOD.md §5)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from volts.core.errors import DataError
from volts.selection.lag import (
    LagChoice,
    choose_lag,
    dtw_cdist,
    dtw_path,
    knn_predict,
    lag_samples,
    percent_changes,
    time_series_folds,
)

TRAIN = ("2022-11-01", "2023-06-08")


# ------------------------------------------------------------------------------------------------ helpers
def _prices(changes_pct: np.ndarray, index: pd.DatetimeIndex, name: str) -> pd.Series:
    """Close series whose daily % changes are exactly ``changes_pct`` (first close = 100)."""
    return pd.Series(100.0 * np.cumprod(np.r_[1.0, 1.0 + changes_pct / 100.0]), index, name=name)


def _planted_pair(lag: int, rng: np.random.Generator, n: int = 150, noise_sd: float = 1.0):
    """Leader with i.i.d. daily changes (sd 2 %), follower Y_t = X_{t-lag} + noise (sd ``noise_sd`` %)."""
    burn = 20
    x = rng.normal(0.0, 2.0, n + burn)
    y = np.empty_like(x)
    y[:lag] = rng.normal(0.0, 2.0, lag)
    y[lag:] = x[:-lag] + rng.normal(0.0, noise_sd, n + burn - lag)
    index = pd.bdate_range("2022-01-03", periods=n + 1)
    return _prices(x[burn:], index, "LEAD"), _prices(y[burn:], index, "FOLL")


def _recovery(lag: int, window: int, draws: int, seed: int) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(seed)
    hits, curves = 0, []
    for _ in range(draws):
        lead, foll = _planted_pair(lag, rng)
        c = choose_lag(lead, foll, window=window)
        hits += c.lag == lag
        curves.append([c.accuracy_oos[t] for t in c.lags])
    return hits / draws, np.mean(curves, axis=0)


@pytest.fixture(scope="module")
def mu_qcom(paper_market):
    m = paper_market.slice(*TRAIN)
    return m.close["MU"], m.close["QCOM"]


# ---------------------------------------------------------------------------------------------------- DTW
def test_dtw_known_answers():
    # identical shapes at different speeds align at zero cost
    assert dtw_cdist(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 2.0, 3.0]]))[0, 0] == 0.0
    # the endpoints are pinned: one element series -> distance to every element of the other
    d = dtw_cdist(np.array([[0.0]]), np.array([[1.0, 2.0]]))[0, 0]
    assert d == pytest.approx(np.sqrt(1.0 + 4.0))
    # radius 0 (no warping) is the Euclidean distance
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 5)), rng.normal(size=(4, 5))
    eucl = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    np.testing.assert_allclose(dtw_cdist(a, b, sakoe_chiba_radius=0), eucl, rtol=0, atol=1e-12)
    # warping can only lower the distance; the self-distance matrix is symmetric with a zero diagonal
    assert np.all(dtw_cdist(a, b) <= eucl + 1e-12)
    sq = dtw_cdist(a)
    np.testing.assert_array_equal(sq, sq.T)
    np.testing.assert_array_equal(np.diag(sq), 0.0)


def test_knn_predict_matches_sklearn_including_ties():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(5)
    for values in (rng.normal(size=(90, 5)), rng.integers(0, 2, size=(90, 5)).astype(float)):  # 2nd: many ties
        y = rng.integers(0, 2, 90)
        d_train, d_test = dtw_cdist(values[:60]), dtw_cdist(values[60:], values[:60])
        for k in (1, 4, 7):  # even k: tied votes go to the smaller label
            ref = KNeighborsClassifier(n_neighbors=k, metric="precomputed").fit(d_train, y[:60]).predict(d_test)
            np.testing.assert_array_equal(knn_predict(d_test, y[:60], k), ref)


@pytest.mark.slow
def test_dtw_and_knn_equal_tslearn_on_real_returns(mu_qcom):
    """Distances, predictions and the per-lag accuracies against tslearn's classifier (MU -> QCOM)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tslearn warns that h5py is absent
        from tslearn.metrics import cdist_dtw, dtw_path as ts_dtw_path
        from tslearn.neighbors import KNeighborsTimeSeriesClassifier

    lead, foll = mu_qcom
    choice = choose_lag(lead, foll)
    folds = time_series_folds(choice.n_samples, 5)
    oos, ins = [], []
    for tau in choice.lags:
        s = lag_samples(lead, foll, tau=tau)
        ours = dtw_cdist(s.X)
        ref = cdist_dtw(s.X)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
        fold_acc = []
        for train, test in folds:
            clf = KNeighborsTimeSeriesClassifier(n_neighbors=7, metric="dtw").fit(s.X[train], s.y[train])
            pred_ref = clf.predict(s.X[test])
            pred = knn_predict(dtw_cdist(s.X[test], s.X[train]), s.y[train], 7)
            np.testing.assert_array_equal(pred, pred_ref)
            fold_acc.append(np.mean(pred_ref == s.y[test]))
        oos.append(np.mean(fold_acc))
        clf = KNeighborsTimeSeriesClassifier(n_neighbors=7, metric="dtw").fit(s.X, s.y)
        ins.append(np.mean(clf.predict(s.X) == s.y))
    np.testing.assert_allclose([choice.accuracy_oos[t] for t in choice.lags], oos, rtol=0, atol=1e-12)
    np.testing.assert_allclose([choice.accuracy_in_sample[t] for t in choice.lags], ins, rtol=0, atol=1e-12)
    assert choice.lag == choice.lags[int(np.argmax(oos))]

    # the alignment diagnostic: DTW path of the z-scored close paths
    z = [(p - p.mean()) / p.std() for p in (lead.to_numpy(), foll.to_numpy())]
    path_ref, dist_ref = ts_dtw_path(z[0], z[1])
    dist, path = dtw_path(z[0], z[1])
    assert dist == pytest.approx(dist_ref, abs=1e-9)
    assert path == [tuple(p) for p in path_ref]
    assert choice.dtw_distance == pytest.approx(dist_ref, abs=1e-9)
    offsets = np.array([j - i for i, j in path_ref])
    assert choice.dtw_median_offset == float(np.median(offsets))


@pytest.mark.slow
def test_dtw_band_matches_tslearn():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tslearn.metrics import cdist_dtw
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=(30, 5)), rng.normal(size=(20, 5))
    for r in (1, 2):
        np.testing.assert_allclose(
            dtw_cdist(a, b, sakoe_chiba_radius=r),
            cdist_dtw(a, b, global_constraint="sakoe_chiba", sakoe_chiba_radius=r),
            rtol=0,
            atol=1e-9,
        )


# -------------------------------------------------------------------------------------------- samples, CV
def test_percent_changes_known_answer():
    idx = pd.bdate_range("2023-01-02", periods=4)
    out = percent_changes(pd.Series([100.0, 110.0, 99.0, 99.0], idx, name="X"))
    np.testing.assert_allclose(out.to_numpy(), [10.0, -10.0, 0.0])
    assert list(out.index) == list(idx[1:])


def test_samples_are_lagged_windows(mu_qcom):
    lead, foll = mu_qcom
    lead_pct, foll_pct = percent_changes(lead), percent_changes(foll)
    for tau in (1, 4, 10):
        s = lag_samples(lead, foll, tau=tau, window=5, max_lag=10)
        pos = lead_pct.index.get_indexer(s.target_dates)
        assert pos[0] == 10 + 5 - 1  # first day with a full window at the largest lag
        for row in (0, len(pos) // 2, len(pos) - 1):
            t = pos[row]
            np.testing.assert_array_equal(s.X[row], lead_pct.to_numpy()[t - tau - 4 : t - tau + 1])
            assert s.y[row] == int(foll_pct.iloc[t] > 0)
        # every feature day precedes its target day, the newest by exactly tau trading days
        assert np.all(s.feature_dates.max(axis=1) < s.target_dates.to_numpy())
        np.testing.assert_array_equal(lead_pct.index.get_indexer(pd.DatetimeIndex(s.feature_dates[:, -1])), pos - tau)


def test_cv_never_trains_on_the_future(mu_qcom):
    lead, foll = mu_qcom
    c = choose_lag(lead, foll)
    assert len(c.folds) == 5
    for train_start, train_end, test_start, test_end in c.folds:
        assert train_start <= train_end < test_start <= test_end
    for train, test in time_series_folds(c.n_samples, 5):
        assert train.max() < test.min()
    s = lag_samples(lead, foll, tau=3)
    for train, test in time_series_folds(len(s.y), 5):
        assert s.target_dates[train].max() < s.target_dates[test].min()
        assert np.all(s.feature_dates[train].max(axis=1) < s.target_dates[train].to_numpy())


def test_samples_do_not_read_later_bars(mu_qcom):
    lead, foll = mu_qcom
    cut = lead.index[100]
    lead2, foll2 = lead.copy(), foll.copy()
    rng = np.random.default_rng(0)
    lead2[lead2.index > cut] *= rng.uniform(0.5, 1.5, int((lead2.index > cut).sum()))
    foll2[foll2.index > cut] *= rng.uniform(0.5, 1.5, int((foll2.index > cut).sum()))
    for tau in (1, 5):
        a, b = lag_samples(lead, foll, tau=tau), lag_samples(lead2, foll2, tau=tau)
        known = a.target_dates <= cut
        np.testing.assert_array_equal(a.X[known], b.X[known])
        np.testing.assert_array_equal(a.y[known], b.y[known])
        assert not np.array_equal(a.X[~known], b.X[~known])


# --------------------------------------------------------------------------------------- planted lags
@pytest.mark.slow
def test_planted_lags_recovered_with_single_day_window():
    """lag.window = 1: the planted lag is recovered (measured: 100 % of draws, also for lags 6..10)."""
    for lag in range(1, 6):
        rate, curve = _recovery(lag, window=1, draws=15, seed=100 + lag)
        assert rate >= 0.9, (lag, rate, curve)
        assert curve[lag - 1] > 0.75 and np.delete(curve, lag - 1).max() < 0.6


@pytest.mark.slow
def test_method_window_recovers_short_lags_but_confuses_lag_equal_to_window():
    """METHOD.md's w = 5: lags 1..4 recovered; at L = 5 the window of tau = 1 holds X_{t-5} as its first,
    DTW-pinned element, so tau = 1 scores like tau = 5 (the documented caveat of choose_lag)."""
    for lag in range(1, 5):
        rate, _ = _recovery(lag, window=5, draws=12, seed=200 + lag)
        assert rate >= 0.9, (lag, rate)
    _, curve = _recovery(5, window=5, draws=12, seed=205)
    assert curve[0] > 0.7 and curve[4] > 0.7  # tau = 1 and tau = 5 both see the informative day at an end
    assert abs(curve[0] - curve[4]) < 0.05
    assert curve[1:4].max() < curve[4] - 0.08  # interior positions are blurred by warping
    assert curve[5:].max() < 0.6  # beyond the true lag nothing is left to learn


def test_independent_series_score_near_chance():
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2022-01-03", periods=301)
    c = choose_lag(_prices(rng.normal(0, 2, 300), idx, "A"), _prices(rng.normal(0, 2, 300), idx, "B"))
    oos = np.array(list(c.accuracy_oos.values()))
    assert oos.max() < 0.65
    assert oos.mean() == pytest.approx(0.5, abs=0.07)


# --------------------------------------------------------------------------------------- result, errors
def test_choice_result_is_consistent_and_json_ready(mu_qcom):
    lead, foll = mu_qcom
    c = choose_lag(lead, foll, min_lag=2, max_lag=6, window=3, neighbors=5, cv_splits=4)
    assert isinstance(c, LagChoice)
    assert c.lags == (2, 3, 4, 5, 6)
    assert list(c.accuracy_oos) == list(c.accuracy_in_sample) == list(c.lags)
    oos = [c.accuracy_oos[t] for t in c.lags]
    assert c.lag == c.lags[int(np.argmax(oos))]  # first maximum: ties to the smaller lag
    assert c.knn_accuracy == c.accuracy_oos[c.lag] == max(oos)
    assert c.n_samples == len(lead) - 1 - (6 + 3 - 1)
    assert (c.leader, c.follower) == ("MU", "QCOM")
    d = c.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["lag"] == c.lag and d["accuracy_oos"]["2"] == c.accuracy_oos[2] and len(d["folds"]) == 4
    with pytest.raises(Exception):
        c.lag = 3  # frozen


def test_degenerate_input_raises_data_error(mu_qcom):
    lead, foll = mu_qcom
    with pytest.raises(DataError, match="same trading dates"):
        choose_lag(lead.iloc[1:], foll)
    bad = lead.copy()
    bad.iloc[20] = 0.0
    with pytest.raises(DataError, match=rf"MU: close on {bad.index[20].date()}"):
        choose_lag(bad, foll)
    with pytest.raises(DataError, match="too few"):
        choose_lag(lead.iloc[:30], foll.iloc[:30])
    with pytest.raises(DataError, match="no sample"):
        lag_samples(lead.iloc[:10], foll.iloc[:10], tau=1)


def test_plot_lag_accuracy(tmp_path, mu_qcom):
    from volts.reporting.figures.lag import plot_lag_accuracy

    lead, foll = mu_qcom
    c = choose_lag(lead, foll)
    out = plot_lag_accuracy({"MU->QCOM": c, "QCOM->MU": choose_lag(foll, lead)}, tmp_path / "lag.png")
    assert out == tmp_path / "lag.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot_lag_accuracy({}, tmp_path / "empty.png")


def test_pairs_sharing_a_leader_reuse_its_dtw_matrices_and_choose_the_same(monkeypatch):
    """The per-leader memos: a second follower of the same leader computes no new DTW matrix and no new
    neighbour set, and every choice equals the one made with empty memos (a planted lag-3 pair, an independent
    follower and one of rounded moves, with many ties)."""
    import volts.selection.lag as lag

    rng = np.random.default_rng(11)
    leader, planted = _planted_pair(3, rng)
    other = _prices(rng.normal(0, 2, len(leader) - 1), leader.index, "OTHER")
    # a follower of rounded moves: many tied labels and votes
    coarse = _prices(np.round(rng.normal(0, 2, len(leader) - 1)), leader.index, "COARSE")
    monkeypatch.setattr(lag, "_SELF_DTW_MEMO", {})
    monkeypatch.setattr(lag, "_NEAREST_MEMO", {})
    calls, nearest_calls = [], []
    real, real_nearest = lag.dtw_cdist, lag._nearest
    monkeypatch.setattr(lag, "dtw_cdist", lambda a, *args, **kw: calls.append(a.shape) or real(a, *args, **kw))
    monkeypatch.setattr(lag, "_nearest", lambda *a: nearest_calls.append(1) or real_nearest(*a))
    first = choose_lag(leader, planted, window=5)
    n_first, n_nearest = len(calls), len(nearest_calls)
    memoised = [first] + [choose_lag(leader, f, window=5) for f in (other, coarse)]
    assert n_first == 1 and len(calls) == n_first  # one matrix for every tau, none for the other followers
    assert n_nearest == 10 * 6 and len(nearest_calls) == n_nearest  # 10 taus x (5 folds + in-sample), once
    for follower, kept in zip((planted, other, coarse), memoised):
        monkeypatch.setattr(lag, "_SELF_DTW_MEMO", {})
        monkeypatch.setattr(lag, "_NEAREST_MEMO", {})
        fresh = choose_lag(leader, follower, window=5)
        assert fresh.to_dict() == kept.to_dict()
    assert first.lag == 3


def test_one_dtw_matrix_for_every_tau_gives_the_per_tau_accuracies():
    """choose_lag takes every tau's DTW matrix as a diagonal block of one matrix over the union of the windows
    (sample i of tau + 1 is sample i - 1 of tau). Against the direct computation, one ``dtw_cdist`` per tau on
    ``lag_samples(...).X`` and the same folds and vote: identical out-of-sample and in-sample accuracies, float for
    float, on 30 random pairs (planted lags 1..7, windows 1/3/5, lag ranges from 1..1 to 2..11)."""
    import volts.selection.lag as lag

    rng = np.random.default_rng(5)
    for _ in range(30):
        planted = int(rng.integers(1, 8))
        leader, follower = _planted_pair(planted, rng)
        w = int(rng.choice([1, 3, 5]))
        lo = int(rng.integers(1, 3))
        hi = int(rng.integers(lo, 12))
        lag._SELF_DTW_MEMO.clear()
        lag._NEAREST_MEMO.clear()
        got = choose_lag(leader, follower, min_lag=lo, max_lag=hi, window=w)
        samples = [lag_samples(leader, follower, tau=t, window=w, max_lag=hi) for t in range(lo, hi + 1)]
        y = samples[0].y
        folds = lag.time_series_folds(len(y), 5)
        for s in samples:
            d = dtw_cdist(s.X)
            oos = float(np.mean([np.mean(knn_predict(d[np.ix_(te, tr)], y[tr], 7) == y[te]) for tr, te in folds]))
            assert got.accuracy_oos[s.tau] == oos
            assert got.accuracy_in_sample[s.tau] == float(np.mean(knn_predict(d, y, 7) == y))


def test_the_dtw_memo_stays_within_its_byte_budget_and_returns_what_it_computes():
    # hourly windows give megabyte matrices: a count bound alone let a walk-forward worker pass 2 GB
    import volts.selection.lag as lag_module

    rng = np.random.default_rng(0)
    lag_module._SELF_DTW_MEMO.clear()
    xs = [rng.normal(size=(400, 5)) for _ in range(120)]
    for x in xs:
        lag_module._self_dtw(x)
        assert sum(v.nbytes for v in lag_module._SELF_DTW_MEMO.values()) <= lag_module._SELF_DTW_MEMO_BYTES
    assert len(lag_module._SELF_DTW_MEMO) < len(xs)
    assert np.array_equal(lag_module._self_dtw(xs[-1]), lag_module.dtw_cdist(xs[-1]))
    assert np.array_equal(lag_module._self_dtw(xs[0]), lag_module.dtw_cdist(xs[0]))  # evicted, computed again
