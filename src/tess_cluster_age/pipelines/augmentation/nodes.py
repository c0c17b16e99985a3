"""Nodes of the augmentation pipeline: cut every cluster's light curve into segments."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from tess_cluster_age import provenance
from tess_cluster_age.lightcurves import sectors_from_samples
from tess_cluster_age.segments import SEGMENT_COLUMNS, SegmentConfig, add_weights, cluster_segments

logger = logging.getLogger(__name__)


def build_segments(clusters: pd.DataFrame, sector_light_curves: pd.DataFrame, params: dict[str, Any],
                   seed: int) -> pd.DataFrame:
    """One row per segment of every cluster (SPEC section 2), for the kinds switched on.

    Args:
        clusters: cluster table from ingestion (``name``, ``galaxy``).
        sector_light_curves: sample table from ingestion.
        params: the ``augmentation`` parameters (kinds on/off, window and combo settings).
        seed: global seed; combos are drawn from a generator keyed by (seed, cluster name).

    Returns:
        ``segment_id, name, galaxy, kind, parts, n_points, n_sectors, span_days (d),
        cadence_s (median sample spacing, s), weight``, clusters in table order, with the
        provenance record (:mod:`tess_cluster_age.provenance`) of its parameters and inputs.
    """
    config = SegmentConfig.from_params(params)
    sectors = sectors_from_samples(sector_light_curves)
    rows = []
    for name, galaxy in zip(clusters["name"], clusters["galaxy"]):
        rows += cluster_segments(name, galaxy, sectors.get(name, []), config, seed)
    segments = add_weights(pd.DataFrame(rows, columns=[c for c in SEGMENT_COLUMNS if c != "weight"]))
    counts = segments["kind"].value_counts().reindex(list(config.kinds), fill_value=0)
    logger.info("Built %d segments of %d clusters: %s", len(segments), segments["name"].nunique(),
                ", ".join(f"{k} {n}" for k, n in counts.items()))
    return provenance.record(segments[SEGMENT_COLUMNS], "build_segments_node", {"augmentation": config, "seed": int(seed)},
                             {"clusters": clusters, "sector_light_curves": sector_light_curves})
