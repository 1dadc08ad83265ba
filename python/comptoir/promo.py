"""Spend a promo budget where it earns most: who gets which offer, for every budget at once.

``value`` and ``cost`` are customers x offers: the expected incremental value of each offer (e.g.
predicted uplift x margin) and its expected cost (discount given away + contact cost), passed by
keyword (they are easily swapped). ``value`` is a DataFrame (one column per offer name, indexed by
customer: ``predict``'s output times a margin) or an array (offers "offer 1".., customers 0..n-1);
``cost`` a DataFrame or array of the same shape, one cost per offer (a Series by offer name, or a
sequence), or one number. Costs must be non-negative numbers, values numbers.

A plan at a budget is a table with one row per customer (a DataFrame when pandas is installed,
else a dict of columns): ``customer``, ``offer`` (its name, None for no offer), ``offer_code``
(0 for no offer, k for the k-th offer: the numbering of the uplift learners' integer codes and of
``policy_value``), ``cost``, ``expected_incremental_value`` and ``reason`` (the main reason an
uplift model gives for the customer's predicted effect, passed as ``reasons``, e.g.
``model.main_reasons(X)``; else the economics of the choice). The totals (``spend``, ``value``,
``profit``, ``roi``, ``lp_bound``, ...) are in the table's ``attrs``."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import _core
from .exceptions import InvalidArgumentError


@dataclass
class _Offers:
    """Checked value and cost matrices, with the offer names and customer ids they carry."""

    value: np.ndarray
    cost: np.ndarray
    names: List[str]
    customers: Any
    reasons: Optional[np.ndarray]


def _keywords_only(function: str, args: Tuple[Any, ...]) -> None:
    if args:
        raise TypeError(f"{function} takes value= and cost= by keyword: {function}(value=..., cost=...), so the two "
                        "matrices cannot be swapped silently")


def _offers_of(value: Any, cost: Any, reasons: Any = None) -> _Offers:
    if value is None or cost is None:
        raise TypeError("value= and cost= are both required")
    if hasattr(value, "columns"):
        names = [str(c) for c in value.columns]
        customers = np.asarray(value.index)
        matrix = value.to_numpy(dtype=np.float64)
    else:
        matrix = np.asarray(value, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = matrix[:, None]
        if matrix.ndim != 2:
            raise InvalidArgumentError(f"value must be customers x offers, got shape {matrix.shape}")
        names = [f"offer {k}" for k in range(1, matrix.shape[1] + 1)]
        customers = np.arange(matrix.shape[0])
    n, offers = matrix.shape
    if isinstance(cost, dict):
        unknown = sorted(set(map(str, cost)) - set(names))
        if unknown or len(cost) != offers:
            raise InvalidArgumentError(f"cost by offer name must give each of {names} one cost, got {sorted(map(str, cost))}")
        cost = np.array([float({str(k): v for k, v in cost.items()}[name]) for name in names])
    if hasattr(cost, "columns"):
        columns = [str(c) for c in cost.columns]
        if sorted(columns) != sorted(names):
            raise InvalidArgumentError(f"cost has columns {columns} but value has {names}")
        costs = cost[[cost.columns[columns.index(name)] for name in names]].to_numpy(dtype=np.float64)
    elif hasattr(cost, "index") and hasattr(cost, "to_numpy") and np.ndim(cost) == 1 and \
            set(str(i) for i in cost.index) == set(names):
        costs = np.broadcast_to(np.array([float(cost[[i for i in cost.index if str(i) == name][0]]) for name in names]),
                                matrix.shape)
    else:
        costs = np.asarray(cost, dtype=np.float64)
        if costs.ndim == 1 and offers == 1 and len(costs) == n:
            costs = costs[:, None]
        try:
            costs = np.broadcast_to(costs, matrix.shape)
        except ValueError:
            raise InvalidArgumentError(f"cost has shape {costs.shape}, which does not fit value's {matrix.shape} (customers x "
                             "offers): give one cost per offer, one per customer and offer, or one number") from None
    _check_finite(matrix, "value", names, customers)
    bad = ~np.isfinite(costs) | (costs < 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InvalidArgumentError(f"cost must be a non-negative number for every customer and offer: {int(bad.sum())} are NaN, "
                         f"infinite or negative (first: customer {customers[i]!r}, offer {names[j]!r}: {costs[i, j]})")
    text = None
    if reasons is not None:
        text = np.asarray(reasons.to_numpy() if hasattr(reasons, "to_numpy") else reasons, dtype=object)
        if hasattr(reasons, "columns") and [str(c) for c in reasons.columns] != names:
            raise InvalidArgumentError(f"reasons has columns {[str(c) for c in reasons.columns]} but value has {names}")
        if text.ndim == 1:
            text = np.repeat(text[:, None], offers, axis=1)
        if text.shape != matrix.shape:
            raise InvalidArgumentError(f"reasons must be customers x offers {matrix.shape} (or one per customer), got {text.shape}")
    return _Offers(np.ascontiguousarray(matrix), np.ascontiguousarray(costs), names, customers, text)


def _check_finite(matrix: np.ndarray, what: str, names: List[str], customers: Any) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InvalidArgumentError(f"{what} holds {int(bad.sum())} NaN or infinite entries (first: customer {customers[i]!r}, "
                         f"offer {names[j]!r})")


def _plan_table(offers: _Offers, chosen: np.ndarray, totals: Dict[str, Any], min_value_per_spend: float) -> Any:
    """The plan as a table: one row per customer; ``chosen`` is the C++ allocation's offer
    (-1 for none, else 0-based), the only place that numbering exists."""
    chosen = np.asarray(chosen, dtype=np.int64)
    n = len(chosen)
    given = chosen >= 0
    rows = np.arange(n)
    column = np.maximum(chosen, 0)
    cost = np.where(given, offers.cost[rows, column], 0.0)
    value = np.where(given, offers.value[rows, column], 0.0)
    names = np.array(offers.names, dtype=object)
    offer = np.where(given, names[column], None)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(offers.cost > 0, offers.value / offers.cost, np.where(offers.value > 0, np.inf, 0.0))
    best = ratio.argmax(axis=1)
    reason = np.empty(n, dtype=object)
    for i in range(n):
        if given[i]:
            reason[i] = (offers.reasons[i, chosen[i]] if offers.reasons is not None else
                         f"expected incremental value {value[i]:.4g} for a cost of {cost[i]:.4g}")
        elif ratio[i, best[i]] < min_value_per_spend:
            reason[i] = (f"no offer earns its cost (best: {names[best[i]]!r}, {ratio[i, best[i]]:.3g} per unit spent)"
                         if np.isfinite(ratio[i, best[i]]) else "no offer adds value")
        else:
            reason[i] = "the budget went to customers who return more per unit spent"
    columns = {"customer": offers.customers, "offer": offer, "offer_code": np.where(given, chosen + 1, 0),
               "cost": cost, "expected_incremental_value": value, "reason": reason}
    attrs = dict(totals)
    attrs["offer_names"] = list(offers.names)
    try:
        import pandas as pd
    except ImportError:
        return {**columns, **attrs}
    table = pd.DataFrame(columns)
    table.attrs.update(attrs)
    return table


def _totals(allocation: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in allocation.items() if k != "offer"}


@dataclass
class OfferPlan:
    """The exact LP budget path of a multiple-choice offer allocation (one offer per customer at
    most), computed once; ``at(budget)`` turns it into an integral allocation."""

    path: Any
    num_customers: int
    offers: Optional[_Offers] = None

    @property
    def spend(self) -> np.ndarray:
        return self.path.spend

    @property
    def value(self) -> np.ndarray:
        return self.path.value

    @property
    def offer_names(self) -> List[str]:
        return list(self.offers.names) if self.offers is not None else []

    def value_at(self, budget: float) -> float:
        """The LP optimum at ``budget``: an upper bound on what any allocation can earn."""
        return self.path.value_at(float(budget))

    def at(self, budget: float, min_value_per_spend: float = 1.0) -> Any:
        """The integral allocation at ``budget`` as a plan table (see the module's docstring), with
        ``spend``, ``value``, ``profit`` (value - spend), ``roi`` and ``lp_bound`` in its
        ``attrs``. Segments returning less than ``min_value_per_spend`` per unit spent are left
        out (1.0: never lose money on the margin)."""
        allocation = _core.promo.allocate_at_budget(self.path, self.num_customers, float(budget), float(min_value_per_spend))
        totals = _totals(allocation)
        totals["budget"] = float(budget)
        return _plan_table(self.offers, allocation["offer"], totals, float(min_value_per_spend))

    def totals_at(self, budget: float, min_value_per_spend: float = 1.0) -> Dict[str, Any]:
        """The totals of ``at(budget)`` (``spend``, ``value``, ``profit``, ``roi``, ``lp_bound``)
        without building the table: what a budget path plot reads at each budget."""
        allocation = _core.promo.allocate_at_budget(self.path, self.num_customers, float(budget), float(min_value_per_spend))
        return {**_totals(allocation), "budget": float(budget)}


def plot_budget_path(plan: OfferPlan, budgets: Any = None, ax: Any = None, min_value_per_spend: float = 1.0) -> Any:
    """Profit and spend of ``plan.at(budget)`` against the budget (``comptoir.plots.budget_path``)."""
    from . import plots

    return plots.budget_path(plan, budgets=budgets, ax=ax, min_value_per_spend=min_value_per_spend)


def plan_offers(*args: Any, value: Any = None, cost: Any = None, reasons: Any = None, n_jobs: int = 0) -> OfferPlan:
    """The budget path of ``value`` and ``cost`` (see the module's docstring), from which
    ``at(budget)`` reads the plan at any budget. ``reasons``: the text a plan quotes per customer
    and offer (``model.main_reasons(X)``), or one per customer."""
    _keywords_only("plan_offers", args)
    offers = _offers_of(value, cost, reasons)
    return OfferPlan(_core.promo.solve_budget_path(offers.value, offers.cost, int(n_jobs)), offers.value.shape[0], offers)


@contextlib.contextmanager
def _offers_named(offers: _Offers) -> Iterator[None]:
    """The core's errors name offers by their 0-based column; they are re-raised naming them as
    the caller does."""
    from .exceptions import ComptoirError

    try:
        yield
    except ComptoirError as error:
        text = re.sub(r"\boffer (\d+)\b", lambda m: (f"offer {offers.names[int(m.group(1))]!r}"
                                                    if int(m.group(1)) < len(offers.names) else m.group(0)), str(error))
        raise type(error)(text) from None


def _per_offer(values: Any, offers: _Offers, what: str, dtype: Any) -> np.ndarray:
    """A per-offer rule (a sequence in the offers' order, or a dict / Series by offer name)."""
    if values is None:
        return np.zeros(0, dtype=dtype)
    if isinstance(values, dict) or (hasattr(values, "index") and hasattr(values, "to_dict")):
        given = {str(k): v for k, v in dict(values).items()}
        unknown = set(given) - set(offers.names)
        if unknown:
            raise InvalidArgumentError(f"{what} names {sorted(unknown)}, which are not offers ({offers.names})")
        return np.array([given.get(name, 0) for name in offers.names], dtype=dtype)
    return np.ascontiguousarray(values, dtype=dtype)


def allocate(*args: Any, value: Any = None, cost: Any = None, budget: float, max_customers: Any = None,
             min_customers: Any = None, margin_after_offer: Any = None, min_margin: float = 0.0,
             contacts_so_far: Any = None, max_contacts: int = 0, min_value_per_spend: float = 1.0,
             reasons: Any = None, n_jobs: int = 0) -> Any:
    """Like ``plan_offers(...).at(budget)`` under business rules, each optional:

    - ``max_customers``: per offer (in the offers' order, or a dict by offer name), at most this
      many customers get it (0 = no cap);
    - ``min_customers``: at least this many do (0 = none), even at a loss;
    - ``margin_after_offer``: the margin rate a customer's expected basket keeps after an offer's
      discount (customers x offers, or anything that broadcasts to it, such as
      ``basket_margin[:, None] - discounts``); pairs below ``min_margin`` are never chosen;
    - ``contacts_so_far`` per customer: those at ``max_contacts`` or more (0 = no cap) are left out.

    Returns the plan table with, in its ``attrs``, the totals plus ``prices`` (per offer:
    positive where a cap binds, negative where a minimum needed a subsidy),
    ``customers_per_offer``, ``pairs_below_margin_floor`` and ``customers_at_contact_cap``. Rules
    that cannot all hold raise ``InfeasibleError`` naming what binds."""
    _keywords_only("allocate", args)
    offers = _offers_of(value, cost, reasons)
    if margin_after_offer is None:
        margin = np.zeros((0,))
    else:
        margin = np.ascontiguousarray(np.broadcast_to(np.asarray(margin_after_offer, dtype=np.float64), offers.value.shape))

    def optional(array: Any, dtype: Any) -> np.ndarray:
        return np.zeros(0, dtype=dtype) if array is None else np.ascontiguousarray(array, dtype=dtype)

    with _offers_named(offers):
        result = _core.promo.allocate_with_rules(offers.value, offers.cost, float(budget),
                                                 _per_offer(max_customers, offers, "max_customers", np.int64),
                                                 _per_offer(min_customers, offers, "min_customers", np.int64), margin,
                                                 float(min_margin), optional(contacts_so_far, np.int32), int(max_contacts),
                                                 float(min_value_per_spend), int(n_jobs))
    totals = _totals(result)
    totals["budget"] = float(budget)
    return _plan_table(offers, result["offer"], totals, float(min_value_per_spend))


def allocate_with_parity(*args: Any, value: Any = None, cost: Any = None, budget: float, group: Any, max_gap: float,
                         max_iterations: int = 200, reasons: Any = None, n_jobs: int = 0) -> Any:
    """Like ``plan_offers(...).at(budget)`` with the offer rate of every group of ``group`` (a
    customer attribute) within ``max_gap`` of every other's. A Lagrangian subsidy per group and per
    unit spent (``subsidies``, negative for groups held back) is adjusted until the rates meet.
    Returns the plan table; its ``attrs`` hold ``spend``, ``value``, ``profit`` (the true value
    minus spend of the result), ``groups``, ``offer_rates``, ``subsidies`` and
    ``unconstrained_profit`` (what the budget earns without the constraint: the difference is the
    price of parity). Raises ``ValueError`` naming every group's rate and the groups that bind
    when ``max_iterations`` rounds of subsidies do not bring the rates within ``max_gap``."""
    _keywords_only("allocate_with_parity", args)
    offers = _offers_of(value, cost, reasons)
    value, cost = offers.value, offers.cost
    group = np.asarray(group)
    if len(group) != len(value):
        raise InvalidArgumentError(f"group must hold one label per customer: {len(group)} labels for {len(value)} customers")
    if not max_gap >= 0:
        raise InvalidArgumentError(f"max_gap must be >= 0, got {max_gap}")
    labels, codes = np.unique(group, return_inverse=True)
    sizes = np.bincount(codes)
    subsidy = np.zeros(len(labels))
    scale = float(np.median(np.abs(value[value != 0]) / np.maximum(cost[value != 0], 1e-12))) if (value != 0).any() else 1.0

    def solve(adjusted: np.ndarray) -> Dict[str, Any]:
        path = _core.promo.solve_budget_path(np.ascontiguousarray(adjusted), cost, int(n_jobs))
        return _core.promo.allocate_at_budget(path, len(value), float(budget), 1.0)

    unconstrained = solve(value)

    def allocate(subsidies: np.ndarray) -> Tuple[Dict[str, Any], np.ndarray]:
        result = solve(value + subsidies[codes][:, None] * cost)
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
        raise InvalidArgumentError(f"no allocation at budget {budget:,.0f} keeps offer rates within {max_gap:.1%}: "
                         f"the closest found has {spread} (binding: {labels[np.argmin(rates)]} too low, "
                         f"{labels[np.argmax(rates)]} too high)")
    offer = np.asarray(result["offer"])
    given = np.flatnonzero(offer >= 0)
    spend = float(cost[given, offer[given]].sum())
    earned = float(value[given, offer[given]].sum())
    totals = {"spend": spend, "value": earned, "profit": earned - spend, "roi": earned / spend if spend > 0 else 0.0,
              "budget": float(budget), "groups": labels, "offer_rates": rates, "subsidies": subsidy,
              "unconstrained_profit": float(unconstrained["profit"])}
    return _plan_table(offers, offer, totals, 1.0)


def offer_audit(plan: Any, discounts: Any, group: Any, reference: Any = None, replicates: int = 200,
                random_state: int = 42) -> Any:
    """Who gets offers, by a customer attribute: per group the offer rate and the average discount
    depth (0 for customers without an offer), with their difference and ratio to the ``reference``
    group (default: the largest) and 95% bootstrap intervals. ``plan``: a plan table from this
    module, or offer codes per customer (0 for none, k for the k-th offer); ``discounts``: the
    depth of each offer, in the offers' order or as a dict / Series by offer name. A DataFrame
    when pandas is installed, else a list of dicts."""
    names = None
    if hasattr(plan, "columns") or isinstance(plan, dict):
        names = plan.attrs.get("offer_names") if hasattr(plan, "attrs") else plan.get("offer_names")
        plan = plan["offer_code"]
    code = np.asarray(plan)
    if code.dtype.kind not in "iu":
        raise InvalidArgumentError(f"offer codes must be integers (0 for none, k for the k-th offer), got dtype {code.dtype}")
    if isinstance(discounts, dict) or (hasattr(discounts, "index") and hasattr(discounts, "to_dict")):
        if names is None:
            raise InvalidArgumentError("discounts by offer name need a plan table, which names its offers")
        given_depths = {str(k): float(v) for k, v in dict(discounts).items()}
        missing = [n for n in names if n not in given_depths]
        if missing:
            raise InvalidArgumentError(f"discounts has no depth for the offers {missing}")
        discounts = [given_depths[n] for n in names]
    offer = code.astype(np.int64) - 1
    group = np.asarray(group)
    discounts = np.asarray(discounts, dtype=float)
    if len(offer) != len(group):
        raise InvalidArgumentError(f"{len(offer)} offers but {len(group)} group labels")
    if offer.size and (offer.max() >= len(discounts) or offer.min() < -1):
        raise InvalidArgumentError(f"offer codes must be 0 (none) or 1..{len(discounts)} (one discount per offer)")
    depth = np.where(offer >= 0, discounts[np.clip(offer, 0, None)], 0.0)
    given = (offer >= 0).astype(float)
    labels, codes = np.unique(group, return_inverse=True)
    if reference is not None and not np.any(labels == reference):
        raise InvalidArgumentError(f"reference group {reference!r} is not among the groups {labels.tolist()[:20]}")
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
