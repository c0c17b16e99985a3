"""What the report shows, as data: :class:`ReportContext`, and the Jinja2 template that renders it.

:func:`build_context` gathers every number, verdict, table, figure, version and parameter the page
shows into one :class:`ReportContext`; :func:`render` fills ``templates/report.html.j2`` (with
``templates/report.css``) from it, with autoescaping on. Tests check the context, not the prose.

The versions and parameters are the ones recorded with the trained models (``versions``,
``provenance`` and ``model_info`` of each model pipeline's
:class:`~tess_cluster_age.models.bundle.TrainedModels`, made by
:func:`tess_cluster_age.pipelines.modelling.train_final_models`); a package whose version at render
time differs from the recorded one is a warning on the page.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import yaml

from tess_cluster_age import evaluation
from tess_cluster_age.config import EvaluationConfig, ExternalValidationConfig, ReportingConfig
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.provenance import NOT_INSTALLED
from tess_cluster_age.schema import GALAXIES, REFERENCE_MODEL

from .figures import external_figure_name
from .tables import (GALAXY_COLUMNS, Table, comparison_display, controls_display, display_table, external_display,
                     external_verdict_word, signed, young_old_display)
from .tables import periodogram_ablation_display

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
"""Folder of ``report.html.j2`` and ``report.css`` (shipped as package data)."""
TEMPLATE = "report.html.j2"


# ------------------------------------------------------------------------------------ verdicts
@dataclasses.dataclass(frozen=True)
class ModelDifference:
    """A model's cluster RMSE minus the reference model's (dex) in one galaxy, with its 95 % paired-bootstrap CI."""

    model: str
    rmse_diff: float
    lo95: float
    hi95: float


@dataclasses.dataclass(frozen=True)
class GalaxyVerdict:
    """Whether any model beats the reference (each galaxy's mean age) in one galaxy (``all`` included).

    A model beats the reference only when the upper end of its 95 % CI is below 0.

    Attributes:
        galaxy: ``all``, ``MW``, ``LMC`` or ``SMC``.
        winners: the models that beat the reference, smallest difference first.
        best: the model with the smallest difference (a winner or not); None when no model has
            a bootstrap comparison in this galaxy.
    """

    galaxy: str
    winners: tuple[ModelDifference, ...]
    best: ModelDifference | None

    @property
    def beaten(self) -> bool:
        """Some model beats the reference here."""
        return bool(self.winners)


def _difference(row: Any) -> ModelDifference:
    return ModelDifference(str(row.model), float(row.rmse_diff), float(row.rmse_diff_lo95), float(row.rmse_diff_hi95))


def galaxy_verdicts(comparison: pd.DataFrame) -> dict[str, GalaxyVerdict]:
    """One verdict per galaxy (``all``, MW, LMC, SMC) from the ``role == "model"`` rows of :func:`evaluation.model_comparison`."""
    out = {}
    for galaxy in GALAXY_COLUMNS:
        rows = comparison[(comparison["galaxy"] == galaxy) & (comparison["role"] == "model") & comparison["rmse_diff"].notna()]
        if rows.empty:
            out[galaxy] = GalaxyVerdict(galaxy, (), None)
            continue
        winners = rows[rows["beats_reference"]].sort_values("rmse_diff")
        best = next(rows.sort_values("rmse_diff").itertuples())
        out[galaxy] = GalaxyVerdict(galaxy, tuple(_difference(r) for r in winners.itertuples()), _difference(best))
    return out


# ------------------------------------------------------------------------------------ independent ages (SPEC 8)
@dataclasses.dataclass(frozen=True)
class ExternalComparison:
    """One model and the labels against one independent catalogue in one galaxy (a row of ``external_validation.csv``).

    Attributes:
        catalogue: the catalogue.
        n: clusters compared.
        rmse, label_rmse: RMSE (dex) of our out-of-fold ages and of the labels against the catalogue's ages.
        difference, lo95, hi95: ``rmse - label_rmse`` (dex) and its 95 % paired cluster-bootstrap CI.
    """

    catalogue: str
    n: int
    rmse: float
    label_rmse: float
    difference: float
    lo95: float
    hi95: float

    @property
    def verdict(self) -> str:
        """:func:`tables.external_verdict_word` of the CI: better than / as well as / worse than the labels, or unknown."""
        return external_verdict_word(self.lo95, self.hi95)


@dataclasses.dataclass(frozen=True)
class ExternalVerdict:
    """Whether one model's ages agree with independent ages as well as the labels do, in one galaxy.

    Attributes:
        galaxy: MW, LMC or SMC.
        model: the model.
        comparisons: one per catalogue matched in the galaxy.
        sentence: the verdict in words, with its numbers (shown on the page).
    """

    galaxy: str
    model: str
    comparisons: tuple[ExternalComparison, ...]
    sentence: str

    @property
    def verdict(self) -> str:
        """The catalogues' common verdict (:attr:`ExternalComparison.verdict`), ``mixed`` when they differ, ``none`` without any."""
        words = {c.verdict for c in self.comparisons}
        return "none" if not words else words.pop() if len(words) == 1 else "mixed"


EXTERNAL_VERDICT_PHRASES = {"better than the labels": "better than the labels do", "as well as the labels": "as well as the labels do",
                            "worse than the labels": "worse than the labels do", "unknown": "to an unknown degree (no CI)"}
"""Verdict of one catalogue -> its phrase in a sentence, in the order the sentence lists them."""


def _join(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def external_verdict(validation: pd.DataFrame, galaxy: str, model: str, who: str) -> ExternalVerdict:
    """The verdict of ``model`` in ``galaxy`` from its rows of ``external_validation.csv``.

    Per catalogue, from the 95 % CI of ``rmse - label_rmse``: below 0, our ages agree with the
    catalogue better than the labels do; above 0, worse; including 0, as well as the labels
    (within the CI). The sentence groups the catalogues by verdict (groups separated by ``;``) and
    gives each one's numbers.

    Args:
        validation: :data:`tess_cluster_age.external.VALIDATION_COLUMNS` rows (any models and galaxies; dex).
        galaxy: MW, LMC or SMC.
        model: the model judged.
        who: how the sentence names the ages judged (``"the ages of nn_mse (recommended here)"``).
    """
    rows = validation[(validation["model"] == model) & (validation["galaxy"] == galaxy)]
    comparisons = tuple(ExternalComparison(str(r.catalogue), int(r.n), float(r.rmse), float(r.label_rmse), float(r.rmse_minus_label_rmse),
                                           float(r.lo95), float(r.hi95)) for r in rows.itertuples())
    if not comparisons:
        return ExternalVerdict(galaxy, model, (), f"In the {galaxy}, no cluster with an out-of-fold age from {model} matched an "
                                                  "independent catalogue: nothing to compare.")
    parts = []
    for word, phrase in EXTERNAL_VERDICT_PHRASES.items():
        group = [c for c in comparisons if c.verdict == word]
        if group:
            clauses = [f"{c.catalogue} ({c.n} clusters: RMSE {c.rmse:.2f} dex against the labels' {c.label_rmse:.2f}, difference "
                       f"{signed(c.difference)} [{signed(c.lo95)}, {signed(c.hi95)}])" for c in group]
            parts.append(f"{phrase} against {_join(clauses)}")
    return ExternalVerdict(galaxy, model, comparisons, f"In the {galaxy}, {who} agree with independent ages {'; '.join(parts)}.")


def label_scatter_sentence(scatter: pd.DataFrame, galaxy: str, min_shared: int) -> str:
    """The labels' own random error in ``galaxy`` in words, from its three-cornered-hat rows (``label_scatter.csv``, dex)."""
    rows = scatter[scatter["galaxy"] == galaxy]
    if rows.empty:
        return (f"{galaxy}: no two independent catalogues share {min_shared} or more labelled clusters with each other: "
                "no estimate.")
    sigma = rows["sigma_a"].dropna()
    pairs = f"{len(rows)} pair{'s' if len(rows) > 1 else ''} of independent catalogues"
    shared = f"{rows['n'].min()}" if rows["n"].min() == rows["n"].max() else f"{rows['n'].min()}–{rows['n'].max()}"
    if sigma.empty:
        return f"{galaxy}: no estimate: every one of the {pairs} (sharing {shared} clusters) gave a negative variance for the labels."
    value = f"{sigma.min():.2f}" if round(sigma.min(), 2) == round(sigma.max(), 2) else f"{sigma.min():.2f}–{sigma.max():.2f}"
    sentence = f"{galaxy}: the labels' own random error is {value} dex (three-cornered hat with {pairs}, sharing {shared} labelled clusters"
    failed = len(rows) - len(sigma)
    if failed:
        sentence += f"; {failed} pair{'s' if failed > 1 else ''} gave a negative variance for the labels, left out"
    return sentence + ")."


def three_cornered_hat_method(config: ExternalValidationConfig) -> str:
    """How the labels' own random error is measured, in words (with the settings used)."""
    excluded = "; ".join(f"{a} with {b}" for a, b in config.hat_exclude_pairs)
    return ("Three-cornered hat (Gray & Allan 1974): if the labels a and two independent catalogues b and c measure the same "
            "clusters' true ages with mutually uncorrelated errors, then var(a − b) = σa² + σb², and so on for each pair, which "
            "solves to σa² = [var(a − b) + var(a − c) − var(b − c)] / 2. The variances are sample variances of the differences "
            "on the clusters all three share, so constant offsets between catalogues drop out and σ is the random scatter only. "
            "Errors that b and c share make var(b − c) too small and move onto the labels' σ, so pairs known to share errors "
            f"are never used together ({excluded or 'none'}); a pair needs at least {config.hat_min_shared} shared clusters. "
            "A negative variance estimate (few clusters or correlated errors) gives no σ.")


@dataclasses.dataclass(frozen=True)
class ExternalSection:
    """The page's section "Against independent ages" (SPEC 8): our ages and the labels against published ages nobody trained on.

    Attributes:
        n_catalogues: independent catalogues read.
        n_matched: galaxy -> our clusters with an age in at least one catalogue.
        skipped: why nothing was compared (None when something was).
        recommended: galaxy -> (its recommended model, why) (:func:`tess_cluster_age.dating.recommended_models`).
        verdicts: galaxy -> the recommended model's verdict, then ``galaxy_mean``'s (:func:`external_verdict`).
        tables: galaxy -> the validation rows of those models, as shown.
        validation: ``external_validation.csv`` (every model; the numbers).
        scatter: ``label_scatter.csv`` (the numbers); scatter_table: as shown.
        scatter_sentences: galaxy -> the labels' own random error in words (:func:`label_scatter_sentence`).
        method: the three-cornered hat in words (:func:`three_cornered_hat_method`).
        figures: galaxy -> file name of its predicted-against-external figure.
    """

    n_catalogues: int
    n_matched: dict[str, int]
    skipped: str | None
    recommended: dict[str, tuple[str, str]]
    verdicts: dict[str, tuple[ExternalVerdict, ...]]
    tables: dict[str, Table]
    validation: pd.DataFrame
    scatter: pd.DataFrame
    scatter_table: Table
    scatter_sentences: dict[str, str]
    method: str
    figures: dict[str, str]


def external_section(*, catalogues: pd.DataFrame, matches: pd.DataFrame, validation: pd.DataFrame, scatter: pd.DataFrame,
                     recommended: Mapping[str, Mapping[str, str]], config: ExternalValidationConfig) -> ExternalSection:
    """The section "Against independent ages" from the external-validation tables.

    Args:
        catalogues: the independent catalogue rows read (empty when ``external_dir`` is absent).
        matches: :func:`tess_cluster_age.external.match_external` rows.
        validation: ``external_validation.csv`` rows (every model).
        scatter: ``label_scatter.csv`` rows.
        recommended: galaxy -> ``{"model", "why"}`` (galaxies without a trained model absent).
        config: the validated ``external_validation`` section.
    """
    n_catalogues = int(catalogues["catalogue"].nunique()) if not catalogues.empty else 0
    skipped = None
    if not n_catalogues:
        skipped = ("No independent catalogue was read: the folder external_dir (conf/base/globals.yml, or "
                   "--params=external_dir=...) is absent or holds no CSV file, so this comparison was skipped.")
    elif matches.empty:
        skipped = (f"None of our clusters matched a row of the {n_catalogues} independent catalogues (by name, or by position "
                   f"within {', '.join(f'{g} {r:g}' for g, r in config.radius_deg.items())} deg), so nothing was compared.")
    elif validation.empty:
        skipped = "No out-of-fold prediction covers a cluster matched in an independent catalogue, so nothing was compared."
    picked = {g: (str(r["model"]), str(r["why"])) for g, r in recommended.items()}
    verdicts, tables = {}, {}
    if skipped is None:
        for galaxy in GALAXIES:
            models = [picked[galaxy][0]] if galaxy in picked else []
            who = [f"the out-of-fold ages of {models[0]} (the recommended model here)"] if models else []
            models.append(REFERENCE_MODEL)
            who.append(f"the ages of {REFERENCE_MODEL} (every cluster at its galaxy's training mean)")
            verdicts[galaxy] = tuple(external_verdict(validation, galaxy, m, w) for m, w in zip(models, who))
            tables[galaxy] = display_table(external_display(validation[validation["galaxy"] == galaxy], models))
    labelled_matches = matches if not matches.empty else pd.DataFrame(columns=["name", "galaxy"])
    return ExternalSection(
        n_catalogues=n_catalogues,
        n_matched={g: int(labelled_matches.loc[labelled_matches["galaxy"] == g, "name"].nunique()) for g in GALAXIES},
        skipped=skipped,
        recommended=picked,
        verdicts=verdicts,
        tables=tables,
        validation=validation,
        scatter=scatter,
        scatter_table=display_table(scatter.rename(columns={"catalogue_a": "a", "catalogue_b": "b", "catalogue_c": "c",
                                                            "n": "shared clusters", "sigma_a": "σ labels (dex)",
                                                            "sigma_b": "σ b (dex)", "sigma_c": "σ c (dex)"})),
        scatter_sentences={g: label_scatter_sentence(scatter, g, config.hat_min_shared) for g in GALAXIES} if n_catalogues else {},
        method=three_cornered_hat_method(config),
        figures={g: external_figure_name(g) for g in GALAXIES},
    )


# ------------------------------------------------------------------------------------ coverage by predicted and by true age
COVERAGE_TARGETS: dict[str, tuple[float, float]] = {"cov68": (0.68, 0.08), "cov95": (0.95, 0.04)}
"""Issue 18's target for the recommended model: each coverage within ``nominal ± tolerance`` in every
galaxy x predicted-age bin holding at least ``evaluation.calibration_min_clusters`` clusters."""

TRUE_AGE_EXTREMES = ("Coverage by true age at the extremes cannot be fixed without information. A calibration can use only "
                     "what is known when an age is predicted: the galaxy and the prediction itself. A cluster whose light "
                     "curves look like those of a middle-aged cluster is predicted in the middle whatever its true age, so the "
                     "youngest and the oldest clusters share their predicted-age bin with middle-aged ones. Intervals wide "
                     "enough to hold them would be as wide for every cluster predicted there, and too wide for most; an "
                     "interval that depended on the true age would need the answer. Only a feature that tells those clusters "
                     "apart from the middle-aged ones (new information) can close the gap by true age; until then an interval "
                     "holds for the clusters predicted at an age, which is how a user reads it.")
"""Why the intervals are calibrated by predicted age and cannot hold at the extremes of true age (shown on the page)."""


def _in_target(row: Any) -> bool:
    return all(abs(float(getattr(row, metric)) - nominal) <= tolerance for metric, (nominal, tolerance) in COVERAGE_TARGETS.items())


def _clusters(n: float) -> str:
    """A number of clusters per fold seed (a mean over seeds, so maybe fractional) with its noun."""
    text = f"{n:.1f}".removesuffix(".0")
    return f"{text} cluster{'' if text == '1' else 's'}"


def _cell(label: str, row: Any) -> str:
    return f"{label} ({_clusters(row.n)}: {row.cov68:.2f} at 68 %, {row.cov95:.2f} at 95 %)"


def predicted_age_sentence(rows: pd.DataFrame, galaxy: str, model: str, min_clusters: int) -> str:
    """Whether ``model``'s intervals hold in each predicted-age bin of ``galaxy``, in words with the numbers.

    Args:
        rows: ``coverage_by_predicted_age.csv`` rows of that model and galaxy (bins in age order).
        min_clusters: bins with fewer clusters per fold seed are listed, not judged.
    """
    judged = [r for r in rows.itertuples() if r.n >= min_clusters]
    sparse = [r for r in rows.itertuples() if r.n < min_clusters]
    if not judged:
        sentence = f"In the {galaxy}, no predicted-age bin of {model} holds {min_clusters} or more clusters: none is judged."
    else:
        missed = [r for r in judged if not _in_target(r)]
        target = " and ".join(f"{nominal:.2f} ± {tolerance:.2f}" for nominal, tolerance in COVERAGE_TARGETS.values())
        sentence = (f"In the {galaxy}, by predicted age, {model}'s intervals hold (within {target}) in {len(judged) - len(missed)} of "
                    f"the {len(judged)} bins with at least {min_clusters} clusters")
        sentence += (f"; not in {_join([_cell(r.predicted_bin, r) for r in missed])}." if missed else
                     f": {_join([_cell(r.predicted_bin, r) for r in judged])}.")
    if sparse:
        sentence += f" Too few clusters to judge: {_join([_cell(r.predicted_bin, r) for r in sparse])}."
    return sentence


def true_age_sentence(rows: pd.DataFrame, galaxy: str, model: str) -> str:
    """The coverage of ``model`` in the youngest and oldest true-age bins of ``galaxy``, in words.

    Args:
        rows: :func:`evaluation.coverage_by_age_bin` rows (by ``log_age``) of that model and galaxy, bins in age order.
    """
    if rows.empty:
        return f"In the {galaxy}, {model} has no cluster with a label: no coverage by true age."
    ends = [rows.iloc[0]] if len(rows) == 1 else [rows.iloc[0], rows.iloc[-1]]
    cells = [_cell(f"{'youngest' if i == 0 else 'oldest'} bin {r.age_bin}", r) for i, r in enumerate(ends)]
    return f"In the {galaxy}, by true age, {model} covers the {_join(cells)}."


@dataclasses.dataclass(frozen=True)
class CoverageGalaxy:
    """Coverage by predicted and by true age of the model shown for one galaxy.

    Attributes:
        galaxy: MW, LMC or SMC.
        model: the model shown (the galaxy's recommended model, else the first featured model present).
        why: why this model (the recommendation's reason, or that there is none).
        table: per bin, clusters (per fold seed), cov68 and cov95 by predicted age, then by true age.
        predicted_sentence, true_sentence: :func:`predicted_age_sentence`, :func:`true_age_sentence`.
    """

    galaxy: str
    model: str
    why: str
    table: Table
    predicted_sentence: str
    true_sentence: str


@dataclasses.dataclass(frozen=True)
class CoverageSection:
    """The calibration section's coverage by predicted and by true age (issue 18, item 4).

    Attributes:
        calibration: ``evaluation.calibration`` the models were trained with (``galaxy_age`` or ``galaxy``).
        bin_edges: the predicted-age (and here true-age) bin edges, log10 yr.
        min_clusters: bins with fewer clusters per fold seed are not judged.
        by_predicted: ``coverage_by_predicted_age.csv`` (every model; the numbers).
        by_true: the same by true (label) age (:func:`evaluation.coverage_by_age_bin`).
        galaxies: galaxy -> :class:`CoverageGalaxy` (galaxies without a model to show absent).
        true_age_extremes: why coverage by true age cannot hold at the extremes (:data:`TRUE_AGE_EXTREMES`).
    """

    calibration: str
    bin_edges: tuple[float, ...]
    min_clusters: int
    by_predicted: pd.DataFrame
    by_true: pd.DataFrame
    galaxies: dict[str, CoverageGalaxy]
    true_age_extremes: str


def coverage_side_by_side(by_predicted: pd.DataFrame, by_true: pd.DataFrame, bin_edges: tuple[float, ...]) -> pd.DataFrame:
    """One model and galaxy's coverage per bin, by predicted age and by true age side by side (NaN where a bin is empty)."""
    predicted = by_predicted.set_index("predicted_bin")[["n", "cov68", "cov95"]]
    true = by_true.set_index("age_bin")[["n", "cov68", "cov95"]]
    labels = [b for b in evaluation.age_bin_labels(bin_edges) if b in predicted.index or b in true.index]
    out = pd.DataFrame({"log age bin": labels})
    for heading, part in (("predicted", predicted), ("true", true)):
        part = part.reindex(labels)
        out[f"clusters by {heading} age"] = part["n"].to_numpy()
        out[f"cov68 by {heading} age"] = part["cov68"].to_numpy()
        out[f"cov95 by {heading} age"] = part["cov95"].to_numpy()
    return out


def coverage_section(*, by_predicted: pd.DataFrame, by_true: pd.DataFrame, recommended: Mapping[str, Mapping[str, str]],
                     featured: tuple[str, ...], config: EvaluationConfig) -> CoverageSection:
    """The coverage by predicted and by true age, per galaxy, of its recommended model.

    Args:
        by_predicted: ``coverage_by_predicted_age.csv`` (:func:`evaluation.coverage_by_predicted_age`).
        by_true: :func:`evaluation.coverage_by_age_bin` by ``log_age``, same bins.
        recommended: galaxy -> ``{"model", "why"}`` (:func:`tess_cluster_age.dating.recommended_models`).
        featured: the ``reporting.featured_models``: the first one present stands in where no model is recommended.
        config: the validated ``evaluation`` section (``calibration``, ``calibration_bin_edges``,
            ``calibration_min_clusters``).
    """
    galaxies = {}
    present = set(by_predicted["model"])
    for galaxy in GALAXIES:
        choice = recommended.get(galaxy, {})
        model, why = choice.get("model"), choice.get("why", "")
        if model not in present:
            model = next((m for m in featured if m in present), None)
            why = f"no recommended model with out-of-fold predictions here: the first featured model, {model}"
        if model is None:
            continue
        predicted = by_predicted[(by_predicted["model"] == model) & (by_predicted["galaxy"] == galaxy)]
        true = by_true[(by_true["model"] == model) & (by_true["galaxy"] == galaxy)]
        if predicted.empty:
            continue
        galaxies[galaxy] = CoverageGalaxy(
            galaxy=galaxy, model=model, why=why,
            table=display_table(coverage_side_by_side(predicted, true, config.calibration_bin_edges),
                                digits={"clusters by predicted age": 1, "clusters by true age": 1}),
            predicted_sentence=predicted_age_sentence(predicted, galaxy, model, config.calibration_min_clusters),
            true_sentence=true_age_sentence(true, galaxy, model))
    return CoverageSection(calibration=config.calibration, bin_edges=tuple(config.calibration_bin_edges),
                           min_clusters=config.calibration_min_clusters, by_predicted=by_predicted, by_true=by_true,
                           galaxies=galaxies, true_age_extremes=TRUE_AGE_EXTREMES)


# ------------------------------------------------------------------------------------ provenance
@dataclasses.dataclass(frozen=True)
class TrainingRecord:
    """What one model pipeline recorded with its trained models (a :class:`TrainedModels` bundle), without the estimators.

    Attributes:
        pipeline: the model pipeline.
        versions: package -> version installed when the models were trained.
        provenance: the parameter sections that produced the models' input features.
        models: model -> its ``spec`` (the parameters entry) and ``tuned_parameters``.
        n_clusters, n_segments: the training set.
    """

    pipeline: str
    versions: dict[str, str]
    provenance: dict[str, Any]
    models: dict[str, dict[str, Any]]
    n_clusters: int
    n_segments: int

    @classmethod
    def from_bundle(cls, pipeline: str, bundle: TrainedModels) -> TrainingRecord:
        """The record of one pipeline's bundle (its estimators are not loaded)."""
        models = {name: {"spec": dict(info.spec), "tuned_parameters": dict(info.tuned_parameters)} for name, info in bundle.model_info.items()}
        return cls(pipeline, dict(bundle.versions), dict(bundle.provenance), models, bundle.n_clusters, bundle.n_segments)


@dataclasses.dataclass(frozen=True)
class VersionDifference:
    """A package whose version at render time is not the one the models were trained with."""

    package: str
    trained: str
    now: str
    pipelines: tuple[str, ...]


def _versions(training: Mapping[str, TrainingRecord], versions_now: Mapping[str, str]) -> tuple[Table, tuple[VersionDifference, ...]]:
    """The versions table (package, trained with, rendered with) and the differences at render time."""
    packages = sorted({p for record in training.values() for p in record.versions})
    rows, differences = [], []
    for package in packages:
        by_version: dict[str, list[str]] = {}
        for pipeline, record in training.items():
            if package in record.versions:
                by_version.setdefault(record.versions[package], []).append(pipeline)
        trained = (next(iter(by_version)) if len(by_version) == 1 else
                   "; ".join(f"{version} ({', '.join(names)})" for version, names in by_version.items()))
        now = versions_now.get(package, NOT_INSTALLED)
        rows.append((package, trained, now))
        differences += [VersionDifference(package, version, now, tuple(names)) for version, names in by_version.items() if version != now]
    return Table(("package", "trained with", "this report rendered with"), tuple(rows)), tuple(differences)


def _recorded_parameters(training: Mapping[str, TrainingRecord]) -> tuple[dict[str, Any], list[str]]:
    """The parameters recorded with the models, and a warning when the pipelines' feature parameters differ.

    Returns:
        ``{"features": ..., "models": {pipeline: {model: {spec, tuned_parameters}}}}``: the
        feature parameters once when every pipeline recorded the same, else per pipeline.
    """
    provenances = {pipeline: _plain(record.provenance) for pipeline, record in training.items()}
    models = {pipeline: record.models for pipeline, record in training.items()}
    values = list(provenances.values())
    if all(p == values[0] for p in values[1:]):
        return {"features": values[0] if values else {}, "models": models}, []
    sections = sorted({s for p in values for s in p if any(q.get(s) != values[0].get(s) for q in values)})
    warning = (f"The models of {', '.join(provenances)} were trained on features made with different parameters "
               f"(sections {', '.join(sections)}): their numbers are not comparable.")
    return {"features": provenances, "models": models}, [warning]


# ------------------------------------------------------------------------------------ the context
@dataclasses.dataclass(frozen=True)
class ReportContext:
    """Everything the page shows. Ages in dex (log10 yr); errors in dex; coverages as fractions.

    Attributes:
        title: the page title.
        reference: the model every other is compared with (``galaxy_mean``).
        shuffled_suffix: model-name suffix of the shuffled-label controls.
        n_clusters: clusters read (all galaxies).
        verdicts: galaxy (``all``, MW, LMC, SMC) -> :class:`GalaxyVerdict`.
        galaxies_without_skill: galaxies of the comparison where no model beats the reference.
        comparison: :func:`evaluation.model_comparison` (the numbers of the comparison tables).
        comparison_tables: galaxy -> the comparison of its baselines and models, as shown.
        periodogram_ablation: gaussian_nn with and without a periodogram branch, with the CI of each
            variant's ΔRMSE against it (:func:`tables.periodogram_ablation_display`; no rows unless
            the variants were run).
        data_per_galaxy, ingestion_problems: counts per galaxy; ingestion problems by reason
            (no rows when there were none).
        controls_leak_free: no shuffled-label control beats the shuffled baselines.
        controls_table: every control beside the model it copies (all galaxies).
        young_old_log_age: the young/old threshold (dex); young_old_table: that view per model.
        predictions: the first rows of the last ``predict`` run (no rows when there was none);
            n_predictions, n_predicted_clusters: its size (clusters None when it has no ``name``).
        figures: file name -> PNG bytes, as the catalog saved them.
        training: model pipeline -> :class:`TrainingRecord` (pipelines without trained models absent).
        versions: package, version(s) the models were trained with, version at render time.
        version_differences: the packages whose version differs at render time.
        external: the section on independent ages (:class:`ExternalSection`).
        coverage: coverage by predicted and by true age (:class:`CoverageSection`).
        parameters: ``recorded with the models`` (``features``, ``models``) and ``this report``
            (the ``reporting``, ``evaluation`` and ``external_validation`` sections it was rendered with).
        warnings: what the reader must know before trusting the page (version differences
            included), as sentences.
    """

    title: str
    reference: str
    shuffled_suffix: str
    n_clusters: int
    verdicts: dict[str, GalaxyVerdict]
    galaxies_without_skill: tuple[str, ...]
    comparison: pd.DataFrame
    comparison_tables: dict[str, Table]
    periodogram_ablation: Table
    data_per_galaxy: Table
    ingestion_problems: Table
    controls_leak_free: bool
    controls_table: Table
    young_old_log_age: float
    young_old_table: Table
    predictions: Table
    n_predictions: int
    n_predicted_clusters: int | None
    figures: dict[str, bytes]
    training: dict[str, TrainingRecord]
    versions: Table
    version_differences: tuple[VersionDifference, ...]
    external: ExternalSection
    coverage: CoverageSection
    parameters: dict[str, Any]
    warnings: tuple[str, ...]


def build_context(*, per_galaxy: pd.DataFrame, problems: pd.DataFrame, comparison: pd.DataFrame, metrics: pd.DataFrame,
                  last_predictions: pd.DataFrame, figures: Mapping[str, bytes], training: Mapping[str, TrainingRecord | None],
                  versions_now: Mapping[str, str], reporting: ReportingConfig, evaluation_config: EvaluationConfig,
                  external: ExternalSection, external_config: ExternalValidationConfig, coverage: CoverageSection) -> ReportContext:
    """The report's context from the reporting pipeline's tables and the models' records.

    Args:
        per_galaxy, problems: from :func:`tables.data_overview`.
        comparison: from :func:`evaluation.model_comparison`.
        metrics: combined metrics (for the shuffled-label check, :func:`evaluation.controls_without_skill`).
        last_predictions: ``predictions.csv`` of the last ``predict`` run (empty when there is none).
        figures: file name -> PNG bytes (the figure folders as the catalog loads them).
        training: model pipeline -> its record, None when it has no trained models.
        versions_now: package -> version installed while rendering (compared with the records).
        reporting, evaluation_config: the validated ``reporting`` and ``evaluation`` sections.
        external: the section on independent ages (:func:`external_section`).
        external_config: the validated ``external_validation`` section it was made with.
        coverage: coverage by predicted and by true age (:func:`coverage_section`).
    """
    not_png = sorted(name for name, image in figures.items() if not isinstance(image, (bytes, bytearray)))
    if not_png:
        raise TypeError(f"figures {not_png} are not PNG bytes: load them through a FigureFolderDataset catalog entry")
    verdicts = galaxy_verdicts(comparison)
    in_comparison = set(comparison["galaxy"])
    warnings = [f"No trained models of the {pipeline} pipeline were found: what they were trained with is unknown "
                f"(kedro run --pipelines={pipeline})." for pipeline, record in training.items() if record is None]
    records = {pipeline: record for pipeline, record in training.items() if record is not None}
    versions, differences = _versions(records, versions_now)
    warnings += [f"{d.package} {d.now} renders this report, but the models of {', '.join(d.pipelines)} were trained with "
                 f"{d.package} {d.trained}." for d in differences]
    recorded, provenance_warnings = _recorded_parameters(records)
    warnings += provenance_warnings
    parameters = {"recorded with the models": recorded,
                  "this report": {"reporting": dataclasses.asdict(reporting), "evaluation": dataclasses.asdict(evaluation_config),
                                  "external_validation": dataclasses.asdict(external_config)}}
    leak_free = evaluation.controls_without_skill(metrics)
    if not leak_free:
        warnings.append("A shuffled-label control beats the shuffled baselines: held-out labels reach training; "
                        "distrust every number here.")
    shown = last_predictions.head(reporting.max_prediction_rows)
    context = ReportContext(
        title=reporting.title,
        reference=REFERENCE_MODEL,
        shuffled_suffix=evaluation.SHUFFLED_SUFFIX,
        n_clusters=int(per_galaxy.loc[per_galaxy["galaxy"] == "all", "clusters"].iloc[0]) if not per_galaxy.empty else 0,
        verdicts=verdicts,
        galaxies_without_skill=tuple(g for g in GALAXIES if g in in_comparison and not verdicts[g].beaten),
        comparison=comparison,
        comparison_tables={g: display_table(comparison_display(comparison, g)) for g in GALAXY_COLUMNS if g in in_comparison},
        periodogram_ablation=display_table(periodogram_ablation_display(metrics)),
        data_per_galaxy=display_table(per_galaxy),
        ingestion_problems=display_table(problems),
        controls_leak_free=leak_free,
        controls_table=display_table(controls_display(comparison)),
        young_old_log_age=evaluation_config.young_old_log_age,
        young_old_table=display_table(young_old_display(comparison)),
        predictions=display_table(shown),
        n_predictions=len(last_predictions),
        n_predicted_clusters=int(last_predictions["name"].nunique()) if "name" in last_predictions else None,
        figures=dict(figures),
        training=records,
        versions=versions,
        version_differences=differences,
        external=external,
        coverage=coverage,
        parameters=parameters,
        warnings=tuple(warnings),
    )
    for warning in context.warnings:
        logger.warning("report: %s", warning)
    return context


# ------------------------------------------------------------------------------------ the page
def _plain(value: Any) -> Any:
    """Parameters as plain YAML-safe values (tuples -> lists, numpy scalars -> Python, others -> text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(_plain(value), sort_keys=True, width=120)


def _png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters |= {"signed": signed, "to_yaml": _to_yaml, "png_data_uri": _png_data_uri}
    return environment


def render(context: ReportContext) -> str:
    """The report: one self-contained HTML page (figures embedded as base64 PNG, no external resource)."""
    page = _environment().get_template(TEMPLATE).render(c=context)
    logger.info("report: %d figures, %d warnings, %.1f MB", len(context.figures), len(context.warnings), len(page) / 1e6)
    return page
