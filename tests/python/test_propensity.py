import pickle

import numpy as np
import pytest

import comptoir
from comptoir.metrics import (
    average_precision_score,
    brier_score,
    expected_calibration_error,
    lift_and_gain,
    log_loss,
    log_loss_gain,
    roc_auc_score,
)
from comptoir.propensity import CalibratedClassifier, LogisticRegression


def dataset(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)) * np.array([1, 2, 0.5, 1, 3, 1])
    z = X @ np.array([0.8, -0.4, 1.5, 0.0, 0.2, -1.0]) - 0.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


def penalised_loss(X, y, coef, intercept, C, penalty):
    z = X @ coef + intercept
    data = np.sum(np.logaddexp(0, z) - y * z)
    reg = 0.5 * coef @ coef if penalty == "l2" else np.abs(coef).sum()
    return C * data + reg


@pytest.mark.parametrize("penalty, C", [("l2", 1.0), ("l2", 0.01), ("l1", 0.05)])
def test_matches_scikit_learn_optimum(penalty, C):
    sklearn = pytest.importorskip("sklearn.linear_model")
    X, y = dataset()
    ours = LogisticRegression(C=C, penalty=penalty).fit(X, y)
    theirs = sklearn.LogisticRegression(C=C, penalty=penalty, solver="liblinear" if penalty == "l1" else "lbfgs",
                                        tol=1e-12, max_iter=10_000, intercept_scaling=100).fit(X, y)
    ours_loss = penalised_loss(X, y, ours.coef_[0], ours.intercept_[0], C, penalty)
    theirs_loss = penalised_loss(X, y, theirs.coef_[0], theirs.intercept_[0], C, penalty)
    # Never worse than scikit-learn's optimum by more than 1e-6 (relative).
    assert ours_loss <= theirs_loss * (1 + 1e-6)
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], theirs.predict_proba(X)[:, 1], atol=2e-3)


def test_contributions_add_up_and_pandas_names_are_checked():
    pd = pytest.importorskip("pandas")
    X, y = dataset(1000)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    model = LogisticRegression().fit(frame, y)
    explained = model.explain(frame)
    assert list(explained.columns)[-1] == "base_value"
    np.testing.assert_allclose(explained.sum(axis=1), model.decision_function(frame), atol=1e-10)
    with pytest.raises(ValueError, match="feature names"):
        model.predict_proba(frame.rename(columns={"f0": "other"}))
    with pytest.raises(ValueError, match="5 features"):
        model.predict_proba(X[:, :5])


def test_pickle_params_and_errors():
    X, y = dataset(500)
    model = LogisticRegression(C=0.5).fit(X, np.where(y == 1, "buyer", "browser"))
    assert set(model.predict(X[:20])) <= {"buyer", "browser"}
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))
    assert LogisticRegression(**model.get_params()).get_params() == model.get_params()
    with pytest.raises(comptoir.NotFittedError):
        LogisticRegression().predict_proba(X)
    with pytest.raises(ValueError, match="two classes"):
        LogisticRegression().fit(X, np.ones(len(X)))
    X_bad = X.copy()
    X_bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3, column 1"):
        LogisticRegression().fit(X_bad, y)


def test_metrics_agree_with_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 3000)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 3000), 0, 1).round(2)  # many ties
    assert roc_auc_score(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert average_precision_score(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p), rel=1e-9)
    assert brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    lift, gain = lift_and_gain(y, p)
    assert lift[0] > 1 and gain[-1] == pytest.approx(1.0)
    assert -1 < log_loss_gain(y, p) < 1


def test_calibration_reduces_ece_on_held_out_data():
    X, y = dataset(20000, seed=5)
    model = LogisticRegression(C=1e-4).fit(X[:10000], y[:10000])  # heavily shrunk: badly calibrated
    raw = model.predict_proba(X[15000:])[:, 1]
    for method in ("isotonic", "sigmoid"):
        calibrated = CalibratedClassifier(model, method=method).fit(X[10000:15000], y[10000:15000])
        fixed = calibrated.predict_proba(X[15000:])[:, 1]
        assert expected_calibration_error(y[15000:], fixed) < expected_calibration_error(y[15000:], raw) / 2


def test_save_load_and_the_batch_scoring_command(tmp_path):
    pd = pytest.importorskip("pandas")
    import subprocess
    import sys

    X, y = dataset(2000)
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(6)])
    model = LogisticRegression(C=0.3).fit(frame, y)
    path = tmp_path / "propensity.cmf"
    model.save(path)
    loaded = LogisticRegression.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(frame))
    table = frame.assign(customer_id=np.arange(len(frame)) + 1000).iloc[:, ::-1]  # columns in another order
    table.to_csv(tmp_path / "customers.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "comptoir", "score", str(path), str(tmp_path / "customers.csv"),
                           str(tmp_path / "scores.csv"), "--id-column", "customer_id", "--explain", "2"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["customer_id", "probability", "reason_1", "reason_2"]
    np.testing.assert_allclose(scores["probability"], model.predict_proba(frame)[:, 1], rtol=1e-12)
    assert scores["reason_1"].str.startswith("feature_").all()
    table.drop(columns="feature_3").to_csv(tmp_path / "short.csv", index=False)
    failed = subprocess.run([sys.executable, "-m", "comptoir", "score", str(path), str(tmp_path / "short.csv"),
                             str(tmp_path / "out.csv")], capture_output=True, text=True)
    assert failed.returncode == 2 and "feature_3" in failed.stderr


def test_logistic_regression_round_trips_with_its_labels_and_params(tmp_path):
    X, y01 = dataset(n=2000)
    y = np.array(["no", "yes"])[y01]
    model = LogisticRegression(C=0.5, penalty="l1", max_iter=60).fit(X, y)
    model.save(tmp_path / "lr.cmf")
    for restored in (LogisticRegression.load(tmp_path / "lr.cmf"), pickle.loads(pickle.dumps(model))):
        assert restored.get_params() == model.get_params()
        np.testing.assert_array_equal(restored.classes_, ["no", "yes"])
        np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    config = model.model_.config
    assert (config.C, config.penalty, config.max_iter) == (0.5, "l1", 60)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
@pytest.mark.parametrize("base", ["trees", "logistic"])
def test_calibrated_classifier_saves_loads_and_pickles(tmp_path, method, base):
    from comptoir.trees import GradientBoostingClassifier

    X, y01 = dataset(n=6000)
    y = np.array(["no", "yes"])[y01]
    estimator = (GradientBoostingClassifier(n_estimators=20, num_leaves=7) if base == "trees" else LogisticRegression(C=2.0))
    estimator.fit(X[:3000], y[:3000])
    calibrated = CalibratedClassifier(estimator, method=method).fit(X[3000:], y[3000:])
    calibrated.save(tmp_path / "cal.cmf")
    assert comptoir.io.inspect_model_file(tmp_path / "cal.cmf")["model_kind"] == "calibrated_classifier"
    for restored in (CalibratedClassifier.load(tmp_path / "cal.cmf"), comptoir.load_model(tmp_path / "cal.cmf"),
                     pickle.loads(pickle.dumps(calibrated))):
        assert type(restored) is CalibratedClassifier
        assert restored.method == method
        assert type(restored.estimator) is type(estimator)
        assert restored.estimator.get_params() == estimator.get_params()
        np.testing.assert_array_equal(restored.classes_, ["no", "yes"])
        np.testing.assert_array_equal(restored.estimator.predict_proba(X), estimator.predict_proba(X))
        np.testing.assert_array_equal(restored.predict_proba(X), calibrated.predict_proba(X))
        np.testing.assert_array_equal(restored.predict(X), calibrated.predict(X))
    # The C++ composite serves the same calibrated probabilities.
    served = CalibratedClassifier.load(tmp_path / "cal.cmf").model_.score(X)
    np.testing.assert_allclose(served, calibrated.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_calibration_fits_as_before_and_refuses_to_save_foreign_bases():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y = dataset(n=4000)
    model = LogisticRegression().fit(X[:2000], y[:2000])
    scores = model.predict_proba(X[2000:])[:, 1]
    iso = CalibratedClassifier(model, method="isotonic").fit(X[2000:], y[2000:])
    expected = comptoir._core.propensity.IsotonicCalibration.fit(scores, y[2000:].astype(np.uint8)).calibrate(scores)
    np.testing.assert_array_equal(iso.predict_proba(X[2000:])[:, 1], expected)
    platt = CalibratedClassifier(model, method="sigmoid").fit(X[2000:], y[2000:])
    a, b = comptoir._core.propensity.fit_platt(scores, y[2000:].astype(np.uint8))
    np.testing.assert_allclose(platt.predict_proba(X[2000:])[:, 1], 1 / (1 + np.exp(-(a * scores + b))), rtol=1e-12)

    foreign = sklearn_linear.LogisticRegression().fit(X[:2000], y[:2000])
    calibrated = CalibratedClassifier(foreign).fit(X[2000:], y[2000:])
    assert calibrated.predict_proba(X[:5]).shape == (5, 2)
    with pytest.raises(ValueError, match="only comptoir classifiers have model files"):
        calibrated.to_bytes()
    with pytest.raises(ValueError, match="method"):
        CalibratedClassifier(model, method="beta").fit(X, y)
