import threading
import time
import _thread

import numpy as np
import pytest

from comptoir.simulate import simulate


@pytest.fixture(scope="module")
def shop():
    return simulate(num_customers=4000, num_items=1500, num_categories=20, seed=3)


def test_same_seed_same_shop_any_thread_count():
    a = simulate(num_customers=800, num_items=500, num_categories=10, seed=1, n_jobs=1)
    b = simulate(num_customers=800, num_items=500, num_categories=10, seed=1, n_jobs=2)
    c = simulate(num_customers=800, num_items=500, num_categories=10, seed=2, n_jobs=2)
    for column in a.events:
        assert np.array_equal(a.events[column], b.events[column])
    assert np.array_equal(a.campaign["true_conversion"], b.campaign["true_conversion"])
    assert not np.array_equal(a.events["item"], c.events["item"])


def test_shapes_and_columns(shop):
    n = len(shop.events["item"])
    assert n > 50_000 and all(len(col) == n for col in shop.events.values())
    assert shop.customer_attributes.shape == (4000, len(shop.customer_attribute_names))
    assert shop.campaign["true_conversion"].shape == (4000, 3)
    assert set(np.unique(shop.events["kind"])) <= {0, 1, 2}
    assert np.all(np.diff(shop.events["session"]) >= 0)


def test_ate_estimate_covers_the_true_effect(shop):
    campaign = shop.campaign
    arm, converted = campaign["arm"], campaign["converted"]
    for a in (1, 2):
        treated, control = converted[arm == a], converted[arm == 0]
        estimate = treated.mean() - control.mean()
        se = np.sqrt(treated.var() / len(treated) + control.var() / len(control))
        assert abs(estimate - shop.true_uplift(a).mean()) < 1.96 * se
    assert (shop.true_uplift(2) < 0).any() and (shop.true_uplift(2) > 0).mean() > 0.5


def test_invalid_settings_are_named():
    with pytest.raises(ValueError, match="control arm"):
        simulate(num_customers=10, promo_discounts=(0.1, 0.2))
    with pytest.raises(TypeError, match="unknown setting"):
        simulate(num_customers=10, colour="blue")


def test_ctrl_c_cancels_a_large_simulation_promptly(ctrl_c_delivered):
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        simulate(num_customers=3_000_000, num_items=10_000)
    assert time.perf_counter() - start < 10
    timer.join()
    assert len(simulate(num_customers=50, num_items=100, num_categories=5).events["item"]) > 0


def test_frames_when_pandas_is_installed(shop):
    pytest.importorskip("pandas")
    assert list(shop.customers_frame().columns) == shop.customer_attribute_names
    assert len(shop.events_frame()) == len(shop.events["item"])
