"""Figures for the metrics: every function draws on ``ax`` (the current axes when None), gives it a
title, axis labels and a legend, and returns it. matplotlib is imported inside the functions, so
``import comptoir`` never needs it, and nothing here changes matplotlib's global style (no
``rcParams``, no ``plt.style``).

Reference lines (random targeting, perfect calibration) are drawn once per axes: calling a plot
again on the same ``ax`` to compare models adds the model's curve, not a second reference line
or legend entry. The thin wrappers where the metrics live (``metrics.plot_calibration``,
``uplift_metrics.plot_qini``, ``promo.plot_budget_path``, ``recommend.plot_recall_at_k``, ...)
call these."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from .exceptions import InvalidArgumentError

# The gid every reference line carries; the legend lists the first of each kind only.
_REFERENCE = "comptoir-reference"


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def _reference_line(ax: Any, kind: str, x: Sequence[float], y: Sequence[float], label: str, **style: Any) -> None:
    """Draws a dashed reference line unless this axes already has the same one; only the first
    line of its kind gets a legend entry."""
    key = (kind, tuple(np.round(np.asarray(x, dtype=float), 9)), tuple(np.round(np.asarray(y, dtype=float), 9)))
    existing = [line for line in ax.get_lines() if isinstance(line.get_gid(), str) and line.get_gid().startswith(_REFERENCE)]
    if any(getattr(line, "_comptoir_key", None) == key for line in existing):
        return
    first_of_kind = not any(line.get_gid() == f"{_REFERENCE}:{kind}" for line in existing)
    style = {"linestyle": "--", "color": "grey", "linewidth": 1.0, **style}
    (line,) = ax.plot(x, y, label=label if first_of_kind else "_nolegend_", **style)
    line.set_gid(f"{_REFERENCE}:{kind}")
    line._comptoir_key = key


def reference_lines(ax: Any) -> list:
    """The reference lines these plots drew on ``ax`` (random targeting, perfect calibration)."""
    return [line for line in ax.get_lines() if isinstance(line.get_gid(), str) and line.get_gid().startswith(_REFERENCE)]


def _finish(ax: Any, title: str, xlabel: str, ylabel: str) -> Any:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax


def calibration(labels: Any, probabilities: Any, bins: int = 10, ax: Any = None, label: str = "model") -> Any:
    """Observed rate against mean predicted probability per bin, with the expected calibration
    error in the legend and the diagonal of perfect calibration."""
    from .metrics import reliability_curve

    curve = reliability_curve(labels, probabilities, bins)
    ax = _axes(ax)
    _reference_line(ax, "calibration", [0, 1], [0, 1], "perfectly calibrated")
    ax.plot(curve["mean_predicted"], curve["observed_rate"], marker="o",
            label=f"{label} (ECE {curve['expected_calibration_error']:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return _finish(ax, "Calibration", "mean predicted probability", "observed rate")


def gain(labels: Any, scores: Any, ax: Any = None, label: str = "model") -> Any:
    """Cumulative share of positives reached when contacting customers in score order."""
    from .metrics import lift_and_gain

    _, share = lift_and_gain(labels, scores)
    ax = _axes(ax)
    _reference_line(ax, "random", [0, 1], [0, 1], "random targeting")
    ax.plot(np.linspace(0, 1, len(share) + 1), np.r_[0, share], marker="o", label=label)
    return _finish(ax, "Cumulative gain", "share of customers contacted", "share of buyers reached")


def _uplift_curve(kind: str, scores: Any, treatment: Any, outcome: Any, control_name: Any, ax: Any, label: str) -> Any:
    from . import uplift_metrics

    curves = uplift_metrics.uplift_curves(scores, treatment=treatment, outcome=outcome, control_name=control_name)
    metric = uplift_metrics.qini_coefficient_vs_perfect if kind == "qini" else uplift_metrics.auuc_vs_perfect
    coefficient = metric(scores, treatment=treatment, outcome=outcome, control_name=control_name)
    if "targeted" in curves:  # one offer: a single curve, not a dict by offer
        curves, coefficient, several = {None: curves}, {None: coefficient}, False
    else:
        several = True
    ax = _axes(ax)
    name = "Qini coefficient" if kind == "qini" else "AUUC vs perfect"
    for offer, curve in curves.items():
        x = np.r_[0.0, curve["targeted"] / curve["targeted"][-1]]
        y = np.r_[0.0, curve[kind]]
        (line,) = ax.plot(x, y, label=f"{label}{': ' + str(offer) if several else ''} ({name} {coefficient[offer]:.3f})")
        # Random targeting reaches the same total linearly; each offer has its own total.
        _reference_line(ax, kind, [0, 1], [0, y[-1]], "random targeting", color=line.get_color() if several else "grey",
                        alpha=0.6)
    ax.axhline(0, color="black", linewidth=0.5)
    if kind == "qini":
        return _finish(ax, "Qini curve", "share of customers targeted (by predicted uplift)",
                       "incremental responses (treated - scaled control)")
    return _finish(ax, "Uplift curve", "share of customers targeted (by predicted uplift)",
                   "cumulative incremental outcome")


def qini(scores: Any, *, treatment: Any, outcome: Any, control_name: Any = None, ax: Any = None,
         label: str = "model") -> Any:
    """The Qini curve of each offer (one column of ``scores`` per offer, as ``predict`` gives
    them) against random targeting, with Radcliffe's Qini coefficient in the legend."""
    return _uplift_curve("qini", scores, treatment, outcome, control_name, ax, label)


def uplift(scores: Any, *, treatment: Any, outcome: Any, control_name: Any = None, ax: Any = None,
           label: str = "model") -> Any:
    """The uplift (cumulative gain) curve of each offer against random targeting, with the area
    under it divided by a perfect ranking's in the legend."""
    return _uplift_curve("uplift", scores, treatment, outcome, control_name, ax, label)


def contributions(contributions: Any, feature_names: Any = None, top: int = 10, ax: Any = None, customer: Any = None,
                  features: Any = None) -> Any:
    """Per-feature contributions from any ``explain``.

    For one customer (a one-row table, or ``customer=`` picking a row of a DataFrame by its index)
    a waterfall: from the ``base_value`` (the average raw score) each of the ``top`` largest
    contributions moves the score up (blue) or down (red), the rest are one "other features" bar,
    and the last bar ends at the customer's score. With ``features`` (the rows that were explained,
    a DataFrame or array) each bar names the feature's value, "recency_days = 12". For several rows
    without ``customer``: the mean absolute contribution per feature."""
    index = None
    if hasattr(contributions, "columns"):
        feature_names = list(contributions.columns)
        index = contributions.index
        if customer is not None:
            position = index.get_loc(customer) if customer in index else None
            if position is None:
                raise KeyError(f"customer {customer!r} is not in the contributions' index")
            contributions = contributions.iloc[[position]]
            if features is not None and hasattr(features, "loc"):
                features = features.loc[[customer]]
        contributions = contributions.to_numpy()
    values = np.atleast_2d(np.asarray(contributions, dtype=np.float64))
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise InvalidArgumentError(f"{len(names)} feature names for {values.shape[1]} columns")
    base = None
    if names and names[-1] == "base_value":
        base, values, names = values[:, -1], values[:, :-1], names[:-1]
    ax = _axes(ax)
    if values.shape[0] != 1:
        heights = np.abs(values).mean(axis=0)
        order = np.argsort(-heights)[:top][::-1]
        ax.barh([names[j] for j in order], heights[order], color="tab:blue", label="mean |contribution|")
        return _finish(ax, f"What drives the scores ({values.shape[0]:,} rows)",
                       "mean |contribution| to the raw score", "feature")
    row = values[0]
    if customer is None and index is not None and len(index) == 1:
        customer = index[0]
    shown = _feature_values(features, names)
    order = np.argsort(-np.abs(row))[:top]
    rest = np.setdiff1d(np.arange(len(row)), order)
    steps = [(names[j] + (f" = {shown[j]}" if shown is not None else ""), row[j]) for j in order]
    if len(rest):
        steps.append((f"{len(rest)} other features", float(row[rest].sum())))
    start = float(base[0]) if base is not None else 0.0
    running = start
    labels, lefts, widths = [], [], []
    for text, width in steps:
        labels.append(text)
        lefts.append(running)
        widths.append(width)
        running += width
    # The first step on top, as one reads a waterfall.
    positions = np.arange(len(steps))[::-1]
    colours = ["tab:red" if w < 0 else "tab:blue" for w in widths]
    bars = ax.barh(positions, widths, left=lefts, color=colours)
    for bar, width in zip(bars, widths):
        ax.annotate(f"{width:+.3f}", (bar.get_x() + max(width, 0.0), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(positions)
    ax.set_yticklabels(labels)
    ax.margins(x=0.12)  # room for the base value line and the last bar's label
    ax.axvline(start, color="grey", linewidth=0.8, label=f"base value {start:+.3f}" if base is not None else "zero")
    ax.axvline(running, color="black", linewidth=0.8, linestyle=":", label=f"score {running:+.3f}")
    who = f"customer {customer}" if customer is not None else "this row"
    title = f"Why {who} scores {running:+.3f}"
    if base is not None:
        title += f" (base value {start:+.3f})"
    return _finish(ax, title, "raw score (log-odds for a classifier)", "feature")


def _feature_values(features: Any, names: Sequence[str]) -> Optional[list]:
    """The explained row's value of each feature, as short text, or None."""
    if features is None:
        return None
    if hasattr(features, "columns"):
        row = features.iloc[0]
        missing = [n for n in names if n not in row.index]
        if missing:
            raise InvalidArgumentError(f"features has no column for {missing[:3]}")
        raw = [row[n] for n in names]
    else:
        raw = list(np.atleast_2d(np.asarray(features, dtype=object))[0])
        if len(raw) != len(names):
            raise InvalidArgumentError(f"features has {len(raw)} values for {len(names)} features")

    def text(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "missing" if np.isnan(v) else f"{v:.4g}"
        return str(v)

    return [text(v) for v in raw]


def budget_path(plan: Any, budgets: Any = None, ax: Any = None, min_value_per_spend: float = 1.0) -> Any:
    """Profit (expected incremental value - spend) and spend of the plan at each budget (25 from 0
    to what the plan could ever spend, unless ``budgets`` are given), with the budget that earns
    most marked. Spend stays below the budget once no customer is worth more."""
    top = float(np.max(plan.spend)) if len(plan.spend) else 0.0
    grid = np.linspace(0.0, top * 1.05 if top > 0 else 1.0, 25) if budgets is None else np.asarray(budgets, dtype=float)
    attrs = [plan.totals_at(b, min_value_per_spend=min_value_per_spend) for b in grid]
    spend = np.array([a["spend"] for a in attrs], dtype=float)
    profit = np.array([a["profit"] for a in attrs], dtype=float)
    ax = _axes(ax)
    _reference_line(ax, "budget", [grid.min(), grid.max()], [grid.min(), grid.max()], "spend = budget")
    ax.plot(grid, profit, marker=".", label="profit (value - spend)")
    ax.plot(grid, spend, marker=".", label="spend")
    best = int(np.argmax(profit))
    ax.axvline(grid[best], color="tab:green", linewidth=0.8, linestyle=":",
               label=f"most profit: {profit[best]:,.4g} at budget {grid[best]:,.4g}")
    return _finish(ax, "Budget path", "budget", "amount")


def recall_at_k(results: Mapping[str, Mapping[int, float]], ax: Any = None) -> Any:
    """Recall@k (share of next items found in the top k) against k, one line per model:
    ``results`` maps a model's name to ``{k: recall}``."""
    ax = _axes(ax)
    shown = set()
    for name, by_k in results.items():
        ks = sorted(by_k)
        shown.update(ks)
        ax.plot(ks, [by_k[k] for k in ks], marker="o", label=str(name))
    ax.set_xticks(sorted(shown))
    ax.set_ylim(bottom=0)
    return _finish(ax, "Recall@k (next item)", "k (recommendations shown)", "recall@k")


__all__ = ["budget_path", "calibration", "contributions", "gain", "qini", "recall_at_k", "reference_lines", "uplift"]
