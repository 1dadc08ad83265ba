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
    model = learner().fit(X[train], treatment=arm[train], y=converted[train])
    effect = model.predict(X[~train])
    assert effect.shape == (int((~train).sum()), 2)
    truth = shop.true_uplift(2)[~train]
    assert np.corrcoef(effect[:, 1], truth)[0, 1] > 0.3  # learned from observables only
    rows = (arm[~train] == 0) | (arm[~train] == 2)
    qini = qini_coefficient_vs_perfect(effect[rows, 1], treatment=(arm[~train][rows] == 2).astype(np.int32), outcome=converted[~train][rows])
    assert qini > 0.02
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict(X[~train][:50]), effect[:50])


def test_bad_treatments_and_outcomes_are_named(campaign):
    X, arm, converted, _ = campaign
    with pytest.raises(ValueError, match="no row of treatment is the control 0"):
        TLearner().fit(X, treatment=arm + 1, y=converted)
    with pytest.raises(ValueError, match="integer codes"):
        TLearner().fit(X, treatment=arm.astype(float), y=converted)
    with pytest.raises(ValueError, match="NaN"):
        TLearner().fit(X, treatment=arm, y=np.where(np.arange(len(arm)) == 5, np.nan, converted))
    with pytest.raises(ValueError, match="only one outcome class"):
        TLearner().fit(X, treatment=arm, y=np.where(arm == 1, 0, converted))
    with pytest.raises(ValueError, match="binary outcome"):
        ClassTransformation().fit(X, treatment=arm, y=converted * 12.5)


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
    effect = learner().fit(X, treatment=arm, y=spend).predict(X_test)
    for k in range(2):
        assert np.corrcoef(effect[:, k], truth[:, k])[0, 1] > 0.9
        assert np.sqrt(np.mean((effect[:, k] - truth[:, k]) ** 2)) < 2.0  # PEHE against effects of -2..8


@pytest.mark.parametrize("learner", [XLearner, DRLearner])
def test_per_customer_reasons_add_up_to_the_predicted_uplift(learner):
    pd = pytest.importorskip("pandas")
    X, arm, spend, _ = heterogeneous_spend(20_000, 3)
    frame = pd.DataFrame(X, columns=["tenure", "price_sensitivity", "noise"])
    model = learner().fit(frame, treatment=arm, y=spend)
    reasons = model.explain(frame.head(100), offer=2)
    np.testing.assert_allclose(reasons.sum(axis=1), model.predict(frame.head(100))["offer 2"], atol=1e-9)
    # Offer 2's effect is driven by price sensitivity, not by the other columns.
    spread = reasons.drop(columns="base_value").abs().mean()
    assert spread.idxmax() == "price_sensitivity"
    with pytest.raises(ValueError, match="offer 3 is not an offer of this model"):
        model.explain(frame.head(5), offer=3)


def test_policy_value_estimates_cover_the_true_value():
    X, arm, spend, effect = heterogeneous_spend(40_000, 4)
    policy = np.where(X[:, 0] > 0.2, 1, np.where(X[:, 1] > 0.3, 2, 0))
    base = 20 + 5 * X[:, 2]
    true_value = np.mean(base + np.where(policy == 1, effect[:, 0], 0) + np.where(policy == 2, effect[:, 1], 0))
    outcomes = TLearner().fit(X[:20_000], treatment=arm[:20_000], y=spend[:20_000]).predict_outcomes(X[20_000:])
    value = policy_value(policy[20_000:], treatment=arm[20_000:], outcome=spend[20_000:], predicted_outcomes=outcomes)
    for method in ("ipw", "dr"):
        assert value[f"{method}_ci_low"] < true_value < value[f"{method}_ci_high"]
    assert value["dr_stderr"] < value["ipw_stderr"]  # the outcome model removes most of the noise
    with pytest.raises(ValueError, match=r"policy holds \[3\], which are not arms"):
        policy_value(np.full(10, 3), treatment=np.arange(10) % 3, outcome=np.ones(10))


@pytest.mark.parametrize("criterion", ["KL", "ED", "Chi", "DDP"])
def test_uplift_forest_ranks_by_true_effect_and_round_trips(campaign, criterion, tmp_path):
    from comptoir.uplift import UpliftRandomForest

    X, arm, converted, shop = campaign
    train = np.arange(len(arm)) < 20_000
    forest = UpliftRandomForest(n_estimators=20, criterion=criterion, min_samples_leaf=200).fit(X[train], treatment=arm[train], y=converted[train])
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
    forest = UpliftRandomForest(n_estimators=30, criterion="ED", max_features=1.0, honest=True).fit(X, treatment=arm, y=spend)
    effect = forest.predict(X_test)
    assert np.corrcoef(effect[:, 0], truth_test[:, 0])[0, 1] > 0.9
    assert np.corrcoef(effect[:, 1], truth_test[:, 1])[0, 1] > 0.8
    with pytest.raises(ValueError, match="0/1 outcome"):
        UpliftRandomForest(criterion="KL").fit(X, treatment=arm, y=spend)
    with pytest.raises(ValueError, match="criterion must be"):
        UpliftRandomForest(criterion="gini").fit(X, treatment=arm, y=(spend > 20).astype(int))


def test_offers_command_spends_the_budget_on_the_best_customers(tmp_path):
    pd = pytest.importorskip("pandas")
    from comptoir.cli import main as cli_main
    from comptoir.uplift import UpliftRandomForest

    X, arm, spend, _ = heterogeneous_spend(20_000, 9)
    converted = (spend > 24).astype(int)
    frame = pd.DataFrame(X, columns=["tenure", "price_sensitivity", "noise"])
    forest = UpliftRandomForest(n_estimators=20, criterion="KL", max_features=1.0).fit(frame, treatment=arm, y=converted)
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
    learner = TLearner().fit(X, treatment=treatment, y=y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learner.predict(X + np.array([0.0, 2.0]))
    drift = [w for w in caught if issubclass(w.category, DriftWarning)]
    assert len(drift) == 1 and "TLearner" in str(drift[0].message) and "x1" in str(drift[0].message)


# ---- model files: every learner serves from C++ and round-trips through its bytes ----------

def _small_campaign(n, seed, spend=False):
    X, arm, y, _ = heterogeneous_spend(n, seed)
    return X, arm, (y if spend else (y > 24).astype(int))


def _learners():
    from functools import partial

    from comptoir.propensity import LogisticRegression
    from comptoir.trees import GradientBoostingClassifier, GradientBoostingRegressor

    small = partial(GradientBoostingRegressor, n_estimators=20, num_leaves=7, min_samples_leaf=50)
    return [
        ("t_learner", lambda: TLearner(base_learner=partial(LogisticRegression, C=0.5), offer_names=["ten off", "free ship"]), False),
        ("s_learner", lambda: SLearner(base_learner=lambda: GradientBoostingClassifier(n_estimators=20, num_leaves=7)), False),
        ("class_transformation", lambda: ClassTransformation(), False),
        ("x_learner", lambda: XLearner(regressor=small), True),
        ("dr_learner", lambda: DRLearner(regressor=small, folds=2, random_state=3), True),
        ("t_learner", lambda: TLearner(regressor=small), True),
        ("x_learner", lambda: XLearner(regressor=small, propensity_learner=partial(LogisticRegression, C=2.0)), False),
    ]


@pytest.mark.parametrize("case", range(7))
def test_every_learner_saves_loads_and_pickles_through_its_model_bytes(case, tmp_path):
    import comptoir
    from comptoir.exceptions import ModelFormatError
    from comptoir.io import inspect_model_file
    from comptoir.uplift import UpliftRandomForest

    kind, make, spend = _learners()[case]
    X, arm, y = _small_campaign(4_000, 20 + case, spend)
    learner = make().fit(X, treatment=arm, y=y)
    assert learner.model_.kind == kind
    test = X[:300]
    effect = learner.predict(test)
    assert effect.shape == (300, 2)
    path = tmp_path / "learner.cmf"
    learner.save(path)
    assert inspect_model_file(path)["model_kind"] == kind
    for loaded in (type(learner).load(path), comptoir.load_model(path), pickle.loads(pickle.dumps(learner))):
        assert type(loaded) is type(learner)
        np.testing.assert_array_equal(loaded.predict(test), effect)
        for offer in (1, 2):
            reasons = loaded.explain(test, offer=offer)
            np.testing.assert_array_equal(reasons, learner.explain(test, offer=offer))
            np.testing.assert_allclose(reasons.sum(axis=1), effect[:, offer - 1], atol=1e-9)
        assert loaded.offer_names_ == learner.offer_names_
    loaded = type(learner).load(path)
    encoded = {k: learner._encode_param(k, v) for k, v in learner.get_params().items()}
    assert {k: loaded._encode_param(k, v) for k, v in loaded.get_params().items()} == encoded
    if kind != "s_learner":  # partials and None come back equal; the S-learner's lambda as its partial
        assert loaded.get_params() == learner.get_params()
    assert loaded.models_ is not None and len(loaded.models_) == len(learner.models_)
    # A meta-learner file is no forest, and no other learner.
    with pytest.raises(ModelFormatError, match="UpliftRandomForest"):
        UpliftRandomForest.load(path)
    other = SLearner if not isinstance(learner, SLearner) else TLearner
    with pytest.raises(ModelFormatError, match=other.__name__):
        other.load(path)
    # Without the estimator record the kind still decides.
    bare = learner.model_.to_bytes()
    with pytest.raises(ModelFormatError, match=kind):
        other.from_bytes(bare)
    with pytest.raises(ModelFormatError, match="uplift_forest"):
        UpliftRandomForest.from_bytes(bare)
    np.testing.assert_array_equal(type(learner).from_bytes(bare).predict(test), effect)


def test_arm_names_default_and_named():
    X, arm, y = _small_campaign(3_000, 40)
    assert TLearner().fit(X, treatment=arm, y=y).offer_names_ == ["offer 1", "offer 2"]
    named = TLearner(offer_names=("ten off", "free ship")).fit(X, treatment=arm, y=y)
    assert named.arm_names_ == ["control", "ten off", "free ship"]
    with pytest.raises(ValueError, match="offer_names must name each of the 2 offers"):
        TLearner(offer_names=["only one"]).fit(X, treatment=arm, y=y)


def test_factories_are_stored_as_their_estimator():
    from functools import partial

    from comptoir.trees import GradientBoostingRegressor
    from comptoir.uplift import EstimatorFactory

    X, arm, spend = _small_campaign(3_000, 41, spend=True)
    learner = DRLearner(regressor=lambda: GradientBoostingRegressor(n_estimators=15), folds=2).fit(X, treatment=arm, y=spend)
    loaded = DRLearner.from_bytes(learner.to_bytes())
    factory = loaded.get_params()["regressor"]
    assert isinstance(factory, EstimatorFactory) and factory.func is GradientBoostingRegressor
    assert factory().get_params() == GradientBoostingRegressor(n_estimators=15).get_params()
    assert factory == partial(GradientBoostingRegressor, **GradientBoostingRegressor(n_estimators=15).get_params())
    assert loaded.get_params()["folds"] == 2


def test_foreign_parts_are_refused_with_their_reason():
    X, arm, y = _small_campaign(2_000, 42)

    class Foreign:
        def fit(self, X, y, sample_weight=None):
            return self

    with pytest.raises(TypeError, match="must be comptoir estimators"):
        TLearner(base_learner=Foreign).fit(X, treatment=arm, y=y)


def test_s_learner_serves_exactly_the_python_design():
    from comptoir.propensity import LogisticRegression

    X, arm, y = _small_campaign(3_000, 43)
    learner = SLearner().fit(X, treatment=arm, y=y)
    model = learner.models_[0]
    design = [learner._design(X[:200], a, 3) for a in range(3)]
    p = np.column_stack([model.predict_proba(d)[:, 1] for d in design])
    np.testing.assert_allclose(learner.predict(X[:200]), p[:, 1:] - p[:, :1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(learner.predict_outcomes(X[:200]), p, rtol=0, atol=1e-15)
    assert isinstance(model, LogisticRegression)


def test_uplift_forest_params_and_arm_names_round_trip(tmp_path):
    from comptoir.exceptions import ModelFormatError
    from comptoir.uplift import UpliftRandomForest

    X, arm, y = _small_campaign(3_000, 44)
    forest = UpliftRandomForest(n_estimators=5, criterion="ED", max_depth=4, min_samples_leaf=60, n_reg=10,
                                offer_names=["a", "b"]).fit(X, treatment=arm, y=y)
    path = tmp_path / "forest.cmf"
    forest.save(path)
    loaded = UpliftRandomForest.load(path)
    assert loaded.get_params() == forest.get_params()
    assert loaded.get_params()["max_features"] is None
    assert loaded.arm_names_ == ["control", "a", "b"]
    assert loaded.model_.config.n_estimators == 5 and loaded.model_.config.criterion.name == "ED"
    # Without the record the C++ config restores the hyperparameters.
    bare = UpliftRandomForest.from_bytes(forest.model_.to_bytes())
    assert {k: v for k, v in bare.get_params().items() if k != "offer_names"} == \
        {k: v for k, v in forest.get_params().items() if k != "offer_names"}
    np.testing.assert_array_equal(bare.predict(X[:100]), forest.predict(X[:100]))
    with pytest.raises(ModelFormatError, match="TLearner"):
        TLearner.load(path)
    with pytest.raises(ModelFormatError, match="uplift_forest"):
        TLearner.from_bytes(forest.model_.to_bytes())


def test_offers_command_serves_a_meta_learner(tmp_path):
    pd = pytest.importorskip("pandas")
    from comptoir.cli import main as cli_main

    X, arm, spend, _ = heterogeneous_spend(6_000, 45)
    frame = pd.DataFrame(X, columns=["tenure", "price_sensitivity", "noise"])
    TLearner().fit(frame, treatment=arm, y=(spend > 24).astype(int)).save(tmp_path / "t.cmf")
    frame.to_csv(tmp_path / "customers.csv", index=False)
    assert cli_main(["offers", str(tmp_path / "t.cmf"), str(tmp_path / "customers.csv"), str(tmp_path / "offers.csv"),
                     "--budget", "100", "--value", "40", "--cost", "2,3"]) == 0
    offers = pd.read_csv(tmp_path / "offers.csv")
    assert offers["cost"].sum() <= 100 and (offers["offer"] > 0).any()


def test_the_composites_compute_what_the_python_parts_give():
    from functools import partial

    from comptoir.trees import GradientBoostingRegressor

    X, arm, y = _small_campaign(4_000, 46)
    _, _, spend = _small_campaign(4_000, 46, spend=True)
    rows = X[:300]
    small = partial(GradientBoostingRegressor, n_estimators=20, num_leaves=7)
    x = XLearner(regressor=small).fit(X, treatment=arm, y=spend)
    expected = np.column_stack([g * a.predict(rows) + (1 - g) * b.predict(rows) for g, (a, b) in zip(x.blend_, x.models_)])
    np.testing.assert_array_equal(x.predict(rows), expected)
    g = x.blend_[1]
    np.testing.assert_array_equal(x.explain(rows, offer=2), g * x.models_[1][0].explain(rows) + (1 - g) * x.models_[1][1].explain(rows))
    dr = DRLearner(regressor=small, folds=2).fit(X, treatment=arm, y=spend)
    np.testing.assert_array_equal(dr.predict(rows), np.column_stack([m.predict(rows) for m in dr.models_]))
    np.testing.assert_array_equal(dr.explain(rows, offer=1), dr.models_[0].explain(rows))
    # Probabilities: NumPy's exp and the C library's may differ in the last bit.
    t = TLearner().fit(X, treatment=arm, y=y)
    p = np.column_stack([m.predict_proba(rows)[:, 1] for m in t.models_])
    np.testing.assert_allclose(t.predict(rows), p[:, 1:] - p[:, :1], rtol=0, atol=1e-15)
    ct = ClassTransformation().fit(X, treatment=arm, y=y)
    np.testing.assert_allclose(ct.predict(rows), np.column_stack([2 * m.predict_proba(rows)[:, 1] - 1 for m in ct.models_]),
                               rtol=0, atol=1e-15)


def test_uplift_files_keep_category_levels_feature_names_and_offer_names():
    pd = pytest.importorskip("pandas")
    from comptoir.uplift import TLearner, UpliftRandomForest

    rng = np.random.default_rng(5)
    n = 2_000
    X = pd.DataFrame({"a": rng.normal(size=n), "segment": pd.Categorical(rng.choice(["new", "loyal", "lapsed"], n))})
    treatment = rng.integers(0, 3, n)
    y = (rng.random(n) < 0.3 + 0.1 * (treatment == 1) * (X["segment"] == "new")).astype(int)
    for cls in (TLearner, UpliftRandomForest):
        fitted = cls(offer_names=["10% off", "free shipping"]).fit(X, treatment=treatment, y=y)
        loaded = cls.from_bytes(fitted.to_bytes())
        assert list(loaded.category_levels_[1]) == ["lapsed", "loyal", "new"]
        assert list(loaded.feature_names_in_) == ["a", "segment"]
        assert loaded.arm_names_ == ["control", "10% off", "free shipping"]
        # Levels are matched by name: a frame whose categories are listed in another order scores the same.
        shuffled = X.assign(segment=X["segment"].cat.reorder_categories(["new", "lapsed", "loyal"]))
        np.testing.assert_array_equal(loaded.predict(shuffled), fitted.predict(X))
