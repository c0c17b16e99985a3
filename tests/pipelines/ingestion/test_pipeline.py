"""The ingestion pipeline end to end on a few real ELK clusters (skipped when the data is absent)."""

import numpy as np
import pytest
from astropy.io import fits
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset
from kedro_datasets.partitions import PartitionedDataset

from tess_cluster_age.datasets import FitsTableDataset
from tess_cluster_age.pipelines.ingestion import create_pipeline

PARAMS = {
    "galaxies": ["MW", "LMC", "SMC"], "file_suffixes": [".fits", ".fits.gz"], "log_every": 50,
    "max_separation_arcmin": 1.0, "age_tolerance_dex": 0.01,
    "catalogue_columns": {
        "MW": {"name": "NAME", "ra": "RA", "dec": "DEC", "log_age": "LOG_AGE"},
        "LMC": {"name": "Name", "ra": "RA", "dec": "DEC", "log_age": "Age"},
        "SMC": {"name": "Names", "ra": "RA", "dec": "DEC", "log_age": "logAge"},
    },
}


def ingestion_catalog(elk_folder, reference_dir, out) -> DataCatalog:
    def table(name):
        return FitsTableDataset(filepath=str(reference_dir / name))

    return DataCatalog(
        {
            "elk_light_curves": PartitionedDataset(path=str(elk_folder), dataset="tess_cluster_age.datasets.ELKLightCurveDataset"),
            "published_sector_features": table("Stats_Table_For_all_Clusters_all_sectors_w_entropy.fits"),
            "mw_age_catalogue": table("Use_MW.fits"),
            "lmc_age_catalogue": table("Glatt_Cut_down.fits"),
            "smc_age_catalogue": table("Bica_Cut_down.fits"),
            "params:ingestion": MemoryDataset(PARAMS),
            "clusters": ParquetDataset(filepath=str(out / "clusters.parquet")),
            "sector_light_curves": ParquetDataset(filepath=str(out / "sector_light_curves.parquet")),
            "sectors": ParquetDataset(filepath=str(out / "sectors.parquet")),
            "ingestion_problems": CSVDataset(filepath=str(out / "ingestion_problems.csv")),
            "ingestion_report": JSONDataset(filepath=str(out / "ingestion_report.json")),
        }
    )


@pytest.mark.real_data
def test_ingestion_on_real_clusters(tmp_path, elk_dir, reference_dir):
    chosen = {g: sorted((elk_dir / g).glob("*.fits*"))[:2] for g in ("MW", "LMC", "SMC")}
    tmp_path = tmp_path / "elk"
    for galaxy, paths in chosen.items():
        (tmp_path / galaxy).mkdir(parents=True)
        for path in paths:
            (tmp_path / galaxy / path.name).symlink_to(path)
    # a plain .fits copy of one file: published files are not compressed
    plain = tmp_path / "SMC" / chosen["SMC"][0].name.replace(".fits.gz", ".fits")
    (tmp_path / "SMC" / chosen["SMC"][0].name).unlink()
    with fits.open(chosen["SMC"][0]) as hdul:
        hdul.writeto(plain)

    catalog = ingestion_catalog(tmp_path, reference_dir, tmp_path.parent / "out")
    SequentialRunner().run(create_pipeline(), catalog)
    clusters = catalog.load("clusters").set_index("name")
    samples = catalog.load("sector_light_curves")
    report = catalog.load("ingestion_report")

    assert len(clusters) == 6 and report["clusters_read"] == 6 and report["files_skipped"] == 0
    for galaxy, paths in chosen.items():
        for path in paths:
            with fits.open(path) as hdul:
                header = hdul[0].header
                row = clusters.loc[header["NAME"]]
                assert row["galaxy"] == galaxy
                assert row["log_age"] == pytest.approx(header["LOG_AGE"])
                assert row["n_sectors"] == header["N_GOOD"] == len(hdul) - 1
                assert row["n_points"] == sum(h.header["NAXIS2"] for h in hdul[1:])
                ra, dec = (float(v) for v in header["LOCATION"].split(","))
                assert (row["ra"], row["dec"]) == (pytest.approx(ra), pytest.approx(dec))
                assert row["radius_deg"] == pytest.approx(header["RADIUS"])
                mine = samples[samples["name"] == header["NAME"]]
                assert mine.groupby("hdu")["sector"].first().tolist() == [h.header["SECTOR"] for h in hdul[1:]]
                last = hdul[-1].data
                np.testing.assert_array_equal(mine.loc[mine["hdu"] == len(hdul) - 1, "flux"].to_numpy(), last["flux"])
                np.testing.assert_array_equal(mine.loc[mine["hdu"] == len(hdul) - 1, "time"].to_numpy(), last["time"])
    # the header labels are those of the published tables and of the catalogues
    assert clusters["age_agrees"].all()
    np.testing.assert_allclose(clusters["catalogue_log_age"], clusters["log_age"], atol=0.01)
    assert (clusters["catalogue_sep_arcmin"] < 0.01).all()
    assert report["age_cross_check"] == {"agree": 6, "disagree": 0, "no_reference_age": 0, "disagreements": [], "without_reference": []}
    assert sum(report["sectors_by_cadence_s"].values()) == clusters["n_sectors"].sum()
