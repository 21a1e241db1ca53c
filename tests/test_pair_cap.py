"""The pair cap ([selection] max_pairs, volts.selection.pair_cap): the K strongest pairs by the last screen's score."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.cli_helpers import FAST, run_volts
from volts.core.config import parse_settings
from volts.selection.pair_cap import cap_pairs

PAIRS = [("A", "B"), ("C", "D"), ("E", "F"), ("G", "H"), ("I", "J")]


def _results(*scores_by_screen):
    return {
        f"s{i}": SimpleNamespace(pairs=tuple(PAIRS), score=np.array(sc, float)) for i, sc in enumerate(scores_by_screen)
    }


def test_keeps_the_k_highest_scores_of_the_last_screen_in_funnel_order():
    # the first screen's scores would pick other pairs: only the last screen ranks
    res = _results([9, 9, 0, 0, 0], [0.1, 0.5, np.nan, 0.9, 0.5])
    capped, rec = cap_pairs(PAIRS, res, 2)
    assert capped == [("C", "D"), ("G", "H")]  # 0.9 and the first 0.5, in the funnel's order
    assert rec["passed"] == 5 and rec["kept"] == 2 and rec["max_pairs"] == 2 and rec["score"].startswith("s1")
    assert rec["capped"] == ["I->J", "A->B", "E->F"]  # the tie 0.5 goes to the earlier pair; NaN last


def test_under_the_cap_nothing_changes_and_no_screen_keeps_the_funnel_order():
    res = _results([1, 2, 3, 4, 5])
    assert cap_pairs(PAIRS, res, 10) == (
        PAIRS,
        {"max_pairs": 10, "passed": 5, "kept": 5, "score": "s0 score, highest first", "capped": []},
    )
    capped, rec = cap_pairs(PAIRS, {}, 3)
    assert capped == PAIRS[:3] and rec["capped"] == ["G->H", "I->J"] and rec["score"].startswith("none")
    with pytest.raises(ValueError):
        cap_pairs(PAIRS, res, 0)


def test_the_key_is_off_by_default_and_leaves_the_hashes_alone():
    default = parse_settings({})
    assert default.selection.max_pairs is None and "max_pairs" not in default.model_dump()["selection"]
    capped = parse_settings({"selection": {"max_pairs": 3}})
    assert capped.selection_sha256() != default.selection_sha256()  # a capped week is another week
    with pytest.raises(Exception, match="max_pairs"):
        parse_settings({"selection": {"max_pairs": 0}})


@pytest.mark.slow
def test_volts_select_with_a_cap_of_one_keeps_the_strongest_and_records_the_rest(isolated_cwd, capsys):
    cfg = isolated_cwd / "cap.toml"
    cfg.write_text(FAST + "[selection]\nmax_pairs = 1\n")
    rc, out, err = run_volts(capsys, "select", "--config", cfg, "--out", "sel")
    assert rc == 0, err
    sel = json.loads(next(Path("sel").rglob("selection.json")).read_text())
    cap = sel["pair_cap"]
    assert cap["max_pairs"] == 1 and cap["kept"] == len(sel["pairs"]) == 1
    assert cap["passed"] >= 2, cap  # the demo market plants three pairs; more than one passes its funnel
    last = sel["settings"]["selection"]["screens"][-1]
    rows = {(r["leader"], r["follower"]): r["score"] for r in sel["screens"][last]["rows"]}
    kept = (sel["pairs"][0]["leader"], sel["pairs"][0]["follower"])
    passed = [kept] + [tuple(p.split("->")) for p in cap["capped"]]
    assert rows[kept] == max(rows[p] for p in passed)  # the strongest by the last screen's score
    assert all(sel["dropped"][p] == "pair cap" for p in cap["capped"])
    assert {"stage": "pair cap", "entered": cap["passed"], "kept": 1, "dropped": cap["passed"] - 1} in sel["funnel"]
