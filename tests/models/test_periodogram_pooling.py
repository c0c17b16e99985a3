"""The periodogram branch's log-frequency pooling (issue 18) and the gaussian_nn ablation variants.

The classic vector (SPEC 3c) has 1,089 bins on a linear grid; a CNN on it did not finish one outer
fold in five minutes. A fixed matrix averages the (scaled) bins into groups evenly spaced in log
frequency before the branch reads them, in the PyTorch network and in the numpy predictor alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age.config import ParameterError
from tess_cluster_age.features.model_input import join_periodogram
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.models import build_model
from tess_cluster_age.models.config import ModelPipelineConfig, validate_gaussian_nn
from tess_cluster_age.models.predictors import log_frequency_pool
from tess_cluster_age.schema import periodogram_column, periodogram_frequency
from tests.synthetic import project_parameters

from .conftest import synthetic_model_input

CLASSIC_GRID = np.round(np.arange(0.11, 10.995, 0.01), 2)
"""The classic vector's grid (SPEC 3c): 1,089 bins from 0.11 to 10.99 1/d, step 0.01."""


def test_each_group_is_the_mean_of_the_bins_in_its_interval_of_log_frequency():
    """Worked by hand: f = 1..8 1/d in 3 groups; ln(f/1) / ln(8/1) * 3 = log2(f), so the groups are
    {1}, {2, 3} and {4 ... 8} (8 sits on the last edge and joins the last group)."""
    pool = log_frequency_pool(np.arange(1.0, 9.0), 3)
    expected = np.array([[1, 0, 0, 0, 0, 0, 0, 0],
                         [0, 1 / 2, 1 / 2, 0, 0, 0, 0, 0],
                         [0, 0, 0, 1 / 5, 1 / 5, 1 / 5, 1 / 5, 1 / 5]])
    assert np.allclose(pool, expected, rtol=0, atol=1e-15)
    power = np.array([[3.0, 4.0, 8.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    assert np.allclose(power @ pool.T, [[3.0, 6.0, 3.0]])


def test_intervals_without_a_bin_are_left_out():
    """1 and 1.1 1/d share the first of four intervals of ln f up to 100 1/d; the next two are empty."""
    pool = log_frequency_pool(np.array([1.0, 1.1, 100.0]), 4)
    assert np.allclose(pool, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])


def test_the_classic_grid_pools_into_64_log_spaced_groups():
    """On the SPEC 3c grid: 64 groups, each bin in exactly one, contiguous runs of bins, each group
    inside its interval [f0 r^g, f0 r^(g+1)] with r = (f_last / f0)^(1/64), widths growing with frequency."""
    pool = log_frequency_pool(CLASSIC_GRID, 64)
    assert pool.shape == (64, 1089)
    members = pool > 0
    assert np.array_equal(members.sum(axis=0), np.ones(1089))                  # each bin in one group
    assert np.allclose(pool.sum(axis=1), 1.0)                                   # a mean
    ratio = (CLASSIC_GRID[-1] / CLASSIC_GRID[0]) ** (1 / 64)
    widths = members.sum(axis=1)
    for g, row in enumerate(members):
        inside = np.flatnonzero(row)
        assert np.array_equal(inside, np.arange(inside[0], inside[-1] + 1))      # contiguous
        assert np.allclose(pool[g, inside], 1 / len(inside))
        f = CLASSIC_GRID[inside]
        assert f[0] >= CLASSIC_GRID[0] * ratio**g * (1 - 1e-12)
        assert f[-1] < CLASSIC_GRID[0] * ratio ** (g + 1) * (1 + 1e-12) or g == 63
    assert widths[0] == 1 and widths[-1] == 77 and np.all(np.diff(widths) >= -1)   # growing, to a bin of rounding
    assert widths[-1] / widths[-11] == pytest.approx(ratio**10, rel=0.1)          # geometrically, where bins are many


def test_pooling_refuses_a_grid_it_cannot_read_in_log_frequency():
    for bad in (np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]), np.array([1.0])):
        with pytest.raises(ValueError, match="positive, strictly increasing"):
            log_frequency_pool(bad, 4)
    with pytest.raises(ValueError, match="at least 1 group"):
        log_frequency_pool(CLASSIC_GRID, 0)


def test_joined_columns_are_named_by_their_frequency():
    data = synthetic_model_input(n_clusters=6, segments_per_cluster=2)
    vector = Periodograms(data["segment_id"].to_numpy()[::-1], CLASSIC_GRID, np.arange(len(data))[::-1, None] * np.ones(1089), "test")
    table = join_periodogram(data, {"classic": vector}, "classic")
    bins = [c for c in table.columns if c.startswith("periodogram_")]
    assert bins[:3] == ["periodogram_0.11", "periodogram_0.12", "periodogram_0.13"] and bins[-1] == "periodogram_10.99"
    assert np.allclose([periodogram_frequency(c) for c in bins], CLASSIC_GRID)
    assert np.array_equal(table[bins[0]].to_numpy(), np.arange(len(data)))   # rows joined by segment_id, not by position
    assert periodogram_frequency(periodogram_column(0.10188771006)) == pytest.approx(0.10188771006, rel=1e-5)
    with pytest.raises(ValueError, match="not a periodogram column"):
        periodogram_frequency("periodogram_x")


def section(**changes) -> dict:
    return {**project_parameters()["gaussian_nn"], **changes}


def test_the_ablation_variants_run_only_behind_the_switch():
    default = validate_gaussian_nn(section())
    variants = ["gaussian_nn_classic_linear", "gaussian_nn_classic_cnn", "gaussian_nn_invariant_linear", "gaussian_nn_invariant_cnn"]
    assert list(default.models) == ["gaussian_nn", "nn_mse", "gaussian_nn_no_galaxy"]
    switched = validate_gaussian_nn(section(ablation=True))
    assert list(switched.models) == [*default.models, *variants]
    assert switched.ablation_reference == "gaussian_nn"
    for name in variants:
        spec = switched.models[name]
        vector, branch = name.split("_")[2:]
        assert (spec.periodogram, spec.options["periodogram_branch"], spec.save) == (vector, branch, False)
        assert spec.options["pool_bins"] == 32                                 # one setting for every variant
        # otherwise gaussian_nn itself
        def shared(options):
            return {k: v for k, v in options.items() if k not in ("periodogram_branch", "pool_bins")}
        assert shared(spec.options) == shared(switched.models["gaussian_nn"].options)


def test_an_ablation_variant_needs_a_name_of_its_own_and_a_reference_that_runs():
    gaussian = section()["models"]["gaussian_nn"]
    with pytest.raises(ParameterError, match="also a name in gaussian_nn.models"):
        validate_gaussian_nn(section(ablation_models={"nn_mse": gaussian}))
    with pytest.raises(ParameterError, match="ablation_reference = 'forest'"):
        validate_gaussian_nn(section(ablation_reference="forest"))
    with pytest.raises(ParameterError, match="ablation_models.gaussian_nn_classic_cnn.options.pool_bin"):
        variants = section()["ablation_models"]
        broken = {**variants["gaussian_nn_classic_cnn"], "options": {**variants["gaussian_nn_classic_cnn"]["options"], "pool_bin": 3}}
        validate_gaussian_nn(section(ablation_models={**variants, "gaussian_nn_classic_cnn": broken}))


@pytest.mark.parametrize("variant", ["gaussian_nn_classic_cnn", "gaussian_nn_classic_linear"])
def test_a_classic_variant_fits_on_the_pooled_vector_and_finds_the_age_in_it(variant):
    """The project's variant entry (fewer epochs), on clusters whose age is only in the power at
    0.5-2 1/d of a classic-grid vector: it learns it, and its members read 32 pooled groups."""
    data = synthetic_model_input(n_clusters=60, segments_per_cluster=3, seed=5)
    rng = np.random.default_rng(1)
    power = rng.normal(size=(len(data), len(CLASSIC_GRID)))
    band = (CLASSIC_GRID >= 0.5) & (CLASSIC_GRID < 2.0)
    power[:, band] += (data[["signal"]].to_numpy() - 8.3) * 2
    table = join_periodogram(data, {"classic": Periodograms(data["segment_id"].to_numpy(), CLASSIC_GRID, power, "test")}, "classic")
    config = ModelPipelineConfig.from_params(section(ablation=True))
    spec = config.models[variant]
    spec = type(spec)(**{**vars(spec), "options": {**spec.options, "features": ["noise"], "max_epochs": 60, "patience": 10}})
    model = build_model(spec, seed=3)
    model.fit(table, table["log_age"].to_numpy(), table["weight"].to_numpy(), table["name"].to_numpy())
    mu, sigma = model.predict(table, return_std=True)
    members = [m for router in model.predictor().models.values() for m in router.members]
    assert all(m.bin_pool is not None and np.array_equal(m.bin_pool, log_frequency_pool(CLASSIC_GRID, 32)) for m in members)
    assert np.all(np.isfinite(mu)) and np.all(sigma >= 0.05)
    rmse, blind_rmse = (np.sqrt(np.mean((m.predict(t) - t["log_age"]) ** 2)) for m, t in
                        ((model, table), (model, table.assign(**{c: 0.0 for c in table.columns if c.startswith("periodogram_")}))))
    assert rmse < 0.6 * table["log_age"].std()         # the age is only in the vector ...
    assert blind_rmse > 0.8 * table["log_age"].std()   # ... and without it the model knows nothing
