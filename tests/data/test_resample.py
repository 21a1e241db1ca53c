"""Resampling to a coarser bar: OHLCV aggregation rules on a hand-built example, partial buckets dropped."""

from __future__ import annotations

import pandas as pd
import pytest

from volts.data.resample import resample_bars
from volts.core.errors import UsageError


def _h1(stamps, rows):
    return pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=pd.DatetimeIndex(stamps))


def test_h1_to_h4_by_hand():
    # 02:00-07:00 UTC: the 00:00 bucket holds 2 of 4 hours (partial, dropped), the 04:00 bucket is whole
    stamps = pd.date_range("2023-06-03 02:00", periods=6, freq="h")
    rows = [
        (10, 11, 9, 10.5, 1),
        (10.5, 12, 10, 11, 2),  # bucket 00:00 (partial)
        (11, 11.5, 10.8, 11.2, 3),
        (11.2, 13, 11, 12.9, 4),
        (12.9, 13.1, 8, 9, 5),
        (9, 9.5, 8.5, 9.4, 6),
    ]
    out, dropped = resample_bars(_h1(stamps, rows), "H1", "H4", "24/7")
    assert dropped == 1
    assert list(out.index) == [pd.Timestamp("2023-06-03 04:00")]
    bar = out.iloc[0]
    # first open, max high, min low, last close, summed volume
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (11, 13.1, 8, 9.4, 18)
    assert (bar["bars"], bar["expected"]) == (4, 4)
    kept, none_dropped = resample_bars(_h1(stamps, rows), "H1", "H4", "24/7", partial="keep")
    assert none_dropped == 0 and kept.loc["2023-06-03 00:00", "bars"] == 2
    assert kept.loc["2023-06-03 00:00", "open"] == 10 and kept.loc["2023-06-03 00:00", "volume"] == 3


def test_a_vendor_gap_makes_its_bucket_partial_and_24_5_weekends_are_not_expected():
    stamps = pd.date_range("2023-06-02 00:00", "2023-06-05 23:00", freq="h")  # Friday .. Monday
    stamps = stamps[stamps.day_of_week < 5].delete(5)  # a gap at Friday 05:00
    bars = _h1(stamps, [(1, 2, 0.5, 1.5, 1)] * len(stamps))
    out, dropped = resample_bars(bars, "H1", "D1", "24/5")
    assert list(out.index) == [pd.Timestamp("2023-06-05")] and dropped == 1  # Friday partial, weekend absent
    assert out.iloc[0]["volume"] == 24
    h4, d = resample_bars(bars, "H1", "H4", "24/5")
    assert d == 1 and len(h4) == 11


def test_exchange_sessions_bound_the_buckets():
    # XNYS 2023-06-05: 13:30-20:00 UTC. M30 bars of the whole session -> one D1 bar labelled by its date, and
    # H1 buckets opening at 13:30, 14:30, ... 19:30 (the last cut at the close: 1 of 1 expected)
    stamps = pd.date_range("2023-06-05 13:30", "2023-06-05 19:30", freq="30min")
    bars = _h1(stamps, [(i + 1, i + 2, i, i + 1.5, 1) for i in range(len(stamps))])
    d1, dropped = resample_bars(bars, "M30", "D1", "XNYS")
    assert dropped == 0 and list(d1.index) == [pd.Timestamp("2023-06-05")]
    assert (d1.iloc[0]["open"], d1.iloc[0]["close"], d1.iloc[0]["volume"]) == (1, 13.5, 13)
    h1, dropped = resample_bars(bars, "M30", "H1", "XNYS")
    assert list(h1.index) == list(pd.date_range("2023-06-05 13:30", periods=7, freq="h")) and dropped == 0
    assert h1["bars"].tolist() == [2] * 6 + [1]


def test_target_must_be_a_coarser_multiple():
    bars = _h1(pd.date_range("2023-06-05", periods=4, freq="h"), [(1, 2, 0.5, 1.5, 1)] * 4)
    with pytest.raises(UsageError, match="whole multiple"):
        resample_bars(bars, "H4", "H1", "24/7")


def test_cli_resample_writes_files_the_daily_reader_reads(tmp_path, capsys):
    from volts.cli import main
    from volts.data.csv import read_csv_bars

    src = tmp_path / "h4"
    src.mkdir()
    # Sunday 20:00 (before the 24/5 week) then Monday and Tuesday in full, header-less and comma-separated
    stamps = [pd.Timestamp("2023-06-04 20:00")] + list(pd.date_range("2023-06-05", periods=12, freq="4h"))
    lines = [f"{t:%Y-%m-%d %H:%M},{1 + i},{2 + i},{0.5 + i},{1.5 + i},{10}" for i, t in enumerate(stamps)]
    (src / "EURUSD.csv").write_text("\n".join(lines))
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\ntimeframe = "H4"\ncalendar = "24/5"\nuniverse = ["EURUSD"]\n')
    assert main(["data", "resample", str(src), "--config", str(cfg), "--to", "D1", "--out", str(tmp_path / "d1")]) == 0
    assert "2 D1 bars (1 partial bucket(s) dropped" in capsys.readouterr().out
    daily = read_csv_bars(tmp_path / "d1" / "EURUSD.csv", "EURUSD")
    assert list(daily.index) == [pd.Timestamp("2023-06-05"), pd.Timestamp("2023-06-06")]
    assert daily.iloc[0].tolist() == [2, 8, 1.5, 7.5, 60] and daily.iloc[1].tolist() == [8, 14, 7.5, 13.5, 60]
    assert main(["data", "resample", str(src), "--config", str(cfg), "--to", "D1", "--out", str(src)]) == 2
