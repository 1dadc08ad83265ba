"""One contract every recommender meets: recommend, batch, filters, unknown ids, empty session,
save/load, pickle, concurrent calls, online update and forget (where the model supports them)."""

import pickle
import threading

import numpy as np
import pytest

import comptoir
from comptoir.embed import Item2Vec
from comptoir.recommend import (
    EmbeddingRecommender,
    FrequentlyBoughtTogether,
    Hybrid,
    Popularity,
    SequentialRules,
    SessionKNN,
    evaluate_next_item,
)

NUM_ITEMS = 100


def chain_sessions(n, seed):
    """Sessions walk along chains: item g*20+i is usually followed by g*20+i+1."""
    rng = np.random.default_rng(seed)
    sessions = []
    for _ in range(n):
        group, start = rng.integers(0, 5), rng.integers(0, 15)
        length = rng.integers(2, 7)
        sessions.append([int(group * 20 + p) for p in range(start, min(20, start + length))])
    return sessions


TRAIN = chain_sessions(3000, 1)
TEST = chain_sessions(300, 2)

USERS = np.arange(len(TRAIN)) % 40
CLICKS = np.concatenate(TRAIN)


def _hybrid():
    knn = SessionKNN().fit(TRAIN, num_items=NUM_ITEMS)
    rules = SequentialRules().fit(TRAIN, num_items=NUM_ITEMS)
    return Hybrid([knn, rules, Popularity().fit(CLICKS, num_items=NUM_ITEMS)], [1.0, 0.5, 0.1])


# name -> (fitted model, whether it follows the session rather than global popularity)
MODELS = {
    "session_knn": (lambda: SessionKNN().fit(TRAIN, users=USERS, num_items=NUM_ITEMS), True),
    "stan": (lambda: SessionKNN(position_decay="exponential", lambda_spw=2.0, lambda_inh=2.0).fit(TRAIN, users=USERS, num_items=NUM_ITEMS), True),
    "sequential_rules": (lambda: SequentialRules().fit(TRAIN, num_items=NUM_ITEMS), True),
    "bought_together": (lambda: FrequentlyBoughtTogether().fit(TRAIN, num_items=NUM_ITEMS), True),
    "popularity": (lambda: Popularity().fit(CLICKS, num_items=NUM_ITEMS), False),
    "embedding": (lambda: EmbeddingRecommender(Item2Vec(dim=16, epochs=5, subsample=0, random_state=0))
                  .fit(TRAIN, users=USERS, num_items=NUM_ITEMS), True),
    "hybrid": (_hybrid, True),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    make, follows_session = MODELS[request.param]
    fitted = make()
    fitted.follows_session = follows_session
    return fitted


def test_recommend_follows_the_session(model):
    ids, scores, reasons = model.recommend_session([40, 41, 42], N=5, return_reasons=True)
    assert len(ids) == 5
    if model.follows_session:
        assert ids[0] // 20 == 2
    assert np.all(np.diff(scores) <= 0)
    assert len(reasons) == 5 and all(isinstance(r, str) and r for r in reasons)


def test_quality_beats_popularity(model):
    metrics = evaluate_next_item(model, TEST, k=5)
    assert metrics["predictions"] == sum(len(s) - 1 for s in TEST)
    assert 0 < metrics["mrr"] <= metrics["hit_rate"]
    if model.follows_session:
        # Popularity sits near 5 / 100 on these chains.
        assert metrics["hit_rate"] > 0.5


def test_batch_equals_single(model):
    ids, scores = model.recommend_sessions(TEST[:50], N=10, n_jobs=2)
    for row, session in enumerate(TEST[:50]):
        single_ids, single_scores = model.recommend_session(session, N=10)
        assert np.array_equal(ids[row][: len(single_ids)], single_ids)
        assert np.allclose(scores[row][: len(single_scores)], single_scores)


def test_filters_are_honoured(model):
    in_stock = np.ones(NUM_ITEMS, dtype=np.uint8)
    in_stock[43] = 0
    ids, _ = model.recommend_session([40, 41, 42], N=20, filter_items=[44], allowed_items=in_stock, filter_session_items=True)
    assert not {40, 41, 42, 43, 44} & set(ids.tolist())


def test_unknown_items_and_empty_sessions_are_handled(model):
    ids, _, reasons = model.recommend_session([10_000, -3], N=4, return_reasons=True)
    assert len(ids) <= 4 and all(r for r in reasons)
    if isinstance(model, (SessionKNN, Popularity, Hybrid)):
        # These fall back to popularity and say so.
        assert len(ids) == 4 and "popular" in reasons[-1]
    ids, _ = model.recommend_session([], N=4)
    assert len(ids) <= 4
    with pytest.raises(ValueError, match="k must be"):
        model.recommend_session([1], N=0)


def test_save_load_and_pickle_give_identical_results(model, tmp_path):
    expected = model.recommend_sessions(TEST[:30], N=10)
    path = tmp_path / "model.cmf"
    model.save(path)
    loaded = type(model).load(path)
    for other in (loaded, pickle.loads(pickle.dumps(model))):
        got = other.recommend_sessions(TEST[:30], N=10)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    (tmp_path / "bad.cmf").write_bytes(path.read_bytes()[:-9])
    with pytest.raises(comptoir.ModelFormatError):
        type(model).load(tmp_path / "bad.cmf")
    other_kind = SequentialRules if not isinstance(model, SequentialRules) else Popularity
    with pytest.raises(comptoir.ModelFormatError, match="model file holds"):
        other_kind.load(path)


def test_concurrent_calls_agree(model):
    expected = [model.recommend_session(s, N=10)[0] for s in TEST[:40]]
    failures = []

    def worker():
        for s, e in zip(TEST[:40], expected):
            if not np.array_equal(model.recommend_session(s, N=10)[0], e):
                failures.append(s)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_online_update_and_forget():
    # Item 105 is new to the catalogue: only user 7's sessions, added online, ever show it.
    model = SessionKNN(sample_size=50).fit(TRAIN, users=np.full(len(TRAIN), -1), num_items=NUM_ITEMS + 10)
    for t in range(40):
        model.add_session([105, 3], timestamp=10_000_000 + t, user=7)
    ids, _, reasons = model.recommend_session([105], N=3, filter_session_items=True, return_reasons=True)
    assert ids[0] == 3 and "also viewed item 105" in reasons[0]
    assert model.forget(7) == 40
    ids, _, reasons = model.recommend_session([105], N=3, filter_session_items=True, return_reasons=True)
    assert all(r == "popular right now" for r in reasons)


def test_parameters_follow_scikit_learn():
    model = SessionKNN(k=50, position_decay="exponential")
    assert model.get_params()["k"] == 50
    model.set_params(k=20)
    assert model.k == 20
    with pytest.raises(ValueError, match="position_decay"):
        SessionKNN(position_decay="cubic").fit(TRAIN)
    with pytest.raises(comptoir.NotFittedError):
        SessionKNN().recommend_session([1])
