"""Uplift evaluation on randomised data. Every normalisation is named in the function, so numbers
can be compared with other libraries: ``*_raw`` is the area between the curve and random
targeting (x scaled to [0, 1]); ``*_vs_perfect`` divides it by a perfect ranking's area
(Radcliffe's Qini coefficient); ``*_divide_by_last`` is the area under the curve divided by its
last point, as causalml's ``auuc_score`` / ``qini_score`` with ``normalize=True`` compute it.
Tied scores are targeted together. ``treatment`` is 1 (treated) or 0 (control)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from . import _core


def uplift_curves(scores: Any, treatment: Any, outcome: Any) -> Dict[str, Any]:
    """Qini and uplift (cumulative gain) curves, and the areas under every normalisation."""
    return _core.uplift_eval.curves(np.asarray(scores, dtype=np.float64), np.asarray(treatment, dtype=np.int32),
                                    np.asarray(outcome, dtype=np.float64))


def qini_area_raw(scores: Any, treatment: Any, outcome: Any) -> float:
    return float(uplift_curves(scores, treatment, outcome)["qini_area_raw"])


def auuc_raw(scores: Any, treatment: Any, outcome: Any) -> float:
    return float(uplift_curves(scores, treatment, outcome)["auuc_raw"])


def qini_divide_by_last(scores: Any, treatment: Any, outcome: Any) -> float:
    return float(uplift_curves(scores, treatment, outcome)["qini_divide_by_last"])


def auuc_divide_by_last(scores: Any, treatment: Any, outcome: Any) -> float:
    return float(uplift_curves(scores, treatment, outcome)["auuc_divide_by_last"])


def qini_coefficient_vs_perfect(scores: Any, treatment: Any, outcome: Any) -> float:
    return _core.uplift_eval.qini_coefficient_vs_perfect(scores, treatment, outcome)


def auuc_vs_perfect(scores: Any, treatment: Any, outcome: Any) -> float:
    return _core.uplift_eval.auuc_vs_perfect(scores, treatment, outcome)


def uplift_at_k(scores: Any, treatment: Any, outcome: Any, fraction: float = 0.3) -> float:
    """Treated minus control mean outcome among the top ``fraction`` by score."""
    return _core.uplift_eval.uplift_at_k(scores, treatment, outcome, float(fraction))


def bootstrap_interval(
    metric: str, scores: Any, treatment: Any, outcome: Any, replicates: int = 200, random_state: int = 42, n_jobs: int = 0
) -> Tuple[float, float, float]:
    """``(estimate, lower, upper)``: a 95% percentile bootstrap over rows. ``metric`` is one of
    ``qini_coefficient_vs_perfect``, ``auuc_vs_perfect``, ``qini_area_raw``, ``auuc_raw``."""
    return _core.uplift_eval.bootstrap(metric, np.asarray(scores, dtype=np.float64), np.asarray(treatment, dtype=np.int32),
                                       np.asarray(outcome, dtype=np.float64), int(replicates), int(random_state), int(n_jobs))


def profit_curve(scores: Any, treatment: Any, outcome: Any, value_per_outcome: Any, offer_cost: Any) -> Tuple[np.ndarray, np.ndarray]:
    """Cost-aware Qini: ``(spend, incremental_profit)`` when targeting customers in score order."""
    n = len(np.asarray(scores))
    return _core.uplift_eval.profit_curve(scores, treatment, outcome, np.broadcast_to(value_per_outcome, n).astype(np.float64),
                                          np.broadcast_to(offer_cost, n).astype(np.float64))


def plot_qini(scores: Any, treatment: Any, outcome: Any, ax: Any = None, label: str = "model") -> Any:
    """The Qini curve against random targeting (matplotlib is imported only here)."""
    import matplotlib.pyplot as plt

    curves = uplift_curves(scores, treatment, outcome)
    ax = ax or plt.gca()
    x = curves["targeted"] / curves["targeted"][-1]
    ax.plot(x, curves["qini"], label=f"{label} (Qini area {curves['qini_area_raw']:.3g})")
    ax.plot([0, 1], [0, curves["qini"][-1]], linestyle="--", color="grey", label="random")
    ax.set_xlabel("share of customers targeted")
    ax.set_ylabel("incremental responses")
    ax.legend()
    return ax
