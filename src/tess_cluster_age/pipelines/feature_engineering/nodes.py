"""Nodes of the feature_engineering pipeline: features of every segment, model input and folds.

Thin wrappers: the science is in :mod:`tess_cluster_age.features.extract` (feature tables),
:mod:`tess_cluster_age.features.model_input` and :func:`tess_cluster_age.evaluation.cluster_folds`;
the nodes validate their parameters and check and record provenance.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tess_cluster_age import evaluation, provenance
from tess_cluster_age.config import FeatureExecutionConfig, FoldsConfig, ModelInputConfig
from tess_cluster_age.features.classic import ClassicConfig
from tess_cluster_age.features.extract import classic_feature_table, invariant_feature_table
from tess_cluster_age.features.invariant import InvariantConfig
from tess_cluster_age.features.model_input import model_input_table
from tess_cluster_age.features.periodograms import Periodograms

logger = logging.getLogger(__name__)


def compute_classic_features(segments: pd.DataFrame, sector_light_curves: pd.DataFrame, params: dict[str, Any],
                             execution: dict[str, Any], seed: int) -> tuple[pd.DataFrame, Periodograms]:
    """The classic feature set (SPEC 3a) and the bootstrap periodogram of every segment
    (:func:`tess_cluster_age.features.extract.classic_feature_table`).

    Args:
        segments: segment table from augmentation.
        sector_light_curves: sample table from ingestion.
        params: the ``classic_features`` section.
        execution: the ``feature_execution`` section.
        seed: global seed.

    Returns:
        Features and periodograms, both carrying the provenance record
        (:mod:`tess_cluster_age.provenance`) of ``classic_features`` and ``seed`` and of their inputs.

    Raises:
        ProvenanceError: ``segments`` was built from other ``sector_light_curves``.
    """
    config = ClassicConfig.from_params(params)
    provenance.check_consistent({"segments": segments}, sources={"sector_light_curves": sector_light_curves})
    table, periodograms = classic_feature_table(segments, sector_light_curves, config, FeatureExecutionConfig.from_params(execution), seed)
    made_from = ("compute_classic_features_node", {"classic_features": config, "seed": int(seed)},
                 {"segments": segments, "sector_light_curves": sector_light_curves})
    return provenance.record(table, *made_from), provenance.record(periodograms, *made_from)


def compute_invariant_features(segments: pd.DataFrame, sector_light_curves: pd.DataFrame, params: dict[str, Any],
                               execution: dict[str, Any]) -> tuple[pd.DataFrame, Periodograms]:
    """The invariant feature set (SPEC 3b) and the amplitude spectrum of every segment
    (:func:`tess_cluster_age.features.extract.invariant_feature_table`).

    Args:
        segments: segment table from augmentation.
        sector_light_curves: sample table from ingestion.
        params: the ``invariant_features`` section.
        execution: the ``feature_execution`` section.

    Returns:
        Features and periodograms, both carrying the provenance record of ``invariant_features``
        and of their inputs.

    Raises:
        ProvenanceError: ``segments`` was built from other ``sector_light_curves``.
    """
    config = InvariantConfig.from_params(params)
    provenance.check_consistent({"segments": segments}, sources={"sector_light_curves": sector_light_curves})
    table, periodograms = invariant_feature_table(segments, sector_light_curves, config, FeatureExecutionConfig.from_params(execution))
    made_from = ("compute_invariant_features_node", {"invariant_features": config},
                 {"segments": segments, "sector_light_curves": sector_light_curves})
    return provenance.record(table, *made_from), provenance.record(periodograms, *made_from)


def build_model_input(segments: pd.DataFrame, clusters: pd.DataFrame, features_classic: pd.DataFrame,
                      features_invariant: pd.DataFrame, params: dict[str, Any], invariant_params: dict[str, Any]) -> pd.DataFrame:
    """The table every model reads (:func:`tess_cluster_age.features.model_input.model_input_table`).

    Args:
        segments, clusters: from augmentation and ingestion.
        features_classic, features_invariant: from the feature nodes.
        params: the ``model_input`` section.
        invariant_params: the ``invariant_features`` section (gives the band column names).

    Returns:
        The model-input table, whose provenance record holds every segment and feature parameter
        that produced it.

    Raises:
        ProvenanceError: the feature tables were built from other segments, other ingestion
            tables or other parameters than each other or than this run's (a stale mix).
    """
    config = ModelInputConfig.from_params(params)
    invariant_config = InvariantConfig.from_params(invariant_params)
    feature_tables = {"features_classic": features_classic, "features_invariant": features_invariant}
    used = {name: table for name, table in feature_tables.items()
            if name.removeprefix("features_") in config.feature_sets or (name == "features_invariant" and config.include_log_flux)}
    provenance.check_consistent({"segments": segments, **used}, sources={"clusters": clusters},
                                params={"invariant_features": invariant_config})
    out = model_input_table(segments, clusters, features_classic, features_invariant, config, invariant_config)
    return provenance.record(out, "build_model_input_node", {"model_input": config},
                             {"segments": segments, "clusters": clusters, **used})


def make_folds(clusters: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Cluster-grouped folds shared by every model (SPEC 4).

    ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)`` for every seed, on the
    labelled clusters (one row each, groups = name), strata = galaxy × log-age bin
    (``age_bin_edges``). Folds are made on clusters, so they do not change when segment kinds are
    switched on or off.

    Returns:
        ``name, seed, fold`` (one row per labelled cluster and seed), with its provenance record.
    """
    config = FoldsConfig.from_params(params)
    labelled = clusters[clusters["log_age"].notna()].sort_values("name").reset_index(drop=True)
    n_splits = config.n_splits
    if len(labelled) < n_splits:
        raise ValueError(f"folds: {len(labelled)} labelled clusters cannot make {n_splits} cluster-grouped folds; "
                         "lower folds.n_splits or ingest more labelled clusters")
    rows = []
    for seed in config.seeds:
        fold = evaluation.cluster_folds(labelled["galaxy"].to_numpy(), labelled["log_age"].to_numpy(float), labelled["name"].to_numpy(),
                                        n_splits, seed, config.age_bin_edges)
        rows += [(name, int(seed), int(k)) for name, k in zip(labelled["name"], fold)]
    folds = pd.DataFrame(rows, columns=["name", "seed", "fold"]).sort_values(["seed", "name"]).reset_index(drop=True)
    logger.info("Folds: %d labelled clusters, %d splits, seeds %s", len(labelled), n_splits, list(config.seeds))
    return provenance.record(folds, "make_folds_node", {"folds": config}, {"clusters": clusters})
