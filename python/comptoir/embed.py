"""Item embeddings (item2vec) and top-k retrieval over item vectors."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._base import Estimator
from ._progress import make_progress

SessionsLike = Union[Tuple[np.ndarray, np.ndarray], Sequence[Sequence[int]], Any]


def as_session_csr(sessions: SessionsLike) -> Tuple[np.ndarray, np.ndarray]:
    """Normalise sessions to CSR arrays ``(offsets int64, items int32)``.

    Accepts ``(offsets, items)``, a list of item-id sequences, or a pandas DataFrame with
    ``session_id`` and ``item_id`` columns (ordered by ``timestamp`` within a session when present).
    """
    if isinstance(sessions, tuple) and len(sessions) == 2:
        offsets = np.ascontiguousarray(sessions[0], dtype=np.int64)
        items = np.ascontiguousarray(sessions[1], dtype=np.int32)
    elif hasattr(sessions, "columns"):
        frame = sessions
        order_keys = [frame["session_id"].to_numpy()]
        if "timestamp" in frame.columns:
            order_keys.insert(0, frame["timestamp"].to_numpy())
        order = np.lexsort(order_keys)
        session_ids = frame["session_id"].to_numpy()[order]
        items = np.ascontiguousarray(frame["item_id"].to_numpy()[order], dtype=np.int32)
        starts = np.flatnonzero(np.r_[True, session_ids[1:] != session_ids[:-1]])
        offsets = np.r_[starts, len(items)].astype(np.int64)
    else:
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        items = np.ascontiguousarray(np.concatenate([np.asarray(s) for s in sessions]) if len(lengths) else [], dtype=np.int32)
    if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(items) or np.any(np.diff(offsets) < 0):
        raise ValueError("session offsets must start at 0, be non-decreasing and end at len(items)")
    return offsets, items


def catalogue_size(items: np.ndarray, num_items: Optional[int]) -> int:
    """``num_items`` when given, else one past the largest item id seen."""
    if num_items is not None:
        return int(num_items)
    return int(items.max()) + 1 if len(items) else 0


class Item2Vec(Estimator):
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

    def fit(self, sessions: SessionsLike, num_items: Optional[int] = None) -> "Item2Vec":
        offsets, items = as_session_csr(sessions)
        num_items = catalogue_size(items, num_items)
        config = _core.embed.Item2VecConfig()
        for name in self._PARAMS:
            setattr(config, name, getattr(self, name))
        self.model_ = _core.embed.Item2Vec.fit(
            offsets, items, int(num_items), config, seed=int(self.random_state), num_threads=int(self.n_jobs),
            on_progress=make_progress(self.verbose),
        )
        return self

    @property
    def item_vectors(self) -> np.ndarray:
        """Read-only ``(num_items, dim)`` float32 view of the item vectors (no copy)."""
        return self._fitted().vectors

    def similar_items(self, itemid: int, N: int = 10) -> Tuple[np.ndarray, np.ndarray]:
        """The ``N`` items closest to ``itemid`` by cosine similarity, as ``(ids, scores)``."""
        ids, scores = self._fitted().similar_items(int(itemid), int(N))
        return ids[0], scores[0]

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
        query = self.encode_session(items, kinds)
        if user_history is not None and len(user_history):
            profile = self.encode_session(user_history, recency_decay=0.98, max_events=500)
            query = _core.embed.blend_with_profile(query, profile, float(profile_weight))
        excluded = list(filter_items) if filter_items is not None else []
        if filter_session_items:
            excluded += list(items)
        model = self._fitted()
        ids, scores = model.index.search(
            query.reshape(1, -1), int(N), allowed=model.seen, excluded=np.asarray(excluded, dtype=np.int32), num_threads=1
        )
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]


class VectorIndex:
    """Top-k search over a ``(num_items, dim)`` float32 matrix, exact or approximate (IVF).

    ``approximate=True`` builds an inverted-file index (k-means coarse quantiser, ``num_lists``
    lists, ``num_probes`` scanned per query: by default a sixteenth of the lists, at least 16, which
    reaches recall@20 of about 0.95 against exact search on item2vec vectors of a million items) for
    catalogues of a million items and more.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        metric: str = "cosine",
        approximate: bool = False,
        num_lists: int = 0,
        num_probes: int = 0,
        random_state: int = 42,
        n_jobs: int = 0,
    ) -> None:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if approximate:
            self._index = _core.retrieval.build_ivf(
                matrix, metric, num_lists=num_lists, num_probes=num_probes, seed=random_state, num_threads=n_jobs
            )
        else:
            self._index = _core.retrieval.build_exact(matrix, metric)
        self.n_jobs = n_jobs

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
        excluded_ids = None if excluded is None else np.ascontiguousarray(excluded, dtype=np.int32)
        return self._index.search(q, int(k), allowed_flags, excluded_ids, self.n_jobs)

    def __getstate__(self) -> dict:
        return {"index": self._index.to_bytes(), "n_jobs": self.n_jobs}

    def __setstate__(self, state: dict) -> None:
        self._index = _core.retrieval.load_index(state["index"])
        self.n_jobs = state["n_jobs"]
