"""Seeded random generators keyed by stable strings.

Every random choice in the project comes from a generator seeded by the global ``seed`` parameter
and a stable key (a ``segment_id``, a cluster name ...). Results then depend neither on the number
of workers nor on the order in which they run.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_key(text: str) -> int:
    """A 64-bit integer from a string, identical across processes and Python versions (SHA-256)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def keyed_rng(seed: int, key: str) -> np.random.Generator:
    """A generator seeded by (global seed, key), e.g. ``keyed_rng(42, "NGC 1818|sector|5")``."""
    return np.random.default_rng([int(seed), stable_key(key)])
