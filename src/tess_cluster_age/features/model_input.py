"""The model-input table (SPEC 4): one row per segment with its label and the selected features,
and the periodogram vectors (SPEC 3c) joined to it for a network branch.

Column roles (identity, label, features, periodogram columns) are those of :mod:`tess_cluster_age.schema`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from tess_cluster_age.config import ModelInputConfig
from tess_cluster_age.features.classic import CLASSIC_FEATURES
from tess_cluster_age.features.invariant import InvariantConfig, invariant_feature_names
from tess_cluster_age.schema import ID_COLUMNS, REASON_COLUMN, feature_columns, periodogram_column

logger = logging.getLogger(__name__)


def model_input_table(segments: pd.DataFrame, clusters: pd.DataFrame, features_classic: pd.DataFrame,
                      features_invariant: pd.DataFrame, config: ModelInputConfig, invariant_config: InvariantConfig) -> pd.DataFrame:
    """The table every model reads: one row per segment, its label and the selected features.

    Args:
        segments: the segment table.
        clusters: one row per cluster (``name``, ``log_age`` in log10 yr or NaN).
        features_classic, features_invariant: the feature tables (:mod:`tess_cluster_age.features.extract`).
        config: ``feature_sets`` (any of ``classic``, ``invariant``), ``include_log_flux``,
            ``exclude`` (model-input column names to leave out, e.g. ``classic_skewness``; an
            unknown name is an error, not silently ignored).
        invariant_config: the invariant configuration (gives the band column names).

    Returns:
        ``segment_id, name, galaxy, kind, weight, log_age`` (NaN for unlabelled clusters), then the
        feature columns, prefixed ``classic_`` for the classic set; ``reason`` joins both sets' codes.
    """
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
    return out.reset_index(drop=True)


def join_periodogram(table: pd.DataFrame, periodograms: Mapping[str, Any] | None, periodogram: str | None) -> pd.DataFrame:
    """``table`` with the chosen periodogram vector of each segment as columns ``periodogram_<frequency>``
    (:func:`~tess_cluster_age.schema.periodogram_column`: one per bin of the vector's grid, named by its frequency in 1/d).

    Args:
        table: model-input rows (``segment_id``).
        periodograms: ``{"classic": Periodograms, "invariant": Periodograms}`` (read only when
            ``periodogram`` is set).
        periodogram: None (``table`` unchanged), ``classic`` or ``invariant`` (SPEC 3c).
    """
    if not periodogram:
        return table
    if not periodograms or periodogram not in periodograms:
        raise ValueError(f"periodogram {periodogram!r}: use 'classic' or 'invariant'")
    try:
        values = periodograms[periodogram].rows(table["segment_id"])
    except KeyError as exc:
        raise ValueError(f"periodograms_{periodogram}: {exc.args[0]}; re-run the feature_engineering pipeline") from None
    names = [periodogram_column(f) for f in periodograms[periodogram].frequency]
    if len(set(names)) != len(names):
        raise ValueError(f"periodograms_{periodogram}: bins closer than six significant digits of frequency cannot be named apart")
    columns = pd.DataFrame(values, columns=names, index=table.index)
    return pd.concat([table, columns], axis=1)
