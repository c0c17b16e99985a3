"""Fitted age models as arrays: what a trained model needs to predict, and nothing else.

An estimator of :mod:`tess_cluster_age.models` learns with scikit-learn, LightGBM or PyTorch; what
it learns is one of the predictors below, and its ``predict`` is the predictor's. A predictor is
plain data (arrays, numbers, names) with a ``predict(X) -> (mu, sigma)`` written in numpy, so a
model file can be read back and used without importing the learning machinery: dating a cluster
loads neither PyTorch, scikit-learn nor LightGBM (about two seconds of imports, against a
two-second budget). Each predictor gives the same bits as the library that trained it (tests
compare them).

- :class:`GalaxyMeans`: a mean and standard deviation per galaxy (the baselines);
- :class:`MemberEnsemble`: the equal-weight mixture of an estimator's members, with its sigma
  scale per galaxy and predicted-age bin (:class:`~tess_cluster_age.models.base.CalibratedAgeModel`);
- :class:`GalaxyRouter`: one predictor per host galaxy
  (:class:`~tess_cluster_age.models.base.PerGalaxy`);
- members: :class:`NetworkMember` (a mean-variance network's weights and its forward pass),
  :class:`TreeEnsembleMember` (a forest's node tables and leaf values), :class:`BoostedTreesMember`
  (LightGBM's boosted trees as node tables) and :class:`LinearMember` (a ridge's coefficients
  behind a :class:`~tess_cluster_age.models.preprocessing.Standardiser`).

``X`` is a model-input table (a DataFrame with a ``galaxy`` column and the feature columns);
``mu`` is the mean log age (log10 yr) and ``sigma`` its standard deviation (dex), per row.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age.evaluation import INTERVALS, age_bins, mixture_sigma, second_moment
from tess_cluster_age.models.preprocessing import Standardiser
from tess_cluster_age.schema import GALAXIES

CNN_CHANNELS = (8, 16)
"""Output channels of the two convolutions of the periodogram CNN branch."""
CNN_KERNEL = 9
"""Kernel width (bins) of both convolutions; each is zero-padded by ``CNN_KERNEL // 2`` on each side."""
CNN_POOL = 4
"""Max-pooling width after the first convolution."""
CNN_POSITIONS = 8
"""Positions the second convolution's output is averaged down to (adaptive average pooling)."""


def log_frequency_pool(frequency: np.ndarray, n_groups: int) -> np.ndarray:
    """The fixed matrix that averages periodogram bins into groups evenly spaced in log frequency.

    Bin ``i`` at frequency ``f_i`` (1/d, increasing, > 0) falls in group
    ``g_i = min(floor(n_groups ln(f_i / f_0) / ln(f_last / f_0)), n_groups - 1)``: the groups are
    ``n_groups`` equal intervals of ``ln f`` from the first bin to the last. Groups that no bin falls
    in are left out (on a linear grid the lowest groups are narrower than a bin), so the result has
    at most ``n_groups`` rows, in increasing frequency. Row ``g`` holds ``1 / n_g`` at the ``n_g``
    bins of its group and 0 elsewhere: ``bins @ P.T`` is the mean of each group's bins. The classic
    vector's 1,089 linear bins (0.11-10.99 1/d, step 0.01) and ``n_groups = 64`` give 64 groups,
    each of the six from 0.11 to 0.16 1/d one bin wide, the top one (10.23-10.99 1/d) 77 bins wide.

    Args:
        frequency: the bins' frequencies (1/d), strictly increasing and positive.
        n_groups: intervals of log frequency (>= 1).

    Returns:
        ``P``, shape (groups kept, bins), float64.
    """
    frequency = np.asarray(frequency, float)
    if n_groups < 1:
        raise ValueError(f"n_groups = {n_groups!r}: at least 1 group is needed")
    if frequency.ndim != 1 or len(frequency) < 2 or not (frequency[0] > 0 and np.all(np.diff(frequency) > 0)):
        raise ValueError("log-frequency pooling needs at least two bins at positive, strictly increasing frequencies "
                         f"(got {frequency[:3]}...)")
    position = np.log(frequency / frequency[0]) / np.log(frequency[-1] / frequency[0])
    group = np.minimum(np.floor(n_groups * position).astype(int), n_groups - 1)
    kept, index = np.unique(group, return_inverse=True)
    pool = np.zeros((len(kept), len(frequency)))
    pool[index, np.arange(len(frequency))] = 1.0
    return pool / pool.sum(axis=1, keepdims=True)


def pool_scaled_bins(scaled: np.ndarray, n_scalar: int, bin_pool: np.ndarray | None) -> np.ndarray:
    """A network's scaled inputs with the bins after the first ``n_scalar`` columns averaged into
    groups, ``bins @ P.T`` (``P`` from :func:`log_frequency_pool`); unchanged when ``bin_pool`` is None.
    Training pools the scaled design with it once; :class:`NetworkMember` pools with it when predicting."""
    if bin_pool is None:
        return scaled
    return np.column_stack([scaled[:, :n_scalar], scaled[:, n_scalar:] @ np.asarray(bin_pool, float).T])


def galaxy_of(X: pd.DataFrame) -> np.ndarray:
    """The host galaxy of each row (``X['galaxy']``)."""
    if "galaxy" not in X:
        raise ValueError("X needs a 'galaxy' column (model_input carries one)")
    return X["galaxy"].astype(str).to_numpy()


def design_matrix(X: pd.DataFrame, feature_names: Sequence[str], use_galaxy: bool, extra_columns: Sequence[str] = ()) -> np.ndarray:
    """The input matrix of a model: its features, the galaxy one-hot (MW, LMC, SMC) when
    ``use_galaxy``, then ``extra_columns`` (a network's periodogram bins)."""
    values = [X[list(feature_names)].to_numpy(float)]
    if use_galaxy:
        galaxy = galaxy_of(X)
        values += [(galaxy == g).astype(float)[:, None] for g in GALAXIES]
    if len(extra_columns):
        values.append(X[list(extra_columns)].to_numpy(float))
    return np.column_stack(values) if len(values) > 1 else values[0]


ALL_BINS = "all"
"""Bin label of a calibration scale that holds for every predicted age (one scale per galaxy)."""


def cluster_names(X: pd.DataFrame) -> np.ndarray:
    """The cluster of each row (``X['name']``); without a ``name`` column each row is a cluster of its own."""
    return X["name"].astype(str).to_numpy() if "name" in X else np.arange(len(X)).astype(str)


def calibration_bins(mu: np.ndarray, names: np.ndarray, bin_edges: Sequence[float]) -> np.ndarray:
    """The predicted-age bin of each row's cluster: the category of the sigma calibration.

    A cluster's prediction is the equal-weight mixture of its segments (SPEC 4), so its predicted
    log age is ``mu_c = mean_i mu_i`` over its rows (NaN ``mu`` left out). Every row of the cluster
    gets the bin of ``mu_c`` (:func:`tess_cluster_age.evaluation.age_bins`: closed on the left), so
    all segments of a cluster share one sigma scale, the one fitted for clusters predicted at that
    age. Fitting (:func:`tess_cluster_age.models.base.interval_scales`) and predicting
    (:meth:`MemberEnsemble.predict`) both call this function.

    Args:
        mu: per-row predicted mean log age (log10 yr).
        names: per-row cluster name.
        bin_edges: log10(age / yr) edges; none: every row is in bin :data:`ALL_BINS`.

    Returns:
        The bin label of each row (:func:`~tess_cluster_age.evaluation.age_bin_labels`), or
        :data:`ALL_BINS` where there are no edges or ``mu_c`` is not finite.
    """
    mu = np.asarray(mu, float)
    if not len(bin_edges):
        return np.full(len(mu), ALL_BINS, dtype=object)
    cluster_mu = pd.Series(mu).groupby(np.asarray(names), sort=False).transform("mean").to_numpy(float)
    finite = np.isfinite(cluster_mu)
    labels = np.full(len(mu), ALL_BINS, dtype=object)
    labels[finite] = age_bins(cluster_mu[finite], bin_edges)
    return labels


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (swish) activation ``x / (1 + exp(-x))`` (Elfwing et al. 2018), as ``torch.nn.SiLU``."""
    with np.errstate(over="ignore"):
        return x / (1.0 + np.exp(-x))


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))``, computed without overflow."""
    return np.logaddexp(0.0, x)


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """1-D cross-correlation with zero padding ``k // 2`` (as ``torch.nn.Conv1d(padding=k // 2)``):
    ``out[n, o, l] = b[o] + sum_{c, j} w[o, c, j] x_pad[n, c, l + j]``; x is (rows, channels, bins)."""
    pad = weight.shape[-1] // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, ((0, 0), (0, 0), (pad, pad))), weight.shape[-1], axis=2)
    return np.einsum("nclk,ock->nol", windows, weight) + bias[None, :, None]


def _adaptive_average(x: np.ndarray, positions: int) -> np.ndarray:
    """Adaptive average pooling of the last axis to ``positions`` windows, window ``i`` spanning
    ``[floor(i L / p), ceil((i + 1) L / p))`` (the windows of ``torch.nn.AdaptiveAvgPool1d``)."""
    length = x.shape[-1]
    return np.stack([x[..., (i * length) // positions: -((-(i + 1) * length) // positions)].mean(axis=-1)
                     for i in range(positions)], axis=-1)


@dataclasses.dataclass(eq=False)
class NetworkMember:
    """One trained mean-variance network (:mod:`tess_cluster_age.models.network`) as arrays.

    The network reads ``n_scalar`` scaled inputs and, with a periodogram ``branch``, the bins
    after them; the branch's output joins the scalar inputs. Then SiLU layers (``layers``: weight,
    bias, weight, bias ..., as ``torch.nn.Linear`` stores them, the last pair being the head) give
    two outputs: the scaled mean and the pre-softplus sigma. In dex:
    ``mu = y_mean + y_std out_0`` and ``sigma = y_std softplus(out_1) + sigma_floor``, or the
    constant ``max(sigma_dex, sigma_floor)`` for a network trained on the squared error
    (``sigma_dex`` = its RMSE on its early-stopping clusters).

    Attributes:
        scaler: the input scaling fitted on the member's training rows.
        y_mean, y_std: target scaling (dex).
        n_scalar: inputs before the periodogram bins.
        branch: None, ``"linear"`` (weight, bias) or ``"cnn"`` (two convolutions and a linear layer,
            weight and bias each) in ``branch_weights``.
        branch_weights: the branch's arrays.
        layers: the trunk's and head's arrays.
        sigma_dex: see above (None for the Gaussian network).
        sigma_floor: smallest sigma (dex).
        epochs: the epoch whose weights were kept (early stopping).
        bin_pool: None, or the fixed matrix (groups x bins, :func:`log_frequency_pool`) that averages
            the scaled bins into log-frequency groups before the branch reads them (:func:`pool_scaled_bins`).
    """

    scaler: Standardiser
    y_mean: float
    y_std: float
    n_scalar: int
    branch: str | None
    branch_weights: list[np.ndarray]
    layers: list[np.ndarray]
    sigma_dex: float | None
    sigma_floor: float
    epochs: int
    bin_pool: np.ndarray | None = None

    def _branch(self, bins: np.ndarray) -> np.ndarray:
        w = [np.asarray(a, float) for a in self.branch_weights]
        if self.branch == "linear":
            return silu(bins @ w[0].T + w[1])
        if self.branch == "cnn":
            hidden = silu(_conv1d(bins[:, None, :], w[0], w[1]))
            pooled = hidden.shape[-1] // CNN_POOL
            hidden = hidden[..., : pooled * CNN_POOL].reshape(*hidden.shape[:2], pooled, CNN_POOL).max(axis=-1)
            hidden = _adaptive_average(silu(_conv1d(hidden, w[2], w[3])), CNN_POSITIONS)
            return silu(hidden.reshape(len(bins), -1) @ w[4].T + w[5])
        raise ValueError(f"periodogram branch {self.branch!r}: None, 'linear' or 'cnn'")

    def forward(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two outputs (scaled mean, pre-softplus sigma) for already scaled inputs (rows x inputs)."""
        scaled = pool_scaled_bins(scaled, self.n_scalar, self.bin_pool) if self.branch is not None else scaled
        hidden = scaled[:, : self.n_scalar]
        if self.branch is not None:
            hidden = np.column_stack([hidden, self._branch(scaled[:, self.n_scalar:])])
        pairs = [(np.asarray(self.layers[i], float), np.asarray(self.layers[i + 1], float)) for i in range(0, len(self.layers), 2)]
        for weight, bias in pairs[:-1]:
            hidden = silu(hidden @ weight.T + bias)
        out = hidden @ pairs[-1][0].T + pairs[-1][1]
        return out[:, 0], out[:, 1]

    def mean_std(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` in dex for a design matrix (:func:`design_matrix`)."""
        mean, raw = self.forward(self.scaler.transform(design))
        mu = mean * self.y_std + self.y_mean
        if self.sigma_dex is not None:
            return mu, np.full(len(mu), max(self.sigma_dex, self.sigma_floor))
        return mu, softplus(raw) * self.y_std + self.sigma_floor


TREE_FIELDS = ("left_child", "right_child", "feature", "threshold", "missing_go_to_left")
"""The columns of scikit-learn's tree node table that prediction reads."""

BOOSTED_TREE_FIELDS = (*TREE_FIELDS, "missing_type")
"""The columns of a LightGBM tree's node table (:class:`BoostedTreesMember`): scikit-learn's, with
``missing_go_to_left`` holding LightGBM's ``default_left``, plus its ``missing_type``."""

TREE_LEAF = -1
"""scikit-learn's child index of a leaf (also used for LightGBM's trees here)."""

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
"""LightGBM's ``missing_type`` of a split (its codes): ``None``, NaN is read as 0 and compared with the
threshold; ``Zero``, 0 (and NaN) go to the default side; ``NaN``, NaN goes to the default side."""

LIGHTGBM_ZERO = float(np.float32(1e-35))
"""LightGBM's ``kZeroThreshold`` (``1e-35f`` as a double): a feature with ``|x| <= LIGHTGBM_ZERO`` is
zero to LightGBM (its dense-row reader drops it, so the tree reads 0.0)."""


def _table_problem(nodes: np.ndarray, n_features: int, fields: Sequence[str]) -> str | None:
    """What is wrong with a node table alone (see :func:`tree_problem`), or None."""
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or set(fields) - set(nodes.dtype.names):
        return f"a tree needs a node table with the columns {list(fields)}"
    left, right, feature = (nodes[k].astype(np.int64) for k in ("left_child", "right_child", "feature"))
    index, count = np.arange(len(nodes)), len(nodes)
    leaf = (left == TREE_LEAF) & (right == TREE_LEAF)
    # children are numbered after their parent: a child at or before its parent would loop
    inside = ~leaf & (left > index) & (left < count) & (right > index) & (right < count) & (feature >= 0) & (feature < n_features)
    if not (leaf | inside).all():
        return f"{int((~(leaf | inside)).sum())} nodes point outside the tree, back up it, or name a feature beyond {n_features}"
    if "missing_type" in fields and not np.isin(nodes["missing_type"], (MISSING_NONE, MISSING_ZERO, MISSING_NAN)).all():
        return "a missing_type other than 0 (None), 1 (Zero) or 2 (NaN)"
    return None


def tree_problem(nodes: np.ndarray, values: np.ndarray, n_features: int, fields: Sequence[str] = TREE_FIELDS) -> str | None:
    """What is wrong with a tree's node table, or None: a node table whose children point outside
    it or back up it (which would loop), or whose features lie beyond the design, is refused; so is
    a LightGBM ``missing_type`` (``fields`` = :data:`BOOSTED_TREE_FIELDS`) other than 0, 1, 2."""
    if (problem := _table_problem(nodes, n_features, fields)) is not None:
        return problem
    if not isinstance(values, np.ndarray) or values.shape != (len(nodes),) or values.dtype.kind != "f":
        return f"{len(nodes)} nodes need as many leaf values"
    return None


# How a split reads the design. Each split reads one *encoding* of its feature's column, the one in
# which its missing values are a number that a plain ``x <= threshold`` sends their way: -inf (at
# or below every threshold) when they go left, NaN (below no threshold) when they go right, 0.0
# where LightGBM reads them as zero. Values that are not missing are the same in every encoding.
_AS_IS, _NAN_LOW, _NAN_ZERO, _ZERO_LOW, _ZERO_NAN = range(5)
"""Encodings of a design column: as it is (NaN goes right); NaN -> -inf (NaN goes left); NaN -> 0.0
(LightGBM's missing type None); NaN and ``|x| <= LIGHTGBM_ZERO`` -> -inf, or -> NaN (type Zero, default left or right)."""

_WALK_PAIRS = 1 << 18
"""Most (tree, row) pairs walked at once: rows are taken in blocks of ``_WALK_PAIRS // trees`` (2 MiB per work array)."""

_COMPACT_EVERY = 4
"""Steps down the trees between two removals of the walks that have reached their leaf."""


def _encoded(x: np.ndarray, encoding: int) -> np.ndarray:
    """Design ``x`` (float64) in one of the encodings above."""
    if encoding == _AS_IS:
        return x
    missing = np.isnan(x) if encoding in (_NAN_LOW, _NAN_ZERO) else np.isnan(x) | (np.abs(x) <= LIGHTGBM_ZERO)
    return np.where(missing, {_NAN_LOW: -np.inf, _NAN_ZERO: 0.0, _ZERO_LOW: -np.inf, _ZERO_NAN: np.nan}[encoding], x)


@dataclasses.dataclass(eq=False, frozen=True)
class _JoinedTrees:
    """Node tables joined into one, each tree's node numbers offset by the nodes before it, laid out
    so that one step down every tree at once is ``node = children[2 node + (x <= threshold[node])]``.

    A leaf is its own child on both sides (a walk that has reached it stays), so a step needs no mask.
    Built from ``tables`` by :func:`_join_trees`; kept (see :func:`_joined_trees`), never saved.

    Attributes:
        tables: the node tables joined (the same objects, to tell when a member's tables are replaced).
        roots: per tree, its root's number.
        column: per node, the column of the prepared design it reads (``slot * n_features + feature``, slot
            ``encodings.index(encoding)``); 0 at a leaf.
        threshold: per node (float64).
        children: per node ``2 i``: the child where ``x <= threshold`` fails; ``2 i + 1``: where it holds.
        leaf: per node, whether it is a leaf.
        encodings: the encodings of the design the splits read, in slot order.
        n_features: columns of the design.
    """

    tables: tuple[np.ndarray, ...]
    roots: np.ndarray
    column: np.ndarray
    threshold: np.ndarray
    children: np.ndarray
    leaf: np.ndarray
    encodings: tuple[int, ...]
    n_features: int

    def prepared(self, x: np.ndarray) -> np.ndarray:
        """The design in every encoding the splits read, side by side (rows x encodings * features), float64."""
        x = np.asarray(x, dtype=np.float64)
        return np.concatenate([_encoded(x, encoding) for encoding in self.encodings], axis=1)

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """The leaf (joined node number) that each row of ``x`` reaches in each tree: trees x rows.

        Every tree is walked at once, a block of rows at a time; every ``_COMPACT_EVERY`` steps
        the walks that have reached a leaf are put aside, so that work follows the paths' lengths."""
        design = self.prepared(x)
        n_trees, (n_rows, width) = len(self.roots), design.shape
        values = design.ravel()
        out = np.empty((n_trees, n_rows), dtype=np.intp)
        block = max(1, _WALK_PAIRS // max(n_trees, 1))
        for start in range(0, n_rows, block):
            rows = np.arange(start, min(n_rows, start + block))
            node = np.repeat(self.roots, len(rows))                         # tree after tree, each for every row
            row_start = np.tile(rows * width, n_trees)                      # where each walk's row begins in ``values``
            where = np.arange(len(node))                                     # each walk's place in ``reached``
            reached = np.empty(len(node), dtype=np.intp)
            while len(node):
                for _ in range(_COMPACT_EVERY):
                    below = np.take(values, row_start + np.take(self.column, node)) <= np.take(self.threshold, node)
                    node = np.take(self.children, 2 * node + below)
                done = np.take(self.leaf, node)
                reached[where[done]] = node[done]
                walking = np.flatnonzero(~done)
                node, row_start, where = node.take(walking), row_start.take(walking), where.take(walking)
            out[:, start:start + len(rows)] = reached.reshape(n_trees, len(rows))
        return out


def _join_trees(tables: Sequence[np.ndarray], n_features: int) -> _JoinedTrees:
    """Join node tables (scikit-learn's, or LightGBM's with a ``missing_type`` column) for :meth:`_JoinedTrees.leaves`.

    Each split reads the encoding of its column that sends missing values its way (see above). A
    NaN threshold sends every value that is not missing right; missing values go right too unless
    they go left (never for type None): then the split reads the encoding with missing values as
    NaN, with threshold +inf and its children swapped, so that exactly the missing values go left.

    Raises:
        ValueError: a table that :func:`tree_problem` refuses (its walk could loop or read outside the design).
    """
    lightgbm = bool(tables) and "missing_type" in (tables[0].dtype.names or ())
    fields = BOOSTED_TREE_FIELDS if lightgbm else TREE_FIELDS
    for k, table in enumerate(tables):
        if (problem := _table_problem(table, n_features, fields)) is not None:
            raise ValueError(f"tree {k}: {problem}")
    sizes = np.array([len(table) for table in tables], dtype=np.intp)
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    offset = np.repeat(roots, sizes)

    def joined(name: str, dtype: Any) -> np.ndarray:
        return np.concatenate([table[name] for table in tables]).astype(dtype) if tables else np.empty(0, dtype)

    left, right, feature = joined("left_child", np.intp), joined("right_child", np.intp), joined("feature", np.intp)
    threshold, missing_left = joined("threshold", np.float64), joined("missing_go_to_left", bool)
    leaf, node = left == TREE_LEAF, np.arange(len(left), dtype=np.intp)
    if lightgbm:
        kind = joined("missing_type", np.int64)
        encoding = np.select([kind == MISSING_NONE, kind == MISSING_ZERO],
                             [_NAN_ZERO, np.where(missing_left, _ZERO_LOW, _ZERO_NAN)], np.where(missing_left, _NAN_LOW, _AS_IS))
    else:
        encoding = np.where(missing_left, _NAN_LOW, _AS_IS)
    # a NaN threshold: every value goes right (NaN <= anything is false) but the missing ones that go left
    swap = ~leaf & np.isnan(threshold) & np.isin(encoding, (_NAN_LOW, _ZERO_LOW))
    encoding = np.where(swap, np.where(encoding == _NAN_LOW, _AS_IS, _ZERO_NAN), encoding)
    threshold = np.where(swap, np.inf, np.where(leaf, 0.0, threshold))
    encodings = tuple(int(e) for e in np.unique(encoding[~leaf])) or (_AS_IS,)
    slot = np.searchsorted(np.array(encodings), encoding)
    column = np.where(leaf, 0, slot * n_features + feature)
    above = np.where(leaf, node, np.where(swap, left, right) + offset)
    below = np.where(leaf, node, np.where(swap, right, left) + offset)
    return _JoinedTrees(tuple(tables), roots, column.astype(np.intp), threshold, np.column_stack([above, below]).ravel(), leaf,
                        encodings, int(n_features))


_JOINED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Member -> its :class:`_JoinedTrees`, for as long as the member lives (outside its attributes: not saved, not pickled)."""


def _joined_trees(member: Any) -> _JoinedTrees:
    """The member's node tables joined (:func:`_join_trees`), built at its first prediction and kept;
    built again when its list of tables holds other arrays (tables changed in place are not noticed)."""
    joined = _JOINED.get(member)
    if joined is None or len(joined.tables) != len(member.nodes) or any(a is not b for a, b in zip(joined.tables, member.nodes)):
        joined = _JOINED[member] = _join_trees(member.nodes, member.n_features)
    return joined


def tree_leaves(nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The leaf each row of ``x`` falls in, walking the node table.

    At an internal node go left when ``x[feature] <= threshold`` (compared in float64), except for
    a missing value, which goes to the side ``missing_go_to_left`` names. Missing means NaN for
    scikit-learn's tables (its ``Tree.apply``). A table with a ``missing_type`` column is LightGBM's
    (``Tree::NumericalDecision``): NaN is read as 0.0 unless the type is ``NaN``; then missing means
    NaN for type ``NaN``, ``|x| <= LIGHTGBM_ZERO`` for type ``Zero``, never for type ``None``.

    Raises:
        ValueError: a table that :func:`tree_problem` refuses for a design of ``x``'s width.
    """
    x = np.asarray(x)
    return _join_trees([nodes], x.shape[1]).leaves(x)[0]


def _summed_leaf_values(member: Any, x: np.ndarray) -> np.ndarray:
    """Per row, the sum of the member's trees' values at the leaves it reaches, added tree after tree from 0.0."""
    joined = _joined_trees(member)
    leaves = joined.leaves(x) - joined.roots[:, None]
    total = np.zeros(len(x))
    for values, tree_leaves_ in zip(member.values, leaves):
        total += values[tree_leaves_]
    return total


def _trees_problem(nodes: list[np.ndarray], values: list[np.ndarray], n_features: int, fields: Sequence[str]) -> str | None:
    if len(nodes) != len(values) or not nodes:
        return f"{len(nodes)} node tables and {len(values)} value arrays: one of each per tree is needed"
    for k, (table, leaf_values) in enumerate(zip(nodes, values)):
        if (problem := tree_problem(table, leaf_values, n_features, fields)) is not None:
            return f"tree {k}: {problem}"
    return None


@dataclasses.dataclass(eq=False)
class TreeEnsembleMember:
    """A forest of regression trees (grown by scikit-learn) as its node tables.

    The prediction is the mean of the trees' leaf values, added up tree after tree in order and
    divided by their number, as scikit-learn's ``RandomForestRegressor.predict`` does in one thread
    (so the bits are the same); scikit-learn reads the features as float32. The sigma is a unit
    placeholder that the ensemble's sigma scale turns into dex. The leaves are found for all trees
    at once (:class:`_JoinedTrees`, built at the first prediction and kept beside the member, not
    in it: change the node tables by replacing them, not in place).

    Attributes:
        nodes: per tree, its node table (columns :data:`TREE_FIELDS`).
        values: per tree, each node's value (the mean log age of its training rows, dex).
        n_features: columns of the design matrix the trees split on.
    """

    nodes: list[np.ndarray]
    values: list[np.ndarray]
    n_features: int

    def problem(self) -> str | None:
        """What is wrong with the node tables (a damaged or crafted model file), or None."""
        return _trees_problem(self.nodes, self.values, self.n_features, TREE_FIELDS)

    def mean_std(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row of a design matrix: the trees' mean log age (log10 yr) and sigma 1
        (a placeholder the ensemble scales to dex)."""
        x = np.asarray(design, dtype=np.float32)
        total = _summed_leaf_values(self, x)
        total /= len(self.nodes)
        return total, np.ones(len(x))


@dataclasses.dataclass(eq=False)
class BoostedTreesMember:
    """Gradient-boosted regression trees (grown by LightGBM) as their node tables.

    The prediction is LightGBM's raw score: the sum of the trees' leaf values, added tree after
    tree from 0.0 as ``GBDT::PredictRaw`` does (so the bits are the same). There is no separate bias:
    LightGBM folds its initial score (the weighted mean log age, ``boost_from_average``) into the
    first tree's leaves, and the learning rate into every leaf. Features are read in float64, as
    LightGBM reads a float64 matrix, with ``|x| <= LIGHTGBM_ZERO`` read as 0.0; splits follow
    :func:`tree_leaves` with LightGBM's missing-value rule, all trees at once (as for
    :class:`TreeEnsembleMember`). The sigma is a unit placeholder (see :class:`TreeEnsembleMember`).

    Attributes:
        nodes: per tree, its node table (columns :data:`BOOSTED_TREE_FIELDS`), children numbered
            after their parent.
        values: per tree, each node's value (a leaf's output in dex; an internal node's LightGBM
            ``internal_value``, never read).
        n_features: columns of the design matrix the trees split on.
        best_iteration: boosting rounds kept (one tree each; early stopping's choice).
    """

    nodes: list[np.ndarray]
    values: list[np.ndarray]
    n_features: int
    best_iteration: int

    def problem(self) -> str | None:
        """What is wrong with the node tables (a damaged or crafted model file), or None."""
        return _trees_problem(self.nodes, self.values, self.n_features, BOOSTED_TREE_FIELDS)

    def mean_std(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row of a design matrix: the trees' summed log age (log10 yr) and sigma 1
        (a placeholder the ensemble scales to dex)."""
        x = np.asarray(design, dtype=np.float64)
        x = np.where(np.abs(x) <= LIGHTGBM_ZERO, 0.0, x)     # NaN compares False: stays NaN
        return _summed_leaf_values(self, x), np.ones(len(x))


@dataclasses.dataclass(eq=False)
class LinearMember:
    """A linear model on scaled features: ``mu = scaler(x) . coef + intercept`` (dex), as
    scikit-learn's ``Ridge.predict``; the sigma is a unit placeholder (see :class:`TreeEnsembleMember`)."""

    coef: np.ndarray
    intercept: float
    scaler: Standardiser

    def mean_std(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row of a design matrix: the linear log age (log10 yr) and sigma 1
        (a placeholder the ensemble scales to dex)."""
        return self.scaler.transform(design) @ self.coef.T + self.intercept, np.ones(len(design))


@dataclasses.dataclass(eq=False)
class MemberEnsemble:
    """Members' equal-weight combination, with a sigma scale per galaxy and predicted-age bin (SPEC 4, 5).

    ``mix_members``: the members' predictions combine as a Gaussian mixture, mean
    ``mu = mean_m mu_m`` and variance ``mean_m (mu_m^2 + sigma_m^2) - mu^2`` (their spread adds to
    sigma); otherwise mu and sigma are averaged (members whose sigma is a unit placeholder). Then
    ``sigma = max(k sigma, sigma_floor)`` with ``k = sigma_scale[(galaxy, bin)]`` (the mean of the
    cell's interval factors, :func:`gaussian_scales`): ``bin`` is the bin of the row's *cluster*
    predicted mean log age (:func:`calibration_bins`; the clusters are the ``name`` column of ``X``,
    each row its own cluster without one), so pass all of a cluster's segments in one call. A
    galaxy not trained on takes the ``"all"`` galaxy's scales. The sigmas of the 68 % and 95 %
    intervals (:meth:`predict_intervals`) take the factor of their own level in the same way.

    Attributes:
        interval_scale: ``(galaxy, bin label) -> k`` per interval of
            :data:`tess_cluster_age.evaluation.INTERVALS` (in its order), for every galaxy trained on
            and ``"all"``, every bin of ``calibration_bin_edges`` and :data:`ALL_BINS` (sparse bins
            already hold their fallback; :func:`~tess_cluster_age.models.base.interval_scales`).
        calibration_bin_edges: log10(age / yr) edges of the predicted-age bins; none for one scale
            per galaxy.
    """

    feature_names: np.ndarray
    use_galaxy: bool
    extra_columns: list[str]
    members: list[Any]
    mix_members: bool
    interval_scale: Mapping[tuple[str, str], tuple[float, ...]]
    sigma_floor: float
    calibration_bin_edges: tuple[float, ...]

    @property
    def sigma_scale(self) -> dict[tuple[str, str], float]:
        """``(galaxy, bin label) -> k`` of the Gaussian (:func:`gaussian_scales` of ``interval_scale``)."""
        return gaussian_scales(self.interval_scale)

    def raw(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The members' combination before the sigma scale (dex)."""
        design = design_matrix(X, self.feature_names, self.use_galaxy, self.extra_columns)
        predictions = [member.mean_std(design) for member in self.members]
        mu = np.mean([p[0] for p in predictions], axis=0)
        if not self.mix_members:
            return mu, np.mean([p[1] for p in predictions], axis=0)
        return mu, mixture_sigma(mu, np.mean([second_moment(p[0], p[1]) for p in predictions], axis=0))

    def predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row: mean log age (log10 yr) and the Gaussian's calibrated sigma (dex)."""
        return self.predict_intervals(X)[:2]

    def predict_intervals(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(mu, sigma, {interval column: sigma})`` (dex, :data:`tess_cluster_age.evaluation.INTERVALS`)."""
        mu, raw_sigma = self.raw(X)
        galaxy, names = galaxy_of(X), cluster_names(X)
        intervals = {column: self.calibrated_sigma(mu, raw_sigma, galaxy, names, level) for level, column in enumerate(INTERVALS)}
        return mu, self.calibrated_sigma(mu, raw_sigma, galaxy, names), intervals

    def calibrated_sigma(self, mu: np.ndarray, sigma: np.ndarray, galaxy: np.ndarray, names: np.ndarray,
                         level: int | None = None) -> np.ndarray:
        """``max(k sigma, sigma_floor)`` (dex), ``k`` looked up by each row's galaxy and its cluster's
        predicted-age bin: the Gaussian's factor, or with ``level`` that interval's (its index in
        :data:`tess_cluster_age.evaluation.INTERVALS`)."""
        galaxy = np.asarray(galaxy).astype(str)
        bins = calibration_bins(mu, names, self.calibration_bin_edges)
        table = self.sigma_scale if level is None else {cell: factors[level] for cell, factors in self.interval_scale.items()}
        scale = np.empty(len(mu))
        for g, b in set(zip(galaxy, bins)):      # a handful of categories: one lookup each
            scale[(galaxy == g) & (bins == b)] = table[(g, b) if (g, b) in table else ("all", b)]
        return np.maximum(np.asarray(sigma, float) * scale, self.sigma_floor)


@dataclasses.dataclass(eq=False)
class GalaxyRouter:
    """One predictor per host galaxy; rows of a galaxy without one raise a ``ValueError`` naming it."""

    models: Mapping[str, Any]

    def predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row by its galaxy's predictor: mean log age (log10 yr) and sigma (dex)."""
        return self.predict_intervals(X)[:2]

    def predict_intervals(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(mu, sigma, {interval column: sigma})`` (dex), each row by its galaxy's predictor."""
        galaxy = galaxy_of(X)
        unknown = sorted(set(galaxy) - set(self.models))
        if unknown:
            raise ValueError(f"no per-galaxy model for {unknown}: trained on {sorted(self.models)}")
        mu, sigma = np.empty(len(X)), np.empty(len(X))
        intervals = {column: np.empty(len(X)) for column in INTERVALS}
        for name, model in self.models.items():
            rows = galaxy == name
            if rows.any():
                mu[rows], sigma[rows], part = model.predict_intervals(X[rows])
                for column in INTERVALS:
                    intervals[column][rows] = part[column]
        return mu, sigma, intervals


@dataclasses.dataclass(eq=False)
class GalaxyMeans:
    """The baselines' prediction: a mean log age and its standard deviation (dex) per galaxy, the
    ``"all"`` entry for any other galaxy (with only ``"all"``, no galaxy column is needed)."""

    mean: Mapping[str, float]
    std: Mapping[str, float]

    def predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row: its galaxy's mean log age (log10 yr) and standard deviation (dex, at least 1e-6)."""
        galaxy = galaxy_of(X) if set(self.mean) != {"all"} else np.full(len(X), "all")
        mu = np.array([self.mean.get(g, self.mean["all"]) for g in galaxy], dtype=float)
        sigma = np.array([self.std.get(g, self.std["all"]) for g in galaxy], dtype=float)
        return mu, np.maximum(sigma, 1e-6)

    def predict_intervals(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(mu, sigma, {interval column: sigma})`` (dex): the Gaussian's intervals, nothing calibrated."""
        mu, sigma = self.predict(X)
        return mu, sigma, {column: sigma for column in INTERVALS}


@dataclasses.dataclass(eq=False)
class ModelMixture:
    """Several models' predictions combined as a Gaussian mixture, with weights per host galaxy.

    For a row of galaxy ``g``, with component ``m`` predicting ``N(mu_m, sigma_m)`` and weights
    ``w_gm`` (non-negative, summing to 1), the mixture has mean ``mu = sum_m w_gm mu_m`` and variance
    ``sum_m w_gm (sigma_m^2 + mu_m^2) - mu^2`` (dex): the components' disagreement widens sigma. A
    galaxy without weights of its own takes the ``"all"`` entry's.

    Attributes:
        names: the components' model names (what the weights refer to).
        components: their predictors, in the order of ``names``.
        weights: galaxy (and ``"all"``) -> one weight per component.
    """

    names: list[str]
    components: list[Any]
    weights: Mapping[str, np.ndarray]

    def problem(self) -> str | None:
        """What is wrong with the weights (a damaged or crafted model file), or None."""
        if len(self.names) != len(self.components) or not self.components:
            return f"{len(self.names)} component names for {len(self.components)} components"
        if "all" not in self.weights:
            return "no weights for the 'all' galaxy"
        for galaxy, w in self.weights.items():
            w = np.asarray(w, float)
            if w.shape != (len(self.components),) or not np.all(np.isfinite(w)) or (w < 0).any() or abs(w.sum() - 1) > 1e-6:
                return f"weights of {galaxy!r} are not {len(self.components)} non-negative numbers summing to 1"
        return None

    def predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)`` per row: the mixture's mean log age (log10 yr) and standard deviation (dex)."""
        return self.predict_intervals(X)[:2]

    def predict_intervals(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(mu, sigma, {interval column: sigma})`` (dex): the mixture of the components' Gaussians,
        and for each interval the mixture of the components' Gaussians of that interval."""
        predictions = [component.predict_intervals(X) for component in self.components]
        mu = np.column_stack([p[0] for p in predictions])
        weights = row_weights(self.weights, galaxy_of(X))
        mean, sigma = mix_predictions(mu, np.column_stack([p[1] for p in predictions]), weights)
        return mean, sigma, {column: mix_predictions(mu, np.column_stack([p[2][column] for p in predictions]), weights)[1]
                             for column in INTERVALS}


def gaussian_scales(interval_scale: Mapping[tuple[str, str], Sequence[float]]) -> dict[tuple[str, str], float]:
    """The Gaussian's sigma factor (for NLL, CRPS and the mixtures) of each cell of an interval-scale
    table (:func:`~tess_cluster_age.models.base.interval_scales`): the mean of its levels' factors, so
    neither the 68 % nor the 95 % interval is favoured."""
    return {cell: float(np.mean(factors)) for cell, factors in interval_scale.items()}


def row_weights(weights: Mapping[str, np.ndarray], galaxy: np.ndarray) -> np.ndarray:
    """Each row's mixture weights (rows x components) by its galaxy; ``weights["all"]`` for a galaxy without its own."""
    galaxy = np.asarray(galaxy).astype(str)
    out = np.empty((len(galaxy), len(weights["all"])))
    for g in set(galaxy):
        out[galaxy == g] = np.asarray(weights.get(g, weights["all"]), float)
    return out


def mix_predictions(mu: np.ndarray, sigma: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (dex) of the weighted Gaussian mixture of each row's components.

    ``mu``, ``sigma`` and ``weights`` are rows x components; ``mu = sum_m w_m mu_m`` and
    ``sigma^2 = sum_m w_m (sigma_m^2 + mu_m^2) - mu^2``.
    """
    mean = np.sum(weights * mu, axis=1)
    return mean, mixture_sigma(mean, np.sum(weights * second_moment(mu, sigma), axis=1))
