"""Runs a benchmark and assembles its document (the schema: :mod:`.schema`, docs/bench.md).

:func:`bench_bundle` - what `edgert bench BUNDLE` does:
1. load the impulse under tracemalloc (what it holds), build every reference pipeline that is
   installed (each interpreter's RSS delta and, for TFLite Micro, its arena);
2. check what is timed is right: edgert's features against the numpy reference, the int8
   network outputs against TFLite Micro (bit for bit);
3. time every stage of edgert and of each reference, interleaved (:mod:`.timing`), one window
   per call, plus whole-recording classification with 1 and ``threads`` threads in the same
   rounds;
4. ratios: reference median CPU time / edgert median CPU time, all from this run.

:func:`bench_model` - `edgert bench-model MODEL`: the same for one network.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from .._version import __version__
from ..errors import EdgertError, InputError
from .memory import peak_rss_bytes, traced
from .schema import BENCH_SCHEMA_ID
from .stages import (BundleWorkload, ModelWorkload, Stage, Unavailable, bundle_stages,
                     model_stages, synthetic_recording)
from .timing import Task, load_average, measure_interleaved, ratio, timer_overhead_ns

log = logging.getLogger("edgert.bench")

SLICE_S = 0.02
#: whole-recording calls are sized to take about this long (one call per slice)
WHOLE_CALL_S = 0.03
RATIO_NOTE = ("reference median / edgert median per window (CPU time; wall time too), both "
              "measured in this run, interleaved")
TIMER_NOTE = ("each call timed alone: wall = time.perf_counter_ns, CPU = "
              "time.process_time_ns (all threads of the process); per window = per call / "
              "windows in the call; round-robin time slices over every task")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(load_before: Optional[list[float]]) -> dict[str, Any]:
    return {"hostname": platform.node() or "unknown", "platform": platform.platform(),
            "arch": platform.machine(), "cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "load_average_before": load_before, "load_average_after": load_average()}


def _progress_bar(seconds: float, enabled: bool, desc: str) -> tuple[Callable[[float], None],
                                                                      Callable[[], None]]:
    """A tqdm bar over the time budget: (update(elapsed_s), close())."""
    if not enabled:
        return (lambda elapsed: None), (lambda: None)
    from tqdm import tqdm
    bar = tqdm(total=round(seconds, 1), unit="s", desc=desc, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s")
    state = {"shown": 0.0}

    def update(elapsed: float) -> None:
        target = min(round(elapsed, 1), bar.total)
        if target > state["shown"]:
            bar.update(target - state["shown"])
            state["shown"] = target

    return update, bar.close


def _stage_doc(s: Stage) -> dict[str, Any]:
    return {"stage": s.stage, "pipeline": s.pipeline, "reference": s.reference,
            "path": s.path, **s.task.stats()}


def _ratios(stages: list[dict], pairs: list[tuple[str, str, str]]) -> list[dict]:
    """Ratios of ``(stage, edgert pipeline, reference pipeline)`` present in ``stages``."""
    by = {(s["stage"], s["pipeline"]): s for s in stages}
    out = []
    for stage, ours, ref in pairs:
        a, b = by.get((stage, ref)), by.get((stage, ours))
        if a is None or b is None:
            continue
        out.append({"stage": stage, "pipeline": ours, "reference": ref,
                    "cpu": ratio(a["cpu_us"]["median"], b["cpu_us"]["median"]),
                    "wall": ratio(a["wall_us"]["median"], b["wall_us"]["median"]),
                    "same_run": True})
    return out


def _whole_recording_tasks(imp: Any, variant: Optional[str], threads: int
                           ) -> tuple[list[Stage], dict[str, Any]]:
    """Whole-recording classification at 1 and ``threads`` threads, sized so a call takes
    about WHOLE_CALL_S on one thread."""
    W, S = imp.window_samples, imp.window_increase_samples
    probe_windows = 256
    data = synthetic_recording(W + S * (probe_windows - 1), len(imp.axes), imp.frequency, 2)
    imp.classify(data, variant=variant)
    t0 = time.process_time()
    imp.classify(data, variant=variant)
    per = max((time.process_time() - t0) / probe_windows, 1e-7)
    n = int(min(50_000, max(probe_windows, WHOLE_CALL_S / per)))
    if threads > 1:
        n = max(n, 4 * threads)
    rows = W + S * (n - 1)
    rec = synthetic_recording(rows, len(imp.axes), imp.frequency, 3)
    n = len(imp.windows(rows))
    out = []
    for k in sorted({1, threads}):
        out.append(Stage("impulse", "edgert-whole-recording" + ("" if k == 1 else f"-{k}-threads"),
                         f"Impulse.classify of a {n}-window recording"
                         + (f" split over {k} threads" if k > 1 else "")
                         + ", per window (whole-array C calls)",
                         Task(f"whole/{k}", lambda i, k=k: imp.classify(rec, variant=variant,
                                                                        threads=k),
                              per_call=n)))
    return out, {"windows": n, "recording_seconds": rows / imp.frequency}


def _throughput(stages: list[Stage], info: dict[str, Any]) -> dict[str, Any]:
    runs = []
    base_wall = None
    for s in stages:
        k = 1 if s.pipeline == "edgert-whole-recording" else int(s.pipeline.split("-")[-2])
        n = s.task.per_call
        walls = np.asarray(s.task.wall_ns) * n / 1e9
        cpus = np.asarray(s.task.cpu_ns) * n / 1e9
        wall = float(np.median(walls)) if len(walls) else None
        cpu = float(np.median(cpus)) if len(cpus) else None
        if k == 1:
            base_wall = wall
        runs.append({"threads": k, "runs": int(len(walls)), "wall_s": wall, "cpu_s": cpu,
                     "windows_per_s": n / wall if wall else None,
                     "cpu_us_per_window": cpu / n * 1e6 if cpu is not None else None,
                     "speedup_vs_1_thread": ratio(base_wall, wall)})
    return {**info, "runs": runs}


def _bundle_checks(imp: Any, variant: Optional[str], work: BundleWorkload,
                   interpreters: dict[str, list]) -> list[dict]:
    """What is timed must be right: edgert's DSP against the numpy reference, the int8
    networks against TFLite Micro bit for bit (float32: largest relative difference)."""
    from ..runtime.impulse import KerasRunner
    from .reference import dsp_reference_missing
    checks = []
    if dsp_reference_missing() is None:
        from . import reference_dsp
        for d in imp.dsp_blocks:
            if reference_dsp.supports(d.spec.type, d.spec.implementation_version,
                                      d.spec.params):
                continue
            cols = [imp.axes.index(a) for a in (d.spec.axes or imp.axes)]
            ref = np.stack([reference_dsp.block_features(w[:, cols], imp.frequency,
                                                         dict(d.spec.params),
                                                         d.spec.implementation_version)
                            for w in work.windows[:16]])
            ours = work.features[d.spec.id][:16].astype(np.float64)
            rel = float(np.max(np.abs(ours - ref) / np.maximum(1.0, np.abs(ref))))
            checks.append({"what": f"DSP block {d.spec.id} vs the numpy reference (16 windows)",
                           "result": f"max |diff| / max(1, |ref|) = {rel:.1e}",
                           "ok": rel <= 1e-3})
    keras = [b for b in imp.learn_blocks if isinstance(b, KerasRunner)]
    for kind in ("tflite-micro", "litert-reference"):
        if kind not in interpreters:
            continue
        for b, it in zip(keras, interpreters[kind]):
            x = b.quantize_input(work.learn_inputs[b.spec.id], variant)
            ours = b.invoke(x, variant)
            theirs = np.stack([np.asarray(it.invoke([row.reshape(it.input_shapes[0])])[0])
                               .reshape(-1) for row in x])
            if ours.dtype == np.int8 and kind == "tflite-micro":
                same = np.array_equal(ours, theirs)
                checks.append({"what": f"learn block {b.spec.id} network ({variant}) vs "
                                       f"tflite-micro, {len(x)} windows",
                               "result": "bit-exact" if same else
                               f"differs by up to {int(np.abs(ours.astype(int) - theirs).max())}",
                               "ok": bool(same)})
            elif ours.dtype != np.int8:
                rel = float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-6)))
                checks.append({"what": f"learn block {b.spec.id} network ({variant}) vs "
                                       f"{kind}, {len(x)} windows",
                               "result": f"max relative difference {rel:.1e}",
                               "ok": rel <= 1e-4})
        break
    return checks


def bench_bundle(path: Union[str, Path], variant: Optional[str] = None, threads: int = 1,
                 seconds: float = 10.0, progress: bool = True) -> dict[str, Any]:
    """Benchmark an impulse bundle (see the module docstring); returns the document."""
    from ..runtime.impulse import Impulse, KerasRunner
    _check_budget(seconds, threads)
    load_before = load_average()
    Impulse.load(path)   # imports and first-use set-up, so the traced load is the impulse's
    with traced() as load_mem:
        imp = Impulse.load(path)
    variant = imp.resolve_variant(variant)
    work = BundleWorkload(imp, variant)
    stages, missing, built = bundle_stages(imp, variant, work)
    whole, whole_info = _whole_recording_tasks(imp, variant, threads)
    # what one window costs on top of the loaded impulse (after a warm-up window)
    imp.classify_window(work.windows[0], variant)
    with traced() as window_mem:
        imp.classify_window(work.windows[0], variant)
    checks = _bundle_checks(imp, variant, work, built["interpreters"])
    all_stages = stages + whole
    method = _measure(all_stages, seconds, progress, "bench")
    stage_docs = [_stage_doc(s) for s in all_stages]
    keras = [b for b in imp.learn_blocks if isinstance(b, KerasRunner)]
    memory = _bundle_memory(imp, variant, keras, load_mem, window_mem, built["interpreters"])
    pairs = [("dsp", "edgert", "numpy-reference"),
             *[("classification", "edgert", k) for k in built["interpreters"]],
             ("anomaly", "edgert", "numpy-reference"),
             ("impulse", "edgert", "python-reference"),
             ("impulse", "edgert-plan-c", "python-reference"),
             ("impulse", "edgert-whole-recording", "python-reference")]
    doc = {
        "schema": BENCH_SCHEMA_ID, "kind": "bundle", "edgert_version": __version__,
        "date": _now(), "machine": machine(load_before),
        "method": method,
        "subject": _describe_bundle(imp, variant, str(path)),
        "stages": stage_docs,
        "throughput": _throughput(whole, whole_info),
        "memory": memory,
        "ratios": _ratios(stage_docs, pairs),
        "checks": checks,
        "unavailable": [{"pipeline": u.pipeline, "stage": u.stage, "reason": u.reason}
                        for u in missing],
    }
    return doc


def _check_budget(seconds: float, threads: int) -> None:
    if not (isinstance(seconds, (int, float)) and seconds > 0 and np.isfinite(seconds)):
        raise InputError(f"--seconds must be a positive number, got {seconds!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"--threads must be a whole number >= 1, got {threads!r}")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _measure(stages: list[Stage], seconds: float, progress: bool, desc: str
             ) -> dict[str, Any]:
    """Time the stages' tasks interleaved for ``seconds`` (:mod:`.timing`), with a progress
    bar named ``desc`` unless ``progress`` is False; returns the document's ``method``."""
    update, close = _progress_bar(seconds, progress, desc)
    overhead = timer_overhead_ns()
    t0 = time.perf_counter()
    try:
        rounds = measure_interleaved([s.task for s in stages], seconds, SLICE_S,
                                     progress=update)
    finally:
        close()
    elapsed = time.perf_counter() - t0
    return {"seconds": float(seconds), "elapsed_seconds": round(elapsed, 3), "rounds": rounds,
            "slice_ms": SLICE_S * 1e3, "timer": TIMER_NOTE, "timer_overhead_ns": overhead,
            "ratio": RATIO_NOTE}


def _model_engine(m: Any, data: bytes) -> dict[str, Any]:
    from ..engine.model import InterpreterModel
    if not isinstance(m, InterpreterModel):
        return {"engine": "native", "native_unsupported": None}
    from ..engine.compiler import unsupported_reason
    from ..engine.reader import read_graph
    try:
        reason = unsupported_reason(read_graph(data))
    except EdgertError as exc:
        reason = str(exc)
    return {"engine": "tflite-interpreter", "native_unsupported": reason}


def _describe_bundle(imp: Any, variant: Optional[str], path: str) -> dict[str, Any]:
    from ..runtime.impulse import KerasRunner
    learn = []
    for b in imp.learn_blocks:
        d: dict[str, Any] = {"id": b.spec.id, "type": b.spec.type,
                             "input_features": b.n_features}
        if isinstance(b, KerasRunner):
            m = b.model(variant)
            data = b.spec.models[variant].data
            d.update({"model": b.spec.models[variant].name, "model_bytes": len(data),
                      "arena_bytes": int(getattr(m, "arena_bytes", 0) or 0) or None,
                      **_model_engine(m, data)})
        learn.append(d)
    try:
        plan_reason = imp.plan_unsupported_reason(variant)
    except EdgertError as exc:
        plan_reason = str(exc)
    return {"path": path, "project": dict(imp.bundle.project).get("name"),
            "variant": variant, "frequency": imp.frequency, "axes": list(imp.axes),
            "window_samples": imp.window_samples,
            "window_increase_samples": imp.window_increase_samples,
            "dsp": [{"id": d.spec.id, "type": d.spec.type,
                     "version": d.spec.implementation_version, "features": d.n_features}
                    for d in imp.dsp_blocks],
            "learn": learn,
            "one_window_path": ("impulse plan (classify_window)" if plan_reason is None
                                else f"batch path ({plan_reason})")}


def _bundle_memory(imp: Any, variant: Optional[str], keras: list, load_mem: Any,
                   window_mem: Any, interpreters: dict[str, list]) -> list[dict]:
    mem: list[dict] = []
    add = lambda p, what, b, how: mem.append(  # noqa: E731
        {"pipeline": p, "what": what, "bytes": None if b is None else int(b), "method": how})
    models = [b.model(variant) for b in keras]
    add("edgert", "model files (.tflite bytes)",
        sum(len(b.spec.models[variant].data) for b in keras), "file")
    if models and all(getattr(m, "backend", "") == "native" for m in models):
        add("edgert", "network activation arena (native engine, one window)",
            sum(m.arena_bytes for m in models), "arena")
        add("edgert", "network constants (weights, biases, quantization tables)",
            sum(int(getattr(m, "consts_bytes", 0) or 0) for m in models), "plan")
    try:
        plan = imp.plan(variant)
    except EdgertError:
        plan = None
    if plan is not None:
        add("edgert", "impulse plan scratch for one window", plan.scratch_bytes(1), "plan")
    add("edgert", "held by the loaded impulse (Python objects and numpy buffers)",
        load_mem.held, "tracemalloc")
    add("edgert", "resident growth while loading the impulse", load_mem.rss_delta, "rss_delta")
    add("edgert", "peak allocated on top while classifying one window", window_mem.peak,
        "tracemalloc")
    for kind, its in interpreters.items():
        add(kind, "resident growth: building the interpreter(s) and a first invoke",
            sum(i.memory.get("rss_delta_bytes") or 0 for i in its), "rss_delta")
        add(kind, "Python heap held by the interpreter(s)",
            sum(i.memory.get("python_heap_bytes") or 0 for i in its), "tracemalloc")
        if kind == "tflite-micro" and all("arena_bytes" in i.memory for i in its):
            add(kind, "TFLite Micro arena (recording allocator total)",
                sum(i.memory["arena_bytes"] for i in its), "arena")
    add("process", "peak resident set of the whole run (Python, numpy, every pipeline)",
        peak_rss_bytes(), "peak_rss")
    return mem


# ------------------------------------------------------------------------------ one model
def bench_model(path: Union[str, Path], seconds: float = 6.0, progress: bool = True,
                batch: Optional[int] = None) -> dict[str, Any]:
    """Benchmark one .tflite network (see the module docstring); returns the document."""
    from ..engine import load_model
    _check_budget(seconds, 1)
    load_before = load_average()
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; bench-model takes a .tflite file (for an "
                         "impulse bundle use `edgert bench`)") from None
    try:
        load_model(data, backend="auto")   # imports first, so the traced load is the model's
    except EdgertError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    with traced() as load_mem:
        model = load_model(data, backend="auto")
    engine = _model_engine(model, data)
    work = ModelWorkload(model)
    if batch is None:
        batch = 32 if model.arena_bytes and model.arena_bytes < 8192 else 8
    model.invoke_batch(work.inputs[0][:batch] if len(model.inputs) == 1 else
                       [x[:batch] for x in work.inputs])
    stages, missing, interps = model_stages(model, data, work, batch)
    checks = _model_checks(model, work, interps)
    method = _measure(stages, seconds, progress, "bench-model")
    stage_docs = [_stage_doc(s) for s in stages]
    name = "edgert" if engine["engine"] == "native" else "edgert-fallback"
    pairs = [("inference", f"{name}-{how}", k) for k in interps for how in ("batched",
                                                                             "single")]
    mem: list[dict] = [{"pipeline": name, "what": "model file", "bytes": len(data),
                        "method": "file"}]
    if engine["engine"] == "native":
        mem.append({"pipeline": name, "what": "activation arena (one inference)",
                    "bytes": int(model.arena_bytes), "method": "arena"})
        mem.append({"pipeline": name, "what": "constants (weights, biases, tables)",
                    "bytes": int(getattr(model, "consts_bytes", 0) or 0), "method": "plan"})
    mem.append({"pipeline": name, "what": "held by the loaded model", "bytes": load_mem.held,
                "method": "tracemalloc"})
    mem.append({"pipeline": name, "what": "resident growth while loading",
                "bytes": load_mem.rss_delta, "method": "rss_delta"})
    for kind, it in interps.items():
        mem.append({"pipeline": kind, "what": "resident growth: building the interpreter "
                    "and a first invoke", "bytes": it.memory.get("rss_delta_bytes"),
                    "method": "rss_delta"})
        if "arena_bytes" in it.memory:
            mem.append({"pipeline": kind, "what": "TFLite Micro arena (recording allocator "
                        "total)", "bytes": it.memory["arena_bytes"], "method": "arena"})
    mem.append({"pipeline": "process", "what": "peak resident set of the whole run",
                "bytes": peak_rss_bytes(), "method": "peak_rss"})
    if engine["engine"] != "native":
        missing.insert(0, Unavailable("edgert", "inference",
                                      f"the native engine cannot run this model: "
                                      f"{engine['native_unsupported']}; edgert's figures are "
                                      "its TFLite interpreter fallback"))
    return {
        "schema": BENCH_SCHEMA_ID, "kind": "model", "edgert_version": __version__,
        "date": _now(), "machine": machine(load_before),
        "method": method,
        "subject": {"path": str(path), "bytes": len(data), **engine,
                    "inputs": [{"shape": list(i.shape), "dtype": str(np.dtype(i.dtype))}
                               for i in model.inputs],
                    "outputs": [{"shape": list(o.shape), "dtype": str(np.dtype(o.dtype))}
                                for o in model.outputs],
                    "arena_bytes": int(model.arena_bytes) or None, "batch": batch},
        "stages": stage_docs, "throughput": None, "memory": mem,
        "ratios": _ratios(stage_docs, pairs), "checks": checks,
        "unavailable": [{"pipeline": u.pipeline, "stage": u.stage, "reason": u.reason}
                        for u in missing],
    }


def _model_checks(model: Any, work: ModelWorkload, interps: dict) -> list[dict]:
    """edgert's outputs against TFLite Micro (int8: bit for bit) or LiteRT's reference
    kernels (float32: largest relative difference) on the workload's inputs."""
    kind = "tflite-micro" if "tflite-micro" in interps else (
        "litert-reference" if "litert-reference" in interps else None)
    if kind is None:
        return []
    it = interps[kind]
    n = min(work.n, 16)
    ours = model.invoke_batch(work.inputs[0][:n] if len(model.inputs) == 1 else
                              [x[:n] for x in work.inputs])
    ours = ours[0] if isinstance(ours, (list, tuple)) else ours
    theirs = np.stack([np.asarray(it.invoke([x.reshape(s) for x, s in
                                             zip(work.one(i), it.input_shapes)])[0]).copy()
                       for i in range(n)]).reshape(ours.shape)
    if np.dtype(ours.dtype).kind in "iu":
        same = bool(np.array_equal(ours, theirs))
        return [{"what": f"outputs vs {kind}, {n} inputs (edge rows and random)",
                 "result": "bit-exact" if same else
                 f"differs by up to {int(np.abs(ours.astype(int) - theirs.astype(int)).max())}",
                 "ok": same}]
    rel = float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-6)))
    return [{"what": f"outputs vs {kind}, {n} inputs", "result":
             f"max relative difference {rel:.1e}", "ok": rel <= 1e-4}]


__all__ = ["bench_bundle", "bench_model", "machine", "cpu_model"]
