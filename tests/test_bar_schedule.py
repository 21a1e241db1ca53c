"""Decision bars of the intraday walk-forward on hand-built indexes (24/7 H1, 24/5 H4 with weekends, gaps)."""

import pandas as pd
import pytest

from volts.core.errors import UsageError
from volts.evaluation.bar_schedule import decision_bars, parse_cadence

T = pd.Timestamp


def h1_247(start="2024-01-01", end="2024-01-07 23:00"):
    return pd.date_range(start, end, freq="1h")


def test_parse_cadence_forms():
    assert parse_cadence("24 bars").bars == 24
    assert parse_cadence("24bars").bars == 24
    assert parse_cadence("6H").period == pd.Timedelta(hours=6)
    assert parse_cadence("30min").period == pd.Timedelta(minutes=30)
    c = parse_cadence("2W")
    assert c.period == pd.Timedelta(weeks=1) and c.keep_every == 2
    assert parse_cadence("1d").period == pd.Timedelta(days=1)
    for bad in ("", "0D", "5H", "bars", "x", "7min"):
        with pytest.raises(UsageError):
            parse_cadence(bad)
    with pytest.raises(UsageError, match="shorter than one H4 bar"):
        parse_cadence("1H", "H4")


def test_daily_on_247_h1_is_the_23h_bar_and_trades_at_midnight():
    idx = h1_247()
    ds = decision_bars(idx, "H1", "1D", "2024-01-01", "2024-01-07")
    assert [d.asof for d in ds] == [T(f"2024-01-0{k} 23:00") for k in range(1, 8)]
    assert ds[0].known_at == T("2024-01-02 00:00") and ds[0].trade_from == T("2024-01-02 00:00")
    assert ds[-1].trade_from is None  # the data end at the last decision bar
    assert ds[0].period_start == T("2024-01-01") and ds[0].period_end == T("2024-01-02")


def test_six_hours_and_every_n_bars():
    idx = h1_247()
    ds = decision_bars(idx, "H1", "6H", "2024-01-02", "2024-01-02")
    assert [d.asof.hour for d in ds] == [5, 11, 17, 23]
    nb = decision_bars(idx, "H1", "5 bars", "2024-01-01 03:00", "2024-01-01 23:59")
    # the 5th, 10th, ... bar from 03:00: 07:00, 12:00, 17:00, 22:00 (23:00 starts an incomplete run)
    assert [d.asof for d in nb] == [
        T("2024-01-01 07:00"),
        T("2024-01-01 12:00"),
        T("2024-01-01 17:00"),
        T("2024-01-01 22:00"),
    ]
    assert nb[0].period_start == T("2024-01-01 03:00") and nb[0].period_end == T("2024-01-01 08:00")


def test_incomplete_last_period_and_data_end():
    idx = h1_247(end="2024-01-03 17:00")  # the data stop mid-day: 3 Jan is not complete
    ds = decision_bars(idx, "H1", "1D", "2024-01-01", "2024-01-10")
    assert [d.asof for d in ds] == [T("2024-01-01 23:00"), T("2024-01-02 23:00")]


def test_gap_moves_the_decision_to_the_last_complete_bar():
    idx = h1_247().delete([22, 23])  # 1 Jan 22:00 and 23:00 missing (a vendor gap)
    ds = decision_bars(idx, "H1", "1D", "2024-01-01", "2024-01-02")
    assert ds[0].asof == T("2024-01-01 21:00") and ds[0].trade_from == T("2024-01-02 00:00")


def fx_h4():
    # 24/5 H4 bars, Monday 00:00 .. Friday 20:00, weekends empty
    days = pd.bdate_range("2024-01-01", "2024-01-12")
    return pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in days for h in range(0, 24, 4)])


def test_weekly_on_245_h4_with_weekends():
    idx = fx_h4()
    ds = decision_bars(idx, "H4", "1W", "2024-01-01", "2024-01-14")
    # the data end on Friday 12 Jan 24:00, before that week's end (Monday 00:00 UTC): it is not complete
    assert [d.asof for d in ds] == [T("2024-01-05 20:00")]
    assert ds[0].trade_from == T("2024-01-08 00:00")  # next bar after the weekend
    more = idx.append(pd.DatetimeIndex([T("2024-01-15 00:00")]))  # one bar of the next week: now it is
    assert [d.asof for d in decision_bars(more, "H4", "1W", "2024-01-01", "2024-01-14")] == [
        T("2024-01-05 20:00"),
        T("2024-01-12 20:00"),
    ]
    daily = decision_bars(idx, "H4", "1D", "2024-01-01", "2024-01-14")
    assert len(daily) == 10 and all(d.asof.hour == 20 and d.asof.day_of_week < 5 for d in daily)
    assert decision_bars(idx, "H4", "2D", "2024-01-01", "2024-01-14")[1].asof == T("2024-01-03 20:00")
    assert len(decision_bars(more, "H4", "2W", "2024-01-01", "2024-01-14")) == 1


def test_bar_straddling_the_period_end_goes_to_the_next_period():
    idx = pd.date_range("2024-01-01", "2024-01-02 20:00", freq="4h")
    ds = decision_bars(idx, "H4", "6H", "2024-01-01", "2024-01-01")
    # periods [0,6) [6,12) [12,18) [18,24): complete H4 bars 00:00; 08:00; 12:00; 20:00
    assert [d.asof.hour for d in ds] == [0, 8, 12, 20]


def test_no_decision_before_start_or_for_a_partial_first_week():
    idx = h1_247(start="2024-01-01", end="2024-01-21 23:00")
    ds = decision_bars(idx, "H1", "1W", "2024-01-03", "2024-01-21")
    assert [d.asof for d in ds] == [T("2024-01-14 23:00"), T("2024-01-21 23:00")]
    with pytest.raises(UsageError):
        decision_bars(idx, "H1", "1D", "2024-01-05", "2024-01-04")
