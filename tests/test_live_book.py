"""The live book follows the selection: departed pairs are closed, an empty selection flattens the book (exit 0),
one claim per broker account, a stale selection is refused. Through the CLI against the stand-in terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from volts.cli import main
from volts.data.csv import load_csv_market
from volts.live.orders import compute_targets
from volts.testing.mt5_standin import POSITION_TYPE_BUY, Faults
from volts.testing.mt5_server import serve_standin

MAGIC = 20230608


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    run = tmp_path / "cwd"
    run.mkdir()
    monkeypatch.chdir(run)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # account locks of this test only
    for var in ("VOLTS_MT5_LOGIN", "VOLTS_MT5_PASSWORD", "VOLTS_MT5_SERVER", "VOLTS_TEST_KILL_AT"):
        monkeypatch.delenv(var, raising=False)


def write_selection(path: Path, pairs, asof: str) -> Path:
    universe = sorted({s for p in pairs for s in (p["leader"], p["follower"])}) or ["MU"]
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


def write_config(path: Path, host, port, journal="journal.sqlite", **live) -> Path:
    lines = [
        "[data]",
        'source = "mt5"',
        "[data.mt5]",
        'bridge = "mt5linux"',
        f'host = "{host}"',
        f"port = {port}",
        "backoff_seconds = 0.0",
        "retries = 2",
        "[live]",
        f'journal = "{journal}"',
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in live.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def signal(capsys, *args):
    rc = main(["signal", *map(str, args)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out, out.err


def targets_of(ref_data_dir, pairs, asof):
    market = load_csv_market(
        ref_data_dir,
        symbols=sorted({s for p in pairs for s in (p["leader"], p["follower"])}),
        start="2023-01-03",
        end="2023-08-31",
    )
    return {t.pair: t for t in compute_targets(pairs, market, asof=asof)}


FIRST = [{"leader": "TSLA", "follower": "AMZN", "lag": 5}, {"leader": "MU", "follower": "QCOM", "lag": 2}]
SECOND = [{"leader": "META", "follower": "TSLA", "lag": 1}]


@pytest.mark.slow
def test_a_departed_pair_is_closed_and_an_empty_selection_flattens(capsys, tmp_path, ref_data_dir):
    first = targets_of(ref_data_dir, FIRST, "2023-08-10")
    assert all(t.target != 0 for t in first.values())  # both pairs hold a position in the first week
    with serve_standin(ref_data_dir, until="2023-08-10") as (host, port, standin):
        cfg = write_config(tmp_path / "cfg" / "config.toml", host, port)
        common = ["--config", cfg, "--execute", "--yes", "--allow-stale", "--out", tmp_path / "s"]
        sel1 = write_selection(tmp_path / "sel1.json", FIRST, "2023-08-04")
        rc, out, err = signal(capsys, "--selection", sel1, "--asof", "2023-08-10", *common)
        assert rc == 0, err
        assert sorted(p.symbol for p in standin.positions) == ["AMZN", "QCOM"]
        # the next week's selection holds another pair: AMZN and QCOM leave, TSLA enters
        standin.set_until("2023-08-11")
        sel2 = write_selection(tmp_path / "sel2.json", SECOND, "2023-08-11")
        rc, out, err = signal(capsys, "--selection", sel2, "--asof", "2023-08-11", *common)
        assert rc == 0, err
        assert [p.symbol for p in standin.positions] == ["TSLA"]
        closes = [o for o in standin.orders_received if o.get("position")]
        assert sorted(o["symbol"] for o in closes) == ["AMZN", "QCOM"]
        assert all(o["comment"].endswith("c1") and "230814" in o["comment"] for o in closes)
        assert "TSLA->AMZN" in out and "MU->QCOM" in out and "close" in out
        # a week with no pair: flat, everything volts holds is closed, exit 0
        standin.set_until("2023-08-14")
        standin.open_position("MSFT", type=POSITION_TYPE_BUY, volume=3, magic=MAGIC + 1)  # not volts': kept
        sel3 = write_selection(tmp_path / "sel3.json", [], "2023-08-14")
        rc, out, err = signal(capsys, "--selection", sel3, "--asof", "2023-08-14", *common)
        assert rc == 0, err
        assert "flat: the selection holds no pair" in out
        assert [(p.symbol, p.magic) for p in standin.positions] == [("MSFT", MAGIC + 1)]
        sent = len(standin.orders_received)
        rc, out, err = signal(capsys, "--selection", sel3, "--asof", "2023-08-14", *common)  # again: nothing
        assert rc == 0 and len(standin.orders_received) == sent, err
    written = json.loads((tmp_path / "s" / "2023-08-14.json").read_text())
    assert written["targets"] == [] and written["asof"] == "2023-08-14"


def test_relative_journal_is_resolved_against_the_config_file(capsys, tmp_path, ref_data_dir):
    from volts.core.config import load_settings

    cfg = write_config(tmp_path / "acct" / "config.toml", "127.0.0.1", 1, journal="books/j.sqlite", lock_dir="locks")
    settings = load_settings(cfg)
    assert settings.live.journal == str((tmp_path / "acct" / "books" / "j.sqlite").resolve())
    assert settings.live.lock_dir == str((tmp_path / "acct" / "locks").resolve())


@pytest.mark.slow
def test_stale_selection_is_refused_by_execute_and_its_age_printed(capsys, tmp_path, ref_data_dir):
    pairs = [{"leader": "MU", "follower": "QCOM", "lag": 2}]
    with serve_standin(ref_data_dir, until="2023-08-11") as (host, port, standin):
        cfg = write_config(tmp_path / "config.toml", host, port)
        old = write_selection(tmp_path / "old.json", pairs, "2023-07-31")  # 9 sessions before 2023-08-11
        rc, out, err = signal(
            capsys, "--selection", old, "--config", cfg, "--asof", "2023-08-11", "--out", tmp_path / "s"
        )
        assert rc == 0 and "selection as of 2023-07-31: 9 session(s) old" in out, err
        # --execute refuses it (exit 3); the data staleness alone is allowed here by the clock passed in
        from rich.console import Console

        from volts.commands.signal import run_signal
        from volts.core.config import load_settings
        from volts.core.errors import DataError
        import datetime as dt

        quiet = Console(file=open(os.devnull, "w"))
        now = dt.datetime(2023, 8, 11, 22, 0, tzinfo=dt.timezone.utc)
        with pytest.raises(
            DataError,
            match=r"selection as of 2023-07-31 is 9 session\(s\) old at the close of "
            r"2023-08-11, over live.max_selection_age_sessions = 7",
        ):
            run_signal(
                load_settings(cfg),
                old,
                asof=None,
                out=tmp_path / "s",
                execute=True,
                confirm=lambda t: True,
                journal_path=None,
                console=quiet,
                now=now,
            )
        assert standin.orders_received == []
        ok = write_selection(tmp_path / "ok.json", pairs, "2023-08-02")  # 7 sessions: within the limit
        run_signal(
            load_settings(cfg),
            ok,
            asof=None,
            out=tmp_path / "s",
            execute=True,
            confirm=lambda t: True,
            journal_path=None,
            console=quiet,
            now=now,
        )
        assert len(standin.orders_received) == 1


# ------------------------------------------------------------------------------ one claim per account
PAIRS3 = [
    {"leader": "MU", "follower": "QCOM", "lag": 2},
    {"leader": "META", "follower": "TSLA", "lag": 1},
    {"leader": "TSLA", "follower": "AMZN", "lag": 5},
]
ASOF = "2023-08-11"


def _child_env(tmp_path, **extra):
    import volts

    root = str(Path(volts.__file__).resolve().parents[1])  # the children run the same source tree
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
        **extra,
    }
    env.pop("VOLTS_TEST_KILL_AT", None)
    env.update(extra)
    return env


def _reset(standin):
    with standin._lock:
        standin._positions.clear()
        standin._deals.clear()
        standin.fills.clear()
        standin.orders_received.clear()


def _launch(argvs, cwds, env):
    procs, starts = [], []
    for argv, cwd in zip(argvs, cwds):
        starts.append(time.monotonic())
        procs.append(
            subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outs = [p.communicate(timeout=300) for p in procs]
    return procs, outs, starts[-1] - starts[0]


# The suite runs 4 repetitions of each race to stay inside CI's time budget (each repetition starts two
# interpreters); the full trial of the live-book contract is VOLTS_CONCURRENCY_REPEATS=20.
REPEATS = int(os.environ.get("VOLTS_CONCURRENCY_REPEATS", "4"))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["two folders, relative --journal", "two configs naming one account"])
def test_two_runs_started_together_send_one_order_per_leg(tmp_path, ref_data_dir, how):
    want = {t.follower: t.target for t in targets_of(ref_data_dir, PAIRS3, ASOF).values()}
    legs = sum(1 for v in want.values() if v != 0)
    selection = write_selection(tmp_path / "selection.json", PAIRS3, "2023-08-04")
    env = _child_env(tmp_path)
    counts, gaps = [], []
    with serve_standin(ref_data_dir, until=ASOF, faults=Faults().slow_orders(0.3)) as (host, port, standin):
        shared = write_config(tmp_path / "shared" / "config.toml", host, port)
        for rep in range(REPEATS):  # fresh folders (journals) and a fresh account each time
            _reset(standin)
            folders = [tmp_path / f"a{rep}", tmp_path / f"b{rep}"]
            for f in folders:
                f.mkdir()
            if how.startswith("two folders"):  # one config, --journal relative to each working directory
                cfgs, extra = [shared, shared], [["--journal", "journal.sqlite"]] * 2
            else:  # two configs in two folders naming one account, live.journal relative to each
                cfgs = [write_config(f / "config.toml", host, port, journal="journal.sqlite") for f in folders]
                extra = [[], []]
            argvs = [
                [
                    sys.executable,
                    "-m",
                    "volts",
                    "signal",
                    "--selection",
                    str(selection),
                    "--config",
                    str(c),
                    "--asof",
                    ASOF,
                    "--execute",
                    "--yes",
                    "--allow-stale",
                    "--out",
                    "s",
                    *x,
                ]
                for c, x in zip(cfgs, extra)
            ]
            procs, outs, gap = _launch(argvs, folders, env)
            assert [p.returncode for p in procs] == [0, 0], outs
            gaps.append(gap)
            counts.append(len(standin.deals))
            held = sorted((p.symbol, p.type) for p in standin.positions)
            assert held == sorted((f, 0 if t > 0 else 1) for f, t in want.items() if t != 0), (rep, outs)
    print(f"{how}: deals per repetition {counts} (legs {legs}); launch gap max {1000 * max(gaps):.1f} ms")
    assert max(gaps) < 0.05  # the two processes were started within 50 ms of each other
    assert counts == [legs] * REPEATS  # every time exactly one deal per leg


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after_positions_read", "after_order_send", "before_journal_write"])
def test_a_run_killed_at_each_step_is_reconciled_by_the_next(tmp_path, ref_data_dir, point):
    want = {t.follower: t.target for t in targets_of(ref_data_dir, PAIRS3, ASOF).values()}
    legs = sum(1 for v in want.values() if v != 0)
    selection = write_selection(tmp_path / "selection.json", PAIRS3, "2023-08-04")
    with serve_standin(ref_data_dir, until=ASOF) as (host, port, standin):
        cfg = write_config(tmp_path / "acct" / "config.toml", host, port)
        argv = [
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
            "--out",
            "s",
        ]
        killed = subprocess.run(
            argv,
            cwd=tmp_path,
            env=_child_env(tmp_path, VOLTS_TEST_KILL_AT=point),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert killed.returncode == -9, killed.stderr
        sent_by_killed = len(standin.deals)
        assert sent_by_killed == (0 if point == "after_positions_read" else 1)
        again = subprocess.run(
            argv, cwd=tmp_path, env=_child_env(tmp_path), capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, again.stderr
        held = sorted((p.symbol, p.type, p.volume) for p in standin.positions)
        third = subprocess.run(
            argv, cwd=tmp_path, env=_child_env(tmp_path), capture_output=True, text=True, timeout=300
        )
        assert third.returncode == 0, third.stderr
        assert len(standin.deals) == legs  # the killed run's order was never doubled
        assert sorted((p.symbol, p.type, p.volume) for p in standin.positions) == held
    assert sorted((s, t) for s, t, _ in held) == sorted((f, 0 if v > 0 else 1) for f, v in want.items() if v != 0)


# ------------------------------------------------------------------------------ broker-side surprises
def _run(targets, standin, journal, **kw):
    import datetime as dt

    from volts.data.mt5 import Mt5Terminal
    from volts.live.orders import execute_targets

    term = Mt5Terminal.from_api(standin, sleep=lambda _: None, retries=2)
    kw.setdefault("magic", MAGIC)
    kw.setdefault("now", dt.datetime(2023, 8, 11, 22, 0, tzinfo=dt.timezone.utc))
    return execute_targets(targets, term, journal, **kw)


def _target(target=1):
    import datetime as dt

    from volts.live.orders import Target

    return Target(
        leader="MU",
        follower="QCOM",
        lag=2,
        asof=dt.date(2023, 8, 11),
        session=dt.date(2023, 8, 14),
        target=target,
        signal_date=dt.date(2023, 8, 10),
        leader_close=1.0,
        sma=1.0,
        ma_window=20,
        mode="long_short",
    )


def test_position_closed_outside_volts_is_reported_once_and_retargeted(tmp_path, ref_data_dir, caplog):
    from volts.live.orders import Journal
    from volts.testing.mt5_standin import StandInTerminal

    standin = StandInTerminal(ref_data_dir, until=ASOF)
    with Journal(tmp_path / "j.sqlite") as j:
        (first,) = _run([_target(-1)], standin, j, volume_per_pair=5.0)
    assert first.action == "open"
    (pos,) = standin.positions
    standin.close_position(pos.ticket)  # a manual close in the terminal
    with Journal(tmp_path / "j.sqlite") as j:
        (again,) = _run([_target(-1)], standin, j, volume_per_pair=5.0)
        assert again.action == "open" and again.before == 0  # not "skip" with before -1
        (after,) = _run([_target(-1)], standin, j, volume_per_pair=5.0)
        assert after.action == "skip"
        notes = [e for e in j.events(kind="decision") if e["payload"].get("action") == "external_change"]
    assert len(notes) == 1 and "closed or changed outside volts" in notes[0]["payload"]["message"]
    assert sum("not on the account any more" in r.getMessage() for r in caplog.records) == 1
    assert [(p.type, p.volume) for p in standin.positions] == [(1, 5.0)]


def test_journal_failing_after_a_fill_says_the_order_was_filled(tmp_path, ref_data_dir):
    import sqlite3

    from volts.core.errors import ArtifactError
    from volts.live.orders import Journal
    from volts.testing.mt5_standin import StandInTerminal

    class FullDisk(Journal):
        def record(self, kind, payload, **kw):
            if kind == "result" and payload.get("status") == "done":
                raise sqlite3.OperationalError("database or disk is full")
            return super().record(kind, payload, **kw)

    standin = StandInTerminal(ref_data_dir, until=ASOF)
    with FullDisk(tmp_path / "j.sqlite") as j:
        with pytest.raises(
            ArtifactError,
            match=r"MU->QCOM: the open order for QCOM WAS FILLED: 5 lots at "
            r"[0-9.]+, deal \d+.*do not send it again by hand.*reconciles",
        ):
            _run([_target(1)], standin, j, volume_per_pair=5.0)
    with Journal(tmp_path / "j.sqlite") as j:  # the next run reconciles: nothing sent again
        (rep,) = _run([_target(1)], standin, j, volume_per_pair=5.0)
    assert rep.action == "none" and len(standin.deals) == 1


def test_volume_above_the_maximum_lot_is_refused_unless_capped(tmp_path, ref_data_dir):
    from volts.core.errors import UsageError
    from volts.live.orders import Journal
    from volts.testing.mt5_standin import StandInTerminal

    standin = StandInTerminal(ref_data_dir, until=ASOF, volume_max=50.0)
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(UsageError, match=r"gives 80 lots, above the broker's maximum 50 lots.*live.cap_volume"):
            _run([_target(1)], standin, j, volume_per_pair=80.0)
        assert standin.orders_received == []
        (rep,) = _run([_target(1)], standin, j, volume_per_pair=80.0, cap_volume=True)
    assert rep.action == "open" and [p.volume for p in standin.positions] == [50.0]


def test_an_order_pending_at_the_broker_for_the_pair_blocks_a_second_one(tmp_path, ref_data_dir):
    from volts.core.errors import BrokerError
    from volts.live.orders import Journal
    from volts.live.book import client_id
    from volts.testing.mt5_standin import StandInTerminal

    standin = StandInTerminal(ref_data_dir, until=ASOF)
    # an order of this pair for the session sent by another machine, accepted but not filled yet
    ticket = standin.place_pending(
        "QCOM", type=0, volume=5.0, magic=MAGIC, comment=client_id("MU->QCOM", "2023-08-14", "o1")
    )
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(
            BrokerError,
            match=rf"MU->QCOM: an order of this pair for 2023-08-14 is pending at the "
            rf"broker \(ticket {ticket}, 5 lots",
        ):
            _run([_target(1)], standin, j, volume_per_pair=5.0)
    assert standin.orders_received == []
