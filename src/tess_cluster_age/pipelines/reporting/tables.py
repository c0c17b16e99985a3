"""The report's tables: the model pipelines' tables combined, the data overview, and display tables.

Numbers stay numbers until :func:`display_table`, the one formatter, turns a table into the text
cells the page shows. Ages are log10(age / yr) ("dex") unless a column says ``_myr``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age import evaluation
from tess_cluster_age.schema import GALAXIES, REFERENCE_MODEL

logger = logging.getLogger(__name__)

GALAXY_COLUMNS: tuple[str, ...] = ("all", *GALAXIES)
"""Galaxies of the comparison, ``all`` first."""
TABLE_METRICS: tuple[tuple[str, str], ...] = (
    ("rmse", "RMSE"), ("mae", "MAE"), ("bias", "bias"), ("skill", "skill"), ("nll", "NLL"), ("crps", "CRPS"),
    ("cov68", "cov68"), ("cov95", "cov95"), ("catastrophic", "> 1 dex"),
)
"""Cluster-level metrics of the comparison table, with their column headings."""
YOUNG_OLD_METRICS: tuple[str, ...] = ("young_precision", "young_recall", "old_precision", "old_recall")
"""Class precision and recall of the young/old view (over all galaxies; balanced accuracy per galaxy)."""
IMPORTANCE_COLUMNS = ["pipeline", "model", "seed", "fold", "feature", "importance"]


# ------------------------------------------------------------------------------------ model outputs
def combine_model_tables(**tables: pd.DataFrame) -> pd.DataFrame:
    """One table from the same table of several model pipelines, with a ``pipeline`` column.

    The baselines (and their shuffled-label controls) are scored by every pipeline on the same
    folds; only the first pipeline's copy of a model is kept, so each model appears once.

    Args:
        **tables: pipeline name -> its table (``metrics`` or cluster-level ``oof``, each with a
            ``model`` column). An empty table is skipped, logged.

    Returns:
        The rows of all pipelines, ``pipeline`` first.

    Raises:
        ValueError: every table is empty (no model pipeline has run).
    """
    out = _combine(tables)
    if out.empty:
        raise ValueError("no model output to report: run the model pipelines first "
                         "(kedro run --pipelines=random_forest,regression,gaussian_nn)")
    return out


def combine_importances(**tables: pd.DataFrame) -> pd.DataFrame:
    """The permutation importances of every pipeline (``pipeline, model, seed, fold, feature, importance``; may be empty)."""
    out = _combine(tables, warn=False)
    return out if not out.empty else pd.DataFrame(columns=IMPORTANCE_COLUMNS)


def combine_cluster_predictions(**oof: pd.DataFrame) -> pd.DataFrame:
    """Cluster-level out-of-fold rows of every pipeline (``pipeline, model, seed, name, galaxy, log_age, mu, sigma,
    sigma_68, sigma_95, pit``).

    Args:
        **oof: pipeline name -> its ``oof`` table (segment and cluster rows; mu and the sigmas in dex).
    """
    columns = ["model", "level", "seed", "fold", "name", "galaxy", "log_age", "mu", "sigma", *evaluation.INTERVALS, "n_segments", "pit"]
    clusters = {k: v.loc[v["level"] == "cluster", [c for c in columns if c in v]] for k, v in oof.items()}
    return combine_model_tables(**clusters)


def _combine(tables: Mapping[str, pd.DataFrame], warn: bool = True) -> pd.DataFrame:
    parts, seen = [], set()
    for pipeline_name, table in tables.items():
        if table is None or table.empty:
            if warn:
                logger.warning("reporting: no rows from the %s pipeline", pipeline_name)
            continue
        table = table[~table["model"].isin(seen)]
        seen |= set(table["model"])
        parts.append(table.assign(pipeline=pipeline_name))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["pipeline", *[c for c in out.columns if c != "pipeline"]]]


# ------------------------------------------------------------------------------------ data overview
def data_overview(clusters: pd.DataFrame, sectors: pd.DataFrame, segments: pd.DataFrame, ingestion_report: Mapping[str, Any],
                  ingestion_problems: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per galaxy, and the ingestion problems by reason.

    Args:
        clusters, sectors, segments: ingestion and augmentation tables.
        ingestion_report: the ingestion summary (``*_by_reason`` counts, ``duplicate_names``).
        ingestion_problems: one row per problem (``level``, ``code`` or ``reason``).

    Returns:
        ``(per_galaxy, problems)``: per galaxy (and ``all``) the numbers of clusters, labelled
        clusters, sectors, segments per kind, sectors per cadence (s) and the log-age range; and
        the problems as ``what, code, count`` rows (no rows when ingestion met none).
    """
    sectors = sectors.merge(clusters[["name", "galaxy"]], on="name", how="left")
    rows = []
    for galaxy in (*GALAXIES, "all"):
        def part(t: pd.DataFrame) -> pd.DataFrame:
            return t if galaxy == "all" else t[t["galaxy"] == galaxy]
        c, s, g = part(clusters), part(sectors), part(segments)
        labelled = c["log_age"].notna()
        row = {"galaxy": galaxy, "clusters": len(c), "labelled clusters": int(labelled.sum()), "sectors": len(s), "segments": len(g)}
        for kind, count in g["kind"].value_counts().sort_index().items():
            row[f"segments: {kind}"] = int(count)
        for cadence, count in s["cadence_s"].round(-1).value_counts().sort_index().items():
            row[f"sectors at {cadence:g} s"] = int(count)
        row["log age min"] = float(c.loc[labelled, "log_age"].min()) if labelled.any() else np.nan
        row["log age median"] = float(c.loc[labelled, "log_age"].median()) if labelled.any() else np.nan
        row["log age max"] = float(c.loc[labelled, "log_age"].max()) if labelled.any() else np.nan
        rows.append(row)
    per_galaxy = pd.DataFrame(rows)
    counts = [k for k in per_galaxy.columns if k.startswith(("segments:", "sectors at"))]
    per_galaxy[counts] = per_galaxy[counts].fillna(0).astype(int)
    problems = []
    for key, value in ingestion_report.items():
        if key.endswith("_by_reason") and isinstance(value, Mapping):
            problems += [(key.removesuffix("_by_reason").replace("_", " "), code, int(count)) for code, count in value.items()]
    duplicates = ingestion_report.get("duplicate_names") or []
    if duplicates:
        problems.append(("cluster names in several files", "duplicate_names", len(duplicates)))
    if not problems and not ingestion_problems.empty:
        code = "code" if "code" in ingestion_problems else "reason"
        counts = ingestion_problems.groupby(["level", code]).size()
        problems = [(level, c, int(n)) for (level, c), n in counts.items()]
    logger.info("data overview: %d clusters, %d sectors, %d segments, %d kinds of ingestion problem",
                len(clusters), len(sectors), len(segments), len(problems))
    return per_galaxy, pd.DataFrame(problems, columns=["what", "code", "count"])


# ------------------------------------------------------------------------------------ display
@dataclasses.dataclass(frozen=True)
class Table:
    """A table as the page shows it: column headings and rows of text cells."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, heading: str) -> list[str]:
        """The cells of one column, top to bottom."""
        index = self.columns.index(heading)
        return [row[index] for row in self.rows]


def format_cell(value: Any, digits: int = 3) -> str:
    """The text of one cell: ``–`` for a missing value, integers with thousands separators, floats to ``digits`` decimals.

    A float that is a whole number of at least 10 prints as an integer (a count); a flag prints as
    ``yes``/``no``; text is kept as it is.
    """
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 10 else f"{value:.{digits}f}"
    return str(value)


def display_table(frame: pd.DataFrame, digits: Mapping[str, int] | None = None) -> Table:
    """``frame`` as text cells, each through :func:`format_cell` (the page's one formatter), with
    ``digits[column]`` decimals where given (3 elsewhere)."""
    places = [(digits or {}).get(str(c), 3) for c in frame.columns]
    return Table(tuple(str(c) for c in frame.columns),
                 tuple(tuple(format_cell(v, d) for v, d in zip(row, places)) for row in frame.itertuples(index=False)))


def signed(x: float | None) -> str:
    """A difference with its sign and 3 decimals (``+0.012``, ``−0.034`` with a true minus), ``n/a`` when unknown."""
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.3f}".replace("-", "−")


def mean_sd(row: pd.Series, metric: str) -> str:
    """``mean ± sd`` of a comparison row's metric (3 decimals); the mean alone when there is no sd, ``–`` when no mean."""
    m, s = row.get(metric, np.nan), row.get(f"{metric}_sd", np.nan)
    if not np.isfinite(m):
        return "–"
    return f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}"


def comparison_display(comparison: pd.DataFrame, galaxy: str, roles: Sequence[str] = ("baseline", "model")) -> pd.DataFrame:
    """The comparison rows of one galaxy as display strings (mean ± sd over fold seeds; CI vs galaxy_mean)."""
    rows = comparison[(comparison["galaxy"] == galaxy) & comparison["role"].isin(roles)]
    out = []
    for _, row in rows.iterrows():
        record = {"model": row["model"], "pipeline": row["pipeline"], "clusters": format_cell(row.get("n", np.nan)),
                  "RMSE": mean_sd(row, "rmse")}
        if np.isfinite(row.get("rmse_diff", np.nan)):
            record[f"ΔRMSE vs {REFERENCE_MODEL} [95 % CI]"] = (f"{signed(row['rmse_diff'])} [{signed(row['rmse_diff_lo95'])}, "
                                                        f"{signed(row['rmse_diff_hi95'])}]")
            record["beats the mean"] = "yes" if row["beats_reference"] else "no"
        else:
            record[f"ΔRMSE vs {REFERENCE_MODEL} [95 % CI]"] = ("reference" if row["model"] in (REFERENCE_MODEL, REFERENCE_MODEL + evaluation.SHUFFLED_SUFFIX)
                                                        else "–")
            record["beats the mean"] = "–"
        record |= {heading: mean_sd(row, metric) for metric, heading in TABLE_METRICS if metric != "rmse"}
        out.append(record)
    return pd.DataFrame(out)


def controls_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """All-galaxy rows of every shuffled-label control next to the model (or baseline) it copies."""
    controls = [m for m in dict.fromkeys(comparison["model"]) if evaluation.model_role(m) == "control"]
    keep = set(controls) | {c.removesuffix(evaluation.SHUFFLED_SUFFIX) for c in controls}
    table = pd.concat([comparison_display(comparison, "all", ("baseline", "model")), comparison_display(comparison, "all", ("control",))],
                      ignore_index=True)
    return table[table["model"].isin(keep)].reset_index(drop=True) if not table.empty else table


def young_old_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The young/old view per model: class precision and recall over all galaxies, balanced accuracy per galaxy."""
    rows = comparison[comparison["role"] != "control"].set_index(["model", "galaxy"])
    out = []
    for model in dict.fromkeys(rows.index.get_level_values("model")):
        record = {"model": model}
        if (model, "all") in rows.index:
            record |= {m.replace("_", " "): mean_sd(rows.loc[(model, "all")], m) for m in YOUNG_OLD_METRICS}
        for galaxy in GALAXY_COLUMNS:
            key = (model, galaxy)
            record[f"balanced accuracy {galaxy}"] = mean_sd(rows.loc[key], "balanced_accuracy") if key in rows.index else "–"
        out.append(record)
    return pd.DataFrame(out)


def external_display(validation: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Rows of ``external_validation.csv`` for ``models`` (in that order, then by catalogue) as display columns.

    Args:
        validation: :data:`tess_cluster_age.external.VALIDATION_COLUMNS` rows of one galaxy (dex).
        models: the models shown (e.g. the galaxy's recommended model and ``galaxy_mean``).

    Returns:
        ``catalogue, model, clusters``, our and the labels' RMSE against the catalogue, their
        difference with its 95 % CI, and the verdict (:func:`external_verdict_word`).
    """
    rows = []
    for model in dict.fromkeys(models):
        for row in validation[validation["model"] == model].itertuples():
            rows.append({"catalogue": row.catalogue, "model": model, "clusters": int(row.n),
                         "RMSE vs catalogue": row.rmse, "labels' RMSE vs catalogue": row.label_rmse,
                         "RMSE − labels' RMSE [95 % CI]": f"{signed(row.rmse_minus_label_rmse)} [{signed(row.lo95)}, {signed(row.hi95)}]",
                         "our ages agree": external_verdict_word(row.lo95, row.hi95)})
    return pd.DataFrame(rows)


def external_verdict_word(lo95: float, hi95: float) -> str:
    """How our ages agree with a catalogue's, relative to the labels, from the 95 % CI of RMSE − label RMSE (dex).

    ``better than the labels`` when the whole CI is below 0, ``worse than the labels`` when it is
    above 0, ``as well as the labels`` when it includes 0, ``unknown`` without a CI.
    """
    if not (np.isfinite(lo95) and np.isfinite(hi95)):
        return "unknown"
    return "better than the labels" if hi95 < 0 else "worse than the labels" if lo95 > 0 else "as well as the labels"


def periodogram_ablation_display(metrics: pd.DataFrame, reference: str = "gaussian_nn") -> pd.DataFrame:
    """The periodogram-branch ablation (issue 18): ``reference`` without a branch, then each variant with one.

    The variants are the models with ``ablation_rmse_diff`` rows (the ``gaussian_nn`` section's
    ``ablation_models``, run with ``--params=gaussian_nn.ablation=true``; ``reference`` is its
    ``ablation_reference``), named ``<reference>_<vector>_<branch>``.

    Args:
        metrics: combined long metrics (``model, level, galaxy, age_bin, seed, metric, value``).
        reference: the model the variants were compared with.

    Returns:
        One row per model (the reference, then the variants by name): ``model, periodogram branch``, the cluster RMSE of all galaxies and of
        each galaxy (mean over fold seeds, dex) and, for a variant, ``ΔRMSE <galaxy> [95 % CI]``:
        its cluster RMSE minus the reference's with the paired cluster-bootstrap CI. No rows when
        no variant was run.
    """
    cells = metrics[(metrics["level"] == "cluster") & (metrics["age_bin"] == "all")]
    differences = cells[cells["metric"].isin(["ablation_rmse_diff", "ablation_rmse_diff_lo95", "ablation_rmse_diff_hi95"])]
    variants = sorted(set(differences["model"]))     # classic before invariant, cnn before linear
    if not variants:
        return pd.DataFrame()
    rmse = cells[(cells["metric"] == "rmse") & cells["seed"].notna()].groupby(["model", "galaxy"])["value"].mean()
    ci = differences.pivot_table(index=["model", "galaxy"], columns="metric", values="value")
    rows = []
    for model in (reference, *variants):
        what = model.removeprefix(f"{reference}_").replace("_", " + ", 1) if model != reference else "none"
        record: dict[str, Any] = {"model": model, "periodogram branch": what}
        record |= {f"RMSE {g}": rmse.get((model, g), np.nan) for g in GALAXY_COLUMNS}
        for g in GALAXY_COLUMNS:
            if model == reference:
                record[f"ΔRMSE {g} [95 % CI]"] = "reference"
            elif (model, g) in ci.index:
                row = ci.loc[(model, g)]
                record[f"ΔRMSE {g} [95 % CI]"] = (f"{signed(row['ablation_rmse_diff'])} [{signed(row['ablation_rmse_diff_lo95'])}, "
                                                   f"{signed(row['ablation_rmse_diff_hi95'])}]")
            else:
                record[f"ΔRMSE {g} [95 % CI]"] = "–"
        rows.append(record)
    return pd.DataFrame(rows)
