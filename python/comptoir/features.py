"""Point-in-time behaviour features per customer, and purchase labels over a horizon.

Only events strictly before ``snapshot`` reach the features and only events in
``[snapshot, snapshot + horizon)`` reach the labels, so training on them never leaks the future.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core, _ids
from ._progress import make_progress
from .exceptions import InvalidArgumentError

EVENT_KINDS = {"view": 0, "cart": 1, "purchase": 2, "remove_from_cart": 3, "return": 4}

_log = logging.getLogger(__name__)

TimeLike = Union[int, np.integer, np.datetime64, str, Any]


def to_unix_seconds(value: Any) -> np.ndarray:
    """Seconds since the epoch from ints, numpy datetime64, pandas timestamps or ISO strings."""
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.datetime64):
        missing = np.isnat(array)
        if missing.any():
            raise InvalidArgumentError(f"timestamps are missing (NaT) at rows {np.flatnonzero(missing)[:5].tolist()}")
        return array.astype("datetime64[s]").astype(np.int64)
    if array.dtype.kind in "OUS":
        return np.asarray(array, dtype="datetime64[s]").astype(np.int64)
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        return array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise InvalidArgumentError(f"timestamps must be whole seconds or datetimes, got dtype {array.dtype}"
                         + (" with missing or fractional values" if array.dtype.kind == "f" else ""))
    return array.astype(np.int64, copy=False)


def event_kind_codes(kind: Any) -> np.ndarray:
    """Event kinds as comptoir's codes; accepts the codes or the names in EVENT_KINDS."""
    array = np.asarray(kind)
    if array.dtype.kind in "OUS":
        names, inverse = np.unique(array.astype(str), return_inverse=True)
        unknown = [n for n in names if n not in EVENT_KINDS]
        if unknown:
            raise InvalidArgumentError(f"unknown event kinds {unknown}; expected one of {sorted(EVENT_KINDS)}")
        return np.array([EVENT_KINDS[n] for n in names], dtype=np.uint8)[inverse]
    if array.dtype.kind == "f" and array.size and not np.all(np.isfinite(array) & (array == np.round(array))):
        bad = np.flatnonzero(~(np.isfinite(array) & (array == np.round(array))))
        raise InvalidArgumentError(f"event kind codes must be whole numbers, got {array[bad[0]]!r} at row {int(bad[0])}")
    if array.dtype.kind not in "iuf" and array.size:
        raise InvalidArgumentError(f"event kinds must be codes or names, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= len(EVENT_KINDS)):
        raise InvalidArgumentError(f"event kind codes must be in [0, {len(EVENT_KINDS)})")
    return array.astype(np.uint8, copy=False)


def _raw(events: Any, name: str, required: bool = True) -> Any:
    if isinstance(events, Mapping) or hasattr(events, "columns"):
        value = events[name] if name in events else None
    else:
        value = getattr(events, name, None)
    if value is None and required:
        raise InvalidArgumentError(f"events have no '{name}' column")
    return value


def _column(events: Any, name: str, dtype: Any, required: bool = True) -> Optional[np.ndarray]:
    value = _raw(events, name, required)
    if value is None:
        return None
    if name == "timestamp":
        return np.ascontiguousarray(to_unix_seconds(np.asarray(value)))
    if name == "kind":
        return np.ascontiguousarray(event_kind_codes(np.asarray(value)))
    return np.ascontiguousarray(np.asarray(value), dtype=dtype)


class _Events(NamedTuple):
    session: np.ndarray
    user: np.ndarray           # dense, -1 for guests
    item: np.ndarray           # dense
    timestamp: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    customers: Optional[np.ndarray]  # the shop's customer id of each dense user; None in dense mode
    items: Optional[np.ndarray]      # the shop's item id of each dense item; None when items are dense
    num_users: int


def _events(events: Any, num_users: Optional[int], item_positions: bool = False) -> _Events:
    """The event columns in dense ids and the shop's ids behind them.

    Customers are the shop's ids (``EventLog`` maps, or any integer / string column: None, NaN,
    "" and negative numbers are guests), unless ``num_users`` declares dense ids 0..num_users-1.
    Items are factorized, or kept as the integers they are with ``item_positions`` (an
    ``item_category`` array indexes them)."""
    from .data import EventLog

    if not isinstance(events, EventLog):
        _raw(events, "user")  # the column a customer table needs most, named first when missing
    timestamp = _column(events, "timestamp", np.int64)
    kind = _column(events, "kind", np.uint8)
    value = _column(events, "value", np.float32, required=False)
    if isinstance(events, EventLog):
        if num_users is not None:
            raise InvalidArgumentError("an EventLog holds the shop's customer ids: num_users does not apply")
        user = np.ascontiguousarray(events.user, dtype=np.int32)
        customers = np.asarray(events.user_ids, dtype=object if isinstance(events.user_ids, list) else None) \
            if events.num_users else np.zeros(0, dtype=np.int64)
        items = events.item_ids
        items = np.asarray(items, dtype=object) if isinstance(items, list) else items
        session = np.ascontiguousarray(events.session, dtype=np.int64)
        item = np.ascontiguousarray(events.item, dtype=np.int32)
        count = len(customers)
    else:
        raw_user = _raw(events, "user")
        if num_users is not None:
            ids, guests = _ids.shop_ids(raw_user, "user", allow_missing=True, negative_is_missing=True)
            if ids.dtype != np.int64 or (ids.size and ids.max() > np.iinfo(np.int32).max):
                raise InvalidArgumentError("with num_users the users are dense ids 0..num_users-1: leave num_users out to use the "
                                 "shop's customer ids")
            user = np.where(guests, -1, ids).astype(np.int32)
            customers, count = None, int(num_users)
        else:
            user, customers = _ids.factorize_users(raw_user)
            customers = np.zeros(0, dtype=np.int64) if customers is None else customers
            count = len(customers)
        item_values, _ = _ids.shop_ids(_raw(events, "item"), "item")
        if item_positions:
            if item_values.dtype != np.int64 or (item_values.size and (item_values.min() < 0 or
                                                                        item_values.max() > np.iinfo(np.int32).max)):
                raise InvalidArgumentError("item_category as an array is indexed by integer item ids 0..n-1: for other ids pass a "
                                 "mapping or Series from item id to category")
            item, items = item_values.astype(np.int32), None
        else:
            item, items = _ids.factorize(item_values)
        session_codes, _ = _ids.factorize(_raw(events, "session"), "session")
        session = session_codes.astype(np.int64)
    if value is None:
        value = np.zeros(len(item), dtype=np.float32)
    return _Events(session, np.ascontiguousarray(user), np.ascontiguousarray(item), timestamp, kind, value, customers,
                   items, count)


def _keyed(table: Any) -> bool:
    """A mapping or a Series keyed by id (not a plain array or a Series that only numbers rows)."""
    return isinstance(table, Mapping) or (hasattr(table, "index") and hasattr(table, "to_numpy")
                                          and type(table.index).__name__ != "RangeIndex")


def _event_arrays(events: Any) -> Tuple[np.ndarray, ...]:
    e = _events(events, None)
    return e.session, e.user, e.item, e.timestamp, e.kind, e.value


def _item_category(item_category: Any, e: _Events) -> Optional[np.ndarray]:
    """Each dense item's category: an array indexed by the (integer) item ids, or a mapping /
    Series from the shop's item id (items it leaves out have category -1)."""
    if item_category is None:
        return None
    if not _keyed(item_category):
        codes = _ids.shop_ids(np.asarray(item_category), "category")[0]
        if codes.dtype != np.int64:
            raise InvalidArgumentError("item_category values must be integer category codes")
        if e.items is not None:  # an EventLog's integer item ids, in its dense order
            if e.items.dtype != np.int64:
                raise InvalidArgumentError("item_category as an array is indexed by integer item ids; these items are strings: "
                                 "pass a mapping or Series from item id to category")
            if e.items.size and (e.items.min() < 0 or e.items.max() >= len(codes)):
                raise InvalidArgumentError("item_category does not cover every item id")
            codes = codes[e.items]
        return np.ascontiguousarray(codes, dtype=np.int32)
    keys = list(item_category.keys()) if isinstance(item_category, Mapping) else item_category.index.to_numpy()
    values = list(item_category.values()) if isinstance(item_category, Mapping) else item_category.to_numpy()
    lookup = dict(zip(_ids.shop_ids(keys, "item")[0].tolist(), _ids.shop_ids(values, "category")[0].tolist()))
    order = e.items.tolist() if e.items is not None else range(int(e.item.max()) + 1 if len(e.item) else 0)
    return np.asarray([lookup.get(i, -1) for i in order], dtype=np.int32)


def _seen_before(e: _Events, snapshot_s: int) -> np.ndarray:
    """Dense users with at least one event before the snapshot."""
    past = (e.timestamp < snapshot_s) & (e.user >= 0)
    seen = np.zeros(e.num_users, dtype=bool)
    seen[e.user[past]] = True
    return seen


def _log_left_out(function: str, e: _Events, kept: np.ndarray, snapshot_s: int) -> None:
    """Logs the customers a table leaves out (first seen after the snapshot) and the guests'
    events before it (guests get no row)."""
    later = int((~kept).sum())
    guest_events = int(((e.user < 0) & (e.timestamp < snapshot_s)).sum())
    if later:
        _log.info("%s: %s customers first seen after the snapshot get no row (no history to describe)", function,
                  f"{later:,}")
    if guest_events:
        _log.info("%s: %s guest events before the snapshot belong to no customer and get no row", function,
                  f"{guest_events:,}")


def behaviour_features(
    events: Any,
    snapshot: TimeLike,
    window_days: Sequence[int] = (7, 30, 90, 365),
    num_users: Optional[int] = None,
    item_category: Optional[Any] = None,
    customer_attributes: Optional[Any] = None,
    n_jobs: int = 0,
    verbose: Any = False,
    as_frame: Optional[bool] = None,
) -> Any:
    """One row per customer: recency, frequency and monetary value over each window, sessions,
    cart adds, abandoned carts, returns, basket size and value, inter-purchase intervals, category
    breadth (with ``item_category``), time-of-day and weekend habits, and customer attributes.

    ``events`` is an ``EventLog``, a DataFrame, a dict of arrays or an object with the columns
    ``session``, ``user``, ``item``, ``timestamp``, ``kind`` and optionally ``value`` and
    ``quantity``, in the shop's ids: customers as integers or strings (None, NaN, "" and negative
    numbers are guests, who get no row). The DataFrame is indexed by customer id (index name
    ``customer``; sorted, or in an ``EventLog``'s id order) and holds the customers with at least one event before ``snapshot``:
    customers first seen after it are excluded (they have no history to describe; their labels
    are not aligned either). ``customer_attributes`` is then a DataFrame indexed by customer id
    whose columns are joined as they are. ``item_category`` maps each item to an integer
    category: a mapping / Series from item id, or an array indexed by integer item ids.

    ``num_users=N`` keeps the dense form instead: users are the integers 0..N-1, one row each
    (index 0..N-1, customers without history before the snapshot included, all NaN), and
    ``customer_attributes`` an ``(N, k)`` array. Missing facts (no purchase yet) are NaN. Returns
    a DataFrame when pandas is installed (or ``as_frame=True``), else ``(matrix, names)`` (the
    rows in the same order; ``customer_ids(events, snapshot)`` gives their ids).
    """
    e = _events(events, num_users, item_positions=item_category is not None and not _keyed(item_category))
    quantity = _column(events, "quantity", np.float32, required=False)
    snapshot_s = int(to_unix_seconds(snapshot))
    attributes = None
    if customer_attributes is not None and e.customers is None:
        attributes = np.ascontiguousarray(customer_attributes, dtype=np.float32)
    elif customer_attributes is not None and not hasattr(customer_attributes, "reindex"):
        raise InvalidArgumentError("customer_attributes must be a DataFrame indexed by customer id (or pass num_users= for "
                         "dense users and an array)")
    matrix, names = _core.features.behaviour_features(
        e.session, e.user, e.item, e.timestamp, e.kind, e.value, quantity, int(e.num_users), snapshot_s, list(window_days),
        _item_category(item_category, e), attributes, int(n_jobs), make_progress(verbose),
    )
    index = None
    if e.customers is not None:
        keep = _seen_before(e, snapshot_s)
        matrix, index = matrix[keep], e.customers[keep]
        _log_left_out("behaviour_features", e, keep, snapshot_s)
    result = _maybe_frame(matrix, names, as_frame, index)
    if customer_attributes is not None and e.customers is not None:
        if not hasattr(result, "join"):
            raise InvalidArgumentError("customer_attributes as a DataFrame needs the features as a DataFrame (pandas)")
        result = result.join(customer_attributes.reindex(result.index))
    return result


def customer_ids(events: Any, snapshot: TimeLike) -> np.ndarray:
    """The customers ``behaviour_features`` gives rows to, in its row order: those with an event
    before ``snapshot``."""
    e = _events(events, None)
    return e.customers[_seen_before(e, int(to_unix_seconds(snapshot)))]


def purchase_labels(events: Any, snapshot: TimeLike, horizon_days: int, num_users: Optional[int] = None,
                    customers: Any = None, as_frame: Optional[bool] = None) -> Tuple[Any, Any]:
    """``(purchased, spend)`` per customer over ``[snapshot, snapshot + horizon_days)``: two
    Series indexed by customer id, aligned with ``behaviour_features`` of the same events and
    snapshot (the customers seen before the snapshot), or with ``customers`` (e.g. ``X.index``;
    customers without events get 0). With ``num_users=N`` the users are dense 0..N-1 and the
    index is 0..N-1. ``as_frame=False`` (or no pandas) gives arrays in the same order."""
    e = _events(events, num_users)
    snapshot_s = int(to_unix_seconds(snapshot))
    purchased, spend = _core.features.purchase_labels(
        e.session, e.user, e.item, e.timestamp, e.kind, e.value, int(e.num_users), snapshot_s, int(horizon_days)
    )
    index = np.arange(e.num_users) if e.customers is None else e.customers
    if customers is not None:
        wanted, _ = _ids.shop_ids(customers, "customer")
        position = {v: i for i, v in enumerate(index.tolist())}
        rows = np.asarray([position.get(c, -1) for c in wanted.tolist()], dtype=np.int64)
        known = rows >= 0
        if not known.all():
            _log.info("purchase_labels: %s of the %s customers asked for have no events; their labels are 0",
                      f"{int((~known).sum()):,}", f"{len(known):,}")
        purchased = np.where(known, purchased[np.maximum(rows, 0)], 0).astype(purchased.dtype)
        spend = np.where(known, spend[np.maximum(rows, 0)], 0).astype(spend.dtype)
        index = wanted
    elif e.customers is not None:
        keep = _seen_before(e, snapshot_s)
        purchased, spend, index = purchased[keep], spend[keep], index[keep]
        _log_left_out("purchase_labels", e, keep, snapshot_s)
    pd = _pandas(as_frame)
    if pd is None:
        return purchased, spend
    index = pd.Index(index, name="customer")
    return pd.Series(purchased, index=index, name="purchased"), pd.Series(spend, index=index, name="spend")


def repurchase_timing(
    events: Any,
    snapshot: TimeLike,
    horizon_days: int = 14,
    item_category: Optional[Any] = None,
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
    ``user`` and ``key`` are the shop's customer and item ids (categories stay codes).
    """
    e = _events(events, None, item_positions=item_category is not None and not _keyed(item_category))
    columns = _core.features.repurchase_timing(
        e.session, e.user, e.item, e.timestamp, e.kind, int(to_unix_seconds(snapshot)), int(horizon_days),
        _item_category(item_category, e), float(continuation_prior_strength), int(min_key_gaps), float(merge_within_days),
    )
    columns = dict(columns)
    columns["user"] = e.customers[np.asarray(columns["user"], dtype=np.int64)]
    if item_category is None and e.items is not None:
        columns["key"] = e.items[np.asarray(columns["key"], dtype=np.int64)]
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


def _pandas(as_frame: Optional[bool]) -> Any:
    if as_frame is False:
        return None
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return None
    return pd


def _maybe_frame(matrix: np.ndarray, names: Sequence[str], as_frame: Optional[bool], index: Any = None) -> Any:
    pd = _pandas(as_frame)
    if pd is None:
        return matrix, list(names)
    index = pd.RangeIndex(len(matrix), name="customer") if index is None else pd.Index(index, name="customer")
    return pd.DataFrame(matrix, columns=list(names), index=index, copy=False)


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
