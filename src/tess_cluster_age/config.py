"""Parameters: typed, frozen configuration per section, all validated before any work starts.

Every section of ``conf/base/parameters*.yml`` has one frozen dataclass. Its fields give the
allowed keys, their types and defaults; its ``__post_init__`` checks ranges. One function,
:func:`config_from_params`, builds a dataclass from a parameters mapping: an unknown key, a value
of the wrong type (checked by pydantic against the field annotations) or a value out of range
raises :class:`ParameterError`, which names the parameter, its value and what is allowed.

:func:`validate_parameters` runs this over **every** section of a run's parameters; the Kedro hook
:class:`tess_cluster_age.hooks.ParameterValidationHook` calls it before a pipeline runs, so that a
typo fails in seconds, not after minutes of feature work. Nodes build their configs through the
same dataclasses, so a node run outside Kedro is checked too.

Adding a section (e.g. for a model pipeline) takes one line in :data:`SECTIONS`::

    SECTIONS["random_forest"] = "tess_cluster_age.models.forest:ForestConfig"

The value names (``"module:attribute"``, imported only when validating, so that this module stays
free of import cycles) either a frozen dataclass, built by its ``from_params`` classmethod when it
has one and by :func:`config_from_params` otherwise, or a function ``value -> validated value``.
Any other section is an error: a misspelt section name must not be silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeVar

from tess_cluster_age.schema import GALAXIES

Config = TypeVar("Config")

AGE_BIN_EDGES: tuple[float, ...] = (7.5, 8.0, 8.5, 9.0)
"""log10(age / yr) edges of the age bins (SPEC 4): the strata of the folds and the bins of the metrics."""

CALIBRATION_MIN_CLUSTERS = 15
"""Fewest inner out-of-fold clusters a galaxy x predicted-age bin needs for a sigma scale of its own
(``evaluation.calibration_min_clusters``); a sparser bin takes its galaxy's scale."""

NESTED = {"extra": "forbid"}
"""pydantic config of a dataclass nested in a section: an unknown key there is an error too."""


class ParameterError(ValueError):
    """A parameter is unknown, of the wrong type or out of range; the message says which and why."""


# ------------------------------------------------------------------------------------ mechanism


def _frozen(value: Any) -> Any:
    """YAML lists -> tuples (nested), as frozen dataclasses expect."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


@functools.cache
def _adapter(cls: type):
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def _scalar_problems(cls: type, params: Mapping[str, Any], what: str) -> list[str]:
    """YAML's true/false where a number is wanted, or anything else where true/false is wanted, in
    ``params`` and the sections nested in it (pydantic's lax mode would take ``true`` as 1 and
    ``"yes"`` as True)."""
    problems = []
    hints = typing.get_type_hints(cls)
    for key, value in params.items():
        hint = hints.get(key)
        where = f"{what}.{key}"
        if hint in (int, float) and isinstance(value, bool):
            problems.append(f"{where} = {value!r}: a number is required, not true/false")
        elif hint is bool and not isinstance(value, bool):
            problems.append(f"{where} = {value!r}: true or false is required")
        elif dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            problems += _scalar_problems(hint, value, where)
        elif typing.get_origin(hint) is Mapping and isinstance(value, Mapping):
            item = typing.get_args(hint)[1]
            if dataclasses.is_dataclass(item):
                problems += [p for k, v in value.items() if isinstance(v, Mapping) for p in _scalar_problems(item, v, f"{where}.{k}")]
    return problems


def _format_location(what: str, location: tuple) -> str:
    path = what
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def config_from_params(cls: type[Config], params: Mapping[str, Any] | None, what: str) -> Config:
    """Build the frozen dataclass ``cls`` from a parameters mapping; missing keys take their defaults.

    Args:
        cls: a (frozen) dataclass whose annotations give each key's type and whose
            ``__post_init__`` checks ranges.
        params: the parameters (e.g. ``params:classic_features``).
        what: what the parameters configure, for messages: the section name (``"folds"``) or a
            description (``"classic feature"``).

    Raises:
        ParameterError: naming every unknown key and listing the valid ones (a typo must not
            silently fall back to a default); or naming a parameter, its value and what is
            allowed when the value has the wrong type or is out of range.
    """
    from pydantic import ValidationError

    if params is not None and not isinstance(params, Mapping):
        raise ParameterError(f"{what} parameters must be a mapping of key: value, got {params!r}")
    params = dict(params or {})
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(fields))
    if unknown:
        hints = {k: difflib.get_close_matches(k, fields, n=1) for k in unknown}
        did_you_mean = "".join(f" ({k!r}: did you mean {m[0]!r}?)" for k, m in hints.items() if m)
        raise ParameterError(f"unknown {what} parameter(s) {unknown}{did_you_mean}; valid keys are {fields}")
    scalars = _scalar_problems(cls, params, what)
    if scalars:
        raise ParameterError("; ".join(scalars))
    try:
        return _adapter(cls).validate_python({key: _frozen(value) for key, value in params.items()})
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "unexpected_keyword_argument":  # a key of a nested section (NESTED)
                message = "unknown key"
            if error["loc"]:
                problems.append(f"{_format_location(what, error['loc'])} = {error['input']!r}: {message}")
            else:  # __post_init__: its message names the parameter and the value
                problems.append(f"{what}: {message}")
        raise ParameterError("; ".join(problems)) from None


class Section:
    """Mixin of a section dataclass: ``from_params`` validates that section's mapping into it.

    A subclass names its section in the class attribute ``section`` (used in messages).
    """

    section: ClassVar[str]

    @classmethod
    def from_params(cls: type[Config], params: Mapping[str, Any] | None) -> Config:
        """The validated config of ``params`` (the section's mapping); missing keys take their defaults."""
        return config_from_params(cls, params, cls.section)


# ------------------------------------------------------------------------- section dataclasses


@dataclasses.dataclass(frozen=True)
class FeatureExecutionConfig(Section):
    """How segments are processed (``feature_execution``).

    Attributes:
        workers: processes that compute, this one included (1 = only the main process; n > 1 starts
            n - 1 worker processes, see :mod:`tess_cluster_age.parallel`).
        scheduler_address: a Dask distributed scheduler (``tcp://host:8786``); ``None`` = local.
        log_every_seconds: interval between progress messages, s.
    """

    section: ClassVar[str] = "feature_execution"
    __pydantic_config__ = NESTED

    workers: int = 1
    scheduler_address: str | None = None
    log_every_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1 (got {self.workers})")
        if self.scheduler_address is not None and "://" not in self.scheduler_address:
            raise ValueError(f"scheduler_address must be an address like tcp://host:8786 or null (got {self.scheduler_address!r})")
        if not self.log_every_seconds > 0:
            raise ValueError(f"log_every_seconds must be > 0 (got {self.log_every_seconds})")


FEATURE_SETS = ("classic", "invariant")
"""Feature sets that ``model_input.feature_sets`` may name."""


@dataclasses.dataclass(frozen=True)
class ModelInputConfig(Section):
    """Columns of ``model_input.parquet`` (``model_input``).

    Attributes:
        feature_sets: any of :data:`FEATURE_SETS`.
        include_log_flux: add ``log_flux`` (log10 median flux, e/s).
        exclude: model-input column names to leave out (checked against the table when built).
    """

    section: ClassVar[str] = "model_input"
    __pydantic_config__ = NESTED

    feature_sets: tuple[Literal["classic", "invariant"], ...] = FEATURE_SETS
    include_log_flux: bool = True
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(set(self.feature_sets)) != len(self.feature_sets):
            raise ValueError(f"feature_sets lists a set twice (got {list(self.feature_sets)})")
        if not self.feature_sets and not self.include_log_flux:
            raise ValueError("feature_sets is empty and include_log_flux is false: the model input would have no feature")


@dataclasses.dataclass(frozen=True)
class FoldsConfig(Section):
    """Cluster-grouped folds (``folds``, SPEC 4).

    Attributes:
        n_splits: folds per seed (>= 2).
        seeds: one set of folds per seed (distinct).
        age_bin_edges: log10(age / yr) edges of the strata, increasing.
    """

    section: ClassVar[str] = "folds"
    __pydantic_config__ = NESTED

    n_splits: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES

    def __post_init__(self) -> None:
        problems = []
        if self.n_splits < 2:
            problems.append(f"n_splits must be >= 2 (got {self.n_splits})")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            problems.append(f"seeds must be a non-empty list of distinct integers (got {list(self.seeds)})")
        if any(b <= a for a, b in zip(self.age_bin_edges, self.age_bin_edges[1:])):
            problems.append(f"age_bin_edges must increase (got {list(self.age_bin_edges)})")
        if problems:
            raise ValueError("; ".join(problems))


CATALOGUE_KEYS = ("name", "ra", "dec", "log_age")
"""Column roles every ``ingestion.catalogue_columns`` entry must give (``match`` is optional)."""


@dataclasses.dataclass(frozen=True)
class IngestionConfig(Section):
    """The ``ingestion`` section: which files are read and how they are checked against the catalogues.

    Attributes:
        galaxies: folder names under ``elk_dir`` that name a host galaxy.
        file_suffixes: accepted ELK file name endings.
        log_every: progress message every this many files.
        max_separation_arcmin: positional cross-match radius, arcmin.
        age_tolerance_dex: largest accepted |header LOG_AGE - reference age|, dex.
        catalogue_columns: galaxy -> column names of its age catalogue (``name, ra, dec,
            log_age``; optional ``match: name`` to match on names instead of positions).
    """

    section: ClassVar[str] = "ingestion"
    __pydantic_config__ = NESTED

    galaxies: tuple[str, ...] = GALAXIES
    file_suffixes: tuple[str, ...] = (".fits", ".fits.gz")
    log_every: int = 50
    max_separation_arcmin: float = 1.0
    age_tolerance_dex: float = 0.01
    catalogue_columns: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not self.galaxies:
            problems.append("galaxies must name at least one galaxy folder")
        if not self.file_suffixes:
            problems.append("file_suffixes must list at least one suffix")
        if self.log_every < 1:
            problems.append(f"log_every must be >= 1 (got {self.log_every})")
        if not self.max_separation_arcmin > 0:
            problems.append(f"max_separation_arcmin must be > 0 (got {self.max_separation_arcmin})")
        if not self.age_tolerance_dex >= 0:
            problems.append(f"age_tolerance_dex must be >= 0 (got {self.age_tolerance_dex})")
        for galaxy, columns in self.catalogue_columns.items():
            if galaxy not in self.galaxies:
                problems.append(f"catalogue_columns.{galaxy}: not one of galaxies {list(self.galaxies)}")
            unknown = sorted(set(columns) - {*CATALOGUE_KEYS, "match"})
            missing = [k for k in CATALOGUE_KEYS if k not in columns]
            if unknown or missing:
                problems.append(f"catalogue_columns.{galaxy} = {columns!r}: needs keys {list(CATALOGUE_KEYS)} "
                                f"and optionally 'match' (unknown {unknown}, missing {missing})")
            if columns.get("match", "name") != "name":
                problems.append(f"catalogue_columns.{galaxy}.match = {columns['match']!r}: only 'name' is allowed "
                                "(leave it out to match by position)")
        if problems:
            raise ValueError("; ".join(problems))


def _seed(value: Any) -> int:
    """The global ``seed``: an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError(f"seed = {value!r}: an integer >= 0 is required")
    return value


def _folder(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ParameterError(f"{name} = {value!r}: a folder path (text) is required")
        return value

    return check


@dataclasses.dataclass(frozen=True)
class OutOfRangeConfig:
    """When predict flags a cluster's features as outside the training range (``predict.out_of_range``).

    Attributes:
        bounds: the training range of a feature: its ``min_max`` or its 1st-99th percentiles (``p01_p99``).
        segment_fraction: the cluster is flagged when at least this fraction of its segments lies
            outside the range of some feature.
    """

    __pydantic_config__ = NESTED

    bounds: Literal["min_max", "p01_p99"] = "min_max"
    segment_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.segment_fraction <= 1:
            raise ValueError(f"segment_fraction must be in (0, 1] (got {self.segment_fraction})")


@dataclasses.dataclass(frozen=True)
class PredictConfig(Section):
    """The ``predict`` section: galaxy of a flat folder, models to date with, execution, range flags.

    Attributes:
        galaxy: host galaxy of every file of a flat folder (None: the files sit in galaxy folders).
        models: ``"all"`` or the names of the saved models to date with.
        recommend_by: the rule that picks each galaxy's recommended model: the saved model with
            the lowest cross-validated cluster ``nll`` (default), ``crps`` or ``rmse`` in that galaxy.
        execution: how the segments of the files to date are processed.
        out_of_range: when a cluster is flagged as outside the training range.
    """

    section: ClassVar[str] = "predict"
    __pydantic_config__ = NESTED

    galaxy: Literal[GALAXIES] | None = None
    models: str | tuple[str, ...] = "all"
    recommend_by: Literal["nll", "crps", "rmse"] = "nll"
    execution: FeatureExecutionConfig = FeatureExecutionConfig()
    out_of_range: OutOfRangeConfig = OutOfRangeConfig()

    def __post_init__(self) -> None:
        if isinstance(self.models, str) and self.models != "all":
            raise ValueError(f"models must be 'all' or a list of model names (got {self.models!r})")


@dataclasses.dataclass(frozen=True)
class ExampleClustersConfig:
    """Clusters whose light curves the report shows (None: chosen from the data)."""

    __pydantic_config__ = NESTED

    young: str | None = None
    old: str | None = None


@dataclasses.dataclass(frozen=True)
class ReportingConfig(Section):
    """The ``reporting`` section (what the HTML report draws).

    Attributes:
        title: the page title.
        featured_models: models drawn in the per-galaxy figures, in order.
        figure_seed: the fold seed whose out-of-fold predictions the figures draw.
        importance_top: features shown in the importance figure.
        example_galaxy: galaxy of the example light curves.
        example_clusters: the young and the old example cluster.
        max_prediction_rows: rows of the last predictions shown.
    """

    section: ClassVar[str] = "reporting"
    __pydantic_config__ = NESTED

    title: str = "tess-cluster-age: how good are the ages?"
    featured_models: tuple[str, ...] = ("random_forest", "gaussian_nn", "regression")
    figure_seed: int = 0
    importance_top: int = 15
    example_galaxy: Literal[GALAXIES] = "LMC"
    example_clusters: ExampleClustersConfig = ExampleClustersConfig()
    max_prediction_rows: int = 200

    def __post_init__(self) -> None:
        if self.importance_top < 1 or self.max_prediction_rows < 1 or self.figure_seed < 0:
            raise ValueError("importance_top and max_prediction_rows must be >= 1 and figure_seed >= 0 "
                             f"(got {self.importance_top}, {self.max_prediction_rows}, {self.figure_seed})")


@dataclasses.dataclass(frozen=True)
class BootstrapConfig:
    """The paired cluster bootstrap of RMSE differences (SPEC 4): ``n`` resamples drawn with ``seed``."""

    __pydantic_config__ = NESTED

    n: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1 or self.seed < 0:
            raise ValueError(f"evaluation.bootstrap: n = {self.n!r} must be >= 1 and seed = {self.seed!r} >= 0")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig(Section):
    """The shared evaluation protocol (SPEC 4).

    Attributes:
        age_bin_edges: log10(age / yr) edges of the age bins of the metrics and of the inner folds' strata.
        young_old_log_age: log10(age / yr) threshold of the young/old view.
        catastrophic_dex: an error larger than this (dex) is catastrophic.
        bootstrap: the paired cluster bootstrap.
        calibration: how every learned model scales its sigma (split conformal on its inner
            out-of-fold clusters, :func:`tess_cluster_age.models.base.interval_scales`): ``galaxy_age``,
            one scale per galaxy x bin of the cluster's *predicted* log age (Mondrian; Vovk et al.
            2005), or ``galaxy``, one scale per galaxy.
        calibration_bin_edges: log10(age / yr) edges of those predicted-age bins, and of the bins of
            ``coverage_by_predicted_age.csv``.
        calibration_min_clusters: fewest inner clusters a galaxy x bin needs for a scale of its own;
            a sparser bin takes its galaxy's scale.
    """

    section: ClassVar[str] = "evaluation"
    __pydantic_config__ = NESTED

    age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES
    young_old_log_age: float = 8.0
    catastrophic_dex: float = 1.0
    bootstrap: BootstrapConfig = BootstrapConfig()
    calibration: Literal["galaxy", "galaxy_age"] = "galaxy_age"
    calibration_bin_edges: tuple[float, ...] = AGE_BIN_EDGES
    calibration_min_clusters: int = CALIBRATION_MIN_CLUSTERS

    def __post_init__(self) -> None:
        for name in ("age_bin_edges", "calibration_bin_edges"):
            edges = list(getattr(self, name))
            if not edges or any(b <= a for a, b in zip(edges[:-1], edges[1:])):
                raise ValueError(f"evaluation.{name} = {edges!r}: a non-empty, strictly increasing list of log ages is required")
        if self.catastrophic_dex <= 0:
            raise ValueError(f"evaluation.catastrophic_dex = {self.catastrophic_dex!r}: must be > 0 (dex)")
        if self.calibration_min_clusters < 1:
            raise ValueError(f"evaluation.calibration_min_clusters = {self.calibration_min_clusters!r}: must be >= 1")

    @property
    def sigma_calibration_bin_edges(self) -> tuple[float, ...]:
        """The predicted-age edges (log10 yr) the models calibrate sigma in: ``calibration_bin_edges``
        for ``galaxy_age``, none (one bin per galaxy) for ``galaxy``."""
        return tuple(self.calibration_bin_edges) if self.calibration == "galaxy_age" else ()


# --------------------------------------------------------------------------------- the registry

SECTIONS: dict[str, str | Callable[[Any], Any]] = {
    "seed": _seed,
    "elk_dir": _folder("elk_dir"),  # run-time --params (conf/base/globals.yml)
    "reference_dir": _folder("reference_dir"),
    "data_dir": _folder("data_dir"),
    "predict_dir": _folder("predict_dir"),  # run-time --params of the predict pipeline
    "external_dir": _folder("external_dir"),  # run-time --params: the independent age catalogues (SPEC 8)
    "ingestion": "tess_cluster_age.config:IngestionConfig",
    "augmentation": "tess_cluster_age.segments:SegmentConfig",
    "feature_execution": "tess_cluster_age.config:FeatureExecutionConfig",
    "classic_features": "tess_cluster_age.features.classic:ClassicConfig",
    "invariant_features": "tess_cluster_age.features.invariant:InvariantConfig",
    "model_input": "tess_cluster_age.config:ModelInputConfig",
    "folds": "tess_cluster_age.config:FoldsConfig",
    "predict": "tess_cluster_age.config:PredictConfig",
    "reporting": "tess_cluster_age.config:ReportingConfig",
    "evaluation": "tess_cluster_age.config:EvaluationConfig",
    "external_validation": "tess_cluster_age.config:ExternalValidationConfig",
    "gaussian_nn": "tess_cluster_age.models.config:validate_gaussian_nn",
    "random_forest": "tess_cluster_age.models.config:validate_random_forest",
    "regression": "tess_cluster_age.models.config:validate_regression",
    "combined": "tess_cluster_age.models.config:CombinedConfig",
}
"""Parameter section -> its model: ``"module:attribute"`` of a dataclass, or a validating function."""



def resolve(model: str | Callable[[Any], Any]) -> Any:
    """The object named by ``"module:attribute"`` (imported now); any other value is returned as is."""
    if not isinstance(model, str):
        return model
    module, _, attribute = model.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def validate_section(name: str, value: Any) -> Any:
    """Validate one parameter section with its registered model and return the validated config.

    Raises:
        ParameterError: the section is not known, or one of its values is not allowed.
    """
    if name not in SECTIONS:
        known = sorted(SECTIONS)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(f"unknown parameter section {name!r}{hint}; known sections are {known}")
    model = resolve(SECTIONS[name])
    if dataclasses.is_dataclass(model):
        from_params = getattr(model, "from_params", None)
        return from_params(value) if from_params is not None else config_from_params(model, value, name)
    return model(value)


def validate_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate every section of a run's parameters; return section -> validated config.

    Every problem of every section is collected first, so one run reports all of them.

    Raises:
        ParameterError: one line per problem, each naming the parameter, its value and what is
            allowed.
    """
    validated, problems = {}, []
    for name, value in params.items():
        try:
            validated[name] = validate_section(name, value)
        except (ParameterError, ValueError) as exc:
            problems.append(f"  - {exc}")
    if problems:
        raise ParameterError("invalid parameters (conf/base/parameters*.yml or --params):\n" + "\n".join(problems))
    return validated


# ---------------------------------------------------------------- external validation (SPEC 8)


@dataclasses.dataclass(frozen=True)
class ExternalValidationConfig(Section):
    """Our ages and the labels against independent published ages (``external_validation``, SPEC 8).

    Used by :mod:`tess_cluster_age.external`; the catalogues are for evaluation only.

    Attributes:
        radius_deg: galaxy -> largest angular separation (deg) of a positional match; every galaxy
            needs one (0.05 deg already picks wrong neighbours in the crowded LMC bar).
        exclude_catalogues: catalogues left out entirely (the ``catalogue`` column's value).
        exclude_rows: catalogue -> column -> values whose rows are left out because they are not
            independent of the labels: Baumgardt et al. 2013's ``age_source`` 1 is Glatt et al.
            2010, which are the LMC labels.
        bootstrap: the paired cluster bootstrap of ``rmse - label_rmse``.
        hat_min_shared: fewest clusters that the labels and two catalogues must share for a
            three-cornered-hat estimate (>= 3).
        hat_exclude_pairs: catalogue pairs with correlated errors, never used together in a
            three-cornered hat: Popescu et al. 2012 fit Hunter et al. 2003's photometry;
            Baumgardt et al. 2013's ``age_source`` 2 is about Popescu's ages; Hunter 2003 and
            Rafelski & Zaritsky 2005 are both integrated-colour ages (measured on 12 shared SMC
            clusters: var of their difference 0.032 dex^2, against 0.20-0.27 with Perren 2017's
            CMD ages); Cavallo 2024 and Hunt 2023 share Gaia DR3 memberships (0.058 dex^2, against
            0.08-0.16 for the other Gaia pairs).
    """

    section: ClassVar[str] = "external_validation"
    __pydantic_config__ = NESTED

    radius_deg: dict[str, float] = dataclasses.field(default_factory=lambda: {"MW": 0.1, "LMC": 0.02, "SMC": 0.02})
    exclude_catalogues: tuple[str, ...] = ()
    exclude_rows: dict[str, dict[str, tuple[int | float | str, ...]]] = dataclasses.field(
        default_factory=lambda: {"baumgardt2013_lmc": {"age_source": (1,)}})
    bootstrap: BootstrapConfig = BootstrapConfig()
    hat_min_shared: int = 10
    hat_exclude_pairs: tuple[tuple[str, str], ...] = (("hunter2003_lmc_smc", "popescu2012_lmc"),
                                                      ("baumgardt2013_lmc", "popescu2012_lmc"),
                                                      ("hunter2003_lmc_smc", "rafelski_zaritsky2005_smc"),
                                                      ("cavallo2024_mw", "hunt2023_mw"))

    def __post_init__(self) -> None:
        problems = []
        missing = [g for g in GALAXIES if g not in self.radius_deg]
        unknown = sorted(set(self.radius_deg) - set(GALAXIES))
        if missing or unknown:
            problems.append(f"radius_deg = {dict(self.radius_deg)!r}: needs one radius for each of {list(GALAXIES)} "
                            f"(missing {missing}, unknown {unknown})")
        bad = {g: r for g, r in self.radius_deg.items() if not r > 0}
        if bad:
            problems.append(f"radius_deg = {dict(self.radius_deg)!r}: every radius must be > 0 deg (got {bad})")
        empty = [f"{c}.{k}" for c, rules in self.exclude_rows.items() for k, v in rules.items() if not v] + \
                [c for c, rules in self.exclude_rows.items() if not rules]
        if empty:
            problems.append(f"exclude_rows: {empty} list no column or no value to exclude")
        if self.hat_min_shared < 3:
            problems.append(f"hat_min_shared must be >= 3 (got {self.hat_min_shared})")
        same = [list(p) for p in self.hat_exclude_pairs if p[0] == p[1]]
        if same:
            problems.append(f"hat_exclude_pairs: {same} pair a catalogue with itself")
        if problems:
            raise ValueError("; ".join(problems))
