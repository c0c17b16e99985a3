"""Dating clusters nobody has aged (SPEC section 6): the one code path of the ``predict`` pipeline
and of the ``tess-cluster-age predict`` command.

A folder (or list) of ELK files goes through the training code itself: reading and validation
(:func:`~tess_cluster_age.reading.read_elk_partitions`, without the catalogue cross-check),
segments (:func:`~tess_cluster_age.segments.segment_table`), features
(:mod:`tess_cluster_age.features.extract`) and model input
(:func:`~tess_cluster_age.features.model_input.model_input_table`), each with the parameters
stored in the trained model's metadata (``provenance``), never with today's ``conf/``. Every model then predicts a Gaussian per segment, and a cluster's age distribution is
the equal-weight mixture of its segments' Gaussians (:func:`tess_cluster_age.evaluation.mixture_moments`,
:func:`~tess_cluster_age.evaluation.mixture_quantiles`), as in cross-validation.

A header ``LOG_AGE`` is reported beside the prediction (``log_age_header``) and never reaches a
model: the cluster table is stripped of it before segments and features are built.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age.config import FeatureExecutionConfig, IngestionConfig, ModelInputConfig, OutOfRangeConfig, PredictConfig
from tess_cluster_age.age_distribution import AgeDistribution
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.reading import PROBLEM_COLUMNS, LightCurves, problem_row
from tess_cluster_age.features.classic import ClassicConfig
from tess_cluster_age.features.extract import classic_feature_table, invariant_feature_table
from tess_cluster_age.features.invariant import InvariantConfig
from tess_cluster_age.features.model_input import join_periodogram, model_input_table
from tess_cluster_age.schema import GALAXIES
from tess_cluster_age.segments import SegmentConfig, segment_table

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS: list[str] = [
    "name", "galaxy", "model", "log_age_pred", "sigma", "lo68", "hi68", "lo95", "hi95", "age_myr", "n_segments",
    "log_age_header", "file", "out_of_range", "out_of_range_features", "cv_rmse", "cv_rmse_minus_galaxy_mean",
    "cv_rmse_minus_galaxy_mean_lo95", "cv_rmse_minus_galaxy_mean_hi95", "skill_vs_galaxy_mean", "recommended",
]
"""Columns of ``predictions.csv``, one row per cluster and model:

- ``log_age_pred``, ``sigma``: mean and standard deviation of the cluster's age distribution
  (log10 yr, dex); ``lo68/hi68`` and ``lo95/hi95``: the 16/84 and 2.5/97.5 percentiles (log10 yr)
  of the same mixture with each interval's own calibrated sigmas (``evaluation.INTERVALS``: the
  errors have heavier tails than a Gaussian, so the 68 % interval is narrower and the 95 % one wider
  than ``sigma`` alone would give);
  ``age_myr``: ``10**(log_age_pred - 6)`` (Myr).
- ``n_segments``: segments in the mixture; ``log_age_header``: the file's ``LOG_AGE`` (never used);
  ``file``: the file read.
- ``out_of_range``: True when, for some feature, at least ``out_of_range.segment_fraction`` of the
  cluster's segments lie outside the training range; ``out_of_range_features`` names them (``;``).
- ``cv_rmse``: the model's cross-validated cluster RMSE in that galaxy (dex);
  ``cv_rmse_minus_galaxy_mean`` and its paired-bootstrap 95 % CI (``_lo95``, ``_hi95``): RMSE minus
  the galaxy-mean baseline's (dex; negative = better); ``skill_vs_galaxy_mean``: ``better`` (CI
  below 0), ``none`` (CI includes 0), ``worse`` (CI above 0) or ``unknown`` (no metrics stored).
- ``recommended``: True on the row of the galaxy's recommended model (:func:`recommended_models`).
"""

PREDICT_PROBLEM_CODES = {
    "no_galaxy": "file not in an MW/LMC/SMC folder and no galaxy given",
    "no_segments": "no segment could be built from the cluster's light curve",
    "model_error": "a model could not date the cluster (e.g. a per-galaxy model without that galaxy)",
    "not_dated": "no model dated the cluster",
}
"""Problem codes that predict adds to those of reading (see :mod:`tess_cluster_age.reading`)."""


class MissingModelError(RuntimeError):
    """A trained model that predict needs does not exist; the message names the command that trains it."""


def train_command(pipeline: str) -> str:
    """The command that trains (and saves) the models of ``pipeline``."""
    return f"kedro run --pipeline={pipeline}"


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """One saved model of a pipeline's bundle: its name, and what dating needs from the bundle.

    The predictor is read from the model file only when it is first used, so that choosing the
    recommended model from the stored cross-validated skill costs no model loading.

    Attributes:
        name: model name (a key of ``<pipeline>.models`` with ``save: true``).
        pipeline: the model pipeline that trained it.
        bundle: its pipeline's :class:`~tess_cluster_age.models.bundle.TrainedModels`.
    """

    name: str
    pipeline: str
    bundle: TrainedModels

    @property
    def estimator(self) -> Any:
        """The fitted estimator (``predict(X, return_std=True) -> (mu, sigma)``, dex)."""
        return self.bundle.models[self.name]

    @property
    def predictor(self) -> Any:
        """The fitted predictor (``predict(X) -> (mu, sigma)``, dex) that dates: the estimator's, read
        alone from a model file (see :meth:`TrainedModels.predictor
        <tess_cluster_age.models.bundle.TrainedModels.predictor>`)."""
        return self.bundle.predictor(self.name)

    @property
    def spec(self) -> Mapping[str, Any]:
        """Its ``models`` entry (``estimator``, ``options``, ``periodogram`` ...)."""
        return self.bundle.model_info[self.name].spec

    @property
    def cross_validation(self) -> Mapping[str, Mapping[str, float]]:
        """Cluster-level cross-validated metrics per galaxy (``rmse``, ``nll``, ``rmse_diff`` ...)."""
        return self.bundle.model_info[self.name].cross_validation

    @property
    def provenance(self) -> Mapping[str, Any]:
        """The parameters that built the training features (rebuilt with them for a new cluster)."""
        return self.bundle.provenance


# ------------------------------------------------------------------------------------ models
def select_models(trained_models: Mapping[str, Callable[[], TrainedModels] | None], models: str | Sequence[str] = "all",
                  configured: Mapping[str, Sequence[str]] | None = None) -> list[TrainedModel]:
    """The trained models to date with, from the model pipelines' bundles.

    Args:
        trained_models: pipeline -> loader of its bundle (:class:`~tess_cluster_age.models.bundle.TrainedModels`), or None
            when the pipeline has not been run (see
            :class:`~tess_cluster_age.datasets.trained_models.TrainedModelsDataset`).
        models: ``"all"`` (every saved model of every trained pipeline; a pipeline not trained yet
            is skipped with a warning that names the command that trains it), or model names
            (each must exist).
        configured: pipeline -> model names its parameters save (today's ``conf/``), used only to
            tell a model of a pipeline not trained yet from a name that no pipeline has.

    Raises:
        MissingModelError: no trained model at all, or a named model whose pipeline (one of the
            missing ones) has not been run; the message names the command(s) to run.
        ValueError: a named model that no trained pipeline has and no missing pipeline could have.
    """
    missing = [p for p, loader in trained_models.items() if loader is None]
    commands = " and ".join(f"`{train_command(p)}`" for p in missing)
    if len(missing) == len(trained_models):
        raise MissingModelError(f"no trained model found ({', '.join(missing)}): train them first with {commands} "
                                "(or `kedro run` for the whole project)")
    wanted = None if models in ("all", None) or models == ["all"] else ([models] if isinstance(models, str) else list(models))
    selected: list[TrainedModel] = []
    for pipeline, loader in trained_models.items():
        if loader is None:
            if wanted is None:
                logger.warning("%s: no trained model, skipped; train it with `%s`", pipeline, train_command(pipeline))
            continue
        if wanted is not None and {m.name for m in selected} >= set(wanted):
            break
        bundle = loader()
        for name in bundle.models:
            if wanted is None or name in wanted:
                selected.append(TrainedModel(name, pipeline, bundle))
    if wanted is not None:
        unknown = [m for m in wanted if m not in {s.name for s in selected}]
        if unknown and configured is not None:
            missing = [p for p in missing if set(configured.get(p, ())) & set(unknown)]
            commands = " and ".join(f"`{train_command(p)}`" for p in missing)
        if unknown and missing:
            raise MissingModelError(f"model {', '.join(map(repr, unknown))} not found in the trained models; "
                                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not trained yet: run {commands}")
        if unknown:
            raise ValueError(f"unknown model {', '.join(map(repr, unknown))}; trained models: "
                             f"{', '.join(sorted({s.name for s in selected} | set(available_models(trained_models))))}")
        selected.sort(key=lambda m: wanted.index(m.name))
    logger.info("Dating with %s", ", ".join(f"{m.name} ({m.pipeline})" for m in selected))
    return selected


def available_models(trained_models: Mapping[str, Callable[[], TrainedModels] | None]) -> list[str]:
    """Names of every saved model of the trained pipelines (reads the model files' manifests)."""
    return [name for loader in trained_models.values() if loader is not None for name in loader().models]


# ------------------------------------------------------------------------------------ inputs
def reading_config(models: Sequence[TrainedModel]) -> IngestionConfig:
    """How files are read for these models: the ingestion parameters stored with the first of them
    (galaxy folders and file names, as in training)."""
    if not models:
        raise MissingModelError("no model selected: the list of models to date with is empty")
    return IngestionConfig.from_params(models[0].provenance["ingestion"])


# ------------------------------------------------------------------------------------ features
def provenance_key(provenance: Mapping[str, Any]) -> str:
    """A stable key of a provenance mapping: models sharing it share their features."""
    return json.dumps(provenance, sort_keys=True, default=str)


def cluster_model_input(clusters: pd.DataFrame, samples: pd.DataFrame, provenance: Mapping[str, Any],
                        execution: FeatureExecutionConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Segments, features and model input of ingested clusters, exactly as in training.

    Args:
        clusters, samples: the cluster and sample tables of the files read (``log_age`` is dropped here: it never
            reaches a feature or a model).
        provenance: the trained model's ``provenance`` (``augmentation``, ``classic_features``,
            ``invariant_features``, ``model_input``, ``seed``).
        execution: how the segments are processed (at most one worker per cluster is used).

    Returns:
        (model-input table with ``log_age`` all NaN, ``{"classic": Periodograms, "invariant": ...}``).
    """
    unlabelled = clusters.assign(log_age=np.nan)
    seed = int(provenance["seed"])
    segments = segment_table(unlabelled, samples, SegmentConfig.from_params(provenance["augmentation"]), seed)
    execution = dataclasses.replace(execution, workers=max(1, min(execution.workers, len(unlabelled))))
    invariant_config = InvariantConfig.from_params(provenance["invariant_features"])
    classic, periodograms_classic = classic_feature_table(segments, samples, ClassicConfig.from_params(provenance["classic_features"]),
                                                          execution, seed)
    invariant, periodograms_invariant = invariant_feature_table(segments, samples, invariant_config, execution)
    model_input = model_input_table(segments, unlabelled, classic, invariant, ModelInputConfig.from_params(provenance["model_input"]),
                                    invariant_config)
    return model_input, {"classic": periodograms_classic, "invariant": periodograms_invariant}


def out_of_range(model_input: pd.DataFrame, feature_ranges: Mapping[str, Mapping[str, float]],
                 config: OutOfRangeConfig = OutOfRangeConfig()) -> pd.Series:
    """Features of each cluster that lie outside the training range.

    Args:
        model_input: segments (``name`` and the feature columns).
        feature_ranges: training ranges per feature (``p01``, ``p99``, ``min``, ``max``).
        config: ``bounds``: ``min_max`` (the values ever seen in training) or ``p01_p99``;
            ``segment_fraction``: a feature is out of range for a cluster when at least this
            fraction of its segments with a finite value lie outside the bounds.

    Returns:
        Per cluster name, the sorted list of out-of-range features (empty list when none).
    """
    low_key, high_key = {"min_max": ("min", "max"), "p01_p99": ("p01", "p99")}[config.bounds]
    features = [f for f in feature_ranges if f in model_input.columns]
    if not features:  # no range stored for any feature of the table: nothing can be flagged
        return pd.Series([[] for _ in model_input["name"].unique()], index=model_input["name"].unique(), dtype=object)
    values = model_input[features].to_numpy(float)
    low = np.array([feature_ranges[f][low_key] for f in features], float)
    high = np.array([feature_ranges[f][high_key] for f in features], float)
    outside = pd.DataFrame((values < low) | (values > high), columns=features).astype(float)
    outside[~np.isfinite(values)] = np.nan
    fraction = outside.groupby(model_input["name"].to_numpy(), sort=False).mean()
    return fraction.apply(lambda row: sorted(row.index[row.fillna(0.0) >= config.segment_fraction]), axis=1)


# ------------------------------------------------------------------------------------ recommendation
def recommended_models(models: Sequence[TrainedModel], recommend_by: str = PredictConfig.recommend_by,
                       galaxies: Sequence[str] = GALAXIES) -> dict[str, tuple[str, str]]:
    """The recommended model of each galaxy and why: the lowest cross-validated cluster ``recommend_by``.

    Each trained model stores its cross-validated cluster metrics per galaxy (mean over fold seeds).
    In each galaxy the model with the lowest ``recommend_by`` (``nll``, ``crps`` or ``rmse``) is
    recommended; ties go to the model listed first. A galaxy where no model has that metric stored
    gets the first model, with the reason saying so.

    A recommendation recorded with the models (:attr:`TrainedModels.recommended
    <tess_cluster_age.models.bundle.TrainedModels.recommended>`, by the same ``recommend_by``) is
    used for each galaxy whose recorded model is among ``models``; where it differs from the one
    the models' stored skill gives now (a pipeline retrained since), a warning says so.

    Returns:
        galaxy -> (model name, reason in words).
    """
    computed = computed_recommendation(models, recommend_by, galaxies)
    recorded = recorded_recommendation(models, recommend_by)
    out = {}
    for galaxy, (name, why) in computed.items():
        if galaxy in recorded and recorded[galaxy][0] != name:
            logger.warning("%s: the recommendation recorded with the models is %s, the models' stored skill now gives %s "
                           "(a pipeline was retrained since): using the recorded one; `kedro run --pipeline=combined` records it anew",
                           galaxy, recorded[galaxy][0], name)
        out[galaxy] = recorded.get(galaxy, (name, why))
    return out


def recorded_recommendation(models: Sequence[TrainedModel], recommend_by: str) -> dict[str, tuple[str, str]]:
    """galaxy -> (model, why) as recorded with the models by the rule ``recommend_by``, for recorded models among ``models``."""
    names = {m.name for m in models}
    for bundle in {id(m.bundle): m.bundle for m in models}.values():
        record = bundle.recommended
        if record and record.get("recommend_by") == recommend_by:
            return {galaxy: (entry["model"], entry["why"]) for galaxy, entry in record.get("galaxies", {}).items() if entry["model"] in names}
    return {}


def computed_recommendation(models: Sequence[TrainedModel], recommend_by: str = PredictConfig.recommend_by,
                            galaxies: Sequence[str] = GALAXIES) -> dict[str, tuple[str, str]]:
    """The lowest cross-validated cluster ``recommend_by`` per galaxy among ``models`` (see :func:`recommended_models`)."""
    out = {}
    for galaxy in galaxies:
        scored = [(m.cross_validation.get(galaxy, {}).get(recommend_by, np.nan), i, m.name) for i, m in enumerate(models)]
        finite = sorted((value, i, name) for value, i, name in scored if np.isfinite(value))
        if finite:
            value, _, name = finite[0]
            others = ", ".join(f"{n} {v:.3f}" for v, _, n in finite[1:])
            out[galaxy] = (name, f"lowest cross-validated cluster {recommend_by} in {galaxy}: {value:.3f}"
                                 + (f" (against {others})" if others else ""))
        elif models:
            out[galaxy] = (models[0].name, f"no cross-validated {recommend_by} stored for {galaxy}: the first model given")
    return out


# ------------------------------------------------------------------------------------ dating
def skill_verdict(cv: Mapping[str, float]) -> str:
    """``better`` when the 95 % CI of the model's cluster RMSE minus the galaxy mean's is below 0,
    ``worse`` when above, ``none`` when it includes 0, ``unknown`` when no CI is stored."""
    lo, hi = cv.get("rmse_diff_lo95"), cv.get("rmse_diff_hi95")
    if lo is None or hi is None or not np.isfinite([lo, hi]).all():
        return "unknown"
    return "better" if hi < 0 else "worse" if lo > 0 else "none"


def predict_clusters(model: TrainedModel, model_input: pd.DataFrame, periodograms: Mapping[str, Any], clusters: pd.DataFrame,
                     flags: pd.Series) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[tuple[str, str], AgeDistribution]]:
    """One model's rows of the predictions table for every cluster of ``model_input``.

    Returns:
        (rows with :data:`PREDICTION_COLUMNS`, problem rows for clusters the model could not date,
        ``(cluster, model) -> AgeDistribution``).
    """
    table = join_periodogram(model_input, periodograms, model.spec.get("periodogram"))
    missing = sorted(set(model.bundle.feature_columns) - set(table.columns))
    if missing:
        raise ValueError(f"{model.name}: features {missing} were not built; the model's provenance does not match its features")
    info = clusters.set_index("name")
    rows, problems, distributions = [], [], {}
    for galaxy, part in table.groupby("galaxy", sort=False):
        try:
            mu, sigma, intervals = model.predictor.predict_intervals(part)
        except ValueError as exc:
            problems += [problem_row(info.at[n, "file"], n, "model", "model_error", f"{model.name}: {exc}") for n in part["name"].unique()]
            continue
        cv = dict(model.cross_validation.get(galaxy, {}))
        for name, rows_of in pd.Series(np.arange(len(part))).groupby(part["name"].to_numpy(), sort=False):
            index = rows_of.to_numpy()
            m, s = np.asarray(mu)[index], np.asarray(sigma)[index]
            s68, s95 = np.asarray(intervals["sigma_68"])[index], np.asarray(intervals["sigma_95"])[index]
            keep = np.isfinite(m) & np.isfinite(s) & (s > 0) & np.isfinite(s68) & (s68 > 0) & np.isfinite(s95) & (s95 > 0)
            if not keep.any():
                problems.append(problem_row(info.at[name, "file"], name, "model", "model_error", f"{model.name}: no finite prediction"))
                continue
            distribution = distributions[name, model.name] = AgeDistribution(m[keep], s[keep], name, model.name,
                                                                             {0.68: s68[keep], 0.95: s95[keep]})
            (lo68, hi68), (lo95, hi95) = distribution.interval(0.68), distribution.interval(0.95)
            centre = distribution.mean
            features = list(flags.get(name, []))
            rows.append({
                "name": name, "galaxy": galaxy, "model": model.name, "log_age_pred": centre, "sigma": distribution.std,
                "lo68": float(lo68), "hi68": float(hi68), "lo95": float(lo95), "hi95": float(hi95), "age_myr": 10 ** (centre - 6),
                "n_segments": int(keep.sum()), "log_age_header": float(info.at[name, "log_age"]), "file": info.at[name, "file"],
                "out_of_range": bool(features), "out_of_range_features": ";".join(features),
                "cv_rmse": cv.get("rmse", np.nan), "cv_rmse_minus_galaxy_mean": cv.get("rmse_diff", np.nan),
                "cv_rmse_minus_galaxy_mean_lo95": cv.get("rmse_diff_lo95", np.nan),
                "cv_rmse_minus_galaxy_mean_hi95": cv.get("rmse_diff_hi95", np.nan), "skill_vs_galaxy_mean": skill_verdict(cv),
                "recommended": False,
            })
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS), problems, distributions


@dataclasses.dataclass(frozen=True)
class DatingResult:
    """The ages of a set of clusters.

    Attributes:
        predictions: one row per cluster and model (:data:`PREDICTION_COLUMNS`).
        problems: every input not read or not dated, skipped sector and dropped sample, with its
            reason (:data:`tess_cluster_age.reading.PROBLEM_COLUMNS`).
        distributions: ``(cluster, model) -> AgeDistribution`` of every predicted row.
        recommended: galaxy -> (recommended model, why it was chosen) (:func:`recommended_models`).
    """

    predictions: pd.DataFrame
    problems: pd.DataFrame
    distributions: dict[tuple[str, str], AgeDistribution]
    recommended: dict[str, tuple[str, str]]


def date_clusters(light_curves: LightCurves, models: Sequence[TrainedModel], config: PredictConfig,
                  candidates: Sequence[TrainedModel] | None = None) -> DatingResult:
    """Date every cluster read with every selected model.

    Args:
        light_curves: the clusters read and the problems met reading them
            (:func:`tess_cluster_age.reading.read_light_curves`, ``read_partitions`` or
            ``as_light_curves``, with :func:`reading_config`).
        models: from :func:`select_models`.
        config: the validated ``predict`` section: ``execution`` (how segments are processed),
            ``out_of_range``, ``recommend_by``.
        candidates: the models each galaxy's recommended model is chosen among (default: ``models``);
            dating with the recommended model alone passes every trained model here, so that the
            recommendation and its reason are the same whichever models date.

    Returns:
        The predictions (galaxies in ``MW, LMC, SMC`` order, then name, then model in the given
        order), the problems (those of reading, without the normal absence of ``LOG_AGE``, and the
        clusters not dated with :data:`PREDICT_PROBLEM_CODES`), each row's age distribution and the
        recommended model of each galaxy.
    """
    if not models:
        raise MissingModelError("no model selected: the list of models to date with is empty")
    groups: dict[str, list[TrainedModel]] = {}
    for model in models:
        groups.setdefault(provenance_key(model.provenance), []).append(model)
    if len(groups) > 1:
        logger.info("The models were trained on %d different feature settings: features are built once for each", len(groups))
    clusters, samples = light_curves.cluster_table(), light_curves.sample_table()
    problems = light_curves.problems.to_dict("records")
    predictions, distributions = [], {}
    for group in groups.values() if not clusters.empty else []:
        provenance = group[0].provenance
        model_input, periodograms = cluster_model_input(clusters, samples, provenance, config.execution)
        for name in sorted(set(clusters["name"]) - set(model_input["name"])):
            problems.append(problem_row(clusters.set_index("name").at[name, "file"], name, "cluster", "no_segments",
                                        PREDICT_PROBLEM_CODES["no_segments"]))
        if model_input.empty:
            continue
        for model in group:
            flags = out_of_range(model_input, model.bundle.feature_ranges, config.out_of_range)
            rows, model_problems, model_distributions = predict_clusters(model, model_input, periodograms, clusters, flags)
            predictions.append(rows)
            problems += model_problems
            distributions.update(model_distributions)
    table = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(columns=PREDICTION_COLUMNS)
    recommended = recommended_models(models if candidates is None else candidates, config.recommend_by)
    table["recommended"] = table["model"].to_numpy() == table["galaxy"].map({g: name for g, (name, _) in recommended.items()}).to_numpy()
    order = {g: i for i, g in enumerate(GALAXIES)}
    model_order = {m.name: i for i, m in enumerate(models)}
    table = table.sort_values(["galaxy", "name", "model"], key=lambda c: c.map(order) if c.name == "galaxy"
                              else c.map(model_order) if c.name == "model" else c, kind="stable").reset_index(drop=True)
    problem_table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS).drop_duplicates(ignore_index=True)
    problem_table = problem_table[problem_table["code"] != "no_log_age"].reset_index(drop=True)
    dated = set(table["name"])
    all_clusters = dict(zip(clusters["name"], clusters["file"])) if not clusters.empty else {}
    undated = [problem_row(f, n, "cluster", "not_dated", PREDICT_PROBLEM_CODES["not_dated"]) for n, f in sorted(all_clusters.items()) if n not in dated]
    problem_table = pd.concat([problem_table, pd.DataFrame(undated, columns=PROBLEM_COLUMNS)], ignore_index=True)
    n_flagged = table.loc[table["out_of_range"].astype(bool), "name"].nunique() if len(table) else 0
    logger.info("Dated %d clusters with %d models (%d rows); %d clusters outside the training range; %d not dated",
                len(dated), len(models), len(table), n_flagged, len(undated))
    if n_flagged:
        logger.warning("%d clusters have features outside the training range (column out_of_range_features)", n_flagged)
    return DatingResult(table, problem_table, distributions, recommended)


def undated_inputs(problems: pd.DataFrame) -> pd.DataFrame:
    """The problem rows that mean an input was not dated: a skipped file, an undated cluster, or a
    folder whose files could not be read (the CLI exits 1 when there is one)."""
    skipped = (problems["outcome"] == "skipped") & problems["level"].isin(["file", "cluster"])
    unreadable_folder = problems["code"] == "no_readable_file"
    return problems[skipped | unreadable_folder]
