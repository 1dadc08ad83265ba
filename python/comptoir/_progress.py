"""Progress reporting for long C++ calls: a tqdm bar when tqdm is installed, else nothing."""

from __future__ import annotations

from typing import Callable, Optional

ProgressFn = Callable[[int, int, str], None]


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
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bars: dict[str, tqdm] = {}

    def report(done: int, total: int, stage: str) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc=stage, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report
