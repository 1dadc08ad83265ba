"""Progress reporting for long C++ calls: a tqdm bar when tqdm is installed, else nothing.

In a Jupyter kernel the bar is tqdm's notebook widget (``tqdm.auto``) when ipywidgets is
installed, else a text bar written to the cell's output; either way it stays after the call at its
final count, so a saved notebook shows "100%" rather than the 0% it was first drawn at or a blank.
In a terminal the bar disappears when the call ends, as before."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any, Callable, Optional, Tuple

ProgressFn = Callable[[int, int, str], None]


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) process."""
    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def bar_class() -> Tuple[Any, bool]:
    """``(tqdm class, in a notebook)``. Without ipywidgets ``tqdm.auto`` warns (IProgress not
    found) and falls back to the text bar anyway: the text bar is taken directly then."""
    notebook = in_notebook()
    if notebook and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm, notebook


def make_progress(verbose: bool | ProgressFn | None) -> Optional[ProgressFn]:
    """Turn an estimator's ``verbose`` argument into the callable the C++ core reports to.

    ``True`` shows a tqdm bar (silently nothing when tqdm is missing); a callable receives
    ``(done, total, stage)`` and may raise to cancel the call.
    """
    if callable(verbose):
        return verbose
    if not verbose:
        return None
    try:
        tqdm, notebook = bar_class()
    except ImportError:
        return None
    bars: dict[str, Any] = {}
    # A saved notebook keeps what was written last: the bar stays, and is redrawn on every report
    # (the reports are already throttled by the core) so its last state is the final count.
    options = {"leave": True, "mininterval": 0.0, "file": sys.stdout} if notebook else {"leave": False}

    def report(done: int, total: int, stage: str) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc=stage, **options)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report
