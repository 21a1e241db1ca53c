"""The frequency study's signal part on a planted truth: the synthetic hourly market plants LEAD1 -> FOLLOW1 at 2
bars and LEAD2 -> FOLLOW2 at 6 bars. On hourly bars a delay screen validates the planted links with their delays; on
daily bars (resampled from the same hours) both delays fall inside one bar, so no lead-lag link is left."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings
from volts.data.synthetic_intraday import make_synthetic_intraday_market
from volts.evaluation.frequency import blocks, resample_market, screen_block, signal_table


@pytest.fixture(scope="module")
def markets():
    h1 = make_synthetic_intraday_market(seed=3).data
    return {"H1": h1, "H4": resample_market(h1, "H1", "H4", "24/7"), "D1": resample_market(h1, "H1", "D1", "24/7")}


def test_resampling_aggregates_ohlcv_by_the_rules(markets):
    h1, h4 = markets["H1"], markets["H4"]
    first = h4.dates[0]
    part = h1.slice(first, first + pd.Timedelta(hours=3, minutes=59))
    assert len(part) == 4
    for sym in h1.symbols:
        assert h4.open.loc[first, sym] == part.open[sym].iloc[0]
        assert h4.close.loc[first, sym] == part.close[sym].iloc[-1]
        assert h4.high.loc[first, sym] == part.high[sym].max()
        assert h4.low.loc[first, sym] == part.low[sym].min()
        assert h4.volume.loc[first, sym] == pytest.approx(part.volume[sym].sum())
    assert len(markets["D1"]) == len(h1) // 24


def test_blocks_tile_the_span_and_refuse_a_bar_count():
    bl = blocks(pd.DatetimeIndex([]), "2023-01-01", "2023-03-31", "30D")
    assert [b[1] - b[0] for b in bl] == [pd.Timedelta(days=30)] * 3
    assert all(a[1] == b[0] for a, b in zip(bl, bl[1:]))
    with pytest.raises(Exception, match="duration"):
        blocks(pd.DatetimeIndex([]), "2023-01-01", "2023-03-31", "500 bars")


def test_delays_planted_in_hours_are_validated_on_hourly_bars_and_vanish_on_daily_bars(markets):
    s = Settings().override(**{"screens.max_lag": 8})
    done = []
    for bar in markets:
        for a, z in blocks(markets["H1"].dates, "2023-01-01", "2023-03-31", "45D"):
            done.append(screen_block((bar, a, z), markets=markets, settings=s, screens=["hayashi_yoshida"]))
    table = signal_table(done).set_index("bar")
    # the raw results: on H1 the planted pairs are significant at their planted delays
    h1 = [b for b in done if b.bar == "H1"]
    pairs = [(x, y) for x in markets["H1"].symbols for y in markets["H1"].symbols if x != y]
    for b in h1:
        r = b.results["hayashi_yoshida"]
        for lead, fol, lag in (("LEAD1", "FOLLOW1", 2), ("LEAD2", "FOLLOW2", 6)):
            i = pairs.index((lead, fol))
            assert r["lag"][i] == lag and r["p"][i] < 1e-6
    assert table.loc["H1", "validated_per_block"] >= 2
    assert table.loc["H1", "lag_hours_median"] in (2.0, 4.0, 6.0)
    # on daily bars the 2 h and 6 h delays are inside one bar: no validated lead of one bar or more survives
    assert table.loc["D1", "validated_per_block"] <= table.loc["H1", "validated_per_block"] - 2
    assert np.isfinite(table.loc["H1", "median_effect"])
