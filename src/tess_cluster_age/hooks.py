"""Project hooks (registered in ``settings.py``)."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks import MlflowHook

from tess_cluster_age.config import validate_parameters
from tess_cluster_age.schema import MODEL_PIPELINES

logger = logging.getLogger(__name__)


class ParameterValidationHook:
    """Validate every parameter section before a pipeline runs (:func:`tess_cluster_age.config.validate_parameters`).

    An unknown key or section, a value of the wrong type or out of range stops ``kedro run``
    within seconds with :class:`~tess_cluster_age.config.ParameterError` listing every problem,
    instead of after minutes of feature work (or never, for a misspelt key that would silently
    fall back to its default).
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        parameters = catalog.load("parameters")
        validate_parameters(parameters)
        logger.info("Parameters valid: %s", ", ".join(sorted(parameters)))



TRACKED_ARTIFACTS = ("metrics", "trained_models")
"""Outputs of each model pipeline (``<pipeline>.metrics``: the metrics CSV; ``<pipeline>.trained_models``:
the model file) whose files go to the pipeline's MLflow run, under ``<pipeline>/``."""


class TrackingHook(MlflowHook):
    """kedro-mlflow's hook (``conf/base/mlflow.yml``), plus the model pipelines' files as artifacts.

    kedro-mlflow opens one run per ``kedro run`` of a tracked pipeline and logs every node's
    ``params:`` inputs. This hook also logs the files that ``<pipeline>.metrics`` and
    ``<pipeline>.trained_models`` (:data:`TRACKED_ARTIFACTS`) were saved to: kedro-mlflow's
    ``MlflowArtifactDataset`` cannot wrap the model file, as its inner ``versioned: true``
    dataset takes a save version of its own, which Kedro 1.x refuses (``VersionAlreadyExistsError``).

    It is registered in ``settings.py`` instead of the plugin's own hook, to keep each run to its
    own pipeline when several run in one Python process (a notebook, the tests):

    * kedro-mlflow re-enters its run before every node (for nodes run in other threads) and
      expects MLflow to refuse a run already active in the same thread; MLflow 3 stacks it again
      instead, so that its one ``end_run`` left the run active, and the next session logged into
      it. A run already active in this thread is not entered again.
    * the id of the last run was kept, so that a later pipeline whose tracking is disabled
      (predict) reopened that run at each of its nodes and left it running. It is forgotten
      before every pipeline run.

    And when tracking is disabled for a pipeline, kedro-mlflow mutes the MLflow datasets of the
    catalog, but only those already created: ``<pipeline>.tracked_metrics``, a dataset factory,
    was created later, found no run and opened one of its own. The pipeline's datasets are
    created first.
    """

    def __init__(self) -> None:
        super().__init__()
        self._catalog: Any = None
        self._artifact_paths: dict[str, str] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self.run_id = None
        self._catalog, self._artifact_paths = catalog, {}
        for name in pipeline.datasets():
            catalog.get(name)           # create the factories' datasets, so that a disabled run mutes them all
        super().before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool) -> None:
        run_id, active = self.run_id, mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            self.run_id = None          # kedro-mlflow then only logs the node's parameters
        try:
            super().before_node_run(node=node, catalog=catalog, inputs=inputs, is_async=is_async)
        finally:
            self.run_id = run_id

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        if self._is_mlflow_enabled and self._catalog is not None and _tracked_artifact(dataset_name):
            # the file this save writes (for a versioned dataset, this run's version)
            self._artifact_paths[dataset_name] = str(self._catalog.get(dataset_name)._get_save_path())

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        path = self._artifact_paths.pop(dataset_name, None)
        if path is None:
            return
        mlflow.log_artifact(path, artifact_path=dataset_name.split(".", 1)[0])
        logger.info("Logged %s to MLflow run %s", path, mlflow.active_run().info.run_id)


def _tracked_artifact(dataset_name: str) -> bool:
    namespace, _, output = dataset_name.partition(".")
    return namespace in MODEL_PIPELINES and output in TRACKED_ARTIFACTS
