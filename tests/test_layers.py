"""The layers: plain science modules at the bottom, the Kedro nodes and the command line on top.

Nothing below the pipelines imports them, and the science modules (reading light curves, segments,
features, models, evaluation, dating) run without Kedro, so that a notebook or another tool can use
them as a library.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.synthetic import REPO

PACKAGE = REPO / "src" / "tess_cluster_age"
GLUE = {"pipeline_registry.py"}
"""Kedro's registry of the pipelines: the one module outside pipelines/ that must import them."""

SCIENCE = ("reading", "lightcurves", "segments", "features.classic", "features.invariant", "features.extract",
           "features.model_input", "features.lombscargle", "models", "models.forest", "models.linear", "models.network",
           "models.tuning", "models.bundle", "models.persistence", "evaluation", "age_distribution", "dating", "api", "project",
           "config", "schema", "provenance", "catalogues")
"""The science modules and the public API on top of them: none may bring in Kedro or a pipeline."""


def _imported_modules(path) -> set[str]:
    """Every module a file imports, relative imports resolved (``from ..pipelines import x`` in
    ``features/a.py`` gives ``tess_cluster_age.pipelines`` and ``tess_cluster_age.pipelines.x``)."""
    package = ["tess_cluster_age", *path.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*parts, *([node.module] if node.module else [])])
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return names


def modules_importing_the_pipelines() -> list[str]:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "pipelines" or relative.name in GLUE:
            continue
        if any(name == "tess_cluster_age.pipelines" or name.startswith("tess_cluster_age.pipelines.") for name in _imported_modules(path)):
            offenders.append(str(relative))
    return offenders


def test_no_module_below_the_pipelines_imports_them():
    assert modules_importing_the_pipelines() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The AST check is able to fail: a module that imports a node module is named."""
    fake = tmp_path / "tess_cluster_age"
    (fake / "features").mkdir(parents=True)
    (fake / "features" / "upward.py").write_text("from ..pipelines.ingestion import nodes\n")
    (fake / "plain.py").write_text("from tess_cluster_age.pipelines.modelling import join_periodogram\n")
    (fake / "features" / "other.py").write_text("from .. import pipelines\n")
    (fake / "fine.py").write_text("from tess_cluster_age.reading import read_light_curves\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert modules_importing_the_pipelines() == ["features/other.py", "features/upward.py", "plain.py"]


@pytest.mark.parametrize("forbidden", ["kedro", "tess_cluster_age.pipelines", "mlflow"])
def test_the_science_modules_import_neither_kedro_nor_a_pipeline(forbidden):
    code = (f"import importlib, sys\nfor m in {SCIENCE!r}: importlib.import_module('tess_cluster_age.' + m)\n"
            f"print(sorted(n for n in sys.modules if n == {forbidden!r} or n.startswith({forbidden!r} + '.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing the science modules loads {done.stdout.strip()}"


DATING_MODULES = ("cli", "api", "dating", "models.persistence", "models.predictors", "features.extract", "reading")
"""What ``tess-cluster-age predict`` and ``date()`` import to date a cluster."""


@pytest.mark.parametrize("heavy", ["torch", "sklearn", "lightgbm", "scipy.stats", "scipy.signal", "astropy.timeseries", "kedro",
                                   "mlflow"])
def test_the_dating_path_imports_no_training_library(heavy):
    """Dating must answer in about two seconds: the learning libraries (seconds of imports each)
    are loaded to train, never to date."""
    code = (f"import importlib, sys\nfor m in {DATING_MODULES!r}: importlib.import_module('tess_cluster_age.' + m)\n"
            f"print(sorted(n for n in sys.modules if n == {heavy!r} or n.startswith({heavy!r} + '.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing the dating path loads {done.stdout.strip()}"
