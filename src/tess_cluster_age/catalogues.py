"""Cross-checks of the ELK header ages against the published tables and the age catalogues.

The ELK ``LOG_AGE`` labels came from three catalogues: Use_MW (Milky Way, ``LOG_AGE``),
Glatt et al. 2010 (LMC, ``Age`` in log10 yr) and Bica et al. 2008 (SMC, ``logAge``). The original
study's feature tables (Wainer et al. 2023) carry the same label as ``Lit_Clst_Age``.
"""

from __future__ import annotations

import re

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
            row_of_key: dict[str, int] = {}
            for i, n in enumerate(names):
                for key in name_keys(n):
                    row_of_key.setdefault(key, i)          # the first row that carries a designation
            index = np.array([min((row_of_key[k] for k in name_keys(n) if k in row_of_key), default=-1) for n in rows["name"]])
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


# ------------------------------------------------------------------------------------ names
ALIAS_SEPARATORS = r"[,;.]"
"""Separators between the designations that one catalogue entry lists ("NGC1850.SL261", "VDBH 67, BH 67")."""

DESIGNATION_SYNONYMS: dict[str, str] = {
    "BRUCK": "B",                # Bruck 1976, SMC ("Bruck 47" = "B47")
    "CL KRON": "K",              # Kron 1956, SMC ("Cl Kron 47" = "K47")
    "CL LINDSAY": "L",           # Lindsay 1958, SMC ("Cl Lindsay 1" = "L1")
    "VDBERGH HAGEN": "VDBH",     # van den Bergh & Hagen 1975, MW ("VDBERGH-HAGEN 92" = "VDBH 92")
}
"""Designation prefixes spelt out in our (SIMBAD-style) names -> the short form the catalogues use.
Keys and values are in the token form of :func:`name_keys` (upper case, words separated by one space)."""

_BRACKETED = re.compile(r"^\[([A-Z]+?)(\d{2}|\d{4})\]\s*(.*)$")
_TOKENS = re.compile(r"[A-Z]+|\d+")


def name_keys(name: object) -> frozenset[str]:
    """The normalised designations of a cluster name; two names match when their keys intersect.

    Rules, in order:

    1. The name is split into designations at ``,``, ``;`` and ``.`` (:data:`ALIAS_SEPARATORS`):
       a catalogue entry may list several ("NGC1850.SL261").
    2. Each designation is put in upper case and cut into runs of letters and runs of digits;
       everything else (spaces, ``-``, ``_``, brackets) only separates runs. Numbers lose leading
       zeros. The key is the runs joined by one space, so "NGC 2516", "ngc-2516", "NGC_2516" and
       "NGC2516" all give ``NGC 2516``; "FSR 0154" gives ``FSR 154``; and "ESO 130-13" (``ESO 130
       13``) stays apart from "ESO 13-013" (``ESO 13 13``).
    3. A SIMBAD acronym in brackets with its year ("[SL63] 116", "[H86] 170") gives two keys,
       with the year and without it (``SL 63 116`` and ``SL 116``), as catalogues write either.
    4. The letters before the first number are replaced by their short form when
       :data:`DESIGNATION_SYNONYMS` lists them ("Bruck 47" -> ``B 47``).

    Names that normalise differently still match by position (:func:`match_catalogue`).

    Args:
        name: the name as written (NaN/None give no key).

    Returns:
        The keys (empty for a missing or blank name).
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return frozenset()
    keys = set()
    for designation in re.split(ALIAS_SEPARATORS, str(name).upper()):
        designation = designation.strip()
        bracketed = _BRACKETED.match(designation)
        forms = ([f"{bracketed[1]} {bracketed[2]} {bracketed[3]}", f"{bracketed[1]} {bracketed[3]}"] if bracketed
                 else [designation])
        for form in forms:
            key = _key(form)
            if key:
                keys.add(key)
    return frozenset(keys)


def _key(designation: str) -> str:
    """Rules 2 and 4 of :func:`name_keys` for one designation."""
    tokens = [t.lstrip("0") or "0" if t.isdigit() else t for t in _TOKENS.findall(designation)]
    first_number = next((i for i, t in enumerate(tokens) if t.isdigit()), len(tokens))
    prefix = " ".join(tokens[:first_number])
    if prefix in DESIGNATION_SYNONYMS:
        tokens = [DESIGNATION_SYNONYMS[prefix], *tokens[first_number:]]
    return " ".join(tokens)


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


def ages_agree(log_age: pd.Series, references: pd.DataFrame, tolerance_dex: float) -> pd.Series:
    """Whether a header age agrees with every reference age that exists (nullable boolean).

    True when each finite reference age (log10 yr, one column per reference) lies within
    ``tolerance_dex`` of ``log_age``, False when one lies further, NA when the cluster has no
    header age or no reference age: ``|reference - log_age| <= tolerance_dex`` for all references.
    """
    difference = np.abs(references.to_numpy(float) - log_age.to_numpy(float)[:, None])
    has_reference = np.isfinite(difference).any(axis=1)
    agrees = np.where(np.isfinite(difference), difference <= tolerance_dex, True).all(axis=1)
    return pd.Series(pd.array(np.where(has_reference, agrees, None), dtype="boolean"), index=log_age.index, name="age_agrees")

