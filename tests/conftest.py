"""Shared fixtures: where the real data is, and a factory for small ELK-format files."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from tests.synthetic import elk_header, shared_data_dir, synthetic_sector
from tess_cluster_age.lightcurves import write_elk_file

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def elk_dir() -> Path:
    path = shared_data_dir() / "elk"
    if not path.is_dir():
        pytest.skip(f"real ELK light curves not found at {path} (set TESS_CLUSTER_AGE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = shared_data_dir() / "reference"
    if not path.is_dir():
        pytest.skip(f"reference tables not found at {path} (set TESS_CLUSTER_AGE_SHARED_DATA)")
    return path


@pytest.fixture
def make_elk_file():
    """Write a small ELK-format file: make_elk_file(path, name, log_age=8.0, sectors=[RawSectorTable, ...])."""

    def make(path: Path, name: str, log_age: float | None = 8.0, sectors=None, **header_kwargs) -> Path:
        sectors = [synthetic_sector(5, seed=1), synthetic_sector(6, seed=2, t0=1430.0)] if sectors is None else sectors
        write_elk_file(path, elk_header(name, log_age, n_good=len(sectors), **header_kwargs), sectors)
        return path

    return make
