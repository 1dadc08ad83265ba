import pickle
import threading

import numpy as np
import pytest

import comptoir
from comptoir.embed import Item2Vec, VectorIndex, as_session_csr

GROUPS, PER_GROUP = 4, 10


def grouped_sessions(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, GROUPS, n)
    lengths = rng.integers(3, 8, n)
    items = np.concatenate([g * PER_GROUP + rng.integers(0, PER_GROUP, l) for g, l in zip(groups, lengths)])
    offsets = np.r_[0, np.cumsum(lengths)]
    return offsets, items


@pytest.fixture(scope="module")
def model():
    return Item2Vec(dim=16, epochs=4, subsample=0, random_state=1).fit(grouped_sessions())


def test_similar_items_share_a_group(model):
    ids, scores = model.similar_items(3, N=5)
    assert len(ids) == 5 and 3 not in ids
    assert np.all(ids // PER_GROUP == 0)
    assert np.all(np.diff(scores) <= 0)


def test_item_vectors_are_a_read_only_view(model):
    vectors = model.item_vectors
    assert vectors.shape == (GROUPS * PER_GROUP, 16) and vectors.dtype == np.float32
    assert not vectors.flags.writeable
    assert np.shares_memory(vectors, model.item_vectors)


def test_same_seed_same_vectors_any_thread_count():
    sessions = grouped_sessions(600)
    a = Item2Vec(dim=8, epochs=2, random_state=5, n_jobs=1).fit(sessions).item_vectors
    b = Item2Vec(dim=8, epochs=2, random_state=5, n_jobs=2).fit(sessions).item_vectors
    c = Item2Vec(dim=8, epochs=2, random_state=6, n_jobs=2).fit(sessions).item_vectors
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_recommend_session_follows_the_session_and_the_profile(model):
    ids, _ = model.recommend_session([25, 26], N=5)
    assert np.all(ids // PER_GROUP == 2) and 25 not in ids and 26 not in ids
    blended, _ = model.recommend_session([25], N=5, user_history=[0, 1, 2, 3, 4, 5], profile_weight=0.9)
    assert np.mean(blended // PER_GROUP == 0) >= 0.6
    filtered, _ = model.recommend_session([25], N=5, filter_items=ids)
    assert not set(filtered) & set(ids)


def test_session_inputs_are_normalised():
    offsets, items = as_session_csr([[1, 2, 3], [4, 5]])
    assert offsets.tolist() == [0, 3, 5] and items.tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="offsets"):
        as_session_csr((np.array([0, 2]), np.array([1, 2, 3])))


def test_pickle_save_load_and_errors(model, tmp_path):
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.item_vectors, model.item_vectors)
    path = tmp_path / "i2v.cmf"
    model.save(path)
    assert comptoir.inspect_model_file(path)["model_kind"] == "item2vec"
    assert np.array_equal(Item2Vec.load(path).item_vectors, model.item_vectors)
    with pytest.raises(comptoir.NotFittedError):
        Item2Vec().similar_items(0)
    with pytest.raises(KeyError):
        model.similar_items(10_000)
    with pytest.raises(ValueError, match="dim"):
        Item2Vec(dim=0).fit(grouped_sessions(10))
    with pytest.raises(comptoir.NotFoundError, match="99999"):
        model.encode_session([99_999])


def test_exact_and_ivf_indexes_agree():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(30, 12))
    vectors = (centres[rng.integers(0, 30, 5000)] + 0.3 * rng.normal(size=(5000, 12))).astype(np.float32)
    exact = VectorIndex(vectors)
    approximate = VectorIndex(vectors, approximate=True, num_lists=32, num_probes=8)
    queries = vectors[:100]
    ids_exact, scores_exact = exact.search(queries, k=10)
    ids_approx, _ = approximate.search(queries, k=10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids_exact, ids_approx)])
    assert recall >= 0.9
    normalised = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    brute = np.argsort(-(normalised[:5] @ normalised.T), axis=1, kind="stable")[:, :10]
    assert np.array_equal(ids_exact[:5], brute)
    allowed = np.zeros(len(vectors), dtype=np.uint8)
    allowed[:50] = 1
    ids, scores = exact.search(queries[:1], k=60, allowed=allowed)
    assert set(ids[0][ids[0] >= 0]) <= set(range(50)) and np.sum(ids[0] == -1) == 10
    assert np.isneginf(scores[0][-1])
    again = pickle.loads(pickle.dumps(approximate))
    assert np.array_equal(again.search(queries, k=10)[0], ids_approx)


def test_concurrent_searches_match_serial(model):
    expected = [model.recommend_session([i, i + 1], N=5)[0] for i in range(0, 30, 3)]
    results = {}

    def worker(t):
        results[t] = [model.recommend_session([i, i + 1], N=5)[0] for i in range(0, 30, 3)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results.values():
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_items_never_seen_in_training_are_never_returned():
    offsets, items = grouped_sessions(300)
    model = Item2Vec(dim=8, epochs=2, subsample=0).fit((offsets, items), num_items=GROUPS * PER_GROUP + 5)
    assert model._fitted().seen[-5:].tolist() == [0] * 5
    ids, _ = model.recommend_session([1, 2], N=GROUPS * PER_GROUP + 5)
    assert len(ids) == GROUPS * PER_GROUP - 2 and ids.max() < GROUPS * PER_GROUP
    neighbours, _ = model.similar_items(0, N=100)
    assert neighbours.max() < GROUPS * PER_GROUP


def test_item2vec_file_keeps_parameters_and_shop_ids(tmp_path):
    import pandas as pd

    offsets, items = grouped_sessions()
    frame = pd.DataFrame({"session_id": np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)),
                          "item_id": [f"P{i:03d}" for i in items]})
    model = Item2Vec(dim=16, epochs=4, subsample=0, window=3, random_state=1).fit(frame)
    assert list(model.item_ids_[:2]) == ["P000", "P001"]
    path = tmp_path / "i2v.cmf"
    model.save(path)
    for loaded in (Item2Vec.load(path), comptoir.load_model(path), pickle.loads(pickle.dumps(model))):
        assert loaded.get_params() == model.get_params()
        assert np.array_equal(loaded.item_vectors, model.item_vectors)
        ids, scores = loaded.similar_items("P003", N=4)
        assert list(ids) == list(model.similar_items("P003", N=4)[0]) and all(i.startswith("P00") for i in ids)
        recommended, _ = loaded.recommend_session(["P021", "P022", "unknown"], N=3)
        assert all(r.startswith("P02") for r in recommended)
    with pytest.raises(KeyError):
        model.similar_items("P999")


def test_vector_index_is_an_estimator_with_a_file(tmp_path):
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(400, 6)).astype(np.float32)
    for index in (VectorIndex(vectors, metric="inner_product"),
                  VectorIndex(approximate=True, num_lists=8, num_probes=3, random_state=2).fit(vectors)):
        expected = index.search(vectors[:20], k=5)
        path = tmp_path / "index.cmf"
        index.save(path)
        assert comptoir.inspect_model_file(path)["model_kind"] == "vector_index"
        for loaded in (VectorIndex.load(path), comptoir.load_model(path), pickle.loads(pickle.dumps(index))):
            assert loaded.get_params() == index.get_params()
            got = loaded.search(vectors[:20], k=5)
            assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
            assert loaded._fitted().approximate == index.approximate
        with pytest.raises(comptoir.ModelFormatError, match="model file holds"):
            Item2Vec.load(path)
