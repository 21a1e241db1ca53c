"""A synthetic market whose lead-lag relations change over time: the known answer for learned lead-lag models.

Design (all choices ours; none tuned to any result)
--------------------------------------------------
* ``n_assets`` symbols on business days (``pandas.bdate_range``): the first ``n_leaders`` (``L1, L2, ...``) are
  independent Gaussian random walks in log price; the others (``F1, F2, ...``) are followers.
* Each follower's close-to-close log return is

      r_F(t) = beta * r_{lead_F(t)}(t - lag_F(t)) + e_F(t),   beta = sqrt(R2),   e ~ N(0, (1 - R2) sigma^2),

  where the leader ``lead_F(t)`` (one of the leaders) and the lag ``lag_F(t)`` (1 .. ``l_max`` bars) are piecewise
  constant: they are redrawn (uniformly, independently of the past) at the start of every *segment*, whose length
  is drawn uniformly in ``segment_days`` business days ("every few weeks"). The segments of different followers are
  drawn independently, so switches do not coincide. With ``R2 = 0.5`` (as in :mod:`volts.data.synthetic`) the
  current leader explains half of the follower's variance and every symbol has daily volatility ``sigma``.
* The leaders' series start ``l_max`` bars before the first date so the relation holds from day one.
* Bars: Open/High/Low/Close are built from the close-to-close returns as in :mod:`volts.data.synthetic` (an
  overnight gap with 20 % of the variance, High/Low the extremes of an intraday Brownian bridge), so that
  ``Low <= min(O, C) <= max(O, C) <= High``. Volume is log-normal around one million shares, independent of prices.

The ground truth is given per return date: ``truth.loc[(date, follower)]`` is the leader and lag that drive the
follower's return *on that date*, i.e. the return from the previous close to this close. A model that predicts the
return of date ``t + 1`` at the close of ``t`` should pick ``leader = truth(t + 1).leader`` and see it at lag
``truth(t + 1).lag``, i.e. use the leader's bar ``t + 1 - lag``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from volts.data.synthetic import _bars_from_returns

__all__ = ["TimeVaryingMarket", "make_timevarying_market"]


@dataclass(frozen=True)
class TimeVaryingMarket:
    """A synthetic market with planted, time-varying lead-lag and its ground truth.

    Attributes
    ----------
    returns : pandas.DataFrame, shape (T, N)
        Close-to-close log returns (row = date, column = symbol); the first row is the return from the (virtual)
        previous close.
    bars : dict of str to pandas.DataFrame
        ``open, high, low, close, volume``, each (T, N) with the same index and columns as ``returns``.
    truth : pandas.DataFrame
        One row per (date, follower) with columns ``date, follower, leader, lag`` (lag in bars, 1 .. l_max): the
        relation that drives the follower's return on ``date``.
    leaders, followers : tuple of str
        The two groups of symbols.
    r2, sigma : float
        Share of a follower's variance explained by its current leader; daily volatility of every symbol.
    l_max : int
        Largest planted lag.
    seed : int
        Seed of the generator.
    """

    returns: pd.DataFrame
    bars: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    leaders: tuple[str, ...]
    followers: tuple[str, ...]
    r2: float
    sigma: float
    l_max: int
    seed: int


def make_timevarying_market(
    seed: int = 0,
    *,
    n_assets: int = 10,
    n_leaders: int = 4,
    n_days: int = 1000,
    start: str = "2018-01-01",
    l_max: int = 9,
    segment_days: tuple[int, int] = (20, 40),
    r2: float = 0.5,
    sigma: float = 0.015,
) -> TimeVaryingMarket:
    """Generate a market whose followers' leaders and lags switch every few weeks.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same market.
    n_assets : int
        Number of symbols N (leaders + followers), at least ``n_leaders + 1``.
    n_leaders : int
        Number of independent leaders (at least 1); the other ``n_assets - n_leaders`` symbols are followers.
    n_days : int
        Number of business days T.
    start : str
        First business day.
    l_max : int
        Lags are drawn uniformly in 1 .. l_max bars.
    segment_days : (int, int)
        Inclusive range of a segment's length in business days (uniform); a new leader and lag per segment.
    r2 : float
        Share of the follower's variance explained by its current leader, in (0, 1).
    sigma : float
        Daily volatility of every symbol's log return (fraction), > 0.

    Returns
    -------
    TimeVaryingMarket

    Raises
    ------
    ValueError
        If a size, range or share is out of bounds (the message names the parameter and the allowed range).
    """
    if n_leaders < 1 or n_assets < n_leaders + 1:
        raise ValueError(
            f"need n_leaders >= 1 and n_assets > n_leaders, got n_assets={n_assets}, n_leaders={n_leaders}"
        )
    if l_max < 1:
        raise ValueError(f"l_max must be >= 1, got {l_max}")
    lo, hi = segment_days
    if lo < 1 or hi < lo:
        raise ValueError(f"segment_days must be (min, max) with 1 <= min <= max, got {segment_days}")
    if not 0.0 < r2 < 1.0:
        raise ValueError(f"r2 must lie in (0, 1), got {r2}")
    if sigma <= 0 or n_days < 2:
        raise ValueError(f"need sigma > 0 and n_days >= 2, got sigma={sigma}, n_days={n_days}")
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start=start, periods=n_days)
    leaders = tuple(f"L{i + 1}" for i in range(n_leaders))
    followers = tuple(f"F{i + 1}" for i in range(n_assets - n_leaders))
    beta = float(np.sqrt(r2))
    # leaders: l_max extra bars before the first date so that lagged values exist from day one
    lead_r = sigma * rng.standard_normal((n_days + l_max, n_leaders))
    r = np.empty((n_days, n_assets))
    r[:, :n_leaders] = lead_r[l_max:]
    rows = []
    for j, name in enumerate(followers):
        lead_idx = np.empty(n_days, dtype=int)
        lag = np.empty(n_days, dtype=int)
        t = 0
        while t < n_days:
            length = int(rng.integers(lo, hi + 1))
            lead_idx[t : t + length] = rng.integers(0, n_leaders)
            lag[t : t + length] = rng.integers(1, l_max + 1)
            t += length
        t_idx = np.arange(n_days) + l_max - lag  # position of the lagged leader bar in lead_r
        noise = np.sqrt(1.0 - r2) * sigma * rng.standard_normal(n_days)
        r[:, n_leaders + j] = beta * lead_r[t_idx, lead_idx] + noise
        rows.append(
            pd.DataFrame({"date": dates, "follower": name, "leader": np.asarray(leaders)[lead_idx], "lag": lag})
        )
    symbols = list(leaders + followers)
    returns = pd.DataFrame(r, index=dates, columns=symbols)
    fields: dict[str, dict[str, np.ndarray]] = {f: {} for f in ("open", "high", "low", "close", "volume")}
    for i, s in enumerate(symbols):
        c0 = float(np.exp(rng.uniform(np.log(20.0), np.log(200.0))))
        ohlc = _bars_from_returns(r[:, i], sigma, c0, rng)
        for f, v in ohlc.items():
            fields[f][s] = v
        fields["volume"][s] = np.round(1e6 * np.exp(0.3 * rng.standard_normal(n_days)))
    bars = {f: pd.DataFrame(v, index=dates)[symbols] for f, v in fields.items()}
    truth = pd.concat(rows, ignore_index=True)
    return TimeVaryingMarket(
        returns=returns,
        bars=bars,
        truth=truth,
        leaders=leaders,
        followers=followers,
        r2=float(r2),
        sigma=float(sigma),
        l_max=int(l_max),
        seed=int(seed),
    )
