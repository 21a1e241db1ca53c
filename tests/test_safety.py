"""Issue 14 (all but the live-orders part): results never half-written or overwritten by surprise, exit codes as
documented, data that used to degrade silently, and messages that used to mislead. One test (or one parametrised
case) per kind; each failed before its fix."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.data._fixtures import HEADER, real_rows, set_cell, write_rows
from tests.cli_helpers import FAST, one_error, run_volts
from volts.cli import main


@pytest.fixture(autouse=True)
def _isolated(isolated_cwd):
    """Every test here runs from an empty folder (no ./config.toml)."""


_volts = run_volts


_one_error = one_error


# A quick demo config: the synthetic market with its planted pairs, fewer surrogates and mixture restarts so a
# whole `volts run` takes seconds. Nothing here is tuned to a result: the tests check files, not figures.


@pytest.fixture
def fast_cfg(tmp_path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST)
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ============================================================================ results never half-written
@pytest.fixture(scope="module")
def complete_run(tmp_path_factory):
    """One complete `volts run` of the fast demo (module-scoped; tests copy it before changing anything)."""
    base = tmp_path_factory.mktemp("complete")
    cfg = base / "fast.toml"
    cfg.write_text(FAST)
    out = base / "runs"
    with pytest.MonkeyPatch.context() as mp:  # figures cost most of a run's time and are not what is tested here
        mp.setattr("volts.reporting.run_report.write_selection_figures", lambda *a, **k: {})
        mp.setattr("volts.reporting.figures.backtest.plot_equity", lambda result, path: path)
        assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    return cfg, out


def _copy_runs(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


KILL_AT = {
    # point: (module, attribute) patched to SIGKILL the process when called
    "selection (volatility clustering stage)": ("volts.selection.regimes", "cluster_volatility"),
    "backtest (after metrics.json, before the figure)": ("volts.reporting.figures.backtest", "plot_equity"),
    "report (after report.md, before report.html)": ("volts.reporting.run_report", "markdown_to_html"),
}


@pytest.mark.slow
def test_a_run_killed_at_three_points_leaves_the_previous_run_and_latest_as_they_were(complete_run, tmp_path):
    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    before = _tree(out / "2023-06-08")
    latest = os.readlink(out / "latest")
    for point, (module, attr) in KILL_AT.items():
        code = (
            f"import importlib, os, signal, sys\n"
            f"import volts.reporting.run_report, volts.reporting.figures.backtest\n"
            f"volts.reporting.run_report.write_selection_figures = lambda *a, **k: {{}}\n"
            f"volts.reporting.figures.backtest.plot_equity = lambda result, path: path\n"
            f"m = importlib.import_module({module!r})\n"
            f"setattr(m, {attr!r}, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))\n"
            f"from volts.cli import main\n"
            f"sys.exit(main(['run', '--config', {str(cfg)!r}, '--out', {str(out)!r}, '--force']))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )
        assert proc.returncode == -signal.SIGKILL, (point, proc.stderr[-2000:])
        assert _tree(out / "2023-06-08") == before, point  # the complete run is as it was, byte for byte
        assert os.readlink(out / "latest") == latest, point
        assert any(p.name.endswith(".partial") for p in out.iterdir()), point  # the kill left its staging folder
    # the next run cleans what the kills left behind, and a run with the same inputs keeps the complete run
    rc = main(["run", "--config", str(cfg), "--out", str(out)])
    assert rc == 0
    assert not any(p.name.endswith((".partial", ".old")) for p in out.iterdir())
    assert _tree(out / "2023-06-08") == before


@pytest.mark.slow
def test_a_failure_or_ctrl_c_after_the_selection_keeps_the_previous_run(complete_run, tmp_path, monkeypatch, capsys):
    from volts.core.errors import DataError

    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    before = _tree(out / "2023-06-08")

    def data_error(*a, **k):
        raise DataError("TEST.csv: TEST 2023-07-03: nan: missing value in close")

    monkeypatch.setattr("volts.commands.backtest.run_backtest_for_selection", data_error)
    monkeypatch.setattr("volts.reporting.run_report.write_selection_figures", lambda *a, **k: {})
    rc, _, err = _volts(capsys, "run", "--config", cfg, "--out", out, "--force")
    assert rc == 3 and "TEST.csv" in err
    assert _tree(out / "2023-06-08") == before and os.readlink(out / "latest") == "2023-06-08"

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("volts.selection.causality.granger.granger_scan", ctrl_c)  # early: cheaper, same staging
    rc, _, err = _volts(capsys, "run", "--config", cfg, "--out", out, "--force")
    assert rc == 130 and "interrupted" in err
    assert _tree(out / "2023-06-08") == before
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock")) == ["2023-06-08", "latest"]


def test_run_keeps_an_identical_run_and_refuses_a_different_one_without_force(complete_run, tmp_path, capsys):
    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    before = _tree(out / "2023-06-08")
    rc, stdout, err = _volts(capsys, "run", "--config", cfg, "--out", out)
    assert rc == 0 and "kept" in stdout + err and _tree(out / "2023-06-08") == before
    other = tmp_path / "other.toml"
    other.write_text(FAST.replace("surrogates = 20", "surrogates = 21"))
    rc, _, err = _volts(capsys, "run", "--config", other, "--out", out)
    assert rc == 2 and "--force" in _one_error(err) and "config SHA-256" in err
    assert _tree(out / "2023-06-08") == before


@pytest.mark.slow
def test_select_refuses_a_run_made_with_other_data_unless_force(complete_run, tmp_path, capsys, monkeypatch):
    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    other = tmp_path / "seed1.toml"
    other.write_text(FAST.replace('source = "synthetic"', 'source = "synthetic"\nsynthetic_seed = 1'))
    rc, _, err = _volts(capsys, "select", "--config", other, "--out", out)
    assert rc == 2 and "data SHA-256" in _one_error(err) and "--force" in err
    monkeypatch.setattr("volts.reporting.run_report.write_selection_figures", lambda *a, **k: {})
    rc, stdout, _ = _volts(capsys, "select", "--config", other, "--out", out, "--force")
    assert rc == 0 and "wrote" in stdout
    sel = json.loads((out / "2023-06-08" / "selection.json").read_text())
    assert sel["settings"]["data"]["synthetic_seed"] == 1


@pytest.mark.slow
def test_backtest_does_not_overwrite_the_runs_metrics_without_force(complete_run, tmp_path, capsys):
    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    run = out / "2023-06-08"
    metrics_before = (run / "metrics.json").read_bytes()
    rc, _, err = _volts(
        capsys,
        "backtest",
        "--selection",
        run / "selection.json",
        "--config",
        cfg,
        "--start",
        "2023-07-03",
        "--end",
        "2023-08-11",
    )
    assert rc == 2 and "--force" in _one_error(err) and "--out" in err
    assert (run / "metrics.json").read_bytes() == metrics_before
    rc, _, _ = _volts(
        capsys,
        "backtest",
        "--selection",
        run / "selection.json",
        "--config",
        cfg,
        "--start",
        "2023-07-03",
        "--end",
        "2023-08-11",
        "--out",
        tmp_path / "elsewhere",
    )
    assert rc == 0 and (tmp_path / "elsewhere" / "metrics.json").is_file()
    assert (run / "metrics.json").read_bytes() == metrics_before
    rc, stdout, _ = _volts(
        capsys,
        "backtest",
        "--selection",
        run / "selection.json",
        "--config",
        cfg,
        "--start",
        "2023-07-03",
        "--end",
        "2023-08-11",
        "--force",
    )
    assert rc == 0 and "rebuilt" in stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["window"]["start"] == "2023-07-03"
    assert "2023-07-03" in (run / "report.md").read_text()  # the report is in step with the new metrics


def test_two_selects_into_one_folder_do_not_both_write(tmp_path, fast_cfg, capsys):
    from filelock import FileLock

    out = tmp_path / "runs"
    out.mkdir()
    with FileLock(str(out / ".2023-06-08.lock")):  # another process is writing this run
        rc, stdout, err = _volts(capsys, "select", "--config", fast_cfg, "--out", out)
    assert rc == 2 and "another volts process" in _one_error(err) and "wrote" not in stdout
    assert not (out / "2023-06-08").exists()


def test_stale_partial_folders_are_cleaned_and_live_ones_kept(tmp_path):
    from filelock import FileLock

    from volts.core.artifacts import RunFolder

    out = tmp_path / "runs"
    (out / ".2023-06-01.abc.partial").mkdir(parents=True)
    (out / ".2023-06-01.abc.partial" / "selection.json").write_text("{}")
    (out / ".2023-06-02.def.partial").mkdir()
    (out / ".2023-06-08.ghi.old").mkdir()
    with FileLock(str(out / ".2023-06-02.lock")):  # a live run of 2023-06-02
        with RunFolder(out, "2023-06-08") as rf:
            names = sorted(p.name for p in out.iterdir() if p.is_dir())
            assert ".2023-06-01.abc.partial" not in names and ".2023-06-08.ghi.old" not in names
            assert ".2023-06-02.def.partial" in names and rf.staging.name in names


def test_artifacts_follow_the_umask(tmp_path):
    from volts.core.artifacts import RunFolder, atomic_write_json

    old = os.umask(0o027)
    try:
        with RunFolder(tmp_path / "runs", "x") as rf:
            atomic_write_json(rf.staging / "a.json", {"v": 1})
            rf.commit(latest=False)
        path = tmp_path / "runs" / "x"
        assert stat.S_IMODE(path.stat().st_mode) == 0o750
        assert stat.S_IMODE((path / "a.json").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_unwritable_out_is_refused_before_the_selection_runs(tmp_path, fast_cfg, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # --out below a file cannot be created, whoever runs the test
    monkeypatch.setattr(
        "volts.data.sources.load_market", lambda *a, **k: pytest.fail("data loaded before the --out check")
    )
    rc, _, err = _volts(capsys, "select", "--config", fast_cfg, "--out", blocker / "runs")
    assert rc == 2 and str(blocker) in _one_error(err)


def test_full_disk_names_the_path_and_exits_2(tmp_path, monkeypatch, capsys):
    import errno

    from volts.core.artifacts import atomic_write_json
    from volts.core.errors import ArtifactError

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ArtifactError, match="No space left on device") as info:
        atomic_write_json(tmp_path / "x" / "selection.json", {"v": 1})
    assert str(tmp_path / "x" / "selection.json") in str(info.value)
    assert list((tmp_path / "x").iterdir()) == []  # no temporary file left


# ================================================================================== exit codes
def test_debug_is_accepted_after_the_subcommand_and_keeps_the_exit_code(capsys, tmp_path):
    rc, _, err = _volts(capsys, "data", "check", tmp_path / "nowhere", "--debug")
    assert rc == 3 and "Traceback" in err and "data directory not found" in err
    rc, _, err = _volts(capsys, "--debug", "data", "check", tmp_path / "nowhere")
    assert rc == 3


def test_broker_error_with_debug_exits_4(capsys, monkeypatch):
    from volts.core.errors import BrokerError

    def fail(*a, **k):
        raise BrokerError("order_send: -10003 No IPC connection")

    monkeypatch.setattr("volts.commands.data.run_check", fail)
    rc, _, err = _volts(capsys, "data", "check", "--debug")
    assert rc == 4 and "No IPC" in err


def test_ctrl_c_exits_130(capsys, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("volts.commands.data.run_check", interrupt)
    rc, _, err = _volts(capsys, "data", "check")
    assert rc == 130 and "interrupted" in err


@pytest.mark.slow
def test_declined_confirmation_exits_non_zero(ref_data_dir, tmp_path, capsys, monkeypatch):
    sel = tmp_path / "selection.json"
    sel.write_text(
        json.dumps(
            {
                "asof": "2023-06-08",
                "train": {},
                "universe": ["MU", "QCOM"],
                "anomalies": [],
                "volatility_clusters": {},
                "candidates": [],
                "granger": {},
                "pairs": [{"leader": "MU", "follower": "QCOM", "lag": 2}],
                "volts_version": "-",
                "config_sha256": "-",
                "data_sha256": "-",
            }
        )
    )
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("typer.confirm", lambda *a, **k: False)
    rc, out, _ = _volts(
        capsys,
        "signal",
        "--selection",
        sel,
        "--data-dir",
        ref_data_dir,
        "--asof",
        "2023-06-08",
        "--out",
        tmp_path / "signals",
        "--execute",
        "--allow-stale",
    )
    assert rc != 0 and "no order sent" in out


def test_corrupt_journal_exits_2_naming_the_journal(tmp_path, capsys, monkeypatch):
    from volts.live.orders import Journal

    bad = tmp_path / "live.journal"
    bad.write_bytes(b"this is not a SQLite database" * 100)

    def open_journal(*a, **k):
        with Journal(bad):
            pass

    monkeypatch.setattr("volts.commands.signal.run_signal", open_journal)
    rc, _, err = _volts(capsys, "signal", "--selection", tmp_path / "selection.json")
    assert rc == 2 and "order journal" in _one_error(err)


CONFIG_CASES = {
    "duplicate symbol in the universe": ('[data]\nuniverse = ["MU", "QCOM", "MU"]\n', "more than once"),
    "empty universe": ("[data]\nuniverse = []\n", "data.universe"),
    "capital = inf": ("[backtest]\ncapital = inf\n", "backtest.capital"),
    "risk_free = nan": ("[metrics]\nrisk_free = nan\n", "metrics.risk_free"),
    "bad file_pattern": ('[data.csv]\nfile_pattern = "{sym}.csv"\n', "file_pattern"),
    "bad date_format": ('[data.csv]\ndate_format = "%Q"\n', "date_format"),
    "unknown calendar": ('[data]\ncalendar = "XNYZ"\n', "data.calendar"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_settings_exit_2_naming_the_key(case, tmp_path, capsys, ref_data_dir):
    text, words = CONFIG_CASES[case]
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    rc, _, err = _volts(capsys, "select", "--config", cfg, "--data-dir", ref_data_dir, "--out", tmp_path / "r")
    assert rc == 2, err
    assert words in _one_error(err)


def test_utf8_bom_in_config_is_read(tmp_path, capsys):
    from volts.core.config import load_settings

    cfg = tmp_path / "bom.toml"
    cfg.write_bytes("\ufeff[backtest]\ncapital = 500.0\n".encode("utf-8"))
    assert load_settings(cfg).backtest.capital == 500.0


SELECTION_CASES = {
    "malformed asof": ({"asof": "2023-13-45"}, "'asof'"),
    "null asof": ({"asof": None}, "'asof'"),
    "leader given as a list": ({"pairs": [{"leader": ["MU"], "follower": "QCOM", "lag": 2}]}, "leader"),
    "empty pairs list": ({"pairs": []}, "no pair"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SELECTION_CASES))
def test_bad_selection_exits_2_naming_the_file(case, tmp_path, capsys, ref_data_dir):
    change, words = SELECTION_CASES[case]
    sel = {
        "asof": "2023-06-08",
        "train": {},
        "universe": ["MU", "QCOM"],
        "anomalies": [],
        "volatility_clusters": {},
        "candidates": [],
        "granger": {},
        "pairs": [{"leader": "MU", "follower": "QCOM", "lag": 2}],
        "volts_version": "-",
        "config_sha256": "-",
        "data_sha256": "-",
        **change,
    }
    path = tmp_path / "selection.json"
    path.write_text(json.dumps(sel))
    rc, _, err = _volts(capsys, "backtest", "--selection", path, "--data-dir", ref_data_dir, "--out", tmp_path / "bt")
    assert rc == 2, err
    line = _one_error(err)
    assert words in line


def test_report_on_a_malformed_metrics_json_exits_2(complete_run, tmp_path, capsys):
    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    (out / "2023-06-08" / "metrics.json").write_text(json.dumps({"strategies": [{"trades": "many"}]}))
    rc, _, err = _volts(capsys, "report", out / "2023-06-08")
    assert rc == 2 and "metrics.json" in _one_error(err)


@pytest.mark.slow
def test_boolean_flags_show_no_value_placeholder_in_help(capsys):
    from typer.testing import CliRunner

    from volts.cli import _register, app

    _register()
    for cmd in (["select"], ["run"], ["backtest"], ["data", "check"], ["signal"]):
        result = CliRunner().invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "<bool>" not in result.output and "BOOLEAN" not in result.output, cmd


# =========================================================================== data that degraded silently
def _rows():
    return real_rows("MSFT", "2023-01-03", "2023-02-28")


def _insert(rows, date):
    """Rows with a copy of the previous row dated ``date`` inserted in date order."""
    k = next(i for i, r in enumerate(rows) if r[0] > date)
    return rows[:k] + [[date] + rows[k - 1][1:]] + rows[k:]


def _check(capsys, folder, *args):
    rc = main(["data", "check", str(folder), *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


PLAUSIBILITY = {
    "High = 1e12 on one day": (lambda r: set_cell(r, 20, "High", "1000000000000"), "range_outlier"),
    "inf in High": (lambda r: set_cell(r, 20, "High", "inf"), "non_finite"),
    "a Saturday bar": (lambda r: _insert(r, "2023-02-04"), "non_session_date"),
    "decimal comma": (lambda r: set_cell(r, 20, "Close", '"' + r[20][4].replace(".", ",")[:5] + '"'), "decimal_comma"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(PLAUSIBILITY))
def test_implausible_values_are_caught_by_their_own_rule(case, tmp_path, capsys):
    change, rule = PLAUSIBILITY[case]
    rows = _rows()
    write_rows(tmp_path / "d", "MSFT", change(rows))
    rc, out, err = _check(capsys, tmp_path / "d")
    assert rc == 3, out
    line = _one_error(err)
    assert "MSFT" in line and rule in line


@pytest.mark.slow
def test_plausibility_rules_pass_the_reference_data_and_have_switches(tmp_path, capsys, ref_data_dir):
    from volts.data.csv import load_csv_market

    market = load_csv_market(
        ref_data_dir,
        symbols=["MSFT", "NVDA", "TSLA"],
        start="2019-01-01",
        end="2023-12-29",
        calendar="XNYS",
        max_range_multiple=10.0,
    )
    assert len(market) > 1200
    rows = _rows()
    write_rows(tmp_path / "d", "MSFT", _insert(rows, "2023-02-04"))
    cfg = tmp_path / "nocal.toml"
    cfg.write_text('[data]\ncalendar = ""\n')
    rc, _, _ = _check(capsys, tmp_path / "d", "--config", cfg)
    assert rc == 0  # the rule is off without a calendar


def test_decimal_comma_setting_reads_the_number(tmp_path):
    from volts.core.config import CsvLayout
    from volts.data.csv import read_csv_bars

    rows = [[r[0]] + ['"' + c.replace(".", ",") + '"' for c in r[1:6]] + [r[6]] for r in _rows()]
    rows[3][4] = '"1.238,69"'
    rows[3][2] = '"1.300,00"'
    path = write_rows(tmp_path, "X", rows)
    bars = read_csv_bars(path, "X", CsvLayout(decimal=",", thousands="."))
    assert bars["close"].iloc[3] == pytest.approx(1238.69)
    assert bars["open"].iloc[0] == pytest.approx(float(_rows()[0][1]))


def _universe_dir(tmp_path, cut=None):
    """MU, QCOM and LIN (listed 2023-03-02 in our copy: its rows start there)."""
    d = tmp_path / "d"
    for sym in ("MU", "QCOM"):
        write_rows(d, sym, real_rows(sym, "2021-01-04", "2023-06-08"))
    write_rows(d, "LIN", real_rows("MSFT", "2023-03-02", "2023-06-08"))
    return d


@pytest.mark.slow
def test_drop_dates_cutting_a_window_is_an_error_by_default(tmp_path, capsys):
    d = _universe_dir(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nuniverse = ["MU", "QCOM", "LIN"]\nmissing = "drop_dates"\n')
    rc, _, err = _volts(capsys, "select", "--config", cfg, "--data-dir", d, "--out", tmp_path / "r")
    assert rc == 3
    line = _one_error(err)
    assert "not covered" in line and "LIN" in line and "window_coverage" in line


@pytest.mark.slow
def test_delisting_cutting_the_data_is_an_error(tmp_path, capsys):
    d = tmp_path / "d"
    for sym in ("MU", "QCOM"):
        write_rows(d, sym, real_rows(sym, "2019-01-02", "2023-06-08"))
    write_rows(d, "GONE", real_rows("MSFT", "2019-01-02", "2023-01-31"))  # delisted in January
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nuniverse = ["MU", "QCOM", "GONE"]\nmissing = "drop_dates"\n')
    rc, _, err = _volts(capsys, "select", "--config", cfg, "--data-dir", d, "--out", tmp_path / "r")
    assert rc == 3 and "bars end on 2023-01-31" in _one_error(err)


@pytest.mark.slow
def test_asof_beyond_the_data_is_an_error(tmp_path, capsys, ref_data_dir):
    d = tmp_path / "d"
    for sym in ("MU", "QCOM", "META"):
        write_rows(d, sym, real_rows(sym, "2019-01-02", "2024-03-08"))
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\nuniverse = ["MU", "QCOM", "META"]\n')
    rc, _, err = _volts(
        capsys, "select", "--config", cfg, "--data-dir", d, "--out", tmp_path / "r", "--asof", "2024-06-07"
    )
    assert rc == 3 and "bars end on 2024-03-08" in _one_error(err)
    assert not (tmp_path / "r" / "2024-06-07").exists()


@pytest.mark.slow
def test_dropped_rows_are_printed_and_written_to_selection_and_report(tmp_path, capsys, monkeypatch):
    from volts.data.synthetic import make_synthetic_market

    # the demo market written as CSV files, with one bad bar that on_invalid = "drop" removes
    market = make_synthetic_market(seed=0).data
    d = tmp_path / "d"
    for sym in market.symbols:
        b = market.bars(sym)
        rows = [
            [
                ix.strftime("%Y-%m-%d"),
                f"{r.open:.6f}",
                f"{r.high:.6f}",
                f"{r.low:.6f}",
                f"{r.close:.6f}",
                f"{r.close:.6f}",
                str(int(r.volume)),
            ]
            for ix, r in b.iterrows()
        ]
        write_rows(d, sym, rows)
    bad_sym = market.symbols[0]
    rows = (d / f"{bad_sym}.csv").read_text().splitlines()
    i = next(k for k, ln in enumerate(rows) if ln.startswith("2023-01-05"))
    cells = rows[i].split(",")
    cells[4] = ""  # no close
    rows[i] = ",".join(cells)
    (d / f"{bad_sym}.csv").write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        FAST.replace(
            'source = "synthetic"',
            f'universe = {json.dumps(market.symbols)}\non_invalid = "drop"\nmissing = "drop_dates"\ncalendar = ""',
        )
    )
    monkeypatch.setattr("volts.reporting.run_report.write_selection_figures", lambda *a, **k: {})
    rc, out, err = _volts(capsys, "select", "--config", cfg, "--data-dir", d, "--out", tmp_path / "r")
    assert rc == 0, err
    n = len(market.symbols)  # the bad row, then its date for the other symbols (missing = "drop_dates")
    assert f"data: {n} row(s) dropped (findings: missing_bar 1, nan 1)" in out
    sel = json.loads((tmp_path / "r" / "2023-06-08" / "selection.json").read_text())
    q = sel["data_quality"]
    assert q["rows_dropped"][bad_sym] == 1 and sum(q["rows_dropped"].values()) == n
    assert any(f["rule"] == "nan" and f["date"] == "2023-01-05" for f in q["findings"])
    rc, _, _ = _volts(capsys, "report", tmp_path / "r" / "2023-06-08")
    assert rc == 0
    report = (tmp_path / "r" / "2023-06-08" / "report.md").read_text()
    assert "## Data quality" in report and "`nan` (dropped)" in report


@pytest.mark.slow
def test_signal_prints_the_rows_it_dropped(tmp_path, capsys):
    d = tmp_path / "d"
    write_rows(d, "MU", real_rows("MU", "2023-01-03", "2023-06-08"))
    write_rows(d, "QCOM", set_cell(real_rows("QCOM", "2023-01-03", "2023-06-08"), 90, "Close", ""))
    sel = tmp_path / "selection.json"
    sel.write_text(
        json.dumps(
            {
                "asof": "2023-05-01",
                "train": {},
                "universe": ["MU", "QCOM"],
                "anomalies": [],
                "volatility_clusters": {},
                "candidates": [],
                "granger": {},
                "pairs": [{"leader": "MU", "follower": "QCOM", "lag": 2}],
                "volts_version": "-",
                "config_sha256": "-",
                "data_sha256": "-",
            }
        )
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\non_invalid = "drop"\nmissing = "drop_dates"\n')
    rc, out, err = _volts(
        capsys, "signal", "--selection", sel, "--config", cfg, "--data-dir", d, "--out", tmp_path / "signals"
    )
    assert rc == 0, err
    assert "data: 2 row(s) dropped (findings: missing_bar 1, nan 1)" in out


@pytest.mark.slow
def test_data_check_honours_on_invalid(tmp_path, capsys):
    write_rows(tmp_path / "d", "MSFT", set_cell(_rows(), 10, "Close", ""))
    rc, _, _ = _check(capsys, tmp_path / "d")
    assert rc == 3
    cfg = tmp_path / "drop.toml"
    cfg.write_text('[data]\non_invalid = "drop"\n')
    rc, out, _ = _check(capsys, tmp_path / "d", "--config", cfg)
    assert rc == 0 and "dropped under data.on_invalid = 'drop'" in out


# ============================================================================= messages that misled
def test_an_extra_holiday_bar_is_blamed_on_its_own_file(tmp_path):
    from volts.data.validate import collect_problems, validate_bars
    from volts.core.errors import DataError
    import pandas as pd

    raw = {}
    for sym in ("MSFT", "MU", "QCOM", "INTC"):
        rows = real_rows(sym, "2023-01-03", "2023-02-28")
        if sym == "MSFT":  # Presidents' Day 2023-02-20 (a holiday)
            k = next(i for i, r in enumerate(rows) if r[0] > "2023-02-20")
            rows = rows[:k] + [["2023-02-20"] + rows[k - 1][1:]] + rows[k:]
        raw[sym] = pd.DataFrame(
            {
                f: [float(r[j]) for r in rows]
                for f, j in (("open", 1), ("high", 2), ("low", 3), ("close", 4), ("volume", 6))
            },
            index=pd.DatetimeIndex([r[0] for r in rows]),
        )
    with pytest.raises(DataError) as info:
        validate_bars(raw)
    assert "MSFT 2023-02-20: extra_bar" in str(info.value)
    assert "missing_bar" not in str(info.value)


def test_a_dropped_row_is_not_reported_as_a_plain_missing_bar(tmp_path):
    import pandas as pd

    from volts.data.validate import validate_bars
    from volts.core.errors import DataError

    raw = {}
    for sym in ("MSFT", "MU"):
        rows = real_rows(sym, "2023-01-03", "2023-02-28")
        raw[sym] = pd.DataFrame(
            {
                f: [float(r[j]) if r[j] else float("nan") for r in rows]
                for f, j in (("open", 1), ("high", 2), ("low", 3), ("close", 4), ("volume", 6))
            },
            index=pd.DatetimeIndex([r[0] for r in rows]),
        )
    raw["MU"].iloc[10, 3] = float("nan")
    with pytest.raises(DataError) as info:
        validate_bars(raw, on_invalid="drop")
    msg = str(info.value)
    assert "missing_bar" in msg and "dropped by data.on_invalid = 'drop' (rule nan)" in msg


def test_mixed_utc_offsets_are_read_as_local_dates(tmp_path):
    from volts.data.csv import read_csv_bars

    rows = _rows()[:5]
    rows[0][0] += "T00:00:00-05:00"
    rows[1][0] += "T00:00:00-04:00"
    path = write_rows(tmp_path, "X", rows)
    bars = read_csv_bars(path, "X")
    assert [d.strftime("%Y-%m-%d") for d in bars.index[:2]] == [r[0][:10] for r in rows[:2]]


@pytest.mark.slow
def test_errors_name_the_setting_that_fixes_them(tmp_path, capsys):
    rows = _rows()
    write_rows(tmp_path / "a", "MSFT", set_cell(rows, 4, "Date", "01/09/2023"))
    rc, _, err = _check(capsys, tmp_path / "a")
    assert rc == 3 and "data.csv.date_format" in _one_error(err)
    from volts.core.config import CsvLayout
    from volts.data.csv import load_csv_market
    from volts.core.errors import DataError

    write_rows(tmp_path / "b", "MSFT", set_cell(rows, 4, "Close", ""))
    with pytest.raises(DataError, match="on_invalid = 'drop'"):
        load_csv_market(tmp_path / "b", symbols=["MSFT"])
    split = [list(r) for r in rows]
    for r in split[15:]:
        r[4] = f"{float(r[4]) / 10:.4f}"
        r[1], r[2], r[3] = (f"{float(x) / 10:.4f}" for x in r[1:4])
    write_rows(tmp_path / "c", "MSFT", split)
    with pytest.raises(DataError) as info:
        load_csv_market(tmp_path / "c", symbols=["MSFT"], layout=CsvLayout())
    assert "max_abs_return" in str(info.value) and "(an unadjusted split?)" not in str(info.value)


def test_pcmci_too_few_rows_names_the_settings():
    import numpy as np
    import pandas as pd

    from volts.selection.causality.pcmci import pcmci_screen
    from volts.core.errors import DataError

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(12, 3)), columns=list("ABC"), index=pd.bdate_range("2023-01-02", periods=12))
    with pytest.raises(DataError, match="pcmci.tau_max"):
        pcmci_screen(frame, tau_max=5)


def test_paper_comparison_only_for_the_papers_universe_and_date(complete_run):
    cfg, src = complete_run
    report = (src / "2023-06-08" / "report.md").read_text()
    assert "## Paper comparison" not in report
    assert "Paper comparison: not shown, because the universe is not the paper's ten stocks" in report


@pytest.mark.slow
def test_report_rebuild_keeps_the_wall_time_section(complete_run, tmp_path, capsys):
    cfg, src = complete_run
    out = _copy_runs(src, tmp_path / "runs")
    assert "## Wall time per stage" in (out / "2023-06-08" / "report.md").read_text()
    rc, _, _ = _volts(capsys, "report", out / "2023-06-08")
    assert rc == 0 and "## Wall time per stage" in (out / "2023-06-08" / "report.md").read_text()
