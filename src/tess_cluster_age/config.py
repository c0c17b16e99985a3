"""Building the frozen configuration dataclasses from Kedro parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

Config = TypeVar("Config")


def _frozen(value: Any) -> Any:
    """YAML lists -> tuples (nested), as frozen dataclasses expect."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def config_from_params(cls: type[Config], params: Mapping[str, Any] | None, what: str) -> Config:
    """Build ``cls`` from a parameters mapping; missing keys take their defaults.

    Args:
        cls: a dataclass.
        params: the parameters (e.g. ``params:classic_features``).
        what: what the parameters configure, for the error message ("classic feature").

    Raises:
        ValueError: naming every unknown key and listing the valid ones: a typo must not silently
            fall back to a default.
    """
    params = dict(params or {})
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ValueError(f"unknown {what} parameter(s) {unknown}; valid keys are {fields}")
    return cls(**{key: _frozen(value) for key, value in params.items()})
