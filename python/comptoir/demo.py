"""``comptoir demo``: every capability, end to end, on built-in data, with what each one did.

Each capability contributes one section function; ``run_demo`` runs them in order.
"""

from __future__ import annotations

import time
from typing import Callable, List, TextIO

from . import _core, __version__


def _section_foundation(seed: int, num_threads: int, out: TextIO) -> None:
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
        f"{many:.6f} on {threads} ({multi_s * 1e3:.0f} ms): "
        f"{'bit-identical' if one == many else 'DIFFERENT'}\n"
    )


def _section_embeddings(seed: int, num_threads: int, out: TextIO) -> None:
    import numpy as np

    from .embed import Item2Vec, VectorIndex

    # Sessions that stay within one of 20 taste groups of 50 items each.
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 20, 20_000)
    lengths = rng.integers(2, 9, 20_000)
    items = np.repeat(groups * 50, lengths) + rng.integers(0, 50, lengths.sum())
    offsets = np.r_[0, np.cumsum(lengths)]
    start = time.perf_counter()
    model = Item2Vec(dim=32, epochs=3, random_state=seed, n_jobs=num_threads).fit((offsets, items), num_items=1000)
    fit_s = time.perf_counter() - start
    ids, scores = model.similar_items(0, N=5)
    same = np.mean(ids // 50 == 0)
    out.write(
        f"  item2vec on {len(items):,} events: {fit_s:.2f} s; items most similar to item 0: {ids.tolist()} "
        f"({same:.0%} from its taste group)\n"
    )
    recs, _ = model.recommend_session([120, 121], user_history=[0, 1, 2], N=5)
    out.write(f"  session [120, 121] + history [0, 1, 2] -> {recs.tolist()}\n")
    # A catalogue's embeddings are clustered (by category, taste); uniform noise is not.
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
    out.write(
        f"  top-20 over 200k vectors: exact {exact_ms:.2f} ms/query, IVF {ivf_ms:.3f} ms/query at recall@20 {recall:.3f}\n"
    )


def _section_features(seed: int, num_threads: int, out: TextIO) -> None:
    import numpy as np

    from .features import behaviour_features, purchase_labels, repurchase_timing

    # 5,000 customers over a year; each re-buys a staple on a personal cycle of 1 to 6 weeks.
    rng = np.random.default_rng(seed)
    day = 86_400
    start = 1_700_000_000
    customers = 5_000
    cycles = rng.integers(7, 43, customers)
    counts = rng.poisson(365 / cycles)
    user = np.repeat(np.arange(customers), counts)
    phase = rng.uniform(0, 1, customers)[user]
    order = np.concatenate([np.arange(c) for c in counts])
    timestamp = start + ((order + phase) * cycles[user] + rng.normal(0, 1.5, len(user))) * day
    events = {
        "session": np.arange(len(user)), "user": user, "item": (user % 50),
        "timestamp": timestamp.astype(np.int64), "kind": np.full(len(user), 2),
        "value": rng.gamma(2.0, 15.0, len(user)),
    }
    snapshot = start + 300 * day
    began = time.perf_counter()
    matrix, names = behaviour_features(events, snapshot, n_jobs=num_threads, as_frame=False)
    feature_ms = (time.perf_counter() - began) * 1e3
    bought, spend = purchase_labels(events, snapshot, horizon_days=30)
    out.write(
        f"  {len(names)} point-in-time features for {customers:,} customers from {len(user):,} events in "
        f"{feature_ms:.0f} ms; {bought.mean():.0%} buy in the 30 days after the snapshot "
        f"(mean spend {spend.mean():.2f})\n"
    )
    timing = repurchase_timing(events, snapshot, horizon_days=7, as_frame=False)
    error = np.abs(timing["cycle_days"] - cycles[timing["user"]]) / cycles[timing["user"]]
    top = np.argsort(-timing["probability_within_horizon"])[:500]
    after = events["timestamp"] >= snapshot
    next_purchase = np.full(customers, np.iinfo(np.int64).max)
    np.minimum.at(next_purchase, user[after], events["timestamp"][after])
    due = next_purchase < snapshot + 7 * day
    actually_due = due[timing["user"][top]]
    out.write(
        f"  re-purchase cycles recovered within {np.median(error):.1%} (median relative error); of the 500 "
        f"customers most likely to re-buy within 7 days, {actually_due.mean():.0%} did "
        f"(base rate {due.mean():.0%})\n"
    )


SECTIONS: List[tuple[str, Callable[[int, int, TextIO], None]]] = [
    ("foundation", _section_foundation),
    ("item embeddings and retrieval", _section_embeddings),
    ("behaviour features and re-purchase timing", _section_features),
]


def run_demo(seed: int = 42, num_threads: int = 0, out: TextIO | None = None) -> None:
    import sys

    out = out or sys.stdout
    for title, section in SECTIONS:
        out.write(f"== {title} ==\n")
        section(seed, num_threads, out)
        out.flush()
