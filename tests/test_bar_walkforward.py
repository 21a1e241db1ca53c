"""The intraday walk-forward on the synthetic intraday market (planted pairs, 24/7 H1 bars).

The machinery tests use a small stand-in selection (lagged correlation of log returns over a fixed window of bars,
a planted-truth oracle for the pipeline around it, not a model of the paper's funnel); the test marked
``pipeline`` runs the real selection on bar windows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from volts.core.config import Settings
from volts.data.market import FIELDS, MarketData
from volts.data.synthetic_intraday import make_synthetic_intraday_market
from volts.evaluation.bar_walkforward import run_bar_walkforward
from volts.trading.simulate import Holding, Rebalance, simulate_schedule

WINDOW = 240  # bars a stand-in decision sees (10 days of H1)
MAX_LAG = 8


class LaggedCorrelation:
    """Stand-in selection: the ordered pairs whose lagged correlation of log returns (lags 1..MAX_LAG bars) over
    the last WINDOW bars exceeds 0.35, each at its best lag. Reads only bars up to ``asof``."""

    def window(self, settings, index, asof):
        i = int(index.get_loc(asof))
        return index[max(0, i - WINDOW + 1)], None

    def select(self, sub, settings, asof, windows):
        assert sub.dates[-1] == asof  # never sees a bar after the decision bar
        r = np.log(sub.close).diff().iloc[1:]
        syms = list(r.columns)
        pairs = []
        for a in syms:
            for b in syms:
                if a == b:
                    continue
                cs = [np.corrcoef(r[a].to_numpy()[:-k], r[b].to_numpy()[k:])[0, 1] for k in range(1, MAX_LAG + 1)]
                k = int(np.argmax(cs))
                if cs[k] > 0.35:
                    pairs.append({"leader": a, "follower": b, "lag": k + 1, "score": float(cs[k])})
        return {
            "candidates": syms,
            "funnel": [],
            "pairs": pairs,
            "dropped_by_stage": {},
            "warnings": [],
            "timings": {"corr": 0.0},
        }

    @staticmethod
    def windows_dict(windows):
        return {}


def _settings(**extra) -> Settings:
    return Settings().override(
        **{
            "data.source": "synthetic",
            "data.timeframe": "H1",
            "data.calendar": "24/7",
            "strategy.ma_window": 5,
            "lag.max_lag": MAX_LAG,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def market() -> MarketData:
    return make_synthetic_intraday_market(seed=3, start="2023-01-01", end="2023-01-31 23:00").data


def _run(market, out, **kw):
    kw.setdefault("start", "2023-01-15")
    kw.setdefault("end", "2023-01-20")
    return run_bar_walkforward(
        _settings(), every=kw.pop("every", "1D"), out=out, market=market, selector=LaggedCorrelation(), **kw
    )


def test_end_to_end_finds_the_planted_pairs_and_writes_the_artifacts(market, tmp_path):
    res = _run(market, tmp_path, null_draws=20)
    assert [d["asof"] for d in res.decisions] == [f"2023-01-{k}T23:00:00" for k in range(15, 21)]
    for d in res.decisions:
        got = {(p["leader"], p["follower"], p["lag"]) for p in d["pairs"]}
        assert got == {("LEAD1", "FOLLOW1", 2), ("LEAD2", "FOLLOW2", 6)}
        assert {p["lag_text"] for p in d["pairs"]} == {"2 bars (2 h)", "6 bars (6 h)"}
    m = res.metrics
    assert m["timeframe"] == "H1" and m["calendar"] == "24/7" and m["every"] == "1D"
    assert m["bars_per_year"] == pytest.approx(365.25 * 24) and m["periods_per_year_used"] == 8766
    assert m["decisions"]["total"] == 6 and m["lags"] == {"2 bars (2 h)": 6, "6 bars (6 h)": 6}
    assert m["random_pairs_null"]["draws"] == 20 and 0 < m["random_pairs_null"]["p_value"] <= 1
    assert [r["bps_per_side"] for r in m["cost_table"]] == [0.0, 5.0, 10.0, 25.0]
    assert set(m["benchmarks"]) == {"followers_buy_and_hold", "universe_equal_weight"}
    files = {p.name for p in res.folder.iterdir()}
    assert {"metrics.json", "equity.csv", "fills.csv", "decisions.csv", "report.md", "nulls.json"} <= files
    fills = pd.read_csv(res.folder / "fills.csv")
    assert fills["time"].iloc[0] == "2023-01-16 00:00:00"  # the open of the bar after the first decision bar
    eq = pd.read_csv(res.folder / "equity.csv")
    assert eq["time"].iloc[0] == "2023-01-15 23:00:00" and eq["time"].iloc[-1] == "2023-01-20 23:00:00"
    report = (res.folder / "report.md").read_text()
    assert "H1 (1 bar (1 h)), calendar 24/7" in report
    # the break-even cost: in metrics.json, the report and the cost-sweep figure; the net mean return at the
    # reported cost is zero (the root of the simulator's own cost model)
    be = m["break_even"]["strategy"]
    assert "## Break-even cost" in report and "cost_sweep.png" in files
    assert be["status"] in ("root", "none", "above")
    # the planted pairs trade on a real signal: the leaders' lagged trend is worth something before costs
    assert m["cost_table"][0]["sharpe"] > 0


def test_fills_are_labelled_with_full_stamps_and_daily_labels_stay_dates(market):
    s = _settings()
    asof = market.dates[100]
    res = simulate_schedule(
        market, [Rebalance(asof, (Holding("LEAD1", "FOLLOW1", 2),))], end=market.dates[160], settings=s, spy=False
    )
    assert isinstance(Rebalance(asof).asof, pd.Timestamp)
    assert res.fills["date"].iloc[0] > market.dates[100]  # a stamp with its hour, not a date
    assert res.periods["first_session"].iloc[0] == market.dates[101]
    assert Rebalance(asof.to_pydatetime().date()).asof == asof.date()  # a date stays a date


def _perturb_after(market: MarketData, t: pd.Timestamp, seed: int = 9) -> MarketData:
    rng = np.random.default_rng(seed)
    after = market.dates > t
    factor = np.exp(rng.normal(0, 0.05, (int(after.sum()), len(market.symbols))))
    frames = {}
    for f in FIELDS:
        df = getattr(market, f).copy()
        if f != "volume":
            df.loc[after] = df.loc[after].to_numpy() * factor
        frames[f] = df
    hi = np.maximum.reduce([frames[f].to_numpy() for f in ("open", "high", "low", "close")])
    lo = np.minimum.reduce([frames[f].to_numpy() for f in ("open", "high", "low", "close")])
    frames["high"] = pd.DataFrame(hi, index=market.dates, columns=market.symbols)
    frames["low"] = pd.DataFrame(lo, index=market.dates, columns=market.symbols)
    return MarketData(**frames)


def test_lookahead_perturbing_bars_after_a_decision_changes_nothing_up_to_the_next_bar(market, tmp_path):
    base = _run(market, tmp_path / "a")
    t = pd.Timestamp(base.decisions[2]["asof"])  # 2023-01-17 23:00
    pert = _run(_perturb_after(market, t), tmp_path / "b")
    for a, b in zip(base.decisions[:3], pert.decisions[:3]):
        assert a["pairs"] == b["pairs"] and a["data_sha256"] == b["data_sha256"]
    assert base.decisions[3]["data_sha256"] != pert.decisions[3]["data_sha256"]  # the perturbation is seen later
    nxt = market.dates[market.dates.get_loc(t) + 1]
    e0, e1 = base.simulation.equity, pert.simulation.equity
    # same code, same inputs up to the bar after t, one process: equal exactly
    pd.testing.assert_series_equal(e0.loc[:t], e1.loc[:t])
    assert e0.loc[nxt] != e1.loc[nxt]  # at that bar's close the new prices count, as they should
    f0, f1 = base.simulation.fills, pert.simulation.fills
    pd.testing.assert_frame_equal(
        f0[f0["date"] <= t].reset_index(drop=True), f1[f1["date"] <= t].reset_index(drop=True)
    )


def _content(rec):  # a record without its wall times (and so without its content hash)
    return {k: v for k, v in rec.items() if k not in ("timings", "record_sha256")}


def test_cache_is_reused_and_a_corrupt_record_is_recomputed(market, tmp_path, caplog):
    first = _run(market, tmp_path)
    assert first.stats["computed"] == 6 and first.stats["cached"] == 0
    again = _run(market, tmp_path)
    assert again.stats["computed"] == 0 and again.stats["cached"] == 6
    assert again.decisions == first.decisions
    files = sorted((tmp_path / "decisions").glob("*.json"))
    assert len(files) == 6
    rec = json.loads(files[1].read_text())
    rec["pairs"] = rec["pairs"][:1]  # an edit: the content hash no longer holds
    files[1].write_text(json.dumps(rec))
    files[2].write_text(files[2].read_text()[:50])  # truncated
    with caplog.at_level("WARNING"):
        third = _run(market, tmp_path)
    assert third.stats["computed"] == 2 and third.stats["cached"] == 4
    assert [_content(d) for d in third.decisions] == [_content(d) for d in first.decisions]
    assert sum("recomputing this decision" in r.message for r in caplog.records) == 2


def test_a_new_setting_of_the_selection_recomputes_and_a_cost_change_does_not(market, tmp_path):
    _run(market, tmp_path)
    s2 = _settings(**{"costs.commission_pct": 0.001})
    res = run_bar_walkforward(
        s2, start="2023-01-15", end="2023-01-20", every="1D", out=tmp_path, market=market, selector=LaggedCorrelation()
    )
    assert res.stats["computed"] == 0


def test_every_n_bars_and_six_hours(market, tmp_path):
    res = _run(market, tmp_path / "n", every="12 bars", start="2023-01-15", end="2023-01-16")
    assert [d["asof"] for d in res.decisions] == [
        "2023-01-15T11:00:00",
        "2023-01-15T23:00:00",
        "2023-01-16T11:00:00",
        "2023-01-16T23:00:00",
    ]
    six = _run(market, tmp_path / "s", every="6H", start="2023-01-15", end="2023-01-15")
    assert [pd.Timestamp(d["asof"]).hour for d in six.decisions] == [5, 11, 17, 23]
    assert six.metrics["cadence"] == "every 6H (periods anchored at 00:00 UTC)"


# ------------------------------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize(
    "extra, words",
    [
        (["--ablation"], "--ablation: not available for the intraday walk-forward"),
        (["--engine", "backtrader"], "--engine: not available"),
        (["--hold", "2W"], "--hold: not available"),
        (["--every", "5H"], "must divide a day"),
        (["--every", "30min"], "shorter than one H1 bar"),
    ],
)
def test_cli_intraday_walkforward_usage_errors(extra, words, isolated_cwd, capsys):
    from tests.cli_helpers import one_error, run_volts

    cfg = isolated_cwd / "h1.toml"
    cfg.write_text('[data]\nsource = "csv"\ndir = "."\ntimeframe = "H1"\ncalendar = "24/7"\n')
    args = ["walkforward", "--config", cfg, "--start", "2023-01-10", "--end", "2023-01-20", "--every", "1D"]
    rc, _, err = run_volts(capsys, *args, *extra, "--out", isolated_cwd / "o")
    assert rc == 2, err
    assert words in one_error(err)


def test_cli_intraday_walkforward_needs_the_span(isolated_cwd, capsys):
    from tests.cli_helpers import one_error, run_volts

    cfg = isolated_cwd / "h1.toml"
    cfg.write_text('[data]\nsource = "mt5"\ntimeframe = "H1"\ncalendar = "24/7"\n')
    rc, _, err = run_volts(capsys, "walkforward", "--config", cfg)
    assert rc == 2 and "needs --start and --end" in one_error(err)
    rc, _, err = run_volts(
        capsys,
        "walkforward",
        "--config",
        cfg,
        "--start",
        "2023-01-10",
        "--end",
        "2023-01-20",
        "--every",
        "1D",
        "--out",
        isolated_cwd / "o",
    )
    assert rc == 2 and "reads intraday CSV bars" in one_error(err)


def test_a_symbol_with_a_hole_sits_out_the_decisions_whose_windows_it_does_not_cover(market, tmp_path):
    from volts.data.intraday_panel import IntradayPanel

    real = pd.DataFrame(True, index=market.dates, columns=market.symbols)
    hole = (market.dates >= "2023-01-16 05:00") & (market.dates < "2023-01-17 05:00")  # 24 bars of IND2 missing
    real.loc[hole, "IND2"] = False
    res = _run(IntradayPanel(market, real), tmp_path)
    # the stand-in's window is 240 bars: every decision from 16 Jan 23:00 on sees the hole (over 5 % of it)
    for d in res.decisions:
        sees = pd.Timestamp(d["asof"]) >= pd.Timestamp("2023-01-16 05:00")
        assert ("IND2" in d["excluded"]) == sees
        assert ("IND2" in d["candidates"]) == (not sees)
    # 16 Jan 23:00: 19 of its 240 stamps fall in the hole
    assert res.decisions[1]["excluded"]["IND2"] == "7.9% of the window's 240 stamps missing (limit 5%)"
    assert res.metrics["symbols_excluded"]["decisions_by_symbol"] == {"IND2": 5}
    assert res.metrics["carried_fills"]["on_carried_bars"] == 0  # IND2 is never a follower here


@pytest.mark.slow
def test_cli_intraday_walkforward_runs_the_selection_on_bars_and_finds_the_planted_pair(isolated_cwd, capsys):
    """The real funnel on the synthetic intraday market (planted LEAD1 -> FOLLOW1 at 2 bars), end to end."""
    from tests.cli_helpers import run_volts

    cfg = isolated_cwd / "h1.toml"
    cfg.write_text(
        '[data]\nsource = "synthetic"\ntimeframe = "H1"\ncalendar = "24/7"\n'
        '[intraday]\ngmm_window = "30D"\ntrain_window = "10D"\nanomaly_window = "30D"\n'
    )
    out = isolated_cwd / "o"
    args = ["walkforward", "--config", cfg, "--start", "2023-03-26", "--end", "2023-03-31", "--every", "1D"]
    rc, stdout, err = run_volts(capsys, *args, "--null-draws", 10, "--out", out, "--no-progress")
    assert rc == 0, err
    m = json.loads((out / "results" / "metrics.json").read_text())
    assert m["decisions"]["total"] == 6 and m["timeframe"] == "H1"
    pairs = [json.loads(p.read_text())["pairs"] for p in sorted((out / "decisions").glob("*.json"))]
    hits = [any(p["leader"] == "LEAD1" and p["follower"] == "FOLLOW1" and p["lag"] == 2 for p in ps) for ps in pairs]
    assert sum(hits) >= 5  # the planted pair with its planted lag at (nearly) every decision
    assert not any(p["leader"].startswith("IND") or p["follower"].startswith("IND") for ps in pairs for p in ps)
    assert m["lags"].get("2 bars (2 h)", 0) >= 5
    assert "random-pairs null (10 draws)" in stdout
    rc, stdout, _ = run_volts(capsys, *args, "--null-draws", 10, "--out", out, "--no-progress")
    assert rc == 0 and "0 computed" in stdout and "6 from the cache" in stdout


def test_the_equal_weight_benchmark_leaves_out_a_symbol_listed_after_the_first_decision(market, tmp_path):
    from volts.data.intraday_panel import IntradayPanel

    real = pd.DataFrame(True, index=market.dates, columns=market.symbols)
    real.loc[market.dates < "2023-01-18", "IND1"] = False  # listed on 18 Jan: its earlier bars are carried
    panel = IntradayPanel(market, real)
    res = _run(panel, tmp_path)
    ew = res.simulation.benchmarks["universe_equal_weight"]
    alt = simulate_schedule(
        market,
        [Rebalance(pd.Timestamp("2023-01-15 23:00"))],
        end=market.dates[-1],
        settings=_settings(),
        universe=[s for s in market.symbols if s != "IND1"],
        spy=False,
    ).benchmarks["universe_equal_weight"]
    np.testing.assert_allclose(ew.to_numpy(), alt.loc[ew.index].to_numpy(), rtol=1e-12)


def test_the_machinery_takes_daily_bars_of_a_247_market_with_a_selection_that_accepts_them(market, tmp_path):
    """Decision bars, cache, trading and statistics are generic in the bar size (the frequency study's D1 row);
    D1 bars must be given as a market (from files, daily bars run the daily walk-forward)."""
    from volts.core.errors import UsageError

    o = market.open.resample("1D").first()
    frames = {
        "open": o,
        "high": market.high.resample("1D").max(),
        "low": market.low.resample("1D").min(),
        "close": market.close.resample("1D").last(),
        "volume": market.volume.resample("1D").sum(),
    }
    d1 = MarketData(**frames)
    s = _settings(**{"data.timeframe": "D1"})
    with pytest.raises(UsageError, match="other than D1"):
        run_bar_walkforward(s, start="2023-01-15", end="2023-01-28", every="1W", out=tmp_path)
    res = run_bar_walkforward(
        s, start="2023-01-09", end="2023-01-29", every="1W", out=tmp_path, market=d1, selector=DailyStub()
    )
    assert [d["asof"] for d in res.decisions] == ["2023-01-15T00:00:00", "2023-01-22T00:00:00", "2023-01-29T00:00:00"]
    assert res.metrics["bars_per_year"] == pytest.approx(365.25)
    assert res.simulation.fills["date"].iloc[0] == pd.Timestamp("2023-01-16")  # the next day's open


class DailyStub(LaggedCorrelation):
    def window(self, settings, index, asof):
        i = int(index.get_loc(asof))
        return index[max(0, i - 7)], None

    def select(self, sub, settings, asof, windows):
        return {
            "candidates": list(sub.symbols),
            "funnel": [],
            "pairs": [{"leader": "LEAD1", "follower": "FOLLOW1", "lag": 1}],
            "dropped_by_stage": {},
            "warnings": [],
            "timings": {},
        }
