"""The reporting pipeline on small purpose-made tables: tables, figures through the catalog, the page."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age.datasets import FigureFolderDataset, OptionalCSVDataset
from tess_cluster_age.pipelines.reporting.nodes import combine_model_tables, galaxy_verdicts, model_comparison, observed_coverage


def test_report_is_one_self_contained_page_with_every_section(built_report):
    page = built_report["html"].read_text()
    for heading in ("Data", "Model comparison", "Per galaxy", "Calibration", "Controls and other views", "Light curves", "Predictions",
                    "How it was made"):
        assert f"<h2>{heading}</h2>" in page
    assert not re.search(r'(src|href)="(?!data:|#)', page), "the page must not reference any external resource"
    assert "New 1" in page                      # the last predictions are shown
    assert "kedro" in page and "seed: 42" in page
    assert "balanced accuracy MW" in page and "young recall" in page          # the young/old view
    assert "random_forest_shuffled_labels" in page                            # the control beside the real models


def test_figures_are_saved_through_the_catalog_and_embedded_byte_for_byte(built_report):
    page = built_report["html"].read_text()
    files = sorted(built_report["figures"].glob("*/*.png"))
    names = {f.name for f in files}
    assert {"data_overview.png", "predicted_vs_literature.png", "residual_vs_age.png", "by_age_bin.png", "pit_histograms.png",
            "reliability.png", "controls.png", "importances.png", "light_curves.png"} <= names
    embedded = set(re.findall(r'src="data:image/png;base64,([^"]+)"', page))
    assert len(embedded) == len(files)
    for f in files:
        assert base64.b64encode(f.read_bytes()).decode() in embedded


def test_no_skill_is_said_in_words_for_the_milky_way(built_report):
    """The synthetic models equal the MW mean there (shrink 1): the page must say no model beats it."""
    page = built_report["html"].read_text()
    assert "In the MW, no model beats the galaxy&#x27;s mean age" in page
    assert re.search(r"In the LMC, \d model\(s\) beat the galaxy&#x27;s mean age", page)
    assert "No skill from light curves in: MW" in page


def test_comparison_has_each_model_once_per_galaxy_with_ci_and_verdict(built_report, reporting_inputs):
    comparison = built_report["comparison"]
    assert not comparison.duplicated(["model", "galaxy"]).any()          # baselines of both pipelines kept once
    assert set(comparison["galaxy"]) == {"all", "MW", "LMC", "SMC"}
    models = set(comparison["model"])
    assert {"random_forest", "random_forest_no_galaxy", "gaussian_nn", "nn_mse", "constant", "galaxy_mean",
            "random_forest_shuffled_labels"} <= models
    lmc = comparison[(comparison["galaxy"] == "LMC")].set_index("model")
    assert lmc.loc["random_forest", "beats_reference"] and lmc.loc["random_forest", "rmse_diff_hi95"] < 0
    assert lmc.loc["random_forest", "rmse"] < lmc.loc["galaxy_mean", "rmse"]
    assert (comparison["rmse_sd"].dropna() >= 0).all() and comparison["rmse_sd"].notna().any()


def test_verdict_beats_only_when_the_ci_upper_end_is_below_zero():
    base = {"pipeline": "p", "role": "model", "rmse_diff": -0.05, "rmse_diff_lo95": -0.1}
    table = pd.DataFrame([{**base, "model": "a", "galaxy": "MW", "rmse_diff_hi95": 0.001, "beats_reference": False},
                          {**base, "model": "a", "galaxy": "LMC", "rmse_diff_hi95": -0.001, "beats_reference": True}])
    verdicts = galaxy_verdicts(table)
    assert verdicts["MW"].startswith("In the MW, no model beats") and "a CI that includes 0" in verdicts["MW"]
    assert verdicts["LMC"].startswith("In the LMC, 1 model(s) beat")
    assert "no model has a bootstrap comparison" in verdicts["SMC"]


def test_observed_coverage_of_uniform_pit_equals_nominal():
    pit = np.random.default_rng(0).uniform(size=20000)
    levels = np.array([0.1, 0.5, 0.6827, 0.95])
    np.testing.assert_allclose(observed_coverage(pit, levels), levels, atol=0.01)
    overconfident = np.clip(np.random.default_rng(1).normal(0.5, 0.45, 20000), 0, 1)   # too many PIT values in the tails
    assert observed_coverage(overconfident, [0.68])[0] < 0.6


def test_a_model_absent_from_a_table_does_not_break_the_report(reporting_inputs, tmp_path):
    from tests.pipelines.reporting.conftest import run_reporting

    inputs = dict(reporting_inputs)
    inputs["params:reporting"] = {**inputs["params:reporting"], "featured_models": ["no_such_model"]}
    inputs["random_forest.importances"] = inputs["random_forest.importances"].iloc[0:0]
    inputs["last_predictions"] = pd.DataFrame(columns=["name", "galaxy", "model"])
    out = run_reporting(inputs, tmp_path)
    page = out["html"].read_text()
    assert "No predictions yet" in page
    assert "predicted_vs_literature.png was not drawn" in page


def test_no_model_output_at_all_is_one_clear_error():
    with pytest.raises(ValueError, match="run the model pipelines first"):
        combine_model_tables(random_forest=pd.DataFrame(columns=["model"]))


def test_figure_folder_dataset_round_trip(tmp_path):
    import matplotlib.pyplot as plt

    from kedro.io import DatasetError

    dataset = FigureFolderDataset(filepath=str(tmp_path / "figs"))
    with pytest.raises(DatasetError, match="no figure folder"):
        dataset.load()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    dataset.save({"a.png": fig})
    loaded = dataset.load()
    assert list(loaded) == ["a.png"] and loaded["a.png"].startswith(b"\x89PNG")
    with pytest.raises(DatasetError, match="end in '.png'"):
        dataset.save({"a": fig})


def test_optional_csv_dataset_is_empty_when_the_file_is_absent(tmp_path):
    dataset = OptionalCSVDataset(filepath=str(tmp_path / "predictions.csv"), columns=["name", "model"], save_args={"index": False})
    empty = dataset.load()
    assert empty.empty and list(empty.columns) == ["name", "model"]
    dataset.save(pd.DataFrame({"name": ["x"], "model": ["m"]}))
    assert dataset.load()["name"].tolist() == ["x"]


def test_comparison_never_reimplements_a_metric(reporting_inputs):
    """The table's RMSE is the metrics table's own value (mean over seeds), not a recomputation."""
    metrics = combine_model_tables(random_forest=reporting_inputs["random_forest.metrics"])
    comparison = model_comparison(metrics)
    rows = metrics[(metrics["model"] == "random_forest") & (metrics["level"] == "cluster") & (metrics["galaxy"] == "SMC")
                   & (metrics["age_bin"] == "all") & (metrics["metric"] == "rmse")]
    value = comparison.set_index(["model", "galaxy"]).loc[("random_forest", "SMC"), "rmse"]
    assert value == pytest.approx(rows["value"].mean())


def test_data_overview_counts_per_galaxy_and_problems_by_reason(reporting_inputs):
    from tess_cluster_age.pipelines.reporting.nodes import data_overview

    per_galaxy, problems = data_overview(reporting_inputs["clusters"], reporting_inputs["sectors"], reporting_inputs["segments"],
                                         reporting_inputs["ingestion_report"], reporting_inputs["ingestion_problems"])
    rows = per_galaxy.set_index("galaxy")
    assert rows.loc["MW", "clusters"] == 12 and rows.loc["MW", "sectors"] == 36 and rows.loc["all", "segments"] == 108
    assert rows.loc["LMC", "sectors at 600 s"] == 36 and rows.loc["LMC", "sectors at 1800 s"] == 0
    counts = problems.set_index("code")["count"]
    assert counts["unreadable"] == 2 and counts["empty_table"] == 1 and counts["duplicate_names"] == 1


def test_a_pipeline_without_rows_is_logged(reporting_inputs, caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        combined = combine_model_tables(random_forest=reporting_inputs["random_forest.metrics"], regression=reporting_inputs["regression.metrics"])
    assert set(combined["pipeline"]) == {"random_forest"}
    assert "no rows from the regression pipeline" in caplog.text
