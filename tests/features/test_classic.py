"""Tests of the classic feature set on synthetic light curves with known answers."""

import dataclasses
import math

import numpy as np
import pytest
import scipy.fft
from astropy.timeseries import LombScargle

from tess_cluster_age.features.classic import (
    CLASSIC_FEATURES,
    REASON_CODES,
    ClassicConfig,
    ClassicResult,
    autocorrelation,
    classic_features,
    classic_periodogram_frequencies,
    longest_contiguous_chunk,
)
from tess_cluster_age.lightcurves import SECONDS_PER_DAY

CONFIG = ClassicConfig()
REFERENCE_ORDER = (
    "rms std MAD sigmaG skewness von_neumann_ratio J_Stetson max_power freq_at_max_power n_peaks "
    "ratio_of_power_at_high_v_low_freq FAP max_autocorrelation time_of_max_autocorrelation "
    "SumLSP_10_7_Day_Power SumLSP_7_4_Day_Power SumLSP_4_1_Day_Power SumLSP_1_p5_Day_Power Entropy"
).split()


def sector(cadence_s=1800.0, *, period_d=None, amplitude=0.0, level=10000.0, noise=3.0, seed=0, gap=True):
    """27-d sector at BTJD 2000 (optionally with a 1-d mid-sector gap), flux in e/s."""
    rng = np.random.default_rng(seed)
    t = np.arange(2000.0, 2027.0, cadence_s / SECONDS_PER_DAY)
    if gap:
        t = t[(t < 2013.0) | (t > 2014.0)]
    err = np.full(t.size, noise)
    flux = level + rng.standard_normal(t.size) * noise
    if period_d is not None:
        flux = flux + amplitude * level * np.sin(2 * np.pi * (t - 2000.0) / period_d)
    return t, flux, err


def run(t, f, e, seed=0, config=CONFIG) -> ClassicResult:
    return classic_features(t, f, e, rng=np.random.default_rng(seed), config=config)


# --- API ---------------------------------------------------------------------------------------


def test_feature_names_are_the_reference_columns_in_order():
    assert CLASSIC_FEATURES == tuple(REFERENCE_ORDER)


def test_result_has_every_feature_as_float_and_a_float32_vector():
    res = run(*sector())
    assert set(res.features) == set(CLASSIC_FEATURES)
    assert all(type(v) is float for v in res.features.values())
    assert all(np.isfinite(v) for v in res.features.values()), res.features
    assert res.reason == ""
    assert res.periodogram.dtype == np.float32 and res.periodogram.shape == (1089,)
    assert np.all(np.isfinite(res.periodogram))


def test_periodogram_grid_is_periods_below_ten_days():
    grid = classic_periodogram_frequencies(CONFIG)
    assert grid.size == 1089
    assert grid[0] == pytest.approx(0.11) and grid[-1] == pytest.approx(10.99)
    assert np.all(1 / grid < 10)


def test_config_from_params_rejects_unknown_keys_and_accepts_lists():
    cfg = ClassicConfig.from_params({"n_bootstrap": 50, "percentiles": [50, 15.89]})
    assert cfg.n_bootstrap == 50 and cfg.percentiles == (50.0, 15.89)
    with pytest.raises(ValueError, match="unknown classic feature parameter.*bogus.*n_boot"):
        ClassicConfig.from_params({"bogus": 1, "n_boot": 3})
    with pytest.raises(ValueError, match="must include 15.89"):
        ClassicConfig(percentiles=(50, 84.1))
    with pytest.raises(ValueError, match="min_points must be >= 3"):
        ClassicConfig(min_points=2)


def test_shape_mismatch_is_a_caller_error():
    t, f, e = sector()
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        run(t, f[:-1], e)


def test_deterministic_given_the_rng():
    t, f, e = sector(period_d=3.0, amplitude=1e-3)
    a, b, c = run(t, f, e, seed=1), run(t, f, e, seed=1), run(t, f, e, seed=2)
    assert a.features == b.features and np.array_equal(a.periodogram, b.periodogram)
    assert not np.array_equal(a.periodogram, c.periodogram)
    for name in ("std", "MAD", "sigmaG", "skewness", "J_Stetson", "rms", "Entropy"):
        assert a.features[name] == c.features[name]  # the noise only enters the periodogram


# --- deterministic statistics with hand-computed answers ----------------------------------------


def test_flux_statistics_of_a_known_array():
    t = np.array([0.0, 0.01, 0.02, 0.03, 0.04])
    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0]) * 100.0
    e = np.full(5, 1.0)
    res = run(t, f, e, config=ClassicConfig(min_points=3))
    nf = np.array([1, 2, 3, 4, 5]) / 3
    feats = res.features
    assert feats["std"] == pytest.approx(math.sqrt(2 / 9), rel=1e-14)
    assert feats["MAD"] == pytest.approx(1 / 3, rel=1e-14)  # no 1.4826 factor
    assert feats["sigmaG"] == pytest.approx(0.74130110925280102 * (4 / 3 - 2 / 3), rel=1e-14)
    assert feats["skewness"] == pytest.approx(0.0, abs=1e-9)  # symmetric raw flux
    # 1 / (sum diff^2 / var) = 1 / ((4 / 9) / (2 / 9))
    assert feats["von_neumann_ratio"] == pytest.approx(0.5, rel=1e-14)
    assert feats["Entropy"] == pytest.approx(float(np.sum(-nf * np.log(nf))), rel=1e-14)


def test_skewness_is_the_third_central_moment_of_raw_flux():
    t = np.arange(6) * 0.01
    f = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 40.0])  # mean 15, deviations -5 x5 and +25
    res = run(t, f, np.ones(6), config=ClassicConfig(min_points=3))
    assert res.features["skewness"] == pytest.approx((5 * (-5) ** 3 + 25**3) / 6, rel=1e-14)


def test_j_stetson_hand_computed():
    t = np.array([0.0, 0.01, 0.05, 0.06])  # steps 0.01 (pair), 0.04 (not), 0.01 (pair), last: 1 (not)
    f = np.array([100.0, 110.0, 90.0, 105.0])
    e = np.array([1.0, 2.0, 1.5, 1.0])
    res = run(t, f, e, config=ClassicConfig(min_points=3))
    n = 4
    mag = [2.5 * math.log10(15000 / x) + 10 for x in f]
    mag_err = [2.5 * de / (x * math.log(10)) for x, de in zip(f, e)]
    mean = sum(mag) / n
    delta = [math.sqrt(n / (n - 1)) * (m - mean) / s for m, s in zip(mag, mag_err)]
    pairs = [True, False, True, False]
    num = den = 0.0
    for d, paired in zip(delta, pairs):
        p, w = (d * d, 1.0) if paired else (d * d - 1, 0.25)
        num += w * math.copysign(math.sqrt(abs(p)), p)
        den += w
    assert res.features["J_Stetson"] == pytest.approx(num / den, rel=1e-12)


def test_autocorrelation_matches_the_direct_sum():
    x = np.random.default_rng(4).standard_normal(257).cumsum()
    centred = x - x.mean()
    direct = np.correlate(centred, centred, mode="full")[x.size - 1 :] / x.size
    np.testing.assert_allclose(autocorrelation(x), direct / direct[0], rtol=1e-12, atol=1e-14)


def test_fft_length_is_the_next_5_smooth_number():
    """statsmodels pads the ACF's FFT to the next 5-smooth length: scipy's next_fast_len for real input."""

    def smooth(m):
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for target in range(7, 3000):
        expected = next(m for m in range(target, 2 * target + 1) if smooth(m))
        assert scipy.fft.next_fast_len(target, real=True) == expected, target


def test_longest_chunk_is_the_first_longest_run():
    t = np.array([0, 0.1, 0.2, 1.0, 1.1, 1.2, 2.0, 2.1])  # runs of 3, 3, 2
    assert longest_contiguous_chunk(t, 0.25) == slice(0, 3)


def test_acf_of_a_sinusoid_peaks_at_its_period():
    t = np.arange(0.0, 20.0, 1800 / SECONDS_PER_DAY)  # contiguous: the ACF chunk is everything
    f = 1000.0 + 10.0 * np.sin(2 * np.pi * t / 3.0)
    res = run(t, f, np.ones(t.size))
    assert res.reason == ""
    assert res.features["time_of_max_autocorrelation"] == pytest.approx(3.0, abs=0.1)
    assert res.features["max_autocorrelation"] == pytest.approx(1 - 3.0 / 20.0, abs=0.03)  # (n - k) / n taper
    acf = autocorrelation(f)
    assert res.features["rms"] == pytest.approx(math.sqrt(np.mean(acf**2)), rel=1e-12)


# --- periodogram features -----------------------------------------------------------------------


@pytest.mark.parametrize("cadence_s", [1800.0, 600.0, 200.0])
def test_sinusoid_period_is_recovered(cadence_s):
    t, f, e = sector(cadence_s, period_d=2.5, amplitude=2e-3, seed=3)
    res = run(t, f, e)
    assert res.features["freq_at_max_power"] == pytest.approx(0.4, abs=0.0101)
    assert res.features["max_power"] > 0.5
    assert res.features["n_peaks"] >= 1
    assert res.features["FAP"] < 1e-30
    assert res.features["SumLSP_4_1_Day_Power"] > res.features["SumLSP_7_4_Day_Power"]
    assert np.argmax(res.periodogram) == np.argmin(np.abs(classic_periodogram_frequencies(CONFIG) - 0.4))


def test_white_noise_has_flat_spectrum_and_insignificant_peak():
    t, f, e = sector(1800.0, seed=8)
    res = run(t, f, e)
    assert res.features["ratio_of_power_at_high_v_low_freq"] == pytest.approx(1.0, abs=0.15)
    assert res.features["FAP"] > 1e-3
    assert res.features["max_power"] < 0.05


def test_band_sums_follow_the_signal_period():
    t, f, e = sector(1800.0, period_d=5.5, amplitude=2e-3, seed=2)
    feats = run(t, f, e).features
    bands = ["SumLSP_10_7_Day_Power", "SumLSP_7_4_Day_Power", "SumLSP_4_1_Day_Power", "SumLSP_1_p5_Day_Power"]
    assert max(bands, key=feats.get) == "SumLSP_7_4_Day_Power"
    # ratio is low-frequency power over high-frequency power, despite the name
    assert feats["ratio_of_power_at_high_v_low_freq"] > 10


def test_fap_is_astropys_baluev_on_the_unperturbed_curve():
    t, f, e = sector(600.0, period_d=1.3, amplitude=2e-4, seed=9)
    feats = run(t, f, e).features
    expected = LombScargle(t, f, e).false_alarm_probability(feats["max_power"], method="baluev")
    assert feats["FAP"] == pytest.approx(float(expected), rel=1e-12)


# --- reasons ------------------------------------------------------------------------------------


def test_too_few_points():
    t, f, e = sector()
    res = run(t[:50], f[:50], e[:50])
    assert res.reason == "min_points"
    assert all(np.isnan(v) for v in res.features.values())
    assert res.periodogram.shape == (1089,) and res.periodogram.dtype == np.float32
    assert np.all(np.isnan(res.periodogram))


@pytest.mark.parametrize("spoil", ["nan_flux", "zero_err", "negative_flux", "inf_time"])
def test_invalid_input(spoil):
    t, f, e = sector()
    t, f, e = t.copy(), f.copy(), e.copy()
    {"nan_flux": f, "zero_err": e, "negative_flux": f, "inf_time": t}[spoil][10] = {
        "nan_flux": np.nan,
        "zero_err": 0.0,
        "negative_flux": -1.0,
        "inf_time": np.inf,
    }[spoil]
    res = run(t, f, e)
    assert res.reason == "invalid_input"
    assert all(np.isnan(v) for v in res.features.values())
    assert np.all(np.isnan(res.periodogram))


def test_constant_flux():
    t, _, e = sector()
    with np.errstate(all="raise"):  # handled cases must not leak numpy warnings
        res = run(t, np.full(t.size, 5000.0), e)
    assert res.reason == "constant_flux"
    feats = res.features
    for name in ("von_neumann_ratio", "rms", "max_autocorrelation", "time_of_max_autocorrelation"):
        assert np.isnan(feats[name]), name
    assert feats["std"] == 0.0 and feats["MAD"] == 0.0 and feats["sigmaG"] == 0.0 and feats["skewness"] == 0.0
    assert feats["Entropy"] == 0.0
    assert np.isfinite(feats["max_power"]) and np.isfinite(feats["FAP"]) and np.isfinite(feats["J_Stetson"])
    assert np.all(np.isfinite(res.periodogram))


def test_no_contiguous_chunk_for_the_acf():
    t = 2000.0 + np.arange(150) * 0.3  # every gap 0.3 d > 0.25 d: runs of one point
    f = 1000.0 + np.random.default_rng(0).standard_normal(150)
    res = run(t, f, np.ones(150))
    assert res.reason == "no_acf_chunk"
    for name in ("rms", "max_autocorrelation", "time_of_max_autocorrelation"):
        assert np.isnan(res.features[name]), name
    others = [n for n in CLASSIC_FEATURES if n not in ("rms", "max_autocorrelation", "time_of_max_autocorrelation")]
    assert all(np.isfinite(res.features[n]) for n in others)


def test_acf_without_a_local_minimum():
    # isolated points plus one 3-point run holding a ramp: its ACF is [1, 0, -0.5], no interior minimum
    t = 2000.0 + np.arange(150) * 0.3
    t[100:] += 0.5
    t[101], t[102] = t[100] + 0.01, t[100] + 0.02
    f = 1000.0 + np.random.default_rng(1).standard_normal(150)
    f[100:103] = [990.0, 1000.0, 1010.0]
    res = run(t, f, np.ones(150))
    assert res.reason == "no_acf_minimum"
    assert res.features["rms"] == pytest.approx(math.sqrt((1 + 0 + 0.25) / 3), rel=1e-12)
    assert np.isnan(res.features["max_autocorrelation"]) and np.isnan(res.features["time_of_max_autocorrelation"])


def test_reason_codes_are_documented():
    assert set(REASON_CODES) >= {"min_points", "constant_flux", "no_acf_chunk", "no_acf_minimum"}


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.n_bootstrap = 10
