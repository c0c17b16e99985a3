"""Local process pools: results in task order, and no worker outlives its parent (issue 13, item 10).

The fault tests run a real pool in a subprocess (a small script written to ``tmp_path``), whose
tasks record their worker's pid in a file and then sleep; the test kills or interrupts the
subprocess and checks, with psutil, that every worker exits. The wait for that is a deadline, not a
speed check: it returns as soon as the workers are gone and fails only if they still run after
:data:`EXIT_DEADLINE_S` (generous, for a loaded machine).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tess_cluster_age.parallel import run_tasks
from tests.synthetic import REPO

SCRIPT = textwrap.dedent(
    """
    import logging, multiprocessing, os, signal, sys, time
    from pathlib import Path

    from tess_cluster_age.parallel import run_tasks


    def task(folder):
        if multiprocessing.parent_process() is not None:   # a worker (the main process computes too)
            Path(folder, f"{os.getpid()}.pid").touch()
        time.sleep(120)
        return os.getpid()


    if __name__ == "__main__":
        # as in a terminal: a background test runner may have started us with SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
        run_tasks(task, [sys.argv[1]] * 6, workers=3, label="sleepers")
    """
)


def _start_pool(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    """Start the script; return it and its two worker pids once both workers run a task."""
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    folder = tmp_path / "pids"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, str(script), str(folder)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list(folder.glob("*.pid"))) < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the pool did not start two workers (exit {process.returncode}): {err[-2000:]}")
        time.sleep(0.1)
    return process, sorted(int(p.stem) for p in folder.glob("*.pid"))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


EXIT_DEADLINE_S = 60.0
"""How long a worker may take to exit before it counts as left behind (a deadline, not a speed check)."""


def _wait_gone(pids: list[int], seconds: float = EXIT_DEADLINE_S) -> list[int]:
    """The pids still alive once all have exited (at once) or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _cleanup(pids: list[int]) -> None:
    for pid in pids:
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass


@pytest.mark.slow
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    process, workers = _start_pool(tmp_path)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=EXIT_DEADLINE_S)
        alive = _wait_gone(workers)
        assert not alive, f"workers {alive} still run {EXIT_DEADLINE_S:.0f} s after their parent was SIGKILLed"
    finally:
        _cleanup(workers)
        process.communicate()


@pytest.mark.slow
def test_ctrl_c_stops_the_pool_with_one_message_and_no_worker_tracebacks(tmp_path):
    process, workers = _start_pool(tmp_path)
    try:
        # a terminal's Ctrl-C reaches every process of the foreground group, workers included
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=EXIT_DEADLINE_S)
        alive = _wait_gone(workers)
        assert not alive, f"workers {alive} still run {EXIT_DEADLINE_S:.0f} s after Ctrl-C"
    finally:
        _cleanup(workers)
    assert process.returncode != 0
    assert err.count("interrupted after 0/6 tasks; stopping 2 worker processes") == 1, err
    # the main process's own KeyboardInterrupt may print one traceback; workers print none
    assert err.count("Traceback") <= 1, err
    assert err.count("KeyboardInterrupt") <= 1, err


def _square(x: int) -> int:
    return x * x


def test_results_come_back_in_task_order_for_one_worker():
    assert run_tasks(_square, [3, 1, 2], workers=1) == [9, 1, 4]


def _square_slowly(x: int) -> tuple[int, int]:
    time.sleep(0.4)
    return x * x, os.getpid()


def _square_once_the_worker_has_begun(task: tuple[int, str, int]) -> tuple[int, int]:
    """``x * x`` and the process; in the calling process (pid ``parent``) only after a worker has
    begun a task (it touches ``marker``), however slowly it starts on a loaded machine."""
    x, marker, parent = task
    if os.getpid() == parent:
        deadline = time.monotonic() + EXIT_DEADLINE_S
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        open(marker, "a").close()
    time.sleep(0.2)
    return x * x, os.getpid()


def test_this_process_computes_too_from_the_back_and_no_task_runs_twice(tmp_path):
    """workers=2: one worker process takes tasks from the front, this process from the back."""
    marker = str(tmp_path / "a worker has begun")
    results = run_tasks(_square_once_the_worker_has_begun, [(x, marker, os.getpid()) for x in range(10)], workers=2)
    assert [r[0] for r in results] == [x * x for x in range(10)]           # in task order, each once
    pids = [r[1] for r in results]
    assert pids[-1] == os.getpid() and pids[0] != os.getpid()             # the back here, the front in the worker
    here = [i for i, pid in enumerate(pids) if pid == os.getpid()]
    assert here == list(range(here[0], 10))                                # a contiguous run from the end


def test_the_worker_processes_are_kept_for_the_next_call():
    """A second call reuses the first call's worker (no second start-up); an error discards the pool."""
    first = {pid for _, pid in run_tasks(_square_slowly, list(range(8)), workers=2)} - {os.getpid()}
    second = {pid for _, pid in run_tasks(_square_slowly, list(range(8)), workers=2)} - {os.getpid()}
    assert len(first) == 1 and first == second
    with pytest.raises(ZeroDivisionError):
        run_tasks(_fail_on_zero, [3, 2, 0, 1, 5, 4], workers=2)
    third = {pid for _, pid in run_tasks(_square_slowly, list(range(8)), workers=2)} - {os.getpid()}
    assert len(third) == 1 and third != first


def _fail_on_zero(x: int) -> float:
    time.sleep(0.3)
    return 1 / x


def test_shutting_the_pools_down_ends_their_workers():
    from tess_cluster_age.parallel import shutdown_pools

    workers = {pid for _, pid in run_tasks(_square_slowly, list(range(6)), workers=2)} - {os.getpid()}
    assert workers and all(_alive(pid) for pid in workers)
    shutdown_pools()
    alive = _wait_gone(sorted(workers))
    assert not alive, f"workers {alive} still run {EXIT_DEADLINE_S:.0f} s after shutdown_pools()"
