"""The combined pipeline runs as a slice over an in-memory catalog, after two model pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from tess_cluster_age import evaluation
from tess_cluster_age.config import ParameterError, validate_section
from tess_cluster_age.models.persistence import read_models, save_models
from tess_cluster_age.pipelines.combined import create_pipeline as combined_pipeline
from tess_cluster_age.pipelines.random_forest import create_pipeline as random_forest_pipeline
from tess_cluster_age.pipelines.regression import create_pipeline as regression_pipeline
from tests.models.conftest import synthetic_folds, synthetic_model_input
from tests.pipelines.test_model_pipelines import EVALUATION, PROVENANCE, KeptDataset, periodograms, project_section, small

SECTION = {"models": {"combined": {"components": ["regression.regression", "random_forest.random_forest"]}}, "control": True}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict:
    data = synthetic_model_input(n_clusters=45, seed=7)
    forest = small(project_section("random_forest"), n_estimators=10, inner_folds=3, n_jobs=1)
    forest["models"] = {"random_forest": forest["models"]["random_forest"]}
    forest["controls"], forest["importance"], forest["tuning"] = ["random_forest"], {"models": []}, {"n_trials": 0}
    ridge = small(project_section("regression"), inner_folds=3)
    catalog = DataCatalog({
        "model_input": MemoryDataset(data), "folds": MemoryDataset(synthetic_folds(data, n_splits=3, seeds=(0, 1))),
        "periodograms_classic": MemoryDataset(periodograms(data, 8)), "periodograms_invariant": MemoryDataset(periodograms(data, 8)),
        "params:random_forest": MemoryDataset(forest), "params:regression": MemoryDataset(ridge),
        "params:gaussian_nn": MemoryDataset(project_section("gaussian_nn")), "params:combined": MemoryDataset(SECTION),
        "params:evaluation": MemoryDataset(EVALUATION), "params:predict": MemoryDataset(project_section("predict")), **{f"params:{k}": MemoryDataset(v) for k, v in PROVENANCE.items()},
        # gaussian_nn is not run here: the combined pipeline reads its tables, empty ones will do
        "gaussian_nn.oof": MemoryDataset(pd.DataFrame(columns=["model", "level"])),
        "gaussian_nn.inner_oof": MemoryDataset(pd.DataFrame(columns=evaluation.INNER_OOF_COLUMNS)),
        "gaussian_nn.trained_models": MemoryDataset(None),
    })
    kept = [f"{p}.{o}" for p in ("random_forest", "regression", "combined") for o in ("oof", "metrics", "trained_models")]
    for name in [*kept, "random_forest.inner_oof", "regression.inner_oof", "combined.weights"]:
        catalog[name] = KeptDataset()
    SequentialRunner().run(random_forest_pipeline() + regression_pipeline(), catalog)
    SequentialRunner().run(combined_pipeline(), catalog)
    return {name: catalog.load(name) for name in [*kept, "random_forest.inner_oof", "combined.weights"]}


def cluster_rmse(metrics: pd.DataFrame, model: str) -> float:
    rows = metrics[(metrics["model"] == model) & (metrics["level"] == "cluster") & (metrics["galaxy"] == "all") & (metrics["age_bin"] == "all")
                   & (metrics["metric"] == "rmse")]
    return float(rows["value"].mean())


def test_the_model_pipelines_keep_every_folds_inner_predictions(outputs):
    inner = outputs["random_forest.inner_oof"]
    assert list(inner.columns) == evaluation.INNER_OOF_COLUMNS
    assert set(inner["model"]) == {"random_forest", "random_forest_shuffled_labels"}
    assert len(inner[["seed", "fold"]].drop_duplicates()) == 6


def test_the_combined_pipeline_scores_mixes_and_saves(outputs, tmp_path):
    oof, metrics, weights = outputs["combined.oof"], outputs["combined.metrics"], outputs["combined.weights"]
    assert {"combined", "combined_shuffled_labels", "constant", "galaxy_mean"} <= set(oof["model"])
    assert set(oof["level"]) == {"segment", "cluster"}
    # no better than the better component, no worse than the worse (a mixture of two good models)
    combined = cluster_rmse(metrics, "combined")
    parts = [cluster_rmse(outputs[f"{p}.metrics"], m) for p, m in (("regression", "regression"), ("random_forest", "random_forest"))]
    assert min(parts) - 0.05 < combined < max(parts) + 0.01
    assert combined < cluster_rmse(metrics, "galaxy_mean") - 0.3
    # the control mixes the components' controls and shows no skill
    best_baseline = min(cluster_rmse(metrics, f"{b}_shuffled_labels") for b in ("constant", "galaxy_mean"))
    assert cluster_rmse(metrics, "combined_shuffled_labels") >= best_baseline - 0.01
    assert evaluation.controls_without_skill(metrics)
    # weights: every outer fold, then the saved model's (seed = fold = -1); each sums to 1
    final = weights[weights["seed"] == evaluation.FINAL_FIT]
    assert set(final["component"]) == {"regression", "random_forest"} and set(final["galaxy"]) == {"all", "MW", "LMC", "SMC"}
    assert np.allclose(weights.groupby(["model", "seed", "fold", "galaxy"])["weight"].sum(), 1.0)
    # the saved model dates on its own from its file: the components' predictors are inside
    bundle = outputs["combined.trained_models"]
    assert list(bundle.models) == ["combined"] and bundle.model_info["combined"].cross_validation["all"]["rmse"] == pytest.approx(combined)
    save_models(bundle, tmp_path / "combined.zip")
    data = synthetic_model_input(n_clusters=9, seed=99)
    expected = bundle.models["combined"].predict(data, return_std=True)
    stored = read_models(tmp_path / "combined.zip").predictor("combined").predict(data)
    assert np.array_equal(stored[0], expected[0]) and np.array_equal(stored[1], expected[1])
    # the recommendation among every saved model (by held-out NLL), and why, goes with the models
    record = read_models(tmp_path / "combined.zip").recommended
    assert record["recommend_by"] == "nll" and set(record["galaxies"]) == {"MW", "LMC", "SMC"}
    for galaxy, entry in record["galaxies"].items():
        nll = {name: outputs[f"{p}.trained_models"].model_info[name].cross_validation[galaxy]["nll"]
               for p in ("random_forest", "regression", "combined") for name in outputs[f"{p}.trained_models"].model_info}
        assert entry["model"] == min(nll, key=nll.get) and entry["pipeline"] in ("random_forest", "regression", "combined")
        assert f"{nll[entry['model']]:.3f}" in entry["why"]
    forest = outputs["random_forest.trained_models"].models["random_forest"].predict(data)
    ridge = outputs["regression.trained_models"].models["regression"].predict(data)
    assert np.all((expected[0] >= np.minimum(forest, ridge) - 1e-9) & (expected[0] <= np.maximum(forest, ridge) + 1e-9))


@pytest.mark.parametrize("section, problem", [
    ({"models": {"c": {"components": ["regression.regression"]}}}, "at least two"),
    ({"models": {"c": {"components": ["regression", "random_forest.random_forest"]}}}, "'<pipeline>.<model>'"),
    ({"models": {"c": {"components": ["a.b", "a.b"]}}}, "listed twice"),
    ({"models": {"c": {"components": ["a.b", "c.d"], "weights": 1}}}, "weights"),
])
def test_a_bad_combined_section_is_named(section, problem):
    with pytest.raises(ParameterError, match=problem):
        validate_section("combined", section)
