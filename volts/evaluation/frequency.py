"""The frequency study: how the lead-lag signal and its net value change with the bar size.

Curme et al. (2015, "Emergence of statistically validated financial intraday lead-lag relationships") find that
statistically validated lead-lag links multiply as the sampling gets finer; Huth & Abergel (2014) find liquid assets
leading by minutes to hours. This module puts that to the test on one universe and span at several bar sizes, all
resampled from the finest bars (:func:`volts.data.resample.resample_bars`), so that every bar size sees the same
trades.

**Signal.** The span is cut into non-overlapping blocks of one duration (default 90 days, the same clock time at
every bar size, so a finer bar has more observations per block). In each block every configured screen
(``[selection] screens`` by default) tests **every ordered pair** of the universe on the block's log returns, on
its own (not as a funnel); the p-values of all pairs of the block are adjusted by Benjamini-Hochberg
(``statsmodels.stats.multitest.multipletests``, ``fdr_bh``) and a pair is validated at FDR ``alpha`` (5 %) when,
for a screen that estimates a delay, that delay is at least one bar (a dependence at shift 0 is contemporaneous,
not a lead). Per
bar size and screen: pairs validated per block (mean and the share of all ordered pairs), the median effect size of
the validated pairs (the screen's own score), and their lags in bars and in hours. A screen without a test (a
top-K score) has no validated count.

**Value** (:func:`value_rows`): the walk-forward of each bar size (the same cadence and costs), with its gross and
net Sharpe ratio, bootstrap interval and break-even cost, taken from the walk-forwards' ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from volts.core.errors import DataError, UsageError
from volts.data.market import FIELDS, MarketData
from volts.data.timeframes import timeframe

__all__ = ["resample_market", "resample_panel", "blocks", "screen_block", "signal_table", "FrequencyBlock"]


def resample_market(market: MarketData, source: str, to: str, calendar: str | None) -> MarketData:
    """``market`` (bars of size ``source``) aggregated to bars of size ``to``, aligned on the stamps every symbol has.

    Each symbol is resampled by :func:`volts.data.resample.resample_bars` (first open, highest high, lowest low,
    last close, summed volume; a bucket with fewer source bars than the calendar expects is dropped); the symbols
    are then cut to their common buckets.

    Raises
    ------
    UsageError
        ``to`` is not coarser than ``source`` or not a multiple of it.
    DataError
        No bucket is complete for every symbol.
    """
    from volts.data.resample import resample_bars

    if timeframe(to).minutes == timeframe(source).minutes:
        return market
    per_symbol = {}
    for sym in market.symbols:
        out, _ = resample_bars(market.bars(sym), source, to, calendar, partial="drop")
        per_symbol[sym] = out
    common = None
    for out in per_symbol.values():
        common = out.index if common is None else common.intersection(out.index)
    if common is None or len(common) < 2:
        raise DataError(f"resampling {source} -> {to}: fewer than two buckets complete for every symbol")
    frames = {
        f: pd.DataFrame(
            {s: per_symbol[s].loc[common, f].to_numpy(float) for s in market.symbols}, index=pd.DatetimeIndex(common)
        )
        for f in FIELDS
    }
    return MarketData.from_frames(frames)


def resample_panel(panel, source: str, to: str, calendar: str | None):
    """An :class:`volts.data.intraday_panel.IntradayPanel` of bars of size ``to`` from one of size ``source``: each
    symbol's own bars (the carried ones left out) resampled by :func:`volts.data.resample.resample_bars`, incomplete
    buckets dropped, then put on the union of the buckets (:func:`volts.data.intraday_panel.panel_from_bars`).

    Raises
    ------
    UsageError
        ``to`` is not coarser than ``source`` or not a multiple of it.
    DataError
        A symbol has no complete bucket.
    """
    from volts.data.intraday_panel import panel_from_bars
    from volts.data.resample import resample_bars

    if timeframe(to).minutes == timeframe(source).minutes:
        return panel
    out = {}
    for sym in panel.symbols:
        res, _ = resample_bars(panel.own_bars(sym), source, to, calendar, partial="drop")
        out[sym] = res[list(FIELDS)]
    return panel_from_bars(out)


def blocks(index: pd.DatetimeIndex, start, end, length: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Non-overlapping blocks ``[t, t + length)`` tiling ``[start, end]`` (the last, partial one is left out).

    Raises
    ------
    UsageError
        ``length`` is not a duration, or no whole block fits.
    """
    from volts.core.lengths import parse_length

    ln = parse_length(length)
    if ln.duration is None:
        raise UsageError(f"--block {length!r}: give a duration (e.g. 90D), the same clock time at every bar size")
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    out = []
    t = t0
    while t + ln.duration <= t1:
        out.append((t, t + ln.duration))
        t = t + ln.duration
    if not out:
        raise UsageError(f"--block {length}: no whole block between {start} and {end}")
    return out


@dataclass(frozen=True)
class FrequencyBlock:
    """One (bar size, block) task of the signal study: per screen the arrays of every ordered pair."""

    bar: str
    start: pd.Timestamp
    end: pd.Timestamp
    n_bars: int
    results: dict  # screen -> {"p": array, "score": array, "lag": array, "lag_kind": str|None, "has_test": bool}
    error: str | None = None


def screen_block(task: tuple, *, markets: dict, settings, screens: Sequence[str]) -> FrequencyBlock:
    """Run every screen on every ordered pair of one block of one bar size (a Dask task).

    Parameters
    ----------
    task : (bar, start, end)
        Bar size name and the block's bounds (``start <= stamp < end``).
    markets : dict of str to MarketData or IntradayPanel
        Bars per bar size; on a panel the block uses the symbols that cover it (:meth:`volts.data.intraday_panel.
        IntradayPanel.covering`, ``data.coverage_gap_days``), on the stamps they all have.
    settings : volts.core.config.Settings
        The screens' parameters.
    screens : sequence of str
        Screen names (:data:`volts.selection.screens.SCREENS`).
    """
    from volts.selection.screens import make_screen

    from volts.data.intraday_panel import IntradayPanel

    bar, start, end = task
    m = markets[bar]
    last = end - pd.Timedelta(microseconds=1)
    excluded: dict = {}
    if isinstance(m, IntradayPanel):  # the symbols whose own bars cover the block, on the stamps they all have
        idx = m.market.dates
        if not ((idx >= start) & (idx < end)).any():
            return FrequencyBlock(bar, start, end, 0, {}, "no bar")
        ok, excluded = m.covering(start, last, max_gap=pd.Timedelta(days=settings.data.coverage_gap_days))
        if len(ok) < 2:
            return FrequencyBlock(bar, start, end, 0, {}, f"fewer than two symbols cover the block: {excluded}")
        sub = m.window_market(ok, start, last)
    else:
        idx = m.dates
        sub = m.slice(start, last) if ((idx >= start) & (idx < end)).any() else None
    if sub is None or len(sub) < 10:
        return FrequencyBlock(bar, start, end, 0 if sub is None else len(sub), {}, "fewer than 10 bars")
    returns = sub.log_returns()
    syms = list(returns.columns)
    pairs = [(x, y) for x in syms for y in syms if x != y]
    results: dict[str, dict[str, Any]] = {}
    for name in screens:
        screen = make_screen(name, settings)
        try:
            res = screen.run(returns, pairs, prices=sub.close)
        except DataError as exc:
            results[name] = {"error": str(exc)}
            continue
        results[name] = {
            "p": res.p,
            "score": res.score,
            "lag": res.lag,
            "lag_kind": res.lag_kind,
            "has_test": bool(screen.has_test),
        }
    return FrequencyBlock(bar, start, end, len(sub), results)


def _bh(p: np.ndarray, alpha: float) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    ok = np.isfinite(p)
    out = np.zeros(len(p), dtype=bool)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=alpha, method="fdr_bh")[0]
    return out


def signal_table(done: Sequence[FrequencyBlock], *, alpha: float = 0.05) -> pd.DataFrame:
    """Aggregate the blocks into one row per (bar size, screen).

    Columns: ``bar``, ``screen``, ``blocks`` (blocks screened), ``bars_per_block`` (median), ``pairs`` (ordered
    pairs per block, median: the symbols covering a block can change), ``validated_per_block`` (mean pairs
    validated at FDR ``alpha``), ``validated_share`` (mean over blocks of validated / ordered pairs),
    ``median_effect`` (median score of the validated pairs), ``lag_kind`` (``delay``: the lead in bars; ``order``: a
    model order such as Granger's l*, not a delay), ``lag_bars_median``, ``lag_hours_median``, ``lag_hours_q25``,
    ``lag_hours_q75`` (lags of the validated pairs), ``errors`` (blocks the screen refused).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for b in done:
        minutes = timeframe(b.bar).minutes
        for name, r in b.results.items():
            row = rows.setdefault(
                (b.bar, name),
                {
                    "bar": b.bar,
                    "screen": name,
                    "blocks": 0,
                    "bars": [],
                    "pairs": [],
                    "validated": [],
                    "effects": [],
                    "lags": [],
                    "errors": 0,
                    "has_test": True,
                    "minutes": minutes,
                    "lag_kind": None,
                },
            )
            if "error" in r:
                row["errors"] += 1
                continue
            row["blocks"] += 1
            row["bars"].append(b.n_bars)
            row["pairs"].append(len(r["p"]))
            row["has_test"] = r["has_test"]
            row["lag_kind"] = r["lag_kind"]
            if not r["has_test"]:
                continue
            lag_all = np.asarray(r["lag"], int)
            v = _bh(np.asarray(r["p"], float), alpha)
            if r["lag_kind"] == "delay":  # a lead-lag link needs a lead: a link at shift 0 is contemporaneous
                v &= lag_all >= 1
            row["validated"].append(int(v.sum()))
            row.setdefault("shares", []).append(float(v.sum()) / max(1, len(v)))
            row["effects"].extend(np.asarray(r["score"], float)[v].tolist())
            lags = np.asarray(r["lag"], int)[v]
            row["lags"].extend(lags[lags >= 0].tolist())
    out = []
    for (bar, name), r in rows.items():
        lags = np.asarray(r["lags"], float)
        hours = lags * r["minutes"] / 60.0
        n_val = np.asarray(r["validated"], float)
        out.append(
            {
                "bar": bar,
                "screen": name,
                "blocks": r["blocks"],
                "bars_per_block": float(np.median(r["bars"])) if r["bars"] else float("nan"),
                "pairs": float(np.median(r["pairs"])) if r["pairs"] else float("nan"),
                "validated_per_block": float(n_val.mean()) if r["has_test"] and len(n_val) else float("nan"),
                "validated_share": float(np.mean(r["shares"])) if r.get("shares") else float("nan"),
                "median_effect": float(np.median(r["effects"])) if r["effects"] else float("nan"),
                "lag_kind": r["lag_kind"] or "",
                "lag_bars_median": float(np.median(lags)) if len(lags) else float("nan"),
                "lag_hours_median": float(np.median(hours)) if len(hours) else float("nan"),
                "lag_hours_q25": float(np.quantile(hours, 0.25)) if len(hours) else float("nan"),
                "lag_hours_q75": float(np.quantile(hours, 0.75)) if len(hours) else float("nan"),
                "errors": r["errors"],
            }
        )
    order = {b: timeframe(b).minutes for b in {r["bar"] for r in out}}
    return (
        pd.DataFrame(out)
        .sort_values(["screen", "bar"], key=lambda s: s.map(order) if s.name == "bar" else s, kind="stable")
        .reset_index(drop=True)
    )
