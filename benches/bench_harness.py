#!/usr/bin/env python3
"""The user-facing benchmark harness (``edgert bench`` / ``bench-model`` / ``profile``) run over
the example configurations and MLPerf Tiny: writes benches/results/harness.md (a section of
benches/RESULTS.md), the raw documents benches/results/harness.json (schema edgert-bench/1,
for diffing runs), and two PNGs: benches/results/harness-stages.png (per-window latency by
stage across the configurations) and benches/results/harness-mlperf-tiny.png (MLPerf Tiny
ratios).

Configurations: the two example bundles and five imported real Edge Impulse exports of
tests/data/exports/ (imported here with `edgert import` into a temporary folder), covering
spectral analysis v1/v2/v4, raw and flatten blocks, 4 Hz to 2.5 kHz, int8 and float32 networks,
K-means. Every ratio is reference / edgert, CPU medians, measured in the same run,
interleaved; figures not measured in this run are listed apart and never divided.

    python benches/bench_harness.py [--seconds 10] [--config-seconds 4] [--model-seconds 6]
                                    [--skip-m4f]
    python benches/run_all.py --assemble     # then rebuild RESULTS.md
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgert.bench.plot import plot_configurations, plot_model_ratios  # noqa: E402
from edgert.bench.profile import ProfileUnavailable, profile_m4f  # noqa: E402
from edgert.bench.run import bench_bundle, bench_model  # noqa: E402
from edgert.bench.schema import BENCH_SCHEMA, validate  # noqa: E402
from edgert.bench.timing import load_average  # noqa: E402

RESULTS = ROOT / "benches" / "results"
EXPORTS = ROOT / "tests" / "data" / "exports"
MLPERF = ROOT / "tests" / "data" / "models" / "mlperf-tiny"
# (name, bundle or export folder, what it is)
CONFIGS = [
    ("motion-demo", ROOT / "examples" / "motion-demo",
     "spectral v2 FFT 16, 62.5 Hz x 3 axes, int8 33-20-10-4, K-means"),
    ("motion-demo-2020-v1", ROOT / "examples" / "motion-demo-2020-v1",
     "spectral v1, low-pass, FFT 128, 62.5 Hz x 3, float32 network"),
    ("transport-motion-2024", EXPORTS / "transport-motion-2024",
     "spectral v4, 100 Hz x 3, int8 network"),
    ("continuous-motion-2023", EXPORTS / "continuous-motion-2023",
     "spectral v2, 726 Hz x 3 (1452-sample windows), K-means"),
    ("motion-9axis-2022", EXPORTS / "motion-9axis-2022",
     "spectral v2, 100 Hz x 9 axes"),
    ("smart-meter-2022", EXPORTS / "smart-meter-2022",
     "spectral v1 + flatten (two DSP blocks), 2.5 kHz x 5"),
    ("ergonomic-raw-2021", EXPORTS / "ergonomic-raw-2021",
     "raw block, 102 Hz x 3 (612 features)"),
]
MODELS = [("AD: ToyCar autoencoder", "ad01_int8.tflite"),
          ("KWS: DS-CNN", "kws_ref_model.tflite"),
          ("VWW: MobileNetV1 0.25", "vww_96_int8.tflite"),
          ("IC: ResNet-8", "pretrainedResnet_quant.tflite")]
# Figures from elsewhere: shown for scale, never as a ratio.
NOT_MEASURED_HERE = [
    "Edge Impulse's C++ SDK (`run_classifier`) on the motion demo impulse, on an x86_64 core "
    "of this machine type: about 19 us per window at -O2, 24 us at its default -Os "
    "(examples/motion-demo/README.md; issue 17). Measured in an earlier session, not in "
    "this run.",
    "Edge Impulse's published figures for a comparable impulse on a Cortex-M4F at 80 MHz "
    "(spectral analysis + 33-20-10-4 network + K-means): 17 ms per window, 6.4 KB RAM, "
    "42.5 KB ROM. Published by Edge Impulse, not measured here.",
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bundle_of(name: str, source: Path, tmp: Path) -> Path:
    if (source / "impulse.json").is_file():
        return source
    out = tmp / name
    subprocess.run([sys.executable, "-m", "edgert", "-q", "import", str(source), "-o",
                    str(out)], check=True, cwd=ROOT, capture_output=True)
    return out


def stage(doc: dict, st: str, pipe: str):
    return next((s for s in doc["stages"] if s["stage"] == st and s["pipeline"] == pipe), None)


def rat(doc: dict, st: str, pipe: str, ref: str):
    return next((r for r in doc["ratios"] if r["stage"] == st and r["pipeline"] == pipe
                 and r["reference"] == ref), None)


def us(v) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def x(r) -> str:
    return "-" if not r or r["cpu"] is None else (f"{r['cpu']:.0f}x" if r["cpu"] >= 10 else
                                                  f"{r['cpu']:.2f}x")


def spread(s) -> str:
    """p99 / median of the CPU samples: how noisy the stage was."""
    if not s or not s["cpu_us"]["median"]:
        return "-"
    return f"{s['cpu_us']['p99'] / s['cpu_us']['median']:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="budget of the example bundle's run (default 10, as `edgert bench`)")
    ap.add_argument("--config-seconds", type=float, default=4.0,
                    help="budget of each other configuration (default 4)")
    ap.add_argument("--model-seconds", type=float, default=6.0,
                    help="budget of each MLPerf Tiny model (default 6, as bench-model)")
    ap.add_argument("--skip-m4f", action="store_true", help="skip the Cortex-M4F profile")
    args = ap.parse_args()
    t_start = time.perf_counter()
    load0 = load_average()
    docs: dict = {"configurations": {}, "models": {}, "m4f": None}
    with tempfile.TemporaryDirectory(prefix="edgert-harness-") as tmpdir:
        tmp = Path(tmpdir)
        for i, (name, src, what) in enumerate(CONFIGS):
            bundle = bundle_of(name, src, tmp)
            secs = args.seconds if i == 0 else args.config_seconds
            log(f"bench {name} ({secs:g} s)")
            doc = bench_bundle(bundle, threads=2, seconds=secs, progress=False)
            doc["subject"]["path"] = str(src.relative_to(ROOT))
            validate(doc, BENCH_SCHEMA)
            docs["configurations"][name] = doc
        for label, fname in MODELS:
            log(f"bench-model {fname} ({args.model_seconds:g} s)")
            doc = bench_model(MLPERF / fname, seconds=args.model_seconds, progress=False)
            doc["subject"]["path"] = str((MLPERF / fname).relative_to(ROOT))
            validate(doc, BENCH_SCHEMA)
            docs["models"][fname] = doc
        if not args.skip_m4f:
            log("profile --target cortex-m4f")
            try:
                docs["m4f"] = profile_m4f(CONFIGS[0][1])
            except ProfileUnavailable as exc:
                docs["m4f"] = {"unavailable": str(exc)}
    load1 = load_average()
    elapsed = time.perf_counter() - t_start
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "harness.json").write_text(json.dumps(docs, indent=1) + "\n")
    names = [n for n, _, _ in CONFIGS]
    plot_configurations([docs["configurations"][n] for n in names], names,
                        RESULTS / "harness-stages.png")
    plot_model_ratios([docs["models"][f] for _, f in MODELS], [m for m, _ in MODELS],
                      RESULTS / "harness-mlperf-tiny.png")
    text = render(docs, load0, load1, elapsed, args)
    (RESULTS / "harness.md").write_text(text)
    print(text)
    return 0


def render(docs: dict, load0, load1, elapsed: float, args) -> str:
    demo = docs["configurations"]["motion-demo"]
    m = demo["machine"]
    out = [
        "## The benchmark harness: `edgert bench`, `bench-model`, `profile` "
        "(`benches/bench_harness.py`)",
        "",
        f"{demo['date']} on {m['hostname']} ({m['cpu']}, {m['arch']}, {m['logical_cpus']} "
        f"logical CPUs, shared with other jobs), Python {m['python']}, numpy {m['numpy']}. "
        f"Load average (1 min) {load0[0] if load0 else '?'} before and "
        f"{load1[0] if load1 else '?'} after the {elapsed:.0f} s run: on a loaded machine the "
        "wall times wait for a core and the CPU times are inflated too (shared caches), so "
        "compare ratios, not absolute times.",
        "",
        "Method (docs/bench.md): every task gets a 20 ms time slice in turn until the budget is "
        "spent; wall time per call, CPU time (process) per slice; every ratio is reference "
        "median / edgert median CPU time per window, **both measured in this run, "
        "interleaved**; the reference is named in each column. Spread = CPU p99 / median over "
        "the slices (1.00 = steady). The inputs are synthetic signals of each impulse's axes "
        "and rate (DSP and network costs do not depend on the values). Raw documents: "
        "`benches/results/harness.json` (schema edgert-bench/1).",
        "",
    ]
    # ------------------------------------------------------------- the example bundle
    sub = demo["subject"]
    out += [f"### The README's example bundle: `edgert bench examples/motion-demo --threads 2 "
            f"--seconds {args.seconds:g}`", "",
            f"Variant {sub['variant']}; one window per call runs through: "
            f"{sub['one_window_path']}.", "",
            "| stage | pipeline | CPU us/window (median) | spread | wall us (median / p99) "
            "| samples (calls / slices) |",
            "|---|---|---:|---:|---:|---:|"]
    for s in demo["stages"]:
        out.append(f"| {s['stage']} | {s['pipeline']}{' (reference)' if s['reference'] else ''} "
                   f"| {us(s['cpu_us']['median'])} | {spread(s)} | {us(s['wall_us']['median'])}"
                   f" / {us(s['wall_us']['p99'])} | {s['samples']} / {s['cpu_samples']} |")
    out += ["", "| stage | edgert | reference | reference / edgert (CPU) | (wall) |",
            "|---|---|---|---:|---:|"]
    for r in demo["ratios"]:
        wall = "-" if r["wall"] is None else f"{r['wall']:.1f}x"
        out.append(f"| {r['stage']} | {r['pipeline']} | {r['reference']} | {x(r)} | {wall} |")
    tp = demo["throughput"]
    runs = {r["threads"]: r for r in tp["runs"]}
    out += ["", f"Whole recording ({tp['windows']} windows per `classify` call): "
                f"{runs[1]['windows_per_s']:,.0f} windows/s on 1 thread "
                f"({us(runs[1]['cpu_us_per_window'])} us CPU per window)"
            + (f"; 2 threads: {runs[2]['windows_per_s']:,.0f} windows/s, "
               f"{runs[2]['speedup_vs_1_thread']:.2f}x the 1-thread rate (2.0 = linear; the "
               "second core is shared with other jobs)" if 2 in runs else "") + ".", ""]
    mem = [mm for mm in demo["memory"] if mm["pipeline"] in ("edgert", "tflite-micro",
                                                             "litert-xnnpack")]
    out += ["Memory: " + "; ".join(f"{mm['pipeline']} {mm['what']}: {mm['bytes']} B "
                                   f"({mm['method']})" for mm in mem) + ".", ""]
    out += ["Checks: " + "; ".join(f"{c['what']}: {c['result']}" for c in demo["checks"]) + ".",
            ""]
    # ---------------------------------------------------------- configurations
    out += ["### Per-window latency by stage across example configurations", "",
            "edgert's CPU microseconds per window (median): each stage one window per call, "
            "the whole impulse one window per call, and per window of a whole recording; the "
            "per-window Python pipeline (numpy/scipy DSP + tflite-micro + numpy K-means) in "
            "the same run, and the speed-ups over it. `-`: no reference for that block "
            "(raw/flatten blocks have no numpy reference here), or no such stage.", "",
            "![per-window latency by stage](results/harness-stages.png)", "",
            "| configuration | what | DSP | network | anomaly | whole impulse, 1 window/call "
            "| per window, whole recording | Python pipeline | speed-up 1 window/call | "
            "speed-up whole recording |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, _, what in CONFIGS:
        d = docs["configurations"][name]
        py = stage(d, "impulse", "python-reference")
        out.append(
            f"| {name} | {what} | {us((stage(d, 'dsp', 'edgert') or {}).get('cpu_us', {}).get('median'))} "
            f"| {us((stage(d, 'classification', 'edgert') or {}).get('cpu_us', {}).get('median'))} "
            f"| {us((stage(d, 'anomaly', 'edgert') or {}).get('cpu_us', {}).get('median'))} "
            f"| {us((stage(d, 'impulse', 'edgert') or {}).get('cpu_us', {}).get('median'))} "
            f"| {us((stage(d, 'impulse', 'edgert-whole-recording') or {}).get('cpu_us', {}).get('median'))} "
            f"| {us(py['cpu_us']['median']) if py else '-'} "
            f"| {x(rat(d, 'impulse', 'edgert', 'python-reference'))} "
            f"| {x(rat(d, 'impulse', 'edgert-whole-recording', 'python-reference'))} |")
    # ---------------------------------------------------------------- MLPerf Tiny
    out += ["", "### MLPerf Tiny reference int8 models (`edgert bench-model`)", "",
            "tests/data/models/mlperf-tiny/ (mlcommons/tiny, Apache-2.0; SOURCES.md). CPU "
            "microseconds per inference (median); ratios = interpreter / edgert, same run, "
            "interleaved (> 1: edgert faster). edgert batched = `invoke_batch` of 8-32 "
            "inputs per call; single = `invoke` of one input (Python call included); "
            "interpreters: the Python set / invoke / get loop, one thread.", "",
            "![MLPerf Tiny ratios](results/harness-mlperf-tiny.png)", "",
            "| model | engine | vs tflite-micro | arena B: edgert / micro | edgert batched | "
            "edgert single | litert-xnnpack | litert-reference | tflite-micro | "
            "xnnpack / single | reference / single | micro / single | micro / batched |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, fname in MODELS:
        d = docs["models"][fname]
        sj = d["subject"]
        pre = "edgert" if sj["engine"] == "native" else "edgert-fallback"
        mem = {(mm["pipeline"], mm["method"]): mm["bytes"] for mm in d["memory"]}
        med = lambda p: us((stage(d, "inference", p) or {}).get("cpu_us", {}).get("median"))  # noqa: E731
        out.append(
            f"| {label} (`{fname}`) | {sj['engine']}"
            + (f" ({sj['native_unsupported']})" if sj.get("native_unsupported") else "")
            + f" | {d['checks'][0]['result'] if d['checks'] else '-'} "
            f"| {mem.get((pre, 'arena'), '-')} / {mem.get(('tflite-micro', 'arena'), '-')} "
            f"| {med(pre + '-batched')} | {med(pre + '-single')} | {med('litert-xnnpack')} "
            f"| {med('litert-reference')} | {med('tflite-micro')} "
            f"| {x(rat(d, 'inference', pre + '-single', 'litert-xnnpack'))} "
            f"| {x(rat(d, 'inference', pre + '-single', 'litert-reference'))} "
            f"| {x(rat(d, 'inference', pre + '-single', 'tflite-micro'))} "
            f"| {x(rat(d, 'inference', pre + '-batched', 'tflite-micro'))} |")
    slower = [label for label, fname in MODELS
              if (r := rat(docs["models"][fname], "inference",
                           ("edgert" if docs["models"][fname]["subject"]["engine"] == "native"
                            else "edgert-fallback") + "-single", "litert-xnnpack"))
              and r["cpu"] is not None and r["cpu"] < 1]
    if slower:
        out += ["", f"Where a ratio is below 1x edgert is the slower one: LiteRT with XNNPACK "
                    f"beats edgert's portable C kernels on {', '.join(slower)} (XNNPACK runs "
                    "hand-tuned SIMD microkernels; edgert's int8 arithmetic is TFLite Micro's, "
                    "bit for bit)."]
    out.append("")
    # ------------------------------------------------------------------ Cortex-M4F
    m4 = docs.get("m4f")
    out += ["### Cortex-M4F (`edgert profile examples/motion-demo --target cortex-m4f`)", ""]
    if m4 is None:
        out.append("Not run (--skip-m4f).")
    elif "unavailable" in m4:
        out.append(f"Not measured in this run: {m4['unavailable']}")
    else:
        e = m4["onDevicePerformance"][0]
        ins = m4["details"].get("instructions_per_window", {})
        out.append(f"Flash {e['eon']['romRequired']} B, RAM {e['eon']['ramRequired']} B "
                   f"(arena {e['eon']['arenaSize']} B, network constants "
                   f"{e['eon']['modelSize']} B), {ins.get('total', 0):,.0f} instructions per "
                   f"window under qemu-system-arm -icount"
                   + (f" (DSP {ins.get('dsp', 0):,.0f}, network "
                      f"{ins.get('classifier', ins.get('nn', 0)):,.0f}, "
                      f"anomaly {ins.get('anomaly', 0):,.0f})" if "dsp" in ins else "")
                   + f", i.e. about {e['latency']:.2f} ms per window at 80 MHz if one "
                   "instruction took one cycle (an estimate from emulation, not a measurement "
                   f"on hardware); build: {m4['details']['build']} (stack high-water "
                   f"{m4['details']['size'].get('stack_peak', 0)} B and scratch "
                   f"{m4['details'].get('scratch_bytes', 0)} B inside RAM); "
                   f"{m4['details']['host_agreement']}.")
    out += ["", "### Figures not measured in this run (for scale only, never a ratio)", ""]
    out += [f"- {t}" for t in NOT_MEASURED_HERE]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
