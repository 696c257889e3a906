#!/usr/bin/env python3
"""Whole-recording throughput of the example impulse (examples/motion-demo): one hour of
3-axis accelerometer data at 62.5 Hz, 2 s windows every 80 ms, DSP + int8 network + K-means
anomaly, through ``Impulse.classify``.

Window count: N = 225,000 rows, W = 125, S = 5 samples, so floor((N - W) / S) + 1 = 44,976
windows (spec/anomaly-windowing-quantization.md; the issue's "44,975" leaves out the + 1, i.e.
the window at 0 s). The script checks it.

Reference, measured in the same run: the straightforward per-window Python pipeline - the
numpy spectral-analysis reference (tests/reference/spectral_ref.py), the TFLite Micro
interpreter (``tflite-micro``; ai-edge-litert when it is missing) invoked once per window, and
the K-means score in numpy. It is far too slow to run over the whole hour, so it runs on a
subset of windows and its time is extrapolated per window (the report says so).

Also: the same hour split over 2 threads (the C calls release the GIL), and the stages alone.
Writes benches/results/impulse.md.

    python benches/bench_impulse.py [--repeats 5] [--baseline-windows 300]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benches"))

from edgert.runtime.impulse import Impulse  # noqa: E402
from run_all import cpu_model  # noqa: E402  (one copy for every bench)

BUNDLE = ROOT / "examples" / "motion-demo"
HOUR_ROWS = int(3600 * 62.5)


def measure(fn, repeats: int) -> tuple[float, float]:
    """Medians of wall-clock and process CPU time (the CPU time is what the work costs on a
    machine shared with other jobs: waiting for a core is not counted)."""
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def measure_pair(fn_a, fn_b, repeats: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """:func:`measure` of two functions with their runs interleaved (a, b, a, b, ...), so a
    change in the machine's load during the run affects both alike (the 1- vs 2-thread ratio
    is taken on these)."""
    a, b = [], []
    for _ in range(repeats):
        a.append(measure(fn_a, 1))
        b.append(measure(fn_b, 1))
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    measure_pair.best_ratio = max(x[0] / y[0] for x, y in zip(a, b))  # type: ignore[attr-defined]
    return (med(a, 0), med(a, 1)), (med(b, 0), med(b, 1))


def synthetic_hour(seed: int = 0) -> np.ndarray:
    """An hour of motion-like data: the SDK reference windows (real accelerometer shapes)
    tiled with noise and varying gain, so windows are not identical."""
    ref = json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]
    raw = np.concatenate([np.asarray(w["raw"], np.float32).reshape(125, 3) for w in ref])
    reps = -(-HOUR_ROWS // raw.shape[0])
    rng = np.random.default_rng(seed)
    x = np.tile(raw, (reps, 1))[:HOUR_ROWS]
    gain = 1.0 + 0.1 * np.sin(np.arange(HOUR_ROWS) / 977.0)[:, None]
    return (x * gain + rng.normal(0, 0.05, x.shape)).astype(np.float32)


class Baseline:
    """The per-window Python pipeline the benchmark compares against."""

    def __init__(self, imp: Impulse):
        from tests.reference import spectral_ref  # numpy reference of the spectral block
        self.ref = spectral_ref
        spec = imp.bundle.dsp[0]
        self.params = dict(spec.params)
        self.version = spec.implementation_version
        self.freq = imp.frequency
        keras = imp.bundle.learn[0]
        model = keras.models["int8"]
        self.in_scale, self.in_zp = model.inputs[0].scale, model.inputs[0].zero_point
        self.out_scale, self.out_zp = model.outputs[0].scale, model.outputs[0].zero_point
        md = imp.bundle.learn[1].metadata
        self.axes = np.asarray(md["axes"])
        self.mean = np.asarray(md["mean"], np.float32)
        self.scale = np.asarray(md["scale"], np.float32)
        self.centers = np.asarray([c["center"] for c in md["clusters"]], np.float32)
        self.max_error = np.asarray([c["maxError"] for c in md["clusters"]], np.float32)
        try:
            from tflite_micro.python.tflite_micro import runtime
            self.interp = runtime.Interpreter.from_bytes(model.data)
            self.kind = "tflite-micro"
            self._invoke = self._invoke_micro
        except ImportError:  # pragma: no cover - fallback interpreter
            from ai_edge_litert.interpreter import Interpreter
            self.interp = Interpreter(model_content=model.data)
            self.interp.allocate_tensors()
            self.kind = "ai-edge-litert"
            self._invoke = self._invoke_litert

    def _invoke_micro(self, q: np.ndarray) -> np.ndarray:
        self.interp.set_input(q.reshape(1, -1), 0)
        self.interp.invoke()
        return np.asarray(self.interp.get_output(0)).reshape(-1)

    def _invoke_litert(self, q: np.ndarray) -> np.ndarray:
        d_in = self.interp.get_input_details()[0]["index"]
        d_out = self.interp.get_output_details()[0]["index"]
        self.interp.set_tensor(d_in, q.reshape(1, -1))
        self.interp.invoke()
        return self.interp.get_tensor(d_out).reshape(-1)

    def features(self, window: np.ndarray) -> np.ndarray:
        return np.asarray(self.ref.spectral_features(
            window.reshape(-1), window.shape[1], self.freq, self.params, self.version),
            dtype=np.float32)

    def window(self, window: np.ndarray):
        f = self.features(window)
        x = f / np.float32(self.in_scale)
        q = np.clip(np.sign(x) * np.floor(np.abs(x) + 0.5) + self.in_zp, -128, 127).astype(np.int8)
        probs = (self.out_scale * (self._invoke(q).astype(np.float32) - self.out_zp))
        z = (f[self.axes] - self.mean) / self.scale
        anomaly = min(1000.0, float(np.min(np.linalg.norm(z - self.centers, axis=1)
                                            - self.max_error)))
        return probs, anomaly


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline-windows", type=int, default=300)
    args = ap.parse_args()

    imp = Impulse.load(BUNDLE, backend="native")
    x = synthetic_hour()
    n_windows = len(imp.windows(x.shape[0]))
    W, S = imp.window_samples, imp.window_increase_samples
    assert (W, S) == (125, 5) and n_windows == (HOUR_ROWS - W) // S + 1 == 44976, n_windows
    imp.classify(x[:20000])  # warm-up

    (t1, c1), (t2, c2) = measure_pair(lambda: imp.classify(x),
                                      lambda: imp.classify(x, threads=2), args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    data = imp.prepare(x)
    starts = imp.windows(data.shape[0])
    feats = imp.compute_features(data, starts)
    keras, anomaly = imp.learn_blocks
    w_dsp, t_dsp = measure(lambda: imp.compute_features(data, starts), args.repeats)
    w_nn, t_nn = measure(lambda: keras.predict(feats[2], "int8"), args.repeats)
    w_an, t_an = measure(lambda: anomaly.score(feats[2]), args.repeats)

    base_note = ""
    try:
        base = Baseline(imp)
        sub = starts[np.linspace(0, len(starts) - 1, args.baseline_windows).astype(int)]

        def run_base():
            for s in sub:
                base.window(data[s:s + 125])
        run_base()  # warm-up
        tb_sub = measure(run_base, max(1, min(3, args.repeats)))[1]
        tb_per = tb_sub / len(sub)
        tb = tb_per * n_windows
        base_note = (f"per-window Python pipeline (numpy spectral reference + {base.kind} "
                     f"invoke + numpy K-means), timed on {len(sub)} windows spread over the "
                     f"hour, CPU time extrapolated: {tb_per * 1e6:.1f} us/window")
    except ImportError as exc:
        tb = float("nan")
        base_note = f"baseline not available ({exc})"

    lines = [
        "## Impulse: whole-recording classification (bench_impulse.py)",
        "",
        f"Machine: {platform.node()} ({cpu_model()}, {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, shared with other jobs), Python "
        f"{platform.python_version()}, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}.",
        "",
        f"Workload: examples/motion-demo (spectral analysis v2 FFT 16 -> 33 features, int8 "
        f"33-21-14-4 network, K-means 32 clusters), 1 hour at 62.5 Hz ({HOUR_ROWS} rows x 3 "
        f"axes), 2 s windows every 80 ms = floor(({HOUR_ROWS} - {W}) / {S}) + 1 = "
        f"{n_windows} windows (the issue's 44,975 leaves out the + 1). Medians of "
        f"{args.repeats} runs (1- and 2-thread runs interleaved).",
        "",
        f"The machine is shared (load average {load:.1f} on {os.cpu_count()} CPUs during the "
        "run), so wall-clock times include waiting for a core; the CPU time (process time) is "
        "the cost of the work itself and the ratio is taken on it.",
        "",
        "| what | time for the hour (CPU) | wall clock | per window (CPU) | vs baseline (CPU) |",
        "|---|---|---|---|---|",
        f"| baseline: {base_note} | {tb:.2f} s (extrapolated) | | {tb / n_windows * 1e6:.1f} us "
        "| 1x |",
        f"| edgert `Impulse.classify`, 1 thread | {c1:.3f} s | {t1:.3f} s | "
        f"{c1 / n_windows * 1e6:.2f} us | {tb / c1:.0f}x |",
        f"| edgert `Impulse.classify(threads=2)` | {c2:.3f} s | {t2:.3f} s | "
        f"{c2 / n_windows * 1e6:.2f} us | wall-clock speed-up over 1 thread "
        f"{t1 / t2:.2f}x (2.0 = linear); CPU/wall {c2 / t2:.2f} (2.0 = both cores busy) |",
        f"| stage: DSP (one C call) | {t_dsp:.3f} s | {w_dsp:.3f} s | "
        f"{t_dsp / n_windows * 1e6:.2f} us | |",
        f"| stage: network (quantize + one batched invoke + dequantize) | {t_nn:.3f} s | "
        f"{w_nn:.3f} s | {t_nn / n_windows * 1e6:.2f} us | |",
        f"| stage: K-means anomaly (one C call) | {t_an:.4f} s | {w_an:.4f} s | "
        f"{t_an / n_windows * 1e6:.3f} us | |",
        "",
        f"Target: <= 0.5 s for the hour on one core: {'met' if c1 <= 0.5 else 'NOT met'} "
        f"({c1:.3f} s CPU, {t1:.3f} s wall clock). For scale, Edge Impulse's C++ SDK takes about 19 us per window on an "
        f"x86_64 core (examples/motion-demo/README.md), i.e. about "
        f"{19e-6 * n_windows:.2f} s for this hour.",
        "",
        f"Scaling on 2 cores: median wall-clock speed-up {t1 / t2:.2f}x with 2 threads, best "
        f"interleaved pair {measure_pair.best_ratio:.2f}x "  # type: ignore[attr-defined]
        f"({'near-linear' if t1 / t2 >= 1.7 else 'NOT near-linear'} by the 1.7x mark on the "
        f"median). The machine's 2 CPUs are shared with other jobs (load {load:.1f}), so the "
        f"second core is often busy elsewhere; the CPU/wall figure {c2 / t2:.2f} says how much "
        "of 2 cores the 2-thread run actually got. The C calls release the GIL.",
        "",
    ]
    out = ROOT / "benches" / "results" / "impulse.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
