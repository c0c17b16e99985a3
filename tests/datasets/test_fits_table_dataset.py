import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from tess_cluster_age.datasets import FitsTableDataset


def test_round_trip(tmp_path):
    frame = pd.DataFrame({"name": ["NGC 1818", "NGC 2004"], "log_age": [7.4, 7.3], "n_sectors": [12, 20]})
    dataset = FitsTableDataset(filepath=str(tmp_path / "sub" / "t.fits"), save_args={"extname": "CLUSTERS"})
    assert not dataset.exists()
    dataset.save(frame)
    assert dataset.exists()
    loaded = dataset.load()
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    assert loaded["log_age"].dtype == np.float64 and loaded["log_age"].dtype.byteorder in "=|"
    assert FitsTableDataset(filepath=str(tmp_path / "sub" / "t.fits"), load_args={"hdu": "CLUSTERS"}).load().shape == (2, 3)


def test_column_subset_and_missing_column(tmp_path):
    path = str(tmp_path / "t.fits")
    FitsTableDataset(filepath=path).save(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    assert list(FitsTableDataset(filepath=path, load_args={"columns": ["b"]}).load().columns) == ["b"]
    with pytest.raises(DatasetError, match=r"no columns \['c'\]"):
        FitsTableDataset(filepath=path, load_args={"columns": ["c"]}).load()


def test_missing_file_raises(tmp_path):
    with pytest.raises(DatasetError, match=r"nothere\.fits: file does not exist"):
        FitsTableDataset(filepath=str(tmp_path / "nothere.fits")).load()


def test_unknown_argument_is_refused(tmp_path):
    with pytest.raises(DatasetError, match=r"unknown arguments \['hdus'\]"):
        FitsTableDataset(filepath=str(tmp_path / "t.fits"), load_args={"hdus": 2})


@pytest.mark.real_data
def test_reads_reference_catalogue_with_vector_column(reference_dir):
    table = FitsTableDataset(filepath=str(reference_dir / "Stats_Table_For_all_Clusters_all_sectors_w_entropy.fits")).load()
    assert len(table) == 2204
    assert table["time_of_max_autocorrelation"].ndim == 1  # stored as a (n, 1) vector column
    glatt = FitsTableDataset(filepath=str(reference_dir / "Glatt_Cut_down.fits"), load_args={"columns": ["Name", "Age"]}).load()
    assert glatt["Name"].iloc[0] == "LMC0022" and np.isfinite(glatt["Age"]).all()
