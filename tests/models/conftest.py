"""Synthetic model-input tables with a known relation between features and log age."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

GALAXIES = ("MW", "LMC", "SMC")


def synthetic_model_input(n_clusters: int = 90, segments_per_cluster: int = 4, noise_dex=None, seed: int = 0) -> pd.DataFrame:
    """Clusters with log age uniform in 6.8-9.8; ``signal = log_age + N(0, noise_dex[galaxy])`` per
    cluster (shared by its segments) plus a little segment noise, ``square`` = signal**2 (a
    nonlinear copy), ``noise`` (no information) and ``cluster_id`` (a unique number per cluster,
    used by the leak test). Segment weights sum to 1 per cluster, as in SPEC 2.
    """
    noise_dex = noise_dex or {"MW": 0.2, "LMC": 0.2, "SMC": 0.2}
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clusters):
        galaxy = GALAXIES[c % 3]
        log_age = rng.uniform(6.8, 9.8)
        cluster_signal = log_age + rng.normal(0, noise_dex[galaxy])
        for s in range(segments_per_cluster):
            signal = cluster_signal + rng.normal(0, 0.05)
            rows.append({"segment_id": f"C{c:03d}|sector|{s}", "name": f"C{c:03d}", "galaxy": galaxy, "kind": "sector",
                         "weight": 1 / segments_per_cluster, "log_age": log_age, "signal": signal, "square": signal**2,
                         "noise": rng.normal(), "cluster_id": float(c), "reason": ""})
    return pd.DataFrame(rows)


def synthetic_folds(model_input: pd.DataFrame, n_splits: int = 3, seeds=(0,)) -> pd.DataFrame:
    """Cluster-grouped folds (round robin on sorted names per seed-shuffled order)."""
    names = np.array(sorted(model_input["name"].unique()))
    rows = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(names))
        rows += [(names[i], seed, rank % n_splits) for rank, i in enumerate(order)]
    return pd.DataFrame(rows, columns=["name", "seed", "fold"])


@pytest.fixture
def model_input() -> pd.DataFrame:
    return synthetic_model_input()
