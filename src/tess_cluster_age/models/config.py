"""Validation of the model pipelines' parameter sections and of the shared ``evaluation`` section.

Registered in :data:`tess_cluster_age.config.SECTIONS`, so a mistyped model option, an unknown
estimator or a bad range fails before any node runs, naming the parameter, its value and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, ClassVar

from tess_cluster_age.config import AGE_BIN_EDGES, NESTED, ParameterError, Section

MODEL_SECTION_KEYS = {"models", "controls", "control_seeds", "shuffle_labels", "shuffle_seed", "importance", "tuning"}
MODEL_ENTRY_KEYS = {"estimator", "per_galaxy", "save", "periodogram", "workers", "options"}
PERIODOGRAMS = (None, "classic", "invariant")


@dataclasses.dataclass(frozen=True)
class BootstrapConfig:
    """The paired cluster bootstrap of RMSE differences (SPEC 4): ``n`` resamples drawn with ``seed``."""

    __pydantic_config__ = NESTED

    n: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1 or self.seed < 0:
            raise ParameterError(f"evaluation.bootstrap: n = {self.n!r} must be >= 1 and seed = {self.seed!r} >= 0")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig(Section):
    """The shared evaluation protocol (SPEC 4).

    Attributes:
        age_bin_edges: log10(age / yr) edges of the age bins of the metrics and of the inner folds' strata.
        young_old_log_age: log10(age / yr) threshold of the young/old view.
        catastrophic_dex: an error larger than this (dex) is catastrophic.
        bootstrap: the paired cluster bootstrap.
    """

    section: ClassVar[str] = "evaluation"
    __pydantic_config__ = NESTED

    age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES
    young_old_log_age: float = 8.0
    catastrophic_dex: float = 1.0
    bootstrap: BootstrapConfig = BootstrapConfig()

    def __post_init__(self) -> None:
        edges = list(self.age_bin_edges)
        if not edges or any(b <= a for a, b in zip(edges[:-1], edges[1:])):
            raise ParameterError(f"evaluation.age_bin_edges = {edges!r}: a non-empty, strictly increasing list of log ages is required")
        if self.catastrophic_dex <= 0:
            raise ParameterError(f"evaluation.catastrophic_dex = {self.catastrophic_dex!r}: must be > 0 (dex)")


def _unknown(keys, allowed, where: str) -> list[str]:
    problems = []
    for key in sorted(set(keys) - set(allowed)):
        close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"{where}.{key}: unknown key{hint}; allowed: {sorted(allowed)}")
    return problems


def _check_options(estimator: str, options: Mapping[str, Any], where: str) -> list[str]:
    from tess_cluster_age.models import estimator_class

    defaults = estimator_class(estimator)().get_params()
    problems = _unknown(options, defaults, where)
    if problems:
        return problems
    try:
        estimator_class(estimator)(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")
    for key, value in options.items():
        default = defaults[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            problems.append(f"{where}.{key} = {value!r}: true or false is required")
        elif isinstance(default, (int, float)) and not isinstance(default, bool) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{where}.{key} = {value!r}: a number is required")
        elif isinstance(default, (int, float)) and not isinstance(default, bool) and isinstance(value, (int, float)) and value < 0:
            problems.append(f"{where}.{key} = {value!r}: must be >= 0")
    return problems


def validate_model_section(section: Any, name: str = "model section") -> Any:
    """Check a model pipeline's section (``parameters_<pipeline>.yml``); return it unchanged.

    Raises:
        ParameterError: one line per problem (unknown keys, unknown estimator, bad option, ...).
    """
    from tess_cluster_age.models import ESTIMATORS, estimator_class

    if not isinstance(section, Mapping):
        raise ParameterError(f"{name} = {section!r}: a mapping with keys {sorted(MODEL_SECTION_KEYS)} is required")
    problems = _unknown(section, MODEL_SECTION_KEYS, name)
    models = section.get("models") or {}
    if not models:
        problems.append(f"{name}.models: at least one model is required")
    for model, entry in models.items():
        where = f"{name}.models.{model}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} = {entry!r}: a mapping is required")
            continue
        problems += _unknown(entry, MODEL_ENTRY_KEYS, where)
        estimator = entry.get("estimator")
        if estimator not in ESTIMATORS:
            problems.append(f"{where}.estimator = {estimator!r}: one of {sorted(ESTIMATORS)} is required")
            continue
        if entry.get("periodogram") not in PERIODOGRAMS:
            problems.append(f"{where}.periodogram = {entry.get('periodogram')!r}: one of null, classic, invariant")
        workers = entry.get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            problems.append(f"{where}.workers = {workers!r}: an integer >= 1 is required (folds fitted in parallel processes)")
        for flag in ("per_galaxy", "save"):
            if flag in entry and not isinstance(entry[flag], bool):
                problems.append(f"{where}.{flag} = {entry[flag]!r}: true or false is required")
        problems += _check_options(estimator, entry.get("options") or {}, f"{where}.options")
    for control in section.get("controls") or []:
        if control not in models:
            problems.append(f"{name}.controls: {control!r} is not one of the models {sorted(models)}")
    if "shuffle_labels" in section and not isinstance(section["shuffle_labels"], bool):
        problems.append(f"{name}.shuffle_labels = {section['shuffle_labels']!r}: true or false is required")
    importance = section.get("importance") or {}
    problems += _unknown(importance, {"models", "seeds", "n_repeats"}, f"{name}.importance")
    for model in importance.get("models") or []:
        if model not in models:
            problems.append(f"{name}.importance.models: {model!r} is not one of the models {sorted(models)}")
    tuning = section.get("tuning") or {}
    problems += _unknown(tuning, {"n_trials", "space"}, f"{name}.tuning")
    n_trials = tuning.get("n_trials", 0)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        problems.append(f"{name}.tuning.n_trials = {n_trials!r}: an integer >= 0 is required")
    for estimator, space in (tuning.get("space") or {}).items():
        if estimator not in ESTIMATORS:
            problems.append(f"{name}.tuning.space.{estimator}: unknown estimator; one of {sorted(ESTIMATORS)}")
            continue
        problems += _unknown(space, estimator_class(estimator)().get_params(), f"{name}.tuning.space.{estimator}")
        for parameter, entry in space.items():
            if not isinstance(entry, Mapping) or not ("choices" in entry or {"low", "high"} <= set(entry)):
                problems.append(f"{name}.tuning.space.{estimator}.{parameter} = {entry!r}: {{low, high[, log]}} or {{choices: [...]}}")
            elif "low" in entry and not entry["low"] < entry["high"]:
                problems.append(f"{name}.tuning.space.{estimator}.{parameter}: low {entry['low']!r} must be below high {entry['high']!r}")
    if problems:
        raise ParameterError("\n".join(problems))
    return section


def validate_gaussian_nn(section: Any) -> Any:
    return validate_model_section(section, "gaussian_nn")


def validate_random_forest(section: Any) -> Any:
    return validate_model_section(section, "random_forest")


def validate_regression(section: Any) -> Any:
    return validate_model_section(section, "regression")
