"""``TrainedModelsDataset``: the latest trained-model file of each model pipeline, read lazily,
with a missing one reported as missing instead of failing the load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError, Version
from kedro_datasets.pickle import PickleDataset


class TrainedModelsDataset(AbstractDataset[None, dict[str, "Callable[[], dict] | None"]]):
    """Read-only view of ``<path>/<pipeline>.pkl`` (versioned pickles) for several model pipelines.

    The model pipelines write their bundles through ``"{namespace}.trained_models"`` (versioned
    ``pickle.PickleDataset`` at ``<data_dir>/06_models/<namespace>.pkl``). The predict pipeline and
    the command-line tool need *some* of them and must say which command trains a missing one, so
    ``load`` does not fail on a missing file: it returns, per pipeline, a loader of the latest
    version, or ``None`` when no version exists. Loading is lazy because a forest bundle can weigh
    hundreds of MB.

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
            path: folder of the versioned ``<pipeline>.pkl`` files (``06_models``).
            pipelines: model pipeline names, in the order models are looked up.
            load_version: a version timestamp to load (all pipelines); None = each one's latest.
            metadata: free-form metadata (kedro-viz layer); ignored by Kedro.
        """
        self._path = str(path).rstrip("/")
        self._pipelines = list(pipelines)
        self._load_version = load_version
        self.metadata = metadata

    def _dataset(self, pipeline: str) -> PickleDataset:
        return PickleDataset(filepath=f"{self._path}/{pipeline}.pkl", version=Version(self._load_version, None))

    def load(self) -> dict[str, Callable[[], dict] | None]:
        out: dict[str, Callable[[], dict] | None] = {}
        for pipeline in self._pipelines:
            dataset = self._dataset(pipeline)
            out[pipeline] = dataset.load if dataset.exists() else None
        return out

    def save(self, data: Any) -> None:
        raise DatasetError("TrainedModelsDataset is read-only: the model pipelines write '<pipeline>.trained_models'")

    def _exists(self) -> bool:
        return any(self._dataset(p).exists() for p in self._pipelines)

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "pipelines": self._pipelines, "load_version": self._load_version}

