"""Trading layer: from pairs and lags to positions, fills, costs and equity.

Signals (:mod:`~volts.trading.signals`), the vectorised simulator of weekly schedules
(:mod:`~volts.trading.simulate`), the backtrader engine (:mod:`~volts.trading.backtest` and the strategies of
:mod:`volts.trading.strategies`), and performance statistics (:mod:`~volts.trading.metrics`,
:mod:`~volts.trading.performance`). Imports from core, data and selection only.
"""
