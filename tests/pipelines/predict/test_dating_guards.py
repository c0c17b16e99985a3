"""Guards on dating new clusters: a header LOG_AGE never reaches a model, and the out-of-range flag
counts a cluster exactly at the segment fraction.

A spy stands in for a trained model (it records the table it is asked to predict and answers a
fixed Gaussian), so the real path of :func:`dating.date_clusters` (ingestion, segments, features,
model input, range flags) runs on one purpose-built file in about a second.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age import dating
from tess_cluster_age.config import PredictConfig
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.reading import read_light_curves
from tests.pipelines.predict.trained import NEW, PREDICT_PARAMS, PROVENANCE, write_new_cluster

HEADER_LOG_AGE = 9.3
WIDE = {"min": -1e300, "max": 1e300, "p01": -1e300, "p99": 1e300}
"""A training range nothing falls outside."""


class SpyModel:
    """Answers ``N(8, 0.3)`` for every segment and keeps every table it is given."""

    def __init__(self):
        self.tables: list[pd.DataFrame] = []

    def predict(self, X: pd.DataFrame):
        self.tables.append(X.copy())
        return np.full(len(X), 8.0), np.full(len(X), 0.3)

    def predict_intervals(self, X: pd.DataFrame):
        mu, sigma = self.predict(X)
        return mu, sigma, {"sigma_68": sigma, "sigma_95": sigma}

    def predictor(self) -> "SpyModel":
        return self


def spy_model(feature_ranges: dict, name: str = "spy", cross_validation: dict | None = None) -> dating.TrainedModel:
    """A 'trained' model with the test provenance (so that features are built as in training)."""
    bundle = TrainedModels(models={name: SpyModel()}, model_info={name: ModelInfo(spec={}, cross_validation=cross_validation or {})},
                           feature_columns=tuple(feature_ranges), identity_columns=(), feature_ranges=feature_ranges, galaxies=("LMC",),
                           n_clusters=0, n_segments=0, provenance=PROVENANCE, input_provenance=None, versions={})
    return dating.TrainedModel(name, "random_forest", bundle)


def date(folder: Path, model: dating.TrainedModel, **params) -> pd.DataFrame:
    config = PredictConfig.from_params({**PREDICT_PARAMS, **params})
    read = read_light_curves(folder, strict=False, config=dating.reading_config([model]))
    result = dating.date_clusters(read, [model], config)
    predictions, problems = result.predictions, result.problems
    assert problems.empty, problems
    return predictions


@pytest.fixture(scope="module")
def labelled_file(tmp_path_factory) -> dict:
    """A new cluster whose file header carries LOG_AGE, dated once by the spy."""
    folder = tmp_path_factory.mktemp("dating")
    write_new_cluster(folder / "LMC" / "new.fits", log_age=HEADER_LOG_AGE)
    model = spy_model({"log_flux": WIDE})
    predictions = date(folder, model)
    return {"folder": folder, "predictions": predictions, "seen": model.estimator.tables}


def test_a_header_log_age_is_reported_but_never_handed_to_a_model(labelled_file):
    row = labelled_file["predictions"].set_index("name").loc[NEW]
    assert row["log_age_header"] == HEADER_LOG_AGE                    # the header was read ...
    (seen,) = labelled_file["seen"]
    assert len(seen) == row["n_segments"] > 1 and (seen["name"] == NEW).all()
    # ... and the segments the model dated carry no label at all
    assert "log_age" not in seen.columns or seen["log_age"].isna().all(), seen.get("log_age")
    assert not np.isin(seen.select_dtypes("number").to_numpy(), [HEADER_LOG_AGE]).any()


def test_a_cluster_exactly_at_the_segment_fraction_is_flagged(labelled_file):
    (seen,) = labelled_file["seen"]
    n = len(seen)
    # two features whose values differ between all the cluster's segments: a training minimum
    # between the k-th and (k+1)-th smallest value puts exactly k segments outside the range
    distinct = [c for c in seen.columns if c.startswith("classic_") and np.isfinite(seen[c]).all() and seen[c].nunique() == n]
    at, below = distinct[:2]
    k = n // 2
    assert k >= 2, n
    fraction = Fraction(k, n)

    def range_with_outside(column: str, n_outside: int) -> dict:
        values = np.sort(seen[column].to_numpy(float))
        return {**WIDE, "min": float(values[n_outside - 1] + values[n_outside]) / 2}

    ranges = {at: range_with_outside(at, k), below: range_with_outside(below, k - 1)}
    out_of_range = {"bounds": "min_max", "segment_fraction": float(fraction)}
    row = date(labelled_file["folder"], spy_model(ranges), out_of_range=out_of_range).set_index("name").loc[NEW]
    # k of n segments outside, k / n == segment_fraction: flagged; k - 1 of n: not
    assert row["out_of_range_features"] == at, f"{k} of {n} segments outside, segment_fraction {fraction}"
    assert row["out_of_range"]


def test_no_stored_range_for_any_feature_flags_nothing():
    """A model that stored no feature range (an empty mapping) leaves every cluster unflagged instead of failing."""
    table = pd.DataFrame({"name": ["a", "a", "b"], "inv_slope": [1.0, 2.0, 3.0]})
    flags = dating.out_of_range(table, {})
    assert flags.to_dict() == {"a": [], "b": []}


def test_the_recommendation_is_chosen_among_every_candidate_not_only_the_models_that_date(labelled_file):
    """Dating with one model still names the recommended model among all trained ones, and why."""
    worse = spy_model({"log_flux": WIDE}, "forest", {"LMC": {"nll": 0.9}})
    better = spy_model({"log_flux": WIDE}, "network", {"LMC": {"nll": 0.4}})
    config = PredictConfig.from_params(PREDICT_PARAMS)
    read = read_light_curves(labelled_file["folder"], strict=False, config=dating.reading_config([worse]))
    result = dating.date_clusters(read, [worse], config, candidates=[worse, better])
    assert result.recommended["LMC"][0] == "network" and "forest 0.900" in result.recommended["LMC"][1]
    assert not result.predictions["recommended"].any()            # the forest dated, but it is not the recommended model
    alone = dating.date_clusters(read, [worse], config)
    assert alone.recommended["LMC"][0] == "forest" and alone.predictions["recommended"].all()


def test_the_recommendation_recorded_with_the_models_is_used_and_a_changed_one_is_reported(caplog):
    """The combined pipeline records each galaxy's recommended model with the models; dating uses that record.
    When the models' stored skill now points elsewhere (a pipeline retrained since), a warning says so."""
    import dataclasses

    forest = spy_model({"log_flux": WIDE}, "forest", {"LMC": {"nll": 0.9}, "SMC": {"nll": 0.5}})
    network = spy_model({"log_flux": WIDE}, "network", {"LMC": {"nll": 0.4}, "SMC": {"nll": 0.7}})
    record = {"recommend_by": "nll", "galaxies": {"LMC": {"model": "network", "pipeline": "gaussian_nn", "why": "recorded: LMC"},
                                                  "SMC": {"model": "network", "pipeline": "gaussian_nn", "why": "recorded: SMC"}}}
    network = dataclasses.replace(network, bundle=dataclasses.replace(network.bundle, recommended=record))
    with caplog.at_level("WARNING", logger="tess_cluster_age.dating"):
        picked = dating.recommended_models([forest, network], "nll", ("LMC", "SMC"))
    assert picked == {"LMC": ("network", "recorded: LMC"), "SMC": ("network", "recorded: SMC")}
    assert "SMC" in caplog.text and "forest" in caplog.text and "LMC:" not in caplog.text
    # a record made by another rule, or naming a model that is not a candidate, is not used
    assert dating.recommended_models([forest, network], "rmse", ("LMC",))["LMC"][1].startswith("no cross-validated rmse")
    assert dating.recommended_models([forest], "nll", ("SMC",))["SMC"][0] == "forest"
