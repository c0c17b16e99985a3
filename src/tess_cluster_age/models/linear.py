"""Regularised linear age model (SPEC 5): ridge on scaled signed-log features."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge

from tess_cluster_age.config import AGE_BIN_EDGES, CALIBRATION_MIN_CLUSTERS
from tess_cluster_age.models.base import CalibratedAgeModel
from tess_cluster_age.models.predictors import LinearMember
from tess_cluster_age.models.preprocessing import Standardiser


class RidgeAgeModel(CalibratedAgeModel):
    """Ridge regression of log age on standardised, signed-log features, residual-variance sigma.

    Features are median-imputed, passed through ``sign(x) log10(1 + |x|/m)`` (``m`` = training
    median |x|; most features are heavy-tailed, some signed) and standardised on training rows only.
    Sigma is the residual scale per galaxy and predicted-age bin fitted on inner cluster-grouped folds.

    Args:
        alpha: ridge penalty (on standardised features).
        stitched_weight: factor on the weight of ``stitched`` segments (1.25 as in ``conf/base``: the
            original first used 1.1, later 1.25; 1.0 leaves the weights as given).
        features, use_galaxy, inner_folds, age_bin_edges, calibration_bin_edges, calibration_min_clusters, sigma_floor,
            random_state: see :class:`CalibratedAgeModel`.
    """

    def __init__(self, alpha: float = 10.0, stitched_weight: float = 1.25, features=None, use_galaxy: bool = True, inner_folds: int = 5,
                 age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES,
                 calibration_bin_edges: tuple[float, ...] = AGE_BIN_EDGES, calibration_min_clusters: int = CALIBRATION_MIN_CLUSTERS,
                 sigma_floor: float = 0.05, random_state: int = 0):
        self.alpha = alpha
        self.stitched_weight = stitched_weight
        self.features = features
        self.use_galaxy = use_galaxy
        self.inner_folds = inner_folds
        self.age_bin_edges = age_bin_edges
        self.calibration_bin_edges = calibration_bin_edges
        self.calibration_min_clusters = calibration_min_clusters
        self.sigma_floor = sigma_floor
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None, groups=None):
        if sample_weight is not None and self.stitched_weight != 1.0 and "kind" in X:
            sample_weight = np.where(X["kind"].to_numpy() == "stitched", self.stitched_weight, 1.0) * np.asarray(sample_weight, float)
        return super().fit(X, y, sample_weight, groups)

    mix_members = False

    def _fit_member(self, X, y, weight, X_val, y_val, weight_val, seed):
        scaler = Standardiser(log_transform=True).fit(X, weight)
        ridge = Ridge(alpha=self.alpha).fit(scaler.transform(X), y, sample_weight=weight)
        return LinearMember(np.asarray(ridge.coef_, dtype=np.float64), float(ridge.intercept_), scaler)
