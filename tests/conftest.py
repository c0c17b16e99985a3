"""Shared fixtures: where the real data is, and a factory for small ELK-format files."""

from __future__ import annotations

from pathlib import Path

import os
import shutil
import tempfile

import matplotlib
import pytest

from tests.synthetic import data_folder, elk_header, synthetic_sector
from tess_cluster_age.lightcurves import write_elk_file

matplotlib.use("Agg")

MLRUNS_VARIABLE = "TESS_CLUSTER_AGE_MLRUNS_DIR"
"""Where Kedro sessions store MLflow runs (conf/base/mlflow.yml); the project's mlruns/ by default."""
_MLRUNS = pytest.StashKey[tuple[str, "str | None"]]()


def pytest_configure(config):
    """Every Kedro session of the tests (and every kedro command they start) tracks into a
    temporary folder, never into the project's mlruns/. Set before the test modules are imported,
    so that environments they copy from os.environ at import time carry it too."""
    folder = tempfile.mkdtemp(prefix="tess-cluster-age-mlruns-")
    config.stash[_MLRUNS] = (folder, os.environ.get(MLRUNS_VARIABLE))
    os.environ[MLRUNS_VARIABLE] = folder


def pytest_unconfigure(config):
    folder, previous = config.stash.get(_MLRUNS, (None, None))
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop(MLRUNS_VARIABLE, None)
    else:
        os.environ[MLRUNS_VARIABLE] = previous


def _real_data(kind: str) -> Path:
    path = data_folder(kind)
    if not path.is_dir():
        message = f"real {kind} data not found at {path} (set TESS_CLUSTER_AGE_{kind.upper()}_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must run the real-data tests")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium, from Debian's package (`make test` installs it; under CI its absence fails)."""
    import shutil

    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
        pytest.skip("chromium not installed (`make browser` installs it)")
    return path


@pytest.fixture(scope="session")
def elk_dir() -> Path:
    """The real ELK light curves (one folder per galaxy)."""
    return _real_data("elk")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The original study's tables and the age catalogues."""
    return _real_data("reference")


@pytest.fixture
def make_elk_file():
    """Write a small ELK-format file: make_elk_file(path, name, log_age=8.0, sectors=[RawSectorTable, ...])."""

    def make(path: Path, name: str, log_age: float | None = 8.0, sectors=None, **header_kwargs) -> Path:
        sectors = [synthetic_sector(5, seed=1), synthetic_sector(6, seed=2, t0=1430.0)] if sectors is None else sectors
        write_elk_file(path, elk_header(name, log_age, n_good=len(sectors), **header_kwargs), sectors)
        return path

    return make
