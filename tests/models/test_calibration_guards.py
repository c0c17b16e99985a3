"""Guards on what every calibrated model shares: the sigma floor and honest inner folds.

Each test is built so that the bug it guards against changes its outcome: the first needs a model
whose calibrated sigma really falls below the floor, the second a feature from which a model can
recall a cluster's age only if it has seen that cluster's other segments.
"""

from __future__ import annotations

import numpy as np
import pytest

from tess_cluster_age.models import RandomForestAgeModel, RidgeAgeModel

from .conftest import synthetic_model_input


def _fit(model, data):
    return model.fit(data, data["log_age"], data["weight"], data["name"])


@pytest.mark.parametrize("sigma_floor", [0.05, 0.2])
def test_sigma_never_falls_below_the_floor_even_when_the_calibration_asks_for_less(sigma_floor):
    # the feature is the log age itself: the ridge's inner out-of-fold errors are ~0.02 dex, so the
    # calibrated segment sigma (the per-galaxy conformal scale times a unit sigma) is below 0.05 dex
    data = synthetic_model_input(n_clusters=30, seed=11)
    exact = data.assign(signal=data["log_age"])
    options = dict(alpha=1e-6, features=["signal"], use_galaxy=False, inner_folds=3, random_state=0)
    _, raw_sigma = _fit(RidgeAgeModel(sigma_floor=0.0, **options), exact).predict(exact, return_std=True)
    assert raw_sigma.max() < 0.05                      # the case the floor is for does occur here
    _, sigma = _fit(RidgeAgeModel(sigma_floor=sigma_floor, **options), exact).predict(exact, return_std=True)
    np.testing.assert_allclose(sigma, np.maximum(raw_sigma, sigma_floor), rtol=0, atol=1e-12)
    assert sigma.min() == pytest.approx(sigma_floor)


def test_inner_folds_never_split_a_cluster_between_training_and_calibration():
    # cluster_id is a number that names the cluster and says nothing about its age (ages are drawn
    # at random). A forest can recall a cluster's age from it only if the same cluster's other
    # segments were in its training rows: honest inner folds (all of a cluster's segments on one
    # side) leave the inner out-of-fold cluster RMSE at or above the spread of the ages, while folds
    # that split clusters by segment bring it down to about a third of it (with leaves of one
    # segment, which recall best; leaves of 3, the default, would only reach ~0.74 of it).
    data = synthetic_model_input(n_clusters=30, segments_per_cluster=4, seed=0)
    spread = data.groupby("name")["log_age"].first().std(ddof=0)
    model = _fit(RandomForestAgeModel(n_estimators=20, max_features=1.0, min_samples_leaf=1, features=["cluster_id"], use_galaxy=False,
                                      inner_folds=3, n_jobs=1, random_state=0), data)
    inner = model.inner_predictions_
    assert sorted(inner["name"].unique()) == sorted(data["name"].unique())   # every training cluster held out once
    assert model.inner_cluster_rmse_ > 0.8 * spread, (model.inner_cluster_rmse_, spread)
    # and the sigma fitted on those predictions is not the tiny one a leak would give
    assert min(model.sigma_scale_.values()) > 0.5 * spread
