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
    NeuralSessionRecommender,
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


def _small_neural(**params):
    settings = dict(dim=16, max_session_length=5, num_negatives=20, batch_size=64, learning_rate=0.01, epochs=4,
                    random_state=0, n_jobs=2)
    return NeuralSessionRecommender(**{**settings, **params})


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
    "neural": (lambda: _small_neural().fit(TRAIN, users=USERS, num_items=NUM_ITEMS), True),
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
    if isinstance(model, (SessionKNN, Popularity, Hybrid, NeuralSessionRecommender)):
        # These fall back to popularity and say so.
        assert len(ids) == 4 and "popular" in reasons[-1]
    ids, _ = model.recommend_session([], N=4)
    assert len(ids) <= 4
    with pytest.raises(comptoir.InvalidArgumentError, match="N must be"):
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
    assert ids[0] == 3 and "seen with 105 in 40 recent sessions" in reasons[0]
    assert list(model.user_ids_) == [7]
    assert model.forget(7) == 40
    ids, _, reasons = model.recommend_session([105], N=3, filter_session_items=True, return_reasons=True)
    assert all(r == "popular right now" for r in reasons)


def test_embedding_forget_erases_a_profile():
    model = EmbeddingRecommender(Item2Vec(dim=8, epochs=2, subsample=0, random_state=0)).fit(
        TRAIN[:500], users=USERS[:500], num_items=NUM_ITEMS)
    assert len(model.recommend_session([], N=5, user=7)[0]) == 5  # the profile alone answers
    assert model.forget(7) is True and model.forget(7) is False
    assert 7 not in model.model_.profile_users
    assert len(model.recommend_session([], N=5, user=7)[0]) == 0
    assert 7 not in type(model).from_bytes(model.to_bytes()).model_.profile_users


def test_parameters_follow_scikit_learn():
    model = SessionKNN(k=50, position_decay="exponential")
    assert model.get_params()["k"] == 50
    model.set_params(k=20)
    assert model.k == 20
    with pytest.raises(ValueError, match="position_decay"):
        SessionKNN(position_decay="cubic").fit(TRAIN)
    with pytest.raises(comptoir.NotFittedError):
        SessionKNN().recommend_session([1])


# ---- complete model files: parameters, fitted parts and the shop's ids ----------------------

def same_params(a, b):
    """Parameters equal, nested estimators compared by class and parameters."""
    from comptoir._base import Estimator

    if isinstance(a, Estimator):
        return type(a) is type(b) and same_params(a.get_params(), b.get_params())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_params(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_params(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b and type(a) is type(b)


def test_load_restores_parameters_and_fitted_parts(model, tmp_path):
    path = tmp_path / "model.cmf"
    model.save(path)
    for loaded in (type(model).load(path), comptoir.load_model(path), pickle.loads(pickle.dumps(model))):
        assert type(loaded) is type(model)
        assert same_params(loaded.get_params(), model.get_params())
        for session in TEST[:20]:
            a, b = model.recommend_session(session, N=10, user=3), loaded.recommend_session(session, N=10, user=3)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        if isinstance(model, Hybrid):
            assert all(c.model_ is not None for c in loaded.components)
            assert [type(c) for c in loaded.components] == [type(c) for c in model.components]
        if isinstance(model, EmbeddingRecommender):
            assert loaded.embeddings is not None and np.array_equal(loaded.embeddings.item_vectors, model.embeddings.item_vectors)
            assert np.array_equal(loaded.embeddings_.item_vectors, model.embeddings_.item_vectors)


def test_every_hyperparameter_reaches_the_cpp_config(tmp_path):
    knn = SessionKNN(k=33, position_decay="exponential", lambda_spw=1.5, max_sessions=5000).fit(TRAIN, num_items=NUM_ITEMS)
    popular = Popularity(half_life_days=2.0, kind_weights=(1.0, 2.0, 7.0, 0.0, 0.5)).fit(CLICKS, num_items=NUM_ITEMS)
    together = FrequentlyBoughtTogether(measure="lift", min_support=3, max_basket_size=9).fit(TRAIN, num_items=NUM_ITEMS)
    rules = SequentialRules(max_steps=4, session_items=2).fit(TRAIN, num_items=NUM_ITEMS)
    embedding = EmbeddingRecommender(Item2Vec(dim=8, epochs=1), recency_decay=0.5, max_events=7,
                                     kind_weights=(1.0, 1.0, 3.0, 0.0, 0.0)).fit(TRAIN, num_items=NUM_ITEMS)
    neural = _small_neural(dim=8, max_session_length=3, scale=9.0, num_negatives=7, negative_exponent=0.5,
                           batch_size=32, learning_rate=0.02, epochs=2, patience=1, dropout=0.15, refit=False,
                           profile_weight=0.3,
                           ivf_min_items=50).fit(TRAIN, num_items=NUM_ITEMS)
    assert neural.model_.config.ivf_min_items == 50
    for fitted in (knn, popular, together, rules, embedding, neural):
        loaded = type(fitted).from_bytes(fitted.to_bytes())
        config = loaded.config_
        for name in fitted._config_names:
            value, stored = getattr(fitted, name), getattr(config, name)
            if name in fitted._config_enums:
                assert stored == fitted._config_enums[name][value]
            elif isinstance(value, tuple):
                assert np.allclose(stored, value)
            else:
                assert stored == pytest.approx(value)
    with pytest.raises(ValueError, match="measure"):
        FrequentlyBoughtTogether(measure="jaccard").fit(TRAIN)


def _sku(i):
    return f"SKU-{int(i):04d}"


BIG = 2**32


def _frame(ids):
    import pandas as pd

    session = np.repeat(np.arange(len(TRAIN)), [len(s) for s in TRAIN])
    return pd.DataFrame({"session_id": session, "item_id": ids(np.concatenate(TRAIN))})


def _shop_models(ids):
    frame = _frame(ids)
    users = [f"user-{u}" for u in USERS]
    knn = SessionKNN().fit(frame, users=users)
    rules = SequentialRules().fit(frame)
    return {
        "session_knn": knn,
        "sequential_rules": rules,
        "bought_together": FrequentlyBoughtTogether().fit(frame),
        "embedding": EmbeddingRecommender(Item2Vec(dim=16, epochs=5, subsample=0, random_state=0)).fit(frame, users=users),
        "hybrid": Hybrid([knn, rules], [1.0, 0.5]),
        "popularity": Popularity().fit(np.concatenate(TRAIN), item_ids=ids(np.arange(NUM_ITEMS))),
    }


@pytest.mark.parametrize("kind", ["strings", "int64"])
def test_shop_ids_round_trip_through_the_file(kind, tmp_path):
    ids = np.vectorize(_sku, otypes=[object]) if kind == "strings" else (lambda a: np.asarray(a, dtype=np.int64) + BIG)
    session = ids(np.array([40, 41, 42]))
    for name, fitted in _shop_models(ids).items():
        assert len(fitted.item_ids_) == NUM_ITEMS, name
        got, scores, reasons, unknown = fitted.recommend_session(
            list(session) + (["NOPE"] if kind == "strings" else [3]), N=5, return_reasons=True, return_unknown=True)
        assert len(got) == 5 and unknown == (["NOPE"] if kind == "strings" else [3]), name
        if kind == "strings":
            assert all(isinstance(g, str) and g.startswith("SKU-") for g in got), name
        else:
            assert got.dtype == np.int64 and np.all(got >= BIG), name
        if name != "popularity":
            dense = np.asarray([int(g[4:]) if kind == "strings" else int(g) - BIG for g in got])
            assert dense[0] // 20 == 2, name
        if name in ("session_knn", "sequential_rules", "bought_together"):
            anchor = _sku(40) if kind == "strings" else str(BIG + 40)
            assert anchor[:-1] in reasons[0], (name, reasons[0])
        path = tmp_path / f"{name}.cmf"
        fitted.save(path)
        for loaded in (type(fitted).load(path), pickle.loads(pickle.dumps(fitted))):
            assert np.array_equal(np.asarray(loaded.item_ids_), np.asarray(fitted.item_ids_)), name
            again = loaded.recommend_session(list(session), N=5)
            first = fitted.recommend_session(list(session), N=5)
            assert np.array_equal(again[0], first[0]) and np.array_equal(again[1], first[1]), name
            batch_ids, batch_scores = loaded.recommend_sessions([list(session)], N=5)
            assert np.array_equal(batch_ids[0][: len(first[0])], first[0]), name


def test_event_log_fits_keep_item_and_user_ids():
    from comptoir.data import EventLog

    session = np.repeat(np.arange(len(TRAIN)), [len(s) for s in TRAIN])
    items = np.concatenate(TRAIN)
    log = EventLog.from_arrays(session=session, item=np.vectorize(_sku, otypes=[object])(items),
                               timestamp=1_000_000 + np.arange(len(items)), user=[f"customer-{u}" for u in np.repeat(USERS, [len(s) for s in TRAIN])])
    knn = SessionKNN().fit(log)
    assert set(knn.user_ids_) == {f"customer-{u}" for u in USERS}
    ids, _ = knn.recommend_session([_sku(40), _sku(41)], N=3, user="customer-7")
    assert int(ids[0][4:]) // 20 == 2
    removed = knn.forget("customer-7")
    assert removed == np.sum(USERS == 7)
    loaded = SessionKNN.from_bytes(knn.to_bytes())
    assert np.array_equal(loaded.recommend_session([_sku(40)], N=3)[0], knn.recommend_session([_sku(40)], N=3)[0])
    popular = Popularity().fit(log)
    assert popular.recommend_session([], N=1)[0][0].startswith("SKU-")
    # A pseudonymised file still finds its users with the key, and holds no raw user id.
    key = "a secret of sixteen+ bytes"
    data = knn.to_bytes(user_id_key=key)
    assert b"customer-" not in data
    private = SessionKNN.from_bytes(data, user_id_key=key)
    assert private.forget("customer-8") == np.sum(USERS == 8)
    # Loaded without the key and saved again (or pickled), the hashes are kept, never dropped.
    keyless = SessionKNN.from_bytes(data)
    again = SessionKNN.from_bytes(pickle.loads(pickle.dumps(keyless)).to_bytes(), user_id_key=key)
    assert b"customer-" not in keyless.to_bytes()
    assert again.forget("customer-9") == np.sum(USERS == 9)


def test_ids_beyond_32_bits_are_shop_ids_never_wrapped():
    model = SequentialRules().fit([[BIG + 1, BIG + 2]] * 3)
    assert list(model.item_ids_) == [BIG + 1, BIG + 2]
    assert model.recommend_session([BIG + 1], N=1)[0].tolist() == [BIG + 2]
    dense = SequentialRules().fit(TRAIN, num_items=NUM_ITEMS)
    ids, _, unknown = dense.recommend_session([BIG + 3], N=3, return_unknown=True)
    assert unknown == [BIG + 3] and len(ids) == 0  # never answered as item 3


def test_popularity_bias_is_none_unless_computed():
    from comptoir.recommend import evaluate_next_item

    sessions = [["a", "b", "c"], ["a", "c"], ["b", "c", "a"]] * 4
    knn = SessionKNN().fit(sessions)
    assert evaluate_next_item(knn, sessions[:3], k=5)["popularity_bias"] is None
    popularity = np.bincount(knn._dense_csr(sessions)[1], minlength=len(knn.item_ids_))
    assert 0 < evaluate_next_item(knn, sessions[:3], k=5, item_popularity=popularity)["popularity_bias"] <= 1
