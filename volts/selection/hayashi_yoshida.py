"""Hayashi-Yoshida lead-lag estimation for asynchronously observed prices (bars of any size or raw ticks).

Two log-price paths are observed at their own times, ``X`` at ``s_0 < s_1 < ... < s_n`` and ``Y`` at
``t_0 < t_1 < ... < t_m``, with increments ``dX_i = X(s_i) - X(s_{i-1})`` on ``I_i = (s_{i-1}, s_i]`` and
``dY_j`` on ``J_j = (t_{j-1}, t_j]``.

* **Hayashi-Yoshida covariance** (Hayashi & Yoshida 2005, "On covariance estimation of non-synchronously observed
  diffusion processes", Bernoulli 11(2), eq. 1.4): ``HY = sum_i sum_j dX_i dY_j 1{I_i n J_j != 0}`` -- every pair
  of increments whose intervals overlap, no interpolation, no common grid.
* **Shifted contrast** (Hoffmann, Rosenbaum & Yoshida 2013, "Estimation of the lead-lag parameter from
  non-synchronous data", Bernoulli 19(2), eqs. 2-4): the leader's clock is moved forward by ``theta``,

      U(theta) = sum_i sum_j dX_i dY_j 1{(I_i + theta) n J_j != 0},

  so ``theta > 0`` pairs the leader's move over ``(s_{i-1}, s_i]`` with the follower's move ``theta`` later.
  The lead-lag estimator is ``theta_hat = argmax_{theta in G} |U(theta)|`` over a finite grid ``G``; if
  ``(X_t, Y_{t + theta0})`` is a semimartingale, ``theta_hat -> theta0``. ``theta_hat > 0``: X leads Y.
* **HY correlation**: ``rho(theta) = U(theta) / sqrt(sum_i dX_i^2 sum_j dY_j^2)`` (realised variances of the
  whole paths; Huth & Abergel 2014 use the same normalisation).
* **Lead-lag ratio** (Huth & Abergel 2014, "High frequency lead/lag relationships -- Empirical facts", J. Empirical
  Finance 26, Sect. 3.2): ``LLR = sum_{theta in G, theta > 0} rho(theta)^2 / sum_{theta in G, theta < 0}
  rho(theta)^2``; ``LLR > 1``: X leads Y. Swapping the pair gives ``1 / LLR``.

The shift convention matches the ``lead-lag`` package of P. Remy (Y's intervals moved back by ``k``, ``k > 0``
when the first series leads), whose LLR sums |contrasts| rather than squared correlations.

Computation. For one X-interval ``(a, b]`` the overlapping Y-intervals are a contiguous run ``j = lo..hi`` with
``lo = #{t_k <= a}`` (first ``t_j > a``) and ``hi = #{t_k < b}`` (last ``t_{j-1} < b``), clipped to ``1..m``; their
increments telescope to ``Y(t_hi) - Y(t_{lo-1})``. So ``U(theta) = sum_i dX_i (Y[hi_i] - Y[lo_i - 1])`` with
``lo, hi`` from two ``np.searchsorted`` of the sorted shifted X-times into the Y-times: O((n + m) log m) per shift,
O(n + m) memory, no sort. Intervals are half-open, so two intervals that only share an end point do not overlap;
on a common equally spaced clock ``U(k * step)`` is exactly ``sum_i dX_i dY_{i+k}``.

Test of no dependence (:func:`hy_test`). Under ``H0``: the leader's increments are independent of the follower
(zero-mean, uncorrelated across intervals given the observation times), ``U(theta) = sum_i dX_i Ytilde_i`` with
``Ytilde_i = Y[hi_i] - Y[lo_i - 1]`` has conditional variance ``sum_i Var(dX_i) Ytilde_i^2``, estimated by
``V(theta) = sum_i dX_i^2 Ytilde_i^2`` (a heteroskedasticity-robust, White-type variance; a self-normalised sum).
``z(theta) = U(theta) / sqrt(V(theta))`` is asymptotically N(0, 1) at each shift, and the p-value of
``max_theta |z(theta)|`` is Bonferroni over the ``K`` shifts: ``p = min(1, K * 2 * (1 - Phi(max |z|)))``
(conservative: neighbouring shifts are positively correlated). Negatively autocorrelated increments (bid-ask
bounce) make ``V`` larger than the variance, so the test stays conservative under microstructure noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from volts.core.errors import DataError

__all__ = [
    "HYLeadLag",
    "hy_contrast",
    "hy_correlation",
    "hy_covariance",
    "hy_lead_lag",
    "hy_lead_lag_matrix",
    "hy_test",
    "lead_lag_ratio",
    "shift_grid",
]


def _times(times) -> np.ndarray:
    """Observation times as float64; datetime64 / pandas timestamps become seconds since 1970-01-01 UTC."""
    arr = np.asarray(times)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
    if arr.dtype == object and arr.size and hasattr(arr.flat[0], "value"):  # pandas Timestamps (tz-aware)
        return np.array([v.value for v in arr.reshape(-1)], dtype=np.float64) / 1e9
    return np.asarray(arr, dtype=np.float64)


def _path(times, prices, what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        t = _times(times).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{what}: timestamps must be numbers or datetimes, got {np.asarray(times).dtype}") from None
    x = np.asarray(prices, dtype=np.float64).reshape(-1)
    if t.shape != x.shape:
        raise DataError(f"{what}: {t.size} timestamps but {x.size} prices (rule: one price per timestamp)")
    if t.size < 2:
        raise DataError(f"{what}: {t.size} observation(s); at least 2 are needed for one increment")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(x))):
        k = int(np.flatnonzero(~(np.isfinite(t) & np.isfinite(x)))[0])
        raise DataError(f"{what}: NaN/inf at observation {k} (time {t[k]}, price {x[k]}); drop missing ticks first")
    d = np.diff(t)
    if np.any(d <= 0):
        k = int(np.flatnonzero(d <= 0)[0])
        raise DataError(
            f"{what}: timestamps must increase strictly; observation {k + 1} (time {t[k + 1]}) does "
            f"not come after {t[k]} (sort, and merge ticks with equal timestamps keeping the last)"
        )
    return t, x


def shift_grid(max_shift: float, step: float) -> np.ndarray:
    """The symmetric shift grid ``-max_shift, ..., 0, ..., max_shift`` in steps of ``step`` (time units of the
    observation times), computed as ``step * k`` for integer ``k`` so 0 is exactly on it."""
    if not (step > 0 and max_shift >= 0):
        raise ValueError(f"shift grid: need step > 0 and max_shift >= 0, got step={step}, max_shift={max_shift}")
    k = int(np.floor(max_shift / step + 1e-9))
    return step * np.arange(-k, k + 1, dtype=np.float64)


def _ytilde_one(s: np.ndarray, t: np.ndarray, y: np.ndarray, theta: float) -> np.ndarray:
    """``Ytilde[i] = sum of dY_j over the Y-intervals overlapping (s_{i-1}, s_i] + theta``, shape (n,)."""
    q = s + theta
    right = np.searchsorted(t, q, side="right")  # #{t <= q}
    # #{t < q} without a second search: the times are strictly increasing, so at most one t equals q
    # (right = 0 means q < t[0] <= t[-1], so the wrapped index never matches)
    left = right - (t[right - 1] == q)
    lo = np.maximum(right[:-1], 1)  # first Y-interval with t_j > s_{i-1} + theta
    hi = np.minimum(left[1:], t.size - 1)  # last Y-interval with t_{j-1} < s_i + theta
    return y[hi] - y[lo - 1]  # hi >= lo - 1 always (see the module docstring)


def _accumulate(s, x, t, y, thetas, *, variance: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``U(theta)`` and (when ``variance``) ``V(theta) = sum_i dX_i^2 Ytilde_i^2`` for each shift."""
    dx = np.diff(x)
    dx2 = dx * dx if variance else None
    u = np.empty(thetas.size)
    v = np.empty(thetas.size) if variance else None
    for k, th in enumerate(thetas):
        yt = _ytilde_one(s, t, y, float(th))
        u[k] = yt @ dx
        if variance:
            v[k] = (yt * yt) @ dx2
    return u, v


def hy_contrast(leader_times, leader_prices, follower_times, follower_prices, thetas) -> np.ndarray:
    """The shifted Hayashi-Yoshida cross-covariance ``U(theta)`` over a grid of shifts.

    ``U(theta) = sum_i sum_j dX_i dY_j 1{(I_i + theta) n J_j != 0}`` (Hoffmann, Rosenbaum & Yoshida 2013, eqs.
    2-4); ``theta > 0`` pairs the leader's move with the follower's move ``theta`` later.

    Parameters
    ----------
    leader_times, follower_times : array_like, shapes (n + 1,), (m + 1,)
        Strictly increasing observation times: numbers in any unit (seconds, bar numbers, ...), or datetimes
        (``datetime64``, a ``pandas.DatetimeIndex``, tz-aware or not), which are taken as float seconds since
        1970-01-01 UTC (resolution about 0.25 microsecond today); the shifts are then in seconds.
    leader_prices, follower_prices : array_like of float
        Log prices at those times.
    thetas : array_like of float, shape (K,)
        Shifts, in the unit of the times.

    Returns
    -------
    numpy.ndarray, shape (K,)
        ``U(theta)`` in (log-price units)^2. O((n + m) log m) per shift.

    Raises
    ------
    DataError
        Mismatched lengths, fewer than 2 observations, NaN/inf, or times that do not increase strictly.
    """
    s, x = _path(leader_times, leader_prices, "leader")
    t, y = _path(follower_times, follower_prices, "follower")
    thetas = np.atleast_1d(np.asarray(thetas, dtype=np.float64))
    return _accumulate(s, x, t, y, thetas, variance=False)[0]


def hy_covariance(times_x, prices_x, times_y, prices_y) -> float:
    """The Hayashi-Yoshida (2005) covariance of two asynchronously observed log-price paths (``U(0)``).

    On a common clock it equals the realised covariance ``sum_i dX_i dY_i``. See :func:`hy_contrast`.
    """
    return float(hy_contrast(times_x, prices_x, times_y, prices_y, [0.0])[0])


def hy_correlation(leader_times, leader_prices, follower_times, follower_prices, thetas) -> np.ndarray:
    """HY correlation ``rho(theta) = U(theta) / sqrt(sum dX_i^2 sum dY_j^2)`` over a grid of shifts, shape (K,).

    Normalised by the realised variances of the whole paths (Huth & Abergel 2014, Sect. 3.2). Arguments as
    :func:`hy_contrast`. A path with zero realised variance gives NaN.
    """
    u = hy_contrast(leader_times, leader_prices, follower_times, follower_prices, thetas)
    rv = float(
        np.sum(np.diff(np.asarray(leader_prices, float)) ** 2)
        * np.sum(np.diff(np.asarray(follower_prices, float)) ** 2)
    )
    return u / np.sqrt(rv) if rv > 0 else np.full_like(u, np.nan)


def lead_lag_ratio(rho: np.ndarray, thetas: np.ndarray) -> float:
    """Huth & Abergel's (2014) lead-lag ratio ``sum_{theta > 0} rho^2 / sum_{theta < 0} rho^2``.

    Parameters
    ----------
    rho : numpy.ndarray, shape (K,) or (..., K)
        HY correlations (or covariances: the ratio does not depend on the normalisation).
    thetas : numpy.ndarray, shape (K,)

    Returns
    -------
    float or numpy.ndarray
        > 1 when the leader leads; NaN when the negative-shift sum is 0 (inf when only it is 0).
    """
    rho = np.asarray(rho, dtype=np.float64)
    thetas = np.asarray(thetas, dtype=np.float64)
    pos = np.sum(rho[..., thetas > 0] ** 2, axis=-1)
    neg = np.sum(rho[..., thetas < 0] ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pos / neg


@dataclass(frozen=True)
class HYLeadLag:
    """Result of :func:`hy_lead_lag` for one ordered pair (leader, follower).

    Attributes
    ----------
    thetas : numpy.ndarray, shape (K,)
        The shift grid (time units of the input).
    contrast : numpy.ndarray, shape (K,)
        ``U(theta)``.
    correlation : numpy.ndarray, shape (K,)
        ``rho(theta)``.
    z : numpy.ndarray, shape (K,)
        ``U(theta) / sqrt(V(theta))`` (the module docstring's test statistic).
    theta_hat : float
        ``argmax |U(theta)|`` (first on ties); > 0: the leader leads.
    llr : float
        Lead-lag ratio; > 1: the leader leads.
    p : float
        Bonferroni p-value of ``max |z|`` (no dependence at any shift of the grid).
    """

    thetas: np.ndarray
    contrast: np.ndarray
    correlation: np.ndarray
    z: np.ndarray
    theta_hat: float
    llr: float
    p: float

    @property
    def rho_hat(self) -> float:
        """HY correlation at ``theta_hat``."""
        return float(self.correlation[int(np.argmax(np.abs(self.contrast)))])


def _stats(s, x, t, y, thetas):
    u, v = _accumulate(s, x, t, y, thetas, variance=True)
    rv = float(np.sum(np.diff(x) ** 2) * np.sum(np.diff(y) ** 2))
    rho = u / np.sqrt(rv) if rv > 0 else np.full_like(u, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(v > 0, u / np.sqrt(v), 0.0)
    return u, rho, z


def _bonferroni(z: np.ndarray) -> np.ndarray:
    """Two-sided Bonferroni p-value of max |z| over the last axis."""
    zmax = np.max(np.abs(z), axis=-1)
    return np.minimum(1.0, z.shape[-1] * 2.0 * ndtr(-zmax))


def hy_test(leader_times, leader_prices, follower_times, follower_prices, thetas) -> tuple[np.ndarray, float]:
    """Test of no dependence between leader and follower at every shift of the grid.

    Returns ``(z, p)``: ``z(theta) = U(theta) / sqrt(sum_i dX_i^2 Ytilde_i(theta)^2)``, shape (K,), and the
    Bonferroni p-value of ``max |z|`` (see the module docstring for the null and why it is conservative).
    Arguments as :func:`hy_contrast`.
    """
    s, x = _path(leader_times, leader_prices, "leader")
    t, y = _path(follower_times, follower_prices, "follower")
    _, _, z = _stats(s, x, t, y, np.atleast_1d(np.asarray(thetas, dtype=np.float64)))
    return z, float(_bonferroni(z))


def hy_lead_lag(leader_times, leader_prices, follower_times, follower_prices, thetas) -> HYLeadLag:
    """Hoffmann-Rosenbaum-Yoshida lead-lag estimate, lead-lag ratio and test for one ordered pair.

    Parameters
    ----------
    leader_times, leader_prices, follower_times, follower_prices, thetas :
        As :func:`hy_contrast`; the grid should be symmetric around 0 for the LLR to be meaningful.

    Returns
    -------
    HYLeadLag
    """
    s, x = _path(leader_times, leader_prices, "leader")
    t, y = _path(follower_times, follower_prices, "follower")
    thetas = np.atleast_1d(np.asarray(thetas, dtype=np.float64))
    u, rho, z = _stats(s, x, t, y, thetas)
    return HYLeadLag(
        thetas=thetas,
        contrast=u,
        correlation=rho,
        z=z,
        theta_hat=float(thetas[np.argmax(np.abs(u))]),
        llr=float(lead_lag_ratio(rho, thetas)),
        p=float(_bonferroni(z)),
    )


def hy_lead_lag_matrix(
    paths: Mapping[str, tuple[Sequence[float], Sequence[float]]] | Sequence,
    thetas,
    *,
    names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Lead-lag statistics of every ordered pair of N asynchronously observed assets.

    Each unordered pair is computed once: ``U_ji(theta) = U_ij(-theta)``, so with a grid symmetric around 0 the
    reverse direction is the reversed contrast (``theta_hat_ji = -theta_hat_ij``, ``LLR_ji = 1 / LLR_ij``). The
    p-value of the reverse direction uses the follower's increments in the variance, so it is computed too.

    Parameters
    ----------
    paths : mapping of name to (times, log_prices), or a sequence of (times, log_prices)
        One path per asset (times strictly increasing, common unit).
    thetas : array_like of float, shape (K,)
        Shift grid; must be symmetric around 0 (``thetas == -thetas[::-1]``).
    names : sequence of str, optional
        Names for a sequence input (default ``"0", "1", ...``).

    Returns
    -------
    dict of str to numpy.ndarray
        ``names`` (N,), ``thetas`` (K,), and (N, N) matrices indexed [leader, follower] with NaN on the
        diagonal: ``theta_hat``, ``llr``, ``rho_hat`` (HY correlation at theta_hat), ``p``; and ``correlation``
        (N, N, K).

    Raises
    ------
    ValueError
        A grid that is not symmetric around 0.
    DataError
        A malformed path (named in the message).
    """
    if isinstance(paths, Mapping):
        names = [str(k) for k in paths]
        items = list(paths.values())
    else:
        items = list(paths)
        names = [str(k) for k in (names if names is not None else range(len(items)))]
    thetas = np.atleast_1d(np.asarray(thetas, dtype=np.float64))
    if not np.allclose(thetas, -thetas[::-1], rtol=0, atol=1e-12 * max(1.0, float(np.max(np.abs(thetas))))):
        raise ValueError("hy_lead_lag_matrix: the shift grid must be symmetric around 0 (use shift_grid)")
    data = [_path(tm, px, f"asset {name}") for name, (tm, px) in zip(names, items)]
    n, K = len(data), thetas.size
    corr = np.full((n, n, K), np.nan)
    theta_hat = np.full((n, n), np.nan)
    p = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i + 1, n):
            (s, x), (t, y) = data[i], data[j]
            u, rho, z = _stats(s, x, t, y, thetas)
            corr[i, j], corr[j, i] = rho, rho[::-1]
            theta_hat[i, j] = thetas[np.argmax(np.abs(u))]
            theta_hat[j, i] = thetas[np.argmax(np.abs(u[::-1]))]  # U_ji(theta) = U_ij(-theta)
            p[i, j] = _bonferroni(z)
            p[j, i] = _bonferroni(_stats(t, y, s, x, thetas)[2])
    with np.errstate(invalid="ignore"):
        llr = lead_lag_ratio(corr, thetas)
        idx = np.argmax(np.abs(np.nan_to_num(corr)), axis=-1)
        rho_hat = np.take_along_axis(corr, idx[..., None], axis=-1)[..., 0]
    np.fill_diagonal(llr, np.nan)
    return {
        "names": np.array(names),
        "thetas": thetas,
        "theta_hat": theta_hat,
        "llr": llr,
        "rho_hat": rho_hat,
        "p": p,
        "correlation": corr,
    }
