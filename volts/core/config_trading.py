"""Settings sections read after the selection: the strategy, the backtest, costs and spreads, metrics, live trading,
and the windows of a selection on intraday bars (split from :mod:`volts.core.config`, which re-exports them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_serializer

from volts.core.config_base import _Section


class StrategySettings(_Section):
    ma_window: int = Field(20, ge=1, description="m: SMA of the leader's close (the paper does not state it)")
    mode: Literal["long_short", "long_only"] = "long_short"
    execution: Literal["next_open", "close"] = "next_open"


class BacktestSettings(_Section):
    capital: float = Field(1000.0, gt=0, description="starting cash per pair, USD")
    commission: float = Field(9.0, ge=0, description="fixed commission per order, USD")
    commission_pct: float = Field(0.0, ge=0, description="percentage commission, fraction of traded value")
    slippage_bps: float = Field(0.0, ge=0)


class CostSettings(_Section):
    """Capital and trading costs of the walk-forward portfolio (``volts.trading.simulate``).

    Every order pays ``commission + (commission_pct + (slippage_bps + half_spread_bps) / 1e4) * |value|``, one
    side. The default capital is large enough that the paper's fixed $9 is about 2 bps of a $50,000 order; set
    ``capital = 1000`` per pair to reproduce the paper's $1,000 sleeves, where $9 is 0.9 % of every order.

    A bid-ask spread per instrument (what an MT5 account pays) is added on top: ``spread`` (every symbol) or
    ``spread_by_symbol`` (per symbol), in ``spread_unit`` = bps of the price, pips or price units; an order
    crosses half of it, so it pays ``spread / 2`` in price units per share or unit traded
    (:mod:`volts.trading.spreads`). Off by default; the spread keys are left out of the settings' dump at their
    defaults.
    """

    capital: float = Field(100_000.0, gt=0, description="starting cash of the whole walk-forward portfolio, USD")
    commission: float = Field(9.0, ge=0, description="fixed commission per order, USD (the paper's $9)")
    commission_pct: float = Field(0.0, ge=0, description="commission as a fraction of the traded value")
    slippage_bps: float = Field(0.0, ge=0, description="slippage against the trader, bps of value, per side")
    half_spread_bps: float = Field(0.0, ge=0, description="half the bid-ask spread, bps of value, per side")
    spread: float = Field(
        0.0,
        ge=0,
        description="full bid-ask spread of every symbol, in spread_unit; an order "
        "crosses half of it (spread_by_symbol overrides it per symbol)",
    )
    spread_unit: Literal["bps", "pips", "price"] = Field(
        "bps",
        description="unit of spread and spread_by_symbol: bps of the fill price, pips (pip_size_by_symbol or "
        "the FX pip rule), or price units (quote currency per share or unit)",
    )
    spread_by_symbol: dict[str, Annotated[float, Field(ge=0)]] = Field(
        {}, description="full spread per symbol in spread_unit, e.g. {EURJPY = 2.0}; others pay spread"
    )
    pip_size_by_symbol: dict[str, Annotated[float, Field(gt=0)]] = Field(
        {},
        description="price units of one pip per symbol; default rule for FX pairs: 0.01 when the quote "
        "currency is JPY, else 0.0001 (volts.trading.spreads.pip_size)",
    )

    @model_serializer(mode="wrap")
    def _omit_spread_defaults(self, handler):
        # no spread: the keys are left out of the dump, so hashes and artifacts stay as before these keys existed
        out = handler(self)
        if isinstance(out, dict):
            for key, default in SPREAD_DEFAULTS.items():
                if key in out and out[key] == default:
                    del out[key]
        return out


#: The spread keys of ``[costs]`` and their defaults (omitted from the settings' dump when at these values).
SPREAD_DEFAULTS: dict[str, Any] = {
    "spread": 0.0,
    "spread_unit": "bps",
    "spread_by_symbol": {},
    "pip_size_by_symbol": {},
}


class IntradaySettings(_Section):
    """Windows of a selection on bars other than D1, each ending at the decision bar (``volts.selection.bar_windows``).

    A length is a duration (``"90D"``, ``"36H"``, ``"2W"``: the bars whose stamps lie within it) or a number of bars
    (``"500 bars"``). Lags, the volatility window and the strategy's moving average are counted in bars. Read only
    when ``[data] timeframe`` is not D1; the section is left out of the settings' dump at its defaults.
    """

    anomaly_window: str = Field("365D", description="bars the KNN anomaly filter sees, ending at the decision bar")
    gmm_window: str = Field("90D", description="bars whose volatility estimates the Gaussian mixture clusters")
    train_window: str = Field("30D", description="bars the causal screens and the lag choice are fitted on")

    @field_validator("anomaly_window", "gmm_window", "train_window")
    @classmethod
    def _length(cls, value: str) -> str:
        from volts.core.lengths import parse_length

        parse_length(value)  # raises ValueError naming the accepted forms
        return value


#: Defaults of [intraday] (the section is omitted from the settings' dump when it equals them).
INTRADAY_WINDOW_DEFAULTS = {"anomaly_window": "365D", "gmm_window": "90D", "train_window": "30D"}


class MetricsSettings(_Section):
    risk_free: float = Field(0.0, description="annual risk-free rate, fraction")
    periods_per_year: int = Field(252, ge=1)


class LiveSettings(_Section):
    magic: int = Field(20230608, ge=0, description="MT5 magic number of volts' orders")
    journal: str = "journal.sqlite"
    volume_per_pair: float | None = Field(None, gt=0, description="fixed lots per pair; None = capital / price")
    deviation_points: int = Field(20, ge=0)
    lock_timeout_seconds: float = Field(60.0, ge=0, description="wait this long for another run's account lock")
    lock_dir: str | None = Field(None, description="folder of the per-account locks; None = ~/.cache/volts/locks")
    max_selection_age_sessions: int = Field(
        7,
        ge=0,
        description="--execute refuses an older selection "
        "(exchange sessions between its as-of date and the last close used)",
    )
    cap_volume: bool = Field(False, description="cap a volume above the broker's maximum lot (else refuse it)")
    sizing: Literal["fixed", "sleeve"] = Field(
        "fixed",
        description="fixed: volume_per_pair or backtest.capital "
        "per pair; sleeve: the walk-forward's sleeves of costs.capital",
    )
    max_selection_age_bars: int | None = Field(
        None,
        ge=0,
        description="bars finer than D1: --execute refuses a selection older than this many bars of "
        "data.timeframe on data.calendar (volts.live.intraday); None = the bars of "
        "max_selection_age_sessions trading days",
    )

    @model_serializer(mode="wrap")
    def _omit_bar_age(self, handler):
        # unset: the key is left out of the dump, so hashes and daily artifacts stay as before the key existed
        out = handler(self)
        if isinstance(out, dict) and out.get("max_selection_age_bars") is None:
            out.pop("max_selection_age_bars", None)
        return out
