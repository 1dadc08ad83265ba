"""Familiar conventions: eval_set as scikit-learn and LightGBM take it, LightGBM's names accepted
with their meaning or refused with ours, text columns named categorical, DriftWarning once per
model and call site at the caller's line, and calibration labels matched by class value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from comptoir import DriftWarning, InvalidArgumentError
from comptoir.propensity import CalibratedClassifier, LogisticRegression
from comptoir.trees import GradientBoostingClassifier, GradientBoostingRegressor


def data(n=3_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(int)
    return X, y


def test_eval_set_as_a_list_of_pairs_or_a_bare_pair():
    X, y = data()
    listed = GradientBoostingClassifier(n_estimators=200, early_stopping=True).fit(X[:2000], y[:2000],
                                                                                    eval_set=[(X[2000:], y[2000:])])
    bare = GradientBoostingClassifier(n_estimators=200, early_stopping=True).fit(X[:2000], y[:2000],
                                                                                  eval_set=(X[2000:], y[2000:]))
    assert listed.n_estimators_ == bare.n_estimators_ < 200
    np.testing.assert_array_equal(listed.predict_proba(X[:10]), bare.predict_proba(X[:10]))
    with pytest.raises(ValueError, match="watches one"):
        GradientBoostingClassifier().fit(X, y, eval_set=[(X, y), (X, y)])
    with pytest.raises(ValueError, match="eval_set must be"):
        GradientBoostingClassifier().fit(X, y, eval_set=[X, y])
    with pytest.raises(ValueError, match="rows but its y"):
        GradientBoostingClassifier().fit(X, y, eval_set=[(X, y[:10])])


def test_lightgbm_names_mean_what_they_mean_there():
    X, y = data()
    ours = GradientBoostingClassifier(n_estimators=20, min_samples_leaf=200, min_hessian_leaf=5.0, l2_regularization=3.0,
                                      colsample=0.5, max_bins=31).fit(X, y)
    theirs = GradientBoostingClassifier(n_estimators=20, min_child_samples=200, min_child_weight=5.0, reg_lambda=3.0,
                                        colsample_bytree=0.5, max_bin=31, verbose=-1, n_jobs=-1, max_depth=-1).fit(X, y)
    assert theirs.get_params()["min_samples_leaf"] == 200 and "min_child_samples" not in theirs.get_params()
    np.testing.assert_array_equal(ours.predict_proba(X[:50]), theirs.predict_proba(X[:50]))
    assert GradientBoostingRegressor(num_iterations=7, learning_rate=0.3).fit(X, y.astype(float)).n_estimators_ == 7
    tuned = GradientBoostingClassifier().set_params(min_child_samples=50)
    assert tuned.min_samples_leaf == 50
    for name, hint in (("reg_alpha", "l2_regularization"), ("boosting_type", "gbdt"), ("objective", "GradientBoosting"),
                       ("subsample_freq", "every tree"), ("early_stopping_rounds", "n_iter_no_change")):
        with pytest.raises(TypeError, match=hint):
            GradientBoostingClassifier(**{name: 3})
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_leafs'"):
        GradientBoostingClassifier(num_leafs=3)


def test_verbose_minus_one_is_silent(capsys):
    pytest.importorskip("tqdm")
    X, y = data(500)
    GradientBoostingClassifier(n_estimators=5, verbose=-1).fit(X, y)
    LogisticRegression(verbose=-1, n_jobs=-1).fit(X, y)
    assert capsys.readouterr().err == ""


def test_text_columns_named_categorical_are_split_by_sets():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"country": rng.choice(["United Kingdom", "France", "EIRE"], 3000).astype(object),
                      "spend": rng.normal(size=3000)})
    X["country"] = X["country"].astype(object)
    y = ((X["country"] == "France") | (X["spend"] > 1)).astype(int)
    for spec in (["country"], [0], [True, False], "country"):
        model = GradientBoostingClassifier(n_estimators=30, categorical_features=spec).fit(X[:2000], y[:2000],
                                                                                            eval_set=[(X[2000:], y[2000:])])
        p = model.predict_proba(X[2000:])[:, 1]
        assert p[(X["country"][2000:] == "France").to_numpy()].min() > 0.8
    with pytest.raises(ValueError, match="'region' is not a column"):
        GradientBoostingClassifier(categorical_features=["region"]).fit(X, y)


def drifted(model, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            model.predict_proba(X)  # one call site, three calls
        model.predict_proba(X)      # another
    return [w for w in caught if issubclass(w.category, DriftWarning)]


def test_drift_warning_once_per_model_and_call_site_at_the_callers_line():
    X, y = data(4_000)
    shifted = X + np.array([3.0, 0, 0, 0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GradientBoostingClassifier(n_estimators=10, early_stopping=True).fit(X, y, eval_set=[(shifted, y)])
    assert not [w for w in caught if issubclass(w.category, DriftWarning)]  # never during fit
    found = drifted(model, shifted)
    assert len(found) == 2 and all(w.filename == __file__ for w in found)
    assert found[0].lineno != found[1].lineno and "x0" in str(found[0].message)
    assert len(drifted(GradientBoostingClassifier(n_estimators=10).fit(X, y), shifted)) == 2  # per model
    assert drifted(GradientBoostingClassifier(n_estimators=10, drift_check=False).fit(X, y), shifted) == []
    assert drifted(LogisticRegression(drift_check=False).fit(X, y), shifted) == []
    assert len(drifted(LogisticRegression().fit(X, y), shifted)) == 2


def test_uplift_learners_warn_at_the_callers_line_and_can_be_silenced():
    from comptoir.uplift import TLearner

    X, y = data(4_000)
    treatment = np.arange(len(y)) % 2
    shifted = X + np.array([3.0, 0, 0, 0])
    for check, expected in ((True, 1), (False, 0)):
        learner = TLearner(drift_check=check).fit(X, treatment=treatment, y=y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                learner.predict(shifted)
        found = [w for w in caught if issubclass(w.category, DriftWarning)]
        assert len(found) == expected and all(w.filename == __file__ for w in found)


def test_calibration_labels_are_matched_by_class_value():
    X, y = data()
    words = np.where(y == 1, "yes", "no")
    base = GradientBoostingClassifier(n_estimators=20).fit(X[:1500], words[:1500])
    with pytest.raises(InvalidArgumentError, match=r"labels \[0, 1\] are not the base model's classes \['no', 'yes'\]"):
        CalibratedClassifier(base).fit(X[1500:], y[1500:])
    with pytest.raises(InvalidArgumentError, match="only the class"):
        CalibratedClassifier(base).fit(X[1500:1510], np.full(10, "yes"))
    calibrated = CalibratedClassifier(base).fit(X[1500:], words[1500:])
    p = calibrated.predict_proba(X[:500])[:, 1]
    assert 0.3 < p.mean() < 0.7 and set(calibrated.predict(X[:50])) <= {"yes", "no"}
    numeric = GradientBoostingClassifier(n_estimators=20).fit(X[:1500], y[:1500])
    with pytest.raises(InvalidArgumentError, match=r"\['no', 'yes'\] are not the base model's classes \[0, 1\]"):
        CalibratedClassifier(numeric).fit(X[1500:], words[1500:])
