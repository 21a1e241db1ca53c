"""The CSV source: Yahoo layout, other vendor layouts, and one-line errors for bad files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from volts.core.config import CsvLayout
from volts.data.csv import list_symbols, load_csv_market, read_csv_bars
from volts.core.errors import DataError

from tests.data._fixtures import HEADER, real_rows, set_cell, write_rows


def test_reads_yahoo_open_high_low_close_not_adj_close(tmp_path, ref_data_dir):
    market = load_csv_market(ref_data_dir, symbols=["MSFT"], start="2023-01-03", end="2023-03-31")
    rows = real_rows("MSFT", "2023-01-03", "2023-03-31")
    assert len(market) == len(rows)
    assert list(market.dates.strftime("%Y-%m-%d")) == [r[0] for r in rows]
    for j, field in enumerate(("open", "high", "low", "close"), start=1):
        np.testing.assert_array_equal(market.field(field)["MSFT"].to_numpy(), [float(r[j]) for r in rows])
    np.testing.assert_array_equal(market.volume["MSFT"].to_numpy(), [float(r[6]) for r in rows])
    adj = np.array([float(r[5]) for r in rows])
    assert not np.allclose(market.close["MSFT"].to_numpy(), adj)  # Close differs from Adj Close here
    assert market.dates.tz is None and (market.dates == market.dates.normalize()).all()


def test_paper_fixture_matches_reference_spot_values(paper_market):
    # README of the reference data: Close on 2023-12-29
    spot = {
        "MSFT": 376.04,
        "GOOGL": 139.69,
        "MU": 85.34,
        "NVDA": 495.22,
        "AMZN": 151.94,
        "META": 353.96,
        "QCOM": 144.63,
        "IBM": 163.55,
        "INTC": 50.25,
        "TSLA": 248.48,
    }
    last = paper_market.close.loc["2023-12-29"]
    for s, v in spot.items():
        assert last[s] == pytest.approx(v, abs=0.006)
    assert len(paper_market) == 1258 and paper_market.report.ok and paper_market.report.problems == ()


def _vendor_line(r):
    date = pd.Timestamp(r[0]).strftime("%m/%d/%Y")
    volume = f"{int(r[6]):,}"
    # Date,Close,Volume,Open,High,Low with $ signs and a quoted, comma-grouped volume
    return f'{date},${r[4]},"{volume}",${r[1]},${r[2]},${r[3]}'


def test_vendor_layout_loads_the_same_bars_as_yahoo(tmp_path):
    rows = real_rows("MSFT", "2022-10-03", "2023-03-31")
    write_rows(tmp_path / "yahoo", "MSFT", rows)
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    lines = [_vendor_line(r) for r in reversed(rows)]  # newest first
    (vendor / "MSFT.csv").write_text("Date,Close,Volume,Open,High,Low\n" + "\n".join(lines) + "\n")
    assert '"' in lines[0] and "$" in lines[0] and "," in lines[0].split('"')[1]
    layout = CsvLayout(date_format="%m/%d/%Y", row_order="descending")
    a = load_csv_market(tmp_path / "yahoo", symbols=["MSFT"])
    b = load_csv_market(vendor, symbols=["MSFT"], layout=layout)
    assert a.sha256() == b.sha256()
    for f in ("open", "high", "low", "close", "volume"):
        pd.testing.assert_frame_equal(a.field(f), b.field(f))
    # the same vendor file read as ascending is refused, with a hint
    with pytest.raises(DataError, match="unsorted_date.*row_order = 'descending'"):
        load_csv_market(vendor, symbols=["MSFT"], layout=CsvLayout(date_format="%m/%d/%Y"))


def test_thousands_in_prices_and_other_column_names(tmp_path):
    (tmp_path / "X.csv").write_text(
        "day;o;h;l;c\n"
        '2023-01-02;"$1,200.50";"$1,210.00";"$1,190.25";"$1,205.75"\n'
        '2023-01-03;"$1,205.00";"$1,220.00";"$1,201.00";"$1,215.00"\n'.replace(";", ",")
    )
    layout = CsvLayout(date="day", open="o", high="h", low="l", close="c", volume=None)
    m = load_csv_market(tmp_path, layout=layout)
    np.testing.assert_array_equal(m.close["X"].to_numpy(), [1205.75, 1215.0])
    np.testing.assert_array_equal(m.low["X"].to_numpy(), [1190.25, 1201.0])
    assert (m.volume["X"] == 0).all()


def test_timestamps_with_time_and_offset_become_exchange_dates(tmp_path):
    (tmp_path / "X.csv").write_text(
        HEADER + "\n"
        "2023-01-03T16:00:00-05:00,10,11,9,10.5,10.5,100\n"
        "2023-01-04T16:00:00-05:00,10.5,11,10,10.8,10.8,100\n"
    )
    frame = read_csv_bars(tmp_path / "X.csv", "X")
    assert list(frame.index.strftime("%Y-%m-%d %H:%M")) == ["2023-01-03 00:00", "2023-01-04 00:00"]
    assert frame.index.tz is None


def test_missing_cells_become_nan_and_fail_as_nan_bars(tmp_path):
    rows = set_cell(real_rows("MSFT", "2023-01-03", "2023-01-31"), 4, "Close", "null")
    write_rows(tmp_path, "MSFT", rows)
    with pytest.raises(DataError, match=f"MSFT {rows[4][0]}: nan: missing value in close"):
        load_csv_market(tmp_path)


# --------------------------------------------------------------------------------------- reader errors
def _assert_one_line(exc, *parts):
    msg = str(exc)
    assert "\n" not in msg
    for p in parts:
        assert p in msg, (p, msg)


def test_empty_file(tmp_path):
    (tmp_path / "E.csv").write_text("")
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path)
    _assert_one_line(info.value, "E.csv", "empty file")
    (tmp_path / "E.csv").write_text(HEADER + "\n")
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path)
    _assert_one_line(info.value, "E.csv", "empty file", "no data rows")


def test_missing_column(tmp_path):
    rows = [r[:2] + r[3:] for r in real_rows("MSFT", "2023-01-03", "2023-01-31")]
    write_rows(tmp_path, "MSFT", rows, header="Date,Open,Low,Close,Adj Close,Volume")
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path)
    _assert_one_line(info.value, "MSFT.csv", "missing column 'High'")
    assert info.value.rule == "missing_column"


def test_unparsable_date_names_raw_text_and_line(tmp_path):
    rows = set_cell(real_rows("MSFT", "2023-01-03", "2023-01-31"), 6, "Date", "2023-13-45")
    write_rows(tmp_path, "MSFT", rows)
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path)
    _assert_one_line(info.value, "MSFT.csv", "unparsable date '2023-13-45'", "line 8")


def test_unparsable_number_names_column_line_and_date(tmp_path):
    rows = set_cell(real_rows("MSFT", "2023-01-03", "2023-01-31"), 2, "High", "12x.5")
    write_rows(tmp_path, "MSFT", rows)
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path)
    _assert_one_line(info.value, "MSFT.csv", "unparsable number '12x.5'", "column 'High'", "line 4", rows[2][0])
    assert info.value.rule == "bad_number"


def test_missing_symbol_file_no_csvs_and_missing_path(tmp_path):
    write_rows(tmp_path / "d", "MSFT", real_rows("MSFT", "2023-01-03", "2023-01-31"))
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path / "d", symbols=["MSFT", "NOPE"])
    _assert_one_line(info.value, "NOPE.csv", "file not found", "NOPE")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a csv")
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path / "empty")
    _assert_one_line(info.value, "empty", "no CSV files")
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path / "nowhere")
    _assert_one_line(info.value, "nowhere", "not found")
    with pytest.raises(DataError, match="not found"):
        load_csv_market(tmp_path / "nowhere", symbols=["MSFT"])


def test_no_rows_in_requested_window(tmp_path):
    write_rows(tmp_path, "MSFT", real_rows("MSFT", "2023-01-03", "2023-01-31"))
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path, start="2023-06-01", end="2023-06-30")
    _assert_one_line(info.value, "MSFT.csv", "no_rows_in_window", "2023-06-01", "2023-01-03 .. 2023-01-31")


def test_two_symbols_on_different_calendars(tmp_path):
    msft = real_rows("MSFT", "2023-01-03", "2023-02-28")
    ibm = [r for r in real_rows("IBM", "2023-01-03", "2023-02-28") if r[0] not in ("2023-01-18", "2023-02-07")]
    write_rows(tmp_path, "MSFT", msft)
    write_rows(tmp_path, "IBM", ibm)
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path)
    _assert_one_line(info.value, "IBM.csv", "IBM 2023-01-18", "missing_bar", "2 such dates")
    m = load_csv_market(tmp_path, missing="drop_dates")
    assert len(m) == len(msft) - 2 and m.report.rows_dropped == {"IBM": 0, "MSFT": 2}
    m = load_csv_market(tmp_path, missing="forward_fill_close")
    assert len(m) == len(msft) and m.report.rows_filled == {"IBM": 2, "MSFT": 0}


def test_list_symbols_follows_the_file_pattern(tmp_path):
    for name in ("b_px.csv", "a_px.csv", "c.csv", "notes.txt"):
        (tmp_path / name).write_text(HEADER + "\n")
    assert list_symbols(tmp_path, CsvLayout(file_pattern="{symbol}_px.csv")) == ["a", "b"]
    assert list_symbols(tmp_path) == ["a_px", "b_px", "c"]


def test_old_bad_print_outside_the_window_does_not_block_a_run(tmp_path):
    rows = real_rows("MSFT", "2022-01-03", "2023-03-31")
    bad_date = rows[10][0]
    rows = set_cell(rows, 10, "High", "1.0")
    write_rows(tmp_path, "MSFT", rows)
    m = load_csv_market(tmp_path, start="2023-01-01")
    assert m.dates[0] == pd.Timestamp("2023-01-03")
    (p,) = m.report.problems
    assert (p.date, p.rule, p.action) == (bad_date, "high_below_max_open_close", "flagged")
    with pytest.raises(DataError, match=bad_date):
        load_csv_market(tmp_path)
