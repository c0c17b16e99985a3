"""The numpy formulas that replaced scipy.signal, scipy.stats and astropy.timeseries in the features.

Dating one cluster must start fast, so the feature modules no longer import those packages at run
time (about 1.3 s of imports in a fresh process). Each replacement is checked here against the
function it replaced, on purpose-built arrays with the awkward cases (plateaus, edges, ties,
constant and very short arrays, tiny and huge powers, uneven and multi-sector sampling), and the
features of whole segments are checked bit for bit against the features computed with the scipy
and astropy functions put back. The last test guards the import diet in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import scipy.stats
from astropy.timeseries import LombScargle

import tess_cluster_age
from tess_cluster_age.features import classic, invariant
from tess_cluster_age.features.classic import (
    ClassicConfig,
    autocorrelation,
    baluev_false_alarm_probability,
    bootstrap_periodogram_percentiles,
    central_moment,
    classic_features,
    classic_frequency_grid,
    count_peaks,
    local_maxima,
    strict_local_minima,
)
from tess_cluster_age.features.invariant import (
    InvariantConfig,
    invariant_features,
    sample_excess_kurtosis,
    sample_skewness,
)
from tess_cluster_age.lightcurves import SECONDS_PER_DAY

REL = 1e-12
"""Largest relative difference allowed where bit-identity is not asserted (the FAP)."""

# ------------------------------------------------------------------------------ purpose-built arrays
SEQUENCES: dict[str, list[float]] = {
    "empty": [],
    "one_sample": [1.0],
    "two_samples": [2.0, 1.0],
    "three_minimum": [2.0, 1.0, 2.0],
    "three_maximum": [1.0, 2.0, 1.0],
    "constant": [3.0] * 7,
    "increasing": list(range(10)),
    "decreasing": list(range(10, 0, -1)),
    "flat_bottom": [3.0, 1.0, 1.0, 3.0],
    "plateau_odd": [1.0, 3.0, 3.0, 3.0, 1.0],
    "plateau_even": [0.0, 2.0, 2.0, 2.0, 2.0, 0.0],
    "max_at_left_edge": [5.0, 1.0, 2.0, 1.0],
    "max_at_right_edge": [1.0, 2.0, 1.0, 5.0],
    "min_at_both_edges": [0.0, 3.0, 1.0, 3.0, 0.0],
    "plateau_into_right_edge": [1.0, 3.0, 3.0, 3.0],
    "plateau_from_left_edge": [3.0, 3.0, 1.0, 2.0, 1.0],
    "shoulder_then_peak": [1.0, 2.0, 2.0, 3.0, 1.0],
    "shoulder_then_dip": [3.0, 2.0, 2.0, 1.0, 3.0],
    "staircase_ties": [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0],
    "signed_zeros": [1.0, 0.0, -0.0, 1.0, -0.0, 0.0, 1.0],
    "one_maximum_only": list(np.sin(np.linspace(0.0, np.pi, 51))),
    "one_minimum_only": list(-np.sin(np.linspace(0.0, np.pi, 50))),
    "alternating": [0.0, 1.0] * 6,
}


def _seeded_integer_arrays(n_arrays: int = 3000, seed: int = 7) -> list[np.ndarray]:
    """Short arrays of 0..3 (length 0..24): every pattern of ties and plateaus occurs many times."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 4, size=rng.integers(0, 25)).astype(np.float64) for _ in range(n_arrays)]


def _acf_of_noisy_sinusoid() -> np.ndarray:
    """The ACF of a seeded noisy 2.3-d sinusoid sampled every 30 min (the array the ACF features see)."""
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 12.0, 1800.0 / SECONDS_PER_DAY)
    return autocorrelation(np.sin(2.0 * np.pi * t / 2.3) + 0.3 * rng.standard_normal(t.size))


def _bootstrap_row() -> np.ndarray:
    """A 15.89th-percentile bootstrap power row of a seeded sector (the array ``n_peaks`` counts in)."""
    t, f, e = sector(1800.0, period_d=3.1, amplitude=5e-4, seed=4)
    return bootstrap_periodogram_percentiles(t, f, e, classic_frequency_grid(), n_bootstrap=20,
                                             percentiles=(15.89,), rng=np.random.default_rng(0))[0]


def sector(cadence_s=1800.0, *, period_d=None, amplitude=0.0, level=1.0e4, noise=3.0, seed=0, start=2000.0):
    """A 27-d sector at BTJD ``start`` with a 1-d gap; flux and flux_err in e/s; seeded noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(start, start + 27.0, cadence_s / SECONDS_PER_DAY)
    t = t[(t < start + 13.0) | (t > start + 14.0)]
    err = noise * (1.0 + 0.2 * rng.random(t.size))
    flux = level + rng.standard_normal(t.size) * err
    if period_d is not None:
        flux = flux + amplitude * level * np.sin(2.0 * np.pi * (t - start) / period_d)
    return t, flux, err


def _all_arrays() -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in SEQUENCES.items()}
    arrays["acf_noisy_sinusoid"] = _acf_of_noisy_sinusoid()
    arrays["bootstrap_row"] = _bootstrap_row()
    return arrays


ARRAYS = _all_arrays()


# ------------------------------------------------------------------------- extrema (scipy.signal)
@pytest.mark.parametrize("name", [n for n in ARRAYS if n != "empty"])
def test_strict_local_minima_are_argrelextrema_less(name):
    x = ARRAYS[name]
    np.testing.assert_array_equal(strict_local_minima(x), scipy.signal.argrelextrema(x, np.less)[0])


def test_strict_local_minima_of_known_arrays():
    assert strict_local_minima(ARRAYS["three_minimum"]).tolist() == [1]
    assert strict_local_minima(ARRAYS["flat_bottom"]).tolist() == []  # not strict
    assert strict_local_minima(ARRAYS["min_at_both_edges"]).tolist() == [2]  # the ends never count
    assert strict_local_minima(ARRAYS["empty"]).tolist() == []


def test_strict_local_minima_on_every_short_pattern_of_ties():
    for x in _seeded_integer_arrays():
        if x.size:
            np.testing.assert_array_equal(strict_local_minima(x), scipy.signal.argrelextrema(x, np.less)[0], str(x))


@pytest.mark.parametrize("name", list(ARRAYS))
def test_local_maxima_are_find_peaks(name):
    x = ARRAYS[name]
    np.testing.assert_array_equal(local_maxima(x), scipy.signal.find_peaks(x)[0])


def test_local_maxima_of_known_arrays():
    assert local_maxima(ARRAYS["plateau_odd"]).tolist() == [2]  # middle of the plateau
    assert local_maxima(ARRAYS["plateau_even"]).tolist() == [2]  # middle rounded down
    assert local_maxima(ARRAYS["max_at_left_edge"]).tolist() == [2]  # the edge is never a peak
    assert local_maxima(ARRAYS["plateau_into_right_edge"]).tolist() == []
    assert local_maxima(ARRAYS["shoulder_then_peak"]).tolist() == [3]
    assert local_maxima(ARRAYS["one_maximum_only"]).tolist() == [25]


def test_local_maxima_on_every_short_pattern_of_ties():
    for x in _seeded_integer_arrays():
        np.testing.assert_array_equal(local_maxima(x), scipy.signal.find_peaks(x)[0], str(x))


@pytest.mark.parametrize("name", ["staircase_ties", "plateau_even", "alternating", "bootstrap_row", "acf_noisy_sinusoid"])
def test_peaks_above_a_height_are_find_peaks_with_height(name):
    """The classic ``n_peaks`` rule: maxima whose value is >= the height (a tie at the height counts)."""
    x = ARRAYS[name]
    heights = np.concatenate((np.unique(x), [x.mean() + 2.0 * x.std(), -np.inf, np.inf]))  # ties at every value
    for height in heights:
        assert count_peaks(x, height) == len(scipy.signal.find_peaks(x, height=height)[0]), f"height {height}"


def test_count_peaks_on_every_short_pattern_of_ties():
    for x in _seeded_integer_arrays(1000):
        for height in (0.0, 1.0, 2.0, 3.0):  # every height ties with some samples
            assert count_peaks(x, height) == len(scipy.signal.find_peaks(x, height=height)[0]), (str(x), height)


def test_count_peaks_known_values():
    x = np.array([0.0, 2.0, 0.0, 3.0, 3.0, 0.0, 1.0, 0.0])
    assert count_peaks(x, 2.0) == 2  # the maximum at exactly 2 counts
    assert count_peaks(x, 2.5) == 1
    assert count_peaks(x, 0.5) == 3


# -------------------------------------------------------------------------- moments (scipy.stats)
def _moment_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "flux_e_per_s": 1.0e4 + 3.0 * rng.standard_normal(1077),
        "binned_normalised_flux": 1.0 + 1e-3 * rng.standard_normal(1300),
        "skewed_exponential": rng.exponential(2.0, 501),
        "heavy_tailed": rng.standard_t(3, 999),
        "integers_with_ties": rng.integers(0, 5, 40).astype(np.float64),
        "huge_offset_tiny_spread": 1.0e8 + 1e-6 * rng.standard_normal(64),
        "nearly_constant": np.array([1.0, 1.0 + 2.0**-52, 1.0, 1.0, 1.0]),
        "constant": np.full(25, 7.5),
        "n1": np.array([2.0]),
        "n2": np.array([2.0, 5.0]),
        "n3": np.array([2.0, 5.0, 3.0]),
        "n4": np.array([2.0, 5.0, 3.0, 11.0]),
        "n5": np.array([-1.0, 5.0, 3.0, 11.0, 0.5]),
    }


MOMENT_ARRAYS = _moment_arrays()


def _scipy(function, *args, **kwargs) -> float:
    with warnings.catch_warnings():  # scipy warns on near-constant data; the value is what counts
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(function(*args, **kwargs))


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("name", list(MOMENT_ARRAYS))
def test_central_moment_is_scipy_moment_bit_for_bit(name, order):
    x = MOMENT_ARRAYS[name]
    np.testing.assert_array_equal(central_moment(x, order), _scipy(scipy.stats.moment, x, order))


def test_central_moment_known_values_and_bad_order():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert central_moment(x, 2) == 2.0 and central_moment(x, 3) == 0.0 and central_moment(x, 4) == 6.8
    with pytest.raises(ValueError, match="order must be 2, 3 or 4"):
        central_moment(x, 5)


@pytest.mark.parametrize("name", list(MOMENT_ARRAYS))
def test_sample_skewness_is_scipy_skew_unbiased_bit_for_bit(name):
    y = MOMENT_ARRAYS[name]
    np.testing.assert_array_equal(sample_skewness(y), _scipy(scipy.stats.skew, y, bias=False))


@pytest.mark.parametrize("name", list(MOMENT_ARRAYS))
def test_sample_excess_kurtosis_is_scipy_kurtosis_unbiased_bit_for_bit(name):
    y = MOMENT_ARRAYS[name]
    np.testing.assert_array_equal(sample_excess_kurtosis(y), _scipy(scipy.stats.kurtosis, y, fisher=True, bias=False))


def test_unbiased_shape_statistics_known_values():
    """G1 and G2 of 1..5 and of a symmetric two-point set, by hand (Joanes & Gill 1998)."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert sample_skewness(x) == 0.0
    # n = 5, m2 = 2, m4 = 6.8: G2 = [(25 - 1) 6.8 / 4 - 3 * 16] / (3 * 2) = -1.2
    assert sample_excess_kurtosis(x) == pytest.approx(-1.2, abs=1e-15)
    assert np.isnan(sample_skewness(np.full(9, 4.0))) and np.isnan(sample_excess_kurtosis(np.full(9, 4.0)))


# ------------------------------------------------------------------ false-alarm probability (astropy)
def _stitched_sectors():
    """Three sectors years apart, in HDU order (the latest first), flux normalised, uneven errors."""
    parts = [sector(600.0, seed=5, start=2900.0), sector(1800.0, seed=6, start=1400.0), sector(200.0, seed=8, start=2150.0)]
    t = np.concatenate([p[0] for p in parts])
    e = np.concatenate([p[2] / np.median(p[1]) for p in parts])
    return t, e


def _fap_samplings() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(21)
    t30, _, e30 = sector(1800.0, seed=1)
    t200, _, e200 = sector(200.0, seed=2)
    uneven = np.sort(2000.0 + 27.0 * rng.random(700))
    small = np.sort(1500.0 + 5.0 * rng.random(10))
    return {
        "sector_1800s_btjd2000": (t30, e30),
        "sector_200s_btjd2000": (t200, e200),
        "equal_errors": (t30, np.full(t30.size, 3.0)),
        "uneven_sampling": (uneven, 1.0 + rng.random(uneven.size)),
        "ten_points": (small, 0.5 + rng.random(small.size)),
        "stitched_three_sectors_with_gaps": _stitched_sectors(),
    }


FAP_SAMPLINGS = _fap_samplings()
POWERS = [0.0, 1e-300, 1e-12, 1e-6, 1e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 0.999, 1.0 - 1e-12, 1.0]
"""From no peak (FAP 1) to a perfect fit (FAP 0), through the steep middle where the FAP underflows."""


def _astropy_fap(power, t, dy):
    with np.errstate(all="ignore"):
        return LombScargle(t, np.ones_like(t), dy).false_alarm_probability(power)


@pytest.mark.parametrize("name", list(FAP_SAMPLINGS))
def test_fap_is_astropys_baluev_for_every_power(name):
    t, dy = FAP_SAMPLINGS[name]
    for power in POWERS:
        with np.errstate(all="ignore"):
            ours = baluev_false_alarm_probability(power, t, dy)
        np.testing.assert_allclose(ours, _astropy_fap(power, t, dy), rtol=REL, atol=0, err_msg=f"power {power}")
    with np.errstate(all="ignore"):
        ours = baluev_false_alarm_probability(np.array(POWERS), t, dy)
    np.testing.assert_allclose(ours, _astropy_fap(np.array(POWERS), t, dy), rtol=REL, atol=0)


def test_fap_limits_and_decrease_with_power():
    """FAP(0) = 1 and FAP(1) = 0; it falls with the power above ~0.01 (below, the approximation's
    rounding wobbles by ~1e-9 around 1, in astropy's value too)."""
    t, dy = FAP_SAMPLINGS["sector_1800s_btjd2000"]
    with np.errstate(all="ignore"):
        fap = baluev_false_alarm_probability(np.array(POWERS), t, dy)
    assert fap[0] == 1.0 and fap[-1] == 0.0
    assert np.all(np.diff(fap[np.array(POWERS) >= 0.01]) <= 0)


def test_fap_does_not_depend_on_the_flux_but_on_the_errors():
    t, dy = FAP_SAMPLINGS["uneven_sampling"]
    base = baluev_false_alarm_probability(0.03, t, dy)
    assert baluev_false_alarm_probability(0.03, t, 2.0 * dy) == pytest.approx(base, rel=1e-12)  # only relative weights
    assert baluev_false_alarm_probability(0.03, t, dy[::-1]) != base


# --------------------------------------------------------- whole segments: the features did not move
def _scipy_minima(x):
    return scipy.signal.argrelextrema(x, np.less)[0]


def _scipy_count_peaks(x, height):
    return len(scipy.signal.find_peaks(x, height=height)[0])


def _astropy_fap_of_power(power, t, dy):
    return LombScargle(t, np.ones_like(t), dy).false_alarm_probability(power)


SEGMENTS = {
    "sector_signal_1800s": sector(1800.0, period_d=2.7, amplitude=4e-4, seed=12),
    "sector_noise_200s": sector(200.0, seed=13),
    "sector_long_period_600s": sector(600.0, period_d=9.0, amplitude=1e-3, seed=14),
}


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_classic_features_equal_those_from_scipy_and_astropy(name, monkeypatch):
    t, f, e = SEGMENTS[name]
    ours = classic_features(t, f, e, rng=np.random.default_rng(99), config=ClassicConfig())
    monkeypatch.setattr(classic, "strict_local_minima", _scipy_minima)
    monkeypatch.setattr(classic, "count_peaks", _scipy_count_peaks)
    monkeypatch.setattr(classic, "central_moment", lambda x, k: scipy.stats.moment(x, k))
    monkeypatch.setattr(classic, "baluev_false_alarm_probability", _astropy_fap_of_power)
    reference = classic_features(t, f, e, rng=np.random.default_rng(99), config=ClassicConfig())
    assert ours.reason == reference.reason == ""
    assert ours.features == reference.features  # bit for bit: every float equal
    np.testing.assert_array_equal(ours.periodogram, reference.periodogram)


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_n_peaks_is_find_peaks_with_the_height_rule(name):
    """``n_peaks`` = ``len(find_peaks(p15.89, height=mean(p50) + 2 std(p50)))`` of the same bootstrap."""
    t, f, e = SEGMENTS[name]
    config = ClassicConfig()
    ours = classic_features(t, f, e, rng=np.random.default_rng(5), config=config).features["n_peaks"]
    pct = bootstrap_periodogram_percentiles(t, f, e, classic_frequency_grid(), n_bootstrap=config.n_bootstrap,
                                            percentiles=config.percentiles, rng=np.random.default_rng(5))
    med, one_below = pct[config.percentiles.index(50.0)], pct[config.percentiles.index(15.89)]
    expected = len(scipy.signal.find_peaks(one_below, height=np.mean(med) + 2 * np.std(med))[0])
    assert ours == expected


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_invariant_features_equal_those_from_scipy(name, monkeypatch):
    t, f, e = SEGMENTS[name]
    ours = invariant_features(t, f, e, config=InvariantConfig())
    monkeypatch.setattr(invariant, "sample_skewness", lambda y: float(scipy.stats.skew(y, bias=False)))
    monkeypatch.setattr(invariant, "sample_excess_kurtosis",
                        lambda y: float(scipy.stats.kurtosis(y, fisher=True, bias=False)))
    reference = invariant_features(t, f, e, config=InvariantConfig())
    assert np.isfinite(ours.features["inv_skew"]) and np.isfinite(ours.features["inv_kurt"])
    assert ours.features == reference.features
    assert ours.reason == reference.reason


# ------------------------------------------------------------------------------------- import diet
IMPORT_PROBE = textwrap.dedent(
    """
    import importlib.abc, json, sys, traceback
    WATCHED = ("scipy.signal", "scipy.stats", "astropy.timeseries")
    importer = {}

    class Watch(importlib.abc.MetaPathFinder):
        # records the file whose import statement first loaded a watched module
        def find_spec(self, fullname, path, target=None):
            if fullname in WATCHED and fullname not in importer:
                frames = [f.filename for f in traceback.extract_stack()[:-1] if not f.filename.startswith("<frozen")]
                importer[fullname] = frames[-1]
            return None

    sys.meta_path.insert(0, Watch())
    import numpy as np
    import tess_cluster_age
    from tess_cluster_age.features.classic import ClassicConfig, classic_features
    from tess_cluster_age.features.invariant import InvariantConfig, invariant_features

    rng = np.random.default_rng(1)
    t = np.arange(2000.0, 2027.0, 1800.0 / 86400.0)
    err = np.full(t.size, 3.0)
    flux = 1.0e4 * (1.0 + 5e-4 * np.sin(2.0 * np.pi * t / 2.7)) + 3.0 * rng.standard_normal(t.size)
    classic = classic_features(t, flux, err, rng=np.random.default_rng(2), config=ClassicConfig())
    after_classic = [m for m in WATCHED if m in sys.modules]
    inv = invariant_features(t, flux, err, config=InvariantConfig())
    after_invariant = [m for m in WATCHED if m in sys.modules]
    print(json.dumps({
        "package": tess_cluster_age.__file__,
        "classic_reason": classic.reason, "classic_fap": classic.features["FAP"],
        "invariant_reason": inv.reason, "invariant_skew": inv.features["inv_skew"],
        "after_classic": after_classic, "after_invariant": after_invariant, "importer": importer,
    }))
    """
)


def test_features_run_without_scipy_signal_scipy_stats_or_astropy_timeseries():
    """A fresh interpreter computes classic and invariant features of a synthetic sector.

    scipy.signal, scipy.stats and astropy.timeseries must never load (nifty-ls' registration in
    astropy's Lomb-Scargle methods is skipped by ``lombscargle.import_nifty_ls``).
    """
    package = Path(tess_cluster_age.__file__).resolve()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package.parents[1]), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).resolve() == package  # the code under test, not another checkout
    assert report["classic_reason"] == "" and 0.0 <= report["classic_fap"] <= 1.0
    assert report["invariant_reason"] == "" and np.isfinite(report["invariant_skew"])
    assert report["after_classic"] == [], report["importer"]
    assert report["after_invariant"] == [], report["importer"]


def test_nifty_ls_imported_without_astropy_gives_the_same_periodogram_and_astropy_still_imports():
    """The import that skips nifty-ls' astropy registration changes no number, and leaves astropy's
    Lomb-Scargle importable afterwards."""
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        from tess_cluster_age.features.lombscargle import lomb_scargle_power
        t = np.arange(2000.0, 2010.0, 600.0 / 86400.0)
        y = np.sin(2 * np.pi * t / 1.3)[None, :] + 0.1 * np.cos(7 * t)[None, :]
        dy = np.full(t.size, 0.2)
        frequency = np.arange(1, 400) * 0.05
        import logging
        power = lomb_scargle_power(t, y, frequency, dy=dy, method="nifty-ls")
        skipped = "astropy.timeseries" not in sys.modules
        assert not logging.root.handlers, logging.root.handlers   # the user's logging is left as it was
        from astropy.timeseries import LombScargle
        reference = LombScargle(t, y[0], dy).power(frequency, method="cython")
        print(json.dumps({"skipped": skipped, "max_diff": float(np.max(np.abs(power[0] - reference)))}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["skipped"] and report["max_diff"] < 1e-7


def test_bootstrap_batches_give_the_bits_of_one_batch(monkeypatch):
    """A long light curve's noisy copies in batches (bounded memory) give the same percentiles,
    bit for bit, as all copies at once, under one BLAS thread as every task runs."""
    from threadpoolctl import threadpool_limits

    from tess_cluster_age.features import classic

    rng = np.random.default_rng(3)
    t = np.sort(np.concatenate([np.arange(2000.0, 2025.0, 600 / 86400), np.arange(2400.0, 2425.0, 200 / 86400)]))
    flux = 1e4 * (1 + 1e-3 * np.sin(2 * np.pi * t / 3.1)) + 5 * rng.standard_normal(t.size)
    err = np.full(t.size, 5.0)
    frequency = classic.classic_frequency_grid(0.04, 11.0, 0.01)
    with threadpool_limits(1):
        monkeypatch.setattr(classic, "BOOTSTRAP_BATCH_SAMPLES", 10**9)
        whole = classic.bootstrap_periodogram_percentiles(t, flux, err, frequency, rng=np.random.default_rng(7))
        monkeypatch.setattr(classic, "BOOTSTRAP_BATCH_SAMPLES", 20 * t.size)
        assert classic.bootstrap_batch(100, t.size) == 20
        batched = classic.bootstrap_periodogram_percentiles(t, flux, err, frequency, rng=np.random.default_rng(7))
    assert np.array_equal(whole, batched)
