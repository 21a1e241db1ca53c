"""Pair pickers: null models that replace a week's selected pairs by others.

A picker is ``picker(week, rng) -> list of {"leader", "follower", "lag"}``; :func:`apply_pair_picker` runs it
over every week with a generator seeded by ``(seed, asof)``. :class:`RandomPairs` (registered as
``random_pairs`` in :data:`volts.core.registry.PAIR_PICKERS`) draws as many random ordered pairs among the
week's candidates as the selection kept: the random-pairs null of the ablation.
"""

from __future__ import annotations

from volts.core.registry import PAIR_PICKERS

import hashlib
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from volts.core.config import Settings
from volts.core.errors import UsageError

PairPicker = Callable[[dict, np.random.Generator], Sequence[Mapping[str, Any]]]


# ----------------------------------------------------------------------------------------- pickers
def apply_pair_picker(weeks: Sequence[dict], picker: PairPicker | None, seed: int) -> list[dict]:
    """Weeks with their pairs replaced by ``picker(week, rng)``; ``rng`` is seeded by ``(seed, asof)``."""
    if picker is None:
        return list(weeks)
    out = []
    for w in weeks:
        digest = hashlib.sha256(f"{seed}:{w['asof']}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        pairs = [dict(p) for p in picker(w, rng)]
        for p in pairs:
            if not {"leader", "follower", "lag"} <= set(p):
                raise UsageError(
                    f"pair picker returned {p!r} for {w['asof']}; each pair needs leader, follower and lag"
                )
        out.append({**w, "pairs": pairs, "picked_by": getattr(picker, "__name__", "picker")})
    return out


class RandomPairs:
    """Null-model pair picker: as many random ordered pairs among the week's candidates as the selection kept.

    Each call draws, without replacement, ``k = len(week["pairs"])`` ordered pairs (leader != follower) from the
    week's mid-volatility ``candidates`` (fewer when there are fewer ordered pairs), and for each a lag uniform on
    ``min_lag .. max_lag`` (both inclusive). A week the selection left in cash stays in cash.

    Parameters
    ----------
    min_lag, max_lag : int
        Lag range in sessions; :meth:`from_settings` reads ``[lag] min_lag`` / ``max_lag``, the range the DTW
        lag stage chooses from.

    Raises
    ------
    UsageError
        ``min_lag`` < 1 or ``min_lag`` > ``max_lag``.
    """

    __name__ = "random_pairs"

    def __init__(self, min_lag: int, max_lag: int) -> None:
        if int(min_lag) < 1 or int(min_lag) > int(max_lag):
            raise UsageError(f"random pairs: lag range {min_lag} .. {max_lag} is empty or below 1")
        self.min_lag, self.max_lag = int(min_lag), int(max_lag)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RandomPairs":
        """The picker with the configured lag range ``settings.lag.min_lag .. settings.lag.max_lag``."""
        return cls(settings.lag.min_lag, settings.lag.max_lag)

    def __call__(self, week: dict, rng: np.random.Generator) -> list[dict]:
        cands = list(week.get("candidates") or [])
        k = len(week.get("pairs") or [])
        ordered = [(a, b) for a in cands for b in cands if a != b]
        if k == 0 or not ordered:
            return []
        idx = rng.choice(len(ordered), size=min(k, len(ordered)), replace=False)
        return [
            {
                "leader": ordered[i][0],
                "follower": ordered[i][1],
                "lag": int(rng.integers(self.min_lag, self.max_lag + 1)),
            }
            for i in sorted(idx)
        ]

    def __repr__(self) -> str:
        return f"RandomPairs(min_lag={self.min_lag}, max_lag={self.max_lag})"


def _default_lag_range() -> tuple[int, int]:
    from volts.core.config import LagSettings

    d = LagSettings()
    return d.min_lag, d.max_lag


#: :class:`RandomPairs` over the *default* lag range (``[lag]`` defaults); a walk-forward whose ``[lag]`` range
#: differs should use ``RandomPairs.from_settings(settings)`` (the ablation's null does).
random_pairs_picker = RandomPairs(*_default_lag_range())

# the random-pairs null by name (volts.core.registry.PAIR_PICKERS)
PAIR_PICKERS.add("random_pairs", RandomPairs)
