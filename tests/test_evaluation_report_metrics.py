"""The report's views of the metrics (model comparison, observed coverage) against hand-computed answers."""

import math

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age import evaluation

def _metrics() -> pd.DataFrame:
    """Long metrics of a baseline, a model and its control over two fold seeds, plus the bootstrap rows (seed NA).

    Segment rows and age-bin rows carry absurd values: the comparison must use neither.
    """
    rows = []
    for model, pipeline, rmse in (("galaxy_mean", "forest", (0.60, 0.80)), ("forest", "forest", (0.40, 0.60)),
                                  ("forest_shuffled_labels", "forest", (0.70, 0.90)), ("net", "net", (0.50, 0.50))):
        for galaxy, shift in (("all", 0.0), ("LMC", 0.1)):
            for seed, value in zip((0, 1), rmse):
                rows.append((pipeline, model, "cluster", galaxy, "all", seed, "rmse", value + shift))
                rows.append((pipeline, model, "cluster", galaxy, "all", seed, "cov68", 0.5 + 0.1 * seed))
                rows.append((pipeline, model, "segment", galaxy, "all", seed, "rmse", 99.0))
                rows.append((pipeline, model, "cluster", galaxy, "<7.5", seed, "rmse", 99.0))
    bootstrap = {("forest", "all"): (-0.2, -0.3, -0.05), ("forest", "LMC"): (-0.2, -0.4, 0.01), ("net", "all"): (-0.1, -0.25, -0.01)}
    for (model, galaxy), values in bootstrap.items():
        for metric, value in zip(("rmse_diff", "rmse_diff_lo95", "rmse_diff_hi95"), values):
            rows.append(("forest" if model == "forest" else "net", model, "cluster", galaxy, "all", pd.NA, metric, value))
    table = pd.DataFrame(rows, columns=["pipeline", "model", "level", "galaxy", "age_bin", "seed", "metric", "value"])
    table["seed"] = table["seed"].astype("Int64")
    return table


def test_model_comparison_by_hand():
    comparison = evaluation.model_comparison(_metrics())
    rows = comparison.set_index(["model", "galaxy"])

    # forest, all: seeds 0.40 and 0.60 -> mean 0.5, sample sd sqrt(2 * 0.1**2 / 1) = 0.1 * sqrt(2)
    assert rows.loc[("forest", "all"), "rmse"] == pytest.approx(0.5)
    assert rows.loc[("forest", "all"), "rmse_sd"] == pytest.approx(0.1 * math.sqrt(2))
    assert rows.loc[("forest", "LMC"), "rmse"] == pytest.approx(0.6)          # shifted by 0.1 in the LMC
    assert rows.loc[("net", "all"), "rmse_sd"] == pytest.approx(0.0)           # equal seeds: no spread
    assert rows.loc[("forest", "all"), "cov68"] == pytest.approx(0.55)         # (0.5 + 0.6) / 2

    # the bootstrap rows are taken as they are; the model beats the reference only when the CI's upper end is below 0
    assert tuple(rows.loc[("forest", "all"), ["rmse_diff", "rmse_diff_lo95", "rmse_diff_hi95"]]) == (-0.2, -0.3, -0.05)
    assert rows.loc[("forest", "all"), "beats_reference"]
    assert not rows.loc[("forest", "LMC"), "beats_reference"]                 # hi95 = +0.01
    assert math.isnan(rows.loc[("galaxy_mean", "all"), "rmse_diff"]) and not rows.loc[("galaxy_mean", "all"), "beats_reference"]

    assert rows.loc[("forest_shuffled_labels", "all"), "role"] == "control"
    assert rows.loc[("galaxy_mean", "all"), "role"] == "baseline" and rows.loc[("net", "all"), "role"] == "model"
    assert rows.loc[("net", "all"), "pipeline"] == "net" and rows.loc[("forest", "all"), "pipeline"] == "forest"

    # all first, then the galaxies; within one, baselines, models (by RMSE: net 0.50 = forest 0.50, then by name), controls
    assert comparison["galaxy"].tolist() == ["all"] * 4 + ["LMC"] * 4
    assert comparison.loc[comparison["galaxy"] == "all", "model"].tolist() == ["galaxy_mean", "forest", "net", "forest_shuffled_labels"]
    assert not comparison.duplicated(["model", "galaxy"]).any()


def test_model_comparison_without_bootstrap_rows_has_no_difference():
    metrics = _metrics()
    metrics = metrics[metrics["seed"].notna()]
    comparison = evaluation.model_comparison(metrics)
    assert comparison["rmse_diff"].isna().all() and comparison["rmse_diff_hi95"].isna().all()
    assert not comparison["beats_reference"].any()


def test_model_role():
    assert evaluation.model_role("galaxy_mean") == "baseline" and evaluation.model_role("constant") == "baseline"
    assert evaluation.model_role("galaxy_mean" + evaluation.SHUFFLED_SUFFIX) == "control"
    assert evaluation.model_role("random_forest") == "model"
    assert evaluation.model_role("random_forest", baselines=("random_forest",)) == "baseline"


def test_observed_coverage_by_hand():
    # |PIT - 0.5| = 0, 0.2, 0.4, 0.48 (and a NaN, dropped); an interval of probability p holds |PIT - 0.5| <= p / 2
    pit = np.array([0.5, 0.3, 0.9, 0.02, np.nan])
    observed = evaluation.observed_coverage(pit, [0.1, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(observed, [1 / 4, 2 / 4, 3 / 4, 4 / 4])
    # the interval is closed: |0.75 - 0.5| = 0.25 = 0.5 / 2 is inside
    assert evaluation.observed_coverage(np.array([0.75, 0.25]), [0.5])[0] == 1.0
    assert np.isnan(evaluation.observed_coverage(np.array([np.nan]), [0.5, 0.9])).all()


def test_observed_coverage_of_uniform_pit_equals_nominal():
    pit = np.random.default_rng(0).uniform(size=20000)
    levels = np.array([0.1, 0.5, 0.6827, 0.95])
    np.testing.assert_allclose(evaluation.observed_coverage(pit, levels), levels, atol=0.01)
    overconfident = np.clip(np.random.default_rng(1).normal(0.5, 0.45, 20000), 0, 1)   # too many PIT values in the tails
    assert evaluation.observed_coverage(overconfident, [0.68])[0] < 0.6
