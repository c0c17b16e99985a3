"""Predictors (issue 16, speed): each predictor gives the bits of the library that trained it (a
network's numpy forward pass is PyTorch's, a forest's node tables are scikit-learn's forest, a
linear member is scikit-learn's ridge), and models read from a model file date without importing
PyTorch or scikit-learn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge

from tess_cluster_age.models import GaussianNetworkAgeModel, GradientBoostingAgeModel, RandomForestAgeModel
from tess_cluster_age.models.forest import forest_member
from tess_cluster_age.models import predictors
from tess_cluster_age.models.predictors import (LIGHTGBM_ZERO, MISSING_NAN, MISSING_NONE, MISSING_ZERO, TREE_LEAF, BoostedTreesMember,
                                                LinearMember, TreeEnsembleMember, log_frequency_pool, tree_leaves)
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.models.network import MeanVarianceNet, as_member
from tess_cluster_age.models.persistence import save_models
from tess_cluster_age.models.preprocessing import Standardiser

from .conftest import synthetic_model_input

N_SCALAR, N_BINS = 7, 53


@pytest.mark.parametrize("branch, pooled", [(None, False), ("linear", False), ("cnn", False), ("linear", True), ("cnn", True)])
def test_the_numpy_forward_pass_is_the_torch_network(branch, pooled):
    """Same weights, both in float64: the outputs agree to rounding (1e-12), for every branch, with
    the bins read as they are or averaged into log-frequency groups first (``bin_pool``)."""
    torch.manual_seed(11)
    bin_pool = log_frequency_pool(np.linspace(0.2, 10.6, N_BINS), 24) if pooled else None
    n_read = (bin_pool.shape[0] if pooled else N_BINS) if branch else 0        # the bins, or their groups, the network reads
    net = MeanVarianceNet(N_SCALAR, (16, 8), 0.1, n_read, branch, branch_width=5).double().eval()
    with torch.no_grad():                       # weights far from zero, so that every layer matters
        for parameter in net.parameters():
            parameter.mul_(3.0)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(29, N_SCALAR + (N_BINS if branch else 0)))
    member = as_member(net, Standardiser(), 0.0, 1.0, 0.05, 1, bin_pool)
    mean, raw = member.forward(x)               # the member pools the bins itself
    with torch.no_grad():
        inputs = torch.as_tensor(x)
        if pooled:                               # in torch: the group means, bins @ P.T
            assert bin_pool.shape == (19, N_BINS)
            inputs = torch.cat([inputs[:, :N_SCALAR], inputs[:, N_SCALAR:] @ torch.as_tensor(bin_pool).T], dim=1)
        expected_mean, expected_raw = (t.numpy() for t in net(inputs))
    assert np.allclose(mean, expected_mean, rtol=1e-12, atol=1e-12)
    assert np.allclose(raw, expected_raw, rtol=1e-12, atol=1e-12)
    assert np.std(mean) > 0.1 and np.std(raw) > 0.1     # not a constant output


def test_a_forest_as_node_tables_predicts_the_bits_of_scikit_learns_forest():
    """Leaves found by walking the node tables (float32 features, NaN sent the trained way) and
    the trees' values added in order give exactly RandomForestRegressor.predict (one thread)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 6))
    y = x[:, 0] + np.sin(3 * x[:, 1]) + 0.1 * rng.normal(size=400)
    x[rng.random(x.shape) < 0.1] = np.nan                    # scikit-learn's trees learn where missing values go
    forest = RandomForestRegressor(n_estimators=25, max_features=0.5, random_state=0, n_jobs=1).fit(x, y)
    member = forest_member(forest)
    test = rng.normal(size=(300, 6)).astype(np.float64) * 1.7
    test[rng.random(test.shape) < 0.15] = np.nan
    test[:20, 0] = np.asarray(member.nodes[0]["threshold"][0], np.float32)  # exactly at a split: goes left
    mu, sigma = member.mean_std(test)
    assert np.array_equal(mu, forest.predict(test)) and np.array_equal(sigma, np.ones(len(test)))
    assert member.problem() is None


def test_a_linear_member_predicts_the_bits_of_scikit_learns_ridge():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 9))
    y = x @ rng.normal(size=9) + 0.3
    scaler = Standardiser(log_transform=True).fit(x)
    ridge = Ridge(alpha=3.0).fit(scaler.transform(x), y)
    member = LinearMember(np.asarray(ridge.coef_, float), float(ridge.intercept_), scaler)
    test = rng.normal(size=(50, 9)) * 2
    assert np.array_equal(member.mean_std(test)[0], ridge.predict(scaler.transform(test)))


@pytest.mark.parametrize("kind", ["gaussian_nn", "random_forest", "gradient_boosting"])
def test_a_model_from_a_model_file_dates_without_torch_or_sklearn(tmp_path, kind):
    table = synthetic_model_input(n_clusters=24, segments_per_cluster=3, seed=8)
    features = ["signal", "square", "noise"]
    estimator = {
        "gaussian_nn": lambda: GaussianNetworkAgeModel(hidden=(8, 4), max_epochs=5, patience=3, inner_folds=2, features=features, random_state=3),
        "random_forest": lambda: RandomForestAgeModel(n_estimators=8, inner_folds=2, features=features, random_state=3),
        "gradient_boosting": lambda: GradientBoostingAgeModel(n_estimators=30, min_child_samples=5, inner_folds=2, features=features,
                                                              random_state=3),
    }[kind]()
    model = estimator.fit(table, table["log_age"], table["weight"], table["name"])
    bundle = TrainedModels(models={"gaussian_nn": model}, model_info={"gaussian_nn": ModelInfo(spec={"estimator": "gaussian_nn"})},
                           feature_columns=["signal", "square", "noise"], identity_columns=["segment_id", "name", "galaxy"],
                           feature_ranges={}, galaxies=["LMC", "MW", "SMC"], n_clusters=24, n_segments=72, provenance={},
                           input_provenance=None, versions={})
    save_models(bundle, tmp_path / "gaussian_nn.zip")
    table.to_csv(tmp_path / "table.csv", index=False)
    mu, sigma = model.predict(table, return_std=True)
    np.save(tmp_path / "expected.npy", np.stack([mu, sigma]))
    script = (
        "import sys, numpy as np, pandas as pd\n"
        "from tess_cluster_age.models.persistence import read_models\n"
        f"table = pd.read_csv({str(tmp_path / 'table.csv')!r})\n"
        f"mu, sigma = read_models({str(tmp_path / 'gaussian_nn.zip')!r}).predictor('gaussian_nn').predict(table)\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "assert np.allclose(mu, expected[0], rtol=0, atol=1e-12) and np.allclose(sigma, expected[1], rtol=0, atol=1e-12)\n"
        "heavy = sorted(m for m in ('torch', 'sklearn', 'scipy.stats', 'lightgbm') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------ walking node tables
def _random_table(rng: np.random.Generator, n_features: int, lightgbm: bool, max_depth: int = 7) -> np.ndarray:
    """A random tree, children numbered after their parent (depth first), with thresholds that
    include the awkward ones: NaN, +-inf, 0 and values inside LightGBM's zero band."""
    awkward = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5 * LIGHTGBM_ZERO, -0.5 * LIGHTGBM_ZERO, LIGHTGBM_ZERO]
    rows: list[list] = []

    def grow(depth: int) -> int:
        number = len(rows)
        rows.append([TREE_LEAF, TREE_LEAF, -2, -2.0, 0, MISSING_NONE])
        if depth < max_depth and (depth == 0 or rng.random() < 0.75):
            threshold = awkward[rng.integers(len(awkward))] if rng.random() < 0.5 else float(rng.normal())
            rows[number][2:] = [int(rng.integers(n_features)), threshold, int(rng.integers(2)), int(rng.integers(3))]
            rows[number][0] = grow(depth + 1)
            rows[number][1] = grow(depth + 1)
        return number

    grow(0)
    fields = [("left_child", np.intp), ("right_child", np.intp), ("feature", np.intp), ("threshold", np.float64),
              ("missing_go_to_left", np.uint8)] + ([("missing_type", np.uint8)] if lightgbm else [])
    return np.array([tuple(row[: len(fields)]) for row in rows], dtype=fields)


def _leaf_by_the_rule(table: np.ndarray, row: np.ndarray) -> int:
    """The leaf of one row, one node after another, by the rule :func:`tree_leaves` states."""
    node = 0
    while table["left_child"][node] != TREE_LEAF:
        value = float(row[table["feature"][node]])
        if "missing_type" not in table.dtype.names:
            missing = np.isnan(value)
        else:
            kind = table["missing_type"][node]
            value = 0.0 if np.isnan(value) and kind != MISSING_NAN else value
            missing = np.isnan(value) if kind == MISSING_NAN else kind == MISSING_ZERO and abs(value) <= LIGHTGBM_ZERO
        go_left = bool(table["missing_go_to_left"][node]) if missing else value <= table["threshold"][node]
        node = table["left_child"][node] if go_left else table["right_child"][node]
    return int(node)


@pytest.mark.parametrize("lightgbm", [False, True])
def test_tree_leaves_follows_every_missing_value_rule_on_crafted_tables(lightgbm):
    """All trees are walked at once with the missing values encoded per split: on random tables
    (thresholds NaN, +-inf, zero, inside LightGBM's zero band; every missing type and side) and
    rows of NaN, +-inf, +-0, band values and values at thresholds, each row reaches the leaf that
    the node-by-node rule gives, for each table alone and for tables joined in a member."""
    rng = np.random.default_rng(21 + lightgbm)
    n_features = 4
    tables = [_random_table(rng, n_features, lightgbm) for _ in range(30)]
    thresholds = np.concatenate([t["threshold"][t["left_child"] != TREE_LEAF] for t in tables])
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-36, -1e-36, LIGHTGBM_ZERO, -LIGHTGBM_ZERO])
    pool = np.concatenate([thresholds, np.nextafter(thresholds, np.inf), rng.normal(size=50)])
    x = np.where(rng.random((400, n_features)) < 0.4, rng.choice(special, size=(400, n_features)), rng.choice(pool, size=(400, n_features)))
    for table in tables:
        assert np.array_equal(tree_leaves(table, x), [_leaf_by_the_rule(table, row) for row in x])
    values = [np.linspace(-1.0, 2.0, len(t)) ** 3 for t in tables]
    member = (BoostedTreesMember(tables, values, n_features, len(tables)) if lightgbm else TreeEnsembleMember(tables, values, n_features))
    with np.errstate(over="ignore"):                        # a forest reads float32 (the largest doubles become inf),
        read = np.where(np.abs(x) <= LIGHTGBM_ZERO, 0.0, x) if lightgbm else x.astype(np.float32)   # LightGBM zeroes its band
    expected = np.zeros(len(x))
    for table, table_values in zip(tables, values):
        expected += table_values[[_leaf_by_the_rule(table, row) for row in read]]
    if not lightgbm:
        expected /= len(tables)
    assert np.array_equal(member.mean_std(x if lightgbm else read)[0], expected)
    assert len(np.unique(expected)) > 100                   # the rows spread over the leaves


def test_a_members_joined_trees_are_not_attributes_and_follow_replaced_tables():
    """The joined tables a member walks are kept outside its attributes (a model file or pickle
    holds the node tables only) and are built again when the member's tables are replaced."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 3))
    y = x[:, 0] - x[:, 1] ** 2
    first, second = (forest_member(RandomForestRegressor(n_estimators=5, random_state=seed, n_jobs=1).fit(x, y)) for seed in (1, 2))
    mu_first = first.mean_std(x)[0]
    assert set(vars(first)) == {"nodes", "values", "n_features"}
    first.nodes, first.values = second.nodes, second.values
    assert np.array_equal(first.mean_std(x)[0], second.mean_std(x)[0]) and not np.array_equal(mu_first, second.mean_std(x)[0])


def test_a_table_whose_walk_could_loop_is_refused_when_predicting():
    table = _random_table(np.random.default_rng(3), 2, lightgbm=False)
    table["left_child"][0] = 0                               # the root is its own child
    with pytest.raises(ValueError, match="tree 0: 1 nodes point outside the tree, back up it"):
        tree_leaves(table, np.zeros((3, 2)))


def test_rows_walked_in_blocks_reach_the_same_leaves(monkeypatch):
    """Many rows are walked a block at a time (a bound on memory): blocks of 7 rows give scikit-learn's bits too."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(250, 4))
    x[rng.random(x.shape) < 0.1] = np.nan
    forest = RandomForestRegressor(n_estimators=6, random_state=0, n_jobs=1).fit(x, np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]))
    monkeypatch.setattr(predictors, "_WALK_PAIRS", 6 * 7)
    assert np.array_equal(forest_member(forest).mean_std(x)[0], forest.predict(x))
