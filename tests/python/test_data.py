import numpy as np
import pytest

from comptoir.data import EventLog, load_diginetica, load_hillstrom, load_online_retail


def small():
    return dict(
        session=np.array([10, 10, 20, 20, 20], dtype=np.int64),
        item=np.array([5, 6, 5, 7, 7], dtype=np.int64),
        timestamp=np.array([100, 200, 50, 60, 60], dtype=np.int64),
        kind=np.array([0, 1, 0, 0, 0], dtype=np.uint8),
        value=np.zeros(5, dtype=np.float32),
    )


def test_native_dtypes_are_read_in_place_and_columns_are_views():
    log = EventLog.from_arrays(**small())
    assert log.copied_columns == []
    assert log.report == {"rows": 5, "duplicates_dropped": 1}
    assert len(log) == 4 and log.num_sessions == 2 and log.num_items == 3
    assert not log.item.flags.writeable
    offsets, items = log.sessions()
    assert offsets.tolist() == [0, 2, 4]
    assert log.item_ids[items].tolist() == [5, 6, 5, 7]


def test_other_dtypes_are_converted_and_said_so():
    data = small()
    data["item"] = data["item"].astype(np.int32)
    data["kind"] = ["view", "cart", "view", "view", "view"]
    log = EventLog.from_arrays(**data)
    assert set(log.copied_columns) == {"item", "kind"}
    strings = EventLog.from_arrays(session=["a", "a", "b"], item=["x", "y", "x"], timestamp=[1, 2, 3], user=["u", None, "v"])
    assert strings.item_ids == ["x", "y"] and strings.user.tolist() == [0, -1, 1]


def test_bad_rows_are_named():
    data = small()
    data["value"] = np.array([0, 0, -1, 0, 0], dtype=np.float32)
    with pytest.raises(ValueError, match="row 2: value"):
        EventLog.from_arrays(**data)
    with pytest.raises(ValueError, match="unknown event kinds"):
        EventLog.from_arrays(**{**small(), "kind": ["view", "wishlist", "view", "view", "view"]})
    with pytest.raises(ValueError, match="at least one"):
        EventLog.from_arrays(session=np.array([], dtype=np.int64), item=np.array([], dtype=np.int64), timestamp=np.array([], dtype=np.int64))


def test_missing_timestamps_and_fractional_ids_are_named():
    data = small()
    data["item"] = np.array([5, 6, np.nan, 7, 7])
    with pytest.raises(ValueError, match="item ids are missing .* at rows \\[2\\]"):
        EventLog.from_arrays(**data)
    data = small()
    data["timestamp"] = np.array(["2024-01-01", "NaT", "2024-01-02", "2024-01-03", "2024-01-03"], dtype="datetime64[s]")
    with pytest.raises(ValueError, match="missing \\(NaT\\) at rows \\[1\\]"):
        EventLog.from_arrays(**data)
    data = small()
    data["item"] = np.array([5, 6, 5, 7, 7], dtype=np.uint64) + np.uint64(2**63)
    with pytest.raises(ValueError, match="do not fit"):
        EventLog.from_arrays(**data)


def test_sessionize_filter_and_split():
    day = 86_400
    log = EventLog.from_arrays(
        session=np.array([1, 1, 1, 2, 3, 3]), item=np.array([1, 2, 3, 1, 1, 2]),
        timestamp=np.array([0, 60, 4000, 9 * day, 10 * day, 10 * day + 5]), user=np.array([7, 7, 7, 7, -1, -1]),
    )
    assert log.sessionize(gap_minutes=30).num_sessions == 4  # user 7's first session splits in two
    assert len(log.filter_once(min_item_support=2, min_session_length=2)) == 4
    train, test = log.split_by_last_days(2)
    assert (train.num_sessions, test.num_sessions) == (1, 2) and train.num_items == test.num_items


def test_from_pandas_names_missing_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"session_id": [1, 1], "item_id": [3, 4], "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    log = EventLog.from_pandas(frame)
    assert log.timestamp.tolist() == [1704067200, 1704153600]
    with pytest.raises(ValueError, match="no column 'user'"):
        EventLog.from_pandas(frame, user="user")


def test_diginetica_matches_the_published_statistics(shared_data):
    if not (shared_data / "diginetica").exists():
        pytest.skip("DIGINETICA not present")
    train, test = load_diginetica(shared_data / "diginetica")
    assert (train.num_sessions, test.num_sessions) == (186_670, 15_963)
    assert len(np.unique(train.item)) == 43_097
    assert (np.diff(train.session_offsets) - 1).sum() == 719_470
    assert (np.diff(test.session_offsets) - 1).sum() == 60_858
    assert len(train) + len(test) == 982_961


def test_online_retail_statistics(shared_data):
    pytest.importorskip("pandas")
    if not (shared_data / "online_retail").exists():
        pytest.skip("Online Retail not present")
    log = load_online_retail(shared_data / "online_retail")
    report = log.report
    assert report["raw_rows"] == 541_909 and report["non_product_lines"] == 2_950
    assert report["stock_adjustment_lines"] == 1_336 and report["cancellation_lines"] == 8_704
    assert (report["cancelled_purchase_lines"], report["purchase_lines_reduced"], report["cancellations_unmatched"]) == \
        (2_812, 4_555, 1_272)
    assert report["duplicates_dropped"] == 5_159 and report["guest_lines"] == 132_549
    assert (log.num_users, log.num_sessions, log.num_items) == (4_325, 20_404, 3_922)
    assert not (log.kind == 4).any()  # cancellations went with what they cancelled
    returns = load_online_retail(shared_data / "online_retail", cancellations="returns")
    assert returns.report["rows"] == 537_623 and returns.report["duplicates_dropped"] == 5_264
    assert np.count_nonzero(returns.kind == 4) == 8_668  # the cancellation lines less their exact duplicates


def test_hillstrom_arms(shared_data):
    if not (shared_data / "hillstrom").exists():
        pytest.skip("Hillstrom not present")
    data = load_hillstrom(shared_data / "hillstrom", as_frame=False)
    assert len(data["treatment"]) == 64_000
    assert np.bincount(data["treatment"]).tolist() == [21_306, 21_307, 21_387]
    assert (data["visit"].sum(), data["conversion"].sum()) == (9_394, 578)


def test_missing_paths_say_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPTOIR_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="COMPTOIR_DATA"):
        load_hillstrom()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_diginetica(tmp_path / "nowhere")
