"""Volatility regimes by a Gaussian mixture on the pooled (stock, day) sample (METHOD.md §3).

Every (stock, day) of the window with a complete estimator window gives one point: the natural log of the
stock's annualised volatility on that day by each estimator (default Parkinson, Garman-Klass, Rogers-Satchell,
Yang-Zhang; see :mod:`volts.volatility`). A ``GaussianMixture`` with three components is fitted to the pooled
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

from volts import volatility as vol
from volts.data.market import MarketData
from volts.errors import ConfigError, DataError

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
        Whether the best of the ``n_init`` EM runs converged.
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
        }


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
        Names from :data:`volts.volatility.ESTIMATORS`.
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
        As :func:`volts.volatility.rolling_variance` (too short a window, constant price, naming the symbol).
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
                       features: str = "level") -> VolatilityClusters:
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

    Returns
    -------
    VolatilityClusters

    Raises
    ------
    ConfigError
        Unknown estimator or covariance type, n_init < 1.
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

    x = points.to_numpy().mean(axis=1, keepdims=True) if features == "level" else points.to_numpy()
    gmm = GaussianMixture(n_components=n_comp, covariance_type=covariance_type, n_init=int(n_init),
                          random_state=int(random_state)).fit(x)
    post = gmm.predict_proba(x)

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
    comp_means = pd.DataFrame(np.exp(log_means), index=list(REGIMES), columns=list(estimators))
    comp_vol = pd.Series(np.exp(centre_sorted), index=list(REGIMES), name="volatility")
    weights = pd.Series(gmm.weights_[order], index=list(REGIMES), name="weight")
    dates = points.index.get_level_values("date")
    return VolatilityClusters(
        regimes=regimes, posteriors=mean_post, component_volatility=comp_vol, component_means=comp_means,
        weights=weights, candidates=tuple(s for s in symbols if regimes[s] == "mid"), estimators=estimators,
        n_points=int(len(points)), n_excluded=n_excluded, start=pd.Timestamp(dates.min()),
        end=pd.Timestamp(dates.max()), window=int(window), random_state=int(random_state),
        covariance_type=covariance_type, n_init=int(n_init), converged=bool(gmm.converged_), features=features)
