"""The Kedro project as users meet it: registry, configuration, kedro-viz and the notebook."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.notebook import execute_notebook

REPO = Path(__file__).resolve().parents[1]
PIPELINES = ["ingestion", "augmentation", "feature_engineering", "gaussian_nn", "random_forest", "regression", "reporting", "predict"]
KEDRO = str(Path(sys.executable).with_name("kedro"))
ENV = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}


@pytest.fixture(scope="module")
def project():
    bootstrap_project(REPO)
    return REPO


def test_all_eight_pipelines_are_registered(project):
    assert set(PIPELINES) <= set(pipelines)
    default = pipelines["__default__"]
    assert {n.name for n in pipelines["ingestion"].nodes} <= {n.name for n in default.nodes}


def test_kedro_registry_list_shows_eight_pipelines(project):
    out = subprocess.run([KEDRO, "registry", "list"], cwd=REPO, env=ENV, capture_output=True, text=True, check=True).stdout
    for name in PIPELINES + ["__default__"]:
        assert f"- {name}" in out


def test_catalog_resolves_data_folders_from_configuration(project):
    with KedroSession.create(project_path=REPO, runtime_params={"elk_dir": "/somewhere/elk"}) as session:
        catalog = session.load_context().catalog
        assert "/somewhere/elk" in str(catalog["elk_light_curves"])
        assert "reference" in str(catalog["lmc_age_catalogue"])
        params = catalog.load("parameters")
        assert params["ingestion"]["galaxies"] == ["MW", "LMC", "SMC"]


def test_every_catalog_entry_has_a_viz_layer(project):
    import yaml

    catalog = yaml.safe_load((REPO / "conf" / "base" / "catalog.yml").read_text())
    missing = [name for name, entry in catalog.items() if not entry.get("metadata", {}).get("kedro-viz", {}).get("layer")]
    assert not missing


@pytest.fixture(scope="module")
def viz_build(project) -> Path:
    """`kedro viz build` once for the module (it writes build/ in the project folder)."""
    subprocess.run([KEDRO, "viz", "build"], cwd=REPO, env=ENV, capture_output=True, text=True, check=True, timeout=300)
    return REPO / "build"


def test_kedro_viz_build_writes_a_site_listing_the_pipelines(viz_build):
    main = json.loads((viz_build / "api" / "main").read_text())
    assert set(PIPELINES) <= {p["id"] for p in main["pipelines"]}
    assert (viz_build / "index.html").is_file()
    node_names = {n["name"] for n in main["nodes"]}
    assert {"read_clusters_node", "build_segments_node", "compute_classic_features_node", "make_folds_node"} <= node_names
    layers = {n.get("layer") for n in main["nodes"] if n.get("type") == "data"}
    assert {"raw", "intermediate", "primary", "feature", "model_input", "reporting"} <= layers


@pytest.mark.real_data
def test_notebook_loads_the_cluster_table_from_the_catalog(project, tmp_path, elk_dir):
    """Run ingestion on three real clusters into a scratch data folder, then execute the notebook."""
    small = tmp_path / "elk"
    for galaxy in ("MW", "LMC", "SMC"):
        (small / galaxy).mkdir(parents=True)
        first = sorted((elk_dir / galaxy).glob("*.fits*"))[0]
        (small / galaxy / first.name).symlink_to(first)
    data_dir = tmp_path / "data"
    params = {"elk_dir": str(small), "data_dir": str(data_dir)}
    with KedroSession.create(project_path=REPO, runtime_params=params) as session:
        session.run(pipeline_names=["ingestion"])
    assert (data_dir / "02_intermediate" / "clusters.parquet").is_file()

    printed, _ = execute_notebook("01_explore_light_curves.ipynb", data_dir)
    assert "3 clusters" in printed


def test_kedro_viz_site_renders_the_dag_in_headless_chromium(viz_build, tmp_path, chromium):
    """Serve the static kedro-viz build and load it in a real browser: the DAG and its nodes render."""
    import functools
    import http.server
    import threading

    from matplotlib.image import imread

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(viz_build))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--virtual-time-budget=15000", "--window-size=1400,900"]
    try:
        dom = subprocess.run([chromium, *flags, f"--user-data-dir={tmp_path / 'profile1'}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120).stdout
        screenshot = tmp_path / "kedro_viz.png"
        subprocess.run([chromium, *flags, f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={screenshot}", url],
                       capture_output=True, timeout=120)
    finally:
        server.shutdown()
    for name in ("read_clusters", "build_segments", "compute_classic_features", "make_folds", "sector_light_curves"):
        assert name in dom, f"{name} not rendered by kedro-viz"
    pixels = imread(screenshot)
    assert pixels.shape[:2] == (900, 1400) and pixels[..., :3].std() > 0.05  # a drawn page, not a blank one
