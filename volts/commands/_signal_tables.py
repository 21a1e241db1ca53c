"""The tables ``volts signal`` prints: targets and orders (daily and intraday)."""

from __future__ import annotations


def _fmt(x, spec=".2f") -> str:
    return "-" if x is None else format(x, spec)


def _print_targets(targets, console, source: str) -> None:
    from rich.table import Table

    first = targets[0]
    table = Table(
        title=f"volts signal: session {first.session} (closes up to {first.asof}, {source})", title_justify="left"
    )
    for col, justify in (
        ("pair", "left"),
        ("lag", "right"),
        ("last close", "left"),
        ("signal day", "left"),
        ("leader close", "right"),
        ("SMA", "right"),
        ("target", "right"),
    ):
        table.add_column(col, justify=justify)
    names = {1: "long +1", -1: "short -1", 0: "flat 0"}
    for t in targets:
        table.add_row(
            t.pair,
            str(t.lag),
            str(t.asof),
            str(t.signal_date or "-"),
            _fmt(t.leader_close),
            _fmt(t.sma),
            names[t.target],
        )
    console.print(table)


def _print_executions(executions, console) -> None:
    from rich.table import Table

    table = Table(title="orders", title_justify="left")
    for col in ("pair", "symbol", "before", "target", "action", "orders"):
        table.add_column(col)
    for e in executions:
        orders = ", ".join(f"{o['step']} {o['volume']:g}@{o['price']:g} ({o['retcode']})" for o in e.orders) or "-"
        table.add_row(e.pair, e.broker_symbol, str(e.before), str(e.target), e.action, orders)
    console.print(table)
