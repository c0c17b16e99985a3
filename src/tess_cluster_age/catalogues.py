"""Cross-checks of the ELK header ages against the published tables and the age catalogues.

The ELK ``LOG_AGE`` labels came from three catalogues: Use_MW (Milky Way, ``LOG_AGE``),
Glatt et al. 2010 (LMC, ``Age`` in log10 yr) and Bica et al. 2008 (SMC, ``logAge``). The original
study's feature tables (Wainer et al. 2023) carry the same label as ``Lit_Clst_Age``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def crossmatch_positions(
    ra_deg: np.ndarray, dec_deg: np.ndarray, cat_ra_deg: np.ndarray, cat_dec_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest catalogue entry on the sky for every target.

    Returns:
        (index into the catalogue, separation in arcmin); index −1 and separation NaN where the
        target position is not finite or the catalogue is empty.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ra_deg, dec_deg = np.asarray(ra_deg, float), np.asarray(dec_deg, float)
    index = np.full(ra_deg.size, -1)
    separation = np.full(ra_deg.size, np.nan)
    ok = np.isfinite(ra_deg) & np.isfinite(dec_deg)
    cat_ok = np.isfinite(cat_ra_deg) & np.isfinite(cat_dec_deg)
    if not ok.any() or not cat_ok.any():
        return index, separation
    cat_rows = np.flatnonzero(cat_ok)
    catalogue = SkyCoord(cat_ra_deg[cat_ok] * u.deg, cat_dec_deg[cat_ok] * u.deg)
    targets = SkyCoord(ra_deg[ok] * u.deg, dec_deg[ok] * u.deg)
    nearest, sep, _ = targets.match_to_catalog_sky(catalogue)
    index[ok] = cat_rows[nearest]
    separation[ok] = sep.to_value(u.arcmin)
    return index, separation


def catalogue_ages(
    clusters: pd.DataFrame,
    catalogues: dict[str, pd.DataFrame],
    columns: dict[str, dict[str, str]],
    max_separation_arcmin: float,
) -> pd.DataFrame:
    """Literature age of each cluster from its galaxy's catalogue, matched by position.

    Args:
        clusters: needs ``name``, ``galaxy``, ``ra``, ``dec`` (deg).
        catalogues: galaxy -> catalogue table.
        columns: galaxy -> {"name", "ra", "dec", "log_age"} column names in that catalogue.
        max_separation_arcmin: matches further than this count as "no match".

    Returns:
        One row per cluster (same order): ``catalogue`` (galaxy key used), ``catalogue_name``,
        ``catalogue_sep_arcmin``, ``catalogue_log_age`` (NaN where unmatched).
    """
    out = pd.DataFrame(
        {
            "catalogue_name": pd.Series([None] * len(clusters), dtype=object),
            "catalogue_sep_arcmin": np.nan,
            "catalogue_log_age": np.nan,
        },
        index=clusters.index,
    )
    for galaxy, rows in clusters.groupby("galaxy", sort=False):
        if galaxy not in catalogues:
            continue
        table, cols = catalogues[galaxy], columns[galaxy]
        index, sep = crossmatch_positions(
            rows["ra"].to_numpy(), rows["dec"].to_numpy(),
            table[cols["ra"]].to_numpy(float), table[cols["dec"]].to_numpy(float),
        )
        matched = (index >= 0) & (sep <= max_separation_arcmin)
        names = np.asarray(table[cols["name"]], dtype=object)
        ages = table[cols["log_age"]].to_numpy(float)
        out.loc[rows.index, "catalogue_name"] = np.where(matched, names[index], None)
        out.loc[rows.index, "catalogue_sep_arcmin"] = np.where(index >= 0, sep, np.nan)
        out.loc[rows.index, "catalogue_log_age"] = np.where(matched, ages[index], np.nan)
    return out


def published_ages(clusters: pd.DataFrame, published: pd.DataFrame) -> pd.Series:
    """The label the original study used (``Lit_Clst_Age``), matched on the cluster ``name``.

    A name with several published rows (one per sector) must carry one age; if its rows disagree
    the first is taken (the disagreement shows up as a header/published mismatch).
    """
    first = published.drop_duplicates("name").set_index("name")["Lit_Clst_Age"]
    return clusters["name"].map(first).astype(float)
