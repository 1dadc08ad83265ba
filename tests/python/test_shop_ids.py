"""The shop's ids in, the shop's ids out: string SKUs, 64-bit integers, pandas columns with NaN
gaps, categoricals, DataFrames and event logs, for every recommender and the customer tables.
Each test is one trap an analyst fell into with raw exports (issue 14)."""

import pickle

import numpy as np
import pytest

import comptoir
from comptoir.data import EventLog
from comptoir.embed import Item2Vec
from comptoir.features import behaviour_features, purchase_labels, repurchase_timing
from comptoir.recommend import (
    EmbeddingRecommender,
    FrequentlyBoughtTogether,
    Hybrid,
    Popularity,
    SequentialRules,
    SessionKNN,
    evaluate_next_item,
)

pd = pytest.importorskip("pandas")

BIG = 2**32
BASKETS = [["85123A", "71053"], ["85123A", "84406B"], ["85123A", "71053", "22752"], ["71053", "22752"]] * 3


def sku_sessions(n=600, seed=0):
    """Sessions along three chains of SKU strings, numeric-looking ones among them."""
    rng = np.random.default_rng(seed)
    names = [[f"{g}{i:04d}" for i in range(10)] for g in ("85", "SKU-", "7")]
    sessions = []
    for _ in range(n):
        chain = names[rng.integers(0, 3)]
        start = rng.integers(0, 7)
        sessions.append(chain[start:start + rng.integers(2, 4)])
    return sessions


def test_string_skus_fit_and_answer_in_skus():
    model = FrequentlyBoughtTogether(min_support=1).fit(BASKETS)
    assert sorted(model.item_ids_) == ["22752", "71053", "84406B", "85123A"]
    ids, scores = model.bought_with("85123A")
    assert set(ids) == {"71053", "84406B", "22752"} and all(isinstance(i, str) for i in ids)
    got, _, unknown = model.recommend_session(["85123A", "NOPE"], N=3, return_unknown=True)
    assert "71053" in list(got) and unknown == ["NOPE"]


def test_numeric_looking_skus_and_plain_integers_are_ids_not_dense_positions():
    strings = SequentialRules().fit([["90210", "71053"]] * 3)
    assert strings.model_.num_items == 2 and list(strings.item_ids_) == ["71053", "90210"]
    integers = SequentialRules().fit([[90210, 71053]] * 3)
    assert integers.model_.num_items == 2 and integers.item_ids_.dtype == np.int64
    assert integers.recommend_session([90210], N=1)[0].tolist() == [71053]


def test_64_bit_ids_never_wrap_to_other_ids():
    sessions = [[BIG + 3, BIG + 4], [3, 5]] * 5
    model = SessionKNN().fit(sessions, users=[BIG + 7, 7] * 5)
    ids = model.recommend_session([BIG + 3], N=1, filter_session_items=True)[0]
    assert ids.tolist() == [BIG + 4]  # not item 3's neighbour 5
    assert model.forget(7) == 5 and model.forget(7) == 0
    assert model.forget(BIG + 7) == 5
    with pytest.raises(comptoir.InvalidArgumentError, match="64-bit"):
        SessionKNN().fit([[2**64, 1]])


def test_nan_and_empty_user_ids_are_guests_and_float_ids_are_integers():
    users = pd.Series([17850.0, np.nan, 12583.0, None, 17850.0, np.nan])
    sessions = [["A", "B"], ["A", "C"], ["B", "C"], ["A", "B"], ["C", "A"], ["B", "A"]]
    model = SessionKNN().fit(sessions, users=users)
    assert model.user_ids_.dtype == np.int64 and model.user_ids_.tolist() == [12583, 17850]
    assert model.forget(17850.0) == 2 and model.forget("nan") == 0 and model.forget(np.nan) == 0
    text_users = SessionKNN().fit(sessions, users=["u1", "", None, "u2", "u1", np.nan])
    assert text_users.user_ids_.tolist() == ["u1", "u2"]


def test_event_log_from_pandas_with_nan_customers_and_string_skus():
    frame = pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "536366", "536367", "536367"],
        "StockCode": ["85123A", "71053", "85123A", "71053", "22752"],
        "CustomerID": [17850.0, 17850.0, np.nan, 13047.0, 13047.0],
        "InvoiceDate": pd.to_datetime(["2010-12-01 08:26", "2010-12-01 08:26", "2010-12-01 08:28",
                                       "2010-12-01 08:34", "2010-12-01 08:34"]),
    })
    log = EventLog.from_pandas(frame, session="InvoiceNo", item="StockCode", timestamp="InvoiceDate", user="CustomerID")
    assert log.user_ids.dtype == np.int64 and sorted(log.user_ids.tolist()) == [13047, 17850]
    assert (np.asarray(log.user) == -1).sum() == 1  # the guest line, not a customer 'nan'
    knn = SessionKNN().fit(log)
    assert sorted(knn.user_ids_.tolist()) == [13047, 17850]
    assert knn.forget(17850) == 1
    # The same frame with an integer customer column and integer SKUs keeps integers.
    ints = EventLog.from_arrays(session=frame["InvoiceNo"], item=np.array([5, 6, 5, 6, 7]) + BIG,
                                timestamp=frame["InvoiceDate"].to_numpy(), user=frame["CustomerID"])
    assert ints.item_ids.dtype == np.int64 and int(ints.item_ids.max()) == BIG + 7


def test_unrepresentable_ids_are_named_errors():
    with pytest.raises(comptoir.InvalidArgumentError, match="1.7"):
        SessionKNN().fit([[1.0, 1.7]])
    with pytest.raises(comptoir.InvalidArgumentError, match="mix strings"):
        SessionKNN().fit([["85123A", 71053]])
    with pytest.raises(comptoir.InvalidArgumentError, match="mix strings"):
        EventLog.from_arrays(session=[1, 1], item=["85123A", 71053], timestamp=[0, 1])
    with pytest.raises(comptoir.InvalidArgumentError, match="1.7"):
        EventLog.from_arrays(session=[1, 1], item=[5, 6], timestamp=[0, 1], user=[1.7, 2.0])
    with pytest.raises(comptoir.InvalidArgumentError, match="boolean"):
        SessionKNN().fit([[True, False]])
    with pytest.raises(comptoir.InvalidArgumentError, match="missing"):
        FrequentlyBoughtTogether().fit([["A", None]])
    model = SequentialRules().fit([[1, 2]] * 3)
    with pytest.raises(comptoir.InvalidArgumentError, match="2.5"):
        model.recommend_session([2.5])
    with pytest.raises(comptoir.InvalidArgumentError, match="mix strings"):
        model.recommend_session(["a", 1])
    with pytest.raises(ValueError, match="whole numbers"):
        Popularity().fit([1, 2], kinds=[1.7, 0.0])
    assert model.recommend_session([1.0], N=1)[0].tolist() == [2]  # 1.0 is item 1
    assert model.recommend_session(["abc"], N=1, return_unknown=True)[2] == ["abc"]  # a string is unknown here


def test_unknown_items_are_reported_and_not_found_where_one_item_is_asked():
    model = FrequentlyBoughtTogether(min_support=1).fit(BASKETS)
    with pytest.raises(comptoir.NotFoundError, match="NOPE"):
        model.bought_with("NOPE")
    with pytest.raises(KeyError):
        model.bought_with(85123)  # an integer is not the string SKU '85123A'
    embeddings = Item2Vec(dim=8, epochs=2, subsample=0, random_state=0).fit(sku_sessions(200))
    assert all(isinstance(i, str) for i in embeddings.similar_items("SKU-0003", N=3)[0])
    with pytest.raises(comptoir.NotFoundError, match="SKU-9999"):
        embeddings.similar_items("SKU-9999")
    with pytest.raises(comptoir.NotFoundError, match="SKU-9999"):
        embeddings.encode_session(["SKU-0001", "SKU-9999"])


def test_allowed_and_filtered_items_take_shop_ids_and_never_wrap():
    model = SessionKNN().fit(sku_sessions())
    session = ["SKU-0001", "SKU-0002"]
    everything = model.recommend_session(session, N=5)[0].tolist()
    assert everything and all(i.startswith("SKU-") for i in everything)
    stock = pd.Series(256, index=model.item_ids_)  # stock counts keyed by SKU: 256 is in stock
    stock[everything[0]] = 0
    got = model.recommend_session(session, N=5, allowed_items=stock)[0].tolist()
    assert got and everything[0] not in got
    assert model.recommend_session(session, N=5, allowed_items={everything[1]: 3})[0].tolist() == [everything[1]]
    assert model.recommend_session(session, N=5, allowed_items=[everything[2]])[0].tolist() == [everything[2]]
    mask = np.asarray(model.item_ids_) != everything[0]
    assert everything[0] not in model.recommend_session(session, N=5, allowed_items=mask)[0].tolist()
    counts = np.full(len(model.item_ids_), 256)
    with pytest.raises(comptoir.InvalidArgumentError, match="not 0/1"):
        model.recommend_session(session, N=5, allowed_items=counts)  # once, this filtered every item out
    filtered = model.recommend_session(session, N=5, filter_items=[everything[0], "NOT-A-SKU"])[0].tolist()
    assert everything[0] not in filtered and len(filtered) == 5
    batch = model.recommend_sessions([session], N=5, filter_items=[everything[0]], allowed_items=stock)[0]
    assert everything[0] not in batch[0].tolist()


def test_every_recommender_takes_frames_categoricals_and_logs(tmp_path):
    sessions = sku_sessions()
    frame = pd.DataFrame({"session_id": np.repeat(np.arange(len(sessions)), [len(s) for s in sessions]),
                          "item_id": pd.Categorical([i for s in sessions for i in s])})
    users = [f"C{u % 20}" if u % 3 else None for u in range(len(sessions))]
    knn = SessionKNN().fit(frame, users=users)
    rules = SequentialRules().fit(frame)
    models = {
        "knn": knn, "rules": rules,
        "together": FrequentlyBoughtTogether().fit(frame),
        "popularity": Popularity().fit(frame["item_id"]),
        "embedding": EmbeddingRecommender(Item2Vec(dim=8, epochs=3, subsample=0, random_state=0)).fit(frame, users=users),
        "hybrid": Hybrid([knn, rules], [1.0, 0.5]),
    }
    for name, model in models.items():
        assert sorted(model.item_ids_) == sorted(set(frame["item_id"].astype(str))), name
        ids, _ = model.recommend_session(["SKU-0001", "SKU-0002"], N=3, user="C1")
        assert len(ids) and all(isinstance(i, str) for i in ids), name
        path = tmp_path / f"{name}.cmf"
        model.save(path)
        for loaded in (type(model).load(path), comptoir.load_model(path), pickle.loads(pickle.dumps(model))):
            assert list(loaded.item_ids_) == list(model.item_ids_), name
            assert loaded.recommend_session(["SKU-0001", "SKU-0002"], N=3, user="C1")[0].tolist() == ids.tolist(), name
    assert evaluate_next_item(knn, frame, k=5)["hit_rate"] > 0.3
    loaded = SessionKNN.load(tmp_path / "knn.cmf")
    assert loaded.user_ids_.tolist() == knn.user_ids_.tolist() and "C1" in loaded.user_ids_.tolist()
    assert loaded.forget("C1") > 0
    assert EmbeddingRecommender.load(tmp_path / "embedding.cmf").forget("C1") is True


def test_integer_ids_beyond_32_bits_survive_save_and_load(tmp_path):
    sessions = [[BIG + i for i in s] for s in ([1, 2, 3], [2, 3, 4], [1, 3, 4])] * 10
    users = np.arange(30, dtype=np.int64) + 2**40
    for model in (SessionKNN().fit(sessions, users=users), SequentialRules().fit(sessions),
                  EmbeddingRecommender(Item2Vec(dim=4, epochs=2, subsample=0)).fit(sessions, users=users)):
        path = tmp_path / "big.cmf"
        model.save(path)
        loaded = type(model).load(path)
        assert loaded.item_ids_.dtype == np.int64 and loaded.item_ids_.tolist() == [BIG + i for i in (1, 2, 3, 4)]
        ids = loaded.recommend_session([BIG + 1], N=2, filter_session_items=True)[0]
        assert ids.dtype == np.int64 and set(ids.tolist()) <= {BIG + 2, BIG + 3, BIG + 4}
        if not isinstance(model, SequentialRules):
            assert loaded.user_ids_.tolist() == users.tolist()
            assert loaded.forget(2**40 + 3)
            assert not loaded.forget(3)


def test_add_session_and_forget_in_shop_ids():
    model = SessionKNN(sample_size=50).fit(sku_sessions(), users=["C1"] * 600)
    assert "850001" not in model.recommend_session(["SKU-0008"], N=3)[0].tolist()  # another chain
    for t in range(20):
        model.add_session(["SKU-0008", "850001"], timestamp=10_000_000 + t, user="NEW-CUSTOMER")
    assert "NEW-CUSTOMER" in model.user_ids_.tolist()
    assert "850001" in model.recommend_session(["SKU-0008"], N=3, filter_session_items=True)[0].tolist()
    with pytest.raises(comptoir.InvalidArgumentError, match="NOT-A-SKU"):
        model.add_session(["NOT-A-SKU"], timestamp=10_000_100)
    again = SessionKNN.from_bytes(model.to_bytes())
    assert again.forget("NEW-CUSTOMER") == 20 and again.forget("C1") == 600
    model.add_session(["SKU-0001"], timestamp=10_000_200, user=np.nan)  # a guest's session
    assert model.forget("nan") == 0


def test_dense_ids_stay_available_as_an_explicit_option():
    # num_items=N declares dense ids 0..N-1: items outside are named, not mapped.
    model = SequentialRules().fit([[0, 1], [1, 2]] * 3, num_items=10)
    assert model.item_ids_.tolist() == list(range(10))
    with pytest.raises(comptoir.InvalidArgumentError, match="item 12"):
        SequentialRules().fit([[0, 12]], num_items=10)
    # item_ids= names the shop's id of each dense position.
    named = SequentialRules().fit([[0, 1], [1, 2]] * 3, item_ids=["a", "b", "c"])
    assert named.recommend_session(["a"], N=1)[0].tolist() == ["b"]


def test_embedding_recommender_reads_sessions_in_its_embeddings_ids():
    embeddings = Item2Vec(dim=8, epochs=3, subsample=0, random_state=0).fit(sku_sessions(300))
    fewer = [s for s in sku_sessions(100, seed=3) if s[0].startswith("SKU-")] + [["SKU-0001", "BRAND-NEW"]]
    model = EmbeddingRecommender(embeddings).fit(fewer, users=["C1"] * len(fewer))
    assert list(model.item_ids_) == list(embeddings.item_ids_)
    assert len(model.recommend_session([], N=3, user="C1")[0]) == 3  # the profile answers


def test_behaviour_features_are_indexed_by_customer_and_labels_align():
    day = 86_400
    t0 = 1_700_000_000
    frame = pd.DataFrame({
        "session": ["i1", "i1", "i2", "i3", "i4", "i5", "i6"],
        "user": [17850.0, 17850.0, 13047.0, np.nan, 17850.0, 99999.0, 13047.0],
        "item": ["85123A", "71053", "85123A", "22752", "71053", "85123A", "22752"],
        "timestamp": [t0 - 40 * day, t0 - 40 * day, t0 - 3 * day, t0 - day, t0 + day, t0 + 2 * day, t0 + 3 * day],
        "kind": ["purchase"] * 7,
        "value": [10.0, 5.0, 7.0, 3.0, 9.0, 4.0, 2.0],
    })
    X = behaviour_features(frame, t0, window_days=(7, 30))
    # 99999 is first seen after the snapshot: excluded, not an all-NaN row; the guest has no row.
    assert X.index.name == "customer" and X.index.tolist() == [13047, 17850]
    assert X.loc[17850, "orders_total"] == 1 and X.loc[13047, "revenue_total"] == 7
    bought, spend = purchase_labels(frame, t0, horizon_days=7)
    assert bought.index.equals(X.index) and spend.index.equals(X.index)
    assert bought.tolist() == [1, 1] and spend.loc[17850] == 9
    chosen, _ = purchase_labels(frame, t0, horizon_days=7, customers=[99999, 13047, 424242])
    assert chosen.tolist() == [1, 1, 0]
    attributes = pd.DataFrame({"age": [31, 45]}, index=[17850, 13047])
    with_attributes = behaviour_features(frame, t0, window_days=(7,), customer_attributes=attributes)
    assert with_attributes.loc[13047, "age"] == 45
    log = EventLog.from_pandas(frame, session="session", item="item", timestamp="timestamp", kind="kind", user="user",
                               value="value")
    from_log = behaviour_features(log, t0, window_days=(7, 30))
    assert sorted(from_log.index.tolist()) == [13047, 17850]  # in the log's own id order
    np.testing.assert_array_equal(from_log.loc[X.index].to_numpy(), X.to_numpy())
    assert purchase_labels(log, t0, horizon_days=7)[0].index.equals(from_log.index)
    cycle = pd.DataFrame({"session": ["a", "b", "c", "d"], "user": [17850.0, 17850.0, 17850.0, np.nan],
                          "item": ["85123A"] * 4, "timestamp": [t0 - 30 * day, t0 - 20 * day, t0 - 10 * day, t0 - 5 * day],
                          "kind": ["purchase"] * 4})
    timing = repurchase_timing(cycle, t0, min_key_gaps=2)
    assert timing["user"].tolist() == [17850] and timing["key"].tolist() == ["85123A"]


def test_dense_customer_tables_stay_an_explicit_option():
    day = 86_400
    events = {"session": np.array([0, 1]), "user": np.array([0, 2]), "item": np.array([1, 2]),
              "timestamp": np.array([0, 10 * day]), "kind": np.array([2, 2]), "value": np.array([1.0, 2.0])}
    X = behaviour_features(events, 5 * day, num_users=3)
    assert X.index.tolist() == [0, 1, 2]  # one row per dense user, as asked
    y, _ = purchase_labels(events, 5 * day, horizon_days=30, num_users=3)
    assert y.tolist() == [0, 0, 1] and y.index.equals(X.index)


def test_guests_in_dense_customer_tables_are_guests_and_categories_key_by_sku():
    day = 86_400
    events = {"session": np.array([0, 1, 2]), "user": np.array([0.0, np.nan, 1.0]), "item": ["A", "B", "A"],
              "timestamp": np.array([0, day, 2 * day]), "kind": np.array([2, 2, 2]), "value": np.array([1.0, 2.0, 4.0])}
    X = behaviour_features(events, 5 * day, num_users=2, item_category={"A": 0, "B": 1})
    assert X.loc[0, "orders_total"] == 1  # the guest's order is nobody's, not customer 0's
    shop = behaviour_features(events, 5 * day, item_category=pd.Series({"A": 0, "B": 1}))
    assert shop.index.tolist() == [0, 1]
    with pytest.raises(ValueError, match="mapping or Series"):
        behaviour_features(events, 5 * day, item_category=np.array([0, 1]))


def test_a_list_of_flags_is_a_mask():
    model = SequentialRules().fit([["a", "b"], ["a", "c"]] * 3)
    assert model.recommend_session(["a"], N=2, allowed_items=[False, False, True])[0].tolist() == ["c"]
