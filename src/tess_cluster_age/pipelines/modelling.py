"""The one template of the model pipelines (``gaussian_nn``, ``random_forest``, ``regression``).

Each model pipeline is :func:`model_pipeline` under its own Kedro namespace, so its parameters
(``parameters_<name>.yml``, top-level key ``<name>``) and outputs (``<name>.oof``,
``<name>.metrics``, ``<name>.importances``, ``<name>.trained_models``) are its own, while it reads
the shared ``model_input`` and ``folds``. The nodes here are pure functions; the science lives in
:mod:`tess_cluster_age.evaluation` and :mod:`tess_cluster_age.models`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node, pipeline

from tess_cluster_age import evaluation
from tess_cluster_age.config import EvaluationConfig
from tess_cluster_age.models import build_model
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.models.config import ModelPipelineConfig, ModelSpec
from tess_cluster_age.provenance import package_versions
from tess_cluster_age.pipelines.tracking import tracking_node
from tess_cluster_age.provenance import provenance_of as record_of
from tess_cluster_age.features.model_input import join_periodogram
from tess_cluster_age.schema import BASELINES, GALAXIES, ID_COLUMNS, REFERENCE_MODEL, feature_columns

logger = logging.getLogger(__name__)

SHUFFLED_SUFFIX = evaluation.SHUFFLED_SUFFIX

CV_SUMMARY_METRICS = ("rmse", "skill", "nll", "crps", "cov68", "cov95", "rmse_diff", "rmse_diff_lo95", "rmse_diff_hi95")
"""Cluster-level cross-validated metrics stored with each trained model, per galaxy (mean over fold
seeds); the recommended model of a galaxy is chosen on one of them (``predict.recommend_by``)."""

PROVENANCE_PARAMETERS = ("ingestion", "augmentation", "classic_features", "invariant_features", "model_input", "seed")
"""Parameter sections that produced a model's inputs; stored with the trained model for predict."""


# ------------------------------------------------------------------------------------ inputs
def _labelled(model_input: pd.DataFrame) -> pd.DataFrame:
    return model_input[model_input["log_age"].notna()].reset_index(drop=True)


def _model_factory(spec: ModelSpec, seed: int, config: ModelPipelineConfig, evaluation_config: EvaluationConfig, name: str | None = None):
    """A picklable ``make_model()`` for :func:`evaluation.cross_validate`; the model ``name`` is tuned
    when ``config.tuning`` selects it (never a baseline, which has no name here)."""
    tuning = config.tuning.for_model(name) if name is not None else None
    return functools.partial(build_model, spec, seed, tuning, evaluation_config.age_bin_edges,
                             evaluation_config.sigma_calibration_bin_edges, evaluation_config.calibration_min_clusters)


# ------------------------------------------------------------------------------------ nodes
def cross_validate_models(model_input: pd.DataFrame, folds: pd.DataFrame, periodograms_classic: Any, periodograms_invariant: Any,
                          params: dict[str, Any], evaluation_params: dict[str, Any], seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Out-of-fold predictions of every configured model and of the baselines, on every fold seed.

    Args:
        model_input: segments with labels and features.
        folds: ``name, seed, fold`` (the same file for every model, SPEC 4).
        periodograms_classic, periodograms_invariant: periodogram vectors (read when a model sets
            ``periodogram``).
        params: the pipeline's section: ``models`` (name -> ``estimator``, ``options``,
            ``per_galaxy``, ``periodogram``), ``shuffle_labels`` (train and score every model on
            labels permuted across clusters), ``controls`` (models that are also run on permuted
            labels, named ``<model>_shuffled_labels``), ``control_seeds`` (the fold seeds the
            controls run on; all when absent), ``shuffle_seed``, ``tuning``,
            ``importance`` (``models``, ``seeds``, ``n_repeats``) (:class:`ModelPipelineConfig`).
        evaluation_params: the shared ``evaluation`` section (its ``age_bin_edges`` stratify the
            models' inner folds; ``calibration``, ``calibration_bin_edges`` and
            ``calibration_min_clusters`` set how they calibrate sigma).
        seed: the global seed (models' random states).

    Returns:
        Out-of-fold rows (segment and cluster level: ``model, level, seed, fold, segment_id, name,
        galaxy, kind, log_age, mu, sigma, n_segments, pit``) and permutation importances
        (``model, seed, fold, feature, importance`` = increase of held-out cluster RMSE, dex), and
        each fold's inner out-of-fold cluster predictions of its training clusters, per learned
        model (:data:`evaluation.INNER_OOF_COLUMNS`; what the combined model's weights are fitted on).
    """
    periodograms = {"classic": periodograms_classic, "invariant": periodograms_invariant}
    config = ModelPipelineConfig.from_params(params)
    evaluation_config = EvaluationConfig.from_params(evaluation_params)
    labelled = _labelled(model_input)
    shuffled = evaluation.shuffled_labels(labelled["log_age"], labelled["name"], config.shuffle_seed)
    if config.shuffle_labels:
        logger.warning("shuffle_labels: every model is trained and scored on labels permuted across clusters (seed %d)", config.shuffle_seed)
        runs = [(shuffled, SHUFFLED_SUFFIX, list(config.models))]
    else:
        runs = [(labelled["log_age"], "", list(config.models))]
        if config.controls:
            runs.append((shuffled, SHUFFLED_SUFFIX, list(config.controls)))
    rows, importances, inner = [], [], []
    for labels, suffix, names in runs:
        data = labelled.assign(log_age=labels.to_numpy())   # the label column is never a feature
        run_folds = folds
        if suffix and config.control_seeds and not config.shuffle_labels:
            run_folds = folds[folds["seed"].isin(config.control_seeds)]
        for baseline in BASELINES:
            rows.append(evaluation.cross_validate(_model_factory(ModelSpec(estimator=baseline), seed, config, evaluation_config), data,
                                                  run_folds, baseline + suffix))
        for name in names:
            spec = config.models[name]
            table = join_periodogram(data, periodograms, spec.periodogram)
            start = time.perf_counter()
            logger.info("cross-validating %s on %d seeds x %d folds ...", name + suffix, run_folds["seed"].nunique(), run_folds["fold"].nunique())
            wants_importance = name in config.importance.models and not suffix
            oof = evaluation.cross_validate(_model_factory(spec, seed, config, evaluation_config, name), table, run_folds, name + suffix,
                                            progress=logger, importance=config.importance if wants_importance else None,
                                            workers=spec.workers, inner=True)
            inner.append(oof.attrs.pop("inner"))
            if "importance" in oof.attrs:
                importances.append(oof.attrs.pop("importance").assign(model=name))
            logger.info("%s: cross-validated in %.0f s", name + suffix, time.perf_counter() - start)
            rows.append(oof)
    oof = evaluation.with_cluster_rows(pd.concat(rows, ignore_index=True))
    importance_table = (pd.concat(importances, ignore_index=True) if importances
                        else pd.DataFrame(columns=["model", "seed", "fold", "feature", "importance"]))
    inner_table = pd.concat(inner, ignore_index=True) if inner else pd.DataFrame(columns=evaluation.INNER_OOF_COLUMNS)
    return oof, importance_table, inner_table


ABLATION_METRICS = {"rmse_diff": "ablation_rmse_diff", "rmse_diff_lo95": "ablation_rmse_diff_lo95", "rmse_diff_hi95": "ablation_rmse_diff_hi95"}
"""The bootstrap metrics of an ablation variant against its pipeline's ``ablation_reference`` (cluster level)."""


def score_models(oof: pd.DataFrame, params: dict[str, Any], section: dict[str, Any] | None = None) -> pd.DataFrame:
    """Every metric of SPEC 4 for every model in ``oof``, plus the bootstrap CI against galaxy_mean.

    Args:
        oof: out-of-fold rows from :func:`cross_validate_models`.
        params: the shared ``evaluation`` section: ``age_bin_edges``, ``young_old_log_age``,
            ``catastrophic_dex``, ``bootstrap`` (``n``, ``seed``).
        section: the pipeline's section (:class:`ModelPipelineConfig`); when ``oof`` holds its
            ``ablation_models``, each is also compared with ``ablation_reference`` by the same paired
            cluster bootstrap (cluster level): metrics ``ablation_rmse_diff`` (variant minus reference,
            dex), ``ablation_rmse_diff_lo95`` and ``ablation_rmse_diff_hi95``.

    Returns:
        Long table ``model, level, galaxy, age_bin, seed, metric, value`` (``seed`` empty for the
        bootstrap rows, which pool the fold seeds).
    """
    config = EvaluationConfig.from_params(params)
    parts = []
    for suffix in ("", SHUFFLED_SUFFIX):
        rows = oof[oof["model"].str.endswith(SHUFFLED_SUFFIX) == bool(suffix)]
        if rows.empty:
            continue
        parts.append(evaluation.score(rows, config.age_bin_edges, config.young_old_log_age, config.catastrophic_dex,
                                      reference_model="constant" + suffix))
        for level in ("cluster", "segment"):
            parts.append(evaluation.bootstrap_rmse_difference(rows, REFERENCE_MODEL + suffix, config.bootstrap.n, config.bootstrap.seed, level))
    if section is not None:
        parts.append(_ablation_differences(oof, ModelPipelineConfig.from_params(section), config))
    metrics = pd.concat(parts, ignore_index=True)
    metrics["seed"] = metrics["seed"].astype("Int64")
    _log_summary(metrics)
    if evaluation.controls_without_skill(metrics):
        logger.info("shuffled-label controls: no skill, as expected")
    return metrics


def _ablation_differences(oof: pd.DataFrame, section: ModelPipelineConfig, config: EvaluationConfig) -> pd.DataFrame:
    """Cluster RMSE of each ablation variant in ``oof`` minus its reference's, with the paired cluster bootstrap CI."""
    variants = [name for name in section.ablation_models if name in set(oof["model"])]
    if not variants or section.ablation_reference not in set(oof["model"]):
        return pd.DataFrame(columns=evaluation.METRIC_COLUMNS)
    rows = oof[oof["model"].isin([section.ablation_reference, *variants])]
    differences = evaluation.bootstrap_rmse_difference(rows, section.ablation_reference, config.bootstrap.n, config.bootstrap.seed, "cluster")
    return differences.assign(metric=differences["metric"].map(ABLATION_METRICS))


def _log_summary(metrics: pd.DataFrame) -> None:
    summary = evaluation.summarise(metrics[(metrics["level"] == "cluster") & (metrics["age_bin"] == "all")])
    table = summary[summary["metric"].isin(["rmse", "cov68", "cov95"])].pivot_table(index="model", columns=["metric", "galaxy"], values="mean")
    for model, row in table.iterrows():
        logger.info("%-34s cluster RMSE all %.3f | MW %.3f LMC %.3f SMC %.3f | cov68 %.2f cov95 %.2f", model,
                    *(row.get(("rmse", g), np.nan) for g in ("all", *GALAXIES)), row.get(("cov68", "all"), np.nan), row.get(("cov95", "all"), np.nan))


def train_final_models(model_input: pd.DataFrame, periodograms_classic: Any, periodograms_invariant: Any, metrics: pd.DataFrame,
                       params: dict[str, Any], evaluation_params: dict[str, Any], seed: int, provenance: dict[str, Any]) -> TrainedModels:
    """Every model with ``save: true``, fitted on all labelled clusters, with what predict needs.

    Args:
        model_input, periodograms_*: as for :func:`cross_validate_models`.
        metrics: this pipeline's metrics (the cross-validated skill per galaxy goes with the model).
        params: the pipeline's section.
        evaluation_params: the shared ``evaluation`` section (inner folds' age bins, sigma calibration).
        seed: the global seed.
        provenance: the parameters that produced ``model_input`` (segments and features), so
            predict rebuilds exactly these features.

    Returns:
        The bundle (:class:`~tess_cluster_age.models.bundle.TrainedModels`): the fitted models, per
        model its spec, tuned parameters and cross-validated cluster metrics per galaxy; the
        feature columns and their training ranges (1st/99th percentiles, min, max); the provenance
        parameters and the provenance record that ``model_input`` carries (the lineage of
        parameters that actually produced the features); package versions and training set size.
    """
    periodograms = {"classic": periodograms_classic, "invariant": periodograms_invariant}
    config = ModelPipelineConfig.from_params(params)
    evaluation_config = EvaluationConfig.from_params(evaluation_params)
    labelled = _labelled(model_input)
    features = feature_columns(labelled)
    models, per_model = {}, {}
    for name, spec in config.models.items():
        if not spec.save:
            continue
        start = time.perf_counter()
        table = join_periodogram(labelled, periodograms, spec.periodogram)
        model = _model_factory(spec, seed, config, evaluation_config, name)()
        model.fit(table, table["log_age"].to_numpy(float), sample_weight=table["weight"].to_numpy(float), groups=table["name"].to_numpy())
        models[name] = model
        per_model[name] = ModelInfo(spec=dataclasses.asdict(spec), tuned_parameters=_tuned_parameters(model),
                                    cross_validation=cv_summary(metrics, name))
        logger.info("%s: final model fitted on %d clusters (%d segments) in %.0f s", name, labelled["name"].nunique(), len(labelled),
                    time.perf_counter() - start)
    input_record = record_of(model_input)
    values = labelled[features].to_numpy(float)
    with np.errstate(all="ignore"):
        low, high = np.nanpercentile(values, [1, 99], axis=0)
        minimum, maximum = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    return TrainedModels(
        models=models,
        model_info=per_model,
        feature_columns=features,
        identity_columns=ID_COLUMNS,
        feature_ranges={f: {"p01": float(a), "p99": float(b), "min": float(c), "max": float(d)}
                        for f, a, b, c, d in zip(features, low, high, minimum, maximum)},
        galaxies=sorted(labelled["galaxy"].unique().tolist()),
        n_clusters=int(labelled["name"].nunique()),
        n_segments=int(len(labelled)),
        provenance=provenance,
        input_provenance=input_record,
        versions=package_versions(),
    )


def _tuned_parameters(model: Any) -> dict:
    from tess_cluster_age.models import PerGalaxy, TunedAgeModel

    if isinstance(model, TunedAgeModel):
        return dict(model.best_params_)
    if isinstance(model, PerGalaxy):
        return {g: _tuned_parameters(m) for g, m in model.models_.items()}
    return {}


def cv_summary(metrics: pd.DataFrame, model: str) -> dict:
    """Cluster-level cross-validated metrics per galaxy (mean over seeds) and the CI against galaxy_mean."""
    rows = metrics[(metrics["model"] == model) & (metrics["level"] == "cluster") & (metrics["age_bin"] == "all")]
    out = {}
    for galaxy, part in rows.groupby("galaxy"):
        values = part.groupby("metric")["value"].mean()
        out[galaxy] = {k: float(values[k]) for k in CV_SUMMARY_METRICS if k in values}
    return out


def collect_provenance(ingestion: dict, augmentation: dict, classic_features: dict, invariant_features: dict, model_input: dict,
                       seed: int) -> dict[str, Any]:
    """The parameter sections that produced ``model_input``, in one mapping (stored with models)."""
    return dict(zip(PROVENANCE_PARAMETERS, (ingestion, augmentation, classic_features, invariant_features, model_input, seed)))


# ------------------------------------------------------------------------------------ template
def model_pipeline(name: str) -> Pipeline:
    """The model pipeline template under namespace ``name`` (its parameters: ``params:<name>.*``)."""
    template = pipeline([
        node(cross_validate_models,
             inputs=["model_input", "folds", "periodograms_classic", "periodograms_invariant", "params:models_section", "params:evaluation",
                     "params:seed"],
             outputs=["oof", "importances", "inner_oof"], name="cross_validate_models_node"),
        node(score_models, inputs=["oof", "params:evaluation", "params:models_section"], outputs="metrics", name="score_models_node"),
        node(collect_provenance,
             inputs=[f"params:{p}" for p in PROVENANCE_PARAMETERS], outputs="provenance", name="collect_provenance_node"),
        node(train_final_models,
             inputs=["model_input", "periodograms_classic", "periodograms_invariant", "metrics", "params:models_section", "params:evaluation",
                     "params:seed", "provenance"],
             outputs="trained_models", name="train_final_models_node"),
        tracking_node(),
    ])
    return pipeline(
        template,
        namespace=name,
        inputs={"model_input", "folds", "periodograms_classic", "periodograms_invariant"},
        parameters={"params:models_section": f"params:{name}", "params:seed": "params:seed", "params:evaluation": "params:evaluation",
                    **{f"params:{p}": f"params:{p}" for p in PROVENANCE_PARAMETERS}},
    )
