"""item2vec training throughput on DIGINETICA's training sessions: comptoir's Item2Vec in its
default deterministic (sharded) mode and with hogwild updates, against gensim's Word2Vec, at the
same settings (dim 64, 10 epochs, window 3, 5 negatives, subsample 1e-4, ns_exponent 0.75,
skip-gram, min_count 1) on 2 threads, printed as one table with each model's accuracy. A row with
the deterministic mode's former default of 16 sync rounds an epoch shows what the default of 8 buys.

    python benchmarks/item2vec_throughput.py [--data ../shared/data] [--quick]

The trainings run back to back, each in a fresh process (no thread pool or memory left over
from the one before). Tokens per second count every training event of every epoch, before
subsampling, the same figure for every row. Accuracy is the session encoder of
benchmarks/recommenders.py on the SR-GNN test split (every prefix predicts its next item, all
items candidates, ties against the model); --quick scores the first 2,000 test sessions only.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from common import dataset_folder, parse_args, run_in_fresh_process
from recommenders import dense_metrics, fit_word2vec, item2vec_scores, load_sessions, word2vec_scores

SETTINGS = dict(dim=64, epochs=10, window=3, negative=5, subsample=1e-4, ns_exponent=0.75)
THREADS = 2


def fit_comptoir(train, num_items, hogwild, overrides=None):
    """Trains comptoir's Item2Vec; returns (seconds, model bytes)."""
    from comptoir.embed import Item2Vec

    params = dict(SETTINGS, hogwild=hogwild, random_state=0, n_jobs=THREADS, **(overrides or {}))
    start = time.perf_counter()
    model = Item2Vec(**params).fit(train, num_items=num_items)
    return time.perf_counter() - start, model.to_bytes()


def fit_gensim(train, num_items):
    """Trains gensim's Word2Vec; returns (seconds, item vectors), or None without gensim."""
    try:
        vectors, seconds = fit_word2vec(train, num_items, SETTINGS["dim"], SETTINGS["epochs"], workers=THREADS)
    except ImportError:
        return None
    return seconds, vectors


def main() -> int:
    args = parse_args(__doc__)
    folder = dataset_folder(args, "diginetica")
    if folder is None:
        return 0
    from comptoir.embed import Item2Vec

    train = load_sessions(folder / "srgnn_train_sessions.csv.gz")
    test = load_sessions(folder / "srgnn_test_sessions.csv.gz")
    if args.quick:
        test = (test[0][:2001], test[1][: test[0][2000]])
    num_items = int(max(train[1].max(), test[1].max())) + 1
    popularity = np.bincount(train[1], minlength=num_items)
    tokens = len(train[1]) * SETTINGS["epochs"]
    print(f"DIGINETICA train: {len(train[0]) - 1:,} sessions, {len(train[1]):,} events; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} before")

    runs = []
    comptoir_runs = (("comptoir Item2Vec (deterministic, default)", False, None),
                     # the default before it became 8: shows what the fewer rounds bought
                     ("comptoir Item2Vec (deterministic, sync_rounds=16)", False, {"sync_rounds": 16}),
                     ("comptoir Item2Vec (hogwild=True)", True, None))
    for name, hogwild, overrides in comptoir_runs:
        seconds, data = run_in_fresh_process(fit_comptoir, train, num_items, hogwild, overrides)
        print(f"  {name}: {seconds:.2f} s", flush=True)
        runs.append((name, seconds, item2vec_scores(Item2Vec.from_bytes(data))))
    gensim = run_in_fresh_process(fit_gensim, train, num_items)
    if gensim is None:
        print("  gensim not installed: its row and the ratios are skipped")
    else:
        seconds, vectors = gensim
        print(f"  gensim Word2Vec: {seconds:.2f} s", flush=True)
        runs.append(("gensim Word2Vec (workers=2)", seconds, word2vec_scores(vectors)))
    print(f"  load average {os.getloadavg()[0]:.2f} after training")

    reference = gensim[0] if gensim is not None else None
    print()
    print(f"{'model':50s} {'train s':>8s} {'tokens/s':>10s} {'vs gensim':>10s} {'HR@20':>7s} {'MRR@20':>7s}")
    for name, seconds, score_fn in runs:
        metrics = dense_metrics(score_fn, test, 20, popularity)
        ratio = f"{reference / seconds:9.2f}x" if reference is not None else f"{'':>10s}"
        print(f"{name:50s} {seconds:8.2f} {tokens / seconds:10,.0f} {ratio} {metrics['hit_rate']:7.4f} {metrics['mrr']:7.4f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
