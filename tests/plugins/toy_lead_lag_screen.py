"""A toy pair screen, the worked example of "add a screen": this file is the whole plug-in.

``toy_lead_lag`` scores an ordered pair (leader, follower) by the lag-1 cross-correlation asymmetry of their log
returns, corr(leader[t-1], follower[t]) - corr(follower[t-1], leader[t]): positive when the leader's moves are
followed by the follower's. It has no test of its own (``has_test`` is False), so the funnel keeps its top-K
pairs by score. Select it with ``[selection] screens = ["toy_lead_lag"]`` once this module is imported, or name
the file in the config's ``plugins``.
"""

from __future__ import annotations

import numpy as np

from volts.selection.screens.base import PairScreen, register_screen


@register_screen
class ToyLeadLagScreen(PairScreen):
    """Lag-1 cross-correlation asymmetry, top-K only (a worked example, not a method)."""

    name = "toy_lead_lag"
    lag_kind = "delay"
    directional = True

    @property
    def has_test(self) -> bool:
        return False

    def _evaluate(self, returns, pairs, *, prices, lags) -> dict:
        x = returns.to_numpy(dtype=float)
        col = {s: i for i, s in enumerate(returns.columns)}
        score = np.empty(len(pairs))
        for k, (leader, follower) in enumerate(pairs):
            a, b = x[:, col[leader]], x[:, col[follower]]
            score[k] = np.corrcoef(a[:-1], b[1:])[0, 1] - np.corrcoef(b[:-1], a[1:])[0, 1]
        n = len(pairs)
        return {
            "score": score,
            "p": np.full(n, np.nan),
            "lag": np.ones(n, dtype=int),
            "passed": np.zeros(n, dtype=bool),
        }
