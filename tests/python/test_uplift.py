import pickle

import numpy as np
import pytest

from comptoir.simulate import simulate
from comptoir.uplift import ClassTransformation, DRLearner, SLearner, TLearner, XLearner
from comptoir.uplift_metrics import policy_value, qini_coefficient_vs_perfect


@pytest.fixture(scope="module")
def campaign():
    shop = simulate(num_customers=30_000, num_items=1_000, num_categories=20, seed=11)
    X = shop.customer_attributes.astype(float)
    X = np.c_[X, np.log1p(X[:, 1])]
    c = shop.campaign
    return X, c["arm"], c["converted"].astype(int), shop


@pytest.mark.parametrize("learner", [TLearner, SLearner, ClassTransformation, XLearner, DRLearner])
def test_learners_rank_customers_by_their_true_effect(campaign, learner):
    X, arm, converted, shop = campaign
    train = np.arange(len(arm)) < 20_000
    model = learner().fit(X[train], arm[train], converted[train])
    effect = model.predict(X[~train])
    assert effect.shape == (int((~train).sum()), 2)
    truth = shop.true_uplift(2)[~train]
    assert np.corrcoef(effect[:, 1], truth)[0, 1] > 0.3  # learned from observables only
    rows = (arm[~train] == 0) | (arm[~train] == 2)
    qini = qini_coefficient_vs_perfect(effect[rows, 1], (arm[~train][rows] == 2).astype(np.int32), converted[~train][rows])
    assert qini > 0.02
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict(X[~train][:50]), effect[:50])


def test_bad_treatments_and_outcomes_are_named(campaign):
    X, arm, converted, _ = campaign
    with pytest.raises(ValueError, match="every arm present"):
        TLearner().fit(X, np.where(arm == 1, 3, arm), converted)
    with pytest.raises(ValueError, match="integer"):
        TLearner().fit(X, arm.astype(float), converted)
    with pytest.raises(ValueError, match="NaN"):
        TLearner().fit(X, arm, np.where(np.arange(len(arm)) == 5, np.nan, converted))
    with pytest.raises(ValueError, match="only one outcome class"):
        TLearner().fit(X, arm, np.where(arm == 1, 0, converted))
    with pytest.raises(ValueError, match="binary outcome"):
        ClassTransformation().fit(X, arm, converted * 12.5)


def heterogeneous_spend(n, seed):
    """Spend whose response to offer 1 is a step in x0 and to offer 2 grows with x1; x2 is noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    arm = rng.integers(0, 3, size=n).astype(np.int32)
    effect = np.c_[np.where(X[:, 0] > 0.2, 8.0, -2.0), 6.0 * X[:, 1]]
    base = 20 + 5 * X[:, 2]
    spend = base + np.where(arm == 1, effect[:, 0], 0) + np.where(arm == 2, effect[:, 1], 0) + rng.normal(0, 3, n)
    return X, arm, spend, effect


@pytest.mark.parametrize("learner", [TLearner, XLearner, DRLearner])
def test_continuous_outcomes_and_several_offers(learner):
    X, arm, spend, _ = heterogeneous_spend(30_000, 1)
    X_test, _, _, truth = heterogeneous_spend(5_000, 2)
    effect = learner().fit(X, arm, spend).predict(X_test)
    for k in range(2):
        assert np.corrcoef(effect[:, k], truth[:, k])[0, 1] > 0.9
        assert np.sqrt(np.mean((effect[:, k] - truth[:, k]) ** 2)) < 2.0  # PEHE against effects of -2..8


@pytest.mark.parametrize("learner", [XLearner, DRLearner])
def test_per_customer_reasons_add_up_to_the_predicted_uplift(learner):
    pd = pytest.importorskip("pandas")
    X, arm, spend, _ = heterogeneous_spend(20_000, 3)
    frame = pd.DataFrame(X, columns=["tenure", "price_sensitivity", "noise"])
    model = learner().fit(frame, arm, spend)
    reasons = model.explain(frame.head(100), offer=2)
    np.testing.assert_allclose(reasons.sum(axis=1), model.predict(frame.head(100))[:, 1], atol=1e-9)
    # Offer 2's effect is driven by price sensitivity, not by the other columns.
    spread = reasons.drop(columns="base_value").abs().mean()
    assert spread.idxmax() == "price_sensitivity"
    with pytest.raises(ValueError, match="offer must be in 1..2"):
        model.explain(frame.head(5), offer=3)


def test_policy_value_estimates_cover_the_true_value():
    X, arm, spend, effect = heterogeneous_spend(40_000, 4)
    policy = np.where(X[:, 0] > 0.2, 1, np.where(X[:, 1] > 0.3, 2, 0))
    base = 20 + 5 * X[:, 2]
    true_value = np.mean(base + np.where(policy == 1, effect[:, 0], 0) + np.where(policy == 2, effect[:, 1], 0))
    outcomes = TLearner().fit(X[:20_000], arm[:20_000], spend[:20_000]).predict_outcomes(X[20_000:])
    value = policy_value(policy[20_000:], arm[20_000:], spend[20_000:], predicted_outcomes=outcomes)
    for method in ("ipw", "dr"):
        assert value[f"{method}_ci_low"] < true_value < value[f"{method}_ci_high"]
    assert value["dr_stderr"] < value["ipw_stderr"]  # the outcome model removes most of the noise
    with pytest.raises(ValueError, match="no row received"):
        policy_value(np.full(10, 3), np.arange(10) % 3, np.ones(10))


@pytest.mark.parametrize("criterion", ["KL", "ED", "Chi", "DDP"])
def test_uplift_forest_ranks_by_true_effect_and_round_trips(campaign, criterion, tmp_path):
    from comptoir.uplift import UpliftRandomForest

    X, arm, converted, shop = campaign
    train = np.arange(len(arm)) < 20_000
    forest = UpliftRandomForest(n_estimators=20, criterion=criterion, min_samples_leaf=200).fit(X[train], arm[train], converted[train])
    effect = forest.predict(X[~train])
    assert effect.shape == (int((~train).sum()), 2)
    assert np.corrcoef(effect[:, 1], shop.true_uplift(2)[~train])[0, 1] > 0.3
    contributions = forest.explain(X[~train][:50], offer=2)
    np.testing.assert_allclose(contributions.sum(axis=1), effect[:50, 1], atol=1e-12)
    path = tmp_path / "forest.cmf"
    forest.save(path)
    np.testing.assert_array_equal(UpliftRandomForest.load(path).predict(X[~train][:100]), effect[:100])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(forest)).predict(X[~train][:100]), effect[:100])


def test_uplift_forest_on_spend_and_bad_input():
    from comptoir.uplift import UpliftRandomForest

    X, arm, spend, truth = heterogeneous_spend(30_000, 7)
    X_test, _, _, truth_test = heterogeneous_spend(3_000, 8)
    forest = UpliftRandomForest(n_estimators=30, criterion="ED", max_features=1.0, honest=True).fit(X, arm, spend)
    effect = forest.predict(X_test)
    assert np.corrcoef(effect[:, 0], truth_test[:, 0])[0, 1] > 0.9
    assert np.corrcoef(effect[:, 1], truth_test[:, 1])[0, 1] > 0.8
    with pytest.raises(ValueError, match="0/1 outcome"):
        UpliftRandomForest(criterion="KL").fit(X, arm, spend)
    with pytest.raises(ValueError, match="criterion must be"):
        UpliftRandomForest(criterion="gini").fit(X, arm, (spend > 20).astype(int))


def test_offers_command_spends_the_budget_on_the_best_customers(tmp_path):
    pd = pytest.importorskip("pandas")
    from comptoir.cli import main as cli_main
    from comptoir.uplift import UpliftRandomForest

    X, arm, spend, _ = heterogeneous_spend(20_000, 9)
    converted = (spend > 24).astype(int)
    frame = pd.DataFrame(X, columns=["tenure", "price_sensitivity", "noise"])
    forest = UpliftRandomForest(n_estimators=20, criterion="KL", max_features=1.0).fit(frame, arm, converted)
    forest.save(tmp_path / "forest.cmf")
    frame.assign(customer=np.arange(len(frame)) + 1000).to_csv(tmp_path / "customers.csv", index=False)
    code = cli_main(["offers", str(tmp_path / "forest.cmf"), str(tmp_path / "customers.csv"), str(tmp_path / "offers.csv"),
                     "--budget", "500", "--value", "40", "--cost", "2,3", "--id-column", "customer"])
    assert code == 0
    offers = pd.read_csv(tmp_path / "offers.csv")
    assert list(offers.columns) == ["customer", "offer", "expected_incremental_value", "cost", "main_reason"]
    assert offers["cost"].sum() <= 500
    chosen = offers[offers["offer"] > 0]
    assert len(chosen) > 0
    assert (chosen["expected_incremental_value"] > chosen["cost"]).all()  # no offer loses money
    assert chosen["main_reason"].str.contains("=").all()
    # The customers chosen for offer 1 are mostly those whose step in x0 makes it work.
    assert (frame["tenure"].to_numpy()[chosen[chosen["offer"] == 1]["customer"] - 1000] > 0.2).mean() > 0.9
    assert cli_main(["offers", str(tmp_path / "forest.cmf"), str(tmp_path / "customers.csv"), str(tmp_path / "x.csv"),
                     "--budget", "500", "--value", "40", "--cost", "2"]) == 2  # one cost for two offers


def test_meta_learners_warn_about_drift_once_for_their_inner_models():
    import warnings

    from comptoir import DriftWarning

    rng = np.random.default_rng(12)
    X = rng.normal(size=(4_000, 2))
    treatment = rng.integers(0, 2, size=4_000)
    y = (X[:, 0] + 0.5 * treatment + rng.normal(size=4_000) > 0).astype(int)
    learner = TLearner().fit(X, treatment, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learner.predict(X + np.array([0.0, 2.0]))
    drift = [w for w in caught if issubclass(w.category, DriftWarning)]
    assert len(drift) == 1 and "TLearner" in str(drift[0].message) and "x1" in str(drift[0].message)
