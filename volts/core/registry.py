"""Plug-in registries: one per family, filled by a decorator where each plug-in is defined.

A family (screens, walk-forward strategies, pair pickers, lead-lag metrics) is a :class:`Registry`: a read-only
mapping from a contract name to the plug-in (a class or a callable), in the order of registration. The registry
object lives here, in the lowest layer, so that the configuration, the CLI and the tests can all read the one
list of names; the plug-ins live in their own layers and join it with :meth:`Registry.register` where they are
defined. On the first look-up a registry imports its *provider* modules (the package that holds the built-in
plug-ins, named by string so that no lower layer imports a higher one) and any module listed in the settings'
``plugins`` (:func:`load_plugins`).

Adding a screen is therefore one file (a :class:`~volts.selection.screens.base.PairScreen` subclass decorated
with ``@register_screen``) plus its name in ``[selection] screens``; see the documentation's "Add a screen".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["LEAD_LAG_METRICS", "PAIR_PICKERS", "REPORT_WRITERS", "Registry", "SCREENS", "STRATEGIES", "load_plugins"]

T = TypeVar("T")


def _origin(obj: Any) -> tuple[str | None, str | None]:
    return getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)


class Registry(Mapping[str, T], Generic[T]):
    """Name -> plug-in of one family.

    Parameters
    ----------
    family : str
        What the plug-ins are, for messages (``"screen"``).
    providers : tuple of str
        Dotted module names imported on first look-up; importing them registers the built-in plug-ins.

    Notes
    -----
    Iteration, ``len``, ``in`` and ``[]`` see every plug-in of the providers (they are imported first). A name
    registered twice by two different objects is an error; re-registering the same object is a no-op (a module
    imported under two names).
    """

    def __init__(self, family: str, providers: tuple[str, ...] = ()):
        self.family = family
        self.providers = providers
        self._items: dict[str, T] = {}
        self._loaded = False

    # ------------------------------------------------------------------------------------------ filling
    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` and return it.

        Raises
        ------
        ValueError
            An empty name, or a name another object holds already.
        """
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.family} needs a non-empty name, got {name!r}")
        held = self._items.get(name)
        if held is not None and held is not obj and _origin(held) != _origin(obj):
            raise ValueError(f"{self.family} name {name!r} is taken by {getattr(held, '__qualname__', held)!r}")
        self._items[name] = obj
        return obj

    def remove(self, name: str) -> None:
        """Forget ``name`` (a test's plug-in, once the test is over); an unknown name is ignored."""
        self._items.pop(name, None)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@STRATEGIES.register("lead_lag_trend")``."""

        def decorate(obj: T) -> T:
            return self.add(name, obj)

        return decorate

    # ------------------------------------------------------------------------------------------ reading
    def load(self) -> None:
        """Import the provider modules once (they register the built-in plug-ins)."""
        if not self._loaded:
            self._loaded = True
            for module in self.providers:
                importlib.import_module(module)

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            self.load()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.family} {name!r}; known: {', '.join(self)}") from None

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            self.load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self.load()
        return iter(list(self._items))

    def __len__(self) -> int:
        self.load()
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {list(self._items)})"


#: Pair screens (:class:`volts.selection.screens.base.PairScreen` subclasses), in funnel-contract order.
SCREENS: Registry[Any] = Registry("screen", providers=("volts.selection.screens",))
#: Walk-forward strategies: ``fn(market, schedule, *, end, settings, engine, cost_bps)`` -> a simulation result.
STRATEGIES: Registry[Any] = Registry(
    "strategy", providers=("volts.trading.simulate", "volts.trading.strategies.lead_lag_portfolio")
)
#: Pair pickers of null models: classes with ``from_settings(settings)`` returning ``picker(week, rng)``.
PAIR_PICKERS: Registry[Any] = Registry("pair picker", providers=("volts.evaluation.pickers",))
#: All-pairs lead-lag metrics: name -> ``fn(returns) -> (N, N) skew-symmetric matrix``.
LEAD_LAG_METRICS: Registry[Any] = Registry("lead-lag metric", providers=("volts.selection.leadlag",))

#: Report writers the lower layers call without importing the reporting layer: name -> ``fn(folder, **parts)``
#: (``"walkforward"``: :func:`volts.reporting.walkforward_report.write_walkforward_report`).
REPORT_WRITERS: Registry[Any] = Registry(
    "report writer", providers=("volts.reporting.walkforward_report", "volts.reporting.bar_report")
)


def load_plugins(modules: tuple[str, ...] | list[str]) -> None:
    """Import user plug-in modules (the settings' ``plugins``), so that their decorators register them.

    Parameters
    ----------
    modules : sequence of str
        Dotted module names (importable from ``sys.path``), or paths of ``.py`` files (loaded as module
        ``volts_plugin_<stem>``). Each is imported once per process; a second call is a no-op, so every process
        that builds a screen (a Dask worker included) can call it.

    Raises
    ------
    ValueError
        A module that cannot be imported or that fails while importing; the message names it and the cause.
    """
    import importlib.util
    import sys
    from pathlib import Path

    for module in modules:
        try:
            if module.endswith(".py"):
                path = Path(module).expanduser()
                name = f"volts_plugin_{path.stem}"
                if name in sys.modules:
                    continue
                if not path.is_file():
                    raise FileNotFoundError(f"no such file {path}")
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec is not None and spec.loader is not None
                loaded = importlib.util.module_from_spec(spec)
                sys.modules[name] = loaded
                try:
                    spec.loader.exec_module(loaded)
                except BaseException:
                    del sys.modules[name]
                    raise
            else:
                importlib.import_module(module)
        except Exception as exc:  # reported as a configuration error naming the plug-in
            raise ValueError(f"plug-in {module!r} could not be imported: {type(exc).__name__}: {exc}") from exc
