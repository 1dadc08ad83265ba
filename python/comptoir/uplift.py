"""Uplift meta-learners over comptoir's own base models: who needs an offer to buy.

``fit(X, treatment=..., y=...)`` (by keyword: causalml and scikit-uplift order the two differently,
so a positional call is refused). ``treatment`` holds each row's arm as an offer name, an integer
code, a boolean or a pandas categorical; ``control_name`` names the control arm ("control", 0 or
False by default) and every other arm is an offer (``comptoir._offers`` states the convention the
metrics, ``policy_value`` and the planner share). ``predict(X)`` returns the estimated effect of
each offer against control: a DataFrame with one column per offer name when X is a DataFrame, a
(rows, K) array in ``offer_names_`` order otherwise. ``explain(X, offer=...)`` takes the offer's
name or its value in the treatment. Outcomes are binary (conversion, visit: response models are
classifiers, ``base_learner``, comptoir's ``LogisticRegression`` by default) or continuous (spend: response models are regressors,
``regressor``, comptoir's ``GradientBoostingRegressor`` by default). The X- and doubly-robust
learners regress imputed effects with ``regressor`` and explain each customer's predicted effect
with its TreeSHAP contributions.

Propensities: by default the data are taken as a randomised experiment, so the chance of each arm
is its share of the rows; pass ``propensity_learner`` (a classifier factory) for observational
data, where it is fitted per offer against control.

Every learner is served by a C++ model (``comptoir::LoadModel`` loads its file in a backend): the
forest is one, and each meta-learner is a composite nesting its fitted parts' model files. The arm
names (control first) are in the file's schema, so a loaded model, in Python or C++, reports the
same offer names; integer and boolean offers are named "offer <code>" / "treatment" unless
``offer_names`` names them. ``drift_check=False`` turns the DriftWarning of ``predict`` off.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._base import Estimator, class_path, estimator_class, read_record
from . import _offers, _tabular
from ._progress import make_progress
from ._tabular import attach_schema as _attach_schema
from ._tabular import mark_inner
from ._tabular import restore_schema as _restore_schema
from ._tabular import feature_names as _feature_names
from ._tabular import matrix as _matrix
from .propensity import LogisticRegression
from .exceptions import InvalidArgumentError


# The model kinds the learners here write.
UPLIFT_KINDS = ("uplift_forest", "s_learner", "t_learner", "x_learner", "dr_learner", "class_transformation")


def _fit_arguments(owner: Any, args: Tuple[Any, ...], treatment: Any, y: Any) -> None:
    """Refuses a positional treatment and outcome: the peers disagree on their order."""
    name = type(owner).__name__
    if args:
        raise TypeError(f"{name}.fit takes the treatment and the outcome by keyword: fit(X, treatment=..., y=...). "
                        "causalml orders them (X, treatment, y) and scikit-uplift (X, y, treatment), so a positional "
                        "call could swap them silently")
    if treatment is None or y is None:
        raise TypeError(f"{name}.fit needs treatment= (the arm of each row) and y= (the outcome)")


def _outcome(y: Any, treatment: np.ndarray, arms: _offers.Arms, binary_only: bool = False) -> Tuple[np.ndarray, bool]:
    """(outcome as float64, whether it is binary), every arm checked to have something to model."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"the outcome y must be numeric (0/1 conversions or spend), got dtype {y.dtype}: "
                         "encode it, e.g. (y == 'yes').astype(int)")
    y = y.astype(float)
    if y.shape != treatment.shape:
        raise InvalidArgumentError(f"outcome has shape {y.shape} but treatment has {treatment.shape}")
    if np.isnan(y).any():
        raise InvalidArgumentError(f"outcome has NaN at rows {np.flatnonzero(np.isnan(y))[:5].tolist()}")
    binary = bool(np.isin(y, (0, 1)).all())
    if binary_only and not binary:
        raise InvalidArgumentError("this learner takes a binary outcome (0/1)")
    for code, name in enumerate(arms.names):
        values = y[treatment == code]
        if binary and not 0 < values.sum() < len(values):
            raise InvalidArgumentError(f"arm {arms.values[code]!r} ({name}) has only one outcome class: its response cannot be "
                             "modelled")
    return y, binary


def _default_regressor() -> Any:
    from .trees import GradientBoostingRegressor

    # Imputed effects are noisy: small, well-populated trees and a slow learning rate.
    return GradientBoostingRegressor(n_estimators=150, learning_rate=0.05, num_leaves=15, min_samples_leaf=100)


def _response(model: Any, X: np.ndarray, binary: bool) -> np.ndarray:
    return model.predict_proba(X)[:, 1] if binary else model.predict(X)


def _explained(contributions: np.ndarray, X: Any) -> Any:
    if hasattr(X, "columns"):
        import pandas as pd

        return pd.DataFrame(contributions, columns=list(X.columns) + ["base_value"], index=X.index)
    return contributions


class EstimatorFactory(functools.partial):
    """A base-learner factory restored from a model file: ``partial(cls, **params)``. It equals any
    ``functools.partial`` of the same class and keywords, so ``load(path).get_params()`` equals the
    parameters fitted with a partial. A factory given as a lambda or function is stored as the
    class and full parameters of the estimator it makes, and comes back as the equivalent partial."""

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, functools.partial):
            return NotImplemented
        return (self.func, self.args, self.keywords) == (other.func, other.args, other.keywords)

    def __hash__(self) -> int:
        return hash((self.func, self.args, tuple(sorted(self.keywords))))


_FACTORY_PARAMS = ("base_learner", "regressor", "propensity_learner")


def _comptoir_part(model: Any, param: str, owner: str) -> Any:
    if not isinstance(model, Estimator):
        raise TypeError(f"{owner}'s {param} made a {type(model).__name__}: the learner serves from C++ through the model "
                        "files of its parts, so they must be comptoir estimators (LogisticRegression, "
                        "GradientBoostingClassifier, GradientBoostingRegressor)")
    return mark_inner(model)


ARMS_BLOB = "offer_arms"


class _OfferModel(Estimator):
    """The offer convention every uplift model shares (see ``comptoir._offers``): arms given as
    names, codes, booleans or a categorical with ``control_name`` the control; ``arms_`` (the arm
    values, control first), ``arm_names_`` and ``offer_names_`` after fit; offers chosen by name or
    value; effects as a DataFrame named by offer when X is a DataFrame. The arm values travel in
    the model file (blob "offer_arms"), their names in its schema."""

    def _encode_arms(self, treatment: Any) -> np.ndarray:
        codes, arms = _offers.encode(treatment, getattr(self, "control_name", None), self.offer_names)
        self._set_arms(arms)
        return codes

    def _set_arms(self, arms: _offers.Arms) -> None:
        self._arms = arms
        self.arms_ = arms.values_array()
        self.arm_names_ = list(arms.names)
        self.offer_names_ = arms.offer_names

    def _restore_arms(self, names: Sequence[str]) -> None:
        arms = self.__dict__.get("_arms")
        if arms is None or list(arms.names) != list(names):
            arms = _offers.Arms.codes_only(names)  # files without arm values: codes 0..K
        self._set_arms(arms)

    def _core_bytes(self) -> bytes:
        import json

        return _core.io.with_blobs(super()._core_bytes(), {ARMS_BLOB: json.dumps(self._arms.record()).encode()})

    @classmethod
    def from_bytes(cls, data: bytes, user_id_key: Optional[str] = None) -> Any:
        import json

        from .exceptions import ModelFormatError

        estimator = super().from_bytes(data, user_id_key)
        blob = _core.io.blob(data, ARMS_BLOB)
        if blob is not None:
            try:
                arms = _offers.Arms.from_record(json.loads(blob.decode()))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
                raise ModelFormatError(f"the model file's offer arms are corrupted: {error}") from None
            if list(arms.names) != estimator.arm_names_ or len(arms.values) != len(arms.names):
                raise ModelFormatError(f"the model file's offer arms {list(arms.names)} differ from its schema's "
                                       f"{estimator.arm_names_}")
            estimator._set_arms(arms)
        return estimator

    def _offer(self, offer: Any) -> int:
        self._fitted()
        return self._arms.offer_index(offer)

    @staticmethod
    def _named(values: np.ndarray, X: Any, names: Sequence[str]) -> Any:
        if hasattr(X, "columns"):
            import pandas as pd

            return pd.DataFrame(values, columns=list(names), index=X.index)
        return values

    def main_reasons(self, X: Any) -> Any:
        """Per customer and offer, the feature that adds most to the predicted effect, as text
        ("feature=value (+contribution)"): what a plan quotes as each customer's main reason. A
        DataFrame (rows x offer names) when X is one, else an object array."""
        model = self._fitted()
        matrix = _matrix(X, self, fitting=False, check_drift=False)
        names = _feature_names(self)
        out = np.empty((len(matrix), model.num_offers), dtype=object)
        for k in range(1, model.num_offers + 1):
            contributions = np.asarray(self._contributions(matrix, k))[:, :-1]
            top = contributions.argmax(axis=1)
            out[:, k - 1] = [f"{names[j]}={_shown_value(self, matrix[i, j], j)} ({contributions[i, j]:+.4f})"
                             for i, j in enumerate(top)]
        return self._named(out, X, self.offer_names_)


def _shown_value(model: Any, value: float, column: int) -> str:
    """A feature's value as a reason quotes it: a category by its level ("Urban", not 2)."""
    levels = getattr(model, "category_levels_", {}).get(column)
    if levels is not None and np.isfinite(value) and 0 <= int(value) < len(levels):
        return str(levels[int(value)])
    return f"{value:.4g}"


class _MetaLearner(_OfferModel):
    """Fitting in Python, each part fitted by its own C++ model; serving by the C++ composite
    (``_core.uplift.MetaLearner``) that nests the parts' model files. ``predict`` and ``explain`` go
    through it, and so do ``save``, ``load`` and pickling.

    ``base_learner``, ``regressor`` and ``propensity_learner`` are factories (callables returning an
    unfitted estimator). The model file stores them as the class and parameters of the estimator
    they make and restores an :class:`EstimatorFactory`. The parts of the model must be comptoir
    estimators (a TypeError at fit otherwise); ``propensity_learner`` is used only while fitting and
    may be any classifier, but a learner fitted with a foreign one cannot be saved (ValueError
    naming it). Pickling carries the model as its bytes and the factories as the file stores them
    (natively for a foreign propensity learner, which then must itself pickle)."""

    _param_names = ("base_learner", "regressor", "offer_names", "control_name", "drift_check")
    _kind = ""

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None, regressor: Optional[Callable[[], Any]] = None,
                 offer_names: Optional[Sequence[str]] = None, control_name: Any = None, drift_check: bool = True) -> None:
        self.base_learner = base_learner
        self.regressor = regressor
        self.offer_names = offer_names
        self.control_name = control_name
        self.drift_check = drift_check

    # ---- parameters in the model file -----------------------------------------------------

    def _encode_param(self, name: str, value: Any) -> Any:
        if name not in _FACTORY_PARAMS or value is None:
            return super()._encode_param(name, value)
        if (isinstance(value, functools.partial) and isinstance(value.func, type) and issubclass(value.func, Estimator)
                and not value.args):
            cls, params = value.func, dict(value.keywords)
        else:
            made = value()
            if not isinstance(made, Estimator):
                raise InvalidArgumentError(f"parameter {name} of {type(self).__name__} makes a {type(made).__name__}, not a comptoir "
                                 "estimator: it cannot be stored in a model file")
            cls, params = type(made), made.get_params(deep=False)
        instance = cls(**params)
        return {"factory": class_path(cls), "params": {k: instance._encode_param(k, v) for k, v in params.items()}}

    @classmethod
    def _decode_param(cls, name: str, value: Any) -> Any:
        if name in _FACTORY_PARAMS and isinstance(value, dict) and "factory" in value:
            made = estimator_class(value["factory"])
            return EstimatorFactory(made, **{k: made._decode_param(k, v) for k, v in value["params"].items()})
        return super()._decode_param(name, value)

    # ---- parts --------------------------------------------------------------------------

    def _response_model(self, binary: bool) -> Any:
        if binary:
            made = self.base_learner() if self.base_learner is not None else LogisticRegression(C=1.0)
            return _comptoir_part(made, "base_learner", type(self).__name__)
        return self._effect_model()

    def _effect_model(self) -> Any:
        made = self.regressor() if self.regressor is not None else _default_regressor()
        return _comptoir_part(made, "regressor", type(self).__name__)

    def _fit_responses(self, matrix: np.ndarray, treatment: np.ndarray, y: np.ndarray, arms: np.ndarray) -> List[Any]:
        return [self._response_model(self.binary_outcome_).fit(matrix[treatment == a], y[treatment == a]) for a in arms]

    def _start(self, X: Any, args: Tuple[Any, ...], treatment: Any, y: Any,
               binary_only: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Checked (matrix, treatment codes 0..K, outcome, the codes of the arms); sets
        binary_outcome_ and the arms."""
        _fit_arguments(self, args, treatment, y)
        codes = self._encode_arms(treatment)
        values, self.binary_outcome_ = _outcome(y, codes, self._arms, binary_only)
        matrix = _matrix(X, self, fitting=True)
        if len(matrix) != len(codes):
            raise InvalidArgumentError(f"X has {len(matrix)} rows but treatment has {len(codes)}")
        self.__dict__.pop("models_", None)
        return matrix, codes, values, np.arange(len(self.arm_names_))

    def _serve(self, parts: List[Any], blend: Sequence[float] = ()) -> None:
        """The C++ composite of the fitted parts (in the order of the kind's part list)."""
        self.model_ = _core.uplift.MetaLearner.create(
            self._kind, [part.to_bytes() for part in parts], bool(self.binary_outcome_), len(self.arm_names_),
            [float(g) for g in blend], arm_names=self.arm_names_)
        _attach_schema(self)
        self.models_ = self._group(parts)
        self._restore_from_model()

    def _group(self, parts: List[Any]) -> Any:
        """The Python view of the parts (``models_``)."""
        return parts

    def _restore_from_model(self) -> None:
        model = self.model_
        self.binary_outcome_ = model.binary_outcome
        self.num_arms_ = model.num_arms
        self.n_features_in_ = model.num_features
        self._restore_arms(list(model.arm_names))
        _restore_schema(self, model)
        if "models_" not in self.__dict__:
            self.models_ = self._group([_part_estimator(model.part_bytes(k)) for k in range(model.num_parts)])

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        from .exceptions import ModelFormatError

        kind = _core.io.inspect_model_bytes(data)["model_kind"]
        if kind != cls._kind:
            raise ModelFormatError(f"the model file holds a '{kind}' model, not a {cls.__name__} ('{cls._kind}')")
        return _core.uplift.MetaLearner.from_bytes(data)

    # ---- serving ------------------------------------------------------------------------

    def predict(self, X: Any) -> Any:
        """Estimated effect of each offer against control: (rows, K) in ``offer_names_`` order, a
        DataFrame with one column per offer name (and X's index) when X is a DataFrame."""
        model = self._fitted()
        return self._named(model.predict(_matrix(X, self, fitting=False)), X, self.offer_names_)

    def _contributions(self, matrix: np.ndarray, k: int) -> np.ndarray:
        return self._fitted().contributions(matrix, k)

    def explain(self, X: Any, offer: Any = None) -> Any:
        """Per-feature contributions to the predicted effect of ``offer`` (its name, or its value in
        the treatment; optional when there is one offer), with a
        ``base_value`` column; each row adds up to the predicted effect. Each part's contributions
        are taken on the scale of its output: a regressor's TreeSHAP as it is, a probability's (or
        a Poisson mean's) raw-score contributions rescaled by the secant slope of its link between
        the base value and the row (see include/comptoir/uplift/meta_learners.h); the S-learner
        credits each interaction column to its feature and the offer indicators to ``base_value``."""
        k = self._offer(offer)
        return _explained(self._contributions(_matrix(X, self, fitting=False, check_drift=False), k), X)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("models_", None)
        for name in _FACTORY_PARAMS:
            # A factory travels as the model file would store it (a lambda becomes its partial);
            # one making a foreign estimator (a fit-time propensity model) pickles natively.
            if state.get(name) is not None:
                try:
                    state[name] = self._decode_param(name, self._encode_param(name, state[name]))
                except ValueError:
                    pass
        if "model_" in state:
            state["model_"] = state["model_"].to_bytes()  # the composite, its parts nested
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        if "model_" in state:
            state["model_"] = self._load_core(state["model_"])
        self.__dict__.update(state)
        if "model_" in state:
            self._restore_from_model()


def _part_estimator(data: bytes) -> Any:
    """A part's Python estimator from its nested model file (None for a part saved by C++ alone)."""
    record = read_record(data)
    return None if record is None else estimator_class(record["class"]).from_bytes(data)


class _ArmOutcomeLearner(_MetaLearner):
    def predict_outcomes(self, X: Any) -> Any:
        """Predicted outcome under each arm, control first: (rows, K + 1), a DataFrame with one
        column per arm name when X is a DataFrame."""
        return self._named(self._fitted().predict_arm_outcomes(_matrix(X, self, fitting=False)), X, self.arm_names_)


class TLearner(_ArmOutcomeLearner):
    """One response model per arm; the effect is the difference of their predictions."""

    _kind = "t_learner"

    def fit(self, X: Any, *args: Any, treatment: Any = None, y: Any = None) -> "TLearner":
        matrix, treatment, values, arms = self._start(X, args, treatment, y)
        self._serve(self._fit_responses(matrix, treatment, values, arms))
        return self


class SLearner(_ArmOutcomeLearner):
    """One model on the features, the arm indicators and their interactions with the features;
    the effect is its prediction with each offer switched on minus with none."""

    _kind = "s_learner"

    def _design(self, matrix: np.ndarray, arm: int, arms: int) -> np.ndarray:
        indicators = np.zeros((len(matrix), arms - 1))
        if arm > 0:
            indicators[:, arm - 1] = 1
        interactions = (indicators[:, :, None] * matrix[:, None, :]).reshape(len(matrix), -1)
        return np.c_[matrix, indicators, interactions]

    def fit(self, X: Any, *args: Any, treatment: Any = None, y: Any = None) -> "SLearner":
        matrix, treatment, values, arms = self._start(X, args, treatment, y)
        design = np.concatenate([self._design(matrix[treatment == a], a, len(arms)) for a in arms])
        order = np.concatenate([values[treatment == a] for a in arms])
        self._serve([self._response_model(self.binary_outcome_).fit(design, order)])
        return self


class ClassTransformation(_MetaLearner):
    """Jaskowski and Jaroszewicz's class transformation, per offer against control: with the two
    groups reweighted to equal size, z = 1 for treated buyers and control non-buyers, and the
    uplift is 2 P(z = 1 | x) - 1."""

    _kind = "class_transformation"

    def fit(self, X: Any, *args: Any, treatment: Any = None, y: Any = None) -> "ClassTransformation":
        matrix, treatment, labels, arms = self._start(X, args, treatment, y, binary_only=True)
        labels = labels.astype(np.uint8)
        models = []
        for arm in arms[1:]:
            rows = (treatment == 0) | (treatment == arm)
            treated = treatment[rows] == arm
            z = np.where(treated, labels[rows], 1 - labels[rows])
            weight = np.where(treated, 0.5 / treated.mean(), 0.5 / (1 - treated.mean()))
            models.append(self._response_model(True).fit(matrix[rows], z, sample_weight=weight))
        self._serve(models)
        return self


class _EffectRegressionLearner(_MetaLearner):
    """Shared by the learners whose last stage regresses an imputed effect per offer."""

    _param_names = ("base_learner", "regressor", "propensity_learner", "offer_names", "control_name", "drift_check")

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None, regressor: Optional[Callable[[], Any]] = None,
                 propensity_learner: Optional[Callable[[], Any]] = None, offer_names: Optional[Sequence[str]] = None,
                 control_name: Any = None, drift_check: bool = True) -> None:
        super().__init__(base_learner, regressor, offer_names, control_name, drift_check)
        self.propensity_learner = propensity_learner

    def _propensity_model(self) -> Any:
        return mark_inner(self.propensity_learner())

    def _propensity(self, matrix: np.ndarray, treated: np.ndarray) -> np.ndarray:
        """P(offer | x) among the rows of one offer and control."""
        if self.propensity_learner is None:
            return np.full(len(treated), treated.mean())
        model = self._propensity_model().fit(matrix, treated.astype(int))
        return np.clip(model.predict_proba(matrix)[:, 1], 0.01, 0.99)


class XLearner(_EffectRegressionLearner):
    """Künzel et al.'s X-learner: response models per arm impute each customer's effect (treated:
    outcome minus the control model's prediction; control: the offer model's prediction minus the
    outcome), one regressor per side learns those effects, and the two are blended by the
    propensity, which favours the side that had more data."""

    _kind = "x_learner"

    def fit(self, X: Any, *args: Any, treatment: Any = None, y: Any = None) -> "XLearner":
        matrix, treatment, values, arms = self._start(X, args, treatment, y)
        responses = self._fit_responses(matrix, treatment, values, arms)
        control = treatment == 0
        parts, blend = [], []
        for arm in arms[1:]:
            treated = treatment == arm
            imputed_treated = values[treated] - _response(responses[0], matrix[treated], self.binary_outcome_)
            imputed_control = _response(responses[arm], matrix[control], self.binary_outcome_) - values[control]
            on_treated = self._effect_model().fit(matrix[treated], imputed_treated)
            on_control = self._effect_model().fit(matrix[control], imputed_control)
            rows = control | treated
            blend.append(float(self._propensity(matrix[rows], treated[rows]).mean()))
            parts += [on_control, on_treated]
        self._serve(parts, blend)
        return self

    def _group(self, parts: List[Any]) -> Any:
        return [(parts[k], parts[k + 1]) for k in range(0, len(parts), 2)]

    def _restore_from_model(self) -> None:
        super()._restore_from_model()
        self.blend_ = list(self.model_.blend)


class DRLearner(_EffectRegressionLearner):
    """Kennedy's doubly-robust learner: with cross-fitted response models and propensities, each
    customer's pseudo-outcome  mu1 - mu0 + T (y - mu1) / e - (1 - T) (y - mu0) / (1 - e)  is an
    unbiased effect estimate if either the responses or the propensity are right; a regressor
    learns it. ``folds`` splits for cross-fitting, seeded by ``random_state``."""

    _kind = "dr_learner"
    _param_names = _EffectRegressionLearner._param_names + ("folds", "random_state")

    def __init__(self, base_learner: Optional[Callable[[], Any]] = None, regressor: Optional[Callable[[], Any]] = None,
                 propensity_learner: Optional[Callable[[], Any]] = None, folds: int = 3, random_state: int = 42,
                 offer_names: Optional[Sequence[str]] = None, control_name: Any = None, drift_check: bool = True) -> None:
        super().__init__(base_learner, regressor, propensity_learner, offer_names, control_name, drift_check)
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: Any, *args: Any, treatment: Any = None, y: Any = None) -> "DRLearner":
        matrix, treatment, values, arms = self._start(X, args, treatment, y)
        if self.folds < 2:
            raise InvalidArgumentError(f"folds must be >= 2, got {self.folds}")
        fold = np.random.default_rng(self.random_state).permutation(len(values)) % self.folds
        parts = []
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
                    model = self._propensity_model().fit(matrix[rows[used]], treated[used].astype(int))
                    e = np.clip(model.predict_proba(matrix[rows[held]])[:, 1], 0.01, 0.99)
                m1 = _response(mu1, matrix[rows[held]], self.binary_outcome_)
                m0 = _response(mu0, matrix[rows[held]], self.binary_outcome_)
                t, outcome = treated[held], values[rows[held]]
                pseudo[held] = m1 - m0 + t * (outcome - m1) / e - (1 - t) * (outcome - m0) / (1 - e)
            parts.append(self._effect_model().fit(matrix[rows], pseudo))
        self._serve(parts)
        return self


class UpliftRandomForest(_OfferModel):
    """Uplift random forest (C++, all cores): trees split to separate customers by how differently
    they respond to each offer than to control. ``criterion``: ``"KL"``, ``"ED"`` (squared
    Euclidean), ``"Chi"`` or ``"DDP"``; KL and Chi need a 0/1 outcome, ED and DDP also take spend.
    ``honest=True`` estimates leaf effects on rows that did not choose the splits. Parameter names
    follow causalml's ``UpliftRandomForestClassifier``. ``n_estimators=1, bootstrap=False,
    max_features=1.0`` gives a single uplift tree."""

    _param_names = ("n_estimators", "criterion", "max_depth", "min_samples_leaf", "min_samples_treatment", "n_reg",
                    "max_features", "bootstrap", "honest", "max_bins", "random_state", "n_jobs", "verbose", "offer_names",
                    "control_name", "drift_check")
    # Set on the C++ config by name (the same names as the kwargs); the rest are options.
    _config_names = ("n_estimators", "max_depth", "min_samples_leaf", "min_samples_treatment", "n_reg", "bootstrap",
                     "honest", "max_bins")

    def __init__(self, n_estimators: int = 100, criterion: str = "KL", max_depth: int = 6, min_samples_leaf: int = 100,
                 min_samples_treatment: int = 10, n_reg: float = 100.0, max_features: Optional[float] = None,
                 bootstrap: bool = True, honest: bool = False, max_bins: int = 64, random_state: int = 42, n_jobs: int = 0,
                 verbose: Any = False, offer_names: Optional[Sequence[str]] = None, control_name: Any = None,
                 drift_check: bool = True) -> None:
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
        self.offer_names = offer_names
        self.control_name = control_name
        self.drift_check = drift_check

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.uplift.UpliftForest.from_bytes(data)

    def _config(self) -> Any:
        config = _core.uplift.UpliftForestConfig()
        criteria = _core.uplift.SplitCriterion.__members__
        if self.criterion not in criteria:
            raise InvalidArgumentError(f"criterion must be 'KL', 'ED', 'Chi' or 'DDP', got {self.criterion!r}")
        config.criterion = criteria[self.criterion]
        for name in self._config_names:
            value = getattr(self, name)
            setattr(config, name, bool(value) if isinstance(getattr(config, name), bool) else type(getattr(config, name))(value))
        config.max_features = 0.0 if self.max_features is None else float(self.max_features)
        return config

    def fit(self, X: Any, *args: Any, treatment: Any = None, y: Any = None) -> "UpliftRandomForest":
        _fit_arguments(self, args, treatment, y)
        codes = self._encode_arms(treatment)
        arm_names = self.arm_names_
        values, _ = _outcome(y, codes, self._arms)
        matrix = _matrix(X, self, fitting=True)
        if len(matrix) != len(codes):
            raise InvalidArgumentError(f"X has {len(matrix)} rows but treatment has {len(codes)}")
        self.model_ = _core.uplift.UpliftForest.fit(matrix, codes, values, self._config(),
                                                    num_threads=_tabular.threads(self.n_jobs), seed=int(self.random_state),
                                                    on_progress=make_progress(_tabular.verbosity(self.verbose)))
        _attach_schema(self)
        self.model_.arm_names = arm_names
        self._restore_from_model()
        return self

    def _restore_from_model(self) -> None:
        model = self.model_
        # The hyperparameters the file's config holds (also for files without an estimator record).
        config = model.config
        for name in self._config_names:
            setattr(self, name, getattr(config, name))
        self.criterion = config.criterion.name
        self.max_features = None if config.max_features == 0 else config.max_features
        self.n_features_in_ = model.num_features
        # Files before arm names: control and "offer 1".., codes 0..K.
        self._restore_arms(list(model.arm_names) or ["control"] + [f"offer {k}" for k in range(1, model.num_offers + 1)])
        _restore_schema(self, model)
        importance = model.feature_importance
        self.feature_importances_ = importance / importance.sum() if importance.sum() > 0 else importance

    def predict(self, X: Any) -> Any:
        """Estimated effect of each offer against control: (rows, K) in ``offer_names_`` order, a
        DataFrame with one column per offer name (and X's index) when X is a DataFrame."""
        effect = self._fitted().predict(_matrix(X, self, fitting=False), _tabular.threads(self.n_jobs))
        return self._named(effect, X, self.offer_names_)

    def predict_outcomes(self, X: Any) -> Any:
        """Estimated outcome under each arm, control first: (rows, K + 1), a DataFrame with one
        column per arm name when X is a DataFrame."""
        outcomes = self._fitted().predict_arm_outcomes(_matrix(X, self, fitting=False), _tabular.threads(self.n_jobs))
        return self._named(outcomes, X, self.arm_names_)

    def _contributions(self, matrix: np.ndarray, k: int) -> np.ndarray:
        return self._fitted().contributions(matrix, k, _tabular.threads(self.n_jobs))

    def explain(self, X: Any, offer: Any = None) -> Any:
        """Per-feature contributions to the predicted effect of ``offer``: along each tree's path,
        every split moves the effect from the parent's to the child's and the change is credited to
        the split's feature; ``base_value`` is the mean root effect. Rows add up to the effect.
        ``offer``: its name or its value in the treatment (optional when there is one offer)."""
        k = self._offer(offer)
        return _explained(self._contributions(_matrix(X, self, fitting=False, check_drift=False), k), X)
