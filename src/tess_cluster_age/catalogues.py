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
    """Literature age of each cluster from its galaxy's catalogue, matched by position (or name).

    Args:
        clusters: needs ``name``, ``galaxy``, ``ra``, ``dec`` (deg).
        catalogues: galaxy -> catalogue table.
        columns: galaxy -> {"name", "ra", "dec", "log_age"} column names in that catalogue, and
            optionally ``"match": "name"`` to match on the cluster name instead of position.
        max_separation_arcmin: positional matches further than this count as "no match".

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
        if galaxy not in catalogues or len(catalogues[galaxy]) == 0:
            continue
        table, cols = catalogues[galaxy], columns[galaxy]
        index, sep = crossmatch_positions(
            rows["ra"].to_numpy(), rows["dec"].to_numpy(),
            table[cols["ra"]].to_numpy(float), table[cols["dec"]].to_numpy(float),
        )
        names = np.asarray(table[cols["name"]], dtype=object)
        if cols.get("match") == "name":
            # matched on the name (as the labels were); the separation is still reported
            by_name = {_normalise_name(n): i for i, n in enumerate(names) if n is not None}
            index = np.array([by_name.get(_normalise_name(n), -1) for n in rows["name"]])
            sep = np.where(index >= 0, _separation_arcmin(rows, table, cols, index), np.nan)
            matched = index >= 0
        else:
            matched = (index >= 0) & (sep <= max_separation_arcmin)
        ages = table[cols["log_age"]].to_numpy(float)
        safe = np.where(index >= 0, index, 0)
        out.loc[rows.index, "catalogue_name"] = np.where(matched, names[safe], None)
        out.loc[rows.index, "catalogue_sep_arcmin"] = np.where(index >= 0, sep, np.nan)
        out.loc[rows.index, "catalogue_log_age"] = np.where(matched, ages[safe], np.nan)
    return out


def _normalise_name(name) -> str:
    """Upper case without spaces, hyphens or underscores ("NGC 2516" == "ngc-2516")."""
    return "".join(ch for ch in str(name).upper() if ch not in " -_")


def _separation_arcmin(rows: pd.DataFrame, table: pd.DataFrame, cols: dict[str, str], index: np.ndarray) -> np.ndarray:
    """Angular separation (arcmin) between each cluster and catalogue row ``index`` (−1: NaN)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    safe = np.where(index >= 0, index, 0)
    ours = SkyCoord(rows["ra"].to_numpy(float) * u.deg, rows["dec"].to_numpy(float) * u.deg)
    theirs = SkyCoord(table[cols["ra"]].to_numpy(float)[safe] * u.deg, table[cols["dec"]].to_numpy(float)[safe] * u.deg)
    return np.where(index >= 0, ours.separation(theirs).to_value(u.arcmin), np.nan)


def published_ages(clusters: pd.DataFrame, published: pd.DataFrame) -> pd.Series:
    """The label the original study used (``Lit_Clst_Age``), matched on the cluster ``name``.

    A name with several published rows (one per sector) must carry one age; if its rows disagree
    the first is taken (the disagreement shows up as a header/published mismatch).
    """
    first = published.drop_duplicates("name").set_index("name")["Lit_Clst_Age"]
    return clusters["name"].map(first).astype(float)
