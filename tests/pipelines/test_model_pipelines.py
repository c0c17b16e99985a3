"""The model pipelines (one template, three namespaces) run as slices over an in-memory catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from tess_cluster_age import evaluation
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.pipelines.gaussian_nn import create_pipeline as gaussian_nn_pipeline
from tess_cluster_age.pipelines.modelling import cross_validate_models, score_models
from tess_cluster_age.pipelines.random_forest import create_pipeline as random_forest_pipeline
from tess_cluster_age.pipelines.regression import create_pipeline as regression_pipeline
from tests.models.conftest import synthetic_folds, synthetic_model_input
from tests.synthetic import project_parameters

EVALUATION = project_parameters()["evaluation"] | {"bootstrap": {"n": 200, "seed": 0}}
PROVENANCE = {"ingestion": {"galaxies": ["MW", "LMC", "SMC"]}, "augmentation": {"kinds": {"sector": True}}, "classic_features": {"f_step": 0.01},
              "invariant_features": {"bin_minutes": 30.0}, "model_input": {"feature_sets": ["classic", "invariant"]}, "seed": 42}


def project_section(name: str) -> dict:
    return project_parameters()[name]


def small(section: dict, **options) -> dict:
    """The project's section with fast model options."""
    out = dict(section)
    out["models"] = {n: {**spec, "options": {**spec.get("options", {}), **options}} for n, spec in section["models"].items()}
    out["importance"] = {**section.get("importance", {}), "n_repeats": 1}
    return out


class KeptDataset(MemoryDataset):
    """A MemoryDataset the runner cannot release, so that intermediate outputs can be checked."""

    def _release(self) -> None:
        pass


def periodograms(data: pd.DataFrame, n_bins: int) -> Periodograms:
    rng = np.random.default_rng(0)
    power = rng.normal(size=(len(data), n_bins)) + data[["signal"]].to_numpy()
    return Periodograms(data["segment_id"].to_numpy(), np.linspace(0.1, 10, n_bins), power, "synthetic")


def run(pipeline, name: str, section: dict, data: pd.DataFrame) -> dict:
    catalog = DataCatalog({
        "model_input": MemoryDataset(data), "folds": MemoryDataset(synthetic_folds(data, n_splits=3, seeds=(0, 1))),
        "periodograms_classic": MemoryDataset(periodograms(data, 64)), "periodograms_invariant": MemoryDataset(periodograms(data, 16)),
        f"params:{name}": MemoryDataset(section), "params:evaluation": MemoryDataset(EVALUATION),
        **{f"params:{k}": MemoryDataset(v) for k, v in PROVENANCE.items()},
    })
    outputs = {f"{name}.{o}" for o in ("oof", "metrics", "importances", "trained_models")}
    for output in outputs:
        catalog[output] = KeptDataset()
    SequentialRunner().run(pipeline, catalog)
    return {o.split(".", 1)[1]: catalog.load(o) for o in outputs}


def test_the_three_pipelines_are_one_template_under_three_namespaces():
    for name, factory in (("gaussian_nn", gaussian_nn_pipeline), ("random_forest", random_forest_pipeline), ("regression", regression_pipeline)):
        pipeline = factory()
        assert {n.name for n in pipeline.nodes} == {f"{name}.{n}" for n in ("cross_validate_models_node", "score_models_node",
                                                                            "collect_provenance_node", "train_final_models_node",
                                                                            "tracked_metrics_node")}
        assert {"model_input", "folds", f"params:{name}", "params:evaluation"} <= pipeline.inputs()
        assert pipeline.all_outputs() >= {f"{name}.{o}" for o in ("oof", "metrics", "importances", "trained_models", "tracked_metrics")}


def test_random_forest_pipeline_writes_predictions_metrics_importances_and_a_model():
    data = synthetic_model_input(n_clusters=45, seed=1)
    out = run(random_forest_pipeline(), "random_forest", small(project_section("random_forest"), n_estimators=20, inner_folds=3, n_jobs=1),
              data)
    oof, metrics, model = out["oof"], out["metrics"], out["trained_models"]
    expected = {"random_forest", "random_forest_per_galaxy", "random_forest_no_galaxy", "gradient_boosting_per_galaxy", "constant", "galaxy_mean",
                "random_forest_shuffled_labels", "gradient_boosting_per_galaxy_shuffled_labels", "constant_shuffled_labels",
                "galaxy_mean_shuffled_labels"}
    assert set(oof["model"]) == expected
    cluster = oof[(oof["level"] == "cluster") & (oof["model"] == "random_forest")]
    assert len(cluster) == 2 * 45 and set(cluster["seed"]) == {0, 1}          # every cluster once per seed
    assert list(metrics.columns) == ["model", "level", "galaxy", "age_bin", "seed", "metric", "value"]
    assert {"all", "MW", "LMC", "SMC"} == set(metrics["galaxy"])
    assert set(evaluation.METRICS) <= set(metrics["metric"])
    assert {"rmse_diff", "rmse_diff_lo95", "rmse_diff_hi95"} <= set(metrics["metric"])
    assert set(out["importances"]["feature"]) == {"signal", "square", "noise", "cluster_id"}
    top = out["importances"].groupby("feature")["importance"].mean().idxmax()
    assert top in {"signal", "square"}
    assert set(model.models) == {"random_forest", "random_forest_per_galaxy", "gradient_boosting_per_galaxy"}  # save: false is not saved
    assert model.feature_columns == ("signal", "square", "noise", "cluster_id")
    assert model.provenance == PROVENANCE and model.n_clusters == 45
    cross_validation = model.model_info["random_forest"].cross_validation
    assert set(cross_validation) == {"all", "MW", "LMC", "SMC"} and {"nll", "rmse"} <= set(cross_validation["LMC"])
    mu, sigma = model.models["random_forest"].predict(data, return_std=True)
    assert np.all(sigma >= 0.05)


def test_regression_and_gaussian_nn_pipelines_run():
    data = synthetic_model_input(n_clusters=36, seed=2)
    out = run(regression_pipeline(), "regression", small(project_section("regression"), inner_folds=3), data)
    assert {"regression", "regression_shuffled_labels"} <= set(out["oof"]["model"])
    section = small(project_section("gaussian_nn"), hidden=[8], max_epochs=5, patience=2, inner_folds=2)
    section["models"]["gaussian_nn"]["periodogram"] = "invariant"
    section["models"]["gaussian_nn"]["options"]["periodogram_branch"] = "linear"
    out = run(gaussian_nn_pipeline(), "gaussian_nn", section, data)
    assert {"gaussian_nn", "nn_mse", "gaussian_nn_no_galaxy", "gaussian_nn_shuffled_labels"} <= set(out["oof"]["model"])
    assert set(out["trained_models"].models) == {"gaussian_nn", "nn_mse"}


def _cluster_rmse(metrics: pd.DataFrame, model: str) -> float:
    rows = metrics[(metrics["model"] == model) & (metrics["level"] == "cluster") & (metrics["galaxy"] == "all") & (metrics["age_bin"] == "all")
                   & (metrics["metric"] == "rmse")]
    return float(rows["value"].mean())


def test_with_shuffled_labels_no_model_shows_skill():
    """Real labels: a large gain over galaxy_mean. Permuted labels: none (no leak lets it through)."""
    data = synthetic_model_input(n_clusters=60, seed=3)
    folds = synthetic_folds(data, n_splits=3, seeds=(0, 1))
    section = small(project_section("random_forest"), n_estimators=30, inner_folds=3, n_jobs=1)
    section["models"] = {"random_forest": section["models"]["random_forest"]}
    section["controls"], section["tuning"] = ["random_forest"], {"n_trials": 0}
    section["importance"] = {"models": []}
    oof, *_ = cross_validate_models(data, folds, None, None, {**section, "shuffle_labels": True}, EVALUATION, 42)
    metrics = score_models(oof, EVALUATION)
    assert set(oof["model"]) == {"random_forest_shuffled_labels", "constant_shuffled_labels", "galaxy_mean_shuffled_labels"}
    assert _cluster_rmse(metrics, "random_forest_shuffled_labels") >= _cluster_rmse(metrics, "galaxy_mean_shuffled_labels") - 0.01
    assert evaluation.controls_without_skill(metrics)

    oof, *_ = cross_validate_models(data, folds, None, None, section, EVALUATION, 42)
    metrics = score_models(oof, EVALUATION)
    assert _cluster_rmse(metrics, "random_forest") < _cluster_rmse(metrics, "galaxy_mean") - 0.3
    assert _cluster_rmse(metrics, "random_forest_shuffled_labels") >= _cluster_rmse(metrics, "galaxy_mean_shuffled_labels") - 0.01


def test_the_shuffled_label_check_catches_a_leaking_model():
    """A model that reads the held-out labels (a leak) shows skill on permuted labels: the check fails."""
    data = synthetic_model_input(n_clusters=45, seed=4)
    folds = synthetic_folds(data, n_splits=3)
    labels = evaluation.shuffled_labels(data["log_age"], data["name"], seed=0)

    class Leaky:
        def fit(self, X, y, sample_weight=None, groups=None):
            return self

        def predict(self, X, return_std=False):
            return labels.loc[X.index].to_numpy() + 0.01, np.full(len(X), 0.1)

    shuffled = data.assign(log_age=labels)
    rows = [evaluation.cross_validate(Leaky, shuffled, folds, "leaky_shuffled_labels"),
            evaluation.cross_validate(lambda: __import__("tess_cluster_age.models", fromlist=["GalaxyMeanModel"]).GalaxyMeanModel(),
                                      shuffled, folds, "galaxy_mean_shuffled_labels")]
    metrics = score_models(evaluation.with_cluster_rows(pd.concat(rows)), EVALUATION)
    assert not evaluation.controls_without_skill(metrics)


@pytest.mark.parametrize("edges", [(8.0,), (7.0, 7.8, 8.6)])
def test_the_evaluation_age_bins_reach_the_inner_folds(edges, monkeypatch):
    """Changing ``evaluation.age_bin_edges`` changes the strata of every model's inner folds too."""
    from tess_cluster_age.models import base

    seen = []
    drawn = base.cluster_folds

    def spy(galaxy, log_age, names, n_splits, seed, age_bin_edges, quiet=False):
        seen.append(tuple(age_bin_edges))
        return drawn(galaxy, log_age, names, n_splits, seed, age_bin_edges, quiet)

    monkeypatch.setattr(base, "cluster_folds", spy)
    data = synthetic_model_input(n_clusters=45, seed=5)
    folds = synthetic_folds(data, n_splits=3, seeds=(0,))
    section = small(project_section("regression"), inner_folds=3)
    section.update(controls=[], importance={"models": []})
    cross_validate_models(data, folds, None, None, section, {**EVALUATION, "age_bin_edges": list(edges)}, 42)
    assert len(seen) == 3 and set(seen) == {edges}  # one inner split per outer fold, each with the configured edges

    # and the edges change the folds themselves: the inner folds of one training set under two sets of edges
    labelled = data.drop_duplicates("name")
    split = [drawn(labelled["galaxy"].to_numpy(), labelled["log_age"].to_numpy(), labelled["name"].to_numpy(), 3, 0, e, True)
             for e in (edges, EVALUATION["age_bin_edges"])]
    assert not np.array_equal(*split)


def test_tuning_reaches_only_the_models_it_names():
    """``tuning.models`` selects the models optuna tunes (on inner folds); the others keep their
    configured options, which the saved model file records as no tuned parameters."""
    section = small(project_section("random_forest"), n_estimators=10, inner_folds=3, n_jobs=1)
    section["models"] = {name: section["models"][name] for name in ("random_forest_per_galaxy", "gradient_boosting_per_galaxy")}
    section |= {"controls": [], "importance": {"models": []},
                "tuning": {**section["tuning"], "n_trials": 2, "models": ["gradient_boosting_per_galaxy"]}}
    info = run(random_forest_pipeline(), "random_forest", section, synthetic_model_input(n_clusters=45, seed=2))["trained_models"].model_info
    space = set(section["tuning"]["space"]["gradient_boosting"])
    tuned = info["gradient_boosting_per_galaxy"].tuned_parameters
    assert set(tuned) == {"MW", "LMC", "SMC"} and all(set(chosen) == space for chosen in tuned.values())
    assert info["random_forest_per_galaxy"].tuned_parameters == {"MW": {}, "LMC": {}, "SMC": {}}
