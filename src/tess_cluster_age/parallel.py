"""Run independent tasks (one per cluster) on a local process pool or on a Dask cluster.

Segments are embarrassingly parallel. ``run_tasks`` maps a picklable function over a list of
tasks and returns the results **in task order**, whatever the number of workers or the order in
which they finish, so that tables built from them do not depend on how they were computed.

- ``workers = 1`` and no scheduler: in this process (easiest to debug and profile).
- ``workers > 1``: a ``concurrent.futures.ProcessPoolExecutor`` (spawned processes, each limited to
  one BLAS/OpenMP thread so that workers do not oversubscribe the cores).
- ``scheduler_address`` set (``tcp://host:8786``): the tasks go to that Dask ``distributed``
  scheduler, so a survey of tens of thousands of clusters runs the same pipeline on a cluster.

Progress is logged through the caller's logger every ``log_every_seconds``.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


def _limit_threads() -> None:
    """Worker initialiser: one BLAS/OpenMP thread per worker process."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


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
        workers: local worker processes (1 = run here).
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
        for i, task in enumerate(tasks):
            results[i] = function(task)
            progress.step()
        return results
    logger.info("%s: %d tasks on %d local worker processes", label, len(tasks), workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_limit_threads) as pool:
        futures = {pool.submit(function, task): i for i, task in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                progress.step()
        except BaseException:
            # fail now: do not wait for every queued task before reporting the error
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results
