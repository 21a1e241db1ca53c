"""Live layer: MetaTrader5 orders, the journal, the live book, sizing, pre-trade checks and paper trading.

:mod:`~volts.live.orders` turns target positions into orders on a terminal and journals them;
:mod:`~volts.live.book` derives the book a selection implies; :mod:`~volts.live.sizing` sizes it;
:mod:`~volts.live.checks` holds the stale-bar and session rules; :mod:`~volts.live.paper` replays the live path
on a stand-in terminal. This package imports from the layers below it (core, data, selection, trading,
evaluation) only. ``from volts.live import execute_targets`` (the old module's names) keeps working: they are
served from :mod:`volts.live.orders`.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    orders = importlib.import_module("volts.live.orders")
    try:
        return getattr(orders, name)
    except AttributeError:
        raise AttributeError(f"module 'volts.live' has no attribute {name!r}") from None
