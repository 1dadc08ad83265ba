"""The ``comptoir`` command: ``comptoir demo`` runs every capability end to end on built-in data."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from . import __version__
from .io import inspect_model_file


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(seed=args.seed, num_threads=args.threads, out=sys.stdout)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    print(json.dumps(inspect_model_file(args.path), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="comptoir", description=__doc__)
    parser.add_argument("--version", action="version", version=f"comptoir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run every capability on the built-in default data")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--threads", type=int, default=0, help="0 = all cores")
    demo.set_defaults(func=_cmd_demo)

    inspect = sub.add_parser("inspect-model", help="verify and describe a comptoir model file")
    inspect.add_argument("path")
    inspect.set_defaults(func=_cmd_inspect)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from .exceptions import ComptoirError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ComptoirError as error:
        print(f"comptoir: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("comptoir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
