"""Round trips of a backtrader run: the fills of each pair paired into entries and exits.

:func:`round_trips` turns a run's fills into one row per round trip (entry, exit, shares, P&L before and after
commission); a position still open at the end is marked to market at the last close.
"""

from __future__ import annotations

import pandas as pd

#: Columns of a run's trades table (one row per round trip).
TRADE_COLUMNS = [
    "run",
    "entry_date",
    "exit_date",
    "side",
    "size",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "commission",
    "net_pnl",
    "closed",
]


def round_trips(fills: pd.DataFrame, *, run: str, last_date, last_price: float) -> pd.DataFrame:
    """Group executions into round trips (flat -> position -> flat); an open position is marked to market.

    Parameters
    ----------
    fills : pandas.DataFrame
        Executions in time order with columns ``date``, ``size`` (signed shares: + buy, - sell), ``price``,
        ``commission``.
    run : str
        Run name written into every row.
    last_date, last_price
        Date and close used to mark a position still open at the end (no exit commission).

    Returns
    -------
    pandas.DataFrame
        Columns ``run, entry_date, exit_date, side, size, entry_price, exit_price, gross_pnl, commission, net_pnl,
        closed``: ``size`` = largest absolute position of the round trip, ``entry_price``/``exit_price`` =
        size-weighted average prices of the fills that opened/reduced it, ``gross_pnl`` = realised P&L at the
        average entry price, ``commission`` = every commission of the round trip, ``net_pnl`` = gross - commission,
        ``closed`` = False for the position marked to market at the end.
    """
    rows: list[dict] = []
    pos = 0.0
    cur: dict | None = None

    def start(date, side):
        return {
            "run": run,
            "entry_date": date,
            "side": side,
            "size": 0.0,
            "in_qty": 0.0,
            "in_val": 0.0,
            "out_qty": 0.0,
            "out_val": 0.0,
            "gross_pnl": 0.0,
            "commission": 0.0,
            "exit_date": None,
        }

    def finish(trade, date, closed):
        trade["exit_date"] = date
        avg_in = trade["in_val"] / trade["in_qty"]
        rows.append(
            {
                "run": run,
                "entry_date": trade["entry_date"],
                "exit_date": date,
                "side": trade["side"],
                "size": trade["size"],
                "entry_price": avg_in,
                "exit_price": trade["out_val"] / trade["out_qty"] if trade["out_qty"] else float("nan"),
                "gross_pnl": trade["gross_pnl"],
                "commission": trade["commission"],
                "net_pnl": trade["gross_pnl"] - trade["commission"],
                "closed": closed,
            }
        )

    for f in fills.itertuples(index=False):
        qty, price, comm, date = float(f.size), float(f.price), float(f.commission), f.date
        first = True
        while qty != 0:
            if pos == 0:
                cur = start(date, "long" if qty > 0 else "short")
            sign = 1.0 if cur["side"] == "long" else -1.0
            if qty * sign > 0:  # increases the position
                cur["in_qty"] += abs(qty)
                cur["in_val"] += abs(qty) * price
                pos += qty
                cur["size"] = max(cur["size"], abs(pos))
                take = qty
            else:  # reduces it, possibly through zero
                take = -sign * min(abs(qty), abs(pos))
                avg_in = cur["in_val"] / cur["in_qty"]
                cur["out_qty"] += abs(take)
                cur["out_val"] += abs(take) * price
                cur["gross_pnl"] += sign * abs(take) * (price - avg_in)
                pos += take
            if first:
                cur["commission"] += comm
                first = False
            qty -= take
            if abs(pos) < 1e-12:
                pos = 0.0
                finish(cur, date, True)
                cur = None
    if cur is not None and pos != 0:
        sign = 1.0 if cur["side"] == "long" else -1.0
        avg_in = cur["in_val"] / cur["in_qty"]
        cur["gross_pnl"] += sign * abs(pos) * (float(last_price) - avg_in)
        cur["out_qty"] += abs(pos)
        cur["out_val"] += abs(pos) * float(last_price)
        finish(cur, last_date, False)
    out = pd.DataFrame.from_records(rows, columns=TRADE_COLUMNS)
    if len(out):
        out["entry_date"] = pd.to_datetime(out["entry_date"])
        out["exit_date"] = pd.to_datetime(out["exit_date"])
        out["size"] = out["size"].round().astype("int64")
    return out
