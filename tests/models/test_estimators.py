"""Every age model on synthetic data with known answers: recovery, calibration, no leakage, seeding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from tess_cluster_age import evaluation
from tess_cluster_age.models import (ConstantModel, GalaxyMeanModel, GaussianNetworkAgeModel, PerGalaxy, RandomForestAgeModel,
                                     RidgeAgeModel, TunedAgeModel, build_model)
from tess_cluster_age.models.base import interval_scales
from tess_cluster_age.models.config import ModelSpec, TuningConfig
from tess_cluster_age.models.predictors import gaussian_scales

from .conftest import synthetic_folds, synthetic_model_input

FEATURES = ["signal", "square", "noise"]
FAST_NETWORK = dict(hidden=(16,), max_epochs=150, patience=15, batch_size=128, learning_rate=0.01, inner_folds=3)

MODELS = {
    "random_forest": lambda: RandomForestAgeModel(n_estimators=40, features=FEATURES, inner_folds=3, n_jobs=1, random_state=1),
    "regression": lambda: RidgeAgeModel(alpha=1.0, features=FEATURES, inner_folds=3, random_state=1),
    "gaussian_nn": lambda: GaussianNetworkAgeModel(features=FEATURES, random_state=1, **FAST_NETWORK),
    "nn_mse": lambda: GaussianNetworkAgeModel(features=FEATURES, learn_sigma=False, random_state=1, **FAST_NETWORK),
}


def _cluster_oof(make, data, folds):
    oof = evaluation.with_cluster_rows(evaluation.cross_validate(make, data, folds, "m"))
    return oof[oof["level"] == "cluster"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_model_recovers_a_known_relation(name):
    data = synthetic_model_input(n_clusters=90, seed=3)
    clusters = _cluster_oof(MODELS[name], data, synthetic_folds(data))
    rmse = np.sqrt(np.mean((clusters["mu"] - clusters["log_age"]) ** 2))
    # the signal carries the age to 0.2 dex; the age spread is 0.87 dex
    assert rmse < 0.35, rmse
    assert (clusters["sigma"] >= 0.05).all()


@pytest.mark.parametrize("name", ["random_forest", "gaussian_nn"])
def test_same_seed_same_predictions_and_another_seed_differs(name):
    data = synthetic_model_input(n_clusters=45, seed=4)
    X, y, w, g = data, data["log_age"], data["weight"], data["name"]
    first = MODELS[name]().fit(X, y, w, g).predict(X, return_std=True)
    second = MODELS[name]().fit(X, y, w, g).predict(X, return_std=True)
    other = MODELS[name]().set_params(random_state=7).fit(X, y, w, g).predict(X, return_std=True)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("model", [ConstantModel(), GalaxyMeanModel(), RandomForestAgeModel(), RidgeAgeModel(), GaussianNetworkAgeModel(),
                                   PerGalaxy(RidgeAgeModel()), TunedAgeModel(RidgeAgeModel())])
def test_predicting_with_an_unfitted_model_fails_clearly(model, model_input):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(model_input, return_std=True)


@pytest.mark.parametrize("model", [ConstantModel(), GalaxyMeanModel(), RandomForestAgeModel(), RidgeAgeModel(), PerGalaxy(RidgeAgeModel()),
                                   TunedAgeModel(RidgeAgeModel())])
def test_fit_without_groups_is_refused(model, model_input):
    """Without the cluster names the inner folds would split clusters (a leak), so fit refuses to guess."""
    with pytest.raises(ValueError, match="fit needs groups: the cluster name of each row"):
        model.fit(model_input, model_input["log_age"], model_input["weight"])


@pytest.mark.parametrize("name", ["random_forest", "regression"])
def test_estimators_follow_scikit_learn_conventions(name, model_input):
    """``predict`` gives the mean, ``return_std`` adds sigma; ``check_is_fitted`` and ``feature_names_in_`` work."""
    model = MODELS[name]()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    model.fit(model_input, model_input["log_age"], model_input["weight"], model_input["name"])
    check_is_fitted(model)
    mu, sigma = model.predict(model_input, return_std=True)
    assert np.array_equal(model.predict(model_input), mu) and (sigma > 0).all()
    assert list(model.feature_names_in_) == FEATURES
    assert clone(model).get_params() == model.get_params()


def test_baselines_by_hand(model_input):
    y, w, g = model_input["log_age"].to_numpy(), model_input["weight"].to_numpy(), model_input["name"].to_numpy()
    constant = ConstantModel().fit(model_input, y, w, g)
    assert constant.mean_ == pytest.approx(np.average(y, weights=w))
    per_galaxy = GalaxyMeanModel().fit(model_input, y, w, g)
    mu, sigma = per_galaxy.predict(model_input, return_std=True)
    lmc = model_input["galaxy"].to_numpy() == "LMC"
    assert mu[lmc][0] == pytest.approx(y[lmc].mean()) and sigma[lmc][0] == pytest.approx(y[lmc].std())


def test_sigma_is_calibrated_per_galaxy_on_heteroscedastic_data():
    """Galaxies with 0.1, 0.4 and 0.8 dex of scatter: each galaxy's held-out cluster coverage is right.

    The per-galaxy calibration (``calibration_bin_edges=()``, ``evaluation.calibration: galaxy``):
    its promise is coverage per galaxy. With predicted-age bins of ~15 inner clusters, the sparse
    bins of this pooled, galaxy-blind ridge fall back to the galaxy scale and the galaxy's overall
    68 % coverage is not promised any more (test_mondrian_calibration.py tests that mode)."""
    data = synthetic_model_input(n_clusters=360, segments_per_cluster=2, noise_dex={"MW": 0.8, "LMC": 0.1, "SMC": 0.4}, seed=5)
    make = lambda: RidgeAgeModel(alpha=0.1, features=["signal"], use_galaxy=False, inner_folds=5, random_state=2, calibration_bin_edges=())
    clusters = _cluster_oof(make, data, synthetic_folds(data, n_splits=4))
    for galaxy, part in clusters.groupby("galaxy"):
        z = np.abs(part["mu"] - part["log_age"]) / part["sigma"]
        assert np.mean(z <= 1) == pytest.approx(0.68, abs=0.09), galaxy
        assert np.mean(z <= 1.96) == pytest.approx(0.95, abs=0.05), galaxy
    widths = clusters.groupby("galaxy")["sigma"].median()
    assert widths["LMC"] < widths["SMC"] < widths["MW"]


def test_interval_scales_by_hand():
    # one segment per cluster, sigma 1: k is the conformal quantile of |r| (68 %) and |r|/1.96 (95 %)
    r = np.arange(1, 21) / 10.0
    scales = interval_scales(np.zeros(20), r, np.ones(20), np.array(["MW"] * 20), np.arange(20).astype(str))
    k68 = np.sort(r)[int(np.ceil(21 * 0.6827)) - 1]
    k95 = np.sort(r / 1.959963984540054)[min(int(np.ceil(21 * 0.95)), 20) - 1]
    assert scales[("MW", "all")] == pytest.approx((k68, k95))
    assert scales == {("MW", "all"): scales[("MW", "all")], ("all", "all"): scales[("MW", "all")]}   # no bins without edges
    assert gaussian_scales(scales)[("MW", "all")] == pytest.approx((k68 + k95) / 2)              # the Gaussian's: their mean


class _SpyRidge(RidgeAgeModel):
    """Records the clusters (by ``cluster_id``, the last feature) each member trains and early-stops on."""

    seen: list = []

    def _fit_member(self, X, y, weight, X_val, y_val, weight_val, seed):
        _SpyRidge.seen.append(("train", set(X[:, -1].astype(int))))
        if X_val is not None:
            _SpyRidge.seen.append(("validation", set(X_val[:, -1].astype(int))))
        return super()._fit_member(X, y, weight, X_val, y_val, weight_val, seed)


class _SpyNetwork(GaussianNetworkAgeModel):
    """The members are trained together: records each one's training and early-stopping clusters."""

    seen: list = []

    def _fit_members(self, design, y, weight, splits, seeds):
        for train, val in splits:
            _SpyNetwork.seen.append(("train", set(design[train, -1].astype(int))))
            _SpyNetwork.seen.append(("early stopping", set(design[val, -1].astype(int))))
        return super()._fit_members(design, y, weight, splits, seeds)


@pytest.mark.parametrize("spy", [_SpyRidge, _SpyNetwork])
def test_no_scaler_early_stopping_or_calibration_set_holds_a_test_cluster(spy):
    data = synthetic_model_input(n_clusters=30, seed=6)
    folds = synthetic_folds(data, n_splits=3)
    fitted = []

    def make():
        options = dict(features=["signal", "cluster_id"], use_galaxy=False, inner_folds=3, random_state=0)
        if spy is _SpyNetwork:
            options.update(hidden=(4,), max_epochs=3, patience=2)
        model = spy(**options)
        fitted.append(model)
        return model

    spy.seen = []
    oof = evaluation.cross_validate(make, data, folds, "spy")
    # 3 outer folds x 3 members x (training, validation) [+ the ridge's final refit on all training clusters]
    assert len(spy.seen) == 3 * (3 * 2 + (spy is _SpyRidge))
    for (fold, test), model in zip(oof.groupby("fold"), fitted):
        test_ids = set(data.loc[data["name"].isin(test["name"]), "cluster_id"].astype(int))
        calibration = set(data.loc[data["name"].isin(model.inner_predictions_["name"]), "cluster_id"].astype(int))
        assert not test_ids & calibration
    # every set a member saw (its scaler's rows, its early-stopping rows) is disjoint from its fold's test clusters
    per_fold = len(spy.seen) // 3
    for k, (fold, test) in enumerate(oof.groupby("fold")):
        test_ids = set(data.loc[data["name"].isin(test["name"]), "cluster_id"].astype(int))
        for kind, ids in spy.seen[k * per_fold:(k + 1) * per_fold]:
            assert not ids & test_ids, (kind, fold)


def test_per_galaxy_fits_one_model_per_galaxy_and_refuses_an_unknown_galaxy(model_input):
    model = PerGalaxy(RidgeAgeModel(features=FEATURES, inner_folds=3)).fit(model_input, model_input["log_age"], model_input["weight"],
                                                                           model_input["name"])
    assert sorted(model.models_) == ["LMC", "MW", "SMC"]
    lmc = model_input[model_input["galaxy"] == "LMC"]
    alone = clone(RidgeAgeModel(features=FEATURES, inner_folds=3)).fit(lmc, lmc["log_age"], lmc["weight"], lmc["name"])
    assert np.allclose(model.predict(lmc, return_std=True)[0], alone.predict(lmc, return_std=True)[0])
    with pytest.raises(ValueError, match="no per-galaxy model for \\['M31'\\]"):
        model.predict(model_input.assign(galaxy="M31"), return_std=True)


def test_tuning_chooses_on_training_clusters_and_keeps_the_best_trial(model_input):
    space = {"alpha": {"low": 0.001, "high": 1000.0, "log": True}}
    tuned = TunedAgeModel(RidgeAgeModel(features=FEATURES, inner_folds=3), space=space, n_trials=6, random_state=0)
    tuned.fit(model_input, model_input["log_age"], model_input["weight"], model_input["name"])
    assert 0.001 <= tuned.best_params_["alpha"] <= 1000
    assert tuned.model_.alpha == tuned.best_params_["alpha"]
    assert tuned.best_score_ == pytest.approx(tuned.model_.inner_cluster_rmse_)
    built = build_model(ModelSpec(estimator="regression", per_galaxy=True), tuning=TuningConfig(n_trials=2, space={"regression": space}))
    assert isinstance(built, PerGalaxy) and isinstance(built.estimator, TunedAgeModel)


def test_periodogram_branch_reads_the_vector_columns():
    data = synthetic_model_input(n_clusters=45, seed=8)
    rng = np.random.default_rng(0)
    bins = pd.DataFrame(rng.normal(size=(len(data), 32)) + data[["signal"]].to_numpy(), columns=[f"periodogram_{i}" for i in range(32)])
    table = pd.concat([data, bins], axis=1)
    for branch in ("linear", "cnn"):
        model = GaussianNetworkAgeModel(features=["noise"], periodogram_branch=branch, random_state=0, **FAST_NETWORK)
        model.fit(table, table["log_age"], table["weight"], table["name"])
        mu, _ = model.predict(table, return_std=True)
        assert np.sqrt(np.mean((mu - table["log_age"]) ** 2)) < 0.6, branch  # the age is only in the vector
    with pytest.raises(ValueError, match="periodogram_"):
        GaussianNetworkAgeModel(periodogram_branch="linear", **FAST_NETWORK).fit(data, data["log_age"], data["weight"], data["name"])


def test_a_forest_grown_in_threads_predicts_the_same_bits_every_time(model_input):
    """Threads grow the trees, but the trees are added up in order: repeated predictions are identical."""
    model = RandomForestAgeModel(n_estimators=40, features=FEATURES, inner_folds=3, n_jobs=2, random_state=1)
    model.fit(model_input, model_input["log_age"], model_input["weight"], model_input["name"])
    first = model.predict(model_input, return_std=True)
    for _ in range(10):
        again = model.predict(model_input, return_std=True)
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
