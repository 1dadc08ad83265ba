"""One offer convention for everything that takes a treatment: the uplift learners, the uplift
metrics, ``policy_value`` and the promo planner.

A treatment holds one arm per row: offer names (strings), integer codes, booleans or a pandas
categorical of any of these. One arm is the control, named by ``control_name`` ("control" for
names, 0 for codes, False for booleans by default); every other arm is an offer. Offers are
identified by their value in the treatment and by their name: a string arm is its own name,
integer offers are named "offer <code>" and the True of a boolean treatment "treatment" unless
``offer_names`` names them. Offers come in category order for a categorical and sorted order
otherwise; numeric outputs (array columns, plan ``offer_code``) number them 1..K in that order, 0
being control / no offer, which is also what integer codes 0..K mean."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .exceptions import InvalidArgumentError

_DEFAULT_CONTROL = {"string": "control", "int64": 0, "bool": False}


@dataclass(frozen=True)
class Arms:
    """The arms of an experiment, control first: their values as the treatment gives them, their
    type ("string", "int64" or "bool") and their names."""

    values: Tuple[Any, ...]
    kind: str
    names: Tuple[str, ...]

    @property
    def offer_names(self) -> List[str]:
        return list(self.names[1:])

    @property
    def num_offers(self) -> int:
        return len(self.values) - 1

    def describe(self) -> str:
        shown = [repr(v) if self.kind == "string" else f"{v!r} ({n})" for v, n in zip(self.values, self.names)]
        return f"control {shown[0]}, offers {', '.join(shown[1:]) or 'none'}"

    def offer_index(self, offer: Any) -> int:
        """1..K for an offer given by name or by its treatment value."""
        if offer is None:
            if self.num_offers == 1:
                return 1
            raise InvalidArgumentError(f"name the offer: one of {self.offer_names}")
        for k in range(1, len(self.values)):
            if _same_arm(offer, self.values[k], self.kind) or (isinstance(offer, str) and offer == self.names[k]):
                return k
        raise InvalidArgumentError(f"offer {offer!r} is not an offer of this model ({self.describe()})")

    def codes(self, arms: Any, what: str = "treatment", none_is_control: bool = False) -> np.ndarray:
        """int32 codes (0 control, 1..K) of values given as arm values or names; an arm that is
        not one of these is an error naming it."""
        values = _values(arms, what)
        out = np.full(len(values), -1, dtype=np.int32)
        missing = _missing(values)
        if none_is_control:
            out[missing] = 0
        elif missing.any():
            raise InvalidArgumentError(f"{what} is missing at rows {np.flatnonzero(missing)[:5].tolist()}")
        for k, (value, name) in enumerate(zip(self.values, self.names)):
            hit = np.array([not m and (_same_arm(v, value, self.kind) or (isinstance(v, str) and v == name))
                            for v, m in zip(values.tolist(), missing)], dtype=bool)
            out[hit & (out < 0)] = k
        if (out < 0).any():
            unknown = list(dict.fromkeys(values[out < 0].tolist()))[:5]
            raise InvalidArgumentError(f"{what} holds {unknown}, which are not arms of the treatment ({self.describe()})")
        return out

    def record(self) -> dict:
        return {"kind": self.kind, "values": [v if self.kind == "string" else (bool(v) if self.kind == "bool" else int(v))
                                              for v in self.values], "names": list(self.names)}

    @classmethod
    def from_record(cls, record: dict) -> "Arms":
        return cls(tuple(record["values"]), record["kind"], tuple(record["names"]))

    @classmethod
    def codes_only(cls, names: Sequence[str]) -> "Arms":
        """Arms 0..K named as a model file without arm values names them (files before arm values)."""
        return cls(tuple(range(len(names))), "int64", tuple(names))

    def values_array(self) -> np.ndarray:
        dtype = {"string": object, "int64": np.int64, "bool": bool}[self.kind]
        return np.array(self.values, dtype=dtype)


def _same_arm(value: Any, arm: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, (bool, np.bool_)) and bool(value) == arm
    if kind == "int64":
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and int(value) == arm
    return isinstance(value, str) and value == arm


def _values(treatment: Any, what: str) -> np.ndarray:
    if treatment is None:
        raise InvalidArgumentError(f"{what} is None: expected one arm per row")
    if hasattr(treatment, "dtype") and str(treatment.dtype) == "category":
        values = np.asarray(treatment.astype(object) if hasattr(treatment, "astype") else treatment, dtype=object)
    else:
        values = np.asarray(treatment)
    if values.ndim != 1:
        raise InvalidArgumentError(f"{what} must be 1-D (one arm per row), got shape {values.shape}")
    return values


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    return np.array([v is None or (isinstance(v, float) and v != v) for v in values.tolist()], dtype=bool)


def _kind_of(values: np.ndarray, what: str) -> str:
    kind = values.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int64"
    if kind == "f":
        raise InvalidArgumentError(f"{what} is float ({values[:3].tolist()}...): give arms as offer names, integer codes or "
                         "booleans (integral codes: .astype(int))")
    if kind in "US":
        return "string"
    if kind == "O":
        types = {"bool" if isinstance(v, (bool, np.bool_)) else "int64" if isinstance(v, (int, np.integer))
                 else "string" if isinstance(v, str) else type(v).__name__ for v in values.tolist()}
        if len(types) == 1 and types <= {"bool", "int64", "string"}:
            return types.pop()
        raise InvalidArgumentError(f"{what} mixes arm types {sorted(types)}: give every arm as an offer name, an integer "
                         "code or a boolean")
    raise InvalidArgumentError(f"{what} has dtype {values.dtype}: give arms as offer names, integer codes or booleans")


def encode(treatment: Any, control_name: Any = None, offer_names: Optional[Sequence[Any]] = None,
           what: str = "treatment") -> Tuple[np.ndarray, Arms]:
    """(int32 codes 0..K per row, the arms): see the module's docstring for the convention."""
    values = _values(treatment, what)
    if len(values) == 0:
        raise InvalidArgumentError(f"{what} is empty")
    missing = _missing(values)
    if missing.any():
        raise InvalidArgumentError(f"{what} is missing at rows {np.flatnonzero(missing)[:5].tolist()}: every row needs its arm")
    kind = _kind_of(values, what)
    if kind == "string":
        values = values.astype(object)
    control = _DEFAULT_CONTROL[kind] if control_name is None else control_name
    if not _same_arm(control, _typed(control, kind), kind):
        raise InvalidArgumentError(f"control_name={control!r} is not a {kind} arm like those of {what}")
    order = _category_order(treatment)
    present = list(dict.fromkeys(values.tolist()))
    if order is None:
        present = sorted(present)
    else:
        present = [v for v in order if v in set(present)]
    if not any(_same_arm(v, control, kind) for v in present):
        raise InvalidArgumentError(f"no row of {what} is the control {control!r} (arms: {present[:10]}): name the control arm "
                         "with control_name=")
    offers = [v for v in present if not _same_arm(v, control, kind)]
    if not offers:
        raise InvalidArgumentError(f"{what} holds only the control {control!r}: there is no offer to evaluate")
    arm_values = tuple(_typed(v, kind) for v in [control] + offers)
    arms = Arms(arm_values, kind, tuple(_names(arm_values, kind, offer_names)))
    codes = np.empty(len(values), dtype=np.int32)
    lookup = {v: k for k, v in enumerate(arm_values)}
    for k, v in enumerate(values.tolist()):
        codes[k] = lookup[_typed(v, kind)]
    return codes, arms


def _typed(value: Any, kind: str) -> Any:
    if kind == "bool":
        return bool(value) if isinstance(value, (bool, np.bool_)) else value
    if kind == "int64":
        return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) else value
    return value


def _category_order(treatment: Any) -> Optional[List[Any]]:
    dtype = getattr(treatment, "dtype", None)
    if dtype is None or str(dtype) != "category":
        return None
    return list(dtype.categories)


def _names(values: Tuple[Any, ...], kind: str, offer_names: Optional[Sequence[Any]]) -> List[str]:
    offers = len(values) - 1
    if kind == "string":
        if offer_names is not None and [str(n) for n in offer_names] != list(values[1:]):
            raise InvalidArgumentError(f"offer_names={list(offer_names)} but the treatment names its offers already: "
                             f"{list(values[1:])}")
        return [str(v) for v in values]
    if offer_names is None:
        names = ["treatment"] if kind == "bool" else [f"offer {v}" for v in values[1:]]
    else:
        names = [str(name) for name in offer_names]
    if len(names) != offers or len(set(names)) != len(names) or "control" in names:
        raise InvalidArgumentError(f"offer_names must name each of the {offers} offers once (control is 'control'), got {names}")
    return ["control"] + names


def columns_for(table: Any, names: Sequence[str], rows: int, what: str) -> np.ndarray:
    """A (rows, len(names)) float64 matrix from a table with one column per name (a DataFrame,
    matched by column name) or an array in that order."""
    if hasattr(table, "columns"):
        columns = [str(c) for c in table.columns]
        if not set(names) <= set(columns):
            raise InvalidArgumentError(f"{what} has columns {columns}, not the arms {list(names)}: name its columns by the "
                             "treatment's arms (as predict and predict_outcomes do) or pass an array")
        matrix = np.column_stack([np.asarray(table.iloc[:, columns.index(n)], dtype=np.float64) for n in names])
    else:
        matrix = np.asarray(table, dtype=np.float64)
        if matrix.ndim == 1 and len(names) == 1:
            matrix = matrix[:, None]
    if matrix.shape != (rows, len(names)):
        raise InvalidArgumentError(f"{what} must have shape {(rows, len(names))} (rows x {list(names)}), got {matrix.shape}")
    return matrix
