"""Gradient-boosted trees as an age model (issue 18, item 3): LightGBM, split-conformal sigma per galaxy.

LightGBM is imported when a model is first fitted, not with this module: every run validates the
model options of every pipeline (:func:`tess_cluster_age.models.config.validate_model_section`
builds each estimator), and ``import lightgbm`` takes about three seconds (it imports dask and
scikit-learn). A fitted model holds only its trees as node tables
(:class:`~tess_cluster_age.models.predictors.BoostedTreesMember`), so dating never imports it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tess_cluster_age.config import AGE_BIN_EDGES, CALIBRATION_MIN_CLUSTERS
from tess_cluster_age.models.base import CalibratedAgeModel
from tess_cluster_age.models.predictors import MISSING_NAN, MISSING_NONE, MISSING_ZERO, TREE_LEAF, BoostedTreesMember

logger = logging.getLogger(__name__)

MISSING_TYPES = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}
"""LightGBM's ``missing_type`` names (``Booster.dump_model``) -> its codes."""

NODE_DTYPE = np.dtype([("left_child", np.int32), ("right_child", np.int32), ("feature", np.int32), ("threshold", np.float64),
                       ("missing_go_to_left", np.uint8), ("missing_type", np.uint8)])
"""A LightGBM tree's node table (the columns :data:`~tess_cluster_age.models.predictors.BOOSTED_TREE_FIELDS`)."""

LEAF_FEATURE = -2
"""The ``feature`` of a leaf (never read; scikit-learn's ``TREE_UNDEFINED``)."""


class GradientBoostingAgeModel(CalibratedAgeModel):
    """Gradient-boosted regression trees (LightGBM) of log age on the segment features, with
    calibrated Gaussian intervals.

    Each inner-fold member boosts trees on the other inner folds with the squared error, weighted
    by the segment weights (SPEC 2), and stops early on its own held-out inner fold: it keeps the
    rounds up to the best weighted squared error there, once ``early_stopping_rounds`` rounds in
    a row have not improved it (Friedman 2001, Ann. Stat. 29, 1189; Ke et al. 2017, NeurIPS 30,
    LightGBM). As for the forest, the trees give no sigma of their own: every segment gets sigma 1
    before calibration, and the split-conformal factors per galaxy and predicted-age bin of :func:`base.interval_scales`,
    fitted on the inner out-of-fold predictions, set it (dex). Those predictions come from the
    same held-out folds the members stopped on, so the scale sees a choice of round count made on
    them (as the network's does). NaN features are handled natively (LightGBM learns a default side
    per split). Training is reproducible: ``deterministic`` and column-wise histograms in LightGBM,
    with every seed derived from ``random_state``.

    Args:
        n_estimators: most boosting rounds per member (one tree each).
        learning_rate: shrinkage of each tree.
        num_leaves: leaves per tree.
        max_depth: depth limit of the trees (None: none, only ``num_leaves``).
        min_child_samples: fewest segments in a leaf.
        subsample: fraction of segments drawn (without replacement) for each tree (1: all).
        colsample_bytree: fraction of the features drawn for each tree (1: all).
        reg_lambda: L2 penalty on the leaf values.
        early_stopping_rounds: rounds without improvement on the held-out inner fold before a
            member stops.
        refit: False (default): the final model is the inner-fold members, each stopped on its
            own held-out fold (the sum of its trees; the members averaged), so that calibrating
            costs no extra fit. True: one more model on all training clusters, boosted for the
            members' mean number of kept rounds (nothing is held out to stop it).
        features: feature columns (None = all of model_input).
        use_galaxy: add the galaxy one-hot (MW, LMC, SMC) to the inputs.
        inner_folds: inner grouped folds (early stopping and the sigma calibration).
        age_bin_edges: log10(age / yr) edges of the inner folds' strata.
        calibration_bin_edges, calibration_min_clusters: the sigma calibration's predicted-age bins (log10 yr;
            empty: per galaxy) and their fewest clusters, see :class:`CalibratedAgeModel`.
        sigma_floor: smallest sigma (dex).
        n_jobs: LightGBM's threads (results do not depend on it). One by default: on these tables
            (at most about 5,000 segments) a second thread made fitting slower, not faster, on
            two shared cores (measured 1.3-2.5 s against 6.5 s for the LMC).
        random_state: seed of the inner folds and of LightGBM's row and feature draws.
    """

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.05, num_leaves: int = 15, max_depth: int | None = None,
                 min_child_samples: int = 40, subsample: float = 0.8, colsample_bytree: float = 0.8, reg_lambda: float = 1.0,
                 early_stopping_rounds: int = 40, refit: bool = False, features=None, use_galaxy: bool = True, inner_folds: int = 5,
                 age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES,
                 calibration_bin_edges: tuple[float, ...] = AGE_BIN_EDGES, calibration_min_clusters: int = CALIBRATION_MIN_CLUSTERS,
                 sigma_floor: float = 0.05, n_jobs: int = 1, random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
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

    mix_members = False

    def lightgbm_params(self, seed: int) -> dict[str, Any]:
        """LightGBM's parameters for a member grown with ``seed``."""
        return {
            "objective": "regression", "metric": "l2", "boosting": "gbdt",
            "learning_rate": float(self.learning_rate), "num_leaves": int(self.num_leaves),
            "max_depth": -1 if self.max_depth is None else int(self.max_depth), "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample), "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": float(self.colsample_bytree), "lambda_l2": float(self.reg_lambda),
            "seed": int(seed), "deterministic": True, "force_col_wise": True, "num_threads": int(self.n_jobs), "verbosity": -1,
        }

    def _boost(self, X, y, weight, X_val, y_val, weight_val, seed: int, rounds: int) -> BoostedTreesMember:
        """Boost up to ``rounds`` trees on ``(X, y, weight)``, early-stopping on the validation rows when given."""
        import lightgbm  # here, not at import: see the module docstring

        params = self.lightgbm_params(seed)
        train = lightgbm.Dataset(X, y, weight=weight, params=params)
        valid, callbacks = [], []
        if X_val is not None:
            valid = [lightgbm.Dataset(X_val, y_val, weight=weight_val, reference=train, params=params)]
            callbacks = [lightgbm.early_stopping(int(self.early_stopping_rounds), first_metric_only=True, verbose=False)]
        booster = lightgbm.train(params, train, num_boost_round=int(rounds), valid_sets=valid, callbacks=callbacks)
        kept = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        logger.debug("boosted trees: %d rounds kept of %d (seed %d)", kept, booster.current_iteration(), seed)
        return booster_member(booster, kept)

    def _fit_member(self, X, y, weight, X_val, y_val, weight_val, seed):
        return self._boost(X, y, weight, X_val, y_val, weight_val, seed, self.n_estimators)

    def _fit_final(self, design, y, weight, members) -> list:
        if not self.refit:
            return members
        rounds = max(1, int(round(np.mean([m.best_iteration for m in members]))))
        return [self._boost(design, y, weight, None, None, None, self.random_state, rounds)]


def booster_member(booster: Any, num_iteration: int) -> BoostedTreesMember:
    """The first ``num_iteration`` trees of a LightGBM regression booster as node tables.

    Reads ``booster.dump_model``: per internal node its split (``split_feature``, ``threshold``,
    ``default_left``, ``missing_type``), per leaf its ``leaf_value``; the nodes are numbered in
    depth-first order, so a node's children follow it (what :func:`~tess_cluster_age.models.predictors.tree_problem`
    checks). Only what :class:`BoostedTreesMember` reproduces is accepted: one tree per iteration,
    numerical ``<=`` splits, an output that is the raw sum of the trees.

    Raises:
        ValueError: a booster with categorical splits, averaged output (random-forest mode), more
            than one tree per iteration or an objective that transforms the score.
    """
    dump = booster.dump_model(num_iteration=int(num_iteration))
    objective = str(dump.get("objective") or "").split()
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output") or objective[:1] != ["regression"] or "sqrt" in objective:
        raise ValueError(f"booster_member takes a LightGBM regression booster (objective 'regression', one tree per iteration, "
                         f"summed output); got objective {dump.get('objective')!r}, {dump.get('num_tree_per_iteration')} trees per "
                         f"iteration, average_output {dump.get('average_output')}")
    nodes, values = [], []
    for info in dump["tree_info"]:
        table, leaf_values = _node_table(info["tree_structure"], info["tree_index"])
        nodes.append(table)
        values.append(leaf_values)
    return BoostedTreesMember(nodes, values, int(dump["max_feature_idx"]) + 1, len(nodes))


def _node_table(root: dict, tree_index: int) -> tuple[np.ndarray, np.ndarray]:
    """One dumped tree as its node table and node values, numbered depth first (parents first)."""
    rows: list[list] = []
    values: list[float] = []
    stack: list[tuple[dict, int, int]] = [(root, -1, 0)]    # (node, parent row, 0 = left child of it, 1 = right)
    while stack:
        node, parent, side = stack.pop()
        if parent >= 0:
            rows[parent][side] = len(rows)
        if "leaf_value" in node:
            rows.append([TREE_LEAF, TREE_LEAF, LEAF_FEATURE, 0.0, 0, MISSING_NONE])
            values.append(float(node["leaf_value"]))
            continue
        if node["decision_type"] != "<=":
            raise ValueError(f"tree {tree_index}: split {node['decision_type']!r} (categorical); only numerical '<=' splits are read")
        stack += [(node["right_child"], len(rows), 1), (node["left_child"], len(rows), 0)]
        rows.append([TREE_LEAF, TREE_LEAF, int(node["split_feature"]), float(node["threshold"]), int(bool(node["default_left"])),
                     MISSING_TYPES[node["missing_type"]]])
        values.append(float(node["internal_value"]))
    return np.array([tuple(row) for row in rows], dtype=NODE_DTYPE), np.asarray(values, dtype=np.float64)
