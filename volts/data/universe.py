"""The universe of an as-of date: a point-in-time membership file or a list, with per-symbol quarantine.

Two ways to name the universe (``[data]``):

* ``universe = [...]``: an explicit list (the paper's ten names by default);
* ``membership = "path.csv"``: a point-in-time membership file ``ticker,start_date,end_date`` (one row per
  membership spell, empty ``end_date`` = still a member, both dates inclusive). The universe of an as-of date D
  is every ticker with a spell covering D (``../shared/data/sp500_membership.csv`` holds the S&P 500's since
  1996). A ticker that has left the index by D is not used, and one that joins later is not either: the
  selection of D never sees the survivors of a later date.

Per-symbol quarantine (``[data] on_bad_symbol``): with ``"error"`` (the default, today's behaviour for a list) the
first bad file stops the run; with ``"exclude"`` a symbol whose file cannot be read or fails validation leaves
the run with its reason (file, date, rule) and the run goes on. Either way every member without usable data is
listed in the :class:`UniverseReport` (``selection.json``, the report, the CLI summary). Nothing is silent.

Alignment of listings and delistings (decision). :class:`~volts.data.market.MarketData` holds one calendar with
no gaps, so a date's universe is cut down to the members with a bar on every session of the windows the
selection reads (``earliest window start .. asof``). The session calendar is the *majority calendar*: the dates
on which at least half of the validated members have a bar. A member listed after the window starts, or with
missing sessions, leaves with reason ``incomplete_history`` (its first bar or first missing session named);
bars a member has on dates outside the majority calendar are dropped and counted (rule ``off_calendar``). The
effect on the universe is disclosed in the coverage line "n of m members had usable data".

Ticker reuse (membership files only). Vendors such as Yahoo keep one file per *current* ticker, so a ticker that
a later company took over carries the new company's bars. A member whose spell began before its file's first
bar, while that first bar lies after the earliest first bar of the other files (the data floor), is suspected
of reuse and leaves with rule ``suspected_ticker_reuse`` (both dates named).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from volts.core.config import DataSettings
from volts.data.market import FIELDS, MarketData
from volts.data.validate import ValidationReport
from volts.core.errors import DataError

__all__ = ["Exclusion", "UniverseReport", "load_universe", "members_on", "read_membership", "universe_for_asof"]

#: A member's spell may begin up to this many calendar days before its file's first bar without being
#: suspected of ticker reuse (a listing bar can lag the index announcement by a few days).
REUSE_TOLERANCE_DAYS = 7


# ------------------------------------------------------------------------------------------- membership
def read_membership(path: str | Path) -> pd.DataFrame:
    """Read a membership file ``ticker,start_date,end_date`` (ISO dates; empty end = still a member).

    Returns
    -------
    pandas.DataFrame
        Columns ticker (str), start (Timestamp), end (Timestamp, NaT when open), one row per spell.

    Raises
    ------
    DataError
        File missing, not UTF-8 text or not a CSV, a missing column, an unparsable date (line named), or a spell
        ending before it starts.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: membership file not found (set [data] membership to a ticker,start_date,end_date CSV)"
        )
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: membership file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); expected a ticker,start_date,end_date CSV (rule: not_text)"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(
            f"{path}: membership file is not a readable CSV ({str(exc).strip()}); expected "
            f"ticker,start_date,end_date (rule: bad_csv)"
        ) from None
    table.columns = [c.strip() for c in table.columns]
    absent = [c for c in ("ticker", "start_date", "end_date") if c not in table.columns]
    if absent:
        raise DataError(f"{path}: missing column {', '.join(absent)} (expected ticker,start_date,end_date)")
    out = pd.DataFrame({"ticker": table["ticker"].str.strip()})
    for col, name in (("start_date", "start"), ("end_date", "end")):
        text = table[col].str.strip()
        parsed = pd.to_datetime(text.where(text != "", None), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & (text != "") if name == "end" else parsed.isna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(
                f"{path}: line {i + 2}: {col} {table[col].iloc[i]!r} is not a date YYYY-MM-DD (rule: bad_date)"
            )
        out[name] = parsed
    wrong = out["end"].notna() & (out["end"] < out["start"])
    if wrong.any():
        i = int(wrong.to_numpy().nonzero()[0][0])
        raise DataError(f"{path}: line {i + 2}: {out['ticker'].iloc[i]} ends before it starts (rule: end_before_start)")
    return out


def members_on(membership: pd.DataFrame, asof: dt.date) -> dict[str, pd.Timestamp]:
    """Tickers with a spell covering ``asof`` (both ends inclusive), sorted, mapped to that spell's start."""
    day = pd.Timestamp(asof)
    live = membership[(membership["start"] <= day) & (membership["end"].isna() | (membership["end"] >= day))]
    return {t: s for t, s in sorted(zip(live["ticker"], live["start"]))}


# ---------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Exclusion:
    """A member that left the run, and why.

    Attributes
    ----------
    symbol : str
    rule : str
        ``no_file``, ``suspected_ticker_reuse``, ``incomplete_history`` or the reader's / validator's rule
        (``bad_date``, ``nan``, ``return_jump``, ...).
    message : str
        One line with the evidence.
    file : str or None
    date : str or None
        ISO date of the offending bar where there is one.
    """

    symbol: str
    rule: str
    message: str
    file: str | None = None
    date: str | None = None

    @property
    def quarantined(self) -> bool:
        """True for a bad file (read or validation failure), False for missing or incomplete data."""
        return self.rule not in ("no_file", "incomplete_history", "suspected_ticker_reuse")

    def to_dict(self) -> dict[str, Any]:
        """``{"symbol", "rule", "message", "file", "date", "quarantined"}``."""
        return {
            "symbol": self.symbol,
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "date": self.date,
            "quarantined": self.quarantined,
        }

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        when = f" {self.date}" if self.date else ""
        return f"{where}{self.symbol}{when}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class UniverseReport:
    """Who was asked for, who had usable data, who left and why (``selection.json`` key ``universe_coverage``).

    Attributes
    ----------
    asof : datetime.date
    source : str
        ``"membership:<file>"`` or ``"list"``.
    members : tuple of str
        The universe asked for on ``asof``.
    usable : tuple of str
        Members with usable data (the columns of the market data), in ``members`` order.
    excluded : tuple of Exclusion
        Everyone else, in ``members`` order.
    span : tuple of str
        First and last session the usable data cover.
    off_calendar_rows : dict of str to int
        Bars dropped per symbol for lying outside the majority calendar.
    cache : dict
        ``{"hits", "misses", "set_hits", "set_misses"}`` of the bar cache (empty when off): per-symbol hits and
        misses (a symbol served from the validated set is a hit) and whether the validated set was served.
    """

    asof: dt.date
    source: str
    members: tuple[str, ...]
    usable: tuple[str, ...]
    excluded: tuple[Exclusion, ...]
    span: tuple[str, str] | None = None
    off_calendar_rows: dict[str, int] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)

    @property
    def quarantined(self) -> tuple[Exclusion, ...]:
        """Exclusions for bad files (not for missing or incomplete data)."""
        return tuple(e for e in self.excluded if e.quarantined)

    def counts(self) -> dict[str, int]:
        """Exclusions per rule."""
        out: dict[str, int] = {}
        for e in self.excluded:
            out[e.rule] = out.get(e.rule, 0) + 1
        return dict(sorted(out.items()))

    def coverage_line(self) -> str:
        """``"n of m members had usable data (...)"``: the survivorship disclosure of every artifact."""
        m, n = len(self.members), len(self.usable)
        pct = 100.0 * n / m if m else 0.0
        by_rule = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        return f"universe as of {self.asof} ({self.source}): {n} of {m} members had usable data ({pct:.1f}%)" + (
            f"; excluded: {by_rule}" if by_rule else ""
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, the coverage line, usable symbols and every exclusion with its reason."""
        return {
            "asof": self.asof.isoformat(),
            "source": self.source,
            "members": len(self.members),
            "usable": len(self.usable),
            "coverage": self.coverage_line(),
            "excluded_by_rule": self.counts(),
            "span": list(self.span) if self.span else None,
            "usable_symbols": list(self.usable),
            "excluded": [e.to_dict() for e in self.excluded],
            "off_calendar_rows": dict(self.off_calendar_rows),
            "cache": dict(self.cache),
        }


# ------------------------------------------------------------------------------------------------ load
def universe_for_asof(data: DataSettings, asof: dt.date) -> tuple[list[str], str, dict[str, pd.Timestamp]]:
    """The symbols asked for on ``asof``: ``(symbols, source label, spell start per symbol)``.

    The spell starts are empty for a list universe. This is the "universe for an as-of date" hook of the
    walk-forward.
    """
    if data.membership:
        table = read_membership(data.membership)
        members = members_on(table, asof)
        if not members:
            raise DataError(
                f"{data.membership}: no member on {asof} (rule: empty_universe; the file's spells "
                f"span {table['start'].min().date()} .. {table['end'].max().date()})"
            )
        return list(members), f"membership:{Path(data.membership).name}", members
    return list(data.universe), "list", {}


def _exclusion_from(exc: DataError, symbol: str, file: str | None) -> Exclusion:
    problem = getattr(exc, "problem", None)
    if problem is not None:
        return Exclusion(symbol, problem.rule, problem.message, problem.file or file, problem.date)
    text = str(exc)
    if file and text.startswith(file + ": "):
        text = text[len(file) + 2 :]
    return Exclusion(symbol, getattr(exc, "rule", "invalid"), text, file, None)


def _first_zero_range_run(high, low, min_length: int) -> tuple[int, int] | None:
    """(first index, length) of the first run of at least ``min_length`` bars with high == low, else None."""
    flat = np.concatenate([[False], np.asarray(high) == np.asarray(low), [False]])
    edges = np.flatnonzero(np.diff(flat.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    long = np.flatnonzero(ends - starts >= min_length)
    if not long.size:
        return None
    i = long[0]
    return int(starts[i]), int(ends[i] - starts[i])


def _dropped_dates(bars) -> set:
    """ISO dates of the rows ``on_invalid = "drop"`` removed from one member's file (inside the window)."""
    rep = bars.report
    if rep is None:
        return set()
    return {p.date for p in rep.problems if p.action == "dropped" and p.date is not None}


def _without_dropped_rows(checked, names, days, present, on_calendar):
    """The majority calendar without the sessions a member lacks only because ``on_invalid = "drop"`` removed its
    row there (such a member is kept: one dropped bar is not an incomplete history).

    Returns ``(on_calendar, gone)``: the updated mask over ``days`` and ``{iso date: symbol whose row was
    dropped}`` for every session removed. The session is removed for every member, as ``missing = "drop_dates"``
    removes a date some symbol lacks.
    """
    gone: dict[str, str] = {}
    iso = None
    for j, symbol in enumerate(names):
        lacking = on_calendar & ~present[:, j]
        if not lacking.any():
            continue
        own = _dropped_dates(checked[symbol])
        if not own:
            continue
        if iso is None:
            iso = pd.DatetimeIndex(days).strftime("%Y-%m-%d")
        missing = set(iso[lacking])
        if missing <= own:
            for d in sorted(missing):
                gone.setdefault(d, symbol)
    if not gone:
        return on_calendar, gone
    out = on_calendar & ~np.isin(iso, list(gone))
    return out, gone


def _removed_sessions_report(gone, usable, column, present, days, files) -> ValidationReport:
    """What removing the sessions of :func:`_without_dropped_rows` cost: one ``missing_bar`` finding (action
    ``dropped``) per session, on the member whose row was dropped, and the other members' rows of that session
    counted in ``rows_dropped``."""
    from volts.data.validate import Problem

    iso = pd.DatetimeIndex(days).strftime("%Y-%m-%d")
    rows = {d: int(np.flatnonzero(iso == d)[0]) for d in gone}
    dropped = {s: 0 for s in usable}
    problems = []
    for d, owner in sorted(gone.items()):
        others = [s for s in usable if s != owner and present[rows[d], column[s]]]
        for s in others:
            dropped[s] += 1
        if owner in dropped:
            problems.append(
                Problem(
                    owner,
                    files.get(owner),
                    d,
                    "missing_bar",
                    f"its row of this date was dropped by data.on_invalid = 'drop'; the session is "
                    f"removed for every member ({len(others)} other bar(s) dropped) rather than "
                    f"excluding {owner} for one bad bar",
                    "dropped",
                )
            )
    return ValidationReport(tuple(problems), {}, {s: n for s, n in dropped.items() if n}, {})


def load_universe(
    data: DataSettings,
    *,
    asof: dt.date,
    start=None,
    end=None,
    symbols: list[str] | None = None,
    zero_range_run: int | None = None,
    zero_range_since=None,
    whole_set_entry: bool = True,
    validated_entries: bool = True,
) -> tuple[MarketData, UniverseReport]:
    """Validated bars of the universe of ``asof``, bad or incomplete symbols excluded and reported.

    Parameters
    ----------
    data : DataSettings
        ``[data]``: ``membership`` or ``universe``, ``on_bad_symbol``, ``cache_dir``, CSV layout, policies.
    asof : datetime.date
        Date whose members are used (membership files); also the default ``end``.
    start, end : date-like, optional
        Window every usable member must cover (the selection's earliest window start .. asof).
    symbols : list of str, optional
        Override the universe (e.g. the synthetic market's symbols).
    zero_range_run : int, optional
        With ``on_bad_symbol = "exclude"``: a member with this many consecutive bars whose high equals their low
        (no trading range: stale quotes, as in some pre-listing series) is excluded with rule
        ``zero_range_run``. Pass the volatility window: over such a run every range-based estimator is zero and its
        log undefined, so the member would stop the whole selection. None: no such check.
    zero_range_since : date-like, optional
        Check only the bars from this date (the GMM window's start: the span the volatility estimators see);
        default all loaded bars.
    whole_set_entry : bool
        With ``cache_dir``: read and write the consolidated entry of the whole set (below). False keeps only the
        per-file entries; the walk-forward passes False, because each week has its own window, so a whole-set
        entry per week would store every week's bars a second time and is read again only by a forced re-run.
    validated_entries : bool
        With ``cache_dir``: read and write each file's validated bars under the window's key. False keeps only the
        parsed-bars entries (keyed by the file's bytes) and validates every load; the walk-forward passes False:
        its weeks never share a window, and one entry per member and week grew the cache by about 2 GB over the
        S&P weeks 2019-2024 (470 members x 271 weeks), for 3 s of writing a week.

    Returns
    -------
    (MarketData, UniverseReport)

    Raises
    ------
    DataError
        With ``on_bad_symbol = "error"``: the first file that cannot be read or fails validation (today's
        message). In any mode: fewer than two usable members, or an unreadable membership file.

    Notes
    -----
    With ``cache_dir`` set, every member's file is hashed (SHA-256) and the validated bars of the whole set are
    looked up under one key (see :mod:`volts.data.cache`): a repeated load is one Parquet read, with the same
    result as an uncached load. Members that failed are not stored and go through the per-symbol path again.
    Only the csv and synthetic sources go through the per-symbol path; ``mt5`` keeps its own loader (a
    terminal failure is not a per-symbol fault).

    Length: one pass over the members that shares the running tallies of the coverage report (read, validated,
    from the cache, excluded and why), then the wide arrays of the members over the majority calendar; each step
    is commented in place.
    """
    from volts.data.cache import ValidatedBars
    from volts.data.csv import read_csv_bars, symbol_file
    from volts.data.validate import validate_bars

    end = end if end is not None else asof
    if symbols is None:
        symbols, source, spells = universe_for_asof(data, asof)
    else:
        source, spells = "list", {}
    exclude = data.on_bad_symbol == "exclude"
    excluded: dict[str, Exclusion] = {}
    checked: dict[str, ValidatedBars] = {}
    first_row: dict[str, pd.Timestamp] = {}
    files: dict[str, str | None] = {}
    cache = None
    if data.source == "csv":
        folder = Path(data.dir)
        if not folder.is_dir():
            raise DataError(f"{folder}: data directory not found")
        if data.cache_dir:
            from volts.data.cache import BarCache

            cache = BarCache(data.cache_dir, data.csv)
        synthetic = None
    elif data.source == "synthetic":
        from volts.data.synthetic import make_synthetic_market

        synthetic = make_synthetic_market(seed=data.synthetic_seed).data
    else:
        raise DataError(
            f"data.source = {data.source!r}: point-in-time universes and per-symbol quarantine "
            f"need the csv or synthetic source"
        )
    params = dict(
        start=start,
        end=end,
        on_invalid=data.on_invalid,
        missing="error",
        max_abs_return=data.max_abs_return,
        return_jump=data.return_jump,
        calendar=(data.calendar or None) if synthetic is None else None,
        max_range_multiple=data.max_range_multiple,
    )
    # a validated set: every file this load reads, keyed by (symbol, file, SHA-256), in one cache entry
    digests: dict[str, str] = {}
    from_set: dict[str, ValidatedBars] = {}
    set_key = None
    if cache is not None:
        from volts.data.cache import file_sha256

        paths = {symbol: symbol_file(folder, symbol, data.csv) for symbol in symbols}
        digests = {symbol: file_sha256(path) for symbol, path in paths.items() if path.is_file()}
        if whole_set_entry:
            set_key = cache.set_key([(s, str(paths[s]), d) for s, d in digests.items()], params)
            from_set = cache.read_set(set_key) or {}
    for symbol in symbols:
        file = None
        try:
            if synthetic is not None:
                if symbol not in synthetic.symbols:
                    excluded[symbol] = Exclusion(symbol, "no_file", "not in the synthetic market")
                    continue
                raw = synthetic.bars(symbol)
            else:
                path = symbol_file(folder, symbol, data.csv)
                file = str(path)
                files[symbol] = file
                if symbol in from_set:
                    checked[symbol] = bars = from_set[symbol]
                    if bars.first_row is not None:
                        first_row[symbol] = bars.first_row
                    continue
                if not path.is_file():
                    if data.membership:  # a member without a file: survivorship, reported, never fatal
                        excluded[symbol] = Exclusion(symbol, "no_file", "no data file for this member", file)
                        continue

            def validate(raw, symbol=symbol, file=file):
                if len(raw.index):
                    first_row[symbol] = raw.index.min()
                return validate_bars({symbol: raw}, sources={symbol: file or data.source}, **params)

            if synthetic is not None:
                checked[symbol] = ValidatedBars.from_market(validate(raw), symbol, first_row.get(symbol))
            elif cache and validated_entries:
                checked[symbol] = bars = cache.validated(
                    path, symbol, data.csv, {**params, "file": file}, validate, digest=digests.get(symbol)
                )
                if bars.first_row is not None:
                    first_row[symbol] = bars.first_row
            elif cache:  # parsed bars from the cache, validated here (nothing window-keyed is stored)
                raw = cache.read(path, symbol, data.csv, expect_sha256=digests.get(symbol))
                checked[symbol] = ValidatedBars.from_market(validate(raw), symbol, first_row.get(symbol))
            else:
                checked[symbol] = ValidatedBars.from_market(
                    validate(read_csv_bars(path, symbol, data.csv)), symbol, first_row.get(symbol)
                )
        except DataError as exc:
            if not exclude:
                raise
            excluded[symbol] = _exclusion_from(exc, symbol, file)
    if set_key is not None and not from_set:  # failures are not stored: they are read (and fail) again
        cache.write_set(set_key, {s: checked[s] for s in checked if s in digests})

    # ticker reuse: a spell that began before the file's first bar, the file starting after the data floor
    if spells and first_row:
        floor = min(first_row.values())
        for symbol in list(checked):
            spell = spells.get(symbol)
            first = first_row.get(symbol)
            if spell is None or first is None:
                continue
            if first > floor + pd.Timedelta(days=REUSE_TOLERANCE_DAYS) and spell < first - pd.Timedelta(
                days=REUSE_TOLERANCE_DAYS
            ):
                del checked[symbol]
                excluded[symbol] = Exclusion(
                    symbol,
                    "suspected_ticker_reuse",
                    f"member since {spell.date()} but its file starts {first.date()} (after the data floor "
                    f"{floor.date()}): the file may belong to a later company that reused the ticker",
                    files.get(symbol),
                    first.date().isoformat(),
                )

    # majority calendar over the window; incomplete members leave. The members' bars as wide arrays over the union
    # of their dates (NaN = no bar: validated bars hold no NaN), one column per member in load order.
    names = list(checked)
    stamps = np.concatenate([checked[s].dates for s in names]) if names else np.array([], "datetime64[us]")
    days = np.unique(stamps)
    wide = {f: np.full((len(days), len(names)), np.nan) for f in FIELDS}
    present = np.zeros((len(days), len(names)), dtype=bool)
    for j, symbol in enumerate(names):
        bars = checked[symbol]
        rows = np.searchsorted(days, bars.dates)
        present[rows, j] = True
        for f in FIELDS:
            wide[f][rows, j] = bars.values[f]
    on_calendar = present.sum(axis=1) * 2 >= len(names)
    on_calendar, gone = _without_dropped_rows(checked, names, days, present, on_calendar)
    calendar = pd.DatetimeIndex(days[on_calendar], name="date")
    off_calendar: dict[str, int] = {}
    for j, symbol in enumerate(names):
        lacking = on_calendar & ~present[:, j]
        if lacking.any():
            first = pd.Timestamp(checked[symbol].dates[0])
            missed = pd.Timestamp(days[np.argmax(lacking)])
            if first > calendar[0]:
                why = (
                    f"first bar in the window {first.date()} is after the window's first session "
                    f"{calendar[0].date()} (listed later, or rows missing)"
                )
            else:
                why = f"{int(lacking.sum())} session(s) of the window missing, first {missed.date()}"
            del checked[symbol]
            excluded[symbol] = Exclusion(
                symbol, "incomplete_history", why, files.get(symbol), missed.date().isoformat()
            )
            continue
        extra = int((present[:, j] & ~on_calendar).sum())
        if extra:
            off_calendar[symbol] = extra
    column = {s: j for j, s in enumerate(names)}
    if exclude and zero_range_run:
        keep = calendar >= pd.Timestamp(zero_range_since) if zero_range_since is not None else slice(None)
        dates = calendar[keep]
        for symbol in list(checked):
            j = column[symbol]
            run = _first_zero_range_run(
                wide["high"][on_calendar, j][keep], wide["low"][on_calendar, j][keep], zero_range_run
            )
            if run is not None:
                first, length = run
                day = dates[first].date()
                del checked[symbol]
                excluded[symbol] = Exclusion(
                    symbol,
                    "zero_range_run",
                    f"{length} consecutive bars with high == low from {day} (no trading range: stale quotes?); "
                    f"a {zero_range_run}-bar volatility window inside them is zero and its log undefined",
                    files.get(symbol),
                    day.isoformat(),
                )
    usable = [s for s in symbols if s in checked]
    order = {s: i for i, s in enumerate(symbols)}
    exclusions = tuple(sorted(excluded.values(), key=lambda e: order.get(e.symbol, len(order))))
    cache_counts = (
        {"hits": cache.hits, "misses": cache.misses, "set_hits": cache.set_hits, "set_misses": cache.set_misses}
        if cache
        else {}
    )
    if len(usable) < 2:
        shown = "; ".join(str(e) for e in exclusions[:3])
        raise DataError(
            f"universe as of {asof}: {len(usable)} of {len(symbols)} symbol(s) have usable data "
            f"(rule: at least 2 needed){': ' + shown if shown else ''}"
        )
    cols = [column[s] for s in usable]
    frames = {
        f: pd.DataFrame(wide[f][on_calendar][:, cols], index=calendar, columns=pd.Index(usable, name=None))
        for f in FIELDS
    }
    vreport = ValidationReport()
    for s in usable:
        if checked[s].report is not None:
            vreport = vreport.merged(checked[s].report)
    if gone:
        vreport = vreport.merged(_removed_sessions_report(gone, usable, column, present, days, files))
    market = MarketData.from_frames(frames, report=vreport)
    report = UniverseReport(
        asof=asof,
        source=source,
        members=tuple(symbols),
        usable=tuple(usable),
        excluded=exclusions,
        span=(market.dates[0].date().isoformat(), market.dates[-1].date().isoformat()),
        off_calendar_rows=off_calendar,
        cache=cache_counts,
    )
    return market, report
