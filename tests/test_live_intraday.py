"""``volts signal`` on intraday bars: the bar grid of the calendar, the bar in progress, stale feeds, the selection's
age in bars, and look-ahead perturbations (bars after the decision bar change nothing). ``now`` is injected."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from volts.commands.signal import run_signal
from volts.core.config import Settings
from volts.core.errors import ArtifactError, DataError
from volts.live.accounts import client_id, comment_pair, comment_prefix
from volts.live.intraday import (
    check_fresh_bars,
    default_age_limit,
    expected_last_bar,
    next_bar_open,
    parse_instant,
    selection_age_bars,
)
from volts.testing.mt5_server import serve_standin
from volts.trading.signals import follower_positions

PAIRS = [{"leader": "AAA", "follower": "BBB", "lag": 2}, {"leader": "CCC", "follower": "AAA", "lag": 1}]
SYMBOLS = ("AAA", "BBB", "CCC")
STAMPS_247 = pd.date_range("2023-06-01 00:00", "2023-06-05 23:00", freq="h")  # Thursday .. Monday


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch):
    for var in ("VOLTS_MT5_LOGIN", "VOLTS_MT5_PASSWORD", "VOLTS_MT5_SERVER"):
        monkeypatch.delenv(var, raising=False)


def frames(stamps: pd.DatetimeIndex, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Random-walk OHLCV bars per symbol (the same for a seed), indexed by open time."""
    rng = np.random.default_rng(seed)
    out = {}
    for sym in SYMBOLS:
        c = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, len(stamps))))
        o = np.r_[100.0, c[:-1]] * np.exp(rng.normal(0, 0.001, len(stamps)))  # an open apart from the last close
        out[sym] = pd.DataFrame(
            {
                "Open": o,
                "High": np.maximum(o, c) * 1.001,
                "Low": np.minimum(o, c) * 0.999,
                "Close": c,
                "Volume": rng.integers(1, 500, len(stamps)),
            },
            index=stamps,
        )
    return out


def perturbed(bars: dict[str, pd.DataFrame], since, seed: int = 99) -> dict[str, pd.DataFrame]:
    """The same bars with every bar opened at or after ``since`` replaced by other (valid) values."""
    rng = np.random.default_rng(seed)
    out = {}
    for sym, f in bars.items():
        g = f.copy()
        rows = g.index >= pd.Timestamp(since)
        n = int(rows.sum())
        o = g.loc[rows, "Open"].to_numpy() * rng.uniform(0.8, 1.2, n)
        c = o * rng.uniform(0.8, 1.2, n)
        g.loc[rows, "Open"], g.loc[rows, "Close"] = o, c
        g.loc[rows, "High"] = np.maximum(o, c) * 1.05
        g.loc[rows, "Low"] = np.minimum(o, c) * 0.95
        g.loc[rows, "Volume"] = rng.integers(1, 500, n)
        out[sym] = g
    return out


def write(folder: Path, bars: dict[str, pd.DataFrame], upto=None, drop: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sym, f in bars.items():
        if upto is not None:
            f = f.loc[: pd.Timestamp(upto)]
        if drop and sym in drop:
            f = f.loc[f.index <= pd.Timestamp(drop[sym])]
        f = f.copy()
        f.index = f.index.strftime("%Y-%m-%d %H:%M:%S")
        f.to_csv(folder / f"{sym}.csv", sep="\t", index_label="Time")
    return folder


def selection_file(tmp_path: Path, asof: str = "2023-06-03", pairs=PAIRS, bar: str | None = "H1") -> Path:
    path = tmp_path / "selection.json"
    path.write_text(
        json.dumps(
            {
                "asof": asof,
                "train": {"start": "2023-06-01", "end": asof},
                "universe": list(SYMBOLS),
                "anomalies": [],
                "volatility_clusters": {},
                "candidates": [],
                "granger": {"lag": 3, "tests": []},
                "pairs": pairs,
                "volts_version": "test",
                "config_sha256": "0" * 64,
                "data_sha256": "0" * 64,
                **({"bars": {"timeframe": bar, "calendar": "24/7"}} if bar else {}),
            }
        )
    )
    return path


def settings(tmp_path: Path, folder: Path, calendar: str = "24/7", **extra) -> Settings:
    keys = {
        "data.dir": str(folder),
        "data.universe": list(SYMBOLS),
        "data.timeframe": "H1",
        "data.calendar": calendar,
        "live.lock_dir": str(tmp_path / "locks"),
        **extra,
    }
    return Settings().override(**keys)


def mt5_settings(tmp_path, folder, host, port, **extra) -> Settings:
    return settings(
        tmp_path,
        folder,
        **{
            "data.source": "mt5",
            "data.mt5.bridge": "mt5linux",
            "data.mt5.host": host,
            "data.mt5.port": port,
            "data.mt5.backoff_seconds": 0.0,
            "data.mt5.retries": 1,
            **extra,
        },
    )


def signal(st, sel, out, *, now, asof=None, execute=False, journal=None, allow_stale=False):
    console = Console(file=io.StringIO(), width=200)
    targets, path, executions = run_signal(
        st,
        sel,
        asof=asof,
        out=out,
        execute=execute,
        confirm=lambda targets: True,
        journal_path=journal,
        console=console,
        now=now,
        allow_stale=allow_stale,
    )
    return targets, path, executions, console.file.getvalue()


def payload(path: Path) -> dict:
    data = json.loads(path.read_text())
    for key in ("created", "selection", "config_sha256"):  # the clock, and the folders the two runs read
        data.pop(key)
    return data


def oracle(bars: dict[str, pd.DataFrame], decision) -> dict[str, int]:
    """Each follower's position for the bar after ``decision``, from the generated closes (not the loaders)."""
    out = {}
    for p in PAIRS:
        close = bars[p["leader"]]["Close"]
        nxt = close.index[close.index > pd.Timestamp(decision)][0]
        out[f"{p['leader']}->{p['follower']}"] = int(follower_positions(close, lag=p["lag"])[nxt])
    return out


# ------------------------------------------------------------------------------------------------ the bar grid
@pytest.mark.parametrize(
    "now, tf, calendar, phase, expected",
    [
        ("2023-06-03 10:20", "H1", "24/7", 0, "2023-06-03 09:00"),  # no "last session" in a 24/7 market
        ("2023-06-03 10:00", "H1", "24/7", 0, "2023-06-03 09:00"),  # the 09:00 bar closes at 10:00 exactly
        ("2023-06-03 10:20", "M15", "24/7", 0, "2023-06-03 10:00"),
        ("2023-06-03 10:20", "H4", "24/7", 60, "2023-06-03 05:00"),  # H4 bars opening 01:00, 05:00, 09:00 ...
        ("2023-06-03 12:00", "H1", "24/5", 0, "2023-06-02 23:00"),  # Saturday: Friday's last bar
        ("2023-06-05 00:30", "H1", "24/5", 0, "2023-06-02 23:00"),  # Monday's first bar still in progress
        ("2023-06-05 01:00", "H1", "24/5", 0, "2023-06-05 00:00"),
        ("2023-07-04 15:00", "H1", "XNYS", 0, "2023-07-03 16:00"),  # holiday; July 3 closed early, 17:00 UTC
    ],
)
def test_expected_last_bar_follows_the_calendar(now, tf, calendar, phase, expected):
    assert expected_last_bar(ts(now), tf, calendar, phase=phase) == ts(expected)


def test_next_bar_open_skips_what_the_calendar_closes():
    assert next_bar_open(ts("2023-06-03 09:00"), "H1", "24/7") == ts("2023-06-03 10:00")
    assert next_bar_open(ts("2023-06-02 23:00"), "H1", "24/5") == ts("2023-06-05 00:00")
    # XNYS opens 13:30 UTC in summer: the 13:00 H1 bar is the first one overlapping the session after the holiday
    assert next_bar_open(ts("2023-07-03 16:00"), "H1", "XNYS") == ts("2023-07-05 13:00")


def test_selection_age_counts_bars_of_the_calendar():
    # a date: the selection used that whole day; 00:00 .. 09:00 of the next day are 10 H1 bars
    assert selection_age_bars({"asof": "2023-06-01"}, ts("2023-06-02 09:00"), "H1", "24/7").bars == 10
    assert selection_age_bars({"asof": "2023-06-02T08:00"}, ts("2023-06-02 09:00"), "H1", "24/7").bars == 1
    assert selection_age_bars({"asof": "2023-06-02"}, ts("2023-06-02 09:00"), "H1", "24/7").bars == 0
    # 24/5: the weekend holds no bar; Friday's selection is 3 bars old at Monday 02:00
    assert selection_age_bars({"asof": "2023-06-02"}, ts("2023-06-05 02:00"), "H1", "24/5").bars == 3
    live = Settings().live
    assert default_age_limit(live, "H1", "24/7") == 7 * 24
    assert default_age_limit(live.model_copy(update={"max_selection_age_bars": 5}), "H1", "24/7") == 5
    assert default_age_limit(live, "H1", "XNYS") == 7 * 7  # 6.5 h sessions touch 7 hourly bars


def test_max_selection_age_bars_is_left_out_of_the_dump_when_unset():
    plain = Settings()
    assert "max_selection_age_bars" not in plain.model_dump_json()
    assert "max_selection_age_bars" in plain.override(**{"live.max_selection_age_bars": 5}).model_dump_json()
    assert plain.override(**{"live.max_selection_age_bars": 5}).sha256() != plain.sha256()


def test_parse_instant():
    assert parse_instant("2023-06-05") == dt.date(2023, 6, 5)
    assert parse_instant("2023-06-05T09:00") == ts("2023-06-05 09:00")
    assert parse_instant("2023-06-05T11:00+02:00") == ts("2023-06-05 09:00")
    from volts.core.errors import UsageError

    with pytest.raises(UsageError, match="--asof"):
        parse_instant("yesterday")


def test_intraday_client_ids_carry_the_bar_and_name_the_pair():
    session = dt.datetime(2023, 8, 14, 9, 0)
    cid = client_id("MU->QCOM", session, "o1")
    assert cid == "volts MU>QCOM 2308140900o1" and comment_pair(cid) == "MU->QCOM"
    assert comment_prefix("MU->QCOM", session) == "volts MU>QCOM 2308140900"
    assert client_id("MU->QCOM", dt.date(2023, 8, 14), "o1") == "volts MU>QCOM 230814o1"  # daily: as before
    long_pair = "ABCDEFGH->IJKLMNOP"
    cid = client_id(long_pair, session, "c12")
    assert len(cid) <= 31 and comment_pair(cid, [long_pair]) == long_pair
    assert cid.startswith(comment_prefix(long_pair, session))


# ------------------------------------------------------------------------------------------------ the signal
NOW = dt.datetime(2023, 6, 5, 10, 20, tzinfo=dt.timezone.utc)  # the 10:00 bar is in progress


def test_dry_run_decides_on_the_last_complete_bar(tmp_path):
    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars, upto="2023-06-05 10:00")  # the export holds the bar in progress
    targets, path, executions, text = signal(
        settings(tmp_path, folder), selection_file(tmp_path), tmp_path / "s", now=NOW
    )
    assert executions is None and path.name == "2023-06-05T0900.json"
    assert {t.asof for t in targets} == {dt.datetime(2023, 6, 5, 9)}
    assert {t.session for t in targets} == {dt.datetime(2023, 6, 5, 10)}
    assert {t.pair: t.target for t in targets} == oracle(bars, "2023-06-05 09:00")
    assert "10:00 UTC is still in progress" in text and "stale" not in text
    data = json.loads(path.read_text())
    assert (data["asof"], data["session"], data["timeframe"], data["calendar"]) == (
        "2023-06-05T09:00",
        "2023-06-05T10:00",
        "H1",
        "24/7",
    )
    assert data["selection_age_bars"] == 34  # 2023-06-04 00:00 .. 2023-06-05 09:00


def test_perturbing_the_bar_in_progress_changes_nothing(tmp_path):
    bars = frames(STAMPS_247)
    a = write(tmp_path / "a", bars, upto="2023-06-05 10:00")
    b = write(tmp_path / "b", perturbed(bars, "2023-06-05 10:00"), upto="2023-06-05 10:00")
    sel = selection_file(tmp_path)
    ta, pa, _, _ = signal(settings(tmp_path, a), sel, tmp_path / "sa", now=NOW)
    tb, pb, _, _ = signal(settings(tmp_path, b), sel, tmp_path / "sb", now=NOW)
    assert ta == tb and payload(pa) == payload(pb)


def test_perturbing_every_bar_after_the_decision_bar_changes_nothing(tmp_path):
    bars = frames(STAMPS_247)
    a = write(tmp_path / "a", bars)
    b = write(tmp_path / "b", perturbed(bars, "2023-06-04 13:00"))
    sel = selection_file(tmp_path)
    later = dt.datetime(2023, 6, 6, 12, tzinfo=dt.timezone.utc)
    asof = parse_instant("2023-06-04T12:00")
    ta, pa, _, _ = signal(settings(tmp_path, a), sel, tmp_path / "sa", now=later, asof=asof)
    tb, pb, _, _ = signal(settings(tmp_path, b), sel, tmp_path / "sb", now=later, asof=asof)
    assert ta == tb and payload(pa) == payload(pb)  # the data hash covers the bars up to the decision bar only
    assert {t.pair: t.target for t in ta} == oracle(bars, "2023-06-04 12:00")
    # the perturbation reaches the decision when it starts at the decision bar (the test can fail)
    c = write(tmp_path / "c", perturbed(bars, "2023-06-04 12:00"))
    _, pc, _, _ = signal(settings(tmp_path, c), sel, tmp_path / "sc", now=later, asof=asof)
    assert payload(pc)["data_sha256"] != payload(pa)["data_sha256"]


def _orders(standin) -> list[tuple]:
    return [(o["symbol"], o["type"], o["volume"], o["price"], o["comment"]) for o in standin.orders_received]


def test_mt5_orders_ignore_the_bar_in_progress_and_later_bars(tmp_path):
    bars = frames(STAMPS_247)
    a = write(tmp_path / "a", bars)
    b = write(tmp_path / "b", perturbed(bars, "2023-06-05 10:00"))
    sel = selection_file(tmp_path)
    now_naive = pd.Timestamp("2023-06-05 10:20")
    runs = []
    for name, folder in (("a", a), ("b", b)):
        with serve_standin(folder, intraday_timeframe="H1", now=now_naive) as (host, port, standin):
            st = mt5_settings(tmp_path / name, folder, host, port)
            targets, path, executions, _ = signal(
                st, sel, tmp_path / name / "s", now=NOW, execute=True, journal=tmp_path / name / "j.sqlite"
            )
            runs.append((targets, payload(path), _orders(standin), [e.action for e in executions]))
    assert runs[0] == runs[1]
    targets, _, orders, _ = runs[0]
    assert {t.pair: t.target for t in targets} == oracle(bars, "2023-06-05 09:00")
    assert orders and all(o[4].endswith("2306051000o1") for o in orders)  # orders for the 10:00 bar


def test_execute_is_idempotent_per_bar_and_trades_the_next_bar(tmp_path):
    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars)
    sel = selection_file(tmp_path)
    journal = tmp_path / "j.sqlite"
    with serve_standin(folder, intraday_timeframe="H1", now=pd.Timestamp("2023-06-05 10:20")) as (host, port, standin):
        st = mt5_settings(tmp_path, folder, host, port)
        _, _, first, _ = signal(st, sel, tmp_path / "s", now=NOW, execute=True, journal=journal)
        sent = len(standin.orders_received)
        _, _, again, _ = signal(st, sel, tmp_path / "s", now=NOW, execute=True, journal=journal)
        assert len(standin.orders_received) == sent and {e.action for e in again} == {"skip"}
        later = NOW + dt.timedelta(hours=1)
        standin.set_now(later)
        targets, _, nxt, _ = signal(st, sel, tmp_path / "s", now=later, execute=True, journal=journal)
        held = {p.symbol: (1 if p.type == 0 else -1) for p in standin.positions}
    assert {e.session for e in nxt} == {dt.datetime(2023, 6, 5, 11)}
    assert held == {t.follower: t.target for t in targets if t.target != 0}
    assert sent == sum(1 for e in first if e.target != 0)


def test_a_stale_h1_feed_in_a_24_7_market_is_refused(tmp_path):
    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars, upto="2023-06-05 09:00", drop={"BBB": "2023-06-05 07:00"})
    st = settings(tmp_path, folder)
    sel = selection_file(tmp_path)
    _, _, _, text = signal(st, sel, tmp_path / "s", now=NOW)  # a dry run reports it
    assert "stale: BBB (last 2023-06-05 07:00)" in text and "AAA (" not in text
    with pytest.raises(DataError) as err:
        signal(st, sel, tmp_path / "s", now=NOW, execute=True, journal=tmp_path / "j.sqlite")
    msg = str(err.value)
    assert msg.startswith("BBB: stale H1 bars") and "2023-06-05 09:00" in msg and "2023-06-05 07:00" in msg
    assert "2 expected bar(s) missing" in msg and not (tmp_path / "j.sqlite").exists()


def test_a_weekend_in_a_24_5_market_is_not_stale(tmp_path):
    week = pd.date_range("2023-05-29 00:00", "2023-06-05 23:00", freq="h")
    stamps = week[week.day_of_week < 5]
    bars = frames(stamps)
    folder = write(tmp_path / "data", bars, upto="2023-06-02 23:00")
    sel = selection_file(tmp_path, asof="2023-06-01")
    sunday = dt.datetime(2023, 6, 4, 15, tzinfo=dt.timezone.utc)
    with serve_standin(folder, intraday_timeframe="H1", now=pd.Timestamp("2023-06-04 15:00")) as (host, port, standin):
        st = mt5_settings(tmp_path, folder, host, port, **{"data.calendar": "24/5"})
        targets, _, executions, text = signal(st, sel, tmp_path / "s", now=sunday, execute=True, journal=tmp_path / "j")
    assert "stale" not in text and executions is not None
    assert {t.session for t in targets} == {dt.datetime(2023, 6, 5, 0)}  # Monday's first bar
    # on Monday once the 00:00 bar has closed, Friday's bars are stale
    fresh = check_fresh_bars(
        {"AAA": ts("2023-06-02 23:00")}, now=ts("2023-06-05 01:30"), tf="H1", calendar="24/5", raise_=False
    )
    assert fresh.stale == {"AAA": ts("2023-06-02 23:00")}
    with pytest.raises(DataError, match="stale H1 bars"):
        fresh.check()


def test_a_bar_in_progress_is_never_traded():
    with pytest.raises(DataError, match="a bar in progress"):
        check_fresh_bars(
            {"AAA": ts("2023-06-05 10:00")}, now=ts("2023-06-05 10:20"), tf="H1", calendar="24/7", allow_stale=True
        )


def test_a_selection_older_than_the_bar_limit_is_refused_by_execute(tmp_path):
    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars, upto="2023-06-05 09:00")
    sel = selection_file(tmp_path)
    with serve_standin(folder, intraday_timeframe="H1", now=pd.Timestamp("2023-06-05 10:20")) as (host, port, standin):
        st = mt5_settings(tmp_path, folder, host, port, **{"live.max_selection_age_bars": 30})
        with pytest.raises(DataError, match=r"34 H1 bar\(s\) old .* over the limit of 30 bars"):
            signal(st, sel, tmp_path / "s", now=NOW, execute=True, journal=tmp_path / "j")
        assert standin.orders_received == []
        _, _, executions, _ = signal(
            st, sel, tmp_path / "s", now=NOW, execute=True, journal=tmp_path / "j", allow_stale=True
        )
    assert executions is not None


def test_a_crash_after_an_order_filled_resumes_without_sending_it_again(tmp_path):
    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars)
    sel = selection_file(tmp_path)
    journal = tmp_path / "j.sqlite"
    with serve_standin(folder, intraday_timeframe="H1", now=pd.Timestamp("2023-06-05 10:20")) as (host, port, standin):
        st = mt5_settings(tmp_path, folder, host, port, **{"data.mt5.retries": 0})
        standin.faults.lose_order_replies(1)  # filled, then the reply is lost: the run stops, outcome unknown
        from volts.core.errors import BrokerError

        with pytest.raises(BrokerError, match="outcome .*unknown"):
            signal(st, sel, tmp_path / "s", now=NOW, execute=True, journal=journal)
        assert len(standin.fills) == 1
        targets, _, executions, _ = signal(st, sel, tmp_path / "s", now=NOW, execute=True, journal=journal)
        held = {p.symbol: (1 if p.type == 0 else -1) for p in standin.positions}
        fills = len(standin.fills)
    want = {t.follower: t.target for t in targets if t.target != 0}
    assert held == want and fills == len(want)  # the filled order was not sent twice


def test_paper_trades_one_decision_per_bar_at_the_next_open(tmp_path):
    import sqlite3

    from volts.live.paper_intraday import run_paper_intraday

    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars)
    sel = selection_file(tmp_path, asof="2023-06-02")
    res = run_paper_intraday(
        settings(tmp_path, folder), selections=[sel], start="2023-06-03", end="2023-06-03", out=tmp_path / "out"
    )
    day = pd.date_range("2023-06-03 00:00", "2023-06-03 23:00", freq="h")
    assert list(res.equity["date"]) == list(day)  # one row per completed bar
    pos = res.positions.assign(sign=np.sign(res.positions["shares"]).astype(int))
    for p in PAIRS:
        pair = f"{p['leader']}->{p['follower']}"
        want = follower_positions(bars[p["leader"]]["Close"], lag=p["lag"])
        got = pos[pos["pair"] == pair].set_index("date")["sign"]
        for c in day[1:]:  # held during bar c: decided at the close of the bar before
            assert int(got.get(c, 0)) == int(want[c]), (pair, c)
    # every fill is at the open of the bar the decision was for (the bar after the decision bar)
    rows = (
        sqlite3.connect(res.journal)
        .execute("SELECT session, pair, payload FROM events WHERE kind = 'result'")
        .fetchall()
    )
    fills = [(s, pr, json.loads(x)) for s, pr, x in rows if json.loads(x).get("status") == "done"]
    assert fills
    for session, pair, result in fills:
        follower = pair.split("->")[1]
        assert result["price"] == bars[follower].loc[pd.Timestamp(session), "Open"]


def _config(tmp_path: Path, folder: Path, timeframe: str = "H1") -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        "\n".join(
            [
                "[data]",
                f'dir = "{folder}"',
                f"universe = {json.dumps(list(SYMBOLS))}",
                f'timeframe = "{timeframe}"',
                'calendar = "24/7"',
                "[live]",
                f'lock_dir = "{tmp_path / "locks"}"',
            ]
        )
        + "\n"
    )
    return cfg


def test_cli_signal_and_paper_run_on_h1_bars(tmp_path, capsys):
    from volts.cli import main

    bars = frames(STAMPS_247)
    folder = write(tmp_path / "data", bars)
    cfg = _config(tmp_path, folder)
    sel = selection_file(tmp_path, asof="2023-06-02")
    rc = main(
        [
            "signal",
            "--config",
            str(cfg),
            "--selection",
            str(sel),
            "--asof",
            "2023-06-04T12:00",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    data = json.loads((tmp_path / "s" / "2023-06-04T1200.json").read_text())
    assert {t["pair"]: t["target"] for t in data["targets"]} == oracle(bars, "2023-06-04 12:00")
    rc = main(["signal", "--config", str(cfg), "--selection", str(sel), "--asof", "noon", "--out", str(tmp_path)])
    assert rc == 2 and "--asof" in capsys.readouterr().err
    rc = main(
        [
            "paper",
            "--config",
            str(cfg),
            "--selection",
            str(sel),
            "--start",
            "2023-06-03",
            "--end",
            "2023-06-03",
            "--out",
            str(tmp_path / "paper"),
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert len(pd.read_csv(tmp_path / "paper" / "paper_equity.csv")) == 24
    # daily bars re-select through the walk-forward's code: --selection is refused there
    d1 = _config(tmp_path / "d1", folder, "D1") if (tmp_path / "d1").mkdir() is None else None
    rc = main(
        [
            "paper",
            "--config",
            str(d1),
            "--selection",
            str(sel),
            "--start",
            "2023-06-03",
            "--end",
            "2023-06-03",
            "--out",
            str(tmp_path / "p1"),
        ]
    )
    assert rc == 2 and "--selection is for intraday bars" in capsys.readouterr().err


def test_stand_in_fills_a_large_volume_in_fine_steps(tmp_path):
    from volts.testing.mt5_standin import StandInTerminal

    folder = write(tmp_path / "data", frames(STAMPS_247))
    term = StandInTerminal(
        folder, intraday_timeframe="H1", now="2023-06-05 10:20", volume_min=1e-6, volume_step=1e-6, volume_max=1e12
    )
    assert term.initialize() and term.symbol_select("BBB")
    volume = 39306.353797  # an FX sleeve at price 1.27 in steps of 1e-6: 3.9e10 steps, not exact in binary
    request = {
        "action": term.TRADE_ACTION_DEAL,
        "symbol": "BBB",
        "volume": volume,
        "type": term.ORDER_TYPE_BUY,
        "price": 1.0,
        "deviation": 20,
        "magic": 1,
        "comment": "x",
        "type_time": term.ORDER_TIME_GTC,
        "type_filling": term.ORDER_FILLING_FOK,
    }
    result = term.order_send(request)
    assert result.retcode == term.TRADE_RETCODE_DONE and result.volume == volume
    # the fill is at the last complete bar's close (the 09:00 bar), not the bar in progress
    # (exact: the CSV holds each float's shortest repr, which reads back to the same double)
    assert result.price == frames(STAMPS_247)["BBB"].loc[ts("2023-06-05 09:00"), "Close"]


def test_bars_calendar_expects_the_hours_the_data_trade():
    days = pd.bdate_range("2023-05-15", "2023-06-02")  # three weeks of weekdays, 08:00 .. 15:00 bars
    present = pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in days for h in range(8, 16)])
    # on Saturday, Friday's last bar; on the next Monday at 12:20, Monday's 11:00 bar (a day after the data)
    assert expected_last_bar(ts("2023-06-03 12:00"), "H1", "bars", present=present) == ts("2023-06-02 15:00")
    assert expected_last_bar(ts("2023-06-05 12:20"), "H1", "bars", present=present) == ts("2023-06-05 11:00")
    assert next_bar_open(ts("2023-06-02 15:00"), "H1", "bars", present=present) == ts("2023-06-05 08:00")
    fresh = check_fresh_bars(
        {"IDX": ts("2023-06-02 15:00")},
        now=ts("2023-06-05 12:20"),
        tf="H1",
        calendar="bars",
        present=present,
        raise_=False,
    )
    assert fresh.stale and fresh.missing_bars(ts("2023-06-02 15:00")) == 4  # 08:00 .. 11:00 on Monday


@pytest.mark.parametrize("bar", [None, "H4"])
def test_a_selection_made_on_another_bar_size_is_refused(tmp_path, bar):
    # its lags count its own bars: 3 lags of a daily or H4 selection are not 3 hours
    folder = write(tmp_path / "data", frames(STAMPS_247), upto="2023-06-05 10:00")
    with pytest.raises(ArtifactError, match=f"made on {bar or 'D1'} bars, but \\[data\\] timeframe = 'H1'"):
        signal(settings(tmp_path, folder), selection_file(tmp_path, bar=bar), tmp_path / "s", now=NOW)
