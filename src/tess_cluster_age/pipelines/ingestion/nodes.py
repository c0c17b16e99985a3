"""Nodes of the ingestion pipeline: read, validate and cross-check every ELK cluster file."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age.catalogues import catalogue_ages, published_ages
from tess_cluster_age.lightcurves import ClusterLightCurve, RawELKFile, validate_cluster

logger = logging.getLogger(__name__)

PROBLEM_COLUMNS = ["file", "name", "level", "sector", "outcome", "reason", "n_points"]
"""Columns of the problem log: ``level`` is file / sector / points / header, ``outcome`` is
skipped / dropped / kept."""


def _problem(file, name, level, sector, outcome, reason, n_points=0) -> dict[str, Any]:
    return dict(zip(PROBLEM_COLUMNS, [file, name, level, sector, outcome, reason, n_points]))


def _galaxy_of(partition_id: str) -> str:
    parts = partition_id.replace("\\", "/").split("/")
    return parts[0] if len(parts) > 1 else ""


def read_clusters(
    elk_files: dict[str, Callable[[], RawELKFile]], params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and validate every ELK file of the partitioned folder (one sub-folder per galaxy).

    Each problem gets a counted, logged outcome and never stops the run: a file that is not
    FITS, is truncated, has no (usable) sector tables, sits outside a known galaxy folder, or
    repeats a cluster name already read is skipped; a sector without ``time``/``flux``/``flux_err``
    or with no usable sample is skipped; samples with a non-finite value or a non-positive flux or
    flux_err are dropped and counted. A missing
    ``LOG_AGE`` keeps the cluster (it can be dated, not trained on).

    Args:
        elk_files: partition id (``<galaxy>/<file name>``) -> loader of the raw file.
        params: ``galaxies`` (known folder names), ``file_suffixes`` (names accepted as ELK
            files), ``log_every`` (progress message interval, files).

    Returns:
        clusters: one row per usable cluster (``name, galaxy, log_age, ra, dec, radius_deg,
            n_obs, n_good, n_sectors, n_points, n_dropped, file``).
        sectors: one row per usable sector: ``name, hdu, sector, n_points, n_dropped, cadence_s,
            time_start, time_end`` (s, BTJD d).
        samples: one row per light-curve sample, clusters and sectors in file (HDU) order:
            ``name, sector, hdu, time, flux, flux_err, cadence_s`` (BTJD d, e/s, e/s, s).
        problems: one row per problem met (see ``PROBLEM_COLUMNS``).
    """
    galaxies = set(params["galaxies"])
    suffixes = tuple(params["file_suffixes"])
    log_every = int(params.get("log_every", 50))
    problems: list[dict[str, Any]] = []
    clusters: list[ClusterLightCurve] = []
    seen: dict[str, str] = {}
    partition_ids = sorted(elk_files)
    logger.info("Reading %d files", len(partition_ids))
    for count, partition_id in enumerate(partition_ids, start=1):
        if count % log_every == 0:
            logger.info("Read %d/%d files", count, len(partition_ids))
        if not partition_id.endswith(suffixes):
            problems.append(_problem(partition_id, None, "file", None, "skipped", "not an ELK file name (expected " + " or ".join(suffixes) + ")"))
            continue
        galaxy = _galaxy_of(partition_id)
        if galaxy not in galaxies:
            problems.append(_problem(partition_id, None, "file", None, "skipped", f"unknown galaxy folder {galaxy!r} (known: {', '.join(sorted(galaxies))})"))
            continue
        try:
            raw = elk_files[partition_id]()
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the run
            problems.append(_problem(partition_id, None, "file", None, "skipped", f"unreadable: {exc}"))
            continue
        cluster, reason = validate_cluster(raw, galaxy)
        name = cluster.name if cluster else raw.header.get("NAME")
        if cluster is None:
            problems.append(_problem(partition_id, name, "file", None, "skipped", reason))
            continue
        if name in seen:
            problems.append(_problem(partition_id, name, "file", None, "skipped", f"duplicate cluster name (already read from {seen[name]})"))
            continue
        seen[name] = partition_id
        for hdu, sector, sector_reason in cluster.sector_problems:
            problems.append(_problem(partition_id, name, "sector", sector, "skipped", f"HDU {hdu}: {sector_reason}"))
        for sector in cluster.sectors:
            if sector.n_dropped:
                problems.append(_problem(partition_id, name, "points", sector.sector, "dropped", "non-finite time, flux or flux_err, or non-positive flux or flux_err", sector.n_dropped))
        if cluster.log_age is None:
            problems.append(_problem(partition_id, name, "header", None, "kept", "no LOG_AGE (unlabelled: can be dated, not trained on)"))
        n_tables = len(cluster.sectors) + len(cluster.sector_problems)
        if cluster.n_good is not None and cluster.n_good != n_tables:
            problems.append(_problem(partition_id, name, "header", None, "kept", f"N_GOOD = {cluster.n_good} but the file has {n_tables} sector tables"))
        clusters.append(cluster)
    for problem in problems:
        logger.warning("%s: %s %s%s", problem["file"], problem["outcome"], problem["reason"],
                       f" (sector {problem['sector']})" if problem["sector"] is not None else "")
    logger.info("Read %d clusters, skipped %d files", len(clusters),
                sum(p["level"] == "file" for p in problems))
    return (_cluster_table(clusters), _sector_table(clusters), _sample_table(clusters),
            pd.DataFrame(problems, columns=PROBLEM_COLUMNS))


def _cluster_table(clusters: list[ClusterLightCurve]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [c.name for c in clusters],
            "galaxy": [c.galaxy for c in clusters],
            "log_age": np.array([np.nan if c.log_age is None else c.log_age for c in clusters], float),
            "ra": np.array([c.ra_deg for c in clusters], float),
            "dec": np.array([c.dec_deg for c in clusters], float),
            "radius_deg": np.array([c.radius_deg for c in clusters], float),
            "n_obs": pd.array([c.n_obs for c in clusters], dtype="Int64"),
            "n_good": pd.array([c.n_good for c in clusters], dtype="Int64"),
            "n_sectors": np.array([len(c.sectors) for c in clusters], dtype=np.int64),
            "n_points": np.array([c.n_points for c in clusters], dtype=np.int64),
            "n_dropped": np.array([sum(s.n_dropped for s in c.sectors) for c in clusters], dtype=np.int64),
            "file": [c.file for c in clusters],
        }
    )


def _sector_table(clusters: list[ClusterLightCurve]) -> pd.DataFrame:
    rows = [(c.name, s.hdu, s.sector, s.n_points, s.n_dropped, s.cadence_s, float(s.time_btjd[0]), float(s.time_btjd[-1]))
            for c in clusters for s in c.sectors]
    return pd.DataFrame(rows, columns=["name", "hdu", "sector", "n_points", "n_dropped", "cadence_s", "time_start", "time_end"])


def _sample_table(clusters: list[ClusterLightCurve]) -> pd.DataFrame:
    sectors = [(c.name, s.hdu, s) for c in clusters for s in c.sectors]
    sizes = np.array([s.n_points for _, _, s in sectors], dtype=np.int64)

    def column(values, dtype):
        return np.repeat(np.asarray(values, dtype=dtype), sizes) if sectors else np.array([], dtype=dtype)

    def concat(attribute):
        return np.concatenate([getattr(s, attribute) for _, _, s in sectors]) if sectors else np.array([], float)

    names = [c.name for c in clusters]
    code = {name: i for i, name in enumerate(names)}
    return pd.DataFrame(
        {
            # categorical: one string per cluster, not per sample (parquet stores it as a dictionary)
            "name": pd.Categorical.from_codes(column([code[n] for n, _, _ in sectors], np.int32), categories=names)
            if sectors else pd.Categorical([], categories=names),
            "sector": column([s.sector for _, _, s in sectors], np.int32),
            "hdu": column([hdu for _, hdu, _ in sectors], np.int32),
            "time": concat("time_btjd"),
            "flux": concat("flux_e_per_s"),
            "flux_err": concat("flux_err_e_per_s"),
            "cadence_s": column([s.cadence_s for _, _, s in sectors], np.float64),
        }
    )


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
        params: ``catalogue_columns`` (galaxy -> column names), ``max_separation_arcmin``,
            ``age_tolerance_dex``.

    Returns:
        A copy of ``clusters`` with ``published_log_age``, ``catalogue_name``,
        ``catalogue_sep_arcmin``, ``catalogue_log_age`` and ``age_agrees`` (True when every
        available reference age is within ``age_tolerance_dex`` of ``log_age``; NA when the
        cluster has no header age or no reference age). Clusters without a header age are not
        looked up at all: their reference columns stay empty.
    """
    # Only clusters with a header age are looked up: a cluster without one is to be dated, and its
    # literature age must never enter the project's tables (it would be one fillna from a label).
    labelled = clusters[clusters["log_age"].notna()]
    out = clusters.copy()
    out["published_log_age"] = published_ages(labelled, published_sector_table).reindex(clusters.index)
    matched = catalogue_ages(
        labelled,
        {"MW": mw_catalogue, "LMC": lmc_catalogue, "SMC": smc_catalogue},
        params["catalogue_columns"],
        float(params["max_separation_arcmin"]),
    )
    out = pd.concat([out, matched.reindex(clusters.index)], axis=1)
    tolerance = float(params["age_tolerance_dex"])
    references = out[["published_log_age", "catalogue_log_age"]].to_numpy(float)
    difference = np.abs(references - out["log_age"].to_numpy(float)[:, None])
    has_reference = np.isfinite(difference).any(axis=1)
    agrees = np.where(np.isfinite(difference), difference <= tolerance, True).all(axis=1)
    out["age_agrees"] = pd.array(np.where(has_reference, agrees, None), dtype="boolean")
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
        Counts read and skipped (by reason), per-galaxy counts, cadence mix, and every cluster
        whose header age disagrees with, or is missing from, the published tables and catalogues.
    """
    skipped_files = problems[problems["level"] == "file"]
    skipped_sectors = problems[problems["level"] == "sector"]
    dropped = problems[problems["level"] == "points"]
    cadence = sectors["cadence_s"].round(-1)
    disagreements = clusters[clusters["age_agrees"].eq(False).fillna(False)]
    no_reference = clusters[clusters["age_agrees"].isna() & clusters["log_age"].notna()]

    def reason_counts(frame: pd.DataFrame) -> dict[str, int]:
        return {str(k): int(v) for k, v in Counter(frame["reason"].str.replace(r"^HDU \d+: ", "", regex=True)).most_common()}

    return {
        "files_found": int(len(clusters) + len(skipped_files)),
        "clusters_read": int(len(clusters)),
        "files_skipped": int(len(skipped_files)),
        "files_skipped_by_reason": reason_counts(skipped_files),
        "skipped_files": skipped_files[["file", "reason"]].to_dict("records"),
        "sectors_read": int(clusters["n_sectors"].sum()),
        "sectors_skipped": int(len(skipped_sectors)),
        "sectors_skipped_by_reason": reason_counts(skipped_sectors),
        "points_read": int(sectors["n_points"].sum()),
        "points_dropped": int(dropped["n_points"].sum()),
        "clusters_without_log_age": clusters.loc[clusters["log_age"].isna(), "name"].tolist(),
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
        "header_notes": problems[problems["level"] == "header"][["file", "reason"]].to_dict("records"),
    }
