"""A small TFLite flatbuffer *writer* (built on the generated ``tflite`` schema functions).

`edgert import` writes the ``.tflite`` it rebuilds from an EON-compiled model with it
(:mod:`edgert.importer.eon`); the tests make single-operator models with chosen quantization
with it (``tests/tflite_builder.py`` re-exports it), so each native kernel can be compared with
the reference interpreters on exactly the same graph.

    build_model(tensors=[Tensor("x", (1, 8), "int8", scale=0.1, zero_point=3), ...],
                ops=[Op("FULLY_CONNECTED", [0, 1, 2], [3], options=("FullyConnectedOptions",
                     {"FusedActivationFunction": 1}))],
                inputs=[0], outputs=[3])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import flatbuffers
import numpy as np
import tflite

_TYPES = {"float32": tflite.TensorType.FLOAT32, "int8": tflite.TensorType.INT8,
          "int32": tflite.TensorType.INT32, "int16": tflite.TensorType.INT16,
          "uint8": tflite.TensorType.UINT8, "int64": tflite.TensorType.INT64}
_NP = {"float32": np.float32, "int8": np.int8, "int32": np.int32, "int16": np.int16,
       "uint8": np.uint8, "int64": np.int64}


@dataclass
class Tensor:
    name: str
    shape: Sequence[int]
    type: str = "float32"
    data: Optional[np.ndarray] = None
    scale: Any = None             # float or sequence (per-channel)
    zero_point: Any = None
    quantized_dimension: int = 0


@dataclass
class Op:
    name: str                     # builtin operator name, e.g. "CONV_2D"
    inputs: Sequence[int]
    outputs: Sequence[int]
    options: Optional[tuple] = None   # ("Conv2DOptions", {"StrideW": 1, ...})
    version: int = 1


def _bytes_vector(b: flatbuffers.Builder, raw: bytes, align: int = 16) -> int:
    b.StartVector(1, len(raw), align)
    b.head = b.head - len(raw)
    b.Bytes[b.head:b.head + len(raw)] = raw
    return b.EndVector()


def _table_vector(b: flatbuffers.Builder, start_fn, offsets: list[int]) -> int:
    start_fn(b, len(offsets))
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def build_model(tensors: Sequence[Tensor], ops: Sequence[Op], inputs: Sequence[int],
                outputs: Sequence[int], description: str = "edgert builder") -> bytes:
    b = flatbuffers.Builder(1024)
    # buffers: 0 = empty sentinel, then one per constant tensor
    buffer_data: list[Optional[bytes]] = [None]
    tensor_buffer = []
    for t in tensors:
        if t.data is not None:
            arr = np.ascontiguousarray(np.asarray(t.data, dtype=_NP[t.type]).reshape(tuple(t.shape)))
            buffer_data.append(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
            tensor_buffer.append(len(buffer_data) - 1)
        else:
            tensor_buffer.append(0)
    buffer_offsets = []
    for raw in buffer_data:
        data_off = _bytes_vector(b, raw) if raw else None
        tflite.BufferStart(b)
        if data_off is not None:
            tflite.BufferAddData(b, data_off)
        buffer_offsets.append(tflite.BufferEnd(b))
    tensor_offsets = []
    for t, buf in zip(tensors, tensor_buffer):
        name = b.CreateString(t.name)
        shape = b.CreateNumpyVector(np.asarray(list(t.shape), dtype=np.int32))
        q = None
        if t.scale is not None:
            scale = b.CreateNumpyVector(np.atleast_1d(np.asarray(t.scale, dtype=np.float32)))
            zp_vals = t.zero_point if t.zero_point is not None else np.zeros(np.size(t.scale))
            zp = b.CreateNumpyVector(np.atleast_1d(np.asarray(zp_vals, dtype=np.int64)))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t.quantized_dimension)
            q = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, _TYPES[t.type])
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, name)
        if q is not None:
            tflite.TensorAddQuantization(b, q)
        tensor_offsets.append(tflite.TensorEnd(b))
    codes: list[tuple[str, int]] = []
    for op in ops:
        if (op.name, op.version) not in codes:
            codes.append((op.name, op.version))
    op_offsets = []
    for op in ops:
        ins = b.CreateNumpyVector(np.asarray(list(op.inputs), dtype=np.int32))
        outs = b.CreateNumpyVector(np.asarray(list(op.outputs), dtype=np.int32))
        opt_off, opt_type = None, 0
        if op.options is not None:
            oname, fields = op.options
            getattr(tflite, f"{oname}Start")(b)
            for k, v in fields.items():
                getattr(tflite, f"{oname}Add{k}")(b, v)
            opt_off = getattr(tflite, f"{oname}End")(b)
            opt_type = getattr(tflite.BuiltinOptions, oname)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index((op.name, op.version)))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opt_off is not None:
            tflite.OperatorAddBuiltinOptionsType(b, opt_type)
            tflite.OperatorAddBuiltinOptions(b, opt_off)
        op_offsets.append(tflite.OperatorEnd(b))
    code_offsets = []
    for name, version in codes:
        code = getattr(tflite.BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, version)
        code_offsets.append(tflite.OperatorCodeEnd(b))
    t_vec = _table_vector(b, tflite.SubGraphStartTensorsVector, tensor_offsets)
    o_vec = _table_vector(b, tflite.SubGraphStartOperatorsVector, op_offsets)
    i_vec = b.CreateNumpyVector(np.asarray(list(inputs), dtype=np.int32))
    out_vec = b.CreateNumpyVector(np.asarray(list(outputs), dtype=np.int32))
    sg_name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, t_vec)
    tflite.SubGraphAddOperators(b, o_vec)
    tflite.SubGraphAddInputs(b, i_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    tflite.SubGraphAddName(b, sg_name)
    sg = tflite.SubGraphEnd(b)
    sg_vec = _table_vector(b, tflite.ModelStartSubgraphsVector, [sg])
    codes_vec = _table_vector(b, tflite.ModelStartOperatorCodesVector, code_offsets)
    buf_vec = _table_vector(b, tflite.ModelStartBuffersVector, buffer_offsets)
    desc = b.CreateString(description)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, sg_vec)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, buf_vec)
    model = tflite.ModelEnd(b)
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


__all__ = ["Tensor", "Op", "build_model"]
