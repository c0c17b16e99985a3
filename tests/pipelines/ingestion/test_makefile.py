"""``make run ELK_DIR="/path with spaces"`` passes the folders to kedro and pytest as one argument."""

import os
import shutil
import subprocess

import pytest

from tests.synthetic import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")

ELK = "/data with spaces/it's elk & more"
REFERENCE = "/other disk/ref;tables"


def fake_venv(tmp_path):
    """A venv, marked as installed (newer than pyproject.toml), whose ``kedro`` prints its arguments
    one per line and whose ``python`` prints the data folders it is given."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    scripts = {"kedro": 'for a in "$@"; do printf "%s\\n" "$a"; done',
               "python": 'printf "%s\\n" "$TESS_CLUSTER_AGE_ELK_DIR" "$TESS_CLUSTER_AGE_REFERENCE_DIR"'}
    for name, body in scripts.items():
        (venv / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (venv / "bin" / name).chmod(0o755)
    stamp = venv / ".installed"
    stamp.touch()
    later = (REPO / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (later, later))
    return venv


def make(*args):
    # -s: do not echo the commands; -o browser: never install a browser from a test
    result = subprocess.run(["make", "-s", "-o", "browser", "--no-print-directory", "-C", str(REPO), *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_make_run_passes_a_folder_with_spaces_as_one_argument(tmp_path):
    lines = make("run", f"VENV={fake_venv(tmp_path)}", f"ELK_DIR={ELK}", f"REFERENCE_DIR={REFERENCE}")
    assert lines == ["run", f"--params=elk_dir={ELK},reference_dir={REFERENCE}"]


def test_make_test_passes_folders_with_spaces(tmp_path):
    assert make("test", f"VENV={fake_venv(tmp_path)}", f"ELK_DIR={ELK}", f"REFERENCE_DIR={REFERENCE}") == [ELK, REFERENCE]
