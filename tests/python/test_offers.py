"""One offer convention across the uplift learners, the uplift metrics, policy_value and the promo
planner: offers by name, code, boolean or categorical with a named control; effects and plans named
by offer; keyword-only treatment and outcome; one numbering."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import comptoir  # noqa: E402
from comptoir.promo import allocate, offer_audit, plan_offers  # noqa: E402
from comptoir.uplift import ClassTransformation, DRLearner, SLearner, TLearner, UpliftRandomForest, XLearner  # noqa: E402
from comptoir.uplift_metrics import (  # noqa: E402
    auuc_vs_perfect,
    bootstrap_interval,
    policy_value,
    qini_coefficient_vs_perfect,
    uplift_at_k,
    uplift_curves,
)

LEARNERS = [(TLearner, {}), (SLearner, {}), (ClassTransformation, {}), (XLearner, {}), (DRLearner, {}),
            (UpliftRandomForest, {"n_estimators": 10, "max_features": 1.0})]


def named_campaign(n=6_000, seed=0):
    """Customers indexed by id; 'bogo' works where x0 > 0, '10% off' where x1 > 0."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(n, 3)), columns=["tenure", "price_sensitivity", "noise"],
                     index=pd.Index([f"C{k:05d}" for k in range(n)], name="customer"))
    offer = rng.choice(["none", "bogo", "10% off"], size=n)
    lift = np.where(offer == "bogo", 0.25 * (X["tenure"] > 0), 0) + np.where(offer == "10% off", 0.2 * (X["price_sensitivity"] > 0), 0)
    y = (rng.uniform(size=n) < 0.2 + lift).astype(int)
    return X, offer, y


@pytest.mark.parametrize("make,params", LEARNERS, ids=lambda m: getattr(m, "__name__", ""))
def test_learners_take_offer_names_with_a_named_control(make, params, tmp_path):
    X, offer, y = named_campaign()
    model = make(control_name="none", **params)
    model.fit(X, treatment=offer, y=y)
    assert model.offer_names_ == ["10% off", "bogo"]  # sorted, control left out
    assert model.arm_names_ == ["none", "10% off", "bogo"]
    effect = model.predict(X.head(50))
    assert list(effect.columns) == ["10% off", "bogo"] and effect.index.equals(X.index[:50])
    np.testing.assert_array_equal(effect.to_numpy(), model.predict(X.head(50).to_numpy()))  # numpy in, numpy out
    reasons = model.explain(X.head(50), offer="bogo")
    np.testing.assert_allclose(reasons.sum(axis=1), effect["bogo"], atol=1e-9)
    with pytest.raises(ValueError, match="'free ship' is not an offer of this model"):
        model.explain(X.head(5), offer="free ship")
    with pytest.raises(ValueError, match="name the offer"):
        model.explain(X.head(5))
    # The names travel in the file: Python and C++ report the same offers.
    model.save(tmp_path / "m.cmf")
    loaded = comptoir.load_model(tmp_path / "m.cmf")
    assert loaded.offer_names_ == model.offer_names_ and list(loaded.arms_) == ["none", "10% off", "bogo"]
    pd.testing.assert_frame_equal(loaded.predict(X.head(50)), effect)
    np.testing.assert_array_equal(loaded.explain(X.head(5), offer="bogo"), model.explain(X.head(5), offer="bogo"))
    native = comptoir._core.model.Model.from_bytes(open(tmp_path / "m.cmf", "rb").read(), "")
    assert native.family == "uplift_model"


def test_booleans_categoricals_and_codes_follow_one_convention():
    X, offer, y = named_campaign()
    booleans = TLearner().fit(X, treatment=offer == "bogo", y=y)
    assert booleans.arm_names_ == ["control", "treatment"] and list(booleans.arms_) == [False, True]
    assert booleans.explain(X.head(3), offer=True).shape == (3, 4)
    ordered = pd.Categorical(offer, categories=["none", "bogo", "10% off"])
    by_category = TLearner(control_name="none").fit(X, treatment=ordered, y=y)
    assert by_category.offer_names_ == ["bogo", "10% off"]  # category order
    codes = pd.Series(offer).map({"none": 0, "10% off": 1, "bogo": 2}).to_numpy()
    coded = TLearner(offer_names=["10% off", "bogo"]).fit(X, treatment=codes, y=y)
    named = TLearner(control_name="none").fit(X, treatment=offer, y=y)
    # The same experiment by names and by codes: the same model, the k-th offer being code k.
    np.testing.assert_allclose(coded.predict(X.head(20)).to_numpy(), named.predict(X.head(20)).to_numpy())
    np.testing.assert_array_equal(coded.explain(X.head(5), offer=2), coded.explain(X.head(5), offer="bogo"))
    np.testing.assert_allclose(coded.explain(X.head(5), offer=2), named.explain(X.head(5), offer="bogo"))
    with pytest.raises(ValueError, match="'control' is not a string arm|not an offer"):
        coded.explain(X.head(5), offer=0)


def test_treatments_that_are_not_offers_are_named():
    X, offer, y = named_campaign(2_000)
    with pytest.raises(ValueError, match="no row of treatment is the control 'control'.*control_name="):
        TLearner().fit(X, treatment=offer, y=y)
    with pytest.raises(ValueError, match="float"):
        TLearner().fit(X, treatment=np.where(offer == "none", 0.0, 1.7), y=y)
    with pytest.raises(ValueError, match="mixes arm types"):
        TLearner().fit(X, treatment=np.array([0 if o == "none" else o for o in offer], dtype=object), y=y)
    with pytest.raises(ValueError, match="missing at rows \\[3\\]"):
        TLearner(control_name="none").fit(X, treatment=np.where(np.arange(len(offer)) == 3, None, offer), y=y)
    with pytest.raises(ValueError, match="only the control"):
        TLearner(control_name="none").fit(X, treatment=np.full(len(offer), "none"), y=y)
    with pytest.raises(ValueError, match="control_name=0 is not a string arm"):
        TLearner(control_name=0).fit(X, treatment=offer, y=y)
    with pytest.raises(ValueError, match="numeric"):
        TLearner(control_name="none").fit(X, treatment=offer, y=np.where(y == 1, "yes", "no"))


def test_swapped_positional_arguments_are_refused():
    X, offer, y = named_campaign(1_000)
    for make in (TLearner, SLearner, ClassTransformation, XLearner, DRLearner, UpliftRandomForest):
        with pytest.raises(TypeError, match="by keyword.*scikit-uplift"):
            make(control_name="none").fit(X, y, offer)  # scikit-uplift's order
    scores = np.random.default_rng(0).uniform(size=len(y))
    treated = (offer == "bogo").astype(int)
    for metric in (qini_coefficient_vs_perfect, auuc_vs_perfect, uplift_at_k, uplift_curves):
        with pytest.raises(TypeError, match="by keyword"):
            metric(scores, y, treated)
    with pytest.raises(TypeError, match="by keyword"):
        bootstrap_interval("qini_coefficient_vs_perfect", scores, treated, y)
    with pytest.raises(TypeError, match="by keyword"):
        policy_value(treated, treated, y)
    with pytest.raises(TypeError, match="value= and cost= by keyword"):
        plan_offers(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(TypeError, match="value= and cost= by keyword"):
        allocate(np.ones((3, 2)), np.ones((3, 2)), budget=1.0)


def test_metrics_answer_per_offer_by_name():
    X, offer, y = named_campaign(20_000, 1)
    model = TLearner(control_name="none").fit(X, treatment=offer, y=y)
    effect = model.predict(X)
    per_offer = qini_coefficient_vs_perfect(effect, treatment=offer, outcome=y, control_name="none")
    assert set(per_offer) == {"10% off", "bogo"}
    for name in per_offer:
        rows = np.isin(offer, ["none", name])
        alone = qini_coefficient_vs_perfect(effect[name].to_numpy()[rows], treatment=offer[rows] == name, outcome=y[rows])
        assert per_offer[name] == alone and alone > 0.05
    # Columns are matched by name, whatever their order.
    assert qini_coefficient_vs_perfect(effect[["bogo", "10% off"]], treatment=offer, outcome=y,
                                       control_name="none") == per_offer
    intervals = bootstrap_interval("qini_coefficient_vs_perfect", effect, treatment=offer, outcome=y, replicates=20,
                                   control_name="none")
    assert intervals["bogo"][0] == per_offer["bogo"] and intervals["bogo"][1] <= per_offer["bogo"] <= intervals["bogo"][2]
    with pytest.raises(ValueError, match="one column but treatment holds 2 offers"):
        qini_coefficient_vs_perfect(effect["bogo"].to_numpy(), treatment=offer, outcome=y, control_name="none")
    with pytest.raises(ValueError, match="not the arms"):
        qini_coefficient_vs_perfect(effect.set_axis(["a", "b"], axis=1), treatment=offer, outcome=y, control_name="none")


def test_plan_is_a_table_of_customers_offers_costs_values_and_reasons():
    X, offer, y = named_campaign(3_000, 2)
    model = TLearner(control_name="none").fit(X, treatment=offer, y=y)
    effect = model.predict(X)
    plan = plan_offers(value=effect * 50.0, cost={"bogo": 4.0, "10% off": 2.0}, reasons=model.main_reasons(X))
    table = plan.at(budget=300.0)
    assert list(table.columns) == ["customer", "offer", "offer_code", "cost", "expected_incremental_value", "reason"]
    assert list(table["customer"]) == list(X.index)
    given = table[table["offer_code"] > 0]
    assert len(given) > 0 and set(given["offer"]) <= {"10% off", "bogo"}
    assert (given["offer"] == np.array(["10% off", "bogo"], dtype=object)[given["offer_code"] - 1]).all()
    assert np.allclose(given["cost"], np.where(given["offer"] == "bogo", 4.0, 2.0))
    values = (effect * 50.0).to_numpy()[given.index, given["offer_code"] - 1]
    np.testing.assert_allclose(given["expected_incremental_value"], values)
    assert given["reason"].str.match(r"(tenure|price_sensitivity|noise)=").all()
    assert table["offer"][table["offer_code"] == 0].isna().all()
    assert table.attrs["spend"] == pytest.approx(given["cost"].sum()) and table.attrs["spend"] <= 300.0
    assert table.attrs["profit"] == pytest.approx(table.attrs["value"] - table.attrs["spend"])
    # The plan is a policy in the same convention: its value needs no re-coding.
    by_plan = policy_value(table, treatment=offer, outcome=y, control_name="none")
    names = np.where(table["offer_code"] > 0, table["offer"], "none")
    assert by_plan == policy_value(names, treatment=offer, outcome=y, control_name="none")
    audit = offer_audit(table, {"bogo": 0.5, "10% off": 0.1}, np.arange(len(table)) % 2, replicates=10)
    assert len(audit) == 2


def test_costs_must_be_non_negative_numbers():
    value = pd.DataFrame({"bogo": [1.0, 2.0], "10% off": [0.5, 1.0]}, index=["C1", "C2"])
    with pytest.raises(ValueError, match="1 are NaN, infinite or negative .*customer 'C2', offer '10% off'"):
        plan_offers(value=value, cost=pd.DataFrame({"bogo": [1.0, 1.0], "10% off": [1.0, np.nan]}, index=["C1", "C2"]))
    with pytest.raises(ValueError, match="negative .*customer 'C1', offer 'bogo'"):
        plan_offers(value=value, cost={"bogo": -1.0, "10% off": 1.0})
    with pytest.raises(ValueError, match="value holds 1 NaN"):
        plan_offers(value=value.where(value > 0.6), cost=1.0)
    with pytest.raises(ValueError, match="each of"):
        plan_offers(value=value, cost={"bogo": 1.0})
    with pytest.raises(ValueError, match="offer_cost must be non-negative"):
        from comptoir.uplift_metrics import profit_curve

        profit_curve([0.1, 0.2], treatment=[0, 1], outcome=[0, 1], value_per_outcome=1.0, offer_cost=[1.0, np.nan])


def test_allocation_errors_name_the_offers_as_the_caller_does():
    from comptoir import InfeasibleError

    value = pd.DataFrame(np.ones((10, 2)), columns=["bogo", "10% off"])
    with pytest.raises(InfeasibleError, match="offer '10% off': its minimum of 4 customers is above its cap of 3"):
        allocate(value=value, cost=1.0, budget=100.0, max_customers={"10% off": 3}, min_customers={"10% off": 4})


def test_policy_value_takes_the_policy_in_the_treatment_convention():
    rng = np.random.default_rng(3)
    n = 20_000
    offer = rng.choice(["none", "a", "b"], size=n)
    y = rng.normal(10 + np.where(offer == "b", 2.0, 0.0), 1.0)
    always_b = policy_value(np.full(n, "b"), treatment=offer, outcome=y, control_name="none")
    assert always_b["ipw_ci_low"] < 12.0 < always_b["ipw_ci_high"]
    nobody = policy_value([None] * n, treatment=offer, outcome=y, control_name="none")  # None: no offer
    assert nobody["ipw_ci_low"] < 10.0 < nobody["ipw_ci_high"]
    outcomes = pd.DataFrame({"b": 12.0, "none": 10.0, "a": 10.0}, index=range(n))  # columns by arm name
    assert policy_value(np.full(n, "b"), treatment=offer, outcome=y, control_name="none",
                        predicted_outcomes=outcomes)["dr"] == pytest.approx(12.0, abs=0.05)
    with pytest.raises(ValueError, match="policy holds \\['c'\\], which are not arms"):
        policy_value(np.full(n, "c"), treatment=offer, outcome=y, control_name="none")
