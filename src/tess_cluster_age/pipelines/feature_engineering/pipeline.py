"""Feature engineering: segments -> classic and invariant features, periodograms, model input, folds."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import build_model_input, compute_classic_features, compute_invariant_features, make_folds


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                compute_classic_features,
                inputs=["segments", "sector_light_curves", "params:classic_features", "params:feature_execution", "params:seed"],
                outputs=["features_classic", "periodograms_classic"],
                name="compute_classic_features_node",
            ),
            node(
                compute_invariant_features,
                inputs=["segments", "sector_light_curves", "params:invariant_features", "params:feature_execution"],
                outputs=["features_invariant", "periodograms_invariant"],
                name="compute_invariant_features_node",
            ),
            node(
                build_model_input,
                inputs=["segments", "clusters", "features_classic", "features_invariant", "params:model_input", "params:invariant_features"],
                outputs="model_input",
                name="build_model_input_node",
            ),
            node(make_folds, inputs=["clusters", "params:folds"], outputs="folds", name="make_folds_node"),
        ]
    )
