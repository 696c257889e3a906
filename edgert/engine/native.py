"""The native backend: a compiled :class:`~edgert.engine.compiler.Plan` in C structs and the
calls into ``edgert_engine_invoke`` / ``edgert_engine_invoke_batch``."""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from .._ffi import check, ffi, lib
from ..errors import ModelError
from .compiler import Plan
from .model import ModelBase, TensorInfo


def _set(obj: Any, values: dict) -> None:
    for k, v in values.items():
        if isinstance(v, dict):
            _set(getattr(obj, k), v)
        elif isinstance(v, (list, tuple)):
            arr = getattr(obj, k)
            for i, x in enumerate(v):
                arr[i] = x
        else:
            setattr(obj, k, v)


class CPlan:
    """The C view of a plan (owns every cffi allocation it points to)."""

    def __init__(self, plan: Plan):
        try:
            self._build(plan)
        except (OverflowError, TypeError) as exc:   # a value that does not fit its C field
            raise ModelError(f"the model has a parameter out of the native engine's range ({exc})") from exc
        check(lib.edgert_engine_check(self.c, self.consts_ptr, self.consts.size), "checking the compiled plan")

    def _build(self, plan: Plan) -> None:
        self.plan = plan
        self.tensors = ffi.new("edgert_tensor[]", len(plan.tensors))
        for i, t in enumerate(plan.tensors):
            c = self.tensors[i]
            c.dtype, c.space, c.offset, c.bytes = t.dtype, t.space, t.offset, t.bytes
            for k in range(4):
                c.dims[k] = t.dims[k]
        self.ops = ffi.new("edgert_op[]", max(len(plan.ops), 1))
        for i, o in enumerate(plan.ops):
            c = self.ops[i]
            c.type, c.dtype, c.n_in, c.out = o.type, o.dtype, len(o.inputs), o.out
            ins = getattr(c, "in")  # `in` is a Python keyword
            for k in range(8):
                ins[k] = o.inputs[k] if k < len(o.inputs) else -1
            _set(c.p, o.params)
        self.c = ffi.new("edgert_plan *")
        p = self.c[0]
        p.n_tensors, p.tensors = len(plan.tensors), self.tensors
        p.n_ops, p.ops = len(plan.ops), self.ops
        p.n_inputs, p.n_outputs = len(plan.inputs), len(plan.outputs)
        for k, t in enumerate(plan.inputs):
            p.inputs[k] = t
        for k, t in enumerate(plan.outputs):
            p.outputs[k] = t
        p.arena_bytes, p.consts_bytes = plan.arena_bytes, plan.consts_bytes
        self.consts = plan.consts
        self.consts_ptr = ffi.from_buffer(self.consts)


class NativeModel(ModelBase):
    """A model run by edgert's C kernels (bit-exact with TFLite Micro for int8)."""

    backend = "native"

    def __init__(self, plan: Plan, inputs: list[TensorInfo], outputs: list[TensorInfo]):
        super().__init__(inputs, outputs)
        self.plan = plan
        self.cplan = CPlan(plan)
        self._local = threading.local()

    @property
    def arena_bytes(self) -> int:
        return int(self.plan.arena_bytes)

    @property
    def consts_bytes(self) -> int:
        return int(self.plan.consts_bytes)

    def _arena(self) -> np.ndarray:
        a = getattr(self._local, "arena", None)
        if a is None:
            a = np.zeros(max(self.arena_bytes, 16) // 16, dtype=np.dtype((np.uint8, 16)))
            a = a.view(np.uint8).reshape(-1)
            self._local.arena = a
        return a

    def _run(self, xs: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        outs = [np.empty((n,) + o.item_shape, dtype=o.dtype) for o in self.outputs]
        arena = self._arena()
        in_ptrs = ffi.new("void *[]", [ffi.from_buffer(x) for x in xs])
        out_ptrs = ffi.new("void *[]", [ffi.from_buffer(o, require_writable=True) for o in outs])
        st = lib.edgert_engine_invoke_batch(self.cplan.c, self.cplan.consts_ptr, self.cplan.consts.size,
                                            ffi.from_buffer(arena, require_writable=True), arena.size,
                                            in_ptrs, n, out_ptrs)
        check(st, "running the model")
        return outs

    def invoke_batch(self, X: Any) -> Any:
        xs = self._batch_inputs(X)
        outs = self._run(xs, xs[0].shape[0])
        return outs[0] if len(outs) == 1 else outs

    def invoke(self, x: Any) -> Any:
        xs = self._single_inputs(x)
        outs = self._run(xs, 1)
        res = [o.reshape(info.shape) for o, info in zip(outs, self.outputs)]
        return res[0] if len(res) == 1 else res


__all__ = ["NativeModel", "CPlan"]
