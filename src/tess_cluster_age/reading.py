"""Reading star-cluster light curves: ELK files, TESS light-curve files, tables and in-memory objects.

**What the models can date.** The models of this project learned from ELK integrated light curves
(Wainer et al. 2023): the summed flux of every star inside an aperture over the whole cluster, in
each TESS sector. Another light curve is meaningful to them only if it is an integrated light
curve of the cluster made the same way: with the ``elk`` package, or with an aperture that covers
the whole cluster. A single star's light curve (a SPOC or TESS-SPOC light curve of one TIC
target, say) is not one, and an age dated from it means nothing, even though it is read here
without complaint. A normalised flux (QLP's, or lightkurve's ``normalize()``) is not one either:
the models use the flux level in e/s. The out-of-range flag of dating is the only warning such a
light curve gets.

**One validation for every format.** Every reader here builds the raw objects of ELK ingestion
(:class:`~tess_cluster_age.lightcurves.RawELKFile` with one
:class:`~tess_cluster_age.lightcurves.RawSectorTable` per sector, columns ``time`` (BTJD, d),
``flux`` and ``flux_err`` (e/s)) and validates them with
:func:`~tess_cluster_age.lightcurves.validate_cluster`, so that non-finite, non-positive, unsorted,
repeated and conflicting samples are treated, and counted, exactly as in training. The result,
:class:`LightCurves`, holds validated :class:`~tess_cluster_age.lightcurves.ClusterLightCurve`
objects and the problem rows; its tables are those ingestion writes.

Formats (:func:`read_light_curves` for files and folders, :func:`read_partitions` for the loaders
of a Kedro folder dataset, :func:`as_light_curves` for objects; :func:`read_elk_partitions` is
ingestion's reader of the training folder, ELK files only):

- **ELK files** (``.fits``, ``.fits.gz``): recognised by a primary header holding one of
  :data:`ELK_KEYWORDS`; read by :func:`~tess_cluster_age.lightcurves.read_elk_file`.
- **TESS light-curve FITS files** (SPOC, TESS-SPOC, QLP, lightkurve's ``to_fits``, or an astropy
  table written to FITS): every table HDU with a ``TIME`` column and a flux column with its error
  is one sector. The flux is the first pair of :data:`FLUX_COLUMNS` present. ``SECTOR`` is read
  from the table header, else the primary header. ``TIME`` is taken as BTJD unless its unit says
  JD or MJD or ``BJDREFI + BJDREFF`` differs from 2457000. No ``QUALITY`` mask is applied: flagged
  cadences are kept unless their flux is NaN (mask them first and pass the object). The name is
  ``OBJECT``, else ``TIC <TICID>``, else the file name. These products hold one sector per file:
  the files of one object (same name, same galaxy) make one cluster, their sectors in sector order.
- **CSV or ECSV tables** (``.csv``, ``.ecsv``, read with astropy's ``Table.read``): columns
  ``time`` (BTJD d, or an astropy ``Time`` in ECSV), ``flux``, ``flux_err`` (e/s) and an optional
  ``sector``; one cluster per file, named by the meta ``NAME``/``OBJECT`` or else by the file name.
- **Objects** (by interface; nothing here imports lightkurve): an astropy ``Table``/``QTable``/
  ``TimeSeries`` or a lightkurve-like ``LightCurve`` (columns ``time``, ``flux``, ``flux_err``,
  ``meta`` with ``SECTOR``, ``OBJECT``), a pandas ``DataFrame``, a mapping of column name to
  array, an iterable of such tables (a ``LightCurveCollection``: one cluster, each table a
  sector), a mapping of cluster name to any of these, or a tuple of arrays
  ``(time, flux, flux_err[, sector])``.

Column names are matched case-insensitively. Units: a ``time`` that is an astropy ``Time`` is
converted to BTJD = JD(TDB) - 2457000; a time ``Quantity`` is converted to days; plain numbers
are BTJD days. A flux (and its error) with a unit is converted to e/s (FITS ``e-/s`` included);
one that cannot be (``Jy``, ``mag`` ...) is refused; plain numbers are e/s. A light curve without
a sector number is numbered by its position (1, 2, ...), with a note.

**Problems.** Every problem is a row of the problem table (:data:`PROBLEM_COLUMNS`, built by
:func:`problem_row`) with a stable reason ``code``. The codes, by ``level``:

- ``folder``: ``empty_folder`` (no file at all), ``symlink_loop`` (a link back to a folder
  already read), ``unlistable_folder``, ``no_readable_file`` (light-curve files, none readable).
- ``file`` (the file is skipped): ``unreadable``, ``no_name``, ``no_sectors``,
  ``no_usable_sectors``, ``unknown_galaxy`` (ingestion: not in a galaxy folder), ``no_galaxy``
  (reading: not in a galaxy folder and no galaxy given), ``duplicate_name`` (the name is in several
  files with different content: none is kept), ``duplicate_identical`` (a byte-identical copy of a
  file that is kept), ``not_found``, ``unknown_format`` (a file named alone whose name is not one
  read), ``not_a_light_curve`` (a FITS file that is neither ELK nor a TESS light curve: the
  message lists the formats read), ``missing_columns`` (a table without a needed column: the
  message names it), ``bad_sector_column``, ``flux_unit``, ``normalized_flux``. Outcome
  ``ignored``: ``not_elk_file`` (ingestion) or ``not_light_curve_file`` (reading), a stray file in
  a folder such as ``.DS_Store``.
- ``sector`` (the sector is skipped): ``missing_columns``, ``no_sector_keyword``,
  ``empty_table``, ``no_finite_flux``, ``no_positive_flux``, ``no_positive_flux_err``,
  ``conflicting_samples``, ``duplicate_sector``.
- ``points`` (samples dropped and counted): ``invalid_samples``, ``duplicate_samples``,
  ``conflicting_samples``.
- ``header`` (the cluster is kept): ``no_log_age``, ``log_age_unparsable``,
  ``header_card_unparsable``, ``header_not_utf8``, ``n_good_mismatch``, ``no_sector_number``.

**Strict and lenient.** One code path serves both. Lenient (ingestion, the command line, the
``predict`` pipeline) lists every problem and goes on. Strict (the Python API) raises
:class:`LightCurveInputError` at the first problem that leaves an input unread (:func:`is_fatal`);
dropped samples, skipped sectors of a kept cluster and header notes never raise. A file named
alone is never reported through its folder: only folders that were listed get folder rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

from tess_cluster_age.config import IngestionConfig
from tess_cluster_age.lightcurves import (
    ClusterLightCurve,
    Issue,
    RawELKFile,
    RawSectorTable,
    _as_int,  # header values as ELK reads them (SECTOR)
    cluster_table,
    read_elk_file,
    sample_table,
    sector_table,
    validate_cluster,
)
from tess_cluster_age.schema import GALAXIES

logger = logging.getLogger(__name__)

BTJD_OFFSET_JD = 2457000.0
"""BTJD = BJD(TDB) - 2457000 d, the TESS time stamp (SPOC ``BJDREFI``)."""

MJD_OFFSET_JD = 2400000.5
"""MJD = JD - 2400000.5 d."""

ELK_KEYWORDS = ("NAME", "LOCATION", "LOG_AGE", "N_OBS", "N_GOOD")
"""Primary-header keywords that mark an ELK file (a TESS light-curve file has none of them)."""

FLUX_COLUMNS = (("flux", "flux_err"), ("pdcsap_flux", "pdcsap_flux_err"), ("kspsap_flux", "kspsap_flux_err"),
                ("sap_flux", "sap_flux_err"))
"""Flux columns with their errors, in order of preference (names matched case-insensitively).

``flux`` first: it is the flux the writer chose (ELK, lightkurve's ``to_fits``, an astropy table).
Then SPOC/TESS-SPOC ``PDCSAP_FLUX`` (corrected for systematics), QLP ``KSPSAP_FLUX`` (QLP's only
flux with an error column; normalised and detrended, so see the module docstring), and last
``SAP_FLUX`` (simple aperture photometry)."""

TABLE_SUFFIXES = (".csv", ".ecsv")
"""File names read as tables (astropy ``ascii.csv`` / ``ascii.ecsv``)."""

FORMATS_READ = ("ELK files (.fits/.fits.gz; primary header NAME, one table per sector with time, flux, flux_err); "
                "TESS light-curve FITS files (SPOC, TESS-SPOC, QLP, lightkurve to_fits: a table with TIME and a flux "
                "column with its error, e.g. PDCSAP_FLUX and PDCSAP_FLUX_ERR, SECTOR in a header); "
                "CSV or ECSV tables (time in BTJD days, flux and flux_err in e/s, optional sector)")
"""The formats read, as error messages list them."""

TABLE_COLUMNS_NEEDED = "a light-curve table needs time (BTJD d), flux and flux_err (e/s), and optionally sector"

# ------------------------------------------------------------------------------------ problems

PROBLEM_COLUMNS = ["file", "name", "level", "sector", "outcome", "code", "reason", "n_points"]
"""Columns of the problem table: ``level`` is folder / file / sector / points / header (dating adds
cluster / model), ``outcome`` is skipped / dropped / kept / ignored / empty, ``code`` the stable
reason code (module docstring), ``reason`` the detail, ``n_points`` the samples concerned
(``points`` level)."""

FATAL_FOLDER_CODES = frozenset({"empty_folder", "no_readable_file", "unlistable_folder"})
"""Folder codes that mean an input was not read (a symlink loop is a folder read once, not lost)."""


def problem_row(file: str | None, name: str | None, level: str, code: str, reason: str, *, outcome: str = "skipped",
                sector: int | None = None, n_points: int = 0) -> dict[str, Any]:
    """One row of the problem table (:data:`PROBLEM_COLUMNS`).

    Args:
        file: the input concerned (a path as given, a partition id, or an object's description).
        name: the cluster name, when known.
        level: folder / file / sector / points / header (or a level of dating: cluster, model).
        code: the stable reason code (module docstring).
        reason: the detail, for a person.
        outcome: skipped (default) / dropped / kept / ignored / empty.
        sector: the TESS sector concerned (sector and points levels).
        n_points: samples concerned (points level).
    """
    return dict(zip(PROBLEM_COLUMNS, [file, name, level, sector, outcome, code, reason, n_points]))


def is_fatal(row: Mapping[str, Any]) -> bool:
    """True when a problem row means an input was not read: a skipped file (other than the skipped
    byte-identical copy of a file that is read) or a folder with nothing read (empty, unlistable,
    or no readable file). Strict reading raises on these."""
    if row["level"] == "file":
        return row["outcome"] == "skipped" and row["code"] != "duplicate_identical"
    return row["level"] == "folder" and row["code"] in FATAL_FOLDER_CODES


class LightCurveInputError(ValueError):
    """An input that cannot be read as a cluster light curve; the message names the input and the problem.

    Attributes:
        input: the input (a path as given, or a description of an object or argument).
        problem: what is wrong with it, for a person.
        code: the stable reason code of the problem row (module docstring).
    """

    def __init__(self, input: str, problem: str, code: str = "unreadable"):  # noqa: A002 - the input the user named
        self.input = str(input)
        self.problem = problem
        self.code = code
        super().__init__(f"{self.input}: {problem}")


class _ProblemLog:
    """The problem rows of one read; in strict mode the first fatal row (:func:`is_fatal`) raises."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], cause: BaseException | None = None) -> None:
        self.rows.append(row)
        if self.strict and is_fatal(row):
            raise LightCurveInputError(row["file"], row["reason"], row["code"]) from cause

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=PROBLEM_COLUMNS)


# ------------------------------------------------------------------------------------ result


@dataclasses.dataclass(frozen=True)
class LightCurves:
    """Validated cluster light curves and the problems met while reading them.

    Attributes:
        clusters: one per cluster read, in input order (files of a folder in path order).
        problems: one row per problem (:data:`PROBLEM_COLUMNS`); empty when there was none.
    """

    clusters: tuple[ClusterLightCurve, ...]
    problems: pd.DataFrame

    def __len__(self) -> int:
        return len(self.clusters)

    def __iter__(self):
        return iter(self.clusters)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clusters]

    def cluster_table(self) -> pd.DataFrame:
        """One row per cluster, as ingestion writes it (:func:`~tess_cluster_age.lightcurves.cluster_table`)."""
        return cluster_table(list(self.clusters))

    def sector_table(self) -> pd.DataFrame:
        """One row per usable sector (:func:`~tess_cluster_age.lightcurves.sector_table`)."""
        return sector_table(list(self.clusters))

    def sample_table(self) -> pd.DataFrame:
        """One row per sample (:func:`~tess_cluster_age.lightcurves.sample_table`)."""
        return sample_table(list(self.clusters))


# ------------------------------------------------------------------------------------ the one code path


@dataclasses.dataclass(frozen=True)
class _Source:
    """One input to read: ``load`` returns it in the ELK layout (or raises)."""

    id: str
    load: Callable[[], RawELKFile]
    galaxy: str
    folder: str | None = None  # the listed folder it was found in; None when named alone


def _read_sources(items: Sequence[_Source | dict[str, Any]], problems: _ProblemLog, log_every: int,
                  what: str = "ELK files") -> LightCurves:
    """Load and validate every source; problem rows in ``items`` (met while listing) are kept in order.

    A source that raises is skipped (``unreadable``, or the code of a :class:`LightCurveInputError`);
    one that fails validation is skipped with its issue. TESS light-curve files (one sector each)
    of the same object and galaxy are one cluster (:func:`_merge_tess_files`), validated after the
    other sources. Cluster names found in several sources are resolved by
    :func:`_resolve_duplicate_names`. A listed folder whose sources all failed to load is reported
    (``no_readable_file``).
    """
    candidates: list[tuple[int, str, ClusterLightCurve]] = []  # (input position, id, cluster)
    readable: Counter[str] = Counter()  # listed folder -> files that could be read
    tess_files: dict[tuple[str, str], list[tuple[int, str, RawELKFile]]] = defaultdict(list)  # (name, galaxy) -> files
    logger.info("Reading %d files", len(items))
    for count, item in enumerate(items, start=1):
        if count % log_every == 0:
            logger.info("Read %d/%d files", count, len(items))
        if isinstance(item, dict):
            problems.add(item)
            continue
        if item.folder is not None:
            readable.setdefault(item.folder, 0)  # a folder of light-curve files, none read yet
        try:
            raw = item.load()
        except LightCurveInputError as exc:
            problems.add(problem_row(item.id, None, "file", exc.code, exc.problem), cause=exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the run
            problems.add(problem_row(item.id, None, "file", "unreadable", f"unreadable: {exc}"), cause=exc)
            continue
        if item.folder is not None:
            readable[item.folder] += 1
        if raw.file_format == "TESS FITS":
            tess_files[(raw.header["NAME"], item.galaxy)].append((count, item.id, raw))
            continue
        _validate(count, item.id, raw, item.galaxy, candidates, problems)
    for (_, galaxy), files in tess_files.items():
        source_id, raw = _merge_tess_files([(i, r) for _, i, r in files], problems)
        _validate(files[0][0], source_id, raw, galaxy, candidates, problems)
    candidates.sort(key=lambda candidate: candidate[0])  # input order (a merged cluster at its first file)
    kept, duplicate_problems = _resolve_duplicate_names([(i, c) for _, i, c in candidates])
    for row in duplicate_problems:
        problems.add(row)
    clusters = []
    for source_id, cluster in kept:
        for row in _cluster_problems(source_id, cluster):
            problems.add(row)
        clusters.append(cluster)
    for folder, n_readable in sorted(readable.items()):
        if n_readable == 0:
            problems.add(problem_row(folder, None, "folder", "no_readable_file", f"folder holds {what} but none could be read",
                                     outcome="empty"))
    for row in problems.rows:
        # a stray file, or a cluster without LOG_AGE (the normal case when dating), is no cause for a warning
        log = logger.info if row["outcome"] == "ignored" or row["code"] == "no_log_age" else logger.warning
        log("%s: %s, %s: %s%s", row["file"], row["outcome"], row["code"], row["reason"],
            f" (sector {row['sector']})" if row["sector"] is not None else "")
    logger.info("Read %d clusters, skipped %d files, ignored %d", len(clusters),
                sum(r["level"] == "file" and r["outcome"] == "skipped" for r in problems.rows),
                sum(r["outcome"] == "ignored" for r in problems.rows))
    return LightCurves(tuple(clusters), problems.table())


def _validate(position: int, source_id: str, raw: RawELKFile, galaxy: str,
              candidates: list[tuple[int, str, ClusterLightCurve]], problems: _ProblemLog) -> None:
    """Validate one raw cluster: append it to ``candidates``, or its problem row to ``problems``."""
    cluster, issue = validate_cluster(raw, galaxy)
    if cluster is None:
        name = raw.header.get("NAME")
        problems.add(problem_row(source_id, name if isinstance(name, str) else None, "file", issue.code, issue.message))
        return
    candidates.append((position, source_id, cluster))


def _merge_tess_files(files: list[tuple[str, RawELKFile]], problems: _ProblemLog) -> tuple[str, RawELKFile]:
    """One cluster from the TESS light-curve files of one object (SPOC, TESS-SPOC and QLP write one
    file per sector), as a ``LightCurveCollection`` is one: the sector tables of every file,
    ordered by sector number (as in an ELK file), numbered 1, 2, ...; a byte-identical copy of a
    file is skipped (``duplicate_identical``). Two files of one sector give a ``duplicate_sector``
    in validation (the first is kept).

    Returns:
        (the input id: the files' ids joined by ``; ``, the merged raw file).
    """
    if len(files) == 1:
        return files[0]
    unique: dict[str, tuple[str, RawELKFile]] = {}
    for source_id, raw in files:
        if raw.sha256 in unique:
            problems.add(problem_row(source_id, raw.header["NAME"], "file", "duplicate_identical",
                                     f"byte-identical copy of {unique[raw.sha256][0]}, which is kept"))
            continue
        unique[raw.sha256] = (source_id, raw)
    ids = [source_id for source_id, _ in unique.values()]
    raws = [raw for _, raw in unique.values()]
    tables = sorted((t for raw in raws for t in raw.tables), key=lambda t: (t.sector is None, t.sector or 0))
    first = raws[0]
    merged = dataclasses.replace(
        first, path="; ".join(raw.path for raw in raws),
        tables=[dataclasses.replace(t, hdu=index) for index, t in enumerate(tables, start=1)],
        sha256=hashlib.sha256("".join(raw.sha256 for raw in raws).encode()).hexdigest(),
        notes=tuple(note for raw in raws for note in raw.notes))
    return "; ".join(ids), merged


def _resolve_duplicate_names(
    candidates: list[tuple[str, ClusterLightCurve]],
) -> tuple[list[tuple[str, ClusterLightCurve]], list[dict[str, Any]]]:
    """Keep each cluster name once, without guessing which input is right.

    A name found in several inputs is kept from none of them (``duplicate_name``, each row naming
    the other inputs), unless every copy is byte-identical (same SHA-256 of the data, same galaxy):
    then the first is kept and the others are skipped (all rows ``duplicate_identical``, outcome
    kept or skipped).

    Returns:
        (kept (input id, cluster) pairs in the input order, problem rows).
    """
    by_name: dict[str, list[tuple[str, ClusterLightCurve]]] = defaultdict(list)
    for source_id, cluster in candidates:
        by_name[cluster.name].append((source_id, cluster))
    kept, problems = [], []
    for source_id, cluster in candidates:
        copies = by_name[cluster.name]
        if len(copies) == 1:
            kept.append((source_id, cluster))
            continue
        first_id, first = copies[0]
        others = ", ".join(p for p, _ in copies if p != source_id)
        identical = all(c.sha256 and c.sha256 == first.sha256 and c.galaxy == first.galaxy for _, c in copies)
        if identical and source_id == first_id:
            kept.append((source_id, cluster))
            problems.append(problem_row(source_id, cluster.name, "file", "duplicate_identical",
                                        f"kept; byte-identical copies skipped: {others}", outcome="kept"))
        elif identical:
            problems.append(problem_row(source_id, cluster.name, "file", "duplicate_identical",
                                        f"byte-identical copy of {first_id}, which is kept"))
        else:
            problems.append(problem_row(source_id, cluster.name, "file", "duplicate_name",
                                        f"cluster name {cluster.name!r} is also in {others} with different content: "
                                        "no copy is kept"))
    return kept, problems


def _cluster_problems(source_id: str, cluster: ClusterLightCurve) -> list[dict[str, Any]]:
    """Problem rows of a kept cluster: skipped sectors, dropped samples, header notes."""
    name = cluster.name
    part = "HDU" if cluster.file_format == "ELK" else "light curve"
    rows = [problem_row(source_id, name, "sector", issue.code, f"{part} {hdu}: {issue.message}", sector=sector)
            for hdu, sector, issue in cluster.sector_problems]
    for sector in cluster.sectors:
        for code, count, reason in (
            ("invalid_samples", sector.n_invalid, "non-finite time, flux or flux_err, or non-positive flux or flux_err"),
            ("duplicate_samples", sector.n_duplicates, "exact repeat of an earlier sample (time, flux, flux_err)"),
            ("conflicting_samples", sector.n_conflicting, "samples sharing a time with different flux or flux_err"),
        ):
            if count:
                rows.append(problem_row(source_id, name, "points", code, reason, outcome="dropped", sector=sector.sector,
                                        n_points=count))
    rows += [problem_row(source_id, name, "header", issue.code, issue.message, outcome="kept")
             for issue in cluster.header_issues]
    n_tables = len(cluster.sectors) + len(cluster.sector_problems)
    if cluster.n_good is not None and cluster.n_good != n_tables:
        rows.append(problem_row(source_id, name, "header", "n_good_mismatch",
                                f"N_GOOD = {cluster.n_good} but the file has {n_tables} sector tables", outcome="kept"))
    return rows


# ------------------------------------------------------------------------------------ ELK folders (ingestion)


def read_elk_partitions(partitions: Mapping[str, Callable[[], RawELKFile | Issue]],
                        config: IngestionConfig | None = None) -> LightCurves:
    """Read and validate every ELK file of a partitioned folder (one sub-folder per galaxy): the
    training data. Lenient: every problem is a row, none stops the read.

    Each problem gets a counted, logged outcome with a reason code (module docstring): a file that
    is not FITS, is truncated, has no (usable) sector tables or sits outside a known galaxy folder
    is skipped; a cluster name found in several files is kept from none of them unless the files
    are byte-identical (then one is kept); a sector without ``time``/``flux``/``flux_err`` or with
    no usable sample is skipped; samples with a non-finite value or a non-positive flux or
    flux_err, and repeated timestamps, are dropped and counted. A missing or unparsable
    ``LOG_AGE`` keeps the cluster, unlabelled (it can be dated, not trained on). Files whose names
    are not ELK names (``.DS_Store``, a README) are listed as ignored, and a galaxy folder with no
    readable file is reported.

    Args:
        partitions: partition id (``<galaxy>/<file name>``) -> loader of the raw file; an id ending
            in ``/`` is a folder with no file, whose loader returns the :class:`Issue`
            (see :class:`~tess_cluster_age.datasets.ELKFolderDataset`).
        config: ``galaxies`` (known folder names), ``file_suffixes`` (names accepted as ELK
            files), ``log_every`` (progress message interval, files); defaults when None.

    Returns:
        The clusters in partition-id order, and the problem rows.
    """
    config = config or IngestionConfig()
    suffixes = tuple(config.file_suffixes)
    items: list[_Source | dict[str, Any]] = []
    for partition_id in sorted(partitions):
        if partition_id.endswith("/"):
            issue = partitions[partition_id]()
            items.append(problem_row(partition_id.rstrip("/"), None, "folder", issue.code, issue.message, outcome="empty"))
            continue
        if not partition_id.endswith(suffixes):
            items.append(problem_row(partition_id, None, "file", "not_elk_file",
                                     "not an ELK file name (expected " + " or ".join(suffixes) + ")", outcome="ignored"))
            continue
        parts = partition_id.replace("\\", "/").split("/")
        galaxy = parts[0] if len(parts) > 1 else ""
        if galaxy not in config.galaxies:
            items.append(problem_row(partition_id, None, "file", "unknown_galaxy",
                                     f"unknown galaxy folder {galaxy!r} (known: {', '.join(sorted(config.galaxies))})"))
            continue
        items.append(_Source(partition_id, partitions[partition_id], galaxy, folder="/".join(parts[:-1])))
    return _read_sources(items, _ProblemLog(strict=False), config.log_every)


# ------------------------------------------------------------------------------------ files and folders


def list_folder(root: str) -> tuple[list[str], dict[str, Issue]]:
    """Every file under ``root``, following symlinked folders, each real folder read once.

    A symlinked folder (``LMC -> /data/elk/LMC``) is read like a real one; a link that leads back
    to a folder already read (a loop, or a second link to it) is not read again. A dangling link is
    listed as a file (its read then fails and is counted).

    Args:
        root: a local folder.

    Returns:
        files: paths of the files, sorted, as reached through ``root`` (links not resolved).
        folders: folder path relative to ``root`` (``/``-separated) -> :class:`Issue` for every
            folder that holds no file: ``empty_folder``, ``symlink_loop`` or ``unlistable_folder``.
    """
    files: list[str] = []
    notes: dict[str, Issue] = {}
    seen: dict[str, str] = {}

    def visit(folder: str, relative: str) -> int:
        real = os.path.realpath(folder)
        if real in seen:
            notes[relative] = Issue("symlink_loop", f"links to {real}, already read as {seen[real] or '.'}: not read again")
            return 0
        seen[real] = relative
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            notes[relative] = Issue("unlistable_folder", f"cannot list the folder ({exc.strerror or exc})")
            return 0
        found = 0
        for entry in entries:
            child = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=True):
                found += visit(entry.path, child)
            else:
                files.append(entry.path)
                found += 1
        if found == 0 and relative and relative not in notes:
            notes[relative] = Issue("empty_folder", "folder holds no file")
        return found

    visit(root, "")
    return sorted(files), notes


def check_galaxy(galaxy: str | None, galaxies: Sequence[str] = GALAXIES) -> None:
    """Raise :class:`LightCurveInputError` naming the allowed galaxies when ``galaxy`` is not None
    and not one of them (in strict and lenient reading alike: it is a usage error)."""
    if galaxy is not None and galaxy not in galaxies:
        raise LightCurveInputError(f"galaxy {galaxy!r}", f"not a known galaxy: use one of {', '.join(galaxies)}",
                                   "unknown_galaxy")


def no_galaxy_reason(galaxies: Sequence[str]) -> str:
    """Why an input without a galaxy is not read, and how to give one."""
    either = galaxies[0] if len(galaxies) == 1 else f"{', '.join(galaxies[:-1])} or {galaxies[-1]}"
    return (f"not in an {either} folder and no galaxy given: use galaxy= (Python), --galaxy (command line) or "
            "--params=predict.galaxy=... (kedro run)")


def _galaxy_of_path(path: str, galaxies: Sequence[str]) -> str | None:
    """The nearest enclosing folder of ``path`` (as given) named after a galaxy, or None."""
    folders = path.replace("\\", "/").split("/")[:-1]
    return next((f for f in reversed(folders) if f in galaxies), None)


def read_light_curves(paths: str | os.PathLike | Iterable[str | os.PathLike], galaxy: str | None = None, *,
                      strict: bool = True, config: IngestionConfig | None = None) -> LightCurves:
    """Read and validate the cluster light curves in files and folders, in any format read here.

    Folders are read recursively (symlinked folders followed, :func:`list_folder`); in a folder,
    files whose names are not light-curve names are listed as ignored. A file's galaxy is the
    nearest enclosing folder named after one (``MW``, ``LMC``, ``SMC``), else ``galaxy``. See the
    module docstring for the formats, and for what the models can date.

    Args:
        paths: a file or folder, or several.
        galaxy: the host galaxy of inputs that are not in a galaxy folder (one of ``config.galaxies``).
        strict: raise :class:`LightCurveInputError` at the first input that cannot be read (the
            Python API); False lists every problem and reads the rest (command line, pipelines).
        config: the ingestion parameters (``galaxies``, ``file_suffixes`` for ELK/FITS file names,
            ``log_every``); defaults when None. Dating passes those stored with the model.

    Returns:
        The clusters read, in input order, and the problem rows.

    Raises:
        LightCurveInputError: ``galaxy`` is not a known galaxy (always); in strict mode, the first
            input that cannot be read (its path and the reason).
    """
    config = config or IngestionConfig()
    check_galaxy(galaxy, config.galaxies)
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    items: list[_Source | dict[str, Any]] = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            files, notes = list_folder(path)
            for file in files:
                items.append(_file_item(file, galaxy, config, folder=os.path.dirname(file)))
            for folder, issue in notes.items():
                items.append(problem_row(os.path.join(path, folder) if folder else path.rstrip("/"), None, "folder",
                                         issue.code, issue.message, outcome="empty"))
            if not files and not notes:
                items.append(problem_row(path.rstrip("/") or path, None, "folder", "empty_folder", "folder holds no file",
                                         outcome="empty"))
        elif os.path.isfile(path):
            items.append(_file_item(path, galaxy, config, folder=None))
        else:
            items.append(problem_row(path, None, "file", "not_found", "no such file or folder"))
    return _read_sources(items, _ProblemLog(strict), config.log_every, what="light-curve files")


def read_partitions(partitions: Mapping[str, Callable[[], RawELKFile | Issue]], galaxy: str | None = None, *,
                    strict: bool = False, config: IngestionConfig | None = None) -> LightCurves:
    """Read and validate the light curves of a partitioned folder of new clusters (the ``predict``
    pipeline's :class:`~tess_cluster_age.datasets.ELKFolderDataset`): as :func:`read_light_curves`
    reads a folder, with the loaders of the dataset.

    A file's galaxy is the nearest folder of its partition id named after one, else ``galaxy``.
    A loader may return any raw file of :func:`read_light_curve_file`'s layouts; a FITS file that
    is not ELK is read as a TESS light curve.

    Args:
        partitions: partition id (``[<galaxy>/]<file name>``, relative to the folder) -> loader of
            the raw file; an id ending in ``/`` is a folder with no file, whose loader returns the
            :class:`Issue`.
        galaxy: the host galaxy of files that are not in a galaxy folder.
        strict: raise at the first input that cannot be read (see :func:`read_light_curves`).
        config: the ingestion parameters (those stored with the model, for dating).

    Returns:
        The clusters, in partition-id order, and the problem rows (files named by partition id).
    """
    config = config or IngestionConfig()
    check_galaxy(galaxy, config.galaxies)
    items: list[_Source | dict[str, Any]] = []
    for partition_id in sorted(partitions):
        load = partitions[partition_id]
        if partition_id.endswith("/"):
            issue = load()
            items.append(problem_row(partition_id.rstrip("/"), None, "folder", issue.code, issue.message, outcome="empty"))
            continue
        folder = partition_id.replace("\\", "/").rpartition("/")[0] or "."
        items.append(_file_item(partition_id, galaxy, config, folder, lambda load=load: _in_elk_layout(load())))
    return _read_sources(items, _ProblemLog(strict), config.log_every, what="light-curve files")


def _fits_suffixes(config: IngestionConfig) -> tuple[str, ...]:
    return tuple(s.lower() for s in config.file_suffixes)


def _file_item(path: str, galaxy: str | None, config: IngestionConfig, folder: str | None,
               load: Callable[[], RawELKFile] | None = None) -> _Source | dict[str, Any]:
    """The source of one file (read by ``load``, else from disk), or the problem row that says why
    it is not read."""
    lower = os.path.basename(path).lower()
    suffixes = _fits_suffixes(config) + TABLE_SUFFIXES
    if not lower.endswith(suffixes):
        if folder is not None:
            return problem_row(path, None, "file", "not_light_curve_file",
                               f"not a light-curve file name (read: {', '.join(suffixes)})", outcome="ignored")
        return problem_row(path, None, "file", "unknown_format",
                           f"not a light-curve file name (read: {', '.join(suffixes)}); formats read: {FORMATS_READ}")
    found = _galaxy_of_path(path, config.galaxies) or galaxy
    if found is None:
        return problem_row(path, None, "file", "no_galaxy", no_galaxy_reason(config.galaxies))
    return _Source(path, load or (lambda: read_light_curve_file(os.path.abspath(path))), found, folder)


def read_light_curve_file(path: str | os.PathLike, fileobj: IO[bytes] | None = None) -> RawELKFile:
    """One light-curve file of any format read here, in the ELK layout (no cuts applied).

    ``.csv`` and ``.ecsv`` are read as tables; anything else as FITS: an ELK file when its primary
    header holds one of :data:`ELK_KEYWORDS`, else a TESS light-curve file.

    Args:
        path: the file's path; it names the file in errors and in the result.
        fileobj: an open binary file to read instead of ``path`` (for a dataset on remote storage).

    Raises:
        ELKFileError: the file is missing, is not FITS or is truncated.
        LightCurveInputError: a table without a needed column, a FITS file that is neither ELK nor
            a TESS light curve (the message lists the formats read), a flux unit that is not e/s.
    """
    path = os.fspath(path)
    if path.lower().endswith(TABLE_SUFFIXES):
        return _read_table_file(path, fileobj)
    return _in_elk_layout(read_elk_file(path, fileobj))


def _in_elk_layout(raw: RawELKFile) -> RawELKFile:
    """A raw FITS file as it is when it is an ELK file (a primary header with one of
    :data:`ELK_KEYWORDS`), else read as a TESS light-curve file; converted files pass unchanged."""
    if raw.file_format != "ELK" or any(key in raw.header for key in ELK_KEYWORDS):
        return raw
    return _tess_file_as_elk(raw)


def _file_stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".gz", ".fits", ".fit", ".fts", ".csv", ".ecsv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _tess_file_as_elk(raw: RawELKFile) -> RawELKFile:
    """A TESS light-curve FITS file (read by ``read_elk_file``) in the ELK layout: each table HDU
    with a time column and a flux column with its error is one sector."""
    with_time = [t for t in raw.tables if "time" in {c.lower() for c in t.columns}]
    if not with_time:
        raise LightCurveInputError(raw.path, f"neither an ELK file nor a TESS light curve (no table with a TIME column); "
                                             f"formats read: {FORMATS_READ}", "not_a_light_curve")
    primary = {k.upper(): v for k, v in raw.header.items()}
    parts, errors = [], []
    for table in with_time:  # SPOC, QLP and lightkurve files have one; a table that is not a light curve is passed over
        header = {**primary, **table.header}
        time_unit = next((u for c, u in table.units.items() if c.lower() == "time"), None)
        sector = table.sector if table.sector is not None else _as_int(primary.get("SECTOR"))
        try:
            parts += _sector_parts(table.columns, {**header, "SECTOR": sector}, raw.path, units=table.units,
                                   time_offset_d=_btjd_offset_d(time_unit, header))
        except LightCurveInputError as exc:
            errors.append(exc)
    if not parts:
        raise errors[0]
    name = primary.get("OBJECT") or (f"TIC {primary['TICID']}" if primary.get("TICID") is not None else None)
    return _as_elk(raw.path, str(name) if name else _file_stem(raw.path), primary, parts, raw.sha256, "TESS FITS")


def _read_table_file(path: str, fileobj: IO[bytes] | None = None) -> RawELKFile:
    """A CSV or ECSV light-curve table (astropy ``Table.read``, UTF-8 text) in the ELK layout."""
    from astropy.table import Table

    kind = "ECSV" if path.lower().endswith(".ecsv") else "CSV"
    try:
        if fileobj is None:
            with open(path, "rb") as stream:
                content = stream.read()
        else:
            content = fileobj.read()
        table = Table.read(content.decode("utf-8").splitlines(), format=f"ascii.{kind.lower()}")
    except OSError as exc:
        raise LightCurveInputError(path, f"unreadable: {exc.strerror or exc}", "unreadable") from exc
    except Exception as exc:  # noqa: BLE001 - astropy's readers raise many types
        raise LightCurveInputError(path, f"not a readable {kind} table ({type(exc).__name__}: {exc})", "unreadable") from exc
    meta = {str(k).upper(): v for k, v in table.meta.items()}
    parts = _sector_parts({n: table[n] for n in table.colnames}, meta, path)
    name = meta.get("NAME") or meta.get("OBJECT")
    return _as_elk(path, str(name) if name else _file_stem(path), meta, parts, hashlib.sha256(content).hexdigest(), kind)


# ------------------------------------------------------------------------------------ objects


def as_light_curves(data: Any, galaxy: str | None = None, *, name: str | None = None, strict: bool = True,
                    config: IngestionConfig | None = None) -> LightCurves:
    """Validated cluster light curves from whatever a user holds: paths, tables, light-curve objects or arrays.

    Accepted (by interface; see the module docstring for columns and units):

    - a :class:`LightCurves` (returned as it is);
    - a path or a list of paths (:func:`read_light_curves`);
    - one table-like object, one cluster: an astropy ``Table``/``QTable``/``TimeSeries``, a
      lightkurve-like ``LightCurve``, a pandas ``DataFrame``, or a mapping of column name to array
      (it has a ``time`` key);
    - an iterable of table-like objects (a ``LightCurveCollection``): one cluster, one sector each
      (or each split by its own ``sector`` column);
    - a tuple or list of 3 or 4 arrays ``(time, flux, flux_err[, sector])``: one cluster;
    - a mapping of cluster name to any of the above (except paths): several clusters.

    Args:
        data: the light curves.
        galaxy: the host galaxy (one of ``config.galaxies``); objects carry none, so it is needed
            for them.
        name: the cluster's name when ``data`` is one cluster; else the meta ``NAME``, ``OBJECT``
            or ``LABEL`` (or ``TIC <TICID>``) of the (first) table.
        strict: raise :class:`LightCurveInputError` at the first input that cannot be read; False
            lists the problems and reads the rest.
        config: the ingestion parameters; defaults when None.

    Raises:
        LightCurveInputError: ``galaxy`` unknown; in strict mode, an input that cannot be read
            (the message names it and the problem: e.g. the missing column).
    """
    if isinstance(data, LightCurves):
        return data
    if _is_path(data) or (isinstance(data, (list, tuple)) and data and all(_is_path(d) for d in data)):
        return read_light_curves(data, galaxy, strict=strict, config=config)
    config = config or IngestionConfig()
    check_galaxy(galaxy, config.galaxies)
    if isinstance(data, Mapping) and not _is_table(data):
        clusters = [(str(key), value) for key, value in data.items()]
    else:
        clusters = [(name, data)]
    items: list[_Source | dict[str, Any]] = []
    for index, (cluster_name, obj) in enumerate(clusters, start=1):
        if isinstance(obj, Iterator):  # read once: keep its items
            obj = list(obj)
        cluster_name = cluster_name or _meta_name(_first_table(obj))
        source_id = f"{type(obj).__name__} {cluster_name!r}" if cluster_name else f"{type(obj).__name__} #{index}"
        if galaxy is None:
            items.append(problem_row(source_id, cluster_name, "file", "no_galaxy", no_galaxy_reason(config.galaxies)))
            continue
        items.append(_Source(source_id, _object_loader(obj, cluster_name, source_id), galaxy))
    return _read_sources(items, _ProblemLog(strict), config.log_every, what="light curves")


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_table(value: Any) -> bool:
    """A table of columns: an astropy table (``colnames``), a pandas DataFrame, or a mapping with a time column."""
    if hasattr(value, "colnames") or isinstance(value, pd.DataFrame):
        return True
    return isinstance(value, Mapping) and any(str(k).lower() == "time" for k in value)


def _is_array_tuple(value: Any) -> bool:
    """``(time, flux, flux_err[, sector])``: a tuple or list of 3 or 4 arrays (not tables, not paths)."""
    return (isinstance(value, (tuple, list)) and len(value) in (3, 4)
            and all(not _is_table(v) and not _is_path(v) and np.ndim(v) == 1 for v in value))


def _first_table(obj: Any) -> Any:
    if _is_table(obj) or _is_array_tuple(obj) or not isinstance(obj, Iterable):
        return obj
    return next(iter(obj), None)


def _columns_and_meta(table: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column name -> column, upper-cased meta) of a table-like object."""
    if isinstance(table, pd.DataFrame):
        return {str(c): table[c].to_numpy() for c in table.columns}, {str(k).upper(): v for k, v in table.attrs.items()}
    if hasattr(table, "colnames"):
        meta = getattr(table, "meta", None) or {}
        return {n: table[n] for n in table.colnames}, {str(k).upper(): v for k, v in meta.items()}
    return {str(k): v for k, v in table.items()}, {}


def _meta_name(table: Any) -> str | None:
    if not _is_table(table):
        return None
    meta = _columns_and_meta(table)[1]
    for key in ("NAME", "OBJECT", "LABEL"):
        if meta.get(key):
            return str(meta[key])
    return f"TIC {meta['TICID']}" if meta.get("TICID") is not None else None


def _object_loader(obj: Any, name: str | None, source_id: str) -> Callable[[], RawELKFile]:
    def load() -> RawELKFile:
        if _is_array_tuple(obj):
            tables = [dict(zip(("time", "flux", "flux_err", "sector"), obj))]
        elif _is_table(obj):
            tables = [obj]
        elif isinstance(obj, Iterable) and not _is_path(obj):
            tables = list(obj)
            if not tables or not all(_is_table(t) for t in tables):
                raise LightCurveInputError(source_id, "not a light curve: an iterable must hold tables (one per sector)",
                                           "not_a_light_curve")
        else:
            raise LightCurveInputError(source_id, "not a light curve: give a table or TimeSeries with time, flux and "
                                                  "flux_err, an iterable of them, arrays (time, flux, flux_err[, sector]) "
                                                  f"or file paths; formats read: {FORMATS_READ}", "not_a_light_curve")
        if name is None:
            raise LightCurveInputError(source_id, "no cluster name: give name=, a mapping name -> light curve, or "
                                                  "meta['OBJECT']", "no_name")
        parts, first_meta, digest = [], None, hashlib.sha256()
        for table in tables:
            columns, meta = _columns_and_meta(table)
            first_meta = meta if first_meta is None else first_meta
            if meta.get("NORMALIZED") is True:
                raise LightCurveInputError(source_id, "the flux is normalised (meta NORMALIZED): the models need the "
                                                      "integrated flux in e/s", "normalized_flux")
            for sector, part in _sector_parts(columns, meta, source_id):
                parts.append((sector, part))
                digest.update(repr(sector).encode())
                for values in part.values():
                    digest.update(np.ascontiguousarray(values).tobytes())
        return _as_elk(source_id, name, first_meta or {}, parts, digest.hexdigest(), type(obj).__name__)

    return load


# ------------------------------------------------------------------------------------ columns -> sectors


def _float_array(values: Any) -> np.ndarray:
    """A float64 copy of a column's values, masked entries as NaN (numpy/astropy masks alike), without its unit."""
    mask = None
    if hasattr(values, "unmasked"):  # astropy Masked (Quantity or ndarray)
        mask = np.asarray(values.mask)
        values = values.unmasked
    elif np.ma.isMaskedArray(values):  # MaskedColumn, numpy masked array
        mask = np.ma.getmaskarray(values)
        values = np.ma.getdata(values)
    values = getattr(values, "value", values)  # Quantity -> its numbers
    array = np.array(values, dtype=np.float64)
    if mask is not None and mask.any():
        array[mask] = np.nan
    return array


def _btjd_offset_d(time_unit: str | None, header: Mapping[str, Any]) -> float:
    """Days to add to a FITS ``TIME`` column to get BTJD: from its unit (``jd``, ``bjd``, ``mjd``),
    else from ``BJDREFI + BJDREFF`` (SPOC: 2457000 + 0, i.e. BTJD already); 0 when neither says."""
    unit = (time_unit or "").strip().lower()
    if unit in ("jd", "bjd"):
        return -BTJD_OFFSET_JD
    if unit == "mjd":
        return MJD_OFFSET_JD - BTJD_OFFSET_JD
    integer, fraction = header.get("BJDREFI"), header.get("BJDREFF")
    if integer is None and fraction is None:
        return 0.0
    return (float(integer or 0.0) - BTJD_OFFSET_JD) + float(fraction or 0.0)


def _time_btjd(values: Any, column: str, where: str, offset_d: float = 0.0) -> np.ndarray:
    """BTJD days of a time column: an astropy ``Time`` (-> TDB), a time ``Quantity`` (-> d), or numbers (BTJD d)."""
    from astropy import units as u

    if hasattr(values, "jd1") and hasattr(values, "jd2"):  # astropy Time, whatever its format and scale
        tdb = values.tdb
        return (_float_array(tdb.jd1) - BTJD_OFFSET_JD) + _float_array(tdb.jd2)
    unit = getattr(values, "unit", None)
    array = _float_array(values)
    if unit is not None and unit != u.dimensionless_unscaled:
        try:
            array = array * u.Unit(unit).to(u.day)
        except (u.UnitsError, ValueError, TypeError) as exc:
            raise LightCurveInputError(where, f"column {column} is in {unit}, not a time (BTJD days are read)",
                                       "time_unit") from exc
    return array + offset_d if offset_d else array


E_PER_S_SPELLINGS = frozenset({"e-/s", "e/s", "e-s-1", "e- s-1", "e s-1", "electron/s", "electrons/s", "electron / s",
                               "electrons / s"})
"""Unit texts of FITS files that mean electrons per second (astropy does not parse ``e-/s``)."""


def _flux_e_per_s(values: Any, column: str, where: str, unit_text: str | None = None) -> np.ndarray:
    """A flux column in e/s: converted from its unit (a ``Quantity``, a column unit or FITS ``TUNIT``);
    numbers without a unit are taken as e/s."""
    from astropy import units as u

    unit = getattr(values, "unit", None) if unit_text is None else unit_text
    array = _float_array(values)
    if unit is None or (isinstance(unit, str) and (not unit.strip() or unit.strip().lower() in E_PER_S_SPELLINGS)):
        return array
    try:
        factor = u.Unit(unit).to(u.electron / u.s)
    except (u.UnitsError, ValueError, TypeError) as exc:
        if u.Unit(unit, parse_strict="silent") == u.dimensionless_unscaled:
            return array  # a Quantity without a unit: plain numbers
        raise LightCurveInputError(where, f"column {column} is in {unit}, not electrons per second (e/s): the models "
                                          "learned from integrated fluxes in e/s", "flux_unit") from exc
    return array * factor if factor != 1.0 else array


def _sector_parts(columns: Mapping[str, Any], meta: Mapping[str, Any], where: str, units: Mapping[str, str] | None = None,
                  time_offset_d: float = 0.0) -> list[tuple[int | None, dict[str, np.ndarray]]]:
    """The sectors of one table: (sector number or None, ``time``/``flux``/``flux_err`` arrays).

    Args:
        columns: column name -> values (matched case-insensitively).
        meta: upper-cased meta or header keywords (``SECTOR`` when there is no sector column).
        where: the input, for messages.
        units: column -> unit text, for plain columns (FITS ``TUNIT``).
        time_offset_d: days added to a numeric time column (FITS ``BJDREF``).

    Raises:
        LightCurveInputError: a needed column is missing (named), a unit is not convertible, or the
            ``sector`` column holds values that are not whole numbers.
    """
    units = units or {}
    lookup = {str(c).lower(): c for c in columns}
    if "time" not in lookup:
        raise LightCurveInputError(where, f"missing column time ({TABLE_COLUMNS_NEEDED})", "missing_columns")
    pair = next(((lookup[f], lookup[e]) for f, e in FLUX_COLUMNS if f in lookup and e in lookup), None)
    if pair is None:
        present = next((lookup[f] for f, _ in FLUX_COLUMNS if f in lookup), None)
        missing = "flux" if present is None else (f"{present}_ERR" if present.isupper() else f"{present}_err")
        raise LightCurveInputError(where, f"missing column {missing} ({TABLE_COLUMNS_NEEDED})", "missing_columns")
    flux_name, err_name = pair
    time = _time_btjd(columns[lookup["time"]], lookup["time"], where, time_offset_d)
    flux = _flux_e_per_s(columns[flux_name], flux_name, where, units.get(flux_name))
    flux_err = _flux_e_per_s(columns[err_name], err_name, where, units.get(err_name))
    if "sector" not in lookup:
        return [(_as_int(meta.get("SECTOR")), {"time": time, "flux": flux, "flux_err": flux_err})]
    sector = _float_array(columns[lookup["sector"]])
    whole = np.isfinite(sector) & (sector == np.round(sector))
    if not whole.all():
        raise LightCurveInputError(where, f"column {lookup['sector']}: {int((~whole).sum())} values are not whole sector "
                                          "numbers", "bad_sector_column")
    values, first = np.unique(sector, return_index=True)
    parts = []
    for number in values[np.argsort(first)]:
        rows = sector == number
        parts.append((int(number), {"time": time[rows], "flux": flux[rows], "flux_err": flux_err[rows]}))
    return parts


def _as_elk(path: str, name: str, meta: Mapping[str, Any], parts: list[tuple[int | None, dict[str, np.ndarray]]],
            sha256: str, file_format: str) -> RawELKFile:
    """The raw ELK layout of converted sectors: ``NAME`` (and ``LOG_AGE``, ``LOCATION`` from the meta
    when present), one table per sector, numbered 1, 2, ... in input order. Sectors without a number
    take their position, with a ``no_sector_number`` note."""
    header: dict[str, Any] = {"NAME": name}
    if meta.get("LOG_AGE") is not None:
        header["LOG_AGE"] = meta["LOG_AGE"]
    ra, dec = meta.get("RA_OBJ"), meta.get("DEC_OBJ")
    if ra is not None and dec is not None:
        header["LOCATION"] = f"{ra},{dec}"
    unnumbered = [i for i, (sector, _) in enumerate(parts, start=1) if sector is None]
    notes = ()
    if unnumbered:
        notes = (Issue("no_sector_number", f"no sector number (no sector column or SECTOR keyword): light curve(s) "
                                           f"{', '.join(map(str, unnumbered))} numbered by position"),)
    tables = [RawSectorTable(index, index if sector is None else sector, columns)
              for index, (sector, columns) in enumerate(parts, start=1)]
    return RawELKFile(path, header, tables, sha256=sha256, file_format=file_format, notes=notes)
