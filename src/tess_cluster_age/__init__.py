"""tess-cluster-age: ages of star clusters from their integrated TESS light curves.

The public API (:mod:`tess_cluster_age.api`)::

    from tess_cluster_age import date, load_models, read_light_curves

    ages = date("path/to/light_curves", galaxy="LMC")   # an astropy QTable, one row per cluster

The names load on first use, so that importing a submodule (the command line, the Kedro
pipelines) does not import the whole science stack.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

__version__ = metadata.version("tess-cluster-age")   # written once, in pyproject.toml

__all__ = ["AgeDistribution", "LightCurveInputError", "LightCurves", "Models", "date", "load_models", "read_light_curves"]

_HOMES = {"AgeDistribution": "tess_cluster_age.age_distribution", **{name: "tess_cluster_age.api" for name in __all__ if name != "AgeDistribution"}}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'tess_cluster_age' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
