"""edgert.engine: runs TFLite models.

``load_model(path_or_bytes, backend="auto")`` returns a model with ``inputs``/``outputs``
(:class:`TensorInfo`), ``arena_bytes``, ``invoke(x)`` and ``invoke_batch(X)``:

- ``"native"``: edgert's own C kernels from a compiled plan (int8 bit-exact with TFLite Micro,
  float32), batched in one C call; raises :class:`~edgert.errors.UnsupportedOperatorError`
  naming the first operator it cannot run;
- ``"tflite"``: the installed TFLite interpreter (ai-edge-litert or tflite-runtime);
- ``"auto"``: native when every operator is supported, else the interpreter (with a logged
  warning naming the operator).
"""
from __future__ import annotations

import logging
import os
from typing import Union

from ..errors import ModelError, UnsupportedOperatorError
from .compiler import Plan, compile_graph
from .model import InterpreterModel, ModelBase, TensorInfo, graph_io, interpreter_class
from .quant import dequantize, quantize
from .reader import Graph, read_graph

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
                                           "back to (pip install ai-edge-litert)") from exc
        log.warning("native engine cannot run this model (%s); falling back to the TFLite "
                    "interpreter", exc)
        return InterpreterModel(buf, inputs, outputs)
    return NativeModel(plan, inputs, outputs)


__all__ = ["load_model", "TensorInfo", "quantize", "dequantize", "read_graph", "compile_graph",
           "Graph", "Plan", "BACKENDS"]
