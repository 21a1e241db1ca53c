"""Test helpers shipped with volts so that users can dry-run the live path without a broker.

``volts.testing.mt5_standin`` is a stand-in MetaTrader 5 terminal that serves daily bars from a folder of CSV
files, keeps positions, fills market orders, injects faults on request, and can be served over RPyC exactly like
the Windows-side ``mt5linux`` server (``python -m volts.testing.mt5_standin DIR --port 18812``).
"""

from __future__ import annotations

__all__ = ["Faults", "StandInTerminal", "serve_standin"]


def __getattr__(name: str):
    # lazy, so that ``python -m volts.testing.mt5_standin`` does not import the module twice
    if name in ("Faults", "StandInTerminal"):
        from volts.testing import mt5_standin

        return getattr(mt5_standin, name)
    if name == "serve_standin":
        from volts.testing import mt5_server

        return mt5_server.serve_standin
    raise AttributeError(f"module 'volts.testing' has no attribute {name!r}")
