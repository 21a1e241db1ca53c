"""KNN anomaly filter of trading days (METHOD.md §1; the paper's §3.1.2).

Each day t of the window is a point x_t: for every stock of the universe, the day's log return ln(C_t / C_{t-1})
and log range ln(H_t / L_t) (the feature set is configurable), each standardised (z-score, population standard
deviation) over the window. The anomaly score of a day is the mean Euclidean distance to its k nearest neighbours
among all *other* days of the window; a day is flagged when its score exceeds mean + z * std of the scores
(population standard deviation).

The log return of the first bar needs the close before the window, which the window does not hold, so when the
``log_return`` feature is used the first date gets no score (scores start on the second bar).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError

__all__ = ["FEATURES", "AnomalyResult", "anomaly_features", "knn_scores", "detect_anomalies"]

#: Features a day can be described by (per stock).
FEATURES: tuple[str, ...] = ("log_return", "log_range")


@dataclass(frozen=True)
class AnomalyResult:
    """Outcome of the KNN anomaly filter.

    Attributes
    ----------
    scores : pandas.Series, shape (n_days,)
        Anomaly score of every scored day (mean Euclidean distance to the k nearest other days, in units of
        standardised features), indexed by date.
    threshold : float
        mean + z_threshold * std of the scores.
    mean, std : float
        Mean and population standard deviation of the scores.
    flagged : pandas.DatetimeIndex
        Days whose score exceeds the threshold, ascending.
    features : tuple of str
        Feature kinds used (per stock).
    symbols : tuple of str
        Stocks whose features describe a day.
    neighbors : int
        k.
    z_threshold : float
        z of the threshold.
    """

    scores: pd.Series
    threshold: float
    mean: float
    std: float
    flagged: pd.DatetimeIndex
    features: tuple[str, ...]
    symbols: tuple[str, ...]
    neighbors: int
    z_threshold: float
    feature_columns: tuple[str, ...] = field(default=(), repr=False)

    @property
    def k(self) -> int:
        """Alias of ``neighbors``."""
        return self.neighbors

    @property
    def flagged_scores(self) -> pd.Series:
        """Scores of the flagged days."""
        return self.scores.loc[self.flagged]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: parameters, window, threshold and ``anomalies`` as ``[{date, score}]``."""
        return {
            "start": self.scores.index[0].date().isoformat(),
            "end": self.scores.index[-1].date().isoformat(),
            "n_days": int(len(self.scores)),
            "symbols": list(self.symbols),
            "features": list(self.features),
            "neighbors": int(self.neighbors),
            "z_threshold": float(self.z_threshold),
            "mean": float(self.mean),
            "std": float(self.std),
            "threshold": float(self.threshold),
            "anomalies": [{"date": d.date().isoformat(), "score": float(s)} for d, s in self.flagged_scores.items()],
        }


def anomaly_features(market: MarketData, features: tuple[str, ...] = FEATURES) -> pd.DataFrame:
    """Standardised feature matrix of the days of ``market``.

    Parameters
    ----------
    market : MarketData
        Daily bars of the anomaly window, n_dates x n_symbols.
    features : tuple of str, default ("log_return", "log_range")
        Feature kinds, each computed for every stock: ``log_return`` = ln(C_t / C_{t-1}), ``log_range`` =
        ln(H_t / L_t).

    Returns
    -------
    pandas.DataFrame, shape (n_days, n_symbols * len(features))
        z-scores over the window (mean 0, population std 1 per column); columns ``"<symbol>:<feature>"``.
        n_days = n_dates - 1 when ``log_return`` is used (the first bar has no return), else n_dates.

    Raises
    ------
    ConfigError
        Empty or unknown feature list.
    DataError
        A non-positive price, or a feature that is constant over the window (its z-score is undefined),
        naming the symbol.

    References
    ----------
    METHOD.md §1.
    """
    features = tuple(features)
    if not features:
        raise ConfigError("anomaly.features must name at least one feature")
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ConfigError(
            f"unknown anomaly feature(s) {', '.join(map(repr, unknown))}; expected some of {', '.join(FEATURES)}"
        )
    for name in ("high", "low", "close"):
        frame = market.field(name)
        bad = frame.to_numpy() <= 0
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(f"{frame.columns[col]}: non-positive {name} price on {frame.index[row].date()}")
    parts = {}
    close = market.close.to_numpy(dtype=float)
    for feat in features:
        if feat == "log_return":
            values = np.vstack([np.full((1, close.shape[1]), np.nan), np.log(close[1:] / close[:-1])])
        else:
            values = np.log(market.high.to_numpy(dtype=float) / market.low.to_numpy(dtype=float))
        parts[feat] = pd.DataFrame(values, index=market.dates, columns=market.symbols)
    cols = {f"{sym}:{feat}": parts[feat][sym] for sym in market.symbols for feat in features}
    raw = pd.DataFrame(cols)
    if "log_return" in features:
        raw = raw.iloc[1:]
    std = raw.std(ddof=0)
    flat = std[~(std > 0)]
    if len(flat):
        sym, feat = flat.index[0].split(":", 1)
        raise DataError(
            f"{sym}: {feat} is constant over {raw.index[0].date()} .. {raw.index[-1].date()}; its z-score is undefined"
        )
    return (raw - raw.mean()) / std


def knn_scores(x: np.ndarray, neighbors: int = 5) -> np.ndarray:
    """Mean Euclidean distance of every row of ``x`` to its ``neighbors`` nearest *other* rows.

    The query asks ``NearestNeighbors`` for k + 1 neighbours and drops the row itself. When rows are duplicated,
    the row itself need not come first among the zero distances (or may not be returned at all); then the
    furthest of the k + 1 is dropped instead, which leaves the same k distances.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_samples, n_features)
    neighbors : int, default 5
        k (< n_samples).

    Returns
    -------
    numpy.ndarray, shape (n_samples,)

    References
    ----------
    scikit-learn ``sklearn.neighbors.NearestNeighbors``; METHOD.md §1.
    """
    n = len(x)
    nn = NearestNeighbors(n_neighbors=neighbors + 1).fit(x)
    dist, idx = nn.kneighbors(x)
    is_self = idx == np.arange(n)[:, None]
    has_self = is_self.any(axis=1)
    drop = np.where(has_self, is_self.argmax(axis=1), neighbors)  # position to drop per row
    keep = np.ones_like(dist, dtype=bool)
    keep[np.arange(n), drop] = False
    return dist[keep].reshape(n, neighbors).mean(axis=1)


def detect_anomalies(
    market: MarketData, *, neighbors: int = 5, z_threshold: float = 3.0, features: tuple[str, ...] = FEATURES
) -> AnomalyResult:
    """Score every day of the window by KNN distance and flag the outliers.

    Parameters
    ----------
    market : MarketData
        Daily bars of the anomaly window (the paper: 2019-06-01 .. 2023-05-01), n_dates x n_symbols.
    neighbors : int, default 5
        k, the number of nearest other days averaged.
    z_threshold : float, default 3.0
        A day is flagged when its score > mean + z_threshold * std of all scores.
    features : tuple of str, default ("log_return", "log_range")
        Per-stock features of a day (see :func:`anomaly_features`).

    Returns
    -------
    AnomalyResult

    Raises
    ------
    ConfigError
        neighbors < 1, z_threshold <= 0, unknown features.
    DataError
        Fewer than neighbors + 2 scorable days, a non-positive price, a constant feature.

    References
    ----------
    The paper §3.1.2 (score = mean distance to k nearest neighbours, threshold mu + 3 sigma); METHOD.md §1.
    """
    if not isinstance(neighbors, (int, np.integer)) or isinstance(neighbors, bool) or neighbors < 1:
        raise ConfigError(f"anomaly.neighbors must be an integer >= 1 (got {neighbors!r})")
    if not z_threshold > 0:
        raise ConfigError(f"anomaly.z_threshold must be > 0 (got {z_threshold!r})")
    need = int(neighbors) + 2 + (1 if "log_return" in tuple(features) else 0)
    if len(market) < need:
        span = f"{market.dates[0].date()} .. {market.dates[-1].date()}" if len(market) else "empty data"
        raise DataError(
            f"anomaly window {span}: {len(market)} bars, fewer than the {need} that k = {neighbors} "
            "nearest neighbours need"
        )
    x = anomaly_features(market, features)
    scores = knn_scores(x.to_numpy(), int(neighbors))
    mean = float(scores.mean())
    std = float(scores.std(ddof=0))
    threshold = mean + float(z_threshold) * std
    series = pd.Series(scores, index=x.index, name="anomaly_score")
    flagged = pd.DatetimeIndex(series.index[series.to_numpy() > threshold])
    return AnomalyResult(
        scores=series,
        threshold=threshold,
        mean=mean,
        std=std,
        flagged=flagged,
        features=tuple(features),
        symbols=tuple(market.symbols),
        neighbors=int(neighbors),
        z_threshold=float(z_threshold),
        feature_columns=tuple(x.columns),
    )
