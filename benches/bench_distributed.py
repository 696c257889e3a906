#!/usr/bin/env python3
"""classify-all on a Dask cluster against the local thread pool, fresh runs, same run.

Dataset: the classify_all benchmark's signed JSON files (10 s of motion data each; see
bench_classify_all.py), in a temporary folder. Each repeat measures, in turn (interleaved, so
load from other users of the machine falls on all of them alike):

* local, 1 thread: ``Dataset(folder)`` (indexing: read, SHA-256, decode, HS256) then
  ``classify_all(threads=1)`` - the reference;
* local, 2 threads;
* ``--workers 2`` as the CLI runs it: a LocalCluster of 2 worker processes started, the folder
  indexed and classified on it in one pass (each file read and decoded once, on a worker),
  the page built, the cluster stopped;
* the same on a cluster that is already running (what ``--scheduler`` gives).

Also measured, for the scaling estimate in docs/distributed.md: the cost of one sample on one
core (reference time / files), the scheduler's round trip per task (empty tasks), and the
bytes a task sends back per sample.

    python benches/bench_distributed.py [--repeats 5] [--files 480]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from bench_classify_all import BUNDLE, KEY, make_dataset  # noqa: E402
from run_all import cpu_model  # noqa: E402

from edgert.dataset import Dataset  # noqa: E402
from edgert.dataset.classify_all import classify_all  # noqa: E402
from edgert.dataset.distributed import dask_client, refresh_on_cluster  # noqa: E402
from edgert.runtime.impulse import Impulse  # noqa: E402


def _noop(x: int) -> int:
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--files", type=int, default=480)
    args = ap.parse_args()
    imp = Impulse.load(BUNDLE)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        make_dataset(folder, args.files)
        n = 0

        def index_path() -> Path:
            nonlocal n
            n += 1
            return Path(tmp) / f"index-{n}.sqlite"

        def local(threads: int, limit=None) -> float:
            t0 = time.perf_counter()
            with Dataset(folder, hmac_key=KEY, index_path=index_path()) as ds:
                classify_all(imp, ds, threads=threads, progress=False, limit=limit)
            return time.perf_counter() - t0

        driver_cpu: list = []

        def on_cluster(client, limit=None) -> float:
            t0, c0 = time.perf_counter(), time.process_time()
            with Dataset(folder, hmac_key=KEY, index_path=index_path(), refresh=False) as ds:
                refresh_on_cluster(ds, client, imp, None, "testing")
                classify_all(imp, ds, progress=False, client=client, limit=limit)
            if limit is None:
                driver_cpu.append(time.process_time() - c0)
            return time.perf_counter() - t0

        def workers_cli(_=None) -> float:
            t0 = time.perf_counter()
            with dask_client(workers=2) as c:
                on_cluster(c)
            return time.perf_counter() - t0

        runs: dict = {"local 1 thread": [], "local 2 threads": [],
                      "--workers 2 (cluster started and stopped)": [],
                      "running 2-worker cluster": [],
                      "page of 20 (metrics over all): local 1 thread": [],
                      "page of 20 (metrics over all): running 2-worker cluster": []}
        with dask_client(workers=2) as running:
            local(1)
            on_cluster(running)                      # warm-up: imports, bundle load
            for _ in range(args.repeats):
                runs["local 1 thread"].append(local(1))
                runs["local 2 threads"].append(local(2))
                runs["--workers 2 (cluster started and stopped)"].append(workers_cli())
                runs["running 2-worker cluster"].append(on_cluster(running))
                runs["page of 20 (metrics over all): local 1 thread"].append(local(1, 20))
                runs["page of 20 (metrics over all): running 2-worker cluster"].append(
                    on_cluster(running, 20))
            # scheduler round trip per task: many empty tasks
            futs = running.map(_noop, range(2000), pure=False)
            t0 = time.perf_counter()
            futs = running.map(_noop, range(2000, 4000), pure=False)
            running.gather(futs)
            per_task = (time.perf_counter() - t0) / 2000
            # what a task returns per sample: one encoded cache row
            with Dataset(folder, hmac_key=KEY, index_path=index_path()) as ds:
                classify_all(imp, ds, progress=False, threads=1)
                rows = ds.conn.execute("SELECT * FROM classifications").fetchall()
            row_bytes = statistics.median(len(pickle.dumps(tuple(r))) for r in rows)
    load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in runs.items()}
    ref = med["local 1 thread"]
    per_sample = ref / args.files
    driver = statistics.median(driver_cpu) / args.files
    lines = [
        "# classify-all on Dask", "",
        f"- machine: {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} (shared "
        "machine: absolute times are noisy, the ratios less so)",
        f"- dataset: {args.files} signed JSON files x 10 s (625 rows x 3 axes), testing "
        "category; bundle examples/motion-demo (int8 + K-means); every run is fresh (new "
        "index: indexing, classification, page with metrics)",
        f"- medians of {args.repeats} interleaved repeats (wall clock); spread = min..max", "",
        "| what | median s | spread s | local 1 thread (same page) / this |",
        "|---|---:|---:|---:|",
    ]
    for name, times in runs.items():
        base = med["page of 20 (metrics over all): local 1 thread"] if name.startswith("page") \
            else ref
        lines.append(f"| {name} | {med[name]:.3f} | {min(times):.3f}..{max(times):.3f} | "
                     f"{base / med[name]:.2f}x |")
    lines += [
        "",
        f"Per sample on one core (reference / files): {per_sample * 1e3:.2f} ms. Scheduler "
        f"round trip per task (2000 empty tasks): {per_task * 1e3:.3f} ms. Returned per sample: "
        f"{row_bytes:.0f} bytes (one encoded cache row). CPU of the process that owns the index "
        f"(listing, sending tasks, writing index and cache rows, the page), per sample: "
        f"{driver * 1e3:.2f} ms. These feed the scaling estimate in docs/distributed.md.",
        "",
        "Where the time goes: the process that owns the index does its part serially - "
        "listing the folder, writing index and cache rows and, above all, building the page: "
        "a page of every sample holds one Studio prediction object per window (48,480 here) "
        "and every sample's classification objects, as a local run builds them too. With that "
        "serial part the 2-worker ceiling is well below 2x (Amdahl); a page of 20 samples "
        "leaves mostly the parallel part. On this 2-core machine the 2 worker processes also "
        "share the cores with the scheduler and the index owner. Starting a LocalCluster "
        "costs about a second, which a run of this size does not amortise - on a long-lived "
        "cluster (`--scheduler`) the running-cluster figures apply.",
    ]
    out = ROOT / "benches" / "results" / "distributed.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
