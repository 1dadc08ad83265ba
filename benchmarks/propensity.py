"""Propensity models side by side: comptoir's gradient-boosted trees and logistic regression against
LightGBM and scikit-learn on identical features and splits, one table with the ratios to LightGBM.

    python benchmarks/propensity.py [--data ../shared/data] [--quick]

Tasks
- Online Retail, out of time: behaviour features at monthly snapshots; train on the snapshots whose
  label window closes by 2011-09-01, test on the 2011-09-01 snapshot. Customers with a purchase
  before the snapshot. "buys in 30 days" and "buys in 90 days" (and, for the regressors, spend in 90
  days under a Tweedie loss).
- Hillstrom: visit and conversion in the two weeks after the e-mails, from the pre-campaign features
  and the arm, on a fixed 70/30 split (numpy seed 0).
- Simulator (skipped with --quick): one million customers, the 50 behaviour features at day 60,
  "buys in the next 30 days", 70/30 split.

Every model runs with the same settings: 100 trees, learning rate 0.1, 31 leaves, at least 20 rows
per leaf, 255 value bins, 2 threads; logistic regressions with C = 1 on signed-log features with
missing flags (comptoir.features.LinearFeatures). Each fit runs in a fresh child process, whose
peak resident memory during the fit, above its size before, is reported. Scoring speed: predicted probabilities
for one million rows (the test rows repeated), 2 threads.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from importlib.util import find_spec
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from common import PeakMemory, dataset_folder, parse_args, run_in_fresh_process
from comptoir import DriftWarning
from comptoir.features import LinearFeatures, behaviour_features, purchase_labels, to_unix_seconds
from comptoir.metrics import brier_score, expected_calibration_error, log_loss, roc_auc_score

THREADS = 2
SCORED_ROWS = 1_000_000

# The test rows are a later snapshot: tenure and recency shift by design, which is what the
# drift warning reports. Kept quiet here (module level, so fresh scoring processes get it too).
warnings.simplefilter("ignore", DriftWarning)


def _logistic_objective(estimator: Any, X: np.ndarray, y: np.ndarray) -> float:
    """C * summed log loss + ||w||^2 / 2: what both logistic regressions minimise."""
    z = X @ estimator.coef_.ravel() + estimator.intercept_[0]
    return float(estimator.C * np.sum(np.logaddexp(0, z) - y * z) + 0.5 * estimator.coef_.ravel() @ estimator.coef_.ravel())


def _fit_and_score(model: str, regression: bool, arrays: str) -> Tuple:
    data = np.load(arrays)
    X, y, X_test = data["X"], data["y"], data["X_test"]
    make = (regressors() if regression else {name: make for name, (make, _) in classifiers().items()})[model]
    estimator = make()
    with PeakMemory() as memory:
        start = time.perf_counter()
        estimator.fit(X, y)
        fit_seconds = time.perf_counter() - start
    objective = _logistic_objective(estimator, X, y) if hasattr(estimator, "coef_") else None
    predict = estimator.predict if regression else (lambda rows: estimator.predict_proba(rows)[:, 1])
    scores = predict(X_test)
    repeated = np.ascontiguousarray(np.resize(X_test, (SCORED_ROWS, X_test.shape[1])))
    start = time.perf_counter()
    predict(repeated)
    rows_per_second = SCORED_ROWS / (time.perf_counter() - start)
    return scores, fit_seconds, memory.bytes, rows_per_second, objective


def run_isolated(model: str, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, regression: bool = False) -> Tuple:
    with tempfile.TemporaryDirectory() as folder:
        arrays = f"{folder}/task.npz"
        np.savez(arrays, X=X, y=y, X_test=X_test)
        return run_in_fresh_process(_fit_and_score, model, regression, arrays)


def classifiers() -> Dict[str, Tuple[Callable[[], Any], bool]]:
    """name -> (factory, takes the linear features)."""
    from comptoir.propensity import LogisticRegression
    from comptoir.trees import GradientBoostingClassifier

    models: Dict[str, Tuple[Callable[[], Any], bool]] = {
        "comptoir GradientBoosting": (lambda: GradientBoostingClassifier(n_jobs=THREADS), False),
    }
    if find_spec("lightgbm"):
        import lightgbm

        models["LightGBM"] = (lambda: lightgbm.LGBMClassifier(n_jobs=THREADS, verbose=-1, max_bin=255), False)
    if find_spec("sklearn"):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression as SkLogistic

        models["sklearn HistGradientBoosting"] = (lambda: HistGradientBoostingClassifier(early_stopping=False), False)
        models["sklearn LogisticRegression"] = (lambda: SkLogistic(C=1.0, max_iter=10_000, tol=1e-10), True)
    models["comptoir LogisticRegression"] = (lambda: LogisticRegression(C=1.0, n_jobs=THREADS), True)
    return models


def regressors() -> Dict[str, Callable[[], Any]]:
    from comptoir.trees import GradientBoostingRegressor

    models: Dict[str, Callable[[], Any]] = {"comptoir GradientBoosting (Tweedie 1.5)": lambda: GradientBoostingRegressor(loss="tweedie", power=1.5, n_jobs=THREADS)}
    if not find_spec("lightgbm"):
        return models
    import lightgbm

    models["LightGBM (Tweedie 1.5)"] = lambda: lightgbm.LGBMRegressor(objective="tweedie", tweedie_variance_power=1.5, n_jobs=THREADS, verbose=-1, max_bin=255)
    return models


def online_retail_tasks(folder) -> List[Tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(task, X_train, y_train, X_test, y_test, spend_train, spend_test) per horizon."""
    from comptoir.data import load_online_retail

    events = load_online_retail(folder).to_dict()
    test_snapshot = np.datetime64("2011-09-01")
    tasks = []
    for horizon in (30, 90):
        frames = {"train": [], "test": []}
        for month in range(2, 10):
            snapshot = np.datetime64(f"2011-{month:02d}-01")
            split = "test" if snapshot == test_snapshot else "train"
            if split == "train" and snapshot + np.timedelta64(horizon, "D") > test_snapshot:
                continue
            seconds = int(to_unix_seconds(snapshot))
            X, names = behaviour_features(events, seconds, as_frame=False)
            bought, spend = purchase_labels(events, seconds, horizon_days=horizon, num_users=len(X))
            customers = ~np.isnan(X[:, names.index("recency_days")])
            frames[split].append((X[customers], bought[customers], spend[customers]))
        stack = lambda parts, k: np.concatenate([p[k] for p in parts])  # noqa: E731
        tasks.append((f"Online Retail buys in {horizon} days", stack(frames["train"], 0), stack(frames["train"], 1),
                      stack(frames["test"], 0), stack(frames["test"], 1), stack(frames["train"], 2), stack(frames["test"], 2)))
    return tasks


def hillstrom_tasks(folder) -> List[Tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    from comptoir.data import load_hillstrom

    data = load_hillstrom(folder, as_frame=False)
    X = np.c_[data["recency"], data["history_segment"], data["history"], data["mens"], data["womens"], data["zip_code"],
              data["newbie"], data["channel"], data["treatment"]].astype(float)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[: int(0.7 * len(X))], order[int(0.7 * len(X)):]
    return [(f"Hillstrom {outcome}", X[train], data[outcome][train], X[test], data[outcome][test]) for outcome in ("visit", "conversion")]


def simulator_task() -> Tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from comptoir.simulate import simulate

    start = time.perf_counter()
    shop = simulate(num_customers=1_000_000, num_items=20_000, num_days=90, sessions_per_customer=4.0, seed=1, n_jobs=THREADS)
    events = shop.events
    snapshot = int(events["timestamp"].min()) + 60 * 86_400
    X, _ = behaviour_features(events, snapshot, num_users=shop.num_customers, as_frame=False, n_jobs=THREADS)
    X = np.ascontiguousarray(X[:, :50])
    bought, _ = purchase_labels(events, snapshot, horizon_days=30, num_users=shop.num_customers)
    print(f"simulated {len(events['item']):,} events for 1,000,000 customers and built {X.shape[1]} features in "
          f"{time.perf_counter() - start:.1f} s")
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[: int(0.7 * len(X))], order[int(0.7 * len(X)):]
    return ("Simulator 1M customers x 50", X[train], bought[train], X[test], bought[test])


def report_classification(task: str, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> None:
    informative = ~np.isnan(X).all(axis=0)  # a column never observed (no carts in a shop log) is dropped for all
    # float64 for every model: comptoir would otherwise copy float32 input into float64 first.
    X = np.ascontiguousarray(X[:, informative], dtype=np.float64)
    X_test = np.ascontiguousarray(X_test[:, informative], dtype=np.float64)
    linear = LinearFeatures().fit(X)
    linear_train, linear_test = linear.transform(X), linear.transform(X_test)
    y, y_test = y.astype(int), y_test.astype(int)
    print(f"\n{task}: {len(X):,} training rows, {len(X_test):,} test rows, {X.shape[1]} features, "
          f"positive rate {y_test.mean():.3f}")
    header = f"{'model':30s} {'ROC-AUC':>8s} {'logloss':>8s} {'Brier':>7s} {'ECE':>6s} {'fit s':>7s} {'peak MB':>8s} {'rows/s':>11s}"
    print(header + f" {'AUC-LGBM':>9s} {'loss/LGBM':>9s} {'time/LGBM':>9s} {'mem/LGBM':>8s} {'speed/LGBM':>10s}")
    results, objectives = {}, {}
    for name, (_, takes_linear) in classifiers().items():
        train_rows, test_rows = (linear_train, linear_test) if takes_linear else (X, X_test)
        p, fit_seconds, peak, speed, objectives[name] = run_isolated(name, train_rows, y, test_rows)
        results[name] = (roc_auc_score(y_test, p), log_loss(y_test, p), fit_seconds, peak, speed)
        auc, loss, _, _, _ = results[name]
        line = (f"{name:30s} {auc:8.4f} {loss:8.4f} {brier_score(y_test, p):7.4f} {expected_calibration_error(y_test, p):6.3f} "
                f"{fit_seconds:7.2f} {peak / 2**20:8.0f} {speed:11,.0f}")
        if "LightGBM" in results:
            ref = results["LightGBM"]
            line += (f" {auc - ref[0]:+9.4f} {loss / ref[1]:9.3f} {fit_seconds / ref[2]:9.2f} {peak / max(ref[3], 1):8.2f} "
                     f"{speed / ref[4]:10.2f}")
        print(line)
    if "LightGBM" in results and len(X) <= 100_000:
        paired_resamples(X, y, X_test, y_test)
    if objectives.get("sklearn LogisticRegression") is not None:
        ours, theirs = objectives["comptoir LogisticRegression"], objectives["sklearn LogisticRegression"]
        print(f"logistic objective (C x log loss sum + L2/2): comptoir {ours:.8f}, scikit-learn {theirs:.8f}, "
              f"relative gap {(ours - theirs) / theirs:+.1e}")


def paired_resamples(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, resamples: int = 20) -> None:
    """One split is noisy on small data: both boosters on the same bootstrap resamples of the
    training rows, the test rows fixed; differences to LightGBM, mean and standard deviation."""
    import lightgbm

    from comptoir.trees import GradientBoostingClassifier

    differences = []
    for seed in range(resamples):
        rows = np.random.default_rng(seed).choice(len(X), len(X))
        ours = GradientBoostingClassifier(n_jobs=THREADS).fit(X[rows], y[rows]).predict_proba(X_test)[:, 1]
        theirs = lightgbm.LGBMClassifier(n_jobs=THREADS, verbose=-1, max_bin=255).fit(X[rows], y[rows]).predict_proba(X_test)[:, 1]
        differences.append((roc_auc_score(y_test, ours) - roc_auc_score(y_test, theirs), log_loss(y_test, ours) - log_loss(y_test, theirs)))
    mean, spread = np.mean(differences, axis=0), np.std(differences, axis=0)
    error = spread / np.sqrt(resamples)
    print(f"comptoir minus LightGBM over {resamples} bootstrap resamples of the training rows: ROC-AUC {mean[0]:+.4f} "
          f"(sd {spread[0]:.4f}, se {error[0]:.4f}), log loss {mean[1]:+.5f} (sd {spread[1]:.5f}, se {error[1]:.5f})")


def report_spend(task: str, X: np.ndarray, spend: np.ndarray, X_test: np.ndarray, spend_test: np.ndarray) -> None:
    spend, spend_test = np.maximum(spend, 0), np.maximum(spend_test, 0)  # net of returns, floored at zero
    print(f"\n{task}, spend (net of returns, floored at zero; Tweedie deviance, power 1.5, lower is better):")
    print(f"{'model':40s} {'deviance':>9s} {'R2':>7s} {'fit s':>7s} {'rows/s':>11s}")
    for name in regressors():
        mu, fit_seconds, _, speed, _ = run_isolated(name, X, spend, X_test, regression=True)
        mu = np.maximum(mu, 1e-9)
        p = 1.5
        deviance = 2 * np.mean(np.maximum(spend_test, 0) ** (2 - p) / ((1 - p) * (2 - p)) - spend_test * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p))
        r2 = 1 - np.mean((spend_test - mu) ** 2) / np.var(spend_test)
        print(f"{name:40s} {deviance:9.2f} {r2:7.3f} {fit_seconds:7.2f} {speed:11,.0f}")


def main() -> int:
    args = parse_args(__doc__)
    for peer in ("lightgbm", "sklearn"):
        if not find_spec(peer):
            print(f"{peer} is not installed: its rows are skipped (pip install {peer.replace('sklearn', 'scikit-learn')})")
    retail = dataset_folder(args, "online_retail")
    if retail is not None:
        for task, X, y, X_test, y_test, spend, spend_test in online_retail_tasks(retail):
            report_classification(task, X, y, X_test, y_test)
            if "90" in task:
                report_spend(task, X, spend, X_test, spend_test)
    hillstrom = dataset_folder(args, "hillstrom")
    if hillstrom is not None:
        for task in hillstrom_tasks(hillstrom):
            report_classification(*task)
    if not args.quick:
        report_classification(*simulator_task())
    return 0


if __name__ == "__main__":
    sys.exit(main())
