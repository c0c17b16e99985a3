"""``ELKLightCurveDataset``: one ELK integrated light-curve file (primary header + one table per sector)."""

from __future__ import annotations

import io
from kedro.io.core import DatasetError

from tess_cluster_age.lightcurves import ELKFileError, RawELKFile, elk_file_bytes, read_elk_file

from ._file import SingleFileDataset


class ELKLightCurveDataset(SingleFileDataset[RawELKFile, RawELKFile]):
    """Loads and saves one ELK light-curve file (``.fits`` or ``.fits.gz``).

    ELK files (Wainer et al. 2023, MAST HLSP, DOI 10.17909/f4kb-vc30) hold one star cluster: a
    header-only primary HDU and one binary table per TESS sector. ``load`` returns a
    :class:`~tess_cluster_age.lightcurves.RawELKFile` with no cuts applied; validation is the
    ingestion pipeline's job, so that every problem gets a counted outcome there.

    Usually used inside a ``PartitionedDataset`` over the galaxy folders:

    .. code-block:: yaml

        elk_light_curves:
          type: partitions.PartitionedDataset
          path: ../shared/data/elk
          dataset: tess_cluster_age.datasets.ELKLightCurveDataset

    Example:
    ::

        >>> ds = ELKLightCurveDataset(filepath="elk/LMC/hlsp_elk_tess_ffi_ngc-1818_tess_v1_llc.fits.gz")
        >>> raw = ds.load()
        >>> raw.header["NAME"], [t.sector for t in raw.tables]
    """

    def load(self) -> RawELKFile:
        try:
            return read_elk_file(self._path, fileobj=io.BytesIO(self._read_bytes()))
        except ELKFileError as exc:
            raise DatasetError(str(exc)) from exc

    def save(self, data: RawELKFile) -> None:
        if not isinstance(data, RawELKFile):
            raise DatasetError(
                f"ELKLightCurveDataset saves a RawELKFile, got {type(data).__name__}; "
                "build one with tess_cluster_age.lightcurves.RawELKFile(path, header, tables)"
            )
        self._write_bytes(elk_file_bytes(data.header, data.tables, compress=self._path.endswith(".gz")))
