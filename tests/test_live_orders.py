"""Issue 14, "Live orders (money)": one test per kind of fault, each failing on the code before its fix.

Kinds: concurrent --execute runs, partial fills (volumes reconciled), a future-dated bar, a short warm-up, stale
data, sessions past the data (exchange calendar), symbols that are paths, one pair validation for signal and
backtest, a lost IPC session, a terminal killed during order_send.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from volts.cli import main
from volts.data.mt5 import Mt5Terminal
from volts.core.errors import BrokerError, ConfigError, DataError
from volts.live.orders import Journal, Target, compute_targets, execute_targets
from volts.testing.mt5_standin import POSITION_TYPE_BUY, SYMBOL_FILLING_IOC, Faults, StandInTerminal
from volts.testing.mt5_server import serve_standin

PAIRS = [
    {"leader": "MU", "follower": "QCOM", "lag": 2},
    {"leader": "META", "follower": "TSLA", "lag": 1},
    {"leader": "TSLA", "follower": "AMZN", "lag": 5},
]
SYMBOLS = ["MU", "QCOM", "META", "TSLA", "AMZN"]
ASOF = "2023-08-11"
MAGIC = 777
NOW = dt.datetime(2023, 8, 11, 22, 0, tzinfo=dt.timezone.utc)  # after the close of Friday 2023-08-11


def no_sleep(_):
    pass


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    run = tmp_path / "cwd"
    run.mkdir()
    monkeypatch.chdir(run)
    for var in ("VOLTS_MT5_LOGIN", "VOLTS_MT5_PASSWORD", "VOLTS_MT5_SERVER"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def market(ref_data_dir):
    from volts.data.csv import load_csv_market

    return load_csv_market(ref_data_dir, symbols=SYMBOLS, start="2023-01-03", end="2023-08-31")


def write_selection(path: Path, pairs=PAIRS, asof="2023-06-08") -> Path:
    universe = sorted({s for p in pairs for s in (p["leader"], p["follower"]) if isinstance(s, str)})
    path.write_text(
        json.dumps(
            {
                "asof": asof,
                "train": {"start": "2022-11-01", "end": asof},
                "universe": universe,
                "anomalies": [],
                "volatility_clusters": {},
                "candidates": [],
                "granger": {"lag": 45, "tests": []},
                "pairs": pairs,
                "volts_version": "test",
                "config_sha256": "0" * 64,
                "data_sha256": "0" * 64,
            }
        )
    )
    return path


def write_config(tmp_path, host, port, **extra) -> Path:
    lines = [
        "[data]",
        'source = "mt5"',
        "[data.mt5]",
        'bridge = "mt5linux"',
        f'host = "{host}"',
        f"port = {port}",
        "backoff_seconds = 0.0",
        f"retries = {extra.pop('retries', 2)}",
    ]
    live = extra.pop("live", {})
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    if live:
        lines += ["[live]"] + [f"{k} = {json.dumps(v)}" for k, v in live.items()]
    cfg = tmp_path / "config-mt5.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def cli(capsys, *args):
    rc = main([*map(str, args)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out, out.err


def error_line(err: str) -> str:
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


def make_target(leader="MU", follower="QCOM", target=1, lag=2):
    return Target(
        leader=leader,
        follower=follower,
        lag=lag,
        asof=dt.date(2023, 8, 11),
        session=dt.date(2023, 8, 14),
        target=target,
        signal_date=dt.date(2023, 8, 10),
        leader_close=1.0,
        sma=1.0,
        ma_window=20,
        mode="long_short",
    )


@pytest.fixture
def standin(ref_data_dir):
    return StandInTerminal(ref_data_dir, until=ASOF, filling_mode=SYMBOL_FILLING_IOC, volume_step=0.01, volume_min=0.01)


def run(targets, standin, journal, **kw):
    term = Mt5Terminal.from_api(standin, sleep=no_sleep, retries=kw.pop("retries", 3))
    kw.setdefault("magic", MAGIC)
    kw.setdefault("now", NOW)
    return execute_targets(targets, term, journal, **kw)


# ------------------------------------------------------------------------------ 1. two --execute at once
@pytest.mark.slow
def test_two_executes_started_together_send_one_order_per_pair(tmp_path, ref_data_dir, market):
    """Two processes, a slow order_send (1 s): without the journal lock both read "no position" and both send."""
    selection = write_selection(tmp_path / "selection.json")
    journal = tmp_path / "journal.sqlite"
    want = {t.follower: t.target for t in compute_targets(PAIRS, market, asof=ASOF)}
    import volts

    root = str(Path(volts.__file__).resolve().parents[1])  # the children run the same source tree
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    with serve_standin(ref_data_dir, until=ASOF, faults=Faults().slow_orders(1.0)) as (host, port, standin):
        cfg = write_config(tmp_path, host, port, live={"lock_timeout_seconds": 120})
        args = [
            sys.executable,
            "-m",
            "volts",
            "signal",
            "--selection",
            str(selection),
            "--config",
            str(cfg),
            "--asof",
            ASOF,
            "--execute",
            "--yes",
            "--allow-stale",
            "--journal",
            str(journal),
        ]
        procs = [
            subprocess.Popen(
                args + ["--out", str(tmp_path / f"s{k}")],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in (1, 2)
        ]
        outs = [p.communicate(timeout=150) for p in procs]
        fills = list(standin.fills)
        positions = standin.positions
    assert [p.returncode for p in procs] == [0, 0], outs
    nonzero = {f: t for f, t in want.items() if t != 0}
    assert len(fills) == len(nonzero)  # one order per pair in all, not one per process
    assert sorted((p.symbol, p.type) for p in positions) == sorted((f, 0 if t > 0 else 1) for f, t in nonzero.items())
    assert sum("skip" in out for out, _ in outs) == 1  # the run that waited found the pairs complete


# ------------------------------------------------------------------------------ 2. partial fill: only the rest
def test_run_after_a_partial_fill_sends_only_the_difference(standin, tmp_path):
    standin.faults.partial_fills(1, fraction=0.5)
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        with pytest.raises(BrokerError, match=r"MU->QCOM: open order for QCOM filled 2 of 4 lots \(retcode 10010"):
            run([make_target(target=1)], standin, j, volume_per_pair=4.0)
    assert [o["volume"] for o in standin.orders_received] == [4.0]
    with Journal(path) as j:  # the next run: the position holds 2 of the 4 lots planned for the session
        (rep,) = run([make_target(target=1)], standin, j, volume_per_pair=4.0)
    assert rep.action == "adjust"
    assert [o["volume"] for o in standin.orders_received] == [4.0, 2.0]
    assert sum(p.volume for p in standin.positions if p.type == POSITION_TYPE_BUY) == 4.0
    with Journal(path) as j:  # complete now
        assert [r.action for r in run([make_target(target=1)], standin, j, volume_per_pair=4.0)] == ["skip"]
    assert len(standin.orders_received) == 2


def test_volume_is_reconciled_not_only_the_sign(standin, tmp_path):
    """A short of 10 lots where the pair wants 5: the excess is closed (before, same sign meant "none")."""
    ticket = standin.open_position("QCOM", type=1, volume=10.0, magic=MAGIC)
    with Journal(tmp_path / "j.sqlite") as j:
        j.record(
            "decision", {"action": "open", "target": -1, "volume": 5.0}, pair="MU->QCOM", session="2023-08-11"
        )  # the plan under which the short was opened
        (rep,) = run([make_target(target=-1)], standin, j)
    assert rep.action == "adjust"
    (order,) = standin.orders_received
    assert (order["position"], order["volume"], order["type"]) == (ticket, 5.0, 0)
    assert [(p.type, p.volume) for p in standin.positions] == [(1, 5.0)]


# ------------------------------------------------------------------------------ 3. a bar dated after today
@pytest.mark.slow
def test_future_dated_bar_is_rejected_in_validation(tmp_path, ref_data_dir, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for sym in SYMBOLS:  # the last row again, dated 2099-12-31: plausible prices, only the date is wrong
        lines = (ref_data_dir / f"{sym}.csv").read_text().rstrip("\n").split("\n")
        (data / f"{sym}.csv").write_text("\n".join(lines + ["2099-12-31" + lines[-1][10:]]) + "\n")
    selection = write_selection(tmp_path / "selection.json")
    rc, out, err = cli(capsys, "signal", "--selection", selection, "--data-dir", data, "--out", tmp_path / "s")
    assert rc == 3
    assert "2099-12-31: future_date:" in error_line(err) and "data.on_invalid" in error_line(err)
    assert not (tmp_path / "s").exists()
    rc, out, err = cli(capsys, "data", "check", data)
    assert rc == 3 and "future_date" in out + err


# ------------------------------------------------------------------------------ 4. short warm-up
def test_signal_with_a_short_warm_up_is_refused_not_flat(market):
    short = market.slice("2023-08-01", ASOF)  # 9 bars: MU->QCOM needs 20 + 2 - 1 = 21
    with pytest.raises(
        DataError,
        match=r"MU->QCOM: lag 2 with ma_window 20 needs 21 leader bars up to "
        r"2023-08-11; the data hold 9",
    ):
        compute_targets(PAIRS[:1], short)
    enough = market.slice("2023-07-13", ASOF)  # exactly 21 bars: defined
    assert compute_targets(PAIRS[:1], enough)[0].signal_date == dt.date(2023, 8, 10)


# ------------------------------------------------------------------------------ 5. stale data
def test_stale_data_with_execute_is_refused_unless_allowed(tmp_path, ref_data_dir):
    from rich.console import Console

    from volts.commands.signal import run_signal
    from volts.core.config import DataSettings, Mt5Settings, Settings

    selection = write_selection(tmp_path / "selection.json")
    later = dt.datetime(2023, 8, 16, 21, 0, tzinfo=dt.timezone.utc)  # Wednesday: 2023-08-14..16 have closed
    with serve_standin(ref_data_dir, until=ASOF) as (host, port, standin):
        settings = Settings(
            data=DataSettings(source="mt5", mt5=Mt5Settings(bridge="mt5linux", host=host, port=port, backoff_seconds=0))
        )
        asked = []
        kw = dict(
            asof=None,
            execute=True,
            confirm=lambda t: asked.append(1) or True,
            journal_path=tmp_path / "j.sqlite",
            console=Console(file=open(os.devnull, "w")),
        )
        with pytest.raises(
            DataError,
            match=r"stale data: the last close used is 2023-08-11, but XNYS has closed "
            r"2023-08-16 since.*--allow-stale",
        ):
            run_signal(settings, selection, out=tmp_path / "s", now=later, **kw)
        assert asked == [] and standin.orders_received == []
        _, _, executions = run_signal(settings, selection, out=tmp_path / "s2", now=later, allow_stale=True, **kw)
        assert asked == [1] and len(standin.orders_received) == sum(e.target != 0 for e in executions)
    with pytest.raises(DataError, match="not final"):  # Friday 15:00 New York: the bar of 2023-08-11 is forming
        from volts.live.orders import check_fresh

        check_fresh([make_target()], now=dt.datetime(2023, 8, 11, 19, 0), allow_stale=True)


# ------------------------------------------------------------------------------ 6. sessions past the data
def test_sessions_past_the_data_follow_the_exchange_calendar(market):
    from volts.data.calendar import next_session

    # known answers: Juneteenth (Monday 2023-06-19) and Independence Day (Tuesday 2023-07-04) are NYSE holidays
    assert next_session("2023-06-16") == dt.date(2023, 6, 20)
    assert next_session("2023-07-03") == dt.date(2023, 7, 5)
    for last, session in (("2023-06-16", dt.date(2023, 6, 20)), ("2023-07-03", dt.date(2023, 7, 5))):
        cut = market.slice(None, last)  # the data end there: the session comes from the calendar
        assert compute_targets(PAIRS[:1], cut)[0].session == session


def test_exchange_calendar_matches_the_reference_data_sessions(ref_data_dir):
    """Independent check: Yahoo's AAPL file holds one row per NYSE session, 2000-01-03 .. 2024-03-08 (special
    closures included: 2001-09-11..14, 2004-06-11, 2007-01-02, 2012-10-29/30, 2018-12-05)."""
    from volts.data.calendar import is_session, sessions

    dates = pd.DatetimeIndex(pd.read_csv(ref_data_dir / "AAPL.csv", usecols=["Date"])["Date"])
    assert sessions(dates[0], dates[-1]).equals(pd.DatetimeIndex(dates, name="date"))
    assert is_session(dates).all() and not is_session(["2023-06-19", "2023-07-04", "2023-07-08"]).any()


# ------------------------------------------------------------------------------ 7. symbols that are paths
@pytest.mark.slow
def test_symbol_that_is_a_path_is_refused_everywhere(tmp_path, ref_data_dir, capsys):
    from volts.core.config import parse_settings
    from volts.data.csv import symbol_file
    from volts.core.symbols import check_symbol

    data = tmp_path / "data"
    data.mkdir()
    for sym in SYMBOLS:
        os.symlink(ref_data_dir / f"{sym}.csv", data / f"{sym}.csv")
    other = tmp_path / "d" / "other"
    other.mkdir(parents=True)
    shutil.copy(ref_data_dir / "MU.csv", other / "MU.csv")  # the file the path would reach
    bad = "../d/other/MU"
    selection = write_selection(tmp_path / "selection.json", [{"leader": bad, "follower": "QCOM", "lag": 2}])
    rc, _, err = cli(
        capsys, "signal", "--selection", selection, "--data-dir", data, "--asof", ASOF, "--out", tmp_path / "s"
    )
    assert rc == 2
    assert f"pairs[0].leader: '{bad}' is not a valid symbol" in error_line(err)
    assert not (tmp_path / "s").exists()
    with pytest.raises(ConfigError, match=r"data.universe\[1\]: '\.\./d/other/MU' is not a valid symbol"):
        parse_settings({"data": {"universe": ["MU", bad]}})
    with pytest.raises(ConfigError, match="not a valid symbol"):
        symbol_file(data, bad)
    for good in ("BRK.B", "BF.B", "ES=F", "^GSPC", "RDS-A", "MU"):
        assert check_symbol(good, "t") == good
    for wrong in ("", "..", "A/B", "A\\B", "A B", ".MU", "MU\n", "x" * 33, 5, None):
        with pytest.raises(ConfigError):
            check_symbol(wrong, "t")


# ------------------------------------------------------------------------------ 8. one pair validation
@pytest.mark.slow
@pytest.mark.parametrize(
    "pair, code, message",
    [
        ({"leader": "MU", "follower": "MU", "lag": 2}, 2, "MU->MU: the leader is its own follower"),
        ({"leader": "MU", "follower": "QCOM", "lag": 100000}, 3, "MU->QCOM: lag 100000 with ma_window 20 needs"),
    ],
)
def test_signal_and_backtest_validate_a_pair_alike(tmp_path, ref_data_dir, capsys, pair, code, message):
    selection = write_selection(tmp_path / "selection.json", [pair])
    rc, _, err = cli(
        capsys, "signal", "--selection", selection, "--data-dir", ref_data_dir, "--asof", ASOF, "--out", tmp_path / "s"
    )
    assert rc == code and message in error_line(err)
    rc, _, err = cli(capsys, "backtest", "--selection", selection, "--data-dir", ref_data_dir, "--out", tmp_path / "b")
    assert rc == code and message in error_line(err)


# ------------------------------------------------------------------------------ 9. lost IPC session
def test_lost_ipc_session_is_reinitialised_on_retry(standin, tmp_path):
    standin.faults.lose_ipc(function="positions_get")  # -10003 until initialize() runs again
    with Journal(tmp_path / "j.sqlite") as j:
        (rep,) = run([make_target(target=1)], standin, j)
    assert rep.action == "open" and len(standin.fills) == 1
    assert standin.calls["initialize"] == 2  # the first connection, then the re-initialisation


# ------------------------------------------------------------------------------ 10. terminal killed in order_send
@pytest.mark.slow
def test_terminal_killed_during_order_send_says_outcome_unknown_and_where(tmp_path, ref_data_dir, capsys):
    selection = write_selection(tmp_path / "selection.json")
    journal = tmp_path / "journal.sqlite"
    with serve_standin(ref_data_dir, until=ASOF, faults=Faults().kill_during_order_send()) as (host, port, standin):
        cfg = write_config(tmp_path, host, port)
        rc, out, err = cli(
            capsys,
            "signal",
            "--selection",
            selection,
            "--config",
            cfg,
            "--asof",
            ASOF,
            "--execute",
            "--yes",
            "--allow-stale",
            "--journal",
            journal,
            "--out",
            tmp_path / "s",
        )
        fills = list(standin.fills)
    assert rc == 4 and len(fills) == 1
    line = error_line(err)
    assert "outcome is unknown" in line and f"journal {journal}" in line
    row = int(line.split("request row id ")[1].split(" ")[0])
    kind, payload = sqlite3.connect(journal).execute("SELECT kind, payload FROM events WHERE id = ?", (row,)).fetchone()
    assert kind == "request" and json.loads(payload)["request"]["symbol"] == fills[0]["symbol"]
