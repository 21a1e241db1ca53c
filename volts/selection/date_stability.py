"""Date stability of a selection: do the neighbouring sessions select the same pairs?

A selection as of one date rests on windows that end that day. Moving the as-of date by a session moves every
window by a session, and a pair that only that one date selects says more about the date than about a lead-lag
relation (the reference pick MSFT->AMZN as of 2023-06-08 is selected on none of the ten neighbouring sessions:
the Granger lag order chosen for the whole universe jumps between 21 and 2..6 from one day to the next).

:func:`date_stability` re-runs the selection as of the ``k`` exchange sessions before and the ``k`` sessions
after the as-of date (XNYS calendar, :func:`volts.data.calendar.sessions`), each with the windows shifted to that date
exactly as ``--asof`` shifts them, using the lean selection the walk-forward uses
(``run_selection(pairs_only=True)`` with the curtailed transfer-entropy test, whose keep decisions are the full
test's). For every selected pair it reports the share of those neighbours that also select it (leader and
follower; any lag) and the share that select it with the same lag.

The sessions after the as-of date read bars the selection did not see: the share is a diagnostic of how much the
pick depends on the date, never an input of the selection or the trade. A neighbour whose bars the data do not
hold (the as-of date is the last bar, or a session missing from a synthetic calendar) is left out and listed;
a neighbour whose selection fails on its data (e.g. fewer than two mid-volatility names) counts as selecting
nothing.

Cost: 2 k more lean selections (``[selection] date_stability_sessions``, default 5: ten; 0 = off); each costs
about what one walk-forward week costs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import numpy as np
import pandas as pd

from volts.core.config import Settings
from volts.data.market import MarketData
from volts.core.errors import DataError

__all__ = [
    "neighbour_sessions",
    "date_stability",
    "date_stability_markdown",
    "neighbour_span",
    "walkforward_date_stability",
    "walkforward_date_stability_markdown",
]


def neighbour_sessions(asof: dt.date, k: int, *, calendar: str = "XNYS") -> list[dt.date]:
    """The ``k`` exchange sessions before and the ``k`` after ``asof`` (``asof`` itself excluded), ascending.

    Parameters
    ----------
    asof : datetime.date
    k : int
        >= 0.
    calendar : str, default "XNYS"

    Returns
    -------
    list of datetime.date
        2 k dates (fewer only at the calendar's bounds).
    """
    from volts.data.calendar import sessions

    if k <= 0:
        return []
    pad = dt.timedelta(days=3 * k + 10)
    days = [d.date() for d in sessions(asof - pad, asof + pad, calendar=calendar)]
    before = [d for d in days if d < asof][-k:]
    after = [d for d in days if d > asof][:k]
    return before + after


def neighbour_span(settings: Settings, asof: dt.date, k: int) -> tuple[dt.date, dt.date]:
    """First bar and last bar the neighbours' selections read (to load a market for them)."""
    from volts.selection.pipeline import earliest_start

    days = neighbour_sessions(asof, k) or [asof]
    return earliest_start(settings.windows.shifted(min(days[0], asof))), max(days[-1], asof)


def _neighbour_task(day: dt.date, *, market: MarketData, settings: Settings) -> dict:
    """Executor task: the pairs (leader, follower, lag) a lean selection as of ``day`` keeps."""
    from volts.selection.pipeline import earliest_start, run_selection

    windows = settings.windows.shifted(day)
    sub = market.slice(earliest_start(windows), day)
    lean = settings.override(**{"entropy.stop_early": True})
    try:
        sel = run_selection(sub, lean, asof=day, pairs_only=True)
    except DataError as exc:
        return {"asof": day.isoformat(), "pairs": [], "error": str(exc)}
    return {"asof": day.isoformat(), "error": None, "pairs": [[p.leader, p.follower, int(p.lag)] for p in sel.pairs]}


def date_stability(
    market: MarketData,
    settings: Settings,
    asof: dt.date,
    pairs: Sequence[Any],
    *,
    sessions: int | None = None,
    executor: Any = None,
) -> dict | None:
    """Share of the neighbouring sessions whose selection also selects each pair.

    Parameters
    ----------
    market : MarketData
        Bars covering every neighbour's windows (:func:`neighbour_span`); sessions it lacks are left out.
    settings : Settings
        The selection's settings (windows are shifted to each neighbour).
    asof : datetime.date
        The selection's as-of date.
    pairs : sequence
        The selected pairs: objects or dicts with ``leader``, ``follower``, ``lag``.
    sessions : int, optional
        k; default ``settings.selection.date_stability_sessions``. 0 = off (returns None).
    executor : volts.core.parallel.Executor, optional
        Where the neighbours' selections run (default: in this process, one after another).

    Returns
    -------
    dict or None
        ``sessions`` (k), ``neighbours`` (dates run), ``missing`` (dates without bars, left out), ``failed``
        (dates whose selection stopped on its data: they select nothing), ``selected`` (per neighbour date, the
        ``"LEADER->FOLLOWER:lag"`` it selected), and ``pairs``: ``{"LEADER->FOLLOWER": {"lag", "share",
        "share_same_lag", "dates"}}`` with share = neighbours selecting the pair / neighbours run (None when no
        neighbour could run).
    """
    k = int(settings.selection.date_stability_sessions if sessions is None else sessions)
    if k <= 0:
        return None
    asof = pd.Timestamp(asof).date()
    days = neighbour_sessions(asof, k)
    have = {d.date() for d in market.dates}
    run_days = [d for d in days if d in have]
    missing = [d.isoformat() for d in days if d not in have]
    results: dict[str, dict] = {}
    if run_days:
        if executor is None:
            for d in run_days:
                results[d.isoformat()] = _neighbour_task(d, market=market, settings=settings)
        else:
            for d, res in executor.map(
                _neighbour_task,
                run_days,
                key=lambda d: f"date-stability-{d}",
                label="neighbour sessions",
                market=market,
                settings=settings,
            ):
                results[pd.Timestamp(d).date().isoformat()] = res
    order = sorted(results)
    n = len(order)
    out_pairs = {}
    for p in pairs:
        fields = p if isinstance(p, dict) else {k: getattr(p, k) for k in ("leader", "follower", "lag")}
        leader, follower, lag = str(fields["leader"]), str(fields["follower"]), int(fields["lag"])
        hits = [d for d in order if any(q[0] == leader and q[1] == follower for q in results[d]["pairs"])]
        same = [d for d in order if [leader, follower, lag] in [list(q) for q in results[d]["pairs"]]]
        out_pairs[f"{leader}->{follower}"] = {
            "lag": lag,
            "share": len(hits) / n if n else None,
            "share_same_lag": len(same) / n if n else None,
            "dates": hits,
        }
    return {
        "sessions": k,
        "neighbours": order,
        "missing": missing,
        "failed": {d: results[d]["error"] for d in order if results[d]["error"]},
        "selected": {d: [f"{a}->{b}:{lag}" for a, b, lag in results[d]["pairs"]] for d in order},
        "pairs": out_pairs,
    }


def date_stability_markdown(stab: dict | None) -> list[str]:
    """A report section on :func:`date_stability`'s result (empty when it was not computed)."""
    if not stab:
        return []
    n = len(stab.get("neighbours") or [])
    lines = [
        "## Date stability",
        "",
        f"Each selected pair, with the share of the {n} neighbouring sessions ({stab['sessions']} before and "
        f"after the as-of date, windows shifted to each) whose own selection also picks it. A pair that only "
        f"its own date picks depends on the date more than on a lead-lag relation. The later sessions read "
        f"bars after the as-of date: this is a diagnostic, not an input of the trade.",
        "",
    ]
    if stab.get("error"):
        lines += [f"Date stability {stab['error']}.", ""]
    rows = stab.get("pairs") or {}
    if rows:
        lines += ["| pair | lag | share of neighbours | with the same lag |", "|---|---|---|---|"]
        for name, v in rows.items():
            sh = "–" if v["share"] is None else f"{100 * v['share']:.0f} %"
            sl = "–" if v["share_same_lag"] is None else f"{100 * v['share_same_lag']:.0f} %"
            lines.append(f"| {name} | {v['lag']} | {sh} | {sl} |")
        lines.append("")
    if stab.get("missing"):
        lines += [f"Sessions without bars, left out: {', '.join(stab['missing'])}.", ""]
    if stab.get("failed"):
        lines += [
            f"Sessions whose selection stopped on its data (counted as selecting nothing): "
            f"{', '.join(stab['failed'])}.",
            "",
        ]
    return lines


def walkforward_date_stability(
    market: MarketData, settings: Settings, weeks: Sequence[dict], k: int, *, executor: Any = None
) -> dict | None:
    """:func:`date_stability` of every walk-forward week with pairs, each neighbour session selected once.

    Consecutive weeks share most of their neighbours (a Friday's five later sessions are the next Friday's
    earlier ones but one), and a neighbour that is itself a week's as-of date reuses that week's record, so the
    cost is at most 2 k selections per week with pairs and less when such weeks follow each other.

    Parameters
    ----------
    market : MarketData
        The walk-forward's bars (a static universe).
    settings : Settings
        The walk-forward's settings.
    weeks : sequence of dict
        Week records (``asof``, ``status``, ``pairs``).
    k : int
        Sessions each side; 0 = off (None).
    executor : volts.core.parallel.Executor, optional

    Returns
    -------
    dict or None
        ``sessions``, ``selections_run`` (new selections), ``reused`` (neighbours taken from week records),
        ``missing`` (neighbour dates without bars), and ``weeks``: ``{asof: {"LEADER->FOLLOWER": {"lag",
        "share", "share_same_lag"}}}`` for the weeks with pairs.
    """
    if k <= 0:
        return None
    have = {d.date() for d in market.dates}
    known = {
        str(w["asof"]): [[p["leader"], p["follower"], int(p["lag"])] for p in w.get("pairs") or []]
        for w in weeks
        if w.get("status") in ("ok", "no_selection")
    }
    with_pairs = [w for w in weeks if w.get("pairs")]
    wanted: dict[dt.date, list] = {}
    for w in with_pairs:
        for d in neighbour_sessions(pd.Timestamp(w["asof"]).date(), k):
            wanted.setdefault(d, [])
    to_run = sorted(d for d in wanted if d in have and d.isoformat() not in known)
    results: dict[str, list] = {}
    if to_run:
        if executor is None:
            for d in to_run:
                results[d.isoformat()] = _neighbour_task(d, market=market, settings=settings)["pairs"]
        else:
            for d, res in executor.map(
                _neighbour_task,
                to_run,
                key=lambda d: f"date-stability-{d}",
                label="neighbour sessions",
                market=market,
                settings=settings,
            ):
                results[pd.Timestamp(d).date().isoformat()] = res["pairs"]
    out_weeks: dict[str, dict] = {}
    missing: set[str] = set()
    for w in with_pairs:
        days = neighbour_sessions(pd.Timestamp(w["asof"]).date(), k)
        sel = {}
        for d in days:
            key = d.isoformat()
            if key in known and d in have:
                sel[key] = known[key]
            elif key in results:
                sel[key] = results[key]
            else:
                missing.add(key)
        n = len(sel)
        rec = {}
        for p in w["pairs"]:
            a, b, lag = p["leader"], p["follower"], int(p["lag"])
            hits = sum(any(q[0] == a and q[1] == b for q in s) for s in sel.values())
            same = sum([a, b, lag] in [list(q) for q in s] for s in sel.values())
            rec[f"{a}->{b}"] = {"lag": lag, "share": hits / n if n else None, "share_same_lag": same / n if n else None}
        out_weeks[str(w["asof"])] = rec
    return {
        "sessions": int(k),
        "selections_run": len(to_run),
        "reused": sum(1 for d in wanted if d.isoformat() in known and d in have),
        "missing": sorted(missing),
        "weeks": out_weeks,
    }


def walkforward_date_stability_markdown(stab: dict | None) -> list[str]:
    """The walk-forward report's date-stability table (one row per pick of a week with pairs)."""
    if not stab:
        return []
    rows = [(asof, name, v) for asof, rec in (stab.get("weeks") or {}).items() for name, v in rec.items()]
    shares = [v["share"] for _, _, v in rows if v["share"] is not None]
    lines = [
        "## Date stability of the picks",
        "",
        f"For each week with pairs, each pick with the share of the {2 * stab['sessions']} neighbouring "
        f"sessions ({stab['sessions']} before and after the as-of date, windows shifted to each) whose own "
        f"selection also picks it ({stab['selections_run']} extra selections, {stab['reused']} neighbours "
        f"taken from the weeks' own records). The later sessions read bars after the as-of date: a "
        f"diagnostic of how much a pick depends on its date, not an input of the trade."
        + (
            f" Median share {100 * float(np.median(shares)):.0f} %; picks no neighbour selects: "
            f"{sum(1 for s in shares if s == 0)} of {len(shares)}."
            if shares
            else ""
        ),
        "",
        "| as of | pair | lag | share of neighbours | with the same lag |",
        "|---|---|---|---|---|",
    ]
    for asof, name, v in rows:
        sh = "–" if v["share"] is None else f"{100 * v['share']:.0f} %"
        sl = "–" if v["share_same_lag"] is None else f"{100 * v['share_same_lag']:.0f} %"
        lines.append(f"| {asof} | {name} | {v['lag']} | {sh} | {sl} |")
    return lines + [""]
