"""Hermitian random-walk clustering of a lead-lag matrix, the meta-flow between clusters and leadingness.

Seed 003 (Bennett, Cucuringu & Reinert 2022, Sect. 3.3-3.4, after Cucuringu, Li, Sun & Zanetti 2020), read for
implementers in LITERATURE.md 003.3-003.5:

1. From the skew-symmetric lead-lag matrix S (S_ij > 0 <=> i leads j; see :mod:`volts.selection.leadlag`) form the
   Hermitian matrix ``H = i S``.
2. Random-walk normalisation, done the principled way: with the degrees ``D_ii = sum_j |S_ij|`` (zero degrees
   replaced by the smallest positive one) take the *Hermitian* ``D^{-1/2} H D^{-1/2}`` -- similar to the
   random-walk matrix ``D^{-1} H``, so it has the same eigenvalues -- and map its eigenvectors v to the
   random-walk eigenvectors ``D^{-1/2} v``, each rescaled to unit norm. (The authors' code calls ``eigh`` on the
   non-Hermitian ``D^{-1} H``, which silently reads one triangle only and so depends on the order of the nodes;
   that quirk is not reproduced.)
3. Eigenvalues come in +/- pairs; take the ``l = k - k mod 2`` eigenvectors of largest |lambda| (the authors'
   code; at least 2), form ``P = sum g g^*`` and run k-means with k clusters on the rows of Re(P).
4. Meta-flow ``F_ab = mean_{l in C_a, m in C_b} S_lm`` (skew-symmetric) and leadingness
   ``L(a) = mean_{l in C_a} sum_m S_lm``; clusters are relabelled by descending leadingness, so label 0 is the
   most leading cluster and k-1 the most lagging (the code's ``get_ordered_clustering``).
5. With the names given, steps 2-4 run on the matrix sorted by name and the labels are mapped back, so that a
   name's label does not depend on the order the names are listed in (volts' addition; the seeded k-means
   otherwise starts from row positions).

Also here: the naive symmetrisation baseline (spectral clustering on |S|) and DI-SIM co-clustering
(Rohe, Qin & Yu 2016) used in the seed-003 comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from sklearn.cluster import KMeans

__all__ = [
    "LeadLagClusters",
    "hermitian_rw_embedding",
    "hermitian_clustering",
    "naive_clustering",
    "disim_clustering",
    "meta_flow",
    "leadingness",
    "order_clusters",
    "cluster_lead_lag",
    "CLUSTER_METHODS",
    "leading_pairs",
    "hermitian_candidates",
    "canonical_order",
]

#: Clustering methods of the seed-003 comparison implemented here.
CLUSTER_METHODS: tuple[str, ...] = ("hermitian_rw", "naive", "disim_l")


def _check_s(s) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"lead-lag matrix must be square, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("lead-lag matrix contains NaN or infinite values")
    if not np.allclose(s, -s.T, atol=1e-9 * max(1.0, float(np.abs(s).max(initial=0.0)))):
        raise ValueError("lead-lag matrix must be skew-symmetric (S_ij = -S_ji)")
    return s


def _kmeans(x: np.ndarray, k: int, n_init: int, seed: int) -> np.ndarray:
    if k < 1 or k > x.shape[0]:
        raise ValueError(f"number of clusters k={k} must be in 1..{x.shape[0]} (the number of series)")
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)


def hermitian_rw_embedding(s, k: int) -> np.ndarray:
    """Random-walk normalised eigenvectors of ``i S``: complex array of shape (N, l), ``l = max(2, k - k % 2)``.

    Columns have unit Euclidean norm and are ordered by |eigenvalue|, largest first. The spectrum of the purely
    imaginary Hermitian matrix is symmetric (lambda, -lambda with conjugate eigenvectors), so only the l/2 largest
    positive eigenpairs are computed (LAPACK ``evr`` on a subset) and the conjugates complete the set.
    """
    from scipy.linalg import eigh

    s = _check_s(s)
    n = s.shape[0]
    deg = np.abs(s).sum(axis=1)
    pos = deg[deg > 0]
    deg = np.where(deg > 0, deg, pos.min() if pos.size else 1.0)
    d = 1.0 / np.sqrt(deg)
    h = 1j * (d[:, None] * s * d[None, :])  # Hermitian: conj(h).T = -i d S^T d = i d S d
    half = max(1, min(k - k % 2, n) // 2)
    vals, vecs = eigh(h, subset_by_index=[n - half, n - 1], driver="evr")
    vecs = vecs[:, np.argsort(-vals, kind="stable")]
    g = (
        d[:, None]
        * np.concatenate([vecs, vecs.conj()], axis=1)[:, np.repeat(np.arange(half), 2) + np.tile([0, half], half)]
    )
    norms = np.linalg.norm(g, axis=0)
    return g / np.where(norms > 0, norms, 1.0)


def hermitian_clustering(
    s, k: int, *, n_init: int = 50, seed: int = 0, embedding: Literal["auto", "projection", "eigenvectors"] = "auto"
) -> np.ndarray:
    """Hermitian RW clustering (labels 0..k-1 in k-means order; see :func:`order_clusters`), shape (N,).

    ``embedding``: ``"projection"`` runs k-means on the rows of Re(P), P = sum g g^* (N x N; the authors' code);
    ``"eigenvectors"`` on the rows of [Re g, Im g] of the l/2 leading positive eigenvectors (N x l; the paper's
    remark for large N -- the same geometry up to the normalisation of the eigenvectors); ``"auto"`` = projection
    up to 200 series, eigenvectors above.
    """
    g = hermitian_rw_embedding(s, k)
    if embedding == "auto":
        embedding = "projection" if g.shape[0] <= 200 else "eigenvectors"
    if embedding == "projection":
        x = (g @ g.conj().T).real
    else:
        half = g[:, ::2]
        x = np.concatenate([half.real, half.imag], axis=1)
    return _kmeans(x, k, n_init, seed)


def naive_clustering(s, k: int, *, n_init: int = 50, seed: int = 0) -> np.ndarray:
    """Spectral clustering of the symmetrised graph |S| (random-walk Laplacian; first eigenvector dropped)."""
    w = np.abs(_check_s(s))
    deg = w.sum(1)
    pos = deg[deg > 0]
    deg = np.where(deg > 0, deg, pos.min() if pos.size else 1.0)
    d = 1.0 / np.sqrt(deg)
    vals, vecs = np.linalg.eigh(d[:, None] * w * d[None, :])  # I - L_sym has the same eigenvectors
    order = np.argsort(-vals, kind="stable")[1 : k + 1] if k + 1 <= len(vals) else np.argsort(-vals)[:k]
    emb = d[:, None] * vecs[:, order]  # random-walk eigenvectors
    return _kmeans(emb, k, n_init, seed)


def disim_clustering(
    s, k: int, *, side: Literal["left", "right"] = "left", n_init: int = 50, seed: int = 0
) -> np.ndarray:
    """DI-SIM co-clustering (Rohe, Qin & Yu 2016) of ``A = max(S, 0)``; regulariser tau = mean row sum of A."""
    a = np.clip(_check_s(s), 0.0, None)
    tau = a.sum(1).mean()
    lap = a / np.sqrt(np.outer(a.sum(1) + tau, a.sum(0) + tau)) if tau > 0 else a
    u, _, vt = np.linalg.svd(lap)
    emb = (u[:, :k] if side == "left" else vt[:k].T).copy()
    norms = np.linalg.norm(emb, axis=1)
    pos = norms[norms > 0]
    norms = np.where(norms > 0, norms, pos.min() if pos.size else 1.0)
    return _kmeans(emb / norms[:, None], k, n_init, seed)


def meta_flow(s, labels: Sequence[int]) -> np.ndarray:
    """Seed 003 eq. 4: ``F[a, b] = mean_{l in C_a, m in C_b} S[l, m]`` for a != b, F[a, a] = 0; shape (k, k)."""
    s = np.asarray(s, dtype=float)
    labels = np.asarray(labels)
    ks = np.unique(labels)
    onehot = (labels[:, None] == ks[None, :]).astype(float)
    sizes = onehot.sum(0)
    f = onehot.T @ s @ onehot / np.outer(sizes, sizes)
    np.fill_diagonal(f, 0.0)
    return f


def leadingness(s, labels: Sequence[int]) -> np.ndarray:
    """``L(a) = mean over members of cluster a of their row sum of S`` (shape (k,), in label order)."""
    s = np.asarray(s, dtype=float)
    labels = np.asarray(labels)
    row = s.sum(1)
    return np.array([row[labels == c].mean() for c in np.unique(labels)])


def order_clusters(s, labels: Sequence[int]) -> np.ndarray:
    """Relabel so that 0 is the most leading cluster (largest leadingness) and k-1 the most lagging."""
    labels = np.asarray(labels)
    ks = np.unique(labels)
    rank = np.argsort(-leadingness(s, labels), kind="stable")
    new = np.empty(len(ks), dtype=int)
    new[rank] = np.arange(len(ks))
    return new[np.searchsorted(ks, labels)]


@dataclass(frozen=True)
class LeadLagClusters:
    """Clusters of a lead-lag matrix ordered by leadingness.

    Attributes
    ----------
    symbols : tuple[str, ...]
    labels : numpy.ndarray, shape (N,)
        0 = most leading cluster.
    flow : numpy.ndarray, shape (k, k)
        Meta-flow F (skew-symmetric; F[a, b] > 0 <=> cluster a leads cluster b on average).
    leadingness : numpy.ndarray, shape (k,)
        Descending by construction.
    row_sum : numpy.ndarray, shape (N,)
        Individual leadingness (row sums of S, the "RowSum" ranking).
    method : str
    """

    symbols: tuple[str, ...]
    labels: np.ndarray
    flow: np.ndarray
    leadingness: np.ndarray
    row_sum: np.ndarray
    method: str

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "clusters": {sym: int(c) for sym, c in zip(self.symbols, self.labels)},
            "leadingness": [float(x) for x in self.leadingness],
            "meta_flow": [[float(x) for x in row] for row in self.flow],
            "row_sum": {sym: float(x) for sym, x in zip(self.symbols, self.row_sum)},
        }


def canonical_order(symbols: Sequence[str]) -> np.ndarray:
    """Positions that sort ``symbols`` by name (a stable argsort): the order the clustering works in.

    k-means is seeded, but its starting centres are drawn by row position, so the labels of the same matrix
    with its names listed in another order could differ; working in name order makes them a function of the
    (name -> row) data only.
    """
    return np.argsort(np.asarray([str(x) for x in symbols], dtype=object), kind="stable")


def cluster_lead_lag(
    s, k: int, *, symbols: Sequence[str] | None = None, method: str = "hermitian_rw", n_init: int = 50, seed: int = 0
) -> LeadLagClusters:
    """Cluster a lead-lag matrix and order the clusters by leadingness (see the module docstring).

    With ``symbols`` the clustering runs on the matrix with its rows and columns sorted by name
    (:func:`canonical_order`) and the results are mapped back to the order given: every name gets the same label
    whatever the order of the names (the seeded k-means starts by row position). Without ``symbols`` the rows'
    order is the canonical one.
    """
    s = _check_s(s)
    fns = {
        "hermitian_rw": hermitian_clustering,
        "naive": naive_clustering,
        "disim_l": lambda x, kk, **kw: disim_clustering(x, kk, side="left", **kw),
        "disim_r": lambda x, kk, **kw: disim_clustering(x, kk, side="right", **kw),
    }
    if method not in fns:
        raise ValueError(f"unknown clustering method '{method}'; choose one of {', '.join(fns)}")
    syms = tuple(symbols) if symbols is not None else tuple(str(i) for i in range(s.shape[0]))
    if len(syms) != s.shape[0]:
        raise ValueError(f"{len(syms)} symbols for a {s.shape[0]} x {s.shape[0]} matrix")
    order = canonical_order(syms) if symbols is not None else np.arange(s.shape[0])
    sc = s[np.ix_(order, order)]
    lab = order_clusters(sc, fns[method](sc, k, n_init=n_init, seed=seed))
    labels, row_sum = np.empty_like(lab), np.empty(len(lab))
    labels[order], row_sum[order] = lab, sc.sum(1)
    return LeadLagClusters(
        symbols=syms,
        labels=labels,
        flow=meta_flow(sc, lab),
        leadingness=leadingness(sc, lab),
        row_sum=row_sum,
        method=method,
    )


def leading_pairs(clusters: LeadLagClusters) -> list[tuple[str, str]]:
    """Ordered candidate pairs (leader, follower) whose leader's cluster leads the follower's (F[a, b] > 0)."""
    out = []
    lab = clusters.labels
    for i, a in enumerate(clusters.symbols):
        for j, b in enumerate(clusters.symbols):
            if lab[i] != lab[j] and clusters.flow[lab[i], lab[j]] > 0:
                out.append((a, b))
    return out


def hermitian_candidates(returns, settings) -> tuple[LeadLagClusters, list[tuple[str, str]]]:
    """The ``[clustering] method = "hermitian"`` stage: cluster the universe's lead-lag matrix, return the pairs.

    Parameters
    ----------
    returns : pandas.DataFrame, shape (T, N)
        Log returns of the universe over the clustering window (no NaN).
    settings : volts.core.config.Settings
        ``clustering.hermitian_metric``, ``hermitian_max_lag``, ``hermitian_k``, ``n_init``, ``random_state``.

    Returns
    -------
    (LeadLagClusters, list of (leader, follower))
        Ordered candidate pairs from a leading cluster to a lagging one (meta-flow F[a, b] > 0).

    Raises
    ------
    volts.core.errors.DataError
        Fewer symbols than clusters, or missing values in the window.
    """
    from volts.core.errors import DataError
    from volts.selection.leadlag import lead_lag_matrix

    c = settings.clustering
    symbols = [str(x) for x in returns.columns]
    if returns.isna().to_numpy().any():
        raise DataError(
            "hermitian clustering: the clustering window's log returns hold NaN; fill or drop the gaps first"
        )
    if len(symbols) < c.hermitian_k:
        raise DataError(
            f"hermitian clustering: {len(symbols)} symbols for clustering.hermitian_k = "
            f"{c.hermitian_k}; lower hermitian_k or widen the universe"
        )
    # the matrix of the names in canonical order, then back to the order given (a permutation, no arithmetic):
    # the clustering sees the same numbers whatever the order of the columns
    order = canonical_order(symbols)
    back = np.argsort(order)
    sc = lead_lag_matrix(returns.iloc[:, order].to_numpy(), c.hermitian_metric, max_lag=c.hermitian_max_lag)
    s = sc[np.ix_(back, back)]
    res = cluster_lead_lag(s, c.hermitian_k, symbols=symbols, n_init=max(10, c.n_init), seed=c.random_state)
    return res, leading_pairs(res)
