"""The model-file datasets: ``ModelFileDataset`` (versioned, atomic saves of one pipeline's bundle) and
``TrainedModelsDataset`` (the newest model file of each pipeline, loaded lazily), on bundles that the
model pipelines' own node trains."""

from __future__ import annotations

import dataclasses

import pickle
import time

import numpy as np
import pandas as pd
import pytest
from fsspec.implementations.local import LocalFileOpener
from kedro.io import DatasetError
from kedro.io.core import Version

from tess_cluster_age.datasets.trained_models import ModelFileDataset, TrainedModelsDataset
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.models.persistence import load_models
from tess_cluster_age.pipelines.modelling import train_final_models
from tests.models.conftest import synthetic_model_input

FOREST = {"models": {"random_forest": {"estimator": "random_forest", "options": {"n_estimators": 4, "inner_folds": 2, "n_jobs": 1}},
                     "regression": {"estimator": "regression", "options": {"inner_folds": 2}}}}


@pytest.fixture(scope="module")
def table():
    return synthetic_model_input(n_clusters=24, segments_per_cluster=3, seed=8)


@pytest.fixture(scope="module")
def trained(table) -> TrainedModels:
    """What the model pipelines' node returns."""
    no_metrics = pd.DataFrame(columns=["model", "level", "galaxy", "age_bin", "seed", "metric", "value"])
    return train_final_models(table, None, None, no_metrics, FOREST, {}, 5, {"seed": 5})


def versioned(folder, version=None) -> ModelFileDataset:
    return ModelFileDataset(filepath=str(folder / "random_forest.zip"), version=Version(version, None))


def test_round_trip_exists_and_identical_predictions(trained, table, tmp_path):
    dataset = versioned(tmp_path)
    assert not dataset.exists()
    dataset.save(trained)
    assert dataset.exists()
    loaded = versioned(tmp_path).load()
    assert loaded.metadata == trained.metadata
    for name in ("random_forest", "regression"):
        expected, got = trained.models[name].predict(table, return_std=True), loaded.models[name].predict(table, return_std=True)
        assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])


def test_only_a_bundle_is_saved(trained, tmp_path):
    with pytest.raises(DatasetError, match="saves a TrainedModels bundle, got dict"):
        versioned(tmp_path).save(trained.to_dict())
    assert not versioned(tmp_path).exists()


def test_a_missing_file_raises_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="Did not find any versions"):
        versioned(tmp_path).load()
    with pytest.raises(DatasetError, match=r"no such model file"):
        ModelFileDataset(filepath=str(tmp_path / "random_forest.zip")).load()


def test_a_pickle_in_the_models_folder_is_refused_through_the_dataset(tmp_path):
    path = tmp_path / "random_forest.zip" / "2026-01-01T00.00.00.000Z" / "random_forest.zip"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"models": {}, "metadata": {}}))
    with pytest.raises(DatasetError, match=rf"{path}: it is a pickle, which is never loaded"):
        versioned(tmp_path).load()


def test_the_newest_version_is_read_by_both_datasets_and_by_load_models(trained, tmp_path):
    reader = TrainedModelsDataset(path=str(tmp_path), pipelines=["random_forest", "regression"])
    assert not reader.exists() and reader.load() == {"random_forest": None, "regression": None}
    versioned(tmp_path, None).save(dataclasses.replace(trained, n_clusters=1))
    time.sleep(0.01)                                         # versions are millisecond timestamps
    versioned(tmp_path, None).save(trained)
    loaders = reader.load()
    assert reader.exists() and loaders["regression"] is None
    assert loaders["random_forest"]().n_clusters == versioned(tmp_path).load().n_clusters == load_models(tmp_path)["random_forest"].n_clusters == 24
    oldest = sorted(p.name for p in (tmp_path / "random_forest.zip").iterdir())[0]
    pinned = TrainedModelsDataset(path=str(tmp_path), pipelines=["random_forest"], load_version=oldest).load()
    assert pinned["random_forest"]().n_clusters == 1 == versioned(tmp_path, oldest).load().n_clusters


def test_a_copied_folder_of_plain_model_files_is_read(trained, tmp_path):
    ModelFileDataset(filepath=str(tmp_path / "regression.zip")).save(trained)
    loaders = TrainedModelsDataset(path=str(tmp_path), pipelines=["random_forest", "regression"]).load()
    assert loaders["random_forest"] is None and list(loaders["regression"]().models) == ["random_forest", "regression"]


def test_a_save_failing_midway_leaves_no_version_and_no_temporary_file(trained, tmp_path, monkeypatch):
    versioned(tmp_path, None).save(trained)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))

    def write(self, data):                                   # a disk filling up: half the bytes, then an error
        self.f.write(bytes(data)[: max(1, len(data) // 2)])
        raise OSError("No space left on device (simulated)")

    monkeypatch.setattr(LocalFileOpener, "write", write)
    time.sleep(0.01)
    with pytest.raises(DatasetError, match="No space left on device"):
        versioned(tmp_path, None).save(trained)
    monkeypatch.undo()
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() or any(p.iterdir()))
    assert after == before, "a partial version or a temporary file was left behind"
    assert versioned(tmp_path).load().n_clusters == 24


def test_the_reader_is_read_only(tmp_path):
    with pytest.raises(DatasetError, match="read-only"):
        TrainedModelsDataset(path=str(tmp_path), pipelines=["random_forest"]).save({})
