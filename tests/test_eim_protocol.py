"""The ``.eim`` runner without processes: message framing against a byte-by-byte reference,
decoding, and every request and error text of a session (edgert/eim/protocol.py,
session.py, model.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgert import Impulse, load_recording
from edgert.eim import protocol
from edgert.eim.model import EimModel, infer_sensor
from edgert.eim.protocol import (Framer, MalformedMessage, Message, Oversized, decode, encode,
                                 request_id_in)
from edgert.eim.session import Session
from edgert.errors import ConfigurationError

DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
V1 = DATA / "motion-demo-2020-v1"
SAMPLES = DEMO / "samples"


# ------------------------------------------------------------------------------- framing
def reference_frames(stream: bytes, limit: int) -> list:
    """The framing rule byte by byte: outside a message everything but '{' is dropped; inside,
    braces are counted and the balancing '}' ends the message; a message longer than
    ``limit`` is reported once and not returned."""
    out: list = []
    depth = 0
    cur = bytearray()
    over = False
    for b in stream:
        if depth == 0:
            if b == ord("{"):
                depth, cur, over = 1, bytearray(b"{"), False
            continue
        if not over:
            cur.append(b)
            if len(cur) > limit:
                out.append(("over", request_id_in(bytes(cur[:limit]))))
                over = True
        if b == ord("{"):
            depth += 1
        elif b == ord("}"):
            depth -= 1
            if depth == 0 and not over:
                out.append(("msg", bytes(cur)))
    return out


def framed(chunks: list[bytes], limit: int, few_braces: int) -> list:
    """Frame with the brace-by-brace walk for chunks of at most ``few_braces`` braces and
    the numpy walk for the others (0: numpy always, huge: brace by brace always)."""
    saved = protocol._FEW_BRACES
    protocol._FEW_BRACES = few_braces
    try:
        f = Framer(limit)
        out: list = []
        for c in chunks:
            for e in f.feed(c):
                out.append(("msg", e.data) if isinstance(e, Message) else
                           ("over", e.request_id))
        return out
    finally:
        protocol._FEW_BRACES = saved


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"{", b"}", b"x", b'"id":7}', b' ', b"{}", b'{"id":3,']),
                max_size=80),
       st.lists(st.integers(1, 15), min_size=1, max_size=30), st.integers(2, 40))
def test_framer_matches_the_byte_by_byte_rule(pieces, cuts, limit):
    stream = b"".join(pieces)
    chunks, pos, i = [], 0, 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        chunks.append(stream[pos:pos + n])
        pos += n
        i += 1
    expected = reference_frames(stream, limit)
    for few_braces in (0, 3, 10**9):        # numpy walk, both mixed, brace-by-brace walk
        assert framed(chunks, limit, few_braces) == expected


def test_framer_basics():
    f = Framer()
    # bytes before '{' are dropped, two messages in one chunk, one split over three
    ev = f.feed(b'junk}\n{"hello":1,"id":1}{"id":2,"classify":[1,')
    assert [e.data for e in ev] == [b'{"hello":1,"id":1}']
    assert f.in_message
    assert f.feed(b"2,") == []
    ev = f.feed(b'3]}  {"a":{"b":{}}}')
    assert [e.data for e in ev] == [b'{"id":2,"classify":[1,2,3]}', b'{"a":{"b":{}}}']
    assert not f.in_message


def test_framer_refuses_oversized_messages_and_keeps_going():
    f = Framer(limit=64)
    big = b'{"classify":[' + b"1," * 100 + b'1],"id":9}'
    ev = f.feed(big[:50]) + f.feed(big[50:]) + f.feed(b'{"id":10}')
    assert isinstance(ev[0], Oversized) and ev[0].limit == 64
    assert ev[0].request_id is None        # "id" came after the first 64 bytes
    assert [e.data for e in ev[1:]] == [b'{"id":10}']
    f = Framer(limit=64)
    ev = f.feed(b'{"id":4,"classify":[' + b"1," * 100 + b"1]}")
    assert isinstance(ev[0], Oversized) and ev[0].request_id == 4


def test_decode_and_encode():
    assert decode(b'{"id":1}') == {"id": 1}
    for bad, why in [(b'{"id":1,}', "Expecting"), (b'{"x":NaN}', "NaN"),
                     (b'{"x":Infinity}', "Infinity"), (b"{\xff}", "utf-8"),
                     (b"[" * 100000 + b"]" * 100000, "nested")]:
        with pytest.raises(MalformedMessage, match=why):
            decode(bad)
    assert encode({"id": 1, "success": True}) == b'{"id":1,"success":true}\n\0'
    assert request_id_in(b'{"set_threshold":{"id":3,"min_score":x},"id":12}') == 12
    assert request_id_in(b'{"classify":[1,2') is None


# ------------------------------------------------------------------------------- session
@pytest.fixture(scope="module")
def impulse():
    return Impulse.load(DEMO)


@pytest.fixture(scope="module")
def model(impulse):
    return EimModel(impulse)


@pytest.fixture()
def session(model):
    s = Session(model, make_segment=None)
    assert s.handle({"hello": 1, "id": 1})["success"] is True
    # thresholds are per-model state: start every test from the bundle's
    model.thresholds[3]["min_score"] = 0.6
    model.thresholds[4]["min_anomaly_score"] = 0.3
    yield s
    s.close()


def recording_windows(impulse, name):
    res = impulse.classify(load_recording(SAMPLES / name))
    W = impulse.window_samples
    windows = [res.data[s:s + W].reshape(-1) for s in res.start_rows]
    return res, windows


def test_hello_document(model):
    s = Session(model, make_segment=None)
    assert s.handle({"classify": [0.0] * 375, "id": 5}) == {
        "id": 5, "success": False, "error": "Invalid message, should initialize first"}
    h = s.handle({"hello": 1, "id": 1})
    assert h["success"] is True and h["id"] == 1
    assert h["project"] == {"id": 43, "owner": "Edge Impulse Profiling",
                            "name": "Demo: Continuous motion recognition",
                            "deploy_version": 38, "impulse_id": 1, "impulse_name": "Impulse #1"}
    mp = h["model_parameters"]
    assert mp["input_features_count"] == 125 * 3 and mp["axis_count"] == 3
    assert mp["frequency"] == 62.5 and mp["interval_ms"] == 16.0
    assert mp["sensor"] == 2 and mp["has_anomaly"] == 1
    assert mp["labels"] == ["idle", "snake", "updown", "wave"] and mp["label_count"] == 4
    assert mp["model_type"] == "classification"
    assert mp["slice_size"] == (125 // 4) * 3 and mp["use_continuous_mode"] is False
    assert mp["thresholds"] == [{"id": 3, "type": "classification", "min_score": 0.6},
                                {"id": 4, "type": "anomaly", "min_anomaly_score": 0.3}]
    assert h["inferencing_engine"]["engine_type"] == mp["inferencing_engine"] == 2
    assert "features_shm" not in h          # no segment factory in this session
    assert s.handle({"hello": 1, "id": 2}) == {
        "id": 2, "success": False, "error": "Invalid message 'hello', already initialized"}
    s2 = Session(model, make_segment=None)
    assert s2.handle({"hello": 2, "id": 1})["error"] == \
        "Invalid value for 'hello', only 1 supported"


def test_classify_equals_impulse_classify_on_every_window(impulse, session):
    for name in ("idle.01.json", "wave.01.json", "snake.01.json"):
        res, windows = recording_windows(impulse, name)
        for w, values in enumerate(windows):
            r = session.handle({"classify": values.astype(float).tolist(), "id": 100 + w})
            assert r["success"] is True and r["id"] == 100 + w
            got = np.array([r["result"]["classification"][lab] for lab in impulse.labels],
                           dtype=np.float32)
            np.testing.assert_array_equal(got, res.probabilities[w])
            assert np.float32(r["result"]["anomaly"]) == res.anomaly[w]
            assert r["prediction"] == res.predictions[w]
            t = r["timing"]
            for k in ("dsp", "classification", "anomaly", "json", "stdin"):
                assert isinstance(t[k], int) and isinstance(t[k + "_us"], int)
                assert t[k] == t[k + "_us"] // 1000
            assert t["dsp_us"] + t["classification_us"] + t["anomaly_us"] <= \
                t["msg_handler_us"] + 1


def test_float32_bundle(impulse):
    imp = Impulse.load(V1)
    m = EimModel(imp)
    assert m.variant == "float32"
    s = Session(m, make_segment=None)
    s.handle({"hello": 1, "id": 1})
    res, windows = recording_windows(imp, "wave.01.json")
    for w in (0, 7, len(windows) - 1):
        r = s.handle({"classify": windows[w].tolist(), "id": 2})
        got = np.array([r["result"]["classification"][lab] for lab in imp.labels],
                       dtype=np.float32)
        np.testing.assert_array_equal(got, res.probabilities[w])


def test_classify_errors(session):
    def err(msg):
        r = session.handle(msg)
        assert r["success"] is False, r
        return r["error"]
    assert err({"classify": [0.5] * 374, "id": 2}) == \
        "Invalid number of features in 'classify', expected 375 but got 374"
    assert err({"classify": [], "id": 2}) == \
        "Invalid number of features in 'classify', expected 375 but got 0"
    for bad in ([True] + [0.0] * 374, ["1.5"] + [0.0] * 374, [None] + [0.0] * 374,
                [[1.0]] + [0.0] * 374):
        assert err({"classify": bad, "id": 3}) == \
            "Failed to parse classify array, should contain all numbers"
    assert err({"classify": [1e39] + [0.0] * 374, "id": 4}).startswith(
        "Classifying failed: the recording holds 1 NaN/inf values")
    assert err({"classify": [10**400] + [0.0] * 374, "id": 4}).startswith(
        "Classifying failed:")
    assert err({"classify_continuous": [0.0] * 5, "id": 5}) == \
        "Invalid number of features in 'classify_continuous', expected 93 but got 5"
    assert err({"classify_shm": {"elements": 375}, "id": 6}) == \
        "Cannot use 'classify_data_shm', cannot find shm input tensor with ix=0"
    assert err({"classify_continuous_shm": {"elements": 93}, "id": 6}) == \
        "Cannot use 'classify_data_continuous_shm', cannot find shm input tensor with ix=0"
    assert err({"classify": "abc", "id": 7}) == "Failed to handle message"
    assert err({"bogus": 1, "id": 7}) == "Failed to handle message"
    assert session.handle({"classify": [0.0] * 375}) == {
        "success": False, "error": "Missing 'id' field in message"}
    assert session.handle({"classify": [0.0] * 375, "id": 1.0})["error"] == \
        "Missing 'id' field in message"
    assert session.handle({"classify": [0.0] * 375, "id": True})["error"] == \
        "Missing 'id' field in message"


def test_set_threshold_changes_the_prediction(impulse, session):
    res, windows = recording_windows(impulse, "wave.01.json")
    w = int(np.argmax(res.probabilities.max(axis=1) < 0.9))     # a window not fully sure
    top = float(res.probabilities[w].max())
    values = windows[w].tolist()
    before = session.handle({"classify": values, "id": 1})["prediction"]
    assert before == res.predictions[w]
    r = session.handle({"set_threshold": {"id": 3, "min_score": min(1.0, top + 0.01)}, "id": 2})
    assert r == {"id": 2, "success": True}
    assert session.handle({"classify": values, "id": 3})["prediction"] in ("uncertain",
                                                                          "anomaly")
    assert session.handle({"set_threshold": {"id": 4, "type": "anomaly",
                                             "min_anomaly_score": -1e9}, "id": 4})["success"]
    assert session.handle({"classify": values, "id": 5})["prediction"] == "anomaly"
    # errors change nothing
    for req, text in [
        ({"min_score": 0.5}, "set_threshold should have a numeric field 'id'"),
        ({"id": "3", "min_score": 0.5}, "set_threshold should have a numeric field 'id'"),
        ({"id": 99, "min_score": 0.5}, "set_threshold: cannot find learn block with id 99"),
        ({"id": 3, "min_score": "0.5"}, "set_threshold, value for 'min_score' should be "
                                        "numeric"),
        ({"id": 3, "min_score": 0.1, "nope": 1},
         "set_threshold, setting key 'nope' failed with error -34"),
    ]:
        r = session.handle({"set_threshold": req, "id": 9})
        assert r == {"id": 9, "success": False, "error": text}
    assert session.model.thresholds[3]["min_score"] == min(1.0, top + 0.01)


def test_continuous_slices_window_and_moving_average(impulse, model, session):
    """classify_continuous: all zeros until a window is full; then the window is the last
    window_samples rows received, and each label's probability is averaged over the last
    slices/2 results the SDK's way (float32 running sum over a zero-filled ring)."""
    W = impulse.window_samples
    rec = np.concatenate([load_recording(SAMPLES / n).values for n in
                          ("idle.01.json", "wave.01.json")]).astype(np.float32)
    S = model.slice_samples
    n_avg = model.average_over
    assert (S, n_avg) == (31, 2)
    ring = np.zeros((n_avg, len(impulse.labels)), dtype=np.float32)
    total = np.zeros(len(impulse.labels), dtype=np.float32)
    k = 0
    raw_results = []
    n_slices = len(rec) // S
    for i in range(n_slices):
        chunk = rec[i * S:(i + 1) * S]
        r = session.handle({"classify_continuous": chunk.reshape(-1).tolist(), "id": i})
        assert r["success"] is True, r
        got = np.array([r["result"]["classification"][lab] for lab in impulse.labels],
                       dtype=np.float32)
        received = (i + 1) * S
        if received < W:
            assert not got.any() and r["result"]["anomaly"] == 0.0
            continue
        window = rec[received - W:received]
        ref = impulse.classify(window)
        p = ref.probabilities[0]
        raw_results.append(p)
        total = (total - ring[k]) + p
        ring[k] = p
        k = (k + 1) % n_avg
        np.testing.assert_array_equal(got, total / np.float32(n_avg))
        assert np.float32(r["result"]["anomaly"]) == ref.anomaly[0]     # not averaged
        exact = (raw_results[-1] + (raw_results[-2] if len(raw_results) > 1 else 0)) / 2
        np.testing.assert_allclose(got, exact, atol=1e-6)
    assert len(raw_results) == n_slices - (W // S) == 20


def test_continuous_without_averaging_is_classify_of_the_last_window(impulse):
    m = EimModel(impulse, slices_per_window=5, average_over=1)
    assert m.slice_size == 25 * 3
    s = Session(m, make_segment=None)
    s.handle({"hello": 1, "id": 1})
    rec = load_recording(SAMPLES / "snake.01.json").values.astype(np.float32)
    for i in range(12):
        r = s.handle({"classify_continuous": rec[i * 25:(i + 1) * 25].reshape(-1).tolist(),
                      "id": i})
        if (i + 1) * 25 >= 125:
            ref = impulse.classify(rec[(i + 1) * 25 - 125:(i + 1) * 25])
            got = [r["result"]["classification"][lab] for lab in impulse.labels]
            np.testing.assert_array_equal(np.float32(got), ref.probabilities[0])
    # a bad slice is refused without touching the window
    assert s.handle({"classify_continuous": [1e39] * 75, "id": 99})["success"] is False
    r = s.handle({"classify_continuous": rec[300:325].reshape(-1).tolist(), "id": 100})
    ref = impulse.classify(np.concatenate([rec[200:300], rec[300:325]]))
    got = [r["result"]["classification"][lab] for lab in impulse.labels]
    np.testing.assert_array_equal(np.float32(got), ref.probabilities[0])


def test_model_settings_are_checked(impulse):
    with pytest.raises(ConfigurationError, match="slices per window must be 1..125"):
        EimModel(impulse, slices_per_window=0)
    with pytest.raises(ConfigurationError, match="unknown sensor"):
        EimModel(impulse, sensor="radar")
    assert infer_sensor(impulse) == "accelerometer"
    assert EimModel(impulse, sensor="fusion").hello()["model_parameters"]["sensor"] == 6


def test_debug_writes_the_features(model):
    lines: list[str] = []
    s = Session(model, make_segment=None, debug_out=lines.append)
    s.handle({"hello": 1, "id": 1})
    s.handle({"classify": [0.1] * 375, "id": 2})
    assert lines == []
    r = s.handle({"classify": [0.1] * 375, "id": 3, "debug": True})
    assert r["success"] and len(lines) == 1 and lines[0].startswith("Features of DSP block 2")
    assert len(lines[0].split(":", 1)[1].split()) == 33
    json.dumps(r)


def test_an_unexpected_failure_is_an_answer_not_a_crash(impulse, monkeypatch):
    m = EimModel(impulse)
    s = Session(m, make_segment=None)
    s.handle({"hello": 1, "id": 1})

    def broken(values):
        raise RuntimeError("boom")
    monkeypatch.setattr(m, "classify_window", broken)
    assert s.handle({"classify": [0.0] * 375, "id": 2}) == {
        "id": 2, "success": False, "error": "Classifying failed: RuntimeError: boom"}
    monkeypatch.undo()
    assert s.handle({"classify": [0.0] * 375, "id": 3})["success"] is True
