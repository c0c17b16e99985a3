"""Predictors (issue 16, speed): a network's numpy forward pass is PyTorch's, and a network read
from a model file dates without importing PyTorch or scikit-learn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from tess_cluster_age.models import GaussianNetworkAgeModel
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.models.network import MeanVarianceNet, as_member
from tess_cluster_age.models.persistence import save_models
from tess_cluster_age.models.preprocessing import Standardiser

from .conftest import synthetic_model_input

N_SCALAR, N_BINS = 7, 53


@pytest.mark.parametrize("branch", [None, "linear", "cnn"])
def test_the_numpy_forward_pass_is_the_torch_network(branch):
    """Same weights, both in float64: the outputs agree to rounding (1e-12), for every branch."""
    torch.manual_seed(11)
    net = MeanVarianceNet(N_SCALAR, (16, 8), 0.1, N_BINS if branch else 0, branch, branch_width=5).double().eval()
    with torch.no_grad():                       # weights far from zero, so that every layer matters
        for parameter in net.parameters():
            parameter.mul_(3.0)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(29, N_SCALAR + (N_BINS if branch else 0)))
    member = as_member(net, Standardiser(), 0.0, 1.0, 0.05, 1)
    mean, raw = member.forward(x)
    with torch.no_grad():
        expected_mean, expected_raw = (t.numpy() for t in net(torch.as_tensor(x)))
    assert np.allclose(mean, expected_mean, rtol=1e-12, atol=1e-12)
    assert np.allclose(raw, expected_raw, rtol=1e-12, atol=1e-12)
    assert np.std(mean) > 0.1 and np.std(raw) > 0.1     # not a constant output


def test_a_network_from_a_model_file_dates_without_torch_or_sklearn(tmp_path):
    table = synthetic_model_input(n_clusters=24, segments_per_cluster=3, seed=8)
    model = GaussianNetworkAgeModel(hidden=(8, 4), max_epochs=5, patience=3, inner_folds=2, features=["signal", "square", "noise"],
                                    random_state=3).fit(table, table["log_age"], table["weight"], table["name"])
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
        "heavy = sorted(m for m in ('torch', 'sklearn', 'scipy.stats') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
