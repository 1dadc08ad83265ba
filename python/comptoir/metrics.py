"""Metrics for predicted probabilities against 0/1 outcomes (computed in C++)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from . import _core
from ._tabular import feature_drift  # noqa: F401  (re-exported: drift belongs with the metrics)


def _pair(scores: Any, labels: Any) -> Tuple[np.ndarray, np.ndarray]:
    return np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(np.uint8)


def roc_auc_score(labels: Any, scores: Any) -> float:
    """ROC-AUC; tied scores count half."""
    s, y = _pair(scores, labels)
    return _core.binary_metrics.roc_auc(s, y)


def average_precision_score(labels: Any, scores: Any) -> float:
    s, y = _pair(scores, labels)
    return _core.binary_metrics.average_precision(s, y)


def log_loss(labels: Any, probabilities: Any) -> float:
    p, y = _pair(probabilities, labels)
    return _core.binary_metrics.log_loss(p, y)


def log_loss_gain(labels: Any, probabilities: Any) -> float:
    """Share of the base-rate model's log loss the model removes (0 = no better than the base rate)."""
    y = np.asarray(labels).astype(np.uint8)
    base = log_loss(y, np.full(len(y), y.mean()))
    return 1.0 - log_loss(y, probabilities) / base


def brier_score(labels: Any, probabilities: Any) -> float:
    p, y = _pair(probabilities, labels)
    return _core.binary_metrics.brier(p, y)


def reliability_curve(labels: Any, probabilities: Any, bins: int = 10) -> Dict[str, Any]:
    """Mean predicted vs observed rate per equal-width bin, and the expected calibration error."""
    p, y = _pair(probabilities, labels)
    return _core.binary_metrics.reliability(p, y, int(bins))


def expected_calibration_error(labels: Any, probabilities: Any, bins: int = 10) -> float:
    return float(reliability_curve(labels, probabilities, bins)["expected_calibration_error"])


def lift_and_gain(labels: Any, scores: Any, groups: int = 10) -> Tuple[np.ndarray, np.ndarray]:
    """Per score decile (best first): lift over the base rate and cumulative share of positives."""
    s, y = _pair(scores, labels)
    return _core.binary_metrics.lift_and_gain(s, y, int(groups))


def plot_calibration(labels: Any, probabilities: Any, bins: int = 10, ax: Any = None, label: str = "model") -> Any:
    """Reliability diagram with the ECE in the legend (``comptoir.plots.calibration``)."""
    from . import plots

    return plots.calibration(labels, probabilities, bins=bins, ax=ax, label=label)


def plot_gain(labels: Any, scores: Any, ax: Any = None, label: str = "model") -> Any:
    """Cumulative gain chart (``comptoir.plots.gain``)."""
    from . import plots

    return plots.gain(labels, scores, ax=ax, label=label)


def plot_contributions(contributions: Any, feature_names: Any = None, top: int = 10, ax: Any = None, customer: Any = None,
                       features: Any = None) -> Any:
    """One customer's contributions as a waterfall from the base value to the score, bars named
    with the feature's value when ``features`` are given; several rows as mean |contribution|
    (``comptoir.plots.contributions``)."""
    from . import plots

    return plots.contributions(contributions, feature_names, top=top, ax=ax, customer=customer, features=features)
