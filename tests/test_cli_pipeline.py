"""The user-facing commands end to end: volts select, volts backtest, volts run (issues 4-6 contracts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.close import assert_file_close, assert_json_close
from tests.conftest import REPO
from volts.core.artifacts import SELECTION_FIELDS
from volts.cli import main

METRIC_FIELDS = (
    "name",
    "trades",
    "win_rate",
    "total_return",
    "final_equity",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
)


def _volts(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _content(path: Path) -> dict:
    data = json.loads(path.read_text())
    data.pop("created", None)
    return data


@pytest.fixture(scope="module")
def ref_selection(ref_data_dir, tmp_path_factory):
    """`volts select --asof 2023-06-08` on the reference data with the paper's settings (run once per module)."""
    out = tmp_path_factory.mktemp("runs")
    assert (
        main(
            [
                "select",
                "--asof",
                "2023-06-08",
                "--data-dir",
                str(ref_data_dir),
                "--out",
                str(out),
                "--config",
                str(REPO / "config.toml"),
            ]
        )
        == 0
    )
    return out / "2023-06-08" / "selection.json"


@pytest.mark.slow
def test_select_writes_a_complete_selection(ref_selection):
    sel = json.loads(ref_selection.read_text())
    assert all(f in sel for f in SELECTION_FIELDS)
    assert sel["asof"] == "2023-06-08" and sel["train"] == {"start": "2022-11-01", "end": "2023-06-08"}
    assert set(sel["volatility_clusters"]) == set(sel["universe"]) and len(sel["universe"]) == 10
    assert sel["candidates"] == [s for s in sel["universe"] if sel["volatility_clusters"][s] == "mid"]
    n = len(sel["candidates"])
    assert sel["funnel"][0] == {
        "stage": "granger",
        "entered": n * (n - 1),
        "kept": len(sel["granger"]["pairs"]),
        "dropped": n * (n - 1) - len(sel["granger"]["pairs"]),
    }
    for a, b in zip(sel["funnel"], sel["funnel"][1:]):
        assert b["entered"] == a["kept"]  # each stage screens exactly what the previous one kept
    assert len(sel["pairs"]) == sel["funnel"][-1]["kept"]
    for p in sel["pairs"]:
        assert {"leader", "follower", "lag", "granger_p", "partial_corr", "ete", "ete_p", "knn_accuracy"} <= set(p)
        assert p["granger_p"] < 0.01 and abs(p["partial_corr"]) >= 0.15 and p["ete"] > 0 and p["ete_p"] <= 0.05
        assert 1 <= p["lag"] <= 10
    dropped_or_kept = set(sel["dropped"]) | {f"{p['leader']}->{p['follower']}" for p in sel["pairs"]}
    assert len(dropped_or_kept) == n * (n - 1)  # every ordered pair is accounted for
    assert any("unit root" in w for w in sel["warnings"])  # levels + ADF warning (granger.series = "close")
    assert any(a["date"].startswith("2020-03") for a in sel["anomalies"])
    for fig in ("anomalies.png", "volatility_regimes.png", "granger_pvalues.png", "pcmci_graph.png"):
        assert (ref_selection.parent / fig).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_select_gives_the_date_stability_of_the_reference_pick(ref_selection):
    sel = json.loads(ref_selection.read_text())
    stab = sel["date_stability"]
    assert stab["sessions"] == 5 and len(stab["neighbours"]) == 10 and not stab["missing"]
    assert "2023-06-08" not in stab["neighbours"] and stab["neighbours"][0] == "2023-06-01"
    for p in sel["pairs"]:
        v = stab["pairs"][f"{p['leader']}->{p['follower']}"]
        assert v["lag"] == p["lag"] and 0.0 <= v["share_same_lag"] <= v["share"] <= 1.0
        assert v["share"] == len(v["dates"]) / 10


@pytest.mark.slow
def test_select_twice_gives_identical_content_and_keeps_existing_runs(ref_selection, ref_data_dir, capsys):
    out = ref_selection.parent.parent
    before = ref_selection.read_bytes()
    rc, _, err = _volts(
        capsys,
        "select",
        "--asof",
        "2023-06-08",
        "--data-dir",
        ref_data_dir,
        "--out",
        out,
        "--config",
        REPO / "config.toml",
    )
    assert rc == 0 and "already exists; kept it" in err
    assert ref_selection.read_bytes() == before  # not clobbered without --force
    again = out.parent / (out.name + "-again")
    rc, _, _ = _volts(
        capsys,
        "select",
        "--asof",
        "2023-06-08",
        "--data-dir",
        ref_data_dir,
        "--out",
        again,
        "--config",
        REPO / "config.toml",
        "--force",
    )
    assert rc == 0
    assert _content(again / "2023-06-08" / "selection.json") == _content(ref_selection)
    assert (again / "latest").resolve() == (again / "2023-06-08").resolve()
    assert sorted(p.name for p in again.iterdir()) == [".2023-06-08.lock", "2023-06-08", "latest"]  # no staging


@pytest.mark.slow
def test_select_recovers_the_planted_pairs_of_the_demo_market(demo_market_select):
    from volts.data.synthetic import make_synthetic_market

    rc, out, run = demo_market_select  # `volts select --config examples/demo.toml`, shared with test_date_stability
    assert rc == 0
    sel = json.loads((run / "selection.json").read_text())
    truth = make_synthetic_market(seed=0).truth
    planted = {(p.leader, p.follower): p.lag for p in truth.pairs}
    found = {(p["leader"], p["follower"]): p["lag"] for p in sel["pairs"]}
    assert found == planted  # every planted direction and lag, and no false pair
    assert set(sel["candidates"]) == {s for s, r in truth.regimes.items() if r == "mid"}
    assert "granger" in out and "lag" in out  # the funnel is printed


@pytest.mark.slow
def test_select_through_mt5_gives_the_same_selection_as_csv(ref_data_dir, ref_selection, tmp_path, capsys, monkeypatch):
    from volts.testing.mt5_server import serve_standin

    monkeypatch.chdir(tmp_path)
    with serve_standin(ref_data_dir, symbol_format="{symbol}.US", until="2023-06-09") as (host, port, _):
        cfg = tmp_path / "mt5.toml"
        cfg.write_text(
            f'[data]\nsource = "mt5"\n[data.mt5]\nbridge = "mt5linux"\nhost = "{host}"\n'
            f'port = {port}\nsymbol_suffix = ".US"\nbackoff_seconds = 0.0\n'
        )
        rc, _, err = _volts(capsys, "select", "--asof", "2023-06-08", "--config", cfg, "--out", tmp_path / "runs")
    assert rc == 0, err
    via_mt5 = _content(tmp_path / "runs" / "2023-06-08" / "selection.json")
    via_csv = _content(ref_selection)
    # the source setting itself differs, and so do the rows each source delivered (data_quality.rows_read: the
    # terminal serves the requested span, a CSV file every row; the stand-in stops on 2023-06-09, so the date
    # stability's later neighbouring sessions have no bars there); nothing else
    for key in ("settings", "config_sha256", "data_source", "data_quality", "date_stability"):
        via_mt5.pop(key), via_csv.pop(key)
    assert via_mt5 == via_csv


# ----------------------------------------------------------------------------------------------- backtest
def _paper_selection(tmp_path: Path, **changes) -> Path:
    sel = {
        "asof": "2023-06-08",
        "train": {"start": "2022-11-01", "end": "2023-06-08"},
        "universe": ["MU", "QCOM", "META", "TSLA", "AMZN"],
        "anomalies": [],
        "volatility_clusters": {},
        "candidates": [],
        "granger": {"lag": 45, "tests": []},
        "pairs": [
            {"leader": "MU", "follower": "QCOM", "lag": 2},
            {"leader": "META", "follower": "TSLA", "lag": 1},
            {"leader": "TSLA", "follower": "AMZN", "lag": 5},
        ],
        "volts_version": "hand-written",
        "config_sha256": "-",
        "data_sha256": "-",
    }
    sel.update(changes)
    path = tmp_path / "selection.json"
    path.write_text(json.dumps(sel))
    return path


@pytest.mark.slow
def test_backtest_of_a_hand_written_selection(ref_data_dir, tmp_path, capsys):
    path = _paper_selection(tmp_path)
    rc, out, _ = _volts(capsys, "backtest", "--selection", path, "--data-dir", ref_data_dir)
    assert rc == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["name"] for r in metrics["strategies"]] == [
        "MU->QCOM (tau 2)",
        "META->TSLA (tau 1)",
        "TSLA->AMZN (tau 5)",
    ]
    assert len(metrics["benchmarks"]) == 3 and metrics["portfolio"]
    for row in metrics["strategies"] + metrics["benchmarks"] + metrics["portfolio"]:
        assert all(f in row for f in METRIC_FIELDS)
        assert row["max_drawdown"] is None or 0 <= row["max_drawdown"] < 1  # a fraction, not percent
    port = next(r for r in metrics["portfolio"] if r["name"] == "portfolio")
    assert port["final_equity"] == pytest.approx(sum(r["final_equity"] for r in metrics["strategies"]))
    for name in ("equity.csv", "trades.csv", "equity.png"):
        assert (tmp_path / name).is_file()
    assert "MU->QCOM (tau 2)" in out and "return %" in out
    # the selection saw the 2023-06-08 bar, so trading starts at the next session, never on a bar it saw
    equity_dates = [ln.split(",", 1)[0] for ln in (tmp_path / "equity.csv").read_text().splitlines()[1:]]
    assert equity_dates[0] == "2023-06-09" and equity_dates[-1] == "2023-08-11"
    trades = (tmp_path / "trades.csv").read_text()
    assert "2023-06-08" not in trades


@pytest.mark.slow
def test_backtest_starting_on_the_asof_date_is_flagged_in_sample(ref_data_dir, tmp_path, capsys):
    path = _paper_selection(tmp_path)
    rc, _, err = _volts(
        capsys,
        "backtest",
        "--selection",
        path,
        "--data-dir",
        ref_data_dir,
        "--start",
        "2023-06-08",
        "--end",
        "2023-08-12",
    )
    assert rc == 0 and "warning:" in err and "in-sample" in err


@pytest.mark.parametrize(
    "change, code, words",
    [
        ({"pairs": [{"leader": "MU", "lag": 2}]}, 2, "pairs[0] lacks follower"),
        ({"pairs": [{"leader": "MU", "follower": "ZZZZ", "lag": 2}]}, 3, "ZZZZ"),
    ],
)
def test_backtest_bad_selection(ref_data_dir, tmp_path, capsys, change, code, words):
    path = _paper_selection(tmp_path, **change)
    rc, out, err = _volts(capsys, "backtest", "--selection", path, "--data-dir", ref_data_dir)
    assert rc == code
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err


@pytest.mark.slow
def test_backtest_missing_field_and_empty_window(ref_data_dir, tmp_path, capsys):
    path = _paper_selection(tmp_path)
    data = json.loads(path.read_text())
    del data["asof"]
    path.write_text(json.dumps(data))
    rc, _, err = _volts(capsys, "backtest", "--selection", path, "--data-dir", ref_data_dir)
    assert rc == 2 and "missing field(s) asof" in err
    path = _paper_selection(tmp_path)
    rc, _, err = _volts(
        capsys,
        "backtest",
        "--selection",
        path,
        "--data-dir",
        ref_data_dir,
        "--start",
        "2030-01-01",
        "--end",
        "2030-02-01",
    )
    assert rc == 3 and "no rows between" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------------------------- run
@pytest.mark.slow
def test_run_end_to_end_on_the_reference_data(ref_data_dir, tmp_path, capsys, check_report_html):
    rc, out, _ = _volts(capsys, "run", "--data-dir", ref_data_dir, "--out", tmp_path, "--config", REPO / "config.toml")
    assert rc == 0
    run = tmp_path / "2023-06-08"
    for name in (
        "selection.json",
        "report.md",
        "report.html",
        "anomalies.png",
        "volatility_regimes.png",
        "granger_pvalues.png",
        "pcmci_graph.png",
    ):
        assert (run / name).is_file(), name
    sel = json.loads((run / "selection.json").read_text())
    report = (run / "report.md").read_text()
    assert "## Paper comparison" in report and "## Caveats" in report
    if sel["pairs"]:
        metrics = json.loads((run / "metrics.json").read_text())
        assert all(f"| {r['name']} |" in report for r in metrics["strategies"] + metrics["benchmarks"])
        assert (run / "equity.png").is_file()
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="anomalies.png"' not in html  # self-contained
    assert "final pairs" in out and "report:" in out

    result = check_report_html(run / "report.html")
    assert result["images"] >= 5 and not result["broken_images"] and not result["console_errors"]


@pytest.mark.slow
def test_run_on_the_demo_market_reports_planted_versus_recovered(demo_market_run):
    rc, out, run = demo_market_run  # `volts run --config examples/demo.toml`, shared with test_disclosure.py
    assert rc == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("recovered 3 of 3 planted pairs with their lags; 0 false pair(s)")
    assert (run / "truth.json").is_file()
    assert "## Planted versus recovered" in (run / "report.md").read_text()


@pytest.mark.slow
def test_select_stability_on_a_cluster_equals_in_process(ref_data_dir, tmp_path):
    """``volts select --stability R --workers 2`` starts the repetitions before the plain selection and draws the
    figures while they run; the artifacts must be those of the in-process command (which runs everything in
    order): the same selection.json apart from ``created`` and the timings, the same figures (to rounding)."""
    common = [
        "select",
        "--asof",
        "2023-06-08",
        "--data-dir",
        str(ref_data_dir),
        "--config",
        str(REPO / "config.toml"),
        "--stability",
        "3",
    ]
    assert main(common + ["--out", str(tmp_path / "here")]) == 0
    assert main(common + ["--out", str(tmp_path / "dask"), "--workers", "2"]) == 0
    here, dask = tmp_path / "here" / "2023-06-08", tmp_path / "dask" / "2023-06-08"
    a, b = _content(here / "selection.json"), _content(dask / "selection.json")
    ta, tb = a.pop("timings", None), b.pop("timings", None)
    # the Granger scan and the repetitions ran in worker processes (their own BLAS state): the same pairs, lags and
    # counts, floats to rounding, figures to a grey level
    assert_json_close(a, b)
    assert a["stability"]["runs"] == 3
    assert (ta is None) == (tb is None)
    files = sorted(p.name for p in here.iterdir())
    assert files == sorted(p.name for p in dask.iterdir()) and "volatility_regimes.png" in files
    for name in files:
        if name.endswith(".png"):
            assert_file_close(here / name, dask / name)


@pytest.mark.slow
def test_backtest_in_the_run_folder_checks_the_selection_config(ref_data_dir, tmp_path, capsys):
    """In its own run folder a backtest refuses a selection made with other settings; a selection made before a
    key was added that no selection reads (data.spy_file: the hash then lacked it) is the same config."""
    import hashlib

    from volts.core.config import load_settings

    # the CLI reads ./config.toml (the repository's), whose live paths it resolves against that file
    now = load_settings(REPO / "config.toml").override(**{"data.dir": str(ref_data_dir)})
    raw = now.model_dump(mode="json")
    del raw["data"]["spy_file"]
    del raw["selection"]["date_stability_sessions"]  # nor did this one (a report diagnostic)
    for key in ("lock_dir", "max_selection_age_sessions", "cap_volume", "sizing"):  # live keys added since
        del raw["live"][key]
    before = hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    other = now.override(**{"lag.max_lag": 9}).sha256()
    for made_with, rc_expected in ((other, 2), (before, 0), (now.sha256(), 0)):
        folder = tmp_path / made_with[:8]
        folder.mkdir()
        path = _paper_selection(folder, config_sha256=made_with)
        rc, _, err = _volts(capsys, "backtest", "--selection", path, "--data-dir", ref_data_dir)
        assert rc == rc_expected, err
        if rc_expected:
            assert "made with another config" in err
