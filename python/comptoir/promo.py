"""Spend a promo budget where it earns most: who gets which offer, for every budget at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
