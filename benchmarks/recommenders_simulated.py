"""Session recommenders at catalogue scale: the built-in simulator's storefront with one million
items and about fifty million events, the last seven days held out.

    python benchmarks/recommenders_simulated.py [--quick]

Every prefix of 20,000 held-out sessions predicts its next viewed item (all items are candidates;
the same evaluation code as the DIGINETICA script). Latency: single-session calls from Python on one
thread over 5,000 held-out prefixes; throughput: the batched call on two threads. The hybrid's
weights are tuned on the last 10% of the training sessions. Models that score every item in Python
(item2vec and the peers: implicit's item-item and ALS, gensim's Word2Vec) are compared with
comptoir's on 2,000 of the held-out sessions, a million scores per prefix being slow in Python.
Retrieval over the item2vec vectors: the IVF index against exact search for 2,000 session
queries, recall@20 and per-query latency on one thread. --quick runs a tenth of the size.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from common import parse_args
from comptoir.data import EventLog
from comptoir.embed import Item2Vec, VectorIndex
from comptoir.recommend import Hybrid, Popularity, SequentialRules, SessionKNN, evaluate_next_item, tune_hybrid_weights
from comptoir.simulate import simulate
from recommenders import (dense_metrics, i2v_wrapper, item2vec_scores, latency_and_throughput, peer_rows, prefixes,
                          split_tail)

THREADS = 2


def subset(sessions, count, rng):
    """A random subset of a CSR of sessions, as a CSR."""
    offsets, items = sessions
    chosen = np.sort(rng.choice(len(offsets) - 1, size=min(count, len(offsets) - 1), replace=False))
    lengths = offsets[chosen + 1] - offsets[chosen]
    parts = [items[offsets[s]: offsets[s + 1]] for s in chosen]
    return np.r_[0, np.cumsum(lengths)].astype(np.int64), np.concatenate(parts).astype(np.int32)


def main() -> int:
    args = parse_args(__doc__)
    scale = 10 if args.quick else 1
    start = time.perf_counter()
    shop = simulate(num_customers=2_000_000 // scale, num_items=1_000_000 // scale, num_categories=500, num_days=60,
                    sessions_per_customer=5.0, mean_session_views=5.0, seed=1, n_jobs=THREADS)
    events = shop.events
    views = events["kind"] == 0
    log = EventLog.from_arrays(session=events["session"][views], item=events["item"][views],
                               timestamp=events["timestamp"][views])
    train_log, test_log = log.split_by_last_days(7)
    train, test_all = train_log.sessions(), test_log.sessions()
    num_items = shop.num_items
    rng = np.random.default_rng(0)
    test = subset(test_all, 20_000, rng)
    sample = prefixes(test, 5_000, rng)
    popularity = np.bincount(train[1], minlength=num_items)
    print(f"simulated {len(events['item']):,} events ({int(views.sum()):,} views) over {num_items:,} items in "
          f"{time.perf_counter() - start:.0f} s; {len(train[0]) - 1:,} training sessions, {len(test_all[0]) - 1:,} held out "
          f"(20,000 evaluated)")

    dense_test = subset(test, 2_000, rng)
    rows, dense_rows = [], []
    fitted = {}
    models = [("comptoir SessionKNN", lambda: SessionKNN().fit(train, num_items=num_items)),
              ("comptoir SequentialRules", lambda: SequentialRules().fit(train, num_items=num_items)),
              ("comptoir Popularity", lambda: Popularity().fit(train[1], num_items=num_items))]
    for name, fit in models:
        start = time.perf_counter()
        model = fit()
        fit_s = time.perf_counter() - start
        metrics = evaluate_next_item(model, test, k=20, item_popularity=popularity, n_jobs=THREADS)
        p50, p99, rate = latency_and_throughput(model, sample)
        rows.append((name, metrics, fit_s, p50, p99, rate))
        dense_rows.append((name, evaluate_next_item(model, dense_test, k=20, item_popularity=popularity, n_jobs=THREADS), fit_s))
        fitted[name] = model
        print(f"  done {name}", flush=True)

    fit_part, validation = split_tail(train, 0.1)
    parts = [SessionKNN().fit(fit_part, num_items=num_items), SequentialRules().fit(fit_part, num_items=num_items)]
    weights, _ = tune_hybrid_weights(parts, subset(validation, 5_000, rng), grid=(0.0, 0.25, 0.5, 1.0), n_jobs=THREADS)
    del parts
    hybrid = Hybrid([fitted["comptoir SessionKNN"], fitted["comptoir SequentialRules"]], weights)
    metrics = evaluate_next_item(hybrid, test, k=20, item_popularity=popularity, n_jobs=THREADS)
    p50, p99, rate = latency_and_throughput(hybrid, sample)
    name = f"comptoir Hybrid (kNN + rules, weights {weights})"
    hybrid_fit_s = rows[0][2] + rows[1][2]  # it trains nothing of its own
    rows.append((name, metrics, hybrid_fit_s, p50, p99, rate))
    dense_rows.append((name, evaluate_next_item(hybrid, dense_test, k=20, item_popularity=popularity, n_jobs=THREADS), hybrid_fit_s))
    del hybrid, fitted
    print("  done hybrid", flush=True)

    start = time.perf_counter()
    i2v = Item2Vec(dim=32, epochs=2, window=3, subsample=1e-4, random_state=0, n_jobs=THREADS).fit(train, num_items=num_items)
    fit_s = time.perf_counter() - start
    p50, p99, rate = latency_and_throughput(i2v_wrapper(i2v), sample)
    rows.append(("comptoir Item2Vec (session encoder, exact)", None, fit_s, p50, p99, rate))
    dense_rows.append(("comptoir Item2Vec (session encoder)", dense_metrics(item2vec_scores(i2v), dense_test, 20, popularity),
                       fit_s))
    print("  done item2vec", flush=True)

    queries = np.stack([i2v.encode_session(prefix) for prefix in sample[:2_000]]).astype(np.float32)
    exact = VectorIndex(i2v.item_vectors, n_jobs=1)
    truth, _ = exact.search(queries, k=20)
    start = time.perf_counter()
    exact.search(queries[:200], k=20)
    exact_ms = (time.perf_counter() - start) * 1e3 / 200
    ivf_rows = []
    for probes in (0, 32, 64, 128, 256):
        approximate = VectorIndex(i2v.item_vectors, approximate=True, num_probes=probes, n_jobs=THREADS)
        approximate.n_jobs = 1  # built on two threads, queried on one
        timings, found = [], []
        for q in queries:
            start = time.perf_counter_ns()
            ids, _ = approximate.search(q[None, :], k=20)
            timings.append(time.perf_counter_ns() - start)
            found.append(ids[0])
        recall = np.mean([len(set(a) & set(b)) / 20 for a, b in zip(truth, found)])
        ivf_rows.append(("default" if probes == 0 else str(probes), *np.percentile(np.array(timings) / 1e6, [50, 99]), recall))
    del i2v, exact, approximate
    if not args.quick:
        dense_rows.extend((name, m, fit_s) for name, m, fit_s, *_ in peer_rows(train, dense_test, num_items, popularity, dim=32, epochs=2))

    print()
    print(f"{'model':52s} {'HR@20':>7s} {'MRR@20':>7s} {'NDCG@20':>8s} {'cover':>6s} {'popbias':>8s} {'train s':>8s} "
          f"{'p50 ms':>7s} {'p99 ms':>7s} {'recs/s 2thr':>11s}")
    for name, m, fit_s, p50, p99, rate in rows:
        quality = (f"{m['hit_rate']:7.4f} {m['mrr']:7.4f} {m['ndcg']:8.4f} {m['coverage']:6.3f} {m['popularity_bias']:8.4f}"
                   if m is not None else f"{'':7s} {'':7s} {'':8s} {'':6s} {'':8s}")
        print(f"{name:52s} {quality} {fit_s:8.2f} {p50:7.3f} {p99:7.3f} {rate:11,.0f}")
    print(f"\non {len(dense_test[0]) - 1:,} held-out sessions, every model scoring all items:")
    for name, m, fit_s in dense_rows:
        print(f"{name:52s} {m['hit_rate']:7.4f} {m['mrr']:7.4f} {m['ndcg']:8.4f} {m['coverage']:6.3f} {m['popularity_bias']:8.4f} {fit_s:8.2f}")
    print(f"\nretrieval over {num_items:,} item2vec vectors (dim 32), one thread: exact {exact_ms:.2f} ms/query")
    for probes, p50, p99, recall in ivf_rows:
        print(f"  IVF, {probes:>7s} lists probed: p50 {p50:.3f} ms, p99 {p99:.3f} ms, recall@20 {recall:.3f} against exact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
