"""The combined pipeline: a mixture of the other model pipelines' saved models, weights per galaxy on inner folds."""

from kedro.pipeline import Pipeline, node, pipeline

from tess_cluster_age.pipelines.modelling import score_models
from tess_cluster_age.pipelines.tracking import tracked_metrics

from .nodes import cross_validate_combined, train_combined_models

COMPONENT_PIPELINES = ("random_forest", "gaussian_nn", "regression")
"""The model pipelines whose models a combined model may mix."""


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline([
        node(cross_validate_combined,
             inputs={"params": "params:combined", **{f"oof_{p}": f"{p}.oof" for p in COMPONENT_PIPELINES},
                     **{f"inner_{p}": f"{p}.inner_oof" for p in COMPONENT_PIPELINES}},
             outputs=["combined.oof", "combined.fold_weights", "combined.importances"], name="cross_validate_combined_node"),
        node(score_models, inputs=["combined.oof", "params:evaluation"], outputs="combined.metrics", name="score_combined_node"),
        node(train_combined_models,
             inputs={"params": "params:combined", "predict_params": "params:predict", "metrics": "combined.metrics", "fold_weights": "combined.fold_weights",
                     **{p: f"{p}.trained_models" for p in COMPONENT_PIPELINES}},
             outputs=["combined.trained_models", "combined.weights"], name="train_combined_models_node"),
        node(tracked_metrics, inputs="combined.metrics", outputs="combined.tracked_metrics", name="tracked_combined_metrics_node"),
    ])
