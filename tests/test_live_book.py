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
from volts.live import compute_targets
from volts.testing.mt5_standin import POSITION_TYPE_BUY, Faults, serve_standin

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
    path.write_text(json.dumps({
        "asof": asof, "train": {"start": "2022-11-01", "end": asof}, "universe": universe, "anomalies": [],
        "volatility_clusters": {}, "candidates": [], "granger": {"lag": 45, "tests": []}, "pairs": pairs,
        "volts_version": "test", "config_sha256": "0" * 64, "data_sha256": "0" * 64}))
    return path


def write_config(path: Path, host, port, journal="journal.sqlite", **live) -> Path:
    lines = ['[data]', 'source = "mt5"', '[data.mt5]', 'bridge = "mt5linux"', f'host = "{host}"', f'port = {port}',
             'backoff_seconds = 0.0', 'retries = 2', '[live]', f'journal = "{journal}"']
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
    market = load_csv_market(ref_data_dir, symbols=sorted({s for p in pairs for s in (p["leader"], p["follower"])}),
                             start="2023-01-03", end="2023-08-31")
    return {t.pair: t for t in compute_targets(pairs, market, asof=asof)}


FIRST = [{"leader": "TSLA", "follower": "AMZN", "lag": 5}, {"leader": "MU", "follower": "QCOM", "lag": 2}]
SECOND = [{"leader": "META", "follower": "TSLA", "lag": 1}]


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
    from volts.config import load_settings

    cfg = write_config(tmp_path / "acct" / "config.toml", "127.0.0.1", 1, journal="books/j.sqlite",
                       lock_dir="locks")
    settings = load_settings(cfg)
    assert settings.live.journal == str((tmp_path / "acct" / "books" / "j.sqlite").resolve())
    assert settings.live.lock_dir == str((tmp_path / "acct" / "locks").resolve())


def test_stale_selection_is_refused_by_execute_and_its_age_printed(capsys, tmp_path, ref_data_dir):
    pairs = [{"leader": "MU", "follower": "QCOM", "lag": 2}]
    with serve_standin(ref_data_dir, until="2023-08-11") as (host, port, standin):
        cfg = write_config(tmp_path / "config.toml", host, port)
        old = write_selection(tmp_path / "old.json", pairs, "2023-07-31")  # 9 sessions before 2023-08-11
        rc, out, err = signal(capsys, "--selection", old, "--config", cfg, "--asof", "2023-08-11",
                              "--out", tmp_path / "s")
        assert rc == 0 and "selection as of 2023-07-31: 9 session(s) old" in out, err
        # --execute refuses it (exit 3); the data staleness alone is allowed here by the clock passed in
        from rich.console import Console

        from volts.commands.signal import run_signal
        from volts.config import load_settings
        from volts.errors import DataError
        import datetime as dt

        quiet = Console(file=open(os.devnull, "w"))
        now = dt.datetime(2023, 8, 11, 22, 0, tzinfo=dt.timezone.utc)
        with pytest.raises(DataError, match=r"selection as of 2023-07-31 is 9 session\(s\) old at the close of "
                                            r"2023-08-11, over live.max_selection_age_sessions = 7"):
            run_signal(load_settings(cfg), old, asof=None, out=tmp_path / "s", execute=True,
                       confirm=lambda t: True, journal_path=None, console=quiet, now=now)
        assert standin.orders_received == []
        ok = write_selection(tmp_path / "ok.json", pairs, "2023-08-02")  # 7 sessions: within the limit
        run_signal(load_settings(cfg), ok, asof=None, out=tmp_path / "s", execute=True, confirm=lambda t: True,
                   journal_path=None, console=quiet, now=now)
        assert len(standin.orders_received) == 1
