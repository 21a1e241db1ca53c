"""``volts.core.parallel.Executor``: in-process loop, local Dask cluster and an external scheduler give the same
results; shared keyword arguments reach every task; a task's error reaches the caller; clusters are torn down.

An external ``dask scheduler`` + two ``dask worker`` processes are exercised by tests/test_walkforward.py (eight
weeks, same artifacts as in-process), not repeated here to keep the suite's time down."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from volts.core.errors import UsageError
from volts.core.parallel import Executor


def weighted_sum(item: int, *, weights: np.ndarray, offset: float = 0.0) -> float:
    """A task of one item using a large shared array (top-level, so it pickles)."""
    return float(item * weights.sum() + offset)


def where_am_i(item: int) -> int:
    return os.getpid()


def fails_on_three(item: int) -> int:
    if item == 3:
        raise ValueError("task 3 failed on purpose")
    return item


WEIGHTS = np.arange(100_000, dtype=float)
# whole numbers below 2^53: every partial sum is exact, so any process, kernel or summation order gives the same
# float and the results of other processes may be compared with ==
EXPECTED = {i: float(i * WEIGHTS.sum() + 0.5) for i in range(8)}


def test_in_process_runs_in_order_in_this_process():
    with Executor() as ex:
        out = list(ex.map(weighted_sum, range(8), weights=WEIGHTS, offset=0.5))
        pids = {r for _, r in ex.map(where_am_i, range(3))}
    assert [i for i, _ in out] == list(range(8))
    assert dict(out) == EXPECTED
    assert pids == {os.getpid()}
    assert ex.client is None and ex.kind == "in-process"


def test_usage_errors():
    with pytest.raises(UsageError, match="not both"):
        Executor(workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="at least 1"):
        Executor(workers=0)


def test_in_process_submit_runs_nothing_until_iterated():
    calls = []

    def record(item):
        calls.append(item)
        return item * 2

    with Executor() as ex:
        batch = ex.submit(record, range(3))
        assert calls == [] and not batch.remote
        assert list(batch) == [(0, 0), (1, 2), (2, 4)] and calls == [0, 1, 2]
        with pytest.raises(RuntimeError, match="iterated already"):  # a second pass would run every task again
            list(batch)
        cancelled = ex.submit(record, range(3))
        cancelled.cancel()
        cancelled.cancel()  # idempotent
        with pytest.raises(RuntimeError, match="cancelled already"):
            list(cancelled)
        assert calls == [0, 1, 2]  # nothing ran twice, nothing cancelled ran


def test_progress_off_a_terminal_is_plain_lines(capsys):
    """``progress="auto"`` with stderr not a terminal (nohup, CI, pytest) prints plain lines: a start line, then at
    most one per ``progress_interval`` and always the last; ``progress=False`` prints nothing."""
    with Executor(progress="auto") as ex:
        ex.progress_interval = 0.0
        assert [i for i, _ in ex.map(weighted_sum, range(3), label="weeks", weights=WEIGHTS)] == [0, 1, 2]
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[0] == "weeks: 0/3 done, 3 left" and len(lines) == 4
        assert lines[1].startswith("weeks: 1/3 done, 2 left, elapsed 0:00:0") and "ETA 0:00:0" in lines[1]
        assert lines[-1].startswith("weeks: 3/3 done, 0 left") and lines[-1].endswith("ETA 0:00:00")
        ex.progress_interval = 3600.0  # only the first and the last line
        list(ex.map(weighted_sum, range(5), label="weeks", weights=WEIGHTS))
        lines = capsys.readouterr().err.strip().splitlines()
        assert [ln.split(",")[0] for ln in lines] == ["weeks: 0/5 done", "weeks: 5/5 done"]
    with Executor(progress=False) as quiet:
        list(quiet.map(weighted_sum, range(3), weights=WEIGHTS))
    assert capsys.readouterr().err == ""


def test_in_process_error_propagates():
    with Executor() as ex:
        got = []
        with pytest.raises(ValueError, match="on purpose"):
            for item, r in ex.map(fails_on_three, range(6)):
                got.append(r)
    assert got == [0, 1, 2]


@pytest.mark.slow
def test_local_cluster_two_workers_same_results_and_torn_down():
    with Executor(workers=2) as ex:
        cluster = ex._cluster
        out = dict(ex.map(weighted_sum, range(8), key=lambda i: f"item{i}", weights=WEIGHTS, offset=0.5))
        pids = {r for _, r in ex.map(where_am_i, range(6))}
        assert len(ex.client.scheduler_info()["workers"]) == 2
        # workers keep glibc's malloc defaults (Dask's nanny would set MALLOC_TRIM_THRESHOLD_=65536)
        trim = ex.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        assert set(trim.values()) == {os.environ.get("MALLOC_TRIM_THRESHOLD_")}
        with pytest.raises(ValueError, match="on purpose"):
            list(ex.map(fails_on_three, range(6)))
        # submit: the tasks run before the batch is iterated (volts select works meanwhile)
        batch = ex.submit(weighted_sum, range(4), key=lambda i: f"early{i}", weights=WEIGHTS, offset=0.5)
        assert batch.remote
        futures = list(batch._futures)
        ex.client.wait_for_workers(2)
        from dask.distributed import wait

        wait(futures, timeout=60)
        assert all(f.status == "finished" for f in futures)
        assert dict(batch) == {i: EXPECTED[i] for i in range(4)}
        with pytest.raises(RuntimeError, match="iterated already"):  # its futures are released: not silently []
            list(batch)
        slow = ex.submit(time.sleep, [20.0, 20.1, 20.2, 20.3])
        waiting = list(slow._futures)
        slow.cancel()
        slow.cancel()  # idempotent
        assert all(f.status == "cancelled" for f in waiting)
        with pytest.raises(RuntimeError, match="cancelled already"):
            list(slow)
    assert out == EXPECTED
    assert os.getpid() not in pids  # ran in worker processes
    assert ex.client is None and cluster.status.name == "closed"


@pytest.mark.slow
def test_unreachable_scheduler_is_a_usage_error():
    import socket

    # A port that is bound but never listens: connecting is refused. Holding it for the whole test keeps another
    # process (or a TCP self-connect from an ephemeral port equal to it) from answering there, which a port
    # released before the connect could not promise on a busy machine.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(UsageError, match="cannot reach Dask scheduler"):
            with Executor(scheduler=f"tcp://127.0.0.1:{port}", timeout=2):
                pass


@pytest.mark.slow
def test_a_refused_port_is_never_reported_as_a_silent_scheduler():
    """distributed's connect retries a refused port until its timeout: the probe's own bound must come later, or
    the two race and a port nothing listens on reads as "accepts connections but does not answer" (seen under the
    Nehalem kernel). Repeated with a short timeout, where the race showed most."""
    import socket

    from volts.core.parallel import probe_scheduler

    with socket.socket() as s:  # bound, never listening: every connect is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        for _ in range(8):
            with pytest.raises(UsageError, match="cannot reach Dask scheduler"):
                probe_scheduler(f"tcp://127.0.0.1:{port}", timeout=0.3)
