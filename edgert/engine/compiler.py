"""Compiles a :class:`~edgert.engine.reader.Graph` into a :class:`Plan` the C core runs.

A plan is plain data, laid out exactly like the C structs of ``csrc/edgert.h`` (engine
section): a tensor table (4-D dims, dtype, byte offset into the arena or into one contiguous
constant blob), an ordered op table whose records carry every precomputed quantization
parameter (per-channel multipliers/shifts as constant tensors, activation ranges, resolved
padding), and the arena size. Intermediate tensors share the arena by lifetime (greedy by
size); reshape-like ops alias their input. Nothing needs malloc at run time, so the same plan
could be serialised for a microcontroller.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import tflite as _tflite

from ..errors import ModelError, UnsupportedOperatorError
from . import quant
from .native import elementwise_lut, softmax_exp_lut
from .plan import (ALIGN, DT_FLOAT32, DT_INT8, DT_INT16, DT_INT32, MAX_IO,
                   MAX_OP_INPUTS, NUMPY_DTYPE, OP, SPACE_ARENA, SPACE_CONST, WIDE_MAX, Plan,
                   PlanOp, PlanTensor)
from .reader import Graph, OpDesc, TensorDesc

MAX_TENSOR_BYTES = (1 << 31) - 1
# the schema's tensor type codes, as numbers (the schema package itself may be released after
# the models are read: edgert.engine.reader.release_schema)
_TT_INT32 = int(_tflite.TensorType.INT32)
_DT_OF_TYPE = {int(_tflite.TensorType.FLOAT32): DT_FLOAT32, int(_tflite.TensorType.INT8): DT_INT8,
               _TT_INT32: DT_INT32}
del _tflite

# Builtin operators the native engine runs, with the highest op version accepted (newer
# versions add types/features checked separately below, so these bounds are generous).
SUPPORTED_VERSIONS = {
    "FULLY_CONNECTED": 13, "CONV_2D": 8, "DEPTHWISE_CONV_2D": 7, "MAX_POOL_2D": 3,
    "AVERAGE_POOL_2D": 3, "RESHAPE": 1, "SQUEEZE": 2, "EXPAND_DIMS": 3, "SOFTMAX": 3,
    "LOGISTIC": 3, "TANH": 3, "RELU": 3, "RELU6": 3, "QUANTIZE": 3, "DEQUANTIZE": 6,
    "ADD": 5, "MUL": 7, "MEAN": 3, "PAD": 4, "PADV2": 3, "CONCATENATION": 4,
    "STRIDED_SLICE": 8,
}


def _dims4(shape: tuple[int, ...], where: str) -> tuple[int, int, int, int]:
    if len(shape) > 4:
        raise UnsupportedOperatorError(f"{where}: tensor of rank {len(shape)} {shape}; the native "
                                       "engine supports rank <= 4")
    d = (1,) * (4 - len(shape)) + tuple(int(x) for x in shape)
    if any(x <= 0 for x in d):
        raise UnsupportedOperatorError(f"{where}: empty tensor shape {shape}")
    if d[0] * d[1] * d[2] * d[3] * 4 > MAX_TENSOR_BYTES:
        raise ModelError(f"{where}: tensor shape {shape} is too large")
    return d  # type: ignore[return-value]


class _Compiler:
    def __init__(self, g: Graph, wide_weights: bool = True):
        self.g = g
        self.wide_weights = wide_weights
        self.tensors: list[PlanTensor] = []
        self.map: dict[int, int] = {}
        self.ops: list[PlanOp] = []
        self.alias_of: dict[int, int] = {}   # plan tensor -> plan tensor whose storage it shares

    # -- tensors ------------------------------------------------------------------------
    def gt(self, i: int) -> TensorDesc:
        return self.g.tensors[i]

    def tensor(self, gi: int, op: Optional[OpDesc] = None) -> int:
        if gi in self.map:
            return self.map[gi]
        t = self.gt(gi)
        where = op.where() if op else f"tensor {gi} '{t.name}'"
        dt = _DT_OF_TYPE.get(t.type_code)
        if dt is None:
            raise UnsupportedOperatorError(f"{where}: tensor '{t.name}' is {t.type_name}; the native "
                                           "engine supports int8, float32 (and int32 biases)")
        pt = PlanTensor(dtype=dt, space=SPACE_CONST if t.data is not None else SPACE_ARENA,
                        dims=_dims4(t.shape, where), name=t.name, graph_index=gi)
        if t.data is not None:
            pt.data = np.ascontiguousarray(t.data, dtype=NUMPY_DTYPE[dt])
        self.tensors.append(pt)
        self.map[gi] = len(self.tensors) - 1
        return self.map[gi]

    def const(self, arr: np.ndarray, dt: int, name: str) -> int:
        arr = np.ascontiguousarray(arr, dtype=NUMPY_DTYPE[dt])
        pt = PlanTensor(dtype=dt, space=SPACE_CONST, dims=_dims4(arr.shape if arr.ndim else (1,), name),
                        name=name, data=arr)
        self.tensors.append(pt)
        return len(self.tensors) - 1

    # -- helpers ------------------------------------------------------------------------
    def op_dtype(self, op: OpDesc, gi: int, allowed=(DT_INT8, DT_FLOAT32)) -> int:
        t = self.gt(gi)
        dt = _DT_OF_TYPE.get(t.type_code)
        if dt not in allowed:
            names = {DT_INT8: "int8", DT_FLOAT32: "float32", DT_INT32: "int32"}
            raise UnsupportedOperatorError(
                f"{op.where()}: input '{t.name}' is {t.type_name}; the native engine runs this "
                f"operator on {' / '.join(names[a] for a in allowed)} only")
        if dt == DT_INT8 and not t.quantized:
            raise UnsupportedOperatorError(f"{op.where()}: int8 tensor '{t.name}' has no quantization")
        return dt

    def same_type(self, op: OpDesc, gis: list[int], dt: int) -> None:
        for gi in gis:
            t = self.gt(gi)
            if _DT_OF_TYPE.get(t.type_code) != dt:
                raise UnsupportedOperatorError(
                    f"{op.where()}: tensor '{t.name}' is {t.type_name} but the operator's input is "
                    f"{'int8' if dt == DT_INT8 else 'float32'}; mixed types are not supported")
            if dt == DT_INT8 and not t.quantized:
                raise UnsupportedOperatorError(f"{op.where()}: int8 tensor '{t.name}' has no quantization")

    def qp(self, op: OpDesc, gi: int) -> tuple[float, int]:
        t = self.gt(gi)
        if t.scale is None or t.scale.size == 0:
            raise UnsupportedOperatorError(f"{op.where()}: tensor '{t.name}' has no quantization")
        if t.scale.size != 1:
            raise UnsupportedOperatorError(f"{op.where()}: tensor '{t.name}' is per-channel quantized "
                                           "where the operator needs a single scale")
        s, z = float(t.scale[0]), int(t.zero_point[0])
        if not (s > 0) or not np.isfinite(s):
            raise ModelError(f"{op.where()}: tensor '{t.name}' has scale {s}")
        if not -128 <= z <= 127:
            raise ModelError(f"{op.where()}: int8 tensor '{t.name}' has zero point {z}")
        return s, z

    def const_data(self, op: OpDesc, gi: int, what: str) -> np.ndarray:
        if gi < 0 or self.gt(gi).data is None:
            raise UnsupportedOperatorError(f"{op.where()}: the {what} must be a constant tensor")
        return self.gt(gi).data

    def act(self, op: OpDesc, dt: int, out_gi: int, fused: int) -> dict:
        if fused not in (0, 1, 2, 3):
            names = {4: "TANH", 5: "SIGN_BIT"}
            raise UnsupportedOperatorError(f"{op.where()}: fused activation "
                                           f"{names.get(fused, fused)} is not supported")
        if dt == DT_INT8:
            s, z = self.qp(op, out_gi)
            lo, hi = quant.activation_range_int8(fused, s, z)
            return {"act_min": lo, "act_max": hi, "out_offset": z,
                    "f_min": -quant.FLOAT_MAX, "f_max": quant.FLOAT_MAX}
        lo_f, hi_f = quant.activation_range_float(fused)
        return {"f_min": lo_f, "f_max": hi_f, "act_min": -128, "act_max": 127}

    def emit(self, op: OpDesc, type_name: str, dt: int, inputs: list[int], out_gi: int,
             params: dict) -> None:
        out = self.tensor(out_gi, op)
        if self.tensors[out].space != SPACE_ARENA:
            raise ModelError(f"{op.where()}: output tensor '{self.gt(out_gi).name}' has constant data")
        self.ops.append(PlanOp(OP[type_name], dt, inputs, out, params, op.where()))

    def emit_elementwise(self, op: OpDesc, type_name: str, dt: int, x: int, out: int, params: dict) -> None:
        """An int8 -> int8 elementwise op gets its 256-entry table (computed by the op's own C
        kernel on every int8 value) as a second input; the kernel then just looks values up."""
        ins = [self.tensor(x, op)]
        if dt == DT_INT8 and self.wide_weights and type_name in ("LOGISTIC", "TANH", "RELU", "REQUANTIZE"):
            ins.append(self.const(elementwise_lut(OP[type_name], params), DT_INT8, f"{op.where()}/lut"))
        self.emit(op, type_name, dt, ins, out, params)

    def n_io(self, op: OpDesc, n_in: tuple[int, int], n_out: int = 1) -> None:
        ins = [i for i in op.inputs]
        if not n_in[0] <= len(ins) <= n_in[1] or len(op.outputs) != n_out:
            raise ModelError(f"{op.where()}: {len(ins)} inputs / {len(op.outputs)} outputs, expected "
                             f"{n_in[0]}..{n_in[1]} / {n_out}")
        if any(i < 0 for i in ins[: n_in[0]]):
            raise ModelError(f"{op.where()}: a required input is missing")

    def opts(self, op: OpDesc, cls_name: str):
        o = op.options
        if o is None or o.kind != cls_name:
            return None
        return o

    # -- ops ----------------------------------------------------------------------------
    def fully_connected(self, op: OpDesc) -> None:
        self.n_io(op, (2, 3))
        x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
        b = op.inputs[2] if len(op.inputs) > 2 else -1
        o = self.opts(op, "FullyConnectedOptions")
        fused = int(o.FusedActivationFunction()) if o else 0
        if o is not None and int(o.WeightsFormat()) != 0:
            raise UnsupportedOperatorError(f"{op.where()}: shuffled weights format is not supported")
        dt = self.op_dtype(op, x)
        wt = self.gt(w)
        if _DT_OF_TYPE.get(wt.type_code) != dt:
            raise UnsupportedOperatorError(f"{op.where()}: weights '{wt.name}' are {wt.type_name} for "
                                           f"{self.gt(x).type_name} input (hybrid models are not supported)")
        self.same_type(op, [out], dt)
        W = self.const_data(op, w, "weights")
        if W.ndim != 2:
            raise ModelError(f"{op.where()}: weights of shape {W.shape}, expected 2-D")
        units, depth = W.shape
        nx, ny = self.gt(x).numel, self.gt(out).numel
        if depth <= 0 or nx % depth != 0 or ny != (nx // depth) * units:
            raise ModelError(f"{op.where()}: input of {nx} values, weights {W.shape} and output "
                             f"{self.gt(out).shape} do not agree")
        rows = nx // depth
        params: dict[str, Any] = {"rows": rows, "depth": depth, "units": units}
        if dt == DT_INT8:
            s_in, z_in = self.qp(op, x)
            s_out, _ = self.qp(op, out)
            if wt.scale is None or wt.scale.size not in (1, units):
                raise UnsupportedOperatorError(f"{op.where()}: weights need 1 or {units} scales")
            if np.any(wt.zero_point != 0):
                raise UnsupportedOperatorError(f"{op.where()}: int8 weights with a non-zero zero point")
            if wt.scale.size == 1:
                real = float(np.float32(np.float32(s_in) * wt.scale[0])) / float(np.float32(s_out))
                ms = [quant.quantize_multiplier(real)] * units
            else:
                ms = [quant.quantize_multiplier(float(np.float32(s_in)) * float(sw) / float(np.float32(s_out)))
                      for sw in wt.scale]
            bias = np.zeros(units, dtype=np.int64)
            if b >= 0:
                bt = self.gt(b)
                if bt.type_code != _TT_INT32:
                    raise UnsupportedOperatorError(f"{op.where()}: bias '{bt.name}' is {bt.type_name}, "
                                                   "expected int32")
                bias = self.const_data(op, b, "bias").reshape(-1).astype(np.int64)
                if bias.size != units:
                    raise ModelError(f"{op.where()}: bias of {bias.size} values for {units} units")
            folded = bias + (-z_in) * W.astype(np.int64).sum(axis=1)
            if np.any(np.abs(folded) > 2**31 - 1):
                raise UnsupportedOperatorError(f"{op.where()}: bias with folded input offset overflows int32")
            ins = [self.tensor(x, op), self.tensor(w, op),
                   self.const(folded.astype(np.int32), DT_INT32, f"{wt.name}/folded_bias"),
                   self.const(np.array([m for m, _ in ms], dtype=np.int32), DT_INT32, f"{wt.name}/mult"),
                   self.const(np.array([s for _, s in ms], dtype=np.int32), DT_INT32, f"{wt.name}/shift")]
            if self.wide_weights and depth <= WIDE_MAX:
                ins.append(self.const(pack_fc_weights(W), DT_INT16, f"{wt.name}/packed"))
            params["a"] = dict(self.act(op, dt, out, fused), in_offset=-z_in)
        else:
            bias_f = np.zeros(units, dtype=np.float32)
            if b >= 0:
                bias_f = self.const_data(op, b, "bias").reshape(-1).astype(np.float32)
                if bias_f.size != units:
                    raise ModelError(f"{op.where()}: bias of {bias_f.size} values for {units} units")
            ins = [self.tensor(x, op), self.tensor(w, op), self.const(bias_f, DT_FLOAT32, f"{wt.name}/bias")]
            if self.wide_weights:
                ins.append(self.const(transpose_weights(W), DT_FLOAT32, f"{wt.name}/transposed"))
            params["a"] = self.act(op, dt, out, fused)
        self.emit(op, "FULLY_CONNECTED", dt, ins, out, {"fc": params})

    def _conv_common(self, op: OpDesc, depthwise: bool) -> None:
        self.n_io(op, (2, 3))
        x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
        b = op.inputs[2] if len(op.inputs) > 2 else -1
        o = self.opts(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
        if o is None:
            raise ModelError(f"{op.where()}: missing options")
        dt = self.op_dtype(op, x)
        self.same_type(op, [w, out], dt)
        W = self.const_data(op, w, "filter")
        xs, ys = self.gt(x).shape, self.gt(out).shape
        if len(xs) != 4 or len(ys) != 4 or W.ndim != 4:
            raise ModelError(f"{op.where()}: expects 4-D input/filter/output, got {xs}, {W.shape}, {ys}")
        sh, sw = int(o.StrideH()), int(o.StrideW())
        dh, dw = int(o.DilationHFactor()), int(o.DilationWFactor())
        if min(sh, sw, dh, dw) <= 0:
            raise ModelError(f"{op.where()}: strides {sh}x{sw} / dilation {dh}x{dw} must be positive")
        kh, kw = W.shape[1], W.shape[2]
        padding = int(o.Padding())
        if padding not in (0, 1):
            raise UnsupportedOperatorError(f"{op.where()}: padding type {padding}")
        oh = quant.conv_output_size(padding, xs[1], kh, sh, dh)
        ow = quant.conv_output_size(padding, xs[2], kw, sw, dw)
        oc = ys[3]
        if (oh, ow) != (ys[1], ys[2]) or xs[0] != ys[0]:
            raise ModelError(f"{op.where()}: output shape {ys} does not match the input {xs}, filter "
                             f"{W.shape} and strides")
        if depthwise:
            if W.shape[0] != 1 or W.shape[3] != oc or oc % xs[3] != 0:
                raise ModelError(f"{op.where()}: filter {W.shape} for input {xs} and output {ys}")
        else:
            if W.shape[0] != oc or W.shape[3] <= 0 or xs[3] % W.shape[3] != 0 or \
                    oc % (xs[3] // W.shape[3]) != 0:
                raise ModelError(f"{op.where()}: filter {W.shape} for input {xs} and output {ys}")
        params: dict[str, Any] = {
            "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw,
            "pad_h": quant.conv_padding(sh, dh, xs[1], kh, oh),
            "pad_w": quant.conv_padding(sw, dw, xs[2], kw, ow),
            "depth_multiplier": oc // xs[3] if depthwise else 0,
        }
        fused = int(o.FusedActivationFunction())
        wt = self.gt(w)
        if dt == DT_INT8:
            s_in, z_in = self.qp(op, x)
            s_out, _ = self.qp(op, out)
            if wt.scale is None or wt.scale.size not in (1, oc):
                raise UnsupportedOperatorError(f"{op.where()}: filter needs 1 or {oc} scales")
            if np.any(wt.zero_point != 0):
                raise UnsupportedOperatorError(f"{op.where()}: int8 filter with a non-zero zero point")
            scales = np.broadcast_to(wt.scale, (oc,))
            ms = [quant.quantize_multiplier(float(np.float32(s_in)) * float(sc) / float(np.float32(s_out)))
                  for sc in scales]
            bias = np.zeros(oc, dtype=np.int32)
            if b >= 0:
                if self.gt(b).type_code != _TT_INT32:
                    raise UnsupportedOperatorError(f"{op.where()}: bias is {self.gt(b).type_name}, expected int32")
                bias = self.const_data(op, b, "bias").reshape(-1).astype(np.int32)
                if bias.size != oc:
                    raise ModelError(f"{op.where()}: bias of {bias.size} values for {oc} channels")
            ins = [self.tensor(x, op), self.tensor(w, op), self.const(bias, DT_INT32, f"{wt.name}/bias"),
                   self.const(np.array([m for m, _ in ms], dtype=np.int32), DT_INT32, f"{wt.name}/mult"),
                   self.const(np.array([s for _, s in ms], dtype=np.int32), DT_INT32, f"{wt.name}/shift")]
            K = kh * kw * W.shape[3]
            if self.wide_weights and not depthwise and W.shape[3] == xs[3] and K <= WIDE_MAX:
                ins.append(self.const(pack_fc_weights(W.reshape(oc, K)), DT_INT16, f"{wt.name}/packed"))
            params["a"] = dict(self.act(op, dt, out, fused), in_offset=-z_in)
        else:
            bias_f = np.zeros(oc, dtype=np.float32)
            if b >= 0:
                bias_f = self.const_data(op, b, "bias").reshape(-1).astype(np.float32)
                if bias_f.size != oc:
                    raise ModelError(f"{op.where()}: bias of {bias_f.size} values for {oc} channels")
            ins = [self.tensor(x, op), self.tensor(w, op), self.const(bias_f, DT_FLOAT32, f"{wt.name}/bias")]
            K = kh * kw * W.shape[3]
            if self.wide_weights and not depthwise and W.shape[3] == xs[3] and K <= WIDE_MAX:
                ins.append(self.const(transpose_weights(W.reshape(oc, K)), DT_FLOAT32,
                                      f"{wt.name}/transposed"))
            params["a"] = self.act(op, dt, out, fused)
        self.emit(op, "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", dt, ins, out, {"conv": params})

    def conv_2d(self, op: OpDesc) -> None:
        self._conv_common(op, False)

    def depthwise_conv_2d(self, op: OpDesc) -> None:
        self._conv_common(op, True)

    def _pool(self, op: OpDesc, name: str) -> None:
        self.n_io(op, (1, 1))
        x, out = op.inputs[0], op.outputs[0]
        o = self.opts(op, "Pool2DOptions")
        if o is None:
            raise ModelError(f"{op.where()}: missing options")
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        xs, ys = self.gt(x).shape, self.gt(out).shape
        if len(xs) != 4 or len(ys) != 4:
            raise ModelError(f"{op.where()}: expects 4-D tensors, got {xs} -> {ys}")
        sh, sw, fh, fw = int(o.StrideH()), int(o.StrideW()), int(o.FilterHeight()), int(o.FilterWidth())
        if min(sh, sw, fh, fw) <= 0:
            raise ModelError(f"{op.where()}: strides/filter must be positive")
        padding = int(o.Padding())
        oh = quant.conv_output_size(padding, xs[1], fh, sh, 1)
        ow = quant.conv_output_size(padding, xs[2], fw, sw, 1)
        if (xs[0], oh, ow, xs[3]) != tuple(ys):
            raise ModelError(f"{op.where()}: output shape {ys} does not match input {xs}")
        params = {"stride_h": sh, "stride_w": sw, "filter_h": fh, "filter_w": fw,
                  "pad_h": quant.conv_padding(sh, 1, xs[1], fh, oh),
                  "pad_w": quant.conv_padding(sw, 1, xs[2], fw, ow),
                  "a": self.act(op, dt, out, int(o.FusedActivationFunction()))}
        if dt == DT_INT8:
            self.qp(op, x)
        self.emit(op, name, dt, [self.tensor(x, op)], out, {"pool": params})

    def max_pool_2d(self, op: OpDesc) -> None:
        self._pool(op, "MAX_POOL_2D")

    def average_pool_2d(self, op: OpDesc) -> None:
        self._pool(op, "AVERAGE_POOL_2D")

    def reshape(self, op: OpDesc) -> None:
        self.n_io(op, (1, 2))
        x, out = op.inputs[0], op.outputs[0]
        dt = self.op_dtype(op, x, (DT_INT8, DT_FLOAT32, DT_INT32))
        self.same_type(op, [out], dt)
        if self.gt(x).numel != self.gt(out).numel:
            raise ModelError(f"{op.where()}: {self.gt(x).shape} -> {self.gt(out).shape} changes the "
                             "number of elements")
        if dt == DT_INT8 and self.qp(op, x) != self.qp(op, out):
            raise UnsupportedOperatorError(f"{op.where()}: input and output quantization differ")
        self.emit(op, "COPY", DT_FLOAT32 if dt != DT_INT8 else DT_INT8, [self.tensor(x, op)], out, {})

    squeeze = expand_dims = reshape

    def softmax(self, op: OpDesc) -> None:
        self.n_io(op, (1, 1))
        x, out = op.inputs[0], op.outputs[0]
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        o = self.opts(op, "SoftmaxOptions")
        beta = float(o.Beta()) if o else 1.0
        if self.gt(x).shape != self.gt(out).shape:
            raise ModelError(f"{op.where()}: shapes {self.gt(x).shape} -> {self.gt(out).shape}")
        params: dict[str, Any] = {"beta": beta}
        if dt == DT_INT8:
            s_in, _ = self.qp(op, x)
            s_out, z_out = self.qp(op, out)
            if s_out != 1.0 / 256 or z_out != -128:
                raise UnsupportedOperatorError(f"{op.where()}: int8 output must have scale 1/256 and zero "
                                               f"point -128 (has {s_out}, {z_out})")
            real = min(float(beta) * float(np.float32(s_in)) * float(1 << 26), float((1 << 31) - 1))
            try:
                m, ls = quant.quantize_multiplier_greater_than_one(real)
            except ValueError:
                raise UnsupportedOperatorError(f"{op.where()}: input scale {s_in} too small") from None
            params.update(in_mult=m, in_left_shift=ls, diff_min=-quant.calculate_input_radius(5, ls))
            lut = softmax_exp_lut(params)
            self.emit(op, "SOFTMAX", dt, [self.tensor(x, op), self.const(lut, DT_INT32, f"{op.where()}/exp")],
                      out, {"softmax": params})
            return
        self.emit(op, "SOFTMAX", dt, [self.tensor(x, op)], out, {"softmax": params})

    def _sigmoid(self, op: OpDesc, name: str) -> None:
        self.n_io(op, (1, 1))
        x, out = op.inputs[0], op.outputs[0]
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        params: dict[str, Any] = {}
        if dt == DT_INT8:
            s_in, z_in = self.qp(op, x)
            s_out, z_out = self.qp(op, out)
            want = (1.0 / 256, -128) if name == "LOGISTIC" else (1.0 / 128, 0)
            if (s_out, z_out) != want:
                raise UnsupportedOperatorError(f"{op.where()}: int8 output must have scale {want[0]} and "
                                               f"zero point {want[1]} (has {s_out}, {z_out})")
            m, sh = quant.frexp_multiplier(float(np.float32(s_in)) * float(1 << 27))
            if m >= 1 << 31 or sh > 30:
                raise UnsupportedOperatorError(f"{op.where()}: input scale {s_in} out of range")
            params = {"in_zp": z_in, "range_radius": quant.calculate_input_radius(4, sh),
                      "in_mult": m, "in_shift": sh}
        self.emit_elementwise(op, name, dt, x, out, {"sigmoid": params})

    def logistic(self, op: OpDesc) -> None:
        self._sigmoid(op, "LOGISTIC")

    def tanh(self, op: OpDesc) -> None:
        self._sigmoid(op, "TANH")

    def _relu(self, op: OpDesc, name: str) -> None:
        self.n_io(op, (1, 1))
        x, out = op.inputs[0], op.outputs[0]
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        params: dict[str, Any] = {"a": {"f_min": 0.0, "f_max": quant.FLOAT_MAX}}
        if dt == DT_INT8:
            s_in, z_in = self.qp(op, x)
            s_out, z_out = self.qp(op, out)
            if name == "RELU":
                m, sh = quant.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
                params = {"mult": m, "shift": sh,
                          "a": {"in_offset": -z_in, "out_offset": z_out, "act_min": max(-128, z_out),
                                "act_max": 127}}
            else:
                # TFLite Micro clamps the raw input values: [input zp, 6 in input quantization]
                six = min(127, max(-128, quant.quantize_scalar(6.0, s_in, z_in)))
                params = {"a": {"in_offset": -z_in, "out_offset": z_out, "act_min": z_in, "act_max": six}}
                if z_in > six:
                    raise UnsupportedOperatorError(f"{op.where()}: empty int8 RELU6 range")
        self.emit_elementwise(op, name, dt, x, out, {"unary": params})

    def relu(self, op: OpDesc) -> None:
        self._relu(op, "RELU")

    def relu6(self, op: OpDesc) -> None:
        self._relu(op, "RELU6")

    def quantize(self, op: OpDesc) -> None:
        self.n_io(op, (1, 1))
        x, out = op.inputs[0], op.outputs[0]
        dt_in = self.op_dtype(op, x)
        self.same_type(op, [out], DT_INT8)
        s_out, z_out = self.qp(op, out)
        if dt_in == DT_FLOAT32:
            self.emit(op, "QUANTIZE", DT_FLOAT32, [self.tensor(x, op)], out,
                      {"unary": {"scale": s_out, "zero_point": z_out}})
        else:
            s_in, z_in = self.qp(op, x)
            m, sh = quant.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
            self.emit_elementwise(op, "REQUANTIZE", DT_INT8, x, out,
                                  {"unary": {"mult": m, "shift": sh, "a": {"in_offset": -z_in, "out_offset": z_out,
                                                                           "act_min": -128, "act_max": 127}}})

    def dequantize(self, op: OpDesc) -> None:
        self.n_io(op, (1, 1))
        x, out = op.inputs[0], op.outputs[0]
        self.op_dtype(op, x, (DT_INT8,))
        self.same_type(op, [out], DT_FLOAT32)
        s_in, z_in = self.qp(op, x)
        self.emit(op, "DEQUANTIZE", DT_INT8, [self.tensor(x, op)], out,
                  {"unary": {"scale": s_in, "zero_point": z_in}})

    def _binary(self, op: OpDesc, name: str) -> None:
        self.n_io(op, (2, 2))
        a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
        dt = self.op_dtype(op, a)
        self.same_type(op, [b, out], dt)
        o = op.options
        fused = int(o.FusedActivationFunction()) if o is not None and "FusedActivationFunction" in o.values else 0
        da, db, do = (_dims4(self.gt(i).shape, op.where()) for i in (a, b, out))
        for k in range(4):
            if do[k] != max(da[k], db[k]) or da[k] not in (1, do[k]) or db[k] not in (1, do[k]):
                raise ModelError(f"{op.where()}: shapes {self.gt(a).shape} and {self.gt(b).shape} do not "
                                 f"broadcast to {self.gt(out).shape}")
        params: dict[str, Any] = {}
        if dt == DT_INT8:
            s1, z1 = self.qp(op, a)
            s2, z2 = self.qp(op, b)
            so, zo = self.qp(op, out)
            params["a"] = dict(self.act(op, dt, out, fused), in_offset=-z1)
            params["in2_offset"] = -z2
            if name == "ADD":
                twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
                m1, sh1 = quant.quantize_multiplier_smaller_than_one(float(np.float32(s1)) / twice_max)
                m2, sh2 = quant.quantize_multiplier_smaller_than_one(float(np.float32(s2)) / twice_max)
                mo, sho = quant.quantize_multiplier(twice_max / (float(1 << 20) * float(np.float32(so))))
                params.update(left_shift=20, in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
                              out_mult=mo, out_shift=sho)
            else:
                mo, sho = quant.quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) /
                                                    float(np.float32(so)))
                params.update(out_mult=mo, out_shift=sho)
        else:
            params["a"] = self.act(op, dt, out, fused)
        self.emit(op, name, dt, [self.tensor(a, op), self.tensor(b, op)], out, {"binary": params})

    def add(self, op: OpDesc) -> None:
        self._binary(op, "ADD")

    def mul(self, op: OpDesc) -> None:
        self._binary(op, "MUL")

    def mean(self, op: OpDesc) -> None:
        self.n_io(op, (2, 2))
        x, ax, out = op.inputs[0], op.inputs[1], op.outputs[0]
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        rank = len(self.gt(x).shape)
        axes = sorted({int(v) + rank if int(v) < 0 else int(v)
                       for v in np.asarray(self.const_data(op, ax, "axis")).reshape(-1)})
        if not axes or any(not 0 <= v < rank for v in axes):
            raise ModelError(f"{op.where()}: axes {axes} for a rank-{rank} input")
        # keep_dims changes only the output's shape, which the output tensor already has
        mask = 0
        for v in axes:
            mask |= 1 << (v + 4 - rank)
        count = 1
        for v in axes:
            count *= self.gt(x).shape[v]
        if self.gt(out).numel * count != self.gt(x).numel:
            raise ModelError(f"{op.where()}: output {self.gt(out).shape} for input {self.gt(x).shape}")
        params: dict[str, Any] = {"axis_mask": mask, "mode": 0}
        if dt == DT_INT8:
            s_in, z_in = self.qp(op, x)
            s_out, z_out = self.qp(op, out)
            m, sh = quant.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
            params.update(in_zp=z_in, out_zp=z_out, in_scale=s_in, out_scale=s_out)
            # TFLite Micro (checked against tflite-micro on every axis combination of the tests)
            # folds 1/count into the multiplier, QuantizedMeanOrSum-style, on all int8 paths
            k = min(count.bit_length() - 1, 32, 31 + sh)
            m2 = (m << k) // count if k >= 0 else m
            params.update(mode=2, mult=int(m2), shift=sh - k)
        self.emit(op, "MEAN", dt, [self.tensor(x, op)], out, {"mean": params})

    def pad(self, op: OpDesc) -> None:
        self.n_io(op, (2, 3))
        x, pads, out = op.inputs[0], op.inputs[1], op.outputs[0]
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        P = np.asarray(self.const_data(op, pads, "paddings")).astype(np.int64)
        xs, ys = self.gt(x).shape, self.gt(out).shape
        rank = len(xs)
        if P.shape != (rank, 2) or np.any(P < 0) or len(ys) != rank or \
                any(xs[i] + P[i, 0] + P[i, 1] != ys[i] for i in range(rank)):
            raise ModelError(f"{op.where()}: paddings {P.tolist()} for {xs} -> {ys}")
        before = [0] * (4 - rank) + [int(v) for v in P[:, 0]]
        params: dict[str, Any] = {"before": before, "int_value": 0, "float_value": 0.0}
        if dt == DT_INT8:
            s_in, z_in = self.qp(op, x)
            if (s_in, z_in) != self.qp(op, out):
                raise UnsupportedOperatorError(f"{op.where()}: input and output quantization differ")
            params["int_value"] = z_in
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            v = np.asarray(self.const_data(op, op.inputs[2], "constant value")).reshape(-1)
            if v.size != 1:
                raise ModelError(f"{op.where()}: constant value must be a scalar")
            if dt == DT_INT8:
                params["int_value"] = int(v[0])
            else:
                params["float_value"] = float(v[0])
        self.emit(op, "PAD", dt, [self.tensor(x, op)], out, {"pad": params})

    padv2 = pad

    def concatenation(self, op: OpDesc) -> None:
        if not 1 <= len(op.inputs) <= MAX_OP_INPUTS or len(op.outputs) != 1 or min(op.inputs) < 0:
            raise UnsupportedOperatorError(f"{op.where()}: {len(op.inputs)} inputs (at most "
                                           f"{MAX_OP_INPUTS} are supported)")
        out = op.outputs[0]
        dt = self.op_dtype(op, op.inputs[0])
        self.same_type(op, list(op.inputs) + [out], dt)
        o = self.opts(op, "ConcatenationOptions")
        axis = int(o.Axis()) if o else 0
        if o is not None and int(o.FusedActivationFunction()) != 0:
            raise UnsupportedOperatorError(f"{op.where()}: fused activation is not supported")
        rank = len(self.gt(out).shape)
        if axis < 0:
            axis += rank
        if not 0 <= axis < rank or any(len(self.gt(i).shape) != rank for i in op.inputs):
            raise ModelError(f"{op.where()}: axis {axis} / ranks do not agree")
        if dt == DT_INT8:
            qo = self.qp(op, out)
            for i in op.inputs:
                if self.qp(op, i) != qo:
                    raise UnsupportedOperatorError(f"{op.where()}: inputs with a quantization different "
                                                   "from the output's need rescaling (not supported)")
        total = sum(self.gt(i).shape[axis] for i in op.inputs)
        if total != self.gt(out).shape[axis]:
            raise ModelError(f"{op.where()}: inputs do not add up to the output along axis {axis}")
        self.emit(op, "CONCATENATION", dt, [self.tensor(i, op) for i in op.inputs], out,
                  {"concat": {"axis": axis + 4 - rank}})

    def strided_slice(self, op: OpDesc) -> None:
        self.n_io(op, (4, 4))
        x, out = op.inputs[0], op.outputs[0]
        dt = self.op_dtype(op, x)
        self.same_type(op, [out], dt)
        o = self.opts(op, "StridedSliceOptions")
        bm = em = sm = 0
        offset = False
        if o is not None:
            if int(o.EllipsisMask()) or int(o.NewAxisMask()):
                raise UnsupportedOperatorError(f"{op.where()}: ellipsis/new-axis masks are not supported")
            bm, em, sm = int(o.BeginMask()), int(o.EndMask()), int(o.ShrinkAxisMask())
            offset = bool(o.Offset())
        B, E, S = (np.asarray(self.const_data(op, op.inputs[k], n)).reshape(-1).astype(np.int64)
                   for k, n in ((1, "begin"), (2, "end"), (3, "strides")))
        xs = self.gt(x).shape
        rank = len(xs)
        if not (B.size == E.size == S.size <= rank):
            raise ModelError(f"{op.where()}: begin/end/strides sizes do not match")
        begin, stride, out_shape = [], [], []
        for i in range(rank):
            dim = xs[i]
            if i >= B.size:
                begin.append(0), stride.append(1), out_shape.append(dim)
                continue
            s = int(S[i])
            if s == 0:
                raise ModelError(f"{op.where()}: stride 0")
            if (sm >> i) & 1:
                bi = int(B[i]) + (dim if B[i] < 0 else 0)
                if not 0 <= bi < dim:
                    raise ModelError(f"{op.where()}: shrink index {int(B[i])} out of range")
                begin.append(bi), stride.append(1)
                continue
            b0 = None if (bm >> i) & 1 else int(B[i])
            e0 = None if (em >> i) & 1 else int(E[i]) + (int(B[i]) if offset else 0)
            r = range(*slice(b0, e0, s).indices(dim))
            if len(r) == 0:
                raise UnsupportedOperatorError(f"{op.where()}: empty slice")
            begin.append(r.start), stride.append(s), out_shape.append(len(r))
        if tuple(out_shape) != tuple(self.gt(out).shape):
            raise ModelError(f"{op.where()}: slice gives {tuple(out_shape)}, the output tensor is "
                             f"{self.gt(out).shape}")
        # Re-express over the 4-D dims of input; output dims right-aligned with shrunk axes as 1.
        pad = 4 - rank
        params = {"begin": [0] * pad + begin, "stride": [1] * pad + stride}
        out_dims4 = [1] * pad + [1 if (sm >> i) & 1 and i < B.size else
                                 out_shape[sum(1 for k in range(i) if not ((sm >> k) & 1 and k < B.size))]
                                 for i in range(rank)]
        pid = self.tensor(out, op)
        self.tensors[pid].dims = tuple(out_dims4)  # type: ignore[assignment]
        self.emit(op, "STRIDED_SLICE", dt, [self.tensor(x, op)], out, {"slice": params})

    # -- driver -------------------------------------------------------------------------
    def check_supported(self) -> None:
        for op in self.g.ops:
            maxv = SUPPORTED_VERSIONS.get(op.name)
            if maxv is None or op.version > maxv or op.version < 1:
                raise UnsupportedOperatorError(f"{op.where()} is not supported by the native engine")

    def run(self) -> Plan:
        g = self.g
        if not g.inputs or not g.outputs:
            raise ModelError("the model has no inputs or no outputs")
        if len(g.inputs) > MAX_IO or len(g.outputs) > MAX_IO:
            raise UnsupportedOperatorError(f"{len(g.inputs)} inputs / {len(g.outputs)} outputs: at most "
                                           f"{MAX_IO} each are supported")
        self.check_supported()
        for gi in g.inputs:
            if self.gt(gi).data is not None:
                raise ModelError(f"model input '{self.gt(gi).name}' has constant data")
            self.tensor(gi)
        for op in g.ops:
            try:
                getattr(self, op.name.lower())(op)
            except (ModelError, UnsupportedOperatorError):
                raise
            except (IndexError, ValueError, TypeError, KeyError, OverflowError, ZeroDivisionError) as exc:
                # a corrupt model whose tensors do not fit the operator (e.g. a scalar weight)
                raise ModelError(f"{op.where()}: inconsistent tensors or options "
                                 f"({type(exc).__name__}: {exc})") from exc
        for gi in g.outputs:
            if gi not in self.map or self.tensors[self.map[gi]].space != SPACE_ARENA:
                if gi in g.inputs:
                    continue
                raise ModelError(f"model output '{self.gt(gi).name}' is not computed by any operator")
        return self.finish()

    def finish(self) -> Plan:
        # aliases: COPY whose input lives in the arena shares its storage
        root = list(range(len(self.tensors)))

        def find(i: int) -> int:
            while root[i] != i:
                i = root[i]
            return i

        n_alias = 0
        for po in self.ops:
            if po.type == OP["COPY"] and self.tensors[po.inputs[0]].space == SPACE_ARENA:
                root[po.out] = find(po.inputs[0])
                n_alias += 1
        # lifetimes per storage group
        n_ops = len(self.ops)
        first: dict[int, int] = {}
        last: dict[int, int] = {}

        def touch(t: int, i: int) -> None:
            r = find(t)
            first[r] = min(first.get(r, i), i)
            last[r] = max(last.get(r, i), i)

        for gi in self.g.inputs:
            touch(self.map[gi], -1)
        for i, po in enumerate(self.ops):
            for t in po.inputs:
                if self.tensors[t].space == SPACE_ARENA:
                    touch(t, i)
            touch(po.out, i)
        for gi in self.g.outputs:
            touch(self.map[gi], n_ops)
        size = {r: max(self.tensors[t].bytes for t in range(len(self.tensors)) if find(t) == r
                       and self.tensors[t].space == SPACE_ARENA) for r in first}
        placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
        offsets: dict[int, int] = {}
        for r in sorted(first, key=lambda r: (-size[r], first[r])):
            live = sorted((o, s) for o, s, f, l in placed if not (l < first[r] or last[r] < f))
            off = 0
            for o, s in live:
                if off + size[r] <= o:
                    break
                off = max(off, _align(o + s))
            offsets[r] = off
            placed.append((off, size[r], first[r], last[r]))
        arena = max((o + s for o, s, _, _ in placed), default=0)
        for t, pt in enumerate(self.tensors):
            if pt.space == SPACE_ARENA:
                pt.offset = offsets.get(find(t), 0) if find(t) in offsets else 0
        # constant blob
        chunks, pos = [], 0
        for pt in self.tensors:
            if pt.space == SPACE_CONST:
                raw = np.ascontiguousarray(pt.data).view(np.uint8).reshape(-1)
                if raw.size != pt.bytes:
                    raise ModelError(f"constant '{pt.name}' has {raw.size} bytes, expected {pt.bytes}")
                pt.offset = pos
                chunks.append((pos, raw))
                pos = _align(pos + raw.size)
        consts = np.zeros(max(pos, 1), dtype=np.uint8)
        for p, raw in chunks:
            consts[p:p + raw.size] = raw
        return Plan(tensors=self.tensors, ops=self.ops,
                    inputs=[self.map[gi] for gi in self.g.inputs],
                    outputs=[self.map[gi] for gi in self.g.outputs],
                    arena_bytes=_align(arena), consts=consts, aliases=n_alias)


def pack_fc_weights(W: np.ndarray) -> np.ndarray:
    """int16 weights in the layout of csrc/kernel_fc.c fc_s8_packed: groups of 4 outputs,
    pairs of depth: packed[g, k] = (w[4g+j, 2k], w[4g+j, 2k+1]) for j = 0..3, zero-padded."""
    units, depth = W.shape
    groups, pairs = (units + 3) // 4, (depth + 1) // 2
    Wp = np.zeros((groups * 4, pairs * 2), dtype=np.int16)
    Wp[:units, :depth] = W
    # [g, j, k, t] -> [g, k, j, t]
    return np.ascontiguousarray(Wp.reshape(groups, 4, pairs, 2).transpose(0, 2, 1, 3)).reshape(-1, 8)


def transpose_weights(W: np.ndarray) -> np.ndarray:
    """float32 weights [units, depth] -> [depth, units rounded up to 8] (zero columns), the
    layout of eg_matvec_f32_transposed in csrc/kernel_fc.c."""
    units, depth = W.shape
    out = np.zeros((depth, (units + 7) // 8 * 8), dtype=np.float32)
    out[:, :units] = W.T
    return out


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def compile_graph(g: Graph, wide_weights: bool = True) -> Plan:
    """Lower a parsed graph to a native plan. Raises UnsupportedOperatorError naming the first
    operator/type the native engine cannot run, ModelError for inconsistent models.
    ``wide_weights``: also store int16 copies of FULLY_CONNECTED weights (faster on hosts with
    SIMD; a microcontroller plan leaves them out to keep the constants small).
    Shape-only subgraphs (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE and the like) are
    evaluated first (:mod:`edgert.engine.fold`)."""
    from .fold import fold_shape_subgraphs
    return _Compiler(fold_shape_subgraphs(g), wide_weights).run()


def unsupported_reason(g: Graph) -> Optional[str]:
    """None when the native engine can run the graph, else the reason (the error message)."""
    try:
        compile_graph(g)
    except UnsupportedOperatorError as exc:
        return str(exc)
    return None
