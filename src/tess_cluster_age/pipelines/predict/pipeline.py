"""Predict pipeline: ELK files of clusters nobody has dated -> ages from every trained model.

Run it with ``kedro run --pipeline=predict --params=predict_dir=/path/to/folder`` (the command
``tess-cluster-age predict`` runs the same code). It is not part of ``__default__``: it needs a
folder of new clusters and trained models.
"""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import date_new_clusters, select_trained_models


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                select_trained_models,
                inputs=["predict_trained_models", "params:predict"],
                outputs="predict_models",
                name="select_trained_models_node",
            ),
            node(
                date_new_clusters,
                inputs=["predict_light_curves", "predict_models", "params:predict"],
                outputs=["predictions", "predict_problems"],
                name="date_new_clusters_node",
            ),
        ]
    )
