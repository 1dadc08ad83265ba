import numpy as np
import pytest

from comptoir.promo import plan_offers
from comptoir.uplift_metrics import (
    auuc_vs_perfect,
    bootstrap_interval,
    profit_curve,
    qini_area_raw,
    qini_coefficient_vs_perfect,
    uplift_at_k,
    uplift_curves,
)


def lp_optimum(value, cost, budget):
    """The multiple-choice knapsack LP by scipy's HiGHS: max sum v x, sum c x <= B, sum_j x_ij <= 1."""
    linprog = pytest.importorskip("scipy.optimize").linprog
    n, m = value.shape
    a_ub = np.zeros((n + 1, n * m))
    a_ub[0] = cost.ravel()
    for i in range(n):
        a_ub[1 + i, i * m:(i + 1) * m] = 1
    result = linprog(-value.ravel(), A_ub=a_ub, b_ub=np.r_[budget, np.ones(n)], bounds=(0, 1), method="highs")
    return -result.fun


@pytest.mark.parametrize("seed", range(8))
def test_budget_path_is_the_lp_optimum_at_any_budget(seed):
    rng = np.random.default_rng(seed)
    value = rng.uniform(-2, 10, size=(12, 3))
    cost = rng.uniform(0, 6, size=(12, 3))
    plan = plan_offers(value=value, cost=cost)
    for budget in rng.uniform(0, cost.sum() / 2, size=6):
        assert plan.value_at(budget) == pytest.approx(lp_optimum(value, cost, budget), abs=1e-7)
        allocation = plan.at(budget, min_value_per_spend=0.0)
        totals = allocation.attrs
        assert totals["spend"] <= budget + 1e-9 and totals["value"] <= totals["lp_bound"] + 1e-9
        chosen = allocation["offer_code"].to_numpy() - 1
        assert np.isclose(value[np.arange(12)[chosen >= 0], chosen[chosen >= 0]].sum(), totals["value"])
        assert np.isclose(allocation["expected_incremental_value"].sum(), totals["value"])
        assert np.isclose(allocation["cost"].sum(), totals["spend"])


def test_allocation_rejects_bad_input():
    with pytest.raises(ValueError, match="cost"):
        plan_offers(value=np.ones((2, 2)), cost=-np.ones((2, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        plan_offers(value=np.ones((2, 2)), cost=np.ones((3, 2)))
    with pytest.raises(ValueError, match="budget"):
        plan_offers(value=np.ones((2, 2)), cost=np.ones((2, 2))).at(-1.0)


def randomised(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    effect = rng.uniform(-0.1, 0.4, n)
    treatment = rng.integers(0, 2, n)
    outcome = (rng.uniform(size=n) < 0.2 + treatment * effect).astype(float)
    return effect, treatment, outcome, rng


def test_qini_ranks_the_truth_above_noise():
    effect, treatment, outcome, rng = randomised()
    noise = rng.uniform(size=len(effect))
    assert qini_coefficient_vs_perfect(effect, treatment=treatment, outcome=outcome) > 0.1
    assert abs(qini_coefficient_vs_perfect(noise, treatment=treatment, outcome=outcome)) < 0.05
    assert auuc_vs_perfect(effect, treatment=treatment, outcome=outcome) > auuc_vs_perfect(noise, treatment=treatment, outcome=outcome)
    assert qini_area_raw(effect, treatment=treatment, outcome=outcome) > qini_area_raw(noise, treatment=treatment, outcome=outcome)
    assert uplift_at_k(effect, treatment=treatment, outcome=outcome, fraction=0.1) > uplift_at_k(effect, treatment=treatment, outcome=outcome, fraction=1.0)
    estimate, lower, upper = bootstrap_interval("qini_coefficient_vs_perfect", effect, treatment=treatment, outcome=outcome, replicates=40)
    assert lower <= estimate <= upper and lower > 0
    curves = uplift_curves(effect, treatment=treatment, outcome=outcome)
    assert curves["targeted"][-1] == len(effect) and len(curves["qini"]) == len(curves["targeted"])
    spend, profit = profit_curve(effect, treatment=treatment, outcome=outcome, value_per_outcome=50.0, offer_cost=2.0)
    assert spend[-1] == pytest.approx(2.0 * len(effect)) and profit.max() > profit[-1]


def test_uplift_metrics_name_bad_rows():
    with pytest.raises(ValueError, match="holds 2 offers"):
        qini_coefficient_vs_perfect([0.1, 0.2, 0.3], treatment=[0, 1, 2], outcome=[0, 1, 1])
    with pytest.raises(ValueError, match="no row of treatment is the control"):
        qini_coefficient_vs_perfect([0.1, 0.2], treatment=[1, 1], outcome=[0, 1])
    with pytest.raises(ValueError, match="non-finite outcome"):
        qini_coefficient_vs_perfect([0.1, 0.2], treatment=[0, 1], outcome=[np.nan, 1])


def test_offer_caps_hold_and_loose_caps_change_nothing():
    from comptoir.promo import allocate

    rng = np.random.default_rng(4)
    value = rng.uniform(0, 10, size=(300, 3))
    cost = rng.uniform(0.5, 4, size=(300, 3))
    free = plan_offers(value=value, cost=cost).at(200.0)
    loose = allocate(value=value, cost=cost, budget=200.0, max_customers=[0, 10_000, 0])
    assert np.array_equal(loose["offer_code"], free["offer_code"])
    capped = allocate(value=value, cost=cost, budget=200.0, max_customers=[5, 5, 5])
    code = capped["offer_code"].to_numpy()
    totals = capped.attrs
    assert np.all(totals["customers_per_offer"] <= 5)
    assert np.array_equal(totals["customers_per_offer"], np.bincount(code[code > 0] - 1, minlength=3))
    assert totals["spend"] <= 200.0 + 1e-9 and totals["value"] <= free.attrs["value"] + 1e-9
    assert len(totals["prices"]) == 3
    by_name = allocate(value=value, cost=cost, budget=200.0, max_customers={"offer 1": 5, "offer 2": 5, "offer 3": 5})
    assert np.array_equal(by_name["offer_code"], capped["offer_code"])


def test_margin_floor_contact_cap_and_minimums_hold():
    from comptoir.promo import allocate

    rng = np.random.default_rng(5)
    value = rng.uniform(0, 10, size=(400, 3))
    cost = rng.uniform(0.5, 4, size=(400, 3))
    basket_margin = rng.uniform(0.1, 0.4, size=400)
    discounts = np.array([0.05, 0.1, 0.2])
    contacts = rng.integers(0, 4, size=400)
    result = allocate(value=value, cost=cost, budget=300.0, margin_after_offer=basket_margin[:, None] - discounts, min_margin=0.08,
                      contacts_so_far=contacts, max_contacts=3, min_customers=[0, 0, 40])
    offer = result["offer_code"].to_numpy() - 1
    given = np.flatnonzero(offer >= 0)
    assert np.all(basket_margin[given] - discounts[offer[given]] >= 0.08)
    assert np.all(contacts[given] < 3)
    totals = result.attrs
    assert totals["customers_per_offer"][2] >= 40 and totals["spend"] <= 300.0 + 1e-9
    assert totals["customers_at_contact_cap"] == int(np.sum(contacts >= 3))
    assert totals["pairs_below_margin_floor"] == int(np.sum(basket_margin[:, None] - discounts < 0.08))


def test_infeasible_rules_raise_naming_what_binds():
    from comptoir import InfeasibleError
    from comptoir.promo import allocate

    value = np.ones((10, 2))
    cost = np.ones((10, 2))
    with pytest.raises(InfeasibleError, match="offer 'offer 2': its minimum of 4 customers is above its cap of 3"):
        allocate(value=value, cost=cost, budget=100.0, max_customers=[0, 3], min_customers=[0, 4])
    with pytest.raises(InfeasibleError, match="offer 'offer 1' needs at least 6 customers but only 5 are eligible.*contact cap of 1"):
        allocate(value=value, cost=cost, budget=100.0, min_customers=[6, 0], contacts_so_far=[1] * 5 + [0] * 5, max_contacts=1)
    with pytest.raises(InfeasibleError, match="minimums cost at least 6 .* but the budget is 5"):
        allocate(value=value, cost=cost, budget=5.0, min_customers=[3, 3])
    with pytest.raises(ValueError, match="one minimum per offer"):
        allocate(value=value, cost=cost, budget=5.0, min_customers=[3])


def test_offer_audit_reports_rates_depths_and_intervals():
    from comptoir.promo import offer_audit

    rng = np.random.default_rng(1)
    group = rng.choice(["north", "south"], size=4000, p=[0.6, 0.4])
    offer = np.where(rng.uniform(size=4000) < np.where(group == "north", 0.3, 0.15), rng.integers(1, 3, 4000), 0)
    audit = offer_audit(offer, discounts=[0.1, 0.2], group=group, replicates=100)
    rows = {r["group"]: r for r in (audit.to_dict("records") if hasattr(audit, "to_dict") else audit)}
    assert rows["north"]["offer_rate_difference"] == 0.0  # the reference: the largest group
    south = rows["south"]
    assert south["offer_rate"] == pytest.approx(0.15, abs=0.03)
    low, high = south["offer_rate_difference_ci"]
    assert low < south["offer_rate_difference"] < high < 0
    assert 0.3 < south["offer_rate_ratio"] < 0.7
    assert south["discount_depth"] < rows["north"]["discount_depth"]
    with pytest.raises(ValueError, match="offer codes must be 0"):
        offer_audit([0, 5], [0.1], ["a", "b"])


def test_parity_keeps_group_offer_rates_together_at_a_price():
    from comptoir.promo import allocate_with_parity, plan_offers

    rng = np.random.default_rng(5)
    n = 4_000
    group = np.where(rng.uniform(size=n) < 0.5, "north", "south")
    # The south responds far less: an unconstrained plan mostly targets the north.
    effect = rng.exponential(0.05, size=(n, 2)) * np.where(group == "north", 1.0, 0.3)[:, None]
    value = effect * np.array([60.0, 80.0])
    cost = np.tile([1.0, 2.0], (n, 1))
    free = plan_offers(value=value, cost=cost).at(800)
    rate = lambda plan, g: (plan["offer_code"].to_numpy()[group == g] > 0).mean()  # noqa: E731
    assert rate(free, "north") - rate(free, "south") > 0.1
    fair = allocate_with_parity(value=value, cost=cost, budget=800, group=group, max_gap=0.02)
    assert abs(rate(fair, "north") - rate(fair, "south")) <= 0.02
    totals = fair.attrs
    assert totals["spend"] <= 800 + 1e-9 and np.isclose(fair["cost"].sum(), totals["spend"])
    assert totals["profit"] <= totals["unconstrained_profit"] + 1e-9
    assert totals["subsidies"][list(totals["groups"]).index("south")] > totals["subsidies"][list(totals["groups"]).index("north")]
    # When the subsidies cannot close the gap in the iterations allowed, the error says who binds.
    with pytest.raises(ValueError, match=r"north: \d+\.\d%, south: \d+\.\d% \(binding: south too low, north too high\)"):
        allocate_with_parity(value=value, cost=cost, budget=800, group=group, max_gap=0.0, max_iterations=1)
