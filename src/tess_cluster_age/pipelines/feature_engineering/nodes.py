"""Nodes of the feature_engineering pipeline: features of every segment, model input and folds."""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age import evaluation, provenance
from tess_cluster_age.config import FeatureExecutionConfig, FoldsConfig, ModelInputConfig
from tess_cluster_age.features.classic import CLASSIC_FEATURES, ClassicConfig, classic_periodogram_frequencies
from tess_cluster_age.features.extract import (
    classic_cluster,
    cluster_tasks,
    invariant_cluster,
    invariant_columns,
    results_table,
    periodogram_matrix,
)
from tess_cluster_age.features.invariant import InvariantConfig, invariant_feature_names, invariant_periodogram_frequencies
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.parallel import run_tasks
from tess_cluster_age.schema import ID_COLUMNS, REASON_COLUMN, feature_columns

logger = logging.getLogger(__name__)


def _run(function, segments, samples, execution: dict[str, Any], label: str):
    settings = FeatureExecutionConfig.from_params(execution)
    tasks = cluster_tasks(segments, samples)
    return [r for cluster in run_tasks(
        function, tasks,
        workers=settings.workers,
        scheduler_address=settings.scheduler_address or None,
        label=label, logger=logger,
        log_every_seconds=settings.log_every_seconds,
    ) for r in cluster]


def _log_reasons(table: pd.DataFrame, label: str) -> None:
    if table.empty:
        logger.warning("%s: no segments", label)
        return
    reasons = table["reason"].str.split(";").explode()
    reasons = reasons[reasons.astype(bool)]
    if len(reasons):
        logger.warning("%s: %d segments with features not computable: %s", label, int(table["reason"].astype(bool).sum()),
                       ", ".join(f"{k} {v}" for k, v in reasons.value_counts().items()))


def compute_classic_features(segments: pd.DataFrame, sector_light_curves: pd.DataFrame, params: dict[str, Any],
                             execution: dict[str, Any], seed: int) -> tuple[pd.DataFrame, Periodograms]:
    """The classic feature set (SPEC 3a) and the 1,089-bin bootstrap periodogram of every segment.

    Args:
        segments: segment table from augmentation.
        sector_light_curves: sample table from ingestion.
        params: ``ClassicConfig`` fields (grid, bootstrap count, percentiles, min_points, ...).
        execution: ``workers``, ``scheduler_address`` (Dask), ``log_every_seconds``.
        seed: global seed; segment noise comes from ``keyed_rng(seed, segment_id)``.

    Returns:
        Features (``segment_id, name, kind``, the 19 original columns, ``reason``) and the
        periodograms (bootstrap median power, frequencies in 1/d), both carrying the
        provenance record (:mod:`tess_cluster_age.provenance`) of ``classic_features`` and
        ``seed`` and of their inputs.

    Raises:
        ProvenanceError: ``segments`` was built from other ``sector_light_curves``.
    """
    config = ClassicConfig.from_params(params)
    provenance.check_consistent({"segments": segments}, sources={"sector_light_curves": sector_light_curves})
    results = _run(functools.partial(classic_cluster, config=config, seed=int(seed)), segments, sector_light_curves, execution, "classic features")
    table = results_table(segments, results, CLASSIC_FEATURES)
    _log_reasons(table, "classic features")
    grid = classic_periodogram_frequencies(config)
    periodograms = Periodograms(segments["segment_id"].to_numpy(), grid, periodogram_matrix(segments, results, grid.size),
                                "bootstrap median standard Lomb-Scargle power")
    made_from = ("compute_classic_features_node", {"classic_features": config, "seed": int(seed)},
                 {"segments": segments, "sector_light_curves": sector_light_curves})
    return provenance.record(table, *made_from), provenance.record(periodograms, *made_from)


def compute_invariant_features(segments: pd.DataFrame, sector_light_curves: pd.DataFrame, params: dict[str, Any],
                               execution: dict[str, Any]) -> tuple[pd.DataFrame, Periodograms]:
    """The invariant feature set (SPEC 3b) with ``log_flux``, and the 128-bin amplitude spectrum.

    Args:
        segments: segment table from augmentation (``cadence_s`` and ``n_sectors`` are copied
            beside the features as descriptors).
        sector_light_curves: sample table from ingestion.
        params: ``InvariantConfig`` fields (bin width, grids, bands, ...).
        execution: ``workers``, ``scheduler_address`` (Dask), ``log_every_seconds``.

    Returns:
        Features (``segment_id, name, kind``, ``inv_*``, ``log_flux``, ``n_bins``, ``span_days``,
        ``cadence_s``, ``n_sectors``, ``reason``) and the periodograms (log10 mean A², 1/d grid), both
        carrying the provenance record of ``invariant_features`` and of their inputs.

    Raises:
        ProvenanceError: ``segments`` was built from other ``sector_light_curves``.
    """
    config = InvariantConfig.from_params(params)
    provenance.check_consistent({"segments": segments}, sources={"sector_light_curves": sector_light_curves})
    results = _run(functools.partial(invariant_cluster, config=config), segments, sector_light_curves, execution, "invariant features")
    table = results_table(segments, results, invariant_columns(config))
    reason = table.pop("reason")
    table["cadence_s"] = segments["cadence_s"].to_numpy()
    table["n_sectors"] = segments["n_sectors"].to_numpy()
    table["reason"] = reason
    _log_reasons(table, "invariant features")
    grid = invariant_periodogram_frequencies(config)
    periodograms = Periodograms(segments["segment_id"].to_numpy(), grid, periodogram_matrix(segments, results, grid.size),
                           "log10 mean noise-uncorrected amplitude^2 per log bin")
    made_from = ("compute_invariant_features_node", {"invariant_features": config},
                 {"segments": segments, "sector_light_curves": sector_light_curves})
    return provenance.record(table, *made_from), provenance.record(periodograms, *made_from)


def build_model_input(segments: pd.DataFrame, clusters: pd.DataFrame, features_classic: pd.DataFrame,
                      features_invariant: pd.DataFrame, params: dict[str, Any], invariant_params: dict[str, Any]) -> pd.DataFrame:
    """The table every model reads: one row per segment, its label and the selected features.

    Args:
        segments, clusters: from augmentation and ingestion.
        features_classic, features_invariant: from the feature nodes.
        params: ``feature_sets`` (any of ``classic``, ``invariant``), ``include_log_flux``,
            ``exclude`` (model_input column names to leave out, e.g. ``classic_skewness``; an
            unknown name is an error, not silently ignored).
        invariant_params: the invariant configuration (gives the band column names).

    Returns:
        ``segment_id, name, galaxy, kind, weight, log_age`` (NaN for unlabelled clusters), then the
        feature columns, prefixed ``classic_`` for the classic set; ``reason`` joins both sets' codes
        (column roles: :mod:`tess_cluster_age.schema`). Its provenance record holds every
        segment and feature parameter that produced it.

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
    out = segments[["segment_id", "name", "galaxy", "kind", "weight"]].copy()
    out["log_age"] = out["name"].map(clusters.set_index("name")["log_age"]).astype(float)
    out = out[list(ID_COLUMNS)]
    reasons = []
    for name, table, columns, prefix in (
        ("classic", features_classic, list(CLASSIC_FEATURES), "classic_"),
        ("invariant", features_invariant, [c for c in invariant_feature_names(invariant_config) if c != "log_flux"], ""),
    ):
        if name not in config.feature_sets:
            continue
        aligned = table.set_index("segment_id").reindex(out["segment_id"])
        if aligned["name"].isna().any():
            raise ValueError(f"features_{name} lacks segments that segments.parquet has; re-run feature_engineering")
        for column in columns:
            out[prefix + column] = aligned[column].to_numpy()
        reasons.append(aligned[REASON_COLUMN].fillna("").to_numpy())
    if config.include_log_flux:
        out["log_flux"] = features_invariant.set_index("segment_id")["log_flux"].reindex(out["segment_id"]).to_numpy()
    features = feature_columns(out)
    unknown = sorted(set(config.exclude) - set(features))
    if unknown:
        raise ValueError(f"model_input.exclude: no feature columns {unknown}; the columns are {features}")
    out = out.drop(columns=list(config.exclude))
    out[REASON_COLUMN] = [";".join(r for r in row if r) for row in zip(*reasons)] if reasons else ""
    logger.info("Model input: %d segments of %d clusters (%d labelled), %d feature columns", len(out), out["name"].nunique(),
                out.loc[out["log_age"].notna(), "name"].nunique(), len(feature_columns(out)))
    out = out.reset_index(drop=True)
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
