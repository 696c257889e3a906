#!/usr/bin/env python3
"""Per-request latency of a generated ``.eim`` (examples/motion-demo) driven by Edge Impulse's
official Python client (``edge_impulse_linux``'s ``ImpulseRunner``, its ``runner.py`` loaded
alone), against the in-process ``Impulse`` call on the same window, measured in the same run.

Paths measured, one 2 s window (375 raw values) per request, the 30 raw windows of
ei-sdk-reference.json in turn:

- in-process ``Impulse.classify(window)`` (the reference);
- in-process ``EimModel.classify_window`` (what the runner does per request, no IPC);
- official client, ``classify`` over the plain socket (375 numbers as JSON);
- official client, ``classify_shm`` (values written to POSIX shared memory, a small JSON
  request);
- a minimal socket client (``sendall`` + ``recv`` to the NUL + ``json.loads``): the protocol
  cost without the official client's character-by-character response loop.

Rounds interleave the paths (a, b, c, ... a, b, c, ...) so a change in the machine's load hits
them alike. Each request is timed alone (wall clock; the work spans two processes); the
report gives medians and the 10th-90th percentile spread, the ratio of medians to the
in-process call, and the runner's own ``msg_handler_us`` (time inside the runner per
request). Writes benches/results/eim.md.

    python benches/bench_eim.py [--rounds 15] [--requests 70]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from edgert.eim import write_eim  # noqa: E402
from edgert.eim.model import EimModel  # noqa: E402
from edgert.runtime.impulse import Impulse  # noqa: E402
from run_all import cpu_model  # noqa: E402  (one copy for every bench)
from tests.eim_helpers import official_runner_module  # noqa: E402

BUNDLE = ROOT / "examples" / "motion-demo"


class MinimalClient:
    """The protocol with nothing around it: one runner, one socket, sendall, recv to NUL."""

    def __init__(self, eim: Path, sock_path: Path):
        self.proc = subprocess.Popen([str(eim), str(sock_path)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        while not sock_path.exists():
            time.sleep(0.01)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(sock_path))
        self.n = 0
        self.request({"hello": 1})

    def request(self, msg: dict) -> dict:
        self.n += 1
        msg["id"] = self.n
        self.sock.sendall(json.dumps(msg).encode())
        buf = b""
        while not buf.endswith(b"\0"):
            buf += self.sock.recv(65536)
        return json.loads(buf[:-1])

    def close(self) -> None:
        self.sock.close()
        self.proc.wait(timeout=30)


def spread(xs: list[float]) -> tuple[float, float, float]:
    q = np.percentile(xs, [10, 50, 90])
    return float(q[1]), float(q[0]), float(q[2])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--requests", type=int, default=70, help="requests per path per round")
    args = ap.parse_args()

    if importlib.util.find_spec("edge_impulse_linux") is None:
        print("bench_eim: skipped: the official client is not installed "
              "(pip install edge_impulse_linux, or pip install '.[test]')")
        return 0
    official = official_runner_module()
    imp = Impulse.load(BUNDLE)
    model = EimModel(imp)
    windows = [np.asarray(w["raw"], dtype=np.float32) for w in
               json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]]
    as_lists = [w.astype(float).tolist() for w in windows]
    tmp = Path(tempfile.mkdtemp(prefix="bench-eim-"))
    eim = write_eim(BUNDLE, tmp / "motion.eim").path

    plain = official.ImpulseRunner(str(eim), allow_shm=False)
    plain.init()
    shm = official.ImpulseRunner(str(eim), allow_shm=True)
    shm.init()
    assert shm._input_shm is not None and plain._input_shm is None
    minimal = MinimalClient(eim, tmp / "minimal.sock")
    handler_us: dict[str, list[float]] = {"plain": [], "shm": [], "minimal": []}
    json_us: dict[str, list[float]] = {"plain": [], "shm": [], "minimal": []}

    def official_call(runner, key):
        def call(i):
            r = runner.classify(as_lists[i % 30])
            handler_us[key].append(r["timing"]["msg_handler_us"])
            json_us[key].append(r["timing"]["json_us"])
        return call

    def minimal_call(i):
        r = minimal.request({"classify": as_lists[i % 30]})
        handler_us["minimal"].append(r["timing"]["msg_handler_us"])
        json_us["minimal"].append(r["timing"]["json_us"])

    paths = {
        "in-process `Impulse.classify(window)`": lambda i: imp.classify(windows[i % 30]),
        "in-process `EimModel.classify_window` (the runner's work, no IPC)":
            lambda i: model.classify_window(windows[i % 30]),
        "official client, `classify` over the socket (JSON)": official_call(plain, "plain"),
        "official client, `classify_shm` (shared memory)": official_call(shm, "shm"),
        "minimal socket client, `classify` (JSON, sendall/recv/json.loads)": minimal_call,
        "(part of the JSON paths) `json.dumps` of one classify request, in the client":
            lambda i: json.dumps({"classify": as_lists[i % 30], "id": i}).encode(),
    }
    # the runner's answers equal the in-process call (checked once, not timed)
    ref = imp.classify(windows[3]).probabilities[0]
    for runner in (plain, shm):
        got = runner.classify(as_lists[3])["result"]["classification"]
        assert np.array_equal(np.float32([got[lab] for lab in imp.labels]), ref)
    for fn in paths.values():       # warm-up
        for i in range(20):
            fn(i)
    for v in (*handler_us.values(), *json_us.values()):
        v.clear()
    lat: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(args.rounds):
        for name, fn in paths.items():
            for i in range(args.requests):
                t0 = time.perf_counter()
                fn(i)
                lat[name].append(time.perf_counter() - t0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for runner in (plain, shm):
        proc = runner._runner
        runner.stop()
        proc.wait(timeout=30)
    minimal.close()

    ref_name = next(iter(paths))
    ref_med = statistics.median(lat[ref_name])
    rows = []
    handler_of = {"official client, `classify` over the socket (JSON)": "plain",
                  "official client, `classify_shm` (shared memory)": "shm",
                  "minimal socket client, `classify` (JSON, sendall/recv/json.loads)":
                      "minimal"}
    for name, xs in lat.items():
        med, p10, p90 = spread(xs)
        h = handler_of.get(name)
        inside = (f"{statistics.median(handler_us[h]):.0f} us + {statistics.median(json_us[h]):.0f}"
                  " us" if h else "")
        ratio = "" if name.startswith("(part") else f"{med / ref_med:.1f}x"
        rows.append(f"| {name} | {med * 1e6:.0f} us | {p10 * 1e6:.0f} - {p90 * 1e6:.0f} us | "
                    f"{ratio} | {inside} |")
    n = args.rounds * args.requests
    lines = [
        "## .eim runner: per-request latency through the official client (bench_eim.py)",
        "",
        f"Machine: {platform.node()} ({cpu_model()}, {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, shared with other jobs), Python "
        f"{platform.python_version()}, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}"
        f"; load average {load:.1f} at the end of the run.",
        "",
        "Workload: examples/motion-demo (spectral analysis v2 on a 2 s window of 3 axes = 375 "
        "raw values, int8 network, K-means anomaly), one window per request, the 30 raw "
        "windows of ei-sdk-reference.json in turn; the official client is edge_impulse_linux "
        f"{_official_version()} (its runner.py, unmodified). {n} requests per path: "
        f"{args.rounds} interleaved rounds of {args.requests}. Wall-clock time per request "
        "(client and runner are two processes on a shared 2-CPU machine).",
        "",
        "| path | median per request | 10th - 90th percentile | vs in-process call | "
        "inside the runner: handling + JSON decoding (medians of msg_handler_us, json_us) |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Reading: inside the runner a request costs its handling (the classification, the "
        "one-window Python pipeline around ~5 us of C, plus building the result) and the "
        "decoding of its JSON; the rest of the round trip is the client and two process "
        "wake-ups on the socket. Over the socket the request carries 375 numbers as text: "
        "encoding them in the client (the `json.dumps` row) and decoding them in the runner "
        "is what the shared-memory path saves. The minimal client costs about what the "
        "official one does over the socket, so the official client's character-by-character "
        "response loop is not the cost. Per-request overhead in the runner will shrink with "
        "a one-window, one-C-call Impulse API (issue 17).",
    ]
    out = ROOT / "benches" / "results" / "eim.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _official_version() -> str:
    try:
        from importlib.metadata import version
        return version("edge_impulse_linux")
    except Exception:
        return "(version unknown)"


if __name__ == "__main__":
    sys.exit(main())
