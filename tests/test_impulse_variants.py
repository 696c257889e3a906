"""Variant selection (float32 preferred, int8 on request) and GMM anomaly blocks, on bundles
extending the demo with small float32 models written by the engine's flatbuffer builder;
expected values from numpy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("edgert.engine")
from tests.tflite_builder import Op, Tensor, build_model  # noqa: E402
from edgert.runtime.impulse import Impulse  # noqa: E402

DEMO = Path(__file__).parent / "data" / "motion-demo"
RNG = np.random.default_rng(7)
W_CLS = RNG.normal(0, 0.3, size=(4, 33)).astype(np.float32)
B_CLS = RNG.normal(0, 0.1, size=4).astype(np.float32)
W_GMM = np.array([[0.5, -0.25, 2.0]], dtype=np.float32)
B_GMM = np.array([0.125], dtype=np.float32)


def fc_model(w: np.ndarray, b: np.ndarray, softmax: bool) -> bytes:
    n_out, n_in = w.shape
    tensors = [Tensor("x", (1, n_in)), Tensor("w", (n_out, n_in), data=w),
               Tensor("b", (n_out,), data=b), Tensor("y", (1, n_out))]
    ops = [Op("FULLY_CONNECTED", [0, 1, 2], [3])]
    if softmax:
        tensors.append(Tensor("p", (1, n_out)))
        ops.append(Op("SOFTMAX", [3], [4], options=("SoftmaxOptions", {"Beta": 1.0})))
    return build_model(tensors, ops, inputs=[0], outputs=[len(tensors) - 1])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    b = tmp_path_factory.mktemp("variants") / "bundle"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples"))
    (b / "nn-f32.tflite").write_bytes(fc_model(W_CLS, B_CLS, softmax=True))
    (b / "gmm.tflite").write_bytes(fc_model(W_GMM, B_GMM, softmax=False))
    doc = json.loads((b / "impulse.json").read_text())
    doc["learn"][0]["models"]["float32"] = "nn-f32.tflite"
    doc["learn"].append({"id": 5, "type": "anomaly-gmm", "name": "GMM", "title": "GMM",
                         "dsp": [2], "axes": [0, 11, 22], "models": {"float32": "gmm.tflite"},
                         "thresholds": [{"key": "min_anomaly_score", "value": 4.0}]})
    (b / "impulse.json").write_text(json.dumps(doc))
    return b


@pytest.fixture(scope="module")
def recording():
    ref = json.loads((DEMO / "ei-sdk-reference.json").read_text())["windows"]
    return np.concatenate([np.asarray(w["raw"], np.float32).reshape(125, 3) for w in ref[:4]])


@pytest.mark.parametrize("backend", ["native", "tflite"])
def test_float32_is_the_default_variant(bundle, recording, backend):
    imp = Impulse.load(bundle, backend=backend)
    assert imp.variants == ("float32", "int8")
    res = imp.classify(recording)
    assert res.variant == "float32"
    x = res.features[2].astype(np.float64)
    logits = x @ W_CLS.T.astype(np.float64) + B_CLS
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res.probabilities, p, rtol=1e-4, atol=1e-6)
    res8 = imp.classify(recording, variant="int8")
    assert res8.variant == "int8"
    assert not np.array_equal(res8.probabilities, res.probabilities)
    # the K-means block does not depend on the variant
    assert np.array_equal(res8.anomaly, res.anomaly)


@pytest.mark.parametrize("backend", ["native", "tflite"])
def test_gmm_block_scores_through_the_engine(bundle, recording, backend):
    imp = Impulse.load(bundle, backend=backend)
    res = imp.classify(recording)
    gmm = res.outputs[5]
    expect = res.features[2][:, [0, 11, 22]].astype(np.float64) @ W_GMM[0] + B_GMM[0]
    np.testing.assert_allclose(gmm, expect, rtol=1e-5, atol=1e-5)
    doc = res.to_studio_json()
    blocks = [c["learnBlock"]["type"] for c in doc["classifications"]]
    assert blocks == ["keras", "anomaly", "anomaly-gmm"]
    gmm_rows = doc["classifications"][2]["result"]
    assert [r["anomaly"] for r in gmm_rows] == gmm.astype(np.float64).tolist()
    assert doc["classifications"][2]["minimumConfidenceRating"] == 4.0


def test_gmm_axes_must_match_the_model(bundle, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(bundle, b)
    doc = json.loads((b / "impulse.json").read_text())
    doc["learn"][2]["axes"] = [0, 11]
    (b / "impulse.json").write_text(json.dumps(doc))
    from edgert.errors import BundleError
    with pytest.raises(BundleError, match=r"learn\[2\].models.float32: gmm.tflite takes 3"):
        Impulse.load(b)
