"""Ingestion on purpose-built good and bad files: every problem gets a counted, logged outcome."""

import gzip
import logging

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.partitions import PartitionedDataset

from tests.synthetic import synthetic_sector
from tess_cluster_age.lightcurves import RawSectorTable
from tess_cluster_age.pipelines.ingestion.nodes import build_ingestion_report, cross_check_ages, read_clusters

PARAMS = {"galaxies": ["MW", "LMC", "SMC"], "file_suffixes": [".fits", ".fits.gz"], "log_every": 2,
          "max_separation_arcmin": 1.0, "age_tolerance_dex": 0.01,
          "catalogue_columns": {g: {"name": "name", "ra": "ra", "dec": "dec", "log_age": "age"} for g in ["MW", "LMC", "SMC"]}}


def partitions(folder):
    return PartitionedDataset(path=str(folder), dataset="tess_cluster_age.datasets.ELKLightCurveDataset").load()


def read(folder):
    return read_clusters(partitions(folder), PARAMS)


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


def test_other_file_names_are_counted_not_read(good_files):
    (good_files / "LMC" / "README.txt").write_text("hello")
    clusters, _, _, problems = read(good_files)
    assert len(clusters) == 2
    assert "not an ELK file name" in problem_for(problems, "README.txt")["reason"]


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


def test_duplicate_cluster_names_keep_the_first(good_files, make_elk_file):
    make_elk_file(good_files / "SMC" / "zz-copy.fits", "GOOD A", 7.0)
    clusters, _, samples, problems = read(good_files)
    assert clusters["name"].tolist().count("GOOD A") == 1
    assert clusters.set_index("name").loc["GOOD A", "galaxy"] == "LMC"
    assert samples.groupby("name").size()["GOOD A"] == 600
    assert "duplicate cluster name (already read from LMC/good-a.fits.gz)" == problem_for(problems, "zz-copy.fits")["reason"]


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
    assert report["files_skipped_by_reason"] == {"unknown galaxy folder 'M31' (known: LMC, MW, SMC)": 1, "no sector tables": 1}
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
