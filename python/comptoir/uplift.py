"""Uplift meta-learners over comptoir's own base models: who needs an offer to buy.

``fit(X, treatment, y)`` with ``treatment`` 0 for control and 1..K for the offers;
``predict(X)`` returns the estimated effect of each offer against control, shape (rows, K).
Binary outcomes (conversion, visit) for now; the base learner defaults to comptoir's
``LogisticRegression``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np

from ._base import Estimator
from ._tabular import matrix as _matrix
from .propensity import LogisticRegression


def _arms(treatment: Any) -> np.ndarray:
    treatment = np.asarray(treatment)
    if treatment.ndim != 1 or not np.issubdtype(treatment.dtype, np.integer):
        raise ValueError("treatment must be a 1-D integer array: 0 for control, 1..K for the offers")
    arms = np.unique(treatment)
    if arms[0] != 0 or len(arms) < 2 or not np.array_equal(arms, np.arange(len(arms))):
        raise ValueError(f"treatment arms must be 0 (control) and 1..K with every arm present, got {arms.tolist()}")
    return arms


def _binary(y: Any, treatment: np.ndarray, arms: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if np.isnan(y).any():
        raise ValueError(f"outcome has NaN at rows {np.flatnonzero(np.isnan(y))[:5].tolist()}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("the meta-learners here take a binary outcome (0/1)")
    for arm in arms:
        if not 0 < y[treatment == arm].sum() < (treatment == arm).sum():
            raise ValueError(f"arm {arm} has only one outcome class: its response cannot be modelled")
    return y.astype(np.uint8)


class _MetaLearner(Estimator):
    _param_names = ("base_learner",)

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None) -> None:
        self.base_learner = base_learner

    def _new_model(self) -> Any:
        return self.base_learner() if self.base_learner is not None else LogisticRegression(C=1.0)

    def _fitted(self) -> Any:
        if not hasattr(self, "models_"):
            from .exceptions import not_fitted_error

            raise not_fitted_error(f"this {type(self).__name__} is not fitted yet: call fit() first")
        return self.models_

    def __getstate__(self) -> Dict[str, Any]:
        return self.__dict__.copy()  # the base models pickle themselves

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)


class TLearner(_MetaLearner):
    """One response model per arm; the effect is the difference of their predicted probabilities."""

    def fit(self, X: Any, treatment: Any, y: Any) -> "TLearner":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        labels = _binary(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        self.models_ = [self._new_model().fit(matrix[treatment == a], labels[treatment == a]) for a in arms]
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        p = np.column_stack([m.predict_proba(matrix)[:, 1] for m in self._fitted()])
        return p[:, 1:] - p[:, :1]


class SLearner(_MetaLearner):
    """One model on the features, the arm indicators and their interactions with the features;
    the effect is its prediction with each offer switched on minus with none."""

    def _design(self, matrix: np.ndarray, arm: int, arms: int) -> np.ndarray:
        indicators = np.zeros((len(matrix), arms - 1))
        if arm > 0:
            indicators[:, arm - 1] = 1
        interactions = (indicators[:, :, None] * matrix[:, None, :]).reshape(len(matrix), -1)
        return np.c_[matrix, indicators, interactions]

    def fit(self, X: Any, treatment: Any, y: Any) -> "SLearner":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        labels = _binary(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        self.num_arms_ = len(arms)
        design = np.concatenate([self._design(matrix[treatment == a], a, len(arms)) for a in arms])
        order = np.concatenate([labels[treatment == a] for a in arms])
        self.models_ = [self._new_model().fit(design, order)]
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        model = self._fitted()[0]
        p = np.column_stack([model.predict_proba(self._design(matrix, a, self.num_arms_))[:, 1] for a in range(self.num_arms_)])
        return p[:, 1:] - p[:, :1]


class ClassTransformation(_MetaLearner):
    """Jaskowski and Jaroszewicz's class transformation, per offer against control: with the two
    groups reweighted to equal size, z = 1 for treated buyers and control non-buyers, and the
    uplift is 2 P(z = 1 | x) - 1."""

    def fit(self, X: Any, treatment: Any, y: Any) -> "ClassTransformation":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        labels = _binary(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        self.models_ = []
        for arm in arms[1:]:
            rows = (treatment == 0) | (treatment == arm)
            treated = treatment[rows] == arm
            z = np.where(treated, labels[rows], 1 - labels[rows])
            weight = np.where(treated, 0.5 / treated.mean(), 0.5 / (1 - treated.mean()))
            self.models_.append(self._new_model().fit(matrix[rows], z, sample_weight=weight))
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        return np.column_stack([2 * m.predict_proba(matrix)[:, 1] - 1 for m in self._fitted()])
