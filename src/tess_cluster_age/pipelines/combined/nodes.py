"""Nodes of the combined pipeline: thin wrappers of :mod:`tess_cluster_age.models.combined`.

The combined model mixes models that the other model pipelines cross-validate and save, so its
nodes read their catalog entries (``<pipeline>.oof``, ``<pipeline>.inner_oof``,
``<pipeline>.trained_models``) and never refit a component.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.base import clone

from tess_cluster_age import evaluation
from tess_cluster_age.config import PredictConfig
from tess_cluster_age.dating import TrainedModel, computed_recommendation
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.models.combined import CombinedAgeModel, combine_out_of_fold
from tess_cluster_age.models.config import CombinedConfig
from tess_cluster_age.pipelines.modelling import SHUFFLED_SUFFIX, cv_summary
from tess_cluster_age.schema import BASELINES

logger = logging.getLogger(__name__)

WEIGHT_COLUMNS = ["model", "seed", "fold", "galaxy", "component", "weight"]
"""The combined models' weights per outer fold (and ``seed = fold = -1`` for the saved model)."""


def _tables(prefix: str, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [table for key, table in tables.items() if key.startswith(prefix) and len(table)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cross_validate_combined(params: dict[str, Any], **tables: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Out-of-fold predictions of every combined model (and its shuffled-label control), from its components'.

    Args:
        params: the ``combined`` section (:class:`~tess_cluster_age.models.config.CombinedConfig`).
        tables: ``oof_<pipeline>`` (out-of-fold rows) and ``inner_<pipeline>`` (inner out-of-fold
            cluster rows) of every model pipeline.

    Returns:
        Out-of-fold rows (segment and cluster level, as the other model pipelines'; with the
        baselines' rows, so the metrics compare with them), the weights of every outer fold
        (:data:`WEIGHT_COLUMNS`), and an empty importance table (a mixture has no features of its own).
    """
    config = CombinedConfig.from_params(params)
    oof, inner = _tables("oof_", tables), _tables("inner_", tables)
    segments = oof[oof["level"] == "segment"]
    baselines = [b + suffix for b in BASELINES for suffix in ("", SHUFFLED_SUFFIX)]
    first = segments[segments["model"].isin(baselines)]
    rows = [first[~first.duplicated(["model", "seed", "fold", "segment_id"])]]
    weights = []
    for name, spec in config.models.items():
        runs = [("", True)] + ([(SHUFFLED_SUFFIX, False)] if config.control else [])
        for suffix, required in runs:
            components = [c + suffix for c in spec.model_names]
            if not required and not set(components) <= set(segments["model"]):
                logger.warning("%s: no shuffled-label control, since %s have none (add them to their pipelines' controls)", name,
                               sorted(set(components) - set(segments["model"])))
                continue
            combined, fold_weights = combine_out_of_fold(segments, inner, components, name + suffix, config.max_iter, config.tol)
            rows.append(combined)
            weights.append(fold_weights.rename(columns={"model": "component"}).assign(model=name + suffix)[WEIGHT_COLUMNS])
            mean = weights[-1].groupby(["galaxy", "component"], sort=False)["weight"].mean().unstack()
            logger.info("%s: mean weights over %d outer folds\n%s", name + suffix, fold_weights[["seed", "fold"]].drop_duplicates().shape[0],
                        mean.round(3).to_string())
    out = evaluation.with_cluster_rows(pd.concat(rows, ignore_index=True))
    weight_table = pd.concat(weights, ignore_index=True) if weights else pd.DataFrame(columns=WEIGHT_COLUMNS)
    return out, weight_table, pd.DataFrame(columns=["model", "seed", "fold", "feature", "importance"])


def train_combined_models(params: dict[str, Any], predict_params: dict[str, Any], metrics: pd.DataFrame, fold_weights: pd.DataFrame,
                          **bundles: TrainedModels | None) -> tuple[TrainedModels, pd.DataFrame]:
    """Every combined model with ``save: true``, from the saved components (fitted on every labelled cluster).

    Args:
        params: the ``combined`` section.
        predict_params: the ``predict`` section (``recommend_by``: the rule of the recommendation recorded with the models).
        metrics: this pipeline's metrics (the cross-validated skill goes with the model).
        fold_weights: the weights of every outer fold (:func:`cross_validate_combined`).
        bundles: ``<pipeline>`` -> that pipeline's saved models.

    Returns:
        The bundle of the combined models (the components' predictors inside, so the file dates on
        its own; training ranges and provenance of the components' bundle), recording each galaxy's
        recommended model among every saved model and why (:attr:`TrainedModels.recommended`,
        :func:`tess_cluster_age.dating.computed_recommendation`), and the combined models' weights
        (:data:`WEIGHT_COLUMNS`): those of every outer fold, then the saved models' (``seed = fold = -1``).

    Raises:
        ValueError: a component that its pipeline did not save, or components trained on different
            tables (named).
    """
    config = CombinedConfig.from_params(params)
    models, info, weights, source = {}, {}, [], None
    for name, spec in config.models.items():
        if not spec.save:
            continue
        fitted = []
        for component in spec.components:
            pipeline, model = component.split(".")
            bundle = bundles.get(pipeline)
            if bundle is None or model not in bundle.models:
                raise ValueError(f"combined.models.{name}: component {component!r} is not a saved model of {pipeline!r} "
                                 f"(saved: {sorted(bundle.models) if bundle is not None else 'none'}); set save: true for it")
            if bundle.model_info[model].spec.get("periodogram"):
                raise ValueError(f"combined.models.{name}: component {component!r} reads a periodogram vector; "
                                 "a combined model mixes models of the scalar features only")
            if source is not None and (bundle.n_clusters, bundle.n_segments) != (source.n_clusters, source.n_segments):
                raise ValueError(f"combined.models.{name}: {component!r} was trained on {bundle.n_clusters} clusters, "
                                 f"{source.n_clusters} for the other components: rerun its pipeline")
            source = source or bundle
            fitted.append(bundle.models[model])
        model = CombinedAgeModel(components=tuple(clone(f) for f in fitted), names=tuple(spec.model_names), max_iter=config.max_iter,
                                 tol=config.tol).combine(fitted)
        models[name] = model
        info[name] = ModelInfo(spec={"estimator": "combined", **dataclasses.asdict(spec)}, cross_validation=cv_summary(metrics, name))
        weights.append(model.weights_table().rename(columns={"model": "component"}).assign(model=name, seed=evaluation.FINAL_FIT,
                                                                                            fold=evaluation.FINAL_FIT)[WEIGHT_COLUMNS])
        logger.info("%s: weights of the saved model\n%s", name, model.weights_table().pivot(index="galaxy", columns="model", values="weight")
                    .round(3).to_string())
    if source is None:
        raise ValueError("combined: no model to save (every entry has save: false)")
    bundle = dataclasses.replace(source, models=models, model_info=info, predictors=None)
    recommend_by = PredictConfig.from_params(predict_params).recommend_by
    candidates = [TrainedModel(name, pipeline, b) for pipeline, b in {**bundles, "combined": bundle}.items() if b is not None
                  for name in b.model_info]
    picked = computed_recommendation(candidates, recommend_by)
    pipeline_of = {m.name: m.pipeline for m in candidates}
    record = {"recommend_by": recommend_by,
              "galaxies": {galaxy: {"model": name, "pipeline": pipeline_of[name], "why": why} for galaxy, (name, why) in picked.items()}}
    for galaxy, (name, why) in picked.items():
        logger.info("recommended in %s: %s (%s)", galaxy, name, why)
    return dataclasses.replace(bundle, recommended=record), pd.concat([fold_weights, *weights], ignore_index=True)
