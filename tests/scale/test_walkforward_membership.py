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

from volts.core.config import Settings
from volts.core.errors import DataError
from volts.data.synthetic import make_synthetic_market, write_synthetic_csvs
from volts.evaluation.walkforward import run_walkforward, trading_market

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
    rows = [(s, "2010-01-01", "") for s in ("LOW1", "LOW2", "MID1", "MID2", "MID3", "MID4", "MID5", "MID6", "HIGH1")]
    rows += [
        ("HIGH2", "2010-01-01", "2023-07-10"),  # leaves the index between the two weeks
        ("GONE", "2012-05-01", ""),
    ]  # a member the vendor has no file for
    membership = root / "membership.csv"
    membership.write_text("ticker,start_date,end_date\n" + "".join(f"{t},{a},{b}\n" for t, a, b in rows))
    return bars, membership


@pytest.fixture(scope="module")
def settings(folders) -> Settings:
    bars, membership = folders
    return Settings().override(
        **{
            "data.dir": str(bars),
            "data.membership": str(membership),
            "data.on_bad_symbol": "exclude",
            "data.calendar": None,  # business days
            "data.return_jump": "flag",
        }
    )


@pytest.fixture(scope="module")
def result(tmp_path_factory, settings):
    return run_walkforward(settings, start=START, end=END, out=tmp_path_factory.mktemp("wf-pit"))


@pytest.mark.slow
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


@pytest.mark.slow
def test_coverage_is_in_weeks_csv_metrics_and_report(result):
    table = pd.read_csv(result.folder / "weeks.csv")
    assert list(table["members"]) == [11, 10] and list(table["usable"]) == [9, 8]
    assert (
        table["coverage"]
        .iloc[0]
        .startswith(f"universe as of {W1} (membership:membership.csv): 9 of 11 members had usable data")
    )
    metrics = json.loads((result.folder / "metrics.json").read_text())
    bad = metrics["universe"]["quarantined"]
    assert [(b["symbol"], b["rule"], b["date"], b["first_week"], b["last_week"]) for b in bad] == [
        ("LOW2", "high_below_max_open_close", "2023-03-01", W1, W2)
    ]
    report = (result.folder / "report.md").read_text()
    assert "## Universe (point in time)" in report and "high_below_max_open_close" in report
    # the synthetic folder has no SPY.csv and no [data] spy_file is set: the report says the benchmark is left out
    assert "spy" not in metrics["benchmarks"] and "no SPY file at" in metrics["benchmarks_omitted"]["spy"]
    assert "Benchmark left out: SPY buy-and-hold" in report
    # a re-run reuses both weeks (the per-week data hash does not need the bars)
    again = run_walkforward(result_settings(result), start=START, end=END, out=result.folder.parent)
    assert again.stats["cached"] == 2 and again.weeks == result.weeks


def result_settings(result):
    m = json.loads((result.folder / "metrics.json").read_text())
    assert m["universe"]["source"] == "membership:membership.csv"
    bars = Path(m["universe"]["per_week"] and result.weeks[0]["universe_coverage"]["excluded"][0]["file"]).parent
    return Settings().override(
        **{
            "data.dir": str(bars),
            "data.membership": str(bars.parent / "membership.csv"),
            "data.on_bad_symbol": "exclude",
            "data.calendar": None,
            "data.return_jump": "flag",
        }
    )


def test_trading_market_pads_a_late_listing_before_its_first_held_window(folders, settings, tmp_path):
    bars, _ = folders
    late = pd.read_csv(bars / "MID2.csv")
    late = late[late["Date"] >= "2019-07-03"]  # listed after week 1's earliest window start (2019-06-30)
    late.to_csv(bars / "LATE.csv", index=False)
    weeks = [
        {"asof": W1, "universe": ["LOW1", "MID1", "MID3"], "pairs": [{"leader": "MID1", "follower": "MID3", "lag": 1}]},
        {"asof": W2, "universe": ["LOW1", "MID1", "LATE"], "pairs": [{"leader": "MID1", "follower": "LATE", "lag": 1}]},
    ]
    market, info = trading_market(settings, weeks, end=END)
    # read from week 2's earliest window start (2019-07-07): its first session 07-08; padded before it
    assert info["padded"] == {"LATE": "2019-07-08"} and info["symbols"] == ["LATE", "MID1", "MID3"]
    real = market.bars("LATE").loc["2019-07-08":]
    pd.testing.assert_frame_equal(
        real,
        pd.read_csv(bars / "LATE.csv", index_col=0, parse_dates=True)
        .rename(columns=str.lower)
        .drop(columns="adj close")
        .loc[real.index],
        check_names=False,
        check_freq=False,
        check_dtype=False,
    )
    head = market.bars("LATE").loc[:"2019-07-05"]
    assert len(head) and (head["volume"] == 0).all() and (head["close"] == real["open"].iloc[0]).all()
    (bars / "LATE.csv").unlink()


# three weeks with two-month windows: MID3 is held in weeks A and C, not in B, so the trading pass reads it over
# [A's window, the first session after B] and [C's window, END]; 2023-04-12 lies between the two spans
SPAN_WEEKS = [
    ("2023-01-06", [("MID1", "MID3", 3)]),
    ("2023-03-03", [("MID1", "MID4", 1)]),
    ("2023-07-07", [("MID1", "MID3", 2), ("MID6", "MID3", 1)]),
]


def _span_settings(settings, folder) -> Settings:
    w = {"windows.asof": "2023-06-08", "windows.test_start": "2023-06-08", "windows.test_end": "2023-08-12"}
    for k in ("anomaly", "gmm", "train"):
        w |= {f"windows.{k}_start": "2023-04-08", f"windows.{k}_end": "2023-06-08"}
    return settings.override(**{"data.dir": str(folder), **w})


def _span_weeks():
    return [
        {
            "asof": a,
            "universe": ["LOW1", "MID1", "MID3", "MID4", "MID6"],
            "pairs": [{"leader": ld, "follower": f, "lag": g} for ld, f, g in pairs],
        }
        for a, pairs in SPAN_WEEKS
    ]


def _copy_bars(folders, dest: Path) -> Path:
    import shutil

    shutil.copytree(folders[0], dest)
    return dest


@pytest.mark.parametrize("engine", ["vectorised", "backtrader"])
def test_a_bad_bar_outside_the_held_spans_changes_nothing_traded(folders, settings, tmp_path, engine):
    """A traded symbol's bad bar in a stretch the trading pass never reads (PEAK 2021-05-05 in the S&P run) used to
    stop the run with exit 3. Planted truth: the same weeks traded on the clean file and on a file with that bar
    broken give the same equity, trades and fills; the broken symbol is validated over its held spans only, is flat
    elsewhere, leaves the equal-weight benchmark and is listed with its whole-run rule."""
    from volts.trading.simulate import simulate_schedule
    from volts.evaluation.walkforward import build_schedule

    def bad_high(raw, i):
        raw.loc[i, "High"] = raw.loc[i, "Close"] * 0.9

    clean_dir, bad_dir = _copy_bars(folders, tmp_path / "clean"), _copy_bars(folders, tmp_path / "bad")
    _edit(bad_dir / "MID3.csv", "2023-04-12", bad_high)
    weeks = _span_weeks()
    clean, clean_info = trading_market(_span_settings(settings, clean_dir), weeks, end=END)
    bad, info = trading_market(_span_settings(settings, bad_dir), weeks, end=END)
    assert clean_info["filled"] == {} and list(info["filled"]) == ["MID3"]
    spans = info["filled"]["MID3"]["spans"]
    assert len(spans) == 2 and spans[0][1] == "2023-03-06" and spans[1][1] == END.isoformat(), spans
    assert spans[0][1] < "2023-04-12" < spans[1][0]
    assert info["filled"]["MID3"]["full_span_exclusion"]["rule"] == "high_below_max_open_close"
    assert info["filled"]["MID3"]["full_span_exclusion"]["date"] == "2023-04-12"
    assert info["padded"] == {"MID3": bad.dates[0].date().isoformat()}  # real from the first session
    # inside the spans the bars are the file's; between them flat at the last real close, volume 0
    real, mine = clean.bars("MID3"), bad.bars("MID3")
    for a, b in spans:
        pd.testing.assert_frame_equal(mine.loc[a:b], real.loc[a:b])
    gap = mine.loc[(mine.index > spans[0][1]) & (mine.index < spans[1][0])]
    assert len(gap) > 20 and (gap["volume"] == 0).all()
    assert (gap[["open", "high", "low", "close"]] == real.loc[spans[0][1], "close"]).all().all()
    s = _span_settings(settings, clean_dir)
    runs = [
        simulate_schedule(m, build_schedule(weeks), end=END, settings=s, engine=engine, spy=False, universe=u)
        for m, u in ((clean, ["MID1", "MID4", "MID6"]), (bad, ["MID1", "MID4", "MID6"]))
    ]
    pd.testing.assert_series_equal(runs[0].equity, runs[1].equity)
    pd.testing.assert_frame_equal(runs[0].trades, runs[1].trades)
    pd.testing.assert_frame_equal(runs[0].fills, runs[1].fills)
    assert len(runs[0].fills) > 0


def test_a_bad_bar_inside_a_held_span_names_the_symbol_file_date_and_rule(folders, settings, tmp_path):
    def bad_high(raw, i):
        raw.loc[i, "High"] = raw.loc[i, "Close"] * 0.9

    bad_dir = _copy_bars(folders, tmp_path / "bad")
    _edit(bad_dir / "MID3.csv", "2023-02-01", bad_high)  # held in week A (2023-01-06 .. 2023-03-06)
    with pytest.raises(DataError) as err:
        trading_market(_span_settings(settings, bad_dir), _span_weeks(), end=END)
    msg = str(err.value)
    for part in (
        "MID3",
        "MID3.csv",
        "2023-02-01",
        "high_below_max_open_close",
        "2 week(s)",
        "2023-01-06 .. 2023-07-07",
    ):
        assert part in msg, msg
    assert "at least 2 needed" not in msg


def test_screen_comparison_refuses_a_membership_universe(settings, tmp_path, capsys):
    """--compare-screens trades on one market of ``[data] universe``; with a membership file that list is not the
    weeks' universe (the built-in ten names here), so it refuses before loading anything rather than silently
    answer for other stocks. The CLI maps the refusal to the usage exit code."""
    from volts.cli import main
    from volts.core.errors import UsageError
    from volts.evaluation.screen_comparison import run_screen_comparison

    with pytest.raises(UsageError, match="--compare-screens does not support a point-in-time universe") as err:
        run_screen_comparison(settings, start=START, end=END, out=tmp_path / "cmp")
    assert "membership.csv" in str(err.value) and "10 names" in str(err.value)
    assert not (tmp_path / "cmp").exists()
    config = tmp_path / "pit.toml"
    config.write_text(
        f'[data]\ndir = "{settings.data.dir}"\nmembership = "{settings.data.membership}"\non_bad_symbol = "exclude"\n'
    )
    capsys.readouterr()
    rc = main(
        [
            "walkforward",
            "--config",
            str(config),
            "--start",
            str(START),
            "--end",
            str(END),
            "--compare-screens",
            "--out",
            str(tmp_path / "cli"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "--compare-screens does not support a point-in-time universe" in " ".join(err.split()), err


@pytest.mark.slow
def test_the_random_pairs_null_runs_on_a_membership_universe(settings, result, tmp_path):
    """--ablation on a membership universe: the other rows would re-select every week, so they are listed as not
    run; the headline and the random-pairs null run, the null drawing from each week's own candidates. Reference:
    each draw re-traded here by hand (the same seeded picker, the simulator on a plain load of every candidate)
    gives the same Sharpe ratio."""
    import shutil

    from volts.data.universe import load_universe
    from volts.evaluation.ablation import run_ablation
    from volts.evaluation.nulls import annual_sharpe
    from volts.trading.simulate import simulate_schedule
    from volts.evaluation.walkforward import RandomPairs, apply_pair_picker, build_schedule
    from volts.evaluation.week_cache import seal

    out = tmp_path / "abl"
    shutil.copytree(result.folder.parent / "weeks", out / "weeks")  # the headline's weeks, not recomputed
    for f in (out / "weeks").glob("*.json"):  # one pair a week: the candidates then outnumber the traded names
        rec = json.loads(f.read_text())
        rec["pairs"] = rec["pairs"][:1]
        f.write_text(json.dumps(seal(rec)))  # a deliberate edit: sealed again, or the week would be recomputed
    res = run_ablation(settings, start=START, end=END, out=out, draws=4, seed=3)
    assert res.stats["computed"] == 0
    ab = res.metrics["ablation"]
    status = {r["row"]: r["status"] for r in ab["rows"]}
    assert status == {
        "no-screen": "not run",
        "granger-only": "not run",
        "granger-pcmci": "not run",
        "full-funnel": "run",
        "full-stable": "not run",
        "random-pairs": "run",
    }, status
    assert all("point-in-time" in r["note"] for r in ab["rows"] if r["row"] in ("no-screen", "granger-only"))
    assert ab["n_trials"] == 1 and ab["null"]["draws"] == 4
    weeks = res.weeks
    cands = sorted({c for w in weeks if w["pairs"] for c in w["candidates"]})
    traded = sorted({s for w in weeks for p in w["pairs"] for s in (p["leader"], p["follower"])})
    assert set(cands) > set(traded), "the null must be able to draw symbols the headline never traded"
    plain, _ = load_universe(
        settings.data.model_copy(update={"on_bad_symbol": "error"}),
        asof=END,
        start=dt.date(2019, 1, 1),
        end=END,
        symbols=cands,
    )
    nulls = json.loads((res.folder / "nulls.json").read_text())
    picker = RandomPairs.from_settings(settings)
    for d, sharpe in enumerate(nulls["sharpes"]):
        drawn = apply_pair_picker(weeks, picker, 3 + d)
        eq = simulate_schedule(plain, build_schedule(drawn), end=END, settings=settings, benchmarks=False).equity
        assert annual_sharpe(eq, settings) == pytest.approx(sharpe, rel=1e-9, abs=1e-12)
    report = (res.folder / "report.md").read_text()
    assert "random pairs (null, 4 draws)" in report and "not run on a point-in-time universe" in report
    psr = res.metrics["sharpe_inference"]["dsr"]
    [line] = [v for v in res.metrics["verdict"] if "Sharpe ratio PSR(0)" in v]
    assert f"PSR(0) = {psr:.3f}" in line and "one configuration run" in line
    assert not any("skill-less" in v for v in res.metrics["verdict"])


def test_the_null_market_holds_every_candidate_a_draw_can_pick(folders, settings, tmp_path):
    """The random-pairs null draws from each week's candidates, most of which the headline never trades. Its
    market holds every candidate of a week with pairs (MID3 with a bad bar between its candidate spans: validated
    over them, flat in between) and nothing of a week in cash (MID6, broken inside that week's window: no draw can
    hold it, so it is neither loaded nor an error). LOW1 has a bad bar after the last as-of date, inside the span
    a draw would hold it (PEAK's 2021-05-05 in the S&P run, one week after a week that had it as a candidate):
    that (candidate, week) leaves the null's pool and is listed, instead of stopping the run."""
    from volts.evaluation.walkforward import candidates_market, null_weeks

    def bad_high(raw, i):
        raw.loc[i, "High"] = raw.loc[i, "Close"] * 0.9

    bars = _copy_bars(folders, tmp_path / "bars")
    _edit(bars / "MID3.csv", "2023-04-12", bad_high)
    _edit(bars / "MID6.csv", "2023-02-20", bad_high)
    _edit(bars / "LOW1.csv", "2023-07-12", bad_high)
    pair = [{"leader": "MID1", "follower": "MID4", "lag": 1}]
    weeks = [
        {"asof": "2023-01-06", "universe": ["MID1", "MID4"], "candidates": ["MID1", "MID3", "MID4"], "pairs": pair},
        {"asof": "2023-03-03", "universe": ["MID1", "MID4"], "candidates": ["MID6", "MID1"], "pairs": []},
        {"asof": "2023-07-07", "universe": ["MID1", "MID4"], "candidates": ["MID1", "MID3", "LOW1"], "pairs": pair},
    ]
    s = _span_settings(settings, bars)
    market, dropped = candidates_market(s, weeks, end=END)
    assert set(market.symbols) == {"MID1", "MID3", "MID4"}
    assert [(d["symbol"], d["asof"], d["date"]) for d in dropped] == [("LOW1", "2023-07-07", "2023-07-12")]
    assert "high_below_max_open_close" in dropped[0]["reason"]
    pool = null_weeks(weeks, dropped)
    assert [w["candidates"] for w in pool] == [["MID1", "MID3", "MID4"], ["MID6", "MID1"], ["MID1", "MID3"]]
    mid3 = market.bars("MID3")
    gap = mid3.loc["2023-03-10":"2023-04-20"]
    assert (gap["volume"] == 0).all() and gap["close"].nunique() == 1
    clean = pd.read_csv(folders[0] / "MID3.csv", index_col=0, parse_dates=True)
    assert mid3.loc["2023-06-01", "close"] == pytest.approx(clean.loc["2023-06-01", "Close"])


def test_the_report_lists_symbols_read_over_their_held_spans_only():
    from volts.reporting.walkforward_report import universe_markdown

    filled = {
        "PEAK": {
            "spans": [["2019-01-02", "2020-05-04"], ["2021-08-02", "2021-09-13"]],
            "full_span_exclusion": {
                "symbol": "PEAK",
                "rule": "high_below_max_open_close",
                "date": "2021-05-05",
                "message": "High 33.6 < max(Open, Close) 33.89",
            },
        }
    }
    text = "\n".join(
        universe_markdown(
            {
                "source": "membership:m.csv",
                "per_week": [],
                "quarantined": [],
                "trading": {"symbols": ["AAA", "PEAK"], "padded": {"PEAK": "2019-01-02"}, "filled": filled},
            }
        )
    )
    assert "Trading pass: 2 traded symbols" in text
    assert "1 traded symbol(s) fail validation over the whole run" in text
    row = next(line for line in text.splitlines() if line.startswith("| PEAK"))
    for part in ("2: 2019-01-02 .. 2021-09-13", "high_below_max_open_close", "2021-05-05", "33.89"):
        assert part in row, row
