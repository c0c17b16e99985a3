"""The combined model (issue 18, item 3): mixture weights per galaxy fitted on inner folds only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age import evaluation
from tess_cluster_age.models import CombinedAgeModel, GaussianNetworkAgeModel, PerGalaxy, RandomForestAgeModel, RidgeAgeModel
from tess_cluster_age.models import combined as combined_module
from tess_cluster_age.models.combined import combine_out_of_fold, galaxy_weights, mixture_weights
from tess_cluster_age.models.predictors import ModelMixture

from .conftest import synthetic_folds, synthetic_model_input

FEATURES = ["signal", "square", "noise"]


def ridge():
    return RidgeAgeModel(alpha=1.0, features=FEATURES, inner_folds=3, random_state=1)


def forest():
    return PerGalaxy(RandomForestAgeModel(n_estimators=8, features=FEATURES, inner_folds=3, n_jobs=1, random_state=2))


def test_em_recovers_the_proportions_of_a_known_mixture():
    """y_c comes from component 0 with probability 0.3 and from component 1 otherwise (well separated):
    the maximum-likelihood weights are the proportions."""
    rng = np.random.default_rng(0)
    n = 4000
    mu = np.column_stack([rng.uniform(6.5, 7.5, n), rng.uniform(9.0, 10.0, n)])
    sigma = np.full((n, 2), 0.1)
    pick = rng.random(n) < 0.3
    y = np.where(pick, mu[:, 0], mu[:, 1]) + rng.normal(0, 0.1, n)
    weights = mixture_weights(y, mu, sigma)
    assert weights == pytest.approx([pick.mean(), 1 - pick.mean()], abs=0.005)
    assert weights.sum() == pytest.approx(1.0)


def test_a_component_that_predicts_the_truth_takes_the_weight():
    rng = np.random.default_rng(1)
    y = rng.uniform(7, 10, 300)
    mu = np.column_stack([y + rng.normal(0, 0.1, 300), rng.uniform(7, 10, 300), np.full(300, 8.5)])
    weights = mixture_weights(y, mu, np.column_stack([np.full(300, 0.1), np.full(300, 0.9), np.full(300, 0.9)]))
    assert weights[0] > 0.97 and np.all(weights >= 0)


def test_weights_are_per_galaxy_with_a_pooled_entry():
    """Component a is right in the LMC, component b in the SMC: each galaxy weighs its own."""
    rng = np.random.default_rng(2)
    rows = []
    for galaxy in ("LMC", "SMC"):
        for c in range(200):
            y = rng.uniform(7, 10)
            rows.append((f"{galaxy}{c}", galaxy, y))
    truth = pd.DataFrame(rows, columns=["name", "galaxy", "log_age"])
    good, bad = truth["log_age"] + rng.normal(0, 0.1, len(truth)), rng.uniform(7, 10, len(truth))
    lmc = (truth["galaxy"] == "LMC").to_numpy()
    a = truth.assign(mu=np.where(lmc, good, bad), sigma=0.1)
    b = truth.assign(mu=np.where(lmc, bad, good), sigma=0.1)
    weights = galaxy_weights({"a": a, "b": b})
    assert weights["LMC"][0] > 0.95 and weights["SMC"][1] > 0.95
    assert 0.3 < weights["all"][0] < 0.7


def test_the_mixture_moments():
    mixture = ModelMixture(["a", "b"], [_Fixed(7.0, 0.1), _Fixed(9.0, 0.2)], {"all": np.array([0.25, 0.75]), "LMC": np.array([1.0, 0.0])})
    X = pd.DataFrame({"galaxy": ["SMC", "LMC"], "name": ["x", "y"]})
    mu, sigma = mixture.predict(X)
    assert mu == pytest.approx([0.25 * 7 + 0.75 * 9, 7.0])
    second = 0.25 * (0.1**2 + 49) + 0.75 * (0.2**2 + 81)
    assert sigma == pytest.approx([np.sqrt(second - mu[0] ** 2), 0.1])
    # each interval's sigma is the mixture of the components' sigmas of that interval
    _, sigma_again, intervals = mixture.predict_intervals(X)
    np.testing.assert_allclose(sigma_again, sigma)
    second_68 = 0.25 * (0.05**2 + 49) + 0.75 * (0.1**2 + 81)
    assert intervals["sigma_68"] == pytest.approx([np.sqrt(second_68 - mu[0] ** 2), 0.05])
    assert intervals["sigma_95"] == pytest.approx([np.sqrt(0.25 * (0.2**2 + 49) + 0.75 * (0.4**2 + 81) - mu[0] ** 2), 0.2])
    assert mixture.problem() is None
    assert "summing to 1" in ModelMixture(["a", "b"], [None, None], {"all": np.array([0.5, 0.6])}).problem()


class _Fixed:
    def __init__(self, mu, sigma):
        self.mu, self.sigma = mu, sigma

    def predict(self, X):
        return np.full(len(X), self.mu), np.full(len(X), self.sigma)

    def predict_intervals(self, X):      # the 68 % interval half as wide as sigma's, the 95 % one twice
        mu, sigma = self.predict(X)
        return mu, sigma, {"sigma_68": 0.5 * sigma, "sigma_95": 2.0 * sigma}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic_model_input(n_clusters=60, seed=11)


@pytest.fixture(scope="module")
def folds(data) -> pd.DataFrame:
    return synthetic_folds(data, n_splits=3, seeds=(0, 1))


def test_cross_validating_the_estimator_equals_combining_the_components_out_of_fold_rows(data, folds):
    """The pipeline never refits a component: it mixes the components' own out-of-fold and inner rows.
    That gives the very numbers of cross-validating CombinedAgeModel itself."""
    direct = evaluation.cross_validate(lambda: CombinedAgeModel(components=(ridge(), forest()), names=("ridge", "forest")), data, folds,
                                       "combined")
    parts = [evaluation.cross_validate(make, data, folds, name, inner=True) for name, make in (("ridge", ridge), ("forest", forest))]
    inner = pd.concat([p.attrs.pop("inner") for p in parts], ignore_index=True)
    assert list(inner.columns) == evaluation.INNER_OOF_COLUMNS
    mixed, weights = combine_out_of_fold(pd.concat(parts, ignore_index=True), inner, ["ridge", "forest"], "combined")
    key = ["seed", "fold", "segment_id"]
    direct, mixed = direct.sort_values(key).reset_index(drop=True), mixed.sort_values(key).reset_index(drop=True)
    assert list(mixed.columns) == list(direct.columns)
    np.testing.assert_allclose(mixed["mu"], direct["mu"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(mixed["sigma"], direct["sigma"], rtol=0, atol=1e-12)
    assert set(weights["galaxy"]) == {"all", "MW", "LMC", "SMC"} and len(weights) == 6 * 4 * 2


def test_the_weights_see_training_clusters_only(data, folds, monkeypatch):
    """Spy on the weights' fit inside cross-validation: in every fold it sees no held-out cluster."""
    seen = []
    original = combined_module.galaxy_weights

    def spy(inner, *args):
        seen.append(set.union(*(set(t["name"]) for t in inner.values())))
        return original(inner, *args)

    monkeypatch.setattr(combined_module, "galaxy_weights", spy)
    evaluation.cross_validate(lambda: CombinedAgeModel(components=(ridge(), ridge().set_params(alpha=30.0)), names=("a", "b")), data, folds,
                              "combined")
    assert len(seen) == 6
    for names, (_, fold) in zip(seen, folds.groupby(["seed", "fold"])):
        held_out = set(fold["name"])
        assert names and not names & held_out
        assert names | held_out == set(data["name"])


def test_combined_out_of_fold_weights_ignore_the_held_out_rows(data, folds):
    """Changing the held-out labels and predictions of fold (0, 0) leaves that fold's weights as they were."""
    parts = [evaluation.cross_validate(make, data, folds, name, inner=True) for name, make in (("ridge", ridge), ("forest", forest))]
    inner = pd.concat([p.attrs.pop("inner") for p in parts], ignore_index=True)
    rows = pd.concat(parts, ignore_index=True)
    _, weights = combine_out_of_fold(rows, inner, ["ridge", "forest"], "combined")
    tampered = rows.copy()
    held_out = (tampered["seed"] == 0) & (tampered["fold"] == 0)
    tampered.loc[held_out, "log_age"] = 0.0
    tampered.loc[held_out & (tampered["model"] == "forest"), "mu"] += 3.0
    _, again = combine_out_of_fold(tampered, inner, ["ridge", "forest"], "combined")
    pd.testing.assert_frame_equal(weights, again)


def test_a_missing_component_is_named(data, folds):
    part = evaluation.cross_validate(ridge, data, folds, "ridge", inner=True)
    with pytest.raises(ValueError, match="forest"):
        combine_out_of_fold(part, part.attrs["inner"], ["ridge", "forest"], "combined")


def test_a_baseline_has_no_inner_out_of_fold_predictions(data):
    from tess_cluster_age.models import GalaxyMeanModel

    model = GalaxyMeanModel().fit(data, data["log_age"], data["weight"], data["name"])
    with pytest.raises(ValueError, match="no inner out-of-fold"):
        model.inner_out_of_fold()


def test_inner_out_of_fold_sigma_is_the_calibrated_one(data):
    """The inner rows carry the sigma the model would give them: its sigma scale applied, floored."""
    model = GaussianNetworkAgeModel(hidden=(8,), max_epochs=5, patience=2, inner_folds=3, features=FEATURES, random_state=0)
    model.fit(data, data["log_age"], data["weight"], data["name"])
    inner = model.inner_out_of_fold()
    raw = model.inner_predictions_
    assert np.array_equal(inner["mu"], raw["mu"])
    scale = inner["sigma"] / raw["sigma"]
    assert not np.allclose(scale, 1.0)
    assert (inner["sigma"] >= model.sigma_floor).all()
