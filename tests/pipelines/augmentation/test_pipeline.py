"""The augmentation pipeline end to end on purpose-built sample tables (no data files).

The inputs are built in the layout ingestion writes (``name, sector, hdu, time, flux, flux_err,
cadence_s``, rows contiguous per (name, hdu)) and run with Kedro's ``SequentialRunner`` over an
in-memory catalog; ``segments`` is written to parquet in ``tmp_path`` so that it can be loaded after
the run (Kedro releases memory datasets once they are used).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from tess_cluster_age.datasets import AtomicParquetDataset as ParquetDataset

from tests.synthetic import REPO
from tess_cluster_age.lightcurves import SECONDS_PER_DAY as DAY_S, sectors_from_samples
from tess_cluster_age.pipelines.augmentation import create_pipeline
from tess_cluster_age.pipelines.augmentation.nodes import build_segments
from tess_cluster_age.segments import KINDS, SEGMENT_COLUMNS, sector_arrays, segment_arrays

PARAMS = yaml.safe_load((REPO / "conf" / "base" / "parameters_augmentation.yml").read_text())["augmentation"]
ALL_ON = {**PARAMS, "kinds": dict.fromkeys(KINDS, True)}

# cluster -> sectors in HDU order: (sector, number of samples, cadence s, start BTJD d)
LAYOUT = {
    "NGC 1818": [(1, 1296, 1800.0, 1325.3), (2, 1296, 1800.0, 1353.2), (3, 1200, 1800.0, 1381.5),
                 (29, 3600, 600.0, 2061.0), (33, 3888, 600.0, 2174.2)],
    "KMHK 147": [(13, 1250, 1800.0, 1653.9)],
    # HDU order need not be sector order: segments must keep HDU order
    "NGC 2004": [(28, 3400, 600.0, 2061.0), (27, 3500, 600.0, 2036.3), (67, 3000, 200.0, 2761.0)],
    # nine short sectors (4 d, so no 12-day window): enough for seeded combo draws to differ
    "NGC 1866": [(s, 200, 1800.0, 1300.0 + 27.4 * s) for s in (1, 2, 3, 4, 5, 6, 7, 8, 9)],
}
GALAXY = {"NGC 1818": "LMC", "KMHK 147": "LMC", "NGC 2004": "LMC", "NO DATA": "SMC", "NGC 1866": "LMC"}


def sample_table(layout=LAYOUT, seed: int = 0) -> pd.DataFrame:
    """The long sample table as ingestion writes it: one block of rows per (name, hdu), HDU order."""
    rng = np.random.default_rng(seed)
    blocks = []
    for name, sectors in layout.items():
        for hdu, (sector, n, cadence_s, t0) in enumerate(sectors, start=1):
            time = t0 + np.arange(n) * cadence_s / DAY_S
            time = time[(time - t0 < 13.0) | (time - t0 >= 14.0)]  # mid-sector downlink gap
            level = rng.uniform(500, 50000)
            blocks.append((name, sector, hdu, time, level * (1 + 0.01 * rng.normal(size=time.size)), cadence_s))
    sizes = [b[3].size for b in blocks]

    def column(index, dtype):
        return np.repeat(np.asarray([b[index] for b in blocks], dtype=dtype), sizes)

    flux = np.concatenate([b[4] for b in blocks])
    return pd.DataFrame({
        "name": column(0, object),
        "sector": column(1, np.int32),
        "hdu": column(2, np.int32),
        "time": np.concatenate([b[3] for b in blocks]),
        "flux": flux,
        "flux_err": 0.002 * flux,
        "cadence_s": column(5, np.float64),
    })


def cluster_table(names=tuple(GALAXY)) -> pd.DataFrame:
    return pd.DataFrame({"name": list(names), "galaxy": [GALAXY[n] for n in names],
                         "log_age": np.linspace(7.0, 9.0, len(names))})


def run_pipeline(out_path, samples, params=ALL_ON, seed=42, clusters=None) -> pd.DataFrame:
    catalog = DataCatalog({
        "clusters": MemoryDataset(cluster_table() if clusters is None else clusters),
        "sector_light_curves": MemoryDataset(samples),
        "params:augmentation": MemoryDataset(params),
        "params:seed": MemoryDataset(seed),
        "segments": ParquetDataset(filepath=str(out_path)),
    })
    SequentialRunner().run(create_pipeline(), catalog)
    assert out_path.is_file()
    return catalog.load("segments")


def as_lists(table: pd.DataFrame) -> pd.DataFrame:
    """``parts`` as plain lists of plain dicts, so that two tables can be compared."""
    out = table.copy()
    out["parts"] = [[{k: int(v) for k, v in p.items()} for p in parts] for parts in table["parts"]]
    return out


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return sample_table()


def test_pipeline_wiring():
    pipe = create_pipeline()
    assert pipe.inputs() == {"clusters", "sector_light_curves", "params:augmentation", "params:seed"}
    assert pipe.outputs() == {"segments"}
    assert [n.name for n in pipe.nodes] == ["build_segments_node"]


def test_pipeline_end_to_end_writes_every_kind(tmp_path, samples, caplog):
    with caplog.at_level(logging.INFO, logger="tess_cluster_age"):
        segments = run_pipeline(tmp_path / "segments.parquet", samples)

    assert list(segments.columns) == SEGMENT_COLUMNS
    assert segments["segment_id"].is_unique
    # clusters in table order; a cluster without samples gets no segment
    assert segments["name"].unique().tolist() == ["NGC 1818", "KMHK 147", "NGC 2004", "NGC 1866"]
    assert (segments["galaxy"] == "LMC").all()
    counts = segments.groupby(["name", "kind"]).size().unstack(fill_value=0).reindex(columns=list(KINDS), fill_value=0)
    assert counts.loc["NGC 1818", ["sector", "half", "stitched"]].tolist() == [5, 10, 1]
    assert counts.loc["KMHK 147"].tolist() == [1, 2, 1, 3, 0]  # 1 sector: no combo; 3 windows in 26 d
    assert counts.loc["NGC 2004", ["sector", "half", "stitched"]].tolist() == [3, 6, 1]
    assert counts.loc["NGC 1818", "combo"] > 0 and counts.loc["NGC 2004", "combo"] > 0
    assert counts.loc["NGC 1818", "window"] == 3 * 5  # 3 windows (0, 6, 12 d) in each 25-27 d sector
    assert counts.loc["NGC 2004", "window"] == 2 + 3 + 0  # 23.6 d (starts 0, 6), 24.3 d (0, 6, 12), 6.9 d
    assert counts.loc["NGC 1866"].tolist() == [9, 18, 1, 0, 20]  # 10 pairs and 10 triples of 9 sectors
    assert counts.loc["NGC 1818", "combo"] == 10  # every pair of 5; no triple fits beside them

    # references cover exactly the samples: a sector segment is the whole ingested sector
    sizes = samples.groupby(["name", "sector"], sort=False).size()
    for row in segments[segments["kind"] == "sector"].itertuples():
        (part,) = row.parts
        assert (part["i0"], part["i1"]) == (0, sizes[(row.name, part["sector"])]) == (0, row.n_points)
    stitched = segments[segments["kind"] == "stitched"].set_index("name")
    assert stitched.loc["NGC 1818", "n_points"] == sizes["NGC 1818"].sum()
    assert [p["sector"] for p in stitched.loc["NGC 1818", "parts"]] == [1, 2, 3, 29, 33]  # HDU order
    assert [p["sector"] for p in stitched.loc["NGC 2004", "parts"]] == [28, 27, 67]
    assert segments.loc[segments["name"] == "NGC 2004", "segment_id"].tolist()[:3] == [
        "NGC 2004|sector|28", "NGC 2004|sector|27", "NGC 2004|sector|67"]
    assert set(segments.loc[segments["name"] == "NGC 2004", "segment_id"]) >= {
        "NGC 2004|combo|28+27", "NGC 2004|combo|28+67", "NGC 2004|combo|27+67"}  # sectors named in HDU order
    assert stitched.loc["NGC 2004", "cadence_s"] == pytest.approx(600.0, rel=1e-6)  # median spacing

    # weights: every cluster counts once per kind
    for _, group in segments.groupby(["name", "kind"]):
        assert (group["weight"] == 1.0 / len(group)).all()
        assert group["weight"].sum() == pytest.approx(1.0, abs=1e-15)

    assert f"Built {len(segments)} segments of 4 clusters" in caplog.text
    assert f"combo {(segments['kind'] == 'combo').sum()}" in caplog.text


def test_parquet_round_trip_keeps_parts_and_columns(tmp_path, samples):
    direct = build_segments(cluster_table(), samples, ALL_ON, 42)
    loaded = run_pipeline(tmp_path / "segments.parquet", samples)

    assert list(loaded.columns) == SEGMENT_COLUMNS == list(direct.columns)
    assert len(loaded) == len(direct)
    for stored, original in zip(loaded["parts"], direct["parts"]):
        # read back as a sequence of dicts (pyarrow gives an object ndarray), in the same order
        assert isinstance(original, list)
        assert [dict(p) for p in stored] == original
        for part in stored:
            assert isinstance(part, dict) and list(part) == ["sector", "i0", "i1"]
            assert all(isinstance(v, int) for v in part.values())
    pd.testing.assert_frame_equal(as_lists(loaded), as_lists(direct))
    for column in ["n_points", "n_sectors"]:
        assert pd.api.types.is_integer_dtype(loaded[column])
    for column in ["span_days", "cadence_s", "weight"]:
        assert pd.api.types.is_float_dtype(loaded[column])

    # the stored references still give the samples back, normalised for stitched and combo
    sectors = sector_arrays(sectors_from_samples(samples)["NGC 1818"])
    for row in loaded[loaded["name"] == "NGC 1818"].itertuples():
        time, flux, _ = segment_arrays(row.kind, row.parts, sectors)
        assert time.size == flux.size == row.n_points
        assert time[-1] - time[0] == pytest.approx(row.span_days)  # sectors in HDU order are in time order
        bounds = np.cumsum([0] + [p["i1"] - p["i0"] for p in row.parts])
        medians = [np.median(flux[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        if row.kind in ("stitched", "combo"):
            assert medians == pytest.approx([1.0] * len(medians), abs=1e-12)
        else:
            assert medians[0] > 100  # e/s, not normalised


def test_running_twice_gives_identical_tables(tmp_path, samples):
    first = run_pipeline(tmp_path / "first.parquet", samples)
    second = run_pipeline(tmp_path / "second.parquet", sample_table())
    pd.testing.assert_frame_equal(as_lists(first), as_lists(second))


def test_the_seed_changes_only_the_combos(tmp_path, samples):
    a = as_lists(run_pipeline(tmp_path / "a.parquet", samples, seed=42))
    b = as_lists(run_pipeline(tmp_path / "b.parquet", samples, seed=7))
    not_combo_a, not_combo_b = a[a["kind"] != "combo"], b[b["kind"] != "combo"]
    pd.testing.assert_frame_equal(not_combo_a, not_combo_b)
    combos_a, combos_b = (set(t.loc[t["kind"] == "combo", "segment_id"]) for t in (a, b))
    assert {i for i in combos_a if i.startswith("NGC 1866|")} != {i for i in combos_b if i.startswith("NGC 1866|")}
    # with 3 or 5 sectors every pair is kept whatever the seed; only their order changes
    assert {i for i in combos_a if not i.startswith("NGC 1866|")} == {i for i in combos_b if not i.startswith("NGC 1866|")}


def test_project_parameters_give_sector_half_and_stitched(tmp_path, samples):
    segments = run_pipeline(tmp_path / "segments.parquet", samples, params=PARAMS)
    assert set(segments["kind"]) == {"sector", "half", "stitched"}
    n_sectors = 5 + 1 + 3 + 9
    assert len(segments) == 3 * n_sectors + 4  # sector + 2 halves per sector, plus one stitched per cluster


def test_unknown_kind_fails_the_run_by_name(tmp_path, samples):
    with pytest.raises(ValueError, match="'quarter'"):
        run_pipeline(tmp_path / "segments.parquet", samples, params={**PARAMS, "kinds": {"quarter": True}})


def test_rows_out_of_place_fail_the_run_naming_the_cluster(tmp_path, samples):
    hdu = samples["hdu"].to_numpy()
    name = samples["name"].to_numpy()
    # move NGC 2004's first sector after its second
    first = (name == "NGC 2004") & (hdu == 1)
    shuffled = pd.concat([samples[~first], samples[first]], ignore_index=True)
    with pytest.raises(ValueError, match="samples of cluster 'NGC 2004' are not contiguous in HDU order"):
        run_pipeline(tmp_path / "segments.parquet", shuffled)
