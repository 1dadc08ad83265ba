"""Scoring and one offer plan past one machine: the single-process calls against comptoir.dask on
a LocalCluster of 1 and 2 worker processes (one thread each), on the simulator's customers.

    python benchmarks/distributed.py [--customers 10000000] [--partitions 0]

The storefront's customers (6 attributes each) are scored by a boosted propensity model
(``predict_proba``) and by a T-learner with boosted response models (the effect of a 10% and a 20%
offer), and planned under one budget (the effects x 60 as value, offers costing 2 and 5, a budget
of 2% of the cost of giving everyone the cheaper offer). Both models are fitted beforehand on the
first 100,000 customers' campaign, with ``n_jobs=1``. The single-process rows run the three calls
on the in-memory table (the plan table built); the Dask rows start from the same table persisted on
the workers (read from Parquet, not timed: a nightly job reads its own data) and end with the
scores and the plan table computed on the workers (their sums sent back, no rows gathered). The
overhead ratio is a row's time over the single-process time with as many cores. The T-learner's
``predict`` takes no thread count and uses every core of its process, in every row (on this
machine the two workers' uplift calls share the two cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

import numpy as np

# This script's name is the package `distributed`'s: its folder must not shadow the package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

THREADS = 2
VALUE_PER_CONVERSION = 60.0
COSTS = [2.0, 5.0]


def customers_and_models(n: int) -> Any:
    import pandas as pd

    from comptoir.simulate import simulate
    from comptoir.trees import GradientBoostingClassifier
    from comptoir.uplift import EstimatorFactory, TLearner

    shop = simulate(num_customers=n, num_items=1_000, num_days=7, sessions_per_customer=0.2, seed=11, n_jobs=THREADS)
    X = pd.DataFrame(shop.customer_attributes, columns=shop.customer_attribute_names)
    X.index.name = "customer"
    learn = slice(0, min(n, 100_000))
    converted = shop.campaign["converted"][learn].astype(int)
    arm = np.array(["control", "10% off", "20% off"])[shop.campaign["arm"][learn]]
    scorer = GradientBoostingClassifier(n_estimators=100, n_jobs=1).fit(X[learn], converted)
    uplift = TLearner(EstimatorFactory(GradientBoostingClassifier, n_estimators=50, n_jobs=1)).fit(
        X[learn], treatment=arm, y=converted)
    return X, scorer, uplift


def budget_for(n: int) -> float:
    return 0.02 * n * COSTS[0]


def single_process(X: Any, scorer: Any, uplift: Any, threads: int) -> Dict[str, float]:
    from comptoir.promo import plan_offers

    scorer.n_jobs = threads
    times = {}
    start = time.perf_counter()
    scorer.predict_proba(X)
    times["score"] = time.perf_counter() - start
    start = time.perf_counter()
    effect = uplift.predict(X)
    times["uplift"] = time.perf_counter() - start
    start = time.perf_counter()
    plan = plan_offers(value=effect * VALUE_PER_CONVERSION, cost=COSTS, n_jobs=threads).at(budget_for(len(X)))
    times["plan"] = time.perf_counter() - start
    times["offers"] = int((plan["offer_code"] > 0).sum())
    return times


def on_dask(directory: str, scorer_bytes: bytes, uplift_bytes: bytes, n: int, workers: int) -> Dict[str, float]:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, wait

    import comptoir.dask as cdask

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        X = dd.read_parquet(directory, index="customer").persist()
        wait(X)
        times = {}
        start = time.perf_counter()
        (total,) = dask.compute(cdask.score(X, scorer_bytes)["probability"].sum())
        times["score"] = time.perf_counter() - start
        start = time.perf_counter()
        effects = cdask.score(X, uplift_bytes).persist()
        wait(effects)
        times["uplift"] = time.perf_counter() - start
        start = time.perf_counter()
        value = effects * VALUE_PER_CONVERSION
        table = cdask.plan_offers(value, COSTS, budget_for(n))
        (offers,) = dask.compute((table["offer_code"] > 0).sum())
        times["plan"] = time.perf_counter() - start
        times["offers"] = int(offers)
        del client
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=0, help="Parquet files (0: one per 500,000 customers, >= 4)")
    args = parser.parse_args()
    n = args.customers
    partitions = args.partitions or max(4, n // 500_000)
    start = time.perf_counter()
    X, scorer, uplift = customers_and_models(n)
    print(f"{n:,} customers simulated, models fitted in {time.perf_counter() - start:.1f} s; "
          f"{partitions} partitions, budget {budget_for(n):,.0f}", file=sys.stderr)
    rows: List[tuple] = []
    single = {}
    for threads in (1, THREADS):
        single[threads] = single_process(X, scorer, uplift, threads)
        rows.append((f"single process, {threads} thread{'s' * (threads > 1)}", threads, single[threads]))
    with tempfile.TemporaryDirectory() as folder:
        directory = os.path.join(folder, "customers")
        os.mkdir(directory)
        bounds = np.linspace(0, n, partitions + 1).astype(int)
        for p, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            X.iloc[a:b].reset_index().to_parquet(os.path.join(directory, f"part.{p:04d}.parquet"), index=False)
        scorer.n_jobs = 1
        for workers in (1, 2):
            times = on_dask(directory, scorer.to_bytes(), uplift.to_bytes(), n, workers)
            rows.append((f"comptoir.dask, {workers} worker{'s' * (workers > 1)} x 1 thread", workers, times))
    print(f"\n{n:,} customers, {partitions} partitions\n")
    print("| run | score s | uplift s | plan s | total s | customers/s | overhead ratio | offers given |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cores, times in rows:
        total = times["score"] + times["uplift"] + times["plan"]
        reference = single[cores]
        base = reference["score"] + reference["uplift"] + reference["plan"]
        print(f"| {name} | {times['score']:.2f} | {times['uplift']:.2f} | {times['plan']:.2f} | {total:.2f} | "
              f"{n / total:,.0f} | {total / base:.2f} | {times['offers']:,} |")
    offers = {times["offers"] for _, _, times in rows}
    if len(offers) != 1:
        print(f"the plans differ: {sorted(offers)} offers given", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
