"""Nodes of the ingestion pipeline: read, validate and cross-check every ELK cluster file.

The science is in plain modules: reading and validation in :mod:`tess_cluster_age.reading`
(:func:`~tess_cluster_age.reading.read_elk_partitions`, whose docstring lists every problem code),
the tables in :mod:`tess_cluster_age.lightcurves`, the catalogue matches in
:mod:`tess_cluster_age.catalogues`. Every problem is one row of the problem log
(``ingestion_problems.csv``) with a stable reason ``code``; the report (``ingestion_report.json``)
counts them by code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd

from tess_cluster_age.catalogues import ages_agree, catalogue_ages, published_ages
from tess_cluster_age.config import IngestionConfig
from tess_cluster_age.lightcurves import Issue, RawELKFile, cluster_table, sample_table, sector_table
from tess_cluster_age.reading import PROBLEM_COLUMNS, read_elk_partitions

logger = logging.getLogger(__name__)

__all__ = ["PROBLEM_COLUMNS", "build_ingestion_report", "cross_check_ages", "read_clusters"]
# PROBLEM_COLUMNS is re-exported for the modules that still import it from here (dating).


def read_clusters(
    elk_files: dict[str, Callable[[], RawELKFile | Issue]], params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and validate every ELK file of the partitioned folder (one sub-folder per galaxy).

    Problems never stop the run; each gets a counted, logged outcome with a reason code
    (:func:`tess_cluster_age.reading.read_elk_partitions`).

    Args:
        elk_files: partition id (``<galaxy>/<file name>``) -> loader of the raw file; an id ending
            in ``/`` is a folder with no file, whose loader returns the :class:`Issue`
            (see :class:`~tess_cluster_age.datasets.ELKFolderDataset`).
        params: the ``ingestion`` parameters (:class:`~tess_cluster_age.config.IngestionConfig`:
            ``galaxies``, ``file_suffixes``, ``log_every`` are used here).

    Returns:
        clusters: one row per usable cluster (``name, galaxy, log_age, ra, dec, radius_deg,
            n_obs, n_good, n_sectors, n_points, n_dropped, file``).
        sectors: one row per usable sector: ``name, hdu, sector, n_points, n_dropped, cadence_s,
            time_start, time_end`` (s, BTJD d).
        samples: one row per light-curve sample, clusters and sectors in file (HDU) order:
            ``name, sector, hdu, time, flux, flux_err, cadence_s`` (BTJD d, e/s, e/s, s).
        problems: one row per problem met (see ``PROBLEM_COLUMNS``).
    """
    read = read_elk_partitions(elk_files, IngestionConfig.from_params(params))
    clusters = list(read.clusters)
    return cluster_table(clusters), sector_table(clusters), sample_table(clusters), read.problems


def cross_check_ages(
    clusters: pd.DataFrame,
    published_sector_table: pd.DataFrame,
    mw_catalogue: pd.DataFrame,
    lmc_catalogue: pd.DataFrame,
    smc_catalogue: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """Add the literature ages that the header ``LOG_AGE`` should agree with.

    Args:
        clusters: output of :func:`read_clusters`.
        published_sector_table: Wainer et al. 2023 per-sector table (``name``, ``Lit_Clst_Age``).
        mw_catalogue, lmc_catalogue, smc_catalogue: the age catalogues (Use_MW, Glatt et al.
            2010, Bica et al. 2008).
        params: the ``ingestion`` parameters (``catalogue_columns``: galaxy -> column names,
            ``max_separation_arcmin``, ``age_tolerance_dex`` are used here).

    Returns:
        A copy of ``clusters`` with ``published_log_age``, ``catalogue_name``,
        ``catalogue_sep_arcmin``, ``catalogue_log_age`` and ``age_agrees`` (True when every
        available reference age is within ``age_tolerance_dex`` of ``log_age``; NA when the
        cluster has no header age or no reference age). Clusters without a header age are not
        looked up at all: their reference columns stay empty.
    """
    config = IngestionConfig.from_params(params)
    # Only clusters with a header age are looked up: a cluster without one is to be dated, and its
    # literature age must never enter the project's tables (it would be one fillna from a label).
    labelled = clusters[clusters["log_age"].notna()]
    out = clusters.copy()
    out["published_log_age"] = published_ages(labelled, published_sector_table).reindex(clusters.index)
    matched = catalogue_ages(
        labelled,
        {"MW": mw_catalogue, "LMC": lmc_catalogue, "SMC": smc_catalogue},
        config.catalogue_columns,
        config.max_separation_arcmin,
    )
    out = pd.concat([out, matched.reindex(clusters.index)], axis=1)
    out["age_agrees"] = ages_agree(out["log_age"], out[["published_log_age", "catalogue_log_age"]], config.age_tolerance_dex)
    n_disagree = int((~out["age_agrees"].fillna(True)).sum())
    if n_disagree:
        logger.warning("%d clusters: header LOG_AGE disagrees with the published tables or catalogues", n_disagree)
    return out


def build_ingestion_report(clusters: pd.DataFrame, sectors: pd.DataFrame, problems: pd.DataFrame) -> dict[str, Any]:
    """Summarise ingestion as a JSON-ready dictionary.

    Args:
        clusters: cross-checked cluster table.
        sectors: sector table.
        problems: problem log from :func:`read_clusters`.

    Returns:
        Counts read, skipped and dropped, by reason code (the per-file detail is in the problem
        log); the files ignored, the folders without a readable file and the duplicate cluster
        names with their files; per-galaxy counts; cadence mix; and every cluster whose header age
        disagrees with, or is missing from, the published tables and catalogues.
    """
    files = problems[problems["level"] == "file"]
    skipped_files = files[files["outcome"] == "skipped"]
    ignored_files = files[files["outcome"] == "ignored"]
    skipped_sectors = problems[problems["level"] == "sector"]
    dropped = problems[problems["level"] == "points"]
    header = problems[problems["level"] == "header"]
    folders = problems[problems["level"] == "folder"].sort_values("file")
    duplicates = files[files["code"].isin(["duplicate_name", "duplicate_identical"])]
    cadence = sectors["cadence_s"].round(-1)
    disagreements = clusters[clusters["age_agrees"].eq(False).fillna(False)]
    no_reference = clusters[clusters["age_agrees"].isna() & clusters["log_age"].notna()]

    def code_counts(frame: pd.DataFrame, weights: str | None = None) -> dict[str, int]:
        counts = frame.groupby("code")[weights].sum() if weights else frame["code"].value_counts()
        return {str(k): int(v) for k, v in counts.sort_values(ascending=False, kind="stable").items()}

    return {
        "files_found": int(len(clusters) + len(skipped_files)),
        "clusters_read": int(len(clusters)),
        "files_skipped": int(len(skipped_files)),
        "files_skipped_by_reason": code_counts(skipped_files),
        "skipped_files": skipped_files[["file", "code", "reason"]].to_dict("records"),
        "files_ignored": ignored_files["file"].tolist(),
        "folders_without_clusters": folders[["file", "code", "reason"]].rename(columns={"file": "folder"}).to_dict("records"),
        "duplicate_names": {
            str(name): {"outcome": "identical copies: one kept" if (rows["code"] == "duplicate_identical").all()
                        else "different content: none kept", "files": sorted(rows["file"])}
            for name, rows in duplicates.groupby("name", sort=True)
        },
        "sectors_read": int(clusters["n_sectors"].sum()),
        "sectors_skipped": int(len(skipped_sectors)),
        "sectors_skipped_by_reason": code_counts(skipped_sectors),
        "points_read": int(sectors["n_points"].sum()),
        "points_dropped": int(dropped["n_points"].sum()),
        "points_dropped_by_reason": code_counts(dropped, "n_points"),
        "clusters_without_log_age": clusters.loc[clusters["log_age"].isna(), "name"].tolist(),
        "header_notes_by_reason": code_counts(header),
        "per_galaxy": {
            str(g): {"clusters": int(len(rows)), "sectors": int(rows["n_sectors"].sum()), "points": int(rows["n_points"].sum())}
            for g, rows in clusters.groupby("galaxy")
        },
        "sectors_by_cadence_s": {str(int(k)): int(v) for k, v in cadence.value_counts().sort_index().items()},
        "age_cross_check": {
            "agree": int(clusters["age_agrees"].eq(True).sum()),
            "disagree": int(len(disagreements)),
            "no_reference_age": int(len(no_reference)),
            "disagreements": disagreements[
                ["name", "galaxy", "log_age", "published_log_age", "catalogue_name", "catalogue_log_age"]
            ].to_dict("records"),
            "without_reference": no_reference[["name", "galaxy", "log_age"]].to_dict("records"),
        },
        "header_notes": header[["file", "code", "reason"]].to_dict("records"),
    }
