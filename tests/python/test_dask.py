"""comptoir.dask on a real cluster of two worker processes: every operation equals the
single-process function on the gathered rows, and bad partitions are named on the client."""

import logging
import sys

import numpy as np
import pytest

import distributed_cases as cases

cases.require("dask", "distributed", "pandas", "pyarrow")

import cloudpickle  # noqa: E402
import dask  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import pandas as pd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

import comptoir  # noqa: E402
import comptoir.dask as cdask  # noqa: E402
from comptoir import _distributed  # noqa: E402

# Functions of this module run on the workers (client.run), which cannot import it.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
cloudpickle.register_pickle_by_value(cases)


@pytest.fixture(scope="module")
def client():
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def pieces(frames, meta=None):
    """A Dask DataFrame whose partitions are exactly ``frames``."""
    return dd.from_delayed([dask.delayed(f) for f in frames], meta=frames[0].iloc[:0] if meta is None else meta,
                           verify_meta=False)


def chunks(frame, n):
    bounds = np.linspace(0, len(frame), n + 1).astype(int)
    return [frame.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def split(frame, n):
    return pieces(chunks(frame, n))


def test_scores_equal_the_single_process_model_with_reasons(client):
    X = cases.features_of(cases.customers())
    model = cases.loaded(cases.scorer_bytes())
    got = cdask.score(split(X, 4), cases.scorer_bytes(), reasons=2).compute()
    np.testing.assert_array_equal(got.index, X.index)
    np.testing.assert_allclose(got["probability"], model.predict_proba(X)[:, 1], rtol=0, atol=0)
    contributions = model.explain(X).drop(columns="base_value").to_numpy()
    expected = _distributed.top_reasons(contributions, list(X.columns), 2)
    assert got["reason_1"].tolist() == expected[0] and got["reason_2"].tolist() == expected[1]


def test_uplift_effects_per_offer_equal_predict(client):
    X = cases.features_of(cases.customers())
    model = cases.loaded(cases.uplift_bytes())
    got = cdask.score(split(X, 3), cases.uplift_bytes(), reasons=1).compute()
    expected = model.predict(X)
    assert list(got.columns) == ["ten", "twenty", "ten_reason_1", "twenty_reason_1"]
    pd.testing.assert_frame_equal(got[["ten", "twenty"]], expected, check_dtype=False)


def test_a_model_is_loaded_once_per_worker_process_not_once_per_partition(client):
    X = cases.features_of(cases.customers())
    data = cases.scorer_bytes()
    cdask.score(split(X, 12), data).compute()
    digest = _distributed.digest_of(data)
    loads = client.run(lambda: _distributed.LOADS.get(digest, 0))
    assert sorted(loads.values()) in ([1, 1], [0, 1])  # 12 partitions, one load per process that ran any


def test_recommendations_equal_recommend_session(client):
    frame = cases.sessions()
    model = cases.loaded(cases.recommender_bytes())
    ids = frame["session_id"].drop_duplicates()
    parts = [frame[frame["session_id"].isin(ids.iloc[i::3])] for i in range(3)]
    got = cdask.recommend(pieces(parts), cases.recommender_bytes(), N=5).compute()
    expected = cases.expected_recommendations(model, frame, N=5)
    pd.testing.assert_frame_equal(got.sort_values(["session_id", "rank"]).reset_index(drop=True), expected,
                                  check_dtype=False)
    with_reasons = cdask.recommend(pieces(parts), cases.recommender_bytes(), N=5, reasons=True).compute()
    expected = cases.expected_recommendations(model, frame, N=5, reasons=True)
    pd.testing.assert_frame_equal(with_reasons.sort_values(["session_id", "rank"]).reset_index(drop=True),
                                  expected[with_reasons.columns], check_dtype=False)


def test_features_and_labels_of_customer_partitions_equal_the_single_process_ones(client):
    from comptoir.features import behaviour_features, purchase_labels

    events, key = cases.by_customer(cases.events(), 3)
    ddf = pieces([events[key.to_numpy() == p] for p in range(3)])
    got = cdask.behaviour_features(ddf, cases.SNAPSHOT, window_days=(7, 30)).compute().sort_index()
    expected = behaviour_features(cases.events(), cases.SNAPSHOT, window_days=(7, 30))
    pd.testing.assert_frame_equal(got, expected)
    labels = cdask.purchase_labels(ddf, cases.SNAPSHOT, cases.HORIZON).compute().sort_index()
    purchased, spend = purchase_labels(cases.events(), cases.SNAPSHOT, cases.HORIZON)
    pd.testing.assert_series_equal(labels["purchased"], purchased)
    pd.testing.assert_series_equal(labels["spend"], spend)


def test_a_customer_in_two_partitions_is_named():
    events = cases.events()
    ddf = pieces([events.iloc[:3000], events.iloc[2990:]])
    with pytest.raises(cdask.NotCoPartitionedError, match=r"customer 'c\d+' has events in partitions \[0, 1\]") as caught:
        cdask.behaviour_features(ddf, cases.SNAPSHOT)
    assert caught.value.partition == 0


def test_the_plan_is_the_single_machine_plan_on_random_instances_with_ties(client):
    from comptoir.promo import plan_offers

    rng = np.random.default_rng(17)
    for trial in range(12):
        n, m = int(rng.integers(1, 400)), int(rng.integers(1, 4))
        frame, cost, budget = cases.random_offer_case(rng, n, m, integer=trial % 2 == 0)
        offers = [f"offer_{j}" for j in range(m)]
        floor = float(rng.choice([1.0, 0.0, 0.5]))
        expected = plan_offers(value=frame[offers], cost=cost).at(budget, floor)
        table, totals = cdask.plan_offers(split(frame, int(rng.integers(1, 5))), {o: f"cost_{j}" for j, o in enumerate(offers)},
                                          budget, offers=offers, min_value_per_spend=floor, return_totals=True)
        cases.same_plan(table.compute(), expected)
        for name in ("spend", "value", "profit", "lp_bound"):
            assert totals[name] == pytest.approx(expected.attrs[name], rel=1e-9, abs=1e-9), (trial, name)


def test_the_plan_with_costs_per_offer_over_many_segments(client):
    from comptoir.promo import plan_offers

    rng = np.random.default_rng(5)
    value = pd.DataFrame(rng.integers(0, 30, (6000, 3)) / 4.0, columns=["a", "b", "c"],
                         index=pd.Index([f"c{i}" for i in range(6000)], name="customer"))
    for budget in (0.0, 17.0, 900.0, 1e9):
        expected = plan_offers(value=value, cost=[1.0, 2.0, 3.5]).at(budget)
        table, totals = cdask.plan_offers(split(value, 5), [1.0, 2.0, 3.5], budget, return_totals=True)
        cases.same_plan(table.compute(), expected)
        assert totals["spend"] == pytest.approx(expected.attrs["spend"]) and totals["lp_bound"] == pytest.approx(
            expected.attrs["lp_bound"])


def test_the_price_bracket_and_the_tail_walk_in_small_rounds_give_the_same_plan(client, monkeypatch):
    from comptoir import _plan_reduction
    from comptoir.promo import plan_offers

    walk, rounds = _plan_reduction._walk_tail, []

    def counted(each, *args):
        return walk(lambda function, *a: rounds.append(1) or each(function, *a), *args)

    monkeypatch.setattr(_plan_reduction, "_walk_tail", counted)
    monkeypatch.setattr(_plan_reduction, "_TAIL_ROUND", 2)  # segments per partition and round
    monkeypatch.setattr(_plan_reduction, "_THRESHOLDS", 5)  # a wide bracket around the price
    rng = np.random.default_rng(8)
    for trial in range(4):
        frame, cost, _ = cases.random_offer_case(rng, 500, 2, integer=trial % 2 == 0)
        budget = float(cost.sum() / 25 + 0.5)
        expected = plan_offers(value=frame[["offer_0", "offer_1"]], cost=cost).at(budget)
        table = cdask.plan_offers(split(frame, 4), {"offer_0": "cost_0", "offer_1": "cost_1"}, budget,
                                  offers=["offer_0", "offer_1"])
        cases.same_plan(table.compute(), expected)
    assert len(rounds) > 4  # the tail took more than one round somewhere


# ---- bad input ---------------------------------------------------------------------------------


def _break_loading():
    def refuse(data):
        raise comptoir.ModelFormatError("this worker's comptoir cannot read the file")

    _distributed._original_load = _distributed._load
    _distributed._load = refuse
    _distributed._MODELS.clear()


def _restore_loading():
    _distributed._load = _distributed._original_load


def test_a_model_a_worker_cannot_load_is_named_with_its_partition(client, tmp_path):
    X = cases.features_of(cases.customers())
    client.run(_break_loading)
    try:
        scores = cdask.score(split(X, 3), cases.scorer_bytes())
        with pytest.raises(cdask.ModelLoadError, match=r"partition \d: the model could not be loaded on this worker .*"
                                                       "cannot read the file") as caught:
            scores.compute()
        assert caught.value.kind == "ModelFormatError" and isinstance(caught.value, comptoir.ComptoirError)
        with pytest.raises(cdask.ModelLoadError):
            cdask.write_parquet(scores, str(tmp_path / "scores"))
        assert not (tmp_path / "scores").exists() and list(tmp_path.iterdir()) == []
    finally:
        client.run(_restore_loading)


def test_a_partition_without_the_feature_columns_is_named(client, tmp_path):
    X = cases.features_of(cases.customers())
    parts = chunks(X, 3)
    parts[2] = parts[2].drop(columns=[X.columns[0]])
    with pytest.raises(cdask.MissingColumnsError, match=rf"partition 2: lacks the model's feature columns \['{X.columns[0]}'\]"):
        cdask.write_parquet(cdask.score(pieces(parts, meta=X.iloc[:0]), cases.scorer_bytes()), str(tmp_path / "out"))
    assert list(tmp_path.iterdir()) == []
    value = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 1.0]})
    with pytest.raises(cdask.MissingColumnsError, match=r"partition 1: lacks the offer value and cost columns \['b'\]"):
        cdask.plan_offers(pieces([value, value[["a"]]], meta=value.iloc[:0]), 1.0, 2.0, offers=["a", "b"])


def test_mixed_id_types_across_partitions_are_named(client):
    value = pd.DataFrame({"a": [3.0, 2.0]}, index=pd.Index([1, 2], dtype=object))
    text = pd.DataFrame({"a": [3.0, 2.0]}, index=pd.Index(["x", "y"], dtype=object))
    with pytest.raises(cdask.MixedIdTypesError, match=r"partition 2: its customer ids are text, but they are integers in "
                                                      r"partitions \[0, 1\] and text in partitions \[2\]"):
        cdask.plan_offers(pieces([value, value, text]), 1.0, 5.0)
    events = cases.events()
    # A second Parquet file written with integer customer ids (guests -1) beside one with text ids.
    numbered = events.iloc[4000:].assign(user=events["user"].iloc[4000:].str[1:].fillna("-1").astype(np.int64))
    with pytest.raises(cdask.MixedIdTypesError, match=r"partition 1: its customer ids are integers, but they are integers "
                                                      r"in partitions \[1\] and text in partitions \[0\]"):
        cdask.behaviour_features(pieces([events.iloc[:4000], numbered], meta=events.iloc[:0].astype({"user": object})),
                                 cases.SNAPSHOT)


def test_a_budget_no_plan_can_meet_is_refused_before_any_work(client):
    value = split(pd.DataFrame({"a": [3.0, 2.0, 1.0]}), 2)
    for budget in (-1.0, float("nan"), float("inf")):
        with pytest.raises(cdask.InfeasibleBudgetError, match="no plan can meet a budget of") as caught:
            cdask.plan_offers(value, 1.0, budget)
        assert isinstance(caught.value, comptoir.ComptoirError)
    bad = pd.DataFrame({"a": [3.0, float("nan")]})
    with pytest.raises(cdask.PartitionError, match=r"partition 1: reading offers: value holds 1 NaN"):
        cdask.plan_offers(pieces([value.partitions[0].compute(), bad]), 1.0, 1.0)


# ---- the command line ----------------------------------------------------------------------------


def _parquet_directory(frame, path, parts):
    path.mkdir()
    for number, part in enumerate(chunks(frame, parts)):
        part.to_parquet(path / f"part.{number}.parquet", index=False)
    return str(path)


def test_the_cli_scores_and_plans_on_the_cluster_as_it_does_alone(client, tmp_path, capsys):
    from comptoir import cli

    X = cases.features_of(cases.customers()).reset_index()
    directory = _parquet_directory(X, tmp_path / "customers", 3)
    scorer, uplift = tmp_path / "scorer.cmf", tmp_path / "uplift.cmf"
    scorer.write_bytes(cases.scorer_bytes())
    uplift.write_bytes(cases.uplift_bytes())
    address = client.scheduler.address
    common = ["--id-column", "customer"]
    assert cli.main(["score", str(scorer), directory, str(tmp_path / "alone.parquet"), "--explain", "2", *common]) == 0
    assert cli.main(["score", str(scorer), directory, str(tmp_path / "scores"), "--explain", "2", "--dask", address,
                     *common]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "scores"), pd.read_parquet(tmp_path / "alone.parquet"),
                                  check_dtype=False)
    plan = ["--budget", "12", "--value", "40", "--cost", "0.5,1", *common]
    assert cli.main(["offers", str(uplift), directory, str(tmp_path / "alone_plan.parquet"), *plan]) == 0
    assert cli.main(["offers", str(uplift), directory, str(tmp_path / "plan"), "--dask", address, *plan]) == 0
    got, expected = pd.read_parquet(tmp_path / "plan"), pd.read_parquet(tmp_path / "alone_plan.parquet")
    assert (expected["offer"] > 0).sum() > 3  # the budget binds
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # A partition without a feature column: exit status 2, the partition named, no output.
    broken = tmp_path / "broken"
    _parquet_directory(X, broken, 2)
    X.iloc[:5].drop(columns=[X.columns[3]]).to_parquet(broken / "part.2.parquet", index=False)
    capsys.readouterr()
    assert cli.main(["score", str(scorer), str(broken), str(tmp_path / "none"), "--dask", address, *common]) == 2
    assert "partition 2" in capsys.readouterr().err and not (tmp_path / "none").exists()
