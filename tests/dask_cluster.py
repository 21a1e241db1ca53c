"""A real Dask cluster on loopback for tests: ``dask scheduler`` and two ``dask worker`` processes.

Started as separate processes (the commands a user would type), waited for with a bounded timeout, and always
torn down (terminate, then kill) by the context manager, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_command() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "distributed.cli.dask_spec"]  # pragma: no cover - fallback never used here


@contextlib.contextmanager
def loopback_cluster(n_workers: int = 2, timeout: float = 60.0, log_dir: Path | None = None):
    """Yield the scheduler address of a fresh scheduler + ``n_workers`` single-threaded workers on 127.0.0.1."""
    from dask.distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    # workers unpickle test-module functions too: put the repository (and this sys.path) on their path
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in sys.path if p]),
    )
    procs: list[subprocess.Popen] = []
    logs = []

    def start(args, name):
        fh = open(log_dir / f"{name}.log", "wb") if log_dir else subprocess.DEVNULL
        if log_dir:
            logs.append(fh)
        procs.append(
            subprocess.Popen(
                _dask_command() + args, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        )

    try:
        start(
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0", "--no-show"],
            "scheduler",
        )
        for i in range(n_workers):
            start(
                [
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                ],
                f"worker{i}",
            )
        deadline = time.monotonic() + timeout
        while True:
            if any(p.poll() is not None for p in procs):
                pytest.fail("a dask scheduler/worker process exited early (see its log)")
            try:
                with Client(address, timeout="2s") as client:
                    client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"dask cluster at {address} not ready within {timeout:.0f} s")
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for fh in logs:
            fh.close()
