"""comptoir-serve end to end: the built service on loopback, every endpoint, answers compared with
the same model files called in-process, bad requests, erasure and SIGHUP reloads.

The binary is $COMPTOIR_SERVE, else build/*/src/serve/comptoir-serve under the repository, else
comptoir-serve on PATH. Without one the tests skip, unless CI_REQUIRE_SERVE=1 (CI sets it)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import comptoir
from comptoir.data import EventLog
from comptoir.promo import plan_offers
from comptoir.propensity import CalibratedClassifier
from comptoir.recommend import SessionKNN
from comptoir.simulate import simulate
from comptoir.trees import GradientBoostingClassifier
from comptoir.uplift import TLearner

REPO = Path(__file__).resolve().parents[2]


def _find_binary() -> str | None:
    if os.environ.get("COMPTOIR_SERVE"):
        return os.environ["COMPTOIR_SERVE"]
    built = sorted(glob.glob(str(REPO / "build" / "*" / "src" / "serve" / "comptoir-serve")), key=os.path.getmtime)
    if built:
        return built[-1]
    return shutil.which("comptoir-serve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, binary: str, models: dict, extra: tuple = ()):
        self.port = _free_port()
        args = [binary, "--port", str(self.port), "--threads", "4"]
        for name, path in models.items():
            args += ["--model", f"{name}={path}"]
        self.log = open(Path(next(iter(models.values()))).parent / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen(args + list(extra), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"comptoir-serve exited with {self.process.returncode}: {self.output()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"comptoir-serve did not become ready: {self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def request(self, method: str, path: str, body: bytes | None = None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        return status, text

    def get(self, path: str):
        status, text = self.request("GET", path)
        return status, (json.loads(text) if path != "/metrics" else text)

    def post(self, path: str, payload, raw: bytes | None = None):
        status, text = self.request("POST", path, raw if raw is not None else json.dumps(payload).encode())
        return status, json.loads(text)

    def stop(self) -> int:
        """SIGTERM, then the exit status (a sanitizer's report at exit makes it nonzero)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def binary() -> str:
    path = _find_binary()
    if path is None or not os.access(path, os.X_OK):
        if os.environ.get("CI_REQUIRE_SERVE") == "1":
            pytest.fail("comptoir-serve was not built (CI_REQUIRE_SERVE=1): set COMPTOIR_SERVE to the binary")
        pytest.skip("comptoir-serve is not built (set COMPTOIR_SERVE)")
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve")
    shop = simulate(num_customers=2000, num_items=500, seed=3)
    frame = shop.events_frame()
    frame["sku"] = "SKU-" + frame["item"].astype(str).str.zfill(4)
    log = EventLog.from_pandas(frame, session="session", item="sku", timestamp="timestamp", kind="kind", user="user")
    sessions = log.sessionize(gap_minutes=30)
    SessionKNN(k=50, sample_size=200).fit(sessions).save(out / "rec.cmf")
    SessionKNN(k=20, sample_size=100).fit(sessions).save(out / "rec_small.cmf")

    customers = shop.customers_frame().astype("float64")
    customers["segment"] = pd.Categorical(np.array(["new", "loyal", "lapsed"])[np.arange(len(customers)) % 3])
    y = (customers["tenure_days"] + 200 * np.random.default_rng(0).random(len(customers)) > 500).astype(int)
    trees = GradientBoostingClassifier(n_estimators=20, learning_rate=0.1).fit(customers[:1200], y[:1200])
    CalibratedClassifier(trees, method="isotonic").fit(customers[1200:1600], y[1200:1600]).save(out / "prop.cmf")

    plain = shop.customers_frame().astype("float64")
    TLearner(offer_names=["10% off", "free shipping"]).fit(
        plain, treatment=shop.campaign["arm"], y=shop.campaign["converted"].astype(int)).save(out / "up.cmf")
    users = [u for u in frame["user"].unique().tolist() if u >= 0][:50]
    return {"dir": out, "frame": frame, "customers": customers, "plain": plain, "users": users,
            "paths": {name: str(out / f"{name}.cmf") for name in ("rec", "prop", "up")}}


@pytest.fixture(scope="module")
def service(binary, models):
    service = Service(binary, models["paths"])
    yield service
    code = service.stop()
    output = service.output()
    service.log.close()
    assert code == 0, f"comptoir-serve exited with {code}: {output[-4000:]}"


def _sessions(models, count=8):
    frame = models["frame"]
    skus = sorted(frame["sku"].unique().tolist())
    rng = np.random.default_rng(1)
    return [[skus[i] for i in rng.choice(len(skus), size=int(rng.integers(1, 6)), replace=False)] for _ in range(count)]


def _row(frame: pd.DataFrame, i: int) -> dict:
    row = {}
    for column, value in frame.iloc[i].items():
        if isinstance(value, str):
            row[column] = value
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            row[column] = None
        else:
            row[column] = float(value)
    return row


def test_healthz_names_models_and_kinds(service):
    status, body = service.get("/healthz")
    assert status == 200 and body["status"] == "ok"
    assert {(m["name"], m["kind"]) for m in body["models"]} == {
        ("rec", "session_knn"), ("prop", "calibrated_classifier"), ("up", "t_learner")}


def test_recommend_matches_in_process(service, models):
    knn = comptoir.load_model(models["paths"]["rec"])
    skus = sorted(models["frame"]["sku"].unique().tolist())
    for items in _sessions(models):
        ids, scores, reasons, unknown = knn.recommend_session(items + ["NOT-A-SKU"], N=7, return_reasons=True,
                                                              return_unknown=True)
        status, body = service.post("/v1/recommend", {"model": "rec", "items": items + ["NOT-A-SKU"], "k": 7})
        assert status == 200, body
        assert body["items"] == list(ids)
        np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)
        assert [r["text"] for r in body["reasons"]] == list(reasons)
        assert {r["kind"] for r in body["reasons"]} <= {"co_visited", "similar_item", "bought_together", "trending", "profile"}
        assert body["unknown"] == ["NOT-A-SKU"] == list(unknown)

        # Filters: exclusions, the session's own items, stock.
        stock = np.zeros(len(skus), dtype=np.uint8)
        stock[::2] = 1
        in_stock = [s for s, flag in zip(knn.item_ids_, stock) if flag]
        ids, scores = knn.recommend_session(items, N=5, filter_items=[ids[0]] if len(ids) else None,
                                            filter_session_items=True, allowed_items=stock)
        status, body = service.post("/v1/recommend", {"model": "rec", "items": items, "k": 5, "in_stock": in_stock,
                                                      "exclude": list(body["items"][:1]), "exclude_session_items": True})
        assert status == 200, body
        assert body["items"] == list(ids)
        np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)


def test_score_matches_predict_proba(service, models):
    customers = models["customers"]
    model = comptoir.load_model(models["paths"]["prop"])
    rows = [_row(customers, i) for i in range(1600, 1640)]
    status, body = service.post("/v1/score", {"model": "prop", "rows": rows, "top": 2})
    assert status == 200, body
    assert body["output"] == "probability"
    np.testing.assert_allclose(body["probabilities"], model.predict_proba(customers[1600:1640])[:, 1], rtol=1e-9)
    assert all(len(r) == 2 and {"feature", "contribution"} <= set(r[0]) for r in body["reasons"])
    # A level never seen is scored as missing and reported.
    rows[0]["segment"] = "brand-new"
    status, body = service.post("/v1/score", {"model": "prop", "rows": rows[:1]})
    assert status == 200 and body["unseen"] == ["segment=brand-new"]


def test_offer_matches_plan_offers(service, models):
    plain = models["plain"]
    model = comptoir.load_model(models["paths"]["up"])
    rows = plain[:60]
    effect = model.predict(rows)
    assert list(effect.columns) == ["10% off", "free shipping"]  # named by offer, as the service names them
    effect = effect.to_numpy()
    value, cost = np.array([40.0, 25.0]), np.array([0.5, 0.2])
    plan = plan_offers(value=effect * value, cost=np.broadcast_to(cost, effect.shape).copy()).at(1e18)
    names = ["10% off", "free shipping"]
    chosen = []
    for i in range(len(rows)):
        status, body = service.post("/v1/offer", {"model": "up", "features": _row(rows, i),
                                                  "value": {"10% off": 40.0, "free shipping": 25.0}, "cost": [0.5, 0.2]})
        assert status == 200, body
        np.testing.assert_allclose([body["effects"][n] for n in names], effect[i], rtol=1e-9, atol=1e-12)
        assert body["offer_code"] == plan["offer_code"][i]  # one numbering: 0 = no offer, k = the k-th
        chosen.append(body["offer_code"])
        if body["offer"] is not None:
            k = body["offer_code"] - 1
            assert body["offer"] == names[k]
            assert body["expected_incremental_value"] == pytest.approx(value[k] * effect[i, k] - cost[k])
            assert len(body["reasons"]) == 3
    assert len(set(chosen)) > 1, "the rule should pick different offers for different customers"


def test_live_session_events_and_online_learning(service, models):
    knn = comptoir.load_model(models["paths"]["rec"])
    items = _sessions(models, 3)[2][:3]
    for t, sku in enumerate(items):
        status, body = service.post("/v1/events", {"session_id": "s-live", "item": sku, "kind": "view",
                                                   "timestamp": 1_700_000_000 + t})
        assert status == 200 and body["recorded"], body
    ids, scores = knn.recommend_session(items, N=6)
    status, body = service.post("/v1/recommend", {"model": "rec", "session_id": "s-live", "k": 6})
    assert status == 200 and body["items"] == list(ids), body
    assert "comptoir_live_sessions 1" in service.get("/metrics")[1]

    # The session ends: the kNN learns it online, as add_session does in-process.
    probe = items[:1]
    status, body = service.post("/v1/events", {"session_id": "s-live", "end": True})
    assert status == 200 and body["ended"], body
    knn.add_session(items, 1_700_000_002)
    ids, scores = knn.recommend_session(probe, N=10)
    status, body = service.post("/v1/recommend", {"model": "rec", "items": probe, "k": 10})
    assert body["items"] == list(ids)
    np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)
    # An ended session is no longer live: naming it is an empty (popularity) session.
    status, body = service.post("/v1/recommend", {"model": "rec", "session_id": "s-live", "k": 3})
    assert status == 200 and len(body["items"]) == 3


def test_consent_false_is_not_personalised_and_not_stored(service, models):
    user = int(models["users"][0])
    status, body = service.post("/v1/events", {"session_id": "s-noconsent", "user": user, "item": "SKU-0001",
                                               "consent": False})
    assert status == 200 and body["recorded"] is False
    status, body = service.post("/v1/recommend", {"model": "rec", "session_id": "s-noconsent", "user": user, "k": 3,
                                                  "consent": False})
    assert status == 200 and body["personalised"] is False


def test_forget_erases_the_user(service, models):
    knn = comptoir.load_model(models["paths"]["rec"])
    user = int(models["users"][1])
    service.post("/v1/events", {"session_id": "s-forget", "user": user, "item": "SKU-0002"})
    expected = knn.forget(user)
    assert expected > 0
    status, body = service.post("/v1/forget", {"user": user})
    assert status == 200, body
    assert body["removed_sessions"] == {"rec": expected}
    assert body["live_sessions_removed"] == 1
    status, body = service.post("/v1/forget", {"user": user})
    assert body["removed_sessions"] == {} and body["live_sessions_removed"] == 0


def test_sessions_are_bounded_and_expire_into_the_knn(binary, models):
    path = models["dir"] / "rec_expiry.cmf"
    shutil.copy(models["paths"]["rec"], path)
    knn = comptoir.load_model(str(path))
    service = Service(binary, {"rec": str(path)}, ("--session-timeout", "1", "--max-sessions", "2"))
    try:
        sessions = _sessions(models, 6)[3:6]
        for number, items in enumerate(sessions):
            for sku in items:
                status, body = service.post("/v1/events", {"session_id": f"e{number}", "item": sku,
                                                           "timestamp": 1_700_100_000 + number})
                assert status == 200, body
        # The third session made the first one end (at most two live); the others end when idle.
        deadline = time.time() + 10
        while service.get("/healthz")[1]["live_sessions"] != 0:
            assert time.time() < deadline, "idle sessions did not expire"
            time.sleep(0.1)
        for number, items in enumerate(sessions):
            knn.add_session(items, 1_700_100_000 + number)
        for items in sessions:
            ids, scores = knn.recommend_session(items[:1], N=10)
            body = service.post("/v1/recommend", {"model": "rec", "items": items[:1], "k": 10})[1]
            assert body["items"] == list(ids)
            np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)
    finally:
        assert service.stop() == 0, service.output()[-4000:]
        service.log.close()


def test_pseudonymised_model_needs_the_key_to_erase(binary, models):
    key = "a host secret of more than 16 bytes"
    path = models["dir"] / "rec_keyed.cmf"
    comptoir.load_model(models["paths"]["rec"]).save(path, user_id_key=key)
    user = int(models["users"][2])
    expected = comptoir.load_model(models["paths"]["rec"]).forget(user)
    assert expected > 0
    os.environ["COMPTOIR_TEST_USER_KEY"] = key
    try:
        keyed = Service(binary, {"rec": str(path)}, ("--user-id-key-env", "COMPTOIR_TEST_USER_KEY"))
    finally:
        del os.environ["COMPTOIR_TEST_USER_KEY"]
    unkeyed = Service(binary, {"rec": str(path)})
    try:
        assert keyed.post("/v1/forget", {"user": user})[1]["removed_sessions"] == {"rec": expected}
        answer = unkeyed.post("/v1/forget", {"user": user})[1]
        assert answer["removed_sessions"] == {} and answer["not_erasable"] == ["rec"]
        # Without the key the user is served anonymously, not refused.
        status, body = unkeyed.post("/v1/recommend", {"model": "rec", "items": ["SKU-0001"], "user": user, "k": 3})
        assert status == 200 and body["personalised"] is False
    finally:
        for service in (keyed, unkeyed):
            assert service.stop() == 0, service.output()[-4000:]
            service.log.close()


def test_forget_a_user_only_seen_online_rebuilds_without_them(binary, models):
    path = models["dir"] / "rec_online.cmf"
    shutil.copy(models["paths"]["rec"], path)
    service = Service(binary, {"rec": str(path)})
    try:
        items = _sessions(models, 5)[4][:3]
        request = {"model": "rec", "items": items[:1], "k": 10}
        before = service.post("/v1/recommend", request)[1]
        for sku in items:
            service.post("/v1/events", {"session_id": "new", "user": "new-shopper", "item": sku, "timestamp": 1_700_200_000})
        service.post("/v1/events", {"session_id": "new", "end": True})
        learned = service.post("/v1/recommend", request)[1]
        assert learned["scores"] != before["scores"], "the online session should change the scores"
        status, answer = service.post("/v1/forget", {"user": "new-shopper"})
        assert status == 200 and answer["removed_sessions"] == {"rec": 1} and "rebuild_error" not in answer, answer
        after = service.post("/v1/recommend", request)[1]
        assert after["version"] == 2 and after["items"] == before["items"]
        np.testing.assert_allclose(after["scores"], before["scores"], rtol=1e-6)
    finally:
        assert service.stop() == 0, service.output()[-4000:]
        service.log.close()


BAD_REQUESTS = [
    ("/v1/recommend", b'{"model": "rec", "items": [', 400, "malformed JSON"),
    ("/v1/recommend", b'[1, 2]', 400, "JSON object"),
    ("/v1/recommend", b'{"model": "nope", "items": ["a"]}', 404, "unknown model 'nope'"),
    ("/v1/recommend", b'{"model": "prop", "items": ["a"]}', 400, "not a recommender"),
    ("/v1/recommend", b'{"model": 3, "items": ["a"]}', 400, "'model' must be a string"),
    ("/v1/recommend", b'{"model": "rec", "items": "SKU-0001"}', 400, "'items' must be an array"),
    ("/v1/recommend", b'{"model": "rec", "items": ["a"], "k": 1000000000}', 400, "'k' must be in 1..10000"),
    ("/v1/recommend", b'{"model": "rec", "items": ["a"], "k": -3}', 400, "'k' must be in 1..10000"),
    ("/v1/recommend", b'{"model": "rec", "items": ["a"], "k": "ten"}', 400, "'k' must be an integer"),
    ("/v1/recommend", json.dumps({"model": "rec", "items": ["SKU-0001"] * 100_000}).encode(), 413, "larger than"),
    ("/v1/recommend", json.dumps({"model": "rec", "items": [1] * 20_000}).encode(), 400, "more than the 10000"),
    ("/v1/recommend", b"[" * 100_000, 400, "nested deeper"),
    ("/v1/recommend", b'{"model": "rec"}', 400, "session_id"),
    ("/v1/score", b'{"model": "prop", "rows": [{"tenure_days": [1]}]}', 400, "tenure_days"),
    ("/v1/score", b'{"model": "prop", "rows": [{"tenure_days": 1}]}', 400, "not given"),
    ("/v1/score", b'{"model": "rec", "rows": [{}]}', 400, "not a scorer"),
    ("/v1/offer", b'{"model": "up", "features": {}, "cost": [1]}', 400, "2 offers"),
    ("/v1/offer", b'{"model": "up"}', 400, "'features'"),
    ("/v1/events", b'{"session_id": "x", "item": "a", "kind": "teleport"}', 400, "unknown event kind"),
    ("/v1/forget", b'{}', 400, "'user'"),
    ("/v1/nothing", b'{}', 404, "no endpoint"),
]


@pytest.mark.parametrize("path,body,status,message", BAD_REQUESTS)
def test_bad_requests_get_4xx_naming_the_problem(service, path, body, status, message):
    got, answer = service.post(path, None, raw=body)
    assert got == status, answer
    assert message in answer["error"]
    assert service.get("/healthz")[0] == 200


def test_ten_megabyte_body_is_refused(service):
    got, answer = service.post("/v1/recommend", None, raw=b'{"model": "rec", "items": ["' + b"x" * 10_000_000 + b'"]}')
    assert got == 413 and "larger than" in answer["error"]


def test_metrics_are_prometheus_text(service):
    status, text = service.get("/metrics")
    assert status == 200
    assert 'comptoir_requests_total{endpoint="/v1/recommend"}' in text
    assert 'comptoir_errors_total{endpoint="/v1/recommend",class="4xx"}' in text
    assert 'comptoir_request_seconds_bucket{endpoint="/v1/score",le="+Inf"}' in text
    assert 'comptoir_model_version{model="rec",kind="session_knn"} 1' in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.split(" ")) == 2, line


def test_sighup_reloads_atomically_and_keeps_online_sessions(service, models):
    paths = models["paths"]
    probe = _sessions(models, 3)[2][:1]  # the session learned online above
    before = service.post("/v1/recommend", {"model": "rec", "items": probe, "k": 10})[1]

    failures, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            status, body = service.post("/v1/recommend", {"model": "rec", "items": probe, "k": 10})
            if status != 200:
                failures.append(body)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    start_version = service.get("/healthz")[1]["models"][0]["version"]
    for reload in range(1, 4):
        # One signal at a time: signals sent while a reload runs would merge into one.
        service.process.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while service.get("/healthz")[1]["models"][0]["version"] != start_version + reload:
            assert time.time() < deadline, "the reload did not happen"
            time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    health = service.get("/healthz")[1]
    assert {m["name"]: m["version"] for m in health["models"]} == {"rec": 4, "prop": 4, "up": 4}
    # The user erased before is still erased in the reloaded models.
    assert service.post("/v1/forget", {"user": int(models["users"][1])})[1]["removed_sessions"] == {}
    after = service.post("/v1/recommend", {"model": "rec", "items": probe, "k": 10})[1]
    assert after["items"] == before["items"]  # the online session was replayed onto the new model
    np.testing.assert_allclose(after["scores"], before["scores"], rtol=1e-6)

    # A new file is served after the reload; a broken one keeps the old set.
    shutil.copy(models["dir"] / "rec_small.cmf", paths["rec"])
    service.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while service.post("/v1/recommend", {"model": "rec", "items": probe, "k": 1})[1]["version"] != 5:
        assert time.time() < deadline
        time.sleep(0.05)
    good = Path(paths["prop"]).read_bytes()
    Path(paths["prop"]).write_bytes(good[:100])
    service.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while 'comptoir_reloads_total{outcome="failed"} 1' not in service.get("/metrics")[1]:
        assert time.time() < deadline
        time.sleep(0.05)
    assert {m["name"]: m["version"] for m in service.get("/healthz")[1]["models"]} == {"rec": 5, "prop": 5, "up": 5}
    assert service.post("/v1/score", {"model": "prop", "rows": [_row(models["customers"], 0)]})[0] == 200
    Path(paths["prop"]).write_bytes(good)
    assert "failed, the old models keep serving" in service.output()


def test_concurrent_recommend_events_forget_and_reload(service, models):
    """Every endpoint at once with reloads: nothing fails with a 5xx, nothing crashes."""
    sessions = _sessions(models, 12)
    users = [int(u) for u in models["users"][10:20]]
    errors, stop = [], threading.Event()

    def driver(seed: int):
        rng = np.random.default_rng(seed)
        n = 0
        while not stop.is_set():
            items = sessions[int(rng.integers(len(sessions)))]
            user = users[int(rng.integers(len(users)))]
            sid = f"c{seed}-{n // 4}"
            calls = [("/v1/recommend", {"model": "rec", "items": items, "k": 5, "user": user}),
                     ("/v1/events", {"session_id": sid, "user": user, "item": items[0], "end": n % 4 == 3}),
                     ("/v1/recommend", {"model": "rec", "session_id": sid, "k": 5}),
                     ("/v1/forget", {"user": user}) if n % 7 == 0 else ("/v1/score", {"model": "prop", "rows": [
                         _row(models["customers"], n % 100)]})]
            path, body = calls[n % len(calls)]
            status, answer = service.post(path, body)
            if status != 200:
                errors.append((path, status, answer))
            n += 1

    threads = [threading.Thread(target=driver, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for _ in range(4):
        time.sleep(0.25)
        service.process.send_signal(signal.SIGHUP)
    time.sleep(0.25)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert service.process.poll() is None
    assert 'comptoir_errors_total{endpoint="/v1/recommend",class="5xx"} 0' in service.get("/metrics")[1]
