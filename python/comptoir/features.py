"""Point-in-time behaviour features per customer, and purchase labels over a horizon.

Only events strictly before ``snapshot`` reach the features and only events in
``[snapshot, snapshot + horizon)`` reach the labels, so training on them never leaks the future.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._progress import make_progress

EVENT_KINDS = {"view": 0, "cart": 1, "purchase": 2, "remove_from_cart": 3, "return": 4}

TimeLike = Union[int, np.integer, np.datetime64, str, Any]


def to_unix_seconds(value: Any) -> np.ndarray:
    """Seconds since the epoch from ints, numpy datetime64, pandas timestamps or ISO strings."""
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.datetime64):
        missing = np.isnat(array)
        if missing.any():
            raise ValueError(f"timestamps are missing (NaT) at rows {np.flatnonzero(missing)[:5].tolist()}")
        return array.astype("datetime64[s]").astype(np.int64)
    if array.dtype.kind in "OUS":
        return np.asarray(array, dtype="datetime64[s]").astype(np.int64)
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        return array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(f"timestamps must be whole seconds or datetimes, got dtype {array.dtype}"
                         + (" with missing or fractional values" if array.dtype.kind == "f" else ""))
    return array.astype(np.int64, copy=False)


def event_kind_codes(kind: Any) -> np.ndarray:
    """Event kinds as comptoir's codes; accepts the codes or the names in EVENT_KINDS."""
    array = np.asarray(kind)
    if array.dtype.kind in "OUS":
        names, inverse = np.unique(array.astype(str), return_inverse=True)
        unknown = [n for n in names if n not in EVENT_KINDS]
        if unknown:
            raise ValueError(f"unknown event kinds {unknown}; expected one of {sorted(EVENT_KINDS)}")
        return np.array([EVENT_KINDS[n] for n in names], dtype=np.uint8)[inverse]
    if array.size and (array.min() < 0 or array.max() >= len(EVENT_KINDS)):
        raise ValueError(f"event kind codes must be in [0, {len(EVENT_KINDS)})")
    return array.astype(np.uint8, copy=False)


def _column(events: Any, name: str, dtype: Any, required: bool = True) -> Optional[np.ndarray]:
    if isinstance(events, Mapping) or hasattr(events, "columns"):
        present = name in events
        value = events[name] if present else None
    else:
        value = getattr(events, name, None)
        present = value is not None
    if not present:
        if required:
            raise ValueError(f"events have no '{name}' column")
        return None
    if name == "timestamp":
        return np.ascontiguousarray(to_unix_seconds(value))
    if name == "kind":
        return np.ascontiguousarray(event_kind_codes(value))
    return np.ascontiguousarray(np.asarray(value), dtype=dtype)


def _event_arrays(events: Any) -> Tuple[np.ndarray, ...]:
    user = _column(events, "user", np.int32)
    session = _column(events, "session", np.int64)
    item = _column(events, "item", np.int32)
    timestamp = _column(events, "timestamp", np.int64)
    kind = _column(events, "kind", np.uint8)
    value = _column(events, "value", np.float32, required=False)
    if value is None:
        value = np.zeros(len(item), dtype=np.float32)
    return session, user, item, timestamp, kind, value


def behaviour_features(
    events: Any,
    snapshot: TimeLike,
    window_days: Sequence[int] = (7, 30, 90, 365),
    num_users: Optional[int] = None,
    item_category: Optional[np.ndarray] = None,
    customer_attributes: Optional[np.ndarray] = None,
    n_jobs: int = 0,
    verbose: Any = False,
    as_frame: Optional[bool] = None,
) -> Any:
    """One row per customer: recency, frequency and monetary value over each window, sessions,
    cart adds, abandoned carts, returns, basket size and value, inter-purchase intervals, category
    breadth (with ``item_category``), time-of-day and weekend habits, and customer attributes.

    ``events`` is a DataFrame, a dict of arrays or an object with the columns ``session``,
    ``user`` (dense ids, -1 anonymous), ``item``, ``timestamp``, ``kind`` and optionally ``value``
    and ``quantity``. Missing facts (no purchase yet) are NaN. Returns a DataFrame when pandas is
    installed (or ``as_frame=True``), else ``(matrix, names)``.
    """
    session, user, item, timestamp, kind, value = _event_arrays(events)
    quantity = _column(events, "quantity", np.float32, required=False)
    if num_users is None:
        num_users = int(user.max()) + 1 if len(user) else 0
    snapshot_s = int(to_unix_seconds(snapshot))
    matrix, names = _core.features.behaviour_features(
        session, user, item, timestamp, kind, value, quantity, int(num_users), snapshot_s, list(window_days),
        None if item_category is None else np.ascontiguousarray(item_category, dtype=np.int32),
        None if customer_attributes is None else np.ascontiguousarray(customer_attributes, dtype=np.float32),
        int(n_jobs), make_progress(verbose),
    )
    return _maybe_frame(matrix, names, as_frame)


def purchase_labels(events: Any, snapshot: TimeLike, horizon_days: int, num_users: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(purchased, spend)`` per customer over ``[snapshot, snapshot + horizon_days)``."""
    session, user, item, timestamp, kind, value = _event_arrays(events)
    if num_users is None:
        num_users = int(user.max()) + 1 if len(user) else 0
    return _core.features.purchase_labels(
        session, user, item, timestamp, kind, value, int(num_users), int(to_unix_seconds(snapshot)), int(horizon_days)
    )


def repurchase_timing(
    events: Any,
    snapshot: TimeLike,
    horizon_days: int = 14,
    item_category: Optional[np.ndarray] = None,
    continuation_prior_strength: float = 2.0,
    min_key_gaps: int = 5,
    merge_within_days: float = 1.0,
    as_frame: Optional[bool] = None,
) -> Any:
    """When each customer's next purchase of an item (or, with ``item_category``, of a category)
    is due, and the probability it happens within ``horizon_days`` of ``snapshot``.

    One row per (user, key) bought before the snapshot: ``cycle_days`` (the customer's typical
    gap, shrunk toward the key's population by empirical Bayes), ``due_timestamp``,
    ``continuation`` (probability of ever buying it again) and ``probability_within_horizon``.
    """
    session, user, item, timestamp, kind, _ = _event_arrays(events)
    columns = _core.features.repurchase_timing(
        session, user, item, timestamp, kind, int(to_unix_seconds(snapshot)), int(horizon_days),
        None if item_category is None else np.ascontiguousarray(item_category, dtype=np.int32),
        float(continuation_prior_strength), int(min_key_gaps), float(merge_within_days),
    )
    if as_frame is False:
        return columns
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return columns
    frame = pd.DataFrame(columns)
    for name in ("last_purchase", "due_timestamp"):
        frame[name] = pd.to_datetime(frame[name], unit="s")
    return frame


def _maybe_frame(matrix: np.ndarray, names: Sequence[str], as_frame: Optional[bool]) -> Any:
    if as_frame is False:
        return matrix, list(names)
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return matrix, list(names)
    return pd.DataFrame(matrix, columns=list(names), copy=False)


class LinearFeatures:
    """Prepares behaviour features for a linear model: a missing fact (no purchase yet, so no
    recency) becomes the training median plus a 0/1 ``<name>_missing`` column, and every value is
    signed-log scaled, ``sign(x) log(1 + |x|)``, so heavy-tailed counts and revenues do not swamp
    the rest. Tree models need none of this: they take the NaN directly."""

    def fit(self, X: Any, names: Optional[Sequence[str]] = None) -> "LinearFeatures":
        matrix = np.asarray(X, dtype=np.float64)
        self.names_ = list(names) if names is not None else [f"x{j}" for j in range(matrix.shape[1])]
        missing = np.isnan(matrix)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(np.where(missing.all(axis=0), 0.0, matrix), axis=0)
        self.medians_ = np.nan_to_num(medians)
        self.flagged_ = np.flatnonzero(missing.any(axis=0))
        return self

    def transform(self, X: Any) -> np.ndarray:
        matrix = np.asarray(X, dtype=np.float64)
        missing = np.isnan(matrix)
        filled = np.where(missing, self.medians_, matrix)
        return np.c_[np.log1p(np.abs(filled)) * np.sign(filled), missing[:, self.flagged_]]

    def fit_transform(self, X: Any, names: Optional[Sequence[str]] = None) -> np.ndarray:
        return self.fit(X, names).transform(X)

    def get_feature_names_out(self) -> list:
        return self.names_ + [f"{self.names_[j]}_missing" for j in self.flagged_]
