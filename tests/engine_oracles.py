"""Shared helpers of the tests/test_engine_*.py files: run a .tflite through the reference
interpreters (tflite-micro for int8 - the bit-exact oracle -, ai-edge-litert with reference
kernels for float32) and random quantization parameters."""
from __future__ import annotations

import numpy as np
import pytest


def micro_run(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of TFLite Micro for each single input (outputs[0] of the model)."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    interp = runtime.Interpreter.from_bytes(model)
    shape = interp.get_input_details(0)["shape"]
    out = []
    for x in xs:
        interp.set_input(np.asarray(x).reshape(shape), 0)
        interp.invoke()
        out.append(np.array(interp.get_output(0)))
    return out


def litert_run(model: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    mod = pytest.importorskip("ai_edge_litert.interpreter")
    interp = mod.Interpreter(model_content=model,
                             experimental_op_resolver_type=mod.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    i = interp.get_input_details()[0]
    o = interp.get_output_details()[0]
    out = []
    for x in xs:
        interp.set_tensor(i["index"], np.asarray(x).reshape(i["shape"]))
        interp.invoke()
        out.append(interp.get_tensor(o["index"]).copy())
    return out


def rand_q(rng: np.random.Generator) -> tuple[float, int]:
    """A random int8 quantization (scale, zero point) like converters produce."""
    return float(np.float32(10 ** rng.uniform(-2.5, -0.3))), int(rng.integers(-30, 30))
