"""``edgert profile``: what an impulse needs on a target, shaped like the
``onDevicePerformance`` entries of Edge Impulse's model metadata (``latency`` in ms per window,
and ``ramRequired``/``romRequired``/``arenaSize``/``modelSize`` in bytes).

Unlike Edge Impulse's entries, which cover the network alone, edgert's cover the whole impulse
(DSP, networks, anomaly) - what a firmware carries; ``details`` splits it by stage. ``eon`` is
edgert (an ahead-of-time compiled plan, no interpreter: what Edge Impulse's EON compiler does).

- ``host``: measured here. latency: median wall time of one window per call; ramRequired: what
  the loaded impulse holds plus the peak of a window on top (tracemalloc: Python objects and
  numpy buffers, every C buffer included - the C core allocates nothing); romRequired: the
  loaded size of edgert's native library (ELF code + data) plus the network constants;
  ``tflite``: the network alone in the TFLite Micro interpreter (its arena as its recording
  allocator reports it, the .tflite bytes, the interpreter library), when it is installed.
- ``cortex-m4f``: the impulse exported as C (``edgert export-c``, int8 by default), built for
  a Cortex-M4F at 80 MHz and emulated by QEMU (mps2-an386): flash and RAM from the export's
  ``make size-report``, latency from the entry point's instructions per window counted under
  ``qemu-system-arm -icount`` by ``make profile`` (a proxy for cycles: one instruction taken
  as one cycle; not measured on hardware). It needs the cross toolchain, QEMU and make;
  without them it says what is missing and how to get it.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .._version import __version__
from ..errors import EdgertError
from .memory import loaded_size, traced
from .run import _now, cpu_model
from .schema import PROFILE_SCHEMA_ID
from .stages import BundleWorkload, synthetic_recording
from .timing import Task, measure_interleaved

log = logging.getLogger("edgert.profile")

M4F_HZ = 80_000_000
M4F_MCU = "cortex-m4f-80mhz"
M4F_NAME = "Cortex-M4F 80MHz (QEMU mps2-an386, instruction count)"
APT_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make"
#: windows run through the emulator (instructions per window are deterministic)
M4F_WINDOWS = 4


class ProfileUnavailable(EdgertError):
    """The target cannot be profiled here; the message says what is missing and how to get it."""


def _keras(imp: Any) -> list:
    from ..runtime.impulse import KerasRunner
    return [b for b in imp.learn_blocks if isinstance(b, KerasRunner)]


def profile_host(path: Union[str, Path], variant: Optional[str] = None,
                 seconds: float = 2.0) -> dict[str, Any]:
    """Measure the impulse on this machine (see the module docstring)."""
    from ..runtime.impulse import Impulse
    warm = Impulse.load(path)   # imports and first-use set-up outside the measurement
    variant = warm.resolve_variant(variant)
    warm.classify_window(BundleWorkload(warm, variant).windows[0], variant)
    with traced() as held:     # the impulse and its first window (arenas, per-thread buffers)
        imp = Impulse.load(path)
        run = lambda w: imp.classify_window(w, variant)  # noqa: E731
        first = np.zeros((imp.window_samples, len(imp.axes)), np.float32)
        run(first)
    work = BundleWorkload(imp, variant)   # the measurement's own data, not counted
    run(work.windows[0])
    with traced() as peak:
        run(work.windows[1])
    n = len(work.windows)
    stages = {
        "impulse": Task("impulse", lambda i: run(work.windows[i % n])),
        "dsp": Task("dsp", lambda i: imp.compute_features(work.data, work.starts[i % n:i % n + 1])),
    }
    keras = _keras(imp)
    if keras:
        rows = {b.spec.id: [work.learn_inputs[b.spec.id][i:i + 1] for i in range(n)] for b in keras}
        stages["classification"] = Task("classification", lambda i: [
            b.predict(rows[b.spec.id][i % n], variant) for b in keras])
    measure_interleaved(list(stages.values()), seconds)
    med = {k: float(np.median(t.wall_ns)) / 1e6 for k, t in stages.items()}   # ms
    models = [b.model(variant) for b in keras]
    native = all(getattr(m, "backend", "") == "native" for m in models)
    arena = sum(int(getattr(m, "arena_bytes", 0) or 0) for m in models)
    consts = sum(int(getattr(m, "consts_bytes", 0) or 0) for m in models)
    tflite_bytes = sum(len(b.spec.models[variant].data) for b in keras)
    native_file = _native_library()
    lib = loaded_size(native_file) or os.path.getsize(native_file)
    model_size = consts if native and models else tflite_bytes
    eon = {"ramRequired": int(held.held + peak.peak), "romRequired": int(lib + model_size),
           "arenaSize": int(arena), "modelSize": int(model_size)}
    metrics = [
        {"name": "latency basis", "value": "median wall time of one window per call on this "
                                           "machine (whole impulse: DSP, networks, anomaly)"},
        {"name": "dsp latency (ms)", "value": f"{med['dsp']:.4f}"},
    ]
    if "classification" in med:
        metrics.append({"name": "classification latency (ms)",
                        "value": f"{med['classification']:.4f}"})
    metrics.append({"name": "ramRequired basis", "value": "tracemalloc: held by the loaded "
                    "impulse after a first window + peak of a window on top"})
    metrics.append({"name": "romRequired basis", "value": "edgert's native library (ELF "
                    "code and data) + network constants"})
    entry: dict[str, Any] = {"mcu": "host", "name": f"host ({_cpu()})", "isDefault": True,
                             "latency": round(med["impulse"], 6), "eon": eon,
                             "customMetrics": metrics, "hasPerformance": True}
    details: dict[str, Any] = {
        "latency_ms": med, "samples": {k: len(t.wall_ns) for k, t in stages.items()},
        "held_bytes": held.held, "window_peak_bytes": peak.peak,
        "native_library_bytes": lib, "network_constants_bytes": consts,
        "tflite_bytes": tflite_bytes, "engine": "native" if native else "tflite-interpreter",
    }
    micro = _micro_sizes(keras, variant)
    if micro is not None:
        entry["tflite"] = micro
        metrics.append({"name": "tflite basis", "value": "the networks alone in the TFLite "
                        "Micro interpreter (recording allocator arena, .tflite bytes, "
                        "interpreter library)"})
    return _doc(path, "host", variant, entry, details)


def _native_library() -> str:
    """The file of edgert's C extension (as loaded by edgert._ffi)."""
    import importlib
    from .. import _ffi  # noqa: F401  (loads and version-checks the extension)
    return str(importlib.import_module("edgert._native").__file__)


def _cpu() -> str:
    import platform
    return f"{cpu_model()}, {platform.machine()}"


def _micro_sizes(keras: list, variant: Optional[str]) -> Optional[dict]:
    from .reference import Interpreter, interpreter_kinds
    if not keras or interpreter_kinds()["tflite-micro"] is not None:
        return None
    arena = 0
    data = 0
    for b in keras:
        buf = b.spec.models[variant].data
        # built as the bench builds it (its arena sizing), a first invoke on zeros done
        total = Interpreter("tflite-micro", buf).memory.get("arena_bytes")
        if total is None:
            return None
        arena += total
        data += len(buf)
    lib = 0
    import tflite_micro
    pkg = Path(tflite_micro.__file__).parent
    for so in pkg.rglob("*.so"):
        lib += loaded_size(str(so)) or 0
    return {"ramRequired": int(arena), "romRequired": int(lib + data), "arenaSize": int(arena),
            "modelSize": int(data)}


def _doc(path: Any, target: str, variant: Optional[str], entry: dict, details: dict) -> dict:
    return {"schema": PROFILE_SCHEMA_ID, "edgert_version": __version__, "date": _now(),
            "bundle": str(path), "target": target, "variant": variant,
            "onDevicePerformance": [entry], "details": details}


# --------------------------------------------------------------------------- Cortex-M4F
def m4f_missing() -> tuple[list[str], Optional[str]]:
    """(missing tools, how the build is reached: "export-c", or None when this edgert carries
    no C sources to export)."""
    from ..mcu.sources import c_sources_root
    tools = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm", "make")
             if shutil.which(t) is None]
    try:
        c_sources_root()
        how: Optional[str] = "export-c"
    except EdgertError:
        how = None
    return tools, how


def _explain(tools: list[str], how: Optional[str]) -> str:
    parts = []
    if how is None:
        parts.append("this edgert installation carries no C sources for `edgert export-c` "
                     "(edgert/_csrc/); reinstall it from a wheel or sdist, or run from a "
                     "source checkout")
    if tools:
        parts.append(f"{', '.join(tools)} not found on PATH: install them with "
                     f"`apt-get install {APT_PACKAGES}` (Debian/Ubuntu)")
    return ("cannot profile for cortex-m4f: " + "; and ".join(parts) +
            ". `edgert profile BUNDLE --target host` works without them")


def _run(cmd: list[str], timeout: float, cwd: Optional[str] = None) -> str:
    log.info("running %s", " ".join(cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProfileUnavailable(f"`{' '.join(cmd)}` did not finish in {timeout:.0f} s") from None
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        raise ProfileUnavailable(f"`{' '.join(cmd)}` failed (exit {p.returncode}): "
                                 + " | ".join(tail))
    return p.stdout


def _json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def profile_m4f(path: Union[str, Path], variant: Optional[str] = None,
                timeout: float = 600.0) -> dict[str, Any]:
    """Export the impulse as C (``edgert export-c``), build it for the Cortex-M4F, run it under
    QEMU and read the export's size report (``make size-report``) and instruction counts
    (``make profile``); see the module docstring. ProfileUnavailable saying what is missing."""
    from ..mcu.export import export_c
    from ..runtime.impulse import Impulse
    tools, how = m4f_missing()
    if tools or how is None:
        raise ProfileUnavailable(_explain(tools, how))
    imp = Impulse.load(path)
    if variant is None and "int8" in imp.variants:
        variant = "int8"        # what export-c builds by default: a microcontroller's choice
    variant = imp.resolve_variant(variant)
    W, S = imp.window_samples, imp.window_increase_samples
    data = synthetic_recording(W + S * (M4F_WINDOWS - 1), len(imp.axes), imp.frequency)
    windows = [np.ascontiguousarray(data[s:s + W]) for s in imp.windows(data.shape[0])]
    windows = windows[:M4F_WINDOWS]
    with tempfile.TemporaryDirectory(prefix="edgert-m4f-") as tmp:
        inp = Path(tmp) / "windows.f32"
        inp.write_bytes(b"".join(w.astype("<f4").tobytes() for w in windows))
        t0 = time.perf_counter()
        report = export_c(path, Path(tmp) / "impulse", variant=variant)
        make = ["make", "-s", "-C", str(report.out_dir)]
        size_docs = [d for d in _json_lines(_run(make + ["size-report"], timeout))
                     if "flash" in d]
        if not size_docs:
            raise ProfileUnavailable("the export's `make size-report` printed no "
                                     "{\"flash\": n, \"ram\": n, ...} line")
        size = size_docs[-1]
        lines = _json_lines(_run(make + ["profile", f"INPUT={inp}"], timeout))
        build_s = time.perf_counter() - t0
    results = [d for d in lines if "classification" in d]
    summary = next((d["summary"] for d in lines if "summary" in d), {})
    if len(results) != len(windows):
        raise ProfileUnavailable(f"the emulated run printed {len(results)} results for "
                                 f"{len(windows)} windows")
    insns = [d["instructions"] for d in results]
    plan = imp.plan(variant)
    host = [plan.classify_window(w) for w in windows]
    same = sum(1 for h, d in zip(host, results)
               if h.top_label is None or h.top_label == max(d["classification"],
                                                             key=d["classification"].get))
    eon = {"ramRequired": int(size["ram"]), "romRequired": int(size["flash"]),
           "arenaSize": int(report.arena_bytes),
           "modelSize": int(report.network_constants_bytes)}
    entry: dict[str, Any] = {"mcu": M4F_MCU, "name": M4F_NAME, "isDefault": True, "eon": eon}
    med = float(np.median([int(i["total"]) for i in insns]))
    stages = {k: float(np.median([int(i[k]) for i in insns]))
              for k in ("dsp", "classifier", "anomaly")}
    entry["latency"] = round(med / M4F_HZ * 1e3, 6)
    entry["hasPerformance"] = True
    metrics = [
        {"name": "ram/rom basis", "value": "the export's size report (flash = text + rodata + "
         "data; RAM = data + bss + stack high-water of a classification, the scratch with the "
         "network arena inside bss; the raw window buffer apart)"},
        {"name": "latency basis", "value": "instructions per window of the entry point under "
         "qemu-system-arm -icount at one instruction per cycle, 80 MHz (an estimate from "
         "emulation, not measured on hardware)"},
        {"name": "instructions per window (median)", "value": f"{med:.0f}"},
    ]
    for k, v in stages.items():
        metrics.append({"name": f"{k} instructions per window", "value": f"{v:.0f}"})
    metrics.append({"name": "stack high-water (bytes)", "value": str(size["stack_peak"])})
    metrics.append({"name": "scratch (bytes)", "value": str(report.scratch_bytes)})
    entry["customMetrics"] = metrics
    details: dict[str, Any] = {
        "build": how, "variant": variant, "size": size, "windows": len(results),
        "scratch_bytes": report.scratch_bytes, "arena_bytes": report.arena_bytes,
        "network_constants_bytes": report.network_constants_bytes,
        "instructions_per_window": {"total": med, **stages},
        "soft_double_calls_per_window": float(np.median([d["soft_double_calls"]
                                                         for d in results])),
        "entry_point_stack_bytes": int(summary.get("entry_point_stack_bytes", 0)),
        "host_agreement": f"{same}/{len(results)} windows with the host's top label",
        "build_and_run_seconds": round(build_s, 1), "summary": summary}
    return _doc(path, "cortex-m4f", variant, entry, details)


__all__ = ["profile_host", "profile_m4f", "m4f_missing", "ProfileUnavailable", "M4F_HZ"]
