"""A cap on the pairs a week can pass to the lag stage (``[selection] max_pairs``).

When a market-wide shock makes thousands of ordered pairs pass the funnel (every stock moves with every other),
the trading pass would split its capital over all of them. The cap keeps the ``max_pairs`` strongest: ranked by
the score of the **last screen of the funnel** (for Vol-TS, the effective transfer entropy; for a single screen,
its own score), highest first, ties and pairs without a finite score in the funnel's order, so the choice is
reproducible. With no screen (the ablation's "no screen" row) there is no score and the first ``max_pairs``
pairs in the funnel's order are kept. The selection records how many passed, how many were kept and by which
score; the pairs cut are recorded as dropped at the stage ``"pair cap"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["cap_pairs"]


def cap_pairs(
    kept: Sequence[tuple[str, str]], results: Mapping[str, Any], max_pairs: int
) -> tuple[list[tuple[str, str]], dict]:
    """The ``max_pairs`` strongest of the pairs that passed the funnel, and the record of the cap.

    Parameters
    ----------
    kept : sequence of (leader, follower)
        The pairs that passed every screen, in the funnel's order.
    results : mapping of str to volts.selection.screens.base.ScreenResult
        The funnel's results per screen, in the order the screens ran; the last one's ``score`` ranks the pairs.
    max_pairs : int
        K >= 1.

    Returns
    -------
    capped : list of (leader, follower)
        At most K pairs, in the funnel's order.
    record : dict
        ``max_pairs``, ``passed`` (pairs that passed the funnel), ``kept``, ``score`` (what ranked them) and
        ``capped`` (``"leader->follower"`` of every pair cut, strongest first).

    Raises
    ------
    ValueError
        ``max_pairs`` < 1.
    """
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    kept = [tuple(p) for p in kept]
    last = list(results)[-1] if results else None
    if last is None:
        score = np.full(len(kept), np.nan)
        by = "none (no screen ran): the funnel's order"
    else:
        res = results[last]
        by_pair = {tuple(p): float(s) for p, s in zip(res.pairs, res.score)}
        score = np.array([by_pair.get(p, np.nan) for p in kept], dtype=float)
        by = f"{last} score, highest first"
    finite = np.where(np.isfinite(score), score, -np.inf)
    order = sorted(range(len(kept)), key=lambda i: (-finite[i], i))  # stable: ties keep the funnel's order
    keep = set(order[:max_pairs])
    capped = [kept[i] for i in range(len(kept)) if i in keep]
    cut = [f"{kept[i][0]}->{kept[i][1]}" for i in order[max_pairs:]]
    record = {"max_pairs": int(max_pairs), "passed": len(kept), "kept": len(capped), "score": by, "capped": cut}
    return capped, record
