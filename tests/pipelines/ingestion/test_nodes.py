"""Ingestion on purpose-built good and bad files: every problem gets a counted, logged outcome."""

import gzip
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.pandas import CSVDataset, ParquetDataset

from tests.synthetic import set_header_card, synthetic_sector
from tess_cluster_age.datasets import ELKFolderDataset
from tess_cluster_age.lightcurves import RawSectorTable, sectors_from_samples
from tess_cluster_age.pipelines.ingestion.nodes import build_ingestion_report, cross_check_ages, read_clusters

PARAMS = {"galaxies": ["MW", "LMC", "SMC"], "file_suffixes": [".fits", ".fits.gz"], "log_every": 2,
          "max_separation_arcmin": 1.0, "age_tolerance_dex": 0.01,
          "catalogue_columns": {g: {"name": "name", "ra": "ra", "dec": "dec", "log_age": "age"} for g in ["MW", "LMC", "SMC"]}}


def partitions(folder):
    return ELKFolderDataset(path=str(folder)).load()


def read(folder):
    return read_clusters(partitions(folder), PARAMS)


def report_of(clusters, sectors, problems):
    """The ingestion report, with the age cross-check run against empty references."""
    empty = pd.DataFrame({"name": [], "ra": [], "dec": [], "age": []})
    checked = cross_check_ages(clusters, pd.DataFrame({"name": [], "Lit_Clst_Age": []}), empty, empty, empty, PARAMS)
    return build_ingestion_report(checked, sectors, problems)


def problem_for(problems, fragment):
    rows = problems[problems["file"].str.contains(fragment, regex=False)]
    assert len(rows) == 1, f"expected one problem for {fragment}, got {rows.to_dict('records')}"
    return rows.iloc[0]


@pytest.fixture
def good_files(tmp_path, make_elk_file):
    make_elk_file(tmp_path / "LMC" / "good-a.fits.gz", "GOOD A", 7.5)
    make_elk_file(tmp_path / "SMC" / "good-b.fits", "GOOD B", 9.1, sectors=[synthetic_sector(30, n=400, cadence_s=600)])
    return tmp_path


def test_good_files_give_clusters_and_samples(good_files):
    clusters, sectors, samples, problems = read(good_files)
    assert sectors[["name", "hdu", "sector", "n_points"]].values.tolist() == [["GOOD A", 1, 5, 300], ["GOOD A", 2, 6, 300],
                                                                             ["GOOD B", 1, 30, 400]]
    assert sectors["time_start"].iloc[1] == pytest.approx(1430.0)
    assert list(clusters["name"]) == ["GOOD A", "GOOD B"]
    assert list(clusters["galaxy"]) == ["LMC", "SMC"]
    assert list(clusters["n_sectors"]) == [2, 1]
    assert list(clusters["n_points"]) == [600, 400]
    assert clusters["log_age"].tolist() == [7.5, 9.1]
    assert problems.empty
    a = samples[samples["name"] == "GOOD A"]
    assert a["sector"].unique().tolist() == [5, 6] and a["hdu"].unique().tolist() == [1, 2]
    np.testing.assert_array_equal(a["flux"].to_numpy()[:300], synthetic_sector(5, seed=1).columns["flux"])
    assert samples.groupby("name")["cadence_s"].first().round().tolist() == [1800, 600]


def test_truncated_file_is_skipped_and_others_kept(good_files, make_elk_file, caplog):
    path = make_elk_file(good_files / "MW" / "truncated.fits", "TRUNC")
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with caplog.at_level(logging.WARNING):
        clusters, _, _, problems = read(good_files)
    assert "TRUNC" not in clusters["name"].tolist() and len(clusters) == 2
    row = problem_for(problems, "truncated.fits")
    assert row["outcome"] == "skipped" and "unreadable" in row["reason"]
    assert "truncated.fits" in caplog.text


def test_truncated_gzip_is_skipped(good_files, make_elk_file):
    path = make_elk_file(good_files / "MW" / "cut.fits.gz", "CUT")
    path.write_bytes(path.read_bytes()[:200])
    clusters, _, _, problems = read(good_files)
    assert len(clusters) == 2
    assert "unreadable" in problem_for(problems, "cut.fits.gz")["reason"]


def test_non_fits_file_is_skipped(good_files):
    (good_files / "LMC" / "notes.fits").write_text("SIMPLE? no, a text file\n" * 100)
    (good_files / "LMC" / "zipped.fits.gz").write_bytes(gzip.compress(b"not fits either" * 100))
    clusters, _, _, problems = read(good_files)
    assert len(clusters) == 2
    assert "not a readable FITS file" in problem_for(problems, "notes.fits")["reason"]
    assert "not a readable FITS file" in problem_for(problems, "zipped.fits.gz")["reason"]


def test_stray_files_are_listed_as_ignored_not_skipped(good_files, make_elk_file):
    (good_files / "LMC" / "README.txt").write_text("hello")
    (good_files / "SMC" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    make_elk_file(good_files / "MW" / "empty.fits", "EMPTY", sectors=[])
    clusters, sectors, _, problems = read(good_files)
    assert len(clusters) == 2
    row = problem_for(problems, "README.txt")
    assert (row["level"], row["outcome"], row["code"]) == ("file", "ignored", "not_elk_file")
    assert "not an ELK file name" in row["reason"]
    assert problem_for(problems, ".DS_Store")["outcome"] == "ignored"
    report = report_of(clusters, sectors, problems)
    assert report["files_ignored"] == ["LMC/README.txt", "SMC/.DS_Store"]
    assert report["files_skipped"] == 1 and report["files_skipped_by_reason"] == {"no_sectors": 1}
    assert report["files_found"] == 3


def test_file_without_sector_tables_is_skipped(good_files, make_elk_file):
    make_elk_file(good_files / "MW" / "empty.fits", "EMPTY", sectors=[])
    clusters, _, _, problems = read(good_files)
    assert "EMPTY" not in clusters["name"].tolist()
    assert problem_for(problems, "empty.fits")["reason"] == "no sector tables"


def test_sector_missing_columns_is_skipped_rest_kept(good_files, make_elk_file):
    broken = RawSectorTable(0, 7, {"time": np.arange(10.0), "flux": np.ones(10)})
    make_elk_file(good_files / "MW" / "partial.fits", "PARTIAL", sectors=[synthetic_sector(5), broken])
    clusters, _, samples, problems = read(good_files)
    row = clusters.set_index("name").loc["PARTIAL"]
    assert row["n_sectors"] == 1 and row["n_points"] == 300
    assert samples.loc[samples["name"] == "PARTIAL", "sector"].unique().tolist() == [5]
    problem = problem_for(problems, "partial.fits")
    assert (problem["level"], problem["sector"], problem["outcome"]) == ("sector", 7, "skipped")
    assert problem["reason"] == "HDU 2: missing columns: flux_err"


def test_all_nan_and_non_positive_flux_sectors_are_skipped(good_files, make_elk_file):
    nan_sector = synthetic_sector(8)
    nan_sector.columns["flux"][:] = np.nan
    negative = synthetic_sector(9)
    negative.columns["flux"][:] = -5.0
    make_elk_file(good_files / "LMC" / "nanflux.fits", "NANFLUX", sectors=[nan_sector])
    make_elk_file(good_files / "LMC" / "mixed.fits", "MIXED", sectors=[synthetic_sector(5), negative])
    clusters, _, _, problems = read(good_files)
    assert "NANFLUX" not in clusters["name"].tolist()
    assert problem_for(problems, "nanflux.fits")["reason"] == "no usable sector tables (no finite flux)"
    assert clusters.set_index("name").loc["MIXED", "n_sectors"] == 1
    assert problem_for(problems, "mixed.fits")["reason"] == "HDU 2: no positive flux"


def test_non_positive_flux_and_flux_err_samples_are_dropped_and_counted(good_files, make_elk_file):
    sector = synthetic_sector(5)
    sector.columns["flux"][[1, 2]] = [-3.0, 0.0]
    sector.columns["flux_err"][[7, 8, 9]] = [0.0, -1.0, np.inf]
    make_elk_file(good_files / "SMC" / "bad-points.fits", "BAD POINTS", sectors=[sector])
    clusters, _, samples, problems = read(good_files)
    assert clusters.set_index("name").loc["BAD POINTS", "n_points"] == 295
    mine = samples[samples["name"] == "BAD POINTS"]
    assert (mine["flux"] > 0).all() and (mine["flux_err"] > 0).all()
    problem = problem_for(problems, "bad-points.fits")
    assert (problem["level"], problem["outcome"], problem["n_points"]) == ("points", "dropped", 5)


def test_nan_points_are_dropped_and_counted(good_files, make_elk_file):
    sector = synthetic_sector(5)
    sector.columns["flux"][[3, 4, 10]] = np.nan
    sector.columns["time"][20] = np.nan
    make_elk_file(good_files / "SMC" / "holes.fits", "HOLES", sectors=[sector])
    clusters, _, samples, problems = read(good_files)
    assert clusters.set_index("name").loc["HOLES", "n_points"] == 296
    assert clusters.set_index("name").loc["HOLES", "n_dropped"] == 4
    assert np.isfinite(samples.loc[samples["name"] == "HOLES", ["time", "flux"]].to_numpy()).all()
    problem = problem_for(problems, "holes.fits")
    assert (problem["level"], problem["outcome"], problem["n_points"]) == ("points", "dropped", 4)


def test_missing_log_age_is_kept_as_unlabelled(good_files, make_elk_file):
    make_elk_file(good_files / "MW" / "noage.fits", "NO AGE", log_age=None)
    clusters, _, _, problems = read(good_files)
    assert np.isnan(clusters.set_index("name").loc["NO AGE", "log_age"])
    problem = problem_for(problems, "noage.fits")
    assert problem["outcome"] == "kept" and "no LOG_AGE" in problem["reason"]


def test_duplicate_cluster_names_with_different_content_keep_neither(good_files, make_elk_file):
    """A stray copy (here 10x the flux) must not replace the real file by file-name order."""
    bright = synthetic_sector(5, seed=1, flux_level=50000.0)
    make_elk_file(good_files / "LMC" / "aa-copy.fits", "GOOD A", 7.5, sectors=[bright])
    clusters, sectors, samples, problems = read(good_files)
    assert "GOOD A" not in clusters["name"].tolist() and "GOOD A" not in samples["name"].tolist()
    assert clusters["name"].tolist() == ["GOOD B"]
    copy, original = problem_for(problems, "aa-copy.fits"), problem_for(problems, "good-a.fits.gz")
    assert (copy["outcome"], copy["code"]) == (original["outcome"], original["code"]) == ("skipped", "duplicate_name")
    assert "LMC/good-a.fits.gz" in copy["reason"] and "LMC/aa-copy.fits" in original["reason"]
    report = report_of(clusters, sectors, problems)
    assert report["duplicate_names"] == {"GOOD A": {"outcome": "different content: none kept",
                                                    "files": ["LMC/aa-copy.fits", "LMC/good-a.fits.gz"]}}
    assert report["files_skipped_by_reason"] == {"duplicate_name": 2}


def test_duplicate_cluster_name_in_another_galaxy_folder_keeps_neither(good_files):
    (good_files / "MW").mkdir()
    shutil.copyfile(good_files / "LMC" / "good-a.fits.gz", good_files / "MW" / "good-a.fits.gz")
    clusters, _, _, problems = read(good_files)
    assert clusters["name"].tolist() == ["GOOD B"]
    assert problem_for(problems, "MW/good-a.fits.gz")["code"] == "duplicate_name"


def test_byte_identical_duplicates_keep_one(good_files):
    shutil.copyfile(good_files / "LMC" / "good-a.fits.gz", good_files / "LMC" / "zz-copy.fits.gz")
    clusters, sectors, samples, problems = read(good_files)
    assert clusters["name"].tolist().count("GOOD A") == 1
    assert clusters.set_index("name").loc["GOOD A", "file"].endswith("good-a.fits.gz")
    assert samples.groupby("name", observed=True).size()["GOOD A"] == 600
    skipped, kept = problem_for(problems, "zz-copy.fits.gz"), problem_for(problems, "LMC/good-a.fits.gz")
    assert (skipped["outcome"], skipped["code"]) == ("skipped", "duplicate_identical")
    assert skipped["reason"] == "byte-identical copy of LMC/good-a.fits.gz, which is kept"
    assert (kept["outcome"], kept["code"]) == ("kept", "duplicate_identical")
    report = report_of(clusters, sectors, problems)
    assert report["duplicate_names"]["GOOD A"]["outcome"] == "identical copies: one kept"
    assert report["clusters_read"] == 2 and report["files_skipped"] == 1


def test_unknown_galaxy_folder_and_loose_files_are_skipped(good_files, make_elk_file):
    make_elk_file(good_files / "M31" / "andromeda.fits", "ANDROMEDA")
    make_elk_file(good_files / "loose.fits", "LOOSE")
    clusters, _, _, problems = read(good_files)
    assert set(clusters["name"]) == {"GOOD A", "GOOD B"}
    assert problem_for(problems, "andromeda.fits")["reason"].startswith("unknown galaxy folder 'M31'")
    assert problem_for(problems, "loose.fits")["reason"].startswith("unknown galaxy folder ''")


def test_header_n_good_mismatch_is_noted(good_files, make_elk_file):
    from tests.synthetic import elk_header
    from tess_cluster_age.lightcurves import write_elk_file

    write_elk_file(good_files / "MW" / "odd.fits", elk_header("ODD", 8.0, n_good=5), [synthetic_sector(5)])
    clusters, _, _, problems = read(good_files)
    assert "ODD" in clusters["name"].tolist()
    assert problem_for(problems, "odd.fits")["reason"] == "N_GOOD = 5 but the file has 1 sector tables"


def test_report_counts_every_outcome(good_files, make_elk_file):
    make_elk_file(good_files / "M31" / "a.fits", "A")
    make_elk_file(good_files / "MW" / "empty.fits", "EMPTY", sectors=[])
    make_elk_file(good_files / "MW" / "noage.fits", "NO AGE", log_age=None)
    clusters, sectors, samples, problems = read(good_files)
    catalogue = pd.DataFrame({"name": ["x"], "ra": [80.0], "dec": [-69.0], "age": [7.5]})
    published = pd.DataFrame({"name": ["GOOD A", "GOOD A", "GOOD B"], "Lit_Clst_Age": [7.5, 7.5, 9.3]})
    checked = cross_check_ages(clusters, published, catalogue, catalogue, catalogue, PARAMS)
    report = build_ingestion_report(checked, sectors, problems)
    assert report["files_found"] == 5 and report["clusters_read"] == 3 and report["files_skipped"] == 2
    assert report["files_skipped_by_reason"] == {"unknown_galaxy": 1, "no_sectors": 1}
    assert report["header_notes_by_reason"] == {"no_log_age": 1}
    assert report["clusters_without_log_age"] == ["NO AGE"]
    assert report["points_read"] == 600 + 400 + 600 == len(samples)
    assert report["sectors_by_cadence_s"] == {"600": 1, "1800": 4}
    # GOOD A agrees with both references; GOOD B disagrees with both (9.1 vs 9.3 published, 7.5 catalogue)
    assert report["age_cross_check"]["agree"] == 1 and report["age_cross_check"]["disagree"] == 1
    assert report["age_cross_check"]["disagreements"][0]["name"] == "GOOD B"
    assert checked.set_index("name").loc["NO AGE", "age_agrees"] is pd.NA


def test_catalogue_match_respects_separation(good_files):
    clusters, _, _, _ = read(good_files)
    far = pd.DataFrame({"name": ["far"], "ra": [80.1], "dec": [-69.0], "age": [7.5]})  # ~2.2 arcmin away
    published = pd.DataFrame({"name": [], "Lit_Clst_Age": []})
    checked = cross_check_ages(clusters, published, far, far, far, PARAMS)
    assert checked["catalogue_log_age"].isna().all()
    assert checked["catalogue_sep_arcmin"].between(2.0, 2.3).all()
    assert checked["age_agrees"].isna().all()


def test_repeated_sector_in_one_file_keeps_the_first(good_files, make_elk_file):
    make_elk_file(good_files / "MW" / "twice.fits", "TWICE", sectors=[synthetic_sector(5, seed=1), synthetic_sector(5, seed=9)])
    clusters, _, samples, problems = read(good_files)
    assert clusters.set_index("name").loc["TWICE", "n_sectors"] == 1
    kept = samples.loc[samples["name"] == "TWICE", "flux"].to_numpy()
    np.testing.assert_array_equal(kept, synthetic_sector(5, seed=1).columns["flux"])
    assert problem_for(problems, "twice.fits")["reason"] == "HDU 2: duplicate sector 5 (first kept)"


def test_unlabelled_clusters_are_never_looked_up(good_files, make_elk_file):
    """A cluster to be dated must not pick up its literature age from the references."""
    make_elk_file(good_files / "MW" / "noage.fits", "NO AGE", log_age=None, ra=80.0, dec=-69.0)
    clusters, _, _, _ = read(good_files)
    catalogue = pd.DataFrame({"name": ["NO AGE"], "ra": [80.0], "dec": [-69.0], "age": [8.3]})
    published = pd.DataFrame({"name": ["NO AGE"], "Lit_Clst_Age": [8.3]})
    checked = cross_check_ages(clusters, published, catalogue, catalogue, catalogue, PARAMS).set_index("name")
    row = checked.loc["NO AGE"]
    assert np.isnan(row["published_log_age"]) and np.isnan(row["catalogue_log_age"]) and pd.isna(row["catalogue_name"])
    assert checked.loc["GOOD A", "catalogue_log_age"] == 8.3  # labelled clusters still are


def test_match_by_name_and_empty_catalogue(good_files):
    clusters, _, _, _ = read(good_files)
    params = {**PARAMS, "catalogue_columns": {**PARAMS["catalogue_columns"],
                                              "LMC": {"name": "name", "ra": "ra", "dec": "dec", "log_age": "age", "match": "name"}}}
    # the LMC entry is far away on the sky but carries the cluster's name (spelt differently)
    lmc = pd.DataFrame({"name": ["good-a"], "ra": [10.0], "dec": [20.0], "age": [7.5]})
    empty = pd.DataFrame({"name": [], "ra": [], "dec": [], "age": []})
    checked = cross_check_ages(clusters, pd.DataFrame({"name": [], "Lit_Clst_Age": []}), empty, lmc, empty, params).set_index("name")
    assert checked.loc["GOOD A", "catalogue_log_age"] == 7.5 and checked.loc["GOOD A", "catalogue_name"] == "good-a"
    assert checked.loc["GOOD A", "catalogue_sep_arcmin"] > 1000
    assert np.isnan(checked.loc["GOOD B", "catalogue_log_age"])  # SMC catalogue empty: no match, no crash


def test_symlinked_galaxy_folder_is_followed(tmp_path, make_elk_file):
    """Data on another disk: ``LMC -> /elsewhere/LMC`` must be read like a real folder."""
    elsewhere = tmp_path / "other-disk" / "LMC"
    make_elk_file(elsewhere / "linked-a.fits.gz", "LINKED A", 7.5)
    make_elk_file(elsewhere / "linked-b.fits", "LINKED B", 8.5)
    elk = tmp_path / "elk"
    make_elk_file(elk / "SMC" / "real.fits", "REAL", 9.0)
    (elk / "LMC").symlink_to(elsewhere, target_is_directory=True)
    clusters, _, samples, problems = read(elk)
    assert clusters[["name", "galaxy"]].values.tolist() == [["LINKED A", "LMC"], ["LINKED B", "LMC"], ["REAL", "SMC"]]
    assert clusters.set_index("name").loc["LINKED A", "n_points"] == 600
    assert problems.empty


def test_symlink_loop_and_folders_without_readable_files_are_reported(tmp_path, make_elk_file, caplog):
    elk = tmp_path / "elk"
    make_elk_file(elk / "SMC" / "real.fits", "REAL", 9.0)
    (elk / "SMC" / "back").symlink_to(elk, target_is_directory=True)  # a loop: SMC/back/SMC/back/...
    (elk / "MW").mkdir()  # empty
    (elk / "LMC").mkdir()
    (elk / "LMC" / "broken.fits").write_text("not FITS\n" * 50)  # only an unreadable file
    with caplog.at_level(logging.WARNING):
        clusters, _, _, problems = read(elk)
    assert clusters["name"].tolist() == ["REAL"]
    folders = problems[problems["level"] == "folder"].set_index("file")
    assert folders["code"].to_dict() == {"LMC": "no_readable_file", "MW": "empty_folder", "SMC/back": "symlink_loop"}
    assert (folders["outcome"] == "empty").all()
    assert folders.loc["SMC/back", "reason"].endswith("already read as .: not read again")
    assert "MW: empty, empty_folder" in caplog.text
    report = report_of(clusters, read(elk)[1], problems)
    assert [f["folder"] for f in report["folders_without_clusters"]] == ["LMC", "MW", "SMC/back"]


def test_unparsable_log_age_keeps_the_cluster_unlabelled(good_files, make_elk_file):
    """``LOG_AGE = NaN`` unquoted is refused by astropy's strict parser; the file must not be lost."""
    path = make_elk_file(good_files / "MW" / "nan-age.fits", "NAN AGE", 8.0)
    set_header_card(path, "LOG_AGE = " + "NaN".rjust(20) + " / log10 age")
    make_elk_file(good_files / "MW" / "word-age.fits", "WORD AGE", log_age=None, LOG_AGE="eight")
    clusters, _, samples, problems = read(good_files)
    by_name = clusters.set_index("name")
    assert np.isnan(by_name.loc["NAN AGE", "log_age"]) and by_name.loc["NAN AGE", "n_points"] == 600
    assert np.isnan(by_name.loc["WORD AGE", "log_age"])
    assert samples.groupby("name", observed=True).size()["NAN AGE"] == 600
    nan_row, word_row = problem_for(problems, "nan-age.fits"), problem_for(problems, "word-age.fits")
    assert (nan_row["level"], nan_row["outcome"], nan_row["code"]) == ("header", "kept", "log_age_unparsable")
    assert nan_row["reason"].startswith("log_age unparsable: LOG_AGE = 'NaN'")
    assert word_row["code"] == "log_age_unparsable" and "'eight'" in word_row["reason"]
    assert "no LOG_AGE" not in word_row["reason"]


def test_duplicate_timestamps_are_dropped_and_counted(good_files, make_elk_file):
    """Repeated samples gave cadence_s = 0 and silently no window segments."""
    from tess_cluster_age.segments import SegmentConfig, cluster_segments

    sector = synthetic_sector(5, n=1000)
    doubled = RawSectorTable(0, 5, {k: np.repeat(v, 2) for k, v in sector.columns.items()})  # every sample twice
    conflicting = synthetic_sector(6, n=1000, t0=1430.0)
    conflicting.columns["flux"][10:13] = conflicting.columns["flux"][11:14]  # not a repeat: flux differs
    conflicting.columns["time"][[11, 12]] = conflicting.columns["time"][10]  # three samples share one time
    make_elk_file(good_files / "LMC" / "doubled.fits", "DOUBLED", sectors=[doubled, conflicting])
    clusters, sectors, samples, problems = read(good_files)
    mine = sectors[sectors["name"] == "DOUBLED"].set_index("sector")
    assert mine["n_points"].to_dict() == {5: 1000, 6: 997}
    assert mine["n_dropped"].to_dict() == {5: 1000, 6: 3}
    assert mine["cadence_s"].to_list() == [pytest.approx(1800.0), pytest.approx(1800.0)]
    rows = problems[problems["name"] == "DOUBLED"].set_index("code")
    assert rows.loc["duplicate_samples", ["level", "sector", "outcome", "n_points"]].tolist() == ["points", 5, "dropped", 1000]
    assert rows.loc["conflicting_samples", ["sector", "n_points"]].tolist() == [6, 3]
    lcs = sectors_from_samples(samples)["DOUBLED"]
    np.testing.assert_array_equal(lcs[0].time_btjd, sector.columns["time"])
    assert np.all(np.diff(lcs[1].time_btjd) > 0)
    windows = cluster_segments("DOUBLED", "LMC", lcs, SegmentConfig(kinds=("window",)), seed=0)
    assert len(windows) >= 2 and all(w["cadence_s"] == pytest.approx(1800.0) for w in windows)
    report = report_of(clusters, sectors, problems)
    assert report["points_dropped_by_reason"] == {"duplicate_samples": 1000, "conflicting_samples": 3}


def test_non_ascii_cluster_name_is_kept_through_the_tables(good_files, make_elk_file, tmp_path):
    name = "Hodge 11 – Ω"
    make_elk_file(good_files / "LMC" / "hodge-11.fits", name, 10.1)
    clusters, sectors, samples, problems = read(good_files)
    assert name in clusters["name"].tolist() and problems.empty
    out = tmp_path / "out"
    for label, frame in {"clusters": clusters, "sectors": sectors, "samples": samples}.items():
        dataset = ParquetDataset(filepath=str(out / f"{label}.parquet"))
        dataset.save(frame)
        assert name in set(dataset.load()["name"]), label
    assert len(sectors_from_samples(ParquetDataset(filepath=str(out / "samples.parquet")).load())[name]) == 2


def test_header_bytes_that_are_not_utf8_are_counted_not_silently_replaced(good_files, make_elk_file, tmp_path):
    path = make_elk_file(good_files / "LMC" / "latin1.fits", "placeholder", 8.0)
    set_header_card(path, "NAME    = 'Caf\xe9 1'".encode("latin-1"))  # Latin-1, not UTF-8
    clusters, _, _, problems = read(good_files)
    assert "Caf\ufffd 1" in clusters["name"].tolist()
    row = problem_for(problems, "latin1.fits")
    assert (row["level"], row["outcome"], row["code"]) == ("header", "kept", "header_not_utf8")
    CSVDataset(filepath=str(tmp_path / "problems.csv")).save(problems)
    assert "Caf\ufffd 1" in CSVDataset(filepath=str(tmp_path / "problems.csv")).load()["name"].tolist()


def test_report_groups_skipped_files_by_reason_code(good_files, make_elk_file):
    for stem in ("one", "two", "three"):
        (good_files / "LMC" / f"{stem}.fits").write_text("not FITS\n" * 50)
    clusters, sectors, _, problems = read(good_files)
    report = report_of(clusters, sectors, problems)
    assert report["files_skipped_by_reason"] == {"unreadable": 3}
    assert sorted(f["file"] for f in report["skipped_files"]) == ["LMC/one.fits", "LMC/three.fits", "LMC/two.fits"]
    assert all("not a readable FITS file" in f["reason"] for f in report["skipped_files"])
    assert set(problems["code"]) == {"unreadable"}


def test_age_check_needs_every_reference_to_agree(good_files):
    """One reference agreeing is not enough: the cross-check is an ``all``, not an ``any``."""
    clusters, _, _, _ = read(good_files)
    # GOOD A (7.5): published agrees, catalogue 8.0 does not. GOOD B (9.1): both agree.
    catalogue = pd.DataFrame({"name": ["a", "b"], "ra": [80.0, 80.0], "dec": [-69.0, -69.0], "age": [8.0, 9.1]})
    lmc, smc = catalogue.iloc[[0]], catalogue.iloc[[1]]
    published = pd.DataFrame({"name": ["GOOD A", "GOOD B"], "Lit_Clst_Age": [7.5, 9.1]})
    checked = cross_check_ages(clusters, published, catalogue.iloc[:0], lmc, smc, PARAMS).set_index("name")
    assert checked["age_agrees"].tolist() == [False, True]
