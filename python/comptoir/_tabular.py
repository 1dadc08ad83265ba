"""Tables in, float64 matrices out: what every tabular estimator does with ``X`` and ``y``.

NumPy arrays and pandas frames are accepted. Column names seen in ``fit`` are checked at prediction
time; pandas ``category`` columns become their integer codes (NaN when missing), with the levels
seen in ``fit`` reused at prediction so a code always means the same category."""

from __future__ import annotations

import sys
import warnings
from typing import Any, Dict, List

import numpy as np


def _category_columns(X: Any) -> List[int]:
    if not hasattr(X, "dtypes"):
        return []
    return [j for j, dtype in enumerate(X.dtypes) if str(dtype) == "category"]


def _conversion_warning() -> type:
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    return sklearn_exceptions.DataConversionWarning if sklearn_exceptions is not None else UserWarning


def matrix(X: Any, estimator: Any, fitting: bool) -> np.ndarray:
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
    return values


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
