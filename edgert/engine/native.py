"""The native backend: a compiled :class:`~edgert.engine.plan.Plan` in C structs and the
calls into ``edgert_engine_invoke`` / ``edgert_engine_invoke_batch``."""
from __future__ import annotations

import threading
from functools import partial
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np

from .._ffi import check, ffi, lib, raise_status
from ..errors import ModelError
from .plan import DT_INT8, SPACE_ARENA, Plan, PlanOp, PlanTensor
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
        self._simple = len(inputs) == 1 and len(outputs) == 1
        self._in_dtype = np.dtype(inputs[0].dtype.char)   # the builtin dtype object
        self._in_shape, self._in_item = tuple(inputs[0].shape), inputs[0].item_shape

    @property
    def arena_bytes(self) -> int:
        return int(self.plan.arena_bytes)

    @property
    def consts_bytes(self) -> int:
        return int(self.plan.consts_bytes)

    def _state(self) -> Any:
        """This thread's buffers, made on its first invoke: the arena (cffi releases the GIL
        during a run, so threads running the same model at once must not share one) and, for
        single invokes, staging input/output arrays with the C call bound to their pointers
        once, so that a call only copies the input in, runs, and copies the output out."""
        st = getattr(self._local, "state", None)
        if st is not None:
            return st
        st = SimpleNamespace()
        arena = np.zeros(max(self.arena_bytes, 16) // 16 + 1, dtype=np.dtype((np.uint8, 16)))
        st.arena = arena.view(np.uint8).reshape(-1)
        st.arena_ptr = ffi.from_buffer(st.arena, require_writable=True)
        st.ins = [np.zeros((1,) + i.item_shape, dtype=i.dtype) for i in self.inputs]
        st.outs = [np.zeros((1,) + o.item_shape, dtype=o.dtype) for o in self.outputs]
        st.in_ptrs = ffi.new("void *[]", [ffi.from_buffer(a) for a in st.ins])
        st.out_ptrs = ffi.new("void *[]", [ffi.from_buffer(a, require_writable=True) for a in st.outs])
        st.in_bytes = st.ins[0].nbytes
        st.out_view = st.outs[0].reshape(self.outputs[0].shape)
        c = self.cplan
        # the single-invoke C call with every argument bound (the C core still validates the
        # plan on every call)
        st.run = partial(lib.edgert_engine_invoke, c.c, c.consts_ptr, c.consts.size,
                         st.arena_ptr, st.arena.size, st.in_ptrs, st.out_ptrs)
        st.session = ffi.new("edgert_engine_session *", {
            "plan": c.c, "consts": c.consts_ptr, "consts_bytes": c.consts.size,
            "arena": st.arena_ptr, "arena_bytes": st.arena.size, "outputs": st.out_ptrs})
        st.fast = self._fast_invoke(st)
        st.fast_batch = self._fast_invoke_batch(st)
        self._local.state = st
        return st

    def _fast_invoke(self, st: Any) -> Callable[[Any], Any]:
        """This thread's ``invoke``. The per-window call of a live stream (one ndarray of
        exactly the input dtype - the builtin dtype object - and shape, one input and one
        output) costs one ``tobytes`` of the input, one C call with two pointers (the bound
        session; the C core still validates the plan) and one copy of the output: no other
        allocation, every name a closure variable. Anything else takes :meth:`_invoke_checked`
        (full validation, InputError)."""
        checked = self._invoke_checked
        if not self._simple:
            return lambda x: checked(x, st)
        invoke_one, session, nbytes, out = lib.edgert_engine_invoke_one, st.session, st.in_bytes, st.out_view
        dtype, shapes, ndarray = self._in_dtype, (self._in_shape, self._in_item), np.ndarray

        def invoke(x: Any) -> Any:
            if type(x) is ndarray and x.dtype is dtype and x.shape in shapes:
                # dtype and shape checked: tobytes() is exactly nbytes (C order, any strides)
                status = invoke_one(session, x.tobytes(), nbytes)
                if status:
                    raise_status(status, "running the model")
                return out.copy()
            return checked(x, st)
        return invoke

    def _fast_invoke_batch(self, st: Any) -> Callable[[Any], Any]:
        """This thread's ``invoke_batch``. A stream classifying each new window calls it with
        one window at a time, so the common case (one C-contiguous ndarray of exactly the input
        dtype and shape (N, *item_shape), one output) skips the general validation and the
        per-call pointer arrays: zero-copy pointers into the input and a fresh output array,
        one C call. Anything else takes :meth:`_invoke_batch_checked`."""
        checked = self._invoke_batch_checked
        if not self._simple:
            return checked
        c = self.cplan
        run = partial(lib.edgert_engine_invoke_batch, c.c, c.consts_ptr, c.consts.size,
                      st.arena_ptr, st.arena.size)
        in_ptrs, out_ptrs = ffi.new("void *[1]"), ffi.new("void *[1]")
        from_buffer, empty, ndarray = ffi.from_buffer, np.empty, np.ndarray
        dtype, item, ndim = self._in_dtype, self._in_item, len(self._in_item) + 1
        out_item, out_dtype = self.outputs[0].item_shape, self.outputs[0].dtype

        invoke_one, session, nbytes, out1 = lib.edgert_engine_invoke_one, st.session, st.in_bytes, st.outs[0]

        def invoke_batch(X: Any) -> Any:
            if type(X) is ndarray and X.dtype is dtype and X.ndim == ndim and X.shape[1:] == item:
                if X.shape[0] == 1:   # one window: the single-invoke call (see _fast_invoke)
                    status = invoke_one(session, X.tobytes(), nbytes)
                    if status:
                        raise_status(status, "running the model")
                    return out1.copy()
                try:
                    xb = from_buffer(X)   # (ValueError when X is not C-contiguous)
                except ValueError:
                    return checked(X)
                n = X.shape[0]
                out = empty((n,) + out_item, out_dtype)
                ob = from_buffer(out, require_writable=True)
                in_ptrs[0], out_ptrs[0] = xb, ob      # xb, ob keep the buffers alive
                status = run(in_ptrs, n, out_ptrs)
                if status:
                    raise_status(status, "running the model")
                return out
            return checked(X)
        return invoke_batch

    def _invoke_batch_checked(self, X: Any) -> Any:
        xs = self._batch_inputs(X)
        outs = self._run(xs, xs[0].shape[0])
        return outs[0] if len(outs) == 1 else outs

    def _invoke_checked(self, x: Any, st: Any) -> Any:
        for stage, xi in zip(st.ins, self._single_inputs(x)):
            np.copyto(stage, xi)
        check(st.run(), "running the model")
        res = [o.reshape(info.shape).copy() for o, info in zip(st.outs, self.outputs)]
        return res[0] if len(res) == 1 else res

    def _run(self, xs: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        st = self._state()
        outs = [np.empty((n,) + o.item_shape, dtype=o.dtype) for o in self.outputs]
        in_ptrs = ffi.new("void *[]", [ffi.from_buffer(x) for x in xs])
        out_ptrs = ffi.new("void *[]", [ffi.from_buffer(o, require_writable=True) for o in outs])
        check(lib.edgert_engine_invoke_batch(self.cplan.c, self.cplan.consts_ptr, self.cplan.consts.size,
                                             st.arena_ptr, st.arena.size, in_ptrs, n, out_ptrs),
              "running the model")
        return outs

    def invoke_batch(self, X: Any) -> Any:
        try:
            fast = self._local.state.fast_batch
        except AttributeError:
            fast = self._state().fast_batch
        return fast(X)

    def invoke(self, x: Any) -> Any:
        try:
            fast = self._local.state.fast
        except AttributeError:
            fast = self._state().fast
        return fast(x)


def elementwise_lut(op_type: int, params: dict) -> np.ndarray:
    """lut[u] = the op applied to the int8 value whose bit pattern is u (0..255), computed by
    running the op alone through the C engine on all 256 values (the compiler's tables come
    from the same arithmetic the kernels run)."""
    values = np.arange(256, dtype=np.uint8).view(np.int8)
    t_in = PlanTensor(DT_INT8, SPACE_ARENA, (1, 1, 1, 256), "lut/in", offset=0)
    t_out = PlanTensor(DT_INT8, SPACE_ARENA, (1, 1, 1, 256), "lut/out", offset=256)
    plan = Plan([t_in, t_out], [PlanOp(op_type, DT_INT8, [0], 1, params)], [0], [1], 512,
                np.zeros(16, dtype=np.uint8))
    cp = CPlan(plan)
    arena = np.zeros(512 // 16, dtype=np.dtype((np.uint8, 16))).view(np.uint8).reshape(-1)
    lut = np.zeros(256, dtype=np.int8)
    check(lib.edgert_engine_invoke(cp.c, cp.consts_ptr, cp.consts.size, ffi.from_buffer(arena), arena.size,
                                   ffi.new("void *[]", [ffi.from_buffer(values)]),
                                   ffi.new("void *[]", [ffi.from_buffer(lut)])), "elementwise table")
    return lut


def softmax_exp_lut(params: dict) -> np.ndarray:
    """The int8 SOFTMAX exp table, computed by the C core's own fixed-point code."""
    p = ffi.new("edgert_softmax_params *")
    p.beta = params["beta"]
    p.in_mult, p.in_left_shift, p.diff_min = params["in_mult"], params["in_left_shift"], params["diff_min"]
    lut = np.zeros(256, dtype=np.int32)
    check(lib.edgert_softmax_exp_lut(p, ffi.cast("int32_t *", ffi.from_buffer(lut))), "softmax exp table")
    return lut


__all__ = ["CPlan", "NativeModel", "elementwise_lut", "softmax_exp_lut"]
