"""The regression pipeline: registered now, filled by a later issue (it has no nodes yet)."""

from kedro.pipeline import Pipeline


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([])
