"""Verification of the walk-forward's cached week records (``<out>/weeks/<asof>.json``).

A week record is reused only when its config and data hashes match the run (:func:`volts.evaluation.walkforward.run_weeks`).
Those two hashes say which inputs the record was computed from, not that its content is what was computed: a
record edited by hand (a lag changed, a pair added) or damaged on disk still matches them. So each record also
carries ``record_sha256``, the SHA-256 of the canonical JSON (sorted keys, no whitespace, ASCII) of the record
without that field, and its fields are checked before use (:func:`record_problem`). A record that fails either
check is recomputed, with a line naming the file and the reason.

A record written before the content hash existed (no ``record_sha256``) is accepted when its fields pass the
checks, and re-written with the hash (a week of a large universe costs minutes to select; a cache of several
hundred weeks is not thrown away for a missing checksum). A legacy record whose fields fail is recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any, Mapping

from volts.core.symbols import is_symbol

__all__ = ["HASH_FIELD", "record_sha256", "seal", "record_problem", "verify_record"]

#: The field holding the content hash of a week record.
HASH_FIELD = "record_sha256"
_STATUSES = ("ok", "no_selection")
#: The statistics of a pair (:meth:`volts.selection.pipeline.SelectedPair.to_dict`): numbers or null when present.
_PAIR_NUMBERS = (
    "granger_p",
    "granger_p_bh",
    "partial_corr",
    "partial_corr_tau",
    "ete",
    "ete_p",
    "knn_accuracy",
    "knn_accuracy_in_sample",
)


def _canonical(record: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != HASH_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def record_sha256(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a week record without its ``record_sha256`` field.

    Parameters
    ----------
    record : mapping
        A JSON-able week record (:func:`volts.evaluation.walkforward.select_week`), as written or as read back: the JSON
        round trip keeps every value (floats are written by ``repr``, which reads back exactly), so the hash of
        the record read back equals the hash of the record written.

    Raises
    ------
    TypeError, ValueError
        ``record`` is not plain JSON (call :func:`volts.core.artifacts.to_jsonable` first), or holds NaN/inf.
    """
    return hashlib.sha256(_canonical(record)).hexdigest()


def seal(record: Mapping[str, Any]) -> dict:
    """A plain-JSON copy of ``record`` with ``record_sha256`` set (what :func:`volts.evaluation.walkforward.run_weeks`
    writes)."""
    from volts.core.artifacts import to_jsonable

    out = to_jsonable({k: v for k, v in record.items() if k != HASH_FIELD})
    out[HASH_FIELD] = record_sha256(out)
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number_or_none(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x))


def _symbols(value: Any, field: str) -> tuple[list[str] | None, str | None]:
    if not isinstance(value, list):
        return None, f"'{field}' is not a list"
    bad = [v for v in value if not is_symbol(v)]
    if bad:
        return None, f"'{field}' holds {bad[0]!r}, not a symbol"
    if len(set(value)) != len(value):
        return None, f"'{field}' lists a symbol twice"
    return value, None


def record_problem(record: Any, asof: dt.date | str) -> str | None:
    """The first thing wrong with the fields of a week record, or None when they are well formed.

    Checks every field the walk-forward reads: ``asof`` (the date of the file), the two hashes (strings),
    ``status`` (a word such as ``ok`` or ``no_selection``), ``universe`` and ``candidates`` (lists of distinct
    symbols, the candidates among the universe), ``pairs`` (objects with a leader and a follower from the
    universe, distinct, a lag that is an integer >= 1, the known statistics numbers or null; no pair listed twice;
    none when there was no selection), ``funnel`` (stage, entered and kept as integers), ``flagged``,
    ``warnings``, ``timings``, ``windows``, ``dropped_by_stage`` and the optional ``stability`` and
    ``universe_coverage``. Fields it does not know are left alone.

    Parameters
    ----------
    record : object
        The parsed JSON.
    asof : date or str
        The as-of date the record is filed under.
    """
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    asof = asof.isoformat() if isinstance(asof, dt.date) else str(asof)
    if record.get("asof") != asof:
        return f"'asof' is {record.get('asof')!r}, not the file's date {asof}"
    for key in ("config_sha256", "data_sha256"):
        if not isinstance(record.get(key), str):
            return f"'{key}' is missing or not a string"
    if not isinstance(record.get("status"), str) or not record["status"]:
        return f"'status' is {record.get('status')!r}, not a status word (e.g. {' or '.join(_STATUSES)})"
    if record.get("error") is not None and not isinstance(record["error"], str):
        return "'error' is neither null nor a text"
    universe, why = _symbols(record.get("universe"), "universe")
    if why:
        return why
    candidates, why = _symbols(record.get("candidates"), "candidates")
    if why:
        return why
    known = set(universe)
    if not set(candidates) <= known:
        return f"candidate {sorted(set(candidates) - known)[0]} is not in the week's universe"
    pairs = record.get("pairs")
    if not isinstance(pairs, list):
        return "'pairs' is not a list"
    if pairs and record["status"] == "no_selection":
        return f"'pairs' lists {len(pairs)} pair(s) for a week without a selection"
    seen = set()
    for i, p in enumerate(pairs):
        if not isinstance(p, dict):
            return f"pairs[{i}] is not an object"
        leader, follower, lag = p.get("leader"), p.get("follower"), p.get("lag")
        for role, sym in (("leader", leader), ("follower", follower)):
            if not isinstance(sym, str) or sym not in known:
                return f"pairs[{i}].{role} {sym!r} is not a symbol of the week's universe"
        if leader == follower:
            return f"pairs[{i}] {leader}->{follower}: the leader is its own follower"
        if not _is_int(lag) or lag < 1:
            return f"pairs[{i}] {leader}->{follower}: lag {lag!r} is not an integer >= 1"
        if (leader, follower) in seen:
            return f"pairs[{i}] {leader}->{follower} is listed twice"
        seen.add((leader, follower))
        for key in _PAIR_NUMBERS:
            if not _is_number_or_none(p.get(key)):
                return f"pairs[{i}].{key} is {p[key]!r}, not a number"
        if "screens" in p and not isinstance(p["screens"], dict):
            return f"pairs[{i}].screens is not an object"
    funnel = record.get("funnel")
    if not isinstance(funnel, list):
        return "'funnel' is not a list"
    for i, s in enumerate(funnel):
        if (
            not isinstance(s, dict)
            or not isinstance(s.get("stage"), str)
            or not all(_is_int(s.get(k)) and s[k] >= 0 for k in ("entered", "kept"))
        ):
            return f"funnel[{i}] is not a stage with integer 'entered' and 'kept'"
    for key, kind in (("flagged", list), ("warnings", list), ("timings", dict), ("dropped_by_stage", dict)):
        if not isinstance(record.get(key), kind):
            return f"'{key}' is missing or not a{'n object' if kind is dict else ' list'}"
    if not all(_is_number_or_none(v) for v in record["timings"].values()):
        return "'timings' holds a value that is not a number"
    if not all(isinstance(n, dict) for n in record["flagged"]):
        return "'flagged' holds an entry that is not an object"
    if "windows" in record and not isinstance(record["windows"], dict):
        return "'windows' is not an object"
    for key in ("stability", "universe_coverage"):
        if key in record and not isinstance(record[key], dict):
            return f"'{key}' is not an object"
    return None


def verify_record(record: Any, asof: dt.date | str) -> tuple[str | None, bool]:
    """Check a cached week record: ``(problem, legacy)``.

    ``problem`` is None when the record can be used; otherwise why it must be recomputed: its content hash does
    not match its fields (edited or damaged after it was written), or a field is malformed
    (:func:`record_problem`). ``legacy`` is True for a usable record without a content hash (written before it
    existed): the caller re-writes it with one (:func:`seal`).
    """
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}", False
    stored = record.get(HASH_FIELD)
    legacy = HASH_FIELD not in record
    if not legacy:
        try:
            actual = record_sha256(record)
        except (TypeError, ValueError):
            actual = None
        if not isinstance(stored, str) or stored != actual:
            return (
                "its content does not match its record_sha256 (the file was edited or damaged after it was written)"
            ), False
    problem = record_problem(record, asof)
    if problem is not None:
        return (f"no content hash and {problem}" if legacy else problem), legacy
    return None, legacy
