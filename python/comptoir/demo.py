"""``comptoir demo``: every capability, end to end, on a simulated storefront, printing what each
one did with real numbers. Each capability contributes one section; ``run_demo`` runs them in
order on one shared shop."""

from __future__ import annotations

import sys
import time
from typing import Callable, Dict, List, Optional, TextIO, Tuple

import numpy as np

from . import __version__, _core
from .simulate import Storefront, simulate

DAY = 86_400


def _section_foundation(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    threads = num_threads or _core.default_num_threads()
    start = time.perf_counter()
    one = _core.parallel_uniform_sum(5_000_000, seed=seed, num_threads=1)
    single_s = time.perf_counter() - start
    start = time.perf_counter()
    many = _core.parallel_uniform_sum(5_000_000, seed=seed, num_threads=threads)
    multi_s = time.perf_counter() - start
    out.write(
        f"  comptoir {__version__}, {threads} worker thread(s)\n"
        f"  seeded parallel sum of 5M draws: {one:.6f} on 1 thread ({single_s * 1e3:.0f} ms), "
        f"{many:.6f} on {threads} ({multi_s * 1e3:.0f} ms): {'bit-identical' if one == many else 'DIFFERENT'}\n"
    )


def _section_simulator(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    events = shop.events
    kinds = np.bincount(events["kind"], minlength=3)
    views = np.sort(np.bincount(events["item"][events["kind"] == 0], minlength=shop.num_items))[::-1]
    top = views[: max(1, shop.num_items // 100)].sum() / views.sum()
    out.write(
        f"  {shop.num_customers:,} customers, {shop.num_items:,} items, {shop.num_sessions:,} sessions, "
        f"{len(events['item']):,} events ({kinds[0]:,} views, {kinds[1]:,} cart adds, {kinds[2]:,} purchases)\n"
        f"  the top 1% of items take {top:.0%} of views; "
        f"{np.mean(shop.consumable_cycle_days > 0):.0%} of customers re-buy a consumable on a cycle\n"
    )
    from .data import EventLog

    start = time.perf_counter()
    log = EventLog.from_arrays(**{name: events[name] for name in ("session", "item", "timestamp", "kind", "user", "value")})
    visits = log.sessionize(gap_minutes=30)
    filtered = visits.filter_to_fixed_point(min_item_support=5, min_session_length=2)
    train, test = filtered.split_by_last_days(7)
    out.write(
        f"  event log: built ({', '.join(log.copied_columns) or 'no'} columns copied), re-sessionized on 30-minute gaps "
        f"({visits.num_sessions:,} visits), filtered to a fixed point and split on the last 7 days "
        f"({train.num_sessions:,} train / {test.num_sessions:,} test sessions) in {time.perf_counter() - start:.2f} s\n"
    )
    campaign = shop.campaign
    for arm in range(1, len(campaign["discounts"])):
        treated = campaign["converted"][campaign["arm"] == arm].mean()
        control = campaign["converted"][campaign["arm"] == 0].mean()
        truth = shop.true_uplift(arm)
        out.write(
            f"  promo arm {arm} ({campaign['discounts'][arm]:.0%} off): measured uplift {treated - control:+.3f}, "
            f"true mean effect {truth.mean():+.3f}; {np.mean(truth < 0):.0%} of customers are put off by it\n"
        )


def _sessions_of(shop: Storefront, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR (offsets, items) of the sessions selected by a per-event mask, with their last time and user."""
    session = shop.events["session"][mask]
    items = shop.events["item"][mask].astype(np.int32)
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    offsets = np.r_[starts, len(items)].astype(np.int64)
    last_time = shop.events["timestamp"][mask][offsets[1:] - 1]
    user = shop.events["user"][mask][starts]
    return offsets, items, last_time, user


def _subset(offsets: np.ndarray, items: np.ndarray, selected: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The CSR of the sessions flagged in ``selected``."""
    lengths = np.diff(offsets)
    return np.r_[0, np.cumsum(lengths[selected])].astype(np.int64), items[np.repeat(selected, lengths)]


def _section_recommenders(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    from .recommend import FrequentlyBoughtTogether, Hybrid, Popularity, SequentialRules, SessionKNN, evaluate_next_item

    views = shop.events["kind"] == 0
    offsets, items, last_time, users = _sessions_of(shop, views)
    train_sessions = last_time < last_time.max() - 7 * DAY
    keep = np.flatnonzero(train_sessions)
    lengths = np.diff(offsets)
    train = _subset(offsets, items, train_sessions)
    test = _subset(offsets, items, ~train_sessions & (lengths >= 2))
    n = shop.num_items
    popularity = np.bincount(train[1], minlength=n)
    start = time.perf_counter()
    knn = SessionKNN().fit(train, timestamps=last_time[keep], users=users[keep], num_items=n, event_kind="view")
    rules = SequentialRules().fit(train, num_items=n, n_jobs=num_threads)
    popular = Popularity().fit(train[1], num_items=n)
    fit_s = time.perf_counter() - start
    out.write(f"  trained session kNN, sequential rules and popularity on {len(keep):,} sessions in {fit_s:.2f} s; "
              f"next-item accuracy on the last 7 days:\n")
    for name, model in (("session kNN", knn), ("sequential rules", rules), ("popularity", popular),
                        ("hybrid", Hybrid([knn, rules, popular], [1.0, 0.5, 0.1]))):
        m = evaluate_next_item(model, test, k=20, item_popularity=popularity, n_jobs=num_threads)
        out.write(f"    {name:17s} HR@20 {m['hit_rate']:.3f}  MRR@20 {m['mrr']:.3f}  coverage {m['coverage']:.2f}\n")
    session = test[1][test[0][0]: test[0][1]][:3]
    in_stock = shop.catalogue["in_stock"]
    ids, _, reasons = knn.recommend_session(session, N=3, allowed_items=in_stock, filter_session_items=True, return_reasons=True)
    out.write(f"  a shopper viewed {session.tolist()}: in-stock picks {ids.tolist()}\n")
    for item, reason in zip(ids, reasons):
        out.write(f"    item {item}: {reason}\n")
    timings = []
    for i in range(min(2000, len(test[0]) - 1)):
        prefix = test[1][test[0][i]: test[0][i + 1]]
        begin = time.perf_counter_ns()
        knn.recommend_session(prefix, N=20)
        timings.append(time.perf_counter_ns() - begin)
    p50, p99 = np.percentile(np.array(timings) / 1e6, [50, 99])
    out.write(f"  single-session latency from Python: p50 {p50:.3f} ms, p99 {p99:.3f} ms\n")
    purchases = shop.events["kind"] == 2
    b_offsets, b_items, _, _ = _sessions_of(shop, purchases)
    together = FrequentlyBoughtTogether().fit((b_offsets, b_items), num_items=n, n_jobs=num_threads)
    anchor = int(np.argmax(np.bincount(b_items, minlength=n)))
    ids, _, reasons = together.recommend_session([anchor], kinds=["cart"], N=2, return_reasons=True)
    if len(ids):
        out.write(f"  cart holds item {anchor}: cross-sell {ids.tolist()} ({reasons[0]})\n")


def _section_neural(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    from .recommend import NeuralSessionRecommender, SessionKNN, evaluate_next_item

    views = shop.events["kind"] == 0
    offsets, items, last_time, users = _sessions_of(shop, views)
    # The three weeks before the test week keep the demo quick (about 100,000 sessions).
    train_sessions = (last_time < last_time.max() - 7 * DAY) & (last_time >= last_time.max() - 28 * DAY)
    lengths = np.diff(offsets)
    train = _subset(offsets, items, train_sessions)
    test = _subset(offsets, items, (last_time >= last_time.max() - 7 * DAY) & (lengths >= 2))
    n = shop.num_items
    start = time.perf_counter()
    neural = NeuralSessionRecommender(dim=32, epochs=3, num_negatives=256, random_state=seed, n_jobs=num_threads)
    neural.fit(train, users=users[train_sessions], num_items=n, event_kind="view")
    fit_s = time.perf_counter() - start
    history = neural.history_
    chosen = history[~history["refit"]]
    out.write(f"  attention session encoder trained in C++ on {len(train[0]) - 1:,} sessions in {fit_s:.1f} s "
              f"(validation MRR@20 by epoch: {', '.join(f'{v:.3f}' for v in chosen['validation_mrr'])}; "
              f"then {int(history['refit'].sum())} epochs again on all the weeks)\n")
    knn = SessionKNN().fit(train, num_items=n)
    for name, model in (("neural", neural), ("session kNN (same weeks)", knn)):
        m = evaluate_next_item(model, test, k=20, n_jobs=num_threads)
        out.write(f"    {name:24s} HR@20 {m['hit_rate']:.3f}  MRR@20 {m['mrr']:.3f}\n")
    session = test[1][test[0][0]: test[0][1]][:3]
    ids, _, reasons = neural.recommend_session(session, N=2, filter_session_items=True, return_reasons=True)
    out.write(f"  a shopper viewed {session.tolist()}: {ids.tolist()} ({reasons[0]})\n")


def _section_embeddings(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    from .embed import Item2Vec, VectorIndex

    views = shop.events["kind"] == 0
    offsets, items, _, users = _sessions_of(shop, views)
    start = time.perf_counter()
    model = Item2Vec(dim=32, epochs=3, random_state=seed, n_jobs=num_threads).fit((offsets, items), num_items=shop.num_items)
    fit_s = time.perf_counter() - start
    category = shop.catalogue["category"]
    popular = np.argsort(-model._fitted().item_counts)[:200]
    same = np.mean([np.mean(category[model.similar_items(int(i), N=5)[0]] == category[i]) for i in popular])
    out.write(
        f"  item2vec on {len(items):,} views: {fit_s:.2f} s; the 5 nearest items of popular items share their "
        f"category {same:.0%} of the time (random: {np.mean(np.bincount(category) ** 2) / len(category) ** 2 * len(np.bincount(category)):.0%})\n"
    )
    # Session-aware: last week's shoppers who came before, with and without their history.
    offsets, items, last_time, users = _sessions_of(shop, views)
    recent = last_time >= last_time.max() - 7 * DAY
    past_items = items[np.repeat(~recent, np.diff(offsets))]
    past_users = np.repeat(users[~recent], np.diff(offsets)[~recent])
    by_user = np.argsort(past_users, kind="stable")
    user_start = np.searchsorted(past_users[by_user], np.arange(shop.num_customers + 1))
    hits_session = hits_blend = total = 0
    for s in np.flatnonzero(recent & (np.diff(offsets) >= 2))[:1500]:
        user = users[s]
        history = past_items[by_user[user_start[user]: user_start[user + 1]]][-50:]
        if len(history) == 0:
            continue
        seq = items[offsets[s]: offsets[s + 1]]
        total += 1
        hits_session += seq[1] in model.recommend_session(seq[:1], N=20)[0]
        hits_blend += seq[1] in model.recommend_session(seq[:1], N=20, user_history=history)[0]
    out.write(f"  returning shoppers ({total:,} sessions), next item after one view: HR@20 {hits_session / total:.3f} "
              f"from the session alone, {hits_blend / total:.3f} blended with their history\n")
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(500, 32))
    vectors = (centres[rng.integers(0, 500, 200_000)] + 1.0 * rng.normal(size=(200_000, 32))).astype(np.float32)
    exact = VectorIndex(vectors, n_jobs=num_threads)
    approximate = VectorIndex(vectors, approximate=True, num_probes=24, random_state=seed, n_jobs=num_threads)
    queries = vectors[:200]
    start = time.perf_counter()
    truth, _ = exact.search(queries, k=20)
    exact_ms = (time.perf_counter() - start) * 1e3 / len(queries)
    start = time.perf_counter()
    found, _ = approximate.search(queries, k=20)
    ivf_ms = (time.perf_counter() - start) * 1e3 / len(queries)
    recall = np.mean([len(set(a) & set(b)) / 20 for a, b in zip(truth, found)])
    out.write(f"  top-20 over 200k clustered vectors: exact {exact_ms:.2f} ms/query, IVF {ivf_ms:.3f} ms/query at recall@20 {recall:.3f}\n")


def _section_features(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    from .features import behaviour_features, purchase_labels, repurchase_timing

    events = shop.events
    snapshot = int(events["timestamp"].min()) + 60 * DAY
    start = time.perf_counter()
    matrix, names = behaviour_features(events, snapshot, num_users=shop.num_customers,
                                       item_category=shop.catalogue["category"],
                                       customer_attributes=shop.customer_attributes, n_jobs=num_threads, as_frame=False)
    feature_ms = (time.perf_counter() - start) * 1e3
    bought, spend = purchase_labels(events, snapshot, horizon_days=30, num_users=shop.num_customers)
    out.write(
        f"  {len(names)} point-in-time features for {shop.num_customers:,} customers from {len(events['item']):,} "
        f"events in {feature_ms:.0f} ms; {bought.mean():.0%} buy in the 30 days after day 60 (mean spend {spend.mean():.2f})\n"
    )
    timing = repurchase_timing(events, snapshot, horizon_days=7, as_frame=False)
    consumable = shop.consumable_item[timing["user"]] == timing["key"]
    truth = shop.consumable_cycle_days[timing["user"][consumable]]
    error = np.abs(timing["cycle_days"][consumable] - truth) / truth
    after = (events["timestamp"] >= snapshot) & (events["timestamp"] < snapshot + 7 * DAY) & (events["kind"] == 2)
    bought_pairs = events["user"][after].astype(np.int64) * shop.num_items + events["item"][after]
    rebought = np.isin(timing["user"].astype(np.int64) * shop.num_items + timing["key"], bought_pairs)
    top = np.argsort(-timing["probability_within_horizon"])[:500]
    hit, base = rebought[top].mean(), rebought.mean()
    out.write(
        f"  re-purchase cycles of consumables recovered within {np.median(error):.1%} (median relative error); "
        f"of the 500 (customer, item) pairs most likely to be re-bought within 7 days, {hit:.0%} were (base rate {base:.1%})\n"
    )


def _section_propensity(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    from .features import LinearFeatures, behaviour_features, purchase_labels
    from .metrics import expected_calibration_error, lift_and_gain, log_loss_gain, roc_auc_score
    from .propensity import CalibratedClassifier, LogisticRegression
    from .trees import GradientBoostingClassifier

    events = shop.events
    snapshot = int(events["timestamp"].min()) + 60 * DAY
    X, names = behaviour_features(events, snapshot, num_users=shop.num_customers, window_days=(7, 30, 60),
                                  customer_attributes=shop.customer_attributes, n_jobs=num_threads, as_frame=False)
    bought, _ = purchase_labels(events, snapshot, horizon_days=30, num_users=shop.num_customers)
    behaviour, behaviour_names = X, names
    linear = LinearFeatures().fit(X, names)
    X, names = linear.transform(X), linear.get_feature_names_out()
    order = np.random.default_rng(seed).permutation(shop.num_customers)
    train, calibrate, test = np.array_split(order, [shop.num_customers // 2, 3 * shop.num_customers // 4])
    start = time.perf_counter()
    model = LogisticRegression(C=0.1, n_jobs=num_threads).fit(X[train], bought[train])
    fit_ms = (time.perf_counter() - start) * 1e3
    raw = model.predict_proba(X[test])[:, 1]
    calibrated = CalibratedClassifier(model, method="isotonic").fit(X[calibrate], bought[calibrate]).predict_proba(X[test])[:, 1]
    lift, _ = lift_and_gain(bought[test], raw)
    out.write(
        f"  will each customer buy in the 30 days after day 60? logistic regression on {X.shape[1]} features, "
        f"fitted in {fit_ms:.0f} ms: ROC-AUC {roc_auc_score(bought[test], raw):.3f}, log-loss gain over the base rate "
        f"{log_loss_gain(bought[test], calibrated):.1%}, top-decile lift {lift[0]:.2f}\n"
        f"  calibration error (ECE) {expected_calibration_error(bought[test], raw):.3f} raw, "
        f"{expected_calibration_error(bought[test], calibrated):.3f} after isotonic calibration on held-out customers\n"
    )
    customer = test[0]
    contributions = model.explain(X[customer: customer + 1])[0]
    top = np.argsort(-np.abs(contributions[:-1]))[:3]
    reasons = ", ".join(f"{names[j]} {contributions[j]:+.2f}" for j in top)
    out.write(f"  customer {customer}: probability {raw[0]:.2f}; largest log-odds contributions: {reasons}\n")
    # Trees take the features as they come, NaN included, and stop on a held-out tenth.
    start = time.perf_counter()
    boosted = GradientBoostingClassifier(n_estimators=500, learning_rate=0.05, early_stopping=True, n_jobs=num_threads,
                                         random_state=seed).fit(behaviour[train], bought[train])
    boost_ms = (time.perf_counter() - start) * 1e3
    boosted_p = boosted.predict_proba(behaviour[test])[:, 1]
    shap = boosted.explain(behaviour[customer: customer + 1])[0]
    top = np.argsort(-np.abs(shap[:-1]))[:3]
    reasons = ", ".join(f"{behaviour_names[j]} {shap[j]:+.2f}" for j in top)
    out.write(
        f"  gradient-boosted trees on the {behaviour.shape[1]} raw features (missing kept as NaN): {boosted.n_estimators_} trees "
        f"after early stopping, fitted in {boost_ms:.0f} ms, ROC-AUC {roc_auc_score(bought[test], boosted_p):.3f}, "
        f"ECE {expected_calibration_error(bought[test], boosted_p):.3f}\n"
        f"  customer {customer}: probability {boosted_p[0]:.2f}; exact TreeSHAP contributions: {reasons}\n"
    )
    # The nightly-script path: the saved model scores a CSV through the command line.
    import tempfile

    import pandas as pd

    from .cli import main as cli_main

    with tempfile.TemporaryDirectory() as folder:
        model_path, table, scores = f"{folder}/propensity.cmf", f"{folder}/customers.csv", f"{folder}/scores.csv"
        boosted.save(model_path)
        pd.DataFrame(behaviour[test], columns=[f"x{j}" for j in range(behaviour.shape[1])]).assign(
            customer=test).to_csv(table, index=False)
        start = time.perf_counter()
        cli_main(["score", model_path, table, scores, "--id-column", "customer", "--explain", "2", "--n-jobs", str(num_threads)])
        elapsed = time.perf_counter() - start
        out.write(f"  `comptoir score` wrote {len(pd.read_csv(scores)):,} scores with their top two reasons in {elapsed:.2f} s "
                  f"(CSV in and out included)\n")
    # A pipeline bug upstream (a window's counts lost): the model says so before anyone trusts its scores.
    import warnings

    from .exceptions import DriftWarning

    broken = behaviour[test].copy()
    broken[:, 0] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DriftWarning)
        boosted.predict_proba(broken)
    drift = [str(w.message) for w in caught if issubclass(w.category, DriftWarning)]
    out.write(f"  scoring with the first feature ({behaviour_names[0]}) lost upstream warns: "
              f"{drift[0] if drift else 'no warning (unexpected)'}\n")


def _section_promo(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    from .promo import plan_offers
    from .uplift import DRLearner, TLearner, UpliftRandomForest
    from .uplift_metrics import bootstrap_interval, policy_value, uplift_at_k

    campaign = shop.campaign
    discounts = np.asarray(campaign["discounts"])
    arm, converted = campaign["arm"], campaign["converted"].astype(int)
    X = np.c_[shop.customer_attributes, np.log1p(shop.customer_attributes[:, 1])]
    half = np.random.default_rng(seed).permutation(shop.num_customers)
    learn, hold = half[: len(half) // 2], half[len(half) // 2:]
    start = time.perf_counter()
    learner = TLearner().fit(X[learn], treatment=arm[learn], y=converted[learn])
    estimated = learner.predict(X[hold])
    fit_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    doubly_robust = DRLearner(random_state=seed).fit(X[learn], treatment=arm[learn], y=converted[learn])
    dr_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    forest = UpliftRandomForest(n_estimators=100, criterion="KL", n_jobs=num_threads, random_state=seed).fit(
        X[learn], treatment=arm[learn], y=converted[learn])
    forest_ms = (time.perf_counter() - start) * 1e3
    top_arm = len(discounts) - 1
    rows = (arm[hold] == 0) | (arm[hold] == top_arm)
    treatment = (arm[hold][rows] == top_arm).astype(np.int32)
    proxy = shop.customer_attributes[hold][rows, shop.customer_attribute_names.index("price_sensitivity_proxy")]
    rankings = (("the true effect (oracle)", shop.true_uplift(top_arm)[hold][rows]),
                (f"T-learner ({fit_ms:.0f} ms to fit)", estimated[rows, top_arm - 1]),
                (f"DR-learner ({dr_ms:.0f} ms)", doubly_robust.predict(X[hold][rows])[:, top_arm - 1]),
                (f"uplift forest ({forest_ms:.0f} ms)", forest.predict(X[hold][rows])[:, top_arm - 1]),
                ("price-sensitivity attribute", proxy),
                ("random", np.random.default_rng(seed).uniform(size=rows.sum())))
    out.write(f"  who needs {discounts[top_arm]:.0%} off to buy? Qini coefficient (vs perfect, 95% bootstrap interval) "
              f"on the held-out half of the randomised campaign:\n")
    for name, scores in rankings:
        estimate, lower, upper = bootstrap_interval("qini_coefficient_vs_perfect", scores, treatment=treatment,
                                                    outcome=converted[hold][rows], replicates=100, random_state=seed,
                                                    n_jobs=num_threads)
        top = uplift_at_k(scores, treatment=treatment, outcome=converted[hold][rows], fraction=0.2)
        out.write(f"    {name:28s} {estimate:+.3f} [{lower:+.3f}, {upper:+.3f}]  uplift in the top 20%: {top:+.3f}\n")
    # Offers valued at 40% gross margin on list price; the discount given away is the cost, and
    # contacting costs 0.05. The plan from estimated effects is scored with the true ones.
    revenue = campaign["true_spend"][hold] / (1.0 - discounts)
    base_rate = np.clip(campaign["true_conversion"][hold][:, :1], 1e-6, None)
    basket = revenue[:, :1] / base_rate
    def offers(effect: np.ndarray) -> Dict[str, np.ndarray]:
        converting = np.clip(campaign["true_conversion"][hold][:, :1] + effect, 0, 1)
        return {"value": 0.4 * effect * basket, "cost": discounts[1:] * converting * basket + 0.05}
    truth = offers(campaign["true_conversion"][hold][:, 1:] - campaign["true_conversion"][hold][:, :1])
    true_value, true_cost = truth["value"], truth["cost"]
    start = time.perf_counter()
    oracle = plan_offers(**truth, n_jobs=num_threads)
    learned = plan_offers(**offers(estimated), n_jobs=num_threads)
    plan_ms = (time.perf_counter() - start) * 1e3
    blanket = float((true_value[:, -1] - true_cost[:, -1]).sum())
    out.write(f"  two budget paths over {len(hold):,} customers x {true_value.shape[1]} offers in {plan_ms:.0f} ms; "
              f"a blanket {discounts[-1]:.0%} offer to all of them would earn {blanket:,.0f}\n")
    chosen = np.arange(len(hold))
    for budget in (1_000, 5_000, 10_000):
        best = oracle.at(budget)
        code = learned.at(budget)["offer_code"].to_numpy()
        given = code > 0
        realised = float((true_value[chosen[given], code[given] - 1] - true_cost[chosen[given], code[given] - 1]).sum())
        if budget == 5_000:
            realised_at_5000 = realised
        counts = np.bincount(code, minlength=len(discounts))
        out.write(f"    budget {budget:>6,}: plan from the T-learner earns {realised:>7,.0f} (true profit) vs "
                  f"{best.attrs['profit']:>7,.0f} "
                  f"for the oracle plan; offers " + ", ".join(f"{discounts[j + 1]:.0%}: {counts[j + 1]:,}" for j in range(len(discounts) - 1))
                  + "\n")
    # The plan's value estimated from the held-out half's randomised outcomes alone, as a team
    # without the simulator's truth would, against its true value.
    plan_arm = learned.at(5_000)["offer_code"].to_numpy()
    outcome_model = TLearner().fit(X[learn], treatment=arm[learn], y=converted[learn]).predict_outcomes(X[hold])
    value = policy_value(plan_arm, treatment=arm[hold], outcome=converted[hold], predicted_outcomes=outcome_model)
    true_rate = campaign["true_conversion"][hold][np.arange(len(hold)), plan_arm].mean()
    out.write(f"  conversion under the budget-5,000 plan, estimated from held-out outcomes: IPW {value['ipw']:.3f} "
              f"[{value['ipw_ci_low']:.3f}, {value['ipw_ci_high']:.3f}], doubly robust {value['dr']:.3f} "
              f"[{value['dr_ci_low']:.3f}, {value['dr_ci_high']:.3f}]; true {true_rate:.3f}\n")
    reasons = doubly_robust.explain(X[hold][:1], offer=top_arm)[0]
    names = list(shop.customer_attribute_names) + ["log_" + shop.customer_attribute_names[1]]
    top = np.argsort(-np.abs(reasons[:-1]))[:2]
    out.write(f"  customer {hold[0]}: predicted uplift of {discounts[top_arm]:.0%} off {reasons.sum():+.3f}, driven by "
              + ", ".join(f"{names[j]} {reasons[j]:+.3f}" for j in top) + "\n")
    # The offline-script path: the saved forest picks an offer per customer from a CSV.
    import tempfile

    import pandas as pd

    from .cli import main as cli_main

    with tempfile.TemporaryDirectory() as folder:
        forest.save(f"{folder}/forest.cmf")
        pd.DataFrame(X[hold], columns=[f"x{j}" for j in range(X.shape[1])]).assign(customer=hold).to_csv(f"{folder}/in.csv", index=False)
        start = time.perf_counter()
        cli_main(["offers", f"{folder}/forest.cmf", f"{folder}/in.csv", f"{folder}/offers.csv", "--budget", "5000",
                  "--value", f"{0.4 * float(np.median(basket)):.2f}", "--cost",
                  ",".join(f"{d * float(np.median(basket)) * 0.3 + 0.05:.2f}" for d in discounts[1:]), "--id-column", "customer",
                  "--n-jobs", str(num_threads)])
        elapsed = time.perf_counter() - start
        chosen = pd.read_csv(f"{folder}/offers.csv")["offer"].to_numpy() - 1
    given = chosen >= 0
    realised = float((true_value[np.flatnonzero(given), chosen[given]] - true_cost[np.flatnonzero(given), chosen[given]]).sum())
    out.write(f"  `comptoir offers` (uplift forest, median basket values, budget 5,000) chose offers for {given.sum():,} "
              f"customers with reasons in {elapsed:.2f} s; true profit {realised:,.0f}\n")
    from .promo import allocate, offer_audit

    capped = allocate(**offers(estimated), budget=5_000, max_customers=[0, 300], n_jobs=num_threads)
    out.write(f"  with at most 300 {discounts[-1]:.0%} vouchers at budget 5,000: {np.sum(capped['offer_code'] == 2):,} given, "
              f"shadow price {capped.attrs['prices'][1]:.2f} per voucher\n")
    # The margin a basket keeps after each discount (40% gross margin on list price); a 30% floor.
    margin_after = (0.4 - discounts[1:]) / (1.0 - discounts[1:])
    minimum = 2 * int(capped.attrs["customers_per_offer"][0]) + 100
    ruled = allocate(**offers(estimated), budget=5_000, margin_after_offer=margin_after, min_margin=0.3,
                     min_customers=[minimum] + [0] * (len(discounts) - 2), n_jobs=num_threads).attrs
    out.write(f"  with a 30% margin floor after discount ({ruled['pairs_below_margin_floor']:,} customer-offer pairs "
              f"excluded) and at least {minimum:,} {discounts[1]:.0%} vouchers: "
              + ", ".join(f"{discounts[j + 1]:.0%}: {n:,}" for j, n in enumerate(ruled["customers_per_offer"]))
              + f", subsidy {-ruled['prices'][0]:.2f} per {discounts[1]:.0%} voucher, expected profit {ruled['profit']:,.0f}\n")
    from .exceptions import InfeasibleError

    try:
        allocate(**offers(estimated), budget=1_000, min_customers=[len(hold)] + [0] * (len(discounts) - 2))
    except InfeasibleError as error:
        out.write(f"  a {discounts[1]:.0%} voucher for all {len(hold):,} customers on a budget of 1,000 is refused: {error}\n")
    channel = shop.customer_attributes[hold, shop.customer_attribute_names.index("channel")].astype(int)
    audit = offer_audit(learned.at(5_000), discounts[1:], channel, replicates=100, random_state=seed)
    records = audit.to_dict("records") if hasattr(audit, "to_dict") else audit
    from .promo import allocate_with_parity

    fair = allocate_with_parity(**offers(estimated), budget=5_000, group=channel, max_gap=0.01, n_jobs=num_threads)
    fair_code = fair["offer_code"].to_numpy()
    fair_given = np.flatnonzero(fair_code > 0)
    fair_true = float((true_value[fair_given, fair_code[fair_given] - 1] - true_cost[fair_given, fair_code[fair_given] - 1]).sum())
    out.write(f"  with offer rates by channel within 1 point ("
              + ", ".join(f"{g}: {r:.1%}" for g, r in zip(fair.attrs["groups"], fair.attrs["offer_rates"]))
              + f"): true profit {fair_true:,.0f} vs {realised_at_5000:,.0f} without the constraint\n")
    out.write("  offer rate by channel (difference to the largest channel, 95% interval): " + "; ".join(
        f"{r['group']}: {r['offer_rate']:.1%} ({r['offer_rate_difference']:+.1%} [{r['offer_rate_difference_ci'][0]:+.1%}, "
        f"{r['offer_rate_difference_ci'][1]:+.1%}])" for r in records) + "\n")


FAMILIES = {"recommender": "a recommender", "scorer": "a scorer", "uplift_model": "an uplift model",
            "vector_index": "a vector index"}


def _section_model_files(shop: Storefront, seed: int, num_threads: int, out: TextIO) -> None:
    import os
    import tempfile

    import pandas as pd

    from . import load_model
    from .features import behaviour_features, purchase_labels
    from .propensity import CalibratedClassifier
    from .recommend import SessionKNN
    from .trees import GradientBoostingClassifier
    from .uplift import DRLearner

    # Trained in the shop's own terms: SKUs, customer ids, a categorical column, named classes and offers.
    from .data import EventLog

    frame = shop.events_frame()
    frame = frame[frame["kind"] == 0]
    frame["sku"] = "SKU-" + frame["item"].astype(str).str.zfill(5)
    frame["customer"] = "C" + frame["user"].astype(str).str.zfill(6)
    log = EventLog.from_pandas(frame, session="session", item="sku", timestamp="timestamp", user="customer")
    knn = SessionKNN().fit(log)
    session = list(frame["sku"].drop_duplicates()[:3])
    a_customer = str(knn.user_ids_[0]).encode()
    snapshot = int(shop.events["timestamp"].min()) + 60 * DAY
    X = behaviour_features(shop.events, snapshot, num_users=shop.num_customers, n_jobs=num_threads)
    X["segment"] = pd.Categorical(np.array(["new", "loyal", "lapsed"])[np.arange(len(X)) % 3])
    y, _ = purchase_labels(shop.events, snapshot, horizon_days=30, num_users=shop.num_customers)
    labels = np.where(y == 1, "buyer", "browser")
    half = len(X) // 2
    trees = GradientBoostingClassifier(n_estimators=60, random_state=seed, n_jobs=num_threads).fit(X[:half], labels[:half])
    calibrated = CalibratedClassifier(trees).fit(X[half:], labels[half:])
    attributes = shop.customers_frame()
    dr = DRLearner(offer_names=["10% off", "free shipping"]).fit(attributes, treatment=shop.campaign["arm"],
                                                                 y=shop.campaign["converted"].astype(int))
    key = "the shop's own secret, never written"
    with tempfile.TemporaryDirectory() as folder:
        rows, served = [], {}
        for name, model, check in (
                ("recommender", knn, lambda m: m.recommend_session(session, N=10)),
                ("propensity", calibrated, lambda m: m.predict_proba(X[:2_000])),
                ("uplift", dr, lambda m: m.predict(attributes[:2_000]))):
            path = os.path.join(folder, f"{name}.cmf")
            model.save(path, user_id_key=key)
            loaded = load_model(path, user_id_key=key)
            same_params = repr(loaded.get_params()) == repr(model.get_params())
            same_output = all(np.array_equal(a, b) for a, b in zip(np.atleast_1d(check(loaded)), np.atleast_1d(check(model))))
            raw = open(path, "rb").read()
            native = served[name] = _core.model.Model.from_bytes(raw, key)
            rows.append((name, native.kind, native.family, os.path.getsize(path), same_params and same_output,
                         a_customer not in raw))
        items_out, _, reasons, unknown = served["recommender"].recommend(session + ["SKU-NOPE"], 3)
        cpp_score = served["propensity"].score(np.asarray(
            X[:5].assign(segment=X["segment"][:5].cat.codes.astype(float)), dtype=float))
        cpp_effect = served["uplift"].effect(np.asarray(attributes[:5], dtype=float))
    for name, kind, family, size, identical, private in rows:
        out.write(f"  {name}: saved as one '{kind}' file ({size / 1e3:,.0f} kB), loaded back by comptoir.load_model as the "
                  f"same class and parameters, predictions {'bit-identical' if identical else 'DIFFERENT'}; "
                  f"C++ LoadModel serves it as {FAMILIES[family]}{'' if private else ' (RAW CUSTOMER IDS IN FILE)'}\n")
    if all(private for *_, private in rows):
        out.write("  no raw customer id in any file: the recommender keeps them as keyed hashes (SipHash-2-4; the key "
                  "stays with the shop)\n")
    out.write(f"  C++ in SKUs: session {session} + unknown {unknown} -> {items_out}; {reasons[0]}\n")
    same = np.array_equal(cpp_score, calibrated.predict_proba(X[:5])[:, 1])
    out.write(f"  C++ calibrated P(buyer) for 5 customers: {np.round(cpp_score, 3).tolist()} "
              f"({'bit-identical to' if same else 'DIFFERENT from'} Python's)\n")
    out.write(f"  C++ uplift per offer ({', '.join(dr.offer_names_)}) for customer 0: {np.round(cpp_effect[0], 4).tolist()}\n")


SECTIONS: List[Tuple[str, Callable[[Storefront, int, int, TextIO], None]]] = [
    ("foundation", _section_foundation),
    ("storefront simulator (the built-in data)", _section_simulator),
    ("session recommenders", _section_recommenders),
    ("neural session recommender", _section_neural),
    ("item embeddings and retrieval", _section_embeddings),
    ("behaviour features and re-purchase timing", _section_features),
    ("propensity: who buys in the next 30 days", _section_propensity),
    ("promo targeting: uplift evaluation and budgeted offers", _section_promo),
    ("model files: the whole model, served by C++ in the shop's ids", _section_model_files),
]


def run_demo(seed: int = 42, num_threads: int = 0, out: Optional[TextIO] = None, num_customers: int = 30_000) -> None:
    out = out or sys.stdout
    start = time.perf_counter()
    shop = simulate(num_customers=num_customers, num_items=5_000, seed=seed, n_jobs=num_threads)
    out.write(f"simulated a storefront in {time.perf_counter() - start:.2f} s (seed {seed})\n")
    for title, section in SECTIONS:
        out.write(f"== {title} ==\n")
        section(shop, seed, num_threads, out)
        out.flush()
