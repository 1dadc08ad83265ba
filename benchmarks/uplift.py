"""Uplift side by side: comptoir's meta-learners and uplift forest against scikit-uplift's and
causalml's on Hillstrom's randomised e-mail test, and against the known truth on the simulator.

    python benchmarks/uplift.py [--data ../shared/data] [--quick]

Hillstrom: a fixed 70/30 random split of the 64,000 customers (numpy seed 0). Features: recency,
log history, mens, womens, newbie, one-hot zip code and channel. Tasks: the Mens e-mail against no
e-mail, the Womens e-mail against no e-mail, and both e-mails at once (one multi-offer model, scored
per offer against control); outcomes visit, conversion and spend. Every score goes through the same
function: the Qini coefficient against a perfect ranking (`qini_coefficient_vs_perfect`) with a 95%
bootstrap interval over the test rows (200 replicates). Forests use the same settings in both
libraries: 100 trees, depth 6, at least 100 rows per leaf and 10 per arm, n_reg 100, 10 features
tried per node, KL divergence (squared Euclidean on spend, which causalml's classifier forest
cannot fit); their fits run in a fresh process that reports its peak memory above its size before.

Simulator (skipped with --quick): one million customers, offers of 10% and 20% off, learned on
half of the randomised campaign and scored on the other half against each customer's true effect:
PEHE (root mean squared error of the effect), Spearman rank correlation, and the true profit of the
budgeted offer plan built from the estimates as a share of the plan built from the true effects.
The figures are for the storefront of seed 7; the bracketed ranges are the lowest and highest of
each figure over ten more independent storefronts (seeds 100-109: new customers, new campaign,
every model refitted), the spread a user would see from one campaign to the next.
"""

from __future__ import annotations

import sys
import tempfile
import time
from importlib.util import find_spec
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from common import PeakMemory, dataset_folder, parse_args, run_in_fresh_process
from comptoir.uplift import ClassTransformation, DRLearner, SLearner, TLearner, UpliftRandomForest, XLearner
from comptoir.uplift_metrics import bootstrap_interval

THREADS = 2
STOREFRONTS = 10  # independent simulated storefronts behind each range
FOREST = dict(n_estimators=100, max_depth=6, min_samples_leaf=100, min_samples_treatment=10, n_reg=100)


def features(data: Dict[str, np.ndarray]) -> np.ndarray:
    onehot = lambda codes: np.eye(codes.max() + 1)[codes]  # noqa: E731
    return np.c_[data["recency"], np.log1p(data["history"]), data["mens"], data["womens"], data["newbie"],
                 onehot(data["zip_code"]), onehot(data["channel"])].astype(float)


def learners(binary: bool, num_features: int) -> Dict[str, Callable[[], Any]]:
    """name -> factory of a model with fit(X, treatment, y) and predict(X) -> (rows, offers)."""
    max_features = min(1.0, 10 / num_features)
    models: Dict[str, Callable[[], Any]] = {
        "comptoir T-learner": TLearner,
        "comptoir S-learner": SLearner,
        "comptoir X-learner": XLearner,
        "comptoir DR-learner": DRLearner,
        "comptoir uplift forest": lambda: UpliftRandomForest(criterion="KL" if binary else "ED", max_features=max_features,
                                                             n_jobs=THREADS, **FOREST),
    }
    if binary:
        models["comptoir class transformation"] = ClassTransformation
    if find_spec("sklift"):
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import LogisticRegression as SkLogistic
        from sklift.models import ClassTransformation as SkliftCT, TwoModels

        if binary:
            models["scikit-uplift TwoModels (sklearn LR)"] = lambda: PeerPerOffer(
                lambda: TwoModels(SkLogistic(max_iter=1000), SkLogistic(max_iter=1000), method="vanilla"), "sklift")
        else:
            models["scikit-uplift TwoModels (sklearn HGB)"] = lambda: PeerPerOffer(
                lambda: TwoModels(HistGradientBoostingRegressor(), HistGradientBoostingRegressor(), method="vanilla"), "sklift")
        if binary:
            models["scikit-uplift ClassTransformation"] = lambda: PeerPerOffer(lambda: SkliftCT(SkLogistic(max_iter=1000)), "sklift")
    if find_spec("causalml") and binary:
        from causalml.inference.meta import BaseTClassifier, BaseXClassifier
        from causalml.inference.tree import UpliftRandomForestClassifier
        from sklearn.linear_model import LogisticRegression as SkLogistic

        models["causalml T-learner (sklearn LR)"] = lambda: PeerPerOffer(lambda: BaseTClassifier(learner=SkLogistic(max_iter=1000)), "causalml_meta")
        models["causalml uplift forest"] = lambda: CausalmlForest(UpliftRandomForestClassifier(
            evaluationFunction="KL", max_features=10, n_jobs=THREADS, control_name="0", random_state=42, **FOREST))
    return models


class PeerPerOffer:
    """A peer's single-offer model fitted once per offer against control, behind comptoir's API."""

    def __init__(self, make: Callable[[], Any], kind: str) -> None:
        self.make, self.kind = make, kind

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> "PeerPerOffer":
        self.models = []
        for offer in range(1, treatment.max() + 1):
            rows = (treatment == 0) | (treatment == offer)
            model = self.make()
            if self.kind == "sklift":
                model.fit(X[rows], y[rows], (treatment[rows] == offer).astype(int))
            else:
                model.fit(X[rows], (treatment[rows] == offer).astype(int), y[rows])
            self.models.append(model)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([np.asarray(m.predict(X)).reshape(len(X), -1)[:, 0] for m in self.models])


class CausalmlForest:
    """causalml's UpliftRandomForestClassifier (one model for every offer) behind comptoir's API."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> "CausalmlForest":
        self.model.fit(X, treatment.astype(str), y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(X))


def _fit_forest(name: str, binary: bool, arrays: str) -> Tuple[np.ndarray, float, int, float]:
    """In a fresh process: fit one forest, return (effects, fit seconds, peak bytes, rows/s)."""
    data = np.load(arrays)
    X, treatment, y, X_test = data["X"], data["treatment"], data["y"], data["X_test"]
    model = learners(binary, X.shape[1])[name]()
    with PeakMemory() as memory:
        start = time.perf_counter()
        model.fit(X, treatment=treatment, y=y)
        seconds = time.perf_counter() - start
    start = time.perf_counter()
    effects = model.predict(X_test)
    return effects, seconds, memory.bytes, len(X_test) / (time.perf_counter() - start)


def fit_and_predict(name: str, make: Callable[[], Any], binary: bool, X: np.ndarray, treatment: np.ndarray, y: np.ndarray,
                    X_test: np.ndarray) -> Tuple[np.ndarray, float, float, float]:
    if "forest" in name:
        with tempfile.TemporaryDirectory() as folder:
            arrays = f"{folder}/task.npz"
            np.savez(arrays, X=X, treatment=treatment, y=y, X_test=X_test)
            return run_in_fresh_process(_fit_forest, name, binary, arrays)
    model = make()
    start = time.perf_counter()
    model.fit(X, treatment=treatment, y=y)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    effects = model.predict(X_test)
    return effects, seconds, float("nan"), len(X_test) / (time.perf_counter() - start)


def hillstrom(folder) -> None:
    from comptoir.data import load_hillstrom

    data = load_hillstrom(folder, as_frame=False)
    X, arm = features(data), data["treatment"].astype(np.int32)
    order = np.random.default_rng(0).permutation(len(arm))
    train, test = order[: int(0.7 * len(arm))], order[int(0.7 * len(arm)):]
    print(f"{'task':22s} {'outcome':10s} {'model':38s} {'offer':>5s} {'Qini vs perfect [95% CI]':>28s} {'fit s':>7s} "
          f"{'rows/s':>10s} {'peak MB':>8s}")
    for task, offers in (("Mens vs none", [1]), ("Womens vs none", [2]), ("both e-mails vs none", [1, 2])):
        rows_train = train[np.isin(arm[train], [0] + offers)]
        rows_test = test[np.isin(arm[test], [0] + offers)]
        # Arms renumbered 0..K so every model sees "control and offers 1..K".
        recode = np.zeros(3, dtype=np.int32)
        recode[offers] = np.arange(1, len(offers) + 1)
        t_train, t_test = recode[arm[rows_train]], recode[arm[rows_test]]
        for outcome in ("visit", "conversion", "spend"):
            y = data[outcome].astype(float)
            binary = outcome != "spend"
            forest_seconds = {}
            for name, make in learners(binary, X.shape[1]).items():
                effects, seconds, peak, rate = fit_and_predict(name, make, binary, X[rows_train], t_train, y[rows_train], X[rows_test])
                if "forest" in name:
                    forest_seconds[name] = seconds
                for k, offer in enumerate(offers):
                    scored = (t_test == 0) | (t_test == k + 1)
                    estimate, lower, upper = bootstrap_interval("qini_coefficient_vs_perfect", effects[scored, k],
                                                                treatment=(t_test[scored] == k + 1).astype(np.int32),
                                                                outcome=y[rows_test][scored], replicates=200)
                    label = ["", "Mens", "Womens"][offer]
                    memory = f"{peak / 2**20:8.0f}" if peak == peak else f"{'':>8s}"
                    print(f"{task:22s} {outcome:10s} {name:38s} {label:>6s} {estimate:+.4f} [{lower:+.4f}, {upper:+.4f}] "
                          f"{seconds:7.2f} {rate:10,.0f} {memory}")
            if len(forest_seconds) == 2:
                ratio = forest_seconds["causalml uplift forest"] / forest_seconds["comptoir uplift forest"]
                print(f"{'':34s} uplift forest fit: comptoir {ratio:.1f}x faster than causalml at the same settings")


MODELS: List[Tuple[str, Callable[[], Any]]] = [
    ("T-learner (LR)", TLearner), ("X-learner", XLearner), ("DR-learner", DRLearner),
    ("uplift forest (KL)", lambda: UpliftRandomForest(n_jobs=THREADS, max_features=1.0, **FOREST))]
BUDGETS = (20_000, 100_000, 300_000)


def storefront_figures(seed: int) -> Tuple[Dict[str, List[float]], List[float], Dict[str, float], str]:
    """One simulated storefront: per model its PEHE and rank correlation per offer and its plan's
    true profit at each budget as a share of the oracle's; the oracle's profits; fit seconds."""
    from scipy.stats import spearmanr

    from comptoir.promo import plan_offers
    from comptoir.simulate import simulate

    start = time.perf_counter()
    shop = simulate(num_customers=1_000_000, num_items=20_000, num_days=30, sessions_per_customer=2.0, seed=seed, n_jobs=THREADS)
    campaign = shop.campaign
    discounts = np.asarray(campaign["discounts"])
    arm, converted = campaign["arm"].astype(np.int32), campaign["converted"].astype(float)
    X = np.c_[shop.customer_attributes, np.log1p(shop.customer_attributes[:, 1])].astype(float)
    header = (f"{shop.num_customers:,} customers, offers {', '.join(f'{d:.0%}' for d in discounts[1:])} off "
              f"(simulated in {time.perf_counter() - start:.1f} s)")
    order = np.random.default_rng(seed).permutation(len(arm))
    learn, hold = order[: len(order) // 2], order[len(order) // 2:]
    truth = np.column_stack([shop.true_uplift(k) for k in range(1, len(discounts))])[hold]
    # Offers valued at 40% gross margin on the basket; the discount given away and 0.05 per contact are the cost.
    true_conversion = campaign["true_conversion"][hold]
    basket = (campaign["true_spend"][hold] / (1.0 - discounts))[:, :1] / np.clip(true_conversion[:, :1], 1e-6, None)

    def offer_values(effect: np.ndarray) -> Dict[str, np.ndarray]:
        converting = np.clip(true_conversion[:, :1] + effect, 0, 1)
        return {"value": 0.4 * effect * basket, "cost": discounts[1:] * converting * basket + 0.05}

    true_value, true_cost = offer_values(truth).values()
    oracle = plan_offers(value=true_value, cost=true_cost, n_jobs=THREADS)
    oracle_profit = [oracle.at(b).attrs["profit"] for b in BUDGETS]
    figures: Dict[str, List[float]] = {}
    seconds: Dict[str, float] = {}
    for name, make in MODELS:
        start = time.perf_counter()
        model = make().fit(X[learn], treatment=arm[learn], y=converted[learn])
        seconds[name] = time.perf_counter() - start
        estimate = model.predict(X[hold])
        row: List[float] = []
        for k in range(truth.shape[1]):
            row += [float(np.sqrt(np.mean((estimate[:, k] - truth[:, k]) ** 2))), spearmanr(estimate[:, k], truth[:, k]).correlation]
        plan = plan_offers(**offer_values(estimate), n_jobs=THREADS)
        for budget, best in zip(BUDGETS, oracle_profit):
            chosen = plan.at(budget)["offer_code"].to_numpy() - 1  # 0-based column, -1 none
            given = chosen >= 0
            rows = np.flatnonzero(given)
            row.append(float((true_value[rows, chosen[given]] - true_cost[rows, chosen[given]]).sum()) / best)
        figures[name] = row
    return figures, oracle_profit, seconds, header


def simulator() -> None:
    figures, oracle_profit, seconds, header = storefront_figures(7)
    print(f"\nSimulator: {header}; learn on one half, score on the other; ranges over {STOREFRONTS} more storefronts")
    replicates = [storefront_figures(100 + r)[0] for r in range(STOREFRONTS)]
    offers = (len(next(iter(figures.values()))) - len(BUDGETS)) // 2
    print(f"{'oracle (true effects)':22s} profit " + ", ".join(f"@{b:,}: {p:,.0f}" for b, p in zip(BUDGETS, oracle_profit)))
    for name, _ in MODELS:
        low, high = np.min([r[name] for r in replicates], axis=0), np.max([r[name] for r in replicates], axis=0)
        cells = []
        for i, value in enumerate(figures[name]):
            if i < 2 * offers:
                digits = 4 if i % 2 == 0 else 3
                label = ("PEHE " if i % 2 == 0 else "rho ") + str(i // 2 + 1)
                cells.append(f"{label} {value:.{digits}f} [{low[i]:.{digits}f}, {high[i]:.{digits}f}]")
            else:
                cells.append(f"@{BUDGETS[i - 2 * offers]:,} {value:.0%} [{low[i]:.0%}, {high[i]:.0%}]")
        print(f"{name:22s} fit {seconds[name]:5.2f} s | " + " | ".join(cells))


def main() -> int:
    args = parse_args(__doc__)
    for peer in ("sklift", "causalml"):
        if not find_spec(peer):
            print(f"{peer} is not installed: its rows are skipped")
    folder = dataset_folder(args, "hillstrom")
    if folder is not None:
        hillstrom(folder)
    if not args.quick:
        simulator()
    return 0


if __name__ == "__main__":
    sys.exit(main())
