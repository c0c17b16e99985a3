"""The datasets the report needs beyond kedro-datasets (each PNG is saved atomically).

- :class:`FigureFolderDataset`: kedro-datasets' ``matplotlib.MatplotlibDataset`` saving a dict of
  figures as PNG files in one folder, which also *loads*: ``{file name: PNG bytes}``. The page embeds
  exactly the files the catalog wrote, so that a figure on disk and on the page are the same bytes.
- :class:`OptionalCSVDataset`: a CSV table that loads as an empty table with the declared columns
  when the file does not exist (the predictions of the last ``predict`` run, which may never have
  happened).
- :class:`CSVFolderDataset`: a read-only folder of CSV tables that may be absent (the independent
  age catalogues, ``external_dir``): loads ``{file name: table}``, ``{}`` when there is no folder.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str, get_protocol_and_path
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset

from ._atomic import AtomicSaveMixin

logger = logging.getLogger(__name__)


class FigureFolderDataset(AtomicSaveMixin, MatplotlibDataset):
    """A folder of PNG figures: saves ``{name: Figure}`` like ``MatplotlibDataset``, loads ``{name: bytes}``.

    Example catalog entry::

        report_figures_calibration:
          type: tess_cluster_age.datasets.FigureFolderDataset
          filepath: data/08_reporting/figures/calibration
          overwrite: true
          save_args: {format: png, dpi: 80}

    Keys must be file names ending in ``.png``. Versioning is not supported (a folder of figures is
    rewritten whole with ``overwrite: true``).
    """

    def __init__(self, *, filepath: str, overwrite: bool = True, **kwargs: Any) -> None:
        if kwargs.get("version") is not None:
            raise DatasetError("FigureFolderDataset is not versioned: remove 'versioned: true' from its catalog entry")
        super().__init__(filepath=filepath, overwrite=overwrite, **kwargs)

    def save(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DatasetError(f"FigureFolderDataset saves a dict of figures {{'name.png': Figure}}, got {type(data).__name__}")
        bad = [k for k in data if not str(k).endswith(".png")]
        if bad:
            raise DatasetError(f"figure names must end in '.png': {bad}")
        super().save(data)
        # an empty dict (a section with nothing to draw) still leaves an empty folder that loads as {}
        self._fs.makedirs(get_filepath_str(self._get_save_path(), self._protocol), exist_ok=True)

    def load(self) -> dict[str, bytes]:  # type: ignore[override]
        folder = get_filepath_str(self._get_load_path(), self._protocol)
        if not self._fs.isdir(folder):
            raise DatasetError(f"no figure folder at {folder}: run the reporting pipeline's figure nodes first")
        out = {}
        for path in sorted(self._fs.glob(f"{folder}/*.png")):
            with self._fs.open(path, "rb") as handle:
                out[PurePosixPath(path).name] = handle.read()
        return out


class OptionalCSVDataset(CSVDataset):
    """A CSV table that may not exist yet: loading a missing file gives an empty table.

    Example catalog entry::

        last_predictions:
          type: tess_cluster_age.datasets.OptionalCSVDataset
          filepath: data/07_model_output/predictions.csv
          columns: [name, galaxy, model, log_age_pred, sigma]

    Args:
        columns: the columns of the empty table returned when the file is absent.
        **kwargs: as for kedro-datasets' ``pandas.CSVDataset``.
    """

    def __init__(self, *, filepath: str, columns: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(filepath=filepath, **kwargs)
        self._columns = list(columns or [])

    def load(self) -> pd.DataFrame:
        if not self._exists():
            return pd.DataFrame(columns=self._columns)
        return super().load()


class CSVFolderDataset(AbstractDataset[None, dict[str, pd.DataFrame]]):
    """A read-only folder of CSV tables that may be absent: loads ``{file name: DataFrame}``.

    Every ``*.csv`` directly in the folder is read with ``pandas.read_csv(**load_args)``, in file
    name order. A folder that does not exist, or holds no CSV, loads as ``{}`` with a warning that
    names it: whatever uses the tables decides what an absent folder means (the report's section on
    independent ages says it was skipped).

    Example catalog entry::

        external_catalogue_files:
          type: tess_cluster_age.datasets.CSVFolderDataset
          path: ../shared/data/external
          load_args:
            dtype: {name: str, galaxy: str, catalogue: str}

    Args:
        path: the folder, local or with an fsspec protocol prefix.
        load_args: keyword arguments of ``pandas.read_csv``.
        fs_args, credentials: for the fsspec filesystem.
        metadata: free-form metadata (kedro-viz layer etc.); ignored by Kedro.
    """

    def __init__(self, *, path: str, load_args: dict[str, Any] | None = None, fs_args: dict[str, Any] | None = None,
                 credentials: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
        protocol, folder = get_protocol_and_path(path)
        self._protocol = protocol
        self._folder = PurePosixPath(folder)
        self._fs = fsspec.filesystem(protocol, **{**(credentials or {}), **(fs_args or {})})
        self._load_args = dict(load_args or {})
        self.metadata = metadata

    @property
    def _path(self) -> str:
        return get_filepath_str(self._folder, self._protocol)

    def load(self) -> dict[str, pd.DataFrame]:
        if not self._fs.isdir(self._path):
            logger.warning("%s: no such folder, no table loaded", self._path)
            return {}
        files = sorted(self._fs.glob(f"{self._path}/*.csv"))
        if not files:
            logger.warning("%s: the folder holds no CSV table", self._path)
        tables = {}
        for file in files:
            try:
                with self._fs.open(file, "rb") as handle:
                    tables[PurePosixPath(file).name] = pd.read_csv(handle, **self._load_args)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise DatasetError(f"{file}: cannot be read as CSV ({exc})") from exc
        return tables

    def save(self, data: dict[str, pd.DataFrame]) -> None:
        raise DatasetError(f"CSVFolderDataset is read-only ({self._path}): write the tables with another dataset")

    def _exists(self) -> bool:
        return self._fs.isdir(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._folder), "protocol": self._protocol, "load_args": self._load_args}
