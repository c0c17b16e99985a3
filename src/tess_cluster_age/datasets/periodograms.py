"""``PeriodogramDataset``: periodogram vectors of many segments as one FITS file."""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str, get_protocol_and_path

from tess_cluster_age.features.vectors import Periodograms


class PeriodogramDataset(AbstractDataset[Periodograms, Periodograms]):
    """Saves and loads :class:`~tess_cluster_age.features.vectors.Periodograms` as FITS.

    Layout: primary HDU (keyword ``QUANTITY``), image HDU ``POWER`` (float32, one row per segment,
    one column per frequency), table HDU ``FREQUENCY`` (``frequency``, 1/d) and table HDU
    ``SEGMENTS`` (``segment_id``). Astronomers open it with any FITS reader.

    .. code-block:: yaml

        periodograms_classic:
          type: tess_cluster_age.datasets.PeriodogramDataset
          filepath: data/04_feature/periodograms_classic.fits
    """

    def __init__(self, *, filepath: str, fs_args: dict[str, Any] | None = None,
                 credentials: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
        """Args:
            filepath: FITS file path, local or with an fsspec protocol prefix.
            fs_args, credentials: passed to the fsspec filesystem.
            metadata: free-form metadata (kedro-viz layer etc.).
        """
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **{**(credentials or {}), **(fs_args or {})})
        self.metadata = metadata

    def load(self) -> Periodograms:
        from astropy.io import fits

        path = get_filepath_str(self._filepath, self._protocol)
        try:
            with self._fs.open(path, "rb") as handle:
                content = io.BytesIO(handle.read())
            with fits.open(content, memmap=False) as hdul:
                power = np.asarray(hdul["POWER"].data, dtype=np.float32)
                frequency = np.asarray(hdul["FREQUENCY"].data["frequency"], dtype=np.float64)
                ids = [s.strip() if isinstance(s, str) else s.decode().strip() for s in hdul["SEGMENTS"].data["segment_id"]]
                quantity = hdul[0].header.get("QUANTITY", "")
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: file does not exist") from exc
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{path}: not a periodogram file written by PeriodogramDataset ({exc})") from exc
        return Periodograms(np.array(ids, dtype=object), frequency, power.reshape(len(ids), frequency.size), quantity)

    def save(self, data: Periodograms) -> None:
        from astropy.io import fits

        if not isinstance(data, Periodograms):
            raise DatasetError(f"PeriodogramDataset saves Periodograms, got {type(data).__name__}")
        primary = fits.PrimaryHDU()
        primary.header["QUANTITY"] = data.quantity[:68]
        primary.header["FUNIT"] = ("1/d", "unit of the FREQUENCY column")
        primary.header["NSEG"] = (len(data.segment_id), "segments (rows of POWER)")
        width = max([len(s.encode()) for s in data.segment_id] + [1])
        hdus = fits.HDUList([
            primary,
            fits.ImageHDU(np.ascontiguousarray(data.power, dtype=np.float32), name="POWER"),
            fits.BinTableHDU.from_columns([fits.Column("frequency", "D", unit="1/d", array=data.frequency)], name="FREQUENCY"),
            fits.BinTableHDU.from_columns([fits.Column("segment_id", f"{width}A", array=np.array(data.segment_id, dtype=str))], name="SEGMENTS"),
        ])
        buffer = io.BytesIO()
        hdus.writeto(buffer)
        path = get_filepath_str(self._filepath, self._protocol)
        if self._protocol == "file":
            self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        with self._fs.open(path, "wb") as handle:
            handle.write(buffer.getvalue())

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._filepath, self._protocol))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}
