"""Purpose-built light curves and files for the tests (no data files are committed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tess_cluster_age.lightcurves import SECONDS_PER_DAY, RawSectorTable

REPO = Path(__file__).resolve().parents[1]


def project_parameters() -> dict:
    """The project's parameters (``conf/base``), loaded as Kedro loads them (``${globals:...}`` resolved)."""
    from kedro.config import OmegaConfigLoader

    return OmegaConfigLoader(str(REPO / "conf"), base_env="base", default_run_env="base")["parameters"]


def data_folder(kind: str) -> Path:
    """Where the real data of ``kind`` ("elk" or "reference") is: $TESS_CLUSTER_AGE_ELK_DIR or
    $TESS_CLUSTER_AGE_REFERENCE_DIR (set by ``make test``), else ../shared/data/<kind> beside the repo."""
    default = REPO.parent / "shared" / "data" / kind
    return Path(os.environ.get(f"TESS_CLUSTER_AGE_{kind.upper()}_DIR", default)).resolve()


def synthetic_sector(sector: int, n: int = 300, cadence_s: float = 1800.0, flux_level: float = 5000.0,
                     seed: int = 0, t0: float = 1400.0) -> RawSectorTable:
    """A sector table with a 2-day sinusoid plus white noise (flux in e/s, time in BTJD days)."""
    rng = np.random.default_rng(seed)
    time = t0 + np.arange(n) * cadence_s / SECONDS_PER_DAY
    flux = flux_level * (1 + 0.01 * np.sin(2 * np.pi * time / 2.0)) + rng.normal(0, 2.0, n)
    flux_err = np.full(n, 2.0)
    mag = 2.5 * np.log10(15000 / flux) + 10
    return RawSectorTable(0, sector, {"time": time, "flux": flux, "flux_err": flux_err, "mag": mag,
                                      "mag_err": 2.5 * flux_err / (flux * np.log(10))})


def sinusoid_samples(names, n_points: int, flux_level: float, period_offset_d: float, rng: np.random.Generator):
    """A long sample table (``name, sector, hdu, time, flux, flux_err, cadence_s``) of two 1800-s sectors
    per cluster; cluster ``c`` carries a 1 % sinusoid of period ``period_offset_d + c`` days plus
    white noise of 2 e/s, drawn from ``rng`` in cluster and sector order."""
    import pandas as pd

    frames = []
    for c, name in enumerate(names):
        for hdu in (1, 2):
            time = 1500 + 30 * hdu + np.arange(n_points) / 48
            flux = flux_level * (1 + 0.01 * np.sin(2 * np.pi * time / (period_offset_d + c))) + rng.normal(0, 2, time.size)
            frames.append(pd.DataFrame({"name": name, "sector": np.int32(hdu), "hdu": np.int32(hdu), "time": time,
                                        "flux": flux, "flux_err": 2.0, "cadence_s": 1800.0}))
    return pd.concat(frames, ignore_index=True)


def elk_header(name: str, log_age: float | None = 8.0, n_good: int | None = None, ra: float = 80.0,
               dec: float = -69.0, **extra) -> dict:
    """A primary header in the ELK layout; ``extra`` keywords are added or override."""
    header = {"NAME": name, "LOCATION": f"{ra},{dec}", "RADIUS": 0.01, "HAS_DATA": True,
              "N_OBS": n_good, "N_GOOD": n_good, "BUNIT": "e/s", "DOI": "10.17909/f4kb-vc30"}
    if log_age is not None:
        header["LOG_AGE"] = log_age
    header.update(extra)
    return header


def set_header_card(path: Path, card: str | bytes) -> None:
    """Overwrite, in an uncompressed FITS file, the primary header card with the same keyword by
    ``card`` as written (padded to 80 bytes): e.g. an unquoted ``LOG_AGE = NaN`` that astropy's
    strict parser refuses, or bytes that are not ASCII. The card must fit in 80 bytes."""
    card = card.encode("ascii") if isinstance(card, str) else card
    assert len(card) <= 80, "a header card is 80 bytes"
    content = bytearray(path.read_bytes())
    end = content.index(b"END" + b" " * 77)
    offset = next(i for i in range(0, end, 80) if content[i:i + 8] == card[:8].ljust(8))
    content[offset:offset + 80] = card.ljust(80)
    path.write_bytes(bytes(content))
