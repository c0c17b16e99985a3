"""Nodes of the predict pipeline: thin wrappers over :mod:`tess_cluster_age.dating`, which the
``tess-cluster-age predict`` command calls too (one code path, SPEC section 6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from tess_cluster_age.config import PredictConfig
from tess_cluster_age.dating import TrainedModel, date_clusters, select_models


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
    """Ages of every cluster in ``predict_dir`` (see :func:`tess_cluster_age.dating.date_clusters`).

    Args:
        light_curves: partition id -> loader of an ELK file (galaxy folders, or a flat folder with
            ``predict.galaxy`` set).
        models: from :func:`select_trained_models`.
        params: the ``predict`` section (``galaxy``, ``execution``, ``out_of_range``).

    Returns:
        predictions (one row per cluster and model; log ages in log10 yr, widths in dex, ages in
        Myr) and the problems (unusable files with their reason, undated clusters).
    """
    return date_clusters(light_curves, models, PredictConfig.from_params(params))
