"""Every dataset the project writes saves atomically (issue 13, item 4).

A save that fails midway (here: the file writer raises after writing half of what it was given,
as a full disk or a kill would leave it) must keep the last good file and leave no temporary file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fsspec.implementations.local import LocalFileOpener
from kedro.io import DatasetError
from kedro.io.core import Version

from tess_cluster_age.datasets import (
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicParquetDataset,
    FitsTableDataset,
    PeriodogramDataset,
)
from tess_cluster_age.features.periodograms import Periodograms


def _frame(n: int, offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"segment_id": [f"CL|sector|{i}" for i in range(n)], "value": np.arange(n) + offset})


def _periodograms(n: int, offset: float = 0.0) -> Periodograms:
    return Periodograms([f"CL|sector|{i}" for i in range(n)], np.linspace(0.1, 10, 50),
                        np.full((n, 50), 1.0 + offset, np.float32), "test power")


CASES = {
    "parquet": (lambda p: AtomicParquetDataset(filepath=str(p / "t.parquet")), _frame),
    "csv": (lambda p: AtomicCSVDataset(filepath=str(p / "t.csv"), save_args={"index": False}), _frame),
    "json": (lambda p: AtomicJSONDataset(filepath=str(p / "t.json")),
             lambda n, offset=0.0: {"rows": [float(i + offset) for i in range(n)]}),
    "fits_table": (lambda p: FitsTableDataset(filepath=str(p / "t.fits")), _frame),
    "periodograms": (lambda p: PeriodogramDataset(filepath=str(p / "t.fits")), _periodograms),
}


def _equal(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        return True
    if isinstance(a, Periodograms):
        return list(a.segment_id) == list(b.segment_id) and np.array_equal(a.power, b.power)
    return a == b


@pytest.fixture
def half_writes_then_fails(monkeypatch):
    """Make every local file write store half of its bytes, then raise (a disk filling up)."""

    def write(self, data):
        self.f.write(bytes(data)[: max(1, len(data) // 2)])
        raise OSError("No space left on device (simulated)")

    return lambda: monkeypatch.setattr(LocalFileOpener, "write", write)


@pytest.mark.parametrize("kind", list(CASES))
def test_a_save_failing_midway_keeps_the_last_good_file_and_no_temporary(tmp_path, kind, half_writes_then_fails):
    make_dataset, make_data = CASES[kind]
    dataset = make_dataset(tmp_path)
    good = make_data(2000)
    dataset.save(good)
    before = sorted(p.name for p in tmp_path.iterdir())
    half_writes_then_fails()
    with pytest.raises((OSError, DatasetError), match="No space left on device"):
        make_dataset(tmp_path).save(make_data(4000, offset=1.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a temporary file was left behind"
    assert _equal(make_dataset(tmp_path).load(), good)


@pytest.mark.parametrize("kind", list(CASES))
def test_round_trip_replaces_the_file(tmp_path, kind):
    make_dataset, make_data = CASES[kind]
    dataset = make_dataset(tmp_path / "new folder")
    assert not dataset.exists()
    dataset.save(make_data(3))
    dataset.save(make_data(5, offset=2.0))
    assert dataset.exists()
    assert _equal(dataset.load(), make_data(5, offset=2.0))
    assert len(list((tmp_path / "new folder").iterdir())) == 1


def test_json_that_cannot_be_serialised_keeps_the_old_file(tmp_path):
    dataset = AtomicJSONDataset(filepath=str(tmp_path / "report.json"))
    dataset.save({"files": 3})
    with pytest.raises(DatasetError, match="not JSON serializable"):
        dataset.save({"files": 4, "bad": object()})  # json.dump has already written '{"files": 4, "bad": '
    assert dataset.load() == {"files": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_versioned_saves_write_each_version_atomically(tmp_path, half_writes_then_fails):
    path = str(tmp_path / "summary.json")
    first = AtomicJSONDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z"))
    first.save({"coef": [1.0, 2.0]})
    assert AtomicJSONDataset(filepath=path, version=Version(None, None)).load() == {"coef": [1.0, 2.0]}
    half_writes_then_fails()
    with pytest.raises(DatasetError, match="No space left on device"):
        AtomicJSONDataset(filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")).save({"coef": [3.0]})
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["summary.json/2026-01-01T00.00.00.000Z/summary.json"]
    assert AtomicJSONDataset(filepath=path, version=Version(None, None)).load() == {"coef": [1.0, 2.0]}


def test_saved_files_get_the_usual_permissions(tmp_path):
    AtomicParquetDataset(filepath=str(tmp_path / "t.parquet")).save(_frame(2))
    reference = tmp_path / "plain"
    reference.write_text("x")
    assert (tmp_path / "t.parquet").stat().st_mode == reference.stat().st_mode


def test_every_output_in_the_catalog_uses_an_atomic_dataset():
    """Every catalog entry that a registered pipeline writes to a file saves atomically."""
    import re

    import yaml
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    from tests.synthetic import REPO

    bootstrap_project(REPO)
    written = set().union(*(p.all_outputs() for p in pipelines.values()))
    catalog = yaml.safe_load((REPO / "conf" / "base" / "catalog.yml").read_text())

    def writes(name: str) -> bool:   # a plain name, or a dataset factory pattern such as "{namespace}.oof"
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(name)) + "$"
        return any(re.match(pattern, output) for output in written)

    no_file = {"MemoryDataset", "kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset"}   # the latter writes to MLflow's store
    outputs = {name: entry["type"] for name, entry in catalog.items() if writes(name) and entry["type"] not in no_file}
    assert "model_input" in outputs and "{namespace}.trained_models" in outputs and "report_html" in outputs
    atomic = {"tess_cluster_age.datasets." + name for name in
              ("AtomicParquetDataset", "AtomicCSVDataset", "AtomicJSONDataset", "AtomicTextDataset",
               "FitsTableDataset", "PeriodogramDataset", "FigureFolderDataset", "trained_models.ModelFileDataset")}
    plain = {name: kind for name, kind in outputs.items() if kind not in atomic}
    assert not plain, f"outputs written without atomic saves: {plain}"
