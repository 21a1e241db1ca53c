"""The walk-forward report: ``report.md`` and a self-contained ``report.html`` with figures.

Everything here is generated from ``metrics.json``, ``equity.csv`` and ``weeks.csv``; in particular the verdict
(:func:`verdict`) is a rule applied to the confidence intervals, never text written for one result.
"""

from __future__ import annotations

from volts.core.registry import REPORT_WRITERS

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from volts.evaluation.verdict import (  # noqa: F401  (re-exported: this module's API before the split)
    _ALIASES,
    BENCH_LABELS,
    CHANCE_LEVEL,
    _chance_verdict,
    _ci_pct,
    _ci_text,
    _edge_text,
    _f,
    _num,
    _pct,
    _side,
    _years,
    at_the_edge,
    ci,
    mcse,
    stat,
    verdict,
)
from volts.trading.performance import BOOTSTRAP_MAX_REPS


def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------- figures
def _figures(folder: Path, equity: pd.DataFrame, table: pd.DataFrame, metrics: dict) -> dict[str, str]:
    """Length: one block per figure (equity, drawdown, weekly pairs, costs), each independent."""
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
    from volts.reporting.figures.costs import cost_sweep_figure

    if cost_sweep_figure(metrics.get("break_even") or {}, folder / "cost_sweep.png"):
        figs["cost_sweep"] = "cost_sweep.png"
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
    """The report's Markdown from the artifacts' contents.

    Length: the walk-forward report written section after section; each section is a short independent block.
    """
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
        from volts.reporting.break_even import break_even_cost_row

        extra = break_even_cost_row(m)
        if extra:
            rows.append(extra)
        lines += ["## Cost table", "",
                  "The headline row repeated with every order costing the given basis points per side (no fixed "
                  "commission), the rest unchanged." + (" The last row is the break-even cost (mean daily net "
                                                        "return zero; no bootstrap there)." if extra else ""), "",
                  _table(["bps / side", "CAGR", "Sharpe", "Sharpe 95 % CI", "max drawdown", "turnover / yr",
                          "followers B&H CAGR", "followers B&H Sharpe"], rows), ""]
    from volts.reporting.break_even import break_even_markdown

    lines += break_even_markdown(m, figs.get("cost_sweep"))
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


def _bps(x, known: bool = True) -> str:
    """A break-even cost in bps per side; "none" when there is none (the row loses before costs), "–" unknown."""
    if not known:
        return "–"
    return "none" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{float(x):.1f}"


def ablation_markdown(metrics: dict) -> list[str]:
    """The null/ablation section (``metrics["ablation"]``, :mod:`volts.evaluation.nulls`); empty without it."""
    ab = metrics.get("ablation")
    if not ab:
        return []
    null = ab.get("null") or {}
    rows = []
    for r in ab.get("rows") or []:
        if r.get("status") != "run":
            rows.append([r["variant"], r.get("screens") or "–", r.get("every") or "–"] + ["–"] * 8
                        + [r.get("note") or "not run"])
            continue
        if r.get("row") == "random-pairs":
            rows.append([r["variant"], "random", r.get("every") or "–", "–", f"{_num(r.get('sharpe'))} (median)",
                         f"[{_num(r.get('sharpe_ci_low'))}, {_num(r.get('sharpe_ci_high'))}] (2.5-97.5 % of draws)",
                         "–", "–", _bps(r.get("break_even_bps"), "break_even_bps" in r) + " (median)", "–", "–",
                         f"headline at the {_num(r.get('percentile'), '{:.1f}')}th percentile, "
                                             f"permutation p = {_num(r.get('p_value'), '{:.4f}')}"])
            continue
        rows.append([r["variant"], r.get("screens") or "none", r.get("every") or "–", _pct(_nan(r.get("cagr"))),
                     _num(_nan(r.get("sharpe"))),
                     "–" if r.get("sharpe_ci_low") is None else
                     f"[{_num(_nan(r.get('sharpe_ci_low')))}, {_num(_nan(r.get('sharpe_ci_high')))}]",
                     _pct(_nan(r.get("max_drawdown"))), _num(_nan(r.get("turnover")), "{:.1f}"),
                     _bps(r.get("break_even_bps"), "break_even_bps" in r),
                     f"{r.get('weeks_in_cash')} / {r.get('weeks')}", r.get("distinct_pairs"), r.get("note") or ""])
    lines = ["## Null model and ablation (same weeks, same bars, same costs)", "",
             "Each row is the walk-forward over the same span with one stage changed; every row trades with the same "
             "rule, capital and configured costs. `screens` is the pair funnel between the mid-volatility "
             "candidates and the DTW lag stage. Files: `ablation.csv` (this table), `nulls.json` (every draw's "
             "Sharpe ratio).", "",
             _table(["configuration", "screens", "re-selection", "CAGR", "Sharpe", "95 % CI / null range",
                     "max drawdown", "turnover / yr", "break-even bps / side", "weeks in cash", "distinct pairs",
                     "note"], rows), ""]
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
        if "break_even_median" in null and null.get("break_even_unknown", 0) < (null.get("draws") or 0):
            lines += [f"Break-even cost of the draws (first-order: each draw's mean gross return over its mean "
                      f"turnover, bps per side): median {_bps(null.get('break_even_median'))}, 2.5-97.5 % "
                      f"{_bps(null.get('break_even_q025'))} .. {_bps(null.get('break_even_q975'))}; "
                      f"{null.get('break_even_none')} draw(s) lose before costs (\"none\", ranked lowest).", ""]
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


REPORT_WRITERS.add("walkforward", write_walkforward_report)  # what run_walkforward(report=True) calls
