"""What every age model shares: the estimator interface, inner grouped folds and sigma calibration.

Every model is a scikit-learn style estimator (``__init__`` stores parameters, fitted attributes end
in ``_``) with

- ``fit(X, y, sample_weight=None, groups=...)``: ``X`` is a model-input table (a DataFrame with a
  ``galaxy`` column and the feature columns of :mod:`tess_cluster_age.schema`), ``y`` the log ages
  (dex), ``sample_weight`` the segment weights (SPEC 2) and ``groups`` the cluster names, which
  are required: without them one cluster's segments would fall on both sides of the inner folds;
- ``predict(X, return_std=False)``: the predicted mean log age (log10 yr) per segment, and with
  ``return_std=True`` also its standard deviation (dex), as scikit-learn's
  ``GaussianProcessRegressor.predict`` does. An unfitted model raises ``NotFittedError``
  (:func:`sklearn.utils.validation.check_is_fitted`); a fitted one names its input columns in
  ``feature_names_in_``.

:class:`CalibratedAgeModel` is the template of the learned models. Its ``fit``

1. splits the training clusters into ``inner_folds`` cluster-grouped folds (stratified by galaxy x
   age bin, seeded by ``random_state``);
2. fits one *member* per inner fold on the other inner folds (the subclass's ``_fit_member``; a
   member may use its held-out inner fold for early stopping) and predicts the held-out clusters;
3. fits the sigma factors of the 68 % and 95 % intervals per galaxy and bin of predicted log age
   on those inner out-of-fold predictions at cluster level (:func:`interval_scales`, Mondrian
   split-conformal; one set per galaxy when ``calibration_bin_edges`` is empty); the Gaussian's
   factor is their mean (:func:`~tess_cluster_age.models.predictors.gaussian_scales`);
4. builds the final predictor (``_fit_final``): a refit on all training clusters, or the members as
   an ensemble.

Nothing in ``fit`` sees anything but the rows it is given, so inside :func:`evaluation.cross_validate`
no scaler, early-stopping set or calibration set ever holds a test cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from tess_cluster_age.config import CALIBRATION_MIN_CLUSTERS
from tess_cluster_age.evaluation import INTERVALS, age_bin_labels, cluster_folds, cluster_rmse, mixture_moments
from tess_cluster_age.models.predictors import (ALL_BINS, GalaxyMeans, GalaxyRouter, MemberEnsemble, calibration_bins, design_matrix,
                                                galaxy_of, gaussian_scales)
from tess_cluster_age.schema import GALAXIES, feature_columns

logger = logging.getLogger(__name__)


def as_arrays(X: pd.DataFrame, y, sample_weight, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``y``, weights (ones when None) and groups (the cluster names, required) as arrays, checked against X."""
    n = len(X)
    if groups is None:
        raise ValueError("fit needs groups: the cluster name of each row (fit(X, y, sample_weight, groups=...)), so that no "
                         "cluster's segments fall on both sides of the inner folds and the sigma calibration")
    y = np.asarray(y, float)
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    groups = np.asarray(groups)
    if not (len(y) == len(weight) == len(groups) == n):
        raise ValueError(f"X has {n} rows but y, sample_weight, groups have {len(y)}, {len(weight)}, {len(groups)}")
    if not np.isfinite(y).all():
        raise ValueError("y holds NaN or infinite log ages: train on labelled clusters only")
    return y, weight, groups


def inner_folds(y: np.ndarray, galaxy: np.ndarray, groups: np.ndarray, n_splits: int, seed: int,
                age_bin_edges: Sequence[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cluster-grouped folds of the training rows, stratified by galaxy x age bin (SPEC 4).

    The folds are drawn over the clusters (sorted by name) by :func:`evaluation.cluster_folds`,
    the function that makes the outer folds, with at most one fold per cluster.

    Args:
        y, galaxy, groups: per row: log age (dex), host galaxy, cluster name.
        n_splits: inner folds.
        seed: the shuffle seed.
        age_bin_edges: log10(age / yr) edges of the strata (``evaluation.age_bin_edges``).

    Returns:
        ``(train_rows, validation_rows)`` index pairs; a cluster's rows are always on one side.
    """
    clusters = pd.DataFrame({"group": groups, "galaxy": galaxy, "y": y}).groupby("group", sort=True).first()
    n_splits = min(n_splits, len(clusters))
    if n_splits < 2:
        raise ValueError(f"{len(clusters)} training cluster(s): at least 2 are needed for inner folds")
    fold_of_cluster = cluster_folds(clusters["galaxy"].to_numpy(), clusters["y"].to_numpy(float), clusters.index.to_numpy(),
                                    n_splits, seed, age_bin_edges, quiet=True)
    fold = pd.Series(fold_of_cluster, index=clusters.index).reindex(groups).to_numpy()
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]


def interval_scales(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, galaxy: np.ndarray, groups: np.ndarray,
                    levels=tuple(INTERVALS.values()), bin_edges: Sequence[float] = (),
                    min_clusters: int = CALIBRATION_MIN_CLUSTERS) -> dict[tuple[str, str], tuple[float, ...]]:
    """Factor ``k`` for segment sigmas per interval level, galaxy and predicted-age bin, fitted by split conformal on held-out clusters.

    A cluster's prediction is the mixture of its segments (SPEC 4): with segment sigmas scaled by
    ``k`` its variance is ``k^2 mean(sigma_i^2) + var(mu_i)``. The smallest ``k`` that puts cluster
    ``c`` inside the ``z``-sigma interval is ``k_c = sqrt(max((r_c/z)^2 - var_c, 0) / mean(sigma_i^2))``
    with ``r_c = y_c - mu_c``. For each level ``(z, p)`` the conformal scale of a set of ``n``
    clusters is the ``ceil((n+1) p)``-th smallest ``k_c`` (Vovk et al. 2005; Lei et al. 2018, JASA
    113, 1094), one factor per level: the cluster errors have heavier tails than a Gaussian (on the
    real data the 95 % factor exceeds the 68 % one), so each interval gets its own
    (:data:`tess_cluster_age.evaluation.INTERVALS`).

    The sets are Mondrian categories (Vovk et al. 2005, ch. 4.5): the clusters of one galaxy whose
    *predicted* mean log age ``mu_c`` falls in one bin of ``bin_edges``
    (:func:`~tess_cluster_age.models.predictors.calibration_bins`, which prediction uses too). The
    category is known at prediction time, unlike the true age, so the interval holds at the age a
    user reads. Each galaxy also gets a scale over all its clusters (bin ``"all"``, the per-galaxy
    calibration), and the pooled galaxy ``"all"`` gets the same per bin, for a galaxy never trained on.

    Fallbacks: a bin holding fewer than ``min_clusters`` clusters takes its galaxy's all-ages scale
    (``("all", bin)`` takes ``("all", "all")``). A galaxy's all-ages scale is always its own, however
    few its clusters (as the per-galaxy calibration always was).

    Args:
        y, mu, sigma, galaxy, groups: held-out segment rows (label, prediction, galaxy, cluster).
        levels: ``(z, coverage)`` pairs.
        bin_edges: log10(age / yr) edges of the predicted-age bins; none: one scale per galaxy.
        min_clusters: fewest clusters of a galaxy x bin for a scale of its own.

    Returns:
        ``{(galaxy, bin): (k per level)}`` for every galaxy present and ``"all"``, and for bin
        ``"all"`` and every bin label of ``bin_edges`` (:func:`tess_cluster_age.evaluation.age_bin_labels`).
    """
    frame = pd.DataFrame({"g": groups, "galaxy": galaxy, "y": y, "mu": mu, "s2": np.asarray(sigma, float) ** 2,
                          "bin": calibration_bins(mu, groups, bin_edges)})
    moments = mixture_moments(frame["mu"].to_numpy(), np.zeros(len(frame)), frame["g"].to_numpy())
    per_cluster = frame.groupby("g", sort=False).agg(galaxy=("galaxy", "first"), y=("y", "first"), s2=("s2", "mean"), bin=("bin", "first"))
    per_cluster["r"] = per_cluster["y"] - moments["mu"]
    per_cluster["spread2"] = moments["sigma"] ** 2

    def conformal(part: pd.DataFrame) -> tuple[float, ...]:
        estimates = []
        n = len(part)
        for z, p in levels:
            needed = np.sqrt(np.maximum((part["r"] / z) ** 2 - part["spread2"], 0.0) / part["s2"]).sort_values().to_numpy()
            rank = min(int(np.ceil((n + 1) * p)), n) - 1
            estimates.append(float(needed[rank]))
        return tuple(estimates)

    labels = age_bin_labels(bin_edges) if len(bin_edges) else []
    scales = {}
    for galaxy_name, part in [("all", per_cluster), *per_cluster.groupby("galaxy", sort=True)]:
        galaxy_scale = scales[(str(galaxy_name), ALL_BINS)] = conformal(part)
        in_bin = part.groupby("bin", sort=False)
        for label in labels:
            cell = in_bin.get_group(label) if label in in_bin.groups else part.iloc[:0]
            scales[(str(galaxy_name), label)] = conformal(cell) if len(cell) >= min_clusters else galaxy_scale
    return scales


class AgeModel(BaseEstimator):
    """Common methods: ``predict(X, return_std=False)`` over the subclass's ``predictor()``.

    A learned model's fitted state is a predictor of :mod:`tess_cluster_age.models.predictors`
    (``predictor()``), which predicts for it: a model file stores it, and dating uses it without
    importing scikit-learn or PyTorch.
    """

    def predictor(self):  # pragma: no cover - interface
        """The fitted predictor (``predict(X) -> (mu, sigma)``, dex) that this model's ``predict`` uses."""
        raise NotImplementedError

    def predict(self, X: pd.DataFrame, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted mean log age (log10 yr) per row; with ``return_std`` also its standard deviation (dex).

        Raises:
            NotFittedError: ``fit`` has not been called.
        """
        check_is_fitted(self)
        mu, sigma = self.predictor().predict(X)
        return (mu, sigma) if return_std else mu

    def predict_intervals(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(mu, sigma, {column: sigma of that interval})`` per row (dex): the prediction and the
        sigmas of its calibrated 68 % and 95 % intervals (:data:`tess_cluster_age.evaluation.INTERVALS`).

        Raises:
            NotFittedError: ``fit`` has not been called.
        """
        check_is_fitted(self)
        return self.predictor().predict_intervals(X)

    def inner_out_of_fold(self) -> pd.DataFrame:
        """The fitted model's predictions of its own training segments, each by a member that did not
        train on its cluster, with the calibrated sigma: ``name, galaxy, log_age, mu, sigma`` (dex).

        What the combined model weighs its components on (:mod:`tess_cluster_age.models.combined`).

        Raises:
            ValueError: the model draws no inner folds (the baselines).
        """
        raise ValueError(f"{type(self).__name__} draws no inner folds: it has no inner out-of-fold predictions")


class ConstantModel(AgeModel):
    """Baseline: the weighted mean and standard deviation of the training log ages, for every row."""

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> "ConstantModel":
        y, weight, _ = as_arrays(X, y, sample_weight, groups)
        self.mean_ = float(np.average(y, weights=weight))
        self.std_ = float(np.sqrt(np.average((y - self.mean_) ** 2, weights=weight)))
        self.n_features_in_ = 0
        return self

    def predictor(self) -> GalaxyMeans:
        check_is_fitted(self)
        return GalaxyMeans({"all": self.mean_}, {"all": self.std_})


class GalaxyMeanModel(AgeModel):
    """Baseline: the weighted mean and standard deviation of the training log ages of each galaxy.

    A galaxy absent from training gets the pooled mean and standard deviation.
    """

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> "GalaxyMeanModel":
        y, weight, groups = as_arrays(X, y, sample_weight, groups)
        galaxy = galaxy_of(X)
        pooled = ConstantModel().fit(X, y, weight, groups)
        self.mean_, self.std_ = {"all": pooled.mean_}, {"all": pooled.std_}
        for name in np.unique(galaxy):
            rows = galaxy == name
            self.mean_[name] = float(np.average(y[rows], weights=weight[rows]))
            self.std_[name] = float(np.sqrt(np.average((y[rows] - self.mean_[name]) ** 2, weights=weight[rows])))
        self.n_features_in_ = 0
        return self

    def predictor(self) -> GalaxyMeans:
        check_is_fitted(self)
        return GalaxyMeans(self.mean_, self.std_)


class PerGalaxy(AgeModel):
    """One clone of ``estimator`` per host galaxy, behind the same interface (``per_galaxy: true``).

    Rows of a galaxy never seen in training raise a ``ValueError`` naming it.
    """

    def __init__(self, estimator: AgeModel):
        self.estimator = estimator

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> "PerGalaxy":
        y, weight, groups = as_arrays(X, y, sample_weight, groups)
        galaxy = galaxy_of(X)
        self.models_ = {}
        for name in [g for g in GALAXIES if g in set(galaxy)] + sorted(set(galaxy) - set(GALAXIES)):
            rows = galaxy == name
            self.models_[name] = clone(self.estimator).fit(X[rows], y[rows], weight[rows], groups[rows])
        self.n_features_in_ = next(iter(self.models_.values())).n_features_in_
        return self

    def predictor(self) -> GalaxyRouter:
        check_is_fitted(self)
        return GalaxyRouter({name: model.predictor() for name, model in self.models_.items()})

    def inner_out_of_fold(self) -> pd.DataFrame:
        check_is_fitted(self)
        return pd.concat([model.inner_out_of_fold() for model in self.models_.values()], ignore_index=True)


class CalibratedAgeModel(AgeModel):
    """Template of the learned models: inner grouped folds, sigma scale per galaxy x predicted age, final predictor.

    Subclasses implement ``_fit_member(X, y, weight, X_val, y_val, weight_val, seed) -> member``, a
    member of :mod:`tess_cluster_age.models.predictors` (``member.mean_std(design) -> (mu, sigma_raw)``),
    and may override ``_fit_final`` and ``_extra_columns``. Parameters of
    this class shared by all: ``features`` (feature columns; None = every feature column of the
    table), ``use_galaxy`` (galaxy one-hot as an input), ``inner_folds``, ``age_bin_edges`` (log10 yr
    edges of the inner folds' strata; :func:`tess_cluster_age.models.build_model` sets them from the
    ``evaluation`` section), ``calibration_bin_edges`` (log10 yr edges of the predicted-age bins of
    the sigma calibration, :func:`interval_scales`; empty = one scale per galaxy; ``build_model`` sets
    them from ``evaluation.calibration``), ``calibration_min_clusters`` (fewest inner clusters of a
    galaxy x bin for a scale of its own), ``sigma_floor`` (dex) and ``random_state``.

    At prediction the sigma scale of a row is that of its galaxy and of the bin of its *cluster's*
    predicted mean log age (the rows sharing its ``name``; :class:`MemberEnsemble`), as in fitting.
    """

    refit_final = True
    """Refit on all training clusters (True) or use the inner members as the ensemble (False)."""

    mix_members = True
    """Members' predictions combine as a Gaussian mixture (their spread adds to sigma, in dex); False
    for members whose sigma is a unit placeholder (forest, ridge): then mu and sigma are averaged."""

    # ---- to implement
    def _fit_member(self, X, y, weight, X_val, y_val, weight_val, seed):  # pragma: no cover - interface
        raise NotImplementedError

    # ---- shared
    def _columns(self, X: pd.DataFrame) -> list[str]:
        columns = list(self.features) if self.features else feature_columns(X)
        missing = sorted(set(columns) - set(X.columns))
        if missing:
            raise ValueError(f"{type(self).__name__}: feature columns {missing} are not in the input table")
        return columns

    def _extra_columns(self, X: pd.DataFrame) -> list[str]:
        """Input columns after the features and the galaxy one-hot (none here; a network's periodogram bins)."""
        return []

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> "CalibratedAgeModel":
        y, weight, groups = as_arrays(X, y, sample_weight, groups)
        self.feature_names_in_ = np.asarray(self._columns(X), dtype=object)
        self.extra_columns_ = self._extra_columns(X)
        galaxy = galaxy_of(X)
        design = design_matrix(X, self.feature_names_in_, self.use_galaxy, self.extra_columns_)
        splits = inner_folds(y, galaxy, groups, self.inner_folds, self.random_state, self.age_bin_edges)
        members = self._fit_members(design, y, weight, splits, [self.random_state + 1 + k for k in range(len(splits))])
        inner_mu, inner_sigma = np.empty(len(y)), np.empty(len(y))
        for member, (_, val) in zip(members, splits):
            inner_mu[val], inner_sigma[val] = member.mean_std(design[val])
        self.inner_predictions_ = pd.DataFrame({"name": groups, "galaxy": galaxy, "log_age": y, "mu": inner_mu, "sigma": inner_sigma})
        self.interval_scale_ = interval_scales(y, inner_mu, inner_sigma, galaxy, groups, bin_edges=tuple(self.calibration_bin_edges),
                                               min_clusters=int(self.calibration_min_clusters))
        self.members_ = self._fit_final(design, y, weight, members)
        self.n_features_in_ = design.shape[1]
        return self

    def _fit_members(self, design, y, weight, splits, seeds) -> list:
        """One member per inner split, each trained on its split's training rows (may early-stop on
        its validation rows). Subclasses may train them together (the network does, batched)."""
        return [self._fit_member(design[train], y[train], weight[train], design[val], y[val], weight[val], seed)
                for (train, val), seed in zip(splits, seeds)]

    def _fit_final(self, design, y, weight, members) -> list:
        if self.refit_final:
            return [self._fit_member(design, y, weight, None, None, None, self.random_state)]
        return members

    def predictor(self) -> MemberEnsemble:
        check_is_fitted(self)
        return MemberEnsemble(self.feature_names_in_, bool(self.use_galaxy), list(self.extra_columns_), self.members_,
                              bool(self.mix_members), self.interval_scale_, float(self.sigma_floor),
                              tuple(float(e) for e in self.calibration_bin_edges))

    @property
    def sigma_scale_(self) -> dict[tuple[str, str], float]:
        """The Gaussian's sigma factor per galaxy x predicted-age bin (:func:`gaussian_scales` of ``interval_scale_``)."""
        check_is_fitted(self, "interval_scale_")
        return gaussian_scales(self.interval_scale_)

    def inner_out_of_fold(self) -> pd.DataFrame:
        check_is_fitted(self, "inner_predictions_")
        rows = self.inner_predictions_
        sigma = self.predictor().calibrated_sigma(rows["mu"].to_numpy(float), rows["sigma"].to_numpy(float), rows["galaxy"].to_numpy(),
                                                  rows["name"].astype(str).to_numpy())
        return rows.assign(sigma=sigma)

    @property
    def inner_cluster_rmse_(self) -> float:
        """Cluster RMSE (dex) of the inner out-of-fold predictions: the tuning objective."""
        check_is_fitted(self, "inner_predictions_")
        p = self.inner_predictions_
        return cluster_rmse(p["log_age"].to_numpy(), p["mu"].to_numpy(), p["name"].to_numpy())
