"""The base of every settings section, and constants the sections share (split from :mod:`volts.core.config`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["PAPER_UNIVERSE", "SEED_MAX"]

PAPER_UNIVERSE = ("MSFT", "GOOGL", "MU", "NVDA", "AMZN", "META", "QCOM", "IBM", "INTC", "TSLA")

#: Largest seed a setting or option accepts: seeds reach ``numpy.random.RandomState`` and scikit-learn's
#: ``random_state``, which take 0 .. 2**32 - 1 only.
SEED_MAX = 2**32 - 1


class _Section(BaseModel):
    # allow_inf_nan=False: no setting is meaningful at NaN or infinity (capital = inf, risk_free = nan, ...)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
