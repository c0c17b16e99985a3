"""The model pipelines' parameter sections (``parameters_<pipeline>.yml``), validated into typed objects.

:class:`ModelPipelineConfig` is one pipeline's section; :func:`validate_model_section` checks a raw
section (unknown keys, unknown estimator, every model option against its estimator, tuning spaces)
and returns that object. It is registered in :data:`tess_cluster_age.config.SECTIONS`, so a
mistyped model option fails before any node runs, naming the parameter, its value and what is
allowed; the nodes build the same object with :meth:`ModelPipelineConfig.from_params`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, Literal

from tess_cluster_age.config import NESTED, ParameterError, config_from_params


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One entry of ``<pipeline>.models``: a model, cross-validated and (with ``save``) trained for predict.

    Attributes:
        estimator: a key of :data:`tess_cluster_age.models.ESTIMATORS`.
        per_galaxy: one model per host galaxy.
        save: fitted on all labelled clusters and saved for predict.
        periodogram: the periodogram vector (SPEC 3c) joined to the input for a network branch, or None.
        workers: outer folds fitted in parallel processes.
        options: the estimator's constructor arguments.
    """

    __pydantic_config__ = NESTED

    estimator: str
    per_galaxy: bool = False
    save: bool = True
    periodogram: Literal["classic", "invariant"] | None = None
    workers: int = 1
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ImportanceConfig:
    """Permutation importances on held-out folds: of ``models``, on the fold ``seeds``, ``n_repeats`` permutations each."""

    __pydantic_config__ = NESTED

    models: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    n_repeats: int = 3


@dataclasses.dataclass(frozen=True)
class TuningConfig:
    """optuna on inner folds of the training clusters: ``n_trials`` (0 = the configured options) over
    ``space`` (estimator -> parameter -> ``{low, high[, log]}`` or ``{choices: [...]}``), for the
    ``models`` named (None: every model whose estimator has a search space)."""

    __pydantic_config__ = NESTED

    n_trials: int = 0
    space: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    models: tuple[str, ...] | None = None

    def for_estimator(self, estimator: str) -> Mapping[str, Any] | None:
        """The search space of ``estimator`` (None when it has none)."""
        return self.space.get(estimator)

    def for_model(self, name: str) -> "TuningConfig | None":
        """This tuning for the model ``name``, or None when ``models`` leaves it out."""
        return self if self.models is None or name in self.models else None


@dataclasses.dataclass(frozen=True)
class ModelPipelineConfig:
    """The section of one model pipeline (``gaussian_nn``, ``random_forest``, ``regression``).

    Attributes:
        models: model name -> :class:`ModelSpec`, in the order they are run. With ``ablation`` the
            validated section's ``models`` also holds the ``ablation_models``, after the others.
        ablation: also run the ``ablation_models`` (``--params=<pipeline>.ablation=true``).
        ablation_models: variants of ``ablation_reference`` (model name -> :class:`ModelSpec`), run only
            with ``ablation``; each is scored against ``ablation_reference`` with the paired cluster
            bootstrap (metrics ``ablation_rmse_diff*``, :func:`tess_cluster_age.pipelines.modelling.score_models`).
        ablation_reference: the model of ``models`` the variants are compared with.
        controls: models also run on labels permuted across clusters (``<model>_shuffled_labels``).
        control_seeds: the fold seeds the controls run on (None: all).
        shuffle_labels: every model is trained and scored on permuted labels.
        shuffle_seed: seed of the permutation.
        importance: permutation importances.
        tuning: hyperparameter tuning.
    """

    __pydantic_config__ = NESTED

    models: Mapping[str, ModelSpec] = dataclasses.field(default_factory=dict)
    ablation: bool = False
    ablation_models: Mapping[str, ModelSpec] = dataclasses.field(default_factory=dict)
    ablation_reference: str | None = None
    controls: tuple[str, ...] = ()
    control_seeds: tuple[int, ...] | None = None
    shuffle_labels: bool = False
    shuffle_seed: int = 0
    importance: ImportanceConfig = ImportanceConfig()
    tuning: TuningConfig = TuningConfig()

    @classmethod
    def from_params(cls, params: Any, name: str = "model section") -> ModelPipelineConfig:
        """The validated section (:func:`validate_model_section`)."""
        return validate_model_section(params, name)


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


MODEL_SECTION_KEYS = _field_names(ModelPipelineConfig)
MODEL_ENTRY_KEYS = _field_names(ModelSpec)


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


def validate_model_section(section: Any, name: str = "model section") -> ModelPipelineConfig:
    """Check a model pipeline's section (``parameters_<pipeline>.yml``) and return it typed.

    First every unknown key (with a "did you mean"), then the types (pydantic, against the
    dataclasses above), then the ranges and what depends on the estimators: each estimator is
    registered, each option is one of its constructor's, controls and importance name configured
    models, tuning spaces name real parameters.

    Raises:
        ParameterError: one line per problem, naming the parameter, its value and what is allowed.
    """
    from tess_cluster_age.models import ESTIMATORS, estimator_class

    if not isinstance(section, Mapping):
        raise ParameterError(f"{name} = {section!r}: a mapping with keys {sorted(MODEL_SECTION_KEYS)} is required")
    problems = _unknown(section, MODEL_SECTION_KEYS, name)
    for key in ("models", "ablation_models"):
        for model, entry in (section.get(key) or {}).items():
            if isinstance(entry, Mapping):
                problems += _unknown(entry, MODEL_ENTRY_KEYS, f"{name}.{key}.{model}")
    for key, model in (("importance", ImportanceConfig), ("tuning", TuningConfig)):
        if isinstance(section.get(key), Mapping):
            problems += _unknown(section[key], _field_names(model), f"{name}.{key}")
    if problems:
        raise ParameterError("\n".join(problems))
    config = config_from_params(ModelPipelineConfig, section, name)
    if not config.models:
        problems.append(f"{name}.models: at least one model is required")
    entries = [("models", model, spec) for model, spec in config.models.items()]
    entries += [("ablation_models", model, spec) for model, spec in config.ablation_models.items()]
    for key, model, spec in entries:
        where = f"{name}.{key}.{model}"
        if spec.estimator not in ESTIMATORS:
            problems.append(f"{where}.estimator = {spec.estimator!r}: one of {sorted(ESTIMATORS)} is required")
            continue
        if spec.workers < 1:
            problems.append(f"{where}.workers = {spec.workers!r}: an integer >= 1 is required (folds fitted in parallel processes)")
        problems += _check_options(spec.estimator, spec.options, f"{where}.options")
    named = (("controls", config.controls, config.models), ("importance.models", config.importance.models, config.models),
             ("tuning.models", config.tuning.models or (), {**config.models, **config.ablation_models}))
    for key, names, known in named:
        problems += [f"{name}.{key}: {model!r} is not one of the models {sorted(known)}" for model in names if model not in known]
    problems += [f"{name}.ablation_models.{model}: also a name in {name}.models; an ablation variant needs a name of its own"
                 for model in config.ablation_models if model in config.models]
    if config.ablation_models and config.ablation_reference not in config.models:
        problems.append(f"{name}.ablation_reference = {config.ablation_reference!r}: one of the models {sorted(config.models)} is required "
                        "(the model the ablation variants are compared with)")
    if config.tuning.n_trials < 0:
        problems.append(f"{name}.tuning.n_trials = {config.tuning.n_trials!r}: an integer >= 0 is required")
    for estimator, space in config.tuning.space.items():
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
    if config.ablation:
        config = dataclasses.replace(config, models={**config.models, **config.ablation_models})
    return config


def validate_gaussian_nn(section: Any) -> ModelPipelineConfig:
    return validate_model_section(section, "gaussian_nn")


def validate_random_forest(section: Any) -> ModelPipelineConfig:
    return validate_model_section(section, "random_forest")


def validate_regression(section: Any) -> ModelPipelineConfig:
    return validate_model_section(section, "regression")


@dataclasses.dataclass(frozen=True)
class CombinedSpec:
    """One combined model: ``components``, each ``<pipeline>.<model>`` of a model its pipeline saves
    (``save: true``), so that the combined model's file can hold their fitted predictors; ``save``
    as for the other pipelines' models."""

    __pydantic_config__ = NESTED

    components: tuple[str, ...] = ()
    save: bool = True

    @property
    def model_names(self) -> list[str]:
        """The components' model names (without their pipeline)."""
        return [c.split(".")[1] for c in self.components]


@dataclasses.dataclass(frozen=True)
class CombinedConfig:
    """The ``combined`` section (``parameters_combined.yml``): mixtures of saved models.

    Attributes:
        models: model name -> :class:`CombinedSpec`.
        control: also combine the components' shuffled-label controls (each component must be a
            ``controls`` entry of its pipeline), as ``<model>_shuffled_labels``.
        max_iter, tol: of the EM fit of the weights (:func:`tess_cluster_age.models.combined.mixture_weights`).
    """

    __pydantic_config__ = NESTED

    models: dict[str, CombinedSpec] = dataclasses.field(default_factory=dict)
    control: bool = True
    max_iter: int = 1000
    tol: float = 1e-9

    def __post_init__(self) -> None:
        problems = []
        for name, spec in self.models.items():
            where = f"combined.models.{name}.components"
            problems += [f"{where}: {c!r} is not '<pipeline>.<model>'" for c in spec.components if c.count(".") != 1]
            if len(spec.components) < 2:
                problems.append(f"{where} = {list(spec.components)}: at least two models are needed")
            if len(set(spec.components)) != len(spec.components):
                problems.append(f"{where} = {list(spec.components)}: a model is listed twice")
        if self.max_iter < 1 or not self.tol > 0:
            problems.append(f"combined.max_iter = {self.max_iter}, tol = {self.tol}: max_iter >= 1 and tol > 0 are required")
        if problems:
            raise ParameterError("\n".join(problems))

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "CombinedConfig":
        return config_from_params(cls, params, "combined")
