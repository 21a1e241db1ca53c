"""Sub-commands of the ``volts`` CLI; each module exposes ``register(app)``."""

from __future__ import annotations

import importlib

COMMAND_MODULES = ("data", "select", "backtest", "run", "signal", "walkforward", "paper", "live", "frequency")


def register(app) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"volts.commands.{name}").register(app)
