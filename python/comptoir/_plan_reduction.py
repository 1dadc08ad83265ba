"""The offer plan across partitions: ``comptoir.promo.plan_offers(value=..., cost=...).at(budget)``
on the gathered rows (partitions in order, rows in order within each), from small rounds.

The single-machine plan walks all customers' convex-hull segments sorted by value per unit spent
(ties by customer position, then by cost), taking each that still fits. Each partition computes
its own segments with the same C++ code; a segment's place is the key (-slope, partition, row,
cost), the single-machine order because (partition, row) orders rows as the gathered table does.
The walk takes every segment before the first that no longer fits (the *critical* segment, the
budget's price). That prefix is found from per-partition sums above sampled slopes: each
partition sends ``_SAMPLES`` slopes, then its cost above each of at most ``_THRESHOLDS`` of them,
then the segments between the two thresholds that bracket the price. After the price only
segments no dearer than the budget left over can still fit: they are fetched in rounds and walked
on the client as the single machine walks them. Each partition then assigns its own customers.
An engine runs a round with ``each(function, *args) -> [result per partition]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._distributed import InfeasibleBudgetError, PartitionError, check_columns, check_id_kinds, id_kind


@dataclass
class OfferSpec:
    """The offers' columns and costs, as every partition reads them."""

    offers: List[str]
    cost: Any = None                          # number, per-offer list, or {offer: number or column}
    cost_columns: Dict[str, str] = field(default_factory=dict)
    n_jobs: int = 1
    reasons: Dict[str, str] = field(default_factory=dict)  # offer -> column of the reason a plan quotes

    @staticmethod
    def of(columns: Sequence[str], offers: Optional[Sequence[str]], cost: Any, id_column: Optional[str],
           reasons: Optional[Dict[str, str]] = None) -> "OfferSpec":
        spec = OfferSpec._of(columns, offers, cost, id_column)
        if reasons is not None:
            if sorted(map(str, reasons)) != sorted(spec.offers):
                raise PartitionError(None, f"reasons must name a column for each of {spec.offers}, got {sorted(reasons)}")
            spec.reasons = {str(k): str(v) for k, v in reasons.items()}
        return spec

    @staticmethod
    def _of(columns: Sequence[str], offers: Optional[Sequence[str]], cost: Any, id_column: Optional[str]) -> "OfferSpec":
        names = [str(c) for c in (offers if offers is not None else [c for c in columns if c != id_column])]
        if not names:
            raise PartitionError(None, "value has no offer columns")
        if isinstance(cost, dict) or (hasattr(cost, "to_dict") and not hasattr(cost, "columns")):
            given = {str(k): v for k, v in dict(cost).items()}
            unknown = sorted(set(given) - set(names))
            if unknown or len(given) != len(names):
                raise PartitionError(None, f"cost by offer name must give each of {names} one cost, got {sorted(given)}")
            columns_ = {k: v for k, v in given.items() if isinstance(v, str)}
            return OfferSpec(names, [0.0 if isinstance(given[n], str) else float(given[n]) for n in names], columns_)
        if hasattr(cost, "columns") or cost is None:
            raise PartitionError(None, "cost must be a number, one number per offer, or {offer: number or column name}")
        return OfferSpec(names, cost)

    def matrices(self, frame: Any) -> Tuple[np.ndarray, np.ndarray]:
        check_columns(frame, self.offers + sorted(set(self.cost_columns.values())), "offer value and cost")
        value = frame[self.offers].to_numpy(dtype=np.float64)
        cost = np.array(np.broadcast_to(np.asarray(self.cost, dtype=np.float64), value.shape))
        for j, name in enumerate(self.offers):
            if name in self.cost_columns:
                cost[:, j] = frame[self.cost_columns[name]].to_numpy(dtype=np.float64)
        return value, cost

    def offers_of(self, frame: Any, ids: Any) -> Any:
        """The partition's checked offers, as ``comptoir.promo`` reads them."""
        import pandas as pd

        from .promo import _offers_of

        value, cost = self.matrices(frame)
        reasons = None
        if self.reasons:
            check_columns(frame, [self.reasons[o] for o in self.offers], "reason")
            reasons = frame[[self.reasons[o] for o in self.offers]].to_numpy(dtype=object)
        return _offers_of(pd.DataFrame(value, columns=self.offers, index=ids), cost, reasons)


# A segment's key in the single machine's order, as a tuple (-slope, partition, row, cost):
# smaller is earlier. Arrays hold the same four fields per segment.

Key = Tuple[float, int, int, float]
NO_KEY: Key = (np.inf, 0, 0, 0.0)  # after every segment


@dataclass
class Segments:
    """One partition's hull segments in its own order (the single machine's order restricted to it)."""

    partition: int
    rows: int
    slope: np.ndarray
    cost: np.ndarray
    value: np.ndarray
    row: np.ndarray
    from_offer: np.ndarray
    to_offer: np.ndarray
    id_kind: str

    def before(self, key: Key) -> int:
        """How many of the segments come before ``key`` (they are a prefix)."""
        neg, p, r, c = key
        ns = -self.slope
        earlier = (ns < neg) | ((ns == neg) & ((self.partition < p) | ((self.partition == p) & (
            (self.row < r) | ((self.row == r) & (self.cost < c))))))
        return int(np.count_nonzero(earlier))

    def key(self, i: int) -> Key:
        return (float(-self.slope[i]), self.partition, int(self.row[i]), float(self.cost[i]))


def partition_segments(frame: Any, partition: int, spec: OfferSpec, ids: Any) -> Segments:
    """The partition's segments, from the same C++ hull code the single machine runs."""
    from . import _core

    offers = spec.offers_of(frame, ids)
    value, cost = offers.value, offers.cost
    path = _core.promo.solve_budget_path(value, cost, int(spec.n_jobs))
    row = np.asarray(path.customer, dtype=np.int64)
    to = np.asarray(path.to_offer, dtype=np.int64)
    frm = np.asarray(path.from_offer, dtype=np.int64)
    # The C++ hull's own arithmetic, so that slopes and their ties are bit for bit the same.
    dc = cost[row, to] - np.where(frm >= 0, cost[row, np.maximum(frm, 0)], 0.0)
    dv = value[row, to] - np.where(frm >= 0, value[row, np.maximum(frm, 0)], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(dc > 0, dv / np.where(dc > 0, dc, 1.0), np.inf)
    return Segments(partition, len(value), slope, dc, dv, row, frm.astype(np.int32), to.astype(np.int32), id_kind(ids))


# Rounds: each is a function of one partition's Segments returning a small result. An engine runs
# one with ``each(function, *args) -> [result per partition]``.

_SAMPLES = 64       # slopes each partition samples
_THRESHOLDS = 1024  # slopes every partition sums its costs above (the price lies between two of them)


def round_summary(s: Segments, min_value_per_spend: float) -> Dict[str, Any]:
    """The first segment the single machine would stop at (value per spend below the floor),
    evenly spaced slopes to bracket the price with, and the partition's id type."""
    stop = np.flatnonzero((s.cost > 0) & (s.value < min_value_per_spend * s.cost))
    step = max(1, -(-len(s.slope) // _SAMPLES))
    return {"partition": s.partition, "stop": s.key(int(stop[0])) if len(stop) else NO_KEY,
            "samples": s.slope[::step].copy(), "id_kind": s.id_kind, "rows": s.rows, "segments": len(s.slope)}


def round_spend_above(s: Segments, thresholds: np.ndarray, limits: Sequence[Key]) -> np.ndarray:
    """Per query (limit) and threshold t: the cost of the partition's segments before the limit
    with slope > t (thresholds sorted increasing)."""
    out = np.zeros((len(limits), len(thresholds)))
    for q, limit in enumerate(limits):
        n = s.before(limit)
        slope = s.slope[:n]  # decreasing
        cumulative = np.r_[0.0, np.cumsum(s.cost[:n])]
        above = np.searchsorted(-slope, -thresholds, side="left")  # how many have slope > t
        out[q] = cumulative[above]
    return out


def round_bracket(s: Segments, brackets: Sequence[Tuple[float, float]], limits: Sequence[Key]) -> List[Dict[str, Any]]:
    """Per query: the cost and value of the partition's segments above the bracket, and the
    segments inside it (low < slope <= high), with their keys."""
    result = []
    for (low, high), limit in zip(brackets, limits):
        n = s.before(limit)
        slope = s.slope[:n]
        above = int(np.count_nonzero(slope > high))
        inside = np.arange(above, above + int(np.count_nonzero((slope > low) & (slope <= high))))
        result.append({"cost": float(np.sum(s.cost[:above])), "value": float(np.sum(s.value[:above])),
                       "slope": slope[inside], "partition": np.full(len(inside), s.partition),
                       "row": s.row[inside], "seg_cost": s.cost[inside], "seg_value": s.value[inside]})
    return result


def round_tail(s: Segments, critical: Key, after: Key, limit: Key, room: float, cap: int) -> Dict[str, Any]:
    """The first ``cap`` segments after ``after`` (and before the limit) that could still fit:
    each customer's leading run, from the critical segment on, of segments no dearer than
    ``room`` (a customer's later segments build on its earlier ones, so once one cannot fit none
    after it can); ``more`` says whether others follow."""
    start, end = s.before(critical), s.before(limit)
    index = np.arange(start, end)
    rows = s.row[index]
    fits = s.cost[index] <= room
    order = np.lexsort((index, rows))
    misfit = (~fits[order]).astype(np.int64)
    group = np.cumsum(np.r_[True, rows[order][1:] != rows[order][:-1]]) - 1 if len(order) else np.zeros(0, np.int64)
    failures = np.cumsum(misfit)
    before_group = (failures - misfit)[np.r_[0, np.flatnonzero(np.diff(group)) + 1]] if len(order) else failures
    broken = np.zeros(len(index), dtype=bool)
    broken[order] = failures - before_group[group] > 0
    keep = index[~broken]
    first = s.before(after)
    keep = keep[keep >= first + (1 if first < end and s.key(first) == after else 0)]
    more = len(keep) > cap
    keep = keep[:cap]
    return {"slope": s.slope[keep], "partition": np.full(len(keep), s.partition), "row": s.row[keep],
            "seg_cost": s.cost[keep], "seg_value": s.value[keep], "from": s.from_offer[keep], "to": s.to_offer[keep],
            "more": more, "last": s.key(int(keep[-1])) if more else None}


def _concat(parts: Sequence[Dict[str, Any]], names: Sequence[str]) -> Dict[str, np.ndarray]:
    return {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0) for name in names}


def _in_order(table: Dict[str, np.ndarray]) -> np.ndarray:
    return np.lexsort((table["seg_cost"], table["row"], table["partition"], -table["slope"]))


@dataclass
class PlanDecision:
    """The global reduction's result: every partition takes its segments before ``critical`` (and
    before ``limit``), then the ``tail`` ones listed for it."""

    critical: Key
    limit: Key
    tail: Dict[int, Tuple[np.ndarray, np.ndarray]]  # partition -> (rows, offers)
    totals: Dict[str, Any]


def _critical(each: Callable[..., List[Any]], summaries: List[Dict[str, Any]], queries: List[Tuple[float, Key]]
              ) -> List[Tuple[Key, float, float, float, float]]:
    """Per query (threshold B, limit): the first segment (before the limit) at which the
    cumulative cost passes B, with the cost and value before it and its own cost and value
    (NO_KEY and the totals when the cumulative cost never passes B)."""
    samples = np.unique(np.concatenate([s["samples"] for s in summaries] + [np.array([0.0, np.inf])]))
    if len(samples) > _THRESHOLDS:
        samples = np.unique(np.r_[samples[np.linspace(0, len(samples) - 1, _THRESHOLDS).astype(int)], 0.0, np.inf])
    limits = [limit for _, limit in queries]
    spend = np.sum(each(round_spend_above, samples, limits), axis=0)  # queries x thresholds
    brackets = []
    for q, (threshold, _) in enumerate(queries):
        fitting = np.flatnonzero(spend[q] <= threshold)  # spend falls as t grows: a suffix of thresholds
        high = samples[fitting[0]]
        low = samples[fitting[0] - 1] if fitting[0] > 0 else -np.inf
        brackets.append((float(low), float(high)))
    per_partition = each(round_bracket, brackets, limits)
    results = []
    for q, (threshold, _) in enumerate(queries):
        parts = [p[q] for p in per_partition]
        cost, value = sum(p["cost"] for p in parts), sum(p["value"] for p in parts)
        table = _concat(parts, ("slope", "partition", "row", "seg_cost", "seg_value"))
        found = None
        for i in _in_order(table):
            if cost + table["seg_cost"][i] > threshold:
                found = i
                break
            cost += table["seg_cost"][i]
            value += table["seg_value"][i]
        if found is None:
            results.append((NO_KEY, cost, value, 0.0, 0.0))
        else:
            key = (float(-table["slope"][found]), int(table["partition"][found]), int(table["row"][found]),
                   float(table["seg_cost"][found]))
            results.append((key, cost, value, float(table["seg_cost"][found]), float(table["seg_value"][found])))
    return results


_TAIL_ROUND = 8192  # segments per partition and round of the tail walk


def _walk_tail(each: Callable[..., List[Any]], critical: Key, limit: Key, allowed: float, spend: float, value: float
               ) -> Tuple[float, float, Dict[int, Tuple[np.ndarray, np.ndarray]]]:
    """The single machine's walk past the critical segment (whose customer it blocks), over the
    segments that still fit, fetched in rounds: each round walks up to the earliest point where
    a partition has more to send, and the room left only shrinks."""
    state: Dict[Tuple[int, int], int] = {}
    blocked = {(critical[1], critical[2])}
    taken: Dict[int, Dict[int, int]] = {}
    after = critical
    while True:
        parts = each(round_tail, critical, after, limit, allowed - spend, _TAIL_ROUND)
        frontier = min((p["last"] for p in parts if p["more"]), default=None)
        table = _concat(parts, ("slope", "partition", "row", "seg_cost", "seg_value", "from", "to"))
        for i in _in_order(table):
            key = (float(-table["slope"][i]), int(table["partition"][i]), int(table["row"][i]), float(table["seg_cost"][i]))
            if frontier is not None and key > frontier:
                break
            customer = key[1], key[2]
            if customer in blocked or state.get(customer, int(table["from"][i])) != int(table["from"][i]):
                continue
            if spend + table["seg_cost"][i] > allowed:
                blocked.add(customer)
                continue
            state[customer] = int(table["to"][i])
            taken.setdefault(customer[0], {})[customer[1]] = int(table["to"][i])
            spend += float(table["seg_cost"][i])
            value += float(table["seg_value"][i])
        if frontier is None:
            break
        after = frontier
    tail = {p: (np.fromiter(t.keys(), dtype=np.int64), np.fromiter(t.values(), dtype=np.int32)) for p, t in taken.items()}
    return spend, value, tail


def solve_plan(each: Callable[..., List[Any]], budget: float, min_value_per_spend: float) -> PlanDecision:
    """The single machine's ``AllocateAtBudget`` on the gathered segments, from small rounds."""
    budget = float(budget)
    if not np.isfinite(budget) or budget < 0:
        raise InfeasibleBudgetError(None, f"no plan can meet a budget of {budget}: it must be a finite number >= 0")
    if not min_value_per_spend >= 0:
        raise PartitionError(None, f"min_value_per_spend must be >= 0, got {min_value_per_spend}")
    summaries = each(round_summary, float(min_value_per_spend))
    check_id_kinds({s["partition"]: s["id_kind"] for s in summaries})
    limit = min(s["stop"] for s in summaries)
    allowed = budget * (1 + 1e-12)  # the single machine's tolerance on the budget
    (critical, spend, value, _, _), (lp_key, lp_cost, lp_value, lp_dc, lp_dv) = _critical(
        each, summaries, [(allowed, limit), (budget, NO_KEY)])
    tail: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    if critical != NO_KEY:
        spend, value, tail = _walk_tail(each, critical, limit, allowed, spend, value)
    lp_bound = lp_value if lp_key == NO_KEY else lp_value + (budget - lp_cost) / lp_dc * lp_dv
    totals = {"spend": spend, "value": value, "lp_bound": lp_bound, "profit": value - spend,
              "roi": (value - spend) / spend if spend > 0 else 0.0, "budget": budget}
    return PlanDecision(critical, limit, tail, totals)


def assign(s: Segments, decision: PlanDecision) -> np.ndarray:
    """The partition's offer per customer (-1 = none, else 0-based) under the decision."""
    offer = np.full(s.rows, -1, dtype=np.int64)
    n = s.before(min(decision.critical, decision.limit))
    offer[s.row[:n]] = s.to_offer[:n]  # a customer's segments are in order: its last one wins
    rows, offers = decision.tail.get(s.partition, (np.zeros(0, np.int64), np.zeros(0, np.int32)))
    offer[rows] = offers
    return offer


def plan_frame(frame: Any, partition: int, spec: OfferSpec, ids: Any, decision: PlanDecision,
               min_value_per_spend: float) -> Any:
    """One partition's rows of the plan table, as ``comptoir.promo`` writes them."""
    from .promo import _plan_table

    offers = spec.offers_of(frame, ids)
    segments = partition_segments(frame, partition, spec, ids)
    table = _plan_table(offers, assign(segments, decision), {}, float(min_value_per_spend))
    table.attrs.clear()
    # One text type in every partition (pandas infers none for a column of only missing offers).
    table["offer"] = table["offer"].astype(text_dtype())
    return table


def text_dtype() -> Any:
    """The dtype pandas gives a column of text (``str`` from pandas 3, ``object`` before)."""
    import pandas as pd

    return pd.Series(["text"]).dtype


PLAN_COLUMNS = (("customer", "id"), ("offer", "text"), ("offer_code", "int"), ("cost", "float"),
                ("expected_incremental_value", "float"), ("reason", "text"))
