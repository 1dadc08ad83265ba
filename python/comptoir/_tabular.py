"""Tables in, float64 matrices out: what every tabular estimator does with ``X`` and ``y``.

NumPy arrays and pandas frames are accepted. Column names seen in ``fit`` are checked at prediction
time; pandas ``category`` columns (and string columns an estimator names in its
``categorical_features``) become integer codes (NaN when missing), with the levels seen in ``fit``
reused at prediction so a code always means the same category; a level not seen in ``fit`` is
treated as missing. The levels, feature names and class labels go into the model file's schema and
come back typed at load. ``fit`` records a
profile of the training features (``feature_profile_``); predicting on 1,000 rows or more
(explanations and ``fit``'s eval set excepted) compares them with it and warns (``DriftWarning``)
about every feature whose population stability index exceeds 0.25, so a broken feature pipeline is
noticed before its scores are used. The warning points at the caller's line (the first frame
outside comptoir), comes at most once per model and call site (time snapshots always drift a
little: a scoring loop is told once), and is off for an estimator constructed with
``drift_check=False``."""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from typing import Any, Dict, List, Tuple

import numpy as np

from . import _core
from .exceptions import DriftWarning, InvalidArgumentError

# Fewer rows than this say too little about a population to warn on (PSI's noise is about
# bins / rows).
_MIN_ROWS_FOR_DRIFT = 1_000


def _category_columns(X: Any, estimator: Any, fitting: bool) -> List[int]:
    """Columns of a frame to encode as category codes: pandas ``category`` columns, and at fit the
    text columns the estimator names in ``categorical_features`` (by name or index); at prediction
    every column that had levels at fit."""
    if not hasattr(X, "dtypes"):
        return []
    columns = {j for j, dtype in enumerate(X.dtypes) if str(dtype) == "category"}
    if fitting:
        named = categorical_indices(getattr(estimator, "categorical_features", None), list(X.columns), X.shape[1])
        columns |= {j for j in named if X.dtypes.iloc[j].kind in "OUST"}
    else:
        columns |= set(getattr(estimator, "category_levels_", {}))
    return sorted(columns)


def categorical_indices(spec: Any, names: Any, n_features: int) -> List[int]:
    """The columns ``categorical_features`` names: column names, indices, a boolean mask, or one
    name alone; a name or index that is not a column is an error saying so."""
    if spec is None:
        return []
    spec = [spec] if isinstance(spec, (str, int, np.integer)) else list(spec)
    if len(spec) == n_features and spec and all(isinstance(v, (bool, np.bool_)) for v in spec):
        return [j for j, flag in enumerate(spec) if flag]
    indices = set()
    for item in spec:
        if isinstance(item, str):
            if names is None or item not in names:
                raise InvalidArgumentError(f"categorical feature {item!r} is not a column of X")
            indices.add(names.index(item))
        elif isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            raise InvalidArgumentError(f"categorical_features holds {item!r}: give column names, indices or a boolean mask "
                             "of one flag per column")
        elif not 0 <= int(item) < n_features:
            raise InvalidArgumentError(f"categorical feature index {item} is outside [0, {n_features})")
        else:
            indices.add(int(item))
    return sorted(indices)


def _conversion_warning() -> type:
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    return sklearn_exceptions.DataConversionWarning if sklearn_exceptions is not None else UserWarning


def matrix(X: Any, estimator: Any, fitting: bool, check_drift: bool = True) -> np.ndarray:
    """``X`` as a C-contiguous float64 matrix, fitted-shape checks included. NaN and infinity are
    rejected unless the estimator handles missing values (``_allow_nan``)."""
    if X is None:
        raise InvalidArgumentError("X is None: expected an array or a DataFrame")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError("sparse input is not supported: pass a dense array (X.toarray())")
    names = list(X.columns) if hasattr(X, "columns") else None
    categorical = _category_columns(X, estimator, fitting)
    if categorical:
        import pandas as pd

        levels: Dict[int, Any] = {} if fitting else getattr(estimator, "category_levels_", {})
        X = X.copy()
        for j in categorical:
            column = X.iloc[:, j]
            if fitting:
                levels[j] = column.cat.categories if str(column.dtype) == "category" else pd.Categorical(column).categories
            elif j not in levels:
                raise InvalidArgumentError(f"column {names[j]!r} is categorical, but was not in fit: its codes would mean nothing")
            # Levels not seen in fit become missing (as pandas codes them), said so explicitly.
            column = column.where(column.isin(levels[j]))
            codes = pd.Categorical(column, categories=levels[j]).codes.astype(np.float64)
            codes[codes < 0] = np.nan
            X.isetitem(j, codes)
        if fitting:
            estimator.category_levels_ = levels
    elif fitting and hasattr(estimator, "category_levels_"):
        del estimator.category_levels_
    raw = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if np.iscomplexobj(raw):
        raise InvalidArgumentError("Complex data not supported")
    values = np.ascontiguousarray(raw, dtype=np.float64)
    if values.ndim != 2:
        raise InvalidArgumentError(f"X must be 2-D (rows x features), got shape {values.shape}: Reshape your data with "
                         "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single row")
    if values.shape[0] == 0:
        raise InvalidArgumentError(f"Found array with 0 sample(s) (shape={values.shape}) while a minimum of 1 is required.")
    if values.shape[1] == 0:
        raise InvalidArgumentError(f"Found array with 0 feature(s) (shape={values.shape}) while a minimum of 1 is required.")
    if not getattr(estimator, "_allow_nan", False) and not np.isfinite(values).all():
        row, column = np.argwhere(~np.isfinite(values))[0]
        raise InvalidArgumentError(f"X holds NaN or infinity (first at row {row}, column {column}); "
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
            raise InvalidArgumentError(f"X has {values.shape[1]} features, but {type(estimator).__name__} is expecting "
                             f"{estimator.n_features_in_} features as input")
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if fitted_names is not None and names is not None and list(fitted_names) != names:
            raise InvalidArgumentError(f"feature names differ from those seen in fit: {names} vs {list(fitted_names)}")
        if check_drift and getattr(estimator, "drift_check", True) and len(values) >= _MIN_ROWS_FOR_DRIFT and getattr(estimator, "feature_profile_", None) is not None:
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
    estimator.feature_profile_ = _core.features.FeatureProfile.fit(values, threads(getattr(estimator, "n_jobs", 0)))


def feature_drift(estimator: Any, X: Any) -> Dict[str, float]:
    """Population stability index of each feature of ``X`` against the estimator's training
    features, highest first (below 0.1 stable, 0.1 to 0.25 shifting, above 0.25 drifted)."""
    profile = getattr(estimator, "feature_profile_", None)
    if profile is None:
        raise InvalidArgumentError(f"this {type(estimator).__name__} has no training profile: fit it (model files "
                         "written before comptoir recorded profiles carry none)")
    values = matrix(X, estimator, fitting=False, check_drift=False)
    psi = profile.population_stability(values, threads(getattr(estimator, "n_jobs", 0)))
    ranked = sorted(zip(feature_names(estimator), psi.tolist()), key=lambda pair: -pair[1])
    return dict(ranked)


# Per model, the call sites already warned (weakly keyed: the record goes with the model).
_WARNED: "weakref.WeakKeyDictionary[Any, set]" = weakref.WeakKeyDictionary()
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _caller() -> Tuple[int, Tuple[str, int]]:
    """(stacklevel for warnings.warn called from _warn_on_drift, (file, line)) of the first frame
    outside comptoir."""
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE:
        frame, level = frame.f_back, level + 1
    if frame is None:
        return level, ("", 0)
    return level, (frame.f_code.co_filename, frame.f_lineno)


def _warn_on_drift(estimator: Any, values: np.ndarray) -> None:
    level, site = _caller()
    try:
        warned = _WARNED.setdefault(estimator, set())
    except TypeError:
        warned = set()
    if site in warned:
        return
    psi = estimator.feature_profile_.population_stability(values, threads(getattr(estimator, "n_jobs", 0)))
    drifted = np.flatnonzero(psi > _core.features.SIGNIFICANT_DRIFT)
    if drifted.size == 0:
        return
    warned.add(site)
    names = feature_names(estimator)
    worst = drifted[np.argsort(-psi[drifted])]
    listed = ", ".join(f"{names[j]} ({psi[j]:.2f})" for j in worst[:10])
    more = f" and {len(worst) - 10} more" if len(worst) > 10 else ""
    warnings.warn(f"{type(estimator).__name__}: {len(worst)} of {len(psi)} features drifted from training "
                  f"(population stability index above {_core.features.SIGNIFICANT_DRIFT}): {listed}{more}; "
                  "check the feature pipeline or refit before trusting these scores", DriftWarning, stacklevel=level)


def attach_schema(estimator: Any) -> None:
    """Feature names, category levels, class labels and the training profile onto the fitted C++
    model, whose model file keeps them."""
    model = estimator.model_
    if hasattr(model, "schema"):
        model.schema = schema_of(estimator)
    else:
        model.feature_names = feature_names(estimator)
    profile = getattr(estimator, "feature_profile_", None)
    if profile is not None:
        model.training_profile = profile


def schema_of(estimator: Any) -> Dict[str, Any]:
    """The C++ FeatureSchema (as the bindings' dict) of a fitted estimator."""
    levels = getattr(estimator, "category_levels_", {})
    schema: Dict[str, Any] = {"feature_names": feature_names(estimator),
                              "categorical": [(j, *typed_values(levels[j])) for j in sorted(levels)]}
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        schema["class_labels"] = typed_values(classes)
    arms = getattr(estimator, "arm_names_", None)
    if arms is not None:
        schema["arm_names"] = ("string", [str(a) for a in arms])
    return schema


def typed_values(values: Any) -> Tuple[str, List[str]]:
    """Labels as the schema keeps them: their type and each one as text."""
    array = np.asarray(values)
    if array.dtype.kind == "b":
        return "bool", ["true" if v else "false" for v in array.tolist()]
    if array.dtype.kind in "iu":
        return "int64", [str(int(v)) for v in array.tolist()]
    if array.dtype.kind == "f":
        return "float64", [repr(float(v)) for v in array.tolist()]
    return "string", [str(v) for v in array.tolist()]


def values_of(kind: str, texts: List[str]) -> np.ndarray:
    """The labels ``typed_values`` wrote, with their type back."""
    if kind == "bool":
        return np.array([t == "true" for t in texts], dtype=bool)
    if kind == "int64":
        return np.array([int(t) for t in texts], dtype=np.int64)
    if kind == "float64":
        return np.array([float(t) for t in texts], dtype=np.float64)
    return np.array(texts)


def restore_schema(estimator: Any, model: Any) -> None:
    """What ``matrix`` recorded at fit, back from a loaded model's schema (attributes the estimator
    already has are kept): ``n_features_in_``, ``feature_names_in_`` (unless the names are the
    x0, x1, ... given to arrays), ``category_levels_`` and, for classifiers, ``classes_`` (0 and 1
    for files without labels)."""
    import pandas as pd

    schema = model.schema if hasattr(model, "schema") else {"feature_names": list(model.feature_names),
                                                            "categorical": [], "class_labels": ("", [])}
    n = model.num_features if hasattr(model, "num_features") else len(model.coefficients)
    if not hasattr(estimator, "n_features_in_"):
        estimator.n_features_in_ = n
    names = list(schema["feature_names"])
    if names and names != [f"x{j}" for j in range(n)] and not hasattr(estimator, "feature_names_in_"):
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    if schema["categorical"] and not hasattr(estimator, "category_levels_"):
        estimator.category_levels_ = {j: pd.Index(values_of(kind, texts).tolist())
                                      for j, kind, texts in schema["categorical"]}
    if getattr(estimator, "_estimator_type", None) == "classifier" and not hasattr(estimator, "classes_"):
        kind, texts = schema["class_labels"]
        estimator.classes_ = values_of(kind, texts) if len(texts) == 2 else np.array([0, 1])


def targets(y: Any) -> np.ndarray:
    """``y`` as a 1-D array; a column vector is flattened with a warning, as scikit-learn does."""
    if y is None:
        raise InvalidArgumentError("this estimator requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; it was flattened",
                      _conversion_warning(), stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise InvalidArgumentError(f"y must be 1-D, got shape {y.shape}")
    return y


def binary_labels(y: Any, estimator: Any) -> np.ndarray:
    """0/1 labels with ``estimator.classes_`` set; exactly two classes are required."""
    y = targets(y)
    if y.dtype.kind == "f" and (~np.isfinite(y)).any():
        raise InvalidArgumentError("y holds NaN or infinity")
    if y.dtype.kind == "f" and (y != np.round(y)).any():
        raise InvalidArgumentError("Unknown label type: continuous target; a classifier needs class labels")
    classes = np.unique(y)
    if len(classes) > 2:
        raise InvalidArgumentError(f"Only binary classification is supported. The type of the target is multiclass "
                         f"({len(classes)} classes).")
    if len(classes) < 2:
        raise InvalidArgumentError(f"y must hold exactly two classes, got {len(classes)} class: {classes[:5]}")
    estimator.classes_ = classes
    return (y == classes[1]).astype(np.uint8)


def sample_weights(sample_weight: Any, n: int) -> Any:
    """``None`` or a float64 vector of n non-negative weights that are not all zero."""
    if sample_weight is None:
        return None
    weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise InvalidArgumentError(f"sample_weight has shape {weights.shape}, expected ({n},)")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise InvalidArgumentError("sample weights must be finite and non-negative")
    if not weights.any():
        raise InvalidArgumentError("sample weights are all zero: at least one weight must be positive")
    return weights


def threads(n_jobs: Any) -> int:
    """scikit-learn's and LightGBM's n_jobs=-1 (every core) is our 0."""
    return 0 if n_jobs is None or int(n_jobs) < 0 else int(n_jobs)


def verbosity(verbose: Any) -> Any:
    """LightGBM's verbose=-1 (and 0) means silent, as False does; a callback or bool is kept."""
    if isinstance(verbose, (int, np.integer)) and not isinstance(verbose, (bool, np.bool_)):
        return verbose > 0
    return verbose


def feature_names(estimator: Any) -> List[str]:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{j}" for j in range(estimator.n_features_in_)]
