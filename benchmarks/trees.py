"""Benchmark: the numpy tree predictors against the libraries that grew the trees, on real rows.

Usage::

    python benchmarks/trees.py [--model-input data/05_model_input/model_input.parquet]
        [--folds data/05_model_input/folds.parquet] [--repeats 5] [--no-importance]

The held-out clusters of fold seed 0, fold 0 are predicted by trees grown on the other folds'
clusters with the options of ``conf/base/parameters_random_forest.yml``:

- a scikit-learn forest of ``inner_folds x n_estimators`` trees (the size of a ``random_forest``
  model) as :class:`~tess_cluster_age.models.predictors.TreeEnsembleMember`, against
  ``RandomForestRegressor.predict`` in one thread;
- a LightGBM model of ``n_estimators`` rounds (``gradient_boosting_per_galaxy``'s options, pooled
  galaxies, no early stopping) as :class:`~tess_cluster_age.models.predictors.BoostedTreesMember`,
  against ``Booster.predict(raw_score=True)`` in one thread;

each on the held-out rows and on every labelled row. It prints the median wall time of
``--repeats`` calls of each (after one call that builds the predictor's joined tables), their
ratio (numpy / library), and whether the two give the same bits. Then, unless ``--no-importance``,
it fits a ``random_forest`` model as the pipeline does and times one held-out fold of its
permutation importance (:func:`tess_cluster_age.evaluation.permutation_importance`, the pipeline's
``n_repeats``). It makes no assertion on time: the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))      # time this checkout's code


def median_seconds(call, repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls of ``call()`` (after one untimed call)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(label: str, numpy_call, library_call, repeats: int) -> None:
    """Print the wall times of the numpy predictor and the library on the same rows, and whether the bits agree."""
    import numpy as np

    same = np.array_equal(numpy_call(), library_call())
    numpy_seconds, library_seconds = median_seconds(numpy_call, repeats), median_seconds(library_call, repeats)
    print(f"  {label:42s} numpy {numpy_seconds * 1e3:8.1f} ms   library {library_seconds * 1e3:8.1f} ms   "
          f"ratio {numpy_seconds / library_seconds:5.1f}   same bits: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-input", type=Path, default=REPO / "data" / "05_model_input" / "model_input.parquet")
    parser.add_argument("--folds", type=Path, default=REPO / "data" / "05_model_input" / "folds.parquet")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-importance", action="store_true", help="skip the permutation-importance timing")
    args = parser.parse_args()

    import lightgbm
    import numpy as np
    import pandas as pd
    import yaml
    from sklearn.ensemble import RandomForestRegressor

    from tess_cluster_age.evaluation import permutation_importance
    from tess_cluster_age.models.boosting import GradientBoostingAgeModel, booster_member
    from tess_cluster_age.models.forest import RandomForestAgeModel, forest_member
    from tess_cluster_age.models.predictors import design_matrix
    from tess_cluster_age.schema import feature_columns

    params = yaml.safe_load((REPO / "conf" / "base" / "parameters_random_forest.yml").read_text())["random_forest"]
    forest_options = params["models"]["random_forest"]["options"]
    boosting_options = params["models"]["gradient_boosting_per_galaxy"]["options"]
    table = pd.read_parquet(args.model_input)
    folds = pd.read_parquet(args.folds)
    labelled = table[table["log_age"].notna() & table["name"].isin(folds["name"])]
    held_out = folds[(folds["seed"] == 0) & (folds["fold"] == 0)]["name"]
    train, test = labelled[~labelled["name"].isin(held_out)], labelled[labelled["name"].isin(held_out)]
    features = feature_columns(table)
    print(f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"trained on {train['name'].nunique()} clusters ({len(train)} segments); held out {test['name'].nunique()} "
          f"clusters ({len(test)} segments); {len(features)} features + galaxy one-hot")

    def design(rows):
        return design_matrix(rows, features, use_galaxy=True)

    x_train, y_train, w_train = design(train), train["log_age"].to_numpy(float), train["weight"].to_numpy(float)
    n_trees = int(forest_options["n_estimators"]) * int(forest_options["inner_folds"])
    forest = RandomForestRegressor(n_estimators=n_trees, max_features=forest_options["max_features"],
                                   min_samples_leaf=forest_options["min_samples_leaf"], n_jobs=2, random_state=0)
    forest.fit(x_train, y_train, sample_weight=w_train)
    forest.n_jobs = 1                                       # one thread: the order of the sum, hence the bits, is the member's
    member = forest_member(forest)
    print(f"\nscikit-learn forest, {n_trees} trees ({sum(len(t) for t in member.nodes)} nodes):")
    for label, rows in ((f"held-out fold ({len(test)} rows)", test), (f"every labelled row ({len(labelled)} rows)", labelled)):
        x = design(rows)
        compare(label, lambda x=x: member.mean_std(x)[0], lambda x=x: forest.predict(x), args.repeats)

    booster_model = GradientBoostingAgeModel(**boosting_options)
    rounds = int(booster_model.n_estimators)
    booster = lightgbm.train(booster_model.lightgbm_params(seed=0), lightgbm.Dataset(x_train, y_train, weight=w_train), rounds)
    boosted = booster_member(booster, rounds)
    print(f"\nLightGBM, {rounds} trees ({sum(len(t) for t in boosted.nodes)} nodes):")
    for label, rows in ((f"held-out fold ({len(test)} rows)", test), (f"every labelled row ({len(labelled)} rows)", labelled)):
        x = design(rows)
        compare(label, lambda x=x: boosted.mean_std(x)[0], lambda x=x: booster.predict(x, raw_score=True, num_threads=1), args.repeats)

    if args.no_importance:
        return
    model = RandomForestAgeModel(**forest_options)
    start = time.perf_counter()
    model.fit(train, y_train, sample_weight=w_train, groups=train["name"].to_numpy())
    fit_seconds = time.perf_counter() - start
    predict_seconds = median_seconds(lambda: model.predict(test), args.repeats)
    repeats = int(params["importance"]["n_repeats"])
    start = time.perf_counter()
    permutation_importance(model, test, test["log_age"].to_numpy(float), test["name"].to_numpy(), features, repeats, 0)
    importance_seconds = time.perf_counter() - start
    print(f"\nrandom_forest model (pipeline options): fit {fit_seconds:.1f} s, predict the held-out fold {predict_seconds * 1e3:.0f} ms, "
          f"permutation importance of the fold ({len(features)} features x {repeats} repeats) {importance_seconds:.1f} s")


if __name__ == "__main__":
    main()
