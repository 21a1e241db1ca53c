"""Bid-ask spreads per instrument: the pip rule and the per-order spread cost of ``[costs] spread``.

A market order crosses half the quoted spread: a buy fills at the ask, a sell at the bid, i.e. half a spread away
from the mid price the bars record. An order of ``q`` shares (or units) therefore pays ``q * spread / 2`` in
price units on top of the commission. The spread is stated in one of three units (``[costs] spread_unit``):

* ``"bps"``: basis points of the fill price, so the cost is proportional to the traded value, ``spread / 2 / 1e4``
  of it per side (the same cost as ``half_spread_bps = spread / 2``);
* ``"pips"``: pips of the symbol, one pip being ``pip_size(symbol)`` price units;
* ``"price"``: price units (quote currency per share or unit), as MetaTrader5 shows ``ask - bid``.

Pip sizes: ``[costs] pip_size_by_symbol`` first; otherwise the FX convention for a symbol whose first six
letters are two ISO 4217 currency codes (``EURUSD``, ``USDJPY.m``): 0.01 when the quote currency is the Japanese
yen, else 0.0001. Any other symbol (an index, a metal, a coin) has no default pip and needs an entry.
"""

from __future__ import annotations

import re
from typing import Mapping

from volts.core.errors import ConfigError

__all__ = ["SPREAD_UNITS", "FX_CURRENCIES", "pip_size", "half_spread_terms"]

SPREAD_UNITS: tuple[str, ...] = ("bps", "pips", "price")

#: ISO 4217 codes of the currencies the FX pip rule recognises (majors, crosses and common exotics).
FX_CURRENCIES = frozenset(
    "USD EUR JPY GBP CHF AUD NZD CAD SEK NOK DKK SGD HKD MXN ZAR TRY PLN CZK HUF CNH CNY ILS RUB THB INR KRW "
    "TWD BRL CLP".split()
)
_JPY_PIP = 0.01
_FX_PIP = 0.0001


def pip_size(symbol: str, pip_size_by_symbol: Mapping[str, float] | None = None) -> float | None:
    """Price units of one pip of ``symbol``; None when neither the table nor the FX rule gives one.

    Parameters
    ----------
    symbol : str
        Instrument name as in the market data (``"EURJPY"``, ``"USDJPY.m"``).
    pip_size_by_symbol : mapping of str to float, optional
        ``[costs] pip_size_by_symbol``; an entry wins over the rule.

    Returns
    -------
    float or None
        The table's entry; else, when the first six letters of the symbol (case-insensitive, other characters
        skipped) are two ISO 4217 codes of :data:`FX_CURRENCIES`, 0.01 for a JPY quote and 0.0001 otherwise (the
        FX market's convention: the fourth decimal, the second for yen crosses); else None.
    """
    table = pip_size_by_symbol or {}
    if symbol in table:
        return float(table[symbol])
    letters = re.sub(r"[^A-Za-z]", "", symbol).upper()
    base, quote = letters[:3], letters[3:6]
    if len(letters) >= 6 and base in FX_CURRENCIES and quote in FX_CURRENCIES and base != quote:
        return _JPY_PIP if quote == "JPY" else _FX_PIP
    return None


def half_spread_terms(
    symbol: str,
    *,
    spread: float,
    unit: str,
    spread_by_symbol: Mapping[str, float] | None = None,
    pip_size_by_symbol: Mapping[str, float] | None = None,
) -> tuple[float, float]:
    """What one side of ``symbol``'s spread costs: ``(bps of value, price units per share)``.

    Parameters
    ----------
    symbol : str
    spread : float
        ``[costs] spread``: the full spread of a symbol without an entry in ``spread_by_symbol``, in ``unit``.
    unit : {"bps", "pips", "price"}
    spread_by_symbol, pip_size_by_symbol : mapping of str to float, optional
        ``[costs]`` tables.

    Returns
    -------
    (float, float)
        ``(spread / 2, 0.0)`` for ``"bps"`` (to add to the proportional rate, in bps); ``(0.0, spread / 2 * pip)``
        for ``"pips"``; ``(0.0, spread / 2)`` for ``"price"``. ``(0.0, 0.0)`` for a zero spread.

    Raises
    ------
    ConfigError
        Unknown unit, or a non-zero pip spread for a symbol without a pip size (neither in
        ``pip_size_by_symbol`` nor an FX pair); the message names the symbol and the key to set.
    """
    if unit not in SPREAD_UNITS:
        raise ConfigError(f"costs.spread_unit must be one of {SPREAD_UNITS} (got {unit!r})")
    table = spread_by_symbol or {}
    full = float(table[symbol]) if symbol in table else float(spread)
    if full == 0.0:
        return 0.0, 0.0
    if unit == "bps":
        return full / 2.0, 0.0
    if unit == "price":
        return 0.0, full / 2.0
    pip = pip_size(symbol, pip_size_by_symbol)
    if pip is None:
        raise ConfigError(
            f"{symbol}: [costs] spread_unit = 'pips' but {symbol} has no pip size (it is not an FX pair of two "
            f"ISO currency codes); add it to [costs] pip_size_by_symbol, e.g. {{{symbol} = 0.01}}, or state its "
            f"spread in price units (spread_unit = 'price')"
        )
    return 0.0, full / 2.0 * pip
