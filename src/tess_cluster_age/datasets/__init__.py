"""Kedro datasets used by the project: astronomical file formats, and atomic tabular datasets.

Every dataset here writes a local file atomically (a temporary file in the same folder, renamed
into place), so an interrupted save leaves the last good file.
"""

from .atomic import AtomicCSVDataset, AtomicJSONDataset, AtomicParquetDataset, AtomicTextDataset
from .elk import ELKFolderDataset, ELKLightCurveDataset, LightCurveFileDataset
from .fits_table import FitsTableDataset
from .periodograms import PeriodogramDataset
from .reporting import CSVFolderDataset, FigureFolderDataset, OptionalCSVDataset

__all__ = [
    "AtomicCSVDataset",
    "AtomicJSONDataset",
    "AtomicParquetDataset",
    "AtomicTextDataset",
    "CSVFolderDataset",
    "ELKFolderDataset",
    "ELKLightCurveDataset",
    "LightCurveFileDataset",
    "FigureFolderDataset",
    "FitsTableDataset",
    "OptionalCSVDataset",
    "PeriodogramDataset",
]
