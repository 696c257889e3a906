#!/usr/bin/env python3
"""CBOR pre-scan cost per byte of hostile floods (empty arrays/maps, nulls, one-element chains,
rows of empty arrays or booleans in `values`) as a multiple of a valid firmware document's, in
the same run: what the scanner's second fast path buys (the byte-level walk costs ~30-50x).
Writes benches/results/acquisition.md. Medians of interleaved repeats."""
from __future__ import annotations

import datetime as _dt
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor  # noqa: E402
from edgert.acquisition import cbor_codec  # noqa: E402
from run_all import cpu_model  # noqa: E402

REPEATS = 7
TARGET = 16.0


def scan_cost(data: bytes) -> float:
    t = time.process_time()
    cbor_codec._scan(data, 16)
    return (time.process_time() - t) / len(data)


def main() -> int:
    acc = [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")]
    vals = np.random.default_rng(0).normal(size=(8000, 3)).astype(np.float32)
    valid = encode_cbor(DataAcquisition(device_name="d", device_type="t", interval_ms=16,
                                        sensors=acc, values=vals.astype(np.float64),
                                        alg="none"))
    head = valid[:valid.index(b"fvalues") + 7]
    n = len(valid)
    floods = {"empty arrays": b"\x80" * n, "empty maps": b"\xa0" * n, "nulls": b"\xf6" * n,
              "one-element chains": (b"\x81" * 10 + b"\x00") * (n // 11),
              "rows of empty arrays": b"\x83\x80\x80\x80" * (n // 4),
              "rows of booleans": b"\x83\xf4\xf5\xf6" * (n // 4)}
    base = statistics.median(scan_cost(valid) for _ in range(REPEATS))
    rows = []
    for name, body in floods.items():
        data = head + b"\x9f" + body + b"\xff"
        ratios = [scan_cost(data) / scan_cost(valid) for _ in range(REPEATS)]
        r = statistics.median(ratios)
        rows.append(f"| {name} | {r:.1f}x | {'met' if r < TARGET else 'NOT met'} |")
        print(f"{name}: {r:.1f}x a valid document's scan cost per byte")
    out = ROOT / "benches" / "results" / "acquisition.md"
    out.write_text(
        "## Acquisition: CBOR pre-scan of hostile input (`benches/bench_acquisition.py`)\n\n"
        f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}, {cpu_model()} "
        f"({platform.machine()}), Python {platform.python_version()}. Valid firmware document: "
        f"{n} bytes, {base * 1e9:.0f} ns/byte CPU (median of {REPEATS}). Each flood is the same "
        "size inside `values`; ratio = its scan cost per byte / the valid document's, interleaved, "
        f"median of {REPEATS}. Target: under {TARGET:.0f}x (the byte-level walk: ~30-50x).\n\n"
        "| flood | cost per byte vs valid | target |\n|---|---:|---|\n" + "\n".join(rows) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
