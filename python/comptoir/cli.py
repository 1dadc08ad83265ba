"""The ``comptoir`` command: ``comptoir demo`` runs every capability end to end on built-in data."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from typing import Any, List, Optional, Tuple

from . import __version__
from .io import inspect_model_file


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(seed=args.seed, num_threads=args.threads, out=sys.stdout)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    print(json.dumps(inspect_model_file(args.path), indent=2))
    return 0


class UsageError(ValueError):
    """A mistake in the command line or its files: one line, exit status 2, no traceback."""


def _check_parquet(path: str) -> None:
    if path.endswith(".parquet") and not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
        raise UsageError(f"{path}: .parquet tables need pyarrow (pip install pyarrow); or use a .csv file")


def _check_paths(args: argparse.Namespace) -> None:
    """Every path the command reads or writes, checked before any work is done."""
    for path in (args.model, args.input):
        if os.path.isdir(path) and not (path == args.input and any(n.endswith(".parquet") for n in os.listdir(path))):
            raise UsageError(f"{path} is a folder; give a file")  # an input folder of .parquet files is read whole
        if not os.path.exists(path):
            raise UsageError(f"{path} does not exist")
    folder = os.path.dirname(os.path.abspath(args.output))
    if os.path.isdir(args.output):
        raise UsageError(f"{args.output} is a folder; give the output file's name")
    if not os.path.isdir(folder):
        raise UsageError(f"the folder {folder} for {args.output} does not exist")
    _check_parquet(args.input)
    _check_parquet(args.output)


def _read_table(path: str) -> Any:
    import pandas as pd

    try:
        if path.endswith(".parquet") or os.path.isdir(path):  # a file, or a folder of Parquet files
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path} is empty: a table needs a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not a readable table: {str(error).strip().splitlines()[0]}") from None


def _write_table(frame: Any, path: str) -> None:
    if path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _read_features(path: str, names: List[str]) -> Tuple[Any, Any]:
    """The table at ``path`` and its columns ``names`` (a model's features), or a ValueError
    naming the columns it lacks."""
    table = _read_table(path)
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise UsageError(f"{path} lacks the model's feature columns {missing}")
    return table, table[names]


def _id_frame(table: Any, path: str, id_column: Optional[str]) -> Any:
    """The output's first column: ``id_column`` copied from the input (none when not asked)."""
    import pandas as pd

    if id_column is None:
        return pd.DataFrame(index=table.index)
    if id_column not in table.columns:
        raise UsageError(f"--id-column {id_column!r} is not a column of {path} (it has {list(table.columns)})")
    return pd.DataFrame({id_column: table[id_column]})


def _load_scorer(path: str) -> Any:
    """The estimator around a saved propensity or spend model, by the kind its file declares."""
    from .exceptions import ModelFormatError
    from .propensity import CalibratedClassifier, LogisticRegression
    from .trees import GradientBoostingClassifier, GradientBoostingRegressor

    kind = inspect_model_file(path)["model_kind"]
    if kind == "logistic_regression":
        return LogisticRegression.load(path)
    if kind == "gradient_boosting":
        try:
            return GradientBoostingClassifier.load(path)
        except ModelFormatError:  # a regressor's file
            return GradientBoostingRegressor.load(path)
    if kind == "calibrated_classifier":
        return CalibratedClassifier.load(path)
    raise ModelFormatError(f"{path} holds a '{kind}' model; `comptoir score` scores propensity and spend models")


def _cmd_score(args: argparse.Namespace) -> int:
    """Batch scoring for offline scripts: a saved propensity (or spend) model, a table in, scores out."""
    import numpy as np
    import pandas as pd

    if args.dask:
        from ._dask_cli import score

        return score(args)
    _check_paths(args)
    if args.explain < 0:
        raise UsageError("--explain must be 0 or more")
    model = _load_scorer(args.model)
    model.n_jobs = args.n_jobs
    names = list(model.model_.feature_names)
    table, features = _read_features(args.input, names)
    out = _id_frame(table, args.input, args.id_column)
    if hasattr(model, "predict_proba"):
        out["probability"] = model.predict_proba(features)[:, 1]
    else:
        out["prediction"] = model.predict(features)
    if args.explain > 0:
        contributions = model.explain(features).drop(columns="base_value").to_numpy()
        top = np.argsort(-np.abs(contributions), axis=1)[:, : args.explain]
        for rank in range(top.shape[1]):
            column = top[:, rank]
            values = contributions[np.arange(len(column)), column]
            out[f"reason_{rank + 1}"] = [f"{names[c]}={v:+.3f}" for c, v in zip(column, values)]
    _write_table(out, args.output)
    print(f"scored {len(out):,} rows with {args.model} -> {args.output}", file=sys.stderr)
    return 0


def _cmd_offers(args: argparse.Namespace) -> int:
    """Offer per customer for offline scripts: a saved uplift model (forest or meta-learner)
    predicts each offer's effect on conversion, each conversion is worth ``--value`` (the margin),
    each offer costs its ``--cost`` (discount given away and contact), and the budget goes where it
    earns most."""
    import numpy as np

    from ._base import load_model, read_record
    from .exceptions import ModelFormatError
    from .io import read_model_bytes
    from .promo import plan_offers
    from .uplift import UPLIFT_KINDS, UpliftRandomForest

    if args.dask:
        from ._dask_cli import offers

        return offers(args)
    _check_paths(args)
    try:
        costs = np.asarray([float(c) for c in args.cost.split(",")])
    except ValueError:
        raise UsageError(f"--cost takes numbers separated by commas, got {args.cost!r}") from None
    if args.budget < 0 or (costs < 0).any():
        raise UsageError("the budget and the costs must be non-negative")
    kind = inspect_model_file(args.model)["model_kind"]
    if kind not in UPLIFT_KINDS:
        raise ModelFormatError(f"{args.model} holds a '{kind}' model; `comptoir offers` needs an uplift model "
                               f"({', '.join(UPLIFT_KINDS)})")
    has_record = read_record(read_model_bytes(args.model)) is not None
    model = load_model(args.model) if has_record or kind != "uplift_forest" else UpliftRandomForest.load(args.model)
    if hasattr(model, "n_jobs"):
        model.n_jobs = args.n_jobs
    names = list(model.model_.feature_names)
    table, features = _read_features(args.input, names)
    out = _id_frame(table, args.input, args.id_column)
    effect = np.asarray(model.predict(features))
    if len(costs) != effect.shape[1]:
        raise UsageError(f"the model has {effect.shape[1]} offers but --cost gives {len(costs)} costs")
    plan = plan_offers(value=effect * args.value, cost=costs, reasons=np.asarray(model.main_reasons(features)),
                       n_jobs=args.n_jobs).at(args.budget)
    out["offer"] = plan["offer_code"].to_numpy()               # 0: no offer, 1..K as in training
    given = out["offer"].to_numpy() > 0
    out["expected_incremental_value"] = plan["expected_incremental_value"].to_numpy()
    out["cost"] = plan["cost"].to_numpy()
    out["main_reason"] = np.where(given, plan["reason"].to_numpy(), "")
    allocation = plan.attrs
    _write_table(out, args.output)
    print(f"{int(given.sum()):,} of {len(out):,} customers get an offer: spend {allocation['spend']:,.2f}, expected "
          f"incremental value {allocation['value']:,.2f} (ROI {allocation['roi']:.2f}) -> {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="comptoir", description=__doc__)
    parser.add_argument("--version", action="version", version=f"comptoir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run every capability on the built-in default data")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--threads", type=int, default=0, help="0 = all cores")
    demo.set_defaults(func=_cmd_demo)

    score = sub.add_parser("score", help="batch-score a CSV or Parquet table with a saved propensity model")
    score.add_argument("model", help="a model file saved by LogisticRegression or GradientBoostingClassifier/Regressor")
    score.add_argument("input", help="CSV or .parquet table holding the model's feature columns")
    score.add_argument("output", help="CSV or .parquet file for the scores")
    score.add_argument("--id-column", default=None, help="column copied to the output beside each score")
    score.add_argument("--explain", type=int, default=0, help="add the N largest per-feature contributions")
    score.add_argument("--n-jobs", type=int, default=0)
    score.add_argument("--dask", metavar="SCHEDULER_ADDRESS", default=None,
                       help="score on this Dask cluster; input and output are Parquet directories")
    score.set_defaults(func=_cmd_score)

    offers = sub.add_parser("offers", help="choose an offer per customer under a budget with a saved uplift model")
    offers.add_argument("model", help="a model file saved by UpliftRandomForest or an uplift meta-learner")
    offers.add_argument("input", help="CSV or .parquet table holding the model's feature columns")
    offers.add_argument("output", help="CSV or .parquet file: offer (0 none, 1..K), value, cost, main reason")
    offers.add_argument("--budget", type=float, required=True, help="total cost allowed")
    offers.add_argument("--value", type=float, required=True, help="value (margin) of one extra conversion")
    offers.add_argument("--cost", required=True, help="cost of each offer, comma-separated (discount and contact)")
    offers.add_argument("--id-column", default=None, help="column copied to the output beside each offer")
    offers.add_argument("--n-jobs", type=int, default=0)
    offers.add_argument("--dask", metavar="SCHEDULER_ADDRESS", default=None,
                        help="plan on this Dask cluster (one budget for all partitions); Parquet directories in and out")
    offers.set_defaults(func=_cmd_offers)

    inspect = sub.add_parser("inspect-model", help="verify and describe a comptoir model file")
    inspect.add_argument("path")
    inspect.set_defaults(func=_cmd_inspect)
    return parser


def _one_line(message: str) -> str:
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return " ".join(lines) if lines else "failed"


def main(argv: Optional[List[str]] = None) -> int:
    from .exceptions import ComptoirError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ComptoirError, ValueError, KeyError) as error:
        # A KeyError's text is its key in quotes: say what it is.
        message = f"unknown {error}" if type(error) is KeyError else str(error)
        print(f"comptoir: error: {_one_line(message)}", file=sys.stderr)
        return 2
    except OSError as error:  # missing, unreadable or unwritable files, a full disk
        where = f": {error.filename}" if error.filename else ""
        print(f"comptoir: error: {_one_line(error.strerror or str(error))}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("comptoir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
