"""One strict rule for ticker symbols, applied wherever a symbol enters volts.

A symbol becomes a file name (``data.csv.file_pattern``), a column, a journal key and an order's comment, so a
symbol such as ``../d/other/MU`` would read a file outside ``--data-dir`` and trade on it. Every entry point --
the configured universe, ``selection.json``, the command line, a file name turned into a symbol -- calls
:func:`check_symbol` (or :func:`check_symbols`), and the CSV reader checks again before it builds a path.

The rule (:data:`SYMBOL_PATTERN`): 1 to 32 characters; letters, digits and ``. - _ = ^``; the first character a
letter, a digit or ``^`` (index tickers such as ``^GSPC``); no ``..``. This admits the tickers of the reference
data (``BRK.B``, ``BF.B``) and common vendor forms (``ES=F``, ``RDS-A``), and refuses path separators, spaces,
quotes, control characters and empty names. Broker names of MetaTrader 5 (``#AAPL``, ``AAPL.US``) are not
universe symbols: they come from ``data.mt5.symbol_map``/prefix/suffix.
"""

from __future__ import annotations

import re
from typing import Iterable

from volts.core.errors import ConfigError

SYMBOL_PATTERN = re.compile(r"[A-Za-z0-9^][A-Za-z0-9._\-=^]{0,31}")
RULE_TEXT = "1-32 characters: letters, digits and . - _ = ^, starting with a letter, a digit or ^, without '..'"

__all__ = ["SYMBOL_PATTERN", "RULE_TEXT", "is_symbol", "check_symbol", "check_symbols"]


def is_symbol(value: object) -> bool:
    """Whether ``value`` is a string that satisfies :data:`SYMBOL_PATTERN` (and holds no ``..``)."""
    return isinstance(value, str) and SYMBOL_PATTERN.fullmatch(value) is not None and ".." not in value


def check_symbol(value: object, where: str, *, error: type[Exception] = ConfigError) -> str:
    """Return ``value`` if it is a valid symbol, else raise ``error`` naming ``where`` and the rule.

    Parameters
    ----------
    value : object
        Candidate symbol.
    where : str
        Where it came from, for the message (``"data.universe"``, ``"sel.json: pairs[0].leader"``,
        ``"--symbols"``).
    error : exception class, default ConfigError
        Raised on failure (``ArtifactError`` for files written by volts; all are exit code 2).

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    ConfigError (or ``error``)
        ``value`` is not a string or breaks the rule; the message quotes it and says what is allowed.
    """
    if is_symbol(value):
        return value  # type: ignore[return-value]
    shown = repr(value) if not isinstance(value, str) else f"'{value}'"
    hint = (
        " (a path is not a symbol: put the files in the data folder and name them by ticker)"
        if isinstance(value, str) and ("/" in value or "\\" in value or ".." in value)
        else ""
    )
    raise error(f"{where}: {shown} is not a valid symbol; a symbol has {RULE_TEXT}{hint}")


def check_symbols(values: Iterable[object], where: str, *, error: type[Exception] = ConfigError) -> list[str]:
    """:func:`check_symbol` on each value (``where[i]`` in messages); returns them as a list."""
    return [check_symbol(v, f"{where}[{i}]", error=error) for i, v in enumerate(values)]
