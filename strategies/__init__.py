"""Old home of volts' strategies, kept for one release: they live in :mod:`volts.trading.strategies` now.

``import strategies.lead_lag_trend`` still works (with a :class:`DeprecationWarning`) through the finder of
:mod:`volts._compat`.
"""

import volts  # noqa: F401  (installs the finder that serves strategies.<name> from volts.trading.strategies)
from volts._compat import warn_moved

warn_moved("strategies", "volts.trading.strategies")

from volts.trading.strategies import BuyAndHold, LeadLagTrend, affordable_shares  # noqa: E402

__all__ = ["BuyAndHold", "LeadLagTrend", "affordable_shares"]
