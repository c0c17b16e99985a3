"""Run independent tasks (one per cluster) on a local process pool or on a Dask cluster.

Segments are embarrassingly parallel. ``run_tasks`` maps a picklable function over a list of
tasks and returns the results **in task order**, whatever the number of workers or the order in
which they finish, so that tables built from them do not depend on how they were computed.

- ``workers = 1`` and no scheduler: in this process (easiest to debug and profile).

Every task runs with one BLAS/OpenMP thread, wherever it runs: a matrix product split over
threads adds in another order, and a feature must have the same bits whether it was computed in
training's worker processes or in a user's notebook.
- ``workers > 1``: this process and ``workers - 1`` more, a ``concurrent.futures.ProcessPoolExecutor``
  of spawned processes, started on first use and kept for the process's later calls (each limited to one BLAS/OpenMP thread so that they do not oversubscribe
  the cores). The workers take tasks from the front of the list while this process, which would
  otherwise wait, takes them from the back: on two cores ``workers: 2`` is one extra process, not
  two, which saves the memory of a whole Python process.
- ``scheduler_address`` set (``tcp://host:8786``): the tasks go to that Dask ``distributed``
  scheduler, so a survey of tens of thousands of clusters runs the same pipeline on a cluster.

Progress is logged through the caller's logger every ``log_every_seconds``.

Local workers never outlive the process that started them: each one asks Linux to kill it when its
parent dies (``prctl(PR_SET_PDEATHSIG)``) and, on every platform, runs a daemon thread that exits
the worker as soon as its parent process is gone. A SIGKILL of ``kedro run`` therefore leaves no
orphaned worker behind. Workers ignore SIGINT: a Ctrl-C (sent to the whole process group) reaches
the main process only, which stops the workers and logs one message instead of one traceback per
worker.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


PARENT_POLL_SECONDS = 0.5
"""How often a worker's watcher thread checks that its parent process is still alive (s)."""

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent_pid: int, poll_seconds: float = PARENT_POLL_SECONDS) -> None:
    """Make this (worker) process exit when ``parent_pid`` dies.

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``). Everywhere, a
    daemon thread polls ``os.getppid()`` and calls ``os._exit`` once the process has been
    re-parented, which also covers a parent that died before the ``prctl`` call.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: the watcher thread still works
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watcher", daemon=True).start()


def _init_worker(parent_pid: int) -> None:
    """Worker initialiser: exit with the parent, leave Ctrl-C to the parent, one BLAS/OpenMP thread."""
    from threadpoolctl import threadpool_limits

    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(1)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued tasks and terminate the running workers now (not after their current task)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # shutdown() forgets the processes, so take them first
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


class _Progress:
    def __init__(self, logger: logging.Logger, label: str, total: int, log_every_seconds: float):
        self.logger, self.label, self.total, self.every = logger, label, total, log_every_seconds
        self.start = self.last = time.perf_counter()
        self.done = 0

    def step(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self.last >= self.every or self.done == self.total:
            elapsed = now - self.start
            remaining = elapsed / self.done * (self.total - self.done)
            self.logger.info("%s: %d/%d done, %.0f s elapsed, ~%.0f s left", self.label, self.done, self.total, elapsed, remaining)
            self.last = now


def _work_from_the_back(function: Callable[[Any], Any], tasks: Sequence[Any], futures: dict, results: list, progress: _Progress) -> None:
    """Run here, from the last task backwards, each task that no worker has started (its future is
    cancelled first, so that no task runs twice); stop at the first one a worker holds, since the
    workers take tasks in order from the front. One BLAS/OpenMP thread, as in the workers."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        for future, i in reversed(list(futures.items())):
            if not future.cancel():
                return
            results[i] = function(tasks[i])
            progress.step()


def run_tasks(
    function: Callable[[Task], Result],
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    scheduler_address: str | None = None,
    label: str = "tasks",
    logger: logging.Logger | None = None,
    log_every_seconds: float = 15.0,
) -> list[Result]:
    """Apply ``function`` to every task and return the results in task order.

    Args:
        function: a module-level (picklable) function of one task.
        tasks: the tasks; each should carry all the data it needs.
        workers: local processes that compute, this one included (1 = only here).
        scheduler_address: address of a Dask distributed scheduler; when set, ``workers`` is ignored.
        label: what the tasks are, for progress messages.
        logger: where progress goes (default: this module's logger).
        log_every_seconds: interval between progress messages.
    """
    logger = logger or logging.getLogger(__name__)
    progress = _Progress(logger, label, len(tasks), log_every_seconds)
    results: list[Any] = [None] * len(tasks)
    if not tasks:
        return []
    if scheduler_address:
        from distributed import Client
        from distributed import as_completed as dask_as_completed

        logger.info("%s: %d tasks on the Dask scheduler at %s", label, len(tasks), scheduler_address)
        with Client(scheduler_address) as client:
            futures = client.map(function, list(tasks), pure=False)
            index = {future.key: i for i, future in enumerate(futures)}
            for future in dask_as_completed(futures):
                results[index[future.key]] = future.result()
                progress.step()
        return results
    if workers <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):   # as in a worker: the same bits whichever process computes
            for i, task in enumerate(tasks):
                results[i] = function(task)
                progress.step()
        return results
    logger.info("%s: %d tasks on this process and %d local worker process(es)", label, len(tasks), workers - 1)
    pool = _local_pool(workers - 1)
    futures = {pool.submit(function, task): i for i, task in enumerate(tasks)}
    try:
        _work_from_the_back(function, tasks, futures, results, progress)
        for future in as_completed([f for f in futures if not f.cancelled()]):
            results[futures[future]] = future.result()
            progress.step()
    except KeyboardInterrupt:
        logger.warning("%s: interrupted after %d/%d tasks; stopping %d worker processes",
                       label, progress.done, len(tasks), workers - 1)
        _discard_pool(workers - 1)
        raise
    except BaseException:
        # fail now: do not wait for every queued task before reporting the error
        _discard_pool(workers - 1)
        raise
    return results


_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _local_pool(processes: int) -> ProcessPoolExecutor:
    """The pool of ``processes`` spawned workers, started on first use and kept for the next calls
    of this process (a spawned worker takes about a second to start and import; dating builds two
    feature tables one after the other). Its workers end with this process."""
    with _POOLS_LOCK:
        if processes not in _POOLS:
            _POOLS[processes] = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_init_worker, initargs=(os.getpid(),))
        return _POOLS[processes]


def _discard_pool(processes: int) -> None:
    """Stop a pool now (after an error or an interrupt) and forget it: the next call starts a new one."""
    with _POOLS_LOCK:
        pool = _POOLS.pop(processes, None)
    if pool is not None:
        _stop_workers(pool)


def start_workers(workers: int, modules: Sequence[str] = ()) -> None:
    """Start the kept pool of ``workers - 1`` local processes now, each importing ``modules``, so
    that their start-up (about a second) overlaps this process's own work, such as reading the
    files, instead of delaying the first tasks. Nothing happens for ``workers <= 1``."""
    import importlib

    if workers <= 1:
        return
    pool = _local_pool(workers - 1)
    for _ in range(workers - 1):
        for module in modules:
            pool.submit(importlib.import_module, module)


def shutdown_pools() -> None:
    """Stop the kept pools now: their queued tasks are cancelled and their workers terminated. A
    command calls it when its tasks are done; otherwise the workers stop when this process ends,
    which then waits for each to shut its interpreter down (most of a second)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        _stop_workers(pool)
