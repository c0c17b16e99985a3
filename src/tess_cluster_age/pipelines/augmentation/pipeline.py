"""Augmentation pipeline: light curves -> segments (references to samples, never copies)."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import build_segments


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                build_segments,
                inputs=["clusters", "sector_light_curves", "params:augmentation", "params:seed"],
                outputs="segments",
                name="build_segments_node",
            )
        ]
    )
