"""Date stability: the share of the neighbouring sessions whose selection also picks a pair."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import REPO
from volts.cli import main
from volts.selection.date_stability import date_stability_markdown, neighbour_sessions


def test_neighbours_are_exchange_sessions_around_the_asof_date():
    # 2023-06-19 (Juneteenth) is a holiday: the fifth session after 2023-06-15 is 2023-06-20 ... 5 after 06-14
    assert neighbour_sessions(dt.date(2023, 6, 14), 5) == [
        dt.date(2023, 6, d) for d in (7, 8, 9, 12, 13, 15, 16, 20, 21, 22)
    ]
    assert neighbour_sessions(dt.date(2023, 6, 14), 0) == []


@pytest.mark.slow
def test_planted_pairs_of_the_demo_market_are_date_stable(demo_market_select):
    rc, out, run = demo_market_select  # `volts select --config examples/demo.toml`, shared with test_cli_pipeline
    assert rc == 0
    stab = json.loads((run / "selection.json").read_text())["date_stability"]
    assert stab["sessions"] == 5 and len(stab["neighbours"]) == 10 and not stab["missing"]
    planted = {"MID1->MID2", "MID3->MID4", "MID5->MID6"}
    assert set(stab["pairs"]) == planted
    for name, v in stab["pairs"].items():
        # the planted leader explains half the follower's variance: every neighbour should find it
        assert v["share"] >= 0.9, (name, v)
        assert v["share"] == len(v["dates"]) / 10
        assert sum(f"{name}:{v['lag']}" in sel for sel in stab["selected"].values()) / 10 == v["share_same_lag"]
    assert "date stability MID1->MID2: selected on" in out
    md = "\n".join(date_stability_markdown(stab))
    assert "## Date stability" in md and "| MID1->MID2 |" in md


@pytest.mark.slow
def test_date_stability_is_off_with_zero_sessions(tmp_path, capsys):
    cfg = tmp_path / "demo.toml"
    cfg.write_text((REPO / "examples" / "demo.toml").read_text() + "\n[selection]\ndate_stability_sessions = 0\n")
    try:
        rc = main(["select", "--config", str(cfg), "--out", str(tmp_path / "runs")])
    finally:
        capsys.readouterr()
    assert rc == 0
    assert "date_stability" not in json.loads((tmp_path / "runs" / "2023-06-08" / "selection.json").read_text())
