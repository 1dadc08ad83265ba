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
    import matplotlib.pyplot as plt

    curve = reliability_curve(labels, probabilities, bins)
    ax = ax or plt.gca()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(curve["mean_predicted"], curve["observed_rate"], marker="o",
            label=f"{label} (ECE {curve['expected_calibration_error']:.3f})")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.legend()
    return ax


def plot_gain(labels: Any, scores: Any, ax: Any = None, label: str = "model") -> Any:
    import matplotlib.pyplot as plt

    _, gain = lift_and_gain(labels, scores)
    ax = ax or plt.gca()
    x = np.linspace(0, 1, len(gain) + 1)
    ax.plot(x, np.r_[0, gain], marker="o", label=label)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set_xlabel("share of customers contacted")
    ax.set_ylabel("share of buyers reached")
    ax.legend()
    return ax


def plot_contributions(contributions: Any, feature_names: Any = None, top: int = 10, ax: Any = None) -> Any:
    """Per-feature contributions from any ``explain``: for one row, a bar per feature of its
    largest contributions (what pushed this customer's score up or down); for several rows, the
    mean absolute contribution per feature (what drives scores overall). The ``base_value`` column,
    when present, is left out of the bars and shown in the title."""
    import matplotlib.pyplot as plt

    if hasattr(contributions, "columns"):
        feature_names = list(contributions.columns)
        contributions = contributions.to_numpy()
    values = np.atleast_2d(np.asarray(contributions, dtype=np.float64))
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ValueError(f"{len(names)} feature names for {values.shape[1]} columns")
    base = None
    if names and names[-1] == "base_value":
        base, values, names = values[:, -1], values[:, :-1], names[:-1]
    single = values.shape[0] == 1
    heights = values[0] if single else np.abs(values).mean(axis=0)
    order = np.argsort(-np.abs(heights))[:top][::-1]
    ax = ax or plt.gca()
    colours = ["tab:red" if h < 0 else "tab:blue" for h in heights[order]]
    ax.barh([names[j] for j in order], heights[order], color=colours)
    ax.axvline(0, color="grey", linewidth=0.8)
    if single:
        ax.set_xlabel("contribution to the score")
        if base is not None:
            ax.set_title(f"base value {base[0]:+.3f}, total {base[0] + values[0].sum():+.3f}")
    else:
        ax.set_xlabel(f"mean |contribution| over {values.shape[0]:,} rows")
    return ax
