"""Item embeddings (item2vec) and top-k retrieval over item vectors."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._base import Estimator
from ._progress import make_progress

SessionsLike = Union[Tuple[np.ndarray, np.ndarray], Sequence[Sequence[int]], Any]

_INT32 = np.iinfo(np.int32)


def dense_ids(values: Any, what: str = "item") -> np.ndarray:
    """Dense ids as int32, refusing (not wrapping) integers outside the int32 range."""
    array = np.asarray(values)
    if array.size and array.dtype.kind in "iu" and (array.min() < _INT32.min or array.max() > _INT32.max):
        raise ValueError(f"{what} ids beyond 32 bits are not dense ids: fit on an EventLog, a DataFrame or with "
                         f"{what}_ids= so the model keeps the shop's ids")
    if array.size and array.dtype.kind not in "iub":
        raise ValueError(f"{what} ids of dtype {array.dtype} are not dense ids: fit on an EventLog, a DataFrame or "
                         f"with {what}_ids= so the model keeps the shop's ids")
    return np.ascontiguousarray(array, dtype=np.int32)


def _session_columns(sessions: SessionsLike) -> Tuple[np.ndarray, np.ndarray]:
    """CSR offsets and the raw item column (any dtype) of the accepted session forms."""
    if isinstance(sessions, tuple) and len(sessions) == 2:
        offsets, items = np.ascontiguousarray(sessions[0], dtype=np.int64), np.asarray(sessions[1])
    elif hasattr(sessions, "columns"):
        frame = sessions
        order_keys = [frame["session_id"].to_numpy()]
        if "timestamp" in frame.columns:
            order_keys.insert(0, frame["timestamp"].to_numpy())
        order = np.lexsort(order_keys)
        session_ids = frame["session_id"].to_numpy()[order]
        items = frame["item_id"].to_numpy()[order]
        starts = np.flatnonzero(np.r_[True, session_ids[1:] != session_ids[:-1]]) if len(items) else np.zeros(0, np.int64)
        offsets = np.r_[starts, len(items)].astype(np.int64)
    else:
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        items = np.concatenate([np.asarray(s) for s in sessions]) if len(lengths) and lengths.sum() else np.zeros(0, np.int32)
    if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(items) or np.any(np.diff(offsets) < 0):
        raise ValueError("session offsets must start at 0, be non-decreasing and end at len(items)")
    return offsets, items


def as_session_csr(sessions: SessionsLike) -> Tuple[np.ndarray, np.ndarray]:
    """Normalise sessions of dense ids to CSR arrays ``(offsets int64, items int32)``.

    Accepts ``(offsets, items)``, a list of item-id sequences, an ``EventLog`` or a pandas
    DataFrame with ``session_id`` and ``item_id`` columns (ordered by ``timestamp`` within a session
    when present). Ids beyond int32 are refused, never wrapped.
    """
    log = _event_log(sessions)
    if log is not None:
        return np.ascontiguousarray(log.session_offsets), np.ascontiguousarray(log.item, dtype=np.int32)
    offsets, items = _session_columns(sessions)
    return offsets, dense_ids(items)


def _event_log(data: Any) -> Any:
    from .data import EventLog

    return data if isinstance(data, EventLog) else None


def shop_id_array(ids: Any) -> np.ndarray:
    """The shop's ids as a model keeps them: int64 for integer ids, an object array of str else."""
    array = np.asarray(ids)
    if array.dtype.kind == "u":
        if array.size and array.max() > np.iinfo(np.int64).max:
            raise ValueError("item ids do not fit 64-bit integers")
        return array.astype(np.int64)
    if array.dtype.kind == "i":
        return array.astype(np.int64)
    if array.dtype.kind in "OUS":
        return np.asarray([str(v) for v in array.tolist()], dtype=object)
    raise ValueError(f"shop ids must be integers or strings, got dtype {array.dtype}")


def factorize(values: Any) -> Tuple[np.ndarray, np.ndarray]:
    """``(dense int32 codes, shop ids)``: the distinct ids sorted, each value's position among them."""
    ids = shop_id_array(values)
    unique, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.int32).reshape(-1), unique


class TrainingData(NamedTuple):
    offsets: np.ndarray
    items: np.ndarray                     # dense int32
    num_items: int
    item_ids: Optional[np.ndarray]        # the shop's item ids by dense id, or None
    users: Optional[np.ndarray]           # dense user per session (-1 anonymous), or None
    user_ids: Optional[np.ndarray]        # the shop's user ids by dense id, or None
    timestamps: Optional[np.ndarray]      # per session (its last event), or None


def training_sessions(sessions: SessionsLike, num_items: Optional[int] = None, users: Any = None,
                      timestamps: Any = None, item_ids: Any = None) -> TrainingData:
    """What a recommender's ``fit`` learns from, and the shop's ids it must keep.

    An ``EventLog`` brings its item and user id maps, per-session users and times; a DataFrame's
    ``item_id`` column holds shop ids (strings or integers of any width), as do ``users`` given with
    it; ``item_ids=`` names the shop's id of each dense item of dense-id data. Otherwise ids are
    dense, as before.
    """
    log = _event_log(sessions)
    if log is not None:
        offsets = np.ascontiguousarray(log.session_offsets)
        starts = offsets[:-1]
        log_users = np.asarray(log.user)
        has_users = log.num_users > 0
        return TrainingData(
            offsets, np.ascontiguousarray(log.item, dtype=np.int32), int(log.num_items), shop_id_array(log.item_ids),
            np.ascontiguousarray(log_users[starts], dtype=np.int32) if has_users and users is None else _dense_users(users),
            shop_id_array(log.user_ids) if has_users and users is None else None,
            np.ascontiguousarray(np.asarray(log.timestamp)[offsets[1:] - 1], dtype=np.int64) if timestamps is None
            else np.ascontiguousarray(timestamps, dtype=np.int64))
    stamps = None if timestamps is None else np.ascontiguousarray(timestamps, dtype=np.int64)
    offsets, raw = _session_columns(sessions)
    if hasattr(sessions, "columns"):
        if num_items is not None or item_ids is not None:
            raise ValueError("a DataFrame's item_id column holds the shop's ids: num_items and item_ids do not apply")
        items, found = factorize(raw)
        session_users, user_ids = None, None
        if users is not None:
            shop_users = np.asarray(users)
            known = ~_anonymous(shop_users)
            session_users = np.full(len(shop_users), -1, dtype=np.int32)
            if known.any():
                session_users[known], user_ids = factorize(shop_users[known])
        return TrainingData(offsets, np.ascontiguousarray(items), len(found), found, session_users, user_ids, stamps)
    items = dense_ids(raw)
    if item_ids is not None:
        item_ids = shop_id_array(item_ids)
        if num_items is not None and int(num_items) != len(item_ids):
            raise ValueError(f"num_items={num_items} but {len(item_ids)} item_ids")
        num_items = len(item_ids)
    return TrainingData(offsets, items, catalogue_size(items, num_items), item_ids, _dense_users(users), None, stamps)


def _anonymous(users: np.ndarray) -> np.ndarray:
    if users.dtype.kind in "iu":
        return users < 0
    return np.asarray([u is None or u == "" or (isinstance(u, (int, np.integer)) and u < 0) for u in users.tolist()], dtype=bool)


def _dense_users(users: Any) -> Optional[np.ndarray]:
    return None if users is None else dense_ids(users, "user")


def catalogue_size(items: np.ndarray, num_items: Optional[int]) -> int:
    """``num_items`` when given, else one past the largest item id seen."""
    if num_items is not None:
        return int(num_items)
    return int(items.max()) + 1 if len(items) else 0


def _rebuild(cls: type, data: bytes) -> Any:
    return cls.from_bytes(data)


class ShopIdsMixin:
    """Estimators that remember the shop's ids of their training data (``item_ids_``, ``user_ids_``),
    look them up in C++ (``comptoir::ModelIds``) and pickle as their complete model file."""

    def _keep_ids(self, data: TrainingData) -> None:
        for name, value in (("item_ids_", data.item_ids), ("user_ids_", data.user_ids)):
            if value is not None:
                setattr(self, name, value)
            else:
                self.__dict__.pop(name, None)
        self.__dict__.pop("_core_ids_", None)

    def _shop_ids(self) -> Any:
        """The C++ id maps, or None when the model speaks dense ids."""
        ids = self.__dict__.get("_core_ids_")
        if ids is None:
            items, users = getattr(self, "item_ids_", None), getattr(self, "user_ids_", None)
            if items is None and users is None:
                return None
            ids = _core.recommend.ModelIds(items, users)
            self._core_ids_ = ids
        return ids

    @classmethod
    def from_bytes(cls, data: bytes, user_id_key: Optional[str] = None) -> Any:
        estimator = super().from_bytes(data, user_id_key)  # type: ignore[misc]
        # Pseudonymised users exist only as keyed hashes: the maps come from the file itself.
        ids = _core.recommend.ModelIds.from_bytes(data, user_id_key or "")
        if ids.has_items or ids.has_users:
            estimator._core_ids_ = ids
        return estimator

    def _dense_items(self, items: Any, num_items: int) -> np.ndarray:
        """Session items in the model's dense ids; unknown shop ids become -1 (ignored)."""
        ids = self._shop_ids()
        if ids is None or not ids.has_items:
            return dense_ids(items)
        return ids.dense_items(np.asarray(items) if not isinstance(items, (list, tuple)) else list(items), int(num_items))

    def _shop_items(self, dense: np.ndarray) -> np.ndarray:
        ids = self._shop_ids()
        if ids is None or not ids.has_items:
            return dense
        return ids.shop_items(np.ascontiguousarray(dense, dtype=np.int32))

    def __reduce_ex__(self, protocol: Any) -> Any:
        if getattr(self, "model_", None) is None:
            return super().__reduce_ex__(protocol)
        return (_rebuild, (type(self), self.to_bytes()))


class Item2Vec(ShopIdsMixin, Estimator):
    """Skip-gram with negative sampling over sessions (item2vec), trained in C++ with TBB.

    Results are bit-identical for a ``random_state`` whatever ``n_jobs`` is (sharded training with
    ordered merges); ``hogwild=True`` opts into word2vec's lock-free updates, faster but not
    reproducible. Hyperparameters keep word2vec's names.
    """

    def __init__(
        self,
        dim: int = 64,
        window: int = 5,
        negative: int = 5,
        epochs: int = 10,
        learning_rate: float = 0.025,
        min_learning_rate: float = 1e-4,
        subsample: float = 1e-3,
        ns_exponent: float = 0.75,
        num_shards: int = 4,
        sync_rounds: int = 16,
        hogwild: bool = False,
        random_state: int = 42,
        n_jobs: int = 0,
        verbose: Any = False,
    ) -> None:
        self.dim = dim
        self.window = window
        self.negative = negative
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.subsample = subsample
        self.ns_exponent = ns_exponent
        self.num_shards = num_shards
        self.sync_rounds = sync_rounds
        self.hogwild = hogwild
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    _PARAMS = (
        "dim", "window", "negative", "epochs", "learning_rate", "min_learning_rate", "subsample",
        "ns_exponent", "num_shards", "sync_rounds", "hogwild",
    )
    _param_names = _PARAMS + ("random_state", "n_jobs", "verbose")

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.embed.Item2Vec.from_bytes(data)

    def fit(self, sessions: SessionsLike, num_items: Optional[int] = None, item_ids: Any = None) -> "Item2Vec":
        """Train on sessions: dense ids, or the shop's ids from an ``EventLog``, a DataFrame or
        ``item_ids=`` (kept as ``item_ids_``, written to the model file)."""
        data = training_sessions(sessions, num_items, item_ids=item_ids)
        config = _core.embed.Item2VecConfig()
        for name in self._PARAMS:
            setattr(config, name, getattr(self, name))
        self.model_ = _core.embed.Item2Vec.fit(
            data.offsets, data.items, data.num_items, config, seed=int(self.random_state), num_threads=int(self.n_jobs),
            on_progress=make_progress(self.verbose),
        )
        self._keep_ids(data._replace(user_ids=None))
        return self

    @classmethod
    def _from_core(cls, core: Any) -> "Item2Vec":
        """A fitted estimator around a C++ Item2Vec, its parameters read from the model's config."""
        config = core.config
        estimator = cls(**{name: getattr(config, name) for name in cls._PARAMS})
        estimator.model_ = core
        return estimator

    @property
    def item_vectors(self) -> np.ndarray:
        """Read-only ``(num_items, dim)`` float32 view of the item vectors (no copy)."""
        return self._fitted().vectors

    def similar_items(self, itemid: int, N: int = 10) -> Tuple[np.ndarray, np.ndarray]:
        """The ``N`` items closest to ``itemid`` by cosine similarity, as ``(ids, scores)``."""
        model = self._fitted()
        dense = int(self._dense_items([itemid], model.num_items)[0]) if self._shop_ids() is not None else int(itemid)
        if dense < 0:
            raise KeyError(f"item {itemid!r} is not known to this model")
        ids, scores = model.similar_items(dense, int(N))
        return self._shop_items(ids[0]), scores[0]

    def encode_session(
        self,
        items: Sequence[int],
        kinds: Optional[Sequence[int]] = None,
        recency_decay: float = 0.8,
        kind_weights: Optional[Sequence[float]] = None,
        max_events: int = 50,
    ) -> np.ndarray:
        """Recency- and event-kind-weighted, normalised mean of the session's item vectors."""
        config = _core.embed.SessionEncoderConfig()
        config.recency_decay = recency_decay
        config.max_events = max_events
        if kind_weights is not None:
            config.kind_weights = list(kind_weights)
        return self._fitted().encode_session(
            np.ascontiguousarray(items, dtype=np.int32),
            np.ascontiguousarray([] if kinds is None else kinds, dtype=np.uint8),
            config,
        )

    def recommend_session(
        self,
        items: Sequence[int],
        kinds: Optional[Sequence[int]] = None,
        N: int = 20,
        user_history: Optional[Sequence[int]] = None,
        profile_weight: float = 0.2,
        filter_items: Optional[Sequence[int]] = None,
        filter_session_items: bool = True,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Items closest to the encoded session, blended with the user's long-term history; only
        items seen in training are candidates.

        ``user_history`` (the user's earlier items, oldest first) is encoded with a slow decay and
        blended in with ``profile_weight``; ``filter_items`` are never returned.
        """
        model = self._fitted()
        if self._shop_ids() is not None:
            # Shop ids in and out; unknown ones carry no vector and are dropped.
            known = self._dense_items(items, model.num_items)
            kinds = None if kinds is None else np.asarray(kinds)[known >= 0]
            items = known[known >= 0]
            user_history = None if user_history is None else self._dense_items(user_history, model.num_items)
            user_history = None if user_history is None else user_history[user_history >= 0]
            filter_items = None if filter_items is None else self._dense_items(filter_items, model.num_items)
        query = self.encode_session(items, kinds)
        if user_history is not None and len(user_history):
            profile = self.encode_session(user_history, recency_decay=0.98, max_events=500)
            query = _core.embed.blend_with_profile(query, profile, float(profile_weight))
        if not np.any(query):
            # Nothing known to encode: no item is closer than another (the C++ recommender agrees).
            return self._shop_items(np.empty(0, dtype=np.int32)), np.empty(0, dtype=np.float32)
        excluded = [int(i) for i in filter_items] if filter_items is not None else []
        if filter_session_items:
            excluded += [int(i) for i in items]
        ids, scores = model.index.search(
            query.reshape(1, -1), int(N), allowed=model.seen, excluded=np.asarray(excluded, dtype=np.int32), num_threads=1
        )
        keep = ids[0] >= 0
        return self._shop_items(ids[0][keep]), scores[0][keep]


class VectorIndex(ShopIdsMixin, Estimator):
    """Top-k search over a ``(num_items, dim)`` float32 matrix, exact or approximate (IVF).

    ``approximate=True`` builds an inverted-file index (k-means coarse quantiser, ``num_lists``
    lists, ``num_probes`` scanned per query: by default a sixteenth of the lists, at least 16, which
    reaches recall@20 of about 0.95 against exact search on item2vec vectors of a million items) for
    catalogues of a million items and more. ``VectorIndex(vectors, ...)`` builds at once;
    ``VectorIndex(...).fit(vectors)`` is the same. Files are of kind ``vector_index``.
    """

    _param_names = ("metric", "approximate", "num_lists", "num_probes", "random_state", "n_jobs")

    def __init__(
        self,
        vectors: Optional[np.ndarray] = None,
        metric: str = "cosine",
        approximate: bool = False,
        num_lists: int = 0,
        num_probes: int = 0,
        random_state: int = 42,
        n_jobs: int = 0,
    ) -> None:
        self.metric = metric
        self.approximate = approximate
        self.num_lists = num_lists
        self.num_probes = num_probes
        self.random_state = random_state
        self.n_jobs = n_jobs
        if vectors is not None:
            self.fit(vectors)

    def fit(self, vectors: np.ndarray) -> "VectorIndex":
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.approximate:
            self.model_ = _core.retrieval.build_ivf(
                matrix, self.metric, num_lists=int(self.num_lists), num_probes=int(self.num_probes),
                seed=int(self.random_state), num_threads=int(self.n_jobs)
            )
        else:
            self.model_ = _core.retrieval.build_exact(matrix, self.metric)
        return self

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.retrieval.load_index(data)

    @property
    def _index(self) -> Any:
        return self._fitted()

    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        allowed: Optional[np.ndarray] = None,
        excluded: Optional[Sequence[int]] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Best ``k`` items per query row, as ``(ids, scores)`` of shape ``(num_queries, k)``.

        Rows with fewer than ``k`` eligible items are padded with id -1 and score -inf.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        allowed_flags = None if allowed is None else np.ascontiguousarray(allowed, dtype=np.uint8)
        excluded_ids = None if excluded is None else dense_ids(excluded)
        return self._fitted().search(q, int(k), allowed_flags, excluded_ids, int(self.n_jobs))
