"""Notebook 02 (date a cluster) executes on a scratch data folder built by the test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.models.conftest import synthetic_folds, synthetic_model_input
from tests.notebook import execute_notebook
from tests.synthetic import REPO
from tess_cluster_age.pipelines.modelling import cross_validate_models, score_models, train_final_models

EVALUATION = {"bootstrap": {"n": 50, "seed": 0}}  # the rest: the defaults of EvaluationConfig
FOREST = {"models": {"random_forest": {"estimator": "random_forest", "per_galaxy": False, "save": True,
                                       "options": {"n_estimators": 10, "max_features": 0.5, "min_samples_leaf": 1, "use_galaxy": True,
                                                   "inner_folds": 3, "sigma_floor": 0.05, "n_jobs": 1}}},
          "controls": [], "shuffle_labels": False, "shuffle_seed": 0, "importance": {"models": []}, "tuning": {"n_trials": 0}}


def _light_curves(model_input: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for name in model_input["name"].unique():
        for sector in (1, 2):
            time = 1400.0 + 30 * sector + np.arange(300) / 48
            flux = 500 * (1 + 0.01 * np.sin(2 * np.pi * time / 2.5) + rng.normal(0, 0.003, time.size))
            parts.append(pd.DataFrame({"name": name, "sector": sector, "hdu": sector, "time": time, "flux": flux, "flux_err": 1.5,
                                       "cadence_s": 1800.0}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def scratch_data(tmp_path):
    """A data folder with what notebook 02 loads: model input, light curves, a trained forest and its out-of-fold rows."""
    model_input = synthetic_model_input(n_clusters=30, segments_per_cluster=3, seed=4)
    oof, *_ = cross_validate_models(model_input, synthetic_folds(model_input, n_splits=3, seeds=(0,)), None, None, FOREST, EVALUATION, 42)
    metrics = score_models(oof, EVALUATION)
    trained = train_final_models(model_input, None, None, metrics, FOREST, EVALUATION, 42, {"seed": 42})
    data_dir = tmp_path / "data"
    bootstrap_project(REPO)
    with KedroSession.create(project_path=REPO, runtime_params={"data_dir": str(data_dir)}) as session:
        catalog = session.load_context().catalog
        catalog.save("model_input", model_input)
        catalog.save("sector_light_curves", _light_curves(model_input))
        catalog.save("random_forest.oof", oof)
        catalog.save("random_forest.trained_models", trained)
    return data_dir, model_input


def test_notebook_dates_one_cluster_from_a_trained_model_in_the_catalog(scratch_data):
    data_dir, model_input = scratch_data
    printed, notebook = execute_notebook("02_date_a_cluster.ipynb", data_dir)
    lmc = model_input[model_input["galaxy"] == "LMC"]
    expected = sorted(lmc["name"].unique())[0]                       # all have 3 segments: the first LMC name
    assert "random_forest: trained on 30 clusters (90 segments)" in printed
    line = next(x for x in printed.splitlines() if x.startswith(expected))
    assert "(LMC, 3 segments): log age" in line and "Myr" in line and "68 %" in line
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the light curve and age distribution figure"


def test_notebook_03_dates_a_time_series_through_the_api_and_plots_its_distribution(tmp_path):
    from tests.pipelines.predict.trained import NEW, make_project, train, write_new_cluster, write_training_folder

    _, bundle = train(write_training_folder(tmp_path / "elk"))
    project = make_project(tmp_path / "project", bundle)
    light_curve = write_new_cluster(tmp_path / "new" / "new.fits")
    printed, notebook = execute_notebook("03_api.ipynb", parameters={"LIGHT_CURVE": str(light_curve), "GALAXY": "LMC",
                                                                      "MODELS": str(project)})
    assert f"{NEW}: 2 sectors" in printed
    line = next(x for x in printed.splitlines() if x.startswith(f"{NEW} (LMC, "))
    assert "random_forest says" in line and "Myr" in line and "skill against the LMC mean: better" in line
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the age distribution figure"
