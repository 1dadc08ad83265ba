import pickle

import numpy as np
import pytest

import comptoir
from comptoir.metrics import log_loss, roc_auc_score
from comptoir.propensity import LogisticRegression
from comptoir.trees import GradientBoostingClassifier, GradientBoostingRegressor


def binary_task(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    z = np.sin(2 * X[:, 0]) + 1.5 * (X[:, 1] > 0.5) * X[:, 2] + 0.3 * X[:, 3]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    X[rng.uniform(size=n) < 0.05, 3] = np.nan
    return X, y


def test_beats_a_linear_model_on_interactions_and_handles_missing_values():
    X, y = binary_task()
    Xt, yt = binary_task(seed=1)
    trees = GradientBoostingClassifier(n_estimators=150).fit(X, y)
    linear = LogisticRegression().fit(np.nan_to_num(X), y)
    p_trees = trees.predict_proba(Xt)[:, 1]
    p_linear = linear.predict_proba(np.nan_to_num(Xt))[:, 1]
    assert roc_auc_score(yt, p_trees) > roc_auc_score(yt, p_linear) + 0.05
    assert log_loss(yt, p_trees) < log_loss(yt, p_linear)
    assert trees.feature_importances_.sum() == pytest.approx(1.0)
    assert trees.feature_importances_[4] < trees.feature_importances_[:3].min()  # pure noise


def test_explanations_add_up_to_the_log_odds_and_name_the_columns():
    pd = pytest.importorskip("pandas")
    X, y = binary_task(2000)
    frame = pd.DataFrame(X, columns=["recency", "frequency", "monetary", "sessions", "noise"])
    model = GradientBoostingClassifier(n_estimators=30).fit(frame, y)
    contributions = model.explain(frame.head(50))
    assert list(contributions.columns) == ["recency", "frequency", "monetary", "sessions", "noise", "base_value"]
    np.testing.assert_allclose(contributions.sum(axis=1), model.decision_function(frame.head(50)), atol=1e-9)
    with pytest.raises(ValueError, match="feature names differ"):
        model.predict_proba(frame[["frequency", "recency", "monetary", "sessions", "noise"]])


def test_pandas_categories_are_split_as_sets_and_survive_pickling():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    n = 5000
    colour = rng.choice(["red", "green", "blue", "teal", "plum", "gold"], size=n)
    good = np.isin(colour, ["green", "plum", "gold"])
    y = (rng.uniform(size=n) < np.where(good, 0.75, 0.25)).astype(int)
    frame = pd.DataFrame({"colour": pd.Categorical(colour), "x": rng.normal(size=n)})
    model = GradientBoostingClassifier(n_estimators=1, num_leaves=2, learning_rate=1.0).fit(frame, y)
    probe = pd.DataFrame({"colour": pd.Categorical(["red", "green", "blue", "teal", "plum", "gold"]), "x": 0.0})
    p = model.predict_proba(probe)[:, 1]
    np.testing.assert_array_equal(p > 0.5, [False, True, False, False, True, True])
    # Another frame's category order must not change what a code means.
    reordered = probe.assign(colour=pd.Categorical(probe.colour, categories=["gold", "teal", "red", "plum", "green", "blue"]))
    np.testing.assert_array_equal(model.predict_proba(reordered), model.predict_proba(probe))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(probe), model.predict_proba(probe))


def test_categorical_features_by_name_or_index():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 8, size=3000)
    y = (np.isin(codes, [1, 5]) ^ (rng.uniform(size=3000) < 0.1)).astype(int)
    frame = pd.DataFrame({"store": codes, "x": rng.normal(size=3000)})
    by_name = GradientBoostingClassifier(n_estimators=5, categorical_features=["store"]).fit(frame, y)
    by_index = GradientBoostingClassifier(n_estimators=5, categorical_features=[0]).fit(frame.to_numpy(), y)
    np.testing.assert_array_equal(by_name.predict_proba(frame), by_index.predict_proba(frame.to_numpy()))
    with pytest.raises(ValueError, match="not a column"):
        GradientBoostingClassifier(categorical_features=["shop"]).fit(frame, y)


def test_early_stopping_on_a_held_out_fraction_or_an_eval_set():
    X, y = binary_task(4000)
    model = GradientBoostingClassifier(n_estimators=1000, learning_rate=0.3, early_stopping=True).fit(X, y)
    assert model.n_estimators_ < 1000
    assert len(model.validation_loss_) == model.n_estimators_ + model.n_iter_no_change
    Xv, yv = binary_task(2000, seed=5)
    with_eval = GradientBoostingClassifier(n_estimators=1000, learning_rate=0.3, early_stopping=True).fit(X, y, eval_set=(Xv, yv))
    assert np.argmin(with_eval.validation_loss_) == with_eval.n_estimators_ - 1


def test_same_model_for_any_thread_count_and_save_load(tmp_path):
    X, y = binary_task(30000)
    one = GradientBoostingClassifier(n_estimators=20, subsample=0.8, colsample=0.8, n_jobs=1).fit(X, y)
    two = GradientBoostingClassifier(n_estimators=20, subsample=0.8, colsample=0.8, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    path = tmp_path / "propensity.cmf"
    one.save(path)
    loaded = GradientBoostingClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), one.predict_proba(X))
    with pytest.raises(comptoir.ModelFormatError):
        LogisticRegression.load(path)


def test_regressors_for_spend():
    rng = np.random.default_rng(6)
    X = rng.uniform(-2, 2, size=(6000, 3))
    buys = rng.uniform(size=6000) < 1 / (1 + np.exp(-X[:, 1]))
    spend = np.where(buys, np.exp(2 + 0.5 * X[:, 0] + 0.2 * rng.normal(size=6000)), 0.0)
    tweedie = GradientBoostingRegressor(loss="tweedie", power=1.4).fit(X, spend)
    squared = GradientBoostingRegressor().fit(X, spend)
    assert (tweedie.predict(X) > 0).all()  # a log link never predicts negative spend
    assert squared.score(X, spend) > 0.4
    np.testing.assert_allclose(tweedie.explain(X[:20]).sum(axis=1), np.log(tweedie.predict(X[:20])), rtol=1e-9)
    with pytest.raises(ValueError, match="target 0 is -10, which the Tweedie objective"):
        GradientBoostingRegressor(loss="tweedie").fit(X, spend - 10)
    with pytest.raises(ValueError, match="loss must be"):
        GradientBoostingRegressor(loss="huber").fit(X, spend)


def test_bad_input_is_named():
    X, y = binary_task(500)
    with pytest.raises(ValueError, match="exactly two classes"):
        GradientBoostingClassifier().fit(X, np.ones(500))
    with pytest.raises(ValueError, match="Only binary"):
        GradientBoostingClassifier().fit(X, np.arange(500) % 3)
    with pytest.raises(comptoir.NotFittedError):
        GradientBoostingClassifier().predict(X)
    model = GradientBoostingClassifier(n_estimators=3).fit(X, y)
    with pytest.raises(ValueError, match="expecting 5 features"):
        model.predict(X[:, :4])
    with pytest.raises(ValueError, match="0 sample"):
        GradientBoostingClassifier().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="weights are all zero"):
        GradientBoostingClassifier().fit(X, y, sample_weight=np.zeros(500))
    with pytest.raises(ValueError, match="needs finite values"):
        LogisticRegression().fit(np.nan_to_num(X), y).predict(X)  # X still holds NaN


@pytest.mark.parametrize("estimator", [GradientBoostingClassifier(n_estimators=10), GradientBoostingRegressor(n_estimators=10),
                                       LogisticRegression()], ids=lambda e: type(e).__name__)
def test_scikit_learn_estimator_checks(estimator):
    sklearn = pytest.importorskip("sklearn")
    if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) < (1, 6):
        pytest.skip("scikit-learn's estimator tags need version 1.6 or later")
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(estimator, on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']}" for r in results if r["status"] == "failed"]
    assert len(results) > 40
    assert not failed, "\n".join(failed)


def test_contribution_plots_show_the_largest_reasons():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from comptoir.metrics import plot_contributions

    X, y = binary_task(2000)
    model = GradientBoostingClassifier(n_estimators=20).fit(X, y)
    contributions = model.explain(X[:200])
    names = [f"f{j}" for j in range(5)] + ["base_value"]
    _, (one, many) = plt.subplots(1, 2)
    plot_contributions(contributions[:1], names, top=3, ax=one)
    plot_contributions(contributions, names, ax=many)
    # A waterfall: the three largest contributions, then the other two as one bar.
    bars = [patch.get_width() for patch in one.patches]
    assert len(bars) == 4
    order = np.argsort(-np.abs(contributions[0, :-1]))
    np.testing.assert_allclose(bars[:3], contributions[0, order[:3]], rtol=1e-6)
    np.testing.assert_allclose(bars[3], contributions[0, order[3:]].sum(), rtol=1e-6, atol=1e-9)
    assert "base value" in one.get_title()
    np.testing.assert_allclose(sorted(p.get_width() for p in many.patches), np.sort(np.abs(contributions[:, :-1]).mean(axis=0)))
    with pytest.raises(ValueError, match="feature names"):
        plot_contributions(contributions, names[:3])
    plt.close("all")


def test_drifted_features_are_named_in_a_warning_and_survive_save_load(tmp_path):
    import pickle
    import warnings

    from comptoir import DriftWarning
    from comptoir.metrics import feature_drift

    rng = np.random.default_rng(11)
    X = rng.normal(size=(4_000, 3))
    y = (X[:, 0] + rng.normal(size=4_000) > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=10).fit(X, y)
    fresh = rng.normal(size=(3_000, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        model.predict_proba(fresh)  # the same population: silent
    drifted = fresh.copy()
    drifted[:, 2] = np.nan  # a feature the pipeline stopped filling
    with pytest.warns(DriftWarning, match=r"1 of 3 features drifted.*x2 \("):
        model.predict_proba(drifted)
    model.save(tmp_path / "model.cmf")
    for restored in (GradientBoostingClassifier.load(tmp_path / "model.cmf"), pickle.loads(pickle.dumps(model))):
        report = feature_drift(restored, drifted)
        assert list(report)[0] == "x2" and report["x2"] > 0.25 and report["x0"] < 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        model.predict_proba(drifted[:10])  # too few rows to judge a population


def _frame(n=3000, seed=3):
    import pandas as pd

    rng = np.random.default_rng(seed)
    segment = rng.choice(["web", "store", "app"], size=n)
    tier = rng.choice([1, 5, 9], size=n)
    frame = pd.DataFrame({
        "segment": pd.Categorical(segment, categories=["web", "store", "app"]),
        "tier": pd.Categorical(tier),
        "channel": rng.choice(["mail", "sms"], size=n).astype(object),
        "recency": rng.exponential(30, size=n),
    })
    z = (segment == "app") * 1.2 - (tier == 5) * 0.8 + (frame["channel"] == "sms") * 0.7 - frame["recency"] / 40
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "yes", "no")
    return frame, y, z


def test_a_categorical_frame_with_text_labels_round_trips_bit_identically(tmp_path):
    frame, y, _ = _frame()
    model = GradientBoostingClassifier(n_estimators=25, subsample=0.8, colsample=0.9, max_depth=5,
                                       categorical_features=["channel"], random_state=3).fit(frame, y)
    assert list(model.classes_) == ["no", "yes"]
    assert set(model.category_levels_) == {0, 1, 2}
    model.save(tmp_path / "gb.cmf")
    for restored in (GradientBoostingClassifier.load(tmp_path / "gb.cmf"), comptoir.load_model(tmp_path / "gb.cmf"),
                     pickle.loads(pickle.dumps(model))):
        assert type(restored) is GradientBoostingClassifier
        assert restored.get_params() == model.get_params()
        assert list(restored.classes_) == ["no", "yes"] and restored.classes_.dtype == model.classes_.dtype
        assert list(restored.feature_names_in_) == list(frame.columns)
        assert restored.n_features_in_ == 4
        for j, levels in model.category_levels_.items():
            assert list(restored.category_levels_[j]) == list(levels)
            assert restored.category_levels_[j].dtype == levels.dtype
        np.testing.assert_array_equal(restored.predict_proba(frame), model.predict_proba(frame))
        np.testing.assert_array_equal(restored.predict(frame), model.predict(frame))
        np.testing.assert_array_equal(restored.explain(frame.head(20)).to_numpy(), model.explain(frame.head(20)).to_numpy())
        assert restored.feature_profile_ is not None
    config = GradientBoostingClassifier.load(tmp_path / "gb.cmf").model_.config
    assert (config.n_estimators, config.subsample, config.colsample, config.max_depth) == (25, 0.8, 0.9, 5)
    assert config.categorical_features == [0, 1, 2] and config.objective == "binary"


def test_unseen_levels_are_scored_as_missing():
    frame, y, _ = _frame()
    model = GradientBoostingClassifier(n_estimators=10, categorical_features=["channel"]).fit(frame, y)
    unseen = frame.head(5).copy()
    unseen["channel"] = "fax"
    missing = frame.head(5).copy()
    missing["channel"] = None
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(missing))


def test_typed_class_labels_come_back_with_their_type(tmp_path):
    X, y01 = binary_task(n=1500)
    for labels in (np.array([3, 7]), np.array([False, True]), np.array([1.0, 2.0]), np.array(["no", "yes"])):
        y = labels[y01]
        model = GradientBoostingClassifier(n_estimators=5).fit(X, y)
        restored = GradientBoostingClassifier.from_bytes(model.to_bytes())
        assert restored.classes_.dtype.kind == model.classes_.dtype.kind
        np.testing.assert_array_equal(restored.classes_, model.classes_)
        np.testing.assert_array_equal(restored.predict(X), model.predict(X))
        assert not hasattr(restored, "feature_names_in_")


def test_regressor_round_trips_and_the_wrong_class_is_named(tmp_path):
    X, _ = binary_task(n=2000)
    y = np.random.default_rng(0).poisson(np.exp(X[:, 0].clip(-3, 3) / 2))
    regressor = GradientBoostingRegressor(loss="poisson", n_estimators=15, l2_regularization=0.5).fit(X, y)
    regressor.save(tmp_path / "reg.cmf")
    restored = GradientBoostingRegressor.load(tmp_path / "reg.cmf")
    assert restored.get_params() == regressor.get_params()
    np.testing.assert_array_equal(restored.predict(X), regressor.predict(X))
    with pytest.raises(comptoir.ModelFormatError, match="GradientBoostingRegressor.*GradientBoostingClassifier"):
        GradientBoostingClassifier.load(tmp_path / "reg.cmf")
    classifier = GradientBoostingClassifier(n_estimators=3).fit(X, (y > 1).astype(int))
    with pytest.raises(comptoir.ModelFormatError, match="GradientBoostingClassifier.*GradientBoostingRegressor"):
        GradientBoostingRegressor.from_bytes(classifier.to_bytes())
    # Files without an estimator record (written from C++) are checked on their objective.
    core = regressor.model_.to_bytes()
    with pytest.raises(comptoir.ModelFormatError, match="objective 'poisson'"):
        GradientBoostingClassifier.from_bytes(core)
    old = GradientBoostingRegressor.from_bytes(core)
    assert old.loss == "poisson"
    np.testing.assert_array_equal(old.predict(X), regressor.predict(X))


def test_files_without_a_schema_or_record_still_load():
    frame, y, _ = _frame(n=1500)
    model = GradientBoostingClassifier(n_estimators=5).fit(frame[["recency"]], y)
    core = model.model_
    core.schema = {"feature_names": ["recency"]}  # what older files held: names only
    old = GradientBoostingClassifier.from_bytes(core.to_bytes())
    np.testing.assert_array_equal(old.classes_, [0, 1])
    np.testing.assert_array_equal(old.predict_proba(frame[["recency"]]), model.predict_proba(frame[["recency"]]))
