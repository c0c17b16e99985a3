"""The command quietens logging while it runs and leaves the caller's logging as it found it.

Without this, calling the command (from a test, a notebook) would silence ingestion's warnings for
the rest of the process: the ingestion tests that read ``caplog`` failed whenever they ran after
the CLI tests.
"""

from __future__ import annotations

import logging

import pytest

from tess_cluster_age.cli import main
from tests.pipelines.predict.trained import make_project, write_new_cluster

READING = "tess_cluster_age.reading"
QUIETENED = ("kedro", "tess_cluster_age", READING, "py.warnings")
"""The loggers the command sets to WARNING or ERROR unless --verbose."""


def _levels() -> dict[str, int]:
    return {name: logging.getLogger(name).level for name in QUIETENED}


@pytest.mark.parametrize("command", [["-v", "predict"], ["predict"]])
def test_logging_levels_are_the_same_after_the_command_as_before(command, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=READING)    # a level of the caller's own (put back after the test)
    before, disabled = _levels(), logging.root.manager.disable
    project = make_project(tmp_path / "project", None)     # no trained model: predict exits 1 inside its session
    write_new_cluster(tmp_path / "LMC" / "a.fits")
    assert main(["--project-dir", str(project), *command, str(tmp_path / "LMC"), "--out", str(tmp_path / "p.csv")]) == 1
    assert _levels() == before
    assert logging.root.manager.disable == disabled
    # and a reading (ingestion) warning logged afterwards is no longer filtered out
    assert logging.getLogger(READING).isEnabledFor(logging.WARNING)
