"""What is timed: edgert's stages of an impulse (or one network) and the same stages of each
reference pipeline, as :class:`~edgert.bench.timing.Task` objects over the same windows.

A bundle (:func:`bundle_stages`), one window per call unless said otherwise:

==============  =================  ====================================================
stage           pipeline           what one call does
==============  =================  ====================================================
dsp             edgert             every DSP block on one window (C, one call per block)
dsp             numpy-reference    the numpy/scipy spectral reference on one window
classification  edgert             quantize, network, dequantize (native engine)
classification  litert-xnnpack,    the same through the interpreter, per window, with
                litert-reference,  numpy (de)quantization
                tflite-micro
anomaly         edgert / numpy-..  K-means score (C / numpy)
impulse         edgert             the whole impulse on one window: ``classify_window``
                                   (one C call through the impulse plan; the batch
                                   path when the plan cannot represent the impulse)
impulse         edgert-plan-c      the impulse plan's C entry point alone (when present)
impulse         python-reference   numpy DSP + tflite-micro (else LiteRT) + numpy K-means
stream          edgert             ``Stream.push`` of one window increase of samples,
                                   which delivers one window's result
==============  =================  ====================================================

A model (:func:`model_stages`): ``inference`` by ``edgert-batched`` (``invoke_batch`` of a
batch, per inference), ``edgert-single`` (``invoke`` of one input) and every interpreter.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .reference import (INTERPRETERS, Interpreter, KMeansReference, dsp_reference_missing,
                        interpreter_kinds, network_call)
from .timing import Task

log = logging.getLogger("edgert.bench")

#: windows cycled through by the per-window calls
POOL = 64


@dataclass
class Stage:
    """A timed stage of a pipeline. ``reference``: a baseline, not edgert."""
    stage: str
    pipeline: str
    path: str
    task: Task
    reference: bool = False


@dataclass
class Unavailable:
    pipeline: str
    stage: Optional[str]
    reason: str


def synthetic_recording(n_rows: int, n_axes: int, frequency: float, seed: int = 0
                        ) -> np.ndarray:
    """A deterministic motion-like signal (rows, axes) float32: a few sines below Nyquist per
    axis, a slow drift and noise. Spectral DSP and network costs do not depend on the values;
    the signal only has to be finite and varied."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=np.float64) / frequency
    nyq = frequency / 2.0
    out = np.empty((n_rows, n_axes), dtype=np.float32)
    for a in range(n_axes):
        f = rng.uniform(0.05, 0.45, size=3) * nyq
        amp = rng.uniform(0.5, 5.0, size=3)
        x = sum(A * np.sin(2 * np.pi * fr * t + rng.uniform(0, 6.28)) for A, fr in zip(amp, f))
        x = x + 0.5 * np.sin(2 * np.pi * 0.05 * t) + rng.normal(0, 0.3, n_rows)
        out[:, a] = x
    return out


class BundleWorkload:
    """The windows every pipeline sees: a synthetic recording long enough for ``POOL``
    windows, their raw samples, features and network inputs (computed once by edgert)."""

    def __init__(self, imp: Any, variant: Optional[str]):
        self.imp = imp
        self.variant = variant
        W, S = imp.window_samples, imp.window_increase_samples
        n_rows = W + S * (POOL - 1)
        self.data = synthetic_recording(n_rows, len(imp.axes), imp.frequency)
        self.starts = np.ascontiguousarray(imp.windows(n_rows)[:POOL], dtype=np.int32)
        self.windows = [np.ascontiguousarray(self.data[s:s + W]) for s in self.starts]
        feats = imp.compute_features(self.data, self.starts)
        self.features = feats
        self.learn_inputs = {b.spec.id: imp.learn_input(b.spec, feats) for b in imp.learn_blocks}


def bundle_stages(imp: Any, variant: Optional[str], work: BundleWorkload
                  ) -> tuple[list[Stage], list[Unavailable], dict[str, Any]]:
    """The timed stages of a bundle, what could not be timed and why, and the interpreters
    built (``{"interpreters": {kind: [Interpreter per classifier]}}``) for memory figures."""
    from ..runtime.impulse import AnomalyRunner, KerasRunner
    stages: list[Stage] = []
    missing: list[Unavailable] = []
    n = len(work.starts)
    keras = [b for b in imp.learn_blocks if isinstance(b, KerasRunner)]
    anomaly = [b for b in imp.learn_blocks if isinstance(b, AnomalyRunner)]
    single_starts = [work.starts[i:i + 1] for i in range(n)]
    data = work.data

    # ---------------------------------------------------------------- edgert
    stages.append(Stage("dsp", "edgert", "Impulse.compute_features: every DSP block on one "
                        "window (one C call per block)",
                        Task("dsp/edgert", lambda i: imp.compute_features(
                            data, single_starts[i % n]))))
    if keras:
        rows = {b.spec.id: [work.learn_inputs[b.spec.id][i:i + 1] for i in range(n)]
                for b in keras}

        def classify(i: int) -> None:
            for b in keras:
                b.predict(rows[b.spec.id][i % n], variant)
        stages.append(Stage("classification", "edgert",
                            f"KerasRunner.predict: quantize, native engine ({variant}), "
                            "dequantize; one window", Task("classification/edgert", classify)))
    if anomaly:
        arows = {b.spec.id: [work.learn_inputs[b.spec.id][i:i + 1] for i in range(n)]
                 for b in anomaly}

        def score(i: int) -> None:
            for b in anomaly:
                b.score(arows[b.spec.id][i % n])
        stages.append(Stage("anomaly", "edgert", "AnomalyRunner.score: one window (C)",
                            Task("anomaly/edgert", score)))
    wins = work.windows
    if keras or anomaly:
        stages.append(Stage("impulse", "edgert", "Impulse.classify_window: the whole "
                            "impulse on one window, one C call through the impulse plan",
                            Task("impulse/edgert",
                                 lambda i: imp.classify_window(wins[i % n], variant))))
        plan = _plan_of(imp, variant)
        if plan is not None:
            buf = plan.buffers()
            stages.append(Stage("impulse", "edgert-plan-c",
                                "ImpulsePlan.run_into: the plan's C entry point alone "
                                "(one cffi call, no result objects)",
                                Task("impulse/edgert-plan-c",
                                     lambda i: plan.run_into(wins[i % n], buf))))
        stream = imp.stream(variant=variant)
        W, S = imp.window_samples, imp.window_increase_samples
        feed = synthetic_recording(W + S * 512, len(imp.axes), imp.frequency, seed=1)
        stream.push(feed[:W - S])
        pos = [W - S]

        def push(i: int) -> None:
            if pos[0] + S > feed.shape[0]:
                stream.reset()
                stream.push(feed[:W - S])
                pos[0] = W - S
            stream.push(feed[pos[0]:pos[0] + S])
            pos[0] += S
        stages.append(Stage("stream", "edgert", f"Stream.push of {S} new samples (one window "
                            "increase), which delivers one window's result",
                            Task("stream/edgert", push)))

    # ---------------------------------------------------------------- references
    ref_dsp = _dsp_reference(imp, missing)
    if ref_dsp is not None:
        stages.append(Stage("dsp", "numpy-reference", "the numpy/scipy spectral reference "
                            "(edgert.bench.reference_dsp) on one window",
                            Task("dsp/numpy-reference", lambda i: ref_dsp(wins[i % n])),
                            reference=True))
    kinds = interpreter_kinds()
    built: dict[str, list[Interpreter]] = {}
    nets: dict[str, list[Callable[[np.ndarray], np.ndarray]]] = {}
    for kind, why in kinds.items():
        if why is not None:
            if not why.startswith("not needed"):
                missing.append(Unavailable(kind, "classification", why))
            continue
        if not keras:
            continue
        try:
            interps = [Interpreter(kind, b.spec.models[variant].data) for b in keras]
        except Exception as exc:  # noqa: BLE001 - an interpreter refusing a model is a result
            missing.append(Unavailable(kind, "classification", f"{kind} cannot run the "
                                       f"model: {exc}"))
            continue
        built[kind] = interps
        nets[kind] = [_net(b, it, variant) for b, it in zip(keras, interps)]
        feats_rows = {b.spec.id: work.learn_inputs[b.spec.id] for b in keras}

        def run_nets(i: int, fns=nets[kind]) -> None:
            for b, fn in zip(keras, fns):
                fn(feats_rows[b.spec.id][i % n])
        stages.append(Stage("classification", kind, f"{INTERPRETERS[kind]}: numpy quantize, "
                            "set input, invoke, get output, numpy dequantize; one window",
                            Task(f"classification/{kind}", run_nets), reference=True))
    km = [(b, KMeansReference(b.spec.metadata, b.spec.axes)) for b in anomaly if b.spec.type == "anomaly"]
    if anomaly and len(km) == len(anomaly):
        arows2 = {b.spec.id: work.learn_inputs[b.spec.id] for b in anomaly}

        def km_score(i: int) -> None:
            for b, r in km:
                r.score(arows2[b.spec.id][i % n])
        stages.append(Stage("anomaly", "numpy-reference", "K-means score in numpy, one window",
                            Task("anomaly/numpy-reference", km_score), reference=True))
    elif anomaly:
        missing.append(Unavailable("numpy-reference", "anomaly",
                                   "no numpy reference for GMM anomaly blocks"))
    whole_net = next((k for k in ("tflite-micro", "litert-reference", "litert-xnnpack",
                                  "tflite-runtime") if k in nets), None)
    anomaly_ok = not anomaly or len(km) == len(anomaly)
    if ref_dsp is not None and (whole_net or not keras) and anomaly_ok and (keras or anomaly):
        fns = nets.get(whole_net, []) if whole_net else []

        def whole(i: int) -> None:
            feats = ref_dsp(wins[i % n], keep=True)
            for b, fn in zip(keras, fns):
                fn(_learn_row(b.spec, feats))
            for b, r in km:
                r.score(_learn_row(b.spec, feats))
        stages.append(Stage("impulse", "python-reference",
                            "per-window Python pipeline: numpy/scipy DSP + "
                            f"{whole_net or 'no network'} + numpy K-means, one window",
                            Task("impulse/python-reference", whole), reference=True))
    elif keras or anomaly:
        missing.append(Unavailable("python-reference", "impulse",
                                   "needs the DSP reference, an interpreter and a numpy "
                                   "anomaly reference for every block"))
    return stages, missing, {"interpreters": built}


def _plan_of(imp: Any, variant: Optional[str]) -> Any:
    """The impulse plan when the impulse fits it, else None."""
    try:
        return imp.plan(variant)
    except Exception as exc:  # noqa: BLE001 - PlanUnsupportedError and kin: say why, go on
        log.info("no impulse plan for this bundle: %s", exc)
        return None


def _net(block: Any, interp: Interpreter, variant: str) -> Callable[[np.ndarray], np.ndarray]:
    m = block.model(variant)
    tin, tout = m.inputs[0], m.outputs[0]
    return network_call(interp, tin.scale, tin.zero_point, tout.scale, tout.zero_point,
                        np.dtype(tin.dtype) == np.int8, np.dtype(tout.dtype) == np.int8)


def _learn_row(spec: Any, feats: dict) -> np.ndarray:
    parts = [feats[d] for d in spec.dsp]
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(np.float32)


def _dsp_reference(imp: Any, missing: list[Unavailable]) -> Optional[Callable[..., Any]]:
    """window -> features of every DSP block by the numpy reference (``keep=True``: a dict
    {dsp id: features}), or None (the reason appended to ``missing``)."""
    why = dsp_reference_missing()
    if why is None:
        from . import reference_dsp
        for d in imp.dsp_blocks:
            why = reference_dsp.supports(d.spec.type, d.spec.implementation_version,
                                         d.spec.params)
            if why:
                why = f"DSP block {d.spec.id}: {why}"
                break
    if why is not None:
        missing.append(Unavailable("numpy-reference", "dsp", why))
        return None
    blocks = []
    for d in imp.dsp_blocks:
        cols = [imp.axes.index(a) for a in (d.spec.axes or imp.axes)]
        blocks.append((d.spec.id, cols, dict(d.spec.params), d.spec.implementation_version))
    freq = imp.frequency

    def run(window: np.ndarray, keep: bool = False) -> Any:
        out = {bid: reference_dsp.block_features(window[:, cols], freq, params, version)
               for bid, cols, params, version in blocks}
        return out if keep else None
    return run


# ------------------------------------------------------------------------------ one model
class ModelWorkload:
    """Inputs every pipeline sees: edge rows (all minimum, all maximum, the zero point) then
    random values of the input's type and shape, deterministic."""

    def __init__(self, model: Any, n: int = POOL, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.inputs: list[np.ndarray] = []
        for info in model.inputs:
            shape = (n,) + tuple(info.item_shape)
            dt = np.dtype(info.dtype)
            if dt == np.int8:
                x = rng.integers(-128, 128, size=shape).astype(np.int8)
                x[0], x[1] = -128, 127
                x[2] = int(np.clip(np.asarray(info.zero_point).reshape(-1)[0], -128, 127))
            elif dt == np.uint8:
                x = rng.integers(0, 256, size=shape).astype(np.uint8)
            elif dt == np.float32:
                x = (rng.standard_normal(shape) * 2.0).astype(np.float32)
                x[0] = 0.0
            else:
                x = rng.integers(-100, 100, size=shape).astype(dt)
            self.inputs.append(np.ascontiguousarray(x))
        self.n = n

    def one(self, i: int) -> list[np.ndarray]:
        return [x[i % self.n] for x in self.inputs]


def model_stages(model: Any, model_bytes: bytes, work: ModelWorkload, batch: int
                 ) -> tuple[list[Stage], list[Unavailable], dict[str, Interpreter]]:
    """Timed ``inference`` stages of one network: edgert (batched and single; the
    interpreter fallback when the native engine cannot run it) and every interpreter."""
    stages: list[Stage] = []
    missing: list[Unavailable] = []
    n = work.n
    single = len(model.inputs) == 1
    ones = [work.one(i) for i in range(n)]
    native = getattr(model, "backend", "") == "native"
    name = "edgert" if native else "edgert-fallback"
    batches = [[x[j:j + batch] for x in work.inputs] for j in range(0, n - batch + 1, batch)]
    nb = len(batches)
    stages.append(Stage("inference", f"{name}-batched",
                        f"invoke_batch of {batch} inputs in one call, per inference"
                        + ("" if native else " (a Python loop over the TFLite interpreter)"),
                        Task(f"inference/{name}-batched",
                             (lambda i: model.invoke_batch(batches[i % nb][0])) if single else
                             (lambda i: model.invoke_batch(batches[i % nb])), per_call=batch)))
    stages.append(Stage("inference", f"{name}-single", "invoke of one input (Python call "
                        "included)", Task(f"inference/{name}-single",
                                          (lambda i: model.invoke(ones[i % n][0])) if single
                                          else (lambda i: model.invoke(ones[i % n])))))
    built: dict[str, Interpreter] = {}
    for kind, why in interpreter_kinds().items():
        if why is not None:
            if not why.startswith("not needed"):
                missing.append(Unavailable(kind, "inference", why))
            continue
        try:
            it = Interpreter(kind, model_bytes)
        except Exception as exc:  # noqa: BLE001 - an interpreter refusing a model is a result
            missing.append(Unavailable(kind, "inference", f"{kind} cannot run the model: {exc}"))
            continue
        built[kind] = it
        full = [[x.reshape(s) for x, s in zip(o, it.input_shapes)] for o in ones]
        stages.append(Stage("inference", kind, f"{INTERPRETERS[kind]}: set input, invoke, "
                            "get output; one inference",
                            Task(f"inference/{kind}", lambda i, it=it, full=full:
                                 it.invoke(full[i % n])), reference=True))
    return stages, missing, built


__all__ = ["Stage", "Unavailable", "BundleWorkload", "ModelWorkload", "bundle_stages",
           "model_stages", "synthetic_recording", "POOL"]
