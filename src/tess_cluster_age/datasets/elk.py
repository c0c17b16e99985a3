"""``ELKLightCurveDataset``: one ELK integrated light-curve file (primary header + one table per sector)."""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str, get_protocol_and_path

from tess_cluster_age.lightcurves import ELKFileError, RawELKFile, read_elk_file, write_elk_file


class ELKLightCurveDataset(AbstractDataset[RawELKFile, RawELKFile]):
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

    def __init__(
        self,
        *,
        filepath: str,
        fs_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for one ELK file.

        Args:
            filepath: path to the file, local or with an fsspec protocol prefix (``s3://`` ...).
                A name ending in ``.gz`` is read and written gzip-compressed.
            fs_args: extra arguments for the fsspec filesystem.
            credentials: credentials for the filesystem.
            metadata: free-form metadata (kedro-viz layer etc.); ignored by Kedro.
        """
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **{**(credentials or {}), **(fs_args or {})})
        self.metadata = metadata

    def load(self) -> RawELKFile:
        path = get_filepath_str(self._filepath, self._protocol)
        try:
            if self._protocol == "file":
                return read_elk_file(path)
            with self._fs.open(path, "rb") as handle:
                return read_elk_file(path, fileobj=io.BytesIO(handle.read()))
        except ELKFileError as exc:
            raise DatasetError(str(exc)) from exc
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: file does not exist") from exc

    def save(self, data: RawELKFile) -> None:
        if not isinstance(data, RawELKFile):
            raise DatasetError(
                f"ELKLightCurveDataset saves a RawELKFile, got {type(data).__name__}; "
                "build one with tess_cluster_age.lightcurves.RawELKFile(path, header, tables)"
            )
        path = get_filepath_str(self._filepath, self._protocol)
        if self._protocol == "file":
            write_elk_file(path, data.header, data.tables)
            return
        buffer = io.BytesIO()
        suffix = ".fits.gz" if path.endswith(".gz") else ".fits"
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            local = f"{tmp}/file{suffix}"
            write_elk_file(local, data.header, data.tables)
            with open(local, "rb") as handle:
                buffer.write(handle.read())
        with self._fs.open(path, "wb") as handle:
            handle.write(buffer.getvalue())

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._filepath, self._protocol))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}
