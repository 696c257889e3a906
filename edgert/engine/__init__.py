"""edgert.engine: runs TFLite models, natively in C or through a TFLite interpreter.

    from edgert.engine import load_model, quantize, dequantize
    m = load_model("model.tflite", backend="auto")        # "native" | "tflite" | "auto"
    m.backend                  # "native" or "tflite"
    m.inputs, m.outputs        # [TensorInfo(name, shape, dtype, scale, zero_point)]
    m.arena_bytes              # activation memory of one invoke (native; 0 for "tflite")
    y = m.invoke(x)            # one input of the input tensor's shape (batch dim 1 optional):
                               # the per-window call of a stream, ~1.4 us CPU on the dense
                               # classifier (the ai-edge-litert invoke loop: ~2.3 us)
    Y = m.invoke_batch(X)      # X: (N, *shape[1:]) -> (N, *output_shape[1:]), ONE C call
    q = quantize(features, m.inputs[0].scale, m.inputs[0].zero_point)   # float -> int8

Backends:
- ``"native"``: the model is parsed (``tflite`` schema package, every offset/size validated:
  corrupt or truncated files raise ModelError) and compiled into a *plan*
  (:mod:`.compiler`): op records with every quantization parameter precomputed, weights in one
  constant blob, activations in one arena placed by lifetime. The C core (csrc/engine*.c,
  csrc/kernel_*.c) validates the plan and runs it; ``invoke_batch`` runs all windows in one
  call, releasing the GIL, each thread with its own arena (a model may be used from several
  threads at once); ``invoke`` has a lean per-thread fast path (one C call through
  ``edgert_engine_invoke_one``, the plan still validated on every call). int8 is bit-exact with the
  TFLite Micro interpreter (``tflite-micro``; int8 SOFTMAX/LOGISTIC/TANH/MEAN/RELU6 follow
  Micro, not desktop TFLite), float32 follows the reference kernels' summation order. An
  operator or type it does not implement raises UnsupportedOperatorError naming it.
- ``"tflite"``: ai-edge-litert's (else tflite-runtime's) Interpreter with its reference
  kernels; ``invoke_batch`` is a per-item loop. Its int8 SOFTMAX is desktop TFLite's (a float
  table), a few 1/256 off Micro's.
- ``"auto"``: native when every operator is supported, else the interpreter with a logged
  warning naming the operator. Only a valid model falls back: operator codes TFLite does not
  define, or a model the interpreter rejects too, raise ModelError (corrupt), never the
  interpreter's own exceptions.

:mod:`.export` writes a compiled plan as C99 source for a microcontroller build of the same
C core; :mod:`edgert.importer.tflite_writer` writes small .tflite files (import, tests).
"""
from __future__ import annotations

import logging
import os
from typing import Union

from ..errors import ModelError, UnsupportedOperatorError
from .compiler import compile_graph
from .plan import Plan
from .model import (INSTALL_INTERPRETER, InterpreterModel, ModelBase, TensorInfo, graph_io,
                    interpreter_class)
from .quant import dequantize, quantize
from .reader import BUILTIN_NAMES, Graph, read_graph

log = logging.getLogger(__name__)

BACKENDS = ("native", "tflite", "auto")


def _read_bytes(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    if isinstance(path_or_bytes, (str, os.PathLike)):
        try:
            with open(path_or_bytes, "rb") as f:
                return f.read()
        except OSError as exc:
            raise ModelError(f"cannot read model file {os.fspath(path_or_bytes)!r}: {exc.strerror}") from exc
    raise ModelError(f"load_model expects a path or bytes, got {type(path_or_bytes).__name__}")


def load_model(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview],
               backend: str = "auto") -> ModelBase:
    """Load a .tflite model for inference with the given backend (see the module docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    buf = _read_bytes(path_or_bytes)
    graph = read_graph(buf)
    inputs, outputs = graph_io(graph)
    if backend == "tflite":
        return InterpreterModel(buf, inputs, outputs)
    from .native import NativeModel  # the C extension is only needed here

    try:
        plan = compile_graph(graph)
    except UnsupportedOperatorError as exc:
        if backend == "native":
            raise
        if interpreter_class() is None:
            raise UnsupportedOperatorError(f"{exc}; and no TFLite interpreter is installed to fall "
                                           f"back to: {INSTALL_INTERPRETER}") from exc
        unknown = sorted({op.name for op in graph.ops if op.code not in BUILTIN_NAMES})
        if unknown:
            # not a missing operator of a valid model: codes TFLite itself does not define
            raise ModelError(f"corrupt TFLite model: operator codes {', '.join(unknown)} are "
                             "not TFLite operators") from exc
        log.warning("native engine cannot run this model (%s); falling back to the TFLite "
                    "interpreter", exc)
        try:
            return InterpreterModel(buf, inputs, outputs)
        except ModelError as fallback:
            # neither engine takes it: a corrupt model (or one no engine supports), said as such
            raise ModelError(f"corrupt or unsupported TFLite model: the native engine refused "
                             f"it ({exc}) and {fallback}") from fallback
    return NativeModel(plan, inputs, outputs)


__all__ = ["load_model", "TensorInfo", "quantize", "dequantize", "read_graph", "compile_graph",
           "Graph", "Plan", "BACKENDS", "ModelBase"]
