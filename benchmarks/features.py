"""Benchmark: classic features, ours against the original algorithm, on real ELK sectors.

Usage::

    python benchmarks/features.py [--n-per-cadence K] [--elk-dir DIR]

For K real sectors at each cadence (1800 s, 600 s, 200 s) this times, in one process and one
thread, :func:`tess_cluster_age.features.classic.classic_features` against the original
algorithm re-implemented here: 100 noisy copies, one astropy ``LombScargle(...).power(freq)``
call per copy (method 'auto', which is 'fast' on this regular grid), ``np.percentile`` over the
copies, and the same other features. Both get the *same* noise (one ``standard_normal`` draw from
the same seed), so their results must agree to rounding: the script checks the bootstrap median
power. It prints seconds per segment per cadence and overall, ``ratio: N`` (the original's
total CPU time over ours, i.e. the per-segment speed-up over the whole mix) and the peak memory.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, as in SPEC 7

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tess_cluster_age.features import classic as cl  # noqa: E402
from tess_cluster_age.features.classic import classic_frequency_grid  # noqa: E402
from tess_cluster_age.lightcurves import read_elk_file, validate_cluster  # noqa: E402

CADENCES = (1800, 600, 200)


def default_elk_dir() -> Path:
    """$TESS_CLUSTER_AGE_ELK_DIR, else ../shared/data/elk beside the repository."""
    env = os.environ.get("TESS_CLUSTER_AGE_ELK_DIR")
    return Path(env) if env else REPO / ".." / "shared" / "data" / "elk"


def pick_segments(elk_dir: Path, per_cadence: int) -> list[tuple[str, int, object]]:
    """The first ``per_cadence`` sectors of each cadence, walking the files in sorted order."""
    picked: dict[int, list] = {c: [] for c in CADENCES}
    for galaxy in ("LMC", "MW", "SMC"):
        for path in sorted((elk_dir / galaxy).glob("*.fits*")):
            cluster, _ = validate_cluster(read_elk_file(path), galaxy)
            if cluster is None:
                continue
            for sector in cluster.sectors:
                cadence = min(CADENCES, key=lambda c: abs(c - sector.cadence_s))
                if abs(cadence - sector.cadence_s) < 10 and len(picked[cadence]) < per_cadence:
                    picked[cadence].append((cluster.name, cadence, sector))
            if all(len(v) >= per_cadence for v in picked.values()):
                return [seg for c in CADENCES for seg in picked[c]]
    return [seg for c in CADENCES for seg in picked[c]]


def original_classic_features(t, f, e, noise, config: cl.ClassicConfig) -> dict[str, float]:
    """The original algorithm (elk ``periodogram`` + ``autocorr`` + notebook columns).

    ``noise`` is the (n_bootstrap, n) standard-normal draw; the copies are ``f + noise * e``.
    """
    from astropy.timeseries import LombScargle
    from scipy.signal import find_peaks

    freq = classic_frequency_grid(config.f_min, config.f_max, config.f_step)
    copies = f + noise * e
    powers = np.asarray([LombScargle(t, y, dy=e).power(freq) for y in copies])
    med, _, one_below, _, _ = np.percentile(powers, list(config.percentiles), axis=0)
    out = cl._flux_features(t, f, e, config, bool(np.ptp(f) == 0))
    out.update(cl._acf_features(t, f, config)[0])
    max_power = max(med)
    out["max_power"] = max_power
    out["freq_at_max_power"] = freq[med == max_power][0]
    out["n_peaks"] = len(find_peaks(one_below, height=np.mean(med) + 2 * np.std(med))[0])
    high = freq > 5
    out["ratio_of_power_at_high_v_low_freq"] = np.mean(med[~high]) / np.mean(med[high])
    ls = LombScargle(t, f, e)
    ls.power(freq)
    out["FAP"] = ls.false_alarm_probability(power=max_power)
    period = 1 / freq
    for name, (lo, hi) in cl.PERIOD_BANDS.items():
        out[name] = np.sum(med[(period < hi) & (period > lo)])
    out["_med"] = med
    return out


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-cadence", type=int, default=3, help="real sectors per cadence (default 3)")
    parser.add_argument("--elk-dir", type=Path, default=None, help="ELK folder (default ../shared/data/elk)")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    elk_dir = args.elk_dir or default_elk_dir()
    if not elk_dir.is_dir():
        print(f"no ELK data in {elk_dir}: set --elk-dir or TESS_CLUSTER_AGE_ELK_DIR", file=sys.stderr)
        return 2

    config = cl.ClassicConfig()
    segments = pick_segments(elk_dir, args.n_per_cadence)
    print(f"{len(segments)} real sectors from {elk_dir} (one thread, same process)")

    # warm-up (imports, FFT plans), not timed
    _, _, warm = segments[0]
    cl.classic_features(warm.time_btjd, warm.flux_e_per_s, warm.flux_err_e_per_s,
                        rng=np.random.default_rng(0), config=config)
    original_classic_features(warm.time_btjd[:200], warm.flux_e_per_s[:200], warm.flux_err_e_per_s[:200],
                              np.zeros((2, 200)), config)

    rows = []
    for i, (name, cadence, sec) in enumerate(segments):
        t, f, e = sec.time_btjd, sec.flux_e_per_s, sec.flux_err_e_per_s
        ours, w_ours, c_ours = timed(
            lambda: cl.classic_features(t, f, e, rng=np.random.default_rng([args.seed, i]), config=config)
        )
        noise = np.random.default_rng([args.seed, i]).standard_normal((config.n_bootstrap, f.size))
        orig, w_orig, c_orig = timed(lambda: original_classic_features(t, f, e, noise, config))
        in_periodogram = cl._periodogram_mask(classic_frequency_grid(), config)
        med_err = float(np.max(np.abs(ours.periodogram.astype(np.float64) - orig["_med"][in_periodogram])
                               / orig["_med"][in_periodogram]))
        max_power_err = abs(ours.features["max_power"] - orig["max_power"]) / orig["max_power"]
        same_peaks = ours.features["n_peaks"] == orig["n_peaks"] and (
            ours.features["freq_at_max_power"] == orig["freq_at_max_power"])
        rows.append((cadence, w_ours, c_ours, w_orig, c_orig, max_power_err, same_peaks))
        print(f"  {name:>14s} sector {sec.sector:>2d} {cadence:>4d} s {t.size:>6d} pts: "
              f"ours {c_ours * 1e3:7.1f} ms, original {c_orig * 1e3:7.1f} ms (CPU); "
              f"max_power rel err {max_power_err:.1e}, median power (float32 vector) rel err {med_err:.1e}, "
              f"peaks agree {same_peaks}")

    rows_arr = np.array([r[:6] for r in rows], dtype=float)
    print("\nseconds per segment (CPU; wall in brackets)")
    print(f"  {'cadence':>8s} {'n':>3s} {'ours':>16s} {'original':>18s} {'speed-up':>9s}")
    for cadence in CADENCES:
        sel = rows_arr[:, 0] == cadence
        if not sel.any():
            continue
        o_c, o_w, g_c, g_w = (rows_arr[sel, k].mean() for k in (2, 1, 4, 3))
        print(f"  {cadence:>6d} s {sel.sum():>3d} {o_c:8.4f} ({o_w:6.4f}) {g_c:9.4f} ({g_w:6.4f}) {g_c / o_c:8.1f}x")
    o_c, o_w, g_c, g_w = (rows_arr[:, k].mean() for k in (2, 1, 4, 3))
    print(f"  {'overall':>8s} {len(rows):>3d} {o_c:8.4f} ({o_w:6.4f}) {g_c:9.4f} ({g_w:6.4f}) {g_c / o_c:8.1f}x")
    print(f"max relative max_power error with the same noise: {rows_arr[:, 5].max():.1e}")
    print(f"n_peaks and freq_at_max_power identical in {sum(r[6] for r in rows)}/{len(rows)} segments")

    # peak memory of one call on the longest segment, traced separately (tracing slows numpy)
    longest = max((s for _, _, s in segments), key=lambda s: s.n_points)
    tracemalloc.start()
    cl.classic_features(longest.time_btjd, longest.flux_e_per_s, longest.flux_err_e_per_s,
                        rng=np.random.default_rng(0), config=config)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: ours {peak / 2**20:.1f} MiB traced for one {longest.n_points}-point segment; "
          f"process max RSS {maxrss_mib:.0f} MiB")
    print(f"ratio: {g_c / o_c:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
