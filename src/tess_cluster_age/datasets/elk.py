"""``ELKLightCurveDataset``: one ELK integrated light-curve file (primary header + one table per sector);
``ELKFolderDataset``: the folder of galaxy folders of such files."""

from __future__ import annotations

import functools
import io
import logging
import os
from collections.abc import Callable
from typing import Any

from kedro.io.core import DatasetError
from kedro_datasets.partitions import PartitionedDataset

from tess_cluster_age.lightcurves import ELKFileError, Issue, RawELKFile, elk_file_bytes, read_elk_file
from tess_cluster_age.reading import LightCurveInputError, list_folder, read_light_curve_file

from ._file import SingleFileDataset

logger = logging.getLogger(__name__)


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


class LightCurveFileDataset(ELKLightCurveDataset):
    """Loads one light-curve file of any format that :mod:`tess_cluster_age.reading` reads (ELK,
    a TESS light-curve FITS file, a CSV or ECSV table), in the ELK layout
    (:func:`tess_cluster_age.reading.read_light_curve_file`); saves ELK files.

    The predict pipeline reads the folder to date with it:

    .. code-block:: yaml

        predict_light_curves:
          type: tess_cluster_age.datasets.ELKFolderDataset
          path: data/01_raw/predict
          dataset: tess_cluster_age.datasets.LightCurveFileDataset
    """

    def load(self) -> RawELKFile:
        try:
            return read_light_curve_file(self._path, fileobj=io.BytesIO(self._read_bytes()))
        except (ELKFileError, LightCurveInputError) as exc:
            raise DatasetError(str(exc)) from exc


class ELKFolderDataset(PartitionedDataset):
    """The ELK light curves: a folder of galaxy folders (``MW/``, ``LMC/``, ``SMC/``) of ELK files.

    A ``PartitionedDataset`` of :class:`ELKLightCurveDataset` that also, on a local disk:

    - follows symlinked folders (``LMC -> /data/elk/LMC``, common when data lives on another
      disk), with a guard against loops (:func:`list_folder`);
    - reports each folder that holds no file as a partition whose id ends in ``/`` and whose
      loader returns the :class:`~tess_cluster_age.lightcurves.Issue` (``empty_folder``,
      ``symlink_loop``, ``unlistable_folder``), so that ingestion counts it;
    - refuses a missing or empty folder with a one-line error that says which it is.

    .. code-block:: yaml

        elk_light_curves:
          type: tess_cluster_age.datasets.ELKFolderDataset
          path: ../shared/data/elk

    Example:
    ::

        >>> partitions = ELKFolderDataset(path="../shared/data/elk").load()
        >>> raw = partitions["LMC/hlsp_elk_tess_ffi_ngc-1818_tess_v1_llc.fits.gz"]()
    """

    def __init__(self, *, path: str, dataset: str | type | dict[str, Any] = "tess_cluster_age.datasets.ELKLightCurveDataset",
                 parameter: str = "elk_dir", **kwargs: Any) -> None:
        """Create the dataset.

        Args:
            path: the folder (``elk_dir``), local or with an fsspec protocol prefix.
            dataset: the dataset of one file (default :class:`ELKLightCurveDataset`).
            parameter: the runtime parameter that sets ``path``, named in errors (``predict_dir``).
            **kwargs: further ``PartitionedDataset`` arguments.
        """
        super().__init__(path=path, dataset=dataset, **kwargs)
        self._folder_notes: dict[str, Issue] = {}
        self._parameter = parameter

    @property
    def _local_root(self) -> str | None:
        if self._protocol not in ("file", "local", None):
            return None
        return self._filesystem._strip_protocol(self._normalized_path).rstrip("/") or "/"

    def _list_partitions(self) -> list[str]:
        root = self._local_root
        if root is None:
            return super()._list_partitions()
        if self._cached_partitions is None:
            files, self._folder_notes = list_folder(root)
            self._cached_partitions = [f for f in files if f.endswith(self._filename_suffix)]
        return self._cached_partitions

    def _check_root(self) -> None:
        """Raise a one-line DatasetError when the local folder is missing or empty."""
        root = self._local_root
        if root is None:
            return
        problem = None
        if not os.path.exists(root):
            link = " (a symlink to a missing target)" if os.path.islink(root) else ""
            problem = f"{self._parameter} {root!r} does not exist{link}"
        elif not os.path.isdir(root):
            problem = f"{self._parameter} {root!r} is not a folder"
        elif not self._list_partitions():
            problem = f"{self._parameter} {root!r} is empty: it holds no file"
        if problem:
            message = (f"{problem}. It should hold one folder per galaxy (MW/, LMC/, SMC/) of ELK files; "
                       + ("set it with ELK_DIR=... (make) or " if self._parameter == "elk_dir" else "set it with ")
                       + f"--params={self._parameter}=... (kedro run).")
            logger.error(message)
            raise DatasetError(message)

    def load(self) -> dict[str, Callable[[], Any]]:
        self._invalidate_caches()
        self._check_root()
        partitions = super().load()
        for folder, issue in self._folder_notes.items():
            partitions[f"{folder}/"] = functools.partial(_folder_issue, issue)
        return partitions


def _folder_issue(issue: Issue) -> Issue:
    return issue
