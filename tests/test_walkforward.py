"""Walk-forward driver: re-selection dates, week cache and resume, no look-ahead, Dask parity, CLI and report.

All runs use the seeded synthetic market (planted pairs) over eight weeks of 2023 with the paper's windows, so a
week's selection is the real pipeline on real-sized windows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.close import assert_file_close
from tests.conftest import REPO
from tests.dask_cluster import loopback_cluster
from volts.core.config import Settings
from volts.data.market import MarketData
from volts.core.errors import DataError, UsageError
from volts.core.parallel import Executor
from volts.evaluation.walkforward import (
    WalkForwardVariant,
    apply_pair_picker,
    compare_variants,
    random_pairs_picker,
    rebalance_dates,
    run_walkforward,
    select_week,
    week_hashes,
    weeks_summary,
)

START, END = dt.date(2023, 7, 3), dt.date(2023, 8, 29)  # eight complete weeks 2023-07-07 .. 08-25, traded to 08-29
ARTIFACTS = ("weeks.csv", "equity.csv", "trades.csv", "metrics.json", "report.md")


@pytest.fixture(scope="module")
def settings() -> Settings:
    """What ``volts walkforward --config config.toml --source synthetic`` uses (so the CLI test reuses the cache)."""
    from volts.core.config import load_settings

    return load_settings(REPO / "config.toml").override(**{"data.source": "synthetic", "data.return_jump": "flag"})


@pytest.fixture(scope="module")
def market(settings) -> MarketData:
    from volts.evaluation.walkforward import load_walkforward_market

    return load_walkforward_market(settings, START, END)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, settings, market):
    out = tmp_path_factory.mktemp("wf-base")
    return run_walkforward(settings, start=START, end=END, out=out, market=market)


def _artifacts(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ARTIFACTS}


def _selection_only(week: dict) -> dict:
    # wall times differ between runs, and so does the record's content hash, which covers them
    return {k: v for k, v in week.items() if k not in ("timings", "record_sha256")}


# --------------------------------------------------------------------------------------------- dates
def test_rebalance_dates_are_the_last_xnys_session_of_each_complete_week():
    days = pd.bdate_range("2024-03-01", "2024-04-19")  # business days, including Good Friday 2024-03-29
    got = rebalance_dates(days, "2024-03-04", "2024-04-17")
    # Good Friday is not an XNYS session: that week ends on Thursday; the week of 04-15 is not complete by 04-17
    assert got == [
        dt.date(2024, 3, 8),
        dt.date(2024, 3, 15),
        dt.date(2024, 3, 22),
        dt.date(2024, 3, 28),
        dt.date(2024, 4, 5),
        dt.date(2024, 4, 12),
    ]
    assert rebalance_dates(days, "2024-03-04", "2024-04-17", every="2W") == got[::2]
    # a week whose last session the data lacks uses the data's last session of that week
    assert rebalance_dates(days.drop(pd.Timestamp("2024-03-15")), "2024-03-11", "2024-03-15") == [dt.date(2024, 3, 14)]
    with pytest.raises(UsageError, match="number of weeks"):
        rebalance_dates(days, "2024-03-04", "2024-04-17", every="1M")


# ---------------------------------------------------------------------------------------- artifacts
@pytest.mark.slow
def test_baseline_writes_every_artifact_and_consistent_tables(baseline):
    folder = baseline.folder
    for name in ARTIFACTS + ("report.html", "run.json", "equity.png"):
        assert (folder / name).is_file(), name
    assert [d.isoformat() for d in baseline.dates] == [w["asof"] for w in baseline.weeks]
    assert len(baseline.dates) == 8
    weeks = pd.read_csv(folder / "weeks.csv")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert list(weeks["asof"]) == [d.isoformat() for d in baseline.dates]
    assert (weeks["pairs"] == [len(w["pairs"]) for w in baseline.weeks]).all()
    assert metrics["weeks"]["weeks_in_cash"] == int((weeks["pairs"] == 0).sum())
    # the weeks' P&L add up to the stitched equity's change from the first as-of close to the end
    eq = pd.read_csv(folder / "equity.csv", index_col=0, parse_dates=True)["strategy"]
    first = eq.loc[: pd.Timestamp(baseline.dates[0])]
    v0 = first.iloc[-1] if len(first) else eq.iloc[0]
    assert weeks["pnl"].sum() == pytest.approx(eq.iloc[-1] - v0, rel=1e-8)  # CSV keeps 10 digits
    assert [r["bps_per_side"] for r in metrics["cost_table"]] == [0, 5, 10, 25]
    assert metrics["verdict"] and "## Verdict" in (folder / "report.md").read_text()
    for w in baseline.weeks:  # each week's selection is kept as JSON with its hashes
        cached = json.loads((folder.parent / "weeks" / f"{w['asof']}.json").read_text())
        assert cached["config_sha256"] and cached["data_sha256"] == w["data_sha256"]


# ------------------------------------------------------------------------------------------- resume
class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_run_resumes_and_ends_with_identical_artifacts(tmp_path, settings, market, baseline):
    done = []

    def stop_after_three(week):
        done.append(week["asof"])
        if len(done) == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_walkforward(settings, start=START, end=END, out=tmp_path, market=market, on_week=stop_after_three)
    assert sorted(p.stem for p in (tmp_path / "weeks").glob("*.json")) == done
    assert not (tmp_path / "results").exists()  # nothing final before the run completes
    again = run_walkforward(settings, start=START, end=END, out=tmp_path, market=market)
    assert again.stats["cached"] == 3 and again.stats["computed"] == 5
    assert set(again.stats["computed_dates"]).isdisjoint(done)
    assert _artifacts(again.folder) == _artifacts(baseline.folder)
    # a third run recomputes nothing; a changed setting recomputes every week
    assert (
        run_walkforward(settings, start=START, end=END, out=tmp_path, market=market, report=False).stats["computed"]
        == 0
    )
    changed = settings.override(**{"entropy.seed": 1})
    cfg0, data0 = week_hashes(market, settings, baseline.dates[0])
    cfg1, data1 = week_hashes(market, changed, baseline.dates[0])
    assert cfg0 != cfg1 and data0 == data1


@pytest.mark.slow
def test_weeks_are_keyed_by_the_selection_settings_only(tmp_path, settings, market, baseline):
    """A change of costs, strategy or statistics settings re-trades the cached weeks (an S&P week costs minutes);
    any selection setting still recomputes; a record written under the former key (the full settings hash) is
    still reused."""
    import json

    out = _copy_cache(baseline, tmp_path)
    for key, value in (
        ("costs.commission", 1.0),
        ("strategy.ma_window", 10),
        ("metrics.risk_free", 0.02),
        ("backtest.capital", 5.0),
        ("data.cache_dir", str(tmp_path / "bars")),
    ):
        other = settings.override(**{key: value})
        assert other.sha256() != settings.sha256() and other.selection_sha256() == settings.selection_sha256()
        assert (
            run_walkforward(other, start=START, end=END, out=out, market=market, report=False).stats["computed"] == 0
        ), key
    for key, value in (
        ("entropy.seed", 1),
        ("lag.max_lag", 9),
        ("data.return_jump", "error"),
        ("windows.train_start", "2022-10-03"),
    ):
        assert settings.override(**{key: value}).selection_sha256() != settings.selection_sha256(), key
    first = out / "weeks" / f"{baseline.dates[0].isoformat()}.json"
    rec = json.loads(first.read_text())
    assert rec["config_sha256"] == settings.selection_sha256()
    del rec["record_sha256"]  # as written before the selection key (and before the content hash)
    rec["config_sha256"] = settings.sha256()
    first.write_text(json.dumps(rec))
    assert run_walkforward(settings, start=START, end=END, out=out, market=market, report=False).stats["computed"] == 0
    # reused under the former key, it is re-keyed: a run with other costs then reuses it as well
    assert json.loads(first.read_text())["config_sha256"] == settings.selection_sha256()
    assert (
        run_walkforward(
            settings.override(**{"costs.commission": 2.0}), start=START, end=END, out=out, market=market, report=False
        ).stats["computed"]
        == 0
    )
    rec = json.loads(first.read_text())
    del rec["record_sha256"]
    # a key added since (data.spy_file) must not orphan such records: the hash they carry is that of the settings
    # dumped without it, computed here by hand
    import hashlib

    from volts.evaluation.walkforward import _read_cached

    raw = settings.model_dump(mode="json")
    del raw["data"]["spy_file"]
    del raw["selection"]["date_stability_sessions"]  # added since too (a report diagnostic)
    for key in ("lock_dir", "max_selection_age_sessions", "cap_volume", "sizing"):  # live keys added since
        del raw["live"][key]
    rec["config_sha256"] = hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    first.write_text(json.dumps(rec))
    spied = settings.override(**{"data.spy_file": "/elsewhere/SPY.csv"})
    assert spied.sha256() != settings.sha256() and spied.legacy_week_sha256() == rec["config_sha256"]
    assert _read_cached(first, spied.selection_sha256(), rec["data_sha256"], spied.legacy_week_sha256()) == rec
    assert _read_cached(first, spied.selection_sha256(), rec["data_sha256"], spied.sha256()) is None
    rec["config_sha256"] = settings.override(**{"costs.commission": 1.0}).sha256()  # a legacy record of other costs
    first.write_text(json.dumps(rec))
    assert run_walkforward(settings, start=START, end=END, out=out, market=market, report=False).stats[
        "computed_dates"
    ] == [baseline.dates[0].isoformat()]


# --------------------------------------------------------------------------------------- look-ahead
def _perturb_after(market: MarketData, t: pd.Timestamp, seed: int = 7) -> MarketData:
    """Same bars through t; every later bar replaced by a random valid OHLC bar within -20 % .. +25 % of the
    symbol's close at t (bounded, so that no short position can lose more than its sleeve)."""
    rng = np.random.default_rng(seed)
    frames = {f: market.field(f).copy() for f in ("open", "high", "low", "close", "volume")}
    after = frames["close"].index > t
    k, n = int(after.sum()), len(market.symbols)
    base = frames["close"].loc[t].to_numpy()
    close = base * rng.uniform(0.8, 1.25, (k, n))
    open_ = base * rng.uniform(0.8, 1.25, (k, n))
    frames["open"].loc[after] = open_
    frames["close"].loc[after] = close
    frames["high"].loc[after] = np.maximum(open_, close) * (1 + rng.uniform(0, 0.05, (k, n)))
    frames["low"].loc[after] = np.minimum(open_, close) * (1 - rng.uniform(0, 0.05, (k, n)))
    return MarketData.from_frames(frames)


@pytest.mark.slow
def test_perturbing_every_bar_after_t_changes_nothing_up_to_t(tmp_path, settings, market, baseline):
    t = pd.Timestamp(baseline.dates[3])
    perturbed = _perturb_after(market, t)
    other = run_walkforward(settings, start=START, end=END, out=tmp_path, market=perturbed, report=False)
    assert other.stats["computed"] == 8  # a fresh folder: nothing comes from a cache
    for a, b in zip(baseline.weeks, other.weeks):
        if pd.Timestamp(a["asof"]) <= t:
            assert _selection_only(a) == _selection_only(b)
    e0, e1 = baseline.simulation.equity, other.simulation.equity
    pd.testing.assert_series_equal(e0.loc[:t], e1.loc[:t])
    assert not e0.loc[t:].iloc[1:].equals(e1.loc[t:].iloc[1:])  # the perturbation did reach later days

    def upto(trades: pd.DataFrame) -> pd.DataFrame:
        date_cols = [c for c in trades.columns if "date" in c.lower()]
        dates = trades[date_cols].apply(pd.to_datetime)
        return trades.loc[(dates <= t).all(axis=1)].reset_index(drop=True)

    pd.testing.assert_frame_equal(upto(baseline.simulation.trades), upto(other.simulation.trades))


# --------------------------------------------------------------------------------------------- Dask
@pytest.mark.slow
def test_eight_weeks_through_a_dask_scheduler_and_two_workers_give_the_same_artifacts(
    tmp_path, settings, market, baseline
):
    with loopback_cluster(2, log_dir=tmp_path) as address:
        with Executor(scheduler=address) as ex:
            res = run_walkforward(settings, start=START, end=END, out=tmp_path / "wf", market=market, executor=ex)
    assert res.stats["computed"] == 8
    # the weeks were selected in worker processes (their own BLAS state): the same pairs, trades and text, floats
    # to rounding
    for name in ARTIFACTS:
        assert_file_close(res.folder / name, baseline.folder / name)


# ------------------------------------------------------------------------------------------ variants
@pytest.mark.slow
def test_pair_picker_is_seeded_per_week_and_keeps_the_pair_count(baseline):
    a = apply_pair_picker(baseline.weeks, random_pairs_picker, seed=3)
    b = apply_pair_picker(list(reversed(baseline.weeks)), random_pairs_picker, seed=3)[::-1]
    assert a == b  # independent of the order weeks are handled
    for w0, w1 in zip(baseline.weeks, a):
        assert len(w1["pairs"]) == len(w0["pairs"])
        assert all(p["leader"] in w0["candidates"] and p["follower"] in w0["candidates"] for p in w1["pairs"])


def test_weeks_summary_counts_runs_of_the_same_pair():
    def wk(*pairs):
        return {"pairs": [{"leader": a, "follower": b, "lag": 1} for a, b in pairs], "status": "ok"}

    s = weeks_summary([wk(("A", "B")), wk(("A", "B"), ("C", "D")), wk(), wk(("A", "B"))])
    assert s["weeks"] == 4 and s["weeks_in_cash"] == 1 and s["distinct_pairs"] == 2
    assert s["pick_frequency"]["A->B"]["weeks"] == 3
    assert s["avg_pair_lifetime_weeks"] == pytest.approx((2 + 1 + 1) / 3)


def test_planted_recovery_counts_pairs_lags_and_false_positives():
    from volts.evaluation.walkforward import planted_recovery

    planted = [{"leader": "A", "follower": "B", "lag": 1}, {"leader": "C", "follower": "D", "lag": 3}]

    def wk(*pairs):
        return {"pairs": [{"leader": a, "follower": b, "lag": k} for a, b, k in pairs]}

    weeks = [wk(("A", "B", 1), ("C", "D", 3)), wk(("A", "B", 2), ("X", "Y", 1)), wk(), wk(("C", "D", 3))]
    got = planted_recovery(weeks, planted)
    assert got["pairs"]["A->B"] == {"lag": 1, "share_selected": 0.5, "share_with_planted_lag": 0.25}
    assert got["pairs"]["C->D"] == {"lag": 3, "share_selected": 0.5, "share_with_planted_lag": 0.5}
    assert got["share_exact"] == 0.25 and got["false_pairs_per_week"] == 0.25


# ------------------------------------------------------------------------------------- CLI, variants
def _copy_cache(baseline, dest: Path) -> Path:
    import shutil

    shutil.copytree(baseline.folder.parent / "weeks", dest / "weeks")
    return dest


@pytest.mark.slow
def test_cli_reuses_the_cache_and_writes_a_self_contained_report(tmp_path, baseline, capsys, check_report_html):
    from volts.cli import main

    out = _copy_cache(baseline, tmp_path)
    rc = main(
        [
            "walkforward",
            "--config",
            str(REPO / "config.toml"),
            "--source",
            "synthetic",
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "8 weeks: 8 from the cache, 0 computed" in captured.out
    assert _artifacts(out / "results") == _artifacts(baseline.folder)
    html = (out / "results" / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="equity.png"' not in html
    assert (
        main(["walkforward", "--source", "synthetic", "--every", "2W", "--hold", "1W", "--out", str(tmp_path / "x")])
        == 2
    )

    result = check_report_html(out / "results" / "report.html")
    assert result["images"] >= 4 and not result["broken_images"] and not result["console_errors"]


@pytest.mark.slow
def test_compare_variants_runs_every_variant_over_the_same_cached_weeks(tmp_path, settings, market, baseline):
    from volts.reporting.walkforward_report import comparison_markdown

    out = _copy_cache(baseline, tmp_path)
    variants = [
        WalkForwardVariant("strategy"),
        WalkForwardVariant("random_pairs", pair_picker=random_pairs_picker, seed=1),
    ]
    table = compare_variants(settings, variants, start=START, end=END, out=out, market=market)
    assert list(table["variant"]) == ["strategy", "random_pairs"]
    assert sorted(p.name for p in (out / "weeks").glob("*.json")) == sorted(
        p.name for p in (baseline.folder.parent / "weeks").glob("*.json")
    )  # nothing recomputed
    assert table.loc[0, "sharpe"] == pytest.approx(baseline.metrics["strategy"]["sharpe"])
    assert (table["weeks"] == 8).all() and (out / "comparison.csv").is_file()
    assert "## Variants over the same weeks" in "\n".join(comparison_markdown(table))


# ------------------------------------------------------------------------------------- return jumps
def test_a_real_return_jump_is_kept_as_a_flagged_note_not_a_stop(tmp_path, market):
    from volts.data.synthetic import write_synthetic_csvs
    from volts.evaluation.walkforward import load_walkforward_market

    write_synthetic_csvs(market, tmp_path)
    path = tmp_path / "MID3.csv"
    raw = pd.read_csv(path)
    jump_day = raw.index[pd.to_datetime(raw.iloc[:, 0]) == pd.Timestamp("2023-03-15")][0]
    for col in ("Open", "High", "Low", "Close"):
        raw.loc[jump_day:, col] *= 1.6  # a +60 % close-to-close move on 2023-03-15, beyond max_abs_return 0.5
    raw.to_csv(path, index=False)
    base = Settings().override(
        **{"data.dir": str(tmp_path), "data.universe": list(market.symbols), "data.calendar": None}
    )  # synthetic bars trade on business days
    with pytest.raises(DataError, match="return_jump"):
        load_walkforward_market(base, START, END)
    flagged = base.override(**{"data.return_jump": "flag"})
    m = load_walkforward_market(flagged, START, END)
    week = select_week(m, flagged, dt.date(2023, 7, 7))
    assert [(n["symbol"], n["date"], n["rule"]) for n in week["flagged"]] == [("MID3", "2023-03-15", "return_jump")]


# ------------------------------------------------------------------- issue 11: null model and ablation
@pytest.mark.slow
def test_no_screen_sends_every_ordered_candidate_pair_to_the_lag_stage(settings, market, baseline):
    s = settings.override(**{"selection.screens": [], "lag.min_lag": 2, "lag.max_lag": 4})
    week = select_week(market, s, baseline.dates[0])
    cands = baseline.weeks[0]["candidates"]
    assert week["candidates"] == cands and len(cands) >= 3  # the screens come after the regime stage
    every = {(a, b) for a in cands for b in cands if a != b}
    assert week["funnel"] == [{"stage": "lag", "entered": len(every), "kept": len(every), "dropped": 0}]
    assert {(p["leader"], p["follower"]) for p in week["pairs"]} == every
    assert {p["lag"] for p in week["pairs"]} <= {2, 3, 4}
    with pytest.raises(Exception, match="more than once"):
        settings.override(**{"selection.screens": ["granger", "granger"]})


@pytest.mark.slow
def test_stability_inside_a_week_keeps_exactly_the_pairs_at_or_above_the_threshold(settings, market, baseline):
    s = settings.override(**{"selection.screens": ["granger"], "stability.runs": 2, "stability.threshold": 0.5})
    week = select_week(market, s, baseline.dates[0])
    st = week["stability"]
    assert st["runs"] == 2 and st["threshold"] == 0.5 and week["funnel"][-1]["stage"] == "stability"
    kept = {f"{p['leader']}->{p['follower']}" for p in week["pairs"]}
    assert kept | set(st["dropped"]) == set(st["selected"]) and not kept & set(st["dropped"])
    assert all(st["selected"][n] >= 0.5 for n in kept) and all(st["selected"][n] < 0.5 for n in st["dropped"])
    assert week["funnel"][-1]["entered"] == len(st["selected"]) and week["funnel"][-1]["kept"] == len(kept)


def test_permutation_p_value_and_percentile_equal_a_hand_count():
    from volts.evaluation.nulls import NullResult, permutation_p_value, percentile_of

    null = [0.1, 0.5, 0.5, 0.9, -0.3, float("nan"), 1.2, 0.5, 0.0, 0.7]  # 10 draws, one undefined
    # >= 0.5: 0.5, 0.5, 0.9, 1.2, 0.5, 0.7 -> 6; strictly below: 0.1, -0.3, 0.0 -> 3
    assert permutation_p_value(null, 0.5) == pytest.approx(7 / 11)
    assert percentile_of(null, 0.5) == pytest.approx(30.0)
    assert permutation_p_value(null, 5.0) == pytest.approx(1 / 11) and percentile_of(null, 5.0) == 90.0
    assert permutation_p_value(null, -1.0) == pytest.approx(10 / 11)
    r = NullResult(sharpes=np.array(null), strategy_sharpe=0.5, draws=10, seed=0, min_lag=1, max_lag=10)
    d = r.to_dict()
    assert d["at_or_above"] == 6 and d["undefined_draws"] == 1 and d["p_value"] == pytest.approx(7 / 11)
    assert d["median"] == pytest.approx(0.5) and d["q025"] < d["median"] < d["q975"]


@pytest.mark.slow
def test_random_pairs_null_is_seeded_uses_the_configured_lags_and_the_strategy_sharpe(settings, market, baseline):
    from volts.evaluation.nulls import random_pairs_null
    from volts.evaluation.walkforward import RandomPairs

    s = settings.override(**{"lag.min_lag": 3, "lag.max_lag": 5})
    picker = RandomPairs.from_settings(s)
    lags = set()
    for seed in range(20):
        for w0, w1 in zip(baseline.weeks, apply_pair_picker(baseline.weeks, picker, seed)):
            assert len(w1["pairs"]) == len(w0["pairs"])
            names = [(p["leader"], p["follower"]) for p in w1["pairs"]]
            assert len(set(names)) == len(names) and all(a != b for a, b in names)
            assert all(a in w0["candidates"] and b in w0["candidates"] for a, b in names)
            lags |= {p["lag"] for p in w1["pairs"]}
    assert lags == {3, 4, 5}
    end = dt.date.fromisoformat(baseline.metrics["end"])
    a = random_pairs_null(market, baseline.weeks, s, end=end, draws=6, seed=11)
    b = random_pairs_null(market, baseline.weeks, s, end=end, draws=6, seed=11)
    c = random_pairs_null(market, baseline.weeks, s, end=end, draws=6, seed=12)
    assert np.array_equal(a.sharpes, b.sharpes) and not np.array_equal(a.sharpes, c.sharpes)
    assert a.strategy_sharpe == pytest.approx(baseline.metrics["strategy"]["sharpe"], rel=1e-12)
    assert a.p_value == (1 + int(np.sum(a.sharpes >= a.strategy_sharpe))) / 7
    assert (a.min_lag, a.max_lag) == (3, 5)
    # the same draws as tasks of a two-worker Dask cluster (the market sent once per worker): identical
    from volts.core.parallel import Executor

    with Executor(workers=2) as ex:
        d = random_pairs_null(market, baseline.weeks, s, end=end, draws=6, seed=11, executor=ex)
    # draws simulated in worker processes: equal to rounding (another process may run other kernels); the
    # strategy's own Sharpe is computed here in both calls
    np.testing.assert_allclose(d.sharpes, a.sharpes, rtol=1e-9, atol=1e-12)
    assert d.strategy_sharpe == a.strategy_sharpe


def test_ablation_rows_name_their_caches_and_say_when_stability_was_not_run(settings):
    from volts.evaluation.ablation import ablation_rows

    rows = ablation_rows(settings)
    assert [r.key for r in rows] == ["no-screen", "granger-only", "granger-pcmci", "full-funnel", "full-stable"]
    v = {r.key: r.variant for r in rows}
    assert (v["granger-only"].name, dict(v["granger-only"].overrides)) == (
        "granger-only",
        {"selection.screens": ["granger"]},
    )
    assert dict(v["granger-pcmci"].overrides) == {"selection.screens": ["granger", "pcmci"]}
    assert dict(v["no-screen"].overrides) == {"selection.screens": []} and not v["full-funnel"].overrides
    assert not rows[-1].run and "not run" in rows[-1].note
    stable = ablation_rows(settings, stability_runs=20, stability_threshold=0.7, stability_every="4W")[-1]
    assert stable.run and stable.every == "4W" and "R = 20" in stable.note and "every 4W" in stable.note
    assert dict(stable.variant.overrides) == {"stability.runs": 20, "stability.threshold": 0.7}


@pytest.mark.slow
def test_cli_ablation_puts_the_table_psr_and_dsr_into_the_report(tmp_path, baseline, monkeypatch, capsys):
    """End to end through ``volts walkforward --ablation`` on the cached weeks. To keep it cheap, one screen row is
    replaced by a pair-picker variant that shares the cache and the two others are marked not run (the rows'
    selections are what the tests above check), so only trading passes run; the DSR in the report must be
    volts.evaluation.sharpe's on the same returns and rows."""
    import volts.evaluation.ablation as nulls  # the ablation's rows (volts.nulls before the split)
    from volts.cli import main
    from volts.evaluation.sharpe import sharpe_inference

    real_rows = nulls.ablation_rows

    def cheap_rows(settings, **kw):
        rows = real_rows(settings, **kw)
        for i, r in enumerate(rows):
            if r.key == "granger-only":
                rows[i] = nulls.AblationRow(
                    r.key,
                    r.label,
                    WalkForwardVariant(r.variant.name, pair_picker=random_pairs_picker, seed=i),
                    r.every,
                    r.screens,
                )
            elif r.key in ("no-screen", "granger-pcmci"):
                rows[i] = nulls.AblationRow(r.key, r.label, r.variant, r.every, r.screens, False, "not run here")
        return rows

    monkeypatch.setattr(nulls, "ablation_rows", cheap_rows)
    out = _copy_cache(baseline, tmp_path)
    rc = main(
        [
            "walkforward",
            "--config",
            str(REPO / "config.toml"),
            "--source",
            "synthetic",
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--out",
            str(out),
            "--no-progress",
            "--ablation",
            "--null-draws",
            "9",
            "--null-seed",
            "4",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "8 weeks: 8 from the cache, 0 computed" in captured.out and "DSR" in captured.out
    res = out / "results"
    metrics = json.loads((res / "metrics.json").read_text())
    table = pd.read_csv(res / "ablation.csv")
    nulls_json = json.loads((res / "nulls.json").read_text())
    assert list(table["row"]) == [
        "no-screen",
        "granger-only",
        "granger-pcmci",
        "full-funnel",
        "full-stable",
        "random-pairs",
    ]
    assert list(table["status"]) == ["not run", "run", "not run", "run", "not run", "run"]
    head = table.set_index("row").loc["full-funnel"]
    assert head["sharpe"] == pytest.approx(baseline.metrics["strategy"]["sharpe"])
    # DSR: volts.evaluation.sharpe on the headline's daily returns, with the run rows' per-day Sharpe ratios as the trials
    eq = pd.read_csv(res / "equity.csv", index_col=0, parse_dates=True)["strategy"]
    trials = (table.loc[table["trial"] == True, "sharpe"] / np.sqrt(252)).tolist()  # noqa: E712
    assert len(trials) == 2 and trials[0] != trials[1]
    ref = sharpe_inference(eq.pct_change().dropna().to_numpy(), trial_sharpes=trials)
    inf = metrics["sharpe_inference"]
    assert inf["n_trials"] == 2 and inf["dsr"] == pytest.approx(ref["dsr"], rel=1e-6)
    assert inf["psr"] == pytest.approx(ref["psr"], rel=1e-6) and ref["dsr"] < ref["psr"]
    md = (res / "report.md").read_text()
    assert "## Null model and ablation" in md and f"DSR = {ref['dsr']:.4f}" in md
    assert f"PSR(0) = {ref['psr']:.4f}" in md and "not run" in md
    # the permutation p-value in the report is the hand count over nulls.json's draws
    sh = np.array([np.nan if x is None else x for x in nulls_json["sharpes"]])
    assert len(sh) == 9 and nulls_json["seed"] == 4
    p = (1 + int(np.sum(sh >= head["sharpe"]))) / 10
    assert nulls_json["p_value"] == pytest.approx(p) and f"permutation p = {p:.4f}" in md
    assert main(["walkforward", "--source", "synthetic", "--stability-runs", "3", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_a_week_runs_the_lean_selection_and_records_the_full_one(settings, market, baseline):
    """select_week runs ``run_selection(pairs_only=True)`` with the curtailed surrogate test; its record must be
    the one of the full selection (full test, anomaly scores, alignment diagnostics): same candidates, funnel,
    drop counts, warnings and pairs with every statistic, on every baseline week that selected pairs."""
    from volts.selection.pipeline import run_selection
    from volts.evaluation.walkforward import _week_market

    full_settings = settings.override(**{"entropy.stop_early": False})
    weeks = [w for w in baseline.weeks if w["status"] == "ok" and w["pairs"]][:4]
    assert weeks
    for week in weeks:
        asof = dt.date.fromisoformat(week["asof"])
        sub, _ = _week_market(market, settings, asof)
        full = run_selection(sub, full_settings, asof=asof)
        assert full.anomalies is not None and all(np.isfinite(c.dtw_distance) for c in full.lags.values())
        assert week["candidates"] == list(full.candidates)
        assert week["funnel"] == [s.to_dict() for s in full.funnel]
        assert week["warnings"] == list(full.warnings)
        assert week["pairs"] == json.loads(json.dumps([p.to_dict() for p in full.pairs]))
        assert "anomalies" not in week["timings"]


@pytest.mark.slow
def test_a_span_with_nothing_to_trade_stops_before_any_selection(tmp_path, settings, market, baseline):
    """--end on the first re-selection date: no session would trade, so the run must stop with a usage error
    before computing a single week (it used to compute the selections and fail in the trading pass)."""
    last = baseline.dates[-1]
    with pytest.raises(UsageError, match="no session after the first re-selection"):
        run_walkforward(settings, start=last, end=last, out=tmp_path, market=market)
    assert not (tmp_path / "weeks").exists() or not list((tmp_path / "weeks").iterdir())


@pytest.mark.slow
def test_a_ruined_account_is_reported_not_a_crash(tmp_path, settings, market, baseline):
    """Commissions beyond the capital (the S&P crash weeks split $100,000 over ~6,000 pairs, $9 an order) drive the
    equity below zero. The run must still end with its artifacts, the statistics stopping at the ruin day as a loss
    of everything, and the verdict saying so first; before, performance_stats stopped the whole run (exit 3)."""
    poor = settings.override(**{"costs.capital": 40.0, "costs.commission": 9.0})
    res = run_walkforward(poor, start=START, end=END, out=_copy_cache(baseline, tmp_path), market=market)
    assert res.stats["computed"] == 0  # the baseline's weeks, re-traded
    m = res.metrics
    ruined = m["strategy"]["ruined"]
    assert ruined is not None, "the planted costs should ruin a $40 account"
    equity = pd.read_csv(res.folder / "equity.csv", index_col=0, parse_dates=True)["strategy"]
    first_bad = equity.index[(equity <= 0).to_numpy()][0]
    assert ruined["date"] == first_bad.date().isoformat() and ruined["equity"] == pytest.approx(equity[first_bad])
    assert m["strategy"]["total_return"] == -1.0 and m["strategy"]["max_drawdown"] == 1.0
    assert m["strategy"]["end"].startswith(first_bad.date().isoformat())
    report = (res.folder / "report.md").read_text()
    assert "RUINED: the strategy's equity reached" in report
    assert report.index("RUINED") < report.index("Sharpe ratio")
    # the Sharpe sentence gives the span its figures cover (up to the ruin), not the run's length
    sharpe = next(s for s in m["verdict"] if s.startswith("At the configured costs"))
    assert f"up to its ruin on {ruined['date']}" in sharpe and "years of weekly" in sharpe, sharpe
    against = [s for s in m["verdict"] if s.startswith("Against the")]
    assert against and all(f"(up to {ruined['date']}, the first ruin of either curve)" in s for s in against)
    assert (res.folder / "equity.png").is_file()


@pytest.mark.slow
def test_the_report_says_what_the_result_rests_on(tmp_path, baseline, capsys):
    """Through ``volts walkforward``: capital and costs with gross beside net, unfunded pairs and weeks fully in
    cash, the span of each week's P&L, and a Monte-Carlo error beside every interval end."""
    from volts.cli import main

    out = _copy_cache(baseline, tmp_path)
    assert (
        main(
            [
                "walkforward",
                "--config",
                str(REPO / "config.toml"),
                "--source",
                "synthetic",
                "--start",
                START.isoformat(),
                "--end",
                END.isoformat(),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    folder = out / "results"
    m = json.loads((folder / "metrics.json").read_text())
    fills = pd.read_csv(folder / "fills.csv")
    c = m["costs"]
    assert c["capital"] == 100_000 and c["orders"] == len(fills)
    assert c["gross_pnl"] - c["net_pnl"] == pytest.approx(fills["commission"].sum(), abs=1e-6)
    eq = pd.read_csv(folder / "equity.csv")
    # equity.csv is written with rounded values: a cent of tolerance
    assert c["net_pnl"] == pytest.approx(eq["strategy"].iloc[-1] - 100_000, abs=0.01)
    periods = pd.read_csv(folder / "periods.csv")
    assert m["funding"]["unfunded_pair_weeks"] == int(periods["n_unfunded"].sum())
    weeks = pd.read_csv(folder / "weeks.csv")
    for col in ("pairs_from", "pnl_from", "pnl_to", "costs", "gross_pnl", "unfunded_pairs", "in_cash"):
        assert col in weeks, col
    assert weeks["costs"].sum() == pytest.approx(fills["commission"].sum(), abs=0.01)  # CSV-rounded columns
    assert (weeks["pnl_to"].iloc[:-1].to_numpy() == weeks["pnl_from"].iloc[1:].to_numpy()).all()
    s = m["strategy"]
    from volts.trading.performance import BOOTSTRAP_MAX_REPS

    # eight weeks of returns: the Sharpe ratio's bootstrap spread is wide, the target may need more resamples than
    # the cap, and then the report must say so
    report = (folder / "report.md").read_text()
    met = max(s["sharpe_ci_low_mcse"], s["sharpe_ci_high_mcse"]) <= 0.01
    assert met == s["sharpe_ci_mcse_met"]
    assert met or (f"cap of {BOOTSTRAP_MAX_REPS:,} resamples" in report and "stopped before the target for: " in report)
    for d in m["differences"].values():
        assert (max(d["annual_mean_ci_low_mcse"], d["annual_mean_ci_high_mcse"]) <= 0.001) == d[
            "annual_mean_ci_mcse_met"
        ]
    assert "## Capital, costs, gross and net" in report and "P&L before costs (gross)" in report
    assert "## Pairs without capital, weeks fully in cash" in report
    assert f"{s['sharpe_ci_low']:.2f} ±{s['sharpe_ci_low_mcse']:.3f}" in report


@pytest.mark.slow
def test_walkforward_date_stability_of_the_planted_picks(tmp_path, baseline, capsys):
    """``--date-stability 1``: each week's picks against the session before and after its as-of date."""
    from volts.cli import main

    out = _copy_cache(baseline, tmp_path)
    assert (
        main(
            [
                "walkforward",
                "--config",
                str(REPO / "config.toml"),
                "--source",
                "synthetic",
                "--start",
                START.isoformat(),
                "--end",
                END.isoformat(),
                "--out",
                str(out),
                "--no-progress",
                "--date-stability",
                "1",
            ]
        )
        == 0
    )
    capsys.readouterr()
    m = json.loads((out / "results" / "metrics.json").read_text())
    ds = m["date_stability"]
    with_pairs = [w for w in baseline.weeks if w["pairs"]]
    assert set(ds["weeks"]) == {str(w["asof"]) for w in with_pairs} and with_pairs
    # each Friday's neighbours are the Thursday before and the Monday after: none is another week's as-of date
    assert ds["selections_run"] == 2 * len(with_pairs) and ds["reused"] == 0
    shares = [v["share"] for rec in ds["weeks"].values() for v in rec.values()]
    assert np.mean(shares) >= 0.8  # planted pairs: the neighbouring sessions find them too
    weeks = pd.read_csv(out / "results" / "weeks.csv", keep_default_na=False)
    assert all(weeks["date_stability"].astype(bool) == (weeks["pairs"] > 0))
    assert "## Date stability of the picks" in (out / "results" / "report.md").read_text()
