"""Column schema of ``model_input.parquet``: the one place that says which columns are features.

``build_model_input`` writes the table and every model reads it, so both select columns through
this module, by name, never by position.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ID_COLUMNS: tuple[str, ...] = ("segment_id", "name", "galaxy", "kind", "weight", "log_age")
"""Identity, weight (SPEC 2) and label (log10 age in years; NaN for unlabelled clusters)."""

REASON_COLUMN = "reason"
"""Why some features of a segment are NaN (codes joined by ';'); empty when all are computed."""

NON_FEATURE_COLUMNS: frozenset[str] = frozenset((*ID_COLUMNS, REASON_COLUMN))

PERIODOGRAM_PREFIX = "periodogram_"
"""Columns ``periodogram_<frequency>`` hold a periodogram vector (SPEC 3c) joined for a network
branch, one column per bin named by its frequency in 1/d (:func:`periodogram_column`); they are
not scalar features."""

GALAXIES: tuple[str, ...] = ("MW", "LMC", "SMC")
"""Host galaxies, in the order every table and report uses."""

BASELINES: tuple[str, ...] = ("constant", "galaxy_mean")
"""Baseline models every model pipeline scores on the same folds (SPEC 4)."""

REFERENCE_MODEL = "galaxy_mean"
"""The baseline every model's cluster RMSE is compared with (the paired bootstrap CI of SPEC 4)."""

MODEL_PIPELINES: tuple[str, ...] = ("random_forest", "gaussian_nn", "regression", "combined")
"""The pipelines that train (and save) age models, in the order the report's tables and predict's
model lookup use."""


def periodogram_column(frequency: float) -> str:
    """The column of the periodogram bin at ``frequency`` (1/d): ``periodogram_<f>``, six significant digits."""
    return f"{PERIODOGRAM_PREFIX}{float(frequency):.6g}"


def periodogram_frequency(column: str) -> float:
    """The frequency (1/d) a periodogram column is named by (:func:`periodogram_column`).

    Raises:
        ValueError: ``column`` is not ``periodogram_<number>``.
    """
    if not column.startswith(PERIODOGRAM_PREFIX):
        raise ValueError(f"{column!r} is not a periodogram column ({PERIODOGRAM_PREFIX}<frequency in 1/d>)")
    try:
        return float(column[len(PERIODOGRAM_PREFIX):])
    except ValueError:
        raise ValueError(f"{column!r} is not a periodogram column ({PERIODOGRAM_PREFIX}<frequency in 1/d>)") from None


def feature_columns(columns: Iterable[str] | pd.DataFrame) -> list[str]:
    """The scalar feature columns of a model-input table (or of its column names), in table order."""
    names = getattr(columns, "columns", columns)   # a DataFrame's column names, or the names themselves
    return [c for c in names if c not in NON_FEATURE_COLUMNS and not c.startswith(PERIODOGRAM_PREFIX)]
