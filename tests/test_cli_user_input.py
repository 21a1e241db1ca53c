"""User input that used to end in "internal error" (exit 1, a bug): each case goes through the CLI with the exact
input that failed and must give a one-line error with the documented exit code (2: usage, config or artifact)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from volts.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Run from an empty folder so that no ./config.toml is picked up."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


def _volts(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _error(err: str) -> str:
    """The one error line; no traceback, no "internal error"."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert lines and lines[-1].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[-1]


# ------------------------------------------------------------------------------------------ --scheduler
@pytest.mark.parametrize("address, words", [
    ("garbage::", "is not HOST:PORT"),
    ("", "empty"),
    ("http://127.0.0.1:8787", "http://"),
    ("tcp://127.0.0.1", "HOST:PORT"),
    ("tcp://127.0.0.1:99999", "port"),
])
def test_malformed_scheduler_address_is_a_usage_error(capsys, tmp_path, address, words):
    for command in ("select", "walkforward"):
        rc, _, err = _volts(capsys, command, "--scheduler", address, "--source", "synthetic", "--out", tmp_path / "o")
        assert rc == 2, err
        assert words in _error(err) and "tcp://HOST:PORT" in err


class _SilentServer:
    """A loopback TCP server that accepts connections and never writes a byte or, with ``web``, answers whatever
    it receives the way a web server answers a request it cannot parse (an HTTP 400 reply)."""

    REPLY = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nBad Request"

    def __init__(self, web: bool = False) -> None:
        self.web = web
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                conn, _ = self.server.accept()
                self.conns.append(conn)     # held open until close()
                if self.web:
                    threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
        except OSError:
            return

    def _answer(self, conn: socket.socket) -> None:
        try:
            if conn.recv(4096):
                conn.sendall(self.REPLY)
        except OSError:
            return

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.server.close()


@pytest.mark.parametrize("kind", ["silent", "http"])
def test_a_scheduler_address_that_is_not_a_dask_scheduler_is_refused_in_bounded_time(capsys, tmp_path,
                                                                                     monkeypatch, kind):
    """A TCP server that accepts and never answers used to hang for ever (the timeout bounded the connect only);
    an HTTP service gave an internal MemoryError (its reply read as a Dask frame length)."""
    monkeypatch.setenv("VOLTS_SCHEDULER_TIMEOUT", "1.5")
    server = _SilentServer(web=kind == "http")
    done: dict = {}

    def run() -> None:
        done["result"] = _volts(capsys, "select", "--scheduler", f"tcp://127.0.0.1:{server.port}",
                                "--source", "synthetic", "--out", tmp_path / "o")

    try:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(60)  # a bound far above the 1.5 s asked for; a hang is a failure, not a stuck suite
        assert not worker.is_alive(), "volts kept waiting for a scheduler that never answers"
    finally:
        server.close()
    rc, _, err = done["result"]
    assert rc == 2, err
    line = _error(err)
    assert f"127.0.0.1:{server.port}" in line
    assert (("handshake within 1.5 s" in line) if kind == "silent" else ("does not speak the Dask protocol" in line)), line


def test_scheduler_timeout_environment_variable_must_be_a_positive_number(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VOLTS_SCHEDULER_TIMEOUT", "soon")
    rc, _, err = _volts(capsys, "select", "--scheduler", "tcp://127.0.0.1:8786", "--source", "synthetic",
                        "--out", tmp_path / "o")
    assert rc == 2 and "VOLTS_SCHEDULER_TIMEOUT" in _error(err)


def test_default_scheduler_timeout_is_twenty_seconds(monkeypatch):
    from volts.parallel import Executor

    monkeypatch.delenv("VOLTS_SCHEDULER_TIMEOUT", raising=False)
    assert Executor(scheduler="tcp://127.0.0.1:8786").timeout == 20.0
