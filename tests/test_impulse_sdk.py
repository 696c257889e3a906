"""Acceptance: the demo impulse reproduces Edge Impulse's own C++ SDK
(tests/data/motion-demo/ei-sdk-reference.json, 30 windows):
- from the SDK's features: the int8 network input and output exactly, the same
  probabilities, the anomaly score bit for bit;
- from the raw windows: features within 2e-3 x max(1, |x|), the same predicted label on every
  window, probabilities within 2/256;
- classify over a recording == every window classified alone; bad input -> clear errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgert.errors import BundleError, InputError

pytest.importorskip("edgert.engine")
from edgert.runtime.impulse import Impulse, KerasRunner  # noqa: E402

DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
LABELS = ["idle", "snake", "updown", "wave"]
# the native engine and the TFLite interpreter must both reproduce the SDK
BACKENDS = ["native", "tflite"]


@pytest.fixture(scope="module")
def sdk():
    windows = json.loads((DEMO / "ei-sdk-reference.json").read_text())["windows"]
    assert len(windows) == 30     # every comparison below runs over all 30 SDK windows
    return windows


@pytest.fixture(scope="module", params=BACKENDS)
def imp(request):
    return Impulse.load(DEMO, backend=request.param)


@pytest.fixture(scope="module")
def raw_windows(sdk):
    return [np.asarray(w["raw"], dtype=np.float32).reshape(125, 3) for w in sdk]


def test_impulse_shape(imp):
    assert imp.window_samples == 125 and imp.window_increase_samples == 5
    assert imp.labels == tuple(LABELS)
    assert imp.variants == ("int8",)
    assert imp.resolve_variant(None) == "int8"   # no float32 model in this bundle
    assert len(imp.feature_labels) == 33


def test_network_and_anomaly_from_sdk_features(imp, sdk):
    feats = np.array([w["features"] for w in sdk], dtype=np.float32)
    keras = imp.learn_blocks[0]
    assert isinstance(keras, KerasRunner)
    q = keras.quantize_input(feats, "int8")
    assert np.array_equal(q.reshape(30, -1), np.array([w["nn_input_int8"] for w in sdk]))
    raw = keras.invoke(q, "int8")
    assert np.array_equal(raw, np.array([w["nn_output_int8"] for w in sdk]))
    out = imp.run_learn({2: feats}, "int8")
    probs = np.array([[w["classification"][lab] for lab in LABELS] for w in sdk],
                     dtype=np.float32)
    assert np.array_equal(out[3], probs)
    assert np.array_equal(out[4], np.array([w["anomaly"] for w in sdk], dtype=np.float32))


def test_each_raw_window_matches_the_sdk(imp, sdk, raw_windows):
    for w, raw in zip(sdk, raw_windows):
        res = imp.classify(raw)
        assert len(res) == 1
        f = res.features[2][0]
        ref = np.asarray(w["features"], dtype=np.float32)
        assert np.all(np.abs(f - ref) <= 2e-3 * np.maximum(1.0, np.abs(ref))), w["index"]
        sdk_probs = np.array([w["classification"][lab] for lab in LABELS])
        assert res[0].top_label == LABELS[int(np.argmax(sdk_probs))], w["index"]
        assert np.max(np.abs(res.probabilities[0] - sdk_probs)) <= 2 / 256 + 1e-9, w["index"]
        assert abs(res.anomaly[0] - w["anomaly"]) <= 2e-3 * max(1.0, abs(w["anomaly"]))


def test_flat_interleaved_input_equals_2d(imp, raw_windows):
    a = imp.classify(raw_windows[0])
    b = imp.classify(raw_windows[0].reshape(-1))
    assert np.array_equal(a.probabilities, b.probabilities)
    assert np.array_equal(a.anomaly, b.anomaly)


def test_recording_equals_each_window_alone(imp, raw_windows):
    rec = np.concatenate(raw_windows[:6])        # 750 rows -> 126 windows
    res = imp.classify(rec)
    assert len(res) == (750 - 125) // 5 + 1
    assert np.array_equal(res.start_rows, np.arange(len(res)) * 5)
    for w in range(len(res)):                    # every window, each classified alone
        s = int(res.start_rows[w])
        alone = imp.classify(rec[s:s + 125])
        assert np.array_equal(alone.probabilities[0], res.probabilities[w])
        assert np.array_equal(alone.anomaly[0], res.anomaly[w])
        assert np.array_equal(alone.features[2][0], res.features[2][w])
    # trailing samples that do not fill a window are not classified
    assert len(imp.classify(rec[:749])) == len(res) - 1


def test_threads_give_the_same_numbers(imp, raw_windows):
    rec = np.concatenate(raw_windows[:8])
    a = imp.classify(rec)
    b = imp.classify(rec, threads=2)
    assert np.array_equal(a.probabilities, b.probabilities)
    assert np.array_equal(a.anomaly, b.anomaly)


def test_axes_are_matched_by_name(imp, raw_windows):
    rec = np.concatenate(raw_windows[:2])
    ref = imp.classify(rec)
    shuffled = rec[:, [2, 0, 1]]
    got = imp.classify(shuffled, axes=["accZ", "accX", "accY"])
    assert np.array_equal(got.probabilities, ref.probabilities)
    with pytest.raises(InputError, match="missing"):
        imp.classify(shuffled, axes=["accZ", "accX", "gyrY"])


def test_resampled_recording(imp, raw_windows):
    rec = np.concatenate(raw_windows[:4])                 # 500 rows at 62.5 Hz
    up = np.repeat(rec, 2, axis=0)                        # 1000 rows "at 125 Hz"
    res = imp.classify(up, frequency=125.0)
    assert res.resampled and res.source_frequency == 125.0
    assert res.data.shape[0] == 500
    assert len(res) == (500 - 125) // 5 + 1


def test_a_frequency_within_rounding_is_not_resampled(imp, raw_windows):
    res = imp.classify(raw_windows[0], frequency=62.5000001)
    assert not res.resampled and "warning" not in res.to_studio_json()
    assert np.array_equal(res.data, raw_windows[0])


def test_short_recording_zero_pad(imp, raw_windows):
    short = raw_windows[0][:100]
    res = imp.classify(short)
    assert len(res) == 1
    padded = np.zeros((125, 3), np.float32)
    padded[:100] = short
    ref = imp.classify(padded)
    assert np.array_equal(res.probabilities, ref.probabilities)
    assert np.array_equal(res.anomaly, ref.anomaly)


def test_short_recording_without_zero_pad(tmp_path, raw_windows):
    b = tmp_path / "b"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples"))
    doc = json.loads((b / "impulse.json").read_text())
    doc["input"]["zero_pad"] = False
    (b / "impulse.json").write_text(json.dumps(doc))
    imp2 = Impulse.load(b)
    with pytest.raises(InputError, match="shorter than one window"):
        imp2.classify(raw_windows[0][:100])
    assert len(imp2.classify(raw_windows[0])) == 1


@pytest.mark.parametrize("values, msg", [
    (np.zeros((200, 2), np.float32), "2 axes per row but the impulse takes 3"),
    (np.zeros(301, np.float32), "multiple of 3"),
    (np.zeros((0, 3), np.float32), "empty"),
    (np.array([["a", "b", "c"]]), "numbers"),
    (np.ones((130, 3), complex), "real numbers"),
    ([[1.0, 2.0, 3.0], [1.0, 2.0]], r"\(rows, axes\) array"),
])
def test_bad_shapes(imp, values, msg):
    with pytest.raises(InputError, match=msg):
        imp.classify(values)


def test_axes_names_and_columns_disagree(imp, raw_windows):
    with pytest.raises(InputError, match="3 values per row but names 2 axes"):
        imp.classify(raw_windows[0], axes=["accX", "accY"])


def test_bad_frequency(imp, raw_windows):
    for f in ("fast", -62.5, float("nan"), True):
        with pytest.raises(InputError, match="frequency"):
            imp.classify(raw_windows[0], frequency=f)


def test_nonfinite_values(imp, raw_windows):
    x = raw_windows[0].copy()
    x[17, 1] = np.nan
    with pytest.raises(InputError, match="row 17, axis 1"):
        imp.classify(x)
    x[17, 1] = np.inf
    with pytest.raises(InputError, match="NaN/inf"):
        imp.classify(x)


def test_variants(imp, raw_windows):
    with pytest.raises(InputError, match="unknown model variant 'int4'"):
        imp.classify(raw_windows[0], variant="int4")
    with pytest.raises(InputError, match="no float32 model"):
        imp.classify(raw_windows[0], variant="float32")
    assert imp.classify(raw_windows[0], variant="int8").variant == "int8"


def test_feature_count_mismatch_is_a_load_error(tmp_path):
    b = tmp_path / "b"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples"))
    doc = json.loads((b / "impulse.json").read_text())
    doc["dsp"][0]["params"]["fft-length"] = 32     # 3 x 19 features, the model takes 33
    (b / "impulse.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError, match=r"impulse.json: learn\[0\].models.int8: nn-i8.tflite "
                                          r"takes 33 features"):
        Impulse.load(b)


def test_anomaly_axes_beyond_features_is_a_load_error(tmp_path):
    b = tmp_path / "b"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples"))
    md = json.loads((b / "anomaly-4.json").read_text())
    md["axes"] = [0, 11, 40]
    (b / "anomaly-4.json").write_text(json.dumps(md))
    with pytest.raises(BundleError, match="anomaly-4.json.*40"):
        Impulse.load(b)


def test_bad_dsp_params_are_a_load_error(tmp_path):
    b = tmp_path / "b"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples"))
    doc = json.loads((b / "impulse.json").read_text())
    doc["dsp"][0]["params"]["fft-length"] = 100    # not a power of two
    (b / "impulse.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError, match=r"impulse.json: dsp\[0\]"):
        Impulse.load(b)


def test_features_only_bundle(tmp_path, raw_windows):
    b = tmp_path / "b"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples",
                                                          "*.tflite", "anomaly-4.json"))
    doc = json.loads((b / "impulse.json").read_text())
    doc["learn"] = []
    (b / "impulse.json").write_text(json.dumps(doc))
    imp2 = Impulse.load(b)
    f = imp2.features(np.concatenate(raw_windows[:2]))
    assert f.features.shape == (26, 33)
    j = f.to_json()
    assert len(j["labels"]) == 33 and j["windows"][1]["start_ms"] == 80.0
    res = imp2.classify(raw_windows[0])
    assert res.probabilities is None and res.anomaly is None and res.variant is None


def test_resampling_inside_classify_matches_scipy(imp, raw_windows):
    """A recording at 100 Hz is resampled to 62.5 Hz before windowing: the same features as
    classifying scipy's resample_poly of it (the same polyphase filter)."""
    scipy_signal = pytest.importorskip("scipy.signal")
    rec = np.concatenate(raw_windows[:3])
    x100 = scipy_signal.resample_poly(rec.astype(np.float64), 8, 5, axis=0).astype(np.float32)
    got = imp.classify(x100, frequency=100.0)
    ref = scipy_signal.resample_poly(x100.astype(np.float64), 5, 8, axis=0).astype(np.float32)
    want = imp.classify(ref)
    assert got.data.shape == ref.shape == (int(np.ceil(len(x100) * 62.5 / 100)), 3)
    assert len(got) == len(want)
    np.testing.assert_allclose(got.features[2], want.features[2], rtol=1e-3, atol=1e-3)


def test_zip_bundle_classifies_the_same(tmp_path, imp, raw_windows):
    import zipfile
    z = tmp_path / "demo.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in ("impulse.json", "anomaly-4.json", "nn-i8.tflite"):
            zf.write(DEMO / f, f)
    imp_zip = Impulse.load(z, backend=imp.backend)
    a, b = imp.classify(raw_windows[3]), imp_zip.classify(raw_windows[3])
    assert np.array_equal(a.probabilities, b.probabilities)
    assert np.array_equal(a.anomaly, b.anomaly)
