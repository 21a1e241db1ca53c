"""load_market dispatch and check_source."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

from volts.core.config import DataSettings
from volts.data.csv import load_csv_market
from volts.data.sources import check_source, load_market
from volts.data.synthetic import make_synthetic_market
from volts.core.errors import DataError

from tests.data._fixtures import real_rows, set_cell, write_rows


def test_csv_source_uses_universe_layout_and_window(ref_data_dir):
    data = DataSettings(dir=str(ref_data_dir), universe=("MSFT", "IBM"))
    m = load_market(data, start="2023-01-01", end="2023-03-31")
    assert m.symbols == ["MSFT", "IBM"]
    ref = load_csv_market(ref_data_dir, symbols=["MSFT", "IBM"], start="2023-01-01", end="2023-03-31")
    assert m.sha256() == ref.sha256()
    assert load_market(data, symbols=["IBM"], end="2023-01-31").symbols == ["IBM"]


def test_csv_source_passes_the_policies(tmp_path):
    write_rows(tmp_path, "MSFT", set_cell(real_rows("MSFT", "2023-01-03", "2023-01-31"), 3, "Close", "0"))
    strict = DataSettings(dir=str(tmp_path), universe=("MSFT",))
    with pytest.raises(DataError, match="non_positive_price"):
        load_market(strict)
    lenient = strict.model_copy(update={"on_invalid": "drop"})
    assert load_market(lenient).report.rows_dropped == {"MSFT": 1}


def test_synthetic_source_ignores_the_paper_universe():
    data = DataSettings(source="synthetic")
    m = load_market(data, start="2022-11-01", end="2023-06-08")
    truth = make_synthetic_market().data
    assert m.symbols == truth.symbols
    assert m.dates[0] == pd.Timestamp("2022-11-01") and m.dates[-1] == pd.Timestamp("2023-06-08")
    assert load_market(data, symbols=["MID2", "MID1"]).symbols == ["MID2", "MID1"]


def test_mt5_source_is_delegated(monkeypatch):
    calls = []
    fake = types.ModuleType("volts.data.mt5")
    sentinel = object()

    def load_mt5_market(data, *, symbols, start, end):
        calls.append((data.source, symbols, start, end))
        return sentinel

    fake.load_mt5_market = load_mt5_market
    monkeypatch.setitem(sys.modules, "volts.data.mt5", fake)
    data = DataSettings(source="mt5", universe=("MU", "QCOM"))
    assert load_market(data, start="2023-01-01", end="2023-02-01") is sentinel
    assert calls == [("mt5", ["MU", "QCOM"], "2023-01-01", "2023-02-01")]


@pytest.mark.slow
def test_check_source_on_reference_data(ref_data_dir):
    summary, report = check_source(DataSettings(), ref_data_dir, start="2019-06-01")
    files = sorted(p.stem for p in ref_data_dir.glob("*.csv"))
    assert list(summary["symbol"]) == files and len(files) == 31
    assert (summary["problems"] == 0).all() and report.ok
    for symbol in ("SPY", "META", "MSFT"):  # first/last/rows of each file, read independently
        lines = (ref_data_dir / f"{symbol}.csv").read_text().strip().splitlines()[1:]
        row = summary.set_index("symbol").loc[symbol]
        assert (row["first"], row["last"], row["rows"]) == (lines[0][:10], lines[-1][:10], len(lines))


def test_check_source_collects_instead_of_raising(tmp_path):
    rows = real_rows("MSFT", "2023-01-03", "2023-01-31")
    write_rows(tmp_path, "A", set_cell(rows, 3, "Close", "0"))
    write_rows(tmp_path, "B", set_cell(rows, 5, "Date", "garbage"))
    (tmp_path / "C.csv").write_text("")
    write_rows(tmp_path, "D", rows)
    summary, report = check_source(DataSettings(), tmp_path)
    got = summary.set_index("symbol")["problems"].to_dict()
    assert got == {"A": 1, "B": 1, "C": 1, "D": 0}
    assert [(p.symbol, p.rule) for p in report.errors] == [
        ("A", "non_positive_price"),
        ("B", "bad_date"),
        ("C", "empty_file"),
    ]
    assert summary.set_index("symbol").loc["C", "first"] is None


def test_check_source_raises_only_for_an_unusable_path(tmp_path):
    with pytest.raises(DataError, match="not found"):
        check_source(DataSettings(), tmp_path / "missing")
    with pytest.raises(DataError, match="no CSV files"):
        check_source(DataSettings(), tmp_path)


def test_synthetic_source_uses_the_configured_seed():
    a = load_market(DataSettings(source="synthetic", synthetic_seed=3))
    assert a.sha256() == make_synthetic_market(seed=3).data.sha256()
    assert a.sha256() != load_market(DataSettings(source="synthetic")).sha256()
