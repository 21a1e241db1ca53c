"""Volatility regimes by a Gaussian mixture on the pooled (stock, day) sample (METHOD.md §3).

Every (stock, day) of the window with a complete estimator window gives one point: the natural log of the
stock's annualised volatility on that day by each estimator (default Parkinson, Garman-Klass, Rogers-Satchell,
Yang-Zhang; see :mod:`volts.selection.volatility`). A ``GaussianMixture`` with three components is fitted to the pooled
points. A stock's regime is the argmax of its mean posterior over its days.

Feature space (``features``): ``"level"`` (volts' default) fits the mixture on one number per (stock, day), the
mean over the estimators of the log volatilities (the log of their geometric mean): the regimes are then bands of
volatility *level*, as in the paper's Figure 3 where the mid cluster is "bounded by the red dashed lines".
``"estimators"`` is METHOD.md §3 as written: the point is the vector of the estimators' log volatilities. The four
estimators are nearly collinear, so a full-covariance mixture in that space spends components on where they
disagree (overnight-gap days: Yang-Zhang high, range estimators not) rather than on level; on the reference data
(2021-11-01 .. 2023-06-08, the paper's ten stocks) it leaves the mid group empty. Both are reported as measured.

Naming the components: a component's *mean volatility* is ``exp`` of the average, over the estimators, of the
component's mean log-volatility (the geometric mean of its centre's annualised volatilities). The components
sorted by it are named low, mid and high. The stocks in mid are the candidates of the causal stage.

Convergence and borderline stocks: EM stops when the change of the mean log-likelihood per point falls below
``tol`` or after ``max_iter`` iterations. scikit-learn's default ``tol = 1e-3`` stops the reference fit after a
handful of iterations, far from the optimum (issue 11), so volts' defaults are tight (``tol = 1e-8``,
``max_iter = 10000``). The result reports the log-likelihood at the end of EM, the iterations the kept
initialisation used and ``converged`` exactly as ``GaussianMixture.converged_`` reports it for that
initialisation (for SQUAREM, below: the same rule, checked at the start of each cycle). A stock's *assignment
margin* is its mean posterior of the assigned regime minus the next largest; a stock whose margin is below
``borderline_margin`` is *borderline*: a small change of seed, sample or ordering may move it, and every report
names it.

Accelerated EM: on these samples EM converges slowly (the components overlap): plain EM at ``tol = 1e-8`` takes
hundreds to thousands of steps on the ten reference names and still stops measurably short of the optimum (on
the 2023-09-29 window its posteriors were 0.05 away from those of EM run to ``tol = 1e-13``). The default
``em_acceleration = "squarem"`` runs the same EM map through SQUAREM (Varadhan & Roland 2008): two EM steps give
a direction and a step length, the extrapolated point is kept only if it is at least as likely, and the result
is a fixed point of the same EM. On five reference windows (full and tied covariance) it took 2-10x fewer EM
steps and stopped 3-37x closer to the optimum; over the 271 weekly windows of the reference walk-forward, 6.2x
fewer steps (the README has the comparison, including the windows where the two reach different local optima).
``"none"`` is plain EM, step for step scikit-learn's (tested against it).

Point order: the pooled points are sorted by (symbol, date) before the fit, so the mixture does not depend on
how the caller's frame happened to be ordered (k-means initialisation picks points by position; date-major and
symbol-major input used to give different regimes).

Sample: the volatility estimators run on the bars passed in, so the first n - 1 days (n days when Yang-Zhang is
used) of the window carry no point — pass the n earlier bars too if the whole window must be covered.
``exclude_dates`` removes those days' points (anomaly days, when ``anomaly.exclude`` is on); the rolling windows
themselves are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from volts.selection import volatility as vol
from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError

__all__ = ["REGIMES", "CLUSTER_ESTIMATORS", "VolatilityClusters", "volatility_points", "cluster_volatility"]

#: Regime names, from the lowest to the highest mean volatility.
REGIMES: tuple[str, ...] = ("low", "mid", "high")
#: Default estimators of the clustering sample.
CLUSTER_ESTIMATORS: tuple[str, ...] = ("parkinson", "garman_klass", "rogers_satchell", "yang_zhang")

_COV_PARAMS = {  # free parameters of one component's covariance, d = dimension
    "full": lambda d: d * (d + 1) // 2,
    "tied": lambda d: 0,
    "diag": lambda d: d,
    "spherical": lambda d: 1,
}


@dataclass(frozen=True)
class VolatilityClusters:
    """Volatility regimes of a universe.

    Attributes
    ----------
    regimes : pandas.Series, shape (n_symbols,)
        Regime ("low", "mid" or "high") of each symbol, in universe order.
    posteriors : pandas.DataFrame, shape (n_symbols, 3)
        Mean posterior probability of each regime over the symbol's days (columns low, mid, high; rows sum to 1).
    component_volatility : pandas.Series, shape (3,)
        Mean annualised volatility of each component (index low, mid, high; ascending): exp of the component's
        mean log-volatility averaged over the estimators.
    component_means : pandas.DataFrame, shape (3, n_estimators)
        exp of each component's mean log-volatility per estimator (annualised volatility at the centre).
    weights : pandas.Series, shape (3,)
        Mixture weights of the components.
    candidates : tuple of str
        Symbols in the mid regime, in universe order.
    estimators : tuple of str
        Estimators whose log-volatilities form a point.
    n_points : int
        Number of pooled (stock, day) points the mixture was fitted on.
    n_excluded : int
        Trading days of the window listed in ``exclude_dates`` (their points, where they had one, are dropped).
    start, end : pandas.Timestamp
        First and last date with a point.
    window : int
        Rolling window n of the estimators (bars).
    random_state : int
        Seed of ``GaussianMixture``.
    covariance_type : str
    n_init : int
    converged : bool
        ``GaussianMixture.converged_`` of the kept initialisation (the best of the ``n_init`` EM runs).
    features : str
        ``"level"`` or ``"estimators"``.
    tol : float
        EM convergence threshold on the change of the mean log-likelihood per point.
    max_iter : int
        Maximum EM iterations per initialisation.
    n_iter : int
        EM iterations of the kept initialisation.
    log_likelihood : float
        Total log-likelihood of the pooled points under the fitted mixture (nats).
    margins : pandas.Series, shape (n_symbols,)
        Assignment margin of each symbol: mean posterior of its regime minus the next largest mean posterior.
    borderline_margin : float
        Margin below which a symbol is borderline.
    em_acceleration : str
        ``"squarem"`` or ``"none"``: how EM was run (``"none"`` whenever scikit-learn fitted the mixture).
    """

    regimes: pd.Series
    posteriors: pd.DataFrame
    component_volatility: pd.Series
    component_means: pd.DataFrame
    weights: pd.Series
    candidates: tuple[str, ...]
    estimators: tuple[str, ...]
    n_points: int
    n_excluded: int
    start: pd.Timestamp
    end: pd.Timestamp
    window: int
    random_state: int
    covariance_type: str
    n_init: int
    converged: bool
    features: str = "level"
    tol: float = 1e-3
    max_iter: int = 100
    n_iter: int = 0
    log_likelihood: float = float("nan")
    margins: pd.Series | None = None
    borderline_margin: float = 0.0
    em_acceleration: str = "none"

    @property
    def borderline(self) -> tuple[str, ...]:
        """Symbols whose assignment margin is below ``borderline_margin``, in universe order."""
        if self.margins is None:
            return ()
        return tuple(str(s) for s, m in self.margins.items() if m < self.borderline_margin)

    @property
    def symbols(self) -> list[str]:
        """Symbols, in universe order."""
        return list(self.regimes.index)

    def members(self, regime: str) -> list[str]:
        """Symbols of one regime, in universe order."""
        if regime not in REGIMES:
            raise KeyError(f"unknown regime {regime!r}; expected one of {REGIMES}")
        return [s for s, r in self.regimes.items() if r == regime]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary. ``volatility_clusters`` is selection.json's {symbol: "low"|"mid"|"high"}."""
        return {
            "volatility_clusters": {str(s): str(r) for s, r in self.regimes.items()},
            "posteriors": {str(s): {c: float(p) for c, p in row.items()} for s, row in self.posteriors.iterrows()},
            "candidates": list(self.candidates),
            "component_volatility": {c: float(v) for c, v in self.component_volatility.items()},
            "component_means": {c: {e: float(v) for e, v in row.items()}
                                for c, row in self.component_means.iterrows()},
            "weights": {c: float(v) for c, v in self.weights.items()},
            "estimators": list(self.estimators),
            "window": int(self.window),
            "start": self.start.date().isoformat(),
            "end": self.end.date().isoformat(),
            "n_points": int(self.n_points),
            "n_excluded": int(self.n_excluded),
            "random_state": int(self.random_state),
            "covariance_type": self.covariance_type,
            "n_init": int(self.n_init),
            "converged": bool(self.converged),
            "features": self.features,
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
            "n_iter": int(self.n_iter),
            "log_likelihood": float(self.log_likelihood),
            "margins": {} if self.margins is None else {str(s): float(m) for s, m in self.margins.items()},
            "borderline_margin": float(self.borderline_margin),
            "borderline": list(self.borderline),
            "em_acceleration": self.em_acceleration,
        }


class _Mixture1D:
    """A fitted one-dimensional Gaussian mixture with the attributes volts reads from ``GaussianMixture``."""

    def __init__(self, weights, means, variances, n_iter, converged, lower_bound):
        self.weights_ = weights
        self.means_ = means[:, None]
        self.variances = variances
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.lower_bound_ = lower_bound

    def _log_joint(self, x: np.ndarray) -> np.ndarray:
        v = self.variances
        return (np.log(self.weights_)[None, :] - 0.5 * (np.log(2 * np.pi * v)[None, :]
                + (x[:, None] - self.means_[:, 0][None, :]) ** 2 / v[None, :]))

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        return _logsumexp_rows(self._log_joint(np.asarray(x, dtype=float).ravel()))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        lj = self._log_joint(np.asarray(x, dtype=float).ravel())
        return np.exp(lj - _logsumexp_rows(lj)[:, None])


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=1)
    return m + np.log(np.exp(a - m[:, None]).sum(axis=1))


def _m_step_1d(x, resp, tied: bool, reg: float = 1e-6):
    nk = resp.sum(axis=0) + 10 * np.finfo(float).eps
    means = resp.T @ x / nk
    if tied:
        var = np.full(len(nk), (np.sum(x * x) - np.sum(nk * means * means)) / nk.sum() + reg)
    else:
        var = (resp * (x[:, None] - means[None, :]) ** 2).sum(axis=0) / nk + reg
    return nk / len(x), means, var


def _fit_mixture_1d(x: np.ndarray, *, n_components: int, covariance_type: str, n_init: int, random_state: int,
                    tol: float, max_iter: int, acceleration: str = "none") -> _Mixture1D:
    """EM for a one-dimensional Gaussian mixture, step for step as ``sklearn.mixture.GaussianMixture``.

    Same k-means initialisations (``KMeans(n_init=1)`` drawing from one ``RandomState(random_state)``), the same
    M-step (``reg_covar = 1e-6`` added to each variance), the same stopping rule (|change of the mean
    log-likelihood| < tol) and the same choice of the best initialisation; in one dimension every covariance type
    but ``"tied"`` is a variance per component. Written out in numpy because scikit-learn's per-iteration overhead
    makes a tight tolerance (hundreds of iterations) cost about a minute on a loaded 2-core machine; the tests check
    that it returns scikit-learn's fit.

    ``acceleration = "squarem"`` runs the same EM map through SQUAREM (Varadhan & Roland 2008, scheme S3 with the
    step-length bounds and the monotonicity fall-back of their R package ``SQUAREM``): each cycle takes two EM
    steps θ1 = F(θ0), θ2 = F(θ1), extrapolates θ' = θ0 + 2αr + α²v (r = θ1 - θ0, v = θ2 - 2θ1 + θ0,
    α = |r| / |v| clipped to [1, step_max]) in the unconstrained coordinates (log weight, mean, log variance), and
    keeps F(θ') when θ' is at least as likely as θ1, else θ2. The stopping rule is plain EM's, applied at the start
    of each cycle: one EM step from θ0 changes the mean log-likelihood by less than ``tol``. The fixed points are
    those of EM; ``n_iter_`` counts EM steps (E + M evaluations), so ``max_iter`` bounds the same work.

    Length: the EM loop with its SQUAREM step, stopping rule and degenerate-component guards kept together, as
    in the reference algorithm (Varadhan and Roland 2008).
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    if acceleration not in ("none", "squarem"):
        raise ConfigError(f"unknown EM acceleration {acceleration!r}; expected 'none' or 'squarem'")
    x = np.asarray(x, dtype=float).ravel()
    rs = np.random.RandomState(random_state)
    tied = covariance_type == "tied"
    k, n = n_components, len(x)
    # Work arrays reused by every iteration; each step below is the same floating-point operation, in the same
    # order, as the plain expressions in the comments (so the fit is bitwise that of the allocating version).
    dev = np.empty((k, n))
    dens = np.empty((k, n))
    total = np.empty(n)
    sum_x2 = np.sum(x * x) if tied else None

    def em_step(w, mu, var):
        """One EM step from (w, mu, var): the M-step's new parameters and the mean log-likelihood at the input."""
        # E-step on densities (cheap); the log-sum-exp path only if every density of a point underflows.
        # dens = exp(-0.5 * d * d / var) * (w / sqrt(2 pi var)),  d = x - mu   (k, n)
        np.subtract(x[None, :], mu[:, None], out=dev)
        np.multiply(-0.5, dev, out=dens)
        np.multiply(dens, dev, out=dens)
        np.divide(dens, var[:, None], out=dens)
        np.exp(dens, out=dens)
        np.multiply(dens, (w / np.sqrt(2 * np.pi * var))[:, None], out=dens)
        np.sum(dens, axis=0, out=total)
        if total.min() > 0:
            resp_t = np.divide(dens, total, out=dens)
            lower = float(np.log(total).mean())
        else:
            lj = (np.log(w)[None, :] - 0.5 * (np.log(2 * np.pi * var)[None, :] + dev.T ** 2 / var[None, :]))
            norm = _logsumexp_rows(lj)
            resp_t = np.exp(lj - norm[:, None]).T
            lower = float(norm.mean())
        nk = resp_t.sum(axis=1) + 10 * np.finfo(float).eps
        mu = resp_t @ x / nk
        if tied:
            var = np.full(len(nk), (sum_x2 - np.sum(nk * mu * mu)) / nk.sum() + 1e-6)
        else:
            # var = (resp_t * dm * dm).sum(axis=1) / nk + 1e-6,  dm = x - mu (the new means)
            np.subtract(x[None, :], mu[:, None], out=dev)
            np.multiply(resp_t, dev, out=dens)
            np.multiply(dens, dev, out=dens)
            var = dens.sum(axis=1) / nk + 1e-6
        return nk / n, mu, var, lower

    # The k-means initialisations, in the order they draw from ``rs`` (EM draws nothing). One OpenMP thread:
    # scikit-learn's Lloyd loop gives the same centres and labels, and two threads per process oversubscribe a
    # 2-core machine running two selections (4x slower measured under load).
    with threadpool_limits(1, user_api="openmp"):
        inits = [KMeans(n_clusters=n_components, n_init=1, random_state=rs).fit(x[:, None]).labels_
                 for _ in range(n_init)]
    best = None
    seen = set()
    for labels in inits:
        # EM is deterministic: a start whose k-means labels equal an earlier start's gives that start's fit, which
        # cannot replace it (strictly better only), so it is skipped (about 1 start in 5 on the ten-name windows)
        key = labels.tobytes()
        if key in seen:
            continue
        seen.add(key)
        resp = np.zeros((n, n_components))
        resp[np.arange(n), labels] = 1.0
        w, mu, var = _m_step_1d(x, resp, tied)
        if acceleration == "squarem":
            fit = _squarem(em_step, w, mu, var, tol=tol, max_iter=max_iter)
        else:
            lower = -np.inf
            converged = False
            n_iter = 0
            for n_iter in range(1, max_iter + 1):
                prev = lower
                w, mu, var, lower = em_step(w, mu, var)
                if abs(lower - prev) < tol:
                    converged = True
                    break
            fit = (w, mu, var, n_iter, converged, lower)
        if best is None or fit[-1] > best[-1]:
            best = fit
    return _Mixture1D(*best)


def _squarem(em_step, w, mu, var, *, tol: float, max_iter: int):
    """SQUAREM (Varadhan & Roland 2008, S3) around ``em_step``; see :func:`_fit_mixture_1d`.

    Returns ``(w, mu, var, n_em_steps, converged, mean_log_likelihood)`` like the plain loop: the parameters after
    the last EM step and the mean log-likelihood at that step's input.
    """
    def pack(w_, mu_, var_):
        return np.concatenate([np.log(w_), mu_, np.log(var_)])

    k = len(w)

    def unpack(p):
        lw, m, lv = p[:k], p[k:2 * k], p[2 * k:]
        e = np.exp(lw - lw.max())
        return e / e.sum(), m, np.exp(lv)

    step_max, step_factor = 1.0, 4.0  # the R package's defaults (step.max0 = 1, mstep = 4)
    n_iter, lower, converged = 0, -np.inf, False
    # Two plain EM steps from the k-means start first. Extrapolating from the k-means M-step itself sent one of the
    # 271 weekly reference windows (2019-12-13) into another local optimum, 3.2e-5 nats a point below plain EM's;
    # started after two EM steps, SQUAREM ended at plain EM's optimum or above it on all 271 (README, "Accelerated
    # EM, measured").
    for _ in range(2):
        if n_iter >= max_iter:
            break
        prev = lower
        w, mu, var, lower = em_step(w, mu, var)
        n_iter += 1
        if abs(lower - prev) < tol:
            return w, mu, var, n_iter, True, lower
    while n_iter < max_iter:
        w1, mu1, var1, l0 = em_step(w, mu, var)
        n_iter += 1
        if n_iter >= max_iter:
            w, mu, var, lower = w1, mu1, var1, l0
            break
        w2, mu2, var2, l1 = em_step(w1, mu1, var1)
        n_iter += 1
        lower = l1
        if abs(l1 - l0) < tol:  # plain EM's rule at θ0
            w, mu, var, converged = w2, mu2, var2, True
            break
        p0, p1, p2 = pack(w, mu, var), pack(w1, mu1, var1), pack(w2, mu2, var2)
        r, v = p1 - p0, p2 - 2 * p1 + p0
        norm_r, norm_v = float(np.sqrt(r @ r)), float(np.sqrt(v @ v))
        w, mu, var = w2, mu2, var2  # plain EM's two steps unless the extrapolation is accepted below
        if not norm_v > 0 or n_iter >= max_iter:
            continue
        alpha = min(max(norm_r / norm_v, 1.0), step_max)
        if alpha <= 1.01:  # the extrapolation is (nearly) θ2 itself: keep θ2
            if alpha == step_max:
                step_max *= step_factor
            continue
        accepted = False
        with np.errstate(all="ignore"):
            wx, mux, varx = unpack(p0 + 2 * alpha * r + alpha * alpha * v)
            if np.isfinite(np.concatenate([wx, mux, varx])).all() and (varx > 0).all():
                w3, mu3, var3, lx = em_step(wx, mux, varx)
                n_iter += 1
                accepted = bool(np.isfinite(lx) and lx >= l1 and np.isfinite(np.concatenate([w3, var3])).all())
        if accepted:
            w, mu, var = w3, mu3, var3
            if alpha == step_max:
                step_max *= step_factor
        elif alpha == step_max:
            step_max = max(1.0, step_max / step_factor)
    return w, mu, var, n_iter, converged, lower


def volatility_points(market: MarketData, *, window: int = 20, periods_per_year: float = 252,
                      estimators: Iterable[str] = CLUSTER_ESTIMATORS, exclude_dates=None) -> pd.DataFrame:
    """The pooled sample: log annualised volatility of every (day, stock) by each estimator.

    Parameters
    ----------
    market : MarketData
        Daily bars of the clustering window, n_dates x n_symbols.
    window : int, default 20
        Rolling window n of the estimators (bars).
    periods_per_year : float, default 252
        Annualisation factor.
    estimators : iterable of str
        Names from :data:`volts.selection.volatility.ESTIMATORS`.
    exclude_dates : iterable of date-like, optional
        Days whose points are dropped.

    Returns
    -------
    pandas.DataFrame, shape (n_days * n_symbols, n_estimators)
        Index = MultiIndex (date, symbol), columns = estimators, values = ln(annualised volatility). Only days on
        which every estimator has a complete window.

    Raises
    ------
    ConfigError
        Empty or unknown estimator list.
    DataError
        As :func:`volts.selection.volatility.rolling_variance` (too short a window, constant price, naming the symbol).
    """
    estimators = tuple(estimators)
    if not estimators:
        raise ConfigError("clustering.estimators must name at least one estimator")
    unknown = [e for e in estimators if e not in vol.ESTIMATORS]
    if unknown:
        raise ConfigError(f"unknown volatility estimator(s) {', '.join(map(repr, unknown))}; "
                          f"expected some of {', '.join(vol.ESTIMATORS)}")
    frames = vol.estimate_all(market, window, periods_per_year, estimators)
    common = None
    for f in frames.values():
        common = f.index if common is None else common.intersection(f.index)
    if exclude_dates is not None:
        excl = pd.DatetimeIndex(pd.to_datetime(list(exclude_dates))).normalize()
        common = common[~common.isin(excl)]
    stacked = {name: np.log(f.loc[common]).stack() for name, f in frames.items()}
    points = pd.DataFrame(stacked)[list(estimators)]
    points.index.names = ["date", "symbol"]
    return points


def cluster_volatility(market: MarketData, *, window: int = 20, periods_per_year: float = 252,
                       estimators: Iterable[str] = CLUSTER_ESTIMATORS, covariance_type: str = "full",
                       n_init: int = 5, random_state: int = 0, exclude_dates=None,
                       features: str = "level", tol: float = 1e-8, max_iter: int = 10000,
                       borderline_margin: float = 0.1, em_acceleration: str = "squarem") -> VolatilityClusters:
    """Fit a three-component Gaussian mixture to the pooled log-volatility points and name the regimes.

    Parameters
    ----------
    market : MarketData
        Daily bars of the clustering window (the paper: 2021-11-01 .. 2023-06-08), n_dates x n_symbols (>= 3).
    window : int, default 20
        Rolling window n of the estimators (bars).
    periods_per_year : float, default 252
        Annualisation factor.
    estimators : iterable of str, default ("parkinson", "garman_klass", "rogers_satchell", "yang_zhang")
        Estimators whose log-volatilities form a point (dimension d).
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
        ``GaussianMixture`` covariance type.
    n_init : int, default 5
        EM restarts; the best likelihood is kept.
    random_state : int, default 0
        Seed; the result is deterministic for a seed.
    exclude_dates : iterable of date-like, optional
        Days dropped from the sample (the anomaly days when ``anomaly.exclude`` is on).
    features : {"level", "estimators"}, default "level"
        ``"level"``: one dimension, the mean of the estimators' log volatilities (bands of volatility level, the
        paper's Figure 3); ``"estimators"``: one dimension per estimator (METHOD.md §3 as written).
    tol : float, default 1e-8
        EM stops when the mean log-likelihood per point changes by less than this (scikit-learn's default is
        1e-3, which stops the reference fit early; see the module docstring).
    max_iter : int, default 10000
        Maximum EM iterations per initialisation; a fit that hits it reports ``converged = False``.
    borderline_margin : float, default 0.1
        A symbol whose assignment margin (assigned mean posterior minus the next largest) is below this is
        reported as borderline; 0 flags none.
    em_acceleration : {"squarem", "none"}, default "squarem"
        ``"squarem"``: the one-dimensional ("level") EM runs through SQUAREM (Varadhan & Roland 2008), which
        reaches an EM fixed point in 2-10x fewer EM steps (6.2x over the 271 reference windows) and, at the same
        ``tol``, stops closer to the optimum (see the module docstring); ``"none"``: plain EM, step for step
        scikit-learn's. The 4-D ``"estimators"`` space always uses scikit-learn's plain EM.

    Returns
    -------
    VolatilityClusters

    Raises
    ------
    ConfigError
        Unknown estimator or covariance type, n_init < 1, tol <= 0, max_iter < 1, borderline_margin outside
        [0, 1].
    DataError
        Fewer than three stocks; fewer pooled points than 3 * (free parameters of one component + 1); too few
        bars for one estimator window; a constant-price symbol.

    References
    ----------
    METHOD.md §3; the paper §3.2; scikit-learn ``sklearn.mixture.GaussianMixture``.
    """
    if features not in ("level", "estimators"):
        raise ConfigError(f"unknown clustering features {features!r}; expected 'level' or 'estimators'")
    if covariance_type not in _COV_PARAMS:
        raise ConfigError(f"unknown covariance_type {covariance_type!r}; expected one of {', '.join(_COV_PARAMS)}")
    if not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ConfigError(f"clustering.n_init must be an integer >= 1 (got {n_init!r})")
    if not tol > 0:
        raise ConfigError(f"clustering.tol must be > 0 (got {tol!r})")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ConfigError(f"clustering.max_iter must be an integer >= 1 (got {max_iter!r})")
    if em_acceleration not in ("squarem", "none"):
        raise ConfigError(f"clustering.em_acceleration must be 'squarem' or 'none' (got {em_acceleration!r})")
    if not 0 <= borderline_margin <= 1:
        raise ConfigError(f"clustering.borderline_margin must lie in [0, 1] (got {borderline_margin!r})")
    symbols = market.symbols
    n_comp = len(REGIMES)
    if len(symbols) < n_comp:
        raise DataError(f"volatility clustering needs at least {n_comp} stocks for {n_comp} regimes; got "
                        f"{len(symbols)} ({', '.join(symbols) or 'none'})")
    estimators = tuple(estimators)
    points = volatility_points(market, window=window, periods_per_year=periods_per_year, estimators=estimators,
                               exclude_dates=exclude_dates)
    d = 1 if features == "level" else len(estimators)
    per_component = d + _COV_PARAMS[covariance_type](d) + 1  # mean, covariance, weight
    need = n_comp * per_component
    if len(points) < need:
        raise DataError(f"volatility clustering: {len(points)} (stock, day) points in "
                        f"{market.dates[0].date()} .. {market.dates[-1].date()} after the {window}-bar warm-up "
                        f"and exclusions; a {n_comp}-component {covariance_type} mixture in {d} dimensions needs "
                        f"at least {need}")
    n_excluded = 0
    if exclude_dates is not None:
        excl = pd.DatetimeIndex(pd.to_datetime(list(exclude_dates))).normalize()
        n_excluded = int(market.dates.isin(excl).sum())

    # canonical order (symbol, date): the fit must not depend on how the frame was stacked
    points = points.sort_index(level=["symbol", "date"], sort_remaining=False)
    x = points.to_numpy().mean(axis=1, keepdims=True) if features == "level" else points.to_numpy()
    if x.shape[1] == 1:  # the default "level" space: the same EM as scikit-learn, without its overhead
        gmm = _fit_mixture_1d(x, n_components=n_comp, covariance_type=covariance_type, n_init=int(n_init),
                              random_state=int(random_state), tol=float(tol), max_iter=int(max_iter),
                              acceleration=em_acceleration)
    else:
        gmm = GaussianMixture(n_components=n_comp, covariance_type=covariance_type, n_init=int(n_init),
                              random_state=int(random_state), tol=float(tol), max_iter=int(max_iter)).fit(x)
    post = gmm.predict_proba(x)
    log_likelihood = float(gmm.score_samples(x).sum())

    centre = gmm.means_.mean(axis=1)  # mean log-volatility of each component, averaged over estimators
    order = np.argsort(centre, kind="stable")  # order[i] = fitted component named REGIMES[i]
    post = post[:, order]
    if features == "level":  # per-estimator centres: responsibility-weighted means of the log volatilities
        log_means = (post.T @ points.to_numpy()) / post.sum(axis=0)[:, None]
        centre_sorted = log_means.mean(axis=1)
    else:
        log_means = gmm.means_[order]
        centre_sorted = centre[order]
    post_frame = pd.DataFrame(post, index=points.index, columns=list(REGIMES))
    mean_post = post_frame.groupby(level="symbol", sort=False).mean().reindex(symbols)
    mean_post = mean_post.div(mean_post.sum(axis=1), axis=0)  # rows already sum to 1; remove rounding drift
    regimes = mean_post.idxmax(axis=1).rename("regime")
    regimes.index.name = "symbol"
    top2 = np.sort(mean_post.to_numpy(), axis=1)[:, -2:]
    margins = pd.Series(top2[:, 1] - top2[:, 0], index=mean_post.index, name="margin")
    comp_means = pd.DataFrame(np.exp(log_means), index=list(REGIMES), columns=list(estimators))
    comp_vol = pd.Series(np.exp(centre_sorted), index=list(REGIMES), name="volatility")
    weights = pd.Series(gmm.weights_[order], index=list(REGIMES), name="weight")
    dates = points.index.get_level_values("date")
    return VolatilityClusters(
        regimes=regimes, posteriors=mean_post, component_volatility=comp_vol, component_means=comp_means,
        weights=weights, candidates=tuple(s for s in symbols if regimes[s] == "mid"), estimators=estimators,
        n_points=int(len(points)), n_excluded=n_excluded, start=pd.Timestamp(dates.min()),
        end=pd.Timestamp(dates.max()), window=int(window), random_state=int(random_state),
        covariance_type=covariance_type, n_init=int(n_init), converged=bool(gmm.converged_), features=features,
        tol=float(tol), max_iter=int(max_iter), n_iter=int(gmm.n_iter_), log_likelihood=log_likelihood,
        margins=margins, borderline_margin=float(borderline_margin),
        em_acceleration=em_acceleration if x.shape[1] == 1 else "none")
