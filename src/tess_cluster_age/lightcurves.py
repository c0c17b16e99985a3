"""Reading and validating ELK integrated light-curve files.

An ELK file (Wainer et al. 2023, MAST HLSP, DOI 10.17909/f4kb-vc30) holds one star cluster:
HDU 0 is a header-only primary HDU (``NAME``, ``LOCATION``, ``RADIUS``, ``LOG_AGE``, ``N_OBS``,
``N_GOOD``, ...), and HDU 1..n are binary tables, one per TESS sector (header ``SECTOR``) with
columns ``time`` (BTJD, d), ``flux`` and ``flux_err`` (e/s), ``mag`` and ``mag_err``.

This is the only module that knows the file layout. Everything downstream works on
:class:`ClusterLightCurve` / :class:`SectorLightCurve`, plain arrays with units in their names.
Reading (:func:`read_elk_file`) and validation (:func:`validate_cluster`) are separate, so that a
pipeline can give each problem a counted, logged outcome.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import warnings
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("time", "flux", "flux_err")
"""Columns a sector table must have to be usable."""

SECONDS_PER_DAY = 86400.0


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
    """

    hdu: int
    sector: int | None
    columns: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class RawELKFile:
    """An ELK file as read from disk: primary header keywords and the sector tables."""

    path: str
    header: dict[str, Any]
    tables: list[RawSectorTable]


@dataclasses.dataclass(frozen=True)
class SectorLightCurve:
    """A validated light curve of one TESS sector.

    Attributes:
        sector: TESS sector number.
        time_btjd: sample times, Barycentric TESS Julian Date (BJD - 2457000), days, sorted.
        flux_e_per_s: integrated flux, electrons per second, all finite.
        flux_err_e_per_s: 1-sigma flux uncertainty, electrons per second.
        cadence_s: median spacing of the samples, seconds.
        n_dropped: samples dropped because time, flux or flux_err was not finite, or flux or
            flux_err was not positive.
        hdu: HDU index of the table in its file (0 when not known).
    """

    sector: int
    time_btjd: np.ndarray
    flux_e_per_s: np.ndarray
    flux_err_e_per_s: np.ndarray
    cadence_s: float
    n_dropped: int = 0
    hdu: int = 0

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
        sector_problems: (hdu, sector, reason) for every sector table that was skipped.
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
    sector_problems: list[tuple[int, int | None, str]] = dataclasses.field(default_factory=list)

    @property
    def n_points(self) -> int:
        return sum(s.n_points for s in self.sectors)


def _header_value(header, key: str):
    value = header.get(key)
    if isinstance(value, str):
        value = value.strip()
    return value


def read_elk_file(path: str | Path, fileobj: IO[bytes] | None = None) -> RawELKFile:
    """Read an ELK file (``.fits`` or ``.fits.gz``) into plain Python objects.

    Args:
        path: the file's path; it names the file in errors and in the result.
        fileobj: an open binary file to read instead of ``path`` (for remote storage).

    No cuts are applied. Raises :class:`ELKFileError` when the file is missing, is not FITS,
    is truncated, or has a primary HDU that is not an image/header HDU.
    """
    from astropy.io import fits  # imported here: astropy is slow to import

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
            return _read_hdul(path, io.BytesIO(content))
    except ELKFileError:
        raise
    except Warning as exc:
        raise ELKFileError(path, f"truncated file ({exc})") from exc
    except (OSError, ValueError, TypeError, IndexError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ELKFileError(path, f"not a readable FITS file ({type(exc).__name__}: {exc})") from exc


def _read_hdul(path: Path, content: IO[bytes]) -> RawELKFile:
    """The body of :func:`read_elk_file`: primary header keywords and every table HDU."""
    from astropy.io import fits

    tables = []
    with fits.open(content, memmap=False, lazy_load_hdus=False) as hdul:
        if not isinstance(hdul[0], fits.PrimaryHDU):
            raise ELKFileError(path, "first HDU is not a FITS primary HDU")
        header = {k: _header_value(hdul[0].header, k) for k in hdul[0].header if k}
        for index, hdu in enumerate(hdul[1:], start=1):
            if not isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
                continue
            sector = hdu.header.get("SECTOR")
            columns = {}
            if hdu.data is not None:
                for col in hdu.data.columns.names:
                    try:
                        columns[col.strip()] = np.asarray(hdu.data[col], dtype=np.float64)
                    except (TypeError, ValueError):
                        continue  # non-numeric column: not one we use
            tables.append(RawSectorTable(index, int(sector) if sector is not None else None, columns))
    return RawELKFile(str(path), header, tables)


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


def validate_sector(table: RawSectorTable) -> tuple[SectorLightCurve | None, str | None]:
    """Turn one raw sector table into a :class:`SectorLightCurve`, or give the reason it is unusable.

    Rules: ``time``, ``flux`` and ``flux_err`` must be present and ``SECTOR`` set. A sample is
    usable when all three are finite and ``flux`` and ``flux_err`` are positive (an integrated flux
    in e/s, and its uncertainty, cannot be ≤ 0); other samples are dropped and counted. Samples
    are sorted by time. The sector is unusable when no usable sample is left.

    Returns:
        (sector light curve, None) or (None, reason).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        return None, f"missing columns: {', '.join(missing)}"
    if table.sector is None:
        return None, "no SECTOR keyword in the table header"
    time = table.columns["time"]
    flux = table.columns["flux"]
    flux_err = table.columns["flux_err"]
    if time.size == 0:
        return None, "empty table"
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(time) & np.isfinite(flux) & np.isfinite(flux_err)
        usable = finite & (flux > 0) & (flux_err > 0)
    if not usable.any():
        if not finite.any():
            return None, "no finite flux"
        if not (flux[finite] > 0).any():
            return None, "no positive flux"
        return None, "no sample with positive flux and flux_err"
    time, flux, flux_err = time[usable], flux[usable], flux_err[usable]
    if np.any(np.diff(time) < 0):
        order = np.argsort(time, kind="stable")
        time, flux, flux_err = time[order], flux[order], flux_err[order]
    return (
        SectorLightCurve(
            hdu=table.hdu,
            sector=table.sector,
            time_btjd=time,
            flux_e_per_s=flux,
            flux_err_e_per_s=flux_err,
            cadence_s=median_cadence_s(time),
            n_dropped=int((~usable).sum()),
        ),
        None,
    )


def validate_cluster(raw: RawELKFile, galaxy: str) -> tuple[ClusterLightCurve | None, str | None]:
    """Validate a raw ELK file: header facts plus every sector (see :func:`validate_sector`).

    Returns:
        (cluster, None), with unusable sectors listed in ``sector_problems``; or (None, reason)
        when the file has no name or no usable sector table.
    """
    name = raw.header.get("NAME")
    if not name:
        return None, "no NAME in the primary header"
    if not raw.tables:
        return None, "no sector tables"
    sectors, problems = [], []
    for table in raw.tables:
        sector, reason = validate_sector(table)
        if sector is not None and any(s.sector == sector.sector for s in sectors):
            sector, reason = None, f"duplicate sector {sector.sector} (first kept)"
        if sector is None:
            problems.append((table.hdu, table.sector, reason))
        else:
            sectors.append(sector)
    if not sectors:
        reasons = "; ".join(sorted({p[2] for p in problems}))
        return None, f"no usable sector tables ({reasons})"
    ra, dec = _parse_location(raw.header.get("LOCATION"))
    return (
        ClusterLightCurve(
            name=str(name),
            galaxy=galaxy,
            log_age=_as_float(raw.header.get("LOG_AGE")),
            ra_deg=ra,
            dec_deg=dec,
            radius_deg=_as_float(raw.header.get("RADIUS")) or float("nan"),
            n_obs=_as_int(raw.header.get("N_OBS")),
            n_good=_as_int(raw.header.get("N_GOOD")),
            sectors=sectors,
            file=raw.path,
            sector_problems=problems,
        ),
        None,
    )


def elk_file_bytes(header: dict[str, Any], tables: list[RawSectorTable], compress: bool = False) -> bytes:
    """An ELK-format file (primary header + one BINTABLE per sector) as bytes, gzip-compressed on request."""
    from astropy.io import fits

    primary = fits.PrimaryHDU()
    for key, value in header.items():
        if value is not None:
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
    return gzip.compress(buffer.getvalue(), mtime=0) if compress else buffer.getvalue()


def write_elk_file(path: str | Path, header: dict[str, Any], tables: list[RawSectorTable]) -> None:
    """Write an ELK-format file; a name ending in ``.gz`` is gzip-compressed.

    Used to save clusters and, in tests, to create small and deliberately broken files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(elk_file_bytes(header, tables, compress=path.name.endswith(".gz")))


def sectors_from_samples(samples: pd.DataFrame) -> dict[str, list[SectorLightCurve]]:
    """Split the long sample table (``name, sector, hdu, time, flux, flux_err, cadence_s``) back into
    each cluster's sectors, in HDU order. The arrays are views into the table's columns, not copies.

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

