"""Every native kernel against the reference interpreters, on single-operator models built
with tests.tflite_builder and random data/quantization: int8 bit-exact with TFLite Micro,
float32 within 1e-5 relative of ai-edge-litert's reference kernels."""
from __future__ import annotations

import numpy as np
import pytest

from edgert.engine import load_model
from tests.tflite_builder import Op, Tensor, build_model

from .oracles import LitertOracle, MicroOracle, rand_q

N = 64  # random inputs per model


def _inputs(rng, shape, dtype, n=N):
    if dtype == "int8":
        return rng.integers(-128, 128, (n,) + tuple(shape)).astype(np.int8)
    return (rng.standard_normal((n,) + tuple(shape)) * 2).astype(np.float32)


def _check(model: bytes, X: np.ndarray, dtype: str):
    m = load_model(model, backend="native")
    assert m.backend == "native"
    got = m.invoke_batch(X.reshape((X.shape[0],) + m.inputs[0].item_shape))
    if dtype == "int8":
        ref = MicroOracle(model).invoke_batch(X)[0].reshape(got.shape)
        mism = np.argwhere(got != ref)
        assert mism.size == 0, f"{len(mism)} mismatches, first at {mism[0]}: got {got[tuple(mism[0])]} " \
                               f"want {ref[tuple(mism[0])]}"
    else:
        ref = LitertOracle(model).invoke_batch(X)[0].reshape(got.shape)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=0)
    # single invoke gives the same as the batch
    np.testing.assert_array_equal(m.invoke(X[0]).reshape(-1), got[0].reshape(-1))
    return m


def _qt(name, shape, dtype, rng, data=None, q=None):
    if dtype == "int8":
        s, z = q if q is not None else rand_q(rng)
        return Tensor(name, shape, "int8", data, scale=s, zero_point=z)
    return Tensor(name, shape, "float32", data)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("act", [0, 1, 3])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("rows", [1, 3])
def test_fully_connected(dtype, act, per_channel, rows):
    if dtype == "float32" and per_channel:
        pytest.skip("per-channel is an int8 notion")
    rng = np.random.default_rng(100 + act * 7 + per_channel * 3 + rows)
    D, U = 19, 7
    if dtype == "int8":
        sx, zx = rand_q(rng)
        sw = np.asarray(rng.uniform(0.002, 0.02, U if per_channel else 1), dtype=np.float32)
        W = rng.integers(-127, 128, (U, D)).astype(np.int8)
        bias = rng.integers(-3000, 3000, U).astype(np.int32)
        ts = [Tensor("x", (rows, D), "int8", scale=sx, zero_point=zx),
              Tensor("w", (U, D), "int8", W, scale=sw, zero_point=np.zeros(np.size(sw), np.int64)),
              Tensor("b", (U,), "int32", bias, scale=sx * sw, zero_point=np.zeros(np.size(sw), np.int64)),
              Tensor("y", (rows, U), "int8", scale=float(np.float32(rng.uniform(0.05, 0.3))),
                     zero_point=int(rng.integers(-20, 20)))]
    else:
        ts = [Tensor("x", (rows, D)), Tensor("w", (U, D), data=rng.standard_normal((U, D)).astype(np.float32)),
              Tensor("b", (U,), data=rng.standard_normal(U).astype(np.float32)), Tensor("y", (rows, U))]
    model = build_model(ts, [Op("FULLY_CONNECTED", [0, 1, 2], [3],
                                ("FullyConnectedOptions", {"FusedActivationFunction": act}), version=4)],
                        [0], [3])
    _check(model, _inputs(rng, (rows, D), dtype), dtype)


def test_fully_connected_without_bias_and_3d_input():
    rng = np.random.default_rng(5)
    W = rng.integers(-127, 128, (6, 4)).astype(np.int8)
    ts = [Tensor("x", (1, 5, 4), "int8", scale=0.07, zero_point=-3),
          Tensor("w", (6, 4), "int8", W, scale=0.01, zero_point=0),
          Tensor("y", (5, 6), "int8", scale=0.1, zero_point=2)]
    model = build_model(ts, [Op("FULLY_CONNECTED", [0, 1, -1], [2], ("FullyConnectedOptions", {}), version=4)],
                        [0], [2])
    _check(model, _inputs(rng, (1, 5, 4), "int8"), "int8")


def _conv_model(rng, dtype, ih, iw, ic, oc, kh, kw, stride, dil, padding, act, depthwise, groups=1):
    from edgert.engine.quant import conv_output_size
    oh = conv_output_size(padding, ih, kh, stride[0], dil[0])
    ow = conv_output_size(padding, iw, kw, stride[1], dil[1])
    fshape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, ic // groups)
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1], "DilationHFactor": dil[0],
            "DilationWFactor": dil[1], "FusedActivationFunction": act}
    if depthwise:
        opts["DepthMultiplier"] = oc // ic
    if dtype == "int8":
        sx, zx = rand_q(rng)
        sw = rng.uniform(0.002, 0.03, oc).astype(np.float32)
        ts = [Tensor("x", (1, ih, iw, ic), "int8", scale=sx, zero_point=zx),
              Tensor("w", fshape, "int8", rng.integers(-127, 128, fshape).astype(np.int8), scale=sw,
                     zero_point=np.zeros(oc, np.int64), quantized_dimension=3 if depthwise else 0),
              Tensor("b", (oc,), "int32", rng.integers(-2000, 2000, oc).astype(np.int32), scale=sx * sw,
                     zero_point=np.zeros(oc, np.int64)),
              Tensor("y", (1, oh, ow, oc), "int8", scale=float(np.float32(rng.uniform(0.05, 0.4))),
                     zero_point=int(rng.integers(-20, 20)))]
    else:
        ts = [Tensor("x", (1, ih, iw, ic)),
              Tensor("w", fshape, data=rng.standard_normal(fshape).astype(np.float32)),
              Tensor("b", (oc,), data=rng.standard_normal(oc).astype(np.float32)),
              Tensor("y", (1, oh, ow, oc))]
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    oname = "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions"
    return build_model(ts, [Op(name, [0, 1, 2], [3], (oname, opts), version=3)], [0], [3])


CONV_CASES = [
    # ih, iw, ic, oc, kh, kw, stride, dil, padding(0 SAME / 1 VALID), act
    (9, 1, 3, 8, 3, 1, (1, 1), (1, 1), 0, 1),    # 1-D conv as Keras Conv1D lowers it
    (8, 7, 2, 4, 3, 3, (2, 2), (1, 1), 0, 0),
    (8, 7, 3, 5, 3, 2, (1, 2), (1, 1), 1, 3),
    (10, 9, 2, 3, 3, 3, (1, 1), (2, 2), 0, 1),
]


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_2d(dtype, case):
    rng = np.random.default_rng(hash(case) % 1000)
    ih, iw, ic, oc, kh, kw, stride, dil, padding, act = case
    model = _conv_model(rng, dtype, ih, iw, ic, oc, kh, kw, stride, dil, padding, act, False)
    _check(model, _inputs(rng, (1, ih, iw, ic), dtype, 32), dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("mult", [1, 2])
def test_depthwise_conv_2d(dtype, case, mult):
    rng = np.random.default_rng(hash(case) % 1000 + mult)
    ih, iw, ic, _, kh, kw, stride, dil, padding, act = case
    model = _conv_model(rng, dtype, ih, iw, ic, ic * mult, kh, kw, stride, dil, padding, act, True)
    _check(model, _inputs(rng, (1, ih, iw, ic), dtype, 32), dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("padding,stride,filt,act", [(0, 2, 3, 0), (1, 1, 2, 1), (0, 1, 3, 3), (1, 3, 3, 0)])
def test_pool(dtype, op, padding, stride, filt, act):
    from edgert.engine.quant import conv_output_size
    rng = np.random.default_rng(stride * 10 + filt + padding)
    ih, iw, c = 9, 8, 3
    oh, ow = (conv_output_size(padding, n, filt, stride, 1) for n in (ih, iw))
    q = rand_q(rng)
    ts = [_qt("x", (1, ih, iw, c), dtype, rng, q=q), _qt("y", (1, oh, ow, c), dtype, rng, q=q)]
    model = build_model(ts, [Op(op, [0], [1], ("Pool2DOptions", {
        "Padding": padding, "StrideH": stride, "StrideW": stride, "FilterHeight": filt,
        "FilterWidth": filt, "FusedActivationFunction": act}))], [0], [1])
    _check(model, _inputs(rng, (1, ih, iw, c), dtype, 32), dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("scale", [0.02, 0.1, 0.58022356, 2.0])
@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax(dtype, scale, beta):
    rng = np.random.default_rng(int(scale * 1000) + int(beta * 10))
    ts = [_qt("x", (2, 10), dtype, rng, q=(scale, int(rng.integers(-30, 30)))),
          _qt("y", (2, 10), dtype, rng, q=(1 / 256, -128))]
    model = build_model(ts, [Op("SOFTMAX", [0], [1], ("SoftmaxOptions", {"Beta": beta}))], [0], [1])
    _check(model, _inputs(rng, (2, 10), dtype, 200), dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("scale", [0.01, 0.05, 0.2])
def test_logistic_tanh(dtype, op, scale):
    rng = np.random.default_rng(int(scale * 100))
    out_q = (1 / 256, -128) if op == "LOGISTIC" else (1 / 128, 0)
    ts = [_qt("x", (1, 256), dtype, rng, q=(scale, int(rng.integers(-20, 20)))),
          _qt("y", (1, 256), dtype, rng, q=out_q)]
    model = build_model(ts, [Op(op, [0], [1], version=2)], [0], [1])
    X = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256) if dtype == "int8" else \
        (rng.standard_normal((8, 1, 256)) * 5).astype(np.float32)
    _check(model, X, dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("op", ["RELU", "RELU6"])
@pytest.mark.parametrize("same_q", [True, False])
def test_relu(dtype, op, same_q):
    rng = np.random.default_rng(3 + same_q)
    q_in = (0.05, -10)
    q_out = q_in if same_q else (0.03, -128)
    ts = [_qt("x", (1, 256), dtype, rng, q=q_in), _qt("y", (1, 256), dtype, rng, q=q_out)]
    model = build_model(ts, [Op(op, [0], [1], version=2)], [0], [1])
    X = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256) if dtype == "int8" else \
        (rng.standard_normal((8, 1, 256)) * 5).astype(np.float32)
    _check(model, X, dtype)


def test_quantize_dequantize_requantize():
    rng = np.random.default_rng(7)
    # float -> int8 -> int8 (requantize) -> float
    ts = [Tensor("x", (1, 64)), Tensor("q", (1, 64), "int8", scale=0.03, zero_point=5),
          Tensor("r", (1, 64), "int8", scale=0.05, zero_point=-7), Tensor("y", (1, 64))]
    model = build_model(ts, [Op("QUANTIZE", [0], [1]), Op("QUANTIZE", [1], [2], version=2),
                             Op("DEQUANTIZE", [2], [3], version=2)], [0], [3])
    m = load_model(model, backend="native")
    X = (rng.standard_normal((50, 64)) * 3).astype(np.float32)
    # ties and saturation; not beyond int32 after /scale: TFLite casts that out of range (undefined
    # behaviour, INT32_MIN on x86), edgert saturates as an ARM core does
    X[0, :8] = [0.015, -0.015, 0.045, -0.045, 100.0, -100.0, 0.0, 3.8]
    got = m.invoke_batch(X)
    ref = MicroOracle(model).invoke_batch(X)[0]
    np.testing.assert_array_equal(got, ref)   # int8 path: exact also in float


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("op", ["ADD", "MUL"])
@pytest.mark.parametrize("shapes", [((1, 4, 5), (1, 4, 5)), ((2, 3, 4), (1, 1, 4)), ((3, 1, 4), (1, 5, 1))])
@pytest.mark.parametrize("act", [0, 1])
def test_add_mul(dtype, op, shapes, act):
    rng = np.random.default_rng(len(op) * 10 + act + shapes[1][1])
    sa, sb = shapes
    so = tuple(max(a, b) for a, b in zip(sa, sb))
    B = rng.integers(-128, 128, sb).astype(np.int8) if dtype == "int8" else \
        rng.standard_normal(sb).astype(np.float32)
    ts = [_qt("a", sa, dtype, rng), _qt("b", sb, dtype, rng, data=B), _qt("y", so, dtype, rng)]
    oname = "AddOptions" if op == "ADD" else "MulOptions"
    model = build_model(ts, [Op(op, [0, 1], [2], (oname, {"FusedActivationFunction": act}), version=2)],
                        [0], [2])
    _check(model, _inputs(rng, sa, dtype), dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("shape,axes,keep", [((1, 6, 5, 3), [1, 2], True), ((1, 12, 8), [1], False),
                                             ((1, 6, 5, 3), [1, 2], False), ((2, 7, 3), [-1], True)])
@pytest.mark.parametrize("same_q", [True, False])
def test_mean(dtype, shape, axes, keep, same_q):
    rng = np.random.default_rng(len(shape) * 10 + len(axes) + keep + same_q)
    rank = len(shape)
    res = [v % rank for v in axes]
    oshape = tuple(1 if i in res else d for i, d in enumerate(shape)) if keep else \
        tuple(d for i, d in enumerate(shape) if i not in res)
    q = rand_q(rng)
    ts = [_qt("x", shape, dtype, rng, q=q), Tensor("axes", (len(axes),), "int32", np.array(axes, np.int32)),
          _qt("y", oshape, dtype, rng, q=q if same_q else None)]
    model = build_model(ts, [Op("MEAN", [0, 1], [2], ("ReducerOptions", {"KeepDims": keep}), version=2)],
                        [0], [2])
    _check(model, _inputs(rng, shape, dtype), dtype)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_shape_ops(dtype):
    """RESHAPE -> PAD -> STRIDED_SLICE -> CONCATENATION -> SQUEEZE -> EXPAND_DIMS chain."""
    rng = np.random.default_rng(11)
    q = rand_q(rng)
    t = lambda name, shape, data=None: _qt(name, shape, dtype, rng, data=data, q=q)  # noqa: E731
    i32 = lambda name, vals: Tensor(name, (len(vals),) if np.ndim(vals) == 1 else np.shape(vals),  # noqa: E731
                                    "int32", np.array(vals, np.int32))
    ts = [t("x", (1, 24)),                                         # 0
          i32("shape", [1, 4, 6]), t("r", (1, 4, 6)),              # 1, 2
          i32("pads", [[0, 0], [1, 2], [2, 0]]), t("p", (1, 7, 8)),  # 3, 4
          i32("begin", [0, 1, 0]), i32("end", [1, 7, 8]), i32("strides", [1, 2, 3]),  # 5, 6, 7
          t("s", (1, 3, 3)),                                        # 8
          t("c", (1, 3, 6)),                                        # 9
          t("sq", (3, 6)),                                          # 10
          i32("axis", [0]), t("e", (1, 3, 6))]                      # 11, 12
    ops = [Op("RESHAPE", [0, 1], [2]), Op("PAD", [2, 3], [4]),
           Op("STRIDED_SLICE", [4, 5, 6, 7], [8], ("StridedSliceOptions", {})),
           Op("CONCATENATION", [8, 8], [9], ("ConcatenationOptions", {"Axis": -1})),
           Op("SQUEEZE", [9], [10], None), Op("EXPAND_DIMS", [10, 11], [12])]
    model = build_model(ts, ops, [0], [12])
    m = _check(model, _inputs(rng, (1, 24), dtype), dtype)
    assert m.outputs[0].shape == (1, 3, 6)


def test_shrink_axis_slice_and_negative_stride():
    rng = np.random.default_rng(12)
    q = (0.1, 0)
    ts = [Tensor("x", (1, 5, 6), "int8", scale=q[0], zero_point=q[1]),
          Tensor("b", (3,), "int32", np.array([0, 4, -1], np.int32)),
          Tensor("e", (3,), "int32", np.array([1, 0, 0], np.int32)),
          Tensor("s", (3,), "int32", np.array([1, -2, -2], np.int32)),
          Tensor("y", (1, 2, 3), "int8", scale=q[0], zero_point=q[1])]
    model = build_model(ts, [Op("STRIDED_SLICE", [0, 1, 2, 3], [4], ("StridedSliceOptions", {}))], [0], [4])
    _check(model, _inputs(rng, (1, 5, 6), "int8"), "int8")
    ts[4] = Tensor("y", (1, 6), "int8", scale=q[0], zero_point=q[1])
    ts[1] = Tensor("b", (3,), "int32", np.array([0, 2, 0], np.int32))
    ts[2] = Tensor("e", (3,), "int32", np.array([1, 3, 6], np.int32))
    ts[3] = Tensor("s", (3,), "int32", np.array([1, 1, 1], np.int32))
    model = build_model(ts, [Op("STRIDED_SLICE", [0, 1, 2, 3], [4],
                                ("StridedSliceOptions", {"ShrinkAxisMask": 2}))], [0], [4])
    _check(model, _inputs(rng, (1, 5, 6), "int8"), "int8")


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_grouped_conv_2d(dtype):
    """groups = in_depth / filter_in_depth = 2 (the generic int8 path: no packed weights)."""
    rng = np.random.default_rng(21)
    model = _conv_model(rng, dtype, 6, 5, 4, 6, 3, 3, (1, 1), (1, 1), 0, 0, False, groups=2)
    try:
        MicroOracle(model).invoke(np.zeros((1, 6, 5, 4), np.int8 if dtype == "int8" else np.float32))
    except RuntimeError as exc:  # pragma: no cover - depends on the oracle's version
        pytest.skip(f"the oracle does not run grouped convolutions: {exc}")
    _check(model, _inputs(rng, (1, 6, 5, 4), dtype, 32), dtype)


@pytest.mark.parametrize("seed", range(24))
def test_random_conv_configurations(seed):
    """Random shapes, strides, dilations, paddings, activations and quantization for CONV_2D
    and DEPTHWISE_CONV_2D, int8 against TFLite Micro (bit-exact) and float32 against litert."""
    from edgert.engine.quant import conv_output_size
    rng = np.random.default_rng(1000 + seed)
    dtype = "int8" if seed % 3 else "float32"
    depthwise = bool(seed % 2)
    ih, iw = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    ic = int(rng.integers(1, 7))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = int(rng.integers(0, 2))
    act = int(rng.choice([0, 1, 2, 3]))
    oc = ic * int(rng.integers(1, 4)) if depthwise else int(rng.integers(1, 10))
    if min(conv_output_size(padding, ih, kh, stride[0], dil[0]), conv_output_size(padding, iw, kw, stride[1], dil[1])) <= 0:
        pytest.skip("no output for this configuration")
    model = _conv_model(rng, dtype, ih, iw, ic, oc, kh, kw, stride, dil, padding, act, depthwise)
    _check(model, _inputs(rng, (1, ih, iw, ic), dtype, 24), dtype)


@pytest.mark.parametrize("seed", range(12))
def test_random_fully_connected_chains(seed):
    """Random int8 dense stacks (depths up to 300: the packed path and its > 512 fallback is
    covered by 600) with random quantization, against TFLite Micro."""
    rng = np.random.default_rng(2000 + seed)
    dims = [int(rng.integers(1, 300))] + [int(rng.integers(1, 40)) for _ in range(int(rng.integers(1, 4)))]
    if seed == 0:
        dims = [600, 7]
    ts, ops = [Tensor("x", (1, dims[0]), "int8", scale=rand_q(rng)[0], zero_point=rand_q(rng)[1])], []
    for li, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        sx = float(ts[-1].scale)
        sw = np.asarray(rng.uniform(0.001, 0.02, d_out if seed % 2 else 1), dtype=np.float32)
        x_idx = len(ts) - 1
        ts.append(Tensor(f"w{li}", (d_out, d_in), "int8", rng.integers(-127, 128, (d_out, d_in)).astype(np.int8),
                         scale=sw, zero_point=np.zeros(sw.size, np.int64)))
        ts.append(Tensor(f"b{li}", (d_out,), "int32", rng.integers(-5000, 5000, d_out).astype(np.int32),
                         scale=sx * sw, zero_point=np.zeros(sw.size, np.int64)))
        ts.append(Tensor(f"y{li}", (1, d_out), "int8", scale=float(np.float32(rng.uniform(0.02, 0.5))),
                         zero_point=int(rng.integers(-40, 40))))
        ops.append(Op("FULLY_CONNECTED", [x_idx, len(ts) - 3, len(ts) - 2], [len(ts) - 1],
                      ("FullyConnectedOptions", {"FusedActivationFunction": int(rng.choice([0, 1, 3]))}),
                      version=4))
    model = build_model(ts, ops, [0], [len(ts) - 1])
    _check(model, _inputs(rng, (1, dims[0]), "int8", 48), "int8")


def test_quantize_non_finite_inputs_saturate_like_an_arm_core():
    """float -> int8 QUANTIZE of inf / huge / NaN: C leaves the cast undefined (x86 gives
    INT32_MIN, which TFLite Micro then wraps); edgert saturates as the Cortex-M VCVT the SDK
    runs on: +-inf and huge values clamp to 127 / -128, NaN converts to 0, i.e. the zero point."""
    ts = [Tensor("x", (1, 6)), Tensor("q", (1, 6), "int8", scale=0.03, zero_point=5)]
    m = load_model(build_model(ts, [Op("QUANTIZE", [0], [1])], [0], [1]), backend="native")
    x = np.array([[np.inf, -np.inf, 3e38, -3e38, np.nan, -np.nan]], np.float32)
    np.testing.assert_array_equal(m.invoke(x), [[127, -128, 127, -128, 5, 5]])
