"""``comptoir.recommend.NeuralSessionRecommender``: the C++ neural session encoder
(``comptoir/recommend/neural_session.h``) behind the session recommenders' API."""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _core, _ids
from ._progress import make_progress
from .embed import SessionsLike, TrainingData, _event_log, _session_columns, dense_ids, training_sessions
from .exceptions import InvalidArgumentError
from .recommend import _log_kinds, _SessionRecommender, _set_user_histories

_log = logging.getLogger("comptoir")

_CONFIG = ("dim", "max_session_length", "scale", "num_negatives", "negative_exponent", "batch_size", "learning_rate",
           "learning_rate_decay", "epochs", "patience", "dropout", "refit", "profile_weight", "repeat_boost", "ivf_min_items")

_FLOATS = ("scale", "learning_rate", "learning_rate_decay", "negative_exponent", "dropout", "profile_weight", "repeat_boost")


class NeuralSessionRecommender(_SessionRecommender):
    """A neural session encoder trained in C++ (no deep-learning framework): the session's last
    ``max_session_length`` items, as normalised item vectors plus position vectors, are read out
    by a soft attention queried by the last item and combined with it; items score by their
    scaled cosine (``scale``) to the session vector. Trained on every prefix of every session
    with a sampled softmax over ``num_negatives`` shared popularity negatives (0: the full
    softmax), Adam at ``learning_rate`` (times ``learning_rate_decay`` after each epoch), ``batch_size`` prefixes per step, for at most ``epochs``
    epochs, stopping once validation MRR@20 has not improved for ``patience`` epochs (the best
    epoch is kept); ``dropout`` zeroes that share of the input item vectors' entries while
    training. Deterministic for a ``random_state`` whatever ``n_jobs`` is.

    Validation: ``fit(validation=...)`` sessions, else the last ``validation_fraction`` of the
    training sessions (in the order given: pass them in time order) are held out for it; 0
    trains on everything for ``epochs`` epochs. With ``refit`` (the default) the chosen number of
    epochs is then trained again, from the same start, on the training and validation sessions
    together (the held-out sessions are the latest: +2.7 points of HR@20 on DIGINETICA). ``history_`` has one row per epoch (loss,
    validation HR@20 and MRR@20, seconds). Known users (``users=`` in ``fit``) get a long-term
    profile from their sessions: the items they had before compete with ``repeat_boost`` added to
    their logit (re-purchases and re-visits; "you bought it before"), and the network's vector of
    their history is blended into their queries with ``profile_weight``. Each other reason names
    the session item that weighed most in the item's score."""

    _model_kind = "neural_session"
    _param_names = _CONFIG + ("validation_fraction", "random_state", "n_jobs", "verbose")
    _config_class = _core.recommend.NeuralSessionConfig

    def __init__(self, dim: int = 96, max_session_length: int = 20, scale: float = 12.0, num_negatives: int = 2048,
                 negative_exponent: float = 0.75, batch_size: int = 512, learning_rate: float = 1e-3,
                 learning_rate_decay: float = 1.0, epochs: int = 10,
                 patience: int = 2, dropout: float = 0.0, refit: bool = True,
                 profile_weight: float = 0.0, repeat_boost: float = 2.0,
                 ivf_min_items: int = 1_000_000,
                 validation_fraction: float = 0.1, random_state: int = 42, n_jobs: int = 0, verbose: Any = False) -> None:
        self.dim = dim
        self.max_session_length = max_session_length
        self.scale = scale
        self.num_negatives = num_negatives
        self.negative_exponent = negative_exponent
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.epochs = epochs
        self.patience = patience
        self.dropout = dropout
        self.refit = refit
        self.profile_weight = profile_weight
        self.repeat_boost = repeat_boost
        self.ivf_min_items = ivf_min_items
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def _config_names(self) -> Tuple[str, ...]:
        return _CONFIG

    def _config(self) -> Any:
        for name in _CONFIG:
            value = getattr(self, name)
            if name == "refit":
                if not isinstance(value, (bool, np.bool_)):
                    raise InvalidArgumentError(f"refit must be True or False, got {value!r}")
                continue
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise InvalidArgumentError(f"{name} must be a number, got {value!r}")
            if name in _FLOATS and not np.isfinite(value):
                raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}")
            if name not in _FLOATS and value != int(value):
                raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
        return super()._config()

    def fit(self, sessions: SessionsLike, users: Optional[Sequence[Any]] = None, num_items: Optional[int] = None,
            item_ids: Any = None, event_kind: Optional[str] = None, validation: Any = None) -> "NeuralSessionRecommender":
        """Train on ``sessions`` (an ``EventLog``, a DataFrame with ``session_id``/``item_id``,
        ``(offsets, items)`` or item sequences, in the shop's ids: the rule of ``SessionKNN.fit``).
        ``validation``: held-out sessions in the same ids (items training never saw are left
        out); without it the last ``validation_fraction`` of ``sessions`` is held out."""
        config = self._config()
        fraction = self.validation_fraction
        if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
            raise InvalidArgumentError(f"validation_fraction must be in [0, 1), got {fraction!r}")
        data = training_sessions(sessions, num_items, users=users, item_ids=item_ids)
        train, held_out = (data.offsets, data.items), None
        if validation is not None:
            held_out = self._validation_csr(validation, data)
        elif fraction > 0:
            train, held_out = _split_tail(train, fraction)
        empty = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32))
        held_out = held_out or empty
        self.model_ = _core.recommend.NeuralSession.fit(
            train[0], train[1], held_out[0], held_out[1], int(data.num_items), config,
            seed=int(self.random_state), num_threads=int(self.n_jobs), on_progress=make_progress(self.verbose))
        _set_user_histories(self.model_, data)
        self._fit_ids(data)
        self._set_training_events(_log_kinds(_event_log(sessions), event_kind))
        return self

    @property
    def history_(self) -> Any:
        """One row per training epoch: loss, validation HR@20 / MRR@20 (None without
        validation), training seconds, learning rate, whether it was rerun after diverging, and
        whether it belongs to the final refit on training + validation sessions."""
        import pandas as pd

        return pd.DataFrame(self._fitted().history).set_index("epoch")

    @property
    def item_vectors(self) -> np.ndarray:
        """Normalised item vectors (``num_items x dim``, rows in ``item_ids_`` order; zero for
        items never seen in training)."""
        return self._fitted().item_vectors

    def encode_session(self, items: Sequence[Any]) -> np.ndarray:
        """The session vector (unit length; zero when no item is known) of a session in the
        shop's ids."""
        dense = self._dense_items(items, self._fitted().num_items)
        return self._fitted().encode_session(np.ascontiguousarray(dense[dense >= 0], dtype=np.int32))

    def set_profile_weight(self, weight: float) -> "NeuralSessionRecommender":
        """Change how much known users' profile vectors weigh in their queries (0..1) without
        retraining: a serving choice, safe while other threads recommend, kept by ``save``."""
        return self._set_serving("profile_weight", weight)

    def set_repeat_boost(self, boost: float) -> "NeuralSessionRecommender":
        """Change the logit bonus of known users' earlier items (>= 0) without retraining."""
        return self._set_serving("repeat_boost", boost)

    def _set_serving(self, name: str, value: float) -> "NeuralSessionRecommender":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InvalidArgumentError(f"{name} must be a number, got {value!r}")
        setattr(self._fitted(), name, float(value))
        setattr(self, name, float(value))
        return self

    def forget(self, user: Any) -> bool:
        """Erase ``user``'s long-term profile (the shop's customer id); returns whether there was one."""
        dense = self._dense_user(user)
        return self._fitted().forget(dense) > 0 if dense >= 0 else False

    def _validation_csr(self, validation: Any, data: TrainingData) -> Tuple[np.ndarray, np.ndarray]:
        if _event_log(validation) is not None:
            raise InvalidArgumentError("validation takes sessions as (offsets, items), item sequences or a DataFrame, "
                                       "in the training sessions' ids; an EventLog has its own id maps")
        offsets, values = _session_columns(validation)
        if data.item_ids is None:
            dense = dense_ids(values).astype(np.int64)
        else:
            import pandas as pd

            dense = pd.Index(data.item_ids).get_indexer(_ids.shop_ids(values, "item")[0])
        known = (dense >= 0) & (dense < data.num_items)
        if not known.all():
            _log.info("validation: %d of %d events name items training never saw; left out", int((~known).sum()), len(dense))
        per_session = np.add.reduceat(known.astype(np.int64), offsets[:-1]) if len(dense) else np.zeros(len(offsets) - 1, np.int64)
        per_session[np.diff(offsets) == 0] = 0
        return np.r_[0, np.cumsum(per_session)].astype(np.int64), np.ascontiguousarray(dense[known], dtype=np.int32)


def _split_tail(sessions: Tuple[np.ndarray, np.ndarray], fraction: float) -> Tuple[Tuple[np.ndarray, np.ndarray], ...]:
    """The first sessions for training, the last ``fraction`` of them for validation."""
    offsets, items = sessions
    cut = int(round((len(offsets) - 1) * (1 - fraction)))
    head = (np.ascontiguousarray(offsets[: cut + 1]), np.ascontiguousarray(items[: offsets[cut]]))
    tail = (np.ascontiguousarray(offsets[cut:] - offsets[cut]), np.ascontiguousarray(items[offsets[cut]:]))
    return head, tail
