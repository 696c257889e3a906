#!/usr/bin/env python3
"""Audio DSP throughput: edgert's MFCC / MFE / Spectrogram batch calls (all windows of a
recording in one C call) against the numpy reference implementation of the spec
(tests/reference/audio_ref.py) window by window, per 1-second window at 16 kHz; and the
continuous form (edgert.dsp.audio.ContinuousFeatures): the cost of one slice.

Configurations (16 kHz int16 speech-like audio, 1 s windows):
  mfcc     MFCC v4: 13 cepstra, 32 filters, FFT 256, 20 ms frames every 10 ms (99 frames),
           normalisation window 101                      target <= 300 us/window, one core
  mfcc-d   MFCC v4 with Studio's defaults (20 ms frames every 20 ms: 50 frames)
  mfe      MFE v4 (Studio defaults: 40 filters, FFT 256, 20/10 ms frames, noise floor -52)
  mfe-v2   MFE v2 (linear energies, sliding mean normalisation over 101 frames, 0-1 scaling)
  sg       Spectrogram v4 (FFT 128, 20/10 ms frames)
Windows are disjoint (every frame computed: the per-window cost); "sliding" runs the same
recording with windows every 250 ms, where the batch reuses the frames windows share.
Continuous: push_slice of 100, 250 and 500 ms slices into a 1 s window (per-slice cost: the new
frames, the wrap frame, the whole-window finish; with 20 ms strides a 250 ms slice is 12.5
frames, so frames line up every other window and half of them are new each slice).
Stream: `Impulse.stream()` of the keyword-spotting example (examples/kws-demo: MFCC v4 with
Studio's defaults, int8 CNN), window increases of 100, 250 and 500 ms, one push per slice (one
result each): slice by slice (the default for audio impulses) against whole windows through
the compiled plan (`stream(continuous=False)`), interleaved in the same run.

Each figure is the median over repeats of (time of the call / windows), wall-clock and the
calling thread's CPU time (the steadier figure on a shared machine), with the spread (min-max of
the repeats' CPU times). Writes benches/results/audio.md.

    python benches/bench_audio.py [--repeats 11] [--quick]
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

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # numpy's BLAS threads would spin

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgert.dsp import AUDIO_BLOCKS  # noqa: E402
from edgert.runtime.impulse import Impulse  # noqa: E402
from edgert.runtime.bundle import load_bundle  # noqa: E402
from tests.reference import audio_ref  # noqa: E402
from run_all import cpu_model  # noqa: E402  (one copy for every bench)

FS = 16000
CONFIGS = [
    ("mfcc", "MFCC v4, 13 cepstra, 32 filters, FFT 256, 20 ms / 10 ms", "mfcc", 4,
     {"frame_stride": 0.01}, 300.0),
    ("mfcc-d", "MFCC v4, Studio defaults (20 ms / 20 ms)", "mfcc", 4, {}, None),
    ("mfe", "MFE v4, Studio defaults (40 filters, 20 ms / 10 ms)", "mfe", 4, {}, None),
    ("mfe-v2", "MFE v2, 40 filters, 20 ms / 10 ms, window 101", "mfe", 2,
     {"low_frequency": 300}, None),
    ("sg", "Spectrogram v4, FFT 128, 20 ms / 10 ms", "spectrogram", 4, {}, None),
]
SLICES_MS = (100, 250, 500)


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    """int16 speech-like audio: a gliding harmonic stack with syllable envelopes and noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    f0 = 140 * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * t))
    ph = 2 * np.pi * np.cumsum(f0) / FS
    x = sum(np.sin(k * ph) / k for k in range(1, 25))
    env = np.clip(np.sin(2 * np.pi * 2.1 * t), 0, None) ** 0.7
    x = 0.3 * x * env + 0.01 * rng.standard_normal(n)
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.float32)


def timed(fn, repeats: int) -> tuple[float, float, float, float]:
    """Median wall, median thread-CPU, min and max thread-CPU seconds of fn() (after one
    warm-up run)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu), min(cpu), max(cpu)


def kws_impulse(increase_ms: int) -> Impulse:
    """examples/kws-demo with another window increase (the bundle read, the document edited
    in memory)."""
    bundle = load_bundle(ROOT / "examples" / "kws-demo")
    doc = dict(bundle.document)
    doc["input"] = dict(doc["input"], window_increase_ms=increase_ms)
    import json
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="edgert-bench-kws-"))
    for f in (ROOT / "examples" / "kws-demo").iterdir():
        if f.is_file():
            (tmp / f.name).write_bytes(f.read_bytes())
    (tmp / "impulse.json").write_text(json.dumps(doc))
    return Impulse.load(tmp, backend="native")


def bench_stream(x: np.ndarray, repeats: int) -> list[tuple[int, float, float, bool]]:
    """(slice ms, slice-by-slice us/push CPU, whole-window us/push CPU, frames reused) per
    slice size: medians over rounds, every round running each slice size and mode once in
    turn (so a change of machine load hits them alike); each run a fresh stream fed one slice
    per push, timed after its first window."""
    setups = []
    for ms in SLICES_MS:
        imp = kws_impulse(ms)
        S, W = imp.window_increase_samples, imp.window_samples
        chunks = [x[k * S:(k + 1) * S, None] for k in range(len(x) // S)]
        reuse = imp.stream()._slices.reuses_frames
        setups.append((ms, imp, chunks, -(-W // S), reuse))
    times: dict[tuple[int, bool], list[float]] = {}
    for _ in range(max(3, repeats)):
        for ms, imp, chunks, warm, _reuse in setups:
            for cont in (True, False):
                st = imp.stream(continuous=cont)
                for c in chunks[:warm]:
                    st.push(c)
                c0 = time.thread_time()
                got = 0
                for c in chunks[warm:]:
                    got += len(st.push(c))
                times.setdefault((ms, cont), []).append((time.thread_time() - c0) / got * 1e6)
    out = []
    for ms, _imp, _chunks, _warm, reuse in setups:
        out.append((ms, statistics.median(times[(ms, True)]),
                    statistics.median(times[(ms, False)]), bool(reuse)))
        print(f"  stream {ms} ms slices: {out[-1][1]:.0f} us/push slice by slice, "
              f"{out[-1][2]:.0f} us/push whole windows", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="fewer windows (smoke run)")
    args = ap.parse_args()
    n_win = 10 if args.quick else 60
    n_ref = 3 if args.quick else 8
    x = speech(n_win + 1)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows, cont_rows = [], []
    for key, title, btype, version, over, target in CONFIGS:
        block = AUDIO_BLOCKS[btype](over, FS, ["audio"], version)
        params = dict(audio_ref.DEFAULTS[btype])
        params.update(over)
        disjoint = np.arange(n_win) * FS
        sliding = np.arange(0, n_win * FS, FS // 4)
        got = block.features_batch(x, disjoint[:n_ref], FS)
        want = np.stack([audio_ref.features(btype, version, params, FS, x[s:s + FS])[0]
                         for s in disjoint[:n_ref]])
        err = float(np.max(np.abs(got - want) / np.maximum(1, np.abs(want))))
        e = timed(lambda: block.features_batch(x, disjoint, FS), args.repeats)
        s = timed(lambda: block.features_batch(x, sliding, FS), args.repeats)
        r = timed(lambda: [audio_ref.features(btype, version, params, FS, x[st:st + FS])
                           for st in disjoint[:n_ref]], max(3, args.repeats // 3))
        per = [v / n_win * 1e6 for v in e]
        per_s = [v / len(sliding) * 1e6 for v in s]
        per_r = [v / n_ref * 1e6 for v in r]
        rows.append((key, title, block.n_features(FS), per, per_s, per_r, target, err))
        print(f"{key}: {title}: edgert {per[1]:.0f} us/window CPU ({per[0]:.0f} wall), sliding "
              f"{per_s[1]:.0f}; reference {per_r[1]:.0f} us; x{per_r[1] / per[1]:.0f}; "
              f"max rel. diff {err:.1e}", flush=True)
        for ms in SLICES_MS:
            S = FS * ms // 1000
            cont = block.continuous(FS, S)
            n_sl = len(x) // S
            slices = [x[k * S:(k + 1) * S] for k in range(n_sl)]
            warm = FS // S

            def push_all():
                cont.reset()
                for sl in slices[:warm]:
                    cont.push_slice(sl)

            def stream():
                for sl in slices[warm:]:
                    cont.push_slice(sl)
            push_all()
            c = timed(lambda: (push_all(), stream()), max(3, args.repeats // 2))
            f = timed(push_all, max(3, args.repeats // 2))
            # per slice once the window is full: (fill + stream) - fill, over the streamed slices
            per_slice = [(a - b) / (n_sl - warm) * 1e6 for a, b in zip(c, f)]
            cont_rows.append((key, ms, per_slice[1], cont.reuses_frames))
            print(f"  continuous {ms} ms slices: {per_slice[1]:.0f} us/slice CPU"
                  + ("" if cont.reuses_frames else " (no frame reuse)"), flush=True)
    stream_rows = bench_stream(speech(12 if args.quick else 40, seed=3), args.repeats)
    now = _dt.datetime.now(_dt.timezone.utc)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Audio DSP (`benches/bench_audio.py`)",
        "",
        f"{now:%Y-%m-%d %H:%M UTC}, {cpu_model()} ({platform.machine()}, "
        f"{platform.system()}), Python {platform.python_version()}, numpy {np.__version__}; "
        "one thread. 16 kHz speech-like int16 audio, 1-second windows. edgert: "
        f"`features_batch` over {n_win} disjoint windows in one C call (every frame computed), "
        "and over windows every 250 ms (frames shared with earlier windows computed once: with "
        "20 ms strides 250 ms is 12.5 frames, so frames line up every other window); "
        "reference: `tests/reference/audio_ref.py` (numpy, float64) window by window. Medians "
        f"of {args.repeats} repeats (reference: {max(3, args.repeats // 3)}); CPU = the calling "
        "thread's CPU time, spread = min-max of the repeats' CPU times. Load average (1 min) "
        f"{load_before:.1f} before, {load_after:.1f} after the run on {os.cpu_count()} CPUs: "
        "on a loaded machine CPU times are inflated too (shared cores and caches).",
        "",
        "| config | features | edgert us/window (CPU, spread) | wall | target | sliding 250 ms "
        "us/window (CPU) | reference us/window (CPU) | speed-up (CPU) | max rel. diff vs ref |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, title, nf, per, per_s, per_r, target, err in rows:
        tgt = "-" if target is None else (
            f"<= {target:g} ({'met' if per[1] <= target else 'NOT met'})")
        lines.append(f"| ({key}) {title} | {nf} | {per[1]:.0f} ({per[2]:.0f}-{per[3]:.0f}) | "
                     f"{per[0]:.0f} | {tgt} | {per_s[1]:.0f} | {per_r[1]:.0f} | "
                     f"x{per_r[1] / per[1]:.0f} | {err:.1e} |")
    lines += [
        "",
        "Continuous (`ContinuousFeatures.push_slice`, 1 s window): CPU us per slice once the "
        "window is full - the frames holding the slice's samples, the pre-emphasis wrap frame "
        "(MFCC, MFE v3/v4) and the whole-window finish (normalisation / scaling), plus the "
        "Python call.",
        "",
        "| config | " + " | ".join(f"{ms} ms slice" for ms in SLICES_MS) + " |",
        "|---|" + "---|" * len(SLICES_MS),
    ]
    for key, *_ in rows:
        vals = {ms: (cpu, reuse) for k, ms, cpu, reuse in cont_rows if k == key}
        lines.append(f"| ({key}) | " + " | ".join(
            f"{vals[ms][0]:.0f}" + ("" if vals[ms][1] else " (no reuse*)") for ms in SLICES_MS)
            + " |")
    if any(not reuse for *_, reuse in cont_rows):
        lines += ["", "\\* windows that share frames are too far apart: every frame is "
                  "recomputed."]
    lines += [
        "",
        "Stream (`Impulse.stream()` of `examples/kws-demo`: MFCC v4, Studio defaults, 50 frames "
        "per 1 s window, int8 CNN), CPU us per push of one slice once the window is full (each "
        "push gives one result: DSP, network, result object). Slice by slice: the slice's new "
        "frames (with 20 ms strides a 100 or 500 ms slice is 5 or 25 frames; a 250 ms slice "
        "lines frames up every other window, so 25 new frames per window), the wrap frame, "
        "the normalisation over the window; whole windows: every frame of the window through "
        "the compiled plan (`stream(continuous=False)`). Same numbers either way (the tests "
        "check it); medians of interleaved rounds.",
        "",
        "| slice | slice by slice us/push (CPU) | whole windows us/push (CPU) | ratio |",
        "|---|---|---|---|",
    ]
    for ms, cont_us, whole_us, _reuse in stream_rows:
        lines.append(f"| {ms} ms | {cont_us:.0f} | {whole_us:.0f} | "
                     f"x{whole_us / cont_us:.2f} |")
    out = ROOT / "benches" / "results" / "audio.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
