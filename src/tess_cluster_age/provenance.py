"""Provenance: which parameters and inputs produced a table, stored with the table itself.

Every table from ``segments`` onwards carries a record: the stage (node) that made it, every
parameter that shaped it, its own and its upstream stages' (its *lineage*), and a fingerprint of
each input. The record lives in ``DataFrame.attrs["provenance"]``, which pandas stores in the
Parquet schema metadata, and in ``Periodograms.attrs["provenance"]``, which
:class:`~tess_cluster_age.datasets.PeriodogramDataset` and
:class:`~tess_cluster_age.datasets.FitsTableDataset` store in the FITS primary header
(keyword ``PROVENAN``, JSON).

A record::

    {"stage": "compute_classic_features_node",
     "fingerprint": "3f2a...",                      # of this table: stage + params + inputs
     "params": {"augmentation": {...}, "seed": 42, "classic_features": {...}},   # lineage
     "inputs": {"segments": "9c1e...", "sector_light_curves": "51d0..."}}

A consuming node calls :func:`check_consistent` on its inputs before using them, so that tables
from different runs (e.g. after an interrupted run, ``kedro run --from-nodes=...`` joins new
classic features with invariant features of older segments) are refused with an error naming
both tables and the command that rebuilds them, instead of being silently mixed.

Model pipelines store ``provenance_of(model_input)`` (or :func:`lineage_params`) with every
trained model: its ``params`` hold every segment and feature parameter that produced the model's
inputs, so that predict can rebuild exactly those features::

    from tess_cluster_age import provenance

    provenance.check_consistent({"model_input": model_input, "folds": folds})
    model_record = provenance.record({"model": model}, "train_random_forest_node",
                                     {"random_forest": params}, {"model_input": model_input,
                                                                 "folds": folds})

Fingerprints are SHA-256 hex digests. A table with a record is identified by its record's
fingerprint (a hash of what produced it: the pipelines are deterministic); a table without one
(the ingestion tables) by a hash of its content.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

KEY = "provenance"
"""Key of the record in ``DataFrame.attrs`` / ``Periodograms.attrs``."""

FITS_KEYWORD = "PROVENAN"
"""FITS header keyword (JSON text, continued over several cards) holding the record."""

REBUILD_PIPELINE = "kedro run --pipeline=augmentation && kedro run --pipeline=feature_engineering"
"""The command that rebuilds every table from segments onwards."""


class ProvenanceError(ValueError):
    """Tables built from different inputs or parameters were about to be combined."""


def _jsonable(value: Any) -> Any:
    """Parameters as plain JSON values (tuples -> lists, numpy scalars -> Python, dataclasses -> dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(_jsonable(value), sort_keys=True, default=str).encode()).hexdigest()


def provenance_of(table: Any) -> dict[str, Any] | None:
    """The provenance record of a table (DataFrame or Periodograms), or ``None`` if it has none."""
    attrs = getattr(table, "attrs", None)
    if not isinstance(attrs, Mapping):
        return None
    record = attrs.get(KEY)
    return copy.deepcopy(dict(record)) if isinstance(record, Mapping) else None


def content_fingerprint(table: Any) -> str:
    """SHA-256 of a table's content (columns, dtypes and values; for a DataFrame row-order sensitive)."""
    digest = hashlib.sha256()
    if isinstance(table, pd.DataFrame):
        digest.update(json.dumps([[str(c), str(t)] for c, t in table.dtypes.items()]).encode())
        hashable = table.map(lambda v: json.dumps(_jsonable(v), default=str) if isinstance(v, (list, dict, np.ndarray)) else v) \
            if any(table[c].dtype == object for c in table.columns) else table
        digest.update(pd.util.hash_pandas_object(hashable, index=False).to_numpy().tobytes())
    elif isinstance(table, np.ndarray):
        digest.update(str(table.dtype).encode() + str(table.shape).encode() + np.ascontiguousarray(table).tobytes())
    else:
        digest.update(json.dumps(_jsonable(table), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def fingerprint(table: Any) -> str:
    """A table's identity: its record's fingerprint when it has one, else a hash of its content."""
    record = provenance_of(table)
    return record["fingerprint"] if record and "fingerprint" in record else content_fingerprint(table)


def lineage_params(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter recorded by the inputs (their own and their upstream stages'), merged."""
    params: dict[str, Any] = {}
    for table in inputs.values():
        record = provenance_of(table)
        if record:
            params.update(record.get("params", {}))
    return params


def record(table: Any, stage: str, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> Any:
    """Attach a provenance record to ``table`` and return it (a shallow copy; the input is not changed).

    Args:
        table: a DataFrame, or an object with an ``attrs`` dict (``Periodograms``), or a mapping
            (e.g. a trained model's metadata) to which a ``"provenance"`` key is added.
        stage: the node that produced it (``"compute_classic_features_node"``); rebuild
            commands name it.
        params: parameter section -> value (dict or config dataclass) that shaped this table.
            Execution settings that do not change results (``workers``) stay out.
        inputs: dataset name -> the input table itself; each is fingerprinted, and its recorded
            parameters are carried into this record's lineage.

    Returns:
        The table with ``attrs["provenance"]`` (or key ``"provenance"``) set.
    """
    lineage = {**lineage_params(inputs), **_jsonable(dict(params))}
    input_fingerprints = {name: fingerprint(value) for name, value in sorted(inputs.items())}
    entry = {
        "stage": stage,
        "params": lineage,
        "inputs": input_fingerprints,
        "fingerprint": _digest({"stage": stage, "params": lineage, "inputs": input_fingerprints}),
    }
    if isinstance(table, pd.DataFrame):
        out = table.copy(deep=False)
        out.attrs = {**table.attrs, KEY: entry}
        return out
    if isinstance(table, Mapping):
        return {**table, KEY: entry}
    if hasattr(table, "attrs"):
        out = copy.copy(table)
        object.__setattr__(out, "attrs", {**(table.attrs or {}), KEY: entry})
        return out
    raise TypeError(f"cannot record provenance on a {type(table).__name__}: use a DataFrame, a mapping or an object with attrs")


def _rebuild_hint(*records: Mapping[str, Any] | None) -> str:
    stages = sorted({r["stage"] for r in records if r and r.get("stage")})
    if not stages:
        return REBUILD_PIPELINE
    return f"kedro run --from-nodes={','.join(stages)}"


def check_consistent(tables: Mapping[str, Any], *, sources: Mapping[str, Any] | None = None,
                     params: Mapping[str, Any] | None = None) -> None:
    """Refuse to combine tables that were not built from the same inputs and parameters.

    Checks, for every pair of ``tables``: each input they both recorded has the same fingerprint,
    and each parameter section they both recorded (lineage included) has the same value; for every
    table that recorded another given table (or source) as its input: that input is the one given;
    and for every section in ``params``: every table that recorded it used the same value.

    Args:
        tables: dataset name -> table; each must carry a provenance record.
        sources: dataset name -> table that may lack a record (the ingestion tables); only
            checked against what ``tables`` recorded about them.
        params: parameter section -> value this run uses (dict or config dataclass).

    Raises:
        ProvenanceError: naming both tables (or the table and the parameter), and the command
            that rebuilds them.
    """
    records = {name: provenance_of(table) for name, table in tables.items()}
    missing = sorted(name for name, r in records.items() if r is None)
    if missing:
        raise ProvenanceError(
            f"{', '.join(missing)} carr{'ies' if len(missing) == 1 else 'y'} no provenance record (written by an "
            f"older version of the project?), so it cannot be checked against {sorted(set(tables) - set(missing)) or 'the other inputs'}; "
            f"rebuild with: {REBUILD_PIPELINE}"
        )
    given = {name: fingerprint(t) for name, t in {**(sources or {}), **tables}.items()}
    names = sorted(records)
    for i, a in enumerate(names):
        ra = records[a]
        for b in names[i + 1:]:
            rb = records[b]
            for upstream in sorted(set(ra.get("inputs", {})) & set(rb.get("inputs", {}))):
                if ra["inputs"][upstream] != rb["inputs"][upstream]:
                    raise ProvenanceError(
                        f"{a} and {b} were built from different {upstream} (from different runs): "
                        f"rebuild both with: {_rebuild_hint(ra, rb)}"
                    )
            for section in sorted(set(ra.get("params", {})) & set(rb.get("params", {}))):
                if ra["params"][section] != rb["params"][section]:
                    raise ProvenanceError(
                        f"{a} and {b} were built with different '{section}' parameters "
                        f"({_difference(ra['params'][section], rb['params'][section])}): rebuild both with: {_rebuild_hint(ra, rb)}"
                    )
    for a in names:
        ra = records[a]
        for upstream, expected in sorted(ra.get("inputs", {}).items()):
            if upstream in given and given[upstream] != expected:
                raise ProvenanceError(
                    f"{a} and {upstream} do not match: {a} was built from another {upstream} ({upstream} has "
                    f"changed since {a} was written): rebuild with: {_rebuild_hint(ra)}"
                )
    for section, value in (params or {}).items():
        wanted = _jsonable(value)
        for name in names:
            recorded = records[name].get("params", {})
            if section in recorded and recorded[section] != wanted:
                raise ProvenanceError(
                    f"{name} was built with other '{section}' parameters than this run uses "
                    f"({_difference(recorded[section], wanted)}): rebuild with: {_rebuild_hint(records[name])}"
                )


def _difference(a: Any, b: Any) -> str:
    """The first differing keys of two parameter values, for messages."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys[:3])
    return f"{a!r} vs {b!r}"


def to_json(table: Any) -> str | None:
    """The record as JSON text (for file headers), or ``None``."""
    record_ = provenance_of(table)
    return None if record_ is None else json.dumps(record_, sort_keys=True)


def from_json(text: str | None) -> dict[str, Any]:
    """``attrs`` holding the record parsed from :func:`to_json` text (empty when there is none)."""
    return {KEY: json.loads(text)} if text else {}


PACKAGES = ("tess-cluster-age", "kedro", "kedro-datasets", "numpy", "pandas", "scipy", "scikit-learn", "torch", "lightgbm",
            "astropy", "matplotlib", "optuna")
"""The packages whose versions are recorded with trained models and printed in the report."""


NOT_INSTALLED = "not installed"
"""The version :func:`package_versions` gives a package that is absent."""


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Versions of Python and of the packages ``names`` in this environment (:data:`NOT_INSTALLED` when absent)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = NOT_INSTALLED
    return out
