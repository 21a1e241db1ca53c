"""Intraday bars: bar sizes, the any-layout CSV reader, 24-hour calendars and gaps, the check on the real folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings, load_settings, parse_settings
from volts.data.intraday_calendar import apply_gap_policy, expected_mask, find_gaps
from volts.data.intraday_csv import read_intraday_csv
from volts.data.timeframes import bars_per_year, timeframe
from volts.core.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
INTRADAY = REPO.parent / "shared" / "data" / "intraday"


# ------------------------------------------------------------------------------------------- timeframes
def test_timeframe_constants_match_metatrader5():
    # values of the MetaTrader5 package: minutes below an hour, 0x4000 | hours above (TIMEFRAME_D1 = 16408)
    assert [timeframe(n).mt5_value for n in ("M1", "M5", "M15", "M30", "H1", "H4", "D1")] == [
        1,
        5,
        15,
        30,
        16385,
        16388,
        16408,
    ]
    from volts.data.mt5 import DEFAULT_CONSTANTS

    assert timeframe("d1").mt5_value == DEFAULT_CONSTANTS["TIMEFRAME_D1"]
    assert timeframe("H4").duration == pd.Timedelta(hours=4)
    assert timeframe("H1").describe(3) == "3 bars (3 h)" and timeframe("H4").describe(6) == "6 bars (1 d)"
    assert timeframe("H1").describe(27) == "27 bars (1 d 3 h)" and timeframe("M15").describe(1) == "1 bar (15 min)"
    with pytest.raises(ConfigError, match="H2"):
        timeframe("H2")


def test_bars_per_year_follow_the_calendar():
    assert bars_per_year("H1", "24/7") == pytest.approx(365.25 * 24)
    assert bars_per_year("H4", "24/5") == pytest.approx(365.25 * 5 / 7 * 6)
    assert bars_per_year("D1", "XNYS") == 252
    # XNYS regular session 6.5 h: 252 * 6.5 hourly bars
    assert bars_per_year("H1", "XNYS") == pytest.approx(252 * 6.5)
    idx = pd.date_range("2021-01-01", periods=365 * 24, freq="h")  # one year of hourly bars, 365 days
    assert bars_per_year("H1", "bars", index=idx) == pytest.approx(365 * 24 / (365 / 365.25))


# ------------------------------------------------------------------------------------------- settings
def test_daily_settings_dump_is_unchanged_by_the_intraday_keys():
    s = Settings()
    dumped = s.model_dump(mode="json")["data"]
    assert not {"timeframe", "timezone", "gap_policy"} & set(dumped)  # daily hashes and selection.json as before
    h = s.override(**{"data.timeframe": "H1", "data.calendar": "24/7"})
    assert h.data.timeframe == "H1" and h.model_dump()["data"]["timeframe"] == "H1" and h.sha256() != s.sha256()
    assert parse_settings({"data": {"calendar": "bars"}}).data.calendar == "bars"
    with pytest.raises(ConfigError, match="IANA"):
        parse_settings({"data": {"timezone": "Mars/Olympus"}})
    with pytest.raises(ConfigError, match="timeframe"):
        parse_settings({"data": {"timeframe": "H2"}})


# ------------------------------------------------------------------------------------------- CSV layouts
ROWS = [
    ("2023-06-05 00:00", 1.0, 1.2, 0.9, 1.1, 10),
    ("2023-06-05 01:00", 1.1, 1.3, 1.0, 1.2, 11),
    ("2023-06-05 02:00", 1.2, 1.4, 1.1, 1.3, 12),
]


def _write(path: Path, sep: str, header: str | None, seconds: bool = False) -> Path:
    lines = [] if header is None else [header]
    for t, *v in ROWS:
        lines.append(sep.join([t + (":00" if seconds else "")] + [str(x) for x in v]))
    path.write_text("\n".join(lines))  # no trailing newline, as the vendor files
    return path


@pytest.mark.parametrize(
    "sep,header",
    [
        ("\t", "Time\tOpen\tHigh\tLow\tClose\tVolume"),
        ("\t", None),
        (",", "Date,Open,High,Low,Close,Volume"),
        (",", None),
        (";", "time;open;high;low;close;volume"),
    ],
)
def test_any_layout_reads_the_same_bars(tmp_path, sep, header):
    f = read_intraday_csv(_write(tmp_path / "X.csv", sep, header, seconds=header is not None), "X")
    assert f.header == (header is not None)
    assert f.separator == {"\t": "tab", ",": "comma", ";": "semicolon"}[sep]
    assert list(f.bars.index) == [pd.Timestamp(r[0]) for r in ROWS]
    assert f.bars["close"].tolist() == [1.1, 1.2, 1.3] and f.bars["volume"].tolist() == [10, 11, 12]
    assert any("no header" in q for q in f.quirks) == (header is None)


def test_time_zone_is_converted_to_utc(tmp_path):
    path = _write(tmp_path / "X.csv", "\t", "Time\tOpen\tHigh\tLow\tClose\tVolume")
    f = read_intraday_csv(path, "X", timezone="Europe/London")  # June: BST = UTC+1
    assert f.bars.index[0] == pd.Timestamp("2023-06-04 23:00")


def test_unparsable_stamp_names_file_and_line(tmp_path):
    path = tmp_path / "X.csv"
    path.write_text("2023-06-05 00:00\t1\t1\t1\t1\t1\n2023-13-05 01:00\t1\t1\t1\t1\t1")
    with pytest.raises(DataError, match=r"X.csv: unparsable time stamp '2023-13-05 01:00' on line 2"):
        read_intraday_csv(path, "X")


# ------------------------------------------------------------------------------------------- calendars, gaps
def _bars(index) -> pd.DataFrame:
    n = len(index)
    c = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"open": c, "high": c + 1, "low": c - 1, "close": c, "volume": np.ones(n)}, index=index)


def test_planted_gap_in_a_24_7_market_is_found_and_carried():
    full = pd.date_range("2023-06-02 00:00", "2023-06-05 23:00", freq="h")  # Friday .. Monday, 96 bars
    planted = full[30:33].append(full[50:51])  # Saturday 06:00-08:00 and Sunday 02:00
    have = full.difference(planted)
    gaps, info = find_gaps(have, "H1", "24/7")
    assert [(g.first, g.bars) for g in gaps] == [(full[30], 3), (full[50], 1)]
    assert all(g.spans_weekend for g in gaps) and info["expected"] == 96
    carried = apply_gap_policy(_bars(have), gaps, timeframe("H1"), "carry", "24/7")
    assert carried.index.equals(full)
    new = carried.loc[planted]
    last_close = _bars(have)["close"].asof(full[29])
    assert (new[["open", "high", "low", "close"]].to_numpy()[:3] == last_close).all()
    assert (new["volume"] == 0).all()
    assert apply_gap_policy(_bars(have), gaps, timeframe("H1"), "drop", "24/7").index.equals(have)


def test_weekend_is_no_gap_in_a_24_5_market_but_a_friday_hole_is():
    full = pd.date_range("2023-06-01 00:00", "2023-06-13 20:00", freq="4h")
    weekday = full[full.day_of_week < 5]
    have = weekday.difference(weekday[(weekday >= "2023-06-09 08:00") & (weekday < "2023-06-09 16:00")])
    gaps, _ = find_gaps(have, "H4", "24/5")
    assert [(g.first, g.bars) for g in gaps] == [(pd.Timestamp("2023-06-09 08:00"), 2)]
    assert find_gaps(weekday, "H4", "24/5")[0] == []
    gaps7, _ = find_gaps(weekday, "H4", "24/7")  # the same bars judged as a 24/7 market: each weekend is a gap
    assert [g.bars for g in gaps7] == [12, 12]


def test_exchange_calendar_expects_bars_in_its_sessions_only():
    slots = pd.date_range("2023-07-03 12:00", "2023-07-05 23:00", freq="h")  # 3 July early close, 4 July holiday
    mask = pd.Series(expected_mask(slots, timeframe("H1"), "XNYS"), index=slots)
    # 2023-07-03 13:30-17:00 UTC (early close at 13:00 New York); 2023-07-05 13:30-20:00 UTC
    assert list(mask[mask].index) == list(pd.date_range("2023-07-03 13:00", periods=4, freq="h")) + list(
        pd.date_range("2023-07-05 13:00", periods=7, freq="h")
    )


# ------------------------------------------------------------------------------------------- the real folders
def _need_data():
    if not INTRADAY.is_dir():
        pytest.fail(f"intraday data not found at {INTRADAY}; ../shared must sit beside the repository")


@pytest.mark.parametrize(
    "name,symbols",
    [
        ("fx_h4", ["AUDCAD", "AUDCHF", "EURUSD"]),
        ("crypto_h1", ["BTCUSD", "LINKUSDT"]),
        ("indices_h1", ["USA500IDXUSD"]),
        ("commodities_h1", ["XAGUSD"]),
    ],
)
def test_check_of_the_real_folders(name, symbols):
    from volts.data.intraday_source import check_intraday_folder

    _need_data()
    settings = load_settings(REPO / "examples" / f"intraday_{name}.toml")
    checks, report = check_intraday_folder(settings.data, INTRADAY / name, symbols=symbols)
    assert report.ok and [c.symbol for c in checks] == symbols
    by = {c.symbol: c for c in checks}
    for c in checks:
        assert c.rows > 20_000 and c.last.startswith("2023-09-11")
    if name == "fx_h4":  # the two header-less files: one tab-, one comma-separated, with stamps without seconds
        assert by["AUDCAD"].layout == "tab, no header" and by["AUDCHF"].layout == "comma, no header"
        assert by["AUDCAD"].first == "2007-01-24 16:00" and by["AUDCAD"].rows == 26660
        assert by["EURUSD"].layout == "tab, header"
        assert by["AUDCAD"].off_calendar > 0  # the Sunday-evening bars before the 24/5 week opens
    if name == "crypto_h1":  # missing hours in a 24/7 market, each reported with the policy
        btc = by["BTCUSD"]
        assert btc.rows == 39214 and btc.gaps > 0 and btc.missing_bars > 10_000 and btc.weekend_gaps > 0
        assert sum(1 for p in report.problems if p.symbol == "BTCUSD" and p.rule == "gap") == btc.gaps
        assert any(p.rule == "non_positive_price" and p.action == "dropped" for p in by["LINKUSDT"].notes)


def test_cli_check_exits_0_on_commodities_and_3_under_gap_policy_error(capsys, tmp_path):
    from volts.cli import main

    _need_data()
    folder = tmp_path / "one"  # one real file, read in place through a link (keeps the test fast)
    folder.mkdir()
    (folder / "XAGUSD.csv").symlink_to(INTRADAY / "commodities_h1" / "XAGUSD.csv")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        (REPO / "examples" / "intraday_commodities_h1.toml").read_text().replace('"BRENTCMDUSD", "XAGUSD"', '"XAGUSD"')
    )
    assert main(["data", "check", "--config", str(cfg), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "XAGUSD" in out and "gap policy drop" in out and "1 file(s)" in out
    cfg.write_text(cfg.read_text().replace('gap_policy = "drop"', 'gap_policy = "error"'))
    assert main(["data", "check", "--config", str(cfg), str(folder)]) == 3
    err = capsys.readouterr().err
    assert "gap" in err and "data.gap_policy" in err


def test_load_intraday_market_aligns_symbols(tmp_path):
    from volts.data.intraday_source import load_intraday_market

    idx = pd.date_range("2023-06-01", periods=72, freq="h")
    for sym, drop in (("AAA", [10, 11]), ("BBB", [40])):
        b = _bars(idx.delete(drop))
        b.index = b.index.strftime("%Y-%m-%d %H:%M:%S")
        b.to_csv(tmp_path / f"{sym}.csv", sep="\t", header=False)
    data = parse_settings(
        {
            "data": {
                "dir": str(tmp_path),
                "universe": ["AAA", "BBB"],
                "timeframe": "H1",
                "calendar": "24/7",
                "gap_policy": "drop",
            }
        }
    ).data
    market = load_intraday_market(data)
    assert len(market) == 72 - 3 and market.symbols == ["AAA", "BBB"]
    assert market.report.rows_dropped == {"AAA": 1, "BBB": 2}
    carried = load_intraday_market(data.model_copy(update={"gap_policy": "carry"}))
    assert len(carried) == 72 and carried.report.rows_filled == {"AAA": 2, "BBB": 1}
    with pytest.raises(DataError, match="gap_policy"):
        load_intraday_market(data.model_copy(update={"gap_policy": "error"}))


def test_a_stamp_made_ambiguous_by_daylight_saving_is_an_error(tmp_path):
    path = tmp_path / "X.csv"
    # 2023-11-05 01:00 happens twice in New York (clocks go back at 02:00 EDT)
    path.write_text("2023-11-05 00:00\t1\t1\t1\t1\t1\n2023-11-05 01:00\t1\t1\t1\t1\t1")
    with pytest.raises(DataError, match=r"X.csv: .*America/New_York.*daylight-saving") as info:
        read_intraday_csv(path, "X", timezone="America/New_York")
    assert info.value.rule == "bad_timezone"
