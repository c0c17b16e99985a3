"""Tests of light-curve segments (SPEC section 2) and of splitting the sample table per cluster.

Every light curve here is a numpy grid built in the test with a known answer (index ranges, counts,
spans, cadences); one optional test reads two real LMC clusters from ``../shared/data`` and skips
when they are absent.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import tess_cluster_age.segments as segments_module
from tests.synthetic import REPO
from tess_cluster_age.lightcurves import SECONDS_PER_DAY as DAY_S, SectorLightCurve, read_elk_file, sectors_from_samples, validate_cluster
from tess_cluster_age.segments import (
    KINDS,
    SEGMENT_COLUMNS,
    SegmentConfig,
    add_weights,
    cluster_segments,
    combo_subsets,
    sector_arrays,
    segment_arrays,
    window_ranges,
)

T0 = 1325.29  # BTJD of a sector start, d
NAME = "NGC 1818"
ALL_KINDS = SegmentConfig(kinds=KINDS)


def grid(n: int, cadence_s: float = 1800.0, t0: float = T0) -> np.ndarray:
    """``n`` regularly spaced times (BTJD, d) from ``t0``."""
    return t0 + np.arange(n) * cadence_s / DAY_S


def summary(hdu: int, number: int, time: np.ndarray, cadence_s: float) -> SectorLightCurve:
    """A sector with the given sample times (flux is not used by segmenting)."""
    return SectorLightCurve(sector=number, time_btjd=time, flux_e_per_s=np.ones(time.size),
                            flux_err_e_per_s=np.ones(time.size), cadence_s=cadence_s, hdu=hdu)


def sector(number: int, n: int = 300, cadence_s: float = 1800.0, hdu: int = 1, t0: float | None = None) -> SectorLightCurve:
    t0 = T0 + 30.0 * hdu if t0 is None else t0
    return summary(hdu, number, grid(n, cadence_s, t0), cadence_s)


def sectors(numbers, n: int = 300, cadence_s: float = 1800.0) -> list[SectorLightCurve]:
    return [sector(s, n=n, cadence_s=cadence_s, hdu=h) for h, s in enumerate(numbers, start=1)]


def of_kind(rows, kind):
    return [r for r in rows if r["kind"] == kind]


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b)


def sector_with_gap(gap_days: tuple[float, float], length_days: float = 27.0, cadence_s: float = 1800.0) -> np.ndarray:
    """A regular sector of ``length_days`` without the samples at ``t0 + [gap_days[0], gap_days[1])``."""
    t = grid(int(round(length_days * DAY_S / cadence_s)), cadence_s)
    return t[(t - T0 < gap_days[0]) | (t - T0 >= gap_days[1])]


# --------------------------------------------------------------------------------------------------
# sector


def test_sector_kind_gives_one_segment_per_sector_covering_every_sample():
    cadences = {5: 1800.0, 31: 600.0, 62: 200.0}
    lengths = {5: 300, 31: 301, 62: 1000}
    summaries = [sector(s, n=lengths[s], cadence_s=c, hdu=h) for h, (s, c) in enumerate(cadences.items(), start=1)]
    rows = cluster_segments(NAME, "LMC", summaries, SegmentConfig(kinds=("sector",)), seed=42)

    assert [r["segment_id"] for r in rows] == ["NGC 1818|sector|5", "NGC 1818|sector|31", "NGC 1818|sector|62"]
    for row, s in zip(rows, summaries):
        assert set(row) == set(SEGMENT_COLUMNS) - {"weight"}
        assert (row["name"], row["galaxy"], row["kind"]) == (NAME, "LMC", "sector")
        assert row["parts"] == [{"sector": s.sector, "i0": 0, "i1": lengths[s.sector]}]
        assert row["n_points"] == lengths[s.sector] and row["n_sectors"] == 1
        assert row["span_days"] == pytest.approx((lengths[s.sector] - 1) * cadences[s.sector] / DAY_S, rel=1e-9)
        assert row["cadence_s"] == pytest.approx(cadences[s.sector], rel=1e-6)


def test_sector_cadence_is_the_median_spacing_not_the_mean():
    # 200 samples at 1800 s, then a 5-day downlink gap, then 100 more: mean spacing ≈ 3950 s
    time = np.concatenate([grid(200), grid(100, t0=T0 + 200 * 1800 / DAY_S + 5.0)])
    rows = cluster_segments(NAME, "LMC", [summary(1, 5, time, 1800.0)], SegmentConfig(kinds=("sector",)), seed=0)
    (row,) = rows
    assert row["cadence_s"] == pytest.approx(1800.0, rel=1e-6)
    assert row["span_days"] == pytest.approx(time[-1] - time[0])
    assert row["span_days"] == pytest.approx(299 * 1800 / DAY_S + 5.0, rel=1e-9)


def test_duplicate_sector_numbers_are_refused():
    twice = [sector(5, hdu=1), sector(5, hdu=2)]
    with pytest.raises(ValueError, match="NGC 1818: a sector number appears twice"):
        cluster_segments(NAME, "LMC", twice, SegmentConfig(kinds=("sector",)), seed=0)


def test_cluster_without_sectors_has_no_segments():
    assert cluster_segments(NAME, "LMC", [], ALL_KINDS, seed=0) == []


# --------------------------------------------------------------------------------------------------
# half


@pytest.mark.parametrize("n", [4, 5, 300, 301, 1297])
def test_half_splits_each_sector_by_index(n):
    rows = cluster_segments(NAME, "LMC", [sector(7, n=n), sector(8, n=n + 1, hdu=2)], SegmentConfig(kinds=("half",)), seed=0)
    assert [r["segment_id"] for r in rows] == ["NGC 1818|half|7:0", "NGC 1818|half|7:1", "NGC 1818|half|8:0", "NGC 1818|half|8:1"]
    for (first, second), size, number in [(rows[:2], n, 7), (rows[2:], n + 1, 8)]:
        middle = size // 2
        assert first["parts"] == [{"sector": number, "i0": 0, "i1": middle}]
        assert second["parts"] == [{"sector": number, "i0": middle, "i1": size}]
        assert (first["n_points"], second["n_points"]) == (middle, size - middle)
        assert first["span_days"] == pytest.approx((middle - 1) * 1800 / DAY_S, rel=1e-9)
        assert second["span_days"] == pytest.approx((size - middle - 1) * 1800 / DAY_S, rel=1e-9)
        assert first["cadence_s"] == pytest.approx(1800.0, rel=1e-6) and first["n_sectors"] == 1


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_sectors_give_no_halves_but_keep_their_sector_segment(n):
    rows = cluster_segments(NAME, "LMC", [sector(7, n=n), sector(8, n=10, hdu=2)], SegmentConfig(kinds=("sector", "half")), seed=0)
    assert [r["segment_id"] for r in of_kind(rows, "half")] == ["NGC 1818|half|8:0", "NGC 1818|half|8:1"]
    assert [r["n_points"] for r in of_kind(rows, "sector")] == [n, 10]


# --------------------------------------------------------------------------------------------------
# stitched and segment_arrays


def test_stitched_is_one_segment_with_every_sector_in_hdu_order():
    # HDU order is not sector order here: the parts must follow HDU order (the order given)
    summaries = [sector(13, n=300, hdu=1), sector(2, n=250, hdu=2), sector(27, n=900, cadence_s=600.0, hdu=3)]
    rows = cluster_segments(NAME, "SMC", summaries, SegmentConfig(kinds=("stitched",)), seed=0)
    (row,) = rows
    assert row["segment_id"] == "NGC 1818|stitched|all" and row["kind"] == "stitched"
    assert row["parts"] == [{"sector": 13, "i0": 0, "i1": 300}, {"sector": 2, "i0": 0, "i1": 250},
                            {"sector": 27, "i0": 0, "i1": 900}]
    assert row["n_points"] == 1450 and row["n_sectors"] == 3
    assert row["span_days"] == pytest.approx(summaries[2].time_btjd[-1] - summaries[0].time_btjd[0])
    # 548 spacings of 1800 s and 899 of 600 s; the gaps between sectors are not spacings
    assert row["cadence_s"] == pytest.approx(600.0, rel=1e-6)


def cluster_arrays(seed: int = 3):
    """Three sectors at very different flux levels (e/s), odd lengths so that medians are samples."""
    rng = np.random.default_rng(seed)
    out = {}
    for number, (n, level) in {5: (301, 5000.0), 6: (201, 200.0), 9: (151, 80000.0)}.items():
        time = grid(n, t0=T0 + number * 30)
        flux = level * (1 + 0.01 * rng.normal(size=n))
        out[number] = (time, flux, np.full(n, 0.002 * level))
    return out


@pytest.mark.parametrize("kind", ["stitched", "combo"])
def test_normalised_kinds_divide_each_part_by_its_own_median(kind):
    arrays = cluster_arrays()
    before = {k: tuple(a.copy() for a in v) for k, v in arrays.items()}
    parts = [{"sector": 9, "i0": 0, "i1": 151}, {"sector": 5, "i0": 0, "i1": 301}, {"sector": 6, "i0": 0, "i1": 201}]
    time, flux, flux_err = segment_arrays(kind, parts, arrays)

    order = [9, 5, 6]
    np.testing.assert_array_equal(time, np.concatenate([arrays[s][0] for s in order]))
    np.testing.assert_allclose(flux, np.concatenate([arrays[s][1] / np.median(arrays[s][1]) for s in order]), rtol=1e-15)
    np.testing.assert_allclose(flux_err, np.concatenate([arrays[s][2] / np.median(arrays[s][1]) for s in order]), rtol=1e-15)
    # each part's median is exactly one again, and its relative error is kept
    bounds = np.cumsum([0, 151, 301, 201])
    for (a, b), s in zip(itertools.pairwise(bounds), order):
        assert np.median(flux[a:b]) == 1.0
        np.testing.assert_allclose(flux_err[a:b] / flux[a:b], arrays[s][2] / arrays[s][1], rtol=1e-12)
    # the inputs are untouched
    for k in arrays:
        for new, old in zip(arrays[k], before[k]):
            np.testing.assert_array_equal(new, old)


def test_normalised_kinds_use_the_median_of_the_part_not_of_the_sector():
    arrays = cluster_arrays()
    parts = [{"sector": 5, "i0": 100, "i1": 201}, {"sector": 6, "i0": 50, "i1": 151}]
    _, flux, _ = segment_arrays("combo", parts, arrays)
    np.testing.assert_allclose(flux[:101], arrays[5][1][100:201] / np.median(arrays[5][1][100:201]), rtol=1e-15)
    np.testing.assert_allclose(flux[101:], arrays[6][1][50:151] / np.median(arrays[6][1][50:151]), rtol=1e-15)


@pytest.mark.parametrize(("kind", "i0", "i1"), [("sector", 0, 301), ("half", 150, 301), ("window", 20, 120)])
def test_single_part_kinds_return_views_of_the_samples(kind, i0, i1):
    arrays = cluster_arrays()
    time, flux, flux_err = segment_arrays(kind, [{"sector": 5, "i0": i0, "i1": i1}], arrays)
    for out, original in zip((time, flux, flux_err), arrays[5]):
        assert np.shares_memory(out, original), "a single-part segment must not copy the samples"
        assert out.base is not None
        np.testing.assert_array_equal(out, original[i0:i1])  # flux stays in e/s: not normalised


def test_single_sector_stitched_is_still_normalised():
    arrays = cluster_arrays()
    time, flux, flux_err = segment_arrays("stitched", [{"sector": 6, "i0": 0, "i1": 201}], arrays)
    assert np.shares_memory(time, arrays[6][0])
    assert np.median(flux) == 1.0
    np.testing.assert_allclose(flux_err, arrays[6][2] / np.median(arrays[6][1]), rtol=1e-15)


def test_multi_part_arrays_accept_numpy_parts_as_read_back_from_parquet():
    arrays = cluster_arrays()
    parts = [{"sector": 5, "i0": 0, "i1": 301}, {"sector": 6, "i0": 0, "i1": 201}]
    as_list = segment_arrays("stitched", parts, arrays)
    as_array = segment_arrays("stitched", np.array(parts, dtype=object), arrays)
    for a, b in zip(as_list, as_array):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------
# window


def expected_windows(time, starts_days, window_days=12.0):
    return [tuple(np.searchsorted(time, [T0 + s, T0 + s + window_days]).tolist()) for s in starts_days]


def test_windows_of_a_27_day_sector_with_a_one_day_gap():
    time = sector_with_gap((13.0, 14.0))
    assert time.size == 1296 - 48
    ranges = window_ranges(time, 1800.0, SegmentConfig())
    # windows start at 0, 6 and 12 d; one starting at 18 d would run past the end (27 d)
    assert ranges == expected_windows(time, [0.0, 6.0, 12.0])
    assert ranges == [(0, 576), (288, 816), (576, 1104)]
    assert [i1 - i0 for i0, i1 in ranges] == [576, 528, 528]  # 12 d at 1800 s = 576 samples, gap 48
    for i0, i1 in ranges:
        assert time[i1 - 1] - time[i0] < 12.0
        assert i1 == time.size or time[i1] - time[i0] >= 12.0 - 1e-9


def test_window_segments_carry_ids_ranges_and_spans():
    time = sector_with_gap((13.0, 14.0))
    rows = cluster_segments(NAME, "LMC", [summary(1, 5, time, 1800.0)], SegmentConfig(kinds=("window",)), seed=0)
    assert [r["segment_id"] for r in rows] == ["NGC 1818|window|5:0", "NGC 1818|window|5:1", "NGC 1818|window|5:2"]
    assert [r["parts"] for r in rows] == [[{"sector": 5, "i0": 0, "i1": 576}], [{"sector": 5, "i0": 288, "i1": 816}],
                                          [{"sector": 5, "i0": 576, "i1": 1104}]]
    assert [r["n_points"] for r in rows] == [576, 528, 528]
    for row in rows:
        assert row["span_days"] == pytest.approx(12.0 - 1800 / DAY_S, abs=1e-9)
        assert row["cadence_s"] == pytest.approx(1800.0, rel=1e-6)


def test_a_window_falling_mostly_into_a_long_gap_is_dropped():
    # samples missing over [5, 13) d: the 0 d and 6 d windows hold 5 of 12 days (42 %), the 12 d one 11 of 12
    time = sector_with_gap((5.0, 13.0))
    ranges = window_ranges(time, 1800.0, SegmentConfig())
    assert ranges == expected_windows(time, [12.0]) == [(240, 768)]
    # a lower coverage threshold keeps them
    assert window_ranges(time, 1800.0, SegmentConfig(window_min_coverage=0.4)) == expected_windows(time, [0.0, 6.0, 12.0])


@pytest.mark.parametrize(("kept", "is_kept"), [(24, True), (23, False)])
def test_window_coverage_threshold_is_inclusive(kept, is_kept):
    # 1-day windows at 1800 s expect 48 samples; with coverage 0.5 the first needs at least 24
    time = grid(3 * 48)
    time = np.concatenate([time[:kept], time[48:]])
    config = SegmentConfig(window_days=1.0, window_stride_days=1.0, window_min_coverage=0.5)
    ranges = window_ranges(time, 1800.0, config)
    assert ((0, kept) in ranges) is is_kept
    assert (kept, kept + 48) in ranges  # the full second day


def test_window_stride_and_length_follow_the_config():
    time = grid(1296)  # 27 d at 1800 s without gaps
    config = SegmentConfig(window_days=5.0, window_stride_days=2.5)
    ranges = window_ranges(time, 1800.0, config)
    starts = np.arange(0.0, 22.0 + 1e-9, 2.5)  # last start: 20 d (25 d + 5 would pass 27)
    assert ranges == expected_windows(time, starts, window_days=5.0)
    assert all(i1 - i0 == 240 for i0, i1 in ranges)


@pytest.mark.parametrize(("time", "cadence_s"), [(grid(1), 1800.0), (grid(0), 1800.0), (grid(600), float("nan")),
                                                 (grid(600), 0.0)])
def test_no_windows_without_samples_or_cadence(time, cadence_s):
    assert window_ranges(time, cadence_s, SegmentConfig()) == []


def test_a_fully_sampled_last_window_is_kept():
    # 24 d at 1800 s (1152 samples, last at 23.979 d): the window [12 d, 24 d) holds all 576 expected samples
    time = grid(1152)
    assert window_ranges(time, 1800.0, SegmentConfig()) == [(0, 576), (288, 864), (576, 1152)]


# --------------------------------------------------------------------------------------------------
# configuration


def test_kinds_are_switched_by_the_parameters():
    summaries = sectors([5, 6, 7], n=1296)
    counts = {}
    for kinds in [{"sector": True}, {"window": True}, {"sector": True, "window": False, "half": True},
                  {"combo": True, "stitched": True}, {}]:
        config = SegmentConfig.from_params({"kinds": kinds})
        assert config.kinds == tuple(k for k in KINDS if kinds.get(k))  # in KINDS order, whatever the mapping order
        rows = cluster_segments(NAME, "LMC", summaries, config, seed=1)
        counts[tuple(sorted(k for k, on in kinds.items() if on))] = {k: len(of_kind(rows, k)) for k in KINDS}
        assert {r["kind"] for r in rows} == {k for k, on in kinds.items() if on}
    assert counts[("sector",)]["sector"] == 3
    assert counts[("window",)]["window"] == 9  # 3 windows (0, 6, 12 d) in each 27-day sector
    assert counts[("half", "sector")] == {"sector": 3, "half": 6, "stitched": 0, "window": 0, "combo": 0}
    assert counts[("combo", "stitched")]["stitched"] == 1 and counts[("combo", "stitched")]["combo"] == 3  # pairs of 3
    assert counts[()] == dict.fromkeys(KINDS, 0)


def test_from_params_converts_lists_and_keeps_values():
    config = SegmentConfig.from_params({"kinds": {"combo": True}, "combo_sizes": [2, 4], "window_days": 8.0,
                                        "combo_max_overlap": 0.25})
    assert config == dataclasses.replace(SegmentConfig(), kinds=("combo",), combo_sizes=(2, 4), window_days=8.0,
                                         combo_max_overlap=0.25)
    hash(config)  # frozen and hashable: no lists left inside


@pytest.mark.parametrize(("params", "named"), [({"kinds": {"quarter": True}}, "quarter"),
                                               ({"kinds": {"sector": True}, "window_len": 12}, "window_len"),
                                               ({"kinds": {"sectors": False}, "seed": 1}, "sectors")])
def test_unknown_kind_or_key_is_refused_by_name(params, named):
    with pytest.raises(ValueError, match=rf"unknown kinds .*'{named}'|unknown augmentation parameter\(s\) \['{named}'\]"):
        SegmentConfig.from_params(params)


def test_project_parameters_build_the_default_config():
    params = yaml.safe_load((REPO / "conf" / "base" / "parameters_augmentation.yml").read_text())["augmentation"]
    config = SegmentConfig.from_params(params)
    assert config == SegmentConfig()  # the file and the dataclass defaults agree
    assert config.kinds == ("sector", "half", "stitched")


# --------------------------------------------------------------------------------------------------
# combo


def combo_config(**changes) -> SegmentConfig:
    return dataclasses.replace(SegmentConfig(kinds=("combo",)), **changes)


@pytest.mark.parametrize("n_sectors", [0, 1, 2])
def test_no_combos_below_the_minimum_number_of_sectors(n_sectors):
    assert combo_subsets("A", n_sectors, combo_config(), seed=42) == []
    rows = cluster_segments("A", "LMC", sectors(range(1, n_sectors + 1), n=20), combo_config(), seed=42)
    assert rows == []


def test_minimum_number_of_sectors_is_a_parameter():
    assert combo_subsets("A", 4, combo_config(combo_min_sectors=5), seed=1) == []
    assert combo_subsets("A", 5, combo_config(combo_min_sectors=5), seed=1) != []


def test_combo_sizes_not_smaller_than_the_cluster_are_skipped():
    # with 3 sectors, the only 3-subset is the whole cluster, i.e. the stitched segment
    subsets = combo_subsets("A", 3, combo_config(), seed=42)
    assert {len(s) for s in subsets} == {2}
    assert sorted(subsets) == [(0, 1), (0, 2), (1, 2)]  # pairs of 3 overlap by 1/3 ≤ 0.5: all kept


def check_combos(subsets, n_sectors, config):
    assert len(set(subsets)) == len(subsets), "a combo appears twice"
    for subset in subsets:
        assert list(subset) == sorted(set(subset)), "indices sorted and distinct"
        assert 0 <= subset[0] and subset[-1] < n_sectors
        assert len(subset) in config.combo_sizes
    for k in config.combo_sizes:
        assert sum(len(s) == k for s in subsets) <= config.combo_max_per_cluster
    for a, b in itertools.combinations(subsets, 2):
        assert jaccard(a, b) <= config.combo_max_overlap, (a, b)


@pytest.mark.parametrize("n_sectors", [4, 6, 8, 12])
@pytest.mark.parametrize(("max_per_cluster", "max_overlap"), [(10, 0.5), (3, 0.5), (10, 0.34), (10, 0.0), (50, 0.6)])
def test_combos_honour_sizes_caps_and_overlap(n_sectors, max_per_cluster, max_overlap):
    config = combo_config(combo_sizes=(2, 3), combo_max_per_cluster=max_per_cluster, combo_max_overlap=max_overlap)
    subsets = combo_subsets("NGC 2004", n_sectors, config, seed=42)
    check_combos(subsets, n_sectors, config)
    # few sectors: every subset is considered, so a k below its cap has no subset left that fits
    for k in config.combo_sizes:
        if sum(len(s) == k for s in subsets) < max_per_cluster:
            for left in set(itertools.combinations(range(n_sectors), k)) - set(subsets):
                assert any(jaccard(left, s) > max_overlap for s in subsets), f"{left} fits but was not kept"
    pairs = [s for s in subsets if len(s) == 2]
    if max_overlap >= 1 / 3:  # two distinct pairs share at most 1 of 3 sectors, so the pairs fill their cap
        assert len(pairs) == min(max_per_cluster, math.comb(n_sectors, 2))
    if max_overlap == 0.0:
        assert len(pairs) == min(max_per_cluster, n_sectors // 2)


@pytest.mark.parametrize("n_sectors", [8, 9, 12, 20])
def test_default_combos_of_many_sectors_fill_both_sizes(n_sectors):
    config = combo_config()
    for name in ["NGC 1818", "NGC 2004", "KMHK 1122"]:
        subsets = combo_subsets(name, n_sectors, config, seed=42)
        check_combos(subsets, n_sectors, config)
        assert [sum(len(s) == k for s in subsets) for k in (2, 3)] == [10, 10]


@pytest.mark.parametrize("n_sectors", [4, 5])
def test_default_combos_of_four_or_five_sectors_are_only_pairs(n_sectors):
    # The overlap rule applies across sizes: a pair and a triple holding it share 2/3 > 0.5, and with
    # 4 or 5 sectors every pair is kept first (10 ≥ comb(5, 2)), so no triple fits (SPEC consequence).
    subsets = combo_subsets("NGC 1818", n_sectors, combo_config(), seed=42)
    assert sorted(subsets) == list(itertools.combinations(range(n_sectors), 2))


def test_combo_sizes_are_drawn_for_every_k_requested():
    config = combo_config(combo_sizes=(2, 3, 4, 5), combo_max_overlap=0.8)
    subsets = combo_subsets("A", 9, config, seed=7)
    check_combos(subsets, 9, config)
    assert {len(s) for s in subsets} == {2, 3, 4, 5}


@pytest.mark.parametrize(("n_sectors", "max_attempts"), [(20, 100), (30, 2000)])
def test_many_sectors_use_random_draws_and_still_honour_the_caps(monkeypatch, n_sectors, max_attempts):
    # comb(20, 2) = 190 and comb(20, 3) = 1140 exceed 100 attempts; comb(30, 3) = 4060 exceeds 2000
    def no_enumeration(*args, **kwargs):
        raise AssertionError("every subset was enumerated instead of drawn")

    config = combo_config(combo_max_attempts=max_attempts)
    if n_sectors == 20:
        monkeypatch.setattr(segments_module.itertools, "combinations", no_enumeration)
    subsets = combo_subsets("KMHK 1122", n_sectors, config, seed=42)
    monkeypatch.undo()
    check_combos(subsets, n_sectors, config)
    assert sum(len(s) == 2 for s in subsets) == config.combo_max_per_cluster
    assert sum(len(s) == 3 for s in subsets) == config.combo_max_per_cluster
    assert combo_subsets("KMHK 1122", n_sectors, config, seed=42) == subsets


@pytest.mark.parametrize("n_sectors", [5, 8, 20, 40])
def test_combos_are_seeded(n_sectors):
    config = combo_config()
    first = combo_subsets("NGC 1866", n_sectors, config, seed=42)
    assert combo_subsets("NGC 1866", n_sectors, config, seed=42) == first
    assert combo_subsets("NGC 1866", n_sectors, config, seed=43) != first
    assert combo_subsets("NGC 1856", n_sectors, config, seed=42) != first  # the key is the cluster too


def test_combos_of_a_cluster_do_not_depend_on_the_other_kinds():
    summaries = sectors([3, 4, 5, 6, 7, 8], n=40)
    alone = of_kind(cluster_segments("A", "LMC", summaries, combo_config(), seed=5), "combo")
    together = of_kind(cluster_segments("A", "LMC", summaries, ALL_KINDS, seed=5), "combo")
    assert alone == together and alone


def test_combo_segments_stitch_whole_sectors_in_hdu_order():
    numbers = [31, 4, 17, 22, 9]  # HDU order, not sector order
    lengths = [100, 110, 120, 130, 140]
    summaries = [sector(s, n=n, hdu=h) for h, (s, n) in enumerate(zip(numbers, lengths), start=1)]
    config = combo_config()
    rows = cluster_segments("A", "LMC", summaries, config, seed=42)
    subsets = combo_subsets("A", 5, config, seed=42)
    assert len(rows) == len(subsets) > 0
    for row, subset in zip(rows, subsets):
        assert row["segment_id"] == "A|combo|" + "+".join(str(numbers[i]) for i in subset)
        assert row["parts"] == [{"sector": numbers[i], "i0": 0, "i1": lengths[i]} for i in subset]
        assert row["n_points"] == sum(lengths[i] for i in subset)
        assert row["n_sectors"] == len(subset)
        assert row["span_days"] == pytest.approx(summaries[subset[-1]].time_btjd[-1] - summaries[subset[0]].time_btjd[0])
    assert len({r["segment_id"] for r in rows}) == len(rows)


def test_combos_are_distinct_even_without_an_overlap_limit():
    config = combo_config(combo_sizes=(2,), combo_max_per_cluster=50, combo_max_overlap=1.0, combo_max_attempts=100)
    subsets = combo_subsets("X", 30, config, seed=42)
    assert len(subsets) == 50
    assert len(set(subsets)) == len(subsets)


# --------------------------------------------------------------------------------------------------
# weights


def two_clusters_table() -> pd.DataFrame:
    config = ALL_KINDS
    rows = cluster_segments("A", "LMC", sectors([1, 2, 3, 4, 5, 6, 7], n=1296), config, seed=42)
    rows += cluster_segments("B", "SMC", sectors([40], n=1296, cadence_s=1800.0), config, seed=42)
    rows += cluster_segments("C", "MW", sectors([10, 11, 12], n=49), config, seed=42)
    return pd.DataFrame(rows, columns=[c for c in SEGMENT_COLUMNS if c != "weight"])


def test_weights_make_every_cluster_count_once_per_kind():
    table = two_clusters_table()
    weighted = add_weights(table)
    assert "weight" not in table.columns  # the input is not edited
    pd.testing.assert_frame_equal(weighted.drop(columns="weight"), table)
    sizes = table.groupby(["name", "kind"]).size()
    assert sizes[("A", "sector")] == 7 and sizes[("A", "half")] == 14 and sizes[("A", "window")] == 21
    assert sizes[("C", "combo")] == 3 and ("B", "combo") not in sizes.index
    for (name, kind), group in weighted.groupby(["name", "kind"]):
        n = sizes[(name, kind)]
        assert (group["weight"] == 1.0 / n).all()  # exactly 1/n
        # the sum is 1 up to the rounding of 1/n itself (sum([1/7] * 7) cannot be exactly 1 in binary)
        assert math.fsum(group["weight"]) == pytest.approx(1.0, abs=2.0**-52)
    assert math.fsum(weighted["weight"]) == pytest.approx(weighted.groupby(["name", "kind"]).ngroups)


# --------------------------------------------------------------------------------------------------
# sectors_from_samples


def long_table(blocks) -> pd.DataFrame:
    """Sample table in the ingestion layout from ``(name, sector, hdu, n, cadence_s)`` blocks, in row order."""
    frames = []
    for b, (name, number, hdu, n, cadence_s) in enumerate(blocks):
        frames.append(pd.DataFrame({
            "name": np.repeat(np.array([name], dtype=object), n),
            "sector": np.full(n, number, np.int32),
            "hdu": np.full(n, hdu, np.int32),
            "time": grid(n, cadence_s, t0=T0 + 30 * number),
            "flux": 1000.0 * (b + 1) + np.arange(n, dtype=float),
            "flux_err": np.full(n, 0.5 + b),
            "cadence_s": np.full(n, cadence_s),
        }))
    return pd.concat(frames, ignore_index=True)


def test_sectors_from_samples_splits_per_cluster_in_hdu_order_with_views():
    blocks = [("A", 5, 1, 30, 1800.0), ("A", 6, 2, 40, 1800.0), ("A", 33, 3, 90, 600.0),
              ("B C", 6, 1, 25, 1800.0), ("B C", 90, 2, 15, 200.0)]
    table = long_table(blocks)
    result = sectors_from_samples(table)

    assert list(result) == ["A", "B C"]
    assert [(s.sector, s.hdu, s.n_points, s.cadence_s) for s in result["A"]] == [(5, 1, 30, 1800.0), (6, 2, 40, 1800.0),
                                                                                (33, 3, 90, 600.0)]
    assert [(s.sector, s.hdu, s.n_points) for s in result["B C"]] == [(6, 1, 25), (90, 2, 15)]
    columns = {c: table[c].to_numpy() for c in ("time", "flux", "flux_err")}
    start = 0
    for s in result["A"] + result["B C"]:
        stop = start + s.n_points
        for attribute, column in [("time_btjd", "time"), ("flux_e_per_s", "flux"), ("flux_err_e_per_s", "flux_err")]:
            array = getattr(s, attribute)
            np.testing.assert_array_equal(array, table[column].to_numpy()[start:stop])
            assert np.shares_memory(array, columns[column]), f"{attribute} of sector {s.sector} is a copy"
        assert isinstance(s.sector, int) and isinstance(s.hdu, int)
        start = stop
    assert start == len(table)


def test_sectors_from_samples_of_an_empty_table():
    assert sectors_from_samples(long_table([("A", 5, 1, 3, 1800.0)]).iloc[:0]) == {}


@pytest.mark.parametrize("blocks", [
    # one sector's rows split by another cluster
    [("A", 5, 1, 10, 1800.0), ("B", 7, 1, 10, 1800.0), ("A", 5, 1, 10, 1800.0)],
    # a cluster's HDUs out of order
    [("A", 6, 2, 10, 1800.0), ("A", 5, 1, 10, 1800.0)],
    # an HDU coming back after a later one
    [("B", 1, 1, 5, 1800.0), ("A", 5, 1, 10, 1800.0), ("A", 6, 2, 10, 1800.0), ("A", 5, 1, 3, 1800.0)],
])
def test_sectors_from_samples_refuses_rows_out_of_place_naming_the_cluster(blocks):
    with pytest.raises(ValueError, match="samples of cluster 'A' are not contiguous in HDU order"):
        sectors_from_samples(long_table(blocks))


def test_sectors_from_samples_accepts_whole_sectors_of_interleaved_clusters():
    # the documented contract is that rows of one (name, hdu) are contiguous, and here they are
    table = long_table([("A", 5, 1, 10, 1800.0), ("B", 7, 1, 12, 1800.0), ("A", 6, 2, 14, 1800.0)])
    result = sectors_from_samples(table)
    assert [(s.sector, s.n_points) for s in result["A"]] == [(5, 10), (6, 14)]
    np.testing.assert_array_equal(result["A"][1].flux_e_per_s, table["flux"].to_numpy()[22:])


# --------------------------------------------------------------------------------------------------
# real data


@pytest.mark.real_data
def test_segments_of_two_real_lmc_clusters(elk_dir):
    paths = sorted((elk_dir / "LMC").glob("*.fits*"))[:2]
    if len(paths) < 2:
        pytest.skip(f"fewer than two LMC files in {elk_dir / 'LMC'}")
    for path in paths:
        raw = read_elk_file(path)
        cluster, reason = validate_cluster(raw, "LMC")
        assert reason is None and cluster.sector_problems == []
        rows = cluster_segments(cluster.name, "LMC", cluster.sectors, SegmentConfig(), seed=42)
        kinds = pd.Series([r["kind"] for r in rows]).value_counts().to_dict()
        n_good = raw.header["N_GOOD"]
        assert kinds == {"sector": n_good, "half": 2 * n_good, "stitched": 1}
        (stitched,) = of_kind(rows, "stitched")
        assert stitched["n_points"] == sum(s.n_points for s in cluster.sectors) == cluster.n_points
        assert [p["sector"] for p in stitched["parts"]] == [s.sector for s in cluster.sectors]
        assert [s.hdu for s in cluster.sectors] == list(range(1, n_good + 1))
        assert stitched["span_days"] == pytest.approx(cluster.sectors[-1].time_btjd[-1] - cluster.sectors[0].time_btjd[0])
        # every half and sector segment lies inside its sector and the halves tile it
        for s in cluster.sectors:
            halves = [r["parts"][0] for r in of_kind(rows, "half") if r["parts"][0]["sector"] == s.sector]
            assert [(h["i0"], h["i1"]) for h in halves] == [(0, s.n_points // 2), (s.n_points // 2, s.n_points)]
        arrays = sector_arrays(cluster.sectors)
        _, flux, _ = segment_arrays("stitched", stitched["parts"], arrays)
        assert flux.size == stitched["n_points"]
        bounds = np.cumsum([0] + [s.n_points for s in cluster.sectors])
        for a, b in itertools.pairwise(bounds):
            assert np.median(flux[a:b]) == pytest.approx(1.0, abs=1e-12)
