"""The market a walk-forward trades: the bars of every symbol its weeks hold, over the spans they hold them.

For a fixed universe this is the loaded market. For a point-in-time universe each week's pairs come from that
week's members, so the trading pass loads the traded symbols over the spans they are held
(:func:`trading_market`), and the random-pairs null every candidate (:func:`candidates_market`), each validated
over those spans only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from volts.core.config import Settings
from volts.core.errors import DataError
from volts.data.market import MarketData
from volts.evaluation.schedule import (
    _to_date,
)


def _week_spans(settings: Settings, weeks: Sequence[dict], dates: pd.DatetimeIndex,
                end: dt.date) -> dict[str, list[tuple[str, int, int]]]:
    """Per traded symbol, the ``(asof, first, last)`` session indices (into ``dates``) each week holding it reads.

    A pair of the week as of ``a`` is traded from the first session after ``a`` to the first session after the
    next as-of date (the exit fill at that open), or to ``end``. Its leader's trend signal reads the closes of the
    ``lag + ma_window`` sessions before, and the selection read the week's windows: a span starts at the earlier
    of the week's earliest window start and ``lag + ma_window + 1`` sessions before ``a``.
    """
    from volts.selection.pipeline import earliest_start

    ma = int(settings.strategy.ma_window)
    last = dates.searchsorted(pd.Timestamp(end), side="right") - 1
    raw: dict[str, list[tuple[str, int, int]]] = {}
    for k, w in enumerate(weeks):
        asof = _to_date(w["asof"])
        nxt = _to_date(weeks[k + 1]["asof"]) if k + 1 < len(weeks) else None
        at = int(dates.searchsorted(pd.Timestamp(asof), side="right")) - 1   # last session <= asof
        stop = last if nxt is None else min(last, int(dates.searchsorted(pd.Timestamp(nxt), side="right")))
        window = int(dates.searchsorted(pd.Timestamp(earliest_start(settings.windows.shifted(asof)))))
        for p in w["pairs"]:
            first = max(0, min(window, at - (int(p.get("lag", 1)) + ma + 1)))
            for sym in {p["leader"], p["follower"]}:
                raw.setdefault(sym, []).append((asof.isoformat(), first, max(first, stop)))
    return raw


def _merge_spans(parts: Sequence[tuple[str, int, int]], dates: pd.DatetimeIndex
                 ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Overlapping or adjacent ``(asof, first, last)`` spans merged into ``(first, last)`` session stamps."""
    merged: list[list[int]] = []
    for a, b in sorted((a, b) for _, a, b in parts):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(dates[a], dates[b]) for a, b in merged]


def trading_market(settings: Settings, weeks: Sequence[dict], *, end: dt.date,
                   drop_bad_weeks: bool = False) -> tuple[MarketData, dict]:
    """Bars of every traded symbol of a point-in-time walk-forward, on one calendar, for the trading pass.

    Every symbol of a selected pair is first read and validated from the earliest window start of the first week
    to ``end``. A symbol that fails there (listed later, delisted before ``end``, or a bad bar in a stretch it is
    not held) is read again over only the spans the trading pass reads it (:func:`_week_spans`: the weeks that
    hold it, their windows and the signal's warm-up), each span validated on its own. Outside those spans its bars
    are flat (open = high = low = close = the last real close, or the first real open before its first span;
    volume 0): never traded, and the symbol is left out of the equal-weight benchmark.

    Parameters
    ----------
    settings : Settings
    weeks : sequence of dict
        Week records: ``asof``, ``universe``, ``pairs`` (leader, follower, lag).
    end : datetime.date
        Last session traded.
    drop_bad_weeks : bool, default False
        False: a span that fails is an error (the headline cannot trade a symbol over a bad bar). True (the
        random-pairs null's market, :func:`candidates_market`): the weeks whose own span holds the failing date
        are dropped for that symbol and its other weeks validated again; ``info["dropped"]`` lists them.

    Returns
    -------
    (MarketData, dict)
        The market, and ``{"symbols", "padded": {symbol: first real session}, "filled": {symbol: {"spans":
        [[first, last], ...], "full_span_exclusion": {...}}}, "excluded": [...], "dropped": [{"symbol", "asof",
        "date", "rule", "message"}, ...]}``; ``padded`` and ``filled`` have the same keys (the symbols with flat
        bars somewhere).

    Raises
    ------
    DataError
        Without ``drop_bad_weeks``: a traded symbol whose bars fail validation, or miss a session, inside a span
        it is read in; the message names the symbol, its file, the date, the rule and the weeks that hold it.
    """
    from volts.data.universe import load_universe
    from volts.selection.pipeline import earliest_start

    first_held: dict[str, dt.date] = {}
    for w in weeks:
        for p in w["pairs"]:
            for sym in (p["leader"], p["follower"]):
                first_held.setdefault(sym, _to_date(w["asof"]))
    first = earliest_start(settings.windows.shifted(_to_date(weeks[0]["asof"])))
    data = settings.data.model_copy(update={"on_bad_symbol": "exclude"})
    anchor_syms = sorted({s for w in weeks[:1] for s in w["universe"]})[:20] or sorted(first_held)
    symbols = sorted(set(first_held) | set(anchor_syms))
    market, rep = load_universe(data, asof=end, start=first, end=end, symbols=symbols)
    frames = {f: getattr(market, f) for f in ("open", "high", "low", "close", "volume")}
    retry = [exc for exc in rep.excluded if exc.symbol in first_held]
    per_week = _week_spans(settings, weeks, market.dates, end) if retry else {}
    anchors = list(market.symbols[:2])   # valid over the whole calendar, so over every span: the load never
    padded: dict[str, str] = {}          # stops on the "two usable members" rule when the traded symbol fails
    filled: dict[str, dict] = {}
    dropped: list[dict] = []
    for exc in retry:
        sym = exc.symbol
        parts = list(per_week[sym])
        real = None
        while parts:
            spans = _merge_spans(parts, market.dates)
            real, failure = _read_spans(data, sym, spans, market, anchors, tuple(frames))
            if failure is None:
                break
            a, b, why, day = failure
            if not drop_bad_weeks:
                held = sorted({asof for asof, _, _ in parts})
                raise DataError(f"{sym}: held in {len(held)} week(s) ({held[0]} .. {held[-1]}); the trading pass "
                                f"reads its bars from {a.date()} to {b.date()}, where they fail: {why}. Fix or "
                                f"remove the bad rows, or re-select without {sym} (its weeks recompute when the "
                                f"file changes)")
            # the weeks whose own span holds the failing date (all of the failing span's when it has none)
            lo, hi = ((market.dates.searchsorted(day), market.dates.searchsorted(day)) if day is not None else
                      (market.dates.searchsorted(a), market.dates.searchsorted(b)))
            bad = [(asof, x, y) for asof, x, y in parts if x <= hi and y >= lo]
            if not bad:   # the date lies outside every week's span (cannot happen); drop the failing span's
                bad = [(asof, x, y) for asof, x, y in parts
                       if x <= market.dates.searchsorted(b) and y >= market.dates.searchsorted(a)] or parts
            dropped += [{"symbol": sym, "asof": asof, "date": day.date().isoformat() if day is not None else None,
                         "reason": why} for asof in sorted({asof for asof, _, _ in bad})]
            parts = [p for p in parts if p not in bad]
        if real is None:
            continue     # every week of the symbol dropped: it is not in the market
        have = real["close"].notna()
        price = real["close"].ffill().fillna(float(real["open"][have].iloc[0]))
        bars = pd.DataFrame(real)
        for f in ("open", "high", "low", "close"):
            bars.loc[~have, f] = price[~have]
        bars.loc[~have, "volume"] = 0.0
        for f in frames:
            frames[f] = pd.concat([frames[f], bars[f].rename(sym)], axis=1)
        padded[sym] = market.dates[have.to_numpy()][0].date().isoformat()
        filled[sym] = {"spans": [[a.date().isoformat(), b.date().isoformat()] for a, b in spans],
                       "full_span_exclusion": exc.to_dict()}
    out = MarketData.from_frames(frames, report=market.report)
    return out, {"symbols": sorted(first_held), "padded": padded, "filled": filled,
                 "excluded": [e.to_dict() for e in rep.excluded if e.symbol not in padded], "dropped": dropped}


def _read_spans(data, sym: str, spans, market: MarketData, anchors: list[str], fields: Sequence[str]):
    """``sym``'s validated ``fields`` over each of ``spans`` on ``market``'s calendar (NaN elsewhere), or the first
    failure ``(first, last, why, date or None)``."""
    from volts.data.universe import load_universe

    real = {f: pd.Series(np.nan, index=market.dates) for f in fields}
    for a, b in spans:
        one, rep1 = load_universe(data, asof=b.date(), start=a.date(), end=b.date(),
                                  symbols=[sym] + [s for s in anchors if s != sym])
        if sym not in one.symbols:
            exc = next((e for e in rep1.excluded if e.symbol == sym), None)
            day = pd.Timestamp(exc.date) if exc is not None and exc.date else None
            return None, (a, b, str(exc) if exc is not None else "no usable bars", day)
        bars = one.bars(sym)
        inside = market.dates[(market.dates >= a) & (market.dates <= b)]
        lacking = inside.difference(bars.index)
        if len(lacking):
            return None, (a, b, f"session {lacking[0].date()} missing (rule: missing_session; a traded symbol "
                                f"needs every session it is held and warmed up)", lacking[0])
        for f in fields:
            real[f].loc[inside] = bars[f].reindex(inside).to_numpy()
    return real, None


def candidates_market(settings: Settings, weeks: Sequence[dict], *, end: dt.date
                      ) -> tuple[MarketData, list[dict]]:
    """Bars of every mid-volatility candidate of the weeks that hold pairs, for the random-pairs null of a
    point-in-time walk-forward.

    :class:`RandomPairs` draws a week's pairs from its ``candidates`` (a week in cash stays in cash), with lags up
    to ``[lag] max_lag``. Each candidate is loaded as :func:`trading_market` loads a traded symbol, as if every
    candidate were held that week at the longest lag. A candidate whose bars fail inside a week's holding span
    (a bad bar after the as-of date, which the selection could not see) cannot be traded that week: it is
    dropped from that week's candidates for the null and listed.

    Returns
    -------
    (MarketData, list of dict)
        The market, and the dropped ``{"symbol", "asof", "date", "reason"}`` (see :func:`null_weeks`).
    """
    lag = int(settings.lag.max_lag)
    pseudo = [{"asof": w["asof"], "universe": w.get("universe") or [],
               "pairs": [{"leader": c, "follower": c, "lag": lag} for c in (w.get("candidates") or [])]
               if w.get("pairs") else []} for w in weeks]
    market, info = trading_market(settings, pseudo, end=end, drop_bad_weeks=True)
    return market, info["dropped"]


def null_weeks(weeks: Sequence[dict], dropped: Sequence[Mapping[str, Any]]) -> list[dict]:
    """``weeks`` with each dropped ``(symbol, asof)`` of :func:`candidates_market` removed from that week's
    ``candidates`` (the pool the random-pairs null draws from)."""
    gone: dict[str, set[str]] = {}
    for d in dropped:
        gone.setdefault(str(d["asof"]), set()).add(d["symbol"])
    out = []
    for w in weeks:
        bad = gone.get(str(w["asof"]))
        out.append({**w, "candidates": [c for c in w.get("candidates") or [] if c not in bad]} if bad else w)
    return out


def load_walkforward_market(settings: Settings, dates_start: dt.date, end: dt.date,
                            symbols: Sequence[str] | None = None) -> MarketData:
    """Bars for a whole walk-forward, loaded once: from the earliest window start of a week as of
    ``dates_start`` to ``end`` (the trading pass needs the bars after the last as-of date)."""
    from volts.data.sources import load_market
    from volts.selection.pipeline import earliest_start

    first = earliest_start(settings.windows.shifted(dates_start)) - dt.timedelta(days=10)
    if end is None:   # the default end (volts.evaluation.span.DEFAULT_END), cut to the data by the run
        from volts.evaluation.span import DEFAULT_END

        end = DEFAULT_END
    if symbols is None and settings.data.source != "synthetic":
        symbols = list(settings.data.universe)
    return load_market(settings.data, symbols=symbols, start=first, end=end)
