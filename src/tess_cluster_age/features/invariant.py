"""Invariant light-curve features and the ``invariant`` periodogram (SPEC 3b, 3c, 3d).

The features here are built to be independent of a cluster's brightness, of the TESS cadence
(1800 s, 600 s, 200 s) and, as far as the estimator allows, of the segment length:

1. The flux is normalised by its median, ``y = flux / median(flux)``, ``sigma = flux_err /
   median(flux)`` (dimensionless, fractional flux).
2. Samples are sorted by time and binned to a common cadence (``bin_minutes``, 30 min) by
   :func:`bin_light_curve`; every statistic below is computed on the bins.
3. Moments, noise-corrected amplitude, von Neumann ratio, Stetson J, the autocorrelation time and a
   Lomb-Scargle amplitude spectrum on a fine linear frequency grid are computed from the bins.

Brightness is kept, openly, as one feature: ``log_flux = log10(median flux / (e/s))``.

Amplitude spectrum
------------------
``P(f)`` is the floating-mean Lomb-Scargle periodogram (Lomb 1976; Scargle 1982; Zechmeister &
Kürster 2009) of the binned ``y`` *without* uncertainties, in astropy's ``normalization='psd'``
convention (VanderPlas 2018, ApJS 236, 16, eq. 31 with unit weights), so that a sinusoid of
semi-amplitude ``a`` gives ``P ≈ n a² / 4`` and white noise of variance ``s²`` gives ``E[P] = s²``.
The amplitude spectrum is ``A(f) = sqrt(4 P(f) / n)`` (``n`` = number of bins): ``A ≈ a`` at a
sinusoid's frequency, and ``E[A²] = 4 s² / n`` for white noise, hence the noise-corrected
``A_c² = max(A² − 4 mean(σ²) / n, 0)``.

It is evaluated on the fine grid ``f_k = 1/T + k / (oversample T)`` up to ``max_frequency_per_day``
(``T`` = time span of the bins, d) by :func:`~tess_cluster_age.features.lombscargle.lomb_scargle_power`
with its ``nifty-ls`` backend. Whole-segment cost, one thread: ~3 ms for a real 200-s sector
(10,800 samples); ~45 ms for a 50,000-sample, 1,000-day stitched curve (31,000 bins, 60,000
frequencies).

Reason codes (``InvariantResult.reason``, ``;``-joined, in order of occurrence)
---------------------------------------------------------------------------------
``min_points``
    fewer than ``min_points`` usable raw samples, or fewer than ``min_bins`` bins: every feature is
    NaN except ``log_flux`` (when the median flux is positive) and the descriptors; periodogram all NaN.
``constant_flux``
    the binned series has zero variance (peak-to-peak ≤ 1e-12 in normalised flux): the shape
    features and the periodogram are NaN; ``inv_std``, ``inv_sigmaG`` and ``inv_excess_rms`` are 0.
``acf_tau_not_reached``
    the ACF never drops below 1/e within half the span: ``inv_acf_tau`` is NaN.

Codes beyond SPEC 3d's list, for cases it does not name (each one never silent):

``invalid_samples_dropped``
    samples with non-finite time/flux/flux_err or negative flux_err were dropped before anything
    else (validated ELK data have none).
``nonpositive_median_flux``
    the median flux is ≤ 0, so neither ``log_flux`` nor ``y`` exists: everything NaN.
``zero_flux_err``
    ``mean(σ²) = 0``: no noise level, so ``inv_log_snr``, ``inv_excess_rms``, ``inv_peak_amp`` and
    ``inv_band_amp_*`` are NaN; or some bin has σ = 0: ``inv_stetson_j`` is NaN.
``no_consecutive_bins``
    no pair of bins is within ``eta_max_gap_bins``: ``inv_eta`` and ``inv_stetson_j`` are NaN.
``spectrum_too_short``
    fewer than 3 fine-grid frequencies (span shorter than ``(1 + 2 / oversample) /
    max_frequency_per_day``, 2.8 h by default): spectral features and the periodogram are NaN.
``band_not_covered``
    a period band holds no fine-grid frequency (span too short): that ``inv_band_amp_*`` is NaN.
``psd_slope_too_few_bins``
    fewer than 3 non-empty log bins between ``slope_f_min`` and ``slope_f_max``: ``inv_psd_slope``
    is NaN.

References
----------
Lomb, N. R. 1976, Ap&SS 39, 447. Scargle, J. D. 1982, ApJ 263, 835. Zechmeister, M. & Kürster, M.
2009, A&A 496, 577. VanderPlas, J. T. 2018, ApJS 236, 16. von Neumann, J. 1941, Ann. Math. Stat. 12,
367. Stetson, P. B. 1996, PASP 108, 851. Ivezić et al. 2014, *Statistics, Data Mining, and Machine
Learning in Astronomy* (σ_G = 0.7413 IQR).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.fft

from tess_cluster_age.config import config_from_params
from tess_cluster_age.features.classic import SIGMA_G_FACTOR, central_moment  # σ_G = 0.7413 × IQR
from tess_cluster_age.features.lombscargle import lomb_scargle_power
from tess_cluster_age.lightcurves import SECONDS_PER_DAY

__all__ = [
    "DESCRIPTORS",
    "INVARIANT_FEATURES",
    "InvariantConfig",
    "InvariantResult",
    "bin_light_curve",
    "fine_amplitude_spectrum",
    "fine_amplitude_spectrum_exact",
    "invariant_feature_names",
    "invariant_features",
    "invariant_periodogram_edges",
    "invariant_periodogram_frequencies",
    "log_binned_mean",
    "sample_excess_kurtosis",
    "sample_skewness",
]

MINUTES_PER_DAY = SECONDS_PER_DAY / 60.0  # 1440 exactly
VECTOR_FLOOR = 1e-12
"""Added to the bin-mean A² before log10 in the ``invariant`` periodogram (SPEC 3c)."""
CONSTANT_PTP = 1e-12
"""Peak-to-peak of the binned normalised flux at or below which the curve counts as constant."""
SPECTRUM_METHOD = "nifty-ls"
"""Lomb-Scargle backend of the amplitude spectrum (:data:`~.lombscargle.BACKENDS`, tolerance 1e-9)."""

REASON_MIN_POINTS = "min_points"
REASON_CONSTANT = "constant_flux"
REASON_ACF = "acf_tau_not_reached"
REASON_DROPPED = "invalid_samples_dropped"
REASON_MEDIAN = "nonpositive_median_flux"
REASON_ZERO_ERR = "zero_flux_err"
REASON_NO_PAIRS = "no_consecutive_bins"
REASON_SHORT_SPECTRUM = "spectrum_too_short"
REASON_BAND = "band_not_covered"
REASON_SLOPE = "psd_slope_too_few_bins"


def _number_tag(value: float) -> str:
    """``10 -> '10'``, ``0.25 -> '0p25'``, ``0.083 -> '0p083'`` (for band feature names)."""
    text = f"{value:g}"
    return text.replace(".", "p")


@dataclasses.dataclass(frozen=True)
class InvariantConfig:
    """Parameters of the invariant feature set (``params:invariant_features`` in ``conf/base``).

    Attributes
    ----------
    bin_minutes : float
        Width of the common bins, minutes.
    min_points : int
        Minimum number of usable raw samples.
    min_bins : int
        Minimum number of non-empty bins (≥ 4: the unbiased kurtosis needs 4).
    max_frequency_per_day : float
        Upper end of the fine frequency grid, d⁻¹ (12 d⁻¹ is the Nyquist frequency of 1-h
        sampling and well below that of 30-min bins, 24 d⁻¹).
    oversample : int
        Fine-grid oversampling: spacing ``1 / (oversample T)``.
    vector_n_bins, vector_f_min, vector_f_max : int, float, float
        The ``invariant`` periodogram: number of log-spaced bins and its edges, d⁻¹.
    slope_f_min, slope_f_max : float
        Frequency range (bin centres, d⁻¹) of the ``inv_psd_slope`` fit.
    eta_max_gap_bins : float
        Two consecutive bins form a pair (von Neumann, Stetson) when their times differ by at most
        this many bin widths.
    band_periods_days : tuple of (float, float)
        Period bands ``(longest, shortest)`` in days for ``inv_band_amp_<longest>_<shortest>``.
    """

    bin_minutes: float = 30.0
    min_points: int = 100
    min_bins: int = 20
    max_frequency_per_day: float = 12.0
    oversample: int = 5
    vector_n_bins: int = 128
    vector_f_min: float = 0.1
    vector_f_max: float = 12.0
    slope_f_min: float = 0.1
    slope_f_max: float = 5.0
    eta_max_gap_bins: float = 1.5
    band_periods_days: tuple[tuple[float, float], ...] = ((10, 4), (4, 1), (1, 0.25), (0.25, 0.083))

    def __post_init__(self) -> None:
        try:
            bands = tuple((float(hi), float(lo)) for hi, lo in self.band_periods_days)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"band_periods_days must be a list of [longest, shortest] period pairs in days, "
                f"got {self.band_periods_days!r}"
            ) from exc
        object.__setattr__(self, "band_periods_days", bands)
        problems = []
        if not self.bin_minutes > 0:
            problems.append(f"bin_minutes must be > 0 (got {self.bin_minutes})")
        if int(self.min_points) != self.min_points or self.min_points < 1:
            problems.append(f"min_points must be a positive integer (got {self.min_points})")
        if int(self.min_bins) != self.min_bins or self.min_bins < 4:
            problems.append(f"min_bins must be an integer ≥ 4 (got {self.min_bins})")
        if not self.max_frequency_per_day > 0:
            problems.append(f"max_frequency_per_day must be > 0 (got {self.max_frequency_per_day})")
        if int(self.oversample) != self.oversample or self.oversample < 1:
            problems.append(f"oversample must be a positive integer (got {self.oversample})")
        if int(self.vector_n_bins) != self.vector_n_bins or self.vector_n_bins < 1:
            problems.append(f"vector_n_bins must be a positive integer (got {self.vector_n_bins})")
        if not 0 < self.vector_f_min < self.vector_f_max:
            problems.append(
                f"need 0 < vector_f_min < vector_f_max (got {self.vector_f_min}, {self.vector_f_max})"
            )
        if not 0 < self.slope_f_min < self.slope_f_max:
            problems.append(f"need 0 < slope_f_min < slope_f_max (got {self.slope_f_min}, {self.slope_f_max})")
        if not self.eta_max_gap_bins >= 1:
            problems.append(f"eta_max_gap_bins must be ≥ 1 (got {self.eta_max_gap_bins})")
        for hi, lo in bands:
            if not hi > lo > 0:
                problems.append(f"each period band needs longest > shortest > 0 (got [{hi}, {lo}])")
        names = [f"inv_band_amp_{_number_tag(hi)}_{_number_tag(lo)}" for hi, lo in bands]
        if len(set(names)) != len(names):
            problems.append(f"period bands give duplicate feature names: {names}")
        if problems:
            raise ValueError("invalid InvariantConfig: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> InvariantConfig:
        """Build a config from a parameters mapping (e.g. Kedro ``params:invariant_features``).

        Missing keys take their defaults; an unknown key raises ``ValueError`` naming it and
        listing the valid keys (a typo must not silently fall back to a default).
        """
        return config_from_params(cls, params, "invariant feature")

    @property
    def bin_days(self) -> float:
        """Bin width in days."""
        return self.bin_minutes / MINUTES_PER_DAY

    def band_feature_names(self) -> tuple[str, ...]:
        """``inv_band_amp_<longest>_<shortest>`` for each band (``.`` written ``p``)."""
        return tuple(f"inv_band_amp_{_number_tag(hi)}_{_number_tag(lo)}" for hi, lo in self.band_periods_days)


def invariant_feature_names(config: InvariantConfig | None = None) -> tuple[str, ...]:
    """Feature names, in column order, for a config (the band names follow ``band_periods_days``)."""
    config = config or InvariantConfig()
    return (
        "inv_std",
        "inv_sigmaG",
        "inv_skew",
        "inv_kurt",
        "inv_excess_rms",
        "inv_log_snr",
        "inv_eta",
        "inv_stetson_j",
        "inv_peak_freq",
        "inv_peak_period",
        "inv_peak_amp",
        *config.band_feature_names(),
        "inv_psd_slope",
        "inv_acf_tau",
        "log_flux",
    )


INVARIANT_FEATURES: tuple[str, ...] = invariant_feature_names(InvariantConfig())
"""Feature columns with the default bands (units: fractional flux for amplitudes, d⁻¹ for
``inv_peak_freq``, d for ``inv_peak_period`` and ``inv_acf_tau``, dex for ``log_flux`` (e/s);
the rest dimensionless)."""

DESCRIPTORS: tuple[str, ...] = ("n_bins", "span_days")
"""Descriptors returned beside the features (the caller adds ``cadence_s`` and ``n_sectors``)."""


@dataclasses.dataclass(frozen=True)
class InvariantResult:
    """Invariant features of one segment.

    Attributes
    ----------
    features : dict of str to float
        Every :func:`invariant_feature_names` key and every :data:`DESCRIPTORS` key.
    periodogram : numpy.ndarray
        float32, length ``vector_n_bins``: ``log10(mean A² in bin + 1e-12)``; NaN for bins holding no
        fine-grid frequency.
    reason : str
        ``""`` or ``;``-joined reason codes (see the module docstring).
    """

    features: dict[str, float]
    periodogram: np.ndarray
    reason: str


def invariant_periodogram_edges(config: InvariantConfig | None = None) -> np.ndarray:
    """Edges of the ``invariant`` vector bins: ``vector_n_bins + 1`` log-spaced frequencies, d⁻¹."""
    config = config or InvariantConfig()
    return np.geomspace(config.vector_f_min, config.vector_f_max, config.vector_n_bins + 1)


def invariant_periodogram_frequencies(config: InvariantConfig | None = None) -> np.ndarray:
    """Geometric centres ``sqrt(e_j e_{j+1})`` of the ``invariant`` periodogram bins, d⁻¹."""
    edges = invariant_periodogram_edges(config)
    return np.sqrt(edges[:-1] * edges[1:])


def _grid_index(time_d: np.ndarray, bin_days: float) -> np.ndarray:
    """Index ``k = floor((t − t0) / w + ½)`` of the bin of each time-sorted sample (``w = bin_days``, d):
    bin ``k`` is centred at ``t0 + k w`` (:func:`bin_light_curve`)."""
    return np.floor((time_d - time_d[0]) / bin_days + 0.5).astype(np.int64)


def bin_light_curve(
    time_d: np.ndarray, y: np.ndarray, sigma: np.ndarray, bin_minutes: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin a light curve to a fixed cadence (what :func:`invariant_features` computes its statistics on).

    The grid is anchored at the first (earliest) time ``t0``: bin ``k`` holds the samples with
    ``t0 + (k − ½) w ≤ t < t0 + (k + ½) w``, ``w = bin_minutes / 1440`` d, i.e. ``t0`` is the centre
    of bin 0. Centring (rather than starting) bins on the grid keeps TESS samples, whose cadences
    (200, 600, 1800 s) divide 30 min, away from bin edges, where rounding would split them at random.

    Parameters
    ----------
    time_d : array_like
        Sample times, days. Sorted here (stable) if not already sorted.
    y : array_like
        Values (e.g. normalised flux).
    sigma : array_like
        1σ uncertainties of ``y``, same units.
    bin_minutes : float
        Bin width, minutes.

    Returns
    -------
    t_bin : numpy.ndarray
        Mean time of the samples in each non-empty bin, days.
    y_bin : numpy.ndarray
        Mean of ``y`` in each bin.
    sigma_bin : numpy.ndarray
        ``sqrt(Σ σ²) / n``: the uncertainty of the bin mean for independent errors.
    index : numpy.ndarray
        Grid index ``k`` of each bin (int64; gaps in ``k`` are empty bins, as the ACF reads them).

    Empty bins are dropped, so the outputs have one entry per non-empty bin, in time order.
    """
    time_d = np.asarray(time_d, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if not time_d.shape == y.shape == sigma.shape or time_d.ndim != 1:
        raise ValueError(
            f"time_d, y and sigma must be 1-D arrays of one length (got shapes {time_d.shape}, "
            f"{y.shape}, {sigma.shape})"
        )
    if not bin_minutes > 0:
        raise ValueError(f"bin_minutes must be > 0, got {bin_minutes}")
    if time_d.size > 1 and np.any(np.diff(time_d) < 0):
        order = np.argsort(time_d, kind="stable")
        time_d, y, sigma = time_d[order], y[order], sigma[order]
    if time_d.size == 0:
        empty = np.empty(0)
        return empty, empty, empty, np.empty(0, dtype=np.int64)
    index = _grid_index(time_d, bin_minutes / MINUTES_PER_DAY)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(index)) + 1))
    counts = np.diff(np.append(starts, time_d.size)).astype(np.float64)
    t_bin = np.add.reduceat(time_d, starts) / counts
    y_bin = np.add.reduceat(y, starts) / counts
    sigma_bin = np.sqrt(np.add.reduceat(sigma * sigma, starts)) / counts
    return t_bin, y_bin, sigma_bin, index[starts]


def _fine_grid(span_d: float, config: InvariantConfig) -> tuple[float, float, int]:
    """``(f_min, df, n_freq)`` of the fine grid: ``1/T`` to ``max_frequency_per_day`` step ``1/(oversample T)``."""
    if not span_d > 0:
        return float("nan"), float("nan"), 0
    f_min = 1.0 / span_d
    df = 1.0 / (config.oversample * span_d)
    if f_min > config.max_frequency_per_day:
        return f_min, df, 0
    n_freq = int(math.floor((config.max_frequency_per_day - f_min) / df + 1e-9)) + 1
    return f_min, df, n_freq


def fine_amplitude_spectrum(
    t_bin: np.ndarray, y_bin: np.ndarray, config: InvariantConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Squared amplitude spectrum ``A²(f) = 4 P(f) / n`` on the fine grid (uncorrected for noise).

    ``P`` is the floating-mean Lomb-Scargle periodogram of ``y_bin`` without uncertainties in the
    ``psd`` normalisation (Lomb 1976; Scargle 1982; VanderPlas 2018), computed by the
    :data:`SPECTRUM_METHOD` backend of :func:`~tess_cluster_age.features.lombscargle.lomb_scargle_power`.
    The grid is ``f_k = 1/T + k / (oversample T)`` up to ``max_frequency_per_day``,
    ``T = t_bin[-1] − t_bin[0]``.

    Parameters
    ----------
    t_bin : array_like
        Bin times, days (sorted).
    y_bin : array_like
        Binned normalised flux.
    config : InvariantConfig, optional

    Returns
    -------
    freq : numpy.ndarray
        Frequencies, d⁻¹ (empty when the span allows fewer than two frequencies).
    amp2 : numpy.ndarray
        ``A²``, fractional flux squared (a sinusoid of semi-amplitude ``a`` peaks at ``a²``).
    """
    config = config or InvariantConfig()
    t_bin = np.asarray(t_bin, dtype=np.float64)
    y_bin = np.asarray(y_bin, dtype=np.float64)
    n = t_bin.size
    span = float(t_bin[-1] - t_bin[0]) if n > 1 else 0.0
    f_min, df, n_freq = _fine_grid(span, config)
    if n_freq < 2 or n < 3:  # nifty-ls needs two frequencies to define its spacing
        return np.empty(0), np.empty(0)
    freq = f_min + df * np.arange(n_freq)
    power = lomb_scargle_power(t_bin, y_bin, freq, normalization="psd", method=SPECTRUM_METHOD)
    # the transform's ~1e-10 relative error can leave a power a hair below 0: clip to 0
    power = np.maximum(power, 0.0)
    return freq, 4.0 * power / n


def fine_amplitude_spectrum_exact(t_bin: np.ndarray, y_bin: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Reference ``A² = 4 P / n`` by direct summation (astropy ``cython`` method), for any grid.

    O(n × n_freq): for tests and single frequencies, not for the pipeline.
    """
    from astropy.timeseries import LombScargle

    t_bin = np.asarray(t_bin, dtype=np.float64)
    power = LombScargle(t_bin - t_bin[0], y_bin, normalization="psd").power(freq, method="cython")
    return 4.0 * np.asarray(power, dtype=np.float64) / t_bin.size


def log_binned_mean(freq: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over the grid frequencies inside each bin ``[e_j, e_{j+1})`` (last bin closed).

    Returns NaN for bins that hold no grid frequency. This is a bin *mean*, never a point sample.
    """
    n_bins = edges.size - 1
    inside = (freq >= edges[0]) & (freq <= edges[-1])
    which = np.clip(np.searchsorted(edges, freq[inside], side="right") - 1, 0, n_bins - 1)
    sums = np.bincount(which, weights=values[inside], minlength=n_bins)
    counts = np.bincount(which, minlength=n_bins)
    out = np.full(n_bins, np.nan)
    filled = counts > 0
    out[filled] = sums[filled] / counts[filled]
    return out


def _acf_tau(index: np.ndarray, y_bin: np.ndarray, bin_days: float) -> float:
    """Lag (d) where the gap-aware ACF first drops below 1/e; NaN if not within half the span.

    On the regular grid of bin indices, ``x_k = y_k − mean(y)`` where a bin exists and missing
    otherwise. ``r(L) = [Σ x_k x_{k+L} / N_L] / [Σ x_k² / N_0]`` over the ``N_L`` pairs present at lag
    ``L`` (lags without pairs are skipped). The crossing is interpolated linearly between the last
    lag above 1/e and the first below.
    """
    k = index - index[0]
    length = int(k[-1]) + 1
    max_lag = int(k[-1]) // 2
    x = np.zeros(length)
    mask = np.zeros(length)
    x[k] = y_bin - y_bin.mean()
    mask[k] = 1.0
    n_fft = scipy.fft.next_fast_len(2 * length, real=True)
    fx = scipy.fft.rfft(x, n_fft)
    fm = scipy.fft.rfft(mask, n_fft)
    num = scipy.fft.irfft(fx * np.conj(fx), n_fft)[: max_lag + 1]
    pairs = np.rint(scipy.fft.irfft(fm * np.conj(fm), n_fft)[: max_lag + 1])
    variance = float(np.dot(x, x)) / k.size
    lags = np.flatnonzero(pairs > 0)
    acf = num[lags] / pairs[lags] / variance
    threshold = math.exp(-1.0)
    below = np.flatnonzero(acf < threshold)
    if below.size == 0:
        return float("nan")
    j = int(below[0])  # j ≥ 1 because acf[0] = 1
    lag0, lag1 = float(lags[j - 1]), float(lags[j])
    r0, r1 = float(acf[j - 1]), float(acf[j])
    return (lag0 + (r0 - threshold) / (r0 - r1) * (lag1 - lag0)) * bin_days


def _peak(freq: np.ndarray, amp2: np.ndarray) -> tuple[float, float]:
    """Frequency and ``A²`` of the highest fine-grid peak, refined by a 3-point parabola.

    The parabola through ``A²`` at the maximum and its two neighbours removes the grid's scalloping
    (up to ~1.6 % in amplitude and half a grid step in frequency, 1.1 % of a 3-d period for a
    27-d sector); at either end of the grid the grid value is kept.
    """
    i = int(np.argmax(amp2))
    if 0 < i < amp2.size - 1:
        a, b, c = amp2[i - 1], amp2[i], amp2[i + 1]
        curvature = a - 2.0 * b + c
        if curvature < 0:
            shift = 0.5 * (a - c) / curvature
            return float(freq[i] + shift * (freq[1] - freq[0])), float(b - 0.25 * (a - c) * shift)
    return float(freq[i]), float(amp2[i])


def _nan_features(config: InvariantConfig) -> dict[str, float]:
    features = {name: float("nan") for name in invariant_feature_names(config)}
    features.update({name: float("nan") for name in DESCRIPTORS})
    return features


def _usable_samples(time_d, flux, flux_err) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Finite samples with ``flux_err ≥ 0``, sorted by time (stable); reason ``invalid_samples_dropped``."""
    time_d = np.asarray(time_d, dtype=np.float64).ravel()
    flux = np.asarray(flux, dtype=np.float64).ravel()
    flux_err = np.asarray(flux_err, dtype=np.float64).ravel()
    if not time_d.size == flux.size == flux_err.size:
        raise ValueError(
            f"time_d, flux and flux_err must have one length (got {time_d.size}, {flux.size}, {flux_err.size})"
        )
    reasons = []
    valid = np.isfinite(time_d) & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err >= 0)
    if not valid.all():
        reasons.append(REASON_DROPPED)
        time_d, flux, flux_err = time_d[valid], flux[valid], flux_err[valid]
    if time_d.size > 1 and np.any(np.diff(time_d) < 0):
        order = np.argsort(time_d, kind="stable")
        time_d, flux, flux_err = time_d[order], flux[order], flux_err[order]
    return time_d, flux, flux_err, reasons


def _descriptors(time_d: np.ndarray, flux: np.ndarray, bin_days: float) -> tuple[dict[str, float], float]:
    """``span_days`` (d), ``n_bins`` (non-empty bins), ``log_flux`` (dex of e/s) and the median flux."""
    out = {"span_days": float(time_d[-1] - time_d[0]) if time_d.size else float("nan")}
    if time_d.size:
        out["n_bins"] = float(np.count_nonzero(np.diff(_grid_index(time_d, bin_days))) + 1)
    else:
        out["n_bins"] = 0.0
    median = float(np.median(flux)) if flux.size else float("nan")
    if median > 0:
        out["log_flux"] = math.log10(median)
    return out, median


def _moments_234(y: np.ndarray) -> tuple[int, np.float64, np.float64, np.float64, bool]:
    """``n``, ``m2``, ``m3``, ``m4`` (:func:`~.classic.central_moment`) and whether ``m2`` counts as zero.

    ``m2 ≤ (ε ȳ)²`` (ε the float64 machine epsilon) is scipy's test for a spread lost in rounding.
    """
    y = np.asarray(y, dtype=np.float64)
    m2 = central_moment(y, 2)
    zero = bool(m2 <= (np.finfo(np.float64).eps * np.mean(y)) ** 2)
    return y.size, m2, central_moment(y, 3), central_moment(y, 4), zero


def sample_skewness(y: np.ndarray) -> float:
    """Unbiased sample skewness ``G1 = sqrt(n (n − 1)) / (n − 2) · m3 / m2^(3/2)`` (Joanes & Gill 1998).

    ``m_k`` are the population central moments (:func:`~.classic.central_moment`). The arithmetic
    is that of ``scipy.stats.skew(y, bias=False)``, to the last bit: NaN when ``m2 ≤ (ε ȳ)²``
    (no spread); for ``n ≤ 2`` the uncorrected ``g1 = m3 / m2^(3/2)``.

    Joanes, D. N. & Gill, C. A. 1998, J. R. Stat. Soc. D 47, 183.
    """
    n, m2, m3, _, zero = _moments_234(y)
    if zero:
        return float("nan")
    if n > 2:
        return float(((n - 1.0) * n) ** 0.5 / (n - 2.0) * m3 / m2**1.5)
    return float(m3 / m2**1.5)


def sample_excess_kurtosis(y: np.ndarray) -> float:
    """Unbiased sample excess kurtosis ``G2`` (Joanes & Gill 1998).

    ``G2 = (n − 1) / ((n − 2)(n − 3)) · ((n + 1) g2 + 6)`` with ``g2 = m4 / m2² − 3``, written
    as ``[(n² − 1) m4 / m2² − 3 (n − 1)²] / ((n − 2)(n − 3))`` and rounded as
    ``scipy.stats.kurtosis(y, fisher=True, bias=False)`` rounds it (the Pearson value
    ``G2 + 3`` is formed first and 3 subtracted after), to the last bit. NaN when
    ``m2 ≤ (ε ȳ)²``; for ``n ≤ 3`` the uncorrected ``g2``.

    Joanes, D. N. & Gill, C. A. 1998, J. R. Stat. Soc. D 47, 183.
    """
    n, m2, _, m4, zero = _moments_234(y)
    if zero:
        return float("nan")
    if n > 3:
        pearson = 1.0 / (n - 2) / (n - 3) * ((n**2 - 1.0) * m4 / m2**2.0 - 3 * (n - 1) ** 2.0) + 3.0
    else:
        pearson = m4 / m2**2.0
    return float(pearson - 3)


def _moment_features(y_bin: np.ndarray, var_y: float, mean_s2: float) -> tuple[dict[str, float], list[str]]:
    """Moments of the bins and the noise-corrected amplitude.

    ``inv_std = sqrt(var(y))`` (ddof 1); ``inv_sigmaG = 0.7413 (P75 − P25)`` (Ivezić et al. 2014);
    ``inv_skew``, ``inv_kurt``: unbiased skewness G1 and excess kurtosis G2 (:func:`sample_skewness`,
    :func:`sample_excess_kurtosis`);
    ``inv_excess_rms = sqrt(max(var(y) − mean(σ²), 0))``; ``inv_log_snr = log10(var(y) / mean(σ²))``.
    A constant series (reason ``constant_flux``) has zero spread and no shape.
    """
    q25, q75 = np.percentile(y_bin, [25.0, 75.0])
    out = {"inv_std": math.sqrt(var_y), "inv_sigmaG": float(SIGMA_G_FACTOR * (q75 - q25))}
    if float(np.ptp(y_bin)) <= CONSTANT_PTP:
        return {"inv_std": 0.0, "inv_sigmaG": 0.0, "inv_excess_rms": 0.0}, [REASON_CONSTANT]
    out["inv_skew"] = sample_skewness(y_bin)
    out["inv_kurt"] = sample_excess_kurtosis(y_bin)
    if not mean_s2 > 0:
        return out, [REASON_ZERO_ERR]
    out["inv_excess_rms"] = math.sqrt(max(var_y - mean_s2, 0.0))
    out["inv_log_snr"] = math.log10(var_y / mean_s2)
    return out, []


def _successive_difference_features(
    t_bin: np.ndarray, y_bin: np.ndarray, s_bin: np.ndarray, var_y: float, config: InvariantConfig
) -> tuple[dict[str, float], list[str]]:
    """von Neumann ``inv_eta`` and Stetson ``inv_stetson_j`` over pairs of consecutive bins.

    Pairs: bins ``(i, i+1)`` with ``t_{i+1} − t_i ≤ eta_max_gap_bins × w``, ``m`` of them.
    ``inv_eta = Σ_pairs (y_{i+1} − y_i)² / (m var(y))`` (von Neumann 1941; 2 for white noise, → 0
    for slow variations; SPEC's ``n − 1`` is ``m``: differences across gaps are not successive).
    ``inv_stetson_j = mean_pairs sign(P_i) sqrt|P_i|``, ``P_i = δ_i δ_{i+1}``,
    ``δ_i = sqrt(n/(n−1)) (y_i − mean(y)) / σ_i`` (Stetson 1996, eqs. 1–2 with unit weights).
    """
    pair = np.flatnonzero(np.diff(t_bin) <= config.eta_max_gap_bins * config.bin_days)
    if pair.size == 0:
        return {}, [REASON_NO_PAIRS]
    diff = y_bin[pair + 1] - y_bin[pair]
    out = {"inv_eta": float(np.sum(diff * diff) / (pair.size * var_y))}
    if not np.all(s_bin > 0):
        return out, [REASON_ZERO_ERR]
    n = y_bin.size
    delta = math.sqrt(n / (n - 1.0)) * (y_bin - y_bin.mean()) / s_bin
    product = delta[pair] * delta[pair + 1]
    out["inv_stetson_j"] = float(np.mean(np.sign(product) * np.sqrt(np.abs(product))))
    return out, []


def _amplitude_features(
    freq: np.ndarray, amp2: np.ndarray, noise_amp2: float | None, config: InvariantConfig
) -> tuple[dict[str, float], list[str]]:
    """Peak and band amplitudes from the fine-grid ``A²`` and the noise level ``4 mean(σ²) / n``.

    ``inv_peak_freq`` (d⁻¹), ``inv_peak_period`` (d) and ``inv_peak_amp`` (``A_c`` there) at the
    highest ``A²`` (:func:`_peak`); ``inv_band_amp_*`` = ``sqrt(mean A_c²)`` over the fine-grid
    frequencies ``1/longest ≤ f < 1/shortest``, ``A_c² = max(A² − noise, 0)``. Clipping bin by bin
    leaves white noise a band amplitude of ``e^(−1/2) sqrt(noise)``, not 0; a sinusoid's share of its
    band falls as ``T^(−1/2)`` with segment length. Without a noise level (``noise_amp2`` None)
    only the peak's frequency and period are defined.
    """
    peak_f, peak_amp2 = _peak(freq, amp2)
    out = {"inv_peak_freq": peak_f, "inv_peak_period": 1.0 / peak_f}
    if noise_amp2 is None:
        return out, []
    reasons = []
    out["inv_peak_amp"] = math.sqrt(max(peak_amp2 - noise_amp2, 0.0))
    amp2_c = np.maximum(amp2 - noise_amp2, 0.0)
    for name, (longest, shortest) in zip(config.band_feature_names(), config.band_periods_days):
        in_band = (freq >= 1.0 / longest) & (freq < 1.0 / shortest)
        if in_band.any():
            out[name] = math.sqrt(float(np.mean(amp2_c[in_band])))
        else:
            reasons.append(REASON_BAND)
    return out, reasons


def _psd_slope(freq: np.ndarray, amp2: np.ndarray, config: InvariantConfig) -> tuple[dict[str, float], list[str]]:
    """``inv_psd_slope``: least-squares slope of ``mean(log10 A²)`` in the periodogram's log bins against
    ``log10`` of the bin centres, over non-empty bins centred in ``[slope_f_min, slope_f_max]``.

    The *logarithm* is averaged (``A²`` uncorrected, no floor): a periodogram value is exponentially
    distributed about the true spectrum, so ``E[log10 A²] = log10 S − 0.25`` at every frequency and
    the offset cancels in the slope, whereas ``log10(mean A²)`` is biased by up to 0.25 dex in bins
    holding one independent frequency and not in wide ones (on seeded white noise it gave +0.15).
    """
    centres = invariant_periodogram_frequencies(config)
    positive = amp2 > 0  # exact zeros (never seen on real data) have no logarithm
    log_binned = log_binned_mean(freq[positive], np.log10(amp2[positive]), invariant_periodogram_edges(config))
    use = (centres >= config.slope_f_min) & (centres <= config.slope_f_max) & np.isfinite(log_binned)
    if np.count_nonzero(use) < 3:
        return {}, [REASON_SLOPE]
    slope, _ = np.polyfit(np.log10(centres[use]), log_binned[use], 1)
    return {"inv_psd_slope": float(slope)}, []


def _invariant_periodogram(freq: np.ndarray, amp2: np.ndarray, config: InvariantConfig) -> np.ndarray:
    """The ``invariant`` periodogram (SPEC 3c): ``log10(mean A² in bin + 1e-12)``, float32; NaN bins stay NaN."""
    binned = log_binned_mean(freq, amp2, invariant_periodogram_edges(config))
    with np.errstate(invalid="ignore"):
        return np.log10(binned + VECTOR_FLOOR).astype(np.float32)


def invariant_features(
    time_d: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, *, config: InvariantConfig
) -> InvariantResult:
    """Invariant features and ``invariant`` periodogram of one segment (SPEC 3b, 3c, 3d).

    The steps: usable samples, descriptors and ``log_flux = log10(median flux)``; ``y = flux /
    median``, ``σ = flux_err / median`` binned by :func:`bin_light_curve`; then, on the ``n`` bins,
    :func:`_moment_features`, :func:`_successive_difference_features`, :func:`_acf_tau`, the
    amplitude spectrum (:func:`fine_amplitude_spectrum`), :func:`_amplitude_features`,
    :func:`_psd_slope` and :func:`_invariant_periodogram`. Each step's docstring gives its formulas.

    Parameters
    ----------
    time_d : array_like
        Sample times, days (BTJD). Any order: a stitched segment is sorted by time here.
    flux : array_like
        Flux, e/s (or already-normalised flux for stitched segments, whose ``log_flux`` is then ≈ 0).
    flux_err : array_like
        1σ flux uncertainty, same units as ``flux``.
    config : InvariantConfig

    Returns
    -------
    InvariantResult
        ``features`` (every :func:`invariant_feature_names` and :data:`DESCRIPTORS` key),
        ``periodogram`` (float32) and ``reason``.
    """
    time_d, flux, flux_err, reasons = _usable_samples(time_d, flux, flux_err)
    features = _nan_features(config)
    periodogram = np.full(config.vector_n_bins, np.nan, dtype=np.float32)

    def result() -> InvariantResult:
        return InvariantResult(features, periodogram, ";".join(dict.fromkeys(reasons)))

    def add(step: tuple[dict[str, float], list[str]]) -> list[str]:
        features.update(step[0])
        reasons.extend(step[1])
        return step[1]

    descriptors, median = _descriptors(time_d, flux, config.bin_days)
    features.update(descriptors)
    if not median > 0 and flux.size:
        reasons.append(REASON_MEDIAN)
    if time_d.size < config.min_points or features["n_bins"] < config.min_bins:
        reasons.append(REASON_MIN_POINTS)
        return result()
    if not median > 0:
        return result()

    t_bin, y_bin, s_bin, index = bin_light_curve(time_d, flux / median, flux_err / median, config.bin_minutes)
    var_y = float(np.var(y_bin, ddof=1))
    mean_s2 = float(np.mean(s_bin * s_bin))
    if REASON_CONSTANT in add(_moment_features(y_bin, var_y, mean_s2)):
        return result()
    add(_successive_difference_features(t_bin, y_bin, s_bin, var_y, config))
    tau = _acf_tau(index, y_bin, config.bin_days)
    add(({"inv_acf_tau": tau}, [REASON_ACF] if math.isnan(tau) else []))

    freq, amp2 = fine_amplitude_spectrum(t_bin, y_bin, config)
    if freq.size < 3:
        reasons.append(REASON_SHORT_SPECTRUM)
        return result()
    periodogram = _invariant_periodogram(freq, amp2, config)
    add(_amplitude_features(freq, amp2, 4.0 * mean_s2 / t_bin.size if mean_s2 > 0 else None, config))
    add(_psd_slope(freq, amp2, config))
    return result()
