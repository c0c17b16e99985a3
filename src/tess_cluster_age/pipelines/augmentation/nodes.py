"""Nodes of the augmentation pipeline: cut every cluster's light curve into segments."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tess_cluster_age import provenance
from tess_cluster_age.segments import SegmentConfig, segment_table


def build_segments(clusters: pd.DataFrame, sector_light_curves: pd.DataFrame, params: dict[str, Any],
                   seed: int) -> pd.DataFrame:
    """One row per segment of every cluster (SPEC section 2), for the kinds switched on
    (:func:`tess_cluster_age.segments.segment_table`).

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
    segments = segment_table(clusters, sector_light_curves, config, seed)
    return provenance.record(segments, "build_segments_node", {"augmentation": config, "seed": int(seed)},
                             {"clusters": clusters, "sector_light_curves": sector_light_curves})
