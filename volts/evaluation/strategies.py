"""The walk-forward's strategies: look-up in the strategy registry.

A strategy is ``fn(market, schedule, *, end, settings, engine, cost_bps)`` returning an object with
``equity`` (daily pd.Series), ``trades``, ``turnover_value`` and ``benchmarks`` (dict name -> pd.Series).
Each registers itself where it is defined (:data:`volts.core.registry.STRATEGIES`): the paper's
``lead_lag_trend`` in :mod:`volts.trading.simulate`, ``lead_lag_portfolio`` in
:mod:`volts.trading.strategies.lead_lag_portfolio`.
"""

from __future__ import annotations

from typing import Any, Callable

from volts.core.config import Settings
from volts.core.errors import UsageError
from volts.core.registry import STRATEGIES as _STRATEGY_REGISTRY
from volts.core.registry import load_plugins

# ---------------------------------------------------------------------------------------- strategies
#: The walk-forward strategies (:data:`volts.core.registry.STRATEGIES`): name ->
#: ``fn(market, schedule, *, end, settings, engine, cost_bps)`` returning an object with ``equity`` (daily
#: pd.Series), ``trades``, ``turnover_value`` and ``benchmarks`` (dict name -> pd.Series). Each strategy registers
#: itself where it is defined (:mod:`volts.trading.strategies`).
STRATEGIES = _STRATEGY_REGISTRY


def register_strategy(name: str, fn: Callable[..., Any]) -> None:
    """Make ``fn`` available as ``--strategy name`` / ``WalkForwardVariant(strategy=name)``.

    The same as ``volts.core.registry.STRATEGIES.add(name, fn)``. ``fn(market, schedule, *, end, settings,
    engine, cost_bps)`` receives the weekly :class:`volts.trading.simulate.Rebalance` schedule and returns an
    object with the attributes of :class:`volts.trading.simulate.SimulationResult` that the report reads
    (``equity``, ``trades``, ``turnover_value``, ``benchmarks``).
    """
    STRATEGIES.add(name, fn)


def strategy_names() -> list[str]:
    """Sorted names of every registered strategy (``--strategy`` choices), plug-in modules included."""
    return sorted(STRATEGIES)


def _strategy(name: str, settings: Settings | None = None) -> Callable[..., Any]:
    if settings is not None:
        load_plugins(settings.plugins)
    if name not in STRATEGIES:
        raise UsageError(f"--strategy: unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})")
    return STRATEGIES[name]
