"""The `edgert info / classify / features` commands on the example recordings (JSON, CBOR,
CSV), their JSON output, the plot, and their errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgert.cli import main

DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
SAMPLES = DEMO / "samples"
V1 = DATA / "motion-demo-2020-v1"

needs_engine = pytest.mark.skipif(
    __import__("importlib").util.find_spec("edgert.engine") is None,
    reason="edgert.engine not available")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def features_only(tmp_path):
    b = tmp_path / "fo"
    shutil.copytree(DEMO, b, ignore=shutil.ignore_patterns("ei-sdk-reference.json", "samples",
                                                          "*.tflite", "anomaly-4.json"))
    doc = json.loads((b / "impulse.json").read_text())
    doc["learn"] = []
    (b / "impulse.json").write_text(json.dumps(doc))
    return b


def test_features_json_csv(capsys, features_only):
    code, out, _ = run(capsys, "features", str(features_only), str(SAMPLES / "updown.02.csv"),
                       "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["labels"]) == 33 and doc["labels"][0] == "accX RMS"
    assert len(doc["windows"]) == (500 - 125) // 5 + 1
    assert doc["windows"][25]["start_ms"] == 2000.0
    # the window at 2000 ms is the SDK's window 9: its features
    ref = json.loads((DEMO / "ei-sdk-reference.json").read_text())["windows"][9]["features"]
    np.testing.assert_allclose(doc["windows"][25]["features"], ref, rtol=2e-3, atol=2e-3)


def test_features_table(capsys, features_only):
    code, out, _ = run(capsys, "features", str(features_only), str(SAMPLES / "wave.01.json"))
    assert code == 0
    assert out.startswith("wave.01.json: 26 windows x 33 features")


def test_missing_bundle_is_an_error(capsys, caplog, tmp_path):
    code, out, err = run(capsys, "info", str(tmp_path / "nope"))
    assert code == 1 and out == ""
    assert "no such bundle" in err + caplog.text


def test_bad_recording_is_an_error(capsys, caplog, features_only, tmp_path):
    bad = tmp_path / "idle.csv"
    bad.write_text("timestamp,accX,accY,accZ\n0,1,2\n16,1,2,3\n")
    code, out, err = run(capsys, "features", str(features_only), str(bad))
    assert code == 1 and "columns" in err + caplog.text


def test_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--variant" in out and "--plot" in out


@needs_engine
def test_info(capsys):
    code, out, _ = run(capsys, "info", str(DEMO))
    assert code == 0
    assert "62.5 Hz" in out and "spectral-analysis v2" in out and "idle, snake, updown, wave" in out
    code, out, _ = run(capsys, "info", str(DEMO), "--json")
    d = json.loads(out)
    assert d["input"]["window_samples"] == 125 and d["variants"] == ["int8"]
    assert d["learn"][1]["clusters"] == 32


@needs_engine
@pytest.mark.parametrize("name", ["wave.01.json", "wave.02.cbor"])
def test_classify_json_and_cbor_agree(capsys, name):
    code, out, _ = run(capsys, "classify", str(DEMO), str(SAMPLES / name), "--json",
                       "--hmac-key", "edgert-demo-key")
    assert code == 0
    doc = json.loads(out)
    assert doc["success"] is True and doc["windowSizeMs"] == 2000
    keras = doc["classifications"][0]
    assert len(keras["result"]) == 26
    # windows 0 and 25 (0 ms, 2000 ms) are the SDK's windows 0 and 13: both "wave"
    for w in (0, 25):
        r = keras["result"][w]
        assert max((k for k in r if k != "anomaly"), key=r.get) == "wave"
    assert doc["sample"]["sample"]["label"] == "wave"
    assert doc["sample"]["sample"]["signatureValidate"] is True
    assert keras["expectedLabels"][0]["label"] == "wave"


@needs_engine
def test_classify_table_and_plot(capsys, tmp_path):
    png = tmp_path / "scores.png"
    code, out, _ = run(capsys, "classify", str(DEMO), str(SAMPLES / "idle.01.json"),
                       "--plot", str(png))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["start_ms", "end_ms", "idle", "snake", "updown", "wave"]
    assert "idle.01.json: 76 windows" in out and "model variant int8" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_engine
def test_classify_unknown_variant_errors(capsys, caplog):
    code, _, err = run(capsys, "classify", str(DEMO), str(SAMPLES / "wave.01.json"),
                       "--variant", "float32")
    assert code == 1 and "no float32 model" in err + caplog.text


@needs_engine
def test_classify_v1_bundle(capsys):
    code, out, _ = run(capsys, "classify", str(V1), str(SAMPLES / "wave.01.json"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["classifications"][0]["result"]) == 26
