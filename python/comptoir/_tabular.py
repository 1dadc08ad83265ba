"""Tables in, float64 matrices out: what every tabular estimator does with ``X`` and ``y``.

NumPy arrays and pandas frames are accepted. Column names seen in ``fit`` are checked at prediction
time; pandas ``category`` columns become their integer codes (NaN when missing), with the levels
seen in ``fit`` reused at prediction so a code always means the same category."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np


def _category_columns(X: Any) -> List[int]:
    if not hasattr(X, "dtypes"):
        return []
    return [j for j, dtype in enumerate(X.dtypes) if str(dtype) == "category"]


def matrix(X: Any, estimator: Any, fitting: bool) -> np.ndarray:
    """``X`` as a C-contiguous float64 matrix, fitted-shape checks included."""
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
    values = X.to_numpy(dtype=np.float64) if hasattr(X, "to_numpy") else np.asarray(X, dtype=np.float64)
    values = np.ascontiguousarray(values)
    if values.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features), got shape {values.shape}")
    if fitting:
        estimator.n_features_in_ = values.shape[1]
        if names is not None:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_  # refitted on a plain array
    else:
        if values.shape[1] != estimator.n_features_in_:
            raise ValueError(f"X has {values.shape[1]} features, but {type(estimator).__name__} was fitted with "
                             f"{estimator.n_features_in_}")
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if fitted_names is not None and names is not None and list(fitted_names) != names:
            raise ValueError(f"feature names differ from those seen in fit: {names} vs {list(fitted_names)}")
    return values


def binary_labels(y: Any, estimator: Any) -> np.ndarray:
    """0/1 labels with ``estimator.classes_`` set; exactly two classes are required."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"y must hold exactly two classes, got {len(classes)}: {classes[:5]}")
    estimator.classes_ = classes
    return (y == classes[1]).astype(np.uint8)


def feature_names(estimator: Any) -> List[str]:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j}" for j in range(estimator.n_features_in_)]
