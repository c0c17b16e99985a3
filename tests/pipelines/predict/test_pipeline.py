"""The predict pipeline on files made here, with a small forest trained by the model pipeline's node."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from tess_cluster_age import dating, evaluation
from tess_cluster_age.datasets import ELKFolderDataset
from tess_cluster_age.datasets.trained_models import TrainedModelsDataset
from tess_cluster_age.pipelines.predict import create_pipeline
from tests.pipelines.predict.trained import NEW, PREDICT_PARAMS, save_bundle, train, write_new_cluster, write_training_folder


class KeptDataset(MemoryDataset):
    def _release(self) -> None:
        pass


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """The training path of ten clusters (the new one unlabelled) and a forest saved in 06_models."""
    root = tmp_path_factory.mktemp("project")
    data, bundle = train(write_training_folder(root / "elk"))
    save_bundle(bundle, root / "06_models")
    return {"data": data, "bundle": bundle, "models_dir": root / "06_models"}


def run_predict(folder: Path, models_dir: Path, **params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The registered predict pipeline over a catalog of the folder and the saved models."""
    catalog = DataCatalog({
        "predict_light_curves": ELKFolderDataset(path=str(folder), parameter="predict_dir"),
        "predict_trained_models": TrainedModelsDataset(path=str(models_dir), pipelines=["random_forest", "regression", "gaussian_nn"]),
        "params:predict": MemoryDataset({**PREDICT_PARAMS, **params}),
        "predict_models": MemoryDataset(copy_mode="assign"),
        "predictions": KeptDataset(), "predict_problems": KeptDataset(),
    })
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog.load("predictions"), catalog.load("predict_problems")


def test_predict_is_the_out_of_sample_pipeline_path_for_the_same_cluster(trained, tmp_path):
    # the file to date carries a header LOG_AGE; in training the same light curve had none
    write_new_cluster(tmp_path / "LMC" / "new.fits.gz", log_age=9.3)
    predictions, problems = run_predict(tmp_path, trained["models_dir"])
    assert list(predictions.columns) == dating.PREDICTION_COLUMNS
    row = predictions.set_index("name").loc[NEW]
    # the training path: the same cluster's rows of model_input, through the final model, as a mixture
    rows = trained["data"]["model_input"].query("name == @NEW")
    assert rows["log_age"].isna().all()                       # never a training label
    mu, sigma, intervals = trained["bundle"].models["random_forest"].predict_intervals(rows)
    expected = evaluation.mixture_moments(mu, sigma, np.zeros(len(mu))).iloc[0]
    lo68, hi68 = evaluation.mixture_quantiles(mu, intervals["sigma_68"], [0.16, 0.84])      # each interval its own sigmas
    lo95, hi95 = evaluation.mixture_quantiles(mu, intervals["sigma_95"], [0.025, 0.975])
    assert row["model"] == "random_forest" and row["galaxy"] == "LMC" and row["n_segments"] == len(rows)
    np.testing.assert_allclose([row["log_age_pred"], row["sigma"], row["lo68"], row["hi68"], row["lo95"], row["hi95"]],
                               [expected["mu"], expected["sigma"], lo68, hi68, lo95, hi95], rtol=0, atol=1e-12)
    assert row["age_myr"] == pytest.approx(10 ** (row["log_age_pred"] - 6))
    assert row["lo95"] < row["lo68"] < row["log_age_pred"] < row["hi68"] < row["hi95"]
    assert row["log_age_header"] == 9.3
    assert row["file"].endswith("LMC/new.fits.gz")
    # the cross-validated skill in that galaxy, from the model's metadata
    assert row["skill_vs_galaxy_mean"] == "better"
    assert (row["cv_rmse_minus_galaxy_mean"], row["cv_rmse_minus_galaxy_mean_lo95"], row["cv_rmse_minus_galaxy_mean_hi95"]) == (-0.14, -0.2, -0.08)
    assert not row["out_of_range"]
    assert problems.empty


def test_a_header_log_age_never_changes_a_prediction(trained, tmp_path):
    write_new_cluster(tmp_path / "with" / "MW" / "a.fits", log_age=7.1)
    write_new_cluster(tmp_path / "without" / "MW" / "a.fits", log_age=None)
    with_age, _ = run_predict(tmp_path / "with", trained["models_dir"])
    without_age, _ = run_predict(tmp_path / "without", trained["models_dir"])
    assert with_age["log_age_header"].tolist() == [7.1] and without_age["log_age_header"].isna().all()
    columns = ["log_age_pred", "sigma", "lo68", "hi68", "lo95", "hi95", "n_segments"]
    pd.testing.assert_frame_equal(with_age[columns], without_age[columns])
    assert with_age["skill_vs_galaxy_mean"].tolist() == ["none"]          # the MW: no skill, said in the row


def test_a_bad_file_among_good_ones_is_listed_and_the_others_are_dated(trained, tmp_path):
    write_new_cluster(tmp_path / "SMC" / "good.fits")
    write_new_cluster(tmp_path / "SMC" / "other.fits", name="OTHER 2")
    (tmp_path / "SMC" / "broken.fits").write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)   # truncated FITS
    (tmp_path / "SMC" / "noise.fits.gz").write_bytes(np.random.default_rng(0).bytes(3000))  # neither gzip nor FITS
    (tmp_path / "SMC" / ".DS_Store").write_bytes(b"\0")
    predictions, problems = run_predict(tmp_path, trained["models_dir"])
    assert set(predictions["name"]) == {NEW, "OTHER 2"}
    unusable = dating.undated_inputs(problems)
    assert set(unusable["file"]) == {"SMC/broken.fits", "SMC/noise.fits.gz"}
    assert set(unusable["code"]) == {"unreadable"}
    assert problems.set_index("file").loc["SMC/.DS_Store", "outcome"] == "ignored"


def test_a_flat_folder_takes_the_galaxy_parameter(trained, tmp_path):
    write_new_cluster(tmp_path / "new.fits")
    predictions, problems = run_predict(tmp_path, trained["models_dir"])
    assert predictions.empty
    assert problems[["file", "code"]].values.tolist() == [["new.fits", "no_galaxy"]]
    assert "--galaxy" in problems["reason"].iloc[0]
    predictions, problems = run_predict(tmp_path, trained["models_dir"], galaxy="SMC")
    assert predictions[["name", "galaxy"]].values.tolist() == [[NEW, "SMC"]] and problems.empty


def test_a_brightness_never_seen_in_training_is_flagged(trained, tmp_path):
    write_new_cluster(tmp_path / "LMC" / "bright.fits", flux_level=5e7)
    predictions, _ = run_predict(tmp_path, trained["models_dir"])
    row = predictions.iloc[0]
    assert row["out_of_range"] and "log_flux" in row["out_of_range_features"].split(";")


def test_missing_models_give_the_command_that_trains_them(trained, tmp_path, caplog):
    write_new_cluster(tmp_path / "LMC" / "new.fits")
    with pytest.raises(dating.MissingModelError, match=r"no trained model found .*`kedro run --pipeline=random_forest`"):
        run_predict(tmp_path, tmp_path / "no_models")
    # one pipeline trained: "all" dates with it and warns about the others, naming their command
    with caplog.at_level(logging.WARNING, logger="tess_cluster_age.dating"):
        predictions, _ = run_predict(tmp_path, trained["models_dir"])
    assert set(predictions["model"]) == {"random_forest"}
    assert "train it with `kedro run --pipeline=gaussian_nn`" in caplog.text
    # a named model of a pipeline not trained yet is an error naming that command
    loaders = TrainedModelsDataset(path=str(trained["models_dir"]), pipelines=["random_forest", "gaussian_nn"]).load()
    with pytest.raises(dating.MissingModelError, match=r"'nn_mse' not found .*gaussian_nn is not trained yet: run `kedro run --pipeline=gaussian_nn`"):
        dating.select_models(loaders, "nn_mse")
    assert [m.name for m in dating.select_models(loaders, "random_forest")] == ["random_forest"]
