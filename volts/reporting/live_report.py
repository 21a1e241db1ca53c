"""``volts live report``: what a live or paper account did, beside what the simulator would have done.

:func:`build_live_report` reads an order journal (:class:`volts.live.orders.Journal`, paper or live) and the closing
prices of the pairs' symbols, and writes ``live_report.md`` and ``live_report.html``:

* **Positions and P&L per pair and session**: the lots held after each session's fills (the held volume each run
  read from the terminal, plus the fills it made), realised P&L (average-cost method) and unrealised P&L marked at
  the session's close.
* **Orders**: every request with its result: retcode, requested and filled lots, the reference price (the
  quote volts sized the order at, as it sent it) and the fill price, slippage = (fill - reference) x side, in price
  units and basis points.
* **Beside it, the simulator**: :func:`volts.trading.simulate.simulate_schedule` on the same re-selections (the journal's
  ``rebalance`` records, with their lags) over the same sessions; every (session, pair) whose position differs
  from the simulator's, and every fill at another price than the simulator's (the session's open), is listed
  with its cause: a partial fill, a rejected order, a position closed or changed outside volts, a different fill
  price, or carried over from an earlier difference.

Source: the journal's events (``decision``, ``request``, ``result``, ``error``); :mod:`volts.trading.simulate`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from volts.core.errors import ArtifactError


@dataclass(frozen=True)
class LiveReport:
    """Tables of the report (pandas DataFrames) and the files written."""

    positions: pd.DataFrame
    orders: pd.DataFrame
    differences: pd.DataFrame
    markdown: Path
    html: Path


def _journal_events(path: Path) -> list[dict]:
    import sqlite3

    from volts.live.orders import Journal

    if not Path(path).is_file():
        raise ArtifactError(
            f"{path}: journal not found (pass --journal FILE: live.journal, or the paper run's journal.sqlite)"
        )
    try:
        with Journal(path) as j:
            return j.events()
    except sqlite3.DatabaseError as exc:
        raise ArtifactError(f"{path}: not a volts journal ({exc})") from None


def _orders(events: list[dict]) -> pd.DataFrame:
    requests = {e["payload"].get("request_uid"): e for e in events if e["kind"] == "request"}
    rows = []
    for e in events:
        if e["kind"] not in ("result", "error") or e["payload"].get("request_uid") not in requests:
            continue
        p = e["payload"]
        req = requests[p["request_uid"]]["payload"]["request"]
        side = 1 if int(req.get("type", 0)) == 0 else -1
        ref = float(req.get("price") or float("nan"))
        fill = float(p.get("price") or float("nan")) if e["kind"] == "result" else float("nan")
        slip = (fill - ref) * side if math.isfinite(fill) and math.isfinite(ref) and fill > 0 else float("nan")
        rows.append(
            {
                "session": e["session"],
                "pair": e["pair"],
                "step": p.get("step", ""),
                "side": "buy" if side > 0 else "sell",
                "status": p.get("status", p.get("outcome", "error")),
                "retcode": p.get("retcode"),
                "comment": p.get("comment", p.get("message", "")),
                "client_id": req.get("comment", ""),
                "requested": float(req.get("volume", 0.0)),
                "filled": float(p.get("volume") or 0.0) if p.get("status") in ("done", "partial") else 0.0,
                "reference_price": ref,
                "fill_price": fill,
                "slippage": slip,
                "slippage_bps": slip / ref * 1e4 if ref and math.isfinite(slip) else float("nan"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "session",
            "pair",
            "step",
            "side",
            "status",
            "retcode",
            "comment",
            "client_id",
            "requested",
            "filled",
            "reference_price",
            "fill_price",
            "slippage",
            "slippage_bps",
        ],
    )


def _positions(events: list[dict], orders: pd.DataFrame, closes: pd.DataFrame, follower_of: dict) -> pd.DataFrame:
    """Held lots per (session, pair) after the session's fills; external changes flagged; average-cost P&L."""
    held_at: dict[tuple, float] = {}
    external: set[tuple] = set()
    for e in events:
        if e["kind"] != "decision" or e["pair"] is None:
            continue
        p = e["payload"]
        if p.get("action") == "external_change":
            external.add((e["session"], e["pair"]))
        if "held" in p and (e["session"], e["pair"]) not in held_at:
            held_at[(e["session"], e["pair"])] = float(p["held"])
    fills = orders[orders["filled"] > 0]
    rows = []
    state: dict[str, dict] = {}
    sessions = sorted({s for s, _ in held_at} | set(fills["session"]))
    for s in sessions:
        for pair in sorted({p for (ss, p) in held_at if ss == s} | set(fills.loc[fills["session"] == s, "pair"])):
            st = state.setdefault(pair, {"shares": 0.0, "cost": 0.0, "realised": 0.0})
            expected = st["shares"]
            start = held_at.get((s, pair), expected)
            outside = (s, pair) in external or abs(start - expected) > 1e-9
            if abs(start - expected) > 1e-9:  # changed outside volts: book it at the last close known
                st["shares"] = start
                st["cost"] = st["cost"] if start else 0.0
            for _, f in fills[(fills["session"] == s) & (fills["pair"] == pair)].iterrows():
                q = f["filled"] * (1 if f["side"] == "buy" else -1)
                st["realised"] += _trade(st, q, f["fill_price"])
            sym = follower_of.get(pair)
            close = float(closes[sym].get(pd.Timestamp(s), float("nan"))) if sym in closes else float("nan")
            unreal = (close - st["cost"]) * st["shares"] if st["shares"] and math.isfinite(close) else 0.0
            rows.append(
                {
                    "session": s,
                    "pair": pair,
                    "lots": round(st["shares"], 10),
                    "close": close,
                    "realised_pnl": st["realised"],
                    "unrealised_pnl": unreal,
                    "outside_change": outside,
                    "held_at_run": start,
                    "volts_expected": expected,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "session",
            "pair",
            "lots",
            "close",
            "realised_pnl",
            "unrealised_pnl",
            "outside_change",
            "held_at_run",
            "volts_expected",
        ],
    )


def _trade(st: dict, q: float, price: float) -> float:
    """Apply a fill of signed ``q`` at ``price`` to an average-cost position; returns the realised P&L."""
    n, cost = st["shares"], st["cost"]
    realised = 0.0
    if n == 0 or (n > 0) == (q > 0):
        st["cost"] = (cost * abs(n) + price * abs(q)) / (abs(n) + abs(q))
        st["shares"] = n + q
        return 0.0
    closed = min(abs(q), abs(n))
    realised = (price - cost) * closed * (1 if n > 0 else -1)
    st["shares"] = round(n + q, 10)
    if abs(q) > abs(n):  # flipped through zero: the rest opens at this price
        st["cost"] = price
    elif st["shares"] == 0:
        st["cost"] = 0.0
    return realised


def _simulate(events, settings, market, end):
    from volts.trading.simulate import Holding, Rebalance, simulate_schedule

    rebs = [
        e["payload"]
        for e in events
        if e["kind"] == "decision" and e["pair"] is None and e["payload"].get("action") == "rebalance"
    ]
    if not rebs:
        return None, []
    schedule = []
    for r in rebs:
        lags = r.get("lags") or {}
        pairs = tuple(Holding(*p.split("->"), lag=int(lags.get(p, 1))) for p in r["pairs"])
        schedule.append(Rebalance(asof=r["asof"], pairs=pairs))
    uniq = {s.asof: s for s in schedule}
    schedule = sorted(uniq.values(), key=lambda s: s.asof)
    sim = simulate_schedule(market, schedule, end=end, settings=settings, benchmarks=False)
    return sim, schedule


def _differences(positions: pd.DataFrame, orders: pd.DataFrame, sim, market, tol: float) -> pd.DataFrame:
    rows = []
    if sim is None:
        return pd.DataFrame(columns=["session", "pair", "account", "simulator", "difference", "cause"])
    wide = sim.positions
    keys = sorted(set(positions["pair"]) | set(wide.columns))
    last: dict[str, float] = {}
    prev_diff: set[str] = set()
    pos = positions.set_index(["session", "pair"])
    for d in wide.index:
        s = d.strftime("%Y-%m-%d")
        for pair in keys:
            if (s, pair) in pos.index:
                last[pair] = float(pos.loc[(s, pair), "lots"])
            account = last.get(pair, 0.0)
            simulated = float(wide[pair].get(d, 0.0)) if pair in wide.columns else 0.0
            if abs(account - simulated) <= tol * max(1.0, abs(simulated)):
                prev_diff.discard(pair)
                continue
            o = orders[(orders["session"] == s) & (orders["pair"] == pair)]
            if (o["status"] == "partial").any():
                r = o[o["status"] == "partial"].iloc[0]
                cause = f"partial fill: {r['filled']:g} of {r['requested']:g} lots (retcode {r['retcode']})"
            elif (o["status"] == "rejected").any():
                r = o[o["status"] == "rejected"].iloc[0]
                cause = f"rejected order: retcode {r['retcode']} ({r['comment']})"
            elif (s, pair) in pos.index and bool(pos.loc[(s, pair), "outside_change"]):
                cause = "manual close: the position was closed or changed outside volts"
            elif pair in prev_diff:
                cause = "carried over from an earlier difference"
            elif len(o) and (o["fill_price"] - _open(market, pair, d)).abs().max() > 1e-9:
                cause = "different fill price (the sleeve was sized at another price)"
            else:
                cause = "no order journaled for this session (run missed or not yet made)"
            prev_diff.add(pair)
            rows.append(
                {
                    "session": s,
                    "pair": pair,
                    "account": account,
                    "simulator": simulated,
                    "difference": account - simulated,
                    "cause": cause,
                }
            )
    for _, r in positions[positions["outside_change"]].iterrows():
        rows.append(
            {
                "session": r["session"],
                "pair": r["pair"],
                "account": r["held_at_run"],
                "simulator": r["volts_expected"],
                "difference": r["held_at_run"] - r["volts_expected"],
                "cause": f"manual close: the run for {r['session']} found {r['held_at_run']:g} lots where volts "
                f"had left {r['volts_expected']:g} (closed or changed outside volts); traded back",
            }
        )
    for _, f in orders[orders["filled"] > 0].iterrows():
        ref = _open(market, f["pair"], pd.Timestamp(f["session"]))
        if math.isfinite(ref) and abs(f["fill_price"] - ref) > 1e-9 * ref:
            rows.append(
                {
                    "session": f["session"],
                    "pair": f["pair"],
                    "account": f["fill_price"],
                    "simulator": ref,
                    "difference": f["fill_price"] - ref,
                    "cause": f"different fill price: {f['fill_price']:g} against the session's open {ref:g}",
                }
            )
    return pd.DataFrame(rows, columns=["session", "pair", "account", "simulator", "difference", "cause"])


def _open(market, pair: str, day) -> float:
    sym = pair.split("->", 1)[1]
    try:
        return float(market.open[sym].get(pd.Timestamp(day), float("nan")))
    except KeyError:
        return float("nan")


def build_live_report(journal_path, settings, *, out=None, tolerance: float = 1e-6) -> LiveReport:
    """Write ``live_report.md`` and ``live_report.html`` for a journal (see the module docstring).

    Parameters
    ----------
    journal_path : path
        The SQLite journal of a live or paper account.
    settings : volts.core.config.Settings
        ``data`` (closing and opening prices of the pairs' symbols), ``strategy`` and ``costs`` (the simulator).
    out : path, optional
        Folder of the report (default: the journal's folder).
    tolerance : float
        Relative difference in lots treated as equal (the broker's volume step).

    Raises
    ------
    ArtifactError
        The journal is missing or not a volts journal.
    DataError
        The prices cannot be loaded.
    """
    from volts.data.sources import load_market

    journal_path = Path(journal_path)
    events = _journal_events(journal_path)
    orders = _orders(events)
    pairs = sorted(
        {e["pair"] for e in events if e["pair"]}
        | {p for e in events if e["pair"] is None for p in e["payload"].get("pairs", [])}
    )
    sessions = sorted({e["session"] for e in events if e["session"]})
    out = Path(out) if out is not None else journal_path.parent
    follower_of = {p: p.split("->", 1)[1] for p in pairs}
    symbols = sorted({s for p in pairs for s in p.split("->", 1)})
    market = None
    closes = pd.DataFrame()
    if symbols and sessions:
        rebs = [e["payload"]["asof"] for e in events if e["pair"] is None and "asof" in e["payload"]]
        first = min([*sessions, *rebs])
        start = pd.Timestamp(first) - pd.Timedelta(days=200)
        market = load_market(
            settings.data, symbols=symbols, start=start.date(), end=dt.date.fromisoformat(sessions[-1])
        )
        closes = market.close
    positions = _positions(events, orders, closes, follower_of)
    sim = None
    if market is not None:
        sim, _ = _simulate(events, settings, market, sessions[-1])
    diffs = _differences(positions, orders, sim, market, tolerance)
    md, page = _render(journal_path, positions, orders, diffs, sim is not None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "live_report.md").write_text(md, encoding="utf-8")
    (out / "live_report.html").write_text(page, encoding="utf-8")
    return LiveReport(positions, orders, diffs, out / "live_report.md", out / "live_report.html")


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)\n"
    cols = list(df.columns)
    heads = [_LABELS.get(c, c.replace("_", " ")) for c in cols]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_cell(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


#: Column headings of the rendered tables (the frames keep their field names).
_LABELS = {
    "realised_pnl": "realised P&L",
    "unrealised_pnl": "unrealised P&L",
    "outside_change": "changed outside volts",
    "held_at_run": "lots found by the run",
    "volts_expected": "lots volts had left",
    "client_id": "client id",
    "reference_price": "reference price",
    "fill_price": "fill price",
    "slippage_bps": "slippage (bps)",
}


def _cell(x) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return ""
        x = x + 0.0  # no "-0" for a zero computed from negative terms
        return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.2f}"
    return str(x).replace("|", "/")


def _render(path: Path, positions, orders, diffs, simulated: bool) -> tuple[str, str]:
    parts = [
        f"# Live account report\n\nJournal: `{path}`\n",
        "## Positions and P&L per pair and session\n\nLots held after the session's fills; P&L in the quote "
        "currency before commissions (average cost; unrealised at the session's close).\n\n" + _table(positions),
        "## Orders\n\nReference price: the quote volts sized the order at; slippage = (fill - reference) x "
        "side.\n\n" + _table(orders),
    ]
    if simulated:
        parts.append(
            "## Differences from the simulator\n\n`volts.trading.simulate` on the journal's re-selections and "
            "sessions (fills at the open, the config's costs). Each row names its cause.\n\n"
            + (
                _table(diffs)
                if len(diffs)
                else "No difference: the account held what the simulator held, at the simulator's prices.\n"
            )
        )
    else:
        parts.append(
            "## Differences from the simulator\n\nNot computed: the journal holds no re-selection record "
            '(written by `live.sizing = "sleeve"` and `volts paper`).\n'
        )
    md = "\n".join(parts)
    body = "".join(f"<pre>{html.escape(p)}</pre>" for p in parts)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>volts live report</title></head><body>"
        f"{body}</body></html>"
    )
    return md, page


__all__ = ["LiveReport", "build_live_report"]
