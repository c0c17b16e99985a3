"""Our ages and the training labels against independent published ages (SPEC 8).

The labels are not the truth (SPEC 8), so a model's RMSE against them says little once it nears
the labels' own error. Published ages that the labels did not come from (``external/``, one CSV
per catalogue) measure both against a third opinion that nobody trained on:

- :func:`read_external_catalogues` (a folder) / :func:`external_catalogues` (tables already read):
  every catalogue CSV in one table, without the rows that are not independent of the labels
  (Baumgardt et al. 2013 ``age_source`` 1 is Glatt et al. 2010, which *are* the LMC labels).
- :func:`match_catalogue` / :func:`match_external`: each of our clusters to at most one catalogue
  row: by name first (:func:`name_keys`), else the nearest row on the sky within a radius per
  galaxy; never beyond it.
- :func:`external_validation`: per model, galaxy and catalogue, the RMSE of our out-of-fold ages
  against the catalogue's, the RMSE of the labels against the same clusters' catalogue ages, and
  a paired cluster-bootstrap CI of their difference
  (:func:`tess_cluster_age.evaluation.bootstrap_rmse_difference`).
- :func:`three_cornered_hat` / :func:`label_scatter`: the labels' own random error per galaxy,
  separated from the catalogues' by comparing three of them on shared clusters.

These ages are for evaluation only: nothing here may feed training, tuning or model selection.
All ages are log10(age / yr) ("dex"); positions are ICRS degrees.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from tess_cluster_age import evaluation
from tess_cluster_age.catalogues import crossmatch_positions, name_keys
from tess_cluster_age.config import BootstrapConfig, ExternalValidationConfig
from tess_cluster_age.schema import GALAXIES

logger = logging.getLogger(__name__)

DEFAULTS = ExternalValidationConfig()
"""The default settings, whose values are the defaults of the functions here."""

REQUIRED_COLUMNS: tuple[str, ...] = ("name", "ra", "dec", "log_age", "galaxy", "catalogue")
"""Columns every catalogue CSV must have (ICRS deg for ``ra, dec``; log10 yr for ``log_age``)."""
OPTIONAL_COLUMNS: tuple[str, ...] = ("e_log_age", "age_source")
"""Columns some catalogues give (NaN where a catalogue does not): the age error (dex), and where
the age came from (Baumgardt et al. 2013 only)."""
NUMERIC_COLUMNS: tuple[str, ...] = ("ra", "dec", "log_age", "e_log_age", "age_source")

MATCH_COLUMNS = ["name", "galaxy", "catalogue", "catalogue_name", "catalogue_log_age", "catalogue_e_log_age",
                 "separation_deg", "matched_by"]
"""One row per matched cluster and catalogue (``matched_by``: ``name`` or ``position``)."""
VALIDATION_COLUMNS = ["model", "galaxy", "catalogue", "n", "rmse", "label_rmse", "rmse_minus_label_rmse", "lo95", "hi95"]
"""The external-validation table (``external_validation.csv``)."""
HAT_COLUMNS = ["galaxy", "catalogue_a", "catalogue_b", "catalogue_c", "n", "sigma_a", "sigma_b", "sigma_c", "note"]
"""The three-cornered-hat table: each catalogue's own random error (dex) on ``n`` shared clusters."""

LABELS = "labels"
"""The training labels, named as a catalogue (three-cornered hat) and as the bootstrap's reference model."""


class ExternalCatalogueError(ValueError):
    """A catalogue file cannot be used; the message names the file and the problem."""


# ------------------------------------------------------------------------------------ reading
def read_external_catalogues(folder: str | os.PathLike, config: ExternalValidationConfig = DEFAULTS) -> pd.DataFrame:
    """Every ``*.csv`` catalogue of ``folder`` in one table, independent rows only (:func:`external_catalogues`).

    Args:
        folder: the catalogue folder (``../shared/data/external``).
        config: the ``external_validation`` settings.

    Returns:
        As :func:`external_catalogues`, files in name order.

    Raises:
        ExternalCatalogueError: the folder holds no CSV, a file cannot be read as CSV, or a table
            is refused by :func:`external_catalogues`. The message names the file.
    """
    paths = sorted(Path(folder).glob("*.csv"))
    if not paths:
        raise ExternalCatalogueError(f"{folder}: no catalogue (*.csv) found")
    tables = {}
    for path in paths:
        try:
            tables[str(path)] = pd.read_csv(path, dtype={"name": str, "galaxy": str, "catalogue": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ExternalCatalogueError(f"{path}: cannot be read as CSV ({exc})") from None
    return external_catalogues(tables, config, where=str(folder))


def external_catalogues(tables: Mapping[str, pd.DataFrame], config: ExternalValidationConfig = DEFAULTS,
                        where: str = "the catalogue tables") -> pd.DataFrame:
    """Catalogue tables, each as read from one CSV file, in one table: independent rows only.

    Rows whose ``ra``, ``dec`` or ``log_age`` is missing are dropped (and counted in the log).
    Whole catalogues in ``config.exclude_catalogues`` are left out, and so are the rows that
    ``config.exclude_rows`` names (``catalogue -> column -> values``; by default Baumgardt et al.
    2013's ``age_source`` 1, which is Glatt et al. 2010 = the LMC labels).

    Args:
        tables: file name -> its table (``name, ra, dec, log_age, galaxy, catalogue`` and
            optionally ``e_log_age, age_source``), in the order to keep.
        config: the ``external_validation`` settings.
        where: where the tables come from, for messages (the folder).

    Returns:
        ``name, ra, dec, log_age, galaxy, catalogue, e_log_age, age_source`` (deg, deg, log10 yr,
        galaxy, catalogue name, dex, source code; the last two NaN where a catalogue lacks them),
        tables in the order given, rows in file order.

    Raises:
        ExternalCatalogueError: no table is given; or a table misses one of
            :data:`REQUIRED_COLUMNS`, holds a non-numeric position or age or an unknown galaxy, or
            lacks the column that an exclusion of its catalogue filters on. The message names the file.
    """
    if not tables:
        raise ExternalCatalogueError(f"{where}: no catalogue (*.csv) found")
    checked, seen = [], set()
    for file, table in tables.items():
        table, names = _check_catalogue(table, file, config)
        checked.append(table)
        seen |= names
    table = pd.concat(checked, ignore_index=True)
    for name in sorted({*config.exclude_catalogues, *config.exclude_rows} - seen):
        logger.warning("external catalogues: the exclusions name %r, which no file of %s holds", name, where)
    for catalogue, rows in table.groupby("catalogue", sort=False):
        logger.info("external catalogue %s: %d independent row(s) (%s)", catalogue, len(rows),
                    ", ".join(f"{g} {n}" for g, n in rows["galaxy"].value_counts().items()))
    return table


def _check_catalogue(table: pd.DataFrame, file: str, config: ExternalValidationConfig) -> tuple[pd.DataFrame, set[str]]:
    """One catalogue table read from ``file``, checked (required columns, numeric values, known galaxies):
    its independent rows, and the names of the catalogues it holds (before any exclusion)."""
    name = Path(file).name
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    if missing:
        raise ExternalCatalogueError(f"{file}: missing column(s) {missing}; a catalogue needs {list(REQUIRED_COLUMNS)}")
    table = table.copy()
    for column in NUMERIC_COLUMNS:
        if column not in table:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ExternalCatalogueError(f"{file}: column {column!r} holds a non-numeric value "
                                         f"({table[column].iloc[row]!r} on line {row + 2})")
        table[column] = values.astype(float)
    unknown = ~table["galaxy"].isin(GALAXIES)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise ExternalCatalogueError(f"{file}: galaxy {table['galaxy'].iloc[row]!r} on line {row + 2} is not one of {list(GALAXIES)}")
    keep = ~table["catalogue"].isin(config.exclude_catalogues)
    for catalogue, rules in config.exclude_rows.items():
        if not (table["catalogue"] == catalogue).any():
            continue
        for column, values in rules.items():
            if column not in table:
                raise ExternalCatalogueError(f"{file}: exclude_rows.{catalogue} filters on column {column!r}, which this file "
                                             f"does not have (its columns: {list(table.columns)})")
            excluded = (table["catalogue"] == catalogue) & table[column].isin(values)
            keep &= ~excluded
            logger.info("%s: %d row(s) with %s in %s left out (not independent of the labels)", name, int(excluded.sum()),
                        column, list(values))
    incomplete = table[["ra", "dec", "log_age"]].isna().any(axis=1) & keep
    if incomplete.any():
        logger.warning("%s: %d row(s) without a position or an age dropped", name, int(incomplete.sum()))
    names = set(table["catalogue"])
    table = table[keep & ~incomplete]
    return table.reindex(columns=[*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]).astype({c: float for c in OPTIONAL_COLUMNS}), names


# ------------------------------------------------------------------------------------ matching
def match_catalogue(clusters: pd.DataFrame, catalogue: pd.DataFrame,
                    radius_deg: Mapping[str, float] = DEFAULTS.radius_deg) -> pd.DataFrame:
    """Each of our clusters to at most one row of one catalogue: by name, else by nearest position.

    Only rows of the cluster's own galaxy are candidates. Per cluster:

    1. by name: the catalogue rows whose :func:`name_keys` share a key with the cluster's name;
       of several, the nearest on the sky;
    2. otherwise by position: the nearest row (``SkyCoord.match_to_catalog_sky``, via
       :func:`tess_cluster_age.catalogues.crossmatch_positions`) among the rows that no cluster
       took by name, if its angular separation is at most ``radius_deg[galaxy]``; never beyond.

    A name match is kept whatever its separation (the separation is reported). Two clusters may
    match the same row by position (e.g. a pair closer than the radius); each still gets one row.

    Args:
        clusters: our clusters, one row each: ``name, galaxy, ra, dec`` (ICRS deg; e.g. the
            ``clusters`` table of :func:`tess_cluster_age.lightcurves.cluster_table`).
        catalogue: rows of one catalogue (:func:`read_external_catalogues`).
        radius_deg: galaxy -> largest separation (deg) of a positional match.

    Returns:
        :data:`MATCH_COLUMNS`, one row per matched cluster, in the order of ``clusters``.
    """
    _require(clusters, ("name", "galaxy", "ra", "dec"), "clusters")
    _require(catalogue, REQUIRED_COLUMNS, "catalogue")
    if clusters["name"].duplicated().any():
        raise ValueError(f"clusters: duplicate names {sorted(set(clusters.loc[clusters['name'].duplicated(), 'name']))}")
    names = catalogue["catalogue"].unique()
    if len(names) > 1:
        raise ValueError(f"match_catalogue takes one catalogue at a time (got {sorted(names)}); see match_external")
    parts = []
    for galaxy, ours in clusters.groupby("galaxy", sort=False):
        theirs = catalogue[catalogue["galaxy"] == galaxy].reset_index(drop=True)
        if theirs.empty:
            continue
        if galaxy not in radius_deg:
            raise ValueError(f"radius_deg gives no radius for galaxy {galaxy!r} (it gives {dict(radius_deg)})")
        parts.append(_match_galaxy(ours.reset_index(drop=True), theirs, float(radius_deg[galaxy])))
    if not parts:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(clusters["name"])}
    out = out.iloc[np.argsort(out["name"].map(order).to_numpy(), kind="stable")].reset_index(drop=True)
    for galaxy, rows in out.groupby("galaxy", sort=False):
        by_name = int((rows["matched_by"] == "name").sum())
        logger.info("%s: %d of %d %s clusters matched (%d by name, %d by position)", names[0], len(rows),
                    int((clusters["galaxy"] == galaxy).sum()), galaxy, by_name, len(rows) - by_name)
    return out


def _match_galaxy(ours: pd.DataFrame, theirs: pd.DataFrame, radius_deg: float) -> pd.DataFrame:
    """:func:`match_catalogue` within one galaxy (both tables with a 0..n-1 index)."""
    row = np.full(len(ours), -1)
    # 1. by name
    rows_of_key: dict[str, list[int]] = {}
    for i, name in enumerate(theirs["name"]):
        for key in name_keys(name):
            rows_of_key.setdefault(key, []).append(i)
    for k, name in enumerate(ours["name"]):
        candidates = sorted({i for key in name_keys(name) for i in rows_of_key.get(key, [])})
        if len(candidates) == 1:
            row[k] = candidates[0]
        elif candidates:
            separation = _separation_deg(np.repeat(ours.loc[k, ["ra", "dec"]].to_numpy(float)[None, :], len(candidates), 0),
                                         theirs.loc[candidates, ["ra", "dec"]].to_numpy(float))
            row[k] = candidates[int(np.argmin(np.where(np.isfinite(separation), separation, np.inf)))]
    by_name = row >= 0
    # 2. by position, among the rows no cluster took by name
    free = np.setdiff1d(np.arange(len(theirs)), row[by_name])
    todo = np.flatnonzero(~by_name)
    if len(todo) and len(free):
        index, separation_arcmin = crossmatch_positions(ours["ra"].to_numpy(float)[todo], ours["dec"].to_numpy(float)[todo],
                                                        theirs["ra"].to_numpy(float)[free], theirs["dec"].to_numpy(float)[free])
        inside = (index >= 0) & (separation_arcmin / 60.0 <= radius_deg)
        row[todo[inside]] = free[index[inside]]
    matched = np.flatnonzero(row >= 0)
    picked = theirs.iloc[row[matched]]
    separation = _separation_deg(ours.loc[matched, ["ra", "dec"]].to_numpy(float), picked[["ra", "dec"]].to_numpy(float))
    beyond = by_name[matched] & (separation > radius_deg)
    if beyond.any():
        logger.info("%s: %d name match(es) farther than the %.3g deg radius: %s", theirs["catalogue"].iloc[0], int(beyond.sum()),
                    radius_deg, ", ".join(f"{n} ({s:.3f} deg)" for n, s in zip(ours["name"].to_numpy()[matched][beyond], separation[beyond])))
    return pd.DataFrame({
        "name": ours["name"].to_numpy()[matched],
        "galaxy": ours["galaxy"].to_numpy()[matched],
        "catalogue": picked["catalogue"].to_numpy(),
        "catalogue_name": picked["name"].to_numpy(),
        "catalogue_log_age": picked["log_age"].to_numpy(float),
        "catalogue_e_log_age": picked["e_log_age"].to_numpy(float) if "e_log_age" in picked else np.nan,
        "separation_deg": separation,
        "matched_by": np.where(by_name[matched], "name", "position"),
    })


def _separation_deg(ours_deg: np.ndarray, theirs_deg: np.ndarray) -> np.ndarray:
    """Angular separation (deg) between paired (ra, dec) rows, in ICRS deg; NaN where one is not finite."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ours_deg, theirs_deg = np.asarray(ours_deg, float).reshape(-1, 2), np.asarray(theirs_deg, float).reshape(-1, 2)
    out = np.full(len(ours_deg), np.nan)
    ok = np.isfinite(ours_deg).all(axis=1) & np.isfinite(theirs_deg).all(axis=1)
    if ok.any():
        a = SkyCoord(ours_deg[ok, 0] * u.deg, ours_deg[ok, 1] * u.deg)
        b = SkyCoord(theirs_deg[ok, 0] * u.deg, theirs_deg[ok, 1] * u.deg)
        out[ok] = a.separation(b).to_value(u.deg)
    return out


def match_external(clusters: pd.DataFrame, external: pd.DataFrame, config: ExternalValidationConfig = DEFAULTS) -> pd.DataFrame:
    """:func:`match_catalogue` for every catalogue of ``external`` (:func:`read_external_catalogues`).

    Returns:
        :data:`MATCH_COLUMNS`: per catalogue (in order of first appearance), one row per matched cluster.
    """
    parts = [match_catalogue(clusters, rows, config.radius_deg) for _, rows in external.groupby("catalogue", sort=False)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MATCH_COLUMNS)


def _require(table: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")


# ------------------------------------------------------------------------------------ validation
def external_validation(predictions: pd.DataFrame, labels: pd.DataFrame, matches: pd.DataFrame,
                        bootstrap: BootstrapConfig = DEFAULTS.bootstrap, level: str = "cluster") -> pd.DataFrame:
    """Our out-of-fold ages and the training labels, both against independent catalogue ages.

    Per model, galaxy and catalogue, on the clusters that have an out-of-fold prediction, a label
    and a match in that catalogue (``n`` of them):

    - ``rmse = sqrt(mean_c (mu_c - x_c)^2)``, with ``mu_c`` our out-of-fold cluster log age and
      ``x_c`` the catalogue's, computed per fold seed and averaged over seeds (as SPEC 4's metrics);
    - ``label_rmse = sqrt(mean_c (y_c - x_c)^2)``, ``y_c`` the training label, on the same clusters;
    - ``rmse_minus_label_rmse``; negative means our ages agree with the catalogue better than the
      labels do;
    - ``lo95, hi95``: the 2.5 and 97.5 percentiles of that difference over a paired cluster
      bootstrap (:func:`tess_cluster_age.evaluation.bootstrap_rmse_difference`, with the labels as
      the reference "model"): clusters are resampled with replacement, the same draw for our ages
      and for the labels (and every fold seed), ``bootstrap.n`` draws seeded by ``bootstrap.seed``.

    Args:
        predictions: out-of-fold rows ``model, seed, name, mu`` (``mu`` in log10 yr; rows of
            ``level`` only when a ``level`` column is present; one seed when ``seed`` is absent).
        labels: ``name, galaxy, log_age``: the training label of each cluster (NaN: unlabelled).
        matches: :func:`match_external` rows (``name, catalogue, catalogue_log_age``).
        bootstrap: draws and seed of the paired bootstrap.
        level: the prediction level to use.

    Returns:
        :data:`VALIDATION_COLUMNS`: rows by catalogue (first appearance in ``matches``), then model
        (first appearance in ``predictions``), then galaxy (MW, LMC, SMC); ``rmse``, ``label_rmse``
        and the CI in dex.
    """
    _require(predictions, ("model", "name", "mu"), "predictions")
    _require(labels, ("name", "galaxy", "log_age"), "labels")
    _require(matches, ("name", "catalogue", "catalogue_log_age"), "matches")
    rows = predictions[predictions["level"] == level] if "level" in predictions else predictions
    rows = rows if "seed" in rows else rows.assign(seed=0)
    labelled = labels[labels["log_age"].notna()].drop_duplicates("name").set_index("name")
    records = []
    for catalogue, matched in matches.groupby("catalogue", sort=False):
        external_age = matched.drop_duplicates("name").set_index("name")["catalogue_log_age"]
        for model, part in rows.groupby("model", sort=False):
            part = part[part["name"].isin(external_age.index) & part["name"].isin(labelled.index)]
            if part.empty:
                continue
            ours = pd.DataFrame({"model": model, "level": "cluster", "seed": part["seed"].to_numpy(),
                                 "name": part["name"].to_numpy(), "galaxy": part["name"].map(labelled["galaxy"]).to_numpy(),
                                 "log_age": part["name"].map(external_age).to_numpy(float), "mu": part["mu"].to_numpy(float)})
            paired = pd.concat([ours, ours.assign(model=LABELS, mu=ours["name"].map(labelled["log_age"]).to_numpy(float))],
                               ignore_index=True)
            ci = evaluation.bootstrap_rmse_difference(paired, reference_model=LABELS, n_boot=bootstrap.n, seed=bootstrap.seed,
                                                      level="cluster")
            ci = ci.set_index(["galaxy", "metric"])["value"]
            for galaxy in GALAXIES:
                cell = paired[paired["galaxy"] == galaxy]
                if cell.empty:
                    continue
                rmse = _rmse_over_seeds(cell[cell["model"] == model])
                label_rmse = _rmse_over_seeds(cell[cell["model"] == LABELS])
                records.append((model, galaxy, catalogue, int(cell["name"].nunique()), rmse, label_rmse, rmse - label_rmse,
                                float(ci[(galaxy, "rmse_diff_lo95")]), float(ci[(galaxy, "rmse_diff_hi95")])))
    table = pd.DataFrame.from_records(records, columns=VALIDATION_COLUMNS)
    logger.info("external validation: %d rows (%d models x %d catalogues)", len(table), table["model"].nunique(),
                table["catalogue"].nunique())
    return table


def _rmse_over_seeds(rows: pd.DataFrame) -> float:
    """Mean over fold seeds of the RMSE (dex) of ``mu`` against ``log_age``."""
    per_seed = rows.groupby("seed")[["mu", "log_age"]].apply(lambda r: float(np.sqrt(np.mean((r["mu"] - r["log_age"]) ** 2))))
    return float(per_seed.mean())


# ------------------------------------------------------------------------------------ three-cornered hat
class HatEstimate(NamedTuple):
    """Each of three catalogues' own random error (dex) from :func:`three_cornered_hat`."""

    sigma_a: float
    sigma_b: float
    sigma_c: float
    n: int
    note: str
    """Empty, or why a sigma is NaN."""


def three_cornered_hat(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> HatEstimate:
    """Each catalogue's own random error from three catalogues' ages of the same clusters.

    If ``a = t + e_a`` etc., with the true age ``t`` and mutually uncorrelated errors, then
    ``var(a - b) = var(e_a) + var(e_b)`` and so on, which solves to the three-cornered hat
    (Gray & Allan 1974, Proc. 28th Annual Symposium on Frequency Control, 243; the N-cornered
    generalisation with correlations: Premoli & Tavella 1993, Metrologia 30, 479)::

        var(e_a) = (var(a - b) + var(a - c) - var(b - c)) / 2

    and cyclically for ``b`` and ``c``. Variances of the differences are sample variances
    (``ddof = 1``), so constant offsets between catalogues (biases) are removed: the result is the
    random scatter only. Errors that two catalogues share (same photometry, same members) make
    ``var(b - c)`` too small, which moves their shared part onto ``a``; a correlated pair should
    not be used together.

    A negative variance estimate (noise on few clusters, or correlated errors) gives NaN for that
    sigma, and ``note`` says which and by how much; it never raises.

    Args:
        a, b, c: log ages (dex) of the same clusters in three catalogues (NaN rows are dropped).

    Returns:
        ``sigma_a, sigma_b, sigma_c`` (dex), ``n`` (clusters used) and ``note``.
    """
    ages = np.column_stack([np.asarray(x, float) for x in (a, b, c)])
    ages = ages[np.isfinite(ages).all(axis=1)]
    n = len(ages)
    if n < 3:
        return HatEstimate(np.nan, np.nan, np.nan, n, f"only {n} shared cluster(s): at least 3 are needed")
    a, b, c = ages.T
    v_ab, v_ac, v_bc = (float(np.var(x - y, ddof=1)) for x, y in ((a, b), (a, c), (b, c)))
    variances = {"a": (v_ab + v_ac - v_bc) / 2, "b": (v_ab + v_bc - v_ac) / 2, "c": (v_ac + v_bc - v_ab) / 2}
    negative = {k: v for k, v in variances.items() if v < 0}
    note = "; ".join(f"var(e_{k}) estimate {v:.4f} dex^2 < 0 (too few clusters or correlated errors): sigma_{k} is NaN"
                     for k, v in negative.items())
    sigma = {k: float(np.sqrt(v)) if v >= 0 else np.nan for k, v in variances.items()}
    return HatEstimate(sigma["a"], sigma["b"], sigma["c"], n, note)


def label_scatter(labels: pd.DataFrame, matches: pd.DataFrame, min_shared: int = DEFAULTS.hat_min_shared,
                  exclude_pairs: Sequence[Sequence[str]] = DEFAULTS.hat_exclude_pairs) -> pd.DataFrame:
    """The labels' own random error per galaxy, by the three-cornered hat (:func:`three_cornered_hat`).

    For each galaxy and each pair of independent catalogues ``(b, c)`` matched there, the hat is
    taken over the labels (``a``) and the two catalogues on the clusters all three share. Pairs in
    ``exclude_pairs`` (correlated errors) are skipped, and so are pairs with fewer than
    ``min_shared`` shared clusters.

    Args:
        labels: ``name, galaxy, log_age`` (training labels; NaN: unlabelled).
        matches: :func:`match_external` rows (``name, galaxy, catalogue, catalogue_log_age``).
        min_shared: fewest shared clusters for an estimate.
        exclude_pairs: catalogue pairs (either order) never used together.

    Returns:
        :data:`HAT_COLUMNS`: per galaxy (MW, LMC, SMC) the pairs by decreasing ``n``;
        ``catalogue_a`` is ``labels``; sigmas in dex, NaN with a ``note`` where the variance
        estimate is negative.
    """
    _require(labels, ("name", "galaxy", "log_age"), "labels")
    _require(matches, ("name", "galaxy", "catalogue", "catalogue_log_age"), "matches")
    excluded = {frozenset(pair) for pair in exclude_pairs}
    label = labels[labels["log_age"].notna()].drop_duplicates("name").set_index("name")["log_age"]
    records = []
    for galaxy in GALAXIES:
        here = matches[matches["galaxy"] == galaxy]
        ages = here.pivot_table(index="name", columns="catalogue", values="catalogue_log_age", aggfunc="first")
        ages = ages[ages.index.isin(label.index)]
        rows = []
        for b, c in itertools.combinations(sorted(ages.columns), 2):
            if frozenset((b, c)) in excluded:
                continue
            shared = ages[[b, c]].dropna()
            if len(shared) < min_shared:
                logger.debug("three-cornered hat %s: labels, %s, %s share %d clusters (< %d)", galaxy, b, c, len(shared), min_shared)
                continue
            estimate = three_cornered_hat(label[shared.index].to_numpy(float), shared[b].to_numpy(float), shared[c].to_numpy(float))
            rows.append((galaxy, LABELS, b, c, estimate.n, estimate.sigma_a, estimate.sigma_b, estimate.sigma_c, estimate.note))
        records += sorted(rows, key=lambda r: -r[4])
    table = pd.DataFrame.from_records(records, columns=HAT_COLUMNS)
    for galaxy, rows in table.groupby("galaxy", sort=False):
        logger.info("labels' own scatter (%s, three-cornered hat, %d catalogue pairs): sigma %s dex", galaxy, len(rows),
                    ", ".join(f"{s:.2f}" for s in rows["sigma_a"]))
    return table
