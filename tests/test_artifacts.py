"""Atomic writes, staged run folders and selection.json checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from volts.core.artifacts import atomic_write_json, dumps, read_selection, staged_run_dir, to_jsonable
from volts.core.errors import ArtifactError, UsageError


def test_to_jsonable_converts_numpy_nan_and_dates():
    out = to_jsonable(
        {
            "a": np.float64(1.5),
            "b": np.int64(3),
            "c": math.nan,
            "d": pd.Timestamp("2023-06-08"),
            "e": (1, 2),
            "f": np.array([1.0, np.inf]),
        }
    )
    assert out == {"a": 1.5, "b": 3, "c": None, "d": "2023-06-08", "e": [1, 2], "f": [1.0, None]}
    assert json.loads(dumps(out)) == out


def test_atomic_write_leaves_no_temporary_file_and_keeps_old_content_on_failure(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"v": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"v": object()})  # serialisation fails before anything is written
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_staged_run_dir_is_all_or_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with staged_run_dir(tmp_path, "2023-06-08") as d:
            (d / "selection.json").write_text("{}")
            raise RuntimeError("stage failed")
    # no half-written folder, no staging left behind (the run's lock file stays: deleting it would race)
    assert [p.name for p in tmp_path.iterdir()] == [".2023-06-08.lock"]
    with staged_run_dir(tmp_path, "2023-06-08") as d:
        (d / "selection.json").write_text("{}")
    assert (tmp_path / "2023-06-08" / "selection.json").is_file()
    assert (tmp_path / "latest").resolve() == (tmp_path / "2023-06-08").resolve()
    with pytest.raises(UsageError, match="--force"):
        with staged_run_dir(tmp_path, "2023-06-08"):
            pass
    with staged_run_dir(tmp_path, "2023-06-08", force=True) as d:
        (d / "selection.json").write_text('{"new": 1}')
    assert json.loads((tmp_path / "2023-06-08" / "selection.json").read_text()) == {"new": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".2023-06-08.lock", "2023-06-08", "latest"]


def _selection(**changes):
    base = {
        "asof": "2023-06-08",
        "train": {"start": "2022-11-01", "end": "2023-06-08"},
        "universe": ["A", "B"],
        "anomalies": [],
        "volatility_clusters": {"A": "mid", "B": "mid"},
        "candidates": ["A", "B"],
        "granger": {"lag": 2, "tests": []},
        "pairs": [{"leader": "A", "follower": "B", "lag": 2}],
        "volts_version": "0",
        "config_sha256": "x",
        "data_sha256": "y",
    }
    base.update(changes)
    return base


def test_read_selection_checks_fields(tmp_path):
    path = tmp_path / "selection.json"
    path.write_text(json.dumps(_selection()))
    assert read_selection(path)["pairs"][0]["lag"] == 2
    bad = _selection()
    del bad["data_sha256"]
    path.write_text(json.dumps(bad))
    with pytest.raises(ArtifactError, match="missing field.*data_sha256"):
        read_selection(path)
    path.write_text(json.dumps(_selection(pairs=[{"leader": "A", "follower": "B", "lag": 0}])))
    with pytest.raises(ArtifactError, match=r"A->B.*lag must be an integer >= 1"):
        read_selection(path)
    path.write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_selection(path)
    with pytest.raises(ArtifactError, match="not found"):
        read_selection(tmp_path / "none.json")
