"""What each model pipeline hands to experiment tracking (kedro-mlflow, ``conf/base/mlflow.yml``).

kedro-mlflow's hook opens one MLflow run per ``kedro run`` of a model pipeline (``gaussian_nn``,
``random_forest``, ``regression``, ``combined``, or the default pipeline, which holds them) and logs
every node's ``params:`` inputs; :class:`tess_cluster_age.hooks.TrackingHook` logs the files of ``<pipeline>.metrics`` and
``<pipeline>.trained_models`` as artifacts. The one node here turns the pipeline's metrics table
into MLflow metrics; it imports no MLflow (the catalog entry ``<pipeline>.tracked_metrics``, a
kedro-mlflow ``MlflowMetricsHistoryDataset``, does the logging).
"""

from __future__ import annotations

import logging
import math

import pandas as pd
from kedro.pipeline import Node, node

from tess_cluster_age import evaluation

logger = logging.getLogger(__name__)

TRACKED_METRICS = ("rmse", "nll", "crps", "cov68", "cov95")
"""Logged per model and galaxy: cluster-level, all ages, mean over fold seeds (SPEC 4): RMSE and
CRPS in dex, NLL in nats per cluster, cov68/cov95 the fractions of clusters inside the 68/95 %
intervals."""


def tracked_metrics(metrics: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """The metrics of one model pipeline as MLflow metrics, one per model, galaxy and metric.

    Args:
        metrics: the pipeline's long metrics table (``model, level, galaxy, age_bin, seed, metric,
            value``; :func:`tess_cluster_age.pipelines.modelling.score_models`).

    Returns:
        ``{"<model>.<galaxy>.<metric>": {"value": mean, "step": 0}}`` for the cluster-level,
        all-ages rows, ``mean`` over fold seeds (:func:`evaluation.summarise`), for every metric
        of :data:`TRACKED_METRICS`; ``galaxy`` is ``MW``, ``LMC``, ``SMC`` or ``all``. A metric
        that is not defined for a model (NaN) is left out. The catalog's
        ``MlflowMetricsHistoryDataset`` prefixes the names with the pipeline's namespace.
    """
    rows = metrics[(metrics["level"] == "cluster") & (metrics["age_bin"] == "all") & metrics["metric"].isin(TRACKED_METRICS)]
    summary = evaluation.summarise(rows)
    tracked, undefined = {}, 0
    for row in summary.itertuples(index=False):
        if not math.isfinite(row.mean):
            undefined += 1
            continue
        tracked[f"{row.model}.{row.galaxy}.{row.metric}"] = {"value": float(row.mean), "step": 0}
    logger.info("tracking %d metrics (%d undefined left out)", len(tracked), undefined)
    return tracked


def tracking_node() -> Node:
    """The node of the model template that feeds ``tracked_metrics`` (namespaced with it)."""
    return node(tracked_metrics, inputs="metrics", outputs="tracked_metrics", name="tracked_metrics_node")
