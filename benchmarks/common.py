"""What the side-by-side scripts share: their arguments and where the real datasets are."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("COMPTOIR_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--data", default=default, help="folder holding the dataset folders")
    parser.add_argument("--quick", action="store_true", help="skip tuning and the slowest models, where a script has them")
    return parser.parse_args()


def dataset_folder(args: argparse.Namespace, name: str) -> Optional[Path]:
    """``<data>/<name>``, or None after saying why there is nothing to benchmark."""
    folder = Path(args.data) / name
    if not folder.exists():
        print(f"{name} not found under {args.data}: nothing to benchmark")
        return None
    return folder
