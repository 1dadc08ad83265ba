"""Format-1 model files of every kind, committed with what they predicted when saved, keep loading in
Python and predicting exactly that (tests/cpp/model/golden_test.cc checks the C++ side)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Union

import numpy as np
import pytest

import comptoir

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "v1")


def read_expected(path: str) -> Dict[str, Union[np.ndarray, List[str]]]:
    blocks: Dict[str, Union[np.ndarray, List[str]]] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            kind, name, *shape = line.split()
            if kind == "strings":
                blocks[name] = [next(lines).rstrip("\n") for _ in range(int(shape[0]))]
            else:
                rows, cols = int(shape[0]), int(shape[1])
                values = [float(v) for _ in range(rows) for v in next(lines).split()]
                blocks[name] = np.array(values, dtype=np.float64).reshape(rows, cols)
    return blocks


def golden_names() -> List[str]:
    return sorted(f[:-4] for f in os.listdir(GOLDEN) if f.endswith(".cmf"))


def test_every_kind_has_a_golden_file() -> None:
    kinds = {comptoir.inspect_model_file(os.path.join(GOLDEN, f"{name}.cmf"))["model_kind"] for name in golden_names()}
    assert kinds == set(comptoir._core.io.model_kinds())


def session_item(model: Any, text: str) -> Any:
    ids = getattr(model, "item_ids_", None)
    if ids is not None and ids.dtype == object:
        return text
    return int(text)


@pytest.mark.parametrize("name", golden_names())
def test_golden_file_predicts_what_it_did(name: str) -> None:
    model = comptoir.load_model(os.path.join(GOLDEN, f"{name}.cmf"))
    expected = read_expected(os.path.join(GOLDEN, f"{name}.expected"))
    if "effect" in expected:
        X = expected["X"]
        np.testing.assert_array_equal(model.predict(X), expected["effect"])
        for offer in range(1, expected["effect"].shape[1] + 1):
            if f"contributions_{offer}" in expected:
                np.testing.assert_array_equal(np.asarray(model.explain(X, offer=offer)), expected[f"contributions_{offer}"])
    elif "score" in expected:
        X = expected["X"]
        score = model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.predict(X)
        np.testing.assert_array_equal(score, expected["score"][:, 0])
        np.testing.assert_array_equal(np.asarray(model.explain(X)), expected["contributions"])
    elif "queries" in expected:
        ids, scores = model.search(expected["queries"].astype(np.float32), k=expected["ids"].shape[1])
        np.testing.assert_array_equal(ids, expected["ids"])
        np.testing.assert_array_equal(scores, expected["scores"].astype(np.float32))
    else:
        offsets, items = expected["session_offsets"][:, 0].astype(int), expected["session_items"]
        k = int(expected["k"][0, 0])
        for s in range(len(offsets) - 1):
            session = [session_item(model, items[i]) for i in range(offsets[s], offsets[s + 1])]
            ids, scores = model.recommend_session(session, N=k)
            assert [str(i) for i in ids] == expected[f"items_{s}"], f"session {s}"
            np.testing.assert_array_equal(np.asarray(scores, dtype=np.float32), expected[f"scores_{s}"][0].astype(np.float32))
