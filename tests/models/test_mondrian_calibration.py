"""Sigma calibrated per galaxy x bin of predicted log age (Mondrian split conformal; issue 18, item 4).

The intervals a user reads are read at the predicted age; these tests check that they hold there on
data whose scatter grows (LMC) or shrinks (SMC) with the predicted age, that the calibration never
sees a test cluster, how a sparse bin falls back, and that a row's scale is its *cluster's* bin.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age import evaluation
from tess_cluster_age.config import AGE_BIN_EDGES, EvaluationConfig, ParameterError
from tess_cluster_age.models import RidgeAgeModel, base, build_model
from tess_cluster_age.models.config import ModelSpec
from tess_cluster_age.models.predictors import MemberEnsemble, calibration_bins, gaussian_scales

from .conftest import synthetic_folds, synthetic_model_input

Z95 = evaluation.Z95


def heteroscedastic_input(n_clusters: int, seed: int = 0) -> pd.DataFrame:
    """Clusters whose log age scatters about the feature by a sigma that depends on it.

    ``signal`` is uniform in 6.8-9.8 and ``log_age = signal + N(0, s)`` with ``s = 0.05 + 0.5 t`` in
    the LMC and ``0.05 + 0.5 (1 - t)`` in the SMC, ``t = (signal - 6.8) / 3``: the best prediction is
    the signal itself, and its error grows with the predicted age in the LMC (0.05 -> 0.55 dex) and
    shrinks with it in the SMC, so one scale per galaxy cannot hold in every predicted-age bin, and
    one scale per bin pooled over galaxies cannot either. Two segments per cluster (tiny segment noise).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clusters):
        galaxy = ("LMC", "SMC")[c % 2]
        signal = rng.uniform(6.8, 9.8)
        t = (signal - 6.8) / 3.0
        log_age = signal + rng.normal(0, 0.05 + 0.5 * (t if galaxy == "LMC" else 1 - t))
        for s in range(2):
            rows.append({"segment_id": f"C{c:04d}|sector|{s}", "name": f"C{c:04d}", "galaxy": galaxy, "kind": "sector", "weight": 0.5,
                         "log_age": log_age, "signal": signal + rng.normal(0, 0.02), "reason": ""})
    return pd.DataFrame(rows)


def _coverage(data: pd.DataFrame, calibration_bin_edges) -> pd.DataFrame:
    make = lambda: RidgeAgeModel(alpha=0.01, features=["signal"], inner_folds=5, random_state=0, calibration_bin_edges=calibration_bin_edges)
    oof = evaluation.with_cluster_rows(evaluation.cross_validate(make, data, synthetic_folds(data, n_splits=5), "ridge"))
    table = evaluation.coverage_by_predicted_age(oof[oof["level"] == "cluster"], AGE_BIN_EDGES)
    return table[table["galaxy"] != "all"]


def _tolerance(nominal: float, n: pd.Series) -> pd.Series:
    """Three standard deviations of a cell's held-out coverage: the cell's n test clusters give a binomial
    fraction (variance p(1-p)/n), and its scale is a conformal quantile of about as many inner clusters,
    whose coverage varies as much again (a Beta law of variance ~ p(1-p)/n_calibration; Vovk 2012)."""
    return 3 * np.sqrt(2 * nominal * (1 - nominal) / n)


@pytest.fixture(scope="module")
def heteroscedastic() -> pd.DataFrame:
    return heteroscedastic_input(3000, seed=0)


def test_mondrian_calibration_holds_in_every_predicted_age_bin_where_per_galaxy_does_not(heteroscedastic):
    mondrian = _coverage(heteroscedastic, AGE_BIN_EDGES)
    per_galaxy = _coverage(heteroscedastic, ())
    assert len(mondrian) == 10 and mondrian["n"].min() >= 200          # every galaxy x bin holds 200+ test clusters
    for table, holds in ((mondrian, True), (per_galaxy, False)):
        off68 = (table["cov68"] - 0.6827).abs() > _tolerance(0.6827, table["n"])
        off95 = (table["cov95"] - 0.95).abs() > _tolerance(0.95, table["n"])
        assert (not (off68 | off95).any()) == holds, table
    # the per-galaxy scale is a compromise: too wide where the scatter is small, too narrow where it is large
    cells = per_galaxy.set_index(["galaxy", "predicted_bin"])
    assert cells.loc[("LMC", "<7.5"), "cov68"] > 0.9 and cells.loc[("LMC", ">=9"), "cov68"] < 0.55
    assert cells.loc[("SMC", "<7.5"), "cov68"] < 0.55 and cells.loc[("SMC", ">=9"), "cov68"] > 0.9


def heavy_tailed_input(n_clusters: int, seed: int = 0) -> pd.DataFrame:
    """Clusters whose log age scatters about the feature with Student-t errors (3 degrees of freedom,
    scale 0.2 dex) in both galaxies: ``|error|`` reaches 0.2 dex (t_0.84) in 68 % of clusters but its
    95 % point is 3.18 x 0.2 dex, 1.6 times the Gaussian's 1.96 x 0.2 dex. Two segments per cluster."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clusters):
        signal = rng.uniform(7.0, 9.5)
        log_age = signal + 0.2 * rng.standard_t(3)
        for s in range(2):
            rows.append({"segment_id": f"C{c:04d}|sector|{s}", "name": f"C{c:04d}", "galaxy": ("LMC", "SMC")[c % 2], "kind": "sector",
                         "weight": 0.5, "log_age": log_age, "signal": signal + rng.normal(0, 0.02), "reason": ""})
    return pd.DataFrame(rows)


def test_each_interval_is_calibrated_on_its_own_so_both_hold_under_heavy_tails():
    """One sigma cannot hold at 68 % and 95 % at once when the errors have heavy tails; each interval's own sigma does."""
    data = heavy_tailed_input(3000, seed=2)
    make = lambda: RidgeAgeModel(alpha=0.01, features=["signal"], inner_folds=5, random_state=0, calibration_bin_edges=())
    oof = evaluation.with_cluster_rows(evaluation.cross_validate(make, data, synthetic_folds(data, n_splits=5), "ridge"))
    clusters = oof[oof["level"] == "cluster"]
    assert {"sigma_68", "sigma_95"} <= set(clusters.columns)
    assert (clusters["sigma_68"] < clusters["sigma"]).all() and (clusters["sigma_95"] > clusters["sigma"]).all()
    for galaxy, rows in clusters.groupby("galaxy"):
        y, mu, sigma = (rows[c].to_numpy() for c in ("log_age", "mu", "sigma"))
        cell = evaluation.point_metrics(y, mu, sigma, **evaluation.interval_sigmas(rows))
        one_sigma = evaluation.point_metrics(y, mu, sigma)
        assert cell["n"] == 1500
        assert abs(cell["cov68"] - 0.6827) <= _tolerance(0.6827, cell["n"]) and abs(cell["cov95"] - 0.95) <= _tolerance(0.95, cell["n"])
        # the Gaussian's sigma sits between the two: too wide at 68 %, too narrow at 95 %
        assert one_sigma["cov68"] > cell["cov68"] + 0.03 and one_sigma["cov95"] < cell["cov95"] - 0.005


def test_one_scale_per_predicted_age_bin_pooled_over_galaxies_is_not_enough():
    # the categories are galaxy x bin: on this data the LMC and SMC need opposite scales in the same bin
    data = heteroscedastic_input(1200, seed=1)
    model = RidgeAgeModel(alpha=0.01, features=["signal"], inner_folds=5, random_state=0).fit(data, data["log_age"], data["weight"],
                                                                                          data["name"])
    scale = model.sigma_scale_
    assert scale[("LMC", ">=9")] > 3 * scale[("LMC", "<7.5")] and scale[("SMC", "<7.5")] > 3 * scale[("SMC", ">=9")]
    assert scale[("LMC", "<7.5")] < scale[("all", "<7.5")] < scale[("SMC", "<7.5")]


def test_the_calibration_never_sees_a_test_cluster(monkeypatch):
    """A spy on interval_scales inside cross-validation: its clusters are exactly the fold's training clusters."""
    seen = []

    def spy(y, mu, sigma, galaxy, groups, *args, **kwargs):
        seen.append((set(groups), tuple(kwargs.get("bin_edges", ())), np.asarray(mu).copy()))
        return calibrate(y, mu, sigma, galaxy, groups, *args, **kwargs)

    calibrate = base.interval_scales
    monkeypatch.setattr(base, "interval_scales", spy)
    data = synthetic_model_input(n_clusters=60, segments_per_cluster=3, seed=4)
    folds = synthetic_folds(data, n_splits=3, seeds=(0, 1))
    make = lambda: RidgeAgeModel(alpha=1.0, features=["signal"], inner_folds=3, random_state=0, calibration_min_clusters=5)
    evaluation.cross_validate(make, data, folds, "ridge")
    tasks = [(seed, k) for seed in sorted(folds["seed"].unique()) for k in sorted(folds["fold"].unique())]
    assert len(seen) == len(tasks)                       # one calibration per outer fold, nothing else
    for (clusters, edges, _), (seed, k) in zip(seen, tasks):
        fold = folds[folds["seed"] == seed]
        test = set(fold.loc[fold["fold"] == k, "name"])
        assert not clusters & test
        assert clusters == set(fold["name"]) - test      # and every training cluster, held out of its inner member
        assert edges == AGE_BIN_EDGES


def _scales(mu_by_cluster: dict[str, tuple[str, float, float]], **kwargs) -> dict:
    """The Gaussian's factors (gaussian_scales of interval_scales) of one segment per cluster (sigma 1):
    cluster -> (galaxy, predicted log age, residual)."""
    names = list(mu_by_cluster)
    galaxy = np.array([mu_by_cluster[n][0] for n in names])
    mu = np.array([mu_by_cluster[n][1] for n in names])
    y = mu + np.array([mu_by_cluster[n][2] for n in names])
    return gaussian_scales(base.interval_scales(y, mu, np.ones(len(names)), galaxy, np.array(names), **kwargs))


def _conformal(residuals: np.ndarray) -> float:
    """The by-hand split-conformal scale of clusters with sigma 1: mean of the 68 % and 95 % quantiles' k."""
    n = len(residuals)
    k68 = np.sort(np.abs(residuals))[min(int(np.ceil((n + 1) * 0.6827)), n) - 1]
    k95 = np.sort(np.abs(residuals) / Z95)[min(int(np.ceil((n + 1) * 0.95)), n) - 1]
    return (k68 + k95) / 2


def test_a_dense_bin_has_its_own_scale_and_a_sparse_bin_falls_back_to_its_galaxy_then_to_all():
    rng = np.random.default_rng(0)
    clusters = {}
    # MW: 20 clusters predicted at 8.2 (bin 8-8.5) with residuals of ~0.1 dex, 4 at 7.2 (<7.5) with ~1 dex
    for i in range(20):
        clusters[f"mw{i}"] = ("MW", 8.2, 0.1 * rng.normal())
    for i in range(4):
        clusters[f"mwy{i}"] = ("MW", 7.2, rng.normal())
    # LMC: 16 clusters predicted at 9.3 (>=9) with ~0.5 dex
    for i in range(16):
        clusters[f"lmc{i}"] = ("LMC", 9.3, 0.5 * rng.normal())
    residual = {n: r for n, (_, _, r) in clusters.items()}
    scales = _scales(clusters, bin_edges=AGE_BIN_EDGES, min_clusters=15)

    mw = np.array([residual[n] for n in clusters if n.startswith("mw")])
    dense = np.array([residual[f"mw{i}"] for i in range(20)])
    lmc = np.array([residual[f"lmc{i}"] for i in range(16)])
    everything = np.array(list(residual.values()))
    assert scales[("MW", "8-8.5")] == pytest.approx(_conformal(dense))        # its own 20 clusters
    assert scales[("MW", "all")] == pytest.approx(_conformal(mw))             # the galaxy: all 24
    assert scales[("MW", "<7.5")] == scales[("MW", "all")]                    # 4 < 15 clusters: the galaxy's scale
    assert scales[("MW", ">=9")] == scales[("MW", "all")]                     # no cluster at all: the galaxy's scale
    assert scales[("LMC", ">=9")] == pytest.approx(_conformal(lmc))
    assert scales[("all", "all")] == pytest.approx(_conformal(everything))   # a galaxy never trained on
    assert scales[("all", "8-8.5")] == pytest.approx(_conformal(dense))      # pooled bins: 20 MW clusters
    assert scales[("all", "7.5-8")] == scales[("all", "all")]                 # empty pooled bin: the pooled scale
    bins = ["all", *evaluation.age_bin_labels(AGE_BIN_EDGES)]
    assert set(scales) == {(g, b) for g in ("all", "LMC", "MW") for b in bins}
    # with a smaller minimum the 4 young MW clusters get their own (wider) scale
    looser = _scales(clusters, bin_edges=AGE_BIN_EDGES, min_clusters=4)
    assert looser[("MW", "<7.5")] == pytest.approx(_conformal(np.array([residual[f"mwy{i}"] for i in range(4)])))
    assert looser[("MW", "<7.5")] > 3 * looser[("MW", "8-8.5")]


class _Identity:
    """A member predicting the design's first column with sigma 1."""

    def mean_std(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return design[:, 0].astype(float), np.ones(len(design))


def _ensemble(edges=AGE_BIN_EDGES) -> MemberEnsemble:
    scale = {("LMC", "all"): 1.0, ("LMC", "<7.5"): 2.0, ("LMC", "7.5-8"): 3.0, ("LMC", "8-8.5"): 1.0, ("LMC", "8.5-9"): 1.0,
             ("LMC", ">=9"): 1.0, ("all", "all"): 5.0, ("all", "<7.5"): 7.0, ("all", "7.5-8"): 11.0, ("all", "8-8.5"): 5.0,
             ("all", "8.5-9"): 5.0, ("all", ">=9"): 5.0}
    intervals = {cell: (0.5 * k, 1.5 * k) for cell, k in scale.items()}      # the Gaussian's factor is their mean, k
    return MemberEnsemble(np.array(["signal"], dtype=object), False, [], [_Identity()], False, intervals, 0.0, tuple(edges))


def test_a_row_takes_the_scale_of_its_clusters_predicted_age_not_of_its_own():
    # cluster A's segments are predicted at 7.4 (<7.5) and 7.8: their mixture mean 7.6 is in bin 7.5-8, for both segments
    X = pd.DataFrame({"name": ["A", "A", "B", "C"], "galaxy": ["LMC", "LMC", "LMC", "SMC"], "signal": [7.4, 7.8, 7.0, 7.0]})
    mu, sigma = _ensemble().predict(X)
    np.testing.assert_array_equal(mu, [7.4, 7.8, 7.0, 7.0])
    np.testing.assert_array_equal(sigma, [3.0, 3.0, 2.0, 7.0])      # C: a galaxy never trained on takes ("all", its bin)
    # without edges (evaluation.calibration: galaxy) every row takes its galaxy's scale
    np.testing.assert_array_equal(_ensemble(edges=()).predict(X)[1], [1.0, 1.0, 1.0, 5.0])
    # without a name column each row is a cluster of its own
    np.testing.assert_array_equal(_ensemble().predict(X.drop(columns="name"))[1], [2.0, 3.0, 2.0, 7.0])
    # each interval's sigma takes its own factor in the same cell
    _, sigma_again, intervals = _ensemble().predict_intervals(X)
    np.testing.assert_array_equal(sigma_again, sigma)
    np.testing.assert_array_equal(intervals["sigma_68"], [1.5, 1.5, 1.0, 3.5])
    np.testing.assert_array_equal(intervals["sigma_95"], [4.5, 4.5, 3.0, 10.5])


def test_the_bins_of_fitting_and_predicting_are_one_function():
    mu = np.array([7.4, 7.8, 9.2, np.nan, 8.0])
    names = np.array(["A", "A", "B", "C", "D"])
    assert list(calibration_bins(mu, names, AGE_BIN_EDGES)) == ["7.5-8", "7.5-8", ">=9", "all", "8-8.5"]   # closed on the left
    assert list(calibration_bins(mu, names, ())) == ["all"] * 5


def test_a_fitted_model_predicts_with_the_scale_of_each_clusters_predicted_bin():
    data = heteroscedastic_input(600, seed=2)
    model = RidgeAgeModel(alpha=0.01, features=["signal"], inner_folds=5, random_state=0).fit(data, data["log_age"], data["weight"],
                                                                                          data["name"])
    mu, sigma = model.predict(data, return_std=True)
    raw_mu, raw_sigma = model.predictor().raw(data)
    bins = calibration_bins(raw_mu, data["name"].to_numpy(), AGE_BIN_EDGES)
    expected = np.array([model.sigma_scale_[(g, b)] for g, b in zip(data["galaxy"], bins)]) * raw_sigma
    np.testing.assert_array_equal(sigma, np.maximum(expected, model.sigma_floor))
    assert len({round(model.sigma_scale_[("LMC", b)], 6) for b in evaluation.age_bin_labels(AGE_BIN_EDGES)}) == 5


def test_the_evaluation_section_chooses_the_calibration_of_every_model():
    assert EvaluationConfig().calibration == "galaxy_age"
    assert EvaluationConfig().sigma_calibration_bin_edges == AGE_BIN_EDGES
    per_galaxy = EvaluationConfig.from_params({"calibration": "galaxy", "calibration_min_clusters": 30})
    assert per_galaxy.sigma_calibration_bin_edges == ()
    model = build_model(ModelSpec(estimator="regression"), 0, None, AGE_BIN_EDGES, per_galaxy.sigma_calibration_bin_edges,
                        per_galaxy.calibration_min_clusters)
    assert model.calibration_bin_edges == () and model.calibration_min_clusters == 30
    own = build_model(ModelSpec(estimator="regression", options={"calibration_bin_edges": [8.0]}), 0, None, AGE_BIN_EDGES, (), 30)
    assert own.calibration_bin_edges == (8.0,)                       # a model's own options win
    with pytest.raises(ParameterError, match="calibration"):
        EvaluationConfig.from_params({"calibration": "age"})
    with pytest.raises(ParameterError, match="calibration_bin_edges"):
        EvaluationConfig.from_params({"calibration_bin_edges": [8.0, 7.5]})
    assert dataclasses.asdict(per_galaxy)["calibration"] == "galaxy"


def test_the_model_pipeline_builds_its_models_with_the_evaluation_sections_calibration():
    from tess_cluster_age.models.config import ModelPipelineConfig
    from tess_cluster_age.pipelines.modelling import _model_factory

    config = ModelPipelineConfig.from_params({"models": {"ridge": {"estimator": "regression"}}})
    spec = config.models["ridge"]
    assert _model_factory(spec, 0, config, EvaluationConfig())().calibration_bin_edges == AGE_BIN_EDGES
    assert _model_factory(spec, 0, config, EvaluationConfig(calibration="galaxy"))().calibration_bin_edges == ()
