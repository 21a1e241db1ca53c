"""Bounds on counts a user sets (surrogates, stability runs, null draws), checked before any work.

A count far beyond what the machine's memory holds used to end in an internal ``MemoryError`` (or the kernel's
out-of-memory killer) minutes into a run. Each check here multiplies the count by the bytes volts allocates per
unit -- derived from the arrays the code actually builds, formula by formula in the comments -- and refuses, as a
usage error that states the bound, a count whose arrays would not fit in the memory available now
(``psutil.virtual_memory().available``). The bounds are upper limits, not recommendations: a count near one
leaves no memory for anything else.
"""

from __future__ import annotations

import sys

import numpy as np

from volts.core.errors import ConfigError, UsageError

__all__ = [
    "available_memory",
    "check_counts",
    "check_entropy_surrogates",
    "check_null_draws",
    "check_stability_runs",
    "entropy_bytes_per_surrogate",
    "null_bytes_per_draw",
    "stability_bytes_per_run",
]

#: Bytes a Dask cluster keeps per submitted task on the client and the scheduler (a future, its key and the
#: task's state); ``Executor.submit`` submits every task at once. An allowance, not a measurement of one version.
DASK_TASK_BYTES = 4096


def available_memory() -> int:
    """Bytes of memory available to new allocations now (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _refuse(error, option: str, count: int, each: int, memory: int, what: str) -> None:
    bound = max(0, memory // max(1, each))
    if count > bound:
        raise error(
            f"{option} {count:,} needs about {_gib(count * each)} ({each:,} bytes per {what}) but "
            f"{_gib(memory)} of memory are available: at most {bound:,} fit here; lower it"
        )


def entropy_bytes_per_surrogate(n: int, bins: int, history: int) -> int:
    """Bytes one transfer-entropy surrogate holds at once (:func:`volts.selection.causality.entropy._ete_from_states`).

    Parameters
    ----------
    n : int
        Training length in bars (an upper bound is fine: the estimate grows with it).
    bins, history : int
        ``entropy.bins`` and ``entropy.history``.
    """
    b = int(bins)
    cells = b ** (int(history) + 2)  # c[s, h, x, y]: b**history target histories x b source x b target states
    return (
        8 * n  # rng.permuted(broadcast_to(xs, (S, n))): int64 states, one row per surrogate
        + 8 * n  # np.vstack([xs, shuffled]): a second int64 (S + 1, n) copy
        + 1 * n  # (src == v): bool (S, n - history), one state v at a time
        + 8 * n  # .astype(np.float64) of that indicator for the matrix product
        + 6 * 8 * cells  # c and the five same-shaped float64 arrays of the log term (c*c_h, c_hx*c_hy, the
        # ratio, its log2, the product) alive together in np.where
        + 3 * 8
    )  # te_s, te_s >= te and its cumulative sum (curtailed test), one float each


def check_entropy_surrogates(settings, *, concurrent: int = 1, memory: int | None = None) -> None:
    """Refuse ``entropy.surrogates`` whose arrays would not fit (see :func:`entropy_bytes_per_surrogate`).

    The training length is bounded by the calendar days from ``windows.train_start`` to ``windows.train_end``
    (sessions are fewer), so the bound errs on the safe side. ``concurrent`` pairs run at once (the worker
    processes of a local cluster on this machine).

    Raises
    ------
    ConfigError
        The surrogates of ``concurrent`` pairs exceed the available memory; the message gives the bound.
    """
    if "transfer_entropy" not in settings.selection.screens:
        return
    w = settings.windows
    n = (w.train_end - w.train_start).days + 1
    each = entropy_bytes_per_surrogate(n, settings.entropy.bins, settings.entropy.history) * max(1, concurrent)
    memory = available_memory() if memory is None else memory
    _refuse(
        ConfigError,
        "entropy.surrogates",
        int(settings.entropy.surrogates),
        each,
        memory,
        f"surrogate of a {n}-day training window" + (f" x {concurrent} workers" if concurrent > 1 else ""),
    )


def _python_list_bytes(sample) -> int:
    """Bytes one element costs in a Python list: the pointer plus the object."""
    return 8 + sys.getsizeof(sample)


def stability_bytes_per_run(n_symbols: int) -> int:
    """Bytes one stability run keeps until the runs are tabulated (:func:`volts.selection.stability.start_stability`):
    its ``SeedSequence`` child and task tuple, measured with ``sys.getsizeof`` on real ones, and its result
    dictionary with up to ``n_symbols`` candidate names; plus a Dask task's bookkeeping (:data:`DASK_TASK_BYTES`).
    """
    child = np.random.SeedSequence(0).spawn(1)[0]
    task = (0, 2**32 - 1, 2**32 - 1)
    name = "X" * 8
    result = {"index": 0, "pairs": [], "candidates": [name] * n_symbols, "error": None}
    return (
        _python_list_bytes(child)
        + sys.getsizeof(child.spawn_key)
        + _python_list_bytes(task)
        + sum(sys.getsizeof(v) for v in task)
        + _python_list_bytes(result)
        + sys.getsizeof(result["candidates"])
        + n_symbols * sys.getsizeof(name)
        + DASK_TASK_BYTES
    )


def check_stability_runs(runs: int, option: str, *, n_symbols: int, memory: int | None = None) -> None:
    """Refuse a stability run count whose bookkeeping would not fit (:func:`stability_bytes_per_run`).

    Raises
    ------
    UsageError
        ``runs`` exceeds the bound; the message names ``option`` and gives the bound.
    """
    memory = available_memory() if memory is None else memory
    _refuse(UsageError, option, int(runs), stability_bytes_per_run(max(1, n_symbols)), memory, "run")


def null_bytes_per_draw() -> int:
    """Bytes one random-pairs draw keeps (:func:`volts.evaluation.nulls.random_pairs_null`): its seed in the ``seeds`` list
    and in the executor's copy of it, its float64 Sharpe in ``out``, plus a Dask task's bookkeeping."""
    seed = 2**32 - 1
    return 2 * _python_list_bytes(seed) + 8 + DASK_TASK_BYTES


def check_null_draws(draws: int, *, memory: int | None = None) -> None:
    """Refuse ``--null-draws`` beyond :func:`null_bytes_per_draw` x draws of available memory.

    Raises
    ------
    UsageError
        The bound is exceeded; the message gives it.
    """
    memory = available_memory() if memory is None else memory
    _refuse(UsageError, "--null-draws", int(draws), null_bytes_per_draw(), memory, "draw")


def check_counts(
    settings,
    *,
    workers: int | None = None,
    stability_runs: int | None = None,
    stability_option: str = "stability.runs",
    null_draws: int | None = None,
) -> None:
    """Every bound of this module that applies to a command, before it loads data or starts a cluster.

    Parameters
    ----------
    settings : Settings
    workers : int, optional
        Local cluster size (that many pairs' surrogates at once on this machine).
    stability_runs : int, optional
        Runs asked for (default ``settings.stability.runs``), named ``stability_option`` in the message.
    null_draws : int, optional
        ``--null-draws`` of an ablation.

    Raises
    ------
    ConfigError, UsageError
        A count beyond its bound.
    """
    memory = available_memory()
    check_entropy_surrogates(settings, concurrent=max(1, int(workers or 1)), memory=memory)
    runs = settings.stability.runs if stability_runs is None else stability_runs
    if runs:
        # a membership universe has no list yet: 1,000 names is above any index volts reads (S&P 500, 1500)
        n_symbols = 1000 if settings.data.membership else len(settings.data.universe)
        check_stability_runs(int(runs), stability_option, n_symbols=n_symbols, memory=memory)
    if null_draws is not None:
        check_null_draws(int(null_draws), memory=memory)
