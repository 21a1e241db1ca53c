"""Bar, return and calendar rules of volts.data.validate, and the exact counts of the policies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from volts.data.validate import Problem, ValidationReport, collect_problems, validate_bars
from volts.core.errors import DataError, UsageError

DATES = pd.bdate_range("2023-01-02", periods=30)


def bars(dates=DATES, seed=0) -> pd.DataFrame:
    """Coherent bars on ``dates``: a small random walk, Low < min(O, C) <= max(O, C) < High."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
    open_ = close * np.exp(rng.normal(0, 0.003, len(dates)))
    high = np.maximum(open_, close) * 1.004
    low = np.minimum(open_, close) * 0.996
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.integers(1_000, 2_000, len(dates)).astype(float),
        },
        index=dates,
    )


def corrupt(frame: pd.DataFrame, i: int, **values) -> pd.DataFrame:
    out = frame.copy()
    for k, v in values.items():
        out.iloc[i, out.columns.get_loc(k)] = v
    return out


def iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


# ------------------------------------------------------------------------------------------ bar rules
def _swap(frame, i):
    idx = list(frame.index)
    idx[i], idx[i + 1] = idx[i + 1], idx[i]
    return frame.set_axis(pd.DatetimeIndex(idx))


def _dup(frame, i):
    idx = list(frame.index)
    idx[i + 1] = idx[i]
    return frame.set_axis(pd.DatetimeIndex(idx))


CASES = {
    "nan": (lambda f: corrupt(f, 7, close=np.nan), "nan", 7),
    "zero": (lambda f: corrupt(f, 7, open=0.0), "non_positive_price", 7),
    "negative": (lambda f: corrupt(f, 7, low=-1.0), "non_positive_price", 7),
    "high_below_close": (lambda f: corrupt(f, 7, high=f["close"].iloc[7] * 0.99), "high_below_max_open_close", 7),
    "low_above_open": (lambda f: corrupt(f, 7, low=f["open"].iloc[7] * 1.01), "low_above_min_open_close", 7),
    "negative_volume": (lambda f: corrupt(f, 7, volume=-5.0), "negative_volume", 7),
    "unsorted": (lambda f: _swap(f, 7), "unsorted_date", 8),
    "duplicate": (lambda f: _dup(f, 7), "duplicate_date", 8),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_bar_rule_raises_naming_symbol_date_and_rule(case):
    make, rule, row = CASES[case]
    frame = make(bars())
    with pytest.raises(DataError) as info:
        validate_bars({"AAA": frame}, sources={"AAA": "dir/AAA.csv"})
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("dir/AAA.csv: AAA ")
    assert iso(frame.index[row]) in msg
    assert rule in msg
    assert info.value.rule == rule


@pytest.mark.parametrize("case", sorted(CASES))
def test_drop_policy_drops_exactly_the_bad_row(case):
    make, rule, row = CASES[case]
    frame = make(bars())
    market = validate_bars({"AAA": frame}, on_invalid="drop")
    rep = market.report
    assert rep.rows_read == {"AAA": 30}
    assert rep.rows_dropped == {"AAA": 1}
    assert len(market) == 29
    assert [p.rule for p in rep.problems] == [rule] and rep.problems[0].action == "dropped"
    assert rep.ok
    # the kept rows are the untouched ones, in order
    expected = (
        frame.drop(frame.index[row])
        if case not in ("unsorted", "duplicate")
        else frame.iloc[[i for i in range(30) if i != row]]
    )
    assert list(market.dates) == list(expected.index)
    np.testing.assert_array_equal(market.close["AAA"].to_numpy(), expected["close"].to_numpy())


def test_several_bad_rows_are_counted_and_the_first_is_named():
    frame = corrupt(corrupt(corrupt(bars(), 3, close=np.nan), 11, open=0.0), 20, high=1.0)
    with pytest.raises(DataError) as info:
        validate_bars({"AAA": frame})
    assert iso(DATES[3]) in str(info.value) and "(+2 more problems)" in str(info.value)
    report = collect_problems({"AAA": frame})
    assert [(p.date, p.rule, p.action) for p in report.problems] == [
        (iso(DATES[3]), "nan", "error"),
        (iso(DATES[11]), "non_positive_price", "error"),
        (iso(DATES[20]), "high_below_max_open_close", "error"),
    ]
    assert not report.ok


# ----------------------------------------------------------------------------------------- return rule
def split(frame: pd.DataFrame, i: int, ratio: float) -> pd.DataFrame:
    out = frame.copy()
    out.iloc[i:, :4] = out.iloc[i:, :4] / ratio
    out.iloc[i:, 4] = out.iloc[i:, 4] * ratio
    return out


def test_unadjusted_split_is_an_error_naming_the_move():
    frame = split(bars(), 15, 10.0)
    move = frame["close"].iloc[15] / frame["close"].iloc[14] - 1
    with pytest.raises(DataError) as info:
        validate_bars({"AAA": frame})
    msg = str(info.value)
    assert "return_jump" in msg and iso(DATES[15]) in msg and f"{move:+.1%}" in msg


def test_two_for_one_split_sits_on_the_threshold_and_a_lower_threshold_catches_it():
    frame = split(bars(), 15, 2.0)
    ret = frame["close"].iloc[15] / frame["close"].iloc[14] - 1
    flagged = collect_problems({"AAA": frame}, max_abs_return=abs(ret) - 1e-6)
    assert [p.rule for p in flagged.problems] == ["return_jump"]
    assert collect_problems({"AAA": frame}, max_abs_return=abs(ret) + 1e-6).ok


def test_jump_under_drop_policy_is_flagged_and_kept():
    frame = split(bars(), 15, 10.0)
    market = validate_bars({"AAA": frame}, on_invalid="drop")
    assert len(market) == 30 and market.report.rows_dropped == {"AAA": 0}
    assert [(p.rule, p.action, p.date) for p in market.report.problems] == [("return_jump", "flagged", iso(DATES[15]))]


def test_jump_under_flag_policy_is_kept_as_a_note_but_bad_bars_still_fail():
    frame = split(bars(), 15, 10.0)
    market = validate_bars({"AAA": frame}, return_jump="flag")
    assert len(market) == 30 and market.close["AAA"].equals(frame["close"])
    assert [(p.rule, p.action, p.date) for p in market.report.problems] == [("return_jump", "flagged", iso(DATES[15]))]
    with pytest.raises(DataError, match="high_below_max_open_close"):  # only the jump rule is relaxed
        validate_bars({"AAA": corrupt(frame, 5, high=1.0)}, return_jump="flag")
    with pytest.raises(UsageError, match="return_jump"):
        validate_bars({"AAA": frame}, return_jump="ignore")


# ---------------------------------------------------------------------------------------------- window
def test_bad_bar_outside_the_window_is_flagged_not_fatal():
    frame = corrupt(bars(), 2, high=1.0)
    market = validate_bars({"AAA": frame}, start=DATES[10], end=DATES[25])
    assert list(market.dates) == list(DATES[10:26])
    (p,) = market.report.problems
    assert (p.date, p.rule, p.action) == (iso(DATES[2]), "high_below_max_open_close", "flagged")
    assert market.report.ok and market.report.rows_dropped == {"AAA": 0}


def test_the_bar_before_start_is_validated():
    frame = corrupt(bars(), 9, close=np.nan)
    with pytest.raises(DataError, match=iso(DATES[9])):
        validate_bars({"AAA": frame}, start=DATES[10])
    # but the one before that is outside the scope
    assert validate_bars({"AAA": corrupt(bars(), 8, close=np.nan)}, start=DATES[10]).report.ok


def test_jump_on_the_first_window_day_uses_the_bar_before_start():
    frame = split(bars(), 10, 10.0)
    with pytest.raises(DataError, match="return_jump"):
        validate_bars({"AAA": frame}, start=DATES[10])
    market = validate_bars({"AAA": frame}, start=DATES[11])  # the jump is dated before the window
    assert [(p.rule, p.action) for p in market.report.problems] == [("return_jump", "flagged")]


def test_no_rows_in_window():
    with pytest.raises(DataError) as info:
        validate_bars({"AAA": bars()}, sources={"AAA": "AAA.csv"}, start="2030-01-01", end="2030-12-31")
    msg = str(info.value)
    assert "AAA.csv: AAA" in msg and "no_rows_in_window" in msg and "2030-01-01" in msg


# -------------------------------------------------------------------------------------------- calendar
def three_symbols():
    a = bars(DATES, 1)
    b = bars(DATES, 2).drop([DATES[5], DATES[6]])  # two interior gaps
    c = bars(DATES, 3).drop([DATES[12]])  # one interior gap
    return {"A": a, "B": b, "C": c}


def test_missing_error_names_symbol_and_first_missing_date():
    with pytest.raises(DataError) as info:
        validate_bars(three_symbols())
    msg = str(info.value)
    assert msg.startswith(f"B {iso(DATES[5])}: missing_bar") and "2 such dates" in msg


def test_missing_drop_dates_counts_exactly():
    raw = three_symbols()
    market = validate_bars(raw, missing="drop_dates")
    gone = set(DATES) - set(raw["B"].index) | set(DATES) - set(raw["C"].index)
    assert list(market.dates) == [d for d in DATES if d not in gone]
    rep = market.report
    expected = {s: int(f.index.isin(list(gone)).sum()) for s, f in raw.items()}
    assert expected == {"A": 3, "B": 1, "C": 2}
    assert rep.rows_dropped == expected
    assert rep.rows_filled == {"A": 0, "B": 0, "C": 0}
    assert sorted((p.symbol, p.date) for p in rep.problems if p.action == "dropped") == [
        ("B", iso(DATES[5])),
        ("B", iso(DATES[6])),
        ("C", iso(DATES[12])),
    ]
    for s in raw:  # the surviving bars are untouched
        np.testing.assert_array_equal(market.close[s].to_numpy(), raw[s]["close"].loc[market.dates].to_numpy())


def test_missing_forward_fill_close_fills_flat_bars():
    raw = three_symbols()
    market = validate_bars(raw, missing="forward_fill_close")
    assert list(market.dates) == list(DATES)
    rep = market.report
    assert rep.rows_filled == {"A": 0, "B": 2, "C": 1} and rep.rows_dropped == {"A": 0, "B": 0, "C": 0}
    assert rep.count("filled") == 3
    prev = raw["B"]["close"].loc[DATES[4]]
    for d in (DATES[5], DATES[6]):
        bar = market.bars("B").loc[d]
        assert bar["open"] == bar["high"] == bar["low"] == bar["close"] == prev
        assert bar["volume"] == 0
    assert market.close.loc[DATES[12], "C"] == raw["C"]["close"].loc[DATES[11]]


def test_forward_fill_refuses_to_invent_bars_before_listing():
    raw = {"A": bars(DATES, 1), "LATE": bars(DATES[10:], 2)}
    with pytest.raises(DataError) as info:
        validate_bars(raw, missing="forward_fill_close")
    msg = str(info.value)
    assert msg.startswith(f"LATE {iso(DATES[0])}: not_listed") and "before its first" in msg
    trimmed = validate_bars(raw, missing="drop_dates")  # the documented alternative: the common span
    assert list(trimmed.dates) == list(DATES[10:])
    assert trimmed.report.rows_dropped == {"A": 10, "LATE": 0}


def test_dropped_bad_bar_then_calendar_policy_counts_both():
    good = bars(DATES, 1)
    bad = corrupt(corrupt(corrupt(bars(DATES, 2), 4, close=np.nan), 9, open=0.0), 17, high=1.0)
    market = validate_bars({"GOOD": good, "BAD": bad}, on_invalid="drop", missing="drop_dates")
    rep = market.report
    assert len(market) == 27
    assert rep.rows_dropped == {"GOOD": 3, "BAD": 3}
    assert rep.count("dropped", "BAD") == 6  # three bad bars + three dates it lacks afterwards


def test_collect_problems_checks_each_symbol_on_its_own_calendar_by_default():
    raw = three_symbols()
    assert collect_problems(raw).ok
    rep = collect_problems(raw, common_calendar=True)
    assert [(p.symbol, p.date, p.rule) for p in rep.problems] == [
        ("B", iso(DATES[5]), "missing_bar"),
        ("B", iso(DATES[6]), "missing_bar"),
        ("C", iso(DATES[12]), "missing_bar"),
    ]


# ---------------------------------------------------------------------------------------------- report
def test_report_is_json_ready_and_grouped():
    frame = corrupt(bars(), 7, close=np.nan)
    rep = validate_bars({"AAA": frame, "BBB": bars(seed=5)}, on_invalid="drop", missing="drop_dates").report
    blob = json.loads(json.dumps(rep.to_dict()))
    assert blob["rows_read"] == {"AAA": 30, "BBB": 30}
    assert blob["rows_dropped"] == {"AAA": 1, "BBB": 1}
    assert blob["ok"] is True
    assert {p["rule"] for p in blob["problems"]} == {"nan", "missing_bar"}
    grouped = rep.by_symbol()
    assert set(grouped) == {"AAA", "BBB"} and len(grouped["BBB"]) == 0 and len(grouped["AAA"]) == 2
    with pytest.raises(Exception):
        rep.problems = ()  # frozen
    assert isinstance(rep, ValidationReport) and isinstance(rep.problems[0], Problem)


def test_clean_input_gives_clean_market():
    raw = {"A": bars(seed=1), "B": bars(seed=2)}
    market = validate_bars(raw)
    assert market.symbols == ["A", "B"] and market.report.problems == () and market.report.ok
    pd.testing.assert_series_equal(market.high["B"], raw["B"]["high"], check_names=False, check_freq=False)


def _session_mask_by_isin(dates: pd.DatetimeIndex, calendar: str) -> np.ndarray:
    """The former implementation: DatetimeIndex.isin against the calendar's sessions, rebuilt per call."""
    import exchange_calendars as xcals

    cal = xcals.get_calendar(calendar, start="1970-01-02")
    first, last = (
        pd.Timestamp(t).tz_localize(None) if pd.Timestamp(t).tz is not None else pd.Timestamp(t)
        for t in (cal.first_session, cal.last_session)
    )
    sessions = pd.DatetimeIndex(cal.sessions)
    sessions = sessions.tz_localize(None) if sessions.tz is not None else sessions
    ok = np.ones(len(dates), dtype=bool)
    inside = np.asarray(dates.notna() & (dates >= first) & (dates <= last))
    ok[inside] = np.asarray(dates[inside].isin(sessions))
    return ok


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_session_mask_equals_isin_on_random_dates(unit):
    """session_mask answers by binary search in the calendar's session stamps, built once: the same booleans as
    ``isin`` for sessions, weekends, holidays, dates outside the calendar's range and NaT, in any datetime unit."""
    from volts.data.validate import session_mask

    rng = np.random.default_rng(11)
    days = pd.to_datetime("1960-01-01") + pd.to_timedelta(rng.integers(0, 80 * 365, 5000), unit="D")
    dates = pd.DatetimeIndex(list(days) + [pd.NaT, pd.Timestamp("2024-12-25"), pd.Timestamp("2024-12-24")])
    dates = dates.as_unit(unit)
    got = session_mask(dates, "XNYS")
    want = _session_mask_by_isin(dates, "XNYS")
    assert np.array_equal(got, want)
    assert not got[-2] and got[-1] and got[-3]  # Christmas closed, Christmas Eve open, NaT passes
    assert 0.2 < 1 - got.mean() < 0.45  # weekends and holidays inside the range are refused


def test_range_outlier_without_a_large_wick_flags_nothing_and_a_planted_one_is_found():
    """The range rule skips its rolling medians when no wick exceeds max_abs_return (only such a wick can be
    flagged); with one planted, it flags that row as the full computation does."""
    from volts.data.validate import rule_range_outlier

    rng = np.random.default_rng(5)
    n = 400
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = c * np.exp(rng.normal(0, 0.005, n))
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.005, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.005, n)))
    usable = np.ones(n, dtype=bool)
    kw = dict(multiple=10.0, max_abs_return=0.5, usable=usable)
    assert not rule_range_outlier(o, h, lo, c, **kw).any()
    h2 = h.copy()
    h2[200] = max(o[200], c[200]) * 1.8  # a wick of +80 % on a quiet day
    flagged = rule_range_outlier(o, h2, lo, c, **kw)
    assert np.flatnonzero(flagged).tolist() == [200]
