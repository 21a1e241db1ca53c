"""What a walk-forward result rests on: capital and costs, gross beside net, pairs left without capital.

The simulator (:mod:`volts.trading.simulate`) books every order's cost as cash and keeps one sleeve per pair. This module
reads its output and states, in ``metrics.json``, ``weeks.csv`` and the report:

* **capital and costs**: the starting capital, the cost model (fixed USD per order, commission as a fraction of
  value, slippage and half-spread in bps), the orders placed, the costs paid split into commission and
  slippage + half-spread, and the P&L gross of costs beside the P&L net of them (gross = net + costs paid);
* **funding**: pairs selected but held without the cash to place an order (the sleeve rule of
  :mod:`volts.trading.simulate`) and weeks in which the portfolio held no position at all
  (:func:`volts.trading.simulate.funding_summary`);
* **which P&L is whose**: each ``weeks.csv`` row's P&L runs from the close of its as-of date to the close of the
  next as-of date. The week's pairs are bought at the open of the first session after its as-of date, so the
  night after the as-of close still belongs to the previous week's pairs; the columns ``pnl_from``,
  ``pnl_to``, ``pairs_from`` say so per row, and ``costs`` / ``gross_pnl`` split the row's P&L.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "cost_summary",
    "week_columns",
    "costs_markdown",
    "funding_markdown",
    "backtest_costs",
    "backtest_costs_markdown",
]


def cost_summary(sim, settings=None) -> dict | None:
    """Capital, the cost model, the costs paid and the gross and net P&L of a simulation.

    Parameters
    ----------
    sim : volts.trading.simulate.SimulationResult
        Needs ``equity``, ``fills`` (columns ``value``, ``commission``) and ``costs`` (:class:`CostModel`).
    settings : volts.core.config.Settings, optional
        Splits the proportional rate into commission_pct, slippage_bps and half_spread_bps (``[costs]``); without
        it only the total rate is known.

    Returns
    -------
    dict or None
        None when ``sim`` has no fills table or no cost model (a strategy outside the simulator). Otherwise
        ``capital`` (USD), ``fixed_per_order`` (USD), ``rate_bps`` (proportional cost per side, bps), and with
        ``settings`` ``commission_pct``, ``slippage_bps``, ``half_spread_bps``; ``orders``, ``traded_value``
        (USD), ``costs_paid`` (USD, sum of every order's cost), ``commission_paid`` (fixed + commission_pct part),
        ``slippage_paid`` (slippage + half-spread part; None without settings), with a ``[costs] spread`` also
        ``spread``, ``spread_unit``, ``spread_by_symbol`` and ``spread_paid`` (the half-spreads crossed, USD;
        not in ``commission_paid``), ``net_pnl`` (last equity minus
        the capital), ``gross_pnl`` (= net_pnl + costs_paid: the same orders at zero cost, ignoring that lower
        costs would also have compounded), ``costs_share_of_loss`` (costs_paid / -net_pnl when the run lost,
        else None).
    """
    costs = getattr(sim, "costs", None)
    fills = getattr(sim, "fills", None)
    if costs is None or fills is None or not hasattr(costs, "capital"):
        return None
    value = fills["value"].to_numpy(dtype="float64") if len(fills) else np.zeros(0)
    paid = float(fills["commission"].sum()) if len(fills) else 0.0
    n = int(len(fills))
    eq = sim.equity.dropna()
    net = float(eq.iloc[-1] - costs.capital) if len(eq) else 0.0
    out: dict[str, Any] = {
        "capital": float(costs.capital),
        "fixed_per_order": float(costs.fixed),
        "rate_bps": float(costs.rate * 1e4),
    }
    slip_paid = None
    commission_paid = paid
    # the [costs] split applies when the run used the configured cost model (not a cost_bps override); the same
    # code computes both rates, so an exact comparison is right here
    if settings is not None:
        from volts.trading.simulate import CostModel

        configured = CostModel.from_settings(settings)
        if (configured.rate, configured.fixed) == (costs.rate, costs.fixed):
            c = settings.costs
            out.update(
                commission_pct=float(c.commission_pct),
                slippage_bps=float(c.slippage_bps),
                half_spread_bps=float(c.half_spread_bps),
            )
            slip_paid = float(value.sum() * (float(c.slippage_bps) + float(c.half_spread_bps)) / 1e4)
            commission_paid = paid - slip_paid
            if getattr(costs, "has_spread", False) and n:  # [costs] spread: each order's half-spread
                spread_paid = float(
                    sum(
                        costs.commission(v, abs(q), f) - costs.commission(v)
                        for v, q, f in zip(value, fills["shares"].to_numpy(dtype="float64"), fills["follower"])
                    )
                )
                out.update(
                    spread=costs.spread,
                    spread_unit=costs.spread_unit,
                    spread_by_symbol=dict(costs.spread_by_symbol),
                    spread_paid=spread_paid,
                )
                commission_paid -= spread_paid
    out.update(
        orders=n,
        traded_value=float(value.sum()),
        costs_paid=paid,
        commission_paid=commission_paid,
        slippage_paid=slip_paid,
        net_pnl=net,
        gross_pnl=net + paid,
        costs_share_of_loss=(paid / -net) if net < 0 else None,
    )
    return out


def _d(x) -> dt.date:
    return pd.Timestamp(x).date()


def week_columns(table: pd.DataFrame, sim, weeks: Sequence[dict], *, end) -> pd.DataFrame:
    """``weeks.csv``'s funding and cost columns, added to :func:`volts.evaluation.walkforward.weeks_table`'s frame.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per week, same order as ``weeks``, with ``pnl`` when the equity is known.
    sim : volts.trading.simulate.SimulationResult
    weeks : sequence of dict
        The week records (``asof``).
    end : date-like
        Last session traded.

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``pnl_from`` / ``pnl_to`` (the closes the row's P&L runs between: this as-of date and the
        next one, or ``end``), ``pairs_from`` (the session at whose open this week's pairs are bought; the night
        before it is still held by the previous week's pairs), ``costs`` (USD of every order booked in the span),
        ``gross_pnl`` (pnl + costs), ``unfunded_pairs`` (pairs held without the cash to place an order),
        ``unfunded_list`` and ``in_cash`` (no position at any close of the holding). Unchanged when ``sim`` lacks
        the simulator's tables.
    """
    out = table.copy()
    fills = getattr(sim, "fills", None)
    periods = getattr(sim, "periods", None)
    if fills is None or periods is None or "pnl" not in out or not len(weeks):
        return out
    asofs = [_d(w["asof"]) for w in weeks]
    ends = asofs[1:] + [_d(end)]
    fdates = pd.to_datetime(fills["date"]).dt.date.to_numpy() if len(fills) else np.array([], dtype=object)
    fcost = fills["commission"].to_numpy(dtype="float64") if len(fills) else np.zeros(0)
    by_asof = {_d(r["asof"]): r for _, r in periods.iterrows()} if len(periods) else {}
    cost_col, from_col, unf_n, unf_l, cash = [], [], [], [], []
    for a, b in zip(asofs, ends):
        mask = (fdates > a) & (fdates <= b) if len(fdates) else np.zeros(0, dtype=bool)
        cost_col.append(float(fcost[mask].sum()) if len(fcost) else 0.0)
        r = by_asof.get(a)
        first = r.get("first_session") if r is not None else None
        from_col.append(_d(first).isoformat() if first is not None and pd.notna(first) else "")
        unf_n.append(int(r.get("n_unfunded", 0)) if r is not None else 0)
        unf_l.append(" ".join(k for k in str(r.get("unfunded", "") or "").split(";") if k) if r is not None else "")
        c = r.get("in_cash") if r is not None else None
        cash.append(bool(c) if c is not None and not (isinstance(c, float) and np.isnan(c)) else "")
    pos = list(out.columns).index("pnl")
    out.insert(pos, "pnl_to", [b.isoformat() for b in ends])
    out.insert(pos, "pnl_from", [a.isoformat() for a in asofs])
    out.insert(pos, "pairs_from", from_col)
    out["costs"] = cost_col
    out["gross_pnl"] = out["pnl"] + out["costs"]
    out["unfunded_pairs"] = unf_n
    out["unfunded_list"] = unf_l
    out["in_cash"] = cash
    return out


def costs_markdown(metrics: dict) -> list[str]:
    """The report's "Capital, costs, gross and net" section (``metrics["costs"]``); empty without it."""
    c = metrics.get("costs")
    if not c:
        return []
    parts = [f"capital {c['capital']:,.0f} USD", f"{c['fixed_per_order']:g} USD an order"]
    if c.get("slippage_bps") is not None:
        parts += [
            f"commission {100 * c['commission_pct']:g} % of value",
            f"slippage {c['slippage_bps']:g} bps",
            f"half-spread {c['half_spread_bps']:g} bps a side",
        ]
        if c.get("spread_unit"):
            per = ", ".join(f"{k} {v:g}" for k, v in (c.get("spread_by_symbol") or {}).items())
            parts.append(
                f"spread {c['spread']:g} {c['spread_unit']}"
                + (f" ({per})" if per else "")
                + ", half of it crossed per order"
            )
    else:
        parts += [f"{c['rate_bps']:g} bps of value a side"]
    rows = [
        ["orders", f"{c['orders']:,}"],
        ["value traded", f"{c['traded_value']:,.0f} USD"],
        ["P&L before costs (gross)", f"{c['gross_pnl']:,.2f} USD"],
        ["commission paid", f"{c['commission_paid']:,.2f} USD"],
    ]
    if c.get("slippage_paid") is not None:
        rows.append(["slippage and half-spread paid", f"{c['slippage_paid']:,.2f} USD"])
    if c.get("spread_paid") is not None:
        rows.append(["spread paid (half the spread per order)", f"{c['spread_paid']:,.2f} USD"])
    rows.append(["P&L after costs (net)", f"{c['net_pnl']:,.2f} USD"])
    lines = (
        ["## Capital, costs, gross and net", "", "Cost model: " + ", ".join(parts) + ".", "", "| | |", "|---|---|"]
        + [f"| {a} | {b} |" for a, b in rows]
        + [""]
    )
    note = (
        "Gross = net + the costs paid on the same orders (what zero costs would have left, before the "
        "compounding of the money saved)."
    )
    if c.get("costs_share_of_loss") is not None:
        note += f" The costs paid are {100 * c['costs_share_of_loss']:.0f} % of the net loss."
    return lines + [note, ""]


def funding_markdown(metrics: dict) -> list[str]:
    """The report's "Capital left unused" section (``metrics["funding"]``); empty without it."""
    f = metrics.get("funding")
    if not f:
        return []
    lines = [
        "## Pairs without capital, weeks fully in cash",
        "",
        f"Capital rule: {f['rule']}.",
        "",
        f"Of {f['pair_weeks']} pair-weeks held over {f['periods']} traded weeks, {f['unfunded_pair_weeks']} "
        f"were unfunded (selected, but the sleeve had no cash to place an order) in "
        f"{f['weeks_with_unfunded_pairs']} weeks ({f.get('unfunded_entries', 0)} entries of a pair without "
        f"cash; the rest are those pairs re-selected, still without cash). The portfolio held no position at any close in "
        f"{f['weeks_fully_in_cash']} weeks ({f['weeks_in_cash_with_pairs']} of them with pairs selected: "
        f"unfunded or flat signals).",
        "",
    ]
    if f.get("unfunded"):
        lines += ["| as of | pairs selected | unfunded |", "|---|---|---|"]
        lines += [f"| {u['asof']} | {u['pairs']} | {', '.join(u['unfunded'])} |" for u in f["unfunded"][:40]]
        if len(f["unfunded"]) > 40:
            lines.append(f"| ... | | {len(f['unfunded']) - 40} more weeks in metrics.json |")
        lines.append("")
    return lines


def backtest_costs(result) -> dict:
    """Capital, cost model and gross beside net P&L of a single-window backtest (``volts run`` / ``backtest``).

    Parameters
    ----------
    result : volts.trading.backtest.BacktestResult
        ``params`` (capital, commission, commission_pct, slippage_bps), ``trades`` (``run``, ``gross_pnl``,
        ``commission``, ``net_pnl``) and ``runs`` (each run's fills).

    Returns
    -------
    dict
        ``capital`` (USD per pair), ``commission_per_order`` (USD), ``commission_pct`` (fraction),
        ``slippage_bps``, and ``rows``: per strategy run and the strategies' portfolio, ``name``, ``orders``,
        ``gross_pnl`` (round trips' P&L at the fill prices, before commissions), ``commission_paid``, ``net_pnl``
        (= gross - commission), ``slippage_at_most`` (USD: the fills' value times the slippage rate; slippage is
        inside the fill prices, so gross is already after it, and a price capped at the bar's range slipped
        less). Source: :func:`volts.trading.backtest.round_trips`.
    """
    p = dict(getattr(result, "params", {}) or {})
    slip = float(p.get("slippage_bps") or 0.0) / 1e4
    trades = result.trades
    runs = getattr(result, "runs", {}) or {}
    rows = []

    def row(name: str, names: Sequence[str]) -> dict:
        t = trades[trades["run"].isin(names)] if len(trades) else trades
        fills = [runs[n].fills for n in names if n in runs and len(runs[n].fills)]
        orders = sum(len(f) for f in fills)
        value = sum(float((f["size"].abs() * f["price"]).sum()) for f in fills)
        return {
            "name": name,
            "orders": int(orders),
            "gross_pnl": float(t["gross_pnl"].sum()) if len(t) else 0.0,
            "commission_paid": float(t["commission"].sum()) if len(t) else 0.0,
            "net_pnl": float(t["net_pnl"].sum()) if len(t) else 0.0,
            "slippage_at_most": value * slip / (1 - slip) if slip < 1 else None,
        }

    names = list(getattr(result, "strategy_names", ()))
    for n in names:
        rows.append(row(n, [n]))
    portfolio = getattr(result, "portfolio_names", ())
    if len(names) > 1 and portfolio:
        rows.append(row(portfolio[0], names))
    return {
        "capital": _num_or_none(p.get("capital")),
        "commission_per_order": _num_or_none(p.get("commission")),
        "commission_pct": _num_or_none(p.get("commission_pct")),
        "slippage_bps": _num_or_none(p.get("slippage_bps")),
        "rows": rows,
    }


def _num_or_none(x):
    return None if x is None else float(x)


def backtest_costs_markdown(metrics: dict | None) -> list[str]:
    """The run report's capital and costs lines (``metrics["costs"]`` of :func:`backtest_costs`)."""
    c = (metrics or {}).get("costs")
    if not c or not isinstance(c, dict) or "rows" not in c:
        return []
    head = (
        f"Capital {c['capital']:,.0f} USD per pair; commission {c['commission_per_order']:g} USD an order"
        + (f" + {100 * c['commission_pct']:g} % of value" if c.get("commission_pct") else "")
        + f"; slippage {c.get('slippage_bps') or 0:g} bps against the trader on every fill (inside the fill "
        f"prices)."
    )
    rows = [
        f"| {r['name']} | {r['orders']} | {r['gross_pnl']:,.2f} | {r['commission_paid']:,.2f} | "
        f"{r['net_pnl']:,.2f} | "
        + ("–" if r.get("slippage_at_most") is None else f"{r['slippage_at_most']:,.2f}")
        + " |"
        for r in c["rows"]
    ]
    return (
        [
            head,
            "",
            "| strategy | orders | P&L before commission (USD) | commission (USD) | P&L after "
            "commission (USD) | slippage, at most (USD) |",
            "|---|---|---|---|---|---|",
        ]
        + rows
        + [""]
    )
