"""The evaluation protocol against hand-computed answers (SPEC 4)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from tess_cluster_age import evaluation


def test_gaussian_nll_by_hand():
    # y = 1, mu = 0, sigma = 1: 0.5 log(2 pi) + 1/2
    assert evaluation.gaussian_nll(np.array([1.0]), np.array([0.0]), np.array([1.0]))[0] == pytest.approx(0.5 * math.log(2 * math.pi) + 0.5)
    # sigma = 2, y = mu: 0.5 log(8 pi)
    assert evaluation.gaussian_nll(np.array([3.0]), np.array([3.0]), np.array([2.0]))[0] == pytest.approx(0.5 * math.log(8 * math.pi))


@pytest.mark.parametrize("y, mu, sigma", [(0.0, 0.0, 1.0), (1.3, 0.2, 0.5), (-2.0, 1.0, 2.0)])
def test_gaussian_crps_equals_the_integral_of_the_squared_cdf_difference(y, mu, sigma):
    closed = evaluation.gaussian_crps(np.array([y]), np.array([mu]), np.array([sigma]))[0]
    cdf = stats.norm(mu, sigma).cdf
    numeric = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y)[0] + integrate.quad(lambda x: (1 - cdf(x)) ** 2, y, np.inf)[0]
    assert closed == pytest.approx(numeric, rel=1e-6)
    if y == mu:  # at z = 0: sigma (2 phi(0) - 1/sqrt(pi)) = sigma (sqrt(2) - 1) / sqrt(pi)
        assert closed == pytest.approx(sigma * (math.sqrt(2) - 1) / math.sqrt(math.pi))


def test_coverage_counts_errors_inside_one_and_1_96_sigma():
    y = np.zeros(5)
    mu = np.array([0.5, 0.99, 1.01, 1.9, 2.5])
    metrics = evaluation.point_metrics(y, mu, np.ones(5))
    assert metrics["cov68"] == pytest.approx(2 / 5)
    assert metrics["cov95"] == pytest.approx(4 / 5)
    assert metrics["catastrophic"] == pytest.approx(3 / 5)  # |error| > 1 dex


def test_mixture_of_two_segments_by_hand():
    # mu = (0, 2), sigma = (1, 1): mu_c = 1, sigma_c^2 = mean(1 + 0, 1 + 4) - 1 = 2
    out = evaluation.mixture_moments(np.array([0.0, 2.0, 5.0]), np.array([1.0, 1.0, 0.3]), np.array(["a", "a", "b"]))
    assert out.loc["a", "mu"] == pytest.approx(1.0)
    assert out.loc["a", "sigma"] == pytest.approx(math.sqrt(2.0))
    assert out.loc["b", "sigma"] == pytest.approx(0.3)
    assert list(out["n"]) == [2, 1]


def test_mixture_quantiles_of_one_gaussian_and_of_a_symmetric_pair():
    lo, hi = evaluation.mixture_quantiles(np.array([8.0]), np.array([0.5]), [0.15865525, 0.84134475])
    assert (lo, hi) == (pytest.approx(7.5, abs=1e-5), pytest.approx(8.5, abs=1e-5))
    median = evaluation.mixture_quantiles(np.array([7.0, 9.0]), np.array([0.2, 0.2]), [0.5])[0]
    assert median == pytest.approx(8.0, abs=1e-5)


def test_young_old_precision_recall_and_balanced_accuracy_by_hand():
    y = np.array([7.0, 7.5, 7.9, 8.5, 9.0])          # 3 young, 2 old (threshold 8.0)
    mu = np.array([7.2, 8.3, 7.7, 8.6, 7.8])         # young predicted: rows 0, 2, 4
    m = evaluation.point_metrics(y, mu, np.ones(5), young_old_log_age=8.0)
    assert m["young_precision"] == pytest.approx(2 / 3) and m["young_recall"] == pytest.approx(2 / 3)
    assert m["old_precision"] == pytest.approx(1 / 2) and m["old_recall"] == pytest.approx(1 / 2)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def _oof(model, mu, sigma, y, galaxy, seed=0):
    n = len(y)
    return pd.DataFrame({"model": model, "level": "cluster", "seed": seed, "name": [f"c{i}" for i in range(n)], "galaxy": galaxy,
                         "log_age": y, "mu": mu, "sigma": sigma})


def test_score_of_a_perfect_and_a_constant_model():
    rng = np.random.default_rng(1)
    y = rng.uniform(6.5, 10, 60)
    galaxy = np.array(["MW", "LMC", "SMC"] * 20)
    rows = pd.concat([
        _oof("perfect", y, np.full(60, 0.05), y, galaxy),
        _oof("constant", np.full(60, y.mean()), np.full(60, y.std()), y, galaxy),
    ])
    metrics = evaluation.score(rows).set_index(["model", "galaxy", "age_bin", "metric"])["value"]
    assert metrics["perfect", "all", "all", "rmse"] == 0
    assert metrics["perfect", "all", "all", "skill"] == 1
    assert metrics["perfect", "MW", "all", "cov68"] == 1
    assert metrics["perfect", "all", "all", "balanced_accuracy"] == 1
    assert metrics["constant", "all", "all", "skill"] == 0
    assert metrics["constant", "all", "all", "rmse"] == pytest.approx(y.std())
    assert metrics["constant", "all", "all", "bias"] == pytest.approx(0, abs=1e-12)
    assert metrics["constant", "all", "all", "nll"] == pytest.approx(0.5 * math.log(2 * math.pi * y.var()) + 0.5)
    # age bins partition the clusters
    counts = [metrics["perfect", "all", b, "n"] for b in evaluation.age_bin_labels([7.5, 8.0, 8.5, 9.0]) if ("perfect", "all", b, "n") in metrics]
    assert sum(counts) == 60


def test_age_bin_labels_and_edges():
    assert evaluation.age_bin_labels([7.5, 8.0, 8.5, 9.0]) == ["<7.5", "7.5-8", "8-8.5", "8.5-9", ">=9"]
    assert list(evaluation.age_bins(np.array([7.4, 7.5, 8.99, 9.0]), [7.5, 8.0, 8.5, 9.0])) == ["<7.5", "7.5-8", "8.5-9", ">=9"]


def test_cluster_rows_are_the_mixture_of_segment_rows():
    segments = pd.DataFrame({"model": "m", "level": "segment", "seed": 0, "fold": 0, "segment_id": ["a|1", "a|2", "b|1"],
                             "name": ["a", "a", "b"], "galaxy": "LMC", "kind": "sector", "log_age": [8.0, 8.0, 7.0],
                             "mu": [7.0, 9.0, 7.5], "sigma": [1.0, 1.0, 0.5]})
    out = evaluation.with_cluster_rows(segments)
    clusters = out[out["level"] == "cluster"].set_index("name")
    assert clusters.loc["a", "mu"] == 8.0 and clusters.loc["a", "sigma"] == pytest.approx(math.sqrt(2.0))
    assert clusters.loc["a", "pit"] == pytest.approx(0.5)
    assert clusters.loc["b", "n_segments"] == 1


def test_bootstrap_difference_is_zero_for_the_reference_itself_and_negative_for_a_better_model():
    rng = np.random.default_rng(2)
    y = rng.uniform(7, 9.5, 90)
    galaxy = np.array(["MW", "LMC", "SMC"] * 30)
    reference = y + rng.normal(0, 0.6, 90)
    rows = pd.concat([_oof("galaxy_mean", reference, np.ones(90), y, galaxy), _oof("same", reference, np.ones(90), y, galaxy),
                      _oof("better", y + rng.normal(0, 0.1, 90), np.ones(90), y, galaxy)])
    out = evaluation.bootstrap_rmse_difference(rows, n_boot=500, seed=0).set_index(["model", "galaxy", "metric"])["value"]
    assert out["same", "all", "rmse_diff"] == 0 and out["same", "all", "rmse_diff_lo95"] == 0 and out["same", "all", "rmse_diff_hi95"] == 0
    assert out["better", "all", "rmse_diff_hi95"] < 0
    assert out["better", "MW", "rmse_diff_lo95"] < out["better", "MW", "rmse_diff"] < out["better", "MW", "rmse_diff_hi95"]
    # seeded: the same call gives the same interval
    again = evaluation.bootstrap_rmse_difference(rows, n_boot=500, seed=0).set_index(["model", "galaxy", "metric"])["value"]
    assert again.equals(out)


def test_shuffled_labels_permute_whole_clusters():
    names = pd.Series(["a", "a", "b", "c", "c", "c"])
    ages = pd.Series([7.0, 7.0, 8.0, 9.0, 9.0, 9.0])
    shuffled = evaluation.shuffled_labels(ages, names, seed=3)
    assert sorted(shuffled.groupby(names).first()) == [7.0, 8.0, 9.0]
    assert shuffled.groupby(names).nunique().max() == 1
