"""Walk-forward trading pass: vectorised simulator against the backtrader engine of record (volts.trading.simulate).

* 50 pairs held for five years (weekly re-selections 2019-01-04 .. 2024-03-01 that keep the same 50 pairs) on the
  30 stocks of the reference data: wall time of each engine in the same run, their ratio, and the largest
  relative difference of their daily equity;
* LeadLagTrend's cost per bar over 45 sessions and over five years (constant since the strategy keeps a bounded
  window of leader closes);
* a random-pair null model as the stability helper runs it: 270 weekly re-selections of 2 random pairs each,
  vectorised, benchmarks off; time per draw.

Figures are wall times on a shared 2-core machine (noisy): compare the ratios, measured in one run.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO.parent / "shared" / "data" / "ohlcv").resolve()


def _market():
    from volts.core.config import Settings
    from volts.data.csv import list_symbols
    from volts.data.sources import load_market

    syms = [s for s in list_symbols(DATA) if s != "SPY"]
    s = Settings().override(**{"data.dir": str(DATA), "data.universe": syms, "data.max_abs_return": 5.0})
    market = load_market(s.data, start="2018-06-01", end="2024-03-08")
    return s, market


def main() -> None:
    from volts.trading.simulate import Holding, Rebalance, simulate_schedule

    settings, market = _market()
    syms = market.symbols
    fridays = [
        d.date() for d in market.dates if d.weekday() == 4 and dt.date(2019, 1, 4) <= d.date() <= dt.date(2024, 3, 1)
    ]
    rng = np.random.default_rng(0)
    pairs: list = []
    while len(pairs) < 50:
        lead, foll = rng.choice(syms, 2, replace=False)
        if all(p.key != f"{lead}->{foll}" for p in pairs):
            pairs.append(Holding(str(lead), str(foll), int(rng.integers(1, 6))))
    sched = [Rebalance(d, tuple(pairs)) for d in fridays]
    end = dt.date(2024, 3, 8)
    rows = []
    t0 = time.perf_counter()
    vec = simulate_schedule(market, sched, end=end, settings=settings, spy=False, benchmarks=False)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    bt = simulate_schedule(market, sched, end=end, settings=settings, spy=False, benchmarks=False, engine="backtrader")
    t_bt = time.perf_counter() - t0
    rel = float(np.max(np.abs(vec.equity.to_numpy() / bt.equity.to_numpy() - 1.0)))
    pair_days = int((vec.positions.loc[vec.equity.index[1] :] != 0).to_numpy().sum())
    rows.append(("50 pairs x 5 years, vectorised", t_vec))
    rows.append(("50 pairs x 5 years, backtrader", t_bt))
    print(
        f"{len(sched)} weekly re-selections, {len(vec.equity) - 1} sessions, {len(vec.fills)} orders, "
        f"{pair_days} pair-days in the market"
    )
    print(f"{'run':<40} {'wall s':>9}")
    for name, secs in rows:
        print(f"{name:<40} {secs:>9.3f}")
    print(f"backtrader / vectorised = {t_bt / t_vec:.0f}x; max relative difference of daily equity {rel:.1e}")

    # LeadLagTrend's per-bar cost (issue 10: it grew with the history): one pair in backtrader, 45 sessions
    # against 5 years, microseconds a bar
    from volts.trading.backtest import simulate_pair

    lead, foll = market.bars("MSFT"), market.bars("AMZN")
    per_bar = {}
    for label, first in (("45 sessions", len(market) - 45), ("5 years", len(market) - 1260)):
        t0 = time.perf_counter()
        simulate_pair(
            lead.iloc[first - 25 :], foll.iloc[first - 25 :], lag=2, start=market.dates[first], end=market.dates[-1]
        )
        per_bar[label] = (time.perf_counter() - t0) / (len(market) - first + 25) * 1e6
    print(
        "LeadLagTrend in backtrader, one pair: "
        + ", ".join(f"{k} {v:.0f} us a bar" for k, v in per_bar.items())
        + f" (ratio 5 years / 45 sessions = {per_bar['5 years'] / per_bar['45 sessions']:.2f})"
    )

    draws = 20
    times = []
    for k in range(draws):
        r = np.random.default_rng(100 + k)
        null = []
        for d in fridays:
            ps: list = []
            while len(ps) < 2:
                lead, foll = r.choice(syms, 2, replace=False)
                if all(p.key != f"{lead}->{foll}" for p in ps):
                    ps.append(Holding(str(lead), str(foll), int(r.integers(1, 11))))
            null.append(Rebalance(d, tuple(ps)))
        t0 = time.perf_counter()
        simulate_schedule(market, null, end=end, settings=settings, spy=False, benchmarks=False)
        times.append(time.perf_counter() - t0)
    warm = float(np.median(times[5:]))
    print(
        f"random-pair null, {len(fridays)} weeks x 2 pairs (lags 1..10), vectorised: first draw {times[0]:.2f} s "
        f"(computes and caches the follower targets of the market), then {warm * 1e3:.0f} ms a draw (median of "
        f"{draws - 5}); 200 draws ~ {times[0] + 199 * warm:.0f} s"
    )


if __name__ == "__main__":
    main()
