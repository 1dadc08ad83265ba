"""Uplift on Hillstrom's randomised e-mail test: comptoir's meta-learners (and scikit-uplift's,
when installed), the same split and one Qini function for all.

    python benchmarks/uplift.py [--data ../shared/data]

Split: a fixed 70/30 random split of the 64,000 customers (numpy seed 0). Features: recency,
history, mens, womens, newbie, and one-hot zip code and channel. The Qini coefficient is the area
between the model's Qini curve and random targeting divided by a perfect ranking's
(`qini_coefficient_vs_perfect`), with a 95% bootstrap interval over the test rows.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from common import dataset_folder, parse_args
from comptoir.data import load_hillstrom
from comptoir.uplift import ClassTransformation, SLearner, TLearner
from comptoir.uplift_metrics import bootstrap_interval


def features(data):
    onehot = lambda codes: np.eye(codes.max() + 1)[codes]  # noqa: E731
    return np.c_[data["recency"], np.log1p(data["history"]), data["mens"], data["womens"], data["newbie"],
                 onehot(data["zip_code"]), onehot(data["channel"])].astype(float)


def main() -> int:
    args = parse_args(__doc__)
    folder = dataset_folder(args, "hillstrom")
    if folder is None:
        return 0
    data = load_hillstrom(folder, as_frame=False)
    X, arm = features(data), data["treatment"]
    order = np.random.default_rng(0).permutation(len(arm))
    train, test = order[: int(0.7 * len(arm))], order[int(0.7 * len(arm)):]
    learners = {"comptoir TLearner": TLearner, "comptoir SLearner": SLearner, "comptoir ClassTransformation": ClassTransformation}
    try:
        from sklift.models import ClassTransformation as SkliftCT, TwoModels
        from sklearn.linear_model import LogisticRegression as SkLogistic
    except ImportError:
        print("scikit-uplift not installed: its rows are skipped")
    else:
        learners["scikit-uplift TwoModels (sklearn LR)"] = lambda: TwoModels(SkLogistic(max_iter=1000), SkLogistic(max_iter=1000), method="vanilla")
        learners["scikit-uplift ClassTransformation (sklearn LR)"] = lambda: SkliftCT(SkLogistic(max_iter=1000))
    print(f"{'task':24s} {'outcome':10s} {'model':46s} {'Qini vs perfect [95% CI]':>30s} {'fit s':>7s} {'rows/s':>10s}")
    for task, offer in (("Mens e-mail vs none", 1), ("Womens e-mail vs none", 2)):
        for outcome in ("visit", "conversion"):
            y = data[outcome]
            rows_train = train[(arm[train] == 0) | (arm[train] == offer)]
            rows_test = test[(arm[test] == 0) | (arm[test] == offer)]
            t_train = (arm[rows_train] == offer).astype(int)
            t_test = (arm[rows_test] == offer).astype(np.int32)
            for name, make in learners.items():
                model = make()
                start = time.perf_counter()
                if name.startswith("comptoir"):
                    model.fit(X[rows_train], t_train, y[rows_train])
                    fit_s = time.perf_counter() - start
                    start = time.perf_counter()
                    scores = model.predict(X[rows_test])[:, 0]
                else:
                    model.fit(X[rows_train], y[rows_train], t_train)
                    fit_s = time.perf_counter() - start
                    start = time.perf_counter()
                    scores = model.predict(X[rows_test])
                rate = len(rows_test) / (time.perf_counter() - start)
                estimate, lower, upper = bootstrap_interval("qini_coefficient_vs_perfect", scores, t_test, y[rows_test], replicates=200)
                print(f"{task:24s} {outcome:10s} {name:46s} {estimate:+.4f} [{lower:+.4f}, {upper:+.4f}] {fit_s:7.3f} {rate:10,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
