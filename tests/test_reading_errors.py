"""Every input a user names ends read or listed with the reason (issue 16, item 7): the exact
messages, in strict mode (raised, the Python API) and lenient mode (problem rows, the command line)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from tests.reading_formats import time_series, write_csv, write_tess_fits
from tests.synthetic import synthetic_sector
from tess_cluster_age.lightcurves import validate_sector
from tess_cluster_age.reading import (
    FORMATS_READ,
    LightCurveInputError,
    as_light_curves,
    is_fatal,
    read_light_curves,
)

NEEDED = "(a light-curve table needs time (BTJD d), flux and flux_err (e/s), and optionally sector)"


@pytest.fixture
def sector():
    """A validated sector (sector 5, 300 samples)."""
    light_curve, issue = validate_sector(synthetic_sector(5, seed=1))
    assert issue is None
    return light_curve


def read_both(paths, galaxy=None):
    """(the strict error, the lenient problem rows) of the same inputs."""
    with pytest.raises(LightCurveInputError) as error:
        read_light_curves(paths, galaxy)
    return error.value, read_light_curves(paths, galaxy, strict=False).problems


def only_row(problems):
    assert len(problems) == 1, problems.to_dict("records")
    return problems.iloc[0]


def test_a_table_without_a_needed_column_names_it(tmp_path, sector):
    path = tmp_path / "no-error.csv"
    Table({"time": sector.time_btjd, "flux": sector.flux_e_per_s}).write(path, format="ascii.csv")
    error, problems = read_both(path, "LMC")
    assert str(error) == f"{path}: missing column flux_err {NEEDED}"
    assert (error.input, error.code) == (str(path), "missing_columns")
    row = only_row(problems)
    assert (row["file"], row["level"], row["outcome"], row["code"]) == (str(path), "file", "skipped", "missing_columns")
    assert row["reason"] == f"missing column flux_err {NEEDED}"


@pytest.mark.parametrize(("columns", "missing"), [
    ({"flux": 1.0, "flux_err": 1.0}, "time"),
    ({"time": 1.0, "mag": 1.0}, "flux"),
])
def test_a_table_without_time_or_flux_names_it(tmp_path, columns, missing):
    path = tmp_path / "t.csv"
    Table({k: np.full(5, v) for k, v in columns.items()}).write(path, format="ascii.csv")
    error, _ = read_both(path, "MW")
    assert str(error) == f"{path}: missing column {missing} {NEEDED}"


def test_a_tess_file_without_the_flux_error_names_the_column(tmp_path, sector):
    path = write_tess_fits(tmp_path / "spoc.fits", sector)
    with fits.open(path) as hdul:  # keep PDCSAP_FLUX only
        keep = [c for c in hdul[1].columns if c.name in ("TIME", "PDCSAP_FLUX", "QUALITY")]
        fits.HDUList([hdul[0].copy(), fits.BinTableHDU.from_columns(keep, header=hdul[1].header)]).writeto(tmp_path / "cut.fits")
    error, _ = read_both(tmp_path / "cut.fits", "LMC")
    assert str(error) == f"{tmp_path / 'cut.fits'}: missing column PDCSAP_FLUX_ERR {NEEDED}"


def test_a_fits_file_that_is_neither_elk_nor_a_tess_light_curve_lists_the_formats_read(tmp_path):
    path = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4))), fits.BinTableHDU.from_columns(
        [fits.Column(name="RA", format="D", array=np.zeros(3))])]).writeto(path)
    error, problems = read_both(path, "SMC")
    assert str(error) == (f"{path}: neither an ELK file nor a TESS light curve (no table with a TIME column); "
                          f"formats read: {FORMATS_READ}")
    assert FORMATS_READ == (
        "ELK files (.fits/.fits.gz; primary header NAME, one table per sector with time, flux, flux_err); "
        "TESS light-curve FITS files (SPOC, TESS-SPOC, QLP, lightkurve to_fits: a table with TIME and a flux column "
        "with its error, e.g. PDCSAP_FLUX and PDCSAP_FLUX_ERR, SECTOR in a header); "
        "CSV or ECSV tables (time in BTJD days, flux and flux_err in e/s, optional sector)")
    assert only_row(problems)["code"] == "not_a_light_curve"


def test_a_file_passed_alone_never_gives_messages_about_its_folder(tmp_path, make_elk_file):
    """Before, one unreadable file also gave "folder holds ELK files but none could be read" for
    its parent folder, which the user never named."""
    bad = tmp_path / "LMC" / "broken.fits"
    bad.parent.mkdir()
    bad.write_text("not FITS\n" * 50)
    alone = read_light_curves(bad, strict=False).problems
    row = only_row(alone)
    assert (row["file"], row["level"], row["code"]) == (str(bad), "file", "unreadable")
    assert row["reason"].startswith(f"unreadable: {bad}: not a readable FITS file")
    with pytest.raises(LightCurveInputError, match="not a readable FITS file") as error:
        read_light_curves(bad)
    assert error.value.input == str(bad)
    # the folder, named, is reported: it holds light-curve files and none could be read
    folder = read_light_curves(tmp_path / "LMC", strict=False).problems.set_index("level")
    assert folder.loc["folder", "code"] == "no_readable_file" and folder.loc["folder", "file"] == str(tmp_path / "LMC")
    assert folder.loc["folder", "reason"] == "folder holds light-curve files but none could be read"
    # a good file beside it, named alone, is read without a word about the bad one
    good = make_elk_file(tmp_path / "LMC" / "good.fits", "GOOD")
    assert read_light_curves(good).problems.empty


@pytest.mark.parametrize("galaxy", ["M31", "lmc", ""])
def test_a_galaxy_that_is_not_mw_lmc_or_smc_is_an_error_naming_the_allowed_ones(tmp_path, sector, galaxy):
    path = write_csv(tmp_path / "a.csv", [sector])
    message = f"galaxy {galaxy!r}: not a known galaxy: use one of MW, LMC, SMC"
    for strict in (True, False):
        with pytest.raises(LightCurveInputError) as error:
            read_light_curves(path, galaxy, strict=strict)
        assert str(error.value) == message
        with pytest.raises(LightCurveInputError) as error:
            as_light_curves(time_series(sector), galaxy, name="A", strict=strict)
        assert str(error.value) == message


def test_an_input_outside_a_galaxy_folder_needs_a_galaxy(tmp_path, sector):
    (tmp_path / "M31").mkdir()
    path = write_csv(tmp_path / "M31" / "a.csv", [sector])
    reason = ("not in an MW, LMC or SMC folder and no galaxy given: use galaxy= (Python), --galaxy (command line) or "
              "--params=predict.galaxy=... (kedro run)")
    error, problems = read_both(path)
    assert str(error) == f"{path}: {reason}" and error.code == "no_galaxy"
    assert only_row(problems)["reason"] == reason
    assert read_light_curves(path, "SMC").clusters[0].galaxy == "SMC"
    with pytest.raises(LightCurveInputError) as error:
        as_light_curves(time_series(sector), name="A")
    assert str(error.value) == f"TimeSeries 'A': {reason}"


def test_a_galaxy_folder_wins_over_the_galaxy_given(tmp_path, sector):
    """As in predict: the nearest enclosing galaxy folder, then the option."""
    (tmp_path / "LMC" / "deep").mkdir(parents=True)
    path = write_csv(tmp_path / "LMC" / "deep" / "a.csv", [sector])
    assert read_light_curves(path, "SMC").clusters[0].galaxy == "LMC"


def test_a_missing_path_and_a_file_of_another_format(tmp_path, sector):
    missing = tmp_path / "nowhere.fits"
    error, problems = read_both(missing, "MW")
    assert str(error) == f"{missing}: no such file or folder" and only_row(problems)["code"] == "not_found"
    notes = tmp_path / "MW" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("hello")
    error, problems = read_both(notes)
    assert str(error) == (f"{notes}: not a light-curve file name (read: .fits, .fits.gz, .csv, .ecsv); "
                          f"formats read: {FORMATS_READ}")
    assert only_row(problems)["code"] == "unknown_format"
    # in a folder, a stray file is listed as ignored, never an error
    write_csv(tmp_path / "MW" / "a.csv", [sector])
    read = read_light_curves(tmp_path / "MW")
    row = only_row(read.problems[read.problems["code"] != "no_log_age"])
    assert (row["file"], row["outcome"], row["code"]) == (str(notes), "ignored", "not_light_curve_file")
    assert row["reason"] == "not a light-curve file name (read: .fits, .fits.gz, .csv, .ecsv)"
    assert read.names == ["a"]


def test_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    error, problems = read_both(tmp_path / "empty", "MW")
    assert str(error) == f"{tmp_path / 'empty'}: folder holds no file"
    assert (only_row(problems)["level"], only_row(problems)["outcome"]) == ("folder", "empty")


def test_a_flux_that_is_not_in_electrons_per_second(tmp_path, sector):
    series = time_series(sector)
    series["flux"] = series["flux"].value * u.Jy
    with pytest.raises(LightCurveInputError) as error:
        as_light_curves(series, "LMC", name="A")
    assert str(error.value) == ("TimeSeries 'A': column flux is in Jy, not electrons per second (e/s): the models learned "
                                "from integrated fluxes in e/s")
    assert error.value.code == "flux_unit"
    path = write_tess_fits(tmp_path / "qlp.fits", sector, "qlp")
    with fits.open(path, mode="update") as hdul:
        hdul[1].columns["KSPSAP_FLUX"].unit = "relative flux"
    error, _ = read_both(path, "LMC")
    assert str(error) == (f"{path}: column KSPSAP_FLUX is in relative flux, not electrons per second (e/s): the models "
                          "learned from integrated fluxes in e/s")


def test_a_normalised_light_curve_is_refused(sector):
    series = time_series(sector, NORMALIZED=True)
    with pytest.raises(LightCurveInputError) as error:
        as_light_curves(series, "LMC", name="A")
    assert str(error.value) == ("TimeSeries 'A': the flux is normalised (meta NORMALIZED): the models need the "
                                "integrated flux in e/s")


def test_an_object_without_a_name_or_of_another_kind(sector):
    with pytest.raises(LightCurveInputError) as error:
        as_light_curves(time_series(sector), "LMC")
    assert str(error.value) == "TimeSeries #1: no cluster name: give name=, a mapping name -> light curve, or meta['OBJECT']"
    with pytest.raises(LightCurveInputError) as error:
        as_light_curves(42, "LMC", name="X")
    assert str(error.value).startswith("int 'X': not a light curve: give a table or TimeSeries with time, flux and flux_err")
    problems = as_light_curves(["a", 1], "LMC", name="X", strict=False).problems
    assert only_row(problems)["reason"] == "not a light curve: an iterable must hold tables (one per sector)"


def test_a_sector_column_with_values_that_are_not_sector_numbers(tmp_path, sector):
    path = tmp_path / "s.csv"
    Table({"time": sector.time_btjd, "flux": sector.flux_e_per_s, "flux_err": sector.flux_err_e_per_s,
           "sector": np.where(np.arange(sector.n_points) < 3, 5.5, 5.0)}).write(path, format="ascii.csv")
    error, _ = read_both(path, "MW")
    assert str(error) == f"{path}: column sector: 3 values are not whole sector numbers"


def test_strict_raises_at_the_first_bad_input_lenient_reads_the_rest(tmp_path, sector):
    folder = tmp_path / "SMC"
    folder.mkdir()
    write_csv(folder / "a-good.csv", [sector])
    Table({"time": sector.time_btjd, "flux": sector.flux_e_per_s}).write(folder / "b-bad.csv", format="ascii.csv")
    write_csv(folder / "c-good.csv", [sector])
    with pytest.raises(LightCurveInputError) as error:
        read_light_curves(tmp_path)
    assert error.value.input == str(folder / "b-bad.csv") and error.value.code == "missing_columns"
    lenient = read_light_curves(tmp_path, strict=False)
    assert lenient.names == ["a-good", "c-good"]
    assert lenient.problems.loc[lenient.problems["level"] == "file", "file"].tolist() == [str(folder / "b-bad.csv")]


def test_what_strict_mode_raises_on():
    """A read input with dropped samples, skipped sectors or header notes is not an error; an input
    not read is."""
    def row(level, outcome, code):
        return {"level": level, "outcome": outcome, "code": code}

    assert is_fatal(row("file", "skipped", "unreadable")) and is_fatal(row("file", "skipped", "duplicate_name"))
    assert is_fatal(row("folder", "empty", "no_readable_file")) and is_fatal(row("folder", "empty", "empty_folder"))
    assert not is_fatal(row("file", "skipped", "duplicate_identical")) and not is_fatal(row("file", "ignored", "not_elk_file"))
    assert not is_fatal(row("folder", "empty", "symlink_loop")) and not is_fatal(row("sector", "skipped", "empty_table"))
    assert not is_fatal(row("points", "dropped", "invalid_samples")) and not is_fatal(row("header", "kept", "no_log_age"))
