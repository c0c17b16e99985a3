"""Feature extraction for many segments: per-cluster tasks that a process pool or Dask can run.

A task carries one cluster's sector arrays and its segments, so that workers need nothing else.
Every segment's random numbers come from ``keyed_rng(seed, segment_id)``: the results do not
depend on the number of workers or their order.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import pandas as pd

from tess_cluster_age.config import FeatureExecutionConfig
from tess_cluster_age.features.classic import CLASSIC_FEATURES, ClassicConfig, classic_features, classic_periodogram_frequencies
from tess_cluster_age.features.invariant import (DESCRIPTORS, InvariantConfig, invariant_feature_names, invariant_features,
                                                 invariant_periodogram_frequencies)
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.parallel import run_tasks
from tess_cluster_age.lightcurves import sectors_from_samples
from tess_cluster_age.seeding import keyed_rng
from tess_cluster_age.segments import NORMALISED_KINDS, SectorArrays, sector_arrays, segment_arrays

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ClusterTask:
    """Everything needed to compute the features of one cluster's segments.

    Attributes:
        name: cluster name.
        sectors: sector number -> (time BTJD d, flux e/s, flux_err e/s).
        segments: (segment_id, kind, parts) of each of its segments.
    """

    name: str
    sectors: SectorArrays
    segments: list[tuple[str, str, list[dict[str, int]]]]


@dataclasses.dataclass(frozen=True)
class SegmentResult:
    """Features of one segment: scalar features, its periodogram (SPEC 3c) and the reason codes."""

    segment_id: str
    features: dict[str, float]
    periodogram: np.ndarray
    reason: str


def cluster_tasks(segments: pd.DataFrame, samples: pd.DataFrame) -> list[ClusterTask]:
    """Group segments by cluster and attach the arrays they reference (views, not copies)."""
    sectors = sectors_from_samples(samples)
    tasks = []
    for name, rows in segments.groupby("name", sort=False):
        if name not in sectors:
            raise KeyError(f"segments reference cluster {name!r}, which has no samples in sector_light_curves")
        tasks.append(ClusterTask(str(name), sector_arrays(sectors[name]), list(zip(rows["segment_id"], rows["kind"], rows["parts"]))))
    return tasks


def classic_cluster(task: ClusterTask, config: ClassicConfig, seed: int) -> list[SegmentResult]:
    """Classic features (SPEC 3a) of every segment of one cluster; noise from ``keyed_rng(seed, segment_id)``."""
    results = []
    for segment_id, kind, parts in task.segments:
        time, flux, flux_err = segment_arrays(kind, parts, task.sectors)
        result = classic_features(time, flux, flux_err, rng=keyed_rng(seed, segment_id), config=config)
        results.append(SegmentResult(segment_id, result.features, result.periodogram, result.reason))
    return results


def invariant_cluster(task: ClusterTask, config: InvariantConfig) -> list[SegmentResult]:
    """Invariant features (SPEC 3b) and the 128-bin amplitude spectrum of every segment of one cluster."""
    results = []
    for segment_id, kind, parts in task.segments:
        time, flux, flux_err = segment_arrays(kind, parts, task.sectors)
        if kind in NORMALISED_KINDS:
            # parts are normalised to their median; log_flux must still be the cluster's brightness
            median_flux = float(np.median(segment_arrays(kind, parts, task.sectors, normalise=False)[1]))
        else:
            median_flux = None
        result = invariant_features(time, flux, flux_err, config=config)
        features = dict(result.features)
        if median_flux is not None:
            features["log_flux"] = float(np.log10(median_flux)) if median_flux > 0 else float("nan")
        results.append(SegmentResult(segment_id, features, result.periodogram, result.reason))
    return results


def results_table(segments: pd.DataFrame, results: list[SegmentResult], columns: tuple[str, ...]) -> pd.DataFrame:
    """One row per segment in ``segments`` order: ``segment_id, name, kind``, the features, ``reason``."""
    by_id = {r.segment_id: r for r in results}
    ordered = [by_id[s] for s in segments["segment_id"]]
    table = pd.DataFrame({c: np.array([r.features.get(c, np.nan) for r in ordered], dtype=np.float64) for c in columns})
    table.insert(0, "kind", segments["kind"].to_numpy())
    table.insert(0, "name", segments["name"].to_numpy())
    table.insert(0, "segment_id", segments["segment_id"].to_numpy())
    table["reason"] = pd.Series([r.reason for r in ordered], dtype=str)
    return table


def periodogram_matrix(segments: pd.DataFrame, results: list[SegmentResult], n_frequencies: int) -> np.ndarray:
    """The segments' periodograms as a float32 matrix (n_segments, n_frequencies) in ``segments`` order."""
    by_id = {r.segment_id: r.periodogram for r in results}
    if not len(segments):
        return np.empty((0, n_frequencies), np.float32)
    return np.vstack([np.asarray(by_id[s], dtype=np.float32) for s in segments["segment_id"]])


def invariant_columns(config: InvariantConfig) -> tuple[str, ...]:
    """Invariant feature columns plus the descriptors kept beside them."""
    return tuple(invariant_feature_names(config)) + tuple(DESCRIPTORS)


# ------------------------------------------------------------------------------------ feature tables
def _run(function, segments: pd.DataFrame, samples: pd.DataFrame, settings: FeatureExecutionConfig, label: str) -> list[SegmentResult]:
    """Run ``function`` on every cluster task, in worker processes or on Dask as ``settings`` say."""
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


def classic_feature_table(segments: pd.DataFrame, samples: pd.DataFrame, config: ClassicConfig, execution: FeatureExecutionConfig,
                          seed: int) -> tuple[pd.DataFrame, Periodograms]:
    """The classic feature set (SPEC 3a) and the 1,089-bin bootstrap periodogram of every segment.

    Args:
        segments: the segment table (:func:`tess_cluster_age.segments.segment_table`).
        samples: the long sample table (BTJD d, e/s).
        config: grid, bootstrap count, percentiles, min_points, ...
        execution: workers, Dask scheduler, progress interval.
        seed: global seed; segment noise comes from ``keyed_rng(seed, segment_id)``.

    Returns:
        Features (``segment_id, name, kind``, the 19 original columns, ``reason``) and the
        periodograms (bootstrap median power, frequencies in 1/d), in ``segments`` order.
    """
    results = _run(functools.partial(classic_cluster, config=config, seed=int(seed)), segments, samples, execution, "classic features")
    table = results_table(segments, results, CLASSIC_FEATURES)
    _log_reasons(table, "classic features")
    grid = classic_periodogram_frequencies(config)
    periodograms = Periodograms(segments["segment_id"].to_numpy(), grid, periodogram_matrix(segments, results, grid.size),
                                "bootstrap median standard Lomb-Scargle power")
    return table, periodograms


def invariant_feature_table(segments: pd.DataFrame, samples: pd.DataFrame, config: InvariantConfig,
                            execution: FeatureExecutionConfig) -> tuple[pd.DataFrame, Periodograms]:
    """The invariant feature set (SPEC 3b) with ``log_flux``, and the 128-bin amplitude spectrum.

    Args:
        segments: the segment table (``cadence_s`` and ``n_sectors`` are copied beside the
            features as descriptors).
        samples: the long sample table (BTJD d, e/s).
        config: bin width, grids, bands, ...
        execution: workers, Dask scheduler, progress interval.

    Returns:
        Features (``segment_id, name, kind``, ``inv_*``, ``log_flux``, ``n_bins``, ``span_days``,
        ``cadence_s``, ``n_sectors``, ``reason``) and the periodograms (log10 mean A², 1/d grid),
        in ``segments`` order.
    """
    results = _run(functools.partial(invariant_cluster, config=config), segments, samples, execution, "invariant features")
    table = results_table(segments, results, invariant_columns(config))
    reason = table.pop("reason")
    table["cadence_s"] = segments["cadence_s"].to_numpy()
    table["n_sectors"] = segments["n_sectors"].to_numpy()
    table["reason"] = reason
    _log_reasons(table, "invariant features")
    grid = invariant_periodogram_frequencies(config)
    periodograms = Periodograms(segments["segment_id"].to_numpy(), grid, periodogram_matrix(segments, results, grid.size),
                                "log10 mean noise-uncorrected amplitude^2 per log bin")
    return table, periodograms
