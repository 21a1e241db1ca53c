"""The walk-forward over a point-in-time universe (issue 13): each week selects from the members of its as-of date.

A tiny membership file over the seeded synthetic market written as CSVs: a member that leaves between the two
weeks, a member without a file and a member whose file has a bad print inside the windows (quarantined with
``on_bad_symbol = "exclude"``). Two weeks of the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from volts.config import Settings
from volts.data.synthetic import make_synthetic_market, write_synthetic_csvs
from volts.walkforward import run_walkforward, trading_market

START, END = dt.date(2023, 7, 3), dt.date(2023, 7, 18)  # two complete weeks: 07-07, 07-14
W1, W2 = "2023-07-07", "2023-07-14"


def _edit(path: Path, day: str, fn) -> None:
    raw = pd.read_csv(path)
    i = raw.index[raw["Date"] == day][0]
    fn(raw, i)
    raw.to_csv(path, index=False)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pit")
    bars = root / "bars"
    write_synthetic_csvs(make_synthetic_market(seed=0), bars)

    def bad_high(raw, i):  # High below Close inside every week's windows
        raw.loc[i, "High"] = raw.loc[i, "Close"] * 0.9

    _edit(bars / "LOW2.csv", "2023-03-01", bad_high)
    rows = [(s, "2010-01-01", "") for s in ("LOW1", "LOW2", "MID1", "MID2", "MID3", "MID4", "MID5", "MID6",
                                              "HIGH1")]
    rows += [("HIGH2", "2010-01-01", "2023-07-10"),  # leaves the index between the two weeks
             ("GONE", "2012-05-01", "")]             # a member the vendor has no file for
    membership = root / "membership.csv"
    membership.write_text("ticker,start_date,end_date\n" + "".join(f"{t},{a},{b}\n" for t, a, b in rows))
    return bars, membership


@pytest.fixture(scope="module")
def settings(folders) -> Settings:
    bars, membership = folders
    return Settings().override(**{"data.dir": str(bars), "data.membership": str(membership),
                                  "data.on_bad_symbol": "exclude", "data.calendar": None,  # business days
                                  "data.return_jump": "flag"})


@pytest.fixture(scope="module")
def result(tmp_path_factory, settings):
    return run_walkforward(settings, start=START, end=END, out=tmp_path_factory.mktemp("wf-pit"))


def test_each_week_selects_from_its_members_with_bad_files_quarantined(result):
    w1, w2 = result.weeks
    assert [w1["asof"], w2["asof"]] == [W1, W2]
    # week 1: 11 members; GONE has no file, LOW2 fails validation; HIGH2 is still a member
    assert w1["universe_coverage"]["members"] == 11 and "HIGH2" in w1["universe"]
    assert set(w1["universe"]) == {"LOW1", "MID1", "MID2", "MID3", "MID4", "MID5", "MID6", "HIGH1", "HIGH2"}
    # week 2: HIGH2 left the index on 07-10, so it is no member and never selected from
    assert w2["universe_coverage"]["members"] == 10 and "HIGH2" not in w2["universe"]
    for w in (w1, w2):
        rules = {e["symbol"]: e["rule"] for e in w["universe_coverage"]["excluded"]}
        assert rules == {"LOW2": "high_below_max_open_close", "GONE": "no_file"}
        assert set(w["candidates"]) <= set(w["universe"])


def test_coverage_is_in_weeks_csv_metrics_and_report(result):
    table = pd.read_csv(result.folder / "weeks.csv")
    assert list(table["members"]) == [11, 10] and list(table["usable"]) == [9, 8]
    assert table["coverage"].iloc[0].startswith(f"universe as of {W1} (membership:membership.csv): 9 of 11 "
                                                f"members had usable data")
    metrics = json.loads((result.folder / "metrics.json").read_text())
    bad = metrics["universe"]["quarantined"]
    assert [(b["symbol"], b["rule"], b["date"], b["first_week"], b["last_week"]) for b in bad] == \
        [("LOW2", "high_below_max_open_close", "2023-03-01", W1, W2)]
    report = (result.folder / "report.md").read_text()
    assert "## Universe (point in time)" in report and "high_below_max_open_close" in report
    # a re-run reuses both weeks (the per-week data hash does not need the bars)
    again = run_walkforward(result_settings(result), start=START, end=END, out=result.folder.parent)
    assert again.stats["cached"] == 2 and again.weeks == result.weeks


def result_settings(result):
    m = json.loads((result.folder / "metrics.json").read_text())
    assert m["universe"]["source"] == "membership:membership.csv"
    bars = Path(m["universe"]["per_week"] and result.weeks[0]["universe_coverage"]["excluded"][0]["file"]).parent
    return Settings().override(**{"data.dir": str(bars), "data.membership": str(bars.parent / "membership.csv"),
                                  "data.on_bad_symbol": "exclude", "data.calendar": None,
                                  "data.return_jump": "flag"})


def test_trading_market_pads_a_late_listing_before_its_first_held_window(folders, settings, tmp_path):
    bars, _ = folders
    late = pd.read_csv(bars / "MID2.csv")
    late = late[late["Date"] >= "2019-07-03"]  # listed after week 1's earliest window start (2019-06-30)
    late.to_csv(bars / "LATE.csv", index=False)
    weeks = [{"asof": W1, "universe": ["LOW1", "MID1", "MID3"], "pairs": [{"leader": "MID1", "follower": "MID3",
                                                                          "lag": 1}]},
             {"asof": W2, "universe": ["LOW1", "MID1", "LATE"], "pairs": [{"leader": "MID1", "follower": "LATE",
                                                                          "lag": 1}]}]
    market, info = trading_market(settings, weeks, end=END)
    # read from week 2's earliest window start (2019-07-07): its first session 07-08; padded before it
    assert info["padded"] == {"LATE": "2019-07-08"} and info["symbols"] == ["LATE", "MID1", "MID3"]
    real = market.bars("LATE").loc["2019-07-08":]
    pd.testing.assert_frame_equal(real, pd.read_csv(bars / "LATE.csv", index_col=0, parse_dates=True)
                                  .rename(columns=str.lower).drop(columns="adj close").loc[real.index],
                                  check_names=False, check_freq=False, check_dtype=False)
    head = market.bars("LATE").loc[:"2019-07-05"]
    assert len(head) and (head["volume"] == 0).all() and (head["close"] == real["open"].iloc[0]).all()
    (bars / "LATE.csv").unlink()


def test_ablation_and_screen_comparison_refuse_a_membership_universe(settings, tmp_path, capsys):
    """--ablation and --compare-screens trade on one market of ``[data] universe``; with a membership file that
    list is not the weeks' universe (the built-in ten names here), so both refuse before loading anything rather
    than silently answer for other stocks. The CLI maps the refusal to the usage exit code."""
    from volts.cli import main
    from volts.errors import UsageError
    from volts.nulls import run_ablation
    from volts.screens.comparison import run_screen_comparison

    for run, option in ((run_ablation, "--ablation"), (run_screen_comparison, "--compare-screens")):
        with pytest.raises(UsageError, match=f"{option} does not support a point-in-time universe") as err:
            run(settings, start=START, end=END, out=tmp_path / option.strip("-"))
        assert "membership.csv" in str(err.value) and "10 names" in str(err.value)
        assert not (tmp_path / option.strip("-")).exists()
    config = tmp_path / "pit.toml"
    config.write_text(f'[data]\ndir = "{settings.data.dir}"\nmembership = "{settings.data.membership}"\n'
                      f'on_bad_symbol = "exclude"\n')
    capsys.readouterr()
    rc = main(["walkforward", "--config", str(config), "--start", str(START), "--end", str(END), "--ablation",
               "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert rc == 2 and "--ablation does not support a point-in-time universe" in " ".join(err.split()), err
