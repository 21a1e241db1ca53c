"""Live targets: what each selected pair should hold at the next session's open.

:func:`compute_targets` applies the strategy's signal (:mod:`volts.trading.signals`, the same kernel as the
backtests) to the last complete bars; :func:`write_signals` stores them as the day's signal file.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from volts.core.errors import DataError, UsageError
from volts.data.market import MarketData


# --------------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """The follower position for the next session of one pair.

    Attributes
    ----------
    leader, follower : str
        Universe symbols.
    lag : int
        tau, trading days.
    asof : datetime.date
        Date of the last close used (T).
    session : datetime.date
        The session the position is for (T+1; see the module docstring).
    target : int
        +1 long, -1 short, 0 flat.
    signal_date : datetime.date or None
        Date of the leader close behind the target, T+1-lag (None while the history is too short).
    leader_close : float or None
        The leader's close on ``signal_date`` (price units).
    sma : float or None
        The leader's SMA of ``ma_window`` closes ending on ``signal_date`` (display; the decision itself comes
        from :func:`volts.trading.signals.next_session_target`).
    ma_window : int
    mode : str
    timeframe : str, default "D1"
        Bar size (``data.timeframe``). Finer than ``D1`` (:mod:`volts.live.intraday`), ``asof``, ``session`` and
        ``signal_date`` are naive UTC datetimes: the open times of the decision bar, of the bar the position is
        for and of the leader bar behind the signal.
    calendar : str or None
        ``data.calendar`` of an intraday target (None on ``D1``).
    """

    leader: str
    follower: str
    lag: int
    asof: dt.date
    session: dt.date
    target: int
    signal_date: dt.date | None
    leader_close: float | None
    sma: float | None
    ma_window: int
    mode: str
    timeframe: str = "D1"
    calendar: str | None = None

    @property
    def pair(self) -> str:
        """``"LEADER->FOLLOWER"``."""
        return f"{self.leader}->{self.follower}"

    def to_dict(self) -> dict:
        """JSON-ready plain dict (dates as ISO strings, None for missing numbers)."""

        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)

        out = {
            "pair": self.pair,
            "leader": self.leader,
            "follower": self.follower,
            "lag": int(self.lag),
            "asof": self.asof.isoformat(),
            "session": self.session.isoformat(),
            "target": int(self.target),
            "signal_date": self.signal_date.isoformat() if self.signal_date else None,
            "leader_close": num(self.leader_close),
            "sma": num(self.sma),
            "ma_window": int(self.ma_window),
            "mode": self.mode,
        }
        if self.timeframe != "D1":  # intraday only: a daily signal file stays as it was
            out.update(timeframe=self.timeframe, calendar=self.calendar)
        return out


def _pair_fields(pair: Any, where: str = "selection pair") -> tuple[str, str, int]:
    from volts.core.pairs import check_pair

    return check_pair(pair, where)


def next_session(asof, dates: pd.DatetimeIndex | None = None) -> dt.date:
    """The exchange session after the close of ``asof`` (:func:`volts.data.calendar.next_session`, XNYS).

    ``dates`` is accepted for compatibility and ignored: the exchange calendar, not the data, says which day
    trades next.
    """
    from volts.data.calendar import next_session as calendar_next

    return calendar_next(asof)


def compute_targets(
    selection_pairs: Iterable[Any], market: MarketData, *, asof=None, ma_window: int = 20, mode: str = "long_short"
) -> list[Target]:
    """Target follower positions for the session after ``asof``.

    Parameters
    ----------
    selection_pairs : iterable of dict or objects
        Pairs with ``leader``, ``follower`` and ``lag`` (the ``pairs`` of ``selection.json``).
    market : MarketData
        Closed daily bars holding at least the leaders; only bars dated <= ``asof`` are read (no look-ahead).
    asof : date-like, optional
        Last close to use; default the market's last date. A date without a bar uses the last bar before it.
    ma_window : int, default 20
        SMA length m (``strategy.ma_window``).
    mode : {"long_short", "long_only"}, default "long_short"
        ``strategy.mode``.

    Returns
    -------
    list of Target
        One per pair, in the selection's order.

    Raises
    ------
    DataError
        A leader is not in the market data, or no bar is dated on or before ``asof``.
    UsageError
        A pair lacks leader/follower/lag, names a symbol twice or breaks the symbol rule, or has a lag < 1.
    DataError
        Fewer than ``ma_window + lag - 1`` leader closes up to ``asof`` (the warm-up is short: the signal would
        be undefined, never read as flat).

    Notes
    -----
    The position comes from :func:`volts.trading.signals.next_session_target` (METHOD.md §6): s_{T+1-lag}.
    """

    dates = market.dates
    cut = dates[-1] if asof is None else pd.Timestamp(asof).normalize()
    known = dates[dates <= cut]
    if len(known) == 0:
        raise DataError(f"no bar on or before {cut.date()} (data start {dates[0].date()})")
    last = known[-1]
    session = next_session(last)
    out = []
    for k, pair in enumerate(selection_pairs):
        leader, follower, lag, target, stamp, leader_close, sma = pair_signal(
            market, pair, k, last, ma_window=ma_window, mode=mode, when=f"up to {last.date()}"
        )
        signal_date = None if stamp is None else stamp.date()
        out.append(
            Target(
                leader=leader,
                follower=follower,
                lag=lag,
                asof=last.date(),
                session=session,
                target=target,
                signal_date=signal_date,
                leader_close=leader_close,
                sma=sma,
                ma_window=int(ma_window),
                mode=mode,
            )
        )
    return out


def pair_signal(market: MarketData, pair: Any, k: int, last: pd.Timestamp, *, ma_window: int, mode: str, when: str):
    """One selected pair's target for the bar after ``last``, from the leader's closes up to ``last`` (daily and
    intraday signals share it).

    Returns
    -------
    tuple
        ``(leader, follower, lag, target, signal_stamp, leader_close, sma)``: the target of
        :func:`volts.trading.signals.next_session_target`, and the leader's bar the signal reads (its stamp, close
        and SMA; all None while the history is shorter than ``ma_window``).

    Raises
    ------
    DataError
        The leader is not in ``market``, or its history is too short (:func:`volts.core.pairs.check_history`;
        ``when`` says up to which bar).
    """
    from volts.core.pairs import check_history
    from volts.trading.signals import next_session_target

    leader, follower, lag = _pair_fields(pair, f"selection pairs[{k}]")
    if leader not in market.symbols:
        raise DataError(
            f"{leader}: leader of {leader}->{follower} not in the market data ({', '.join(market.symbols)})"
        )
    closes = market.close[leader].loc[:last]
    check_history(
        f"{leader}->{follower}",
        lag=lag,
        ma_window=int(ma_window),
        have=int(closes.notna().sum()),
        when=when,
        data_start=market.dates[0].date(),
    )
    target = int(next_session_target(closes, lag=lag, ma_window=ma_window, mode=mode))
    i = len(closes) - lag
    if i < ma_window - 1:
        return leader, follower, lag, target, None, None, None
    window = closes.to_numpy(dtype=float)[i - ma_window + 1 : i + 1]
    return leader, follower, lag, target, closes.index[i], float(window[-1]), math.fsum(window) / ma_window


def write_signals(targets: list[Target], out_dir, *, asof=None, meta: Mapping[str, Any] | None = None) -> Path:
    """Write the targets to ``out_dir/<DATE>.json`` atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    targets : list of Target
        From :func:`compute_targets` (one as-of date).
    out_dir : path
        Folder (created if needed), e.g. ``signals/``.
    asof : date-like, optional
        DATE of the file name; default the targets' ``asof`` (required when ``targets`` is empty).
    meta : mapping, optional
        Extra JSON-ready fields (provenance: version, config and data hashes, source).

    Returns
    -------
    Path
        The file written: ``{"asof", "session", "targets": [...], **meta}``.

    Raises
    ------
    UsageError
        Targets of different as-of dates, or no date at all.
    """
    from volts.core.artifacts import atomic_write_json

    dates = {t.asof for t in targets}
    if asof is not None:
        dates.add(pd.Timestamp(asof).date())
    if len(dates) != 1:
        raise UsageError(
            "write_signals: the targets must share one as-of date "
            f"(got {', '.join(sorted(str(d) for d in dates)) or 'none'})"
        )
    day = dates.pop()
    payload: dict[str, Any] = {
        "asof": day.isoformat(),
        "session": targets[0].session.isoformat() if targets else None,
        "targets": [t.to_dict() for t in targets],
    }
    if meta:
        payload.update(meta)
    return atomic_write_json(Path(out_dir) / f"{day.isoformat()}.json", payload)
