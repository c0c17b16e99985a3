"""Kedro-datasets' file datasets with atomic local saves (temporary file + rename).

Each class is the kedro-datasets class of the same name with :class:`AtomicSaveMixin`: same
arguments, same load and save, but a save that is killed or raises midway leaves the previous
file intact instead of a truncated one. ``versioned: true`` works as in kedro-datasets. Trained
models are saved by :class:`~tess_cluster_age.datasets.trained_models.ModelFileDataset` (data only,
never a pickle).

.. code-block:: yaml

    model_input:
      type: tess_cluster_age.datasets.AtomicParquetDataset
      filepath: data/05_model_input/model_input.parquet

Example:
::

    >>> AtomicParquetDataset(filepath="table.parquet").save(pd.DataFrame({"a": [1]}))

``AtomicParquetDataset`` keeps ``DataFrame.attrs`` (pandas stores them in the Parquet schema
metadata), which is how the provenance record of :mod:`tess_cluster_age.provenance` travels
with a table.
"""

from __future__ import annotations

from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset
from kedro_datasets.text import TextDataset

from ._atomic import AtomicSaveMixin


class AtomicParquetDataset(AtomicSaveMixin, ParquetDataset):
    """``pandas.ParquetDataset`` with atomic local saves."""


class AtomicCSVDataset(AtomicSaveMixin, CSVDataset):
    """``pandas.CSVDataset`` with atomic local saves."""


class AtomicJSONDataset(AtomicSaveMixin, JSONDataset):
    """``json.JSONDataset`` with atomic local saves."""


class AtomicTextDataset(AtomicSaveMixin, TextDataset):
    """``text.TextDataset`` with atomic local saves (the HTML report)."""
