"""Benchmark: size and load time of a trained-model bundle as a model file (zip of JSON and arrays) and as a pickle.

Usage::

    python benchmarks/model_files.py [--model-input data/05_model_input/model_input.parquet]
        [--pipeline random_forest] [--min-samples-leaf 1 3] [--repeats 3]

For each ``min_samples_leaf`` (forests only; other pipelines use their parameters as they are), the
pipeline's saved models (``conf/base/parameters_<pipeline>.yml``) are fitted on the labelled rows of
``--model-input`` by the pipeline's own node (``train_final_models``), then written both ways in a
temporary folder. It prints the file sizes, the wall time of a fresh process that loads the bundle
(imports included: what a user waits for), the time of the load alone inside a warm process, and
checks that the loaded models predict the same as the fitted ones. It makes no assertion on time.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))      # time this checkout's code

LOADERS = {
    "pickle, every model": "import pickle, sys; bundle = pickle.load(open(sys.argv[1], 'rb'))",
    "model file, every model": "import sys; from tess_cluster_age.models.persistence import read_models; "
                               "bundle = read_models(sys.argv[1]); [bundle.models[n] for n in bundle.models]",
    "model file, first model": "import sys; from tess_cluster_age.models.persistence import read_models; "
                               "bundle = read_models(sys.argv[1]); bundle.models[next(iter(bundle.models))]",
    "model file, every predictor (what dating reads)": "import sys; from tess_cluster_age.models.persistence import read_models; "
                                                       "bundle = read_models(sys.argv[1]); [bundle.predictor(n) for n in bundle.models]",
}


def fresh_process_seconds(code: str, file: Path, repeats: int) -> float:
    """Median wall seconds of ``python -c code file`` (a fresh process each time)."""
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(file)], env=env, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fitted_bundle(model_input, pipeline: str, min_samples_leaf: int | None):
    """The pipeline's saved models fitted on ``model_input`` by ``train_final_models`` (as TrainedModels)."""
    import pandas as pd
    from kedro.config import OmegaConfigLoader

    from tess_cluster_age.models import estimator_class
    from tess_cluster_age.models.bundle import TrainedModels
    from tess_cluster_age.pipelines.modelling import PROVENANCE_PARAMETERS, train_final_models

    parameters = OmegaConfigLoader(str(REPO / "conf"), base_env="base", default_run_env="local")["parameters"]
    params = parameters[pipeline]
    if min_samples_leaf is not None:
        for spec in params["models"].values():
            if "min_samples_leaf" in estimator_class(spec["estimator"])().get_params():   # the forests
                spec["options"] = {**spec.get("options", {}), "min_samples_leaf": min_samples_leaf}
    no_metrics = pd.DataFrame(columns=["model", "level", "galaxy", "age_bin", "seed", "metric", "value"])
    provenance = {name: parameters[name] for name in PROVENANCE_PARAMETERS}
    bundle = train_final_models(model_input, None, None, no_metrics, params, parameters["evaluation"], parameters["seed"], provenance)
    return bundle if isinstance(bundle, TrainedModels) else TrainedModels.from_dict(bundle)


def same_predictions(bundle, loaded, table) -> bool:
    import numpy as np

    for name, model in bundle.models.items():
        expected, got = model.predict(table, return_std=True), loaded.models[name].predict(table, return_std=True)
        # forests sum their trees in threads, so the last bits of the mean may differ between calls
        if not (np.allclose(expected[0], got[0], rtol=0, atol=1e-12) and np.allclose(expected[1], got[1], rtol=0, atol=1e-12)):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-input", type=Path, default=REPO / "data" / "05_model_input" / "model_input.parquet")
    parser.add_argument("--pipeline", default="random_forest", choices=["random_forest", "regression", "gaussian_nn"])
    parser.add_argument("--min-samples-leaf", type=int, nargs="*", default=[1, 3], help="forests: the values to compare")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from tess_cluster_age.models.persistence import read_models, save_models

    table = pd.read_parquet(args.model_input)
    labelled = table[table["log_age"].notna()].reset_index(drop=True)
    print(f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{args.pipeline} fitted on {labelled['name'].nunique()} clusters, {len(labelled)} segments of {args.model_input}")
    settings = args.min_samples_leaf if args.pipeline == "random_forest" else [None]
    with tempfile.TemporaryDirectory() as folder:
        for leaf in settings:
            start = time.perf_counter()
            bundle = fitted_bundle(table, args.pipeline, leaf)
            fit_seconds = time.perf_counter() - start
            model_file, pickle_file = Path(folder) / f"{args.pipeline}.zip", Path(folder) / f"{args.pipeline}.pkl"
            start = time.perf_counter()
            save_models(bundle, model_file)
            save_seconds = time.perf_counter() - start
            pickle_file.write_bytes(pickle.dumps(bundle.to_dict(), protocol=pickle.HIGHEST_PROTOCOL))
            start = time.perf_counter()
            loaded = read_models(model_file)
            [loaded.models[n] for n in loaded.models]
            warm_seconds = time.perf_counter() - start
            start = time.perf_counter()
            pickle.loads(pickle_file.read_bytes())
            warm_pickle_seconds = time.perf_counter() - start
            label = f"min_samples_leaf={leaf}" if leaf is not None else "parameters as configured"
            print(f"\n{label}: models {list(bundle.models)}, fitted in {fit_seconds:.0f} s")
            print(f"  size: model file {model_file.stat().st_size / 2**20:7.1f} MiB (written in {save_seconds:.1f} s), "
                  f"pickle {pickle_file.stat().st_size / 2**20:7.1f} MiB")
            print(f"  load in a warm process: model file {warm_seconds:.2f} s, pickle {warm_pickle_seconds:.2f} s")
            for name, code in LOADERS.items():
                file = pickle_file if name.startswith("pickle") else model_file
                print(f"  fresh process, {name:26s} {fresh_process_seconds(code, file, args.repeats):6.2f} s wall (median of {args.repeats})")
            print(f"  loaded models predict as the fitted ones (to 1e-12 dex): {same_predictions(bundle, loaded, labelled)}")


if __name__ == "__main__":
    main()
