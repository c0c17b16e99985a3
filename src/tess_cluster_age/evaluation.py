"""The evaluation protocol shared by every model and by the report (SPEC section 4).

- :func:`cluster_mixture`: a cluster's prediction is the equal-weight mixture of its segments'
  Gaussians, ``mu_c = mean(mu_i)``, ``sigma_c**2 = mean(sigma_i**2 + mu_i**2) - mu_c**2``.
- :func:`cross_validate`: out-of-fold predictions for every seed and fold of ``folds.parquet``; a
  model only ever sees the training clusters of a fold.
- :func:`score`: every metric of SPEC 4 at segment and cluster level, for all / MW / LMC / SMC and by
  log-age bin, per seed, in long format (``model, level, galaxy, age_bin, seed, metric, value``).
- :func:`bootstrap_rmse_difference`: a paired cluster bootstrap of each model's cluster RMSE
  against a reference model (``galaxy_mean``).
- :func:`coverage_by_predicted_age`: interval coverage per galaxy and bin of *predicted* age (where
  a user reads an interval), beside :func:`coverage_by_age_bin` by true age.

All ages are log10(age / yr) ("dex"); ``mu`` and ``sigma`` are the predicted mean and standard
deviation of that log age.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from tess_cluster_age.config import EvaluationConfig
from tess_cluster_age.schema import BASELINES, GALAXIES, REFERENCE_MODEL

logger = logging.getLogger(__name__)

PROTOCOL = EvaluationConfig()
"""The default evaluation protocol (SPEC 4), whose values are the defaults of the functions here."""

Z68 = 1.0
"""Half-width of the 68.27 % Gaussian interval, in sigma."""
Z95 = 1.959963984540054
"""Half-width of the 95 % Gaussian interval, in sigma."""

INTERVALS: dict[str, tuple[float, float]] = {"sigma_68": (Z68, 0.6827), "sigma_95": (Z95, 0.95)}
"""The calibrated intervals: column -> ``(z, coverage)``. Column ``sigma_68`` (``sigma_95``) holds
the standard deviation (dex) whose ``mu +- z sigma`` Gaussian interval is the 68 % (95 %) interval,
each calibrated on its own (split conformal per level, :func:`tess_cluster_age.models.base.interval_scales`):
the errors of cluster ages have heavier tails than a Gaussian, so one sigma cannot make both hold.
``sigma`` itself is the Gaussian of the NLL and CRPS. A table without these columns uses ``sigma``."""

METRICS: tuple[str, ...] = (
    "n", "rmse", "mae", "bias", "median_abs_error", "skill", "nll", "crps", "cov68", "cov95", "catastrophic",
    "young_precision", "young_recall", "old_precision", "old_recall", "balanced_accuracy",
)
"""Metric names of the long metrics tables, in report order."""

METRIC_COLUMNS = ["model", "level", "galaxy", "age_bin", "seed", "metric", "value"]


# ------------------------------------------------------------------------------------ folds
def cluster_folds(galaxy: np.ndarray, log_age: np.ndarray, names: np.ndarray, n_splits: int, seed: int,
                  age_bin_edges: Sequence[float], quiet: bool = False) -> np.ndarray:
    """Cluster-grouped folds stratified by galaxy x log-age bin (SPEC 4): the fold of each cluster.

    ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)`` over clusters (one row each,
    groups = names), strata = galaxy x bin of ``np.digitize(log_age, age_bin_edges)``; coarser strata
    (galaxy, then none) when no stratum could fill every fold. This one function makes the outer
    folds of ``folds.parquet`` and the inner folds of every model.

    Args:
        galaxy, log_age, names: one entry per cluster (log10 yr), in the order the folds are drawn
            (callers sort by name, so that the folds depend only on the set of clusters).
        n_splits: folds (at most the number of clusters).
        seed: the shuffle seed.
        age_bin_edges: log10(age / yr) edges of the strata.
        quiet: True for the inner folds of a model: no message on coarser strata or small strata.

    Returns:
        The fold index (0 .. n_splits - 1) of each cluster.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    galaxy = np.asarray(galaxy).astype(str).astype(object)
    age_bin = np.digitize(np.asarray(log_age, float), np.asarray(age_bin_edges, float)).astype(str).astype(object)
    for label, strata in (("galaxy x age bin", galaxy + ":" + age_bin), ("galaxy", galaxy)):
        if pd.Series(strata).value_counts().max() >= n_splits:
            break
        if not quiet:
            logger.warning("folds: no %s stratum has %d clusters; stratifying more coarsely", label, n_splits)
    else:
        strata = np.full(len(galaxy), "all", dtype=object)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=int(seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fold = np.empty(len(galaxy), int)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(galaxy)), strata, groups=np.asarray(names))):
            fold[test] = k
    if not quiet:
        for message in sorted({str(w.message) for w in caught}):
            logger.warning("folds (seed %s): %s", seed, message)
    return fold


# ------------------------------------------------------------------------------------ mixture
def mixture_moments(mu: np.ndarray, sigma: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Mean and standard deviation of the equal-weight Gaussian mixture of each group's rows.

    ``mu_c = mean(mu_i)``, ``sigma_c**2 = mean(sigma_i**2 + mu_i**2) - mu_c**2`` (SPEC 4), i.e. the
    mean within-segment variance plus the spread of the segment means.

    Args:
        mu, sigma: per-row mean and standard deviation (dex).
        groups: per-row group key (cluster name).

    Returns:
        One row per group (index = group, in order of first appearance): ``mu``, ``sigma``, ``n``.
    """
    frame = pd.DataFrame({"g": groups, "mu": np.asarray(mu, float), "second": second_moment(mu, sigma)})
    grouped = frame.groupby("g", sort=False)
    out = grouped[["mu", "second"]].mean()
    return pd.DataFrame({"mu": out["mu"].to_numpy(), "sigma": mixture_sigma(out["mu"].to_numpy(), out["second"].to_numpy()),
                         "n": grouped.size().to_numpy()}, index=out.index.rename("name"))


def second_moment(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``E[x^2] = sigma^2 + mu^2`` of each Gaussian ``N(mu, sigma)`` (dex^2)."""
    return np.asarray(sigma, float) ** 2 + np.asarray(mu, float) ** 2


def mixture_sigma(mean_mu: np.ndarray, mean_second: np.ndarray) -> np.ndarray:
    """Standard deviation of an equal-weight mixture from the means of its components' ``mu`` and
    second moments: ``sqrt(mean(sigma_i^2 + mu_i^2) - mean(mu_i)^2)`` (dex; rounding below 0 is 0)."""
    return np.sqrt(np.maximum(np.asarray(mean_second, float) - np.asarray(mean_mu, float) ** 2, 0.0))


def mixture_cdf(x: np.ndarray | float, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """CDF of the equal-weight mixture of Gaussians ``N(mu_i, sigma_i)`` at ``x`` (vectorised over x)."""
    x = np.atleast_1d(np.asarray(x, float))
    return special.ndtr((x[:, None] - np.asarray(mu, float)[None, :]) / np.asarray(sigma, float)[None, :]).mean(axis=1)


def mixture_quantiles(mu: np.ndarray, sigma: np.ndarray, probabilities: Sequence[float], tol: float = 1e-6) -> np.ndarray:
    """Quantiles of an equal-weight Gaussian mixture, by bisection on its CDF (dex, to ``tol``)."""
    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    lo = np.full(len(probabilities), (mu - 10 * sigma).min())
    hi = np.full(len(probabilities), (mu + 10 * sigma).max())
    p = np.asarray(probabilities, float)
    while (hi - lo).max() > tol:
        mid = 0.5 * (lo + hi)
        below = mixture_cdf(mid, mu, sigma) < p
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def cluster_predictions(segment_predictions: pd.DataFrame) -> pd.DataFrame:
    """Cluster rows from segment rows of one model, seed and fold layout.

    Args:
        segment_predictions: ``name, galaxy, log_age, mu, sigma`` (+ ``seed``, ``fold`` when
            present, constant per cluster and seed; + the :data:`INTERVALS` columns when present).

    Returns:
        ``[seed, fold,] name, galaxy, log_age, mu, sigma, [sigma_68, sigma_95,] n_segments`` per
        cluster (and seed); each sigma column is the mixture's with that column's segment sigmas.
    """
    keys = [k for k in ("seed",) if k in segment_predictions]
    rows = []
    for key, part in (segment_predictions.groupby(keys, sort=True) if keys else [((), segment_predictions)]):
        moments = mixture_moments(part["mu"].to_numpy(), part["sigma"].to_numpy(), part["name"].to_numpy())
        first = part.groupby("name", sort=False).first()
        table = pd.DataFrame({"name": moments.index, "galaxy": first["galaxy"].to_numpy(), "log_age": first["log_age"].to_numpy(),
                              "mu": moments["mu"].to_numpy(), "sigma": moments["sigma"].to_numpy(), "n_segments": moments["n"].to_numpy()})
        for column in (c for c in INTERVALS if c in part):
            table.insert(table.columns.get_loc("n_segments"), column,
                         mixture_moments(part["mu"].to_numpy(), part[column].to_numpy(), part["name"].to_numpy())["sigma"].to_numpy())
        if "fold" in part:
            table.insert(0, "fold", first["fold"].to_numpy())
        if keys:
            table.insert(0, "seed", key[0] if isinstance(key, tuple) else key)
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------------ metrics
def gaussian_nll(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Negative log-likelihood of ``y`` under ``N(mu, sigma)``: ``0.5 log(2 pi sigma^2) + (y-mu)^2/(2 sigma^2)``."""
    return 0.5 * np.log(2 * np.pi * sigma**2) + (y - mu) ** 2 / (2 * sigma**2)


def standard_normal_pdf(z: np.ndarray) -> np.ndarray:
    """The standard normal density ``phi(z) = exp(-z^2 / 2) / sqrt(2 pi)`` (scipy.stats, whose import
    alone takes about a second, is not needed for it)."""
    return np.exp(-0.5 * np.square(z)) / math.sqrt(2 * math.pi)


def gaussian_crps(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """CRPS of ``N(mu, sigma)`` at ``y`` (dex): ``sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]``.

    Gneiting & Raftery (2007, JASA 102, 359), eq. 21, with ``z = (y - mu) / sigma``.
    """
    z = (y - mu) / sigma
    return sigma * (z * (2 * special.ndtr(z) - 1) + 2 * standard_normal_pdf(z) - 1 / math.sqrt(math.pi))


def pit(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Probability integral transform ``Phi((y - mu) / sigma)``: uniform for a calibrated model."""
    return special.ndtr((np.asarray(y, float) - mu) / sigma)


def _safe_ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def point_metrics(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, young_old_log_age: float = PROTOCOL.young_old_log_age,
                  catastrophic_dex: float = PROTOCOL.catastrophic_dex, sigma_68: np.ndarray | None = None,
                  sigma_95: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of SPEC 4 but ``skill`` (which needs the constant model) for one set of rows.

    ``cov68`` is the fraction with ``|y - mu| <= sigma_68`` and ``cov95`` with ``|y - mu| <= 1.96
    sigma_95`` (the calibrated intervals, :data:`INTERVALS`; ``sigma`` where not given).

    Args:
        y: true log ages; mu, sigma: predicted mean and standard deviation (dex).
        sigma_68, sigma_95: the sigmas of the 68 % and 95 % intervals (dex).
        young_old_log_age: the fixed young/old threshold (log10 yr) of the classification view.
        catastrophic_dex: an error larger than this is catastrophic.

    Returns:
        ``n, rmse, mae, bias, median_abs_error, nll, crps, cov68, cov95, catastrophic`` and the
        young/old ``young_precision, young_recall, old_precision, old_recall, balanced_accuracy``
        (NaN where a class is absent).
    """
    y, mu, sigma = (np.asarray(a, float) for a in (y, mu, sigma))
    if len(y) == 0:
        return {"n": 0.0}
    error = mu - y
    interval_sigma = {"sigma_68": sigma if sigma_68 is None else np.asarray(sigma_68, float),
                      "sigma_95": sigma if sigma_95 is None else np.asarray(sigma_95, float)}
    true_young, pred_young = y < young_old_log_age, mu < young_old_log_age
    tp_young, tp_old = np.sum(true_young & pred_young), np.sum(~true_young & ~pred_young)
    young_recall = _safe_ratio(tp_young, true_young.sum())
    old_recall = _safe_ratio(tp_old, (~true_young).sum())
    recalls = [r for r in (young_recall, old_recall) if not math.isnan(r)]
    return {
        "n": float(len(y)),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "bias": float(np.mean(error)),
        "median_abs_error": float(np.median(np.abs(error))),
        "nll": float(np.mean(gaussian_nll(y, mu, sigma))),
        "crps": float(np.mean(gaussian_crps(y, mu, sigma))),
        "cov68": float(np.mean(np.abs(error) <= Z68 * interval_sigma["sigma_68"])),
        "cov95": float(np.mean(np.abs(error) <= Z95 * interval_sigma["sigma_95"])),
        "catastrophic": float(np.mean(np.abs(error) > catastrophic_dex)),
        "young_precision": _safe_ratio(tp_young, pred_young.sum()),
        "young_recall": young_recall,
        "old_precision": _safe_ratio(tp_old, (~pred_young).sum()),
        "old_recall": old_recall,
        "balanced_accuracy": float(np.mean(recalls)) if len(recalls) == 2 else float("nan"),
    }


def interval_sigmas(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The :data:`INTERVALS` columns that ``rows`` hold, as keyword arguments of :func:`point_metrics`."""
    return {column: rows[column].to_numpy(float) for column in INTERVALS if column in rows}


def age_bin_labels(edges: Sequence[float]) -> list[str]:
    """Readable labels of the log-age bins cut at ``edges``: ``<7.5``, ``7.5-8``, ..., ``>=9``."""
    text = [f"{e:g}" for e in edges]
    return [f"<{text[0]}"] + [f"{a}-{b}" for a, b in zip(text[:-1], text[1:])] + [f">={text[-1]}"]


def age_bins(log_age: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """The age-bin label of each log age, log10(age / yr), cut at ``edges`` (log10(age / yr); bins closed on the left)."""
    labels = np.asarray(age_bin_labels(edges), dtype=object)
    return labels[np.digitize(np.asarray(log_age, float), np.asarray(edges, float))]


def score(predictions: pd.DataFrame, age_bin_edges: Sequence[float] = PROTOCOL.age_bin_edges,
          young_old_log_age: float = PROTOCOL.young_old_log_age, catastrophic_dex: float = PROTOCOL.catastrophic_dex,
          reference_model: str = "constant") -> pd.DataFrame:
    """Every metric for every model, level, galaxy (all/MW/LMC/SMC), age bin (all and each) and seed.

    Args:
        predictions: out-of-fold rows ``model, level, seed, name, galaxy, log_age, mu, sigma``
            (``level`` is ``segment`` or ``cluster``).
        age_bin_edges: log-age bin edges (SPEC 4; the default is the ``evaluation`` section's).
        young_old_log_age, catastrophic_dex: see :func:`point_metrics`.
        reference_model: ``skill = 1 - MSE / MSE_reference`` in the same cell (SPEC 4: ``constant``).

    Returns:
        Long table ``model, level, galaxy, age_bin, seed, metric, value``.
    """
    frame = predictions.assign(age_bin=age_bins(predictions["log_age"].to_numpy(), age_bin_edges))
    records = []
    for (model, level, seed), part in frame.groupby(["model", "level", "seed"], sort=False):
        for galaxy in ("all", *GALAXIES):
            in_galaxy = part if galaxy == "all" else part[part["galaxy"] == galaxy]
            if in_galaxy.empty:
                continue
            for age_bin in ("all", *age_bin_labels(age_bin_edges)):
                cell = in_galaxy if age_bin == "all" else in_galaxy[in_galaxy["age_bin"] == age_bin]
                if cell.empty:
                    continue
                values = point_metrics(cell["log_age"].to_numpy(), cell["mu"].to_numpy(), cell["sigma"].to_numpy(),
                                       young_old_log_age, catastrophic_dex, **interval_sigmas(cell))
                records += [(model, level, galaxy, age_bin, seed, metric, value) for metric, value in values.items()]
    table = pd.DataFrame.from_records(records, columns=METRIC_COLUMNS)
    return _add_skill(table, reference_model)


def _add_skill(table: pd.DataFrame, reference_model: str) -> pd.DataFrame:
    """``skill = 1 - MSE / MSE_reference`` for every cell where the reference model was scored."""
    keys = ["level", "galaxy", "age_bin", "seed"]
    rmse = table[table["metric"] == "rmse"]
    reference = rmse[rmse["model"] == reference_model].set_index(keys)["value"].rename("reference")
    if reference.empty:
        return table
    joined = rmse.join(reference, on=keys)
    skill = joined.assign(metric="skill", value=1 - joined["value"] ** 2 / joined["reference"] ** 2).drop(columns="reference")
    skill = skill[skill["value"].notna()]
    order = {m: i for i, m in enumerate(METRICS)}
    out = pd.concat([table, skill], ignore_index=True)
    out["_order"] = out["metric"].map(order)
    return out.sort_values(["model", "level", "galaxy", "age_bin", "seed", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)


COVERAGE_BY_PREDICTED_AGE_COLUMNS = ["model", "galaxy", "predicted_bin", "n", "cov68", "cov95"]
"""Columns of ``coverage_by_predicted_age.csv`` (:func:`coverage_by_predicted_age`)."""


def coverage_by_age_bin(cluster_rows: pd.DataFrame, bin_edges: Sequence[float], by: str) -> pd.DataFrame:
    """Out-of-fold coverage of the 68 % and 95 % intervals per model, galaxy and log-age bin, at cluster level.

    A cluster is covered at 68 % when ``|y - mu| <= sigma_68`` and at 95 % when ``|y - mu| <= 1.96
    sigma_95`` (``cov68``, ``cov95`` of :func:`point_metrics`; ``sigma`` for rows without these
    columns), with ``mu`` and the sigmas its mixture's (SPEC 4).
    The fold seeds are pooled: every (cluster, seed) prediction counts once.

    Args:
        cluster_rows: cluster-level out-of-fold rows ``model, seed, galaxy, log_age, mu, sigma`` (dex).
        bin_edges: log10(age / yr) edges of the bins (:func:`age_bins`, closed on the left).
        by: ``"mu"`` to bin by the predicted mean log age (what a user reads), ``"log_age"`` by the
            label (the true age, which a user never knows).

    Returns:
        ``model, galaxy, age_bin, n, cov68, cov95`` for galaxies ``all``, MW, LMC, SMC and every
        bin holding a cluster, bins in age order; ``n`` is the clusters in the cell per fold seed
        (its predictions over the number of fold seeds of the model, so a mean over seeds).
    """
    if by not in ("mu", "log_age"):
        raise ValueError(f"coverage_by_age_bin: by = {by!r}; 'mu' (predicted age) or 'log_age' (true age)")
    labels = age_bin_labels(bin_edges)
    value = cluster_rows[by].to_numpy(float)
    frame = cluster_rows.assign(age_bin=np.where(np.isfinite(value), age_bins(value, bin_edges), None))   # no bin for a NaN
    records = []
    for model, part in frame.groupby("model", sort=False):
        n_seeds = part["seed"].nunique()
        for galaxy in ("all", *GALAXIES):
            in_galaxy = part if galaxy == "all" else part[part["galaxy"] == galaxy]
            cells = dict(tuple(in_galaxy.groupby("age_bin", sort=False)))
            for label in (b for b in labels if b in cells):
                cell = cells[label]
                values = point_metrics(cell["log_age"].to_numpy(), cell["mu"].to_numpy(), cell["sigma"].to_numpy(), **interval_sigmas(cell))
                records.append((model, galaxy, label, len(cell) / n_seeds, values["cov68"], values["cov95"]))
    return pd.DataFrame.from_records(records, columns=["model", "galaxy", "age_bin", "n", "cov68", "cov95"])


def coverage_by_predicted_age(cluster_rows: pd.DataFrame, bin_edges: Sequence[float] = PROTOCOL.calibration_bin_edges) -> pd.DataFrame:
    """Out-of-fold coverage per model, galaxy and bin of *predicted* log age (``coverage_by_predicted_age.csv``).

    The intervals a user reads are read at the predicted age, so this is where they must hold: the
    cells are the categories of the Mondrian sigma calibration
    (:func:`tess_cluster_age.models.base.interval_scales`) when ``bin_edges`` are its edges
    (``evaluation.calibration_bin_edges``). See :func:`coverage_by_age_bin`.

    Returns:
        :data:`COVERAGE_BY_PREDICTED_AGE_COLUMNS`: ``model, galaxy, predicted_bin`` (label of the
        bin of the cluster's ``mu``), ``n`` (clusters per fold seed), ``cov68, cov95`` (fractions).
    """
    table = coverage_by_age_bin(cluster_rows, bin_edges, "mu").rename(columns={"age_bin": "predicted_bin"})
    return table[COVERAGE_BY_PREDICTED_AGE_COLUMNS]


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over fold seeds of each metric (wide: ``mean``, ``sd``)."""
    per_seed = metrics[metrics["seed"].notna()]
    grouped = per_seed.groupby(["model", "level", "galaxy", "age_bin", "metric"], sort=False)["value"]
    return pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1)}).reset_index()


def bootstrap_rmse_difference(predictions: pd.DataFrame, reference_model: str = REFERENCE_MODEL, n_boot: int = PROTOCOL.bootstrap.n,
                              seed: int = PROTOCOL.bootstrap.seed, level: str = "cluster") -> pd.DataFrame:
    """Paired cluster bootstrap of each model's RMSE minus the reference model's (dex).

    Clusters are resampled with replacement (the same draw for both models and for every fold seed,
    so that the pairing is kept); in each replicate the difference of RMSEs is averaged over fold
    seeds. A negative difference means the model beats the reference.

    Args:
        predictions: out-of-fold rows (``model, level, seed, name, galaxy, log_age, mu``).
        reference_model: the model every other is compared with.
        n_boot: bootstrap replicates; seed: their random seed.
        level: rows to use (``cluster``; at segment level, clusters are still the resampled unit).

    Returns:
        Long rows (``seed`` NA = over all fold seeds) with metrics ``rmse_diff`` (the point
        estimate), ``rmse_diff_lo95`` and ``rmse_diff_hi95`` (2.5 and 97.5 percentiles), per model
        and galaxy.
    """
    rows = predictions[predictions["level"] == level]
    if reference_model not in set(rows["model"]):
        return pd.DataFrame(columns=METRIC_COLUMNS)
    rng = np.random.default_rng(seed)
    squared = rows.assign(se=(rows["mu"] - rows["log_age"]) ** 2)
    # clusters x seeds matrices of summed squared error and counts, one per model
    table = squared.pivot_table(index=["galaxy", "name"], columns=["model", "seed"], values="se", aggfunc="sum")
    counts = squared.pivot_table(index=["galaxy", "name"], columns=["model", "seed"], values="se", aggfunc="count")
    records = []
    for galaxy in ("all", *GALAXIES):
        index = table.index if galaxy == "all" else table.index[table.index.get_level_values("galaxy") == galaxy]
        if len(index) == 0:
            continue
        draws = rng.integers(0, len(index), size=(n_boot, len(index)))
        ref_se, ref_n = table.loc[index, reference_model].to_numpy(), counts.loc[index, reference_model].to_numpy()
        for model in table.columns.get_level_values("model").unique():
            if model == reference_model:
                continue
            se, n = table.loc[index, model].to_numpy(), counts.loc[index, model].to_numpy()
            if np.isnan(se).all():
                continue

            def difference(sample: np.ndarray) -> np.ndarray:
                rmse = np.sqrt(np.nansum(se[sample], axis=-2) / np.nansum(n[sample], axis=-2))
                rmse_ref = np.sqrt(np.nansum(ref_se[sample], axis=-2) / np.nansum(ref_n[sample], axis=-2))
                return np.nanmean(rmse - rmse_ref, axis=-1)

            point = float(difference(np.arange(len(index))))
            replicates = difference(draws)
            lo, hi = np.percentile(replicates, [2.5, 97.5])
            records += [(model, level, galaxy, "all", pd.NA, m, v)
                        for m, v in (("rmse_diff", point), ("rmse_diff_lo95", lo), ("rmse_diff_hi95", hi))]
    return pd.DataFrame.from_records(records, columns=METRIC_COLUMNS)


# ------------------------------------------------------------------------------------ cross-validation
def shuffled_labels(log_age: pd.Series, names: pd.Series, seed: int) -> pd.Series:
    """The labels permuted across clusters (one age per cluster, seeded): the no-skill control.

    Args:
        log_age: label per row; names: cluster per row (all rows of a cluster share a label).
        seed: permutation seed.

    Returns:
        Labels aligned to the rows, each cluster carrying another cluster's age.
    """
    per_cluster = log_age.groupby(names.to_numpy(), sort=True).first()
    permuted = pd.Series(np.random.default_rng(seed).permutation(per_cluster.to_numpy()), index=per_cluster.index)
    return pd.Series(names.map(permuted).to_numpy(float), index=log_age.index, name=log_age.name)


def cluster_rmse(y: np.ndarray, mu: np.ndarray, groups: np.ndarray) -> float:
    """RMSE (dex) of the cluster means of ``mu`` against each cluster's label."""
    frame = pd.DataFrame({"g": groups, "y": y, "mu": mu}).groupby("g", sort=False).mean()
    return float(np.sqrt(np.mean((frame["mu"] - frame["y"]) ** 2)))


def permutation_importance(model: Any, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, columns: Sequence[str], n_repeats: int,
                           seed: int) -> pd.DataFrame:
    """Increase of held-out cluster RMSE (dex) when one feature is permuted across the rows of ``X``.

    Breiman (2001) permutation importance, scored at cluster level (the unit of truth, SPEC 4), on
    held-out clusters only. Returns ``feature, importance`` (mean over ``n_repeats``).
    """
    rng = np.random.default_rng(seed)
    base = cluster_rmse(y, model.predict(X), groups)
    out = []
    for column in columns:
        increases = []
        for _ in range(n_repeats):
            shuffled = X.copy()
            shuffled[column] = rng.permutation(shuffled[column].to_numpy())
            increases.append(cluster_rmse(y, model.predict(shuffled), groups) - base)
        out.append((column, float(np.mean(increases))))
    return pd.DataFrame(out, columns=["feature", "importance"])


def predict_with_intervals(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(mu, sigma, {interval column: sigma})`` (dex) of any estimator: its ``predict_intervals``
    (:data:`INTERVALS`), or for one with only ``predict(X, return_std=True)`` the Gaussian's intervals."""
    if hasattr(model, "predict_intervals"):
        return model.predict_intervals(X)
    mu, sigma = model.predict(X, return_std=True)
    return mu, sigma, {column: sigma for column in INTERVALS}


def _fold_predictions(task: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Fit on one fold's training clusters, predict its held-out clusters (a picklable task)."""
    train, test, label, seed, fold = task["train"], task["test"], task["label"], task["seed"], task["fold"]
    model = task["make_model"]()
    model.fit(train, train[label].to_numpy(float), sample_weight=train["weight"].to_numpy(float), groups=train["name"].to_numpy())
    mu, sigma, intervals = predict_with_intervals(model, test)
    rows = pd.DataFrame({
        "model": task["model_name"], "level": "segment", "seed": seed, "fold": fold,
        "segment_id": test["segment_id"].to_numpy(), "name": test["name"].to_numpy(), "galaxy": test["galaxy"].to_numpy(),
        "kind": test["kind"].to_numpy(), "log_age": test[label].to_numpy(float), "mu": mu, "sigma": sigma, **intervals,
    })
    inner = None
    if task.get("inner"):
        inner = cluster_predictions(model.inner_out_of_fold()).assign(model=task["model_name"], seed=seed, fold=fold)
    importance = task.get("importance")
    if not importance:
        return rows, None, inner
    from tess_cluster_age.schema import feature_columns

    table = permutation_importance(model, test, test[label].to_numpy(float), test["name"].to_numpy(), feature_columns(test),
                                   importance.n_repeats, seed * 1000 + fold)
    return rows, table.assign(seed=seed, fold=fold), inner


def cross_validate(make_model: Callable[[], Any], data: pd.DataFrame, folds: pd.DataFrame, model_name: str,
                   label: str = "log_age", progress: logging.Logger | None = None,
                   importance: Any | None = None, workers: int = 1, inner: bool = False) -> pd.DataFrame:
    """Out-of-fold segment predictions of one model for every seed and fold of ``folds``.

    For each (seed, fold) the model is built fresh by ``make_model()``, fitted on the segments of
    the other folds' clusters only (``fit(X, y, sample_weight=weight, groups=name)``) and predicts
    the held-out clusters' segments with ``predict(X, return_std=True)``. Clusters absent from ``folds`` (no
    label) are never used.

    Args:
        make_model: returns an unfitted estimator (picklable, e.g. a ``functools.partial``, when
            ``workers > 1``).
        data: model input (identity columns, ``weight``, label and features).
        folds: ``name, seed, fold`` (SPEC 4).
        model_name: written in the ``model`` column.
        label: the label column (``log_age``).
        progress: a logger for progress lines (none when None).
        importance: a :class:`~tess_cluster_age.models.config.ImportanceConfig` (``seeds``,
            ``n_repeats``): permutation importances of the scalar features on
            the held-out folds of those seeds, returned in ``result.attrs["importance"]``
            (``seed, fold, feature, importance``).
        workers: folds fitted in parallel processes (1 = in this process). Results do not depend
            on it: every fold's model is seeded by its parameters alone.
        inner: also keep each fold's inner out-of-fold predictions of its training clusters
            (:meth:`~tess_cluster_age.models.base.AgeModel.inner_out_of_fold`, at cluster level),
            in ``result.attrs["inner"]`` (:data:`INNER_OOF_COLUMNS`): what a combined model
            fitted in that fold weighs its components on.

    Returns:
        ``model, level='segment', seed, fold, segment_id, name, galaxy, kind, log_age, mu, sigma,
        sigma_68, sigma_95`` (:data:`INTERVALS`).
    """
    from tess_cluster_age.parallel import run_tasks

    importance_seeds = {int(x) for x in importance.seeds} if importance is not None else set()
    tasks = []
    for seed in sorted(folds["seed"].unique()):
        fold_of = folds[folds["seed"] == seed].set_index("name")["fold"]
        rows = data[data["name"].isin(fold_of.index)]
        fold = rows["name"].map(fold_of).to_numpy()
        for k in sorted(np.unique(fold)):
            tasks.append({"make_model": make_model, "train": rows[fold != k], "test": rows[fold == k], "label": label, "seed": int(seed),
                          "fold": int(k), "model_name": model_name, "importance": importance if int(seed) in importance_seeds else None,
                          "inner": inner})
    results = run_tasks(_fold_predictions, tasks, workers=int(workers), label=f"{model_name}: folds", logger=progress or logger,
                        log_every_seconds=30.0 if progress else float("inf"))
    result = pd.concat([r[0] for r in results], ignore_index=True)
    importances = [r[1] for r in results if r[1] is not None]
    if importances:
        result.attrs["importance"] = pd.concat(importances, ignore_index=True)[["seed", "fold", "feature", "importance"]]
    if inner:
        result.attrs["inner"] = pd.concat([r[2] for r in results], ignore_index=True)[INNER_OOF_COLUMNS]
    return result


INNER_OOF_COLUMNS = ["model", "seed", "fold", "name", "galaxy", "log_age", "mu", "sigma", "n_segments"]
"""Inner out-of-fold cluster predictions of the model fitted in each outer fold (``seed, fold``) of
its training clusters: ``mu``, ``sigma`` in dex."""

FINAL_FIT = -1
"""``seed`` and ``fold`` of a row that belongs to a saved model (fitted on every labelled cluster)
rather than to an outer fold, e.g. the saved combined model's weights in ``combined_weights.csv``."""


def with_cluster_rows(segment_rows: pd.DataFrame) -> pd.DataFrame:
    """Segment rows of one or more models plus their cluster mixtures (``level='cluster'``) and PIT."""
    parts = [segment_rows]
    for model, rows in segment_rows.groupby("model", sort=False):
        clusters = cluster_predictions(rows.drop(columns=["segment_id", "kind"]))
        parts.append(clusters.assign(model=model, level="cluster"))
    out = pd.concat(parts, ignore_index=True)
    out["pit"] = pit(out["log_age"].to_numpy(), out["mu"].to_numpy(), out["sigma"].to_numpy())
    return out


SHUFFLED_SUFFIX = "_shuffled_labels"
"""Model-name suffix of the shuffled-label control (models trained and scored on permuted labels)."""


def controls_without_skill(metrics: pd.DataFrame, tolerance: float = 0.01, baselines: Sequence[str] = BASELINES) -> bool:
    """True when no shuffled-label model beats the best shuffled-label baseline by more than ``tolerance``.

    On labels permuted across clusters there is nothing to learn, so any gain in cluster RMSE
    (mean over fold seeds, all galaxies) over the best baseline on the same permuted labels means
    that held-out labels reached the model. Each offending model is logged.
    """
    rows = metrics[(metrics["level"] == "cluster") & (metrics["galaxy"] == "all") & (metrics["age_bin"] == "all")
                   & (metrics["metric"] == "rmse") & metrics["seed"].notna()]
    rmse = rows.groupby("model")["value"].mean()
    references = {b + SHUFFLED_SUFFIX: rmse[b + SHUFFLED_SUFFIX] for b in baselines if b + SHUFFLED_SUFFIX in rmse}
    if not references:
        return True
    best, reference = min(references.items(), key=lambda item: item[1])
    ok = True
    for model, value in rmse.items():
        if model.endswith(SHUFFLED_SUFFIX) and model not in references and value < reference - tolerance:
            logger.error("%s shows skill on shuffled labels (cluster RMSE %.3f against %s %.3f): held-out labels leak into training",
                         model, value, best, reference)
            ok = False
    return ok


# ------------------------------------------------------------------------------------ the report's views
def model_role(model: str, baselines: Sequence[str] = BASELINES) -> str:
    """``control`` (a model trained on shuffled labels), ``baseline`` (one of ``baselines``) or ``model``."""
    if model.endswith(SHUFFLED_SUFFIX):
        return "control"
    return "baseline" if model in baselines else "model"


def model_comparison(metrics: pd.DataFrame, baselines: Sequence[str] = BASELINES) -> pd.DataFrame:
    """Cluster-level comparison of every model per galaxy: mean and sd over fold seeds, and the bootstrap CI.

    Takes the cluster rows of the ``age_bin == "all"`` cells. Per model and galaxy, each metric is
    summarised over fold seeds by :func:`summarise` (mean, sample sd with ddof = 1); the rows
    without a seed are the paired-bootstrap rows of :func:`bootstrap_rmse_difference`, taken as
    they are. Nothing is recomputed from predictions.

    Args:
        metrics: combined long metrics (``pipeline, model, level, galaxy, age_bin, seed, metric,
            value``), as the model pipelines write them (one ``pipeline`` per model).
        baselines: the baseline models' names (:data:`tess_cluster_age.schema.BASELINES`).

    Returns:
        One row per model and galaxy (``all``, MW, LMC, SMC, in that order; within a galaxy
        baselines, then models, then shuffled-label controls, each by increasing RMSE):
        ``pipeline, model, role, galaxy`` (role from :func:`model_role`), ``<metric>`` and
        ``<metric>_sd`` for every metric of the table (dex for errors, fractions for coverages),
        ``rmse_diff``, ``rmse_diff_lo95``, ``rmse_diff_hi95`` (cluster RMSE minus the bootstrap
        reference's, dex, with its 95 % CI; NaN where there is none) and ``beats_reference``
        (the CI's upper end below 0).
    """
    cells = metrics[(metrics["level"] == "cluster") & (metrics["age_bin"] == "all")]
    wide = summarise(cells).pivot_table(index=["model", "galaxy"], columns="metric", values=["mean", "sd"], sort=False)
    table = wide["mean"].copy()
    for metric in wide["sd"].columns:
        table[f"{metric}_sd"] = wide["sd"][metric]
    boot = cells[cells["seed"].isna() & cells["metric"].str.startswith("rmse_diff")]
    table = table.join(boot.pivot_table(index=["model", "galaxy"], columns="metric", values="value"), how="left")
    for column in ("rmse_diff", "rmse_diff_lo95", "rmse_diff_hi95"):
        if column not in table:
            table[column] = np.nan
    table = table.reset_index()
    pipelines = metrics.drop_duplicates("model").set_index("model")["pipeline"]
    table.insert(0, "pipeline", table["model"].map(pipelines))
    table.insert(2, "role", [model_role(m, baselines) for m in table["model"]])
    table["beats_reference"] = table["rmse_diff_hi95"] < 0
    galaxy_order = {g: i for i, g in enumerate(("all", *GALAXIES))}
    role_order = {"baseline": 0, "model": 1, "control": 2}
    table = table.assign(_g=table["galaxy"].map(galaxy_order), _r=table["role"].map(role_order))
    table = table.sort_values(["_g", "_r", "rmse", "model"], kind="stable").drop(columns=["_g", "_r"]).reset_index(drop=True)
    logger.info("model comparison: %d models over %d galaxies", table["model"].nunique(), table["galaxy"].nunique())
    return table


def observed_coverage(pit_values: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Fraction of PIT values inside the central interval of each nominal probability (a reliability curve).

    The central interval of probability ``p`` of a predicted distribution holds the truth exactly
    when ``|PIT - 0.5| <= p / 2`` (PIT from :func:`pit`); a calibrated model gives observed =
    nominal. NaN PIT values are dropped.

    Args:
        pit_values: PIT of each prediction, in [0, 1].
        levels: nominal probabilities ``p`` of the central intervals.

    Returns:
        The observed fraction per level (NaN for all levels when no PIT value is finite).
    """
    pit_values = np.asarray(pit_values, float)
    pit_values = pit_values[np.isfinite(pit_values)]
    if pit_values.size == 0:
        return np.full(len(levels), np.nan)
    return (np.abs(pit_values[:, None] - 0.5) <= np.asarray(levels)[None, :] / 2).mean(axis=0)
