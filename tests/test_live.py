"""volts.live.orders: live targets equal the backtest's positions day by day; safe, idempotent order routing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import sqlite3

import pandas as pd
import pytest

from volts.core.config import DataSettings, Mt5Settings
from volts.data.csv import load_csv_market
from volts.data.mt5 import Mt5Terminal, load_mt5_market
from volts.core.errors import BrokerError, DataError, UsageError
from volts.live.book import client_id, comment_pair
from volts.live.orders import (
    Journal,
    Target,
    compute_targets,
    execute_targets,
    next_session,
    order_comment,
    write_signals,
)
from volts.trading.signals import follower_positions
from volts.testing.mt5_standin import (
    ORDER_FILLING_IOC,
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    POSITION_TYPE_BUY,
    POSITION_TYPE_SELL,
    SYMBOL_FILLING_IOC,
    Faults,
    StandInTerminal,
)
from volts.testing.mt5_server import serve_standin

PAIRS = [
    {"leader": "MU", "follower": "QCOM", "lag": 2},
    {"leader": "META", "follower": "TSLA", "lag": 1},
    {"leader": "TSLA", "follower": "AMZN", "lag": 5},
]
SYMBOLS = ["MU", "QCOM", "META", "TSLA", "AMZN"]
TEST_START, TEST_END = "2023-06-08", "2023-08-11"
MAGIC = 777
NOW = dt.datetime(2023, 8, 11, 22, 0, tzinfo=dt.timezone.utc)  # after the close of 2023-08-11


def no_sleep(_):
    pass


@pytest.fixture(scope="module")
def market(ref_data_dir):
    return load_csv_market(ref_data_dir, symbols=SYMBOLS, start="2023-01-03", end="2023-08-31")


# ----------------------------------------------------------------------------------------------- parity
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["long_short", "long_only"])
def test_live_targets_equal_backtest_positions_every_day(market, mode):
    days = market.dates[(market.dates >= TEST_START) & (market.dates <= TEST_END)]
    expected = {
        p["follower"]: follower_positions(market.close[p["leader"]], lag=p["lag"], ma_window=20, mode=mode)
        for p in PAIRS
    }
    seen = set()
    for day in days:
        prev = market.dates[market.dates.get_loc(day) - 1]
        # the live path sees only closed bars up to the previous session, and later bars are garbage
        visible = market.slice(None, prev)
        targets = compute_targets(PAIRS, visible, asof=prev, ma_window=20, mode=mode)
        poisoned = market._map(
            lambda df: df.mask(pd.Series(df.index > prev, index=df.index), axis=0, other=df * 7.0 + 3.0)
        )
        replay = compute_targets(PAIRS, poisoned, asof=prev, ma_window=20, mode=mode)
        assert [t.target for t in replay] == [t.target for t in targets]
        assert {t.session for t in replay} == {day.date()}  # data beyond asof know the next session
        for t in targets:
            assert t.asof == prev.date() and t.session == next_session(prev)  # else: next business day
            assert t.target == expected[t.follower][day], (t.pair, day)
            seen.add(t.target)
    assert len(days) == 45
    assert seen == ({-1, 1} if mode == "long_short" else {0, 1})  # the window exercises both states


def test_live_targets_equal_the_backtest_engine_positions_day_by_day(market):
    """Direct parity with the backtrader run (not only with volts.trading.signals): the position the strategy held on each
    day of the test window is the target `volts signal` gives on the evening before."""
    from volts.trading.backtest import PairSpec, run_backtest

    specs = [PairSpec(p["leader"], p["follower"], p["lag"]) for p in PAIRS]
    result = run_backtest(market, specs, start=TEST_START, end=TEST_END)
    held = result.positions
    assert len(held) == 45
    for day in held.index:
        prev = market.dates[market.dates.get_loc(day) - 1]
        targets = compute_targets(PAIRS, market.slice(None, prev), asof=prev, ma_window=20)
        for t, spec in zip(targets, specs):
            column = next(c for c in held.columns if c.startswith(f"{spec.leader}->{spec.follower}"))
            assert held.loc[day, column] == t.target, (t.pair, day)


@pytest.mark.slow
def test_live_path_through_the_mt5_stand_in_matches_backtest(ref_data_dir, market):
    """Day by day, the terminal's 'today' moves forward; the targets from MT5 bars equal the backtest."""
    days = market.dates[(market.dates >= "2023-07-03") & (market.dates <= "2023-07-21")]
    pairs = PAIRS[:2]
    expected = {p["follower"]: follower_positions(market.close[p["leader"]], lag=p["lag"]) for p in pairs}
    with serve_standin(ref_data_dir, faults=Faults(forming_bar=True)) as (host, port, standin):
        ds = DataSettings(source="mt5", mt5=Mt5Settings(bridge="mt5linux", host=host, port=port, backoff_seconds=0))
        term = Mt5Terminal.from_settings(ds.mt5, sleep=no_sleep)
        try:
            for day in days:
                standin.until = day  # the session of `day` is trading: its bar is forming
                now = pd.Timestamp(f"{day.date()} 11:00", tz="America/New_York").to_pydatetime()
                live = load_mt5_market(
                    ds, symbols=["MU", "META", "QCOM", "TSLA"], start="2023-05-01", end=None, terminal=term, now=now
                )
                targets = compute_targets(pairs, live, ma_window=20)
                prev = market.dates[market.dates.get_loc(day) - 1]
                for t in targets:
                    # beyond the data the session is the next business day (holidays unknown: 4 July)
                    assert t.asof == prev.date() and t.session == next_session(prev)
                    assert t.target == expected[t.follower][day], (t.pair, day)
        finally:
            term.close()


def test_target_fields_and_session(market):
    t = compute_targets([PAIRS[0]], market, asof="2023-07-03", ma_window=20)[0]
    # 2023-07-04 is a holiday: the market data know the next session; the SMA is of the signal day (lag 2)
    assert t.asof == dt.date(2023, 7, 3) and t.session == dt.date(2023, 7, 5)
    assert t.signal_date == dt.date(2023, 6, 30)
    window = market.close["MU"].loc[:"2023-06-30"].iloc[-20:]
    assert t.leader_close == window.iloc[-1] and math.isclose(t.sma, window.mean(), rel_tol=1e-12)
    assert t.target == (1 if t.leader_close > t.sma else -1)
    # beyond the data: next business day (Friday -> Monday)
    friday = market.slice(None, "2023-08-11")
    assert compute_targets([PAIRS[0]], friday)[0].session == dt.date(2023, 8, 14)
    d = t.to_dict()
    assert d["pair"] == "MU->QCOM" and d["asof"] == "2023-07-03" and d["target"] == t.target
    json.dumps(d, allow_nan=False)


def test_compute_targets_rejects_bad_input(market):
    with pytest.raises(DataError, match="NVDA"):
        compute_targets([{"leader": "NVDA", "follower": "MU", "lag": 1}], market)
    with pytest.raises(UsageError, match="lag"):
        compute_targets([{"leader": "MU", "follower": "QCOM", "lag": 0}], market)
    with pytest.raises(DataError, match="no bar on or before 2020-01-01"):
        compute_targets(PAIRS, market, asof="2020-01-01")


# ----------------------------------------------------------------------------------------------- signals file
def test_write_signals_is_atomic(market, tmp_path, monkeypatch):
    targets = compute_targets(PAIRS, market, asof="2023-08-11")
    path = write_signals(targets, tmp_path / "signals", meta={"source": "csv"})
    assert path == tmp_path / "signals" / "2023-08-11.json"
    data = json.loads(path.read_text())
    assert data["asof"] == "2023-08-11" and data["session"] == "2023-08-14" and data["source"] == "csv"
    assert [(d["pair"], d["target"]) for d in data["targets"]] == [(t.pair, t.target) for t in targets]
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    flipped = [Target(**{**t.__dict__, "target": -t.target or 1}) for t in targets]
    with pytest.raises(OSError):
        write_signals(flipped, tmp_path / "signals")
    assert path.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in (tmp_path / "signals").iterdir()) == ["2023-08-11.json"]  # no temp file left


# ----------------------------------------------------------------------------------------------- journal
def test_journal_is_wal_and_durable(tmp_path):
    path = tmp_path / "j" / "journal.sqlite"
    with Journal(path, run_id="r1", now=NOW) as j:
        j.record("decision", {"target": 1}, pair="MU->QCOM", session=dt.date(2023, 8, 14))
        j.record("request", {"status": "pending", "request_uid": "u1"}, pair="MU->QCOM", session="2023-08-14")
        with pytest.raises(ValueError):
            j.record("note", {})
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT ts, run_id, kind, session, pair, payload FROM events ORDER BY id").fetchall()
    assert [r[2] for r in rows] == ["decision", "request"]
    assert rows[0][:2] == ("2023-08-11T22:00:00.000000+00:00", "r1") and json.loads(rows[0][5]) == {"target": 1}
    with Journal(path) as j:
        assert [e["payload"]["request_uid"] for e in j.pending("2023-08-14", "MU->QCOM")] == ["u1"]
        assert not j.completed("2023-08-14", "MU->QCOM")


# ----------------------------------------------------------------------------------------------- execution
def make_target(leader="MU", follower="QCOM", target=1, lag=2, session=dt.date(2023, 8, 14)):
    return Target(
        leader=leader,
        follower=follower,
        lag=lag,
        asof=dt.date(2023, 8, 11),
        session=session,
        target=target,
        signal_date=dt.date(2023, 8, 10),
        leader_close=1.0,
        sma=1.0,
        ma_window=20,
        mode="long_short",
    )


@pytest.fixture
def standin(ref_data_dir):
    return StandInTerminal(
        ref_data_dir, until="2023-08-11", filling_mode=SYMBOL_FILLING_IOC, volume_step=0.01, volume_min=0.01
    )


def run(targets, standin, journal, **kw):
    term = Mt5Terminal.from_api(standin, sleep=no_sleep, retries=kw.pop("retries", 3))
    kw.setdefault("magic", MAGIC)
    kw.setdefault("now", NOW)
    return execute_targets(targets, term, journal, **kw)


def test_orders_open_positions_with_the_expected_request(standin, tmp_path, market):
    targets = [make_target(target=1), make_target("META", "TSLA", target=-1, lag=1)]
    with Journal(tmp_path / "j.sqlite") as j:
        reports = run(targets, standin, j, capital=1000.0, deviation=15)
    assert [r.action for r in reports] == ["open", "open"]
    assert len(standin.orders_received) == 2
    qcom, tsla = standin.orders_received
    close = market.close.loc["2023-08-11"]
    assert math.isclose(qcom["volume"], math.floor(1000.0 / close["QCOM"] / 0.01) * 0.01, abs_tol=1e-9)
    assert math.isclose(tsla["volume"], math.floor(1000.0 / close["TSLA"] / 0.01) * 0.01, abs_tol=1e-9)
    assert (qcom["type"], tsla["type"]) == (ORDER_TYPE_BUY, ORDER_TYPE_SELL)
    assert qcom["type_filling"] == ORDER_FILLING_IOC  # from symbol_info().filling_mode, not a guess
    assert qcom["magic"] == MAGIC and qcom["deviation"] == 15 and "position" not in qcom
    # the client id: pair, session (2023-08-14), leg; a long pair is hashed to fit MT5's 31 characters
    assert qcom["comment"] == "volts MU>QCOM 230814o1" and tsla["comment"] == "volts META>TSLA 230814o1"
    long_id = client_id("A" * 20 + "->" + "B" * 20, "2023-08-14", "o1")
    assert len(long_id) <= 31 and comment_pair(long_id, ["A" * 20 + "->" + "B" * 20]) == "A" * 20 + "->" + "B" * 20
    pos = standin.positions_get()
    assert sorted((p.symbol, p.type) for p in pos) == [("QCOM", POSITION_TYPE_BUY), ("TSLA", POSITION_TYPE_SELL)]


def test_second_run_same_session_sends_nothing(standin, tmp_path):
    targets = [make_target(target=1), make_target("META", "TSLA", target=-1, lag=1)]
    with Journal(tmp_path / "j.sqlite") as j:
        run(targets, standin, j)
    sent = len(standin.orders_received)
    with Journal(tmp_path / "j.sqlite") as j:  # journal says complete
        assert [r.action for r in run(targets, standin, j)] == ["skip", "skip"]
    with Journal(tmp_path / "other.sqlite") as j:  # a fresh journal: the positions say there is nothing to do
        assert [r.action for r in run(targets, standin, j)] == ["none", "none"]
    assert len(standin.orders_received) == sent == 2


def test_flip_closes_then_opens(standin, tmp_path):
    ticket = standin.open_position("QCOM", type=POSITION_TYPE_BUY, volume=3.0, magic=MAGIC)
    standin.open_position("QCOM", type=POSITION_TYPE_BUY, volume=5.0, magic=MAGIC + 1)  # not ours: untouched
    with Journal(tmp_path / "j.sqlite") as j:
        (rep,) = run([make_target(target=-1)], standin, j, volume_per_pair=2.0)
    assert rep.action == "flip" and rep.before == 1
    close, open_ = standin.orders_received
    assert (close["type"], close["position"], close["volume"]) == (ORDER_TYPE_SELL, ticket, 3.0)
    assert (open_["type"], open_["volume"]) == (ORDER_TYPE_SELL, 2.0) and "position" not in open_
    ours = [p for p in standin.positions_get(symbol="QCOM") if p.magic == MAGIC]
    assert [(p.type, p.volume) for p in ours] == [(POSITION_TYPE_SELL, 2.0)]
    assert len(standin.positions_get(symbol="QCOM")) == 2


def test_flat_target_closes(standin, tmp_path):
    standin.open_position("QCOM", type=POSITION_TYPE_SELL, volume=4.0, magic=MAGIC)
    with Journal(tmp_path / "j.sqlite") as j:
        (rep,) = run([make_target(target=0)], standin, j)
    assert rep.action == "close" and standin.positions_get(symbol="QCOM") == ()
    assert standin.orders_received[0]["type"] == ORDER_TYPE_BUY


def test_rejected_order_is_journaled_then_raised(standin, tmp_path):
    standin.faults.reject_orders(1, retcode=10018, comment="Market closed")
    targets = [make_target(target=1), make_target("META", "TSLA", target=-1, lag=1)]
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(
            BrokerError,
            match=r"MU->QCOM: open order for QCOM rejected by the broker: retcode "
            r"10018 \(Market closed\)",
        ):
            run(targets, standin, j)
        events = j.events(pair="MU->QCOM")
        assert [e["kind"] for e in events] == ["decision", "request", "result"]
        assert events[2]["payload"]["status"] == "rejected" and events[2]["payload"]["retcode"] == 10018
        assert j.completed("2023-08-14", "META->TSLA")  # the other pair was still processed
    assert [p.symbol for p in standin.positions_get()] == ["TSLA"]


def test_size_below_volume_min_refuses_before_any_order(standin, tmp_path):
    standin.volume_min = 1.0  # one share at least: 200 USD buy 1.74 QCOM (at 114.61) but 0.82 TSLA (at 242.65)
    targets = [make_target(target=1), make_target("META", "TSLA", target=-1, lag=1)]
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(
            BrokerError,
            match=r"META->TSLA: capital 200 at price 242.65 gives 0.824.* lots, below "
            r"the broker's minimum 1",
        ):
            run(targets, standin, j, capital=200.0, volume_per_pair=None)
    assert standin.orders_received == []
    standin.volume_min = 0.01
    with Journal(tmp_path / "k.sqlite") as j:  # two pairs on one follower: each keeps its own position
        reports = run([make_target(target=1), make_target("META", "QCOM", target=-1)], standin, j, volume_per_pair=3.0)
    assert [r.action for r in reports] == ["open", "open"]
    assert sorted((p.comment[:15], p.type, p.volume) for p in standin.positions) == [
        ("volts META>QCOM", POSITION_TYPE_SELL, 3.0),
        ("volts MU>QCOM 2", POSITION_TYPE_BUY, 3.0),
    ]
    with Journal(tmp_path / "k.sqlite") as j:  # the next session: MU->QCOM turns short, META->QCOM stays
        later = [
            dataclasses.replace(make_target(target=-1), session=dt.date(2023, 8, 15)),
            dataclasses.replace(make_target("META", "QCOM", target=-1), session=dt.date(2023, 8, 15)),
        ]
        reports = run(later, standin, j, volume_per_pair=3.0)
    assert [r.action for r in reports] == ["flip", "none"]
    assert sorted((p.type, p.volume) for p in standin.positions) == [(POSITION_TYPE_SELL, 3.0)] * 2


def test_lost_reply_is_not_sent_twice(standin, tmp_path):
    standin.faults.lose_order_replies(1)  # filled, then the connection drops before the reply
    with Journal(tmp_path / "j.sqlite") as j:
        (rep,) = run([make_target(target=1)], standin, j)
        kinds = [(e["kind"], e["payload"].get("status") or e["payload"].get("outcome")) for e in j.events()]
    assert len(standin.fills) == 1 and len(standin.orders_received) == 1
    assert rep.action == "open" and rep.orders == ()  # the fill was found in the positions, no second order
    assert kinds == [("decision", None), ("request", "pending"), ("error", "unknown"), ("result", "complete")]


def test_dropped_connection_before_the_order_resends_once(standin, tmp_path):
    standin.faults.fail_next(1, function="order_send", kind="drop")
    with Journal(tmp_path / "j.sqlite") as j:
        run([make_target(target=1)], standin, j)
    assert len(standin.fills) == 1 and len(standin.orders_received) == 1


def test_order_send_failing_for_good_raises_after_retries(standin, tmp_path):
    standin.faults.fail_next(100, function="order_send", kind="none", error=(-10001, "IPC send failed"))
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(BrokerError, match=r"MU->QCOM: order_send for QCOM failed 3 time\(s\).*-10001"):
            run([make_target(target=1)], standin, j, retries=2)
        events = j.events()
    assert standin.fills == []
    requests = [e for e in events if e["kind"] == "request"]
    errors = [e for e in events if e["kind"] == "error"]
    assert len(requests) == 3 and len(errors) == 4  # 3 unknown outcomes + the final error: nothing lost


def test_crash_between_order_send_and_journal_does_not_double_send(standin, tmp_path):
    path = tmp_path / "j.sqlite"

    class Crash(Exception):
        pass

    class CrashingJournal(Journal):
        def record(self, kind, payload, **kw):
            if kind == "result" and payload.get("status") == "done":
                raise Crash("process killed")
            return super().record(kind, payload, **kw)

    with CrashingJournal(path) as j:
        with pytest.raises(Crash):
            run([make_target(target=1)], standin, j)
    assert len(standin.fills) == 1
    with Journal(path) as j:
        assert len(j.pending("2023-08-14", "MU->QCOM")) == 1
        (rep,) = run([make_target(target=1)], standin, j)
        assert rep.action == "none" and j.pending("2023-08-14", "MU->QCOM") == []
        statuses = [e["payload"].get("status") for e in j.events(kind="result")]
    assert statuses == ["reconciled", "complete"]
    assert len(standin.fills) == 1 and len(standin.orders_received) == 1
