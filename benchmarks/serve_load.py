"""Load test of comptoir-serve on loopback with wrk: what a recommendation costs above the bare server.

A DIGINETICA-size session kNN (the SR-GNN training split, 43,097 items; the simulator at the same
scale when the dataset is absent) is saved to a model file and served by ``comptoir-serve``. wrk then
drives, in one run and with the same connections and duration:

- ``GET /healthz``: the HTTP floor (parsing, routing, a small JSON answer);
- ``POST /v1/recommend``: 20 items for real test-session prefixes, in the shop's ids, with reasons;
- ``POST /v1/recommend`` again while the script sends ``SIGHUP`` every second (every model file is
  reloaded under load): the row must show zero failed requests.

The table gives requests per second, p50 / p99 latency as wrk measures them (client side, loopback),
failed requests (socket errors and non-2xx answers) and each row's throughput as a share of the floor.

    python benchmarks/serve_load.py [--serve build/dev/src/serve/comptoir-serve] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dataset_folder  # noqa: E402

from comptoir.recommend import SessionKNN  # noqa: E402

# wrk's Lua side: cycles through prepared requests, and reports the run as one JSON line.
_WRK_SCRIPT = r"""
local requests, next_request = {}, 1
function init(args)
  if args[1] == nil then return end
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", "/v1/recommend", {["Content-Type"] = "application/json"}, line)
  end
end
function request()
  if #requests == 0 then return wrk.format("GET", "/healthz") end
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": %d, "non_2xx": %d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("COMPTOIR_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    default_serve = shutil.which("comptoir-serve") or str(Path(__file__).resolve().parents[1] / "build/dev/src/serve/comptoir-serve")
    parser.add_argument("--data", default=default_data, help="folder holding the dataset folders")
    parser.add_argument("--serve", default=default_serve, help="the comptoir-serve binary")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (keep-alive)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk's own threads")
    parser.add_argument("--threads", type=int, default=4, help="the service's worker threads (--threads)")
    parser.add_argument("--quick", action="store_true", help="a small model and 2-second runs (a smoke test)")
    return parser.parse_args()


def diginetica_frames(args: argparse.Namespace):
    """(training events, test sessions as lists of SKUs): DIGINETICA, or the simulator at its size."""
    folder = None if args.quick else dataset_folder(argparse.Namespace(data=args.data), "diginetica")
    if folder is not None:
        train = pd.read_csv(folder / "srgnn_train_sessions.csv.gz")
        test = pd.read_csv(folder / "srgnn_test_sessions.csv.gz")
        source = "DIGINETICA (SR-GNN train split)"
    else:
        from comptoir.simulate import simulate

        size = dict(num_customers=2_000, num_items=2_000) if args.quick else dict(num_customers=60_000, num_items=43_000)
        events = simulate(seed=7, **size).events_frame().rename(columns={"session": "session_id", "item": "item_id"})
        cut = events["timestamp"].quantile(0.9)
        train, test = events[events["timestamp"] < cut], events[events["timestamp"] >= cut]
        source = f"simulator ({size['num_items']:,} items)"
    train = pd.DataFrame({"session_id": train["session_id"].to_numpy(), "item_id": train["item_id"].astype(str).to_numpy()})
    sessions = [g.astype(str).tolist() for _, g in test.groupby("session_id", sort=False)["item_id"]]
    return source, train, sessions


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"comptoir-serve exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                return json.load(answer)
        except OSError:
            time.sleep(0.1)
    raise SystemExit("comptoir-serve did not become ready")


def run_wrk(args: argparse.Namespace, port: int, script: Path, bodies: Path = None) -> dict:
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{args.seconds}s",
               "--timeout", "2s", "-s", str(script), f"http://127.0.0.1:{port}/"]
    if bodies is not None:
        command += ["--", str(bodies)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    return json.loads(line[4:])


def reload_every_second(pid: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        os.kill(pid, signal.SIGHUP)


def reloads_done(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    line = next(line for line in text.splitlines() if line.startswith('comptoir_reloads_total{outcome="ok"}'))
    return int(float(line.split()[-1]))


def main() -> int:
    args = parse_args()
    if args.quick:
        args.seconds = min(args.seconds, 2)
    if shutil.which("wrk") is None:
        print("wrk not found (apt-get install wrk): nothing to measure")
        return 0
    if not Path(args.serve).is_file():
        print(f"{args.serve} not found: build comptoir-serve or pass --serve")
        return 1
    source, train, test_sessions = diginetica_frames(args)
    rng = np.random.default_rng(0)
    prefixes = [s[:t] for s in test_sessions for t in range(1, len(s))]
    picks = rng.choice(len(prefixes), size=min(2_000, len(prefixes)), replace=False)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        model = SessionKNN().fit(train)
        fit_s = time.perf_counter() - started
        model.save(work / "knn.comptoir")
        (work / "load.lua").write_text(_WRK_SCRIPT)
        with open(work / "bodies.jsonl", "w") as out:
            for i in picks:
                out.write(json.dumps({"model": "knn", "items": prefixes[i][-10:], "k": 20}) + "\n")
        print(f"{source}: {train['session_id'].nunique():,} sessions, {train['item_id'].nunique():,} items, "
              f"session kNN fitted in {fit_s:.1f} s; {len(picks):,} distinct test prefixes as requests")

        port = free_port()
        server = subprocess.Popen([args.serve, "--port", str(port), "--threads", str(args.threads),
                                   "--model", f"knn={work / 'knn.comptoir'}"], stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, server)
            rows = [("GET /healthz (HTTP floor)", run_wrk(args, port, work / "load.lua")),
                    ("POST /v1/recommend (k=20)", run_wrk(args, port, work / "load.lua", work / "bodies.jsonl"))]
            stop = threading.Event()
            reloader = threading.Thread(target=reload_every_second, args=(server.pid, stop))
            before = reloads_done(port)
            reloader.start()
            try:
                rows.append(("POST /v1/recommend, SIGHUP every second",
                             run_wrk(args, port, work / "load.lua", work / "bodies.jsonl")))
            finally:
                stop.set()
                reloader.join()
            reloads = reloads_done(port) - before
            alive = server.poll() is None
        finally:
            server.terminate()
            server.wait(timeout=30)

    floor = rows[0][1]["requests"] / rows[0][1]["seconds"]
    print(f"\nwrk -t{args.wrk_threads} -c{args.connections} -d{args.seconds}s, comptoir-serve --threads {args.threads}, "
          f"{os.cpu_count()} cores shared by server and client\n")
    print("| endpoint | requests/s | p50 ms | p99 ms | max ms | failed | vs floor |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    failed_total = 0
    for name, r in rows:
        rate = r["requests"] / r["seconds"]
        failed = r["socket_errors"] + r["non_2xx"]
        failed_total += failed if "SIGHUP" in name else 0
        print(f"| {name} | {rate:,.0f} | {r['p50_us'] / 1e3:.3f} | {r['p99_us'] / 1e3:.3f} | {r['max_us'] / 1e3:.1f} "
              f"| {failed} | {rate / floor:.2f} |")
    print(f"\nreloads completed during the SIGHUP run: {reloads}; service alive afterwards: {alive}")
    return 0 if alive and failed_total == 0 and reloads > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
