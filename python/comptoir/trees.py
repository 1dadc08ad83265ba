"""Histogram gradient-boosted trees in the scikit-learn shape.

``GradientBoostingClassifier`` (binary log loss) and ``GradientBoostingRegressor`` (squared error,
Poisson or Tweedie) train in C++ on all cores, treat NaN as missing (each split learns where missing
values go), split categorical columns (pandas ``category`` columns, or the indices or names given in
``categorical_features``) by sets of categories, stop early on a held-out fraction or an
``eval_set``, and explain every prediction with exact TreeSHAP values that add up to the raw score.
A model file (``save``/``load``/pickle) keeps everything fitted: the parameters, the column names,
each categorical column's levels (so a loaded model maps a frame's categories exactly as at fit;
levels not seen in fit are scored as missing) and the class labels.
Results are identical for a ``random_state`` whatever ``n_jobs`` is. ``min_samples_leaf`` is checked
as LightGBM checks it: a candidate child's rows are estimated from its share of the node's hessian.

LightGBM's names are accepted where they mean what ours do (``min_child_samples`` is
``min_samples_leaf``, ``min_child_weight`` ``min_hessian_leaf``, ``reg_lambda``
``l2_regularization``, ``colsample_bytree`` ``colsample``, ``max_bin`` ``max_bins``, ... see
``LIGHTGBM_ALIASES``), and so are its conventions ``max_depth=-1`` (no limit), ``n_jobs=-1`` (every
core) and ``verbose=-1`` (silent); names without an equivalent (``reg_alpha``, ``boosting_type``,
... see ``LIGHTGBM_REFUSED``) are a TypeError saying what to use. ``get_params`` reports our names.
``drift_check=False`` turns off the DriftWarning of predictions (see ``comptoir._tabular``)."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _core, _tabular
from ._base import ClassifierMixin, Estimator, RegressorMixin
from ._progress import make_progress
from .exceptions import InvalidArgumentError

_log = logging.getLogger(__name__)


# LightGBM's names (its scikit-learn API and its native aliases) that mean what one of ours means.
LIGHTGBM_ALIASES = {
    "min_child_samples": "min_samples_leaf", "min_data_in_leaf": "min_samples_leaf",
    "min_child_weight": "min_hessian_leaf", "min_sum_hessian_in_leaf": "min_hessian_leaf",
    "reg_lambda": "l2_regularization", "lambda_l2": "l2_regularization",
    "min_gain_to_split": "min_split_gain", "max_bin": "max_bins",
    "colsample_bytree": "colsample", "feature_fraction": "colsample", "bagging_fraction": "subsample",
    "num_iterations": "n_estimators", "num_boost_round": "n_estimators", "num_trees": "n_estimators",
    "eta": "learning_rate", "shrinkage_rate": "learning_rate", "seed": "random_state", "num_threads": "n_jobs",
    "verbosity": "verbose", "categorical_feature": "categorical_features",
}
# LightGBM's names with no equivalent here, or a different meaning: refused with what to use.
LIGHTGBM_REFUSED = {
    "reg_alpha": "comptoir has no L1 penalty on leaf values: use l2_regularization (LightGBM's reg_lambda)",
    "lambda_l1": "comptoir has no L1 penalty on leaf values: use l2_regularization (LightGBM's reg_lambda)",
    "boosting_type": "comptoir boosts gradient trees only ('gbdt')",
    "objective": "choose GradientBoostingClassifier (binary) or GradientBoostingRegressor(loss=...)",
    "class_weight": "pass sample_weight to fit",
    "importance_type": "feature_importances_ is the total split gain, normalised",
    "subsample_for_bin": "bins are chosen from every row: set max_bins",
    "early_stopping_rounds": "use early_stopping=True and n_iter_no_change",
    "early_stopping_round": "use early_stopping=True and n_iter_no_change",
}


def _refuse_or_translate(owner: str, aliases: dict) -> dict:
    """Our names for LightGBM's; a name with another meaning is a TypeError naming what to use."""
    out = {}
    for name, value in aliases.items():
        if name == "subsample_freq":
            if value != 1:
                raise TypeError(f"{owner}: subsample_freq={value!r} is refused: comptoir samples the rows of every tree "
                                "(LightGBM's subsample_freq=1) with subsample")
            continue
        if name in LIGHTGBM_REFUSED:
            raise TypeError(f"{owner}: LightGBM's {name} has no equivalent here: {LIGHTGBM_REFUSED[name]}")
        if name not in LIGHTGBM_ALIASES:
            raise TypeError(f"{owner}.__init__() got an unexpected keyword argument {name!r}")
        ours = LIGHTGBM_ALIASES[name]
        if ours in out:
            raise TypeError(f"{owner}: {name} and another alias both set {ours}")
        out[ours] = value
    return out


class _GradientBoosting(Estimator):
    _objective = "binary"
    _allow_nan = True
    _param_names = ("n_estimators", "learning_rate", "num_leaves", "max_depth", "min_samples_leaf", "min_hessian_leaf",
                    "l2_regularization", "min_split_gain", "max_bins", "categorical_features", "subsample",
                    "colsample", "early_stopping", "n_iter_no_change", "validation_fraction", "random_state",
                    "n_jobs", "verbose", "drift_check")

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.1, num_leaves: int = 31,
                 max_depth: Optional[int] = None, min_samples_leaf: int = 20, min_hessian_leaf: float = 1e-3,
                 l2_regularization: float = 0.0, min_split_gain: float = 0.0, max_bins: int = 256,
                 categorical_features: Optional[Sequence[Any]] = None, subsample: float = 1.0, colsample: float = 1.0,
                 early_stopping: bool = False, n_iter_no_change: int = 10, validation_fraction: float = 0.1,
                 random_state: int = 42, n_jobs: int = 0, verbose: Any = False, drift_check: bool = True,
                 **lightgbm_names: Any) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_hessian_leaf = min_hessian_leaf
        self.l2_regularization = l2_regularization
        self.min_split_gain = min_split_gain
        self.max_bins = max_bins
        self.categorical_features = categorical_features
        self.subsample = subsample
        self.colsample = colsample
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.drift_check = drift_check
        for name, value in _refuse_or_translate(type(self).__name__, lightgbm_names).items():
            setattr(self, name, value)

    def set_params(self, **params: Any) -> Any:
        """scikit-learn's set_params; LightGBM's names are taken as in the constructor."""
        ours = {k: v for k, v in params.items() if k in self._param_names}
        ours.update(_refuse_or_translate(type(self).__name__, {k: v for k, v in params.items() if k not in self._param_names}))
        return super().set_params(**ours)

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        from .exceptions import ModelFormatError

        model = _core.trees.GradientBoosting.from_bytes(data)
        if (model.objective == "binary") != (cls._estimator_type == "classifier"):
            held = "GradientBoostingClassifier" if model.objective == "binary" else "GradientBoostingRegressor"
            raise ModelFormatError(f"the model file holds a comptoir.trees.{held} (objective '{model.objective}'), not a "
                                   f"comptoir.trees.{cls.__name__}: load it with comptoir.trees.{held}")
        return model

    def _config(self, categorical: List[int]) -> Any:
        """The C++ config, filled field by field from this estimator's parameters."""
        values = {
            "objective": self._objective, "power": float(getattr(self, "power", 1.5)),
            "n_estimators": int(self.n_estimators), "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            # LightGBM's max_depth=-1 (any value <= 0) is no limit, as None is.
            "max_depth": 0 if self.max_depth is None or self.max_depth <= 0 else int(self.max_depth),
            "min_samples_leaf": int(self.min_samples_leaf), "min_hessian_leaf": float(self.min_hessian_leaf),
            "l2_regularization": float(self.l2_regularization), "min_split_gain": float(self.min_split_gain),
            "subsample": float(self.subsample), "colsample": float(self.colsample),
            "early_stopping": bool(self.early_stopping), "n_iter_no_change": int(self.n_iter_no_change),
            "max_bins": int(self.max_bins), "categorical_features": categorical,
        }
        config = _core.trees.GradientBoostingConfig()
        for name, value in values.items():
            setattr(config, name, value)
        return config

    def _categorical_indices(self, X: Any, n_features: int) -> List[int]:
        indices = set(getattr(self, "category_levels_", {}).keys())
        names = list(X.columns) if hasattr(X, "columns") else None
        indices |= set(_tabular.categorical_indices(self.categorical_features, names, n_features))
        return sorted(indices)

    def _targets(self, y: Any, validating: bool = False) -> np.ndarray:
        raise NotImplementedError

    def _split_validation(self, n: int, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """A seeded held-out fraction, stratified by class for the classifier."""
        rng = np.random.default_rng(self.random_state)
        if self._objective == "binary":
            held = [rng.permutation(np.flatnonzero(y == c))[: max(1, int(round(self.validation_fraction * (y == c).sum())))]
                    for c in (0, 1)]
            validation = np.sort(np.concatenate(held))
        else:
            validation = np.sort(rng.permutation(n)[: max(1, int(round(self.validation_fraction * n)))])
        train = np.setdiff1d(np.arange(n), validation)
        return train, validation

    def fit(self, X: Any, y: Any, sample_weight: Optional[Any] = None, eval_set: Any = None) -> "_GradientBoosting":
        """Fits on ``X``, ``y``. With ``early_stopping``, stops once the loss on ``eval_set`` (or on a
        held-out ``validation_fraction`` of the rows when none is given) has not improved for
        ``n_iter_no_change`` trees, and keeps the best number of trees. ``eval_set`` is a list
        holding one ``(X_val, y_val)`` pair, as scikit-learn and LightGBM take it (a bare pair is
        accepted too); the validation loss per tree is ``validation_loss_``."""
        eval_set = _one_eval_set(eval_set)
        matrix = _tabular.matrix(X, self, fitting=True)
        targets = self._targets(y)
        if len(targets) != len(matrix):
            raise InvalidArgumentError(f"X has {len(matrix)} rows but y has {len(targets)}")
        categorical = self._categorical_indices(X, matrix.shape[1])
        weights = _tabular.sample_weights(sample_weight, len(targets))
        X_validation = y_validation = None
        if eval_set is not None:
            X_validation = _tabular.matrix(eval_set[0], self, fitting=False, check_drift=False)
            if len(X_validation) != len(self._targets(eval_set[1], validating=True)):
                raise InvalidArgumentError(f"eval_set's X has {len(X_validation)} rows but its y has {len(eval_set[1])}")
            y_validation = self._targets(eval_set[1], validating=True)
        elif self.early_stopping:
            if not 0 < self.validation_fraction < 1:
                raise InvalidArgumentError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
            train, held = self._split_validation(len(targets), targets)
            X_validation, y_validation = matrix[held], targets[held]
            matrix, targets = np.ascontiguousarray(matrix[train]), targets[train]
            weights = None if weights is None else weights[train]
        self.model_ = _core.trees.GradientBoosting.fit(
            matrix, targets, weights, X_validation, y_validation, config=self._config(categorical),
            num_threads=_tabular.threads(self.n_jobs), seed=int(self.random_state),
            on_progress=make_progress(_tabular.verbosity(self.verbose)),
        )
        _tabular.attach_schema(self)
        self._restore_from_model()
        grown = len(self.validation_loss_)
        if X_validation is not None and (grown < self.n_estimators or self.n_estimators_ < grown):
            _log.info("%s: early stopping after %d of %d trees (validation loss did not improve for %d); kept the best "
                      "%d", type(self).__name__, grown, self.n_estimators, self.n_iter_no_change, self.n_estimators_)
        return self

    def _restore_from_model(self) -> None:
        model = self.model_
        _tabular.restore_schema(self, model)
        self.n_estimators_ = model.num_trees
        self.validation_loss_ = model.validation_loss
        importance = model.feature_importance
        self.feature_importances_ = importance / importance.sum() if importance.sum() > 0 else importance

    def _raw(self, X: Any) -> np.ndarray:
        model = self._fitted()
        return model.predict_raw(_tabular.matrix(X, self, fitting=False), _tabular.threads(self.n_jobs))

    def explain(self, X: Any) -> Any:
        """Exact TreeSHAP contributions per feature plus a ``base_value`` column (the expected raw
        score); each row adds up to the raw score (log-odds for the classifier, log of the mean for
        Poisson and Tweedie). A DataFrame when X was one."""
        contributions = self._fitted().contributions(_tabular.matrix(X, self, fitting=False, check_drift=False),
                                                    _tabular.threads(self.n_jobs))
        if hasattr(X, "columns"):
            import pandas as pd

            return pd.DataFrame(contributions, columns=list(X.columns) + ["base_value"], index=X.index)
        return contributions


def _one_eval_set(eval_set: Any) -> Optional[Tuple[Any, Any]]:
    """The (X, y) pair of ``eval_set`` given as scikit-learn and LightGBM give it (a list of
    pairs) or bare."""
    if eval_set is None:
        return None
    if isinstance(eval_set, list):
        if not all(isinstance(pair, tuple) and len(pair) == 2 for pair in eval_set):
            raise InvalidArgumentError("eval_set must be [(X_val, y_val)] (a list holding one pair) or the pair itself")
        if len(eval_set) != 1:
            raise InvalidArgumentError(f"eval_set holds {len(eval_set)} (X, y) pairs: early stopping watches one, pass "
                             "eval_set=[(X_val, y_val)]")
        eval_set = eval_set[0]
    if not isinstance(eval_set, tuple) or len(eval_set) != 2:
        raise InvalidArgumentError("eval_set must be [(X_val, y_val)] (a list holding one pair) or the pair itself")
    return eval_set


class GradientBoostingClassifier(ClassifierMixin, _GradientBoosting):
    """Binary classifier; ``predict_proba`` gives P(class 1), ``decision_function`` the log-odds."""

    def _targets(self, y: Any, validating: bool = False) -> np.ndarray:
        if validating:
            y = _tabular.targets(y)
            unknown = ~np.isin(y, self.classes_)
            if unknown.any():
                raise InvalidArgumentError(f"eval_set labels hold classes not seen in y: {np.unique(y[unknown])[:5]}")
            return (y == self.classes_[1]).astype(np.float64)
        return _tabular.binary_labels(y, self).astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        return self._raw(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self._raw(X)
        p = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        return np.c_[1 - p, p]

    def predict(self, X: Any) -> np.ndarray:
        positive = self._raw(X) > 0
        return self.classes_[positive.astype(int)]


class GradientBoostingRegressor(RegressorMixin, _GradientBoosting):
    """Regressor with ``loss`` ``"squared_error"``, ``"poisson"`` (counts) or ``"tweedie"`` (spend:
    many zeros and a long tail; ``power`` in (1, 2)). Poisson and Tweedie predict a mean through a
    log link, so the TreeSHAP values add up to the log of the prediction."""

    _param_names = _GradientBoosting._param_names + ("loss", "power")

    def __init__(self, loss: str = "squared_error", power: float = 1.5, n_estimators: int = 100,
                 learning_rate: float = 0.1, num_leaves: int = 31, max_depth: Optional[int] = None,
                 min_samples_leaf: int = 20, min_hessian_leaf: float = 1e-3, l2_regularization: float = 0.0,
                 min_split_gain: float = 0.0, max_bins: int = 256, categorical_features: Optional[Sequence[Any]] = None,
                 subsample: float = 1.0, colsample: float = 1.0, early_stopping: bool = False,
                 n_iter_no_change: int = 10, validation_fraction: float = 0.1, random_state: int = 42,
                 n_jobs: int = 0, verbose: Any = False, drift_check: bool = True, **lightgbm_names: Any) -> None:
        super().__init__(n_estimators, learning_rate, num_leaves, max_depth, min_samples_leaf, min_hessian_leaf,
                         l2_regularization, min_split_gain, max_bins, categorical_features, subsample, colsample,
                         early_stopping, n_iter_no_change, validation_fraction, random_state, n_jobs, verbose,
                         drift_check, **lightgbm_names)
        self.loss = loss
        self.power = power

    @property
    def _objective(self) -> str:  # type: ignore[override]
        if self.loss not in ("squared_error", "poisson", "tweedie"):
            raise InvalidArgumentError(f"loss must be 'squared_error', 'poisson' or 'tweedie', got {self.loss!r}")
        return self.loss

    def _targets(self, y: Any, validating: bool = False) -> np.ndarray:
        return np.ascontiguousarray(_tabular.targets(y), dtype=np.float64)

    def _restore_from_model(self) -> None:
        super()._restore_from_model()
        # Files written without an estimator record name the loss only in their config.
        config = self.model_.config
        if self.loss != config.objective:
            self.loss = config.objective
        if self.power != config.power:
            self.power = config.power

    def predict(self, X: Any) -> np.ndarray:
        raw = self._raw(X)
        return raw if self._fitted().objective == "squared_error" else np.exp(raw)


def _parameters_only(init: Callable[..., None]) -> None:
    """LightGBM's names are taken by ``**lightgbm_names`` but are not parameters (``get_params``
    reports ours): scikit-learn reads the parameters from the signature, so they leave it."""
    signature = inspect.signature(init)
    init.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD])


_parameters_only(_GradientBoosting.__init__)
_parameters_only(GradientBoostingRegressor.__init__)
