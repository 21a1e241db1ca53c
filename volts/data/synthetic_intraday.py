"""A seeded intraday demo market on a 24/7 calendar, with lead-lag pairs planted at lags counted in bars.

Design (all choices ours; none tuned to any result):

* Six symbols on every bar of a 24/7 calendar (``M1`` .. ``H4``; H1 by default): ``LEAD1 -> FOLLOW1`` (lag 2 bars),
  ``LEAD2 -> FOLLOW2`` (lag 6 bars), and ``IND1``, ``IND2`` independent of everything (true negatives).
* Log returns per bar: Gaussian with the annualised volatility ``ANNUAL_VOL`` scaled by the calendar's bars per
  year (:func:`volts.data.timeframes.bars_per_year`, 24/7). A follower's return is
  ``r_F(t) = sqrt(R2) * r_L(t - lag) + e(t)`` with ``e ~ N(0, (1 - R2) sigma^2)``, so the lagged leader explains
  ``R2`` of its variance and its volatility equals the leader's; the leader's path starts ``lag`` bars early.
* Bars of a market that never closes: each bar opens at the previous close (no gap); High and Low are the extremes
  of a ``BRIDGE_STEPS``-step Brownian bridge in log price from open to close, so Low <= min(O, C) <= max(O, C) <=
  High. Volume is log-normal around 1,000 (a vendor's tick count).
* ``vendor_gaps`` runs of missing bars can be cut out of the files :func:`write_synthetic_intraday_csvs` writes
  (the planted truth for the gap report); the :class:`~volts.data.market.MarketData` itself is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from volts.data.market import FIELDS, MarketData
from volts.data.timeframes import bars_per_year, timeframe

__all__ = ["PLANTED_BARS", "SyntheticIntradayMarket", "make_synthetic_intraday_market", "write_synthetic_intraday_csvs"]

#: Planted pairs: (leader, follower, lag in bars).
PLANTED_BARS: tuple[tuple[str, str, int], ...] = (("LEAD1", "FOLLOW1", 2), ("LEAD2", "FOLLOW2", 6))
INDEPENDENT: tuple[str, ...] = ("IND1", "IND2")
#: Annualised volatility of every symbol's log return (fraction; crypto-like).
ANNUAL_VOL = 0.6
#: Share of a follower's return variance explained by its lagged leader.
R2 = 0.4
#: Steps of the Brownian bridge that draws High and Low inside a bar.
BRIDGE_STEPS = 12
CALENDAR = "24/7"


@dataclass(frozen=True)
class SyntheticIntradayMarket:
    """The demo market and its truth.

    Attributes
    ----------
    data : MarketData
        Complete bars indexed by UTC open time.
    timeframe : str
        Bar size.
    calendar : str
        ``"24/7"``.
    pairs : tuple of (str, str, int)
        Planted (leader, follower, lag in bars).
    independent : tuple of str
        Symbols with no planted relation.
    sigma_bar : float
        Standard deviation of one bar's log return.
    """

    data: MarketData
    timeframe: str
    calendar: str
    pairs: tuple
    independent: tuple
    sigma_bar: float


def _bars(r: np.ndarray, sigma: float, c0: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    logc = np.log(c0) + np.cumsum(r)
    logo = np.r_[np.log(c0), logc[:-1]]
    n = len(r)
    steps = rng.normal(0.0, sigma / np.sqrt(BRIDGE_STEPS), size=(n, BRIDGE_STEPS)).cumsum(axis=1)
    t = np.arange(1, BRIDGE_STEPS + 1) / BRIDGE_STEPS
    bridge = steps - t * steps[:, -1:] + t * r[:, None]  # Brownian bridge from 0 to r
    path = logo[:, None] + np.concatenate([np.zeros((n, 1)), bridge], axis=1)
    o, c = np.exp(logo), np.exp(logc)
    # the bridge ends at logo + r, which rounding may put one ulp off logc: bound by O and C themselves
    return {
        "open": o,
        "high": np.maximum(np.exp(path.max(axis=1)), np.maximum(o, c)),
        "low": np.minimum(np.exp(path.min(axis=1)), np.minimum(o, c)),
        "close": c,
    }


def make_synthetic_intraday_market(
    seed: int = 0, *, timeframe_name: str = "H1", start="2023-01-01", end="2023-03-31 23:00"
) -> SyntheticIntradayMarket:
    """Build the seeded intraday demo market (see the module docstring).

    Parameters
    ----------
    seed : int
        numpy ``default_rng`` seed.
    timeframe_name : str
        Bar size (``M1`` .. ``H4``).
    start, end : date-like
        First and last bar open (UTC), both inclusive.

    Returns
    -------
    SyntheticIntradayMarket
    """
    tf = timeframe(timeframe_name)
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=tf.duration, name="time")
    n = len(index)
    sigma = ANNUAL_VOL / np.sqrt(bars_per_year(tf, CALENDAR))
    rng = np.random.default_rng(seed)
    returns = {}
    for leader, follower, lag in PLANTED_BARS:
        lead = rng.normal(0.0, sigma, n + lag)
        returns[leader] = lead[lag:]
        returns[follower] = np.sqrt(R2) * lead[:n] + rng.normal(0.0, np.sqrt(1 - R2) * sigma, n)
    for s in INDEPENDENT:
        returns[s] = rng.normal(0.0, sigma, n)
    symbols = [p[0] for p in PLANTED_BARS] + [p[1] for p in PLANTED_BARS] + list(INDEPENDENT)
    fields = {f: {} for f in FIELDS}
    for s in symbols:
        bars = _bars(returns[s], sigma, float(np.exp(rng.uniform(np.log(10), np.log(1000)))), rng)
        for f in ("open", "high", "low", "close"):
            fields[f][s] = bars[f]
        fields["volume"][s] = np.round(rng.lognormal(np.log(1000), 0.5, n))
    data = MarketData(**{f: pd.DataFrame(fields[f], index=index)[symbols] for f in FIELDS})
    return SyntheticIntradayMarket(data, tf.name, CALENDAR, PLANTED_BARS, INDEPENDENT, float(sigma))


def write_synthetic_intraday_csvs(
    market: SyntheticIntradayMarket, directory: str | Path, *, vendor_gaps: int = 0, seed: int = 0
) -> dict[str, list[tuple[pd.Timestamp, int]]]:
    """Write one tab-separated ``SYMBOL.csv`` per symbol (``Time Open High Low Close Volume``, UTC open times),
    with ``vendor_gaps`` runs of 1-5 missing bars cut out of each file at seeded places.

    Returns
    -------
    dict of str to list of (pandas.Timestamp, int)
        Per symbol, the planted gaps: first missing open time and number of bars.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    idx = market.data.dates
    planted = {}
    for s in market.data.symbols:
        frame = market.data.bars(s).rename(columns=str.capitalize)
        keep = np.ones(len(frame), dtype=bool)
        gaps = []
        # gaps at least 10 bars apart, never at the ends (a gap lies between two bars the file has)
        slots = np.sort(rng.choice(np.arange(1, len(frame) // 10 - 1), size=vendor_gaps, replace=False)) * 10
        for at in slots:
            length = int(rng.integers(1, 6))
            keep[at : at + length] = False
            gaps.append((idx[at], length))
        planted[s] = gaps
        out = frame[keep]
        out.index = out.index.strftime("%Y-%m-%d %H:%M:%S")
        out.to_csv(directory / f"{s}.csv", sep="\t", index_label="Time")
    return planted
