"""Audio impulses end to end: the test bundles of tests/data/audio (MFCC and MFE blocks, int8
classifiers) classify WAV files and Ref-BINARY-i16 data-acquisition documents through the
API and the CLI (classify, features, classify-all); the network's int8 output is bit for bit
TFLite Micro's on edgert's features; a 44.1 kHz WAV is resampled to the impulse's 16 kHz."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor
from edgert.cli import main
from edgert import Impulse
from edgert.recording import load_recording
from edgert.recording.wav import write_wav

from .oracles import MicroOracle

DATA = Path(__file__).parent / "data" / "audio"
sys.path.insert(0, str(DATA))
from make_bundles import LABELS, synth_clip  # noqa: E402

BUNDLES = ["kws-mfcc", "mfe"]


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    """Held-out synthetic sounds (another seed than the training clips): beep, hum, noise, 2 s
    each."""
    rng = np.random.default_rng(2024)
    return np.concatenate([synth_clip(label, 2.0, rng) for label in LABELS])


def segment_truth(start_ms: np.ndarray, window_ms: float) -> list:
    """The label of windows lying entirely inside one 2-second clip (None across a join)."""
    out = []
    for s in start_ms:
        a, b = int(s // 2000), int((s + window_ms - 1) // 2000)
        out.append(LABELS[a] if a == b else None)
    return out


@pytest.mark.parametrize("name", BUNDLES)
def test_wav_end_to_end_bit_exact_with_tflite_micro(tmp_path, clips, name):
    bundle = DATA / name
    write_wav(tmp_path / "mix.wav", clips, 16000)
    imp = Impulse.load(bundle)
    rec = load_recording(tmp_path / "mix.wav")
    res = imp.classify(rec.values, frequency=rec.frequency, axes=rec.axes)
    assert res.variant == "int8"
    # windows inside one clip are that clip's sound
    truth = segment_truth(res.start_ms, imp.window_size_ms)
    preds = res.predictions
    inside = [(t, p) for t, p in zip(truth, preds) if t is not None]
    assert len(inside) >= 6 and all(t == p for t, p in inside), inside
    # the network on edgert's features: edgert's engine == TFLite Micro, bit for bit
    feats = imp.features(rec.values, frequency=rec.frequency, axes=rec.axes).features
    runner = imp.learn_blocks[0]
    xq = runner.quantize_input(feats, "int8")
    ours = runner.invoke(xq, "int8")
    micro = MicroOracle((bundle / "model-i8.tflite").read_bytes()).invoke_batch(xq)[0]
    np.testing.assert_array_equal(ours, micro.reshape(ours.shape))
    np.testing.assert_array_equal(res.probabilities, runner.dequantize_output(ours, "int8"))


def test_resampled_wav_and_binary_document_classify_alike(tmp_path, clips):
    """A 44.1 kHz WAV is resampled to 16 kHz (as sensor data is) and classifies as the 16 kHz
    original; a CBOR Ref-BINARY-i16 document of the samples gives the WAV's result exactly."""
    imp = Impulse.load(DATA / "kws-mfcc")
    write_wav(tmp_path / "mix.wav", clips, 16000)
    write_wav(tmp_path / "mix44.wav", sps.resample_poly(clips, 441, 160), 44100)
    doc = DataAcquisition(device_name="disco", device_type="DISCO-L475VG-IOT01A",
                          interval_ms=1000 / 16000, sensors=[Sensor("audio", "wav")],
                          values=clips.astype(np.int16))
    (tmp_path / "mix.cbor").write_bytes(encode_cbor(doc))
    results = {}
    for f in ("mix.wav", "mix44.wav", "mix.cbor"):
        rec = load_recording(tmp_path / f)
        results[f] = imp.classify(rec.values, frequency=rec.frequency, axes=rec.axes)
    assert results["mix44.wav"].resampled and not results["mix.wav"].resampled
    np.testing.assert_array_equal(results["mix.cbor"].probabilities,
                                  results["mix.wav"].probabilities)
    a, b = results["mix.wav"].predictions, results["mix44.wav"].predictions
    truth = segment_truth(results["mix.wav"].start_ms, imp.window_size_ms)
    assert all(x == y for x, y, t in zip(a, b, truth) if t is not None)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_classify_and_features_on_wav(tmp_path, capsys, clips):
    write_wav(tmp_path / "hum.1.wav", clips[32000:64000], 16000)
    code, out, _ = run(capsys, "classify", str(DATA / "kws-mfcc"), str(tmp_path / "hum.1.wav"),
                       "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["success"] is True
    code, out, _ = run(capsys, "classify", str(DATA / "kws-mfcc"), str(tmp_path / "hum.1.wav"))
    assert code == 0 and "expected label: hum" in out and "predictions (min_score 0.6): hum 5" in out
    code, out, _ = run(capsys, "features", str(DATA / "mfe"), str(tmp_path / "hum.1.wav"),
                       "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["labels"]) == 3960 and doc["labels"][:2] == ["audio f0 mel0", "audio f0 mel1"]
    assert len(doc["windows"]) == 3 and len(doc["windows"][0]["features"]) == 3960
    # MFE v4 values are multiples of 1/256 in [0, 1)
    v = np.asarray(doc["windows"][1]["features"])
    assert np.all((v >= 0) & (v < 1)) and np.all(np.round(v * 256) == v * 256)


def test_cli_classify_all_on_a_folder_of_wavs(tmp_path, capsys):
    rng = np.random.default_rng(77)
    for label in LABELS:
        for k in range(2):
            (tmp_path / "ds" / "testing").mkdir(parents=True, exist_ok=True)
            write_wav(tmp_path / "ds" / "testing" / f"{label}.{k}.wav",
                      synth_clip(label, 1.5, rng), 16000)
    code, out, _ = run(capsys, "classify-all", str(DATA / "kws-mfcc"), str(tmp_path / "ds"),
                       "--index", str(tmp_path / "idx.sqlite"), "--json")
    assert code == 0
    page = json.loads(out)
    assert page["totalCount"] == 6
    code, out, _ = run(capsys, "classify-all", str(DATA / "kws-mfcc"), str(tmp_path / "ds"),
                       "--index", str(tmp_path / "idx.sqlite"))
    assert code == 0
    for label in LABELS:
        assert f"{label}.0" in out and f"{label}.1" in out
    assert out.count("3/3 windows correct") == 6


def test_bundle_rejects_unknown_audio_version(tmp_path):
    b = tmp_path / "b"
    shutil.copytree(DATA / "kws-mfcc", b)
    doc = json.loads((b / "impulse.json").read_text())
    doc["dsp"][0]["implementation_version"] = 5
    (b / "impulse.json").write_text(json.dumps(doc))
    from edgert.errors import BundleError
    with pytest.raises(BundleError, match=r"dsp\[0\]\.implementation_version.*mfcc versions 1-4"):
        Impulse.load(b)
