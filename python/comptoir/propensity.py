"""Propensity models in the scikit-learn shape: ``fit``, ``predict_proba``, ``get_params``,
``clone`` and pickle work as usual; pandas frames are accepted and their column names are checked
at prediction time; ``explain`` gives per-feature contributions that add up to the log-odds."""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from . import _core
from ._base import ClassifierMixin, Estimator
from ._progress import make_progress
from . import _tabular


class LogisticRegression(ClassifierMixin, Estimator):
    """L1 or L2 logistic regression fitted to its optimum by proximal Newton in C++.

    ``C`` has scikit-learn's meaning (inverse penalty strength on the summed log loss), so the same
    ``C`` gives the same optimum as ``sklearn.linear_model.LogisticRegression``."""

    def __init__(self, C: float = 1.0, penalty: str = "l2", fit_intercept: bool = True, max_iter: int = 100,
                 tol: float = 1e-10, n_jobs: int = 0, verbose: Any = False) -> None:
        self.C = C
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.verbose = verbose

    _param_names = ("C", "penalty", "fit_intercept", "max_iter", "tol", "n_jobs", "verbose")

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.propensity.LogisticRegression.from_bytes(data)

    def fit(self, X: Any, y: Any, sample_weight: Optional[Any] = None) -> "LogisticRegression":
        if self.penalty not in ("l1", "l2"):
            raise ValueError(f"penalty must be 'l1' or 'l2', got {self.penalty!r}")
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        matrix = _tabular.matrix(X, self, fitting=True)
        labels = _tabular.binary_labels(y, self)
        weights = _tabular.sample_weights(sample_weight, len(labels))
        total = len(labels) if weights is None else float(weights.sum())
        strength = 1.0 / (self.C * total)
        self.model_ = _core.propensity.LogisticRegression.fit(
            matrix, labels, weights, strength if self.penalty == "l2" else 0.0, strength if self.penalty == "l1" else 0.0,
            bool(self.fit_intercept), int(self.max_iter), float(self.tol), int(self.n_jobs), make_progress(self.verbose),
        )
        _tabular.attach_schema(self)
        self._restore_from_model()
        return self

    def _restore_from_model(self) -> None:
        model = self.model_
        self.coef_ = model.coefficients.reshape(1, -1)
        self.intercept_ = np.array([model.intercept])
        self.n_iter_ = np.array([model.iterations])
        self.n_features_in_ = len(model.coefficients)
        if not hasattr(self, "classes_"):
            self.classes_ = np.array([0, 1])  # a model file keeps the positive class as 1

    def decision_function(self, X: Any) -> np.ndarray:
        model = self._fitted()
        return model.decision_function(_tabular.matrix(X, self, fitting=False), int(self.n_jobs))

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self.decision_function(X)
        p = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        return np.c_[1 - p, p]

    def predict(self, X: Any) -> np.ndarray:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def explain(self, X: Any) -> Any:
        """Per-feature contributions coef_j * (x_j - training mean_j) and a ``base_value`` column;
        each row adds up exactly to the log-odds. A DataFrame when X was one."""
        contributions = self._fitted().contributions(_tabular.matrix(X, self, fitting=False, check_drift=False))
        if hasattr(X, "columns"):
            import pandas as pd

            return pd.DataFrame(contributions, columns=list(X.columns) + ["base_value"], index=X.index)
        return contributions


class CalibratedClassifier:
    """Calibrates an already-fitted classifier on held-out data: ``method="isotonic"`` (pool
    adjacent violators) or ``"sigmoid"`` (Platt)."""

    def __init__(self, estimator: Any, method: str = "isotonic") -> None:
        self.estimator = estimator
        self.method = method

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        return {"estimator": self.estimator, "method": self.method}

    def fit(self, X: Any, y: Any) -> "CalibratedClassifier":
        scores = self.estimator.predict_proba(X)[:, 1]
        labels = (np.asarray(y) == self.estimator.classes_[1]).astype(np.uint8)
        self.classes_ = self.estimator.classes_
        if self.method == "isotonic":
            self.calibrator_ = _core.propensity.IsotonicCalibration.fit(scores, labels)
        elif self.method == "sigmoid":
            self.platt_ = _core.propensity.fit_platt(scores, labels)
        else:
            raise ValueError(f"method must be 'isotonic' or 'sigmoid', got {self.method!r}")
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = self.estimator.predict_proba(X)[:, 1]
        if self.method == "isotonic":
            p = self.calibrator_.calibrate(scores)
        else:
            a, b = self.platt_
            p = 1 / (1 + np.exp(-(a * scores + b)))
        return np.c_[1 - p, p]
