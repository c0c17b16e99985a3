import numpy as np
import pytest
from kedro.io import DatasetError

from tess_cluster_age.datasets import ELKLightCurveDataset
from tess_cluster_age.lightcurves import RawELKFile

from tests.synthetic import elk_header, synthetic_sector


@pytest.mark.parametrize("suffix", [".fits", ".fits.gz"])
def test_round_trip(tmp_path, suffix):
    path = tmp_path / f"cluster{suffix}"
    tables = [synthetic_sector(3), synthetic_sector(4, cadence_s=600, n=500)]
    dataset = ELKLightCurveDataset(filepath=str(path))
    assert not dataset.exists()
    dataset.save(RawELKFile(str(path), elk_header("NGC 1818", 7.4, n_good=2), tables))
    assert dataset.exists()
    raw = dataset.load()
    assert raw.header["NAME"] == "NGC 1818"
    assert raw.header["LOG_AGE"] == pytest.approx(7.4)
    assert [t.sector for t in raw.tables] == [3, 4]
    assert [t.hdu for t in raw.tables] == [1, 2]
    for written, read in zip(tables, raw.tables):
        for column in ("time", "flux", "flux_err", "mag", "mag_err"):
            np.testing.assert_array_equal(read.columns[column], written.columns[column])


def test_gzip_file_is_compressed(tmp_path):
    path = tmp_path / "cluster.fits.gz"
    ELKLightCurveDataset(filepath=str(path)).save(RawELKFile(str(path), elk_header("X"), [synthetic_sector(3)]))
    assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_missing_file_raises(tmp_path):
    with pytest.raises(DatasetError, match=r"missing\.fits: file does not exist"):
        ELKLightCurveDataset(filepath=str(tmp_path / "missing.fits")).load()


def test_not_fits_raises_naming_file(tmp_path):
    path = tmp_path / "notes.fits"
    path.write_text("this is not a FITS file\n" * 20)
    with pytest.raises(DatasetError, match=r"notes\.fits: not a readable FITS file"):
        ELKLightCurveDataset(filepath=str(path)).load()


def test_save_rejects_wrong_type(tmp_path):
    with pytest.raises(DatasetError, match="saves a RawELKFile"):
        ELKLightCurveDataset(filepath=str(tmp_path / "x.fits")).save({"NAME": "x"})


def test_describe_names_file(tmp_path):
    assert "x.fits" in str(ELKLightCurveDataset(filepath=str(tmp_path / "x.fits")))


def test_reads_real_file(elk_dir):
    path = sorted((elk_dir / "SMC").glob("*.fits*"))[0]
    raw = ELKLightCurveDataset(filepath=str(path)).load()
    assert len(raw.tables) == raw.header["N_GOOD"]
    assert all({"time", "flux", "flux_err"} <= set(t.columns) for t in raw.tables)
