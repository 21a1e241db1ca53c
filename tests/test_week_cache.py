"""Cached walk-forward week records are verified before reuse: a content hash over the record's own fields
catches an edit that keeps the config and data hashes; malformed fields are caught by their checks; either way the
week is recomputed with a line naming the file and the reason. Records from before the content hash are reused
when their fields pass, and re-written with the hash."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from volts.evaluation.week_cache import HASH_FIELD, record_problem, record_sha256, seal, verify_record

REPO = Path(__file__).resolve().parents[1]
ASOF = "2023-07-14"


def _record() -> dict:
    return {
        "format": 1,
        "asof": ASOF,
        "config_sha256": "c" * 64,
        "data_sha256": "d" * 64,
        "universe": ["LOW1", "MID1", "MID2", "MID3", "MID4"],
        "windows": {"asof": ASOF},
        "flagged": [],
        "status": "ok",
        "error": None,
        "candidates": ["MID1", "MID2", "MID3", "MID4"],
        "funnel": [{"stage": "granger", "entered": 12, "kept": 2, "dropped": 10}],
        "pairs": [
            {"leader": "MID1", "follower": "MID2", "lag": 1, "granger_p": 1.6e-21, "ete": 0.289, "screens": {}},
            {"leader": "MID3", "follower": "MID4", "lag": 3, "granger_p": 2.5e-9, "ete": None, "screens": {}},
        ],
        "dropped_by_stage": {"granger": 10},
        "warnings": [],
        "timings": {"total": 2.42},
    }


def test_the_content_hash_survives_the_json_round_trip_and_sees_every_edit():
    rec = seal(_record())
    back = json.loads(json.dumps(rec, indent=2))  # as written by atomic_write_json and read back
    assert verify_record(back, ASOF) == (None, False)
    assert record_sha256(back) == rec[HASH_FIELD]
    edits = {
        "lag": lambda r: r["pairs"][0].update(lag=2),
        "leader": lambda r: r["pairs"][1].update(leader="MID1"),
        "a pair removed": lambda r: r["pairs"].pop(),
        "pairs swapped": lambda r: r["pairs"].reverse(),
        "a statistic": lambda r: r["pairs"][0].update(granger_p=0.04),
        "the config hash": lambda r: r.update(config_sha256="e" * 64),
        "a field added": lambda r: r.update(note="x"),
        "the hash itself": lambda r: r.update(record_sha256="0" * 64),
    }
    for what, edit in edits.items():
        changed = copy.deepcopy(back)
        edit(changed)
        problem, legacy = verify_record(changed, ASOF)
        assert problem is not None and "record_sha256" in problem and not legacy, what


@pytest.mark.parametrize(
    "what, edit",
    [
        ("lag 0", lambda r: r["pairs"][0].update(lag=0)),
        ("lag as text", lambda r: r["pairs"][0].update(lag="2")),
        ("lag true", lambda r: r["pairs"][0].update(lag=True)),
        ("lag 1.5", lambda r: r["pairs"][0].update(lag=1.5)),
        ("lag missing", lambda r: r["pairs"][0].pop("lag")),
        ("unknown symbol", lambda r: r["pairs"][0].update(leader="ZZZZ")),
        ("a path as symbol", lambda r: r["pairs"][0].update(follower="../etc")),
        ("own follower", lambda r: r["pairs"][0].update(follower="MID1")),
        ("pair twice", lambda r: r["pairs"].append(dict(r["pairs"][0]))),
        ("pair not an object", lambda r: r["pairs"].append(["MID1", "MID2", 1])),
        ("statistic as text", lambda r: r["pairs"][0].update(granger_p="small")),
        ("pairs missing", lambda r: r.pop("pairs")),
        ("pairs an object", lambda r: r.update(pairs={})),
        ("universe missing", lambda r: r.pop("universe")),
        ("universe with a number", lambda r: r["universe"].append(7)),
        ("candidate outside the universe", lambda r: r["candidates"].append("HIGH9")),
        ("another date", lambda r: r.update(asof="2023-07-21")),
        ("status not a word", lambda r: r.update(status=1)),
        ("pairs without a selection", lambda r: r.update(status="no_selection")),
        ("funnel stage malformed", lambda r: r["funnel"][0].update(kept="2")),
        ("timings not numbers", lambda r: r["timings"].update(total="fast")),
        ("warnings an object", lambda r: r.update(warnings={})),
        ("stability a list", lambda r: r.update(stability=[])),
    ],
)
def test_malformed_fields_are_named_with_or_without_a_content_hash(what, edit):
    rec = _record()
    assert record_problem(rec, ASOF) is None and verify_record(rec, ASOF) == (None, True)  # legacy, well formed
    edit(rec)
    problem = record_problem(rec, ASOF)
    assert problem is not None, what
    legacy_problem, legacy = verify_record(rec, ASOF)
    assert legacy and legacy_problem.startswith("no content hash and ")
    sealed_problem, legacy = verify_record(seal(rec), ASOF)  # a sealed record with bad fields is still refused
    assert sealed_problem == problem and not legacy


def test_a_record_that_is_not_an_object_is_refused():
    for value in ([], "x", 3, None):
        assert verify_record(value, ASOF)[0] is not None


# ------------------------------------------------------------------------------------ through the CLI
START, END = "2023-07-03", "2023-07-28"  # four weekly selections: 07-07, 07-14, 07-21, 07-28


def _walkforward(out: Path, capsys) -> tuple[str, str]:
    from volts.cli import main

    rc = main(
        [
            "walkforward",
            "--config",
            str(REPO / "examples" / "walkforward_demo.toml"),
            "--start",
            START,
            "--end",
            END,
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.out, captured.err


@pytest.mark.slow
def test_edited_damaged_and_legacy_week_records_through_the_cli(tmp_path, capsys):
    out = tmp_path / "wf"
    _walkforward(out, capsys)
    weeks = out / "weeks"
    original = {p.name: json.loads(p.read_text()) for p in sorted(weeks.glob("*.json"))}
    assert len(original) == 4 and all(HASH_FIELD in r for r in original.values())
    results = (out / "results" / "weeks.csv").read_bytes()
    with_pairs = [name for name, r in original.items() if r["pairs"]]
    assert len(with_pairs) >= 3, "the demo market plants pairs every week"
    edited, malformed, legacy = with_pairs[:3]
    untouched = [n for n in original if n not in (edited, malformed, legacy)]

    # 1. the lag of a pair edited by hand, both hashes kept (an edit an older volts reused as is)
    rec = copy.deepcopy(original[edited])
    rec["pairs"][0]["lag"] += 4
    (weeks / edited).write_text(json.dumps(rec, indent=2))
    # 2. a record without a content hash (as an older volts wrote it) whose lag is not an integer
    rec = copy.deepcopy(original[malformed])
    del rec[HASH_FIELD]
    rec["pairs"][0]["lag"] = "3"
    (weeks / malformed).write_text(json.dumps(rec, indent=2))
    # 3. a well-formed record without a content hash: reused, and re-written with one
    rec = copy.deepcopy(original[legacy])
    del rec[HASH_FIELD]
    (weeks / legacy).write_text(json.dumps(rec, indent=2))

    stdout, err = _walkforward(out, capsys)
    assert f"{weeks / edited}: recomputing this week: its content does not match its record_sha256" in err
    assert f"{weeks / malformed}: recomputing this week: no content hash and pairs[0]" in err
    assert "lag '3' is not an integer >= 1" in err
    assert "1 cached week record(s) had no content hash" in err and str(weeks / legacy) not in err
    assert f"{len(untouched) + 1} from the cache, 2 computed" in stdout
    after = {p.name: json.loads(p.read_text()) for p in sorted(weeks.glob("*.json"))}
    for name in original:  # the selections are back as computed, each record with its content hash
        assert [(p["leader"], p["follower"], p["lag"]) for p in after[name]["pairs"]] == [
            (p["leader"], p["follower"], p["lag"]) for p in original[name]["pairs"]
        ], name
        assert verify_record(after[name], name[:-5]) == (None, False), name
    assert after[legacy] == original[legacy]  # sealed again to the very same hash
    assert (out / "results" / "weeks.csv").read_bytes() == results

    # 4. a damaged file (not UTF-8) is recomputed with a line, not an error
    (weeks / untouched[0]).write_bytes(b"\xff\xfe\x00garbage")
    stdout, err = _walkforward(out, capsys)
    assert f"{weeks / untouched[0]}: recomputing this week: the cached record is not readable" in err
    assert "3 from the cache, 1 computed" in stdout
    assert (out / "results" / "weeks.csv").read_bytes() == results
