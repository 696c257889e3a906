"""The reference pipelines `edgert bench` times edgert against, when they are installed.

- DSP: the numpy/scipy reference of spectral analysis (:mod:`.reference_dsp`, needs scipy).
- Networks: each installed TFLite interpreter, invoked once per window from Python the way a
  user would write it (set input, invoke, read output), with its own memory:
  ``litert-xnnpack`` (ai-edge-litert, default op resolver: optimized kernels and the XNNPACK
  delegate, one thread), ``litert-reference`` (ai-edge-litert, ``BUILTIN_REF`` reference
  kernels), ``tflite-micro`` (the ``tflite-micro`` interpreter: the kernels Edge Impulse's SDK
  compiles for a microcontroller), and ``tflite-runtime`` when ai-edge-litert is missing.
- Anomaly: K-means scoring in numpy.

Nothing here imports an interpreter at module import time: :func:`interpreter_kinds` says which
are installed, and why not for the others, so the report can name what it could not measure.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from .memory import captured_fd2, micro_arena_bytes, traced

#: interpreter kinds, in report order, with what they are
INTERPRETERS: dict[str, str] = {
    "litert-xnnpack": "ai-edge-litert, default op resolver (optimized kernels + XNNPACK), "
                      "1 thread",
    "litert-reference": "ai-edge-litert, BUILTIN_REF reference kernels",
    "tflite-runtime": "tflite-runtime, default op resolver (used when ai-edge-litert is "
                      "missing)",
    "tflite-micro": "tflite-micro interpreter (TFLite Micro kernels, what Edge Impulse's SDK "
                    "runs)",
}
INSTALL_HINT = {
    "litert-xnnpack": "pip install 'edgert[litert]'",
    "litert-reference": "pip install 'edgert[litert]'",
    "tflite-runtime": "pip install 'edgert[tflite-runtime]'",
    "tflite-micro": "pip install 'edgert[micro]'",
    "numpy-reference": "pip install 'edgert[bench]' (scipy)",
}


def interpreter_kinds() -> dict[str, Optional[str]]:
    """{kind: None when installed, else why it is not usable}."""
    out: dict[str, Optional[str]] = {}
    try:
        from ai_edge_litert import interpreter as litert  # noqa: F401
        out["litert-xnnpack"] = out["litert-reference"] = None
        out["tflite-runtime"] = "not needed: ai-edge-litert is installed"
    except ImportError as exc:
        msg = f"ai-edge-litert is not installed ({exc}): {INSTALL_HINT['litert-xnnpack']}"
        out["litert-xnnpack"] = out["litert-reference"] = msg
        try:
            from tflite_runtime import interpreter as tfr  # noqa: F401
            out["tflite-runtime"] = None
        except ImportError:
            out["tflite-runtime"] = (f"tflite-runtime is not installed: "
                                     f"{INSTALL_HINT['tflite-runtime']}")
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
        out["tflite-micro"] = None
    except ImportError as exc:
        out["tflite-micro"] = f"tflite-micro is not installed ({exc}): {INSTALL_HINT['tflite-micro']}"
    return out


def dsp_reference_missing() -> Optional[str]:
    """None when the numpy/scipy DSP reference can be imported, else why not."""
    try:
        from . import reference_dsp  # noqa: F401
    except ImportError as exc:
        return f"the numpy/scipy spectral reference needs scipy ({exc}): {INSTALL_HINT['numpy-reference']}"
    return None


class Interpreter:
    """One TFLite interpreter on one model, invoked per window. ``memory`` says what building
    it and its first invoke cost (RSS delta, Python heap; TFLite Micro: its arena)."""

    def __init__(self, kind: str, model: bytes):
        self.kind = kind
        self.description = INTERPRETERS[kind]
        with traced() as t, captured_fd2():   # LiteRT logs "Created ... delegate" there
            self._build(kind, bytes(model))
            self.invoke([np.zeros(s, d) for s, d in zip(self.input_shapes, self.input_dtypes)])
        self.memory: dict[str, Any] = {"rss_delta_bytes": t.rss_delta,
                                       "python_heap_bytes": t.held}
        if kind == "tflite-micro":
            arena = micro_arena_bytes(self._it)
            if arena:
                self.memory["arena_bytes"] = arena["total"]
                self.memory["arena_activation_bytes"] = arena["activations"]

    def _build(self, kind: str, model: bytes) -> None:
        if kind == "tflite-micro":
            from tflite_micro.python.tflite_micro import runtime
            import tflite
            sg = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0)
            n_in, n_out = sg.InputsLength(), sg.OutputsLength()
            # the package's default arena (10x the model) is too small for models whose
            # activations outweigh their weights
            it = runtime.Interpreter.from_bytes(model, arena_size=max(10 * len(model),
                                                                      256 * 1024))
            self._it = it
            ins = [it.get_input_details(i) for i in range(n_in)]
            self.input_shapes = [tuple(int(v) for v in d["shape"]) for d in ins]
            self.input_dtypes = [np.dtype(d["dtype"]) for d in ins]
            outs = range(n_out)

            def run(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
                for k, x in enumerate(xs):
                    it.set_input(x, k)
                it.invoke()
                return [it.get_output(k) for k in outs]
            self._run = run
            return
        if kind == "tflite-runtime":
            from tflite_runtime.interpreter import Interpreter as Impl
            it = Impl(model_content=model, num_threads=1)
        else:
            from ai_edge_litert.interpreter import Interpreter as Impl, OpResolverType
            resolver = (OpResolverType.BUILTIN_REF if kind == "litert-reference"
                        else OpResolverType.AUTO)
            it = Impl(model_content=model, experimental_op_resolver_type=resolver,
                      num_threads=1)
        it.allocate_tensors()
        self._it = it
        ins = it.get_input_details()
        self.input_shapes = [tuple(int(v) for v in d["shape"]) for d in ins]
        self.input_dtypes = [np.dtype(d["dtype"]) for d in ins]
        in_idx = [d["index"] for d in ins]
        out_idx = [d["index"] for d in it.get_output_details()]

        def run_litert(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
            for i, x in zip(in_idx, xs):
                it.set_tensor(i, x)
            it.invoke()
            return [it.get_tensor(i) for i in out_idx]
        self._run = run_litert

    def invoke(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One inference: ``xs`` one array per input, of the input's full shape."""
        return self._run(xs)


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 -> int8, round half away from zero (as Edge Impulse's SDK quantizes)."""
    v = x / np.float32(scale)
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (np.float32(scale) * (q.astype(np.float32) - np.float32(zero_point))).astype(np.float32)


class KMeansReference:
    """K-means anomaly score in numpy: the smallest distance to a cluster's centre, less that
    cluster's radius, on the standardised selected features."""

    def __init__(self, metadata: Any, axes: Sequence[int]):
        self.axes = np.asarray(list(axes), dtype=np.int64)
        self.mean = np.asarray(metadata["mean"], np.float32)
        self.scale = np.asarray(metadata["scale"], np.float32)
        self.centers = np.asarray([c["center"] for c in metadata["clusters"]], np.float32)
        self.max_error = np.asarray([c["maxError"] for c in metadata["clusters"]], np.float32)

    def score(self, features: np.ndarray) -> float:
        z = (features[self.axes] - self.mean) / self.scale
        return float(np.min(np.linalg.norm(z - self.centers, axis=1) - self.max_error))


def network_call(interp: Interpreter, in_scale: float, in_zp: int, out_scale: float,
                 out_zp: int, quantized_in: bool, quantized_out: bool
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """features (F,) float32 -> probabilities, through ``interp`` with numpy (de)quantization:
    the per-window network stage of a Python pipeline."""
    shape = interp.input_shapes[0]
    dtype = interp.input_dtypes[0]

    def run(f: np.ndarray) -> np.ndarray:
        x = quantize(f, in_scale, in_zp) if quantized_in else f.astype(dtype)
        y = interp.invoke([x.reshape(shape)])[0].reshape(-1)
        return dequantize(y, out_scale, out_zp) if quantized_out else y
    return run


__all__ = ["INTERPRETERS", "interpreter_kinds", "dsp_reference_missing", "Interpreter",
           "KMeansReference", "network_call", "quantize", "dequantize"]
