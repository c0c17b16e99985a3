"""Project hooks (registered in ``settings.py``)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl

from tess_cluster_age.config import validate_parameters

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
