"""Shape-only subgraphs (the SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE chain TensorFlow writes
for a Keras Reshape/Flatten) are folded when the plan is compiled, so the native engine runs
such models; results stay bit-identical to the tflite-micro interpreter."""
from __future__ import annotations

import numpy as np
import pytest

from edgert.engine import compile_graph, load_model, read_graph
from tests.tflite_builder import Op, Tensor, build_model
from edgert.engine.fold import fold_shape_subgraphs
from tests.oracles import MicroOracle, edge_inputs


def _shape_chain_model(dtype: str) -> bytes:
    q = dict(scale=0.05, zero_point=-3) if dtype == "int8" else {}
    qo = dict(scale=1 / 256, zero_point=-128) if dtype == "int8" else {}
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, size=(3, 8)) if dtype == "int8" else rng.normal(size=(3, 8))
    b = rng.integers(-500, 500, size=3) if dtype == "int8" else rng.normal(size=3)
    tensors = [
        Tensor("x", (1, 2, 4), dtype, **q),                                   # 0
        Tensor("shape", (3,), "int32"),                                        # 1
        Tensor("begin", (1,), "int32", data=np.array([0])),                    # 2
        Tensor("end", (1,), "int32", data=np.array([1])),                      # 3
        Tensor("strides", (1,), "int32", data=np.array([1])),                  # 4
        Tensor("batch", (), "int32"),                                          # 5
        Tensor("minus1", (), "int32", data=np.array(-1)),                      # 6
        Tensor("new_shape", (2,), "int32"),                                    # 7
        Tensor("flat", (1, 8), dtype, **q),                                    # 8
        Tensor("w", (3, 8), dtype, data=w, **({"scale": 0.02, "zero_point": 0}
                                                if dtype == "int8" else {})),  # 9
        Tensor("b", (3,), "int32" if dtype == "int8" else "float32", data=b,
               **({"scale": 0.05 * 0.02, "zero_point": 0} if dtype == "int8" else {})),  # 10
        Tensor("logits", (1, 3), dtype, **(dict(scale=0.1, zero_point=2) if dtype == "int8"
                                           else {})),                          # 11
        Tensor("probs", (1, 3), dtype, **qo),                                  # 12
    ]
    ops = [
        Op("SHAPE", [0], [1], options=("ShapeOptions", {"OutType": 2})),
        Op("STRIDED_SLICE", [1, 2, 3, 4], [5],
           options=("StridedSliceOptions", {"ShrinkAxisMask": 1}), version=2),
        Op("PACK", [5, 6], [7], options=("PackOptions", {"ValuesCount": 2, "Axis": 0})),
        Op("RESHAPE", [0, 7], [8]),
        Op("FULLY_CONNECTED", [8, 9, 10], [11], version=4 if dtype == "int8" else 1),
        Op("SOFTMAX", [11], [12], options=("SoftmaxOptions", {"Beta": 1.0}),
           version=2 if dtype == "int8" else 1),
    ]
    return build_model(tensors, ops, [0], [12])


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_shape_chain_is_folded_and_runs_like_tflite_micro(dtype):
    buf = _shape_chain_model(dtype)
    g = fold_shape_subgraphs(read_graph(buf))
    assert [op.name for op in g.ops] == ["RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert g.extra["folded_ops"] == 3
    assert g.tensors[7].data.tolist() == [1, -1]
    compile_graph(read_graph(buf))              # natively supported now
    native = load_model(buf, backend="native")
    oracle = MicroOracle(buf)
    X = edge_inputs(oracle.inputs[0], 200, seed=3)
    want = oracle.invoke_batch(X)[0].reshape(len(X), -1)
    got = native.invoke_batch(X)
    got = (got[0] if isinstance(got, list) else got).reshape(len(X), -1)
    if dtype == "int8":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_activations_are_never_folded():
    g = read_graph(_shape_chain_model("int8"))
    folded = fold_shape_subgraphs(g)
    assert all(t.data is None for t in folded.tensors if t.name in ("x", "flat", "logits",
                                                                     "probs"))


def test_unfoldable_graph_is_returned_unchanged():
    t = [Tensor("x", (1, 4), "float32"), Tensor("y", (1, 4), "float32")]
    g = read_graph(build_model(t, [Op("RELU", [0], [1])], [0], [1]))
    assert fold_shape_subgraphs(g) is g
