"""One home for the Lomb-Scargle periodogram: one front, backends chosen from one dispatch table.

:func:`lomb_scargle_power` computes the floating-mean Lomb-Scargle power (Lomb 1976; Scargle 1982;
generalised by Zechmeister & Kürster 2009) of one light curve or of many light curves that share
their times and uncertainties, in astropy's ``standard`` or ``psd`` normalisation, and picks its
implementation from :data:`BACKENDS`, as astropy's ``LombScargle`` does (its
``implementations/main.py``). Both feature sets use it: the classic set (SPEC 3a) for the
bootstrap of 100 noisy copies, the invariant set (SPEC 3b) for the amplitude spectrum.

The formula (Zechmeister & Kürster 2009, eqs. 4-15; VanderPlas 2018, section 6.2). With weights
``w_j = dy_j^-2 / sum(dy^-2)`` (``dy = 1`` when no uncertainties are given) and the
weighted-mean-subtracted data ``y_j`` (so that ``sum w y = 0``), at angular frequency
``omega = 2 pi f``::

    C  = sum w cos(omega t)          S  = sum w sin(omega t)
    C2 = sum w cos(2 omega t)        S2 = sum w sin(2 omega t)
    CC = (1 + C2) / 2 - C^2          SS = (1 - C2) / 2 - S^2          CS = S2 / 2 - C S
    YC = sum w y cos(omega t)        YS = sum w y sin(omega t)        YY = sum w y^2
    D  = CC SS - CS^2
    p(f) = (SS YC^2 + CC YS^2 - 2 CS YC YS) / D

and the power is ``p / YY`` (``standard``: dimensionless, in [0, 1]) or ``p sum(dy^-2) / 2``
(``psd``: flux squared over dy squared; without ``dy``, a sinusoid of semi-amplitude ``a`` sampled
``n`` times gives ``n a^2 / 4`` and white noise of variance ``s^2`` gives ``E[P] = s^2``), exactly
astropy's ``LombScargle(t, y, dy, fit_mean=True, center_data=True, normalization=...).power(f)``.

Backends (:data:`BACKENDS`)
---------------------------
``nufft``
    The project's shared-weights scheme: ``C, S, C2, S2, CC, SS, CS`` depend only on ``t`` and
    ``dy``, which all copies share, so they are computed once; ``YC + i YS`` of every copy comes
    from one batched type-1 non-uniform FFT (FINUFFT; Barnett et al. 2019) of
    ``x_j = 2 pi df t_j``. When ``f0`` is a multiple of ``df`` (the classic grid: 0.04 = 4 x 0.01)
    the frequencies are integer modes ``m``, ``2 f`` is mode ``2m``, and two real copies share one
    complex transform; otherwise phase factors ``exp(2 pi i f_c t_j)`` centre the grid on the
    modes. Regular grids ``f0 + k df`` only. Default tolerance 1e-13 (power errors ~1e-14).
``matrix``
    The same sums as float64 matrix products over time-chunks of ``chunk_size`` points: exact,
    any frequency array, memory ~ ``chunk_size x 2 n_freq x 8`` bytes per chunk.
``nifty-ls``
    nifty-ls' finufft backend (Garrison et al. 2024), one thread. Regular grids only. Default
    tolerance 1e-9, nifty-ls' own default: finer tolerances make finufft warn that they cannot be
    reached for its ``2 omega t`` transform. Measured 1.8e-10 of the peak power against astropy's
    exact ``cython`` method on a 20,000-bin, 1,000-day curve.

``method="auto"`` takes ``nufft`` on a regular grid and ``matrix`` otherwise. The tolerance is one
keyword, ``eps``; its default is the backend's entry in :data:`BACKENDS`. The two NUFFT backends
keep different defaults because each one defines the bits of one feature set (classic: ``nufft``
at 1e-13; invariant: ``nifty-ls`` at 1e-9); ``tests/features/test_lombscargle.py`` checks every
backend against astropy's exact result at its default.

Units: times in days, frequencies in cycles per day (1/d); ``y`` and ``dy`` in any common unit.

References
----------
Lomb, N. R. 1976, Ap&SS 39, 447. Scargle, J. D. 1982, ApJ 263, 835. Zechmeister, M. & Kürster, M.
2009, A&A 496, 577. VanderPlas, J. T. 2018, ApJS 236, 16. Barnett, A. H., Magland, J. & af
Klinteberg, L. 2019, SIAM J. Sci. Comput. 41, C479 (FINUFFT). Garrison, L. H. et al. 2024, RNAAS 8,
250 (nifty-ls).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import numpy as np

__all__ = ["BACKENDS", "NORMALIZATIONS", "Backend", "lomb_scargle_power"]

NORMALIZATIONS = ("standard", "psd")
"""Normalisations of :func:`lomb_scargle_power` (astropy's names)."""

_NUFFT_BLOCK_POINTS = 32768
"""Most time points per FINUFFT call of the ``nufft`` backend: bounds memory for long (stitched)
light curves (50 packed complex copies x 32,768 points = 26 MiB)."""

NIFTY_LS_THREADS = 1
"""One thread for nifty-ls: its default oversubscribes inside process pools (SPEC 7)."""


def _regular_grid(frequency: np.ndarray) -> tuple[float, float] | None:
    """``(f0, df)`` if ``frequency`` is ``f0 + k df`` to within 1e-12 1/d at every bin, else None.

    The NUFFT evaluates the sums exactly at ``f0 + k df``, so the grid must be regular to a
    precision that keeps ``2 pi df_error T`` negligible for spans T of years.
    """
    if frequency.size < 2:
        return None
    f0 = float(frequency[0])
    df = float((frequency[-1] - frequency[0]) / (frequency.size - 1))
    if df <= 0:
        return None
    linear = f0 + df * np.arange(frequency.size)
    if np.max(np.abs(frequency - linear)) > 1e-12:
        return None
    return f0, df


def _integer_offset(f0: float, df: float) -> int | None:
    """``round(f0 / df)`` when the grid ``f0 + k df`` lies on integer multiples of ``df``, else None."""
    k0 = int(round(f0 / df))
    return k0 if k0 >= 0 and abs(f0 - k0 * df) <= 1e-12 else None


_PLANS = threading.local()


def _nufft_plan(n_modes: int, n_trans: int, eps: float):
    """A reusable FINUFFT type-1 plan (creating one costs ~0.4 ms, and every segment needs two).

    Plans are cached per thread: a plan holds its points between ``setpts`` and ``execute``, so
    threads must not share one.
    """
    import finufft

    cache = getattr(_PLANS, "cache", None)
    if cache is None:
        cache = _PLANS.cache = {}
    key = (n_modes, n_trans, eps)
    plan = cache.get(key)
    if plan is None:
        if len(cache) >= 16:
            cache.clear()
        # nthreads=1: callers parallelise over segments; upsampfac=2 is FINUFFT's accurate regime.
        plan = cache[key] = finufft.Plan(1, (n_modes,), n_trans=n_trans, eps=eps, isign=1, nthreads=1, upsampfac=2.0)
    return plan


def _nufft(x: np.ndarray, c: np.ndarray, n_modes: int, eps: float) -> np.ndarray:
    """FINUFFT type 1, ``sum_j c[r, j] exp(+i m x_j)`` for m = -(n_modes // 2) .. (n_modes - 1) // 2.

    Args:
        x: points in [-pi, pi), shape (n,).
        c: complex128 strengths, C-contiguous, shape (r, n).
        n_modes: number of output modes.
        eps: FINUFFT tolerance.

    Returns:
        complex128 array, shape (r, n_modes).
    """
    plan = _nufft_plan(n_modes, c.shape[0], eps)
    plan.setpts(x)
    return plan.execute(c).reshape(c.shape[0], n_modes)


def _blocks(n: int) -> list[slice]:
    """Equal blocks of at most ``_NUFFT_BLOCK_POINTS`` time points."""
    n_blocks = max(1, -(-n // _NUFFT_BLOCK_POINTS))
    edges = np.linspace(0, n, n_blocks + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _nufft_sums_integer_grid(
    t: np.ndarray, yc: np.ndarray, w: np.ndarray, k0: int, df: float, n_freq: int, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trigonometric sums on a grid ``f_k = (k0 + k) df`` by type-1 NUFFTs of ``x_j = 2 pi df t_j``.

    Frequencies are then integer modes ``m = k0 + k`` and ``2 f_k`` is mode ``2 m``. Two real copies
    ``a, b`` share one complex transform ``F = A + iB`` of a mode range symmetric about 0:
    ``A(m) = (F(m) + conj F(-m)) / 2`` and ``B(m) = (F(m) - conj F(-m)) / 2i`` (real inputs have
    Hermitian spectra). This halves the work and needs no phase factors.

    Args:
        t: times relative to the middle of the span, days, shape (n,).
        yc: weighted-mean-subtracted copies, shape (B, n).
        w: normalised weights, shape (n,).

    Returns:
        (Z, W1, W2) as in :func:`_matrix_sums`.
    """
    n_copies, n = yc.shape
    m_top = k0 + n_freq  # modes needed: 1 .. m_top - 1 (and their negatives)
    n_pairs = (n_copies + 1) // 2
    spec = np.zeros((n_pairs, 2 * m_top), dtype=np.complex128)  # column j <-> mode j - m_top
    w_spec = np.zeros(4 * m_top, dtype=np.complex128)  # column j <-> mode j - 2 m_top
    for sl in _blocks(n):
        x = np.mod(2.0 * np.pi * df * t[sl] + np.pi, 2.0 * np.pi) - np.pi
        ws = w[sl]
        # W1 at modes m and W2 at modes 2m from one transform of the weights
        w_spec += _nufft(x, ws.astype(np.complex128)[np.newaxis, :], 4 * m_top, eps)[0]
        packed = np.zeros((n_pairs, x.size), dtype=np.complex128)
        np.multiply(yc[0::2, sl], ws, out=packed.real)
        np.multiply(yc[1::2, sl], ws, out=packed.imag[: n_copies // 2])
        spec += _nufft(x, packed, 2 * m_top, eps)
    pos = spec[:, m_top + k0 : m_top + k0 + n_freq]
    neg = np.conj(spec[:, m_top - k0 : 0 : -1])  # modes -k0, -(k0 + 1), ..., -(m_top - 1)
    z = np.empty((n_copies, n_freq), dtype=np.complex128)
    z[0::2] = 0.5 * (pos + neg)
    z[1::2] = (-0.5j * (pos - neg))[: n_copies // 2]
    centre = 2 * m_top
    modes = k0 + np.arange(n_freq)
    return z, w_spec[centre + modes], w_spec[centre + 2 * modes]


def _nufft_sums_shifted(
    t: np.ndarray, strengths: np.ndarray, f0: float, df: float, n_freq: int, eps: float
) -> np.ndarray:
    """``sum_j strengths[r, j] exp(2 pi i (f0 + k df) t_j)`` for k = 0..n_freq-1, any regular grid.

    Phase factors ``exp(2 pi i f_c t_j)`` centre the grid on ``f_c = f0 + (n_freq // 2) df``, so
    that FINUFFT mode ``k' = k - n_freq // 2`` is frequency ``f_k``.

    Returns:
        complex128 array, shape (m, n_freq).
    """
    m, n = strengths.shape
    f_centre = f0 + (n_freq // 2) * df
    out = np.zeros((m, n_freq), dtype=np.complex128)
    for sl in _blocks(n):
        tb = t[sl]
        phase = np.exp(2j * np.pi * f_centre * tb)
        x = np.mod(2.0 * np.pi * df * tb + np.pi, 2.0 * np.pi) - np.pi
        c = np.ascontiguousarray(strengths[:, sl] * phase)
        out += _nufft(x, c, n_freq, eps)
    return out


def _trig_chunk(t: np.ndarray, frequency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of ``2 pi f t`` for a chunk of times, shape (len(t), n_freq) each."""
    arg = (2.0 * np.pi) * np.multiply.outer(t, frequency)
    return np.cos(arg), np.sin(arg)


def _matrix_sums(
    t: np.ndarray, wy: np.ndarray, w: np.ndarray, frequency: np.ndarray, chunk_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted trigonometric sums by matrix products over time-chunks.

    Returns:
        (Z, W1, W2): ``Z[b] = sum wy[b] exp(i w t)``, ``W1 = sum w exp(i w t)``,
        ``W2 = sum w exp(2 i w t)``, complex128 with shapes (B, n_freq), (n_freq,), (n_freq,).
    """
    n_copies, n = wy.shape
    n_freq = frequency.size
    z_re = np.zeros((n_copies, n_freq))
    z_im = np.zeros((n_copies, n_freq))
    w1 = np.zeros(n_freq, dtype=np.complex128)
    w2 = np.zeros(n_freq, dtype=np.complex128)
    for start in range(0, n, chunk_size):
        sl = slice(start, start + chunk_size)
        cos, sin = _trig_chunk(t[sl], frequency)
        z_re += wy[:, sl] @ cos
        z_im += wy[:, sl] @ sin
        ws = w[sl]
        w1 += ws @ cos + 1j * (ws @ sin)
        # cos 2a = cos^2 - sin^2 = 1 - 2 sin^2 (the form astropy uses); sin 2a = 2 sin cos
        w2 += ws @ (1.0 - 2.0 * sin * sin) + 1j * (ws @ (2.0 * sin * cos))
    return z_re + 1j * z_im, w1, w2



def _centred(t: np.ndarray, y: np.ndarray, dy: np.ndarray | None, overwrite: bool):
    """Times relative to the middle of the span, normalised weights ``w``, weighted-mean-subtracted
    copies ``yc``, their weighted variances ``YY`` and ``sum(dy^-2)`` (``nufft`` and ``matrix``).

    The power is shift-invariant; centring the times keeps the phases ``2 pi f t`` small and accurate.
    """
    w = np.ones(t.size) if dy is None else dy**-2.0
    weight_sum = float(w.sum())
    w /= weight_sum
    t = t - 0.5 * (t.min() + t.max())
    mean = y @ w
    if overwrite:
        yc = y
        yc -= mean[:, np.newaxis]
    else:
        yc = y - mean[:, np.newaxis]
    yy = (yc * yc) @ w  # weighted variance of each copy (y is centred)
    return t, yc, w, yy, weight_sum


def _power_from_sums(z, w1, w2, yy, weight_sum: float, normalization: str) -> np.ndarray:
    """The power from the weighted sums ``z = [YC + i YS]`` (B, n_freq), ``w1 = C + i S``,
    ``w2 = C2 + i S2`` (n_freq,), ``YY`` (B,) and ``sum(dy^-2)``: see the module docstring."""
    c, s = w1.real, w1.imag
    cc = 0.5 * (1.0 + w2.real) - c * c
    ss = 0.5 * (1.0 - w2.real) - s * s
    cs = 0.5 * w2.imag - c * s
    det = cc * ss - cs * cs
    yc_sum, ys_sum = z.real, z.imag
    numerator = ss * yc_sum * yc_sum + cc * ys_sum * ys_sum - 2.0 * cs * yc_sum * ys_sum
    with np.errstate(divide="ignore", invalid="ignore"):
        if normalization == "standard":
            return numerator / (yy[:, np.newaxis] * det)
        return numerator / det * (0.5 * weight_sum)  # psd: p sum(dy^-2) / 2


def _nufft_power(t, y, dy, frequency, grid, normalization, eps, chunk_size, overwrite) -> np.ndarray:
    """The ``nufft`` backend: shared-weights sums by batched FINUFFT type-1 transforms."""
    t, yc, w, yy, weight_sum = _centred(t, y, dy, overwrite)
    f0, df = grid
    k0 = _integer_offset(f0, df)
    if k0 is not None:
        z, w1, w2 = _nufft_sums_integer_grid(t, yc, w, k0, df, frequency.size, eps)
    else:
        sums = _nufft_sums_shifted(t, np.vstack([w, yc * w]), f0, df, frequency.size, eps)
        w1, z = sums[0], sums[1:]
        w2 = _nufft_sums_shifted(t, w[np.newaxis, :], 2.0 * f0, 2.0 * df, frequency.size, eps)[0]
    return _power_from_sums(z, w1, w2, yy, weight_sum, normalization)


def _matrix_power(t, y, dy, frequency, grid, normalization, eps, chunk_size, overwrite) -> np.ndarray:
    """The ``matrix`` backend: the same sums by float64 matrix products over time-chunks."""
    t, yc, w, yy, weight_sum = _centred(t, y, dy, overwrite)
    z, w1, w2 = _matrix_sums(t, yc * w, w, frequency, chunk_size)
    return _power_from_sums(z, w1, w2, yy, weight_sum, normalization)


ASTROPY_LOMB_SCARGLE = "astropy.timeseries.periodograms.lombscargle.implementations.main"
"""The astropy module that nifty-ls registers its methods in when it is imported."""

_IMPORT_LOCK = threading.Lock()


def import_nifty_ls():
    """nifty-ls, imported without its registration in astropy's ``LombScargle`` methods.

    On import, nifty-ls adds ``fastnifty`` to astropy's Lomb-Scargle methods, which imports
    ``astropy.timeseries`` (about 0.2-0.3 s, a tenth of dating one cluster). This package calls
    ``nifty_ls.lombscargle`` directly and never through astropy, so while nifty-ls is first
    imported, and only if astropy's module is not imported yet, that module is marked absent:
    nifty-ls then skips the registration (it catches the ImportError) and computes the same
    periodograms. The mark is removed at once, so astropy's Lomb-Scargle imports normally later.
    """
    import logging
    import sys

    if "nifty_ls" in sys.modules:
        return sys.modules["nifty_ls"]
    with _IMPORT_LOCK:
        blocked = ASTROPY_LOMB_SCARGLE not in sys.modules
        if blocked:
            sys.modules[ASTROPY_LOMB_SCARGLE] = None   # `import` of a None entry raises ImportError
        # nifty-ls would log "Astropy not found" (not so) through logging.info, which also configures
        # the root logger when it has no handler: a NullHandler meanwhile, and the message disabled
        disabled = logging.root.manager.disable
        logging.disable(max(disabled, logging.INFO))
        placeholder = logging.NullHandler() if not logging.root.handlers else None
        if placeholder is not None:
            logging.root.addHandler(placeholder)
        try:
            import nifty_ls  # it loads finufft
        finally:
            logging.disable(disabled)
            if placeholder is not None:
                logging.root.removeHandler(placeholder)
            if blocked and sys.modules.get(ASTROPY_LOMB_SCARGLE, 0) is None:
                del sys.modules[ASTROPY_LOMB_SCARGLE]
    return nifty_ls


def _nifty_ls_power(t, y, dy, frequency, grid, normalization, eps, chunk_size, overwrite) -> np.ndarray:
    """The ``nifty-ls`` backend: nifty-ls' finufft implementation, one thread."""
    nifty_ls = import_nifty_ls()
    single = y.shape[0] == 1  # nifty-ls' 1-D path, not its batched one, for one curve
    result = nifty_ls.lombscargle(
        t - t[0],
        y[0] if single else y,
        dy,
        fmin=frequency[0],
        fmax=frequency[-1],
        Nf=frequency.size,
        normalization=normalization,
        backend="finufft",
        nthreads=NIFTY_LS_THREADS,
        finufft_kwargs={"eps": eps},
    )
    return np.asarray(result.power, dtype=np.float64).reshape(y.shape[0], frequency.size)


@dataclasses.dataclass(frozen=True)
class Backend:
    """One Lomb-Scargle implementation in :data:`BACKENDS`.

    Attributes
    ----------
    compute : callable
        ``compute(t, y, dy, frequency, grid, normalization, eps, chunk_size, overwrite)`` -> power,
        shape (B, n_freq), for validated float64 inputs (``y`` 2-D, ``grid = (f0, df)`` or None).
    regular_grid : bool
        Needs a regular frequency grid ``f0 + k df``.
    eps : float or None
        Default NUFFT tolerance (relative to the l1 norm of the strengths); None for exact backends.
    """

    compute: Callable
    regular_grid: bool
    eps: float | None


BACKENDS: dict[str, Backend] = {
    "nufft": Backend(_nufft_power, regular_grid=True, eps=1e-13),
    "matrix": Backend(_matrix_power, regular_grid=False, eps=None),
    "nifty-ls": Backend(_nifty_ls_power, regular_grid=True, eps=1e-9),
}
"""The backends, by name (see the module docstring); ``method="auto"`` picks ``nufft`` or ``matrix``."""


CHUNK_SIZE = 512
"""Time points per chunk of the matrix method's products (memory ~ ``CHUNK_SIZE x 2 n_freq x 8`` bytes)."""


def lomb_scargle_power(
    time_d: np.ndarray,
    y: np.ndarray,
    frequency: np.ndarray,
    *,
    dy: np.ndarray | None = None,
    normalization: str = "standard",
    method: str = "auto",
    eps: float | None = None,
    chunk_size: int = CHUNK_SIZE,
    overwrite: bool = False,
) -> np.ndarray:
    """Floating-mean Lomb-Scargle power of one light curve or of many sharing ``time_d`` and ``dy``.

    Every row of ``y`` gets astropy's ``LombScargle(time_d, row, dy, fit_mean=True,
    center_data=True, normalization=normalization).power(frequency)`` (see the module docstring
    for the formula and the backends).

    Parameters
    ----------
    time_d : ndarray, shape (n,)
        Sample times, days.
    y : ndarray, shape (n,) or (B, n)
        Flux of one curve, or of B copies (any unit, the same for all rows).
    frequency : ndarray, shape (n_freq,)
        Frequencies, cycles per day (1/d), > 0.
    dy : ndarray, shape (n,), optional
        1-sigma uncertainties, same unit as ``y``; finite and > 0. None: unit weights.
    normalization : {"standard", "psd"}
        ``standard``: dimensionless, in [0, 1]; ``psd``: see the module docstring.
    method : {"auto", "nufft", "matrix", "nifty-ls"}
        A key of :data:`BACKENDS`; ``auto`` is ``nufft`` on a regular grid, else ``matrix``.
    eps : float, optional
        NUFFT tolerance; default the backend's (:data:`BACKENDS`). Ignored by ``matrix``.
    chunk_size : int
        Time points per matrix product (``matrix`` only): bounds memory.
    overwrite : bool
        Let the ``nufft`` and ``matrix`` backends centre a 2-D float64 ``y`` in place (saves a copy).

    Returns
    -------
    ndarray, shape (n_freq,) for 1-D ``y``, else (B, n_freq), float64
        The power; NaN where undefined (a copy with zero weighted variance, ``standard``).

    Raises
    ------
    ValueError
        Mismatched shapes, an empty or 2-D frequency array, an unknown method or normalisation,
        or a backend that needs a regular grid given an irregular one.
    """
    t = np.asarray(time_d, dtype=np.float64)
    values = np.asarray(y, dtype=np.float64)
    single = values.ndim == 1
    if single:
        values = values[np.newaxis, :]
    dy = None if dy is None else np.asarray(dy, dtype=np.float64)
    freq = np.asarray(frequency, dtype=np.float64)
    if t.ndim != 1 or values.ndim != 2 or values.shape[1] != t.size or (dy is not None and dy.shape != t.shape):
        raise ValueError(
            f"shapes do not match: time {t.shape}, y {np.shape(y)}, dy {None if dy is None else dy.shape}; "
            "expected (n,), (B, n) or (n,), and (n,)"
        )
    if freq.ndim != 1 or freq.size == 0:
        raise ValueError("frequency must be a non-empty 1-D array (1/d)")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; use one of {', '.join(NORMALIZATIONS)}")
    if method != "auto" and method not in BACKENDS:
        raise ValueError(f"unknown method {method!r}; use one of auto, {', '.join(BACKENDS)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    grid = _regular_grid(freq)
    if method == "auto":
        method = "nufft" if grid is not None else "matrix"
    backend = BACKENDS[method]
    if backend.regular_grid and grid is None:
        raise ValueError(f"method={method!r} needs a regular frequency grid f0 + k df; use method='matrix'")
    eps = backend.eps if eps is None else eps
    power = backend.compute(t, values, dy, freq, grid, normalization, eps, chunk_size, overwrite and y is values)
    return power[0] if single else power
