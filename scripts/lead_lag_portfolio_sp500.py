"""Run the seed-004 lead-lag portfolio on the S&P 500 reference files and print the Table-1 style figures.

    .venv/bin/python scripts/lead_lag_portfolio_sp500.py [--data ../shared/data] [--start 2016-01-01]
        [--end 2024-12-31] [--membership point-in-time|files] [--score levy_area] [--out runs/llp_sp500]

Reads ``<data>/sp500/*.csv`` (Yahoo layout: Date, Open, ..., Close, Adj Close) in place and SPY from
``<data>/ohlcv/SPY.csv`` (ends 2024-02-13, so the run ends there). Returns are dividend-adjusted (Adj Close; the
open is scaled by Adj Close / Close of its row). ``--membership point-in-time`` keeps a name on a day only if
``sp500_membership.csv`` lists it as a member that day; ``files`` uses every file as it is. Both are biased towards
survivors (README of the data: 75.8% of the 2015 members have a file, 92.5% in 2021), unlike seed 004's CRSP
universe. Both execution conventions are run: ``next_open`` (volts' rule) and ``close`` (the paper's
closing-auction convention, optimistic). Costs 0 and 5 bps per unit of turnover (eq. 7), from the same decisions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from volts.trading.strategies.lead_lag_portfolio import (  # noqa: E402
    LeadLagPortfolioParams,
    lead_lag_portfolio,
    portfolio_stats,
    returns_from_prices,
)

#: seed 004 Table 1, Panel A (CRSP 1963-07 .. 2022-12, daily, 60-day look-back, 20/20, SPY-financed, zero cost);
#: break-even from LITERATURE.md 004.5 [derived there from Tables 1 and 6]
PAPER = {
    "levy_area": {
        "compound_return_pct": 24.87,
        "return_bps": 8.82,
        "daily_vol_pct": 0.59,
        "sharpe": 2.38,
        "max_drawdown_pct": 24.67,
        "break_even_bps": 7.9,
    }
}


def _read(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, usecols=["Date", "Open", "Close", "Adj Close"], parse_dates=["Date"], index_col="Date")
    return df[~df.index.duplicated()].sort_index()


def load(data: Path):
    frames = {p.stem: _read(p) for p in sorted((data / "sp500").glob("*.csv"))}
    close = pd.DataFrame({k: v["Close"] for k, v in frames.items()})
    adj = pd.DataFrame({k: v["Adj Close"] for k, v in frames.items()})
    open_ = pd.DataFrame({k: v["Open"] for k, v in frames.items()})
    spy = _read(data / "ohlcv" / "SPY.csv")
    idx = close.index.intersection(spy.index)
    close, adj, open_, spy = close.loc[idx], adj.loc[idx], open_.loc[idx], spy.loc[idx]
    bad = (close <= 0) | (open_ <= 0) | (adj <= 0)
    close, adj, open_ = close.mask(bad), adj.mask(bad), open_.mask(bad)
    return close, adj, open_, spy


def membership_mask(path: Path, index: pd.DatetimeIndex, columns) -> pd.DataFrame:
    m = pd.read_csv(path, parse_dates=["start_date", "end_date"])
    mask = pd.DataFrame(False, index=index, columns=columns)
    for row in m.itertuples():
        if row.ticker in mask.columns:
            end = row.end_date if pd.notna(row.end_date) else index[-1]
            mask.loc[(index >= row.start_date) & (index <= end), row.ticker] = True
    return mask


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--start", default="2016-01-01")
    ap.add_argument("--end", default="2024-12-31")
    ap.add_argument("--membership", choices=["point-in-time", "files"], default="point-in-time")
    ap.add_argument("--score", default="levy_area")
    ap.add_argument("--out", type=Path, default=Path("runs/llp_sp500"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    close, adj, open_, spy = load(args.data)
    cc, oo = returns_from_prices(close, adj, open_)
    one = {"Close": "SPY", "Adj Close": "SPY", "Open": "SPY"}
    mcc, moo = returns_from_prices(
        spy[["Close"]].rename(columns=one), spy[["Adj Close"]].rename(columns=one), spy[["Open"]].rename(columns=one)
    )
    jumps = int((cc.abs() > 0.5).sum().sum())
    universe = (
        membership_mask(args.data / "sp500_membership.csv", cc.index, cc.columns)
        if args.membership == "point-in-time"
        else None
    )
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "membership": args.membership,
        "score": args.score,
        "files": int(cc.shape[1]),
        "daily_abs_return_over_50pct": jumps,
        "runs": {},
    }
    lines = [
        f"| execution | cost bps | days | compound %/yr | bps/day | daily vol % | Sharpe | max DD % | "
        f"mean TVR | break-even bps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for execution in ("next_open", "close"):
        params = LeadLagPortfolioParams(score=args.score, execution=execution)
        res = lead_lag_portfolio(
            cc,
            mcc["SPY"],
            open_returns=oo,
            market_open_returns=moo["SPY"],
            universe=universe,
            params=params,
            start=args.start,
            end=args.end,
        )
        res.daily.to_csv(args.out / f"daily_{execution}.csv")
        d = res.daily
        for cost in (0.0, 5.0):
            st = portfolio_stats(res.net(cost), d["turnover"])
            st["break_even_bps"] = portfolio_stats(d["gross"], d["turnover"])["break_even_bps"]  # from gross
            st["optimistic"] = execution == "close"
            summary["runs"][f"{execution}_{cost:g}bps"] = st
            lines.append(
                f"| {execution}{' (optimistic)' if execution == 'close' else ''} | {cost:g} | {st['days']} | "
                f"{st['compound_return_pct']:.2f} | {st['return_bps']:.2f} | {st['daily_vol_pct']:.2f} | "
                f"{st['sharpe']:.2f} | {st['max_drawdown_pct']:.2f} | {st['mean_turnover']:.3f} | "
                f"{st['break_even_bps']:.2f} |"
            )
        summary["runs"][execution + "_info"] = {
            "first_decision": str(d["decision_date"].iloc[0].date()),
            "last_booked": str(d.index[-1].date()),
            "eligible_median": float(d["n_eligible"].median()),
            "eligible_min": int(d["n_eligible"].min()),
            "followers_median": float(d["n_followers"].median()),
            "missing_follower_days": int(d["missing"].sum()),
            "days_in_cash": int((d["signal"] == 0).sum()),
        }
    p = PAPER.get(args.score)
    if p:
        lines.append(
            f"| seed 004 Table 1 (CRSP 1963-2022, close) | 0 | - | {p['compound_return_pct']} | "
            f"{p['return_bps']} | {p['daily_vol_pct']} | {p['sharpe']} | {p['max_drawdown_pct']} | - | "
            f"{p['break_even_bps']} |"
        )
    table = "\n".join(lines)
    summary["table"] = table
    summary["seconds"] = time.perf_counter() - t0
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps({k: v for k, v in summary["runs"].items() if k.endswith("_info")}, indent=1))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
