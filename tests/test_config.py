"""Every parameter section is validated before any work starts (issue 13, item 8).

The project's own parameter files are loaded, then each section gets one unknown key and one bad
value; each must fail with an error naming the parameter, its value and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline.node import Node

from tess_cluster_age import config as config_module
from tess_cluster_age.config import (
    SECTIONS,
    ParameterError,
    validate_parameters,
    validate_section,
)
from tess_cluster_age.hooks import ParameterValidationHook
from tests.synthetic import REPO, project_parameters


def test_the_project_parameters_are_valid():
    validated = validate_parameters(project_parameters())
    assert set(project_parameters()) <= set(SECTIONS)
    assert validated["feature_execution"].workers == 2


# section -> (a mistyped key, (key, bad value, words the error must contain))
CASES = {
    "augmentation": ("window_dayz", ("window_stride_days", 0, "window_stride_days must be > 0 (got 0")),
    "feature_execution": ("wokers", ("workers", "two", "feature_execution.workers = 'two': Input should be a valid integer")),
    "classic_features": ("n_boostrap", ("f_step", 0, "f_step must be > 0 (got 0")),
    "invariant_features": ("bin_minute", ("bin_minutes", 0, "bin_minutes must be > 0 (got 0")),
    "model_input": ("include_log_flx", ("feature_sets", ["classic", "wavelets"],
                                        "model_input.feature_sets[1] = 'wavelets': Input should be 'classic' or 'invariant'")),
    "folds": ("n_split", ("n_splits", 1, "n_splits must be >= 2 (got 1)")),
    "ingestion": ("galaxy", ("max_separation_arcmin", -1, "max_separation_arcmin must be > 0 (got -1")),
    "predict": ("galaxies", ("galaxy", "M31", "predict.galaxy = 'M31'")),
    "reporting": ("figure_sed", ("importance_top", 0, "importance_top and max_prediction_rows must be >= 1")),
    "evaluation": ("age_bin_edge", ("catastrophic_dex", 0, "evaluation.catastrophic_dex = 0.0: must be > 0 (dex)")),
    "external_validation": ("radius", ("hat_min_shared", 2, "hat_min_shared must be >= 3 (got 2)")),
    "combined": ("max_iters", ("max_iter", 0, "combined.max_iter = 0, tol = 1e-09: max_iter >= 1 and tol > 0 are required")),
}
# model pipeline sections: (a mistyped model option, (path to a bad value, value, words the error must contain))
MODEL_SECTIONS = {
    "random_forest": ("n_estimator", (("models", "random_forest", "options", "use_galaxy"), "yes",
                                      "random_forest.models.random_forest.options.use_galaxy = 'yes': true or false is required")),
    "regression": ("alpah", (("models", "regression", "estimator"), "lasso", "regression.models.regression.estimator = 'lasso'")),
    "gaussian_nn": ("learn_sigm", (("tuning", "n_trials"), -1, "gaussian_nn.tuning.n_trials = -1: an integer >= 0 is required")),
}
SCALARS = {"seed": -3, "elk_dir": 7, "reference_dir": "", "data_dir": None, "predict_dir": 3, "external_dir": ""}


def with_value(section: str, path: tuple, value) -> dict:
    """The project's parameters with ``value`` at ``section`` then ``path`` (keys, nested)."""
    params = copy.deepcopy(project_parameters())
    target = params[section]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return params


def test_every_registered_section_has_a_case():
    assert set(CASES) | set(SCALARS) | set(MODEL_SECTIONS) == set(SECTIONS)


@pytest.mark.parametrize("section", list(MODEL_SECTIONS))
def test_model_sections_refuse_an_unknown_option_and_a_bad_value(section):
    typo, (path, value, expected) = MODEL_SECTIONS[section]
    params = copy.deepcopy(project_parameters())
    first_model = next(iter(params[section]["models"]))
    params[section]["models"][first_model]["options"][typo] = 1
    with pytest.raises(ParameterError, match=rf"{section}.models.{first_model}.options.{typo}: unknown key"):
        validate_parameters(params)
    with pytest.raises(ParameterError) as error:
        validate_parameters(with_value(section, path, value))
    assert expected in str(error.value)


@pytest.mark.parametrize("section", list(CASES))
def test_an_unknown_key_is_refused_by_name(section):
    typo, _ = CASES[section]
    params = project_parameters()
    params[section] = {**params[section], typo: 1}
    with pytest.raises(ParameterError, match=rf"unknown .*parameter\(s\) \['{typo}'\].*valid keys are") as error:
        validate_parameters(params)
    assert section.split("_")[0] in str(error.value)


@pytest.mark.parametrize("section", list(CASES))
def test_a_bad_value_is_refused_naming_parameter_value_and_what_is_allowed(section):
    _, (key, value, expected) = CASES[section]
    params = project_parameters()
    params[section] = {**params[section], key: value}
    with pytest.raises(ParameterError) as error:
        validate_parameters(params)
    assert expected in str(error.value)


@pytest.mark.parametrize("section", list(SCALARS))
def test_bad_scalar_parameters_are_refused(section):
    with pytest.raises(ParameterError, match=rf"{section} = {SCALARS[section]!r}"):
        validate_parameters({**project_parameters(), section: SCALARS[section]})


@pytest.mark.parametrize(("section", "changes", "expected"), [
    ("augmentation", {"window_days": -12.0}, "window_days must be > 0 (got -12.0)"),
    ("augmentation", {"combo_sizes": [0]}, "combo_sizes must be a non-empty list of subset sizes >= 2 (got [0])"),
    ("augmentation", {"kinds": {"sector": "yes"}}, "augmentation.kinds.sector = 'yes': true or false is required"),
    ("augmentation", {"kinds": {"sectors": True}}, "unknown kinds ['sectors']"),
    ("feature_execution", {"workers": True}, "feature_execution.workers = True: a number is required"),
    ("feature_execution", {"workers": 0}, "workers must be >= 1 (got 0)"),
    ("folds", {"seeds": [1, 1]}, "seeds must be a non-empty list of distinct integers (got [1, 1])"),
    ("model_input", {"include_log_flux": "maybe"}, "model_input.include_log_flux = 'maybe'"),
    ("classic_features", {"percentiles": [2.27, 97.7]}, "percentiles must include 50"),
])
def test_ranges_and_types(section, changes, expected):
    params = project_parameters()
    params[section] = {**params[section], **changes}
    with pytest.raises(ParameterError) as error:
        validate_parameters(params)
    assert expected in str(error.value)


def test_a_misspelt_section_is_refused_with_a_suggestion():
    params = project_parameters()
    params["augmentaton"] = params.pop("augmentation")
    with pytest.raises(ParameterError, match=r"unknown parameter section 'augmentaton' \(did you mean 'augmentation'\?\)"):
        validate_parameters(params)


def test_every_problem_is_reported_at_once():
    params = project_parameters()
    params["folds"] = {**params["folds"], "n_split": 3}
    params["feature_execution"] = {**params["feature_execution"], "workers": "two"}
    message = str(pytest.raises(ParameterError, validate_parameters, params).value)
    assert "n_split" in message and "'two'" in message


def test_a_new_section_is_checked_once_it_registers_its_model(monkeypatch):
    with pytest.raises(ParameterError, match="unknown parameter section 'a_later_pipeline'"):
        validate_section("a_later_pipeline", {"n_estimators": 500})

    @dataclasses.dataclass(frozen=True)
    class ForestConfig:
        n_estimators: int = 100

        def __post_init__(self):
            if self.n_estimators < 1:
                raise ValueError(f"n_estimators must be >= 1 (got {self.n_estimators})")

    monkeypatch.setitem(SECTIONS, "a_later_pipeline", ForestConfig)  # the one line a later pipeline adds
    assert validate_section("a_later_pipeline", {"n_estimators": 500}) == ForestConfig(500)
    with pytest.raises(ParameterError, match=r"unknown a_later_pipeline parameter\(s\) \['n_estimator'\]"):
        validate_section("a_later_pipeline", {"n_estimator": 500})
    with pytest.raises(ParameterError, match=r"n_estimators must be >= 1 \(got 0\)"):
        validate_section("a_later_pipeline", {"n_estimators": 0})


def test_registry_strings_resolve_to_models():
    """Each "module:attribute" entry imports the object of that name, and the sections known here
    map to their own model: a section pointing at another section's model fails."""
    from tess_cluster_age import config
    from tess_cluster_age.features.classic import ClassicConfig
    from tess_cluster_age.features.invariant import InvariantConfig
    from tess_cluster_age.models import config as models_config
    from tess_cluster_age.segments import SegmentConfig

    expected = {
        "ingestion": config.IngestionConfig,
        "augmentation": SegmentConfig,
        "feature_execution": config.FeatureExecutionConfig,
        "classic_features": ClassicConfig,
        "invariant_features": InvariantConfig,
        "model_input": config.ModelInputConfig,
        "folds": config.FoldsConfig,
        "predict": config.PredictConfig,
        "reporting": config.ReportingConfig,
        "evaluation": config.EvaluationConfig,
        "external_validation": config.ExternalValidationConfig,
        "gaussian_nn": models_config.validate_gaussian_nn,
        "random_forest": models_config.validate_random_forest,
        "regression": models_config.validate_regression,
        "combined": models_config.CombinedConfig,
    }
    assert set(expected) <= set(SECTIONS)
    params = project_parameters()
    for name, model in SECTIONS.items():
        resolved = config_module.resolve(model)
        if isinstance(model, str):
            assert f"{resolved.__module__}:{resolved.__qualname__}" == model, name
            if dataclasses.is_dataclass(resolved) and name in params:
                assert isinstance(validate_section(name, params[name]), resolved), name
        else:  # a checker given as the object itself (seed, the folders): returned as is, naming its section
            assert resolved is model, name
            with pytest.raises(ParameterError, match=rf"^{re.escape(name)} = -1: "):
                validate_section(name, -1)
        if name in expected:
            assert resolved is expected[name], f"{name} resolves to {resolved!r}, not {expected[name]!r}"


def test_the_hook_refuses_bad_parameters_from_the_catalog():
    params = copy.deepcopy(project_parameters())
    params["model_input"]["include_log_flx"] = True
    catalog = DataCatalog({"parameters": MemoryDataset(params)})
    with pytest.raises(ParameterError, match=r"include_log_flx.*did you mean 'include_log_flux'"):
        ParameterValidationHook().before_pipeline_run({}, None, catalog)
    ParameterValidationHook().before_pipeline_run({}, None, DataCatalog({"parameters": MemoryDataset(project_parameters())}))


def test_kedro_run_with_a_typo_fails_before_any_node(tmp_path, monkeypatch):
    """The hook refuses the typo before the runner starts a node: no node is called, no output written.

    The ingestion pipeline's first node reads only the input folders, so without the check it would
    start (and the spy below would fail the test) rather than stop on a missing intermediate file."""
    ran: list[str] = []

    def refuse_to_run(node, inputs=None):
        ran.append(node.name)
        raise AssertionError(f"node {node.name!r} ran before the parameters were checked")

    monkeypatch.setattr(Node, "run", refuse_to_run)
    bootstrap_project(REPO)
    with KedroSession.create(project_path=REPO, runtime_params={"data_dir": str(tmp_path), "folds": {"n_split": 3}}) as session:
        with pytest.raises(ParameterError, match=r"unknown folds parameter\(s\) \['n_split'\]"):
            session.run(pipeline_name="ingestion")
    assert ran == []
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "an output was written before the parameters were checked"


@pytest.mark.parametrize(("section", "value", "expected"), [
    ("predict", {"out_of_range": {"segment_fractio": 0.3}}, "predict.out_of_range.segment_fractio = 0.3: unknown key"),
    ("predict", {"execution": {"workers": 0}}, "workers must be >= 1"),
    ("reporting", {"example_clusters": {"yung": "NGC 1850"}}, "reporting.example_clusters.yung = 'NGC 1850': unknown key"),
    ("evaluation", {"bootstrap": {"m": 10}}, "evaluation.bootstrap.m = 10: unknown key"),
])
def test_nested_sections_are_typed_and_refuse_unknown_keys(section, value, expected):
    with pytest.raises(ParameterError, match=re.escape(expected)):
        validate_section(section, value)


def test_nested_sections_are_read_as_typed_objects():
    predict = validate_section("predict", {"execution": {"workers": 2}, "out_of_range": {"segment_fraction": 0.3}})
    assert predict.execution.workers == 2 and predict.out_of_range.segment_fraction == 0.3
    assert predict.out_of_range.bounds == "min_max"  # the default, from the config class
    assert validate_section("evaluation", {"bootstrap": {"n": 10}}).bootstrap.n == 10


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("models", "random_forest", "per_galaxy"), "yes", "random_forest.models.random_forest.per_galaxy = 'yes': true or false is required"),
    (("models", "random_forest", "workers"), 0, "random_forest.models.random_forest.workers = 0: an integer >= 1 is required"),
    (("models", "random_forest", "periodogram"), "wavelet", "random_forest.models.random_forest.periodogram = 'wavelet'"),
    (("controls",), ["forest"], "random_forest.controls: 'forest' is not one of the models"),
    (("importance", "n_repeats"), "three", "random_forest.importance.n_repeats = 'three': Input should be a valid integer"),
])
def test_a_model_section_is_typed_before_its_estimators_are_checked(path, value, expected):
    with pytest.raises(ParameterError) as error:
        validate_parameters(with_value("random_forest", path, value))
    assert expected in str(error.value)
