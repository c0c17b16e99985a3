"""Nodes of the reporting pipeline: wiring between the catalog and :mod:`.tables`, :mod:`.figures` and :mod:`.context`.

Every number on the page comes from the model pipelines' tables (``<pipeline>.metrics``,
``<pipeline>.oof``, ``<pipeline>.importances``) through :mod:`tess_cluster_age.evaluation`. Figure
nodes return ``{"<name>.png": Figure}`` dicts that the catalog saves as PNG files
(``report_figures_<section>``); the context node receives those files' bytes back from the catalog,
so the page embeds exactly the files on disk. Each node reads its parameters once, through the
validated config classes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from tess_cluster_age import evaluation
from tess_cluster_age.config import EvaluationConfig, ReportingConfig
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.provenance import package_versions
from tess_cluster_age.schema import REFERENCE_MODEL

from . import figures
from .context import ReportContext, TrainingRecord, build_context, render
from .tables import combine_cluster_predictions, combine_importances, combine_model_tables, data_overview

__all__ = ["build_report_context", "collect_figures", "collect_training_records", "combine_cluster_predictions", "combine_importances",
           "combine_model_tables", "data_overview", "model_comparison", "plot_calibration_figures", "plot_control_figures",
           "plot_data_figures", "plot_importance_figures", "plot_light_curve_figures", "plot_per_galaxy_figures", "render_report"]

logger = logging.getLogger(__name__)


def model_comparison(metrics: pd.DataFrame) -> pd.DataFrame:
    """Cluster-level comparison of every model per galaxy (:func:`evaluation.model_comparison`)."""
    return evaluation.model_comparison(metrics)


# ------------------------------------------------------------------------------------ figures
def plot_data_figures(clusters: pd.DataFrame, sectors: pd.DataFrame) -> dict[str, Figure]:
    """``{"data_overview.png"}``: literature log ages and sector cadences per galaxy (:func:`figures.data_overview`)."""
    return {"data_overview.png": figures.data_overview(clusters, sectors)}


def plot_per_galaxy_figures(cluster_oof: pd.DataFrame, metrics: pd.DataFrame, reporting_params: Mapping[str, Any],
                            evaluation_params: Mapping[str, Any]) -> dict[str, Figure]:
    """Predicted against literature age, residuals, and error and coverage by age bin, of the featured models.

    Args:
        cluster_oof: cluster-level out-of-fold rows of every model (dex).
        metrics: combined metrics (for the age-bin rows).
        reporting_params: the ``reporting`` section (``featured_models``, ``figure_seed``).
        evaluation_params: the ``evaluation`` section (``age_bin_edges``, dex).

    Returns:
        ``predicted_vs_literature.png`` and ``residual_vs_age.png`` (fold seed ``figure_seed``),
        ``by_age_bin.png`` (the featured models and the reference); a figure whose models are
        all absent is left out.
    """
    cfg = ReportingConfig.from_params(reporting_params)
    evaluation_cfg = EvaluationConfig.from_params(evaluation_params)
    out = {}
    models = figures.present(cfg.featured_models, cluster_oof)
    if models:
        rows = figures.seed_rows(cluster_oof, cfg.figure_seed)
        out["predicted_vs_literature.png"] = figures.predicted_vs_literature(rows, models)
        out["residual_vs_age.png"] = figures.residual_vs_age(rows, models)
    bin_models = figures.present([*cfg.featured_models, REFERENCE_MODEL], metrics)
    cells = metrics[(metrics["level"] == "cluster") & metrics["model"].isin(bin_models) & (metrics["age_bin"] != "all")]
    if bin_models and not cells.empty:
        out["by_age_bin.png"] = figures.by_age_bin(cells, bin_models, evaluation_cfg.age_bin_edges)
    logger.info("per-galaxy figures: %s", sorted(out))
    return out


def plot_calibration_figures(cluster_oof: pd.DataFrame) -> dict[str, Figure]:
    """``pit_histograms.png`` and ``reliability.png`` of every model and baseline (not the controls); ``{}`` when there is none."""
    models = [m for m in dict.fromkeys(cluster_oof["model"]) if evaluation.model_role(m) != "control"]
    if not models:
        return {}
    return {"pit_histograms.png": figures.pit_histograms(cluster_oof, models), "reliability.png": figures.reliability(cluster_oof, models)}


def plot_control_figures(comparison: pd.DataFrame) -> dict[str, Figure]:
    """``controls.png``: each shuffled-label control beside the model it copies; ``{}`` when no control was run."""
    controls = sorted(m for m in comparison["model"].unique() if evaluation.model_role(m) == "control")
    pairs = [(c.removesuffix(evaluation.SHUFFLED_SUFFIX), c) for c in controls]
    pairs = [(real, c) for real, c in pairs if real in set(comparison["model"])]
    return {"controls.png": figures.controls(comparison, pairs)} if pairs else {}


def plot_importance_figures(importances: pd.DataFrame, reporting_params: Mapping[str, Any]) -> dict[str, Figure]:
    """``importances.png``: the ``importance_top`` features per model; ``{}`` when no pipeline computed importances."""
    cfg = ReportingConfig.from_params(reporting_params)
    return {"importances.png": figures.importances(importances, cfg.importance_top)} if not importances.empty else {}


def plot_light_curve_figures(clusters: pd.DataFrame, segments: pd.DataFrame, sector_light_curves: pd.DataFrame,
                             periodograms_classic: Periodograms, reporting_params: Mapping[str, Any],
                             evaluation_params: Mapping[str, Any]) -> dict[str, Figure]:
    """``light_curves.png``: a young and an old example cluster (:func:`figures.example_clusters`); ``{}`` when none exists.

    Args:
        clusters, segments, sector_light_curves, periodograms_classic: see :func:`figures.light_curves`.
        reporting_params: the ``reporting`` section (``example_galaxy``, ``example_clusters``).
        evaluation_params: the ``evaluation`` section (``young_old_log_age``, dex).
    """
    cfg = ReportingConfig.from_params(reporting_params)
    evaluation_cfg = EvaluationConfig.from_params(evaluation_params)
    examples = figures.example_clusters(clusters, segments, cfg.example_galaxy, cfg.example_clusters, evaluation_cfg.young_old_log_age)
    logger.info("light-curve examples: %s", examples)
    if not examples:
        return {}
    return {"light_curves.png": figures.light_curves(clusters, segments, sector_light_curves, periodograms_classic, examples)}


# ------------------------------------------------------------------------------------ the page
def collect_figures(**sections: Mapping[str, bytes]) -> dict[str, bytes]:
    """Every figure of every ``report_figures_<section>`` folder: file name -> PNG bytes (as the catalog loads them)."""
    return {name: png for section in sections.values() for name, png in section.items()}


def collect_training_records(**bundles: TrainedModels | None) -> dict[str, TrainingRecord | None]:
    """What each model pipeline recorded with its trained models (:meth:`TrainingRecord.from_bundle`).

    Args:
        **bundles: model pipeline -> its ``trained_models`` bundle (estimators are not loaded);
            None for a pipeline without trained models.

    Returns:
        Model pipeline -> its record, None for a pipeline without trained models.
    """
    return {pipeline: TrainingRecord.from_bundle(pipeline, bundle) if bundle is not None else None for pipeline, bundle in bundles.items()}


def build_report_context(data_per_galaxy: pd.DataFrame, ingestion_problems: pd.DataFrame, comparison: pd.DataFrame,
                         metrics: pd.DataFrame, last_predictions: pd.DataFrame, figure_images: Mapping[str, bytes],
                         training: Mapping[str, TrainingRecord | None], reporting_params: Mapping[str, Any],
                         evaluation_params: Mapping[str, Any]) -> ReportContext:
    """The report's :class:`ReportContext`; the packages installed now are compared with the models' records."""
    return build_context(per_galaxy=data_per_galaxy, problems=ingestion_problems, comparison=comparison, metrics=metrics,
                         last_predictions=last_predictions, figures=figure_images, training=training, versions_now=package_versions(),
                         reporting=ReportingConfig.from_params(reporting_params),
                         evaluation_config=EvaluationConfig.from_params(evaluation_params))


def render_report(context: ReportContext) -> str:
    """The HTML page of ``context`` (:func:`context.render`)."""
    return render(context)
