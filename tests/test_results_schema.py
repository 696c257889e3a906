"""The Studio-shaped classify v2 document parses with the official `edgeimpulse-api` pydantic
models and holds what seed 000 and the client declare required; Studio's prediction rule."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgert.runtime.bundle import load_bundle
from edgert.recording import Recording, SensorAxis
from edgert.runtime.results import ClassificationResult, predict_labels

DEMO = Path(__file__).parent / "data" / "motion-demo"
LABELS = ["idle", "snake", "updown", "wave"]


@pytest.fixture
def ei_models(monkeypatch):
    """The official client's models, with its one documented bug fixed.

    Known bug in edgeimpulse-api 1.96.3 (see the gateway API spec, "Known bug in the official
    client"): BlockThresholdValue.from_json assigns the value to both oneOf validators without
    validation, so every `thresholds[].value` "matches" both float and str and deserialisation
    fails with "Multiple matches found". We replace exactly that classmethod with a correct
    oneOf check (a number or a string, anything else rejected); every other model is used
    unpatched."""
    models = pytest.importorskip("edgeimpulse_api.models")
    from edgeimpulse_api.models.block_threshold_value import BlockThresholdValue

    def from_json(cls, json_str):
        v = json.loads(json_str)
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ValueError(f"BlockThresholdValue must be a number or a string, got {v!r}")
        inst = cls()
        inst.actual_instance = v
        return inst

    monkeypatch.setattr(BlockThresholdValue, "from_json", classmethod(from_json))
    return models


def make_result(n=7, seed=0, resampled_from=None):
    bundle = load_bundle(DEMO)
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4), size=n).astype(np.float32)
    anomaly = rng.normal(-0.2, 0.3, size=n).astype(np.float32)
    data = rng.normal(size=(125 + 5 * (n - 1), 3)).astype(np.float32)
    starts = np.arange(n) * 5
    return ClassificationResult(bundle=bundle, variant="int8", frequency=62.5,
                                source_frequency=resampled_from or 62.5, data=data,
                                start_rows=starts, window_samples=125,
                                outputs={3: probs, 4: anomaly})


def recording(label="wave"):
    return Recording(np.zeros((155, 3), np.float32), 62.5,
                     (SensorAxis("accX", "m/s2"), SensorAxis("accY", "m/s2"),
                      SensorAxis("accZ", "m/s2")),
                     filename="wave.01.json", label=label, device_name="ac:87:a3:0a:2d:1b",
                     device_type="DISCO-L475VG-IOT01A", signature_method="HS256",
                     signature_valid=True, sha256="ab" * 32)


def test_document_parses_with_the_official_client(ei_models):
    res = make_result()
    doc = res.to_studio_json(sample=recording(), sample_id=42)
    text = json.dumps(doc, allow_nan=False)
    parsed = ei_models.ClassifySampleV2200Response.from_json(text)
    inner = parsed.actual_instance
    assert isinstance(inner, ei_models.ClassifySampleResponse)
    assert inner.success is True
    assert inner.window_size_ms == 2000 and inner.window_increase_ms == 80
    assert [c.learn_block.id for c in inner.classifications] == [3, 4]
    assert inner.sample.sample.id == 42 and inner.sample.sample.label == "wave"
    keras = inner.classifications[0]
    assert len(keras.result) == len(res) == keras.result_count
    for w, row in enumerate(keras.result):
        assert set(row) == set(LABELS) | {"anomaly"}
        for i, lab in enumerate(LABELS):
            assert row[lab] == float(res.probabilities[w, i])
        assert row["anomaly"] == float(res.anomaly[w])
    assert keras.minimum_confidence_rating == 0.6
    assert inner.classifications[1].minimum_confidence_rating == 0.3
    assert [t.key for t in keras.thresholds] == ["min_score"]
    assert keras.thresholds[0].value.actual_instance == 0.6
    # direct model too (the non-anyOf one)
    ei_models.ClassifySampleResponse.from_json(text)


def test_required_fields_of_seed_000_present():
    doc = make_result().to_studio_json(sample=recording())
    for k in ("success", "classifications", "sample", "windowSizeMs", "windowIncreaseMs",
              "alreadyInDatabase"):
        assert k in doc
    assert isinstance(doc["windowSizeMs"], int) and isinstance(doc["windowIncreaseMs"], int)
    c = doc["classifications"][0]
    for k in ("learnBlock", "result", "minimumConfidenceRating", "expectedLabels", "thresholds"):
        assert k in c
    assert set(c["learnBlock"]) >= {"id", "type", "name", "dsp", "title"}
    for t in c["thresholds"]:
        assert set(t) >= {"key", "description", "helpText", "value"}
    s = doc["sample"]
    assert set(s) >= {"sample", "payload", "totalPayloadLength"}
    assert set(s["payload"]) >= {"device_type", "sensors", "values"}
    assert s["payload"]["device_name"] == "ac:87:a3:0a:2d:1b"
    assert s["totalPayloadLength"] == len(s["payload"]["values"])
    exp = c["expectedLabels"]
    assert len(exp) == 7 and exp[1] == {"startIndex": 5, "endIndex": 129, "label": "wave"}


def test_unlabelled_sample_has_no_expected_labels(ei_models):
    doc = make_result().to_studio_json(sample=None)
    assert all(c["expectedLabels"] == [] for c in doc["classifications"])
    ei_models.ClassifySampleResponse.from_json(json.dumps(doc))


def test_resampled_sample_reports_both_frequencies(ei_models):
    doc = make_result(resampled_from=100.0).to_studio_json(sample=recording())
    s = doc["sample"]["sample"]
    assert s["frequency"] == 62.5 and s["originalFrequency"] == 100.0
    assert "resampled" in doc["warning"]
    ei_models.ClassifySampleResponse.from_json(json.dumps(doc))


def test_studio_prediction_rule():
    probs = np.array([[0.9, 0.05, 0.03, 0.02],     # idle
                      [0.5, 0.3, 0.1, 0.1],        # below min_score -> uncertain
                      [0.9, 0.05, 0.03, 0.02],     # anomalous -> anomaly
                      [0.1, 0.1, 0.2, 0.6]],       # exactly min_score -> wave
                     dtype=np.float32)
    anomaly = np.array([-0.3, -0.3, 0.31, 0.3], dtype=np.float32)
    pred = predict_labels(LABELS, probs, anomaly, 0.6, 0.3, 4)
    assert pred.tolist() == ["idle", "uncertain", "anomaly", "wave"]


def test_window_objects_and_summary():
    res = make_result(n=5)
    w = res[2]
    assert w.start_ms == 160.0 and w.end_ms == 2160.0
    assert w.top_label == LABELS[int(np.argmax(res.probabilities[2]))]
    assert w.anomaly == float(res.anomaly[2])
    assert res[-1].index == 4
    with pytest.raises(IndexError):
        res[5]
    summ = res.summary()
    assert summ["windows"] == 5 and sum(summ["predictions"].values()) == 5


def test_real_classification_parses(ei_models):
    """A real run (CBOR recording through the whole pipeline) gives a document the client
    parses, with one result per window equal to the result arrays."""
    pytest.importorskip("edgert.engine")
    from edgert.runtime.impulse import Impulse
    from edgert.recording import load_recording
    imp = Impulse.load(DEMO)
    rec = load_recording(DEMO / "samples" / "wave.02.cbor", hmac_key="edgert-demo-key")
    res = imp.classify(rec.values, frequency=rec.frequency, axes=rec.axes)
    doc = res.to_studio_json(sample=rec, sample_id=7)
    inner = ei_models.ClassifySampleResponse.from_json(json.dumps(doc, allow_nan=False))
    rows = inner.classifications[0].result
    assert len(rows) == len(res) == 26
    assert [r["wave"] for r in rows] == res.probabilities[:, 3].astype(np.float64).tolist()
    assert inner.sample.sample.signature_validate is True
    assert inner.sample.payload.values[0] == rec.values[0].astype(np.float64).tolist()


def test_real_document_holds_every_declared_field():
    """``from_json`` of the client builds models without validating them, so the document is
    also walked against the client's model classes: every required field present, every value
    of its declared type (e.g. ``payload.sensors[].index``, required by ``Sensor``)."""
    pytest.importorskip("edgert.engine")
    from edgeimpulse_api.models.classify_sample_response import ClassifySampleResponse
    from edgert.runtime.impulse import Impulse
    from edgert.recording import load_recording
    from .test_classify_all_schema import check_declared
    imp = Impulse.load(DEMO)
    for name in ("wave.02.cbor", "updown.02.csv"):
        rec = load_recording(DEMO / "samples" / name, hmac_key="edgert-demo-key")
        res = imp.classify(rec.values, frequency=rec.frequency, axes=rec.axes)
        for sample in (rec, None):
            doc = json.loads(json.dumps(res.to_studio_json(sample=sample), allow_nan=False))
            assert check_declared(ClassifySampleResponse, doc) == [], name
    bad = json.loads(json.dumps(res.to_studio_json(sample=rec)))
    bad["classifications"][0]["result"][0]["wave"] = "high"
    assert check_declared(ClassifySampleResponse, bad)       # the walk does catch bad values
