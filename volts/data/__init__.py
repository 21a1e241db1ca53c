"""Everything that produces daily bars: the market data model, validation, and the sources (CSV, MT5, synthetic)."""

from volts.data.market import FIELDS, MarketData

__all__ = ["FIELDS", "MarketData"]
