"""What ``comptoir.dask`` and ``comptoir.spark`` share: the work done on one partition (a pandas
frame), the errors that name partitions, the model cache and atomic output (the offer plan's
global reduction is in ``_plan_reduction``). The engine modules only move partitions and small
results around; nothing here imports Dask or Spark.

Models travel as their model-file bytes and are loaded once per worker process: ``cached_model``
keeps them by the SHA-256 of the bytes, so later partitions (and later jobs with the same model)
on the same process reuse the loaded estimator.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .exceptions import ComptoirError

# ---- errors that name their partition ------------------------------------------------------------


class PartitionError(ComptoirError, ValueError):
    """A partition could not be processed; ``partition`` is its number (in the input's order) and
    ``problem`` what went wrong. Raised on the client, whichever worker met it."""

    def __init__(self, partition: Optional[int], problem: str, kind: str = "ComptoirError"):
        where = "the input" if partition is None else f"partition {partition}"
        super().__init__(f"{where}: {problem}")
        self.partition = partition
        self.problem = problem
        self.kind = kind  # the class of the underlying error (ModelFormatError, ValueError, ...)

    def __reduce__(self) -> Any:
        return (type(self), (self.partition, self.problem, self.kind))


class ModelLoadError(PartitionError):
    """A worker could not load the model file it was sent."""


class MissingColumnsError(PartitionError):
    """A partition lacks columns the model or the operation needs."""


class MixedIdTypesError(PartitionError):
    """Customer ids are integers in some partitions and text in others (or mixed within one)."""


class NotCoPartitionedError(PartitionError):
    """The same customer's events are in more than one partition."""


class InfeasibleBudgetError(PartitionError):
    """A budget no plan can meet (negative, infinite or not a number)."""


_ERRORS = {cls.__name__: cls for cls in (PartitionError, ModelLoadError, MissingColumnsError, MixedIdTypesError,
                                         NotCoPartitionedError, InfeasibleBudgetError)}
_MARKER = re.compile(r"<<comptoir-partition-error (\{.*?\})>>")


def _marked(error: PartitionError) -> str:
    """The error as a marker that survives engines which pass worker errors on as text (Spark)."""
    return "<<comptoir-partition-error " + json.dumps(
        {"class": type(error).__name__, "partition": error.partition, "problem": error.problem, "kind": error.kind}) + ">>"


class _WorkerError(RuntimeError):
    """What a worker raises: the PartitionError, and its marker in the message for text transports."""

    def __init__(self, error: PartitionError):
        super().__init__(_marked(error))
        self.error = error

    def __reduce__(self) -> Any:
        return (_WorkerError, (self.error,))


def client_error(error: BaseException) -> Optional[PartitionError]:
    """The PartitionError behind an engine's exception (itself, or the marker in its text)."""
    if isinstance(error, PartitionError):
        return error
    if isinstance(error, _WorkerError):
        return error.error
    found = _MARKER.search(str(error))
    if found is None:
        return None
    record = json.loads(found.group(1))
    return _ERRORS.get(record["class"], PartitionError)(record["partition"], record["problem"], record["kind"])


@contextmanager
def raised_on_client() -> Iterator[None]:
    """Re-raise a worker's PartitionError (however the engine wrapped it) as itself."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - engines wrap worker errors in their own classes
        found = client_error(error)
        if found is None:
            raise
        raise found from None


@contextmanager
def on_partition(partition: int, what: str, as_text: bool = False) -> Iterator[None]:
    """Run a partition's work, turning any error into a PartitionError naming the partition.
    Engines that pass worker errors on as text (``as_text``: Spark) get it wrapped in a marker
    ``raised_on_client`` reads back; the others (Dask) carry the error itself."""
    try:
        yield
    except _WorkerError:
        raise
    except Exception as error:  # noqa: BLE001 - every failure must reach the client named
        if isinstance(error, PartitionError):
            named = type(error)(partition, error.problem, error.kind)
        else:
            named = PartitionError(partition, f"{what}: {error}", type(error).__name__)
        if as_text:
            raise _WorkerError(named) from None
        raise named from None


# ---- models, loaded once per worker process --------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What the client needs to know of a model to describe the output before any worker runs."""

    digest: str
    family: str                 # "classifier", "regressor", "uplift" or "recommender"
    features: Tuple[str, ...]   # the model's feature columns (scorers and uplift models)
    offers: Tuple[str, ...]     # the offers' names (uplift models)


_MODELS: Dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()
LOADS: Dict[str, int] = {}  # digest -> how many times this process loaded it (tests read it)


def model_bytes(model: Any) -> bytes:
    """A model file's bytes from a path, bytes or a fitted estimator."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if hasattr(model, "to_bytes"):
        return model.to_bytes()
    from .io import read_model_bytes

    return read_model_bytes(model)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load(data: bytes) -> Any:
    from ._base import estimator_class, read_record
    from .exceptions import ModelFormatError

    record = read_record(data)
    if record is None:
        raise ModelFormatError("the model file carries no estimator record (written by C++ or an older comptoir): "
                               "resave it with its estimator class")
    return estimator_class(record["class"]).from_bytes(data)


def cached_model(digest: str, data: bytes) -> Any:
    """The estimator in ``data``, loaded at most once per process (keyed by its SHA-256)."""
    model = _MODELS.get(digest)
    if model is not None:
        return model
    with _MODELS_LOCK:
        model = _MODELS.get(digest)
        if model is None:
            try:
                model = _load(data)
            except Exception as error:  # noqa: BLE001
                raise ModelLoadError(None, f"the model could not be loaded on this worker (pid {os.getpid()}): {error}",
                                     type(error).__name__) from None
            _MODELS[digest] = model
            LOADS[digest] = LOADS.get(digest, 0) + 1
    return model


def model_info(data: bytes) -> ModelInfo:
    """Checks the model on the client (a bad file fails here, before any partition runs)."""
    digest = digest_of(data)
    model = cached_model(digest, data)
    offers = tuple(getattr(model, "offer_names_", None) or ())
    if offers:
        family = "uplift"
    elif hasattr(model, "recommend_session"):
        family = "recommender"
    elif hasattr(model, "predict_proba"):
        family = "classifier"
    elif hasattr(model, "predict"):
        family = "regressor"
    else:
        raise ComptoirError(f"{type(model).__name__} neither scores, predicts effects nor recommends")
    features: Tuple[str, ...] = ()
    if family != "recommender":
        features = tuple(str(n) for n in model.model_.feature_names)
    return ModelInfo(digest, family, features, tuple(str(o) for o in offers))


# ---- scoring ---------------------------------------------------------------------------------


def score_columns(info: ModelInfo, reasons: Any) -> List[Tuple[str, str]]:
    """The output's score columns as (name, "float" | "text"), in order. ``reasons``: how many
    top contributions to name per row (per offer for uplift models), or ``"main"`` for an uplift
    model's ``main_reasons`` (what offer plans quote), one column ``<offer>_main_reason`` each."""
    if info.family == "recommender":
        raise PartitionError(None, "the model is a recommender: recommend() takes it, score() takes scorers and "
                             "uplift models")
    if reasons == "main" and info.family != "uplift":
        raise PartitionError(None, 'reasons="main" is for uplift models; a scorer takes a number of reasons')
    if info.family == "uplift":
        columns = [(offer, "float") for offer in info.offers]
        if reasons == "main":
            return columns + [(f"{offer}_main_reason", "text") for offer in info.offers]
        columns += [(f"{offer}_reason_{r}", "text") for offer in info.offers for r in range(1, int(reasons) + 1)]
        return columns
    name = "probability" if info.family == "classifier" else "prediction"
    return [(name, "float")] + [(f"reason_{r}", "text") for r in range(1, int(reasons) + 1)]


def top_reasons(contributions: np.ndarray, names: Sequence[str], k: int) -> List[List[str]]:
    """The ``k`` largest contributions per row (by magnitude) as "feature=+0.123", as
    ``comptoir score --explain`` writes them; one list per rank."""
    top = np.argsort(-np.abs(contributions), axis=1)[:, :k]  # as the CLI ranks them, ties included
    rows = np.arange(len(contributions))
    return [[f"{names[c]}={v:+.3f}" for c, v in zip(top[:, r], contributions[rows, top[:, r]])] for r in range(top.shape[1])]


def check_columns(frame: Any, needed: Sequence[str], what: str) -> None:
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise MissingColumnsError(None, f"lacks the {what} columns {missing} (it has {list(frame.columns)})")


def score_frame(frame: Any, info: ModelInfo, data: bytes, reasons: Any = 0, keep: Sequence[str] = ()) -> Any:
    """Scores of one pandas frame: ``keep`` columns, then ``score_columns``; the frame's index."""
    import pandas as pd

    check_columns(frame, list(info.features) + [k for k in keep if k not in info.features], "model's feature")
    model = cached_model(info.digest, data)
    X = frame[list(info.features)]
    out = pd.DataFrame({name: frame[name].to_numpy() for name in keep}, index=frame.index)
    if info.family == "uplift":
        effect = np.asarray(model.predict(X)) if len(X) else np.zeros((0, len(info.offers)))
        for j, offer in enumerate(info.offers):
            out[offer] = effect[:, j].astype(np.float64)
        if reasons == "main":
            main = np.asarray(model.main_reasons(X), dtype=object) if len(X) else np.zeros((0, len(info.offers)), object)
            for j, offer in enumerate(info.offers):
                out[f"{offer}_main_reason"] = main[:, j]
            return out
        for offer in info.offers:
            if not reasons:
                break
            contributions = (model.explain(X, offer).drop(columns="base_value").to_numpy() if len(X)
                             else np.zeros((0, len(info.features))))
            ranked = top_reasons(contributions, info.features, int(reasons))
            for r in range(int(reasons)):
                out[f"{offer}_reason_{r + 1}"] = ranked[r] if r < len(ranked) and len(X) else np.array([], dtype=object)
        return out
    if info.family == "classifier":
        out["probability"] = model.predict_proba(X)[:, 1].astype(np.float64) if len(X) else np.zeros(0)
    else:
        out["prediction"] = np.asarray(model.predict(X), dtype=np.float64) if len(X) else np.zeros(0)
    if reasons:
        contributions = model.explain(X).drop(columns="base_value").to_numpy() if len(X) else np.zeros((0, len(info.features)))
        ranked = top_reasons(contributions, info.features, reasons)
        for r in range(reasons):
            out[f"reason_{r + 1}"] = ranked[r] if r < len(ranked) and len(X) else np.array([], dtype=object)
    return out


# ---- recommendations -------------------------------------------------------------------------

RECOMMEND_COLUMNS = (("rank", "int"), ("item", "id"), ("score", "float"))


def recommend_options(info: Any, columns: Sequence[str], N: int, session: str, item: str, timestamp: Optional[str],
                      kind: Optional[str], user: Optional[str], reasons: bool, filter_session_items: bool) -> Dict[str, Any]:
    """What both engines' ``recommend`` send to each partition, once the model is known to be a
    recommender (a table without the ``timestamp`` column keeps its sessions' row order)."""
    if info.family != "recommender":
        raise PartitionError(None, f"the model is a {info.family}, not a recommender")
    if timestamp is not None and timestamp not in columns:
        timestamp = None
    return dict(N=int(N), session=session, item=item, timestamp=timestamp, kind=kind, user=user, reasons=bool(reasons),
                filter_session_items=bool(filter_session_items))
REASON_COLUMNS = (("reason_kind", "text"), ("anchor_item", "id"), ("support", "float"), ("category", "float"),
                  ("reason", "text"))


def recommend_frame(events: Any, info: ModelInfo, data: bytes, N: int, session: str, item: str,
                    timestamp: Optional[str], kind: Optional[str], user: Optional[str], reasons: bool,
                    filter_session_items: bool) -> Any:
    """One row per (session, rank): the model's ``recommend_session`` for each session of the
    frame, its events in time order (stable: rows with the same time keep theirs)."""
    import pandas as pd

    needed = [session, item] + [c for c in (timestamp, kind, user) if c is not None]
    check_columns(events, needed, "session")
    model = cached_model(info.digest, data)
    if timestamp is not None:
        from .features import to_unix_seconds

        order = np.lexsort((to_unix_seconds(events[timestamp].to_numpy()), _codes(events[session])))
    else:
        order = np.argsort(_codes(events[session]), kind="stable")
    frame = events.iloc[order]
    parts = []
    for sid, group in frame.groupby(session, sort=False):
        ask = dict(N=N, kinds=None if kind is None else group[kind].tolist(), filter_session_items=filter_session_items,
                   user=None if user is None else group[user].iloc[-1])
        if reasons:
            table = model.recommend_session(group[item].tolist(), return_reasons="frame", **ask)
        else:
            ids, scores = model.recommend_session(group[item].tolist(), **ask)
            table = pd.DataFrame({"item": ids, "score": scores})
        table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
        table.insert(0, session, [sid] * len(table))
        parts.append(table)
    columns = [session] + [name for name, _ in RECOMMEND_COLUMNS] + ([name for name, _ in REASON_COLUMNS] if reasons else [])
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=events[session].dtype if c == session else object) for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def _codes(column: Any) -> np.ndarray:
    """Sortable codes of a column of ids (any type), equal ids equal codes."""
    import pandas as pd

    return pd.factorize(column, sort=False)[0]


# ---- customer ids ----------------------------------------------------------------------------


def id_kind(values: Any) -> str:
    """ "int", "str", "empty" or "mixed" for a column of customer ids (guests: None/NaN/""/negative)."""
    array = np.asarray(values)
    if array.size == 0:
        return "empty"
    if array.dtype.kind in "iu":
        return "int"
    if array.dtype.kind == "f":
        present = array[~np.isnan(array)]
        return "int" if np.all(present == np.round(present)) else "mixed"
    if array.dtype.kind in "US":
        return "str"
    kinds = {("int" if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else
              "str" if isinstance(v, str) else "none" if v is None or (isinstance(v, float) and np.isnan(v)) else "other")
             for v in array.tolist()}
    kinds.discard("none")
    if not kinds:
        return "empty"
    return kinds.pop() if len(kinds) == 1 and kinds <= {"int", "str"} else "mixed"


def check_id_kinds(kinds: Dict[int, str], what: str = "customer ids") -> None:
    """One id type across all partitions (``kinds``: partition -> ``id_kind``), or
    MixedIdTypesError naming the partitions of each type."""
    mixed = sorted(p for p, k in kinds.items() if k == "mixed")
    if mixed:
        raise MixedIdTypesError(mixed[0], f"its {what} mix integers and text" +
                                (f" (so do partitions {mixed[1:6]})" if len(mixed) > 1 else ""))
    ints = sorted(p for p, k in kinds.items() if k == "int")
    texts = sorted(p for p, k in kinds.items() if k == "str")
    if ints and texts:
        first = max(ints[0], texts[0])
        raise MixedIdTypesError(first, f"its {what} are {'integers' if kinds[first] == 'int' else 'text'}, but they are "
                                f"integers in partitions {ints[:5]} and text in partitions {texts[:5]}: cast them to "
                                "one type")


def raise_if_shared(shared: Sequence[Tuple[Any, Sequence[int]]], column: str) -> None:
    """NotCoPartitionedError naming the customers found in more than one partition."""
    if not len(shared):
        return
    customer, partitions = shared[0]
    others = ", ".join(repr(c) for c, _ in shared[1:5])
    raise NotCoPartitionedError(
        int(min(partitions)),
        f"customer {customer!r} has events in partitions {sorted(int(p) for p in partitions)}"
        + (f" (as do {others}{', ...' if len(shared) > 5 else ''})" if others else "")
        + f": partition the events by '{column}' first (every customer's events in one partition)")


def partition_keys(frame: Any, column: str, partition: int) -> Any:
    """The distinct ids of ``column`` in one partition (guests left out: missing, "" or
    negative), beside the partition's number: what the co-partitioning check groups."""
    import pandas as pd

    check_columns(frame, [column], "id")
    values = frame[column][frame[column].notna()]
    if values.dtype.kind in "iuf":
        values = values[values >= 0]
    elif len(values):
        values = values[values.astype(str) != ""]
    values = values.drop_duplicates()
    return pd.DataFrame({"key": values.to_numpy(), "partition": np.full(len(values), partition, dtype=np.int64)})


def features_frame(events: Any, snapshot: Any, user: str, options: Dict[str, Any]) -> Any:
    from .features import behaviour_features

    check_columns(events, ["session", user, "item", "timestamp", "kind"], "event")
    return behaviour_features(_renamed(events, user), snapshot, as_frame=True, **options)


def labels_frame(events: Any, snapshot: Any, horizon_days: int, user: str) -> Any:
    import pandas as pd

    from .features import purchase_labels

    check_columns(events, ["session", user, "item", "timestamp", "kind"], "event")
    purchased, spend = purchase_labels(_renamed(events, user), snapshot, horizon_days, as_frame=True)
    return pd.concat([purchased, spend], axis=1)


def _renamed(events: Any, user: str) -> Any:
    return events if user == "user" else events.rename(columns={user: "user"})


def example_events(meta: Any, snapshot: Any, user: str) -> Any:
    """A one-customer event table shaped as ``meta`` with one purchase before ``snapshot``: what a
    partition's features look like (their columns and types) without touching the data."""
    import pandas as pd

    from .features import to_unix_seconds

    seconds = int(to_unix_seconds(snapshot)) - 86400
    row = {}
    for name, dtype in meta.dtypes.items():
        if name == "timestamp":
            row[name] = pd.Series([seconds]).astype(dtype) if dtype.kind in "iu" else \
                pd.Series([pd.Timestamp(seconds, unit="s")]).astype(dtype) if dtype.kind == "M" else \
                pd.Series([pd.Timestamp(seconds, unit="s").isoformat()], dtype=dtype)
        elif name == "kind":
            row[name] = pd.Series([2 if dtype.kind in "iuf" else "purchase"], dtype=dtype)
        elif name == user:
            row[name] = pd.Series([1 if dtype.kind in "iuf" else "c"], dtype=dtype)
        elif dtype.kind in "iuf":
            row[name] = pd.Series([1], dtype=dtype)
        else:
            row[name] = pd.Series(["1"], dtype=dtype)
    return pd.DataFrame(row)


# ---- atomic output ---------------------------------------------------------------------------


@contextmanager
def atomic_directory(path: str) -> Iterator[str]:
    """A temporary directory beside ``path`` that becomes ``path`` only once everything in it is
    written: a failed job leaves no output that looks complete."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        from .exceptions import ComptoirOSError

        raise ComptoirOSError(f"{path} exists: choose a new output directory (nothing is overwritten)")
    staging = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        yield staging
        os.rename(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
