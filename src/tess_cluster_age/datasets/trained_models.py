"""The trained models on disk, as model files that are safe to share (:mod:`tess_cluster_age.models.persistence`).

- :class:`ModelFileDataset`: one model pipeline's :class:`~tess_cluster_age.models.bundle.TrainedModels`
  as a versioned model file (``<pipeline>.zip``), saved atomically; what the model pipelines write.
- :class:`TrainedModelsDataset`: read-only, the newest model file of each of several model pipelines,
  each loaded only when needed, a missing one reported as missing; what predict reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, AbstractVersionedDataset, DatasetError, Version, get_filepath_str, get_protocol_and_path

from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.models.persistence import find_model_file, read_models, save_models

from ._atomic import AtomicFile


class ModelFileDataset(AbstractVersionedDataset[TrainedModels, TrainedModels]):
    """Saves and loads one model pipeline's trained models as a model file (a zip of JSON and arrays).

    Loading never runs code from the file (see :mod:`tess_cluster_age.models.persistence`): a
    pickle, a damaged file, a class outside the allow-list or another format version is refused
    with a message naming the file. The estimators of a loaded bundle are read on first use. A
    local save writes a temporary file in the version's folder and renames it into place, so an
    interrupted save leaves no partial version.

    .. code-block:: yaml

        "{namespace}.trained_models":
          type: tess_cluster_age.datasets.trained_models.ModelFileDataset
          filepath: data/06_models/{namespace}.zip
          versioned: true

    Example:
    ::

        >>> ModelFileDataset(filepath="data/06_models/random_forest.zip", version=Version(None, None)).save(bundle)
        >>> bundle = ModelFileDataset(filepath="data/06_models/random_forest.zip", version=Version(None, None)).load()
        >>> mu, sigma = bundle.models["random_forest"].predict(model_input, return_std=True)
    """

    def __init__(self, *, filepath: str, version: Version | None = None, credentials: dict[str, Any] | None = None,
                 fs_args: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
        """Create the dataset.

        Args:
            filepath: the model file, ``<pipeline>.zip``, local or with an fsspec protocol prefix.
            version: Kedro version (``versioned: true`` in the catalog).
            credentials, fs_args: for the fsspec filesystem.
            metadata: free-form metadata (kedro-viz layer); ignored by Kedro.
        """
        protocol, path = get_protocol_and_path(str(filepath), version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **deepcopy(credentials or {}), **deepcopy(fs_args or {}))
        self.metadata = metadata
        super().__init__(filepath=PurePosixPath(path), version=version, exists_function=self._fs.exists, glob_function=self._fs.glob)

    def load(self) -> TrainedModels:
        path = get_filepath_str(self._get_load_path(), self._protocol)
        if self._protocol == "file":
            return read_models(path)
        with self._fs.open(path, "rb") as handle:
            return read_models(handle.read())

    def save(self, data: TrainedModels) -> None:
        if not isinstance(data, TrainedModels):
            raise DatasetError(f"ModelFileDataset saves a TrainedModels bundle, got {type(data).__name__}")
        bundle = data
        path = get_filepath_str(self._get_save_path(), self._protocol)
        if self._protocol == "file":
            with AtomicFile(self._fs, path, "wb") as handle:
                save_models(bundle, handle)
        else:
            with self._fs.open(path, "wb") as handle:
                save_models(bundle, handle)
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol, "version": self._version}


class TrainedModelsDataset(AbstractDataset[None, dict[str, "Callable[[], TrainedModels] | None"]]):
    """Read-only view of the model files of several model pipelines in one local folder.

    The model pipelines write ``"{namespace}.trained_models"`` (:class:`ModelFileDataset`,
    versioned, ``<path>/<pipeline>.zip/<version>/<pipeline>.zip``). The predict pipeline and the
    command-line tool need *some* of them and must say which command trains a missing one, so
    ``load`` does not fail on a missing file: it returns, per pipeline, a loader of the newest
    version (or of a plain ``<path>/<pipeline>.zip``, as in a copied models folder), or ``None``
    when there is none. Loading is lazy: a bundle's estimators are read only when used.

    .. code-block:: yaml

        predict_trained_models:
          type: tess_cluster_age.datasets.trained_models.TrainedModelsDataset
          path: data/06_models
          pipelines: [random_forest, regression, gaussian_nn]

    Example:
    ::

        >>> loaders = TrainedModelsDataset(path="data/06_models", pipelines=["random_forest"]).load()
        >>> bundle = loaders["random_forest"]() if loaders["random_forest"] else None
    """

    def __init__(self, *, path: str, pipelines: list[str], load_version: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        """Create the dataset.

        Args:
            path: local folder of the model files (``06_models``).
            pipelines: model pipeline names, in the order models are looked up.
            load_version: a version timestamp to load (all pipelines); None = each one's newest.
            metadata: free-form metadata (kedro-viz layer); ignored by Kedro.
        """
        self._path = str(path).rstrip("/")
        self._pipelines = list(pipelines)
        self._load_version = load_version
        self.metadata = metadata

    def load(self) -> dict[str, Callable[[], TrainedModels] | None]:
        out: dict[str, Callable[[], TrainedModels] | None] = {}
        for pipeline in self._pipelines:
            file = find_model_file(self._path, pipeline, self._load_version)
            out[pipeline] = functools.partial(read_models, file) if file is not None else None
        return out

    def save(self, data: Any) -> None:
        raise DatasetError("TrainedModelsDataset is read-only: the model pipelines write '<pipeline>.trained_models'")

    def _exists(self) -> bool:
        return any(find_model_file(self._path, p, self._load_version) is not None for p in self._pipelines)

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "pipelines": self._pipelines, "load_version": self._load_version}
