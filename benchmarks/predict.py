"""Benchmark: dating new clusters from their FITS files through the ``tess-cluster-age`` command.

Usage::

    python benchmarks/predict.py [--unlabelled DIR] [--project-dir DIR] [--model NAME|all] [--repeats N]

Times, as a user meets them (a fresh process each time, wall clock):

1. one new cluster: ``tess-cluster-age predict <one .fits.gz> --out ...`` (target <= 10 s on 2 cores);
2. all clusters of ``--unlabelled`` (the 24 of ../shared/data/unlabelled) in one call.

It also times, inside one process, the parts of the single-cluster call: imports, Kedro session and
configuration, loading the trained models, and ingestion + segments + features + prediction, so
that the share of feature extraction is visible. It prints figures and makes no assertion. It
needs trained models in the project's data/06_models (``kedro run`` or the model pipelines).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))      # time this checkout's code


def cli_seconds(args: list[str], project: Path) -> tuple[float, int]:
    """Wall seconds and exit code of one ``python -m tess_cluster_age`` process."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tess_cluster_age", "--project-dir", str(project), *args], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        print(done.stderr[-2000:], file=sys.stderr)
    return seconds, done.returncode


def parts(file: Path, project: Path, model: str) -> dict[str, float]:
    """Seconds of each stage of dating one file, in this process."""
    out = {}
    start = time.perf_counter()
    from tess_cluster_age import cli, dating
    from tess_cluster_age.config import PredictConfig
    from tess_cluster_age.reading import read_light_curves

    out["imports (torch, scipy, kedro, project)"] = time.perf_counter() - start
    start = time.perf_counter()
    os.chdir(project)
    with cli._session(project, verbose=False) as session:
        context = session.load_context()
        config = dataclasses.replace(PredictConfig.from_params(context.params["predict"]), models=model if model == "all" else (model,))
        trained = context.catalog.load("predict_trained_models")
        out["Kedro session and configuration"] = time.perf_counter() - start
        start = time.perf_counter()
        models = dating.select_models(trained, model)
        out["loading the trained models"] = time.perf_counter() - start
        start = time.perf_counter()
        read = read_light_curves(file, strict=False, config=dating.reading_config(models))
        clusters, samples = read.cluster_table(), read.sample_table()
        provenance = models[0].provenance
        out["reading"] = time.perf_counter() - start
        start = time.perf_counter()
        dating.cluster_model_input(clusters, samples, provenance, config.execution)
        out["segments and features"] = time.perf_counter() - start
        start = time.perf_counter()
        dating.date_clusters(read, models, config)
        out["the whole dating function (again, features included)"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unlabelled", type=Path, default=REPO.parent / "shared" / "data" / "unlabelled")
    parser.add_argument("--project-dir", type=Path, default=REPO)
    parser.add_argument("--model", default="all")
    parser.add_argument("--repeats", type=int, default=1, help="runs of the single-cluster call (the best is reported too)")
    args = parser.parse_args()
    files = sorted(p for p in args.unlabelled.rglob("*.fits*") if p.is_file())
    if not files:
        sys.exit(f"no ELK files under {args.unlabelled}")
    one = files[0]
    print(f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch:
        times = []
        for _ in range(args.repeats):
            seconds, code = cli_seconds(["predict", str(one), "--model", args.model, "--out", f"{scratch}/one.csv"], args.project_dir)
            times.append(seconds)
        print(f"one cluster ({one.name}) through the CLI: {times[-1]:.1f} s wall (best of {len(times)}: {min(times):.1f} s), exit {code}")
        seconds, code = cli_seconds(["predict", str(args.unlabelled), "--model", args.model, "--out", f"{scratch}/all.csv"], args.project_dir)
        print(f"{len(files)} clusters in one CLI call: {seconds:.1f} s wall ({seconds / len(files):.2f} s per cluster), exit {code}")
    print("parts of the single-cluster call, in one process:")
    for name, seconds in parts(one.resolve(), args.project_dir.resolve(), args.model).items():
        print(f"  {name:55s} {seconds:6.1f} s")


if __name__ == "__main__":
    main()
