"""Nodes of the reporting pipeline: tables, figures and one self-contained HTML page.

Every number on the page comes from the model pipelines' tables (``<pipeline>.metrics``,
``<pipeline>.oof``, ``<pipeline>.importances``) through :mod:`tess_cluster_age.evaluation`; nothing
here re-implements a metric. Ages are log10(age / yr) ("dex") unless a column says ``_myr``.
Figure nodes return ``{"<name>.png": Figure}`` dicts that the catalog saves as PNG files; the
page node receives those files' bytes back from the catalog and embeds them as base64, so the page
opens offline and shows exactly the files on disk.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from tess_cluster_age import evaluation
from tess_cluster_age.provenance import package_versions
from tess_cluster_age.schema import GALAXIES

logger = logging.getLogger(__name__)

BASELINES: tuple[str, ...] = ("constant", "galaxy_mean")
"""Baseline models every model pipeline scores on the same folds (SPEC 4)."""
REFERENCE = "galaxy_mean"
"""The model every other is compared with (the bootstrap CI of SPEC 4)."""
GALAXY_COLUMNS: tuple[str, ...] = ("all", *GALAXIES)
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    ("rmse", "RMSE"), ("mae", "MAE"), ("bias", "bias"), ("skill", "skill"), ("nll", "NLL"), ("crps", "CRPS"),
    ("cov68", "cov68"), ("cov95", "cov95"), ("catastrophic", "> 1 dex"),
)
"""Cluster-level metrics of the comparison table, with their column headings."""
YOUNG_OLD_METRICS: tuple[str, ...] = ("young_precision", "young_recall", "old_precision", "old_recall", "balanced_accuracy")
PREDICTION_COLUMNS: list[str] = ["name", "galaxy", "model", "log_age_pred", "sigma", "lo68", "hi68", "lo95", "hi95", "age_myr",
                                 "n_segments", "log_age_header", "file"]
"""Columns of ``predictions.csv`` written by ``tess-cluster-age predict`` (issue 12, item 1)."""


# ------------------------------------------------------------------------------------ model outputs
def role(model: str) -> str:
    """``baseline``, ``control`` (trained on shuffled labels) or ``model``."""
    if model.endswith(evaluation.SHUFFLED_SUFFIX):
        return "control"
    return "baseline" if model in BASELINES else "model"


def combine_model_tables(**tables: pd.DataFrame) -> pd.DataFrame:
    """One table from the same table of several model pipelines, with a ``pipeline`` column.

    The baselines (and their shuffled-label controls) are scored by every pipeline on the same
    folds; only the first pipeline's copy of a model is kept, so each model appears once.

    Args:
        **tables: pipeline name -> its table (``metrics`` or cluster-level ``oof``, each with a
            ``model`` column). An empty table is skipped, logged.

    Returns:
        The rows of all pipelines, ``pipeline`` first.

    Raises:
        ValueError: every table is empty (no model pipeline has run).
    """
    out = _combine(tables)
    if out.empty:
        raise ValueError("no model output to report: run the model pipelines first "
                         "(kedro run --pipelines=random_forest,regression,gaussian_nn)")
    return out


def combine_importances(**tables: pd.DataFrame) -> pd.DataFrame:
    """The permutation importances of every pipeline (``pipeline, model, seed, fold, feature, importance``; may be empty)."""
    out = _combine(tables, warn=False)
    return out if not out.empty else pd.DataFrame(columns=["pipeline", "model", "seed", "fold", "feature", "importance"])


def _combine(tables: Mapping[str, pd.DataFrame], warn: bool = True) -> pd.DataFrame:
    parts, seen = [], set()
    for pipeline_name, table in tables.items():
        if table is None or table.empty:
            if warn:
                logger.warning("reporting: no rows from the %s pipeline", pipeline_name)
            continue
        table = table[~table["model"].isin(seen)]
        seen |= set(table["model"])
        parts.append(table.assign(pipeline=pipeline_name))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["pipeline", *[c for c in out.columns if c != "pipeline"]]]


def combine_cluster_predictions(**oof: pd.DataFrame) -> pd.DataFrame:
    """Cluster-level out-of-fold rows of every pipeline (``pipeline, model, seed, name, galaxy, log_age, mu, sigma, pit``).

    Args:
        **oof: pipeline name -> its ``oof`` table (segment and cluster rows; mu, sigma in dex).
    """
    columns = ["model", "level", "seed", "fold", "name", "galaxy", "log_age", "mu", "sigma", "n_segments", "pit"]
    clusters = {k: v.loc[v["level"] == "cluster", [c for c in columns if c in v]] for k, v in oof.items()}
    return combine_model_tables(**clusters)


def model_comparison(metrics: pd.DataFrame) -> pd.DataFrame:
    """Cluster-level comparison of every model per galaxy: mean and sd over fold seeds, and the CI vs galaxy_mean.

    Args:
        metrics: combined long metrics (``pipeline, model, level, galaxy, age_bin, seed, metric, value``).

    Returns:
        One row per model and galaxy (``all``, MW, LMC, SMC): ``pipeline, model, role, galaxy``,
        ``<metric>`` and ``<metric>_sd`` for every metric of the metrics table (dex for errors,
        fractions for coverages), ``rmse_diff``, ``rmse_diff_lo95``, ``rmse_diff_hi95`` (cluster
        RMSE minus galaxy_mean's, dex; NaN for galaxy_mean itself) and ``beats_reference`` (the
        CI's upper end below 0).
    """
    cells = metrics[(metrics["level"] == "cluster") & (metrics["age_bin"] == "all")]
    summary = evaluation.summarise(cells)
    wide = summary.pivot_table(index=["model", "galaxy"], columns="metric", values=["mean", "sd"], sort=False)
    table = wide["mean"].copy()
    for metric in wide["sd"].columns:
        table[f"{metric}_sd"] = wide["sd"][metric]
    boot = cells[cells["seed"].isna() & cells["metric"].str.startswith("rmse_diff")]
    boot = boot.pivot_table(index=["model", "galaxy"], columns="metric", values="value")
    table = table.join(boot, how="left")
    for column in ("rmse_diff", "rmse_diff_lo95", "rmse_diff_hi95"):
        if column not in table:
            table[column] = np.nan
    table = table.reset_index()
    pipelines = metrics.drop_duplicates("model").set_index("model")["pipeline"]
    table.insert(0, "pipeline", table["model"].map(pipelines))
    table.insert(2, "role", table["model"].map(role))
    table["beats_reference"] = table["rmse_diff_hi95"] < 0
    order = {g: i for i, g in enumerate(GALAXY_COLUMNS)}
    roles = {"baseline": 0, "model": 1, "control": 2}
    table = table.assign(_g=table["galaxy"].map(order), _r=table["role"].map(roles))
    table = table.sort_values(["_g", "_r", "rmse", "model"], kind="stable").drop(columns=["_g", "_r"]).reset_index(drop=True)
    logger.info("model comparison: %d models over %d galaxies", table["model"].nunique(), table["galaxy"].nunique())
    return table


def galaxy_verdicts(comparison: pd.DataFrame) -> dict[str, str]:
    """One sentence per galaxy (``all`` included) saying in words whether any model beats the galaxy's mean age.

    A model "beats" galaxy_mean only when the upper end of the 95 % bootstrap CI of its cluster RMSE
    difference is below 0; otherwise the sentence names the best model and its CI.
    """
    out = {}
    for galaxy in GALAXY_COLUMNS:
        rows = comparison[(comparison["galaxy"] == galaxy) & (comparison["role"] == "model") & comparison["rmse_diff"].notna()]
        where = "Over all galaxies" if galaxy == "all" else f"In the {galaxy}"
        mean = "each galaxy's mean age" if galaxy == "all" else "the galaxy's mean age"
        if rows.empty:
            out[galaxy] = f"{where}, no model has a bootstrap comparison with {REFERENCE}."
            continue
        winners = rows[rows["beats_reference"]].sort_values("rmse_diff")
        if not winners.empty:
            named = ", ".join(f"{r.model} (cluster RMSE {_signed(r.rmse_diff)} dex, 95 % CI {_signed(r.rmse_diff_lo95)} to "
                              f"{_signed(r.rmse_diff_hi95)})" for r in winners.head(3).itertuples())
            more = f" and {len(winners) - 3} more" if len(winners) > 3 else ""
            out[galaxy] = f"{where}, {len(winners)} model(s) beat {mean}: {named}{more}."
        else:
            best = rows.sort_values("rmse_diff").iloc[0]
            prior = (" An age from light curves there is essentially the prior of the galaxy's training clusters."
                     if galaxy != "all" else "")
            out[galaxy] = (f"{where}, no model beats {mean}: the best, {best.model}, changes the cluster RMSE by "
                           f"{_signed(best.rmse_diff)} dex (95 % CI {_signed(best.rmse_diff_lo95)} to {_signed(best.rmse_diff_hi95)}), "
                           f"a CI that includes 0.{prior}")
    return out


def _signed(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.3f}".replace("-", "−")


# ------------------------------------------------------------------------------------ data overview
def data_overview(clusters: pd.DataFrame, sectors: pd.DataFrame, segments: pd.DataFrame, ingestion_report: Mapping[str, Any],
                  ingestion_problems: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per galaxy, and the ingestion problems by reason.

    Args:
        clusters, sectors, segments: ingestion and augmentation tables.
        ingestion_report: the ingestion summary (``*_by_reason`` counts, ``duplicate_names``).
        ingestion_problems: one row per problem (``level``, ``code`` or ``reason``).

    Returns:
        ``(per_galaxy, problems)``: per galaxy (and ``all``) the numbers of clusters, labelled
        clusters, sectors, segments per kind, sectors per cadence (s) and the log-age range; and
        the problems as ``what, code, count`` rows (no rows when ingestion met none).
    """
    sectors = sectors.merge(clusters[["name", "galaxy"]], on="name", how="left")
    rows = []
    for galaxy in (*GALAXIES, "all"):
        def part(t: pd.DataFrame) -> pd.DataFrame:
            return t if galaxy == "all" else t[t["galaxy"] == galaxy]
        c, s, g = part(clusters), part(sectors), part(segments)
        labelled = c["log_age"].notna()
        row = {"galaxy": galaxy, "clusters": len(c), "labelled clusters": int(labelled.sum()), "sectors": len(s), "segments": len(g)}
        for kind, count in g["kind"].value_counts().sort_index().items():
            row[f"segments: {kind}"] = int(count)
        for cadence, count in s["cadence_s"].round(-1).value_counts().sort_index().items():
            row[f"sectors at {cadence:g} s"] = int(count)
        row["log age min"] = float(c.loc[labelled, "log_age"].min()) if labelled.any() else np.nan
        row["log age median"] = float(c.loc[labelled, "log_age"].median()) if labelled.any() else np.nan
        row["log age max"] = float(c.loc[labelled, "log_age"].max()) if labelled.any() else np.nan
        rows.append(row)
    per_galaxy = pd.DataFrame(rows)
    counts = [k for k in per_galaxy.columns if k.startswith(("segments:", "sectors at"))]
    per_galaxy[counts] = per_galaxy[counts].fillna(0).astype(int)
    problems = []
    for key, value in ingestion_report.items():
        if key.endswith("_by_reason") and isinstance(value, Mapping):
            problems += [(key.removesuffix("_by_reason").replace("_", " "), code, int(count)) for code, count in value.items()]
    duplicates = ingestion_report.get("duplicate_names") or []
    if duplicates:
        problems.append(("cluster names in several files", "duplicate_names", len(duplicates)))
    if not problems and not ingestion_problems.empty:
        code = "code" if "code" in ingestion_problems else "reason"
        counts = ingestion_problems.groupby(["level", code]).size()
        problems = [(level, c, int(n)) for (level, c), n in counts.items()]
    logger.info("data overview: %d clusters, %d sectors, %d segments, %d kinds of ingestion problem",
                len(clusters), len(sectors), len(segments), len(problems))
    return per_galaxy, pd.DataFrame(problems, columns=["what", "code", "count"])


# ------------------------------------------------------------------------------------ figures
def _figure(n_rows: int, n_cols: int, width: float = 3.6, height: float = 3.0, **kwargs) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width * n_cols, height * n_rows), squeeze=False, **kwargs)
    return fig, axes


def _present(models: Sequence[str], table: pd.DataFrame) -> list[str]:
    """The models of ``models`` that ``table`` holds (a model absent from a table is skipped, logged)."""
    have = set(table["model"])
    missing = [m for m in models if m not in have]
    if missing:
        logger.info("reporting: %s not in the model outputs, left out of the figures", missing)
    return [m for m in models if m in have]


def plot_data_figures(clusters: pd.DataFrame, sectors: pd.DataFrame) -> dict[str, Figure]:
    """Literature log ages and sector cadences per galaxy.

    Returns:
        ``{"data_overview.png": Figure}``: histogram of the labelled clusters' log age (dex) per
        galaxy, and the number of sectors per cadence (s) per galaxy.
    """
    fig, axes = _figure(1, 2, width=4.6)
    bins = np.arange(6.0, 10.51, 0.25)
    for galaxy in GALAXIES:
        ages = clusters.loc[(clusters["galaxy"] == galaxy) & clusters["log_age"].notna(), "log_age"]
        axes[0, 0].hist(ages, bins=bins, histtype="step", lw=1.8, label=f"{galaxy} ({len(ages)})")
    axes[0, 0].set(xlabel="literature log age (dex)", ylabel="clusters", title="Labels")
    axes[0, 0].legend(fontsize=8)
    merged = sectors.merge(clusters[["name", "galaxy"]], on="name", how="left")
    counts = merged.assign(cadence=merged["cadence_s"].round(-1).astype(int)).pivot_table(
        index="galaxy", columns="cadence", values="sector", aggfunc="count", fill_value=0).reindex(list(GALAXIES), fill_value=0)
    counts.plot.bar(ax=axes[0, 1], rot=0)
    axes[0, 1].set(xlabel="", ylabel="sectors", title="Sectors by cadence (s)")
    fig.tight_layout()
    return {"data_overview.png": fig}


def _seed_rows(cluster_oof: pd.DataFrame, seed: int) -> pd.DataFrame:
    seeds = sorted(cluster_oof["seed"].dropna().unique())
    if not seeds:
        return cluster_oof
    use = seed if seed in seeds else seeds[0]
    return cluster_oof[cluster_oof["seed"] == use]


def plot_per_galaxy_figures(cluster_oof: pd.DataFrame, metrics: pd.DataFrame, params: Mapping[str, Any],
                            evaluation_params: Mapping[str, Any]) -> dict[str, Figure]:
    """Per galaxy: predicted against literature log age, residuals against true age, error and coverage by age bin.

    Args:
        cluster_oof: cluster-level out-of-fold rows of every model (dex).
        metrics: combined metrics (for the age-bin rows).
        params: ``featured_models`` (the models drawn), ``figure_seed`` (the fold seed whose
            out-of-fold predictions are drawn).
        evaluation_params: ``age_bin_edges`` (dex).

    Returns:
        ``predicted_vs_literature.png`` (μ ± σ, i.e. 68 % bars for a Gaussian), ``residual_vs_age.png``
        (μ − true; the line is what predicting the galaxy's mean gives) and ``by_age_bin.png``
        (cluster RMSE in dex and 68 % coverage per log-age bin, mean over fold seeds).
    """
    models = _present(params.get("featured_models", []), cluster_oof)
    rows = _seed_rows(cluster_oof, int(params.get("figure_seed", 0)))
    out = {}
    if models:
        lo, hi = 5.8, 10.6
        scatter, axes = _figure(len(models), len(GALAXIES), sharex=True, sharey=True)
        resid, raxes = _figure(len(models), len(GALAXIES), sharex=True, sharey=True)
        for i, model in enumerate(models):
            for j, galaxy in enumerate(GALAXIES):
                part = rows[(rows["model"] == model) & (rows["galaxy"] == galaxy)]
                ax, rax = axes[i, j], raxes[i, j]
                ax.errorbar(part["log_age"], part["mu"], yerr=part["sigma"], fmt="o", ms=2.5, lw=0.6, alpha=0.6, color="C0")
                ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
                ax.set(xlim=(lo, hi), ylim=(lo, hi), title=f"{model} · {galaxy}")
                err = part["mu"] - part["log_age"]
                rax.scatter(part["log_age"], err, s=6, alpha=0.6, color="C1")
                if len(part):
                    mean_age = part["log_age"].mean()
                    rax.plot([lo, hi], [mean_age - lo, mean_age - hi], "k:", lw=0.9, label="predict the mean")
                rax.axhline(0, color="k", lw=0.6)
                rax.set(xlim=(lo, hi), title=f"{model} · {galaxy}")
                if i == len(models) - 1:
                    ax.set_xlabel("literature log age (dex)")
                    rax.set_xlabel("literature log age (dex)")
                if j == 0:
                    ax.set_ylabel("predicted log age (dex)")
                    rax.set_ylabel("predicted − literature (dex)")
        raxes[0, 0].legend(fontsize=7, loc="lower left")
        scatter.tight_layout()
        resid.tight_layout()
        out["predicted_vs_literature.png"] = scatter
        out["residual_vs_age.png"] = resid

    bin_models = _present([*params.get("featured_models", []), REFERENCE], metrics)
    labels = evaluation.age_bin_labels(evaluation_params["age_bin_edges"])
    cells = metrics[(metrics["level"] == "cluster") & metrics["model"].isin(bin_models) & (metrics["age_bin"] != "all")]
    if bin_models and not cells.empty:
        summary = evaluation.summarise(cells)
        fig, axes = _figure(2, len(GALAXIES), width=4.0)
        width = 0.8 / len(bin_models)
        x = np.arange(len(labels))
        for j, galaxy in enumerate(GALAXIES):
            for r, metric in enumerate(("rmse", "cov68")):
                ax = axes[r, j]
                for k, model in enumerate(bin_models):
                    s = summary[(summary["model"] == model) & (summary["galaxy"] == galaxy) & (summary["metric"] == metric)]
                    s = s.set_index("age_bin").reindex(labels)
                    ax.bar(x + (k - (len(bin_models) - 1) / 2) * width, s["mean"], width, yerr=s["sd"], label=model, capsize=1.5)
                ax.set_xticks(x, labels, fontsize=8)
                ax.set_title(f"{galaxy}: {'cluster RMSE (dex)' if metric == 'rmse' else '68 % coverage'}")
                if metric == "cov68":
                    ax.axhline(0.6827, color="k", ls="--", lw=0.8)
                    ax.set_ylim(0, 1)
                    ax.set_xlabel("literature log age bin (dex)")
        axes[0, 0].legend(fontsize=7)
        fig.tight_layout()
        out["by_age_bin.png"] = fig
    logger.info("per-galaxy figures: %s", sorted(out))
    return out


NOMINAL_LEVELS = np.round(np.linspace(0.05, 0.95, 19), 2)
"""Nominal central-interval probabilities of the reliability curve."""


def observed_coverage(pit_values: np.ndarray, levels: Sequence[float] = NOMINAL_LEVELS) -> np.ndarray:
    """Fraction of PIT values inside the central interval of each nominal probability.

    The central ``p`` interval of a predicted distribution holds the truth exactly when
    ``|PIT − 0.5| ≤ p / 2``; a calibrated model gives observed = nominal.
    """
    pit_values = np.asarray(pit_values, float)
    pit_values = pit_values[np.isfinite(pit_values)]
    if pit_values.size == 0:
        return np.full(len(levels), np.nan)
    return (np.abs(pit_values[:, None] - 0.5) <= np.asarray(levels)[None, :] / 2).mean(axis=0)


def plot_calibration_figures(cluster_oof: pd.DataFrame) -> dict[str, Figure]:
    """PIT histograms per model and reliability curves per galaxy (cluster level, all fold seeds pooled).

    Returns:
        ``pit_histograms.png`` (one panel per model; flat = calibrated, U = overconfident,
        hump = underconfident) and ``reliability.png`` (observed against nominal coverage of the
        central intervals, one line per model, one panel per galaxy).
    """
    models = [m for m in dict.fromkeys(cluster_oof["model"]) if role(m) != "control"]
    out = {}
    if not models:
        return out
    n_cols = min(4, len(models))
    n_rows = math.ceil(len(models) / n_cols)
    fig, axes = _figure(n_rows, n_cols, width=3.0, height=2.4, sharex=True)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    for ax, model in zip(axes.flat, models):
        values = cluster_oof.loc[cluster_oof["model"] == model, "pit"].dropna()
        ax.hist(values, bins=np.linspace(0, 1, 11), color="C2", alpha=0.8, density=True)
        ax.axhline(1.0, color="k", ls="--", lw=0.8)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("PIT")
    fig.tight_layout()
    out["pit_histograms.png"] = fig

    fig, axes = _figure(1, len(GALAXY_COLUMNS), width=3.4, height=3.2, sharey=True)
    for ax, galaxy in zip(axes.flat, GALAXY_COLUMNS):
        part = cluster_oof if galaxy == "all" else cluster_oof[cluster_oof["galaxy"] == galaxy]
        for k, model in enumerate(models):
            observed = observed_coverage(part.loc[part["model"] == model, "pit"].to_numpy())
            ax.plot(NOMINAL_LEVELS, observed, lw=1.2, ls="-" if role(model) == "model" else ":", label=model, color=f"C{k % 10}")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal coverage", title=galaxy)
    axes[0, 0].set_ylabel("observed coverage")
    axes[0, -1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    out["reliability.png"] = fig
    return out


def plot_control_figures(comparison: pd.DataFrame) -> dict[str, Figure]:
    """The shuffled-label controls beside the models they copy (cluster RMSE per galaxy, dex).

    Returns:
        ``{"controls.png": Figure}`` or ``{}`` when no control was run.
    """
    controls = sorted(m for m in comparison["model"].unique() if role(m) == "control")
    pairs = [(c.removesuffix(evaluation.SHUFFLED_SUFFIX), c) for c in controls]
    pairs = [(real, c) for real, c in pairs if real in set(comparison["model"])]
    if not pairs:
        return {}
    fig, axes = _figure(1, len(GALAXY_COLUMNS), width=3.6, height=3.4, sharey=True)
    for ax, galaxy in zip(axes.flat, GALAXY_COLUMNS):
        rows = comparison[comparison["galaxy"] == galaxy].set_index("model")
        x = np.arange(len(pairs))
        for offset, pick, label, color in ((-0.2, 0, "real labels", "C0"), (0.2, 1, "shuffled labels", "C3")):
            names = [p[pick] for p in pairs]
            ax.bar(x + offset, rows["rmse"].reindex(names), 0.4, yerr=rows["rmse_sd"].reindex(names), label=label, color=color, capsize=2)
        ax.set_xticks(x, [p[0] for p in pairs], rotation=45, ha="right", fontsize=8)
        ax.set_title(galaxy)
    axes[0, 0].set_ylabel("cluster RMSE (dex)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return {"controls.png": fig}


def plot_importance_figures(importances: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Figure]:
    """Permutation importances on held-out folds (increase of cluster RMSE, dex), top features per model.

    Args:
        importances: combined ``pipeline, model, seed, fold, feature, importance``.
        params: ``importance_top`` (features shown per model).

    Returns:
        ``{"importances.png": Figure}`` or ``{}`` when no pipeline computed importances.
    """
    if importances.empty:
        return {}
    models = list(dict.fromkeys(importances["model"]))
    top = int(params.get("importance_top", 15))
    fig, axes = _figure(1, len(models), width=4.8, height=0.28 * top + 1.2)
    for ax, model in zip(axes.flat, models):
        stats = importances[importances["model"] == model].groupby("feature")["importance"].agg(["mean", "std"])
        stats = stats.sort_values("mean", ascending=False).head(top).iloc[::-1]
        ax.barh(stats.index, stats["mean"], xerr=stats["std"].fillna(0), color="C4", capsize=2)
        ax.axvline(0, color="k", lw=0.6)
        ax.set(title=model, xlabel="Δ cluster RMSE when permuted (dex)")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return {"importances.png": fig}


def example_clusters(clusters: pd.DataFrame, segments: pd.DataFrame, params: Mapping[str, Any], young_old_log_age: float) -> dict[str, str]:
    """The young and the old example cluster: named in ``example_clusters``, else the youngest and oldest of ``example_galaxy``.

    Only labelled clusters with at least one ``sector`` segment qualify.
    """
    chosen = dict(params.get("example_clusters") or {})
    with_sector = set(segments.loc[segments["kind"] == "sector", "name"])
    pool = clusters[clusters["log_age"].notna() & clusters["name"].isin(with_sector)]
    in_galaxy = pool[pool["galaxy"] == params.get("example_galaxy", "LMC")]
    pool = in_galaxy if not in_galaxy.empty else pool
    pool = pool.sort_values(["log_age", "name"])
    out = {}
    for label, young in (("young", True), ("old", False)):
        if chosen.get(label):
            out[label] = str(chosen[label])
            continue
        side = pool[pool["log_age"] < young_old_log_age] if young else pool[pool["log_age"] >= young_old_log_age]
        if not side.empty:
            out[label] = str(side.iloc[0 if young else -1]["name"])
    return out


def plot_light_curve_figures(clusters: pd.DataFrame, segments: pd.DataFrame, sector_light_curves: pd.DataFrame, periodograms_classic: Any,
                             params: Mapping[str, Any], evaluation_params: Mapping[str, Any]) -> dict[str, Figure]:
    """Light curve (flux / median, first sector) and classic periodogram of a young and an old cluster.

    Args:
        clusters, segments: to choose the examples (see :func:`example_clusters`).
        sector_light_curves: samples (``name, sector, time`` in BTJD d, ``flux`` in e/s).
        periodograms_classic: ``Periodograms`` (bootstrap-median Lomb-Scargle power on 1/d).
        params: ``example_clusters``, ``example_galaxy``.
        evaluation_params: ``young_old_log_age`` (dex).

    Returns:
        ``{"light_curves.png": Figure}`` or ``{}`` when no example cluster exists.
    """
    examples = example_clusters(clusters, segments, params, float(evaluation_params["young_old_log_age"]))
    if not examples:
        return {}
    fig, axes = _figure(len(examples), 2, width=5.2, height=2.6)
    ages = clusters.set_index("name")["log_age"]
    for i, (label, name) in enumerate(examples.items()):
        sector_segments = segments[(segments["name"] == name) & (segments["kind"] == "sector")]
        if sector_segments.empty:
            axes[i, 0].set_title(f"{name}: no sector segment")
            continue
        segment = sector_segments.iloc[0]
        sector = int(segment["segment_id"].rsplit("|", 1)[-1])
        samples = sector_light_curves[(sector_light_curves["name"] == name) & (sector_light_curves["sector"] == sector)]
        flux = samples["flux"].to_numpy(float)
        axes[i, 0].plot(samples["time"], flux / np.median(flux), ".", ms=1.2, color="C0")
        title = f"{label}: {name} ({segment['galaxy']}, log age {ages.get(name, np.nan):.2f}), sector {sector}"
        axes[i, 0].set(xlabel="time (BTJD, d)", ylabel="flux / median", title=title)
        axes[i, 0].title.set_fontsize(9)
        try:
            power = periodograms_classic.rows([segment["segment_id"]])[0]
            axes[i, 1].plot(1 / periodograms_classic.frequency, power, lw=0.8, color="C1")
            axes[i, 1].set(xscale="log", xlabel="period (d)", ylabel="LS power (bootstrap median)", title=f"{name}: periodogram")
            axes[i, 1].title.set_fontsize(9)
        except KeyError:
            axes[i, 1].set_title(f"{name}: no periodogram")
    fig.tight_layout()
    logger.info("light-curve examples: %s", examples)
    return {"light_curves.png": fig}


# ------------------------------------------------------------------------------------ the page
def _png(image: bytes | Figure) -> bytes:
    if isinstance(image, Figure):
        buffer = io.BytesIO()
        image.savefig(buffer, format="png", dpi=80)
        plt.close(image)
        return buffer.getvalue()
    return bytes(image)


def _img(figures: Mapping[str, Any], name: str, alt: str) -> str:
    if name not in figures:
        return f"<p class=note>Figure {html.escape(name)} was not drawn (its models are not in the outputs).</p>"
    data = base64.b64encode(_png(figures[name])).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 10 else f"{value:.{digits}f}"
    return str(value)


def _table(frame: pd.DataFrame, css: str = "") -> str:
    if frame.empty:
        return "<p class=note>No rows.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f'<div class=scroll><table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _mean_sd(row: pd.Series, metric: str) -> str:
    m, s = row.get(metric, np.nan), row.get(f"{metric}_sd", np.nan)
    if not np.isfinite(m):
        return "–"
    return f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}"


def comparison_display(comparison: pd.DataFrame, galaxy: str, roles: Sequence[str] = ("baseline", "model")) -> pd.DataFrame:
    """The comparison rows of one galaxy as display strings (mean ± sd over fold seeds; CI vs galaxy_mean)."""
    rows = comparison[(comparison["galaxy"] == galaxy) & comparison["role"].isin(roles)]
    out = []
    for _, row in rows.iterrows():
        record = {"model": row["model"], "pipeline": row["pipeline"], "clusters": _fmt(row.get("n", np.nan)), "RMSE": _mean_sd(row, "rmse")}
        if np.isfinite(row.get("rmse_diff", np.nan)):
            record[f"ΔRMSE vs {REFERENCE} [95 % CI]"] = (f"{_signed(row['rmse_diff'])} [{_signed(row['rmse_diff_lo95'])}, "
                                                        f"{_signed(row['rmse_diff_hi95'])}]")
            record["beats the mean"] = "yes" if row["beats_reference"] else "no"
        else:
            record[f"ΔRMSE vs {REFERENCE} [95 % CI]"] = "reference" if row["model"] in (REFERENCE, REFERENCE + evaluation.SHUFFLED_SUFFIX) else "–"
            record["beats the mean"] = "–"
        record |= {heading: _mean_sd(row, metric) for metric, heading in TABLE_METRICS if metric != "rmse"}
        out.append(record)
    return pd.DataFrame(out)


def controls_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """All-galaxy rows of every shuffled-label control next to the model (or baseline) it copies."""
    controls = [m for m in dict.fromkeys(comparison["model"]) if role(m) == "control"]
    keep = set(controls) | {c.removesuffix(evaluation.SHUFFLED_SUFFIX) for c in controls}
    table = pd.concat([comparison_display(comparison, "all", ("baseline", "model")), comparison_display(comparison, "all", ("control",))],
                      ignore_index=True)
    return table[table["model"].isin(keep)].reset_index(drop=True) if not table.empty else table


def young_old_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The young/old view per model: class precision and recall over all galaxies, balanced accuracy per galaxy."""
    rows = comparison[comparison["role"] != "control"].set_index(["model", "galaxy"])
    out = []
    for model in dict.fromkeys(rows.index.get_level_values("model")):
        record = {"model": model}
        if (model, "all") in rows.index:
            record |= {m.replace("_", " "): _mean_sd(rows.loc[(model, "all")], m) for m in YOUNG_OLD_METRICS[:-1]}
        for galaxy in GALAXY_COLUMNS:
            key = (model, galaxy)
            record[f"balanced accuracy {galaxy}"] = _mean_sd(rows.loc[key], "balanced_accuracy") if key in rows.index else "–"
        out.append(record)
    return pd.DataFrame(out)


def _text_table(frame: pd.DataFrame) -> str:
    """A table whose cells are already display strings."""
    if frame.empty:
        return "<p class=note>No rows.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f"<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#123;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
nav{background:#234;padding:6px 28px}nav a{color:#cde;margin-right:14px;text-decoration:none;font-size:13px}
main{padding:6px 28px 40px;max-width:1500px}section{margin-top:22px}h2{border-bottom:2px solid #234;padding-bottom:3px}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;margin:8px 0 14px;font-size:12.5px;background:#fff}
th,td{border:1px solid #ccd;padding:3px 7px;text-align:right;white-space:nowrap}th{background:#e8edf3}
td:first-child,th:first-child{text-align:left}
figure{margin:10px 0}img{max-width:100%;border:1px solid #dde;background:#fff}figcaption{font-size:12px;color:#555}
.verdict{background:#fff8e1;border-left:4px solid #e0a800;padding:8px 12px;margin:6px 0}
.verdict.good{background:#e9f7ef;border-left-color:#2e8b57}.note{color:#555;font-style:italic}
pre{background:#fff;border:1px solid #dde;padding:10px;font-size:12px;max-height:420px;overflow:auto}
"""


def render_report(per_galaxy: pd.DataFrame, problems: pd.DataFrame, comparison: pd.DataFrame, metrics: pd.DataFrame,
                  last_predictions: pd.DataFrame, data_figures: Mapping[str, Any], per_galaxy_figures: Mapping[str, Any],
                  calibration_figures: Mapping[str, Any], control_figures: Mapping[str, Any], importance_figures: Mapping[str, Any],
                  light_curve_figures: Mapping[str, Any], parameters: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The report: one self-contained HTML page (figures embedded as base64 PNG, no external resource).

    Args:
        per_galaxy, problems: from :func:`data_overview`.
        comparison: from :func:`model_comparison`.
        metrics: combined metrics (young/old view and control check).
        last_predictions: ``predictions.csv`` of the last ``predict`` run (empty when there is none).
        *_figures: ``{"<name>.png": PNG bytes or Figure}``, as saved by the catalog.
        parameters: every project parameter (shown under "How it was made").
        params: the ``reporting`` section (``title``, ``max_prediction_rows``).

    Returns:
        The HTML text (UTF-8).
    """
    figures = {**data_figures, **per_galaxy_figures, **calibration_figures, **control_figures, **importance_figures, **light_curve_figures}
    verdicts = galaxy_verdicts(comparison)
    title = params.get("title", "tess-cluster-age: how good are the ages?")
    sections: list[tuple[str, str, str]] = []

    n_clusters = int(per_galaxy.loc[per_galaxy["galaxy"] == "all", "clusters"].iloc[0]) if not per_galaxy.empty else 0
    winners = comparison[(comparison["role"] == "model") & (comparison["galaxy"] != "all") & comparison["beats_reference"]]
    without = [g for g in GALAXIES if g not in set(winners["galaxy"]) and g in set(comparison["galaxy"])]
    summary = ["<p>Ages are log10(age / yr) in dex; every number is cross-validated with clusters grouped (no cluster's light "
               f"curves are in both training and test), over {n_clusters} clusters. A model <b>beats</b> a galaxy's mean only "
               "when the upper end of the 95 % paired-bootstrap CI of its cluster RMSE difference against "
               f"<code>{REFERENCE}</code> is below 0.</p>"]
    if without:
        summary.append(f'<p class="verdict"><b>No skill from light curves in: {", ".join(without)}.</b> There a dated age is '
                       "essentially the prior of that galaxy's training clusters; read its interval, not its centre.</p>")
    sections.append(("summary", "Summary", "".join(summary) + "".join(
        f'<p class="verdict{" good" if "model(s) beat" in verdicts[g] else ""}">{html.escape(verdicts[g])}</p>' for g in verdicts)))

    sections.append(("data", "Data", (
        "<p>Clusters, sectors, segments and cadences per galaxy (ingestion and augmentation outputs).</p>"
        + _table(per_galaxy) + "<h3>Ingestion problems by reason</h3>"
        + (_table(problems) if not problems.empty else "<p>Ingestion met no problem: every file and sector was read.</p>")
        + _img(figures, "data_overview.png", "Literature log ages and sector cadences per galaxy"))))

    comparison_html = ['<p>Cluster level, mean ± sd over the fold seeds. ΔRMSE is the cluster RMSE minus '
                       f"<code>{REFERENCE}</code>'s (dex; negative is better), with its 95 % paired cluster bootstrap CI. "
                       "Errors in dex, coverages as fractions (nominal 0.683 and 0.95), NLL in nats, skill = 1 − MSE/MSE<sub>constant</sub>.</p>"]
    for galaxy in GALAXY_COLUMNS:
        if galaxy not in verdicts:
            continue
        good = " good" if "model(s) beat" in verdicts[galaxy] else ""
        comparison_html.append(f"<h3>{'All galaxies' if galaxy == 'all' else galaxy}</h3>"
                               f'<p class="verdict{good}">{html.escape(verdicts[galaxy])}</p>' + _text_table(comparison_display(comparison, galaxy)))
    sections.append(("comparison", "Model comparison", "".join(comparison_html)))

    sections.append(("galaxy", "Per galaxy", (
        "<p>Out-of-fold cluster predictions of one fold seed. Bars are μ ± σ of the cluster's mixture (68 % for a Gaussian). "
        "The residuals fall along the dotted line of “predict the mean” where a model regresses to the mean.</p>"
        + _img(figures, "predicted_vs_literature.png", "Predicted against literature log age, 68 % bars")
        + _img(figures, "residual_vs_age.png", "Residual (predicted − literature) against literature log age")
        + _img(figures, "by_age_bin.png", "Cluster RMSE and 68 % coverage by log-age bin (mean ± sd over fold seeds)"))))

    sections.append(("calibration", "Calibration", (
        "<p>PIT = Φ((y − μ)/σ) of each cluster (all fold seeds pooled): flat when calibrated, U-shaped when overconfident, "
        "humped when underconfident. The reliability curve shows the observed coverage of central intervals against their nominal "
        "probability; the diagonal is perfect calibration. Baselines are dotted.</p>"
        + _img(figures, "pit_histograms.png", "PIT histograms per model (cluster level)")
        + _img(figures, "reliability.png", "Observed against nominal coverage per galaxy"))))

    leak_free = evaluation.controls_without_skill(metrics)
    control_text = ("<p>Each control is trained and scored on labels permuted across clusters, where nothing can be learnt: "
                    + ("no control beats the shuffled baselines, as expected (no leak of held-out labels). A control's ΔRMSE is against "
                       f"<code>{REFERENCE}{evaluation.SHUFFLED_SUFFIX}</code>, the galaxy mean of the same shuffled labels.</p>" if leak_free else
                       "<b>a control beats the shuffled baselines: held-out labels reach training; distrust every number here.</b></p>"))
    threshold = parameters.get("evaluation", {}).get("young_old_log_age", 8.0)
    sections.append(("controls", "Controls and other views", (
        "<h3>Shuffled-label controls</h3>" + control_text
        + _text_table(controls_display(comparison))
        + _img(figures, "controls.png", "Cluster RMSE with real and with shuffled labels")
        + f"<h3>Young / old at log age {threshold:g}</h3><p>Cluster level; a cluster is young when its log age is below "
        f"{threshold:g} (fixed threshold, SPEC 4); precision and recall of each class over all galaxies, and the balanced "
        "accuracy (mean of the two recalls; 0.5 = no skill) per galaxy. Mean ± sd over fold seeds.</p>"
        + _text_table(young_old_display(comparison))
        + "<h3>Permutation importances</h3><p>Increase of held-out cluster RMSE when one feature is permuted "
        "(mean ± sd over folds).</p>" + _img(figures, "importances.png", "Permutation importances on held-out folds"))))

    sections.append(("light-curves", "Light curves", (
        "<p>One sector of a young and of an old cluster, and its classic periodogram (bootstrap-median Lomb–Scargle power).</p>"
        + _img(figures, "light_curves.png", "Example light curves and periodograms of a young and an old cluster"))))

    if last_predictions.empty:
        predictions_html = ("<p>No predictions yet. <code>tess-cluster-age predict PATH... --out predictions.csv</code> (or "
                            "<code>kedro run --pipeline=predict --params=predict_dir=...</code>) dates new clusters; the next report "
                            "shows them here.</p>")
    else:
        shown = last_predictions.head(int(params.get("max_prediction_rows", 200)))
        predictions_html = (f"<p>{len(last_predictions)} rows of the last <code>predict</code> run "
                            f"({last_predictions['name'].nunique() if 'name' in last_predictions else '?'} clusters)"
                            f"{', first ' + str(len(shown)) + ' shown' if len(shown) < len(last_predictions) else ''}. "
                            "Intervals are percentiles of the cluster's predicted age distribution; ages in Myr.</p>" + _table(shown))
    sections.append(("predictions", "Predictions", predictions_html))

    versions = package_versions()
    shown_params = {k: v for k, v in parameters.items() if not str(k).startswith("_")}
    sections.append(("provenance", "How it was made", (
        "<p>Built by <code>kedro run --pipelines=reporting</code> from the model pipelines' outputs in the project's data folder.</p>"
        + _table(pd.DataFrame(sorted(versions.items()), columns=["package", "version"]))
        + "<h3>Parameters</h3><pre>" + html.escape(yaml.safe_dump(_plain(shown_params), sort_keys=True, width=120)) + "</pre>")))

    nav = "".join(f'<a href="#{key}">{html.escape(heading)}</a>' for key, heading, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{html.escape(heading)}</h2>{content}</section>' for key, heading, content in sections)
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><header><h1>{html.escape(title)}</h1>"
            f"<div>Ages of star clusters from integrated TESS (ELK) light curves: cross-validated accuracy, calibration and controls.</div>"
            f"</header><nav>{nav}</nav><main>{body}</main></body></html>")
    logger.info("report: %d sections, %d figures, %.1f MB", len(sections), sum(1 for _ in figures), len(page) / 1e6)
    return page


def _plain(value: Any) -> Any:
    """Parameters as plain YAML-safe values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
