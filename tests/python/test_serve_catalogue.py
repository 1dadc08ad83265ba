"""comptoir-serve with a product feed (--catalogue): "categories" and price bands on /v1/recommend
give what the same request gives with the matching items as its stock list; unknown categories are
reported; a bad feed is refused at start and on reload (the old one keeps serving)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from test_serve import Service, _sessions, binary, models  # noqa: F401  (fixtures)


def _feed(models, path, rows=None):
    frame = models["frame"]
    skus = sorted(frame["sku"].unique().tolist())
    rng = np.random.default_rng(5)
    categories = np.array(["shoes", "bags", "hats, caps", 'socks "long"'])[rng.integers(0, 4, len(skus))]
    prices = np.round(rng.uniform(1, 100, len(skus)), 2)
    lines = ["item_id,price,category"]
    for sku, price, category in zip(skus, prices, categories):
        quoted = '"' + category.replace('"', '""') + '"'
        lines.append(f"{sku},{price},{quoted}")
    path.write_text("\n".join(rows if rows is not None else lines) + "\n")
    return dict(zip(skus, categories)), dict(zip(skus, prices))


@pytest.fixture(scope="module")
def catalogue_service(binary, models):  # noqa: F811
    path = models["dir"] / "feed.csv"
    category_of, price_of = _feed(models, path)
    service = Service(binary, {"rec": models["paths"]["rec"]}, ("--catalogue", str(path)))
    yield service, path, category_of, price_of
    assert service.stop() == 0, service.output()[-4000:]
    service.log.close()


def test_categories_keep_to_the_feed(catalogue_service, models):  # noqa: F811
    service, _, category_of, price_of = catalogue_service
    wanted = ["hats, caps", 'socks "long"']
    for items in _sessions(models, 6):
        status, body = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 10, "categories": wanted})
        assert status == 200, body
        assert body["items"] and all(category_of[sku] in wanted for sku in body["items"])
        assert body["unknown_categories"] == []
        stock = [sku for sku, category in category_of.items() if category in wanted]
        status, same = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 10, "in_stock": stock})
        assert status == 200 and same["items"] == body["items"] and same["scores"] == body["scores"]

        status, band = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 10,
                                                      "min_price": 20, "max_price": 60})
        assert status == 200, band
        assert band["items"] and all(20 <= price_of[sku] <= 60 for sku in band["items"])


def test_unknown_categories_are_reported_and_keep_nothing(catalogue_service, models):  # noqa: F811
    service = catalogue_service[0]
    items = _sessions(models, 1)[0]
    status, body = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 5, "categories": ["toys"]})
    assert status == 200 and body["items"] == [] and body["unknown_categories"] == ["toys"]
    status, body = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 5,
                                                  "categories": ["toys", "shoes"]})
    assert status == 200 and body["items"] and body["unknown_categories"] == ["toys"]
    status, body = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 5, "min_price": -1})
    assert status == 400 and "min_price" in body["error"]


def test_categories_without_a_feed_name_the_flag(binary, models):  # noqa: F811
    service = Service(binary, {"rec": models["paths"]["rec"]})
    try:
        status, body = service.post("/v1/recommend", {"model": "rec", "items": ["SKU-0001"], "categories": ["shoes"]})
        assert status == 409 and "--catalogue" in body["error"]
    finally:
        assert service.stop() == 0
        service.log.close()


def test_a_bad_feed_is_refused_at_start_and_on_reload(binary, models):  # noqa: F811
    path = models["dir"] / "feed_reload.csv"
    _feed(models, path, ["item_id,category", "SKU-0001,shoes", "SKU-0001,bags"])
    with pytest.raises(RuntimeError, match="listed twice"):
        Service(binary, {"rec": models["paths"]["rec"]}, ("--catalogue", str(path)))

    category_of, _ = _feed(models, path)
    service = Service(binary, {"rec": models["paths"]["rec"]}, ("--catalogue", str(path)))
    try:
        path.write_text('item_id,category\nSKU-0001,"unclosed\n')
        os.kill(service.process.pid, signal.SIGHUP)
        deadline = time.time() + 10
        while "reload failed" not in service.output():
            assert time.time() < deadline, service.output()
            time.sleep(0.05)
        items = _sessions(models, 1)[0]
        status, body = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 5, "categories": ["shoes"]})
        assert status == 200 and body["items"] and all(category_of[s] == "shoes" for s in body["items"])
        assert "quoted field is not closed" in service.output()
    finally:
        assert service.stop() == 0
        service.log.close()
