"""The walk-forward report: ``report.md`` and a self-contained ``report.html`` with figures.

Everything here is generated from ``metrics.json``, ``equity.csv`` and ``weeks.csv``; in particular the verdict
(:func:`verdict`) is a rule applied to the confidence intervals, never text written for one result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from volts.trading.performance import BOOTSTRAP_MAX_REPS

_ALIASES = {
    "cagr": ("cagr", "CAGR"),
    "volatility": ("volatility", "annual_volatility", "annualised_volatility", "ann_volatility", "vol"),
    "sharpe": ("sharpe", "sharpe_ratio"),
    "sortino": ("sortino", "sortino_ratio"),
    "max_drawdown": ("max_drawdown", "mdd"),
    "max_drawdown_days": ("max_drawdown_days", "max_drawdown_duration_days", "max_drawdown_duration",
                          "mdd_days"),
    "calmar": ("calmar", "calmar_ratio"),
    "turnover": ("turnover", "annual_turnover"),
    "hit_rate_days": ("hit_rate_days", "daily_hit_rate"),
    "hit_rate_trades": ("hit_rate_trades", "trade_hit_rate", "win_rate"),
    "mean": ("mean", "mean_daily", "mean_difference", "mean_daily_difference"),
    "annual_mean": ("annual_mean",),
    "sharpe_difference": ("sharpe_difference",),
    "total_return": ("total_return",),
}


def stat(d: dict | None, name: str) -> float | None:
    """A statistic from a ``performance_stats``/``difference_stats`` dict, tolerant of the key's spelling."""
    if not d:
        return None
    for k in _ALIASES.get(name, (name,)):
        if k in d and not isinstance(d[k], (dict, list, tuple)):
            return None if d[k] is None else float(d[k])
    return None


def ci(d: dict | None, name: str) -> tuple[float | None, float | None]:
    """The 95 % interval of statistic ``name``: ``<name>_ci`` as [low, high] or {low, high}, or
    ``<name>_ci_low``/``<name>_ci_high``."""
    if not d:
        return None, None
    for base in _ALIASES.get(name, (name,)):
        v = d.get(f"{base}_ci")
        if isinstance(v, (list, tuple)) and len(v) == 2:
            return _f(v[0]), _f(v[1])
        if isinstance(v, dict):
            return _f(v.get("low", v.get("lower"))), _f(v.get("high", v.get("upper")))
        for lo_k, hi_k in ((f"{base}_ci_low", f"{base}_ci_high"), (f"{base}_low", f"{base}_high"),
                           (f"{base}_ci_lower", f"{base}_ci_upper")):
            if lo_k in d and hi_k in d:
                return _f(d[lo_k]), _f(d[hi_k])
    return None, None


def _f(x):
    return None if x is None else float(x)


def _pct(v, digits=1):
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def _num(v, fmt="{:.2f}"):
    return "–" if v is None else fmt.format(v)


def _ci_text(d, name, fmt="{:.2f}"):
    lo, hi = ci(d, name)
    if lo is None or hi is None:
        return "–"
    se_lo, se_hi = mcse(d, name)
    if se_lo is not None and se_hi is not None:   # each end with its Monte-Carlo standard error
        return f"[{fmt.format(lo)} ±{se_lo:.3f}, {fmt.format(hi)} ±{se_hi:.3f}]"
    return f"[{fmt.format(lo)}, {fmt.format(hi)}]"


def _ci_pct(d, name):
    lo, hi = ci(d, name)
    if lo is None or hi is None:
        return "–"
    se_lo, se_hi = mcse(d, name)
    if se_lo is not None and se_hi is not None:
        return f"[{_pct(lo)} ±{100 * se_lo:.2f}, {_pct(hi)} ±{100 * se_hi:.2f}]"
    return f"[{_pct(lo)}, {_pct(hi)}]"


def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


BENCH_LABELS = {"followers_buy_and_hold": "followers' buy-and-hold (same weights, same weekly changes)",
                "universe_equal_weight": "equal-weight buy-and-hold of the universe",
                "spy": "SPY buy-and-hold (over the span its file covers)"}


# ------------------------------------------------------------------------------------------- verdict
def _side(lo, hi) -> str | None:
    if lo is None or hi is None:
        return None
    if lo > 0:
        return "above"
    if hi < 0:
        return "below"
    return "straddles"


def mcse(d: dict | None, name: str) -> tuple[float | None, float | None]:
    """Monte-Carlo standard errors of the ends of ``name``'s interval (``<name>_ci_low_mcse`` / ``_high_mcse``)."""
    if not d:
        return None, None
    return _f(d.get(f"{name}_ci_low_mcse")), _f(d.get(f"{name}_ci_high_mcse"))


def at_the_edge(lo, hi, se_lo, se_hi, k: float = 2.0) -> bool:
    """True when an interval end lies within ``k`` Monte-Carlo standard errors of zero: another set of bootstrap
    resamples could put that end on the other side of zero, so the interval's side of zero is not settled."""
    return any(v is not None and se is not None and abs(v) <= k * se for v, se in ((lo, se_lo), (hi, se_hi)))


def _edge_text(lo, hi, se_lo, se_hi, fmt) -> str:
    end, v, se = ("lower", lo, se_lo) if (lo is not None and se_lo is not None and abs(lo) <= 2 * se_lo) else \
        ("upper", hi, se_hi)
    return (f"at the edge: its {end} end {fmt(v)} lies within two Monte-Carlo standard errors ({fmt(se)} each) "
            f"of zero, so another set of bootstrap resamples could put it on the other side; no claim on the sign "
            f"is made")


def verdict(metrics: dict) -> list[str]:
    """Plain-words conclusions from the 95 % intervals of ``metrics`` (a list of sentences).

    Rules: an interval entirely above zero supports "positive", entirely below "negative", otherwise the data
    cannot tell the sign. The same rule is applied to the strategy's Sharpe ratio at the configured costs and at
    10 bps a side, and to the mean daily difference against each benchmark. The closing sentences say what no
    interval here can show.
    """
    out: list[str] = []
    for who, rec in [("strategy", (metrics.get("strategy") or {}).get("ruined"))] + [
            (BENCH_LABELS.get(k, k), (b or {}).get("ruined")) for k, b in (metrics.get("benchmarks") or {}).items()]:
        if rec:
            out.append(f"RUINED: the {who}'s equity reached {rec['equity']:,.2f} USD on {rec['date']}. An account "
                       f"at or below zero cannot keep trading, so every statistic of the {who} covers the span up "
                       f"to that day, counted as a loss of everything (-100 %). The {rec['sessions_lost']} sessions "
                       f"after it in equity.csv are what the rules would have marked on credit no broker gives, "
                       f"not a result.")
    ruined_rows = [f"{float(row.get('bps_per_side', 0)):g} bps" for row in metrics.get("cost_table") or []
                   if row.get("ruined")]
    if ruined_rows:
        out.append(f"The cost table's rows at {', '.join(ruined_rows)} a side were ruined too; their statistics also "
                   f"stop at the ruin day.")
    if metrics.get("optimistic"):
        out.append("OPTIMISTIC: execution = \"close\" fills at the same close that produced the signal; every "
                   "figure below is an upper bound on what next-open execution would give.")
    s = metrics.get("strategy") or {}
    lo, hi = ci(s, "sharpe")
    side = _side(lo, hi)
    sh = stat(s, "sharpe")
    years = _years(metrics)
    every = str(metrics.get("every") or "1W")
    freq = "weekly re-selection" if every.strip().upper() in ("1W", "W") else f"re-selection every {every}"
    span = f"over {years:.1f} years of {freq}" if years else "over this walk-forward"
    ruin = s.get("ruined")
    if ruin:   # the statistics stop at the ruin day: say so rather than quote the run's length
        try:
            upto = (pd.Timestamp(ruin["date"]) - pd.Timestamp(metrics["first_asof"])).days / 365.25
            span = f"over the {upto:.1f} years of {freq} up to its ruin on {ruin['date']}"
        except (KeyError, ValueError):
            span = f"up to its ruin on {ruin.get('date')}"
    se_lo, se_hi = mcse(s, "sharpe")
    if side is None:
        out.append(f"The strategy's Sharpe ratio is {_num(sh)}; no confidence interval was computed, so nothing "
                   f"can be concluded about its sign.")
    elif at_the_edge(lo, hi, se_lo, se_hi):
        out.append(f"At the configured costs the strategy's Sharpe ratio is {_num(sh)} and its 95 % CI "
                   f"[{lo:.2f}, {hi:.2f}] is {_edge_text(lo, hi, se_lo, se_hi, lambda v: f'{v:.3f}')} {span}.")
    elif side == "above":
        out.append(f"At the configured costs the strategy's Sharpe ratio ({_num(sh)}, 95 % CI "
                   f"[{lo:.2f}, {hi:.2f}]) is positive with 95 % confidence {span}.")
    elif side == "below":
        out.append(f"At the configured costs the strategy's Sharpe ratio ({_num(sh)}, 95 % CI "
                   f"[{lo:.2f}, {hi:.2f}]) is negative with 95 % confidence {span}: it lost money on a "
                   f"risk-adjusted basis.")
    else:
        out.append(f"At the configured costs the strategy's Sharpe ratio is {_num(sh)}, but its 95 % CI "
                   f"[{lo:.2f}, {hi:.2f}] contains zero: {span}, the record cannot tell skill from luck.")
    for row in metrics.get("cost_table") or []:
        if float(row.get("bps_per_side", -1)) == 10.0:
            l10, h10 = ci(row, "sharpe")
            s10 = _side(l10, h10)
            if s10 is not None:
                word = {"above": "positive", "below": "negative", "straddles": "indistinguishable from zero"}[s10]
                if at_the_edge(l10, h10, *mcse(row, "sharpe")):
                    word = _edge_text(l10, h10, *mcse(row, "sharpe"), lambda v: f"{v:.3f}")
                out.append(f"At 10 bps a side (no fixed commission) the Sharpe ratio is {_num(stat(row, 'sharpe'))} "
                           f"[{l10:.2f}, {h10:.2f}]: {word}.")
    for name, d in (metrics.get("differences") or {}).items():
        dl, dh = ci(d, "annual_mean")
        sd = _side(dl, dh)
        label = BENCH_LABELS.get(name, name)
        if sd is None:
            continue
        if d.get("ruined"):   # the difference is measured up to the first ruin of either curve
            label = f"{label} (up to {d.get('end')}, the first ruin of either curve)"
        if at_the_edge(dl, dh, *mcse(d, "annual_mean")):
            out.append(f"Against the {label} the annualised mean return difference has a 95 % CI [{_pct(dl)}, "
                       f"{_pct(dh)}] a year, "
                       f"{_edge_text(dl, dh, *mcse(d, 'annual_mean'), lambda v: _pct(v, 2))}.")
        elif sd == "above":
            out.append(f"Against the {label} the annualised mean return difference is positive with 95 % "
                       f"confidence (CI [{_pct(dl)}, {_pct(dh)}] a year): the strategy beat it.")
        elif sd == "below":
            out.append(f"Against the {label} the annualised mean return difference is negative with 95 % "
                       f"confidence (CI [{_pct(dl)}, {_pct(dh)}] a year): holding it would have done better.")
        else:
            out.append(f"Against the {label} the annualised mean return difference has a 95 % CI "
                       f"[{_pct(dl)}, {_pct(dh)}] a year that contains zero: no difference can be claimed "
                       f"either way.")
    w = metrics.get("weeks") or {}
    out.extend(metrics.get("strategy_notes") or [])
    if w.get("weeks") and w.get("weeks_in_cash") and not metrics.get("strategy_activity"):
        out.append(f"The selection found no pair in {w['weeks_in_cash']} of {w['weeks']} weeks "
                   f"({_pct(w.get('share_in_cash'), 0)}); those weeks held cash, so the record describes the "
                   f"remaining {w['weeks'] - w['weeks_in_cash']} weeks' trades more than a permanently invested "
                   f"strategy.")
    fund = metrics.get("funding") or {}
    if fund.get("unfunded_pair_weeks"):
        out.append(f"{fund['unfunded_pair_weeks']} of {fund['pair_weeks']} pair-weeks were selected but unfunded "
                   f"(the pairs already held had all the capital, and a held pair is never resized) in "
                   f"{fund['weeks_with_unfunded_pairs']} weeks: the record does not trade those picks.")
    out += _chance_verdict(metrics)
    inf = metrics.get("sharpe_inference") or {}
    n_trials = inf.get("n_trials") or 1
    correction = ("no correction is made for the number of configurations a user may have tried before this one"
                  if n_trials <= 1 else
                  f"the deflated Sharpe ratio corrects only for the {n_trials} configurations of the ablation table, "
                  "not for those a user may have tried before this one")
    out.append("What the intervals do not show: they are computed from one historical path of one universe; the "
               "bootstrap treats the daily returns as a stationary series, which regime changes violate; "
               f"{correction}; and past out-of-sample results do not bound future ones.")
    return out


#: Level of the plain-words rules on the permutation p-value and the deflated Sharpe ratio.
CHANCE_LEVEL = 0.05


def _chance_verdict(metrics: dict) -> list[str]:
    """Verdict sentences on the random-pairs null and the DSR (only when the ablation ran)."""
    ab = metrics.get("ablation") or {}
    null = ab.get("null") or {}
    out = []
    p = null.get("p_value")
    if p is not None:
        head = (f"Against {null.get('draws')} draws of random pairs from the same weeks' candidates (same number of "
                f"pairs, same weeks in cash, lags {null['lag_range'][0]}..{null['lag_range'][1]}, same costs), the "
                f"strategy's Sharpe ratio is at the {_num(null.get('percentile'), '{:.1f}')}th percentile, "
                f"permutation p = {p:.3f}")
        if p <= CHANCE_LEVEL:
            out.append(head + f" <= {CHANCE_LEVEL:g}: on this history, choosing these pairs and lags beat choosing "
                              "them at random among the same candidates.")
        else:
            out.append(head + f" > {CHANCE_LEVEL:g}: the record cannot tell the selection from random pairs among "
                              "the same candidates.")
    inf = metrics.get("sharpe_inference") or {}
    level = 1 - CHANCE_LEVEL
    if ab and inf.get("dsr") is not None and (inf.get("n_trials") or 1) <= 1:
        # one configuration run (a point-in-time universe runs only the headline): nothing to deflate, DSR = PSR(0)
        word = ("the Sharpe ratio is significantly above zero" if inf["dsr"] >= level else
                "the record does not show a Sharpe ratio significantly above zero")
        out.append(f"Probabilistic Sharpe ratio PSR(0) = {inf['dsr']:.3f} ({'>=' if inf['dsr'] >= level else '<'} "
                   f"{level:g}; one configuration run, so the deflated Sharpe ratio equals it): {word}.")
    elif ab and inf.get("dsr") is not None:
        word = (f">= {level:g}: the Sharpe ratio stays significant after deflating for the configurations compared"
                if inf["dsr"] >= level else
                f"< {level:g}: after deflating for the configurations compared, the Sharpe ratio is not "
                f"significantly above the best that {inf.get('n_trials')} skill-less configurations would be "
                "expected to show")
        out.append(f"Deflated Sharpe ratio {inf['dsr']:.3f} over N = {inf.get('n_trials')} configurations {word}.")
    return out


def _years(metrics: dict) -> float | None:
    try:
        a = pd.Timestamp(metrics["first_asof"])
        b = pd.Timestamp(metrics["end"])
    except (KeyError, ValueError):
        return None
    return (b - a).days / 365.25


# ------------------------------------------------------------------------------------------- figures
def _figures(folder: Path, equity: pd.DataFrame, table: pd.DataFrame, metrics: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, str] = {}
    eq = equity.astype(float)
    ppy = 252

    def until_ruin(s: pd.Series) -> pd.Series:
        """The curve up to its first value <= 0 (ruin), that day set to 0 (see volts.trading.performance.ruin_cut)."""
        from volts.trading.performance import ruin_cut

        return ruin_cut(s)[0]

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for col in eq.columns:
        s = until_ruin(eq[col].dropna())
        if len(s) >= 2 and (s <= 0).any():   # a log axis cannot show 0: mark the ruin day on the last positive value
            ax.plot(s.index[-2:], (s.iloc[-2:].clip(lower=s.iloc[-2] * 1e-3)) / s.iloc[0], ls=":", color="k", lw=1)
            ax.annotate(f"{col} ruined {s.index[-1].date()}", (s.index[-2], s.iloc[-2] / s.iloc[0]), fontsize=8,
                        color="red")
            s = s.iloc[:-1]
        if len(s):
            ax.plot(s.index, s / s.iloc[0], label=col, lw=1.6 if col == "strategy" else 1.0)
    ax.set_yscale("log")
    ax.set_ylabel("growth of 1 (log scale)")
    ax.set_title("Stitched out-of-sample equity against the benchmarks")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    figs["equity"] = _save(fig, folder, "equity.png")

    fig, ax = plt.subplots(figsize=(10, 3))
    for col in eq.columns:
        s = until_ruin(eq[col].dropna())
        if len(s):
            ax.plot(s.index, s / s.cummax() - 1.0, label=col, lw=1.4 if col == "strategy" else 0.9)
    ax.set_ylabel("drawdown")
    ax.set_title("Drawdown from the running peak")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    figs["drawdown"] = _save(fig, folder, "drawdown.png")

    fig, ax = plt.subplots(figsize=(10, 3))
    for col in eq.columns:
        r = until_ruin(eq[col].dropna()).pct_change().dropna()
        if len(r) > ppy:
            roll = r.rolling(ppy).mean() / r.rolling(ppy).std() * np.sqrt(ppy)
            ax.plot(roll.index, roll, label=col, lw=1.4 if col == "strategy" else 0.9)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("Sharpe (52 weeks)")
    ax.set_title("Rolling 52-week (252-session) Sharpe ratio")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, "fewer than 253 sessions: no 52-week window yet", transform=ax.transAxes, ha="center")
    ax.grid(alpha=0.3)
    figs["rolling_sharpe"] = _save(fig, folder, "rolling_sharpe.png")

    picks = (metrics.get("weeks") or {}).get("pick_frequency") or {}
    if picks:
        top = list(picks.items())[:20]
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(top) + 1.2))
        ax.barh([n for n, _ in top][::-1], [v["weeks"] for _, v in top][::-1], color="#4477aa")
        ax.set_xlabel("weeks selected")
        ax.set_title("How often each pair was picked (top 20)")
        figs["pick_frequency"] = _save(fig, folder, "pick_frequency.png")

    if len(table):
        dates = pd.to_datetime(table["asof"])
        fig, ax = plt.subplots(figsize=(10, 3.5))
        ax.plot(dates, table["candidates"], label="candidates (mid volatility)", lw=1)
        for col in [c for c in table.columns if c.endswith("_kept")]:
            ax.plot(dates, table[col], label=col.replace("_kept", " kept"), lw=1)
        cash = table["pairs"] == 0
        ax.scatter(dates[cash], np.zeros(int(cash.sum())), marker="|", color="red", s=60,
                   label=f"week in cash ({int(cash.sum())})")
        ax.set_ylabel("count")
        ax.set_title("Selection funnel over time (ordered pairs kept per stage) and weeks in cash")
        ax.legend(loc="upper left", fontsize=7, ncol=3)
        ax.grid(alpha=0.3)
        figs["funnel"] = _save(fig, folder, "funnel.png")
    return figs


def _save(fig, folder: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    from volts.reporting.figures import save_figure

    save_figure(fig, folder / name, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return name


# -------------------------------------------------------------------------------------------- report
def _reps_note(m: dict) -> str:
    reps = [int(d["bootstrap_reps"]) for d in [m.get("strategy") or {}, *(m.get("benchmarks") or {}).values(),
                                                 *(m.get("differences") or {}).values()]
            if isinstance(d, dict) and d.get("bootstrap_reps")]
    missed = [k for d in [m.get("strategy") or {}, *(m.get("differences") or {}).values()] if isinstance(d, dict)
              for k, v in d.items() if k.endswith("_mcse_met") and v is False]
    out = f" ({min(reps):,} to {max(reps):,} resamples here)" if reps else ""
    if missed:   # the target needed more resamples than the cap: the errors shown are above the target
        words = sorted({k[:-len("_ci_mcse_met")].replace("_", " ") for k in missed})
        out += (f"; the target would need more than the cap of {BOOTSTRAP_MAX_REPS:,} resamples, so the resampling "
                "stopped before the target for: " + ", ".join(words) + " (the errors shown are larger)")
    return out


def _stats_rows(metrics: dict) -> list[list]:
    rows = []
    items = [("strategy", metrics.get("strategy") or {})]
    items += [(BENCH_LABELS.get(k, k), v) for k, v in (metrics.get("benchmarks") or {}).items()]
    for name, s in items:
        dd_days = stat(s, "max_drawdown_days")
        rows.append([name, _pct(stat(s, "cagr")), _pct(stat(s, "volatility")), _num(stat(s, "sharpe")),
                     _ci_text(s, "sharpe"), _num(stat(s, "sortino")),
                     _pct(stat(s, "max_drawdown")) + ("" if dd_days is None else f" ({dd_days:.0f} d)"),
                     _num(stat(s, "calmar")), _num(stat(s, "turnover"), "{:.1f}"),
                     _pct(stat(s, "hit_rate_days"), 0), _pct(stat(s, "hit_rate_trades"), 0)])
    return rows


def build_walkforward_markdown(metrics: dict, table: pd.DataFrame, figs: dict[str, str],
                               comparison: pd.DataFrame | None = None) -> str:
    """The report's Markdown from the artifacts' contents."""
    m = metrics
    w = m.get("weeks") or {}
    lines = [f"# volts walk-forward: {m.get('start')} .. {m.get('end')}", ""]
    lines += span_markdown(m.get("span"))
    lines += [f"Re-selection every {m.get('every')} on {w.get('weeks')} as-of dates "
              f"({m.get('first_asof')} .. {m.get('last_asof')}); each selection sees only bars up to its as-of "
              f"date; its pairs trade from the next session's open until the next re-selection. Strategy: "
              f"`{m.get('strategy_name')}`, variant `{m.get('variant')}`, engine `{m.get('engine')}`. "
              f"Config SHA-256 `{str(m.get('config_sha256'))[:12]}`, data SHA-256 `{str(m.get('data_sha256'))[:12]}`.",
              ""]
    lines += ["## Verdict", ""] + [f"* {s}" for s in m.get("verdict") or verdict(m)] + [""]
    lines += ["## Strategy and benchmarks (configured costs)", "",
              _table(["", "CAGR", "volatility", "Sharpe", "Sharpe 95 % CI", "Sortino", "max drawdown (duration)",
                      "Calmar", "turnover / yr", "hit rate days", "hit rate trades"], _stats_rows(m)), "",
              "Confidence intervals: stationary bootstrap of the daily returns (Politis & Romano), block length from "
              "arch's optimal-block-length estimate. Each interval end is followed by its Monte-Carlo standard "
              "error (±, from the number of resamples; sample-quantile error with a Hall-Sheather sparsity "
              "estimate); resamples are added until it is below 0.01 for a Sharpe ratio and 0.1 percentage "
              "point for a mean return" + _reps_note(m) + ". A verdict whose interval end lies within two such "
              "errors of zero is called \"at the edge\".", ""]
    for name, why in (m.get("benchmarks_omitted") or {}).items():
        lines += [f"Benchmark left out: {BENCH_LABELS.get(name, name)}. Why: {why}.", ""]
    for name, rows in (m.get("benchmark_data_quality") or {}).items():
        lines += [f"Validation of the {BENCH_LABELS.get(name, name)} bars: "
                  + "; ".join(f"{r['date']} {r['rule']} ({r['action']})" for r in rows) + ".", ""]
    diffs = m.get("differences") or {}
    if diffs:
        rows = [[BENCH_LABELS.get(k, k), f"{d.get('start', '')} .. {d.get('end', '')}",
                 _pct(stat(d, "annual_mean")), _ci_pct(d, "annual_mean"),
                 _num(stat(d, "sharpe")), _ci_text(d, "sharpe"),
                 _num(stat(d, "sharpe_difference")), _ci_text(d, "sharpe_difference")] for k, d in diffs.items()]
        lines += ["## Strategy minus each benchmark (daily returns)", "",
                  _table(["benchmark", "span", "mean difference / yr", "95 % CI", "information ratio", "95 % CI",
                          "Sharpe difference", "95 % CI"], rows), ""]
    cost = m.get("cost_table") or []
    if cost:
        rows = []
        for r in cost:
            fb = r.get("followers_buy_and_hold") or {}
            rows.append([f"{r['bps_per_side']:g}", _pct(stat(r, "cagr")), _num(stat(r, "sharpe")),
                         _ci_text(r, "sharpe"), _pct(stat(r, "max_drawdown")), _num(stat(r, "turnover"), "{:.1f}"),
                         _pct(stat(fb, "cagr")) if fb else "–", _num(stat(fb, "sharpe")) if fb else "–"])
        lines += ["## Cost table", "",
                  "The headline row repeated with every order costing the given basis points per side (no fixed "
                  "commission), the rest unchanged.", "",
                  _table(["bps / side", "CAGR", "Sharpe", "Sharpe 95 % CI", "max drawdown", "turnover / yr",
                          "followers B&H CAGR", "followers B&H Sharpe"], rows), ""]
    lines += headline_at_bps(m, (0.0, 10.0))
    from volts.evaluation.disclosure import costs_markdown, funding_markdown

    lines += costs_markdown(m) + funding_markdown(m)
    lines += ablation_markdown(m)
    lines += sharpe_inference_markdown(m)
    for key, caption in (("equity", "Equity, log scale"), ("drawdown", "Drawdown"),
                         ("rolling_sharpe", "Rolling 52-week Sharpe")):
        if key in figs:
            lines += [f"![{caption}]({figs[key]})", ""]
    lines += ["## Weeks and pairs", "",
              _table(["weeks", "in cash", "without a selection (a stage had too little input)", "distinct pairs",
                      "average pair lifetime (re-selections)"],
                     [[w.get("weeks"), w.get("weeks_in_cash"), w.get("weeks_without_selection"),
                       w.get("distinct_pairs"), _num(w.get("avg_pair_lifetime_weeks"), "{:.1f}")]]), ""]
    picks = w.get("pick_frequency") or {}
    if picks:
        rows = [[n, v["weeks"], _pct(v["share"]), ", ".join(f"{k} ({c})" for k, c in v["lags"].items())]
                for n, v in list(picks.items())[:25]]
        lines += ["How often each pair was picked (top 25; lags chosen as 'lag (number of weeks)'):", "",
                  _table(["pair", "weeks", "share of weeks", "lags chosen"], rows), ""]
    from volts.selection.date_stability import walkforward_date_stability_markdown

    lines += walkforward_date_stability_markdown(m.get("date_stability"))
    for key, caption in (("pick_frequency", "Pick frequency"), ("funnel", "Funnel over time")):
        if key in figs:
            lines += [f"![{caption}]({figs[key]})", ""]
    planted = m.get("planted")
    if planted:
        rows = [[n, v["lag"], _pct(v["share_selected"]), _pct(v["share_with_planted_lag"])]
                for n, v in planted["pairs"].items()]
        lines += ["## Planted pairs (synthetic market)", "",
                  _table(["planted pair", "planted lag", "weeks selected", "weeks selected with the planted lag"],
                         rows), "",
                  f"Weeks whose selection is exactly the planted set with the planted lags: "
                  f"{_pct(planted.get('share_exact'))}; selected pairs that were not planted: "
                  f"{_num(planted.get('false_pairs_per_week'))} a week on average.", ""]
    pol = m.get("data_policy") or {}
    notes = pol.get("flagged_notes_seen_by_selections") or []
    lines += ["## Data policy", "",
              f"`data.return_jump = \"{pol.get('return_jump')}\"`: a close-to-close move beyond "
              f"`max_abs_return = {pol.get('max_abs_return')}` "
              + ("is kept and reported here instead of stopping the run (a real move is data, an unadjusted split "
                 "is not: check each one)." if pol.get("return_jump") == "flag" else "stops the run."), ""]
    if notes:
        lines += [_table(["symbol", "date", "rule", "note"],
                         [[n["symbol"], n["date"], n["rule"], n["message"]] for n in notes]), ""]
    else:
        lines += ["No bar seen by any week's selection was flagged.", ""]
    dq = m.get("data_quality") or {}
    gone = [f for f in dq.get("findings") or [] if f["action"] in ("dropped", "filled")]
    if gone:
        lines += [f"Rows dropped under `data.on_invalid = \"drop\"` (or dates aligned by `data.missing`): "
                  f"{sum((dq.get('rows_dropped') or {}).values())} dropped, "
                  f"{sum((dq.get('rows_filled') or {}).values())} filled.", "",
                  _table(["symbol", "date", "rule", "action", "note"],
                         [[f["symbol"], f["date"] or "", f["rule"], f["action"], f["message"]] for f in gone[:100]]),
                  ""]
    lines += universe_markdown(m.get("universe"))
    if comparison is not None and len(comparison):
        lines += comparison_markdown(comparison)
    lines += ["## Files", "",
              "`weeks.csv` (one row per re-selection: funnel counts, pairs with lags and statistics, the week's "
              "P&L), `equity.csv` (daily equity of the strategy and benchmarks), `trades.csv`, `metrics.json`; each "
              "week's selection is kept as JSON under `../weeks/`.", ""]
    return "\n".join(lines)


def ablation_markdown(metrics: dict) -> list[str]:
    """The null/ablation section (``metrics["ablation"]``, :mod:`volts.evaluation.nulls`); empty without it."""
    ab = metrics.get("ablation")
    if not ab:
        return []
    null = ab.get("null") or {}
    rows = []
    for r in ab.get("rows") or []:
        if r.get("status") != "run":
            rows.append([r["variant"], r.get("screens") or "–", r.get("every") or "–"] + ["–"] * 7
                        + [r.get("note") or "not run"])
            continue
        if r.get("row") == "random-pairs":
            rows.append([r["variant"], "random", r.get("every") or "–", "–", f"{_num(r.get('sharpe'))} (median)",
                         f"[{_num(r.get('sharpe_ci_low'))}, {_num(r.get('sharpe_ci_high'))}] (2.5-97.5 % of draws)",
                         "–", "–", "–", "–", f"headline at the {_num(r.get('percentile'), '{:.1f}')}th percentile, "
                                             f"permutation p = {_num(r.get('p_value'), '{:.4f}')}"])
            continue
        rows.append([r["variant"], r.get("screens") or "none", r.get("every") or "–", _pct(_nan(r.get("cagr"))),
                     _num(_nan(r.get("sharpe"))),
                     "–" if r.get("sharpe_ci_low") is None else
                     f"[{_num(_nan(r.get('sharpe_ci_low')))}, {_num(_nan(r.get('sharpe_ci_high')))}]",
                     _pct(_nan(r.get("max_drawdown"))), _num(_nan(r.get("turnover")), "{:.1f}"),
                     f"{r.get('weeks_in_cash')} / {r.get('weeks')}", r.get("distinct_pairs"), r.get("note") or ""])
    lines = ["## Null model and ablation (same weeks, same bars, same costs)", "",
             "Each row is the walk-forward over the same span with one stage changed; every row trades with the same "
             "rule, capital and configured costs. `screens` is the pair funnel between the mid-volatility "
             "candidates and the DTW lag stage. Files: `ablation.csv` (this table), `nulls.json` (every draw's "
             "Sharpe ratio).", "",
             _table(["configuration", "screens", "re-selection", "CAGR", "Sharpe", "95 % CI / null range",
                     "max drawdown", "turnover / yr", "weeks in cash", "distinct pairs", "note"], rows), ""]
    if null:
        lines += [f"Random-pairs null: {null.get('draws')} seeded draws (seeds {null.get('seed')} .. "
                  f"{null.get('seed', 0) + (null.get('draws') or 1) - 1}); each week holds as many ordered pairs as "
                  f"the headline selected, drawn without replacement from that week's mid-volatility candidates, "
                  f"each with a lag uniform on {null['lag_range'][0]} .. {null['lag_range'][1]} (`[lag]`), traded by "
                  f"the same simulator at the same costs; weeks the headline spent in cash stay in cash. The "
                  f"headline's Sharpe ratio {_num(null.get('strategy_sharpe'))} is reached or exceeded by "
                  f"{null.get('at_or_above')} draw(s): permutation p = (1 + {null.get('at_or_above')}) / "
                  f"({null.get('draws')} + 1) = {_num(null.get('p_value'), '{:.4f}')}; percentile "
                  f"{_num(null.get('percentile'), '{:.1f}')} (share of draws strictly below); null median "
                  f"{_num(null.get('median'))}, 2.5-97.5 % {_num(null.get('q025'))} .. {_num(null.get('q975'))}"
                  + (f"; {null['undefined_draws']} draw(s) had no defined Sharpe ratio (flat equity) and count as "
                     "below" if null.get("undefined_draws") else "") + ".", ""]
    lines += ["What this table supports, and what it does not:", "",
              "* The permutation p-value answers one question: did choosing *these* pairs and lags beat choosing "
              "pairs at random among the same week's candidates, with the same number of pairs, the same weeks in "
              "cash, the same trading rule and costs? It says nothing about the volatility-regime stage (the draws "
              "come from the same candidates) or about the trend rule (the draws trade it too). It is computed on "
              "one history; a small p is evidence against \"random pairs do as well\" on that history, not a "
              "forecast.",
              "* Each configuration has its own 95 % interval; overlapping intervals are not a test of a "
              "difference and no paired test between rows is made here. The rows share the weeks and many pairs, so "
              "their results are strongly correlated.",
              "* A row that was not run says so; it is neither a zero nor a failure.", ""]
    return lines


def sharpe_inference_markdown(metrics: dict) -> list[str]:
    """Probabilistic and deflated Sharpe ratio of the headline (``metrics["sharpe_inference"]``)."""
    inf = metrics.get("sharpe_inference")
    if not inf or inf.get("psr") is None:
        return []
    ab = metrics.get("ablation") or {}
    n = inf.get("n_trials") or 1
    lines = ["## Probabilistic and deflated Sharpe ratio (Bailey & López de Prado 2012, 2014)", "",
             f"The headline's {inf['n_obs']} daily excess returns: Sharpe ratio {inf['sharpe']:.4f} a day "
             f"({inf['sharpe_annual']:.2f} annualised), skewness {inf['skew']:.2f}, kurtosis {inf['kurtosis']:.2f}.",
             "",
             f"* Probabilistic Sharpe ratio PSR(0) = {inf['psr']:.4f}: the probability that the true Sharpe ratio "
             "is above zero, from the standard error of the estimate under i.i.d. returns with this skewness and "
             "kurtosis (Mertens 2002)."]
    if n > 1 and inf.get("dsr") is not None:
        lines.append(f"* Deflated Sharpe ratio DSR = {inf['dsr']:.4f}: PSR against SR0 = {inf['sr0']:.4f} a day "
                     f"({inf['sr0_annual']:.2f} annualised), the expected maximum Sharpe ratio of N = {n} "
                     f"configurations whose true Sharpe ratio is zero. N is the number of configurations the "
                     f"null/ablation table compares ({', '.join(ab.get('trial_rows') or [])}; the random-pairs null "
                     f"is a reference distribution, not a configuration, and a row not run is not counted); the "
                     f"variance of the trials' Sharpe ratios, {inf['trials_variance']:.3g} (per day, squared), is "
                     "that of those rows"
                     + (f" except the ruined ones ({', '.join(inf['ruined_rows'])}: counted in N, but a Sharpe "
                        "ratio measured up to a ruin describes the days before it, and one such extreme value would "
                        "inflate the variance and SR0)." if inf.get("ruined_rows") and inf.get("trials_variance")
                        is not None else "."))
        lines += ["",
                  "What they do not show: both assume independent daily returns (skewness and kurtosis are "
                  "corrected, autocorrelation is not); the DSR counts only the configurations of this table, not "
                  "the settings tried while building the method or by a user before this run, which would lower "
                  "it; and the rows are correlated (same weeks, shared pairs), so N overstates the number of "
                  "independent trials while their variance understates the spread of independent ones.", ""]
    else:
        lines.append(f"* Deflated Sharpe ratio = {inf['dsr']:.4f} = PSR(0): one configuration, nothing deflated. "
                     "`volts walkforward --ablation` compares the ablation's configurations (no screen, Granger only, "
                     "Granger + PCMCI, the full funnel, + stability) and deflates by their number.")
        lines += [""]
    return lines


def span_markdown(span: dict | None) -> list[str]:
    """Lines under the title when the span run differs from the one asked for (a shortened end, weeks left out
    because the data do not cover them); empty otherwise."""
    if not span or not (span.get("notes") or span.get("excluded_weeks")):
        return []
    req = span.get("requested") or {}
    lines = [f"Requested {req.get('start')} .. {req.get('end') or 'the default end'}; run as titled:", ""]
    lines += [f"* {n}" for n in span.get("notes") or []]
    weeks = span.get("excluded_weeks") or []
    if weeks:
        lines += ["", _table(["week left out", "why"], [[e["week"], e["reason"]] for e in weeks[:60]])]
        if len(weeks) > 60:
            lines += ["", f"({len(weeks) - 60} more in `metrics.json`, `span.excluded_weeks`.)"]
    return lines + [""]


def universe_markdown(universe: dict | None) -> list[str]:
    """Report section of a point-in-time universe: coverage per week, quarantined files, the trading pass."""
    if not universe:
        return []
    weeks = universe.get("per_week") or []
    lines = ["## Universe (point in time)", "",
             f"Each week selects from the members of its as-of date ({universe.get('source')}); members without "
             f"usable bars leave with their reason. Usable members per week: {universe.get('usable_min')} .. "
             f"{universe.get('usable_max')}; worst coverage {_pct(universe.get('coverage_min'))}. Members without "
             f"a file are mostly delisted names the vendor dropped: results stay biased towards survivors where "
             f"coverage is low.", ""]
    shown = weeks if len(weeks) <= 60 else weeks[:30] + weeks[-30:]
    rows = [[r["asof"], r["members"], r["usable"], _pct(r["usable"] / r["members"] if r["members"] else None),
             ", ".join(f"{k} {v}" for k, v in r["excluded_by_rule"].items())] for r in shown]
    lines += [_table(["as of", "members", "usable", "coverage", "excluded (rule count)"], rows), ""]
    if len(shown) < len(weeks):
        lines += [f"({len(weeks) - len(shown)} middle weeks not shown; every week is in `weeks.csv`.)", ""]
    bad = universe.get("quarantined") or []
    if bad:
        lines += ["Quarantined files (`[data] on_bad_symbol = \"exclude\"`; each left the weeks whose window holds "
                  "the bad bar):", "",
                  _table(["symbol", "date", "rule", "weeks", "reason"],
                         [[b["symbol"], b.get("date") or "", b["rule"], f"{b['first_week']} .. {b['last_week']}",
                           b["message"]] for b in bad[:100]]), ""]
    else:
        lines += ["No member file was quarantined.", ""]
    left = universe.get("left_out") or []
    if left:
        lines += ["Members left out of some weeks without a bad file (no file, or missing sessions of the week's "
                  "windows such as a later listing):", "",
                  _table(["symbol", "rule", "weeks", "first week's reason"],
                         [[e["symbol"], e["rule"], f"{e['weeks']} ({e['first_week']} .. {e['last_week']})",
                           e["message"]] for e in left[:100]]), ""]
    tr = universe.get("trading") or {}
    if tr:
        padded = tr.get("padded") or {}
        filled = tr.get("filled") or {}
        lines += [f"Trading pass: {len(tr.get('symbols') or [])} traded symbols. The equal-weight benchmark holds "
                  "the traded symbols, a set known only after the run: compare with care.", ""]
        if filled:
            rows = []
            for sym, f in list(filled.items())[:50]:
                exc = f.get("full_span_exclusion") or {}
                spans = f.get("spans") or []
                rows.append([sym, f"{len(spans)}: {spans[0][0]} .. {spans[-1][1]}" if spans else "",
                             exc.get("rule", ""), exc.get("date") or "", exc.get("message", "")])
            lines += [f"{len(filled)} traded symbol(s) fail validation over the whole run (listed later, delisted "
                      "before the end, or a bad bar while not held). Each was validated over the spans the trading "
                      "pass reads it in (the weeks holding it, their windows and the signal warm-up) and given "
                      "flat bars (volume 0) elsewhere: never traded there, and left out of the equal-weight "
                      "benchmark." + (" The first 50:" if len(filled) > 50 else ""), "",
                      _table(["symbol", "spans read", "whole-run rule", "date", "reason"], rows), ""]
        elif padded:   # a metrics.json written before "filled"
            lines += ["Padded with flat bars before their first session (never traded there, left out of the "
                      f"equal-weight benchmark): {', '.join(f'{k} ({v})' for k, v in padded.items())}", ""]
    return lines


def headline_at_bps(metrics: dict, bps_list=(0.0, 10.0)) -> list[str]:
    """Strategy and every benchmark with CAGR, Sharpe [95 % CI], max drawdown, turnover and weeks in cash, at
    each proportional cost of ``bps_list`` (from the cost table)."""
    rows = []
    w = metrics.get("strategy_activity") or metrics.get("weeks") or {}
    cash, total = w.get("weeks_in_cash"), w.get("weeks")
    for r in metrics.get("cost_table") or []:
        if float(r.get("bps_per_side", -1)) not in bps_list:
            continue
        curves = [("strategy", r)] + list((r.get("benchmarks") or {}).items())
        for name, s in curves:
            rows.append([f"{r['bps_per_side']:g}", name, _pct(stat(s, "cagr")), _num(stat(s, "sharpe")),
                         _ci_text(s, "sharpe"), _pct(stat(s, "max_drawdown")), _num(stat(s, "turnover"), "{:.1f}"),
                         f"{cash} / {total}" if name == "strategy" else "–"])
    if not rows:
        return []
    return ["## Strategy and benchmarks at " + " and ".join(f"{b:g}" for b in bps_list) + " bps a side", "",
            _table(["bps / side", "curve", "CAGR", "Sharpe", "Sharpe 95 % CI", "max drawdown", "turnover / yr",
                    "weeks in cash"], rows), ""]


def comparison_markdown(comparison: pd.DataFrame) -> list[str]:
    """Report section rendering a variant comparison table (:func:`volts.evaluation.walkforward.compare_variants`)."""
    rows = []
    for _, r in comparison.iterrows():
        ci_s = "–" if pd.isna(r.get("sharpe_ci_low")) else f"[{r['sharpe_ci_low']:.2f}, {r['sharpe_ci_high']:.2f}]"
        ci_d = ("–" if pd.isna(r.get("diff_ci_low")) else
                f"[{_pct(_nan(r['diff_ci_low']))}, {_pct(_nan(r['diff_ci_high']))}]")
        rows.append([r["variant"], _pct(_nan(r.get("cagr"))), _num(_nan(r.get("sharpe"))), ci_s,
                     _pct(_nan(r.get("max_drawdown"))), _num(_nan(r.get("turnover")), "{:.1f}"),
                     f"{r['weeks_in_cash']} / {r['weeks']}",
                     "–" if _nan(r.get("distinct_pairs")) is None else int(r["distinct_pairs"]),
                     _pct(_nan(r.get("diff_vs_followers_annual_mean"))), ci_d])
    notes = [f"* `{r['variant']}`: {r['note']}" for _, r in comparison.iterrows()
             if isinstance(r.get("note"), str) and r["note"]]
    return ["## Variants over the same weeks", "",
            _table(["variant", "CAGR", "Sharpe", "95 % CI", "max drawdown", "turnover / yr", "weeks in cash",
                    "distinct pairs", "mean diff vs followers B&H / yr", "95 % CI"], rows), ""] + \
        (notes + [""] if notes else [])


def _nan(x):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def write_walkforward_report(folder: str | Path, *, metrics: dict, equity: pd.DataFrame, table: pd.DataFrame,
                             weeks: Sequence[dict] | None = None,
                             comparison: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` (figures embedded) and the PNG figures into ``folder``."""
    from volts.core.artifacts import atomic_write_text
    from volts.reporting.run_report import markdown_to_html

    folder = Path(folder)
    figs = _figures(folder, equity, table, metrics)
    md = build_walkforward_markdown(metrics, table, figs, comparison)
    md_path = atomic_write_text(folder / "report.md", md)
    html_path = atomic_write_text(folder / "report.html",
                                  markdown_to_html(md, folder, title="volts walk-forward report"))
    return md_path, html_path
