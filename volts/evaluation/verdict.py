"""The walk-forward's verdict: what its metrics support, in words, and the accessors that read a metrics.json.

:func:`verdict` reads a walk-forward's metrics (Sharpe ratio and its bootstrap interval against zero and against
the benchmarks, the Monte-Carlo error of the interval ends, the random-pairs null when it was run) and states
what they do and do not show; it is stored in ``metrics.json`` by the walk-forward and printed by the report.
:func:`stat` and :func:`ci` read one statistic or interval from a metrics section, whatever its spelling.
"""

from __future__ import annotations

import pandas as pd

_ALIASES = {
    "cagr": ("cagr", "CAGR"),
    "volatility": ("volatility", "annual_volatility", "annualised_volatility", "ann_volatility", "vol"),
    "sharpe": ("sharpe", "sharpe_ratio"),
    "sortino": ("sortino", "sortino_ratio"),
    "max_drawdown": ("max_drawdown", "mdd"),
    "max_drawdown_days": ("max_drawdown_days", "max_drawdown_duration_days", "max_drawdown_duration", "mdd_days"),
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
        for lo_k, hi_k in (
            (f"{base}_ci_low", f"{base}_ci_high"),
            (f"{base}_low", f"{base}_high"),
            (f"{base}_ci_lower", f"{base}_ci_upper"),
        ):
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
    if se_lo is not None and se_hi is not None:  # each end with its Monte-Carlo standard error
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


BENCH_LABELS = {
    "followers_buy_and_hold": "followers' buy-and-hold (same weights, same weekly changes)",
    "universe_equal_weight": "equal-weight buy-and-hold of the universe",
    "spy": "SPY buy-and-hold (over the span its file covers)",
}


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
    end, v, se = (
        ("lower", lo, se_lo)
        if (lo is not None and se_lo is not None and abs(lo) <= 2 * se_lo)
        else ("upper", hi, se_hi)
    )
    return (
        f"at the edge: its {end} end {fmt(v)} lies within two Monte-Carlo standard errors ({fmt(se)} each) "
        f"of zero, so another set of bootstrap resamples could put it on the other side; no claim on the sign "
        f"is made"
    )


def verdict(metrics: dict) -> list[str]:
    """Plain-words conclusions from the 95 % intervals of ``metrics`` (a list of sentences).

    Rules: an interval entirely above zero supports "positive", entirely below "negative", otherwise the data
    cannot tell the sign. The same rule is applied to the strategy's Sharpe ratio at the configured costs and at
    10 bps a side, and to the mean daily difference against each benchmark. The closing sentences say what no
    interval here can show.

    Length: one sentence per thing the metrics can show (ruin, the interval against zero and each benchmark, the
    costs, weeks in cash, funding, the number of trials, the null); the sentences are independent and read in
    the order they are printed.
    """
    out: list[str] = []
    for who, rec in [("strategy", (metrics.get("strategy") or {}).get("ruined"))] + [
        (BENCH_LABELS.get(k, k), (b or {}).get("ruined")) for k, b in (metrics.get("benchmarks") or {}).items()
    ]:
        if rec:
            out.append(
                f"RUINED: the {who}'s equity reached {rec['equity']:,.2f} USD on {rec['date']}. An account "
                f"at or below zero cannot keep trading, so every statistic of the {who} covers the span up "
                f"to that day, counted as a loss of everything (-100 %). The {rec['sessions_lost']} sessions "
                f"after it in equity.csv are what the rules would have marked on credit no broker gives, "
                f"not a result."
            )
    ruined_rows = [
        f"{float(row.get('bps_per_side', 0)):g} bps" for row in metrics.get("cost_table") or [] if row.get("ruined")
    ]
    if ruined_rows:
        out.append(
            f"The cost table's rows at {', '.join(ruined_rows)} a side were ruined too; their statistics also "
            f"stop at the ruin day."
        )
    if metrics.get("optimistic"):
        out.append(
            'OPTIMISTIC: execution = "close" fills at the same close that produced the signal; every '
            "figure below is an upper bound on what next-open execution would give."
        )
    s = metrics.get("strategy") or {}
    lo, hi = ci(s, "sharpe")
    side = _side(lo, hi)
    sh = stat(s, "sharpe")
    years = _years(metrics)
    every = str(metrics.get("every") or "1W")
    freq = "weekly re-selection" if every.strip().upper() in ("1W", "W") else f"re-selection every {every}"
    span = f"over {years:.1f} years of {freq}" if years else "over this walk-forward"
    ruin = s.get("ruined")
    if ruin:  # the statistics stop at the ruin day: say so rather than quote the run's length
        try:
            upto = (pd.Timestamp(ruin["date"]) - pd.Timestamp(metrics["first_asof"])).days / 365.25
            span = f"over the {upto:.1f} years of {freq} up to its ruin on {ruin['date']}"
        except (KeyError, ValueError):
            span = f"up to its ruin on {ruin.get('date')}"
    se_lo, se_hi = mcse(s, "sharpe")
    if side is None:
        out.append(
            f"The strategy's Sharpe ratio is {_num(sh)}; no confidence interval was computed, so nothing "
            f"can be concluded about its sign."
        )
    elif at_the_edge(lo, hi, se_lo, se_hi):
        out.append(
            f"At the configured costs the strategy's Sharpe ratio is {_num(sh)} and its 95 % CI "
            f"[{lo:.2f}, {hi:.2f}] is {_edge_text(lo, hi, se_lo, se_hi, lambda v: f'{v:.3f}')} {span}."
        )
    elif side == "above":
        out.append(
            f"At the configured costs the strategy's Sharpe ratio ({_num(sh)}, 95 % CI "
            f"[{lo:.2f}, {hi:.2f}]) is positive with 95 % confidence {span}."
        )
    elif side == "below":
        out.append(
            f"At the configured costs the strategy's Sharpe ratio ({_num(sh)}, 95 % CI "
            f"[{lo:.2f}, {hi:.2f}]) is negative with 95 % confidence {span}: it lost money on a "
            f"risk-adjusted basis."
        )
    else:
        out.append(
            f"At the configured costs the strategy's Sharpe ratio is {_num(sh)}, but its 95 % CI "
            f"[{lo:.2f}, {hi:.2f}] contains zero: {span}, the record cannot tell skill from luck."
        )
    for row in metrics.get("cost_table") or []:
        if float(row.get("bps_per_side", -1)) == 10.0:
            l10, h10 = ci(row, "sharpe")
            s10 = _side(l10, h10)
            if s10 is not None:
                word = {"above": "positive", "below": "negative", "straddles": "indistinguishable from zero"}[s10]
                if at_the_edge(l10, h10, *mcse(row, "sharpe")):
                    word = _edge_text(l10, h10, *mcse(row, "sharpe"), lambda v: f"{v:.3f}")
                out.append(
                    f"At 10 bps a side (no fixed commission) the Sharpe ratio is {_num(stat(row, 'sharpe'))} "
                    f"[{l10:.2f}, {h10:.2f}]: {word}."
                )
    for name, d in (metrics.get("differences") or {}).items():
        dl, dh = ci(d, "annual_mean")
        sd = _side(dl, dh)
        label = BENCH_LABELS.get(name, name)
        if sd is None:
            continue
        if d.get("ruined"):  # the difference is measured up to the first ruin of either curve
            label = f"{label} (up to {d.get('end')}, the first ruin of either curve)"
        if at_the_edge(dl, dh, *mcse(d, "annual_mean")):
            out.append(
                f"Against the {label} the annualised mean return difference has a 95 % CI [{_pct(dl)}, "
                f"{_pct(dh)}] a year, "
                f"{_edge_text(dl, dh, *mcse(d, 'annual_mean'), lambda v: _pct(v, 2))}."
            )
        elif sd == "above":
            out.append(
                f"Against the {label} the annualised mean return difference is positive with 95 % "
                f"confidence (CI [{_pct(dl)}, {_pct(dh)}] a year): the strategy beat it."
            )
        elif sd == "below":
            out.append(
                f"Against the {label} the annualised mean return difference is negative with 95 % "
                f"confidence (CI [{_pct(dl)}, {_pct(dh)}] a year): holding it would have done better."
            )
        else:
            out.append(
                f"Against the {label} the annualised mean return difference has a 95 % CI "
                f"[{_pct(dl)}, {_pct(dh)}] a year that contains zero: no difference can be claimed "
                f"either way."
            )
    w = metrics.get("weeks") or {}
    out.extend(metrics.get("strategy_notes") or [])
    if w.get("weeks") and w.get("weeks_in_cash") and not metrics.get("strategy_activity"):
        out.append(
            f"The selection found no pair in {w['weeks_in_cash']} of {w['weeks']} weeks "
            f"({_pct(w.get('share_in_cash'), 0)}); those weeks held cash, so the record describes the "
            f"remaining {w['weeks'] - w['weeks_in_cash']} weeks' trades more than a permanently invested "
            f"strategy."
        )
    fund = metrics.get("funding") or {}
    if fund.get("unfunded_pair_weeks"):
        out.append(
            f"{fund['unfunded_pair_weeks']} of {fund['pair_weeks']} pair-weeks were selected but unfunded "
            f"(the pairs already held had all the capital, and a held pair is never resized) in "
            f"{fund['weeks_with_unfunded_pairs']} weeks: the record does not trade those picks."
        )
    out += _chance_verdict(metrics)
    inf = metrics.get("sharpe_inference") or {}
    n_trials = inf.get("n_trials") or 1
    correction = (
        "no correction is made for the number of configurations a user may have tried before this one"
        if n_trials <= 1
        else f"the deflated Sharpe ratio corrects only for the {n_trials} configurations of the ablation table, "
        "not for those a user may have tried before this one"
    )
    out.append(
        "What the intervals do not show: they are computed from one historical path of one universe; the "
        "bootstrap treats the daily returns as a stationary series, which regime changes violate; "
        f"{correction}; and past out-of-sample results do not bound future ones."
    )
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
        head = (
            f"Against {null.get('draws')} draws of random pairs from the same weeks' candidates (same number of "
            f"pairs, same weeks in cash, lags {null['lag_range'][0]}..{null['lag_range'][1]}, same costs), the "
            f"strategy's Sharpe ratio is at the {_num(null.get('percentile'), '{:.1f}')}th percentile, "
            f"permutation p = {p:.3f}"
        )
        if p <= CHANCE_LEVEL:
            out.append(
                head + f" <= {CHANCE_LEVEL:g}: on this history, choosing these pairs and lags beat choosing "
                "them at random among the same candidates."
            )
        else:
            out.append(
                head + f" > {CHANCE_LEVEL:g}: the record cannot tell the selection from random pairs among "
                "the same candidates."
            )
    inf = metrics.get("sharpe_inference") or {}
    level = 1 - CHANCE_LEVEL
    if ab and inf.get("dsr") is not None and (inf.get("n_trials") or 1) <= 1:
        # one configuration run (a point-in-time universe runs only the headline): nothing to deflate, DSR = PSR(0)
        word = (
            "the Sharpe ratio is significantly above zero"
            if inf["dsr"] >= level
            else "the record does not show a Sharpe ratio significantly above zero"
        )
        out.append(
            f"Probabilistic Sharpe ratio PSR(0) = {inf['dsr']:.3f} ({'>=' if inf['dsr'] >= level else '<'} "
            f"{level:g}; one configuration run, so the deflated Sharpe ratio equals it): {word}."
        )
    elif ab and inf.get("dsr") is not None:
        word = (
            f">= {level:g}: the Sharpe ratio stays significant after deflating for the configurations compared"
            if inf["dsr"] >= level
            else f"< {level:g}: after deflating for the configurations compared, the Sharpe ratio is not "
            f"significantly above the best that {inf.get('n_trials')} skill-less configurations would be "
            "expected to show"
        )
        out.append(f"Deflated Sharpe ratio {inf['dsr']:.3f} over N = {inf.get('n_trials')} configurations {word}.")
    return out


def _years(metrics: dict) -> float | None:
    try:
        a = pd.Timestamp(metrics["first_asof"])
        b = pd.Timestamp(metrics["end"])
    except (KeyError, ValueError):
        return None
    return (b - a).days / 365.25
