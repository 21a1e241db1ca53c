"""Seed 003's synthetic lead-lag processes with their cluster truth (Sect. 4.1; LITERATURE.md 003.6-003.7).

General form (seed 003 eq. 5): ``Z_t ~ iid F_Z`` for t = 1..T, ``Z_t := 0`` for t <= 0, and

    Y^i_t = g_{l_i}(Z_{t - l_i}) + eps^i_t,     eps^i_t ~ iid N(0, sigma^2).

=============  ==============  ==============================================  =====================  ==
name           F_Z             g(Z) for series i                               lags l_i               k
=============  ==============  ==============================================  =====================  ==
linear         N(0, 1)         Z_{t-l}                                         0..9 (10 series each)  10
cosine         U(-pi, pi)      cos(l Z_{t-l}) / sqrt(pi)                       1..10                  10
legendre       U(-1, 1)        P_l(Z_{t-l}) (unscaled Legendre, degree l)      2..11                  10
hermite        N(0, 1)         He_l(Z_{t-l}) / sqrt(l!) (probabilists')        2..11                  10
heterogeneous  N(0, I_2)       Z^{f_i}_{t-l}, two independent linear halves    0..9 (5 each) x 2      20
=============  ==============  ==============================================  =====================  ==

Legendre and Hermite follow the authors' code (degree = lag, He_m / sqrt(m!) of unit variance), not the paper's
internally inconsistent formulas (LITERATURE.md 003.6, C.2). The shift fills Z = 0 for the first l rows, as the
code's ``shift(l).fillna(0)`` (so the cosine series start at cos(0)/sqrt(pi)).

Truth: i and j share a cluster iff their lags (and, for ``heterogeneous``, factors) are equal; ``i`` leads ``j`` iff
``l_i < l_j`` (within the same factor for ``heterogeneous``; pairs across factors carry no lead-lag relation
and are excluded from the accuracy, as for equal lags).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import hermite_e, legendre

__all__ = ["DGPS", "SyntheticLeadLag", "simulate", "lead_lag_accuracy", "true_sign_matrix"]

#: The five data-generating processes of seed 003.
DGPS: tuple[str, ...] = ("linear", "cosine", "legendre", "hermite", "heterogeneous")


@dataclass(frozen=True)
class SyntheticLeadLag:
    """One draw: ``returns`` (T, p), ``lags`` (p,), ``labels`` (p,) the true clusters, ``factors`` (p,)."""

    returns: np.ndarray
    lags: np.ndarray
    labels: np.ndarray
    factors: np.ndarray
    dgp: str
    sigma: float

    @property
    def k(self) -> int:
        return int(len(np.unique(self.labels)))


def _shift(z: np.ndarray, lag: int) -> np.ndarray:
    out = np.zeros_like(z)
    if lag == 0:
        return z.copy()
    out[lag:] = z[:-lag]
    return out


def simulate(
    dgp: str, sigma: float, *, T: int = 250, p: int = 100, k: int = 10, rng: np.random.Generator | int | None = None
) -> SyntheticLeadLag:
    """Draw one panel of a seed-003 process.

    Parameters
    ----------
    dgp : {"linear", "cosine", "legendre", "hermite", "heterogeneous"}
    sigma : float, >= 0
        Noise standard deviation.
    T, p : int
        Days and series (paper: 250 and 100).
    k : int
        Lag clusters (paper: 10); ``heterogeneous`` has 2 factors x k clusters of p / (2k) series.
    rng : numpy Generator or seed

    Returns
    -------
    SyntheticLeadLag

    Raises
    ------
    ValueError
        Unknown process, negative sigma, or p not divisible into the clusters.
    """
    if dgp not in DGPS:
        raise ValueError(f"unknown process '{dgp}'; choose one of {', '.join(DGPS)}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    rng = np.random.default_rng(rng)
    groups = 2 if dgp == "heterogeneous" else 1
    if p % (groups * k):
        raise ValueError(f"p={p} must be a multiple of {groups * k} for the '{dgp}' process")
    per = p // (groups * k)
    lag_idx = np.tile(np.repeat(np.arange(k), per), groups)
    factors = np.repeat(np.arange(groups), p // groups)
    y = np.empty((T, p))
    if dgp in ("linear", "heterogeneous"):
        z = rng.standard_normal((T, groups))
        lags = lag_idx
        for i in range(p):
            y[:, i] = _shift(z[:, factors[i]], lags[i])
    elif dgp == "cosine":
        z = rng.uniform(-np.pi, np.pi, T)
        lags = lag_idx + 1
        for i in range(p):
            y[:, i] = np.cos(lags[i] * _shift(z, lags[i])) / math.sqrt(math.pi)
    elif dgp == "legendre":
        z = rng.uniform(-1.0, 1.0, T)
        lags = lag_idx + 2
        for i in range(p):
            y[:, i] = legendre.legval(_shift(z, lags[i]), [0] * lags[i] + [1])
    else:  # hermite
        z = rng.standard_normal(T)
        lags = lag_idx + 2
        for i in range(p):
            y[:, i] = hermite_e.hermeval(_shift(z, lags[i]), [0] * lags[i] + [1]) / math.sqrt(math.factorial(lags[i]))
    y += sigma * rng.standard_normal((T, p))
    labels = factors * k + lag_idx
    return SyntheticLeadLag(
        returns=y, lags=np.asarray(lags), labels=labels, factors=factors, dgp=dgp, sigma=float(sigma)
    )


def true_sign_matrix(draw: SyntheticLeadLag) -> np.ndarray:
    """T_ij = +1 if i leads j, -1 if j leads i, 0 if no relation (same lag, or different factors)."""
    t = np.sign(draw.lags[None, :] - draw.lags[:, None]).astype(float)
    t[draw.factors[:, None] != draw.factors[None, :]] = 0.0
    return t


def lead_lag_accuracy(s: np.ndarray, draw: SyntheticLeadLag) -> float:
    """Share of related pairs (i < j, T_ij != 0) whose estimated sign is right; a zero estimate counts wrong."""
    t = true_sign_matrix(draw)
    iu = np.triu_indices_from(t, k=1)
    tt, ss = t[iu], np.asarray(s)[iu]
    related = tt != 0
    return float(np.mean(ss[related] * tt[related] > 0))
