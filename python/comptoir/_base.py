"""What every comptoir estimator shares: scikit-learn's parameter protocol, the "not fitted"
error, and pickling through the same model-file bytes the C++ library reads."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .exceptions import not_fitted_error


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
                raise ValueError(f"unknown parameter {name!r} for {type(self).__name__}")
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

    def save(self, path: Any) -> None:
        """Write the fitted model as a comptoir model file (atomically)."""
        from .io import write_model_bytes

        write_model_bytes(path, self._fitted().to_bytes())

    @classmethod
    def load(cls, path: Any) -> Any:
        """An estimator around the model in a comptoir model file (checked, kind included)."""
        from .io import read_model_bytes

        estimator = cls()
        estimator.__setstate__({"model_": read_model_bytes(path)})
        estimator._restore_from_model()
        profile = getattr(estimator.model_, "training_profile", None)
        if profile is not None:
            estimator.feature_profile_ = profile
        return estimator

    def _restore_from_model(self) -> None:
        """Rebuild fitted attributes a model file carries (hook for subclasses)."""

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = state["model_"].to_bytes()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        if "model_" in state:
            state["model_"] = self._load_core(state["model_"])
        self.__dict__.update(state)


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
