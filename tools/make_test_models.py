#!/usr/bin/env python3
"""Build the small .tflite test fixtures of the native engine (tests/data/models/).

Why: the native TFLite engine (edgert.engine) is checked op by op against tflite-micro and
ai-edge-litert on real converter output. These fixtures are small networks trained (or built)
on synthetic data with fixed seeds and converted by TensorFlow's TFLite converter the way Edge
Impulse does it (float32, and full-int8 with a representative dataset and int8 input/output),
so that together they contain every operator the engine implements in both types.

Run it with the TensorFlow venv (never the system Python: TensorFlow pins numpy/protobuf):

    python3 -m venv /work/venv-tf
    /work/venv-tf/bin/pip install -r tools/requirements-models.txt
    /work/venv-tf/bin/python tools/make_test_models.py [--out tests/data/models]

It writes the .tflite files, ``manifest.json`` (TF version, sha256, size and per-op types of
each file) and the generated section of ``README.md`` (between the GENERATED markers).
Regeneration is deterministic on one machine (seeds, single-threaded, deterministic ops);
another CPU or TF build may give different weights, so the committed files are the fixtures
and this script is their provenance.

Fixtures (tests/data/models/README.md has the generated per-file operator table):
  dense_ei_*     Edge Impulse's default dense classifier: 33 -> Dense 20 relu -> Dense 10 relu
                 -> Dense 4 softmax (FULLY_CONNECTED, SOFTMAX).
  dense_fio_i8   the same with float32 input/output (QUANTIZE/DEQUANTIZE around int8).
  conv1d_ei_*    Edge Impulse's 1-D conv classifier for MFE/MFCC-like features: 130 inputs
                 (10 frames x 13) -> Reshape (10, 13) -> Conv1D 8 k3 relu -> MaxPool1D 2 ->
                 Conv1D 16 k3 relu -> MaxPool1D 2 -> Flatten -> Dropout -> Dense 4 softmax
                 (RESHAPE, CONV_2D, MAX_POOL_2D, FULLY_CONNECTED, SOFTMAX at batch 1).
  conv2d_pc_*    a small image net: Conv2D + DepthwiseConv2D + residual ADD + AveragePooling2D
                 + strided VALID Conv2D relu6 + PAD + depthwise multiplier 2 + MaxPool2D +
                 global average pooling (MEAN) + Dense softmax; int8 conv weights per-channel.
  gmm_f32        a float diagonal-GMM-style scorer: ADD, MUL, CONCATENATION, FULLY_CONNECTED,
                 PAD, STRIDED_SLICE, TANH, LOGISTIC, MEAN.
  ops_mix_*      the remaining operators: STRIDED_SLICE, MUL, TANH, LOGISTIC, CONCATENATION,
                 standalone RELU / RELU6, EXPAND_DIMS, PAD, MAX_POOL_2D, broadcast ADD, MEAN.
  ops_mix_fio_i8 the same graph with float32 input/output.
  softmax_*      a lone SOFTMAX over 10 logits (the Micro/desktop int8 SOFTMAX question).
  squeeze_*      SQUEEZE + RELU, hand-built with FlatModel (the converter turns every static
                 SQUEEZE into RESHAPE).
  op_*_{i8,f32}  one operator each, in int8 and float32 (FC, 3-D FC, CONV_2D SAME / dilated /
                 VALID strided, DEPTHWISE_CONV_2D VALID / dilated, pools SAME / VALID, ADD of a
                 constant / of two tensors, MUL plain / broadcast, LOGISTIC, TANH, MEAN two
                 ways, PAD, STRIDED_SLICE with negative strides, CONCATENATION on two axes,
                 wide SOFTMAX): they say which kernel is wrong when a mixed model disagrees.
  op_fc_pc_i8    FULLY_CONNECTED with per-channel int8 weights, hand-built (TF 2.15 writes
                 per-tensor dense weights only).
  unsupported/sub_f32  SUB (not an engine operator): for the unsupported-operator paths.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SEED = 20261122
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "data", "models")

layers = tf.keras.layers


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)


def setup_determinism() -> None:
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()


# ----------------------------------------------------------------------------- data ----


def blobs(n: int, dim: int, classes: int, seed: int, spread: float = 1.0, scale: float = 3.0):
    """Gaussian class clusters in `dim` features (like spectral features): (X float32, y)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, scale, size=(classes, dim))
    y = rng.integers(0, classes, size=n)
    X = centers[y] + rng.normal(0.0, spread, size=(n, dim))
    return X.astype(np.float32), y.astype(np.int32)


def images(n: int, hw: int, ch: int, classes: int, seed: int):
    """Synthetic images: class-specific oriented stripes plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    yy, xx = np.mgrid[0:hw, 0:hw]
    X = np.empty((n, hw, hw, ch), np.float32)
    for i in range(n):
        ang = np.pi * y[i] / classes
        freq = 0.6 + 0.2 * y[i]
        base = np.sin(freq * (np.cos(ang) * xx + np.sin(ang) * yy) + rng.uniform(0, 6.28))
        for c in range(ch):
            X[i, :, :, c] = base * (1.0 + 0.3 * c) + rng.normal(0, 0.3, size=(hw, hw))
    return X, y.astype(np.int32)


def train(model, X, y, epochs: int) -> None:
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.005),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    loss, acc = model.evaluate(X, y, verbose=0)
    print(f"  trained {model.name}: loss {loss:.3f} acc {acc:.3f}", file=sys.stderr)


# --------------------------------------------------------------------------- models ----


def dense_ei():
    """Edge Impulse's default classifier (expert-mode code of a new project)."""
    seed_everything(SEED + 1)
    X, y = blobs(1200, 33, 4, seed=SEED + 1, spread=1.5)
    model = tf.keras.Sequential(name="dense_ei")
    model.add(layers.InputLayer(input_shape=(33,)))
    model.add(layers.Dense(20, activation="relu",
                           activity_regularizer=tf.keras.regularizers.l1(0.00001)))
    model.add(layers.Dense(10, activation="relu",
                           activity_regularizer=tf.keras.regularizers.l1(0.00001)))
    model.add(layers.Dense(4, activation="softmax", name="y_pred"))
    train(model, X, y, epochs=15)
    return model, X


def conv1d_ei():
    """Edge Impulse's 1-D conv classifier for audio features (columns = 13 coefficients)."""
    seed_everything(SEED + 2)
    frames, cols, classes = 10, 13, 4
    X, y = blobs(1200, frames * cols, classes, seed=SEED + 2, spread=2.0, scale=2.0)
    model = tf.keras.Sequential(name="conv1d_ei")
    model.add(layers.Reshape((frames, cols), input_shape=(frames * cols,)))
    model.add(layers.Conv1D(8, kernel_size=3, activation="relu", padding="same"))
    model.add(layers.MaxPooling1D(pool_size=2, strides=2, padding="same"))
    model.add(layers.Conv1D(16, kernel_size=3, activation="relu", padding="same"))
    model.add(layers.MaxPooling1D(pool_size=2, strides=2, padding="same"))
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.25))
    model.add(layers.Dense(classes, activation="softmax", name="y_pred"))
    train(model, X, y, epochs=12)
    return model, X


def conv2d_pc():
    """Conv2D / DepthwiseConv2D / residual ADD / pools / MEAN; per-channel int8 weights."""
    seed_everything(SEED + 3)
    X, y = images(800, 12, 2, 3, seed=SEED + 3)
    inp = layers.Input((12, 12, 2))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)            # 12x12x8
    r = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)        # 12x12x8
    x = layers.Add()([x, r])
    x = layers.AveragePooling2D(2)(x)                                          # 6x6x8
    x = layers.Conv2D(12, 3, strides=2, padding="valid", activation="relu6")(x)  # 2x2x12
    x = layers.ZeroPadding2D(((1, 1), (1, 1)))(x)                              # 4x4x12 (PAD)
    x = layers.DepthwiseConv2D(2, depth_multiplier=2, padding="valid",
                               activation="relu")(x)                           # 3x3x24
    x = layers.MaxPooling2D(2, strides=1, padding="same")(x)                   # 3x3x24
    x = layers.AveragePooling2D(2, strides=1, padding="same")(x)               # 3x3x24
    x = layers.GlobalAveragePooling2D()(x)                                     # MEAN -> 24
    out = layers.Dense(3, activation="softmax", name="y_pred")(x)
    model = tf.keras.Model(inp, out, name="conv2d_pc")
    train(model, X, y, epochs=8)
    return model, X


class GmmScorer(tf.Module):
    """A diagonal Gaussian-mixture scorer written with the engine's float ops only.

    log N(x; mu_k, var_k) = sum_d [-0.5 x_d^2 / var_kd + x_d mu_kd / var_kd] + c_k, i.e. one
    FULLY_CONNECTED over concat(x, x*x). The scores are then squashed (TANH, LOGISTIC),
    padded/sliced and averaged so that PAD, STRIDED_SLICE and MEAN appear too.
    """

    def __init__(self, dim: int, k: int, seed: int):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.dim, self.k = dim, k
        mu = rng.normal(0, 2, size=(k, dim))
        var = rng.uniform(0.5, 2.0, size=(k, dim))
        w = np.concatenate([mu / var, -0.5 / var], axis=1).T  # (2D, K)
        c = -0.5 * np.sum(mu * mu / var + np.log(2 * np.pi * var), axis=1)
        self.center = tf.constant(-mu.mean(axis=0, keepdims=True).astype(np.float32))
        self.w = tf.constant(w.astype(np.float32))
        self.c = tf.constant(c.astype(np.float32))
        self.gain = tf.constant(np.full((1, k), 0.05, np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 6], tf.float32)])
    def __call__(self, x):
        xc = x + self.center                                   # ADD (centre the features)
        feats = tf.concat([xc, xc * xc], axis=1)               # MUL, CONCATENATION
        ll = tf.matmul(feats, self.w) + self.c                 # FULLY_CONNECTED (+bias)
        squashed = tf.tanh(ll * self.gain)                     # MUL, TANH
        padded = tf.pad(squashed, [[0, 0], [1, 2]])            # PAD
        mid = padded[:, 1:1 + self.k]                          # STRIDED_SLICE
        p = tf.sigmoid(mid * 4.0)                              # MUL, LOGISTIC
        avg = tf.reduce_mean(p, axis=1, keepdims=True)         # MEAN
        return tf.concat([p, avg], axis=1)                     # (1, K + 1)


def gmm():
    seed_everything(SEED + 4)
    mod = GmmScorer(6, 4, seed=SEED + 4)
    rng = np.random.default_rng(SEED + 4)
    X = rng.normal(0, 2, size=(200, 6)).astype(np.float32)
    return mod, X


class OpsMix(tf.Module):
    """Vector graph exercising STRIDED_SLICE, MUL, TANH, LOGISTIC, CONCATENATION, RELU, RELU6,
    PAD, SQUEEZE, EXPAND_DIMS, MAX_POOL_2D, broadcast ADD and MEAN (no training: random
    weights with fixed seeds)."""

    def __init__(self, seed: int):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w1 = tf.constant(rng.normal(0, 0.4, size=(24, 16)).astype(np.float32))
        self.b1 = tf.constant(rng.normal(0, 0.1, size=(16,)).astype(np.float32))
        self.w2 = tf.constant(rng.normal(0, 0.3, size=(15, 5)).astype(np.float32))
        self.b2 = tf.constant(rng.normal(0, 0.1, size=(5,)).astype(np.float32))
        self.rowbias = tf.constant(rng.normal(0, 0.5, size=(1, 1, 5, 1)).astype(np.float32))

    # Dynamic batch (None) so that the converter keeps SQUEEZE and EXPAND_DIMS (with a static
    # shape it rewrites both into RESHAPE); the .tflite input shape is still [1, 24].
    @tf.function(input_signature=[tf.TensorSpec([None, 24], tf.float32)])
    def __call__(self, x):
        a = x[:, 4:20]                                         # STRIDED_SLICE (16)
        b = tf.matmul(x, self.w1) + self.b1                    # FULLY_CONNECTED
        c = a * b                                              # MUL
        d = tf.concat([tf.tanh(c), tf.sigmoid(b)], axis=1)     # TANH, LOGISTIC, CONCATENATION
        e = tf.nn.relu6(d)                                     # RELU6 (not fusable)
        f = tf.nn.relu(x[:, 0:8])                              # RELU on a slice (standalone)
        g = tf.concat([e, f], axis=1)                          # (1, 40)
        h = tf.reshape(g, [-1, 4, 10])
        h = tf.expand_dims(h, 3)                               # EXPAND_DIMS (1,4,10,1)
        h = tf.pad(h, [[0, 0], [1, 1], [0, 0], [0, 0]])        # PAD (1,6,10,1)
        h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")  # MAX_POOL_2D (1,3,5,1)
        h = h + self.rowbias                                   # ADD (broadcast)
        m = tf.reduce_mean(h, axis=1, keepdims=True)           # MEAN (1,1,5,1)
        s = tf.squeeze(m, axis=[1, 3])                         # SQUEEZE (1,5)
        flat = tf.reshape(h, [-1, 15])
        out = tf.matmul(flat, self.w2) + self.b2 + s           # FULLY_CONNECTED, ADD
        return tf.tanh(out)                                    # TANH


def ops_mix():
    seed_everything(SEED + 5)
    mod = OpsMix(seed=SEED + 5)
    rng = np.random.default_rng(SEED + 5)
    X = rng.normal(0, 1.5, size=(300, 24)).astype(np.float32)
    return mod, X


class SoftmaxOnly(tf.Module):
    """A lone SOFTMAX over 10 logits: isolates the one int8 kernel in which TFLite Micro
    (gemmlowp fixed-point exp) and desktop TFLite (float table) disagree by design."""

    @tf.function(input_signature=[tf.TensorSpec([1, 10], tf.float32)])
    def __call__(self, x):
        return tf.nn.softmax(x)


def softmax_only():
    rng = np.random.default_rng(SEED + 6)
    X = (rng.normal(0, 6.0, size=(300, 10))).astype(np.float32)
    return SoftmaxOnly(), X


class SingleOp(tf.Module):
    """One int8 operator (plus what the converter needs around it): when a mixed model
    disagrees with the oracle, these say which kernel is wrong."""

    def __init__(self, shape, fn):
        super().__init__()
        self.fn = fn
        self.__call__ = tf.function(lambda x: fn(x),
                                    input_signature=[tf.TensorSpec(shape, tf.float32)])


def single_ops():
    """(name, module, representative data) of the one-operator int8 fixtures."""
    rng = np.random.default_rng(SEED + 7)

    def w(*shape, s=0.5):
        return tf.constant(rng.normal(0, s, size=shape).astype(np.float32))

    fc_w, fc_b = w(20, 12), w(12, s=0.2)
    conv_w, conv_b = w(3, 3, 3, 5), w(5, s=0.2)
    dw_w, dw_b = w(3, 3, 3, 2), w(6, s=0.2)
    add_c = w(1, 1, 6, 3)
    mul_c = w(1, 20, s=1.0)
    conv_w2 = w(3, 3, 2, 5)
    conv_w3 = w(3, 2, 2, 5)
    mul_c3 = w(1, 1, 1, 3, s=1.0)
    specs = [
        ("op_fc_i8", [1, 20], lambda x: tf.nn.relu(tf.matmul(x, fc_w) + fc_b)),
        ("op_conv_i8", [1, 7, 6, 3],
         lambda x: tf.nn.conv2d(x, conv_w, strides=[1, 2, 1, 1], padding="SAME") + conv_b),
        ("op_dwconv_i8", [1, 7, 6, 3],
         lambda x: tf.nn.depthwise_conv2d(x, dw_w, strides=[1, 1, 1, 1], padding="VALID") + dw_b),
        ("op_avgpool_i8", [1, 7, 6, 3],
         lambda x: tf.nn.avg_pool2d(x, ksize=3, strides=2, padding="SAME")),
        ("op_maxpool_i8", [1, 7, 6, 3],
         lambda x: tf.nn.max_pool2d(x, ksize=2, strides=2, padding="SAME")),
        ("op_add_i8", [1, 4, 6, 3], lambda x: x + add_c),
        ("op_mul_i8", [1, 20], lambda x: x * mul_c),
        ("op_logistic_i8", [1, 20], lambda x: tf.sigmoid(x)),
        ("op_tanh_i8", [1, 20], lambda x: tf.tanh(x)),
        ("op_mean_i8", [1, 4, 6, 3], lambda x: tf.reduce_mean(x, axis=[1, 2])),
        ("op_concat_i8", [1, 20], lambda x: tf.concat([x[:, :8], tf.tanh(x[:, 8:])], axis=1)),
        # options and layouts the first set leaves out
        ("op_conv_dil_i8", [1, 9, 8, 2],
         lambda x: tf.nn.relu(tf.nn.conv2d(x, conv_w2, strides=1, padding="SAME",
                                           dilations=2) + conv_b)),
        ("op_dwconv_dil_i8", [1, 9, 8, 3],
         lambda x: tf.nn.depthwise_conv2d(x, dw_w, strides=[1, 1, 1, 1], padding="SAME",
                                          dilations=[2, 2]) + dw_b),
        ("op_conv_valid_i8", [1, 9, 8, 2],
         lambda x: tf.nn.relu6(tf.nn.conv2d(x, conv_w3, strides=[1, 2, 3, 1],
                                            padding="VALID") + conv_b)),
        ("op_slice_i8", [1, 6, 20],
         lambda x: tf.concat([x[:, 1:-1:2, 3:18:3], x[:, -2:, ::-4]], axis=1)),
        ("op_fc3d_i8", [1, 4, 20], lambda x: tf.matmul(x, fc_w) + fc_b),
        ("op_add2_i8", [1, 20], lambda x: tf.nn.relu(x[:, :10] + x[:, 10:] * 0.5)),
        ("op_mul_bcast_i8", [1, 4, 6, 3], lambda x: x * mul_c3 * x[:, :1, :, :]),
        ("op_mean_axis_i8", [1, 4, 6, 3], lambda x: tf.reduce_mean(x, axis=-1)),
        ("op_avgpool_valid_i8", [1, 7, 6, 3],
         lambda x: tf.nn.avg_pool2d(x, ksize=[2, 3], strides=[1, 2], padding="VALID")),
        ("op_pad_i8", [1, 4, 6, 3], lambda x: tf.pad(x, [[0, 0], [2, 0], [1, 3], [0, 1]])),
        ("op_concat_axis_i8", [1, 4, 6, 3],
         lambda x: tf.concat([x, tf.sigmoid(x[:, :2])], axis=1)),
        ("op_softmax_wide_i8", [1, 3, 40], lambda x: tf.nn.softmax(x * 3.0)),
    ]
    out = []
    for name, shape, fn in specs:
        X = rng.normal(0, 2.0, size=[300] + shape[1:]).astype(np.float32)
        out.append((name, SingleOp(shape, fn), X))
    return out


class SubOnly(tf.Module):
    """x - c then relu: SUB is not an operator of the native engine (tests of the
    UnsupportedOperatorError and of backend="auto" falling back to the interpreter)."""

    def __init__(self):
        super().__init__()
        self.c = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32)[None])

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def __call__(self, x):
        return tf.nn.relu(x - self.c)


class FlatModel:
    """A minimal one-subgraph TFLite flatbuffer writer on the builders of the `tflite` schema
    package, for the fixtures TF's converter cannot produce. Declare tensors and operators,
    then :meth:`finish` serializes everything children-first as flatbuffers require."""

    def __init__(self):
        self.tensors: list = []   # (name, shape, type, buffer index, quant or None)
        self.buffers: list = [b""]
        self.ops: list = []       # (opcode index, inputs, outputs, options type, options fn)
        self.codes: list = []     # builtin operator codes

    def tensor(self, name, shape, ttype, data=None, scale=None, zero_point=None, qdim=0) -> int:
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).tobytes())
            buf = len(self.buffers) - 1
        quant = None
        if scale is not None:
            quant = (np.atleast_1d(np.asarray(scale, np.float32)),
                     np.atleast_1d(np.asarray(zero_point, np.int64)), qdim)
        self.tensors.append((name, list(shape), ttype, buf, quant))
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, options_type=0, options=None) -> None:
        if code not in self.codes:
            self.codes.append(code)
        self.ops.append((self.codes.index(code), list(inputs), list(outputs), options_type,
                         options))

    def finish(self, inputs, outputs, description: str) -> bytes:
        import flatbuffers
        import tflite as T

        b = flatbuffers.Builder(4096)

        def ivec(start, vals):
            start(b, len(vals))
            for v in reversed(vals):
                b.PrependInt32(int(v))
            return b.EndVector()

        def table_vec(start, items):
            start(b, len(items))
            for it in reversed(items):
                b.PrependUOffsetTRelative(it)
            return b.EndVector()

        buffers = []
        for data in self.buffers:
            vec = None
            if data:
                b.StartVector(1, len(data), 16)
                b.head = b.head - len(data)
                b.Bytes[b.head:b.head + len(data)] = data
                vec = b.EndVector()
            T.BufferStart(b)
            if vec is not None:
                T.BufferAddData(b, vec)
            buffers.append(T.BufferEnd(b))
        tensors = []
        for name, shape, ttype, buf, quant in self.tensors:
            nm = b.CreateString(name)
            sh = ivec(T.TensorStartShapeVector, shape)
            q = None
            if quant is not None:
                scales, zps, qdim = quant
                T.QuantizationParametersStartScaleVector(b, len(scales))
                for v in reversed(scales):
                    b.PrependFloat32(float(v))
                sc = b.EndVector()
                T.QuantizationParametersStartZeroPointVector(b, len(zps))
                for v in reversed(zps):
                    b.PrependInt64(int(v))
                zp = b.EndVector()
                T.QuantizationParametersStart(b)
                T.QuantizationParametersAddScale(b, sc)
                T.QuantizationParametersAddZeroPoint(b, zp)
                T.QuantizationParametersAddQuantizedDimension(b, qdim)
                q = T.QuantizationParametersEnd(b)
            T.TensorStart(b)
            T.TensorAddShape(b, sh)
            T.TensorAddType(b, ttype)
            T.TensorAddBuffer(b, buf)
            T.TensorAddName(b, nm)
            if q is not None:
                T.TensorAddQuantization(b, q)
            tensors.append(T.TensorEnd(b))
        ops = []
        for opcode, ins, outs, opt_type, opt_fn in self.ops:
            opts = opt_fn(b) if opt_fn is not None else None
            iv = ivec(T.OperatorStartInputsVector, ins)
            ov = ivec(T.OperatorStartOutputsVector, outs)
            T.OperatorStart(b)
            T.OperatorAddOpcodeIndex(b, opcode)
            T.OperatorAddInputs(b, iv)
            T.OperatorAddOutputs(b, ov)
            if opts is not None:
                T.OperatorAddBuiltinOptionsType(b, opt_type)
                T.OperatorAddBuiltinOptions(b, opts)
            ops.append(T.OperatorEnd(b))
        tv = table_vec(T.SubGraphStartTensorsVector, tensors)
        opv = table_vec(T.SubGraphStartOperatorsVector, ops)
        inv = ivec(T.SubGraphStartInputsVector, inputs)
        outv = ivec(T.SubGraphStartOutputsVector, outputs)
        sgname = b.CreateString("main")
        T.SubGraphStart(b)
        T.SubGraphAddTensors(b, tv)
        T.SubGraphAddOperators(b, opv)
        T.SubGraphAddInputs(b, inv)
        T.SubGraphAddOutputs(b, outv)
        T.SubGraphAddName(b, sgname)
        sg = T.SubGraphEnd(b)
        codes = []
        for code in self.codes:
            T.OperatorCodeStart(b)
            T.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            T.OperatorCodeAddBuiltinCode(b, code)
            T.OperatorCodeAddVersion(b, 1)
            codes.append(T.OperatorCodeEnd(b))
        cv = table_vec(T.ModelStartOperatorCodesVector, codes)
        sgv = table_vec(T.ModelStartSubgraphsVector, [sg])
        bv = table_vec(T.ModelStartBuffersVector, buffers)
        desc = b.CreateString(description)
        T.ModelStart(b)
        T.ModelAddVersion(b, 3)
        T.ModelAddOperatorCodes(b, cv)
        T.ModelAddSubgraphs(b, sgv)
        T.ModelAddDescription(b, desc)
        T.ModelAddBuffers(b, bv)
        b.Finish(T.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def squeeze_model(int8: bool) -> bytes:
    """SQUEEZE fixture, hand-built: TF's converter rewrites every SQUEEZE with static shapes
    into RESHAPE (it keeps SQUEEZE only with two or more unknown dimensions), so no converted
    model contains one.

    x (1, 1, 8, 1) -> SQUEEZE(squeeze_dims=[1, 3]) -> (1, 8) -> RELU -> y (1, 8). int8: one
    quantization (scale 0.05, zero point 3) for all three tensors, as the converter gives
    shape-only ops.
    """
    import tflite as T

    fm = FlatModel()
    ttype = T.TensorType.INT8 if int8 else T.TensorType.FLOAT32
    q = dict(scale=0.05, zero_point=3) if int8 else {}
    x = fm.tensor("x", [1, 1, 8, 1], ttype, **q)
    sq = fm.tensor("squeezed", [1, 8], ttype, **q)
    y = fm.tensor("y", [1, 8], ttype, **q)

    def squeeze_opts(b):
        T.SqueezeOptionsStartSqueezeDimsVector(b, 2)
        for v in (3, 1):
            b.PrependInt32(v)
        dims = b.EndVector()
        T.SqueezeOptionsStart(b)
        T.SqueezeOptionsAddSqueezeDims(b, dims)
        return T.SqueezeOptionsEnd(b)

    fm.op(T.BuiltinOperator.SQUEEZE, [x], [sq], T.BuiltinOptions.SqueezeOptions, squeeze_opts)
    fm.op(T.BuiltinOperator.RELU, [sq], [y])
    return fm.finish([x], [y], "edgert SQUEEZE fixture (hand-built)")


def fc_per_channel_model() -> bytes:
    """int8 FULLY_CONNECTED with per-channel weight scales (one per output row), hand-built:
    TF 2.15's converter only writes per-tensor dense weights, newer converters and other
    toolchains write per-channel ones, and the requantization differs (the multiplier of each
    row is s_in * s_w[o] / s_out in double).

    x (1, 24) int8 (scale 0.05, zp -3) -> FC 7 outputs, weights (7, 24) int8 zp 0 with scales
    spread over a decade, int32 bias (scale s_in * s_w[o]) -> y (1, 7) (scale 0.09, zp 4), no
    fused activation.
    """
    import tflite as T

    rng = np.random.default_rng(SEED + 8)
    fm = FlatModel()
    s_in, zp_in, s_out, zp_out = 0.05, -3, 0.09, 4
    w_scales = np.geomspace(0.002, 0.02, 7).astype(np.float32)
    w = rng.integers(-127, 128, size=(7, 24)).astype(np.int8)
    bias = rng.integers(-4000, 4000, size=7).astype(np.int32)
    x = fm.tensor("x", [1, 24], T.TensorType.INT8, scale=s_in, zero_point=zp_in)
    wt = fm.tensor("w", [7, 24], T.TensorType.INT8, data=w, scale=w_scales,
                   zero_point=np.zeros(7, np.int64), qdim=0)
    bt = fm.tensor("b", [7], T.TensorType.INT32, data=bias,
                   scale=(np.float32(s_in) * w_scales).astype(np.float32),
                   zero_point=np.zeros(7, np.int64), qdim=0)
    y = fm.tensor("y", [1, 7], T.TensorType.INT8, scale=s_out, zero_point=zp_out)

    def fc_opts(b):
        T.FullyConnectedOptionsStart(b)
        T.FullyConnectedOptionsAddFusedActivationFunction(b, T.ActivationFunctionType.NONE)
        return T.FullyConnectedOptionsEnd(b)

    fm.op(T.BuiltinOperator.FULLY_CONNECTED, [x, wt, bt], [y],
          T.BuiltinOptions.FullyConnectedOptions, fc_opts)
    return fm.finish([x], [y], "edgert per-channel FULLY_CONNECTED fixture (hand-built)")


# ----------------------------------------------------------------------- conversion ----


def _converter(obj):
    if isinstance(obj, tf.keras.Model):
        # A fixed batch of 1 (as deployed): with Keras' dynamic batch the Reshape layer would
        # compute its target shape at run time (SHAPE/STRIDED_SLICE/PACK ops).
        spec = tf.TensorSpec((1,) + tuple(obj.input_shape[1:]), tf.float32)
        fn = tf.function(lambda x: obj(x, training=False), input_signature=[spec])
        return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], obj)
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [obj.__call__.get_concrete_function()], obj)


def to_float(obj) -> bytes:
    return _converter(obj).convert()


def to_int8(obj, rep: np.ndarray, int8_io: bool = True) -> bytes:
    """Full-integer quantization the way Edge Impulse converts (representative dataset drawn
    from the training set, int8 builtins only, int8 input and output tensors)."""
    conv = _converter(obj)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rep = rep[:300]

    def representative():
        for i in range(len(rep)):
            yield [rep[i:i + 1].astype(np.float32)]

    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


# ------------------------------------------------------------------------ manifest ----


def describe(buf: bytes) -> dict:
    """Ops (with the type of their first input and output) and I/O of a flatbuffer."""
    import tflite

    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    op_name = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    ty_name = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = m.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        tin = ty_name[sg.Tensors(op.Inputs(0)).Type()].lower()
        tout = ty_name[sg.Tensors(op.Outputs(0)).Type()].lower()
        ops.append({"op": op_name[code], "version": oc.Version(), "in": tin, "out": tout})

    def io(idx):
        t = sg.Tensors(idx)
        q = t.Quantization()
        scale = float(q.Scale(0)) if q is not None and q.ScaleLength() else None
        zp = int(q.ZeroPoint(0)) if q is not None and q.ZeroPointLength() else None
        return {"shape": t.ShapeAsNumpy().tolist(), "type": ty_name[t.Type()].lower(),
                "scale": scale, "zero_point": zp}

    return {
        "inputs": [io(sg.Inputs(i)) for i in range(sg.InputsLength())],
        "outputs": [io(sg.Outputs(i)) for i in range(sg.OutputsLength())],
        "ops": ops,
    }


def compact_json(obj) -> str:
    """Indented JSON with each operator / tensor record and number list on one line."""
    import re

    text = json.dumps(obj, indent=1)
    text = re.sub(r"\[([\s\d,.eE+-]+)\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    return re.sub(r"\{\s+(\"(?:op|shape)\": [^{}]+?)\s+\}",
                  lambda m: "{" + " ".join(m.group(1).split()) + "}", text)


def write_readme_section(out_dir: str, manifest: dict) -> None:
    path = os.path.join(out_dir, "README.md")
    begin, end = "<!-- GENERATED BEGIN -->", "<!-- GENERATED END -->"
    lines = [begin, "",
             f"Generated by `tools/make_test_models.py` with TensorFlow "
             f"{manifest['tensorflow']} (seed {manifest['seed']}).", "",
             "| file | bytes | input | output | operators (type of first input) |",
             "| --- | ---: | --- | --- | --- |"]
    for name, d in manifest["files"].items():
        seen = []
        for o in d["ops"]:
            label = o["op"] if o["in"] == o["out"] else f"{o['op']} {o['in']}->{o['out']}"
            label = f"{label} ({o['in']})" if o["in"] == o["out"] else label
            if label not in seen:
                seen.append(label)
        i, o = d["inputs"][0], d["outputs"][0]
        lines.append(f"| `{name}` | {d['bytes']} | {i['type']} {i['shape']} | "
                     f"{o['type']} {o['shape']} | {', '.join(seen)} |")
    lines += ["", end]
    text = open(path).read() if os.path.exists(path) else f"# Test models\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    pre, rest = text.split(begin, 1)
    post = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(pre + "\n".join(lines) + post)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    setup_determinism()
    os.makedirs(args.out, exist_ok=True)

    outputs: dict[str, bytes] = {}
    model, X = dense_ei()
    outputs["dense_ei_f32.tflite"] = to_float(model)
    outputs["dense_ei_i8.tflite"] = to_int8(model, X)
    outputs["dense_fio_i8.tflite"] = to_int8(model, X, int8_io=False)
    model, X = conv1d_ei()
    outputs["conv1d_ei_f32.tflite"] = to_float(model)
    outputs["conv1d_ei_i8.tflite"] = to_int8(model, X)
    model, X = conv2d_pc()
    outputs["conv2d_pc_f32.tflite"] = to_float(model)
    outputs["conv2d_pc_i8.tflite"] = to_int8(model, X)
    mod, X = gmm()
    outputs["gmm_f32.tflite"] = to_float(mod)
    mod, X = ops_mix()
    outputs["ops_mix_f32.tflite"] = to_float(mod)
    outputs["ops_mix_i8.tflite"] = to_int8(mod, X)
    outputs["ops_mix_fio_i8.tflite"] = to_int8(mod, X, int8_io=False)
    mod, X = softmax_only()
    outputs["softmax_f32.tflite"] = to_float(mod)
    outputs["softmax_i8.tflite"] = to_int8(mod, X)
    outputs["squeeze_f32.tflite"] = squeeze_model(int8=False)
    outputs["squeeze_i8.tflite"] = squeeze_model(int8=True)
    outputs["op_fc_pc_i8.tflite"] = fc_per_channel_model()

    for name, mod, X in single_ops():
        outputs[f"{name}.tflite"] = to_int8(mod, X)
        outputs[f"{name[:-3]}_f32.tflite"] = to_float(mod)
    os.makedirs(os.path.join(args.out, "unsupported"), exist_ok=True)
    outputs["unsupported/sub_f32.tflite"] = to_float(SubOnly())

    manifest = {"tensorflow": tf.__version__, "seed": SEED, "files": {}}
    for name, buf in outputs.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(buf)
        d = describe(buf)
        manifest["files"][name] = {"bytes": len(buf),
                                   "sha256": hashlib.sha256(buf).hexdigest(), **d}
        print(f"{name:24s} {len(buf):6d} B  "
              + " ".join(sorted({o['op'] for o in d['ops']})), file=sys.stderr)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        f.write(compact_json(manifest) + "\n")
    write_readme_section(args.out, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
