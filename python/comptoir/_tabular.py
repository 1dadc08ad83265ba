"""Tables in, float64 matrices out: what every tabular estimator does with ``X`` and ``y``.

NumPy arrays and pandas frames are accepted. Column names seen in ``fit`` are checked at prediction
time; pandas ``category`` columns become their integer codes (NaN when missing), with the levels
seen in ``fit`` reused at prediction so a code always means the same category. ``fit`` records a
profile of the training features (``feature_profile_``); predicting on 1,000 rows or more
(explanations excepted: they are asked for chosen subsets) compares them with it and warns (``DriftWarning``) about every feature whose population
stability index exceeds 0.25, so a broken feature pipeline is noticed before its scores are used."""

from __future__ import annotations

import sys
import warnings
from typing import Any, Dict, List

import numpy as np

from . import _core
from .exceptions import DriftWarning

# Fewer rows than this say too little about a population to warn on (PSI's noise is about
# bins / rows).
_MIN_ROWS_FOR_DRIFT = 1_000


def _category_columns(X: Any) -> List[int]:
    if not hasattr(X, "dtypes"):
        return []
    return [j for j, dtype in enumerate(X.dtypes) if str(dtype) == "category"]


def _conversion_warning() -> type:
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    return sklearn_exceptions.DataConversionWarning if sklearn_exceptions is not None else UserWarning


def matrix(X: Any, estimator: Any, fitting: bool, check_drift: bool = True) -> np.ndarray:
    """``X`` as a C-contiguous float64 matrix, fitted-shape checks included. NaN and infinity are
    rejected unless the estimator handles missing values (``_allow_nan``)."""
    if X is None:
        raise ValueError("X is None: expected an array or a DataFrame")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError("sparse input is not supported: pass a dense array (X.toarray())")
    names = list(X.columns) if hasattr(X, "columns") else None
    categorical = _category_columns(X)
    if categorical:
        import pandas as pd

        levels: Dict[int, Any] = {} if fitting else getattr(estimator, "category_levels_", {})
        X = X.copy()
        for j in categorical:
            column = X.iloc[:, j]
            if fitting:
                levels[j] = column.cat.categories
            codes = pd.Categorical(column, categories=levels[j]).codes.astype(np.float64)
            codes[codes < 0] = np.nan
            X.isetitem(j, codes)
        if fitting:
            estimator.category_levels_ = levels
    elif fitting and hasattr(estimator, "category_levels_"):
        del estimator.category_levels_
    raw = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if np.iscomplexobj(raw):
        raise ValueError("Complex data not supported")
    values = np.ascontiguousarray(raw, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features), got shape {values.shape}: Reshape your data with "
                         "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single row")
    if values.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={values.shape}) while a minimum of 1 is required.")
    if values.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={values.shape}) while a minimum of 1 is required.")
    if not getattr(estimator, "_allow_nan", False) and not np.isfinite(values).all():
        row, column = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"X holds NaN or infinity (first at row {row}, column {column}); "
                         f"{type(estimator).__name__} needs finite values: impute missing ones")
    if fitting:
        _record_profile(estimator, values)
        estimator.n_features_in_ = values.shape[1]
        if names is not None:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_  # refitted on a plain array
    else:
        if values.shape[1] != estimator.n_features_in_:
            raise ValueError(f"X has {values.shape[1]} features, but {type(estimator).__name__} is expecting "
                             f"{estimator.n_features_in_} features as input")
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if fitted_names is not None and names is not None and list(fitted_names) != names:
            raise ValueError(f"feature names differ from those seen in fit: {names} vs {list(fitted_names)}")
        if check_drift and len(values) >= _MIN_ROWS_FOR_DRIFT and getattr(estimator, "feature_profile_", None) is not None:
            _warn_on_drift(estimator, values)
    return values


def mark_inner(model: Any) -> Any:
    """A model fitted inside another estimator (a meta-learner's response model): the outer one
    profiles the user's features and checks them, once."""
    try:
        model._inner_model = True
    except AttributeError:
        pass  # not ours and closed to new attributes: it profiles nothing anyway
    return model


def _record_profile(estimator: Any, values: np.ndarray) -> None:
    if getattr(estimator, "_inner_model", False):
        estimator.__dict__.pop("feature_profile_", None)
        return
    estimator.feature_profile_ = _core.features.FeatureProfile.fit(values, int(getattr(estimator, "n_jobs", 0) or 0))


def feature_drift(estimator: Any, X: Any) -> Dict[str, float]:
    """Population stability index of each feature of ``X`` against the estimator's training
    features, highest first (below 0.1 stable, 0.1 to 0.25 shifting, above 0.25 drifted)."""
    profile = getattr(estimator, "feature_profile_", None)
    if profile is None:
        raise ValueError(f"this {type(estimator).__name__} has no training profile: fit it (model files "
                         "written before comptoir recorded profiles carry none)")
    values = matrix(X, estimator, fitting=False, check_drift=False)
    psi = profile.population_stability(values, int(getattr(estimator, "n_jobs", 0) or 0))
    ranked = sorted(zip(feature_names(estimator), psi.tolist()), key=lambda pair: -pair[1])
    return dict(ranked)


def _warn_on_drift(estimator: Any, values: np.ndarray) -> None:
    psi = estimator.feature_profile_.population_stability(values, int(getattr(estimator, "n_jobs", 0) or 0))
    drifted = np.flatnonzero(psi > _core.features.SIGNIFICANT_DRIFT)
    if drifted.size == 0:
        return
    names = feature_names(estimator)
    worst = drifted[np.argsort(-psi[drifted])]
    listed = ", ".join(f"{names[j]} ({psi[j]:.2f})" for j in worst[:10])
    more = f" and {len(worst) - 10} more" if len(worst) > 10 else ""
    warnings.warn(f"{type(estimator).__name__}: {len(worst)} of {len(psi)} features drifted from training "
                  f"(population stability index above {_core.features.SIGNIFICANT_DRIFT}): {listed}{more}; "
                  "check the feature pipeline or refit before trusting these scores", DriftWarning, stacklevel=4)


def attach_schema(estimator: Any) -> None:
    """Feature names and the training profile onto the fitted C++ model, whose model file keeps them."""
    estimator.model_.feature_names = feature_names(estimator)
    profile = getattr(estimator, "feature_profile_", None)
    if profile is not None:
        estimator.model_.training_profile = profile


def targets(y: Any) -> np.ndarray:
    """``y`` as a 1-D array; a column vector is flattened with a warning, as scikit-learn does."""
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; it was flattened",
                      _conversion_warning(), stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    return y


def binary_labels(y: Any, estimator: Any) -> np.ndarray:
    """0/1 labels with ``estimator.classes_`` set; exactly two classes are required."""
    y = targets(y)
    if y.dtype.kind == "f" and (~np.isfinite(y)).any():
        raise ValueError("y holds NaN or infinity")
    if y.dtype.kind == "f" and (y != np.round(y)).any():
        raise ValueError("Unknown label type: continuous target; a classifier needs class labels")
    classes = np.unique(y)
    if len(classes) > 2:
        raise ValueError(f"Only binary classification is supported. The type of the target is multiclass "
                         f"({len(classes)} classes).")
    if len(classes) < 2:
        raise ValueError(f"y must hold exactly two classes, got {len(classes)} class: {classes[:5]}")
    estimator.classes_ = classes
    return (y == classes[1]).astype(np.uint8)


def sample_weights(sample_weight: Any, n: int) -> Any:
    """``None`` or a float64 vector of n non-negative weights that are not all zero."""
    if sample_weight is None:
        return None
    weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"sample_weight has shape {weights.shape}, expected ({n},)")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample weights must be finite and non-negative")
    if not weights.any():
        raise ValueError("sample weights are all zero: at least one weight must be positive")
    return weights


def feature_names(estimator: Any) -> List[str]:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j}" for j in range(estimator.n_features_in_)]
