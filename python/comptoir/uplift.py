"""Uplift meta-learners over comptoir's own base models: who needs an offer to buy.

``fit(X, treatment, y)`` with ``treatment`` 0 for control and 1..K for the offers;
``predict(X)`` returns the estimated effect of each offer against control, shape (rows, K).
Outcomes are binary (conversion, visit: response models are classifiers, ``base_learner``,
comptoir's ``LogisticRegression`` by default) or continuous (spend: response models are regressors,
``regressor``, comptoir's ``GradientBoostingRegressor`` by default). The X- and doubly-robust
learners regress imputed effects with ``regressor`` and explain each customer's predicted effect
with its TreeSHAP contributions.

Propensities: by default the data are taken as a randomised experiment, so the chance of each arm
is its share of the rows; pass ``propensity_learner`` (a classifier factory) for observational
data, where it is fitted per offer against control.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from . import _core
from ._base import Estimator
from ._progress import make_progress
from ._tabular import attach_schema as _attach_schema
from ._tabular import mark_inner
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


def _outcome(y: Any, treatment: np.ndarray, arms: np.ndarray, binary_only: bool = False) -> Tuple[np.ndarray, bool]:
    """(outcome as float64, whether it is binary), every arm checked to have something to model."""
    y = np.asarray(y, dtype=float)
    if y.shape != treatment.shape:
        raise ValueError(f"outcome has shape {y.shape} but treatment has {treatment.shape}")
    if np.isnan(y).any():
        raise ValueError(f"outcome has NaN at rows {np.flatnonzero(np.isnan(y))[:5].tolist()}")
    binary = bool(np.isin(y, (0, 1)).all())
    if binary_only and not binary:
        raise ValueError("this learner takes a binary outcome (0/1)")
    for arm in arms:
        values = y[treatment == arm]
        if binary and not 0 < values.sum() < len(values):
            raise ValueError(f"arm {arm} has only one outcome class: its response cannot be modelled")
    return y, binary


def _default_regressor() -> Any:
    from .trees import GradientBoostingRegressor

    # Imputed effects are noisy: small, well-populated trees and a slow learning rate.
    return GradientBoostingRegressor(n_estimators=150, learning_rate=0.05, num_leaves=15, min_samples_leaf=100)


def _response(model: Any, X: np.ndarray, binary: bool) -> np.ndarray:
    return model.predict_proba(X)[:, 1] if binary else model.predict(X)


class _MetaLearner(Estimator):
    _param_names = ("base_learner", "regressor")

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None, regressor: Optional[Callable[[], Any]] = None) -> None:
        self.base_learner = base_learner
        self.regressor = regressor

    def _response_model(self, binary: bool) -> Any:
        if binary:
            return mark_inner(self.base_learner() if self.base_learner is not None else LogisticRegression(C=1.0))
        return self._effect_model()

    def _effect_model(self) -> Any:
        return mark_inner(self.regressor() if self.regressor is not None else _default_regressor())

    def _fit_responses(self, matrix: np.ndarray, treatment: np.ndarray, y: np.ndarray, arms: np.ndarray) -> List[Any]:
        return [self._response_model(self.binary_outcome_).fit(matrix[treatment == a], y[treatment == a]) for a in arms]

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
    """One response model per arm; the effect is the difference of their predictions."""

    def fit(self, X: Any, treatment: Any, y: Any) -> "TLearner":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        values, self.binary_outcome_ = _outcome(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        self.models_ = self._fit_responses(matrix, treatment, values, arms)
        return self

    def predict_outcomes(self, X: Any) -> np.ndarray:
        """Predicted outcome under each arm, control first: shape (rows, K + 1)."""
        matrix = _matrix(X, self, fitting=False)
        return np.column_stack([_response(m, matrix, self.binary_outcome_) for m in self._fitted()])

    def predict(self, X: Any) -> np.ndarray:
        outcomes = self.predict_outcomes(X)
        return outcomes[:, 1:] - outcomes[:, :1]


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
        values, self.binary_outcome_ = _outcome(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        self.num_arms_ = len(arms)
        design = np.concatenate([self._design(matrix[treatment == a], a, len(arms)) for a in arms])
        order = np.concatenate([values[treatment == a] for a in arms])
        self.models_ = [self._response_model(self.binary_outcome_).fit(design, order)]
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        model = self._fitted()[0]
        p = np.column_stack([_response(model, self._design(matrix, a, self.num_arms_), self.binary_outcome_)
                             for a in range(self.num_arms_)])
        return p[:, 1:] - p[:, :1]


class ClassTransformation(_MetaLearner):
    """Jaskowski and Jaroszewicz's class transformation, per offer against control: with the two
    groups reweighted to equal size, z = 1 for treated buyers and control non-buyers, and the
    uplift is 2 P(z = 1 | x) - 1."""

    def fit(self, X: Any, treatment: Any, y: Any) -> "ClassTransformation":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        labels, self.binary_outcome_ = _outcome(y, treatment, arms, binary_only=True)
        labels = labels.astype(np.uint8)
        matrix = _matrix(X, self, fitting=True)
        self.models_ = []
        for arm in arms[1:]:
            rows = (treatment == 0) | (treatment == arm)
            treated = treatment[rows] == arm
            z = np.where(treated, labels[rows], 1 - labels[rows])
            weight = np.where(treated, 0.5 / treated.mean(), 0.5 / (1 - treated.mean()))
            self.models_.append(self._response_model(True).fit(matrix[rows], z, sample_weight=weight))
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        return np.column_stack([2 * m.predict_proba(matrix)[:, 1] - 1 for m in self._fitted()])


class _EffectRegressionLearner(_MetaLearner):
    """Shared by the learners whose last stage regresses an imputed effect per offer."""

    _param_names = ("base_learner", "regressor", "propensity_learner")

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None, regressor: Optional[Callable[[], Any]] = None,
                 propensity_learner: Optional[Callable[[], Any]] = None) -> None:
        super().__init__(base_learner, regressor)
        self.propensity_learner = propensity_learner

    def _propensity(self, matrix: np.ndarray, treated: np.ndarray) -> np.ndarray:
        """P(offer | x) among the rows of one offer and control."""
        if self.propensity_learner is None:
            return np.full(len(treated), treated.mean())
        model = mark_inner(self.propensity_learner()).fit(matrix, treated.astype(int))
        return np.clip(model.predict_proba(matrix)[:, 1], 0.01, 0.99)

    def explain(self, X: Any, offer: int = 1) -> Any:
        """Per-feature contributions to the predicted effect of ``offer`` (1..K), with a
        ``base_value`` column; each row adds up to the predicted effect. Needs a regressor with
        ``explain`` (comptoir's gradient-boosted trees have exact TreeSHAP)."""
        matrix = _matrix(X, self, fitting=False, check_drift=False)
        if not 1 <= offer <= len(self._fitted()):
            raise ValueError(f"offer must be in 1..{len(self._fitted())}, got {offer}")
        contributions = self._explain_offer(matrix, offer - 1)
        if hasattr(X, "columns"):
            import pandas as pd

            return pd.DataFrame(contributions, columns=list(X.columns) + ["base_value"], index=X.index)
        return contributions


class XLearner(_EffectRegressionLearner):
    """Künzel et al.'s X-learner: response models per arm impute each customer's effect (treated:
    outcome minus the control model's prediction; control: the offer model's prediction minus the
    outcome), one regressor per side learns those effects, and the two are blended by the
    propensity, which favours the side that had more data."""

    def fit(self, X: Any, treatment: Any, y: Any) -> "XLearner":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        values, self.binary_outcome_ = _outcome(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        responses = self._fit_responses(matrix, treatment, values, arms)
        control = treatment == 0
        self.models_ = []
        self.blend_ = []
        for arm in arms[1:]:
            treated = treatment == arm
            imputed_treated = values[treated] - _response(responses[0], matrix[treated], self.binary_outcome_)
            imputed_control = _response(responses[arm], matrix[control], self.binary_outcome_) - values[control]
            on_treated = self._effect_model().fit(matrix[treated], imputed_treated)
            on_control = self._effect_model().fit(matrix[control], imputed_control)
            rows = control | treated
            self.blend_.append(float(self._propensity(matrix[rows], treated[rows]).mean()))
            self.models_.append((on_control, on_treated))
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        return np.column_stack([g * on_control.predict(matrix) + (1 - g) * on_treated.predict(matrix)
                                for g, (on_control, on_treated) in zip(self.blend_, self._fitted())])

    def _explain_offer(self, matrix: np.ndarray, k: int) -> np.ndarray:
        on_control, on_treated = self._fitted()[k]
        g = self.blend_[k]
        return g * on_control.explain(matrix) + (1 - g) * on_treated.explain(matrix)


class DRLearner(_EffectRegressionLearner):
    """Kennedy's doubly-robust learner: with cross-fitted response models and propensities, each
    customer's pseudo-outcome  mu1 - mu0 + T (y - mu1) / e - (1 - T) (y - mu0) / (1 - e)  is an
    unbiased effect estimate if either the responses or the propensity are right; a regressor
    learns it. ``folds`` splits for cross-fitting, seeded by ``random_state``."""

    _param_names = _EffectRegressionLearner._param_names + ("folds", "random_state")

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None, regressor: Optional[Callable[[], Any]] = None,
                 propensity_learner: Optional[Callable[[], Any]] = None, folds: int = 3, random_state: int = 42) -> None:
        super().__init__(base_learner, regressor, propensity_learner)
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: Any, treatment: Any, y: Any) -> "DRLearner":
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        values, self.binary_outcome_ = _outcome(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        fold = np.random.default_rng(self.random_state).permutation(len(values)) % self.folds
        self.models_ = []
        for arm in arms[1:]:
            rows = np.flatnonzero((treatment == 0) | (treatment == arm))
            treated = treatment[rows] == arm
            pseudo = np.empty(len(rows))
            for f in range(self.folds):
                held, used = fold[rows] == f, fold[rows] != f
                mu1 = self._response_model(self.binary_outcome_).fit(matrix[rows[used & treated]], values[rows[used & treated]])
                mu0 = self._response_model(self.binary_outcome_).fit(matrix[rows[used & ~treated]], values[rows[used & ~treated]])
                if self.propensity_learner is None:
                    e = treated[used].mean()
                else:
                    model = mark_inner(self.propensity_learner()).fit(matrix[rows[used]], treated[used].astype(int))
                    e = np.clip(model.predict_proba(matrix[rows[held]])[:, 1], 0.01, 0.99)
                m1 = _response(mu1, matrix[rows[held]], self.binary_outcome_)
                m0 = _response(mu0, matrix[rows[held]], self.binary_outcome_)
                t, outcome = treated[held], values[rows[held]]
                pseudo[held] = m1 - m0 + t * (outcome - m1) / e - (1 - t) * (outcome - m0) / (1 - e)
            self.models_.append(self._effect_model().fit(matrix[rows], pseudo))
        return self

    def predict(self, X: Any) -> np.ndarray:
        matrix = _matrix(X, self, fitting=False)
        return np.column_stack([model.predict(matrix) for model in self._fitted()])

    def _explain_offer(self, matrix: np.ndarray, k: int) -> np.ndarray:
        return self._fitted()[k].explain(matrix)


class UpliftRandomForest(Estimator):
    """Uplift random forest (C++, all cores): trees split to separate customers by how differently
    they respond to each offer than to control. ``criterion``: ``"KL"``, ``"ED"`` (squared
    Euclidean), ``"Chi"`` or ``"DDP"``; KL and Chi need a 0/1 outcome, ED and DDP also take spend.
    ``honest=True`` estimates leaf effects on rows that did not choose the splits. Parameter names
    follow causalml's ``UpliftRandomForestClassifier``. ``n_estimators=1, bootstrap=False,
    max_features=1.0`` gives a single uplift tree."""

    _param_names = ("n_estimators", "criterion", "max_depth", "min_samples_leaf", "min_samples_treatment", "n_reg",
                    "max_features", "bootstrap", "honest", "max_bins", "random_state", "n_jobs", "verbose")

    def __init__(self, n_estimators: int = 100, criterion: str = "KL", max_depth: int = 6, min_samples_leaf: int = 100,
                 min_samples_treatment: int = 10, n_reg: float = 100.0, max_features: Optional[float] = None,
                 bootstrap: bool = True, honest: bool = False, max_bins: int = 64, random_state: int = 42, n_jobs: int = 0,
                 verbose: Any = False) -> None:
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.n_reg = n_reg
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.honest = honest
        self.max_bins = max_bins
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.uplift.UpliftForest.from_bytes(data)

    def fit(self, X: Any, treatment: Any, y: Any) -> "UpliftRandomForest":
        treatment = np.asarray(treatment)
        arms = _arms(treatment)
        values, _ = _outcome(y, treatment, arms)
        matrix = _matrix(X, self, fitting=True)
        self.model_ = _core.uplift.UpliftForest.fit(
            matrix, treatment.astype(np.int32), values, criterion=self.criterion, num_trees=int(self.n_estimators),
            max_depth=int(self.max_depth), min_samples_leaf=int(self.min_samples_leaf),
            min_samples_treatment=int(self.min_samples_treatment), n_reg=float(self.n_reg),
            max_features=0.0 if self.max_features is None else float(self.max_features), bootstrap=bool(self.bootstrap),
            honest=bool(self.honest), max_bins=int(self.max_bins), num_threads=int(self.n_jobs),
            seed=int(self.random_state), on_progress=make_progress(self.verbose),
        )
        _attach_schema(self)
        self._restore_from_model()
        return self

    def _restore_from_model(self) -> None:
        self.n_features_in_ = self.model_.num_features
        importance = self.model_.feature_importance
        self.feature_importances_ = importance / importance.sum() if importance.sum() > 0 else importance

    def predict(self, X: Any) -> np.ndarray:
        """Estimated effect of each offer against control, shape (rows, K)."""
        return self._fitted().predict(_matrix(X, self, fitting=False), int(self.n_jobs))

    def predict_outcomes(self, X: Any) -> np.ndarray:
        """Estimated outcome under each arm, control first: shape (rows, K + 1)."""
        return self._fitted().predict_arm_outcomes(_matrix(X, self, fitting=False), int(self.n_jobs))

    def explain(self, X: Any, offer: int = 1) -> Any:
        """Per-feature contributions to the predicted effect of ``offer``: along each tree's path,
        every split moves the effect from the parent's to the child's and the change is credited to
        the split's feature; ``base_value`` is the mean root effect. Rows add up to the effect."""
        contributions = self._fitted().contributions(_matrix(X, self, fitting=False, check_drift=False), int(offer), int(self.n_jobs))
        if hasattr(X, "columns"):
            import pandas as pd

            return pd.DataFrame(contributions, columns=list(X.columns) + ["base_value"], index=X.index)
        return contributions
