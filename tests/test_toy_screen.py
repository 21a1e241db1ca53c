"""The worked example of "add a screen": one plug-in file (``tests/plugins/toy_lead_lag_screen.py``) and one
config line put a new screen through ``volts select`` and the walk-forward.

Planted truth: the synthetic demo market plants MID1 -> MID2 at lag 1 (``volts.data.synthetic``), exactly what
a lag-1 cross-correlation asymmetry detects, so the toy screen must rank that pair among its top K.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_helpers import FAST, run_volts
from volts.core.registry import SCREENS

PLUGIN = Path(__file__).parent / "plugins" / "toy_lead_lag_screen.py"
# the walk-forward demo's change: a one-year anomaly window leaves room for a short walk-forward
WALKFORWARD = "[windows]\nanomaly_start = 2022-06-01\n"


def _config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "toy.toml"
    cfg.write_text(extra + FAST + WALKFORWARD + '[selection]\nscreens = ["toy_lead_lag"]\n')
    return cfg


@pytest.fixture(scope="module")
def toy_registered():
    # importing the plug-in module is what registers it (as a `plugins = [...]` entry of the config would)
    import tests.plugins.toy_lead_lag_screen as toy

    assert SCREENS["toy_lead_lag"] is toy.ToyLeadLagScreen
    return toy


@pytest.mark.slow
def test_toy_screen_runs_through_select_and_keeps_the_planted_pair(toy_registered, isolated_cwd, capsys):
    cfg = _config(isolated_cwd)
    rc, out, err = run_volts(capsys, "select", "--config", cfg, "--out", "sel")
    assert rc == 0, err
    sel = json.loads(next(Path("sel").rglob("selection.json")).read_text())
    assert list(sel["screens"]) == ["toy_lead_lag"], sel["screens"].keys()
    toy = sel["screens"]["toy_lead_lag"]
    kept = [(r["leader"], r["follower"]) for r in toy["rows"] if r["kept"]]
    assert toy["rule"] == "top_k" and toy["kept"] == len(kept) == 5  # no test of its own: the top-K rule, K = 5
    assert ("MID1", "MID2") in kept, kept  # the planted lag-1 pair
    top = max(toy["rows"], key=lambda r: r["score"])
    assert (top["leader"], top["follower"]) == ("MID1", "MID2")  # and it scores highest
    # the funnel's output goes on to the lag stage: the final pairs are among the toy screen's
    final = [(p["leader"], p["follower"]) for p in sel["pairs"]]
    assert ("MID1", "MID2") in final and set(final) <= set(kept)


@pytest.mark.slow
def test_toy_screen_runs_through_the_walk_forward(toy_registered, isolated_cwd, capsys):
    cfg = _config(isolated_cwd)
    rc, out, err = run_volts(
        capsys, "walkforward", "--config", cfg, "--start", "2021-01-04", "--end", "2021-02-26", "--out", "wf"
    )
    assert rc == 0, err
    metrics = json.loads(Path("wf/results/metrics.json").read_text())
    assert metrics["weeks"]["weeks"] == 8
    weeks = [json.loads(p.read_text()) for p in sorted(Path("wf/weeks").glob("*.json"))]
    assert len(weeks) == 8
    # every week's selection ran the toy screen (and only it) and kept the planted pair
    assert all('"toy_lead_lag"' in json.dumps(w) and '"granger"' not in json.dumps(w.get("pairs", [])) for w in weeks)
    assert sum(any((p["leader"], p["follower"]) == ("MID1", "MID2") for p in w["pairs"]) for w in weeks) >= 6


@pytest.mark.slow
def test_a_plugin_file_named_in_the_config_registers_its_screen(tmp_path):
    # a fresh interpreter: the screen is known only through the config's `plugins` line (relative to the file)
    (tmp_path / "toy_lead_lag_screen.py").write_text(PLUGIN.read_text())
    cfg = _config(tmp_path, 'plugins = ["toy_lead_lag_screen.py"]\n')
    code = textwrap.dedent(f"""
        from volts.core.config import load_settings
        from volts.selection.screens import make_screen
        s = load_settings({str(cfg)!r})
        print(s.selection.screens, type(make_screen("toy_lead_lag", s)).__name__)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "('toy_lead_lag',) ToyLeadLagScreen" in done.stdout


def test_without_its_plugin_the_screen_name_is_a_configuration_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[selection]\nscreens = ["toy_lead_lag_missing"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "volts", "select", "--config", str(cfg), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "unknown screen 'toy_lead_lag_missing'" in done.stderr and "granger" in done.stderr
