"""Run folders, JSON (de)serialisation and atomic writes.

Contract (ARCHITECTURE.md "Artifacts"): files are written atomically (a temporary file in the same folder, then
``os.replace``), a run folder is staged under a temporary name and swapped into place only when complete (at every
instant the previous or the new complete run is at its path: :mod:`volts.core.runswap`), and the same inputs give the
same content apart from timestamps (``created``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from volts.core.errors import ArtifactError, ArtifactWriteError, UsageError

log = logging.getLogger("volts.core.artifacts")

SELECTION_FIELDS = (
    "asof",
    "train",
    "universe",
    "anomalies",
    "volatility_clusters",
    "candidates",
    "granger",
    "pairs",
    "volts_version",
    "config_sha256",
    "data_sha256",
)
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
def current_umask() -> int:
    """The process umask (read without changing it for longer than two system calls)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _io_error(path: Path, exc: OSError) -> ArtifactError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ArtifactWriteError(
        f"{path}: cannot write: {reason}; free space, fix the permissions or choose another --out"
    )


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, then ``os.replace``.

    The file gets the permissions of an ordinary new file under the process umask (``0o666 & ~umask``), like
    every other artifact (figures included), not the ``0o600`` of a temporary file.

    Raises
    ------
    ArtifactError
        The folder cannot be created or written (full disk, permissions, read-only file system), naming the path.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _io_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _io_error(path, exc) from None
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

    Every JSON artifact volts reads goes through here, so a damaged file is one message naming it, whatever the
    command.

    Raises
    ------
    ArtifactError
        The file is missing, not UTF-8 text (a binary or otherwise encoded file), not valid JSON, or nested too
        deeply to parse.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ArtifactError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
            f"a binary or differently encoded file, not a JSON artifact; re-create it with volts "
            f"or point to the right file"
        ) from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise ArtifactError(f"{path}: JSON nested too deeply to read; not a volts artifact") from None


# ------------------------------------------------------------------------------------------ run folders
def _lock_path(out: Path, name: str) -> Path:
    return out / f".{name}.lock"


class RunFolder:
    """A run folder ``out/name`` written as a whole: staged under a temporary name, renamed into place once.

    Use as a context manager. Entering it

    1. creates ``out`` and checks that it is writable (before any long computation);
    2. takes an exclusive lock ``out/.name.lock`` (``filelock``): a second process writing the same run is
       refused at once with a message naming the lock, instead of both reporting "wrote" and one result being
       lost;
    3. cleans staging entries left by killed runs whose run is not locked by a live process
       (:func:`clean_stale_staging`: a previous run a kill left aside is moved back, never deleted);
    4. creates the staging folder ``staging``.

    Every artifact of the run (selection, backtest, report) is written into ``staging``; :meth:`commit` puts it
    at ``out/name``, replacing an existing run atomically (:func:`volts.core.runswap.replace_dir`: ``renameat2``
    exchange, else a symlink swap), and points ``out/latest`` at it. Leaving the block without :meth:`commit`
    (an error, Ctrl-C) removes the staging folder; a SIGKILL leaves it behind for the next run to clean. Either
    way ``out/name`` and ``out/latest`` keep the previous run. Folders and files get the
    permissions of the umask.

    Raises
    ------
    UsageError
        Another process holds the lock of this run.
    ArtifactError
        ``out`` cannot be created or written.
    """

    def __init__(self, out: str | Path, name: str) -> None:
        self.out = Path(out)
        self.name = name
        self.final = self.out / name
        self.staging: Path | None = None
        self.committed = False
        self.cleaned: list[Path] = []
        self._lock = None

    def __enter__(self) -> "RunFolder":
        from filelock import FileLock, Timeout

        try:
            self.out.mkdir(parents=True, exist_ok=True)
            if not os.access(self.out, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied", str(self.out))
            lock = FileLock(str(_lock_path(self.out, self.name)), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                raise UsageError(
                    f"{self.final}: another volts process is writing this run (lock "
                    f"{_lock_path(self.out, self.name)}); wait for it to finish or use another --out"
                )
            self._lock = lock
            self.cleaned = clean_stale_staging(self.out, held=self.name)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.name}.", suffix=".partial", dir=self.out))
            os.chmod(self.staging, 0o777 & ~current_umask())
        except OSError as exc:
            self._release()
            raise ArtifactError(
                f"{self.out}: cannot write the run folder here: {exc.strerror or exc}; fix the "
                f"permissions or choose another --out"
            ) from None
        except BaseException:
            self._release()
            raise
        return self

    def commit(self, *, latest: bool = True) -> Path:
        """Put the staging folder at ``out/name`` (replacing an existing run atomically) and point ``out/latest``
        at it.

        Raises
        ------
        ArtifactError
            A file-system error (named); the previous run, if any, is left (or put back) at ``out/name``.
        """
        if self.staging is None or self.committed:
            raise RuntimeError("RunFolder.commit outside its block or twice")
        from volts.core.runswap import recover, replace_dir

        try:
            replace_dir(self.staging, self.final)
            self.committed = True
            if latest:
                point_latest(self.out, self.name)
        except OSError as exc:
            if not self.committed:
                with contextlib.suppress(OSError):
                    recover(self.out, self.name)  # the previous run back at out/name if a step moved it aside
            raise _io_error(self.final, exc) from None
        return self.final

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __exit__(self, *exc) -> None:
        try:
            if not self.committed and self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._release()


def clean_stale_staging(out: str | Path, *, held: str | None = None) -> list[Path]:
    """Clean the staging entries in ``out`` left by killed runs; return what was removed.

    A staging entry (``.name.*.partial``, ``.old``, ``.run``, ``.link``) of run ``name`` is stale when no live
    process holds ``out/.name.lock`` (``held`` = the run whose lock the caller already holds: its staging entries
    are stale by definition). It is never the only copy of a run: a previous run that a killed process had moved
    aside (``out/name`` missing) is moved back to ``out/name`` with a warning (:func:`volts.core.runswap.recover`);
    the rest is removed.
    """
    from filelock import FileLock, Timeout

    from volts.core.runswap import clean_latest_tmp, recover, staging_names

    out = Path(out)
    removed: list[Path] = clean_latest_tmp(out)
    for name in sorted(staging_names(out)):
        if name == held:
            restored, gone = recover(out, name)
        else:
            try:
                with FileLock(str(_lock_path(out, name)), timeout=0):
                    restored, gone = recover(out, name)
            except Timeout:
                continue  # a live process is writing that run
        for path in restored:
            log.warning(f"{path}: restored the previous run, which a killed process had moved aside while replacing it")
        removed.extend(gone)
    return removed


@contextlib.contextmanager
def staged_run_dir(out: str | Path, name: str, *, force: bool = False, latest: bool = True) -> Iterator[Path]:
    """Stage a run folder ``out/name`` under a temporary name; rename it into place only when the block succeeds.

    A thin wrapper of :class:`RunFolder`: a failure inside the block removes the staging folder, so no
    half-written run is ever visible. An existing ``out/name`` is kept unless ``force`` (it is then replaced in
    one atomic swap after the new run is complete). With ``latest``, ``out/latest`` is pointed (symlink, replaced
    atomically) at the new run.

    Raises
    ------
    UsageError
        ``out/name`` exists and ``force`` is false, or another process is writing it.
    """
    with RunFolder(out, name) as rf:
        if rf.final.exists() and not force:
            raise UsageError(f"{rf.final} already exists; use --force to replace it")
        yield rf.staging
        rf.commit(latest=latest)


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
        ``asof`` is a date, or (a selection on intraday bars, with its ``bars`` section) the decision bar's stamp.

    Raises
    ------
    ArtifactError
        Missing file, invalid JSON, a missing field (named), or a malformed pair (:func:`volts.core.pairs.check_pair`:
        a symbol breaking the symbol rule, leader == follower, a lag that is not an integer >= 1).
    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object")
    missing = [f for f in SELECTION_FIELDS if f not in data]
    if missing:
        raise ArtifactError(f"{path}: missing field(s) {', '.join(missing)}")
    intraday = isinstance(data.get("bars"), dict)  # a selection on intraday bars: asof is its decision bar
    try:
        if not isinstance(data["asof"], str):
            ok = False
        elif intraday and len(data["asof"]) > 10:
            ok = dt.datetime.fromisoformat(data["asof"]) is not None
        else:
            ok = dt.date.fromisoformat(data["asof"]) is not None
    except ValueError:
        ok = False
    if not ok:
        form = "a date YYYY-MM-DD or a bar stamp YYYY-MM-DDTHH:MM:SS" if intraday else "a date YYYY-MM-DD"
        raise ArtifactError(
            f"{path}: 'asof' must be {form}, got {data['asof']!r}; re-run volts select or fix the field"
        )
    if not isinstance(data["pairs"], list):
        raise ArtifactError(f"{path}: 'pairs' must be a list")
    from volts.core.pairs import check_pair

    for i, pair in enumerate(data["pairs"]):
        lacking = [f for f in PAIR_FIELDS if not isinstance(pair, dict) or f not in pair]
        if lacking:
            raise ArtifactError(f"{path}: pairs[{i}] lacks {', '.join(lacking)}")
        for role in ("leader", "follower"):
            if not isinstance(pair[role], str) or not pair[role].strip():
                raise ArtifactError(f"{path}: pairs[{i}]: {role} must be one symbol (a string), got {pair[role]!r}")
        # symbols (strict pattern: no paths), leader != follower, lag an integer >= 1: volts.core.pairs, shared
        # by `volts signal` and `volts backtest`
        check_pair(pair, f"{path}: pairs[{i}]", error=ArtifactError)
    return data


def check_selection_bar_size(selection: dict, timeframe: str, path) -> None:
    """Refuse a selection made on another bar size than the one about to trade it (its lags count its bars).

    A selection on intraday bars carries ``bars.timeframe``; one without a ``bars`` section was made on daily bars.

    Raises
    ------
    ArtifactError
        The two bar sizes differ (the message names both and the way out).
    """
    made_on = (selection.get("bars") or {}).get("timeframe", "D1")
    if made_on != timeframe:
        raise ArtifactError(
            f"{path}: the selection was made on {made_on} bars, but [data] timeframe = {timeframe!r}: its lags count "
            f"{made_on} bars; select again on {timeframe} bars, or set the timeframe the selection was made on"
        )


def now_utc_iso() -> str:
    """Current UTC time, ISO 8601 to the second (the only field allowed to differ between identical re-runs)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
