"""Intraday walk-forward on the crypto H1 folder (``examples/intraday_crypto_h1.toml``): where the time goes.

* loading the 12 coins' H1 files once;
* the decision bars of a daily re-selection 2019-01-01 .. 2023-08-31 (as many as the coins' common span holds);
* one decision's selection (``volts.evaluation.bar_decisions.select_decision`` with the pipeline selector) at three
  decision bars spread over the span, and its stages (the selection's own timings);
* the trading pass over all decisions with stand-in pairs (three seeded random ordered pairs a decision, lags 1-10
  bars): with benchmarks, and without (one random-pairs null draw);
* the statistics (:func:`volts.evaluation.summary.summarise`: bootstrap intervals of every curve and the cost
  table), the figure that dominates on hourly bars.

Figures are wall times on a shared 2-core machine (noisy). The projection for the whole run is
``selections * seconds per selection / workers + trading + statistics + null draws * seconds per draw / workers``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "intraday_crypto_h1.toml"


def main() -> None:
    from volts.core.config import load_settings
    from volts.evaluation.bar_decisions import select_decision
    from volts.evaluation.bar_schedule import decision_bars
    from volts.evaluation.bar_walkforward import _load_panel, bar_schedule, bar_strategy, run_bars_per_year
    from volts.evaluation.summary import summarise
    from volts.trading.simulate import simulate_schedule

    settings = load_settings(CONFIG)
    t0 = time.perf_counter()
    panel = _load_panel(settings, pd.Timestamp("2023-09-01"))
    market = panel.market
    t_load = time.perf_counter() - t0
    print(f"load: {t_load:.1f} s, {len(market.dates)} H1 stamps (union) {market.dates[0]} .. {market.dates[-1]}")
    decisions = decision_bars(market.dates, "H1", "1D", "2019-01-01", "2023-08-31")
    print(f"daily decisions: {len(decisions)} ({decisions[0].asof} .. {decisions[-1].asof})")

    sel_times = []
    for k in (len(decisions) // 4, len(decisions) // 2, len(decisions) - 1):
        t0 = time.perf_counter()
        try:
            rec = select_decision(panel, settings, decisions[k].asof)
        except Exception as exc:  # the selection on bars is not available in this build
            print(f"one decision's selection: not measured ({type(exc).__name__}: {exc})")
            break
        sel_times.append(time.perf_counter() - t0)
        stages = ", ".join(f"{s} {v:.2f}" for s, v in rec["timings"].items())
        print(
            f"selection at {decisions[k].asof}: {sel_times[-1]:.2f} s, {len(rec['candidates'])} candidates, "
            f"{len(rec['pairs'])} pairs, {len(rec['excluded'])} symbols excluded ({stages})"
        )

    rng = np.random.default_rng(0)
    syms = market.symbols
    records = []
    for d in decisions:
        pairs: list[dict] = []
        while len(pairs) < 3:
            a, b = rng.choice(len(syms), 2, replace=False)
            if not any(p["leader"] == syms[a] and p["follower"] == syms[b] for p in pairs):
                pairs.append({"leader": syms[a], "follower": syms[b], "lag": int(rng.integers(1, 11))})
        records.append(
            {"asof": d.asof.isoformat(), "timeframe": "H1", "pairs": pairs, "candidates": syms, "status": "ok"}
        )
    rsettings = settings.override(**{"metrics.periods_per_year": int(round(run_bars_per_year(settings, market.dates)))})
    schedule = bar_schedule(records)
    last = market.dates[market.dates <= pd.Timestamp("2023-08-31 23:00")][-1]
    t0 = time.perf_counter()
    sim = bar_strategy(market, schedule, end=last, settings=rsettings)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate_schedule(market, schedule, end=last, settings=rsettings, spy=False, benchmarks=False)
    t_draw = time.perf_counter() - t0
    print(f"trading pass: {t_sim:.2f} s with benchmarks, {t_draw:.2f} s without (one null draw)")
    t0 = time.perf_counter()
    metrics = summarise(
        sim,
        records,
        settings=rsettings,
        market=market,
        schedule=schedule,
        end=last,
        strategy_fn=bar_strategy,
        engine="vectorised",
    )
    t_stats = time.perf_counter() - t0
    reps = metrics["strategy"].get("bootstrap_reps")
    print(f"statistics (bootstrap intervals, cost table): {t_stats:.1f} s (strategy bootstrap: {reps} resamples)")
    if sel_times:
        per = float(np.median(sel_times))
        for workers in (1, 2):
            total = t_load + len(decisions) * per / workers + t_sim + t_stats + 200 * t_draw / workers
            print(f"projected run, {workers} worker(s), 200 null draws: {total / 60:.1f} min")
