"""The report's figures: one function per figure, each returning a matplotlib ``Figure``.

The nodes choose what to draw (models present, the fold seed, the example clusters) and name the
files; the catalog saves each figure as PNG. Ages are log10(age / yr) ("dex").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tess_cluster_age import evaluation
from tess_cluster_age.config import ExampleClustersConfig
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.schema import GALAXIES

from .tables import GALAXY_COLUMNS

logger = logging.getLogger(__name__)

NOMINAL_LEVELS = np.round(np.linspace(0.05, 0.95, 19), 2)
"""Nominal central-interval probabilities of the reliability curve."""
LOG_AGE_RANGE = (5.8, 10.6)
"""Axis range of the per-galaxy scatter plots (dex)."""


def _figure(n_rows: int, n_cols: int, width: float = 3.6, height: float = 3.0, **kwargs) -> tuple[Figure, np.ndarray]:
    """A figure of ``n_rows x n_cols`` panels of ``width x height`` inches each (axes always 2-D)."""
    return plt.subplots(n_rows, n_cols, figsize=(width * n_cols, height * n_rows), squeeze=False, **kwargs)


def _model_galaxy_panels(axes: np.ndarray, rows: pd.DataFrame, models: Sequence[str], ylabel: str):
    """Each panel of a model (row) x galaxy (column) grid with that model's and galaxy's rows:
    yields ``(model, galaxy, ax, rows)``; once the caller has drawn a panel, the bottom row gets the
    literature log-age label and the first column ``ylabel``."""
    for i, model in enumerate(models):
        for j, galaxy in enumerate(GALAXIES):
            ax = axes[i, j]
            yield model, galaxy, ax, rows[(rows["model"] == model) & (rows["galaxy"] == galaxy)]
            if i == len(models) - 1:
                ax.set_xlabel("literature log age (dex)")
            if j == 0:
                ax.set_ylabel(ylabel)


# ------------------------------------------------------------------------------------ what to draw
def present(models: Sequence[str], table: pd.DataFrame) -> list[str]:
    """The models of ``models`` that ``table`` holds, in order (a model absent from a table is skipped, logged)."""
    have = set(table["model"])
    missing = [m for m in models if m not in have]
    if missing:
        logger.info("reporting: %s not in the model outputs, left out of the figures", missing)
    return [m for m in models if m in have]


def seed_rows(cluster_oof: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The out-of-fold rows of fold seed ``seed`` (of the first seed when it was not run; all rows when none has a seed)."""
    seeds = sorted(cluster_oof["seed"].dropna().unique())
    if not seeds:
        return cluster_oof
    use = seed if seed in seeds else seeds[0]
    return cluster_oof[cluster_oof["seed"] == use]


def example_clusters(clusters: pd.DataFrame, segments: pd.DataFrame, example_galaxy: str, chosen: ExampleClustersConfig,
                     young_old_log_age: float) -> dict[str, str]:
    """The young and the old example cluster: those named in ``chosen``, else the youngest and oldest of ``example_galaxy``.

    Only labelled clusters with at least one ``sector`` segment qualify; when ``example_galaxy`` has
    none, every galaxy's do. Young is ``log_age < young_old_log_age`` (dex).

    Returns:
        ``{"young": name, "old": name}`` (a side without a cluster is left out).
    """
    with_sector = set(segments.loc[segments["kind"] == "sector", "name"])
    pool = clusters[clusters["log_age"].notna() & clusters["name"].isin(with_sector)]
    in_galaxy = pool[pool["galaxy"] == example_galaxy]
    pool = (in_galaxy if not in_galaxy.empty else pool).sort_values(["log_age", "name"])
    out = {}
    for label, young in (("young", True), ("old", False)):
        named = getattr(chosen, label)
        if named:
            out[label] = str(named)
            continue
        side = pool[pool["log_age"] < young_old_log_age] if young else pool[pool["log_age"] >= young_old_log_age]
        if not side.empty:
            out[label] = str(side.iloc[0 if young else -1]["name"])
    return out


# ------------------------------------------------------------------------------------ the figures
def data_overview(clusters: pd.DataFrame, sectors: pd.DataFrame) -> Figure:
    """Histogram of the labelled clusters' literature log age (dex) per galaxy, and sectors per cadence (s) per galaxy."""
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
    return fig


def predicted_vs_literature(rows: pd.DataFrame, models: Sequence[str]) -> Figure:
    """Predicted against literature log age (dex), one panel per model and galaxy, bars μ ± σ (68 % for a Gaussian).

    Args:
        rows: cluster-level out-of-fold rows of one fold seed (``model, galaxy, log_age, mu, sigma``).
        models: the models drawn, one row of panels each.
    """
    lo, hi = LOG_AGE_RANGE
    fig, axes = _figure(len(models), len(GALAXIES), sharex=True, sharey=True)
    for model, galaxy, ax, part in _model_galaxy_panels(axes, rows, models, "predicted log age (dex)"):
        ax.errorbar(part["log_age"], part["mu"], yerr=part["sigma"], fmt="o", ms=2.5, lw=0.6, alpha=0.6, color="C0")
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), title=f"{model} · {galaxy}")
    fig.tight_layout()
    return fig


def residual_vs_age(rows: pd.DataFrame, models: Sequence[str]) -> Figure:
    """Residual μ − literature log age (dex) against literature log age, one panel per model and galaxy.

    The dotted line is the residual of predicting the panel's mean age, ``mean − y``: a model that
    regresses to the mean falls along it.

    Args:
        rows: cluster-level out-of-fold rows of one fold seed (``model, galaxy, log_age, mu``).
        models: the models drawn, one row of panels each.
    """
    lo, hi = LOG_AGE_RANGE
    fig, axes = _figure(len(models), len(GALAXIES), sharex=True, sharey=True)
    for model, galaxy, ax, part in _model_galaxy_panels(axes, rows, models, "predicted − literature (dex)"):
        ax.scatter(part["log_age"], part["mu"] - part["log_age"], s=6, alpha=0.6, color="C1")
        if len(part):
            mean_age = part["log_age"].mean()
            ax.plot([lo, hi], [mean_age - lo, mean_age - hi], "k:", lw=0.9, label="predict the mean")
        ax.axhline(0, color="k", lw=0.6)
        ax.set(xlim=(lo, hi), title=f"{model} · {galaxy}")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def by_age_bin(cells: pd.DataFrame, models: Sequence[str], age_bin_edges: Sequence[float]) -> Figure:
    """Cluster RMSE (dex) and 68 % coverage per literature log-age bin and galaxy, mean ± sd over fold seeds.

    Args:
        cells: cluster-level metric rows of the age bins (``age_bin != "all"``) of ``models``.
        models: the models drawn, one bar each per bin.
        age_bin_edges: log-age bin edges (dex), as the metrics were scored with.
    """
    summary = evaluation.summarise(cells)
    labels = evaluation.age_bin_labels(age_bin_edges)
    fig, axes = _figure(2, len(GALAXIES), width=4.0)
    width = 0.8 / len(models)
    x = np.arange(len(labels))
    for j, galaxy in enumerate(GALAXIES):
        for r, metric in enumerate(("rmse", "cov68")):
            ax = axes[r, j]
            for k, model in enumerate(models):
                s = summary[(summary["model"] == model) & (summary["galaxy"] == galaxy) & (summary["metric"] == metric)]
                s = s.set_index("age_bin").reindex(labels)
                ax.bar(x + (k - (len(models) - 1) / 2) * width, s["mean"], width, yerr=s["sd"], label=model, capsize=1.5)
            ax.set_xticks(x, labels, fontsize=8)
            ax.set_title(f"{galaxy}: {'cluster RMSE (dex)' if metric == 'rmse' else '68 % coverage'}")
            if metric == "cov68":
                ax.axhline(0.6827, color="k", ls="--", lw=0.8)
                ax.set_ylim(0, 1)
                ax.set_xlabel("literature log age bin (dex)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def pit_histograms(cluster_oof: pd.DataFrame, models: Sequence[str]) -> Figure:
    """PIT histogram per model (cluster level, all fold seeds pooled): flat = calibrated, U = overconfident, hump = underconfident."""
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
    return fig


def reliability(cluster_oof: pd.DataFrame, models: Sequence[str]) -> Figure:
    """Observed against nominal coverage of central intervals (:func:`evaluation.observed_coverage`), one panel per galaxy.

    One line per model (baselines dotted); the diagonal is perfect calibration.
    """
    fig, axes = _figure(1, len(GALAXY_COLUMNS), width=3.4, height=3.2, sharey=True)
    for ax, galaxy in zip(axes.flat, GALAXY_COLUMNS):
        part = cluster_oof if galaxy == "all" else cluster_oof[cluster_oof["galaxy"] == galaxy]
        for k, model in enumerate(models):
            observed = evaluation.observed_coverage(part.loc[part["model"] == model, "pit"].to_numpy(), NOMINAL_LEVELS)
            ax.plot(NOMINAL_LEVELS, observed, lw=1.2, ls="-" if evaluation.model_role(model) == "model" else ":", label=model, color=f"C{k % 10}")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="nominal coverage", title=galaxy)
    axes[0, 0].set_ylabel("observed coverage")
    axes[0, -1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return fig


def controls(comparison: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> Figure:
    """Cluster RMSE (dex, mean ± sd over fold seeds) per galaxy of each model beside its shuffled-label control.

    Args:
        comparison: from :func:`evaluation.model_comparison`.
        pairs: ``(model, its control)`` names, both in ``comparison``.
    """
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
    return fig


def importances(table: pd.DataFrame, top: int) -> Figure:
    """Permutation importances (increase of held-out cluster RMSE, dex; mean ± sd over folds), the ``top`` features per model.

    Args:
        table: combined ``pipeline, model, seed, fold, feature, importance`` (not empty).
        top: features shown per model.
    """
    models = list(dict.fromkeys(table["model"]))
    fig, axes = _figure(1, len(models), width=4.8, height=0.28 * top + 1.2)
    for ax, model in zip(axes.flat, models):
        stats = table[table["model"] == model].groupby("feature")["importance"].agg(["mean", "std"])
        stats = stats.sort_values("mean", ascending=False).head(top).iloc[::-1]
        ax.barh(stats.index, stats["mean"], xerr=stats["std"].fillna(0), color="C4", capsize=2)
        ax.axvline(0, color="k", lw=0.6)
        ax.set(title=model, xlabel="Δ cluster RMSE when permuted (dex)")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def light_curves(clusters: pd.DataFrame, segments: pd.DataFrame, sector_light_curves: pd.DataFrame, periodograms: Periodograms,
                 examples: dict[str, str]) -> Figure:
    """Light curve (flux / median, first sector) and classic periodogram of each example cluster.

    Args:
        clusters: ``name, log_age`` (dex), for the titles.
        segments: to find each example's first ``sector`` segment.
        sector_light_curves: samples (``name, sector, time`` in BTJD d, ``flux`` in e/s).
        periodograms: bootstrap-median Lomb-Scargle power on frequency (1/d), per segment.
        examples: label (``young``, ``old``) -> cluster name, one row of panels each.
    """
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
            power = periodograms.rows([segment["segment_id"]])[0]
            axes[i, 1].plot(1 / periodograms.frequency, power, lw=0.8, color="C1")
            axes[i, 1].set(xscale="log", xlabel="period (d)", ylabel="LS power (bootstrap median)", title=f"{name}: periodogram")
            axes[i, 1].title.set_fontsize(9)
        except KeyError:
            axes[i, 1].set_title(f"{name}: no periodogram")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ independent ages (SPEC 8)
def external_figure_name(galaxy: str) -> str:
    """File name of the predicted-against-independent-age figure of ``galaxy``."""
    return f"against_independent_ages_{galaxy}.png"


def against_independent_ages(matches: pd.DataFrame, ours: pd.DataFrame, validation: pd.DataFrame, model: str, galaxy: str) -> Figure:
    """Our out-of-fold age (μ ± σ) and the label against an independent catalogue's age (dex), one panel per catalogue.

    Points on the dashed 1:1 line agree with the catalogue. The panel title gives the catalogue,
    the clusters compared and the RMSE of our ages and of the labels against it (all fold seeds,
    from ``external_validation.csv``).

    Args:
        matches: the galaxy's rows of :func:`tess_cluster_age.external.match_external`
            (``name, catalogue, catalogue_log_age``), at least one.
        ours: cluster-level out-of-fold rows of ``model`` in one fold seed (``name, log_age, mu, sigma``;
            ``log_age`` is the label).
        validation: the galaxy's rows of ``external_validation.csv`` for ``model`` (``catalogue, n, rmse, label_rmse``).
        model, galaxy: for the titles and legend.
    """
    lo, hi = LOG_AGE_RANGE
    catalogues = list(dict.fromkeys(matches["catalogue"]))
    fig, axes = _figure(1, len(catalogues), width=3.3, height=3.5, sharex=True, sharey=True)
    numbers = validation.set_index("catalogue")
    for ax, catalogue in zip(axes.flat, catalogues):
        rows = matches[matches["catalogue"] == catalogue].merge(ours[["name", "log_age", "mu", "sigma"]], on="name")
        ax.errorbar(rows["catalogue_log_age"], rows["mu"], yerr=rows["sigma"], fmt="o", ms=3, lw=0.6, alpha=0.7, color="C0",
                    label=f"{model} (out of fold)")
        ax.plot(rows["catalogue_log_age"], rows["log_age"], "s", ms=4, mfc="none", mew=0.9, color="C3", label="label")
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        title = f"{catalogue} ({len(rows)})"
        if catalogue in numbers.index:
            row = numbers.loc[catalogue]
            title += f"\nRMSE {row['rmse']:.2f} vs labels {row['label_rmse']:.2f} dex"
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel=f"{catalogue.split('_')[0]} log age (dex)")
        ax.set_title(title, fontsize=8)
    axes[0, 0].set_ylabel(f"{galaxy}: our age or label (dex)")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
