"""The classic feature set: the original study's light-curve statistics, quirks included (SPEC 3a).

These reproduce the reference tables ``Stats_Table_For_all_Clusters_all_sectors_w_entropy.fits``
and ``Stats_Table_For_Sector_Stitched.fits`` (the ``elk`` library's ``BasicLightcurve``
statistics plus the columns the original notebooks added). The original's quirks are kept on
purpose and documented here, not fixed:

- ``rms`` is the RMS of the autocorrelation function, ``sqrt(mean(acf**2))`` (the library
  overwrote the flux RMS with it).
- ``skewness`` is the third central moment of the *raw* flux (it scales as brightness cubed).
- ``J_Stetson`` uses ``P_i = delta_i * delta_i`` (a point with itself, not with its neighbour)
  for close pairs.
- ``ratio_of_power_at_high_v_low_freq`` is mean power at f <= 5 / d over mean power at f > 5 / d
  (low over high, despite the name).
- The periodogram features come from the median (and 15.89th percentile) of the power of 100
  noisy copies ``flux + N(0, flux_err)``, so they vary with the random draw; the caller seeds
  ``rng`` from (global seed, segment id), which makes a run reproducible.

Units: time in days (BTJD), flux and flux_err in e/s (or normalised units for stitched curves),
frequencies in 1/d; ``time_of_max_autocorrelation`` is a lag in days; all other features are
dimensionless except ``skewness`` (flux cubed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.fft
import scipy.special

from tess_cluster_age.config import config_from_params

from .lombscargle import CHUNK_SIZE, lomb_scargle_power

__all__ = [
    "CLASSIC_FEATURES",
    "CLASSIC_PERCENTILES",
    "REASON_CODES",
    "ClassicConfig",
    "ClassicResult",
    "baluev_false_alarm_probability",
    "bootstrap_periodogram_percentiles",
    "central_moment",
    "classic_features",
    "classic_frequency_grid",
    "classic_periodogram_frequencies",
    "count_peaks",
    "local_maxima",
    "percentiles_of_sorted",
    "strict_local_minima",
]

CLASSIC_FEATURES: tuple[str, ...] = (
    "rms",
    "std",
    "MAD",
    "sigmaG",
    "skewness",
    "von_neumann_ratio",
    "J_Stetson",
    "max_power",
    "freq_at_max_power",
    "n_peaks",
    "ratio_of_power_at_high_v_low_freq",
    "FAP",
    "max_autocorrelation",
    "time_of_max_autocorrelation",
    "SumLSP_10_7_Day_Power",
    "SumLSP_7_4_Day_Power",
    "SumLSP_4_1_Day_Power",
    "SumLSP_1_p5_Day_Power",
    "Entropy",
)
"""Column names of the reference tables, in their order."""

REASON_CODES: tuple[str, ...] = (
    "invalid_input",
    "min_points",
    "constant_flux",
    "no_acf_chunk",
    "no_acf_minimum",
    "periodogram_undefined",
)
"""Every reason code :func:`classic_features` can report, in the order they are joined.

- ``invalid_input``: a non-finite time, flux or flux_err, a flux <= 0, a flux_err <= 0, or a zero
  time span. Every feature NaN.
- ``min_points``: fewer than ``config.min_points`` samples. Every feature NaN.
- ``constant_flux``: the flux (or the flux inside the ACF chunk) has zero spread:
  ``von_neumann_ratio`` and the ACF features (``rms``, ``max_autocorrelation``,
  ``time_of_max_autocorrelation``) are NaN; ``std``, ``MAD``, ``sigmaG``, ``skewness`` are 0.
- ``no_acf_chunk``: no run of >= 3 consecutive points with every gap <= ``acf_max_gap_days``:
  ``rms``, ``max_autocorrelation``, ``time_of_max_autocorrelation`` NaN.
- ``no_acf_minimum``: the ACF has no strict local minimum (or nothing after it):
  ``max_autocorrelation``, ``time_of_max_autocorrelation`` NaN.
- ``periodogram_undefined``: the bootstrap median power is not finite everywhere: the
  periodogram features and periodogram NaN.
"""

CLASSIC_PERCENTILES: tuple[float, ...] = (50, 2.27, 15.89, 84.1, 97.725)
"""Percentiles of the bootstrap power used by the original code: median, -2, -1, +1, +2 sigma."""

SIGMA_G_FACTOR = 0.74130110925280102
"""1 / (2 sqrt(2) erfinv(0.5)): turns an interquartile range into a Gaussian sigma."""

MAG_ZERO_FLUX = 15000.0
MAG_ZERO_POINT = 10.0
"""ELK/elk magnitude scale: ``mag = 2.5 log10(15000 / flux) + 10`` (flux in e/s)."""

FREQ_SPLIT = 5.0
"""Frequency (1/d) separating 'low' and 'high' for ``ratio_of_power_at_high_v_low_freq``."""

FAP_SAMPLES_PER_PEAK = 5
FAP_NYQUIST_FACTOR = 5
"""astropy's ``autofrequency`` defaults, which fix the maximum frequency of the FAP (SPEC 3a)."""

PERIOD_BANDS: dict[str, tuple[float, float]] = {
    "SumLSP_10_7_Day_Power": (7.0, 10.0),
    "SumLSP_7_4_Day_Power": (4.0, 7.0),
    "SumLSP_4_1_Day_Power": (1.0, 4.0),
    "SumLSP_1_p5_Day_Power": (0.5, 1.0),
}
"""Period bands (days, both bounds exclusive) whose median power is summed."""

ACF_FEATURES = ("rms", "max_autocorrelation", "time_of_max_autocorrelation")
PERIODOGRAM_FEATURES = (
    "max_power",
    "freq_at_max_power",
    "n_peaks",
    "ratio_of_power_at_high_v_low_freq",
    "FAP",
    *PERIOD_BANDS,
)


@dataclasses.dataclass(frozen=True)
class ClassicConfig:
    """Parameters of the classic feature set (defaults = the original study).

    Attributes:
        f_min, f_max, f_step: periodogram grid ``np.arange(f_min, f_max, f_step)``, 1/d.
        n_bootstrap: noisy copies for the bootstrap periodogram (defines the features).
        percentiles: bootstrap percentiles; must contain 50 (median) and 15.89 (for ``n_peaks``).
        min_points: fewer samples than this gives all-NaN features (reason ``min_points``); >= 3.
        acf_max_gap_days: largest gap (d) inside the contiguous chunk used for the ACF.
        stetson_close_days: time step (d) below which J_Stetson treats a point as paired.
        vector_max_period_days: the periodogram vector keeps periods shorter than this (d).
        chunk_size: time points per matrix product when the periodogram uses the matrix method
            (irregular frequency grids); the default regular grid uses the NUFFT path.
    """

    f_min: float = 0.04
    f_max: float = 11.0
    f_step: float = 0.01
    n_bootstrap: int = 100
    percentiles: tuple[float, ...] = CLASSIC_PERCENTILES
    min_points: int = 100
    acf_max_gap_days: float = 0.25
    stetson_close_days: float = 0.021
    vector_max_period_days: float = 10.0
    chunk_size: int = CHUNK_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))
        problems = []
        if not 0 < self.f_min < self.f_max:
            problems.append(f"need 0 < f_min < f_max (got {self.f_min}, {self.f_max})")
        if self.f_step <= 0:
            problems.append(f"f_step must be > 0 (got {self.f_step})")
        if self.n_bootstrap < 1:
            problems.append(f"n_bootstrap must be >= 1 (got {self.n_bootstrap})")
        for required in (50.0, 15.89):
            if required not in self.percentiles:
                problems.append(f"percentiles must include {required:g} (got {list(self.percentiles)})")
        if any(not 0 <= p <= 100 for p in self.percentiles):
            problems.append(f"percentiles must lie in [0, 100] (got {list(self.percentiles)})")
        if self.min_points < 3:
            problems.append(f"min_points must be >= 3 (got {self.min_points})")
        if self.acf_max_gap_days <= 0:
            problems.append(f"acf_max_gap_days must be > 0 (got {self.acf_max_gap_days})")
        if self.vector_max_period_days <= 0:
            problems.append(f"vector_max_period_days must be > 0 (got {self.vector_max_period_days})")
        if self.chunk_size < 1:
            problems.append(f"chunk_size must be >= 1 (got {self.chunk_size})")
        if problems:
            raise ValueError("invalid ClassicConfig: " + "; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ClassicConfig:
        """Build from a parameters mapping (e.g. ``params:classic_features`` in ``conf/base``).

        Raises:
            ValueError: naming every key that is not a field, and listing the valid ones.
        """
        return config_from_params(cls, params, "classic feature")


@dataclasses.dataclass(frozen=True)
class ClassicResult:
    """Classic features of one segment.

    Attributes:
        features: every name in :data:`CLASSIC_FEATURES` -> float (NaN where not computable).
        periodogram: bootstrap median power on :func:`classic_periodogram_frequencies`, float32,
            shape (1089,) by default; all-NaN when not computable.
        reason: ``""`` when everything was computed, else ';'-joined codes from :data:`REASON_CODES`.
    """

    features: dict[str, float]
    periodogram: np.ndarray
    reason: str


def classic_frequency_grid(f_min: float = ClassicConfig.f_min, f_max: float = ClassicConfig.f_max, step: float = ClassicConfig.f_step) -> np.ndarray:
    """The original frequency grid ``np.arange(f_min, f_max, step)``.

    Args:
        f_min: first frequency, cycles per day (1/d).
        f_max: end of the grid (exclusive), 1/d.
        step: spacing, 1/d.

    Returns:
        float64 array of frequencies in 1/d (1,096 bins, 0.04-10.99, with the defaults).
    """
    return np.arange(f_min, f_max, step, dtype=np.float64)


def percentiles_of_sorted(sorted_values: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
    """Percentiles along axis 0 of an array already sorted along axis 0.

    Reproduces ``np.percentile(values, percentiles, axis=0)`` with its default ``'linear'``
    method (Hyndman & Fan type 7) bit for bit, including numpy's virtual-index arithmetic and its
    two-sided linear interpolation. NaNs must already be sorted last (as ``np.sort`` does); a
    column containing NaN gives NaN, as in ``np.percentile``.

    Args:
        sorted_values: array sorted along axis 0, shape (n, ...).
        percentiles: percentiles in [0, 100].

    Returns:
        float64 array, shape (len(percentiles), ...).
    """
    values = np.asarray(sorted_values, dtype=np.float64)
    n = values.shape[0]
    if n == 0:
        raise ValueError("cannot take percentiles of zero copies")
    q = np.true_divide(np.asarray(percentiles, dtype=np.float64), 100)
    if np.any((q < 0) | (q > 1)) or not np.all(np.isfinite(q)):
        raise ValueError(f"percentiles must lie in [0, 100], got {list(percentiles)}")
    virtual = (n - 1) * q  # numpy's 'linear' virtual index
    lower = np.floor(virtual)
    gamma = virtual - lower
    lower = np.clip(lower.astype(np.intp), 0, n - 1)
    upper = np.clip(lower + 1, 0, n - 1)
    below = values[lower]
    above = values[upper]
    shape = (len(q),) + (1,) * (values.ndim - 1)
    gamma = gamma.reshape(shape)
    diff = above - below
    result = below + diff * gamma
    # numpy's _lerp: b - (b - a)(1 - t) where t >= 0.5, for monotonicity
    upper_form = above - diff * (1 - gamma)
    result = np.where(gamma >= 0.5, upper_form, result)
    if values.ndim > 1:
        nan_column = np.isnan(values[-1])
        result = np.where(nan_column[np.newaxis], np.nan, result)
    elif np.isnan(values[-1]):
        result = np.full_like(result, np.nan)
    return result


def bootstrap_periodogram_percentiles(
    time_d: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray,
    frequency: np.ndarray,
    *,
    n_bootstrap: int = ClassicConfig.n_bootstrap,
    percentiles: Sequence[float] = CLASSIC_PERCENTILES,
    rng: np.random.Generator,
    chunk_size: int = CHUNK_SIZE,
    method: str = "auto",
) -> np.ndarray:
    """Percentiles of the Lomb-Scargle power over noisy copies of a light curve (SPEC 3a).

    The copies are ``flux + rng.standard_normal((n_bootstrap, n)) * flux_err`` (one draw, so the
    result is fixed by the generator's state); each gets the standard-normalised floating-mean
    Lomb-Scargle periodogram with ``dy = flux_err`` (:func:`~tess_cluster_age.features.lombscargle.lomb_scargle_power`), and the
    percentiles are taken over copies at every frequency from one ``np.sort`` along the copy axis,
    with ``np.percentile``'s default linear interpolation.

    Parameters
    ----------
    time_d : ndarray, shape (n,)
        Sample times, days.
    flux, flux_err : ndarray, shape (n,)
        Flux and its 1-sigma uncertainty, same unit (e/s, or normalised); ``flux_err`` > 0.
    frequency : ndarray, shape (n_freq,)
        Frequencies, 1/d (see :func:`classic_frequency_grid`).
    n_bootstrap : int
        Number of noisy copies (100 in the original; it defines the features: do not reduce it).
    percentiles : sequence of float
        Percentiles in [0, 100]; default (50, 2.27, 15.89, 84.1, 97.725).
    rng : numpy.random.Generator
        Source of the noise; the caller seeds it.
    chunk_size : int
        Time points per matrix product for ``method='matrix'``.
    method : str
        A Lomb-Scargle backend (:data:`~tess_cluster_age.features.lombscargle.BACKENDS`) or "auto".

    Returns
    -------
    ndarray, shape (len(percentiles), n_freq), float64
        Dimensionless power percentiles, in the order of ``percentiles``.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    flux = np.asarray(flux, dtype=np.float64)
    flux_err = np.asarray(flux_err, dtype=np.float64)
    power = np.empty((n_bootstrap, np.size(frequency)))
    batch = bootstrap_batch(n_bootstrap, flux.size)
    for start in range(0, n_bootstrap, batch):
        # the generator fills arrays in order, so batches of rows draw exactly the numbers of one
        # (n_bootstrap, n) draw (and see bootstrap_batch for why the batches give the same bits)
        rows = min(batch, n_bootstrap - start)
        copies = rng.standard_normal((rows, flux.size))  # the copies, built in place:
        copies *= flux_err  # noise * flux_err
        copies += flux  # flux + noise * flux_err, as the original
        power[start:start + rows] = lomb_scargle_power(
            time_d, copies, frequency, dy=flux_err, method=method, chunk_size=chunk_size, overwrite=True
        )
    return percentiles_of_sorted(np.sort(power, axis=0), percentiles)


BOOTSTRAP_BATCH_SAMPLES = 400_000
"""Most samples (copies x time points) of the noisy copies held at once: 3.2 MB of float64, so that
a long stitched segment (tens of thousands of points) does not hold 100 full copies and their
temporaries in memory at once (dating the 24 held-out clusters: 396 MiB for the process tree
against 408-414 MiB with batches of 1e6 samples). The features do not depend on it (batches give the
same bits)."""


def bootstrap_batch(n_bootstrap: int, n_points: int) -> int:
    """Copies per batch: a multiple of 4 (at least 4) within :data:`BOOTSTRAP_BATCH_SAMPLES`, or all.

    Multiples of 4: the backend pairs copies, and single-threaded OpenBLAS computes a matrix-vector
    product four rows at a time, so such batches give the bits of one batch of all the copies."""
    rows = max(4, (BOOTSTRAP_BATCH_SAMPLES // max(n_points, 1)) // 4 * 4)
    return min(n_bootstrap, rows)


def classic_periodogram_frequencies(config: ClassicConfig) -> np.ndarray:
    """Frequencies (1/d) of the periodogram periodogram: the grid bins with period < ``vector_max_period_days``.

    With the defaults: 1,089 bins, 0.11-10.99 1/d (the original network input; SPEC 3c).
    """
    frequency = classic_frequency_grid(config.f_min, config.f_max, config.f_step)
    return frequency[_periodogram_mask(frequency, config)]


def _periodogram_mask(frequency: np.ndarray, config: ClassicConfig) -> np.ndarray:
    # The original computed periods as 1 / frequency and kept period < 10 d.
    return (1.0 / frequency) < config.vector_max_period_days


def _nan_features() -> dict[str, float]:
    return {name: float("nan") for name in CLASSIC_FEATURES}


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Autocorrelation function at every lag 0..n-1, as ``statsmodels.tsa.stattools.acf``.

    Same as ``acf(x, nlags=len(x) - 1, fft=True)`` (``adjusted=False``): the demeaned
    autocovariance by FFT, divided by the number of points, normalised by its lag-0 value.

    Args:
        x: evenly treated samples (the sample times are not used), shape (n,).

    Returns:
        float64 array, shape (n,); NaN everywhere when ``x`` is constant.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    centred = x - x.mean()
    # statsmodels pads to the next 5-smooth length, which is scipy's next_fast_len for real input
    spectrum = np.fft.fft(centred, n=scipy.fft.next_fast_len(2 * n + 1, real=True))
    acov = np.fft.ifft(spectrum * np.conjugate(spectrum))[:n].real / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return acov / acov[0]


def longest_contiguous_chunk(time_d: np.ndarray, max_gap_days: float) -> slice:
    """Index range of the longest run of samples with every gap <= ``max_gap_days`` (first if tied)."""
    gaps = np.flatnonzero(np.diff(time_d) > max_gap_days)
    bounds = np.concatenate(([-1], gaps, [time_d.size - 1]))
    longest = int(np.argmax(np.diff(bounds)))
    return slice(int(bounds[longest]) + 1, int(bounds[longest + 1]) + 1)


def strict_local_minima(x: np.ndarray) -> np.ndarray:
    """Indices of the strict local minima of ``x``: ``x[i] < x[i - 1]`` and ``x[i] < x[i + 1]``.

    The definition of ``scipy.signal.argrelextrema(x, np.less)`` (order 1, edge mode ``'clip'``):
    clipping makes an end sample its own neighbour, and ``x < x`` is false, so the first and last
    samples are never minima; a flat bottom (two equal samples) is not strict, hence no minimum;
    a comparison with NaN is false.

    Args:
        x: 1-D array (here the ACF, dimensionless).

    Returns:
        Increasing int array of indices, empty when there is no minimum (always when ``x.size < 3``).
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    centre = x[1:-1]
    return np.flatnonzero((centre < x[:-2]) & (centre < x[2:])) + 1


def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of ``x``, a plateau counted once, as ``scipy.signal.find_peaks``.

    A maximum is a run of one or more equal samples whose neighbours on both sides are smaller
    (the definition of scipy's ``find_peaks``, without conditions). The first and last samples
    have a neighbour on one side only, so a run that touches an end is never a maximum. A
    plateau is reported at its middle sample, rounded down: ``(first + last) // 2``. Comparisons
    with NaN are false, so NaN never takes part in a maximum.

    Args:
        x: 1-D array.

    Returns:
        Increasing int array of indices (empty when ``x.size < 3``).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    if x.size < 3:
        return np.empty(0, dtype=np.intp)
    run_first = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))  # runs of equal samples
    run_last = np.append(run_first[1:], x.size) - 1
    level = x[run_first]
    centre = level[1:-1]  # runs touching an end are excluded
    peak = np.flatnonzero((centre > level[:-2]) & (centre > level[2:])) + 1
    return (run_first[peak] + run_last[peak]) // 2


def count_peaks(x: np.ndarray, height: float) -> int:
    """Number of local maxima (:func:`local_maxima`) whose value is at least ``height``.

    ``len(scipy.signal.find_peaks(x, height=height)[0])``: a maximum exactly at ``height`` counts.

    Args:
        x: 1-D array.
        height: lowest value of a counted maximum, in the unit of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    return int(np.count_nonzero(x[local_maxima(x)] >= height))


def central_moment(x: np.ndarray, order: int) -> np.float64:
    """Population central moment ``m_k = (1/n) sum (x_i - xbar)^k`` for ``k`` = 2, 3 or 4.

    The arithmetic of ``scipy.stats.moment(x, k)`` step by step, so the result is the same to
    the last bit: ``d = x - mean(x)``, then ``d*d`` (k = 2), ``(d*d)*d`` (k = 3) or
    ``(d*d)*(d*d)`` (k = 4), then the mean (numpy's pairwise sum over ``n``).

    Args:
        x: 1-D float array, any unit u (the moment is in u^k).
        order: 2, 3 or 4.

    Returns:
        ``m_k`` (NaN for an empty array).
    """
    x = np.asarray(x, dtype=np.float64)
    if order not in (2, 3, 4):
        raise ValueError(f"order must be 2, 3 or 4, got {order}")
    if x.size == 0:
        return np.float64(np.nan)
    d = x - np.mean(x)
    square = d**2
    if order == 2:
        powers = square
    elif order == 3:
        powers = square * d
    else:
        powers = square**2
    return np.mean(powers)


def baluev_false_alarm_probability(
    power: float | np.ndarray, time_d: np.ndarray, flux_err: np.ndarray
) -> float | np.ndarray:
    """False-alarm probability of a peak of standard Lomb-Scargle power (Baluev 2008, eq. 6).

    The alias-free approximation for the highest peak of the standard-normalised, floating-mean
    periodogram of ``N`` points of pure Gaussian noise, with the Davies bound ``tau``
    (Baluev 2008, MNRAS 385, 1279, eqs. 5-6 and Table 1, ``d_H = 1``, ``d_K = 3``)::

        FAP_single = (1 - Z)^((N - 3) / 2)
        tau = gamma(N - 1) W (1 - Z)^((N - 4) / 2) sqrt((N - 1) Z / 2)
        gamma(M) = sqrt(2 / M) Gamma(M / 2) / Gamma((M - 1) / 2)
        W = f_max T_eff,   T_eff = sqrt(4 pi D_t),   D_t = weighted variance of t, weights dy^-2
        FAP = 1 - (1 - FAP_single) exp(-tau) = -expm1(-tau) + FAP_single exp(-tau)

    ``f_max`` is the top of astropy's default ``autofrequency`` grid (``samples_per_peak`` 5,
    ``nyquist_factor`` 5): with baseline ``T = max t - min t``, ``df = 1 / T / 5``,
    ``f_lo = df / 2``, ``n_f = 1 + round((5 N / (2 T) - f_lo) / df)``, ``f_max = f_lo + df (n_f - 1)``.
    ``D_t = <t^2> - <t>^2`` is taken on the times as given (BTJD), exactly as astropy
    ``LombScargle(t, y, dy).false_alarm_probability(Z)`` computes it (its default method
    'baluev'), operation for operation, so the two agree to the last bit. Only the times, the
    uncertainties and N enter; the flux does not.

    Args:
        power: peak power ``Z`` (dimensionless, standard normalisation, in [0, 1]); scalar or array.
        time_d: sample times, days, shape (N,); any order.
        flux_err: 1-sigma uncertainties (> 0), any unit, shape (N,).

    Returns:
        The false-alarm probability, same shape as ``power`` (a numpy scalar for a scalar).
    """
    t = np.asarray(time_d, dtype=np.float64)
    dy = np.asarray(flux_err, dtype=np.float64)
    z = np.asarray(power)
    n = t.size
    n_null, n_model = n - 1, n - 3  # degrees of freedom of the constant and the sinusoid-plus-mean models
    baseline = t.max() - t.min()
    df = 1.0 / baseline / FAP_SAMPLES_PER_PEAK
    f_lo = 0.5 * df
    f_top = FAP_NYQUIST_FACTOR * (0.5 * n / baseline)  # nyquist_factor x the average Nyquist frequency
    n_freq = 1 + int(np.round((f_top - f_lo) / df))
    f_max = f_lo + df * (n_freq - 1)
    weight_sum = (np.ones(t.shape) / dy**2).sum()
    mean_t2 = (t**2 / dy**2).sum() / weight_sum
    mean_t = (t / dy**2).sum() / weight_sum
    var_t = mean_t2 - mean_t**2
    w = f_max * np.sqrt(4 * np.pi * var_t)
    log_gamma_ratio = scipy.special.gammaln(n_null / 2) - scipy.special.gammaln((n_null - 1) / 2)
    gamma = np.sqrt(2 / n_null) * np.exp(log_gamma_ratio)
    fap_single = (1 - z) ** (0.5 * n_model)
    tau = gamma * w * (1 - z) ** (0.5 * (n_model - 1)) * np.sqrt(0.5 * n_null * z)
    return -np.expm1(-tau) + fap_single * np.exp(-tau)


def _acf_features(time_d: np.ndarray, flux: np.ndarray, config: ClassicConfig) -> tuple[dict[str, float], list[str]]:
    """ACF features of the longest contiguous chunk of raw flux (elk ``autocorr``)."""
    out = {name: float("nan") for name in ACF_FEATURES}
    chunk = longest_contiguous_chunk(time_d, config.acf_max_gap_days)
    ac_time, ac_flux = time_d[chunk], flux[chunk]
    if ac_flux.size < 3:
        return out, ["no_acf_chunk"]
    if np.ptp(ac_flux) == 0:
        return out, ["constant_flux"]
    acf = autocorrelation(ac_flux)
    out["rms"] = float(np.sqrt(np.mean(np.square(acf))))
    lags = ac_time - ac_time[0]
    minima = strict_local_minima(acf)
    if minima.size == 0:
        return out, ["no_acf_minimum"]
    after = acf[lags > lags[minima[0]]]
    if after.size == 0:
        return out, ["no_acf_minimum"]
    max_ac = np.max(after)
    out["max_autocorrelation"] = float(max_ac)
    # As the original: the first lag anywhere whose ACF equals the maximum.
    out["time_of_max_autocorrelation"] = float(lags[acf == max_ac][0])
    return out, []


def _j_stetson(time_d: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, close_days: float) -> float:
    """Stetson's J as computed by elk (SPEC 3a), on ELK magnitudes."""
    mag = 2.5 * np.log10(MAG_ZERO_FLUX / flux) + MAG_ZERO_POINT
    mag_err = np.sqrt(np.abs(-2.5 / (flux * np.log(10))) ** 2 * flux_err**2)
    n = time_d.size
    delta = np.sqrt(n / (n - 1)) * ((mag - np.mean(mag)) / mag_err)
    delta_times = np.concatenate((np.diff(time_d), [1.0]))
    pairs = delta_times < close_days
    p = np.where(pairs, delta * delta, delta**2 - 1)
    w = np.where(pairs, 1.0, 0.25)
    return float(np.sum(w * np.sign(p) * np.sqrt(np.abs(p))) / np.sum(w))


def _flux_features(time_d, flux, flux_err, config: ClassicConfig, constant: bool) -> dict[str, float]:
    """Deterministic statistics of the normalised flux ``nf = flux / median(flux)``.

    ``skewness`` is the third central moment of the raw flux (:func:`central_moment`), ``Entropy``
    is ``sum(-nf ln nf)`` (``scipy.special.entr``).
    """
    nf = flux / np.median(flux)
    out: dict[str, float] = {}
    out["std"] = float(np.std(nf))
    out["MAD"] = float(np.median(np.abs(nf - np.median(nf))))
    p25, p75 = np.percentile(nf, [25, 75])
    out["sigmaG"] = float(SIGMA_G_FACTOR * (p75 - p25))
    out["skewness"] = 0.0 if constant else float(central_moment(flux, 3))
    if constant:
        out["von_neumann_ratio"] = float("nan")
    else:
        out["von_neumann_ratio"] = float(1.0 / (np.sum(np.diff(nf) ** 2) / np.var(nf)))
    out["J_Stetson"] = _j_stetson(time_d, flux, flux_err, config.stetson_close_days)
    out["Entropy"] = float(np.sum(scipy.special.entr(nf)))
    return out


def _false_alarm_probability(time_d, flux, flux_err, max_power: float) -> float:
    """Baluev (2008) false-alarm probability of ``max_power`` for the unperturbed curve.

    As elk: astropy ``LombScargle(t, flux, flux_err).false_alarm_probability(max_power)`` with
    its defaults (method 'baluev', maximum frequency from the default autofrequency grid:
    5 x the average Nyquist frequency), computed by :func:`baluev_false_alarm_probability`.
    Only ``t``, ``dy`` and the number of points enter; ``flux`` is kept in the signature for
    the reader who compares with the original call.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        fap = baluev_false_alarm_probability(max_power, time_d, flux_err)
    return float(fap)


def _periodogram_features(
    time_d, flux, flux_err, config: ClassicConfig, rng: np.random.Generator
) -> tuple[dict[str, float], np.ndarray, list[str]]:
    frequency = classic_frequency_grid(config.f_min, config.f_max, config.f_step)
    in_periodogram = _periodogram_mask(frequency, config)
    pct = bootstrap_periodogram_percentiles(
        time_d,
        flux,
        flux_err,
        frequency,
        n_bootstrap=config.n_bootstrap,
        percentiles=config.percentiles,
        rng=rng,
        chunk_size=config.chunk_size,
    )
    med = pct[config.percentiles.index(50.0)]
    one_below = pct[config.percentiles.index(15.89)]
    out = {name: float("nan") for name in PERIODOGRAM_FEATURES}
    if not np.all(np.isfinite(pct)):
        return out, np.full(int(in_periodogram.sum()), np.nan, dtype=np.float32), ["periodogram_undefined"]

    max_power = np.max(med)
    out["max_power"] = float(max_power)
    out["freq_at_max_power"] = float(frequency[med == max_power][0])
    out["n_peaks"] = float(count_peaks(one_below, np.mean(med) + 2 * np.std(med)))
    high = frequency > FREQ_SPLIT
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio_of_power_at_high_v_low_freq"] = float(np.mean(med[~high]) / np.mean(med[high]))
    out["FAP"] = _false_alarm_probability(time_d, flux, flux_err, float(max_power))

    periodogram = med[in_periodogram]
    period = 1.0 / frequency[in_periodogram]
    for name, (p_lo, p_hi) in PERIOD_BANDS.items():
        out[name] = float(np.sum(periodogram[(period < p_hi) & (period > p_lo)]))
    return out, periodogram.astype(np.float32), []


def _invalid_reason(time_d: np.ndarray, flux: np.ndarray, flux_err: np.ndarray) -> bool:
    finite = np.isfinite(time_d).all() and np.isfinite(flux).all() and np.isfinite(flux_err).all()
    if not finite:
        return True
    return bool(np.any(flux <= 0) or np.any(flux_err <= 0) or np.ptp(time_d) == 0)


def classic_features(
    time_d: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray,
    *,
    rng: np.random.Generator,
    config: ClassicConfig,
) -> ClassicResult:
    """Classic features of one segment (SPEC 3a), with the original's quirks.

    Args:
        time_d: sample times, days, in the order of the light curve (sorted for one sector;
            sector after sector, in HDU order, for stitched segments), shape (n,).
        flux: flux, e/s (or already normalised per sector by the caller for stitched
            segments), shape (n,), > 0.
        flux_err: 1-sigma flux uncertainty, same unit as ``flux``, shape (n,), > 0.
        rng: generator for the bootstrap noise; seed it from (global seed, segment id). The
            result is a deterministic function of the inputs and the generator's state.
        config: parameters (:class:`ClassicConfig`).

    Returns:
        :class:`ClassicResult` with every feature of :data:`CLASSIC_FEATURES` as a float (NaN
        where not computable), the bootstrap median periodogram on
        :func:`classic_periodogram_frequencies` (float32), and the reason codes.

    Raises:
        ValueError: when the three arrays are not 1-D arrays of the same length (a caller bug,
            not a data problem; data problems give NaN features and a reason).
    """
    t = np.asarray(time_d, dtype=np.float64)
    f = np.asarray(flux, dtype=np.float64)
    e = np.asarray(flux_err, dtype=np.float64)
    if t.ndim != 1 or f.shape != t.shape or e.shape != t.shape:
        raise ValueError(
            f"time_d, flux and flux_err must be 1-D arrays of one length; got shapes {t.shape}, {f.shape}, {e.shape}"
        )
    n_periodogram = int(_periodogram_mask(classic_frequency_grid(config.f_min, config.f_max, config.f_step), config).sum())
    empty_periodogram = np.full(n_periodogram, np.nan, dtype=np.float32)
    if t.size < config.min_points:
        return ClassicResult(_nan_features(), empty_periodogram, "min_points")
    with np.errstate(all="ignore"):
        invalid = _invalid_reason(t, f, e)
    if invalid:
        return ClassicResult(_nan_features(), empty_periodogram, "invalid_input")

    reasons: list[str] = []
    constant = bool(np.ptp(f) == 0)
    if constant:
        reasons.append("constant_flux")
    features = _nan_features()
    features.update(_flux_features(t, f, e, config, constant))
    acf_values, acf_reasons = _acf_features(t, f, config)
    features.update(acf_values)
    reasons.extend(acf_reasons)
    lsp_values, periodogram, lsp_reasons = _periodogram_features(t, f, e, config, rng)
    features.update(lsp_values)
    reasons.extend(lsp_reasons)
    ordered = [code for code in REASON_CODES if code in reasons]
    return ClassicResult(features, periodogram, ";".join(ordered))
