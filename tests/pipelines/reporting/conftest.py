"""Small purpose-made inputs of the reporting pipeline: every table it reads, built in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age import evaluation
from tess_cluster_age.features.periodograms import Periodograms
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.pipelines.modelling import score_models
from tess_cluster_age.provenance import package_versions

GALAXIES = ("MW", "LMC", "SMC")
EVALUATION = {"age_bin_edges": [7.5, 8.0, 8.5, 9.0], "young_old_log_age": 8.0, "catastrophic_dex": 1.0, "bootstrap": {"n": 100, "seed": 0}}
EXTERNAL = {"bootstrap": {"n": 200, "seed": 0}, "hat_min_shared": 5}
PREDICT = {"recommend_by": "nll"}
REPORTING = {"title": "test report", "featured_models": ["random_forest", "gaussian_nn", "regression"], "figure_seed": 0,
             "importance_top": 5, "example_galaxy": "LMC", "example_clusters": {"young": None, "old": None}, "max_prediction_rows": 50}
# How much each synthetic model shrinks towards the galaxy mean (1 = the mean, no skill), per galaxy.
SHRINK = {"random_forest": {"MW": 1.0, "LMC": 0.3, "SMC": 0.6}, "random_forest_no_galaxy": {"MW": 1.0, "LMC": 0.5, "SMC": 0.8},
          "gaussian_nn": {"MW": 1.0, "LMC": 0.35, "SMC": 0.7}, "nn_mse": {"MW": 1.0, "LMC": 0.4, "SMC": 0.7}}


CENTRES = {"MW": (120.0, 10.0), "LMC": (80.0, -69.0), "SMC": (13.0, -72.8)}
"""Where each galaxy's synthetic clusters sit (ICRS deg); clusters are 0.5 deg apart in declination."""


def synthetic_clusters(n_per_galaxy: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for galaxy in GALAXIES:
        for i in range(n_per_galaxy):
            rows.append({"name": f"{galaxy}-{i:02d}", "galaxy": galaxy, "log_age": float(np.round(rng.uniform(6.8, 9.6), 2)),
                         "ra": CENTRES[galaxy][0], "dec": CENTRES[galaxy][1] + 0.5 * i})
    return pd.DataFrame(rows)


def synthetic_catalogue_files(clusters: pd.DataFrame, seed: int = 5) -> dict[str, pd.DataFrame]:
    """Two independent catalogues as ``external_catalogue_files`` loads them: one names our clusters (its ages scatter 0.2 dex
    about the labels), the other gives positions 0.001 deg away under other names (0.4 dex scatter); both cover every galaxy."""
    rng = np.random.default_rng(seed)
    by_name = pd.DataFrame({"name": clusters["name"].str.replace("-", " "), "ra": clusters["ra"], "dec": clusters["dec"],
                            "log_age": clusters["log_age"] + rng.normal(0, 0.2, len(clusters)), "galaxy": clusters["galaxy"],
                            "catalogue": "named_cat"})
    by_position = pd.DataFrame({"name": [f"X{i}" for i in range(len(clusters))], "ra": clusters["ra"], "dec": clusters["dec"] + 0.001,
                                "log_age": clusters["log_age"] + rng.normal(0, 0.4, len(clusters)), "galaxy": clusters["galaxy"],
                                "catalogue": "positional_cat", "e_log_age": 0.1})
    return {"named_cat.csv": by_name, "positional_cat.csv": by_position}


def synthetic_oof(clusters: pd.DataFrame, models: list[str], seeds=(0, 1), segments_per_cluster: int = 3, seed: int = 0) -> pd.DataFrame:
    """Segment rows of made-up models (a model shrinks the truth towards the galaxy mean by SHRINK), plus cluster rows."""
    rng = np.random.default_rng(seed)
    shuffled = evaluation.shuffled_labels(clusters["log_age"], clusters["name"], 0).to_numpy()
    rows = []
    for fold_seed in seeds:
        folds = rng.permutation(len(clusters)) % 3
        for model in ["constant", "galaxy_mean", *models]:
            for suffix in ("", evaluation.SHUFFLED_SUFFIX):
                if suffix and model not in ("constant", "galaxy_mean", models[0]):
                    continue
                labels = shuffled if suffix else clusters["log_age"].to_numpy()
                galaxy_mean = pd.Series(labels).groupby(clusters["galaxy"].to_numpy()).transform("mean").to_numpy()
                for c, cluster in clusters.iterrows():
                    y = labels[c]
                    if model == "constant":
                        centre, width = labels.mean(), labels.std()
                    elif model == "galaxy_mean" or suffix:
                        centre, width = galaxy_mean[c], 0.7
                    else:
                        k = SHRINK.get(model, {}).get(cluster["galaxy"], 0.8)
                        centre, width = k * galaxy_mean[c] + (1 - k) * y, 0.3 + 0.4 * k
                    for s in range(segments_per_cluster):
                        rows.append({"model": model + suffix, "level": "segment", "seed": fold_seed, "fold": int(folds[c]),
                                     "segment_id": f"{cluster['name']}|sector|{s + 1}", "name": cluster["name"], "galaxy": cluster["galaxy"],
                                     "kind": "sector", "log_age": y, "mu": centre + rng.normal(0, 0.2), "sigma": width})
    return evaluation.with_cluster_rows(pd.DataFrame(rows))


def synthetic_importances(model: str, features=("log_flux", "inv_std", "classic_rms", "inv_peak_amp", "noise")) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"model": model, "seed": 0, "fold": k, "feature": f, "importance": float(0.05 * (len(features) - i) + rng.normal(0, 0.01))}
            for k in range(3) for i, f in enumerate(features)]
    return pd.DataFrame(rows)


RECORDED_NUMPY = "1.26.4"
"""The numpy version the synthetic gaussian_nn bundle says its models were trained with (not the installed one)."""
PROVENANCE = {"ingestion": {"galaxies": ["MW", "LMC", "SMC"]}, "augmentation": {"min_points": 100}, "classic_features": {"n_bootstrap": 5},
              "invariant_features": {"n_bins": 32}, "model_input": {"include_log_flux": True}, "seed": 42}
"""The feature parameters the synthetic bundles record (``metadata.provenance``)."""


def synthetic_bundle(models: list[str], versions: dict[str, str], provenance: dict = PROVENANCE) -> TrainedModels:
    """A bundle as :func:`train_final_models` makes it, whose estimators are placeholders (the report reads only the records)."""
    return TrainedModels(
        models={m: None for m in models}, model_info={m: ModelInfo(spec={"estimator": m, "options": {"n_estimators": 10}}) for m in models},
        feature_columns=("log_flux",), identity_columns=("segment_id", "name", "galaxy", "kind", "weight", "log_age"),
        feature_ranges={"log_flux": {"p01": 2.0, "p99": 4.0, "min": 1.5, "max": 4.5}}, galaxies=GALAXIES, n_clusters=36, n_segments=108,
        provenance=provenance, input_provenance=None, versions=versions)


def report_inputs(missing_pipeline: str | None = "regression") -> dict:
    """Every catalog input of the reporting pipeline (``missing_pipeline``'s tables are empty)."""
    clusters = synthetic_clusters()
    sectors, segments, samples = [], [], []
    rng = np.random.default_rng(3)
    for c, cluster in clusters.iterrows():
        for s in (1, 2, 3):
            cadence = {"MW": 1800.0, "LMC": 600.0, "SMC": 200.0}[cluster["galaxy"]]
            sectors.append({"name": cluster["name"], "hdu": s, "sector": s, "n_points": 200, "n_dropped": 0, "cadence_s": cadence})
            segments.append({"segment_id": f"{cluster['name']}|sector|{s}", "name": cluster["name"], "galaxy": cluster["galaxy"],
                             "kind": "sector", "n_points": 200, "n_sectors": 1, "span_days": 4.0, "cadence_s": cadence, "weight": 1 / 3})
            if s == 1:
                time = 1400.0 + np.arange(200) * cadence / 86400
                flux = 1000 * (1 + 0.01 * np.sin(2 * np.pi * time / (1 + c % 5)) + rng.normal(0, 0.002, 200))
                samples.append(pd.DataFrame({"name": cluster["name"], "sector": s, "hdu": s, "time": time, "flux": flux,
                                             "flux_err": np.full(200, 2.0)}))
    segments = pd.DataFrame(segments)
    frequency = np.arange(0.11, 11, 0.01)
    power = rng.random((len(segments), frequency.size)).astype(np.float32)
    models = {"random_forest": ["random_forest", "random_forest_no_galaxy"], "gaussian_nn": ["gaussian_nn", "nn_mse"],
              "regression": ["regression"], "combined": ["combined"]}
    inputs = {"clusters": clusters, "sectors": pd.DataFrame(sectors), "segments": segments,
              "sector_light_curves": pd.concat(samples, ignore_index=True),
              "periodograms_classic": Periodograms(segments["segment_id"].to_numpy(), frequency, power, "synthetic"),
              "ingestion_report": {"files_skipped_by_reason": {"unreadable": 2}, "sectors_skipped_by_reason": {"empty_table": 1},
                                   "duplicate_names": [{"name": "X", "files": ["a", "b"]}]},
              "ingestion_problems": pd.DataFrame({"file": ["a.fits"], "name": ["a"], "level": ["file"], "sector": [np.nan],
                                                  "outcome": ["skipped"], "code": ["unreadable"], "reason": ["truncated"], "n_points": [0]}),
              "last_predictions": pd.DataFrame({"name": ["New 1", "New 1"], "galaxy": ["LMC", "LMC"], "model": ["random_forest", "gaussian_nn"],
                                                "log_age_pred": [8.1, 8.2], "sigma": [0.3, 0.35], "lo68": [7.8, 7.85], "hi68": [8.4, 8.55],
                                                "lo95": [7.5, 7.5], "hi95": [8.7, 8.9], "age_myr": [125.9, 158.5], "n_segments": [4, 4],
                                                "log_age_header": [np.nan, np.nan], "file": ["new1.fits", "new1.fits"]}),
              "external_catalogue_files": synthetic_catalogue_files(clusters),
              "params:reporting": REPORTING, "params:evaluation": EVALUATION, "params:external_validation": EXTERNAL,
              "params:predict": PREDICT}
    versions = package_versions()
    for i, (pipeline_name, names) in enumerate(models.items()):
        recorded = versions if pipeline_name != "gaussian_nn" else {**versions, "numpy": RECORDED_NUMPY}
        inputs[f"{pipeline_name}.trained_models"] = synthetic_bundle(names, recorded)
        if pipeline_name in (missing_pipeline, "combined"):    # the combined pipeline's tables: empty here
            inputs[f"{pipeline_name}.oof"] = pd.DataFrame(columns=["model", "level", "seed", "name", "galaxy", "log_age", "mu", "sigma", "pit"])
            inputs[f"{pipeline_name}.metrics"] = pd.DataFrame(columns=evaluation.METRIC_COLUMNS)
            inputs[f"{pipeline_name}.importances"] = pd.DataFrame(columns=["model", "seed", "fold", "feature", "importance"])
            continue
        oof = synthetic_oof(clusters, names, seed=i)
        inputs[f"{pipeline_name}.oof"] = oof
        inputs[f"{pipeline_name}.metrics"] = score_models(oof, EVALUATION)
        inputs[f"{pipeline_name}.importances"] = (synthetic_importances(names[0]) if pipeline_name == "random_forest" else
                                                  pd.DataFrame(columns=["model", "seed", "fold", "feature", "importance"]))
    return inputs


@pytest.fixture(scope="session")
def reporting_inputs() -> dict:
    return report_inputs()


def _kept_dataset():
    from kedro.io import MemoryDataset

    class Kept(MemoryDataset):
        def _release(self) -> None:
            pass

    return Kept


def run_reporting(inputs: dict, folder) -> dict:
    """Run the whole reporting pipeline over an in-memory catalog; figures and the page go to ``folder``."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner
    from kedro_datasets.text import TextDataset

    from tess_cluster_age.datasets import FigureFolderDataset
    from tess_cluster_age.pipelines.reporting import create_pipeline
    from tess_cluster_age.pipelines.reporting.pipeline import FIGURE_SECTIONS

    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    for section in FIGURE_SECTIONS:
        catalog[f"report_figures_{section}"] = FigureFolderDataset(filepath=str(folder / "figures" / section), save_args={"dpi": 60})
    catalog["report_html"] = TextDataset(filepath=str(folder / "report.html"))
    catalog["model_comparison"] = _kept_dataset()(copy_mode="assign")
    catalog["report_context"] = _kept_dataset()(copy_mode="assign")
    SequentialRunner().run(create_pipeline(), catalog)
    return {"html": folder / "report.html", "figures": folder / "figures", "comparison": catalog.load("model_comparison"),
            "context": catalog.load("report_context")}


@pytest.fixture(scope="session")
def built_report(reporting_inputs, tmp_path_factory) -> dict:
    return run_reporting(reporting_inputs, tmp_path_factory.mktemp("report"))
