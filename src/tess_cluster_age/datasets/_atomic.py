"""Atomic saves: write to a temporary file beside the target, then rename it into place.

A save that is killed or raises midway must leave the last good file, not a truncated one (a
Parquet file killed mid-write has no footer and cannot be read). On a local filesystem a rename
within one folder is atomic (``os.replace``), so readers see either the old file or the new one.

Object stores (``s3://``, ``gs://`` ...) upload an object in one request and never show a partial
one, so only the ``file`` protocol is redirected.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from typing import Any

TEMP_SUFFIX = ".tmp"
"""Temporary files are ``.<name>.<random>.tmp`` (hidden) in the target's folder."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


class AtomicFile:
    """A file opened for writing at a temporary path; renamed onto ``target`` when closed cleanly.

    Used as a context manager, an exception inside the block deletes the temporary file and
    leaves ``target`` untouched. ``close()`` outside a ``with`` block commits.
    """

    def __init__(self, fs: Any, target: str, mode: str = "wb", **kwargs: Any) -> None:
        folder = posixpath.dirname(target) or "."
        fs.makedirs(folder, exist_ok=True)
        handle, self._temp = tempfile.mkstemp(dir=folder, prefix=f".{posixpath.basename(target)}.", suffix=TEMP_SUFFIX)
        os.close(handle)
        self._target = target
        self._done = False
        try:
            self._file = fs.open(self._temp, mode, **kwargs)
        except BaseException:
            os.unlink(self._temp)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def write(self, data: Any) -> Any:
        return self._file.write(data)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def close(self) -> None:
        """Flush, sync to disk and rename the temporary file onto the target."""
        if self._done:
            return
        try:
            self._file.flush()
            try:
                os.fsync(self._file.fileno())
            except (AttributeError, OSError, ValueError):  # not a plain file: skip the sync
                pass
            self._file.close()
            os.chmod(self._temp, _FILE_MODE)
            os.replace(self._temp, self._target)
        except BaseException:
            self.discard()
            raise
        self._done = True

    def discard(self) -> None:
        """Close and delete the temporary file; the target keeps its last good content."""
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
        finally:
            try:
                os.unlink(self._temp)
            except FileNotFoundError:
                pass


class AtomicFileSystem:
    """An fsspec local filesystem whose ``open`` for writing returns an :class:`AtomicFile`.

    Every other method and attribute is the wrapped filesystem's.
    """

    def __init__(self, fs: Any) -> None:
        self._fs = fs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wx"):
            return AtomicFile(self._fs, path, mode, **kwargs)
        return self._fs.open(path, mode, **kwargs)


def atomic_filesystem(fs: Any, protocol: str) -> Any:
    """``fs`` with atomic writes when it is local (``protocol == "file"``), else ``fs`` itself."""
    return AtomicFileSystem(fs) if protocol == "file" and not isinstance(fs, AtomicFileSystem) else fs


class AtomicSaveMixin:
    """Mixin for fsspec-based Kedro datasets (``self._fs``, ``self._protocol``): atomic local saves.

    Put it first among the bases: ``class AtomicParquetDataset(AtomicSaveMixin, ParquetDataset)``.
    Works with ``versioned: true``: the temporary file is written in the version's folder.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fs = atomic_filesystem(self._fs, self._protocol)
