"""Rebuilding a ``.tflite`` flatbuffer from an EON-compiled model's tables.

Edge Impulse's EON compiler turns the model into C++ tables for TensorFlow Lite Micro's
kernels: ``tensorData[]`` (type, arena or constant data, dims, byte size, quantization),
``tensor_dataN`` (weights and biases), ``quantN_scale``/``quantN_zero`` (per-tensor or
per-channel parameters and quantized dimension), ``opdataN`` (each kernel's ``TfLite*Params``
struct), the node list (``nodeData[]`` with ``OP_*`` indices, or typed ``nodeN`` structs in
2023-era exports) and ``inTensorIndices``/``outTensorIndices``. That is everything the
flatbuffer held: the rebuilt model has the same tensors (in the same order), the same
constants byte for byte, the same quantization parameters (scales are printed with 17
significant digits, which round-trip to the float32 exactly) and the same operators with
their options, so TFLite Micro and edgert run it with the results the EON code gives.

The tables are read as data (:mod:`edgert.importer.cheader`); nothing is compiled.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np

from .tflite_writer import Op, Tensor, build_model
from .cheader import AddressOf, Expr, Header, Ident, InitList, NumberArray
from .source import ExportError

# TfLiteType (C enum) -> builder type name
_C_TYPES = {"kTfLiteFloat32": "float32", "kTfLiteInt32": "int32", "kTfLiteUInt8": "uint8",
            "kTfLiteInt64": "int64", "kTfLiteInt16": "int16", "kTfLiteInt8": "int8"}
_NP = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "int64": np.int64,
       "int16": np.int16, "int8": np.int8}
_PADDING = {"kTfLitePaddingSame": 0, "kTfLitePaddingValid": 1, "kTfLitePaddingUnknown": 0}
_ACT = {"kTfLiteActNone": 0, "kTfLiteActRelu": 1, "kTfLiteActReluN1To1": 2,
        "kTfLiteActRelu6": 3, "kTfLiteActTanh": 4, "kTfLiteActSignBit": 5}
_ENUMS = {**_PADDING, **_ACT, "kTfLiteFullyConnectedWeightsFormatDefault": 0,
          "kTfLiteFullyConnectedWeightsFormatShuffled4x16Int8": 1}

# op -> (options table, [(field, kind)] in the order of the C params struct); kind converts
# the C value ("pad", "act", "int", "bool", "float"); None fields are skipped.
_OPTIONS: dict[str, tuple[str, list[tuple[Optional[str], str]]]] = {
    "CONV_2D": ("Conv2DOptions", [("Padding", "pad"), ("StrideW", "int"), ("StrideH", "int"),
                                  ("FusedActivationFunction", "act"), ("DilationWFactor", "int"),
                                  ("DilationHFactor", "int")]),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", [
        ("Padding", "pad"), ("StrideW", "int"), ("StrideH", "int"), ("DepthMultiplier", "int"),
        ("FusedActivationFunction", "act"), ("DilationWFactor", "int"),
        ("DilationHFactor", "int")]),
    "MAX_POOL_2D": ("Pool2DOptions", [("Padding", "pad"), ("StrideW", "int"), ("StrideH", "int"),
                                      ("FilterWidth", "int"), ("FilterHeight", "int"),
                                      ("FusedActivationFunction", "act")]),
    "AVERAGE_POOL_2D": ("Pool2DOptions", [("Padding", "pad"), ("StrideW", "int"),
                                          ("StrideH", "int"), ("FilterWidth", "int"),
                                          ("FilterHeight", "int"),
                                          ("FusedActivationFunction", "act")]),
    "FULLY_CONNECTED": ("FullyConnectedOptions", [("FusedActivationFunction", "act"),
                                                  ("WeightsFormat", "int"),
                                                  ("KeepNumDims", "bool"),
                                                  ("AsymmetricQuantizeInputs", "bool")]),
    "SOFTMAX": ("SoftmaxOptions", [("Beta", "float")]),
    "ADD": ("AddOptions", [("FusedActivationFunction", "act"), ("PotScaleInt16", "bool")]),
    "SUB": ("SubOptions", [("FusedActivationFunction", "act"), ("PotScaleInt16", "bool")]),
    "MUL": ("MulOptions", [("FusedActivationFunction", "act")]),
    "CONCATENATION": ("ConcatenationOptions", [("Axis", "int"),
                                               ("FusedActivationFunction", "act")]),
    "MEAN": ("ReducerOptions", [("KeepDims", "bool")]),
    "STRIDED_SLICE": ("StridedSliceOptions", [("BeginMask", "int"), ("EndMask", "int"),
                                              ("EllipsisMask", "int"), ("NewAxisMask", "int"),
                                              ("ShrinkAxisMask", "int"), ("Offset", "bool")]),
    "LEAKY_RELU": ("LeakyReluOptions", [("Alpha", "float")]),
    "PACK": ("PackOptions", [("ValuesCount", "int"), ("Axis", "int")]),
}
# operator versions written into the rebuilt model (what the TensorFlow Lite converter writes
# for int8 models; float32 models get version 1)
_INT8_VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "SOFTMAX": 2,
                  "MAX_POOL_2D": 2, "AVERAGE_POOL_2D": 2, "ADD": 2, "MUL": 2, "MEAN": 2,
                  "PAD": 2, "QUANTIZE": 2, "DEQUANTIZE": 2, "CONCATENATION": 2,
                  "STRIDED_SLICE": 2, "LOGISTIC": 2, "TANH": 2, "RELU": 2, "RELU6": 2}


def _camel_to_op(name: str) -> str:
    """``FullyConnectedNodeInfo_t`` -> ``FULLY_CONNECTED``; ``Conv2D`` -> ``CONV_2D``."""
    base = name.replace("NodeInfo_t", "")
    base = re.sub(r"(\d)D", r"_\1D", base)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base).upper().replace("__", "_")


class _Tables:
    def __init__(self, h: Header, where: str):
        self.h = h
        self.where = where

    def fail(self, msg: str) -> ExportError:
        return ExportError(f"{self.where}: EON tables: {msg}")

    def var(self, name: str) -> Any:
        v = self.h.variables.get(name)
        if v is None:
            raise self.fail(f"{name} is missing")
        return v.value

    def tfarray(self, ref: Any, what: str) -> list:
        """``TfArray<N, T> x = { N, { ... } }`` -> the N values."""
        if not isinstance(ref, (AddressOf, Ident)):
            raise self.fail(f"{what}: expected a reference to a TfArray, got {ref!r}")
        v = self.var(ref.name)
        vals = v.values() if isinstance(v, (InitList, NumberArray)) else None
        if not vals or not isinstance(vals[0], int):
            raise self.fail(f"{ref.name}: not a {{count, {{values}}}} array")
        n = vals[0]
        if n == 0:
            return []
        if len(vals) < 2 or not isinstance(vals[1], (InitList, NumberArray)):
            raise self.fail(f"{ref.name}: not a {{count, {{values}}}} array")
        items = vals[1].values()
        if len(items) != n:
            raise self.fail(f"{ref.name}: declares {n} values but holds {len(items)}")
        return items


def rebuild_tflite(h: Header, where: str) -> bytes:
    """The ``.tflite`` flatbuffer equivalent to the EON tables of ``h``."""
    T = _Tables(h, where)
    td = T.var("tensorData")
    if not isinstance(td, InitList) or not td.items:
        raise T.fail("tensorData is not a list of tensors")
    tensors: list[Tensor] = []
    any_int8 = False
    for i, item in enumerate(td.items):
        entry = item.value
        if not isinstance(entry, InitList):
            raise T.fail(f"tensorData[{i}] is not a struct")
        f = _tensor_fields(entry, h.structs.get("TensorInfo_t"))
        alloc, ctype, data_ref, dims_ref, nbytes, quant = (
            f.get("allocation_type"), f.get("type"), f.get("data"), f.get("dims"),
            f.get("bytes"), f.get("quantization"))
        if ctype is None:   # 2021 float-only EON: the struct has no type field
            ctype = Ident("kTfLiteFloat32")
        if not isinstance(ctype, Ident) or ctype.name not in _C_TYPES:
            raise T.fail(f"tensorData[{i}]: unsupported tensor type {ctype!r}")
        dtype = _C_TYPES[ctype.name]
        any_int8 |= dtype == "int8"
        dims = [int(d) for d in T.tfarray(dims_ref, f"tensorData[{i}].dims")]
        if any(d < 0 or d > 1 << 28 for d in dims):
            raise T.fail(f"tensorData[{i}]: dimension out of range {dims}")
        count = int(np.prod(dims)) if dims else 1
        if not isinstance(nbytes, int) or nbytes != count * np.dtype(_NP[dtype]).itemsize:
            raise T.fail(f"tensorData[{i}]: {nbytes} bytes for {dtype} {dims}")
        data = None
        is_const = isinstance(alloc, Ident) and alloc.name == "kTfLiteMmapRo"
        if is_const:
            if not isinstance(data_ref, (Ident, AddressOf)):
                raise T.fail(f"tensorData[{i}]: constant tensor without data array")
            raw = T.var(data_ref.name)
            values = raw.array if isinstance(raw, NumberArray) else np.asarray(
                raw.values() if isinstance(raw, InitList) else [], dtype=np.float64)
            if values.size != count:
                raise T.fail(f"{data_ref.name}: {values.size} values for {count} elements")
            if dtype == "float32":
                data = values.astype(np.float32).reshape(dims)
            else:
                info = np.iinfo(_NP[dtype])
                if values.size and (values.min() < info.min or values.max() > info.max):
                    raise T.fail(f"{data_ref.name}: values out of {dtype} range")
                data = values.astype(_NP[dtype]).reshape(dims)
        scale = zero = None
        qdim = 0
        if isinstance(quant, InitList) and len(quant.items) == 2 and \
                isinstance(quant.items[0].value, Ident) and \
                quant.items[0].value.name == "kTfLiteAffineQuantization":
            qref = quant.items[1].value
            if not isinstance(qref, (AddressOf, Ident)):
                raise T.fail(f"tensorData[{i}]: quantization parameters missing")
            q = T.var(qref.name)
            qv = q.values() if isinstance(q, (InitList, NumberArray)) else []
            if len(qv) < 2:
                raise T.fail(f"{qref.name}: expected {{scale, zero_point, dimension}}")
            scale = np.asarray(T.tfarray(qv[0], f"{qref.name}.scale"), dtype=np.float64)
            zero = np.asarray(T.tfarray(qv[1], f"{qref.name}.zero_point"), dtype=np.int64)
            qdim = int(qv[2]) if len(qv) > 2 and isinstance(qv[2], int) else 0
            if scale.size != zero.size or scale.size == 0:
                raise T.fail(f"{qref.name}: {scale.size} scales and {zero.size} zero points")
            scale = scale.astype(np.float32)
        tensors.append(Tensor(f"t{i}", dims, dtype, data=data,
                              scale=scale if scale is None or scale.size > 1 else float(scale[0]),
                              zero_point=zero if zero is None or zero.size > 1 else int(zero[0]),
                              quantized_dimension=qdim))
    ops = _nodes(T, len(tensors), any_int8)
    io_names = ("in_tensor_indices", "out_tensor_indices") \
        if "in_tensor_indices" in h.variables else ("inTensorIndices", "outTensorIndices")
    inputs = _indices(T, io_names[0], len(tensors))
    outputs = _indices(T, io_names[1], len(tensors))
    return build_model(tensors, ops, inputs, outputs, description="edgert: rebuilt from EON")


def _tensor_fields(entry: InitList, declared: Optional[list[str]]) -> dict[str, Any]:
    """Name the fields of a tensorData entry: designators, else the file's own
    ``struct TensorInfo_t`` (4 fields in 2021 float-only EON, 5 without quantization, 6)."""
    if entry.designated:
        out = {i.designator: i.value for i in entry.items}
    else:
        names = declared or ["allocation_type", "type", "data", "dims", "bytes", "quantization"]
        vals = entry.values()
        if len(vals) != len(names):
            raise ExportError(f"a tensorData entry has {len(vals)} fields, its struct "
                              f"{len(names)}")
        out = dict(zip(names, vals))
    if isinstance(out["data"], Expr):   # tensor_arena + offset: an activation
        out["data"] = None
    return out


def _indices(T: _Tables, name: str, n: int) -> list[int]:
    v = T.var(name)
    vals = v.values() if isinstance(v, (InitList, NumberArray)) else []
    if not vals or not all(isinstance(x, int) and 0 <= x < n for x in vals):
        raise T.fail(f"{name}: expected tensor indices, got {vals!r}")
    return [int(x) for x in vals]


def _nodes(T: _Tables, n_tensors: int, int8: bool) -> list[Op]:
    nodes: list[tuple[str, Any, Any, Any]] = []   # (op, inputs ref, outputs ref, params ref)

    def refs(vals: list) -> tuple[Any, Any, Any]:
        def pick(prefix: str) -> Any:
            return next((v for v in vals if isinstance(v, (AddressOf, Ident)) and
                         re.fullmatch(prefix + r"\d+", v.name)), None)
        return pick("inputs"), pick("outputs"), pick("opdata")

    nd = T.h.variables.get("nodeData")
    tn = T.h.variables.get("tflNodes")
    used = T.h.variables.get("used_ops")
    if nd is not None and isinstance(nd.value, InitList):
        # 2021-23: nodeData[] = { {inputs, outputs, builtin_data, OP_x}, ... }
        for k, item in enumerate(nd.value.items):
            e = item.value
            if not isinstance(e, InitList):
                raise T.fail(f"nodeData[{k}] is not a struct")
            vals = e.values()
            op = next((v.name[3:] for v in vals if isinstance(v, Ident) and
                       v.name.startswith("OP_")), None)
            if op is None:
                raise T.fail(f"nodeData[{k}]: no OP_ operator index")
            nodes.append((op, *refs(vals)))
    elif tn is not None and isinstance(tn.value, InitList) and used is not None and \
            isinstance(used.value, InitList):
        # 2024+: tflNodes[] = { TfLiteNode initializers } and a parallel used_ops[] = { OP_x }
        opnames = used.value.values()
        if len(opnames) != len(tn.value.items) or \
                not all(isinstance(o, Ident) and o.name.startswith("OP_") for o in opnames):
            raise T.fail("used_ops[] does not name one OP_ per node of tflNodes[]")
        sub = T.h.variables.get("tflNodes_subgraph_index")
        if sub is not None and isinstance(sub.value, (InitList, NumberArray)) and \
                len(sub.value.values()) > 2:
            raise T.fail("the model has more than one subgraph (control flow), which edgert "
                         "does not rebuild")
        for k, item in enumerate(tn.value.items):
            if not isinstance(item.value, InitList):
                raise T.fail(f"tflNodes[{k}] is not a struct")
            nodes.append((opnames[k].name[3:], *refs(item.value.values())))
    else:
        # 2023: typed node structs `const struct FullyConnectedNodeInfo_t node0 = {...}`
        typed = sorted(((int(m.group(1)), v) for name, v in T.h.variables.items()
                        if (m := re.fullmatch(r"node(\d+)", name)) and isinstance(v.value, InitList)),
                       key=lambda kv: kv[0])
        if not typed:
            raise T.fail("no node list (nodeData[], tflNodes[] or nodeN structs)")
        for k, v in typed:
            e = v.value
            nodes.append((_camel_to_op(v.type.split()[-1]), e.get("inputs"), e.get("outputs"),
                          e.get("params")))
    import tflite
    ops = []
    for k, (name, ins_ref, outs_ref, params_ref) in enumerate(nodes):
        if not hasattr(tflite.BuiltinOperator, name):
            raise T.fail(f"node {k} is the custom operator {name!r} (not a TensorFlow Lite "
                         "builtin), which neither edgert nor TFLite Micro can run")
        ins = [int(x) for x in T.tfarray(ins_ref, f"node {k} inputs")]
        outs = [int(x) for x in T.tfarray(outs_ref, f"node {k} outputs")]
        if any(not -1 <= x < n_tensors for x in ins + outs):
            raise T.fail(f"node {k} ({name}) refers to a tensor that does not exist")
        options = None
        if name in _OPTIONS and isinstance(params_ref, (AddressOf, Ident)):
            p = T.var(params_ref.name)
            options = _options(T, name, p)
        version = _INT8_VERSIONS.get(name, 1) if int8 else 1
        ops.append(Op(name, ins, outs, options=options, version=version))
    return ops


def _options(T: _Tables, op: str, p: Any) -> Optional[tuple]:
    table, fields = _OPTIONS[op]
    vals = p.values() if isinstance(p, (InitList, NumberArray)) else []
    out: dict[str, Any] = {}
    for (fname, kind), v in zip(fields, vals):
        if fname is None:
            continue
        if isinstance(v, Ident):
            if v.name not in _ENUMS:
                raise T.fail(f"{op}: unknown constant {v.name}")
            v = _ENUMS[v.name]
        if kind == "float":
            out[fname] = float(v)
        elif kind == "bool":
            out[fname] = bool(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) == int(v):
            out[fname] = int(v)
        elif isinstance(v, bool):
            out[fname] = int(v)
        else:
            raise T.fail(f"{op}: option {fname} is {v!r}")
    return (table, out)
