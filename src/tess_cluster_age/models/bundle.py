"""The trained models of one model pipeline, with what dating needs to use them: :class:`TrainedModels`.

Training (``train_final_models``) makes one bundle per model pipeline; the catalog saves it as a
model file (:mod:`tess_cluster_age.models.persistence`), and dating reads it back. The bundle holds
the fitted estimators and, for each, its parameters entry, tuned parameters and cross-validated
skill, plus what the pipeline shares: the feature columns and their training ranges (for the
out-of-range flag), the parameters that built the features (``provenance``, so that a new cluster
gets exactly the training features) and the package versions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

METADATA_KEYS = ("feature_columns", "identity_columns", "feature_ranges", "galaxies", "n_clusters", "n_segments", "models",
                 "provenance", "input_provenance", "versions", "recommended")
"""Keys of the ``metadata`` mapping of the dictionary layout (:meth:`TrainedModels.to_dict`)."""

OPTIONAL_METADATA_KEYS = ("recommended",)
"""Metadata keys a bundle may lack (only the last model pipeline's bundle records a recommendation)."""

RANGE_KEYS = ("p01", "p99", "min", "max")
"""Statistics of a feature's training values kept for the out-of-range flag (percentiles and extremes)."""


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What training records about one saved model besides the fitted estimator.

    Attributes:
        spec: its ``models:`` entry in ``parameters_<pipeline>.yml`` (``estimator``, ``options``,
            ``per_galaxy``, ``periodogram`` ...).
        tuned_parameters: the parameters chosen by tuning (``{}`` when untuned; per galaxy for a
            per-galaxy model).
        cross_validation: per galaxy (and ``all``), the cluster-level cross-validated metrics
            (``rmse``, ``skill``, ``cov68``, ``cov95`` and the RMSE difference to the galaxy-mean
            baseline with its 95 % bootstrap interval, ``rmse_diff``, ``rmse_diff_lo95``,
            ``rmse_diff_hi95``; dex).
    """

    spec: Mapping[str, Any]
    tuned_parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cross_validation: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"spec": dict(self.spec), "tuned_parameters": dict(self.tuned_parameters),
                "cross_validation": {galaxy: dict(metrics) for galaxy, metrics in self.cross_validation.items()}}


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedModels:
    """The fitted models of one model pipeline and what predicting with them needs.

    Attributes:
        models: model name -> fitted estimator (``predict(X, return_std=True) -> (mu, sigma)``, dex). A bundle
            read from a model file loads each estimator on first access.
        model_info: model name -> :class:`ModelInfo` (the same names, in the same order).
        feature_columns: the scalar feature columns of the training table.
        identity_columns: its identity, weight and label columns.
        feature_ranges: feature -> ``{"p01", "p99", "min", "max"}`` of its training values.
        galaxies: host galaxies of the training clusters.
        n_clusters, n_segments: size of the training set.
        provenance: the parameter sections that produced the training features (``ingestion``,
            ``augmentation``, ``classic_features``, ``invariant_features``, ``model_input``,
            ``seed``); dating rebuilds a new cluster's features with them.
        input_provenance: the provenance record the training table carried
            (:mod:`tess_cluster_age.provenance`), or None.
        versions: Python and package versions at training time.
        predictors: model name -> its fitted predictor, when read from a model file (which stores
            them); None: each estimator's ``predictor()``. See :meth:`predictor`.
        recommended: the recommended model of each galaxy among every saved model of the project
            when this bundle was trained, and why (``{"recommend_by": metric, "galaxies": {galaxy:
            {"model", "pipeline", "why"}}}``); empty for a bundle that records none. The combined
            pipeline, trained last, records it (:func:`tess_cluster_age.dating.recommended_models`).
    """

    models: Mapping[str, Any]
    model_info: Mapping[str, ModelInfo]
    feature_columns: tuple[str, ...]
    identity_columns: tuple[str, ...]
    feature_ranges: Mapping[str, Mapping[str, float]]
    galaxies: tuple[str, ...]
    n_clusters: int
    n_segments: int
    provenance: Mapping[str, Any]
    input_provenance: Mapping[str, Any] | None
    versions: Mapping[str, str]
    predictors: Mapping[str, Any] | None = None
    recommended: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def predictor(self, name: str) -> Any:
        """Model ``name``'s fitted predictor (:mod:`tess_cluster_age.models.predictors`,
        ``predict(X) -> (mu, sigma)``, dex). From a model file it is read without rebuilding the
        estimator, so a network's needs neither PyTorch nor scikit-learn."""
        if self.predictors is not None:
            return self.predictors[name]
        return self.models[name].predictor()

    def __post_init__(self) -> None:
        for name in ("feature_columns", "identity_columns", "galaxies"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        info = {name: entry if isinstance(entry, ModelInfo) else ModelInfo(**entry) for name, entry in self.model_info.items()}
        object.__setattr__(self, "model_info", info)
        problems = []
        if list(self.models) != list(info):
            problems.append(f"models {list(self.models)} and model_info {list(info)} must name the same models in the same order")
        unknown = sorted(set(self.feature_ranges) - set(self.feature_columns))
        if unknown:
            problems.append(f"feature_ranges of {unknown}, which are not feature columns")
        bad = sorted(f for f, r in self.feature_ranges.items() if set(r) != set(RANGE_KEYS))
        if bad:
            problems.append(f"feature_ranges of {bad} must hold exactly {list(RANGE_KEYS)}")
        for name in ("n_clusters", "n_segments"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(f"{name} = {value!r}: an integer >= 0 is required")
        if problems:
            raise ValueError("TrainedModels: " + "; ".join(problems))

    @property
    def metadata(self) -> dict[str, Any]:
        """Everything but the estimators, in the dictionary layout (``metadata`` of :meth:`to_dict`)."""
        return {
            "feature_columns": list(self.feature_columns),
            "identity_columns": list(self.identity_columns),
            "feature_ranges": {feature: dict(ranges) for feature, ranges in self.feature_ranges.items()},
            "galaxies": list(self.galaxies),
            "n_clusters": self.n_clusters,
            "n_segments": self.n_segments,
            "models": {name: info.to_dict() for name, info in self.model_info.items()},
            "provenance": self.provenance,
            "input_provenance": self.input_provenance,
            "versions": dict(self.versions),
            "recommended": dict(self.recommended),
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"models": {name: estimator}, "metadata": {...}}``: the layout of the former pickled bundle
        (loads every estimator)."""
        return {"models": dict(self.models), "metadata": self.metadata}

    @classmethod
    def from_dict(cls, bundle: Mapping[str, Any]) -> TrainedModels:
        """The bundle from the dictionary layout of :meth:`to_dict` (``train_final_models`` returned it).

        Raises:
            ValueError: a key is missing or unknown (all of them are named).
        """
        if not isinstance(bundle, Mapping) or set(bundle) != {"models", "metadata"}:
            keys = sorted(bundle) if isinstance(bundle, Mapping) else type(bundle).__name__
            raise ValueError(f"a trained-models bundle is {{'models': ..., 'metadata': ...}}; got {keys}")
        metadata = bundle["metadata"]
        missing = [k for k in METADATA_KEYS if k not in metadata and k not in OPTIONAL_METADATA_KEYS]
        unknown = sorted(set(metadata) - set(METADATA_KEYS))
        if missing or unknown:
            raise ValueError(f"trained-models metadata: missing keys {missing}, unknown keys {unknown}; expected {list(METADATA_KEYS)}")
        fields = {k: metadata[k] for k in METADATA_KEYS if k != "models" and k in metadata}
        return cls(models=bundle["models"], model_info=dict(metadata["models"]), **fields)
