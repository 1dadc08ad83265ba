"""What every comptoir estimator shares: scikit-learn's parameter protocol, the "not fitted"
error, and pickling through the same model-file bytes the C++ library reads."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .exceptions import InvalidArgumentError, not_fitted_error


class Estimator:
    _param_names: Tuple[str, ...] = ()
    # What scikit-learn's tags say about the estimator (read only when scikit-learn asks).
    _estimator_type: Optional[str] = None  # "classifier" or "regressor"
    _allow_nan = False

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        kind = self._estimator_type
        return Tags(
            estimator_type=kind,
            target_tags=TargetTags(required=kind is not None),
            transformer_tags=None,
            classifier_tags=ClassifierTags(multi_class=False) if kind == "classifier" else None,
            regressor_tags=RegressorTags() if kind == "regressor" else None,
            input_tags=InputTags(allow_nan=self._allow_nan),
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params: Any) -> Any:
        for name, value in params.items():
            if name not in self._param_names:
                raise InvalidArgumentError(f"unknown parameter {name!r} for {type(self).__name__}")
            setattr(self, name, value)
        return self

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        """The fitted C++ model from its model-file bytes."""
        raise NotImplementedError

    def _fitted(self) -> Any:
        model = getattr(self, "model_", None)
        if model is None:
            raise not_fitted_error(f"this {type(self).__name__} is not fitted yet: call fit() or load() first")
        return model

    # ---- the model file: the C++ model's bytes, the estimator record and the shop's ids ------

    def _core_bytes(self) -> bytes:
        """The C++ model's own file bytes (composites override to nest their parts)."""
        return self._fitted().to_bytes()

    def _encode_param(self, name: str, value: Any) -> Any:
        """A parameter as JSON for the model file; estimators with parameters JSON cannot hold
        (factories, callbacks) override this and ``_decode_param``."""
        if name == "verbose" and callable(value):
            return None  # a progress callback belongs to the session that fitted, not to the model
        try:
            return encode_value(value)
        except TypeError:
            raise InvalidArgumentError(f"parameter {name}={value!r} of {type(self).__name__} cannot be stored in a model "
                             "file") from None

    @classmethod
    def _decode_param(cls, name: str, value: Any) -> Any:
        return decode_value(value)

    def to_bytes(self, user_id_key: Optional[str] = None) -> bytes:
        """The complete model file as bytes: what ``save`` writes and pickles carry."""
        from . import _core

        record = {"class": class_path(type(self)),
                  "params": {name: self._encode_param(name, value) for name, value in self.get_params(deep=False).items()}}
        data = _core.io.with_blobs(self._core_bytes(), {ESTIMATOR_BLOB: json.dumps(record).encode()})
        items, users = getattr(self, "item_ids_", None), getattr(self, "user_ids_", None)
        if items is not None or users is not None:
            data = _core.io.attach_ids(data, items, users, user_id_key or "")
        hashes = self.__dict__.get("_user_id_hashes_")
        if users is None and hashes is not None:
            # Loaded pseudonymised: the hashes travel as they are, under the key they were made with.
            data = _core.io.with_blobs(data, {USER_ID_HASHES_BLOB: hashes})
        return data

    @classmethod
    def from_bytes(cls, data: bytes, user_id_key: Optional[str] = None) -> Any:
        """An estimator from complete model-file bytes; ``ModelFormatError`` naming both classes when
        the file holds another estimator."""
        from . import _core
        from .exceptions import ModelFormatError

        record = read_record(data)
        if record is not None and record["class"] != class_path(cls):
            kind = _core.io.inspect_model_bytes(data)["model_kind"]
            raise ModelFormatError(f"the model file holds a {record['class']} (kind '{kind}'), not a "
                                   f"{class_path(cls)}: load it with comptoir.load_model or that class")
        params = {} if record is None else {name: cls._decode_param(name, value) for name, value in record["params"].items()}
        estimator = cls(**{name: value for name, value in params.items() if name in cls._param_names})
        estimator.model_ = cls._load_core(data)
        estimator._restore_ids(_core.io.read_ids(data, user_id_key or ""))
        if estimator.users_pseudonymised_:
            estimator._user_id_hashes_ = _core.io.blob(data, USER_ID_HASHES_BLOB)
        estimator._restore_from_model()
        profile = getattr(estimator.model_, "training_profile", None)
        if profile is not None:
            estimator.feature_profile_ = profile
        return estimator

    def _restore_ids(self, ids: Dict[str, Any]) -> None:
        for name, key in (("item_ids_", "items"), ("user_ids_", "users")):
            if ids[key] is not None:
                setattr(self, name, np.asarray(ids[key], dtype=object) if isinstance(ids[key], list) else ids[key])
        self.users_pseudonymised_ = bool(ids["users_pseudonymised"])
        self.__dict__.pop("_user_id_hashes_", None)

    def save(self, path: Any, user_id_key: Optional[str] = None) -> None:
        """Write the fitted model as one comptoir model file (atomically): the C++ model, the
        estimator's parameters and the shop's ids. With ``user_id_key`` (16 bytes or more, kept by
        you and never written), customer ids are stored only as keyed hashes."""
        from .io import write_model_bytes

        write_model_bytes(path, self.to_bytes(user_id_key))

    @classmethod
    def load(cls, path: Any, user_id_key: Optional[str] = None) -> Any:
        """The estimator saved in a comptoir model file (checked, class and kind included)."""
        from .io import read_model_bytes

        return cls.from_bytes(read_model_bytes(path), user_id_key)

    def _restore_from_model(self) -> None:
        """Rebuild fitted attributes a model file carries (hook for subclasses)."""

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = self.to_bytes()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        if "model_" in state:
            state["model_"] = self._load_core(state["model_"])
        self.__dict__.update(state)


ESTIMATOR_BLOB = "estimator"
USER_ID_HASHES_BLOB = "user_id_hashes"


def class_path(cls: type) -> str:
    module = cls.__module__
    return f"{module}.{cls.__qualname__}"


def read_record(data: bytes) -> Optional[Dict[str, Any]]:
    """The estimator record of a model file: its Python class and parameters (None in files written
    by C++ alone or before records were kept)."""
    from . import _core
    from .exceptions import ModelFormatError

    blob = _core.io.blob(data, ESTIMATOR_BLOB)
    if blob is None:
        return None
    try:
        record = json.loads(blob.decode())
        if not isinstance(record.get("class"), str) or not isinstance(record.get("params"), dict):
            raise InvalidArgumentError("fields missing")
    except (ValueError, UnicodeDecodeError, AttributeError) as error:
        raise ModelFormatError(f"the model file's estimator record is corrupted: {error}") from None
    return record


def encode_value(value: Any) -> Any:
    """JSON for the values hyperparameters take: tuples and arrays keep their type."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v) for v in value]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode_value(v) for k, v in value.items()}}
    if isinstance(value, Estimator):
        # A nested estimator's specification; a composite restores the fitted part from its own
        # nested model file.
        return {"estimator": class_path(type(value)),
                "params": {k: value._encode_param(k, v) for k, v in value.get_params(deep=False).items()}}
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode_value(value: Any) -> Any:
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(decode_value(v) for v in value["tuple"])
        if "array" in value:
            return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
        if "dict" in value:
            return {k: decode_value(v) for k, v in value["dict"].items()}
        if "estimator" in value:
            cls = estimator_class(value["estimator"])
            return cls(**{k: cls._decode_param(k, v) for k, v in value["params"].items() if k in cls._param_names})
    return value


def estimator_class(path: str) -> type:
    """The comptoir estimator class a model file's record names."""
    import importlib

    from .exceptions import ModelFormatError

    module, _, name = path.rpartition(".")
    if not module.startswith("comptoir."):
        raise ModelFormatError(f"the model file names a class outside comptoir: {path}")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ModelFormatError(f"the model file holds a {path}, which this comptoir does not have") from None
    if not (isinstance(cls, type) and issubclass(cls, Estimator)):
        raise ModelFormatError(f"the model file names {path}, which is not a comptoir estimator")
    return cls


def load_model(path: Any, user_id_key: Optional[str] = None) -> Any:
    """The estimator saved in any comptoir model file, of the class that saved it."""
    from .exceptions import ModelFormatError
    from .io import read_model_bytes

    data = read_model_bytes(path)
    record = read_record(data)
    if record is None:
        raise ModelFormatError(f"{path} carries no estimator record (written by C++ or an older comptoir): "
                               "load it with its estimator class")
    return estimator_class(record["class"]).from_bytes(data, user_id_key)


class ClassifierMixin:
    _estimator_type = "classifier"

    def score(self, X: Any, y: Any, sample_weight: Optional[Any] = None) -> float:
        """Mean accuracy, as scikit-learn's classifiers define ``score``."""
        import numpy as np

        return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))  # type: ignore[attr-defined]


class RegressorMixin:
    _estimator_type = "regressor"

    def score(self, X: Any, y: Any, sample_weight: Optional[Any] = None) -> float:
        """R-squared, as scikit-learn's regressors define ``score``."""
        import numpy as np

        y = np.asarray(y, dtype=float)
        residual = np.average((y - self.predict(X)) ** 2, weights=sample_weight)  # type: ignore[attr-defined]
        spread = np.average((y - np.average(y, weights=sample_weight)) ** 2, weights=sample_weight)
        return float(1 - residual / spread) if spread > 0 else 0.0
