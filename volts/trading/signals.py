"""Trend signals of a leader and the follower positions they imply (METHOD.md §6).

This module is the only place in volts where a position is derived from prices. The backtrader strategy
(``volts.trading.strategies.LeadLagTrend``) and the live ``volts signal`` command both call it, so a backtest and a live session
see the same decisions day by day.

Time semantics (ARCHITECTURE.md, "Time semantics"): the bar dated t is known only after the close of t.

* ``s_t`` (:func:`trend_signal`) is computed at the close of t from closes dated <= t only.
* The follower position held from the open of day d to the open of day d+1 is ``s_{d-lag}``
  (:func:`follower_positions`), lag >= 1. For lag = 1 that is "decide at the close, trade at the next open".
* :func:`next_session_target` is the same number seen from the close of the last known day T: the position to
  hold in session T+1.

The simple moving average of a day is the exactly rounded mean (``math.fsum``) of its own ``ma_window`` closes,
so a signal depends only on those closes and never on how long the series before them is: a backtest fed with
a short warm-up and a live session fed with years of history compute bit-identical signals.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from volts.core.errors import DataError

Mode = Literal["long_short", "long_only"]
MODES: tuple[str, ...] = ("long_short", "long_only")


def _check_params(ma_window: int, mode: str, lag: int | None = None) -> None:
    if isinstance(ma_window, bool) or not isinstance(ma_window, (int, np.integer)) or ma_window < 1:
        raise ValueError(f"ma_window must be an integer >= 1 (got {ma_window!r})")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
    if lag is not None:
        if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)):
            raise ValueError(f"lag must be an integer >= 1 (got {lag!r})")
        if lag < 1:
            raise ValueError(f"lag must be >= 1 (got {lag}): lag 0 would trade on the signal's own bar (look-ahead)")


def _closes(leader_close: pd.Series) -> np.ndarray:
    """Validate the leader's closes and return them as float64; DataError on a bad value."""
    if not isinstance(leader_close, pd.Series):
        raise DataError(f"leader closes must be a pandas Series (got {type(leader_close).__name__})")
    name = leader_close.name if leader_close.name is not None else "leader"
    try:
        values = leader_close.to_numpy(dtype="float64")
    except (TypeError, ValueError):
        raise DataError(f"{name}: closes must be numeric") from None
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        when = leader_close.index[i]
        when = when.date() if isinstance(when, pd.Timestamp) else when
        raise DataError(f"{name}: close on {when} is {values[i]!r}; closes must be finite and > 0")
    if not leader_close.index.is_unique or not leader_close.index.is_monotonic_increasing:
        raise DataError(f"{name}: the closes' index must be unique and ascending")
    return values


def _signal_value(close: float, window: np.ndarray, mode: str) -> int:
    """s for one day: +1 above the SMA of ``window`` (its last element is ``close``), else -1 or 0."""
    sma = math.fsum(window) / len(window)
    if close > sma:
        return 1
    return -1 if mode == "long_short" else 0


def _signal_array(c: np.ndarray, ma_window: int, mode: str) -> np.ndarray:
    n = len(c)
    out = np.zeros(n, dtype=np.int64)
    for i in range(ma_window - 1, n):
        out[i] = _signal_value(c[i], c[i - ma_window + 1 : i + 1], mode)
    return out


def trend_signal(leader_close: pd.Series, *, ma_window: int = 20, mode: Mode = "long_short") -> pd.Series:
    """Leader trend signal s_t at the close of each day t.

    s_t = +1 if C_t > SMA_m(C)_t, else -1 (``long_short``) or 0 (``long_only``); s_t = 0 (flat) while the SMA is
    undefined, i.e. on the first ``ma_window - 1`` bars. SMA_m(C)_t is the mean of the m closes dated t-m+1 .. t.

    Parameters
    ----------
    leader_close : pandas.Series, shape (n_days,)
        The leader's closes (price units), index = trading dates, ascending and unique.
    ma_window : int, default 20
        m, the SMA length in bars (METHOD.md §6; the paper does not state it).
    mode : {"long_short", "long_only"}, default "long_short"
        Value of the signal below (or at) the SMA: -1 or 0.

    Returns
    -------
    pandas.Series of int64, shape (n_days,)
        s_t in {-1, 0, +1}, same index as ``leader_close``.

    Raises
    ------
    DataError
        A close is NaN, infinite or <= 0, or the index is not ascending and unique.
    ValueError
        ``ma_window < 1`` or an unknown ``mode``.

    Notes
    -----
    Source: METHOD.md §6 (the paper's §2.3 "Trend Following"). The value at t reads closes dated <= t only.
    """
    _check_params(ma_window, mode)
    c = _closes(leader_close)
    return pd.Series(_signal_array(c, int(ma_window), mode), index=leader_close.index, name="signal")


def follower_positions(
    leader_close: pd.Series, *, lag: int, ma_window: int = 20, mode: Mode = "long_short"
) -> pd.Series:
    """Target follower position for each trading day d: the leader's signal ``lag`` bars earlier.

    The position held in the follower from the open of d to the open of d+1 is s_{d-lag} (0 where d-lag falls
    before the first bar or the SMA is undefined). With the default execution it is decided at the close of
    d-1 and filled at the open of d.

    Parameters
    ----------
    leader_close : pandas.Series, shape (n_days,)
        The leader's closes, index = trading dates (ascending, unique).
    lag : int
        tau >= 1, the pair's lag in trading days (METHOD.md §5-6).
    ma_window : int, default 20
        SMA length m of :func:`trend_signal`.
    mode : {"long_short", "long_only"}, default "long_short"

    Returns
    -------
    pandas.Series of int64, shape (n_days,)
        Position sign in {-1, 0, +1} per day, same index as ``leader_close``.

    Raises
    ------
    ValueError
        ``lag < 1`` (lag 0 would hold on day d a signal only known at the close of d: look-ahead), or a bad
        ``ma_window``/``mode``.
    DataError
        As :func:`trend_signal`.

    Notes
    -----
    Source: METHOD.md §6, "Timing".
    """
    _check_params(ma_window, mode, lag)
    s = trend_signal(leader_close, ma_window=ma_window, mode=mode)
    out = s.shift(int(lag), fill_value=0).astype("int64")
    out.name = "position"
    return out


def next_session_target(leader_close: pd.Series, *, lag: int, ma_window: int = 20, mode: Mode = "long_short") -> int:
    """Position to hold in the follower during the next session, given closes up to the last known close T.

    Equals s_{T+1-lag}, i.e. what :func:`follower_positions` gives for day T+1 once that day is appended to the
    index (whatever its close). 0 when T+1-lag falls before the first bar or its SMA is undefined.

    Parameters
    ----------
    leader_close : pandas.Series, shape (n_days,)
        The leader's closes up to and including T (the last element), ascending and unique index.
    lag : int
        tau >= 1.
    ma_window : int, default 20
    mode : {"long_short", "long_only"}, default "long_short"

    Returns
    -------
    int
        -1, 0 or +1.

    Raises
    ------
    ValueError, DataError
        As :func:`follower_positions`.

    Notes
    -----
    Source: METHOD.md §6. Used by ``volts.trading.strategies.LeadLagTrend`` at each close and by ``volts signal``.
    """
    _check_params(ma_window, mode, lag)
    c = _closes(leader_close)
    i = len(c) - int(lag)  # position of day T+1-lag in the series
    if i < ma_window - 1:
        return 0
    return _signal_value(c[i], c[i - ma_window + 1 : i + 1], mode)
