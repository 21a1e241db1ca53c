"""Selection on intraday bars: window lengths in bars or time, the decision bar, no look-ahead, and the planted
pair of the synthetic intraday market found with its lag in bars."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings
from volts.core.errors import ConfigError, DataError
from volts.core.lengths import parse_length
from volts.data.market import MarketData
from volts.data.synthetic_intraday import make_synthetic_intraday_market
from volts.data.timeframes import timeframe
from volts.selection.bar_windows import bar_windows, decision_bar

H1 = timeframe("H1")


def _index(hours: int, start="2023-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=hours, freq="h")


def _settings(**kw) -> Settings:
    base = {
        "data.source": "synthetic",
        "data.timeframe": "H1",
        "data.calendar": "24/7",
        "intraday.gmm_window": "30D",
        "intraday.train_window": "10D",
        "intraday.anomaly_window": "30D",
    }
    return Settings().override(**(base | kw))


def test_lengths_parse_bars_and_durations_and_refuse_anything_else():
    assert parse_length("500 bars").bars == 500
    assert parse_length("1bar").bars == 1
    assert parse_length("90D").duration == pd.Timedelta(days=90)
    assert parse_length("6H").duration == pd.Timedelta(hours=6)
    assert parse_length("2W").duration == pd.Timedelta(days=14)
    assert parse_length("30min").duration == pd.Timedelta(minutes=30)
    for bad in ("", "0 bars", "ninety days", "90", "-3D"):
        with pytest.raises(ValueError, match="not a length"):
            parse_length(bad)
    with pytest.raises(ConfigError, match="intraday.train_window"):
        Settings().override(**{"intraday.train_window": "a month"})


def test_a_daily_configuration_dumps_and_hashes_without_the_intraday_section():
    s = Settings()
    assert "intraday" not in s.model_dump(mode="json")
    changed = s.override(**{"intraday.train_window": "20D"})
    assert changed.model_dump(mode="json")["intraday"]["train_window"] == "20D"
    assert changed.sha256() != s.sha256()


def test_decision_bar_is_the_last_complete_bar_never_the_one_in_progress():
    idx = _index(72)
    # a date: the bars complete by the end of that day (the 23:00 bar closes at 24:00)
    assert decision_bar(idx, dt.date(2023, 1, 2), H1) == pd.Timestamp("2023-01-02 23:00")
    assert decision_bar(idx, "2023-01-02", H1) == pd.Timestamp("2023-01-02 23:00")
    # a time: at 10:20 the 10:00 bar is in progress, the 09:00 bar is the last complete one
    assert decision_bar(idx, pd.Timestamp("2023-01-02 10:20"), H1) == pd.Timestamp("2023-01-02 09:00")
    assert decision_bar(idx, "2023-01-02T10:00", H1) == pd.Timestamp("2023-01-02 09:00")
    with pytest.raises(DataError, match="no H1 bar is complete"):
        decision_bar(idx, pd.Timestamp("2023-01-01 00:30"), H1)


def test_a_stale_common_index_is_refused_not_silently_used():
    idx = _index(48).append(_index(24, start="2023-03-01"))  # a two-month hole, as one symbol's gap would leave
    with pytest.raises(DataError, match="more than 7 days"):
        decision_bar(idx, dt.date(2023, 2, 20), H1, max_age=pd.Timedelta(days=7))
    assert decision_bar(idx, dt.date(2023, 1, 2), H1, max_age=pd.Timedelta(days=7)) == idx[47]


def test_window_lengths_in_time_and_in_bars():
    idx = _index(24 * 60)
    s = _settings(**{"intraday.train_window": "240 bars", "intraday.gmm_window": "30D"})
    w = bar_windows(s, idx, dt.date(2023, 2, 20))
    assert w.asof == pd.Timestamp("2023-02-20 23:00")
    n_train = ((idx >= w.train_start) & (idx <= w.train_end)).sum()
    n_gmm = ((idx >= w.gmm_start) & (idx <= w.gmm_end)).sum()
    assert (n_train, n_gmm) == (240, 30 * 24)  # 30 days of a 24/7 market are 720 hourly bars
    assert w.decision_time == pd.Timestamp("2023-02-21 00:00")
    with pytest.raises(DataError, match="train window of 5000 bars"):
        bar_windows(_settings(**{"intraday.train_window": "5000 bars"}), idx, dt.date(2023, 2, 20))


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_intraday_market(seed=0).data


def test_selection_on_hourly_bars_finds_the_planted_pair_with_its_lag_in_bars(synthetic):
    from volts.selection.pipeline import run_selection

    sel = run_selection(synthetic, _settings(), asof=synthetic.dates[-1].date())
    assert sel.asof == synthetic.dates[-1]
    names = {p.name: p.lag for p in sel.pairs}
    assert names.get("LEAD1->FOLLOW1") == 2  # planted: 2 bars
    assert not any(p.leader.startswith("IND") or p.follower.startswith("IND") for p in sel.pairs)
    d = sel.to_dict()
    assert d["bars"]["timeframe"] == "H1" and d["bars"]["calendar"] == "24/7"
    assert d["bars"]["lags"]["LEAD1->FOLLOW1"] == "2 bars (2 h)"
    assert d["bars"]["bars_per_year"] == pytest.approx(365.25 * 24)
    assert d["windows"]["train"]["length"] == "10D"


def test_bars_after_the_decision_bar_change_nothing(synthetic):
    from volts.selection.pipeline import run_selection

    s = _settings()
    asof = synthetic.dates[-200] + pd.Timedelta(minutes=30)  # mid-bar: that bar is in progress
    base = run_selection(synthetic, s, asof=asof, pairs_only=True)
    rng = np.random.default_rng(1)
    late = synthetic.dates > base.asof
    frames = {}
    for f in ("open", "high", "low", "close", "volume"):
        df = getattr(synthetic, f).copy()
        df.loc[late] = df.loc[late].to_numpy() * rng.uniform(0.5, 2.0, size=df.loc[late].shape)
        frames[f] = df
    frames["high"] = np.maximum(frames["high"], np.maximum(frames["open"], frames["close"]))
    frames["low"] = np.minimum(frames["low"], np.minimum(frames["open"], frames["close"]))
    perturbed = MarketData.from_frames(frames)
    assert not perturbed.close.equals(synthetic.close)
    again = run_selection(perturbed, s, asof=asof, pairs_only=True)
    assert again.asof == base.asof == synthetic.dates[-201]
    assert again.data_sha256 == base.data_sha256
    assert again.candidates == base.candidates
    assert [(p.name, p.lag) for p in again.pairs] == [(p.name, p.lag) for p in base.pairs]


def test_daily_bars_with_bar_windows_run_on_the_bar_clock(synthetic):
    # daily bars resampled from hours (the frequency study): windows end at the decision bar, and a 24/7 calendar
    # annualises with 365.25 bars a year, not an exchange's 252 sessions
    from volts.evaluation.frequency import resample_market
    from volts.selection.pipeline import run_selection

    daily = resample_market(synthetic, "H1", "D1", "24/7")
    s = _settings(**{"data.timeframe": "D1", "intraday.gmm_window": "60D", "intraday.train_window": "60D"})
    w = bar_windows(s, daily.dates, daily.dates[-1].date())
    sel = run_selection(daily, s, windows=w, pairs_only=True)
    assert sel.asof == daily.dates[-1] and sel.bars_per_year == pytest.approx(365.25)
