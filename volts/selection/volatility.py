"""Historical volatility estimators on daily OHLC bars (METHOD.md §2).

Every estimator is written the same way, so that "average the variances, then take the square root" is visible:

1. a *daily variance term* per bar (a frame, dates x symbols) — :func:`parkinson_terms`,
   :func:`garman_klass_terms`, :func:`rogers_satchell_terms` — or, for the estimators built on sample variances
   (Yang-Zhang, close-to-close), the daily log returns they take the variance of (:func:`overnight_returns`,
   :func:`open_close_returns`, :func:`close_to_close_returns`);
2. :func:`rolling_variance`: the daily variance over a rolling window of ``n`` bars (mean of the terms, or a
   sample variance with an ``n - 1`` denominator);
3. the estimator functions (:func:`parkinson`, ...): annualised volatility ``sqrt(periods_per_year * variance)``.

Window convention (no look-ahead): the value dated t uses bars dated t-n+1 .. t only, so the first value sits on
the last day of the first complete window, and dates without a complete window are *left out* of the result
(no leading NaN rows travel on).

First bar and the previous close: Yang-Zhang (overnight return ln(O_t / C_{t-1})) and close-to-close
(ln(C_t / C_{t-1})) need the close before each bar of the window. The first bar of the data has none, so these two
estimators use the n returns of bars t-n+1 .. t, which need n + 1 bars (the close of bar t-n as well); their first
value is one day later than the pure range estimators' (Parkinson, Garman-Klass, Rogers-Satchell), and they need
at least n + 1 bars.

References: Parkinson (1980), J. Business 53(1); Garman & Klass (1980), J. Business 53(1); Rogers & Satchell
(1991), Ann. Appl. Probab. 1(4); Yang & Zhang (2000), J. Business 73(3).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from volts.data.market import MarketData
from volts.core.errors import ConfigError, DataError

__all__ = [
    "ESTIMATORS",
    "RANGE_ESTIMATORS",
    "parkinson_terms",
    "garman_klass_terms",
    "rogers_satchell_terms",
    "overnight_returns",
    "open_close_returns",
    "close_to_close_returns",
    "yang_zhang_k",
    "rolling_variance",
    "annualise",
    "parkinson",
    "garman_klass",
    "rogers_satchell",
    "yang_zhang",
    "close_to_close",
    "estimate",
    "estimate_all",
]

#: Names of every estimator, in the order of METHOD.md §2.
ESTIMATORS: tuple[str, ...] = ("parkinson", "garman_klass", "rogers_satchell", "yang_zhang", "close_to_close")
#: Estimators that need only the bar itself (no previous close).
RANGE_ESTIMATORS: tuple[str, ...] = ("parkinson", "garman_klass", "rogers_satchell")

_LN2 = math.log(2.0)


# ----------------------------------------------------------------------------------------------- helpers
def _check_prices(market: MarketData) -> None:
    for name in ("open", "high", "low", "close"):
        frame = market.field(name)
        bad = frame.to_numpy() <= 0
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"{frame.columns[col]}: non-positive {name} price on {frame.index[row].date()}; log prices undefined"
            )


def _check_params(window: int, periods_per_year: int | float = 252) -> None:
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 2:
        raise ConfigError(f"volatility window must be an integer >= 2 bars (got {window!r})")
    if not periods_per_year > 0:
        raise ConfigError(f"periods_per_year must be > 0 (got {periods_per_year!r})")


def _log(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(np.log(a.to_numpy(dtype=float) / b.to_numpy(dtype=float)), index=a.index, columns=a.columns)


# ------------------------------------------------------------------------------------- daily terms
def parkinson_terms(market: MarketData) -> pd.DataFrame:
    """Parkinson daily variance terms ``(ln(H_t / L_t))^2 / (4 ln 2)``.

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.

    Returns
    -------
    pandas.DataFrame, shape (n_dates, n_symbols)
        Daily variance contribution of each bar (log-price units squared, per day).

    Raises
    ------
    DataError
        A non-positive price (names the symbol and date).

    References
    ----------
    Parkinson (1980); METHOD.md §2.
    """
    _check_prices(market)
    hl = _log(market.high, market.low)
    return hl**2 / (4.0 * _LN2)


def garman_klass_terms(market: MarketData) -> pd.DataFrame:
    """Garman-Klass daily variance terms ``0.5 (ln(H/L))^2 - (2 ln 2 - 1) (ln(C/O))^2``.

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.

    Returns
    -------
    pandas.DataFrame, shape (n_dates, n_symbols)
        Daily variance contribution of each bar; never negative for a valid bar (|ln(C/O)| <= ln(H/L)).

    Raises
    ------
    DataError
        A non-positive price.

    References
    ----------
    Garman & Klass (1980); METHOD.md §2.
    """
    _check_prices(market)
    hl = _log(market.high, market.low)
    co = _log(market.close, market.open)
    return 0.5 * hl**2 - (2.0 * _LN2 - 1.0) * co**2


def rogers_satchell_terms(market: MarketData) -> pd.DataFrame:
    """Rogers-Satchell daily variance terms ``ln(H/C) ln(H/O) + ln(L/C) ln(L/O)``.

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.

    Returns
    -------
    pandas.DataFrame, shape (n_dates, n_symbols)
        Daily variance contribution of each bar (unbiased under a drift of the log price).

    Raises
    ------
    DataError
        A non-positive price.

    References
    ----------
    Rogers & Satchell (1991); METHOD.md §2.
    """
    _check_prices(market)
    h_c = _log(market.high, market.close)
    h_o = _log(market.high, market.open)
    l_c = _log(market.low, market.close)
    l_o = _log(market.low, market.open)
    return h_c * h_o + l_c * l_o


def overnight_returns(market: MarketData) -> pd.DataFrame:
    """Overnight log returns ``ln(O_t / C_{t-1})``.

    Returns
    -------
    pandas.DataFrame, shape (n_dates, n_symbols)
        The first row is NaN (no previous close inside the data).

    References
    ----------
    Yang & Zhang (2000); METHOD.md §2.
    """
    _check_prices(market)
    return _log(market.open, market.close.shift(1))


def open_close_returns(market: MarketData) -> pd.DataFrame:
    """Open-to-close (intraday) log returns ``ln(C_t / O_t)``, shape (n_dates, n_symbols).

    References
    ----------
    Yang & Zhang (2000); METHOD.md §2 (the paper's "close-to-open" is this quantity).
    """
    _check_prices(market)
    return _log(market.close, market.open)


def close_to_close_returns(market: MarketData) -> pd.DataFrame:
    """Close-to-close log returns ``ln(C_t / C_{t-1})``.

    Returns
    -------
    pandas.DataFrame, shape (n_dates, n_symbols)
        The first row is NaN (no previous close inside the data).
    """
    _check_prices(market)
    return _log(market.close, market.close.shift(1))


def yang_zhang_k(window: int) -> float:
    """Yang-Zhang weight ``k = 0.34 / (1.34 + (n + 1) / (n - 1))`` of the open-to-close variance.

    Parameters
    ----------
    window : int
        Number of bars n in the window (>= 2).

    References
    ----------
    Yang & Zhang (2000), eq. (10); METHOD.md §2.
    """
    _check_params(window)
    return 0.34 / (1.34 + (window + 1) / (window - 1))


# ------------------------------------------------------------------------------------ rolling windows
def _windows(frame: pd.DataFrame, window: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Sliding windows of ``frame``: array (n_windows, n_symbols, window) and the last date of each window."""
    arr = frame.to_numpy(dtype=float)
    view = np.lib.stride_tricks.sliding_window_view(arr, window, axis=0)
    return view, frame.index[window - 1 :]


def _mean_window(terms: pd.DataFrame, window: int) -> pd.DataFrame:
    view, idx = _windows(terms, window)
    return pd.DataFrame(view.mean(axis=-1), index=idx, columns=terms.columns)


def _var_window(returns: pd.DataFrame, window: int) -> pd.DataFrame:
    view, idx = _windows(returns, window)
    return pd.DataFrame(view.var(axis=-1, ddof=1), index=idx, columns=returns.columns)


def _need_bars(market: MarketData, estimator: str, window: int) -> None:
    need = window if estimator in RANGE_ESTIMATORS else window + 1
    if len(market) < need:
        span = f"{market.dates[0].date()} .. {market.dates[-1].date()}" if len(market) else "empty data"
        why = "" if estimator in RANGE_ESTIMATORS else " (n returns need the close before the window)"
        raise DataError(
            f"{estimator}: {len(market)} bars ({span}) is fewer than the {need} bars a {window}-bar window needs{why}"
        )


def _check_positive(variance: pd.DataFrame, estimator: str, window: int) -> None:
    bad = ~(variance.to_numpy() > 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{variance.columns[col]}: {estimator} variance is zero in the {window}-bar window ending "
            f"{variance.index[row].date()} (constant price / zero high-low range); "
            "volatility and its log are undefined"
        )


def rolling_variance(market: MarketData, estimator: str, window: int = 20) -> pd.DataFrame:
    """Daily (not annualised) variance of an estimator over a rolling window of ``window`` bars.

    Parkinson, Garman-Klass and Rogers-Satchell average their daily terms over the n bars t-n+1 .. t.
    Yang-Zhang is ``V_overnight + k V_open_close + (1 - k) V_RS`` with V_overnight and V_open_close the sample
    variances (n - 1 denominator) of the n overnight and open-to-close log returns of bars t-n+1 .. t and V_RS the
    Rogers-Satchell mean over the same bars. Close-to-close is the sample variance of the n log returns.

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.
    estimator : str
        One of :data:`ESTIMATORS`.
    window : int, default 20
        n, the number of bars per window (>= 2).

    Returns
    -------
    pandas.DataFrame, shape (n_windows, n_symbols)
        Daily variance; index = last date of each complete window (n_windows = n_dates - n + 1 for the range
        estimators, n_dates - n for Yang-Zhang and close-to-close).

    Raises
    ------
    ConfigError
        Unknown estimator or window < 2.
    DataError
        Fewer bars than one window needs (n, or n + 1 for Yang-Zhang / close-to-close); a non-positive price; a
        window whose variance is zero (constant price), naming the symbol and the window's last date.

    References
    ----------
    METHOD.md §2; Yang & Zhang (2000).
    """
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown volatility estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}")
    _check_params(window)
    _need_bars(market, estimator, window)
    if estimator == "parkinson":
        var = _mean_window(parkinson_terms(market), window)
    elif estimator == "garman_klass":
        var = _mean_window(garman_klass_terms(market), window)
    elif estimator == "rogers_satchell":
        var = _mean_window(rogers_satchell_terms(market), window)
    elif estimator == "yang_zhang":
        k = yang_zhang_k(window)
        v_on = _var_window(overnight_returns(market).iloc[1:], window)
        v_oc = _var_window(open_close_returns(market).iloc[1:], window)
        v_rs = _mean_window(rogers_satchell_terms(market).iloc[1:], window)
        var = v_on + k * v_oc + (1.0 - k) * v_rs
    else:  # close_to_close
        var = _var_window(close_to_close_returns(market).iloc[1:], window)
    _check_positive(var, estimator, window)
    return var


def annualise(variance: pd.DataFrame, periods_per_year: float = 252) -> pd.DataFrame:
    """Annualised volatility ``sqrt(periods_per_year * variance)`` from a daily variance frame."""
    if not periods_per_year > 0:
        raise ConfigError(f"periods_per_year must be > 0 (got {periods_per_year!r})")
    return np.sqrt(periods_per_year * variance)


def estimate(market: MarketData, estimator: str, window: int = 20, periods_per_year: float = 252) -> pd.DataFrame:
    """Annualised rolling volatility of one estimator (see :func:`rolling_variance` for the definitions).

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.
    estimator : str
        One of :data:`ESTIMATORS`.
    window : int, default 20
        n, bars per window.
    periods_per_year : float, default 252
        Trading days per year used to annualise.

    Returns
    -------
    pandas.DataFrame, shape (n_windows, n_symbols)
        Annualised volatility (a fraction: 0.3 = 30 % a year), indexed by the last date of each window.

    Raises
    ------
    ConfigError, DataError
        As :func:`rolling_variance`.
    """
    _check_params(window, periods_per_year)
    return annualise(rolling_variance(market, estimator, window), periods_per_year)


def _make(name: str, title: str, formula: str) -> Callable[..., pd.DataFrame]:
    def fn(market: MarketData, window: int = 20, periods_per_year: float = 252) -> pd.DataFrame:
        return estimate(market, name, window, periods_per_year)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""{title} annualised rolling volatility: ``sqrt(periods_per_year * var)``, {formula}.

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.
    window : int, default 20
        n, bars per window (>= 2).
    periods_per_year : float, default 252
        Trading days per year used to annualise.

    Returns
    -------
    pandas.DataFrame, shape (n_windows, n_symbols)
        Annualised volatility (fraction), indexed by the last date of each complete window (value at t uses
        bars <= t only).

    Raises
    ------
    ConfigError
        window < 2 or periods_per_year <= 0.
    DataError
        Too few bars for one window, a non-positive price, or a zero-variance window (constant price), naming
        the symbol.

    References
    ----------
    METHOD.md §2.
    """
    return fn


parkinson = _make("parkinson", "Parkinson (1980)", "var = 1/(4 n ln 2) * sum (ln(H/L))^2")
garman_klass = _make(
    "garman_klass", "Garman-Klass (1980)", "var = 1/n * sum [0.5 (ln(H/L))^2 - (2 ln 2 - 1)(ln(C/O))^2]"
)
rogers_satchell = _make(
    "rogers_satchell", "Rogers-Satchell (1991)", "var = 1/n * sum [ln(H/C) ln(H/O) + ln(L/C) ln(L/O)]"
)
yang_zhang = _make(
    "yang_zhang",
    "Yang-Zhang (2000)",
    "var = V_overnight + k V_open_close + (1 - k) V_RS, k = 0.34 / (1.34 + (n+1)/(n-1)); needs n + 1 bars",
)
close_to_close = _make(
    "close_to_close",
    "Close-to-close",
    "var = sample variance (n - 1 denominator) of the n log returns; needs n + 1 bars",
)


def estimate_all(
    market: MarketData, window: int = 20, periods_per_year: float = 252, estimators: Iterable[str] = ESTIMATORS
) -> dict[str, pd.DataFrame]:
    """Every estimator's annualised rolling volatility.

    Parameters
    ----------
    market : MarketData
        Daily bars, n_dates x n_symbols.
    window : int, default 20
        n, bars per window.
    periods_per_year : float, default 252
        Trading days per year used to annualise.
    estimators : iterable of str, default :data:`ESTIMATORS`
        Which estimators to compute.

    Returns
    -------
    dict[str, pandas.DataFrame]
        Estimator name -> frame (n_windows, n_symbols) of annualised volatility. The range estimators start one
        date earlier than Yang-Zhang and close-to-close (see the module docstring).

    Raises
    ------
    ConfigError, DataError
        As :func:`rolling_variance`.
    """
    return {name: estimate(market, name, window, periods_per_year) for name in estimators}
