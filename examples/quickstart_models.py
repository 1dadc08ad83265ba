"""The README's Python quickstart end to end: a storefront's models trained in the shop's own ids and
saved for its backend, which serves them from C++ (examples/cpp/main.cc; CI runs both).

    python examples/quickstart_models.py MODEL_DIR

writes recommender.cmf (session kNN on SKUs), propensity.cmf (boosted trees with a categorical
column, calibrated), uplift.cmf (a doubly-robust learner over two named offers) and catalogue.csv
(the product feed comptoir-serve reads with --catalogue: SKU, category name, price).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd

import comptoir
from comptoir.data import EventLog
from comptoir.features import behaviour_features, purchase_labels
from comptoir.propensity import CalibratedClassifier
from comptoir.recommend import SessionKNN
from comptoir.simulate import simulate
from comptoir.trees import GradientBoostingClassifier
from comptoir.uplift import DRLearner


def main(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    shop = simulate(num_customers=4_000, num_items=1_000, seed=1)

    # Events as the shop exports them: its own SKUs.
    frame = shop.events_frame()
    frame["sku"] = "SKU-" + frame["item"].astype(str).str.zfill(5)
    log = EventLog.from_pandas(frame, session="session", item="sku", timestamp="timestamp", kind="kind",
                               user="user", value="value")
    knn = SessionKNN(k=100, sample_size=500).fit(log.sessionize(gap_minutes=30))
    knn.save(os.path.join(out, "recommender.cmf"))
    pd.DataFrame({"item_id": "SKU-" + pd.Series(np.arange(shop.num_items)).astype(str).str.zfill(5),
                  "category": [f"category {c:02d}" for c in shop.catalogue["category"]],
                  "price": shop.catalogue["price"].round(2)}).to_csv(os.path.join(out, "catalogue.csv"), index=False)

    # Who buys in the next 30 days, from behaviour features and a categorical segment.
    snapshot = int(shop.events["timestamp"].min()) + 60 * 86_400
    X = behaviour_features(shop.events, snapshot, num_users=shop.num_customers)
    X["segment"] = pd.Categorical(np.array(["new", "loyal", "lapsed"])[np.arange(len(X)) % 3])
    y, _ = purchase_labels(shop.events, snapshot, horizon_days=30, num_users=shop.num_customers)
    trees = GradientBoostingClassifier(n_estimators=100, learning_rate=0.05).fit(X[:2_500], y[:2_500])
    calibrated = CalibratedClassifier(trees, method="isotonic").fit(X[2_500:3_250], y[2_500:3_250])
    calibrated.save(os.path.join(out, "propensity.cmf"))

    # Who needs which offer to buy: a doubly-robust learner over the randomised campaign.
    customers = shop.customers_frame()
    dr = DRLearner(offer_names=["10% off", "free shipping"])
    dr.fit(customers, treatment=shop.campaign["arm"], y=shop.campaign["converted"].astype(int))
    dr.save(os.path.join(out, "uplift.cmf"))

    for name in ("recommender", "propensity", "uplift"):
        path = os.path.join(out, f"{name}.cmf")
        print(f"{path}: {comptoir.inspect_model_file(path)['model_kind']}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
