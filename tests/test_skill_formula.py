"""Skill is ``1 - MSE / MSE_reference`` (SPEC 4), checked where it differs from ``1 - RMSE / RMSE_reference``."""

from __future__ import annotations

import pandas as pd
import pytest

from tess_cluster_age import evaluation
from tess_cluster_age.config import AGE_BIN_EDGES


def _cluster_rows(model: str, log_age: list[float], mu: list[float]) -> pd.DataFrame:
    n = len(log_age)
    return pd.DataFrame({"model": model, "level": "cluster", "seed": 0, "name": [f"c{i}" for i in range(n)], "galaxy": "LMC",
                         "log_age": log_age, "mu": mu, "sigma": 0.3})


def test_skill_is_one_minus_the_ratio_of_mean_squared_errors():
    # two LMC clusters, log ages 8.2 (bin 8-8.5) and 9.2 (bin >=9); the reference predicts 8.7 for both
    log_age = [8.2, 9.2]
    rows = pd.concat([
        _cluster_rows("constant", log_age, [8.7, 8.7]),      # errors +0.5, -0.5: MSE 0.25
        _cluster_rows("model", log_age, [8.5, 8.8]),         # errors +0.3, -0.4: MSE (0.09 + 0.16) / 2 = 0.125
        _cluster_rows("worse", log_age, [9.2, 9.2]),         # errors +1.0,  0.0: MSE 0.5
    ])
    metrics = evaluation.score(rows, age_bin_edges=AGE_BIN_EDGES, reference_model="constant")
    skill = metrics[metrics["metric"] == "skill"].set_index(["model", "galaxy", "age_bin"])["value"]
    # all clusters: 1 - 0.125 / 0.25 = 0.5   (1 - RMSE ratio would be 1 - sqrt(0.5) = 0.293)
    assert skill["model", "all", "all"] == pytest.approx(0.5, abs=1e-12)
    assert skill["model", "LMC", "all"] == pytest.approx(0.5, abs=1e-12)
    # one cell, the >=9 bin: 1 - 0.16 / 0.25 = 0.36   (RMSE ratio: 1 - 0.4 / 0.5 = 0.2)
    assert skill["model", "all", ">=9"] == pytest.approx(0.36, abs=1e-12)
    # worse than the reference: 1 - 0.5 / 0.25 = -1   (RMSE ratio: 1 - sqrt(2) = -0.414)
    assert skill["worse", "all", "all"] == pytest.approx(-1.0, abs=1e-12)
    assert skill["constant", "all", "all"] == 0
