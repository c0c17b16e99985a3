"""Shared file access for the project's datasets: one file, local or on any fsspec filesystem."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, TypeVar

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str, get_protocol_and_path

from ._atomic import AtomicFile

In = TypeVar("In")
Out = TypeVar("Out")


class SingleFileDataset(AbstractDataset[In, Out]):
    """Base of datasets that read and write one whole file as bytes through fsspec.

    Subclasses implement ``load``/``save`` on top of :meth:`_read_bytes`/:meth:`_write_bytes`.
    """

    def __init__(self, *, filepath: str, fs_args: dict[str, Any] | None = None,
                 credentials: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
        """Create a dataset for one file.

        Args:
            filepath: path to the file, local or with an fsspec protocol prefix (``s3://`` ...).
            fs_args: extra arguments for the fsspec filesystem.
            credentials: credentials for the filesystem.
            metadata: free-form metadata (kedro-viz layer etc.); ignored by Kedro.
        """
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **{**(credentials or {}), **(fs_args or {})})
        self.metadata = metadata

    @property
    def _path(self) -> str:
        return get_filepath_str(self._filepath, self._protocol)

    def _read_bytes(self) -> bytes:
        try:
            with self._fs.open(self._path, "rb") as handle:
                return handle.read()
        except FileNotFoundError as exc:
            raise DatasetError(f"{self._path}: file does not exist") from exc

    def _write_bytes(self, content: bytes) -> None:
        """Write the whole file; locally to a temporary file renamed into place (atomic)."""
        if self._protocol == "file":
            with AtomicFile(self._fs, self._path, "wb") as handle:
                handle.write(content)
            return
        with self._fs.open(self._path, "wb") as handle:
            handle.write(content)

    def _exists(self) -> bool:
        return self._fs.exists(self._path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}
