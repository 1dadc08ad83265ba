"""Spend a promo budget where it earns most: who gets which offer, for every budget at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

import numpy as np

from . import _core


@dataclass
class OfferPlan:
    """The exact LP budget path of a multiple-choice offer allocation (one offer per customer at
    most), computed once; ``at(budget)`` turns it into an integral allocation."""

    path: Any
    num_customers: int

    @property
    def spend(self) -> np.ndarray:
        return self.path.spend

    @property
    def value(self) -> np.ndarray:
        return self.path.value

    def value_at(self, budget: float) -> float:
        """The LP optimum at ``budget``: an upper bound on what any allocation can earn."""
        return self.path.value_at(float(budget))

    def at(self, budget: float, min_value_per_spend: float = 1.0) -> dict:
        """Integral allocation at ``budget``: ``offer`` per customer (-1 none), ``spend``, ``value``,
        ``profit`` (value - spend), ``roi`` and ``lp_bound``. Segments returning less than
        ``min_value_per_spend`` per unit spent are left out (1.0: never lose money on the margin)."""
        return _core.promo.allocate_at_budget(self.path, self.num_customers, float(budget), float(min_value_per_spend))


def plan_offers(value: Any, cost: Any, n_jobs: int = 0) -> OfferPlan:
    """``value`` and ``cost`` are customers x offers: the expected incremental value of each offer
    (e.g. predicted uplift x margin) and its expected cost (discount given away + contact cost)."""
    value = np.ascontiguousarray(value, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if value.ndim == 1:
        value, cost = value[:, None], cost.reshape(-1, 1)
    return OfferPlan(_core.promo.solve_budget_path(value, cost, int(n_jobs)), value.shape[0])


def allocate(value: Any, cost: Any, budget: float, *, max_customers: Any = None, min_customers: Any = None,
             margin_after_offer: Any = None, min_margin: float = 0.0, contacts_so_far: Any = None, max_contacts: int = 0,
             min_value_per_spend: float = 1.0, n_jobs: int = 0) -> dict:
    """Like ``plan_offers(...).at(budget)`` under business rules, each optional:

    - ``max_customers[j]``: at most this many customers get offer j (0 = no cap);
    - ``min_customers[j]``: at least this many do (0 = none), even at a loss;
    - ``margin_after_offer``: the margin rate a customer's expected basket keeps after an offer's
      discount (customers x offers, or anything that broadcasts to it, such as
      ``basket_margin[:, None] - discounts``); pairs below ``min_margin`` are never chosen;
    - ``contacts_so_far`` per customer: those at ``max_contacts`` or more (0 = no cap) are left out.

    Returns the allocation dict (``offer``, ``spend``, ``value``, ``profit``, ``roi``,
    ``lp_bound``) plus ``prices`` (per offer: positive where a cap binds, negative where a
    minimum needed a subsidy), ``customers_per_offer``, ``pairs_below_margin_floor`` and
    ``customers_at_contact_cap``. Rules that cannot all hold raise ``InfeasibleError`` naming
    what binds."""
    value = np.ascontiguousarray(value, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if value.ndim == 1:
        value, cost = value[:, None], cost.reshape(-1, 1)
    if margin_after_offer is None:
        margin = np.zeros((0,))
    else:
        margin = np.ascontiguousarray(np.broadcast_to(np.asarray(margin_after_offer, dtype=np.float64), value.shape))

    def optional(array: Any, dtype: Any) -> np.ndarray:
        return np.zeros(0, dtype=dtype) if array is None else np.ascontiguousarray(array, dtype=dtype)

    return _core.promo.allocate_with_rules(value, cost, float(budget), optional(max_customers, np.int64),
                                           optional(min_customers, np.int64), margin, float(min_margin),
                                           optional(contacts_so_far, np.int32), int(max_contacts),
                                           float(min_value_per_spend), int(n_jobs))


def allocate_with_parity(value: Any, cost: Any, budget: float, group: Any, max_gap: float, max_iterations: int = 200,
                         n_jobs: int = 0) -> dict:
    """Like ``plan_offers(...).at(budget)`` with the offer rate of every group of ``group`` (a
    customer attribute) within ``max_gap`` of every other's. A Lagrangian subsidy per group and per
    unit spent (``subsidies``, negative for groups held back) is adjusted until the rates meet;
    ``profit`` is the true value minus spend of the result, ``unconstrained_profit`` what the budget
    earns without the constraint (the difference is the price of parity). Raises ``ValueError``
    naming every group's rate and the groups that bind when ``max_iterations`` rounds of
    subsidies do not bring the rates within ``max_gap``."""
    value = np.ascontiguousarray(value, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    group = np.asarray(group)
    if value.ndim != 2 or value.shape != cost.shape or len(group) != len(value):
        raise ValueError("value and cost must be customers x offers and group one label per customer")
    if not max_gap >= 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    labels, codes = np.unique(group, return_inverse=True)
    sizes = np.bincount(codes)
    subsidy = np.zeros(len(labels))
    scale = float(np.median(np.abs(value[value != 0]) / np.maximum(cost[value != 0], 1e-12))) if (value != 0).any() else 1.0
    unconstrained = plan_offers(value, cost, n_jobs).at(budget)

    def allocate(subsidies: np.ndarray) -> Tuple[dict, np.ndarray]:
        adjusted = value + subsidies[codes][:, None] * cost
        result = plan_offers(adjusted, cost, n_jobs).at(budget)
        rates = np.bincount(codes, weights=(np.asarray(result["offer"]) >= 0).astype(float), minlength=len(labels)) / sizes
        return result, rates

    result, rates = allocate(subsidy)
    step = 0.5 * scale
    for _ in range(max_iterations):
        if rates.max() - rates.min() <= max_gap:
            break
        subsidy += step * (rates.mean() - rates) / max(rates.max() - rates.min(), 1e-12)
        step *= 0.97
        result, rates = allocate(subsidy)
    if rates.max() - rates.min() > max_gap:
        spread = ", ".join(f"{label}: {rate:.1%}" for label, rate in zip(labels, rates))
        raise ValueError(f"no allocation at budget {budget:,.0f} keeps offer rates within {max_gap:.1%}: "
                         f"the closest found has {spread} (binding: {labels[np.argmin(rates)]} too low, "
                         f"{labels[np.argmax(rates)]} too high)")
    offer = np.asarray(result["offer"])
    given = np.flatnonzero(offer >= 0)
    spend = float(cost[given, offer[given]].sum())
    earned = float(value[given, offer[given]].sum())
    return {"offer": offer, "spend": spend, "value": earned, "profit": earned - spend, "groups": labels,
            "offer_rates": rates, "subsidies": subsidy, "unconstrained_profit": float(unconstrained["profit"])}


def offer_audit(offer: Any, discounts: Any, group: Any, reference: Any = None, replicates: int = 200,
                random_state: int = 42) -> Any:
    """Who gets offers, by a customer attribute: per group the offer rate and the average discount
    depth (0 for customers without an offer), with their difference and ratio to the ``reference``
    group (default: the largest) and 95% bootstrap intervals. ``offer`` is -1 for none or the
    index into ``discounts``. A DataFrame when pandas is installed, else a list of dicts."""
    offer = np.asarray(offer)
    group = np.asarray(group)
    discounts = np.asarray(discounts, dtype=float)
    if len(offer) != len(group):
        raise ValueError(f"{len(offer)} offers but {len(group)} group labels")
    if offer.size and (offer.max() >= len(discounts) or offer.min() < -1):
        raise ValueError("offer must be -1 (none) or an index into discounts")
    depth = np.where(offer >= 0, discounts[np.clip(offer, 0, None)], 0.0)
    given = (offer >= 0).astype(float)
    labels, codes = np.unique(group, return_inverse=True)
    reference_code = int(np.argmax(np.bincount(codes))) if reference is None else int(np.flatnonzero(labels == reference)[0])
    rng = np.random.default_rng(random_state)

    def stats(index: np.ndarray) -> np.ndarray:
        counts = np.bincount(codes[index], minlength=len(labels)).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.bincount(codes[index], weights=given[index], minlength=len(labels)) / counts
            mean_depth = np.bincount(codes[index], weights=depth[index], minlength=len(labels)) / counts
        return np.stack([rate, mean_depth])

    point = stats(np.arange(len(offer)))
    draws = np.stack([stats(rng.integers(0, len(offer), len(offer))) for _ in range(int(replicates))])
    rows = []
    for g, label in enumerate(labels):
        row = {"group": label, "customers": int(np.sum(codes == g))}
        for k, name in enumerate(("offer_rate", "discount_depth")):
            diff = draws[:, k, g] - draws[:, k, reference_code]
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = draws[:, k, g] / draws[:, k, reference_code]
            row[name] = point[k, g]
            row[f"{name}_difference"] = point[k, g] - point[k, reference_code]
            row[f"{name}_difference_ci"] = tuple(np.nanpercentile(diff, [2.5, 97.5]))
            row[f"{name}_ratio"] = point[k, g] / point[k, reference_code] if point[k, reference_code] else np.nan
            row[f"{name}_ratio_ci"] = tuple(np.nanpercentile(ratio, [2.5, 97.5]))
        rows.append(row)
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)
