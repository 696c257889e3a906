#!/usr/bin/env python3
"""Native TFLite engine vs the interpreters, on the fixtures of tests/data/models/.

For each model, on the same random inputs (int8 or float32 of the model's input shape):
- native single: ``m.invoke(x)``, one window per call (latency, Python call included);
- native batch: ``m.invoke_batch(X)``, all windows in one C call (throughput);
- litert: ai-edge-litert with its default resolver (optimized kernels + XNNPACK), the
  ``set_tensor / invoke / get_tensor`` loop a Python user writes;
- litert-ref: the same loop with BUILTIN_REF reference kernels;
- micro: the tflite-micro interpreter loop (``set_input / invoke / get_output``).
Every figure is CPU microseconds per window, the median of `--repeats` timed repeats, and the
ratios are interpreter / native measured in the same run. Also the native arena bytes. Writes
benches/results/engine.md.

Targets (from the engine issue): dense int8 batched <= 0.3 us/window, and >= 5x faster per
window than the interpreter loop; and (engine audit) a single ``invoke`` - the per-window call
of a live stream - faster than the interpreter's invoke loop.

    python benches/bench_engine.py [--repeats 7] [--quick]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from edgert.engine import load_model  # noqa: E402
from tests.oracles import LitertOracle, MicroOracle, edge_inputs  # noqa: E402

MODELS = os.path.join(ROOT, "tests", "data", "models")
RESULTS = os.path.join(ROOT, "benches", "results", "engine.md")
# (fixture, windows per repeat): fewer windows for the conv nets, whose interpreter loops
# take ~100 us per window.
CASES = [
    ("dense_ei_i8.tflite", 4000),
    ("dense_ei_f32.tflite", 4000),
    ("conv1d_ei_i8.tflite", 2000),
    ("conv1d_ei_f32.tflite", 2000),
    ("conv2d_pc_i8.tflite", 400),
    ("conv2d_pc_f32.tflite", 400),
    ("gmm_f32.tflite", 4000),
    ("ops_mix_i8.tflite", 2000),
]
TARGET_BATCH_US = 0.3
TARGET_SPEEDUP = 5.0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def round_robin_us(fns: dict, repeats: int) -> dict:
    """{name: median CPU microseconds per window} of ``fns`` ({name: (callable, windows)}).
    CPU time of the process (``time.process_time``: every thread, so an interpreter's worker
    threads count too), which a shared, loaded machine disturbs less than wall time.
    The callables run in turn within each repeat (after one warm-up round), so a change of
    machine load between repeats hits every engine alike and the ratios stay fair."""
    times: dict = {k: [] for k in fns}
    for r in range(repeats + 1):
        for k, (fn, n) in fns.items():
            t0 = time.process_time()
            fn()
            if r:
                times[k].append((time.process_time() - t0) / n * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def interpreter_loop(it, X: np.ndarray):
    """The tight per-window loop over an oracle's interpreter, without the oracle wrapper's
    copies (its fastest Python form)."""
    if isinstance(it, MicroOracle):
        raw = it._it
        shape = it.inputs[0].shape
        rows = [np.ascontiguousarray(x.reshape(shape)) for x in X]

        def run():
            for x in rows:
                raw.set_input(x, 0)
                raw.invoke()
                raw.get_output(0)
        return run
    raw = it._it
    i_idx, o_idx = it._in[0]["index"], it._out[0]["index"]
    shape = it.inputs[0].shape
    rows = [np.ascontiguousarray(x.reshape(shape)) for x in X]

    def run():
        for x in rows:
            raw.set_tensor(i_idx, x)
            raw.invoke()
            raw.get_tensor(o_idx)
    return run


def micro_arena(micro: MicroOracle) -> tuple:
    """(activation "head", total) arena bytes TFLite Micro's recording allocator reports
    (printed by its C++ code on fd 2, captured here); (None, None) when not found."""
    import re
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            micro._it.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    head = re.search(r"Arena allocation head (\d+) bytes", text)
    total = re.search(r"Arena allocation total (\d+) bytes", text)
    return (int(head.group(1)) if head else None, int(total.group(1)) if total else None)


def bench_model(name: str, n: int, repeats: int) -> dict:
    path = os.path.join(MODELS, name)
    m = load_model(path, backend="native")
    micro = MicroOracle(path)
    X = edge_inputs(micro.inputs[0], n - 7, seed=7)[:n]
    X = np.ascontiguousarray(X)
    n_single = min(n, 1000)
    singles = [X[i][None] for i in range(n_single)]

    def native_single():
        for x in singles:
            m.invoke(x)

    def native_batch1():   # what a stream classifying each new window calls
        for x in singles:
            m.invoke_batch(x)

    fns = {
        "native_batch": (lambda: m.invoke_batch(X), n),
        "native_single": (native_single, n_single),
        "native_batch1": (native_batch1, n_single),
        "litert": (interpreter_loop(LitertOracle(path, reference=False), X), n),
        "litert_ref": (interpreter_loop(LitertOracle(path, reference=True), X), n),
        "micro": (interpreter_loop(micro, X), n),
    }
    res = {"model": name, "arena": m.arena_bytes}
    # What is timed must be right: the native outputs against TFLite Micro's on 200 windows.
    ours = m.invoke_batch(X[:200])
    ours = ours[0] if isinstance(ours, list) else ours
    theirs = micro.invoke_batch(X[:200])[0]
    if ours.dtype == np.float32 and "_f32" in name:
        res["exact"] = "max rel %.0e" % float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-6)))
    else:
        res["exact"] = "bit-exact" if np.array_equal(ours, theirs) else "DIFFERS"
    res.update(round_robin_us(fns, repeats))
    res["micro_head"], res["micro_total"] = micro_arena(micro)
    return res


def render(rows: list, repeats: int) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Native TFLite engine vs interpreters",
        "",
        f"- date: {now}",
        f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores "
        "(shared with other jobs: medians)",
        f"- python {platform.python_version()}, numpy {np.__version__}",
        f"- every figure: CPU microseconds per window (process time), median of {repeats} repeats (the engines "
        "take turns within each repeat); inputs random "
        "(edge rows first) of each model's input shape, the same for every engine",
        "- native batch = one `invoke_batch` call over all windows; native single = `invoke` "
        "per window (Python call included); native batch of 1 = `invoke_batch` of one window "
        "per call (what a stream classifying each new window pays); litert = ai-edge-litert default resolver "
        "(XNNPACK), litert-ref = BUILTIN_REF kernels, micro = tflite-micro; interpreter figures "
        "are the Python `set / invoke / get` loop",
        "- arena B: the native engine's activation arena (one window); in brackets TFLite "
        "Micro's recording allocator: the activation part of its arena (comparable) and its "
        "total with interpreter bookkeeping",
        "",
        "| model | vs micro | arena B (micro: activations / total) | native batch | native single | native batch of 1 "
        "| litert | litert-ref | micro | litert / batch | micro / batch | litert / single |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| `{r['model']}` | {r['exact']} | {r['arena']} ({r['micro_head']} / {r['micro_total']}) | {r['native_batch']:.3f} | {r['native_single']:.2f} | {r['native_batch1']:.2f} "
            f"| {r['litert']:.2f} | {r['litert_ref']:.2f} | {r['micro']:.2f} "
            f"| {r['litert'] / r['native_batch']:.1f}x | {r['micro'] / r['native_batch']:.1f}x "
            f"| {r['litert'] / r['native_single']:.2f}x |")
    dense = next((r for r in rows if r["model"] == "dense_ei_i8.tflite"), None)
    if dense:
        best_loop = min(dense["litert"], dense["litert_ref"], dense["micro"])
        ok_us = dense["native_batch"] <= TARGET_BATCH_US
        ok_x = best_loop / dense["native_batch"] >= TARGET_SPEEDUP
        out += [
            "",
            "## Targets (dense int8, `dense_ei_i8`)",
            "",
            f"- batched <= {TARGET_BATCH_US} us/window: {dense['native_batch']:.3f} us "
            f"-> {'met' if ok_us else 'NOT met'}",
            f"- >= {TARGET_SPEEDUP:.0f}x faster per window than the fastest interpreter loop "
            f"({best_loop:.2f} us): {best_loop / dense['native_batch']:.1f}x "
            f"-> {'met' if ok_x else 'NOT met'}",
            f"- single `invoke` per window faster than the fastest interpreter loop: "
            f"{dense['native_single']:.2f} us vs {best_loop:.2f} us "
            f"({best_loop / dense['native_single']:.2f}x) -> "
            f"{'met' if dense['native_single'] < best_loop else 'NOT met'}",
        ]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="dense models only, 3 repeats")
    args = ap.parse_args()
    cases = CASES[:2] if args.quick else CASES
    repeats = 3 if args.quick else args.repeats
    rows = []
    for name, n in cases:
        r = bench_model(name, n, repeats)
        rows.append(r)
        print(f"{name:24s} batch {r['native_batch']:.3f} us  single {r['native_single']:.2f} us  "
              f"litert {r['litert']:.2f}  ref {r['litert_ref']:.2f}  micro {r['micro']:.2f}",
              file=sys.stderr)
    text = render(rows, repeats)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
