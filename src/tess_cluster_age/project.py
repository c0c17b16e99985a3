"""Where a tess-cluster-age project is, and what it configures for dating, read without Kedro.

The command line and the Python API date clusters with the project's trained models and its
``predict`` parameters. Starting a Kedro session for that costs seconds, so this module reads the
few files it needs directly: the project folder is the first folder (from the working one up)
whose ``pyproject.toml`` has a ``[tool.kedro]`` table; its models are in
``<data_dir>/06_models`` (``data_dir`` from ``conf/{base,local}/globals.yml``); its ``predict``
section is ``conf/base/parameters_predict.yml`` with ``conf/local`` on top, validated by
:class:`~tess_cluster_age.config.PredictConfig` as in a Kedro run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tess_cluster_age.config import PredictConfig

ENVIRONMENTS = ("base", "local")
"""Configuration environments, in the order Kedro merges them (later wins)."""


def find_project(start: str | Path | None = None) -> Path | None:
    """The project folder: ``start`` (default the working folder) or its first parent with a
    ``pyproject.toml`` that has a ``[tool.kedro]`` table; else the source checkout this package is
    installed from (editable installs); else None."""
    start = Path(start or Path.cwd()).resolve()
    for folder in [start, *start.parents, Path(__file__).resolve().parents[2]]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text(errors="ignore"):
            return folder
    return None


def _yaml(path: Path) -> dict[str, Any]:
    """A YAML file's mapping ({} when absent), read by PyYAML's safe loader (its libyaml build when
    installed, about ten times faster than the pure-Python one; the same result)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return (yaml.load(path.read_text(), Loader=loader) or {}) if path.is_file() else {}  # noqa: S506 - a safe loader


def _merged(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else value
    return out


def project_models_folder(project: str | Path) -> Path:
    """``<data_dir>/06_models`` of a project folder (``data_dir`` from ``conf/{base,local}/globals.yml``,
    default ``data``)."""
    project = Path(project)
    data_dir = "data"
    for environment in ENVIRONMENTS:
        data_dir = _yaml(project / "conf" / environment / "globals.yml").get("data_dir", data_dir)
    return project / data_dir / "06_models"


def project_predict_config(project: str | Path | None) -> PredictConfig:
    """The project's validated ``predict`` section (``conf/base`` with ``conf/local`` on top); the
    defaults of :class:`PredictConfig` without a project."""
    section: dict[str, Any] = {}
    if project is not None:
        for environment in ENVIRONMENTS:
            section = _merged(section, _yaml(Path(project) / "conf" / environment / "parameters_predict.yml").get("predict", {}))
    return PredictConfig.from_params(section)


def project_configured_models(project: str | Path | None) -> dict[str, list[str]]:
    """Model pipeline -> the models its parameters save (``save: true``, the default), from
    ``conf/{base,local}/parameters_<pipeline>.yml``: to tell a model of a pipeline not trained yet
    from a name that no pipeline has."""
    from tess_cluster_age.schema import MODEL_PIPELINES

    out: dict[str, list[str]] = {}
    if project is None:
        return out
    for pipeline in MODEL_PIPELINES:
        section: dict[str, Any] = {}
        for environment in ENVIRONMENTS:
            section = _merged(section, _yaml(Path(project) / "conf" / environment / f"parameters_{pipeline}.yml").get(pipeline, {}))
        out[pipeline] = [name for name, spec in (section.get("models") or {}).items() if (spec or {}).get("save", True)]
    return out
