"""``comptoir score --dask`` and ``comptoir offers --dask``: the same commands on a Dask cluster,
reading a Parquet directory (or file, or CSV) and writing a Parquet directory, atomically.
What they write equals what the single-process commands write for the gathered table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np


def _read(path: str) -> Any:
    """One partition per file of a Parquet directory (in name order, as pandas reads it), each
    read whole, so that a file lacking columns is named by the partition that reads it."""
    import os

    import dask.dataframe as dd
    import pyarrow.parquet as pq

    if path.endswith(".csv"):
        return dd.read_csv(path)
    if not os.path.isdir(path):
        return dd.read_parquet(path)
    files = sorted(os.path.join(path, name) for name in os.listdir(path)
                   if name.endswith(".parquet") and not name.startswith((".", "_")))
    if not files:
        raise FileNotFoundError(f"{path} holds no .parquet files")
    meta = pq.read_schema(files[0]).empty_table().to_pandas()
    return dd.from_map(_read_file, files, meta=meta, enforce_metadata=False)


def _read_file(path: str) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


def _model(args: argparse.Namespace, families: Any, command: str) -> Any:
    from . import _distributed
    from .exceptions import ModelFormatError
    from .io import inspect_model_file, read_model_bytes

    data = read_model_bytes(args.model)
    info = _distributed.model_info(data)
    if info.family not in families:
        kind = inspect_model_file(args.model)["model_kind"]
        raise ModelFormatError(f"{args.model} holds a '{kind}' model, which `comptoir {command}` does not take")
    return data, info


def score(args: argparse.Namespace) -> int:
    from distributed import Client

    from . import dask as cdask

    data, info = _model(args, ("classifier", "regressor"), "score")
    with Client(args.dask):
        X = _read(args.input)
        scores = cdask.score(X, data, reasons=args.explain, keep=[args.id_column] if args.id_column else [])
        cdask.write_parquet(scores, args.output, write_index=False)
    print(f"scored {args.input} with {args.model} on {args.dask} -> {args.output}", file=sys.stderr)
    return 0


def _offer_table(plan: Any, ids: Any) -> Any:
    import pandas as pd

    from ._plan_reduction import text_dtype

    given = plan["offer_code"].to_numpy() > 0
    out = pd.DataFrame({ids: plan["customer"]} if ids else {}, index=plan.index)
    out["offer"] = plan["offer_code"].to_numpy()  # 0: no offer, 1..K as in training
    out["expected_incremental_value"] = plan["expected_incremental_value"].to_numpy()
    out["cost"] = plan["cost"].to_numpy()
    out["main_reason"] = pd.Series(np.where(given, plan["reason"].to_numpy(dtype=object), ""), index=plan.index,
                                   dtype=text_dtype())
    return out


def offers(args: argparse.Namespace) -> int:
    from distributed import Client

    from . import dask as cdask

    data, info = _model(args, ("uplift",), "offers")
    costs = [float(c) for c in args.cost.split(",")]
    if len(costs) != len(info.offers):
        raise ValueError(f"the model has {len(info.offers)} offers but --cost gives {len(costs)} costs")
    if args.budget < 0:
        raise ValueError("the budget must be non-negative")
    with Client(args.dask):
        X = _read(args.input)
        scores = cdask.score(X, data, reasons="main", keep=[args.id_column] if args.id_column else [])
        value = scores.assign(**{offer: scores[offer] * args.value for offer in info.offers})
        plan, totals = cdask.plan_offers(value, costs, args.budget, offers=list(info.offers),
                                         reasons={o: f"{o}_main_reason" for o in info.offers},
                                         id_column=args.id_column, return_totals=True)
        meta = _offer_table(plan._meta, args.id_column)
        cdask.write_parquet(plan.map_partitions(_offer_table, args.id_column, meta=meta), args.output,
                            write_index=False)
    print(f"customers planned on {args.dask}: spend {totals['spend']:,.2f}, expected incremental value "
          f"{totals['value']:,.2f} (ROI {totals['roi']:.2f}) -> {args.output}", file=sys.stderr)
    return 0
