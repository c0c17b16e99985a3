"""The feature_engineering pipeline wired and run end to end on purpose-built clusters."""

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from tess_cluster_age.datasets import AtomicParquetDataset as ParquetDataset

from tess_cluster_age.datasets import PeriodogramDataset
from tess_cluster_age.pipelines.augmentation.nodes import build_segments
from tess_cluster_age.pipelines.feature_engineering import create_pipeline
from tests.synthetic import project_parameters, sinusoid_samples

OUTPUTS = ("features_classic", "features_invariant", "model_input", "folds")


def feature_parameters() -> dict:
    loaded = project_parameters()
    return {**loaded, "feature_execution": {**loaded["feature_execution"], "workers": 1}}


def test_pipeline_wiring():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"segments", "sector_light_curves", "clusters", "params:classic_features",
                                 "params:feature_execution", "params:seed", "params:invariant_features",
                                 "params:model_input", "params:folds"}
    assert pipeline.outputs() == {"periodograms_classic", "periodograms_invariant", "model_input", "folds"}


def test_pipeline_runs_with_the_project_parameters(tmp_path):
    names = [f"CL {c}" for c in range(6)]
    samples = sinusoid_samples(names, 700, 3000, 0.5, np.random.default_rng(11))
    clusters = pd.DataFrame({"name": names, "galaxy": ["LMC", "SMC", "MW"] * 2, "log_age": [7.0, 7.6, 8.1, 8.6, 9.2, 9.8]})
    segments = build_segments(clusters, samples, {"kinds": {"sector": True, "half": True, "stitched": True}}, seed=42)
    params = feature_parameters()
    params["folds"] = {**params["folds"], "n_splits": 3}
    catalog = DataCatalog({
        "segments": MemoryDataset(segments), "sector_light_curves": MemoryDataset(samples), "clusters": MemoryDataset(clusters),
        "params:seed": MemoryDataset(42),
        **{f"params:{k}": MemoryDataset(v) for k, v in params.items()},
        **{name: ParquetDataset(filepath=str(tmp_path / f"{name}.parquet")) for name in OUTPUTS},
        "periodograms_classic": PeriodogramDataset(filepath=str(tmp_path / "classic.fits")),
        "periodograms_invariant": PeriodogramDataset(filepath=str(tmp_path / "invariant.fits")),
    })
    SequentialRunner().run(create_pipeline(), catalog)
    model_input = catalog.load("model_input")
    assert list(model_input["segment_id"]) == list(segments["segment_id"])
    assert model_input.groupby("name")["log_age"].first().to_dict() == clusters.set_index("name")["log_age"].to_dict()
    assert {"classic_max_power", "inv_peak_period", "log_flux"} <= set(model_input.columns)
    assert (model_input["reason"] == "").all()
    periodograms = catalog.load("periodograms_classic")
    assert periodograms.power.shape == (len(segments), 1089)
    assert list(periodograms.segment_id) == list(segments["segment_id"])
    assert catalog.load("periodograms_invariant").power.shape == (len(segments), 128)
    folds = catalog.load("folds")
    assert sorted(folds["seed"].unique()) == [0, 1, 2] and set(folds["name"]) == set(names)
