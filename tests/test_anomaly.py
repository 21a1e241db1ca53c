"""KNN anomaly filter (METHOD.md §1): scores against brute force, planted outliers, reference data, figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from volts.selection.anomaly import AnomalyResult, anomaly_features, detect_anomalies, knn_scores
from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError


def _brute_force_scores(x: np.ndarray, k: int) -> np.ndarray:
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1))
    out = []
    for i in range(len(x)):
        others = np.delete(d[i], i)  # every other day, duplicates included
        out.append(np.sort(others)[:k].mean())
    return np.array(out)


def _random_market(rng, n_days=250, n_sym=5, shock_day=None, shock=0.12) -> MarketData:
    idx = pd.bdate_range("2015-01-02", periods=n_days)
    cols = [f"S{i}" for i in range(n_sym)]
    r = rng.normal(0, 0.012, (n_days, n_sym))
    rng_hl = np.abs(rng.normal(0.015, 0.004, (n_days, n_sym))) + 0.002
    if shock_day is not None:
        r[shock_day] -= shock
        rng_hl[shock_day] += shock
    close = 100 * np.exp(np.cumsum(r, axis=0))
    open_ = np.vstack([close[:1], close[:-1]])
    high = np.maximum(open_, close) * np.exp(rng_hl / 2)
    low = np.minimum(open_, close) * np.exp(-rng_hl / 2)
    f = lambda a: pd.DataFrame(a, index=idx, columns=cols)  # noqa: E731
    return MarketData.from_frames({"open": f(open_), "high": f(high), "low": f(low), "close": f(close)})


# ---------------------------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("k", [1, 3, 5])
def test_scores_match_brute_force_with_duplicate_rows(k):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    x[10:18] = x[3]  # nine identical rows: more than k + 1 copies
    x[30] = x[31]  # one duplicated pair
    got = knn_scores(x, k)
    assert got == pytest.approx(_brute_force_scores(x, k), abs=1e-12)
    assert got[[3, *range(10, 18)]] == pytest.approx(0.0, abs=1e-12)  # k zero-distance copies each
    assert got[30] > 0 if k > 1 else got[30] == pytest.approx(0.0, abs=1e-12)


def test_features_are_standardised_per_stock_and_kind():
    market = _random_market(np.random.default_rng(1), n_days=40, n_sym=3)
    x = anomaly_features(market)
    assert list(x.columns) == [f"S{i}:{f}" for i in range(3) for f in ("log_return", "log_range")]
    assert x.index.equals(market.dates[1:])  # the first bar has no log return
    assert x.mean().to_numpy() == pytest.approx(0.0, abs=1e-12)
    assert x.std(ddof=0).to_numpy() == pytest.approx(1.0)
    raw = np.log(market.close["S1"] / market.close["S1"].shift(1)).iloc[1:]
    assert x["S1:log_return"].to_numpy() == pytest.approx(((raw - raw.mean()) / raw.std(ddof=0)).to_numpy())
    only_range = anomaly_features(market, ("log_range",))
    assert only_range.index.equals(market.dates) and only_range.shape == (40, 3)


def test_planted_shock_day_is_flagged_and_threshold_is_mean_plus_z_std():
    market = _random_market(np.random.default_rng(2), shock_day=150)
    res = detect_anomalies(market, neighbors=5, z_threshold=3.0)
    assert isinstance(res, AnomalyResult)
    scores = res.scores.to_numpy()
    assert res.threshold == pytest.approx(scores.mean() + 3.0 * scores.std())
    assert res.scores.idxmax() == market.dates[150]
    assert market.dates[150] in res.flagged
    assert list(res.flagged) == list(res.scores.index[scores > res.threshold])
    assert len(res.flagged) <= 5  # the quiet days stay below the threshold (a handful at most)
    assert res.k == 5 and res.features == ("log_return", "log_range")
    assert res.symbols == tuple(market.symbols)


def test_to_dict_is_json_ready():
    market = _random_market(np.random.default_rng(4), shock_day=100)
    d = detect_anomalies(market).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert {"date": market.dates[100].date().isoformat(), "score": pytest.approx(d["anomalies"][0]["score"])} in d[
        "anomalies"
    ]
    assert d["neighbors"] == 5 and d["features"] == ["log_return", "log_range"]


# ------------------------------------------------------------------------------------------- degenerate
def test_constant_feature_raises_naming_the_symbol():
    market = _random_market(np.random.default_rng(5), n_days=30, n_sym=3)
    frames = {f: market.field(f).copy() for f in ("open", "high", "low", "close")}
    for f in frames:
        frames[f]["FLAT"] = 10.0
    with pytest.raises(DataError, match=r"^FLAT: log_return is constant"):
        detect_anomalies(MarketData.from_frames(frames))


def test_too_few_days_and_bad_parameters():
    market = _random_market(np.random.default_rng(6), n_days=6, n_sym=2)
    with pytest.raises(DataError, match="fewer than the 8"):
        detect_anomalies(market, neighbors=5)
    detect_anomalies(market, neighbors=3)
    with pytest.raises(ConfigError):
        detect_anomalies(market, neighbors=0)
    with pytest.raises(ConfigError):
        detect_anomalies(market, neighbors=2, features=("volume",))
    with pytest.raises(ConfigError):
        detect_anomalies(market, neighbors=2, z_threshold=0)


# ------------------------------------------------------------------------------------------ reference data
@pytest.fixture(scope="module")
def reference_result(paper_market):
    return detect_anomalies(paper_market.slice("2019-06-01", "2023-05-01"))


def test_reference_window_flags_march_2020(reference_result):
    march = [d for d in reference_result.flagged if d.year == 2020 and d.month == 3]
    assert march, f"no March 2020 day flagged; flagged = {list(reference_result.flagged.date)}"
    # the largest score of the window is in the COVID-19 crash
    top = reference_result.scores.idxmax()
    assert (top.year, top.month) == (2020, 3)


def test_anomaly_figure_is_written(reference_result, tmp_path):
    from volts.reporting.figures.volatility import plot_anomalies

    path = plot_anomalies(reference_result, tmp_path / "anomalies.png")
    assert path.is_file() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
