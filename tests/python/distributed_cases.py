"""What the Dask and Spark suites share: one small simulated shop, the models fitted on it (as
model-file bytes, as they travel to workers) and the single-process answers to compare with."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil

import numpy as np
import pytest

SNAPSHOT = 1_700_000_000 + 20 * 86400  # the simulator's start plus 20 days
HORIZON = 7


def require(*modules: str, java: bool = False) -> None:
    """Skip when an engine is absent, unless CI says it must be there (CI_REQUIRE_DISTRIBUTED=1)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if java and shutil.which("java") is None:
        missing.append("java (a JRE)")
    if not missing:
        return
    if os.environ.get("CI_REQUIRE_DISTRIBUTED") == "1":
        pytest.fail(f"CI_REQUIRE_DISTRIBUTED=1 but {missing} are not installed")
    pytest.skip(f"{missing} not installed", allow_module_level=True)


@functools.lru_cache(maxsize=None)
def shop():
    from comptoir.simulate import simulate

    return simulate(num_customers=400, num_items=120, num_categories=8, num_days=30, sessions_per_customer=3.0,
                    seed=3, n_jobs=1)


@functools.lru_cache(maxsize=None)
def events():
    """The shop's events, customers as text ids (as a shop's would be)."""
    frame = shop().events_frame()
    frame["user"] = np.where(frame["user"] >= 0, "c" + frame["user"].astype(str), None)
    return frame


@functools.lru_cache(maxsize=None)
def customers():
    """Features of every customer seen before the snapshot, with a campaign arm and outcome."""
    from comptoir.features import behaviour_features

    X = behaviour_features(events(), SNAPSHOT, window_days=(7, 30)).fillna(-1.0)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    campaign = shop().campaign
    dense = X.index.str[1:].astype(int)
    X["arm"] = np.asarray(campaign["arm"])[dense]
    X["converted"] = np.asarray(campaign["converted"], dtype=float)[dense]
    return X


def features_of(X):
    return X.drop(columns=["arm", "converted"])


@functools.lru_cache(maxsize=None)
def scorer_bytes() -> bytes:
    from comptoir.trees import GradientBoostingClassifier

    X = customers()
    return GradientBoostingClassifier(n_estimators=15, n_jobs=1).fit(features_of(X), X["converted"]).to_bytes()


@functools.lru_cache(maxsize=None)
def regressor_bytes() -> bytes:
    """A spend-like regressor no other test sends, so that its loads can be counted."""
    from comptoir.trees import GradientBoostingRegressor

    X = customers()
    return GradientBoostingRegressor(n_estimators=5, n_jobs=1).fit(features_of(X), X["converted"] * 3).to_bytes()


@functools.lru_cache(maxsize=None)
def uplift_bytes() -> bytes:
    from comptoir.trees import GradientBoostingClassifier
    from comptoir.uplift import EstimatorFactory, TLearner

    X = customers()
    arms = np.where(X["arm"] == 0, "control", np.where(X["arm"] == 1, "ten", "twenty"))
    learner = TLearner(EstimatorFactory(GradientBoostingClassifier, n_estimators=8, n_jobs=1), control_name="control")
    return learner.fit(features_of(X), treatment=arms, y=X["converted"]).to_bytes()


@functools.lru_cache(maxsize=None)
def recommender_bytes() -> bytes:
    from comptoir.recommend import SessionKNN

    frame = events().rename(columns={"session": "session_id", "item": "item_id"})
    frame["item_id"] = "i" + frame["item_id"].astype(str)
    return SessionKNN().fit(frame[["session_id", "item_id", "timestamp"]]).to_bytes()


def loaded(data: bytes):
    """The estimator in a model file's bytes, through a file as a worker would read it (removed after)."""
    import tempfile

    import comptoir

    handle = tempfile.NamedTemporaryFile(suffix=".cmf", delete=False)
    try:
        handle.write(data)
        handle.close()
        return comptoir.load_model(handle.name)
    finally:
        os.unlink(handle.name)


def sessions():
    """Sessions to recommend for, in shop ids: the last 60 sessions of the log."""
    frame = events().rename(columns={"session": "session_id", "item": "item_id"})
    frame["item_id"] = "i" + frame["item_id"].astype(str)
    last = frame["session_id"].drop_duplicates().iloc[-60:]
    return frame[frame["session_id"].isin(last)].reset_index(drop=True)


def expected_recommendations(model, frame, N=5, reasons=False):
    import pandas as pd

    parts = []
    for sid, group in frame.sort_values(["session_id", "timestamp"], kind="stable").groupby("session_id", sort=False):
        if reasons:
            table = model.recommend_session(group["item_id"].tolist(), N=N, return_reasons="frame")
        else:
            ids, scores = model.recommend_session(group["item_id"].tolist(), N=N)
            table = pd.DataFrame({"item": ids, "score": scores})
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        table.insert(0, "session_id", sid)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def by_customer(events_frame, partitions: int):
    """The events split into ``partitions`` pieces with every customer in one piece (guests too)."""
    import pandas as pd

    key = events_frame["user"].fillna("guest").map(lambda u: hash(u) % 997)
    order = np.argsort(key.to_numpy() % partitions, kind="stable")
    return events_frame.iloc[order].reset_index(drop=True), pd.Series(key.to_numpy()[order] % partitions)


def random_offer_case(rng: np.random.Generator, n: int, m: int, integer: bool):
    """value and per-customer cost columns, ties everywhere when ``integer``."""
    import pandas as pd

    if integer:
        value = rng.integers(0, 6, (n, m)).astype(float)
        cost = rng.integers(0, 4, (n, m)).astype(float)
    else:
        value = rng.normal(1.0, 2.0, (n, m))
        cost = rng.exponential(1.0, (n, m))
    frame = pd.DataFrame(value, columns=[f"offer_{j}" for j in range(m)],
                         index=pd.Index(np.arange(n) * 7 + 3, name="customer"))
    for j in range(m):
        frame[f"cost_{j}"] = cost[:, j]
    budget = float(rng.choice([0.0, rng.uniform(0, cost.sum()), 2 * cost.sum() + 1, float(rng.integers(0, 8))]))
    return frame, cost, budget


def same_plan(got, expected) -> None:
    """Plan tables equal row for row (pandas writes a column of only missing offers as object)."""
    import pandas as pd

    def plain(table):
        table = table.reset_index(drop=True)
        return table.assign(offer=table["offer"].astype(object).where(table["offer"].notna(), None))

    pd.testing.assert_frame_equal(plain(got), plain(expected), check_dtype=False)
