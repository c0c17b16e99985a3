"""Writers of the light-curve formats that :mod:`tess_cluster_age.reading` reads, for the tests.

Each writes the samples of validated sectors (:class:`~tess_cluster_age.lightcurves.SectorLightCurve`)
in another format, so that a test can read them back and compare with the ELK file they came from.
The TESS files follow the published layouts (SPOC/TESS-SPOC, QLP, lightkurve's ``to_fits``): a
primary header with ``OBJECT``, ``TICID``, ``SECTOR``, a ``LIGHTCURVE`` table and, for SPOC, an
``APERTURE`` image. No data file is committed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.time import Time, TimeFromEpoch
from astropy.timeseries import TimeSeries

from tess_cluster_age.lightcurves import SectorLightCurve

E_PER_S = u.electron / u.s


class TimeBTJDLike(TimeFromEpoch):
    """A ``Time`` format counting days from BJD 2457000 (TDB), as lightkurve's ``btjd`` format does."""

    name = "btjd_like"
    unit = 1.0
    epoch_val = 2457000.0
    epoch_val2 = None
    epoch_scale = "tdb"
    epoch_format = "jd"


class LightCurveLike(TimeSeries):
    """lightkurve's ``LightCurve`` by its interface, without lightkurve: a ``TimeSeries`` with
    ``time``, ``flux``, ``flux_err`` columns (also as attributes) and ``meta`` (``SECTOR``, ``OBJECT``)."""

    @property
    def flux(self):
        return self["flux"]

    @property
    def flux_err(self):
        return self["flux_err"]


class CollectionLike:
    """lightkurve's ``LightCurveCollection`` by its interface: iterable, not a list."""

    def __init__(self, light_curves):
        self._light_curves = list(light_curves)

    def __iter__(self):
        return iter(self._light_curves)


def write_csv(path: Path, sectors: list[SectorLightCurve], sector_column: bool = True) -> Path:
    columns = {"time": np.concatenate([s.time_btjd for s in sectors]),
               "flux": np.concatenate([s.flux_e_per_s for s in sectors]),
               "flux_err": np.concatenate([s.flux_err_e_per_s for s in sectors])}
    if sector_column:
        columns["sector"] = np.concatenate([np.full(s.n_points, s.sector) for s in sectors])
    Table(columns).write(path, format="ascii.csv")
    return path


def write_ecsv(path: Path, sectors: list[SectorLightCurve], name: str) -> Path:
    """An ECSV table with units (time in d, flux in e/s) and the cluster name in its meta."""
    table = QTable({"time": np.concatenate([s.time_btjd for s in sectors]) * u.day,
                    "flux": np.concatenate([s.flux_e_per_s for s in sectors]) * E_PER_S,
                    "flux_err": np.concatenate([s.flux_err_e_per_s for s in sectors]) * E_PER_S,
                    "sector": np.concatenate([np.full(s.n_points, s.sector) for s in sectors])},
                   meta={"NAME": name})
    table.write(path, format="ascii.ecsv")
    return path


def write_tess_fits(path: Path, sector: SectorLightCurve, flavour: str = "spoc", tic_id: int = 123456789,
                    flux_format: str = "E") -> Path:
    """One sector as a TESS light-curve file: ``spoc`` (PDCSAP and SAP fluxes in e-/s, QUALITY,
    BJDREFI/BJDREFF, an APERTURE image), ``qlp`` (SAP_FLUX without error, KSPSAP_FLUX with its
    error, no flux unit) or ``lightkurve`` (``to_fits``: TIME in ``btjd``, FLUX, FLUX_ERR).
    ``flux_format`` is the FITS column format of the fluxes (SPOC writes E, 32-bit floats)."""
    n = sector.n_points
    primary = fits.PrimaryHDU()
    primary.header.update({"TELESCOP": "TESS", "OBJECT": f"TIC {tic_id}", "TICID": tic_id, "SECTOR": sector.sector,
                           "RA_OBJ": 80.0, "DEC_OBJ": -69.0, "RADIUS": 1.3})  # RADIUS: a stellar radius, not ELK's
    time = fits.Column(name="TIME", format="D", unit="BJD - 2457000, days", array=sector.time_btjd)
    quality = fits.Column(name="QUALITY", format="J", array=np.zeros(n, np.int32))
    if flavour == "spoc":
        columns = [time, fits.Column(name="TIMECORR", format="E", unit="d", array=np.zeros(n)),
                   fits.Column(name="SAP_FLUX", format=flux_format, unit="e-/s", array=1.1 * sector.flux_e_per_s),
                   fits.Column(name="SAP_FLUX_ERR", format=flux_format, unit="e-/s", array=sector.flux_err_e_per_s),
                   fits.Column(name="PDCSAP_FLUX", format=flux_format, unit="e-/s", array=sector.flux_e_per_s),
                   fits.Column(name="PDCSAP_FLUX_ERR", format=flux_format, unit="e-/s", array=sector.flux_err_e_per_s),
                   quality]
    elif flavour == "qlp":
        primary.header["ORIGIN"] = "MIT/QLP"
        columns = [time, fits.Column(name="SAP_FLUX", format=flux_format, array=1.1 * sector.flux_e_per_s),
                   fits.Column(name="KSPSAP_FLUX", format=flux_format, array=sector.flux_e_per_s),
                   fits.Column(name="KSPSAP_FLUX_ERR", format=flux_format, array=sector.flux_err_e_per_s), quality]
    elif flavour == "lightkurve":
        primary.header["CREATOR"] = "lightkurve.LightCurve.to_fits()"
        columns = [fits.Column(name="TIME", format="D", unit="btjd", array=sector.time_btjd),
                   fits.Column(name="FLUX", format=flux_format, unit="e-/s", array=sector.flux_e_per_s),
                   fits.Column(name="FLUX_ERR", format=flux_format, unit="e-/s", array=sector.flux_err_e_per_s),
                   fits.Column(name="SAP_QUALITY", format="J", array=np.zeros(n, np.int32))]
    else:
        raise ValueError(f"unknown flavour {flavour!r}")
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    if flavour != "lightkurve":
        table.header.update({"BJDREFI": 2457000, "BJDREFF": 0.0, "TIMEUNIT": "d", "TIMESYS": "TDB"})
    hdus = [primary, table]
    if flavour == "spoc":
        hdus.append(fits.ImageHDU(np.ones((11, 11), np.int32), name="APERTURE"))
    fits.HDUList(hdus).writeto(path)
    return path


def time_series(sector: SectorLightCurve, cls: type = TimeSeries, time_format: str = "jd", **meta) -> TimeSeries:
    """A ``TimeSeries`` (or subclass) of one sector: time an astropy ``Time`` in TDB, fluxes in e/s."""
    if time_format == "jd":  # two doubles: exact BTJD
        time = Time(np.full(sector.n_points, 2457000.0), sector.time_btjd, format="jd", scale="tdb")
    else:
        time = Time(sector.time_btjd, format=time_format, scale="tdb")
    series = cls(time=time, data={"flux": sector.flux_e_per_s * E_PER_S, "flux_err": sector.flux_err_e_per_s * E_PER_S,
                                  "quality": np.zeros(sector.n_points, np.int32)})
    series.meta.update({"SECTOR": sector.sector, **meta})
    return series
