"""Gaussian (mean-variance) neural network of log age, in PyTorch (SPEC 5).

A multilayer perceptron on the scalar features predicts a mean and a standard deviation,
``sigma = softplus(s) + sigma_floor``, trained with the beta-NLL loss of Seitzer et al. (2022,
ICLR, "On the pitfalls of heteroscedastic uncertainty estimation"):
``loss_i = w_i stopgrad(sigma_i^2)^beta [log(sigma_i^2)/2 + (y_i - mu_i)^2 / (2 sigma_i^2)]``,
which with ``beta = 0.5`` stops the variance from swallowing the fit of the mean. An optional
branch reads a periodogram vector (SPEC 3c; columns ``periodogram_*`` of the input table) through a
linear layer or a small 1-D CNN; with ``pool_bins`` the scaled bins are first averaged into groups
evenly spaced in log frequency by a fixed matrix ``P``
(:func:`~tess_cluster_age.models.predictors.log_frequency_pool`): training pools the scaled design
once (``bins @ P.T``) and the network reads the groups; the member keeps ``P`` and pools the same
way when it predicts. On the classic vector's 1,089 linear bins, 32 groups make the CNN about ten
times cheaper per epoch, and the batched linear branch no longer gathers 1,089 columns per step
(timings in the gaussian_nn pipeline's README).

The members of the deep ensemble (Lakshminarayanan et al. 2017) are the inner-fold networks of
:class:`~tess_cluster_age.models.base.CalibratedAgeModel`: each is seeded, trained on all but one
inner fold of training clusters and early-stopped on that held-out fold; their predictions are
combined as an equal-weight mixture, and a sigma scale per galaxy and predicted-age bin is fitted on their held-out
predictions. ``learn_sigma=False`` is the original's "standard" network (MSE loss, sigma = the
member's RMSE on its early-stopping clusters): the ``nn_mse`` model.
"""

from __future__ import annotations

import copy
import functools
import logging

import numpy as np
import torch
from torch import nn

from tess_cluster_age.config import AGE_BIN_EDGES, CALIBRATION_MIN_CLUSTERS
from tess_cluster_age.models.base import CalibratedAgeModel
from tess_cluster_age.models.predictors import (CNN_CHANNELS, CNN_KERNEL, CNN_POOL, CNN_POSITIONS, NetworkMember, log_frequency_pool,
                                                pool_scaled_bins)
from tess_cluster_age.models.preprocessing import Standardiser
from tess_cluster_age.schema import PERIODOGRAM_PREFIX, periodogram_frequency

logger = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class MeanVarianceNet(nn.Module):
    """MLP (+ optional periodogram branch on ``n_bins`` inputs after the scalars) with two outputs:
    the mean and the pre-softplus sigma."""

    def __init__(self, n_scalar: int, hidden: tuple[int, ...], dropout: float, n_bins: int = 0, branch: str | None = None,
                 branch_width: int = 16):
        super().__init__()
        self.n_scalar = n_scalar
        self.branch = None
        width = n_scalar
        if branch == "linear":
            self.branch = nn.Sequential(nn.Linear(n_bins, branch_width), nn.SiLU())
            width += branch_width
        elif branch == "cnn":
            first, second = CNN_CHANNELS
            self.branch = nn.Sequential(
                nn.Unflatten(1, (1, n_bins)),
                nn.Conv1d(1, first, kernel_size=CNN_KERNEL, padding=CNN_KERNEL // 2), nn.SiLU(), nn.MaxPool1d(CNN_POOL),
                nn.Conv1d(first, second, kernel_size=CNN_KERNEL, padding=CNN_KERNEL // 2), nn.SiLU(), nn.AdaptiveAvgPool1d(CNN_POSITIONS),
                nn.Flatten(), nn.Linear(second * CNN_POSITIONS, branch_width), nn.SiLU(),
            )
            width += branch_width
        elif branch is not None:
            raise ValueError(f"periodogram branch {branch!r}: use null, 'linear' or 'cnn'")
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(width, size), nn.SiLU(), nn.Dropout(dropout)]
            width = size
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = x[:, : self.n_scalar]
        if self.branch is not None:
            inputs = torch.cat([inputs, self.branch(x[:, self.n_scalar:])], dim=1)
        out = self.head(self.trunk(inputs))
        return out[:, 0], out[:, 1]


def beta_nll(mu: torch.Tensor, sigma: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, beta: float) -> torch.Tensor:
    """Weighted beta-NLL (Seitzer et al. 2022): NLL terms scaled by ``stopgrad(sigma^2)^beta``."""
    variance = sigma**2
    nll = 0.5 * torch.log(variance) + (y - mu) ** 2 / (2 * variance)
    if beta > 0:
        nll = nll * variance.detach() ** beta
    return (weight * nll).sum() / weight.sum()


def as_member(net: MeanVarianceNet, scaler: Standardiser, y_mean: float, y_std: float, sigma_floor: float, epochs: int,
              bin_pool: np.ndarray | None = None) -> NetworkMember:
    """A trained network as arrays (:class:`~tess_cluster_age.models.predictors.NetworkMember`), which
    predicts without PyTorch; ``sigma_dex`` is set afterwards for a network trained on the squared error.
    ``bin_pool``: the matrix the network's bins were pooled with (:func:`pool_scaled_bins`); the member pools the same way."""
    def arrays(modules) -> list[np.ndarray]:
        return [t.detach().cpu().numpy().copy() for m in modules for t in (m.weight, m.bias)]

    branch = None if net.branch is None else "linear" if isinstance(net.branch[0], nn.Linear) else "cnn"
    branch_layers = [] if net.branch is None else [m for m in net.branch if isinstance(m, (nn.Linear, nn.Conv1d))]
    trunk = [m for m in net.trunk if isinstance(m, nn.Linear)] + [net.head]
    return NetworkMember(scaler, float(y_mean), float(y_std), int(net.n_scalar), branch, arrays(branch_layers), arrays(trunk), None,
                         float(sigma_floor), int(epochs), bin_pool)


class GaussianNetworkAgeModel(CalibratedAgeModel):
    """Deep ensemble of mean-variance MLPs of log age (see the module docstring).

    Args:
        hidden: widths of the hidden layers.
        dropout: dropout rate after each hidden layer.
        learn_sigma: True for the Gaussian network (beta-NLL); False for ``nn_mse``.
        beta: the beta of beta-NLL (0 = plain NLL).
        learning_rate, weight_decay: of the AdamW optimiser.
        batch_size: segments per step.
        max_epochs, patience: early stopping on the held-out inner fold's loss (weighted).
        periodogram_branch: null, ``linear`` or ``cnn``: a branch on the ``periodogram_*`` columns
            (the pipeline joins them when the model entry sets ``periodogram: classic|invariant``).
        branch_width: outputs of the branch.
        pool_bins: 0 (the branch reads every bin), or the number of equal intervals of log frequency
            whose bins are averaged before the branch reads them
            (:func:`~tess_cluster_age.models.predictors.log_frequency_pool`, on the frequencies the
            ``periodogram_<frequency>`` columns are named by; empty intervals are left out).
        features, use_galaxy, inner_folds (= ensemble members), age_bin_edges, calibration_bin_edges, calibration_min_clusters,
            sigma_floor (dex), random_state: see :class:`CalibratedAgeModel`.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        threads: torch CPU threads during training.
    """

    refit_final = False

    def __init__(self, hidden=(32, 32), dropout: float = 0.1, learn_sigma: bool = True, beta: float = 0.5, learning_rate: float = 2e-3,
                 weight_decay: float = 1e-3, batch_size: int = 256, max_epochs: int = 300, patience: int = 25, periodogram_branch: str | None = None,
                 branch_width: int = 16, pool_bins: int = 0, features=None, use_galaxy: bool = True, inner_folds: int = 5,
                 age_bin_edges: tuple[float, ...] = AGE_BIN_EDGES,
                 calibration_bin_edges: tuple[float, ...] = AGE_BIN_EDGES, calibration_min_clusters: int = CALIBRATION_MIN_CLUSTERS,
                 sigma_floor: float = 0.05,
                 device: str = "auto", threads: int = 1, random_state: int = 0):
        self.hidden = hidden
        self.dropout = dropout
        self.learn_sigma = learn_sigma
        self.beta = beta
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.periodogram_branch = periodogram_branch
        self.branch_width = branch_width
        self.pool_bins = pool_bins
        self.features = features
        self.use_galaxy = use_galaxy
        self.inner_folds = inner_folds
        self.age_bin_edges = age_bin_edges
        self.calibration_bin_edges = calibration_bin_edges
        self.calibration_min_clusters = calibration_min_clusters
        self.sigma_floor = sigma_floor
        self.device = device
        self.threads = threads
        self.random_state = random_state

    # the design matrix: scalar features (+ one-hot), then the periodogram bins
    def _extra_columns(self, X):
        self.bin_pool_ = None
        if not self.periodogram_branch:
            self.n_bins_ = 0
            return []
        columns = [c for c in X.columns if c.startswith(PERIODOGRAM_PREFIX)]
        if not columns:
            raise ValueError(f"periodogram branch {self.periodogram_branch!r} needs '{PERIODOGRAM_PREFIX}*' columns in the input "
                             "(set periodogram: classic or invariant in the model entry of the pipeline parameters)")
        self.n_bins_ = len(columns)
        if self.pool_bins:
            self.bin_pool_ = log_frequency_pool(np.array([periodogram_frequency(c) for c in columns]), int(self.pool_bins))
        return columns

    def _fit_members(self, design, y, weight, splits, seeds):
        """The inner-fold members, trained together as one batched network (one by one for the CNN branch)."""
        if self.periodogram_branch == "cnn":
            return super()._fit_members(design, y, weight, splits, seeds)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.threads)))
        try:
            return _fit_members_batched(self, design, y, weight, splits, seeds)
        finally:
            torch.set_num_threads(previous_threads)

    def _fit_member(self, X, y, weight, X_val, y_val, weight_val, seed):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        device = resolve_device(self.device)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.threads)))
        try:
            scaler = Standardiser(log_transform=True).fit(X, weight)
            y_mean = float(np.average(y, weights=weight))
            y_std = float(np.sqrt(np.average((y - y_mean) ** 2, weights=weight))) or 1.0
            floor = self.sigma_floor / y_std

            def tensors(values, target, w):
                scaled = pool_scaled_bins(scaler.transform(values), n_scalar, self.bin_pool_)
                return (torch.as_tensor(scaled, dtype=torch.float32, device=device),
                        torch.as_tensor((target - y_mean) / y_std, dtype=torch.float32, device=device),
                        torch.as_tensor(w / w.mean(), dtype=torch.float32, device=device))

            n_scalar = X.shape[1] - (self.n_bins_ if self.periodogram_branch else 0)
            x_train, t_train, w_train = tensors(X, y, weight)
            validation = tensors(X_val, y_val, weight_val) if X_val is not None and len(X_val) else None
            net = MeanVarianceNet(n_scalar, tuple(self.hidden), self.dropout, x_train.shape[1] - n_scalar if self.periodogram_branch else 0,
                                  self.periodogram_branch, self.branch_width).to(device)
            optimiser = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)

            def loss_of(x, t, w):
                mu, raw = net(x)
                if not self.learn_sigma:
                    return (w * (mu - t) ** 2).sum() / w.sum()
                return beta_nll(mu, nn.functional.softplus(raw) + floor, t, w, self.beta)

            best, best_state, best_epoch, epoch = np.inf, copy.deepcopy(net.state_dict()), 0, 0
            for epoch in range(1, int(self.max_epochs) + 1):
                net.train()
                order = torch.randperm(len(t_train), generator=generator).to(device)
                for start in range(0, len(order), int(self.batch_size)):
                    batch = order[start:start + int(self.batch_size)]
                    optimiser.zero_grad()
                    loss_of(x_train[batch], t_train[batch], w_train[batch]).backward()
                    optimiser.step()
                if validation is None:
                    continue
                net.eval()
                with torch.no_grad():
                    current = float(loss_of(*validation))
                if current < best - 1e-6:
                    best, best_state, best_epoch = current, copy.deepcopy(net.state_dict()), epoch
                elif epoch - best_epoch >= self.patience:
                    break
            if validation is not None:
                net.load_state_dict(best_state)
            member = as_member(net.to("cpu").eval(), scaler, y_mean, y_std, self.sigma_floor, best_epoch if validation is not None else epoch,
                               self.bin_pool_)
            if not self.learn_sigma:
                reference = (X_val, y_val, weight_val) if validation is not None else (X, y, weight)
                mu_ref, _ = member.mean_std(reference[0])
                member.sigma_dex = float(np.sqrt(np.average((mu_ref - reference[1]) ** 2, weights=reference[2])))
            return member
        finally:
            torch.set_num_threads(previous_threads)


def _linear_layers(net: MeanVarianceNet) -> list[nn.Linear]:
    """The network's linear layers in forward order: [linear branch], trunk, head."""
    layers = [net.branch[0]] if net.branch is not None else []
    return layers + [m for m in net.trunk if isinstance(m, nn.Linear)] + [net.head]


class _BatchedMembers:
    """Several :class:`MeanVarianceNet` of one shape trained together as one batched network.

    Each member has its own stacked weights (``torch.baddbmm`` over the member axis), its own
    initialisation (its seed), input scaling, target scaling, training rows and early-stopping
    rows; Adam(W)'s updates are element-wise, so training them together equals training them
    one by one with a shared minibatch order, at a fraction of the Python overhead.
    """

    def __init__(self, nets: list[MeanVarianceNet], dropout: float, device: torch.device):
        self.nets, self.dropout = nets, dropout
        self.has_branch = nets[0].branch is not None
        self.n_scalar = nets[0].n_scalar
        per_net = [_linear_layers(net) for net in nets]
        self.weights = [torch.stack([layers[i].weight.detach() for layers in per_net]).to(device).requires_grad_()
                        for i in range(len(per_net[0]))]
        self.biases = [torch.stack([layers[i].bias.detach() for layers in per_net]).to(device).requires_grad_()
                       for i in range(len(per_net[0]))]

    def parameters(self) -> list[torch.Tensor]:
        return self.weights + self.biases

    def __call__(self, x: torch.Tensor, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: (members, rows, inputs) -> mean and pre-softplus sigma, each (members, rows)."""
        pairs = list(zip(self.weights, self.biases))
        hidden = x[:, :, : self.n_scalar]
        if self.has_branch:
            weight, bias = pairs.pop(0)
            branch = nn.functional.silu(torch.baddbmm(bias[:, None, :], x[:, :, self.n_scalar:], weight.transpose(1, 2)))
            hidden = torch.cat([hidden, branch], dim=2)
        for weight, bias in pairs[:-1]:
            hidden = nn.functional.silu(torch.baddbmm(bias[:, None, :], hidden, weight.transpose(1, 2)))
            hidden = nn.functional.dropout(hidden, self.dropout, training)
        weight, bias = pairs[-1]
        out = torch.baddbmm(bias[:, None, :], hidden, weight.transpose(1, 2))
        return out[..., 0], out[..., 1]

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.parameters()]

    def unstack(self, state: list[torch.Tensor]) -> list[MeanVarianceNet]:
        """The members as ordinary networks (on the CPU) with the weights in ``state``."""
        n = len(self.weights)
        for m, net in enumerate(self.nets):
            for layer, weight, bias in zip(_linear_layers(net), state[:n], state[n:]):
                layer.weight.data = weight[m].detach().cpu().clone()
                layer.bias.data = bias[m].detach().cpu().clone()
            net.to("cpu").eval()
        return self.nets


def _fit_members_batched(model: "GaussianNetworkAgeModel", design, y, weight, splits, seeds) -> list[NetworkMember]:
    """Train one member per inner split together (see :class:`_BatchedMembers`); early stopping per member."""
    device = resolve_device(model.device)
    n_members = len(splits)
    n_bins = model.n_bins_ if model.periodogram_branch else 0
    n_scalar = design.shape[1] - n_bins
    scalers, inputs, y_mean, y_std = [], [], np.empty(n_members), np.empty(n_members)
    train_weight, val_weight = np.zeros((n_members, len(y))), np.zeros((n_members, len(y)))
    for m, (train, val) in enumerate(splits):
        scalers.append(Standardiser(log_transform=True).fit(design[train], weight[train]))
        inputs.append(pool_scaled_bins(scalers[-1].transform(design), n_scalar, model.bin_pool_))
        y_mean[m] = np.average(y[train], weights=weight[train])
        y_std[m] = np.sqrt(np.average((y[train] - y_mean[m]) ** 2, weights=weight[train])) or 1.0
        train_weight[m, train] = weight[train] / weight[train].mean()
        val_weight[m, val] = weight[val] / weight[val].mean()
    as_tensor = functools.partial(torch.as_tensor, dtype=torch.float32, device=device)
    x = as_tensor(np.stack(inputs))
    target = as_tensor((y[None, :] - y_mean[:, None]) / y_std[:, None])
    w_train, w_val = as_tensor(train_weight), as_tensor(val_weight)
    floor = as_tensor(model.sigma_floor / y_std)[:, None]
    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        nets.append(MeanVarianceNet(n_scalar, tuple(model.hidden), model.dropout, x.shape[2] - n_scalar, model.periodogram_branch,
                                    model.branch_width))
    batched = _BatchedMembers(nets, model.dropout, device)
    optimiser = torch.optim.AdamW(batched.parameters(), lr=model.learning_rate, weight_decay=model.weight_decay)
    generator = torch.Generator().manual_seed(int(seeds[0]))

    def member_losses(rows, training: bool, weights: torch.Tensor) -> torch.Tensor:
        mu, raw = batched(x[:, rows], training)
        w = weights[:, rows]
        if model.learn_sigma:
            sigma = nn.functional.softplus(raw) + floor
            terms = 0.5 * torch.log(sigma**2) + (target[:, rows] - mu) ** 2 / (2 * sigma**2)
            if model.beta > 0:
                terms = terms * (sigma.detach() ** 2) ** model.beta
        else:
            terms = (target[:, rows] - mu) ** 2
        return (w * terms).sum(dim=1) / w.sum(dim=1).clamp_min(1e-12)

    best = np.full(n_members, np.inf)
    best_epoch = np.zeros(n_members, int)
    best_state = batched.snapshot()
    everything = torch.arange(len(y), device=device)
    for epoch in range(1, int(model.max_epochs) + 1):
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(order), int(model.batch_size)):
            optimiser.zero_grad()
            member_losses(order[start:start + int(model.batch_size)], True, w_train).sum().backward()
            optimiser.step()
        with torch.no_grad():
            current = member_losses(everything, False, w_val).cpu().numpy()
        active = epoch - best_epoch < model.patience
        improved = active & (current < best - 1e-6)
        if improved.any():
            state = batched.snapshot()
            mask = torch.as_tensor(improved, device=device)
            best_state = [torch.where(mask.view(-1, *[1] * (new.dim() - 1)), new, old) for new, old in zip(state, best_state)]
            best[improved], best_epoch[improved] = current[improved], epoch
        if not (epoch - best_epoch < model.patience).any():
            break
    members = [as_member(net, scalers[m], y_mean[m], y_std[m], model.sigma_floor, int(best_epoch[m]), model.bin_pool_)
               for m, net in enumerate(batched.unstack(best_state))]
    if not model.learn_sigma:
        for member, (_, val) in zip(members, splits):
            mu, _ = member.mean_std(design[val])
            member.sigma_dex = float(np.sqrt(np.average((mu - y[val]) ** 2, weights=weight[val])))
    return members
