"""The synthetic demo market: coherent bars, distinct volatility regimes, recoverable planted lags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from volts.data.csv import load_csv_market
from volts.data.synthetic import make_synthetic_market, write_synthetic_csvs
from volts.data.validate import collect_problems


@pytest.fixture(scope="module")
def synth():
    return make_synthetic_market(seed=0)


def test_bars_are_coherent(synth):
    d = synth.data
    o, h, lo, c = (d.field(f).to_numpy() for f in ("open", "high", "low", "close"))
    assert (o > 0).all() and (c > 0).all() and (lo > 0).all()
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert (h > lo).all()  # a real intraday path, not flat bars
    assert (d.volume.to_numpy() > 0).all()
    raw = {s: d.bars(s) for s in d.symbols}
    assert collect_problems(raw, common_calendar=True).problems == ()
    # the overnight gap and the intraday part are both live, and add up to the close-to-close return
    gap = np.log(d.open / d.close.shift(1)).iloc[1:]
    intraday = np.log(d.close / d.open).iloc[1:]
    np.testing.assert_allclose((gap + intraday).to_numpy(), d.log_returns().to_numpy(), atol=1e-12)
    share = gap.var() / d.log_returns().var()
    assert ((share > 0.1) & (share < 0.3)).all()


def test_business_days_and_span(synth):
    d = synth.data
    assert d.dates[0].strftime("%Y-%m-%d") == "2019-01-01" and d.dates[-1].strftime("%Y-%m-%d") == "2023-12-29"
    assert (d.dates.day_of_week < 5).all()
    assert d.dates[0] <= np.datetime64("2019-06-01") and d.dates[-1] >= np.datetime64("2023-08-12")


def test_regimes_differ_in_realised_volatility(synth):
    vol = synth.data.log_returns().std() * np.sqrt(252)
    regimes = synth.truth.regimes
    groups = {g: [s for s in regimes if regimes[s] == g] for g in ("low", "mid", "high")}
    assert all(len(v) >= 2 for v in groups.values())
    assert vol[groups["low"]].max() < vol[groups["mid"]].min()
    assert vol[groups["mid"]].max() < vol[groups["high"]].min()
    for s, target in synth.truth.annual_vol.items():
        assert vol[s] == pytest.approx(target, rel=0.15), s
    # the range-based view (Parkinson) orders them the same way
    d = synth.data
    pk = np.sqrt((np.log(d.high / d.low) ** 2).mean() / (4 * np.log(2)) * 252)
    assert pk[groups["low"]].max() < pk[groups["mid"]].min() < pk[groups["mid"]].max() < pk[groups["high"]].min()


def test_planted_lag_is_the_peak_of_the_cross_correlation(synth):
    r = synth.data.log_returns()
    truth = synth.truth
    assert len(truth.pairs) == 3
    members = [s for p in truth.pairs for s in (p.leader, p.follower)]
    assert len(set(members)) == 6  # disjoint, no chains
    for p in truth.pairs:
        assert truth.regimes[p.leader] == truth.regimes[p.follower] == "mid"
        assert 1 <= p.lag <= 5
        xcorr = [r[p.follower].corr(r[p.leader].shift(k)) for k in range(11)]
        assert int(np.argmax(xcorr)) == p.lag, (p, np.round(xcorr, 3))
        # coupling strength: the lagged leader explains roughly R2 of the follower's variance
        assert xcorr[p.lag] ** 2 == pytest.approx(truth.r2, abs=0.1)
        # and the follower does not lead the leader
        back = [r[p.leader].corr(r[p.follower].shift(k)) for k in range(1, 11)]
        assert max(abs(x) for x in back) < 0.1


def test_independent_symbols_are_uncorrelated(synth):
    r = synth.data.log_returns()
    truth = synth.truth
    assert set(truth.independent) == set(synth.data.symbols) - {s for p in truth.pairs for s in (p.leader, p.follower)}
    # no common factor: every contemporaneous correlation between different symbols is near zero
    corr = r.corr().to_numpy()
    off = corr[~np.eye(len(corr), dtype=bool)]
    assert np.abs(off).max() < 4 / np.sqrt(len(r))


def test_same_seed_same_data_other_seed_other_data(synth):
    again = make_synthetic_market(seed=0)
    assert again.data.sha256() == synth.data.sha256()
    assert again.truth == synth.truth
    other = make_synthetic_market(seed=1)
    assert other.data.sha256() != synth.data.sha256()
    assert not np.allclose(other.data.close.to_numpy(), synth.data.close.to_numpy())


def test_truth_to_dict_is_json_ready(synth):
    blob = json.loads(json.dumps(synth.truth.to_dict()))
    assert blob["pairs"][0].keys() == {"leader", "follower", "lag", "beta"}
    assert set(blob["regimes"].values()) == {"low", "mid", "high"}


def test_csv_round_trip(synth, tmp_path):
    paths = write_synthetic_csvs(synth, tmp_path)
    assert [p.stem for p in paths] == synth.data.symbols
    assert paths[0].read_text().splitlines()[0] == "Date,Open,High,Low,Close,Adj Close,Volume"
    loaded = load_csv_market(tmp_path, symbols=synth.data.symbols)
    assert loaded.report.ok and loaded.report.problems == ()
    for f in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(loaded.field(f).to_numpy(), synth.data.field(f).to_numpy(), rtol=0, atol=1e-6)
