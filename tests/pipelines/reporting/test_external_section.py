"""The report's section "Against independent ages" (issue 18, item 1): its nodes as a slice over an in-memory
catalog on purpose-built tables with known answers, the verdicts in words, and the page.

Known answers (MW, catalogue ``gaia_mw`` matched by name): the catalogue ages are ``x``, the labels
``x ± 0.3`` (alternating), so the labels' RMSE against the catalogue is 0.3 dex on every bootstrap
resample. Model ``good`` predicts ``x`` (RMSE 0: better than the labels, CI [−0.3, −0.3]); ``bad``
predicts ``x ± 0.6`` (RMSE 0.6: worse, CI [+0.3, +0.3]); ``even`` is 0.5 dex off on half the
clusters and exact on the other half (RMSE 0.354, a CI that includes 0: as well as the labels).
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.runner import SequentialRunner

from tess_cluster_age.config import ExternalValidationConfig
from tess_cluster_age.datasets import CSVFolderDataset, FigureFolderDataset
from tess_cluster_age.external import HAT_COLUMNS, MATCH_COLUMNS
from tess_cluster_age.models.bundle import ModelInfo
from tess_cluster_age.pipelines.reporting import create_pipeline
from tess_cluster_age.pipelines.reporting.context import external_section, external_verdict, label_scatter_sentence, render
from tess_cluster_age.pipelines.reporting.nodes import CATALOGUE_COLUMNS, recommended_models
from tests.pipelines.reporting.conftest import _kept_dataset, synthetic_bundle
from tests.synthetic import REPO, project_parameters

EXTERNAL_NODES = ("independent_catalogues_node", "match_independent_ages_node", "validate_against_independent_ages_node",
                  "label_scatter_node", "plot_external_figures_node", "report_external_section_node")
OUTPUTS = ("external_catalogues", "external_matches", "external_validation", "label_scatter", "report_external")
VALIDATION_COLUMNS = ["model", "galaxy", "catalogue", "n", "rmse", "label_rmse", "rmse_minus_label_rmse", "lo95", "hi95"]
"""The columns of external_validation.csv, as issue 18 names them."""
PARAMS = {"bootstrap": {"n": 2000, "seed": 0}, "hat_min_shared": 5}

SIGN = np.array([1, -1] * 4, float)
MW_AGES = 7.0 + 0.25 * np.arange(8)           # gaia_mw's ages (log10 yr)
HADAMARD = np.array([[1]])
for _ in range(3):
    HADAMARD = np.block([[HADAMARD, HADAMARD], [HADAMARD, -HADAMARD]])
"""Sylvester's 8 x 8 Hadamard matrix: rows 1..7 have zero mean and are mutually orthogonal."""
SMC_SIGMA = {"labels": 0.2, "hat_b": 0.1, "hat_c": 0.3}
"""The random error (dex) built into the SMC labels and the two SMC catalogues."""


def _orthogonal_errors(row: int, sigma: float) -> np.ndarray:
    """Errors with sample standard deviation (ddof = 1) exactly ``sigma``, orthogonal to those of any other ``row``."""
    h = HADAMARD[row].astype(float)
    return sigma * h / h.std(ddof=1)


def built_inputs() -> dict:
    """Clusters, catalogue files and out-of-fold predictions with the known answers of the module docstring."""
    smc_truth = 8.0 + 0.2 * np.arange(8)
    mw = pd.DataFrame({"name": [f"MW-{i}" for i in range(8)], "galaxy": "MW", "log_age": MW_AGES + 0.3 * SIGN,
                       "ra": 120.0, "dec": 10.0 + 0.5 * np.arange(8)})
    lmc = pd.DataFrame({"name": [f"L-{i}" for i in range(6)], "galaxy": "LMC", "log_age": 7.5 + 0.1 * np.arange(6),
                        "ra": 80.0, "dec": -69.0 + 0.5 * np.arange(6)})
    smc = pd.DataFrame({"name": [f"S-{i}" for i in range(8)], "galaxy": "SMC",
                        "log_age": smc_truth + _orthogonal_errors(1, SMC_SIGMA["labels"]), "ra": 13.0, "dec": -73.0 + 0.5 * np.arange(8)})
    clusters = pd.concat([mw, lmc, smc], ignore_index=True)
    files = {
        # named as ours, but far away on the sky: found by name only
        "gaia_mw.csv": pd.DataFrame({"name": [f"mw {i}" for i in range(8)], "ra": 200.0, "dec": mw["dec"], "log_age": MW_AGES,
                                     "galaxy": "MW", "catalogue": "gaia_mw"}),
        # other names: found by position; L-5's row lies 0.03 deg away, beyond the LMC's 0.02 deg
        "cmd_lmc.csv": pd.DataFrame({"name": [f"Y{i}" for i in range(6)], "ra": 80.0, "dec": lmc["dec"] + np.array([0.01] * 5 + [0.03]),
                                     "log_age": lmc["log_age"] + 0.1, "galaxy": "LMC", "catalogue": "cmd_lmc"}),
        "hat_b.csv": pd.DataFrame({"name": [f"S {i}" for i in range(8)], "ra": 13.0, "dec": smc["dec"],
                                   "log_age": smc_truth + _orthogonal_errors(2, SMC_SIGMA["hat_b"]), "galaxy": "SMC", "catalogue": "hat_b"}),
        "hat_c.csv": pd.DataFrame({"name": [f"S {i}" for i in range(8)], "ra": 13.0, "dec": smc["dec"],
                                   "log_age": smc_truth + _orthogonal_errors(3, SMC_SIGMA["hat_c"]), "galaxy": "SMC", "catalogue": "hat_c"}),
    }
    exact = {"MW": MW_AGES, "LMC": lmc["log_age"].to_numpy() + 0.1, "SMC": smc_truth}
    rows = []
    for seed in (0, 1):
        for galaxy, part in clusters.groupby("galaxy", sort=False):
            truth = exact[galaxy]
            mus = {"good": truth, "galaxy_mean": np.full(len(part), part["log_age"].mean()),
                   "good_shuffled_labels": truth + 3.0}
            if galaxy == "MW":
                mus |= {"bad": truth + 0.6 * SIGN, "even": truth + 0.5 * (np.arange(8) < 4)}
            for model, mu in mus.items():
                rows.append(pd.DataFrame({"model": model, "level": "cluster", "seed": seed, "name": part["name"].to_numpy(),
                                          "galaxy": galaxy, "log_age": part["log_age"].to_numpy(), "mu": mu, "sigma": 0.3}))
    return {"clusters": clusters, "external_catalogue_files": files, "report_cluster_predictions": pd.concat(rows, ignore_index=True),
            "report_recommended_models": {g: {"model": "good", "why": "built for the test"} for g in ("MW", "LMC", "SMC")},
            "params:external_validation": PARAMS, "params:reporting": {"figure_seed": 0}}


def run_slice(inputs: dict, folder) -> dict:
    """The section's nodes alone, over an in-memory catalog; the figures go to ``folder``."""
    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    for name in OUTPUTS:
        catalog[name] = _kept_dataset()(copy_mode="assign")
    catalog["report_figures_external"] = FigureFolderDataset(filepath=str(folder / "external"), save_args={"dpi": 50})
    SequentialRunner().run(create_pipeline().only_nodes(*EXTERNAL_NODES), catalog)
    return {name: catalog.load(name) for name in (*OUTPUTS, "report_figures_external")}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return run_slice(built_inputs(), tmp_path_factory.mktemp("external"))


# ------------------------------------------------------------------------------------ the nodes
def test_matching_by_name_and_by_position_never_beyond_the_radius(built):
    matches = built["external_matches"]
    assert list(matches.columns) == MATCH_COLUMNS
    mw = matches[matches["galaxy"] == "MW"]
    assert mw["name"].tolist() == [f"MW-{i}" for i in range(8)] and set(mw["matched_by"]) == {"name"}
    assert (mw["separation_deg"] > 50).all()                         # a name match holds whatever the separation
    lmc = matches[matches["galaxy"] == "LMC"]
    assert lmc["name"].tolist() == [f"L-{i}" for i in range(5)] and set(lmc["matched_by"]) == {"position"}
    assert lmc["separation_deg"].to_numpy() == pytest.approx(0.01, abs=1e-6)


def test_validation_table_has_the_known_answers(built):
    table = built["external_validation"]
    assert list(table.columns) == VALIDATION_COLUMNS
    assert "good_shuffled_labels" not in set(table["model"])        # a control predicts permuted labels: never compared
    mw = table[table["galaxy"] == "MW"].set_index("model")
    assert set(mw["catalogue"]) == {"gaia_mw"} and (mw["n"] == 8).all()
    assert mw["label_rmse"].to_numpy() == pytest.approx(0.3)
    good, bad, even = mw.loc["good"], mw.loc["bad"], mw.loc["even"]
    assert (good["rmse"], good["rmse_minus_label_rmse"], good["lo95"], good["hi95"]) == pytest.approx((0.0, -0.3, -0.3, -0.3))
    assert (bad["rmse"], bad["rmse_minus_label_rmse"], bad["lo95"], bad["hi95"]) == pytest.approx((0.6, 0.3, 0.3, 0.3))
    assert even["rmse"] == pytest.approx(np.sqrt(0.125)) and even["lo95"] < 0 < even["hi95"]
    lmc = table[(table["galaxy"] == "LMC") & (table["model"] == "good")]
    assert lmc[["catalogue", "n", "rmse", "label_rmse"]].values.tolist() == [["cmd_lmc", 5, pytest.approx(0.0), pytest.approx(0.1)]]


def test_label_scatter_recovers_the_built_errors(built):
    scatter = built["label_scatter"]
    assert list(scatter.columns) == HAT_COLUMNS
    assert scatter[["galaxy", "catalogue_a", "catalogue_b", "catalogue_c", "n"]].values.tolist() == [["SMC", "labels", "hat_b", "hat_c", 8]]
    row = scatter.iloc[0]
    assert (row["sigma_a"], row["sigma_b"], row["sigma_c"]) == pytest.approx((SMC_SIGMA["labels"], SMC_SIGMA["hat_b"], SMC_SIGMA["hat_c"]))


def test_one_figure_per_galaxy_of_the_recommended_model(built):
    figures = built["report_figures_external"]
    assert sorted(figures) == ["against_independent_ages_LMC.png", "against_independent_ages_MW.png", "against_independent_ages_SMC.png"]
    assert all(png.startswith(b"\x89PNG") for png in figures.values())


def test_the_section_speaks_for_the_recommended_model_and_galaxy_mean(built):
    section = built["report_external"]
    assert section.skipped is None and section.n_catalogues == 4
    assert section.n_matched == {"MW": 8, "LMC": 5, "SMC": 8}
    assert [v.model for v in section.verdicts["MW"]] == ["good", "galaxy_mean"]
    assert section.verdicts["MW"][0].verdict == "better than the labels"
    assert section.tables["MW"].column("model") == ["good", "galaxy_mean"]
    assert section.tables["MW"].column("RMSE − labels' RMSE [95 % CI]")[0] == "−0.300 [−0.300, −0.300]"
    assert section.scatter_sentences["SMC"].startswith("SMC: the labels' own random error is 0.20 dex")
    assert "no estimate" in section.scatter_sentences["MW"]


def test_an_absent_folder_gives_empty_tables_and_says_why(tmp_path, caplog):
    inputs = built_inputs() | {"external_catalogue_files": CSVFolderDataset(path=str(tmp_path / "no such folder")).load()}
    with caplog.at_level(logging.WARNING):
        out = run_slice(inputs, tmp_path)
    assert "external validation skipped: 0 independent catalogues read" in caplog.text
    assert list(out["external_catalogues"].columns) == CATALOGUE_COLUMNS and out["external_catalogues"].empty
    assert list(out["external_matches"].columns) == MATCH_COLUMNS and out["external_matches"].empty
    assert list(out["external_validation"].columns) == VALIDATION_COLUMNS and out["external_validation"].empty
    assert list(out["label_scatter"].columns) == HAT_COLUMNS and out["label_scatter"].empty
    assert out["report_figures_external"] == {}
    section = out["report_external"]
    assert section.n_catalogues == 0 and section.verdicts == {} and "external_dir" in section.skipped and "skipped" in section.skipped


def test_the_recommended_model_is_the_lowest_cross_validated_nll_per_galaxy():
    from tess_cluster_age.provenance import package_versions

    forest = dataclasses.replace(synthetic_bundle(["forest_a", "forest_b"], package_versions()), model_info={
        "forest_a": ModelInfo(spec={}, cross_validation={"MW": {"nll": 1.2}, "LMC": {"nll": 0.5}, "SMC": {"nll": 0.9}}),
        "forest_b": ModelInfo(spec={}, cross_validation={"MW": {"nll": 1.1}, "LMC": {"nll": 0.7}, "SMC": {"nll": 0.95}})})
    net = dataclasses.replace(synthetic_bundle(["net"], package_versions()), model_info={
        "net": ModelInfo(spec={}, cross_validation={"MW": {"nll": 1.3, "rmse": 0.1}, "LMC": {"nll": 0.6}, "SMC": {"nll": 0.8}})})
    picked = recommended_models({"recommend_by": "nll"}, random_forest=forest, gaussian_nn=net, regression=None)
    assert {g: p["model"] for g, p in picked.items()} == {"MW": "forest_b", "LMC": "forest_a", "SMC": "net"}
    assert "lowest cross-validated cluster nll in SMC: 0.800" in picked["SMC"]["why"]
    assert recommended_models({"recommend_by": "rmse"}, gaussian_nn=net)["MW"]["model"] == "net"
    assert recommended_models({}, random_forest=None) == {}


# ------------------------------------------------------------------------------------ verdicts in words
def _rows(*cells) -> pd.DataFrame:
    """external_validation rows ``(catalogue, n, rmse, label_rmse, lo95, hi95)`` of model m in the LMC."""
    return pd.DataFrame([{"model": "m", "galaxy": "LMC", "catalogue": c, "n": n, "rmse": r, "label_rmse": lr, "rmse_minus_label_rmse": r - lr,
                          "lo95": lo, "hi95": hi} for c, n, r, lr, lo, hi in cells], columns=VALIDATION_COLUMNS)


@pytest.mark.parametrize(("lo95", "hi95", "verdict", "words"), [
    (-0.20, -0.01, "better than the labels", "agree with independent ages better than the labels do against cat_a"),
    (-0.20, 0.10, "as well as the labels", "agree with independent ages as well as the labels do against cat_a"),
    (0.01, 0.30, "worse than the labels", "agree with independent ages worse than the labels do against cat_a"),
    (np.nan, np.nan, "unknown", "agree with independent ages to an unknown degree (no CI) against cat_a"),
])
def test_the_verdict_follows_the_ci_of_rmse_minus_label_rmse(lo95, hi95, verdict, words):
    result = external_verdict(_rows(("cat_a", 12, 0.40, 0.45, lo95, hi95)), "LMC", "m", "the ages of m")
    assert result.verdict == verdict
    assert result.sentence.startswith(f"In the LMC, the ages of m {words} (12 clusters: RMSE 0.40 dex against the labels' 0.45, "
                                      "difference −0.050 [")


def test_catalogues_with_different_verdicts_are_each_named():
    result = external_verdict(_rows(("cat_a", 12, 0.3, 0.5, -0.3, -0.1), ("cat_b", 30, 0.5, 0.5, -0.1, 0.1), ("cat_c", 7, 0.6, 0.4, 0.1, 0.3),
                                    ("cat_d", 9, 0.5, 0.5, -0.1, 0.1)), "LMC", "m", "the ages of m")
    assert result.verdict == "mixed"
    assert re.fullmatch(r"In the LMC, the ages of m agree with independent ages better than the labels do against cat_a \(.*\); "
                        r"as well as the labels do against cat_b \(.*\) and cat_d \(.*\); worse than the labels do against cat_c \(.*\)\.",
                        result.sentence)


def test_no_matched_cluster_is_said_so():
    result = external_verdict(_rows(), "SMC", "m", "the ages of m")
    assert result.verdict == "none" and "no cluster with an out-of-fold age from m matched" in result.sentence


def test_label_scatter_in_words():
    scatter = pd.DataFrame([("LMC", "labels", "b", "c", 14, 0.31, 0.2, 0.1, ""), ("LMC", "labels", "b", "d", 41, 0.25, 0.2, 0.1, ""),
                            ("LMC", "labels", "c", "d", 12, np.nan, 0.2, 0.1, "negative")], columns=HAT_COLUMNS)
    assert label_scatter_sentence(scatter, "LMC", 10) == (
        "LMC: the labels' own random error is 0.25–0.31 dex (three-cornered hat with 3 pairs of independent catalogues, sharing "
        "12–41 labelled clusters; 1 pair gave a negative variance for the labels, left out).")
    assert label_scatter_sentence(scatter, "SMC", 10) == ("SMC: no two independent catalogues share 10 or more labelled clusters with "
                                                          "each other: no estimate.")


# ------------------------------------------------------------------------------------ the page
def test_the_report_renders_the_section_from_the_context(built_report):
    page = html.unescape(built_report["html"].read_text())
    section = built_report["context"].external
    body = page[page.index('<section id="external">'):page.index('<section id="calibration">')]
    assert "<h2>Against independent ages</h2>" in body
    sentences = [v.sentence for verdicts in section.verdicts.values() for v in verdicts]
    assert len(sentences) == 6 and all(s in body for s in sentences)
    assert section.method in body and "Gray & Allan 1974" in section.method
    assert all(s in body for s in section.scatter_sentences.values())
    assert body.count('src="data:image/png;base64,') == 3


def test_an_absent_folder_is_stated_on_the_page():
    from tests.pipelines.reporting.test_pipeline import _context

    empty = pd.DataFrame()
    skipped = external_section(catalogues=pd.DataFrame(columns=CATALOGUE_COLUMNS), matches=empty, validation=empty, scatter=empty,
                               recommended={}, config=ExternalValidationConfig())
    page = html.unescape(render(_context(external=skipped)))
    body = page[page.index('<section id="external">'):page.index('<section id="calibration">')]
    assert skipped.skipped in body and "<h3>MW</h3>" not in body


# ------------------------------------------------------------------------------------ configuration and the folder dataset
def test_the_project_parameters_are_the_config_defaults():
    assert ExternalValidationConfig.from_params(project_parameters()["external_validation"]) == ExternalValidationConfig()


def test_the_catalog_reads_the_folder_from_configuration():
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(REPO)
    with KedroSession.create(project_path=REPO) as session:
        assert "shared/data/external" in str(session.load_context().catalog["external_catalogue_files"])
    with KedroSession.create(project_path=REPO, runtime_params={"external_dir": "/elsewhere/external"}) as session:
        assert "/elsewhere/external" in str(session.load_context().catalog["external_catalogue_files"])


def test_csv_folder_dataset_reads_every_csv_in_name_order(tmp_path):
    (tmp_path / "b.csv").write_text("name,log_age\nNGC 1,8.1\n")
    (tmp_path / "a.csv").write_text("name,log_age\n0042,7.5\n")
    (tmp_path / "notes.txt").write_text("not a table")
    dataset = CSVFolderDataset(path=str(tmp_path), load_args={"dtype": {"name": str}})
    assert dataset.exists()
    tables = dataset.load()
    assert list(tables) == ["a.csv", "b.csv"] and tables["a.csv"]["name"].tolist() == ["0042"]
    assert tables["b.csv"]["log_age"].tolist() == [8.1]


def test_csv_folder_dataset_absent_or_empty_loads_nothing(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        absent = CSVFolderDataset(path=str(tmp_path / "missing"))
        assert not absent.exists() and absent.load() == {}
        assert CSVFolderDataset(path=str(tmp_path)).load() == {}
    assert "missing: no such folder" in caplog.text and "holds no CSV table" in caplog.text


def test_csv_folder_dataset_names_a_broken_file_and_is_read_only(tmp_path):
    (tmp_path / "broken.csv").write_bytes(b"name,log_age\n\xff\xfe,1\n")
    dataset = CSVFolderDataset(path=str(tmp_path))
    with pytest.raises(DatasetError, match=r"broken\.csv: cannot be read as CSV"):
        dataset.load()
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({})
