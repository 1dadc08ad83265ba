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


def policy_value(policy: Any, treatment: Any, outcome: Any, propensity: Any = None, predicted_outcomes: Any = None) -> Dict[str, float]:
    """The mean outcome a targeting policy would have produced, estimated on held-out randomised
    (or logged) data where the policy was not applied.

    ``policy``: the arm the policy gives each row (0 = no offer, 1..K); ``treatment``: the arm each
    row actually got; ``propensity``: P(arm | x) as a (rows, K + 1) array, or None for a randomised
    experiment (each arm's share of the rows). The inverse-propensity estimate averages
    1[T = policy] y / P(T = policy). With ``predicted_outcomes`` (rows, K + 1), e.g. from
    ``TLearner.predict_outcomes`` fitted on other rows, the doubly-robust estimate adds the model's
    prediction for the policy's arm and corrects it with the same weighting of its residual.
    Returns ``ipw`` (and ``dr``) with standard errors and 95% intervals."""
    policy = np.asarray(policy, dtype=np.int64)
    treatment = np.asarray(treatment, dtype=np.int64)
    outcome = np.asarray(outcome, dtype=np.float64)
    n = len(outcome)
    if policy.shape != (n,) or treatment.shape != (n,):
        raise ValueError("policy, treatment and outcome must be 1-D arrays of the same length")
    if np.isnan(outcome).any():
        raise ValueError("outcome holds NaN")
    arms = int(max(policy.max(), treatment.max())) + 1
    if policy.min() < 0 or treatment.min() < 0:
        raise ValueError("arms must be 0 (no offer) or 1..K")
    if propensity is None:
        shares = np.bincount(treatment, minlength=arms) / n
        if (shares[np.unique(policy)] == 0).any():
            raise ValueError("the policy gives an arm that no row received: its value cannot be estimated")
        p = shares[policy]
    else:
        propensity = np.asarray(propensity, dtype=np.float64)
        if propensity.shape != (n, arms):
            raise ValueError(f"propensity must have shape {(n, arms)}, got {propensity.shape}")
        p = propensity[np.arange(n), policy]
        if not (p > 0).all():
            raise ValueError("some rows have zero propensity for the arm the policy gives them")
    matched = (treatment == policy).astype(np.float64)
    terms = {"ipw": matched * outcome / p}
    if predicted_outcomes is not None:
        predicted = np.asarray(predicted_outcomes, dtype=np.float64)
        if predicted.shape != (n, arms):
            raise ValueError(f"predicted_outcomes must have shape {(n, arms)}, got {predicted.shape}")
        model = predicted[np.arange(n), policy]
        terms["dr"] = model + matched * (outcome - model) / p
    result: Dict[str, float] = {}
    for name, values in terms.items():
        mean, stderr = float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))
        result[name] = mean
        result[f"{name}_stderr"] = stderr
        result[f"{name}_ci_low"], result[f"{name}_ci_high"] = mean - 1.96 * stderr, mean + 1.96 * stderr
    return result
