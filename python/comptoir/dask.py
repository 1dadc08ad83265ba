"""comptoir on Dask: score, recommend, build features and plan offers on a Dask DataFrame, each
returning a Dask DataFrame (lazy, except the plan's global reduction, which runs when
``plan_offers`` is called).

Models are sent to the workers as their model-file bytes (one graph key, fetched once per worker)
and loaded once per worker process. Each partition is processed by the single-process functions,
so the rows are the ones ``comptoir`` gives on the gathered table:

- ``score(X, model)``: ``predict_proba`` (column ``probability``), ``predict`` (``prediction``) or,
  for an uplift model, the effect of each offer (one column per offer name), with
  ``reasons=k`` the ``k`` largest contributions as ``reason_1..k`` (``<offer>_reason_1..k``);
  the index is kept;
- ``recommend(events, model)``: one row per session and rank from ``recommend_session``; every
  session's events must be in one partition (checked; ``check_partitioning=False`` skips it);
- ``behaviour_features`` / ``purchase_labels``: the events must be partitioned by customer (every
  customer's events in one partition, e.g. ``events.shuffle("user")`` or Parquet files written
  per customer range); a customer found in two partitions is a ``NotCoPartitionedError`` naming
  the customer and the partitions (unless ``check_partitioning=False``, when such a customer
  would get one row per partition, each from part of its history);
- ``plan_offers(value, cost, budget)``: exactly ``comptoir.promo.plan_offers(value=..., cost=...)
  .at(budget)`` on the gathered rows (partitions in order), with one global reduction.

Whatever a partition meets (a model the worker cannot load, missing columns, mixed id types, a
budget no plan can meet) is raised on the client as a ``PartitionError`` (a ``ComptoirError``)
naming the partition and the problem; ``write_parquet`` writes an output directory only once all
of it is computed.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _distributed as _d
from . import _plan_reduction as _p
from ._distributed import (InfeasibleBudgetError, MissingColumnsError, MixedIdTypesError, ModelLoadError,
                           NotCoPartitionedError, PartitionError)

try:
    import dask
    import dask.dataframe  # noqa: F401 - the dataframe extra (comptoir[dask])
except ImportError as error:  # pragma: no cover - the optional dependency
    raise ImportError("comptoir.dask needs Dask: pip install 'comptoir[dask]'") from error


def _number(partition_info: Optional[Dict[str, Any]]) -> int:
    return int(partition_info["number"]) if partition_info else 0


def _empty(columns: Sequence[Tuple[str, str]], ids: Dict[str, Any]) -> Any:
    import pandas as pd

    types = {"float": np.float64, "int": np.int64, "text": _p.text_dtype()}
    return pd.DataFrame({name: pd.Series([], dtype=ids.get(name, object) if kind == "id" else types[kind])
                         for name, kind in columns})


def _model(model: Any) -> Tuple[_d.ModelInfo, Any]:
    data = _d.model_bytes(model)
    return _d.model_info(data), dask.delayed(data, pure=True)


def _compute(*collections: Any) -> Any:
    with _d.raised_on_client():
        return dask.compute(*collections)


# ---- scoring ---------------------------------------------------------------------------------


def _score_partition(frame: Any, info: _d.ModelInfo, data: bytes, reasons: Any, keep: Sequence[str],
                     partition_info: Any = None) -> Any:
    with _d.on_partition(_number(partition_info), "scoring"):
        return _d.score_frame(frame, info, data, reasons, keep)


def score(X: Any, model: Any, reasons: Any = 0, keep: Sequence[str] = ()) -> Any:
    """Scores of every row of ``X`` (a Dask DataFrame holding the model's feature columns) with a
    saved scorer or uplift model (a path, model-file bytes or a fitted estimator): the ``keep``
    columns, then the scores (see the module's docstring), on ``X``'s index; ``reasons="main"``
    adds an uplift model's ``main_reasons`` (``<offer>_main_reason``), which plans quote."""
    info, data = _model(model)
    keep = list(keep)
    reasons = reasons if reasons == "main" else int(reasons)
    meta = _empty([(k, "id") for k in keep] + _d.score_columns(info, reasons),
                  {k: X._meta[k].dtype for k in keep if k in X.columns})
    meta.index = X._meta.index
    return X.map_partitions(_score_partition, info, data, reasons, keep, meta=meta, align_dataframes=False)


# ---- co-partitioning -------------------------------------------------------------------------


def _keys_partition(frame: Any, column: str, partition_info: Any = None) -> Any:
    with _d.on_partition(_number(partition_info), f"reading '{column}'"):
        return _d.partition_keys(frame, column, _number(partition_info))


def _kind_partition(frame: Any, column: str, partition_info: Any = None) -> Any:
    import pandas as pd

    number = _number(partition_info)
    with _d.on_partition(number, f"reading '{column}'"):
        _d.check_columns(frame, [column], "id")
        return pd.DataFrame({"partition": [number], "kind": [_d.id_kind(frame[column].to_numpy())]})


def check_partitioned_by(events: Any, column: str, what: str = "customer ids") -> None:
    """Raises ``MixedIdTypesError`` when ``column`` holds integers in some partitions and text in
    others, and ``NotCoPartitionedError`` naming the ids found in more than one partition."""
    import pandas as pd

    kinds = events.map_partitions(_kind_partition, column,
                                  meta=pd.DataFrame({"partition": pd.Series([], dtype=np.int64),
                                                     "kind": pd.Series([], dtype=object)}))
    (table,) = _compute(kinds)
    _d.check_id_kinds(dict(zip(table["partition"], table["kind"])), what)
    keys = events.map_partitions(_keys_partition, column, meta=pd.DataFrame(
        {"key": pd.Series([], dtype=events._meta[column].dtype), "partition": pd.Series([], dtype=np.int64)}))
    spread = keys.groupby("key")["partition"].agg(["min", "max", "count"])
    (shared,) = _compute(spread[spread["count"] > 1].head(6, npartitions=-1, compute=False))
    _d.raise_if_shared([(key, [row["min"], row["max"]]) for key, row in shared.iterrows()], column)


# ---- recommendations -------------------------------------------------------------------------


def _recommend_partition(events: Any, info: _d.ModelInfo, data: bytes, options: Dict[str, Any],
                         partition_info: Any = None) -> Any:
    with _d.on_partition(_number(partition_info), "recommending"):
        return _d.recommend_frame(events, info, data, **options)


def recommend(events: Any, model: Any, N: int = 20, session: str = "session_id", item: str = "item_id",
              timestamp: Optional[str] = "timestamp", kind: Optional[str] = None, user: Optional[str] = None,
              reasons: bool = False, filter_session_items: bool = False, check_partitioning: bool = True) -> Any:
    """``recommend_session`` for every session of an event table (``session``, ``item``, and
    optionally ``timestamp`` to order each session, ``kind`` and ``user`` columns) with a saved
    recommender: one row per session and rank (``session``, ``rank``, ``item``, ``score``; with
    ``reasons=True`` also the columns of ``return_reasons="frame"``)."""
    info, data = _model(model)
    options = _d.recommend_options(info, events.columns, N, session, item, timestamp, kind, user, reasons,
                                   filter_session_items)
    if check_partitioning:
        check_partitioned_by(events, session, "session ids")
    columns = [(session, "id")] + list(_d.RECOMMEND_COLUMNS) + (list(_d.REASON_COLUMNS) if reasons else [])
    meta = _empty(columns, {session: events._meta[session].dtype})
    return events.map_partitions(_recommend_partition, info, data, options, meta=meta, align_dataframes=False)


# ---- features and labels ---------------------------------------------------------------------


def _features_partition(events: Any, snapshot: Any, user: str, options: Dict[str, Any], partition_info: Any = None) -> Any:
    with _d.on_partition(_number(partition_info), "building features"):
        return _d.features_frame(events, snapshot, user, options)


def _labels_partition(events: Any, snapshot: Any, horizon_days: int, user: str, partition_info: Any = None) -> Any:
    with _d.on_partition(_number(partition_info), "building labels"):
        return _d.labels_frame(events, snapshot, horizon_days, user)


def behaviour_features(events: Any, snapshot: Any, user: str = "user", check_partitioning: bool = True,
                       **options: Any) -> Any:
    """``comptoir.features.behaviour_features`` of a Dask event table partitioned by customer
    (columns ``session``, ``user``, ``item``, ``timestamp``, ``kind``, optionally ``value`` and
    ``quantity``; customers in the shop's ids): one row per customer seen before ``snapshot``,
    indexed by customer id, sorted within each partition. ``options`` are the single-process
    function's (``window_days``, ``item_category``, ...)."""
    if check_partitioning:
        check_partitioned_by(events, user)
    meta = _d.features_frame(_d.example_events(events._meta, snapshot, user), snapshot, user, options).iloc[:0]
    return events.map_partitions(_features_partition, snapshot, user, options, meta=meta, align_dataframes=False)


def purchase_labels(events: Any, snapshot: Any, horizon_days: int, user: str = "user",
                    check_partitioning: bool = True) -> Any:
    """``comptoir.features.purchase_labels`` of a Dask event table partitioned by customer: a
    DataFrame with ``purchased`` and ``spend``, indexed by customer id, aligned with
    ``behaviour_features`` of the same events and snapshot."""
    if check_partitioning:
        check_partitioned_by(events, user)
    meta = _d.labels_frame(_d.example_events(events._meta, snapshot, user), snapshot, horizon_days, user).iloc[:0]
    return events.map_partitions(_labels_partition, snapshot, int(horizon_days), user, meta=meta,
                                 align_dataframes=False)


# ---- the offer plan --------------------------------------------------------------------------


def _ids(frame: Any, id_column: Optional[str]) -> Any:
    return frame.index if id_column is None else frame[id_column].to_numpy()


def _segments(frame: Any, partition: int, spec: _p.OfferSpec, id_column: Optional[str]) -> _p.Segments:
    with _d.on_partition(partition, "reading offers"):
        _d.check_columns(frame, [id_column] if id_column else [], "customer id")
        return _p.partition_segments(frame, partition, spec, _ids(frame, id_column))


def _round(function: Any, segments: _p.Segments, args: Tuple[Any, ...]) -> Any:
    with _d.on_partition(segments.partition, "planning"):
        return function(segments, *args)


def _plan_partition(frame: Any, spec: _p.OfferSpec, decision: _p.PlanDecision, min_value_per_spend: float,
                    id_column: Optional[str], partition_info: Any = None) -> Any:
    number = _number(partition_info)
    with _d.on_partition(number, "assigning offers"):
        return _p.plan_frame(frame, number, spec, _ids(frame, id_column), decision, min_value_per_spend)


def plan_offers(value: Any, cost: Any, budget: float, offers: Optional[Sequence[str]] = None,
                min_value_per_spend: float = 1.0, reasons: Optional[Dict[str, str]] = None,
                id_column: Optional[str] = None, return_totals: bool = False) -> Any:
    """``comptoir.promo.plan_offers(value=..., cost=...).at(budget, min_value_per_spend)`` across
    all partitions: ``value`` is a Dask DataFrame indexed by customer with one column per offer
    (``offers`` names them; default: every column), ``cost`` one number, one per offer, or a dict
    by offer name of numbers or of columns of ``value`` holding each customer's cost;
    ``reasons`` a dict by offer name of columns holding the text the plan quotes (such as
    ``score(X, model, reasons="main")`` gives); ``id_column`` a column holding the customer ids
    instead of the index. Returns the
    plan table as a Dask DataFrame (its rows those of the single-machine plan of the gathered
    rows; its index restarts in each partition), with ``return_totals=True`` also the totals
    (``spend``, ``value``, ``profit``, ``roi``, ``lp_bound``, ``budget``, ``offer_names``).

    The global reduction runs now: the value table is persisted, each partition sends summaries
    and the few segments near the budget's price, and the client decides; the table itself is
    lazy."""
    spec = _p.OfferSpec.of([c for c in value.columns if c not in (reasons or {}).values()], offers, cost, id_column,
                           reasons)
    parts = value.to_delayed()
    segments = dask.persist(*[dask.delayed(_segments)(part, p, spec, id_column) for p, part in enumerate(parts)])

    def each(function: Any, *args: Any) -> list:
        return list(_compute(*[dask.delayed(_round)(function, s, args) for s in segments]))

    with _d.raised_on_client():
        decision = _p.solve_plan(each, budget, min_value_per_spend)
    del segments
    ids = value._meta.index.dtype if id_column is None else value._meta[id_column].dtype
    meta = _empty(_p.PLAN_COLUMNS, {"customer": ids})
    table = value.map_partitions(_plan_partition, spec, dask.delayed(decision, pure=True), float(min_value_per_spend),
                                 id_column, meta=meta, align_dataframes=False)
    if return_totals:
        return table, {**decision.totals, "offer_names": list(spec.offers)}
    return table


# ---- output ----------------------------------------------------------------------------------


def write_parquet(frame: Any, path: str, **options: Any) -> None:
    """``frame.to_parquet(path)``, atomically: the directory appears only once every partition
    is written (a failed partition raises its PartitionError and leaves no ``path``)."""
    with _d.atomic_directory(path) as staging, _d.raised_on_client():
        frame.to_parquet(staging, **options)


__all__ = ["score", "recommend", "behaviour_features", "purchase_labels", "plan_offers", "write_parquet",
           "check_partitioned_by", "PartitionError", "ModelLoadError", "MissingColumnsError", "MixedIdTypesError",
           "NotCoPartitionedError", "InfeasibleBudgetError"]
