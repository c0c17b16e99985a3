"""Coverage by predicted and by true age (issue 18, item 4): the table ``coverage_by_predicted_age.csv``, its
catalog entry, and the report's section that shows both side by side and says why the true-age extremes
cannot be covered."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from tess_cluster_age import evaluation
from tess_cluster_age.config import EvaluationConfig
from tess_cluster_age.pipelines.reporting.context import (TRUE_AGE_EXTREMES, coverage_section, predicted_age_sentence, render,
                                                          true_age_sentence)
from tess_cluster_age.pipelines.reporting.nodes import coverage_by_predicted_age
from tests.pipelines.reporting.conftest import EVALUATION
from tests.synthetic import REPO, project_parameters


def _cells(bins_n_cov: list[tuple[str, float, float, float]], model: str = "m", galaxy: str = "LMC") -> pd.DataFrame:
    return pd.DataFrame([(model, galaxy, b, n, c68, c95) for b, n, c68, c95 in bins_n_cov],
                        columns=evaluation.COVERAGE_BY_PREDICTED_AGE_COLUMNS)


def test_the_node_writes_the_table_of_every_model_by_predicted_age(reporting_inputs):
    from tess_cluster_age.pipelines.reporting.nodes import combine_cluster_predictions

    clusters = combine_cluster_predictions(**{k.removesuffix(".oof"): v for k, v in reporting_inputs.items() if k.endswith(".oof")})
    table = coverage_by_predicted_age(clusters, {**EVALUATION, "calibration_bin_edges": [8.0, 9.0]})
    assert list(table.columns) == ["model", "galaxy", "predicted_bin", "n", "cov68", "cov95"]
    assert set(table["model"]) == set(clusters["model"]) and set(table["predicted_bin"]) <= {"<8", "8-9", ">=9"}
    # per model and galaxy the bins hold every cluster prediction once: n sums to the clusters per seed
    per_seed = clusters.groupby(["model", "galaxy"]).size() / clusters.groupby("model")["seed"].nunique()
    sums = table[table["galaxy"] != "all"].groupby(["model", "galaxy"])["n"].sum()
    pd.testing.assert_series_equal(sums, per_seed.reindex(sums.index), check_names=False)


def test_the_section_shows_the_recommended_model_by_predicted_and_by_true_age_side_by_side(built_report):
    section = built_report["context"].coverage
    assert section.calibration == "galaxy_age" and section.bin_edges == (7.5, 8.0, 8.5, 9.0) and section.min_clusters == 15
    assert list(section.galaxies) == ["MW", "LMC", "SMC"]
    for galaxy, shown in section.galaxies.items():
        assert shown.table.columns == ("log age bin", "clusters by predicted age", "cov68 by predicted age", "cov95 by predicted age",
                                       "clusters by true age", "cov68 by true age", "cov95 by true age")
        predicted = section.by_predicted[(section.by_predicted["model"] == shown.model) & (section.by_predicted["galaxy"] == galaxy)]
        true = section.by_true[(section.by_true["model"] == shown.model) & (section.by_true["galaxy"] == galaxy)]
        for row in predicted.itertuples():    # the page's numbers are the table's
            index = shown.table.column("log age bin").index(row.predicted_bin)
            assert shown.table.column("cov68 by predicted age")[index] == f"{row.cov68:.3f}"
        for row in true.itertuples():
            index = shown.table.column("log age bin").index(row.age_bin)
            assert shown.table.column("cov95 by true age")[index] == f"{row.cov95:.3f}"
        youngest, oldest = true.iloc[0], true.iloc[-1]
        assert f"youngest bin {youngest.age_bin}" in shown.true_sentence and f"{youngest.cov68:.2f} at 68 %" in shown.true_sentence
        assert f"oldest bin {oldest.age_bin}" in shown.true_sentence and f"{oldest.cov95:.2f} at 95 %" in shown.true_sentence


def test_the_page_says_the_true_age_extremes_cannot_be_fixed_with_the_numbers(built_report):
    page = html.unescape(built_report["html"].read_text())
    body = page[page.index('<section id="calibration">'):page.index('<section id="controls">')]
    assert "<h3>Coverage by predicted and by true age</h3>" in body
    assert TRUE_AGE_EXTREMES in body and "cannot be fixed without information" in TRUE_AGE_EXTREMES
    for shown in built_report["context"].coverage.galaxies.values():
        assert shown.predicted_sentence in body and shown.true_sentence in body
    assert body.count("<th>cov68 by true age</th>") == 3


def test_the_predicted_age_sentence_judges_the_bins_with_enough_clusters():
    rows = _cells([("<7.5", 3.0, 0.0, 0.33), ("7.5-8", 40.0, 0.70, 0.94), ("8-8.5", 52.5, 0.55, 0.97), ("8.5-9", 20.0, 0.75, 0.90)])
    sentence = predicted_age_sentence(rows, "LMC", "m", 15)
    assert sentence == ("In the LMC, by predicted age, m's intervals hold (within 0.68 ± 0.08 and 0.95 ± 0.04) in 1 of the 3 bins "
                        "with at least 15 clusters; not in 8-8.5 (52.5 clusters: 0.55 at 68 %, 0.97 at 95 %) and 8.5-9 (20 clusters: "
                        "0.75 at 68 %, 0.90 at 95 %). Too few clusters to judge: <7.5 (3 clusters: 0.00 at 68 %, 0.33 at 95 %).")
    held = predicted_age_sentence(rows.iloc[1:2], "LMC", "m", 15)
    assert held.endswith("in 1 of the 1 bins with at least 15 clusters: 7.5-8 (40 clusters: 0.70 at 68 %, 0.94 at 95 %).")
    assert "none is judged" in predicted_age_sentence(rows.iloc[:1], "LMC", "m", 15)


def test_the_true_age_sentence_gives_the_youngest_and_oldest_bins():
    rows = pd.DataFrame({"model": "m", "galaxy": "MW", "age_bin": ["<7.5", "8-8.5", ">=9"], "n": [18.0, 1.0, 30.0],
                         "cov68": [0.2, 1.0, 0.59], "cov95": [0.78, 1.0, 1.0]})
    assert true_age_sentence(rows, "MW", "m") == ("In the MW, by true age, m covers the youngest bin <7.5 (18 clusters: 0.20 at 68 %, "
                                                  "0.78 at 95 %) and oldest bin >=9 (30 clusters: 0.59 at 68 %, 1.00 at 95 %).")
    assert "no cluster with a label" in true_age_sentence(rows.iloc[:0], "MW", "m")


def test_a_galaxy_without_a_recommended_model_shows_the_first_featured_model_present():
    by_predicted = pd.concat([_cells([("8-8.5", 20.0, 0.7, 0.95)], model="forest"), _cells([("8-8.5", 20.0, 0.5, 0.9)], model="net")])
    by_true = by_predicted.rename(columns={"predicted_bin": "age_bin"})
    section = coverage_section(by_predicted=by_predicted, by_true=by_true, recommended={"LMC": {"model": "gone", "why": "-"}},
                               featured=("absent", "net", "forest"), config=EvaluationConfig())
    assert list(section.galaxies) == ["LMC"] and section.galaxies["LMC"].model == "net"
    assert "first featured model" in section.galaxies["LMC"].why
    picked = coverage_section(by_predicted=by_predicted, by_true=by_true, recommended={"LMC": {"model": "forest", "why": "lowest NLL"}},
                              featured=("net",), config=EvaluationConfig())
    assert picked.galaxies["LMC"].model == "forest" and picked.galaxies["LMC"].why == "lowest NLL"


def test_the_page_names_the_per_galaxy_calibration_when_it_is_chosen():
    from tests.pipelines.reporting.test_pipeline import _context

    no_labels = pd.DataFrame(columns=["model", "galaxy", "age_bin", "n", "cov68", "cov95"])
    per_galaxy = coverage_section(by_predicted=_cells([("8-8.5", 20.0, 0.7, 0.95)]), by_true=no_labels,
                                  recommended={}, featured=("m",), config=EvaluationConfig(calibration="galaxy"))
    page = html.unescape(render(_context(coverage=per_galaxy)))
    assert "per galaxy only (evaluation.calibration: galaxy)" in page.replace("<code>", "").replace("</code>", "")


def test_the_project_evaluation_section_is_the_config_default_and_the_catalog_writes_the_table():
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    assert EvaluationConfig.from_params(project_parameters()["evaluation"]) == EvaluationConfig()
    bootstrap_project(REPO)
    with KedroSession.create(project_path=REPO) as session:
        dataset = session.load_context().catalog["coverage_by_predicted_age"]
    assert type(dataset).__name__ == "AtomicCSVDataset"
    assert str(dataset._describe()["filepath"]).endswith("data/08_reporting/coverage_by_predicted_age.csv")


def test_the_table_bins_by_the_predicted_not_the_true_age():
    rows = pd.DataFrame({"model": "m", "seed": 0, "galaxy": "LMC", "log_age": [9.5, 7.0, 8.0], "mu": [7.0, 8.2, np.nan], "sigma": 0.1})
    table = evaluation.coverage_by_predicted_age(rows, (7.5, 8.0, 8.5, 9.0))
    assert list(table.loc[table["galaxy"] == "LMC", "predicted_bin"]) == ["<7.5", "8-8.5"]     # a NaN prediction has no bin
