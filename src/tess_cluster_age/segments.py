"""Light-curve segments: the pieces of a cluster's light curve that become model samples.

A segment references samples and never copies flux: ``parts`` is a list of
``{"sector", "i0", "i1"}`` index ranges into that cluster's sector arrays (as ingested, in HDU
order). Kinds (SPEC section 2):

- ``sector``: one whole sector table.
- ``half``: each sector split by index, ``[0, n//2)`` and ``[n//2, n)``.
- ``stitched``: all sectors of the cluster, each divided by its median flux, in HDU order.
- ``window``: ``window_days`` windows every ``window_stride_days`` inside a sector, kept when they
  hold at least ``window_min_coverage`` of the points the sector's cadence implies.
- ``combo``: seeded random k-subsets of ≥ ``combo_min_sectors`` sectors, stitched like
  ``stitched``; at most ``combo_max_per_cluster`` per k, two combos sharing at most
  ``combo_max_overlap`` (Jaccard) of their sectors.

``weight`` = 1 / (number of the cluster's segments of that kind), so that every cluster counts once
per kind in training.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age.config import ParameterError, config_from_params
from tess_cluster_age.lightcurves import SECONDS_PER_DAY, SectorLightCurve, sectors_from_samples
from tess_cluster_age.seeding import keyed_rng

logger = logging.getLogger(__name__)

KINDS = ("sector", "half", "stitched", "window", "combo")
NORMALISED_KINDS = frozenset({"stitched", "combo"})
"""Kinds whose parts are each divided by their sector's median flux before concatenation."""

SEGMENT_COLUMNS = ["segment_id", "name", "galaxy", "kind", "parts", "n_points", "n_sectors",
                   "span_days", "cadence_s", "weight"]


@dataclasses.dataclass(frozen=True)
class SegmentConfig:
    """Which segment kinds to make, with their caps and seeds (``parameters_augmentation.yml``)."""

    kinds: tuple[str, ...] = ("sector", "half", "stitched")
    window_days: float = 12.0
    window_stride_days: float = 6.0
    window_min_coverage: float = 0.7
    combo_sizes: tuple[int, ...] = (2, 3)
    combo_min_sectors: int = 3
    combo_max_per_cluster: int = 10
    combo_max_overlap: float = 0.5
    combo_max_attempts: int = 2000

    def __post_init__(self) -> None:
        problems = []
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            problems.append(f"unknown kinds {unknown}; kinds are {list(KINDS)}")
        if not self.window_days > 0:
            problems.append(f"window_days must be > 0 (got {self.window_days})")
        if not self.window_stride_days > 0:
            problems.append(f"window_stride_days must be > 0 (got {self.window_stride_days})")
        if not 0 < self.window_min_coverage <= 1:
            problems.append(f"window_min_coverage must lie in (0, 1] (got {self.window_min_coverage})")
        if not self.combo_sizes or any(k < 2 for k in self.combo_sizes):
            problems.append(f"combo_sizes must be a non-empty list of subset sizes >= 2 (got {list(self.combo_sizes)})")
        if self.combo_min_sectors < 2:
            problems.append(f"combo_min_sectors must be >= 2 (got {self.combo_min_sectors})")
        if self.combo_max_per_cluster < 1:
            problems.append(f"combo_max_per_cluster must be >= 1 (got {self.combo_max_per_cluster})")
        if not 0 <= self.combo_max_overlap <= 1:
            problems.append(f"combo_max_overlap must lie in [0, 1] (got {self.combo_max_overlap})")
        if self.combo_max_attempts < 1:
            problems.append(f"combo_max_attempts must be >= 1 (got {self.combo_max_attempts})")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> SegmentConfig:
        """Build from the ``augmentation`` parameters; ``kinds`` is a mapping kind -> on/off (true/false).

        Raises:
            ParameterError: an unknown kind or key, a switch that is not true/false, a value of
                the wrong type or out of range (named with its value and what is allowed).
        """
        params = dict(params or {})
        switches = params.pop("kinds", {k: k in cls.kinds for k in KINDS})
        if not isinstance(switches, Mapping):
            raise ParameterError(f"augmentation.kinds = {switches!r}: a mapping kind: true/false is required "
                                 f"(kinds are {list(KINDS)})")
        unknown_kinds = sorted(set(switches) - set(KINDS))
        if unknown_kinds:
            raise ParameterError(f"augmentation parameters: unknown kinds {unknown_kinds}; kinds are {KINDS}")
        not_bool = {k: v for k, v in switches.items() if not isinstance(v, bool)}
        if not_bool:
            raise ParameterError("; ".join(f"augmentation.kinds.{k} = {v!r}: true or false is required" for k, v in not_bool.items()))
        params["kinds"] = [k for k in KINDS if switches.get(k, False)]
        return config_from_params(cls, params, "augmentation")


def _segment(name, galaxy, kind, key, parts, sectors_by_number) -> dict[str, Any]:
    times = [sectors_by_number[p["sector"]].time_btjd[p["i0"]:p["i1"]] for p in parts]
    steps = np.concatenate([np.diff(t) for t in times])
    start = min(t[0] for t in times)
    end = max(t[-1] for t in times)
    return {
        "segment_id": f"{name}|{kind}|{key}",
        "name": name,
        "galaxy": galaxy,
        "kind": kind,
        "parts": [dict(p) for p in parts],
        "n_points": int(sum(p["i1"] - p["i0"] for p in parts)),
        "n_sectors": len({p["sector"] for p in parts}),
        "span_days": float(end - start),
        "cadence_s": float(np.median(steps) * SECONDS_PER_DAY) if steps.size else float("nan"),
    }


def _whole(sector: SectorLightCurve) -> dict[str, int]:
    return {"sector": sector.sector, "i0": 0, "i1": sector.n_points}


def window_ranges(time: np.ndarray, cadence_s: float, config: SegmentConfig) -> list[tuple[int, int]]:
    """Index ranges ``[i0, i1)`` of the windows of one sector.

    Windows start at ``time[0] + k * window_stride_days`` and last ``window_days``; a window is kept
    when it holds at least ``window_min_coverage × window_days / cadence`` samples.
    """
    if time.size < 2 or not np.isfinite(cadence_s) or cadence_s <= 0:
        return []
    expected = config.window_days * SECONDS_PER_DAY / cadence_s
    ranges = []
    start = time[0]
    # a window may end up to one cadence after the last sample, which then is its last sample
    while start + config.window_days <= time[-1] + cadence_s / SECONDS_PER_DAY:
        i0, i1 = np.searchsorted(time, [start, start + config.window_days])
        if i1 - i0 >= config.window_min_coverage * expected:
            ranges.append((int(i0), int(i1)))
        start += config.window_stride_days
    return ranges


def combo_subsets(name: str, n_sectors: int, config: SegmentConfig, seed: int) -> list[tuple[int, ...]]:
    """Seeded random k-subsets (indices into the cluster's sectors, sorted) for every k in ``combo_sizes``.

    At most ``combo_max_per_cluster`` subsets per k; each new subset shares at most
    ``combo_max_overlap`` of its sectors (Jaccard index |A∩B| / |A∪B|) with every subset already kept.
    When a cluster has few sectors, every subset is considered in a seeded order instead of drawn.
    """
    if n_sectors < config.combo_min_sectors:
        return []
    rng = keyed_rng(seed, f"{name}|combo")
    chosen: list[frozenset[int]] = []
    result: list[tuple[int, ...]] = []
    for k in config.combo_sizes:
        if not 1 < k < n_sectors:
            continue
        kept_for_k = 0
        candidates: Iterable[tuple[int, ...]]
        if math.comb(n_sectors, k) <= config.combo_max_attempts:
            every = list(itertools.combinations(range(n_sectors), k))
            candidates = [every[i] for i in rng.permutation(len(every))]
        else:
            candidates = (tuple(sorted(rng.choice(n_sectors, size=k, replace=False).tolist()))
                          for _ in range(config.combo_max_attempts))
        for subset in candidates:
            if kept_for_k >= config.combo_max_per_cluster:
                break
            candidate = frozenset(subset)
            if candidate in chosen:
                continue
            if any(len(candidate & other) / len(candidate | other) > config.combo_max_overlap for other in chosen):
                continue
            chosen.append(candidate)
            result.append(tuple(sorted(subset)))
            kept_for_k += 1
    return result


def cluster_segments(name: str, galaxy: str, sectors: list[SectorLightCurve], config: SegmentConfig,
                     seed: int) -> list[dict[str, Any]]:
    """Every segment of one cluster, for the kinds switched on in ``config``.

    Args:
        name, galaxy: the cluster.
        sectors: its ingested sectors in HDU order (only times and cadences are used).
        config: kinds, caps.
        seed: global seed (combos are drawn from ``keyed_rng(seed, name + "|combo")``).

    Returns:
        Segment rows (see ``SEGMENT_COLUMNS``) without ``weight``.
    """
    by_number = {s.sector: s for s in sectors}
    if len(by_number) != len(sectors):
        raise ValueError(f"{name}: a sector number appears twice; ingestion must keep one table per sector")
    rows = []
    if "sector" in config.kinds:
        rows += [_segment(name, galaxy, "sector", s.sector, [_whole(s)], by_number) for s in sectors]
    if "half" in config.kinds:
        for s in sectors:
            middle = s.n_points // 2
            if middle < 2 or s.n_points - middle < 2:
                continue
            rows.append(_segment(name, galaxy, "half", f"{s.sector}:0", [{"sector": s.sector, "i0": 0, "i1": middle}], by_number))
            rows.append(_segment(name, galaxy, "half", f"{s.sector}:1", [{"sector": s.sector, "i0": middle, "i1": s.n_points}], by_number))
    if "stitched" in config.kinds and sectors:
        rows.append(_segment(name, galaxy, "stitched", "all", [_whole(s) for s in sectors], by_number))
    if "window" in config.kinds:
        for s in sectors:
            for k, (i0, i1) in enumerate(window_ranges(s.time_btjd, s.cadence_s, config)):
                rows.append(_segment(name, galaxy, "window", f"{s.sector}:{k}", [{"sector": s.sector, "i0": i0, "i1": i1}], by_number))
    if "combo" in config.kinds:
        for subset in combo_subsets(name, len(sectors), config, seed):
            parts = [_whole(sectors[i]) for i in subset]
            key = "+".join(str(sectors[i].sector) for i in subset)
            rows.append(_segment(name, galaxy, "combo", key, parts, by_number))
    return rows


def add_weights(segments: pd.DataFrame) -> pd.DataFrame:
    """``weight`` = 1 / (number of segments of the same cluster and kind)."""
    out = segments.copy()
    out["weight"] = 1.0 / out.groupby(["name", "kind"])["segment_id"].transform("size").astype(float)
    return out


SectorArrays = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
"""Sector number -> (time BTJD d, flux e/s, flux_err e/s) of one cluster: what segment parts index."""


def sector_arrays(sectors: Iterable[SectorLightCurve]) -> SectorArrays:
    """The mapping :func:`segment_arrays` reads, from a cluster's sectors (views, not copies)."""
    return {s.sector: (s.time_btjd, s.flux_e_per_s, s.flux_err_e_per_s) for s in sectors}


def segment_arrays(kind: str, parts: list[dict[str, int]], sectors: SectorArrays,
                   normalise: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples of one segment: ``(time_d, flux, flux_err)``.

    Args:
        kind: segment kind; for ``stitched`` and ``combo`` each part's flux and flux_err are
            divided by that part's median flux (dimensionless), as in the original
            sector-stitched table; otherwise flux stays in e/s.
        parts: ``{"sector", "i0", "i1"}`` ranges, in HDU order.
        sectors: sector number -> (time BTJD d, flux e/s, flux_err e/s) of the cluster.
        normalise: override the kind's rule (``False`` gives the raw e/s samples of any kind).
    """
    normalise = kind in NORMALISED_KINDS if normalise is None else normalise
    times, fluxes, errors = [], [], []
    for part in parts:
        time, flux, flux_err = sectors[int(part["sector"])]
        i0, i1 = int(part["i0"]), int(part["i1"])
        t, f, e = time[i0:i1], flux[i0:i1], flux_err[i0:i1]
        if normalise:
            median = np.median(f)
            f, e = f / median, e / median
        times.append(t)
        fluxes.append(f)
        errors.append(e)
    if len(parts) == 1:
        return times[0], fluxes[0], errors[0]
    return np.concatenate(times), np.concatenate(fluxes), np.concatenate(errors)


def segment_table(clusters: pd.DataFrame, samples: pd.DataFrame, config: SegmentConfig, seed: int) -> pd.DataFrame:
    """One row per segment of every cluster (SPEC section 2), for the kinds switched on.

    Args:
        clusters: one row per cluster (``name``, ``galaxy``), in the order the segments are listed.
        samples: the long sample table (``name, sector, hdu, time, flux, flux_err, cadence_s``;
            BTJD d, e/s, e/s, s), as :func:`tess_cluster_age.lightcurves.sample_table` makes it.
        config: which kinds are cut, and the window and combo settings.
        seed: global seed; combos are drawn from a generator keyed by (seed, cluster name).

    Returns:
        :data:`SEGMENT_COLUMNS`: ``segment_id, name, galaxy, kind, parts, n_points, n_sectors,
        span_days (d), cadence_s (median sample spacing, s), weight``, clusters in table order.
    """
    sectors = sectors_from_samples(samples)
    rows = []
    for name, galaxy in zip(clusters["name"], clusters["galaxy"]):
        rows += cluster_segments(name, galaxy, sectors.get(name, []), config, seed)
    segments = add_weights(pd.DataFrame(rows, columns=[c for c in SEGMENT_COLUMNS if c != "weight"]))
    counts = segments["kind"].value_counts().reindex(list(config.kinds), fill_value=0)
    logger.info("Built %d segments of %d clusters: %s", len(segments), segments["name"].nunique(),
                ", ".join(f"{k} {n}" for k, n in counts.items()))
    return segments[SEGMENT_COLUMNS]
