"""Tests of the Lomb-Scargle front and its backends, and of the classic bootstrap, against astropy's exact implementations."""

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from tess_cluster_age.features import lombscargle as ls
from tess_cluster_age.features.classic import (
    bootstrap_periodogram_percentiles,
    classic_frequency_grid,
    percentiles_of_sorted,
)
from tess_cluster_age.features.lombscargle import BACKENDS, lomb_scargle_power
from tess_cluster_age.lightcurves import SECONDS_PER_DAY

FREQ = classic_frequency_grid()
POWER_TOL = 1e-9  # SPEC 7: exact to <= 1e-9 in power (absolute and relative)
TOLERANCE = {"nufft": (POWER_TOL, POWER_TOL), "matrix": (POWER_TOL, POWER_TOL), "nifty-ls": (1e-8, None)}
"""(absolute error over the peak power, relative error at every frequency or None) of each backend at
its default tolerance: nifty-ls' 1e-9 NUFFT tolerance leaves errors ~2e-10 of the peak power, so its
relative error where the power is tiny is not bounded."""


def synthetic_sector(cadence_s: float, *, offset: float, seed: int = 0):
    """A TESS-like sector: 27 d starting at BTJD 2000 with a 1-d mid-sector gap, a 3.7-d sinusoid,
    a 0.31-d sinusoid and white noise. ``offset`` is the mean flux level."""
    rng = np.random.default_rng(seed)
    step = cadence_s / SECONDS_PER_DAY
    t = np.arange(2000.0, 2027.0, step)
    t = t[(t < 2013.0) | (t > 2014.0)]
    err = 2.0 + rng.uniform(0.0, 1.0, t.size)
    signal = 5.0 * np.sin(2 * np.pi * t / 3.7) + 1.5 * np.cos(2 * np.pi * t / 0.31)
    flux = offset + signal + rng.standard_normal(t.size) * err
    return t, flux, err


def astropy_power(t, y, dy, freq, method, normalization="standard"):
    """astropy's exact power. The times are shifted to start at 0: the power is shift-invariant, and
    at BTJD ~2000 astropy's own phases 2 pi f t (~1e5 rad) carry ~1e-11 rad rounding, which
    alone makes relative differences of ~1e-9 where the power is ~1e-4."""
    t = np.asarray(t) - t[0]
    return LombScargle(t, y, dy, fit_mean=True, center_data=True, normalization=normalization).power(
        freq, method=method
    )


def assert_power_close(ours, ref, method="nufft", scale=1.0):
    """Within :data:`TOLERANCE`; absolute errors in units of ``scale`` (1 for the standard power)."""
    abs_tol, rel_tol = TOLERANCE[method]
    abs_err = np.max(np.abs(ours - ref)) / scale
    rel_err = np.max(np.abs(ours - ref) / np.abs(ref))
    assert abs_err <= abs_tol and (rel_tol is None or rel_err <= rel_tol), f"abs {abs_err:.2e}, rel {rel_err:.2e}"


def test_classic_grid_is_the_original_arange():
    assert FREQ.size == 1096
    assert FREQ[0] == 0.04
    assert np.array_equal(FREQ, np.arange(0.04, 11, 0.01))


@pytest.mark.parametrize("cadence_s", [1800.0, 600.0, 200.0])
@pytest.mark.parametrize("offset", [0.0, 15000.0], ids=["no-offset", "offset"])
@pytest.mark.parametrize(
    "normalization, with_dy", [("standard", True), ("psd", True), ("psd", False)], ids=["standard", "psd-dy", "psd"]
)
@pytest.mark.parametrize("method", sorted(BACKENDS))
def test_every_backend_matches_astropy_exact(cadence_s, offset, normalization, with_dy, method):
    t, flux, err = synthetic_sector(cadence_s, offset=offset)
    rng = np.random.default_rng(42)
    copies = flux + rng.standard_normal((3, flux.size)) * err  # odd count: exercises the pairing
    dy = err if with_dy else None
    ours = lomb_scargle_power(t, copies, FREQ, dy=dy, normalization=normalization, method=method)
    assert ours.shape == (3, FREQ.size) and ours.dtype == np.float64
    ref_method = "cython" if cadence_s == 200.0 else "slow"
    for row, y in zip(ours, copies):
        ref = astropy_power(t, y, dy, FREQ, ref_method, normalization)
        assert_power_close(row, ref, method, scale=1.0 if normalization == "standard" else np.max(ref))
    one = lomb_scargle_power(t, copies[1], FREQ, dy=dy, normalization=normalization, method=method)
    assert one.shape == FREQ.shape
    np.testing.assert_allclose(one, ours[1], rtol=0, atol=1e-8 * np.max(ours[1]))


@pytest.mark.parametrize(
    "freq",
    [
        np.arange(0.045, 11.0, 0.01),  # regular but not on integer multiples of df: shifted NUFFT
        np.arange(0.04, 11.0, 0.001),  # the stitched table's fine grid
        np.sort(np.random.default_rng(3).uniform(0.05, 11.0, 300)),  # irregular: matrix method
    ],
    ids=["shifted-grid", "fine-grid", "irregular"],
)
def test_other_grids_match_astropy(freq):
    t, flux, err = synthetic_sector(1800.0, offset=1000.0, seed=5)
    copies = flux + np.random.default_rng(1).standard_normal((2, flux.size)) * err
    ours = lomb_scargle_power(t, copies, freq, dy=err)
    for row, y in zip(ours, copies):
        assert_power_close(row, astropy_power(t, y, err, freq, "cython"))


def test_single_curve_and_peak_frequency():
    t, flux, err = synthetic_sector(600.0, offset=100.0)
    power = lomb_scargle_power(t, flux, FREQ, dy=err)
    assert power.shape == FREQ.shape
    assert_power_close(power, astropy_power(t, flux, err, FREQ, "cython"))
    assert abs(FREQ[np.argmax(power)] - 1 / 3.7) < 0.01


def test_nufft_blocks_and_matrix_chunks_give_the_same_answer(monkeypatch):
    t, flux, err = synthetic_sector(600.0, offset=500.0)
    copies = flux + np.random.default_rng(7).standard_normal((4, flux.size)) * err
    whole = lomb_scargle_power(t, copies, FREQ, dy=err, method="matrix", chunk_size=t.size)
    for chunk in (1, 97, 512):
        chunked = lomb_scargle_power(t, copies, FREQ, dy=err, method="matrix", chunk_size=chunk)
        np.testing.assert_allclose(chunked, whole, rtol=1e-11, atol=1e-14)
    nufft_one_block = lomb_scargle_power(t, copies, FREQ, dy=err, method="nufft")
    monkeypatch.setattr(ls, "_NUFFT_BLOCK_POINTS", 1000)
    nufft_blocks = lomb_scargle_power(t, copies, FREQ, dy=err, method="nufft")
    np.testing.assert_allclose(nufft_blocks, nufft_one_block, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(nufft_blocks, whole, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("n_copies", [100, 7, 1])
def test_percentiles_match_numpy_exactly(n_copies):
    values = np.random.default_rng(n_copies).gamma(2.0, size=(n_copies, 50))
    qs = (50, 2.27, 15.89, 84.1, 97.725, 0, 100, 25, 75)
    ours = percentiles_of_sorted(np.sort(values, axis=0), qs)
    np.testing.assert_array_equal(ours, np.percentile(values, qs, axis=0))


def test_percentiles_reject_out_of_range():
    with pytest.raises(ValueError, match="percentiles must lie in"):
        percentiles_of_sorted(np.zeros((3, 2)), [101])


def test_bootstrap_is_the_percentiles_of_the_noisy_copies():
    t, flux, err = synthetic_sector(1800.0, offset=3000.0)
    percentiles = (50, 2.27, 15.89, 84.1, 97.725)
    ours = bootstrap_periodogram_percentiles(
        t, flux, err, FREQ, n_bootstrap=100, percentiles=percentiles, rng=np.random.default_rng(11)
    )
    assert ours.shape == (5, FREQ.size) and ours.dtype == np.float64
    noise = np.random.default_rng(11).standard_normal((100, flux.size))
    copies = flux + noise * err
    power = lomb_scargle_power(t, copies, FREQ, dy=err)
    np.testing.assert_array_equal(ours, np.percentile(power, percentiles, axis=0))
    # the copies' powers are astropy's (spot-check three copies)
    for b in (0, 50, 99):
        assert_power_close(power[b], astropy_power(t, copies[b], err, FREQ, "cython"))
    assert np.all(ours[1] <= ours[2]) and np.all(ours[2] <= ours[0]) and np.all(ours[0] <= ours[3])


def test_same_seed_same_output_and_new_seed_new_output():
    t, flux, err = synthetic_sector(1800.0, offset=3000.0)
    kwargs = dict(n_bootstrap=20)
    a = bootstrap_periodogram_percentiles(t, flux, err, FREQ, rng=np.random.default_rng(5), **kwargs)
    b = bootstrap_periodogram_percentiles(t, flux, err, FREQ, rng=np.random.default_rng(5), **kwargs)
    c = bootstrap_periodogram_percentiles(t, flux, err, FREQ, rng=np.random.default_rng(6), **kwargs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_arguments_raise_clear_errors():
    t, flux, err = synthetic_sector(1800.0, offset=10.0)
    with pytest.raises(ValueError, match="regular frequency grid"):
        lomb_scargle_power(t, flux, np.array([0.1, 0.2, 0.5]), dy=err, method="nufft")
    with pytest.raises(ValueError, match="method='nifty-ls' needs a regular frequency grid"):
        lomb_scargle_power(t, flux, np.array([0.1, 0.2, 0.5]), method="nifty-ls")
    with pytest.raises(ValueError, match="shapes do not match"):
        lomb_scargle_power(t, flux[:-1], FREQ, dy=err)
    with pytest.raises(ValueError, match="unknown method 'fast'; use one of auto, nufft, matrix, nifty-ls"):
        lomb_scargle_power(t, flux, FREQ, dy=err, method="fast")
    with pytest.raises(ValueError, match="unknown normalization 'model'"):
        lomb_scargle_power(t, flux, FREQ, normalization="model")
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_periodogram_percentiles(t, flux, err, FREQ, n_bootstrap=0, rng=np.random.default_rng(0))


def test_classic_grid_takes_the_nufft_path(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the matrix method was used on the classic grid")

    monkeypatch.setattr(ls, "_matrix_sums", fail)
    t, flux, err = synthetic_sector(1800.0, offset=10.0)
    bootstrap_periodogram_percentiles(t, flux, err, FREQ, n_bootstrap=4, rng=np.random.default_rng(0))


def test_threads_give_the_same_answer_as_sequential_calls():
    from concurrent.futures import ThreadPoolExecutor

    curves = [synthetic_sector(cadence, offset=100.0, seed=seed) for seed, cadence in enumerate([1800.0, 600.0] * 3)]

    def work(i):
        t, flux, err = curves[i]
        return bootstrap_periodogram_percentiles(t, flux, err, FREQ, n_bootstrap=10, rng=np.random.default_rng(i))

    sequential = [work(i) for i in range(len(curves))]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(work, range(len(curves))))
    for a, b in zip(sequential, threaded):
        np.testing.assert_array_equal(a, b)
