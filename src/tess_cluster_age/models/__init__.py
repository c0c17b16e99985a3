"""Age models: scikit-learn style estimators with ``fit(X, y, sample_weight, groups)`` and
``predict_dist(X) -> (mu, sigma)`` (see :mod:`tess_cluster_age.models.base`), and
:func:`build_model`, which makes one from a parameters entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tess_cluster_age.config import resolve
from tess_cluster_age.models.base import AgeModel, CalibratedAgeModel, ConstantModel, GalaxyMeanModel, PerGalaxy
from tess_cluster_age.models.forest import RandomForestAgeModel
from tess_cluster_age.models.linear import RidgeAgeModel
from tess_cluster_age.models.tuning import TunedAgeModel

ESTIMATORS: dict[str, str] = {
    "constant": "tess_cluster_age.models.base:ConstantModel",
    "galaxy_mean": "tess_cluster_age.models.base:GalaxyMeanModel",
    "random_forest": "tess_cluster_age.models.forest:RandomForestAgeModel",
    "regression": "tess_cluster_age.models.linear:RidgeAgeModel",
    "gaussian_nn": "tess_cluster_age.models.network:GaussianNetworkAgeModel",
}
"""Estimator name (``estimator:`` in the parameters) -> ``"module:Class"``, imported on first use
(the network's module imports PyTorch, seconds that forest-only runs need not pay)."""


def estimator_class(name: str) -> type[AgeModel]:
    """The estimator class registered as ``name`` in :data:`ESTIMATORS`."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; known: {sorted(ESTIMATORS)}")
    return resolve(ESTIMATORS[name])


def __getattr__(name: str):
    if name == "GaussianNetworkAgeModel":
        return estimator_class("gaussian_nn")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BASELINES = ("constant", "galaxy_mean")


def build_model(spec: Mapping[str, Any], seed: int = 0, tuning: Mapping[str, Any] | None = None) -> AgeModel:
    """An unfitted model from one ``models:`` entry of a pipeline's parameters.

    Args:
        spec: ``estimator`` (a key of :data:`ESTIMATORS`), ``options`` (constructor arguments),
            ``per_galaxy`` (one model per galaxy, default False).
        seed: ``random_state`` unless ``options`` sets it.
        tuning: ``n_trials`` and ``space`` (``{parameter: {low, high[, log]} | {choices}}``); with
            ``n_trials > 0`` the model is tuned on inner folds of its training clusters (per galaxy
            when ``per_galaxy``).
    """
    cls = estimator_class(spec.get("estimator"))
    options = dict(spec.get("options") or {})
    if "random_state" in cls().get_params() and "random_state" not in options:
        options["random_state"] = int(seed)
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    model: AgeModel = cls(**options)
    tuning = tuning or {}
    if int(tuning.get("n_trials", 0) or 0) > 0 and tuning.get("space"):
        model = TunedAgeModel(model, space=dict(tuning["space"]), n_trials=int(tuning["n_trials"]), random_state=int(seed))
    if spec.get("per_galaxy", False):
        model = PerGalaxy(model)
    return model


__all__ = ["AgeModel", "BASELINES", "CalibratedAgeModel", "ConstantModel", "ESTIMATORS", "GalaxyMeanModel", "estimator_class", "GaussianNetworkAgeModel",
           "PerGalaxy", "RandomForestAgeModel", "RidgeAgeModel", "TunedAgeModel", "build_model"]
