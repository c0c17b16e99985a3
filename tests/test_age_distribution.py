"""The age distribution of a cluster: a mixture of its segments' Gaussians, with known answers."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from tess_cluster_age import evaluation
from tess_cluster_age.age_distribution import AgeDistribution


def test_one_gaussian_has_its_own_moments_and_quantiles():
    d = AgeDistribution(np.array([8.0]), np.array([0.3]), name="NGC 1", model="m")
    assert d.mean == 8.0 and d.std == pytest.approx(0.3, abs=1e-12)
    assert d.median == pytest.approx(8.0, abs=1e-5)
    lo, hi = d.interval(0.68)
    assert (lo, hi) == pytest.approx((8 + 0.3 * stats.norm.ppf(0.16), 8 + 0.3 * stats.norm.ppf(0.84)), abs=1e-5)
    assert d.cdf(8.0)[0] == pytest.approx(0.5)
    assert d.pdf(8.0)[0] == pytest.approx(stats.norm.pdf(0, scale=0.3))


def test_two_far_segments_give_a_bimodal_mixture():
    d = AgeDistribution(np.array([7.0, 9.0]), np.array([0.1, 0.1]))
    assert d.mean == 8.0
    assert d.std == pytest.approx(np.sqrt(0.01 + 1.0))          # mean within-segment variance + spread of the means
    assert d.cdf([7.0, 8.0, 9.0]) == pytest.approx([0.25, 0.5, 0.75], abs=1e-9)
    assert d.quantile(0.25) == pytest.approx(7.0, abs=1e-5)     # half of the first component's mass
    assert d.pdf(8.0)[0] < 1e-20 < d.pdf(7.0)[0]
    x, density = d.grid(5.0, 11.0, 0.001)
    assert np.trapezoid(density, x) == pytest.approx(1.0, abs=1e-6)


def test_plot_draws_the_density_with_its_intervals():
    d = AgeDistribution(np.array([8.0, 8.4]), np.array([0.2, 0.25]), name="NGC 2", model="random_forest")
    fig, ax = plt.subplots()
    assert d.plot(ax) is ax
    x, y = ax.lines[0].get_data()
    assert np.allclose(y, d.pdf(x)) and ax.get_xlabel() == "log10(age / yr)" and ax.get_title() == "NGC 2"
    assert len(ax.collections) == 2   # the 95 % and 68 % bands
    plt.close(fig)


@pytest.mark.parametrize(("mu", "sigma", "message"), [
    ([], [], "at least one"), ([8.0], [0.0], "sigma > 0"), ([np.nan], [0.2], "finite"), ([8.0, 8.1], [0.2], "one sigma per mu"),
])
def test_a_bad_distribution_is_refused(mu, sigma, message):
    with pytest.raises(ValueError, match=message):
        AgeDistribution(np.array(mu), np.array(sigma))


def test_the_refusal_names_the_cluster_the_model_and_the_bad_component():
    with pytest.raises(ValueError, match=r"NGC 1818 \(nn_mse\): .* 1 of 2 components are not \(first: mu 8.1, sigma -0.2\)"):
        AgeDistribution(np.array([8.0, 8.1]), np.array([0.2, -0.2]), name="NGC 1818", model="nn_mse")


def test_probabilities_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        AgeDistribution(np.array([8.0]), np.array([0.2])).quantile(1.0)


def test_a_calibrated_interval_uses_its_own_sigmas_and_every_other_level_the_distributions():
    mu, sigma = np.array([8.0, 8.4]), np.array([0.3, 0.2])
    distribution = AgeDistribution(mu, sigma, interval_sigma={0.68: 0.5 * sigma, 0.95: 2.0 * sigma})
    assert distribution.interval(0.68) == pytest.approx(tuple(evaluation.mixture_quantiles(mu, 0.5 * sigma, [0.16, 0.84])), abs=1e-6)
    assert distribution.interval(0.6827) == pytest.approx(distribution.interval(0.68), abs=2e-3)   # the same sigmas
    assert distribution.interval(0.95) == pytest.approx(tuple(evaluation.mixture_quantiles(mu, 2.0 * sigma, [0.025, 0.975])), abs=1e-6)
    assert distribution.interval(0.5) == AgeDistribution(mu, sigma).interval(0.5)
    assert distribution.std == AgeDistribution(mu, sigma).std and distribution.median == AgeDistribution(mu, sigma).median
    with pytest.raises(ValueError, match="95% interval"):
        AgeDistribution(mu, sigma, interval_sigma={0.95: np.array([0.1])})
