"""What a new user meets first: help on a bare command, the README's set-up and option claims, an identical
backtest kept, the registered strategies in the help, a foreign metrics.json refused. Through the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import shutil
import textwrap
import tomllib

import pytest

from tests.conftest import REPO
from tests.cli_helpers import FAST, run_volts
from volts.cli import main


@pytest.fixture(autouse=True)
def _isolated(isolated_cwd):
    """Every test here runs from an empty folder (no ./config.toml)."""


_volts = run_volts


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One `volts run` of the synthetic demo market (fast settings), shared by the tests that read its folder."""
    base = tmp_path_factory.mktemp("demo")
    cfg = base / "fast.toml"
    cfg.write_text(FAST, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["run", "--config", str(cfg), "--out", str(base / "runs")]) == 0
    (base / "stderr.txt").write_text(err.getvalue(), encoding="utf-8")
    return cfg, (base / "runs" / "latest").resolve()


# ------------------------------------------------------------------------------------------ bare commands
@pytest.mark.parametrize("args, path, listed", [([], "volts", "walkforward"), (["data"], "volts data", "check")])
def test_a_group_without_its_command_prints_its_help_and_says_why(capsys, args, path, listed):
    rc, out, err = _volts(capsys, *args)
    assert rc == 2
    assert f"Usage: {path} [OPTIONS] COMMAND" in err and listed in err
    assert err.strip().splitlines()[-1].startswith(f"error: {path} needs a command")


# --------------------------------------------------------------------------------------------- README
def test_readme_says_how_to_get_volts_on_the_path():
    """`make demo` installs the console script in .venv/bin; the README's bare `volts ...` commands work once the
    environment is activated, and the README says how."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["volts"] == "volts.cli:main"
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "VENV   := .venv" in make
    assert ". .venv/bin/activate" in readme
    assert readme.index(". .venv/bin/activate") < readme.index("## Commands")


@pytest.mark.slow
def test_every_command_the_readme_names_takes_config_and_data_dir(capsys):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    claim = re.search(r"Every command but `volts report`[^.]*reads `config.toml`", readme)
    assert claim, "the README's claim about --config/--data-dir changed: update this test with it"
    for command in (["data", "check"], ["select"], ["backtest"], ["run"], ["signal"], ["walkforward"]):
        rc, out, _ = _volts(capsys, *command, "--help")
        assert rc == 0
        assert "--config" in out and "--data-dir" in out, command
    rc, out, _ = _volts(capsys, "report", "--help")
    assert rc == 0 and "--config" not in out  # the exception the README names


def test_data_check_data_dir_is_the_folder_argument(capsys, tmp_path, ref_data_dir):
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(ref_data_dir / "MSFT.csv", one / "MSFT.csv")
    rc_opt, out_opt, _ = _volts(capsys, "data", "check", "--data-dir", one)
    rc_arg, out_arg, _ = _volts(capsys, "data", "check", one)
    assert rc_opt == rc_arg == 0 and out_opt == out_arg and "MSFT" in out_opt
    rc, _, err = _volts(capsys, "data", "check", tmp_path, "--data-dir", one)
    assert rc == 2 and "give the folder once" in err


# ------------------------------------------------------------------------------------------ --strategy
def test_strategy_help_lists_the_registered_strategies(capsys):
    from volts.evaluation.walkforward import STRATEGIES, strategy_names

    names = strategy_names()
    assert set(names) == set(STRATEGIES) and {"lead_lag_trend", "lead_lag_portfolio"} <= set(names)
    rc, out, _ = _volts(capsys, "walkforward", "--help")
    assert rc == 0
    flat = " ".join(out.split())
    assert f"Registered strategy to trade: {', '.join(names)}." in flat


# ---------------------------------------------------------------------------------------- backtest kept
@pytest.mark.slow
def test_identical_backtest_rerun_is_kept_and_a_different_one_refused(capsys, demo_run, tmp_path):
    cfg, run = demo_run
    sel = run / "selection.json"
    out = tmp_path / "bt"
    rc, _, err = _volts(capsys, "backtest", "--selection", sel, "--config", cfg, "--out", out)
    assert rc == 0, err
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    rc, text, err = _volts(capsys, "backtest", "--selection", sel, "--config", cfg, "--out", out)
    assert rc == 0, err
    assert "kept" in text
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing rewritten
    # in the run folder itself (the default --out), the same
    rc, text, err = _volts(capsys, "backtest", "--selection", sel, "--config", cfg)
    assert rc == 0 and "kept" in text, err
    # another window is not the same backtest
    rc, _, err = _volts(capsys, "backtest", "--selection", sel, "--config", cfg, "--out", out, "--end", "2023-08-01")
    assert rc == 2 and "differs" in err and "--force" in err


# ---------------------------------------------------------------------------------- foreign metrics.json
@pytest.mark.slow
def test_report_refuses_a_metrics_json_with_a_foreign_field(capsys, demo_run, tmp_path):
    _, run = demo_run
    rc, _, err = _volts(capsys, "report", run)
    assert rc == 0, err  # what volts writes passes
    for where in ("top", "row"):
        copy = tmp_path / where
        shutil.copytree(run, copy)
        metrics = json.loads((copy / "metrics.json").read_text(encoding="utf-8"))
        if where == "top":
            metrics["alpha_boost"] = 2.0
        else:
            metrics["strategies"][0]["alpha_boost"] = 2.0
        (copy / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
        rc, _, err = _volts(capsys, "report", copy)
        assert rc == 2, err
        line = err.strip().splitlines()[-1]
        assert str(copy / "metrics.json") in line and "'alpha_boost'" in line and "internal" not in line


# ---------------------------------------------------------------------------------------------- progress
@pytest.mark.slow
def test_run_shows_progress_while_it_draws_the_figures(demo_run):
    _, run = demo_run
    err = (run.parent.parent / "stderr.txt").read_text(encoding="utf-8")
    lines = err.splitlines()
    start = lines.index("[figures] running ...")
    assert any(ln.startswith("[figures] done in ") for ln in lines[start + 1 :])
    assert start < lines.index("[report] running ...")


@pytest.mark.slow
def test_walkforward_on_two_workers_shows_its_end_phase_and_closes_the_cluster_quietly(tmp_path):
    """A small --workers 2 walk-forward (synthetic market, two weeks): stderr names each end phase (trading pass,
    statistics with the bootstrap, report) and holds no Dask "still alive ... killing" line."""
    cfg = tmp_path / "fast.toml"
    cfg.write_text(FAST, encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "volts",
            "walkforward",
            "--config",
            str(cfg),
            "--start",
            "2023-06-02",
            "--end",
            "2023-06-09",
            "--workers",
            "2",
            "--out",
            str(tmp_path / "wf"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    for phase in ("trading pass", "statistics and bootstrap intervals", "report and artifacts"):
        assert f"[{phase}] running ..." in lines, proc.stderr
        assert any(ln.startswith(f"[{phase}] done in ") for ln in lines), proc.stderr
    assert "still alive" not in proc.stderr and "killing" not in proc.stderr


SLOW_CLOSE = textwrap.dedent("""
    import time
    from distributed.diagnostics.plugin import WorkerPlugin
    from volts.core.parallel import Executor

    class SlowTeardown(WorkerPlugin):   # a worker that needs 6 s to shut down (Dask's default patience: 4 s)
        def teardown(self, worker):
            time.sleep(6)

    if __name__ == "__main__":
        with Executor(workers=2) as ex:
            ex.client.register_plugin(SlowTeardown())
            assert sorted(r for _, r in ex.map(pow, [1, 2, 3], exp=2)) == [1, 4, 9]
        print("closed")
""")


@pytest.mark.slow
def test_a_worker_slow_to_exit_is_waited_for_not_killed(tmp_path):
    script = tmp_path / "slow_close.py"
    script.write_text(SLOW_CLOSE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0 and "closed" in proc.stdout, proc.stderr
    assert "still alive" not in proc.stderr and "killing" not in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------- --compare-screens
def test_comparison_table_is_formatted():
    import pandas as pd

    from volts.commands.walkforward import format_comparison

    table = pd.DataFrame(
        [
            {
                "variant": "vol-ts",
                "cagr": 0.1234,
                "volatility": 0.2,
                "sharpe": 1.5,
                "sharpe_ci_low": -0.25,
                "sharpe_ci_high": 3.0,
                "max_drawdown": 0.05,
                "turnover": 12.34,
                "weeks_in_cash": 3,
                "weeks": 10,
                "distinct_pairs": 4.0,
                "diff_vs_followers_annual_mean": -0.02,
                "diff_ci_low": -0.1,
                "diff_ci_high": 0.06,
            },
            {
                "variant": "lead-lag-portfolio",
                "cagr": float("nan"),
                "volatility": None,
                "sharpe": None,
                "sharpe_ci_low": None,
                "sharpe_ci_high": None,
                "max_drawdown": 0.0,
                "turnover": 400.0,
                "weeks_in_cash": 0,
                "weeks": 10,
                "distinct_pairs": float("nan"),
                "diff_vs_followers_annual_mean": None,
                "diff_ci_low": None,
                "diff_ci_high": None,
                "note": "rebalances daily",
            },
        ]
    )
    lines = format_comparison(table).splitlines()
    assert lines[0].split()[:3] == ["variant", "CAGR", "Sharpe"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == [
        "vol-ts",
        "12.3",
        "%",
        "1.50",
        "[-0.25,",
        "3.00]",
        "5.0",
        "%",
        "12.3",
        "3",
        "/",
        "10",
        "4",
        "-2.0",
        "%",
        "[-10.0",
        "%,",
        "6.0",
        "%]",
    ]
    assert lines[3].split()[:4] == ["lead-lag-portfolio", "–", "–", "–"]
    assert len({len(ln) for ln in lines}) == 1  # aligned columns
    assert "nan" not in format_comparison(table).lower()


@pytest.mark.slow
def test_compare_screens_names_each_variant_and_prints_the_table(capsys, tmp_path, ref_data_dir):
    cfg = tmp_path / "fast.toml"
    # the lead-lag portfolio's financing leg reads SPY.csv from data.dir beside the synthetic bars
    cfg.write_text(
        FAST.replace('source = "synthetic"', f'source = "synthetic"\ndir = "{ref_data_dir}"'), encoding="utf-8"
    )
    rc, out, err = _volts(
        capsys,
        "walkforward",
        "--config",
        cfg,
        "--compare-screens",
        "--start",
        "2023-06-02",
        "--end",
        "2023-06-09",
        "--out",
        tmp_path / "cmp",
    )
    assert rc == 0, err
    from volts.evaluation.screen_comparison import comparison_variants

    names = [v.name for v in comparison_variants()]
    for i, name in enumerate(names, 1):
        assert f"variant {i}/{len(names)}: {name}" in err.splitlines()
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["variant", "CAGR", "Sharpe"] and set(lines[1].replace(" ", "")) == {"-"}
    assert [ln.split()[0] for ln in lines[2 : 2 + len(names)]] == names
