"""MetaTrader5 bars finer than D1, through the stand-in terminal served over RPyC (the mt5linux bridge)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from volts.core.config import DataSettings, Mt5Settings
from volts.data.intraday_source import load_intraday_market
from volts.data.mt5 import load_mt5_market
from volts.core.errors import DataError
from volts.testing.mt5_server import serve_standin

STAMPS = pd.date_range("2023-06-01 00:00", "2023-06-03 23:00", freq="h")  # 72 hourly bars, 24/7
NOW = dt.datetime(2023, 6, 3, 10, 30, tzinfo=dt.timezone.utc)  # the 10:00 bar is still forming


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch):
    for var in ("VOLTS_MT5_LOGIN", "VOLTS_MT5_PASSWORD", "VOLTS_MT5_SERVER"):
        monkeypatch.delenv(var, raising=False)


def _folder(tmp_path, gap_in_bbb: bool = False):
    rng = np.random.default_rng(7)
    for sym in ("AAA", "BBB"):
        c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(STAMPS))))
        o = np.r_[100.0, c[:-1]]
        frame = pd.DataFrame(
            {
                "Open": o,
                "High": np.maximum(o, c) * 1.002,
                "Low": np.minimum(o, c) * 0.998,
                "Close": c,
                "Volume": rng.integers(1, 500, len(STAMPS)),
            },
            index=STAMPS,
        )
        if gap_in_bbb and sym == "BBB":
            frame = frame.drop(STAMPS[20:23])
        frame.index = frame.index.strftime("%Y-%m-%d %H:%M:%S")
        frame.to_csv(tmp_path / f"{sym}.csv", sep="\t", index_label="Time")
    return tmp_path


def _settings(host, port, folder, offset, **data):
    return DataSettings(
        source="mt5",
        dir=str(folder),
        universe=("AAA", "BBB"),
        timeframe="H1",
        calendar="24/7",
        mt5=Mt5Settings(bridge="mt5linux", host=host, port=port, backoff_seconds=0.0, server_utc_offset_hours=offset),
        **data,
    )


@pytest.mark.parametrize("offset", [0.0, 3.0])
def test_h1_bars_through_the_stand_in_match_the_files(tmp_path, offset):
    folder = _folder(tmp_path)
    with serve_standin(
        folder, intraday_timeframe="H1", server_utc_offset_hours=offset, now=pd.Timestamp("2023-06-03 10:30")
    ) as (host, port, standin):
        mt5 = load_mt5_market(_settings(host, port, folder, offset), start="2023-06-01", end="2023-06-03", now=NOW)
    assert standin.calls["copy_rates_range"] == 2
    # the server offset is undone (UTC open times) and the forming 10:00 bar is dropped
    assert mt5.dates[0] == STAMPS[0] and mt5.dates[-1] == pd.Timestamp("2023-06-03 09:00")
    csv = load_intraday_market(
        DataSettings(dir=str(folder), universe=("AAA", "BBB"), timeframe="H1", calendar="24/7"), end="2023-06-03"
    )
    n = len(mt5)
    assert n == 58
    for f in ("open", "high", "low", "close"):
        pd.testing.assert_frame_equal(getattr(mt5, f), getattr(csv, f).iloc[:n])
    # the stand-in carries the file's volume as tick volume (no real volume): volts takes the tick volume
    pd.testing.assert_frame_equal(mt5.volume, csv.volume.iloc[:n])


def test_a_vendor_gap_from_the_terminal_follows_the_gap_policy(tmp_path):
    folder = _folder(tmp_path, gap_in_bbb=True)
    with serve_standin(folder, intraday_timeframe="H1", now=pd.Timestamp("2023-06-04")) as (host, port, _):
        with pytest.raises(DataError, match=r"mt5:BBB: BBB 2023-06-01 20:00: gap: 3 missing H1 bars \(3 h\)"):
            load_mt5_market(_settings(host, port, folder, 0.0), now=NOW.replace(day=4))
        dropped = load_mt5_market(_settings(host, port, folder, 0.0, gap_policy="drop"), now=NOW.replace(day=4))
        carried = load_mt5_market(_settings(host, port, folder, 0.0, gap_policy="carry"), now=NOW.replace(day=4))
    assert len(dropped) == 72 - 3 and len(carried) == 72
    assert carried.report.rows_filled["BBB"] == 3
    assert (carried.high["BBB"].iloc[20:23] == carried.close["BBB"].iloc[19]).all()
