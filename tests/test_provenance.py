"""No stale mixes (issue 13, item 5): every table from segments on records what produced it, and
consuming nodes refuse tables from different runs.

The main case is the one reported: after an interrupted run, ``kedro run
--from-nodes=build_model_input_node`` joined new classic features with invariant features built
from older segments made with other parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from tess_cluster_age import provenance
from tess_cluster_age.datasets import AtomicParquetDataset, PeriodogramDataset
from tess_cluster_age.pipelines.augmentation.nodes import build_segments
from tess_cluster_age.pipelines.feature_engineering import create_pipeline
from tess_cluster_age.pipelines.feature_engineering.nodes import (
    build_model_input,
    compute_classic_features,
    compute_invariant_features,
    make_folds,
)
from tess_cluster_age.provenance import ProvenanceError
from tests.synthetic import sinusoid_samples

CLASSIC = {"n_bootstrap": 5, "min_points": 50}
INVARIANT = {"min_points": 50}
SERIAL = {"workers": 1}
MODEL_INPUT = {"feature_sets": ["classic", "invariant"], "include_log_flux": True, "exclude": []}
FOLDS = {"n_splits": 2, "seeds": [0], "age_bin_edges": [8.0]}


@pytest.fixture(scope="module")
def survey():
    names = ["A 1", "B 2", "C 3", "D 4"]
    samples = sinusoid_samples(names, 400, 2000, 0.7, np.random.default_rng(3))
    clusters = pd.DataFrame({"name": names, "galaxy": ["LMC", "SMC", "LMC", "SMC"], "log_age": [7.2, 8.4, 7.9, 9.1]})
    return clusters, samples


def _segments(survey, **kinds):
    clusters, samples = survey
    return build_segments(clusters, samples, {"kinds": kinds or {"sector": True, "stitched": True}}, seed=42)


def test_every_table_records_its_parameters_and_inputs(survey):
    clusters, samples = survey
    segments = _segments(survey)
    classic, periodograms = compute_classic_features(segments, samples, CLASSIC, SERIAL, seed=42)
    invariant, _ = compute_invariant_features(segments, samples, INVARIANT, SERIAL)
    model_input = build_model_input(segments, clusters, classic, invariant, MODEL_INPUT, INVARIANT)
    folds = make_folds(clusters, FOLDS)

    seg = provenance.provenance_of(segments)
    assert seg["stage"] == "build_segments_node"
    assert seg["params"]["augmentation"]["kinds"] == ["sector", "stitched"] and seg["params"]["seed"] == 42
    assert set(seg["inputs"]) == {"clusters", "sector_light_curves"}
    assert provenance.provenance_of(classic)["inputs"]["segments"] == seg["fingerprint"]
    assert provenance.provenance_of(periodograms) == provenance.provenance_of(classic)
    # what a trained model stores: every segment and feature parameter behind its inputs
    lineage = provenance.provenance_of(model_input)["params"]
    assert set(lineage) == {"augmentation", "seed", "classic_features", "invariant_features", "model_input"}
    assert lineage["classic_features"]["n_bootstrap"] == 5 and lineage["invariant_features"]["min_points"] == 50
    assert provenance.provenance_of(folds)["params"]["folds"]["n_splits"] == 2
    # the same inputs and parameters give the same fingerprint (runs are deterministic)
    assert provenance.fingerprint(_segments(survey)) == seg["fingerprint"]
    assert provenance.fingerprint(_segments(survey, sector=True)) != seg["fingerprint"]
    # nodes stay pure: their inputs carry no new record
    assert "provenance" not in clusters.attrs and "provenance" not in samples.attrs


def test_records_survive_parquet_and_fits_files(survey, tmp_path):
    _, samples = survey
    segments = _segments(survey)
    classic, periodograms = compute_classic_features(segments, samples, CLASSIC, SERIAL, seed=42)
    for name, table, dataset in (("segments", segments, AtomicParquetDataset(filepath=str(tmp_path / "s.parquet"))),
                                 ("classic", classic, AtomicParquetDataset(filepath=str(tmp_path / "c.parquet"))),
                                 ("periodograms", periodograms, PeriodogramDataset(filepath=str(tmp_path / "p.fits")))):
        dataset.save(table)
        assert provenance.provenance_of(dataset.load()) == provenance.provenance_of(table), name


def test_model_input_refuses_features_built_from_different_segments(survey):
    clusters, samples = survey
    old_segments = _segments(survey, sector=True, half=True)
    new_segments = _segments(survey, sector=True, stitched=True)
    classic, _ = compute_classic_features(new_segments, samples, CLASSIC, SERIAL, seed=42)
    stale_invariant, _ = compute_invariant_features(old_segments, samples, INVARIANT, SERIAL)
    with pytest.raises(ProvenanceError) as error:
        build_model_input(new_segments, clusters, classic, stale_invariant, MODEL_INPUT, INVARIANT)
    message = str(error.value)
    assert "features_classic and features_invariant were built from different segments" in message
    assert "kedro run --from-nodes=compute_classic_features_node,compute_invariant_features_node" in message


def test_model_input_refuses_features_of_other_invariant_parameters(survey):
    clusters, samples = survey
    segments = _segments(survey)
    classic, _ = compute_classic_features(segments, samples, CLASSIC, SERIAL, seed=42)
    invariant, _ = compute_invariant_features(segments, samples, {**INVARIANT, "bin_minutes": 60.0}, SERIAL)
    with pytest.raises(ProvenanceError, match=r"features_invariant was built with other 'invariant_features' parameters "
                                              r"than this run uses \(bin_minutes: 60.0 vs 30.0\): rebuild with: "
                                              r"kedro run --from-nodes=compute_invariant_features_node"):
        build_model_input(segments, clusters, classic, invariant, MODEL_INPUT, INVARIANT)


def test_features_refuse_segments_of_other_light_curves(survey):
    _, samples = survey
    segments = _segments(survey)
    reingested = samples.assign(flux=samples["flux"] * 1.01)
    with pytest.raises(ProvenanceError, match=r"segments and sector_light_curves do not match: segments was built from another "
                                              r"sector_light_curves .*kedro run --from-nodes=build_segments_node"):
        compute_invariant_features(segments, reingested, INVARIANT, SERIAL)


def test_a_table_without_a_record_is_refused_with_the_rebuild_command(survey):
    clusters, samples = survey
    segments = _segments(survey)
    invariant, _ = compute_invariant_features(segments, samples, INVARIANT, SERIAL)
    old_file = invariant.copy()
    old_file.attrs = {}
    with pytest.raises(ProvenanceError, match=r"features_invariant carries no provenance record .*kedro run --pipeline=augmentation"):
        build_model_input(segments, clusters, invariant, old_file, {**MODEL_INPUT, "feature_sets": ["invariant"]}, INVARIANT)


def test_check_consistent_compares_shared_parameters_and_inputs():
    base = pd.DataFrame({"a": [1]})
    one = provenance.record(base, "train_node", {"folds": {"n_splits": 5}}, {"clusters": base})
    two = provenance.record(base, "other_node", {"folds": {"n_splits": 3}}, {"clusters": base})
    with pytest.raises(ProvenanceError, match=r"one and two were built with different 'folds' parameters \(n_splits: 5 vs 3\)"):
        provenance.check_consistent({"one": one, "two": two})
    provenance.check_consistent({"one": one, "same": provenance.record(base, "x_node", {"folds": {"n_splits": 5}}, {"clusters": base})})
    model = provenance.record({"coef": [1.0]}, "train_node", {"random_forest": {"n_estimators": 10}}, {"model_input": one})
    assert model["provenance"]["params"] == {"folds": {"n_splits": 5}, "random_forest": {"n_estimators": 10}}


def test_interrupted_run_then_from_nodes_refuses_the_stale_mix(survey, tmp_path):
    """The reported scenario, through files and the Kedro runner: segment ids are the same in both
    runs, so without the records the two feature tables would join silently."""
    clusters, samples = survey
    reingested = samples.assign(flux=samples["flux"] * (1 + 0.05 * np.sin(samples["time"].to_numpy())))

    def catalog(light_curves):
        return DataCatalog({
            "segments": AtomicParquetDataset(filepath=str(tmp_path / "segments.parquet")),
            "sector_light_curves": MemoryDataset(light_curves), "clusters": MemoryDataset(clusters),
            "params:seed": MemoryDataset(42), "params:classic_features": MemoryDataset(CLASSIC),
            "params:invariant_features": MemoryDataset(INVARIANT), "params:feature_execution": MemoryDataset(SERIAL),
            "params:model_input": MemoryDataset(MODEL_INPUT), "params:folds": MemoryDataset(FOLDS),
            **{name: AtomicParquetDataset(filepath=str(tmp_path / f"{name}.parquet"))
               for name in ("features_classic", "features_invariant", "model_input", "folds")},
            "periodograms_classic": PeriodogramDataset(filepath=str(tmp_path / "pc.fits")),
            "periodograms_invariant": PeriodogramDataset(filepath=str(tmp_path / "pi.fits")),
        })

    AtomicParquetDataset(filepath=str(tmp_path / "segments.parquet")).save(_segments(survey))
    SequentialRunner().run(create_pipeline(), catalog(samples))
    # light curves re-ingested, segments rebuilt; the run is killed after the classic features were rewritten
    AtomicParquetDataset(filepath=str(tmp_path / "segments.parquet")).save(_segments((clusters, reingested)))
    SequentialRunner().run(create_pipeline().only_nodes("compute_classic_features_node"), catalog(reingested))
    with pytest.raises(ProvenanceError, match="features_classic and features_invariant were built from different "
                                              "sector_light_curves.*kedro run --from-nodes=compute_classic_features_node,"
                                              "compute_invariant_features_node"):
        SequentialRunner().run(create_pipeline().from_nodes("build_model_input_node"), catalog(reingested))
