"""Reading and validating ELK integrated light-curve files.

An ELK file (Wainer et al. 2023, MAST HLSP, DOI 10.17909/f4kb-vc30) holds one star cluster:
HDU 0 is a header-only primary HDU (``NAME``, ``LOCATION``, ``RADIUS``, ``LOG_AGE``, ``N_OBS``,
``N_GOOD``, ...), and HDU 1..n are binary tables, one per TESS sector (header ``SECTOR``) with
columns ``time`` (BTJD, d), ``flux`` and ``flux_err`` (e/s), ``mag`` and ``mag_err``.

This is the only module that knows the file layout. Everything downstream works on
:class:`ClusterLightCurve` / :class:`SectorLightCurve`, plain arrays with units in their names.
Reading (:func:`read_elk_file`) and validation (:func:`validate_cluster`) are separate, so that a
pipeline can give each problem a counted, logged outcome. Other formats (TESS light-curve files,
tables, astropy and lightkurve objects) are converted to the raw objects of this layout by
:mod:`tess_cluster_age.reading`, and validated by the same :func:`validate_cluster`.

Validated clusters are stored as three tables, one row per cluster, per sector and per sample
(:func:`cluster_table`, :func:`sector_table`, :func:`sample_table`); :func:`sectors_from_samples`
turns the sample table back into sectors.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import re
import warnings
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("time", "flux", "flux_err")
"""Columns a sector table must have to be usable."""

SECONDS_PER_DAY = 86400.0


@dataclasses.dataclass(frozen=True)
class Issue:
    """A problem met while validating a file, a sector or its samples.

    Attributes:
        code: stable reason code (``no_sectors``, ``missing_columns``, ``log_age_unparsable`` ...):
            the key under which reports count the problem.
        message: what was found, for a person (may name values; never a path).
    """

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class ELKFileError(Exception):
    """An ELK file that cannot be read at all; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclasses.dataclass(frozen=True)
class RawSectorTable:
    """One sector table as stored in the file, before any validation.

    Attributes:
        hdu: HDU index in the file (1-based; HDU order is the order of the light curve).
        sector: TESS sector number from the table header (``SECTOR``), or None if absent.
        columns: column name -> float64 array, as stored (no cuts applied).
        units: column name -> unit text as stored (FITS ``TUNITn``), for the columns that have one.
        header: the table-header keywords of :data:`TABLE_KEYWORDS` that the table has (what a
            TESS light-curve file needs beside ``SECTOR``: ``BJDREFI``, ``BJDREFF`` ...).
    """

    hdu: int
    sector: int | None
    columns: dict[str, np.ndarray]
    units: dict[str, str] = dataclasses.field(default_factory=dict)
    header: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class RawELKFile:
    """An ELK file as read from disk: primary header keywords and the sector tables.

    Attributes:
        path: the file's path.
        header: primary header keyword -> value (strings stripped, UTF-8 decoded; see
            :func:`parse_primary_header`). A card astropy cannot parse holds its raw value text.
        tables: the sector tables, in HDU order.
        unparsable: keyword -> raw value text of every primary header card astropy's strict
            parser refuses (e.g. an unquoted ``LOG_AGE = NaN``).
        not_utf8: keywords whose value held bytes that are neither ASCII nor UTF-8; each such byte
            was replaced by U+FFFD.
        sha256: SHA-256 of the (decompressed) FITS bytes: two files with the same value hold the
            same data. Empty when not known.
        file_format: the format the light curve was read from: ``ELK``, or a format that
            :mod:`tess_cluster_age.reading` converts to this layout (``TESS FITS``, ``CSV``,
            ``ECSV``, or the type of an in-memory object).
        notes: problems met while converting another format to this layout that keep the cluster
            (e.g. ``no_sector_number``); validation lists them with the header notes.
    """

    path: str
    header: dict[str, Any]
    tables: list[RawSectorTable]
    unparsable: dict[str, str] = dataclasses.field(default_factory=dict)
    not_utf8: tuple[str, ...] = ()
    sha256: str = ""
    file_format: str = "ELK"
    notes: tuple[Issue, ...] = ()


@dataclasses.dataclass(frozen=True)
class SectorLightCurve:
    """A validated light curve of one TESS sector.

    Attributes:
        sector: TESS sector number.
        time_btjd: sample times, Barycentric TESS Julian Date (BJD - 2457000), days, sorted.
        flux_e_per_s: integrated flux, electrons per second, all finite.
        flux_err_e_per_s: 1-sigma flux uncertainty, electrons per second.
        cadence_s: median spacing of the samples, seconds.
        n_dropped: samples dropped, all reasons (``n_invalid + n_duplicates + n_conflicting``).
        hdu: HDU index of the table in its file (0 when not known).
        n_invalid: samples dropped because time, flux or flux_err was not finite, or flux or
            flux_err was not positive.
        n_duplicates: exact repeats of an earlier sample (same time, flux and flux_err), dropped.
        n_conflicting: samples sharing their time with a sample of different flux or flux_err;
            all of them are dropped, as there is no telling which is right.
    """

    sector: int
    time_btjd: np.ndarray
    flux_e_per_s: np.ndarray
    flux_err_e_per_s: np.ndarray
    cadence_s: float
    n_dropped: int = 0
    hdu: int = 0
    n_invalid: int = 0
    n_duplicates: int = 0
    n_conflicting: int = 0

    @property
    def n_points(self) -> int:
        return int(self.time_btjd.size)


@dataclasses.dataclass(frozen=True)
class ClusterLightCurve:
    """A validated cluster: its header facts and its usable sectors, in HDU order.

    Attributes:
        name: cluster name from the header ``NAME``.
        galaxy: host galaxy (``MW``, ``LMC`` or ``SMC``), from the folder the file sits in.
        log_age: literature log10(age / yr) from ``LOG_AGE``, or None when the header has none.
        ra_deg, dec_deg: position from ``LOCATION``, degrees (ICRS).
        radius_deg: aperture radius ``RADIUS``, degrees.
        n_obs: ``N_OBS``, sectors in which TESS observed the cluster.
        n_good: ``N_GOOD``, sectors the ELK authors kept (= tables in the file).
        sectors: usable sectors, in HDU order.
        file: path of the file read.
        sector_problems: (hdu, sector, issue) for every sector table that was skipped.
        header_issues: header problems that keep the cluster (no or unparsable ``LOG_AGE``,
            unparsable cards, a name that is not UTF-8, notes of a format conversion).
        sha256: SHA-256 of the file's (decompressed) FITS bytes.
        file_format: the format it was read from (see :class:`RawELKFile`).
    """

    name: str
    galaxy: str
    log_age: float | None
    ra_deg: float
    dec_deg: float
    radius_deg: float
    n_obs: int | None
    n_good: int | None
    sectors: list[SectorLightCurve]
    file: str
    sector_problems: list[tuple[int, int | None, Issue]] = dataclasses.field(default_factory=list)
    header_issues: list[Issue] = dataclasses.field(default_factory=list)
    sha256: str = ""
    file_format: str = "ELK"

    @property
    def n_points(self) -> int:
        return sum(s.n_points for s in self.sectors)


TABLE_KEYWORDS = ("EXTNAME", "BJDREFI", "BJDREFF", "TIMEUNIT", "TIMESYS")
"""Table-header keywords kept in :attr:`RawSectorTable.header` (``SECTOR`` has its own field)."""

FITS_CARD_BYTES = 80
"""Length of one FITS header card (keyword, value indicator, value and comment), bytes."""

_STRING_VALUE = re.compile(rb"\s*'((?:[^']|'')*)'")


def _header_cards(content: bytes) -> list[bytes]:
    """The primary header's raw cards, up to (not including) ``END``."""
    cards = []
    for start in range(0, len(content) - FITS_CARD_BYTES + 1, FITS_CARD_BYTES):
        card = content[start:start + FITS_CARD_BYTES]
        if card[:8] == b"END     ":
            break
        cards.append(card)
    return cards


def _utf8_string_value(group: list[bytes]) -> bytes | None:
    """The bytes of a string value spread over a keyword card and its ``CONTINUE`` cards, or None
    when the value is not a quoted string."""
    parts = []
    for index, card in enumerate(group):
        match = _STRING_VALUE.match(card, 10 if index == 0 else 8)
        if match is None:
            return None if index == 0 else b"".join(parts)
        part = match.group(1).replace(b"''", b"'").rstrip(b" ")
        if index < len(group) - 1 and part.endswith(b"&"):
            part = part[:-1]
        parts.append(part)
    return b"".join(parts)


def parse_primary_header(content: bytes) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
    """Keywords of a FITS file's primary header, read leniently, card by card.

    astropy's strict parser refuses some cards that real files hold, and turns every non-ASCII
    byte into ``?``. Here a card that cannot be parsed keeps its raw value text (and is listed),
    and a quoted string value holding non-ASCII bytes is decoded as UTF-8, so that a name such as
    ``Hodge 11 – Ω`` is kept as written. Long strings (``CONTINUE`` cards) are joined.

    Args:
        content: the (decompressed) FITS file's bytes.

    Returns:
        header: keyword -> value (strings stripped; an undefined value is None). ``COMMENT`` and
            ``HISTORY`` cards are left out.
        unparsable: keyword -> raw value text of every card astropy cannot parse.
        not_utf8: keywords whose non-ASCII bytes are not UTF-8 (each such byte became U+FFFD).
    """
    from astropy.io import fits

    cards = _header_cards(content)
    header: dict[str, Any] = {}
    unparsable: dict[str, str] = {}
    not_utf8: list[str] = []
    index = 0
    while index < len(cards):
        group = [cards[index]]
        index += 1
        while index < len(cards) and cards[index][:8] == b"CONTINUE":
            group.append(cards[index])
            index += 1
        key = group[0][:8].decode("ascii", "replace").strip()
        if not key or key in ("COMMENT", "HISTORY", "CONTINUE") or group[0][8:10] != b"= ":
            continue
        raw = b"".join(group)
        value = None
        if not raw.isascii():
            utf8 = _utf8_string_value(group)
            if utf8 is not None:
                try:
                    value = utf8.decode("utf-8")
                except UnicodeDecodeError:
                    value = utf8.decode("utf-8", errors="replace")
                    not_utf8.append(key)
                header[key] = value.strip()
                continue
            # a non-string value with non-ASCII bytes in its comment: parse the ASCII form
            raw = bytes(b if b < 128 else ord("?") for b in raw)
        try:
            value = fits.Card.fromstring(raw.decode("ascii")).value
        except (fits.VerifyError, ValueError):  # unparsable: keep the raw text
            text = raw[10:FITS_CARD_BYTES].decode("ascii", "replace").split("/")[0].strip()
            header[key] = text
            unparsable[key] = text
            continue
        if isinstance(value, fits.card.Undefined):
            value = None
        header[key] = value.strip() if isinstance(value, str) else value
    return header, unparsable, tuple(not_utf8)


def _lenient_get(header, key: str):
    """``header.get(key)``, or None when astropy cannot parse the card."""
    from astropy.io import fits

    try:
        return header.get(key)
    except (fits.VerifyError, ValueError):
        return None


def read_elk_file(path: str | Path, fileobj: IO[bytes] | None = None) -> RawELKFile:
    """Read an ELK file (``.fits`` or ``.fits.gz``) into plain Python objects.

    Args:
        path: the file's path; it names the file in errors and in the result.
        fileobj: an open binary file to read instead of ``path`` (for remote storage).

    No cuts are applied. The primary header is read leniently (:func:`parse_primary_header`).
    Raises :class:`ELKFileError` when the file is missing, is not FITS, is truncated, or has a
    primary HDU that is not an image/header HDU.
    """
    path = Path(path)
    if fileobj is None and not path.is_file():
        raise ELKFileError(path, "file does not exist")
    try:
        content = fileobj.read() if fileobj is not None else path.read_bytes()
        if content[:2] == b"\x1f\x8b":
            # decompressing in memory first is ~6x faster than letting astropy seek in the gzip stream
            content = gzip.decompress(content)
        with warnings.catch_warnings():
            # astropy only warns about a truncated file and then returns partial data
            warnings.filterwarnings("error", message=".*truncated.*")
            # non-ASCII header bytes are decoded by parse_primary_header, not replaced by "?"
            warnings.filterwarnings("ignore", message=".*non-ASCII characters.*")
            return _read_hdul(path, content)
    except ELKFileError:
        raise
    except Warning as exc:
        raise ELKFileError(path, f"truncated file ({exc})") from exc
    except (OSError, ValueError, TypeError, IndexError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ELKFileError(path, f"not a readable FITS file ({type(exc).__name__}: {exc})") from exc


def _read_hdul(path: Path, content: bytes) -> RawELKFile:
    """The body of :func:`read_elk_file`: primary header keywords and every table HDU."""
    from astropy.io import fits

    tables = []
    with fits.open(io.BytesIO(content), memmap=False, lazy_load_hdus=False) as hdul:
        if not isinstance(hdul[0], fits.PrimaryHDU):
            raise ELKFileError(path, "first HDU is not a FITS primary HDU")
        header, unparsable, not_utf8 = parse_primary_header(content)
        for index, hdu in enumerate(hdul[1:], start=1):
            if not isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
                continue
            sector = _as_int(_lenient_get(hdu.header, "SECTOR"))
            columns, units = {}, {}
            if hdu.data is not None:
                for col in hdu.data.columns:
                    try:
                        columns[col.name.strip()] = np.asarray(hdu.data[col.name], dtype=np.float64)
                    except (TypeError, ValueError):
                        continue  # non-numeric column: not one we use
                    if col.unit:
                        units[col.name.strip()] = str(col.unit).strip()
            keywords = {key: value for key in TABLE_KEYWORDS if (value := _lenient_get(hdu.header, key)) is not None}
            tables.append(RawSectorTable(index, sector, columns, units, keywords))
    return RawELKFile(str(path), header, tables, unparsable=unparsable, not_utf8=not_utf8,
                      sha256=hashlib.sha256(content).hexdigest())


def _parse_location(value) -> tuple[float, float]:
    try:
        ra, dec = (float(v) for v in str(value).split(","))
        return ra, dec
    except (TypeError, ValueError):
        return float("nan"), float("nan")


def _as_float(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if np.isfinite(result) else None


def _as_int(value) -> int | None:
    number = _as_float(value)
    return int(number) if number is not None else None


def median_cadence_s(time_btjd: np.ndarray) -> float:
    """Median spacing of consecutive samples, in seconds (NaN for fewer than two samples)."""
    if time_btjd.size < 2:
        return float("nan")
    return float(np.median(np.diff(time_btjd)) * SECONDS_PER_DAY)


def _duplicate_times(time: np.ndarray, flux: np.ndarray, flux_err: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Which samples of a time-sorted sector to keep when some share a timestamp.

    Exact repeats (same time, flux and flux_err) keep their first copy; samples that share a time
    but differ in flux or flux_err are all dropped, as there is no telling which is right.

    Returns:
        (keep mask, number of exact repeats dropped, number of conflicting samples dropped).
    """
    repeat = np.concatenate([[False], np.diff(time) == 0])
    if not repeat.any():
        return np.ones(time.size, bool), 0, 0
    group = np.cumsum(~repeat) - 1
    first = np.flatnonzero(~repeat)[group]
    differs = (flux != flux[first]) | (flux_err != flux_err[first])
    conflicting = (np.bincount(group, weights=differs, minlength=group[-1] + 1) > 0)[group]
    keep = ~repeat & ~conflicting
    return keep, int((repeat & ~conflicting).sum()), int(conflicting.sum())


def validate_sector(table: RawSectorTable) -> tuple[SectorLightCurve | None, Issue | None]:
    """Turn one raw sector table into a :class:`SectorLightCurve`, or give the reason it is unusable.

    Rules: ``time``, ``flux`` and ``flux_err`` must be present and ``SECTOR`` set. A sample is
    usable when all three are finite and ``flux`` and ``flux_err`` are positive (an integrated flux
    in e/s, and its uncertainty, cannot be ≤ 0); other samples are dropped and counted. Samples
    are sorted by time; a sample repeating an earlier one exactly (time, flux and flux_err) is
    dropped and counted, and samples that share a time with different values are all dropped and
    counted (see :func:`_duplicate_times`). The sector is unusable when no usable sample is left.

    Returns:
        (sector light curve, None) or (None, issue).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        return None, Issue("missing_columns", f"missing columns: {', '.join(missing)}")
    if table.sector is None:
        return None, Issue("no_sector_keyword", "no SECTOR keyword in the table header")
    time = table.columns["time"]
    flux = table.columns["flux"]
    flux_err = table.columns["flux_err"]
    if time.size == 0:
        return None, Issue("empty_table", "empty table")
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(time) & np.isfinite(flux) & np.isfinite(flux_err)
        usable = finite & (flux > 0) & (flux_err > 0)
    if not usable.any():
        if not finite.any():
            return None, Issue("no_finite_flux", "no finite flux")
        if not (flux[finite] > 0).any():
            return None, Issue("no_positive_flux", "no positive flux")
        return None, Issue("no_positive_flux_err", "no sample with positive flux and flux_err")
    time, flux, flux_err = time[usable], flux[usable], flux_err[usable]
    if np.any(np.diff(time) < 0):
        order = np.argsort(time, kind="stable")
        time, flux, flux_err = time[order], flux[order], flux_err[order]
    keep, n_duplicates, n_conflicting = _duplicate_times(time, flux, flux_err)
    if n_duplicates or n_conflicting:
        time, flux, flux_err = time[keep], flux[keep], flux_err[keep]
        if time.size == 0:
            return None, Issue("conflicting_samples", "every sample shares its time with a different sample")
    n_invalid = int((~usable).sum())
    return (
        SectorLightCurve(
            hdu=table.hdu,
            sector=table.sector,
            time_btjd=time,
            flux_e_per_s=flux,
            flux_err_e_per_s=flux_err,
            cadence_s=median_cadence_s(time),
            n_dropped=n_invalid + n_duplicates + n_conflicting,
            n_invalid=n_invalid,
            n_duplicates=n_duplicates,
            n_conflicting=n_conflicting,
        ),
        None,
    )


NO_LOG_AGE = "unlabelled: can be dated, not trained on"


def _log_age(raw: RawELKFile) -> tuple[float | None, Issue | None]:
    """The header ``LOG_AGE`` (log10 yr), or None with the issue: absent, or not a finite number."""
    value = raw.header.get("LOG_AGE")
    if value is None or (isinstance(value, str) and not value):
        return None, Issue("no_log_age", f"no LOG_AGE ({NO_LOG_AGE})")
    number = None if isinstance(value, bool) else _as_float(value)
    if number is None:
        how = "an unparsable card" if "LOG_AGE" in raw.unparsable else f"a {type(value).__name__}"
        return None, Issue("log_age_unparsable", f"log_age unparsable: LOG_AGE = {value!r} is {how}, "
                                                  f"not a finite number ({NO_LOG_AGE})")
    return number, None


def _header_issues(raw: RawELKFile) -> list[Issue]:
    """Header problems that keep the cluster: unparsable cards other than ``LOG_AGE``, and values
    that were not UTF-8."""
    issues = [Issue("header_card_unparsable", f"header card {key} = {text!r} is unparsable (value ignored)")
              for key, text in raw.unparsable.items() if key != "LOG_AGE"]
    issues += [Issue("header_not_utf8", f"header {key} holds bytes that are not UTF-8, read as "
                                        f"{raw.header.get(key)!r} (U+FFFD replaces each)")
               for key in raw.not_utf8]
    return issues + list(raw.notes)


def validate_cluster(raw: RawELKFile, galaxy: str) -> tuple[ClusterLightCurve | None, Issue | None]:
    """Validate a raw ELK file: header facts plus every sector (see :func:`validate_sector`).

    A missing or unparsable ``LOG_AGE`` keeps the cluster, unlabelled, with the issue in
    ``header_issues``.

    Returns:
        (cluster, None), with unusable sectors listed in ``sector_problems``; or (None, issue)
        when the file has no name or no usable sector table.
    """
    name = raw.header.get("NAME")
    if name is None or name == "":
        return None, Issue("no_name", "no NAME in the primary header")
    name = str(name)
    if not raw.tables:
        return None, Issue("no_sectors", "no sector tables")
    sectors, problems = [], []
    for table in raw.tables:
        sector, issue = validate_sector(table)
        if sector is not None and any(s.sector == sector.sector for s in sectors):
            sector, issue = None, Issue("duplicate_sector", f"duplicate sector {sector.sector} (first kept)")
        if sector is None:
            problems.append((table.hdu, table.sector, issue))
        else:
            sectors.append(sector)
    if not sectors:
        reasons = "; ".join(sorted({p[2].message for p in problems}))
        return None, Issue("no_usable_sectors", f"no usable sector tables ({reasons})")
    log_age, age_issue = _log_age(raw)
    ra, dec = _parse_location(raw.header.get("LOCATION"))
    return (
        ClusterLightCurve(
            name=name,
            galaxy=galaxy,
            log_age=log_age,
            ra_deg=ra,
            dec_deg=dec,
            radius_deg=_as_float(raw.header.get("RADIUS")) or float("nan"),
            n_obs=_as_int(raw.header.get("N_OBS")),
            n_good=_as_int(raw.header.get("N_GOOD")),
            sectors=sectors,
            file=raw.path,
            sector_problems=problems,
            header_issues=([age_issue] if age_issue else []) + _header_issues(raw),
            sha256=raw.sha256,
            file_format=raw.file_format,
        ),
        None,
    )


def elk_file_bytes(header: dict[str, Any], tables: list[RawSectorTable], compress: bool = False) -> bytes:
    """An ELK-format file (primary header + one BINTABLE per sector) as bytes, gzip-compressed on request.

    FITS headers are ASCII. A string value with other characters (a cluster name such as
    ``Hodge 11 – Ω``) is written as UTF-8 bytes in its one card, the form that
    :func:`parse_primary_header` reads back as written (astropy would show each such byte as ``?``).
    Raises ValueError when such a card would be longer than 80 bytes.
    """
    from astropy.io import fits

    primary = fits.PrimaryHDU()
    utf8_cards = {}
    for key, value in header.items():
        if value is None:
            continue
        if isinstance(value, str) and not value.isascii():
            card = f"{key:<8}= '{value.replace(chr(39), chr(39) * 2)}'".encode("utf-8")
            if len(card) > FITS_CARD_BYTES:
                raise ValueError(f"header {key} = {value!r} is {len(card)} bytes in UTF-8, more than one "
                                 f"{FITS_CARD_BYTES}-byte card")
            utf8_cards[key] = card.ljust(FITS_CARD_BYTES)
            value = "?"  # placeholder, replaced below
        primary.header[key] = value
    hdus = [primary]
    for table in tables:
        cols = [fits.Column(name=k, format="D", array=np.asarray(v, dtype=np.float64)) for k, v in table.columns.items()]
        hdu = fits.BinTableHDU.from_columns(cols)
        if table.sector is not None:
            hdu.header["SECTOR"] = table.sector
        hdus.append(hdu)
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    content = buffer.getvalue()
    if utf8_cards:
        content = bytearray(content)
        for key, card in utf8_cards.items():
            offset = primary.header.index(key) * FITS_CARD_BYTES
            if content[offset:offset + 8] != f"{key:<8}".encode():
                raise RuntimeError(f"header card {key} not found where astropy was expected to write it")
            content[offset:offset + FITS_CARD_BYTES] = card
        content = bytes(content)
    return gzip.compress(content, mtime=0) if compress else content


def write_elk_file(path: str | Path, header: dict[str, Any], tables: list[RawSectorTable]) -> None:
    """Write an ELK-format file; a name ending in ``.gz`` is gzip-compressed.

    Used to save clusters and, in tests, to create small and deliberately broken files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(elk_file_bytes(header, tables, compress=path.name.endswith(".gz")))


# ------------------------------------------------------------------ tables of validated clusters
# The project stores clusters as three tables (ingestion writes them, dating builds them the same
# way): one row per cluster, per sector and per sample. sample_table and sectors_from_samples are
# the two directions between validated clusters and the long sample table.

CLUSTER_TABLE_COLUMNS = ["name", "galaxy", "log_age", "ra", "dec", "radius_deg", "n_obs", "n_good", "n_sectors",
                         "n_points", "n_dropped", "file"]
SECTOR_TABLE_COLUMNS = ["name", "hdu", "sector", "n_points", "n_dropped", "cadence_s", "time_start", "time_end"]
SAMPLE_TABLE_COLUMNS = ["name", "sector", "hdu", "time", "flux", "flux_err", "cadence_s"]


def cluster_table(clusters: list[ClusterLightCurve]) -> pd.DataFrame:
    """One row per cluster: ``name, galaxy, log_age`` (log10 yr, NaN when unlabelled), ``ra, dec,
    radius_deg`` (deg), ``n_obs, n_good`` (header, nullable), ``n_sectors, n_points, n_dropped``
    (usable sectors, samples kept, samples dropped) and ``file``."""
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


def sector_table(clusters: list[ClusterLightCurve]) -> pd.DataFrame:
    """One row per usable sector: ``name, hdu, sector, n_points, n_dropped, cadence_s`` (s),
    ``time_start, time_end`` (BTJD d), clusters in order, sectors in HDU order."""
    rows = [(c.name, s.hdu, s.sector, s.n_points, s.n_dropped, s.cadence_s, float(s.time_btjd[0]), float(s.time_btjd[-1]))
            for c in clusters for s in c.sectors]
    return pd.DataFrame(rows, columns=SECTOR_TABLE_COLUMNS)


def sample_table(clusters: list[ClusterLightCurve]) -> pd.DataFrame:
    """The long sample table: one row per light-curve sample, ``name, sector, hdu, time, flux,
    flux_err, cadence_s`` (BTJD d, e/s, e/s, s), clusters in order and each cluster's sectors in
    HDU order, so that :func:`sectors_from_samples` gives the sectors back. ``name`` is categorical
    (one string per cluster, stored by parquet as a dictionary)."""
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


def sectors_from_samples(samples: pd.DataFrame) -> dict[str, list[SectorLightCurve]]:
    """Split the long sample table (``name, sector, hdu, time, flux, flux_err, cadence_s``, see
    :func:`sample_table`) back into each cluster's sectors, in HDU order. The arrays are views into the table's columns, not copies.

    Rows of one (name, hdu) must be contiguous, as ingestion writes them.
    """
    if len(samples) == 0:
        return {}
    # integer codes, not a column of millions of Python strings
    names, unique_names = pd.factorize(samples["name"])
    hdus = samples["hdu"].to_numpy()
    time = samples["time"].to_numpy(np.float64)
    flux = samples["flux"].to_numpy(np.float64)
    flux_err = samples["flux_err"].to_numpy(np.float64)
    sector = samples["sector"].to_numpy()
    cadence = samples["cadence_s"].to_numpy(np.float64)
    change = np.flatnonzero((names[1:] != names[:-1]) | (hdus[1:] != hdus[:-1])) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [names.size]])
    result: dict[str, list[SectorLightCurve]] = {}
    for i0, i1 in zip(starts.tolist(), ends.tolist()):
        name = str(unique_names[names[i0]])
        sectors = result.setdefault(name, [])
        if sectors and int(hdus[i0]) <= sectors[-1].hdu:
            raise ValueError(f"samples of cluster {name!r} are not contiguous in HDU order")
        sectors.append(SectorLightCurve(int(sector[i0]), time[i0:i1], flux[i0:i1], flux_err[i0:i1], float(cadence[i0]), hdu=int(hdus[i0])))
    return result

