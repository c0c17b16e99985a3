"""Gradient-boosted trees (issue 18, item 3): the numpy trees are LightGBM's prediction to the bit,
the estimator recovers a known relation, stops early on held-out inner clusters only, is seeded,
follows scikit-learn's conventions, and its model file dates without LightGBM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightgbm
import numpy as np
import pytest
import yaml
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from tess_cluster_age import evaluation
from tess_cluster_age.config import ParameterError
from tess_cluster_age.models import GradientBoostingAgeModel, PerGalaxy, TunedAgeModel, build_model
from tess_cluster_age.models.boosting import booster_member
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.models.config import ModelSpec, TuningConfig, validate_model_section
from tess_cluster_age.models.persistence import ModelFileError, read_models, save_models
from tess_cluster_age.models.predictors import LIGHTGBM_ZERO, MISSING_NAN, MISSING_NONE, MISSING_ZERO

from .conftest import synthetic_folds, synthetic_model_input

FEATURES = ["signal", "square", "noise"]
PROJECT = Path(__file__).resolve().parents[2]


def small(**options) -> GradientBoostingAgeModel:
    """A quick model on the synthetic table's features (one thread)."""
    return GradientBoostingAgeModel(**{"n_estimators": 200, "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 5, "features": FEATURES,
                                       "inner_folds": 3, "n_jobs": 1, "random_state": 1, **options})


def fit(model, data):
    return model.fit(data, data["log_age"], data["weight"], data["name"])


def _cluster_oof(make, data, folds):
    oof = evaluation.with_cluster_rows(evaluation.cross_validate(make, data, folds, "m"))
    return oof[oof["level"] == "cluster"]


# ------------------------------------------------------------------------------------ numpy trees = LightGBM
def _data_with_nan_and_zeros(seed: int, n: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """Five features: 0-3 with 10 % NaN and 15 % exact zeros (a zero in feature 2 shifts y by 1,
    so zeros matter), feature 4 never missing in training (LightGBM gives its splits missing type None)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[:, :4][rng.random((n, 4)) < 0.10] = np.nan
    x[:, :4][rng.random((n, 4)) < 0.15] = 0.0
    y = 8.0 + np.nan_to_num(x[:, 0]) + np.sin(2 * np.nan_to_num(x[:, 1])) + (x[:, 2] == 0) + 0.3 * x[:, 4] + 0.1 * rng.normal(size=n)
    return x, y


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_the_numpy_trees_give_the_bits_of_lightgbms_prediction(zero_as_missing):
    """On test rows with NaN in every feature (also the one never missing in training), exact
    zeros, -0.0 and values LightGBM reads as zero (1e-36), the sum of the node tables' leaves is
    ``Booster.predict``'s raw score, bit for bit, after 1 round (the initial score is in the first
    tree: no separate bias) and after all of them."""
    x, y = _data_with_nan_and_zeros(seed=4)
    params = small(n_jobs=1).lightgbm_params(seed=3) | {"zero_as_missing": zero_as_missing}
    booster = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=60)
    rng = np.random.default_rng(5)
    test = rng.normal(size=(3000, 5)) * 1.5
    test[rng.random(test.shape) < 0.2] = np.nan
    test[rng.random(test.shape) < 0.2] = 0.0
    test[:40], test[40:80], test[80:120] = 1e-36, -0.0, -1e-36
    root = booster_member(booster, 1).nodes[0][0]             # rows at the first split's threshold and one float64 step above it
    test[120:140, root["feature"]] = root["threshold"]
    test[140:160, root["feature"]] = np.nextafter(root["threshold"], np.inf)
    for rounds in (1, 60):
        member = booster_member(booster, rounds)
        mu, sigma = member.mean_std(test)
        assert len(member.nodes) == member.best_iteration == rounds and member.problem() is None
        assert np.array_equal(mu, booster.predict(test, num_iteration=rounds, raw_score=True))
        assert np.array_equal(sigma, np.ones(len(test)))
    assert abs(booster_member(booster, 1).mean_std(test)[0].mean() - np.mean(y)) < 0.2   # the first tree holds the mean
    first = booster_member(booster, 1).mean_std(test)[0]
    assert np.all(first[120:140] != first[140:160])           # the two sides of the split
    kinds = {int(k) for table in member.nodes for k in table["missing_type"][table["left_child"] >= 0]}
    assert kinds == ({MISSING_ZERO} if zero_as_missing else {MISSING_NONE, MISSING_NAN})
    assert np.std(mu) > 0.5                                   # not a constant


def _one_split_booster(decision_type: int, threshold: float) -> lightgbm.Booster:
    """A one-split, one-feature LightGBM model with the given decision type (bit 1: default left;
    bits 2-3: missing type None/Zero/NaN) and threshold, written into a trained model's text."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1))
    booster = lightgbm.train({"objective": "regression", "num_leaves": 2, "min_data_in_leaf": 5, "verbosity": -1, "seed": 1,
                              "deterministic": True, "force_col_wise": True, "num_threads": 1}, lightgbm.Dataset(x, 3.0 * x[:, 0]), 1)
    lines = []
    for line in booster.model_to_string().splitlines():
        if line.startswith("decision_type="):
            line = f"decision_type={decision_type}"
        elif line.startswith("threshold="):
            line = f"threshold={threshold!r}"
        lines.append(line)
    return lightgbm.Booster(model_str="\n".join(lines) + "\n")


@pytest.mark.parametrize("threshold", [0.5, -0.5, 0.5 * LIGHTGBM_ZERO, -0.5 * LIGHTGBM_ZERO])
@pytest.mark.parametrize("decision_type", [0, 2, 4, 6, 8, 10])   # (None, Zero, NaN) x (default right, left)
def test_every_missing_value_rule_is_lightgbms(decision_type, threshold):
    """Each missing type and default side, with thresholds on both sides of zero and inside
    LightGBM's zero band: NaN, zeros, values inside the band and values around the threshold go
    where LightGBM sends them."""
    booster = _one_split_booster(decision_type, threshold)
    member = booster_member(booster, 1)
    assert member.nodes[0]["missing_type"][0] == decision_type >> 2 and member.nodes[0]["missing_go_to_left"][0] == (decision_type >> 1) & 1
    values = np.array([np.nan, 0.0, -0.0, 1e-36, -1e-36, LIGHTGBM_ZERO, -LIGHTGBM_ZERO, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0,
                       threshold, np.nextafter(threshold, np.inf), np.nextafter(threshold, -np.inf), np.inf, -np.inf])[:, None]
    mu, _ = member.mean_std(values)
    expected = booster.predict(values, raw_score=True)
    assert np.array_equal(mu, expected), np.column_stack([values[:, 0], mu, expected])
    assert len(np.unique(expected)) == 2


def test_a_booster_that_the_numpy_trees_cannot_reproduce_is_refused():
    x, y = _data_with_nan_and_zeros(seed=6)
    poisson = lightgbm.train({"objective": "poisson", "verbosity": -1, "num_threads": 1}, lightgbm.Dataset(x, y), 3)
    with pytest.raises(ValueError, match="objective 'poisson'"):
        booster_member(poisson, 3)
    categorical = np.column_stack([np.arange(len(y)) % 4, x[:, 4]])
    booster = lightgbm.train({"objective": "regression", "verbosity": -1, "num_threads": 1, "min_data_per_group": 5, "cat_smooth": 1},
                             lightgbm.Dataset(categorical, y + categorical[:, 0], categorical_feature=[0]), 3)
    with pytest.raises(ValueError, match=r"tree 0: split '==' \(categorical\)"):
        booster_member(booster, 3)


# ------------------------------------------------------------------------------------ the estimator
def test_gradient_boosting_recovers_a_known_relation():
    """The signal carries the age to 0.2 dex (the age spread is 0.87 dex): held-out cluster RMSE
    below 0.3 dex, and the calibrated sigma is near the scatter (about 0.2 dex) and above its floor."""
    data = synthetic_model_input(n_clusters=90, seed=3)
    clusters = _cluster_oof(small, data, synthetic_folds(data))
    rmse = np.sqrt(np.mean((clusters["mu"] - clusters["log_age"]) ** 2))
    assert rmse < 0.3, rmse
    assert (clusters["sigma"] >= 0.05).all() and 0.12 < clusters["sigma"].median() < 0.4


class _SpyTrain:
    """Stands in for ``lightgbm.train`` and records the clusters (``cluster_id``, the last feature)
    of each call's training and validation (early-stopping) sets."""

    def __init__(self, train):
        self.train, self.calls = train, []

    def __call__(self, params, train_set, num_boost_round, valid_sets=(), callbacks=()):
        validation = [set(v.data[:, -1].astype(int)) for v in valid_sets]
        self.calls.append({"train": set(train_set.data[:, -1].astype(int)), "validation": validation,
                           "early_stopping": any(type(c).__name__ == "_EarlyStoppingCallback" for c in callbacks)})
        return self.train(params, train_set, num_boost_round, valid_sets=valid_sets, callbacks=callbacks)


def test_early_stopping_uses_only_the_held_out_inner_fold(monkeypatch):
    """Every member stops on exactly its held-out inner fold: the training clusters it was not
    trained on, never one of the outer fold's test clusters."""
    spy = _SpyTrain(lightgbm.train)
    monkeypatch.setattr(lightgbm, "train", spy)
    data = synthetic_model_input(n_clusters=30, seed=6)
    folds = synthetic_folds(data, n_splits=3)
    fitted = []

    def make():
        fitted.append(small(features=["signal", "cluster_id"], use_galaxy=False))
        return fitted[-1]

    oof = evaluation.cross_validate(make, data, folds, "spy")
    assert len(spy.calls) == 3 * 3                      # 3 outer folds x 3 members, no refit
    ids = data.groupby("name")["cluster_id"].first().astype(int)
    for k, ((fold, test), model) in enumerate(zip(oof.groupby("fold"), fitted)):
        test_ids = set(ids[test["name"].unique()])
        training_ids = set(ids[model.inner_predictions_["name"].unique()])
        assert not training_ids & test_ids
        members = spy.calls[3 * k: 3 * (k + 1)]
        held_out = [call["validation"][0] for call in members]
        for call in members:
            assert len(call["validation"]) == 1 and call["early_stopping"]
            assert not call["validation"][0] & call["train"]                      # held out from this member
            assert call["validation"][0] | call["train"] == training_ids            # and from nowhere else
        assert set().union(*held_out) == training_ids and sum(map(len, held_out)) == len(training_ids)   # the inner folds


def test_members_stop_early_on_labels_no_feature_explains():
    """Nothing generalises, so each member's held-out error is lowest after a few rounds and it
    stops there; without early stopping it would use all 300 rounds."""
    data = synthetic_model_input(n_clusters=45, seed=7)
    data["noise_2"] = np.random.default_rng(7).normal(size=len(data))
    model = fit(small(n_estimators=300, early_stopping_rounds=20, features=["noise", "noise_2"], use_galaxy=False), data)
    kept = [m.best_iteration for m in model.members_]
    assert max(kept) < 60, kept


def test_refit_boosts_one_model_on_all_clusters_for_the_members_mean_rounds():
    data = synthetic_model_input(n_clusters=45, seed=4)
    members = fit(small(), data)
    refitted = fit(small(refit=True), data)
    assert len(members.members_) == 3 and len(refitted.members_) == 1
    assert refitted.members_[0].best_iteration == round(np.mean([m.best_iteration for m in members.members_]))
    assert refitted.sigma_scale_ == members.sigma_scale_     # the calibration comes from the same inner members


def test_a_members_trees_follow_its_seed():
    """With the same rows, LightGBM's row and feature draws follow the member's seed."""
    x, y = _data_with_nan_and_zeros(seed=8)
    model = small(n_estimators=30)
    draws = [model._fit_member(x[:600], y[:600], np.ones(600), x[600:], y[600:], np.ones(200), seed).mean_std(x)[0] for seed in (1, 1, 2)]
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])


def test_same_seed_same_predictions_and_another_seed_differs():
    """Also with another number of threads (LightGBM's ``deterministic``)."""
    data = synthetic_model_input(n_clusters=45, seed=4)
    first = fit(small(n_estimators=60), data).predict(data, return_std=True)
    second = fit(small(n_estimators=60), data).predict(data, return_std=True)
    two_threads = fit(small(n_estimators=60, n_jobs=2), data).predict(data, return_std=True)
    other = fit(small(n_estimators=60, random_state=7), data).predict(data, return_std=True)
    for again in (second, two_threads):
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_gradient_boosting_follows_scikit_learn_conventions(model_input):
    """``predict`` gives the mean, ``return_std`` adds sigma; unfitted it fails clearly; groups are required."""
    model = small()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(model_input, return_std=True)
    with pytest.raises(ValueError, match="fit needs groups: the cluster name of each row"):
        model.fit(model_input, model_input["log_age"], model_input["weight"])
    fit(model, model_input)
    check_is_fitted(model)
    mu, sigma = model.predict(model_input, return_std=True)
    assert np.array_equal(model.predict(model_input), mu) and (sigma > 0).all()
    assert list(model.feature_names_in_) == FEATURES and model.n_features_in_ == len(FEATURES) + 3
    assert clone(model).get_params() == model.get_params() and not hasattr(clone(model), "members_")


def test_the_random_forest_pipeline_entry_builds_validates_and_tunes():
    """The entry of conf/base/parameters_random_forest.yml validates, builds one tuned-or-plain
    model per galaxy, and its tuning space names real parameters."""
    section = yaml.safe_load((PROJECT / "conf/base/parameters_random_forest.yml").read_text())["random_forest"]
    config = validate_model_section(section, "random_forest")
    spec = config.models["gradient_boosting_per_galaxy"]
    assert spec.estimator == "gradient_boosting" and spec.per_galaxy and spec.save
    assert "gradient_boosting_per_galaxy" in config.controls
    built = build_model(spec, seed=5, tuning=config.tuning)
    assert isinstance(built, PerGalaxy) and isinstance(built.estimator, GradientBoostingAgeModel)
    assert built.estimator.random_state == 5
    tuned = build_model(spec, seed=5, tuning=TuningConfig(n_trials=2, space=config.tuning.space))
    assert isinstance(tuned.estimator, TunedAgeModel) and set(config.tuning.space["gradient_boosting"]) <= set(small().get_params())
    assert config.tuning.for_model("gradient_boosting_per_galaxy") is config.tuning   # --params=random_forest.tuning.n_trials=N tunes it
    assert config.tuning.for_model("random_forest") is None                          # and leaves the forests as configured


def test_tuning_names_only_configured_models():
    section = yaml.safe_load((PROJECT / "conf/base/parameters_random_forest.yml").read_text())["random_forest"]
    section["tuning"] = {**section["tuning"], "models": ["gradient_boosting_per_galaxy", "lightgbm"]}
    with pytest.raises(ParameterError, match=r"random_forest.tuning.models: 'lightgbm' is not one of the models \['gradient_boosting_per_galaxy'"):
        validate_model_section(section, "random_forest")
    assert TuningConfig(n_trials=3).for_model("anything") is not None              # no list: every model with a search space


def test_tuning_on_inner_folds_keeps_the_best_trial(model_input):
    space = {"num_leaves": {"low": 2, "high": 15}, "learning_rate": {"low": 0.03, "high": 0.3, "log": True}}
    tuned = TunedAgeModel(small(), space=space, n_trials=3, random_state=0)
    tuned.fit(model_input, model_input["log_age"], model_input["weight"], model_input["name"])
    assert tuned.model_.num_leaves == tuned.best_params_["num_leaves"]
    assert tuned.best_score_ == pytest.approx(tuned.model_.inner_cluster_rmse_)


def test_validating_the_parameters_does_not_import_lightgbm():
    """Every run validates every pipeline's options (building each estimator): that must not pay
    for ``import lightgbm`` (about 3 s); fitting does."""
    script = (
        "import sys, yaml\n"
        "from tess_cluster_age.models.config import validate_model_section\n"
        f"section = yaml.safe_load(open({str(PROJECT / 'conf/base/parameters_random_forest.yml')!r}))['random_forest']\n"
        "validate_model_section(section, 'random_forest')\n"
        "assert 'lightgbm' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------ model files
def _bundle(model, name: str) -> TrainedModels:
    return TrainedModels(models={name: model}, model_info={name: ModelInfo(spec={"estimator": "gradient_boosting"})},
                         feature_columns=FEATURES, identity_columns=["segment_id", "name", "galaxy"], feature_ranges={},
                         galaxies=["LMC", "MW", "SMC"], n_clusters=30, n_segments=120, provenance={}, input_provenance=None, versions={})


@pytest.mark.parametrize("change, problem", [
    (lambda table: table["left_child"].__setitem__(0, 0), "1 nodes point outside the tree, back up it"),   # the root's child is the root
    (lambda table: table["missing_type"].__setitem__(0, 7), r"a missing_type other than 0 \(None\), 1 \(Zero\) or 2 \(NaN\)"),
])
def test_a_crafted_boosted_tree_is_refused_on_loading(tmp_path, change, problem):
    data = synthetic_model_input(n_clusters=30, seed=2)
    model = fit(small(), data)
    change(model.members_[1].nodes[2])
    save_models(_bundle(model, "gradient_boosting"), tmp_path / "crafted.zip")
    with pytest.raises(ModelFileError, match=rf"gradient_boosting predictor.members\[1\]: tree 2: {problem}"):
        read_models(tmp_path / "crafted.zip").predictor("gradient_boosting")
