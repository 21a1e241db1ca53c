"""A seeded demo market with a known answer: volatility regimes and planted lead-lag pairs.

Design (all choices ours; none tuned to any result)
--------------------------------------------------
* Ten symbols on business days (``pandas.bdate_range``, no holidays): ``LOW1, LOW2`` (annualised volatility
  15 %), ``MID1 .. MID6`` (35 %) and ``HIGH1, HIGH2`` (75 %).
* Three planted pairs, disjoint, all inside the mid group: ``MID1 -> MID2`` (lag 1), ``MID3 -> MID4`` (lag 3),
  ``MID5 -> MID6`` (lag 5). The follower's close-to-close log return is

      r_F(t) = beta * r_L(t - lag) + e(t),   beta = sqrt(R2),   e ~ N(0, (1 - R2) sigma_mid^2),

  with R2 = 0.5: the lagged leader explains half of the follower's variance and the follower's volatility
  stays at sigma_mid (leader and follower are both mid). The leader's series starts ``lag`` days before the
  first date so the relation holds from day one.
* Every other return is i.i.d. Gaussian with zero mean, independent across symbols: no market factor, so the
  unpaired symbols (``GroundTruth.independent``) and the cross-pair combinations are true negatives.
* Coherent bars: a close-to-close log return r = g + i is split into an overnight gap g = ln(O_t / C_{t-1}) and
  an intraday part i = ln(C_t / O_t), drawn as independent Gaussians with 20 % of the variance overnight,
  conditioned on their sum (g | r ~ N(0.2 r, 0.2 * 0.8 sigma^2)). High and Low are the extremes of a
  78-step (5-minute) Brownian bridge in log price from ln O to ln C with the intraday variance, so
  Low <= min(O, C) <= max(O, C) <= High by construction.
* Volume: independent log-normal around one million shares. Starting prices log-uniform in [20, 200].

The market is built through :func:`volts.data.validate.validate_bars` like every source, so
``market.data.report`` exists (and is clean).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from volts.data.market import FIELDS, MarketData
from volts.data.validate import validate_bars

#: Annualised volatility of each regime (fraction).
REGIME_VOL: dict[str, float] = {"low": 0.15, "mid": 0.35, "high": 0.75}
#: Symbols of each regime, in column order.
REGIME_SYMBOLS: dict[str, tuple[str, ...]] = {
    "low": ("LOW1", "LOW2"),
    "mid": ("MID1", "MID2", "MID3", "MID4", "MID5", "MID6"),
    "high": ("HIGH1", "HIGH2"),
}
#: Planted pairs: (leader, follower, lag in trading days).
PLANTED: tuple[tuple[str, str, int], ...] = (("MID1", "MID2", 1), ("MID3", "MID4", 3), ("MID5", "MID6", 5))
#: Share of the follower's return variance explained by the lagged leader.
R2 = 0.5
#: Share of the daily return variance that falls overnight (open vs previous close).
OVERNIGHT_SHARE = 0.2
#: Steps of the intraday Brownian bridge (5-minute steps of a 6.5-hour session).
INTRADAY_STEPS = 78
PERIODS_PER_YEAR = 252


@dataclass(frozen=True)
class PlantedPair:
    """A planted lead-lag relation: follower log return_t = beta * leader log return_{t-lag} + noise."""

    leader: str
    follower: str
    lag: int
    beta: float

    def to_dict(self) -> dict:
        """JSON-ready plain dict."""
        return {"leader": self.leader, "follower": self.follower, "lag": int(self.lag), "beta": float(self.beta)}


@dataclass(frozen=True)
class GroundTruth:
    """What was planted in a synthetic market.

    Attributes
    ----------
    regimes : dict of str to {"low", "mid", "high"}
        Volatility regime of each symbol.
    pairs : tuple of PlantedPair
        The planted lead-lag pairs (disjoint, inside the mid regime).
    independent : tuple of str
        Symbols in no planted pair (independent of every other symbol).
    annual_vol : dict of str to float
        Target annualised volatility of each symbol's close-to-close log return (fraction).
    r2 : float
        Share of a follower's return variance explained by its lagged leader.
    seed : int
        Seed of the generator.
    """

    regimes: dict[str, Literal["low", "mid", "high"]]
    pairs: tuple[PlantedPair, ...]
    independent: tuple[str, ...]
    annual_vol: dict[str, float]
    r2: float
    seed: int

    def to_dict(self) -> dict:
        """JSON-ready plain dict."""
        return {
            "regimes": dict(self.regimes),
            "pairs": [p.to_dict() for p in self.pairs],
            "independent": list(self.independent),
            "annual_vol": {k: float(v) for k, v in self.annual_vol.items()},
            "r2": float(self.r2),
            "seed": int(self.seed),
        }


@dataclass(frozen=True)
class SyntheticMarket:
    """A synthetic market: the bars and the ground truth planted in them."""

    data: MarketData
    truth: GroundTruth


def _bars_from_returns(r: np.ndarray, sigma: float, c0: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """OHLC for one symbol from its close-to-close log returns ``r`` (shape (n,)) and daily volatility."""
    n = len(r)
    phi = OVERNIGHT_SHARE
    gap = phi * r + np.sqrt(phi * (1.0 - phi)) * sigma * rng.standard_normal(n)
    intraday = r - gap
    log_close = np.log(c0) + np.cumsum(r)
    log_prev = np.concatenate([[np.log(c0)], log_close[:-1]])
    log_open = log_prev + gap
    # Brownian bridge from 0 to `intraday` over M steps with variance (1 - phi) sigma^2 per day
    m = INTRADAY_STEPS
    steps = rng.standard_normal((n, m)) * sigma * np.sqrt((1.0 - phi) / m)
    walk = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)  # (n, m+1)
    frac = np.arange(m + 1) / m
    bridge = walk - frac * walk[:, -1:] + frac * intraday[:, None]
    path_hi = log_open + bridge.max(axis=1)
    path_lo = log_open + bridge.min(axis=1)
    o, c = np.exp(log_open), np.exp(log_close)
    h = np.maximum(np.exp(path_hi), np.maximum(o, c))  # guard against rounding of exp(log)
    lo = np.minimum(np.exp(path_lo), np.minimum(o, c))
    return {"open": o, "high": h, "low": lo, "close": c}


def make_synthetic_market(seed: int = 0, start="2019-01-01", end="2023-12-29") -> SyntheticMarket:
    """Generate the demo market with three volatility regimes and three planted lead-lag pairs.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical bars.
    start, end : date-like
        First and last calendar date; bars fall on business days in between (``pandas.bdate_range``).
        The defaults cover every default analysis window (2019-06-01 .. 2023-08-12).

    Returns
    -------
    SyntheticMarket
        ``data``: validated :class:`MarketData`, 10 symbols (see the module docstring);
        ``truth``: the :class:`GroundTruth` (regimes, planted pairs, independent symbols).

    Raises
    ------
    DataError
        When the date range holds fewer than 2 business days.

    Notes
    -----
    The coupling follows the lead-lag model that the causal stages of METHOD.md §4-5 test for (Granger on log
    returns, PCMCI ParCorr, transfer entropy, DTW-KNN lag); the bar construction respects the OHLC notation of
    METHOD.md (L <= O, C <= H).
    """
    from volts.core.errors import DataError

    dates = pd.bdate_range(start, end)
    n = len(dates)
    if n < 2:
        raise DataError(f"synthetic market: fewer than 2 business days between {start} and {end}")
    rng = np.random.default_rng(seed)
    symbols = [s for group in REGIME_SYMBOLS.values() for s in group]
    regimes = {s: g for g, group in REGIME_SYMBOLS.items() for s in group}
    daily = {s: REGIME_VOL[regimes[s]] / np.sqrt(PERIODS_PER_YEAR) for s in symbols}
    max_lag = max(lag for _, _, lag in PLANTED)

    # independent innovations first (fixed draw order => determinism), with max_lag days of burn-in
    innov = {s: rng.standard_normal(n + max_lag) * daily[s] for s in symbols}
    returns = {s: innov[s][max_lag:] for s in symbols}
    beta = float(np.sqrt(R2))
    pairs = []
    for leader, follower, lag in PLANTED:
        lead_full = innov[leader]  # leader's returns incl. burn-in
        lagged = lead_full[max_lag - lag : max_lag - lag + n]
        noise = innov[follower][max_lag:] * np.sqrt(1.0 - R2)  # rescaled: sd = sqrt(1-R2) * sigma_mid
        returns[follower] = beta * lagged * daily[follower] / daily[leader] + noise
        pairs.append(PlantedPair(leader, follower, lag, float(beta * daily[follower] / daily[leader])))

    return assemble_market(
        symbols,
        lambda s: returns[s],
        daily=daily,
        regimes=regimes,
        pairs=pairs,
        dates=dates,
        rng=rng,
        seed=seed,
        source=f"synthetic(seed={seed})",
    )


def assemble_market(
    symbols,
    returns_of,
    *,
    daily: dict,
    regimes: dict,
    pairs: list,
    dates: pd.DatetimeIndex,
    rng: np.random.Generator,
    seed: int,
    source: str,
) -> SyntheticMarket:
    """Turn each symbol's daily log returns into validated OHLCV bars and the ground truth.

    Shared by the demo market and ``volts.data.synthetic_large``. Draws from ``rng`` in a fixed order (start
    prices, then per symbol its bars and volume), so a seed gives the same market as before this was shared.

    Parameters
    ----------
    symbols : sequence of str
        Symbols in bar-generation order.
    returns_of : callable
        ``returns_of(symbol)`` -> ndarray of shape (len(dates),), daily log returns.
    daily : dict
        Daily volatility per symbol (fraction), used for the intraday range.
    regimes, pairs : dict, list
        Planted regime per symbol and planted ``PlantedPair`` list (ground truth).
    dates : DatetimeIndex
        Bar dates.
    rng : numpy.random.Generator
        The generator that produced the returns (continued here).
    seed : int
        Recorded in the ground truth.
    source : str
        Source label for validation messages.
    """
    n = len(dates)
    raw = {}
    start_prices = np.exp(rng.uniform(np.log(20.0), np.log(200.0), len(symbols)))
    for s, c0 in zip(symbols, start_prices):
        bars = _bars_from_returns(returns_of(s), daily[s], float(c0), rng)
        bars["volume"] = np.round(1e6 * np.exp(0.3 * rng.standard_normal(n)))
        raw[s] = pd.DataFrame(bars, index=dates)[list(FIELDS)]
    in_pairs = {p.leader for p in pairs} | {p.follower for p in pairs}
    truth = GroundTruth(
        regimes=regimes,
        pairs=tuple(pairs),
        independent=tuple(s for s in symbols if s not in in_pairs),
        annual_vol={s: REGIME_VOL[regimes[s]] for s in symbols},
        r2=R2,
        seed=int(seed),
    )
    data = validate_bars(raw, sources={s: source for s in symbols})
    return SyntheticMarket(data=data, truth=truth)


def write_synthetic_csvs(market: SyntheticMarket | MarketData, directory: str | Path) -> list[Path]:
    """Write one Yahoo-layout CSV per symbol (``Date,Open,High,Low,Close,Adj Close,Volume``).

    Parameters
    ----------
    market : SyntheticMarket or MarketData
        The bars to write (``Adj Close`` = ``Close``: synthetic bars have no dividends).
    directory : str or Path
        Destination folder (created if needed); files are named ``{symbol}.csv``.

    Returns
    -------
    list of Path
        The files written, in symbol order. Prices carry 6 decimals (rounding keeps Low <= O, C <= High,
        since rounding is monotone), volume is an integer.
    """
    data = market.data if isinstance(market, SyntheticMarket) else market
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for symbol in data.symbols:
        bars = data.bars(symbol)
        table = pd.DataFrame(
            {
                "Date": bars.index.strftime("%Y-%m-%d"),
                "Open": bars["open"].to_numpy(),
                "High": bars["high"].to_numpy(),
                "Low": bars["low"].to_numpy(),
                "Close": bars["close"].to_numpy(),
                "Adj Close": bars["close"].to_numpy(),
                "Volume": bars["volume"].round().astype("int64").to_numpy(),
            }
        )
        path = directory / f"{symbol}.csv"
        tmp = path.with_name(path.name + ".tmp")
        table.to_csv(tmp, index=False, float_format="%.6f")
        tmp.replace(path)
        paths.append(path)
    return paths
