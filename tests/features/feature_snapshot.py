"""Snapshot of the feature extraction on a few real clusters, to prove a refactoring bit-identical.

Usage (real ELK data needed)::

    python -m tests.features.feature_snapshot save /tmp/before.parquet
    python -m tests.features.feature_snapshot compare /tmp/before.parquet

``save`` computes the classic and invariant features and periodograms of every segment of every
kind (sector, half, stitched, window, combo) of one cluster per galaxy and writes them to parquet;
``compare`` recomputes them and checks that every value is identical (``np.array_equal`` with
``equal_nan``), reason codes included. It exits 1 and names the first differing column otherwise.
Bit-identity holds on one machine and library build, not across them: this is a tool for a
refactoring, not a committed golden file.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tess_cluster_age.features import extract
from tess_cluster_age.features.classic import CLASSIC_FEATURES, ClassicConfig
from tess_cluster_age.features.invariant import InvariantConfig
from tess_cluster_age.lightcurves import read_elk_file, validate_cluster
from tess_cluster_age.segments import KINDS, SegmentConfig, cluster_segments, sector_arrays

logger = logging.getLogger(__name__)

CLUSTERS = {"LMC": "kmhk-1378", "MW": "fsr-0188", "SMC": "ngc-339"}
"""One small cluster per galaxy (file-name stem), so that a snapshot takes seconds."""
SEED = 12345


def _clusters(elk_dir: Path):
    for galaxy, stem in CLUSTERS.items():
        path = elk_dir / galaxy / f"hlsp_elk_tess_ffi_{stem}_tess_v1_llc.fits.gz"
        cluster, problem = validate_cluster(read_elk_file(path), galaxy)
        if cluster is None:
            raise RuntimeError(f"{path}: {problem}")
        yield cluster


def _periodogram(result) -> np.ndarray:
    # tolerant of the per-segment field's name, so that one script serves before and after a rename
    for name in ("periodogram", "vector"):
        if hasattr(result, name):
            return np.asarray(getattr(result, name))
    raise AttributeError(f"{type(result).__name__} has no periodogram field")


def snapshot(elk_dir: Path) -> pd.DataFrame:
    """Features and periodograms of every segment of :data:`CLUSTERS`, one row per (set, segment)."""
    config = SegmentConfig(kinds=KINDS)
    frames = []
    for cluster in _clusters(elk_dir):
        rows = cluster_segments(cluster.name, cluster.galaxy, cluster.sectors, config, seed=SEED)
        task = extract.ClusterTask(
            cluster.name,
            sector_arrays(cluster.sectors),
            [(r["segment_id"], r["kind"], r["parts"]) for r in rows],
        )
        invariant_config = InvariantConfig()
        sets = {
            "classic": (extract.classic_cluster(task, ClassicConfig(), SEED), CLASSIC_FEATURES),
            "invariant": (extract.invariant_cluster(task, invariant_config), extract.invariant_columns(invariant_config)),
        }
        for set_name, (results, columns) in sets.items():
            frames.append(pd.DataFrame({
                "set": set_name,
                "segment_id": [r.segment_id for r in results],
                "reason": [r.reason for r in results],
                "features": [np.array([r.features[c] for c in columns], dtype=np.float64) for r in results],
                "periodogram": [_periodogram(r).astype(np.float32) for r in results],
            }))
    return pd.concat(frames, ignore_index=True)


def compare(before: pd.DataFrame, after: pd.DataFrame) -> list[str]:
    """Differences between two snapshots (empty when bit-identical)."""
    if list(before["segment_id"]) != list(after["segment_id"]) or list(before["set"]) != list(after["set"]):
        return ["the segment lists differ"]
    problems = []
    for i, (b, a) in enumerate(zip(before.itertuples(), after.itertuples())):
        if b.reason != a.reason:
            problems.append(f"{b.set} {b.segment_id}: reason {b.reason!r} != {a.reason!r}")
        for column in ("features", "periodogram"):
            x, y = np.asarray(getattr(b, column)), np.asarray(getattr(a, column))
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
                problems.append(f"{b.set} {b.segment_id}: {column} differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("save", "compare"):
        logger.error("usage: python -m tests.features.feature_snapshot {save|compare} PATH")
        return 2
    elk_dir = Path(os.environ.get("TESS_CLUSTER_AGE_ELK_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "elk"))
    now = snapshot(elk_dir)
    if argv[0] == "save":
        now.to_parquet(argv[1])
        logger.info("saved %d rows (%d segments x 2 sets) to %s", len(now), len(now) // 2, argv[1])
        return 0
    problems = compare(pd.read_parquet(argv[1]), now)
    for problem in problems[:20]:
        logger.error(problem)
    if problems:
        logger.error("%d differences", len(problems))
        return 1
    logger.info("bit-identical: %d rows (%s), every feature, periodogram value and reason", len(now),
                ", ".join(f"{k}: {v}" for k, v in now["segment_id"].str.split("|").str[1].value_counts().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
