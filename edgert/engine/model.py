"""The model object every backend returns: tensor descriptions and input validation shared
by the native engine and the TFLite-interpreter fallback."""
from __future__ import annotations

import threading
from typing import Any, NamedTuple, Sequence, Union

import numpy as np

from ..errors import InputError, ModelError
from .reader import Graph, TensorDesc


class TensorInfo(NamedTuple):
    """A model input/output. ``scale``/``zero_point`` are scalars for per-tensor quantization,
    arrays for per-channel, and 0.0/0 for float tensors (as TFLite reports them)."""

    name: str
    shape: tuple
    dtype: np.dtype
    scale: Union[float, np.ndarray]
    zero_point: Union[int, np.ndarray]

    @property
    def item_shape(self) -> tuple:
        """The shape of one item of a batch: ``shape`` without a leading batch dimension of 1."""
        if len(self.shape) >= 2 and self.shape[0] == 1:
            return tuple(self.shape[1:])
        return tuple(self.shape)


def tensor_info(t: TensorDesc) -> TensorInfo:
    dt = t.dtype if t.dtype is not None else np.dtype(np.uint8)
    if t.quantized:
        if t.scale.size == 1:
            scale: Union[float, np.ndarray] = float(t.scale[0])
            zp: Union[int, np.ndarray] = int(t.zero_point[0])
        else:
            scale, zp = t.scale.copy(), t.zero_point.copy()
    else:
        scale, zp = 0.0, 0
    return TensorInfo(t.name, tuple(int(d) for d in t.shape), dt, scale, zp)


def graph_io(g: Graph) -> tuple[list[TensorInfo], list[TensorInfo]]:
    return [tensor_info(g.tensors[i]) for i in g.inputs], [tensor_info(g.tensors[i]) for i in g.outputs]


class ModelBase:
    """Common part of the backends: validates inputs (dtype must match exactly, shape must be
    the tensor's shape or, for a batch, (N, *item_shape))."""

    backend = "?"

    def __init__(self, inputs: list[TensorInfo], outputs: list[TensorInfo]):
        self.inputs = inputs
        self.outputs = outputs

    @property
    def arena_bytes(self) -> int:  # pragma: no cover - overridden
        return 0

    def _as_list(self, x: Any) -> list:
        if len(self.inputs) == 1:
            return [x]
        if not isinstance(x, (list, tuple)) or len(x) != len(self.inputs):
            raise InputError(f"the model has {len(self.inputs)} inputs: pass a list of {len(self.inputs)} arrays")
        return list(x)

    def _check_dtype(self, arr: np.ndarray, info: TensorInfo, k: int) -> None:
        if arr.dtype != info.dtype:
            hint = ""
            if info.dtype == np.int8:
                hint = (f"; quantize float features with edgert.engine.quantize(x, {info.scale!r}, "
                        f"{info.zero_point!r})")
            raise InputError(f"model input {k} '{info.name}' expects dtype {info.dtype}, got "
                             f"{arr.dtype}{hint}")

    def _single_inputs(self, x: Any) -> list[np.ndarray]:
        """Inputs of one invoke, each of shape (1, *item_shape) (may be non-contiguous views)."""
        out = []
        for k, (xi, info) in enumerate(zip(self._as_list(x), self.inputs)):
            arr = xi if isinstance(xi, np.ndarray) else np.asarray(xi)
            if arr.dtype != info.dtype:
                self._check_dtype(arr, info, k)
            if arr.shape != info.shape and arr.shape != info.item_shape:
                raise InputError(f"model input {k} '{info.name}' expects shape {info.shape}"
                                 f" (or {info.item_shape}), got {arr.shape}")
            out.append(arr.reshape((1,) + info.item_shape))
        return out

    def _batch_inputs(self, X: Any) -> list[np.ndarray]:
        out = []
        n = None
        for k, (xi, info) in enumerate(zip(self._as_list(X), self.inputs)):
            arr = np.asarray(xi)
            self._check_dtype(arr, info, k)
            if arr.ndim != len(info.item_shape) + 1 or arr.shape[1:] != info.item_shape:
                raise InputError(f"model input {k} '{info.name}': a batch must have shape "
                                 f"(N, {', '.join(map(str, info.item_shape))}), got {arr.shape}")
            if n is not None and arr.shape[0] != n:
                raise InputError(f"model inputs have different batch sizes ({n} and {arr.shape[0]})")
            n = arr.shape[0]
            out.append(np.ascontiguousarray(arr))
        return out

    def invoke(self, x: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def invoke_batch(self, X: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        ins = ", ".join(f"{i.name}{list(i.shape)}:{i.dtype}" for i in self.inputs)
        outs = ", ".join(f"{o.name}{list(o.shape)}:{o.dtype}" for o in self.outputs)
        return f"<{type(self).__name__} backend={self.backend} inputs=[{ins}] outputs=[{outs}]>"


# What to run when no interpreter is installed (the optional extras in pyproject.toml).
INSTALL_INTERPRETER = ("pip install 'edgert[litert]' (ai-edge-litert) or "
                       "pip install 'edgert[tflite-runtime]' (tflite-runtime)")


def interpreter_class():
    """The installed TFLite interpreter (ai-edge-litert, else tflite-runtime) or None."""
    try:
        from ai_edge_litert import interpreter as mod  # type: ignore[import-not-found]
        return mod
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod  # type: ignore[import-not-found,no-redef]
        return mod
    except ImportError:
        return None


class InterpreterModel(ModelBase):
    """Fallback backend: the TFLite interpreter with its reference kernels (int8 SOFTMAX there
    follows desktop TFLite, which can differ from TFLite Micro by a few 1/256)."""

    backend = "tflite"

    def __init__(self, model_bytes: bytes, inputs: list[TensorInfo], outputs: list[TensorInfo]):
        super().__init__(inputs, outputs)
        mod = interpreter_class()
        if mod is None:
            raise ModelError(f"backend 'tflite' needs a TFLite interpreter and none is installed: "
                             f"{INSTALL_INTERPRETER}")
        kwargs: dict[str, Any] = {}
        resolver = getattr(mod, "OpResolverType", None)
        if resolver is not None:
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_REF
        try:
            self._interp = mod.Interpreter(model_content=bytes(model_bytes), **kwargs)
            self._interp.allocate_tensors()
            # tensor details decode names from the file: a corrupt one fails here too
            self._in_idx = [d["index"] for d in self._interp.get_input_details()]
            self._out_idx = [d["index"] for d in self._interp.get_output_details()]
        except Exception as exc:   # ValueError, RuntimeError, UnicodeDecodeError, ...
            raise ModelError(f"the TFLite interpreter rejected the model "
                             f"({type(exc).__name__}: {exc})") from exc
        self._lock = threading.Lock()

    @property
    def arena_bytes(self) -> int:
        return 0

    def _run_one(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        for idx, x, info in zip(self._in_idx, xs, self.inputs):
            self._interp.set_tensor(idx, x.reshape(info.shape))
        self._interp.invoke()
        return [self._interp.get_tensor(idx).copy() for idx in self._out_idx]

    def invoke(self, x: Any) -> Any:
        xs = self._single_inputs(x)
        with self._lock:
            res = self._run_one(xs)
        res = [r.reshape(info.shape) for r, info in zip(res, self.outputs)]
        return res[0] if len(res) == 1 else res

    def invoke_batch(self, X: Any) -> Any:
        xs = self._batch_inputs(X)
        n = xs[0].shape[0]
        outs = [np.empty((n,) + o.item_shape, dtype=o.dtype) for o in self.outputs]
        with self._lock:
            for i in range(n):
                res = self._run_one([x[i] for x in xs])
                for o, r in zip(outs, res):
                    o[i] = r.reshape(o.shape[1:])
        return outs[0] if len(outs) == 1 else outs
