"""Saves one small model of every kind with what Python computes with it, for C++ to reproduce.

    python tests/golden/make_golden.py OUTDIR

writes ``<name>.cmf`` and ``<name>.expected`` per model (the block format that
tests/cpp/model/expected_outputs.h reads). CI runs it into a scratch folder and the C++ parity test
serves every file through ``comptoir::LoadModel``; the same files written by a released version and
committed under ``tests/golden/v<format>/`` must keep loading and predicting identically forever
(tests/cpp/model/golden_test.cc and tests/python/test_golden.py).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

import numpy as np

Block = Union[np.ndarray, List[str]]


def write_expected(path: str, kind: str, blocks: Sequence[Tuple[str, Block]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write("# comptoir expected outputs: what Python computed with the model beside this file\n")
        out.write(f"strings kind 1\n{kind}\n")
        for name, value in blocks:
            if isinstance(value, list):
                if any("\n" in v for v in value):
                    raise ValueError(f"block {name}: strings cannot hold newlines")
                out.write(f"strings {name} {len(value)}\n")
                out.writelines(f"{v}\n" for v in value)
                continue
            matrix = np.asarray(value, dtype=np.float64)
            if matrix.ndim == 1:
                matrix = matrix.reshape(-1, 1)
            out.write(f"matrix {name} {matrix.shape[0]} {matrix.shape[1]}\n")
            for row in matrix:
                out.write(" ".join(repr(float(v)) for v in row) + "\n")


def simulated_shop() -> Any:
    from comptoir.simulate import simulate

    return simulate(num_customers=1_500, num_items=300, seed=7)


def sessions_of(shop: Any) -> Tuple[np.ndarray, np.ndarray]:
    views = shop.events["kind"] == 0
    session = shop.events["session"][views]
    starts = np.flatnonzero(np.r_[True, np.diff(session) != 0])
    return np.r_[starts, views.sum()].astype(np.int64), shop.events["item"][views].astype(np.int32)


def recommender_blocks(model: Any, sessions: List[List[Any]], k: int = 5,
                       exclude_session_items: bool = False) -> List[Tuple[str, Block]]:
    offsets = np.cumsum([0] + [len(s) for s in sessions])
    blocks: List[Tuple[str, Block]] = [("session_offsets", offsets), ("session_items", [str(i) for s in sessions for i in s]),
                                       ("k", np.array([k])), ("exclude_session_items", np.array([int(exclude_session_items)]))]
    for s, items in enumerate(sessions):
        ids, scores = model.recommend_session(items, N=k)
        blocks.append((f"items_{s}", [str(i) for i in ids]))
        blocks.append((f"scores_{s}", np.asarray(scores, dtype=np.float64).reshape(1, -1)))
    return blocks


def encoded(X: Any) -> np.ndarray:
    """The matrix the model scores: category columns as their codes (NaN when missing)."""
    if not hasattr(X, "columns"):
        return np.asarray(X, dtype=np.float64)
    columns = [X[c].cat.codes.astype(np.float64).where(X[c].cat.codes >= 0) if str(X[c].dtype) == "category" else X[c]
               for c in X.columns]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def scorer_blocks(model: Any, X: Any) -> List[Tuple[str, Block]]:
    matrix = encoded(X)
    if hasattr(model, "predict_proba"):
        score = model.predict_proba(X)[:, 1]
    else:
        score = model.predict(X)
    explained = model.explain(X)
    blocks: List[Tuple[str, Block]] = [("X", matrix), ("score", score), ("contributions", np.asarray(explained, dtype=np.float64))]
    if hasattr(X, "columns"):
        blocks.append(("feature_names", [str(c) for c in X.columns]))
    classes = getattr(model, "classes_", None)
    if classes is not None:
        blocks.append(("class_labels", [str(c) for c in classes]))
    return blocks


def uplift_blocks(model: Any, X: Any, offers: int, explain: bool) -> List[Tuple[str, Block]]:
    blocks: List[Tuple[str, Block]] = [("X", encoded(X)), ("effect", model.predict(X)), ("arm_names", list(model.arm_names_))]
    if explain:
        for offer in range(1, offers + 1):
            blocks.append((f"contributions_{offer}", np.asarray(model.explain(X, offer=offer), dtype=np.float64)))
    return blocks


def index_blocks(model: Any, queries: np.ndarray, k: int = 5) -> List[Tuple[str, Block]]:
    ids, scores = model.search(queries, k=k)
    return [("queries", queries.astype(np.float64)), ("ids", ids.astype(np.float64)), ("scores", scores.astype(np.float64))]


def build_models(shop: Any) -> Dict[str, Tuple[Any, Callable[[Any], List[Tuple[str, Block]]]]]:
    from comptoir.embed import Item2Vec, VectorIndex
    from comptoir.propensity import CalibratedClassifier, LogisticRegression
    from comptoir.recommend import (EmbeddingRecommender, FrequentlyBoughtTogether, Hybrid, NeuralSessionRecommender, Popularity,
                                    SequentialRules, SessionKNN)
    from comptoir.trees import GradientBoostingClassifier, GradientBoostingRegressor
    from comptoir.uplift import ClassTransformation, DRLearner, SLearner, TLearner, UpliftRandomForest, XLearner

    import pandas as pd

    offsets, items = sessions_of(shop)
    # 1,500 sessions keep the committed golden files small.
    offsets = offsets[:1_501]
    items = items[: offsets[-1]]
    sessions = (offsets, items)
    # The shop's own ids: string SKUs for the catalogue, so every file carries its id map.
    skus = np.array([f"SKU-{i:05d}" for i in range(300)], dtype=object)
    probe = [[skus[i] for i in items[offsets[s]:offsets[s + 1]][:3]] for s in range(0, 40, 8)] + [["NOT-A-SKU"], []]
    knn = SessionKNN(k=50, sample_size=200).fit(sessions, num_items=300, item_ids=skus)
    rules = SequentialRules().fit(sessions, num_items=300, item_ids=skus)
    popularity = Popularity().fit(items, num_items=300, item_ids=skus)
    bought = shop.events["kind"] == 2
    baskets = shop.events["session"][bought]
    basket_starts = np.flatnonzero(np.r_[True, np.diff(baskets) != 0])
    fbt = FrequentlyBoughtTogether(min_support=1).fit((np.r_[basket_starts, bought.sum()].astype(np.int64),
                                                       shop.events["item"][bought].astype(np.int32)), num_items=300,
                                                      item_ids=skus)
    item2vec = Item2Vec(dim=8, epochs=2, random_state=0).fit(sessions, num_items=300, item_ids=skus)
    embedding = EmbeddingRecommender(item2vec).fit(sessions, num_items=300, item_ids=skus)
    hybrid = Hybrid([knn, popularity], weights=[1.0, 0.5])
    neural = NeuralSessionRecommender(dim=8, max_session_length=5, num_negatives=16, batch_size=128, epochs=2,
                                      random_state=0, n_jobs=1).fit(sessions, num_items=300, item_ids=skus)

    frame = shop.customers_frame()
    rows = min(len(frame), 1_200)
    # A categorical column and named classes: the schema (levels, labels) travels in the file.
    frame["segment"] = pd.Categorical(np.array(["new", "loyal", "lapsed"])[np.arange(len(frame)) % 3])
    X_train, X_test = frame.iloc[: rows - 200], frame.iloc[rows - 200: rows - 190]
    arm = shop.campaign["arm"][: rows - 200]
    converted = shop.campaign["converted"][: rows - 200].astype(int)
    y = np.where(converted == 1, "buyer", "browser")
    spend = np.asarray(shop.campaign["spend"], dtype=float)[: rows - 200]
    numeric_train, numeric_test = X_train.drop(columns="segment"), X_test.drop(columns="segment")
    logistic = LogisticRegression(C=0.5).fit(numeric_train, y)
    boosted = GradientBoostingClassifier(n_estimators=20, num_leaves=7).fit(X_train, y)
    regressor = GradientBoostingRegressor(loss="tweedie", n_estimators=20, num_leaves=7).fit(X_train, spend)
    calibrated = CalibratedClassifier(boosted, method="isotonic").fit(X_train[:400], y[:400])
    small = dict(base_learner=lambda: LogisticRegression(C=1.0),
                 regressor=lambda: GradientBoostingRegressor(n_estimators=10, num_leaves=5, min_samples_leaf=20))
    offers = int(arm.max())

    def rec(m: Any) -> List[Tuple[str, Block]]:
        return recommender_blocks(m, probe)

    def score(m: Any) -> List[Tuple[str, Block]]:
        names = list(getattr(m, "feature_names_in_", []))
        return scorer_blocks(m, X_test if "segment" in names else numeric_test)

    def effect(explain: bool) -> Callable[[Any], List[Tuple[str, Block]]]:
        return lambda m: uplift_blocks(m, numeric_test, offers, explain)

    return {
        "session_knn": (knn, rec),
        "sequential_rules": (rules, rec),
        "popularity": (popularity, rec),
        "co_purchase": (fbt, rec),
        # Item2Vec.recommend_session leaves the session's own items out by default.
        "item2vec": (item2vec, lambda m: recommender_blocks(m, probe, exclude_session_items=True)),
        "embedding_recommender": (embedding, rec),
        "hybrid": (hybrid, rec),
        "neural_session": (neural, rec),
        "vector_index": (VectorIndex(item2vec.item_vectors, approximate=True, num_lists=8, num_probes=3),
                         lambda m: index_blocks(m, np.ascontiguousarray(item2vec.item_vectors[:6]))),
        "logistic_regression": (logistic, score),
        "gradient_boosting_classifier": (boosted, score),
        "gradient_boosting_regressor": (regressor, score),
        "calibrated_classifier": (calibrated, score),
        "uplift_forest": (UpliftRandomForest(n_estimators=5, max_depth=3, min_samples_leaf=50).fit(numeric_train, treatment=arm, y=converted), effect(True)),
        "t_learner": (TLearner(**small).fit(numeric_train, treatment=arm, y=converted), effect(True)),
        "s_learner": (SLearner(**small).fit(numeric_train, treatment=arm, y=converted), effect(True)),
        "class_transformation": (ClassTransformation(**small).fit(numeric_train, treatment=arm, y=converted), effect(True)),
        "x_learner": (XLearner(**small).fit(numeric_train, treatment=arm, y=converted), effect(True)),
        "dr_learner": (DRLearner(**small).fit(numeric_train, treatment=arm, y=converted), effect(True)),
    }


def main(argv: Sequence[str]) -> int:
    import comptoir

    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (model, blocks_of) in build_models(simulated_shop()).items():
        path = os.path.join(out, f"{name}.cmf")
        model.save(path)
        loaded = comptoir.load_model(path)
        kind = comptoir.inspect_model_file(path)["model_kind"]
        write_expected(os.path.join(out, f"{name}.expected"), kind, blocks_of(loaded))
        print(f"{name}: {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
