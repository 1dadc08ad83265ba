"""Structured reasons: each recommendation says which kind of evidence chose it, the session item
behind it (a shop id), how many sessions or orders support it and its category, in words that
name the events the model was trained on (issue 14)."""

import pickle

import numpy as np
import pytest

import comptoir
from comptoir.data import EventLog
from comptoir.embed import Item2Vec
from comptoir.recommend import EmbeddingRecommender, FrequentlyBoughtTogether, Hybrid, Popularity, SequentialRules, SessionKNN

pd = pytest.importorskip("pandas")

SESSIONS = [["85123A", "71053", "84406B"], ["85123A", "71053"], ["22752", "84406B"], ["85123A", "84406B"]] * 10


def log_of(kind):
    lengths = [len(s) for s in SESSIONS]
    items = [i for s in SESSIONS for i in s]
    return EventLog.from_arrays(session=np.repeat(np.arange(len(SESSIONS)), lengths), item=items,
                                timestamp=1_000_000 + np.arange(len(items)) * 60, kind=[kind] * len(items))


@pytest.mark.parametrize("make", [lambda log: SessionKNN().fit(log), lambda log: FrequentlyBoughtTogether().fit(log),
                                  lambda log: SequentialRules().fit(log)], ids=["knn", "together", "rules"])
def test_wording_follows_the_events_trained_on(make):
    bought = make(log_of("purchase")).recommend_session(["85123A"], N=2, return_reasons=True)[2]
    viewed = make(log_of("view")).recommend_session(["85123A"], N=2, return_reasons=True)[2]
    assert bought and all("bought together with 85123A" in r and "viewed" not in r for r in bought), bought
    assert viewed and all("viewed together with 85123A" in r and "bought" not in r for r in viewed), viewed


def test_frequently_bought_together_says_so_unless_told_otherwise():
    plain = FrequentlyBoughtTogether().fit(SESSIONS)
    assert "often bought together with 85123A" in plain.recommend_session(["85123A"], N=1, return_reasons=True)[2][0]
    views = FrequentlyBoughtTogether().fit(SESSIONS, event_kind="view")
    assert "often viewed together with 85123A" in views.recommend_session(["85123A"], N=1, return_reasons=True)[2][0]
    neutral = SessionKNN().fit(SESSIONS)  # nobody said what the sessions hold
    reason = neutral.recommend_session(["85123A"], N=1, return_reasons=True)[2][0]
    assert reason.startswith("seen with 85123A in ") and "viewed" not in reason and "bought" not in reason
    with pytest.raises(comptoir.InvalidArgumentError, match="event_kind"):
        SessionKNN().fit(SESSIONS, event_kind="click")


def test_reasons_as_a_frame():
    model = FrequentlyBoughtTogether().fit(log_of("purchase"))
    frame = model.recommend_session(["85123A", "22752"], N=3, return_reasons="frame")
    assert list(frame.columns) == ["item", "score", "reason_kind", "anchor_item", "support", "category", "reason"]
    assert len(frame) >= 2 and set(frame["reason_kind"]) == {"bought_together"}
    assert set(frame["anchor_item"]) <= {"85123A", "22752"} and (frame["support"] > 0).all()
    ids, scores = model.recommend_session(["85123A", "22752"], N=3)
    assert frame["item"].tolist() == list(ids) and np.allclose(frame["score"], scores)
    assert frame["category"].isna().all()  # co-purchase knows no categories
    first = frame.iloc[0]
    assert f"with {first['anchor_item']} ({first['support']} orders)" in first["reason"]
    frame, unknown = model.recommend_session(["NOPE"], N=3, return_reasons="frame", return_unknown=True)
    assert frame.empty and unknown == ["NOPE"]
    with pytest.raises(comptoir.InvalidArgumentError, match="return_reasons"):
        model.recommend_session(["85123A"], return_reasons="table")


def test_categories_and_fallbacks_in_the_frame():
    items = pd.Series(["A", "A", "B", "C", "C", "C"])
    model = Popularity().fit(items, kinds=["purchase"] * 6, item_category={"A": 7, "B": 8, "C": 8})
    frame = model.recommend_session(["B"], N=3, return_reasons="frame")
    assert frame["item"].tolist()[0] == "C" and frame["category"].tolist()[:2] == [8, 8]
    assert frame["reason"].tolist()[0] == "best selling in category 8"
    assert frame["reason_kind"].tolist() == ["trending"] * 3 and frame["anchor_item"].isna().all()
    knn = SessionKNN().fit(SESSIONS)
    fallback = knn.recommend_session(["NOPE"], N=2, return_reasons="frame")
    assert fallback["reason"].tolist() == ["popular right now"] * 2


def test_embedding_and_hybrid_reasons_name_their_anchor():
    embeddings = Item2Vec(dim=8, epochs=5, subsample=0, random_state=0)
    model = EmbeddingRecommender(embeddings).fit(log_of("view"))
    frame = model.recommend_session(["85123A"], N=2, filter_session_items=True, return_reasons="frame")
    assert set(frame["reason_kind"]) == {"similar_item"} and set(frame["anchor_item"]) == {"85123A"}
    assert frame["reason"].tolist()[0] == "similar to 85123A in your session"
    hybrid = Hybrid([SessionKNN().fit(log_of("purchase")), SequentialRules().fit(log_of("purchase"))])
    reasons = hybrid.recommend_session(["85123A"], N=2, return_reasons=True)[2]
    assert all("bought together with 85123A" in r for r in reasons)


def test_the_wording_survives_save_load_and_pickle(tmp_path):
    model = SessionKNN().fit(log_of("purchase"))
    expected = model.recommend_session(["85123A"], N=2, return_reasons=True)[2]
    path = tmp_path / "knn.cmf"
    model.save(path)
    for loaded in (SessionKNN.load(path), comptoir.load_model(path), pickle.loads(pickle.dumps(model))):
        assert loaded.recommend_session(["85123A"], N=2, return_reasons=True)[2] == expected
    assert "bought together" in expected[0]


def test_a_log_without_kinds_claims_no_kind_unless_told():
    lengths = [len(s) for s in SESSIONS]
    items = [i for s in SESSIONS for i in s]
    log = EventLog.from_arrays(session=np.repeat(np.arange(len(SESSIONS)), lengths), item=items,
                               timestamp=1_000_000 + np.arange(len(items)) * 60)
    assert not log.has_kinds and not log.sessionize().has_kinds
    reason = SessionKNN().fit(log).recommend_session(["85123A"], N=1, return_reasons=True)[2][0]
    assert reason.startswith("seen with 85123A")  # not "viewed": nobody said they were views
    told = SessionKNN().fit(log, event_kind="purchase").recommend_session(["85123A"], N=1, return_reasons=True)[2][0]
    assert told.startswith("bought together with 85123A")
