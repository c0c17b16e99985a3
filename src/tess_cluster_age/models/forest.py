"""Random-forest age model (SPEC 5): scikit-learn forest, split-conformal sigma per galaxy."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from tess_cluster_age.config import AGE_BIN_EDGES, CALIBRATION_MIN_CLUSTERS
from tess_cluster_age.models.base import CalibratedAgeModel
from tess_cluster_age.models.predictors import TREE_FIELDS, TreeEnsembleMember


class RandomForestAgeModel(CalibratedAgeModel):
    """A random forest of log age on the segment features, with calibrated Gaussian intervals.

    The mean is the forest's prediction. The forest gives no usable sigma of its own (a quantile
    forest was miscalibrated by galaxy, SPEC 5), so every segment gets sigma 1 before calibration
    and the split-conformal factors per galaxy and predicted-age bin of :func:`base.interval_scales`, fitted on inner
    cluster-grouped folds of the training clusters, set it. NaN features are handled natively by
    the forest.

    Args:
        n_estimators, max_features, min_samples_leaf, max_depth, max_samples: of ``RandomForestRegressor``
            (``n_estimators`` per inner-fold member; ``min_samples_leaf`` 3, as ``conf/base``: smaller
            model files than 1 at the same cluster RMSE, see the ``random_forest`` pipeline README).
        refit: False (default): the final forest is the union of the inner-fold members (each grown
            on all but one inner fold of clusters; ``inner_folds x n_estimators`` trees), so that
            calibrating costs no extra fit. True: one more forest on all training clusters.
        features: feature columns (None = all of model_input).
        use_galaxy: add the galaxy one-hot (MW, LMC, SMC) to the inputs.
        inner_folds: inner grouped folds for the sigma calibration.
        age_bin_edges: log10(age / yr) edges of the inner folds' strata.
        calibration_bin_edges, calibration_min_clusters: the sigma calibration's predicted-age bins (log10 yr;
            empty: per galaxy) and their fewest clusters, see :class:`CalibratedAgeModel`.
        sigma_floor: smallest sigma (dex).
        n_jobs: threads that grow the trees (prediction adds the trees up in order, so that the same
            inputs always give the same bits).
        random_state: seed of the inner folds and of the trees.
    """

    def __init__(self, n_estimators: int = 40, max_features: float = 0.33, min_samples_leaf: int = 3, max_depth: int | None = None,
                 max_samples: float | None = None,
                 refit: bool = False, features=None, use_galaxy: bool = True, inner_folds: int = 5,
                 age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES,
                 calibration_bin_edges: tuple[float, ...] = AGE_BIN_EDGES, calibration_min_clusters: int = CALIBRATION_MIN_CLUSTERS,
                 sigma_floor: float = 0.05,
                 n_jobs: int = 2, random_state: int = 0):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.max_samples = max_samples
        self.refit = refit
        self.features = features
        self.use_galaxy = use_galaxy
        self.inner_folds = inner_folds
        self.age_bin_edges = age_bin_edges
        self.calibration_bin_edges = calibration_bin_edges
        self.calibration_min_clusters = calibration_min_clusters
        self.sigma_floor = sigma_floor
        self.n_jobs = n_jobs
        self.random_state = random_state

    @property
    def refit_final(self) -> bool:
        return self.refit

    mix_members = False

    def _fit_member(self, X, y, weight, X_val, y_val, weight_val, seed):
        forest = RandomForestRegressor(n_estimators=self.n_estimators, max_features=self.max_features, min_samples_leaf=self.min_samples_leaf,
                                       max_depth=self.max_depth, max_samples=self.max_samples, n_jobs=self.n_jobs, random_state=seed)
        forest.fit(X, y, sample_weight=weight)
        # trees grow in parallel (each from its own seed); the member adds their predictions up in
        # tree order, so the same inputs always give the same bits
        return forest_member(forest)


def forest_member(forest: RandomForestRegressor) -> TreeEnsembleMember:
    """A fitted forest as its trees' node tables (the columns prediction reads) and leaf values."""
    nodes, values = [], []
    for tree in forest.estimators_:
        state = tree.tree_.__getstate__()
        table = state["nodes"]
        packed = np.empty(len(table), dtype=[(name, table.dtype[name]) for name in TREE_FIELDS])
        for name in TREE_FIELDS:
            packed[name] = table[name]
        nodes.append(packed)
        values.append(np.ascontiguousarray(state["values"][:, 0, 0], dtype=np.float64))
    return TreeEnsembleMember(nodes, values, int(forest.n_features_in_))
