"""Feature scaling fitted on training rows only: median imputation, optional signed log, standardisation."""

from __future__ import annotations

import dataclasses

import numpy as np


def signed_log(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``sign(x) log10(1 + |x| / scale)``: compresses heavy tails of either sign, ~linear below ``scale``."""
    return np.sign(values) * np.log10(1.0 + np.abs(values) / scale)


@dataclasses.dataclass
class Standardiser:
    """Scaling of a feature matrix, fitted once on training rows (never on held-out clusters).

    NaN features (SPEC 3d) are replaced by the training median; with ``log_transform`` every column
    goes through :func:`signed_log` with its training median |x| as scale; then each column is
    centred and scaled to unit weighted standard deviation (constant columns are left at 0).
    """

    log_transform: bool = False
    median_: np.ndarray | None = None
    log_scale_: np.ndarray | None = None
    mean_: np.ndarray | None = None
    std_: np.ndarray | None = None

    def fit(self, values: np.ndarray, weight: np.ndarray | None = None) -> "Standardiser":
        values = np.asarray(values, float)
        with np.errstate(all="ignore"):
            median = np.nanmedian(values, axis=0)
        self.median_ = np.where(np.isfinite(median), median, 0.0)
        filled = self._fill(values)
        if self.log_transform:
            scale = np.median(np.abs(filled), axis=0)
            self.log_scale_ = np.where(scale > 0, scale, 1.0)
            filled = signed_log(filled, self.log_scale_)
        weight = np.ones(len(values)) if weight is None else np.asarray(weight, float)
        self.mean_ = np.average(filled, axis=0, weights=weight)
        std = np.sqrt(np.average((filled - self.mean_) ** 2, axis=0, weights=weight))
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def _fill(self, values: np.ndarray) -> np.ndarray:
        values = np.where(np.isfinite(values), values, np.nan)
        return np.where(np.isnan(values), self.median_, values)

    def transform(self, values: np.ndarray) -> np.ndarray:
        filled = self._fill(np.asarray(values, float))
        if self.log_transform:
            filled = signed_log(filled, self.log_scale_)
        return (filled - self.mean_) / self.std_
