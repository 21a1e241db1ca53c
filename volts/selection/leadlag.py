"""All-pairs lead-lag matrices of the literature beside Vol-TS (seeds 003 and 004).

Every function takes a returns array ``Y`` of shape (T, N) (rows = days in time order, columns = series) and
returns a skew-symmetric N x N matrix ``S`` with the convention of seed 003 (LITERATURE.md 003.2):

    S[i, j] > 0  <=>  series i leads series j,      S[j, i] = -S[i, j],      S[i, i] = 0.

They are computed for all pairs at once (matrix products over time), never pair by pair:

* :func:`cross_correlation` -- ``C[i, j] = corr(Y^i_{t-l}, Y^j_t)`` on the T - l overlapping rows, for Pearson,
  Kendall tau-b, distance correlation (the biased V-statistic of Szekely 2007, as ``dcor.distance_correlation``)
  and mutual information of pooled quartile buckets (Fiedor 2014; nats, as ``sklearn.metrics.mutual_info_score``).
* :func:`ccf_lag1_matrix` -- ``S = C(1) - C(-1) = C(1) - C(1)^T`` (seed 003, "ccf-lag1").
* :func:`ccf_auc_matrix` -- ``I(i,j) = sum_{l=1..L} |C_l[i,j]|``,
  ``S = sign(I - I^T) max(I, I^T) / (I + I^T)`` (seed 003, "ccf-auc"; 0/0 := 0).
* :func:`levy_area_matrix` -- the Levy area of each two-dimensional piecewise-linear path (seed 004 eq. 5,
  with the 1/2): ``A[i, j] = 1/2 sum_k [(P^i_{k-1}-P^i_0)(P^j_k-P^j_{k-1}) - (P^j_{k-1}-P^j_0)(P^i_k-P^i_{k-1})]``,
  one (N x T) @ (T x N) product. Seed 004 uses the standardised *returns* as the path (LITERATURE.md 004.2):
  :func:`levy_area_returns` is that path started at 0 with ddof-1 z-scores, the one Lévy-area convention of the
  screen, the Hermitian candidates and the portfolio.
* :func:`signature_matrix` -- seed 003 eq. 3: twice the Levy area of the cumulated returns, each column divided
  by its own sample standard deviation (ddof = 1), without a prepended zero point (the authors' code).

NaN handling: the inputs must be finite (the callers drop or fill missing days first); a column with zero
variance gives 0 correlations (never NaN) so that the matrix stays usable by the clustering.

Sources: Bennett, Cucuringu & Reinert (2022), Sect. 3 (seed 003); Cartea, Cucuringu & Jin (2024), Sect. 2 and
App. B (seed 004); read for implementers in ``../shared/docs/LITERATURE.md`` 003.2 and 004.2.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "CORRELATIONS",
    "METRICS",
    "cross_correlation",
    "ccf_lag1_matrix",
    "ccf_auc_matrix",
    "levy_area_matrix",
    "levy_area_returns",
    "signature_matrix",
    "lead_lag_matrix",
    "standardise",
]

Correlation = Literal["pearson", "kendall", "distance", "mutual_information"]
#: The four dependence measures of seed 003 (LITERATURE.md 003.2).
CORRELATIONS: tuple[str, ...] = ("pearson", "kendall", "distance", "mutual_information")
#: The nine metrics of the seed-003 synthetic experiment: the signature and 4 x (ccf-lag1, ccf-auc).
METRICS: tuple[str, ...] = (
    ("signature",) + tuple(f"ccf_lag1_{c}" for c in CORRELATIONS) + tuple(f"ccf_auc_{c}" for c in CORRELATIONS)
)


def _as_array(returns) -> np.ndarray:
    y = np.asarray(returns, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"returns must be a 2-D array (days x series), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("returns contain NaN or infinite values; drop or fill missing days first")
    return y


def standardise(y: np.ndarray, ddof: int = 0) -> np.ndarray:
    """Column-wise z-scores; a constant column becomes zeros (not NaN)."""
    y = np.asarray(y, dtype=float)
    sd = y.std(axis=0, ddof=ddof)
    sd = np.where(sd > 0, sd, np.inf)
    return (y - y.mean(axis=0)) / sd


def _pearson(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    return standardise(x).T @ standardise(z) / n


def _pair_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _kendall(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    # tau-b = sum_{a<b} sx sy / sqrt(sum_{a<b} sx^2 * sum_{a<b} sy^2) with sx = sign(x_a - x_b): one product
    ia, ib = _pair_index(x.shape[0])
    sx, sz = np.sign(x[ia] - x[ib]), np.sign(z[ia] - z[ib])  # (n(n-1)/2, N)
    num = sx.T @ sz
    den = np.sqrt(np.outer((sx * sx).sum(0), (sz * sz).sum(0)))
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _centred_distances(x: np.ndarray) -> np.ndarray:
    """Double-centred distance matrices of every column, flattened to (n + n(n-1)/2, N).

    The upper triangle is scaled by sqrt(2) so that a product of two such vectors is the sum over all n^2
    entries of the (symmetric) matrices.
    """
    n = x.shape[0]
    d = np.abs(x.T[:, :, None] - x.T[:, None, :])  # (N, n, n)
    d -= d.mean(axis=1, keepdims=True) + d.mean(axis=2, keepdims=True) - d.mean(axis=(1, 2), keepdims=True)
    ia, ib = _pair_index(n)
    diag = np.arange(n)
    return np.concatenate([d[:, diag, diag], np.sqrt(2.0) * d[:, ia, ib]], axis=1).T


def _distance(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    a, b = _centred_distances(x), _centred_distances(z)
    dcov2 = a.T @ b  # n^2 dCov^2 (V-statistic); the n^2 cancels in the ratio
    dvar = np.sqrt(np.outer((a * a).sum(0), (b * b).sum(0)))
    r2 = np.divide(dcov2, dvar, out=np.zeros_like(dcov2), where=dvar > 0)
    return np.sqrt(np.clip(r2, 0.0, None))


def _mutual_information(x: np.ndarray, z: np.ndarray, buckets: int = 4) -> np.ndarray:
    """Plug-in mutual information (nats) of every (column of x, column of z) after pooled quantile bucketing.

    For each pair the 2n values of both columns are pooled and cut at their quantiles 1/4, 1/2, 3/4 (``pd.qcut``
    with right-closed bins; repeated edges just leave a bucket empty), as the seed-003 code does.
    """
    n, nx = x.shape
    nz = z.shape[1]
    out = np.zeros((nx, nz))
    qs = np.arange(1, buckets) / buckets
    for i in range(nx):  # one vectorised pass per leading column: (nz, 2n) pools
        pool = np.concatenate([np.broadcast_to(x[:, i : i + 1], (n, nz)), z], axis=0)  # (2n, nz)
        edges = np.quantile(pool, qs, axis=0)  # (buckets-1, nz)
        bx = (x[:, i][:, None, None] > edges[None, :, :]).sum(1)  # (n, nz)
        bz = (z[:, None, :] > edges[None, :, :]).sum(1)  # (n, nz)
        code = (bx * buckets + bz) + (np.arange(nz) * buckets * buckets)[None, :]
        counts = np.bincount(code.ravel(), minlength=nz * buckets * buckets).reshape(nz, buckets, buckets)
        pxy = counts / n
        px = pxy.sum(2, keepdims=True)
        pz = pxy.sum(1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(pxy > 0, pxy * np.log(pxy / (px * pz)), 0.0)
        out[i] = np.clip(terms.sum(axis=(1, 2)), 0.0, None)
    return out


_CORR = {"pearson": _pearson, "kendall": _kendall, "distance": _distance, "mutual_information": _mutual_information}


def cross_correlation(returns, lag: int = 1, method: Correlation = "pearson") -> np.ndarray:
    """Lagged dependence of every ordered pair: ``C[i, j] = corr(Y^i_{t-lag}, Y^j_t)``.

    Parameters
    ----------
    returns : array-like, shape (T, N)
        Returns in time order (no NaN).
    lag : int, >= 0
        l: the past of column i (rows 0..T-l-1) against the present of column j (rows l..T-1). ``C(-l) = C(l)^T``.
    method : {"pearson", "kendall", "distance", "mutual_information"}
        Each sub-sample is re-centred and re-scaled by the measure itself (as the seed-003 code's
        ``shift`` + ``dropna`` + ``corr``). Kendall is tau-b; distance correlation is the biased V-statistic in
        [0, 1]; mutual information is in nats of pooled quartile buckets.

    Returns
    -------
    numpy.ndarray, shape (N, N)

    Raises
    ------
    ValueError
        Unknown method, negative lag, lag >= T - 1, or non-finite input.

    Notes
    -----
    Kendall and distance correlation build (N, (T-l)^2) tensors: memory ~ 8 N T^2 bytes (100 x 250 -> 50 MB).
    """
    y = _as_array(returns)
    if method not in _CORR:
        raise ValueError(f"unknown correlation '{method}'; choose one of {', '.join(CORRELATIONS)}")
    if lag < 0 or lag >= y.shape[0] - 1:
        raise ValueError(f"lag must be in 0..{y.shape[0] - 2}, got {lag}")
    x, z = (y[:-lag], y[lag:]) if lag else (y, y)
    return _CORR[method](x, z)


def ccf_lag1_matrix(returns, method: Correlation = "pearson", *, c1: np.ndarray | None = None) -> np.ndarray:
    """Seed 003's ccf-lag1: ``S[i, j] = CCF^{ij}(1) - CCF^{ij}(-1)`` (shape (N, N), skew-symmetric).

    ``c1`` may pass a precomputed ``cross_correlation(returns, 1, method)``.
    """
    c = cross_correlation(returns, 1, method) if c1 is None else np.asarray(c1)
    s = c - c.T
    np.fill_diagonal(s, 0.0)
    return s


def ccf_auc_matrix(
    returns, max_lag: int = 5, method: Correlation = "pearson", *, stack: list[np.ndarray] | None = None
) -> np.ndarray:
    """Seed 003's ccf-auc over lags 1..``max_lag``: ``S = sign(I - I^T) max(I, I^T) / (I + I^T)``.

    ``I[i, j] = sum_l |CCF^{ij}(l)|``. Entries lie in {0} U [0.5, 1] in absolute value; 0/0 is defined as 0.
    ``stack`` may pass the precomputed ``[cross_correlation(returns, l, method) for l in 1..max_lag]``.
    """
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if stack is None:
        y = _as_array(returns)
        stack = [cross_correlation(y, lag, method) for lag in range(1, max_lag + 1)]
    total = np.sum([np.abs(c) for c in stack], axis=0)
    i_t = total.T
    den = total + i_t
    s = np.divide(np.sign(total - i_t) * np.maximum(total, i_t), den, out=np.zeros_like(total), where=den > 0)
    np.fill_diagonal(s, 0.0)
    return s


def levy_area_matrix(path) -> np.ndarray:
    """Levy area of every pair of coordinates of a piecewise-linear path (seed 004 eq. 5, with the 1/2).

    Parameters
    ----------
    path : array-like, shape (T, N)
        Points P_0..P_{T-1} of the path, one column per coordinate. Seed 004 feeds the standardised returns.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        ``A[i, j] = 1/2 (S(P)^{ij} - S(P)^{ji})``; A > 0 when moves of i are followed by same-sign moves of j.
        Invariant to adding a constant to any column. Cost O(N^2 T): one matrix product.
    """
    p = _as_array(path)
    inc = np.diff(p, axis=0)  # (T-1, N)
    lev = p[:-1] - p[0]  # (T-1, N)
    m = lev.T @ inc  # m[i, j] = sum_k (P^i_{k-1} - P^i_0)(P^j_k - P^j_{k-1}) = S^{ij}
    a = 0.5 * (m - m.T)
    np.fill_diagonal(a, 0.0)
    return a


#: Degrees of freedom of the standard deviation in the z-scores behind every Lévy area (see :func:`levy_area_returns`)
LEVY_DDOF = 1


def levy_area_returns(x, y=None, *, standardised: bool = False) -> np.ndarray:
    """Seed 004's Lévy area of returns: the one convention of volts (screen, Hermitian matrix, portfolio).

    The path is the z-scored returns started at the origin, X_0 = 0, X_t = z_{t-1} (t = 1..T), so that the area
    of a pair is the lag-1 cross-product asymmetry (1/2 factor included)::

        A[i, j] = 1/2 sum_{t=1}^{T-1} (z^i_{t-1} z^j_t - z^j_{t-1} z^i_t)
                = levy_area_matrix(vstack([0, z]))[i, j]

    The convention and why:

    * **Zero point.** Seed 004 proves its Theorem 1 (sign of A = direction, at lag 1) for a path that starts at
      0, X_s = 0 (App. B, eqs B.3-B.6), and its discrete form is the sum above "when X_s = 0" (LITERATURE.md
      004.2); its App. B toy paths start at 0 too (LITERATURE.md A2). Without the zero point the area measured
      from the first return carries a boundary term -1/2 (z^i_0 z^j_{T-1} - z^j_0 z^i_{T-1}) that depends on two
      single days and is as large as the whole signal under no lead-lag.
    * **ddof = 1** (:data:`LEVY_DDOF`): seed 004 leaves the standard deviation open (LITERATURE.md 004.1); the
      sample standard deviation is seed 003's code's (``pandas.std``) and the portfolio's rolling z-score. It
      scales every area of one window by the same factor, so signs, rankings and clusters do not depend on it.

    Parameters
    ----------
    x : array-like, shape (T, N)
        Returns in time order (no NaN), one column per series.
    y : array-like, shape (T, N), optional
        Paired columns: when given, the area of each pair of columns (x[:, p], y[:, p]) is returned instead of
        the all-pairs matrix (the screens' batched form; the same number as the matrix's entry).
    standardised : bool, default False
        True when the columns are z-scores already (the portfolio's rolling z-scores, LITERATURE.md 004.1): they
        are used as they are. Otherwise each column is z-scored over the window (ddof = 1; a constant column
        becomes 0).

    Returns
    -------
    numpy.ndarray
        Shape (N, N), skew-symmetric with a zero diagonal, A[i, j] > 0 when i leads j; or shape (N,) with ``y``.

    Raises
    ------
    ValueError
        Not 2-D, non-finite values, or ``x`` and ``y`` of different shapes.
    """
    zx = _as_array(x)
    if not standardised:
        zx = standardise(zx, ddof=LEVY_DDOF)
    if y is None:
        m = zx[:-1].T @ zx[1:]  # m[i, j] = sum_t z^i_{t-1} z^j_t
        a = 0.5 * (m - m.T)
        np.fill_diagonal(a, 0.0)
        return a
    zy = _as_array(y)
    if zy.shape != zx.shape:
        raise ValueError(f"paired columns need equal shapes, got {zx.shape} and {zy.shape}")
    if not standardised:
        zy = standardise(zy, ddof=LEVY_DDOF)
    return 0.5 * ((zx[:-1] * zy[1:]).sum(axis=0) - (zy[:-1] * zx[1:]).sum(axis=0))


def signature_matrix(returns) -> np.ndarray:
    """Seed 003's signature metric: ``S^{ij} - S^{ji}`` of the cumulated returns (no 1/2, no zero point).

    Each column of the cumulated path is divided by its sample standard deviation (ddof = 1), as the authors'
    code does before ``iisignature.sig(path, 2)``; a constant column is left unscaled.
    """
    path = np.cumsum(_as_array(returns), axis=0)
    sd = path.std(axis=0, ddof=1)
    path = path / np.where(sd > 0, sd, 1.0)
    return 2.0 * levy_area_matrix(path)


def lead_lag_matrix(returns, metric: str, *, max_lag: int = 5) -> np.ndarray:
    """Any of :data:`METRICS` (plus ``"levy_area"``, :func:`levy_area_returns`) by name; shape (N, N)."""
    if metric == "signature":
        return signature_matrix(returns)
    if metric == "levy_area":
        return levy_area_returns(returns)
    for prefix, fn in (("ccf_lag1_", ccf_lag1_matrix), ("ccf_auc_", ccf_auc_matrix)):
        if metric.startswith(prefix) and metric[len(prefix) :] in CORRELATIONS:
            method = metric[len(prefix) :]
            return fn(returns, method=method) if fn is ccf_lag1_matrix else fn(returns, max_lag, method)
    raise ValueError(f"unknown lead-lag metric '{metric}'; choose one of {', '.join(METRICS + ('levy_area',))}")


def _register_metrics() -> None:
    # every name lead_lag_matrix accepts joins the registry the configuration validates against
    from functools import partial

    from volts.core.registry import LEAD_LAG_METRICS

    for name in METRICS + ("levy_area",):
        LEAD_LAG_METRICS.add(name, partial(lead_lag_matrix, metric=name))


_register_metrics()
