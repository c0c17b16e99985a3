"""Periodograms (SPEC 3c): one float32 row per segment on a fixed frequency grid.

Names, used alike across the package: a segment's *periodogram* is its row on the feature set's
grid (``ClassicResult.periodogram``, ``InvariantResult.periodogram``, ``SegmentResult.periodogram``);
:class:`Periodograms` holds many of them as astropy's pair, ``frequency`` and ``power``; the
Lomb-Scargle computation itself lives in :mod:`tess_cluster_age.features.lombscargle`; the invariant
set's fine-grid ``A(f)`` is its *amplitude spectrum*, from which its periodogram is binned.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Periodograms:
    """Periodograms of many segments on one frequency grid.

    Attributes:
        segment_id: row labels, aligned to ``segments.parquet`` by ``segment_id``.
        frequency: grid, 1/d, shape (n_freq,).
        power: float32, shape (n_segments, n_freq); NaN rows where not computable.
        quantity: what ``power`` holds (e.g. "bootstrap median standard-normalised Lomb-Scargle power").
        attrs: metadata kept with the vectors, like ``DataFrame.attrs`` (the provenance record).
    """

    segment_id: np.ndarray
    frequency: np.ndarray
    power: np.ndarray
    quantity: str
    attrs: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment_id", np.asarray(self.segment_id, dtype=object))
        object.__setattr__(self, "frequency", np.asarray(self.frequency, dtype=np.float64))
        power = np.asarray(self.power, dtype=np.float32)
        if power.shape != (len(self.segment_id), self.frequency.size):
            raise ValueError(f"power has shape {power.shape}; expected ({len(self.segment_id)} segments, "
                             f"{self.frequency.size} frequencies)")
        object.__setattr__(self, "power", power)

    def rows(self, segment_ids) -> np.ndarray:
        """Power rows for the given segment ids, in that order (KeyError names a missing id)."""
        index = {s: i for i, s in enumerate(self.segment_id)}
        try:
            return self.power[[index[s] for s in segment_ids]]
        except KeyError as exc:
            raise KeyError(f"no periodogram for segment {exc.args[0]!r}") from None
