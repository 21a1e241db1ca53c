"""Granger causality over a scan of lag orders for every ordered pair of a universe (METHOD.md §4a).

For a leader X, a follower Y and a lag order l, the test compares two OLS regressions on the sample
t = l .. n-1 (n_obs = n - l rows):

    restricted:    Y_t = c + sum_{i=1..l} a_i Y_{t-i} + e_t
    unrestricted:  Y_t = c + sum_{i=1..l} a_i Y_{t-i} + sum_{j=1..l} b_j X_{t-j} + u_t

    F = ((SSR_r - SSR_u) / l) / (SSR_u / df_u),   df_u = n_obs - 2 l - 1,   p = P(F(l, df_u) > F).

This is exactly statsmodels' ``grangercausalitytests(data[[Y, X]], [l])[l][0]["ssr_ftest"]`` (statsmodels tests
whether the *second* column causes the first and trims each lag order's sample separately by l rows).

How the scan is batched (so that 100 names x 47 lag orders, about 465,000 F-tests, take seconds):

* For each l, one lag tensor holds the l lags of every symbol plus its current value on the common sample.
* For each follower Y, one Householder QR of the restricted design [1, Y_{t-1..t-l}] gives its residual and an
  orthonormal basis of the design's orthogonal complement. By Frisch-Waugh-Lovell, the unrestricted SSR equals
  the SSR of the restricted residual regressed on the X lags *residualised* on the restricted design, so the X
  lag blocks of all leaders are residualised at once with one matrix product.
* The design of the unrestricted regression, span{1, Y lags, X lags}, is the same for X -> Y and Y -> X. So each
  unordered pair {X, Y} needs one small QR of [X lags~, X_t~, Y_t~] (~ = residualised on Y's restricted design):
  its R factor gives both directions' unrestricted SSRs. These QRs are done as one stacked ``numpy.linalg.qr``
  call per follower.

Nothing is approximated: on the reference data the p-values agree with statsmodels' to ~1e-13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from volts._compat import moved_names as _moved_names
from volts.core.errors import DataError

__all__ = ["GrangerScan", "granger_scan"]

#: A residualised X-lag column whose norm falls below this fraction of the series' scale is collinear.
_COLLINEAR_RTOL = 1e-10


# ----------------------------------------------------------------------------------------------- helpers
def _date_str(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def _check_frame(frame: pd.DataFrame, *, what: str) -> np.ndarray:
    """Shared input rules of the causality functions; returns the values as float64 (n, N)."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame of dates x symbols, got {type(frame).__name__}")
    if frame.shape[1] < 2:
        got = ", ".join(map(str, frame.columns)) or "none"
        raise DataError(f"{what}: needs at least 2 symbols, got {frame.shape[1]} ({got})")
    if not frame.columns.is_unique:
        dup = frame.columns[frame.columns.duplicated()].unique()
        raise DataError(f"{what}: duplicate symbol column(s) {', '.join(map(str, dup))}")
    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what}: every column must be numeric") from None
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{what}: {frame.columns[col]} has a NaN/inf value on {_date_str(frame.index[row])} "
            f"(rule: no missing values; clean or align the series first)"
        )
    spread = values.max(axis=0) - values.min(axis=0)
    flat = np.flatnonzero(spread <= 1e-12 * np.maximum(np.abs(values).max(axis=0), 1.0))
    if flat.size:
        sym = frame.columns[flat[0]]
        raise DataError(
            f"{what}: {sym} is constant from {_date_str(frame.index[0])} to "
            f"{_date_str(frame.index[-1])} (rule: a constant series cannot be tested)"
        )
    return values


# ------------------------------------------------------------------------------------------------ result
@dataclass(frozen=True, eq=False)
class GrangerScan:
    """Granger F-tests of every ordered pair over a range of lag orders.

    Attributes
    ----------
    pvalues : pandas.DataFrame, shape (N (N - 1), n_lags)
        p-value of the ``ssr_ftest`` for leader -> follower at lag order l. Rows: MultiIndex
        (``leader``, ``follower``) in the order of the input columns; columns: the lag orders ``min_lag ..
        max_lag`` (name ``lag``); NaN in the columns of ``skipped_lags``.
    fstats : pandas.DataFrame
        F statistics, same shape and labels as ``pvalues``.
    df_resid : dict of int to int
        Residual degrees of freedom of the unrestricted regression (n_obs - 2 l - 1) per evaluated l.
    skipped_lags : tuple of int
        Lag orders not tested because ``df_resid < min_df``.
    n_obs : int
        Rows (dates) of the input; the regression for lag order l uses ``n_obs - l`` of them.
    n_tests : int
        Number of (pair, l) F-tests evaluated: pairs x evaluated lag orders (the size of the multiple comparison
        that the choice of l* sits on).
    symbols : tuple of str
        Input columns, in order.
    min_df : int
        Residual-df guard used.
    start, end : str
        First and last date (label) of the input.
    """

    pvalues: pd.DataFrame
    fstats: pd.DataFrame
    df_resid: dict[int, int]
    skipped_lags: tuple[int, ...]
    n_obs: int
    n_tests: int
    symbols: tuple[str, ...]
    min_df: int
    start: str
    end: str

    @property
    def lags(self) -> tuple[int, ...]:
        """Every lag order of the scan, evaluated or skipped."""
        return tuple(int(c) for c in self.pvalues.columns)

    @property
    def evaluated_lags(self) -> tuple[int, ...]:
        """Lag orders that were tested (not skipped)."""
        return tuple(sorted(self.df_resid))

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """Ordered pairs (leader, follower), in row order."""
        return list(self.pvalues.index)

    def to_dict(self, *, tests: bool = True) -> dict[str, Any]:
        """JSON-ready summary: per pair the p-value and F statistic for every lag order (None when skipped).

        ``tests=False`` leaves the per-pair table out (a large selection writes it to Parquet instead): building
        it for 28,000 pairs x 47 orders cost about 6 s.
        """
        rows = []
        if tests:
            finite = math.isfinite
            for (leader, follower), prow, frow in zip(
                self.pvalues.index, self.pvalues.to_numpy().tolist(), self.fstats.to_numpy().tolist()
            ):
                rows.append(
                    {
                        "leader": str(leader),
                        "follower": str(follower),
                        "p": [v if finite(v) else None for v in prow],
                        "F": [v if finite(v) else None for v in frow],
                    }
                )
        out = {
            "start": self.start,
            "end": self.end,
            "n_obs": int(self.n_obs),
            "symbols": list(self.symbols),
            "lags": list(self.lags),
            "skipped_lags": [int(x) for x in self.skipped_lags],
            "min_df": int(self.min_df),
            "df_resid": {str(k): int(v) for k, v in sorted(self.df_resid.items())},
            "n_tests": int(self.n_tests),
        }
        if tests:
            out["tests"] = rows
        return out


# ---------------------------------------------------------------------------------------------- the scan
def _scan_lag(values: np.ndarray, l: int, scale: np.ndarray, symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """F statistics of every ordered pair at one lag order.

    Returns ``num`` and ``den`` of shape (N, N) indexed [follower, leader]: num = SSR_r - SSR_u, den = SSR_u
    (diagonal left at 0).
    """
    n, N = values.shape
    m = n - l  # observations of this lag order's regressions
    d = m - l - 1  # dimension of the restricted design's orthogonal complement
    # lag tensor: T[:, k, j-1] = symbol k lagged j days (j = 1..l), T[:, k, l] = symbol k at t
    T = np.empty((m, N, l + 1))
    for j in range(1, l + 1):
        T[:, :, j - 1] = values[l - j : n - j]
    T[:, :, l] = values[l:]
    # Work in coordinates of the orthogonal complement when it is small (large l), else project in R^m.
    use_complement = d <= 0.8 * m
    num = np.zeros((N, N))
    den = np.zeros((N, N))
    ssr_r = np.empty(N)
    Z = np.empty((m, l + 1))
    Z[:, l] = 1.0
    for i in range(N):  # i = the follower Y whose restricted design is factored
        Z[:, :l] = T[:, i, :l]
        y = T[:, i, l]
        if use_complement:
            Qc = np.linalg.qr(Z, mode="complete")[0][:, l + 1 :]  # (m, d) basis of design's complement
            ey = Qc.T @ y
        else:
            Q = np.linalg.qr(Z)[0]  # (m, l+1)
            ey = y - Q @ (Q.T @ y)
        ssr_r[i] = ey @ ey
        if ssr_r[i] <= (1e-13 * scale[i]) ** 2 * m:
            raise DataError(
                f"granger: {symbols[i]} is fitted exactly by its own {l} lags "
                f"(rule: a perfect fit leaves no residual to test)"
            )
        k = N - 1 - i  # leaders X with index > i
        if k == 0:
            continue
        B = T[:, i + 1 :, :].reshape(m, k * (l + 1))
        W = Qc.T @ B if use_complement else B - Q @ (Q.T @ B)  # residualised on Y's design (FWL)
        rows = W.shape[0]
        A = np.empty((k, rows, l + 2))  # per X: [X lags~ | X_t~ | Y_t~]
        A[:, :, : l + 1] = W.reshape(rows, k, l + 1).transpose(1, 0, 2)
        A[:, :, l + 1] = ey
        # R of each pair: the upper triangle of numpy's raw (transposed) reflector array, (l+2)-square since
        # rows >= l + 2 by the df guard; copied C-ordered so that the sums below see numpy's mode="r" layout (the
        # same LAPACK call and the same p-values, bit for bit, without building the triangular copy)
        R = np.ascontiguousarray(np.linalg.qr(A, mode="raw")[0].transpose(0, 2, 1)[:, : l + 2, :])
        diag = np.abs(np.diagonal(R[:, :l, :l], axis1=1, axis2=2))  # (k, l)
        collinear = diag.min(axis=1) <= _COLLINEAR_RTOL * scale[i + 1 :] * np.sqrt(m)
        if collinear.any():
            j = i + 1 + int(np.argmax(collinear))
            raise DataError(
                f"granger: the lags of {symbols[j]} are collinear with those of {symbols[i]} at lag "
                f"order {l} (rule: the unrestricted design must have full rank)"
            )
        cy = R[:, :, l + 1]  # Q^T Y_t~ per X
        num[i, i + 1 :] = np.einsum("kj,kj->k", cy[:, :l], cy[:, :l])  # X -> Y: SSR_r - SSR_u
        den[i, i + 1 :] = np.einsum("kj,kj->k", cy[:, l:], cy[:, l:])  # X -> Y: SSR_u
        den[i + 1 :, i] = R[:, l, l] ** 2  # Y -> X: SSR_u of X on the joint design
    # Y -> X direction: SSR_r of X (own restricted fit) minus its joint-design SSR_u.
    lower = np.tril_indices(N, -1)
    num[lower] = ssr_r[lower[0]] - den[lower]
    np.maximum(num, 0.0, out=num)
    exact = (den <= ((1e-13 * scale) ** 2 * m)[:, None]) & ~np.eye(N, dtype=bool)
    if exact.any():
        f, x = np.argwhere(exact)[0]
        raise DataError(
            f"granger: {symbols[x]} -> {symbols[f]} fits exactly at lag order {l} "
            f"(rule: a perfect fit leaves no residual to test)"
        )
    return num, den


def _scan_common(
    values: np.ndarray, top: int, symbols: list[str], executor=None, block: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """SSR_r - SSR_u and SSR_u of every ordered pair and every lag order 1 .. top on the common rows t = top .. n-1.

    Returns ``num`` and ``den`` of shape (top, N, N) indexed [l - 1, follower, leader] (diagonal 0).

    Method (exact least squares, no approximation):

    * Columns. The unrestricted design of order l, span{1, Y_{t-1..t-l}, X_{t-1..t-l}}, equals span{1, Y_{t-1},
      X_{t-1}, dY_{t-1}, dX_{t-1}, ..., dY_{t-l+1}, dX_{t-l+1}} with d the first difference; the dependent
      Y_t can be replaced by dY_t since Y_{t-1} is in both designs (same residuals). Differences keep the Gram
      matrix well conditioned when the series are price levels; the constant is removed by centring (FWL) and
      every column is scaled to unit norm (spans and F unchanged).
    * Nesting. In the interleaved column order [Y_{t-1}, X_{t-1}, dY_{t-1}, dX_{t-1}, ...] the designs of
      l = 1, 2, ... are the leading 2 l columns, so one Cholesky factor C of the Gram matrix of [design | dY_t]
      gives every order: SSR_u(l) = G_yy - sum_{k < 2 l} C[y, k]^2. The restricted SSR_r(l) comes the same way
      from the follower's own columns [Y_{t-1}, dY_{t-1}, ...] (one factor per series).
    * Both directions at once. The nested designs of X -> Y and Y -> X are the same spans, so one Cholesky
      factor of the (2 top + 2)-square Gram matrix of [design | dY_t | dX_t] gives both: its row dY_t serves
      X -> Y and its row dX_t (whose entries left of the two dependent columns do not depend on dY_t) serves
      Y -> X. One factorisation per *unordered* pair.
    * Batching. The Gram matrix of every pair is a shuffle of three blocks of the per-series lag matrices: the
      two series' own Gram matrices (computed once per series) and their cross block, formed for one series
      against all later ones with one matrix product. Each pair's factor is LAPACK ``dpotrf`` in place on a
      reused buffer of ``_PAIR_CHUNK`` pairs (small enough to stay in cache). Memory is O(N top^2) per task
      plus the (top, N, N) outputs, never N x N x top^2.
    * Parallel: with an ``executor`` (:class:`volts.core.parallel.Executor`) each task is a block of ``block`` series
      (each paired with every later one; blocks balanced by pair count), the lag tensor being scattered once.
      Same arithmetic either way.
    """
    n, N = values.shape
    L = top
    m = n - L
    # A[:, k, 0] = s_{t-1}; A[:, k, j] = ds_{t-j} (j = 1 .. L-1); A[:, k, L] = ds_t; rows t = L .. n-1
    diff = np.diff(values, axis=0)  # diff[u-1] = s_u - s_{u-1}
    A = np.empty((m, N, L + 1))
    A[:, :, 0] = values[L - 1 : n - 1]
    for j in range(1, L):
        A[:, :, j] = diff[L - j - 1 : n - j - 1]
    A[:, :, L] = diff[L - 1 :]
    A -= A.mean(axis=0)
    norms = np.sqrt(np.einsum("mkj,mkj->kj", A, A))
    if (norms[:, :L] <= 0).any() or (norms[:, L] <= 0).any():
        k = int(np.argwhere(norms <= 0)[0][0])
        raise DataError(
            f"granger: {symbols[k]} is constant on the common sample (rule: a constant series cannot be tested)"
        )
    A /= norms
    At = np.ascontiguousarray(A.transpose(1, 2, 0))  # (N, L+1, m)
    own = np.matmul(At, At.transpose(0, 2, 1))  # (N, L+1, L+1) per-series Gram
    # restricted fits: [Y_{t-1}, dY_{t-1} .. dY_{t-L+1} | dY_t], nested, one factor per series
    ssr_r = np.empty((N, L))
    for i in range(N):
        try:
            cr = np.linalg.cholesky(own[i])
        except np.linalg.LinAlgError:
            raise DataError(
                f"granger: {symbols[i]} is fitted exactly by its own {L} lags on the common sample "
                f"(rule: a perfect fit leaves no residual to test)"
            ) from None
        ssr_r[i] = own[i, L, L] - np.cumsum(cr[L, :L] ** 2)  # l = 1 .. L
    num = np.zeros((L, N, N))
    den = np.zeros((L, N, N))
    # blocks of series balanced by pair count: series i is paired with the N - 1 - i later ones, so i and N-1-i
    # together always make N - 1 pairs
    order = [k for a, b in zip(range(N // 2), range(N - 1, N // 2 - 1, -1)) for k in (a, b)]
    if N % 2:
        order.append(N // 2)
    blocks = [order[k : k + block] for k in range(0, N, block)]
    if executor is None:
        results = ((b, _common_pairs(b, A=A, own=own, ssr_r=ssr_r, symbols=symbols)) for b in blocks)
    else:  # one task per block of series; the lag tensor is scattered once
        results = executor.map(
            _common_pairs, blocks, label="granger series", A=A, own=own, ssr_r=ssr_r, symbols=symbols
        )
    for rows, parts in results:
        for i, (num_f, den_f, num_b, den_b) in zip(rows, parts):
            num[:, i, i + 1 :] = num_f  # leader j > i -> follower i
            den[:, i, i + 1 :] = den_f
            num[:, i + 1 :, i] = num_b  # leader i -> follower j > i
            den[:, i + 1 :, i] = den_b
    return num, den


def _fill_pair_gram(V: np.ndarray, own_i: np.ndarray, own_j: np.ndarray, cross: np.ndarray) -> None:
    """Fill the joint Gram matrix of series i and j in the interleaved order [i_0, j_0, i_1, j_1, ...].

    ``V`` is the matrix (or a stack of them) viewed as (..., L+1, 2, L+1, 2): [column, i/j, column, i/j];
    ``cross[a, b]`` = <column a of i, column b of j>.
    """
    V[..., :, 0, :, 0] = own_i
    V[..., :, 1, :, 1] = own_j
    V[..., :, 0, :, 1] = cross
    V[..., :, 1, :, 0] = np.swapaxes(cross, -1, -2)


#: Pairs per ``dpotrf`` buffer in :func:`_common_pairs` (0.8 MB at 47 lag orders; 6 .. 16 measured alike, 48+ slower).
_PAIR_CHUNK = 12


def _common_pairs(
    rows: list[int], *, A: np.ndarray, own: np.ndarray, ssr_r: np.ndarray, symbols: list[str]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Both directions of the pairs (i, j > i) for each series i of ``rows`` (a picklable task of
    :func:`_scan_common`).

    Returns, per i, ``(num_f, den_f, num_b, den_b)`` of shape (L, N - 1 - i): ``_f`` for j -> i (follower i),
    ``_b`` for i -> j (follower j).
    """
    from scipy.linalg.lapack import dpotrf

    m, N, L1 = A.shape
    L = L1 - 1
    p = 2 * L1  # [Y_0, X_0, Y_1, X_1, ..., dY_t, dX_t]
    flat = A.reshape(m, N * L1)
    buf = np.empty((_PAIR_CHUNK, p, p))
    out = []
    for i in rows:
        K = N - 1 - i
        num_f = np.empty((L, K))
        den_f = np.empty((L, K))
        num_b = np.empty((L, K))
        den_b = np.empty((L, K))
        if K == 0:
            out.append((num_f, den_f, num_b, den_b))
            continue
        # cross[k, a, b] = <col a of series i, col b of series i + 1 + k>
        cross = (A[:, i, :].T @ flat[:, (i + 1) * L1 :]).reshape(L1, K, L1).transpose(1, 0, 2)
        for k0 in range(0, K, _PAIR_CHUNK):
            c = min(_PAIR_CHUNK, K - k0)
            G = buf[:c]
            _fill_pair_gram(G.reshape(c, L1, 2, L1, 2), own[i], own[i + 1 + k0 : i + 1 + k0 + c], cross[k0 : k0 + c])
            yj_row = {}  # pairs whose dX_t row had to be recomputed
            for k in range(c):
                # G[k] is symmetric: its transpose is a Fortran-ordered view of the same memory, factored in
                # place; the lower triangle of G[k] then holds the lower Cholesky factor
                _, info = dpotrf(G[k].T, lower=0, clean=0, overwrite_a=1)
                if info:
                    j = i + 1 + k0 + k
                    yj_row[k] = _common_pair_failed(info, i, j, own, cross[k0 + k], L, symbols)
            proj_i = np.cumsum(G[:, p - 2, : p - 2] ** 2, axis=1)[:, 1::2]  # (c, L): l = 1 .. L
            rows_j = G[:, p - 1, : p - 2]
            if yj_row:
                rows_j = rows_j.copy()
                for k, row in yj_row.items():
                    rows_j[k] = row
            proj_j = np.cumsum(rows_j**2, axis=1)[:, 1::2]
            ssr_i = own[i, L, L] - proj_i  # j -> i
            ssr_j = own[i + 1 + k0 : i + 1 + k0 + c, L, L][:, None] - proj_j  # i -> j
            for ssr, lead, foll in ((ssr_i, "j", "i"), (ssr_j, "i", "j")):
                if (ssr <= 1e-13).any():
                    k, l = np.argwhere(ssr <= 1e-13)[0]
                    names = {"i": symbols[i], "j": symbols[i + 1 + k0 + k]}
                    raise DataError(
                        f"granger: {names[lead]} -> {names[foll]} fits exactly at lag order {l + 1} "
                        f"(rule: a perfect fit leaves no residual to test)"
                    )
            num_f[:, k0 : k0 + c] = np.maximum(ssr_r[i][:, None] - ssr_i.T, 0.0)
            den_f[:, k0 : k0 + c] = ssr_i.T
            num_b[:, k0 : k0 + c] = np.maximum(ssr_r[i + 1 + k0 : i + 1 + k0 + c].T - ssr_j.T, 0.0)
            den_b[:, k0 : k0 + c] = ssr_j.T
        out.append((num_f, den_f, num_b, den_b))
    return out


def _common_pair_failed(
    info: int, i: int, j: int, own: np.ndarray, cross: np.ndarray, L: int, symbols: list[str]
) -> np.ndarray:
    """A pair whose joint factorisation stopped at pivot ``info`` (1-based): raise, or return dX_t's row.

    Pivots 1 .. 2L are the design (collinear lags), 2L + 1 is dY_t (X -> Y fits exactly). Pivot 2L + 2 only says
    that dX_t is fitted exactly by the design *and dY_t*; the Y -> X test does not use dY_t, so its row is
    recomputed from the factor of [design | dX_t] alone.
    """
    L1 = L + 1
    if info <= 2 * L:
        raise DataError(
            f"granger: the lags of {symbols[j]} and {symbols[i]} are collinear on the common sample "
            f"up to lag order {L} (rule: the unrestricted design must have full rank)"
        )
    if info == 2 * L + 1:
        raise DataError(
            f"granger: {symbols[j]} -> {symbols[i]} fits exactly on the common sample at lag order "
            f"{L} (rule: a perfect fit leaves no residual to test)"
        )
    G = np.empty((2 * L1, 2 * L1))
    _fill_pair_gram(G.reshape(L1, 2, L1, 2), own[i], own[j], cross)
    keep = np.r_[0 : 2 * L, 2 * L + 1]
    try:
        C = np.linalg.cholesky(G[np.ix_(keep, keep)])
    except np.linalg.LinAlgError:
        raise DataError(
            f"granger: {symbols[i]} -> {symbols[j]} fits exactly on the common sample at lag order "
            f"{L} (rule: a perfect fit leaves no residual to test)"
        ) from None
    return C[2 * L, : 2 * L]


def granger_scan(
    frame: pd.DataFrame,
    *,
    min_lag: int = 2,
    max_lag: int = 48,
    min_df: int = 10,
    sample: str = "per_lag",
    executor=None,
) -> GrangerScan:
    """Granger F-tests (``ssr_ftest``) of every ordered pair of symbols for every lag order in a range.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_dates, N)
        Dates x symbols, N >= 2, no NaN: close prices or log returns (the caller chooses; METHOD.md §4a). Rows in
        time order.
    min_lag, max_lag : int
        Lag orders l = min_lag .. max_lag (trading days; METHOD.md §4a: 2 .. 48, the paper's "window").
    min_df : int
        Lag orders whose unrestricted regression has fewer residual degrees of freedom than this,
        n_dates - l - 2 l - 1 < min_df, are skipped (NaN columns) and listed in ``skipped_lags``.
    sample : {"per_lag", "common"}
        Rows each lag order uses (see Notes).
    executor : volts.core.parallel.Executor, optional
        ``sample="common"`` only: run blocks of series (each paired with all later ones) as tasks (in-process when
        None). Results are identical.

    Returns
    -------
    GrangerScan
        p-values and F statistics per ordered pair (leader, follower) and lag order.

    Raises
    ------
    DataError
        Fewer than 2 symbols, duplicate or non-numeric columns, NaN/inf, a constant series, too few rows for
        ``min_lag`` under the ``min_df`` guard, or an exactly collinear / perfectly fitted regression.
    ValueError
        ``min_lag < 1``, ``max_lag < min_lag``, ``min_df < 1`` or an unknown ``sample``.

    Notes
    -----
    ``sample="per_lag"`` (default, the reference reproduction's convention) is identical to
    ``statsmodels.tsa.stattools.grangercausalitytests(frame[[follower, leader]], [l])[l][0]["ssr_ftest"]``
    for every pair and l, computed in batch (see the module docstring): each lag order l uses the rows
    t = l .. n-1.

    ``sample="common"`` runs every lag order on the same rows t = L .. n-1, L = the largest evaluated lag order
    (the df guard is applied with n_obs = n - L), so the lag orders are compared on one sample, and computes
    all lag orders of a pair from one factorisation (see :func:`_scan_common`); it is what makes a scan of
    hundreds of names take seconds. It equals statsmodels' test on that sample, i.e.
    ``grangercausalitytests(frame[[follower, leader]].iloc[L - l:], [l])``. ``n_obs`` of the result is then
    the common sample's row count plus L.

    Source: Granger (1969); METHOD.md §4a; the paper's §3.3.1.
    """
    if sample not in ("per_lag", "common"):
        raise ValueError(f"granger_scan: sample must be 'per_lag' or 'common', got {sample!r}")
    if min_lag < 1 or max_lag < min_lag or min_df < 1:
        raise ValueError(
            f"granger_scan: need 1 <= min_lag <= max_lag and min_df >= 1 "
            f"(got min_lag={min_lag}, max_lag={max_lag}, min_df={min_df})"
        )
    values = _check_frame(frame, what="granger")
    n, N = values.shape
    symbols = [str(c) for c in frame.columns]
    start, end = _date_str(frame.index[0]), _date_str(frame.index[-1])
    lags = list(range(int(min_lag), int(max_lag) + 1))
    df_of = {l: n - l - 2 * l - 1 for l in lags}
    if sample == "common":
        # the largest L whose regression on rows L .. n-1 keeps min_df residual df; every l uses those rows
        top = max((l for l in lags if n - l - 2 * l - 1 >= min_df), default=None)
        df_of = {l: (n - top - 2 * l - 1 if top is not None and l <= top else -1) for l in lags}
    evaluated = [l for l in lags if df_of[l] >= min_df]
    skipped = tuple(l for l in lags if df_of[l] < min_df)
    if not evaluated:
        need = 3 * min_lag + 1 + min_df
        raise DataError(
            f"granger: {n} rows from {start} to {end} are too few for lag order {min_lag} "
            f"(rule: n - 3 l - 1 >= min_df={min_df} needs at least {need} rows); lower "
            f"granger.min_lag or granger.min_df, or use a longer training window (windows.train_start)"
        )
    scale = values.std(axis=0)

    leaders_idx, followers_idx = np.nonzero(~np.eye(N, dtype=bool))  # leader-major row order
    F = np.full((N * (N - 1), len(lags)), np.nan)
    P = np.full_like(F, np.nan)
    if sample == "common":
        top = max(evaluated)
        pick = (followers_idx, leaders_idx)
        num_all, den_all = _scan_common(values, top, symbols, executor)  # (top, N, N) [l-1, follower, leader]
        for c, l in enumerate(lags):
            if df_of[l] < min_df:
                continue
            df_u = df_of[l]
            F[:, c] = (num_all[l - 1][pick] / l) / (den_all[l - 1][pick] / df_u)
            P[:, c] = special.fdtrc(l, df_u, F[:, c])  # = scipy.stats.f.sf, without its checks
        lags_loop: list[int] = []
    else:
        lags_loop = lags
    for c, l in enumerate(lags_loop):
        if df_of[l] < min_df:
            continue
        num, den = _scan_lag(values, l, scale, symbols)
        df_u = df_of[l]
        pick = (followers_idx, leaders_idx)  # num/den are indexed [follower, leader]
        F[:, c] = (num[pick] / l) / (den[pick] / df_u)
        P[:, c] = special.fdtrc(l, df_u, F[:, c])  # = scipy.stats.f.sf, without its checks
    index = pd.MultiIndex.from_arrays(
        [[symbols[i] for i in leaders_idx], [symbols[j] for j in followers_idx]], names=["leader", "follower"]
    )
    columns = pd.Index(lags, name="lag")
    return GrangerScan(
        pvalues=pd.DataFrame(P, index=index, columns=columns),
        fstats=pd.DataFrame(F, index=index, columns=columns),
        df_resid={l: int(df_of[l]) for l in evaluated},
        skipped_lags=skipped,
        n_obs=int(n),
        n_tests=int(N * (N - 1) * len(evaluated)),
        symbols=tuple(symbols),
        min_df=int(min_df),
        start=start,
        end=end,
    )


# names of this module before it was split, served from their new modules
__getattr__ = _moved_names(
    __name__,
    {
        **dict.fromkeys(("adf_check", "_adf_pvalue", "stationarity_warning"), "volts.selection.causality.stationarity"),
        **dict.fromkeys(
            ("GrangerTest", "GrangerSelection", "_bh_adjust", "select_granger_pairs"),
            "volts.selection.causality.granger_select",
        ),
    },
)
