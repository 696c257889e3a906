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


def _bad_inputs(tmp: Path) -> dict:
    """name -> argv of a command given bad input (files made in ``tmp``)."""
    (tmp / "adir.json").mkdir()
    (tmp / "corrupt.zip").write_bytes(b"PK\x03\x04 not really a zip")
    garbage = tmp / "garbage-model"
    shutil.copytree(DEMO, garbage, ignore=shutil.ignore_patterns("ei-sdk-reference.json",
                                                                "samples"))
    (garbage / "nn-i8.tflite").write_bytes(bytes(range(256)) * 4)
    doc = json.loads((SAMPLES / "wave.01.json").read_text())
    for s, name in zip(doc["payload"]["sensors"], ("gyrX", "accY", "accZ")):
        s["name"] = name
    (tmp / "wrong-axes.json").write_text(json.dumps(doc))
    (tmp / "empty.csv").write_text("timestamp,accX,accY,accZ\n")
    (tmp / "one-row.csv").write_text("timestamp,accX,accY,accZ\n0,1,2,3\n")
    (tmp / "nan.csv").write_text("timestamp,accX,accY,accZ\n0,1,2,3\n16,nan,2,3\n")
    wave = str(SAMPLES / "wave.01.json")
    return {
        "missing file": ["classify", str(DEMO), str(tmp / "absent.json")],
        "directory as file": ["classify", str(DEMO), str(tmp / "adir.json")],
        "missing bundle": ["info", str(tmp / "absent-bundle")],
        "corrupt zip bundle": ["classify", str(tmp / "corrupt.zip"), wave],
        "garbage model": ["classify", str(garbage), wave],
        "wrong axis names": ["classify", str(DEMO), str(tmp / "wrong-axes.json")],
        "empty csv": ["features", str(DEMO), str(tmp / "empty.csv"), "--json"],
        "one-row csv": ["classify", str(DEMO), str(tmp / "one-row.csv")],
        "nan csv": ["classify", str(DEMO), str(tmp / "nan.csv"), "--json"],
        "bogus variant": ["classify", str(DEMO), wave, "--variant", "bogus"],
        "absent variant": ["classify", str(DEMO), wave, "--variant", "float32"],
        "bogus variant (classify-all)": ["classify-all", str(DEMO), str(tmp), "--variant",
                                         "int4"],
        **_more_bad_inputs(tmp, wave),
    }


def _more_bad_inputs(tmp: Path, wave: str) -> dict:
    """The bad inputs found on a first run and by fuzzing (issue 8), every command family."""
    import zipfile
    (tmp / "lone-cr.csv").write_bytes(b"timestamp,accX,accY,accZ\n0,1,2,3\r4\n16,1,2,3\n")
    (tmp / "huge.csv").write_text("timestamp,accX,accY,accZ\n0,1e39,2,3\n16,1,2,3\n")
    absurd = tmp / "absurd-window"
    shutil.copytree(DEMO, absurd, ignore=shutil.ignore_patterns("ei-sdk-reference.json",
                                                               "samples"))
    doc = json.loads((absurd / "impulse.json").read_text())
    doc["input"]["window_size_ms"] = 1e10
    (absurd / "impulse.json").write_text(json.dumps(doc))
    truncated = tmp / "truncated-model"
    shutil.copytree(DEMO, truncated, ignore=shutil.ignore_patterns("ei-sdk-reference.json",
                                                                  "samples"))
    (truncated / "nn-i8.tflite").write_bytes((DEMO / "nn-i8.tflite").read_bytes()[:1000])
    bomb = tmp / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in ("impulse.json", "anomaly-4.json"):
            zf.write(DEMO / f, f)
        zf.writestr("nn-i8.tflite", bytes(8 << 20))
    (tmp / "not-a-db").write_bytes(b"garbage" * 100)
    (tmp / "a-file").write_text("x")
    return {
        "lone CR in a CSV row": ["classify", str(DEMO), str(tmp / "lone-cr.csv")],
        "value beyond float32": ["features", str(DEMO), str(tmp / "huge.csv")],
        "absurd window": ["info", str(absurd)],
        "truncated model": ["info", str(truncated)],
        "zip bomb bundle": ["classify", str(bomb), wave],
        "plot into a missing folder": ["classify", str(DEMO), wave, "--plot",
                                       str(tmp / "no" / "x.png")],
        "directory as file (features)": ["features", str(DEMO), str(tmp / "adir.json")],
        "dataset is a file": ["classify-all", str(DEMO), wave],
        "index is a folder": ["classify-all", str(DEMO), str(tmp / "adir.json"), "--index",
                              str(tmp)],
        "metadata filter not JSON": ["classify-all", str(DEMO), str(tmp / "adir.json"),
                                     "--metadata", "{site"],
        "anomaly fit: missing data": ["anomaly", "fit", str(DEMO), str(tmp / "absent"),
                                      "--out", str(tmp / "fit1")],
        "anomaly fit: --out is a file": ["anomaly", "fit", str(DEMO), wave, "--clusters", "2",
                                         "--out", str(tmp / "a-file")],
        "ingest upload: a directory": ["ingest", "upload", str(tmp / "adir.json"),
                                       "--api-key", "k", "--outbox", str(tmp / "o1.db"),
                                       "--no-wait"],
        "ingest upload: missing file": ["ingest", "upload", str(tmp / "absent.json"),
                                        "--api-key", "k", "--outbox", str(tmp / "o2.db"),
                                        "--no-wait"],
        "ingest upload: malformed CSV": ["ingest", "upload", str(tmp / "lone-cr.csv"),
                                         "--api-key", "k", "--outbox", str(tmp / "o3.db"),
                                         "--no-wait"],
        "ingest status: missing outbox": ["ingest", "status", "--outbox", str(tmp / "none.db")],
        "ingest status: not a database": ["ingest", "status", "--outbox",
                                          str(tmp / "not-a-db")],
        "ingest requeue: not a database": ["ingest", "requeue", "--outbox",
                                           str(tmp / "not-a-db")],
        "ingest serve: db in a missing folder": ["ingest", "serve", "--port", "0", "--api-key",
                                                 "k", "--db", str(tmp / "no" / "s.db")],
    }


@needs_engine
def test_bad_input_is_exit_1_and_one_error_line(capsys, caplog, tmp_path):
    """Every bad input of the contract forms: exit code 1, nothing on stdout, exactly one
    one-line error naming the problem - never an exception escaping main()."""
    import logging
    for name, argv in _bad_inputs(tmp_path).items():
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="edgert"):
            code = main(argv)
        out, err = capsys.readouterr()
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert code == 1, name
        assert out == "", name
        assert len(errors) == 1 and "\n" not in errors[0] and errors[0].strip(), (name, errors)
        # named by edgert, not caught by main()'s last-resort handler for unexpected errors
        assert "this is a bug in edgert" not in errors[0], (name, errors)


@needs_engine
def test_bad_input_stderr_of_the_real_process(tmp_path):
    """The same through the installed entry point's process: one stderr line, no traceback."""
    import subprocess
    import sys
    (tmp_path / "adir.json").mkdir()
    proc = subprocess.run([sys.executable, "-m", "edgert", "classify", str(DEMO),
                           str(tmp_path / "adir.json")], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: ERROR:") and "adir.json" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv", [
    ["classify", str(DEMO), str(SAMPLES / "wave.01.json"), "--threads", "0"],
    ["classify-all", str(DEMO), str(SAMPLES), "--threads", "-3"],
    ["classify-all", str(DEMO), str(SAMPLES), "--labels", "[bad"],
    ["ingest", "serve", "--port", "99999"],
    ["ingest", "upload", "x.json", "--timeout", "-1"],
    ["classify", str(DEMO)],
    ["no-such-command"],
])
def test_usage_errors_are_one_line_and_exit_2(argv):
    """Usage errors: exit status 2 and one `edgert: ERROR:` line naming the command and where
    its help is (argparse's own usage dump went to stderr before, several lines)."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "edgert", *argv], capture_output=True,
                          text=True, cwd=Path(__file__).parent.parent, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: ERROR: edgert"), proc.stderr
    assert "--help`" in lines[0]


@needs_engine
def test_features_json_is_exactly_the_contract_shape(capsys):
    code, out, _ = run(capsys, "features", str(DEMO), str(SAMPLES / "wave.01.json"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"labels", "windows"}
    assert all(set(w) == {"start_ms", "features"} for w in doc["windows"])
    assert all(len(w["features"]) == len(doc["labels"]) == 33 for w in doc["windows"])
    assert [w["start_ms"] for w in doc["windows"]] == [80.0 * i for i in range(26)]
