#!/usr/bin/env python3
"""Gateway daemon under load, loopback only, bounded in count and time.

The daemon runs as its own process (``edgert daemon``, the example bundle, access log to a
file); the load comes from ``wrk`` (C, one thread; installed with ``apt-get install wrk``,
which this script runs itself when ``wrk`` is missing and apt is there as root). A Python
generator was tried first: httpx's asyncio client tops out at a few hundred requests/s on
this machine (less with more connections), so it measured itself, not the daemon. Each
request is ``POST /api/classify?sync=true`` with one 2-second recording (125 x 3 values at
62.5 Hz in the short JSON form, the values as a device prints float32 samples): one window,
classified, stored and answered.

* **Rate ladder**: each rate runs ``--step`` seconds (three runs of a third: the median p99
  counts) with ``c = ceil(rate / 40)``
  connections, each pacing its requests (wrk's ``delay()``, dithered to fractions of a
  millisecond: ``1000 c / rate`` ms per request, less the latency seen at the step before),
  so the offered rate is set, not "as fast as possible". A step passes when wrk completed at
  least 90% of the offered rate (a saturated server completes less: the pacing is closed
  loop), p99 latency is under 10 ms and there were no errors (socket errors, timeouts,
  non-2xx answers). Reported: completed rate, p50/p99/max latency (wrk's
  HdrHistogram), errors, the daemon's CPU time per request. The answer is the highest rate
  that passes (target >= 1000 requests/s on this 2-core machine).
* **Memory over a minute**: ``--soak`` seconds at 70% of the best rate, the daemon's RSS
  sampled every second: first/last/max and the slope of a least-squares line.
* **Peak RSS** of the daemon process (VmHWM) with the example bundle, over the whole run
  (target under 60 MB).

    python benches/bench_daemon.py                  # ~2.5 minutes
    python benches/bench_daemon.py --quick          # ~40 s, fewer rates, 15 s soak

Results go to ``benches/results/daemon.md`` (assembled into RESULTS.md by run_all.py).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import shutil
import threading

from run_all import cpu_model, process_cpu_seconds  # one copy for every bench

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLE = ROOT / "examples" / "motion-demo"
SAMPLE = BUNDLE / "samples" / "idle.01.json"
KEY = "ei_bench_key"
P99_TARGET_MS = 10.0


def _f32(v: float) -> "object":
    import numpy as np
    return np.float32(v)


def proc_status(pid: int) -> Dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])  # kB
    return out


def start_daemon(tmp: Path) -> Tuple[subprocess.Popen, str]:
    cfg = tmp / "daemon.toml"
    cfg.write_text(f'bundle = "{BUNDLE}"\ndb = "{tmp / "gw.db"}"\nport = 0\n'
                   f'api_key = "{KEY}"\nhmac_key = "bench"\n'
                   '[limits]\nmax_connections = 256\n')
    log = open(tmp / "daemon.log", "wb")
    # as deploy/edgert-daemon.service runs it (fewer glibc malloc arenas)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MALLOC_ARENA_MAX="2")
    proc = subprocess.Popen([sys.executable, "-m", "edgert", "daemon", "--config", str(cfg),
                             "--json"], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    text = ""
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the daemon did not start: {(tmp / 'daemon.log').read_text()}")
        text += line
        if line.startswith("}"):
            return proc, json.loads(text)["url"]


LUA = """
wrk.method = "POST"
wrk.path = "/api/classify?sync=true"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "%(key)s"
local base, frac = %(base)d, %(frac)f
function delay()
  -- the mean delay is base + frac ms (wrk's timers take whole milliseconds)
  if math.random() < frac then return base + 1 end
  return base
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"errors\\": %%d, " ..
    "\\"non2xx\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("installing wrk (apt-get install wrk)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-q"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        path = shutil.which("wrk")
    if not path:
        raise SystemExit("bench_daemon needs wrk: apt-get install wrk (or your system's "
                         "package manager)")
    return path


def run_closed(wrk: str, url: str, body: str, conns: int, seconds: float, pid: int,
               tmp: Path) -> Dict[str, float]:
    """wrk as fast as ``conns`` connections go (each sends its next request on the
    answer): the daemon's capacity, latency then being mostly queueing."""
    script = tmp / "closed.lua"
    script.write_text(LUA % {"body": json.dumps(body), "key": KEY, "base": 0, "frac": 0.0})
    cpu0 = process_cpu_seconds(pid)
    out = subprocess.run([wrk, "-t1", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "2s",
                          "-s", str(script), url], capture_output=True, text=True,
                         timeout=seconds + 30)
    cpu = process_cpu_seconds(pid) - cpu0
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON "):])
    return {"conns": conns, "done_rate": r["requests"] / (r["duration_us"] / 1e6),
            "p50": r["p50_us"] / 1000.0, "p99": r["p99_us"] / 1000.0,
            "errors": r["errors"] + r["non2xx"],
            "cpu_ms": 1000.0 * cpu / max(1, r["requests"])}


def run_rate(wrk: str, url: str, body: str, rate: float, seconds: float, pid: int,
             tmp: Path, latency_ms: float = 2.0) -> Dict[str, float]:
    """wrk at ``rate`` requests/s for ``seconds``: ``conns`` connections, each waiting
    ``conns / rate`` s minus the expected latency between a response and its next request
    (so a slower server is offered less: the completed rate is checked)."""
    conns = max(2, int(math.ceil(rate / 40.0)))
    pace = max(0.0, conns * 1000.0 / rate - latency_ms)
    script = tmp / f"paced-{int(rate)}.lua"
    script.write_text(LUA % {"body": json.dumps(body), "key": KEY, "base": int(pace),
                             "frac": pace - int(pace)})
    cpu0 = process_cpu_seconds(pid)
    out = subprocess.run([wrk, "-t1", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "2s",
                          "-s", str(script), url], capture_output=True, text=True,
                         timeout=seconds + 30)
    cpu = process_cpu_seconds(pid) - cpu0
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {out.stdout}\\n{out.stderr}")
    r = json.loads(line[len("WRKJSON "):])
    done = r["requests"] / (r["duration_us"] / 1e6)
    return {"rate": rate, "conns": conns, "done_rate": done, "p50": r["p50_us"] / 1000.0,
            "p99": r["p99_us"] / 1000.0, "max": r["max_us"] / 1000.0,
            "errors": r["errors"] + r["non2xx"], "n": r["requests"],
            "cpu_ms": 1000.0 * cpu / max(1, r["requests"])}


def run_repeated(wrk: str, url: str, body: str, rate: float, seconds: float, pid: int,
                 tmp: Path, latency_ms: float, repeats: int) -> Dict[str, float]:
    """``repeats`` runs of ``seconds / repeats`` s at ``rate``: the median p50/p99 (a burst
    of load from other programs on this shared machine spoils one run, not the step), the
    worst max, all errors."""
    runs = [run_rate(wrk, url, body, rate, seconds / repeats, pid, tmp, latency_ms)
            for _ in range(repeats)]
    out = dict(runs[0])
    out.update({"done_rate": statistics.fmean(r["done_rate"] for r in runs),
                "p50": statistics.median(r["p50"] for r in runs),
                "p99": statistics.median(r["p99"] for r in runs),
                "p99s": [r["p99"] for r in runs],
                "max": max(r["max"] for r in runs), "errors": sum(r["errors"] for r in runs),
                "n": sum(r["n"] for r in runs),
                "cpu_ms": statistics.fmean(r["cpu_ms"] for r in runs)})
    return out


def passes(r: Dict[str, float]) -> bool:
    return (r["errors"] == 0 and r["p99"] < P99_TARGET_MS
            and r["done_rate"] >= 0.9 * r["rate"])


def soak(wrk: str, url: str, body: str, rate: float, seconds: float, pid: int, tmp: Path,
         latency_ms: float) -> Tuple[Dict[str, float], List[Tuple[float, int]]]:
    samples: List[Tuple[float, int]] = []
    stop = threading.Event()

    def sampler() -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - t0, proc_status(pid)["VmRSS"]))
            stop.wait(1.0)

    t = threading.Thread(target=sampler)
    t.start()
    try:
        res = run_rate(wrk, url, body, rate, seconds, pid, tmp, latency_ms)
    finally:
        stop.set()
        t.join()
    return res, samples


def slope_mb_per_min(samples: List[Tuple[float, int]]) -> float:
    xs = [t for t, _ in samples]
    ys = [kb / 1024.0 for _, kb in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 60.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--step", type=float, default=None, help="seconds per rate")
    ap.add_argument("--soak", type=float, default=None, help="seconds of the memory run")
    ap.add_argument("--rates", type=str, default=None, help="comma-separated rates")
    ap.add_argument("--out", default=str(HERE / "results" / "daemon.md"))
    args = ap.parse_args()
    step = args.step or (3.0 if args.quick else 9.0)
    soak_s = args.soak or (15.0 if args.quick else 60.0)
    rates = [float(r) for r in args.rates.split(",")] if args.rates else (
        [200, 500, 1000, 1500] if args.quick else
        [100, 200, 400, 600, 800, 1000, 1200, 1400, 1700, 2000])
    values = json.loads(SAMPLE.read_bytes())["payload"]["values"][:125]
    # as a device prints float32 samples (shortest form), not widened to 17 digits
    short = [[float(repr(float(_f32(v)))) for v in row] for row in values]
    body = json.dumps({"values": short, "interval_ms": 16})
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        proc, url = start_daemon(tmp)
        try:
            rss_idle = proc_status(proc.pid)
            ladder = []
            best: Optional[Dict[str, float]] = None
            misses = 0
            lat = run_rate(wrk, url, body, 100, 2.0, proc.pid, tmp)["p50"]  # warm-up
            for rate in rates:
                res = run_repeated(wrk, url, body, rate, step, proc.pid, tmp, lat, 3)
                lat = min(max(res["p50"], 0.5), 5.0)
                ladder.append(res)
                good = passes(res)
                print(f"rate {rate:6.0f}/s ({res['conns']} conns): done "
                      f"{res['done_rate']:7.1f}/s p50 {res['p50']:6.2f} ms p99 "
                      f"{res['p99']:7.2f} ms max {res['max']:7.2f} ms errors {res['errors']} "
                      f"cpu {res['cpu_ms']:.2f} ms/req {'ok' if good else 'over'}",
                      flush=True)
                if good:
                    best = res
                    misses = 0
                else:
                    misses += 1
                    if misses >= 2:
                        break
            closed = run_closed(wrk, url, body, 8, step, proc.pid, tmp)
            print(f"closed loop, 8 connections: {closed['done_rate']:.0f}/s p50 "
                  f"{closed['p50']:.2f} ms p99 {closed['p99']:.2f} ms errors "
                  f"{closed['errors']} cpu {closed['cpu_ms']:.2f} ms/req", flush=True)
            soak_rate = max(100.0, 0.7 * (best["rate"] if best else 200.0))
            sres, samples = soak(wrk, url, body, soak_rate, soak_s, proc.pid, tmp, lat)
            rss_end = proc_status(proc.pid)
            print(f"soak {soak_rate:.0f}/s for {soak_s:.0f} s: p99 {sres['p99']:.2f} ms, "
                  f"errors {sres['errors']}, RSS {samples[0][1] / 1024:.1f} -> "
                  f"{samples[-1][1] / 1024:.1f} MB (max {max(k for _, k in samples) / 1024:.1f}"
                  f"), slope {slope_mb_per_min(samples):+.2f} MB/min; peak RSS "
                  f"{rss_end['VmHWM'] / 1024:.1f} MB", flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
    write_report(Path(args.out), ladder, best, soak_rate, soak_s, sres, samples, rss_idle,
                 rss_end, step, closed)
    print(f"wrote {args.out}")
    return 0


def write_report(out: Path, ladder, best, soak_rate, soak_s, sres, samples, rss_idle,
                 rss_end, step, closed) -> None:
    now = _dt.datetime.now(_dt.timezone.utc)
    rows = "\n".join(
        f"| {r['rate']:.0f} | {r['conns']} | {r['done_rate']:.0f} | {r['p50']:.2f} | "
        f"{r['p99']:.2f} ({', '.join(f'{x:.1f}' for x in r['p99s'])}) | {r['max']:.1f} | "
        f"{r['errors']} | {r['cpu_ms']:.2f} | "
        f"{'yes' if passes(r) else 'no'} |" for r in ladder)
    first, last = samples[0][1] / 1024, samples[-1][1] / 1024
    peak = rss_end["VmHWM"] / 1024
    verdict = (f"**{best['rate']:.0f} requests/s** ({'met' if best['rate'] >= 1000 else 'not met'}"
               f": target >= 1000)" if best else "**no rate** passed")
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    text = f"""## Gateway daemon: live classification under load (`benches/bench_daemon.py`)

{now:%Y-%m-%d %H:%M} UTC, {cpu_model()} ({os.cpu_count()} CPUs, shared with the load
generator and with other work: load average {load} at the end), Python
{platform.python_version()}. The daemon is its own process (example bundle
`examples/motion-demo`, uvicorn + httptools + uvloop, access log on, results stored in
SQLite); the load is `wrk` (one thread) on the same machine, `ceil(rate / 40)` connections
each pacing its requests to offer the rate, {step:g} s per rate in three runs (the median
p99 counts: a burst of other work on this shared machine spoils one run, not the step). The
daemon runs with `MALLOC_ARENA_MAX=2`, as the systemd unit runs it. Each request:
`POST /api/classify?sync=true` with one 2-second recording (125 x 3 at 62.5 Hz, short JSON
form, float32 values as a device prints them). A rate passes when at least 90% of it was
completed, p99 < {P99_TARGET_MS:g} ms and there were 0 errors.

Highest passing rate: {verdict}.

| offered (req/s) | connections | completed (req/s) | p50 (ms) | p99 (ms): median (of each third) | max (ms) | errors | daemon CPU (ms/req) | passes |
|---:|---:|---:|---:|---:|---:|---:|---:|---|
{rows}

Capacity (closed loop: 8 connections, each sending its next request on the answer, {step:g}
s): **{closed['done_rate']:.0f} requests/s** completed, p50 {closed['p50']:.2f} ms, p99
{closed['p99']:.2f} ms (mostly queueing), {closed['errors']} errors, daemon CPU
{closed['cpu_ms']:.2f} ms per request. (At low rates the CPU per request is higher: every
request wakes threads that at high rates are already awake.)

Memory: {soak_s:g} s at {soak_rate:.0f} requests/s offered ({sres['done_rate']:.0f} completed,
p99 {sres['p99']:.2f} ms, {sres['errors']} errors): RSS {first:.1f} MB at the start,
{last:.1f} MB at the end, max {max(k for _, k in samples) / 1024:.1f} MB, least-squares slope
{slope_mb_per_min(samples):+.2f} MB/min. RSS idle after start: {rss_idle['VmRSS'] / 1024:.1f}
MB. Peak RSS of the daemon over the whole run (VmHWM, example bundle loaded):
**{peak:.1f} MB** ({'met' if peak < 60 else 'not met'}: target < 60 MB).
"""
    out.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
