"""Session-aware recommenders with implicit-style names (``fit``, ``recommend``, ``N``,
``filter_items``) plus ``recommend_session`` and its batched form."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._base import Estimator
from ._progress import make_progress
from .embed import SessionsLike, as_session_csr, catalogue_size
from .features import event_kind_codes

_DECAYS = {"none": _core.recommend.PositionDecay.none, "linear": _core.recommend.PositionDecay.linear,
           "exponential": _core.recommend.PositionDecay.exponential}


def _filters(filter_items: Optional[Sequence[int]], allowed_items: Optional[np.ndarray], filter_session_items: bool) -> Any:
    filters = _core.recommend.Filters()
    if filter_items is not None:
        filters.excluded_items = np.ascontiguousarray(filter_items, dtype=np.int32)
    if allowed_items is not None:
        filters.allowed_items = np.ascontiguousarray(allowed_items, dtype=np.uint8)
    filters.exclude_session_items = bool(filter_session_items)
    return filters


class _SessionRecommender(Estimator):
    """What every session recommender shares: serving, batching, pickling, save/load."""

    _model_kind = ""

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.recommend.load(data, cls._model_kind)

    def recommend_session(
        self,
        items: Sequence[int],
        N: int = 20,
        kinds: Optional[Sequence[Any]] = None,
        filter_items: Optional[Sequence[int]] = None,
        allowed_items: Optional[np.ndarray] = None,
        filter_session_items: bool = False,
        user: int = -1,
        return_reasons: bool = False,
    ) -> Any:
        """Top ``N`` items for a live session (item ids, oldest first) as ``(ids, scores)``.

        ``filter_items`` are never returned (already bought, in the cart); ``allowed_items`` is a
        0/1 flag per item (in stock). With ``return_reasons=True`` a third element holds one
        sentence per item saying why it was chosen. Unknown item ids are ignored.
        """
        kind_codes = event_kind_codes([] if kinds is None else kinds)
        ids, scores, reasons, _unknown = self._fitted().recommend(
            np.ascontiguousarray(items, dtype=np.int32), np.ascontiguousarray(kind_codes), int(N),
            _filters(filter_items, allowed_items, filter_session_items), int(user),
        )
        return (ids, scores, reasons) if return_reasons else (ids, scores)

    def recommend_sessions(
        self,
        sessions: SessionsLike,
        N: int = 20,
        filter_items: Optional[Sequence[int]] = None,
        allowed_items: Optional[np.ndarray] = None,
        filter_session_items: bool = False,
        n_jobs: int = 0,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Batched ``recommend_session``: ``(ids, scores)`` of shape ``(num_sessions, N)`` scored in
        parallel with the GIL released; short rows are padded with id -1 and score -inf."""
        offsets, items = as_session_csr(sessions)
        return self._fitted().recommend_batch(
            offsets, items, int(N), _filters(filter_items, allowed_items, filter_session_items), int(n_jobs)
        )


class SessionKNN(_SessionRecommender):
    """Session nearest neighbours: V-SKNN, VMIS-kNN and STAN in one engine (see the C++ header
    ``comptoir/recommend/session_knn.h`` for the papers behind each hyperparameter).

    ``position_decay``: ``"linear"`` (V-SKNN/VMIS-kNN), ``"exponential"`` with ``lambda_spw``
    (STAN), or ``"none"``; ``lambda_snh`` (days) decays old neighbour sessions and ``lambda_inh``
    weighs neighbour items by their distance to the shared item (STAN).
    """

    _model_kind = "session_knn"
    _param_names = ("k", "sample_size", "position_decay", "lambda_spw", "lambda_snh", "lambda_inh",
                    "idf_weighting", "max_session_length", "max_sessions")

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 500,
        position_decay: str = "linear",
        lambda_spw: float = 1.0,
        lambda_snh: float = 0.0,
        lambda_inh: float = 0.0,
        idf_weighting: bool = True,
        max_session_length: int = 50,
        max_sessions: int = 0,
    ) -> None:
        self.k = k
        self.sample_size = sample_size
        self.position_decay = position_decay
        self.lambda_spw = lambda_spw
        self.lambda_snh = lambda_snh
        self.lambda_inh = lambda_inh
        self.idf_weighting = idf_weighting
        self.max_session_length = max_session_length
        self.max_sessions = max_sessions

    def fit(
        self,
        sessions: SessionsLike,
        timestamps: Optional[Sequence[int]] = None,
        users: Optional[Sequence[int]] = None,
        num_items: Optional[int] = None,
    ) -> "SessionKNN":
        """Index training sessions. ``timestamps`` (one per session, seconds; default: their order)
        drive recency; ``users`` (one per session, -1 anonymous) make ``forget(user)`` possible."""
        if self.position_decay not in _DECAYS:
            raise ValueError(f"position_decay must be one of {sorted(_DECAYS)}, got {self.position_decay!r}")
        offsets, items = as_session_csr(sessions)
        num_items = catalogue_size(items, num_items)
        config = _core.recommend.SessionKnnConfig()
        for name in self._param_names:
            value = getattr(self, name)
            setattr(config, name, _DECAYS[value] if name == "position_decay" else value)
        self.model_ = _core.recommend.SessionKnn.fit(
            offsets, items,
            None if timestamps is None else np.ascontiguousarray(timestamps, dtype=np.int64),
            None if users is None else np.ascontiguousarray(users, dtype=np.int32),
            int(num_items), config,
        )
        return self

    def add_session(self, items: Sequence[int], timestamp: int, user: int = -1) -> None:
        """Add a completed session to the neighbour index online (memory stays bounded)."""
        self._fitted().add_session(np.ascontiguousarray(items, dtype=np.int32), int(timestamp), int(user))

    def forget(self, user: int) -> int:
        """Erase every session of ``user``; returns how many were removed."""
        return self._fitted().forget(int(user))


class Popularity(_SessionRecommender):
    """Time-decayed popularity (the cold-start fallback): each event weighs by its kind and halves
    every ``half_life_days`` before the newest event. With ``item_category`` the session's
    categories get their own trending items first ("trending in category C")."""

    _model_kind = "popularity"
    _param_names = ("half_life_days", "kind_weights")

    def __init__(self, half_life_days: float = 7.0, kind_weights: Sequence[float] = (1.0, 3.0, 5.0, 0.0, 0.0)) -> None:
        self.half_life_days = half_life_days
        self.kind_weights = kind_weights

    def fit(
        self,
        items: Sequence[int],
        timestamps: Optional[Sequence[int]] = None,
        kinds: Optional[Sequence[Any]] = None,
        num_items: Optional[int] = None,
        item_category: Optional[Sequence[int]] = None,
    ) -> "Popularity":
        """Learn from events: ``items`` (one per event) with optional ``timestamps`` and ``kinds``."""
        items = np.ascontiguousarray(items, dtype=np.int32)
        num_items = catalogue_size(items, num_items)
        self.model_ = _core.recommend.Popularity.fit(
            items,
            None if timestamps is None else np.ascontiguousarray(timestamps, dtype=np.int64),
            None if kinds is None else np.ascontiguousarray(event_kind_codes(kinds)),
            int(num_items),
            None if item_category is None else np.ascontiguousarray(item_category, dtype=np.int32),
            float(self.half_life_days), [float(w) for w in self.kind_weights],
        )
        return self

    @property
    def item_scores(self) -> np.ndarray:
        return self._fitted().scores


_MEASURES = {"lift": _core.recommend.AssociationMeasure.lift, "cosine": _core.recommend.AssociationMeasure.cosine,
             "confidence": _core.recommend.AssociationMeasure.confidence}


class FrequentlyBoughtTogether(_SessionRecommender):
    """Co-purchase association between items (``measure``: ``"cosine"``, ``"lift"`` or
    ``"confidence"``) for cart cross-sell and bundles. Cart and purchase events of a session anchor
    the recommendations when present; otherwise every session item does."""

    _model_kind = "co_purchase"
    _param_names = ("measure", "min_support", "max_neighbours", "max_basket_size")

    def __init__(self, measure: str = "cosine", min_support: int = 2, max_neighbours: int = 100, max_basket_size: int = 50) -> None:
        self.measure = measure
        self.min_support = min_support
        self.max_neighbours = max_neighbours
        self.max_basket_size = max_basket_size

    def fit(self, baskets: SessionsLike, num_items: Optional[int] = None, n_jobs: int = 0) -> "FrequentlyBoughtTogether":
        """One basket per order (or session); its distinct items count once."""
        if self.measure not in _MEASURES:
            raise ValueError(f"measure must be one of {sorted(_MEASURES)}, got {self.measure!r}")
        offsets, items = as_session_csr(baskets)
        num_items = catalogue_size(items, num_items)
        self.model_ = _core.recommend.CoPurchase.fit(
            offsets, items, int(num_items), _MEASURES[self.measure], int(self.min_support), int(self.max_neighbours),
            int(self.max_basket_size), int(n_jobs),
        )
        return self

    def bought_with(self, itemid: int, N: int = 10) -> Tuple[np.ndarray, np.ndarray]:
        """Items most often bought with ``itemid``, as ``(ids, association)``."""
        ids, scores = self._fitted().bought_with(int(itemid))
        return ids[:N], scores[:N]


class SequentialRules(_SessionRecommender):
    """Sequential rules: b is recommended after a when b followed a within ``max_steps`` clicks in
    training sessions (weight 1 / steps); the ``session_items`` most recent items fire rules."""

    _model_kind = "sequential_rules"
    _param_names = ("max_steps", "max_neighbours", "session_items")

    def __init__(self, max_steps: int = 10, max_neighbours: int = 200, session_items: int = 3) -> None:
        self.max_steps = max_steps
        self.max_neighbours = max_neighbours
        self.session_items = session_items

    def fit(self, sessions: SessionsLike, num_items: Optional[int] = None, n_jobs: int = 0) -> "SequentialRules":
        offsets, items = as_session_csr(sessions)
        num_items = catalogue_size(items, num_items)
        self.model_ = _core.recommend.SequentialRules.fit(
            offsets, items, int(num_items), int(self.max_steps), int(self.max_neighbours), int(self.session_items), int(n_jobs)
        )
        return self


class EmbeddingRecommender(_SessionRecommender):
    """item2vec as a session recommender: the session (weighted by recency and event kind) and,
    for known users, their long-term profile retrieve the closest items; each reason names the
    session item it is most similar to. ``embeddings`` is an ``Item2Vec`` (fitted here if not)."""

    _model_kind = "embedding_recommender"
    _param_names = ("embeddings", "recency_decay", "profile_weight", "max_events")

    def __init__(self, embeddings: Any = None, recency_decay: float = 0.8, profile_weight: float = 0.2,
                 max_events: int = 50) -> None:
        self.embeddings = embeddings
        self.recency_decay = recency_decay
        self.profile_weight = profile_weight
        self.max_events = max_events

    def fit(self, sessions: SessionsLike, users: Optional[Sequence[int]] = None, num_items: Optional[int] = None) -> "EmbeddingRecommender":
        """Train the embeddings (unless already fitted) and, with ``users`` (one per session, -1
        anonymous), build each known user's long-term profile from their sessions."""
        from .embed import Item2Vec

        offsets, items = as_session_csr(sessions)
        num_items = catalogue_size(items, num_items)
        embeddings = self.embeddings if self.embeddings is not None else Item2Vec()
        if getattr(embeddings, "model_", None) is None:
            embeddings.fit((offsets, items), num_items=num_items)
        self.model_ = _core.recommend.EmbeddingRecommender.create(
            embeddings._fitted(), float(self.recency_decay), int(self.max_events), float(self.profile_weight)
        )
        if users is not None:
            users = np.asarray(users)
            per_event = np.repeat(users, np.diff(offsets))
            known = per_event >= 0
            order = np.argsort(per_event[known], kind="stable")
            ids, starts = np.unique(per_event[known][order], return_index=True)
            histories = np.split(items[known][order], starts[1:])
            for user, history in zip(ids, histories):
                self.model_.set_user_history(int(user), np.ascontiguousarray(history, dtype=np.int32))
        return self


class Hybrid(_SessionRecommender):
    """Weighted blend of fitted recommenders: each one's scores are scaled so its best candidate
    scores 1, then summed with its weight. Tune the weights with ``tune_hybrid_weights``."""

    _model_kind = "hybrid"
    _param_names = ("components", "weights")

    def __init__(self, components: Sequence[Any] = (), weights: Optional[Sequence[float]] = None) -> None:
        self.components = components
        self.weights = weights
        if components and all(getattr(c, "model_", None) is not None for c in components):
            self.model_ = _core.recommend.Hybrid.create(
                [c._fitted() for c in components], [1.0] * len(components) if weights is None else [float(w) for w in weights]
            )


def tune_hybrid_weights(
    components: Sequence[Any],
    validation_sessions: SessionsLike,
    grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0),
    k: int = 20,
    metric: str = "mrr",
    rounds: int = 2,
    n_jobs: int = 0,
) -> Tuple[List[float], float]:
    """Coordinate ascent over the component weights on validation sessions (carve them from the
    training data, never the test split). The first component's weight stays 1 as the scale.
    Returns ``(weights, best metric)``."""
    weights = [1.0] * len(components)
    best = -1.0
    for _ in range(rounds):
        for c in range(1, len(components)):
            for value in grid:
                trial = list(weights)
                trial[c] = float(value)
                score = evaluate_next_item(Hybrid(components, trial), validation_sessions, k=k, n_jobs=n_jobs)[metric]
                if score > best:
                    best, weights = score, trial
    return weights, best


def evaluate_next_item(
    model: Any,
    test_sessions: SessionsLike,
    k: int = 20,
    item_popularity: Optional[np.ndarray] = None,
    n_jobs: int = 0,
    max_prefix: int = 0,
    verbose: Any = False,
) -> Dict[str, float]:
    """Replay each test session and predict each next item from its prefix (the SR-GNN protocol):
    HR@k, MRR@k, NDCG@k, catalogue coverage and popularity bias. Ties count against the model."""
    offsets, items = as_session_csr(test_sessions)
    core_model = model._fitted() if hasattr(model, "_fitted") else model
    return _core.eval.evaluate_next_item(
        core_model, offsets, items, int(k),
        None if item_popularity is None else np.ascontiguousarray(item_popularity, dtype=np.int64),
        int(n_jobs), int(max_prefix), make_progress(verbose),
    )


__all__: List[str] = [
    "SessionKNN", "Popularity", "FrequentlyBoughtTogether", "SequentialRules", "EmbeddingRecommender", "Hybrid", "tune_hybrid_weights", "evaluate_next_item",
]
