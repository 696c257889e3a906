"""The motion-demo int8 classifier (33 -> 21 -> 14 -> 4 + SOFTMAX) on the native engine:
bit-exact with Edge Impulse's SDK on its 30 reference windows and with TFLite Micro on
thousands of random inputs; batched == single invoke; several threads at once."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from edgert.engine import dequantize, load_model, quantize

from .oracles import MicroOracle

DATA = Path(__file__).parent / "data" / "engine"
MODEL = DATA / "motion-demo-nn-i8.tflite"


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL, backend="native")


@pytest.fixture(scope="module")
def sdk():
    return json.loads((DATA / "motion-demo-sdk-nn-io.json").read_text())["windows"]


def test_model_description(model):
    assert model.backend == "native"
    (i,), (o,) = model.inputs, model.outputs
    assert (i.shape, i.dtype, o.shape, o.dtype) == ((1, 33), np.int8, (1, 4), np.int8)
    assert i.zero_point == -114 and i.scale == pytest.approx(0.43860453)
    assert (o.scale, o.zero_point) == (1 / 256, -128)
    # 33 + 21 + 14 + 4 + 4 bytes of activations; lifetimes let them share a 80-byte arena
    assert model.arena_bytes == 80


def test_sdk_quantization_and_outputs(model, sdk):
    i, o = model.inputs[0], model.outputs[0]
    feats = np.array([w["features"] for w in sdk], dtype=np.float32)
    q_in = quantize(feats, i.scale, i.zero_point)
    np.testing.assert_array_equal(q_in, np.array([w["nn_input_int8"] for w in sdk], dtype=np.int8))
    out = model.invoke_batch(q_in)
    np.testing.assert_array_equal(out, np.array([w["nn_output_int8"] for w in sdk], dtype=np.int8))
    probs = dequantize(out, o.scale, o.zero_point)
    labels = sorted(sdk[0]["classification"])
    for w, p in zip(sdk, probs):
        np.testing.assert_allclose(p, [w["classification"][k] for k in labels], atol=1e-6)


def test_random_inputs_bit_exact_with_tflite_micro(model, sdk):
    rng = np.random.default_rng(2024)
    base = np.array([w["nn_input_int8"] for w in sdk], dtype=np.int16)
    # realistic inputs (SDK windows + noise: all classes, unsaturated softmax) and uniform ones
    near = base[rng.integers(0, len(base), 3000)] + rng.integers(-12, 13, (3000, 33))
    X = np.concatenate([np.clip(near, -128, 127), rng.integers(-128, 128, (1000, 33))]).astype(np.int8)
    got = model.invoke_batch(X)
    ref = MicroOracle(MODEL).invoke_batch(X)[0]
    np.testing.assert_array_equal(got, ref)
    assert len(np.unique(got.argmax(axis=1))) == 4   # the test exercised every class


def test_single_invoke_equals_batch(model, sdk):
    X = np.array([w["nn_input_int8"] for w in sdk], dtype=np.int8)
    batch = model.invoke_batch(X)
    for x, y in zip(X, batch):
        np.testing.assert_array_equal(model.invoke(x), y.reshape(1, 4))          # batch dim omitted
        np.testing.assert_array_equal(model.invoke(x.reshape(1, 33)), y.reshape(1, 4))


def test_threads_each_with_their_own_arena(model):
    rng = np.random.default_rng(5)
    X = rng.integers(-128, 128, (20000, 33)).astype(np.int8)
    want = model.invoke_batch(X)
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        results[k] = model.invoke_batch(X)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_array_equal(results[k], want)


def test_empty_batch(model):
    out = model.invoke_batch(np.zeros((0, 33), dtype=np.int8))
    assert out.shape == (0, 4) and out.dtype == np.int8


def test_single_invoke_from_threads_at_once():
    """Single invokes and small batches of one model from several threads at once (the C call
    releases the GIL, so each thread needs its own arena, staging buffers and pointer arrays):
    every result is its own input's.
    A conv net whose run is long enough for the threads to overlap inside the C call."""
    m = load_model(Path(__file__).parent / "data" / "models" / "conv2d_pc_i8.tflite", backend="native")
    rng = np.random.default_rng(9)
    X = rng.integers(-128, 128, (48,) + m.inputs[0].shape).astype(np.int8)
    want = m.invoke_batch(X.reshape((len(X),) + m.inputs[0].item_shape))
    errors: list = []
    barrier = threading.Barrier(4)

    def work(k: int) -> None:
        barrier.wait()
        for rep in range(6):
            for i in range(k, len(X), 2):   # two threads per row set, different row orders
                j = i if rep % 2 else len(X) - 1 - i
                y = m.invoke(X[j])
                if not np.array_equal(y.reshape(want[j].shape), want[j]):
                    errors.append((k, j))
                yb = m.invoke_batch(X[j:j + 3].reshape((-1,) + m.inputs[0].item_shape))
                if not np.array_equal(yb, want[j:j + 3]):   # small batches, other rows
                    errors.append((k, j, "batch"))

    threads = [threading.Thread(target=work, args=(k % 2,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"{len(errors)} invokes from threads returned another input's result: {errors[:5]}"
