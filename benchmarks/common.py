"""What the side-by-side scripts share: their arguments and where the real datasets are."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional, Sequence, Tuple


def parse_args(description: str, flags: Sequence[Tuple[str, str]] = ()) -> argparse.Namespace:
    """--data and --quick, plus the script's own on/off ``flags`` as (name, help) pairs."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, help_text in flags:
        parser.add_argument(name, action="store_true", help=help_text)
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


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


class PeakMemory:
    """Peak resident memory of this process above its size when the block began (Linux only)."""

    def __enter__(self) -> "PeakMemory":
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets the peak resident size (VmHWM) to the current one
        self.start = _status_bytes("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.bytes = _status_bytes("VmHWM") - self.start


def _run_and_report(target, args, queue) -> None:
    queue.put(target(*args))


def run_in_fresh_process(target, *args):
    """target(*args) in a new interpreter, so memory peaks are its own (and no TBB or OpenMP
    threads are inherited through fork). target must be a module-level function."""
    import multiprocessing
    from queue import Empty

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_run_and_report, args=(target, args, queue))
    child.start()
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except Empty:
            if not child.is_alive():
                raise RuntimeError(f"{target.__name__} failed in its child process (exit code {child.exitcode})") from None
    child.join()
    return result
