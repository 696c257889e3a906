"""``edgert bench``, ``edgert bench-model`` and ``edgert profile``: what an impulse or a network
costs on this machine (and on a Cortex-M4F), against the pipelines a user would otherwise run."""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from ..recording_args import positive_int

log = logging.getLogger("edgert.bench")

BENCH_EPILOG = """\
What is measured, one window per call unless said otherwise (CPU and wall time, min / median /
p99 over many windows):
  dsp             every DSP block (edgert's C) | the numpy/scipy spectral reference
  classification  edgert's native engine | each installed interpreter (LiteRT with XNNPACK,
                  LiteRT reference kernels, tflite-micro), with numpy (de)quantization
  anomaly         K-means in C | in numpy
  impulse         the whole impulse on one window (the compiled one-window plan, or the batch
                  path for an impulse the plan cannot represent) | the per-window Python
                  pipeline; and whole-recording classification
                  (all windows in whole-array C calls) with 1 and --threads threads
  stream          Stream.push of one window increase of samples
Every task gets a short time slice in turn until --seconds have passed, so the speed-up
ratios (reference median / edgert median) come from the same run under the same load. The
input is a synthetic signal of the impulse's axes and frequency (the cost of the DSP and the
networks does not depend on the values). Memory: arena and model bytes (exact), what the
loaded impulse holds (tracemalloc), each interpreter's resident growth (RSS delta).
A reference that is not installed is listed as not measured, with the package to install
(pip install 'edgert[bench]' has them all).

--json prints the document described in docs/bench.md (schema edgert-bench/1): stable keys,
numbers in microseconds and bytes, for diffing runs and machines.

examples:
  edgert bench examples/motion-demo
  edgert bench examples/motion-demo --threads 2 --seconds 20 --json > bench.json
  edgert bench examples/motion-demo --plot bench.png
  edgert bench bench.json --plot bench.png        # plot a saved --json result again
"""

MODEL_EPILOG = """\
Times one .tflite network: edgert's native engine batched (invoke_batch, per inference) and
single (invoke), and each installed interpreter invoked per inference (LiteRT with XNNPACK,
LiteRT reference kernels, tflite-micro), interleaved, on the same deterministic inputs (edge
rows, then random values of the input's type). Checks edgert's outputs against tflite-micro
(int8: bit for bit). A model the native engine cannot run is named with the operator that
keeps it off, and runs through edgert's TFLite interpreter fallback in the same harness.

examples:
  edgert bench-model tests/data/models/mlperf-tiny/kws_ref_model.tflite
  edgert bench-model model.tflite --json > model-bench.json
"""

PROFILE_EPILOG = """\
Prints an entry shaped like Edge Impulse's onDevicePerformance (latency in ms per window;
ramRequired, romRequired, arenaSize, modelSize in bytes) for the whole impulse, with "eon"
being edgert's compiled plan:
  host        measured on this machine (one window per call; memory by tracemalloc; the
              native library's loaded size); "tflite": the networks in TFLite Micro
  cortex-m4f  the impulse exported as C (edgert export-c; int8 by default) for a Cortex-M4F
              at 80 MHz: built with arm-none-eabi-gcc and run under qemu-system-arm
              (mps2-an386); flash and RAM (stack high-water and scratch included) from the
              export's `make size-report`, latency from the entry point's instructions per
              window under -icount (an estimate: one instruction per cycle). Needs the
              toolchain, QEMU and make; without them it says what is missing.

examples:
  edgert profile examples/motion-demo
  edgert profile examples/motion-demo --target cortex-m4f --json
"""


def positive_seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure what an impulse costs here, against the "
                                     "reference pipelines",
                       description="Benchmark an impulse bundle: per-stage latency, "
                                   "throughput, memory, and speed-up over the reference "
                                   "pipelines that are installed, measured in the same run.",
                       epilog=BENCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory or .zip (or a saved "
                                                    "`--json` result with --plot)")
    p.add_argument("--variant", metavar="{float32,int8}",
                   help="model variant (default: float32 when the bundle has it, else int8)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="also time whole-recording classification split over N threads "
                        "(the scaling; default: 1)")
    p.add_argument("--seconds", type=positive_seconds, default=10.0,
                   help="measurement time budget, shared by all stages (default: 10)")
    p.add_argument("--json", action="store_true", help="print the result document as JSON")
    p.add_argument("--plot", metavar="PNG", help="also write a plot of per-window latency "
                                                 "by stage (needs matplotlib)")
    p.set_defaults(func=run_bench)

    p = sub.add_parser("bench-model", help="measure one .tflite network against the "
                                           "interpreters",
                       description="Benchmark one .tflite network: edgert's native engine "
                                   "(batched and single) against each installed TFLite "
                                   "interpreter, in the same run.",
                       epilog=MODEL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL.tflite", help="a TensorFlow Lite model file")
    p.add_argument("--json", action="store_true", help="print the result document as JSON")
    p.set_defaults(func=run_bench_model)

    p = sub.add_parser("profile", help="latency, RAM and ROM of an impulse on a target, "
                                       "as Edge Impulse's onDevicePerformance",
                       description="Profile an impulse for a target: latency per window and "
                                   "memory, shaped like Edge Impulse's onDevicePerformance.",
                       epilog=PROFILE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory or .zip")
    p.add_argument("--target", choices=("host", "cortex-m4f"), default="host",
                   help="where (default: host)")
    p.add_argument("--variant", metavar="{float32,int8}",
                   help="model variant (default: float32 when the bundle has it, else int8)")
    p.add_argument("--json", action="store_true", help="print the profile document as JSON")
    p.set_defaults(func=run_profile)


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False)


def _saved_result(path: str) -> Any:
    """A saved `edgert bench --json` document, or None when ``path`` is not one."""
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return None
    from ...errors import InputError
    try:
        doc = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON document ({exc})") from None
    from ...bench.schema import BENCH_SCHEMA_ID
    if not isinstance(doc, dict) or doc.get("schema") != BENCH_SCHEMA_ID:
        raise InputError(f"{path}: not an `edgert bench --json` result (schema "
                         f"{BENCH_SCHEMA_ID}); give a bundle directory or .zip to measure")
    return doc


def run_bench(args: argparse.Namespace) -> int:
    from ..output import emit_json
    from ...bench.report import render
    doc = _saved_result(args.bundle)
    if doc is None:
        from ...bench.run import bench_bundle
        doc = bench_bundle(args.bundle, variant=args.variant, threads=args.threads,
                           seconds=args.seconds, progress=_progress(args))
    elif not args.plot:
        from ...errors import InputError
        raise InputError(f"{args.bundle} is a saved result: add --plot PNG to plot it, or give "
                         "a bundle to measure")
    if args.plot:
        from ...bench.plot import plot_bundle
        plot_bundle(doc, args.plot)
        log.info("wrote %s", args.plot)
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(render(doc))
    return 0


def run_bench_model(args: argparse.Namespace) -> int:
    from ..output import emit_json
    from ...bench.report import render
    from ...bench.run import bench_model
    doc = bench_model(args.model, progress=_progress(args))
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(render(doc))
    return 0


def run_profile(args: argparse.Namespace) -> int:
    from ..output import emit_json
    from ...bench.profile import profile_host, profile_m4f
    if args.target == "host":
        doc = profile_host(args.bundle, variant=args.variant)
    else:
        doc = profile_m4f(args.bundle, variant=args.variant)
    if args.json:
        emit_json(doc)
        return 0
    e = doc["onDevicePerformance"][0]
    w = sys.stdout.write
    w(f"edgert profile {doc['bundle']} --target {doc['target']} (variant {doc['variant']})\n")
    w(f"{e['name']}\n")
    w(f"latency      {e['latency']:.4f} ms per window" + ("" if e["hasPerformance"] else
                                                          f" (none: {e.get('profilingError')})")
      + "\n")
    for key in ("eon", "tflite"):
        if key in e:
            s = e[key]
            label = "edgert" if key == "eon" else "tflite-micro"
            w(f"{key:<12} ({label}) RAM {s['ramRequired']} B, ROM {s['romRequired']} B, arena "
              f"{s['arenaSize']} B, model {s['modelSize']} B\n")
    for m in e.get("customMetrics", []):
        w(f"  {m['name']}: {m['value']}\n")
    return 0
