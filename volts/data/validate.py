"""Bar and calendar rules for daily OHLCV data, and the validation report.

Every source (CSV, MetaTrader5, the synthetic demo market) hands its raw per-symbol frames to
:func:`validate_bars`, the only way a :class:`~volts.data.market.MarketData` is built from outside data
(ARCHITECTURE.md, "Data model"). :func:`collect_problems` runs the same rules without raising; ``volts data
check`` uses it.

Rules (names are the ``rule`` field of a :class:`Problem`)
---------------------------------------------------------
Row order, checked on every row of a file (a window cannot be cut from a file whose order is broken):

* ``duplicate_date``  a date seen on an earlier row;
* ``unsorted_date``   a date earlier than a previous row's date;
* ``missing_date``    an empty/NaT date.

Bar rules, one row at a time:

* ``nan``             open, high, low, close or volume is missing (NaN);
* ``non_positive_price``  a price <= 0;
* ``high_below_max_open_close``  High < max(Open, Close);
* ``low_above_min_open_close``   Low > min(Open, Close);
* ``negative_volume`` volume < 0.

Plausibility rules (issue 14; each can be switched by its setting), one row at a time:

* ``non_finite``      a value is +/- infinity (``inf`` in a file);
* ``range_outlier``   a wick beyond the body (High above max(Open, Close), or Low below min(Open, Close)) larger
  than ``max_range_multiple`` times the median High/Low range of the 10 bars either side and larger than
  ``max_abs_return`` (High = 1e12 on a day whose Open, Low and Close are normal); off when
  ``max_range_multiple`` is None;
* ``non_session_date`` a bar on a date that is not a session of the exchange calendar ``calendar`` (a Saturday,
  a holiday); off when ``calendar`` is None. Checked only on dates inside the calendar's range.

These follow ``on_invalid`` like the bar rules. Across symbols, ``extra_bar`` names a symbol that trades on a
date most other symbols do not (a stray holiday row in one file) instead of blaming the others with
``missing_bar``; a ``missing_bar`` caused by a row that ``on_invalid = "drop"`` removed says so.

Date rule: ``future_date`` -- a bar dated after today (the exchange's local date, ``America/New_York`` for
XNYS), which no vendor can have delivered: it would become the as-of date of a signal. Checked on every row of
a file by :func:`future_dates` (a rule of its own); ``on_invalid = "drop"`` drops such rows like any bad bar.

Return rule: ``return_jump`` when the close-to-close simple return |C_t / C_{t-1} - 1| exceeds
``max_abs_return`` (0.5 by default): the typical sign of an unadjusted split (a 2:1 split gives -50 %, a 10:1
split -90 %). Genuine moves of that size exist (AAPL fell 51.9 % on 2000-09-29), so raise the threshold rather
than edit data when a flagged move is real.

Window rule: ``no_rows_in_window``. Calendar rules (across symbols): ``missing_bar`` (a symbol has no bar on a
date another symbol trades) and ``not_listed`` (under ``forward_fill_close``, the gap lies before the symbol's
first or after its last bar, which a fill would invent).

Window policy (a decision of ours): when ``start``/``end`` are given, the bar rules
act on the rows inside ``[start, end]`` plus the one bar before ``start`` (its close is the base of the first
return); the return rule acts on returns dated inside the window. Problems on rows outside that scope do not
fail the load: they are reported with action ``"flagged"`` and the rows are cut with the rest of the outside
rows. Row-order rules always cover the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from volts.core.errors import DataError, UsageError
from volts.data.market import FIELDS, MarketData
from volts.data.problems import (  # noqa: F401  (re-exported: this module's API before the split)
    _OUTSIDE,
    DROPPABLE_RULES,
    OUTSIDE_NOTE,
    PRICE_FIELDS,
    Action,
    Problem,
    ValidationReport,
    _fmt,
    _iso,
    _ts,
    raise_problem,
)
from volts.data.rules import (  # noqa: F401  (re-exported: this module's API before the split)
    _CALENDARS,
    _SESSIONS,
    TODAY_ZONE,
    _session_table,
    exchange_today,
    future_dates,
    rule_non_finite,
    rule_range_outlier,
    session_mask,
)


def _check_policy(on_invalid: str, missing: str, max_abs_return: float) -> None:
    if on_invalid not in ("error", "drop"):
        raise UsageError(f"on_invalid must be 'error' or 'drop' (got {on_invalid!r})")
    if missing not in ("error", "drop_dates", "forward_fill_close"):
        raise UsageError(f"missing must be 'error', 'drop_dates' or 'forward_fill_close' (got {missing!r})")
    if not max_abs_return > 0:
        raise UsageError(f"max_abs_return must be > 0 (got {max_abs_return!r})")


@dataclass
class _Checked:
    symbol: str
    frame: pd.DataFrame  # the rows kept, inside the window
    problems: list[Problem]
    rows_read: int
    rows_dropped: int
    file: str | None = None
    dropped_dates: dict = field(default_factory=dict)  # ISO date -> rule of rows on_invalid="drop" removed


def _prepare(frame: pd.DataFrame, symbol: str, file: str | None) -> pd.DataFrame:
    where = file or symbol
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{where}: {symbol}: raw bars must be a DataFrame (got {type(frame).__name__})")
    absent = [c for c in FIELDS if c not in frame.columns]
    if absent:
        raise DataError(f"{where}: {symbol}: missing column(s) {', '.join(absent)} in the raw bars")
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise DataError(f"{where}: {symbol}: raw bars need a DatetimeIndex of dates (got {type(idx).__name__})")
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    out = frame[list(FIELDS)].astype(float)
    out.index = idx.normalize()
    return out


def _check_symbol(
    frame: pd.DataFrame,
    symbol: str,
    file: str | None,
    *,
    start,
    end,
    mode: str,
    max_abs_return: float,
    return_jump: str = "error",
    calendar: str | None = None,
    max_range_multiple: float | None = None,
    today=None,
) -> _Checked:
    """Row-order, bar and return rules for one symbol. ``mode``: "error" | "drop" | "collect".

    Length: one pass of every single-row and per-symbol rule over one symbol's bars, in the order the rules are
    documented, each with its policy (error, drop, flag) and the problem it records; the rules share the
    symbol's masks.
    """
    df = _prepare(frame, symbol, file)
    rows_read = len(df)
    problems: list[Problem] = []
    act_in = {"error": "error", "drop": "dropped", "collect": "error"}[mode]
    dropped = 0

    def add(date, rule, message, action):
        problems.append(Problem(symbol, file, None if date is None else _iso(date), rule, message, action))

    # --- row order (whole file)
    d = df.index
    keep = np.ones(len(df), dtype=bool)
    nat = np.asarray(d.isna())
    for i in np.flatnonzero(nat):
        add(None, "missing_date", f"row {i + 1} has no date", act_in)
    keep &= ~nat
    valid = d[~nat]
    if len(valid) > 1 and valid.is_monotonic_decreasing and valid.is_unique:
        # the whole file is newest first: one problem, never "dropped" (that would keep a single row)
        add(
            valid[-1],
            "unsorted_date",
            f"the rows are newest first ({_iso(valid[0])} down to "
            f"{_iso(valid[-1])}); set data.csv.row_order = 'descending'",
            "error",
        )
        return _Checked(symbol, df.iloc[0:0], problems, rows_read, 0, file)
    if keep.any():
        vals = d.asi8.copy()
        lowest = np.iinfo(np.int64).min
        vals[nat] = lowest
        prev_max = np.concatenate([[lowest], np.maximum.accumulate(vals)[:-1]])
        seen_before = np.asarray(d.duplicated(keep="first")) & ~nat
        bad_order = (vals <= prev_max) & ~nat
        for i in np.flatnonzero(bad_order):
            if seen_before[i]:
                add(d[i], "duplicate_date", f"date appears on more than one row (row {i + 1})", act_in)
            else:
                before = pd.Timestamp(np.datetime64(int(prev_max[i]), d.unit))
                add(
                    d[i],
                    "unsorted_date",
                    f"row {i + 1} is dated before an earlier row's {_iso(before)}; dates must ascend",
                    act_in,
                )
        keep &= ~bad_order
    # --- future dates (whole file: a future bar must never become an as-of date)
    future = future_dates(d, today=today) & keep
    day = exchange_today() if today is None else pd.Timestamp(today).normalize()
    for i in np.flatnonzero(future):
        add(
            d[i],
            "future_date",
            f"row {i + 1} is dated after today ({_iso(day)}); no vendor can have this bar "
            '(a typo or a placeholder date? fix the file, or set data.on_invalid = "drop")',
            act_in,
        )
    if future.any() and mode == "error":  # stop here: a window cut at a future date would only add noise
        return _Checked(symbol, df.iloc[0:0], problems, rows_read, 0, file)
    keep &= ~future
    if mode == "drop":
        dropped += int((~keep).sum())
    df = df[keep]

    # --- scope of the bar rules: the window plus the one bar before start
    dates = df.index
    if start is not None:
        pos = int(dates.searchsorted(start, side="left"))
        lower = dates[pos - 1] if pos > 0 else start
    else:
        lower = None
    in_scope = np.ones(len(df), dtype=bool)
    if lower is not None:
        in_scope &= np.asarray(dates >= lower)
    if end is not None:
        in_scope &= np.asarray(dates <= end)

    # --- bar rules
    o, h, lo, c, v = (df[f].to_numpy() for f in FIELDS)
    nan = np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c) | np.isnan(v)
    nonfin = ~nan & rule_non_finite(o, h, lo, c, v)
    with np.errstate(invalid="ignore"):
        nonpos = ~nan & ~nonfin & ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0))
        hi_bad = ~nan & ~nonfin & ~nonpos & (h < np.maximum(o, c))  # H/L comparisons only mean something on
        lo_bad = ~nan & ~nonfin & ~nonpos & (lo > np.minimum(o, c))  # positive prices
        vol_bad = ~nan & ~nonfin & (v < 0)
    usable = ~(nan | nonfin | nonpos | hi_bad | lo_bad)
    outlier = rule_range_outlier(o, h, lo, c, multiple=max_range_multiple, max_abs_return=max_abs_return, usable=usable)
    off_session = ~session_mask(dates, calendar)
    bad = nan | nonfin | nonpos | hi_bad | lo_bad | vol_bad | outlier | off_session
    for i in np.flatnonzero(bad):
        action = act_in if in_scope[i] else "flagged"
        tail = "" if in_scope[i] else f" ({_OUTSIDE})"
        vals = f"O={_fmt(o[i])} H={_fmt(h[i])} L={_fmt(lo[i])} C={_fmt(c[i])} V={_fmt(v[i])}"
        if nan[i]:
            cols = [f for f, x in zip(FIELDS, (o[i], h[i], lo[i], c[i], v[i])) if np.isnan(x)]
            add(dates[i], "nan", f"missing value in {', '.join(cols)} ({vals}){tail}", action)
        if nonfin[i]:
            add(
                dates[i],
                "non_finite",
                f"a value is infinite ({vals}); fix the file or set data.on_invalid = 'drop'{tail}",
                action,
            )
        if nonpos[i]:
            add(dates[i], "non_positive_price", f"a price is <= 0 ({vals}){tail}", action)
        if hi_bad[i]:
            add(
                dates[i],
                "high_below_max_open_close",
                f"High {_fmt(h[i])} < max(Open, Close) {_fmt(max(o[i], c[i]))} ({vals}){tail}",
                action,
            )
        if lo_bad[i]:
            add(
                dates[i],
                "low_above_min_open_close",
                f"Low {_fmt(lo[i])} > min(Open, Close) {_fmt(min(o[i], c[i]))} ({vals}){tail}",
                action,
            )
        if vol_bad[i]:
            add(dates[i], "negative_volume", f"volume {_fmt(v[i])} < 0{tail}", action)
        if outlier[i]:
            add(
                dates[i],
                "range_outlier",
                f"the High/Low range lies far outside the body and the neighbouring days ({vals}): a wick over "
                f"{max_range_multiple:g}x the neighbours' median range and beyond max_abs_return "
                f"{max_abs_return:g}; fix the bar, set data.on_invalid = 'drop', or raise data.max_range_multiple"
                f"{tail}",
                action,
            )
        if off_session[i]:
            add(
                dates[i],
                "non_session_date",
                f"{pd.Timestamp(dates[i]).day_name()} {_iso(dates[i])} is not a {calendar} session (weekend or "
                f"holiday); remove the row, set data.on_invalid = 'drop', or set data.calendar for this "
                f"exchange{tail}",
                action,
            )
    if mode == "drop":
        dropped += int((bad & in_scope).sum())
    dropped_dates = (
        {
            _iso(dates[i]): next(p.rule for p in reversed(problems) if p.date == _iso(dates[i]))
            for i in np.flatnonzero(bad & in_scope)
        }
        if mode == "drop"
        else {}
    )
    df = df[~bad]

    # --- return rule (returns dated inside the window)
    close = df["close"].to_numpy()
    if len(close) > 1:
        ret = np.concatenate([[0.0], close[1:] / close[:-1] - 1.0])
        in_window = np.ones(len(df), dtype=bool)
        if start is not None:
            in_window &= np.asarray(df.index >= start)
        if end is not None:
            in_window &= np.asarray(df.index <= end)
        jump_action = {"error": "error", "drop": "flagged", "collect": "error"}[mode]
        if return_jump == "flag" and mode != "collect":  # a real move: kept, reported as a note
            jump_action = "flagged"
        for i in np.flatnonzero(np.abs(ret) > max_abs_return):
            action = jump_action if in_window[i] else "flagged"
            tail = "" if in_window[i] else f" ({_OUTSIDE})"
            add(
                df.index[i],
                "return_jump",
                f"close {_fmt(close[i - 1])} on {_iso(df.index[i - 1])} -> {_fmt(close[i])} is a "
                f"{ret[i]:+.1%} move, beyond data.max_abs_return {max_abs_return:g} (check for an unadjusted "
                f"split; if the move is real, raise data.max_abs_return){tail}",
                action,
            )

    # --- cut to the window
    span = (
        f"{_iso(frame.index.min())} .. {_iso(frame.index.max())}"
        if len(frame) and frame.index.notna().any()
        else "no rows"
    )
    if start is not None or end is not None:
        df = df.loc[start:end]
    if len(df) == 0:
        s = _iso(start) if start is not None else "start"
        e = _iso(end) if end is not None else "end"
        if start is not None or end is not None:
            msg = f"no rows between {s} and {e} (data span {span})"
        else:
            msg = "no valid rows left"
        add(None, "no_rows_in_window", msg, "error")
    problems.sort(key=lambda p: (p.date or "",))
    return _Checked(symbol, df, problems, rows_read, dropped, file, dropped_dates)


def _align(checked: list[_Checked], policy: str) -> tuple[list[_Checked], dict[str, int], dict[str, int]]:
    """Calendar alignment across symbols (``policy`` = the ``missing`` setting, or "collect").

    Length: the alignment policy (error, drop, fill) applied to the symbols' dates in one place, with the counts
    of what each symbol lost or gained for the report.
    """
    extra_drop = {c.symbol: 0 for c in checked}
    filled = {c.symbol: 0 for c in checked}
    if len(checked) < 2:
        return checked, extra_drop, filled
    union = checked[0].frame.index
    for c in checked[1:]:
        union = union.union(c.frame.index)
    absent = {c.symbol: union.difference(c.frame.index) for c in checked}
    if not any(len(a) for a in absent.values()):
        return checked, extra_drop, filled
    owners = {}
    for c in checked:  # one symbol that trades on each date, for the messages
        for d in c.frame.index:
            owners.setdefault(d, c.symbol)
    # a date that fewer than half of the symbols trade is a stray bar of those few (extra_bar), not a bar that
    # all the others miss; with two symbols nobody is in the minority and missing_bar is kept
    n_sym = len(checked)
    have = pd.Series(0, index=union)
    for c in checked:
        have.loc[c.frame.index] += 1
    minority = pd.DatetimeIndex(have.index[(2 * have.to_numpy()) < n_sym])
    if len(minority) and policy in ("error", "collect", "drop_dates"):
        for c in checked:
            extra = c.frame.index.intersection(minority)
            for d in extra:
                others = n_sym - int(have.loc[d])
                if policy == "drop_dates":
                    msg = f"a bar on a date {others} of the other {n_sym - 1} symbols do not trade; date dropped"
                    action = "dropped"
                else:
                    msg = (
                        f"a bar on a date {others} of the other {n_sym - 1} symbols do not trade (a holiday or "
                        f"stray row in this file?); remove the row, or set data.missing = 'drop_dates'"
                    )
                    action = "error"
                c.problems.append(Problem(c.symbol, c.file, _iso(d), "extra_bar", msg, action))
            if policy == "drop_dates" and len(extra):
                extra_drop[c.symbol] += len(extra)
                c.frame = c.frame[~c.frame.index.isin(minority)]
        absent = {sym: a.difference(minority) for sym, a in absent.items()}

    def why(c: _Checked, d) -> str:
        rule = c.dropped_dates.get(_iso(d))
        return f"its row of this date was dropped by data.on_invalid = 'drop' (rule {rule}); " if rule else ""

    if policy in ("error", "collect"):
        action = "error"
        for c in checked:
            miss = absent[c.symbol]
            for d in miss:
                c.problems.append(
                    Problem(
                        c.symbol,
                        c.file,
                        _iso(d),
                        "missing_bar",
                        f"no bar on a date {owners[d]} trades ({why(c, d)}{len(miss)} such "
                        f"date{'s' if len(miss) > 1 else ''} for {c.symbol}; first {_iso(miss[0])}; set data.missing to "
                        f"'drop_dates' or 'forward_fill_close' to align)",
                        action,
                    )
                )
        return checked, extra_drop, filled

    if policy == "drop_dates":
        gone = pd.DatetimeIndex([])
        for a in absent.values():
            gone = gone.union(a)
        for c in checked:
            for d in absent[c.symbol]:
                c.problems.append(
                    Problem(
                        c.symbol,
                        c.file,
                        _iso(d),
                        "missing_bar",
                        f"no bar on a date {owners[d]} trades ({why(c, d)}date dropped for every symbol)",
                        "dropped",
                    )
                )
            had = c.frame.index.isin(gone)
            extra_drop[c.symbol] += int(had.sum())
            c.frame = c.frame[~had]
        return checked, extra_drop, filled

    # forward_fill_close: interior gaps only
    for c in checked:
        miss = absent[c.symbol]
        if not len(miss):
            continue
        first, last = c.frame.index[0], c.frame.index[-1]
        outside = miss[(miss < first) | (miss > last)]
        if len(outside):
            d = outside[0]
            side = "before its first" if d < first else "after its last"
            c.problems.append(
                Problem(
                    c.symbol,
                    c.file,
                    _iso(d),
                    "not_listed",
                    f"no bar on a date {owners[d]} trades, {side} bar ({_iso(first)} .. {_iso(last)}): a forward fill "
                    f"would invent {len(outside)} bar(s); use data.missing = 'drop_dates' or a narrower window",
                    "error",
                )
            )
            continue
        full = c.frame.reindex(c.frame.index.union(miss))
        prev_close = full["close"].ffill()
        for f in PRICE_FIELDS:
            full.loc[miss, f] = prev_close.loc[miss]
        full.loc[miss, "volume"] = 0.0
        for d in miss:
            c.problems.append(
                Problem(
                    c.symbol,
                    c.file,
                    _iso(d),
                    "missing_bar",
                    f"no bar on a date {owners[d]} trades; filled a flat bar at the previous "
                    f"close {_fmt(prev_close.loc[d])}, volume 0",
                    "filled",
                )
            )
        filled[c.symbol] = len(miss)
        c.frame = full
    return checked, extra_drop, filled


def _run(
    raw: dict[str, pd.DataFrame],
    sources,
    start,
    end,
    mode,
    missing,
    max_abs_return,
    align: bool,
    return_jump: str = "error",
    calendar: str | None = None,
    max_range_multiple: float | None = None,
):
    if not raw:
        raise DataError("no symbols to validate")
    start_ts, end_ts = _ts(start, "start"), _ts(end, "end")
    if start_ts is not None and end_ts is not None and start_ts > end_ts:
        raise UsageError(f"start {_iso(start_ts)} is after end {_iso(end_ts)}")
    sources = sources or {}
    checked = []
    for symbol, frame in raw.items():
        file = sources.get(symbol)
        c = _check_symbol(
            frame,
            symbol,
            None if file is None else str(file),
            start=start_ts,
            end=end_ts,
            mode=mode,
            max_abs_return=max_abs_return,
            return_jump=return_jump,
            calendar=calendar,
            max_range_multiple=max_range_multiple,
        )
        checked.append(c)
        if mode != "collect":
            errs = [p for p in c.problems if p.action == "error"]
            if errs:
                raise_problem(errs[0], len(errs) - 1)
    extra_drop, filled = {c.symbol: 0 for c in checked}, {c.symbol: 0 for c in checked}
    if align:
        usable = [c for c in checked if len(c.frame)]
        _, extra_drop_u, filled_u = _align(usable, "collect" if mode == "collect" else missing)
        extra_drop.update(extra_drop_u)
        filled.update(filled_u)
        if mode != "collect":
            errs = [p for c in checked for p in c.problems if p.action == "error"]
            if errs:
                first = min(errs, key=lambda p: (p.date or "", p.symbol))
                raise_problem(first, len(errs) - 1)
    problems = []
    for c in checked:
        c.problems.sort(key=lambda p: p.date or "")
        problems.extend(c.problems)
    report = ValidationReport(
        problems=tuple(problems),
        rows_read={c.symbol: c.rows_read for c in checked},
        rows_dropped={c.symbol: c.rows_dropped + extra_drop[c.symbol] for c in checked},
        rows_filled={c.symbol: filled[c.symbol] for c in checked},
    )
    return checked, report


# ------------------------------------------------------------------------------------------------- API
def validate_bars(
    raw: dict[str, pd.DataFrame],
    *,
    sources: dict[str, str] | None = None,
    start=None,
    end=None,
    on_invalid: str = "error",
    missing: str = "error",
    max_abs_return: float = 0.5,
    return_jump: str = "error",
    calendar: str | None = None,
    max_range_multiple: float | None = None,
) -> MarketData:
    """Validate raw per-symbol bars and align them into :class:`MarketData`.

    Parameters
    ----------
    raw : dict of str to pandas.DataFrame
        One frame per symbol (dict order = column order of the result), shape (n_rows, 5) with columns
        open, high, low, close (quote currency) and volume (shares), indexed by a ``DatetimeIndex`` of bar dates
        in the order the source delivered them (not sorted: the order is itself checked).
    sources : dict of str to str, optional
        File (or source name) per symbol, used in messages.
    start, end : date-like, optional
        Window to return, both inclusive. Bar rules cover the window plus the one bar before ``start``;
        findings outside are reported with action ``"flagged"`` and do not fail (see the module docstring).
    on_invalid : {"error", "drop"}
        Bad bar (NaN, price <= 0, High < max(O, C), Low > min(O, C), negative volume, duplicate or unsorted
        date): raise, or drop the row and report it. A ``return_jump`` is never dropped (removing one bar does
        not repair a split): under ``"drop"`` it is flagged and kept.
    missing : {"error", "drop_dates", "forward_fill_close"}
        A symbol without a bar on a date another symbol trades (in the window): raise naming the symbol and
        its first missing date; drop such dates for every symbol; or insert a flat bar at the previous close
        with volume 0. A gap before a symbol's first or after its last bar is not filled: it raises
        ``not_listed`` (use ``drop_dates``, which trims to the common span, or a narrower window).
    max_abs_return : float
        Threshold on |close-to-close simple return| (fraction; 0.5 = 50 %) above which a bar is a suspected
        unadjusted split (``config: data.max_abs_return``).
    return_jump : {"error", "flag"}, default "error"
        What a ``return_jump`` inside the window does: raise, or keep the bar and report the move with action
        ``"flagged"`` (``config: data.return_jump``; ``volts walkforward`` flags by default, because a multi-year
        run meets real moves such as AMD's +52.3 % on 2016-04-22).
    calendar : str, optional
        exchange_calendars code (``config: data.calendar``); bars on other dates break ``non_session_date``.
        None = not checked.
    max_range_multiple : float, optional
        ``range_outlier`` threshold (``config: data.max_range_multiple``); None = not checked.

    Returns
    -------
    MarketData
        Bars of ``[start, end]`` on one calendar, with ``report`` = the :class:`ValidationReport`.

    Raises
    ------
    DataError
        On the first broken rule under the ``"error"`` policies, naming file/symbol, date and rule, plus the
        number of further problems; when a symbol has no row in the window; when the policies leave no date.
    UsageError
        On an unknown policy or ``start`` after ``end``.

    Notes
    -----
    Rules from ARCHITECTURE.md "Data model"; METHOD.md notation (L <= O, C <= H, prices > 0).
    """
    _check_policy(on_invalid, missing, max_abs_return)
    if return_jump not in ("error", "flag"):
        raise UsageError(f"return_jump must be 'error' or 'flag' (got {return_jump!r})")
    checked, report = _run(
        raw,
        sources,
        start,
        end,
        on_invalid,
        missing,
        max_abs_return,
        align=True,
        return_jump=return_jump,
        calendar=calendar,
        max_range_multiple=max_range_multiple,
    )
    index = checked[0].frame.index
    for c in checked[1:]:
        index = index.union(c.frame.index)
    if len(index) == 0:
        raise DataError(f"{', '.join(raw)}: no dates left after validation")
    frames = {f: pd.DataFrame({c.symbol: c.frame[f] for c in checked}, index=index) for f in FIELDS}
    for f in FIELDS:
        frames[f].index.name = "date"
        frames[f].columns.name = None
    return MarketData.from_frames(frames, report=report)


def collect_problems(
    raw: dict[str, pd.DataFrame],
    *,
    sources: dict[str, str] | None = None,
    start=None,
    end=None,
    max_abs_return: float = 0.5,
    common_calendar: bool = False,
    calendar: str | None = None,
    max_range_multiple: float | None = None,
) -> ValidationReport:
    """Every problem of every symbol, without raising (the mode of ``volts data check``).

    Parameters
    ----------
    raw, sources, start, end, max_abs_return, calendar, max_range_multiple
        As in :func:`validate_bars`.
    common_calendar : bool
        Also require one calendar across symbols (``missing_bar`` per absent date). Off by default: each
        symbol is checked on its own calendar (files may legitimately start and end on different dates).

    Returns
    -------
    ValidationReport
        Problems that would stop a load under the strict policies have action ``"error"``; findings outside
        the window have action ``"flagged"``. ``rows_dropped``/``rows_filled`` are zero (nothing is repaired).

    Raises
    ------
    DataError
        Only for structurally unusable input (no symbols, a frame without the OHLCV columns or a date index).
    """
    if not max_abs_return > 0:
        raise UsageError(f"max_abs_return must be > 0 (got {max_abs_return!r})")
    _, report = _run(
        raw,
        sources,
        start,
        end,
        "collect",
        "error",
        max_abs_return,
        align=common_calendar,
        calendar=calendar,
        max_range_multiple=max_range_multiple,
    )
    return report
