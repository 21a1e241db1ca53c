"""Baselines of DeltaLag, in the same network code (:class:`volts.learning.deltalag.DeltaLagNet`).

* **Lag1Net** (``"lag1net"``): the attention chooses k leaders but only at the fixed lag 1 (``l_max = 1``).
* **SelfLag** (``"selflag"``): the attention chooses k of the stock's *own* lags 1 .. l_max (no other stock).
* **CorrGraph** (``"corrgraph"``): leaders and lags are not learned but read off a rolling statistical lead-lag
  matrix (:func:`corr_graph_selection`), then fed to the same raw-feature aggregation and MLP.
* **LSTM** (``"lstm"``): the MLP on the stock's own last LSTM embedding; no cross-asset part at all.

Source of the list: the baselines of the DeltaLag review (``../shared/docs/LITERATURE.md`` 000.3); their
architectures are not given there, so each is the DeltaLag network with one part removed or fixed, which makes the
comparison a clean ablation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from volts.selection.leadlag import cross_correlation
from volts.learning.deltalag import DeltaLagSettings

__all__ = ["MODELS", "settings_for", "corr_graph_selection"]

#: Model names and the network variant of each.
MODELS: dict[str, str] = {
    "deltalag": "deltalag",
    "lag1net": "lag1",
    "selflag": "self",
    "corrgraph": "fixed",
    "lstm": "lstm",
}


def settings_for(name: str, base: DeltaLagSettings | None = None) -> DeltaLagSettings:
    """Settings of the model called ``name`` (a key of :data:`MODELS`), every other choice taken from ``base``.

    Raises
    ------
    ValueError
        If ``name`` is not a key of :data:`MODELS`.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return replace(base or DeltaLagSettings(), variant=MODELS[name])


def corr_graph_selection(returns, *, k: int = 2, l_max: int = 9, window: int = 60):
    """Leaders, lags and weights of every (day, lagger) from a rolling lagged cross-correlation matrix.

    For decision day t the returns of days ``t - window + 1 .. t`` (missing values as 0) give, for every lag tau = 1
    .. l_max, ``C_tau[v, u] = corr(r_v(s - tau), r_u(s))`` (:func:`volts.selection.leadlag.cross_correlation`, Pearson; the
    lagged cross-correlation of Bennett, Cucuringu & Reinert). For lagger u the k pairs (v != u, tau) with the
    largest ``|C_tau[v, u]|`` are its leaders and lags, with the signed correlations as weights, so a negative
    relation flips the leader's features. This is the "pre-computed statistical lead-lag graph" of the DeltaLag
    review, made time-varying by the rolling window; lag tau has the meaning of :mod:`volts.learning.deltalag` (the
    leader's bar t + 1 - tau informs the lagger's bar t + 1), since ``C_tau`` pairs the leader's return tau bars
    before the lagger's.

    Parameters
    ----------
    returns : array-like, shape (T, N)
        Returns in time order; NaN for missing.
    k, l_max, window : int
        Pairs per lagger, largest lag, rolling window in days (window > l_max + 2).

    Returns
    -------
    leaders, lags : numpy.ndarray of int, shape (T, N, k)
    weights : numpy.ndarray, shape (T, N, k)
        Zero weights (and leader 0, lag 1) on days ``t < window - 1``, where the window is incomplete. Uses only
        returns up to day t: no look-ahead.

    Raises
    ------
    ValueError
        If ``window <= l_max + 2`` or there are fewer than k + 1 stocks.
    """
    r = np.asarray(returns, dtype=float)
    T, n = r.shape
    if window <= l_max + 2:
        raise ValueError(f"window ({window}) must exceed l_max + 2 ({l_max + 2}) to correlate lagged returns")
    if n < k + 1:
        raise ValueError(f"need more than k={k} stocks, got {n}")
    r = np.where(np.isfinite(r), r, 0.0)
    leaders = np.zeros((T, n, k), dtype=np.int32)
    lags = np.ones((T, n, k), dtype=np.int32)
    weights = np.zeros((T, n, k))
    eye = np.eye(n, dtype=bool)
    for t in range(window - 1, T):
        y = r[t - window + 1 : t + 1]
        c = np.stack([cross_correlation(y, lag=tau) for tau in range(1, l_max + 1)], axis=-1)  # (v, u, tau)
        c[eye] = 0.0
        cu = np.transpose(c, (1, 0, 2)).reshape(n, -1)  # (u, v * l_max + tau - 1)
        idx = np.argsort(-np.abs(cu), axis=1, kind="stable")[:, :k]
        leaders[t], lags[t] = idx // l_max, idx % l_max + 1
        weights[t] = np.take_along_axis(cu, idx, axis=1)
    return leaders, lags, weights
