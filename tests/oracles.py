"""Oracle runners for .tflite models: TFLite Micro and ai-edge-litert.

These wrap the two interpreters the native engine is checked against (see the project's
TFLite kernel spec):

* :class:`MicroOracle` - the ``tflite-micro`` Python interpreter. Its int8 kernels are the
  ones Edge Impulse's SDK/EON compiles, so it is *the* int8 oracle (bit-exact).
* :class:`LitertOracle` - ``ai-edge-litert`` (desktop TFLite). With ``reference=True`` it uses
  the ``BUILTIN_REF`` op resolver (reference kernels, no XNNPACK): the float32 oracle, and a
  second int8 opinion that differs from Micro only where the desktop kernels do (SOFTMAX).
  With ``reference=False`` it is the default resolver (optimized kernels + XNNPACK): the
  speed baseline of the benchmarks.

Both expose the same small API: ``inputs``/``outputs`` (:class:`TensorSpec`), ``invoke(x)``
for one input (``x`` of the model's input shape, or without its leading batch dimension of 1)
returning one array per output, and ``invoke_batch(X)`` for ``X`` of shape
``(N, *input_shape[1:])`` returning arrays of shape ``(N, *output_shape[1:])`` (a Python
loop over ``invoke``: these interpreters have a fixed batch). Models have one input;
several outputs are returned as a list. The oracles raise when their interpreter is not
installed (never a skip: a missing oracle must fail the suite).

Used by tests/test_engine_*.py and benches/bench_engine.py; :func:`edge_inputs` and
:func:`rand_q` make their inputs and quantization parameters.
"""
from __future__ import annotations

import dataclasses
import os
from typing import List, Union

import numpy as np

ModelSource = Union[bytes, bytearray, str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Shape, type and (first) quantization parameters of a model input or output."""

    name: str
    shape: tuple
    dtype: np.dtype
    scale: float
    zero_point: int


def model_bytes(model: ModelSource) -> bytes:
    """The flatbuffer of ``model`` (bytes are returned unchanged, paths are read)."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def _spec(details: dict, name: str = "") -> TensorSpec:
    q = details.get("quantization_parameters", {})
    scales = q.get("scales", [])
    zps = q.get("zero_points", [])
    return TensorSpec(
        name=str(details.get("name", name)),
        shape=tuple(int(v) for v in details["shape"]),
        dtype=np.dtype(details["dtype"]),
        scale=float(scales[0]) if len(scales) else 0.0,
        zero_point=int(zps[0]) if len(zps) else 0,
    )


def _io_counts(buf: bytes) -> tuple:
    """(number of inputs, number of outputs) of subgraph 0, read with the `tflite` schema."""
    import tflite

    sg = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    return sg.InputsLength(), sg.OutputsLength()


def item_shape(shape: tuple) -> tuple:
    """One item of a batch, as edgert.engine's TensorInfo.item_shape: ``shape`` without a
    leading batch dimension of 1 (a tensor with another leading dimension is one item)."""
    return tuple(shape[1:]) if len(shape) >= 2 and shape[0] == 1 else tuple(shape)


class _Oracle:
    inputs: List[TensorSpec]
    outputs: List[TensorSpec]

    def _one(self, x: np.ndarray) -> np.ndarray:
        spec = self.inputs[0]
        x = np.asarray(x)
        if x.dtype != spec.dtype:
            raise TypeError(f"input dtype {x.dtype}, model wants {spec.dtype}")
        return np.ascontiguousarray(x.reshape(spec.shape))

    def invoke(self, x: np.ndarray) -> List[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def invoke_batch(self, X: np.ndarray) -> List[np.ndarray]:
        """Run every item of ``X`` (shape ``(N, *item_shape(input_shape))``); outputs stacked
        as ``(N, *item_shape(output_shape))``."""
        X = np.asarray(X)
        n = X.shape[0]
        outs = [np.empty((n,) + item_shape(o.shape), o.dtype) for o in self.outputs]
        for i in range(n):
            for k, y in enumerate(self.invoke(X[i])):
                outs[k][i] = y.reshape(item_shape(self.outputs[k].shape))
        return outs


class MicroOracle(_Oracle):
    """The ``tflite-micro`` interpreter (the int8 oracle)."""

    def __init__(self, model: ModelSource, arena_size: int | None = None) -> None:
        from tflite_micro.python.tflite_micro import runtime

        buf = model_bytes(model)
        if arena_size is None:
            # The package's default (10x the model size) is too small for models whose
            # activations outweigh their weights.
            arena_size = max(10 * len(buf), 256 * 1024)
        self._it = runtime.Interpreter.from_bytes(buf, arena_size=arena_size)
        n_in, n_out = _io_counts(buf)
        self.inputs = [_spec(self._it.get_input_details(i), f"input{i}") for i in range(n_in)]
        self.outputs = [_spec(self._it.get_output_details(i), f"output{i}") for i in range(n_out)]

    def invoke(self, x: np.ndarray) -> List[np.ndarray]:
        self._it.set_input(self._one(x), 0)
        self._it.invoke()
        return [np.array(self._it.get_output(k)) for k in range(len(self.outputs))]


class LitertOracle(_Oracle):
    """``ai-edge-litert``; ``reference=True`` selects the BUILTIN_REF reference kernels."""

    def __init__(self, model: ModelSource, reference: bool = True, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
        self._it = Interpreter(
            model_content=model_bytes(model),
            experimental_op_resolver_type=resolver,
            num_threads=num_threads,
        )
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()
        self._out = self._it.get_output_details()
        self.inputs = [_spec(d) for d in self._in]
        self.outputs = [_spec(d) for d in self._out]

    def invoke(self, x: np.ndarray) -> List[np.ndarray]:
        self._it.set_tensor(self._in[0]["index"], self._one(x))
        self._it.invoke()
        return [self._it.get_tensor(d["index"]).copy() for d in self._out]


def rand_q(rng: np.random.Generator) -> tuple:
    """A random int8 quantization (scale, zero point) like converters produce."""
    return float(np.float32(10 ** rng.uniform(-2.5, -0.3))), int(rng.integers(-30, 30))


def edge_inputs(spec: TensorSpec, n_random: int, seed: int) -> np.ndarray:
    """A batch of inputs for ``spec``: edge cases first, then ``n_random`` random ones.

    int8: all -128, all 127, the zero point everywhere, zero point +-1, alternating -128/127,
    then uniform random int8. float32: zeros, +-1, then standard-normal values scaled so that
    most of the batch lies in a typical feature range, plus some larger-magnitude rows.
    """
    rng = np.random.default_rng(seed)
    tail = spec.shape[1:]
    size = int(np.prod(tail)) if tail else 1
    if spec.dtype == np.int8:
        zp = int(np.clip(spec.zero_point, -128, 127))
        fixed = [
            np.full(size, -128),
            np.full(size, 127),
            np.full(size, zp),
            np.full(size, np.clip(zp + 1, -128, 127)),
            np.full(size, np.clip(zp - 1, -128, 127)),
            np.where(np.arange(size) % 2 == 0, -128, 127),
            np.where(np.arange(size) % 2 == 0, 127, -128),
        ]
        rand = rng.integers(-128, 128, size=(n_random, size))
        X = np.concatenate([np.stack(fixed), rand]).astype(np.int8)
    elif spec.dtype == np.float32:
        fixed = [np.zeros(size), np.ones(size), -np.ones(size)]
        rand = rng.standard_normal((n_random, size)) * 2.0
        big = rng.standard_normal((max(1, n_random // 20), size)) * 50.0
        X = np.concatenate([np.stack(fixed), rand, big]).astype(np.float32)
    else:
        raise TypeError(f"no input generator for {spec.dtype}")
    return X.reshape((-1,) + tuple(tail))
