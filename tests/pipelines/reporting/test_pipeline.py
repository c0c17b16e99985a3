"""The reporting pipeline on small purpose-made tables: tables, figures through the catalog, the context, the page.

The tests check the :class:`ReportContext` the page is rendered from (numbers, verdicts, figures,
versions, parameters); the page itself only for its structure, its embedded figures and its
escaping (test_browser.py opens it in a browser).
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age.config import EvaluationConfig, ExternalValidationConfig, ParameterError, ReportingConfig
from tess_cluster_age.datasets import FigureFolderDataset, OptionalCSVDataset
from tess_cluster_age.pipelines.reporting.context import (TrainingRecord, VersionDifference, build_context, coverage_section, external_section,
                                                          galaxy_verdicts, render)
from tess_cluster_age.pipelines.reporting.nodes import collect_training_records, combine_model_tables, model_comparison, plot_importance_figures
from tess_cluster_age.pipelines.reporting.tables import display_table
from tess_cluster_age.provenance import package_versions
from tests.pipelines.reporting.conftest import PROVENANCE, RECORDED_NUMPY, synthetic_bundle

FIGURES = {"data_overview.png", "predicted_vs_literature.png", "residual_vs_age.png", "by_age_bin.png", "pit_histograms.png",
           "reliability.png", "controls.png", "importances.png", "light_curves.png", "against_independent_ages_MW.png",
           "against_independent_ages_LMC.png", "against_independent_ages_SMC.png"}


def _pixels(png: bytes) -> np.ndarray:
    from matplotlib.image import imread

    return imread(io.BytesIO(png), format="png")[..., :3]


def _drawn_fraction(pixels: np.ndarray) -> float:
    """Fraction of pixels whose colour differs from the top-left one (0 for a single flat colour)."""
    return float((pixels != pixels[0, 0]).any(axis=-1).mean())


def test_report_is_one_self_contained_page_with_every_section(built_report):
    page = built_report["html"].read_text()
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings == ["Summary", "Data", "Model comparison", "Per galaxy", "Against independent ages", "Calibration",
                        "Controls and other views", "Light curves", "Predictions", "How it was made"]
    assert re.findall(r'<a href="#([^"]+)">', page) == re.findall(r'<section id="([^"]+)">', page)
    assert not re.search(r'(src|href)="(?!data:|#)', page), "the page must not reference any external resource"


def test_the_summary_names_each_galaxys_recommended_model_and_why(built_report):
    page = built_report["html"].read_text()
    listed = re.search(r'<ul id="recommended">(.*?)</ul>', page, re.S).group(1)
    rows = re.findall(r"<li><b>([^<]+)</b>: <code>([^<]+)</code>, ([^<]+)</li>", listed)
    recommended = built_report["context"].external.recommended
    assert rows == [(g, m, why) for g, (m, why) in recommended.items()] and len(rows) == 3


def test_context_holds_the_tables_the_page_shows(built_report):
    context = built_report["context"]
    assert context.title == "test report" and context.n_clusters == 36
    assert context.predictions.column("name") == ["New 1", "New 1"] and context.n_predictions == 2 and context.n_predicted_clusters == 1
    sectors = dict(zip(context.data_per_galaxy.column("galaxy"), context.data_per_galaxy.column("sectors")))
    assert sectors == {"MW": "36", "LMC": "36", "SMC": "36", "all": "108"}
    assert dict(zip(context.ingestion_problems.column("code"), context.ingestion_problems.column("count"))) == {
        "unreadable": "2", "empty_table": "1", "duplicate_names": "1"}
    assert list(context.comparison_tables) == ["all", "MW", "LMC", "SMC"]
    lmc = context.comparison_tables["LMC"]
    shown = lmc.column("RMSE")[lmc.column("model").index("random_forest")]
    assert re.fullmatch(r"\d\.\d{3} ± \d\.\d{3}", shown)
    assert float(shown.split(" ± ")[0]) == pytest.approx(
        context.comparison.set_index(["model", "galaxy"]).loc[("random_forest", "LMC"), "rmse"], abs=5e-4)
    assert "random_forest_shuffled_labels" in context.controls_table.column("model") and context.controls_leak_free
    assert "balanced accuracy MW" in context.young_old_table.columns and context.young_old_log_age == 8.0


def test_figures_are_saved_through_the_catalog_and_embedded_byte_for_byte(built_report):
    page = built_report["html"].read_text()
    files = {f.name: f.read_bytes() for f in sorted(built_report["figures"].glob("*/*.png"))}
    assert set(files) == FIGURES == set(built_report["context"].figures)
    assert built_report["context"].figures == files
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert sorted(embedded) == sorted(base64.b64encode(png).decode() for png in files.values())


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_has_drawn_pixels(built_report, name):
    pixels = _pixels(built_report["context"].figures[name])
    assert min(pixels.shape[:2]) > 100
    assert _drawn_fraction(pixels) > 0.01, f"{name} is one flat colour"


def test_the_pixel_check_catches_a_blank_figure():
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3, 3))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    assert _drawn_fraction(_pixels(buffer.getvalue())) == 0.0


def test_no_skill_in_the_milky_way_and_skill_in_the_lmc(built_report):
    """The synthetic models equal the MW mean there (shrink 1): no model beats it; in the LMC (shrink 0.3) they do."""
    context = built_report["context"]
    verdicts = context.verdicts
    assert list(verdicts) == ["all", "MW", "LMC", "SMC"]
    assert not verdicts["MW"].beaten and verdicts["MW"].best.lo95 < 0 <= verdicts["MW"].best.hi95
    assert verdicts["LMC"].beaten and verdicts["LMC"].winners[0].model == "random_forest"
    assert all(w.hi95 < 0 for w in verdicts["LMC"].winners)
    assert [w.rmse_diff for w in verdicts["LMC"].winners] == sorted(w.rmse_diff for w in verdicts["LMC"].winners)
    lmc = context.comparison.set_index(["model", "galaxy"]).loc[("random_forest", "LMC")]
    assert verdicts["LMC"].winners[0].rmse_diff == lmc["rmse_diff"] and verdicts["LMC"].winners[0].hi95 == lmc["rmse_diff_hi95"]
    assert context.galaxies_without_skill == ("MW",)


def test_versions_and_parameters_are_the_ones_recorded_with_the_models(built_report):
    """gaussian_nn's bundle records numpy 1.26.4, not the installed version: the page shows it, and warns once."""
    context = built_report["context"]
    installed = package_versions()
    assert list(context.training) == ["random_forest", "gaussian_nn", "regression", "combined"]
    assert context.version_differences == (VersionDifference("numpy", RECORDED_NUMPY, installed["numpy"], ("gaussian_nn",)),)
    trained_with = dict(zip(context.versions.column("package"), context.versions.column("trained with")))
    assert trained_with["numpy"] == f"{installed['numpy']} (random_forest, regression, combined); {RECORDED_NUMPY} (gaussian_nn)"
    assert trained_with["kedro"] == installed["kedro"]
    assert len(context.warnings) == 1 and "numpy" in context.warnings[0] and RECORDED_NUMPY in context.warnings[0]
    recorded = context.parameters["recorded with the models"]
    assert recorded["features"] == PROVENANCE and recorded["features"]["seed"] == 42
    assert set(recorded["models"]["gaussian_nn"]) == {"gaussian_nn", "nn_mse"}
    assert context.parameters["this report"]["reporting"]["title"] == "test report"


def _context(**changes):
    """A context of the synthetic report, with some of build_context's arguments changed."""
    from tests.pipelines.reporting.conftest import report_inputs

    inputs = report_inputs()
    comparison = model_comparison(combine_model_tables(random_forest=inputs["random_forest.metrics"]))
    arguments = {"per_galaxy": pd.DataFrame({"galaxy": ["all"], "clusters": [36]}), "problems": pd.DataFrame(columns=["what", "code", "count"]),
                 "comparison": comparison, "metrics": inputs["random_forest.metrics"], "last_predictions": pd.DataFrame(), "figures": {},
                 "training": collect_training_records(random_forest=inputs["random_forest.trained_models"]),
                 "versions_now": package_versions(), "reporting": ReportingConfig(), "evaluation_config": EvaluationConfig(),
                 "external": external_section(catalogues=pd.DataFrame(), matches=pd.DataFrame(), validation=pd.DataFrame(),
                                              scatter=pd.DataFrame(columns=["galaxy"]), recommended={}, config=ExternalValidationConfig()),
                 "external_config": ExternalValidationConfig(),
                 "coverage": coverage_section(by_predicted=pd.DataFrame(columns=["model"]), by_true=pd.DataFrame(columns=["model"]),
                                              recommended={}, featured=(), config=EvaluationConfig())}
    return build_context(**(arguments | changes))


def test_no_version_warning_when_the_environment_is_the_recorded_one():
    context = _context()
    assert context.version_differences == () and context.warnings == ()
    assert context.title == ReportingConfig().title      # the title comes from the config class alone


def test_a_version_changed_since_training_is_a_warning():
    context = _context(versions_now={**package_versions(), "scikit-learn": "0.1"})
    assert [(d.package, d.now) for d in context.version_differences] == [("scikit-learn", "0.1")]
    assert len(context.warnings) == 1 and "scikit-learn" in context.warnings[0]


def test_a_pipeline_without_trained_models_is_a_warning():
    training = collect_training_records(random_forest=synthetic_bundle(["rf"], package_versions()), regression=None)
    context = _context(training=training)
    assert list(context.training) == ["random_forest"]
    assert len(context.warnings) == 1 and "kedro run --pipelines=regression" in context.warnings[0]


def test_models_trained_on_different_features_are_a_warning():
    other = {**PROVENANCE, "classic_features": {"n_bootstrap": 50}}
    training = {"random_forest": TrainingRecord.from_bundle("random_forest", synthetic_bundle(["rf"], package_versions())),
                "gaussian_nn": TrainingRecord.from_bundle("gaussian_nn", synthetic_bundle(["net"], package_versions(), other))}
    context = _context(training=training)
    assert len(context.warnings) == 1 and "classic_features" in context.warnings[0]
    assert set(context.parameters["recorded with the models"]["features"]) == {"random_forest", "gaussian_nn"}


def test_the_page_escapes_what_it_shows():
    context = _context(reporting=ReportingConfig(title="<script>alert(1)</script> & co"),
                       last_predictions=pd.DataFrame({"name": ["<b>NGC</b>"], "model": ["m"]}))
    page = render(context)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "<b>NGC</b>" not in page and "&lt;b&gt;NGC&lt;/b&gt;" in page


def test_a_figure_that_is_not_png_bytes_is_refused():
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(TypeError, match="FigureFolderDataset"):
        _context(figures={"a.png": fig})
    plt.close(fig)


def test_reporting_parameters_are_validated_by_the_config_class(reporting_inputs):
    with pytest.raises(ParameterError, match="importance_tpo"):
        plot_importance_figures(reporting_inputs["random_forest.importances"].assign(pipeline="random_forest"), {"importance_tpo": 3})


def test_display_table_formats_every_cell_one_way():
    table = display_table(pd.DataFrame({"name": ["a", "b"], "n": [12345, 3], "x": [0.12345, np.nan], "big": [20.0, 2.5],
                                        "flag": [True, False]}))
    assert table.columns == ("name", "n", "x", "big", "flag")
    assert table.rows == (("a", "12,345", "0.123", "20", "yes"), ("b", "3", "–", "2.500", "no"))


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
    assert not verdicts["MW"].beaten and verdicts["MW"].best.model == "a" and verdicts["MW"].best.hi95 == 0.001
    assert verdicts["LMC"].beaten and [w.model for w in verdicts["LMC"].winners] == ["a"]
    assert verdicts["SMC"].best is None and not verdicts["SMC"].beaten       # no model has a bootstrap comparison there


def test_a_model_absent_from_a_table_does_not_break_the_report(reporting_inputs, tmp_path):
    from tests.pipelines.reporting.conftest import run_reporting

    inputs = dict(reporting_inputs)
    inputs["params:reporting"] = {**inputs["params:reporting"], "featured_models": ["no_such_model"]}
    inputs["random_forest.importances"] = inputs["random_forest.importances"].iloc[0:0]
    inputs["last_predictions"] = pd.DataFrame(columns=["name", "galaxy", "model"])
    context = run_reporting(inputs, tmp_path)["context"]
    assert context.n_predictions == 0 and context.predictions.rows == ()
    assert set(context.figures) == FIGURES - {"predicted_vs_literature.png", "residual_vs_age.png", "importances.png"}


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
