"""Nodes of the predict pipeline: thin wrappers over :mod:`tess_cluster_age.dating`, which the
``tess-cluster-age predict`` command calls too (one code path, SPEC section 6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from tess_cluster_age.config import PredictConfig
from tess_cluster_age.dating import TrainedModel, date_clusters, reading_config, select_models
from tess_cluster_age.reading import read_partitions


def select_trained_models(trained_models: Mapping[str, Callable[[], dict] | None], params: dict[str, Any]) -> list[TrainedModel]:
    """The models to date with (``predict.models``: ``all`` or a list of model names).

    Args:
        trained_models: pipeline -> loader of its trained-model bundle, or None when that pipeline
            has not been run (``predict_trained_models``).
        params: the ``predict`` section.

    Returns:
        The selected fitted models with their metadata.

    Raises:
        MissingModelError: a needed trained model does not exist; the message names the
            ``kedro run --pipeline=...`` command that trains it.
    """
    return select_models(trained_models, PredictConfig.from_params(params).models)


def date_new_clusters(light_curves: dict[str, Callable[[], Any]], models: list[TrainedModel],
                      params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ages of every cluster in ``predict_dir`` (:func:`tess_cluster_age.reading.read_partitions`,
    then :func:`tess_cluster_age.dating.date_clusters`).

    Args:
        light_curves: partition id -> loader of a light-curve file (galaxy folders, or a flat
            folder with ``predict.galaxy`` set).
        models: from :func:`select_trained_models`.
        params: the ``predict`` section (``galaxy``, ``execution``, ``out_of_range``, ``recommend_by``).

    Returns:
        predictions (one row per cluster and model; log ages in log10 yr, widths in dex, ages in
        Myr) and the problems (unusable files with their reason, undated clusters).
    """
    config = PredictConfig.from_params(params)
    read = read_partitions(light_curves, config.galaxy, strict=False, config=reading_config(models))
    result = date_clusters(read, models, config)
    return result.predictions, result.problems
