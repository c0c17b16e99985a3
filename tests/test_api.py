"""The public API: ``from tess_cluster_age import date, load_models, read_light_curves``.

One cluster dated three ways (the API on a ``TimeSeries`` built from its ELK file, the command on
a CSV written from its samples, the command on the ELK file) gives the same ages; a lightkurve-like
object is dated; the table has units, the recommended model and an age distribution per cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import QTable

import tess_cluster_age
from tess_cluster_age import LightCurveInputError, date, load_models, read_light_curves
from tess_cluster_age.age_distribution import AgeDistribution
from tess_cluster_age.cli import main
from tests.pipelines.predict.trained import NEW, make_project, train, write_new_cluster, write_training_folder
from tests.reading_formats import LightCurveLike, time_series, write_csv


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    _, bundle = train(write_training_folder(root / "elk"))
    return make_project(root / "project", bundle)


@pytest.fixture(scope="module")
def elk_file(tmp_path_factory):
    return write_new_cluster(tmp_path_factory.mktemp("new") / "LMC" / "new.fits")


def test_the_package_exports_the_api():
    assert set(tess_cluster_age.__all__) >= {"date", "load_models", "read_light_curves", "AgeDistribution", "LightCurveInputError"}
    assert tess_cluster_age.date is date


def test_api_on_a_time_series_and_the_command_on_csv_and_elk_give_the_same_ages(project, elk_file, tmp_path):
    models = load_models(project)
    sectors = read_light_curves(elk_file).clusters[0].sectors
    series = [time_series(s, NAME=NEW) for s in sectors]
    from_objects = date(series, galaxy="LMC", models=models)
    (tmp_path / "LMC").mkdir()
    csv = write_csv(tmp_path / "LMC" / f"{NEW}.csv", sectors)   # named by its file: the bootstrap noise is seeded by segment (name)
    ages = {}
    for label, path in (("csv", csv), ("elk", elk_file)):
        out = tmp_path / f"{label}.ecsv"
        assert main(["--project-dir", str(project), "predict", str(path), "--out", str(out)]) == 0
        ages[label] = QTable.read(out)
    for table in ages.values():
        for column in ("log_age_pred", "sigma", "lo68", "hi68", "lo95", "hi95"):
            np.testing.assert_allclose(table[column].value, from_objects[column].value, rtol=0, atol=1e-12)
        assert table["n_segments"][0] == from_objects["n_segments"][0]


def test_a_lightkurve_like_object_is_dated_with_units_a_distribution_and_the_recommended_model(project, elk_file):
    sector = read_light_curves(elk_file).clusters[0].sectors[0]
    light_curve = time_series(sector, cls=LightCurveLike, OBJECT="NGC 0000")
    ages = date(light_curve, galaxy="LMC", models=load_models(project))
    assert isinstance(ages, QTable) and len(ages) == 1
    row = ages[0]
    assert row["name"] == "NGC 0000" and row["galaxy"] == "LMC" and row["model"] == "random_forest" and row["recommended"]
    assert ages["log_age_pred"].unit == u.dex(u.yr) and ages["sigma"].unit == u.dex and ages["age_myr"].unit == u.Myr
    assert ages["age_myr"][0].value == pytest.approx(10 ** (ages["log_age_pred"][0].value - 6))
    distribution = row["distribution"]
    assert isinstance(distribution, AgeDistribution) and distribution.n_segments == row["n_segments"]
    assert distribution.mean == pytest.approx(ages["log_age_pred"][0].value, abs=1e-12)
    assert distribution.interval(0.68) == pytest.approx((ages["lo68"][0].value, ages["hi68"][0].value), abs=1e-5)
    assert row["skill_vs_galaxy_mean"] == "better" and not row["out_of_range"]
    assert ages.meta["tess_cluster_age"]["recommended"]["LMC"]["model"] == "random_forest"


def test_every_model_and_a_copied_models_folder(project, elk_file, tmp_path):
    copied = shutil.copytree(project / "data" / "06_models", tmp_path / "shared_models")
    models = load_models(copied)
    assert models.names == ["random_forest"] and models.source == str(copied)
    ages = date(elk_file, models=models, model="all")
    assert list(ages["model"]) == ["random_forest"]
    with pytest.raises(ValueError, match="unknown model 'nope'; the models are random_forest"):
        date(elk_file, models=models, model="nope")


@pytest.mark.parametrize(("data", "galaxy", "message"), [
    ("{missing}", None, "no such file or folder"),
    ({"NGC 1": {"time": [1.0, 2.0], "flux": [1.0, 2.0]}}, "LMC", "flux_err"),
    ("{elk}", "M31", "M31"),
])
def test_a_bad_input_raises_one_error_naming_it(project, elk_file, tmp_path, data, galaxy, message):
    if isinstance(data, str):
        data = data.format(missing=tmp_path / "nothing.fits", elk=elk_file)
    with pytest.raises(LightCurveInputError, match=message):
        date(data, galaxy=galaxy, models=load_models(project))


def test_the_command_writes_parquet_and_the_age_distributions(project, elk_file, tmp_path):
    out, pdf = tmp_path / "ages.parquet", tmp_path / "pdf.csv"
    assert main(["--project-dir", str(project), "predict", str(elk_file), "--out", str(out), "--pdf", str(pdf)]) == 0
    ages = QTable.read(out)
    grid = pd.read_csv(pdf)
    assert set(grid["name"]) == {NEW} and grid["log_age"].diff().dropna().round(6).eq(0.01).all()
    assert np.trapezoid(grid["density"], grid["log_age"]) == pytest.approx(1.0, abs=1e-3)
    assert grid["log_age"][grid["density"].idxmax()] == pytest.approx(ages["log_age_pred"][0].value, abs=0.5)


def test_the_models_command_lists_the_skill_per_galaxy(project, capsys):
    assert main(["--project-dir", str(project), "models"]) == 0
    text = capsys.readouterr().out
    assert "random_forest" in text and "LMC" in text and "better" in text and "rmse - galaxy mean" in text


def test_the_readme_api_example_runs(project, elk_file, monkeypatch):
    """The README's example, as written, in the project folder, on a folder holding one new cluster."""
    import matplotlib

    matplotlib.use("Agg")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert '"../shared/data/unlabelled/LMC"' in example
    example = example.replace('"../shared/data/unlabelled/LMC"', repr(str(elk_file.parent)))
    monkeypatch.chdir(project)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    ages = namespace["ages"]
    assert len(ages) == 1 and ages["name"][0] == NEW and bool(ages["recommended"][0])
    assert np.isfinite(ages["age_myr"][0].value) and ages["lo68"][0].value < ages["hi68"][0].value
