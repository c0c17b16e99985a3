"""The regression pipeline: the model template of :mod:`tess_cluster_age.pipelines.modelling` under namespace ``regression``."""

from kedro.pipeline import Pipeline

from tess_cluster_age.pipelines.modelling import model_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return model_pipeline("regression")
