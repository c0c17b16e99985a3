"""Parity of the classic features with the original study's reference tables (SPEC 3a).

Every sector in ``../shared/data/elk`` is compared with its row of
``Stats_Table_For_all_Clusters_all_sectors_w_entropy.fits`` (rows carry no sector column: they are
matched by ``name`` and order of occurrence = HDU order), and every cluster's sector-stitched
light curve with its row of ``Stats_Table_For_Sector_Stitched.fits``.

Every sector (2,065) and every stitched curve (324) of the full data is compared. Deterministic
columns must agree to 1e-12 relative for sectors and 1e-9 for the stitched table (measured 3.3e-13
and 5.7e-10). The bootstrap columns come from 100 noisy copies
that the original never seeded, so they are compared in distribution: a per-row tolerance (SPEC 3a)
that a stated fraction of rows may exceed, plus bounds on the median deviation and its bias. The
allowed fractions come from the spread of the bootstrap itself, measured on these same rows by
running our (exact) implementation twice with different seeds ("run-to-run", in the comments).
Our-versus-reference deviations have the same distribution as run-to-run deviations, as they should
if the implementation is the original algorithm; SPEC 3a's own figure for two original runs
(max_power: median 0.46 %, 90th percentile 4 %) agrees with ours (0.51 %, 4.8 %).

Two facts found while building this test:

- ``ratio_of_power_at_high_v_low_freq`` is +0.6 % (sectors) / +1.4 % (stitched) above the
  reference in the median. The original ran astropy < 8, whose ``method='fast'`` used Press &
  Rybicki extirpolation ('fasper'), which overestimates the power at f > 5 1/d by ~0.7 %
  (astropy 8 switched to a low-rank NUFFT; ours is exact). Checked by running astropy's
  ``algorithm='fasper'`` on the same copies: the ratio drops by 0.7 %.
- The stitched table's periodogram used a 10x finer grid, ``np.arange(0.04, 11, 0.001)``
  (10,960 bins): all 348 reference ``freq_at_max_power`` values lie on it, and none on the
  0.01 grid. The stitched comparison therefore uses ``ClassicConfig(f_step=0.001)``.

Runtime: about 2 minutes on one core (2,065 sectors + 324 stitched curves, each computed once in
a module-scoped fixture; reading the 324 files takes ~25 s of it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tess_cluster_age.features.classic import CLASSIC_FEATURES, ClassicConfig, classic_features
from tess_cluster_age.lightcurves import read_elk_file, validate_cluster
from tess_cluster_age.seeding import keyed_rng
from tess_cluster_age.segments import SegmentConfig, cluster_segments, segment_arrays

pytestmark = pytest.mark.real_data

SEED = 20240611
SECTOR_TABLE = "Stats_Table_For_all_Clusters_all_sectors_w_entropy.fits"
STITCHED_TABLE = "Stats_Table_For_Sector_Stitched.fits"
DETERMINISTIC = (
    "rms",
    "std",
    "MAD",
    "sigmaG",
    "skewness",
    "von_neumann_ratio",
    "J_Stetson",
    "max_autocorrelation",
    "time_of_max_autocorrelation",
    "Entropy",
)
DETERMINISTIC_RTOL = {"sectors": 1e-12, "stitched": 1e-9}  # measured: sectors <= 3.3e-13, stitched <= 5.7e-10 (skewness)
EXPECTED_ROWS = {"sectors": 2065, "stitched": 324}
"""Rows compared on the full data in ../shared/data (every sector table and every cluster)."""


@dataclasses.dataclass(frozen=True)
class Band:
    """Per-row relative tolerance, the fraction of rows allowed beyond it, and distribution bounds."""

    rtol: float
    max_breach: float  # allowed fraction of rows with |ours/ref - 1| > rtol
    max_median_dev: float  # bound on median |ours/ref - 1|
    max_bias: float  # bound on |median(ours/ref - 1)|


# Sectors, 2,065 rows. Measured breach fractions: ours-vs-reference / run-to-run.
SECTOR_BANDS = {
    # 8.5 % / 9.6 %; SPEC 3a: two original runs differ by 4 % at the 90th percentile, so
    # ~10 % of rows beyond 5 % is the bootstrap's own spread. Median |dev| 0.55 %.
    "max_power": Band(5e-2, 0.12, 0.012, 0.003),
    # 4.2 % / 3.0 %: the +0.6 % 'fasper' bias (module docstring) shifts ours-vs-reference.
    "ratio_of_power_at_high_v_low_freq": Band(3e-2, 0.07, 0.015, 0.012),
    # 11.1 % / 12.3 %: 4 bins only, whose power is dominated by the noisy long-period tail.
    "SumLSP_10_7_Day_Power": Band(1e-1, 0.15, 0.04, 0.005),
    # 24.2 % / 23.8 %: 10 bins; SPEC's 3e-2 is narrower than this band's run-to-run spread
    # (90th percentile 6 %), so about a quarter of rows exceed it whichever two runs are compared.
    "SumLSP_7_4_Day_Power": Band(3e-2, 0.30, 0.015, 0.003),
    # 6.2 % / 6.2 %
    "SumLSP_4_1_Day_Power": Band(3e-2, 0.09, 0.007, 0.003),
    # 8.0 % / 8.4 %
    "SumLSP_1_p5_Day_Power": Band(3e-2, 0.11, 0.014, 0.003),
}

# Stitched, 324 rows (fewer rows: more margin for sampling noise). Measured: ours-vs-ref / run-to-run.
STITCHED_BANDS = {
    "max_power": Band(5e-2, 0.08, 0.008, 0.003),  # 4.6 % / 3.7 %; median |dev| 0.32 %
    # 4.9 % / 0.6 %: the 'fasper' bias is +1.4 % here (median |dev| 1.4 %), so rows near the edge
    # of the +-3 % window cross it; run-to-run alone would allow ~1 %.
    "ratio_of_power_at_high_v_low_freq": Band(3e-2, 0.09, 0.025, 0.025),
    "SumLSP_10_7_Day_Power": Band(1e-1, 0.11, 0.015, 0.004),  # 7.1 % / 4.0 %
    "SumLSP_7_4_Day_Power": Band(3e-2, 0.14, 0.008, 0.003),  # 8.0 % / 8.6 % (another pair: 11.7 %)
    "SumLSP_4_1_Day_Power": Band(3e-2, 0.04, 0.004, 0.002),  # 1.2 % / 1.2 %
    "SumLSP_1_p5_Day_Power": Band(3e-2, 0.04, 0.006, 0.002),  # 0.9 % / 0.9 % (another pair: 1.9 %)
}

# FAP is compared in log10. It is a steep function of max_power (Baluev 2008: log FAP ~ -(N/2)
# log(1 - Z)), so the same 0.5 % scatter in max_power moves log10 FAP in proportion to its size:
# tolerance = 0.2 dex or 20 % of |log10 FAP|, whichever is larger. FAP = 0 (underflow, 196 sector
# and 78 stitched rows, in both tables alike) is compared as 1e-300.
FAP_LOG_RTOL = 0.2
FAP_FLOOR = 1e-300
FAP_MAX_BREACH = 0.025  # measured: sectors 1.0 % / 1.0 %, stitched 0.9 % / 0.9 %
FAP_MAX_MEDIAN_DEX = 0.3  # measured median |dlog10 FAP|: 0.15 dex (SPEC 3a: FAP differs by ~35 %)


@dataclasses.dataclass
class Comparison:
    """Our features and the reference row for every segment compared, as (rows, 19) arrays."""

    ids: list[str]
    ours: np.ndarray
    ref: np.ndarray
    reasons: list[str]

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        i = CLASSIC_FEATURES.index(name)
        return self.ours[:, i], self.ref[:, i]


def _reference(path: Path) -> dict[str, list[np.ndarray]]:
    """Reference rows grouped by cluster name, in table order, as arrays in CLASSIC_FEATURES order."""
    from astropy.table import Table

    table = Table.read(path)
    rows: dict[str, list[np.ndarray]] = {}
    columns = [np.asarray(table[name], dtype=np.float64).reshape(len(table), -1)[:, 0] for name in CLASSIC_FEATURES]
    values = np.column_stack(columns)
    for name, row in zip(table["name"], values):
        rows.setdefault(str(name).strip(), []).append(row)
    return rows


@pytest.fixture(scope="module")
def clusters(elk_dir):
    """Every cluster in elk/<galaxy>/, validated, in a fixed order."""
    out = []
    for galaxy_dir in sorted(p for p in elk_dir.iterdir() if p.is_dir()):
        for path in sorted(galaxy_dir.glob("*.fits*")):
            cluster, reason = validate_cluster(read_elk_file(path), galaxy_dir.name)
            assert cluster is not None, f"{path}: {reason}"
            assert not cluster.sector_problems, f"{path}: {cluster.sector_problems}"
            out.append(cluster)
    assert out, f"no ELK files under {elk_dir}"
    return out


def _segments(cluster, kind: str, config: SegmentConfig):
    """The pipeline's own segments of one kind and their arrays (segments.segment_arrays)."""
    arrays = {s.sector: (s.time_btjd, s.flux_e_per_s, s.flux_err_e_per_s) for s in cluster.sectors}
    for row in cluster_segments(cluster.name, cluster.galaxy, cluster.sectors, config, seed=SEED):
        if row["kind"] == kind:
            yield row["segment_id"], segment_arrays(kind, row["parts"], arrays)


@pytest.fixture(scope="module")
def sectors(clusters, reference_dir) -> Comparison:
    reference = _reference(reference_dir / SECTOR_TABLE)
    config = ClassicConfig()
    ids, ours, ref, reasons = [], [], [], []
    for cluster in clusters:
        ref_rows = reference.get(cluster.name, [])
        assert len(ref_rows) == len(cluster.sectors), (
            f"{cluster.name}: {len(cluster.sectors)} sectors but {len(ref_rows)} reference rows"
        )
        for (segment_id, arrays), ref_row in zip(_segments(cluster, "sector", SegmentConfig(kinds=("sector",))), ref_rows):
            res = classic_features(*arrays, rng=keyed_rng(SEED, segment_id), config=config)
            ids.append(segment_id)
            ours.append([res.features[name] for name in CLASSIC_FEATURES])
            ref.append(ref_row)
            reasons.append(res.reason)
    return Comparison(ids, np.array(ours), np.array(ref), reasons)


@pytest.fixture(scope="module")
def stitched(clusters, reference_dir) -> Comparison:
    reference = _reference(reference_dir / STITCHED_TABLE)
    config = ClassicConfig(f_step=0.001)  # the stitched table's grid (module docstring)
    ids, ours, ref, reasons = [], [], [], []
    for cluster in clusters:
        assert len(reference.get(cluster.name, [])) == 1, f"{cluster.name}: not once in {STITCHED_TABLE}"
        [(segment_id, arrays)] = _segments(cluster, "stitched", SegmentConfig(kinds=("stitched",)))
        res = classic_features(*arrays, rng=keyed_rng(SEED, segment_id), config=config)
        ids.append(segment_id)
        ours.append([res.features[name] for name in CLASSIC_FEATURES])
        ref.append(reference[cluster.name][0])
        reasons.append(res.reason)
    return Comparison(ids, np.array(ours), np.array(ref), reasons)


@pytest.fixture(scope="module", params=["sectors", "stitched"])
def comparison(request) -> tuple[str, Comparison]:
    return request.param, request.getfixturevalue(request.param)


# --- checks -------------------------------------------------------------------------------------


def _relative_deviation(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(ours - ref) / np.abs(ref)


def test_every_row_is_computed_without_reasons(comparison):
    kind, comp = comparison
    assert len(comp.ids) == EXPECTED_ROWS[kind], f"{kind}: compared {len(comp.ids)} rows, expected {EXPECTED_ROWS[kind]}"
    flagged = [(i, r) for i, r in zip(comp.ids, comp.reasons) if r]
    assert not flagged, f"{len(flagged)} {kind} with reasons, e.g. {flagged[:5]}"
    assert np.all(np.isfinite(comp.ours)), f"non-finite features in {kind}"


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_columns(comparison, name):
    kind, comp = comparison
    ours, ref = comp.column(name)
    dev = _relative_deviation(ours, ref)
    worst = int(np.argmax(dev))
    assert dev[worst] <= DETERMINISTIC_RTOL[kind], (
        f"{kind} {name}: max relative deviation {dev[worst]:.2e} at {comp.ids[worst]} "
        f"(ours {ours[worst]!r}, reference {ref[worst]!r})"
    )


@pytest.mark.parametrize("name", list(SECTOR_BANDS))
def test_bootstrap_columns_in_distribution(comparison, name):
    kind, comp = comparison
    band = (SECTOR_BANDS if kind == "sectors" else STITCHED_BANDS)[name]
    ours, ref = comp.column(name)
    signed = ours / ref - 1
    dev = np.abs(signed)
    breach = float(np.mean(dev > band.rtol))
    summary = (
        f"{kind} {name}: {breach:.1%} of {dev.size} rows beyond rtol {band.rtol:g} (allowed {band.max_breach:.0%}), "
        f"median |dev| {np.median(dev):.4f}, median signed {np.median(signed):+.4f}"
    )
    assert breach <= band.max_breach, summary
    assert np.median(dev) <= band.max_median_dev, summary
    assert abs(np.median(signed)) <= band.max_bias, summary


def test_freq_at_max_power(comparison):
    kind, comp = comparison
    ours, ref = comp.column("freq_at_max_power")
    equal = float(np.mean(ours == ref))
    if kind == "sectors":
        # SPEC 3a: two original runs agree 94 % of the time; the test asks >= 90 % (measured 93.3 %).
        assert equal >= 0.90, f"freq_at_max_power equal in only {equal:.1%} of sectors"
    else:
        # On the 0.001 1/d grid a peak's top bin moves more easily: measured 86.7 % equal
        # (run-to-run 86.1 %) and 96.3 % within one bin (run-to-run 95.7 %).
        within_one_bin = float(np.mean(np.abs(ours - ref) <= 0.0011))
        assert equal >= 0.80 and within_one_bin >= 0.90, (
            f"stitched freq_at_max_power: equal {equal:.1%}, within one bin {within_one_bin:.1%}"
        )


def test_n_peaks(comparison):
    kind, comp = comparison
    ours, ref = comp.column("n_peaks")
    if kind == "sectors":
        # +-2 (SPEC 3a); measured 0.3 % beyond (run-to-run 0.15 %), equal in 81 % (SPEC: 83 %).
        allowed = np.full(ref.shape, 2.0)
        max_breach = 0.01
    else:
        # The 0.001 grid resolves ~10x more peaks (median 37): +-2 or 20 %, whichever is larger;
        # measured 2.2 % beyond (run-to-run 2.8 %), while a plain +-2 is exceeded by 11 % (12.6 %).
        allowed = np.maximum(2.0, 0.2 * ref)
        max_breach = 0.05
    breach = float(np.mean(np.abs(ours - ref) > allowed))
    assert breach <= max_breach, f"{kind} n_peaks: {breach:.1%} of rows beyond tolerance"


def test_fap_in_log10(comparison):
    kind, comp = comparison
    ours, ref = comp.column("FAP")
    assert np.all((ours >= 0) & (ours <= 1))
    log_ours = np.log10(np.maximum(ours, FAP_FLOOR))
    log_ref = np.log10(np.maximum(ref, FAP_FLOOR))
    dex = np.abs(log_ours - log_ref)
    allowed = FAP_LOG_RTOL * np.maximum(1.0, np.abs(log_ref))
    breach = float(np.mean(dex > allowed))
    assert breach <= FAP_MAX_BREACH, f"{kind} FAP: {breach:.1%} of rows beyond tolerance"
    assert np.median(dex) <= FAP_MAX_MEDIAN_DEX, f"{kind} FAP: median |dlog10| {np.median(dex):.2f} dex"
