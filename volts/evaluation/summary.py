"""Summaries of a walk-forward: the weeks table, performance with intervals, differences against benchmarks.

:func:`summarise` computes the statistics of the strategy and each benchmark (:mod:`volts.trading.performance`),
their differences and the cost table; :func:`weeks_table` gives one row per re-selection (pairs, lags, equity,
P&L); :func:`comparison_row` one row of a comparison of variants.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from volts.core.config import Settings
from volts.data.market import MarketData
from volts.evaluation.schedule import (
    _to_date,
    pair_name,
)

# ------------------------------------------------------------------------------------------ summaries
COST_TABLE_BPS = (0.0, 5.0, 10.0, 25.0)


def weeks_summary(weeks: Sequence[dict]) -> dict:
    """Counts over the weeks: total, in cash, without a selection, distinct pairs, pick frequency and lifetime.

    A pair's lifetime is the length, in re-selections, of a run of consecutive re-selections that keep it
    (same leader and follower); ``avg_pair_lifetime_weeks`` averages over all such runs.
    """
    total = len(weeks)
    in_cash = sum(1 for w in weeks if not w["pairs"])
    no_sel = sum(1 for w in weeks if w.get("status") != "ok")
    picks: dict[str, int] = {}
    lags: dict[str, dict[int, int]] = {}
    runs: list[int] = []
    current: dict[str, int] = {}
    for w in weeks:
        names = {pair_name(p) for p in w["pairs"]}
        for p in w["pairs"]:
            n = pair_name(p)
            picks[n] = picks.get(n, 0) + 1
            lags.setdefault(n, {})
            lags[n][int(p["lag"])] = lags[n].get(int(p["lag"]), 0) + 1
        for n in list(current):
            if n not in names:
                runs.append(current.pop(n))
        for n in names:
            current[n] = current.get(n, 0) + 1
    runs.extend(current.values())
    order = sorted(picks, key=lambda n: (-picks[n], n))
    return {
        "weeks": total,
        "weeks_in_cash": in_cash,
        "weeks_without_selection": no_sel,
        "share_in_cash": in_cash / total if total else None,
        "distinct_pairs": len(picks),
        "avg_pair_lifetime_weeks": float(np.mean(runs)) if runs else None,
        "pick_frequency": {
            n: {"weeks": picks[n], "share": picks[n] / total, "lags": {str(k): v for k, v in sorted(lags[n].items())}}
            for n in order
        },
    }


def planted_recovery(weeks: Sequence[dict], planted: Sequence[Mapping[str, Any]]) -> dict:
    """How often the weekly selections recovered planted pairs (synthetic market with a known answer).

    Returns per planted pair the share of weeks it was selected and the share selected with its planted lag,
    the share of weeks whose selection is exactly the planted set with the planted lags, and the mean number of
    selected pairs per week that were not planted (false positives).
    """
    n = len(weeks)
    out_pairs = {}
    for p in planted:
        name = pair_name(p)
        hit = [q for w in weeks for q in w["pairs"] if pair_name(q) == name]
        out_pairs[name] = {
            "lag": int(p["lag"]),
            "share_selected": len(hit) / n if n else None,
            "share_with_planted_lag": sum(1 for q in hit if int(q["lag"]) == int(p["lag"])) / n if n else None,
        }
    truth = {(pair_name(p), int(p["lag"])) for p in planted}
    names = {pair_name(p) for p in planted}
    exact = sum(1 for w in weeks if {(pair_name(q), int(q["lag"])) for q in w["pairs"]} == truth)
    false = [sum(1 for q in w["pairs"] if pair_name(q) not in names) for w in weeks]
    return {
        "pairs": out_pairs,
        "share_exact": exact / n if n else None,
        "false_pairs_per_week": float(np.mean(false)) if false else None,
    }


def universe_summary(weeks: Sequence[dict], traded: Mapping[str, Any] | None = None) -> dict:
    """``metrics.json["universe"]`` of a point-in-time run: coverage per week and every quarantined file.

    Returns
    -------
    dict
        ``source``, ``per_week`` (asof, members, usable, coverage line, exclusions by rule), ``usable_min`` /
        ``usable_max`` / ``coverage_min`` (share of members with usable data, worst week), ``quarantined`` (each
        bad file once: symbol, rule, date, message, first and last week it was excluded), ``left_out`` (each
        member without a file or without the week's sessions, e.g. a late listing, once per rule: symbol, rule,
        the first week's message, weeks, first and last week), ``trading`` (the
        traded symbols, those padded before their listing, see :func:`trading_market`).
    """
    per_week, bad, out_of = [], {}, {}
    for w in weeks:
        cov = w.get("universe_coverage")
        if cov is None:
            continue
        per_week.append(
            {
                "asof": w["asof"],
                "members": cov["members"],
                "usable": cov["usable"],
                "coverage": cov["coverage"],
                "excluded_by_rule": cov["excluded_by_rule"],
            }
        )
        for e in cov["excluded"]:
            if not e.get("quarantined"):  # no file, incomplete history (a late listing), ticker reuse
                left = out_of.setdefault(
                    (e["symbol"], e["rule"]),
                    {
                        "symbol": e["symbol"],
                        "rule": e["rule"],
                        "message": e["message"],
                        "weeks": 0,
                        "first_week": w["asof"],
                    },
                )
                left["weeks"] += 1
                left["last_week"] = w["asof"]
                continue
            key = (e["symbol"], e["rule"], e.get("date"))
            entry = bad.setdefault(
                key,
                {
                    "symbol": e["symbol"],
                    "rule": e["rule"],
                    "date": e.get("date"),
                    "file": e.get("file"),
                    "message": e["message"],
                    "first_week": w["asof"],
                },
            )
            entry["last_week"] = w["asof"]
    shares = [r["usable"] / r["members"] for r in per_week if r["members"]]
    return {
        "source": weeks[0]["universe_coverage"]["source"] if per_week else None,
        "per_week": per_week,
        "usable_min": min((r["usable"] for r in per_week), default=None),
        "usable_max": max((r["usable"] for r in per_week), default=None),
        "coverage_min": min(shares) if shares else None,
        "quarantined": list(bad.values()),
        "left_out": list(out_of.values()),
        "trading": dict(traded) if traded else None,
    }


def _value_at(equity: pd.Series, day: dt.date, before_start: float) -> float:
    ts = pd.Timestamp(day)
    if ts < equity.index[0]:
        return before_start
    return float(equity.loc[:ts].iloc[-1])


def weeks_table(
    weeks: Sequence[dict], equity: pd.Series | None, *, end: dt.date, capital: float | None = None
) -> pd.DataFrame:
    """``weeks.csv``: one row per re-selection with the funnel counts, the pairs and the P&L of its holding period.

    ``pnl`` is the change of the stitched equity from the close of the as-of date to the close of the next as-of
    date (the last week: to ``end``), USD; ``return`` is that change over the equity at the as-of close.
    """
    stages: list[str] = []
    for w in weeks:
        for s in w["funnel"]:
            if s["stage"] not in stages:
                stages.append(s["stage"])
    rows = []
    for i, w in enumerate(weeks):
        row: dict[str, Any] = {"asof": w["asof"], "status": w.get("status"), "universe": len(w["universe"])}
        cov = w.get("universe_coverage")
        if cov is not None:  # point-in-time universe: members of the date, usable ones, the disclosure line
            row.update(
                members=cov["members"],
                usable=cov["usable"],
                coverage=cov["coverage"],
                excluded=" ".join(f"{e['symbol']}:{e['rule']}" for e in cov["excluded"]),
            )
        row.update(candidates=len(w["candidates"]), candidate_symbols=" ".join(w["candidates"]))
        funnel = {s["stage"]: s for s in w["funnel"]}
        for st in stages:
            row[f"{st}_in"] = funnel[st]["entered"] if st in funnel else 0
            row[f"{st}_kept"] = funnel[st]["kept"] if st in funnel else 0
        row["pairs"] = len(w["pairs"])
        row["pair_list"] = " ".join(f"{pair_name(p)}:{p['lag']}" for p in w["pairs"])
        row["pair_stats"] = " ".join(
            f"{pair_name(p)}(granger_p={_g(p.get('granger_p'))},ete={_g(p.get('ete'))},ete_p={_g(p.get('ete_p'))},"
            f"knn={_g(p.get('knn_accuracy'))})"
            for p in w["pairs"]
            if "granger_p" in p
        )
        if equity is not None and len(equity):
            start_val = capital if capital is not None else float(equity.iloc[0])
            a = _to_date(w["asof"])
            b = _to_date(weeks[i + 1]["asof"]) if i + 1 < len(weeks) else end
            v0, v1 = _value_at(equity, a, start_val), _value_at(equity, b, start_val)
            row["pnl"] = v1 - v0
            row["return"] = v1 / v0 - 1.0 if v0 else None
        row["flagged_notes"] = len(w.get("flagged") or [])
        row["warnings"] = len(w.get("warnings") or [])
        row["error"] = w.get("error") or ""
        rows.append(row)
    return pd.DataFrame(rows)


def _g(x) -> str:
    return "" if x is None else f"{float(x):.4g}"


def _stats(equity: pd.Series, *, trades=None, turnover_value=None, settings: Settings, seed: int = 0) -> dict:
    from volts.trading.performance import performance_stats

    return performance_stats(
        equity,
        trades=trades,
        turnover_value=turnover_value,
        periods_per_year=settings.metrics.periods_per_year,
        risk_free=settings.metrics.risk_free,
        seed=seed,
    )


def _difference(strategy: pd.Series, bench: pd.Series, *, settings: Settings) -> dict:
    from volts.trading.performance import difference_stats

    common = strategy.index.intersection(bench.dropna().index)
    return difference_stats(strategy.loc[common], bench.loc[common], periods_per_year=settings.metrics.periods_per_year)


def summarise(
    sim,
    weeks: Sequence[dict],
    *,
    settings: Settings,
    market: MarketData,
    schedule,
    end: dt.date,
    strategy_fn,
    engine: str,
) -> dict:
    """``metrics.json``: statistics of the strategy and every benchmark, the differences, the cost table, the
    break-even cost with its cost sweep (:func:`volts.evaluation.breakeven.break_even_section`) and the week counts.
    Deterministic for the same inputs (bootstrap seed 0)."""
    out: dict[str, Any] = {}
    out["strategy"] = _stats(sim.equity, trades=sim.trades, turnover_value=sim.turnover_value, settings=settings)
    out["benchmarks"] = {}
    out["differences"] = {}
    for name, series in (sim.benchmarks or {}).items():
        s = series.dropna()
        if len(s) < 3:
            continue
        out["benchmarks"][name] = {
            "first": s.index[0].date().isoformat(),
            "last": s.index[-1].date().isoformat(),
            **_stats(s, settings=settings),
        }
        out["differences"][name] = _difference(sim.equity, s, settings=settings)
    table = []
    from volts.evaluation.breakeven import break_even_section, light_run

    runs: dict[float, Any] = {}  # the cost table's runs (equity and benchmarks), reused by the break-even search
    for bps in COST_TABLE_BPS:
        alt = strategy_fn(market, schedule, end=end, settings=settings, engine=engine, cost_bps=bps)
        runs[float(bps)] = light_run(alt)
        st = _stats(alt.equity, trades=alt.trades, turnover_value=alt.turnover_value, settings=settings)
        row = {"bps_per_side": bps, **st, "benchmarks": {}}
        for name, series in (alt.benchmarks or {}).items():  # the benchmarks under the same costs
            b = series.dropna()
            if len(b) > 2:
                row["benchmarks"][name] = _stats(b, settings=settings)
        if "followers_buy_and_hold" in row["benchmarks"]:
            row["followers_buy_and_hold"] = row["benchmarks"]["followers_buy_and_hold"]
        table.append(row)
    out["cost_table"] = table
    out["break_even"] = break_even_section(
        lambda c: strategy_fn(market, schedule, end=end, settings=settings, engine=engine, cost_bps=c),
        cached=runs,
        settings=settings,
    )
    del runs
    out["weeks"] = weeks_summary(weeks)
    if getattr(sim, "activity", None):  # a strategy that ignores the weekly pairs reports what it held instead
        out["strategy_activity"] = dict(sim.activity)
    if getattr(sim, "notes", None):
        out["strategy_notes"] = list(sim.notes)
    omitted = [e for e in getattr(sim, "events", ()) or () if e.get("event") == "spy_benchmark_omitted"]
    if omitted:  # a benchmark the report would otherwise just not show
        e = omitted[0]
        out["benchmarks_omitted"] = {
            "spy": (e.get("reason") or "") + (f" (first missing session {e['date']})" if e.get("date") else "")
        }
    spy_rows = [e for e in getattr(sim, "events", ()) or () if e.get("event") in ("spy_bar_dropped", "spy_bar_flagged")]
    if spy_rows:  # SPY's bars are validated like the universe's: what validation dropped or flagged there
        out["benchmark_data_quality"] = {
            "spy": [
                {
                    "date": e["date"],
                    "file": e.get("file"),
                    "rule": e.get("rule"),
                    "action": e["event"][8:],
                    "message": e.get("reason"),
                }
                for e in spy_rows
            ]
        }
    out["optimistic"] = bool(getattr(sim, "optimistic", False))  # execution = "close": fills at the signal's close
    from volts.evaluation.disclosure import cost_summary
    from volts.trading.simulate import funding_summary

    if cost_summary(sim, settings) is not None:  # what the result rests on: capital, costs, gross vs net
        out["costs"] = cost_summary(sim, settings)
    if isinstance(getattr(sim, "periods", None), pd.DataFrame) and "n_unfunded" in sim.periods:
        out["funding"] = funding_summary(sim.periods)
    return out


def comparison_row(name: str, metrics: dict) -> dict:
    """One row of a comparison table from a ``metrics.json``."""
    from volts.evaluation.verdict import ci, stat

    s = metrics["strategy"]
    lo, hi = ci(s, "sharpe")
    d = metrics.get("differences", {}).get("followers_buy_and_hold", {})
    dlo, dhi = ci(d, "annual_mean")
    w = metrics["weeks"]
    act = metrics.get("strategy_activity")  # e.g. the lead-lag portfolio: its own holdings, not the weekly pairs
    row = {
        "variant": name,
        "cagr": stat(s, "cagr"),
        "volatility": stat(s, "volatility"),
        "sharpe": stat(s, "sharpe"),
        "sharpe_ci_low": lo,
        "sharpe_ci_high": hi,
        "max_drawdown": stat(s, "max_drawdown"),
        "turnover": stat(s, "turnover"),
        "weeks_in_cash": act["weeks_in_cash"] if act else w["weeks_in_cash"],
        "weeks": act["weeks"] if act else w["weeks"],
        "distinct_pairs": None if act else w["distinct_pairs"],
        "diff_vs_followers_annual_mean": stat(d, "annual_mean"),
        "diff_ci_low": dlo,
        "diff_ci_high": dhi,
    }
    be = (metrics.get("break_even") or {}).get("strategy")
    if be is not None:  # bps per side at which the mean net return is zero (None: no cost makes it break even)
        row["break_even_bps"] = be.get("bps_per_side")
    if metrics.get("strategy_notes"):  # only then: callers merge this row into rows with their own "note"
        row["note"] = " ".join(metrics["strategy_notes"])
    if s.get("ruined"):  # equity at or below zero: the row's statistics stop there (volts.trading.performance.ruin_cut)
        row["ruined"] = str(s["ruined"].get("date") if isinstance(s["ruined"], dict) else s["ruined"])
    return row
