"""How much a returning customer's long-term profile adds to the live session, on UCI Online
Retail (invoices as sessions, customers with earlier invoices).

    python benchmarks/profile_blend.py [--data ../shared/data]

item2vec and the neural session model are trained on the invoices before the last 30 days (the
neural model's epoch chosen on the last 10% of them). For every later invoice with at least two
items whose customer bought before, the first item is the live session and the second item the
target: HR@20 and MRR@20 from the session alone and blended with the customer's earlier purchases
(item2vec: the most recent 200 items blended into the query at several weights; the neural model:
its profile of the customer's training invoices, as the network's vector of them blended into the
query, or as the items themselves with their logit raised by repeat_boost).
"""

from __future__ import annotations

import sys

import numpy as np

from common import dataset_folder, parse_args
from comptoir.data import load_online_retail
from comptoir.embed import Item2Vec
from comptoir.recommend import NeuralSessionRecommender


def main() -> int:
    args = parse_args(__doc__)
    folder = dataset_folder(args, "online_retail")
    if folder is None:
        return 0
    log = load_online_retail(folder)
    purchases = (log.kind == 2) & (log.user >= 0)
    session, item, user, time = log.session[purchases], log.item[purchases], log.user[purchases], log.timestamp[purchases]
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    offsets = np.r_[starts, len(item)]
    invoice_time, invoice_user = time[starts], user[starts]
    test = invoice_time >= invoice_time.max() - 30 * 86_400
    lengths = np.diff(offsets)
    train_items = item[np.repeat(~test, lengths)]
    train_offsets = np.r_[0, np.cumsum(lengths[~test])]
    model = Item2Vec(dim=64, epochs=10, window=5, subsample=1e-4, random_state=0).fit((train_offsets, train_items), num_items=log.num_items)
    # Each customer's purchases before the test window, oldest first.
    past_rows = np.repeat(~test, lengths)
    order = np.argsort(user[past_rows], kind="stable")
    past_users, past_items = user[past_rows][order], item[past_rows][order]
    bounds = np.searchsorted(past_users, np.arange(log.num_users + 1))
    neural = NeuralSessionRecommender(random_state=0, n_jobs=2).fit(
        (train_offsets, train_items), users=invoice_user[~test], num_items=log.num_items)
    # (model, setting, how to recommend) per row: item2vec blends the history into the query at
    # several weights; the neural model blends its profile vector or boosts the earlier items.
    weights = (0.0, 0.2, 0.4, 0.6)
    neural_settings = [("session only", 0.0, 0.0), ("profile_weight 0.2", 0.2, 0.0)] + [
        (f"repeat_boost {b:g}", 0.0, b) for b in (0.5, 1.0, 2.0, 3.0)]
    rows = [("item2vec", "session only" if w == 0 else f"profile_weight {w:.1f}") for w in weights] + [
        ("NeuralSessionRecommender", name) for name, _, _ in neural_settings]
    hits = np.zeros(len(rows))
    reciprocal = np.zeros(len(rows))
    cases = 0
    for s in np.flatnonzero(test & (lengths >= 2)):
        basket = item[offsets[s]: offsets[s + 1]]
        history = past_items[bounds[invoice_user[s]]: bounds[invoice_user[s] + 1]][-200:]
        if len(history) == 0 or basket[1] == basket[0]:
            continue
        cases += 1
        lists = [model.recommend_session(basket[:1], N=20, user_history=history if w else None, profile_weight=w)[0]
                 for w in weights]
        for _, weight, boost in neural_settings:
            neural.set_profile_weight(weight).set_repeat_boost(boost)
            lists.append(neural.recommend_session(basket[:1], N=20, user=int(invoice_user[s]))[0])
        for r, ids in enumerate(lists):
            found = np.flatnonzero(ids == basket[1])
            if len(found):
                hits[r] += 1
                reciprocal[r] += 1 / (found[0] + 1)
    print(f"Online Retail: {cases:,} test invoices of returning customers (last 30 days), target = second item after the first")
    print(f"{'model':26s} {'setting':20s} {'HR@20':>7s} {'MRR@20':>7s}")
    for r, (name, setting) in enumerate(rows):
        print(f"{name:26s} {setting:20s} {hits[r] / cases:7.4f} {reciprocal[r] / cases:7.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
