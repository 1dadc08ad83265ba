"""Uplift evaluation on randomised data. Every normalisation is named in the function, so numbers
can be compared with other libraries: ``*_raw`` is the area between the curve and random
targeting (x scaled to [0, 1]); ``*_vs_perfect`` divides it by a perfect ranking's area
(Radcliffe's Qini coefficient); ``*_divide_by_last`` is the area under the curve divided by its
last point, as causalml's ``auuc_score`` / ``qini_score`` with ``normalize=True`` compute it.
Tied scores are targeted together.

Every metric takes the scores first and ``treatment=`` and ``outcome=`` by keyword (the peers order
them differently: scikit-uplift ``(y_true, uplift, treatment)``, so a positional call is refused).
``treatment`` follows the offer convention of the uplift learners (``comptoir._offers``): offer
names, integer codes, booleans or a categorical, with ``control_name`` the control. With one offer
and 1-D scores a metric returns its value; with 2-D scores (one column per offer: a DataFrame
named by offer as ``predict`` returns it, or an array in the offers' order) it returns a dict
``{offer name: value}``, each offer evaluated on its own rows and control's."""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import numpy as np

from . import _core, _offers
from .exceptions import InvalidArgumentError


def _refuse_positional(function: str, args: Tuple[Any, ...]) -> None:
    if args:
        raise TypeError(f"{function} takes treatment= and outcome= by keyword: {function}(scores, treatment=..., "
                        "outcome=...). scikit-uplift orders them (y_true, uplift, treatment), so a positional call "
                        "could swap them silently")


def _per_offer(function: str, args: Tuple[Any, ...], scores: Any, treatment: Any, outcome: Any, control_name: Any,
               compute: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any]) -> Any:
    """``compute(scores, treated 0/1, outcome, rows)`` on each offer's rows and control's."""
    _refuse_positional(function, args)
    if treatment is None or outcome is None:
        raise TypeError(f"{function} needs treatment= and outcome=")
    codes, arms = _offers.encode(treatment, control_name)
    outcome = np.asarray(outcome)
    if outcome.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"outcome must be numeric, got dtype {outcome.dtype}")
    outcome = outcome.astype(np.float64)
    if outcome.shape != codes.shape:
        raise InvalidArgumentError(f"outcome has shape {outcome.shape} but treatment has {codes.shape}")
    single = not hasattr(scores, "columns") and np.ndim(scores) == 1
    if single and arms.num_offers > 1:
        raise InvalidArgumentError(f"scores has one column but treatment holds {arms.num_offers} offers ({arms.describe()}): pass "
                         "one score column per offer (predict's DataFrame, named by offer) or keep the rows of one "
                         "offer and control")
    matrix = _offers.columns_for(scores, arms.offer_names, len(codes), "scores")
    results = {}
    for k, name in enumerate(arms.offer_names, start=1):
        rows = np.flatnonzero((codes == 0) | (codes == k))
        results[name] = compute(np.ascontiguousarray(matrix[rows, k - 1]), (codes[rows] == k).astype(np.int32),
                                np.ascontiguousarray(outcome[rows]), rows)
    return results[arms.offer_names[0]] if single else results


def uplift_curves(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, control_name: Any = None) -> Any:
    """Qini and uplift (cumulative gain) curves, and the areas under every normalisation."""
    return _per_offer("uplift_curves", args, scores, treatment, outcome, control_name,
                      lambda s, t, y, rows: _core.uplift_eval.curves(s, t, y))


def _area(name: str) -> Callable[..., Any]:
    def metric(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, control_name: Any = None) -> Any:
        return _per_offer(name, args, scores, treatment, outcome, control_name,
                          lambda s, t, y, rows: float(_core.uplift_eval.curves(s, t, y)[name]))

    metric.__name__ = metric.__qualname__ = name
    metric.__doc__ = f"``{name}`` of the curves ``uplift_curves`` computes (see the module's docstring)."
    return metric


qini_area_raw = _area("qini_area_raw")
auuc_raw = _area("auuc_raw")
qini_divide_by_last = _area("qini_divide_by_last")
auuc_divide_by_last = _area("auuc_divide_by_last")


def qini_coefficient_vs_perfect(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None,
                                control_name: Any = None) -> Any:
    """Radcliffe's Qini coefficient: the Qini area divided by a perfect ranking's."""
    return _per_offer("qini_coefficient_vs_perfect", args, scores, treatment, outcome, control_name,
                      lambda s, t, y, rows: _core.uplift_eval.qini_coefficient_vs_perfect(s, t, y))


def auuc_vs_perfect(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, control_name: Any = None) -> Any:
    """The area under the uplift curve divided by a perfect ranking's."""
    return _per_offer("auuc_vs_perfect", args, scores, treatment, outcome, control_name,
                      lambda s, t, y, rows: _core.uplift_eval.auuc_vs_perfect(s, t, y))


def uplift_at_k(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, fraction: float = 0.3,
                control_name: Any = None) -> Any:
    """Treated minus control mean outcome among the top ``fraction`` by score."""
    return _per_offer("uplift_at_k", args, scores, treatment, outcome, control_name,
                      lambda s, t, y, rows: _core.uplift_eval.uplift_at_k(s, t, y, float(fraction)))


_BOOTSTRAP_METRICS = ("qini_coefficient_vs_perfect", "auuc_vs_perfect", "qini_area_raw", "auuc_raw")


def bootstrap_interval(metric: str, scores: Any, *args: Any, treatment: Any = None, outcome: Any = None,
                       replicates: int = 200, random_state: int = 42, n_jobs: int = 0, control_name: Any = None) -> Any:
    """``(estimate, lower, upper)``: a 95% percentile bootstrap over rows (per offer: a dict of
    them). ``metric`` is one of ``qini_coefficient_vs_perfect``, ``auuc_vs_perfect``,
    ``qini_area_raw``, ``auuc_raw``."""
    if metric not in _BOOTSTRAP_METRICS:
        raise InvalidArgumentError(f"metric must be one of {', '.join(_BOOTSTRAP_METRICS)}, got {metric!r}")
    return _per_offer("bootstrap_interval", args, scores, treatment, outcome, control_name,
                      lambda s, t, y, rows: _core.uplift_eval.bootstrap(metric, s, t, y, int(replicates),
                                                                        int(random_state), int(n_jobs)))


def profit_curve(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, value_per_outcome: Any = None,
                 offer_cost: Any = None, control_name: Any = None) -> Any:
    """Cost-aware Qini: ``(spend, incremental_profit)`` when targeting customers in score order.
    ``value_per_outcome`` and ``offer_cost``: a number or one per row."""
    if value_per_outcome is None or offer_cost is None:
        _refuse_positional("profit_curve", args)
        raise TypeError("profit_curve needs value_per_outcome= and offer_cost=")
    n = len(np.asarray(outcome)) if outcome is not None else 0
    value = np.broadcast_to(np.asarray(value_per_outcome, dtype=np.float64), n)
    cost = np.broadcast_to(np.asarray(offer_cost, dtype=np.float64), n)
    if np.isnan(cost).any() or (cost < 0).any():
        raise InvalidArgumentError("offer_cost must be non-negative numbers (it holds NaN or a negative cost)")
    return _per_offer("profit_curve", args, scores, treatment, outcome, control_name,
                      lambda s, t, y, rows: _core.uplift_eval.profit_curve(s, t, y, np.ascontiguousarray(value[rows]),
                                                                           np.ascontiguousarray(cost[rows])))


def plot_qini(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, ax: Any = None, label: str = "model",
              control_name: Any = None) -> Any:
    """Qini curves (one per offer) against random targeting, Qini coefficient in the legend
    (``comptoir.plots.qini``; matplotlib is imported only there)."""
    from . import plots

    _refuse_positional("plot_qini", args)
    return plots.qini(scores, treatment=treatment, outcome=outcome, control_name=control_name, ax=ax, label=label)


def plot_uplift(scores: Any, *args: Any, treatment: Any = None, outcome: Any = None, ax: Any = None,
                label: str = "model", control_name: Any = None) -> Any:
    """Uplift (cumulative gain) curves, one per offer, with AUUC vs perfect in the legend
    (``comptoir.plots.uplift``)."""
    from . import plots

    _refuse_positional("plot_uplift", args)
    return plots.uplift(scores, treatment=treatment, outcome=outcome, control_name=control_name, ax=ax, label=label)


def policy_value(policy: Any, *args: Any, treatment: Any = None, outcome: Any = None, propensity: Any = None,
                 predicted_outcomes: Any = None, control_name: Any = None) -> Dict[str, float]:
    """The mean outcome a targeting policy would have produced, estimated on held-out randomised
    (or logged) data where the policy was not applied.

    ``policy``: the arm the policy gives each row, in the treatment's convention (offer names,
    codes or booleans; the control or None for no offer), or a plan from ``comptoir.promo``
    (its ``offer`` column); ``treatment``: the arm each row actually got, with ``control_name``
    its control; ``propensity``: P(arm | x) per arm, control first, as a (rows, K + 1) array or a
    DataFrame with one column per arm name, or None for a randomised experiment (each arm's share
    of the rows). The inverse-propensity estimate averages 1[T = policy] y / P(T = policy). With
    ``predicted_outcomes`` (the same shape, e.g. ``TLearner.predict_outcomes`` fitted on other
    rows), the doubly-robust estimate adds the model's prediction for the policy's arm and corrects
    it with the same weighting of its residual. Returns ``ipw`` (and ``dr``) with standard errors
    and 95% intervals."""
    if args:
        raise TypeError("policy_value takes treatment= and outcome= by keyword: policy_value(policy, treatment=..., "
                        "outcome=...)")
    if treatment is None or outcome is None:
        raise TypeError("policy_value needs treatment= and outcome=")
    codes, arms = _offers.encode(treatment, control_name)
    if hasattr(policy, "columns") and "offer" in policy.columns:
        policy = policy["offer"]
    elif isinstance(policy, dict) and "offer" in policy:
        policy = policy["offer"]
    chosen = arms.codes(policy, what="policy", none_is_control=True)
    outcome = np.asarray(outcome, dtype=np.float64)
    n = len(outcome)
    if chosen.shape != (n,) or codes.shape != (n,):
        raise InvalidArgumentError("policy, treatment and outcome must be 1-D with one entry per row")
    if np.isnan(outcome).any():
        raise InvalidArgumentError("outcome holds NaN")
    treatment, policy = codes, chosen
    if propensity is None:
        p = (np.bincount(treatment, minlength=len(arms.names)) / n)[policy]
    else:
        table = _offers.columns_for(propensity, arms.names, n, "propensity")
        p = table[np.arange(n), policy]
        if not (p > 0).all():
            raise InvalidArgumentError("some rows have zero propensity for the arm the policy gives them")
    matched = (treatment == policy).astype(np.float64)
    terms = {"ipw": matched * outcome / p}
    if predicted_outcomes is not None:
        predicted = _offers.columns_for(predicted_outcomes, arms.names, n, "predicted_outcomes")
        model = predicted[np.arange(n), policy]
        terms["dr"] = model + matched * (outcome - model) / p
    result: Dict[str, float] = {}
    for name, values in terms.items():
        mean, stderr = float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))
        result[name] = mean
        result[f"{name}_stderr"] = stderr
        result[f"{name}_ci_low"], result[f"{name}_ci_high"] = mean - 1.96 * stderr, mean + 1.96 * stderr
    return result
