import numpy as np
import pytest

from comptoir.features import behaviour_features, event_kind_codes, purchase_labels, to_unix_seconds

DAY = 86_400
SNAPSHOT = np.datetime64("2024-03-01")


def story():
    t0 = int(to_unix_seconds(SNAPSHOT))
    return {
        "session": np.array([0, 0, 1, 2, 3]),
        "user": np.array([0, 0, 0, 1, 0]),
        "item": np.array([1, 1, 2, 3, 2]),
        "timestamp": np.array([t0 - 40 * DAY, t0 - 40 * DAY + 60, t0 - 5 * DAY, t0 - 2 * DAY, t0 + DAY]),
        "kind": np.array(["view", "purchase", "purchase", "view", "purchase"]),
        "value": np.array([0.0, 10.0, 20.0, 0.0, 99.0]),
    }


def test_features_and_labels_from_a_story():
    matrix, names = behaviour_features(story(), SNAPSHOT, window_days=(7, 30), as_frame=False)
    row = dict(zip(names, matrix[0]))
    assert matrix.shape == (2, len(names)) and matrix.dtype == np.float32
    assert row["orders_total"] == 2 and row["revenue_total"] == 30 and row["orders_7d"] == 1
    assert row["recency_days"] == pytest.approx(5.0)
    assert np.isnan(dict(zip(names, matrix[1]))["recency_days"])
    purchased, spend = purchase_labels(story(), SNAPSHOT, horizon_days=7)
    assert purchased.tolist() == [1, 0] and spend.tolist() == [99.0, 0.0]


def test_future_events_never_change_the_features():
    events = story()
    past = {k: v[:4] for k, v in events.items()}
    a, _ = behaviour_features(events, SNAPSHOT, as_frame=False)
    b, _ = behaviour_features(past, SNAPSHOT, as_frame=False)
    assert np.array_equal(a, b, equal_nan=True)


def test_pandas_frame_in_and_out():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(story())
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s")
    features = behaviour_features(frame, "2024-03-01")
    assert list(features.columns[:2]) == ["recency_days", "days_since_last_event"]
    assert features.loc[0, "orders_total"] == 2


def test_bad_input_is_named():
    events = story()
    events["kind"] = np.array(["view", "purchase", "refund", "view", "purchase"])
    with pytest.raises(ValueError, match="refund"):
        behaviour_features(events, SNAPSHOT)
    with pytest.raises(ValueError, match="no 'user' column"):
        behaviour_features({"item": np.array([1])}, SNAPSHOT)
    with pytest.raises(ValueError, match="event 1 has user 5"):
        behaviour_features({**story(), "user": np.array([0, 5, 0, 1, 0])}, SNAPSHOT, num_users=2)
    with pytest.raises(ValueError, match="window_days"):
        behaviour_features(story(), SNAPSHOT, window_days=(0,))
    assert event_kind_codes([0, 2]).tolist() == [0, 2]
    with pytest.raises(ValueError, match="codes"):
        event_kind_codes([7])


def test_online_retail_features(shared_data):
    pd = pytest.importorskip("pandas")
    path = shared_data / "online_retail" / "online_retail.csv.gz"
    if not path.exists():
        pytest.skip("Online Retail not present")
    df = pd.read_csv(path, encoding="latin-1", dtype={"InvoiceNo": str, "StockCode": str})
    cancelled = df.InvoiceNo.str.startswith("C").to_numpy()
    # The raw export as it is: invoice and stock codes as text, customer ids as floats with gaps.
    events = {
        "session": df.InvoiceNo, "user": df.CustomerID, "item": df.StockCode,
        "timestamp": pd.to_datetime(df.InvoiceDate).to_numpy(),
        "kind": np.where(cancelled, 4, 2), "value": (df.Quantity * df.UnitPrice).to_numpy(),
        "quantity": df.Quantity.to_numpy(),
    }
    features = behaviour_features(events, "2011-09-01")
    before = (events["timestamp"] < np.datetime64("2011-09-01")) & df.CustomerID.notna().to_numpy()
    # One row per customer seen before the snapshot, indexed by their id (17850, not '17850.0');
    # guests' lines are nobody's, and customers first seen later have no row.
    assert features.index.dtype == np.int64 and 17850 in features.index
    assert len(features) == df.CustomerID[before].nunique()
    active = features["orders_total"] > 0
    assert features.loc[active, "recency_days"].between(0, 280).all()
    known = before & ~cancelled
    assert features["orders_total"].sum() == df.InvoiceNo[known].nunique()
    bought, spend = purchase_labels(events, "2011-09-01", horizon_days=30)
    assert bought.index.equals(features.index) and 0 < bought.mean() < 1


def test_repurchase_timing_finds_who_is_due():
    from comptoir.features import repurchase_timing

    rng = np.random.default_rng(0)
    t0 = int(to_unix_seconds(SNAPSHOT)) - 120 * DAY
    users, times = [], []
    for user in range(200):
        cycle = (7, 21)[user % 2]
        t = t0 + int(rng.uniform(0, cycle) * DAY)
        while t < t0 + 150 * DAY:
            users.append(user)
            times.append(t)
            t += int((cycle + rng.uniform(-0.5, 0.5)) * DAY)
    events = {
        "session": np.arange(len(users)), "user": np.array(users), "item": np.zeros(len(users), dtype=int),
        "timestamp": np.array(times), "kind": np.full(len(users), 2),
    }
    timing = repurchase_timing(events, SNAPSHOT, horizon_days=3, as_frame=False)
    assert len(timing["user"]) == 200
    cycles = timing["cycle_days"]
    assert np.allclose(cycles[timing["user"] % 2 == 0], 7, rtol=0.1)
    assert np.allclose(cycles[timing["user"] % 2 == 1], 21, rtol=0.1)
    snapshot = int(to_unix_seconds(SNAPSHOT))
    next_purchase = {u: min(t for uu, t in zip(users, times) if uu == u and t >= snapshot) for u in range(200)}
    due = np.array([next_purchase[u] < snapshot + 3 * DAY for u in timing["user"]])
    p = timing["probability_within_horizon"]
    assert p[due].mean() > 2 * p[~due].mean()
    with pytest.raises(ValueError, match="horizon_days"):
        repurchase_timing(events, SNAPSHOT, horizon_days=0)
