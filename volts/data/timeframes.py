"""Bar sizes by their MetaTrader5 names: ``M1 M5 M15 M30 H1 H4 D1``.

A bar is stamped with the instant it **opens** (MetaTrader5's convention, and the convention of the intraday vendor
files in ``../shared/data/intraday``); it covers ``[stamp, stamp + duration)`` and is known only after it closes,
at ``stamp + duration``. Daily bars (``D1``) keep volts' older convention: the index is the session's calendar
date.

The numeric ``TIMEFRAME_*`` values are those of the ``MetaTrader5`` Python package (minutes for sub-hour bars,
``0x4000 | hours`` for hour bars, ``0x4000 | 24`` for the day); a live terminal's own constants take precedence
(:meth:`volts.data.mt5.Mt5Terminal.const`).

Bars per year follow the calendar: 24 hours a day every day for ``24/7`` (365.25 days), 24 hours on 5 days of 7
for ``24/5`` (260.89 days, 52.18 weeks of 5 days), the exchange's sessions for an exchange code (252 sessions a
year, each of its regular length), or what the bars themselves show (``"bars"``: bars per year counted in the data).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from volts.core.errors import ConfigError

__all__ = ["Timeframe", "TIMEFRAMES", "TIMEFRAME_NAMES", "timeframe", "bars_per_year", "DAYS_PER_YEAR"]

#: Average days in a calendar year (Julian year), the span a 24/7 market trades in a year.
DAYS_PER_YEAR = 365.25
#: Weekdays in an average year (365.25 * 5 / 7), the days a 24/5 market trades.
WEEKDAYS_PER_YEAR = DAYS_PER_YEAR * 5 / 7
#: Sessions per year of an exchange (the usual convention for daily annualisation, also volts' D1 default).
SESSIONS_PER_YEAR = 252


@dataclass(frozen=True)
class Timeframe:
    """One bar size.

    Attributes
    ----------
    name : str
        MetaTrader5 name (``"H1"``).
    minutes : int
        Length of one bar in minutes (1440 for ``D1``).
    mt5_constant : str
        Name of the MetaTrader5 constant (``"TIMEFRAME_H1"``).
    mt5_value : int
        Its value in the ``MetaTrader5`` package.
    """

    name: str
    minutes: int
    mt5_constant: str
    mt5_value: int

    @property
    def duration(self) -> pd.Timedelta:
        """Length of one bar."""
        return pd.Timedelta(minutes=self.minutes)

    @property
    def pandas_freq(self) -> str:
        """pandas offset alias of one bar (``"1h"``, ``"15min"``, ``"1D"``)."""
        if self.minutes % 1440 == 0:
            return f"{self.minutes // 1440}D"
        if self.minutes % 60 == 0:
            return f"{self.minutes // 60}h"
        return f"{self.minutes}min"

    @property
    def is_daily(self) -> bool:
        """True for ``D1`` (one bar per session, indexed by date)."""
        return self.minutes >= 1440

    def describe(self, n_bars: float) -> str:
        """``n_bars`` stated in bars and in time, e.g. ``"3 bars (3 h)"``, ``"6 bars (1 d)"`` for H4,
        ``"27 bars (1 d 3 h)"`` for H1."""
        minutes = int(round(n_bars * self.minutes))
        d, rem = divmod(minutes, 1440)
        h, m = divmod(rem, 60)
        span = " ".join([f"{d} d"] * bool(d) + [f"{h} h"] * bool(h) + [f"{m} min"] * bool(m)) or "0 min"
        return f"{n_bars:g} bar{'s' if n_bars != 1 else ''} ({span})"

    def __str__(self) -> str:
        return self.name


def _mt5(name: str, minutes: int) -> Timeframe:
    hours, rem = divmod(minutes, 60)
    value = minutes if minutes < 60 or rem else 0x4000 | hours
    return Timeframe(name, minutes, f"TIMEFRAME_{name}", value)


#: The supported bar sizes, finest first.
TIMEFRAMES: dict[str, Timeframe] = {
    t.name: t
    for t in (
        _mt5("M1", 1),
        _mt5("M5", 5),
        _mt5("M15", 15),
        _mt5("M30", 30),
        _mt5("H1", 60),
        _mt5("H4", 240),
        _mt5("D1", 1440),
    )
}
TIMEFRAME_NAMES: tuple[str, ...] = tuple(TIMEFRAMES)


def timeframe(name: str | Timeframe) -> Timeframe:
    """The :class:`Timeframe` of an MT5 name (case-insensitive).

    Raises
    ------
    ConfigError
        ``name`` is not one of ``M1 M5 M15 M30 H1 H4 D1``.
    """
    if isinstance(name, Timeframe):
        return name
    key = str(name).strip().upper()
    if key not in TIMEFRAMES:
        raise ConfigError(
            f"timeframe {name!r} is not one of {', '.join(TIMEFRAME_NAMES)} (MetaTrader5's names: "
            f"M15 = 15 minutes, H4 = 4 hours, D1 = one day)"
        )
    return TIMEFRAMES[key]


def bars_per_year(tf: str | Timeframe, calendar: str | None, *, index: pd.DatetimeIndex | None = None) -> float:
    """Expected number of bars of size ``tf`` in one year of ``calendar``.

    Parameters
    ----------
    tf : str or Timeframe
        Bar size.
    calendar : str or None
        ``"24/7"``, ``"24/5"``, an exchange_calendars code (``"XNYS"``), or ``"bars"``; None = an exchange with
        252 sessions.
    index : pandas.DatetimeIndex, optional
        The bars' open times; required for ``"bars"`` (bars per year = bars / years spanned, the span being
        first open to last close).

    Returns
    -------
    float
        Bars per year: ``365.25 * 1440 / minutes`` (24/7), ``365.25 * 5/7 * 1440 / minutes`` (24/5),
        ``252 * session minutes / minutes`` (exchange; the regular session length of the exchange's most recent
        full session, at least one bar per session), and 252 for ``D1`` on an exchange.

    Raises
    ------
    ConfigError
        ``"bars"`` without ``index`` (or with fewer than two bars), or an unknown calendar.
    """
    tf = timeframe(tf)
    if calendar == "24/7":
        return DAYS_PER_YEAR * 1440 / tf.minutes
    if calendar == "24/5":
        return WEEKDAYS_PER_YEAR * 1440 / tf.minutes
    if calendar == "bars":
        if index is None or len(index) < 2:
            raise ConfigError("calendar 'bars' infers bars per year from the data: at least two bars are needed")
        span = (index[-1] + tf.duration - index[0]) / pd.Timedelta(days=DAYS_PER_YEAR)
        return float(len(index) / span)
    if tf.is_daily or not calendar:
        return float(SESSIONS_PER_YEAR)
    from volts.data.calendar import exchange_calendar

    cal = exchange_calendar(calendar)
    recent = cal.schedule.iloc[-400:]
    minutes = float(((recent["close"] - recent["open"]).dt.total_seconds() / 60).median())
    return SESSIONS_PER_YEAR * max(1.0, minutes / tf.minutes)
