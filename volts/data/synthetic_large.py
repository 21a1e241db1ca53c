"""A seeded market of many names with planted lead-lag pairs among independent names (issue 13 scale checks).

Same construction as the ten-name demo market (:mod:`volts.data.synthetic`: coherent OHLC bars from Gaussian
log returns, the follower's return r_F(t) = beta r_L(t - lag) + e(t) with R^2 = 0.5), scaled up:

* ``n_names`` symbols ``S0000 ..``, split into three volatility regimes (15 %, 35 %, 75 % a year) in the
  proportions ``shares`` (default one third each), regimes assigned in a seeded random order;
* ``n_pairs`` disjoint planted pairs, all inside the mid regime (the causal screen's candidates), with lags
  cycling through ``lags`` (default 1 .. 5);
* every other return i.i.d. and independent across symbols (no market factor), so every ordered pair that is
  not planted is a true negative and the false-pair rate of a selection can be counted exactly.

:func:`write_membership` writes a membership file naming every symbol since the first date, so the market can be
run as a point-in-time universe (``[data] membership``) without a 500-name list in the config.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from volts.data.synthetic import PERIODS_PER_YEAR, R2, REGIME_VOL, PlantedPair, SyntheticMarket, assemble_market
from volts.core.errors import DataError

__all__ = ["make_large_synthetic_market", "write_membership"]


def make_large_synthetic_market(
    n_names: int = 500,
    n_pairs: int = 20,
    *,
    seed: int = 0,
    lags: tuple[int, ...] = (1, 2, 3, 4, 5),
    shares: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3),
    start="2019-01-01",
    end="2023-12-29",
) -> SyntheticMarket:
    """Generate ``n_names`` symbols with ``n_pairs`` planted lead-lag pairs in the mid regime.

    Parameters
    ----------
    n_names : int
        Number of symbols.
    n_pairs : int
        Planted disjoint pairs (2 n_pairs mid symbols are needed).
    seed : int
        Seed of ``numpy.random.default_rng``.
    lags : tuple of int
        Lags (trading days) assigned to the pairs in turn.
    shares : (low, mid, high)
        Share of the symbols in each volatility regime.
    start, end : date-like
        Business-day span (default covers every default window).

    Returns
    -------
    SyntheticMarket
        ``data``: validated bars; ``truth``: regimes, planted pairs, independent symbols.

    Raises
    ------
    DataError
        When the mid regime is too small for the pairs or the span has fewer than 2 business days.
    """
    dates = pd.bdate_range(start, end)
    n = len(dates)
    if n < 2:
        raise DataError(f"synthetic market: fewer than 2 business days between {start} and {end}")
    rng = np.random.default_rng(seed)
    symbols = [f"S{k:04d}" for k in range(n_names)]
    counts = np.floor(np.asarray(shares) / sum(shares) * n_names).astype(int)
    counts[1] += n_names - counts.sum()
    labels = np.repeat(np.array(["low", "mid", "high"]), counts)
    labels = labels[rng.permutation(n_names)]
    regimes = dict(zip(symbols, labels.tolist()))
    mid = [s for s in symbols if regimes[s] == "mid"]
    if 2 * n_pairs > len(mid):
        raise DataError(f"synthetic market: {n_pairs} pairs need {2 * n_pairs} mid symbols, only {len(mid)}")
    chosen = rng.choice(len(mid), size=2 * n_pairs, replace=False)
    planted = [(mid[chosen[2 * k]], mid[chosen[2 * k + 1]], int(lags[k % len(lags)])) for k in range(n_pairs)]
    daily = {s: REGIME_VOL[regimes[s]] / np.sqrt(PERIODS_PER_YEAR) for s in symbols}
    max_lag = max(lags)
    innov = rng.standard_normal((n + max_lag, n_names)) * np.array([daily[s] for s in symbols])
    col = {s: k for k, s in enumerate(symbols)}
    returns = innov[max_lag:].copy()
    beta = float(np.sqrt(R2))
    pairs = []
    for leader, follower, lag in planted:
        lead = innov[max_lag - lag : max_lag - lag + n, col[leader]]
        scale = daily[follower] / daily[leader]
        returns[:, col[follower]] = beta * lead * scale + innov[max_lag:, col[follower]] * np.sqrt(1.0 - R2)
        pairs.append(PlantedPair(leader, follower, lag, float(beta * scale)))
    return assemble_market(
        symbols,
        lambda s: returns[:, col[s]],
        daily=daily,
        regimes=regimes,
        pairs=pairs,
        dates=dates,
        rng=rng,
        seed=seed,
        source=f"synthetic-large(seed={seed})",
    )


def write_membership(symbols, path: str | Path, start: str = "2000-01-03") -> Path:
    """Write a membership file in which every symbol is a member from ``start`` on (no end)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ticker,start_date,end_date\n" + "".join(f"{s},{start},\n" for s in symbols))
    return path
