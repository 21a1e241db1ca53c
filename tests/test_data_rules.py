"""Every input series goes through the data rules, and the walk-forward applies them as ``volts select`` does.

The runs are short (two weekly re-selections) on copies of the reference files in ``tmp_path``, edited to hold
exactly the bad inputs a user met: a SPY close x1000, a negative SPY close.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PAPER_UNIVERSE, REPO

START, END = "2023-06-05", "2023-06-20"  # two complete weeks (as-of 2023-06-09 and 2023-06-16), traded to 06-20


def _copy_reference(ref_data_dir: Path, dest: Path, symbols=(*PAPER_UNIVERSE, "SPY")) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for sym in symbols:
        shutil.copy(ref_data_dir / f"{sym}.csv", dest / f"{sym}.csv")
    return dest


def _edit(path: Path, date: str, column: str, fn) -> None:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = raw.index[raw["Date"] == date]
    assert len(row) == 1, f"{path} has no row {date}"
    raw.loc[row, column] = [f"{fn(float(v)):.6f}" for v in raw.loc[row, column]]
    raw.to_csv(path, index=False)


def _config(tmp_path: Path, **data) -> Path:
    """config.toml with some ``[data]`` keys replaced (written beside the test's files)."""
    text = (REPO / "config.toml").read_text()
    lines = text.splitlines()
    in_data = False
    for i, line in enumerate(lines):
        if line.startswith("["):
            in_data = line.strip() == "[data]"
            continue
        key = line.split("=", 1)[0].strip()
        if in_data and key in data:
            lines[i] = f"{key} = {json.dumps(data.pop(key))}"
    if data:  # keys not in the file: add them at the top of [data]
        at = lines.index("[data]") + 1
        lines[at:at] = [f"{k} = {json.dumps(v)}" for k, v in data.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _walkforward(capsys, config: Path, data_dir: Path, out: Path, start=START, end=END, extra=()):
    from volts.cli import main

    rc = main(
        [
            "walkforward",
            "--config",
            str(config),
            "--data-dir",
            str(data_dir),
            "--start",
            start,
            "--end",
            end,
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture(scope="module")
def week_cache(tmp_path_factory, ref_data_dir) -> Path:
    """The two weeks' selections of the clean reference copy (SPY never enters a week's data hash, so the runs
    below with an edited SPY file reuse them)."""
    from volts.core.config import load_settings
    from volts.evaluation.walkforward import run_walkforward

    base = tmp_path_factory.mktemp("weeks")
    data = _copy_reference(ref_data_dir, base / "data")
    settings = load_settings(REPO / "config.toml").override(**{"data.dir": str(data), "data.return_jump": "flag"})
    run_walkforward(settings, start=START, end=END, out=base / "wf", report=False)
    return base / "wf" / "weeks"


def _out_with_cache(tmp_path: Path, week_cache: Path) -> Path:
    out = tmp_path / "wf"
    shutil.copytree(week_cache, out / "weeks")
    return out


# ------------------------------------------------------------------------------------------ SPY benchmark
@pytest.mark.slow
@pytest.mark.parametrize("scale, rule", [(1000.0, "high_below_max_open_close"), (-1.0, "non_positive_price")])
def test_a_bad_spy_close_stops_the_walkforward_naming_file_date_and_rule(
    tmp_path, ref_data_dir, week_cache, capsys, scale, rule
):
    data = _copy_reference(ref_data_dir, tmp_path / "data")
    _edit(data / "SPY.csv", "2023-06-14", "Close", lambda c: c * scale)
    rc, out, err = _walkforward(capsys, REPO / "config.toml", data, _out_with_cache(tmp_path, week_cache))
    assert rc == 3, out + err
    assert str(data / "SPY.csv") in err and "SPY 2023-06-14" in err and rule in err
    assert "data.on_invalid = 'drop'" in err  # the fix is suggested
    assert not (tmp_path / "wf" / "results").exists()


@pytest.mark.slow
def test_a_bad_spy_row_is_dropped_and_reported_under_on_invalid_drop(tmp_path, ref_data_dir, week_cache, capsys):
    data = _copy_reference(ref_data_dir, tmp_path / "data")
    _edit(data / "SPY.csv", "2023-06-14", "Close", lambda c: c * 1000.0)
    config = _config(tmp_path, on_invalid="drop")
    rc, out, err = _walkforward(capsys, config, data, _out_with_cache(tmp_path, week_cache))
    assert rc == 0, out + err
    assert "SPY benchmark data: 1 row(s) dropped" in out and "2023-06-14 high_below_max_open_close" in out
    metrics = json.loads((tmp_path / "wf" / "results" / "metrics.json").read_text())
    rows = metrics["benchmark_data_quality"]["spy"]
    assert [(r["date"], r["rule"], r["action"]) for r in rows] == [
        ("2023-06-14", "high_below_max_open_close", "dropped")
    ]
    # SPY then lacks a session of the span: the benchmark is left out, with the reason, never computed on garbage
    assert "spy" not in metrics["benchmarks"]
    assert "dropped under data.on_invalid" in metrics["benchmarks_omitted"]["spy"]
    report = (tmp_path / "wf" / "results" / "report.md").read_text()
    assert "2023-06-14 high_below_max_open_close (dropped)" in report


# ------------------------------------------------------------------ fewer than two mid-volatility names
@pytest.mark.slow
@pytest.mark.parametrize("command", ["select", "run"])
def test_fewer_than_two_mid_volatility_names_is_a_result_not_a_data_error(tmp_path, ref_data_dir, capsys, command):
    """KO, PG and TSLA as of 2023-06-08: the regimes leave no mid-volatility name. That is an answer (no pair,
    the regime table written, exit 0), not bad data (it used to stop with exit 3)."""
    from volts.cli import main

    config = _config(tmp_path, universe=["KO", "PG", "TSLA"])
    rc = main(
        [
            command,
            "--config",
            str(config),
            "--data-dir",
            str(ref_data_dir),
            "--asof",
            "2023-06-08",
            "--out",
            str(tmp_path / "runs"),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.out + captured.err
    sel = json.loads((tmp_path / "runs" / "2023-06-08" / "selection.json").read_text())
    assert len(sel["candidates"]) < 2 and sel["pairs"] == []
    assert sorted(sel["volatility_clusters"]) == ["KO", "PG", "TSLA"]  # the regime of every name
    assert any("mid-volatility" in w and "no pair" in w for w in sel["warnings"])
    assert (tmp_path / "runs" / "2023-06-08" / "volatility_regimes.png").is_file()


# --------------------------------------------------------------- one dropped bar under on_bad_symbol = exclude
@pytest.mark.slow
def test_one_dropped_bar_keeps_the_symbol_and_is_counted(tmp_path, ref_data_dir, capsys):
    """on_invalid = "drop" with the per-symbol quarantine: MSFT's negative close of 2023-03-14 is dropped. MSFT used
    to leave as "incomplete history" (the session it then lacked) while the summary said "0 row(s) dropped"."""
    from volts.cli import main

    data = _copy_reference(ref_data_dir, tmp_path / "data", PAPER_UNIVERSE)
    _edit(data / "MSFT.csv", "2023-03-14", "Close", lambda c: -c)
    config = _config(tmp_path, on_invalid="drop", on_bad_symbol="exclude")
    rc = main(
        [
            "select",
            "--config",
            str(config),
            "--data-dir",
            str(data),
            "--asof",
            "2023-06-08",
            "--out",
            str(tmp_path / "runs"),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.out + captured.err
    assert "10 of 10 members had usable data" in captured.out
    sel = json.loads((tmp_path / "runs" / "2023-06-08" / "selection.json").read_text())
    assert "MSFT" in sel["universe"] and not sel["universe_coverage"]["excluded"]
    quality = sel["data_quality"]
    assert [(f["symbol"], f["date"], f["rule"]) for f in quality["findings"] if f["rule"] == "non_positive_price"] == [
        ("MSFT", "2023-03-14", "non_positive_price")
    ]
    # the session goes for every member (one calendar), and every row that went is counted
    assert quality["rows_dropped"] == {s: 1 for s in PAPER_UNIVERSE}
    assert "data: 10 row(s) dropped" in captured.out


# ------------------------------------------------- the walk-forward applies select's window-coverage rule
def _late_listing(ref_data_dir: Path, dest: Path) -> Path:
    """The paper's ten names and SPY, TSLA's file cut to start on 2019-06-12: the anomaly window of the week as of
    2023-06-09 starts 2019-06-02 (not covered), that of 2023-06-16 on 2019-06-09 (three days before: covered)."""
    data = _copy_reference(ref_data_dir, dest)
    raw = pd.read_csv(data / "TSLA.csv", dtype=str, keep_default_na=False)
    raw[raw["Date"] >= "2019-06-12"].to_csv(data / "TSLA.csv", index=False)
    return data


@pytest.mark.slow
def test_a_late_listing_under_drop_dates_stops_the_walkforward_naming_week_window_and_symbol(
    tmp_path, ref_data_dir, capsys
):
    """It used to start silently at the first covered week under a title claiming the requested start."""
    data = _late_listing(ref_data_dir, tmp_path / "data")
    config = _config(tmp_path, missing="drop_dates")
    rc, out, err = _walkforward(capsys, config, data, tmp_path / "wf")
    assert rc == 3, out + err
    assert "week as of 2023-06-09" in err and "anomaly window 2019-06-02 .. 2023-05-02" in err
    assert "bars start only on 2019-06-12" in err and "TSLA" in err and "data 2019-06-12 .." in err
    assert "data.window_coverage = 'warn'" in err
    assert not (tmp_path / "wf" / "weeks").exists() or not list((tmp_path / "wf" / "weeks").iterdir())


@pytest.mark.slow
def test_under_window_coverage_warn_the_uncovered_week_is_left_out_and_reported(tmp_path, ref_data_dir, capsys):
    data = _late_listing(ref_data_dir, tmp_path / "data")
    config = _config(tmp_path, missing="drop_dates", window_coverage="warn")
    rc, out, err = _walkforward(capsys, config, data, tmp_path / "wf")
    assert rc == 0, out + err
    metrics = json.loads((tmp_path / "wf" / "results" / "metrics.json").read_text())
    assert [e["week"] for e in metrics["span"]["excluded_weeks"]] == ["2023-06-09"]
    assert "TSLA" in metrics["span"]["excluded_weeks"][0]["reason"]
    assert metrics["first_asof"] == "2023-06-16" and metrics["start"] == "2023-06-16"
    assert metrics["span"]["requested"] == {"start": START, "end": END}
    assert "1 of 2 requested week(s) left out" in out
    report = (tmp_path / "wf" / "results" / "report.md").read_text()
    assert report.startswith("# volts walk-forward: 2023-06-16 .. 2023-06-20")  # the span actually run
    assert "| 2023-06-09 |" in report


@pytest.mark.slow
def test_on_bad_symbol_exclude_leaves_a_late_listing_out_of_the_weeks_it_does_not_cover(tmp_path, ref_data_dir, capsys):
    """As `volts select` does for each date: the member is left out with its reason, every week runs."""
    data = _late_listing(ref_data_dir, tmp_path / "data")
    config = _config(tmp_path, on_bad_symbol="exclude")
    rc, out, err = _walkforward(capsys, config, data, tmp_path / "wf")
    assert rc == 0, out + err
    weeks = [json.loads(p.read_text()) for p in sorted((tmp_path / "wf" / "weeks").glob("*.json"))]
    assert [w["asof"] for w in weeks] == ["2023-06-09", "2023-06-16"]
    for w in weeks:
        assert "TSLA" not in w["universe"]
        assert [(e["symbol"], e["rule"]) for e in w["universe_coverage"]["excluded"]] == [
            ("TSLA", "incomplete_history")
        ]
    metrics = json.loads((tmp_path / "wf" / "results" / "metrics.json").read_text())
    assert [(e["symbol"], e["weeks"]) for e in metrics["universe"]["left_out"]] == [("TSLA", 2)]
    assert "TSLA left out of 2 week(s)" in out
    assert "| TSLA | incomplete_history |" in (tmp_path / "wf" / "results" / "report.md").read_text()
    # a selection as of the same date leaves TSLA out by the same rule
    from volts.cli import main

    assert (
        main(
            [
                "select",
                "--config",
                str(config),
                "--data-dir",
                str(data),
                "--asof",
                "2023-06-16",
                "--out",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    sel = json.loads((tmp_path / "runs" / "2023-06-16" / "selection.json").read_text())
    assert sel["universe"] == weeks[1]["universe"]


@pytest.mark.slow
@pytest.mark.parametrize("coverage", ["error", "warn"])
def test_an_end_after_the_data_is_an_error_or_a_reported_shortening(tmp_path, ref_data_dir, capsys, coverage):
    """The stock files end on 2024-03-08 (`volts select --asof` beyond the data stops the same way)."""
    data = _copy_reference(ref_data_dir, tmp_path / "data")
    config = _config(tmp_path, window_coverage=coverage)
    rc, out, err = _walkforward(capsys, config, data, tmp_path / "wf", start="2024-02-26", end="2024-06-28")
    if coverage == "error":
        assert rc == 3, out + err
        assert "--end 2024-06-28 is after the data's last date 2024-03-08" in err
        return
    assert rc == 0, out + err
    metrics = json.loads((tmp_path / "wf" / "results" / "metrics.json").read_text())
    assert metrics["end"] == "2024-03-08" and metrics["span"]["requested"]["end"] == "2024-06-28"
    assert "the run ends on 2024-03-08" in out
    report = (tmp_path / "wf" / "results" / "report.md").read_text()
    assert report.startswith("# volts walk-forward: 2024-02-26 .. 2024-03-08")
    assert "Requested 2024-02-26 .. 2024-06-28" in report


@pytest.mark.slow
def test_one_dropped_bar_in_the_walkforward_keeps_the_symbol_and_is_counted(tmp_path, ref_data_dir, capsys):
    """The walk-forward's weeks load their members as `volts select` does: MSFT's negative close is dropped and
    counted, MSFT stays in every week (it used to leave as "incomplete history" with "0 rows dropped")."""
    data = _copy_reference(ref_data_dir, tmp_path / "data")
    _edit(data / "MSFT.csv", "2023-03-14", "Close", lambda c: -c)
    config = _config(tmp_path, on_invalid="drop", on_bad_symbol="exclude")
    rc, out, err = _walkforward(capsys, config, data, tmp_path / "wf")
    assert rc == 0, out + err
    weeks = [json.loads(p.read_text()) for p in sorted((tmp_path / "wf" / "weeks").glob("*.json"))]
    assert len(weeks) == 2 and all("MSFT" in w["universe"] and not w["universe_coverage"]["excluded"] for w in weeks)
    metrics = json.loads((tmp_path / "wf" / "results" / "metrics.json").read_text())
    found = [(f["symbol"], f["date"], f["rule"], f["action"]) for f in metrics["data_quality"]["findings"]]
    assert ("MSFT", "2023-03-14", "non_positive_price", "dropped") in found
    assert metrics["data_quality"]["rows_dropped"]["MSFT"] == 1
    assert "data: 0 row(s) dropped" not in out and "non_positive_price 1" in out


def test_the_lead_lag_portfolios_spy_leg_is_validated_too(tmp_path, ref_data_dir, paper_market):
    """The daily lead-lag portfolio finances its book with SPY: the same file, the same rules."""
    from volts.trading.strategies.lead_lag_portfolio import _spy_bars
    from volts.core.config import Settings
    from volts.core.errors import DataError

    data = _copy_reference(ref_data_dir, tmp_path / "data", ("SPY",))
    settings = Settings().override(**{"data.dir": str(data)})
    market = paper_market.slice("2023-01-03", "2023-12-29")
    clean = _spy_bars(market, settings)
    assert clean.index[0] == pd.Timestamp("2023-01-03") and (clean["close"] > 0).all()
    _edit(data / "SPY.csv", "2023-06-14", "Close", lambda c: -c)
    with pytest.raises(DataError, match=r"SPY 2023-06-14: non_positive_price"):
        _spy_bars(market, settings)


@pytest.mark.slow
def test_a_start_before_the_data_is_an_error_naming_the_first_covered_week(tmp_path, ref_data_dir, capsys):
    """The files start on 2000-01-03; the windows of a week in January 2002 reach back four years."""
    data = _copy_reference(ref_data_dir, tmp_path / "data", ("MSFT", "IBM", "INTC"))
    config = _config(tmp_path, universe=["MSFT", "IBM", "INTC"])
    rc, out, err = _walkforward(capsys, config, data, tmp_path / "wf", start="2002-01-07", end="2004-06-30")
    assert rc == 3, out + err
    assert (
        "week as of 2002-01-11: anomaly window 1998-01-04 .. 2001-12-04" in err
        and "bars start only on 2000-01-03" in err
    )
    assert "+103 more week(s)" in err and "the first week the data cover is 2004-01-09" in err
