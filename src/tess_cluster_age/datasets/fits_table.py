"""``FitsTableDataset``: a FITS binary table as a pandas DataFrame (catalogues, feature tables)."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pandas as pd
from kedro.io.core import DatasetError

from tess_cluster_age import provenance

from ._file import SingleFileDataset


class FitsTableDataset(SingleFileDataset[pd.DataFrame, pd.DataFrame]):
    """Loads and saves one binary-table HDU of a FITS file as a ``pandas.DataFrame``.

    Byte-swapped (big-endian) columns are converted to native floats and integers, text columns
    are stripped Python strings, and masked values become NaN (or None for text). Astropy's
    warnings about non-standard unit strings, common in VizieR catalogues, are silenced: units are
    not used. Saving writes a primary HDU plus one BINTABLE and overwrites the file. A provenance
    record in ``DataFrame.attrs`` (:mod:`tess_cluster_age.provenance`) is kept as the JSON text of
    primary keyword ``PROVENAN``.

    .. code-block:: yaml

        glatt_catalogue:
          type: tess_cluster_age.datasets.FitsTableDataset
          filepath: ../shared/data/reference/Glatt_Cut_down.fits
          load_args:
            hdu: 1
            columns: [Name, RA, DEC, Age]

    Example:
    ::

        >>> FitsTableDataset(filepath="clusters.fits").save(pd.DataFrame({"name": ["NGC 1818"], "log_age": [7.4]}))
        >>> FitsTableDataset(filepath="clusters.fits").load()
    """

    DEFAULT_LOAD_ARGS: dict[str, Any] = {"hdu": 1, "columns": None}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {"extname": None}

    def __init__(
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for one FITS table.

        Args:
            filepath: path to the FITS file, local or with an fsspec protocol prefix.
            load_args: ``hdu`` (index or EXTNAME of the table, default 1) and ``columns``
                (subset to keep, default all).
            save_args: ``extname`` of the written table HDU.
            fs_args: extra arguments for the fsspec filesystem.
            credentials: credentials for the filesystem.
            metadata: free-form metadata (kedro-viz layer etc.); ignored by Kedro.
        """
        super().__init__(filepath=filepath, fs_args=fs_args, credentials=credentials, metadata=metadata)
        unknown_load = set(load_args or {}) - set(self.DEFAULT_LOAD_ARGS)
        unknown_save = set(save_args or {}) - set(self.DEFAULT_SAVE_ARGS)
        if unknown_load or unknown_save:
            raise DatasetError(
                f"FitsTableDataset({filepath}): unknown arguments {sorted(unknown_load | unknown_save)}; "
                f"load_args takes {sorted(self.DEFAULT_LOAD_ARGS)}, save_args takes {sorted(self.DEFAULT_SAVE_ARGS)}"
            )
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}

    def load(self) -> pd.DataFrame:
        from astropy.io import fits
        from astropy.table import Table

        path = self._path
        content = io.BytesIO(self._read_bytes())
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module="astropy.units")
                warnings.filterwarnings("ignore", message=".*did not parse as fits unit.*")
                with fits.open(content, memmap=False) as hdul:
                    table = Table(hdul[self._load_args["hdu"]].data)
                    attrs = provenance.from_json(hdul[0].header.get(provenance.FITS_KEYWORD))
        except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot read table HDU {self._load_args['hdu']!r} ({exc})") from exc
        columns = self._load_args["columns"] or table.colnames
        missing = [c for c in columns if c not in table.colnames]
        if missing:
            raise DatasetError(f"{path}: no columns {missing}; the table has {table.colnames}")
        frame = pd.DataFrame({c: _to_native(table[c]) for c in columns})
        frame.attrs.update(attrs)
        return frame

    def save(self, data: pd.DataFrame) -> None:
        from astropy.io import fits
        from astropy.table import Table

        if not isinstance(data, pd.DataFrame):
            raise DatasetError(f"FitsTableDataset saves a pandas DataFrame, got {type(data).__name__}")
        table = Table.from_pandas(data.reset_index(drop=True))
        hdu = fits.table_to_hdu(table)
        if self._save_args["extname"]:
            hdu.header["EXTNAME"] = self._save_args["extname"]
        primary = fits.PrimaryHDU()
        if (record := provenance.to_json(data)) is not None:
            primary.header[provenance.FITS_KEYWORD] = record
        buffer = io.BytesIO()
        fits.HDUList([primary, hdu]).writeto(buffer)
        self._write_bytes(buffer.getvalue())

    def _describe(self) -> dict[str, Any]:
        return {
            **super()._describe(),
            "load_args": self._load_args,
            "save_args": self._save_args,
        }


def _to_native(column) -> np.ndarray | list:
    """A FITS column as a native-endian array; masked entries as NaN, or None for text.

    A vector column whose cells hold one element each is flattened; a true vector column
    becomes a list of per-row arrays.
    """
    values = np.ma.asarray(column)
    if values.ndim > 1:
        if int(np.prod(values.shape[1:])) == 1:
            values = values.reshape(values.shape[0])
        else:
            return [np.ma.filled(row.astype(np.float64), np.nan) if row.dtype.kind in "fiu" else np.asarray(row) for row in values]
    if values.dtype.kind in "SU":
        text = [v.decode() if isinstance(v, bytes) else str(v) for v in values.filled("").tolist()]
        text = [t.strip() for t in text]
        mask = np.ma.getmaskarray(values)
        return [None if m else t for t, m in zip(text, mask)]
    if values.dtype.kind == "b":
        return values.filled(False).astype(bool)
    if values.dtype.kind in "iu" and not np.ma.getmaskarray(values).any():
        return values.filled(0).astype(values.dtype.newbyteorder("="))
    return values.astype(np.float64).filled(np.nan)
