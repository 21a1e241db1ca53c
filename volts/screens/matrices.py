"""All-pairs lead-lag matrices of seeds 003 and 004 (LITERATURE.md 003.2, 004.2).

Every function takes log returns Y (T dates x N symbols) and returns an N x N matrix. The lead-lag scores are
skew-symmetric, ``S[i, j] = -S[j, i]``, with ``S[i, j] > 0`` meaning that symbol i leads symbol j (003's
convention; 004's cross-correlation scores C1/C2 use the transposed convention, see LITERATURE.md 004.3).

* :func:`ccf_matrix` -- ``C[i, j] = corr(Y^i_{t-l}, Y^j_t)`` on the T - l overlapping dates (each sub-sample
  re-centred and re-scaled, as the seed-003 code's ``shift`` + ``corr`` does); Pearson, Kendall tau-b, distance
  correlation (V-statistic, as ``dcor``) or mutual information of pooled quartile buckets.
* :func:`ccf_lag1_matrix` -- 003's ccf-lag1 functional, ``S = C(1) - C(-1) = C(1) - C(1)^T``.
* :func:`ccf_auc_matrix` -- 003's ccf-auc functional over lags 1..L.
* :func:`levy_area_matrix` -- 004's Lévy area of the standardised returns path (with the 1/2 factor), for all
  pairs as one matrix product, O(N^2 T).
* :func:`signature_matrix` -- 003's signature metric: twice the Lévy area of the cumulated path divided by its
  standard deviation, starting at the first cumulated value (the seed-003 code's construction).

Pearson, Lévy area and signature are vectorised matrix products; Kendall, distance correlation and mutual
information loop over pairs (O(N^2) library calls) and are meant for tens of names, not hundreds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "ccf_auc_from_ccfs",
    "ccf_auc_matrix",
    "ccf_lag1_matrix",
    "ccf_matrix",
    "distance_correlation_batch",
    "levy_area_matrix",
    "levy_area_of_path",
    "mutual_information_quartiles",
    "pooled_quartile_buckets",
    "signature_matrix",
]

Method = Literal["pearson", "kendall", "distance", "mi"]


# ------------------------------------------------------------------------------------------------ helpers
def _values(returns) -> tuple[np.ndarray, pd.Index | None]:
    if isinstance(returns, pd.DataFrame):
        values, cols = returns.to_numpy(dtype=np.float64), returns.columns
    else:
        values, cols = np.asarray(returns, dtype=np.float64), None
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of dates x symbols, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("returns contain NaN or inf; align and clean them first")
    return values, cols


def _wrap(matrix: np.ndarray, cols: pd.Index | None):
    return matrix if cols is None else pd.DataFrame(matrix, index=cols, columns=cols)


def _standardise_columns(a: np.ndarray) -> np.ndarray:
    """Centre each column and scale it to unit norm (so that a.T @ b is the Pearson correlation matrix)."""
    a = a - a.mean(axis=0)
    norm = np.sqrt((a * a).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / norm


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
    edges = np.quantile(pool, np.arange(1, q) / q, axis=-1)          # (q-1, ...)
    edges = np.moveaxis(edges, 0, -1)[..., None, :]                    # (..., 1, q-1)
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


# --------------------------------------------------------------------------------------- cross-correlation
def ccf_matrix(returns, lag: int, method: Method = "pearson", *, mi_buckets: int = 4):
    """Cross-correlation matrix at one lag: ``C[i, j] = corr(Y^i_{t-lag}, Y^j_t)`` (seed 003's CCF^{ij}(lag)).

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray, shape (T, N)
        Log returns, dates in time order, no NaN.
    lag : int
        l; positive = the row symbol's past against the column symbol's present. ``C(-l) = C(l).T``.
    method : {"pearson", "kendall", "distance", "mi"}
        Pearson; Kendall tau-b (``scipy.stats.kendalltau``); distance correlation (the V-statistic of
        ``dcor.distance_correlation``, in [0, 1], see :func:`distance_correlation_batch`); mutual information in
        nats of pooled quartile buckets.
    mi_buckets : int
        Buckets of the pooled values for ``"mi"``.

    Returns
    -------
    numpy.ndarray or pandas.DataFrame, shape (N, N)
        DataFrame (labelled by symbol) when ``returns`` is a DataFrame. Computed on the T - |lag| overlapping
        dates. The diagonal holds each series' autocorrelation (or dependence) at ``lag``.

    Raises
    ------
    ValueError
        NaN/inf, |lag| >= T - 2 or an unknown method.
    """
    values, cols = _values(returns)
    T, N = values.shape
    lag = int(lag)
    if abs(lag) >= T - 2:
        raise ValueError(f"ccf_matrix: lag {lag} leaves fewer than 3 overlapping dates of {T}")
    if lag < 0:
        out = ccf_matrix(values, -lag, method, mi_buckets=mi_buckets).T
        return _wrap(np.ascontiguousarray(out), cols)
    past = values[:T - lag] if lag else values
    now = values[lag:]
    if method == "pearson":
        out = _standardise_columns(past).T @ _standardise_columns(now)
    elif method in ("kendall", "distance", "mi"):
        out = np.empty((N, N))
        if method == "distance":
            for i in range(N):
                out[i] = distance_correlation_batch(np.repeat(past[:, i][None], N, axis=0), now.T)
        elif method == "mi":
            for i in range(N):
                out[i] = mutual_information_quartiles(np.repeat(past[:, i][None], N, axis=0), now.T, mi_buckets)
        else:
            from scipy.stats import kendalltau

            for i in range(N):
                for j in range(N):
                    out[i, j] = kendalltau(past[:, i], now[:, j]).statistic
    else:
        raise ValueError(f"ccf_matrix: unknown method {method!r} (pearson, kendall, distance, mi)")
    return _wrap(np.nan_to_num(out, nan=0.0), cols)


def ccf_lag1_matrix(returns, method: Method = "pearson", *, mi_buckets: int = 4):
    """Seed 003's ccf-lag1 lead-lag matrix ``S = CCF(1) - CCF(-1)``; ``S[i, j] > 0`` means i leads j.

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray, shape (T, N)
    method : {"pearson", "kendall", "distance", "mi"}
        See :func:`ccf_matrix`.

    Returns
    -------
    numpy.ndarray or pandas.DataFrame, shape (N, N)
        Skew-symmetric, zero diagonal.

    Notes
    -----
    Source: Bennett, Cucuringu & Reinert (seed 003), Sect. 3 (LITERATURE.md 003.2). It detects the direction only
    under positive association (a negative lead-lag link flips the sign).
    """
    values, cols = _values(returns)
    c = np.asarray(ccf_matrix(values, 1, method, mi_buckets=mi_buckets))
    return _wrap(c - c.T, cols)


def ccf_auc_from_ccfs(forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """ccf-auc score from the two sums ``I(i, j) = sum_l |CCF^{ij}(l)|`` and ``I(j, i)`` (element-wise).

    ``S = sign(I_ij - I_ji) * max(I_ij, I_ji) / (I_ij + I_ji)``, 0 when both are 0 (LITERATURE.md 003.2). |S| lies
    in {0} U [0.5, 1]: noise alone gives a magnitude of at least 0.5 with a random sign.
    """
    total = forward + reverse
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sign(forward - reverse) * np.maximum(forward, reverse) / total
    return np.where(total > 0, s, 0.0)


def ccf_auc_matrix(returns, max_lag: int = 5, method: Method = "pearson", *, mi_buckets: int = 4):
    """Seed 003's ccf-auc lead-lag matrix over lags 1..L; ``S[i, j] > 0`` means i leads j.

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray, shape (T, N)
    max_lag : int
        L (seed 003: 5).
    method : {"pearson", "kendall", "distance", "mi"}
        See :func:`ccf_matrix`.

    Returns
    -------
    numpy.ndarray or pandas.DataFrame, shape (N, N)
        Skew-symmetric, zero diagonal, |S_ij| in {0} U [0.5, 1].

    Notes
    -----
    ``I(i, j) = sum_{l=1..L} |CCF^{ij}(l)|``, ``S_ij = sign(I(i,j) - I(j,i)) max(I(i,j), I(j,i)) / (I(i,j) +
    I(j,i))``. Source: seed 003, Sect. 3 (LITERATURE.md 003.2).
    """
    if max_lag < 1:
        raise ValueError(f"ccf_auc_matrix: max_lag must be >= 1, got {max_lag}")
    values, cols = _values(returns)
    total = np.zeros((values.shape[1],) * 2)
    for l in range(1, int(max_lag) + 1):
        total += np.abs(np.asarray(ccf_matrix(values, l, method, mi_buckets=mi_buckets)))
    s = ccf_auc_from_ccfs(total, total.T)
    np.fill_diagonal(s, 0.0)
    return _wrap(s, cols)


# ------------------------------------------------------------------------------------------------ Lévy area
def levy_area_of_path(points) -> np.ndarray:
    """Lévy area of every pair of coordinates of a piecewise-linear path, as one matrix product.

    ``A[i, j] = 1/2 sum_{k=1..n} [(P^i_{k-1} - P^i_0)(P^j_k - P^j_{k-1}) - (P^j_{k-1} - P^j_0)(P^i_k - P^i_{k-1})]``,
    which is ``(S^{ij} - S^{ji}) / 2`` of the path's level-2 signature (exact for a piecewise-linear path).

    Parameters
    ----------
    points : array-like, shape (n + 1, N)
        Path points P_0 .. P_n of N coordinates.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        Skew-symmetric; invariant to adding a constant to any coordinate.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 2:
        raise ValueError(f"levy_area_of_path: need at least 2 points of shape (n + 1, N), got {p.shape}")
    q = p[:-1] - p[0]
    m = q.T @ np.diff(p, axis=0)
    return 0.5 * (m - m.T)


def levy_area_matrix(returns, *, standardise: bool = True):
    """Seed 004's Lévy-area lead-lag matrix of the (standardised) returns path; ``A[i, j] > 0`` means i leads j.

    The path is the z-scored return series themselves (004 App. B: X_s = 0, then X_t = the standardised return
    of day t), so ``A[i, j] = 1/2 sum_{t=2..T} (z^i_{t-1} z^j_t - z^j_{t-1} z^i_t)``: one matrix product,
    ``M = z[:-1]^T z[1:]``, ``A = (M - M^T) / 2``, O(N^2 T).

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray, shape (T, N)
        Log returns over the window.
    standardise : bool
        z-score each column over the window (mean 0, sample std with ddof = 1) first; 004 standardises, and |A|
        grows with volatility otherwise.

    Returns
    -------
    numpy.ndarray or pandas.DataFrame, shape (N, N)
        Skew-symmetric, zero diagonal.

    Raises
    ------
    ValueError
        NaN/inf, fewer than 3 dates, or a constant column when standardising.

    Notes
    -----
    Source: Cartea, Cucuringu & Jin (seed 004), eqs 4-5 and App. B (LITERATURE.md 004.2, decision C5). 004's
    standardisation is a rolling 30-day z-score; here the window is the whole input (the caller picks it).
    Up to boundary terms this is (T - 1) times the lag-1 cross-covariance difference, i.e. close to the Pearson
    ccf-lag1 score (LITERATURE.md 004.2 "Caution").
    """
    values, cols = _values(returns)
    if values.shape[0] < 3:
        raise ValueError(f"levy_area_matrix: need at least 3 dates, got {values.shape[0]}")
    z = values
    if standardise:
        sd = values.std(axis=0, ddof=1)
        if (sd <= 0).any():
            raise ValueError(f"levy_area_matrix: column {int(np.argmax(sd <= 0))} is constant; cannot standardise")
        z = (values - values.mean(axis=0)) / sd
    m = z[:-1].T @ z[1:]
    return _wrap(0.5 * (m - m.T), cols)


def signature_matrix(returns):
    """Seed 003's signature lead-lag matrix: ``S^{ij} - S^{ji}`` of the normalised cumulated-returns path.

    Path = ``cumsum(returns)`` with each column divided by its sample standard deviation (ddof = 1), starting at
    the first cumulated value (no zero point prepended), as in the seed-003 code. No 1/2 factor: twice the Lévy
    area of that path.

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray, shape (T, N)

    Returns
    -------
    numpy.ndarray or pandas.DataFrame, shape (N, N)
        Skew-symmetric; ``S[i, j] > 0`` when moves of i are followed by same-direction moves of j.

    Notes
    -----
    Source: seed 003, eq. 3 (LITERATURE.md 003.2).
    """
    values, cols = _values(returns)
    path = np.cumsum(values, axis=0)
    sd = path.std(axis=0, ddof=1)
    if (sd <= 0).any():
        raise ValueError("signature_matrix: a cumulated path is constant; cannot normalise")
    return _wrap(2.0 * levy_area_of_path(path / sd), cols)
