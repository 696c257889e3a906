"""Continuous audio, as Edge Impulse's run_classifier_continuous: `Impulse.stream()` and the
`.eim` runner's `classify_continuous` compute audio features slice by slice
(edgert.runtime.continuous.SliceFeatures over ContinuousFeatures) and give, slice for slice,
exactly what whole-window classification gives - whatever the chunk sizes, when the slice is
not a multiple of the frame stride, when the window is not a multiple of the slice - while
computing each frame once. The SDK's moving-average filter is reproduced as the SDK had it.
The official client (edge_impulse_linux's ImpulseRunner, unmodified) drives the runner."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgert import Impulse, load_recording
from edgert.dsp import audio as audio_module
from edgert.eim import write_eim
from edgert.eim.model import EimModel
from edgert.eim.session import Session
from edgert.errors import ConfigurationError
from edgert.runtime.continuous import (MovingAverageFilter, SliceFeatures,
                                       continuous_unsupported_reason)
from edgert.runtime.stream import Smoothing

from .eim_helpers import official_runner_module, stop_and_reap

ROOT = Path(__file__).resolve().parent.parent
KWS = ROOT / "examples" / "kws-demo"
AUDIO = KWS / "audio"
DATA = ROOT / "tests" / "data"
SPEECH = ("helloworld.01.wav", "unknown.01.wav", "noise.01.wav")


def speech() -> np.ndarray:
    return np.concatenate([load_recording(AUDIO / n).values for n in SPEECH]).astype(np.float32)


def variant_bundle(tmp: Path, dsp: dict, increase_ms: float, window_ms: float = 1000.0) -> Path:
    """The audio test bundle tests/data/audio/mfe (its classifier takes 3960 features) with
    another window increase, or the kws example with another DSP configuration of the same
    feature count."""
    src = KWS if dsp["type"] == "mfcc" else DATA / "audio" / "mfe"
    b = tmp / f"b{len(list(tmp.iterdir()))}"
    shutil.copytree(src, b)
    doc = json.loads((b / "impulse.json").read_text())
    doc["input"]["window_increase_ms"] = increase_ms
    doc["input"]["window_size_ms"] = window_ms
    doc["dsp"][0].update(dsp)
    (b / "impulse.json").write_text(json.dumps(doc))
    return b


def push_in_chunks(st, x: np.ndarray, seed: int, sizes=(1, 7, 160, 999, 4000, 12345)):
    rng = np.random.default_rng(seed)
    got, pos = [], 0
    while pos < len(x):
        n = int(rng.choice(sizes))
        got += st.push(x[pos:pos + n])
        pos += n
    return got


def assert_stream_equals_classify(imp: Impulse, x: np.ndarray, seed: int) -> None:
    ref = imp.classify(x, frequency=imp.frequency)
    st = imp.stream()
    assert st.continuous
    got = push_in_chunks(st, x, seed)
    assert [g.window.index for g in got] == list(range(len(ref)))
    assert [g.start_ms for g in got] == ref.start_ms.tolist()
    np.testing.assert_array_equal(
        np.array([[g.scores[lab] for lab in imp.labels] for g in got], np.float32),
        ref.probabilities)
    assert [g.window.label for g in got] == ref.predictions.tolist()


@pytest.mark.parametrize("increase_ms,dsp", [
    (250, {}),                                           # 4000-sample slices, 320-sample stride
    (300, {}),                                           # W % S = 1600: 3200 lead rows
    (100, {"frame_stride": 0.015, "frame_length": 0.025, "implementation_version": 3}),
    (1000, {}),                                          # one slice per window: nothing reused
], ids=["studio", "lead", "stride-not-dividing", "slice-is-window"])
def test_kws_stream_equals_classify_slice_for_slice(tmp_path, increase_ms, dsp):
    if "frame_stride" in dsp:
        # 15 ms stride: 66 frames x 13 = 858 features; the network takes 650, so only the
        # features are compared here, against the whole-window block
        imp = Impulse.load(variant_bundle(tmp_path, {"type": "mfcc", **dsp}, increase_ms))
        x = speech()[:60000]
        blk = imp.dsp_blocks[0]
        W, S = imp.window_samples, imp.window_increase_samples
        sf = SliceFeatures(imp, S, lead=(-W) % S)
        got = np.concatenate([sf.push(x[i:i + 3333])[blk.spec.id]
                              for i in range(0, len(x), 3333)])
        starts = np.arange(0, len(x) - W + 1, S)
        want = blk.block.features_batch(x, starts.astype(np.int32), W)
        np.testing.assert_array_equal(got, want)
        return
    imp = Impulse.load(variant_bundle(tmp_path, {"type": "mfcc", **dsp}, increase_ms))
    assert_stream_equals_classify(imp, speech(), seed=increase_ms)


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_mfe_stream_equals_classify(tmp_path, version):
    """MFE v1/v2 normalise and scale over the whole window, v3/v4 pre-emphasise circularly:
    both are finished on the assembled window."""
    params = {"type": "mfe", "implementation_version": version}
    if version <= 3:
        params["params"] = {"low_frequency": 300, "num_filters": 40}
    # version 1 drops the last frame: a 10 ms longer window keeps the 99 frames the
    # classifier takes
    imp = Impulse.load(variant_bundle(tmp_path, params, 300, 1010.0 if version == 1 else 1000.0))
    assert_stream_equals_classify(imp, speech()[:70000], seed=version)


def test_spectrogram_v3_rescale_decision_is_the_windows(tmp_path):
    """Spectrogram v3 rescales a window only when one of its samples is outside [-1, 1]: a
    stream that alternates quiet (|x| <= 1) and loud parts, windows straddling both."""
    b = tmp_path / "spec"
    shutil.copytree(DATA / "exports" / "cn0549-spectrogram-2023", tmp_path / "export")
    from edgert.importer.bundle_writer import import_export
    imp = Impulse.load(import_export(str(tmp_path / "export"), str(b)).bundle)
    assert imp.dsp_blocks[0].spec.implementation_version == 3
    rng = np.random.default_rng(2)
    n = imp.window_samples * 6
    x = rng.uniform(-1, 1, n)
    x[n // 3:n // 2] *= 3000
    assert_stream_equals_classify(imp, x[:, None].astype(np.float32), seed=5)


@pytest.mark.parametrize("increase_ms", [250, 320])
def test_frames_are_reused_while_the_window_slides(monkeypatch, tmp_path, increase_ms):
    """Whole-window computation costs 50 frames per window (20 ms frames every 20 ms). Sliding,
    frames line up between windows G slices apart (G = stride / gcd(slice, stride): 2 for
    250 ms slices, 1 for 320 ms): after the first G windows, a window computes only the d
    frames its last G slices added plus its wrap frame (circular pre-emphasis)."""
    imp = Impulse.load(variant_bundle(tmp_path, {"type": "mfcc"}, increase_ms))
    computed = []
    real = audio_module.lib

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def edgert_audio_frame_rows(self, *args):
            computed.append(args[5])          # count
            return real.edgert_audio_frame_rows(*args)

    monkeypatch.setattr(audio_module, "lib", Spy())
    st = imp.stream()
    x = speech()[:16000 * 6]
    n = len(push_in_chunks(st, x, seed=1))
    S, stride, F = imp.window_increase_samples, 320, 50
    G = stride // np.gcd(S, stride)
    d = G * S // stride
    assert (G, d) == ((2, 25) if increase_ms == 250 else (1, 16))
    assert n > 2 * G
    assert sum(computed) == G * F + (n - G) * (d + 1)
    monkeypatch.setattr(audio_module, "lib", real)
    assert_stream_equals_classify(imp, x, seed=9)


def test_which_impulses_stream_slice_by_slice(tmp_path):
    motion = Impulse.load(ROOT / "examples" / "motion-demo")
    assert "MFCC, MFE and spectrogram blocks only" in continuous_unsupported_reason(motion)
    assert not motion.stream().continuous
    with pytest.raises(ConfigurationError, match="cannot be streamed slice by slice"):
        motion.stream(continuous=True)
    kws = Impulse.load(KWS)
    # whole windows on request (the compiled plan): the same numbers
    whole = kws.stream(continuous=False)
    assert not whole.continuous and kws.stream(continuous=True).continuous
    x = speech()[:16000 * 3]
    a = push_in_chunks(whole, x, seed=4)
    b = push_in_chunks(kws.stream(), x, seed=4)
    assert [r.scores for r in a] == [r.scores for r in b] and len(a) == 9
    whole.reset()
    assert not whole.continuous
    assert continuous_unsupported_reason(kws) is None
    assert continuous_unsupported_reason(kws, 16001) is not None
    with pytest.raises(ConfigurationError, match="does not fit the window"):
        SliceFeatures(kws, 0)
    # an increase longer than the window (gaps between windows): the whole-window path
    gaps = Impulse.load(variant_bundle(tmp_path, {"type": "mfcc"}, 1500))
    st = gaps.stream()
    assert not st.continuous
    x = speech()[:16000 * 6]
    got = [r for i in range(0, len(x), 5000) for r in st.push(x[i:i + 5000])]
    ref = gaps.classify(x, frequency=16000)
    assert [g.start_ms for g in got] == ref.start_ms.tolist()


def test_stream_reset_and_bad_chunks():
    imp = Impulse.load(KWS)
    st = imp.stream()
    x = speech()[:40000]
    first = st.push(x)
    st.reset()
    again = st.push(x)
    assert [r.scores for r in first] == [r.scores for r in again]
    from edgert.errors import InputError
    bad = x[:100].copy()
    bad[5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        st.push(bad)
    more = st.push(x[:4000])            # the refused chunk left nothing behind
    ref = imp.classify(np.concatenate([x, x[:4000]]), frequency=16000)
    assert more[-1].scores == ref[len(ref) - 1].scores


# ------------------------------------------------------------------- the SDK's filter
def test_moving_average_filter_is_the_sdks():
    """Zero-filled ring, float32 running sum, divided by n from the first result on."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (9, 3)).astype(np.float32)
    maf = MovingAverageFilter(3, 3)
    ring = np.zeros((3, 3), np.float32)
    total = np.zeros(3, np.float32)
    for k in range(9):
        total = (total - ring[k % 3]) + p[k]
        ring[k % 3] = p[k]
        np.testing.assert_array_equal(maf(p[k]), total / np.float32(3))
        exact = p[max(0, k - 2):k + 1].astype(np.float64).sum(axis=0) / 3
        np.testing.assert_allclose(maf._sum / 3, exact, atol=1e-6)
    assert MovingAverageFilter(1, 3)(p[0]).tolist() == p[0].tolist()


def test_stream_smoothing_the_sdks_way():
    imp = Impulse.load(KWS)
    x = load_recording(AUDIO / "helloworld.01.wav").values
    ref = imp.classify(x)
    st = imp.stream(smoothing=Smoothing.sdk(4))
    assert st.smoothing.window == 2 and st.smoothing.sdk_filter
    got = st.push(x)
    p = ref.probabilities
    for k, r in enumerate(got):
        prev = p[k - 1] if k else np.zeros_like(p[0])
        want = (prev + p[k]) / np.float32(2)
        np.testing.assert_allclose([r.smoothed[lab] for lab in imp.labels], want, atol=1e-6)
    # the first result is diluted by the filter's zeros: no detection although noise is 0.99
    assert got[0].scores["noise"] > 0.99 and got[0].detection is None
    detections = [(r.start_ms, r.detection) for r in got if r.detection == "helloworld"]
    assert [d[0] for d in detections] == [750.0, 2750.0, 4500.0]


# ------------------------------------------------------------------------ .eim runner
@pytest.mark.parametrize("slices", [4, 3])
def test_eim_classify_continuous_equals_classify_of_each_window(slices):
    """slices=3: 5333-sample slices, so the window reaches into an older slice, and slices
    are not a multiple of the frame stride."""
    imp = Impulse.load(KWS)
    m = EimModel(imp, slices_per_window=slices, average_over=1)
    s = Session(m, make_segment=None)
    s.handle({"hello": 1, "id": 1})
    assert s.continuous.slices is not None
    S, W = m.slice_samples, imp.window_samples
    x = speech()[:S * 12]
    for i in range(12):
        r = s.handle({"classify_continuous": x[i * S:(i + 1) * S, 0].tolist(), "id": i + 2})
        got = np.array([r["result"]["classification"][lab] for lab in imp.labels], np.float32)
        end = (i + 1) * S
        if end < W:
            assert not got.any()
            continue
        ref = imp.classify(x[end - W:end], frequency=16000)
        np.testing.assert_array_equal(got, ref.probabilities[0])
        assert r["prediction"] == ref.predictions[0]
        assert r["timing"]["dsp_us"] >= 0


@pytest.fixture(scope="module")
def kws_eim(tmp_path_factory) -> Path:
    return write_eim(KWS, tmp_path_factory.mktemp("eim") / "kws.eim").path


def test_official_client_continuous_audio(kws_eim):
    """edge_impulse_linux's ImpulseRunner: the hello says microphone and continuous mode; each
    slice of the recordings (sent with the client's own send_msg) gives the SDK's moving
    average (slices/2 = 2 results) of whole-window classification."""
    official = official_runner_module()
    imp = Impulse.load(KWS)
    runner = official.ImpulseRunner(str(kws_eim))
    info = runner.init()
    try:
        mp = info["model_parameters"]
        assert mp["sensor"] == 1 and mp["use_continuous_mode"] is True
        assert mp["slice_size"] == 4000 and mp["input_features_count"] == 16000
        x = load_recording(AUDIO / "helloworld.01.wav").values
        ref = imp.classify(x)           # windows every 4000 samples: the slices' windows
        S = 4000
        maf = MovingAverageFilter(2, len(imp.labels))
        k = 0
        for i in range(len(x) // S):
            out = runner.send_msg({"classify_continuous": x[i * S:(i + 1) * S, 0].tolist()})
            got = np.array([out["result"]["classification"][lab] for lab in imp.labels],
                           np.float32)
            if (i + 1) * S < 16000:
                assert not got.any()
                continue
            np.testing.assert_array_equal(got, maf(ref.probabilities[k]))
            k += 1
        assert k == len(ref)
        # classify (one whole window) still works next to it
        one = runner.classify(x[4000:20000, 0].tolist())
        assert one["result"]["classification"]["helloworld"] == pytest.approx(
            float(ref.probabilities[1][0]), abs=1e-7)
    finally:
        stop_and_reap(runner)


def test_stream_without_a_compiled_plan_runs_the_learn_blocks_batched():
    """With the TFLite interpreter backend there is no C plan: the slice-by-slice features go
    through the batch path's learn blocks (same numbers)."""
    imp = Impulse.load(KWS, backend="tflite")
    assert imp.plan_unsupported_reason() is not None
    st = imp.stream()
    assert st.continuous and st._learn_plan is None
    x = speech()[:16000 * 4]
    got = push_in_chunks(st, x, seed=2)
    ref = imp.classify(x, frequency=16000)
    np.testing.assert_array_equal(
        np.array([[g.scores[lab] for lab in imp.labels] for g in got], np.float32),
        ref.probabilities)
    assert [g.window.index for g in got] == list(range(len(ref)))
