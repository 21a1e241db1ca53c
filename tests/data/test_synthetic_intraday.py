"""The synthetic intraday demo market: planted lags in bars, valid bars, vendor gaps found as planted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from volts.core.config import DataSettings
from volts.data.intraday_source import check_intraday_folder
from volts.data.synthetic_intraday import make_synthetic_intraday_market, write_synthetic_intraday_csvs
from volts.data.timeframes import bars_per_year


def test_planted_lags_are_the_cross_correlation_peaks():
    m = make_synthetic_intraday_market(seed=3)
    r = np.log(m.data.close).diff().dropna()
    for leader, follower, lag in m.pairs:
        # independent oracle: the lag maximising corr(r_L(t - k), r_F(t)) over k = 0 .. 12 bars
        corr = [np.corrcoef(r[leader].to_numpy()[: len(r) - k], r[follower].to_numpy()[k:])[0, 1] for k in range(13)]
        assert int(np.argmax(corr)) == lag
    # annualised by the 24/7 calendar's bars per year, the volatility is the planted 60 % (2,159 returns: the
    # sampling error of a standard deviation is about 1/sqrt(2n) = 1.5 %; 10 % leaves room for any seed)
    vol = r.std() * np.sqrt(bars_per_year("H1", "24/7"))
    assert np.allclose(vol, 0.6, rtol=0.1)
    o, h, lo, c = (m.data.field(f).to_numpy() for f in ("open", "high", "low", "close"))
    assert (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all()
    assert (o[1:] == c[:-1]).all()  # a 24/7 market: each bar opens at the previous close


def test_planted_vendor_gaps_are_reported_as_planted(tmp_path):
    m = make_synthetic_intraday_market(seed=1, end="2023-01-20 23:00")
    planted = write_synthetic_intraday_csvs(m, tmp_path, vendor_gaps=4, seed=2)
    data = DataSettings(dir=str(tmp_path), timeframe="H1", calendar="24/7", gap_policy="drop")
    checks, report = check_intraday_folder(data, tmp_path)
    assert report.ok
    for fc in checks:
        found = [(pd.Timestamp(p.date), int(p.message.split()[0])) for p in fc.notes if p.rule == "gap"]
        assert found == planted[fc.symbol]


def test_the_synthetic_source_serves_the_intraday_market_at_an_intraday_timeframe():
    from volts.data.sources import load_market

    market = load_market(DataSettings(source="synthetic", timeframe="H4"))
    assert market.symbols[:2] == ["LEAD1", "LEAD2"]
    assert (market.dates[1:] - market.dates[:-1] == pd.Timedelta(hours=4)).all()
    daily = load_market(DataSettings(source="synthetic"))  # D1: the daily demo market, unchanged
    assert "MID1" in daily.symbols
