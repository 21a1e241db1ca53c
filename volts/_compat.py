"""Old import paths of volts 0.2 that keep working for one release, with a :class:`DeprecationWarning`.

volts 0.3 moved its flat modules into layer packages (``volts.core``, ``volts.data``, ``volts.selection``,
``volts.trading``, ``volts.evaluation``, ``volts.live``, ``volts.reporting``; see the architecture page of the
documentation). ``import volts.walkforward`` and ``from volts.simulate import simulate_schedule`` still work: a
meta-path finder, installed when :mod:`volts` is imported, answers an old name with the module at its new place
(the same module object, so attributes set through either name are one) and warns once per old name.
The ``volts.selection`` and ``volts.live`` names are packages now; their old module contents are served by the
packages' own ``__getattr__`` (:mod:`volts.selection.pipeline`, :mod:`volts.live.orders`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old dotted module path -> new dotted module path (a package moves with its submodules)
MOVED: dict[str, str] = {
    "strategies": "volts.trading.strategies",
    "volts.anomaly": "volts.selection.anomaly",
    "volts.artifacts": "volts.core.artifacts",
    "volts.backtest": "volts.trading.backtest",
    "volts.calendar": "volts.data.calendar",
    "volts.causality": "volts.selection.causality",
    "volts.clustering": "volts.selection.regimes",
    "volts.config": "volts.core.config",
    "volts.date_stability": "volts.selection.date_stability",
    "volts.disclosure": "volts.evaluation.disclosure",
    "volts.errors": "volts.core.errors",
    "volts.figures": "volts.reporting.figures",
    "volts.hayashi_yoshida": "volts.selection.hayashi_yoshida",
    "volts.hermitian": "volts.selection.hermitian",
    "volts.lag": "volts.selection.lag",
    "volts.leadlag": "volts.selection.leadlag",
    "volts.limits": "volts.core.limits",
    "volts.live_book": "volts.live.book",
    "volts.live_checks": "volts.live.checks",
    "volts.live_report": "volts.reporting.live_report",
    "volts.live_sizing": "volts.live.sizing",
    "volts.metrics": "volts.trading.metrics",
    "volts.nulls": "volts.evaluation.nulls",
    "volts.pairs": "volts.core.pairs",
    "volts.paper": "volts.live.paper",
    "volts.parallel": "volts.core.parallel",
    "volts.performance": "volts.trading.performance",
    "volts.report": "volts.reporting.run_report",
    "volts.runswap": "volts.core.runswap",
    "volts.screens": "volts.selection.screens",
    "volts.screens.comparison": "volts.evaluation.screen_comparison",
    "volts.sharpe": "volts.evaluation.sharpe",
    "volts.signals": "volts.trading.signals",
    "volts.simulate": "volts.trading.simulate",
    "volts.stability": "volts.selection.stability",
    "volts.symbols": "volts.core.symbols",
    "volts.synthetic_leadlag": "volts.data.synthetic_leadlag",
    "volts.volatility": "volts.selection.volatility",
    "volts.walkforward": "volts.evaluation.walkforward",
    "volts.walkforward_report": "volts.reporting.walkforward_report",
    "volts.walkforward_span": "volts.evaluation.span",
    "volts.week_cache": "volts.evaluation.week_cache",
}

REMOVED_IN = "volts 0.4"


def new_name(old: str) -> str | None:
    """The new dotted path of the old module ``old`` (a submodule of a moved package included), else None."""
    parts = old.split(".")
    for i in range(len(parts), 0, -1):
        head = ".".join(parts[:i])
        if head in MOVED:
            return MOVED[head] + old[len(head) :]
    return None


def warn_moved(old: str, new: str, stacklevel: int = 3) -> None:
    """Issue the :class:`DeprecationWarning` for an old import path."""
    warnings.warn(
        f"'{old}' moved to '{new}'; the old import path goes in {REMOVED_IN}", DeprecationWarning, stacklevel=stacklevel
    )


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str):
        self.new = new

    def create_module(self, spec):
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:  # the module at its new place is already executed
        pass


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder: an old module path resolves to its module at the new place, with a warning."""

    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname)
        if new is None or new == fullname:
            return None
        if importlib.util.find_spec(new) is None:
            return None
        warn_moved(fullname, new, stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Put :class:`MovedModuleFinder` first on :data:`sys.meta_path` (idempotent)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())


def moved_names(module: str, names: dict[str, str]):
    """A module ``__getattr__`` serving names that moved to another module, with a :class:`DeprecationWarning`.

    ``names`` maps a name to the dotted module it lives in now. The new module is imported by name on first use,
    so a lower module can keep an old name of a higher one without importing it.
    """

    def __getattr__(name: str):
        if name in names:
            warn_moved(f"{module}.{name}", f"{names[name]}.{name}")
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
