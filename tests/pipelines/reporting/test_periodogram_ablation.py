"""The report's periodogram-branch ablation (issue 18, item 2): gaussian_nn with and without a branch,
with the paired-bootstrap CI of each variant's ΔRMSE against it, or how to produce it when it was not run."""

from __future__ import annotations

import dataclasses
import html

import numpy as np
import pandas as pd

from tess_cluster_age.pipelines.modelling import score_models
from tess_cluster_age.pipelines.reporting.context import render
from tess_cluster_age.pipelines.reporting.tables import display_table, periodogram_ablation_display
from tests.pipelines.reporting.conftest import EVALUATION, synthetic_clusters, synthetic_oof
from tests.synthetic import project_parameters

VARIANTS = ["gaussian_nn_invariant_cnn", "gaussian_nn_classic_linear"]


def ablation_metrics() -> pd.DataFrame:
    """Metrics as the gaussian_nn pipeline writes them with ``ablation=true`` (two of the four variants ran)."""
    oof = synthetic_oof(synthetic_clusters(), ["gaussian_nn", "nn_mse", *VARIANTS], seed=4)
    return score_models(oof, EVALUATION, {**project_parameters()["gaussian_nn"], "ablation": True}).assign(pipeline="gaussian_nn")


def test_the_table_holds_each_variant_against_gaussian_nn_with_its_ci():
    metrics = ablation_metrics()
    table = periodogram_ablation_display(metrics)
    assert list(table["model"]) == ["gaussian_nn", *sorted(VARIANTS)]      # nn_mse is no variant
    assert list(table["periodogram branch"]) == ["none", "classic + linear", "invariant + cnn"]
    cells = metrics[(metrics["level"] == "cluster") & (metrics["age_bin"] == "all")]
    rmse = cells[cells["metric"] == "rmse"].groupby(["model", "galaxy"])["value"].mean()
    for row in table.itertuples(index=False):
        for galaxy in ("all", "MW", "LMC", "SMC"):
            assert table.loc[table["model"] == row.model, f"RMSE {galaxy}"].item() == rmse[(row.model, galaxy)]
    for model in VARIANTS:
        for galaxy in ("all", "MW", "LMC", "SMC"):
            mine = cells[(cells["model"] == model) & (cells["galaxy"] == galaxy)].set_index("metric")["value"]
            # the point estimate is the difference of the two models' RMSE, seed by seed, averaged
            assert np.isclose(mine["ablation_rmse_diff"], rmse[(model, galaxy)] - rmse[("gaussian_nn", galaxy)])
            assert mine["ablation_rmse_diff_lo95"] <= mine["ablation_rmse_diff"] <= mine["ablation_rmse_diff_hi95"]
            shown = table.loc[table["model"] == model, f"ΔRMSE {galaxy} [95 % CI]"].item()
            assert shown == (f"{mine['ablation_rmse_diff']:+.3f} [{mine['ablation_rmse_diff_lo95']:+.3f}, "
                             f"{mine['ablation_rmse_diff_hi95']:+.3f}]").replace("-", "−")
    # the synthetic variants shrink the LMC to its mean (0.8) where gaussian_nn does not (0.35): worse, and the CI says so
    lmc = cells[(cells["model"] == VARIANTS[0]) & (cells["galaxy"] == "LMC")].set_index("metric")["value"]
    assert lmc["ablation_rmse_diff_lo95"] > 0


def test_the_page_shows_the_ablation_when_the_variants_ran_and_says_how_to_run_them_otherwise(built_report):
    context = built_report["context"]
    assert not context.periodogram_ablation.rows                          # the default run has no variant
    page = html.unescape(built_report["html"].read_text())
    section = page[page.index('id="periodogram-ablation"'):page.index('id="galaxy"')]
    assert "kedro run --pipeline=gaussian_nn --params=gaussian_nn.ablation=true" in section
    # the last part of the model comparison, before the next section
    assert page.index('id="comparison"') < page.index('id="periodogram-ablation"') < page.index("</section>", page.index('id="comparison"'))

    table = display_table(periodogram_ablation_display(ablation_metrics()))
    page = html.unescape(render(dataclasses.replace(context, periodogram_ablation=table)))
    section = page[page.index('id="periodogram-ablation"'):page.index('id="galaxy"')]
    assert "ablation=true" not in section
    for row in table.rows:
        assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" in section
