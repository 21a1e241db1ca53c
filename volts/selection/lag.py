"""Lag selection with DTW and k-nearest neighbours (METHOD.md §5; the paper's §3.3.4 and §4.1.3).

For a leader X, a follower Y and a candidate lag tau, sample t has as features the leader's daily % changes over
the ``window`` (w) trading days ending at t - tau, and as target 1 if the follower's % change on day t is > 0, else
0. A k-nearest-neighbour classifier with the dynamic time warping (DTW) distance predicts the target; each tau is
scored by its out-of-sample accuracy under time-ordered cross-validation, and the chosen lag tau* is the argmax
(ties: the smaller tau).

Implementation choices (see also the notes of :func:`choose_lag`):

* **No tslearn on the hot path.** METHOD.md names ``tslearn.neighbors.KNeighborsTimeSeriesClassifier(
  metric="dtw")``. tslearn compiles its DTW with numba on the first call in every process (about 5 s here, plus
  about 1.5 s to import it), which alone breaks the 5 s budget of ``volts select``. For short series exact DTW is
  a w x w dynamic programme; :func:`dtw_cdist` runs it vectorised over all pairs of samples in numpy with the same
  floating-point operations in the same order as tslearn (squared difference, plus the minimum of the three
  predecessors, square root at the end), so the distances are bit-identical. :func:`knn_predict` then performs
  the vote exactly as ``sklearn.neighbors.KNeighborsClassifier(metric="precomputed")`` does - which is what
  tslearn's classifier runs once it has its distance matrix: the k nearest are the first k entries of
  ``numpy.argpartition(d, k - 1)`` on the same matrix, so ties among equal distances are broken identically in
  both (numpy's introselect order, not necessarily the earlier sample). The tests check distances and
  predictions against tslearn on real returns. tslearn is not imported by this module.
* **One sample set for every tau.** Every candidate lag is scored on the same target days (those with a full
  feature window at the largest candidate lag), so accuracies differ only through the lag of the features.
* **Time order.** A sample's features are dated t - tau - w + 1 .. t - tau, strictly before its target day t;
  each fold trains only on samples whose target days precede every target day of its test block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from volts.core.errors import DataError

__all__ = [
    "LagChoice",
    "LagSamples",
    "choose_lag",
    "dtw_cdist",
    "dtw_path",
    "knn_predict",
    "lag_samples",
    "percent_changes",
    "time_series_folds",
]


# --------------------------------------------------------------------------------------------------- DTW
def dtw_cdist(
    a: np.ndarray, b: np.ndarray | None = None, *, sakoe_chiba_radius: int | None = None, block: int = 512
) -> np.ndarray:
    """Exact DTW distances between two sets of short univariate series, vectorised over all pairs.

    DTW(s, q) = sqrt(min over warping paths pi of sum_{(i, j) in pi} (s_i - q_j)^2), the paper's eq. for DTW and
    ``tslearn.metrics.cdist_dtw``'s definition (boundary conditions: the path starts at (0, 0) and ends at the
    last elements of both series; steps (1, 0), (0, 1), (1, 1)).

    Parameters
    ----------
    a : numpy.ndarray, shape (n_a, w_a)
        One series per row (e.g. daily % changes).
    b : numpy.ndarray, shape (n_b, w_b), optional
        Second set; ``None`` means ``a`` (the diagonal is then computed too and is exactly 0).
    sakoe_chiba_radius : int, optional
        Restrict the path to |i - j| <= radius (needs w_a == w_b); ``None`` = unconstrained (the default, as in
        tslearn's ``metric="dtw"``). Radius 0 gives the Euclidean distance.
    block : int
        Rows of ``a`` processed at once (bounds memory at about 3 * block * n_b * w_b floats).

    Returns
    -------
    numpy.ndarray, shape (n_a, n_b)
        DTW distances, in the units of the series. Bit-identical to ``tslearn.metrics.cdist_dtw`` (same
        operations in the same order).

    Raises
    ------
    ValueError
        On arrays that are not 2-D, hold NaN, or a radius with unequal lengths.
    """
    a = np.asarray(a, dtype=np.float64)
    b = a if b is None else np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("dtw_cdist expects 2-D arrays of shape (n_series, length)")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("dtw_cdist: series hold NaN")
    wa, wb = a.shape[1], b.shape[1]
    if sakoe_chiba_radius is not None and wa != wb:
        raise ValueError("dtw_cdist: a Sakoe-Chiba band needs series of equal length")
    out = np.empty((a.shape[0], b.shape[0]))
    for start in range(0, a.shape[0], block):
        out[start : start + block] = _dtw_block(a[start : start + block], b, sakoe_chiba_radius)
    return out


def _dtw_block(a: np.ndarray, b: np.ndarray, radius: int | None) -> np.ndarray:
    wa, wb = a.shape[1], b.shape[1]
    shape = (a.shape[0], b.shape[0])
    inf = np.full(shape, np.inf)
    prev = [inf] * wb  # accumulated cost of row i-1, one (n_a, n_b) array per column j
    for i in range(wa):
        row = []
        ai = a[:, i][:, None]
        for j in range(wb):
            if radius is not None and abs(i - j) > radius:
                row.append(inf)
                continue
            diff = ai - b[:, j][None, :]
            cost = diff * diff
            if i == 0 and j == 0:
                acc = cost
            else:
                up = prev[j]
                left = row[j - 1] if j > 0 else inf
                diag = prev[j - 1] if (i > 0 and j > 0) else inf
                acc = cost + np.minimum(np.minimum(up, left), diag)
            row.append(acc)
        prev = row
    return np.sqrt(prev[wb - 1])


def dtw_path(s: np.ndarray, q: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """DTW distance and optimal warping path between two univariate series (for the alignment diagnostics).

    The accumulated-cost matrix is filled one anti-diagonal at a time (vectorised); the path is traced back from
    the end choosing, among (i-1, j-1), (i-1, j), (i, j-1), the first minimum in that order, as
    ``tslearn.metrics.dtw_path`` does.

    Parameters
    ----------
    s, q : numpy.ndarray, shape (n,) and (m,)
        The two series (any units; same units for both).

    Returns
    -------
    distance : float
        sqrt of the minimal accumulated squared difference.
    path : list of (int, int)
        Index pairs (i into ``s``, j into ``q``) from (0, 0) to (n - 1, m - 1).
    """
    s = np.asarray(s, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    n, m = len(s), len(q)
    if n == 0 or m == 0:
        raise ValueError("dtw_path: empty series")
    cost = s[:, None] - q[None, :]
    cost = cost * cost
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):  # cells (i, j) of acc, 1-based, with i + j = d
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        acc[i, j] = cost[i - 1, j - 1] + np.minimum(np.minimum(acc[i - 1, j], acc[i, j - 1]), acc[i - 1, j - 1])
    acc = acc[1:, 1:]
    path = [(n - 1, m - 1)]
    i, j = n - 1, m - 1
    while (i, j) != (0, 0):
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            k = int(np.argmin([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]]))
            if k == 0:
                i, j = i - 1, j - 1
            elif k == 1:
                i -= 1
            else:
                j -= 1
        path.append((i, j))
    return float(np.sqrt(acc[-1, -1])), path[::-1]


# ----------------------------------------------------------------------------------------------- samples
def percent_changes(close: pd.Series, name: str | None = None) -> pd.Series:
    """Daily % changes 100 * (C_t / C_{t-1} - 1) of a close series; the first date is dropped.

    Parameters
    ----------
    close : pandas.Series, shape (n_dates,)
        Close prices (> 0), indexed by trading dates.
    name : str, optional
        Symbol used in error messages (default: ``close.name``).

    Returns
    -------
    pandas.Series, shape (n_dates - 1,)
        Percent changes (5.0 means +5 %).

    Raises
    ------
    DataError
        NaN or non-positive prices, naming the symbol and the first offending date.
    """
    name = name or str(close.name)
    values = close.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        day = close.index[int(np.argmax(bad))]
        raise DataError(f"{name}: close on {_iso(day)} is not a positive number (lag selection needs prices > 0)")
    out = 100.0 * (close / close.shift(1) - 1.0)
    return out.iloc[1:]


@dataclass(frozen=True, eq=False)
class LagSamples:
    """The KNN samples of one candidate lag (METHOD.md §5).

    Attributes
    ----------
    tau : int
        Candidate lag in trading days.
    X : numpy.ndarray, shape (n_samples, window)
        Leader's daily % changes on days t - tau - window + 1 .. t - tau (oldest first).
    y : numpy.ndarray of int, shape (n_samples,)
        1 if the follower's % change on day t is > 0, else 0.
    target_dates : pandas.DatetimeIndex, shape (n_samples,)
        Day t of each sample (ascending).
    feature_dates : numpy.ndarray of datetime64, shape (n_samples, window)
        The dates of the leader's % changes in ``X``.
    """

    tau: int
    X: np.ndarray
    y: np.ndarray
    target_dates: pd.DatetimeIndex
    feature_dates: np.ndarray


def lag_samples(
    leader_close: pd.Series, follower_close: pd.Series, *, tau: int, window: int = 5, max_lag: int = 10
) -> LagSamples:
    """Build the samples of one candidate lag; the target days are those with a full window at ``max_lag``.

    Parameters
    ----------
    leader_close, follower_close : pandas.Series, shape (n_dates,)
        Close prices on the same trading dates (the training window).
    tau : int
        Candidate lag, 1 <= tau <= max_lag.
    window : int
        w, the number of leader % changes per sample.
    max_lag : int
        Largest candidate lag; fixes the common first target day so every tau is scored on the same days.

    Returns
    -------
    LagSamples

    Raises
    ------
    DataError
        Misaligned dates, bad prices, or too few days for one sample.
    """
    if not 1 <= tau <= max_lag:
        raise ValueError(f"tau must be in 1..max_lag={max_lag}, got {tau}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    lead, foll = _aligned_changes(leader_close, follower_close)
    return _samples_from_changes(lead, foll, tau=tau, window=window, max_lag=max_lag)


def _samples_from_changes(lead: pd.Series, foll: pd.Series, *, tau: int, window: int, max_lag: int) -> LagSamples:
    """:func:`lag_samples` from the aligned % changes (computed once per pair by :func:`choose_lag`)."""
    first = max_lag + window - 1  # first target position with a full window at max_lag
    n = len(lead)
    if n <= first:
        raise DataError(
            f"{lead.name}->{foll.name}: {n} daily changes from {_iso(lead.index[0])} leave no sample "
            f"with a {window}-day window at lag {max_lag}"
        )
    targets = np.arange(first, n)
    cols = targets[:, None] - tau - (window - 1) + np.arange(window)[None, :]
    x = lead.to_numpy()[cols]
    y = (foll.to_numpy()[targets] > 0).astype(np.int64)
    return LagSamples(
        tau=tau, X=x, y=y, target_dates=pd.DatetimeIndex(lead.index[targets]), feature_dates=lead.index.to_numpy()[cols]
    )


def time_series_folds(n_samples: int, cv_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Time-ordered cross-validation folds (``sklearn.model_selection.TimeSeriesSplit``, never shuffled).

    Parameters
    ----------
    n_samples : int
        Number of samples, in time order.
    cv_splits : int
        Number of folds.

    Returns
    -------
    list of (train_idx, test_idx)
        Each training set holds only samples before every sample of its test set.
    """
    from sklearn.model_selection import TimeSeriesSplit

    return list(TimeSeriesSplit(n_splits=cv_splits).split(np.arange(n_samples)))


def knn_predict(d_query: np.ndarray, y_train: np.ndarray, neighbors: int = 7) -> np.ndarray:
    """Majority vote of the k nearest training samples, given a precomputed distance matrix.

    Reproduces ``sklearn.neighbors.KNeighborsClassifier(n_neighbors=k, metric="precomputed",
    weights="uniform").fit(., y_train).predict(d_query)``, which is also what tslearn's
    ``KNeighborsTimeSeriesClassifier`` runs once it has its DTW matrix: the k nearest are the first k columns of
    ``numpy.argpartition(d_query, k - 1, axis=1)`` (so ties among equal distances are broken exactly as there), and
    a tied vote goes to the smallest class label. Written in numpy because scikit-learn's per-call validation
    costs about 100 times more than the vote itself on matrices of this size.

    Parameters
    ----------
    d_query : numpy.ndarray, shape (n_query, n_train)
        Distances from each query sample to each training sample.
    y_train : numpy.ndarray, shape (n_train,)
        Class labels of the training samples.
    neighbors : int
        k; must not exceed n_train.

    Returns
    -------
    numpy.ndarray, shape (n_query,)
        Predicted labels.
    """
    return _vote(_nearest(d_query, neighbors), y_train)


def _nearest(d_query: np.ndarray, neighbors: int) -> np.ndarray:
    """Column indices of the k nearest training samples of each query row (:func:`knn_predict`'s first half)."""
    d_query = np.asarray(d_query, dtype=np.float64)
    if not 1 <= neighbors <= d_query.shape[1]:
        raise ValueError(f"k={neighbors} neighbours need at least {neighbors} training samples, got {d_query.shape[1]}")
    return np.argpartition(d_query, neighbors - 1, axis=1)[:, :neighbors]


def _vote(nearest: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Majority vote of the labels at ``nearest`` (:func:`knn_predict`'s second half)."""
    classes, codes = np.unique(np.asarray(y_train), return_inverse=True)
    votes = codes[nearest]
    counts = np.stack([(votes == c).sum(axis=1) for c in range(len(classes))], axis=1)
    return classes[np.argmax(counts, axis=1)]  # first maximum = smallest label on a tied vote


# ------------------------------------------------------------------------------------------------ choice
@dataclass(frozen=True)
class LagChoice:
    """Result of :func:`choose_lag` for one ordered pair.

    Attributes
    ----------
    leader, follower : str
    lag : int
        Chosen lag tau* in trading days.
    lags : tuple of int
        Candidate lags, ascending.
    accuracy_oos : dict of int to float
        tau -> out-of-sample accuracy (mean over the time-ordered folds; fraction).
    accuracy_oos_std : dict of int to float
        tau -> standard deviation of the fold accuracies.
    accuracy_in_sample : dict of int to float
        tau -> accuracy of the classifier fitted on all samples and scored on the same samples (each sample
        counts as its own nearest neighbour, as with tslearn's ``fit(X).predict(X)``).
    knn_accuracy : float
        ``accuracy_oos`` at tau*.
    dtw_distance : float
        DTW distance between the z-scored leader and follower close-price paths over the window.
    dtw_median_offset : float
        Median of j - i over the DTW warping path (i: leader day, j: follower day); > 0 means the follower's
        matching day tends to come later, i.e. the follower lags.
    n_samples : int
        Samples per candidate lag.
    window, neighbors, cv_splits : int
        Settings used.
    start, end : str
        First and last target date (ISO).
    folds : tuple of (str, str, str, str)
        Per cross-validation fold: first and last training target date, first and last test target date (ISO).
    """

    leader: str
    follower: str
    lag: int
    lags: tuple[int, ...]
    accuracy_oos: dict[int, float]
    accuracy_oos_std: dict[int, float]
    accuracy_in_sample: dict[int, float]
    knn_accuracy: float
    dtw_distance: float
    dtw_median_offset: float
    n_samples: int
    window: int
    neighbors: int
    cv_splits: int
    start: str
    end: str
    folds: tuple[tuple[str, str, str, str], ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready plain Python (the per-lag accuracies as {"tau": value} with string keys)."""
        return {
            "leader": self.leader,
            "follower": self.follower,
            "lag": int(self.lag),
            "knn_accuracy": float(self.knn_accuracy),
            "lags": [int(t) for t in self.lags],
            "accuracy_oos": {str(t): float(v) for t, v in self.accuracy_oos.items()},
            "accuracy_oos_std": {str(t): float(v) for t, v in self.accuracy_oos_std.items()},
            "accuracy_in_sample": {str(t): float(v) for t, v in self.accuracy_in_sample.items()},
            "dtw_distance": float(self.dtw_distance),
            "dtw_median_offset": float(self.dtw_median_offset),
            "n_samples": int(self.n_samples),
            "window": int(self.window),
            "neighbors": int(self.neighbors),
            "cv_splits": int(self.cv_splits),
            "start": self.start,
            "end": self.end,
            "folds": [{"train_start": a, "train_end": b, "test_start": c, "test_end": d} for a, b, c, d in self.folds],
        }


#: Self-distance matrices of lag samples by the samples' bytes. The windows depend on the leader's closes only
#: (the follower contributes the labels), so when several pairs share a leader -- every pair of a week's
#: candidates in an unscreened walk-forward row -- the DTW matrix (one for every tau, see choose_lag) is computed
#: once per leader.
#: A pure function of its key; bounded (oldest first out), per process, by count and by bytes: on hourly bars a
#: 30-day window gives matrices of about 4 MB each, and 256 of them kept a walk-forward worker above 2 GB.
_SELF_DTW_MEMO: dict[tuple, np.ndarray] = {}
_SELF_DTW_MEMO_SIZE = 256
_SELF_DTW_MEMO_BYTES = 128 * 2**20


def _self_dtw(x: np.ndarray) -> np.ndarray:
    """``dtw_cdist(x)`` through :data:`_SELF_DTW_MEMO` (read-only result)."""
    return _self_dtw_keyed(x)[1]


def _self_dtw_keyed(x: np.ndarray) -> tuple[tuple, np.ndarray]:
    """:func:`_self_dtw` and its memo key (the windows' shape and SHA-256)."""
    import hashlib

    x = np.ascontiguousarray(x, dtype=np.float64)
    key = (x.shape, hashlib.sha256(x.tobytes()).hexdigest())
    hit = _SELF_DTW_MEMO.get(key)
    if hit is not None:
        return key, hit
    d = dtw_cdist(x)
    d.setflags(write=False)
    while _SELF_DTW_MEMO and (
        len(_SELF_DTW_MEMO) >= _SELF_DTW_MEMO_SIZE
        or sum(v.nbytes for v in _SELF_DTW_MEMO.values()) + d.nbytes > _SELF_DTW_MEMO_BYTES
    ):
        _SELF_DTW_MEMO.pop(next(iter(_SELF_DTW_MEMO)))
    _SELF_DTW_MEMO[key] = d
    return key, d


#: The k-NN neighbour sets of every tau and fold, by (DTW memo key, first window of each tau, folds, k). Like the
#: DTW matrix they depend on the leader's windows only (the follower gives the labels, which only vote), so the
#: pairs of one leader share them. A pure function of its key; bounded (oldest first out) by count and bytes, per
#: process.
_NEAREST_MEMO: dict[tuple, list] = {}
_NEAREST_MEMO_SIZE = 256
_NEAREST_MEMO_BYTES = 64 * 2**20
_NEAREST_BYTES: dict[tuple, int] = {}


def _nbytes(obj) -> int:
    """Bytes of the arrays in a nested list/tuple (the neighbour sets)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(o) for o in obj)
    return 0


def _neighbour_sets(key: tuple, d_all: np.ndarray, offsets: list[int], n_samples: int, folds, neighbors: int):
    """For each tau (its first window ``o`` in the union): the nearest-neighbour indices of every fold's test
    samples among its training samples, and of every sample among all (the in-sample fit)."""
    memo_key = (key, tuple(offsets), n_samples, tuple((len(tr), len(te)) for tr, te in folds), neighbors)
    hit = _NEAREST_MEMO.get(memo_key)
    if hit is not None:
        return hit
    out = []
    for o in offsets:
        d = d_all[o : o + n_samples, o : o + n_samples]
        out.append(([_nearest(d[np.ix_(test, train)], neighbors) for train, test in folds], _nearest(d, neighbors)))
    size = _nbytes(out)
    while _NEAREST_MEMO and (
        len(_NEAREST_MEMO) >= _NEAREST_MEMO_SIZE or sum(_NEAREST_BYTES.values()) + size > _NEAREST_MEMO_BYTES
    ):
        old = next(iter(_NEAREST_MEMO))
        _NEAREST_MEMO.pop(old)
        _NEAREST_BYTES.pop(old, None)
    _NEAREST_MEMO[memo_key] = out
    _NEAREST_BYTES[memo_key] = size
    return out


def choose_lag(
    leader_close: pd.Series,
    follower_close: pd.Series,
    *,
    min_lag: int = 1,
    max_lag: int = 10,
    window: int = 5,
    neighbors: int = 7,
    cv_splits: int = 5,
    diagnostics: bool = True,
) -> LagChoice:
    """Choose the trading lag of a leader -> follower pair with DTW + k-NN (METHOD.md §5).

    For each tau in ``min_lag .. max_lag`` the samples of :func:`lag_samples` are scored by
    ``TimeSeriesSplit(cv_splits)``: the classifier is fitted on the earlier samples of each fold and scored on
    its test block; the out-of-sample accuracy is the mean over folds (``TimeSeriesSplit`` test blocks have equal
    size, so this equals the pooled accuracy). tau* is the lag with the highest out-of-sample accuracy, ties to
    the smaller lag. The in-sample accuracy fits on all samples and scores the same samples; each sample is then
    its own nearest neighbour (distance 0, one of the k votes), which is what ``fit(X, y).predict(X)`` does in
    tslearn and scikit-learn and what the paper apparently reported; it is shown beside the out-of-sample
    figure and never used for the choice. The alignment diagnostics use the z-scored close-price paths (not
    returns) over the whole window.

    Parameters
    ----------
    leader_close, follower_close : pandas.Series, shape (n_dates,)
        Close prices of the leader X and the follower Y over the training window, on the same trading dates
        (``Series.name`` = symbol).
    min_lag, max_lag : int
        Candidate lags tau, in trading days (paper: 1 .. 10).
    window : int
        w, leader % changes per sample (METHOD.md: 5).
    neighbors : int
        k of the k-NN vote (paper: 7).
    cv_splits : int
        Folds of ``TimeSeriesSplit`` (METHOD.md: 5).
    diagnostics : bool
        Compute the alignment diagnostics (``dtw_distance``, ``dtw_median_offset``: one more DTW path over the
        whole window, for the report). False leaves them NaN; the lag and accuracies do not depend on them.

    Returns
    -------
    LagChoice

    Raises
    ------
    DataError
        Misaligned or bad prices, or too few samples for the folds and k.

    Notes
    -----
    **Planted-lag recovery.** With a w-day window ending at t - tau and a true lag L, every tau in
    L - w + 1 .. L has the informative day X_{t-L} somewhere in its window. DTW pins the first and the last
    elements of both series to each other (its boundary condition) and warps the interior, so the informative
    day is compared one-to-one both at tau = L (last element) and at tau = L - w + 1 (first element), and only
    blurred in between. Measured on synthetic pairs (leader i.i.d. daily changes with sd 2 %, follower
    Y_t = X_{t-L} + noise with sd 1 %, 150 daily changes, 100 draws per L, METHOD.md's other defaults):

    * w = 5 (METHOD.md): tau* = L in 99-100 % of draws for L = 1..4, but 46-50 % for L = 5..10, where tau =
      L - 4 scores the same (mean accuracy 0.79 at both) and wins the rest; with noise sd 2 % (equal to the
      signal): 93-99 % for L = 1..4, 44-54 % for L = 5..10.
    * w = 1 (``lag.window = 1``: the single % change on day t - tau; DTW then equals |x - x'|): 100 % for
      L = 1..10; 98-100 % with noise sd equal to the signal.
    * w = 5 with a "largest lag within one standard error of the best" rule: 73-86 % for L = 5..10, and on pure
      noise it drifts to the largest lags; not offered.

    So METHOD.md's rule recovers lags shorter than the window; ``window = 1`` recovers any lag in the range. The
    choice between them is a configuration decision (``LagSettings.window``).
    """
    if not 1 <= min_lag <= max_lag:
        raise ValueError(f"need 1 <= min_lag <= max_lag, got {min_lag}, {max_lag}")
    if window < 1 or neighbors < 1:
        raise ValueError(f"window and neighbors must be >= 1, got {window}, {neighbors}")
    lags = tuple(range(min_lag, max_lag + 1))
    ln, fn = _names(leader_close, follower_close)
    lead, foll = _aligned_changes(leader_close, follower_close)  # once for every tau
    samples = [_samples_from_changes(lead, foll, tau=tau, window=window, max_lag=max_lag) for tau in lags]
    y, dates = samples[0].y, samples[0].target_dates  # the same target days for every tau
    n_samples = len(y)
    folds = time_series_folds(n_samples, cv_splits) if n_samples > cv_splits else []
    if not folds or len(folds[0][0]) < neighbors:
        raise DataError(
            f"{ln}->{fn}: {n_samples} lag samples from {_iso(dates[0])} to "
            f"{_iso(dates[-1])} are too few for {cv_splits} time-ordered folds with k={neighbors} neighbours "
            f"(window {window}, max lag {max_lag})"
        )

    # The samples of tau + 1 are those of tau one day earlier: sample i of tau + 1 is sample i - 1 of tau. So every
    # tau's DTW matrix is a diagonal block of one matrix over the union of the windows (ends first - max_lag ..
    # n - 1 - min_lag), computed once: the same pairs of windows, the same floats (DTW is computed pair by pair),
    # about (max_lag - min_lag + 1) times less work. It depends on the leader only (shared by its pairs).
    changes = lead.to_numpy()
    first = max_lag + window - 1  # lag_samples' first target position
    ends = np.arange(first - max_lag, len(changes) - min_lag)
    union = changes[ends[:, None] - (window - 1) + np.arange(window)[None, :]]
    key, d_all = _self_dtw_keyed(union)
    # k-NN = nearest-neighbour sets (from the leader's DTW matrix, shared by its pairs) + a vote of the labels
    offsets = [max_lag - smp.tau for smp in samples]  # each tau's first window in the union
    neighbour_sets = _neighbour_sets(key, d_all, offsets, n_samples, folds, neighbors)
    acc_oos, acc_std, acc_in = [], [], []
    for fold_nearest, all_nearest in neighbour_sets:
        fold_acc = []
        for (train, test), nearest in zip(folds, fold_nearest):
            pred = _vote(nearest, y[train])
            fold_acc.append(float(np.mean(pred == y[test])))
        acc_oos.append(float(np.mean(fold_acc)))
        acc_std.append(float(np.std(fold_acc)))
        acc_in.append(float(np.mean(_vote(all_nearest, y) == y)))

    best = int(np.argmax(acc_oos))  # first maximum: ties go to the smaller lag
    dist, offset = _alignment_diagnostics(leader_close, follower_close) if diagnostics else (np.nan, np.nan)
    return LagChoice(
        leader=ln,
        follower=fn,
        lag=lags[best],
        lags=lags,
        accuracy_oos=dict(zip(lags, acc_oos)),
        accuracy_oos_std=dict(zip(lags, acc_std)),
        accuracy_in_sample=dict(zip(lags, acc_in)),
        knn_accuracy=acc_oos[best],
        dtw_distance=dist,
        dtw_median_offset=offset,
        n_samples=int(n_samples),
        window=window,
        neighbors=neighbors,
        cv_splits=cv_splits,
        start=_iso(dates[0]),
        end=_iso(dates[-1]),
        folds=tuple(
            (_iso(dates[tr[0]]), _iso(dates[tr[-1]]), _iso(dates[te[0]]), _iso(dates[te[-1]])) for tr, te in folds
        ),
    )


# --------------------------------------------------------------------------------------------- helpers
def _alignment_diagnostics(leader_close: pd.Series, follower_close: pd.Series) -> tuple[float, float]:
    """DTW distance and median path offset between the z-scored close-price paths."""
    ln, fn = _names(leader_close, follower_close)
    a = _zscore(leader_close.to_numpy(dtype=np.float64), ln, leader_close.index)
    b = _zscore(follower_close.to_numpy(dtype=np.float64), fn, follower_close.index)
    dist, path = dtw_path(a, b)
    p = np.asarray(path)
    return dist, float(np.median(p[:, 1] - p[:, 0]))


def _zscore(x: np.ndarray, name: str, index) -> np.ndarray:
    sd = x.std()
    if not sd > 0:
        raise DataError(
            f"{name}: close is constant from {_iso(index[0])} to {_iso(index[-1])}; "
            f"cannot z-score it for the DTW diagnostic"
        )
    return (x - x.mean()) / sd


def _names(leader_close: pd.Series, follower_close: pd.Series) -> tuple[str, str]:
    return (
        str(leader_close.name) if leader_close.name is not None else "leader",
        str(follower_close.name) if follower_close.name is not None else "follower",
    )


def _aligned_changes(leader_close: pd.Series, follower_close: pd.Series) -> tuple[pd.Series, pd.Series]:
    ln, fn = _names(leader_close, follower_close)
    if not leader_close.index.equals(follower_close.index):
        raise DataError(f"{ln}->{fn}: leader and follower closes are not on the same trading dates")
    lead = percent_changes(leader_close, ln).rename(ln)
    foll = percent_changes(follower_close, fn).rename(fn)
    return lead, foll


def _iso(day) -> str:
    return pd.Timestamp(day).date().isoformat()
