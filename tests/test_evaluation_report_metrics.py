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


def _cluster_rows() -> pd.DataFrame:
    """Cluster-level out-of-fold rows of one model over two fold seeds, with known z = |y - mu| / sigma."""
    rows = [  # seed, name, galaxy, log_age, mu, sigma -> z
        (0, "a", "LMC", 7.6, 7.5, 0.2),    # 0.5: inside 68 and 95; predicted <8
        (0, "b", "LMC", 8.05, 7.9, 0.1),   # 1.5: inside 95 only; predicted <8
        (0, "c", "LMC", 9.0, 8.5, 0.1),    # 5.0: outside both; predicted >=8
        (0, "d", "SMC", 9.0, 9.0, 0.1),    # 0.0: inside both; predicted >=8
        (1, "a", "LMC", 7.6, 8.1, 0.2),    # 2.5: outside both; predicted >=8 in this seed
        (1, "b", "LMC", 8.05, 7.9, 0.3),   # 0.5: inside both; predicted <8
        (1, "c", "LMC", 9.0, 8.6, 0.5),    # 0.8: inside both; predicted >=8
        (1, "d", "SMC", 9.0, 9.0, 0.1),    # 0.0
    ]
    return pd.DataFrame(rows, columns=["seed", "name", "galaxy", "log_age", "mu", "sigma"]).assign(model="m", level="cluster")


def test_coverage_by_predicted_age_by_hand():
    table = evaluation.coverage_by_predicted_age(_cluster_rows(), bin_edges=(8.0,))
    assert list(table.columns) == ["model", "galaxy", "predicted_bin", "n", "cov68", "cov95"]
    cells = {(r.galaxy, r.predicted_bin): (r.n, r.cov68, r.cov95) for r in table.itertuples()}
    assert cells.keys() == {("all", "<8"), ("all", ">=8"), ("LMC", "<8"), ("LMC", ">=8"), ("SMC", ">=8")}   # no empty cell
    # LMC <8: a0 (in, in), b0 (out, in), b1 (in, in): 3 predictions over 2 seeds
    assert cells[("LMC", "<8")] == pytest.approx((1.5, 2 / 3, 1.0))
    # LMC >=8: c0 (out, out), a1 (out, out), c1 (in, in)
    assert cells[("LMC", ">=8")] == pytest.approx((1.5, 1 / 3, 1 / 3))
    assert cells[("SMC", ">=8")] == pytest.approx((1.0, 1.0, 1.0))
    assert cells[("all", ">=8")] == pytest.approx((2.5, 3 / 5, 3 / 5))
    assert list(table["predicted_bin"][table["galaxy"] == "LMC"]) == ["<8", ">=8"]       # bins in age order


def test_coverage_by_true_age_bins_the_same_predictions_by_their_label():
    table = evaluation.coverage_by_age_bin(_cluster_rows(), (8.0,), "log_age")
    cells = {(r.galaxy, r.age_bin): (r.n, r.cov68, r.cov95) for r in table.itertuples()}
    assert cells[("LMC", "<8")] == pytest.approx((1.0, 0.5, 0.5))               # a0 (in, in), a1 (out, out)
    assert cells[("LMC", ">=8")] == pytest.approx((2.0, 0.5, 0.75))             # b0 (out, in), c0 (out, out), b1, c1 (in, in)
    with pytest.raises(ValueError, match="'mu' .* or 'log_age'"):
        evaluation.coverage_by_age_bin(_cluster_rows(), (8.0,), "sigma")
