"""What every comptoir estimator shares: scikit-learn's parameter protocol, the "not fitted"
error, and pickling through the same model-file bytes the C++ library reads."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from .exceptions import NotFittedError


class Estimator:
    _param_names: Tuple[str, ...] = ()

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
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() or load() first")
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
