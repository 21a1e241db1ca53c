"""backtrader strategies of volts: the lead-lag trend pair strategy and the buy-and-hold benchmark.

This package imports only ``volts.trading.signals`` (the single place where positions are derived from prices) and
backtrader. The harness that configures brokers, costs and feeds is ``volts.trading.backtest``.
"""

from volts.trading.strategies.buy_and_hold import BuyAndHold
from volts.trading.strategies.lead_lag_trend import LeadLagTrend, affordable_shares

__all__ = ["BuyAndHold", "LeadLagTrend", "affordable_shares"]
