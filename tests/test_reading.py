"""Every format read by :mod:`tess_cluster_age.reading` gives the same validated samples as the ELK
file it was written from, and goes through the validation of ELK ingestion."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.table import Table
from astropy.time import Time

from tests.reading_formats import (
    CollectionLike,
    LightCurveLike,
    TimeBTJDLike,
    time_series,
    write_csv,
    write_ecsv,
    write_tess_fits,
)
from tests.synthetic import synthetic_sector
from tess_cluster_age.lightcurves import RawSectorTable, read_elk_file
from tess_cluster_age.reading import (
    PROBLEM_COLUMNS,
    LightCurveInputError,
    LightCurves,
    as_light_curves,
    problem_row,
    read_elk_partitions,
    read_light_curve_file,
    read_light_curves,
    read_partitions,
)

assert TimeBTJDLike.name == "btjd_like"  # registered with astropy on import
NAME = "NGC TEST"


def float32_sector(sector: int, seed: int, t0: float) -> RawSectorTable:
    """A synthetic sector whose fluxes are 32-bit floats, as SPOC stores them (so that E columns
    hold them exactly)."""
    table = synthetic_sector(sector, seed=seed, t0=t0)
    for column in ("flux", "flux_err"):
        table.columns[column] = table.columns[column].astype(np.float32).astype(np.float64)
    return table


def assert_same_light_curves(read: LightCurves, reference: LightCurves) -> None:
    """Same clusters (but names and files), same sectors, same samples, bit for bit."""
    assert len(read) == len(reference) and read.problems.empty
    pd.testing.assert_frame_equal(read.sample_table().drop(columns="name"), reference.sample_table().drop(columns="name"),
                                  check_exact=True)
    pd.testing.assert_frame_equal(read.sector_table().drop(columns="name"), reference.sector_table().drop(columns="name"),
                                  check_exact=True)
    ours, theirs = read.cluster_table(), reference.cluster_table()
    columns = ["galaxy", "n_sectors", "n_points", "n_dropped"]
    pd.testing.assert_frame_equal(ours[columns], theirs[columns])


@pytest.fixture
def elk_file(tmp_path, make_elk_file):
    """An unlabelled ELK file of two sectors (5 and 6), in an LMC folder."""
    sectors = [float32_sector(5, seed=1, t0=1400.0), float32_sector(6, seed=2, t0=1430.0)]
    return make_elk_file(tmp_path / "elk" / "LMC" / "ngc-test.fits", NAME, log_age=None, sectors=sectors)


@pytest.fixture
def reference(elk_file) -> LightCurves:
    """The ELK file through ingestion's reader."""
    read = read_elk_partitions({"LMC/ngc-test.fits": lambda: read_elk_file(elk_file)})
    assert read.names == [NAME] and len(read.clusters[0].sectors) == 2
    return read


def test_an_elk_file_reads_as_ingestion_reads_it(elk_file, reference):
    read = read_light_curves(elk_file)
    assert read.names == [NAME] and read.clusters[0].galaxy == "LMC" and read.clusters[0].file_format == "ELK"
    pd.testing.assert_frame_equal(read.cluster_table().drop(columns="file"), reference.cluster_table().drop(columns="file"))
    pd.testing.assert_frame_equal(read.sample_table(), reference.sample_table(), check_exact=True)
    pd.testing.assert_frame_equal(read.problems.drop(columns="file"), reference.problems.drop(columns="file"))
    assert read.problems["file"].tolist() == [str(elk_file)]  # the path as given (ingestion: the partition id)
    assert read.problems["code"].tolist() == ["no_log_age"]


@pytest.mark.parametrize("writer", ["csv", "ecsv"])
def test_tables_round_trip(tmp_path, reference, writer):
    sectors = reference.clusters[0].sectors
    path = tmp_path / "LMC" / f"ngc-test.{writer}"
    path.parent.mkdir()
    if writer == "csv":
        write_csv(path, sectors)
    else:
        write_ecsv(path, sectors, NAME)
    read = read_light_curves(path)
    assert_same_light_curves(_without_age_note(read), _without_age_note(reference))
    assert read.names == (["ngc-test"] if writer == "csv" else [NAME])  # the file name, or the meta NAME
    assert read.clusters[0].file_format == writer.upper()


@pytest.mark.parametrize("flavour", ["spoc", "qlp", "lightkurve"])
def test_tess_light_curve_files_round_trip(tmp_path, reference, flavour):
    """SPOC (PDCSAP preferred to SAP), QLP (KSPSAP, the flux with an error) and lightkurve's
    to_fits (FLUX): one file per sector, read together as one cluster named by OBJECT."""
    sectors = reference.clusters[0].sectors
    folder = tmp_path / "LMC"
    folder.mkdir()
    paths = [write_tess_fits(folder / f"tess-s{s.sector:04d}.fits", s, flavour) for s in reversed(sectors)]  # sector 6 first
    read = read_light_curves(paths)
    assert read.names == ["TIC 123456789"] and read.clusters[0].file_format == "TESS FITS"
    assert [s.sector for s in read.clusters[0].sectors] == [5, 6]  # in sector order, as in an ELK file
    assert read.clusters[0].file == f"{paths[0]}; {paths[1]}"
    assert (read.clusters[0].ra_deg, read.clusters[0].dec_deg, np.isnan(read.clusters[0].radius_deg)) == (80.0, -69.0, True)
    assert_same_light_curves(_without_age_note(read), _without_age_note(reference))


def test_a_folder_of_tess_files_with_an_identical_copy(tmp_path, reference):
    folder = tmp_path / "tess" / "LMC"
    folder.mkdir(parents=True)
    for sector in reference.clusters[0].sectors:
        write_tess_fits(folder / f"a-s{sector.sector}.fits", sector)
    shutil.copyfile(folder / "a-s5.fits", folder / "b-copy.fits")
    read = read_light_curves(tmp_path / "tess", strict=False)
    assert_same_light_curves(_without_age_note(read, "duplicate_identical"), _without_age_note(reference))
    row = read.problems.set_index("code").loc["duplicate_identical"]
    assert (row["file"], row["outcome"]) == (str(folder / "b-copy.fits"), "skipped")
    assert row["reason"] == f"byte-identical copy of {folder / 'a-s5.fits'}, which is kept"


@pytest.mark.parametrize("kind", ["TimeSeries", "LightCurveLike", "Table", "DataFrame", "arrays", "columns", "mapping"])
def test_objects_round_trip(reference, kind):
    sectors = reference.clusters[0].sectors
    samples = reference.sample_table()
    if kind == "TimeSeries":  # Time in TDB as two doubles (jd1 = 2457000), fluxes as Quantity in e/s
        data = [time_series(s) for s in sectors]
    elif kind == "LightCurveLike":  # lightkurve-like objects in a collection, time in a btjd-like format
        data = CollectionLike(time_series(s, LightCurveLike, "btjd_like", OBJECT=NAME) for s in sectors)
    elif kind == "Table":  # plain floats: BTJD days and e/s
        data = Table({c: samples[c].to_numpy() for c in ("time", "flux", "flux_err", "sector")})
    elif kind == "DataFrame":
        data = samples[["time", "flux", "flux_err", "sector"]]
    elif kind == "arrays":
        data = tuple(samples[c].to_numpy() for c in ("time", "flux", "flux_err", "sector"))
    elif kind == "columns":
        data = {c.upper(): samples[c].to_numpy() for c in ("time", "flux", "flux_err", "sector")}  # any case
    else:  # name -> light curve
        data = {NAME: [time_series(s) for s in sectors]}
    read = as_light_curves(data, "LMC", name=None if kind in ("LightCurveLike", "mapping") else NAME)
    assert read.names == [NAME]
    assert_same_light_curves(_without_age_note(read), _without_age_note(reference))


def test_a_lightkurve_like_light_curve_is_read_by_its_interface(reference):
    sector = reference.clusters[0].sectors[1]
    light_curve = time_series(sector, LightCurveLike, "btjd_like", OBJECT="TIC 42", TICID=42, NORMALIZED=False)
    assert isinstance(light_curve.time, Time) and light_curve.flux.unit == u.electron / u.s
    read = as_light_curves(light_curve, "SMC")
    cluster = read.clusters[0]
    assert (cluster.name, cluster.galaxy, [s.sector for s in cluster.sectors]) == ("TIC 42", "SMC", [6])
    assert read.problems["code"].tolist() == ["no_log_age"]
    assert read.problems["file"].tolist() == ["LightCurveLike 'TIC 42'"]
    np.testing.assert_array_equal(cluster.sectors[0].time_btjd, sector.time_btjd)
    np.testing.assert_array_equal(cluster.sectors[0].flux_e_per_s, sector.flux_e_per_s)


def test_the_partitions_of_a_folder_dataset_are_read_as_a_folder_is(tmp_path, elk_file, reference):
    """The predict pipeline's folder: ELK and TESS files in galaxy folders, a flat file with the
    galaxy given, an empty folder, a stray file; ids are the partition ids. (ELKLightCurveDataset
    reads FITS files; a CSV partition is loaded here with read_light_curve_file.)"""
    from tess_cluster_age.datasets import ELKFolderDataset

    root = tmp_path / "predict"
    for folder in ("LMC", "SMC", "MW"):
        (root / folder).mkdir(parents=True)
    shutil.copyfile(elk_file, root / "LMC" / "ngc-test.fits")
    for sector in reference.clusters[0].sectors:
        write_tess_fits(root / "SMC" / f"tic-s{sector.sector}.fits", sector)
    write_csv(root / "flat.csv", reference.clusters[0].sectors)
    (root / "LMC" / "README.txt").write_text("notes")
    partitions = ELKFolderDataset(path=str(root)).load()
    partitions["flat.csv"] = lambda: read_light_curve_file(root / "flat.csv")
    read = read_partitions(partitions, "MW", strict=False)
    assert [(c.name, c.galaxy, c.file_format) for c in read.clusters] == [
        (NAME, "LMC", "ELK"), ("TIC 123456789", "SMC", "TESS FITS"), ("flat", "MW", "CSV")]
    rows = read.problems[read.problems["code"] != "no_log_age"]
    assert rows[["file", "level", "outcome", "code"]].values.tolist() == [
        ["LMC/README.txt", "file", "ignored", "not_light_curve_file"], ["MW", "folder", "empty", "empty_folder"]]
    for cluster in read.clusters:  # the same samples, whatever the format
        samples = LightCurves((cluster,), read.problems.iloc[:0]).sample_table().drop(columns="name")
        pd.testing.assert_frame_equal(samples, reference.sample_table().drop(columns="name"), check_exact=True)
    with pytest.raises(LightCurveInputError, match="^MW: folder holds no file$"):
        read_partitions(ELKFolderDataset(path=str(root)).load(), "MW", strict=True)


def test_as_light_curves_passes_paths_and_results_through(elk_file):
    read = as_light_curves(str(elk_file))
    assert read.names == [NAME] and as_light_curves(read) is read
    assert as_light_curves([elk_file]).names == [NAME]


def test_time_in_utc_is_converted_to_tdb():
    """Known answer: TDB - UTC = 37 s (leap seconds since 1972, TAI - UTC) + 32.184 s (TT - TAI)
    in 2019-2026, plus a periodic term below 1.7 ms."""
    jd_utc = 2458800.0 + np.arange(0, 20, 0.5)
    series = Table({"time": Time(jd_utc, format="jd", scale="utc"), "flux": np.full(40, 10.0), "flux_err": np.ones(40)})
    read = as_light_curves(series, "MW", name="UTC")
    btjd = read.clusters[0].sectors[0].time_btjd
    np.testing.assert_allclose((btjd - (jd_utc - 2457000.0)) * 86400.0, 69.184, atol=2e-3)


@pytest.mark.parametrize(("unit", "offset_d", "references"), [
    ("jd", 2457000.0, {}),  # lightkurve's to_fits of a light curve in JD
    ("mjd", 56999.5, {}),
    ("d", 2167.0, {"BJDREFI": 2454833, "BJDREFF": 0.0}),  # Kepler's reference (BKJD)
    ("BJD - 2457000, days", 0.0, {"BJDREFI": 2457000, "BJDREFF": 0.0}),  # SPOC
])
def test_tess_fits_time_references(tmp_path, unit, offset_d, references):
    from astropy.io import fits

    btjd = 1500.0 + np.arange(100) / 48
    primary = fits.PrimaryHDU()
    primary.header.update({"OBJECT": "T", "SECTOR": 9})
    table = fits.BinTableHDU.from_columns([fits.Column(name="TIME", format="D", unit=unit, array=btjd + offset_d),
                                           fits.Column(name="FLUX", format="D", array=np.full(100, 5.0)),
                                           fits.Column(name="FLUX_ERR", format="D", array=np.ones(100))])
    table.header.update(references)
    fits.HDUList([primary, table]).writeto(tmp_path / "t.fits")
    read = read_light_curves(tmp_path / "t.fits", "MW")
    np.testing.assert_allclose(read.clusters[0].sectors[0].time_btjd, btjd, rtol=0, atol=1e-9)


def test_flux_units_are_converted_to_electrons_per_second(reference):
    sector = reference.clusters[0].sectors[0]
    series = time_series(sector)
    series["flux"] = series["flux"].to(u.electron / u.min)
    series["flux_err"] = series["flux_err"].to(u.electron / u.h)
    read = as_light_curves(series, "LMC", name=NAME)
    np.testing.assert_allclose(read.clusters[0].sectors[0].flux_e_per_s, sector.flux_e_per_s, rtol=1e-14)
    np.testing.assert_allclose(read.clusters[0].sectors[0].flux_err_e_per_s, sector.flux_err_e_per_s, rtol=1e-14)


def test_a_table_without_sector_number_is_one_sector_with_a_note(tmp_path, reference):
    sectors = reference.clusters[0].sectors[:1]
    path = write_csv(tmp_path / "one.csv", sectors, sector_column=False)
    read = read_light_curves(path, "LMC")
    assert [s.sector for s in read.clusters[0].sectors] == [1]
    note = read.problems.set_index("code").loc["no_sector_number"]
    assert (note["level"], note["outcome"]) == ("header", "kept")
    assert note["reason"] == "no sector number (no sector column or SECTOR keyword): light curve(s) 1 numbered by position"
    np.testing.assert_array_equal(read.clusters[0].sectors[0].flux_e_per_s, sectors[0].flux_e_per_s)


def test_unsorted_repeated_and_invalid_samples_are_handled_as_ingestion_handles_them(tmp_path, make_elk_file):
    """The same bad samples in an ELK file (through ingestion's reader) and in a CSV table give the
    same drops, counts and problem rows."""
    rng = np.random.default_rng(5)
    table = synthetic_sector(7, n=400, seed=3)
    columns = {c: table.columns[c].copy() for c in ("time", "flux", "flux_err")}
    columns["flux"][[3, 4]] = np.nan
    columns["time"][10] = np.nan
    columns["flux_err"][12] = -1.0
    columns["flux"][13] = 0.0
    columns["time"][41] = columns["time"][40]  # conflicting: same time, different flux
    repeats = np.arange(100, 110)
    order = rng.permutation(np.concatenate([np.arange(400), repeats]))  # exact repeats, then shuffled
    bad = {c: v[order] for c, v in columns.items()}
    elk = make_elk_file(tmp_path / "elk" / "SMC" / "bad.fits", "BAD", log_age=None, sectors=[RawSectorTable(0, 7, bad)])
    ingested = read_elk_partitions({"SMC/bad.fits": lambda: read_elk_file(elk)})
    csv = tmp_path / "SMC" / "BAD.csv"
    csv.parent.mkdir()
    Table({**bad, "sector": np.full(order.size, 7)}).write(csv, format="ascii.csv")
    read = read_light_curves(csv)
    sector = read.clusters[0].sectors[0]
    assert (sector.n_invalid, sector.n_duplicates, sector.n_conflicting, sector.n_points) == (5, 10, 2, 393)
    assert np.all(np.diff(sector.time_btjd) > 0)
    pd.testing.assert_frame_equal(read.sample_table(), ingested.sample_table(), check_exact=True)
    pd.testing.assert_frame_equal(read.sector_table(), ingested.sector_table())
    points = ["level", "sector", "outcome", "code", "reason", "n_points"]
    pd.testing.assert_frame_equal(read.problems[points], ingested.problems[points])


def test_problem_row_serves_ingestion_and_dating():
    assert problem_row("LMC/a.fits", "A", "points", "invalid_samples", "non-finite", outcome="dropped", sector=5,
                       n_points=3) == {"file": "LMC/a.fits", "name": "A", "level": "points", "sector": 5,
                                       "outcome": "dropped", "code": "invalid_samples", "reason": "non-finite",
                                       "n_points": 3}
    row = problem_row("a.fits", "A", "cluster", "not_dated", "no model dated the cluster")  # dating's form
    assert list(row) == PROBLEM_COLUMNS and (row["sector"], row["outcome"], row["n_points"]) == (None, "skipped", 0)


@pytest.mark.real_data
def test_a_real_elk_file_round_trips_through_every_format(tmp_path, elk_dir):
    path = min((elk_dir / "LMC").glob("*.fits*"), key=lambda p: p.stat().st_size)
    reference = read_light_curves(path)
    cluster = reference.clusters[0]
    folder = tmp_path / "LMC"
    folder.mkdir()
    csv = write_csv(folder / "real.csv", cluster.sectors)
    tess = [write_tess_fits(folder / f"real-s{s.sector}.fits", s, "lightkurve", flux_format="D") for s in cluster.sectors]
    for read in (read_light_curves(csv), read_light_curves(tess),
                 as_light_curves([time_series(s) for s in cluster.sectors], "LMC", name=cluster.name)):
        assert_same_light_curves(_without_age_note(read), _without_age_note(reference))


def _without_age_note(read: LightCurves, *codes: str) -> LightCurves:
    """``read`` without its header notes that the comparison does not concern (no LOG_AGE, ...)."""
    keep = ~read.problems["code"].isin(["no_log_age", "log_age_unparsable", *codes])
    return LightCurves(read.clusters, read.problems[keep].reset_index(drop=True))
