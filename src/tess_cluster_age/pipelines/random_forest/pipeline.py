"""The random_forest pipeline: the model template of :mod:`tess_cluster_age.pipelines.modelling` under namespace ``random_forest``."""

from kedro.pipeline import Pipeline

from tess_cluster_age.pipelines.modelling import model_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return model_pipeline("random_forest")
