"""The walk-forward report's "Break-even cost" section (``metrics.json["break_even"]``)."""

from __future__ import annotations

__all__ = ["break_even_markdown", "break_even_text", "break_even_cost_row"]

_LABELS = {
    "followers_buy_and_hold": "followers buy-and-hold",
    "universe_equal_weight": "universe equal weight",
    "spy": "SPY",
}


def break_even_text(entry: dict | None) -> str:
    """One break-even entry as text: "12.3 bps", "none (loses before costs)", "above 10000 bps" or "–"."""
    if not entry:
        return "–"
    status = entry.get("status")
    if status == "root" and entry.get("bps_per_side") is not None:
        return f"{entry['bps_per_side']:.2f} bps"
    if status == "none":
        return "none (mean return <= 0 before costs)"
    if status == "above":
        from volts.evaluation.breakeven import MAX_BPS

        return f"above {MAX_BPS:g} bps"
    return "undefined"


def break_even_markdown(metrics: dict, figure: str | None = None) -> list[str]:
    """Markdown lines of the break-even section; empty without ``metrics["break_even"]``.

    Parameters
    ----------
    metrics : dict
        ``metrics.json``.
    figure : str, optional
        File name of the cost-sweep figure (:func:`volts.reporting.figures.costs.cost_sweep_figure`).
    """
    be = metrics.get("break_even")
    if not be:
        return []
    tf = metrics.get("timeframe")  # intraday walk-forwards: the mean return is per bar, not per day
    daily, a_day = ("daily", "a day") if not tf or tf == "D1" else (f"per-{tf}-bar", f"per {tf} bar")

    def mean_year(entry: dict) -> str:
        m = entry.get("mean_at_zero")
        return "–" if m is None else f"{1e4 * m:.2f} bps {a_day}"

    rows = [["strategy", break_even_text(be.get("strategy")), mean_year(be.get("strategy") or {})]]
    for name, d in (be.get("differences") or {}).items():
        rows.append([f"strategy minus {_LABELS.get(name, name)}", break_even_text(d), mean_year(d)])
    table = [f"| | break-even cost per side | mean {daily} return before costs |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    first = (be.get("strategy") or {}).get("first_estimate")
    lines = [
        "## Break-even cost",
        "",
        f"The cost per side, in basis points of the traded value, at which the mean {daily} net return is zero: the "
        f"root of M(c) = 0, where M(c) is the mean {daily} return of the simulator's run with every order costing c "
        "bps per side and no fixed commission or spread (the cost table's cost model), found by Brent's method. "
        'For a difference, both the strategy and the benchmark pay c. "none" means no cost makes it break '
        "even: it loses before costs. At the break-even the CAGR is below zero: a zero arithmetic mean return "
        "compounds to a loss of about half the variance a period.",
        "",
        *table,
        "",
    ]
    c = (be.get("strategy") or {}).get("bps_per_side")
    if c is not None:
        lines += [
            f"As a bid-ask spread: an order crosses half the spread, so a spread of {2 * c:.2f} bps of the price "
            f"(and nothing else) would take the whole mean return; a spread in pips or price units converts at the "
            f"instrument's price (e.g. 1 pip of EURUSD at 1.10 is 0.91 bps).",
            "",
        ]
    if first is not None:
        lines += [
            f"First-order estimate from the zero-cost run (mean gross return / mean turnover): {first:.2f} bps; "
            "the root differs because positions are sized from an equity that costs reduce.",
            "",
        ]
    if figure:
        lines += [f"![Cost sweep]({figure})", ""]
    return lines


def break_even_cost_row(metrics: dict) -> list[str] | None:
    """The cost table's break-even row: the strategy's break-even cost with its CAGR and Sharpe ratio from the
    sweep (``metrics["break_even"]["sweep"]``) and the followers' buy-and-hold at the same cost; None without a
    root."""
    be = metrics.get("break_even") or {}
    c = (be.get("strategy") or {}).get("bps_per_side")
    sweep = be.get("sweep") or {}
    bps = sweep.get("bps") or []
    if c is None or c not in bps:
        return None
    i = bps.index(c)
    curves = sweep.get("curves") or {}

    def cell(curve: str, key: str, pct: bool) -> str:
        values = (curves.get(curve) or {}).get(key) or []
        x = values[i] if i < len(values) else None
        if x is None:
            return "–"
        return f"{100 * x:.1f} %" if pct else f"{x:.2f}"

    return [
        f"{c:.2f} (break-even)",
        cell("strategy", "cagr", True),
        cell("strategy", "sharpe", False),
        "–",
        "–",
        "–",
        cell("followers_buy_and_hold", "cagr", True),
        cell("followers_buy_and_hold", "sharpe", False),
    ]
