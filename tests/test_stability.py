"""Stability selection (volts.selection.stability): the block bootstrap and the selection shares on the demo market."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from volts.core.config import load_settings
from volts.data.market import MarketData
from volts.core.errors import DataError
from volts.selection.stability import _block_indices, block_bootstrap_market, stability_selection, summarise_runs

REPO_DEMO = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "demo.toml"


def _toy_market(n=60, seed=0) -> MarketData:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2022-01-03", periods=n)
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0)), index=idx, columns=["A", "B", "C"]
    )
    openp = close.shift(1).fillna(close.iloc[0]) * np.exp(rng.normal(0, 0.002, (n, 3)))
    high = np.maximum(openp, close) * 1.01
    low = np.minimum(openp, close) * 0.99
    vol = pd.DataFrame(rng.integers(1000, 2000, (n, 3)).astype(float), index=idx, columns=close.columns)
    return MarketData.from_frames({"open": openp, "high": high, "low": low, "close": close, "volume": vol})


def test_block_indices_are_runs_of_consecutive_days():
    idx = _block_indices(23, 5, np.random.default_rng(0))
    assert len(idx) == 23 and idx.min() >= 0 and idx.max() <= 22
    for b in range(0, 23, 5):
        run = idx[b : b + 5]
        assert (np.diff(run) == 1).all()


def test_default_block_keeps_most_relations_at_the_longest_lag():
    """A lag-L relation survives the bootstrap only where day t and day t - L come out of the same block. At the
    default block length and the default largest lag, about 1 - L/block = 2/3 of them must survive in a training
    window of about 150 days (blocks of 10 kept none at lag 10)."""
    from volts.core.config import Settings

    s = Settings()
    lag, block, n = s.lag.max_lag, s.stability.block_length, 150
    kept = []
    for seed in range(200):
        idx = _block_indices(n, block, np.random.default_rng(seed))
        kept.append(np.mean(idx[lag:] - idx[:-lag] == lag))
    assert np.mean(kept) >= 0.6
    idx = _block_indices(n, 10, np.random.default_rng(0))
    assert np.mean(idx[10:] - idx[:-10] == 10) < 0.2  # the old default: only chance adjacencies of blocks


def test_bootstrap_keeps_the_past_and_rebuilds_returns_from_whole_days():
    m = _toy_market()
    start = m.dates[20]
    boot = block_bootstrap_market(m, start, block_length=7, rng=np.random.default_rng(1))
    assert boot.dates.equals(m.dates) and boot.symbols == m.symbols
    for f in ("open", "high", "low", "close", "volume"):
        pd.testing.assert_frame_equal(getattr(boot, f).iloc[:20], getattr(m, f).iloc[:20])
    # every rebuilt day's close/previous-close vector equals some original day's vector (whole cross-section)
    orig = (m.close / m.close.shift(1)).iloc[20:].to_numpy()
    new = (boot.close / boot.close.shift(1)).iloc[20:].to_numpy()
    for row in new:
        assert np.isclose(orig, row[None, :], rtol=1e-10).all(axis=1).any()
    # OHLC consistency survives: high >= max(open, close), low <= min(open, close)
    assert (boot.high >= np.maximum(boot.open, boot.close) - 1e-9).all().all()
    assert (boot.low <= np.minimum(boot.open, boot.close) + 1e-9).all().all()
    with pytest.raises(DataError, match="anchor"):
        block_bootstrap_market(m, m.dates[0], block_length=5, rng=np.random.default_rng(0))


def test_summary_shares_and_modal_lag():
    runs = [
        {"index": 0, "pairs": [["A", "B", 2]], "candidates": ["A", "B"], "error": None},
        {"index": 1, "pairs": [["A", "B", 3], ["B", "C", 1]], "candidates": ["A", "B", "C"], "error": None},
        {"index": 2, "pairs": [["A", "B", 2]], "candidates": ["A", "B"], "error": None},
        {"index": 3, "pairs": [], "candidates": [], "error": "too few candidates"},
    ]
    res = summarise_runs(runs, runs=4, block_length=10, seed=0, threshold=0.5)
    ab = res.pairs[0]
    assert (ab.leader, ab.follower, ab.share, ab.modal_lag, ab.modal_lag_share) == ("A", "B", 0.75, 2, 2 / 3)
    assert res.share("B", "C") == 0.25 and res.share("C", "A") == 0.0
    assert res.failed == {"too few candidates": 1} and res.candidates["A"] == 0.75
    assert json.loads(json.dumps(res.to_dict())) == res.to_dict()


@pytest.mark.slow
def test_stability_selection_end_to_end_is_reproducible():
    # two runs on the demo market (the R = 50 must-show is a benchmark: benchmarks/bench_stability.py)
    from volts.data.synthetic import make_synthetic_market

    settings = load_settings(REPO_DEMO)
    market = make_synthetic_market(seed=0).data
    a = stability_selection(market, settings, runs=2)
    assert a.runs == 2 and all(0 < p.share <= 1 for p in a.pairs)
    assert all(p.count == sum(p.lags.values()) for p in a.pairs)
    b = stability_selection(market, settings, runs=2)
    assert a.to_dict() == b.to_dict()
    assert a.warnings == ()  # the default block (30) is 3 x lag.max_lag (10)
    short = stability_selection(market, settings.override(**{"stability.block_length": 12}), runs=1)
    assert len(short.warnings) == 1 and "block_length 12 < 3 x lag.max_lag (30)" in short.warnings[0]
    assert "about 17% of days" in short.warnings[0]  # 1 - 10/12
    from volts.selection.pipeline import run_selection
    from volts.selection.stability import with_stability

    sel = with_stability(run_selection(market, settings), short)
    assert sel.warnings[-1] == short.warnings[0] and short.to_dict()["warnings"] == list(short.warnings)


@pytest.mark.slow
def test_pairs_only_selection_skips_unused_anomalies_and_keeps_the_pairs():
    """Stability runs call ``run_selection(pairs_only=True)``: with ``anomaly.exclude = false`` the anomaly scores
    (report only) are skipped and the candidates, funnel and pairs are those of the full selection; with
    ``exclude = true`` they shape the GMM sample, so they are computed as before."""
    from volts.data.synthetic import make_synthetic_market
    from volts.selection.pipeline import run_selection

    settings = load_settings(REPO_DEMO)
    market = make_synthetic_market(seed=0).data
    full = run_selection(market, settings)
    lean = run_selection(market, settings, pairs_only=True)
    assert lean.anomalies is None and "anomalies" not in lean.timings and full.anomalies is not None
    assert lean.candidates == full.candidates and lean.pairs == full.pairs
    assert [f.to_dict() if hasattr(f, "to_dict") else f for f in lean.funnel] == [
        f.to_dict() if hasattr(f, "to_dict") else f for f in full.funnel
    ]
    excl = settings.override(**{"anomaly.exclude": True})
    kept = run_selection(market, excl, pairs_only=True)
    assert kept.anomalies is not None and kept.pairs == run_selection(market, excl).pairs
