"""Session-aware recommenders with implicit-style names (``fit``, ``recommend``, ``N``,
``filter_items``) plus ``recommend_session`` and its batched form."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core, _ids
from ._base import Estimator, estimator_class, read_record
from ._progress import make_progress
from .embed import (ShopIdsMixin, SessionsLike, TrainingData, _event_log, _session_columns, as_session_csr, dense_ids,
                    training_sessions)
from .exceptions import InvalidArgumentError, not_fitted_error
from .features import event_kind_codes

_DECAYS = {"none": _core.recommend.PositionDecay.none, "linear": _core.recommend.PositionDecay.linear,
           "exponential": _core.recommend.PositionDecay.exponential}
_MEASURES = {"lift": _core.recommend.AssociationMeasure.lift, "cosine": _core.recommend.AssociationMeasure.cosine,
             "confidence": _core.recommend.AssociationMeasure.confidence}


_log = logging.getLogger(__name__)

_TRAINING_EVENTS = {"view": "views", "cart": "carts", "purchase": "purchases"}
_REASON_COLUMNS = ("item", "score", "reason_kind", "anchor_item", "support", "category", "reason")


def _training_events(kinds: Any, default: Optional[str] = None) -> Any:
    """What a model learned from, for its reasons' wording: the one kind among views, carts and
    purchases the events hold (removals and returns aside), "mixed" for several, else ``default``."""
    if kinds is None:
        name = default
    elif isinstance(kinds, str):
        if kinds not in _TRAINING_EVENTS:
            raise InvalidArgumentError(f"event_kind must be one of {sorted(_TRAINING_EVENTS)}, got {kinds!r}")
        name = _TRAINING_EVENTS[kinds]
    else:
        present = set(np.unique(event_kind_codes(kinds)).tolist()) & {0, 1, 2}
        name = {0: "views", 1: "carts", 2: "purchases"}[present.pop()] if len(present) == 1 else (
            "mixed" if present else default)
    return getattr(_core.recommend.TrainingEvents, name or "unspecified")


def _category_codes(item_category: Any, data: TrainingData) -> Optional[np.ndarray]:
    """Each dense item's category (-1 for none) from a mapping / Series keyed by shop id, or an
    array in the model's item order."""
    if item_category is None:
        return None
    if isinstance(item_category, dict) or (hasattr(item_category, "index") and hasattr(item_category, "to_numpy")
                                           and not _is_default_index(item_category.index)):
        keys = list(item_category.keys()) if isinstance(item_category, dict) else item_category.index.to_numpy()
        values = list(item_category.values()) if isinstance(item_category, dict) else item_category.to_numpy()
        position = {v: i for i, v in enumerate(data.item_ids.tolist())}
        codes = np.full(data.num_items, -1, dtype=np.int32)
        key_ids = _ids.shop_ids(keys, "item")[0].tolist()
        for key, value in zip(key_ids, _ids.shop_ids(values, "category")[0].tolist()):
            if not isinstance(value, int):
                raise InvalidArgumentError(f"item_category values must be integer codes, got {value!r}")
            if key in position:
                codes[position[key]] = value
        return codes
    codes = np.asarray(item_category)
    if len(codes) != data.num_items:
        raise InvalidArgumentError(f"item_category as an array needs one category per item of the model "
                                   f"({data.num_items}, in item_ids_ order), got {len(codes)}: or pass a mapping "
                                   "from item id to category")
    return np.ascontiguousarray(_ids.shop_ids(codes, "category")[0], dtype=np.int32)


def _log_kinds(log: Any, event_kind: Optional[str]) -> Any:
    """What to read the training events' kinds from: ``event_kind`` when given, else the log's
    kinds when it has them."""
    if event_kind is not None or log is None or not log.has_kinds:
        return event_kind
    return log.kind


def _is_default_index(index: Any) -> bool:
    """A pandas index that only numbers the rows (a plain flag column, not one keyed by item)."""
    return type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1


def _reasons_frame(items: Any, scores: np.ndarray, reasons: Sequence[Tuple[Any, ...]]) -> Any:
    import pandas as pd

    frame = pd.DataFrame({
        "item": list(items),
        "score": np.asarray(scores, dtype=np.float32),
        "reason_kind": [r[0] for r in reasons],
        "anchor_item": [r[1] for r in reasons],
        "support": np.asarray([r[2] for r in reasons], dtype=np.int64),
        "category": pd.array([r[3] if r[3] >= 0 else None for r in reasons], dtype="Int64"),
        "reason": [r[4] for r in reasons],
    }, columns=list(_REASON_COLUMNS))
    return frame


class _SessionRecommender(ShopIdsMixin, Estimator):
    """What every session recommender shares: serving (in dense or the shop's ids), batching,
    pickling and save/load through the model file."""

    _model_kind = ""
    # Hyperparameters that fill the C++ config struct, by name; _config_types converts enums.
    _config_class: Any = None
    _config_enums: Dict[str, Dict[str, Any]] = {}

    @classmethod
    def _load_core(cls, data: bytes) -> Any:
        return _core.recommend.load(data, cls._model_kind)

    def _config(self) -> Any:
        config = self._config_class()
        for name in self._config_names:
            value = getattr(self, name)
            if name in self._config_enums:
                if value not in self._config_enums[name]:
                    raise InvalidArgumentError(f"{name} must be one of {sorted(self._config_enums[name])}, got {value!r}")
                value = self._config_enums[name][value]
            elif isinstance(value, (tuple, list, np.ndarray)):
                value = [float(v) for v in value]
            setattr(config, name, value)
        return config

    @property
    def _config_names(self) -> Tuple[str, ...]:
        return tuple(n for n in self._param_names if n not in ("embeddings",))

    def _item_mask(self, flags: Any, name: str) -> Optional[np.ndarray]:
        """``allowed_items`` / ``filter_items`` as one 0/1 flag per dense item. They take the shop's
        ids of the items (unknown ones ignored), a boolean mask in ``item_ids_`` order, or a
        mapping / pandas Series from shop id to a count or flag (> 0 means set). An array of one
        0/1 flag per item (in ``item_ids_`` order) also works; other numbers never wrap: as a
        per-item array they are refused, as ids they must name items of the model."""
        if flags is None:
            return None
        num_items = self._fitted().num_items
        if isinstance(flags, (list, tuple)) and flags and all(isinstance(v, (bool, np.bool_)) for v in flags):
            flags = np.asarray(flags, dtype=bool)
        if isinstance(flags, dict) or (hasattr(flags, "index") and hasattr(flags, "to_numpy")
                                       and not _is_default_index(flags.index) and getattr(flags, "ndim", 1) == 1):
            keys = list(flags.keys()) if isinstance(flags, dict) else flags.index.to_numpy()
            values = np.asarray(list(flags.values()) if isinstance(flags, dict) else flags.to_numpy())
            if values.dtype.kind not in "biuf":
                raise InvalidArgumentError(f"{name} maps item ids to {values.dtype} values: give counts or flags")
            flags = [k for k, v in zip(keys, values.tolist()) if v > 0]
        array = flags if isinstance(flags, np.ndarray) else (
            flags.to_numpy() if hasattr(flags, "to_numpy") else None)
        if array is not None and array.dtype.kind == "b":
            if len(array) != num_items:
                raise InvalidArgumentError(f"{name} as a boolean mask needs one flag per item of the model ({num_items}), "
                                           f"got {len(array)}")
            return np.ascontiguousarray(array, dtype=np.uint8)
        if array is not None and array.dtype.kind in "iuf" and len(array) == num_items and num_items > 0 and (
                np.isin(array, (0, 1)).all()):
            return np.ascontiguousarray(array, dtype=np.uint8)
        ids_values = _ids.shop_ids(flags if array is None else array, "item")[0]
        dense = self._dense_items(ids_values, num_items)
        if array is not None and array.dtype.kind in "iuf" and len(array) == num_items and (dense < 0).any():
            raise InvalidArgumentError(
                f"{name} has one number per item but they are not 0/1 flags (e.g. {array[np.flatnonzero(dense < 0)[0]]!r}): "
                "pass a boolean mask such as stock > 0, or the shop ids of the items")
        mask = np.zeros(num_items, dtype=np.uint8)
        mask[dense[(dense >= 0) & (dense < num_items)]] = 1
        return mask

    def _filters(self, allowed_items: Any, filter_session_items: bool, excluded: Optional[np.ndarray] = None) -> Any:
        filters = _core.recommend.Filters()
        allowed = self._item_mask(allowed_items, "allowed_items")
        if allowed is not None:
            filters.allowed_items = allowed
        if excluded is not None:
            filters.excluded_items = np.ascontiguousarray(excluded, dtype=np.int32)
        filters.exclude_session_items = bool(filter_session_items)
        return filters

    def _excluded_dense(self, filter_items: Any) -> Optional[np.ndarray]:
        mask = self._item_mask(filter_items, "filter_items")
        return None if mask is None else np.flatnonzero(mask).astype(np.int32)

    @staticmethod
    def _unknown_out(unknown: Sequence[str], asked: np.ndarray) -> List[Any]:
        """Unknown session items (as text from C++) as the caller gave them (ints stay ints)."""
        return [int(u) for u in unknown] if asked.dtype == np.int64 else list(unknown)

    def recommend_session(
        self,
        items: Sequence[Any],
        N: int = 20,
        kinds: Optional[Sequence[Any]] = None,
        filter_items: Optional[Sequence[Any]] = None,
        allowed_items: Optional[Any] = None,
        filter_session_items: bool = False,
        user: Any = None,
        return_reasons: Any = False,
        return_unknown: bool = False,
    ) -> Any:
        """Top ``N`` items for a live session (``items``, oldest first, in the shop's ids) as
        ``(ids, scores)`` in the shop's ids: a str object array for string ids, int64 for integer
        ids. ``user`` is the shop's customer id (None, NaN or "" for a guest; a customer the model
        never saw is served as a guest).

        ``filter_items`` are never returned (already bought, in the cart); ``allowed_items`` are
        the only items that may be (in stock): both take shop ids, or a boolean mask / 0/1 flags
        in ``item_ids_`` order, or a mapping or Series from shop id to a count (> 0 allowed).
        ``return_reasons=True`` adds one sentence per item; ``return_reasons="frame"`` returns
        instead one DataFrame, a row per item, with ``item, score, reason_kind, anchor_item`` (the
        session item behind it, shop id), ``support`` (sessions or orders behind it),
        ``category`` (where the model knows it) and ``reason`` (the sentence, which names the
        events the model was trained on: "bought together" for orders, "viewed together" for
        browsing). ``return_unknown=True`` adds the session items the model never saw (they are
        ignored). Fractional, boolean or mixed-type ids are an InvalidArgumentError.
        """
        if return_reasons not in (False, True, "text", "frame"):
            raise InvalidArgumentError(f"return_reasons must be False, True, 'text' or 'frame', got {return_reasons!r}")
        kind_codes = np.ascontiguousarray(event_kind_codes([] if kinds is None else kinds))
        model = self._fitted()
        ids = self._shop_ids()
        if ids is None:
            # A model file from before models kept the shop's ids: dense ids in and out.
            excluded = self._excluded_dense(filter_items)
            out_ids, scores, reasons, unknown = model.recommend(
                dense_ids(items), kind_codes, _ids.count(N), self._filters(allowed_items, filter_session_items, excluded),
                self._dense_user(user),
            )
        else:
            values, _ = _ids.shop_ids(items, "item")
            excluded = self._excluded_dense(filter_items)
            out_ids, scores, reasons, unknown, _unknown_user = _core.recommend.recommend_shop(
                model, ids, _ids.id_texts(values), kind_codes, _ids.count(N), self._filters(allowed_items, filter_session_items),
                None if excluded is None else _ids.id_texts(self._shop_items(excluded)), self._user_key(user),
            )
            if not isinstance(out_ids, np.ndarray):
                out_ids = np.asarray(out_ids, dtype=object)
            unknown = self._unknown_out(unknown, values)
        if return_reasons == "frame":
            frame = _reasons_frame(out_ids, scores, reasons)
            return (frame, unknown) if return_unknown else frame
        texts = [r[4] for r in reasons]
        return (out_ids, scores) + ((texts,) if return_reasons else ()) + ((unknown,) if return_unknown else ())

    def _dense_csr(self, sessions: SessionsLike) -> Tuple[np.ndarray, np.ndarray]:
        """Sessions in the model's dense ids (unknown shop ids become -1, which models ignore)."""
        log = _event_log(sessions)
        if log is not None and self._shop_ids() is None:
            return np.ascontiguousarray(log.session_offsets), np.ascontiguousarray(log.item, dtype=np.int32)
        if log is not None:
            shop = log.item_ids
            shop = shop if isinstance(shop, np.ndarray) else np.asarray(shop, dtype=object)
            return np.ascontiguousarray(log.session_offsets), self._dense_items(shop[np.asarray(log.item)],
                                                                              self._fitted().num_items)
        offsets, raw = _session_columns(sessions)
        return offsets, self._dense_items(raw, self._fitted().num_items)

    def recommend_sessions(
        self,
        sessions: SessionsLike,
        N: int = 20,
        filter_items: Optional[Sequence[Any]] = None,
        allowed_items: Optional[Any] = None,
        filter_session_items: bool = False,
        n_jobs: int = 0,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Batched ``recommend_session`` (sessions in any form ``fit`` takes, in the shop's ids):
        ``(ids, scores)`` of shape ``(num_sessions, N)`` scored in parallel with the GIL released;
        short rows are padded with score -inf (and id -1, or None for string shop ids)."""
        model = self._fitted()
        offsets, items = self._dense_csr(sessions)
        ids, scores = model.recommend_batch(
            offsets, items, _ids.count(N), self._filters(allowed_items, filter_session_items, self._excluded_dense(filter_items)),
            int(n_jobs)
        )
        return self._shop_items(ids), scores

    def _set_training_events(self, kinds: Any, default: Optional[str] = None) -> None:
        self._fitted().training_events = _training_events(kinds, default)

    def _fit_ids(self, data: TrainingData) -> None:
        self._keep_ids(data)

    @property
    def config_(self) -> Any:
        """The fitted C++ model's config (what its file stores)."""
        return self._fitted().config


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
    _config_class = _core.recommend.SessionKnnConfig
    _config_enums = {"position_decay": _DECAYS}

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
        users: Optional[Sequence[Any]] = None,
        num_items: Optional[int] = None,
        item_ids: Any = None,
        event_kind: Optional[str] = None,
    ) -> "SessionKNN":
        """Index training sessions: an ``EventLog`` (its times, users, kinds and ids), a DataFrame
        with ``session_id``/``item_id`` (and ``timestamp``) columns, ``(offsets, items)`` or a
        list of item sequences, in the shop's ids (learned into ``item_ids_``; integers are shop
        ids too unless ``num_items=N`` declares dense ids 0..N-1 or ``item_ids=`` names the shop's
        id of each dense position). ``timestamps`` (one per session, seconds; default: their
        order) drive recency; ``users`` (one per session, shop ids; None, NaN, "" and negative
        numbers are guests) make ``forget(user)`` possible. ``event_kind`` ("view", "cart" or
        "purchase") says what the sessions hold, for the reasons' wording (an ``EventLog`` says it
        itself)."""
        config = self._config()
        data = training_sessions(sessions, num_items, users=users, timestamps=timestamps, item_ids=item_ids)
        self.model_ = _core.recommend.SessionKnn.fit(
            data.offsets, data.items, data.timestamps, data.users, int(data.num_items), config,
        )
        self._fit_ids(data)
        log = _event_log(sessions)
        self._set_training_events(_log_kinds(log, event_kind))
        return self

    def add_session(self, items: Sequence[Any], timestamp: int, user: Any = None) -> None:
        """Add a completed session (shop ids) to the neighbour index online (memory stays
        bounded); items the model never saw are refused, naming them. A ``user`` the model never
        saw joins ``user_ids_`` (so ``forget`` finds them); None, NaN and "" are guests."""
        model = self._fitted()
        dense = self._dense_items(items, model.num_items)
        if np.any(dense < 0):
            unknown = [v for v, d in zip(_ids.shop_ids(items)[0].tolist(), dense) if d < 0]
            raise InvalidArgumentError(f"the session has items this model never saw ({unknown[:5]}): refit to add them "
                                       "to the catalogue")
        model.add_session(dense, _ids.timestamp(timestamp), self._dense_user(user, add=True))

    def forget(self, user: Any) -> int:
        """Erase every session of ``user`` (the shop's customer id); returns how many were removed
        (0 for a customer the model never saw)."""
        dense = self._dense_user(user)
        return self._fitted().forget(dense) if dense >= 0 else 0


class Popularity(_SessionRecommender):
    """Time-decayed popularity (the cold-start fallback): each event weighs by its kind and halves
    every ``half_life_days`` before the newest event. With ``item_category`` the session's
    categories get their own trending items first ("trending in category C")."""

    _model_kind = "popularity"
    _param_names = ("half_life_days", "kind_weights")
    _config_class = _core.recommend.PopularityConfig

    def __init__(self, half_life_days: float = 7.0, kind_weights: Sequence[float] = (1.0, 3.0, 5.0, 0.0, 0.0)) -> None:
        self.half_life_days = half_life_days
        self.kind_weights = kind_weights

    def fit(
        self,
        items: Any,
        timestamps: Optional[Sequence[int]] = None,
        kinds: Optional[Sequence[Any]] = None,
        num_items: Optional[int] = None,
        item_category: Any = None,
        item_ids: Any = None,
        event_kind: Optional[str] = None,
    ) -> "Popularity":
        """Learn from events: ``items`` (one per event, the shop's ids under the same rule as
        ``SessionKNN.fit``) with optional ``timestamps`` and ``kinds``, or an ``EventLog``.
        ``item_category`` gives each item's integer category: a mapping or Series from shop id,
        or an array in ``item_ids_`` order (items it leaves out have none). The reasons' wording
        follows ``kinds`` ("best selling" when every event is a purchase), or ``event_kind``
        when there are no kinds."""
        config = self._config()
        log = _event_log(items)
        if log is not None:
            data = training_sessions(log)
            timestamps = log.timestamp if timestamps is None else timestamps
            kinds = _log_kinds(log, None) if kinds is None else kinds
        else:
            column = items if isinstance(items, np.ndarray) else _ids._plain_array(items)
            data = training_sessions((np.array([0, len(column)], dtype=np.int64), column), num_items, item_ids=item_ids)
        self.model_ = _core.recommend.Popularity.fit(
            data.items,
            None if timestamps is None else _ids.timestamps(timestamps),
            None if kinds is None else np.ascontiguousarray(event_kind_codes(kinds)),
            int(data.num_items),
            _category_codes(item_category, data),
            config,
        )
        self._fit_ids(data._replace(user_ids=None))
        self._set_training_events(event_kind if kinds is None else kinds)
        if kinds is None and log is None and len(data.items):  # (an EventLog without kinds has said so)
            _log.info("Popularity: no kinds given, so the %s events count as views (kind_weights[0] = %g each)",
                      f"{len(data.items):,}", float(self.kind_weights[0]))
        return self

    @property
    def item_scores(self) -> np.ndarray:
        return self._fitted().scores


def _log_truncated_baskets(offsets: np.ndarray, items: np.ndarray, num_items: int, max_basket_size: int) -> None:
    """Logs how many baskets hold more distinct items than ``max_basket_size`` (the model counts
    only their first ones) and how many of their lines that leaves out."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    if not len(lengths) or lengths.max() <= max_basket_size:
        return
    basket = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    distinct = np.bincount(np.unique(basket * max(num_items, 1) + np.asarray(items, dtype=np.int64)) // max(num_items, 1),
                           minlength=len(lengths))
    over = distinct > max_basket_size
    if over.any():
        left_out = int((distinct[over] - max_basket_size).sum())
        _log.info("FrequentlyBoughtTogether: max_basket_size=%d truncated %s of %s baskets (%.1f%%), leaving out %s "
                  "distinct items of theirs (raise max_basket_size to keep them)", max_basket_size, f"{int(over.sum()):,}",
                  f"{len(lengths):,}", 100.0 * over.mean(), f"{left_out:,}")


class FrequentlyBoughtTogether(_SessionRecommender):
    """Co-purchase association between items (``measure``: ``"cosine"``, ``"lift"`` or
    ``"confidence"``) for cart cross-sell and bundles. Cart and purchase events of a session anchor
    the recommendations when present; otherwise every session item does."""

    _model_kind = "co_purchase"
    _param_names = ("measure", "min_support", "max_neighbours", "max_basket_size")
    _config_class = _core.recommend.CoPurchaseConfig
    _config_enums = {"measure": _MEASURES}

    def __init__(self, measure: str = "cosine", min_support: int = 2, max_neighbours: int = 100, max_basket_size: int = 50) -> None:
        self.measure = measure
        self.min_support = min_support
        self.max_neighbours = max_neighbours
        self.max_basket_size = max_basket_size

    def fit(self, baskets: SessionsLike, num_items: Optional[int] = None, n_jobs: int = 0,
            item_ids: Any = None, event_kind: Optional[str] = None) -> "FrequentlyBoughtTogether":
        """One basket per order (or session), in the shop's ids under the same rule as
        ``SessionKNN.fit``; its distinct items count once, the first ``max_basket_size`` of them
        (how many baskets that truncates is logged on the ``comptoir`` logger). Reasons say "bought together" unless
        the baskets are something else: ``event_kind="view"`` (or an ``EventLog`` of views) makes
        them "viewed together"."""
        config = self._config()
        data = training_sessions(baskets, num_items, item_ids=item_ids)
        self.model_ = _core.recommend.CoPurchase.fit(data.offsets, data.items, int(data.num_items), config, int(n_jobs))
        _log_truncated_baskets(data.offsets, data.items, int(data.num_items), int(self.max_basket_size))
        self._fit_ids(data._replace(user_ids=None))
        log = _event_log(baskets)
        self._set_training_events(_log_kinds(log, event_kind), default="purchases")
        return self

    def bought_with(self, itemid: Any, N: int = 10) -> Tuple[np.ndarray, np.ndarray]:
        """Items most often bought with ``itemid`` (a shop id), as ``(ids, association)`` in shop
        ids; ``NotFoundError`` (a KeyError) naming it when the model never saw the item."""
        N = _ids.count(N)
        dense = self._dense_item(itemid)
        ids, scores = self._fitted().bought_with(dense)
        return self._shop_items(ids[:N]), scores[:N]


class SequentialRules(_SessionRecommender):
    """Sequential rules: b is recommended after a when b followed a within ``max_steps`` clicks in
    training sessions (weight 1 / steps); the ``session_items`` most recent items fire rules."""

    _model_kind = "sequential_rules"
    _param_names = ("max_steps", "max_neighbours", "session_items")
    _config_class = _core.recommend.SequentialRulesConfig

    def __init__(self, max_steps: int = 10, max_neighbours: int = 200, session_items: int = 3) -> None:
        self.max_steps = max_steps
        self.max_neighbours = max_neighbours
        self.session_items = session_items

    def fit(self, sessions: SessionsLike, num_items: Optional[int] = None, n_jobs: int = 0,
            item_ids: Any = None, event_kind: Optional[str] = None) -> "SequentialRules":
        """Learn the rules from sessions in the shop's ids (the rule of ``SessionKNN.fit``)."""
        config = self._config()
        data = training_sessions(sessions, num_items, item_ids=item_ids)
        self.model_ = _core.recommend.SequentialRules.fit(data.offsets, data.items, int(data.num_items), config, int(n_jobs))
        self._fit_ids(data._replace(user_ids=None))
        log = _event_log(sessions)
        self._set_training_events(_log_kinds(log, event_kind))
        return self


class EmbeddingRecommender(_SessionRecommender):
    """item2vec as a session recommender: the session (weighted by recency and event kind) and,
    for known users, their long-term profile retrieve the closest items; each reason names the
    session item it is most similar to. ``embeddings`` is an ``Item2Vec`` (fitted here if not);
    the fitted one is ``embeddings_``."""

    _model_kind = "embedding_recommender"
    _param_names = ("embeddings", "recency_decay", "profile_weight", "max_events", "kind_weights")
    _config_class = _core.embed.SessionEncoderConfig

    def __init__(self, embeddings: Any = None, recency_decay: float = 0.8, profile_weight: float = 0.2,
                 max_events: int = 50, kind_weights: Sequence[float] = (1.0, 2.0, 2.0, 0.25, 0.0)) -> None:
        self.embeddings = embeddings
        self.recency_decay = recency_decay
        self.profile_weight = profile_weight
        self.max_events = max_events
        self.kind_weights = kind_weights

    def fit(self, sessions: SessionsLike, users: Optional[Sequence[Any]] = None, num_items: Optional[int] = None,
            item_ids: Any = None, event_kind: Optional[str] = None) -> "EmbeddingRecommender":
        """Train the embeddings (unless already fitted) and, with ``users`` (one per session, shop
        ids, guests as None / NaN / ""; an ``EventLog`` brings its own), build each known user's
        long-term profile. Sessions are in the shop's ids (the rule of ``SessionKNN.fit``); with
        already fitted embeddings they are read in the embeddings' ids (items those never saw are
        left out of the profiles)."""
        from .embed import Item2Vec

        config = self._config()
        data = training_sessions(sessions, num_items, users=users, item_ids=item_ids)
        embeddings = self.embeddings if self.embeddings is not None else Item2Vec()
        if getattr(embeddings, "model_", None) is None:
            embeddings.fit((data.offsets, data.items), num_items=data.num_items)
            embeddings._keep_ids(data._replace(user_ids=None))
        elif not _same_ids(getattr(embeddings, "item_ids_", None), data.item_ids):
            if getattr(embeddings, "item_ids_", None) is None or data.item_ids is None:
                raise InvalidArgumentError("the embeddings were fitted on other item ids than these sessions")
            dense = embeddings._dense_items(data.item_ids[data.items], embeddings._fitted().num_items)
            data = data._replace(items=dense, item_ids=embeddings.item_ids_, num_items=len(embeddings.item_ids_))
        self.model_ = _core.recommend.EmbeddingRecommender.create(embeddings._fitted(), config)
        self.embeddings_ = embeddings
        _set_user_histories(self.model_, data)
        self._fit_ids(data)
        log = _event_log(sessions)
        self._set_training_events(_log_kinds(log, event_kind))
        return self

    def forget(self, user: Any) -> bool:
        """Erase ``user``'s long-term profile (the shop's customer id; safe while other threads
        recommend); returns whether there was one."""
        dense = self._dense_user(user)
        return self._fitted().forget(dense) > 0 if dense >= 0 else False

    def _restore_from_model(self) -> None:
        from .embed import Item2Vec

        core = self.model_.embeddings
        if isinstance(self.embeddings, Item2Vec):
            self.embeddings.model_ = core
            embeddings = self.embeddings
        else:
            embeddings = Item2Vec._from_core(core)
        if getattr(self, "item_ids_", None) is not None:
            embeddings.item_ids_ = self.item_ids_
        self.embeddings_ = embeddings


def _set_user_histories(model: Any, data: TrainingData) -> None:
    """Each known user's items across their sessions (oldest first) become their long-term profile."""
    if data.users is None:
        return
    per_event = np.repeat(data.users, np.diff(data.offsets))
    known = (per_event >= 0) & (data.items >= 0)
    order = np.argsort(per_event[known], kind="stable")
    ids, starts = np.unique(per_event[known][order], return_index=True)
    histories = np.split(data.items[known][order], starts[1:])
    for user, history in zip(ids, histories):
        model.set_user_history(int(user), np.ascontiguousarray(history, dtype=np.int32))


def __getattr__(name: str) -> Any:
    # The neural recommender's module builds on this one; exported lazily so neither imports the
    # other half-initialised.
    if name == "NeuralSessionRecommender":
        from ._neural_session import NeuralSessionRecommender

        return NeuralSessionRecommender
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _same_ids(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


class Hybrid(_SessionRecommender):
    """Weighted blend of fitted recommenders: each one's scores are scaled so its best candidate
    scores 1, then summed with its weight. Tune the weights with ``tune_hybrid_weights``.

    The blend is assembled from the fitted components when first used (and again whenever a
    component is refitted or the weights change); its model file nests each component's complete
    file, so ``Hybrid.load`` gives back fitted components."""

    _model_kind = "hybrid"
    _param_names = ("components", "weights")

    def __init__(self, components: Sequence[Any] = (), weights: Optional[Sequence[float]] = None) -> None:
        self.components = components
        self.weights = weights

    def fit(self, *args: Any, **kwargs: Any) -> "Hybrid":
        """Fit every component on the same data, then assemble the blend."""
        for component in self.components:
            component.fit(*args, **kwargs)
        self._fitted()
        return self

    def _weights(self) -> List[float]:
        return [1.0] * len(self.components) if self.weights is None else [float(w) for w in self.weights]

    def _fitted(self) -> Any:
        if not self.components:
            raise not_fitted_error("this Hybrid has no components")
        parts = [c._fitted() for c in self.components]
        key = (tuple(id(p) for p in parts), tuple(self._weights()))
        if self.__dict__.get("model_") is None or self.__dict__.get("_built_for") != key:
            item_ids = getattr(self.components[0], "item_ids_", None)
            if not all(_same_ids(getattr(c, "item_ids_", None), item_ids) for c in self.components):
                raise InvalidArgumentError("hybrid components were fitted on different item ids")
            self.model_ = _core.recommend.Hybrid.create(parts, self._weights())
            self._built_for = key
            self.__dict__.pop("_core_ids_", None)
        return self.model_

    @property
    def item_ids_(self) -> Any:
        """The components' shop item ids (they must agree)."""
        if not self.components or getattr(self.components[0], "item_ids_", None) is None:
            raise AttributeError("item_ids_")
        return self.components[0].item_ids_

    @item_ids_.setter
    def item_ids_(self, value: Any) -> None:
        pass  # the components carry the ids; a loaded file's copy is the same

    def _core_bytes(self) -> bytes:
        # Each component's complete file (its estimator record included), so loading restores it.
        data = self._fitted().to_bytes()
        return _core.io.with_blobs(data, {f"component_{i}": c.to_bytes() for i, c in enumerate(self.components)})

    @classmethod
    def from_bytes(cls, data: bytes, user_id_key: Optional[str] = None) -> Any:
        hybrid = super().from_bytes(data, user_id_key)
        components = []
        for i, spec in enumerate(hybrid.components):
            blob = _core.io.blob(data, f"component_{i}")
            if blob is None:
                from .exceptions import ModelFormatError

                raise ModelFormatError(f"the hybrid file has no blob component_{i}")
            record = read_record(blob)
            if record is not None:
                components.append(estimator_class(record["class"]).from_bytes(blob, user_id_key))
            else:
                spec.model_ = type(spec)._load_core(blob)
                spec._restore_from_model()
                components.append(spec)
        hybrid.components = type(hybrid.components)(components) if isinstance(hybrid.components, tuple) else components
        hybrid.__dict__.pop("model_", None)
        hybrid._fitted()
        return hybrid


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
    if hasattr(model, "_dense_csr"):
        offsets, items = model._dense_csr(test_sessions)
    else:
        offsets, items = as_session_csr(test_sessions)
    core_model = model._fitted() if hasattr(model, "_fitted") else model
    return _core.eval.evaluate_next_item(
        core_model, offsets, items, _ids.count(k, "k"),
        None if item_popularity is None else np.ascontiguousarray(item_popularity, dtype=np.int64),
        int(n_jobs), int(max_prefix), make_progress(verbose),
    )


def recall_at_k(model: Any, test_sessions: SessionsLike, ks: Sequence[int] = (1, 5, 10, 20), n_jobs: int = 0,
                max_prefix: int = 0) -> Dict[int, float]:
    """``{k: recall@k}``: the share of next items (``evaluate_next_item``'s protocol) found in
    the top k; with one held-out item per prediction it is the hit rate."""
    return {int(k): float(evaluate_next_item(model, test_sessions, k=int(k), n_jobs=n_jobs, max_prefix=max_prefix)["hit_rate"])
            for k in ks}


def plot_recall_at_k(models: Any, test_sessions: SessionsLike = None, ks: Sequence[int] = (1, 5, 10, 20), ax: Any = None,
                     n_jobs: int = 0, max_prefix: int = 0) -> Any:
    """Recall@k against k, one line per model: ``models`` maps names to fitted recommenders
    (evaluated on ``test_sessions``) or to ``{k: recall}`` already computed
    (``comptoir.plots.recall_at_k``)."""
    from . import plots

    if not isinstance(models, dict):
        models = {type(models).__name__: models}
    results = {}
    for name, model in models.items():
        if isinstance(model, dict):
            results[name] = model
        else:
            if test_sessions is None:
                raise TypeError("plot_recall_at_k needs test_sessions to evaluate the models")
            results[name] = recall_at_k(model, test_sessions, ks, n_jobs=n_jobs, max_prefix=max_prefix)
    return plots.recall_at_k(results, ax=ax)


__all__: List[str] = [
    "SessionKNN", "Popularity", "FrequentlyBoughtTogether", "SequentialRules", "EmbeddingRecommender", "NeuralSessionRecommender", "Hybrid", "tune_hybrid_weights", "evaluate_next_item",
    "recall_at_k", "plot_recall_at_k",
]
