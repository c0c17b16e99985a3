"""Nodes of the ingestion pipeline: read, validate and cross-check every ELK cluster file.

Every problem is one row of the problem log (``ingestion_problems.csv``) with a stable reason
``code``; the report (``ingestion_report.json``) counts them by code. The codes, by ``level``:

- ``folder``: ``empty_folder`` (no file at all), ``symlink_loop`` (a link back to a folder
  already read), ``unlistable_folder``, ``no_readable_file`` (ELK files, none readable).
- ``file`` (the file is skipped): ``unreadable``, ``no_name``, ``no_sectors``,
  ``no_usable_sectors``, ``unknown_galaxy``, ``duplicate_name`` (the name is in several files
  with different content: none is kept), ``duplicate_identical`` (a byte-identical copy of a
  file that is kept). ``not_elk_file`` (outcome ``ignored``): a stray file such as ``.DS_Store``.
- ``sector`` (the sector is skipped): ``missing_columns``, ``no_sector_keyword``,
  ``empty_table``, ``no_finite_flux``, ``no_positive_flux``, ``no_positive_flux_err``,
  ``conflicting_samples``, ``duplicate_sector``.
- ``points`` (samples dropped and counted): ``invalid_samples``, ``duplicate_samples``,
  ``conflicting_samples``.
- ``header`` (the cluster is kept): ``no_log_age``, ``log_age_unparsable``,
  ``header_card_unparsable``, ``header_not_utf8``, ``n_good_mismatch``.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age.catalogues import catalogue_ages, published_ages
from tess_cluster_age.lightcurves import ClusterLightCurve, Issue, RawELKFile, validate_cluster

logger = logging.getLogger(__name__)

PROBLEM_COLUMNS = ["file", "name", "level", "sector", "outcome", "code", "reason", "n_points"]
"""Columns of the problem log: ``level`` is folder / file / sector / points / header, ``outcome``
is skipped / dropped / kept / ignored / empty, ``code`` the stable reason code (module docstring),
``reason`` the detail, ``n_points`` the samples concerned (``points`` level)."""


def _problem(file, name, level, sector, outcome, code, reason, n_points=0) -> dict[str, Any]:
    return dict(zip(PROBLEM_COLUMNS, [file, name, level, sector, outcome, code, reason, n_points]))


def _galaxy_of(partition_id: str) -> str:
    parts = partition_id.replace("\\", "/").split("/")
    return parts[0] if len(parts) > 1 else ""


def _folder_of(partition_id: str) -> str:
    return partition_id.replace("\\", "/").rpartition("/")[0]


def read_clusters(
    elk_files: dict[str, Callable[[], RawELKFile | Issue]], params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and validate every ELK file of the partitioned folder (one sub-folder per galaxy).

    Each problem gets a counted, logged outcome with a reason code (module docstring) and never
    stops the run: a file that is not FITS, is truncated, has no (usable) sector tables or sits
    outside a known galaxy folder is skipped; a cluster name found in several files is kept from
    none of them unless the files are byte-identical (then one is kept); a sector without
    ``time``/``flux``/``flux_err`` or with no usable sample is skipped; samples with a non-finite
    value or a non-positive flux or flux_err, and repeated timestamps, are dropped and counted. A
    missing or unparsable ``LOG_AGE`` keeps the cluster, unlabelled (it can be dated, not trained
    on). Files whose names are not ELK names (``.DS_Store``, a README) are listed as ignored, and a
    galaxy folder with no readable file is reported.

    Args:
        elk_files: partition id (``<galaxy>/<file name>``) -> loader of the raw file; an id ending
            in ``/`` is a folder with no file, whose loader returns the :class:`Issue`
            (see :class:`~tess_cluster_age.datasets.ELKFolderDataset`).
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
    candidates: list[tuple[str, ClusterLightCurve]] = []
    readable: Counter[str] = Counter()  # folder -> files that could be read
    partition_ids = sorted(elk_files)
    logger.info("Reading %d files", len(partition_ids))
    for count, partition_id in enumerate(partition_ids, start=1):
        if count % log_every == 0:
            logger.info("Read %d/%d files", count, len(partition_ids))
        if partition_id.endswith("/"):
            issue = elk_files[partition_id]()
            problems.append(_problem(partition_id.rstrip("/"), None, "folder", None, "empty", issue.code, issue.message))
            continue
        if not partition_id.endswith(suffixes):
            problems.append(_problem(partition_id, None, "file", None, "ignored", "not_elk_file",
                                     "not an ELK file name (expected " + " or ".join(suffixes) + ")"))
            continue
        galaxy = _galaxy_of(partition_id)
        if galaxy not in galaxies:
            problems.append(_problem(partition_id, None, "file", None, "skipped", "unknown_galaxy",
                                     f"unknown galaxy folder {galaxy!r} (known: {', '.join(sorted(galaxies))})"))
            continue
        folder = _folder_of(partition_id)
        readable.setdefault(folder, 0)  # a folder of ELK files, none read yet
        try:
            raw = elk_files[partition_id]()
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the run
            problems.append(_problem(partition_id, None, "file", None, "skipped", "unreadable", f"unreadable: {exc}"))
            continue
        readable[folder] += 1
        cluster, issue = validate_cluster(raw, galaxy)
        if cluster is None:
            name = raw.header.get("NAME")
            problems.append(_problem(partition_id, name if isinstance(name, str) else None, "file", None, "skipped",
                                     issue.code, issue.message))
            continue
        candidates.append((partition_id, cluster))
    kept, duplicate_problems = _resolve_duplicate_names(candidates)
    problems += duplicate_problems
    clusters = []
    for partition_id, cluster in kept:
        problems += _cluster_problems(partition_id, cluster)
        clusters.append(cluster)
    for folder, n_readable in sorted(readable.items()):
        if n_readable == 0:
            problems.append(_problem(folder, None, "folder", None, "empty", "no_readable_file",
                                     "folder holds ELK files but none could be read"))
    for problem in problems:
        log = logger.info if problem["outcome"] == "ignored" else logger.warning
        log("%s: %s, %s: %s%s", problem["file"], problem["outcome"], problem["code"], problem["reason"],
            f" (sector {problem['sector']})" if problem["sector"] is not None else "")
    logger.info("Read %d clusters, skipped %d files, ignored %d", len(clusters),
                sum(p["level"] == "file" and p["outcome"] == "skipped" for p in problems),
                sum(p["outcome"] == "ignored" for p in problems))
    return (_cluster_table(clusters), _sector_table(clusters), _sample_table(clusters),
            pd.DataFrame(problems, columns=PROBLEM_COLUMNS))


def _resolve_duplicate_names(
    candidates: list[tuple[str, ClusterLightCurve]],
) -> tuple[list[tuple[str, ClusterLightCurve]], list[dict[str, Any]]]:
    """Keep each cluster name once, without guessing which file is right.

    A name found in several files is kept from none of them (``duplicate_name``, each row naming
    the other files), unless every copy is byte-identical (same decompressed FITS bytes, same
    galaxy folder): then the first in path order is kept and the others are skipped (all rows
    ``duplicate_identical``, outcome kept or skipped).

    Returns:
        (kept (partition id, cluster) pairs in the input order, problem rows).
    """
    by_name: dict[str, list[tuple[str, ClusterLightCurve]]] = defaultdict(list)
    for partition_id, cluster in candidates:
        by_name[cluster.name].append((partition_id, cluster))
    kept, problems = [], []
    for partition_id, cluster in candidates:
        copies = by_name[cluster.name]
        if len(copies) == 1:
            kept.append((partition_id, cluster))
            continue
        first_id, first = copies[0]
        others = ", ".join(p for p, _ in copies if p != partition_id)
        identical = all(c.sha256 and c.sha256 == first.sha256 and c.galaxy == first.galaxy for _, c in copies)
        if identical and partition_id == first_id:
            kept.append((partition_id, cluster))
            problems.append(_problem(partition_id, cluster.name, "file", None, "kept", "duplicate_identical",
                                     f"kept; byte-identical copies skipped: {others}"))
        elif identical:
            problems.append(_problem(partition_id, cluster.name, "file", None, "skipped", "duplicate_identical",
                                     f"byte-identical copy of {first_id}, which is kept"))
        else:
            problems.append(_problem(partition_id, cluster.name, "file", None, "skipped", "duplicate_name",
                                     f"cluster name {cluster.name!r} is also in {others} with different content: "
                                     "no copy is kept"))
    return kept, problems


def _cluster_problems(partition_id: str, cluster: ClusterLightCurve) -> list[dict[str, Any]]:
    """Problem rows of a kept cluster: skipped sectors, dropped samples, header notes."""
    name = cluster.name
    rows = [_problem(partition_id, name, "sector", sector, "skipped", issue.code, f"HDU {hdu}: {issue.message}")
            for hdu, sector, issue in cluster.sector_problems]
    for sector in cluster.sectors:
        for code, count, reason in (
            ("invalid_samples", sector.n_invalid, "non-finite time, flux or flux_err, or non-positive flux or flux_err"),
            ("duplicate_samples", sector.n_duplicates, "exact repeat of an earlier sample (time, flux, flux_err)"),
            ("conflicting_samples", sector.n_conflicting, "samples sharing a time with different flux or flux_err"),
        ):
            if count:
                rows.append(_problem(partition_id, name, "points", sector.sector, "dropped", code, reason, count))
    rows += [_problem(partition_id, name, "header", None, "kept", issue.code, issue.message)
             for issue in cluster.header_issues]
    n_tables = len(cluster.sectors) + len(cluster.sector_problems)
    if cluster.n_good is not None and cluster.n_good != n_tables:
        rows.append(_problem(partition_id, name, "header", None, "kept", "n_good_mismatch",
                             f"N_GOOD = {cluster.n_good} but the file has {n_tables} sector tables"))
    return rows


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
