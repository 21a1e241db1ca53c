"""Run folders, JSON (de)serialisation and atomic writes.

Contract (ARCHITECTURE.md "Artifacts"): files are written atomically (a temporary file in the same folder, then
``os.replace``), a run folder is staged under a temporary name and renamed into place only when complete, and the
same inputs give the same content apart from timestamps (``created``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from volts.errors import ArtifactError, UsageError

SELECTION_FIELDS = ("asof", "train", "universe", "anomalies", "volatility_clusters", "candidates", "granger",
                    "pairs", "volts_version", "config_sha256", "data_sha256")
PAIR_FIELDS = ("leader", "follower", "lag")


# ----------------------------------------------------------------------------------------------- JSON
def to_jsonable(obj: Any) -> Any:
    """Plain-JSON copy of ``obj``: numpy scalars -> Python, NaN/inf -> None, dates -> ISO strings, dataclasses and
    objects with ``to_dict()`` -> dicts, tuples -> lists."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(obj)
        return ts.date().isoformat() if ts == ts.normalize() and ts.tzinfo is None else ts.isoformat()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict") and not isinstance(obj, (pd.DataFrame, pd.Series)):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, pd.Series):
        return {to_jsonable(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.to_dict(orient="records"))
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def dumps(obj: Any) -> str:
    """Deterministic JSON text (2-space indent, no NaN) of ``to_jsonable(obj)``."""
    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------ atomic I/O
def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomic text write (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Atomic JSON write of ``obj`` (see :func:`dumps`)."""
    return atomic_write_text(path, dumps(obj))


def atomic_write_csv(path: str | Path, frame: pd.DataFrame, **kwargs) -> Path:
    """Atomic CSV write of a DataFrame (float format fixed so re-runs give identical bytes)."""
    kwargs.setdefault("float_format", "%.10g")
    return atomic_write_text(path, frame.to_csv(**kwargs))


def read_json(path: str | Path) -> Any:
    """Read a JSON artifact.

    Raises
    ------
    ArtifactError
        The file is missing or not valid JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


# ------------------------------------------------------------------------------------------ run folders
@contextlib.contextmanager
def staged_run_dir(out: str | Path, name: str, *, force: bool = False, latest: bool = True) -> Iterator[Path]:
    """Stage a run folder ``out/name`` under a temporary name; rename it into place only when the block succeeds.

    A failure inside the block removes the staging folder, so no half-written run is ever visible. An existing
    ``out/name`` is kept unless ``force`` (it is then replaced in one rename after the new run is complete).
    With ``latest``, ``out/latest`` is pointed (symlink, replaced atomically) at the new run.

    Raises
    ------
    UsageError
        ``out/name`` exists and ``force`` is false.
    """
    out = Path(out)
    final = out / name
    if final.exists() and not force:
        raise UsageError(f"{final} already exists; use --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=out))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(staging, 0o755)
    if final.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=out))
        os.replace(final, trash / name)
        os.replace(staging, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, final)
    if latest:
        point_latest(out, name)


def point_latest(out: str | Path, name: str) -> None:
    """Point ``out/latest`` at ``out/name`` (relative symlink, swapped atomically)."""
    out = Path(out)
    link = out / "latest"
    tmp = out / f".latest.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(name, tmp)
    os.replace(tmp, link)


# ------------------------------------------------------------------------------------------ selection
def read_selection(path: str | Path) -> dict:
    """Read and check a ``selection.json``.

    Returns
    -------
    dict
        The parsed artifact; ``pairs`` is a list of dicts with at least leader, follower and an integer lag >= 1.

    Raises
    ------
    ArtifactError
        Missing file, invalid JSON, a missing field (named), or a malformed pair.
    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object")
    missing = [f for f in SELECTION_FIELDS if f not in data]
    if missing:
        raise ArtifactError(f"{path}: missing field(s) {', '.join(missing)}")
    if not isinstance(data["pairs"], list):
        raise ArtifactError(f"{path}: 'pairs' must be a list")
    for i, pair in enumerate(data["pairs"]):
        lacking = [f for f in PAIR_FIELDS if not isinstance(pair, dict) or f not in pair]
        if lacking:
            raise ArtifactError(f"{path}: pairs[{i}] lacks {', '.join(lacking)}")
        lag = pair["lag"]
        if not isinstance(lag, int) or isinstance(lag, bool) or lag < 1:
            raise ArtifactError(f"{path}: pairs[{i}] ({pair['leader']}->{pair['follower']}): lag must be an "
                                f"integer >= 1, got {lag!r}")
    return data


def now_utc_iso() -> str:
    """Current UTC time, ISO 8601 to the second (the only field allowed to differ between identical re-runs)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
