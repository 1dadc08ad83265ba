"""comptoir on Spark: score, recommend, build features and plan offers on a Spark DataFrame, each
returning a Spark DataFrame (lazy, except the plan's global reduction, which runs when
``plan_offers`` is called). The operations and their guarantees are ``comptoir.dask``'s (see
its docstring); what differs:

- Spark has no index: customer ids are a column (``id_column``, default ``"customer"``), kept
  as the first output column; ``keep`` names other columns to copy;
- partitions arrive in Arrow batches (``mapInPandas``); scoring works batch by batch, while
  recommendations, features and the plan gather each partition first (a session's or a
  customer's rows must be in one partition: ``df.repartition("user")`` puts them there);
- model bytes travel as one broadcast variable, loaded once per Python worker process (Spark
  reuses its Python workers, ``spark.python.worker.reuse``, the default);
- a worker's error reaches the driver as text; it is raised again as the ``PartitionError`` it
  was. Spark's typed columns rule out mixed id types within a column.
"""

from __future__ import annotations

import pickle
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from . import _distributed as _d
from . import _plan_reduction as _p
from ._distributed import (InfeasibleBudgetError, MissingColumnsError, MixedIdTypesError, ModelLoadError,
                           NotCoPartitionedError, PartitionError)

try:
    from pyspark.sql import DataFrame, SparkSession, types as T
except ImportError as error:  # pragma: no cover - the optional dependency
    raise ImportError("comptoir.spark needs PySpark: pip install 'comptoir[spark]'") from error


def _partition() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return int(context.partitionId()) if context is not None else 0


def _gathered(batches: Iterator[Any], schema: Any) -> Any:
    """A partition's batches as one pandas frame (an empty one, with its columns, when none)."""
    import pandas as pd

    frames = list(batches)
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({field.name: pd.Series([], dtype=object) for field in schema.fields})


def _plain(frame: Any) -> Any:
    """Text columns as Python objects: Arrow-backed pandas strings may arrive in chunks, which
    Spark's Arrow writer does not take."""
    text = [name for name, dtype in frame.dtypes.items() if dtype.kind not in "biufcmM"]
    return frame.astype({name: object for name in text}) if text else frame


_TYPES = {"float": T.DoubleType(), "int": T.LongType(), "text": T.StringType()}


def _schema(columns: Sequence[Tuple[str, str]], ids: Dict[str, Any]) -> Any:
    return T.StructType([T.StructField(name, ids[name] if kind == "id" else _TYPES[kind], True) for name, kind in columns])


def _from_pandas_dtypes(frame: Any) -> Any:
    """A Spark schema for a pandas frame's columns."""
    fields = []
    for name, dtype in frame.dtypes.items():
        kind = dtype.kind
        spark = (T.DoubleType() if kind == "f" else T.LongType() if kind in "iu" else T.BooleanType() if kind == "b"
                 else T.StringType())
        fields.append(T.StructField(str(name), spark, True))
    return T.StructType(fields)


def _session(frame: DataFrame) -> SparkSession:
    return frame.sparkSession


def _model(frame: DataFrame, model: Any) -> Tuple[_d.ModelInfo, Any]:
    data = _d.model_bytes(model)
    return _d.model_info(data), _session(frame).sparkContext.broadcast(data)


def _collect(frame: DataFrame) -> List[Any]:
    with _d.raised_on_client():
        return frame.collect()


# ---- scoring ---------------------------------------------------------------------------------


def score(X: DataFrame, model: Any, reasons: Any = 0, id_column: Optional[str] = "customer",
          keep: Sequence[str] = ()) -> DataFrame:
    """Scores of every row of ``X`` (holding the model's feature columns) with a saved scorer or
    uplift model (a path, model-file bytes or a fitted estimator): ``id_column`` (when ``X`` has
    it) and ``keep``, then the scores (see ``comptoir.dask.score``)."""
    info, data = _model(X, model)
    _d.check_columns(X, list(info.features) + list(keep), "model's feature")
    keep = ([id_column] if id_column and id_column in X.columns else []) + [k for k in keep if k != id_column]
    kinds = {f.name: f.dataType for f in X.schema.fields}
    count = reasons if reasons == "main" else int(reasons)
    schema = _schema([(k, "id") for k in keep] + _d.score_columns(info, count), kinds)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        number = _partition()
        for batch in batches:
            with _d.on_partition(number, "scoring", as_text=True):
                yield _plain(_d.score_frame(batch, info, data.value, count, keep))

    return X.mapInPandas(run, schema)


# ---- co-partitioning -------------------------------------------------------------------------


def check_partitioned_by(events: DataFrame, column: str, what: str = "customer ids") -> None:
    """Raises ``NotCoPartitionedError`` naming the ids of ``column`` found in more than one
    partition (and ``MissingColumnsError`` when there is no such column)."""
    from pyspark.sql import functions as F

    if column not in events.columns:
        raise MissingColumnsError(None, f"lacks the id column '{column}' (it has {events.columns})")
    ids = events.select(F.col(column).alias("key"), F.spark_partition_id().alias("partition")).where(F.col("key").isNotNull())
    spread = ids.distinct().groupBy("key").agg(F.min("partition").alias("low"), F.max("partition").alias("high"),
                                               F.count("partition").alias("count"))
    shared = _collect(spread.where(F.col("count") > 1).orderBy("low", "key").limit(6))
    _d.raise_if_shared([(row["key"], [row["low"], row["high"]]) for row in shared], column)


# ---- recommendations -------------------------------------------------------------------------


def recommend(events: DataFrame, model: Any, N: int = 20, session: str = "session_id", item: str = "item_id",
              timestamp: Optional[str] = "timestamp", kind: Optional[str] = None, user: Optional[str] = None,
              reasons: bool = False, filter_session_items: bool = False, check_partitioning: bool = True) -> DataFrame:
    """``recommend_session`` for every session of an event table with a saved recommender: one row
    per session and rank (see ``comptoir.dask.recommend``)."""
    info, data = _model(events, model)
    options = _d.recommend_options(info, events.columns, N, session, item, timestamp, kind, user, reasons,
                                   filter_session_items)
    if check_partitioning:
        check_partitioned_by(events, session, "session ids")
    kinds = {f.name: f.dataType for f in events.schema.fields}
    item_type = kinds.get(item, T.StringType())
    kinds.update({"item": item_type, "anchor_item": item_type})
    columns = [(session, "id")] + [(n, "id" if n == "item" else k) for n, k in _d.RECOMMEND_COLUMNS]
    if reasons:
        columns += [(n, "id" if n == "anchor_item" else k) for n, k in _d.REASON_COLUMNS]
    schema = _schema(columns, kinds)
    source = events.schema

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        number = _partition()
        with _d.on_partition(number, "recommending", as_text=True):
            yield _plain(_d.recommend_frame(_gathered(batches, source), info, data.value, **options))

    return events.mapInPandas(run, schema)


# ---- features and labels ---------------------------------------------------------------------


def _per_partition(events: DataFrame, build: Any, snapshot: Any, user: str, what: str) -> DataFrame:
    """``build(events)`` (a pandas frame indexed by customer) on every partition, the index as
    the first column ``customer``."""
    import pandas as pd

    source = events.schema
    example = events.limit(0).toPandas()
    if example.empty and len(example.columns):
        typed = {f.name: _pandas_dtype(f.dataType) for f in source.fields}
        example = pd.DataFrame({c: pd.Series([], dtype=typed[c]) for c in example.columns})
    shape = build(_d.example_events(example, snapshot, user)).reset_index()
    shape = shape.rename(columns={shape.columns[0]: "customer"})
    schema = _from_pandas_dtypes(shape)
    schema = T.StructType([T.StructField("customer", dict((f.name, f.dataType) for f in source.fields)[user], True)]
                          + schema.fields[1:])

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        with _d.on_partition(_partition(), what, as_text=True):
            frame = _gathered(batches, source)
            result = build(frame) if len(frame) else shape.iloc[:0].set_index("customer")
            out = result.reset_index()
            out.columns = ["customer"] + list(out.columns[1:])
            yield _plain(out)

    return events.mapInPandas(run, schema)


def _pandas_dtype(kind: Any) -> Any:
    if isinstance(kind, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)):
        return "int64"
    if isinstance(kind, (T.DoubleType, T.FloatType)):
        return "float64"
    if isinstance(kind, T.TimestampType):
        return "datetime64[ns]"
    return object


def behaviour_features(events: DataFrame, snapshot: Any, user: str = "user", check_partitioning: bool = True,
                       **options: Any) -> DataFrame:
    """``comptoir.features.behaviour_features`` of an event table partitioned by customer (see
    ``comptoir.dask.behaviour_features``): one row per customer seen before ``snapshot``, its id
    in the first column ``customer``."""
    if check_partitioning:
        check_partitioned_by(events, user)
    return _per_partition(events, lambda frame: _d.features_frame(frame, snapshot, user, options), snapshot, user,
                          "building features")


def purchase_labels(events: DataFrame, snapshot: Any, horizon_days: int, user: str = "user",
                    check_partitioning: bool = True) -> DataFrame:
    """``comptoir.features.purchase_labels`` of an event table partitioned by customer: columns
    ``customer``, ``purchased``, ``spend``."""
    if check_partitioning:
        check_partitioned_by(events, user)
    horizon = int(horizon_days)
    return _per_partition(events, lambda frame: _d.labels_frame(frame, snapshot, horizon, user), snapshot, user,
                          "building labels")


# ---- the offer plan --------------------------------------------------------------------------


def plan_offers(value: DataFrame, cost: Any, budget: float, id_column: str = "customer",
                offers: Optional[Sequence[str]] = None, min_value_per_spend: float = 1.0,
                reasons: Optional[Dict[str, str]] = None, return_totals: bool = False) -> Any:
    """``comptoir.promo.plan_offers(value=..., cost=...).at(budget, min_value_per_spend)`` across
    all partitions (see ``comptoir.dask.plan_offers``): ``value`` holds the customer ids in
    ``id_column`` and one column per offer; the plan's rows are those of the single-machine
    plan of ``value.toPandas()``. ``value`` is persisted while the plan is made, so that the
    partitions the reduction saw are the ones assigned."""
    if id_column not in value.columns:
        raise MissingColumnsError(None, f"value lacks the customer id column '{id_column}' (it has {value.columns})")
    spec = _p.OfferSpec.of([c for c in value.columns if c not in (reasons or {}).values()], offers, cost, id_column,
                           reasons)
    source = value.schema
    value = value.persist()

    def make(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        number = _partition()
        with _d.on_partition(number, "reading offers", as_text=True):
            frame = _gathered(batches, source)
            segments = _p.partition_segments(frame, number, spec, frame[id_column].to_numpy())
        yield pd.DataFrame({"partition": [number], "payload": [pickle.dumps(segments, protocol=5)]})

    segments = value.mapInPandas(make, "partition int, payload binary").persist()

    def each(function: Any, *args: Any) -> list:
        def run(row: Any) -> Tuple[int, bytes]:
            part = pickle.loads(row["payload"])
            with _d.on_partition(part.partition, "planning", as_text=True):
                return row["partition"], pickle.dumps(function(part, *args), protocol=5)

        with _d.raised_on_client():
            results = segments.rdd.map(run).collect()
        return [pickle.loads(payload) for _, payload in sorted(results, key=lambda pair: pair[0])]

    try:
        with _d.raised_on_client():
            decision = _p.solve_plan(each, budget, min_value_per_spend)
    finally:
        segments.unpersist()
    shared = _session(value).sparkContext.broadcast(decision)
    floor = float(min_value_per_spend)
    kinds = {id_column: source[id_column].dataType}
    schema = _schema([("customer", "id")] + list(_p.PLAN_COLUMNS[1:]), {"customer": kinds[id_column]})

    def assign(batches: Iterator[Any]) -> Iterator[Any]:
        number = _partition()
        with _d.on_partition(number, "assigning offers", as_text=True):
            frame = _gathered(batches, source)
            yield _plain(_p.plan_frame(frame, number, spec, frame[id_column].to_numpy(), shared.value, floor))

    table = value.mapInPandas(assign, schema)
    if return_totals:
        return table, {**decision.totals, "offer_names": list(spec.offers)}
    return table


# ---- output ----------------------------------------------------------------------------------


def collect(frame: DataFrame) -> Any:
    """``frame.toPandas()``, raising a worker's error as the PartitionError it was."""
    with _d.raised_on_client():
        return frame.toPandas()


def write_parquet(frame: DataFrame, path: str, **options: Any) -> None:
    """``frame.write.parquet(path)``, atomically: ``path`` appears only once every partition is
    written, and a failed partition raises its PartitionError."""
    with _d.atomic_directory(path) as staging, _d.raised_on_client():
        frame.write.parquet(staging, **options)


__all__ = ["score", "recommend", "behaviour_features", "purchase_labels", "plan_offers", "collect", "write_parquet",
           "check_partitioned_by", "PartitionError", "ModelLoadError", "MissingColumnsError", "MixedIdTypesError",
           "NotCoPartitionedError", "InfeasibleBudgetError"]
