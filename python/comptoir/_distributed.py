"""What ``comptoir.dask`` and ``comptoir.spark`` share: the work done on one partition (a pandas
frame) and the global reduction of the offer plan. The engine modules only move partitions and
small results around; nothing here imports Dask or Spark.

Models travel as their model-file bytes and are loaded once per worker process: ``cached_model``
keeps them by the SHA-256 of the bytes, so later partitions (and later jobs with the same model)
on the same process reuse the loaded estimator.

The offer plan reproduces ``comptoir.promo.plan_offers(value=..., cost=...).at(budget)`` on the
gathered rows (partitions in order, rows in order within each): the single-machine plan walks all
customers' convex-hull segments sorted by value per unit spent (ties by customer position, then
by cost), taking each that still fits. Each partition computes its own segments with the same C++
code; the order of a segment is the key (-slope, partition, row, cost), which is the
single-machine order because (partition, row) orders rows as the gathered table does. The walk
takes every segment before the first that no longer fits (the *critical* segment, the budget's
price); that prefix is found from per-partition summaries in three small rounds, without moving
segments. After it only segments cheaper than the budget left over can still fit: those are
gathered and walked on the client as the single machine walks them. Each partition then assigns
its own customers.
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
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

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
            table = table.rename(columns={c: c for c in table.columns})
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
        raise FileExistsError(f"{path} exists: choose a new output directory")
    staging = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        yield staging
        os.rename(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---- the offer plan ----------------------------------------------------------------------------


@dataclass
class OfferSpec:
    """The offers' columns and costs, as every partition reads them."""

    offers: List[str]
    cost: Any = None                          # number, per-offer list, or {offer: number or column}
    cost_columns: Dict[str, str] = field(default_factory=dict)
    n_jobs: int = 1
    reasons: Dict[str, str] = field(default_factory=dict)  # offer -> column of the reason a plan quotes

    @staticmethod
    def of(columns: Sequence[str], offers: Optional[Sequence[str]], cost: Any, id_column: Optional[str],
           reasons: Optional[Dict[str, str]] = None) -> "OfferSpec":
        spec = OfferSpec._of(columns, offers, cost, id_column)
        if reasons is not None:
            if sorted(map(str, reasons)) != sorted(spec.offers):
                raise PartitionError(None, f"reasons must name a column for each of {spec.offers}, got {sorted(reasons)}")
            spec.reasons = {str(k): str(v) for k, v in reasons.items()}
        return spec

    @staticmethod
    def _of(columns: Sequence[str], offers: Optional[Sequence[str]], cost: Any, id_column: Optional[str]) -> "OfferSpec":
        names = [str(c) for c in (offers if offers is not None else [c for c in columns if c != id_column])]
        if not names:
            raise PartitionError(None, "value has no offer columns")
        if isinstance(cost, dict) or (hasattr(cost, "to_dict") and not hasattr(cost, "columns")):
            given = {str(k): v for k, v in dict(cost).items()}
            unknown = sorted(set(given) - set(names))
            if unknown or len(given) != len(names):
                raise PartitionError(None, f"cost by offer name must give each of {names} one cost, got {sorted(given)}")
            columns_ = {k: v for k, v in given.items() if isinstance(v, str)}
            return OfferSpec(names, [0.0 if isinstance(given[n], str) else float(given[n]) for n in names], columns_)
        if hasattr(cost, "columns") or cost is None:
            raise PartitionError(None, "cost must be a number, one number per offer, or {offer: number or column name}")
        return OfferSpec(names, cost)

    def matrices(self, frame: Any) -> Tuple[np.ndarray, np.ndarray]:
        check_columns(frame, self.offers + sorted(set(self.cost_columns.values())), "offer value and cost")
        value = frame[self.offers].to_numpy(dtype=np.float64)
        cost = np.array(np.broadcast_to(np.asarray(self.cost, dtype=np.float64), value.shape))
        for j, name in enumerate(self.offers):
            if name in self.cost_columns:
                cost[:, j] = frame[self.cost_columns[name]].to_numpy(dtype=np.float64)
        return value, cost

    def offers_of(self, frame: Any, ids: Any) -> Any:
        """The partition's checked offers, as ``comptoir.promo`` reads them."""
        import pandas as pd

        from .promo import _offers_of

        value, cost = self.matrices(frame)
        reasons = None
        if self.reasons:
            check_columns(frame, [self.reasons[o] for o in self.offers], "reason")
            reasons = frame[[self.reasons[o] for o in self.offers]].to_numpy(dtype=object)
        return _offers_of(pd.DataFrame(value, columns=self.offers, index=ids), cost, reasons)


# A segment's key in the single machine's order, as a tuple (-slope, partition, row, cost):
# smaller is earlier. Arrays hold the same four fields per segment.

Key = Tuple[float, int, int, float]
NO_KEY: Key = (np.inf, 0, 0, 0.0)  # after every segment


@dataclass
class Segments:
    """One partition's hull segments in its own order (the single machine's order restricted to it)."""

    partition: int
    rows: int
    slope: np.ndarray
    cost: np.ndarray
    value: np.ndarray
    row: np.ndarray
    from_offer: np.ndarray
    to_offer: np.ndarray
    id_kind: str

    def before(self, key: Key) -> int:
        """How many of the segments come before ``key`` (they are a prefix)."""
        neg, p, r, c = key
        ns = -self.slope
        earlier = (ns < neg) | ((ns == neg) & ((self.partition < p) | ((self.partition == p) & (
            (self.row < r) | ((self.row == r) & (self.cost < c))))))
        return int(np.count_nonzero(earlier))

    def key(self, i: int) -> Key:
        return (float(-self.slope[i]), self.partition, int(self.row[i]), float(self.cost[i]))


def partition_segments(frame: Any, partition: int, spec: OfferSpec, ids: Any) -> Segments:
    """The partition's segments, from the same C++ hull code the single machine runs."""
    from . import _core

    offers = spec.offers_of(frame, ids)
    value, cost = offers.value, offers.cost
    path = _core.promo.solve_budget_path(value, cost, int(spec.n_jobs))
    row = np.asarray(path.customer, dtype=np.int64)
    to = np.asarray(path.to_offer, dtype=np.int64)
    frm = np.asarray(path.from_offer, dtype=np.int64)
    # The C++ hull's own arithmetic, so that slopes and their ties are bit for bit the same.
    dc = cost[row, to] - np.where(frm >= 0, cost[row, np.maximum(frm, 0)], 0.0)
    dv = value[row, to] - np.where(frm >= 0, value[row, np.maximum(frm, 0)], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(dc > 0, dv / np.where(dc > 0, dc, 1.0), np.inf)
    return Segments(partition, len(value), slope, dc, dv, row, frm.astype(np.int32), to.astype(np.int32), id_kind(ids))


# Rounds: each is a function of one partition's Segments returning a small result. An engine runs
# one with ``each(function, *args) -> [result per partition]``.

_SAMPLES = 64


def round_summary(s: Segments, min_value_per_spend: float) -> Dict[str, Any]:
    """The first segment the single machine would stop at (value per spend below the floor),
    evenly spaced slopes to bracket the price with, and the partition's id type."""
    stop = np.flatnonzero((s.cost > 0) & (s.value < min_value_per_spend * s.cost))
    step = max(1, -(-len(s.slope) // _SAMPLES))
    return {"partition": s.partition, "stop": s.key(int(stop[0])) if len(stop) else NO_KEY,
            "samples": s.slope[::step].copy(), "id_kind": s.id_kind, "rows": s.rows, "segments": len(s.slope)}


def round_spend_above(s: Segments, thresholds: np.ndarray, limits: Sequence[Key]) -> np.ndarray:
    """Per query (limit) and threshold t: the cost of the partition's segments before the limit
    with slope > t (thresholds sorted increasing)."""
    out = np.zeros((len(limits), len(thresholds)))
    for q, limit in enumerate(limits):
        n = s.before(limit)
        slope = s.slope[:n]  # decreasing
        cumulative = np.r_[0.0, np.cumsum(s.cost[:n])]
        above = np.searchsorted(-slope, -thresholds, side="left")  # how many have slope > t
        out[q] = cumulative[above]
    return out


def round_bracket(s: Segments, brackets: Sequence[Tuple[float, float]], limits: Sequence[Key]) -> List[Dict[str, Any]]:
    """Per query: the cost and value of the partition's segments above the bracket, and the
    segments inside it (low < slope <= high), with their keys."""
    result = []
    for (low, high), limit in zip(brackets, limits):
        n = s.before(limit)
        slope = s.slope[:n]
        above = int(np.count_nonzero(slope > high))
        inside = np.arange(above, above + int(np.count_nonzero((slope > low) & (slope <= high))))
        result.append({"cost": float(np.sum(s.cost[:above])), "value": float(np.sum(s.value[:above])),
                       "slope": slope[inside], "partition": np.full(len(inside), s.partition),
                       "row": s.row[inside], "seg_cost": s.cost[inside], "seg_value": s.value[inside]})
    return result


def round_tail(s: Segments, critical: Key, limit: Key, room: float) -> Dict[str, Any]:
    """The segments after the critical one (and before the limit) that could still fit: each
    customer's leading run of segments no dearer than ``room``, the critical customer excluded."""
    start, end = s.before(critical), s.before(limit)
    if critical[1] == s.partition and start < end and s.key(start) == critical:
        blocked = int(s.row[start])
    else:
        blocked = -1
    index = np.arange(start, end)
    rows = s.row[index]
    fits = s.cost[index] <= room
    # A customer's later segments build on its earlier ones: once one cannot fit, none after it can.
    order = np.lexsort((index, rows))
    misfit = (~fits[order]).astype(np.int64)
    group = np.cumsum(np.r_[True, rows[order][1:] != rows[order][:-1]]) - 1 if len(order) else np.zeros(0, np.int64)
    failures = np.cumsum(misfit)
    before_group = (failures - misfit)[np.r_[0, np.flatnonzero(np.diff(group)) + 1]] if len(order) else failures
    broken = np.zeros(len(index), dtype=bool)
    broken[order] = failures - before_group[group] > 0
    keep = index[~broken & (rows != blocked)]
    return {"slope": s.slope[keep], "partition": np.full(len(keep), s.partition), "row": s.row[keep],
            "seg_cost": s.cost[keep], "seg_value": s.value[keep], "from": s.from_offer[keep], "to": s.to_offer[keep]}


def _concat(parts: Sequence[Dict[str, Any]], names: Sequence[str]) -> Dict[str, np.ndarray]:
    return {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0) for name in names}


def _in_order(table: Dict[str, np.ndarray]) -> np.ndarray:
    return np.lexsort((table["seg_cost"], table["row"], table["partition"], -table["slope"]))


@dataclass
class PlanDecision:
    """The global reduction's result: every partition takes its segments before ``critical`` (and
    before ``limit``), then the ``tail`` ones listed for it."""

    critical: Key
    limit: Key
    tail: Dict[int, Tuple[np.ndarray, np.ndarray]]  # partition -> (rows, offers)
    totals: Dict[str, Any]


def _critical(each: Callable[..., List[Any]], summaries: List[Dict[str, Any]], queries: List[Tuple[float, Key]]
              ) -> List[Tuple[Key, float, float, float, float]]:
    """Per query (threshold B, limit): the first segment (before the limit) at which the
    cumulative cost passes B, with the cost and value before it and its own cost and value
    (NO_KEY and the totals when the cumulative cost never passes B)."""
    samples = np.unique(np.concatenate([s["samples"] for s in summaries] + [np.array([0.0, np.inf])]))
    if len(samples) > 4096:
        samples = np.unique(np.r_[samples[np.linspace(0, len(samples) - 1, 4096).astype(int)], 0.0, np.inf])
    limits = [limit for _, limit in queries]
    spend = np.sum(each(round_spend_above, samples, limits), axis=0)  # queries x thresholds
    brackets = []
    for q, (threshold, _) in enumerate(queries):
        fitting = np.flatnonzero(spend[q] <= threshold)  # spend falls as t grows: a suffix of thresholds
        high = samples[fitting[0]]
        low = samples[fitting[0] - 1] if fitting[0] > 0 else -np.inf
        brackets.append((float(low), float(high)))
    per_partition = each(round_bracket, brackets, limits)
    results = []
    for q, (threshold, _) in enumerate(queries):
        parts = [p[q] for p in per_partition]
        cost, value = sum(p["cost"] for p in parts), sum(p["value"] for p in parts)
        table = _concat(parts, ("slope", "partition", "row", "seg_cost", "seg_value"))
        found = None
        for i in _in_order(table):
            if cost + table["seg_cost"][i] > threshold:
                found = i
                break
            cost += table["seg_cost"][i]
            value += table["seg_value"][i]
        if found is None:
            results.append((NO_KEY, cost, value, 0.0, 0.0))
        else:
            key = (float(-table["slope"][found]), int(table["partition"][found]), int(table["row"][found]),
                   float(table["seg_cost"][found]))
            results.append((key, cost, value, float(table["seg_cost"][found]), float(table["seg_value"][found])))
    return results


def solve_plan(each: Callable[..., List[Any]], budget: float, min_value_per_spend: float) -> PlanDecision:
    """The single machine's ``AllocateAtBudget`` on the gathered segments, from small rounds."""
    budget = float(budget)
    if not np.isfinite(budget) or budget < 0:
        raise InfeasibleBudgetError(None, f"no plan can meet a budget of {budget}: it must be a finite number >= 0")
    if not min_value_per_spend >= 0:
        raise PartitionError(None, f"min_value_per_spend must be >= 0, got {min_value_per_spend}")
    summaries = each(round_summary, float(min_value_per_spend))
    check_id_kinds({s["partition"]: s["id_kind"] for s in summaries})
    limit = min(s["stop"] for s in summaries)
    allowed = budget * (1 + 1e-12)  # the single machine's tolerance on the budget
    (critical, spend, value, _, _), (lp_key, lp_cost, lp_value, lp_dc, lp_dv) = _critical(
        each, summaries, [(allowed, limit), (budget, NO_KEY)])
    tail: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    if critical != NO_KEY:
        parts = each(round_tail, critical, limit, allowed - spend)
        table = _concat(parts, ("slope", "partition", "row", "seg_cost", "seg_value", "from", "to"))
        state: Dict[Tuple[int, int], int] = {}
        blocked: set = set()
        taken: Dict[int, Dict[int, int]] = {}
        for i in _in_order(table):
            customer = (int(table["partition"][i]), int(table["row"][i]))
            if customer in blocked or state.get(customer, int(table["from"][i])) != int(table["from"][i]):
                continue
            if spend + table["seg_cost"][i] > allowed:
                blocked.add(customer)
                continue
            state[customer] = int(table["to"][i])
            taken.setdefault(customer[0], {})[customer[1]] = int(table["to"][i])
            spend += float(table["seg_cost"][i])
            value += float(table["seg_value"][i])
        tail = {p: (np.fromiter(t.keys(), dtype=np.int64), np.fromiter(t.values(), dtype=np.int32)) for p, t in taken.items()}
    lp_bound = lp_value if lp_key == NO_KEY else lp_value + (budget - lp_cost) / lp_dc * lp_dv
    totals = {"spend": spend, "value": value, "lp_bound": lp_bound, "profit": value - spend,
              "roi": (value - spend) / spend if spend > 0 else 0.0, "budget": budget}
    return PlanDecision(critical, limit, tail, totals)


def assign(s: Segments, decision: PlanDecision) -> np.ndarray:
    """The partition's offer per customer (-1 = none, else 0-based) under the decision."""
    offer = np.full(s.rows, -1, dtype=np.int64)
    n = s.before(min(decision.critical, decision.limit))
    offer[s.row[:n]] = s.to_offer[:n]  # a customer's segments are in order: its last one wins
    rows, offers = decision.tail.get(s.partition, (np.zeros(0, np.int64), np.zeros(0, np.int32)))
    offer[rows] = offers
    return offer


def plan_frame(frame: Any, partition: int, spec: OfferSpec, ids: Any, decision: PlanDecision,
               min_value_per_spend: float) -> Any:
    """One partition's rows of the plan table, as ``comptoir.promo`` writes them."""
    from .promo import _plan_table

    offers = spec.offers_of(frame, ids)
    segments = partition_segments(frame, partition, spec, ids)
    table = _plan_table(offers, assign(segments, decision), {}, float(min_value_per_spend))
    table.attrs.clear()
    # One text type in every partition (pandas infers none for a column of only missing offers).
    table["offer"] = table["offer"].astype(text_dtype())
    return table


def text_dtype() -> Any:
    """The dtype pandas gives a column of text (``str`` from pandas 3, ``object`` before)."""
    import pandas as pd

    return pd.Series(["text"]).dtype


PLAN_COLUMNS = (("customer", "id"), ("offer", "text"), ("offer_code", "int"), ("cost", "float"),
                ("expected_incremental_value", "float"), ("reason", "text"))
