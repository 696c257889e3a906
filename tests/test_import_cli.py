"""`edgert import` as a user runs it (folder, .zip, repository), and what it does with
malformed or hostile input: one clear error, in bounded time and memory."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgert.cli import main
from edgert.importer.cheader import HeaderError, parse_header
from edgert.importer.export import read_export
from edgert.importer.source import MAX_FILE_BYTES, ExportError, find_export

DATA = Path(__file__).parent / "data" / "exports"
DEMO = DATA / "vibracion-lija-2020"


@pytest.fixture
def capsys(capsys, caplog):
    """capsys whose error check reads the CLI's single ERROR log record."""
    caplog.set_level(logging.ERROR, logger="edgert")
    capsys.caplog = caplog
    return capsys


def _error_line(capsys) -> str:
    errors = [r.getMessage() for r in capsys.caplog.records if r.levelno >= logging.ERROR]
    capsys.caplog.clear()
    assert len(errors) == 1, errors
    return errors[0]


def test_import_then_info_then_classify(tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["import", str(DEMO), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "imported" in text and "edgert classify" in text
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "imported   from" in info and "SDK layout 2020" in info
    assert "labels: anomaly, moving, stop" in info
    assert main(["info", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["provenance"]["export_path"].endswith("vibracion-lija-2020")
    csv = tmp_path / "rec.csv"
    rows = ["timestamp,accX,accY,accZ"] + [f"{i * 10},{i % 7},{(i * 3) % 5},{i % 3}"
                                           for i in range(400)]
    csv.write_text("\n".join(rows) + "\n")
    assert main(["classify", str(out), str(csv)]) == 0
    table = capsys.readouterr().out
    assert "anomaly score" in table.splitlines()[0]   # the class `anomaly` has its own column


def test_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    assert main(["import", str(DEMO), "-o", str(out)]) == 1
    assert "--force" in _error_line(capsys)
    assert main(["import", str(DEMO), "-o", str(out), "--force"]) == 0
    assert (out / "impulse.json").exists()


def test_zip_and_repository_sources(tmp_path, capsys):
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in DEMO.rglob("*"):
            if p.is_file():
                zf.write(p, "my-project_inferencing/src/" + str(p.relative_to(DEMO)))
        zf.writestr("my-project_inferencing/src/edge-impulse-sdk/README.txt", "sdk")
    assert main(["import", str(z), "-o", str(tmp_path / "from-zip.zip")]) == 0
    assert "from-zip.zip" in capsys.readouterr().out
    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo / "firmware" / "src")
    (repo / "README.md").write_text("a firmware")
    assert main(["import", str(repo), "-o", str(tmp_path / "from-repo"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["bundle"] == str(tmp_path / "from-repo")
    assert printed["impulse"]["provenance"]["export_path"].endswith("firmware/src")
    a = json.loads((tmp_path / "from-repo" / "impulse.json").read_text())
    with zipfile.ZipFile(tmp_path / "from-zip.zip") as zf:
        b = json.loads(zf.read("impulse.json"))
    for d in (a, b):
        d.pop("provenance")
    assert a == b


def test_two_exports_in_a_repository_are_ambiguous(tmp_path, capsys):
    shutil.copytree(DEMO, tmp_path / "a")
    shutil.copytree(DATA / "fan-fault-2021", tmp_path / "b")
    assert main(["import", str(tmp_path), "-o", str(tmp_path / "out")]) == 1
    assert "2 exports found" in _error_line(capsys)


def test_no_export(tmp_path, capsys):
    assert main(["import", str(tmp_path), "-o", str(tmp_path / "out")]) == 1
    assert "no Edge Impulse export found" in _error_line(capsys)


def test_zip_with_parent_member_is_refused(tmp_path, capsys):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("model-parameters/model_metadata.h", "#define X 1\n")
        zf.writestr("../../escape.h", "x")
    assert main(["import", str(z), "-o", str(tmp_path / "out")]) == 1
    assert "climbs out" in _error_line(capsys)
    assert not (tmp_path.parent / "escape.h").exists()


def test_two_gigabyte_header_is_refused_without_reading_it(tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(DEMO, exp)
    big = exp / "model-parameters" / "model_variables.h"
    with open(big, "wb") as fh:        # sparse: costs no disk
        fh.truncate(2 << 30)
    t = time.monotonic()
    assert main(["import", str(exp), "-o", str(tmp_path / "out")]) == 1
    assert time.monotonic() - t < 5
    line = _error_line(capsys)
    assert "model_variables.h" in line and f"{MAX_FILE_BYTES >> 20} MiB" in line


@pytest.mark.parametrize("text,words", [
    ("int x[] = { 1, 2, 3", "end of file"),
    ("int x[] = { a, b", "end of file"),
    ("const char *s = \"abc;\n", "unterminated string"),
    ("/* never closed", "unterminated /* comment"),
    ("#if 1\nint a = 1;\n", "#if without #endif"),
    ("int a = " + "{" * 100 + "1" + "}" * 100 + ";", "nested too deeply"),
])
def test_malformed_headers(text, words):
    with pytest.raises(HeaderError, match=re.escape(words)):
        parse_header(text, "x.h")


def test_huge_array_is_parsed_in_bulk():
    n = 2_000_000
    text = "const unsigned char m[] = {" + "0x1c, " * n + "};\n"
    t = time.monotonic()
    h = parse_header(text, "m.h")
    assert h.variables["m"].value.array.size == n
    assert time.monotonic() - t < 20


def test_missing_pieces_name_the_file(tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(DATA / "stm-motion-aws-2022", exp)
    os.remove(exp / "model-parameters" / "anomaly_clusters.h")
    with pytest.raises(ExportError, match="K-means"):
        read_export(find_export(str(exp)))


_SEED_FILES = [p for p in (DATA / "vibracion-lija-2020" / "model-parameters").iterdir()]


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(_SEED_FILES), data=st.data())
def test_fuzz_mutated_headers_fail_cleanly(which, data):
    """Cut, duplicate, delete or replace spans of a real header: the reader either parses
    it or raises HeaderError/ExportError - never another exception, never a hang."""
    text = which.read_text()
    n = len(text)
    for _ in range(data.draw(st.integers(1, 4))):
        a = data.draw(st.integers(0, n))
        b = data.draw(st.integers(a, min(n, a + 200)))
        kind = data.draw(st.sampled_from(["cut", "dup", "junk", "truncate"]))
        if kind == "cut":
            text = text[:a] + text[b:]
        elif kind == "dup":
            text = text[:b] + text[a:b] * data.draw(st.integers(1, 50)) + text[b:]
        elif kind == "junk":
            text = text[:a] + data.draw(st.text("{}()[];,=&*\"'/#\\x0 \n.-", max_size=20)) + \
                text[a:]
        else:
            text = text[:a]
        n = len(text)
    t = time.monotonic()
    try:
        parse_header(text, which.name)
    except HeaderError:
        pass
    assert time.monotonic() - t < 5


def test_info_names_the_operator_that_keeps_a_model_off_the_native_engine(tmp_path, capsys):
    from tests.tflite_builder import Op, Tensor, build_model
    model = build_model([Tensor("x", (1, 4)), Tensor("y", (1, 4)), Tensor("p", (1, 4))],
                        [Op("LEAKY_RELU", [0], [1], options=("LeakyReluOptions", {"Alpha": 0.2})),
                         Op("SOFTMAX", [1], [2], options=("SoftmaxOptions", {"Beta": 1.0}))],
                        [0], [2])
    (tmp_path / "m.tflite").write_bytes(model)
    (tmp_path / "impulse.json").write_text(json.dumps({
        "format": "edgert-impulse/1",
        "input": {"type": "time-series", "frequency": 10, "axes": ["v"], "window_size_ms": 400},
        "dsp": [{"id": 1, "type": "raw", "axes": ["v"], "params": {"scale-axes": 1}}],
        "learn": [{"id": 2, "type": "keras", "dsp": [1], "labels": ["a", "b", "c", "d"],
                   "models": {"float32": "m.tflite"}}]}))
    assert main(["-q", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "runs in the TFLite interpreter, not the native engine" in out
    assert "LEAKY_RELU" in out
