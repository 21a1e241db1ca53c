"""One validation of a traded pair, shared by ``volts signal``, ``volts backtest`` and ``selection.json``.

A pair is (leader, follower, lag): the follower's position in session t is the leader's trend signal of session
t - lag (METHOD.md §6). Two checks, used by every path that trades a pair:

* :func:`check_pair` -- the pair itself: both symbols valid (:mod:`volts.core.symbols`), leader != follower (a symbol
  cannot lead itself; the selection never proposes it), lag an integer >= 1.
* :func:`check_history` -- the pair against the data: the signal behind the first decision needs ``ma_window``
  leader closes ending ``lag - 1`` bars before the decision's close, i.e. ``ma_window + lag - 1`` closes up to
  and including it (:func:`warmup_bars`). With fewer the signal is undefined; volts refuses (a DataError naming
  the pair, the bars needed and the bars held) instead of reading it as "flat", which would close a live
  position on a lag of 100,000 or on a single bar.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Mapping

from volts.core.errors import DataError, UsageError
from volts.core.symbols import check_symbol

__all__ = ["check_pair", "warmup_bars", "check_history", "warmup_start"]

#: Calendar days of history loaded per bar the signal needs (weekends, holidays), plus a fixed margin.
WARMUP_FACTOR = 1.6
WARMUP_MARGIN_DAYS = 20
#: No bar is loaded before this date (pandas timestamps end in 1677; no daily stock data start before 1900).
EARLIEST = dt.date(1900, 1, 1)


def check_pair(pair: Any, where: str, *, error: type[Exception] = UsageError) -> tuple[str, str, int]:
    """Validate one pair given as a mapping or an object with ``leader``, ``follower`` and ``lag``.

    Parameters
    ----------
    pair : mapping or object
        E.g. one entry of ``selection.json``'s ``pairs``.
    where : str
        Where it came from, for messages (``"sel.json: pairs[2]"``).
    error : exception class, default UsageError
        Raised on failure (``ArtifactError`` when reading a file; both exit 2).

    Returns
    -------
    (leader, follower, lag) : (str, str, int)

    Raises
    ------
    UsageError (or ``error``)
        A field is missing, a symbol breaks the symbol rule, leader == follower, or lag is not an integer >= 1.
    """
    get = pair.get if isinstance(pair, Mapping) else (lambda k: getattr(pair, k, None))
    leader, follower, lag = get("leader"), get("follower"), get("lag")
    lacking = [k for k, v in (("leader", leader), ("follower", follower), ("lag", lag)) if v is None]
    if lacking:
        raise error(f"{where}: the pair lacks {', '.join(lacking)}")
    check_symbol(leader, f"{where}.leader", error=error)
    check_symbol(follower, f"{where}.follower", error=error)
    if leader == follower:
        raise error(f"{where}: {leader}->{follower}: the leader is its own follower; a pair needs two symbols")
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
        raise error(f"{where}: {leader}->{follower}: lag must be an integer >= 1 (got {lag!r})")
    return str(leader), str(follower), int(lag)


def warmup_bars(lag: int, ma_window: int) -> int:
    """Leader closes needed up to the decision's close for the signal s_{T+1-lag}: ``ma_window + lag - 1``."""
    return int(ma_window) + int(lag) - 1


def check_history(
    pair_name: str,
    *,
    lag: int,
    ma_window: int,
    have: int,
    need: int | None = None,
    when: str = "",
    data_start: dt.date | None = None,
) -> None:
    """Refuse a pair whose signal history is too short for the decision at hand.

    Parameters
    ----------
    pair_name : str
        ``"LEADER->FOLLOWER"`` for the message.
    lag, ma_window : int
        tau and the SMA length m.
    have : int
        Leader bars available up to (and including) the decision's close, or before the first traded day.
    need : int, optional
        Bars required; default :func:`warmup_bars` (the backtest asks one more, see ``volts.trading.backtest``).
    when : str, optional
        Which bars, for the message (``"up to 2023-08-11"``, ``"before 2019-01-15"``).
    data_start : datetime.date, optional
        First date of the data, for the message.

    Raises
    ------
    DataError
        ``have < need``: names the pair, lag, ma_window, both counts and the data's start, and the fixes.
    """
    need = warmup_bars(lag, ma_window) if need is None else int(need)
    if have >= need:
        return
    when = f" {when}" if when else ""
    start = f" (data from {data_start})" if data_start is not None else ""
    raise DataError(
        f"{pair_name}: lag {lag} with ma_window {ma_window} needs {need} leader bars{when}; the data "
        f"hold {have}{start}: the signal would be undefined (load more history, or check the "
        "selection's lag)"
    )


def warmup_start(end: dt.date, *, ma_window: int, max_lag: int) -> dt.date:
    """First calendar date to load so that the SMA behind a decision at ``end`` (``max_lag`` bars back) has its
    ``ma_window`` closes, with room for weekends and holidays (``1.6`` calendar days per bar + 20 days).

    An absurd lag reaches before any data: the date is clamped to 1900-01-01 (everything is loaded) and
    :func:`check_history` then refuses the pair with the counts.
    """
    bars = int(ma_window) + int(max_lag) + 5
    days = int(math.ceil(bars * WARMUP_FACTOR)) + WARMUP_MARGIN_DAYS
    return max(EARLIEST, end - dt.timedelta(days=min(days, max(0, (end - EARLIEST).days))))
