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
from .exceptions import InvalidArgumentError


class LogisticRegression(ClassifierMixin, Estimator):
    """L1 or L2 logistic regression fitted to its optimum by proximal Newton in C++.

    ``C`` has scikit-learn's meaning (inverse penalty strength on the summed log loss), so the same
    ``C`` gives the same optimum as ``sklearn.linear_model.LogisticRegression``; ``n_jobs=-1`` is
    every core and ``verbose=-1`` silent, as there. ``drift_check=False`` turns off the
    DriftWarning of predictions."""

    def __init__(self, C: float = 1.0, penalty: str = "l2", fit_intercept: bool = True, max_iter: int = 100,
                 tol: float = 1e-10, n_jobs: int = 0, verbose: Any = False, drift_check: bool = True) -> None:
        self.C = C
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.drift_check = drift_check

    _param_names = ("C", "penalty", "fit_intercept", "max_iter", "tol", "n_jobs", "verbose", "drift_check")

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.propensity.LogisticRegression.from_bytes(data)

    def fit(self, X: Any, y: Any, sample_weight: Optional[Any] = None) -> "LogisticRegression":
        if self.penalty not in ("l1", "l2"):
            raise InvalidArgumentError(f"penalty must be 'l1' or 'l2', got {self.penalty!r}")
        if not self.C > 0:
            raise InvalidArgumentError(f"C must be positive, got {self.C}")
        matrix = _tabular.matrix(X, self, fitting=True)
        labels = _tabular.binary_labels(y, self)
        weights = _tabular.sample_weights(sample_weight, len(labels))
        config = _core.propensity.LogisticRegressionConfig()
        for name in ("C", "penalty", "fit_intercept", "max_iter", "tol"):
            setattr(config, name, getattr(self, name))
        self.model_ = _core.propensity.LogisticRegression.fit(matrix, labels, weights, config, _tabular.threads(self.n_jobs),
                                                              make_progress(_tabular.verbosity(self.verbose)))
        _tabular.attach_schema(self)
        self._restore_from_model()
        return self

    def _restore_from_model(self) -> None:
        model = self.model_
        self.coef_ = model.coefficients.reshape(1, -1)
        self.intercept_ = np.array([model.intercept])
        self.n_iter_ = np.array([model.iterations])
        _tabular.restore_schema(self, model)

    def decision_function(self, X: Any) -> np.ndarray:
        model = self._fitted()
        return model.decision_function(_tabular.matrix(X, self, fitting=False), _tabular.threads(self.n_jobs))

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


def _calibration_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """1 for the base model's positive class, 0 for its negative one; labels that are not its
    classes (by value and kind) are refused, naming both sets."""
    from .exceptions import InvalidArgumentError

    text = {"O", "U", "S"}
    found = np.unique(y)
    same_kind = (y.dtype.kind in text) == (classes.dtype.kind in text) and \
        (y.dtype.kind == "b") == (classes.dtype.kind == "b")
    if not same_kind or not np.isin(found, classes).all():
        raise InvalidArgumentError(f"the calibration labels {found[:10].tolist()} are not the base model's classes "
                                   f"{classes.tolist()}: give y in the labels the base model was fitted on")
    if len(found) < 2:
        raise InvalidArgumentError(f"the calibration labels hold only the class {found.tolist()}: calibration needs "
                                   f"both of {classes.tolist()}")
    return (y == classes[1]).astype(np.uint8)


class CalibratedClassifier(ClassifierMixin, Estimator):
    """Calibrates an already-fitted classifier on held-out data: ``method="isotonic"`` (pool
    adjacent violators) or ``"sigmoid"`` (Platt scaling of its probabilities).

    ``fit`` leaves ``estimator`` as it is and fits only the map of its probabilities
    (``calibrator_``). Any classifier with ``predict_proba`` can be calibrated; saving (``save``,
    ``to_bytes``, pickling) needs a comptoir classifier, whose model file is nested in this one
    (model kind ``calibrated_classifier``, which ``comptoir::LoadModel`` serves from C++), and
    ``load`` restores the fitted classifier with it."""

    _param_names = ("estimator", "method")

    def __init__(self, estimator: Any, method: str = "isotonic") -> None:
        self.estimator = estimator
        self.method = method

    def fit(self, X: Any, y: Any) -> "CalibratedClassifier":
        """Fits the map of the base classifier's probabilities on held-out ``X``, ``y``. The labels
        are matched by value against the base's ``classes_``: labels of another kind (0/1 for a
        base fitted on 'no'/'yes') are an InvalidArgumentError naming both sets."""
        if self.method not in ("isotonic", "sigmoid"):
            raise InvalidArgumentError(f"method must be 'isotonic' or 'sigmoid', got {self.method!r}")
        classes = getattr(self.estimator, "classes_", None)
        if classes is None or len(classes) != 2:
            raise InvalidArgumentError("CalibratedClassifier calibrates a fitted binary classifier: fit the estimator first")
        classes = np.asarray(classes)
        labels = _calibration_labels(_tabular.targets(y), classes)
        scores = np.ascontiguousarray(self.estimator.predict_proba(X)[:, 1], dtype=np.float64)
        if len(scores) != len(labels):
            raise InvalidArgumentError(f"X has {len(scores)} rows but y has {len(labels)}")
        self.classes_ = classes
        fitter = _core.propensity.IsotonicCalibration if self.method == "isotonic" else _core.propensity.PlattScaling
        self.calibrator_ = fitter.fit(scores, labels)
        self.__dict__.pop("model_", None)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self._calibrator().calibrate(np.ascontiguousarray(self.estimator.predict_proba(X)[:, 1], dtype=np.float64))
        return np.c_[1 - p, p]

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    def explain(self, X: Any) -> Any:
        """The calibrated classifier's reasons: its base classifier's contributions to the raw score
        (log-odds). Calibration is monotone, so the reasons keep their order and sign; the C++
        composite serves the same."""
        self._calibrator()
        return self.estimator.explain(X)

    def _calibrator(self) -> Any:
        calibrator = getattr(self, "calibrator_", None)
        if calibrator is None:
            from .exceptions import not_fitted_error

            raise not_fitted_error("this CalibratedClassifier is not fitted yet: call fit() or load() first")
        return calibrator

    def _check_saveable(self) -> None:
        base = self.estimator
        if not (isinstance(base, Estimator) and hasattr(base, "model_")):
            raise InvalidArgumentError(f"a CalibratedClassifier around a {type(base).__module__}.{type(base).__name__} cannot "
                             "be saved: only comptoir classifiers have model files (calibrate a fitted comptoir "
                             "GradientBoostingClassifier or LogisticRegression to save it)")

    def _encode_param(self, name: str, value: Any) -> Any:
        if name == "estimator":
            self._check_saveable()
        return super()._encode_param(name, value)

    def _fitted(self) -> Any:
        """The C++ composite (base model file and calibrator), built when first asked for."""
        model = getattr(self, "model_", None)
        if model is None:
            calibrator = self._calibrator()
            self._check_saveable()
            self.model_ = model = _core.propensity.CalibratedClassifier.create(self.estimator.to_bytes(), calibrator)
        return model

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.propensity.CalibratedClassifier.from_bytes(data)

    def _restore_from_model(self) -> None:
        # The nested file is the base estimator's complete file: its record, parameters and labels.
        import json

        from ._base import ESTIMATOR_BLOB, class_path

        # The nested file is the base model's C++ file; this file's record holds the base's class and
        # parameters (self.estimator as decoded), which make it a complete estimator file again.
        base = self.estimator
        record = {"class": class_path(type(base)),
                  "params": {k: base._encode_param(k, v) for k, v in base.get_params(deep=False).items()}}
        data = _core.io.with_blobs(self.model_.base_bytes(), {ESTIMATOR_BLOB: json.dumps(record).encode()})
        self.estimator = type(base).from_bytes(data)
        self.calibrator_ = self.model_.calibrator
        self.method = self.model_.method
        self.classes_ = self.estimator.classes_
        self.n_features_in_ = self.estimator.n_features_in_
        if hasattr(self.estimator, "feature_names_in_"):
            self.feature_names_in_ = self.estimator.feature_names_in_

    def _saveable(self) -> bool:
        return isinstance(self.estimator, Estimator) and hasattr(self, "calibrator_")

    def __getstate__(self) -> Dict[str, Any]:
        if self._saveable():
            return {"model_file": self.to_bytes()}
        return self.__dict__.copy()

    def __setstate__(self, state: Dict[str, Any]) -> None:
        if "model_file" in state:
            state = type(self).from_bytes(state["model_file"]).__dict__
        self.__dict__.update(state)
