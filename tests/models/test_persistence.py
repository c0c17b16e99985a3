"""Model files (issue 16, item 5): every estimator round-trips exactly, and a tampered, foreign or
other-version file is refused with a message that names the file, without running code from it."""

from __future__ import annotations

import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age.models import (CombinedAgeModel, ConstantModel, GalaxyMeanModel, GaussianNetworkAgeModel, GradientBoostingAgeModel, PerGalaxy,
                                     RandomForestAgeModel, RidgeAgeModel, TunedAgeModel)
from tess_cluster_age.models.bundle import ModelInfo, TrainedModels
from tess_cluster_age.models.persistence import (FORMAT_VERSION, MANIFEST, ModelFileError, find_model_file, load_models, read_models,
                                                 save_models)

from .conftest import synthetic_model_input

FEATURES = ["signal", "square", "noise"]
NETWORK = dict(hidden=(8, 4), max_epochs=6, patience=3, batch_size=64, inner_folds=2, features=FEATURES, random_state=3)
BINS = 24

ESTIMATORS = {
    "constant": lambda: ConstantModel(),
    "galaxy_mean": lambda: GalaxyMeanModel(),
    # n_jobs=1: with threads, scikit-learn sums the trees' predictions in a varying order (last bits differ between calls);
    # leaves of one segment: trees large enough that their arrays outweigh the file's fixed part (shared-array test)
    "random_forest": lambda: RandomForestAgeModel(n_estimators=6, min_samples_leaf=1, features=FEATURES, inner_folds=2, n_jobs=1,
                                                  random_state=1),
    "random_forest_refit": lambda: RandomForestAgeModel(n_estimators=4, min_samples_leaf=3, refit=True, inner_folds=2, n_jobs=1, random_state=2),
    "regression": lambda: RidgeAgeModel(alpha=2.0, stitched_weight=1.25, inner_folds=3, random_state=1),
    # sigma per galaxy x predicted-age bin with bins of their own (3 inner clusters suffice here), and per galaxy only
    "regression_by_predicted_age": lambda: RidgeAgeModel(alpha=2.0, inner_folds=3, calibration_min_clusters=3, random_state=1),
    "regression_per_galaxy_sigma": lambda: RidgeAgeModel(alpha=2.0, inner_folds=3, calibration_bin_edges=(), random_state=1),
    "gaussian_nn": lambda: GaussianNetworkAgeModel(**NETWORK),
    "nn_mse": lambda: GaussianNetworkAgeModel(learn_sigma=False, **NETWORK),
    "gaussian_nn_linear_branch": lambda: GaussianNetworkAgeModel(periodogram_branch="linear", branch_width=5, **NETWORK),
    "gaussian_nn_cnn_branch": lambda: GaussianNetworkAgeModel(periodogram_branch="cnn", branch_width=6, **{**NETWORK, "max_epochs": 2}),
    "per_galaxy_forest": lambda: PerGalaxy(RandomForestAgeModel(n_estimators=3, features=FEATURES, inner_folds=2, n_jobs=1)),
    "per_galaxy_network": lambda: PerGalaxy(GaussianNetworkAgeModel(**NETWORK)),
    "tuned_regression": lambda: TunedAgeModel(RidgeAgeModel(inner_folds=2), space={"alpha": {"low": 0.1, "high": 100.0, "log": True}},
                                              n_trials=2, random_state=4),
    "per_galaxy_tuned_forest": lambda: PerGalaxy(TunedAgeModel(RandomForestAgeModel(n_estimators=3, inner_folds=2, n_jobs=1),
                                                               space={"max_features": {"choices": [0.5, 1.0]}}, n_trials=2)),
    "gradient_boosting": lambda: GradientBoostingAgeModel(n_estimators=30, num_leaves=4, min_child_samples=5, features=FEATURES, inner_folds=2,
                                                          n_jobs=1, random_state=1),
    "gradient_boosting_refit": lambda: GradientBoostingAgeModel(n_estimators=30, min_child_samples=5, refit=True, inner_folds=2, n_jobs=1),
    "per_galaxy_gradient_boosting": lambda: PerGalaxy(GradientBoostingAgeModel(n_estimators=20, min_child_samples=3, features=FEATURES,
                                                                               inner_folds=2, n_jobs=1)),
    "combined": lambda: CombinedAgeModel(components=(RidgeAgeModel(alpha=2.0, inner_folds=3, random_state=1),
                                                     PerGalaxy(RandomForestAgeModel(n_estimators=3, features=FEATURES, inner_folds=2, n_jobs=1))),
                                         names=("regression", "per_galaxy_forest")),
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """36 clusters of 3 segments (the seeded synthetic table), a 'stitched' kind and a periodogram vector."""
    data = synthetic_model_input(n_clusters=36, segments_per_cluster=3, seed=5)
    data.loc[data.index % 3 == 2, "kind"] = "stitched"
    frequency = np.linspace(0.5, 6.0, BINS)
    power = np.sin(np.outer(data["signal"], frequency)) ** 2
    return pd.concat([data, pd.DataFrame(power, columns=[f"periodogram_{i}" for i in range(BINS)])], axis=1)


def fit(name: str, table: pd.DataFrame):
    return ESTIMATORS[name]().fit(table, table["log_age"], table["weight"], table["name"])


def bundle_of(models: dict) -> TrainedModels:
    return TrainedModels(
        models=models, model_info={n: ModelInfo(spec={"estimator": n}, cross_validation={"LMC": {"rmse": 0.31}}) for n in models},
        feature_columns=FEATURES + ["cluster_id"], identity_columns=["segment_id", "name", "galaxy", "kind", "weight", "log_age"],
        feature_ranges={"signal": {"p01": 6.9, "p99": 9.7, "min": 6.5, "max": 10.1}}, galaxies=["LMC", "MW", "SMC"], n_clusters=36,
        n_segments=108, provenance={"seed": 7, "augmentation": {"kinds": {"sector": True}}, "edges": (7.5, 8.0)},
        input_provenance={"created": "2026-01-01", "score": float("nan")}, versions={"python": "3.11.9"},
        recommended={"recommend_by": "nll", "galaxies": {"LMC": {"model": "random_forest", "pipeline": "random_forest", "why": "lowest"}}})


@pytest.fixture(scope="module")
def forest_file(tmp_path_factory, table) -> Path:
    path = tmp_path_factory.mktemp("models") / "random_forest.zip"
    save_models(bundle_of({"random_forest": fit("random_forest", table), "regression": fit("regression", table)}), path)
    return path


# ------------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_kind_predicts_identically_after_a_round_trip(name, table, tmp_path):
    model = fit(name, table)
    save_models(bundle_of({name: model}), tmp_path / "m.zip")
    loaded = read_models(tmp_path / "m.zip").models[name]
    assert type(loaded) is type(model)
    assert repr(loaded.get_params()) == repr(model.get_params())
    mu, sigma = model.predict(table, return_std=True)
    mu_loaded, sigma_loaded = loaded.predict(table, return_std=True)
    assert np.array_equal(mu_loaded, mu) and np.array_equal(sigma_loaded, sigma)
    # the predictor stored beside the estimator (what dating reads) gives the same bits
    mu_stored, sigma_stored = read_models(tmp_path / "m.zip").predictor(name).predict(table)
    assert np.array_equal(mu_stored, mu) and np.array_equal(sigma_stored, sigma)
    inner = getattr(getattr(model, "model_", model), "inner_predictions_", None)
    if inner is not None:
        pd.testing.assert_frame_equal(getattr(loaded, "model_", loaded).inner_predictions_, inner)


def test_the_sigma_scales_per_galaxy_and_predicted_age_bin_round_trip(table, tmp_path):
    model = fit("regression_by_predicted_age", table)
    save_models(bundle_of({"m": model}), tmp_path / "m.zip")
    stored = read_models(tmp_path / "m.zip").predictor("m")
    assert stored.calibration_bin_edges == (7.5, 8.0, 8.5, 9.0)
    assert stored.sigma_scale == model.sigma_scale_ and all(isinstance(k, tuple) for k in stored.sigma_scale)
    assert len(set(stored.sigma_scale.values())) > 4                  # bins with scales of their own, not only fallbacks
    assert stored.interval_scale == model.interval_scale_ and all(len(v) == 2 for v in stored.interval_scale.values())
    manifest = json.loads(zipfile.ZipFile(tmp_path / "m.zip").read(MANIFEST))
    assert manifest["format_version"] == FORMAT_VERSION == 5


def test_reading_never_unpickles(table, tmp_path, monkeypatch):
    import torch

    names = ["random_forest", "regression", "gaussian_nn_linear_branch", "per_galaxy_tuned_forest"]
    models = {name: fit(name, table) for name in names}
    save_models(bundle_of(models), tmp_path / "m.zip")

    def refuse(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    for module, name in ((pickle, "load"), (pickle, "loads"), (torch, "load"), (np, "load")):
        monkeypatch.setattr(module, name, refuse)
    loaded = read_models(tmp_path / "m.zip").models
    for name in names:
        assert np.array_equal(loaded[name].predict(table, return_std=True)[0], models[name].predict(table, return_std=True)[0])


def test_the_bundle_metadata_round_trips_with_its_types(forest_file):
    original = bundle_of({"random_forest": None, "regression": None})
    loaded = read_models(forest_file)
    assert loaded.metadata == {**original.metadata, "input_provenance": loaded.input_provenance}
    assert np.isnan(loaded.input_provenance["score"]) and loaded.provenance["edges"] == (7.5, 8.0)
    assert loaded.model_info["regression"] == ModelInfo(spec={"estimator": "regression"}, cross_validation={"LMC": {"rmse": 0.31}})
    manifest = json.loads(zipfile.ZipFile(forest_file).read(MANIFEST))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["estimators"]["regression"]["$estimator"]["class"] == "tess_cluster_age.models.linear:RidgeAgeModel"
    assert manifest["estimators"]["regression"]["$estimator"]["parameters"]["alpha"] == 2.0


def test_an_estimator_and_its_predictor_share_their_stored_arrays(forest_file):
    manifest = json.loads(zipfile.ZipFile(forest_file).read(MANIFEST))
    for name in ("random_forest", "regression"):
        estimator, predictor = _first_array(manifest["estimators"][name]), _first_array(manifest["predictors"][name])
        assert estimator == predictor            # the same bytes of the same buffer, stored once
    with zipfile.ZipFile(forest_file) as archive:
        size = archive.getinfo("arrays/000.bin").file_size
    forest = read_models(forest_file).models["random_forest"]
    tree_bytes = sum(nodes.nbytes + values.nbytes for m in forest.members_ for nodes, values in zip(m.nodes, m.values))
    assert size < 1.6 * tree_bytes               # stored twice it would be over 2x (the rest is 64-byte alignment and scalers)


def test_estimators_load_on_first_use_and_once(forest_file):
    models = read_models(forest_file).models
    assert list(models) == ["random_forest", "regression"] and "loaded []" in repr(models)
    assert models["regression"] is models["regression"]
    assert "loaded ['regression']" in repr(models)


def test_the_dictionary_layout_of_train_final_models_converts_both_ways(table):
    bundle = bundle_of({"regression": fit("regression", table)})
    again = TrainedModels.from_dict(bundle.to_dict())
    assert again.metadata == bundle.metadata and again.models["regression"] is bundle.models["regression"]
    with pytest.raises(ValueError, match=r"missing keys \['versions'\], unknown keys \['version'\]"):
        TrainedModels.from_dict({"models": {}, "metadata": {**{k: v for k, v in bundle.metadata.items() if k != "versions"}, "version": {}}})
    with pytest.raises(ValueError, match="must name the same models"):
        TrainedModels(**{**vars(bundle), "model_info": {}})


def test_strings_in_object_arrays_come_back_as_object_arrays(table, tmp_path):
    model = fit("regression", table)
    model.feature_names_in_ = np.array(["signal", "square"], dtype=object)     # scikit-learn's convention
    save_models(bundle_of({"regression": model}), tmp_path / "m.zip")
    loaded = read_models(tmp_path / "m.zip").models["regression"].feature_names_in_
    assert loaded.dtype == object and loaded.tolist() == ["signal", "square"]
    model.feature_names_in_ = np.array(["signal", 3], dtype=object)
    with pytest.raises(TypeError, match=r"regression.feature_names_in_: an object array is saved only when it holds strings"):
        save_models(bundle_of({"regression": model}), tmp_path / "m.zip")


def test_a_value_that_cannot_be_saved_is_named_with_its_place(table, tmp_path):
    model = fit("regression", table)
    model.helper_ = object()
    with pytest.raises(TypeError, match=r"regression.helper_: a builtins:object cannot be saved"):
        save_models(bundle_of({"regression": model}), tmp_path / "m.zip")


# ------------------------------------------------------------------------------------ refusals
class _Payload:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of a model file with ``change(name, bytes) -> bytes | None`` applied to each member (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            content = change(info.filename, old.read(info.filename))
            if content is not None:
                new.writestr(info.filename, content)
    return target


def _edit_manifest(source: Path, target: Path, edit) -> Path:
    def change(name, content):
        if name != MANIFEST:
            return content
        manifest = json.loads(content)
        edit(manifest)
        return json.dumps(manifest)

    return _rewrite(source, target, change)


def test_a_pickle_renamed_to_a_model_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "code-ran"
    file = tmp_path / "random_forest.zip"
    file.write_bytes(pickle.dumps({"models": {"random_forest": _Payload(marker)}, "metadata": {}}))
    with pytest.raises(ModelFileError, match=rf"^{file}: it is a pickle, which is never loaded because loading a pickle runs code"):
        read_models(file)
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_a_truncated_file_is_refused(forest_file, tmp_path, keep):
    content = forest_file.read_bytes()
    file = tmp_path / "cut.zip"
    file.write_bytes(content[: int(len(content) * keep)])
    with pytest.raises(ModelFileError, match=rf"^{file}: it is not a tess-cluster-age model file .* or it is truncated"):
        read_models(file)


@pytest.mark.parametrize("part", ["estimators", "predictors"])
def test_a_class_outside_the_allow_list_is_refused_before_it_is_imported(forest_file, tmp_path, part):
    if "wave" in sys.modules:
        pytest.skip("the stand-in module is already imported")

    def edit(manifest):
        tree = manifest[part]["regression"]
        members = tree["$estimator"]["fitted"]["members_"] if part == "estimators" else tree["$object"]["attributes"]["members"]
        members[0]["$object"]["attributes"]["scaler"]["$object"]["class"] = "wave:Wave_read"

    file = _edit_manifest(forest_file, tmp_path / "tampered.zip", edit)
    bundle = read_models(file)                      # estimators and predictors are rebuilt (and their classes checked) on first use
    assert bundle.models["random_forest"] is not None and bundle.predictor("random_forest") is not None
    where = "regression.members_" if part == "estimators" else "regression predictor.members"
    with pytest.raises(ModelFileError, match=rf"^{file}: {where}\[0\].scaler: class 'wave:Wave_read' is not one "
                                             r"this package's model files may hold; refused without importing it"):
        bundle.models["regression"] if part == "estimators" else bundle.predictor("regression")
    assert "wave" not in sys.modules


def test_an_attribute_that_would_replace_a_method_is_refused(forest_file, tmp_path):
    file = _edit_manifest(forest_file, tmp_path / "tampered.zip",
                          lambda m: m["estimators"]["regression"]["$estimator"]["fitted"].update(predict=[1.0]))
    with pytest.raises(ModelFileError, match=rf"^{file}: regression: attributes \['predict'\] would replace methods of "
                                             r"tess_cluster_age.models.linear:RidgeAgeModel"):
        read_models(file).models["regression"]


def test_an_entry_kind_that_this_format_does_not_have_is_refused(forest_file, tmp_path):
    file = _edit_manifest(forest_file, tmp_path / "tampered.zip",
                          lambda m: m["estimators"]["regression"]["$estimator"]["parameters"].update(alpha={"$pickle": "gASV..."}))
    with pytest.raises(ModelFileError, match=rf"^{file}: regression.parameters.alpha: unknown entry \['\$pickle'\]"):
        read_models(file).models["regression"]


def _first_array(tree):
    """The first ``$array`` entry of a manifest tree."""
    if isinstance(tree, dict):
        if "$array" in tree:
            return tree["$array"]
        tree = list(tree.values())
    for child in tree if isinstance(tree, list) else ():
        if (found := _first_array(child)) is not None:
            return found
    return None


@pytest.mark.parametrize(("change", "problem"), [
    ({"dtype": "|O"}, r"arrays of dtype '\|O' are never loaded \(numbers, booleans and text only\)"),
    ({"offset": 10**12}, r"array at byte 1000000000000 reaches beyond the \d+ bytes of arrays/001.bin"),
    ({"shape": [-1]}, r"array shape \[-1\] is not a list of sizes"),
])
def test_an_array_entry_that_asks_for_objects_or_bytes_outside_its_buffer_is_refused(forest_file, tmp_path, change, problem):
    file = _edit_manifest(forest_file, tmp_path / "tampered.zip", lambda m: _first_array(m["estimators"]["regression"]).update(change))
    models = read_models(file).models           # the arrays are read with the model
    with pytest.raises(ModelFileError, match=rf"^{file}: regression.*: {problem}"):
        models["regression"]


def test_a_pickle_in_place_of_an_array_buffer_is_never_run(forest_file, tmp_path):
    marker = tmp_path / "code-ran"
    payload = pickle.dumps([_Payload(marker)] * 1000)
    file = _rewrite(forest_file, tmp_path / "tampered.zip", lambda name, content: payload if name == "arrays/001.bin" else content)
    models = read_models(file).models
    try:
        models["regression"].predict(synthetic_model_input(n_clusters=3), return_std=True)
    except (ModelFileError, ValueError):
        pass                                    # the bytes are read as numbers: refused or nonsense, never run
    assert not marker.exists()


@pytest.mark.parametrize("child", [10**9, 0])              # far outside the node table; back to the root (a loop)
def test_a_tree_whose_nodes_point_outside_it_or_loop_is_refused(tmp_path, table, child):
    forest = fit("random_forest", table)
    forest.members_[0].nodes[3]["left_child"][0] = child  # a crafted child of the root of tree 3
    save_models(bundle_of({"random_forest": forest}), tmp_path / "crafted.zip")
    bundle = read_models(tmp_path / "crafted.zip")
    with pytest.raises(ModelFileError, match=rf"^{tmp_path / 'crafted.zip'}: random_forest.members_\[0\]: tree 3: "
                                             r"1 nodes point outside the tree, back up it"):
        bundle.models["random_forest"]
    with pytest.raises(ModelFileError, match=rf"^{tmp_path / 'crafted.zip'}: random_forest predictor.members\[0\]: tree 3: "):
        bundle.predictor("random_forest")


def test_a_damaged_array_is_refused(forest_file, tmp_path):
    # flip one byte in the stored (compressed) data of the largest array: zip's CRC-32 catches it
    with zipfile.ZipFile(forest_file) as archive:
        largest = max((i for i in archive.infolist() if i.filename.startswith("arrays/")), key=lambda i: i.compress_size)
    raw = bytearray(forest_file.read_bytes())
    start = largest.header_offset + 30 + len(largest.filename.encode()) + len(largest.extra)
    raw[start + largest.compress_size // 2] ^= 0xFF
    file = tmp_path / "damaged.zip"
    file.write_bytes(bytes(raw))
    models = read_models(file).models
    with pytest.raises(ModelFileError, match=rf"^{file}: .*{largest.filename} is damaged or missing \(.*(CRC|invalid)"):
        [models[name] for name in models]


def test_a_zip_that_is_not_a_model_file_is_refused(tmp_path):
    file = tmp_path / "photos.zip"
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr("cluster.png", b"\x89PNG")
    with pytest.raises(ModelFileError, match=rf"^{file}: a zip archive without manifest.json: not a tess-cluster-age model file"):
        read_models(file)


@pytest.mark.parametrize(("version", "needs"), [
    (FORMAT_VERSION + 1, rf"written in model-file format {FORMAT_VERSION + 1} by tess-cluster-age 9.0.0; this tess-cluster-age "
                         rf"\(0.1.0\) reads format {FORMAT_VERSION} only. It needs a newer tess-cluster-age: upgrade it"),
    (1, rf"written in model-file format 1 by tess-cluster-age 9.0.0; this tess-cluster-age \(0.1.0\) reads format {FORMAT_VERSION} "
        r"only. It needs the tess-cluster-age that wrote it \(9.0.0\), or retrain the models with this one"),
])
def test_a_file_of_another_format_version_says_which_version_it_needs(forest_file, tmp_path, version, needs):
    def edit(manifest):
        manifest["format_version"] = version
        manifest["written_with"]["tess-cluster-age"] = "9.0.0"

    file = _edit_manifest(forest_file, tmp_path / "other.zip", edit)
    with pytest.raises(ModelFileError, match=rf"^{file}: {needs}$"):
        read_models(file)


# ------------------------------------------------------------------------------------ folders
def _versioned(folder: Path, pipeline: str, version: str, source: Path) -> Path:
    target = folder / f"{pipeline}.zip" / version / f"{pipeline}.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    return target


def test_load_models_reads_a_project_a_copied_folder_or_one_file(forest_file, tmp_path, table):
    project = tmp_path / "project"
    (project / "conf" / "base").mkdir(parents=True)
    (project / "conf" / "base" / "globals.yml").write_text("data_dir: outputs\n")
    models = project / "outputs" / "06_models"
    other = tmp_path / "other.zip"
    save_models(bundle_of({"regression": fit("regression", table)}), other)
    _versioned(models, "random_forest", "2026-01-01T00.00.00.000Z", other)
    newest = _versioned(models, "random_forest", "2026-02-01T00.00.00.000Z", forest_file)
    _versioned(models, "regression", "2026-01-05T00.00.00.000Z", other)
    (models / "random_forest.pkl").mkdir()                              # an old pickle: never read
    assert find_model_file(models, "random_forest") == newest
    assert find_model_file(models, "random_forest", "2026-01-01T00.00.00.000Z").parent.name == "2026-01-01T00.00.00.000Z"
    assert find_model_file(models, "gaussian_nn") is None
    found = load_models(project)
    assert list(found) == ["random_forest", "regression"] and list(found["random_forest"].models) == ["random_forest", "regression"]
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "random_forest.zip").write_bytes(forest_file.read_bytes())
    assert list(load_models(copy)) == ["random_forest"]
    assert list(load_models(copy / "random_forest.zip")["random_forest"].models) == ["random_forest", "regression"]


def test_load_models_says_why_a_folder_holds_no_model(tmp_path):
    (tmp_path / "random_forest.pkl").write_bytes(b"\x80\x05")
    with pytest.raises(FileNotFoundError, match=r"no trained model file; it holds pickled models \(random_forest.pkl\) of an older "
                                                r"tess-cluster-age, which are never loaded"):
        load_models(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"missing: no such model file or folder"):
        load_models(tmp_path / "missing")
