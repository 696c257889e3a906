"""Reads a .tflite flatbuffer into plain Python objects (:class:`Graph`), validating everything.

The generated classes of the maintained ``tflite`` schema package do the flatbuffer decoding;
they trust the buffer and raise whatever Python raises on garbage (IndexError, struct.error,
ValueError...). Every access here is wrapped so a truncated or corrupt file becomes a
:class:`~edgert.errors.ModelError`, and every index, offset and size is checked before anything
reaches the C core.
"""
from __future__ import annotations

import importlib
import struct
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import tflite as _tflite_at_import

from ..errors import ModelError


def _schema() -> Any:
    """The ``tflite`` schema package (imported again after :func:`release_schema`)."""
    return sys.modules.get("tflite") or importlib.import_module("tflite")


def release_schema() -> None:
    """Forget the ``tflite`` schema package and ``flatbuffers`` (~200 modules, ~3 MB): a
    long-running process that has read its models (the gateway daemon) calls this once they
    are compiled. Nothing here keeps a reference to them (the tables below hold numbers and
    names); the next model read imports them again. Call it while no model is being read."""
    _OPTIONS.clear()
    for name in [m for m in sys.modules if m == "tflite" or m.startswith("tflite.")
                 or m == "flatbuffers" or m.startswith("flatbuffers.")]:
        del sys.modules[name]


#: TensorType code -> numpy dtype (types we can at least describe; support is checked later).
TENSOR_DTYPES: dict[int, np.dtype] = {
    _tflite_at_import.TensorType.FLOAT32: np.dtype(np.float32),
    _tflite_at_import.TensorType.FLOAT16: np.dtype(np.float16),
    _tflite_at_import.TensorType.INT32: np.dtype(np.int32),
    _tflite_at_import.TensorType.UINT8: np.dtype(np.uint8),
    _tflite_at_import.TensorType.INT64: np.dtype(np.int64),
    _tflite_at_import.TensorType.INT16: np.dtype(np.int16),
    _tflite_at_import.TensorType.INT8: np.dtype(np.int8),
    _tflite_at_import.TensorType.FLOAT64: np.dtype(np.float64),
    _tflite_at_import.TensorType.BOOL: np.dtype(np.bool_),
}
TENSOR_TYPE_NAMES: dict[int, str] = {
    v: k for k, v in vars(_tflite_at_import.TensorType).items() if not k.startswith("_") and isinstance(v, int)
}
BUILTIN_NAMES: dict[int, str] = {
    v: k for k, v in vars(_tflite_at_import.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)
}

_DECODE_ERRORS = (IndexError, struct.error, ValueError, TypeError, AttributeError,
                  UnicodeDecodeError, OverflowError, KeyError, RecursionError, MemoryError)


@dataclass
class TensorDesc:
    """One tensor of the graph. ``data`` is set for constant tensors (a read-only view)."""

    index: int
    name: str
    shape: tuple[int, ...]
    type_code: int
    scale: Optional[np.ndarray] = None        # float32, 1 or per-channel entries
    zero_point: Optional[np.ndarray] = None   # int64
    quantized_dimension: int = 0
    data: Optional[np.ndarray] = None
    is_variable: bool = False

    @property
    def type_name(self) -> str:
        return TENSOR_TYPE_NAMES.get(self.type_code, f"type {self.type_code}")

    @property
    def dtype(self) -> Optional[np.dtype]:
        return TENSOR_DTYPES.get(self.type_code)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def quantized(self) -> bool:
        return self.scale is not None and self.scale.size > 0


@dataclass
class OpDesc:
    """One operator: builtin name and version, tensor indices (-1 = optional input absent) and
    its builtin options table (a tflite.*Options object or None)."""

    index: int
    name: str
    code: int
    version: int
    inputs: list[int]
    outputs: list[int]
    options_type: int = 0
    options: Any = None

    def where(self) -> str:
        return f"operator {self.name} (version {self.version}) at op #{self.index}"


@dataclass
class Graph:
    tensors: list[TensorDesc]
    ops: list[OpDesc]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    extra: dict = field(default_factory=dict)


class Options:
    """A builtin-options table read eagerly (so decoding errors surface inside read_graph):
    ``opts.kind`` is the options class name, and each scalar field is a method as in the
    generated class, e.g. ``opts.FusedActivationFunction()``."""

    def __init__(self, kind: str, values: dict[str, Any]):
        self.kind = kind
        self.values = values

    @classmethod
    def read(cls, table: Any) -> "Options":
        values: dict[str, Any] = {}
        for name in dir(type(table)):
            if name.startswith("_") or name in ("Init",) or name.startswith("GetRootAs") or \
                    name.endswith("BufferHasIdentifier") or name.endswith(("AsNumpy", "IsNone", "Length")):
                continue
            fn = getattr(table, name)
            if not callable(fn):
                continue
            try:
                n_args = fn.__code__.co_argcount
            except AttributeError:
                continue
            if n_args == 1:                     # scalar field accessor (self only)
                values[name] = fn()
            elif n_args == 2 and hasattr(table, name + "Length"):   # vector field
                values[name] = [fn(j) for j in range(getattr(table, name + "Length")())]
        return cls(type(table).__name__, values)

    def __getattr__(self, name: str):
        values = self.__dict__.get("values", {})
        if name in values:
            return lambda: values[name]
        raise AttributeError(name)


#: The code of the CUSTOM builtin operator.
_CUSTOM = int(_tflite_at_import.BuiltinOperator.CUSTOM)
del _tflite_at_import  # the tables hold numbers and names; reads use _schema()


# Builtin options class per BuiltinOptions union type (only the ones kernels read).
def _options_classes() -> dict[int, type]:
    tflite = _schema()
    out = {}
    for name, code in vars(tflite.BuiltinOptions).items():
        if name.startswith("_") or not isinstance(code, int) or code == 0:
            continue
        cls = getattr(tflite, name, None)
        if isinstance(cls, type):
            out[code] = cls
    return out


#: filled on the first read (emptied by release_schema)
_OPTIONS: dict[int, type] = {}


def _vector(n: int, getter, what: str, limit: int) -> list[int]:
    if n < 0 or n > limit:
        raise ModelError(f"corrupt model: {what} has {n} entries")
    return [int(getter(i)) for i in range(n)]


def read_graph(buf: bytes) -> Graph:
    """Parse and validate a TFLite flatbuffer. Raises ModelError on anything malformed."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise ModelError(f"model must be bytes, got {type(buf).__name__}")
    buf = bytes(buf)
    if len(buf) < 16:
        raise ModelError(f"not a TFLite model: only {len(buf)} bytes (truncated?)")
    root = struct.unpack_from("<I", buf, 0)[0]
    if root + 4 > len(buf):
        raise ModelError("not a TFLite model: root table offset points past the end of the file "
                         "(truncated or not a flatbuffer)")
    if buf[4:8] != b"TFL3":
        raise ModelError("not a TFLite model: missing the 'TFL3' file identifier")
    try:
        return _read(buf)
    except ModelError:
        raise
    except _DECODE_ERRORS as exc:
        why = ("an offset points past the end of the file" if isinstance(exc, struct.error)
               else f"{type(exc).__name__}: {exc}")
        raise ModelError(f"corrupt or truncated TFLite model: the flatbuffer cannot be decoded "
                         f"({why})") from exc


def _read(buf: bytes) -> Graph:
    tflite = _schema()
    options_classes = _OPTIONS or _options_classes()
    _OPTIONS.update(options_classes)
    model = tflite.Model.GetRootAsModel(buf, 0)
    n_sub = model.SubgraphsLength()
    if n_sub < 1:
        raise ModelError("TFLite model has no subgraph")
    n_buffers = model.BuffersLength()
    if n_buffers < 0 or n_buffers > len(buf):
        raise ModelError("corrupt model: bad buffer count")
    for b in range(n_buffers):  # touch every buffer table: a truncated tail fails here
        bo = model.Buffers(b)
        n = int(bo.DataLength())
        if n < 0 or n > len(buf) or int(bo.Offset()) + int(bo.Size()) > len(buf) + 1:
            raise ModelError(f"corrupt model: buffer {b} has a bad size")
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        name = BUILTIN_NAMES.get(code, f"BUILTIN_{code}")
        if code == _CUSTOM:
            cc = oc.CustomCode()
            name = "CUSTOM" + (f" '{cc.decode('utf-8', 'replace')}'" if cc else "")
        opcodes.append((code, name, int(oc.Version())))
    sg = model.Subgraphs(0)
    n_tensors = sg.TensorsLength()
    if n_tensors < 0 or n_tensors > len(buf):
        raise ModelError("corrupt model: bad tensor count")
    tensors: list[TensorDesc] = []
    for i in range(n_tensors):
        t = sg.Tensors(i)
        name = (t.Name() or b"").decode("utf-8", "replace")
        shape = tuple(_vector(t.ShapeLength(), t.Shape, f"shape of tensor {i}", 16))
        if any(d < 0 for d in shape):
            raise ModelError(f"tensor {i} '{name}' has a negative (dynamic) dimension in {shape}; "
                             "only static shapes are supported")
        td = TensorDesc(index=i, name=name, shape=shape, type_code=int(t.Type()),
                        is_variable=bool(t.IsVariable()))
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            scale = np.array([q.Scale(k) for k in range(q.ScaleLength())], dtype=np.float32)
            zp = np.array(_vector(q.ZeroPointLength(), q.ZeroPoint, f"zero points of tensor {i}",
                                  1 << 20), dtype=np.int64)
            if zp.size == 0:
                zp = np.zeros(scale.size, dtype=np.int64)
            if zp.size != scale.size:
                raise ModelError(f"tensor {i} '{name}': {scale.size} scales but {zp.size} zero points")
            td.scale, td.zero_point = scale, zp
            td.quantized_dimension = int(q.QuantizedDimension())
        b = int(t.Buffer())
        if b < 0 or b >= max(n_buffers, 1):
            raise ModelError(f"tensor {i} '{name}' refers to buffer {b} but the model has "
                             f"{n_buffers} buffers")
        if b > 0:
            td.data = _buffer_data(buf, model, b, td)
        tensors.append(td)

    def tensor_list(vals: list[int], what: str, allow_absent: bool) -> list[int]:
        for v in vals:
            if v >= n_tensors or v < (-1 if allow_absent else 0):
                raise ModelError(f"corrupt model: {what} refers to tensor {v}, the subgraph has "
                                 f"{n_tensors} tensors")
        return vals

    ops: list[OpDesc] = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oi = int(op.OpcodeIndex())
        if oi < 0 or oi >= len(opcodes):
            raise ModelError(f"corrupt model: op #{i} uses opcode {oi}, the model has {len(opcodes)}")
        code, name, version = opcodes[oi]
        desc = OpDesc(
            index=i, name=name, code=code, version=version,
            inputs=tensor_list(_vector(op.InputsLength(), op.Inputs, f"inputs of op #{i}", 1 << 16),
                               f"op #{i} ({name}) input", True),
            outputs=tensor_list(_vector(op.OutputsLength(), op.Outputs, f"outputs of op #{i}", 1 << 16),
                                f"op #{i} ({name}) output", False),
            options_type=int(op.BuiltinOptionsType()),
        )
        table = op.BuiltinOptions()
        cls = options_classes.get(desc.options_type)
        if table is not None and cls is not None:
            opt = cls()
            opt.Init(table.Bytes, table.Pos)
            desc.options = Options.read(opt)
        ops.append(desc)
    inputs = tensor_list(_vector(sg.InputsLength(), sg.Inputs, "subgraph inputs", 1 << 16),
                         "subgraph input", False)
    outputs = tensor_list(_vector(sg.OutputsLength(), sg.Outputs, "subgraph outputs", 1 << 16),
                          "subgraph output", False)
    desc_bytes = model.Description()
    return Graph(tensors=tensors, ops=ops, inputs=inputs, outputs=outputs,
                 description=(desc_bytes or b"").decode("utf-8", "replace"),
                 extra={"n_subgraphs": n_sub})


def _buffer_data(buf: bytes, model, b: int, td: TensorDesc) -> Optional[np.ndarray]:
    """The constant data of tensor ``td`` (buffer ``b``) or None when the buffer is empty."""
    bo = model.Buffers(b)
    off, size = int(bo.Offset()), int(bo.Size())
    if off > 1:  # data stored after the flatbuffer (models > 2 GB layout)
        if off + size > len(buf):
            raise ModelError(f"tensor {td.index} '{td.name}': buffer {b} points past the end of the file")
        raw = np.frombuffer(buf, dtype=np.uint8, count=size, offset=off)
    else:
        n = bo.DataLength()
        if n <= 0:
            return None
        raw = bo.DataAsNumpy()
        if not isinstance(raw, np.ndarray) or raw.size != n:
            raise ModelError(f"tensor {td.index} '{td.name}': buffer {b} is truncated")
    dt = td.dtype
    if dt is None:
        return raw  # unsupported type: reported by the compiler with the op that uses it
    want = td.numel * dt.itemsize
    if raw.size != want:
        raise ModelError(f"tensor {td.index} '{td.name}': buffer {b} holds {raw.size} bytes but "
                         f"shape {td.shape} of {td.type_name} needs {want}")
    return raw.view(dt.newbyteorder("<")).reshape(td.shape)
