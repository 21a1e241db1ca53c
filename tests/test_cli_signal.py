"""``volts signal``: dry runs from CSV or MT5, --execute through mt5linux to the stand-in, exit codes, no leaks."""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from volts.cli import main
from volts.data.csv import load_csv_market
from volts.trading.signals import follower_positions
from volts.testing.mt5_standin import Faults
from volts.testing.mt5_server import serve_standin

PAIRS = [
    {"leader": "MU", "follower": "QCOM", "lag": 2},
    {"leader": "META", "follower": "TSLA", "lag": 1},
    {"leader": "TSLA", "follower": "AMZN", "lag": 5},
]
ASOF = "2023-08-11"
PASSWORD = "Zq9-very-secret-pw"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    run = tmp_path / "cwd"
    run.mkdir()
    monkeypatch.chdir(run)  # no ./config.toml is picked up; relative outputs land here
    for var in ("VOLTS_MT5_LOGIN", "VOLTS_MT5_PASSWORD", "VOLTS_MT5_SERVER"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def selection(tmp_path) -> Path:
    path = tmp_path / "selection.json"
    path.write_text(
        json.dumps(
            {
                "asof": "2023-06-08",
                "train": {"start": "2022-11-01", "end": "2023-06-08"},
                "universe": ["MU", "QCOM", "META", "TSLA", "AMZN"],
                "anomalies": [],
                "volatility_clusters": {},
                "candidates": [],
                "granger": {"lag": 45, "tests": []},
                "pairs": PAIRS,
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
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    cfg = tmp_path / "config-mt5.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def cli(capsys, *args):
    rc = main(["signal", *map(str, args)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out, out.err


def one_error_line(err: str) -> str:
    """The one error line; other stderr lines may only be warnings (e.g. stale data from an old test window)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and all(ln.startswith(("error: ", "warning: ")) for ln in lines), err
    return errors[0]


def expected_targets(ref_data_dir):
    market = load_csv_market(
        ref_data_dir, symbols=["MU", "QCOM", "META", "TSLA", "AMZN"], start="2023-01-03", end="2023-08-31"
    )
    session = market.dates[market.dates > ASOF][0]  # 2023-08-14
    return {p["follower"]: int(follower_positions(market.close[p["leader"]], lag=p["lag"])[session]) for p in PAIRS}


@pytest.mark.slow
def test_dry_run_from_csv(capsys, tmp_path, ref_data_dir, selection):
    out_dir = tmp_path / "sig"
    rc, out, err = cli(capsys, "--selection", selection, "--data-dir", ref_data_dir, "--asof", ASOF, "--out", out_dir)
    assert rc == 0, err
    data = json.loads((out_dir / f"{ASOF}.json").read_text())
    assert data["asof"] == ASOF and data["session"] == "2023-08-14" and data["source"] == "csv"
    assert {d["follower"]: d["target"] for d in data["targets"]} == expected_targets(ref_data_dir)
    for pair in ("MU->QCOM", "META->TSLA", "TSLA->AMZN"):
        assert pair in out
    assert "dry run: no order sent" in out


@pytest.mark.slow
def test_default_asof_is_the_last_bar(capsys, tmp_path, ref_data_dir, selection):
    rc, out, err = cli(capsys, "--selection", selection, "--data-dir", ref_data_dir, "--out", tmp_path / "s")
    assert rc == 0, err
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["2024-03-08.json"]  # the reference data's last day


@pytest.mark.slow
def test_dry_run_from_mt5_equals_csv(capsys, tmp_path, ref_data_dir, selection):
    rc, _, err = cli(
        capsys, "--selection", selection, "--data-dir", ref_data_dir, "--asof", ASOF, "--out", tmp_path / "csv"
    )
    assert rc == 0, err
    with serve_standin(ref_data_dir, symbol_format="{symbol}.US") as (host, port, standin):
        cfg = write_config(tmp_path, host, port, symbol_suffix=".US")
        rc, out, err = cli(capsys, "--selection", selection, "--config", cfg, "--asof", ASOF, "--out", tmp_path / "mt5")
    assert rc == 0, err
    csv = json.loads((tmp_path / "csv" / f"{ASOF}.json").read_text())
    mt5 = json.loads((tmp_path / "mt5" / f"{ASOF}.json").read_text())
    assert mt5["targets"] == csv["targets"] and mt5["data_sha256"] == csv["data_sha256"]
    assert standin.orders_received == []  # a dry run sends nothing


def test_execute_needs_yes_without_a_terminal(capsys, tmp_path, ref_data_dir, selection):
    with serve_standin(ref_data_dir) as (host, port, standin):
        cfg = write_config(tmp_path, host, port)
        rc, _, err = cli(
            capsys, "--selection", selection, "--config", cfg, "--asof", ASOF, "--execute", "--out", tmp_path / "s"
        )
    assert rc == 2 and "--yes" in one_error_line(err)
    assert standin.orders_received == [] and not (tmp_path / "s").exists()


@pytest.mark.slow
def test_execute_twice_sends_orders_once(capsys, tmp_path, ref_data_dir, selection, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VOLTS_MT5_LOGIN", "31337")
    monkeypatch.setenv("VOLTS_MT5_PASSWORD", PASSWORD)
    journal = tmp_path / "journal.sqlite"
    with serve_standin(ref_data_dir, until=ASOF, login=31337, password=PASSWORD) as (host, port, standin):
        cfg = write_config(tmp_path, host, port)
        args = [
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
        ]
        rc, out1, err1 = cli(capsys, *args)
        assert rc == 0, err1
        sent = len(standin.orders_received)
        rc, out2, err2 = cli(capsys, *args)
        assert rc == 0, err2
        positions = {p.symbol: p.type for p in standin.positions}
    expected = expected_targets(ref_data_dir)
    assert sent == sum(1 for v in expected.values() if v != 0) and len(standin.orders_received) == sent
    assert positions == {f: (0 if v > 0 else 1) for f, v in expected.items() if v != 0}
    assert "skip" in out2
    # the password appears nowhere: output, logs, signals file, journal (main file and WAL)
    texts = [out1, err1, out2, err2, caplog.text, (tmp_path / "s" / f"{ASOF}.json").read_text()]
    assert all(PASSWORD not in t for t in texts)
    for f in tmp_path.glob("journal.sqlite*"):
        assert PASSWORD.encode() not in f.read_bytes()


FAULTS = {
    "initialize fails": lambda f: f.initialize_fails(100),
    "connection drops": lambda f: f.fail_next(100, function="copy_rates_range", kind="drop"),
    "None with an error code": lambda f: f.fail_next(
        100, function="symbol_info", kind="none", error=(-10005, "IPC timeout")
    ),
    "missing symbol": lambda f: f.hide_symbol("QCOM"),
    "partial history": lambda f: f.hide_bars("TSLA", end="2023-07-20"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAULTS))
def test_faults_exit_4_with_one_line_and_no_file(capsys, tmp_path, ref_data_dir, selection, name):
    faults = Faults()
    FAULTS[name](faults)
    journal = tmp_path / "journal.sqlite"
    with serve_standin(ref_data_dir, faults=faults) as (host, port, standin):
        cfg = write_config(tmp_path, host, port)
        rc, out, err = cli(
            capsys,
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
    assert rc == 4
    line = one_error_line(err)
    if name == "missing symbol":
        assert "QCOM: the broker has no symbol 'QCOM'" in line
    elif name == "partial history":
        assert "TSLA (TSLA): partial history" in line
    else:
        assert "after 3 attempt(s)" in line
    assert not (tmp_path / "s").exists() or list((tmp_path / "s").iterdir()) == []  # nothing half-written
    assert standin.orders_received == [] and not journal.exists()  # failed before any order


@pytest.mark.slow
def test_rejected_order_exits_4_after_journaling(capsys, tmp_path, ref_data_dir, selection):
    import sqlite3

    faults = Faults().reject_orders(100, retcode=10006, comment="Request rejected")
    journal = tmp_path / "journal.sqlite"
    with serve_standin(ref_data_dir, until=ASOF, faults=faults) as (host, port, standin):
        cfg = write_config(tmp_path, host, port)
        rc, out, err = cli(
            capsys,
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
    assert rc == 4
    assert "retcode 10006 (Request rejected)" in one_error_line(err)
    rows = sqlite3.connect(journal).execute("SELECT kind, payload FROM events ORDER BY id").fetchall()
    requests = [r for r in rows if r[0] == "request"]
    results = [json.loads(r[1]) for r in rows if r[0] == "result"]
    assert len(requests) == len(standin.orders_received) > 0  # every request reached the journal first
    assert [r["retcode"] for r in results] == [10006] * len(requests)
    assert (tmp_path / "s" / f"{ASOF}.json").is_file()  # the signals are complete; only routing failed


@pytest.mark.slow
def test_connection_drop_while_executing_does_not_double_send(capsys, tmp_path, ref_data_dir, selection):
    faults = Faults().lose_order_replies(1)
    with serve_standin(ref_data_dir, until=ASOF, faults=faults) as (host, port, standin):
        cfg = write_config(tmp_path, host, port)
        rc, out, err = cli(
            capsys,
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
            tmp_path / "j.sqlite",
            "--out",
            tmp_path / "s",
        )
    assert rc == 0, err
    expected = expected_targets(ref_data_dir)
    assert len(standin.fills) == len(standin.orders_received) == sum(1 for v in expected.values() if v != 0)


@pytest.mark.slow
def test_missing_mt5linux_says_what_to_install(capsys, tmp_path, selection, monkeypatch):
    monkeypatch.setitem(sys.modules, "mt5linux", None)
    cfg = write_config(tmp_path, "127.0.0.1", 9)
    rc, _, err = cli(capsys, "--selection", selection, "--config", cfg, "--asof", ASOF)
    assert rc == 2 and "pip install mt5linux==1.0.11" in one_error_line(err)


@pytest.mark.slow
def test_bad_selection_and_options_exit_2(capsys, tmp_path, ref_data_dir):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"asof": "2023-06-08"}))
    rc, _, err = cli(capsys, "--selection", bad, "--data-dir", ref_data_dir)
    assert rc == 2 and "missing field(s)" in one_error_line(err)
    rc, _, err = cli(capsys, "--selection", tmp_path / "none.json", "--data-dir", ref_data_dir)
    assert rc == 2 and "not found" in one_error_line(err)
    rc, _, err = cli(capsys, "--selection", bad, "--source", "synthetic")
    assert rc == 2 and "--source" in one_error_line(err)


@pytest.mark.slow
def test_order_send_failing_for_good_exits_4_and_journals_every_request(capsys, tmp_path, ref_data_dir, selection):
    import sqlite3

    faults = Faults().fail_next(100, function="order_send", kind="drop")
    journal = tmp_path / "journal.sqlite"
    with serve_standin(ref_data_dir, until=ASOF, faults=faults) as (host, port, standin):
        cfg = write_config(tmp_path, host, port, retries=2)
        rc, out, err = cli(
            capsys,
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
    assert rc == 4 and "order_send for QCOM failed 3 time(s)" in one_error_line(err)
    assert standin.fills == [] and standin.orders_received == []
    rows = sqlite3.connect(journal).execute("SELECT kind, payload FROM events ORDER BY id").fetchall()
    uids = [json.loads(p)["request_uid"] for k, p in rows if k == "request"]
    answered = [json.loads(p).get("request_uid") for k, p in rows if k == "error"]
    assert len(uids) == 3 and set(uids) <= set(answered)  # no request without its outcome


def test_declined_confirmation_sends_nothing(tmp_path, ref_data_dir, selection):
    import typer
    from rich.console import Console

    from volts.commands.signal import run_signal
    from volts.core.config import DataSettings, Mt5Settings, Settings

    fresh = json.loads(selection.read_text())
    selection.write_text(json.dumps({**fresh, "asof": "2023-08-04"}))  # a week old: within the age limit
    with serve_standin(ref_data_dir, until=ASOF) as (host, port, standin):
        settings = Settings(
            data=DataSettings(source="mt5", mt5=Mt5Settings(bridge="mt5linux", host=host, port=port, backoff_seconds=0))
        )
        asked = []
        with pytest.raises(typer.Exit) as stop:
            run_signal(
                settings,
                selection,
                asof=None,
                out=tmp_path / "s",
                execute=True,
                confirm=lambda targets: asked.append(len(targets)) or False,
                journal_path=tmp_path / "j.sqlite",
                console=Console(file=open(os.devnull, "w")),
                now=datetime.datetime(2023, 8, 11, 21, 0),
            )
    assert stop.value.exit_code == 1 and asked == [3]
    assert standin.orders_received == [] and not (tmp_path / "j.sqlite").exists()
    assert [p.name for p in (tmp_path / "s").iterdir()] == [f"{ASOF}.json"]  # the default asof: last bar
