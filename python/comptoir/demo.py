"""``comptoir demo``: every capability, end to end, on built-in data, with what each one did.

Each capability contributes one section function; ``run_demo`` runs them in order.
"""

from __future__ import annotations

import time
from typing import Callable, List, TextIO

from . import _core, __version__


def _section_foundation(seed: int, num_threads: int, out: TextIO) -> None:
    threads = num_threads or _core.default_num_threads()
    start = time.perf_counter()
    one = _core.parallel_uniform_sum(5_000_000, seed=seed, num_threads=1)
    single_s = time.perf_counter() - start
    start = time.perf_counter()
    many = _core.parallel_uniform_sum(5_000_000, seed=seed, num_threads=threads)
    multi_s = time.perf_counter() - start
    out.write(
        f"  comptoir {__version__}, {threads} worker thread(s)\n"
        f"  seeded parallel sum of 5M draws: {one:.6f} on 1 thread ({single_s * 1e3:.0f} ms), "
        f"{many:.6f} on {threads} ({multi_s * 1e3:.0f} ms): "
        f"{'bit-identical' if one == many else 'DIFFERENT'}\n"
    )


SECTIONS: List[tuple[str, Callable[[int, int, TextIO], None]]] = [
    ("foundation", _section_foundation),
]


def run_demo(seed: int = 42, num_threads: int = 0, out: TextIO | None = None) -> None:
    import sys

    out = out or sys.stdout
    for title, section in SECTIONS:
        out.write(f"== {title} ==\n")
        section(seed, num_threads, out)
        out.flush()
