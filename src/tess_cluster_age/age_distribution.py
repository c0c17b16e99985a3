"""The predicted age distribution of one cluster: an equal-weight mixture of Gaussians in log age.

A model predicts a Gaussian ``N(mu_i, sigma_i)`` in log10(age / yr) for each segment ``i`` of a
cluster's light curve; the cluster's distribution is their equal-weight mixture (SPEC 4)

    p(x) = (1/n) sum_i phi((x - mu_i) / sigma_i) / sigma_i,

whose mean is ``mean(mu_i)`` and whose variance is ``mean(sigma_i^2 + mu_i^2) - mean(mu_i)^2``
(:func:`tess_cluster_age.evaluation.mixture_moments`). Its quantiles have no closed form and are
found by bisection on the CDF (:func:`tess_cluster_age.evaluation.mixture_quantiles`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tess_cluster_age import evaluation


@dataclasses.dataclass(frozen=True, eq=False)
class AgeDistribution:
    """The predicted distribution of a cluster's log age (log10 yr), as a mixture of its segments' Gaussians.

    Attributes:
        mu: per-segment predicted mean log age (log10 yr).
        sigma: per-segment predicted standard deviation (dex), all > 0.
        name: the cluster.
        model: the model that predicted it.
        interval_sigma: nominal level (0.68, 0.95) -> per-segment sigma (dex) of that calibrated
            interval (``evaluation.INTERVALS``): :meth:`interval` at that level is the central
            interval of the mixture with these sigmas. Other levels, and a distribution without
            them, use ``sigma``.

    Example:
        >>> d = AgeDistribution(np.array([8.0, 8.2]), np.array([0.3, 0.3]))
        >>> round(d.mean, 3), round(d.median, 3)
        (8.1, 8.1)
    """

    mu: np.ndarray
    sigma: np.ndarray
    name: str = ""
    model: str = ""
    interval_sigma: Mapping[float, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        mu, sigma = np.asarray(self.mu, float).ravel(), np.asarray(self.sigma, float).ravel()
        if mu.size == 0 or mu.shape != sigma.shape:
            raise ValueError(f"an age distribution needs one sigma per mu and at least one of each (got {mu.size} and {sigma.size})")
        bad = ~(np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0))
        if bad.any():
            whose = " ".join(part for part in (self.name, f"({self.model})" if self.model else "") if part) or "an age distribution"
            raise ValueError(f"{whose}: needs finite mu and finite sigma > 0; {int(bad.sum())} of {mu.size} components are not "
                             f"(first: mu {float(mu[bad][0])!r}, sigma {float(sigma[bad][0])!r})")
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        levels = {float(level): np.asarray(values, float).ravel() for level, values in self.interval_sigma.items()}
        for level, values in levels.items():
            if values.shape != mu.shape or not (np.isfinite(values).all() and (values > 0).all()):
                raise ValueError(f"the {level:.0%} interval needs one finite sigma > 0 per mu")
        object.__setattr__(self, "interval_sigma", levels)

    def __repr__(self) -> str:
        lo, hi = self.interval(0.68)
        return (f"<AgeDistribution {self.name or 'cluster'} ({self.model or 'model'}): log age {self.median:.2f} "
                f"[{lo:.2f}, {hi:.2f}] (68 %), {self.mu.size} segments>")

    @property
    def n_segments(self) -> int:
        return int(self.mu.size)

    @property
    def mean(self) -> float:
        """Mean log age (log10 yr): ``mean(mu_i)``."""
        return float(np.mean(self.mu))

    @property
    def std(self) -> float:
        """Standard deviation (dex): ``sqrt(mean(sigma_i^2 + mu_i^2) - mean(mu_i)^2)``."""
        return float(evaluation.mixture_sigma(self.mean, np.mean(evaluation.second_moment(self.mu, self.sigma))))

    @property
    def median(self) -> float:
        """Median log age (log10 yr)."""
        return float(self.quantile(0.5))

    def pdf(self, log_age: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Probability density per dex at ``log_age`` (log10 yr)."""
        x = np.atleast_1d(np.asarray(log_age, float))
        z = (x[:, None] - self.mu[None, :]) / self.sigma[None, :]
        return (evaluation.standard_normal_pdf(z) / self.sigma[None, :]).mean(axis=1)

    def cdf(self, log_age: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Probability that the log age is below ``log_age`` (log10 yr)."""
        return evaluation.mixture_cdf(log_age, self.mu, self.sigma)

    def quantile(self, probability: float | Sequence[float] | np.ndarray) -> np.ndarray | float:
        """The log age (log10 yr) below which the age lies with ``probability`` (scalar in, scalar out)."""
        p = np.atleast_1d(np.asarray(probability, float))
        if ((p <= 0) | (p >= 1)).any():
            raise ValueError(f"probabilities must lie in (0, 1), got {p.tolist()}")
        values = evaluation.mixture_quantiles(self.mu, self.sigma, p)
        return float(values[0]) if np.ndim(probability) == 0 else values

    def interval(self, level: float = 0.68) -> tuple[float, float]:
        """The central interval holding ``level`` of the probability (log10 yr): the
        ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles, of the mixture with that level's
        calibrated sigmas where the distribution has them (within 0.005 of ``level``)."""
        calibrated = [values for nominal, values in self.interval_sigma.items() if abs(nominal - level) < 0.005]
        distribution = dataclasses.replace(self, sigma=calibrated[0], interval_sigma={}) if calibrated else self
        lo, hi = distribution.quantile([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def grid(self, start: float = 4.0, stop: float = 12.0, step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """The density (per dex) on a log-age grid from ``start`` to ``stop`` (log10 yr, 10 kyr to
        1 Tyr by default: wider than any age, so that the tails of a broad distribution are kept)."""
        log_age = np.round(np.arange(start, stop + step / 2, step), 10)
        return log_age, self.pdf(log_age)

    def plot(self, ax: Any = None, label: str | None = None, **kwargs: Any) -> Any:
        """Draw the density against log age, with the 68 % and 95 % intervals shaded; returns the axes.

        Args:
            ax: matplotlib axes (a new figure's when None).
            label: the curve's legend label (default: the model's name).
            **kwargs: passed to ``ax.plot`` (colour, line style ...).
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 3))
        lo95, hi95 = self.interval(0.95)
        span = hi95 - lo95
        x = np.linspace(lo95 - 0.3 * span, hi95 + 0.3 * span, 400)
        density = self.pdf(x)
        line, = ax.plot(x, density, label=label if label is not None else (self.model or None), **kwargs)
        for level, alpha in ((0.95, 0.15), (0.68, 0.3)):
            lo, hi = self.interval(level)
            inside = (x >= lo) & (x <= hi)
            ax.fill_between(x[inside], density[inside], color=line.get_color(), alpha=alpha, linewidth=0)
        ax.axvline(self.median, color=line.get_color(), linestyle=":", linewidth=1)
        ax.set_xlabel("log10(age / yr)")
        ax.set_ylabel("probability density per dex")
        if self.name:
            ax.set_title(self.name)
        return ax
