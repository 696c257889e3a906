#!/usr/bin/env python3
"""Spectral Analysis throughput: edgert's batch call (all windows in one C call) against the
numpy/scipy reference implementation (tests/reference/spectral_ref.py) window by window.

Configurations (3 axes each):
  (a) v2, 62.5 Hz, 2 s windows (125 samples), FFT 16, no filter, log, overlap
      (the DISCO-L475VG-IOT01A demo impulse);            target <= 5 us/window
  (b) v4, 62.5 Hz, 2 s windows, FFT 128, low-pass order 6 at 3 Hz, log, overlap;
                                                          target <= 10 us/window
  (c) v4, 1 kHz, 2 s windows (2000 samples), FFT 256, high-pass order 4 at 20 Hz, log,
      overlap;                                            target <= 60 us/window
  (c6) as (c) with Studio's default filter order 6;      target <= 60 us/window
Windows slide by 1 sample over a synthetic accelerometer recording (sine + noise + gravity on
the last axis). Each figure is the median over repeats of (time of the call / windows); both
wall-clock and the calling thread's CPU time are reported (the CPU time is the steadier figure
on a shared machine). Writes benches/results/spectral.md.

    python benches/bench_spectral.py [--repeats 15] [--quick]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgert.dsp import SpectralAnalysis  # noqa: E402
from tests.reference import spectral_ref  # noqa: E402

AXES = ["accX", "accY", "accZ"]
CONFIGS = [
    ("a", "v2, 62.5 Hz, N=16, no filter", 2, 62.5, 125,
     {"fft-length": 16, "filter-type": "none"}, 5.0),
    ("b", "v4, 62.5 Hz, N=128, low-pass 3 Hz order 6", 4, 62.5, 125,
     {"fft-length": 128, "filter-type": "low", "filter-cutoff": 3, "filter-order": 6}, 10.0),
    ("c", "v4, 1 kHz, N=256, high-pass 20 Hz order 4", 4, 1000.0, 2000,
     {"fft-length": 256, "filter-type": "high", "filter-cutoff": 20, "filter-order": 4}, 60.0),
    # the issue names no order for (c): Studio's default order (6) costs one more biquad
    ("c6", "v4, 1 kHz, N=256, high-pass 20 Hz order 6 (Studio default)", 4, 1000.0, 2000,
     {"fft-length": 256, "filter-type": "high", "filter-cutoff": 20, "filter-order": 6}, 60.0),
]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def recording(n_rows: int, fs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows) / fs
    cols = [np.sin(2 * np.pi * (1.3 + a) * t) + 0.2 * rng.standard_normal(n_rows)
            for a in range(3)]
    cols[2] += 9.81
    return np.column_stack(cols).astype(np.float32)


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and thread-CPU seconds of fn() over repeats (after one warm-up)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="fewer windows (smoke run)")
    args = ap.parse_args()
    rows = []
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for key, title, version, fs, n, params, target in CONFIGS:
        n_win = (200 if key.startswith("c") else 2000) // (10 if args.quick else 1)
        n_ref = max(5, n_win // (20 if key.startswith("c") else 40))
        data = recording(n + n_win, fs)
        starts = np.arange(n_win)
        block = SpectralAnalysis(params, fs, AXES, version)
        got = block.features_batch(data, starts[:n_ref], n)
        want = spectral_ref.spectral_features_batch(data, starts[:n_ref], n, fs, params, version)
        err = float(np.max(np.abs(got - want) / np.maximum(1, np.abs(want))))
        ew, ec = timed(lambda: block.features_batch(data, starts, n), args.repeats)
        rw, rc = timed(lambda: spectral_ref.spectral_features_batch(
            data, starts[:n_ref], n, fs, params, version), max(3, args.repeats // 3))
        e_us, e_cpu = ew / n_win * 1e6, ec / n_win * 1e6
        r_us, r_cpu = rw / n_ref * 1e6, rc / n_ref * 1e6
        rows.append((key, title, block.n_features(n), e_us, e_cpu, r_us, r_cpu, target, err))
        print(f"({key}) {title}: edgert {e_us:.2f} us/window wall, {e_cpu:.2f} us CPU; "
              f"reference {r_us:.0f} us; x{r_cpu / e_cpu:.0f}; max rel. diff {err:.1e}",
              flush=True)
    now = _dt.datetime.now(_dt.timezone.utc)
    lines = [
        "## Spectral analysis (`benches/bench_spectral.py`)",
        "",
        f"{now:%Y-%m-%d %H:%M UTC}, {cpu_model()} ({platform.machine()}, "
        f"{platform.system()}), Python {platform.python_version()}, numpy {np.__version__}; "
        "one thread. edgert: `features_batch` over consecutive windows (stride 1 sample) in one "
        "C call; reference: `tests/reference/spectral_ref.py` (numpy/scipy) window by window. "
        f"Medians of {args.repeats} repeats (reference: {max(3, args.repeats // 3)}); CPU = "
        "the calling thread's CPU time (steadier than wall time on a shared machine). "
        f"Load average (1 min) {load_before:.1f} before, "
        f"{(os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')):.1f} after the "
        f"run on {os.cpu_count()} CPUs: on a loaded machine the CPU times are inflated too "
        "(shared cores and caches).",
        "",
        "| config | features | edgert us/window (wall) | edgert us/window (CPU) | target | "
        "reference us/window (CPU) | speed-up (CPU) | max rel. diff vs ref |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, title, nf, e_us, e_cpu, r_us, r_cpu, target, err in rows:
        ok = "met" if e_cpu <= target else "NOT met"
        lines.append(f"| ({key}) {title} | {nf} | {e_us:.2f} | {e_cpu:.2f} | <= {target:g} "
                     f"({ok}) | {r_cpu:.0f} | x{r_cpu / e_cpu:.0f} | {err:.1e} |")
    out = ROOT / "benches" / "results" / "spectral.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
