"""Pair-batched statistics of the pairwise lead-lag screens (volts.selection.screens.pairwise).

The all-pairs lead-lag matrices of seeds 003/004 (cross-correlation for Pearson/Kendall/distance/MI, ccf-lag1,
ccf-auc, the Lévy area as one matrix product, seed 003's signature) live in :mod:`volts.selection.leadlag`. The screens
score a list of (leader, follower) pairs, many times over under their permutation test, so they need the same
statistics for *paired columns* in batches:

* :func:`distance_correlation_batch` -- distance correlation (V-statistic) of paired samples;
* :func:`mutual_information_quartiles` / :func:`pooled_quartile_buckets` -- seed 003's MI of pooled quartile
  buckets;
* :func:`ccf_auc_from_ccfs` -- seed 003's ccf-auc functional from the two lag sums.

Tests check each against its reference (``dcor``, scikit-learn, ``pd.qcut``) and the screens' scores against
:mod:`volts.selection.leadlag`'s matrices.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ccf_auc_from_ccfs", "distance_correlation_batch", "mutual_information_quartiles", "pooled_quartile_buckets"]


def pooled_quartile_buckets(a: np.ndarray, b: np.ndarray, q: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Integer buckets 0..q-1 of ``a`` and ``b`` from the quantiles of the pooled values (seed-003 MI binning).

    Equivalent to ``pd.qcut(np.concatenate([a, b]), q, labels=False)`` split back into its two halves (bucket
    edges = linear-interpolated quantiles of the pool, right-closed intervals, lowest value included). Where
    heavy ties make edges coincide, the empty buckets are simply skipped (``pd.qcut`` would raise; mutual
    information does not depend on the labels).

    Parameters
    ----------
    a, b : numpy.ndarray, shape (..., m)
        Batches of series; the pool of each batch row is ``concat(a[row], b[row])``.
    q : int
        Number of buckets (4 = quartiles).

    Returns
    -------
    tuple of numpy.ndarray of int64, shapes as ``a`` and ``b``
    """
    pool = np.concatenate([a, b], axis=-1)
    edges = np.quantile(pool, np.arange(1, q) / q, axis=-1)  # (q-1, ...)
    edges = np.moveaxis(edges, 0, -1)[..., None, :]  # (..., 1, q-1)
    ba = (a[..., :, None] > edges).sum(axis=-1)
    bb = (b[..., :, None] > edges).sum(axis=-1)
    return ba.astype(np.int64), bb.astype(np.int64)


def _distance_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distance matrices |x_i - x_j| of a batch (P, m) and the pieces of their double centring."""
    d = np.abs(x[:, :, None] - x[:, None, :])
    row = d.mean(axis=2)
    grand = row.mean(axis=1)
    var = (d * d).mean(axis=(1, 2)) - 2.0 * (row * row).mean(axis=1) + grand * grand
    return d, row, grand, var


def _dcor_from_stats(sa, sb) -> np.ndarray:
    da, ra, ga, va = sa
    db, rb, gb, vb = sb
    dcov2 = np.einsum("pij,pij->p", da, db) / da.shape[1] ** 2 - 2.0 * (ra * rb).mean(axis=1) + ga * gb
    den = np.sqrt(np.maximum(va, 0.0) * np.maximum(vb, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(den > 0, np.maximum(dcov2, 0.0) / den, 0.0)
    return np.sqrt(np.minimum(r2, 1.0))


def distance_correlation_batch(a: np.ndarray, b: np.ndarray, *, block: int = 32) -> np.ndarray:
    """Distance correlation (Székely, Rizzo & Bakirov 2007; the V-statistic) of paired 1-D samples, batched.

    ``dCor^2 = dCov^2(a, b) / sqrt(dVar^2(a) dVar^2(b))`` with ``dCov^2 = mean(A_ij B_ij)`` of the double-centred
    distance matrices, expanded as ``mean(a_ij b_ij) - 2 mean_i(a_i. b_i.) + a.. b..`` (row and grand means of the
    plain distance matrices); returns dCor in [0, 1], 0 when either sample is constant. The same number as
    ``dcor.distance_correlation`` (checked in the tests), without dcor's numba compilation at import (tens of
    seconds on a loaded machine).

    Parameters
    ----------
    a, b : numpy.ndarray, shape (..., m)
        Paired samples, one pair per batch row.
    block : int
        Rows per vectorised block (memory: block x m x m floats per matrix).

    Returns
    -------
    numpy.ndarray, shape (...)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lead, m = a.shape[:-1], a.shape[-1]
    a2, b2 = a.reshape(-1, m), b.reshape(-1, m)
    out = np.empty(a2.shape[0])
    for start in range(0, a2.shape[0], block):
        sl = slice(start, start + block)
        out[sl] = _dcor_from_stats(_distance_stats(a2[sl]), _distance_stats(b2[sl]))
    return out.reshape(lead)


def mutual_information_quartiles(a: np.ndarray, b: np.ndarray, q: int = 4) -> np.ndarray:
    """Plug-in mutual information (nats) of ``a`` and ``b`` after pooled quantile bucketing, batched.

    Parameters
    ----------
    a, b : numpy.ndarray, shape (..., m)
        Paired samples (e.g. a leader's lagged returns and a follower's returns), one pair per batch row.
    q : int
        Buckets of the pooled values (seed 003: 4).

    Returns
    -------
    numpy.ndarray, shape (...)
        MI in nats, >= 0; the same number as ``sklearn.metrics.mutual_info_score`` on the buckets (the seed-003
        code's ``mutual_info_classif(discrete_features=True)``).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ba, bb = pooled_quartile_buckets(a, b, q)
    lead = ba.shape[:-1]
    m = ba.shape[-1]
    flat = (ba * q + bb).reshape(-1, m)
    rows = flat.shape[0]
    counts = np.bincount((flat + (np.arange(rows) * q * q)[:, None]).ravel(), minlength=rows * q * q)
    joint = counts.reshape(rows, q, q) / m
    pa = joint.sum(axis=2, keepdims=True)
    pb = joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (pa * pb)), 0.0)
    return np.maximum(terms.sum(axis=(1, 2)), 0.0).reshape(lead)


def ccf_auc_from_ccfs(forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """ccf-auc score from the two sums ``I(i, j) = sum_l |CCF^{ij}(l)|`` and ``I(j, i)`` (element-wise).

    ``S = sign(I_ij - I_ji) * max(I_ij, I_ji) / (I_ij + I_ji)``, 0 when both are 0 (LITERATURE.md 003.2). |S| lies
    in {0} U [0.5, 1]: noise alone gives a magnitude of at least 0.5 with a random sign.
    """
    total = forward + reverse
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sign(forward - reverse) * np.maximum(forward, reverse) / total
    return np.where(total > 0, s, 0.0)
