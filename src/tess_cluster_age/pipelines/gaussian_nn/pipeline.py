"""The gaussian_nn pipeline: the model template of :mod:`tess_cluster_age.pipelines.modelling` under namespace ``gaussian_nn``."""

from kedro.pipeline import Pipeline

from tess_cluster_age.pipelines.modelling import model_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return model_pipeline("gaussian_nn")
