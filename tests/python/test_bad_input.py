"""The bad-input catalogue: every public entry point driven with the classes of bad input (NaN, inf,
huge values, negative and unrepresentable ids, empty, mismatched lengths, wrong types, unknown arms),
each answered by a comptoir.ComptoirError subclass naming the problem, or by a documented repair.

docs/bad_input.md is generated from CASES (`python tests/python/test_bad_input.py > docs/bad_input.md`);
a test keeps the two in step."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import comptoir
from comptoir.embed import Item2Vec
from comptoir.exceptions import InvalidArgumentError, ModelFormatError, NotFittedError, NotFoundError
from comptoir.promo import offer_audit, plan_offers
from comptoir.propensity import LogisticRegression
from comptoir.recommend import FrequentlyBoughtTogether, NeuralSessionRecommender, SessionKNN
from comptoir.trees import GradientBoostingClassifier
from comptoir.uplift import TLearner
from comptoir.uplift_metrics import qini_coefficient_vs_perfect

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad_input.md"
SESSIONS = [["a", "b"], ["a", "c"], ["b", "c", "d"], ["a", "d"]] * 5
RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 3))
Y = (X[:, 0] + RNG.normal(size=200) > 0).astype(int)
T = RNG.integers(0, 2, 200)


def _knn():
    return SessionKNN().fit(SESSIONS)


def _fbt():
    return FrequentlyBoughtTogether(min_support=1).fit(SESSIONS)


def _i2v():
    return Item2Vec(dim=8, epochs=1).fit(SESSIONS)


def _neural(**params):
    return NeuralSessionRecommender(**{**dict(dim=8, epochs=1, num_negatives=2, validation_fraction=0), **params})


def _trees():
    return GradientBoostingClassifier(n_estimators=5).fit(X, Y)


def _plan():
    return plan_offers(value=np.array([[2.0, 1.0], [1.0, 3.0]]), cost=np.array([1.0, 1.0])).at(10.0)


# (entry point, class of bad input, call, expected error class or None for a documented repair, what
# the answer is).
CASES = [
    ("SessionKNN.fit", "float ids", lambda: SessionKNN().fit([[1.7, 2.0]]), InvalidArgumentError,
     "names the value and its row; ids are never truncated"),
    ("SessionKNN.fit", "mixed id types", lambda: SessionKNN().fit([["a", 3]]), InvalidArgumentError,
     "names the row mixing strings and numbers"),
    ("SessionKNN.fit", "NaN timestamps", lambda: SessionKNN().fit(SESSIONS[:2], timestamps=[1.0, np.nan]),
     InvalidArgumentError, "names the rows"),
    ("SessionKNN.fit", "mismatched lengths", lambda: SessionKNN().fit(SESSIONS[:2], timestamps=[1, 2, 3]),
     InvalidArgumentError, "says how many of each"),
    ("SessionKNN.recommend_session", "negative N", lambda: _knn().recommend_session(["a"], N=-1),
     InvalidArgumentError, "N must be in [1, ...]"),
    ("SessionKNN.recommend_session", "huge N", lambda: _knn().recommend_session(["a"], N=2**40),
     InvalidArgumentError, "N must be in [1, ...]"),
    ("SessionKNN.recommend_session", "float N", lambda: _knn().recommend_session(["a"], N=2.5),
     InvalidArgumentError, "N must be a positive integer"),
    ("SessionKNN.recommend_session", "None item", lambda: _knn().recommend_session([None, "a"]),
     InvalidArgumentError, "names the missing row"),
    ("SessionKNN.recommend_session", "unknown item", lambda: _knn().recommend_session(["zz"], return_unknown=True),
     None, "repair: ignored and returned as unknown"),
    ("SessionKNN.add_session", "NaN timestamp", lambda: _knn().add_session(["a", "b"], timestamp=float("nan")),
     InvalidArgumentError, "timestamp must be a finite number of seconds"),
    ("FrequentlyBoughtTogether.bought_with", "unknown item", lambda: _fbt().bought_with("zz"), NotFoundError,
     "names the item"),
    ("FrequentlyBoughtTogether.bought_with", "negative N", lambda: _fbt().bought_with("a", N=-1),
     InvalidArgumentError, "N must be in [1, ...]"),
    ("Item2Vec.recommend_session", "profile_weight outside [0, 1]",
     lambda: _i2v().recommend_session(["a"], profile_weight=5), InvalidArgumentError,
     "the same rule as EmbeddingRecommender"),
    ("NeuralSessionRecommender.fit", "NaN hyperparameter", lambda: _neural(learning_rate=float("nan")).fit(SESSIONS),
     InvalidArgumentError, "names the hyperparameter"),
    ("NeuralSessionRecommender.fit", "negative hyperparameter", lambda: _neural(dim=-8).fit(SESSIONS),
     InvalidArgumentError, "names the hyperparameter and its range"),
    ("NeuralSessionRecommender.fit", "dropout of 1 (every entry dropped)", lambda: _neural(dropout=1.0).fit(SESSIONS),
     InvalidArgumentError, "names dropout and its range [0, 1)"),
    ("NeuralSessionRecommender.fit", "one-item sessions only", lambda: _neural().fit([["a"], ["b"]]),
     InvalidArgumentError, "no session has a next item to learn from"),
    ("NeuralSessionRecommender.fit", "validation with no known item",
     lambda: _neural().fit(SESSIONS, validation=[["y", "z"]]), InvalidArgumentError, "nothing to validate on"),
    ("NeuralSessionRecommender.fit", "a diverging learning rate", lambda: _neural(learning_rate=1e30).fit(SESSIONS),
     InvalidArgumentError, "reruns the epoch at half the rate (logged), then names learning_rate; no NaN model"),
    ("NeuralSessionRecommender.recommend_session", "a session of 10,000 clicks",
     lambda: _neural().fit(SESSIONS).recommend_session(["a", "b"] * 5000), None,
     "repair: its last max_session_length known items are encoded"),
    ("NeuralSessionRecommender.recommend_session", "unknown items only",
     lambda: _neural().fit(SESSIONS).recommend_session(["zz"]), None, "repair: popular items, said in the reasons"),
    ("GradientBoostingClassifier.fit", "mismatched lengths", lambda: GradientBoostingClassifier().fit(X, Y[:10]),
     InvalidArgumentError, "says how many rows and labels"),
    ("GradientBoostingClassifier.fit", "empty", lambda: GradientBoostingClassifier().fit(X[:0], Y[:0]),
     InvalidArgumentError, "no rows"),
    ("GradientBoostingClassifier.predict_proba", "wrong number of columns",
     lambda: _trees().predict_proba(X[:, :2]), InvalidArgumentError, "says how many columns were expected"),
    ("GradientBoostingClassifier.predict_proba", "unfitted", lambda: GradientBoostingClassifier().predict_proba(X),
     NotFittedError, "call fit() or load() first"),
    ("LogisticRegression.fit", "infinite feature", lambda: LogisticRegression().fit(np.where(X > 2, np.inf, X), Y),
     InvalidArgumentError, "names the row and the feature"),
    ("LogisticRegression.fit", "NaN labels", lambda: LogisticRegression().fit(X, np.where(Y > 0, np.nan, 0.0)),
     InvalidArgumentError, "labels must be finite"),
    ("TLearner.fit", "mismatched lengths", lambda: TLearner().fit(X, treatment=T[:50], y=Y), InvalidArgumentError,
     "says the shapes"),
    ("TLearner.fit", "float arms", lambda: TLearner().fit(X, treatment=T + 0.7, y=Y), InvalidArgumentError,
     "arms are names, codes or booleans"),
    ("TLearner.fit", "positional treatment", lambda: TLearner().fit(X, Y, T), TypeError,
     "treatment and y are keyword-only (the peers' orders differ)"),
    ("TLearner.predict", "unfitted", lambda: TLearner().predict(X), NotFittedError, "call fit() or load() first"),
    ("plan_offers", "negative cost", lambda: plan_offers(value=np.ones((2, 2)), cost=np.array([-1.0, 1.0])),
     InvalidArgumentError, "names the offer"),
    ("plan_offers", "NaN value", lambda: plan_offers(value=np.array([[np.nan, 1.0]]), cost=np.array([1.0, 1.0])),
     InvalidArgumentError, "names the customer and the offer"),
    ("offer_audit", "unknown reference group",
     lambda: offer_audit(_plan(), discounts=[0.1, 0.2], group=np.array(["x", "y"]), reference="z"),
     InvalidArgumentError, "names the groups"),
    ("qini_coefficient_vs_perfect", "mismatched lengths", lambda: qini_coefficient_vs_perfect(np.ones(10), treatment=T, outcome=Y),
     InvalidArgumentError, "says the lengths"),
    ("load_model", "a folder", lambda: comptoir.load_model(str(DOC.parent)), ModelFormatError,
     "says it is a folder"),
    ("load_model", "missing file", lambda: comptoir.load_model("/nonexistent/model.cmf"), NotFoundError,
     "names the path"),
    ("SessionKNN.from_bytes", "random bytes", lambda: SessionKNN.from_bytes(b"\x00" * 64), ModelFormatError,
     "not a comptoir model file"),
]


@pytest.mark.parametrize("entry,bad,call,expected,answer", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_bad_input_is_named(entry, bad, call, expected, answer):
    if expected is None:
        call()  # a documented repair: no error
        return
    with pytest.raises(expected) as error:
        call()
    if expected is not TypeError:
        assert isinstance(error.value, comptoir.ComptoirError), f"{entry} ({bad}) raised a bare {type(error.value)}"
    assert str(error.value).strip(), "the error names the problem"


def table() -> str:
    lines = ["# Bad input: what each entry point answers", "",
             "Generated from `tests/python/test_bad_input.py` (which checks every row): "
             "`python tests/python/test_bad_input.py > docs/bad_input.md`.", "",
             "| entry point | bad input | answer | |", "|---|---|---|---|"]
    for entry, bad, _, expected, answer in CASES:
        name = "documented repair" if expected is None else f"`{expected.__name__}`"
        lines.append(f"| `{entry}` | {bad} | {name} | {answer} |")
    return "\n".join(lines) + "\n"


def test_the_docs_table_is_generated_from_the_cases():
    assert DOC.read_text() == table(), "regenerate: python tests/python/test_bad_input.py > docs/bad_input.md"


if __name__ == "__main__":
    sys.stdout.write(table())
