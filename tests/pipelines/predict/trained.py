"""A tiny trained project for the predict and CLI tests: ELK files made here, features built by the
training nodes with small (but not today's) parameters, and one small forest saved where
``data/06_models`` is. No data file is committed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from kedro.io.core import Version

from tess_cluster_age.datasets import ELKFolderDataset
from tess_cluster_age.datasets.trained_models import ModelFileDataset
from tess_cluster_age.lightcurves import write_elk_file
from tess_cluster_age.pipelines.augmentation.nodes import build_segments
from tess_cluster_age.pipelines.feature_engineering.nodes import build_model_input, compute_classic_features, compute_invariant_features
from tess_cluster_age.pipelines.ingestion.nodes import read_clusters
from tess_cluster_age.pipelines.modelling import collect_provenance, train_final_models
from tests.synthetic import REPO, elk_header, project_parameters, synthetic_sector

BASE = project_parameters()
# Provenance that differs from conf/base (grid, bootstrap count, seed, kinds): predict must use it.
PROVENANCE = collect_provenance(
    ingestion=BASE["ingestion"],
    augmentation={"kinds": {"sector": True, "half": True, "stitched": True, "window": False, "combo": False}},
    classic_features={**BASE["classic_features"], "f_step": 0.05, "n_bootstrap": 3},
    invariant_features=BASE["invariant_features"],
    model_input=BASE["model_input"],
    seed=7,
)
EXECUTION = {"workers": 1, "scheduler_address": None, "log_every_seconds": 60}
FOREST = {"models": {"random_forest": {"estimator": "random_forest", "save": True,
                                       "options": {"n_estimators": 10, "inner_folds": 2, "n_jobs": 1, "use_galaxy": True}}}}
NEW = "NEW-CLUSTER 1"
PREDICT_PARAMS = {"galaxy": None, "models": "all", "execution": EXECUTION, "out_of_range": {"bounds": "min_max", "segment_fraction": 0.5}}


def new_cluster_sectors(flux_level: float = 4000.0):
    return [synthetic_sector(5, seed=91, flux_level=flux_level), synthetic_sector(6, seed=92, t0=1430.0, flux_level=flux_level)]


def write_new_cluster(path: Path, log_age: float | None = None, flux_level: float = 4000.0, name: str = NEW) -> Path:
    """The cluster to date: the same light curve wherever it is written (header LOG_AGE optional)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_elk_file(path, elk_header(name, log_age, n_good=2), new_cluster_sectors(flux_level))
    return path


def write_training_folder(root: Path) -> Path:
    """Nine labelled clusters (three per galaxy) and the new cluster, unlabelled, in galaxy folders."""
    rng = np.random.default_rng(3)
    for i in range(9):
        galaxy = ("MW", "LMC", "SMC")[i % 3]
        sectors = [synthetic_sector(5, seed=10 + i, flux_level=1000.0 * (i + 1)), synthetic_sector(6, seed=40 + i, t0=1430.0, flux_level=1000.0 * (i + 1))]
        path = root / galaxy / f"hlsp_elk_tess_ffi_c-{i}_tess_v1_llc.fits"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_elk_file(path, elk_header(f"C-{i}", float(np.round(rng.uniform(7.0, 9.5), 2)), n_good=2), sectors)
    write_new_cluster(root / "LMC" / "hlsp_elk_tess_ffi_new-cluster-1_tess_v1_llc.fits")
    return root


def training_path(root: Path) -> dict:
    """Ingestion, segments, features and model input of ``root`` through the training nodes."""
    clusters, _, samples, _ = read_clusters(ELKFolderDataset(path=str(root)).load(), PROVENANCE["ingestion"])
    segments = build_segments(clusters, samples, PROVENANCE["augmentation"], PROVENANCE["seed"])
    classic, periodograms_classic = compute_classic_features(segments, samples, PROVENANCE["classic_features"], EXECUTION, PROVENANCE["seed"])
    invariant, periodograms_invariant = compute_invariant_features(segments, samples, PROVENANCE["invariant_features"], EXECUTION)
    model_input = build_model_input(segments, clusters, classic, invariant, PROVENANCE["model_input"], PROVENANCE["invariant_features"])
    return {"model_input": model_input, "periodograms_classic": periodograms_classic, "periodograms_invariant": periodograms_invariant}


def cv_metrics(model: str = "random_forest") -> pd.DataFrame:
    """Cross-validated metrics as score_models writes them: no skill in the MW, skill in the LMC."""
    rows = []
    for galaxy, diff, lo, hi in (("MW", -0.03, -0.09, 0.03), ("LMC", -0.14, -0.2, -0.08), ("SMC", -0.1, -0.2, -0.01)):
        rows += [(model, "cluster", galaxy, "all", 0, "rmse", 0.5), (model, "cluster", galaxy, "all", pd.NA, "rmse_diff", diff),
                 (model, "cluster", galaxy, "all", pd.NA, "rmse_diff_lo95", lo), (model, "cluster", galaxy, "all", pd.NA, "rmse_diff_hi95", hi)]
    return pd.DataFrame(rows, columns=["model", "level", "galaxy", "age_bin", "seed", "metric", "value"])


def train(root: Path) -> tuple[dict, dict]:
    """The training path of ``root`` and the bundle train_final_models makes from it."""
    data = training_path(root)
    bundle = train_final_models(data["model_input"], data["periodograms_classic"], data["periodograms_invariant"], cv_metrics(), FOREST, {},
                                PROVENANCE["seed"], PROVENANCE)
    return data, bundle


def save_bundle(bundle, models_dir: Path, pipeline: str = "random_forest") -> None:
    """Save as the model pipelines do (versioned model file ``<models_dir>/<pipeline>.zip``)."""
    ModelFileDataset(filepath=str(models_dir / f"{pipeline}.zip"), version=Version(None, None)).save(bundle)


def make_project(folder: Path, bundle: dict | None) -> Path:
    """A project folder for the CLI: this repository's pyproject and conf/base, and (optionally) a
    trained forest in its data/06_models."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(REPO / "conf" / "base", folder / "conf" / "base", dirs_exist_ok=True)
    (folder / "conf" / "local").mkdir(parents=True, exist_ok=True)
    (folder / "src").mkdir(exist_ok=True)              # the package itself is imported from where it is installed
    (folder / "data" / "06_models").mkdir(parents=True, exist_ok=True)
    if bundle is not None:
        save_bundle(bundle, folder / "data" / "06_models")
    return folder
