"""Model files that are safe to share: reading one never runs code from it.

A pickle is a program: loading it may call any function the file names. A model file here holds only
data, as one zip archive per model pipeline (``<pipeline>.zip``):

- ``manifest.json``: the format and its version, the package versions that wrote it, the bundle's
  metadata (:class:`~tess_cluster_age.models.bundle.TrainedModels`: feature columns and ranges,
  provenance, per model its parameters entry and cross-validated skill), and per model two trees:
  ``estimators``, the fitted estimator (its class path ``"module:Class"``, its constructor
  parameters from ``get_params`` and its fitted attributes, nested estimators described the same
  way), and ``predictors``, its fitted predictor (:mod:`tess_cluster_age.models.predictors`:
  arrays and numbers only), which is what dating reads, without importing PyTorch or
  scikit-learn. The two trees share their arrays (each array is stored once);
- ``arrays/<n>.bin``: the raw bytes of every array of model ``n`` (tree node tables, ridge
  coefficients, scalers, network weights), each at an offset aligned to 64 bytes, as in
  safetensors; the manifest gives each array's dtype, shape and offset, and it is read back with
  ``numpy.frombuffer``, which cannot run code. Only numbers, booleans and text are stored (a table
  such as a tree's nodes column by column, which compresses better).

Reading checks each class path in the manifest against allow-lists of this package's estimators
(:data:`ESTIMATOR_CLASSES`) and of their predictors, members and scalers (:data:`STATE_CLASSES`),
*before* importing it. An estimator is rebuilt as ``Class(**parameters)`` plus its fitted
attributes; a predictor, member or scaler from its attributes alone, then checked (a forest's node
tables must point inside each tree and below each node, so that walking them cannot loop). No
class of another package is ever rebuilt, and nothing is unpickled or ``torch.load``-ed. A file
that is not a zip (a renamed pickle, a truncated file), is damaged (zip's CRC-32), names a class
outside the allow-lists, asks for an object array or for bytes outside its buffer, holds a tree
that would loop, or was written in another format version raises :class:`ModelFileError`, whose
message names the file and the problem.

Why not skops for the scikit-learn estimators: skops 0.16.0 installs beside scikit-learn 1.9.1, and
``skops.io.loads(data, trusted=["sklearn.tree._tree.Tree"])`` loads forests and ridges. But
``import skops.io`` imports every scikit-learn estimator (``sklearn.utils.all_estimators``) to build
its default trusted list: measured here, 4.4 s on top of the 2.8 s of importing the parts of
scikit-learn used, while dating a cluster must take two seconds in all; and dating needs no
scikit-learn at all once a forest is its node tables. Why not safetensors for the network
weights: the same layout (a JSON description and aligned raw bytes) serves every array here,
including the tree tables, whose dtype has named fields that safetensors does not store, without
another dependency.

Why one zip file rather than a folder: a versioned Kedro dataset writes it atomically (one
temporary file renamed into place), a colleague receives one file, and a truncated file has no
central directory, so it is refused instead of half read. Arrays are deflated: the forests of
``random_forest`` (pooled and per galaxy, ``min_samples_leaf: 1``, 324 clusters) take 14.7 MiB
instead of 68 MiB as a pickle. Each model's arrays are read when that model is first used
(:class:`TrainedModels.models <tess_cluster_age.models.bundle.TrainedModels>` is lazy), so dating
with one model reads only its own (``benchmarks/model_files.py`` measures sizes and load times).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import json
import logging
import math
import os
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from tess_cluster_age.config import resolve
from tess_cluster_age.models import ESTIMATORS
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.project import project_models_folder
from tess_cluster_age.provenance import NOT_INSTALLED, package_versions

logger = logging.getLogger(__name__)

FORMAT = "tess-cluster-age trained models"
"""The ``format`` entry of every manifest."""

FORMAT_VERSION = 5
"""The manifest layout this module writes and reads. Raise it when the layout changes; a file of
another version is refused with a message that names the version it needs. Version 2 added the
predictors and stores no scikit-learn or PyTorch object (version 1 stored scikit-learn's trees and
each network's ``state_dict``). Version 3: a ``MemberEnsemble``'s sigma scales are keyed by
``(galaxy, predicted-age bin)`` with the bins' ``calibration_bin_edges`` beside them (version 2
keyed them by galaxy). Version 4: a ``MemberEnsemble`` also holds ``interval_scale``, one factor
per calibrated interval (68 %, 95 %) in each of those cells. Version 5: it holds ``interval_scale``
only (the Gaussian's factor, ``sigma_scale``, is the mean of a cell's interval factors)."""

MANIFEST = "manifest.json"
SUFFIX = ".zip"
"""Model files are ``<pipeline>.zip`` (in Kedro's versioned layout ``<pipeline>.zip/<version>/<pipeline>.zip``)."""

ESTIMATOR_CLASSES: frozenset[str] = frozenset({*ESTIMATORS.values(), "tess_cluster_age.models.base:PerGalaxy",
                                               "tess_cluster_age.models.tuning:TunedAgeModel",
                                               "tess_cluster_age.models.combined:CombinedAgeModel"})
"""This package's estimators (the registry :data:`tess_cluster_age.models.ESTIMATORS`, the two wrappers and the mixture of models)."""

STATE_CLASSES: frozenset[str] = frozenset({"tess_cluster_age.models.preprocessing:Standardiser",
                                           *(f"tess_cluster_age.models.predictors:{name}"
                                             for name in ("GalaxyMeans", "MemberEnsemble", "GalaxyRouter", "NetworkMember", "TreeEnsembleMember",
                                                          "BoostedTreesMember", "LinearMember", "ModelMixture"))})
"""Predictors, members and scalers, rebuilt from their attributes alone (no constructor call)."""

ALLOWED: dict[str, frozenset[str]] = {"$estimator": ESTIMATOR_CLASSES, "$object": STATE_CLASSES}
"""Manifest entry kind -> the class paths it may name."""

VALUE_TAGS = frozenset({"$float", "$tuple", "$items", "$scalar"})
"""Tagged entries that hold plain values (the only ones the metadata may hold)."""

TAGS = frozenset({*VALUE_TAGS, "$array", "$frame", *ALLOWED})
"""Every kind of tagged entry (a JSON object with one key starting with ``$``)."""

ARRAY_KINDS = "biufU"
"""numpy dtype kinds an array may have: booleans, integers, floats and fixed-width text (never objects)."""

ALIGNMENT = 64
"""Arrays start at multiples of this many bytes in their buffer."""

COMPRESSION_LEVEL = 6
"""zlib level of every member (the tree tables of a forest shrink about fourfold)."""

WRITTEN_WITH = ("numpy", "scikit-learn", "torch")
"""Packages whose versions a model file records (the ones that trained its models)."""

PREDICTS_WITH = ("numpy",)
"""Packages that compute a predictor's numbers: a different version when reading is worth a warning."""


class ModelFileError(ValueError):
    """A model file that is refused: not a model file, damaged, tampered with, or of another format version.

    Attributes:
        file: the file (as given).
        problem: what is wrong, and what to do.
    """

    def __init__(self, file: Any, problem: str) -> None:
        self.file, self.problem = str(file), problem
        super().__init__(f"{file}: {problem}")


def class_path(cls: type) -> str:
    """``"module:QualifiedName"`` of a class (the form of :data:`tess_cluster_age.models.ESTIMATORS`)."""
    return f"{cls.__module__}:{cls.__qualname__}"


# ------------------------------------------------------------------------------------ writing
class _Encoder:
    """Turns a value into a JSON tree; its arrays go, as raw bytes, into one buffer (member ``buffer``)."""

    def __init__(self, buffer: str | None) -> None:
        self.buffer = buffer
        self.chunks: list[bytes] = []
        self.size = 0
        self.stored: dict[tuple, tuple[np.ndarray, dict[str, Any]]] = {}

    def _add(self, values: np.ndarray) -> int:
        """Append an array's bytes at the next multiple of :data:`ALIGNMENT`; return the offset."""
        padding = -self.size % ALIGNMENT
        self.chunks.append(b"\0" * padding)
        offset = self.size + padding
        data = np.ascontiguousarray(values).tobytes()
        self.chunks.append(data)
        self.size = offset + len(data)
        return offset

    def __call__(self, value: Any, where: str) -> Any:  # noqa: PLR0911, PLR0912 - one branch per kind
        if isinstance(value, np.generic):
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{where}: cannot save a numpy {value.dtype} scalar")
            return {"$scalar": {"dtype": value.dtype.str, "value": self(value.item(), where)}}
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.ndarray):
            return {"$array": self._array(value, where)}
        if isinstance(value, tuple):
            return {"$tuple": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            if all(isinstance(k, str) and not k.startswith("$") for k in value):
                return {str(k): self(v, f"{where}.{k}") for k, v in value.items()}
            return {"$items": [[self(k, f"{where} key"), self(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        if isinstance(value, pd.DataFrame):
            return {"$frame": self._frame(value, where)}
        path = class_path(type(value))
        if path in ALLOWED["$estimator"]:
            params = value.get_params(deep=False)
            fitted = {k: v for k, v in vars(value).items() if k not in params}
            return {"$estimator": {"class": path, "parameters": self(params, f"{where}.parameters"), "fitted": self(fitted, where)}}
        if path in STATE_CLASSES:
            return {"$object": {"class": path, "attributes": self(dict(vars(value)), where)}}
        raise TypeError(f"{where}: a {path} cannot be saved in a model file (not in the allow-lists of "
                        f"tess_cluster_age.models.persistence); add its class there, with a round-trip test")

    def _array(self, value: np.ndarray, where: str) -> dict[str, Any]:
        if self.buffer is None:
            raise TypeError(f"{where}: metadata holds only JSON values, not arrays")
        # an array reached twice (an estimator and its predictor share their members) is stored once;
        # the array is kept referenced so that its memory, hence its address, stays its own
        key = (value.__array_interface__["data"][0], value.dtype.str, value.shape, value.strides, str(value.dtype.descr))
        if key in self.stored:
            return self.stored[key][1]
        entry = self._new_array(value, where)
        self.stored[key] = (value, entry)
        return entry

    def _new_array(self, value: np.ndarray, where: str) -> dict[str, Any]:
        as_object = value.dtype.kind == "O"
        if as_object:
            if not all(isinstance(v, str) for v in value.flat):
                raise TypeError(f"{where}: an object array is saved only when it holds strings")
            value = value.astype(str)
        fields = value.dtype.names or ()
        if any(value.dtype[f].kind not in ARRAY_KINDS or value.dtype[f].shape for f in fields) or \
                (not fields and value.dtype.kind not in ARRAY_KINDS):
            raise TypeError(f"{where}: cannot save an array of dtype {value.dtype} (numbers, booleans and text only)")
        entry: dict[str, Any] = {"buffer": self.buffer, "shape": list(value.shape)}
        if fields:   # a table (scikit-learn's tree nodes): one column after another, which compresses better
            entry["dtype"] = {"names": list(fields), "formats": [value.dtype[f].str for f in fields],
                              "offsets": [value.dtype.fields[f][1] for f in fields], "itemsize": value.dtype.itemsize}
            entry["offsets"] = [self._add(value[f]) for f in fields]
        else:
            entry["dtype"], entry["offset"] = value.dtype.str, self._add(value)
        if as_object:
            entry["object"] = True
        return entry

    def _frame(self, frame: pd.DataFrame, where: str) -> dict[str, Any]:
        if not frame.index.equals(pd.RangeIndex(len(frame))) or not all(isinstance(c, str) for c in frame.columns):
            raise TypeError(f"{where}: a table is saved only with string column names and the default index 0..n-1")
        dtypes = []
        for column in frame.columns:
            dtype = frame[column].dtype
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_string_dtype(dtype)) \
                    or isinstance(dtype, pd.CategoricalDtype):
                raise TypeError(f"{where}.{column}: cannot save a column of dtype {dtype}")
            dtypes.append(str(dtype))
        values = [self._array(frame[c].to_numpy(), f"{where}.{c}") for c in frame.columns]
        return {"columns": list(frame.columns), "dtypes": dtypes, "values": values}


@functools.cache
def _versions() -> dict[str, str]:
    """The installed versions of tess-cluster-age and :data:`WRITTEN_WITH` (those installed)."""
    names = ("tess-cluster-age", *WRITTEN_WITH)
    installed = package_versions(names)
    return {name: installed[name] for name in names if installed[name] != NOT_INSTALLED}


def save_models(bundle: TrainedModels, file: str | os.PathLike | IO[bytes]) -> None:
    """Write ``bundle`` as a model file (see the module docstring) to a path or a binary file object.

    Raises:
        TypeError: an estimator holds a value of a type that cannot be saved (named with its place).
    """
    if not isinstance(bundle, TrainedModels):
        raise TypeError(f"save_models saves a TrainedModels bundle, got {type(bundle).__name__}")
    metadata = _Encoder(None)(bundle.metadata, "metadata")
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION_LEVEL) as archive:
        estimators, predictors = {}, {}
        for number, (name, model) in enumerate(bundle.models.items()):
            encode = _Encoder(f"arrays/{number:03d}.bin")
            estimators[name] = encode(model, name)
            predictors[name] = encode(model.predictor(), f"{name} predictor")
            if encode.chunks:
                archive.writestr(encode.buffer, b"".join(encode.chunks))
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "written_with": _versions(), "metadata": metadata,
                    "estimators": estimators, "predictors": predictors}
        archive.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":"), allow_nan=False))


# ------------------------------------------------------------------------------------ reading
@functools.cache
def _import(path: str) -> type:
    return resolve(path)


def allowed_class(kind: str, path: Any, file: str, where: str) -> type:
    """The class named ``path`` for a manifest entry of ``kind``, imported only if its allow-list holds it."""
    if not isinstance(path, str) or path not in ALLOWED[kind]:
        raise ModelFileError(file, f"{where}: class {path!r} is not one this package's model files may hold; refused without "
                                   f"importing it (allowed: {', '.join(sorted(ALLOWED[kind]))})")
    return _import(path)


@functools.cache
def _methods(cls: type) -> frozenset[str]:
    """Names of the methods and properties of ``cls`` (an attribute read from a file may not hide one)."""
    members = {name: inspect.getattr_static(cls, name) for name in dir(cls)}
    return frozenset(name for name, member in members.items() if callable(member) or isinstance(member, property))


class _Decoder:
    """Rebuilds values from a manifest tree, reading arrays from ``archive``; checks each class before importing it."""

    def __init__(self, archive: zipfile.ZipFile | None, file: str) -> None:
        self.archive, self.file = archive, file
        self.tags = TAGS if archive is not None else VALUE_TAGS
        self.buffers: dict[str, bytearray] = {}

    def fail(self, where: str, problem: str) -> ModelFileError:
        return ModelFileError(self.file, f"{where}: {problem}")

    def tag(self, node: Any, where: str) -> tuple[str, Any] | None:
        """``(tag, content)`` of a tagged entry, None for a plain JSON object; refuses an unknown tag."""
        if not isinstance(node, dict) or not any(k.startswith("$") for k in node):
            return None
        if len(node) != 1 or next(iter(node)) not in self.tags:
            raise self.fail(where, f"unknown entry {sorted(node)}: this file was not written by tess-cluster-age, or was edited")
        return next(iter(node.items()))

    def __call__(self, node: Any, where: str) -> Any:  # noqa: PLR0911 - one branch per kind
        tagged = self.tag(node, where)
        if tagged is None:
            if isinstance(node, dict):
                return {k: self(v, f"{where}.{k}") for k, v in node.items()}
            if isinstance(node, list):
                return [self(v, f"{where}[{i}]") for i, v in enumerate(node)]
            return node
        tag, content = tagged
        try:
            if tag == "$float":
                return float(content) if content in ("nan", "inf", "-inf") else self._bad(where, content)
            if tag == "$tuple":
                return tuple(self(content, where))
            if tag == "$items":
                return {self(k, where): self(v, where) for k, v in content}
            if tag == "$scalar":
                dtype = np.dtype(content["dtype"])
                return dtype.type(self(content["value"], where)) if dtype.kind in "biuf" else self._bad(where, dtype)
            if tag == "$array":
                return self._array(content, where)
            if tag == "$frame":
                return pd.DataFrame({c: pd.Series(self._array(v, f"{where}.{c}"), dtype=t)
                                     for c, t, v in zip(content["columns"], content["dtypes"], content["values"], strict=True)})
            cls = allowed_class(tag, content["class"], self.file, where)
            if tag == "$estimator":
                model = cls(**self(content["parameters"], f"{where}.parameters"))
                return self._set_attributes(model, self(content["fitted"], where), where)
            if tag == "$object":
                rebuilt = self._set_attributes(cls.__new__(cls), self(content["attributes"], where), where)
                if hasattr(cls, "problem") and (problem := rebuilt.problem()) is not None:   # e.g. a tree that loops
                    raise self.fail(where, problem)
                return rebuilt
            raise self.fail(where, f"unknown entry {tag!r}")
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise self.fail(where, f"cannot be rebuilt ({type(exc).__name__}: {exc})") from exc

    def _set_attributes(self, obj: Any, attributes: Mapping[str, Any], where: str) -> Any:
        """``obj`` with ``attributes`` set; refuses a name that would hide one of its class's methods or properties."""
        hiding = sorted(set(attributes) & _methods(type(obj)))
        if hiding:
            raise self.fail(where, f"attributes {hiding} would replace methods of {class_path(type(obj))}")
        vars(obj).update(attributes)
        return obj

    def _bad(self, where: str, value: Any) -> Any:
        raise self.fail(where, f"unexpected value {value!r}")

    def _buffer(self, member: str, where: str) -> bytearray:
        if member not in self.buffers:
            try:
                self.buffers[member] = bytearray(self.archive.read(member))
            except (zipfile.BadZipFile, zlib.error, KeyError, EOFError) as exc:
                raise self.fail(where, f"{member} is damaged or missing ({exc})") from exc
        return self.buffers[member]

    def _dtype(self, description: Any, where: str) -> np.dtype:
        """A dtype of numbers, booleans or text (or a table of them) from its description; never an object dtype."""
        if isinstance(description, dict):
            formats = [self._dtype(f, where) for f in description["formats"]]
            return np.dtype({"names": description["names"], "formats": formats, "offsets": description["offsets"],
                             "itemsize": description["itemsize"]})
        dtype = np.dtype(str(description))
        if dtype.kind not in ARRAY_KINDS or dtype.names or dtype.shape:
            raise self.fail(where, f"arrays of dtype {description!r} are never loaded (numbers, booleans and text only)")
        return dtype

    def _array(self, content: Mapping[str, Any], where: str) -> np.ndarray:
        buffer = self._buffer(content["buffer"], where)
        dtype = self._dtype(content["dtype"], where)
        shape = tuple(content["shape"])
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            raise self.fail(where, f"array shape {list(shape)} is not a list of sizes")
        count = math.prod(shape)
        names = dtype.names or ()
        columns = [(dtype[n], o) for n, o in zip(names, content["offsets"], strict=True)] if names else [(dtype, content["offset"])]
        for column, offset in columns:
            if not isinstance(offset, int) or offset < 0 or offset + count * column.itemsize > len(buffer):
                raise self.fail(where, f"array at byte {offset!r} reaches beyond the {len(buffer)} bytes of {content['buffer']}")
        if names:
            array = np.zeros(shape, dtype)
            for name, (column, offset) in zip(names, columns):
                array[name] = np.frombuffer(buffer, column, count, offset).reshape(shape)
        else:
            array = np.frombuffer(buffer, dtype, count, content["offset"]).reshape(shape)
        return array.astype(object) if content.get("object") else array


def _pickle_hint(head: bytes) -> str:
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return ("it is a pickle, which is never loaded because loading a pickle runs code from the file; "
                "ask for the model file (.zip) or retrain with `kedro run --pipeline=<pipeline>`")
    return "it is not a tess-cluster-age model file (a zip archive with a manifest.json), or it is truncated"


class _ModelFile:
    """An opened model file (a path, or its bytes): manifest read and checked; estimators decoded on request."""

    def __init__(self, source: str | bytes, file: str) -> None:
        self.source, self.file = source, file
        with self._archive() as archive:
            try:
                manifest = json.loads(archive.read(MANIFEST))
            except KeyError:
                raise ModelFileError(file, f"a zip archive without {MANIFEST}: not a tess-cluster-age model file") from None
            except (ValueError, RecursionError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ModelFileError(file, f"{MANIFEST} is damaged ({exc})") from exc
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ModelFileError(file, f"{MANIFEST} does not describe {FORMAT!r}: not a tess-cluster-age model file")
            written_with = manifest.get("written_with") if isinstance(manifest.get("written_with"), dict) else {}
            version, writer = manifest.get("format_version"), written_with.get("tess-cluster-age", "unknown")
            if version != FORMAT_VERSION:
                needs = f"format {version}" if isinstance(version, int) else f"an unknown format ({version!r})"
                advice = ("a newer tess-cluster-age: upgrade it" if isinstance(version, int) and version > FORMAT_VERSION
                          else f"the tess-cluster-age that wrote it ({writer}), or retrain the models with this one")
                raise ModelFileError(file, f"written in model-file {needs} by tess-cluster-age {writer}; this tess-cluster-age "
                                           f"({_versions().get('tess-cluster-age', 'unknown')}) reads format {FORMAT_VERSION} only. It needs {advice}")
            for key in ("metadata", "estimators", "predictors"):
                if not isinstance(manifest.get(key), dict):
                    raise ModelFileError(file, f"{MANIFEST} has no {key!r} mapping")
        self.manifest, self.written_with = manifest, written_with
        self._warn_on_versions()

    def _archive(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(io.BytesIO(self.source) if isinstance(self.source, bytes) else self.source)
        except (zipfile.BadZipFile, EOFError) as exc:
            if isinstance(self.source, bytes):
                head = self.source[:2]
            else:
                with open(self.source, "rb") as handle:
                    head = handle.read(2)
            raise ModelFileError(self.file, _pickle_hint(head)) from exc

    def _warn_on_versions(self) -> None:
        written, here = self.written_with, _versions()
        for name in PREDICTS_WITH:
            if name in written and name in here and written[name] != here[name]:
                logger.warning("%s: written with %s %s, this environment has %s; predictions may differ slightly", self.file, name,
                               written[name], here[name])

    def decode(self, part: str, name: str) -> Any:
        """Model ``name`` of the manifest's ``part`` (``estimators`` or ``predictors``), rebuilt."""
        with self._archive() as archive:
            model = _Decoder(archive, self.file)(self.manifest[part][name], name if part == "estimators" else f"{name} predictor")
        logger.debug("%s: %s of model %s loaded", self.file, part, name)
        return model


class LazyModels(Mapping[str, Any]):
    """Model name -> fitted estimator (or predictor, ``part="predictors"``) of one model file, each
    rebuilt on first access and kept."""

    def __init__(self, model_file: _ModelFile, part: str = "estimators") -> None:
        self._file, self._part = model_file, part
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in self._file.manifest[self._part]:
                raise KeyError(name)
            self._loaded[name] = self._file.decode(self._part, name)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._file.manifest[self._part])

    def __len__(self) -> int:
        return len(self._file.manifest[self._part])

    def __repr__(self) -> str:
        return f"LazyModels({self._file.file!r} {self._part}: {list(self)}, loaded {list(self._loaded)})"


def read_models(source: str | os.PathLike | bytes) -> TrainedModels:
    """The bundle of one model file (a path, or the file's bytes); estimators load on first use.

    Raises:
        ModelFileError: not a model file, damaged, a class outside the allow-lists, or another format version.
        FileNotFoundError: no such file.
    """
    if isinstance(source, (bytes, bytearray)):
        model_file = _ModelFile(bytes(source), "<bytes>")
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such model file")
        model_file = _ModelFile(path, path)
    metadata = _Decoder(None, model_file.file)(model_file.manifest["metadata"], "metadata")
    try:
        bundle = TrainedModels.from_dict({"models": LazyModels(model_file), "metadata": metadata})
        return dataclasses.replace(bundle, predictors=LazyModels(model_file, "predictors"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(model_file.file, f"its metadata is incomplete or inconsistent ({type(exc).__name__}: {exc})") from exc


# ------------------------------------------------------------------------------------ folders
def version_folders(path: str | os.PathLike) -> list[str]:
    """Kedro's versions of a versioned file ``path`` (``path/<version>/<name>``), newest first.

    Versions are UTC timestamps (``2026-01-02T03.04.05.678Z``), so newest is the largest name, as
    Kedro's own ``AbstractVersionedDataset`` picks it.
    """
    path = Path(path)
    if not path.is_dir():
        return []
    return sorted((v.name for v in path.iterdir() if (v / path.name).is_file()), reverse=True)


def find_model_file(folder: str | os.PathLike, pipeline: str, version: str | None = None) -> Path | None:
    """The model file of ``pipeline`` in ``folder``: the newest (or the named) version of Kedro's layout
    ``<pipeline>.zip/<version>/<pipeline>.zip``, or a plain ``<pipeline>.zip``; None when there is none."""
    path = Path(folder) / f"{pipeline}{SUFFIX}"
    if path.is_file():
        return path if version is None else None
    versions = version_folders(path)
    if version is not None:
        return path / version / path.name if version in versions else None
    return path / versions[0] / path.name if versions else None


def load_models(path: str | os.PathLike | None = None) -> dict[str, TrainedModels]:
    """The trained models of a project, of a models folder, or of one model file.

    Args:
        path: a Kedro project folder (its ``data/06_models``), a folder of model files (the
            ``06_models`` folder, or a copy of it: ``<pipeline>.zip`` files or Kedro's versioned
            ``<pipeline>.zip/<version>/<pipeline>.zip``, the newest version of each), or one model
            file. None: the current folder.

    Returns:
        Pipeline name (the file name without ``.zip``) -> its bundle, sorted by name. Estimators
        load on first use.

    Raises:
        FileNotFoundError: ``path`` does not exist, or holds no model file (the message says why,
            e.g. only pickled models of an older version, which are never loaded).
        ModelFileError: a model file is refused.
    """
    path = Path.cwd() if path is None else Path(path)
    if path.is_file():
        return {path.name.removesuffix(SUFFIX): read_models(path)}
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such model file or folder")
    folder = project_models_folder(path) if (path / "conf" / "base").is_dir() else path
    names = sorted(p.name.removesuffix(SUFFIX) for p in folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    found = {name: file for name in names if (file := find_model_file(folder, name)) is not None}
    if not found:
        pickles = sorted(p.name for p in folder.glob("*.pkl")) if folder.is_dir() else []
        hint = (f"; it holds pickled models ({', '.join(pickles)}) of an older tess-cluster-age, which are never loaded because "
                "loading a pickle runs code from the file: retrain with `kedro run`") if pickles else \
               f" (model files are <pipeline>{SUFFIX}, as `kedro run` writes them in data/06_models)"
        raise FileNotFoundError(f"{folder}: no trained model file{hint}")
    return {name: read_models(file) for name, file in found.items()}
