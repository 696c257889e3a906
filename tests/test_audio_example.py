"""The audio example (examples/kws-demo): Edge Impulse's keyword-spotting demo imported with
`edgert import` from its public export, run on speech synthesised with espeak-ng
(examples/kws-demo/audio, segments.json says what is where).

What is asserted is what a listener would expect, per window: a window that holds a whole
"hello world" is `helloworld`; a window holding a whole other phrase is `unknown`; a window of
room noise alone is `noise`; no window without "hello world" in it is `helloworld`. And the
exactness the runtime promises on this real export: features equal the numpy reference of the
spec, the int8 network's outputs equal tflite-micro's on edgert's features, a stream of the
recordings (slice by slice) equals whole-recording classification.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgert import Impulse, load_recording
from edgert.cli import main
from edgert.engine import quantize
from edgert.importer.bundle_writer import import_export
from tests.oracles import MicroOracle
from tests.reference import audio_ref

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kws-demo"
AUDIO = EXAMPLE / "audio"
EXPORT = ROOT / "tests" / "data" / "exports" / "esp32-kws-2026"
SEGMENTS = json.loads((AUDIO / "segments.json").read_text())["files"]


@pytest.fixture(scope="module")
def imp() -> Impulse:
    return Impulse.load(EXAMPLE, backend="native")


@pytest.fixture(scope="module")
def results(imp):
    return {name: imp.classify(load_recording(AUDIO / name)) for name in SEGMENTS}


def test_the_example_is_the_imported_public_export(tmp_path):
    doc = json.loads((EXAMPLE / "impulse.json").read_text())
    prov = doc["provenance"]
    assert prov["source"] == "tests/data/exports/esp32-kws-2026"
    assert "edgeimpulse/firmware-espressif-esp32" in prov["notes"][0]
    assert doc["project"] == {"id": 44, "name": "Demo: Keyword Spotting",
                              "owner": "Edge Impulse Profiling", "deploy_version": 27}
    # importing the export again gives the same impulse: configuration and model bytes
    fresh = Path(import_export(str(EXPORT), str(tmp_path / "b")).bundle)
    again = json.loads((fresh / "impulse.json").read_text())
    for key in ("project", "input", "dsp", "learn"):
        assert again[key] == doc[key], key
    assert {f["sha256"] for f in again["provenance"]["files"]} == \
        {f["sha256"] for f in prov["files"]}
    model = doc["learn"][0]["models"]["int8"]
    assert (fresh / model).read_bytes() == (EXAMPLE / model).read_bytes()


def _windows(res, seg):
    """Indices of the windows that hold the whole segment."""
    return [w for w in range(len(res)) if res.start_ms[w] <= seg["start_ms"] and
            res.end_ms[w] >= seg["end_ms"]]


def _speech_free(res, segments):
    return [w for w in range(len(res)) if all(
        res.end_ms[w] <= s["start_ms"] or res.start_ms[w] >= s["end_ms"] for s in segments)]


def test_every_whole_hello_world_is_recognised(results):
    res = results["helloworld.01.wav"]
    segs = SEGMENTS["helloworld.01.wav"]["segments"]
    assert len(segs) == 3
    for seg in segs:
        holding = _windows(res, seg)
        assert holding, seg
        assert [res.predictions[w] for w in holding] == ["helloworld"] * len(holding), seg
    assert {res.predictions[w] for w in _speech_free(res, segs)} == {"noise"}


def test_other_phrases_are_unknown_never_hello_world(results):
    res = results["unknown.01.wav"]
    segs = SEGMENTS["unknown.01.wav"]["segments"]
    for seg in segs:
        holding = _windows(res, seg)
        assert holding and all(res.predictions[w] == "unknown" for w in holding), seg
    assert "helloworld" not in set(res.predictions.tolist())
    assert {res.predictions[w] for w in _speech_free(res, segs)} == {"noise"}


def test_room_noise_is_noise(results):
    res = results["noise.01.wav"]
    assert len(res) == 17 and set(res.predictions.tolist()) == {"noise"}


def test_features_match_the_reference_and_the_network_matches_tflite_micro(imp, results):
    spec = imp.dsp_blocks[0].spec
    learn = imp.bundle.learn[0]
    mf = learn.models["int8"]
    oracle = MicroOracle(mf.data)
    for name, res in results.items():
        W = imp.window_samples
        feats = res.features[spec.id]
        want = np.stack([audio_ref.features("mfcc", 4, spec.params, imp.frequency,
                                            res.data[s:s + W, 0])[0] for s in res.start_rows])
        err = np.abs(feats.astype(np.float64) - want) / np.maximum(1, np.abs(want))
        assert err.max() <= 1e-4, name
        t_in, t_out = mf.inputs[0], mf.outputs[0]
        q = quantize(feats, t_in.scale, t_in.zero_point).reshape((len(feats),) + t_in.shape[1:])
        raw = oracle.invoke_batch(q)[0].reshape(len(feats), -1)
        got = imp.learn_blocks[0].invoke(q, "int8")
        np.testing.assert_array_equal(got, raw, err_msg=name)
        np.testing.assert_array_equal(res.probabilities,
                                      (raw.astype(np.float32) - t_out.zero_point) *
                                      np.float32(t_out.scale), err_msg=name)


def test_streaming_the_recordings_slice_by_slice_equals_classify(imp):
    x = np.concatenate([load_recording(AUDIO / n).values for n in SEGMENTS]).astype(np.float32)
    ref = imp.classify(x, frequency=imp.frequency)
    st = imp.stream()
    assert st.continuous
    rng = np.random.default_rng(3)
    got, pos = [], 0
    while pos < len(x):
        n = int(rng.choice([1, 160, 1000, 4000, 9999]))
        got += st.push(x[pos:pos + n])
        pos += n
    assert [g.window.index for g in got] == list(range(len(ref)))
    np.testing.assert_array_equal(np.array([[g.scores[lab] for lab in imp.labels] for g in got],
                                           dtype=np.float32), ref.probabilities)
    assert [g.window.label for g in got] == ref.predictions.tolist()


def test_the_readme_command(capsys, tmp_path):
    assert main(["classify", str(EXAMPLE), str(AUDIO / "helloworld.01.wav")]) == 0
    out = capsys.readouterr().out
    assert "expected label: helloworld" in out
    assert "helloworld noise unknown" not in out     # a table, not a bare list
    rows = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert len(rows) == 21 and {r[-1] for r in rows} >= {"helloworld", "noise", "unknown"}
    # the example works from a copy of the folder (nothing outside it is read)
    shutil.copytree(EXAMPLE, tmp_path / "kws")
    assert main(["classify", str(tmp_path / "kws"), str(tmp_path / "kws" / "audio" /
                                                        "noise.01.wav"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["classifications"][0]["result"]) == 17
