"""``volts data check``: exit 0 on the reference data, exit 3 with a one-line message on every bad input."""

from __future__ import annotations

import pytest

from volts.cli import main

from tests.data._fixtures import HEADER, real_rows, set_cell, write_rows


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Run from an empty folder so that no ./config.toml is picked up: built-in defaults."""
    run = tmp_path / "cwd"
    run.mkdir()
    monkeypatch.chdir(run)


def _run(capsys, *args):
    rc = main(["data", "check", *map(str, args)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out, out.err


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.slow
def test_reference_data_is_clean(capsys, ref_data_dir):
    rc, out, err = _run(capsys, ref_data_dir)
    assert rc == 0, err
    files = sorted(p.stem for p in ref_data_dir.glob("*.csv"))
    assert len(files) == 31
    table_rows = [ln for ln in out.splitlines() if ln.startswith("│")]
    assert [ln.split("│")[1].strip() for ln in table_rows] == files
    assert "31 symbols, 0 problems" in out
    spy = next(ln for ln in table_rows if ln.split("│")[1].strip() == "SPY")
    last_spy = (ref_data_dir / "SPY.csv").read_text().strip().splitlines()[-1][:10]
    assert last_spy in spy  # each file on its own calendar: SPY ends before the stocks
    assert err == ""


def test_synthetic_source_is_clean(capsys):
    rc, out, err = _run(capsys, "--source", "synthetic")
    assert rc == 0, err
    assert "10 symbols, 0 problems" in out


# ---------------------------------------------------------------------------------------- bad inputs
def _rows():
    return real_rows("MSFT", "2023-01-03", "2023-02-28")


def _swap(rows, i):
    out = [list(r) for r in rows]
    out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _split(rows, i, ratio=10):
    out = [list(r) for r in rows]
    for r in out[i:]:
        for j in range(1, 6):
            r[j] = f"{float(r[j]) / ratio:.6f}"
        r[6] = str(int(r[6]) * ratio)
    return out


ROWS = _rows()
BAR_CASES = {
    # name: (rows of BAD.csv, expected date in the message, expected rule)
    "duplicate dates": (ROWS[:11] + [ROWS[10]] + ROWS[11:], ROWS[10][0], "duplicate_date"),
    "unsorted dates": (_swap(ROWS, 10), ROWS[10][0], "unsorted_date"),
    "NaN price": (set_cell(ROWS, 10, "Close", ""), ROWS[10][0], "nan"),
    "zero price": (set_cell(ROWS, 10, "Open", "0"), ROWS[10][0], "non_positive_price"),
    "High below Close": (
        set_cell(ROWS, 10, "High", f"{float(ROWS[10][4]) - 1:.6f}"),
        ROWS[10][0],
        "high_below_max_open_close",
    ),
    "10:1 unadjusted split": (_split(ROWS, 15), ROWS[15][0], "return_jump"),
}


@pytest.mark.parametrize("case", list(BAR_CASES))
def test_bad_bar_exits_3_naming_file_date_rule(capsys, tmp_path, case):
    rows, date, rule = BAR_CASES[case]
    write_rows(tmp_path / "d", "GOOD", ROWS)
    write_rows(tmp_path / "d", "BAD", rows)
    rc, out, err = _run(capsys, tmp_path / "d")
    assert rc == 3
    line = _error_line(err)
    assert "BAD.csv: BAD" in line and date in line and rule in line
    assert f"problem: {tmp_path / 'd' / 'BAD.csv'}: BAD {date}: {rule}" in out  # listed in full too
    assert "GOOD.csv" not in line


FILE_CASES = {
    "empty file": ("", "empty_file"),
    "missing column": (
        HEADER.replace("High,", "") + "\n" + "".join(",".join(r[:2] + r[3:]) + "\n" for r in ROWS),
        "missing_column",
    ),
    "unparsable date": (
        HEADER + "\n" + "".join(",".join(r) + "\n" for r in set_cell(ROWS, 4, "Date", "04/01/23")),
        "bad_date",
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_file_exits_3_naming_file_and_rule(capsys, tmp_path, case):
    text, rule = FILE_CASES[case]
    write_rows(tmp_path / "d", "GOOD", ROWS)
    (tmp_path / "d" / "BAD.csv").write_text(text)
    rc, out, err = _run(capsys, tmp_path / "d")
    assert rc == 3
    line = _error_line(err)
    assert "BAD.csv: BAD" in line and rule in line
    if case == "unparsable date":
        assert "'04/01/23'" in line and "line 6" in line
    if case == "missing column":
        assert "'High'" in line


def test_no_rows_in_the_requested_window(capsys, tmp_path):
    write_rows(tmp_path / "d", "BAD", ROWS)
    rc, out, err = _run(capsys, tmp_path / "d", "--start", "2030-01-01", "--end", "2030-12-31")
    assert rc == 3
    line = _error_line(err)
    assert "BAD.csv: BAD" in line and "no_rows_in_window" in line and "2030-01-01" in line


def test_two_symbols_on_different_calendars(capsys, tmp_path):
    write_rows(tmp_path / "d", "GOOD", ROWS)
    write_rows(tmp_path / "d", "BAD", [r for r in real_rows("IBM", "2023-01-03", "2023-02-28") if r[0] != "2023-02-07"])
    rc, out, err = _run(capsys, tmp_path / "d")
    assert rc == 0  # each file on its own calendar by default
    rc, out, err = _run(capsys, tmp_path / "d", "--common-calendar")
    assert rc == 3
    line = _error_line(err)
    assert "BAD.csv: BAD 2023-02-07" in line and "missing_bar" in line


def test_directory_with_no_csv_files(capsys, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "README.txt").write_text("nothing here")
    rc, out, err = _run(capsys, tmp_path / "d")
    assert rc == 3
    line = _error_line(err)
    assert str(tmp_path / "d") in line and "no CSV files" in line


def test_non_existent_path(capsys, tmp_path):
    rc, out, err = _run(capsys, tmp_path / "nowhere")
    assert rc == 3
    line = _error_line(err)
    assert str(tmp_path / "nowhere") in line and "not found" in line


# ------------------------------------------------------------------------------------------- options
def test_old_problem_is_a_note_unless_all_dates(capsys, tmp_path):
    rows = real_rows("MSFT", "2018-01-02", "2019-12-31")
    old = rows[5][0]
    write_rows(tmp_path / "d", "MSFT", set_cell(rows, 5, "High", "1.0"))
    rc, out, err = _run(capsys, tmp_path / "d")  # default span starts at the earliest window (2019-06-01)
    assert rc == 0 and f"note: {tmp_path / 'd' / 'MSFT.csv'}: MSFT {old}" in out and "1 note" in out
    rc, out, err = _run(capsys, tmp_path / "d", "--all-dates")
    assert rc == 3 and old in _error_line(err)


def test_usage_errors_exit_2(capsys, tmp_path):
    assert _run(capsys, tmp_path, "--source", "mt5")[0] == 2
    assert _run(capsys, "--source", "bogus")[0] == 2
    assert _run(capsys, tmp_path, "--start", "2023-13-01")[0] == 2
    assert _run(capsys, tmp_path, "--start", "2023-02-01", "--end", "2023-01-01")[0] == 2
