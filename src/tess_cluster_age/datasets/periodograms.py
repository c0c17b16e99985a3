"""``PeriodogramDataset``: periodogram vectors of many segments as one FITS file."""

from __future__ import annotations

import io

import numpy as np
from kedro.io.core import DatasetError

from tess_cluster_age import provenance
from tess_cluster_age.features.periodograms import Periodograms

from ._file import SingleFileDataset


class PeriodogramDataset(SingleFileDataset[Periodograms, Periodograms]):
    """Saves and loads :class:`~tess_cluster_age.features.periodograms.Periodograms` as FITS.

    Layout: primary HDU (keyword ``QUANTITY``), image HDU ``POWER`` (float32, one row per segment,
    one column per frequency), table HDU ``FREQUENCY`` (``frequency``, 1/d) and table HDU
    ``SEGMENTS`` (``segment_id``). Astronomers open it with any FITS reader. The provenance
    record (:mod:`tess_cluster_age.provenance`) is the JSON text of primary keyword ``PROVENAN``.

    .. code-block:: yaml

        periodograms_classic:
          type: tess_cluster_age.datasets.PeriodogramDataset
          filepath: data/04_feature/periodograms_classic.fits
    """

    def load(self) -> Periodograms:
        from astropy.io import fits

        content = io.BytesIO(self._read_bytes())
        try:
            with fits.open(content, memmap=False) as hdul:
                power = np.asarray(hdul["POWER"].data, dtype=np.float32)
                frequency = np.asarray(hdul["FREQUENCY"].data["frequency"], dtype=np.float64)
                ids = [s.strip() if isinstance(s, str) else s.decode().strip() for s in hdul["SEGMENTS"].data["segment_id"]]
                quantity = hdul[0].header.get("QUANTITY", "")
                attrs = provenance.from_json(hdul[0].header.get(provenance.FITS_KEYWORD))
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{self._path}: not a periodogram file written by PeriodogramDataset ({exc})") from exc
        return Periodograms(np.array(ids, dtype=object), frequency, power.reshape(len(ids), frequency.size), quantity, attrs)

    def save(self, data: Periodograms) -> None:
        from astropy.io import fits

        if not isinstance(data, Periodograms):
            raise DatasetError(f"PeriodogramDataset saves Periodograms, got {type(data).__name__}")
        primary = fits.PrimaryHDU()
        primary.header["QUANTITY"] = data.quantity[:68]
        primary.header["FUNIT"] = ("1/d", "unit of the FREQUENCY column")
        primary.header["NSEG"] = (len(data.segment_id), "segments (rows of POWER)")
        if (record := provenance.to_json(data)) is not None:
            primary.header[provenance.FITS_KEYWORD] = record
        width = max([len(s.encode()) for s in data.segment_id] + [1])
        hdus = fits.HDUList([
            primary,
            fits.ImageHDU(np.ascontiguousarray(data.power, dtype=np.float32), name="POWER"),
            fits.BinTableHDU.from_columns([fits.Column("frequency", "D", unit="1/d", array=data.frequency)], name="FREQUENCY"),
            fits.BinTableHDU.from_columns([fits.Column("segment_id", f"{width}A", array=np.array(data.segment_id, dtype=str))], name="SEGMENTS"),
        ])
        buffer = io.BytesIO()
        hdus.writeto(buffer)
        self._write_bytes(buffer.getvalue())
