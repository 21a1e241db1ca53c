"""Run independent, coarse tasks (a week, a target series) in-process or on a Dask cluster.

``Executor`` is the one place volts decides where work runs:

* neither ``workers`` nor ``scheduler``: a plain loop in this process (no Dask import; the tests' default);
* ``workers=N``: a ``dask.distributed.LocalCluster`` of N single-threaded worker processes, torn down on exit;
* ``scheduler="tcp://HOST:PORT"``: an existing cluster (started with ``dask scheduler`` / ``dask worker``).

Large objects shared by every task (the ``MarketData`` of a walk-forward) are passed as keyword arguments of
:meth:`Executor.map`; on a cluster they are scattered once to every worker (``Client.scatter(...,
broadcast=True)``) instead of being re-sent with each task. Tasks must be top-level (picklable) functions.

Tasks should be coarse: one task per week or per target series, never per pair, because each task pays a
scheduling and serialisation overhead of the order of milliseconds.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from volts.core.errors import UsageError

__all__ = ["Batch", "Executor", "check_scheduler_address", "probe_scheduler", "scheduler_timeout"]

#: Seconds to wait for a ``--scheduler`` (connection and handshake) unless ``VOLTS_SCHEDULER_TIMEOUT`` says otherwise.
DEFAULT_SCHEDULER_TIMEOUT = 20.0


class Executor:
    """Where independent tasks run (context manager).

    Parameters
    ----------
    workers : int, optional
        Start a local Dask cluster with this many worker processes (one thread each). Must be >= 1.
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``"tcp://127.0.0.1:8786"``. Exclusive with ``workers``.
    progress : bool or "auto", default False
        Show a rich progress bar (done / left / ETA) on stderr while :meth:`map` runs. ``"auto"``: the bar when
        stderr is a terminal, else plain lines (done / left / elapsed / ETA), at most one every
        ``progress_interval`` seconds (60) plus the first and the last, so a run under ``nohup`` or CI shows where
        it is.
    timeout : float, optional
        Seconds to wait for ``scheduler``: the connection *and* the Dask handshake (a service that accepts the
        connection and never answers is refused after this long). Default: the environment variable
        ``VOLTS_SCHEDULER_TIMEOUT`` when set, else 20.

    Raises
    ------
    UsageError
        ``workers`` and ``scheduler`` given together, ``workers < 1``, a malformed scheduler address (empty, no
        port, an ``http://`` URL), or the scheduler cannot be reached or does not answer as a Dask scheduler.

    Examples
    --------
    >>> with Executor() as ex:
    ...     sorted(r for _, r in ex.map(pow, [1, 2, 3], exp=2))
    [1, 4, 9]
    """

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        *,
        progress: bool | str = False,
        timeout: float | None = None,
    ) -> None:
        if workers is not None and scheduler is not None:
            raise UsageError(
                "give either --workers N (local cluster) or --scheduler ADDRESS (existing cluster), not both"
            )
        if workers is not None and int(workers) < 1:
            raise UsageError(f"--workers must be at least 1 (got {workers})")
        if progress not in (True, False, "auto"):
            raise UsageError(f"progress must be True, False or 'auto' (got {progress!r})")
        self.workers = None if workers is None else int(workers)
        self.scheduler = scheduler
        self.progress = bool(progress)
        self._plain = progress == "auto" and not sys.stderr.isatty()  # lines instead of a bar off a terminal
        self.progress_interval = 60.0
        self.timeout = scheduler_timeout() if timeout is None else float(timeout)
        if scheduler is not None:
            check_scheduler_address(scheduler)
        self._client = None
        self._cluster = None
        self._stage: tuple[str, float] | None = None

    # ------------------------------------------------------------------------------------ progress
    def stage(self, name: str | None) -> None:
        """Mark the start of a phase that runs in this process (``name``) or the end of the last (None).

        With progress on, a line ``[name] running ...`` goes to stderr, and the previous phase's
        ``[previous] done in 3.2 s``; so a long pass without tasks (the walk-forward's trading pass, its bootstrap,
        its report) shows where the run is. Silent with progress off.
        """
        now = time.monotonic()
        if self.progress and self._stage is not None:
            done, since = self._stage
            print(f"[{done}] done in {now - since:.1f} s", file=sys.stderr, flush=True)
        self._stage = None if name is None else (name, now)
        if self.progress and name is not None:
            print(f"[{name}] running ...", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """A line on stderr with progress on (e.g. which variant of a comparison is running); silent otherwise."""
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    # ------------------------------------------------------------------------------------ lifecycle
    @property
    def kind(self) -> str:
        """``"in-process"``, ``"local-cluster"`` or ``"scheduler"``."""
        if self.scheduler is not None:
            return "scheduler"
        return "local-cluster" if self.workers is not None else "in-process"

    @property
    def client(self):
        """The ``dask.distributed.Client`` (None when in-process or before ``__enter__``)."""
        return self._client

    def __enter__(self) -> "Executor":
        if self.kind == "in-process":
            return self
        from dask.distributed import Client, LocalCluster

        try:
            if self.kind == "local-cluster":
                import dask

                # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand memory back to the OS in
                # long-lived workers). Setting it switches off glibc's dynamic mmap threshold, so every numpy
                # temporary above 128 KiB is a fresh mmap with page faults: measured on the stability pass, 86k
                # page faults and 1.7 CPU s a run against 22k and 1.2 s in-process. This cluster lives for one
                # command, so its workers keep glibc's defaults, like an in-process run.
                with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                    self._cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                        host="127.0.0.1",
                    )
                self._client = Client(self._cluster)
            else:
                probe_scheduler(self.scheduler, self.timeout)  # Client() bounds the connect, not the handshake
                self._client = Client(self.scheduler, timeout=f"{self.timeout}s")
        except OSError as exc:
            self.close()
            raise UsageError(
                f"cannot reach Dask scheduler {self.scheduler}: {exc}; start one with "
                f"'dask scheduler' and 'dask worker {self.scheduler}', or drop --scheduler"
            ) from None
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    #: Seconds a local cluster's worker process gets to exit after it is told to close; Dask's default (4 s, then
    #: "Worker process still alive after 4.0 seconds, killing") is too short on a loaded machine, where a worker
    #: that frees a large scattered market or finishes its last task takes longer.
    worker_close_timeout = 60.0

    def close(self) -> None:
        """Close the client, then, for a local cluster, close each worker and wait for its process to exit (up to
        :attr:`worker_close_timeout`), then the cluster (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            try:
                cluster.sync(_close_workers, cluster, self.worker_close_timeout)
            finally:
                cluster.close()

    def describe(self) -> str:
        """One line saying where tasks run (for logs and reports)."""
        if self.kind == "in-process":
            return "in-process"
        if self._client is None:
            return self.kind
        n = len(self._client.scheduler_info().get("workers", {}))
        where = self.scheduler or "local cluster"
        return f"dask {where} ({n} worker{'s' if n != 1 else ''})"

    # ------------------------------------------------------------------------------------------- map
    def map(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *,
        key: Callable[[Any], str] | None = None,
        label: str = "tasks",
        **common_kwargs: Any,
    ) -> Iterator[tuple[Any, Any]]:
        """Run ``fn(item, **common_kwargs)`` for every item; yield ``(item, result)`` as each completes.

        Parameters
        ----------
        fn : callable
            A top-level (picklable) function of one item plus the shared keyword arguments.
        items : iterable
            The tasks' inputs (materialised into a list first).
        key : callable, optional
            ``key(item) -> str`` naming each task (Dask task keys; must be unique). Default: the item's ``str``.
        label : str
            What the progress bar calls the tasks (e.g. ``"weeks"``).
        **common_kwargs
            Shared inputs, sent once per worker (broadcast scatter) on a cluster.

        Yields
        ------
        (item, result)
            In completion order on a cluster, in input order in-process.

        Raises
        ------
        Exception
            The first task's exception is re-raised when its result is reached; tasks still pending are cancelled.
            Results already yielded stay valid (callers checkpoint them as they arrive).
        """
        batch = self.submit(fn, items, key=key, label=label, **common_kwargs)
        yield from batch

    def submit(
        self,
        fn: Callable[..., Any],
        items: Iterable[Any],
        *,
        key: Callable[[Any], str] | None = None,
        label: str = "tasks",
        **common_kwargs: Any,
    ) -> "Batch":
        """Start ``fn(item, **common_kwargs)`` for every item now and return a :class:`Batch` to collect them.

        On a cluster the tasks start running at once, so the caller can do other work in this process meanwhile
        (``volts select --stability`` runs the plain selection and draws its figures while the workers run the
        repetitions). In-process, nothing runs until the batch is iterated. Arguments as :meth:`map`.
        """
        items = list(items)
        if self._client is None:
            return Batch(self, fn, items, label, common_kwargs, futures=None, shared=None)
        client = self._client
        shared = {}
        if common_kwargs:
            names = list(common_kwargs)
            scattered = client.scatter([common_kwargs[n] for n in names], broadcast=True, hash=False)
            shared = dict(zip(names, scattered))
        keyfn = key or str
        prefix = f"{getattr(fn, '__name__', 'task')}-{time.time_ns()}"
        futures = {}
        for item in items:
            fut = client.submit(fn, item, key=f"{prefix}-{keyfn(item)}", pure=False, **shared)
            futures[fut] = item
        return Batch(self, fn, items, label, common_kwargs, futures=futures, shared=shared)

    @contextmanager
    def _bar(self, total: int, label: str):
        if not self.progress or total == 0:
            yield lambda: None
            return
        if self._plain:
            yield self._plain_progress(total, label)
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn(f"{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("left {task.fields[left]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task(label, total=total, left=total)

            def advance() -> None:
                done = bar.tasks[0].completed + 1
                bar.update(task, advance=1, left=total - done)

            yield advance

    def _plain_progress(self, total: int, label: str):
        """``advance`` for a stream that is not a terminal: a line on stderr at the start, then at most one every
        ``progress_interval`` seconds, and at the last task."""
        start = last = time.monotonic()
        done = 0

        def clock(seconds: float) -> str:
            s = int(round(seconds))
            return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"

        print(f"{label}: 0/{total} done, {total} left", file=sys.stderr, flush=True)

        def advance() -> None:
            nonlocal done, last
            done += 1
            now = time.monotonic()
            if done < total and now - last < self.progress_interval:
                return
            last = now
            elapsed = now - start
            eta = elapsed / done * (total - done)
            print(
                f"{label}: {done}/{total} done, {total - done} left, elapsed {clock(elapsed)}, ETA {clock(eta)}",
                file=sys.stderr,
                flush=True,
            )

        return advance


async def _close_workers(cluster, timeout: float) -> None:
    """Close every worker (nanny) of a local cluster, each allowed ``timeout`` seconds, before the cluster itself
    closes them with Dask's short default."""
    import asyncio

    nannies = [w for w in list(cluster.workers.values()) if w.status.name not in ("closing", "closed", "failed")]
    await asyncio.gather(*(w.close(timeout=timeout) for w in nannies), return_exceptions=True)


class Batch:
    """Tasks started by :meth:`Executor.submit`; iterate it once to collect ``(item, result)`` pairs (a second
    iteration, or one after :meth:`cancel`, raises RuntimeError).

    Iteration yields in completion order on a cluster and runs the tasks one by one in-process, with the
    executor's progress bar. Leaving the iteration early (an exception, a ``break``) or calling :meth:`cancel`
    cancels the tasks still pending and releases the shared inputs.
    """

    def __init__(self, executor: Executor, fn, items, label, common_kwargs, *, futures, shared) -> None:
        self._executor, self._fn, self._items, self._label = executor, fn, items, label
        self._common, self._futures, self._shared = common_kwargs, futures, shared
        self._state = "submitted"  # -> "iterated" or "cancelled"; a second pass would re-run or yield nothing

    @property
    def remote(self) -> bool:
        """True when the tasks run on a Dask cluster (started at submission), False in-process (run on iteration)."""
        return self._futures is not None

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self._state != "submitted":
            raise RuntimeError(
                f"this batch of {len(self._items)} {self._label} was {self._state} already: a Batch "
                f"is collected once (in-process a second pass would run every task again, on a "
                f"cluster it would yield nothing); submit the tasks again"
            )
        self._state = "iterated"
        return self._results()

    def _results(self) -> Iterator[tuple[Any, Any]]:
        with self._executor._bar(len(self._items), self._label) as advance:
            if self._futures is None:
                for item in self._items:
                    result = self._fn(item, **self._common)
                    advance()
                    yield item, result
                return
            from dask.distributed import as_completed

            try:
                for fut in as_completed(list(self._futures)):
                    result = fut.result()
                    advance()
                    yield self._futures[fut], result
            finally:
                self.cancel()

    def cancel(self) -> None:
        """Cancel the tasks not yet finished and release every future (idempotent; in-process, nothing has run
        yet, so nothing will). A cancelled batch cannot be iterated."""
        if self._state == "submitted":
            self._state = "cancelled"
        if not self._futures and not self._shared:
            return
        client = self._executor.client
        futures, shared = self._futures or {}, self._shared or {}
        self._futures, self._shared = {}, {}
        pending = [f for f in futures if not f.done()]
        if pending and client is not None:
            client.cancel(pending)
        for f in list(futures) + list(shared.values()):
            f.release()


# ------------------------------------------------------------------------------------- scheduler address
_SCHEDULER_HINT = (
    "a Dask scheduler address is tcp://HOST:PORT (8786 by default; 'dask scheduler' prints it); "
    "the dashboard's http:// address is not it"
)


def scheduler_timeout() -> float:
    """Seconds to wait for a ``--scheduler``: ``VOLTS_SCHEDULER_TIMEOUT`` when set (a positive number), else
    :data:`DEFAULT_SCHEDULER_TIMEOUT` (20).

    Raises
    ------
    UsageError
        The environment variable is not a positive number.
    """
    import math
    import os

    text = os.environ.get("VOLTS_SCHEDULER_TIMEOUT")
    if text is None or not text.strip():
        return DEFAULT_SCHEDULER_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UsageError(
            f"VOLTS_SCHEDULER_TIMEOUT={text!r} is not a positive number of seconds; unset it for the "
            f"default {DEFAULT_SCHEDULER_TIMEOUT:g} s"
        )
    return value


def check_scheduler_address(address: str) -> None:
    """Refuse a ``--scheduler`` that cannot be a Dask scheduler address, before anything connects.

    Accepted: ``tcp://HOST:PORT``, ``tls://HOST:PORT`` and ``HOST:PORT`` (TCP), with an IPv6 host in brackets
    (``tcp://[::1]:8786``); parsed with ``distributed.comm.addressing`` (the parser ``Client`` uses).

    Raises
    ------
    UsageError
        An empty address, another scheme (``http://``, ``inproc://``, ...), no port, or a port outside 1..65535.
    """
    if not isinstance(address, str) or not address.strip():
        raise UsageError(f"--scheduler is empty; {_SCHEDULER_HINT}, or drop --scheduler to run in-process")
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address.strip())
    except ValueError as exc:
        raise UsageError(f"--scheduler {address!r} is not an address ({exc}); {_SCHEDULER_HINT}") from None
    if scheme not in ("tcp", "tls"):
        raise UsageError(f"--scheduler {address!r}: scheme {scheme}:// is not a Dask scheduler's; {_SCHEDULER_HINT}")
    try:
        _, port = parse_host_port(location)
    except ValueError as exc:
        raise UsageError(f"--scheduler {address!r} is not HOST:PORT ({exc}); {_SCHEDULER_HINT}") from None
    if not 1 <= int(port) <= 65535:
        raise UsageError(f"--scheduler {address!r}: port {port} is outside 1..65535; {_SCHEDULER_HINT}")


def probe_scheduler(address: str, timeout: float) -> dict:
    """Connect to ``address``, complete the Dask handshake and ask for the scheduler's identity: the connect within
    ``timeout`` seconds, the whole probe within ``timeout`` plus a margin (a quarter of it, at least 1 s).

    ``dask.distributed.Client(address, timeout=...)`` bounds only the TCP connect: a service that accepts the
    connection and never answers keeps it waiting for ever, and an HTTP server's reply is read as a Dask frame
    header (a multi-exabyte length: ``MemoryError``). The probe runs on its own event loop in a helper thread, so
    it works from a notebook whose loop is already running.

    Returns
    -------
    dict
        The scheduler's ``identity`` reply (``type`` is ``"Scheduler"``).

    Raises
    ------
    UsageError
        Nothing listens there, no handshake within ``timeout`` seconds, the peer does not speak the Dask protocol,
        or it is a Dask worker rather than the scheduler.
    """
    import asyncio
    import threading

    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: dict[str, Any] = {}
    margin = max(1.0, 0.25 * timeout)

    def run() -> None:
        try:
            # distributed's connect retries a refused port until `timeout`, then raises OSError("Timed out trying
            # to connect"); only the handshake after a connect can hang. The outer bound therefore lies a margin
            # past `timeout`, so that an unreachable port is never mistaken for a silent peer.
            outcome["reply"] = asyncio.run(asyncio.wait_for(identity(), timeout + margin))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="volts-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout + margin + 5.0)  # asyncio.wait_for ends the probe; the extra 5 s are for its clean-up
    exc = outcome.get("error")
    if thread.is_alive() or isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        raise UsageError(
            f"Dask scheduler {address} did not complete the handshake within {timeout + margin:g} s: it "
            f"accepts connections but does not answer as a Dask scheduler; {_SCHEDULER_HINT}"
        )
    if isinstance(exc, OSError) and "reply" not in outcome and "Timed out trying to connect" in str(exc):
        raise UsageError(
            f"cannot reach Dask scheduler {address}: {exc}; start one with 'dask scheduler' and "
            f"'dask worker {address}', or drop --scheduler"
        )
    if exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        raise UsageError(
            f"{address} does not speak the Dask protocol ({type(exc).__name__}: {str(exc)[:120]}); {_SCHEDULER_HINT}"
        )
    reply = outcome.get("reply")
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        what = f"a Dask {kind}" if isinstance(kind, str) else "not a Dask scheduler"
        raise UsageError(f"{address} is {what}, not the scheduler; {_SCHEDULER_HINT}")
    return reply
