"""Kedro datasets for astronomical file formats used by the project."""

from .elk import ELKFolderDataset, ELKLightCurveDataset
from .fits_table import FitsTableDataset
from .periodograms import PeriodogramDataset

__all__ = ["ELKFolderDataset", "ELKLightCurveDataset", "FitsTableDataset", "PeriodogramDataset"]
