"""Benchmark: dating new clusters, as a user meets it (a fresh process each time, wall clock and peak memory).

    python benchmarks/predict.py [--unlabelled DIR] [--project-dir DIR] [--repeats N]

Measured side by side in one run, each the median of ``--repeats`` warm runs (one run first
warms the disk cache), with the peak memory of the process tree (sampled every 20 ms, as RSS and
as PSS, see ``pipeline_runs.run_and_watch_memory``):

- the **floor**: a Python process that only imports numpy and astropy and reads the file;
- ``tess-cluster-age predict`` on the smallest held-out LMC file, with the recommended model
  (target <= 2 s) and with every model (``--model all``, target <= 5 s);
- ``tess-cluster-age predict`` on all 24 held-out clusters in one call (target <= 10 s);
- **the Kedro path** for the same inputs: ``kedro run --pipeline=predict``, which starts a Kedro
  session and dates with every model (before the API issue, the command took this path: 7.4 s for
  the one file and 666 MiB, with pickled models);

target peak memory <= 400 MiB. It needs trained models in the project's data/06_models
(``kedro run``); the Kedro path writes the project's data/07_model_output/predictions.csv as
``kedro run --pipeline=predict`` does. It prints figures and ratios and makes no assertion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_runs import run_and_watch_memory  # noqa: E402 - the one process-tree watcher of the benchmarks

REPO = Path(__file__).resolve().parents[1]
FLOOR = ("import sys, numpy; from astropy.io import fits\n"
         "with fits.open(sys.argv[1]) as hdul: [h.data for h in hdul[1:]]")


def measure(command: list[str], repeats: int, cwd: Path) -> tuple[float, float, float, int]:
    """Median wall seconds of ``repeats`` warm runs (after one to warm up), the largest peak RSS and
    PSS in MiB of the process tree among them (from separate runs that sample memory: reading PSS
    slows a run down), and the last exit code."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    run_and_watch_memory(command, env, 0.02, cwd, proportional=False)
    timed = [run_and_watch_memory(command, env, 0.02, cwd, proportional=False) for _ in range(repeats)]
    memory = [run_and_watch_memory(command, env, 0.02, cwd) for _ in range(max(1, repeats // 2))]
    mib = 2**20
    return (statistics.median(r[0] for r in timed), max(r[1] for r in timed + memory) / mib, max(r[2] for r in memory) / mib,
            timed[-1][3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unlabelled", type=Path, default=REPO.parent / "shared" / "data" / "unlabelled")
    parser.add_argument("--project-dir", type=Path, default=REPO)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files = sorted(p for p in args.unlabelled.rglob("*.fits*") if p.is_file())
    if not files:
        sys.exit(f"no light-curve files under {args.unlabelled}")
    small = min((p for p in files if p.parent.name == "LMC"), key=lambda p: p.stat().st_size)
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "tess-cluster-age"), "--project-dir", str(args.project_dir), "predict"]
    kedro = [str(bin_dir / "kedro"), "run", "--pipeline=predict"]
    print(f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"median of {args.repeats} warm runs; one file: {small.parent.name}/{small.name} ({small.stat().st_size / 1e3:.0f} kB)")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        one_folder = Path(scratch) / "one" / "LMC"
        one_folder.mkdir(parents=True)
        shutil.copy(small, one_folder / small.name)
        floor = measure([sys.executable, "-c", FLOOR, str(small)], args.repeats, args.project_dir)
        rows.append(("floor: import numpy + astropy, read the file", floor, None))
        for label, extra, target in (("predict, one cluster, recommended model", [], 2.0),
                                     ("predict, one cluster, every model", ["--model", "all"], 5.0)):
            rows.append((label, measure([*command, str(small), *extra, "--out", f"{scratch}/one.csv"], args.repeats, args.project_dir), target))
        rows.append(("Kedro path (kedro run --pipeline=predict), one cluster, every model",
                     measure([*kedro, f"--params=predict_dir={one_folder.parent}"], args.repeats,
                             args.project_dir), None))
        rows.append((f"predict, all {len(files)} clusters, recommended model",
                     measure([*command, str(args.unlabelled), "--out", f"{scratch}/all.csv"], args.repeats, args.project_dir), 10.0))
        rows.append((f"Kedro path, all {len(files)} clusters, every model",
                     measure([*kedro, f"--params=predict_dir={args.unlabelled}"], args.repeats,
                             args.project_dir), None))
    floor_seconds = rows[0][1][0]
    print(f"{'what':<72}{'wall s':>8}{'x floor':>9}{'RSS MiB':>9}{'PSS MiB':>9}  target")
    for label, (seconds, rss, pss, code), target in rows:
        status = "" if code == 0 else f" (exit {code})"
        goal = f"<= {target:g} s, <= 400 MiB" if target else ""
        print(f"{label:<72}{seconds:>8.2f}{seconds / floor_seconds:>9.1f}{rss:>9.0f}{pss:>9.0f}  {goal}{status}")
    print("RSS: peak resident memory summed over the process tree (shared library pages counted once per process);\n"
          "PSS: peak proportional set size summed over the tree (shared pages split among the processes): the memory held.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
