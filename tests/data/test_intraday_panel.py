"""Symbols with different histories on one index: a late listing, a long hole and weekend-less bars are planted into
the synthetic hourly market's files; the panel keeps every stamp, marks what is carried, and a window's covering
symbols are exactly those whose bars really cover it."""

from __future__ import annotations

import pandas as pd
import pytest

from volts.core.config import Settings
from volts.data.intraday_panel import load_intraday_panel
from volts.data.synthetic_intraday import make_synthetic_intraday_market, write_synthetic_intraday_csvs

LATE = pd.Timestamp("2023-02-01")  # IND1 lists here
HOLE = (pd.Timestamp("2023-02-10"), pd.Timestamp("2023-03-10"))  # LEAD2 has no bar in between


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("h1")
    syn = make_synthetic_intraday_market(seed=5)
    write_synthetic_intraday_csvs(syn, folder)
    for sym, cut in (
        ("IND1", lambda t: t >= LATE),
        ("LEAD2", lambda t: (t < HOLE[0]) | (t >= HOLE[1])),
        ("IND2", lambda t: t.day_of_week < 5),
    ):  # IND2: no weekend bar, like a 24/5 CFD
        path = folder / f"{sym}.csv"
        df = pd.read_csv(path, sep="\t")
        df[cut(pd.DatetimeIndex(pd.to_datetime(df["Time"])))].to_csv(path, sep="\t", index=False)
    s = Settings().override(
        **{
            "data.dir": str(folder),
            "data.timeframe": "H1",
            "data.calendar": "24/7",
            "data.gap_policy": "drop",
            "data.universe": list(syn.data.symbols),
        }
    )
    return syn, load_intraday_panel(s.data)


def test_the_union_of_stamps_is_kept_and_carried_bars_are_marked(panel):
    syn, p = panel
    assert p.market.dates.equals(syn.data.dates)  # no stamp lost to one symbol's hole
    real = p.real
    assert not real.loc[real.index < LATE, "IND1"].any() and real.loc[real.index >= LATE, "IND1"].all()
    inside = (real.index >= HOLE[0]) & (real.index < HOLE[1])
    assert not real.loc[inside, "LEAD2"].any() and real.loc[~inside, "LEAD2"].all()
    # a carried bar repeats the last real close with zero range and no volume
    t = HOLE[0] + pd.Timedelta(hours=5)
    last = syn.data.close.loc[HOLE[0] - pd.Timedelta(hours=1), "LEAD2"]
    for f in ("open", "high", "low", "close"):
        assert p.market.field(f).loc[t, "LEAD2"] == last
    assert p.market.volume.loc[t, "LEAD2"] == 0.0
    # real bars are the file's, untouched
    assert p.market.close.loc[LATE, "IND1"] == syn.data.close.loc[LATE, "IND1"]


def test_covering_excludes_exactly_the_symbols_whose_bars_do_not_cover_the_window(panel):
    _, p = panel
    gap = pd.Timedelta(days=7)
    ok, ex = p.covering("2023-01-05", "2023-01-30", max_gap=gap)
    assert set(ex) == {"IND1", "IND2"}  # not listed yet; weekends missing (28 %)
    assert "2023-02-01" in ex["IND1"] and "missing" in ex["IND2"]
    ok, ex = p.covering("2023-02-20", "2023-03-05", max_gap=gap)
    assert "LEAD2" in ex and "IND1" in ok
    ok, ex = p.covering("2023-03-12", "2023-03-30", max_gap=gap)
    assert "LEAD2" in ok  # its bars are back for this whole window
    m = p.window_market(ok, "2023-03-12", "2023-03-30")
    assert bool(p.real.loc[m.dates, ok].all().all())  # only stamps every chosen symbol really has
