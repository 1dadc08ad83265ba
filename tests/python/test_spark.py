"""comptoir.spark on a local Spark session (two cores): every operation equals the
single-process function on the gathered rows, and bad partitions are named on the driver."""

import dataclasses
import os
import sys

import numpy as np
import pytest

import distributed_cases as cases

cases.require("pyspark", "pandas", "pyarrow", java=True)

import pandas as pd  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

import comptoir  # noqa: E402
import comptoir.spark as cspark  # noqa: E402
from comptoir import _distributed  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("comptoir-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def frame(spark, pdf, partitions):
    return spark.createDataFrame(pdf).repartition(partitions).persist()


def spark_events(spark, partitions):
    events = cases.events().astype({"kind": np.int64})
    return spark.createDataFrame(events).repartition(partitions, "user")


def test_scores_and_uplift_effects_equal_the_single_process_models(spark):
    X = cases.features_of(cases.customers())
    table = frame(spark, X.reset_index(), 3)
    got = cspark.collect(cspark.score(table, cases.scorer_bytes(), reasons=1)).set_index("customer").loc[X.index]
    scorer = cases.loaded(cases.scorer_bytes())
    np.testing.assert_allclose(got["probability"], scorer.predict_proba(X)[:, 1], rtol=0, atol=0)
    contributions = scorer.explain(X).drop(columns="base_value").to_numpy()
    assert got["reason_1"].tolist() == _distributed.top_reasons(contributions, list(X.columns), 1)[0]
    effects = cspark.collect(cspark.score(table, cases.uplift_bytes())).set_index("customer").loc[X.index]
    expected = cases.loaded(cases.uplift_bytes()).predict(X)
    pd.testing.assert_frame_equal(effects, expected, check_dtype=False, check_names=False)


def _loads_per_process(digest):
    def report(batches):
        for _ in batches:
            pass
        yield pd.DataFrame({"pid": [os.getpid()], "loads": [_distributed.LOADS.get(digest, 0)]})

    return report


def test_a_model_is_loaded_once_per_python_worker_not_once_per_partition(spark):
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    X = cases.features_of(cases.customers())
    data = cases.regressor_bytes()
    cspark.collect(cspark.score(frame(spark, X.reset_index(), 8), data))
    # Read from the same kind of Python workers that scored (those of pandas functions).
    seen = spark.range(16).repartition(8).mapInPandas(_loads_per_process(_distributed.digest_of(data)), "pid long, loads long")
    loads = dict(seen.toPandas().itertuples(index=False))
    assert loads and max(loads.values()) <= 1 and sum(loads.values()) >= 1, loads


def test_recommendations_equal_recommend_session(spark):
    sessions = cases.sessions()
    model = cases.loaded(cases.recommender_bytes())
    events = spark.createDataFrame(sessions.astype({"kind": np.int64})).repartition(3, "session_id")
    got = cspark.collect(cspark.recommend(events, cases.recommender_bytes(), N=5))
    expected = cases.expected_recommendations(model, sessions, N=5)
    pd.testing.assert_frame_equal(got.sort_values(["session_id", "rank"]).reset_index(drop=True), expected,
                                  check_dtype=False)


def test_features_and_labels_of_customer_partitions_equal_the_single_process_ones(spark):
    from comptoir.features import behaviour_features, purchase_labels

    events = spark_events(spark, 3)
    got = cspark.collect(cspark.behaviour_features(events, cases.SNAPSHOT, window_days=(7, 30)))
    expected = behaviour_features(cases.events(), cases.SNAPSHOT, window_days=(7, 30))
    pd.testing.assert_frame_equal(got.set_index("customer").sort_index(), expected, check_dtype=False,
                                  check_names=False)
    labels = cspark.collect(cspark.purchase_labels(events, cases.SNAPSHOT, cases.HORIZON)).set_index("customer")
    purchased, spend = purchase_labels(cases.events(), cases.SNAPSHOT, cases.HORIZON)
    np.testing.assert_array_equal(labels.sort_index()["purchased"], purchased)
    np.testing.assert_allclose(labels.sort_index()["spend"], spend)


def test_a_customer_in_two_partitions_is_named(spark):
    events = spark.createDataFrame(cases.events().astype({"kind": np.int64})).repartition(3)  # round robin
    with pytest.raises(cspark.NotCoPartitionedError, match=r"customer 'c\d+' has events in partitions \[0, [12]\]"):
        cspark.behaviour_features(events, cases.SNAPSHOT)


def test_the_plan_is_the_single_machine_plan_on_random_instances_with_ties(spark):
    from comptoir.promo import plan_offers

    rng = np.random.default_rng(23)
    for trial in range(6):
        n, m = int(rng.integers(1, 300)), int(rng.integers(1, 4))
        pdf, _, budget = cases.random_offer_case(rng, n, m, integer=trial % 2 == 0)
        offers = [f"offer_{j}" for j in range(m)]
        value = frame(spark, pdf.reset_index(), int(rng.integers(1, 4)))
        gathered = value.toPandas().set_index("customer")
        floor = float(rng.choice([1.0, 0.0]))
        expected = plan_offers(value=gathered[offers], cost=gathered[[f"cost_{j}" for j in range(m)]].to_numpy()).at(
            budget, floor)
        table, totals = cspark.plan_offers(value, {o: f"cost_{j}" for j, o in enumerate(offers)}, budget, offers=offers,
                                           min_value_per_spend=floor, return_totals=True)
        cases.same_plan(cspark.collect(table), expected)
        for name in ("spend", "value", "lp_bound"):
            assert totals[name] == pytest.approx(expected.attrs[name], rel=1e-9, abs=1e-9), (trial, name)


# ---- bad input ---------------------------------------------------------------------------------


def test_a_model_a_worker_cannot_load_is_named_with_its_partition(spark, monkeypatch, tmp_path):
    X = cases.features_of(cases.customers())
    table = frame(spark, X.reset_index(), 2)
    good = cases.scorer_bytes()
    # The driver reads the model; what reaches the workers is a file they cannot read (as when
    # the executors run another comptoir).
    info = dataclasses.replace(_distributed.model_info(good), digest="not loaded on any worker yet")
    monkeypatch.setattr(cspark, "_model", lambda _frame, _model: (info, spark.sparkContext.broadcast(good[: len(good) // 2])))
    scores = cspark.score(table, good)
    with pytest.raises(cspark.ModelLoadError, match=r"partition \d: the model could not be loaded on this worker") as caught:
        cspark.write_parquet(scores, str(tmp_path / "scores"))
    assert caught.value.kind == "ModelFormatError" and isinstance(caught.value, comptoir.ComptoirError)
    assert list(tmp_path.iterdir()) == []


def test_missing_columns_and_bad_values_are_named(spark):
    X = cases.features_of(cases.customers())
    with pytest.raises(cspark.MissingColumnsError, match=rf"lacks the model's feature columns \['{X.columns[0]}'\]"):
        cspark.collect(cspark.score(frame(spark, X.reset_index().drop(columns=[X.columns[0]]), 2), cases.scorer_bytes()))
    value = pd.DataFrame({"customer": np.arange(40), "a": np.r_[np.ones(39), np.nan]})
    with pytest.raises(cspark.PartitionError, match=r"partition \d: reading offers: value holds 1 NaN"):
        cspark.plan_offers(frame(spark, value, 2), 1.0, 10.0)
    with pytest.raises(cspark.MissingColumnsError, match="lacks the customer id column 'id'"):
        cspark.plan_offers(frame(spark, value, 2), 1.0, 10.0, id_column="id")


def test_a_budget_no_plan_can_meet_is_refused(spark):
    value = frame(spark, pd.DataFrame({"customer": ["a", "b"], "x": [3.0, 2.0]}), 2)
    for budget in (-5.0, float("nan")):
        with pytest.raises(cspark.InfeasibleBudgetError, match="no plan can meet a budget of"):
            cspark.plan_offers(value, 1.0, budget)


