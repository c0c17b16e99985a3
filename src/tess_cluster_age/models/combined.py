"""The combined model (issue 18, item 3): a mixture of other age models, weighted per host galaxy.

No single learner is best everywhere (the forest in one galaxy, boosted trees or the network in
another), so the combined model predicts with several fitted models at once and mixes their
Gaussian predictions, ``p(log_age) = sum_m w_gm N(mu_m, sigma_m)``, with one weight vector per host
galaxy ``g`` (:class:`~tess_cluster_age.models.predictors.ModelMixture`).

The weights are the maximum-likelihood mixture weights on the components' *inner* out-of-fold
predictions: every learned model predicts each of its training clusters with a member that did
not train on it (:meth:`~tess_cluster_age.models.base.AgeModel.inner_out_of_fold`, sigma already
calibrated), so the weights see training clusters only, never the clusters the combined model is
scored on. At cluster level (each component's segments combined as in SPEC 4), the weights
maximise ``sum_c log sum_m w_m N(y_c; mu_cm, sigma_cm)`` over the simplex, found by the EM
algorithm for mixture proportions (Dempster, Laird & Rubin 1977, JRSS B 39, 1; the log-likelihood
is concave in ``w``, so the fixed point is the maximum). A model that adds nothing gets a weight
near 0; one that is best everywhere gets a weight near 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from tess_cluster_age.evaluation import INTERVALS, cluster_predictions
from tess_cluster_age.models.base import AgeModel
from tess_cluster_age.models.predictors import ModelMixture, mix_predictions, row_weights

ALL_GALAXIES = "all"
"""The weights used for a galaxy that has none of its own: fitted on every training cluster."""


def mixture_weights(log_age: np.ndarray, mu: np.ndarray, sigma: np.ndarray, max_iter: int = 1000, tol: float = 1e-9) -> np.ndarray:
    """Maximum-likelihood weights of a mixture of fixed Gaussian predictions (EM for the proportions).

    Args:
        log_age: the true log ages of ``n`` clusters (log10 yr).
        mu, sigma: ``n x m`` predicted means and standard deviations (dex) of ``m`` components.
        max_iter: most EM steps.
        tol: stop once no weight moves by more than this.

    Returns:
        ``m`` non-negative weights summing to 1 that maximise ``sum_c log sum_m w_m N(y_c; mu_cm, sigma_cm)``.
        Each EM step sets ``w_m = mean_c r_cm`` with responsibilities ``r_cm = w_m N_cm / sum_k w_k N_ck``.
    """
    y = np.asarray(log_age, float)[:, None]
    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    if mu.ndim != 2 or mu.shape != sigma.shape or len(y) != len(mu):
        raise ValueError(f"mu {mu.shape} and sigma {sigma.shape} must be clusters x components, for {len(y)} clusters")
    if len(y) == 0:
        raise ValueError("no clusters to fit mixture weights on")
    log_density = -0.5 * np.log(2 * np.pi * sigma**2) - (y - mu) ** 2 / (2 * sigma**2)
    weights = np.full(mu.shape[1], 1.0 / mu.shape[1])
    with np.errstate(divide="ignore"):
        for _ in range(int(max_iter)):
            joint = log_density + np.log(weights)
            joint -= joint.max(axis=1, keepdims=True)
            responsibility = np.exp(joint)
            responsibility /= responsibility.sum(axis=1, keepdims=True)
            updated = responsibility.mean(axis=0)
            converged = np.max(np.abs(updated - weights)) <= tol
            weights = updated
            if converged:
                break
    return weights / weights.sum()


def side_by_side(tables: Mapping[str, pd.DataFrame], keys: Sequence[str] | str,
                 columns: Sequence[str] = ("mu", "sigma")) -> tuple[pd.DataFrame, ...]:
    """The components' ``columns`` (dex) as one ``rows x components`` table each, on the rows
    (values of ``keys``) that every component predicts, components in the order of ``tables``."""
    wide = pd.concat({name: table.set_index(keys)[list(columns)] for name, table in tables.items()}, axis=1, join="inner")
    return tuple(wide.xs(column, axis=1, level=1) for column in columns)


def galaxy_weights(inner: Mapping[str, pd.DataFrame], max_iter: int = 1000, tol: float = 1e-9) -> dict[str, np.ndarray]:
    """Mixture weights per host galaxy (and ``"all"``) from the components' cluster-level predictions.

    Args:
        inner: component name -> cluster rows ``name, galaxy, log_age, mu, sigma`` (its inner
            out-of-fold predictions of the training clusters, at cluster level).
        max_iter, tol: of :func:`mixture_weights`.

    Returns:
        galaxy -> weights in the order of ``inner``; only clusters that every component predicts count.
    """
    names = list(inner)
    if not names:
        raise ValueError("a combined model needs at least one component")
    first = inner[names[0]].set_index("name")[["galaxy", "log_age"]]
    mu, sigma = side_by_side(inner, "name")
    clusters = first.loc[mu.index]
    out = {ALL_GALAXIES: mixture_weights(clusters["log_age"], mu.to_numpy(), sigma.to_numpy(), max_iter, tol)}
    for galaxy, rows in clusters.groupby("galaxy", sort=True):
        out[str(galaxy)] = mixture_weights(rows["log_age"], mu.loc[rows.index].to_numpy(), sigma.loc[rows.index].to_numpy(), max_iter, tol)
    return out


def cluster_inner_out_of_fold(model: AgeModel) -> pd.DataFrame:
    """A fitted model's inner out-of-fold predictions combined per cluster (SPEC 4 mixture):
    ``name, galaxy, log_age, mu, sigma, n_segments``."""
    return cluster_predictions(model.inner_out_of_fold())


class CombinedAgeModel(AgeModel):
    """A Gaussian mixture of several age models with weights per host galaxy fitted on inner folds.

    ``fit`` fits a clone of every component on the training rows, then the weights on the
    components' inner out-of-fold predictions (:func:`galaxy_weights`); :meth:`combine` does the
    second step for components already fitted on those rows (the saved models of the other
    pipelines, which are the same fits). ``predict`` is :class:`ModelMixture`'s.

    Args:
        components: unfitted learned models (each draws inner folds, e.g. built by
            :func:`tess_cluster_age.models.build_model`).
        names: their model names (for the weights table and the report).
        max_iter, tol: of the EM fit of the weights (:func:`mixture_weights`).
    """

    def __init__(self, components: tuple = (), names: tuple = (), max_iter: int = 1000, tol: float = 1e-9):
        self.components = components
        self.names = names
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> "CombinedAgeModel":
        return self.combine([clone(component).fit(X, y, sample_weight, groups) for component in self.components])

    def combine(self, fitted: Sequence[AgeModel]) -> "CombinedAgeModel":
        """Take ``fitted`` (the components, fitted on the same training rows) and fit the weights on them."""
        if len(fitted) != len(self.names) or not fitted:
            raise ValueError(f"{len(fitted)} fitted components for the {len(self.names)} names {list(self.names)}")
        self.components_ = list(fitted)
        self.weights_ = galaxy_weights({name: cluster_inner_out_of_fold(model) for name, model in zip(self.names, fitted)},
                                       self.max_iter, self.tol)
        self.n_features_in_ = max(int(getattr(model, "n_features_in_", 0)) for model in fitted)
        return self

    def weights_table(self) -> pd.DataFrame:
        """``galaxy, model, weight``: the fitted weights, one row per galaxy and component."""
        check_is_fitted(self, "weights_")
        return pd.DataFrame([(galaxy, name, float(w)) for galaxy, weights in self.weights_.items() for name, w in zip(self.names, weights)],
                            columns=["galaxy", "model", "weight"])

    def predictor(self) -> ModelMixture:
        check_is_fitted(self, "weights_")
        return ModelMixture(list(self.names), [model.predictor() for model in self.components_], dict(self.weights_))


def combine_out_of_fold(segment_rows: pd.DataFrame, inner_rows: pd.DataFrame, names: Sequence[str], model_name: str,
                        max_iter: int = 1000, tol: float = 1e-9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The combined model's out-of-fold predictions, from its components' (no refitting).

    In every outer fold (``seed, fold``) the components were fitted on the same training clusters
    (the shared folds, SPEC 4), with the same seeds, as the combined model would fit them there. So
    its weights come from the components' inner out-of-fold rows of that fold (training clusters
    only, :func:`galaxy_weights`), and its held-out predictions mix the components' held-out
    segment rows (:func:`~tess_cluster_age.models.predictors.mix_predictions`): the same numbers
    as cross-validating :class:`CombinedAgeModel` itself, at no cost.

    Args:
        segment_rows: out-of-fold segment rows (``model, seed, fold, segment_id, name, galaxy, kind,
            log_age, mu, sigma`` and the interval sigmas of :data:`~tess_cluster_age.evaluation.INTERVALS`,
            each mixed as ``sigma`` is) holding every component.
        inner_rows: inner out-of-fold cluster rows (:data:`~tess_cluster_age.evaluation.INNER_OOF_COLUMNS`)
            holding every component.
        names: the components' model names.
        model_name: the ``model`` of the rows returned.
        max_iter, tol: of :func:`mixture_weights`.

    Returns:
        The segment rows of ``model_name``, and the weights ``seed, fold, galaxy, model, weight``.

    Raises:
        ValueError: a component without out-of-fold or inner rows (named).
    """
    names = list(names)
    missing = [n for n in names if n not in set(segment_rows["model"]) or n not in set(inner_rows["model"])]
    if missing:
        raise ValueError(f"combined model {model_name!r}: no out-of-fold or inner rows of component(s) {missing}; "
                         f"models present: {sorted(set(segment_rows['model']))}")
    keys = ["seed", "fold", "segment_id"]
    first = segment_rows[segment_rows["model"] == names[0]]
    sigmas = ["sigma", *(c for c in INTERVALS if c in segment_rows)]
    mu, *sigma = side_by_side({n: segment_rows[segment_rows["model"] == n] for n in names}, keys, ["mu", *sigmas])
    rows = first.set_index(keys).loc[mu.index].reset_index()
    out_mu, out_sigma = np.empty(len(rows)), {column: np.empty(len(rows)) for column in sigmas}
    weight_rows = []
    inner_by_fold = inner_rows[inner_rows["model"].isin(names)].groupby(["seed", "fold"])
    for (seed, fold), held_out in rows.groupby(["seed", "fold"]).groups.items():
        inner = inner_by_fold.get_group((seed, fold))
        weights = galaxy_weights({n: inner[inner["model"] == n] for n in names}, max_iter, tol)
        weight_rows += [(seed, fold, galaxy, n, float(w)) for galaxy, values in weights.items() for n, w in zip(names, values)]
        position = rows.index.get_indexer(held_out)
        row_weight = row_weights(weights, rows["galaxy"].to_numpy()[position])
        for column, table in zip(sigmas, sigma):
            out_mu[position], out_sigma[column][position] = mix_predictions(mu.to_numpy()[position], table.to_numpy()[position], row_weight)
    combined = rows.assign(model=model_name, mu=out_mu, **out_sigma)[[c for c in segment_rows.columns if c in rows]]
    return combined.reset_index(drop=True), pd.DataFrame(weight_rows, columns=["seed", "fold", "galaxy", "model", "weight"])
