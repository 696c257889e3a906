"""The impulse's building blocks against independent oracles: window arithmetic (the spec's
formula), resampling (scipy.signal.resample_poly), int8 quantization (the SDK's
nn_input_int8) and the K-means scorer (the SDK's anomaly scores, bit for bit)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edgert.runtime.anomaly import KMeansScorer
from edgert.errors import ConfigurationError, InputError
from edgert.runtime.windowing import (dequantize_int8, quantize_int8, resample, resample_ratio,
                              window_count, window_geometry, window_starts)

DEMO = Path(__file__).parent / "data" / "motion-demo"


@pytest.fixture(scope="module")
def sdk():
    return json.loads((DEMO / "ei-sdk-reference.json").read_text())


@pytest.fixture(scope="module")
def metadata():
    return json.loads((DEMO / "anomaly-4.json").read_text())


def test_window_geometry_of_the_demo():
    assert window_geometry(2000, 80, 62.5) == (125, 5)
    assert window_geometry(1000, 500, 100) == (100, 50)
    # Math.round semantics, not banker's rounding: 2.5 -> 3
    assert window_geometry(25, 25, 100) == (3, 3)


@given(n=st.integers(0, 3000), w=st.integers(1, 300), s=st.integers(1, 300),
       pad=st.booleans())
@settings(max_examples=300, deadline=None)
def test_window_starts_follow_the_spec(n, w, s, pad):
    starts = window_starts(n, w, s, pad)
    if n >= w:
        expected = np.arange(0, n - w + 1, s)
    else:
        expected = np.array([0] if pad else [], dtype=int)
    assert np.array_equal(starts, expected)
    assert window_count(n, w, s, pad) == len(expected)


@pytest.mark.parametrize("f_in, f_out, n", [(100, 62.5, 1000), (50, 62.5, 333),
                                            (200, 62.5, 77), (60, 62.5, 1001),
                                            (62.5, 100, 250)])
def test_resample_matches_scipy(f_in, f_out, n):
    scipy_signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = resample(x, f_in, f_out)
    assert y.shape == (int(np.ceil(f_out / f_in * n)), 3)
    up, down = resample_ratio(f_in, f_out)
    ref = scipy_signal.resample_poly(x.astype(np.float64), up, down, axis=0)
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_resample_same_rate_is_identity():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert np.array_equal(resample(x, 62.5, 62.5), x)


def test_resample_rejects_bad_rates():
    with pytest.raises(InputError):
        resample(np.zeros((4, 1), np.float32), 0, 62.5)


def test_quantize_matches_the_sdk_network_input(sdk):
    feats = np.array([w["features"] for w in sdk["windows"]], dtype=np.float32)
    expected = np.array([w["nn_input_int8"] for w in sdk["windows"]], dtype=np.int8)
    # the demo network's input tensor quantization (nn-i8.tflite)
    q = quantize_int8(feats, 0.43860453367233276, -114)
    assert np.array_equal(q, expected)


def test_quantize_rounds_half_away_from_zero_and_clamps():
    q = quantize_int8(np.array([0.5, -0.5, 1.5, 2.5, -2.5, 1e9, -1e9]), 1.0, 0)
    assert q.tolist() == [1, -1, 2, 3, -3, 127, -128]
    assert np.round(2.5) == 2.0  # numpy's banker's rounding would differ


def test_quantize_rejects_nonfinite():
    with pytest.raises(InputError):
        quantize_int8(np.array([np.nan]), 1.0, 0)


def test_dequantize_softmax_output(sdk):
    raw = np.array([w["nn_output_int8"] for w in sdk["windows"]], dtype=np.int8)
    probs = dequantize_int8(raw, 1.0 / 256.0, -128)
    labels = ["idle", "snake", "updown", "wave"]
    expected = np.array([[w["classification"][lab] for lab in labels] for w in sdk["windows"]])
    np.testing.assert_array_equal(probs, expected.astype(np.float32))


def test_kmeans_equals_the_sdk_bit_for_bit(sdk, metadata):
    feats = np.array([w["features"] for w in sdk["windows"]], dtype=np.float32)
    expected = np.array([w["anomaly"] for w in sdk["windows"]], dtype=np.float32)
    scores = KMeansScorer(metadata, 33).score(feats)
    assert np.array_equal(scores, expected)


def test_kmeans_matches_numpy_definition(metadata):
    rng = np.random.default_rng(1)
    feats = rng.normal(0, 5, size=(500, 33)).astype(np.float32)
    ax = metadata["axes"]
    z = (feats[:, ax].astype(np.float64) - metadata["mean"]) / metadata["scale"]
    centers = np.array([c["center"] for c in metadata["clusters"]])
    maxerr = np.array([c["maxError"] for c in metadata["clusters"]])
    d = np.linalg.norm(z[:, None, :] - centers[None], axis=2) - maxerr
    ref = np.minimum(d.min(axis=1), 1000.0)
    got = KMeansScorer(metadata, 33).score(feats)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_kmeans_axes_outside_features(metadata):
    with pytest.raises(ConfigurationError, match="outside the 20 features"):
        KMeansScorer(metadata, 20)


def test_kmeans_rejects_nan(metadata):
    feats = np.zeros((2, 33), np.float32)
    feats[1, 11] = np.nan
    with pytest.raises(InputError):
        KMeansScorer(metadata, 33).score(feats)


# ------------------------------------------------------------------------- recordings
def test_label_from_filename_like_the_ingestion_api():
    from edgert.acquisition.labels import infer_label
    assert infer_label("idle.01.json") == "idle"
    assert infer_label("up-down_2.s3.cbor") == "up-down_2"
    assert infer_label("/x/y/wave 3.csv") == "wave 3"
    assert infer_label(".hidden") is None


def test_csv_frequency_from_timestamps(tmp_path):
    from edgert.recording import load_recording
    p = tmp_path / "snake.7.csv"
    rows = ["timestamp,accX,accY,accZ"] + [f"{i * 10},{i},{-i},{0.5 * i}" for i in range(50)]
    p.write_text("\n".join(rows) + "\n")
    r = load_recording(p)
    assert r.frequency == pytest.approx(100.0) and r.label == "snake"
    assert r.axes == ("accX", "accY", "accZ") and r.values.shape == (50, 3)
    assert r.values[7].tolist() == [7.0, -7.0, 3.5]


@pytest.mark.parametrize("text, msg", [
    ("time_s,accX\n0,1\n1,2\n", "first CSV column must be 'timestamp'"),
    ("timestamp,accX\n0,1\n", "at least two rows"),
    ("timestamp,accX\n0,1\n0,2\n", "increase strictly"),
    ("timestamp,accX\n0,1\n10,2\n50,3\n", "not evenly spaced"),
    ("timestamp,accX\n0,1\n10,x\n", "non-numeric"),
    ("timestamp,accX\n0,1,3\n10,2\n", "line 2 has 3 columns"),
])
def test_bad_csv(tmp_path, text, msg):
    from edgert.recording import load_recording
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=msg):
        load_recording(p)


def test_data_acquisition_documents_and_signature():
    from edgert.recording import load_recording
    samples = DEMO / "samples"
    a = load_recording(samples / "wave.01.json", hmac_key="edgert-demo-key")
    b = load_recording(samples / "wave.02.cbor", hmac_key="edgert-demo-key")
    assert a.signature_valid is True and b.signature_valid is True
    assert np.array_equal(a.values, b.values) and a.frequency == 62.5
    assert a.device_type == "DISCO-L475VG-IOT01A" and a.label == "wave"
    assert load_recording(samples / "wave.01.json", hmac_key="wrong").signature_valid is False


def test_select_columns_by_name_or_explicit_mapping():
    from edgert.runtime.axes import select_columns
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert select_columns(x, ["z", "x", "y"], ["x", "y", "z"]).tolist() == [[1, 2, 0], [4, 5, 3]]
    assert select_columns(x, ["x", "y", "z"], ["x", "y", "z"]) is x
    # entirely different names are never taken by position: the error names both sets
    with pytest.raises(InputError, match=r"has axes \['a', 'b', 'c'\] but the impulse needs "
                                         r"\['x', 'y', 'z'\].*--axes a,b,c"):
        select_columns(x, ["a", "b", "c"], ["x", "y", "z"])
    with pytest.raises(InputError, match="missing"):
        select_columns(x, ["x", "y", "q"], ["x", "y", "z"])
    # an explicit mapping: recording columns, one per impulse axis in its order
    assert select_columns(x, ["a", "b", "c"], ["x", "y", "z"],
                          use_axes=["c", "a", "b"]).tolist() == [[2, 0, 1], [5, 3, 4]]
    with pytest.raises(InputError, match="one column per impulse axis"):
        select_columns(x, ["a", "b", "c"], ["x", "y", "z"], use_axes=["a", "b"])
    with pytest.raises(InputError, match=r"names \['q'\]"):
        select_columns(x, ["a", "b", "c"], ["x", "y", "z"], use_axes=["a", "b", "q"])
    with pytest.raises(InputError, match="more than once"):
        select_columns(x, ["a", "a", "c"], ["x", "y", "z"], use_axes=["a", "a", "c"])


@pytest.mark.parametrize("f_in", [1e-297, 1e-6, 1e12])
def test_resample_refuses_absurd_frequencies(f_in):
    """A nonsense recording frequency is a clear InputError, never a huge allocation."""
    with pytest.raises(InputError, match="resample"):
        resample(np.zeros((250, 3), np.float32), f_in, 62.5)


@pytest.mark.parametrize("args", [(1e20, 80, 62.5), (2000, 1e308, 62.5),
                                  (2000, float("inf"), 62.5)])
def test_window_geometry_refuses_unusable_sizes(args):
    with pytest.raises(InputError, match="samples"):
        window_geometry(*args)


def test_the_one_hour_benchmark_window_count():
    """1 h at 62.5 Hz (N = 225000), W = 125, S = 5: floor((N - W) / S) + 1 = 44,976 windows
    (the issue's 44,975 drops the + 1: the window at 0 s counts too)."""
    assert window_geometry(2000, 80, 62.5) == (125, 5)
    assert window_count(225000, 125, 5, True) == 44976
    starts = window_starts(225000, 125, 5, True)
    assert starts[0] == 0 and starts[-1] + 125 == 225000 and len(starts) == 44976
