"""Hyperparameter search with optuna on inner cluster-grouped folds of the training clusters only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from tess_cluster_age.models.base import AgeModel, as_arrays

logger = logging.getLogger(__name__)


def suggest(trial: Any, name: str, space: Mapping[str, Any]) -> Any:
    """One value from a search-space entry: ``{choices: [...]}`` or ``{low, high, log?, step?}``.

    The type follows ``low``/``high``: integers give an integer parameter, floats a float one.
    """
    if "choices" in space:
        choices = [tuple(c) if isinstance(c, list) else c for c in space["choices"]]
        index = trial.suggest_categorical(name, list(range(len(choices))))
        return choices[index]
    low, high = space["low"], space["high"]
    if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
        return trial.suggest_int(name, low, high, log=bool(space.get("log", False)))
    return trial.suggest_float(name, float(low), float(high), log=bool(space.get("log", False)))


class TunedAgeModel(AgeModel):
    """Chooses the parameters of ``estimator`` by optuna's TPE sampler, then is that fitted model.

    Each trial fits ``clone(estimator).set_params(**trial)`` on the training rows it is given; its
    score is the cluster RMSE of the estimator's own inner out-of-fold predictions
    (``inner_cluster_rmse_``), so only training clusters are ever used to choose. The best trial's
    fitted model is kept (it was fitted on exactly these rows).

    Args:
        estimator: a :class:`CalibratedAgeModel`.
        space: ``{parameter: {low, high[, log]} | {choices: [...]}}``.
        n_trials: trials (0 = keep the estimator's own parameters).
        random_state: seed of the sampler.
    """

    def __init__(self, estimator: AgeModel, space: Mapping[str, Any] | None = None, n_trials: int = 0, random_state: int = 0):
        self.estimator = estimator
        self.space = space
        self.n_trials = n_trials
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None, groups=None) -> "TunedAgeModel":
        y, weight, groups = as_arrays(X, y, sample_weight, groups)
        if not self.n_trials or not self.space:
            self.best_params_, self.best_score_ = {}, float("nan")
            self.model_ = clone(self.estimator).fit(X, y, weight, groups)
            self.n_features_in_ = self.model_.n_features_in_
            return self
        import optuna  # imported here: seconds to import, and only tuning needs it

        fitted: dict[int, AgeModel] = {}

        def objective(trial: optuna.Trial) -> float:
            params = {name: suggest(trial, name, entry) for name, entry in self.space.items()}
            model = clone(self.estimator).set_params(**params).fit(X, y, weight, groups)
            fitted[trial.number] = model
            return model.inner_cluster_rmse_

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=self.random_state))
        study.optimize(objective, n_trials=int(self.n_trials))
        best = study.best_trial
        self.best_params_ = {name: suggest(optuna.trial.FixedTrial(best.params), name, entry) for name, entry in self.space.items()}
        self.best_score_ = float(best.value)
        self.model_ = fitted[best.number]
        self.n_features_in_ = self.model_.n_features_in_
        logger.info("tuned %s on %d training clusters (%d trials): %s, inner cluster RMSE %.3f", type(self.estimator).__name__,
                    len(np.unique(groups)), int(self.n_trials), self.best_params_, self.best_score_)
        return self

    def predictor(self):
        """The tuned model's predictor."""
        return self.model_.predictor()

    def inner_out_of_fold(self) -> pd.DataFrame:
        """The tuned model's inner out-of-fold predictions."""
        return self.model_.inner_out_of_fold()
