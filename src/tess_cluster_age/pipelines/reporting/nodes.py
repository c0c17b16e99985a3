"""Nodes of the reporting pipeline: wiring between the catalog and :mod:`.tables`, :mod:`.figures` and :mod:`.context`.

Every number on the page comes from the model pipelines' tables (``<pipeline>.metrics``,
``<pipeline>.oof``, ``<pipeline>.importances``) through :mod:`tess_cluster_age.evaluation`, and
from the independent age catalogues (``external_dir``) through :mod:`tess_cluster_age.external`. Figure
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

from tess_cluster_age import evaluation, external
from tess_cluster_age.config import EvaluationConfig, ExternalValidationConfig, PredictConfig, ReportingConfig
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.provenance import package_versions
from tess_cluster_age.schema import GALAXIES, REFERENCE_MODEL

from . import figures
from .context import (CoverageSection, ExternalSection, ReportContext, TrainingRecord, build_context, coverage_section, external_section,
                      render)
from .tables import combine_cluster_predictions, combine_importances, combine_model_tables, data_overview

__all__ = ["build_report_context", "collect_figures", "collect_training_records", "combine_cluster_predictions", "combine_importances",
           "combine_model_tables", "coverage_by_predicted_age", "data_overview", "independent_catalogues", "label_scatter", "match_independent_ages",
           "model_comparison", "plot_calibration_figures", "plot_control_figures", "plot_data_figures", "plot_external_figures",
           "plot_importance_figures", "plot_light_curve_figures", "plot_per_galaxy_figures", "recommended_models", "render_report",
           "report_coverage_section", "report_external_section", "validate_against_independent_ages"]

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


# ------------------------------------------------------------------------------------ coverage by predicted age
def coverage_by_predicted_age(cluster_oof: pd.DataFrame, evaluation_params: Mapping[str, Any]) -> pd.DataFrame:
    """``coverage_by_predicted_age.csv``: out-of-fold cluster coverage per model, galaxy and predicted-age bin.

    Args:
        cluster_oof: cluster-level out-of-fold rows of every model (dex).
        evaluation_params: the ``evaluation`` section (``calibration_bin_edges``, log10 yr: the bins
            the models' sigma is calibrated in).

    Returns:
        :data:`evaluation.COVERAGE_BY_PREDICTED_AGE_COLUMNS` (:func:`evaluation.coverage_by_predicted_age`).
    """
    cfg = EvaluationConfig.from_params(evaluation_params)
    table = evaluation.coverage_by_predicted_age(cluster_oof, cfg.calibration_bin_edges)
    logger.info("coverage by predicted age: %d models x galaxy x bin cells", len(table))
    return table


def report_coverage_section(cluster_oof: pd.DataFrame, by_predicted: pd.DataFrame, recommended: Mapping[str, Mapping[str, str]],
                            reporting_params: Mapping[str, Any], evaluation_params: Mapping[str, Any]) -> CoverageSection:
    """The report's coverage by predicted and by true age of each galaxy's recommended model (:func:`context.coverage_section`).

    Args:
        cluster_oof: cluster-level out-of-fold rows of every model (coverage by true age is computed from them).
        by_predicted: ``coverage_by_predicted_age.csv``.
        recommended: galaxy -> ``{"model", "why"}`` (:func:`recommended_models`).
        reporting_params: the ``reporting`` section (``featured_models``).
        evaluation_params: the ``evaluation`` section (``calibration*``).
    """
    cfg = EvaluationConfig.from_params(evaluation_params)
    by_true = evaluation.coverage_by_age_bin(cluster_oof, cfg.calibration_bin_edges, "log_age")
    return coverage_section(by_predicted=by_predicted, by_true=by_true, recommended=recommended,
                            featured=ReportingConfig.from_params(reporting_params).featured_models, config=cfg)


# ------------------------------------------------------------------------------------ independent ages (SPEC 8)
CATALOGUE_COLUMNS = [*external.REQUIRED_COLUMNS, *external.OPTIONAL_COLUMNS]
"""Columns of the independent catalogues' table (:func:`tess_cluster_age.external.external_catalogues`)."""


def independent_catalogues(catalogue_files: Mapping[str, pd.DataFrame], params: Mapping[str, Any]) -> pd.DataFrame:
    """The independent age catalogues in one table, independent rows only (:func:`external.external_catalogues`).

    Evaluation only: nothing downstream of this node trains, tunes or selects a model.

    Args:
        catalogue_files: file name -> table (``external_catalogue_files``); ``{}`` when ``external_dir`` is absent.
        params: the ``external_validation`` section.

    Returns:
        ``name, ra, dec, log_age, galaxy, catalogue, e_log_age, age_source`` (deg, deg, log10 yr, ..., dex);
        no rows when there is no file, a skip that is logged and that the report states.
    """
    cfg = ExternalValidationConfig.from_params(params)
    if not catalogue_files:
        logger.warning("external validation skipped: 0 independent catalogues read (external_dir in conf/base/globals.yml "
                       "is absent or holds no CSV)")
        return pd.DataFrame(columns=CATALOGUE_COLUMNS)
    return external.external_catalogues(catalogue_files, cfg)


def match_independent_ages(clusters: pd.DataFrame, catalogues: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Each of our clusters to at most one row of each independent catalogue (:func:`external.match_external`).

    Args:
        clusters: ``name, galaxy, ra, dec`` (ICRS deg), one row per cluster (the ingestion table).
        catalogues: from :func:`independent_catalogues`.
        params: the ``external_validation`` section (``radius_deg`` per galaxy).

    Returns:
        :data:`external.MATCH_COLUMNS` (no rows without catalogues).
    """
    cfg = ExternalValidationConfig.from_params(params)
    if catalogues.empty:
        return pd.DataFrame(columns=external.MATCH_COLUMNS)
    matches = external.match_external(clusters, catalogues, cfg)
    logger.info("independent ages: %d of %d clusters matched in at least one of %d catalogues", matches["name"].nunique(), len(clusters),
                catalogues["catalogue"].nunique())
    return matches


def _labels(clusters: pd.DataFrame) -> pd.DataFrame:
    """``name, galaxy, log_age`` (the training label, log10 yr; NaN when unlabelled) of every cluster."""
    return clusters[["name", "galaxy", "log_age"]]


def validate_against_independent_ages(cluster_oof: pd.DataFrame, clusters: pd.DataFrame, matches: pd.DataFrame,
                                      params: Mapping[str, Any]) -> pd.DataFrame:
    """Every model's out-of-fold ages and the labels against each independent catalogue (:func:`external.external_validation`).

    Every model and baseline of the model pipelines is compared (not the shuffled-label controls,
    whose predictions are of permuted labels).

    Args:
        cluster_oof: cluster-level out-of-fold rows of every model (``model, seed, name, mu``, dex).
        clusters: the labels (``name, galaxy, log_age``).
        matches: from :func:`match_independent_ages`.
        params: the ``external_validation`` section (``bootstrap``).

    Returns:
        ``model, galaxy, catalogue, n, rmse, label_rmse, rmse_minus_label_rmse, lo95, hi95`` (dex;
        ``lo95, hi95`` the 95 % paired cluster-bootstrap CI of the difference); no rows when
        nothing matched.
    """
    cfg = ExternalValidationConfig.from_params(params)
    if matches.empty:
        logger.warning("external validation: no cluster matched an independent catalogue, no comparison")
        return pd.DataFrame(columns=external.VALIDATION_COLUMNS)
    compared = cluster_oof[cluster_oof["model"].map(evaluation.model_role) != "control"]
    return external.external_validation(compared, _labels(clusters), matches, cfg.bootstrap)


def label_scatter(clusters: pd.DataFrame, matches: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """The labels' own random error per galaxy by the three-cornered hat (:func:`external.label_scatter`).

    Args:
        clusters: the labels (``name, galaxy, log_age``).
        matches: from :func:`match_independent_ages`.
        params: the ``external_validation`` section (``hat_min_shared``, ``hat_exclude_pairs``).

    Returns:
        :data:`external.HAT_COLUMNS` (sigmas in dex); no rows when nothing matched.
    """
    cfg = ExternalValidationConfig.from_params(params)
    if matches.empty:
        return pd.DataFrame(columns=external.HAT_COLUMNS)
    return external.label_scatter(_labels(clusters), matches, cfg.hat_min_shared, cfg.hat_exclude_pairs)


def recommended_models(predict_params: Mapping[str, Any], **bundles: TrainedModels | None) -> dict[str, dict[str, str]]:
    """Each galaxy's recommended model and why, by the rule that dating uses (:func:`tess_cluster_age.dating.recommended_models`).

    Args:
        predict_params: the ``predict`` section (``recommend_by``).
        **bundles: model pipeline -> its ``trained_models`` bundle (estimators are not loaded), None when not trained.

    Returns:
        galaxy -> ``{"model": name, "why": reason}``; ``{}`` when no pipeline has trained models.
    """
    from tess_cluster_age.dating import TrainedModel
    from tess_cluster_age.dating import recommended_models as recommend

    models = [TrainedModel(name, pipeline, bundle) for pipeline, bundle in bundles.items() if bundle is not None
              for name in bundle.model_info]
    if not models:
        logger.warning("reporting: no trained model, so no recommended model to compare with independent ages")
        return {}
    picked = recommend(models, PredictConfig.from_params(predict_params).recommend_by)
    logger.info("recommended models: %s", ", ".join(f"{g} {name}" for g, (name, _) in picked.items()))
    return {galaxy: {"model": name, "why": why} for galaxy, (name, why) in picked.items()}


def plot_external_figures(cluster_oof: pd.DataFrame, matches: pd.DataFrame, validation: pd.DataFrame,
                          recommended: Mapping[str, Mapping[str, str]], reporting_params: Mapping[str, Any]) -> dict[str, Figure]:
    """Per galaxy, the recommended model's out-of-fold age and the label against each independent catalogue's age.

    Args:
        cluster_oof: cluster-level out-of-fold rows of every model (dex).
        matches: from :func:`match_independent_ages`.
        validation: ``external_validation.csv`` rows.
        recommended: galaxy -> ``{"model", "why"}`` (:func:`recommended_models`).
        reporting_params: the ``reporting`` section (``figure_seed``).

    Returns:
        ``{figures.external_figure_name(galaxy): Figure}`` (:func:`figures.against_independent_ages`) for each
        galaxy with a match and a recommended model with out-of-fold rows; ``{}`` when none.
    """
    cfg = ReportingConfig.from_params(reporting_params)
    out = {}
    for galaxy in GALAXIES:
        here = matches[matches["galaxy"] == galaxy]
        model = recommended.get(galaxy, {}).get("model")
        rows = cluster_oof[(cluster_oof["model"] == model) & (cluster_oof["galaxy"] == galaxy)]
        if here.empty or rows.empty:
            logger.info("independent ages: no figure for the %s (%d matches, recommended model %s)", galaxy, len(here), model)
            continue
        numbers = validation[(validation["model"] == model) & (validation["galaxy"] == galaxy)]
        out[figures.external_figure_name(galaxy)] = figures.against_independent_ages(
            here, figures.seed_rows(rows, cfg.figure_seed), numbers, model, galaxy)
    return out


def report_external_section(catalogues: pd.DataFrame, matches: pd.DataFrame, validation: pd.DataFrame, scatter: pd.DataFrame,
                            recommended: Mapping[str, Mapping[str, str]], params: Mapping[str, Any]) -> ExternalSection:
    """The report's section on independent ages (:func:`context.external_section`), verdicts in words included."""
    return external_section(catalogues=catalogues, matches=matches, validation=validation, scatter=scatter, recommended=recommended,
                            config=ExternalValidationConfig.from_params(params))


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
                         training: Mapping[str, TrainingRecord | None], external_part: ExternalSection, coverage_part: CoverageSection,
                         reporting_params: Mapping[str, Any], evaluation_params: Mapping[str, Any],
                         external_params: Mapping[str, Any]) -> ReportContext:
    """The report's :class:`ReportContext`; the packages installed now are compared with the models' records."""
    return build_context(per_galaxy=data_per_galaxy, problems=ingestion_problems, comparison=comparison, metrics=metrics,
                         last_predictions=last_predictions, figures=figure_images, training=training, versions_now=package_versions(),
                         reporting=ReportingConfig.from_params(reporting_params),
                         evaluation_config=EvaluationConfig.from_params(evaluation_params), external=external_part,
                         external_config=ExternalValidationConfig.from_params(external_params), coverage=coverage_part)


def render_report(context: ReportContext) -> str:
    """The HTML page of ``context`` (:func:`context.render`)."""
    return render(context)
