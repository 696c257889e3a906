"""Folding of shape-only subgraphs when a plan is compiled.

Models converted by TensorFlow often compute a RESHAPE's target shape at run time -- ``SHAPE``
of the input, ``STRIDED_SLICE`` of the batch size, ``PACK`` with constants -- although every
shape in the graph is static. Such chains produce small int32/int64 tensors whose values are
known before the first invoke, so they are evaluated here, once, with numpy: their outputs
become constant tensors and the operators disappear from the graph the compiler lowers. A
RESHAPE then reads its (now constant) shape like any other. Only integer-valued operators whose
inputs are all known are folded; activations (int8/float32 data) are never touched, so results
are unchanged.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from ..errors import ModelError
from .reader import Graph, OpDesc

_INT_TYPES = (np.dtype(np.int32), np.dtype(np.int64))
MAX_FOLDED_ELEMENTS = 1 << 16   # shape tensors are tiny; anything bigger is left alone


def _opt(op: OpDesc, name: str, default: int = 0) -> int:
    if op.options is None:
        return default
    try:
        return int(getattr(op.options, name)())
    except AttributeError:
        return default


def _strided_slice(op: OpDesc, x: np.ndarray, begin: np.ndarray, end: np.ndarray,
                   strides: np.ndarray) -> Optional[np.ndarray]:
    if _opt(op, "EllipsisMask") or _opt(op, "NewAxisMask"):
        return None
    bm, em, sm = _opt(op, "BeginMask"), _opt(op, "EndMask"), _opt(op, "ShrinkAxisMask")
    offset = bool(_opt(op, "Offset"))
    index: list = []
    for i in range(x.ndim):
        if i >= begin.size:
            index.append(slice(None))
            continue
        if (sm >> i) & 1:
            b = int(begin[i]) + (x.shape[i] if begin[i] < 0 else 0)
            if not 0 <= b < x.shape[i]:
                raise ModelError(f"{op.where()}: shrink index {int(begin[i])} out of range")
            index.append(b)
            continue
        b = None if (bm >> i) & 1 else int(begin[i])
        e = None if (em >> i) & 1 else int(end[i]) + (int(begin[i]) if offset else 0)
        s = int(strides[i])
        if s == 0:
            raise ModelError(f"{op.where()}: stride 0")
        index.append(slice(b, e, s))
    return np.asarray(x[tuple(index)])


def _evaluate(op: OpDesc, vals: list[Optional[np.ndarray]], g: Graph) -> Optional[np.ndarray]:
    """The output of ``op`` from known inputs, or None when it is not foldable."""
    name = op.name
    if name == "SHAPE":
        t = g.tensors[op.inputs[0]]
        return np.asarray(t.shape, dtype=np.int64)
    if any(v is None for v in vals):
        return None
    if name == "STRIDED_SLICE" and len(vals) == 4:
        return _strided_slice(op, vals[0], *(v.reshape(-1).astype(np.int64)
                                             for v in vals[1:]))  # type: ignore[union-attr]
    if name == "PACK":
        return np.stack(vals, axis=_opt(op, "Axis"))  # type: ignore[arg-type]
    if name == "CONCATENATION":
        return np.concatenate(vals, axis=_opt(op, "Axis"))  # type: ignore[arg-type]
    if name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return vals[0]   # the values; the declared output shape is applied below
    if name == "GATHER" and len(vals) == 2:
        return np.take(vals[0], vals[1].astype(np.int64), axis=_opt(op, "Axis"))  # type: ignore
    if name == "CAST":
        return vals[0]
    binary: dict[str, Callable] = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply,
                                   "FLOOR_DIV": np.floor_divide, "MAXIMUM": np.maximum,
                                   "MINIMUM": np.minimum}
    if name in binary and len(vals) == 2 and _opt(op, "FusedActivationFunction") == 0:
        a, b = (v.astype(np.int64) for v in vals)  # type: ignore[union-attr]
        if name == "FLOOR_DIV" and np.any(b == 0):
            return None
        return binary[name](a, b)
    return None


def fold_shape_subgraphs(g: Graph) -> Graph:
    """A copy of ``g`` without the operators whose outputs are integer tensors computable from
    static shapes and constants (their outputs become constants)."""
    known: dict[int, np.ndarray] = {t.index: t.data for t in g.tensors if t.data is not None}
    outputs = set(g.outputs)
    tensors = list(g.tensors)
    kept: list[OpDesc] = []
    folded = 0
    for op in g.ops:
        if len(op.outputs) != 1 or op.outputs[0] in outputs:
            kept.append(op)
            continue
        out = tensors[op.outputs[0]]
        if out.dtype not in _INT_TYPES or out.numel > MAX_FOLDED_ELEMENTS:
            kept.append(op)
            continue
        vals = [known.get(i) if i >= 0 else None for i in op.inputs]
        if any(v is not None and (v.dtype.kind not in "iu") for v in vals):
            kept.append(op)
            continue
        try:
            result = _evaluate(op, [v for i, v in zip(op.inputs, vals) if i >= 0], g)
        except (ValueError, IndexError, TypeError, OverflowError) as exc:  # AxisError is both
            # a corrupt model whose constant tensors do not fit the operator
            raise ModelError(f"{op.where()}: inconsistent constant inputs "
                             f"({type(exc).__name__}: {exc})") from exc
        if result is None:
            kept.append(op)
            continue
        if result.size != out.numel:
            raise ModelError(f"{op.where()}: computes {result.size} values for output "
                             f"'{out.name}' of shape {out.shape}")
        info = np.iinfo(out.dtype)
        if result.size and (result.min() < info.min or result.max() > info.max):
            raise ModelError(f"{op.where()}: values out of the range of {out.type_name}")
        data = result.astype(out.dtype).reshape(out.shape)
        data.setflags(write=False)
        tensors[out.index] = dataclasses.replace(out, data=data)
        known[out.index] = data
        folded += 1
    if not folded:
        return g
    extra = dict(g.extra)
    extra["folded_ops"] = folded
    return Graph(tensors=tensors, ops=kept, inputs=list(g.inputs), outputs=list(g.outputs),
                 description=g.description, extra=extra)
