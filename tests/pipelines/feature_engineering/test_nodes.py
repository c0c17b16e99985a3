"""Feature engineering nodes on purpose-built clusters: determinism across workers and Dask,
recorded failures, model input and folds."""

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age.features.classic import CLASSIC_FEATURES, ClassicConfig
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.lightcurves import SECONDS_PER_DAY
from tess_cluster_age.pipelines.augmentation.nodes import build_segments
from tess_cluster_age.pipelines.feature_engineering.nodes import (
    build_model_input,
    compute_classic_features,
    compute_invariant_features,
    make_folds,
)

AUGMENTATION = {"kinds": {"sector": True, "half": True, "stitched": True}}
CLASSIC = {"n_bootstrap": 100, "min_points": 100}
INVARIANT = {}


def sample_table(clusters: dict[str, list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]]) -> pd.DataFrame:
    """The ingestion layout for {name: [(sector, time, flux, flux_err), ...]}."""
    frames = []
    for name, sectors in clusters.items():
        for hdu, (sector, time, flux, flux_err) in enumerate(sectors, start=1):
            frames.append(pd.DataFrame({"name": name, "sector": np.int32(sector), "hdu": np.int32(hdu), "time": time, "flux": flux,
                                        "flux_err": flux_err, "cadence_s": float(np.median(np.diff(time)) * SECONDS_PER_DAY)}))
    return pd.concat(frames, ignore_index=True)


def sinusoid(seed, period_d=1.7, n=600, cadence_s=1800.0, level=4000.0, t0=1500.0, amplitude=0.01):
    rng = np.random.default_rng(seed)
    time = t0 + np.arange(n) * cadence_s / SECONDS_PER_DAY
    flux = level * (1 + amplitude * np.sin(2 * np.pi * time / period_d)) + rng.normal(0, 3.0, n)
    return time, flux, np.full(n, 3.0)


@pytest.fixture(scope="module")
def small_survey():
    samples = sample_table({
        "YOUNG 1": [(10, *sinusoid(1, 0.8)), (11, *sinusoid(2, 0.8, t0=1528.0))],
        "OLD 2": [(30, *sinusoid(3, 5.0, n=900, cadence_s=600.0))],
        "SHORT 3": [(12, *sinusoid(4, n=60))],                              # below min_points
        "FLAT 4": [(13, np.arange(300) / 48 + 1500.0, np.full(300, 2000.0), np.full(300, 1.0))],  # constant flux
    })
    clusters = pd.DataFrame({"name": ["YOUNG 1", "OLD 2", "SHORT 3", "FLAT 4"], "galaxy": ["LMC", "SMC", "MW", "MW"],
                             "log_age": [7.2, 9.3, 8.1, np.nan]})
    segments = build_segments(clusters, samples, AUGMENTATION, seed=7)
    return clusters, samples, segments


def test_classic_identical_for_one_and_two_workers(small_survey):
    _, samples, segments = small_survey
    one, p_one = compute_classic_features(segments, samples, CLASSIC, {"workers": 1}, seed=7)
    two, p_two = compute_classic_features(segments, samples, CLASSIC, {"workers": 2}, seed=7)
    pd.testing.assert_frame_equal(one, two)
    np.testing.assert_array_equal(p_one.power, p_two.power)
    assert list(one["segment_id"]) == list(segments["segment_id"])
    # a different global seed changes the bootstrap columns only
    other, _ = compute_classic_features(segments, samples, CLASSIC, {"workers": 1}, seed=8)
    ok = one["reason"] == ""
    assert not np.allclose(one.loc[ok, "max_power"], other.loc[ok, "max_power"], rtol=1e-12)
    np.testing.assert_array_equal(one.loc[ok, "std"], other.loc[ok, "std"])


def test_invariant_identical_for_one_and_two_workers(small_survey):
    _, samples, segments = small_survey
    one, s_one = compute_invariant_features(segments, samples, INVARIANT, {"workers": 1})
    two, s_two = compute_invariant_features(segments, samples, INVARIANT, {"workers": 2})
    pd.testing.assert_frame_equal(one, two)
    np.testing.assert_array_equal(s_one.power, s_two.power)
    assert s_one.power.shape == (len(segments), 128) and s_one.power.dtype == np.float32


def test_dask_local_cluster_gives_the_same_tables(small_survey):
    distributed = pytest.importorskip("distributed")
    _, samples, segments = small_survey
    local, _ = compute_classic_features(segments, samples, CLASSIC, {"workers": 1}, seed=7)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask, _ = compute_classic_features(segments, samples, CLASSIC, {"scheduler_address": cluster.scheduler_address}, seed=7)
        inv_dask, _ = compute_invariant_features(segments, samples, INVARIANT, {"scheduler_address": cluster.scheduler_address})
    pd.testing.assert_frame_equal(local, on_dask)
    inv_local, _ = compute_invariant_features(segments, samples, INVARIANT, {"workers": 1})
    pd.testing.assert_frame_equal(inv_local, inv_dask)


def test_failures_are_recorded_not_crashed(small_survey):
    _, samples, segments = small_survey
    classic, periodograms = compute_classic_features(segments, samples, CLASSIC, {"workers": 1}, seed=7)
    by_id = classic.set_index("segment_id")
    short = by_id.loc["SHORT 3|sector|12"]
    assert "min_points" in short["reason"]
    assert short[list(CLASSIC_FEATURES)].isna().all()
    assert np.isnan(periodograms.rows(["SHORT 3|sector|12"])).all()
    flat = by_id.loc["FLAT 4|sector|13"]
    assert "constant_flux" in flat["reason"]
    assert np.isnan(flat["von_neumann_ratio"])
    young = by_id.loc["YOUNG 1|sector|10"]
    assert young["reason"] == "" and np.isfinite(young[list(CLASSIC_FEATURES)].astype(float)).all()
    assert young["freq_at_max_power"] == pytest.approx(1 / 0.8, abs=0.02)
    invariant, _ = compute_invariant_features(segments, samples, INVARIANT, {"workers": 1})
    inv = invariant.set_index("segment_id")
    assert "min_points" in inv.loc["SHORT 3|sector|12", "reason"]
    assert "constant_flux" in inv.loc["FLAT 4|sector|13", "reason"]
    assert inv.loc["OLD 2|sector|30", "inv_peak_period"] == pytest.approx(5.0, rel=0.05)


def test_stitched_log_flux_is_the_brightness_not_the_normalised_level(small_survey):
    _, samples, segments = small_survey
    invariant, _ = compute_invariant_features(segments, samples, INVARIANT, {"workers": 1})
    inv = invariant.set_index("segment_id")
    assert inv.loc["YOUNG 1|stitched|all", "log_flux"] == pytest.approx(np.log10(4000), abs=0.01)
    assert inv.loc["YOUNG 1|sector|10", "log_flux"] == pytest.approx(np.log10(4000), abs=0.01)
    assert inv.loc["YOUNG 1|stitched|all", "n_sectors"] == 2
    assert inv.loc["OLD 2|sector|30", "cadence_s"] == pytest.approx(600.0)


def test_model_input_joins_labels_and_selected_features(small_survey):
    clusters, samples, segments = small_survey
    classic, _ = compute_classic_features(segments, samples, CLASSIC, {"workers": 1}, seed=7)
    invariant, _ = compute_invariant_features(segments, samples, INVARIANT, {"workers": 1})
    both = build_model_input(segments, clusters, classic, invariant,
                             {"feature_sets": ["classic", "invariant"], "include_log_flux": True,
                              "exclude": ["inv_kurt", "classic_skewness"]}, INVARIANT)
    assert list(both["segment_id"]) == list(segments["segment_id"])
    assert both.loc[both["name"] == "YOUNG 1", "log_age"].eq(7.2).all()
    assert both.loc[both["name"] == "FLAT 4", "log_age"].isna().all()
    assert {"classic_max_power", "inv_peak_amp", "log_flux", "weight", "reason"} <= set(both.columns)
    assert "inv_kurt" not in both.columns and "classic_skewness" not in both.columns
    with pytest.raises(ValueError, match=r"no feature columns \['skewness'\]"):
        build_model_input(segments, clusters, classic, invariant,
                          {"feature_sets": ["classic"], "exclude": ["skewness"]}, INVARIANT)
    np.testing.assert_array_equal(both["classic_std"], classic["std"])
    only_invariant = build_model_input(segments, clusters, classic, invariant,
                                       {"feature_sets": ["invariant"], "include_log_flux": False, "exclude": []}, INVARIANT)
    assert not any(c.startswith("classic_") for c in only_invariant.columns) and "log_flux" not in only_invariant.columns
    with pytest.raises(ValueError, match=r"model_input.feature_sets\[0\] = 'wavelet': Input should be 'classic' or 'invariant'"):
        build_model_input(segments, clusters, classic, invariant, {"feature_sets": ["wavelet"]}, INVARIANT)


def test_folds_group_clusters_stratify_and_are_seeded():
    rng = np.random.default_rng(0)
    names = [f"C{i:03d}" for i in range(120)]
    clusters = pd.DataFrame({"name": names, "galaxy": rng.choice(["MW", "LMC", "SMC"], 120),
                             "log_age": rng.uniform(6.5, 10, 120)})
    clusters.loc[5, "log_age"] = np.nan  # unlabelled: never in a fold
    params = {"n_splits": 5, "seeds": [0, 1, 2], "age_bin_edges": [7.5, 8.0, 8.5, 9.0]}
    folds = make_folds(clusters, params)
    assert list(folds.columns) == ["name", "seed", "fold"]
    assert "C005" not in set(folds["name"])
    assert folds.groupby("seed")["name"].apply(lambda s: s.is_unique).all()
    assert folds.groupby("seed").size().eq(119).all()
    assert set(folds["fold"]) == set(range(5))
    sizes = folds[folds["seed"] == 0]["fold"].value_counts()
    assert sizes.max() - sizes.min() <= 3
    pd.testing.assert_frame_equal(folds, make_folds(clusters, params))
    by_seed = folds.pivot(index="name", columns="seed", values="fold")
    assert (by_seed[0] != by_seed[1]).any()
    # each galaxy is spread over every fold
    merged = folds[folds["seed"] == 0].merge(clusters, on="name")
    assert merged.groupby("galaxy")["fold"].nunique().eq(5).all()


def test_folds_refuse_too_few_clusters():
    clusters = pd.DataFrame({"name": ["A", "B"], "galaxy": ["MW", "MW"], "log_age": [7.0, 9.0]})
    with pytest.raises(ValueError, match="2 labelled clusters cannot make 5"):
        make_folds(clusters, {"n_splits": 5, "seeds": [0], "age_bin_edges": [8.0]})


def test_periodograms_rows_and_dataset_round_trip(tmp_path):
    from kedro.io import DatasetError

    from tess_cluster_age.datasets import PeriodogramDataset

    data = Periodograms(np.array(["A|sector|1", "B|half|2:0"], dtype=object), np.linspace(0.1, 12, 5),
                        np.arange(10, dtype=np.float32).reshape(2, 5), "test power")
    dataset = PeriodogramDataset(filepath=str(tmp_path / "p.fits"))
    assert not dataset.exists()
    dataset.save(data)
    assert dataset.exists()
    loaded = dataset.load()
    assert list(loaded.segment_id) == ["A|sector|1", "B|half|2:0"]
    np.testing.assert_array_equal(loaded.power, data.power)
    np.testing.assert_array_equal(loaded.frequency, data.frequency)
    assert loaded.power.dtype == np.float32 and loaded.quantity == "test power"
    np.testing.assert_array_equal(loaded.rows(["B|half|2:0"]), data.power[[1]])
    with pytest.raises(KeyError, match="no periodogram for segment 'C'"):
        loaded.rows(["C"])
    with pytest.raises(DatasetError, match=r"q\.fits: file does not exist"):
        PeriodogramDataset(filepath=str(tmp_path / "q.fits")).load()


def test_no_segments_give_empty_tables_not_a_crash(small_survey):
    _, samples, segments = small_survey
    none = segments.iloc[:0]
    classic, periodograms = compute_classic_features(none, samples, CLASSIC, {"workers": 1}, seed=7)
    invariant, spectra = compute_invariant_features(none, samples, INVARIANT, {"workers": 1})
    assert classic.empty and invariant.empty
    assert periodograms.power.shape == (0, 1089) and spectra.power.shape == (0, 128)
    assert set(CLASSIC_FEATURES) <= set(classic.columns)


def test_folds_spread_every_age_bin_over_the_folds():
    rng = np.random.default_rng(3)
    ages = np.concatenate([rng.uniform(6.5, 7.4, 40), rng.uniform(9.1, 10, 40), rng.uniform(7.6, 8.9, 70)])
    clusters = pd.DataFrame({"name": [f"C{i:03d}" for i in range(150)], "galaxy": "LMC", "log_age": ages})
    folds = make_folds(clusters, {"n_splits": 5, "seeds": [0], "age_bin_edges": [7.5, 8.0, 8.5, 9.0]})
    merged = folds.merge(clusters, on="name")
    merged["age_bin"] = np.digitize(merged["log_age"], [7.5, 8.0, 8.5, 9.0])
    per_fold = merged.groupby(["age_bin", "fold"]).size().unstack(fill_value=0)
    # the 40 youngest and the 40 oldest clusters: 8 in each fold, as stratification demands
    assert per_fold.loc[0].tolist() == [8] * 5 and per_fold.loc[4].tolist() == [8] * 5


def test_folds_fall_back_to_coarser_strata_when_bins_are_sparse(caplog):
    clusters = pd.DataFrame({"name": [f"C{i}" for i in range(6)], "galaxy": ["MW", "LMC", "SMC", "MW", "LMC", "SMC"],
                             "log_age": [6.6, 7.7, 8.2, 8.7, 9.4, 9.9]})
    folds = make_folds(clusters, {"n_splits": 3, "seeds": [1], "age_bin_edges": [7.5, 8.0, 8.5, 9.0]})
    assert sorted(folds["fold"].value_counts().tolist()) == [2, 2, 2]
    assert "stratifying more coarsely" in caplog.text


def test_each_segment_draws_its_bootstrap_noise_from_its_own_segment_id():
    """Two sectors of one cluster with identical samples: identical deterministic features, but
    different bootstrap noise, each exactly ``keyed_rng(seed, segment_id)``'s (not the cluster's)."""
    from tess_cluster_age.features.classic import classic_features
    from tess_cluster_age.seeding import keyed_rng

    time, flux, flux_err = sinusoid(5, 1.3, n=400)
    samples = sample_table({"TWIN 1": [(20, time, flux, flux_err), (21, time, flux, flux_err)]})
    clusters = pd.DataFrame({"name": ["TWIN 1"], "galaxy": ["LMC"], "log_age": [8.0]})
    segments = build_segments(clusters, samples, {"kinds": {"sector": True}}, seed=7)
    table, periodograms = compute_classic_features(segments, samples, {"n_bootstrap": 20, "min_points": 100}, {"workers": 1}, seed=7)
    first, second = table.iloc[0], table.iloc[1]
    assert first["std"] == second["std"] and first["J_Stetson"] == second["J_Stetson"]
    assert first["max_power"] != second["max_power"]
    assert not np.array_equal(periodograms.power[0], periodograms.power[1])
    for row, segment_id in enumerate(table["segment_id"]):
        expected = classic_features(time, flux, flux_err, rng=keyed_rng(7, segment_id),
                                    config=ClassicConfig(n_bootstrap=20, min_points=100))
        assert table.loc[row, "max_power"] == expected.features["max_power"]
        np.testing.assert_array_equal(periodograms.power[row], expected.periodogram)
