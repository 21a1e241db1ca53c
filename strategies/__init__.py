"""backtrader strategies of volts: the lead-lag trend pair strategy and the buy-and-hold benchmark.

This package imports only ``volts.signals`` (the single place where positions are derived from prices) and
backtrader. The harness that configures brokers, costs and feeds is ``volts.backtest``.
"""

from strategies.buy_and_hold import BuyAndHold
from strategies.lead_lag_trend import LeadLagTrend, affordable_shares

__all__ = ["BuyAndHold", "LeadLagTrend", "affordable_shares"]
