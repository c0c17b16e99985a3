import logging

import numpy as np
import pytest
from kedro.io import DatasetError

from tess_cluster_age.datasets import ELKFolderDataset, ELKLightCurveDataset
from tess_cluster_age.lightcurves import Issue, RawELKFile

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


def test_non_ascii_name_round_trip(tmp_path):
    """FITS headers are ASCII: the name is written as UTF-8 bytes in its card and read back as written."""
    path = tmp_path / "hodge.fits"
    dataset = ELKLightCurveDataset(filepath=str(path))
    dataset.save(RawELKFile(str(path), elk_header("Hodge 11 – Ω", 10.1), [synthetic_sector(3)]))
    assert "Hodge 11 – Ω".encode() in path.read_bytes()[:2880]
    raw = dataset.load()
    assert raw.header["NAME"] == "Hodge 11 – Ω" and raw.not_utf8 == ()


def test_name_too_long_for_one_card_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="more than one 80-byte card"):
        ELKLightCurveDataset(filepath=str(tmp_path / "x.fits")).save(
            RawELKFile("x", elk_header("Ω" * 40), [synthetic_sector(3)]))


def test_folder_lists_files_through_symlinked_folders(tmp_path):
    elsewhere = tmp_path / "disk" / "LMC"
    ELKLightCurveDataset(filepath=str(elsewhere / "a.fits")).save(RawELKFile("a", elk_header("A"), [synthetic_sector(3)]))
    elk = tmp_path / "elk"
    elk.mkdir()
    (elk / "LMC").symlink_to(elsewhere, target_is_directory=True)
    (elk / "MW").mkdir()
    (elk / "SMC").symlink_to(elk, target_is_directory=True)  # a loop
    partitions = ELKFolderDataset(path=str(elk)).load()
    assert sorted(partitions) == ["LMC/a.fits", "MW/", "SMC/"]
    assert partitions["LMC/a.fits"]().header["NAME"] == "A"
    assert partitions["MW/"]() == Issue("empty_folder", "folder holds no file")
    assert partitions["SMC/"]().code == "symlink_loop"


def test_missing_folder_says_it_does_not_exist(tmp_path, caplog):
    with caplog.at_level(logging.ERROR), pytest.raises(DatasetError) as error:
        ELKFolderDataset(path=str(tmp_path / "nowhere")).load()
    message = str(error.value)
    assert message.startswith(f"elk_dir '{tmp_path / 'nowhere'}' does not exist. ") and "\n" not in message
    assert "ELK_DIR=" in message and "--params=elk_dir=" in message
    assert caplog.records[-1].getMessage() == message


def test_empty_folder_says_it_is_empty(tmp_path):
    (tmp_path / "elk" / "LMC").mkdir(parents=True)  # only an empty galaxy folder: still no file
    with pytest.raises(DatasetError, match=r"^elk_dir '.*elk' is empty: it holds no file\. [^\n]*$"):
        ELKFolderDataset(path=str(tmp_path / "elk")).load()


def test_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "elk").write_text("x")
    with pytest.raises(DatasetError, match=r"elk_dir '.*elk' is not a folder"):
        ELKFolderDataset(path=str(tmp_path / "elk")).load()


@pytest.mark.real_data
def test_reads_real_file(elk_dir):
    path = sorted((elk_dir / "SMC").glob("*.fits*"))[0]
    raw = ELKLightCurveDataset(filepath=str(path)).load()
    assert len(raw.tables) == raw.header["N_GOOD"]
    assert all({"time", "flux", "flux_err"} <= set(t.columns) for t in raw.tables)
