"""Sub-commands of the ``volts`` CLI. Each module exposes ``register(app)``; a module that is not written yet is
skipped so the CLI stays usable while the package grows."""

from __future__ import annotations

import importlib

COMMAND_MODULES = ("data", "select", "backtest", "run", "signal")


def register(app) -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"volts.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"volts.commands.{name}":
                continue
            raise
        module.register(app)
