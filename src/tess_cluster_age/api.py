"""tess-cluster-age as a library: read cluster light curves, load trained models, date clusters.

    >>> from tess_cluster_age import date, load_models
    >>> models = load_models("path/to/tess-cluster-age")         # the project folder, or a copied models folder
    >>> ages = date("hlsp_elk_tess_ffi_ngc-2130_tess_v1_llc.fits.gz", galaxy="LMC", models=models)
    >>> ages["name", "model", "age_myr", "lo68", "hi68", "skill_vs_galaxy_mean"]
    >>> ages["distribution"][0].plot()

**What the ages mean.** The models learned from ELK light curves (Wainer et al. 2023): the
*integrated* light of a whole cluster, measured in an aperture over the cluster on TESS full-frame
images. A light curve in another format (a TESS light-curve FITS file, a CSV or ECSV table, an
astropy ``TimeSeries``, a lightkurve ``LightCurve``, arrays) is dated by the same code, but the age
is meaningful only when that light curve is an integrated light curve of the cluster made the same
way: with the ``elk`` package, or an aperture photometry over the whole cluster, in e/s. A single
star's SPOC light curve is not one, and its "age" says nothing about the cluster. The
``out_of_range`` flag marks clusters whose features the models never saw in training, whatever
the format; such an age is an extrapolation.

Each age comes with the model's cross-validated skill in that galaxy
(``skill_vs_galaxy_mean``): where it is ``none`` (the Milky Way today), an age is essentially the
galaxy's prior and only its interval should be read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tess_cluster_age import dating, reading
from tess_cluster_age.config import PredictConfig
from tess_cluster_age.models.bundle import TrainedModels
from tess_cluster_age.project import find_project, project_configured_models, project_predict_config
from tess_cluster_age.reading import LightCurveInputError, LightCurves
from tess_cluster_age.schema import GALAXIES

LOG_AGE_COLUMNS = ("log_age_pred", "lo68", "hi68", "lo95", "hi95", "log_age_header")
"""Columns in log10(age / yr), given the unit ``dex(yr)``."""
DEX_COLUMNS = ("sigma", "cv_rmse", "cv_rmse_minus_galaxy_mean", "cv_rmse_minus_galaxy_mean_lo95", "cv_rmse_minus_galaxy_mean_hi95")
"""Columns of log-age widths and errors, in dex."""
STRING_COLUMNS = ("name", "galaxy", "model", "file", "out_of_range_features", "skill_vs_galaxy_mean")
BOOLEAN_COLUMNS = ("out_of_range", "recommended")


def read_light_curves(paths: str | os.PathLike | Sequence[str | os.PathLike], galaxy: str | None = None) -> LightCurves:
    """Read and validate cluster light curves from files and folders.

    Formats: ELK files, TESS light-curve FITS files (SPOC, TESS-SPOC, QLP, lightkurve's ``to_fits``:
    ``TIME`` plus a flux column and its error, ``SECTOR`` in a header), and CSV or ECSV tables
    (``time`` in BTJD days, ``flux`` and ``flux_err`` in e/s, an optional ``sector``); see
    :mod:`tess_cluster_age.reading`. Read the module docstring of :mod:`tess_cluster_age.api` for
    which light curves the models can date.

    Args:
        paths: a file or a folder (read recursively), or several.
        galaxy: ``MW``, ``LMC`` or ``SMC``, for files that are not in a folder of that name.

    Returns:
        The validated clusters (``.clusters``), and the dropped samples and skipped sectors
        (``.problems``).

    Raises:
        LightCurveInputError: an input that cannot be read, naming it and the problem.
    """
    return reading.read_light_curves(paths, galaxy, strict=True)


@dataclasses.dataclass(frozen=True)
class Models(Mapping[str, TrainedModels]):
    """The trained models of a project (or of a copied models folder), by model pipeline.

    Estimators are read from their files only when a cluster is dated with them.

    Attributes:
        bundles: pipeline -> its bundle (:class:`~tess_cluster_age.models.bundle.TrainedModels`).
        source: where they were loaded from.
        config: the ``predict`` settings used to date with them (the project's, else the defaults).
        configured: pipeline -> the models its parameters save (the project's; empty outside one),
            to name the command that trains a model that is missing.
    """

    bundles: Mapping[str, TrainedModels]
    source: str = ""
    config: PredictConfig = PredictConfig()
    configured: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)

    def __getitem__(self, pipeline: str) -> TrainedModels:
        return self.bundles[pipeline]

    def __iter__(self) -> Iterator[str]:
        return iter(self.bundles)

    def __len__(self) -> int:
        return len(self.bundles)

    @property
    def trained(self) -> list[dating.TrainedModel]:
        """Every saved model, pipelines in name order."""
        return [dating.TrainedModel(name, pipeline, bundle) for pipeline, bundle in self.bundles.items() for name in bundle.models]

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.trained]

    def skill(self) -> pd.DataFrame:
        """Each model's cross-validated cluster skill per galaxy, and which model is recommended there.

        Returns:
            One row per model and galaxy: ``model, pipeline, galaxy, rmse, nll, crps, cov68, cov95``
            (cluster level, mean over fold seeds; dex, nats, dex), ``rmse_minus_galaxy_mean`` and its
            95 % paired-bootstrap CI (dex), the verdict ``skill_vs_galaxy_mean`` and ``recommended``.
        """
        recommended = dating.recommended_models(self.trained, self.config.recommend_by)
        rows = []
        for model in self.trained:
            for galaxy in GALAXIES:
                cv = model.cross_validation.get(galaxy, {})
                rows.append({"model": model.name, "pipeline": model.pipeline, "galaxy": galaxy,
                             **{k: cv.get(k, np.nan) for k in ("rmse", "nll", "crps", "cov68", "cov95")},
                             "rmse_minus_galaxy_mean": cv.get("rmse_diff", np.nan), "lo95": cv.get("rmse_diff_lo95", np.nan),
                             "hi95": cv.get("rmse_diff_hi95", np.nan), "skill_vs_galaxy_mean": dating.skill_verdict(cv),
                             "recommended": recommended.get(galaxy, ("",))[0] == model.name})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"<Models {', '.join(self.names)} from {self.source or 'memory'}>"


def load_models(path: str | os.PathLike | None = None) -> Models:
    """The trained models of a project, of a models folder that someone copied, or of one model file.

    Model files load without running code from them (:mod:`tess_cluster_age.models.persistence`).

    Args:
        path: a tess-cluster-age project folder (its ``data/06_models``), a folder of model files
            (``<pipeline>.zip``, or Kedro's versioned ``<pipeline>.zip/<version>/<pipeline>.zip``,
            the newest version of each), or one model file. None: the project that holds the
            working folder.

    Returns:
        The models, with the project's ``predict`` settings (the recommendation rule, the
        out-of-range flag), or the defaults for a folder outside a project.

    Raises:
        FileNotFoundError: no project or model file there (the message says why).
        ModelFileError: a model file is refused (tampered, foreign, or of another format version).
    """
    from tess_cluster_age.models.persistence import load_models as load_model_files

    if path is None:
        path = find_project()
        if path is None:
            raise FileNotFoundError("not inside a tess-cluster-age project: give load_models the project or models folder")
    project = Path(path) if (Path(path) / "conf" / "base").is_dir() else None
    return Models(load_model_files(path), str(path), project_predict_config(project), project_configured_models(project))


def select(models: Models, light_curves: LightCurves, model: str | Sequence[str]) -> list[dating.TrainedModel]:
    """The models that date ``light_curves``: ``recommended`` (each galaxy's recommended model,
    :func:`tess_cluster_age.dating.recommended_models`), ``all``, or model names.

    Raises:
        MissingModelError: a model of a pipeline that the project configures but has not trained
            (the message names the command that trains it).
        ValueError: a name that is none of the models, naming those there are.
    """
    trained = models.trained
    if model == "all":
        return trained
    if model == "recommended":
        recommended = dating.recommended_models(trained, models.config.recommend_by, sorted({c.galaxy for c in light_curves}))
        wanted = {name for name, _ in recommended.values()}
    else:
        wanted = {model} if isinstance(model, str) else set(model)
    unknown = sorted(wanted - {m.name for m in trained})
    untrained = {name: pipeline for pipeline, names in models.configured.items() if pipeline not in models for name in names}
    if set(unknown) & set(untrained):
        commands = " and ".join(sorted({f"`{dating.train_command(untrained[n])}`" for n in unknown if n in untrained}))
        raise dating.MissingModelError(f"model {', '.join(repr(n) for n in unknown if n in untrained)} is not trained yet: run {commands}")
    if unknown:
        raise ValueError(f"unknown model {', '.join(map(repr, unknown))}; the models are {', '.join(models.names)} "
                         "(or 'recommended', 'all')")
    return [m for m in trained if m.name in wanted]


def date_light_curves(light_curves: LightCurves, models: Models, model: str | Sequence[str] = "recommended") -> dating.DatingResult:
    """Date validated light curves (the command line's and :func:`date`'s common path)."""
    chosen = select(models, light_curves, model)
    result = dating.date_clusters(light_curves, chosen or models.trained, models.config, candidates=models.trained)  # none chosen: no cluster was read
    if model == "recommended":
        keep = result.predictions["recommended"].astype(bool).to_numpy()
        result = dataclasses.replace(result, predictions=result.predictions[keep].reset_index(drop=True))
    return result


def date(data: Any, galaxy: str | None = None, models: Models | None = None, *, model: str | Sequence[str] = "recommended",
         name: str | None = None, workers: int = 1):
    """The ages of clusters, with their intervals, skill and full distributions.

    Read the module docstring (:mod:`tess_cluster_age.api`) for which light curves can be dated:
    integrated light curves of whole clusters, as the ELK light curves the models learned from.

    Args:
        data: what :func:`read_light_curves` returns; paths of files or folders; an astropy
            ``Table``/``QTable``/``TimeSeries`` or a lightkurve ``LightCurve`` (one cluster, by
            interface: ``time``, ``flux``, ``flux_err``, ``meta``); a ``LightCurveCollection`` or a
            list of such tables (one cluster, one sector each); a mapping of cluster name to any of
            these; or arrays ``(time_btjd, flux_e_per_s, flux_err_e_per_s[, sector])``.
        galaxy: ``MW``, ``LMC`` or ``SMC``: needed for objects, and for files outside a galaxy folder.
        models: from :func:`load_models` (default: the models of the project around the working folder).
        model: ``recommended`` (one row per cluster, the recommended model of its galaxy: the lowest
            cross-validated cluster NLL there, by default), ``all`` (a row per cluster and model), or
            model names.
        name: the cluster's name when ``data`` is one cluster's light curve without one in its
            ``meta`` (``NAME``, ``OBJECT``). The name also keys the seeded bootstrap of the
            periodogram features (SPEC 3a), as in training.
        workers: processes that compute the features (1: in this process). More than one starts
            new Python processes, which in a script needs the ``if __name__ == "__main__":`` guard.

    Returns:
        An astropy ``QTable``, one row per cluster (and model): ``name, galaxy, model``;
        ``log_age_pred`` (the mean of the age distribution) and the 68 % and 95 % interval ends
        ``lo68, hi68, lo95, hi95`` (16/84 and 2.5/97.5 percentiles) in ``dex(yr)`` (``.physical``
        gives years); ``sigma`` in dex; ``age_myr`` in Myr; ``skill_vs_galaxy_mean`` (``better``, ``none``, ``worse``:
        the model's cross-validated cluster RMSE against the galaxy's mean age, 95 % CI);
        ``out_of_range`` and ``out_of_range_features``; ``n_segments``; ``recommended``; the
        cross-validated ``cv_rmse`` columns; and ``distribution``, an
        :class:`~tess_cluster_age.age_distribution.AgeDistribution` (``pdf``, ``cdf``, ``quantile``,
        ``plot(ax)``). ``meta`` holds the models' provenance and package versions and why each
        galaxy's model was recommended.

    Raises:
        LightCurveInputError: an input that cannot be read or dated, naming it and the problem.
        FileNotFoundError: no models given and no project found.
    """
    models = models if models is not None else load_models()
    execution = dataclasses.replace(models.config.execution, workers=workers)
    models = dataclasses.replace(models, config=dataclasses.replace(models.config, execution=execution))
    light_curves = reading.as_light_curves(data, galaxy, name=name, strict=True, config=dating.reading_config(models.trained))
    result = date_light_curves(light_curves, models, model)
    undated = dating.undated_inputs(result.problems)
    if len(undated):
        first = undated.iloc[0]
        raise LightCurveInputError(first["file"], first["reason"], first["code"])
    return predictions_table(result, models)


def predictions_table(result: dating.DatingResult, models: Models, distributions: bool = True):
    """The predictions as an astropy ``QTable`` with units, and the provenance in ``meta`` (see :func:`date`)."""
    import astropy.units as u
    from astropy.table import QTable

    frame = result.predictions
    table = QTable()
    for column in dating.PREDICTION_COLUMNS:
        values = frame[column].to_numpy()
        if column in LOG_AGE_COLUMNS:
            table[column] = u.Dex(values.astype(float), u.dex(u.yr))
        elif column in DEX_COLUMNS:
            table[column] = values.astype(float) * u.dex
        elif column == "age_myr":
            table[column] = values.astype(float) * u.Myr
        elif column in STRING_COLUMNS:
            table[column] = values.astype(str)
        elif column in BOOLEAN_COLUMNS:
            table[column] = values.astype(bool)
        else:
            table[column] = values
    if distributions:
        table["distribution"] = [result.distributions[name, model] for name, model in zip(frame["name"], frame["model"])]
    used = {m for m in frame["model"]}
    table.meta["tess_cluster_age"] = {
        "models": {m.name: {"pipeline": m.pipeline, "versions": dict(m.bundle.versions), "provenance": m.provenance}
                   for m in models.trained if m.name in used},
        "recommended": {galaxy: {"model": name, "why": why} for galaxy, (name, why) in result.recommended.items()},
        "models_from": models.source,
        "units": "log ages in dex(yr) = log10(age / yr); widths in dex; ages in Myr",
    }
    return table


__all__ = ["LightCurveInputError", "LightCurves", "Models", "date", "load_models", "read_light_curves"]
