"""The ``tess-cluster-age`` command: help, exit codes, and the same numbers as the predict pipeline."""

from __future__ import annotations

import click
import numpy as np
from astropy.table import QTable
import pandas as pd
import pytest
from kedro.io import DataCatalog

from tess_cluster_age import dating
from tess_cluster_age.cli import REPORT_DATASET, main, report_path
from tess_cluster_age.config import PredictConfig
from tess_cluster_age.datasets.trained_models import TrainedModelsDataset
from tess_cluster_age.reading import read_light_curves
from tests.pipelines.predict.trained import NEW, PREDICT_PARAMS, make_project, train, write_new_cluster, write_training_folder


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder (this repository's configuration) with a small forest in data/06_models."""
    root = tmp_path_factory.mktemp("cli")
    _, bundle = train(write_training_folder(root / "elk"))
    return make_project(root / "project", bundle)


@pytest.mark.parametrize("args", [["--help"], ["predict", "--help"], ["report", "--help"]])
def test_help_is_complete_and_exits_0(args, capsys):
    assert main(args) == 0
    text = " ".join(capsys.readouterr().out.split())   # click wraps the lines
    assert "Usage: tess-cluster-age" in text
    if args[0] == "predict":
        for word in ("--galaxy", "--model", "--models", "--out", "--pdf", ".ecsv", "recommended", "Exit codes", "68 %", "MW",
                     "kedro run", "integrated"):
            assert word in text
    if args[0] == "report":
        assert "report.html" in text and "Exit codes" in text


@pytest.mark.parametrize("args", [["predict", "x.fits"], ["predict", "--out", "a.csv"], ["predict", "/does/not/exist", "--out", "a.csv"],
                                  ["predict", ".", "--galaxy", "M31", "--out", "a.csv"], ["frobnicate"]])
def test_usage_errors_exit_2(args, capsys):
    assert main(args) == 2
    assert "Error" in capsys.readouterr().err


def test_predict_dates_every_file_prints_a_table_and_exits_0(project, tmp_path, capsys):
    folder = tmp_path / "new"
    write_new_cluster(folder / "MW" / "a.fits", log_age=8.4)
    out = tmp_path / "predictions.csv"
    assert main(["--project-dir", str(project), "predict", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert NEW in printed and "age [Myr]" in printed and "68 % interval" in printed
    assert "Warning (MW): no model beats the MW mean age" in printed
    table = pd.read_csv(out)
    assert list(table.columns) == dating.PREDICTION_COLUMNS and table["log_age_header"].tolist() == [8.4]
    # the same numbers as the pipeline's function on the same file
    loaders = TrainedModelsDataset(path=str(project / "data" / "06_models"), pipelines=["random_forest"]).load()
    models = dating.select_models(loaders)
    read = read_light_curves(folder, strict=False, config=dating.reading_config(models))
    expected = dating.date_clusters(read, models, PredictConfig.from_params(PREDICT_PARAMS)).predictions
    np.testing.assert_allclose(table["log_age_pred"], expected["log_age_pred"], rtol=0, atol=1e-9)


def test_predict_exits_1_when_a_file_is_not_dated(project, tmp_path, capsys):
    write_new_cluster(tmp_path / "new.fits")                          # no galaxy folder: dated with --galaxy only
    (tmp_path / "LMC").mkdir()
    (tmp_path / "LMC" / "broken.fits").write_bytes(b"not a FITS file")
    out = tmp_path / "predictions.csv"
    assert main(["--project-dir", str(project), "predict", str(tmp_path / "new.fits"), str(tmp_path / "LMC"), "--out", str(out),
                 "--problems", str(tmp_path / "problems.csv")]) == 1
    captured = capsys.readouterr()
    assert "Not dated" in captured.err and "broken.fits" in captured.err and "no galaxy" in captured.err
    assert pd.read_csv(out).empty
    assert set(pd.read_csv(tmp_path / "problems.csv")["code"]) == {"no_galaxy", "unreadable", "no_readable_file"}
    assert main(["--project-dir", str(project), "predict", str(tmp_path / "new.fits"), "--galaxy", "LMC", "--out", str(out)]) == 0
    assert pd.read_csv(out)["galaxy"].tolist() == ["LMC"]


def test_predict_without_trained_models_names_the_command_and_exits_1(tmp_path, capsys):
    project = make_project(tmp_path / "empty", None)
    write_new_cluster(tmp_path / "LMC" / "a.fits")
    assert main(["--project-dir", str(project), "predict", str(tmp_path / "LMC"), "--out", str(tmp_path / "p.csv")]) == 1
    assert "no trained model file" in (err := capsys.readouterr().err) and "Train the models with `kedro run`" in err


def test_an_unknown_model_is_a_usage_error(project, tmp_path, capsys):
    write_new_cluster(tmp_path / "LMC" / "a.fits")
    assert main(["--project-dir", str(project), "predict", str(tmp_path), "--model", "nope", "--out", str(tmp_path / "p.csv")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_a_model_of_a_pipeline_not_trained_yet_names_its_command(project, tmp_path, capsys):
    write_new_cluster(tmp_path / "LMC" / "a.fits")
    assert main(["--project-dir", str(project), "predict", str(tmp_path), "--model", "nn_mse", "--out", str(tmp_path / "p.csv")]) == 1
    assert "run `kedro run --pipeline=gaussian_nn`" in capsys.readouterr().err


def test_skill_warning_names_only_the_models_without_skill():
    import pandas as pd

    from tess_cluster_age.cli import skill_warnings

    rows = pd.DataFrame({"galaxy": ["SMC", "SMC", "LMC"], "model": ["random_forest", "regression", "random_forest"],
                         "skill_vs_galaxy_mean": ["better", "none", "better"], "cv_rmse_minus_galaxy_mean": [-0.1, -0.03, -0.14],
                         "cv_rmse_minus_galaxy_mean_lo95": [-0.15, -0.07, -0.19], "cv_rmse_minus_galaxy_mean_hi95": [-0.05, 0.02, -0.09]})
    (line,) = skill_warnings(rows)
    assert line.startswith("Warning (SMC): regression does not beat the SMC mean age")
    assert "The SMC ages of regression are essentially" in line and "random_forest" not in line


def test_the_csv_ecsv_and_parquet_outputs_hold_the_same_table(project, tmp_path):
    """CSV is written from the pandas table, ECSV and Parquet from the astropy one (units, meta): same numbers."""
    folder = tmp_path / "new"
    write_new_cluster(folder / "LMC" / "a.fits")
    tables = {}
    for suffix in ("csv", "ecsv", "parquet"):
        out = tmp_path / f"p.{suffix}"
        pdf = tmp_path / f"pdf.{suffix}"
        assert main(["--project-dir", str(project), "predict", str(folder), "--out", str(out), "--pdf", str(pdf)]) == 0
        tables[suffix] = (QTable.read(out, format="ascii.csv" if suffix == "csv" else None),
                          QTable.read(pdf, format="ascii.csv" if suffix == "csv" else None))
    for predictions, grid in tables.values():
        assert list(predictions.colnames) == dating.PREDICTION_COLUMNS
        for column in ("log_age_pred", "sigma", "lo68", "hi95", "age_myr"):
            np.testing.assert_array_equal(np.asarray(getattr(predictions[column], "value", predictions[column])),
                                          np.asarray(getattr(tables["csv"][0][column], "value", tables["csv"][0][column])))
        np.testing.assert_array_equal(np.asarray(getattr(grid["density"], "value", grid["density"])), np.asarray(tables["csv"][1]["density"]))
    assert str(tables["ecsv"][0]["age_myr"].unit) == "Myr" and str(tables["parquet"][1]["density"].unit) == "1 / dex"
    assert "versions_when_dated" in tables["ecsv"][0].meta["tess_cluster_age"]


def test_the_report_command_finds_the_page_the_catalog_writes(tmp_path):
    """`tess-cluster-age report` prints the file of the catalog's report_html entry: a relative
    path from the project folder, an absolute one as written; without the entry, an error naming it."""
    def catalog(filepath):
        return DataCatalog.from_config({REPORT_DATASET: {"type": "tess_cluster_age.datasets.AtomicTextDataset", "filepath": filepath}})

    assert report_path(catalog("elsewhere/08_reporting/report.html"), tmp_path) == tmp_path / "elsewhere/08_reporting/report.html"
    assert report_path(catalog(str(tmp_path / "out" / "page.html")), tmp_path / "project") == tmp_path / "out" / "page.html"
    with pytest.raises(click.ClickException, match="no 'report_html' entry"):
        report_path(DataCatalog(), tmp_path)
