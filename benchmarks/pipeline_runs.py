"""Wall time and peak memory of the pipelines on the real ELK light curves, raw files to models.

Runs ``kedro run --pipeline=<name>`` for ingestion, augmentation, feature_engineering, the model
pipelines and the report, one after the other, writing into a scratch data folder, and prints for
each the wall-clock time and the peak resident memory of the whole process tree (the kedro process
plus its workers), sampled every 0.2 s, then the total from raw files through the models. The
name ``__default__`` runs plain ``kedro run`` (every pipeline in one process), as a user does.
Targets (issues): ingestion < 60 s; feature_engineering <= 180 s and < 2 GiB; gaussian_nn <= 6 min;
raw files through the model pipelines <= 15 min; ``kedro run`` <= 10 min (issue 18), on 2 cores.

    python benchmarks/pipeline_runs.py [--elk-dir ../shared/data/elk] [--data-dir /tmp/tca-bench]
                                       [--pipelines ingestion,augmentation,...|__default__]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"ingestion": (60.0, None), "augmentation": (None, None), "feature_engineering": (180.0, 2.0),
           "gaussian_nn": (360.0, None), "random_forest": (None, None), "regression": (None, None), "combined": (None, None),
           "reporting": (None, None), "__default__": (600.0, None)}
MODEL_STAGES = ("ingestion", "augmentation", "feature_engineering", "gaussian_nn", "random_forest", "regression", "combined")
TOTAL_TARGET_S = 900.0


def run_and_watch(command: list[str], env: dict[str, str], interval: float = 0.2, cwd: Path = REPO) -> tuple[float, float, int]:
    """Run a command; return (wall seconds, peak process-tree RSS in GiB sampled every ``interval`` s, exit code)."""
    seconds, rss, _, code = run_and_watch_memory(command, env, interval, cwd, proportional=False)
    return seconds, rss / 2**30, code


def run_and_watch_memory(command: list[str], env: dict[str, str], interval: float = 0.2, cwd: Path = REPO,
                         proportional: bool = True) -> tuple[float, float, float, int]:
    """Run a command; return (wall seconds, peak process-tree RSS and PSS in bytes, exit code).

    RSS summed over processes counts the pages they share (the Python binary, numpy's and the
    other libraries' code) once per process; PSS (Linux's proportional set size) splits each
    shared page among its users, so its sum is the memory the tree really holds. With
    ``proportional=False`` only RSS is sampled (PSS is then NaN), which is cheaper.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    peak_rss, peak_pss = 0, 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak_rss = max(peak_rss, sum(p.memory_info().rss for p in tree))
            if proportional:
                peak_pss = max(peak_pss, sum(p.memory_full_info().pss for p in tree))
        except psutil.Error:
            pass
        time.sleep(interval)
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode:
        print(stderr[-3000:], file=sys.stderr)
    return time.perf_counter() - start, peak_rss, (peak_pss if proportional else float("nan")), process.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elk-dir", default=str(REPO.parent / "shared" / "data" / "elk"))
    parser.add_argument("--data-dir", default=None, help="scratch output folder (default: a temporary one)")
    parser.add_argument("--pipelines", default=",".join(p for p in TARGETS if p != "__default__"),
                        help="comma-separated, in run order; __default__ is the whole `kedro run`")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="tca-bench-")
    kedro = str(Path(sys.executable).with_name("kedro"))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    print(f"elk_dir={args.elk_dir} data_dir={data_dir} cores={os.cpu_count()}")
    print(f"{'pipeline':<22}{'wall s':>9}{'peak GiB':>10}  target")
    failed, total, everything = 0, 0.0, 0.0
    for pipeline in args.pipelines.split(","):
        max_seconds, max_gib = TARGETS[pipeline]
        selection = [] if pipeline == "__default__" else [f"--pipeline={pipeline}"]
        seconds, gib, code = run_and_watch([kedro, "run", *selection, f"--params=elk_dir={args.elk_dir},data_dir={data_dir}"], env)
        target = ", ".join(t for t in (f"< {max_seconds:.0f} s" if max_seconds else "", f"< {max_gib} GiB" if max_gib else "") if t)
        status = "FAILED" if code else ""
        print(f"{pipeline:<22}{seconds:>9.1f}{gib:>10.2f}  {target} {status}")
        failed |= code != 0
        total += seconds if pipeline in MODEL_STAGES else 0.0
        everything = everything + seconds
    print(f"{'raw files -> models':<22}{total:>9.1f}{'':>10}  < {TOTAL_TARGET_S:.0f} s (the model pipelines)")
    print(f"{'all of the above':<22}{everything:>9.1f}")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
