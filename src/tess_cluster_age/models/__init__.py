"""Age models: scikit-learn style estimators with ``fit(X, y, sample_weight, groups)`` and
``predict(X, return_std=True) -> (mu, sigma)`` (see :mod:`tess_cluster_age.models.base`), and
:func:`build_model`, which makes one from a parameters entry.

The estimator classes are imported on first use (``tess_cluster_age.models.RandomForestAgeModel``
imports scikit-learn; the network's module imports PyTorch), so that dating, which needs only the
fitted predictors of :mod:`tess_cluster_age.models.predictors`, pays for neither.
"""

from __future__ import annotations

from collections.abc import Sequence

from typing import TYPE_CHECKING

from tess_cluster_age.config import resolve
from tess_cluster_age.models.config import ModelSpec, TuningConfig
from tess_cluster_age.schema import BASELINES

if TYPE_CHECKING:
    from tess_cluster_age.models.base import AgeModel

ESTIMATORS: dict[str, str] = {
    "constant": "tess_cluster_age.models.base:ConstantModel",
    "galaxy_mean": "tess_cluster_age.models.base:GalaxyMeanModel",
    "random_forest": "tess_cluster_age.models.forest:RandomForestAgeModel",
    "gradient_boosting": "tess_cluster_age.models.boosting:GradientBoostingAgeModel",
    "regression": "tess_cluster_age.models.linear:RidgeAgeModel",
    "gaussian_nn": "tess_cluster_age.models.network:GaussianNetworkAgeModel",
}
"""Estimator name (``estimator:`` in the parameters) -> ``"module:Class"``, imported on first use
(the network's module imports PyTorch, seconds that forest-only runs need not pay; the boosting
module imports LightGBM only when a model is fitted)."""


def estimator_class(name: str) -> type[AgeModel]:
    """The estimator class registered as ``name`` in :data:`ESTIMATORS`."""
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; known: {sorted(ESTIMATORS)}")
    return resolve(ESTIMATORS[name])


CLASSES: dict[str, str] = {
    "AgeModel": "tess_cluster_age.models.base:AgeModel",
    "CalibratedAgeModel": "tess_cluster_age.models.base:CalibratedAgeModel",
    "ConstantModel": ESTIMATORS["constant"],
    "GalaxyMeanModel": ESTIMATORS["galaxy_mean"],
    "PerGalaxy": "tess_cluster_age.models.base:PerGalaxy",
    "RandomForestAgeModel": ESTIMATORS["random_forest"],
    "GradientBoostingAgeModel": ESTIMATORS["gradient_boosting"],
    "RidgeAgeModel": ESTIMATORS["regression"],
    "GaussianNetworkAgeModel": ESTIMATORS["gaussian_nn"],
    "TunedAgeModel": "tess_cluster_age.models.tuning:TunedAgeModel",
    "CombinedAgeModel": "tess_cluster_age.models.combined:CombinedAgeModel",
}
"""The classes this package exports, each imported when first asked for."""


def __getattr__(name: str):
    if name in CLASSES:
        return resolve(CLASSES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_model(spec: ModelSpec, seed: int = 0, tuning: TuningConfig | None = None,
                age_bin_edges: Sequence[float] | None = None, calibration_bin_edges: Sequence[float] | None = None,
                calibration_min_clusters: int | None = None) -> AgeModel:
    """An unfitted model from one ``models:`` entry of a pipeline's parameters.

    Args:
        spec: the entry: ``estimator`` (a key of :data:`ESTIMATORS`), ``options`` (constructor
            arguments), ``per_galaxy`` (one model per galaxy).
        seed: ``random_state`` unless ``options`` sets it.
        tuning: with ``n_trials > 0`` and a search space for this estimator, the model is tuned on
            inner folds of its training clusters (per galaxy when ``per_galaxy``).
        age_bin_edges: log10(age / yr) edges of the inner folds' strata (the ``evaluation``
            section's), for estimators that draw inner folds, unless ``options`` sets them.
        calibration_bin_edges, calibration_min_clusters: the predicted-age bins (log10 yr; empty =
            one scale per galaxy) and their fewest clusters of the sigma calibration
            (:meth:`tess_cluster_age.config.EvaluationConfig.sigma_calibration_bin_edges`), for
            estimators that calibrate, unless ``options`` sets them.
    """
    from tess_cluster_age.models.base import PerGalaxy
    from tess_cluster_age.models.tuning import TunedAgeModel

    cls = estimator_class(spec.estimator)
    accepted = cls().get_params()
    options = dict(spec.options)
    if "random_state" in accepted and "random_state" not in options:
        options["random_state"] = int(seed)
    shared = {"age_bin_edges": age_bin_edges, "calibration_bin_edges": calibration_bin_edges,
              "calibration_min_clusters": calibration_min_clusters}
    for key, value in shared.items():
        if key in accepted and value is not None and key not in options:
            options[key] = value if isinstance(value, int) else tuple(value)
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    model: AgeModel = cls(**options)
    space = tuning.for_estimator(spec.estimator) if tuning is not None else None
    if tuning is not None and tuning.n_trials > 0 and space:
        model = TunedAgeModel(model, space=dict(space), n_trials=tuning.n_trials, random_state=int(seed))
    if spec.per_galaxy:
        model = PerGalaxy(model)
    return model


__all__ = ["AgeModel", "BASELINES", "CalibratedAgeModel", "CombinedAgeModel", "ConstantModel", "ESTIMATORS", "GalaxyMeanModel", "estimator_class", "GaussianNetworkAgeModel",
           "GradientBoostingAgeModel", "PerGalaxy", "RandomForestAgeModel", "RidgeAgeModel", "TunedAgeModel", "build_model", "ModelSpec"]
