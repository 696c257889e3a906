"""What a newcomer meets first (issue 8, "First run"): the README's first command, the example
recordings, the names a newcomer tries in Python, and each rough edge found on a first run -
every test here failed before its fix."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgert.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "motion-demo"
SDK_WINDOWS = EXAMPLE / "sdk-windows"
DATA = Path(__file__).parent / "data"
DEMO = DATA / "motion-demo"
SAMPLES = DEMO / "samples"


def edgert(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """The command line as a user runs it: a process, its exit status, stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "edgert", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    """The single `edgert: ERROR: ...` line of a failed run (no traceback, nothing else)."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgert: ERROR: "), proc.stderr
    return lines[0]


# --------------------------------------------------------------------- the README command
def readme_first_command() -> list[str]:
    """The arguments of the `edgert ...` command the README's "Try it" section runs first."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try it", 1)[1]
    line = next(ln for ln in section.splitlines() if ln.startswith("    "))
    cmd = line.split("&&")[-1].strip()
    assert cmd.startswith("edgert classify "), cmd
    return shlex.split(cmd)[1:]


def test_readme_first_command_reads_right():
    """The first thing a user runs classifies an honest recording and shows what the demo
    impulse is for: the expected label is what every window predicts, nothing anomalous
    (before: a recording of joined windows gave "wave 5, snake 4, updown 4, anomaly 13")."""
    args = readme_first_command()
    proc = edgert(*args)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = proc.stdout
    expected = re.search(r"^expected label: (\S+)$", out, re.M).group(1)
    counts = dict((k, int(v)) for k, v in re.findall(
        r"(\w+) (\d+)", re.search(r"^predictions \(min_score [\d.]+\): (.*)$", out, re.M)
        .group(1)))
    assert max(counts, key=counts.get) == expected
    assert counts == {expected: sum(counts.values())}      # every window, no anomaly
    assert re.search(r"; 0 windows over the threshold", out), out
    # the file is one of Edge Impulse's SDK reference windows, named after the SDK's label
    assert Path(args[2]).parent.name == "sdk-windows" and Path(args[2]).name.startswith(
        expected + ".")


def test_readme_says_what_the_user_is_looking_at():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    for words in ("ei-sdk-reference.json", "sdk-windows", "anomal", "samples/"):
        assert words in section, words


def test_sdk_windows_are_the_sdk_reference_windows():
    """Each file of examples/motion-demo/sdk-windows is exactly one reference window (the raw
    values Edge Impulse's SDK classified, float32), named <SDK label>.<index>.json."""
    from edgert import load_recording
    ref = json.loads((EXAMPLE / "ei-sdk-reference.json").read_text())["windows"]
    files = sorted(SDK_WINDOWS.glob("*.json"))
    assert len(files) == len(ref) == 30
    for f in files:
        label, index = f.stem.split(".")
        w = ref[int(index)]
        assert label == max(w["classification"], key=w["classification"].get)
        rec = load_recording(f, hmac_key="edgert-demo-key")
        assert rec.signature_valid and rec.frequency == 62.5 and rec.label == label
        np.testing.assert_array_equal(rec.values,
                                      np.asarray(w["raw"], np.float32).reshape(125, 3))


def test_sdk_windows_classify_as_the_sdk_did():
    """classify-all over the folder: edgert's probabilities are the SDK's on every window."""
    from edgert import Impulse, load_recording
    imp = Impulse.load(EXAMPLE)
    ref = json.loads((EXAMPLE / "ei-sdk-reference.json").read_text())["windows"]
    for f in sorted(SDK_WINDOWS.glob("*.json")):
        res = imp.classify(load_recording(f))
        w = ref[int(f.stem.split(".")[1])]
        assert len(res) == 1
        np.testing.assert_allclose(res.probabilities[0], [w["classification"][k]
                                                          for k in res.labels], atol=1e-6)
        assert res.anomaly[0] == pytest.approx(w["anomaly"], abs=1e-5)


# ---------------------------------------------------------------------------- Python API
def test_top_level_names_and_classify_takes_a_recording():
    """`from edgert import Impulse, load_recording` (the names a newcomer tries first), and
    imp.classify(rec) takes a Recording: its frequency and column names are used."""
    from edgert import Impulse, Recording, load_recording
    imp = Impulse.load(DEMO)
    rec = load_recording(SAMPLES / "wave.01.json")
    assert isinstance(rec, Recording)
    res = imp.classify(rec)
    explicit = imp.classify(rec.values, frequency=rec.frequency, axes=list(rec.axes))
    np.testing.assert_array_equal(res.probabilities, explicit.probabilities)
    # columns in another order and another frequency: taken from the Recording
    shuffled = Recording(np.ascontiguousarray(rec.values[:, [2, 0, 1]]), rec.frequency,
                         tuple(rec.sensors[i] for i in (2, 0, 1)), "x.json")
    np.testing.assert_array_equal(imp.classify(shuffled).probabilities, res.probabilities)
    slow = Recording(rec.values[::2].copy(), rec.frequency / 2, rec.sensors, "slow.json")
    got = imp.classify(slow)
    assert got.resampled and got.source_frequency == rec.frequency / 2


# ------------------------------------------------------------------------------ axes
@pytest.fixture
def gyro_csv(tmp_path):
    rows = ["timestamp,gyrX,gyrY,gyrZ"] + [f"{i * 16},{np.sin(i / 5):.4f},0.5,9.8"
                                           for i in range(200)]
    p = tmp_path / "gyro.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_axis_names_that_match_nothing_are_refused_naming_both_sets(gyro_csv):
    line = one_error_line(edgert("classify", str(EXAMPLE), str(gyro_csv)))
    assert "['gyrX', 'gyrY', 'gyrZ']" in line and "['accX', 'accY', 'accZ']" in line
    assert "--axes gyrX,gyrY,gyrZ" in line


def test_axes_mapped_explicitly(gyro_csv):
    proc = edgert("classify", str(EXAMPLE), str(gyro_csv), "--axes", "gyrX,gyrY,gyrZ",
                  "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["success"] is True
    proc = edgert("features", str(EXAMPLE), str(gyro_csv), "--axes", "gyrZ,gyrY,gyrX",
                  "--json")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_threads_must_be_a_positive_count(value):
    """--threads 0 and -3 were accepted silently: a usage error now (exit 2, one line)."""
    line = one_error_line(edgert("classify", str(EXAMPLE), str(SAMPLES / "wave.01.json"),
                                 "--threads", value), code=2)
    assert "--threads" in line and "edgert classify --help" in line


# -------------------------------------------------------------------- values and CSV
def test_lone_cr_in_a_csv_is_a_clear_error(tmp_path):
    """A carriage return inside a row (`0,1\\r2`) was a `_csv.Error` traceback, then a
    confusing column count: now the line is named with what is wrong."""
    p = tmp_path / "idle.csv"
    p.write_bytes(b"timestamp,accX\n0,1\r2\n16,3\n")
    line = one_error_line(edgert("classify", str(EXAMPLE), str(p)))
    assert "idle.csv: line 2 holds a carriage return (CR) inside the row" in line


def test_lone_cr_csv_is_one_error_entry_in_classify_all(tmp_path):
    """classify-all reports the file as one failed sample; every other sample classifies."""
    import shutil
    folder = tmp_path / "data"
    (folder / "testing").mkdir(parents=True)
    for name in ("wave.01.json", "idle.01.json"):
        shutil.copy(SAMPLES / name, folder / "testing" / name)
    (folder / "testing" / "idle.02.csv").write_bytes(
        b"timestamp,accX,accY,accZ\n0,1,2,3\r4\n16,1,2,3\n")
    proc = edgert("classify-all", str(EXAMPLE), str(folder), "--json")
    assert proc.returncode == 0, proc.stderr
    page = json.loads(proc.stdout)
    (failed,) = page["modelValidationMetrics"][0]["failedSamples"]
    assert failed["filename"] == "idle.02" and "carriage return" in failed["error"]
    ok = [r for r in page["result"] if not r["sample"]["processingError"]]
    assert sorted(r["sample"]["filename"] for r in ok) == ["idle.01", "wave.01"]


@pytest.mark.parametrize("kind", ["csv", "json", "cbor"])
def test_values_beyond_float32_are_named_at_the_reader(tmp_path, kind):
    """1e39 in a CSV (or a double in JSON/CBOR) became inf with a numpy RuntimeWarning before
    the InputError: the reader names row and column, and nothing warns."""
    from edgert import load_recording
    from edgert.acquisition import DataAcquisition, Sensor, encode_cbor, encode_json
    from edgert.errors import InputError
    values = np.zeros((4, 2))
    values[2, 1] = 1e39
    if kind == "csv":
        p = tmp_path / "x.csv"
        p.write_text("timestamp,a,b\n" + "".join(f"{i * 10},{float(r[0])!r},{float(r[1])!r}\n"
                                                 for i, r in enumerate(values)))
        where = r"line 4, column 'b'"
    else:
        doc = DataAcquisition(None, None, 10, [Sensor("a", "N/A"), Sensor("b", "N/A")], values)
        p = tmp_path / f"x.{kind}"
        p.write_bytes(encode_json(doc) if kind == "json" else encode_cbor(doc))
        where = r"values\[2\] of axis 'b'"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=where + r".*1e\+39.*beyond float32"):
            load_recording(p)


# ------------------------------------------------------------------------- classify output
def test_plot_into_a_folder_and_says_what_it_wrote(tmp_path):
    """--plot DIR was an IsADirectoryError traceback, and --plot confirmed nothing."""
    proc = edgert("classify", str(EXAMPLE), str(SAMPLES / "wave.01.json"), "--plot",
                  str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    png = tmp_path / "wave.01.scores.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert proc.stderr.strip() == f"edgert: wrote the score plot of 26 windows to {png}"
    line = one_error_line(edgert("classify", str(EXAMPLE), str(SAMPLES / "wave.01.json"),
                                 "--plot", str(tmp_path / "no" / "such" / "x.png")))
    assert "does not exist" in line


def test_features_prints_readable_columns():
    """The names were one 1000-character line: now numbered, one per line, and the values in
    columns headed by those numbers."""
    proc = edgert("features", str(EXAMPLE), str(SAMPLES / "wave.01.json"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(map(len, lines)) <= 110
    assert "   0  accX RMS" in lines and "  32  accZ Spectral Power 29.3 - 33.2 Hz" in lines
    head = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["start_ms", "#0"])
    assert lines[head].split() == ["start_ms"] + [f"#{i}" for i in range(8)]
    assert lines[head + 1].split()[0] == "0" and len(lines[head + 1].split()) == 9


# ----------------------------------------------------------------------------- classify-all
def test_classify_all_plain_folder_hints_category_all_and_writes_nothing_there(tmp_path):
    """A folder of recordings is all training: "0 samples (testing)" now comes with the hint,
    and the index goes to the user's cache folder (or --index), never into the folder."""
    import shutil
    folder = tmp_path / "recordings"
    shutil.copytree(SAMPLES, folder)
    before = sorted(p.name for p in folder.iterdir())
    proc = edgert("classify-all", str(EXAMPLE), str(folder))
    assert proc.returncode == 0
    assert "no testing samples to classify" in proc.stderr
    n = sum(1 for p in folder.iterdir() if p.suffix in (".json", ".cbor", ".csv"))
    assert "use --category all" in proc.stderr and f"it has {n} training" in proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == before
    index = tmp_path / "elsewhere" / "index.sqlite"
    index.parent.mkdir()
    proc = edgert("classify-all", str(EXAMPLE), str(folder), "--category", "all", "--index",
                  str(index))
    assert proc.returncode == 0 and proc.stdout.startswith(f"{n} samples (all)")
    assert index.exists() and sorted(p.name for p in folder.iterdir()) == before


def test_classify_all_default_index_is_in_the_xdg_cache(tmp_path, monkeypatch):
    from edgert.dataset import Dataset
    from edgert.dataset.index import default_index_path
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "d"
    folder.mkdir()
    with Dataset(folder) as ds:
        assert Path(ds.index_path).parent == tmp_path / "cache" / "edgert" / "datasets"
        assert Path(ds.index_path) == default_index_path(folder)
    assert list(folder.iterdir()) == []
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_index_path(folder).parent == Path.home() / ".cache" / "edgert" / "datasets"


# ------------------------------------------------------------------------------ anomaly fit
def test_anomaly_fit_out_writes_only_the_bundle(tmp_path):
    """--out copied the whole bundle folder (samples, scripts, reference data) and said
    "76 windows of 1 recordings"."""
    out = tmp_path / "fitted"
    proc = edgert("anomaly", "fit", str(EXAMPLE), str(SAMPLES / "idle.01.json"),
                  "--clusters", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "4 clusters on 76 windows of 1 recording\n" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["anomaly-4.json", "impulse.json",
                                                     "nn-i8.tflite"]
    assert edgert("info", str(out)).returncode == 0


# ---------------------------------------------------------------------------- ingest
def test_ingest_help_lists_every_action():
    proc = edgert("ingest", "--help")
    for action in ("serve", "upload", "status", "requeue"):
        assert re.search(rf"^  {action} ", proc.stdout, re.M), action


def test_ingest_upload_directory_is_refused_before_queueing(tmp_path):
    outbox = tmp_path / "ob.db"
    line = one_error_line(edgert("ingest", "upload", str(tmp_path), str(SAMPLES / "wave.01.json"),
                                 "--api-key", "k", "--outbox", str(outbox), "--no-wait"))
    assert f"{tmp_path}: is a directory" in line
    assert not outbox.exists()


def test_ingest_upload_reports_and_converts_csv(tmp_path):
    """Progress and a summary (queued, sent, the outbox path); a CSV is converted to a
    data-acquisition document (before: queued as is and dead-lettered as "not a
    data-acquisition document")."""
    from edgert import load_recording
    from edgert.ingestion import SampleStore
    from .ingest_helpers import API_KEY, running_server
    db = str(tmp_path / "server.db")
    outbox = tmp_path / "ob.db"
    csv = SAMPLES / "updown.02.csv"
    with running_server(store=db) as srv:
        proc = edgert("ingest", "upload", str(csv), str(SAMPLES / "wave.01.json"), "--url",
                      srv.url, "--api-key", API_KEY, "--outbox", str(outbox), "--timeout",
                      "30", "--category", "testing")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"queued 2 file(s) in the outbox {outbox}; 1 converted from CSV",
        f"sending to {srv.url} (up to 30 s; Ctrl-C stops waiting, what is not sent stays "
        "queued)",
        f"sent 2 of 2 file(s) to {srv.url}; 0 dead-lettered, 0 still queued"]
    store = SampleStore(db)
    try:
        rows = {r["filename"]: r for r in store.list()}
        assert set(rows) >= {"updown.02.json", "wave.01.json"}, set(rows)
        body = store.get(rows["updown.02.json"]["id"], with_body=True)["body"]
    finally:
        store.close()
    assert rows["updown.02.json"]["label"] == "updown"
    (tmp_path / "up.json").write_bytes(body)
    got, want = load_recording(tmp_path / "up.json"), load_recording(csv)
    np.testing.assert_array_equal(got.values, want.values)
    assert got.frequency == pytest.approx(want.frequency) and got.axes == want.axes


def test_ingest_upload_with_the_server_down_says_why_and_where(tmp_path):
    outbox = tmp_path / "ob.db"
    proc = edgert("ingest", "upload", str(SAMPLES / "wave.01.json"), "--url",
                  "http://127.0.0.1:9", "--api-key", "k", "--outbox", str(outbox),
                  "--timeout", "1.5", "--request-timeout", "0.5")
    assert proc.returncode == 3
    assert f"in the outbox {outbox}" in proc.stdout
    assert "sent 0 of 1 file(s)" in proc.stdout and "1 still queued" in proc.stdout
    assert re.search(r"WARNING: not delivered yet, retrying because: connection refused",
                     proc.stderr), proc.stderr
    assert f"they stay in {outbox} for the next run" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ingest_upload_malformed_csv_queues_nothing(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("timestamp,a\n0,1\n0,2\n")
    outbox = tmp_path / "ob.db"
    line = one_error_line(edgert("ingest", "upload", str(SAMPLES / "wave.01.json"), str(bad),
                                 "--api-key", "k", "--outbox", str(outbox), "--no-wait"))
    assert "x.csv: timestamps must increase strictly" in line
    assert not outbox.exists()


# ----------------------------------------------------------------------------- packaging
def test_license_is_an_spdx_expression_with_its_file():
    """setuptools warns that the `project.license` table stops working in 2027: an SPDX
    string and license-files instead, and the licence text ships."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
