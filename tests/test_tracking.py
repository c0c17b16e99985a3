"""Experiment tracking (kedro-mlflow, conf/base/mlflow.yml): which runs open, and what they hold.

Each Kedro session here tracks into this module's temporary store (TESS_CLUSTER_AGE_MLRUNS_DIR),
read back with MLflow's client.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tess_cluster_age.pipelines.tracking import TRACKED_METRICS, tracked_metrics
from tests.models.conftest import synthetic_folds, synthetic_model_input
from tests.pipelines.test_model_pipelines import periodograms
from tests.synthetic import REPO

MODEL_PIPELINES = {"gaussian_nn", "random_forest", "regression", "combined"}
EXPERIMENT = "tess-cluster-age"


# ------------------------------------------------------------------------------ the node
def _metric_rows(model, galaxy, metric, values, level="cluster", age_bin="all"):
    return [(model, level, galaxy, age_bin, seed, metric, value) for seed, value in enumerate(values)]


def test_tracked_metrics_are_cluster_level_all_ages_means_over_fold_seeds():
    rows = (_metric_rows("ridge", "MW", "rmse", [0.2, 0.4])               # mean 0.3
            + _metric_rows("ridge", "all", "cov68", [0.6, 0.7, 0.8])      # mean 0.7
            + _metric_rows("ridge", "MW", "rmse", [9.0, 9.0], level="segment")
            + _metric_rows("ridge", "MW", "rmse", [9.0, 9.0], age_bin="<7.5")
            + _metric_rows("ridge", "MW", "mae", [0.1, 0.1])              # not a tracked metric
            + _metric_rows("constant", "LMC", "nll", [float("nan")] * 2)  # undefined: left out
            + [("ridge", "cluster", "MW", "all", None, "rmse", 5.0)])     # a pooled (bootstrap) row has no seed
    metrics = pd.DataFrame(rows, columns=["model", "level", "galaxy", "age_bin", "seed", "metric", "value"])
    metrics["seed"] = metrics["seed"].astype("Int64")

    tracked = tracked_metrics(metrics)

    assert set(tracked) == {"ridge.MW.rmse", "ridge.all.cov68"}
    assert tracked["ridge.MW.rmse"] == {"value": pytest.approx(0.3), "step": 0}
    assert tracked["ridge.all.cov68"]["value"] == pytest.approx(0.7)


# ------------------------------------------------------------------------------ which pipelines open a run
@pytest.fixture(scope="module")
def project():
    bootstrap_project(REPO)
    return REPO


def test_kedro_mlflow_runs_through_the_project_hook_alone(project):
    """The plugin's own hook is not registered beside it (two hooks would open two runs)."""
    from kedro_mlflow.framework.hooks import MlflowHook

    from tess_cluster_age.hooks import TrackingHook

    with KedroSession.create(project_path=project) as session:
        hooks = [hook for hook in session._hook_manager.get_plugins() if isinstance(hook, MlflowHook)]
    assert len(hooks) == 1 and isinstance(hooks[0], TrackingHook)


def test_only_the_model_pipelines_and_the_default_run_are_tracked(project):
    from kedro.framework.project import pipelines

    with KedroSession.create(project_path=project) as session:
        disabled = set(session.load_context().mlflow.tracking.disable_tracking.pipelines)
    assert disabled <= set(pipelines), f"mlflow.yml names pipelines that are not registered: {disabled - set(pipelines)}"
    assert set(pipelines) - disabled == MODEL_PIPELINES | {"__default__"}


# ------------------------------------------------------------------------------ runs in a temporary store
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A tracking folder of this module's own, so that its runs can be counted."""
    folder = tmp_path_factory.mktemp("mlruns")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TESS_CLUSTER_AGE_MLRUNS_DIR", str(folder))
        yield folder


def _client(store):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{store}/mlflow.db")


def _runs(store) -> list:
    client = _client(store)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def _small_regression(data_dir) -> dict:
    """Run-time parameters: the scratch data folder, fewer inner folds and bootstrap draws."""
    return {"data_dir": str(data_dir), "regression": {"models": {"regression": {"options": {"inner_folds": 3}}}},
            "evaluation": {"bootstrap": {"n": 200}}}


@pytest.fixture(scope="module")
def regression_run(project, store, tmp_path_factory):
    """`kedro run --pipeline=regression` on 36 synthetic clusters (two fold seeds) in a scratch data folder."""
    data_dir = tmp_path_factory.mktemp("data")
    data = synthetic_model_input(n_clusters=36, seed=2)
    params = _small_regression(data_dir)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        catalog = session.load_context().catalog
        catalog.save("model_input", data)
        catalog.save("folds", synthetic_folds(data, n_splits=3, seeds=(0, 1)))
        catalog.save("periodograms_classic", periodograms(data, 64))
        catalog.save("periodograms_invariant", periodograms(data, 16))
    before = {run.info.run_id for run in _runs(store)}
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=["regression"])
    import mlflow

    assert mlflow.active_run() is None, "the run ends with its pipeline"
    new = [run for run in _runs(store) if run.info.run_id not in before]
    assert len(new) == 1, "one run per kedro run"
    return new[0], data_dir


def test_a_model_pipeline_run_logs_its_metrics_per_model_and_galaxy(regression_run):
    run, data_dir = regression_run
    assert run.info.run_name == "regression" and run.info.status == "FINISHED"
    metrics = pd.read_csv(data_dir / "08_reporting" / "metrics_regression.csv")
    models = set(metrics["model"])
    assert {"regression", "regression_shuffled_labels", "constant", "galaxy_mean"} <= models
    for model in models:
        for galaxy in ("MW", "LMC", "SMC", "all"):
            assert f"regression.{model}.{galaxy}.rmse" in run.data.metrics, (model, galaxy)
    assert all(name.startswith("regression.") for name in run.data.metrics)
    logged = {name.removeprefix("regression.") for name in run.data.metrics}
    assert logged == set(tracked_metrics(metrics))
    assert {name.rsplit(".", 1)[1] for name in logged} == set(TRACKED_METRICS)
    # the value is the table's cluster-level, all-ages RMSE of the model in that galaxy, mean over the two fold seeds
    rows = metrics.query("model == 'regression' and level == 'cluster' and galaxy == 'LMC' and age_bin == 'all' and metric == 'rmse'")
    assert len(rows) == 2 and math.isclose(run.data.metrics["regression.regression.LMC.rmse"], rows["value"].mean(), rel_tol=1e-12)


def test_a_model_pipeline_run_logs_its_parameters(regression_run):
    run, _ = regression_run
    params = run.data.params
    assert params["regression.models.regression.options.inner_folds"] == "3"          # the run-time override
    assert params["regression.models.regression.options.alpha"] == "10.0"
    assert params["evaluation.bootstrap.n"] == "200" and params["seed"] == "42"
    assert run.data.tags["kedro_command"] == "kedro run --pipeline=regression"


def test_a_model_pipeline_run_logs_its_metrics_file_and_model_file(regression_run, store):
    from mlflow.artifacts import download_artifacts

    from tess_cluster_age.models.persistence import read_models

    run, data_dir = regression_run
    client = _client(store)
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id, "regression")) == [
        "regression/metrics_regression.csv", "regression/regression.zip"]
    folder = download_artifacts(run_id=run.info.run_id, artifact_path="regression", tracking_uri=f"sqlite:///{store}/mlflow.db")
    logged = pd.read_csv(f"{folder}/metrics_regression.csv")
    pd.testing.assert_frame_equal(logged, pd.read_csv(data_dir / "08_reporting" / "metrics_regression.csv"))
    (saved,) = (data_dir / "06_models" / "regression.zip").glob("*/regression.zip")   # this run's version
    assert (data_dir / "06_models" / "regression.zip").is_dir()
    assert open(f"{folder}/regression.zip", "rb").read() == saved.read_bytes()
    assert set(read_models(f"{folder}/regression.zip").models) == {"regression"}


def test_the_predict_pipeline_opens_no_run(project, store, regression_run, tmp_path):
    """Dating new clusters is not an experiment: no new run, and the model pipeline's run is left as it was."""
    from tests.pipelines.predict.trained import NEW, save_bundle, train, write_new_cluster, write_training_folder

    _, bundle = train(write_training_folder(tmp_path / "elk"))
    save_bundle(bundle, tmp_path / "data" / "06_models")
    write_new_cluster(tmp_path / "new" / "LMC" / "new.fits.gz")
    before = {run.info.run_id: run.info.status for run in _runs(store)}
    params = {"data_dir": str(tmp_path / "data"), "predict_dir": str(tmp_path / "new")}
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=["predict"])
    predictions = pd.read_csv(tmp_path / "data" / "07_model_output" / "predictions.csv")
    assert list(predictions["name"]) == [NEW] and np.isfinite(predictions["log_age_pred"]).all()
    assert {run.info.run_id: run.info.status for run in _runs(store)} == before


def test_a_model_pipeline_whose_tracking_is_disabled_opens_no_run(project, store, regression_run, tmp_path):
    """conf/local/mlflow.yml can turn tracking off for a model pipeline: then nothing is logged
    anywhere, not even its metrics (which would otherwise open a run of their own)."""
    import shutil

    import yaml

    _, data_dir = regression_run
    conf = tmp_path / "conf"
    shutil.copytree(project / "conf" / "base", conf / "base")
    settings = yaml.safe_load((conf / "base" / "mlflow.yml").read_text())["tracking"]
    settings["disable_tracking"]["pipelines"].append("regression")
    (conf / "local").mkdir()
    (conf / "local" / "mlflow.yml").write_text(yaml.safe_dump({"tracking": settings}))
    before = {run.info.run_id: run.info.status for run in _runs(store)}
    with KedroSession.create(project_path=project, conf_source=str(conf), runtime_params=_small_regression(data_dir)) as session:
        session.run(pipeline_names=["regression"])
    assert len(list((data_dir / "06_models" / "regression.zip").glob("*/regression.zip"))) == 2   # it did run
    assert {run.info.run_id: run.info.status for run in _runs(store)} == before


def test_invalid_parameters_stop_the_run_before_a_tracking_run_opens(project, store):
    from tess_cluster_age.config import ParameterError

    before = len(_runs(store))
    with KedroSession.create(project_path=project, runtime_params={"regression": {"shufle_seed": 1}}) as session:
        with pytest.raises(ParameterError, match="shufle_seed"):
            session.run(pipeline_names=["regression"])
    assert len(_runs(store)) == before
