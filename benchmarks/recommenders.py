"""Next-item recommendation on DIGINETICA (SR-GNN split): every comptoir model and, when they are
installed, the peers (implicit's item-item and ALS, gensim's Word2Vec as item2vec, and a PyTorch
implementation of the neural session model), on the same split and the same evaluation rule,
printed as one table.

    python benchmarks/recommenders.py [--data ../shared/data] [--quick] [--neural-only]

``--neural-only`` runs the neural session model, its hybrid with session kNN (the kNN setting the
full run's validation grid picks) and the PyTorch peer, and nothing else.

Hyperparameters are tuned on a validation split carved from the end of the training sessions
(the training file is in date order), never on the test split. Latency is measured per call from
Python on one thread (so it includes the binding overhead); throughput is the batched call on two
threads.
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import numpy as np

from common import dataset_folder, parse_args
from comptoir.embed import Item2Vec
from comptoir.recommend import (
    FrequentlyBoughtTogether,
    Hybrid,
    NeuralSessionRecommender,
    Popularity,
    SequentialRules,
    SessionKNN,
    evaluate_next_item,
    tune_hybrid_weights,
)


def load_sessions(path: Path):
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", skiprows=1, dtype=np.int64)
    sessions, items = table[:, 0], table[:, 2].astype(np.int32)
    starts = np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1]])
    return np.r_[starts, len(items)].astype(np.int64), items


def diginetica_split(folder):
    """The SR-GNN split's training and test sessions and the number of items either names."""
    train = load_sessions(folder / "srgnn_train_sessions.csv.gz")
    test = load_sessions(folder / "srgnn_test_sessions.csv.gz")
    return train, test, int(max(train[1].max(), test[1].max())) + 1


def split_tail(sessions, fraction):
    offsets, items = sessions
    cut = int(len(offsets) * (1 - fraction))
    head = (offsets[: cut + 1], items[: offsets[cut]])
    tail = (offsets[cut:] - offsets[cut], items[offsets[cut]:])
    return head, tail


def prefixes(sessions, limit, rng):
    offsets, items = sessions
    out = []
    for s in range(len(offsets) - 1):
        seq = items[offsets[s]: offsets[s + 1]]
        out.extend(seq[:t] for t in range(1, len(seq)))
    picks = rng.choice(len(out), size=min(limit, len(out)), replace=False)
    return [out[i] for i in picks]


def dense_metrics(score_fn, test, k, popularity):
    """The same protocol for models scored in Python: rank = #items scoring >= the target."""
    offsets, items = test
    hits = rr = ndcg = 0.0
    n = 0
    shown = np.zeros(len(popularity), dtype=bool)
    pop_sum = 0.0
    top_pop = popularity.max()
    for s in range(len(offsets) - 1):
        seq = items[offsets[s]: offsets[s + 1]]
        for t in range(1, len(seq)):
            scores = score_fn(seq[:t])
            rank = int(np.count_nonzero(scores >= scores[seq[t]]))
            n += 1
            if rank <= k:
                hits += 1
                rr += 1 / rank
                ndcg += 1 / np.log2(rank + 1)
            top = np.argpartition(-scores, k)[:k]
            shown[top] = True
            pop_sum += popularity[top].sum() / top_pop
    return {"hit_rate": hits / n, "mrr": rr / n, "ndcg": ndcg / n, "coverage": shown.mean(), "popularity_bias": pop_sum / (n * k)}


def latency_and_throughput(model, sample, k=20):
    timings = []
    for prefix in sample:
        start = time.perf_counter_ns()
        model.recommend_session(prefix, N=k)
        timings.append(time.perf_counter_ns() - start)
    p50, p99 = np.percentile(np.array(timings) / 1e6, [50, 99])
    lengths = np.array([len(p) for p in sample])
    csr = (np.r_[0, np.cumsum(lengths)].astype(np.int64), np.concatenate(sample).astype(np.int32))
    start = time.perf_counter()
    model.recommend_sessions(csr, N=k, n_jobs=2)
    return p50, p99, len(sample) / (time.perf_counter() - start)


def main() -> int:
    args = parse_args(__doc__, [("--neural-only", "only the neural model, its hybrid with kNN and its PyTorch peer"),
                                ("--peer-two-epochs", "train the PyTorch peer for 2 epochs (its seconds per epoch, sooner)"),
                                ("--epoch-timing", "only seconds per epoch, comptoir against the PyTorch peer, on a fifth of the sessions"),
                                ("--neural-settings", "only the best validation MRR@20 of the neural model's defaults and of the "
                                                      "settings tried against them")])
    folder = dataset_folder(args, "diginetica")
    if folder is None:
        return 0
    quick = args.quick
    train, test, num_items = diginetica_split(folder)
    popularity = np.bincount(train[1], minlength=num_items)
    fit_part, validation = split_tail(train, 0.1)
    rng = np.random.default_rng(0)
    sample = prefixes(test, 5000, rng)
    print(f"DIGINETICA: {len(train[0]) - 1:,} train sessions, {len(test[0]) - 1:,} test sessions, {num_items - 1:,} items")

    if args.epoch_timing:
        epoch_timing(split_tail(train, 0.2)[1], num_items)
        return 0
    if args.neural_settings:
        neural_settings(fit_part, validation, num_items)
        return 0
    if args.neural_only:
        knn = SessionKNN(**STAN).fit(train, num_items=num_items)
        print_table(neural_rows(train, test, fit_part, validation, num_items, popularity, sample, STAN, knn,
                                args.peer_two_epochs))
        return 0

    # Tuning on validation (never the test split).
    knn_grid = [dict(), dict(lambda_inh=3.0), dict(k=50, lambda_inh=3.0), dict(sample_size=1000, lambda_inh=3.0),
                dict(position_decay="exponential", lambda_spw=2.0, lambda_inh=2.0)]
    best_knn, best_mrr = {}, -1.0
    for params in ([] if quick else knn_grid):
        model = SessionKNN(**params).fit(fit_part, num_items=num_items)
        mrr = evaluate_next_item(model, validation, k=20, n_jobs=2)["mrr"]
        print(f"  validation MRR@20 {mrr:.4f}  SessionKNN({params})")
        if mrr > best_mrr:
            best_knn, best_mrr = params, mrr

    rows = []

    def run(name, make, fit_args):
        start = time.perf_counter()
        model = make().fit(*fit_args)
        fit_s = time.perf_counter() - start
        metrics = evaluate_next_item(model, test, k=20, item_popularity=popularity, n_jobs=2)
        p50, p99, rate = latency_and_throughput(model, sample)
        rows.append((name, metrics, fit_s, p50, p99, rate))
        print(f"  done {name}", flush=True)
        return model

    knn = run("comptoir SessionKNN (tuned on validation)", lambda: SessionKNN(**best_knn), (train, None, None, num_items))
    stan = run("comptoir SessionKNN (STAN decays)",
               lambda: SessionKNN(position_decay="exponential", lambda_spw=2.0, lambda_inh=2.0), (train, None, None, num_items))
    rules = run("comptoir SequentialRules", SequentialRules, (train, num_items))
    run("comptoir FrequentlyBoughtTogether", lambda: FrequentlyBoughtTogether(min_support=1), (train, num_items))
    run("comptoir Popularity", Popularity, (train[1], None, None, num_items))
    weights = [1.0, 0.5, 0.25]
    if not quick:
        parts = [SessionKNN(**best_knn).fit(fit_part, num_items=num_items),
                 SessionKNN(position_decay="exponential", lambda_spw=2.0, lambda_inh=2.0).fit(fit_part, num_items=num_items),
                 SequentialRules().fit(fit_part, num_items=num_items)]
        weights, mrr = tune_hybrid_weights(parts, validation, grid=(0.0, 0.25, 0.5, 1.0), n_jobs=2)
        print(f"  validation MRR@20 {mrr:.4f}  hybrid weights {weights}")
    hybrid = Hybrid([knn, stan, rules], weights)
    metrics = evaluate_next_item(hybrid, test, k=20, item_popularity=popularity, n_jobs=2)
    p50, p99, rate = latency_and_throughput(hybrid, sample)
    # The hybrid trains nothing of its own: its cost is its parts'.
    rows.append((f"comptoir Hybrid {weights}", metrics, sum(r[2] for r in rows[:3]), p50, p99, rate))

    if not quick:
        start = time.perf_counter()
        i2v = Item2Vec(dim=64, epochs=10, window=3, subsample=1e-4, random_state=0).fit(train, num_items=num_items)
        fit_s = time.perf_counter() - start
        metrics = dense_metrics(item2vec_scores(i2v), test, 20, popularity)
        p50, p99, rate = latency_and_throughput(i2v_wrapper(i2v), sample)
        rows.append(("comptoir Item2Vec (session encoder)", metrics, fit_s, p50, p99, rate))
        rows.extend(peer_rows(train, test, num_items, popularity))

    if not quick:
        rows.extend(neural_rows(train, test, fit_part, validation, num_items, popularity, sample, best_knn, knn,
                                args.peer_two_epochs))
    print_table(rows)
    return 0


# The setting the validation grid above picks on this split (STAN's decays), for --neural-only.
STAN = dict(position_decay="exponential", lambda_spw=2.0, lambda_inh=2.0)


def print_table(rows):
    print()
    print(f"{'model':60s} {'HR@20':>7s} {'MRR@20':>7s} {'NDCG@20':>8s} {'cover':>6s} {'popbias':>8s} {'train s':>8s} "
          f"{'p50 ms':>7s} {'p99 ms':>7s} {'recs/s 2thr':>11s}")
    for name, m, fit_s, p50, p99, rate in rows:
        print(f"{name:60s} {m['hit_rate']:7.4f} {m['mrr']:7.4f} {m['ndcg']:8.4f} {m['coverage']:6.3f} "
              f"{m['popularity_bias']:8.4f} {fit_s:8.2f} {p50:7.3f} {p99:7.3f} {rate:11,.0f}")
    print("published on this split: GCE-GNN HR@20 0.542 / MRR@20 0.190 (GPU); SR-GNN 0.507 / 0.177; NARM 0.497 / 0.162")


def epoch_timing(sessions, num_items, epochs=2):
    """Training seconds per epoch of the same network, settings and 2 threads, without validation,
    on a share of the sessions small enough to time on a quiet machine."""
    from neural_peer import train_torch_peer

    neural = NeuralSessionRecommender(epochs=epochs, validation_fraction=0, random_state=0, n_jobs=2)
    ours = neural.fit(sessions, num_items=num_items).history_["seconds"].tolist()
    peer = train_torch_peer(sessions, None, num_items, epochs=epochs, patience=epochs, threads=2, seed=0, log=lambda _: None)
    prefixes = int(np.sum(np.diff(sessions[0]) - 1))
    print(f"{prefixes:,} training prefixes, {epochs} epochs, 2 threads")
    print(f"{'training':28s} {'s/epoch':>8s} {'prefixes/s':>11s} {'ratio':>6s}")
    for name, seconds in (("comptoir (C++)", ours), ("PyTorch peer", list(peer.epoch_seconds))):
        mean = float(np.mean(seconds))
        print(f"{name:28s} {mean:8.2f} {prefixes / mean:11,.0f} {mean / np.mean(ours):6.2f}")


# Settings measured against the defaults on validation (benchmarks/README.md says what they gave).
NEURAL_SETTINGS = [dict(), dict(scale=10.0), dict(scale=16.0), dict(num_negatives=8192), dict(dropout=0.1),
                   dict(dropout=0.2)]


def neural_settings(fit_part, validation, num_items):
    """Each setting trained on the first 90% of the training sessions, early-stopped on the last
    10% (no refit): its best validation MRR@20, at which epoch, and seconds per epoch."""
    print(f"{'setting':28s} {'best MRR@20':>11s} {'epoch':>5s} {'of':>3s} {'s/epoch':>8s}")
    for setting in NEURAL_SETTINGS:
        history = NeuralSessionRecommender(**setting, refit=False, random_state=0, n_jobs=2).fit(
            fit_part, num_items=num_items, validation=validation).history_
        print(f"{str(setting or 'defaults'):28s} {history['validation_mrr'].max():11.4f} "
              f"{int(history['validation_mrr'].idxmax()):5d} {len(history):3d} {history['seconds'].mean():8.1f}", flush=True)


def neural_rows(train, test, fit_part, validation, num_items, popularity, sample, knn_params, knn, peer_two_epochs=False):
    """The neural session model: the epoch chosen on the last 10% of the training sessions
    (trained on the first 90%, ``refit=False``), then those epochs trained again on all of them,
    which is what the default ``refit=True`` does within one ``fit`` (the C++ tests check the
    networks are the same); both rows. The hybrid with session kNN has its weights tuned on the
    same validation sessions with the 90% models (the kNN of the test rows is the one fitted on
    all training sessions, as in the rows above). Then the PyTorch peer of the same network,
    with training seconds per epoch."""
    rows = []
    start = time.perf_counter()
    selection = NeuralSessionRecommender(refit=False, random_state=0, n_jobs=2).fit(fit_part, num_items=num_items,
                                                                                    validation=validation)
    selection_s = time.perf_counter() - start
    history = selection.history_
    best = int(history["validation_mrr"].idxmax())
    metrics = evaluate_next_item(selection, test, k=20, item_popularity=popularity, n_jobs=2)
    p50, p99, rate = latency_and_throughput(selection, sample)
    rows.append((f"comptoir NeuralSessionRecommender (90%, epoch {best} of {len(history)})", metrics, selection_s, p50, p99,
                 rate))
    print(f"  done neural: {len(history)} epochs, {history['seconds'].mean():.1f} s per epoch, "
          f"validation MRR@20 {history['validation_mrr'].max():.4f}", flush=True)
    start = time.perf_counter()
    neural = NeuralSessionRecommender(epochs=best, patience=0, validation_fraction=0, random_state=0,
                                      n_jobs=2).fit(train, num_items=num_items)
    fit_s = selection_s + time.perf_counter() - start
    metrics = evaluate_next_item(neural, test, k=20, item_popularity=popularity, n_jobs=2)
    p50, p99, rate = latency_and_throughput(neural, sample)
    rows.append((f"comptoir NeuralSessionRecommender (refit: {best} epochs on 100%)", metrics, fit_s, p50, p99, rate))
    knn_part = SessionKNN(**knn_params).fit(fit_part, num_items=num_items)
    # The later half of the validation sessions keeps the blends' evaluations short.
    weights, mrr = tune_hybrid_weights([selection, knn_part], split_tail(validation, 0.5)[1],
                                       grid=(0.25, 0.5, 1.0, 2.0, 4.0), rounds=1, n_jobs=2)
    print(f"  validation MRR@20 {mrr:.4f}  neural + kNN weights {weights}", flush=True)
    hybrid = Hybrid([neural, knn], weights)
    metrics = evaluate_next_item(hybrid, test, k=20, item_popularity=popularity, n_jobs=2)
    p50, p99, rate = latency_and_throughput(hybrid, sample)
    rows.append((f"comptoir Hybrid neural (refit) + SessionKNN {weights}", metrics, fit_s, p50, p99, rate))
    # A second seed's refit shares the neural weight: two networks average out each one's noise.
    start = time.perf_counter()
    second = NeuralSessionRecommender(epochs=best, patience=0, validation_fraction=0, random_state=1,
                                      n_jobs=2).fit(train, num_items=num_items)
    both_s = fit_s + time.perf_counter() - start
    pair = [weights[0] / 2, weights[0] / 2, weights[1]]
    hybrid = Hybrid([neural, second, knn], pair)
    metrics = evaluate_next_item(hybrid, test, k=20, item_popularity=popularity, n_jobs=2)
    p50, p99, rate = latency_and_throughput(hybrid, sample)
    rows.append((f"comptoir Hybrid 2 neural (seeds 0, 1) + SessionKNN {pair}", metrics, both_s, p50, p99, rate))
    epochs = [(f"comptoir (C++, 2 threads)", history["seconds"].tolist(), history["validation_mrr"].tolist())]
    try:
        from neural_peer import train_torch_peer
    except ImportError:
        print("  torch (or benchmarks/neural_peer.py) missing: the PyTorch peer's row is skipped")
    else:
        start = time.perf_counter()
        peer_epochs = 2 if peer_two_epochs else len(history)  # as many epochs as comptoir ran, or 2
        peer = train_torch_peer(fit_part, validation, num_items, epochs=peer_epochs, patience=peer_epochs, threads=2, seed=0)
        fit_s = time.perf_counter() - start
        metrics = dense_metrics(peer.score, test, 20, popularity)
        rows.append((f"PyTorch peer (same network and settings, {peer_epochs} epochs)", metrics, fit_s, np.nan, np.nan, np.nan))
        epochs.append(("PyTorch peer (2 threads)", list(peer.epoch_seconds), [h.get("validation_mrr", np.nan) for h in peer.history]))
    print()
    print(f"{'training':34s} {'epochs':>6s} {'s/epoch':>8s} {'ratio':>6s}  validation MRR@20 by epoch")
    for name, seconds, mrrs in epochs:
        ratio = np.mean(seconds) / np.mean(epochs[0][1])
        print(f"{name:34s} {len(seconds):6d} {np.mean(seconds):8.1f} {ratio:6.2f}  {' '.join(f'{m:.4f}' for m in mrrs)}")
    return rows


def i2v_wrapper(model):
    """Adapts Item2Vec to the latency harness (single calls and a batch)."""

    class Wrapper:
        def recommend_session(self, items, N):
            return model.recommend_session(items, N=N, filter_session_items=False)

        def recommend_sessions(self, csr, N, n_jobs):
            offsets, items = csr
            queries = np.stack([model.encode_session(items[offsets[i]: offsets[i + 1]]) for i in range(len(offsets) - 1)])
            return model._fitted().index.search(queries, N, model._fitted().seen, None, n_jobs)

    return Wrapper()


def item2vec_scores(i2v):
    """comptoir's item2vec session encoder scored against every item: cosine with the recency-
    weighted session vector; items never seen in training cannot be recommended."""
    vectors = i2v.item_vectors / np.maximum(np.linalg.norm(i2v.item_vectors, axis=1, keepdims=True), 1e-12)
    seen = i2v._fitted().seen.astype(bool)

    def scores(prefix):
        out = vectors @ i2v.encode_session(prefix, recency_decay=0.5)
        out[~seen] = -np.inf
        return out

    return scores


def fit_word2vec(train, num_items, dim, epochs, workers=2):
    """gensim's Word2Vec at item2vec's settings: the item vectors as a (num_items, dim) table and
    the training seconds (vocabulary building included, as comptoir's fit includes counting).
    ImportError when gensim is not installed."""
    from gensim.models import Word2Vec

    offsets, items = train
    sentences = [[str(i) for i in items[offsets[s]: offsets[s + 1]]] for s in range(len(offsets) - 1)]
    start = time.perf_counter()
    w2v = Word2Vec(sentences, vector_size=dim, window=3, min_count=1, sg=1, negative=5, sample=1e-4, epochs=epochs,
                   workers=workers, seed=0)
    fit_s = time.perf_counter() - start
    vectors = np.zeros((num_items, dim), dtype=np.float32)
    for key, index in w2v.wv.key_to_index.items():
        vectors[int(key)] = w2v.wv.vectors[index]
    return vectors, fit_s


def word2vec_scores(vectors):
    """The same session encoder over a plain vector table (gensim's)."""
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    known = np.linalg.norm(vectors, axis=1) > 0

    def scores(prefix):
        weights = 0.5 ** np.arange(len(prefix))[::-1]
        out = vectors @ (weights[:, None] * vectors[prefix]).sum(axis=0)
        out[~known] = -np.inf
        return out

    return scores


def peer_rows(train, test, num_items, popularity, dim=64, epochs=10):
    """implicit and gensim on the same split, when installed (pip install implicit gensim). dim and
    epochs are item2vec's, so that gensim's Word2Vec runs at comptoir's settings; each row is
    printed as it is done, so a long run keeps what it measured."""
    rows = []

    def add(name, score_fn, fit_s):
        metrics = dense_metrics(score_fn, test, 20, popularity)
        print(f"  done {name}: HR@20 {metrics['hit_rate']:.4f}, MRR@20 {metrics['mrr']:.4f}, fit {fit_s:.1f} s", flush=True)
        rows.append((name, metrics, fit_s, np.nan, np.nan, np.nan))

    offsets, items = train
    try:
        import scipy.sparse as sp
        from implicit.nearest_neighbours import CosineRecommender
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("  implicit not installed: its rows are skipped")
    else:
        session_ids = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        matrix = sp.csr_matrix((np.ones(len(items), dtype=np.float32), (session_ids, items)), shape=(len(offsets) - 1, num_items))
        start = time.perf_counter()
        cosine = CosineRecommender(K=100)
        cosine.fit(matrix, show_progress=False)
        fit_s = time.perf_counter() - start
        similarity = cosine.similarity.tocsr()

        def cosine_scores(prefix):
            return np.asarray(similarity[prefix].sum(axis=0)).ravel()

        add("implicit CosineRecommender (item-item)", cosine_scores, fit_s)
        start = time.perf_counter()
        als = AlternatingLeastSquares(factors=64, iterations=15, random_state=0)
        # ALS runs its own threads; a BLAS thread pool beside them thrashes (implicit warns of it).
        with threadpool_limits(1, "blas"):
            als.fit(matrix, show_progress=False)
        fit_s = time.perf_counter() - start
        item_factors = np.asarray(als.item_factors)

        def als_scores(prefix):
            row = sp.csr_matrix((np.ones(len(prefix), dtype=np.float32), (np.zeros(len(prefix), dtype=int), prefix)), shape=(1, num_items))
            user = np.asarray(als.recalculate_user(0, row)).ravel()
            return item_factors @ user

        add("implicit AlternatingLeastSquares", als_scores, fit_s)
    try:
        vectors, fit_s = fit_word2vec(train, num_items, dim, epochs)
    except ImportError:
        print("  gensim not installed: its row is skipped")
    else:
        add("gensim Word2Vec (item2vec)", word2vec_scores(vectors), fit_s)
    return rows


if __name__ == "__main__":
    sys.exit(main())
