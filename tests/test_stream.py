"""Streaming classification gives the numbers of whole-recording classification, whatever
the chunk sizes; smoothing averages over the results actually held."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgert.errors import ConfigurationError, InputError
from edgert.runtime.stream import Smoothing, _Ring

DEMO = Path(__file__).parent / "data" / "motion-demo"
# the native engine and the TFLite interpreter must both reproduce the SDK
BACKENDS = ["native", "tflite"]


def test_ring_buffer_keeps_the_last_rows():
    r = _Ring(5, 2)
    seen = np.zeros((0, 2), np.float32)
    rng = np.random.default_rng(0)
    for n in [1, 3, 0, 7, 2, 5, 11, 1]:
        x = rng.normal(size=(n, 2)).astype(np.float32)
        r.write(x)
        seen = np.concatenate([seen, x])
        k = min(5, len(seen))
        assert np.array_equal(r.last(k), seen[-k:])
    with pytest.raises(ValueError):
        _Ring(3, 1).last(1)


def test_smoothing_validation():
    with pytest.raises(ConfigurationError):
        Smoothing(window=0)
    with pytest.raises(ConfigurationError):
        Smoothing(threshold=1.5)


@pytest.fixture(scope="module", params=BACKENDS)
def imp(request):
    pytest.importorskip("edgert.engine")
    from edgert.runtime.impulse import Impulse
    return Impulse.load(DEMO, backend=request.param)


@pytest.fixture(scope="module")
def recording():
    ref = json.loads((DEMO / "ei-sdk-reference.json").read_text())["windows"]
    return np.concatenate([np.asarray(w["raw"], np.float32).reshape(125, 3) for w in ref[:8]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stream_equals_classify(imp, recording, seed):
    ref = imp.classify(recording)
    st = imp.stream()
    rng = np.random.default_rng(seed)
    got = []
    pos = 0
    while pos < len(recording):
        n = int(rng.choice([1, 2, 3, 5, 7, 40, 130, 300]))
        chunk = recording[pos:pos + n]
        pos += n
        got += st.push(chunk if seed != 1 else chunk.reshape(-1))   # flat chunks too
    assert len(got) == len(ref)
    assert [g.start_ms for g in got] == ref.start_ms.tolist()
    assert np.array_equal(np.array([[g.scores[lab] for lab in imp.labels] for g in got]),
                          ref.probabilities.astype(np.float64))
    assert np.array_equal(np.array([g.anomaly for g in got]), ref.anomaly.astype(np.float64))


def test_stream_one_window_every_increase(imp, recording):
    st = imp.stream()
    assert st.push(recording[:124]) == []
    assert len(st.push(recording[124:125])) == 1
    assert st.push(recording[125:129]) == []
    assert len(st.push(recording[129:130])) == 1
    assert st.samples_received == 130


def test_smoothing_averages_held_results(imp, recording):
    ref = imp.classify(recording)
    K = 4
    st = imp.stream(smoothing=Smoothing(window=K, threshold=0.6, suppress_repeats=False))
    got = st.push(recording)
    P = ref.probabilities.astype(np.float64)
    for i, g in enumerate(got):
        lo = max(0, i - K + 1)
        expect = P[lo:i + 1].mean(axis=0)            # divisor = results actually held
        np.testing.assert_allclose([g.smoothed[lab] for lab in imp.labels], expect, rtol=1e-6)
        best = int(np.argmax(expect))
        an = ref.anomaly[lo:i + 1].astype(np.float64).mean()
        if an > 0.3:
            assert g.detection == "anomaly"
        elif expect[best] >= 0.6:
            assert g.detection == imp.labels[best]
        else:
            assert g.detection is None


def test_suppression_of_repeats(imp, recording):
    plain = imp.stream(smoothing=Smoothing(window=3, threshold=0.6, suppress_repeats=False))
    raw = [g.detection for g in plain.push(recording)]
    st = imp.stream(smoothing=Smoothing(window=3, threshold=0.6, suppress_repeats=True))
    got = st.push(recording)
    for i, g in enumerate(got):
        repeat = raw[i] is not None and i > 0 and raw[i] == raw[i - 1]
        assert g.suppressed == repeat
        assert g.detection == (None if repeat else raw[i])
    assert any(g.suppressed for g in got)


def test_stream_bad_chunks(imp):
    st = imp.stream()
    with pytest.raises(InputError):
        st.push(np.zeros((4, 2)))
    with pytest.raises(InputError):
        st.push(np.array([[np.nan, 0, 0]]))
    assert st.samples_received == 0


def test_stream_with_increase_longer_than_the_window(tmp_path, recording):
    """Windows every 3 s of 2 s: the samples between windows are skipped, as classify does."""
    pytest.importorskip("edgert.engine")
    import shutil
    from edgert.runtime.impulse import Impulse
    b = tmp_path / "b"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples"))
    doc = json.loads((b / "impulse.json").read_text())
    doc["input"]["window_increase_ms"] = 3000
    (b / "impulse.json").write_text(json.dumps(doc))
    imp2 = Impulse.load(b)
    assert imp2.window_increase_samples == 188 > imp2.window_samples
    ref = imp2.classify(recording)
    st = imp2.stream()
    got = []
    for i in range(0, len(recording), 37):
        got += st.push(recording[i:i + 37])
    assert [g.start_ms for g in got] == ref.start_ms.tolist() == [0.0, 3008.0, 6016.0, 9024.0,
                                                                   12032.0]
    assert np.array_equal(np.array([g.anomaly for g in got]), ref.anomaly.astype(np.float64))


def test_stream_non_numeric_chunk_is_an_input_error(imp):
    st = imp.stream()
    with pytest.raises(InputError, match="numbers"):
        st.push([["a", "b", "c"]])
    with pytest.raises(InputError):
        st.push([[1e39, 0, 0]])          # beyond float32: inf
    with pytest.raises(InputError, match="complex"):
        st.push(np.ones((3, 3), complex))
    with pytest.raises(InputError, match="numbers"):
        st.push([[1, 2, 3], [1, 2]])     # ragged
    assert st.samples_received == 0


def test_stream_of_single_samples_does_bounded_work(imp, recording, monkeypatch):
    """Pushing one sample at a time: every window is computed once, from at most one window of
    raw rows, however long the stream has run (no history kept or re-read: linear cost) - one
    compiled-plan call per window (native), or one batch-path call (the interpreter backend,
    which the plan does not run)."""
    from edgert.runtime.impulse_plan import PASS_WINDOWS
    calls = []
    real_compute = type(imp)._compute

    def spy(self, data, starts, variant, threads):
        calls.append((data.shape[0], len(starts)))
        return real_compute(self, data, starts, variant, threads)

    monkeypatch.setattr(type(imp), "_compute", spy)
    st = imp.stream()
    assert (st._plan is not None) == (imp.backend == "native")
    if st._plan is not None:     # the stream's one C call per push with windows due
        real_call = st._out.call

        def spy_plan(data_ptr, n_rows, n_windows):
            calls.append((n_rows, n_windows))
            return real_call(data_ptr, n_rows, n_windows)
        st._out.call = spy_plan
    x = np.tile(recording, (3, 1))
    n = sum(len(st.push(x[i:i + 1])) for i in range(len(x)))
    assert n == len(calls) == (len(x) - 125) // 5 + 1
    assert all(rows == 125 and k == 1 for rows, k in calls)
    held = st._rows if st._plan is not None else st._ring.buf
    assert held.shape[0] <= 125 + PASS_WINDOWS * 5
